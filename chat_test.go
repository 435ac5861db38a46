package main

// Server tests over raw IRC sockets on 127.0.0.1. They read like transcripts: send a line,
// expect a line matching a pattern, within a deadline. They synchronise through the protocol
// (PING/PONG), never through sleeps.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const ioTimeout = 10 * time.Second

// testConfig is the built-in configuration made fast for tests: cheapest hash, no flood
// control, guests allowed unless a test says otherwise.
func testConfig(t testing.TB) ServerConfig {
	t.Helper()
	var cfg Config
	if err := decodeConfig(&cfg, defaultConfigTOML, "(built-in)"); err != nil {
		t.Fatal(err)
	}
	sc := cfg.Server
	sc.Listen = "127.0.0.1:0"
	sc.BcryptCost = 4
	sc.RequireLogin = false
	sc.FloodRate = 0
	sc.MaxClientsPerIP = 10000
	sc.MaxClients = 10000
	sc.MaxUnregistered = 10000
	sc.MaxUnregisteredPerIP = 10000
	sc.DefaultRoom = "" // tests that want the lobby set it
	sc.WebListen = ""   // tests that want the web port set it
	sc.TLSListen = ""   // and the TLS port
	return sc
}

type testServer struct {
	*Server
	addr     string
	dir      string
	done     chan error
	stopOnce sync.Once
}

// startServer runs a server on 127.0.0.1:0 with a fresh data dir (or dir, if not empty).
func startServer(t testing.TB, cfg ServerConfig, dir string) *testServer {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if testOverWebSocket && cfg.WebListen == "" {
		cfg.WebListen = "127.0.0.1:0" // for dialIRC over WebSocket (websocket_test.go)
	}
	srv, err := NewServer(cfg, dir, log)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	if a := srv.WebAddr(); a != nil {
		webAddrs.Store(srv.Addr().String(), a.String())
	}
	ts := &testServer{Server: srv, addr: srv.Addr().String(), dir: dir, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve() }()
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

func (ts *testServer) stop(t testing.TB) {
	ts.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		if err := ts.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-ts.done; err != nil && !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
}

// ircClient is a raw IRC connection with transcript-style helpers.
type ircClient struct {
	t    testing.TB
	name string
	conn net.Conn
	lr   *lineReader
	ping int
}

func dialIRC(t testing.TB, addr, name string) *ircClient {
	t.Helper()
	if web, ok := webAddrs.Load(addr); ok && testOverWebSocket {
		return dialWS(t, web.(string), name)
	}
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("%s: dial: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &ircClient{t: t, name: name, conn: conn, lr: newLineReader(conn, maxLineLen)}
}

func (c *ircClient) send(format string, args ...any) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := fmt.Fprintf(c.conn, format+"\r\n", args...); err != nil {
		c.t.Fatalf("%s: send: %v", c.name, err)
	}
}

// readLine returns the next line, or an error at the deadline or on close.
func (c *ircClient) readLine() (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	line, err := c.lr.ReadLine()
	return string(line), err
}

// expect reads until a line matches pattern and returns it parsed; other lines are skipped.
func (c *ircClient) expect(pattern string) Message {
	c.t.Helper()
	re := regexp.MustCompile(pattern)
	var seen []string
	for {
		line, err := c.readLine()
		if err != nil {
			c.t.Fatalf("%s: waiting for %q: %v; saw:\n%s", c.name, pattern, err, strings.Join(seen, "\n"))
		}
		if re.MatchString(line) {
			m, err := ParseMessage(line)
			if err != nil {
				c.t.Fatalf("%s: unparsable line %q: %v", c.name, line, err)
			}
			return m
		}
		seen = append(seen, line)
	}
}

// sync sends PING and returns every line that arrived before its PONG: since the server
// handles a client's lines in order, anything caused by earlier lines has been sent by then.
func (c *ircClient) sync() []string {
	c.t.Helper()
	c.ping++
	token := fmt.Sprintf("sync%d", c.ping)
	c.send("PING %s", token)
	var lines []string
	for {
		line, err := c.readLine()
		if err != nil {
			c.t.Fatalf("%s: waiting for PONG %s: %v; saw:\n%s", c.name, token, err, strings.Join(lines, "\n"))
		}
		if strings.Contains(line, " PONG ") && strings.HasSuffix(line, token) {
			return lines
		}
		lines = append(lines, line)
	}
}

// expectClosed reads until the server closes the connection and returns the ERROR line.
func (c *ircClient) expectClosed() string {
	c.t.Helper()
	var errorLine string
	for {
		line, err := c.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isConnReset(err) {
				return errorLine
			}
			c.t.Fatalf("%s: waiting for close: %v", c.name, err)
		}
		if strings.HasPrefix(line, "ERROR ") {
			errorLine = line
		}
	}
}

func isConnReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && !oe.Timeout()
}

// guest registers without an account (the server must allow guests).
func guest(t testing.TB, addr, nick string) *ircClient {
	t.Helper()
	c := dialIRC(t, addr, nick)
	c.send("NICK %s", nick)
	c.send("USER %s 0 * :%s", nick, nick)
	c.expect(" 001 ")
	c.sync()
	return c
}

// registerAccount creates an account with REGISTER before connecting and stays connected.
func registerAccount(t testing.TB, addr, nick, password string) *ircClient {
	t.Helper()
	c := dialIRC(t, addr, nick)
	c.send("CAP LS 302")
	c.send("NICK %s", nick)
	c.send("USER %s 0 * :%s", nick, nick)
	c.send("REGISTER * * %s", password)
	c.expect("REGISTER SUCCESS " + nick)
	c.send("CAP END")
	c.expect(" 001 ")
	c.sync()
	return c
}

// saslLogin logs in with SASL PLAIN and returns the connection right after the welcome, so
// the lines that follow it (the previous-login notice) are still to be read.
func saslLogin(t testing.TB, addr, nick, password string) *ircClient {
	t.Helper()
	return welcomed(t, addr, nick, password, "")
}

// welcomed connects with the given caps (and SASL when password is not empty) and returns
// the client right after 001.
func welcomed(t testing.TB, addr, nick, password, caps string) *ircClient {
	t.Helper()
	c := dialIRC(t, addr, nick)
	c.send("CAP LS 302")
	c.send("NICK %s", nick)
	c.send("USER %s 0 * :%s", nick, nick)
	if password != "" {
		caps += " sasl"
	}
	if caps = strings.TrimSpace(caps); caps != "" {
		c.send("CAP REQ :%s", caps)
		c.expect("CAP \\S+ ACK")
	}
	if password != "" {
		c.send("AUTHENTICATE PLAIN")
		c.expect("^AUTHENTICATE \\+")
		c.send("AUTHENTICATE %s", base64.StdEncoding.EncodeToString([]byte(nick+"\x00"+nick+"\x00"+password)))
		c.expect(" 903 ")
	}
	c.send("CAP END")
	c.expect(" 001 ")
	return c
}

func loginRequiredConfig(t testing.TB) ServerConfig {
	cfg := testConfig(t)
	cfg.RequireLogin = true
	return cfg
}

func TestRegisterThenLogin(t *testing.T) {
	ts := startServer(t, loginRequiredConfig(t), "")
	a := registerAccount(t, ts.addr, "alice", "s3cret-pw")
	a.send("QUIT :bye")
	a.expectClosed()

	b := saslLogin(t, ts.addr, "alice", "s3cret-pw")
	b.expect(`NOTICE alice :Previous login: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ from 127\.0\.0\.1`)

	// PASS account:password, for clients without SASL.
	b.send("QUIT")
	b.expectClosed()
	c := dialIRC(t, ts.addr, "alice-pass")
	c.send("PASS alice:s3cret-pw")
	c.send("NICK alice")
	c.send("USER alice 0 * :Alice")
	c.expect(" 001 alice ")
	c.send("WHOIS alice")
	c.expect(" 330 alice alice alice ")
}

