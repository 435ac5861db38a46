package main

// check_udp.go: the UDP steps of `labchat check` (udp-echo, udp-client).

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

const udpLoseHint = "UDP never resends: a client must set a timeout (sock.settimeout(1)) and send again when it expires"

// udpExchange sends each payload at once on conn, then collects replies until all came or
// the deadline passed.
func udpExchange(conn *net.UDPConn, timeout time.Duration, payloads ...[]byte) ([][]byte, error) {
	for _, p := range payloads {
		if _, err := conn.Write(p); err != nil {
			return nil, err
		}
	}
	var got [][]byte
	buf := make([]byte, 65536)
	deadline := time.Now().Add(timeout)
	for len(got) < len(payloads) {
		conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		if isTimeout(err) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, bytes.Clone(buf[:n]))
	}
	return got, nil
}

func (ck *checker) udpDial() (*net.UDPConn, error) {
	raddr, err := net.ResolveUDPAddr("udp", ck.target)
	if err != nil {
		return nil, err
	}
	// Connected: the kernel then passes on an ICMP port unreachable as "refused".
	return net.DialUDP("udp", nil, raddr)
}

// udpEchoStep sends payloads together and expects each back unchanged, as many datagrams.
func (ck *checker) udpEchoStep(name string, hint string, payloads ...[]byte) bool {
	return ck.step(name, func(s *checkStep) {
		conn, err := ck.udpDial()
		if err != nil {
			s.Detail = err.Error()
			return
		}
		defer conn.Close()
		var sent []string
		for _, p := range payloads {
			sent = append(sent, show(p))
		}
		s.Sent = plural(len(payloads), "datagram") + ": " + strings.Join(sent, ", ")
		got, err := udpExchange(conn, ck.timeout, payloads...)
		var recv []string
		for _, g := range got {
			recv = append(recv, show(g))
		}
		s.Received = plural(len(got), "datagram")
		if len(got) > 0 {
			s.Received += ": " + strings.Join(recv, ", ")
		}
		switch {
		case err != nil && isRefused(err):
			s.Detail = "refused: an ICMP port unreachable came back"
			s.Hint = "nothing listens on that UDP port: is your server running, bound (bind) to this port?"
		case err != nil:
			s.Detail = err.Error()
		case len(got) == 0:
			s.Detail = fmt.Sprintf("no reply within %v", ck.timeout)
			s.Hint = hint
		default:
			for _, want := range payloads {
				i := slices.IndexFunc(got, func(g []byte) bool { return bytes.Equal(g, want) })
				if i < 0 {
					s.Detail = fmt.Sprintf("no datagram came back equal to %s", show(want))
					if len(got) == len(payloads) && len(got[0]) < len(payloads[0]) {
						s.Detail += fmt.Sprintf(" (got %d of its %d bytes)", len(got[0]), len(payloads[0]))
					}
					s.Hint = hint
					return
				}
				got = slices.Delete(got, i, i+1)
			}
			s.Pass = true
		}
	})
}

func checkUDPEcho(ck *checker, _ string) {
	if !ck.udpEchoStep("short datagram", "answer with sendto(data, addr), to the address recvfrom() returned", []byte("hello labchat")) {
		return
	}
	ck.udpEchoStep("one sendto is one datagram", "UDP keeps boundaries: echo each datagram as one datagram, unchanged",
		[]byte("one"), []byte("two"), []byte("three"))
	big := bytes.Repeat([]byte("0123456789abcdef"), 500) // 8000 bytes
	ck.udpEchoStep("8000-byte datagram", "recvfrom(1024) cuts a longer datagram and the rest is lost: use recvfrom(65535)", big)
	ck.udpEchoStep("non-ASCII text", "echo the bytes unchanged (UTF-8 in, the same UTF-8 out)", []byte("héllo wörld ✓ 你好 🙂"))
	ck.udpEchoStep("empty datagram", "a UDP datagram may be empty (0 bytes): it is still a datagram, echo it; "+
		"b\"\" means \"closed\" only on TCP", []byte{})
	ck.step("two clients at once", func(s *checkStep) {
		var conns [2]*net.UDPConn
		for i := range conns {
			c, err := ck.udpDial()
			if err != nil {
				s.Detail = err.Error()
				return
			}
			defer c.Close()
			conns[i] = c
		}
		msgs := [2][]byte{[]byte("from client 1"), []byte("from client 2")}
		for i, c := range conns {
			c.Write(msgs[i])
		}
		s.Sent = "one datagram from each of 2 sockets (2 ports)"
		for i, c := range conns {
			buf := make([]byte, 65536)
			c.SetReadDeadline(time.Now().Add(ck.timeout))
			n, err := c.Read(buf)
			if err != nil || !bytes.Equal(buf[:n], msgs[i]) {
				s.Detail = fmt.Sprintf("client %d did not get its own datagram back", i+1)
				s.Hint = "reply to the addr each recvfrom() returned: every client has its own port"
				return
			}
		}
		s.Pass, s.Received = true, "each its own echo"
	})
}

