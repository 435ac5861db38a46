package main

// Tests of examples/ and `labchat check`: every example against labchat's own tools, the
// check against every example both ways, and against deliberately broken copies
// (testdata/broken/) to prove each check catches the bug it names. Real binaries, real
// sockets, port 0 everywhere.

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// progTimeout bounds every program a test starts; python3's start alone can take seconds on
// a loaded machine.
const progTimeout = 60 * time.Second

// lineProc is a started program whose stdout and stderr lines are read as they come.
type lineProc struct {
	cmd   *exec.Cmd
	lines chan string
	mu    sync.Mutex // guards all
	all   strings.Builder
	done  chan struct{}
	code  int
}

func startLineProc(t *testing.T, env []string, name string, args ...string) *lineProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), progTimeout)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.Stdin = nil
	p := &lineProc{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.all.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		}
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *lineProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.all.String()
}

// waitMatch waits for a line matching re and returns its first group.
func (p *lineProc) waitMatch(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	timeout := time.After(progTimeout)
	for {
		select {
		case l := <-p.lines:
			if m := re.FindStringSubmatch(l); m != nil {
				return m[1]
			}
		case <-timeout:
			t.Fatalf("no line matching %v; output:\n%s", re, p.output())
		}
	}
}

// wait waits for the program to end and returns its exit code.
func (p *lineProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(progTimeout):
		t.Fatalf("%s still running; output:\n%s", p.cmd.Path, p.output())
		return -1
	}
}

var (
	exampleListeningRE = regexp.MustCompile(`^listening on (\S+)`)
	checkListeningRE   = regexp.MustCompile(`listening on (\S+); start your client`)
)

func python3(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is needed for the Python examples (.ci/run installs it): %v", err)
	}
	return py
}

var (
	goExamplesOnce sync.Once
	goExamplesErr  error
)

// goExample builds examples/go once and returns the path of the program in folder rel.
func goExample(t *testing.T, rel string) string {
	t.Helper()
	dir := filepath.Join(testBinDir, "examples")
	goExamplesOnce.Do(func() {
		os.MkdirAll(dir, 0o755)
		for _, pkg := range []string{"tcpecho/server", "tcpecho/client", "udpecho/server", "udpecho/client", "chatrelay", "labchatclient"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(dir, strings.ReplaceAll(pkg, "/", "-")), "./examples/go/"+pkg).CombinedOutput()
			if err != nil {
				goExamplesErr = err
				os.Stderr.Write(out)
				return
			}
		}
	})
	if goExamplesErr != nil {
		t.Fatalf("build the Go examples: %v", goExamplesErr)
	}
	return filepath.Join(dir, strings.ReplaceAll(rel, "/", "-"))
}

// example is one program of examples/ in both languages: argv before the address arguments.
type example struct{ lang, name string }

func exampleCommand(t *testing.T, e example, args ...string) (string, []string) {
	t.Helper()
	if e.lang == "python" {
		return python3(t), append([]string{filepath.Join("examples", "python", e.name)}, args...)
	}
	return goExample(t, e.name), args
}

var exampleServers = map[string][2]example{ // check kind -> the Python and the Go server
	"tcp-echo":   {{"python", "tcp_echo_server.py"}, {"go", "tcpecho/server"}},
	"udp-echo":   {{"python", "udp_echo_server.py"}, {"go", "udpecho/server"}},
	"chat-relay": {{"python", "chat_relay.py"}, {"go", "chatrelay"}},
}

// startExampleServer starts a server example on a free port of 127.0.0.1 and returns its address.
func startExampleServer(t *testing.T, e example) string {
	t.Helper()
	name, args := exampleCommand(t, e, "0", "127.0.0.1")
	return startLineProc(t, nil, name, args...).waitMatch(t, exampleListeningRE)
}

// checkReport is `labchat check --json`'s output, by step.
type checkReport struct {
	steps   []checkStep
	failed  map[string]checkStep
	summary map[string]any
}

