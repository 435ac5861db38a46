package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// udpProc is a labchat (or nc) process running beside a test, with its stdout as lines.
type udpProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout, one line each; closed at EOF
	mu     sync.Mutex  // guards stderr
	stderr bytes.Buffer
	addrc  chan string // the address from udp-listen's "listening on" line
	done   chan struct{}
	err    error // Wait's result, set before done closes
}

var listeningRE = regexp.MustCompile(`listening on UDP (\S+) `)

// startUDPProc starts name with args; for udp-listen it waits for the bound address.
func startUDPProc(t *testing.T, name string, args ...string) *udpProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, name, args...)
	p := &udpProc{cmd: cmd, lines: make(chan string, 10000), addrc: make(chan string, 1), done: make(chan struct{})}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				p.addrc <- m[1]
			}
		}
	}()
	go func() {
		readers.Wait()
		p.err = cmd.Wait()
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

// startUDPListen runs `labchat udp-listen --listen addr args...` and returns it once bound.
func startUDPListen(t *testing.T, addr string, args ...string) (*udpProc, string) {
	t.Helper()
	p := startUDPProc(t, labchatBinary(t), append([]string{"udp-listen", "--listen", addr}, args...)...)
	select {
	case a := <-p.addrc:
		return p, a
	case <-p.done:
		t.Fatalf("udp-listen exited: %v\n%s", p.err, p.stderrText())
	case <-time.After(20 * time.Second):
		t.Fatalf("udp-listen did not say where it listens\n%s", p.stderrText())
	}
	return nil, ""
}

func (p *udpProc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// expectLine returns the next stdout line that contains want, failing after timeout.
func (p *udpProc) expectLine(t *testing.T, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("output ended before a line with %q; stderr:\n%s", want, p.stderrText())
			}
			if strings.Contains(line, want) {
				return line
			}
		case <-deadline:
			t.Fatalf("no line with %q within %v; stderr:\n%s", want, timeout, p.stderrText())
		}
	}
}

// stop interrupts the process as Ctrl-C would and returns its exit code.
func (p *udpProc) stop(t *testing.T) int {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	return p.wait(t)
}

func (p *udpProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("process still running; stderr:\n%s", p.stderrText())
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("process: %v", p.err)
	}
	return 0
}

// closedUDPPort returns a loopback address on which nothing listens.
func closedUDPPort(t *testing.T, network, host string) string {
	t.Helper()
	c, err := net.ListenPacket(network, net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

// silentUDPPeer is a socket that reads and never answers, so senders get no reply and no ICMP.
func silentUDPPeer(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1<<16)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return c.LocalAddr().String()
}

func TestUDPTextBothWays(t *testing.T) {
	for _, tt := range []struct{ name, network, host string }{
		{"ipv4", "udp4", "127.0.0.1"},
		{"ipv6", "udp6", "::1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			closedUDPPort(t, tt.network, tt.host) // skips without this loopback
			l, addr := startUDPListen(t, net.JoinHostPort(tt.host, "0"), "--from")
			s := startUDPProc(t, labchatBinary(t), "udp-send", addr, "hello from sender", "--wait", "20s")
			line := l.expectLine(t, "hello from sender", 20*time.Second)
			if !strings.HasPrefix(line, net.JoinHostPort(tt.host, "")) {
				t.Errorf("--from line %q does not name the sender's %s address", line, tt.host)
			}
			fmt.Fprintln(l.stdin, "hello from listener")
			s.expectLine(t, "hello from listener", 20*time.Second)
			s.cmd.Process.Signal(os.Interrupt) // stop waiting: the reply came
			if code := s.wait(t); code != exitOK {
				t.Errorf("udp-send exit code %d after a reply; want 0; stderr:\n%s", code, s.stderrText())
			}
			if code := l.stop(t); code != exitOK {
				t.Errorf("udp-listen exit code %d after Ctrl-C; want 0", code)
			}
		})
	}
}

