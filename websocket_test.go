package main

// Tests of the web port: IRC over WebSocket with a real WebSocket client (coder/websocket's
// Dial) on 127.0.0.1, the embedded files and the HTTP limits. The WebSocket test client is an
// ircClient underneath (wsTestConn below), so the transcripts read as the TCP ones.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// testOverWebSocket makes every ircClient of the server tests (dialIRC) speak IRC over
// WebSocket, so that the whole server suite runs on both transports:
//
//	LABCHAT_TEST_TRANSPORT=ws go test .
var testOverWebSocket = os.Getenv("LABCHAT_TEST_TRANSPORT") == "ws"

// webAddrs maps the IRC address of each server startServer started to its web port's.
var webAddrs sync.Map

// tcpOf is the TCP connection under a test client's connection, TCP or WebSocket.
func tcpOf(c net.Conn) *net.TCPConn {
	if w, ok := c.(*wsTestConn); ok {
		c = w.tcp
	}
	return c.(*net.TCPConn)
}

// startWebServer starts a server with its web port on 127.0.0.1:0.
func startWebServer(t testing.TB, cfg ServerConfig) (*testServer, string) {
	t.Helper()
	cfg.WebListen = "127.0.0.1:0"
	ts := startServer(t, cfg, "")
	return ts, ts.WebAddr().String()
}

// wsTestConn is the client end of an IRC-over-WebSocket connection as a net.Conn, so that
// ircClient's helpers work on it: each Write is split into lines sent as one message each
// (without CRLF, as the spec wants), and each message read comes back as a line with CRLF.
// It records the type of every message received. A line that is not UTF-8 goes as a binary
// message, so tests of the server's UTF-8 checks reach the IRC layer as over TCP.
type wsTestConn struct {
	ws      *websocket.Conn
	tcp     net.Conn // the TCP connection under ws
	typ     websocket.MessageType
	pending []byte

	mu       sync.Mutex // guards the fields below
	rd, wd   time.Time
	received []websocket.MessageType
}

// dialWSRaw opens a WebSocket to the web port at addr offering protocols (in order).
func dialWSRaw(t testing.TB, addr string, protocols []string, header http.Header) (*wsTestConn, *http.Response, error) {
	t.Helper()
	var tcp net.Conn
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, a)
			tcp = c
			return c, err
		},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws://"+addr+"/", &websocket.DialOptions{
		HTTPClient: hc, Subprotocols: protocols, HTTPHeader: header,
	})
	if err != nil {
		return nil, resp, err
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	c := &wsTestConn{ws: ws, tcp: tcp, typ: websocket.MessageText}
	if ws.Subprotocol() == subprotocolBinary {
		c.typ = websocket.MessageBinary
	}
	return c, resp, nil
}

// dialWS is dialIRC over WebSocket.
func dialWS(t testing.TB, addr, name string, protocols ...string) *ircClient {
	t.Helper()
	c, _, err := dialWSRaw(t, addr, protocols, nil)
	if err != nil {
		t.Fatalf("%s: websocket dial: %v", name, err)
	}
	return &ircClient{t: t, name: name, conn: c, lr: newLineReader(c, maxLineLen)}
}

// wsGuest is guest over WebSocket.
func wsGuest(t testing.TB, addr, nick string, protocols ...string) *ircClient {
	t.Helper()
	c := dialWS(t, addr, nick, protocols...)
	c.send("NICK %s", nick)
	c.send("USER %s 0 * :%s", nick, nick)
	c.expect(" 001 ")
	c.sync()
	return c
}

func (c *wsTestConn) ctx(deadline time.Time) (context.Context, context.CancelFunc) {
	if deadline.IsZero() {
		return context.WithCancel(context.Background())
	}
	return context.WithDeadline(context.Background(), deadline)
}

