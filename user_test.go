package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// passLogin logs in with PASS account:password, asking for caps first, and returns the
// client after the welcome and everything its login caused (sync).
func passLogin(t *testing.T, addr, nick, password, caps string) *ircClient {
	t.Helper()
	c := dialIRC(t, addr, nick)
	if caps != "" {
		c.send("CAP LS 302")
		c.send("CAP REQ :%s", caps)
		c.expect("CAP \\S+ ACK")
		c.send("CAP END")
	}
	c.send("PASS %s:%s", nick, password)
	c.send("NICK %s", nick)
	c.send("USER %s 0 * :%s", nick, nick)
	c.expect(" 001 ")
	return c
}

// lobbyConfig requires logins and puts everyone in #lobby, as a lab server does. The lobby
// is not quiet (+u) here, so that any JOIN, PART or QUIT noise would show.
func lobbyConfig(t *testing.T) ServerConfig {
	cfg := loginRequiredConfig(t)
	cfg.DefaultRoom = "#lobby"
	cfg.DefaultRoomQuiet = false
	return cfg
}

// noLine fails if a line matches pattern.
func noLine(t *testing.T, who string, lines []string, pattern string) {
	t.Helper()
	re := regexp.MustCompile(pattern)
	for _, l := range lines {
		if re.MatchString(l) {
			t.Errorf("%s got %q; want no line matching %s", who, l, pattern)
		}
	}
}

// connections returns how many connections the account's user has (0: offline).
func connections(s *Server, account string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if u := s.accountUsers[casefold(account)]; u != nil {
		return len(u.sessions)
	}
	return 0
}

// waitConnections waits until the account has n connections, or fails at the deadline.
func waitConnections(t *testing.T, s *Server, account string, n int) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for connections(s, account) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d connections after %v; want %d", account, connections(s, account), ioTimeout, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// twoAlices starts a lobby server with accounts alice and bob: bob (watching alice with
// MONITOR, away-notify and extended-monitor) and a first alice connection are online.
func twoAlices(t *testing.T) (ts *testServer, alice1, bob *ircClient) {
	t.Helper()
	ts = startServer(t, lobbyConfig(t), "")
	alice1 = registerAccount(t, ts.addr, "alice", "alicepw1")
	bob = registerAccount(t, ts.addr, "bob", "bobpw123")
	bob.send("CAP REQ :away-notify extended-monitor")
	bob.expect("CAP \\S+ ACK")
	bob.send("MONITOR + alice")
	bob.expect(" 730 bob :alice!")
	bob.sync()
	alice1.sync()
	return ts, alice1, bob
}

func TestSecondConnectionJoinsTheAccountQuietly(t *testing.T) {
	ts, alice1, bob := twoAlices(t)

	alice2 := passLogin(t, ts.addr, "alice", "alicepw1", "")
	alice2.expect(`NOTICE alice :Previous login: \S+ from 127\.0\.0\.1$`)
	alice2.expect(`NOTICE alice :Also connected to this account: 1 other connection \(127\.0\.0\.1 since \d\d:\d\d:\d\d UTC\)`)
	alice2.expect(`^:alice!\S+ JOIN #lobby`) // its own join of the default room
	alice2.expect(` 353 alice = #lobby :`)
	alice2.sync()
	if n := connections(ts.Server, "alice"); n != 2 {
		t.Fatalf("alice has %d connections; want 2 (the first one stays)", n)
	}
	// Nobody saw alice join, come online or quit, not even her first connection.
	noLine(t, "bob", bob.sync(), `alice.* (JOIN|PART|QUIT)| 73[01] `)
	noLine(t, "alice1", alice1.sync(), `(JOIN|PART|QUIT|ERROR)`)

	// NAMES and WHO list the nick once.
	bob.send("NAMES #lobby")
	names := bob.expect(` 353 bob = #lobby :`)
	n := 0
	for _, name := range strings.Fields(names.Params[3]) {
		if strings.TrimLeft(name, "@+") == "alice" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("NAMES #lobby = %q: alice listed %d times; want once", names.Params[3], n)
	}
	lines := bob.sync()
	bob.send("WHO #lobby")
	who := 0
	for _, l := range bob.sync() {
		if strings.Contains(l, " 352 bob #lobby ") && strings.Contains(l, " alice H") {
			who++
		}
	}
	if who != 1 {
		t.Errorf("WHO #lobby lists alice %d times; want once (%v)", who, lines)
	}
	bob.send("LIST #lobby")
	bob.expect(` 322 bob #lobby 2 `)
}