func TestUDPEchoAndWait(t *testing.T) {
	_, addr := startUDPListen(t, "127.0.0.1:0", "--echo")
	// Flags after HOST:PORT are flags; after -- everything is a message.
	res := runCLI(t, 30*time.Second, "", nil, "udp-send", addr, "one", "two", "--wait", "1s", "--", "--three")
	if res.code != exitOK || res.stdout != "one\ntwo\n--three\n" {
		t.Errorf("udp-send to an echo listener: code %d, stdout %q; want 0 and the three messages\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	// Piped lines, with no sleep in the pipeline: --wait keeps reading after stdin ends.
	res = runCLI(t, 30*time.Second, "alpha\nbeta\n", nil, "udp-send", "--json", "--wait", "1s", addr)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var d datagramJSON
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		if d.From != addr || d.Size != len(d.Text) {
			t.Errorf("--json reply %+v: want from %s and size of the text", d, addr)
		}
		got = append(got, d.Text)
	}
	if res.code != exitOK || strings.Join(got, ",") != "alpha,beta" {
		t.Errorf("piped udp-send: code %d, replies %q; want 0 and alpha,beta\nstderr: %s", res.code, got, res.stderr)
	}
}

func TestUDPSendExitCodes(t *testing.T) {
	closed := closedUDPPort(t, "udp4", "127.0.0.1")
	silent := silentUDPPeer(t)
	big := strings.Repeat("x", udpMaxPayload4+1)
	// A 64-byte label is not a DNS name: the Go resolver and glibc both refuse it before any
	// query, so the test leaves nothing on the network (a made-up name.invalid would be asked).
	unresolvable := strings.Repeat("x", 64) + ".test"
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"refused", "", []string{closed, "hi", "--wait", "20s"}, exitRefused, "refused"},
		{"refused without wait", "", []string{closed, "a", "b", "c", "d", "e"}, -1, ""},
		{"no answer", "", []string{silent, "hi", "--wait", "300ms"}, exitNoAnswer, "no reply"},
		{"nothing expected", "", []string{silent, "hi"}, exitOK, ""},
		{"bad port", "", []string{"127.0.0.1:http0", "hi"}, exitUsage, "port"},
		{"garbage address", "", []string{"1:2:3:x", "hi"}, exitUsage, "HOST:PORT"},
		{"unresolvable", "", []string{unresolvable + ":9999", "hi"}, exitConnect, "resolve"},
		{"too large argument", "", []string{silent, big}, exitUsage, "larger than the largest UDP datagram"},
		{"too large line", big + "\n", []string{silent}, exitUsage, "larger than the largest UDP datagram"},
		{"probe too large", "", []string{silent, "--probe", "--size", "70000"}, exitUsage, "--size"},
		{"probe too small", "", []string{silent, "--probe", "--size", "10"}, exitUsage, "--size"},
		{"count without probe", "", []string{silent, "--count", "5"}, exitUsage, "needs --probe"},
		{"bad sim-delay", "", []string{silent, "--probe", "--sim-delay", "5ms±9ms"}, exitUsage, "--sim-delay"},
		{"bad sim-loss", "", []string{silent, "--probe", "--sim-loss", "120%"}, exitUsage, "--sim-loss"},
		{"unknown trailing flag", "", []string{silent, "hi", "--bogus"}, exitUsage, "--bogus"},
		{"broadcast on ipv6", "", []string{"[::1]:9", "--broadcast", "hi"}, exitUsage, "IPv4"},
		{"broadcast without --broadcast", "", []string{"255.255.255.255:9", "hi"}, exitUsage, "add --broadcast"}, // refused before any send
		{"probe refused", "", []string{closed, "--probe", "--count", "20", "--rate", "1000", "--wait", "20s"}, exitRefused, "refused"},
		{"probe no answer", "", []string{silent, "--probe", "--count", "5", "--rate", "1000", "--wait", "300ms"}, exitNoAnswer, "no answer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(t, 40*time.Second, tt.stdin, nil, append([]string{"udp-send"}, tt.args...)...)
			if tt.code < 0 { // depends on whether the ICMP beat the last write: either is honest
				if res.code != exitOK && res.code != exitRefused {
					t.Errorf("exit code %d; want 0 or %d\nstderr: %s", res.code, exitRefused, res.stderr)
				}
				return
			}
			if res.code != tt.code || !strings.Contains(res.stderr, tt.msg) {
				t.Errorf("exit code %d, stderr %q; want %d and a message with %q", res.code, res.stderr, tt.code, tt.msg)
			}
			if regexp.MustCompile(` on \S+:53: `).MatchString(res.stderr) { // "lookup x on 10.0.0.53:53: ...": the server it asked
				t.Errorf("stderr %q: a DNS server was asked; tests stay on loopback", res.stderr)
			}
		})
	}
}

// TestUDPSendHostAlone checks that HOST without a port goes to the port of [udp] listen. The
// port is one this test holds open, so no ICMP can race the exit code, and no other program
// on this machine's 9999 is disturbed.
func TestUDPSendHostAlone(t *testing.T) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, port, _ := net.SplitHostPort(c.LocalAddr().String())
	conf := filepath.Join(t.TempDir(), "labchat.toml")
	if err := os.WriteFile(conf, []byte("[udp]\nlisten = \"127.0.0.1:"+port+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, 40*time.Second, "", []string{"LABCHAT_CONFIG=" + conf}, "udp-send", "127.0.0.1", "hi")
	if res.code != exitOK {
		t.Fatalf("udp-send 127.0.0.1 hi: exit %d, stderr %q; want 0", res.code, res.stderr)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 100)
	n, _, err := c.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hi" {
		t.Errorf("datagram on the configured port: %q, %v; want \"hi\"", buf[:n], err)
	}
}

func TestUDPListenCountAndTimeout(t *testing.T) {
	l, addr := startUDPListen(t, "127.0.0.1:0", "--count", "2")
	runCLI(t, 20*time.Second, "", nil, "udp-send", addr, "a", "b", "c")
	l.expectLine(t, "a", 10*time.Second)
	l.expectLine(t, "b", 10*time.Second)
	if code := l.wait(t); code != exitOK {
		t.Errorf("udp-listen --count 2 exit code %d; want 0", code)
	}
	res := runCLI(t, 20*time.Second, "", nil, "udp-listen", "--listen", "127.0.0.1:0", "--timeout", "200ms", "--count", "5")
	if res.code != exitNoAnswer {
		t.Errorf("udp-listen --count 5 --timeout with no datagram: exit %d; want %d", res.code, exitNoAnswer)
	}
	res = runCLI(t, 20*time.Second, "", nil, "udp-listen", "--listen", "127.0.0.1:0", "--timeout", "200ms")
	if res.code != exitOK {
		t.Errorf("udp-listen --timeout with no datagram: exit %d; want 0 (silence was asked for)", res.code)
	}
	for _, args := range [][]string{{"--listen", "127.0.0.1:99999"}, {"--listen", "nonsense"}, {"extra"}} {
		res := runCLI(t, 20*time.Second, "", nil, append([]string{"udp-listen"}, args...)...)
		if res.code != exitUsage {
			t.Errorf("udp-listen %q: exit %d; want %d (stderr %q)", args, res.code, exitUsage, res.stderr)
		}
	}
}