func TestLoginErrorsAreClear(t *testing.T) {
	ts := startServer(t, loginRequiredConfig(t), "")
	registerAccount(t, ts.addr, "alice", "s3cret-pw")

	c := dialIRC(t, ts.addr, "wrong")
	c.send("CAP REQ :sasl")
	c.send("NICK alice2")
	c.send("USER a 0 * :a")
	c.send("AUTHENTICATE PLAIN")
	c.expect("^AUTHENTICATE \\+")
	c.send("AUTHENTICATE %s", base64.StdEncoding.EncodeToString([]byte("\x00alice\x00nope")))
	c.expect(" 904 .*wrong password for account alice")
	c.send("AUTHENTICATE PLAIN")
	c.expect("^AUTHENTICATE \\+")
	c.send("AUTHENTICATE %s", base64.StdEncoding.EncodeToString([]byte("\x00mallory\x00nope")))
	c.expect(" 904 .*no account named mallory")

	p := dialIRC(t, ts.addr, "pass")
	p.send("PASS alice:wrong")
	p.send("NICK alice")
	p.send("USER alice 0 * :Alice")
	p.expect(" 464 .*wrong password for account alice")
	if e := p.expectClosed(); !strings.Contains(e, "Login failed") {
		t.Errorf("ERROR line = %q, want the login failure", e)
	}
}

func TestLoginRequiredBeforeWelcome(t *testing.T) {
	cfg := loginRequiredConfig(t)
	cfg.RegistrationTimeout = Duration{500 * time.Millisecond}
	ts := startServer(t, cfg, "")
	c := dialIRC(t, ts.addr, "nologin")
	c.send("NICK bob")
	c.send("USER bob 0 * :Bob")
	c.expect("FAIL \\* ACCOUNT_REQUIRED")
	c.send("JOIN #lab")
	c.expect(" 451 ")
	lines := c.sync()
	for _, l := range lines {
		if strings.Contains(l, " 001 ") {
			t.Fatalf("welcome without login: %q", l)
		}
	}
	if e := c.expectClosed(); !strings.Contains(e, "requires login") {
		t.Errorf("ERROR line = %q, want a registration timeout naming the login", e)
	}
}

func TestRegistrationErrors(t *testing.T) {
	ts := startServer(t, loginRequiredConfig(t), "")
	registerAccount(t, ts.addr, "alice", "s3cret-pw")
	cases := []struct{ nick, cmd, want string }{
		{"alice", "REGISTER * * another-pw", "FAIL REGISTER ACCOUNT_EXISTS alice"},
		{"bob", "REGISTER carol * another-pw", "FAIL REGISTER ACCOUNT_NAME_MUST_BE_NICK carol"},
		{"bill", "REGISTER * * abc", "FAIL REGISTER UNACCEPTABLE_PASSWORD bill"},
		{"b[o]b", "REGISTER * * long-enough", "FAIL REGISTER BAD_ACCOUNT_NAME"},
	}
	for _, tc := range cases {
		t.Run(tc.cmd, func(t *testing.T) {
			c := dialIRC(t, ts.addr, tc.nick)
			c.send("NICK %s", tc.nick)
			c.send("%s", tc.cmd)
			c.expect(regexp.QuoteMeta(tc.want))
		})
	}
	t.Run("closed", func(t *testing.T) {
		cfg := loginRequiredConfig(t)
		cfg.Registration = false
		ts := startServer(t, cfg, "")
		c := dialIRC(t, ts.addr, "x")
		c.send("NICK dave")
		c.send("REGISTER * * long-enough")
		c.expect("FAIL REGISTER TEMPORARILY_UNAVAILABLE dave .*disabled")
	})
}

func TestRegisteredNickIsProtected(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	registerAccount(t, ts.addr, "alice", "s3cret-pw").send("QUIT")

	g := dialIRC(t, ts.addr, "guest")
	g.send("NICK alice")
	g.send("USER x 0 * :x")
	g.expect(" 433 \\* alice .*registered")
	g.send("NICK notalice")
	g.expect(" 001 notalice ")
	g.send("NICK alice")
	g.expect(" 433 notalice alice .*registered")
}

