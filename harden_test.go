package main

// Regression tests for the hardening of issue 9: what a curious student can do to the server
// with nc must neither brick it, nor leak someone's messages, nor lock others out.

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// startServerWith is startServer with the server's log captured and a hook run on the
// server before it serves (to shorten evictGrace).
func startServerWith(t testing.TB, cfg ServerConfig, dir string, hook func(*Server)) (*testServer, *syncBuffer) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	logs := &syncBuffer{}
	var w io.Writer = logs
	if testing.Verbose() {
		w = io.MultiWriter(logs, os.Stderr)
	}
	srv, err := NewServer(cfg, dir, slog.New(slog.NewTextHandler(w, nil)))
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	if hook != nil {
		hook(srv)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, addr: srv.Addr().String(), dir: dir, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve() }()
	t.Cleanup(func() { ts.stop(t) })
	return ts, logs
}

// dialFrom connects from a given loopback address (all of 127/8 is loopback on Linux), so a
// test can play several PCs.
func dialFrom(t testing.TB, addr, from, name string) *ircClient {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("%s: dial from %s: %v", name, from, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &ircClient{t: t, name: name, conn: conn, lr: newLineReader(conn, maxLineLen)}
}

var saslTries atomic.Int64 // numbers the nicks of saslTry's connections

// saslTry starts a SASL PLAIN login on a fresh connection from `from` and returns the
// connection and the 9xx line that answered it.
func saslTry(t testing.TB, addr, from, account, password string) (*ircClient, string) {
	t.Helper()
	c := dialFrom(t, addr, from, "try-"+account)
	c.send("CAP REQ :sasl")
	c.send("NICK t%d", saslTries.Add(1))
	c.send("USER t 0 * :t")
	c.expect("CAP \\S+ ACK")
	c.send("AUTHENTICATE PLAIN")
	c.expect("^AUTHENTICATE \\+")
	c.send("AUTHENTICATE %s", base64.StdEncoding.EncodeToString([]byte("\x00"+account+"\x00"+password)))
	m := c.expect(" (903|904) ")
	line, _ := m.AppendTo(nil)
	return c, strings.TrimSpace(string(line))
}

// awaitLine reads until a line matches pattern and returns it, or the error as text: for
// goroutines, which must not call t.Fatal.
func awaitLine(c *ircClient, pattern string) string {
	re := regexp.MustCompile(pattern)
	for {
		// Longer than readLine's deadline: these wait behind many slow hashes on a busy machine.
		c.conn.SetReadDeadline(time.Now().Add(3 * ioTimeout))
		l, err := c.lr.ReadLine()
		line := string(l)
		if err != nil {
			return "error: " + err.Error()
		}
		if re.MatchString(line) {
			return line
		}
	}
}

// ---- item 1: UTF-8 everywhere, one bad file never stops the server ----

func TestInvalidUTF8IsRefusedBeforeItReachesAFile(t *testing.T) {
	dir := t.TempDir()
	cfg := loginRequiredConfig(t)
	ts := startServer(t, cfg, dir)
	c := dialIRC(t, ts.addr, "mallory")
	c.send("NICK mallory")
	c.send("USER m 0 * :m")
	c.send("REGISTER * \xff@x s3cret-pw")
	c.expect(`^:\S+ FAIL REGISTER INVALID_UTF8 :`)
	c.send("REGISTER * a\x01b@x s3cret-pw") // UTF-8, but no address holds control characters
	c.expect(`^:\S+ FAIL REGISTER INVALID_EMAIL mallory :`)
	c.send("REGISTER * %s@x s3cret-pw", strings.Repeat("a", 300))
	c.expect(`^:\S+ FAIL REGISTER INVALID_EMAIL mallory :`)
	if _, err := os.Stat(filepath.Join(dir, "users", "mallory.toml")); !os.IsNotExist(err) {
		t.Fatalf("a refused REGISTER left an account file (stat: %v)", err)
	}
	c.send("REGISTER * mallory@lab.example s3cret-pw")
	c.expect("REGISTER SUCCESS mallory")
	c.expect(" 001 mallory ")

	// Everything else a client can make the server keep or pass on is refused the same way.
	c.send("JOIN #lab")
	c.expect(" 366 ")
	for _, line := range []string{
		"TOPIC #lab :caf\xe9",
		"AWAY :out for lunch \xc3",
		"PRIVMSG #lab :hi\xaa",
		"PRIVMSG mallory :hi\xaa",
		"NICK m\xe9",
	} {
		cmd, _, _ := strings.Cut(line, " ")
		c.send("%s", line)
		c.expect(`^:\S+ FAIL ` + cmd + ` INVALID_UTF8 :`)
	}
	before := c.sync()
	for _, l := range before {
		if strings.Contains(l, " TOPIC ") || strings.Contains(l, " PRIVMSG ") {
			t.Errorf("a refused line still had an effect: %q", l)
		}
	}
	ts.stop(t)

	// The next start works, and the e-mail is the one that was valid.
	ts2 := startServer(t, cfg, dir)
	saslLogin(t, ts2.addr, "mallory", "s3cret-pw")
	if a, _ := ts2.accounts.Lookup("mallory"); a.Email != "mallory@lab.example" {
		t.Errorf("stored e-mail %q", a.Email)
	}
}

func TestUnregisteredUserLineWithBadUTF8(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	c := dialIRC(t, ts.addr, "c")
	c.send("NICK carol")
	c.send("USER carol 0 * :i\xe8rc\xe9")
	c.expect(`^:\S+ FAIL USER INVALID_UTF8 :`)
	c.send("USER carol 0 * :Carol")
	c.expect(" 001 carol ")
}

// A truncated topic is cut between characters, never inside one.
func TestLongTopicIsCutOnACharacterBoundary(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	c := guest(t, ts.addr, "alice")
	c.send("JOIN #lab")
	c.expect(" 366 ")
	c.send("TOPIC #lab :a%s", strings.Repeat("é", maxTopicLen/2)) // 2 bytes each: the cut falls inside one
	m := c.expect(" TOPIC #lab ")
	if topic := m.Param(1); len(topic) > maxTopicLen || !strings.HasSuffix(topic, "é") {
		t.Errorf("topic cut to %d bytes ending %q", len(topic), topic[len(topic)-3:])
	}
}

func TestCorruptAccountFileIsSkippedAndLogged(t *testing.T) {
	dir := t.TempDir()
	cfg := loginRequiredConfig(t)
	ts := startServer(t, cfg, dir)
	registerAccount(t, ts.addr, "alice", "alice-pw").quit()
	registerAccount(t, ts.addr, "bob", "bob-pw").quit()
	ts.stop(t)

	users := filepath.Join(dir, "users")
	os.WriteFile(filepath.Join(users, "x.toml"), []byte("name = \"x\"\nemail = \"\xff@x\"\n"), 0o600)
	os.WriteFile(filepath.Join(users, "mallory.toml"), []byte("name = \"eve\"\nhash = \"h\"\n"), 0o600)
	os.WriteFile(filepath.Join(users, "con.toml"), []byte("name = \"con\"\nhash = \"h\"\n"), 0o600)
	os.Mkdir(filepath.Join(users, "dir.toml"), 0o700)

	ts2, logs := startServerWith(t, cfg, dir, nil)
	for _, f := range []string{"x.toml", "mallory.toml", "con.toml", "dir.toml"} {
		if !strings.Contains(logs.String(), "account file skipped") || !strings.Contains(logs.String(), filepath.Join(users, f)) {
			t.Errorf("the log does not name the skipped %s:\n%s", f, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "invalid UTF-8") {
		t.Errorf("the log does not say why x.toml was skipped:\n%s", logs.String())
	}
	saslLogin(t, ts2.addr, "alice", "alice-pw")
	saslLogin(t, ts2.addr, "bob", "bob-pw")

	// The damaged account's name stays its owner's: nobody registers over the file.
	c := dialIRC(t, ts2.addr, "x")
	c.send("NICK x")
	c.send("USER x 0 * :x")
	c.send("REGISTER * * new-pw")
	c.expect(`FAIL REGISTER ACCOUNT_EXISTS x :.*damaged`)
	_, reply := saslTry(t, ts2.addr, "127.0.0.1", "x", "any-pw")
	if !strings.Contains(reply, " 904 ") || !strings.Contains(reply, "damaged") {
		t.Errorf("login to the damaged account: %q", reply)
	}
	if data, _ := os.ReadFile(filepath.Join(users, "x.toml")); !bytes.Contains(data, []byte("\xff")) {
		t.Error("the damaged file was overwritten")
	}
}

// Through the real binary: `serve` starts on a data dir with a corrupt account file.
func TestServeStartsWithACorruptAccountFile(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "server", "users")
	os.MkdirAll(users, 0o700)
	os.WriteFile(filepath.Join(users, "x.toml"), []byte("name = \"x\"\nemail = \"\xff@x\"\n"), 0o600)
	srv := startBinaryServer(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--config", cheapHashConfig(t))
	c := dialIRC(t, srv.addr, "alice")
	c.send("NICK alice")
	c.send("USER alice 0 * :Alice")
	c.send("REGISTER * * alice-pw")
	c.expect("REGISTER SUCCESS alice")
	c.expect(" 001 alice ")
}

// ---- item 10a/b: Windows device names, stale temp files ----

func TestWindowsDeviceNamesAreRefused(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, loginRequiredConfig(t), dir)
	for _, name := range []string{"con", "NUL", "Com1", "lpt9", "aux", "prn", "COM0"} {
		c := dialIRC(t, ts.addr, name)
		c.send("NICK %s", name)
		c.send("USER u 0 * :u")
		c.send("REGISTER * * s3cret-pw")
		c.expect(`FAIL REGISTER BAD_ACCOUNT_NAME ` + name + ` :.*device`)
		c.conn.Close()
	}
	ents, _ := filepath.Glob(filepath.Join(dir, "users", "*.toml")) // users/.lock is the accounts CLI's
	if len(ents) != 0 {
		t.Errorf("users/ holds %d account files after refused device names", len(ents))
	}
	for name, want := range map[string]bool{
		"con": true, "CON.txt": true, "nul.tar.gz": true, "com9": true, "LPT1.log": true, "con ": true,
		"cons": false, "com": false, "com10": false, "lpt": false, "connor": false, "auxiliary": false,
	} {
		if got := isWindowsDeviceName(name); got != want {
			t.Errorf("isWindowsDeviceName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestStaleTempFilesAreRemovedAtStart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, loginRequiredConfig(t), dir)
	registerAccount(t, ts.addr, "alice", "alice-pw").quit()
	ts.stop(t)
	// What writeFileAtomic leaves when the process dies before its rename.
	stale := []string{
		filepath.Join(dir, "users", ".alice.toml.tmp123456"),
		filepath.Join(dir, "users", ".bob.toml.tmp42"),
		filepath.Join(dir, "offline", ".alice.log.tmp9"),
		filepath.Join(dir, ".cert.pem.tmp77"),
	}
	os.MkdirAll(filepath.Join(dir, "offline"), 0o700)
	for _, p := range stale {
		os.WriteFile(p, []byte("half"), 0o600)
	}
	keep := filepath.Join(dir, "users", "notes.txt")
	os.WriteFile(keep, []byte("mine"), 0o600)

	ts2, logs := startServerWith(t, loginRequiredConfig(t), dir, nil)
	for _, p := range stale {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("stale %s still there (stat: %v)", p, err)
		}
		if !strings.Contains(logs.String(), p) {
			t.Errorf("the log does not name the removed %s", p)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a file that is no temp file was removed: %v", err)
	}
	saslLogin(t, ts2.addr, "alice", "alice-pw")
}

// ---- item 3: guest DMs belong to the guest's session ----

func TestGuestDMsAreNotReadByTheNextHolderOfTheNick(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	bob, _ := capsLogin(t, ts.addr, "bob", "", historyCaps)
	carol, _ := capsLogin(t, ts.addr, "carol", "", historyCaps)
	bob.send("PRIVMSG carol :the exam answer is 42")
	carol.expect("the exam answer is 42")
	carol.send("PRIVMSG bob :thanks")
	bob.expect("thanks")
	// The session that had the DMs reads them back.
	if got := texts(historyBatch(t, carol, "CHATHISTORY LATEST bob * 10")); got != "the exam answer is 42|thanks" {
		t.Fatalf("carol's own DM history = %q", got)
	}
	carol.quit()

	// Whoever takes the nick next, directly or by renaming, reads nothing.
	next, _ := capsLogin(t, ts.addr, "carol", "", historyCaps)
	if got := historyBatch(t, next, "CHATHISTORY LATEST bob * 10"); len(got) != 0 {
		t.Errorf("the next guest called carol read %q", texts(got))
	}
	next.send("CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z timestamp=2262-01-01T00:00:00.000Z 10")
	next.expect(`BATCH \+\S+ draft/chathistory-targets`)
	if lines := next.sync(); len(lines) != 1 || !strings.Contains(lines[0], "BATCH -") {
		t.Errorf("the next carol's TARGETS = %q, want an empty batch", lines)
	}
	next.quit()
	renamer, _ := capsLogin(t, ts.addr, "dave", "", historyCaps)
	renamer.send("NICK carol")
	renamer.expect(" NICK :?carol")
	if got := historyBatch(t, renamer, "CHATHISTORY LATEST bob * 10"); len(got) != 0 {
		t.Errorf("a guest renamed to carol read %q", texts(got))
	}
	// bob is a guest too: his side of the conversation went with his session's nick-holder.
	if got := historyBatch(t, bob, "CHATHISTORY LATEST carol * 10"); len(got) != 0 {
		t.Errorf("bob's history with the new carol holds the old carol's DMs: %q", texts(got))
	}
}

// ---- item 5: login throttle ----

func TestParallelGuessesAreThrottledBeforeTheHash(t *testing.T) {
	cfg := loginRequiredConfig(t)
	cfg.BcryptCost = 6 // slow enough that unthrottled guesses overlap
	cfg.LoginFailuresPerMinute = 10
	ts := startServer(t, cfg, "")
	registerAccount(t, ts.addr, "alice", "alice-pw").quit()
	before := ts.accounts.hashes.Load()

	const guesses = 48
	conns := make([]*ircClient, guesses)
	for i := range conns {
		c := dialIRC(t, ts.addr, fmt.Sprintf("g%d", i))
		c.send("CAP REQ :sasl")
		c.send("NICK g%d", i)
		c.send("USER g 0 * :g")
		c.send("AUTHENTICATE PLAIN")
		c.expect("^AUTHENTICATE \\+")
		conns[i] = c
	}
	var wg sync.WaitGroup
	replies := make([]string, guesses)
	for i, c := range conns {
		c.send("AUTHENTICATE %s", base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "\x00alice\x00guess%d", i)))
	}
	for i, c := range conns {
		wg.Go(func() { replies[i] = awaitLine(c, " 90[34] ") })
	}
	wg.Wait()
	wrong, throttled := 0, 0
	for _, r := range replies {
		switch {
		case strings.Contains(r, " 904 ") && strings.Contains(r, "wrong password"):
			wrong++
		case strings.Contains(r, " 904 ") && strings.Contains(r, "too many failed logins for this account from your address: try again in"):
			throttled++
		default:
			t.Errorf("unexpected reply %q", r)
		}
	}
	if wrong != cfg.LoginFailuresPerMinute || throttled != guesses-wrong {
		t.Errorf("%d parallel guesses: %d reached the password check, %d throttled; want %d and %d",
			guesses, wrong, throttled, cfg.LoginFailuresPerMinute, guesses-cfg.LoginFailuresPerMinute)
	}
	if n := ts.accounts.hashes.Load() - before; n != int64(cfg.LoginFailuresPerMinute) {
		t.Errorf("%d hashes computed for %d guesses, want %d", n, guesses, cfg.LoginFailuresPerMinute)
	}
}

func TestGuessesAtOneAccountDoNotLockOutOthers(t *testing.T) {
	cfg := loginRequiredConfig(t)
	cfg.LoginFailuresPerMinute = 3
	cfg.LoginFailuresPerIP = 5
	ts := startServer(t, cfg, "")
	for _, n := range []string{"alice", "bob", "carol", "dave", "erin"} {
		registerAccount(t, ts.addr, n, n+"-pw").quit()
	}
	for i := range 6 { // 3 reach the check, then alice is closed from this address
		_, r := saslTry(t, ts.addr, "127.0.0.1", "alice", fmt.Sprintf("guess%d", i))
		if want := map[bool]string{true: "wrong password", false: "too many failed logins for this account"}[i < 3]; !strings.Contains(r, want) {
			t.Errorf("guess %d at alice: %q, want %q", i, r, want)
		}
	}
	// The same NAT address: bob logs in.
	if _, r := saslTry(t, ts.addr, "127.0.0.1", "bob", "bob-pw"); !strings.Contains(r, " 903 ") {
		t.Errorf("bob behind the same address after guesses at alice: %q", r)
	}
	// alice herself, from another PC: logs in.
	if _, r := saslTry(t, ts.addr, "127.0.0.2", "alice", "alice-pw"); !strings.Contains(r, " 903 ") {
		t.Errorf("alice from another address: %q", r)
	}
	// Guessing at many accounts from one address hits the address limit (3 failures so far).
	for _, n := range []string{"carol", "dave"} {
		if _, r := saslTry(t, ts.addr, "127.0.0.1", n, "wrong"); !strings.Contains(r, "wrong password") {
			t.Errorf("guess at %s: %q", n, r)
		}
	}
	if _, r := saslTry(t, ts.addr, "127.0.0.1", "erin", "erin-pw"); !strings.Contains(r, "too many failed logins from your address: try again in") {
		t.Errorf("after 5 failures from the address: %q, want the address limit", r)
	}
	if _, r := saslTry(t, ts.addr, "127.0.0.3", "erin", "erin-pw"); !strings.Contains(r, " 903 ") {
		t.Errorf("erin from another address: %q", r)
	}
}

// ---- item 6: REGISTER throttle and bounded hashing ----

func TestRegisterIsThrottledPerAddress(t *testing.T) {
	cfg := loginRequiredConfig(t)
	cfg.RegisterPerIPBurst = 3
	cfg.RegisterPerIPPerMinute = 1
	ts := startServer(t, cfg, "")
	reg := func(from, nick string) string {
		c := dialFrom(t, ts.addr, from, nick)
		c.send("NICK %s", nick)
		c.send("USER u 0 * :u")
		c.send("REGISTER * * s3cret-pw")
		m := c.expect(`(REGISTER SUCCESS|FAIL REGISTER) `)
		c.quit() // and wait until the server let go of the nick
		line, _ := m.AppendTo(nil)
		return string(line)
	}
	for _, n := range []string{"s1", "s2", "s3"} {
		if r := reg("127.0.0.1", n); !strings.Contains(r, "REGISTER SUCCESS "+n) {
			t.Fatalf("REGISTER %s within the burst: %q", n, r)
		}
	}
	if r := reg("127.0.0.1", "s4"); !strings.Contains(r, "FAIL REGISTER TEMPORARILY_UNAVAILABLE s4 :") || !regexp.MustCompile(`try again in (59|60)s`).MatchString(r) {
		t.Errorf("REGISTER beyond the burst: %q, want TEMPORARILY_UNAVAILABLE with a retry time", r)
	}
	if r := reg("127.0.0.2", "s4"); !strings.Contains(r, "REGISTER SUCCESS s4") {
		t.Errorf("REGISTER from another address: %q", r)
	}
	// A taken name is refused before any hash, and costs no token.
	before := ts.accounts.hashes.Load()
	for range 5 {
		if r := reg("127.0.0.3", "s1"); !strings.Contains(r, "ACCOUNT_EXISTS") {
			t.Fatalf("REGISTER of a taken name: %q", r)
		}
	}
	if n := ts.accounts.hashes.Load() - before; n != 0 {
		t.Errorf("REGISTER of a taken name ran bcrypt %d times", n)
	}
	if r := reg("127.0.0.3", "s5"); !strings.Contains(r, "REGISTER SUCCESS s5") {
		t.Errorf("REGISTER after refused taken names: %q (they must not use up the burst)", r)
	}
}

func TestLoginDoesNotWaitBehindARegisterStorm(t *testing.T) {
	cfg := loginRequiredConfig(t)
	cfg.BcryptCost = 7 // a few tens of ms a hash, more under -race
	cfg.RegisterPerIPBurst = 1000
	ts := startServer(t, cfg, "")
	registerAccount(t, ts.addr, "alice", "alice-pw").quit()

	const storm = 10
	var pending sync.WaitGroup
	var mu sync.Mutex
	done := 0
	conns := make([]*ircClient, storm)
	for i := range conns {
		c := dialIRC(t, ts.addr, fmt.Sprintf("r%d", i))
		c.send("NICK r%d", i)
		c.send("USER u 0 * :u")
		c.sync()
		conns[i] = c
	}
	for _, c := range conns {
		c.send("REGISTER * * s3cret-pw")
	}
	results := make([]string, storm)
	for i, c := range conns {
		pending.Go(func() {
			results[i] = awaitLine(c, "REGISTER SUCCESS|FAIL")
			mu.Lock()
			done++
			mu.Unlock()
		})
	}
	_, r := saslTry(t, ts.addr, "127.0.0.1", "alice", "alice-pw")
	mu.Lock()
	finished := done
	mu.Unlock()
	if !strings.Contains(r, " 903 ") {
		t.Fatalf("login during the storm: %q", r)
	}
	// Registrations hash one (or GOMAXPROCS/2) at a time; the login has its own slots, so it
	// is through long before the storm is.
	if finished > storm/2 {
		t.Errorf("the login finished after %d of %d registrations: it waited behind them", finished, storm)
	}
	pending.Wait()
	for i, r := range results {
		// On a loaded machine the last ones may find no slot within hashWait: told, not hung.
		if !strings.Contains(r, "REGISTER SUCCESS") && !strings.Contains(r, "TEMPORARILY_UNAVAILABLE") {
			t.Errorf("registration %d: %q", i, r)
		}
	}
}

// ---- item 7: unregistered connections ----

func TestIdleUnregisteredConnectionsMakeRoom(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxClients = 30
	cfg.MaxUnregistered = 8
	cfg.MaxUnregisteredPerIP = 4
	ts, _ := startServerWith(t, cfg, "", func(s *Server) { s.evictGrace = 0 })

	// 4 registered guests from the lab's NAT address do not count as unregistered.
	for i := range 4 {
		guest(t, ts.addr, fmt.Sprintf("u%d", i))
	}
	// An attacker opens far more idle sockets than the limits, from many addresses.
	var idle []*ircClient
	for i := range 100 {
		idle = append(idle, dialFrom(t, ts.addr, fmt.Sprintf("127.0.1.%d", 1+i%20), fmt.Sprintf("idle%d", i)))
	}
	for _, c := range idle[:4] {
		if e := c.expectClosed(); !strings.Contains(e, "idle before logging in") {
			t.Errorf("an idle socket pushed out got %q", e)
		}
	}
	// Users still get in, from the NAT and from elsewhere.
	guest(t, ts.addr, "late1")
	c := dialFrom(t, ts.addr, "127.0.0.9", "late2")
	c.send("NICK late2")
	c.send("USER late2 0 * :x")
	c.expect(" 001 late2 ")
	live, unreg := ts.budget.counts()
	if unreg > cfg.MaxUnregistered || live > cfg.MaxClients {
		t.Errorf("counts: %d unregistered, %d live; limits %d, %d", unreg, live, cfg.MaxUnregistered, cfg.MaxClients)
	}
}

func TestUnregisteredLimitRefusesWhenNoneIsIdle(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxUnregisteredPerIP = 2
	ts, _ := startServerWith(t, cfg, "", func(s *Server) { s.evictGrace = time.Hour })
	a := dialIRC(t, ts.addr, "a")
	b := dialIRC(t, ts.addr, "b")
	a.send("NICK a") // both are busy logging in: nobody is pushed out
	b.send("NICK b")
	a.sync()
	b.sync()
	c := dialIRC(t, ts.addr, "c")
	if e := c.expectClosed(); !strings.Contains(e, "max_unregistered_per_ip") {
		t.Errorf("third unregistered connection got %q, want a refusal naming max_unregistered_per_ip", e)
	}
	a.send("USER a 0 * :a")
	a.expect(" 001 a ")
	guest(t, ts.addr, "d") // a registered: there is room again
}

func TestLimitKeysAreValidated(t *testing.T) {
	for _, set := range []func(*ServerConfig){
		func(c *ServerConfig) { c.MaxUnregistered = 0 },
		func(c *ServerConfig) { c.MaxUnregisteredPerIP = 0 },
		func(c *ServerConfig) { c.LoginFailuresPerIP = -1 },
		func(c *ServerConfig) { c.RegisterPerIPBurst = 0 },
		func(c *ServerConfig) { c.RegisterPerIPPerMinute = 0 },
	} {
		cfg := testConfig(t)
		set(&cfg)
		if err := validateServerConfig(&cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

// The client records whatever a server sends it; its files stay UTF-8 all the same.
func TestLogLinesAreUTF8AndRoundTrip(t *testing.T) {
	for _, text := range []string{"caf\xe9", "\xff\xfe", "ok é ✓ \xc3", "\xef\xbf\xbd is U+FFFD", "a\\xff"} {
		e := LogEntry{Time: time.Now(), MsgID: "m1", Kind: "PRIVMSG", From: "bob", To: "alice", Text: text}
		line := e.AppendLine(nil)
		if !utf8.Valid(line) {
			t.Errorf("log line for %q is not UTF-8: %q", text, line)
		}
		got, err := ParseLogLine(bytes.TrimSuffix(line, []byte("\n")))
		if err != nil || got.Text != text {
			t.Errorf("round trip of %q: %q, %v", text, got.Text, err)
		}
	}
}

// Sockets that open the TLS port and never start TLS are bounded like unregistered ones.
func TestPendingTLSHandshakesAreBounded(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxUnregisteredPerIP = 2
	ts := startTLSServer(t, cfg, "")
	addr := ts.TLSAddr().String()
	var held []net.Conn
	for range 2 {
		c, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		held = append(held, c)
	}
	// The two are sessions-to-be in their handshake; the server has them once it closes a third.
	third, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	third.SetReadDeadline(time.Now().Add(ioTimeout / 2)) // well before the handshake timeout
	if _, err := third.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("a third silent connection to the TLS port: read %v, want it closed at once", err)
	}
	held[0].SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := held[0].Read(make([]byte, 1)); !os.IsTimeout(err) {
		t.Errorf("the first silent connection: read %v, want it still waiting for its handshake", err)
	}
	// Another address is not affected.
	raw, err := (&net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ioTimeout))
	if err := conn.Handshake(); err != nil {
		t.Fatalf("TLS from another address: %v", err)
	}
}