func parseCheckJSON(t *testing.T, out string) checkReport {
	t.Helper()
	r := checkReport{failed: map[string]checkStep{}}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		if strings.Contains(line, `"summary":true`) {
			json.Unmarshal([]byte(line), &r.summary)
			continue
		}
		var s checkStep
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		r.steps = append(r.steps, s)
		if !s.Pass {
			r.failed[s.Step] = s
		}
	}
	if r.summary == nil {
		t.Fatalf("no summary line in:\n%s", out)
	}
	return r
}

func TestCheckPassesEveryExampleServer(t *testing.T) {
	for kind, pair := range exampleServers {
		for _, e := range pair {
			t.Run(kind+"/"+e.lang, func(t *testing.T) {
				t.Parallel()
				addr := startExampleServer(t, e)
				res := runCLI(t, progTimeout, "", nil, "check", kind, addr, "--json")
				r := parseCheckJSON(t, res.stdout)
				if res.code != 0 || len(r.failed) > 0 || len(r.steps) < 5 {
					t.Fatalf("check %s on %s: exit %d, %d steps, failed %v\n%s%s", kind, e.name, res.code, len(r.steps), r.failed, res.stdout, res.stderr)
				}
			})
		}
	}
}

// runClientCheck starts `labchat check KIND --listen 127.0.0.1:0`, then the client with the
// address, and returns the check's report, its exit code and the client's output.
func runClientCheck(t *testing.T, kind string, argv func(host, port string) []string, extra ...string) (checkReport, int, *lineProc) {
	t.Helper()
	ck := startLineProc(t, nil, labchatBinary(t), append([]string{"check", kind, "--listen", "127.0.0.1:0", "--json", "--wait", "50s"}, extra...)...)
	addr := ck.waitMatch(t, checkListeningRE)
	host, port, _ := net.SplitHostPort(addr)
	args := argv(host, port)
	client := startLineProc(t, nil, args[0], args[1:]...)
	code := ck.wait(t)
	return parseCheckJSON(t, ck.output()), code, client
}

func TestCheckPassesEveryExampleClient(t *testing.T) {
	clients := map[string][2]example{
		"tcp-client": {{"python", "tcp_echo_client.py"}, {"go", "tcpecho/client"}},
		"udp-client": {{"python", "udp_echo_client.py"}, {"go", "udpecho/client"}},
	}
	for kind, pair := range clients {
		for _, e := range pair {
			t.Run(kind+"/"+e.lang, func(t *testing.T) {
				t.Parallel()
				r, code, client := runClientCheck(t, kind, func(host, port string) []string {
					name, args := exampleCommand(t, e, host, port, "hello labchat")
					return append([]string{name}, args...)
				})
				if code != 0 || len(r.failed) > 0 {
					t.Fatalf("check %s with %s: exit %d, failed %v\nclient:\n%s", kind, e.name, code, r.failed, client.output())
				}
				// The client itself saw the echo and ended well.
				if c := client.wait(t); c != 0 || !strings.Contains(client.output(), "hello labchat") {
					t.Errorf("%s: exit %d, output:\n%s", e.name, c, client.output())
				}
			})
		}
	}
}