// probeRunJSON runs udp-send --probe --json against addr and decodes its report.
func probeRunJSON(t *testing.T, addr string, args ...string) (probeResult, int) {
	t.Helper()
	res := runCLI(t, 40*time.Second, "", nil, append([]string{"udp-send", "--probe", "--json", addr}, args...)...)
	var r probeResult
	if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
		t.Fatalf("probe report %q: %v\nstderr: %s", res.stdout, err, res.stderr)
	}
	return r, res.code
}

// listenerFinal waits for the listener's final --json report on sender id.
func listenerFinal(t *testing.T, l *udpProc, id string) probeReport {
	t.Helper()
	line := l.expectLine(t, `"type":"probe-final","from":"127.0.0.1:`, 20*time.Second)
	var r probeReport
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatalf("listener report %q: %v", line, err)
	}
	if r.Sender != id {
		t.Fatalf("final report for sender %s; want %s", r.Sender, id)
	}
	return r
}

func TestUDPProbeExactOnLoopback(t *testing.T) {
	l, addr := startUDPListen(t, "127.0.0.1:0", "--echo", "--json", "--interval", "0")
	r, code := probeRunJSON(t, addr, "--count", "2000", "--rate", "4000", "--size", "200")
	if code != exitOK || r.Sent != 2000 || !r.ListenerAnswered || r.ListenerReceived != 2000 ||
		r.ForwardLost != 0 || r.ReturnLost != 0 || r.Echoed != 2000 || r.RTT == nil || r.RTT.Min <= 0 ||
		r.RTT.Min > r.RTT.P50 || r.RTT.P50 > r.RTT.P99 || r.RTT.P99 > r.RTT.Max {
		t.Errorf("probe on loopback: code %d, report %+v rtt %+v; want 2000 sent and echoed, no loss, ordered RTT figures", code, r, r.RTT)
	}
	f := listenerFinal(t, l, r.Sender)
	if f.Received != 2000 || f.Expected != 2000 || f.Lost != 0 || f.Duplicates != 0 || f.OutOfOrder != 0 || f.Bytes != 2000*200 {
		t.Errorf("listener figures %+v; want 2000 received of 2000, 400000 bytes, nothing lost, duplicated or reordered", f)
	}
}

func TestUDPProbeSimulatedImpairments(t *testing.T) {
	l, addr := startUDPListen(t, "127.0.0.1:0", "--echo", "--json", "--interval", "0")
	r, code := probeRunJSON(t, addr, "--count", "3000", "--rate", "5000", "--sim-loss", "7%", "--sim-dup", "3%", "--sim-seed", "42", "--max-loss", "50")
	s := r.Simulated
	if code != exitOK || s == nil || s.Dropped == 0 || s.Duplicated == 0 || s.Seed != 42 {
		t.Fatalf("probe with --sim-*: code %d, report %+v; want simulated drops and duplicates with seed 42", code, r)
	}
	if r.ForwardLost != int64(s.Dropped) || r.ReturnLost != 0 || r.EchoDuplicates != s.Duplicated {
		t.Errorf("sender figures %+v; want forward loss = %d simulated drops, echo duplicates = %d", r, s.Dropped, s.Duplicated)
	}
	f := listenerFinal(t, l, r.Sender)
	if f.Lost != int64(s.Dropped) || f.Duplicates != s.Duplicated || f.Expected != 3000 || f.Received != 3000-s.Dropped+s.Duplicated {
		t.Errorf("listener figures %+v; want lost %d, duplicates %d (what the sender simulated)", f, s.Dropped, s.Duplicated)
	}
	// The same seed gives the same impairment: a lab can repeat a run exactly.
	r2, _ := probeRunJSON(t, addr, "--count", "3000", "--rate", "5000", "--sim-loss", "7%", "--sim-dup", "3%", "--sim-seed", "42", "--max-loss", "50")
	if *r2.Simulated != *s {
		t.Errorf("second run with seed 42 simulated %+v; first %+v", *r2.Simulated, *s)
	}
	// Above --max-loss: exit 8.
	if _, code := probeRunJSON(t, addr, "--count", "500", "--rate", "5000", "--sim-loss", "30%", "--max-loss", "5"); code != exitThreshold {
		t.Errorf("30%% simulated loss with --max-loss 5: exit %d; want %d", code, exitThreshold)
	}
}

func TestUDPProbeReorderDetected(t *testing.T) {
	l, addr := startUDPListen(t, "127.0.0.1:0", "--json", "--interval", "0")
	r, code := probeRunJSON(t, addr, "--count", "1000", "--rate", "2000", "--sim-delay", "4ms±4ms")
	if code != exitOK || r.ForwardLost != 0 || r.ListenerEchoes {
		t.Fatalf("probe with delay to a listener without --echo: code %d, %+v; want 0, no loss, no echoes", code, r)
	}
	f := listenerFinal(t, l, r.Sender)
	if f.OutOfOrder == 0 || f.Lost != 0 || f.Duplicates != 0 || f.JitterMs <= 0 {
		t.Errorf("listener figures %+v; want reordering and jitter seen, nothing lost or duplicated", f)
	}
}

