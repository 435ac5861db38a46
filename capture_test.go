package main

// The packet lab's promise, checked with the real analyser: tshark captures loopback while
// the binary runs a chat session (register, login, direct message, QUIT) and a UDP exchange
// with echo, all with --trace; then the test reads the capture back with tshark and holds it
// against the traces. It asserts only what the capture shows, and skips, saying why, when
// tshark is missing or may not capture (.ci/run installs it; capturing needs root or
// CAP_NET_RAW on dumpcap).

import (
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const captureTimeout = 30 * time.Second

// The test's own datagrams, sent to its own marker socket: tshark printing the start marker
// means it is capturing; printing the end marker, that it has seen every packet before it.
const (
	captureStartMarker = "labchat capture test: start"
	captureEndMarker   = "labchat capture test: end"
)

func TestCaptureShowsWhatTheTraceSays(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("captures on Linux's loopback interface, lo")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed (apt-get install tshark; .ci/run does): cannot check the capture")
	}
	data, clientData := t.TempDir(), t.TempDir()
	srv, addr := startTracedServe(t, data)
	_, tcpPort, _ := net.SplitHostPort(addr)
	listener := startProc(t, []string{"LABCHAT_CONFIG=", "LABCHAT_TRACE=", "LABCHAT_DATA=" + data}, labchatBinary(t),
		"udp-listen", "--trace", "--listen", "127.0.0.1:0", "--echo", "--count", "2")
	udpPort := listener.stderr.waitFor(t, regexp.MustCompile(`listening on UDP 127\.0\.0\.1:(\d+) `), captureTimeout)[1]

	pcap := filepath.Join(t.TempDir(), "lab.pcap")
	capture := startCapture(t, tshark, pcap, fmt.Sprintf("host 127.0.0.1 and (tcp port %s or udp port %s", tcpPort, udpPort))

	// TCP: bob and alice register, then alice logs in and sends bob a direct message.
	const dm = "hello bob from the packet lab"
	var clientTraces []string
	for _, step := range []struct {
		user, password, stdin string
		register              bool
	}{
		{"bob", "bob-pw-123", "", true},
		{"alice", "alice-pw-123", "", true},
		{"alice", "alice-pw-123", dm + "\n", false},
	} {
		args := []string{"connect", addr, "--trace", "--user", step.user, "--to", "bob"}
		if step.register {
			args = append(args, "--register")
		}
		res := runCLI(t, captureTimeout, step.stdin, append(clientEnv(clientData, step.password), "LABCHAT_TRACE="), args...)
		if res.code != exitOK {
			t.Fatalf("labchat %s: exit %d\n%s", strings.Join(args, " "), res.code, res.stderr)
		}
		clientTraces = append(clientTraces, res.stderr)
	}

	// UDP: two datagrams, echoed back.
	datagrams := []string{"first datagram", "second datagram, a little longer"}
	res := runCLI(t, captureTimeout, "", []string{"LABCHAT_CONFIG=", "LABCHAT_TRACE=", "LABCHAT_DATA=" + data},
		append([]string{"udp-send", "--trace", "--wait", "1s", "127.0.0.1:" + udpPort}, datagrams...)...)
	if res.code != exitOK || res.stdout != strings.Join(datagrams, "\n")+"\n" {
		t.Fatalf("udp-send: exit %d, stdout %q (want both echoes)\n%s", res.code, res.stdout, res.stderr)
	}
	if code := listener.wait(t, captureTimeout); code != exitOK {
		t.Fatalf("udp-listen: exit %d\n%s", code, listener.stderr.String())
	}
	capture.stop(t)

	packets := slices.DeleteFunc(readCapture(t, tshark, pcap, tcpPort), capture.isMarker)
	serverTrace := srv.stderr.String()
	checkHandshakes(t, packets, tcpPort, serverTrace, clientTraces)
	checkIRC(t, packets, tcpPort, clientTraces[2], dm)
	checkTeardowns(t, packets, serverTrace, clientTraces)
	checkDatagrams(t, packets, udpPort, datagrams, res.stderr, listener.stderr.String())
}

// tsharkCapture is a running `tshark -w`, printing each packet's UDP payload as it goes.
type tsharkCapture struct {
	*bgProc
	markers *net.UDPConn // the test's marker socket: it sends to itself
}

