package main

// Issue 17 item 1: one connection budget on every listener.

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// webRefusal sends a WebSocket upgrade from the address from and returns all the server
// answered before closing: the budget refuses before reading the request.
func webRefusal(t testing.TB, addr, from string) string {
	t.Helper()
	conn, err := (&net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ioTimeout))
	conn.Write([]byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
	b, _ := io.ReadAll(conn)
	return string(b)
}

// startBudgetServer starts a server with its web (and optionally TLS) port on 127.0.0.1:0,
// the eviction grace set to grace, and the log kept.
func startBudgetServer(t *testing.T, cfg ServerConfig, grace time.Duration) (*testServer, *syncBuffer) {
	t.Helper()
	cfg.WebListen = "127.0.0.1:0"
	return startServerWith(t, cfg, "", func(s *Server) {
		s.evictGrace = grace
		s.budget.setLogWindow(200 * time.Millisecond)
	})
}

func dialTCPFrom(t testing.TB, addr, from string) net.Conn {
	t.Helper()
	conn, err := (&net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// httpGet sends one keep-alive request on conn and reads its response's status line and
// headers (the body is small and left in the socket).
func httpGet(t testing.TB, conn net.Conn, host, target string) string {
	t.Helper()
	conn.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := conn.Write([]byte("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n")); err != nil {
		return "write: " + err.Error()
	}
	var head []byte
	buf := make([]byte, 1)
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		if _, err := conn.Read(buf); err != nil {
			return string(head) + "read: " + err.Error()
		}
		head = append(head, buf[0])
	}
	return string(head)
}

// isClosed reports whether the server has closed conn (EOF or reset within a short wait).
func isClosed(conn net.Conn) bool {
	conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	var buf [4096]byte
	for {
		_, err := conn.Read(buf[:])
		if err != nil {
			return !os.IsTimeout(err)
		}
	}
}

// The first repro, scaled down: one address opens many idle keep-alive connections
// to the web port. They are held to max_unregistered_per_ip (the oldest idle makes room),
// and other addresses, plain GETs and WebSocket logins still get through.
func TestWebPortKeepAliveFloodIsBounded(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxUnregistered = 20
	cfg.MaxUnregisteredPerIP = 5
	ts, logs := startBudgetServer(t, cfg, 0)
	web := ts.WebAddr().String()
	var flood []net.Conn
	for range 40 {
		c := dialTCPFrom(t, web, "127.0.5.1")
		if r := httpGet(t, c, web, "/nope"); !strings.HasPrefix(r, "HTTP/1.1 404") {
			t.Fatalf("GET /nope: %q", r)
		}
		flood = append(flood, c)
	}
	open := 0
	for _, c := range flood {
		if !isClosed(c) {
			open++
		}
	}
	if open > cfg.MaxUnregisteredPerIP {
		t.Errorf("%d of 40 idle keep-alive connections from one address still open; max_unregistered_per_ip = %d", open, cfg.MaxUnregisteredPerIP)
	}
	if total, unreg := ts.budget.counts(); unreg > cfg.MaxUnregistered || total > cfg.MaxUnregistered {
		t.Errorf("budget: %d connections, %d not logged in", total, unreg)
	}
	if r := httpGet(t, dialTCPFrom(t, web, "127.0.5.2"), web, "/"); !strings.HasPrefix(r, "HTTP/1.1 200") {
		t.Errorf("GET / from another address: %q", r)
	}
	wsGuest(t, web, "browser")
	waitFor(t, func() bool {
		return strings.Contains(logs.String(), "connection budget: connections refused or pushed out")
	})
	if out := logs.String(); !strings.Contains(out, `msg="evicted idle unregistered connection" remote=127.0.5.1 port=web`) {
		t.Errorf("log lacks the first eviction:\n%s", out)
	}
}

// waitFor polls cond until it holds or ioTimeout passes.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within the timeout")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The second repro: silent sockets on the TLS port, from several addresses, fill the
// not-logged-in limit. Once idle they make room for new TLS clients from any address,
// the flooders' own included (everyone behind one NAT).
func TestSilentTLSHandshakesAreEvicted(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxUnregistered = 20
	cfg.MaxUnregisteredPerIP = 5
	cfg.TLSListen = "127.0.0.1:0"
	ts, _ := startBudgetServer(t, cfg, 200*time.Millisecond)
	addr := ts.TLSAddr().String()
	var silent []net.Conn
	for i := range 20 {
		silent = append(silent, dialTCPFrom(t, addr, fmt.Sprintf("127.0.6.%d", 1+i%4)))
	}
	waitFor(t, func() bool { _, unreg := ts.budget.counts(); return unreg == 20 })
	time.Sleep(300 * time.Millisecond) // idle past the grace, as the attack's sockets are
	for i, from := range []string{"127.0.6.9", "127.0.6.1"} {
		raw := dialTCPFrom(t, addr, from)
		conn := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
		conn.SetDeadline(time.Now().Add(ioTimeout))
		if err := conn.Handshake(); err != nil {
			t.Fatalf("TLS from %s while silent sockets fill max_unregistered: %v", from, err)
		}
		c := &ircClient{t: t, name: from, conn: conn, lr: newLineReader(conn, maxLineLen)}
		c.send("NICK n%d", i)
		c.send("USER u 0 * :u")
		c.expect(" 001 ")
		// Full again, and idle again, for the next one.
		silent = append(silent, dialTCPFrom(t, addr, fmt.Sprintf("127.0.6.%d", 20+i)))
		waitFor(t, func() bool { _, unreg := ts.budget.counts(); return unreg == 20 })
		time.Sleep(300 * time.Millisecond)
	}
	closed := 0
	for _, c := range silent {
		if isClosed(c) {
			closed++
		}
	}
	if closed < 2 {
		t.Errorf("%d silent TLS sockets were closed to make room, want at least 2", closed)
	}
}

// A flood from one address, however fresh (nothing idle long enough), fills the total limit
// of connections still logging in: a newcomer from another address gets in all the same,
// and the flooder's next connection is the one refused.
func TestFloodFromOneAddressNeverRefusesAnother(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxUnregistered = 10
	cfg.MaxUnregisteredPerIP = 10
	ts, _ := startBudgetServer(t, cfg, time.Hour)
	for range 10 {
		dialTCPFrom(t, ts.addr, "127.0.9.1")
	}
	waitFor(t, func() bool { _, unreg := ts.budget.counts(); return unreg == 10 })
	c := dialFrom(t, ts.addr, "127.0.9.2", "other")
	c.send("NICK other")
	c.send("USER other 0 * :o")
	c.expect(" 001 other ")
	dialTCPFrom(t, ts.addr, "127.0.9.1") // the place other's login left
	waitFor(t, func() bool { _, unreg := ts.budget.counts(); return unreg == 10 })
	flooder := dialFrom(t, ts.addr, "127.0.9.1", "more")
	if e := flooder.expectClosed(); !strings.Contains(e, "max_unregistered") {
		t.Errorf("the flooder's next connection got %q, want a max_unregistered refusal", e)
	}
	if r := httpGet(t, dialTCPFrom(t, ts.WebAddr().String(), "127.0.9.3"), ts.WebAddr().String(), "/"); !strings.HasPrefix(r, "HTTP/1.1 200") {
		t.Errorf("GET / from a third address: %q", r)
	}
}

// The web port cannot take the last descriptors: with it full (no connection idle), a user
// still logs in on the IRC port.
func TestIRCPortKeepsAReserveWhenTheWebPortIsFull(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxClients = 64 // a reserve of 64/32 = 2 for the IRC port
	ts, _ := startBudgetServer(t, cfg, time.Hour)
	if ts.budget.ircReserve != 2 {
		t.Fatalf("reserve %d, want 2", ts.budget.ircReserve)
	}
	web := ts.WebAddr().String()
	for i := range 62 {
		dialTCPFrom(t, web, fmt.Sprintf("127.0.7.%d", 1+i))
	}
	waitFor(t, func() bool { total, _ := ts.budget.counts(); return total == 62 })
	if e := webRefusal(t, web, "127.0.7.200"); !strings.Contains(e, "503") || !strings.Contains(e, "kept for the IRC port") {
		t.Errorf("web connection past max_clients - reserve: %q, want a 503", e)
	}
	c := dialFrom(t, ts.addr, "127.0.8.1", "user")
	c.send("NICK user")
	c.send("USER user 0 * :u")
	c.expect(" 001 user ")
}