func TestUDPProbeSeveralSenders(t *testing.T) {
	l, addr := startUDPListen(t, "127.0.0.1:0", "--json", "--interval", "0")
	counts := []string{"700", "1100", "1500"}
	results := make([]probeResult, len(counts))
	var wg sync.WaitGroup
	for i, n := range counts {
		wg.Go(func() {
			results[i], _ = probeRunJSON(t, addr, "--count", n, "--rate", "3000", "--sim-loss", "10%", "--sim-seed", fmt.Sprint(i+1))
		})
	}
	wg.Wait()
	finals := map[string]probeReport{}
	for range counts {
		var f probeReport
		line := l.expectLine(t, `"type":"probe-final"`, 20*time.Second)
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatal(err)
		}
		finals[f.Sender] = f
	}
	for i, r := range results {
		f, ok := finals[r.Sender]
		if !ok || fmt.Sprint(f.Expected) != counts[i] || f.Lost != int64(r.Simulated.Dropped) || f.Lost != r.ForwardLost {
			t.Errorf("sender %s (%s probes, %d dropped): listener figures %+v", r.Sender, counts[i], r.Simulated.Dropped, f)
		}
	}
}

func TestUDPNetcatInterop(t *testing.T) {
	nc, err := exec.LookPath("nc")
	if err != nil {
		t.Skip("nc (netcat-openbsd) not installed")
	}
	// nc sends to udp-listen, and receives its typed reply (--newline: nc prints bytes, and
	// the test reads lines).
	l, addr := startUDPListen(t, "127.0.0.1:0", "--from", "--newline")
	host, port, _ := net.SplitHostPort(addr)
	n := startUDPProc(t, nc, "-u", host, port)
	fmt.Fprintln(n.stdin, "hi from nc")
	l.expectLine(t, "hi from nc", 20*time.Second)
	fmt.Fprintln(l.stdin, "hi back from labchat")
	n.expectLine(t, "hi back from labchat", 20*time.Second)
	// udp-send sends to a listening nc, which prints it and answers.
	free := closedUDPPort(t, "udp4", "127.0.0.1")
	host, port, _ = net.SplitHostPort(free)
	n2 := startUDPProc(t, nc, "-u", "-l", host, port)
	s := startUDPProc(t, labchatBinary(t), "udp-send", free, "--newline", "--wait", "20s")
	fmt.Fprintln(s.stdin, "hello nc")
	n2.expectLine(t, "hello nc", 20*time.Second)
	fmt.Fprintln(n2.stdin, "hello labchat")
	s.expectLine(t, "hello labchat", 20*time.Second)
}

func TestProbeHeaderRoundTrip(t *testing.T) {
	h := probeHeader{flags: probeFlagEcho | probeFlagCount, sender: 0xdeadbeef, seq: 1<<40 + 7, sent: 1_700_000_000_123_456_789, rxUnique: 99}
	b := make([]byte, probeHeaderLen)
	h.put(b)
	want := "4c435042" + "01" + "03" + "0000" + "deadbeef" + "0000010000000007" + "17979cfe3d85cd15" + "0000000000000063"
	if got := fmt.Sprintf("%x", b); got != want {
		t.Errorf("header bytes %s; want %s", got, want)
	}
	if got, ok := parseProbe(b); !ok || got != h {
		t.Errorf("parseProbe = %+v, %v; want %+v", got, ok, h)
	}
	for _, bad := range [][]byte{b[:probeHeaderLen-1], []byte(strings.Repeat("LCPB", 10)), append([]byte("LCPB\x02"), b[5:]...)} {
		if _, ok := parseProbe(bad); ok {
			t.Errorf("parseProbe(%q) accepted a datagram that is not a version-1 probe", bad)
		}
	}
}

func TestProbeStatsSequence(t *testing.T) {
	var s probeStats
	t0 := time.Unix(1000, 0)
	feed := func(seqs ...uint64) {
		for _, q := range seqs {
			s.observe(q, t0.UnixNano(), t0, 100)
		}
	}
	feed(0, 1, 2, 4, 3, 3, 6)
	want := probeCounts{received: 7, unique: 6, expected: 7, bytes: 700, duplicates: 1, outOfOrder: 1}
	if s.probeCounts != want {
		t.Fatalf("after 0 1 2 4 3 3 6: %+v; want %+v", s.probeCounts, want)
	}
	r := s.interval(t0)
	if r.Lost != 1 || r.Received != 7 {
		t.Errorf("interval report %+v; want 1 lost (5) of 7 received", r)
	}
	feed(5, 7)       // 5 arrives after the report counted it lost: late
	feed(6)          // duplicate of an old number
	feed(7 + 70_000) // a jump past the window forgets it
	feed(8)          // now too old to check: counted late, not duplicate
	want = probeCounts{received: 12, unique: 10, expected: 70_008, bytes: 1200, duplicates: 2, outOfOrder: 3, late: 2}
	if s.probeCounts != want {
		t.Errorf("after late, duplicate and far arrivals: %+v; want %+v", s.probeCounts, want)
	}
	if r := s.interval(t0); r.Received != 5 || r.Lost != 70_008-10-1 || r.Late != 2 || r.Duplicates != 1 {
		t.Errorf("second interval %+v; want 5 received, 1 duplicate, 2 late", r)
	}
}