func TestDirectMessagesReachEveryConnection(t *testing.T) {
	ts, alice1, bob := twoAlices(t)
	alice1.send("CAP REQ :echo-message message-tags")
	alice1.expect("CAP \\S+ ACK")
	alice2 := passLogin(t, ts.addr, "alice", "alicepw1", "message-tags")
	alice2.sync()

	bob.send("PRIVMSG alice :hi alice, on both screens?")
	alice1.expect(`:bob!\S+ PRIVMSG alice :hi alice, on both screens\?`)
	alice2.expect(`:bob!\S+ PRIVMSG alice :hi alice, on both screens\?`)

	// What one connection sends shows on the other, in the echo-message form with the same
	// msgid; the sender gets its echo because it asked for echo-message.
	alice1.send("PRIVMSG bob :yes, sent from my PC")
	got := bob.expect(`:alice!\S+ PRIVMSG bob :yes, sent from my PC`)
	echo := alice1.expect(`:alice!\S+ PRIVMSG bob :yes, sent from my PC`)
	copy2 := alice2.expect(`:alice!\S+ PRIVMSG bob :yes, sent from my PC`)
	if echo.Tags["msgid"] == "" || copy2.Tags["msgid"] != echo.Tags["msgid"] {
		t.Errorf("msgid: echo %q, other connection %q; want the same, not empty", echo.Tags["msgid"], copy2.Tags["msgid"])
	}
	_ = got

	// A connection without echo-message gets no echo of its own, but the other one sees it.
	alice2.send("NOTICE bob :a notice from the laptop")
	bob.expect(`:alice!\S+ NOTICE bob :a notice from the laptop`)
	alice1.expect(`:alice!\S+ NOTICE bob :a notice from the laptop`)
	noLine(t, "alice2", alice2.sync(), `NOTICE bob :a notice`)

	// TAGMSG goes to the other connection too (it has message-tags).
	alice1.send("@+typing=active TAGMSG bob")
	alice2.expect(`^@\S*\+typing=active\S* :alice!\S+ TAGMSG bob`)

	// Room messages: the other connections in the room see them as members do.
	alice2.send("PRIVMSG #lobby :hello lobby")
	bob.expect(`:alice!\S+ PRIVMSG #lobby :hello lobby`)
	alice1.expect(`:alice!\S+ PRIVMSG #lobby :hello lobby`)
	noLine(t, "alice2", alice2.sync(), `PRIVMSG #lobby :hello lobby`)
}

