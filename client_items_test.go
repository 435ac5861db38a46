package main

// The terminal client's list from issue 16, each through the real binary in tmux: keys,
// /kick and /topic, confirmations typed outside the room, a refused JOIN, one line per
// oper-up and per kill, a nick change, a locked account, and plain reconnect messages.

import (
	"regexp"
	"strings"
	"testing"
)

// countLines counts the screen lines matching pattern.
func (tp *tmuxPane) countLines(pattern string) int {
	re := regexp.MustCompile(pattern)
	n := 0
	for _, l := range tp.waitScreen("the screen", func([]string) bool { return true }) {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

func TestTerminalRoomCommandsKeysKickTopic(t *testing.T) {
	needTmux(t)
	cfg := loginRequiredConfig(t)
	cfg.Operators = []OperatorConfig{{Account: "teacher"}}
	ts := startServer(t, cfg, "")
	addr, data := ts.addr, t.TempDir()
	for _, u := range []string{"alice", "bob", "teacher"} {
		registerViaCLI(t, addr, data, u, u+"-pw-1")
	}
	teacher := startPane(t, addr, data, "teacher", "teacher-pw-1")
	teacher.shows(`you are now a server operator`)
	alice := startPane(t, addr, data, "alice", "alice-pw-1")
	bob := startPane(t, addr, data, "bob", "bob-pw-1")
	bob.tmux("set-option", "-t", "lc", "remain-on-exit", "on") // its last words stay on screen

	alice.typeLine("/join #lab")
	alice.waitScreen("alice in #lab", lastLineIs("[alice -> #lab] >"))
	alice.typeLine("/key sekrit")
	alice.shows(`alice set a key on #lab: joining needs /join #lab sekrit`)
	alice.typeLine("/topic week 5: sockets")
	alice.shows(`alice set the topic of #lab: week 5: sockets`)

	bob.typeLine("/join #lab")
	bob.shows(`you cannot join #lab without its key: /join #lab KEY`)
	bob.waitScreen("bob's prompt without #lab after the refused JOIN", lastLineIs("[bob] >"))
	bob.typeLine("/join #lab sekrit")
	bob.waitScreen("bob in #lab with the key", lastLineIs("[bob -> #lab] >"))
	bob.shows(`topic of #lab: week 5: sockets`)

	alice.typeLine("/kick bob please stop")
	bob.shows(`alice kicked you from #lab \(please stop\)`)
	alice.shows(`alice kicked bob from #lab \(please stop\)`)
	bob.waitScreen("bob's prompt after the kick", lastLineIs("[bob] >"))

	// Typed by an operator outside the room: the server's MODE goes to the members only,
	// so the client confirms in its own words.
	teacher.typeLine("/key #lab off")
	teacher.shows(`you removed the key of #lab`)
	teacher.typeLine("/limit #lab 10")
	teacher.shows(`you limited #lab to 10 members`)
	teacher.typeLine("/mode #lab +i")
	teacher.shows(`you made #lab invite-only`)
	teacher.typeLine("/ban #lab carol")
	teacher.shows(`you banned carol from #lab`)
	teacher.typeLine("/unban #lab carol")
	teacher.shows(`you lifted the ban on carol in #lab`)
	alice.shows(`teacher lifted the ban on carol in #lab`)
	if n := teacher.countLines(`now a server operator`); n != 1 {
		t.Errorf("'you are now a server operator' shown %d times at login; want once", n)
	}

	// A kill seen by the operator in a shared room: one line, not the QUIT and the notice.
	teacher.typeLine("/join #k")
	teacher.waitScreen("teacher in #k", lastLineIs("[teacher -> #k] >"))
	bob.typeLine("/join #k")
	teacher.shows(`bob joined #k`)
	teacher.typeLine("/kill bob enough")
	bob.shows(`teacher disconnected you from the server: enough`)
	teacher.shows(`you disconnected bob from the server \(enough\)`)
	teacher.typeLine("/whois teacher") // its answer comes after anything about the kill
	teacher.shows(`teacher is logged in as account teacher`)
	if n := teacher.countLines(`^\d\d:\d\d:\d\d .*(disconnected bob|bob quit|Killed bob)`); n != 1 {
		t.Errorf("the kill is shown %d times to the operator; want once", n)
	}
}

func TestTerminalNickChangeAndLockedAccount(t *testing.T) {
	needTmux(t)
	ts := startServer(t, loginRequiredConfig(t), "")
	addr, data := ts.addr, t.TempDir()
	registerViaCLI(t, addr, data, "bob", "bob-pw-12")
	registerViaCLI(t, addr, data, "tom", "tom-pw-12")
	bob := startPane(t, addr, data, "bob", "bob-pw-12")
	bob.tmux("set-option", "-t", "lc", "remain-on-exit", "on")
	bob.typeLine("/contacts add tom")
	tom := rawLogin(t, addr, "tom", "tom-pw-12")
	bob.shows(`tom is online`)

	// tom renames himself: to his contacts he is still there, and what is sent to his
	// account's name reaches him.
	tom.send("NICK tommy")
	tom.expect(`NICK :?tommy`)
	bob.typeLine("/msg tom are you there?")
	tom.expect(`PRIVMSG tommy :are you there\?`)
	bob.typeLine("/whois bob")
	bob.shows(`bob is logged in as account bob`)
	screen := strings.Join(bob.waitScreen("bob's screen", func([]string) bool { return true }), "\n")
	for _, bad := range []string{"went offline", "nobody called tom", "there is nobody"} {
		if strings.Contains(screen, bad) {
			t.Errorf("after tom's nick change bob's screen says %q:\n%s", bad, screen)
		}
	}

	// An administrator locks bob's account: bob is told so at once, without reconnecting.
	ts.accountsChanged(accountChanges{locked: []string{"bob"}})
	bob.shows(`your account bob was locked by the administrator, so the server disconnected you \(ask your instructor\)`)
	screen = strings.Join(bob.waitScreen("bob's screen", func([]string) bool { return true }), "\n")
	if strings.Contains(screen, "reconnecting") || strings.Contains(screen, "REGISTER") {
		t.Errorf("a locked account was told to reconnect or register:\n%s", screen)
	}
}

func TestTerminalReconnectMessagesArePlain(t *testing.T) {
	needTmux(t)
	ts := startServer(t, loginRequiredConfig(t), "")
	data := t.TempDir()
	registerViaCLI(t, ts.addr, data, "bob", "bob-pw-12")
	bob := startPane(t, ts.addr, data, "bob", "bob-pw-12")
	ts.stop(t)
	bob.shows(`reconnecting \.\.\.`)
	bob.shows(`not yet: the server 127\.0\.0\.1:\d+ is not accepting connections \(is it running\? connection refused\)`)
	screen := strings.Join(bob.waitScreen("bob's screen", func([]string) bool { return true }), "\n")
	for _, raw := range []string{"dial tcp", "connect: connection refused", "read tcp", ": EOF"} {
		if strings.Contains(screen, raw) {
			t.Errorf("the reconnect messages show a Go error (%q):\n%s", raw, screen)
		}
	}
}