func TestProbeJitterRFC3550(t *testing.T) {
	// Send times every 10 ms; transit times 5, 7, 6, 10, 10 ms. D = 2, 1, 4, 0 ms, and
	// J_i = J_{i-1} + (|D| - J_{i-1})/16 (RFC 3550 6.4.1) gives, by hand:
	// 0.125, 0.1796875, 0.41845703125, 0.392303466796875 ms.
	transits := []time.Duration{5, 7, 6, 10, 10}
	want := []float64{0, 0.125, 0.1796875, 0.41845703125, 0.392303466796875}
	var s probeStats
	for i, tr := range transits {
		sent := time.Unix(0, 0).Add(time.Duration(i) * 10 * time.Millisecond)
		s.observe(uint64(i), sent.UnixNano(), sent.Add(tr*time.Millisecond), 64)
		if got := s.jitter / 1e6; math.Abs(got-want[i]) > 1e-9 {
			t.Errorf("jitter after datagram %d = %v ms; want %v", i, got, want[i])
		}
	}
}

func TestRTTHistogramPercentiles(t *testing.T) {
	var h rttHistogram
	for i := int64(1); i <= 1000; i++ {
		h.add(i * 1000) // 1 µs .. 1 ms
	}
	for _, tt := range []struct{ p, want float64 }{{50, 500_000}, {99, 990_000}, {100, 1_000_000}} {
		if got := h.percentile(tt.p); math.Abs(got-tt.want)/tt.want > 0.016 {
			t.Errorf("p%v = %v ns; want %v within 1.6%%", tt.p, got, tt.want)
		}
	}
	if h.min != 1000 || h.max != 1_000_000 {
		t.Errorf("min %d max %d; want 1000 and 1000000", h.min, h.max)
	}
}

func TestResolveUDPTarget(t *testing.T) {
	for _, tt := range []struct {
		in, def string
		want    string
		code    int
	}{
		{"127.0.0.1:9", "9999", "127.0.0.1:9", 0},
		{"[::1]:9", "9999", "[::1]:9", 0},
		{"::1", "9999", "[::1]:9999", 0},
		{"[::1]", "9999", "[::1]:9999", 0},
		{"[::1", "9999", "", exitUsage},
		{"[]", "9999", "", exitUsage},
		{"127.0.0.1", "9999", "127.0.0.1:9999", 0},
		{"[::ffff:127.0.0.1]:7", "9999", "127.0.0.1:7", 0},
		{"127.0.0.1:0", "9999", "", exitUsage},
		{"127.0.0.1:70000", "9999", "", exitUsage},
		{"", "9999", "", exitUsage},
	} {
		got, err := resolveUDPTarget(context.Background(), tt.in, tt.def)
		if tt.code != 0 {
			if exitCode(err, io.Discard) != tt.code {
				t.Errorf("resolveUDPTarget(%q) error %v; want exit code %d", tt.in, err, tt.code)
			}
			continue
		}
		if err != nil || got != netip.MustParseAddrPort(tt.want) {
			t.Errorf("resolveUDPTarget(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestUDPPrinterFormats(t *testing.T) {
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name            string
		from, hex, json bool
		payload         string
		want            string
	}{
		{"text keeps one line", false, false, false, "hi\n", "hi\n"},
		{"from", true, false, false, "hi", "127.0.0.1:5000: hi\n"},
		{"hex", false, true, false, "\x00\xff", "00ff\n"},
		// A datagram cannot print a line of its own (a fake report) or drive the terminal.
		{"newline inside", true, false, false, "hi\n[127.0.0.1:9 #00000001] total received 5  lost 0/5\n", "127.0.0.1:5000: hi\\n[127.0.0.1:9 #00000001] total received 5  lost 0/5\n"},
		{"carriage return", false, false, false, "hi\rlabchat: listening\r\n", "hi\\rlabchat: listening\n"},
		{"escapes and binary", false, false, false, "\x1b[2J\x00\t\x7f\xff\u0085 C:\\temp é", "\\x1b[2J\\x00\\t\\x7f\\xff\\u0085 C:\\temp é\n"},
		{"json text", false, false, true, "hi", `{"time":"2026-11-24T10:00:00Z","from":"127.0.0.1:5000","size":2,"text":"hi"}` + "\n"},
		{"json binary", false, false, true, "\xff", `{"time":"2026-11-24T10:00:00Z","from":"127.0.0.1:5000","size":1,"hex":"ff"}` + "\n"},
	} {
		var buf bytes.Buffer
		p := &udpPrinter{w: &buf, progress: io.Discard, from: tt.from, hex: tt.hex, json: tt.json}
		p.datagram([]byte(tt.payload), from, at)
		if buf.String() != tt.want {
			t.Errorf("%s: printed %q; want %q", tt.name, buf.String(), tt.want)
		}
	}
}

// BenchmarkUDPListenProbe measures the listener's per-datagram work on a probe (parse, count,
// echo header rewrite): it must not allocate.
func BenchmarkUDPListenProbe(b *testing.B) {
	l := &udpListener{opts: udpListenOptions{senders: probeMaxSenders}, peerKnown: make(chan struct{}), probes: map[probeKey]*probeStats{},
		out: &udpPrinter{w: io.Discard, progress: io.Discard}}
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	buf := make([]byte, 64)
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for i := range b.N {
		h := probeHeader{sender: 1, seq: uint64(i), sent: now.UnixNano()}
		h.put(buf)
		l.handle(buf, from, now)
	}
	if l.received != uint64(b.N) {
		b.Fatalf("counted %d of %d", l.received, b.N)
	}
}

// BenchmarkUDPProbeLoopback sends b.N probes through real loopback sockets to a listener
// reading them with the real receive loop, and reports datagrams per second and loss.
func BenchmarkUDPProbeLoopback(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			l, err := listenUDP(udpListenOptions{addr: "127.0.0.1:0", rcvbuf: 8 << 20}, &udpPrinter{w: io.Discard, progress: io.Discard})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- l.serve(ctx) }()
			s, err := dialUDP(l.sock.LocalAddr().(*net.UDPAddr).AddrPort(), false, 8<<20, &udpPrinter{w: io.Discard, progress: io.Discard})
			if err != nil {
				b.Fatal(err)
			}
			defer s.sock.Close()
			p := newProbeRun(s, udpSendOptions{count: uint64(b.N), size: size, wait: 10 * time.Second})
			go p.readEchoes()
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			if err := p.send(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			p.finish(context.Background())
			s.sock.Close()
			<-p.echoDone
			cancel()
			<-done
			if !p.echo.answered {
				b.Fatal("the listener's count did not arrive")
			}
			lost := int64(b.N) - int64(p.echo.listenerUnique)
			b.ReportMetric(float64(b.N)/p.sendEnded.Sub(p.start).Seconds(), "datagrams/s")
			b.ReportMetric(float64(lost), "lost")
		})
	}
}

