package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const accountsTimeout = 30 * time.Second

// accountsCLI runs `labchat accounts ...` on data dir dir with config conf.
func accountsCLI(t *testing.T, conf, password string, args ...string) cliResult {
	t.Helper()
	env := []string{"LABCHAT_CONFIG=", "LABCHAT_DATA=", "LABCHAT_PASSWORD=" + password}
	return runCLI(t, accountsTimeout, "", env, append(append([]string{"accounts"}, args...), "--config", conf)...)
}

// accountsConfig writes a config for a guest-friendly, fast-hashing server on dir.
func accountsConfig(t *testing.T) (conf, dir string) {
	t.Helper()
	dir = t.TempDir()
	conf = filepath.Join(dir, "labchat.toml")
	body := "data_dir = \"" + filepath.ToSlash(filepath.Join(dir, "data")) + "\"\n[server]\nlisten = \"127.0.0.1:0\"\nrequire_login = false\nbcrypt_cost = 4\ndefault_room = \"\"\nflood_rate = 0.0\nweb_listen = \"\"\ntls_listen = \"\"\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf, filepath.Join(dir, "data", "server")
}

func wantCode(t *testing.T, what string, r cliResult, code int, stderrHas string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stderr, stderrHas) {
		t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", what, r.code, r.stderr, code, stderrHas)
	}
}