func (c *wsTestConn) Read(b []byte) (int, error) {
	if len(c.pending) == 0 {
		c.mu.Lock()
		ctx, cancel := c.ctx(c.rd)
		c.mu.Unlock()
		defer cancel()
		typ, msg, err := c.ws.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != -1 {
				return 0, io.EOF
			}
			return 0, err
		}
		c.mu.Lock()
		c.received = append(c.received, typ)
		c.mu.Unlock()
		if bytes.HasSuffix(msg, []byte("\n")) {
			return 0, fmt.Errorf("server sent a message with a line ending: %q", msg)
		}
		c.pending = append(msg, '\r', '\n')
	}
	n := copy(b, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// Write sends each line of b as one message.
func (c *wsTestConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	ctx, cancel := c.ctx(c.wd)
	c.mu.Unlock()
	defer cancel()
	for line := range bytes.Lines(b) {
		line = bytes.TrimRight(line, "\r\n")
		typ := c.typ
		if typ == websocket.MessageText && !utf8.Valid(line) {
			// A text message must be UTF-8 (the server would fail the connection, 1007); the
			// server takes binary messages in text mode too, as legacy clients send them.
			typ = websocket.MessageBinary
		}
		if err := c.ws.Write(ctx, typ, line); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

func (c *wsTestConn) types() []websocket.MessageType {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]websocket.MessageType(nil), c.received...)
}

func (c *wsTestConn) Close() error         { return c.ws.CloseNow() }
func (c *wsTestConn) LocalAddr() net.Addr  { return c.tcp.LocalAddr() }
func (c *wsTestConn) RemoteAddr() net.Addr { return c.tcp.RemoteAddr() }
func (c *wsTestConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}
func (c *wsTestConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rd = t
	c.mu.Unlock()
	return nil
}
func (c *wsTestConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wd = t
	c.mu.Unlock()
	return nil
}

func TestWebSocketSubprotocolChoice(t *testing.T) {
	_, addr := startWebServer(t, testConfig(t))
	tests := []struct {
		name    string
		offered []string
		want    string
		binary  bool
	}{
		{"text", []string{"text.ircv3.net"}, "text.ircv3.net", false},
		{"binary", []string{"binary.ircv3.net"}, "binary.ircv3.net", true},
		{"binary preferred", []string{"binary.ircv3.net", "text.ircv3.net"}, "binary.ircv3.net", true},
		{"text preferred", []string{"text.ircv3.net", "binary.ircv3.net"}, "text.ircv3.net", false},
		{"unknown first", []string{"x.example", "text.ircv3.net"}, "text.ircv3.net", false},
		{"none (gamja)", nil, "", false},
		{"only unknown", []string{"x.example"}, "", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, resp, err := dialWSRaw(t, addr, tt.offered, nil)
			if err != nil {
				t.Fatalf("dial offering %q: %v", tt.offered, err)
			}
			if got := conn.ws.Subprotocol(); got != tt.want {
				t.Errorf("offering %q negotiated %q, want %q", tt.offered, got, tt.want)
			}
			if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != tt.want {
				t.Errorf("Sec-WebSocket-Protocol: %q, want %q", got, tt.want)
			}
			c := &ircClient{t: t, name: tt.name, conn: conn, lr: newLineReader(conn, maxLineLen)}
			nick := fmt.Sprintf("proto%d", i)
			c.send("NICK %s", nick)
			c.send("USER u 0 * :u")
			c.expect(" 001 " + nick + " ")
			c.sync()
			want := websocket.MessageText
			if tt.binary {
				want = websocket.MessageBinary
			}
			for _, typ := range conn.types() {
				if typ != want {
					t.Fatalf("server sent a %v message, want only %v", typ, want)
				}
			}
		})
	}
}

func TestWebSocketAndTCPUsersChat(t *testing.T) {
	ts, addr := startWebServer(t, testConfig(t))
	alice := guest(t, ts.addr, "alice")
	bob := wsGuest(t, addr, "bob", subprotocolText)
	carol := wsGuest(t, addr, "carol", subprotocolBinary)
	for _, c := range []*ircClient{alice, bob, carol} {
		c.send("JOIN #lab")
		c.expect(" 366 ")
	}
	alice.send("PRIVMSG #lab :hello from tcp")
	bob.expect(`^:alice!\S+ PRIVMSG #lab :hello from tcp$`)
	carol.expect(`^:alice!\S+ PRIVMSG #lab :hello from tcp$`)
	bob.send("PRIVMSG #lab :hello from the browser ✓")
	alice.expect(`^:bob!\S+ PRIVMSG #lab :hello from the browser ✓$`)
	carol.expect(`^:bob!\S+ PRIVMSG #lab :hello from the browser ✓$`)
	bob.send("PRIVMSG alice :a direct one")
	alice.expect(`^:bob!\S+ PRIVMSG alice :a direct one$`)
	alice.send("PRIVMSG bob :and back")
	bob.expect(`^:alice!\S+ PRIVMSG bob :and back$`)
	carol.send("QUIT :bye")
	alice.expect(`^:carol!\S+ QUIT :Quit: bye$|^:carol!\S+ QUIT :bye$`)
}