func TestRoomMembershipIsPerConnection(t *testing.T) {
	ts, alice1, bob := twoAlices(t)
	alice2 := passLogin(t, ts.addr, "alice", "alicepw1", "")
	alice2.sync()
	bob.send("JOIN #lab")
	bob.expect(`JOIN #lab`)
	bob.sync()

	alice2.send("JOIN #lab")
	alice2.expect(`^:alice!\S+ JOIN #lab`)
	bob.expect(`^:alice!\S+ JOIN #lab`) // the first of alice's connections in #lab
	noLine(t, "alice1", alice1.sync(), `#lab`)

	bob.send("PRIVMSG #lab :only for #lab")
	alice2.expect(`PRIVMSG #lab :only for #lab`)
	noLine(t, "alice1", alice1.sync(), `#lab`) // not in #lab: membership is per connection

	alice1.send("JOIN #lab")
	alice1.expect(`^:alice!\S+ JOIN #lab`)
	alice1.expect(` 366 alice #lab `)
	noLine(t, "bob", bob.sync(), `alice\S* JOIN`)
	noLine(t, "alice2", alice2.sync(), `JOIN`)

	alice2.send("PART #lab :laptop leaves")
	alice2.expect(`^:alice!\S+ PART #lab :laptop leaves`)
	alice2.sync()
	noLine(t, "bob", bob.sync(), `alice\S* PART`) // alice is still in #lab on her PC
	bob.send("NAMES #lab")
	bob.expect(` 353 bob = #lab :.*alice`)

	// A kick takes all of the user's connections out; ops are the user's.
	bob.send("MODE #lab +o alice")
	alice1.expect(`MODE #lab \+o alice`)
	alice2.send("JOIN #lab")
	alice2.expect(` 353 alice = #lab :.*@alice`)
	bob.send("MODE #lab -o alice")
	alice1.expect(`MODE #lab -o alice`)
	alice2.expect(`MODE #lab -o alice`)
	bob.send("KICK #lab alice :out")
	alice1.expect(`KICK #lab alice :out`)
	alice2.expect(`KICK #lab alice :out`)
	bob.send("NAMES #lab")
	if names := bob.expect(` 353 bob = #lab :`); strings.Contains(names.Params[3], "alice") {
		t.Errorf("after KICK, NAMES #lab = %q", names.Params[3])
	}

	// When a connection ends while the user stays online, the rooms where it was the user's
	// last one see it PART, not QUIT.
	alice2.send("JOIN #lab")
	bob.expect(`^:alice!\S+ JOIN #lab`)
	alice2.send("QUIT :closing the laptop")
	alice2.expectClosed()
	bob.expect(`^:alice!\S+ PART #lab :Quit: closing the laptop`)
	noLine(t, "bob", bob.sync(), `QUIT`)
}

func TestAwayIsTheAccountsAndPresenceLastsWhileOneIsConnected(t *testing.T) {
	ts, alice1, bob := twoAlices(t)
	alice2 := passLogin(t, ts.addr, "alice", "alicepw1", "")
	alice2.sync()

	alice1.send("AWAY :at lunch")
	alice1.expect(` 306 alice `)
	alice2.expect(` 306 alice `) // set on one, shown on all
	bob.expect(`^:alice!\S+ AWAY :at lunch`)
	noLine(t, "bob", bob.sync(), `AWAY`) // once, not once per connection
	bob.send("PRIVMSG alice :are you there?")
	bob.expect(` 301 bob alice :at lunch`)

	// A third connection starts away, and is told so.
	alice3 := passLogin(t, ts.addr, "alice", "alicepw1", "")
	alice3.expect(` 306 alice :You have been marked as being away \(set on another connection: at lunch\)`)
	alice3.send("QUIT")
	alice3.expectClosed()

	alice1.send("QUIT :PC off")
	alice1.expectClosed()
	waitConnections(t, ts.Server, "alice", 1)
	lines := bob.sync()
	noLine(t, "bob", lines, `QUIT| 731 |AWAY`) // alice is still online, still away
	bob.send("MONITOR S")
	bob.expect(` 730 bob :alice!`)
	bob.send("WHOIS alice")
	bob.expect(` 301 bob alice :at lunch`)

	alice2.send("AWAY")
	alice2.expect(` 305 alice `)
	bob.expect(`^:alice!\S+ AWAY$`)

	alice2.send("QUIT :laptop off")
	alice2.expectClosed()
	bob.expect(`^:alice!\S+ QUIT :Quit: laptop off`)
	bob.expect(` 731 bob :alice$`)
}