func TestAccountsCLIOffline(t *testing.T) {
	conf, dataDir := accountsConfig(t)
	if r := accountsCLI(t, conf, "alice-pw", "add", "alice", "--email", "a@example.edu"); r.code != 0 || !strings.Contains(r.stdout, "account alice created") {
		t.Fatalf("add: %+v", r)
	}
	raw, err := os.ReadFile(filepath.Join(dataDir, "users", "alice.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "alice-pw") || !strings.Contains(string(raw), `id = "`) || !strings.Contains(string(raw), "a@example.edu") {
		t.Errorf("account file:\n%s", raw)
	}
	wantCode(t, "add again", accountsCLI(t, conf, "x-pw-long", "add", "alice"), 1, "already exists")
	wantCode(t, "bad name", accountsCLI(t, conf, "x-pw-long", "add", "9lives"), 2, "bad account name")
	wantCode(t, "service name", accountsCLI(t, conf, "x-pw-long", "add", "NickServ"), 2, "service")
	wantCode(t, "bad e-mail", accountsCLI(t, conf, "x-pw-long", "add", "bob", "--email", "a b@c"), 2, "bad e-mail address")
	wantCode(t, "short password", accountsCLI(t, conf, "ab", "add", "bob"), 2, "unacceptable password")
	wantCode(t, "no password, no terminal", accountsCLI(t, conf, "", "add", "bob"), 2, "set LABCHAT_PASSWORD")
	wantCode(t, "no name", accountsCLI(t, conf, "pw-pw", "add"), 2, "usage: labchat accounts add NAME")
	wantCode(t, "passwd of nobody", accountsCLI(t, conf, "pw-pw", "passwd", "nobody"), 1, "no account named nobody")
	wantCode(t, "lock nobody", accountsCLI(t, conf, "", "lock", "nobody"), 1, "no account named nobody")
	wantCode(t, "delete nobody", accountsCLI(t, conf, "", "delete", "nobody"), 1, "no account named nobody")
	wantCode(t, "unknown subcommand", accountsCLI(t, conf, "", "frobnicate"), 2, "unknown accounts command")
	wantCode(t, "unknown flag", accountsCLI(t, conf, "", "lock", "alice", "--force"), 2, "unknown flag --force")

	if r := accountsCLI(t, conf, "bob-pw", "add", "bob"); r.code != 0 {
		t.Fatalf("add bob: %+v", r)
	}
	for _, args := range [][]string{{"lock", "bob"}, {"oper", "alice"}} {
		if r := accountsCLI(t, conf, "", args...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	r := accountsCLI(t, conf, "", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[1], "alice ") || !strings.HasSuffix(lines[1], "operator") ||
		!strings.HasPrefix(lines[2], "bob ") || !strings.HasSuffix(lines[2], "locked") || !strings.HasPrefix(lines[3], "2 account(s)") {
		t.Errorf("list:\n%s", r.stdout)
	}
	accountsCLI(t, conf, "", "unlock", "bob")
	accountsCLI(t, conf, "", "oper", "alice", "--remove")
	if r := accountsCLI(t, conf, "", "list"); strings.Contains(r.stdout, "locked") || strings.Contains(r.stdout, "operator") {
		t.Errorf("after unlock and oper --remove:\n%s", r.stdout)
	}

	// hash-password: plain bcrypt, what [[server.operators]] password_hash holds.
	h := accountsCLI(t, conf, "operpassword", "hash-password")
	if h.code != 0 || bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(h.stdout)), []byte("operpassword")) != nil {
		t.Errorf("hash-password: %+v", h)
	}
	if !strings.HasPrefix(strings.TrimSpace(h.stdout), "$2a$04$") {
		t.Errorf("hash-password ignores bcrypt_cost: %q", h.stdout)
	}
	wantCode(t, "hash-password of 73 bytes", accountsCLI(t, conf, strings.Repeat("p", 73), "hash-password"), 2, "1 to 72 bytes")

	// With no server running, delete moves the data itself.
	queue := filepath.Join(dataDir, "offline", "bob.log")
	dm := filepath.Join(dataDir, "logs", "dm-alice+bob")
	for _, d := range []string{filepath.Dir(queue), dm} {
		os.MkdirAll(d, 0o700)
	}
	os.WriteFile(queue, []byte("x\n"), 0o600)
	os.WriteFile(filepath.Join(dm, "2026-12-01.log"), []byte("x\n"), 0o600)
	if r := accountsCLI(t, conf, "", "delete", "bob"); r.code != 0 || !strings.Contains(r.stdout, "2 offline queue/DM item(s) moved") {
		t.Fatalf("delete bob: %+v", r)
	}
	for _, p := range []string{queue, dm, filepath.Join(dataDir, "users", "bob.toml")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there after delete (%v)", p, err)
		}
	}
	moved, _ := filepath.Glob(filepath.Join(dataDir, "deleted", "bob-*", "logs", "dm-alice+bob", "2026-12-01.log"))
	if len(moved) != 1 {
		t.Errorf("DM log not in deleted/: %v", moved)
	}
}

// The accounts CLI while `labchat serve` runs on the same data directory.
func TestAccountsCLIWithRunningServer(t *testing.T) {
	conf, dataDir := accountsConfig(t)
	srv := startBinaryServer(t, "serve", "--config", conf)

	// An account added now logs in at once (irctest's register command relies on it).
	if r := accountsCLI(t, conf, "first-pw", "add", "alice"); r.code != 0 {
		t.Fatalf("add: %+v", r)
	}
	alice := saslLogin(t, srv.addr, "alice", "first-pw")
	alice.sync()

	// passwd: the old password stops working, the new one works, the session stays.
	if r := accountsCLI(t, conf, "second-pw", "passwd", "alice"); r.code != 0 {
		t.Fatalf("passwd: %+v", r)
	}
	bad := dialIRC(t, srv.addr, "bad")
	bad.send("PASS alice:first-pw")
	bad.send("NICK x1")
	bad.send("USER x 0 * :x")
	bad.expect(` 464 .*wrong password for account alice`)
	alice2 := saslLogin(t, srv.addr, "alice", "second-pw")
	alice2.sync()

	// oper: an operator from the next login.
	accountsCLI(t, conf, "", "oper", "alice")
	opc := dialIRC(t, srv.addr, "op")
	opc.send("PASS alice:second-pw")
	opc.send("NICK aliceop")
	opc.send("USER a 0 * :a")
	// (alice is online already: this connection joins her user, nick alice)
	opc.expect(` 381 alice :You are now an IRC operator`)
	opc.send("LUSERS")
	opc.expect(` 252 alice 1 :operator\(s\) online`)

	// lock: connections close with the reason, logins are refused; unlock lets them in.
	if r := accountsCLI(t, conf, "", "lock", "alice"); r.code != 0 {
		t.Fatalf("lock: %+v", r)
	}
	if e := opc.expectClosed(); !strings.Contains(e, "Account alice was locked by the administrator") {
		t.Errorf("locked account's connection closed with %q", e)
	}
	locked := dialIRC(t, srv.addr, "locked")
	locked.send("PASS alice:second-pw")
	locked.send("NICK x2")
	locked.send("USER x 0 * :x")
	locked.expect(` 464 .*locked`)
	for _, c := range []*ircClient{alice, alice2} { // every connection of the account
		if e := c.expectClosed(); !strings.Contains(e, "locked by the administrator") {
			t.Errorf("%s closed with %q at lock", c.name, e)
		}
	}
	accountsCLI(t, conf, "", "unlock", "alice")
	alice = saslLogin(t, srv.addr, "alice", "second-pw")
	alice.sync()

	// delete: connections close, the offline queue and DMs leave with the account, and a
	// new alice inherits nothing.
	bob := guest(t, srv.addr, "bob")
	bob.send("PRIVMSG alice :a DM for the old alice")
	bob.sync()
	if r := accountsCLI(t, conf, "", "delete", "alice"); r.code != 0 || !strings.Contains(r.stdout, "running server") {
		t.Fatalf("delete: %+v", r)
	}
	if e := alice.expectClosed(); !strings.Contains(e, "Account alice was deleted by the administrator") {
		t.Errorf("deleted account's connection closed with %q", e)
	}
	deadline := time.Now().Add(ioTimeout)
	for {
		dms, _ := filepath.Glob(filepath.Join(dataDir, "logs", "dm-*alice*"))
		moved, _ := filepath.Glob(filepath.Join(dataDir, "deleted", "alice-*", "logs", "dm-*"))
		if len(dms) == 0 && len(moved) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DMs not detached: still %v, moved %v", dms, moved)
		}
		time.Sleep(20 * time.Millisecond) // polling the file system: no event to wait on
	}
	if r := accountsCLI(t, conf, "third-pw", "add", "alice"); r.code != 0 {
		t.Fatalf("re-add: %+v", r)
	}
	bob.send("QUIT")
	bob.expectClosed()
	fresh, _ := capsLogin(t, srv.addr, "alice", "third-pw", "draft/chathistory batch server-time message-tags")
	fresh.send("CHATHISTORY LATEST bob * 10")
	got := fresh.sync()
	for _, l := range got {
		if strings.Contains(l, "old alice") {
			t.Errorf("the new alice sees the old one's DM: %q", got)
		}
	}
	if len(grepLines(got, "BATCH +")) != 1 {
		t.Errorf("CHATHISTORY: %q", got)
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("serve exited %d", code)
	}
}

func TestNickServ(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	c := guest(t, ts.addr, "alice")
	ns := `^:NickServ!NickServ@\S+ NOTICE alice :`

	c.send("PRIVMSG NickServ :HELP")
	c.expect(ns + `NickServ keeps the accounts`)
	c.send("PRIVMSG NickServ :frobnicate")
	c.expect(ns + `Unknown command frobnicate\. Commands: IDENTIFY, REGISTER, PASSWD, INFO, HELP`)
	c.send("PRIVMSG NickServ :PASSWD a b")
	c.expect(ns + `You are not logged in`)
	c.send("PRIVMSG NickServ :REGISTER")
	c.expect(ns + `Syntax: REGISTER <password> \[email\]`)

	c.send("PRIVMSG NickServ :REGISTER first-pw alice@example.edu")
	c.expect(`REGISTER SUCCESS alice`)
	c.expect(` 900 alice `)
	c.expect(ns + `Account alice registered; you're now logged in\.`)
	c.send("NS INFO")
	c.expect(ns + `Account: alice$`)
	c.expect(ns + `E-mail: alice@example\.edu$`)
	c.expect(ns + `Online: yes$`)

	c.send("PRIVMSG NickServ :PASSWD wrong-pw second-pw")
	c.expect(ns + `Password not changed: wrong password for account alice`)
	c.send("PRIVMSG NickServ :PASSWD first-pw ab")
	c.expect(ns + `Password not changed: the new one must be 4 to`)
	c.send("PRIVMSG NickServ :PASSWD first-pw second-pw")
	c.expect(ns + `Password changed\.`)
	c.send("PRIVMSG NickServ :IDENTIFY second-pw")
	c.expect(ns + `You are already logged in as alice\.`)
	c.send("QUIT")
	c.expectClosed()

	g := guest(t, ts.addr, "guest1")
	gs := `^:NickServ!NickServ@\S+ NOTICE guest1 :`
	g.send("PRIVMSG NickServ :IDENTIFY alice first-pw")
	g.expect(gs + `Login failed: wrong password for account alice\.`)
	g.send("NICKSERV IDENTIFY alice second-pw")
	g.expect(` 900 guest1 \S+ alice :You are now logged in as alice`)
	g.expect(gs + `You're now logged in as alice\.`)
	g.send("PRIVMSG NickServ :INFO nobody")
	g.expect(gs + `No account named nobody\.`)
	g.send("NS")
	g.expect(` 461 guest1 NS `)

	// NickServ is always there, and nobody's nick or account.
	g.send("WHOIS nickserv")
	g.expect(` 311 guest1 NickServ NickServ \S+ \* :Account services`)
	g.expect(` 318 guest1 NickServ `)
	g.send("ISON NickServ bob")
	g.expect(` 303 guest1 :NickServ$`)
	g.send("NICK NickServ")
	g.expect(` 432 guest1 NickServ :Nickname is reserved for a service`)
	n := dialIRC(t, ts.addr, "n")
	n.send("NICK nickserv")
	n.expect(` 432 \* nickserv :Nickname is reserved`)
	n.send("NICK Nsfan") // NickServ2 would be a look-alike, refused too (names_test.go)
	n.send("USER n 0 * :n")
	n.expect(" 001 ")
	n.send("NICK NickServ")
	n.expect(` 432 Nsfan NickServ `)
	if err := ts.accounts.Register("NickServ", "", "whatever-pw", time.Now()); err == nil {
		t.Errorf("an account named NickServ was registered")
	}
}

// The password prompt on a terminal: asked twice, never echoed, and two different answers
// change nothing.
func TestAccountsPasswordPrompt(t *testing.T) {
	needTmux(t)
	conf, dataDir := accountsConfig(t)
	var tp *tmuxPane
	run := func(name string) {
		tp = &tmuxPane{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
		cmd := "env LABCHAT_PASSWORD= LABCHAT_CONFIG= LABCHAT_DATA= TERM=xterm " + labchatBinary(t) + " accounts add " + name + " --config " + conf + "; echo exit=$?; sleep 30"
		tp.tmux("new-session", "-d", "-s", "lc", "-x", "100", "-y", "20", cmd)
		sock := tp.sock
		t.Cleanup(func() { exec.Command("tmux", "-S", sock, "kill-server").Run() })
	}
	has := func(s string) func([]string) bool {
		return func(lines []string) bool { return strings.Contains(strings.Join(lines, "\n"), s) }
	}
	run("carol")
	tp.waitScreen("the prompt", has("Password for carol:"))
	tp.tmux("send-keys", "-t", "lc", "-l", "typed-secret-1")
	tp.tmux("send-keys", "-t", "lc", "Enter")
	tp.waitScreen("the second prompt", has("Same password again:"))
	tp.tmux("send-keys", "-t", "lc", "-l", "typed-secret-1")
	tp.tmux("send-keys", "-t", "lc", "Enter")
	screen := tp.waitScreen("the result", has("exit="))
	text := strings.Join(screen, "\n")
	if strings.Contains(text, "typed-secret") || !strings.Contains(text, "account carol created") || !strings.Contains(text, "exit=0") {
		t.Fatalf("screen:\n%s", text)
	}
	run("dave")
	tp.waitScreen("the prompt", has("Password for dave:"))
	tp.tmux("send-keys", "-t", "lc", "-l", "one-password")
	tp.tmux("send-keys", "-t", "lc", "Enter")
	tp.waitScreen("the second prompt", has("Same password again:"))
	tp.tmux("send-keys", "-t", "lc", "-l", "another-one")
	tp.tmux("send-keys", "-t", "lc", "Enter")
	text = strings.Join(tp.waitScreen("the result", has("exit=")), "\n")
	if !strings.Contains(text, "the two passwords differ") || !strings.Contains(text, "exit=2") {
		t.Errorf("screen:\n%s", text)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "users", "dave.toml")); !os.IsNotExist(err) {
		t.Errorf("dave was created after two different passwords (%v)", err)
	}
}