// startCapture starts tshark on lo with filter (an unclosed "(... or ..." to which it adds
// its marker port) and returns once tshark shows a packet, or skips the test if tshark may
// not capture.
func startCapture(t *testing.T, tshark, pcap, filter string) *tsharkCapture {
	t.Helper()
	markers, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { markers.Close() })
	filter += fmt.Sprintf(" or udp port %d)", markers.LocalAddr().(*net.UDPAddr).Port)
	p := startProc(t, nil, tshark, "-i", "lo", "-f", filter, "-F", "pcap", "-w", pcap,
		"-P", "-l", "-T", "fields", "-e", "udp.payload")
	if _, ok := p.stderr.waitUntil(regexp.MustCompile(`Capturing on`), captureTimeout, p.done); !ok {
		msg := p.stderr.String()
		if regexp.MustCompile(`(?i)permission|not permitted|privilege`).MatchString(msg) {
			t.Skipf("tshark may not capture on lo here (run as root or give dumpcap CAP_NET_RAW): %s", strings.TrimSpace(msg))
		}
		t.Fatalf("tshark ended before capturing: %v\n%s", p.err, msg)
	}
	c := &tsharkCapture{bgProc: p, markers: markers}
	// tshark says "Capturing on" before dumpcap really captures, and nothing else says when
	// it does: send start markers until tshark shows one.
	start := regexp.MustCompile(hex.EncodeToString([]byte(captureStartMarker)))
	deadline := time.Now().Add(captureTimeout)
	for {
		c.mark(t, captureStartMarker)
		if _, ok := p.stdout.waitUntil(start, 20*time.Millisecond, p.done); ok {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("tshark showed no packet within %v\n%s", captureTimeout, p.stderr.String())
		}
	}
}

func (c *tsharkCapture) mark(t *testing.T, text string) {
	t.Helper()
	if _, err := c.markers.WriteTo([]byte(text), c.markers.LocalAddr()); err != nil {
		t.Fatalf("send capture marker: %v", err)
	}
}

// isMarker reports whether p is one of the test's own marker datagrams.
func (c *tsharkCapture) isMarker(p packet) bool {
	return !p.tcp && p.dst == c.markers.LocalAddr().String()
}

// stop sends the end marker, waits until tshark has shown it, then stops tshark with SIGINT
// (it writes out the file as it exits).
func (c *tsharkCapture) stop(t *testing.T) {
	t.Helper()
	c.mark(t, captureEndMarker)
	c.stdout.waitFor(t, regexp.MustCompile(hex.EncodeToString([]byte(captureEndMarker))), captureTimeout)
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("stop tshark: %v", err)
	}
	if code := c.wait(t, captureTimeout); code != 0 {
		t.Fatalf("tshark: exit %d\n%s", code, c.stderr.String())
	}
}

// packet is one captured frame as tshark dissected it.
type packet struct {
	frame       int
	src, dst    string // ip:port
	tcp         bool
	flags       uint64 // TCP flags: 0x02 SYN, 0x10 ACK, 0x01 FIN, 0x04 RST
	seq, len    int    // relative sequence number, TCP payload length
	mss         string
	payload     []byte // UDP payload
	ircCommands []string
	ircTrailers string
}

const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

var captureFields = []string{"frame.number", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "tcp.flags",
	"tcp.seq", "tcp.len", "tcp.options.mss_val", "udp.srcport", "udp.dstport", "udp.payload",
	"irc.request.command", "irc.request.trailer"}

// readCapture reads the pcap back with tshark, decoding the server port as IRC.
func readCapture(t *testing.T, tshark, pcap, tcpPort string) []packet {
	t.Helper()
	args := []string{"-r", pcap, "-d", "tcp.port==" + tcpPort + ",irc", "-T", "fields", "-E", "separator=/t"}
	for _, f := range captureFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark -r: %v", err)
	}
	var packets []packet
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(f) != len(captureFields) {
			t.Fatalf("tshark line has %d fields, want %d: %q", len(f), len(captureFields), line)
		}
		p := packet{src: f[1] + ":" + f[3], dst: f[2] + ":" + f[4], tcp: f[3] != "", mss: f[8],
			ircTrailers: f[13]}
		p.frame, _ = strconv.Atoi(f[0])
		p.flags, _ = strconv.ParseUint(strings.TrimPrefix(f[5], "0x"), 16, 16)
		p.seq, _ = strconv.Atoi(f[6])
		p.len, _ = strconv.Atoi(f[7])
		if !p.tcp {
			p.src, p.dst = f[1]+":"+f[9], f[2]+":"+f[10]
			if p.payload, err = hex.DecodeString(f[11]); err != nil {
				t.Fatalf("udp.payload %q: %v", f[11], err)
			}
		}
		if f[12] != "" {
			p.ircCommands = strings.Split(f[12], ",")
		}
		packets = append(packets, p)
	}
	if len(packets) == 0 {
		t.Fatal("the capture is empty")
	}
	return packets
}