func TestScriptRunAsAliceMakesNoNoise(t *testing.T) {
	ts := startServer(t, lobbyConfig(t), "")
	data := t.TempDir()
	registerViaCLI(t, ts.addr, data, "alice", "alicepw1")
	registerViaCLI(t, ts.addr, data, "bob", "bobpw123")
	alice := passLogin(t, ts.addr, "alice", "alicepw1", "")
	alice.expect(` 366 alice #lobby `)
	alice.sync()
	bob := passLogin(t, ts.addr, "bob", "bobpw123", "away-notify extended-monitor")
	bob.expect(` 366 bob #lobby `)
	bob.send("MONITOR + alice")
	bob.expect(` 730 bob :alice!`)
	bob.sync()
	alice.sync()

	res := runCLI(t, clientTestTimeout, "built at 12:00, all tests pass\n", clientEnv(data, "alicepw1"), "connect", ts.addr, "--user", "alice", "--to", "bob")
	if res.code != exitOK {
		t.Fatalf("script as alice: exit %d, stderr %s", res.code, res.stderr)
	}
	bob.expect(`^:alice!\S+ PRIVMSG bob :built at 12:00, all tests pass`)
	alice.expect(`^:alice!\S+ PRIVMSG bob :built at 12:00, all tests pass`) // her PC shows it too
	waitConnections(t, ts.Server, "alice", 1)
	noLine(t, "bob", bob.sync(), `alice\S* (JOIN|PART|QUIT)| 73[01] `)
	noLine(t, "alice", alice.sync(), `(JOIN|PART|QUIT|ERROR)`)
}

func TestOldestConnectionClosedBeyondTheLimit(t *testing.T) {
	cfg := lobbyConfig(t)
	cfg.MaxConnectionsPerAccount = 2
	ts := startServer(t, cfg, "")
	first := registerAccount(t, ts.addr, "alice", "alicepw1")
	bob := registerAccount(t, ts.addr, "bob", "bobpw123")
	bob.sync()
	second := passLogin(t, ts.addr, "alice", "alicepw1", "")
	second.sync()
	noLine(t, "first", first.sync(), `ERROR`) // within the limit, nobody is closed

	third := passLogin(t, ts.addr, "alice", "alicepw1", "")
	if e := first.expectClosed(); !strings.Contains(e, "max_connections_per_account = 2") {
		t.Errorf("oldest connection closed with %q; want the reason naming max_connections_per_account", e)
	}
	third.sync()
	waitConnections(t, ts.Server, "alice", 2)
	noLine(t, "bob", bob.sync(), `alice\S* (PART|QUIT)`)
	noLine(t, "second", second.sync(), `ERROR`)
	bob.send("PRIVMSG alice :still there?")
	second.expect(`PRIVMSG alice :still there\?`)
	third.expect(`PRIVMSG alice :still there\?`)
}

func TestOfflineQueueAndPreviousLoginWithSeveralConnections(t *testing.T) {
	ts := startServer(t, lobbyConfig(t), "")
	registerAccount(t, ts.addr, "alice", "alicepw1").send("QUIT")
	waitConnections(t, ts.Server, "alice", 0)
	bob := registerAccount(t, ts.addr, "bob", "bobpw123")
	bob.send("PRIVMSG alice :while you were out")
	bob.expect(`NOTICE bob :alice is offline; message stored`)
	bob.send("PRIVMSG alice :\x01CALL 0badcafe RING\x01") // a call that rings out: a missed call at login
	bob.expect(`NOTICE bob :alice is offline; message stored`)

	pc := passLogin(t, ts.addr, "alice", "alicepw1", "")
	pc.expect(`NOTICE alice :Previous login: \S+ from 127\.0\.0\.1$`)
	pc.expect(`:bob PRIVMSG alice :.*while you were out`)
	pc.expect(`:bob PRIVMSG alice :.*CALL 0badcafe RING`)
	noLine(t, "pc", pc.sync(), `Also connected`)
	waitQueueEmpty(t, ts.Server, "alice")

	laptop := passLogin(t, ts.addr, "alice", "alicepw1", "")
	lines := laptop.sync()
	noLine(t, "laptop", lines, `while you were out|CALL`) // delivered once, to the first login
	found := false
	for _, l := range lines {
		if regexp.MustCompile(`NOTICE alice :Previous login: \S+ from 127\.0\.0\.1$`).MatchString(l) {
			found = true
		}
	}
	if !found {
		t.Errorf("laptop login: no previous-login line in %q", lines)
	}
	// While a connection is online, messages are relayed, not queued.
	bob.send("PRIVMSG alice :now you are here")
	pc.expect(`PRIVMSG alice :now you are here`)
	laptop.expect(`PRIVMSG alice :now you are here`)
	noLine(t, "bob", bob.sync(), `offline`)
}

