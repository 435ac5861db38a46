package main

// trace.go: --trace, the socket-level events of a run printed on stderr for the packet lab
// (LAB.md). One line per event, stamped to the microsecond, local end first and an arrow
// pointing the way the bytes went, so a student can line each line up with a capture:
//
//	21:00:05.123456 tcp listen 0.0.0.0:6667
//	21:00:05.200001 tcp accept 127.0.0.1:6667 <- 127.0.0.1:51234
//	21:00:05.200413 tcp read 127.0.0.1:6667 <- 127.0.0.1:51234 42 bytes "CAP LS 302\r\nNICK alice\r\n"...
//	21:00:05.200470 tcp close 127.0.0.1:6667 -> 127.0.0.1:51234 (this side closes first: it sends the first FIN)
//	21:00:06.000001 udp sendto 127.0.0.1:40000 -> 127.0.0.1:9999 5 bytes "hello"
//
// Off (the default), the tracer is nil and no socket is wrapped: the relay path is unchanged.
// Passwords never appear: PASS, AUTHENTICATE and REGISTER lines are redacted before printing.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/urfave/cli/v2"
)

// traceShowBytes is how much of a payload a trace line shows.
const traceShowBytes = 80

// traceTimeFormat is wall-clock time to the microsecond, as Wireshark's "Time of Day" column.
const traceTimeFormat = "15:04:05.000000"

// tracer writes trace lines. A nil *tracer means --trace is off.
type tracer struct {
	mu  sync.Mutex // guards w: each line is one Write, so lines from all goroutines stay whole
	w   io.Writer
	now func() time.Time
}

func newTracer(w io.Writer) *tracer { return &tracer{w: w, now: time.Now} }

// traceFor returns the tracer for c's command when --trace (or LABCHAT_TRACE) is on, else nil.
func traceFor(c *cli.Context) *tracer {
	if !lookupBoolFlag(c, "trace") {
		return nil
	}
	return newTracer(c.App.ErrWriter)
}

// traceNoSockets tells a --trace user that the command opens no sockets.
func traceNoSockets(c *cli.Context) {
	if tr := traceFor(c); tr != nil {
		tr.printf("%s opens no sockets: nothing to trace (trace serve, connect, udp-listen or udp-send)", c.Command.Name)
	}
}

func (t *tracer) printf(format string, args ...any) {
	b := t.now().AppendFormat(make([]byte, 0, 128), traceTimeFormat)
	b = append(b, ' ')
	b = fmt.Appendf(b, format, args...)
	b = append(b, '\n')
	t.mu.Lock()
	defer t.mu.Unlock()
	t.w.Write(b)
}

// captureHint prints the capture filter for traffic to or from port (on host, if valid) and
// the commands using it. end is an address of the path, to pick the interface.
func (t *tracer) captureHint(proto string, host netip.Addr, port uint16, end netip.Addr) {
	filter := proto + " port " + strconv.Itoa(int(port))
	if host.IsValid() {
		filter = "host " + host.String() + " and " + filter
	}
	iface := captureInterface(end)
	t.printf("capture filter: %s", filter)
	t.printf("capture with: tshark -i %s -f '%s' -w labchat.pcap   (or: tcpdump -i %s -w labchat.pcap '%s')", iface, filter, iface, filter)
}

// captureInterface names the interface that carries traffic to addr: the loopback one when
// both ends are on this PC.
func captureInterface(addr netip.Addr) string {
	if addr.IsLoopback() {
		switch runtime.GOOS {
		case "linux":
			return "lo"
		case "windows":
			return `\Device\NPF_Loopback`
		default:
			return "lo0"
		}
	}
	if runtime.GOOS == "linux" {
		return "any"
	}
	return "<interface>"
}

// addrPortOf returns a socket address as netip.AddrPort (zero if it is not IP).
func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// unmapped prints IPv4 peers of a dual-stack socket as IPv4, as the capture shows them.
func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// listen traces a listening socket and prints its capture filter.
func (t *tracer) listen(proto string, a net.Addr) {
	t.printf("%s listen %s", proto, a)
	ap := unmapped(addrPortOf(a))
	t.captureHint(proto, netip.Addr{}, ap.Port(), ap.Addr())
}

// --- TCP ---