func TestNickCollision(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	guest(t, ts.addr, "carol")
	c := dialIRC(t, ts.addr, "second")
	c.send("NICK Carol") // CASEMAPPING=ascii: the same nick
	c.expect(" 433 \\* Carol ")
}

func TestDirectMessages(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	alice := guest(t, ts.addr, "alice")
	bob := guest(t, ts.addr, "bob")
	alice.send("PRIVMSG bob :hello there, bob")
	bob.expect(`^:alice!~alice@127\.0\.0\.1 PRIVMSG bob :hello there, bob$`)
	alice.send("NOTICE BOB :a notice")
	bob.expect(`^:alice!\S+ NOTICE bob :a notice$`)

	alice.send("PRIVMSG nobody :hi")
	alice.expect(" 401 alice nobody ")
	alice.send("PRIVMSG")
	alice.expect(" 411 alice ")
	alice.send("PRIVMSG bob")
	alice.expect(" 412 alice ")
	alice.send("NOTICE nobody :notices never get error replies")
	for _, l := range alice.sync() {
		t.Errorf("unexpected reply to a NOTICE: %q", l)
	}
}

func TestEchoMessageAndServerTime(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	bob := guest(t, ts.addr, "bob")
	a := dialIRC(t, ts.addr, "alice")
	a.send("CAP LS 302")
	a.send("NICK alice")
	a.send("USER alice 0 * :alice")
	a.send("CAP REQ :echo-message server-time")
	a.expect("ACK")
	a.send("CAP END")
	a.expect(" 001 ")
	a.send("PRIVMSG bob :echoed")
	a.expect(`^@time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z :alice!\S+ PRIVMSG bob :echoed$`)
	bob.expect(`^:alice!\S+ PRIVMSG bob :echoed$`) // bob asked for no tags and gets none
}

func TestRoomRelayToManyMembers(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	const members = 30
	clients := make([]*ircClient, members)
	for i := range clients {
		clients[i] = guest(t, ts.addr, fmt.Sprintf("m%d", i))
		clients[i].send("JOIN #lab")
		clients[i].expect(" 366 ")
	}
	clients[0].send("PRIVMSG #lab :hello everyone")
	for _, c := range clients[1:] {
		c.expect(`^:m0!\S+ PRIVMSG #lab :hello everyone$`)
	}
	for _, l := range clients[0].sync() {
		if strings.Contains(l, "hello everyone") {
			t.Errorf("sender without echo-message got its own message: %q", l)
		}
	}
	outsider := guest(t, ts.addr, "outsider")
	outsider.send("PRIVMSG #lab :let me in")
	outsider.expect(" 404 outsider #lab ")
}

func TestRoomMembershipEventsSeenByOthers(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	bob := guest(t, ts.addr, "bob")
	bob.send("JOIN #lab")
	bob.expect(" 366 ")
	alice := guest(t, ts.addr, "alice")
	alice.send("JOIN #Lab")
	alice.expect(` 353 alice = #lab :?(@bob alice|alice @bob)$`)
	bob.expect(`^:alice!\S+ JOIN #lab$`)
	alice.send("PART #lab :gone for lunch")
	bob.expect(`^:alice!\S+ PART #lab :gone for lunch$`)
	alice.send("JOIN #lab")
	bob.expect(`^:alice!\S+ JOIN #lab$`)
	alice.send("QUIT :see you")
	bob.expect(`^:alice!\S+ QUIT :Quit: see you$`)
}

func TestTopicKickAndOps(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	op := guest(t, ts.addr, "op")
	op.send("JOIN #lab")
	op.expect(` 353 op = #lab :?@op$`)
	user := guest(t, ts.addr, "user")
	user.send("JOIN #lab")
	user.expect(" 366 ")
	user.send("TOPIC #lab :mine now")
	user.expect(" 482 user #lab ")
	op.send("TOPIC #lab :Lab 3: sockets")
	user.expect(`^:op!\S+ TOPIC #lab :Lab 3: sockets$`)
	user.send("TOPIC #lab")
	user.expect(" 332 user #lab :Lab 3: sockets")
	user.send("KICK #lab op")
	user.expect(" 482 user #lab ")
	op.send("KICK #lab user :quiet please")
	user.expect(`^:op!\S+ KICK #lab user :quiet please$`)
	user.send("PRIVMSG #lab :still here?")
	user.expect(" 404 user #lab ")
	op.send("LIST")
	op.expect(" 322 op #lab 1 :Lab 3: sockets")
	op.expect(" 323 ")
}

