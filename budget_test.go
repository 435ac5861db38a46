package main

// Issue 17 item 1: one connection budget on every listener.

import (
	"io"
	"net"
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