// TestCheckCatchesBrokenPrograms runs the checks against testdata/broken/: each must fail the
// step named for its bug, with a hint that names the fix, and the exit code must count the
// failed steps.
func TestCheckCatchesBrokenPrograms(t *testing.T) {
	py := python3(t)
	broken := func(file string) string { return filepath.Join("testdata", "broken", file) }
	servers := []struct {
		file, kind, step, hint string
	}{
		{"tcp_echo_server_recv_once.py", "tcp-echo", "100 KB message", "loop"},
		{"tcp_echo_server_one_at_a_time.py", "tcp-echo", "several clients at once", "one client at a time"},
		{"chat_relay_echoes_sender.py", "chat-relay", "the sender does not get its own line back", "skip the sender"},
	}
	for _, tc := range servers {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			addr := startLineProc(t, nil, py, broken(tc.file), "0").waitMatch(t, exampleListeningRE)
			res := runCLI(t, progTimeout, "", nil, "check", tc.kind, addr, "--json", "--timeout", "2s")
			r := parseCheckJSON(t, res.stdout)
			s, failed := r.failed[tc.step]
			if !failed || !strings.Contains(s.Hint, tc.hint) {
				t.Fatalf("check %s on %s: step %q failed=%v hint %q, want a failure with %q\n%s", tc.kind, tc.file, tc.step, failed, s.Hint, tc.hint, res.stdout)
			}
			if res.code != len(r.failed) {
				t.Errorf("exit code %d, want the number of failed steps %d", res.code, len(r.failed))
			}
			// The plain report says it in words too (a fresh copy: a broken one may not survive a run).
			addr = startLineProc(t, nil, py, broken(tc.file), "0").waitMatch(t, exampleListeningRE)
			text := runCLI(t, progTimeout, "", nil, "check", tc.kind, addr, "--timeout", "2s")
			if !strings.Contains(text.stdout, "FAIL "+tc.step) || !strings.Contains(text.stdout, "hint: ") {
				t.Errorf("text report lacks the FAIL line or its hint:\n%s", text.stdout)
			}
		})
	}
	clients := []struct {
		file, kind, step, hint string
	}{
		{"udp_echo_client_no_timeout.py", "udp-client", "sends again when the reply is lost", "timeout"},
		{"tcp_echo_client_recv_once.py", "tcp-client", "reads a reply that arrives in two pieces", "loop"},
	}
	for _, tc := range clients {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			r, code, _ := runClientCheck(t, tc.kind, func(host, port string) []string {
				return []string{py, broken(tc.file), host, port}
			}, "--timeout", "2s")
			s, failed := r.failed[tc.step]
			if !failed || !strings.Contains(s.Hint, tc.hint) {
				t.Fatalf("check %s with %s: step %q failed=%v hint %q, want a failure with %q; steps %+v", tc.kind, tc.file, tc.step, failed, s.Hint, tc.hint, r.steps)
			}
			if code != len(r.failed) {
				t.Errorf("exit code %d, want %d", code, len(r.failed))
			}
		})
	}
}

// TestCheckNeverHangs points the checks at programs that never answer: every step must end
// by its deadline, and the whole check in a bounded time.
func TestCheckNeverHangs(t *testing.T) {
	// A TCP server that accepts and then neither reads nor writes nor closes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	// A UDP socket that reads nothing: datagrams are queued, never answered.
	mute, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	for _, tc := range []struct {
		args  []string
		limit time.Duration
	}{
		{[]string{"check", "tcp-echo", ln.Addr().String(), "--timeout", "500ms"}, 15 * time.Second},
		{[]string{"check", "chat-relay", ln.Addr().String(), "--timeout", "500ms"}, 15 * time.Second},
		{[]string{"check", "udp-echo", mute.LocalAddr().String(), "--timeout", "500ms"}, 15 * time.Second},
		{[]string{"check", "tcp-client", "--listen", "127.0.0.1:0", "--wait", "500ms"}, 15 * time.Second},
		{[]string{"check", "udp-client", "--listen", "127.0.0.1:0", "--wait", "500ms"}, 15 * time.Second},
	} {
		start := time.Now()
		res := runCLI(t, tc.limit, "", nil, tc.args...)
		if res.code == 0 || !strings.Contains(res.stdout, "FAIL ") {
			t.Errorf("%v: exit %d, want failures:\n%s%s", tc.args, res.code, res.stdout, res.stderr)
		}
		t.Logf("%v: exit %d after %v", tc.args[1], res.code, time.Since(start).Round(time.Millisecond))
	}
	// Nothing listening: refused, said so, one failed step.
	closed := freeTCPAddr(t)
	res := runCLI(t, 10*time.Second, "", nil, "check", "tcp-echo", closed)
	if res.code != 1 || !strings.Contains(res.stdout, "nothing listens there") {
		t.Errorf("check on a closed port: exit %d\n%s", res.code, res.stdout)
	}
	// Usage errors exit 2 with a message and no report.
	for _, args := range [][]string{{"check", "tcp-echo"}, {"check", "udp-echo", "nohostport"}, {"check", "tcp-client"}} {
		res := runCLI(t, 10*time.Second, "", nil, args...)
		if res.code != exitUsage || res.stdout != "" || res.stderr == "" {
			t.Errorf("%v: exit %d stdout %q stderr %q, want a usage error", args, res.code, res.stdout, res.stderr)
		}
	}
}