// tracedConn is a TCP connection whose reads, writes and close are traced.
type tracedConn struct {
	net.Conn
	t             *tracer
	local, remote string                 // formatted once
	closed        atomic.Bool            // Close was called on this side
	eof           atomic.Bool            // a read returned EOF: the peer's FIN arrived
	opaque        atomic.Pointer[string] // set when the bytes are not IRC text: what they are instead
	rd, wr        lineRedactor           // one per direction: a secret may span two reads or writes
}

func (t *tracer) wrapConn(conn net.Conn) *tracedConn {
	return &tracedConn{Conn: conn, t: t,
		local:  unmapped(addrPortOf(conn.LocalAddr())).String(),
		remote: unmapped(addrPortOf(conn.RemoteAddr())).String()}
}

// accepted wraps a connection from Accept. The kernel finished the handshake before Accept
// returned it.
func (t *tracer) accepted(conn net.Conn) net.Conn {
	tc := t.wrapConn(conn)
	tc.wr.fromServer = true
	t.printf("tcp accept %s <- %s (handshake SYN, SYN/ACK, ACK done by the kernel)", tc.local, tc.remote)
	return tc
}

// dialed wraps a connection from Dial; began is when the dial started (the SYN left then).
func (t *tracer) dialed(conn net.Conn, began time.Time) net.Conn {
	tc := t.wrapConn(conn)
	tc.rd.fromServer = true
	t.printf("tcp connect %s -> %s (handshake SYN, SYN/ACK, ACK took %v)", tc.local, tc.remote, t.now().Sub(began).Round(time.Microsecond))
	return tc
}

// dialing traces the start of a dial and prints the capture filter for addr ("host:port").
func (t *tracer) dialing(addr string) {
	t.printf("tcp connecting to %s", addr)
	host, port, err := net.SplitHostPort(addr)
	p, perr := strconv.ParseUint(port, 10, 16)
	if err != nil || perr != nil {
		return
	}
	ip, err := netip.ParseAddr(host)
	switch {
	case err == nil:
		ip = ip.Unmap()
		t.captureHint("tcp", ip, uint16(p), ip)
	case host == "localhost":
		t.captureHint("tcp", netip.Addr{}, uint16(p), netip.IPv6Loopback())
	default:
		t.captureHint("tcp", netip.Addr{}, uint16(p), netip.Addr{})
	}
}

// dialFailed traces a dial that did not connect.
func (t *tracer) dialFailed(addr string, err error) {
	t.printf("tcp connect to %s failed: %v", addr, err)
}

func (tc *tracedConn) Read(b []byte) (int, error) {
	n, err := tc.Conn.Read(b)
	if n > 0 {
		tc.t.printf("tcp read %s <- %s %d bytes %s", tc.local, tc.remote, n, tc.payload(&tc.rd, b[:n]))
	}
	if err != nil {
		tc.readError(err)
	}
	return n, err
}

// readError traces why a read ended, unless this side's own Close or a deadline ended it.
func (tc *tracedConn) readError(err error) {
	switch {
	case errors.Is(err, io.EOF):
		if tc.eof.CompareAndSwap(false, true) && !tc.closed.Load() {
			tc.t.printf("tcp eof %s <- %s (the peer closed first: its FIN arrived before this side closed)", tc.local, tc.remote)
		}
	case tc.closed.Load(), errors.Is(err, os.ErrDeadlineExceeded):
	default:
		tc.t.printf("tcp read error %s <- %s: %v", tc.local, tc.remote, err)
	}
}

// Write traces before writing, so the line comes before anything the peer does in reply.
func (tc *tracedConn) Write(b []byte) (int, error) {
	tc.t.printf("tcp write %s -> %s %d bytes %s", tc.local, tc.remote, len(b), tc.payload(&tc.wr, b))
	n, err := tc.Conn.Write(b)
	tc.writeError(n, len(b), err)
	return n, err
}

// writeBuffers is net.Buffers.WriteTo on the connection itself, so a batch still leaves in
// one writev (and usually one segment) when traced.
func (tc *tracedConn) writeBuffers(bufs *net.Buffers) (int64, error) {
	b := bytes.Join(*bufs, nil)
	tc.t.printf("tcp write %s -> %s %d bytes %s", tc.local, tc.remote, len(b), tc.wr.show(b))
	n, err := bufs.WriteTo(tc.Conn)
	tc.writeError(int(n), len(b), err)
	return n, err
}