// TestUDPBroadcastInNamespace sends to a broadcast address inside a network namespace the
// test creates (a veth pair, 10.99.0.1/24), never on the real network.
func TestUDPBroadcastInNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2)")
	}
	ns := fmt.Sprintf("labchat-test-%d", os.Getpid())
	setup := [][]string{
		{"netns", "add", ns},
		{"-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"-n", ns, "addr", "add", "10.99.0.1/24", "brd", "+", "dev", "v0"},
		{"-n", ns, "link", "set", "v0", "up"},
		{"-n", ns, "link", "set", "v1", "up"},
		{"-n", ns, "link", "set", "lo", "up"}, // replies to the own address travel over lo
	}
	for i, args := range setup {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			if i == 0 {
				t.Skipf("cannot create a network namespace: %v %s", err, out)
			}
			exec.Command("ip", "netns", "del", ns).Run()
			t.Fatalf("ip %s: %v %s", strings.Join(args, " "), err, out)
		}
		if i == 0 {
			t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		}
	}
	bin := labchatBinary(t)
	l := startUDPProc(t, "ip", "netns", "exec", ns, bin, "udp-listen", "--listen", "0.0.0.0:0", "--echo", "--from")
	var port string
	select {
	case addr := <-l.addrc:
		_, port, _ = net.SplitHostPort(addr)
	case <-time.After(20 * time.Second):
		t.Fatalf("udp-listen in the namespace did not start: %s", l.stderrText())
	}
	send := func(args ...string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, bin, "udp-send", "10.99.0.255:" + port}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return string(out) + stderr.String(), code
	}
	if out, code := send("to everyone", "--broadcast", "--wait", "2s", "--from"); code != exitOK || !strings.Contains(out, "10.99.0.1:"+port+": to everyone") {
		t.Errorf("--broadcast: exit %d, output %q; want the echo from 10.99.0.1", code, out)
	}
	l.expectLine(t, "10.99.0.1:", 10*time.Second)
	if out, code := send("to everyone"); code != exitUsage || !strings.Contains(out, "--broadcast") {
		t.Errorf("broadcast address without --broadcast: exit %d, output %q; want %d and a hint", code, out, exitUsage)
	}
}

// udpTmux runs a command on a real terminal (a tmux pane) and reads the screen.
// udpTmux drives a UDP command on a real terminal: the chat client's tmuxPane, with a shell
// line that reports the command's exit code on the screen once it ends.
type udpTmux struct{ *tmuxPane }

func newUDPTmux(t *testing.T, command string) *udpTmux {
	t.Helper()
	needTmux(t)
	tp := &tmuxPane{t: t, sock: t.TempDir() + "/tmux"}
	tp.tmux("new-session", "-d", "-s", "lc", "-x", "120", "-y", "12", command+"; echo EXIT=$?; sleep 60")
	t.Cleanup(func() { exec.Command("tmux", "-S", tp.sock, "kill-server").Run() })
	return &udpTmux{tp}
}

func (m *udpTmux) waitText(s string) []string {
	return m.waitScreen(fmt.Sprintf("%q", s), func(lines []string) bool { return strings.Contains(strings.Join(lines, "\n"), s) })
}

// waitAbovePrompt waits until msg is printed and the prompt line, still holding typed, is
// redrawn below it: printing while the user types must not garble the line.
func (m *udpTmux) waitAbovePrompt(msg, prompt string) {
	m.waitScreen(msg+" above "+prompt, func(lines []string) bool {
		at := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, msg) })
		return at >= 0 && slices.ContainsFunc(lines[at+1:], func(l string) bool { return strings.TrimRight(l, " ") == prompt })
	})
}

func TestUDPInteractive(t *testing.T) {
	t.Run("udp-send", func(t *testing.T) {
		l, addr := startUDPListen(t, "127.0.0.1:0")
		m := newUDPTmux(t, labchatBinary(t)+" udp-send "+addr)
		m.waitText(addr + ">") // capture-pane drops trailing spaces
		m.tmux("send-keys", "-t", "lc", "hello tty", "Enter")
		l.expectLine(t, "hello tty", 20*time.Second)
		m.tmux("send-keys", "-t", "lc", "half typed")
		m.waitText("half typed")
		fmt.Fprintln(l.stdin, "reply while typing")
		m.waitAbovePrompt("reply while typing", addr+"> half typed")
		m.tmux("send-keys", "-t", "lc", "C-u", "C-d")
		m.waitText("EXIT=0")
	})
	t.Run("udp-listen", func(t *testing.T) {
		m := newUDPTmux(t, labchatBinary(t)+" udp-listen --listen 127.0.0.1:0 --from")
		var addr string
		m.waitScreen("the listening address", func(lines []string) bool {
			m := listeningRE.FindStringSubmatch(strings.Join(lines, "\n"))
			if m != nil {
				addr = m[1]
			}
			return m != nil
		})
		peer, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		m.tmux("send-keys", "-t", "lc", "typing")
		m.waitText("reply> typing")
		peer.Write([]byte("datagram while typing"))
		m.waitAbovePrompt(": datagram while typing", "reply> typing")
		m.tmux("send-keys", "-t", "lc", " back", "Enter")
		peer.SetReadDeadline(time.Now().Add(20 * time.Second))
		buf := make([]byte, 100)
		n, err := peer.Read(buf)
		if err != nil || string(buf[:n]) != "typing back" {
			t.Errorf("peer got %q, %v; want the typed line", buf[:n], err)
		}
		m.tmux("send-keys", "-t", "lc", "C-d")
		m.waitText("EXIT=0")
	})
}

