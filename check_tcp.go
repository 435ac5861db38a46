package main

// check_tcp.go: the TCP steps of `labchat check` (tcp-echo, chat-relay, tcp-client).

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// tcpPeer is one connection of a check, with the bytes received and not yet looked at.
type tcpPeer struct {
	conn *net.TCPConn
	buf  []byte
	eof  bool  // the other side's FIN arrived
	err  error // the connection broke (e.g. reset); a timeout is not kept here
}

func dialPeer(addr string, timeout time.Duration) (*tcpPeer, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return &tcpPeer{conn: c.(*net.TCPConn)}, nil
}

// readUntil reads until done(buf) holds; false when the deadline passes, the peer closes or
// the connection breaks first.
func (p *tcpPeer) readUntil(deadline time.Time, done func([]byte) bool) bool {
	chunk := make([]byte, 64*1024)
	for !done(p.buf) {
		if p.eof || p.err != nil {
			return false
		}
		p.conn.SetReadDeadline(deadline)
		n, err := p.conn.Read(chunk)
		p.buf = append(p.buf, chunk[:n]...)
		switch {
		case err == io.EOF:
			p.eof = true
		case isTimeout(err):
			return done(p.buf)
		case err != nil:
			p.err = err
		}
	}
	return true
}

// line waits for a whole line containing token and returns it.
func (p *tcpPeer) lineWith(deadline time.Time, token string) (string, bool) {
	var found string
	ok := p.readUntil(deadline, func(b []byte) bool {
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if strings.HasSuffix(l, "\n") && strings.Contains(l, token) {
				found = l
				return true
			}
		}
		return false
	})
	return found, ok
}

// ended says how the peer stopped sending, for a report.
func (p *tcpPeer) ended() string {
	switch {
	case p.err != nil && isReset(p.err):
		return "then the connection was reset (RST)"
	case p.err != nil:
		return "then " + p.err.Error()
	case p.eof:
		return "then the other side closed the connection (FIN)"
	}
	return "then nothing more came"
}

// abort closes with RST instead of FIN: SO_LINGER 0, as a crashed or killed program does.
func (p *tcpPeer) abort() {
	p.conn.SetLinger(0)
	p.conn.Close()
}

// echoLine sends line and its "\n", and waits for a whole line containing it to come back.
func (p *tcpPeer) echoLine(timeout time.Duration, line string) (string, bool) {
	p.conn.SetWriteDeadline(time.Now().Add(timeout))
	p.conn.Write([]byte(line + "\n"))
	return p.lineWith(time.Now().Add(timeout), line)
}

// dial connects to the server under test for step s; when it cannot, it says why in s and
// returns nil.
func (ck *checker) dial(s *checkStep, what string) *tcpPeer {
	p, err := dialPeer(ck.target, ck.timeout)
	if err != nil {
		s.Detail, s.Hint = what+": "+err.Error(), connectHint(err)
		return nil
	}
	return p
}

// sayUntilHeard has from send line again every tenth of the timeout until each of to has
// received a line containing token, or the timeout has passed; it says who heard it. Sent
// again because a relay may not have accepted a client yet when connect() returned (the
// kernel does the handshake).
func (ck *checker) sayUntilHeard(from *tcpPeer, line, token string, to ...*tcpPeer) []bool {
	heard := make([]bool, len(to))
	deadline := time.Now().Add(ck.timeout)
	for slices.Contains(heard, false) && time.Now().Before(deadline) {
		from.conn.Write([]byte(line + "\n"))
		round := time.Now().Add(ck.timeout / 10)
		for i, p := range to {
			if !heard[i] {
				_, heard[i] = p.lineWith(round, token)
			}
		}
	}
	return heard
}

const recvLoopHint = "one recv() returns what has arrived so far (at most its buffer size), never \"the message\": " +
	"call recv in a loop and send what each call returns (sendall), until recv returns b\"\" (0 bytes: the client closed)"