// payload shows the bytes of a read or write. WebSocket frames and TLS records are not shown
// raw: a masked frame would print a password in a form anyone can unmask (the ws lines show
// them decoded and redacted), and TLS records are noise by design.
func (tc *tracedConn) payload(r *lineRedactor, b []byte) string {
	if what := tc.opaque.Load(); what != nil {
		return "(" + *what + ")"
	}
	return r.show(b)
}

// markOpaque makes conn's trace show what its bytes are instead of the bytes, if it is traced.
func markOpaque(conn net.Conn, what string) {
	if sc, ok := conn.(*slotConn); ok {
		conn = sc.Conn // the web port's budget wraps the traced connection
	}
	if tc, ok := conn.(*tracedConn); ok {
		tc.opaque.Store(&what)
	}
}

func (tc *tracedConn) writeError(n, size int, err error) {
	if err != nil {
		tc.t.printf("tcp write error %s -> %s: %d of %d bytes written: %v", tc.local, tc.remote, n, size, err)
	}
}

// Close traces which side closed first: that side's FIN is the first one in the capture.
func (tc *tracedConn) Close() error {
	if tc.closed.CompareAndSwap(false, true) {
		tc.t.printf("tcp close %s -> %s (%s)", tc.local, tc.remote, tc.closeOrder())
	}
	return tc.Conn.Close()
}

func (tc *tracedConn) closeOrder() string {
	if tc.eof.Load() || peerFINReceived(tc.Conn) {
		return "the peer closed first: this side's FIN answers the peer's"
	}
	return "this side closes first: it sends the first FIN"
}

// writeBatch writes a batch of lines in one writev, traced when conn is.
func writeBatch(conn net.Conn, bufs *net.Buffers) (int64, error) {
	if tc, ok := conn.(*tracedConn); ok {
		return tc.writeBuffers(bufs)
	}
	return bufs.WriteTo(conn)
}

// --- UDP ---

// udpOpened traces a udp-send socket and prints the capture filter for its traffic.
func (t *tracer) udpOpened(local net.Addr, to netip.AddrPort, connected bool) {
	how := "unconnected (broadcast): replies from any address"
	if connected {
		how = "connected: the kernel only keeps datagrams from there; nothing is sent, UDP has no handshake"
	}
	t.printf("udp socket %s -> %s (%s)", unmapped(addrPortOf(local)), to, how)
	t.captureHint("udp", to.Addr(), to.Port(), to.Addr())
}

// udpRead traces one recvfrom: the datagram, or why none came.
func (t *tracer) udpRead(local net.Addr, b []byte, from netip.AddrPort, err error) {
	if err != nil {
		t.udpError("recvfrom", local, from, err)
		return
	}
	t.udpEvent("recvfrom", local, "<-", from, b)
}

// udpEvent traces one datagram sent (dir "->") or received ("<-") by the socket at local.
func (t *tracer) udpEvent(event string, local net.Addr, dir string, remote netip.AddrPort, b []byte) {
	t.printf("udp %s %s %s %s %d bytes %s", event, unmapped(addrPortOf(local)), dir, unmapped(remote), len(b), datagramText(b))
}

// udpError traces a failed UDP send or receive; a refusal is an ICMP message, not a datagram.
func (t *tracer) udpError(event string, local net.Addr, remote netip.AddrPort, err error) {
	if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
		return
	}
	if isUDPRefused(err) {
		from := ""
		if remote.IsValid() {
			from = " for " + unmapped(remote).String()
		}
		t.printf("udp %s %s: refused: an ICMP port unreachable came back%s (no UDP socket listens there)", event, unmapped(addrPortOf(local)), from)
		return
	}
	t.printf("udp %s %s: error: %v", event, unmapped(addrPortOf(local)), err)
}

// udpSimDropped traces a probe that --sim-loss kept off the wire.
func (t *tracer) udpSimDropped(seq uint64) {
	t.printf("udp sim-loss: probe seq=%d dropped before sending: it never reaches the wire", seq)
}

// datagramText shows a probe as its header fields and anything else as redacted text.
func datagramText(b []byte) string {
	h, ok := parseProbe(b)
	if !ok {
		var r lineRedactor
		return r.show(b)
	}
	switch {
	case h.flags&probeFlagCount != 0 && h.flags&probeFlagEcho != 0:
		return fmt.Sprintf("probe count answer: %d received", h.rxUnique)
	case h.flags&probeFlagCount != 0:
		return fmt.Sprintf("probe count request: %d sent", h.seq)
	case h.flags&probeFlagEcho != 0:
		return fmt.Sprintf("probe echo seq=%d", h.seq)
	}
	return fmt.Sprintf("probe seq=%d", h.seq)
}