// stream returns the TCP packets between a and b, in capture order.
func stream(packets []packet, a, b string) []packet {
	var s []packet
	for _, p := range packets {
		if p.tcp && (p.src == a && p.dst == b || p.src == b && p.dst == a) {
			s = append(s, p)
		}
	}
	return s
}

// checkHandshakes: the connections the traces name are the ones captured, and each opens with
// SYN, SYN/ACK, ACK (MSS offered on both SYNs).
func checkHandshakes(t *testing.T, packets []packet, tcpPort, serverTrace string, clientTraces []string) {
	t.Helper()
	server := "127.0.0.1:" + tcpPort
	accepted := traceMatches(serverTrace, `tcp accept `+regexp.QuoteMeta(server)+` <- (\S+) `)
	connected := traceMatches(strings.Join(clientTraces, ""), `tcp connect (\S+) -> `+regexp.QuoteMeta(server)+` `)
	var captured []string
	for _, p := range packets {
		if p.tcp && p.dst == server && p.flags == tcpSYN {
			captured = append(captured, p.src)
		}
	}
	if len(captured) != 3 || !slices.Equal(accepted, captured) || !slices.Equal(connected, captured) {
		t.Fatalf("client ends: server trace %v, client traces %v, capture SYNs %v; want the same 3", accepted, connected, captured)
	}
	for _, client := range captured {
		s := stream(packets, client, server)
		if len(s) < 3 {
			t.Errorf("%s: only %d packets", client, len(s))
			continue
		}
		want := []struct {
			src   string
			flags uint64
		}{{client, tcpSYN}, {server, tcpSYN | tcpACK}, {client, tcpACK}}
		for i, w := range want {
			if s[i].src != w.src || s[i].flags != w.flags || s[i].len != 0 {
				t.Errorf("%s: packet %d of the handshake is %s flags %#x len %d; want from %s flags %#x, no data",
					client, i+1, s[i].src, s[i].flags, s[i].len, w.src, w.flags)
			}
		}
		if s[0].mss == "" || s[1].mss == "" {
			t.Errorf("%s: SYN MSS %q, SYN/ACK MSS %q; want both", client, s[0].mss, s[1].mss)
		}
	}
}

// checkIRC: Wireshark's IRC dissector finds the direct message in a segment from the client
// that sent it.
func checkIRC(t *testing.T, packets []packet, tcpPort, senderTrace, dm string) {
	t.Helper()
	sender := traceMatches(senderTrace, `tcp connect (\S+) -> `)
	for _, p := range packets {
		if p.tcp && slices.Contains(p.ircCommands, "PRIVMSG") && strings.Contains(p.ircTrailers, dm) {
			if p.src != sender[0] || p.dst != "127.0.0.1:"+tcpPort {
				t.Errorf("PRIVMSG in frame %d goes %s -> %s; want %s -> port %s", p.frame, p.src, p.dst, sender[0], tcpPort)
			}
			return
		}
	}
	t.Errorf("no PRIVMSG with %q decoded by the IRC dissector", dm)
}

