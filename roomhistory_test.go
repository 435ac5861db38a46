package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// sayIn sends a room message and waits for its echo (historyCaps has echo-message), so it is
// logged before the test goes on.
func sayIn(c *ircClient, room, text string) {
	c.t.Helper()
	c.send("PRIVMSG %s :%s", room, text)
	c.expect("PRIVMSG " + room + " :" + text + "$")
}

func joinRoom(c *ircClient, room string) {
	c.t.Helper()
	c.send("JOIN %s", room)
	c.expect(" 366 " + c.name + " " + room + " ")
}

// A room that empties keeps its history (issue 16 dropped "a room that empties starts
// without history"): what was said while it was public is for whoever may join it.
func TestEmptiedRoomKeepsHistory(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	alice, _ := capsLogin(t, ts.addr, "alice", "", historyCaps)
	bob, _ := capsLogin(t, ts.addr, "bob", "", historyCaps)
	joinRoom(alice, "#exam")
	sayIn(alice, "#exam", "answers: 42")
	bob.send("CHATHISTORY LATEST #exam * 10") // not a member
	bob.expect("FAIL CHATHISTORY INVALID_TARGET LATEST #exam ")
	alice.send("PART #exam") // the room empties and is gone
	alice.expect("PART #exam")
	joinRoom(bob, "#exam")
	if got := texts(historyBatch(t, bob, "CHATHISTORY LATEST #exam * 10")); got != "answers: 42" {
		t.Errorf("the room joined again shows %q, want its history", got)
	}
	sayIn(bob, "#exam", "new room")
	joinRoom(alice, "#exam")
	if got := texts(historyBatch(t, alice, "CHATHISTORY LATEST #exam * 10")); got != "answers: 42|new room" {
		t.Errorf("alice reads %q, want all of it", got)
	}
	// The log still holds both: the rule is about reading, and `labchat history` is the
	// instructor's view of the files.
	if lines := logLines(t, ts.dir, "room-exam"); len(lines) != 2 {
		t.Errorf("log lines = %q, want both messages kept", lines)
	}
}

func TestBannedMemberGetsNoHistory(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	op, _ := capsLogin(t, ts.addr, "op", "", historyCaps)
	eve, _ := capsLogin(t, ts.addr, "eve", "", historyCaps)
	joinRoom(op, "#lab")
	joinRoom(eve, "#lab")
	sayIn(op, "#lab", "hello")
	if got := texts(historyBatch(t, eve, "CHATHISTORY LATEST #lab * 10")); got != "hello" {
		t.Fatalf("eve reads %q before the ban", got)
	}
	op.send("MODE #lab +b eve")
	eve.expect(`MODE #lab \+b eve!\*@\*$`)
	eve.send("CHATHISTORY LATEST #lab * 10")
	eve.expect("FAIL CHATHISTORY INVALID_TARGET LATEST #lab ")
	eve.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z 10")
	eve.expect(`BATCH \+\S+ draft/chathistory-targets`)
	if lines := eve.sync(); len(lines) != 1 {
		t.Errorf("a banned member's TARGETS lists %q, want no room", lines)
	}
}