// --- Redaction ---

// secretParams maps the commands that carry a password to the index of the parameter where
// the secret starts (REGISTER <account> <email> <password>). NickServ commands, sent with
// NICKSERV, NS or PRIVMSG NickServ, are recognised by nickServSecretAt.
var secretParams = map[string]int{"PASS": 0, "AUTHENTICATE": 0, "REGISTER": 2, "OPER": 1}

// authenticatePublic are the AUTHENTICATE parameters that are not credentials.
var authenticatePublic = []string{"PLAIN", "+", "*"}

// nickServSecret are the NickServ commands (nickserv.go) whose arguments carry passwords.
var nickServSecret = []string{"IDENTIFY", "LOGIN", "REGISTER", "PASSWD"}

// maxRedactLine bounds the bytes of one unfinished line kept to decide what is secret: longer
// than any IRC line with tags.
const maxRedactLine = 16 << 10

// lineRedactor hides the secrets in one direction of an IRC byte stream and quotes the
// result. It keeps the unfinished line a read or write ended in, since TCP may split a
// password over two reads.
type lineRedactor struct {
	mu      sync.Mutex // guards pending: a direction may be written from several goroutines
	pending []byte     // the current line's bytes so far

	// fromServer marks the server-to-client direction. A server sends no client credential
	// (its REGISTER and AUTHENTICATE lines are replies: "REGISTER SUCCESS carol :Account
	// created"), so only the NickServ rules apply there: an echo-message copy of a line to
	// NickServ does carry the password back.
	fromServer bool
}

// show returns the first traceShowBytes of b, secrets replaced by ***, as a quoted string.
func (r *lineRedactor) show(b []byte) string {
	r.mu.Lock()
	out := make([]byte, 0, min(len(b), traceShowBytes+8))
	for len(b) > 0 {
		seg := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			seg = b[:i+1]
		}
		b = b[len(seg):]
		start := len(r.pending)
		line := append(r.pending, seg...)
		secretAt := -1
		if r.fromServer {
			secretAt = nickServLineSecretOffset(line)
		} else {
			secretAt = secretOffset(line)
		}
		if secretAt < 0 {
			secretAt = uploadSecretOffset(line)
		}
		out = append(out, maskSegment(line, start, secretAt)...)
		r.pending = line[:0]
		if line[len(line)-1] != '\n' {
			r.pending = line[:min(len(line), maxRedactLine)] // its start decides; keep that
		}
	}
	r.mu.Unlock()
	if len(out) > traceShowBytes {
		return strconv.Quote(string(out[:traceShowBytes])) + "..."
	}
	return strconv.Quote(string(out))
}

// uploadSecretOffset finds file-sharing credentials (filehost.go) in a traced line: the
// session token after /upload/ (in RPL_ISUPPORT and in the HTTP request line) and an HTTP
// Authorization header (Basic carries the password, Bearer the token). -1 if none.
func uploadSecretOffset(line []byte) int {
	const authz = "authorization:"
	if len(line) >= len(authz) && bytes.EqualFold(line[:len(authz)], []byte(authz)) {
		return len(authz)
	}
	if i := bytes.Index(line, []byte("/upload/")); i >= 0 {
		return i + len("/upload/")
	}
	return -1
}

// maskSegment returns line[start:] with everything from secretAt to the line end shown as ***.
func maskSegment(line []byte, start, secretAt int) []byte {
	if secretAt < 0 {
		return line[start:]
	}
	end := len(bytes.TrimRight(line, "\r\n"))
	out := append([]byte(nil), line[start:max(start, secretAt)]...)
	if max(start, secretAt) < end {
		out = append(out, "***"...)
	}
	return append(out, line[max(start, end):]...)
}

// secretOffset returns where the secret starts in an IRC line (complete with its newline, or
// the part received so far), or -1 if the line carries none so far. It splits the line by
// ParseMessage's rules (leading spaces, tags, source, runs of spaces, a case-blind command),
// so no line the server would act on carries its secret past the trace; FuzzRedaction holds
// the two together. A secret command with too few parameters is a mistyped one whose last
// word is likely the password (REGISTER alice pw), so that word is hidden too.
func secretOffset(line []byte) int {
	return lineSecretOffset(line, false)
}