// echoStep sends msg on a new connection and expects exactly msg back.
func (ck *checker) echoStep(name string, msg []byte, hint string) bool {
	return ck.step(name, func(s *checkStep) {
		p := ck.dial(s, "connect")
		if p == nil {
			return
		}
		defer p.conn.Close()
		s.Sent = show(msg)
		// Written while reading: an echo server stops reading when its replies are not read.
		go func() {
			p.conn.SetWriteDeadline(time.Now().Add(ck.timeout))
			p.conn.Write(msg)
		}()
		p.readUntil(time.Now().Add(ck.timeout), func(b []byte) bool { return len(b) >= len(msg) })
		s.Received = show(p.buf)
		switch {
		case bytes.Equal(p.buf[:min(len(p.buf), len(msg))], msg) && len(p.buf) >= len(msg):
			s.Pass = true
		case len(p.buf) < len(msg) && bytes.Equal(p.buf, msg[:len(p.buf)]):
			s.Detail = fmt.Sprintf("%d of %d bytes came back, %s", len(p.buf), len(msg), p.ended())
			s.Hint = hint
		default:
			s.Detail = fmt.Sprintf("the bytes differ from byte %d on", firstDifference(p.buf, msg))
			s.Hint = "send back exactly the bytes you received: no added prefix, no changed encoding"
		}
	})
}

func checkTCPEcho(ck *checker, _ string) {
	if !ck.echoStep("short message", []byte("hello labchat\n"), "read with recv and send the same bytes back with sendall") {
		return // nothing else can pass
	}
	long := make([]byte, 100*1024)
	for i := range long {
		long[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i%36]
	}
	long = append(long, '\n')
	ck.echoStep("100 KB message", long, recvLoopHint)
	ck.severalClients()
	ck.clientClosesFirst()
	ck.echoStep("non-ASCII text", []byte("héllo wörld ✓ 你好 🙂\n"),
		"echo the bytes unchanged; if you decode, decode and encode UTF-8, and never cut a character in two")
	ck.echoStep("empty line", []byte("\nafter the empty line\n"),
		"an empty line is 1 byte (\"\\n\"), not the end: only recv() returning b\"\" (0 bytes) means the client closed")
	ck.resetMidMessage()
}

// severalClients keeps client A connected while B and C ask for an echo.
func (ck *checker) severalClients() {
	ck.step("several clients at once", func(s *checkStep) {
		peers := make([]*tcpPeer, 3)
		for i := range peers {
			p := ck.dial(s, fmt.Sprintf("connect client %d", i+1))
			if p == nil {
				return
			}
			defer p.conn.Close()
			peers[i] = p
		}
		var got []string
		// A first and it stays connected; then C and B, the later ones first.
		for _, i := range []int{0, 2, 1} {
			name := string(rune('A' + i))
			if _, ok := peers[i].echoLine(ck.timeout, "from client "+name); !ok {
				s.Sent = "one line from each of 3 clients connected at once"
				s.Received = "echoes for " + strings.Join(append(got, "none for "+name), ", ")
				s.Detail = fmt.Sprintf("client %s got no echo within %v while client A stayed connected", name, ck.timeout)
				s.Hint = "your server serves one client at a time: it calls accept() again only when the first client leaves; " +
					"serve each client in its own thread (threading.Thread) or watch all sockets with select"
				return
			}
			got = append(got, name)
		}
		s.Pass = true
		s.Sent = "one line from each of 3 clients connected at once (A, then C, then B)"
		s.Received = "the three echoes"
	})
}

// clientClosesFirst sends FIN after the echo and expects the server to close its side too.
func (ck *checker) clientClosesFirst() {
	ck.step("client closes first", func(s *checkStep) {
		p := ck.dial(s, "connect")
		if p == nil {
			return
		}
		defer p.conn.Close()
		p.echoLine(ck.timeout, "bye")
		p.conn.CloseWrite()
		s.Sent = `"bye\n", then FIN (shutdown: no more data from the client)`
		p.readUntil(time.Now().Add(ck.timeout), func([]byte) bool { return false })
		switch {
		case p.eof:
			s.Pass, s.Received = true, "the echo, then the server's FIN: it closed too"
		case p.err != nil:
			s.Pass, s.Received = true, "the echo, then a reset: the server closed (with unread data, hence RST)"
		default:
			s.Received = show(p.buf)
			s.Detail = fmt.Sprintf("the server kept the connection open %v after the client's FIN", ck.timeout)
			s.Hint = "when recv() returns b\"\" (0 bytes) the client has closed: leave the loop and close that socket"
		}
	})
	ck.echoStep("server still answers after a client left", []byte("still there?\n"),
		"after one client closes, go back to accept() (or keep the other threads running)")
}