// waitQueueEmpty waits until the account's offline queue file is trimmed away.
func waitQueueEmpty(t *testing.T, s *Server, account string) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for {
		s.offline.mu.Lock()
		entries, _, err := s.offline.read(account)
		s.offline.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("offline queue of %s still holds %d entries", account, len(entries))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNickChangeRenamesEveryConnection(t *testing.T) {
	ts, alice1, bob := twoAlices(t)
	alice2 := passLogin(t, ts.addr, "alice", "alicepw1", "")
	alice2.sync()
	alice2.send("NICK alicia")
	alice2.expect(`^:alice!\S+ NICK :?alicia`)
	alice1.expect(`^:alice!\S+ NICK :?alicia`)
	bob.expect(`^:alice!\S+ NICK :?alicia`)
	noLine(t, "bob", bob.sync(), `NICK`) // once
	alice1.send("PRIVMSG bob :renamed on the laptop")
	bob.expect(`^:alicia!\S+ PRIVMSG bob :renamed on the laptop`)
	bob.send("PRIVMSG alicia :both?")
	alice1.expect(`PRIVMSG alicia :both\?`)
	alice2.expect(`PRIVMSG alicia :both\?`)

	// Renames from both connections at once leave one nick for the user, whichever won.
	alice1.send("NICK ali1")
	alice2.send("NICK ali2")
	alice1.sync()
	alice2.sync()
	ts.mu.RLock()
	u := ts.accountUsers["alice"]
	var keys []string
	for k, v := range ts.nicks {
		if v == u {
			keys = append(keys, k)
		}
	}
	nick := u.nick
	ts.mu.RUnlock()
	if len(keys) != 1 || keys[0] != nick {
		t.Errorf("after two renames at once the user is under %q, nick %q; want one key, its nick", keys, nick)
	}
	bob.send("WHOIS %s", nick)
	bob.expect(" 311 bob " + nick + " ")
}

// Issue 9 item 2: a connection that sends only NICK alice must not keep alice out.
func TestNickSquatterCannotKeepTheOwnerOut(t *testing.T) {
	for _, tc := range []struct {
		login        string
		requireLogin bool
	}{{"SASL", true}, {"PASS", true}, {"SASL", false}, {"PASS", false}} {
		t.Run(fmt.Sprintf("%s,require_login=%v", tc.login, tc.requireLogin), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.RequireLogin = tc.requireLogin
			ts := startServer(t, cfg, "")
			registerAccount(t, ts.addr, "alice", "alicepw1").send("QUIT")
			waitConnections(t, ts.Server, "alice", 0)

			squatter := dialIRC(t, ts.addr, "squatter")
			squatter.send("NICK alice")
			squatter.sync()

			var owner *ircClient
			if tc.login == "SASL" {
				owner = saslLogin(t, ts.addr, "alice", "alicepw1")
			} else {
				owner = passLogin(t, ts.addr, "alice", "alicepw1", "")
			}
			owner.send("WHOIS alice")
			owner.expect(" 311 alice alice ")

			// The squatter never gets the nick: completing registration is refused (433, or
			// "log in first" where logins are required).
			squatter.send("USER x 0 * :x")
			if tc.requireLogin {
				squatter.expect(`FAIL \* ACCOUNT_REQUIRED`)
			} else {
				squatter.expect(` 433 \* alice :Nickname is registered`)
			}
			noLine(t, "squatter", squatter.sync(), ` 001 `)
		})
	}
	t.Run("guest", func(t *testing.T) {
		// With guests allowed, a guest cannot take an account's nick either, online or not.
		ts := startServer(t, testConfig(t), "")
		alice := registerAccount(t, ts.addr, "alice", "alicepw1")
		g := dialIRC(t, ts.addr, "guest")
		g.send("NICK alice")
		g.send("USER x 0 * :x")
		g.expect(` 433 \* alice `)
		g.send("NICK mallory")
		g.expect(` 001 mallory `)
		g.send("NICK alice")
		g.expect(` 433 mallory alice `)
		g.send("PRIVMSG alice :it is me, mallory")
		alice.expect(`:mallory!\S+ PRIVMSG alice :it is me, mallory`)
	})
}