func TestWebSocketLoginAndHistoryAsTCP(t *testing.T) {
	cfg := loginRequiredConfig(t)
	ts, addr := startWebServer(t, cfg)
	alice := registerAccount(t, ts.addr, "alice", "secret1")
	alice.send("JOIN #lab")
	alice.expect(" 366 ")
	alice.send("PRIVMSG #lab :before bob came")
	alice.sync()

	anon := dialWS(t, addr, "anon", subprotocolText)
	anon.send("NICK anon")
	anon.send("USER anon 0 * :anon")
	for _, l := range anon.sync() {
		if strings.Contains(l, " 001 ") {
			t.Fatalf("require_login: a WebSocket client without an account was welcomed: %q", l)
		}
	}
	bob := dialWS(t, addr, "bob", subprotocolText)
	bob.send("CAP LS 302")
	bob.send("NICK bob")
	bob.send("USER bob 0 * :bob")
	bob.send("REGISTER bob * secret2")
	bob.expect(`REGISTER SUCCESS bob`)
	bob.send("CAP REQ :draft/chathistory batch server-time")
	bob.send("CAP END")
	bob.expect(" 001 bob ")
	bob.send("JOIN #lab")
	bob.expect(" 366 ")
	bob.send("CHATHISTORY LATEST #lab * 10")
	bob.expect(`PRIVMSG #lab :before bob came$`)
}

func TestWebSocketFrameEdgeCases(t *testing.T) {
	_, addr := startWebServer(t, testConfig(t))
	c := wsGuest(t, addr, "edge", subprotocolText)
	conn := c.conn.(*wsTestConn)
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	send := func(msg string) {
		t.Helper()
		if err := conn.ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("write %q: %v", msg, err)
		}
	}
	// A trailing CRLF or LF is tolerated (clients must not send it, some do).
	send("PRIVMSG edge :crlf\r\n")
	c.expect(`PRIVMSG edge :crlf$`)
	send("PRIVMSG edge :lf\n")
	c.expect(`PRIVMSG edge :lf$`)
	// An empty message is an empty line: ignored.
	send("")
	// Two lines in one message are one malformed line, never two commands.
	send("PRIVMSG edge :one\r\nPRIVMSG edge :two")
	c.expect(` 421 edge \* :Malformed line`)
	// A message over the line limit gets 417, and the connection stays usable.
	send("PRIVMSG edge :" + strings.Repeat("x", 600))
	c.expect(` 417 edge `)
	send("PRIVMSG edge :" + strings.Repeat("y", 3*maxLineLen))
	c.expect(` 417 edge `)
	lines := c.sync()
	for _, l := range lines {
		if strings.Contains(l, ":two") {
			t.Errorf("the second line of a two-line message was run: %q", l)
		}
	}
	// A fragmented message (one IRC line in several frames) is one line.
	w, err := conn.ws.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "PRIVMSG edge :frag")
	io.WriteString(w, "mented")
	w.Close()
	c.expect(`PRIVMSG edge :fragmented$`)

	// Invalid UTF-8 in a text message fails the connection with 1007 (RFC 6455 8.1).
	send("PRIVMSG edge :\xff\xfe")
	_, _, err = conn.ws.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusInvalidFramePayloadData {
		t.Errorf("after invalid UTF-8 in a text message: %v (close status %v), want close 1007", err, got)
	}

	// In binary mode any bytes reach the IRC layer, which treats them as over TCP (the
	// server is UTF8ONLY: FAIL INVALID_UTF8) instead of closing the connection.
	b := wsGuest(t, addr, "bin", subprotocolBinary)
	b.send("PING :\xff\xfe")
	b.expect(` FAIL PING INVALID_UTF8 | PONG `)
	b.sync()
}