func TestPrivateRoomHistoryIsForWhoWasThere(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	op, _ := capsLogin(t, ts.addr, "op", "", historyCaps)
	joinRoom(op, "#s")
	sayIn(op, "#s", "public before")
	op.send("MODE #s +s")
	op.expect(`MODE #s \+s$`)
	sayIn(op, "#s", "secret 1")
	carol, _ := capsLogin(t, ts.addr, "carol", "", historyCaps)
	joinRoom(carol, "#s") // +s without +i: anyone may join, but not read the secret past
	if got := texts(historyBatch(t, carol, "CHATHISTORY LATEST #s * 10")); got != "public before" {
		t.Errorf("a member who joined the +s room later reads %q, want only what was said while public", got)
	}
	sayIn(op, "#s", "secret 2")
	if got := texts(historyBatch(t, carol, "CHATHISTORY LATEST #s * 10")); got != "public before|secret 2" {
		t.Errorf("carol reads %q, want what was said since she joined", got)
	}
	if got := texts(historyBatch(t, op, "CHATHISTORY LATEST #s * 10")); got != "public before|secret 1|secret 2" {
		t.Errorf("the founder reads %q, want everything", got)
	}
	// LATEST counts only visible messages: the newest one carol may read.
	if got := texts(historyBatch(t, carol, "CHATHISTORY BEFORE #s timestamp=2100-01-01T00:00:00.000Z 1")); got != "secret 2" {
		t.Errorf("BEFORE ... 1 = %q", got)
	}
	op.send("MODE #s -s")
	op.expect(`MODE #s -s$`)
	sayIn(op, "#s", "public after")
	dave, _ := capsLogin(t, ts.addr, "dave", "", historyCaps)
	joinRoom(dave, "#s")
	if got := texts(historyBatch(t, dave, "CHATHISTORY LATEST #s * 10")); got != "public before|public after" {
		t.Errorf("a later member reads %q, want the public parts only", got)
	}

	// +i and +k are private too; an INVITE lets a student in, not into the past.
	op.send("MODE #s +i")
	op.expect(`MODE #s \+i$`)
	sayIn(op, "#s", "invite-only talk")
	stu, _ := capsLogin(t, ts.addr, "stu", "", historyCaps)
	op.send("INVITE stu #s")
	stu.expect("INVITE stu #s")
	joinRoom(stu, "#s")
	if got := texts(historyBatch(t, stu, "CHATHISTORY LATEST #s * 10")); got != "public before|public after" {
		t.Errorf("an invited student reads %q", got)
	}
	op.send("MODE #s -i+k key1")
	op.expect(`MODE #s -i\+k key1$`)
	sayIn(op, "#s", "keyed talk")
	eve, _ := capsLogin(t, ts.addr, "eve", "", historyCaps)
	eve.send("JOIN #s key1")
	eve.expect(" 366 eve #s ")
	if got := texts(historyBatch(t, eve, "CHATHISTORY LATEST #s * 10")); got != "public before|public after" {
		t.Errorf("a member who came with the key reads %q", got)
	}
}

func TestRoomHistoryAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testConfig(t), dir)
	a, _ := capsLogin(t, ts.addr, "alice", "", historyCaps)
	joinRoom(a, "#open")
	sayIn(a, "#open", "kept across the restart")
	joinRoom(a, "#priv")
	sayIn(a, "#priv", "said before it went private")
	a.send("MODE #priv +i")
	a.expect(`MODE #priv \+i$`)
	joinRoom(a, "#gone")
	sayIn(a, "#gone", "said before it emptied")
	a.send("PART #gone")
	a.expect("PART #gone")
	joinRoom(a, "#silent") // nothing said: nothing to hide, no directory left behind
	a.send("PART #silent")
	a.expect("PART #silent")
	joinRoom(a, "#again") // emptied, then created again: the new room says where it begins
	sayIn(a, "#again", "first room")
	a.send("PART #again")
	a.expect("PART #again")
	joinRoom(a, "#again")
	sayIn(a, "#again", "second room")
	ts.stop(t)
	// Turning private writes the spells file (roomhistory.go), not history-from.
	if data, err := os.ReadFile(filepath.Join(dir, "logs", "room-priv", spellsFile)); err != nil || !regexp.MustCompile(`(?m)^private \d{4}-\d\d-\d\d\.log [1-9]\d* \.$`).Match(data) {
		t.Errorf("room-priv/spells = %q, %v; want the position where it turned private", data, err)
	}
	for room, want := range map[string]string{"room-open": "", "room-priv": "", "room-gone": "", "room-again": ""} {
		data, err := os.ReadFile(filepath.Join(dir, "logs", room, historyFromFile))
		switch got := string(data); {
		case want == "" && !os.IsNotExist(err):
			t.Errorf("%s/history-from = %q, %v; want no file (a room that went on)", room, got, err)
		case want == "pos" && (err != nil || !regexp.MustCompile(`^\d{4}-\d\d-\d\d\.log [1-9]\d*\n$`).MatchString(got)):
			t.Errorf("%s/history-from = %q, %v; want the log position where the room began", room, got, err)
		case want != "" && want != "pos" && got != want:
			t.Errorf("%s/history-from = %q, %v; want %q", room, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "logs", "room-silent")); !os.IsNotExist(err) {
		t.Errorf("a room where nothing was said left a directory: %v", err)
	}

	ts = startServer(t, testConfig(t), dir)
	b, _ := capsLogin(t, ts.addr, "bob", "", historyCaps)
	// #priv is still +i: its modes are kept (roomstate.go), and bob is no member.
	b.send("JOIN #priv")
	b.expect(" 473 bob #priv ")
	for room, want := range map[string]string{"#open": "kept across the restart", "#gone": "said before it emptied", "#again": "first room|second room"} {
		joinRoom(b, room)
		if got := texts(historyBatch(t, b, "CHATHISTORY LATEST "+room+" * 10")); got != want {
			t.Errorf("after a restart %s shows %q, want %q", room, got, want)
		}
	}
}
