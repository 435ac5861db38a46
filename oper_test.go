package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// operConfig is testConfig with an OPER block (operuser / operpassword) and an operator
// account (teacher).
func operConfig(t testing.TB) ServerConfig {
	t.Helper()
	cfg := testConfig(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("operpassword"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Operators = []OperatorConfig{{Name: "operuser", PasswordHash: string(hash)}, {Account: "teacher"}}
	return cfg
}

// startLoggedServer is startServer with the server log kept for the test to read.
func startLoggedServer(t testing.TB, cfg ServerConfig) (*testServer, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	srv, err := NewServer(cfg, t.TempDir(), slog.New(slog.NewTextHandler(buf, nil)))
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, addr: srv.Addr().String(), done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		ts.Shutdown(ctx)
		if err := <-ts.done; err != nil && !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ts, buf
}

// operUp opers c up with the test block and waits for 381 and MODE +o.
func operUp(c *ircClient) {
	c.t.Helper()
	c.send("OPER operuser operpassword")
	c.expect(" 381 " + c.name + " ")
	c.expect(`MODE ` + c.name + ` :?\+o`)
}

func TestOperRefusalsThenSuccess(t *testing.T) {
	ts, log := startLoggedServer(t, operConfig(t))
	a := guest(t, ts.addr, "alice")
	a.send("OPER operuser")
	a.expect(" 461 alice OPER ")
	a.send("OPER operuser wrong")
	a.expect(" 464 alice :Password incorrect")
	a.send("OPER nobody operpassword")
	a.expect(" 491 alice :")
	a.send("OPER teacher anything") // an account block is no OPER name
	a.expect(" 491 alice :")
	for _, cmd := range []string{"KILL bob :x", "WALLOPS :hi", "STATS", "PRIVMSG $* :hi all"} {
		a.send("%s", cmd)
		a.expect(" 481 alice :Permission Denied")
	}
	a.send("NOTICE $* :no error for a NOTICE")
	if lines := a.sync(); len(lines) != 0 {
		t.Errorf("a refused NOTICE $* got replies %q, want none", lines)
	}

	a.name = "alice"
	operUp(a)
	a.send("MODE alice")
	a.expect(" 221 alice :?\\+o")
	b := guest(t, ts.addr, "bob")
	b.send("WHOIS alice")
	b.expect(" 313 bob alice :is an IRC operator")
	b.send("WHO alice")
	b.expect(` 352 bob \* \S+ \S+ \S+ alice H\* :0 alice`)
	b.send("WHOIS bob")
	if lines := b.sync(); strings.Contains(strings.Join(lines, "\n"), " 313 ") {
		t.Errorf("WHOIS of a non-operator shows 313: %q", lines)
	}

	b.send("LUSERS")
	b.expect(" 252 bob 1 :operator\\(s\\) online")
	a.send("MODE alice -o")
	a.expect(`MODE alice :?-o`)
	b.send("LUSERS")
	if lines := b.sync(); strings.Contains(strings.Join(lines, "\n"), " 252 ") {
		t.Errorf("LUSERS counts an operator after -o: %q", lines)
	}
	a.send("STATS")
	a.expect(" 481 alice ")
	out := log.String()
	for _, want := range []string{`msg="oper refused" nick=alice name=operuser remote=127.0.0.1 reason="wrong password"`, `msg="oper up" nick=alice by="name operuser"`, `msg="oper down" nick=alice`} {
		if !strings.Contains(out, want) {
			t.Errorf("server log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "operpassword") {
		t.Errorf("server log holds the OPER password:\n%s", out)
	}
}

func TestOperatorAccountIsOperatorAtLogin(t *testing.T) {
	cfg := operConfig(t)
	ts := startServer(t, cfg, "")
	reg := registerAccount(t, ts.addr, "teacher", "teach-pw")
	reg.send("MODE teacher") // its 381 came with the welcome, read by registerAccount
	reg.expect(" 221 teacher :?\\+o")
	reg.send("QUIT")
	reg.expectClosed()

	c := saslLogin(t, ts.addr, "teacher", "teach-pw")
	c.expect(" 381 teacher ")
	c.expect(`MODE teacher :?\+o`)
	c.send("STATS")
	c.expect(" 249 teacher \\* :connections 1 \\(registered 1, logged in 1, operators 1")
	c.expect(" 249 teacher \\* :messages relayed 0 ")
	c.expect(" 219 teacher \\* :End of /STATS report")
	c.send("STATS u")
	c.expect(" 242 teacher :Server Up 0 days 00:00:")
	c.expect(" 219 teacher u ")

	// A student account is none.
	s := registerAccount(t, ts.addr, "student", "study-pw")
	if lines := s.sync(); strings.Contains(strings.Join(lines, "\n"), " 381 ") {
		t.Errorf("student got 381: %q", lines)
	}
	s.send("PRIVMSG teacher :hello")
	c.expect("PRIVMSG teacher :hello")
	c.send("STATS")
	c.expect(" 249 teacher \\* :messages relayed 1 ")
}

func TestKillShowsReasonToUserAndRooms(t *testing.T) {
	ts, log := startLoggedServer(t, operConfig(t))
	op := guest(t, ts.addr, "op")
	operUp(op)
	alice := guest(t, ts.addr, "alice")
	bob := guest(t, ts.addr, "bob")
	alice.send("JOIN #lab")
	alice.expect(" 366 ")
	bob.send("JOIN #lab")
	bob.expect(" 366 ")
	alice.expect("JOIN #lab")

	alice.send("KILL bob :spam")
	alice.expect(" 481 alice ")
	op.send("KILL nobody :x")
	op.expect(" 401 op nobody ")
	op.send("KILL bob :flooding the room")
	bob.expect(`^:op!\S+ KILL bob :flooding the room$`)
	if e := bob.expectClosed(); e != "ERROR :Killed by op (flooding the room)" {
		t.Errorf("bob's ERROR = %q, want the reason", e)
	}
	alice.expect(`^:bob!\S+ QUIT :Killed by op \(flooding the room\)$`)
	op.expect("NOTICE op :Killed bob \\(flooding the room\\)")
	op.send("WHOIS bob")
	op.expect(" 401 op bob ")
	// KILL with only a nick, as ergo accepts.
	op.send("KILL alice")
	if e := alice.expectClosed(); !strings.Contains(e, "Killed by op (no reason given)") {
		t.Errorf("alice's ERROR = %q", e)
	}
	if out := log.String(); !strings.Contains(out, `msg=kill oper=op target=bob!~bob@127.0.0.1 reason="flooding the room"`) {
		t.Errorf("server log lacks the kill:\n%s", out)
	}
}

func TestWallopsReachesOnlyPlusW(t *testing.T) {
	ts := startServer(t, operConfig(t), "")
	op := guest(t, ts.addr, "op")
	w := guest(t, ts.addr, "watcher")
	n := guest(t, ts.addr, "plain")
	w.send("MODE watcher +w")
	w.expect(`MODE watcher :?\+w`)
	w.send("MODE watcher")
	w.expect(" 221 watcher :?\\+w")
	op.send("WALLOPS :before oper")
	op.expect(" 481 op ")
	operUp(op)
	op.send("WALLOPS :server restarts at noon")
	op.expect(`^:op!\S+ WALLOPS :server restarts at noon$`)
	w.expect(`^:op!\S+ WALLOPS :server restarts at noon$`)
	if lines := n.sync(); len(lines) != 0 {
		t.Errorf("a user without +w got %q", lines)
	}
	w.send("MODE watcher -w")
	w.expect(`MODE watcher :?-w`)
	op.send("WALLOPS :again")
	op.expect("WALLOPS :?again")
	if lines := w.sync(); len(lines) != 0 {
		t.Errorf("after -w, got %q", lines)
	}
}

func TestAnnounceReachesEveryone(t *testing.T) {
	ts, log := startLoggedServer(t, operConfig(t))
	op := welcomed(t, ts.addr, "op", "", "echo-message")
	op.expect(" 376 | 422 ")
	a := guest(t, ts.addr, "alice")
	b := guest(t, ts.addr, "bob")
	b.send("JOIN #elsewhere")
	b.expect(" 366 ")
	operUp(op)
	op.send("NOTICE $* :exam starts in 5 minutes")
	for _, c := range []*ircClient{a, b, op} { // op has echo-message
		c.expect(`^:op!\S+ NOTICE \$\* :exam starts in 5 minutes$`)
	}
	op.send("PRIVMSG $My.Little.Server :no such server")
	op.expect(" 402 op \\$My.Little.Server ")
	op.send("PRIVMSG $labchat.* :by server mask")
	a.expect(`PRIVMSG \$labchat\.\* :by server mask$`)
	if out := log.String(); !strings.Contains(out, `msg=announce oper=op command=NOTICE recipients=2 text="exam starts in 5 minutes"`) {
		t.Errorf("server log lacks the announcement:\n%s", out)
	}
}

func TestOperatorOverridesRoomOperators(t *testing.T) {
	ts, log := startLoggedServer(t, operConfig(t))
	founder := guest(t, ts.addr, "founder")
	founder.send("JOIN #lab")
	founder.expect(" 366 ")
	student := guest(t, ts.addr, "student")
	student.send("JOIN #lab")
	student.expect(" 366 ")
	op := guest(t, ts.addr, "op")
	op.send("KICK #lab student")
	op.expect(" 442 op #lab ")
	op.send("MODE #lab +m")
	op.expect(" 482 op #lab ")
	operUp(op)
	// Not a member, not a room operator: the override lets it act anyway.
	op.send("MODE #lab +m")
	student.expect(`^:op!\S+ MODE #lab \+m$`)
	op.send("MODE #lab +v student")
	student.expect(`^:op!\S+ MODE #lab \+v student$`)
	op.send("MODE #lab -o founder")
	founder.expect(`^:op!\S+ MODE #lab -o founder$`)
	op.send("KICK #lab nobody")
	op.expect(" 401 op nobody ")
	op.send("KICK #lab founder :class is over")
	founder.expect(`^:op!\S+ KICK #lab founder :class is over$`)
	student.expect(`KICK #lab founder :class is over$`)
	op.send("JOIN #lab")
	op.expect(" 366 ")
	op.send("TOPIC #lab :set by the instructor")
	student.expect(`^:op!\S+ TOPIC #lab :set by the instructor$`)
	out := log.String()
	for _, want := range []string{`msg="operator override" oper=op room=#lab command=MODE`, `msg="operator override" oper=op room=#lab command=KICK`, `msg=kick by=op room=#lab target=founder!~founder@127.0.0.1`} {
		if !strings.Contains(out, want) {
			t.Errorf("server log lacks %q:\n%s", want, out)
		}
	}
}

func TestOperatorConfigFromFileThroughBinary(t *testing.T) {
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("opw-secret"), bcrypt.MinCost)
	cfgFile := filepath.Join(dir, "c.toml")
	write := func(body string) {
		if err := os.WriteFile(cfgFile, []byte("[server]\nrequire_login = false\nbcrypt_cost = 4\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []struct{ body, want string }{
		{"[[server.operators]]\nname = \"x\"\npassword_hash = \"plain\"\n", "not a bcrypt hash"},
		{"[[server.operators]]\nname = \"x\"\n", "needs account, or name and password_hash"},
		{"[[server.operators]]\naccount = \"t\"\nname = \"x\"\n", "not both"},
		{"[[server.operators]]\naccount = \"bad name\"\n", "block 1"},
		{"[[server.operators]]\nnme = \"x\"\n", "unknown key server.operators.nme"},
	} {
		write(bad.body)
		res := runCLI(t, ioTimeout, "", nil, "serve", "--config", cfgFile, "--data-dir", dir, "--listen", "127.0.0.1:0")
		if res.code != exitUsage || !strings.Contains(res.stderr, bad.want) {
			t.Errorf("config %q: exit %d, stderr %q; want exit 2 saying %q", bad.body, res.code, res.stderr, bad.want)
		}
	}
	write("[[server.operators]]\nname = \"instructor\"\npassword_hash = \"" + string(hash) + "\"\n")
	srv := startBinaryServer(t, "serve", "--config", cfgFile, "--data-dir", dir, "--listen", "127.0.0.1:0")
	c := guest(t, srv.addr, "teach")
	c.send("OPER instructor opw-secret")
	c.expect(" 381 teach ")
}

// TestIrctestTemplateParses fills testdata/irctest.toml as irctest does and loads it: a
// duplicate or misspelt key there makes every irctest server exit at start.
func TestIrctestTemplateParses(t *testing.T) {
	data, err := os.ReadFile("testdata/irctest.toml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("{directory}", t.TempDir(), "{hostname}", "127.0.0.1", "{port}", "0", "{password}", "",
		"{account_registration_before_connect}", "true", "{account_registration_requires_email}", "false", "{chathistory}", "true").Replace(string(data))
	var cfg Config
	if err := decodeConfig(&cfg, defaultConfigTOML, "(built-in)"); err != nil {
		t.Fatal(err)
	}
	if err := decodeConfig(&cfg, []byte(text), "irctest.toml"); err != nil {
		t.Fatal(err)
	}
	if err := validateServerConfig(&cfg.Server); err != nil {
		t.Fatal(err)
	}
	ops := cfg.Server.Operators
	if len(ops) != 1 || ops[0].Name != "operuser" || bcrypt.CompareHashAndPassword([]byte(ops[0].PasswordHash), []byte("operpassword")) != nil {
		t.Errorf("operators = %+v, want operuser with the hash of operpassword", ops)
	}
}