// TestWebSocketTextModeNeverSendsInvalidUTF8 checks the transport's write side: bytes that
// are not UTF-8 go out as U+FFFD in text mode (browsers would drop the connection) and as
// they are in binary mode.
func TestWebSocketTextModeNeverSendsInvalidUTF8(t *testing.T) {
	for _, binary := range []bool{false, true} {
		t.Run(fmt.Sprint("binary=", binary), func(t *testing.T) {
			hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ws, err := websocket.Accept(w, r, nil)
				if err != nil {
					return
				}
				tr := newWSTransport(ws, binary, r.Context().Value(webConnKey{}).(net.Conn), nil)
				tr.WriteLines([][]byte{[]byte("PRIVMSG bob :\xffok\xe4\r\n"), []byte("PING :x\r\n")})
				tr.Close()
			}))
			hs.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
				return context.WithValue(ctx, webConnKey{}, c)
			}
			hs.Start()
			defer hs.Close()
			ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
			defer cancel()
			ws, _, err := websocket.Dial(ctx, hs.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.CloseNow()
			typ, msg, err := ws.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want, wantType := "PRIVMSG bob :\uFFFDok\uFFFD", websocket.MessageText
			if binary {
				want, wantType = "PRIVMSG bob :\xffok\xe4", websocket.MessageBinary
			}
			if string(msg) != want || typ != wantType {
				t.Errorf("got %v %q, want %v %q", typ, msg, wantType, want)
			}
			if _, msg, err = ws.Read(ctx); err != nil || string(msg) != "PING :x" {
				t.Errorf("second message: %q, %v; want PING :x as a message of its own", msg, err)
			}
		})
	}
}

func TestWebSocketOriginCheck(t *testing.T) {
	cfg := testConfig(t)
	cfg.WebOrigins = []string{"https://chat.example.org", "*.lab.example"}
	_, addr := startWebServer(t, cfg)
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true},                         // not a browser
		{"http://" + addr, true},           // the server's own page
		{"https://chat.example.org", true}, // configured origin
		{"http://pc7.lab.example", true},   // configured host pattern
		{"https://evil.example", false},
		{"http://chat.example.org", false}, // configured for https only
		{"http://127.0.0.1:1", false},      // same host, other port: another site
		{"null", false},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.origin != "" {
			h.Set("Origin", tt.origin)
		}
		c, resp, err := dialWSRaw(t, addr, []string{subprotocolText}, h)
		if tt.ok {
			if err != nil {
				t.Errorf("Origin %q refused: %v", tt.origin, err)
				continue
			}
			c.ws.CloseNow()
			continue
		}
		if err == nil {
			t.Errorf("Origin %q accepted; want 403", tt.origin)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("Origin %q: %v, want HTTP 403", tt.origin, err)
		}
	}
	// The refusal says why, for whoever reads the response in the browser's network tab.
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	for k, v := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": "https://evil.example"} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "web_origins") {
		t.Errorf("foreign origin: %d %q, want 403 naming server.web_origins", resp.StatusCode, body)
	}
}

