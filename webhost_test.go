package main

// Issue 17 item 3: the web port answers only to its own names (DNS rebinding).

import (
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestWebPortChecksTheHostHeader(t *testing.T) {
	cfg := testConfig(t)
	cfg.WebHosts = []string{"chat.example.org", "*.lab.example"}
	_, web := startWebServer(t, cfg)
	_, port, _ := net.SplitHostPort(web)
	hostname, _ := os.Hostname()
	get := func(host string, upgrade bool) (int, string) {
		t.Helper()
		c := dialTCPFrom(t, web, "127.0.0.1")
		req := "GET / HTTP/1.1\r\nHost: " + host + "\r\n"
		if upgrade {
			req += "Origin: http://" + host + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		}
		c.Write([]byte(req + "\r\n"))
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		resp := string(buf[:n])
		code := 0
		if f := strings.Fields(resp); len(f) > 1 {
			code = statusCodeOf(f[1])
		}
		return code, resp
	}
	// The attack: a page on evil.example re-pointed at this server, same-origin with itself.
	for _, host := range []string{"evil.example:" + port, "evil.example", "chat.example.org.evil.example:" + port, "10.255.255.1:" + port} {
		code, resp := get(host, true)
		if code != http.StatusForbidden || !strings.Contains(resp, "server.web_hosts") {
			t.Errorf("WebSocket with Host and Origin %s: %d, want 403 naming server.web_hosts:\n%s", host, code, resp)
		}
		if code, _ := get(host, false); code != http.StatusForbidden {
			t.Errorf("GET / with Host %s: %d, want 403", host, code)
		}
	}
	for _, host := range []string{web, "localhost:" + port, "LOCALHOST", "[::1]:" + port, "app.localhost:" + port,
		"chat.example.org:" + port, "a.lab.example", hostname + ":" + port, cfg.Name + ":" + port} {
		if code, resp := get(host, false); code != http.StatusOK {
			t.Errorf("GET / with Host %s: %d, want 200:\n%s", host, code, resp)
		}
	}
	if code, _ := get(web, true); code != http.StatusSwitchingProtocols {
		t.Errorf("WebSocket to %s: %d, want 101", web, code)
	}
	// The machine's own addresses are its names too.
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			if code, _ := get(ipn.IP.String()+":"+port, false); code != http.StatusOK {
				t.Errorf("GET / with Host %s (this PC's address): %d, want 200", ipn.IP, code)
			}
			break
		}
	}
}

func TestWebHostsIsValidated(t *testing.T) {
	for _, bad := range []string{"http://chat.example.org", "chat.example.org:8080", "a b", "[", ""} {
		cfg := testConfig(t)
		cfg.WebHosts = []string{bad}
		if err := validateServerConfig(&cfg); err == nil || !strings.Contains(err.Error(), "web_hosts") {
			t.Errorf("web_hosts %q: %v", bad, err)
		}
	}
	cfg := testConfig(t)
	cfg.WebHosts = []string{"chat.example.org", "10.0.0.5", "*.example.org", "fe80::1"}
	if err := validateServerConfig(&cfg); err != nil {
		t.Error(err)
	}
}

func statusCodeOf(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}
