package main

// Presence over raw sockets: AWAY and away-notify, MONITOR and extended-monitor,
// account-notify, and the default room.

import (
	"encoding/base64"
	"strings"
	"testing"
)

// guestWithCaps registers without an account after requesting caps (space-separated).
func guestWithCaps(t testing.TB, addr, nick, caps string) *ircClient {
	t.Helper()
	c, _ := capsLogin(t, addr, nick, "", caps)
	return c
}

// noLineMatches syncs c and fails if anything that arrived meanwhile contains what.
func noLineMatches(t *testing.T, c *ircClient, what string) {
	t.Helper()
	for _, l := range c.sync() {
		if strings.Contains(l, what) {
			t.Errorf("%s got %q; want no %q", c.name, l, what)
		}
	}
}

func TestAwayNotifyAndAwayReplies(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	alice := guestWithCaps(t, ts.addr, "alice", "away-notify")
	bob := guest(t, ts.addr, "bob")
	carol := guest(t, ts.addr, "carol") // no away-notify: hears nothing
	for _, c := range []*ircClient{alice, bob, carol} {
		c.send("JOIN #lab")
		c.sync()
	}
	alice.sync()

	bob.send("AWAY :at lunch")
	bob.expect(" 306 bob :")
	if m := alice.expect(` AWAY `); !strings.HasPrefix(m.Source, "bob!") || len(m.Params) != 1 || m.Params[0] != "at lunch" {
		t.Errorf("away-notify = %+v; want :bob!... AWAY :at lunch", m)
	}
	noLineMatches(t, carol, "AWAY")
	noLineMatches(t, bob, "AWAY") // the away user is not told of itself

	alice.send("PRIVMSG bob :hi")
	alice.expect(" 301 alice bob :at lunch$")
	alice.send("NOTICE bob :hi") // NOTICE never triggers automatic replies
	noLineMatches(t, alice, " 301 ")
	alice.send("WHOIS bob")
	alice.expect(" 301 alice bob :at lunch$")
	alice.send("WHO #lab")
	alice.expect(` 352 alice #lab \S+ \S+ \S+ bob G :0 bob$`)
	alice.send("USERHOST bob carol")
	alice.expect(` 302 alice :bob=-~bob@127\.0\.0\.1 carol=\+~carol@127\.0\.0\.1$`)

	bob.send("AWAY")
	bob.expect(" 305 bob :")
	if m := alice.expect(` AWAY`); !strings.HasPrefix(m.Source, "bob!") || len(m.Params) != 0 {
		t.Errorf("back notice = %+v; want :bob!... AWAY with no parameter", m)
	}
	alice.send("PRIVMSG bob :back?")
	noLineMatches(t, alice, " 301 ")

	// Someone already away who joins is announced to away-notify members.
	dave := guest(t, ts.addr, "dave")
	dave.send("AWAY :busy")
	dave.expect(" 306 ")
	dave.send("JOIN #lab")
	alice.expect(`:dave!\S+ JOIN #lab`)
	alice.expect(`:dave!\S+ AWAY :busy$`)
	noLineMatches(t, dave, "AWAY")
}

func TestMonitorPushesOnlineOfflineAwayBack(t *testing.T) {
	cfg := testConfig(t)
	cfg.MonitorLimit = 3
	ts := startServer(t, cfg, "")
	alice := guestWithCaps(t, ts.addr, "alice", "extended-monitor away-notify")
	alice.send("MONITOR + bob,Carol,*!*@*")
	alice.expect(" 731 alice :bob,Carol$")

	bob := guest(t, ts.addr, "bob")
	alice.expect(` 730 alice :bob!~bob@127\.0\.0\.1$`)

	bob.send("AWAY :lunch")
	alice.expect(`:bob!\S+ AWAY :lunch$`) // shares no room: extended-monitor carries it
	bob.send("AWAY")
	alice.expect(`:bob!\S+ AWAY$`)

	bob.send("NICK bobby")
	alice.expect(" 731 alice :bob$")
	bob.send("NICK BOB")
	alice.expect(` 730 alice :BOB!~bob@127\.0\.0\.1$`)
	bob.send("NICK Bob") // a change of case is no news
	bob.sync()
	noLineMatches(t, alice, " 73")

	alice.send("MONITOR L")
	alice.expect(" 732 alice :Carol,bob$")
	alice.expect(" 733 alice :")
	alice.send("MONITOR S")
	alice.expect(` 730 alice :Bob!~bob@127\.0\.0\.1$`)
	alice.expect(" 731 alice :Carol$")
	alice.send("MONITOR + dave,erin")
	alice.expect(" 731 alice :dave$")
	alice.expect(" 734 alice 3 erin :Monitor list is full")

	bob.send("QUIT :bye")
	alice.expect(" 731 alice :Bob$")

	alice.send("MONITOR - bob")
	alice.send("MONITOR C")
	alice.send("MONITOR L")
	alice.expect(" 733 alice :")
	guest(t, ts.addr, "carol")
	noLineMatches(t, alice, " 730 ")
}