// nickServLineSecretOffset is secretOffset for a line a server sends: only a copy of a line
// to NickServ can carry a password there.
func nickServLineSecretOffset(line []byte) int {
	return lineSecretOffset(line, true)
}

func lineSecretOffset(line []byte, nickServOnly bool) int {
	complete := bytes.HasSuffix(line, []byte("\n"))
	text := bytes.TrimRight(line, "\r\n")
	pos := skipSpaces(text, 0)
	for _, lead := range []byte{'@', ':'} { // tags, then source
		if pos < len(text) && text[pos] == lead {
			sp := bytes.IndexByte(text[pos:], ' ')
			if sp < 0 {
				return -1
			}
			pos = skipSpaces(text, pos+sp)
		}
	}
	sp := bytes.IndexByte(text[pos:], ' ')
	if sp < 0 {
		return -1 // the command is not finished, or has no parameters
	}
	cmd := string(bytes.ToUpper(text[pos : pos+sp]))
	p := skipSpaces(text, pos+sp)
	switch cmd {
	case "NICKSERV", "NS":
		return nickServSecretAt(text, p, complete)
	case "PRIVMSG":
		// PRIVMSG NickServ (alone or in a target list) goes to the service, text and all.
		targets, _, found := bytes.Cut(text[p:], []byte(" "))
		if !found {
			return -1
		}
		for t := range bytes.SplitSeq(targets, []byte(",")) {
			if isServiceNick(string(t)) {
				return nickServSecretAt(text, skipSpaces(text, p+len(targets)), complete)
			}
		}
		return -1
	}
	idx, ok := secretParams[cmd]
	if !ok || nickServOnly {
		return -1
	}
	for range idx {
		if p >= len(text) {
			return -1
		}
		if text[p] == ':' {
			return p // a trailing parameter before the secret one: hide it all
		}
		next := bytes.IndexByte(text[p:], ' ')
		if next < 0 {
			// The last word so far: in a short line it is the password; a lone * is the
			// "no e-mail" placeholder of REGISTER. An unfinished word may still grow into one.
			if complete && string(text[p:]) == "*" {
				return -1
			}
			return p
		}
		p = skipSpaces(text, p+next)
	}
	if p >= len(text) {
		return -1
	}
	if cmd == "AUTHENTICATE" && authenticateIsPublic(text[p:], complete) {
		return -1
	}
	return p
}

// nickServSecretAt returns where the password starts in a line to NickServ whose text begins
// at p (a ':' there opens the trailing parameter), or -1. NickServ splits its text into
// words as strings.Fields does (tabs too): after a secret command word, every following byte
// is hidden. A first word still arriving that could become one is hidden already.
func nickServSecretAt(text []byte, p int, complete bool) int {
	if p < len(text) && text[p] == ':' {
		p++
	}
	rest := text[p:]
	start := len(rest) - len(bytes.TrimLeftFunc(rest, unicode.IsSpace))
	word := rest[start:]
	end := bytes.IndexFunc(word, unicode.IsSpace)
	if end < 0 {
		for _, w := range nickServSecret {
			if !complete && len(word) > 0 && len(word) <= len(w) && bytes.EqualFold(word, []byte(w[:len(word)])) {
				return p + start
			}
		}
		return -1
	}
	for _, w := range nickServSecret {
		if bytes.EqualFold(word[:end], []byte(w)) {
			args := len(word) - len(bytes.TrimLeftFunc(word[end:], unicode.IsSpace))
			if args == len(word) && complete {
				return -1 // the command alone: no password in the line
			}
			return p + start + min(args, len(word))
		}
	}
	return -1
}

// authenticateIsPublic reports whether an AUTHENTICATE parameter is a mechanism name or a
// control word; an unfinished one that could still become a credential is not.
func authenticateIsPublic(param []byte, complete bool) bool {
	finished := complete || bytes.IndexByte(param, ' ') >= 0
	word, _, _ := bytes.Cut(param, []byte(" "))
	for _, p := range authenticatePublic {
		if finished && bytes.EqualFold(word, []byte(p)) {
			return true
		}
	}
	return false
}

func skipSpaces(b []byte, i int) int {
	for i < len(b) && b[i] == ' ' {
		i++
	}
	return i
}