func TestUDPProbeUntilInterrupted(t *testing.T) {
	l, addr := startUDPListen(t, "127.0.0.1:0", "--json", "--echo", "--interval", "100ms")
	s := startUDPProc(t, labchatBinary(t), "udp-send", "--probe", "--count", "0", "--rate", "1000", "--json", addr)
	var iv probeReport
	if err := json.Unmarshal([]byte(l.expectLine(t, `"type":"probe-interval"`, 20*time.Second)), &iv); err != nil || iv.Received == 0 {
		t.Fatalf("interval report %+v, %v; want datagrams counted while the probe runs", iv, err)
	}
	if code := s.stop(t); code != exitOK {
		t.Errorf("udp-send --count 0 stopped by Ctrl-C: exit %d; want 0\n%s", code, s.stderrText())
	}
	var r probeResult
	if err := json.Unmarshal([]byte(<-s.lines), &r); err != nil {
		t.Fatal(err)
	}
	f := listenerFinal(t, l, r.Sender)
	if !r.ListenerAnswered || r.Sent == 0 || r.ListenerReceived != r.Sent || f.Expected != r.Sent || f.Lost != 0 {
		t.Errorf("after Ctrl-C: sender %+v, listener %+v; want the count request answered and nothing lost", r, f)
	}
	if code := l.stop(t); code != exitOK {
		t.Errorf("udp-listen exit %d after Ctrl-C; want 0", code)
	}
}

func TestUDPConfigTable(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/good.toml"
	os.WriteFile(good, []byte("[udp]\nlisten = \"127.0.0.1:0\"\nreceive_buffer = 0\n"), 0o600)
	res := runCLI(t, 20*time.Second, "", nil, "udp-listen", "--config", good, "--timeout", "100ms")
	if res.code != exitOK || !strings.Contains(res.stderr, "listening on UDP 127.0.0.1:") {
		t.Errorf("udp-listen with [udp] listen from --config: exit %d, stderr %q", res.code, res.stderr)
	}
	// A bare port in [udp] listen is also udp-send's default port.
	l, addr := startUDPListen(t, "127.0.0.1:0")
	_, port, _ := net.SplitHostPort(addr)
	bare := dir + "/bare.toml"
	os.WriteFile(bare, []byte("[udp]\nlisten = \""+port+"\"\n"), 0o600)
	if res := runCLI(t, 20*time.Second, "", nil, "udp-send", "127.0.0.1", "via default port", "--config", bare); res.code != exitOK {
		t.Errorf("udp-send HOST with the port from [udp] listen: exit %d, stderr %q", res.code, res.stderr)
	}
	l.expectLine(t, "via default port", 20*time.Second)
	bad := dir + "/bad.toml"
	os.WriteFile(bad, []byte("[udp]\nlisten_port = 5\n"), 0o600)
	res = runCLI(t, 20*time.Second, "", nil, "udp-listen", "--config", bad)
	if res.code != exitUsage || !strings.Contains(res.stderr, "udp.listen_port") {
		t.Errorf("unknown [udp] key: exit %d, stderr %q; want %d naming udp.listen_port", res.code, res.stderr, exitUsage)
	}
}

// forgedListener is a listener without a socket, fed datagrams by the test through handle.
func forgedListener(senders int, interval time.Duration) (*udpListener, *bytes.Buffer) {
	var out bytes.Buffer
	l := &udpListener{opts: udpListenOptions{senders: senders, interval: interval}, peerKnown: make(chan struct{}),
		probes: map[probeKey]*probeStats{}, out: &udpPrinter{w: &out, progress: io.Discard},
		table: probeTableReport{Type: "probe-table", Max: senders}}
	return l, &out
}

func forgedProbe(l *udpListener, from netip.AddrPort, h probeHeader, at time.Time) {
	buf := make([]byte, probeHeaderLen)
	h.put(buf)
	l.handle(buf, from, at)
}

// TestUDPListenSenderTableIsBounded forges a new sender id in every datagram: the table keeps
// at most --max-senders of them, and the report says how many it evicted.
func TestUDPListenSenderTableIsBounded(t *testing.T) {
	l, out := forgedListener(100, 0)
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	now := time.Now()
	for id := range uint32(10_000) {
		forgedProbe(l, from, probeHeader{sender: id, seq: 7, sent: now.UnixNano()}, now)
	}
	if len(l.probes) != 100 || l.table.Evicted != 9_900 || l.table.EvictedRx != 9_900 {
		t.Fatalf("after 10000 forged ids: %d tracked, %d evicted (%d datagrams); want 100, 9900, 9900",
			len(l.probes), l.table.Evicted, l.table.EvictedRx)
	}
	l.finalReports()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 101 || !strings.Contains(lines[100], "[probe senders] 100 tracked (at most 100)  evicted 9900 (9900 datagrams not in any report)") {
		t.Errorf("final output has %d lines, the last %q; want the 100 senders and a probe-senders line", len(lines), lines[len(lines)-1])
	}
	// The newest senders are the ones kept: the one heard last is still there.
	if _, ok := l.probes[probeKey{from, 9_999}]; !ok {
		t.Error("the sender heard last was evicted")
	}
}