// resetMidMessage sends half a line, aborts with RST, and checks the server still serves.
func (ck *checker) resetMidMessage() {
	ck.step("client disconnects mid-message", func(s *checkStep) {
		p := ck.dial(s, "connect")
		if p == nil {
			return
		}
		p.conn.Write([]byte("half a mess"))
		p.readUntil(time.Now().Add(ck.timeout/4), func(b []byte) bool { return len(b) > 0 })
		p.abort()
		s.Sent = `"half a mess" (no "\n"), then RST (the client vanished)`
		q, err := dialPeer(ck.target, ck.timeout)
		if err != nil {
			s.Detail = "the server is gone after the reset: connect: " + err.Error()
			s.Hint = "catch the error recv/send raise after a reset (ConnectionResetError) in that client's code and go on serving the others"
			return
		}
		defer q.conn.Close()
		if _, ok := q.echoLine(ck.timeout, "are you alive?"); !ok {
			s.Received = show(q.buf)
			s.Detail = "a new client got no echo after the reset, " + q.ended()
			s.Hint = "catch the error recv/send raise after a reset (ConnectionResetError) in that client's code and go on serving the others"
			return
		}
		s.Pass, s.Received = true, "a new client's echo afterwards: the server survived"
	})
}

// checkChatRelay joins three clients and follows lines between them.
func checkChatRelay(ck *checker, _ string) {
	var peers []*tcpPeer
	defer func() {
		for _, p := range peers {
			p.conn.Close()
		}
	}()
	join := func() (*tcpPeer, error) {
		p, err := dialPeer(ck.target, ck.timeout)
		if err == nil {
			peers = append(peers, p)
		}
		return p, err
	}
	var a, b, c *tcpPeer
	if !ck.step("three clients connect", func(s *checkStep) {
		var err error
		for _, pp := range []**tcpPeer{&a, &b, &c} {
			if *pp, err = join(); err != nil {
				s.Detail, s.Hint = "connect: "+err.Error(), connectHint(err)
				return
			}
		}
		s.Pass, s.Detail = true, "A, B and C are connected"
	}) {
		return
	}
	token := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	// C says hello a few times until A and B have heard it: the server may not have
	// accepted B and C yet when connect() returned.
	if !ck.step("a line from C reaches A and B", func(s *checkStep) {
		msg := "hello from C " + token
		s.Sent = strconv.Quote(msg + "\n")
		if heard := ck.sayUntilHeard(c, msg, token, a, b); slices.Contains(heard, false) {
			s.Detail = fmt.Sprintf("A heard it: %v, B heard it: %v (within %v)", heard[0], heard[1], ck.timeout)
			s.Hint = "keep a list of the connected sockets; for each line received, send it to every socket in the list but the sender"
			return
		}
		l, _ := a.lineWith(time.Now(), token)
		s.Pass, s.Received = true, "A and B: "+strconv.Quote(l)
	}) {
		return
	}
	// Forget what the warm-up left behind.
	time.Sleep(ck.timeout / 10)
	for _, p := range peers {
		p.readUntil(time.Now().Add(10*time.Millisecond), func([]byte) bool { return false })
		p.buf = nil
	}
	msg := "hi from A " + token
	ck.step("a line from A reaches B and C", func(s *checkStep) {
		a.conn.Write([]byte(msg + "\n"))
		s.Sent = strconv.Quote(msg + "\n")
		lb, okB := b.lineWith(time.Now().Add(ck.timeout), msg)
		lc, okC := c.lineWith(time.Now().Add(ck.timeout), msg)
		if !okB || !okC {
			s.Detail = fmt.Sprintf("B got it: %v, C got it: %v", okB, okC)
			s.Hint = "relay every line to every other client, not only to the first or the last one that connected"
			return
		}
		s.Pass, s.Received = true, "B: "+strconv.Quote(lb)+", C: "+strconv.Quote(lc)
	})
	ck.step("the sender does not get its own line back", func(s *checkStep) {
		l, echoed := a.lineWith(time.Now().Add(ck.timeout/6), msg)
		if echoed {
			s.Received = "A: " + strconv.Quote(l)
			s.Detail = "A's own line came back to A"
			s.Hint = "skip the sender when relaying: for c in clients: if c is not sender: c.sendall(line)"
			return
		}
		s.Pass, s.Detail = true, fmt.Sprintf("nothing came back to A within %v", ck.timeout/6)
	})
	ck.step("someone leaving breaks nothing", func(s *checkStep) {
		c.abort()
		peers = peers[:2]
		d, err := join()
		if err != nil {
			s.Detail, s.Hint = "after C left, a new client cannot connect: "+err.Error(), "a client that leaves must not end the server"
			return
		}
		after := "after C left " + token
		s.Sent = "C resets its connection; D joins; B says " + strconv.Quote(after+"\n")
		if heard := ck.sayUntilHeard(b, after, after, a, d); slices.Contains(heard, false) {
			s.Detail = fmt.Sprintf("A got it: %v, D (the newcomer) got it: %v", heard[0], heard[1])
			s.Hint = "when a client leaves (recv returns b\"\" or raises), remove it from the list; " +
				"catch the error of sending to a gone client and go on with the others"
			return
		}
		s.Pass, s.Received = true, "A and the newcomer D both got it"
	})
}