// freeTCPAddr is a 127.0.0.1 port nothing listens on (bound, then closed; the kernel does
// not hand it out again at once).
func freeTCPAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestExamplesTalkToLabchatTools: the UDP examples against udp-send and udp-listen, and the
// two login clients against labchat serve, a message delivered to bob's labchat connect.
func TestExamplesTalkToLabchatTools(t *testing.T) {
	bin := labchatBinary(t)
	for _, e := range []example{{"python", "udp_echo_server.py"}, {"go", "udpecho/server"}} {
		addr := startExampleServer(t, e)
		res := runCLI(t, progTimeout, "", nil, "udp-send", addr, "hello from udp-send", "--wait", "1s")
		if res.code != 0 || !strings.Contains(res.stdout, "hello from udp-send") {
			t.Errorf("udp-send to %s: exit %d\n%s%s", e.name, res.code, res.stdout, res.stderr)
		}
	}
	for _, e := range []example{{"python", "udp_echo_client.py"}, {"go", "udpecho/client"}} {
		ul := startLineProc(t, nil, bin, "udp-listen", "--listen", "127.0.0.1:0", "--echo", "--count", "1")
		addr := ul.waitMatch(t, regexp.MustCompile(`listening on UDP (\S+)`))
		host, port, _ := net.SplitHostPort(addr)
		name, args := exampleCommand(t, e, host, port, "hello", "udp-listen")
		client := startLineProc(t, nil, name, args...)
		if code := client.wait(t); code != 0 || !strings.Contains(client.output(), "echo from") {
			t.Errorf("%s against udp-listen --echo: exit %d\n%s", e.name, code, client.output())
		}
		if !strings.Contains(ul.output(), "hello udp-listen") {
			t.Errorf("udp-listen did not print the datagram:\n%s", ul.output())
		}
	}

	dir := t.TempDir()
	srv := startLineProc(t, nil, bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--web-listen", "", "--tls-listen", "")
	addr := srv.waitMatch(t, regexp.MustCompile(`listening on (\S+:\d+)`))
	host, port, _ := net.SplitHostPort(addr)
	pw := []string{"LABCHAT_PASSWORD=labpass1", "LABCHAT_DATA=" + t.TempDir()}
	for _, user := range []string{"alice", "bob"} {
		if res := runCLI(t, 30*time.Second, "", pw, "connect", addr, "--register", "--user", user, "--to", user); res.code != 0 {
			t.Fatalf("register %s: exit %d\n%s", user, res.code, res.stderr)
		}
	}
	bob := startLineProc(t, pw, bin, "connect", addr, "--user", "bob", "--follow", "--no-reconnect")
	// Whether bob is online yet or not, the message reaches him (offline messages wait).
	for _, e := range []example{{"python", "labchat_client.py"}, {"go", "labchatclient"}} {
		text := "hi bob from " + e.lang
		name, args := exampleCommand(t, e, host, port, "alice", "bob", text)
		client := startLineProc(t, pw, name, args...)
		if code := client.wait(t); code != 0 {
			t.Fatalf("%s: exit %d\n%s", e.name, code, client.output())
		}
		if out := client.output(); strings.Contains(out, "labpass1") || !strings.Contains(out, " 001 ") {
			t.Errorf("%s: no welcome, or the password in its output:\n%s", e.name, out)
		}
		bob.waitMatch(t, regexp.MustCompile(`alice.*(`+regexp.QuoteMeta(text)+`)`))
	}
}