func TestLoginAfterWelcomeToAnAccountOnline(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	registerAccount(t, ts.addr, "alice", "alicepw1")
	g := guest(t, ts.addr, "zed")
	g.send("CAP REQ sasl")
	g.expect("CAP \\S+ ACK")
	g.send("AUTHENTICATE PLAIN")
	g.expect(`^AUTHENTICATE \+`)
	g.send("AUTHENTICATE %s", "YWxpY2UAYWxpY2UAYWxpY2VwdzE=") // alice\0alice\0alicepw1
	g.expect(` 904 zed :SASL authentication failed: account alice is online from another connection`)
	if n := connections(ts.Server, "alice"); n != 1 {
		t.Errorf("alice has %d connections; want 1", n)
	}
}

func TestKillInviteAndLimitTreatTheUserAsOne(t *testing.T) {
	ts := startServer(t, operConfig(t), "")
	op := guest(t, ts.addr, "op")
	operUp(op)
	pc := registerAccount(t, ts.addr, "alice", "alicepw1")
	laptop := passLogin(t, ts.addr, "alice", "alicepw1", "")
	laptop.sync()
	bob := guest(t, ts.addr, "bob")

	// +l counts users: alice on two connections is one member of three.
	bob.send("JOIN #lab")
	bob.expect(" 366 bob #lab ")
	bob.send("MODE #lab +il 3")
	bob.expect(`MODE #lab \+il 3`)
	bob.send("INVITE alice #lab")
	bob.expect(` 341 bob alice :?#lab`)
	pc.expect(`:bob!\S+ INVITE alice #lab`)
	laptop.expect(`:bob!\S+ INVITE alice #lab`)
	pc.send("JOIN #lab")
	pc.expect(` 366 alice #lab `)
	laptop.send("JOIN #lab") // the user is in: no refusal, and still room for a third user
	laptop.expect(` 366 alice #lab `)
	bob.send("INVITE op #lab")
	op.send("JOIN #lab")
	op.expect(` 366 op #lab `)

	op.send("KILL alice :testing")
	for _, c := range []*ircClient{pc, laptop} {
		if e := c.expectClosed(); !strings.Contains(e, "Killed by op (testing)") {
			t.Errorf("%s closed with %q; want the KILL reason", c.name, e)
		}
	}
	bob.expect(`^:alice!\S+ QUIT :Killed by op \(testing\)`)
	waitConnections(t, ts.Server, "alice", 0)
}

func TestQuietRoomStaysQuietWithSeveralConnections(t *testing.T) {
	cfg := lobbyConfig(t)
	cfg.DefaultRoomQuiet = true
	ts := startServer(t, cfg, "")
	alice := registerAccount(t, ts.addr, "alice", "alicepw1")
	bob := registerAccount(t, ts.addr, "bob", "bobpw123")
	bob.sync()
	alice.sync()
	laptop := passLogin(t, ts.addr, "alice", "alicepw1", "")
	laptop.expect(` 366 alice #lobby `)
	laptop.send("QUIT")
	laptop.expectClosed()
	waitConnections(t, ts.Server, "alice", 1)
	noLine(t, "bob", bob.sync(), `alice\S* (JOIN|PART|QUIT)`)
}