func TestLineLimitsAndUnknownCommands(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	c := guest(t, ts.addr, "alice")
	c.send("PRIVMSG alice :%s", strings.Repeat("x", 600))
	c.expect(" 417 alice ")
	c.send("PRIVMSG alice :%s", strings.Repeat("y", 20000)) // beyond even the tag allowance
	c.expect(" 417 alice ")
	c.send("FROBNICATE now")
	c.expect(" 421 alice FROBNICATE ")
	c.send("PRIVMSG alice :still alive")
	c.expect("PRIVMSG alice :still alive")
}

func TestFloodIsSlowed(t *testing.T) {
	cfg := testConfig(t)
	cfg.FloodRate, cfg.FloodBurst, cfg.FloodQueue = 20, 5, 100
	ts := startServer(t, cfg, "")
	bob := guest(t, ts.addr, "bob")
	paster := guest(t, ts.addr, "paster")
	const lines = 30
	var b strings.Builder
	for i := range lines {
		fmt.Fprintf(&b, "PRIVMSG bob :paste %d\r\n", i)
	}
	start := time.Now()
	paster.conn.Write([]byte(b.String()))
	for i := range lines {
		bob.expect(fmt.Sprintf("PRIVMSG bob :paste %d$", i))
	}
	// 30 lines with a burst of 5 at 20 a second cannot all pass before (30-5)/20 s: a lower
	// bound, so a slow machine cannot make this fail.
	if elapsed, floor := time.Since(start), (lines-5)*time.Second/20; elapsed < floor {
		t.Errorf("a %d-line paste took %v; flood control should have spread it over at least %v", lines, elapsed, floor)
	}
}

func TestFloodPastTheQueueIsDropped(t *testing.T) {
	cfg := testConfig(t)
	cfg.FloodRate, cfg.FloodBurst, cfg.FloodQueue = 1, 5, 20
	ts := startServer(t, cfg, "")
	bob := guest(t, ts.addr, "bob")
	flooder := guest(t, ts.addr, "flooder")
	for _, c := range []*ircClient{bob, flooder} {
		c.send("JOIN #lab") // so bob sees the flooder's QUIT
		c.expect(" 366 ")
	}
	var b strings.Builder
	for i := range 500 {
		fmt.Fprintf(&b, "PRIVMSG bob :flood %d\r\n", i)
	}
	flooder.conn.Write([]byte(b.String()))
	if e := flooder.expectClosed(); e != "ERROR :Excess Flood" {
		t.Errorf("flooder got %q, want ERROR :Excess Flood", e)
	}
	bob.expect(`^:flooder!\S+ QUIT :Excess Flood$`)
	got := 0
	for _, l := range bob.sync() {
		if strings.Contains(l, ":flood ") {
			got++
		}
	}
	if got > 20 {
		t.Errorf("bob got %d flood lines after the flooder quit; want none", got)
	}
}

