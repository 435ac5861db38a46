package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// openUDPSocket opens a udpSocket on addr ("udp", "udp4" or "udp6" network), closed at cleanup.
func openUDPSocket(t *testing.T, network, addr string) *udpSocket {
	t.Helper()
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("no %s socket on %s: %v", network, addr, err)
	}
	s, err := newUDPSocket(conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// connectUDPSocket opens a udpSocket connected to to, closed at cleanup.
func connectUDPSocket(t *testing.T, to netip.AddrPort) *udpSocket {
	t.Helper()
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newUDPSocket(conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitReadAsleep returns once a goroutine is asleep in ReadFrom: in a system call (this
// package's poll) or parked by Go's poller.
func waitReadAsleep(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); runtime.Gosched() {
		stacks := buf[:runtime.Stack(buf, true)]
		for g := range strings.SplitSeq(string(stacks), "\n\n") {
			if strings.Contains(g, "(*udpSocket).ReadFrom") && (strings.Contains(g, "[syscall") || strings.Contains(g, "[IO wait")) {
				return
			}
		}
	}
	t.Fatal("no goroutine asleep in ReadFrom after 10 s")
}

func localAddrPort(s *udpSocket) netip.AddrPort {
	return s.LocalAddr().(*net.UDPAddr).AddrPort()
}

// readResult is one ReadFrom call's outcome, for reads run in a goroutine.
type readResult struct {
	payload string
	from    netip.AddrPort
	err     error
}

func readAsync(s *udpSocket) <-chan readResult {
	c := make(chan readResult, 1)
	go func() {
		buf := make([]byte, 2048)
		n, from, err := s.ReadFrom(buf)
		c <- readResult{string(buf[:n]), from, err}
	}()
	return c
}

func awaitRead(t *testing.T, c <-chan readResult) readResult {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("ReadFrom still blocked after 10 s")
	}
	return readResult{}
}

func TestUDPSocketCloseWakesBlockedRead(t *testing.T) {
	listener := openUDPSocket(t, "udp4", "127.0.0.1:0")
	connected := connectUDPSocket(t, localAddrPort(listener))
	for name, s := range map[string]*udpSocket{"unconnected": listener, "connected": connected} {
		t.Run(name, func(t *testing.T) {
			reads := readAsync(s)
			waitReadAsleep(t)
			closed := make(chan error, 1)
			go func() { closed <- s.Close() }() // Close waits for the read to leave
			if r := awaitRead(t, reads); !errors.Is(r.err, net.ErrClosed) {
				t.Errorf("read blocked across Close returned %+v; want net.ErrClosed", r)
			}
			if err := <-closed; err != nil {
				t.Fatalf("Close: %v", err)
			}
			if _, _, err := s.ReadFrom(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("ReadFrom after Close: %v; want net.ErrClosed", err)
			}
			if err := s.WriteTo([]byte("x"), localAddrPort(listener)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("WriteTo after Close: %v; want net.ErrClosed", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v; want nil", err)
			}
		})
	}
}

func TestUDPSocketReadDeadline(t *testing.T) {
	s := openUDPSocket(t, "udp4", "127.0.0.1:0")
	deadline := time.Now().Add(30 * time.Millisecond)
	s.setReadDeadline(deadline)
	r := awaitRead(t, readAsync(s))
	if !errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with a deadline and no datagram: %+v; want os.ErrDeadlineExceeded", r)
	}
	if now := time.Now(); now.Before(deadline) {
		t.Errorf("deadline error %v before the deadline", deadline.Sub(now))
	}
	peer := openUDPSocket(t, "udp4", "127.0.0.1:0")
	if runtime.GOOS == "linux" { // Go's poller, used elsewhere, fails every read past the deadline
		// A queued datagram is returned even after the deadline; a read that must wait is not.
		if err := peer.WriteTo([]byte("late"), localAddrPort(s)); err != nil {
			t.Fatal(err)
		}
		if r := awaitRead(t, readAsync(s)); r.err != nil || r.payload != "late" || r.from != localAddrPort(peer) {
			t.Errorf("read of a queued datagram past the deadline: %+v; want \"late\" from %s", r, localAddrPort(peer))
		}
		if r := awaitRead(t, readAsync(s)); !errors.Is(r.err, os.ErrDeadlineExceeded) {
			t.Errorf("second read past the deadline: %+v; want os.ErrDeadlineExceeded", r)
		}
	}
	s.setReadDeadline(time.Time{})
	reads := readAsync(s)
	if err := peer.WriteTo([]byte("no deadline"), localAddrPort(s)); err != nil {
		t.Fatal(err)
	}
	if r := awaitRead(t, reads); r.err != nil || r.payload != "no deadline" {
		t.Errorf("read after clearing the deadline: %+v", r)
	}
}

// TestUDPSocketDualStack checks the addresses a dual-stack socket reports and replies to: an
// IPv4 sender is shown as IPv4 and answered as one, an IPv6 sender as IPv6.
func TestUDPSocketDualStack(t *testing.T) {
	closedUDPPort(t, "udp6", "::1") // skips without IPv6 loopback
	dual := openUDPSocket(t, "udp", "[::]:0")
	port := localAddrPort(dual).Port()
	for _, tt := range []struct{ network, local string }{{"udp4", "127.0.0.1:0"}, {"udp6", "[::1]:0"}} {
		peer := openUDPSocket(t, tt.network, tt.local)
		to := netip.AddrPortFrom(localAddrPort(peer).Addr(), port)
		if err := peer.WriteTo([]byte("ping"), to); err != nil {
			t.Fatalf("%s send: %v", tt.network, err)
		}
		r := awaitRead(t, readAsync(dual))
		if r.err != nil || r.payload != "ping" || r.from != localAddrPort(peer) {
			t.Errorf("%s sender seen as %+v; want ping from %s", tt.network, r, localAddrPort(peer))
			continue
		}
		if err := dual.WriteTo([]byte("pong"), r.from); err != nil {
			t.Errorf("reply to %s: %v", r.from, err)
			continue
		}
		if r := awaitRead(t, readAsync(peer)); r.err != nil || r.payload != "pong" || r.from.Port() != port {
			t.Errorf("%s reply arrived as %+v; want pong from port %d", tt.network, r, port)
		}
	}
}

func TestUDPSocketErrors(t *testing.T) {
	s := openUDPSocket(t, "udp4", "127.0.0.1:0")
	if err := s.WriteTo([]byte("x"), netip.MustParseAddrPort("[2001:db8::1]:9")); err == nil {
		t.Error("IPv6 destination on an IPv4 socket: no error")
	}
	// A connected socket hears the ICMP port unreachable that follows a datagram to a closed port.
	c := connectUDPSocket(t, netip.MustParseAddrPort(closedUDPPort(t, "udp4", "127.0.0.1")))
	reads := readAsync(c)
	if err := c.Write([]byte("anyone?")); err != nil && !isUDPRefused(err) {
		t.Fatalf("write to a closed port: %v", err)
	}
	if r := awaitRead(t, reads); !isUDPRefused(r.err) {
		t.Errorf("read after a datagram to a closed port: %+v; want a refusal", r)
	}
}

// TestUDPListenerReportsDuringABacklog queues probes before the listener reads any: it never
// has to wait for a datagram, so no read deadline passes, and its interval reports must still
// come while it works through the backlog, not after.
func TestUDPListenerReportsDuringABacklog(t *testing.T) {
	const queued = 100
	var out bytes.Buffer
	l, err := listenUDP(udpListenOptions{addr: "127.0.0.1:0", count: queued, interval: time.Nanosecond, rcvbuf: 1 << 20},
		&udpPrinter{w: &out, progress: io.Discard, json: true})
	if err != nil {
		t.Fatal(err)
	}
	peer := openUDPSocket(t, "udp4", "127.0.0.1:0")
	buf := make([]byte, probeHeaderLen)
	for seq := range uint64(queued) {
		h := probeHeader{sender: 7, seq: seq, sent: time.Now().UnixNano()}
		h.put(buf)
		if err := peer.WriteTo(buf, localAddrPort(l.sock)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- l.serve(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("listener did not stop after --count datagrams")
	}
	var first probeReport
	for line := range strings.Lines(out.String()) {
		if strings.Contains(line, `"probe-interval"`) {
			if err := json.Unmarshal([]byte(line), &first); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if first.Received == 0 || first.Received >= queued {
		t.Errorf("first interval report %+v; want one before the %d queued datagrams were all read\n%s", first, queued, out.String())
	}
}