// checkTeardowns: the side whose trace says it closed first sent the first FIN, each FIN's
// sequence number is 1 + the bytes that side's trace says it wrote, and nothing was reset.
func checkTeardowns(t *testing.T, packets []packet, serverTrace string, clientTraces []string) {
	t.Helper()
	all := serverTrace + strings.Join(clientTraces, "")
	closes := regexp.MustCompile(`(?m)tcp close (\S+) -> (\S+) \((.*)\)$`).FindAllStringSubmatch(all, -1)
	firsts := 0
	for _, c := range closes {
		local, remote := c[1], c[2]
		if !strings.HasPrefix(c[3], "this side closes first") {
			continue
		}
		firsts++
		s := stream(packets, local, remote)
		var fins []packet
		for _, p := range s {
			if p.flags&tcpRST != 0 {
				t.Errorf("%s <-> %s: RST in frame %d", local, remote, p.frame)
			}
			if p.flags&tcpFIN != 0 {
				fins = append(fins, p)
			}
		}
		if len(fins) != 2 || fins[0].src != local || fins[1].src != remote {
			t.Errorf("%s closed first by its trace; capture FINs from %v", local, finSources(fins))
			continue
		}
		for _, fin := range fins {
			wrote := tracedBytes(all, fin.src, fin.dst)
			if fin.seq != 1+wrote {
				t.Errorf("FIN from %s: seq %d; its trace wrote %d bytes, so want %d", fin.src, fin.seq, wrote, 1+wrote)
			}
		}
	}
	if firsts != 3 {
		t.Errorf("%d connections traced as closed first by one side; want 3:\n%q", firsts, closes)
	}
}

func finSources(fins []packet) []string {
	var s []string
	for _, f := range fins {
		s = append(s, f.src)
	}
	return s
}

// tracedBytes sums the bytes the trace says local wrote to remote.
func tracedBytes(trace, local, remote string) int {
	total := 0
	re := regexp.MustCompile(`tcp write ` + regexp.QuoteMeta(local+" -> "+remote) + ` (\d+) bytes`)
	for _, m := range re.FindAllStringSubmatch(trace, -1) {
		n, _ := strconv.Atoi(m[1])
		total += n
	}
	return total
}

// checkDatagrams: every datagram is captured once with its exact payload, the first packet
// between the two ends already carries data (no handshake), and the traces name the same ends.
func checkDatagrams(t *testing.T, packets []packet, udpPort string, sent []string, senderTrace, listenerTrace string) {
	t.Helper()
	listener := "127.0.0.1:" + udpPort
	sender := traceMatches(senderTrace, `udp sendto (\S+) -> `+regexp.QuoteMeta(listener)+` `)
	if len(sender) != len(sent) || sender[0] != sender[1] {
		t.Fatalf("udp-send trace: sendto from %v; want %d datagrams from one socket\n%s", sender, len(sent), senderTrace)
	}
	var got []string
	for _, p := range packets {
		if p.tcp {
			continue
		}
		got = append(got, fmt.Sprintf("%s -> %s %q", p.src, p.dst, p.payload))
	}
	var want []string
	for _, d := range sent {
		want = append(want, fmt.Sprintf("%s -> %s %q", sender[0], listener, d))
	}
	for _, d := range sent {
		want = append(want, fmt.Sprintf("%s -> %s %q", listener, sender[0], d))
	}
	// Each echo follows its datagram, so the orders may interleave; within a direction they
	// may not.
	if !sameDirectionalOrder(got, want) {
		t.Errorf("captured datagrams:\n%s\nwant, in each direction in this order:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(got) > 0 && got[0] != want[0] {
		t.Errorf("the first UDP packet is %s; want the first datagram itself (UDP has no handshake)", got[0])
	}
	heard := traceMatches(listenerTrace, `udp recvfrom `+regexp.QuoteMeta(listener)+` <- (\S+) `)
	if len(heard) != len(sent) || heard[0] != sender[0] {
		t.Errorf("udp-listen trace heard from %v; want %d datagrams from %s", heard, len(sent), sender[0])
	}
}

// sameDirectionalOrder reports whether got holds exactly want's lines, each direction's in
// want's order.
func sameDirectionalOrder(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	direction := func(line string) string { return line[:strings.Index(line, ` "`)] }
	for _, d := range []string{direction(want[0]), direction(want[len(want)-1])} {
		var g, w []string
		for _, l := range got {
			if direction(l) == d {
				g = append(g, l)
			}
		}
		for _, l := range want {
			if direction(l) == d {
				w = append(w, l)
			}
		}
		if !slices.Equal(g, w) {
			return false
		}
	}
	return true
}

// traceMatches returns the first group of every match of pattern in a trace.
func traceMatches(trace, pattern string) []string {
	var out []string
	for _, m := range regexp.MustCompile(pattern).FindAllStringSubmatch(trace, -1) {
		out = append(out, m[1])
	}
	return out
}