func TestMonitorWithoutExtendedMonitorGetsNoAway(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	bob := guest(t, ts.addr, "bob")
	bob.send("AWAY :gone fishing")
	bob.expect(" 306 ")
	plain := guestWithCaps(t, ts.addr, "plain", "away-notify")
	plain.send("MONITOR + bob")
	plain.expect(` 730 plain :bob!`)
	ext := guestWithCaps(t, ts.addr, "ext", "extended-monitor away-notify")
	ext.send("MONITOR + bob")
	ext.expect(` 730 ext :bob!`)
	ext.expect(`:bob!\S+ AWAY :gone fishing$`) // the current state, as away-notify on join
	bob.send("AWAY")
	ext.expect(`:bob!\S+ AWAY$`)
	noLineMatches(t, plain, "AWAY")
}

func TestMonitorForgetsAWatcherThatQuits(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	alice := guest(t, ts.addr, "alice")
	alice.send("MONITOR + bob")
	alice.expect(" 731 ")
	alice.send("QUIT")
	alice.expectClosed()
	bob := guest(t, ts.addr, "bob")
	bob.sync()
	ts.mu.RLock()
	n := len(ts.watchers)
	ts.mu.RUnlock()
	if n != 0 {
		t.Errorf("%d nicks still watched after the only watcher quit", n)
	}
}

func TestAccountNotifyOnLateLogin(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	carol := registerAccount(t, ts.addr, "carol", "carol-pw")
	carol.send("QUIT")
	carol.expectClosed()
	alice := guestWithCaps(t, ts.addr, "alice", "account-notify")
	g := guest(t, ts.addr, "g1")
	alice.send("JOIN #lab")
	alice.sync()
	g.send("JOIN #lab")
	alice.expect(`:g1!\S+ JOIN #lab`)
	g.send("CAP REQ :sasl")
	g.expect("ACK")
	g.send("AUTHENTICATE PLAIN")
	g.expect(`^AUTHENTICATE \+`)
	g.send("AUTHENTICATE %s", base64.StdEncoding.EncodeToString([]byte("carol\x00carol\x00carol-pw")))
	g.expect(" 903 ")
	alice.expect(`:g1!\S+ ACCOUNT carol$`)
}

func TestDefaultRoomIsJoinedAfterWelcome(t *testing.T) {
	cfg := testConfig(t)
	cfg.DefaultRoom = "#lobby"
	cfg.DefaultRoomQuiet = false // a plain lobby: members see each other arrive
	ts := startServer(t, cfg, "")
	alice := dialIRC(t, ts.addr, "alice")
	alice.send("NICK alice")
	alice.send("USER alice 0 * :alice")
	alice.expect(" 376 | 422 ") // the end of the welcome comes first
	alice.expect(`^:alice!\S+ JOIN #lobby$`)
	alice.expect(` 366 alice #lobby `)
	bob := guest(t, ts.addr, "bob")
	alice.expect(`^:bob!\S+ JOIN #lobby$`)
	bob.send("PRIVMSG #lobby :hello all")
	alice.expect(`:bob!\S+ PRIVMSG #lobby :hello all$`)

	for _, bad := range []string{"lobby", "#a b"} {
		cfg := testConfig(t)
		cfg.DefaultRoom = bad
		if _, err := NewServer(cfg, t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "default_room") {
			t.Errorf("default_room %q: err = %v; want it refused by name", bad, err)
		}
	}
	cfg = testConfig(t)
	cfg.MonitorLimit = 0
	if _, err := NewServer(cfg, t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "monitor_limit") {
		t.Errorf("monitor_limit 0: err = %v; want it refused by name", err)
	}
}

func TestISupportAdvertisesMonitorAndAwayLen(t *testing.T) {
	cfg := testConfig(t)
	cfg.MonitorLimit = 42
	ts := startServer(t, cfg, "")
	c := dialIRC(t, ts.addr, "x")
	c.send("NICK x")
	c.send("USER x 0 * :x")
	c.expect(` 005 x .*MONITOR=42`)
	long := strings.Repeat("a", maxAwayLen-1) + "é" // the limit falls inside the last rune
	c.send("AWAY :%s", long)
	c.expect(" 306 ")
	c.send("WHOIS x")
	m := c.expect(" 301 ")
	if got := m.Param(2); got != long[:maxAwayLen-1] {
		t.Errorf("away message of %d bytes kept as %d bytes; want %d, cut before the split rune", len(long), len(got), maxAwayLen-1)
	}
}