func TestStalledReaderDoesNotDelayOthers(t *testing.T) {
	cfg := testConfig(t)
	cfg.SendQBytes = 64 << 10
	ts := startServer(t, cfg, "")
	stalled := guest(t, ts.addr, "stalled")
	tcpOf(stalled.conn).SetReadBuffer(4096)
	stalled.send("JOIN #lab")
	stalled.expect(" 366 ")
	reader := guest(t, ts.addr, "reader")
	reader.send("JOIN #lab")
	reader.expect(" 366 ")
	sender := guest(t, ts.addr, "sender")
	sender.send("JOIN #lab")
	sender.expect(" 366 ")

	// The stalled client stops reading. 12 MB through the room overflow the kernel buffers
	// (the server's send buffer autotunes up to 4 MB)
	// and its send queue, while the reader must get every message. The sender keeps at most
	// one batch ahead of the reader, as a reading client would in life; with flood control
	// off nothing else paces it.
	const n, batch = 30000, 40
	payload := strings.Repeat("z", 400)
	received := make(chan int, n/batch+1)
	go func() {
		for i := 0; i < n; i += batch {
			var b strings.Builder
			for j := i; j < i+batch; j++ {
				fmt.Fprintf(&b, "PRIVMSG #lab :%d %s\r\n", j, payload)
			}
			// A fresh deadline per batch: the one JOIN set would expire mid-stream on a
			// loaded machine, and the lost batch would leave the reader waiting.
			sender.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
			if _, err := sender.conn.Write([]byte(b.String())); err != nil {
				t.Errorf("sender: write batch at %d: %v", i, err)
				return
			}
			if i >= batch {
				<-received
			}
		}
	}()
	stalledQuit := false
	for i := 0; i < n; {
		m := reader.expect(` PRIVMSG #lab :| QUIT `)
		if m.Command == "QUIT" {
			stalledQuit = stalledQuit || strings.HasPrefix(m.Source, "stalled!") && m.Param(0) == "SendQ exceeded"
			continue
		}
		if want := fmt.Sprintf("%d %s", i, payload); m.Param(1) != want {
			t.Fatalf("message %d out of order or mangled: %.20q", i, m.Param(1))
		}
		i++
		if i%batch == 0 {
			received <- i
		}
	}
	if !stalledQuit {
		reader.expect(`^:stalled!\S+ QUIT :SendQ exceeded$`)
	}
}

func TestRestartKeepsAccountsAndLockRefusesSecondServer(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, loginRequiredConfig(t), dir)
	registerAccount(t, ts.addr, "alice", "s3cret-pw")

	_, err := NewServer(loginRequiredConfig(t), dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second server on the same dir: err = %v, want ErrLocked", err)
	}
	ts.stop(t)

	info, err := os.Stat(filepath.Join(dir, "users", "alice.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("account file mode %v, want 0600", perm)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "users", "alice.toml"))
	if strings.Contains(string(data), "s3cret-pw") {
		t.Error("account file holds the plain password")
	}

	ts2 := startServer(t, loginRequiredConfig(t), dir)
	saslLogin(t, ts2.addr, "alice", "s3cret-pw")
}

func TestShutdownTellsClients(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	c := guest(t, ts.addr, "alice")
	go ts.Shutdown(context.Background())
	if e := c.expectClosed(); e != "ERROR :Server shutting down" {
		t.Errorf("got %q, want ERROR :Server shutting down", e)
	}
}

func TestClientLimitsPerAddress(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxClientsPerIP = 2
	ts := startServer(t, cfg, "")
	guest(t, ts.addr, "a")
	guest(t, ts.addr, "b")
	c := dialIRC(t, ts.addr, "c")
	if e := c.expectClosed(); !strings.Contains(e, "max_clients_per_ip") {
		t.Errorf("third connection got %q, want a refusal naming max_clients_per_ip", e)
	}
}

func TestPingTimeout(t *testing.T) {
	cfg := testConfig(t)
	cfg.PingInterval = Duration{200 * time.Millisecond}
	cfg.PingTimeout = Duration{200 * time.Millisecond}
	ts := startServer(t, cfg, "")
	c := guest(t, ts.addr, "sleepy")
	c.expect("^PING ")
	if e := c.expectClosed(); !strings.Contains(e, "Ping timeout") {
		t.Errorf("got %q, want a ping timeout", e)
	}
}

func TestServeCLIConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[server]\nlisten = \"127.0.0.1:0\"\nlisten_addr = \"x\"\n"), 0o600)
	res := runCLI(t, ioTimeout, "", nil, "serve", "--config", bad, "--data-dir", dir)
	if res.code != exitUsage || !strings.Contains(res.stderr, "line 3: unknown key server.listen_addr") {
		t.Errorf("typo: exit %d, stderr %q; want exit 2 naming line 3 and server.listen_addr", res.code, res.stderr)
	}
	os.WriteFile(bad, []byte("[server]\nbcrypt_cost = \"high\"\n"), 0o600)
	res = runCLI(t, ioTimeout, "", nil, "serve", "--config", bad, "--data-dir", dir)
	if res.code != exitUsage || !strings.Contains(res.stderr, "line 2") || !strings.Contains(res.stderr, "bcrypt_cost") {
		t.Errorf("type error: exit %d, stderr %q; want exit 2 naming line 2 and bcrypt_cost", res.code, res.stderr)
	}
	res = runCLI(t, ioTimeout, "", nil, "serve", "--no-such-flag")
	if res.code != exitUsage {
		t.Errorf("unknown flag: exit %d, want %d", res.code, exitUsage)
	}
	res = runCLI(t, ioTimeout, "", nil, "serve", "--data-dir", dir, "--listen", "127.0.0.1:99999")
	if res.code != exitUsage || !strings.Contains(res.stderr, "port \"99999\"") {
		t.Errorf("bad --listen: exit %d, stderr %q; want exit 2 naming the port", res.code, res.stderr)
	}
	res = runCLI(t, ioTimeout, "", nil, "srve")
	if res.code != exitUsage || !strings.Contains(res.stderr, `unknown command "srve"`) {
		t.Errorf("unknown command: exit %d, stderr %q; want exit 2 naming it", res.code, res.stderr)
	}
}