func TestWebSocketClientLimits(t *testing.T) {
	t.Run("max_clients", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.MaxClients = 2
		ts, addr := startWebServer(t, cfg)
		guest(t, ts.addr, "tcp1")
		wsGuest(t, addr, "ws1")
		if e := webRefusal(t, addr, "127.0.0.1"); !strings.Contains(e, "503") || !strings.Contains(e, "max_clients") {
			t.Errorf("third connection (WebSocket) got %q, want a 503 naming max_clients", e)
		}
		c := dialIRC(t, ts.addr, "tcp2")
		if e := c.expectClosed(); !strings.Contains(e, "max_clients") {
			t.Errorf("third connection (TCP) got %q, want a refusal naming max_clients", e)
		}
	})
	t.Run("max_clients_per_ip counts both transports", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.MaxClientsPerIP = 2
		ts, addr := startWebServer(t, cfg)
		guest(t, ts.addr, "a")
		wsGuest(t, addr, "b")
		if e := webRefusal(t, addr, "127.0.0.1"); !strings.Contains(e, "503") || !strings.Contains(e, "max_clients_per_ip") {
			t.Errorf("third connection got %q, want a 503 naming max_clients_per_ip", e)
		}
	})
	t.Run("flood", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.FloodRate, cfg.FloodBurst, cfg.FloodQueue = 1, 5, 20
		_, addr := startWebServer(t, cfg)
		flooder := wsGuest(t, addr, "flooder")
		var b strings.Builder
		for i := range 500 {
			fmt.Fprintf(&b, "PRIVMSG flooder :flood %d\r\n", i)
		}
		flooder.conn.Write([]byte(b.String())) // 500 messages, one line each
		if e := flooder.expectClosed(); e != "ERROR :Excess Flood" {
			t.Errorf("flooder got %q, want ERROR :Excess Flood", e)
		}
	})
	t.Run("sendq", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.SendQBytes = 64 << 10
		ts, addr := startWebServer(t, cfg)
		stalled := dialWS(t, addr, "stalled")
		stalled.conn.(*wsTestConn).tcp.(*net.TCPConn).SetReadBuffer(4096)
		stalled.send("NICK stalled")
		stalled.send("USER s 0 * :s")
		stalled.send("JOIN #lab")
		stalled.expect(" 366 ")
		watcher := guest(t, ts.addr, "watcher")
		watcher.send("JOIN #lab")
		watcher.expect(" 366 ")
		sender := guest(t, ts.addr, "sender")
		sender.send("JOIN #lab")
		sender.expect(" 366 ")
		// The stalled browser reads nothing more; the watcher reads everything the sender
		// sends, one batch at a time. The room
		// traffic overflows the kernel buffers and then the send queue.
		payload := strings.Repeat("z", 400)
		for i := 0; ; i++ {
			if i > 100000 {
				t.Fatal("the stalled WebSocket session was never dropped")
			}
			var b strings.Builder
			for j := range 50 {
				fmt.Fprintf(&b, "PRIVMSG #lab :%d.%d %s\r\n", i, j, payload)
			}
			sender.send("%s", strings.TrimSuffix(b.String(), "\r\n"))
			if m := watcher.expect(fmt.Sprintf(`^:sender!\S+ PRIVMSG #lab :%d\.49 |^:stalled!\S+ QUIT `, i)); m.Command == "QUIT" {
				if m.Param(0) != "SendQ exceeded" {
					t.Errorf("stalled session quit with %q, want SendQ exceeded", m.Param(0))
				}
				return
			}
		}
	})
}

func TestWebSocketTrustedProxy(t *testing.T) {
	cfg := testConfig(t)
	cfg.WebTrustedProxies = []string{"127.0.0.0/8"}
	cfg.MaxClientsPerIP = 1
	_, addr := startWebServer(t, cfg)
	viaProxy := func(name, xff string) *ircClient {
		h := http.Header{}
		if xff != "" {
			h.Set("X-Forwarded-For", xff)
		}
		conn, _, err := dialWSRaw(t, addr, nil, h)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return &ircClient{t: t, name: name, conn: conn, lr: newLineReader(conn, maxLineLen)}
	}
	a := viaProxy("a", "198.51.100.1, 203.0.113.7") // the proxy appended the real peer last
	a.send("NICK a")
	a.send("USER a 0 * :a")
	a.expect(" 001 ")
	a.send("PRIVMSG a :where am I")
	a.expect(`^:a!\S+@203\.0\.113\.7 PRIVMSG a :where am I$`)
	// Another address behind the same proxy is counted on its own (max_clients_per_ip = 1).
	b := viaProxy("b", "203.0.113.8, 127.0.0.1") // two proxies deep: the trusted hop is skipped
	b.send("NICK b")
	b.send("USER b 0 * :b")
	b.expect(" 001 ")
	b.send("PRIVMSG b :and me")
	b.expect(`^:b!\S+@203\.0\.113\.8 PRIVMSG b :and me$`)
	// The same address again is refused.
	c := viaProxy("c", "203.0.113.7")
	if e := c.expectClosed(); !strings.Contains(e, "max_clients_per_ip") {
		t.Errorf("second connection from 203.0.113.7 got %q, want a max_clients_per_ip refusal", e)
	}

	// From a peer that is not a trusted proxy the header is ignored.
	cfg = testConfig(t)
	cfg.WebTrustedProxies = []string{"10.0.0.1"}
	_, addr = startWebServer(t, cfg)
	h := http.Header{"X-Forwarded-For": {"203.0.113.9"}}
	conn, _, err := dialWSRaw(t, addr, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	d := &ircClient{t: t, name: "d", conn: conn, lr: newLineReader(conn, maxLineLen)}
	d.send("NICK d")
	d.send("USER d 0 * :d")
	d.expect(" 001 ")
	d.send("PRIVMSG d :spoofed?")
	d.expect(`^:d!\S+@127\.0\.0\.1 PRIVMSG d :spoofed\?$`)
}

func TestWebPortServesFilesWithSecurityHeaders(t *testing.T) {
	_, addr := startWebServer(t, testConfig(t))
	get := func(path string, header http.Header) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	index, err := webEmbed.ReadFile("web/index.html")
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get("/", nil)
	if resp.StatusCode != 200 || body != string(index) {
		t.Fatalf("GET /: %d, %d bytes; want 200 and web/index.html (%d bytes)", resp.StatusCode, len(body), len(index))
	}
	for k, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-cache",
		"Content-Type":           "text/html; charset=utf-8",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("Content-Security-Policy %q: want script-src 'self' without inline or eval", csp)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on /")
	}
	resp, _ = get("/", http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET / with If-None-Match: %d, want 304", resp.StatusCode)
	}
	resp, _ = get("/no-such-file.js", nil)
	if resp.StatusCode != 404 || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("missing file: %d (nosniff %q), want 404 with the security headers", resp.StatusCode, resp.Header.Get("X-Content-Type-Options"))
	}
	resp, err = http.Post("http://"+addr+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", resp.StatusCode)
	}
	resp, _ = get("/", http.Header{"X-Big": {strings.Repeat("b", 20<<10)}})
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("20 KiB of headers: %d, want 431", resp.StatusCode)
	}
}