// checkUDPClient waits for the student's datagram, ignores it, and expects a retry.
func checkUDPClient(ck *checker, wait time.Duration) {
	laddr, err := net.ResolveUDPAddr("udp", ck.target)
	var conn *net.UDPConn
	if err == nil {
		conn, err = net.ListenUDP("udp", laddr)
	}
	if err != nil {
		ck.step("listen", func(s *checkStep) { s.Detail, s.Hint = err.Error(), "pick another port (or 0)" })
		return
	}
	defer conn.Close()
	ck.target = conn.LocalAddr().String()
	ck.listening(conn.LocalAddr(), wait)
	buf := make([]byte, 65536)
	var first []byte
	var from *net.UDPAddr
	var firstAt time.Time
	if !ck.step("sends a datagram", func(s *checkStep) {
		conn.SetReadDeadline(time.Now().Add(wait))
		n, addr, err := conn.ReadFromUDP(buf)
		if err != nil {
			s.Detail = fmt.Sprintf("no datagram within %v", wait)
			s.Hint = "sendto() the address printed above"
			return
		}
		first, from, firstAt = bytes.Clone(buf[:n]), addr, time.Now()
		s.Pass, s.Received = true, show(first)+" from "+addr.String()
	}) {
		return
	}
	// readFromClient reads the next datagram from the client's address until deadline.
	readFromClient := func(deadline time.Time) ([]byte, bool) {
		for {
			conn.SetReadDeadline(deadline)
			n, addr, err := conn.ReadFromUDP(buf)
			if err != nil {
				return nil, false
			}
			if addr.String() == from.String() {
				return bytes.Clone(buf[:n]), true
			}
		}
	}
	retryWait := max(ck.timeout, 3*time.Second)
	if !ck.step("sends again when the reply is lost", func(s *checkStep) {
		s.Sent = "nothing: the first datagram was ignored on purpose, as if lost"
		again, ok := readFromClient(firstAt.Add(retryWait))
		if !ok {
			s.Detail = fmt.Sprintf("no second datagram within %v: the client waits forever for a reply that will never come", retryWait)
			s.Hint = udpLoseHint
			return
		}
		s.Pass = true
		s.Received = fmt.Sprintf("%s again after %.2f s", show(again), time.Since(firstAt).Seconds())
		first = again
	}) {
		return
	}
	ck.step("stops sending once the reply came", func(s *checkStep) {
		conn.WriteToUDP(first, from)
		s.Sent = "the echo " + show(first)
		quiet := min(retryWait, 1500*time.Millisecond)
		deadline := time.Now().Add(quiet)
		for {
			again, ok := readFromClient(deadline)
			if !ok {
				s.Pass, s.Detail = true, fmt.Sprintf("no resend within %v after the reply", quiet)
				return
			}
			if !bytes.Equal(again, first) {
				conn.WriteToUDP(again, from) // a new message: echo it too
				continue
			}
			s.Received = show(again) + " once more"
			s.Detail = "the client sent the same datagram again after the reply had come"
			s.Hint = "stop resending when recvfrom() returned the reply"
			return
		}
	})
}