func TestServeCLIRunsAndStopsOnSignal(t *testing.T) {
	dir := t.TempDir()
	srv := startBinaryServer(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--config", cheapHashConfig(t))
	if want := filepath.Join(dir, "server"); srv.dataDir != want {
		t.Errorf("serve says data in %q, want %q", srv.dataDir, want)
	}
	// The built-in config requires login.
	c := dialIRC(t, srv.addr, "cli")
	c.send("NICK alice")
	c.send("USER alice 0 * :Alice")
	c.expect("FAIL \\* ACCOUNT_REQUIRED")
	c.send("REGISTER * * s3cret-pw")
	c.expect("REGISTER SUCCESS alice")
	c.expect(" 001 alice ")
	if code := srv.stop(); code != 0 {
		t.Errorf("serve exited %d after SIGTERM, want 0", code)
	}
	if e := c.expectClosed(); e != "ERROR :Server shutting down" {
		t.Errorf("client got %q, want ERROR :Server shutting down", e)
	}
}

// cheapHashConfig is a config file that differs from the built-in one only in the hash
// cost: the default cost, in a -race binary on a loaded machine, can outlast a test's read
// deadline.
func cheapHashConfig(t testing.TB) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "cheap-hash.toml")
	if err := os.WriteFile(conf, []byte("[server]\nbcrypt_cost = 4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// binaryServer is `labchat serve` running as a process.
type binaryServer struct {
	addr, dataDir string
	stop          func() int // SIGTERM, wait, exit code
	proc          *os.Process
}

var listenLine = regexp.MustCompile(`listening on (\S+) \(IRC\), data in (\S+)`)

// startBinaryServer runs the real binary with args and waits for the line announcing its
// address. The process is stopped at cleanup if the test did not stop it.
func startBinaryServer(t testing.TB, args ...string) *binaryServer {
	t.Helper()
	cmd := exec.Command(labchatBinary(t), args...)
	cmd.Env = append(os.Environ(), "LABCHAT_CONFIG=", "LABCHAT_DATA=", "LABCHAT_LISTEN=", "LABCHAT_WEB_LISTEN=", "LABCHAT_TLS_LISTEN=") // no fixed :8080 or :6697 per test server
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	code := -1
	stop := func() int {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			timer := time.AfterFunc(ioTimeout, func() { cmd.Process.Kill() })
			defer timer.Stop()
			cmd.Wait()
			code = cmd.ProcessState.ExitCode()
		})
		return code
	}
	t.Cleanup(func() { stop() })
	lines := make(chan string, 1)
	go func() {
		r := newLineReader(stdout, 4096)
		line, _ := r.ReadLine()
		lines <- string(line)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-lines:
		m := listenLine.FindStringSubmatch(line)
		if m == nil {
			stop()
			t.Fatalf("serve printed %q, want its address; stderr: %s", line, stderr.String())
		}
		return &binaryServer{addr: m[1], dataDir: m[2], stop: stop, proc: cmd.Process}
	case <-time.After(ioTimeout):
		stop()
		t.Fatalf("serve did not announce its address; stderr: %s", stderr.String())
	}
	return nil
}