// TestUDPListenForgetsIdleSenders: a sender silent for probeSenderIdle is dropped from the
// table, after its final figures, which it never asked for, are printed.
func TestUDPListenForgetsIdleSenders(t *testing.T) {
	l, out := forgedListener(100, time.Second)
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	t0 := time.Now()
	for seq := range uint64(5) {
		forgedProbe(l, from, probeHeader{sender: 1, seq: seq, sent: t0.UnixNano()}, t0)
	}
	later := t0.Add(probeSenderIdle + time.Second)
	forgedProbe(l, from, probeHeader{sender: 2, seq: 0, sent: later.UnixNano()}, later)
	if _, ok := l.probes[probeKey{from, 1}]; ok || len(l.probes) != 1 || l.table.Expired != 1 {
		t.Fatalf("idle sender still tracked: %d senders, %d expired", len(l.probes), l.table.Expired)
	}
	if !strings.Contains(out.String(), "[127.0.0.1:5000 #00000001] total") || !strings.Contains(out.String(), "received 5  lost 0/5") {
		t.Errorf("no final figures for the idle sender: %q", out.String())
	}
	l.intervalReports(later)
	if !strings.Contains(out.String(), "expired after 30s idle 1") {
		t.Errorf("no probe-senders line after an expiry: %q", out.String())
	}
}

// TestUDPListenForgedSequenceNumbers: headers no real sender can produce never make loss
// negative or expected absurd (once "lost -4/18446744073709551615").
func TestUDPListenForgedSequenceNumbers(t *testing.T) {
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	now := time.Now()
	t.Run("huge sequence numbers", func(t *testing.T) {
		l, out := forgedListener(100, 0)
		for _, seq := range []uint64{0, 1, math.MaxUint64 - 1, math.MaxUint64, probeMaxSeq} {
			forgedProbe(l, from, probeHeader{sender: 1, seq: seq, sent: now.UnixNano()}, now)
		}
		forgedProbe(l, from, probeHeader{flags: probeFlagCount, sender: 1, seq: math.MaxUint64}, now)
		l.finalReports()
		if !strings.Contains(out.String(), "lost 0/2 ") || !strings.Contains(out.String(), "forged sequence numbers ignored 4") {
			t.Errorf("output %q; want lost 0/2 and 4 forged headers ignored", out.String())
		}
	})
	t.Run("repeats too far behind to check", func(t *testing.T) {
		l, out := forgedListener(100, 0)
		forgedProbe(l, from, probeHeader{sender: 1, seq: probeReorderRange, sent: now.UnixNano()}, now)
		for range probeReorderRange + 5 {
			forgedProbe(l, from, probeHeader{sender: 1, seq: 0, sent: now.UnixNano()}, now)
		}
		l.finalReports()
		s := l.probes[probeKey{from, 1}]
		if s.lost() < 0 || s.unique > s.expected {
			t.Errorf("unique %d of expected %d: lost %d; output %q", s.unique, s.expected, s.lost(), out.String())
		}
	})
}

// TestUDPListenForgedDatagramsThroughTheBinary sends forged datagrams to the real udp-listen:
// text cannot fake a report line, forged headers are counted and ignored, and a flood of
// sender ids is bounded by --max-senders with the evictions reported.
func TestUDPListenForgedDatagramsThroughTheBinary(t *testing.T) {
	l, addr := startUDPListen(t, "127.0.0.1:0", "--max-senders", "10", "--interval", "0")
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fake := "[127.0.0.1:9 #00000001] total   0.00-1.00  s  received 100  lost 0/100 (0.00%)"
	c.Write([]byte("hello\n" + fake + "\n\x1b[2J"))
	l.expectLine(t, `hello\n[127.0.0.1:9 #00000001] total`, 10*time.Second)
	buf := make([]byte, probeHeaderLen)
	for id := range uint32(50) {
		(&probeHeader{sender: id, seq: 0}).put(buf)
		c.Write(buf)
	}
	(&probeHeader{sender: 99, seq: math.MaxUint64 - 1}).put(buf)
	c.Write(buf)
	c.Write([]byte("last")) // datagrams from one socket arrive in order on loopback
	l.expectLine(t, "last", 10*time.Second)
	if code := l.stop(t); code != exitOK {
		t.Fatalf("udp-listen exit %d", code)
	}
	var finals int
	var table string
	for line := range l.lines {
		if strings.HasPrefix(line, "[127.0.0.1:9 ") {
			t.Errorf("a datagram printed a line of its own: %q", line)
		}
		if strings.Contains(line, "] total") {
			finals++
		}
		if strings.HasPrefix(line, "[probe senders]") {
			table = line
		}
	}
	if finals != 10 || !strings.Contains(table, "10 tracked (at most 10)  evicted 40 (40 datagrams not in any report)") || !strings.Contains(table, "forged sequence numbers ignored 1") {
		t.Errorf("%d final reports and %q; want 10 and 40 evicted, 1 forged header", finals, table)
	}
}