func TestWebPortCutsSlowHeaders(t *testing.T) {
	cfg := testConfig(t)
	cfg.WebHeaderTimeout = Duration{300 * time.Millisecond}
	ts, addr := startWebServer(t, cfg)
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A slowloris: a request line and one header, then nothing more.
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n")
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(ioTimeout))
	_, err = io.Copy(io.Discard, conn)
	if err != nil {
		t.Fatalf("the server did not close a connection stuck in its headers: %v", err)
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("closed after %v, before the header timeout of 300ms", took)
	}
	// The IRC side is unaffected.
	guest(t, ts.addr, "fine")
	// An upgraded connection is not cut by the HTTP timeouts: it lives by the IRC ones.
	c := wsGuest(t, addr, "patient")
	deadline := time.Now().Add(2 * cfg.WebHeaderTimeout.Duration)
	for time.Now().Before(deadline) {
		c.sync()
	}
}

func TestServeCLIPrintsWebURL(t *testing.T) {
	cmd := startServeCLI(t, "serve", "--listen", "127.0.0.1:0", "--web-listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	line := cmd.line(t, "web client on")
	addr := strings.TrimSuffix(line[strings.Index(line, "open http://")+len("open http://"):], "/")
	// The default configuration requires an account: the answer proves IRC over WebSocket.
	c := dialWS(t, addr, "cliuser", subprotocolText)
	c.send("NICK cliuser")
	c.send("USER u 0 * :u")
	c.expect(" FAIL \\* ACCOUNT_REQUIRED ")
	resp, err := http.Get("http://" + addr + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET the printed URL: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestServeCLIWebListenEmptyIsOff(t *testing.T) {
	cmd := startServeCLI(t, "serve", "--listen", "127.0.0.1:0", "--web-listen", "", "--data-dir", t.TempDir())
	cmd.line(t, "listening on")
	cmd.stop(t)
	if out := cmd.output(); strings.Contains(out, "web client") {
		t.Errorf("--web-listen '' still opened the web port:\n%s", out)
	}
}

// serveCLI is `labchat serve` whose stdout and stderr are read as they come.
type serveCLI struct {
	proc   *os.Process
	lines  chan string
	mu     sync.Mutex // guards out and errb
	out    strings.Builder
	errb   bytes.Buffer
	done   chan struct{}
	stopMu sync.Once
}

func startServeCLI(t *testing.T, args ...string) *serveCLI {
	t.Helper()
	cmd := exec.Command(labchatBinary(t), args...)
	cmd.Env = append(os.Environ(), "LABCHAT_CONFIG=", "LABCHAT_DATA=", "LABCHAT_LISTEN=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &serveCLI{lines: make(chan string, 100), done: make(chan struct{})}
	cmd.Stderr = lockedWriter{&s.mu, &s.errb}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.proc = cmd.Process
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			select {
			case s.lines <- sc.Text():
			default:
			}
		}
		cmd.Wait()
	}()
	t.Cleanup(func() { s.stop(t) })
	return s
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

// line waits for a stdout line containing substr.
func (s *serveCLI) line(t *testing.T, substr string) string {
	t.Helper()
	timeout := time.After(ioTimeout)
	for {
		select {
		case l := <-s.lines:
			if strings.Contains(l, substr) {
				return l
			}
		case <-s.done:
			t.Fatalf("serve ended before printing %q; it printed:\n%s", substr, s.output())
		case <-timeout:
			t.Fatalf("serve did not print %q; it printed:\n%s", substr, s.output())
		}
	}
}

// output is what serve printed so far, stdout then stderr.
func (s *serveCLI) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String() + s.errb.String()
}

func (s *serveCLI) stop(t *testing.T) {
	s.stopMu.Do(func() {
		s.proc.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(ioTimeout):
			s.proc.Kill()
			<-s.done
			t.Errorf("serve did not stop on SIGINT")
		}
	})
}

func TestTraceShowsWebSocketDecodedAndRedacted(t *testing.T) {
	const secret = "ws-S3cret-pw"
	conf := filepath.Join(t.TempDir(), "fast.toml")
	if err := os.WriteFile(conf, []byte("[server]\nbcrypt_cost = 4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServeCLI(t, "serve", "--trace", "--config", conf, "--listen", "127.0.0.1:0", "--web-listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	line := srv.line(t, "web client on")
	addr := strings.TrimSuffix(line[strings.Index(line, "open http://")+len("open http://"):], "/")
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c := dialWS(t, addr, "alice", subprotocolText)
	c.send("NICK alice")
	c.send("REGISTER alice * %s", secret)
	c.expect("REGISTER SUCCESS alice")
	c.send("QUIT :done")
	c.expectClosed()
	want := []string{
		`http request 127.0.0.1:` + strings.Split(addr, ":")[1] + ` <- 127.0.0.1:`,
		`GET "/" -> 200 OK`,
		`ws open 127.0.0.1:`,
		`subprotocol text.ircv3.net: text messages`,
		`(WebSocket frames)`,
		`ws read 127.0.0.1:`,
		`text frame (masked, 16 bytes on the wire): 10 bytes "NICK alice\n"`,
		`"REGISTER alice * ***\n"`,
		`ws write 127.0.0.1:`,
		`ws close 127.0.0.1:`,
	}
	deadline := time.Now().Add(ioTimeout)
	for {
		out := srv.output()
		missing := ""
		for _, w := range want {
			if !strings.Contains(out, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			if strings.Contains(out, secret) {
				t.Errorf("the trace shows the password:\n%s", out)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace has no %q:\n%s", missing, out)
		}
		time.Sleep(20 * time.Millisecond) // stderr arrives on its own schedule: poll with a deadline
	}
}

func TestWebAndTLSConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(*ServerConfig)
		want  string
	}{
		{"web_listen", func(c *ServerConfig) { c.WebListen = "8080" }, "server.web_listen"},
		{"web_origins path", func(c *ServerConfig) { c.WebOrigins = []string{"https://a.example/chat"} }, "server.web_origins"},
		{"web_origins pattern", func(c *ServerConfig) { c.WebOrigins = []string{"[a-"} }, "server.web_origins"},
		{"web_trusted_proxies", func(c *ServerConfig) { c.WebTrustedProxies = []string{"10.0.0.0/33"} }, "server.web_trusted_proxies"},
		{"web_header_timeout", func(c *ServerConfig) { c.WebListen = ":0"; c.WebHeaderTimeout = Duration{} }, "server.web_header_timeout"},
		{"tls_listen", func(c *ServerConfig) { c.TLSListen = "localhost" }, "server.tls_listen"},
	} {
		cfg := testConfig(t)
		tc.tweak(&cfg)
		_, err := NewServer(cfg, t.TempDir(), testLogger())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	res := runCLI(t, ioTimeout, "", nil, "serve", "--listen", "127.0.0.1:0", "--web-listen", "nowhere", "--data-dir", t.TempDir())
	if res.code != exitUsage || !strings.Contains(res.stderr, "web_listen") {
		t.Errorf("serve --web-listen nowhere: exit %d, stderr %q; want a usage error naming web_listen", res.code, res.stderr)
	}
}