func TestFailedLoginsAreThrottledPerAddress(t *testing.T) {
	cfg := loginRequiredConfig(t)
	cfg.LoginFailuresPerMinute = 2
	ts := startServer(t, cfg, "")
	registerAccount(t, ts.addr, "alice", "s3cret-pw")
	c := dialIRC(t, ts.addr, "guesser")
	c.send("CAP REQ :sasl")
	c.send("NICK guesser")
	c.send("USER g 0 * :g")
	try := func(pw string) {
		c.send("AUTHENTICATE PLAIN")
		c.expect("^AUTHENTICATE \\+")
		c.send("AUTHENTICATE %s", base64.StdEncoding.EncodeToString([]byte("\x00alice\x00"+pw)))
	}
	try("guess1")
	c.expect(" 904 .*wrong password")
	try("guess2")
	c.expect(" 904 .*wrong password")
	try("s3cret-pw") // even the right password waits out the window
	c.expect(" 904 .*too many failed logins for this account from your address: try again in \\d+s")
}

func TestServerPassword(t *testing.T) {
	cfg := loginRequiredConfig(t)
	cfg.Password = "lab-room-7"
	ts := startServer(t, cfg, "")
	bad := dialIRC(t, ts.addr, "bad")
	bad.send("PASS wrong")
	bad.send("NICK bob")
	bad.send("USER bob 0 * :Bob")
	bad.expect(" 464 ")
	if e := bad.expectClosed(); !strings.Contains(e, "server password") {
		t.Errorf("got %q, want an ERROR about the server password", e)
	}
	good := dialIRC(t, ts.addr, "good")
	good.send("PASS lab-room-7")
	good.send("NICK bob")
	good.send("USER bob 0 * :Bob")
	good.send("REGISTER * * bobs-password")
	good.expect("REGISTER SUCCESS bob")
	good.expect(" 001 bob ")
}

func TestCommonFlagsBeforeOrAfterSubcommand(t *testing.T) {
	before, after := t.TempDir(), t.TempDir()
	for _, args := range [][]string{
		{"--data-dir", before, "serve", "--listen", "127.0.0.1:0"},
		{"serve", "--listen", "127.0.0.1:0", "--data-dir", after},
	} {
		srv := startBinaryServer(t, args...)
		if !strings.HasPrefix(srv.dataDir, before) && !strings.HasPrefix(srv.dataDir, after) {
			t.Errorf("labchat %v: data in %s, want under the --data-dir given", args, srv.dataDir)
		}
		if code := srv.stop(); code != 0 {
			t.Errorf("labchat %v: exit %d after SIGTERM", args, code)
		}
	}
	for _, dir := range []string{before, after} {
		if _, err := os.Stat(filepath.Join(dir, "server", "serve.lock")); err != nil {
			t.Errorf("no server files in %s: %v", dir, err)
		}
	}
}

func TestMisspeltCommandGets421(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	c := guest(t, ts.addr, "alice")
	c.send("NONEXISTENT_COMMAND now")
	c.expect(" 421 alice NONEXISTENT_COMMAND :Unknown command")
}

func TestCapLS302ImpliesCapNotify(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	c := dialIRC(t, ts.addr, "c")
	c.send("CAP LS 302")
	c.expect("CAP \\* LS")
	c.send("CAP LIST")
	c.expect("CAP \\* LIST :?cap-notify$")
}