// checkTCPClient waits for the student's client and tests what it sends and how it reads.
func checkTCPClient(ck *checker, wait time.Duration) {
	ln, err := net.Listen("tcp", ck.target)
	if err != nil {
		ck.step("listen", func(s *checkStep) { s.Detail, s.Hint = err.Error(), "pick another port (or 0)" })
		return
	}
	defer ln.Close()
	ck.target = ln.Addr().String()
	ck.listening(ln.Addr(), wait)
	var p *tcpPeer
	if !ck.step("client connects", func(s *checkStep) {
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(wait))
		conn, err := ln.Accept()
		if err != nil {
			s.Detail = fmt.Sprintf("no client connected within %v", wait)
			s.Hint = "connect() to the address printed above"
			return
		}
		p = &tcpPeer{conn: conn.(*net.TCPConn)}
		s.Pass, s.Detail = true, "from "+conn.RemoteAddr().String()
	}) {
		return
	}
	defer p.conn.Close()
	var line []byte
	if !ck.step("sends a line ending in \\n", func(s *checkStep) {
		p.readUntil(time.Now().Add(ck.timeout), func(b []byte) bool { return bytes.IndexByte(b, '\n') >= 0 })
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			s.Received = show(p.buf)
			s.Detail = fmt.Sprintf("no \"\\n\" within %v, %s", ck.timeout, p.ended())
			s.Hint = "end each message with \"\\n\": TCP keeps no boundaries, so the server looks for it to know where a message ends"
			return
		}
		line, p.buf = p.buf[:i+1], p.buf[i+1:]
		s.Pass, s.Received = true, show(line)
	}) {
		return
	}
	ck.step("reads a reply that arrives in two pieces", func(s *checkStep) {
		half := max(1, len(line)/2)
		p.conn.SetWriteDeadline(time.Now().Add(ck.timeout))
		if _, err := p.conn.Write(line[:half]); err != nil {
			s.Detail = "sending the first piece failed: " + err.Error()
			return
		}
		pause := min(ck.timeout/4, 500*time.Millisecond)
		p.readUntil(time.Now().Add(pause), func([]byte) bool { return false })
		s.Sent = fmt.Sprintf("the echo in two pieces, %s then %s, %v apart", show(line[:half]), show(line[half:]), pause)
		if p.eof || p.err != nil {
			s.Detail = fmt.Sprintf("the client closed after the first piece, %s", p.ended())
			s.Hint = "one recv() returns what has arrived so far: call recv in a loop until the reply's \"\\n\" has come"
			return
		}
		if _, err := p.conn.Write(line[half:]); err != nil {
			s.Detail = "the client was gone before the second piece: " + err.Error()
			s.Hint = "one recv() returns what has arrived so far: call recv in a loop until the reply's \"\\n\" has come"
			return
		}
		s.Pass, s.Detail = true, "the client waited for the second piece"
	})
	ck.step("closes the connection when done", func(s *checkStep) {
		// Further lines get their echo, whole, until the client closes.
		lines := 0
		deadline := time.Now().Add(ck.timeout)
		for {
			p.readUntil(deadline, func(b []byte) bool { return bytes.IndexByte(b, '\n') >= 0 })
			i := bytes.IndexByte(p.buf, '\n')
			if i < 0 {
				break
			}
			p.conn.Write(p.buf[:i+1])
			p.buf = p.buf[i+1:]
			lines++
			deadline = time.Now().Add(ck.timeout)
		}
		if lines > 0 {
			s.Received = fmt.Sprintf("%d more lines (echoed)", lines)
		}
		if p.eof || p.err != nil {
			how := "with FIN"
			if p.err != nil {
				how = "with RST: " + p.err.Error()
			}
			s.Pass, s.Detail = true, "the client closed the connection "+how
			return
		}
		s.Detail = fmt.Sprintf("the client kept the connection open %v after its last line", ck.timeout)
		s.Hint = "close the socket when you are done: the server only learns you left from your FIN"
	})
}
