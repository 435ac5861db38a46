package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// targetsOf is the rooms and DMs a CHATHISTORY TARGETS over all time lists for c.
func targetsOf(t *testing.T, c *ircClient) string {
	t.Helper()
	c.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z 50")
	c.expect(`BATCH \+\S+ draft/chathistory-targets`)
	var names []string
	for {
		line, err := c.readLine()
		if err != nil {
			t.Fatalf("%s: TARGETS batch: %v", c.name, err)
		}
		m, _ := ParseMessage(line)
		if m.Command == "BATCH" {
			return strings.Join(names, ",")
		}
		if m.Command == "CHATHISTORY" {
			names = append(names, m.Param(1))
		}
	}
}

// The private part of a room that went public again stays private after a restart, and only
// that part: what was said before it and after it is for every member (issue 16 item 4; was:
// the restart showed only what came after the private spell).
func TestRoomPrivateSpellAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	ts := startServer(t, cfg, dir)
	registerAccount(t, ts.addr, "tom", "tom-password").quit()
	registerAccount(t, ts.addr, "ken", "ken-password").quit()
	tom, _ := capsLogin(t, ts.addr, "tom", "tom-password", historyCaps+" soju.im/search")
	joinRoom(tom, "#p")
	sayIn(tom, "#p", "public one")
	tom.send("MODE #p +i")
	tom.expect(`MODE #p \+i$`)
	sayIn(tom, "#p", "private")
	tom.send("MODE #p -i")
	tom.expect(`MODE #p -i$`)
	sayIn(tom, "#p", "public two")
	ts.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "logs", "room-p", historyFromFile)); !os.IsNotExist(err) {
		t.Errorf("turning private and public again wrote history-from (%v); the spells file says it", err)
	}

	for round := range 2 { // a second restart must not change it
		ts = startServer(t, cfg, dir)
		ken, lines := capsLogin(t, ts.addr, "ken", "ken-password", historyCaps+" soju.im/search")
		if lineIndex(lines, " 366 ken #p ") < 0 { // in the second round he remembers #p
			joinRoom(ken, "#p")
		}
		for cmd, want := range map[string]string{
			"CHATHISTORY LATEST #p * 10":                                                                      "public one|public two",
			"CHATHISTORY BEFORE #p timestamp=2100-01-01T00:00:00.000Z 10":                                     "public one|public two",
			"CHATHISTORY AFTER #p timestamp=2000-01-01T00:00:00.000Z 10":                                      "public one|public two",
			"CHATHISTORY BETWEEN #p timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z 10": "public one|public two",
			"CHATHISTORY BEFORE #p timestamp=2100-01-01T00:00:00.000Z 1":                                      "public two",
		} {
			if got := texts(historyBatch(t, ken, cmd)); got != want {
				t.Errorf("round %d: newcomer ken: %s = %q, want %q", round, cmd, got, want)
			}
		}
		all := historyBatch(t, ken, "CHATHISTORY LATEST #p * 10")
		if len(all) == 2 {
			around := "CHATHISTORY AROUND #p msgid=" + all[0].Tags["msgid"] + " 3"
			if got := texts(historyBatch(t, ken, around)); got != "public one|public two" {
				t.Errorf("round %d: ken: %s = %q", round, around, got)
			}
		}
		if got := searchTexts(searchResults(t, ken, "from=tom;in=#p")); strings.Join(got, "|") != "#p: public one|#p: public two" {
			t.Errorf("round %d: ken searches #p: %q", round, got)
		}
		tom, _ = capsLogin(t, ts.addr, "tom", "tom-password", historyCaps+" soju.im/search")
		if got := texts(historyBatch(t, tom, "CHATHISTORY LATEST #p * 10")); got != "public one|private|public two" {
			t.Errorf("round %d: tom, a member throughout, reads %q", round, got)
		}
		if got := searchTexts(searchResults(t, tom, "text=private")); strings.Join(got, "|") != "#p: private" {
			t.Errorf("round %d: tom searches: %q", round, got)
		}
		ts.stop(t)
	}
}

// A private room's members read its past after a restart, an offline member's part
// included; a student let in after the restart does not; a PART ends the membership across
// restarts (was: after a restart a private room's past was closed to everyone).
func TestPrivateRoomMembersAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	ts := startServer(t, cfg, dir)
	for _, a := range []string{"tom", "mei", "ken"} {
		registerAccount(t, ts.addr, a, a+"-password").quit()
	}
	login := func(name string) *ircClient {
		c, _ := capsLogin(t, ts.addr, name, name+"-password", historyCaps+" soju.im/search")
		return c
	}
	loginBack := func(name string) *ircClient { // an account that remembers #q is put back in it
		t.Helper()
		c, lines := capsLogin(t, ts.addr, name, name+"-password", historyCaps+" soju.im/search")
		if lineIndex(lines, " 366 "+name+" #q ") < 0 {
			t.Fatalf("%s is not put back in #q at login: %q", name, lines)
		}
		return c
	}
	tom := login("tom")
	joinRoom(tom, "#q")
	sayIn(tom, "#q", "before private")
	tom.send("MODE #q +i")
	tom.expect(`MODE #q \+i$`)
	mei := login("mei")
	tom.send("INVITE mei #q")
	mei.expect("INVITE mei #q")
	joinRoom(mei, "#q")
	sayIn(tom, "#q", "secret one")
	mei.quit()
	sayIn(tom, "#q", "while mei is offline")
	ts.stop(t)

	ts = startServer(t, cfg, dir)
	tom = loginBack("tom")
	sayIn(tom, "#q", "after the restart")
	mei = loginBack("mei")
	want := "before private|secret one|while mei is offline|after the restart"
	if got := texts(historyBatch(t, mei, "CHATHISTORY LATEST #q * 10")); got != want {
		t.Errorf("mei, a member since before the restart, reads %q, want %q", got, want)
	}
	if got := searchTexts(searchResults(t, mei, "text=secret")); strings.Join(got, "|") != "#q: secret one" {
		t.Errorf("mei searches: %q", got)
	}
	if got := texts(historyBatch(t, tom, "CHATHISTORY LATEST #q * 10")); got != want {
		t.Errorf("tom reads %q, want %q", got, want)
	}
	ken := login("ken")
	tom.send("INVITE ken #q")
	ken.expect("INVITE ken #q")
	joinRoom(ken, "#q")
	if got := texts(historyBatch(t, ken, "CHATHISTORY LATEST #q * 10")); got != "before private" {
		t.Errorf("ken, let in after the restart, reads %q, want only the public part", got)
	}
	if got := searchTexts(searchResults(t, ken, "from=tom;in=#q")); strings.Join(got, "|") != "#q: before private" {
		t.Errorf("ken searches #q: %q", got)
	}
	mei.send("PART #q")
	mei.expect("PART #q")
	sayIn(tom, "#q", "after mei left")
	ts.stop(t)

	ts = startServer(t, cfg, dir)
	tom = loginBack("tom")
	sayIn(tom, "#q", "second restart")
	mei = login("mei")
	tom.send("INVITE mei #q")
	mei.expect("INVITE mei #q")
	joinRoom(mei, "#q")
	if got := texts(historyBatch(t, mei, "CHATHISTORY LATEST #q * 10")); got != want {
		t.Errorf("mei, back after a PART and a restart, reads %q, want %q (not what was said after she left)", got, want)
	}
	ken = loginBack("ken") // ken remembers #q: a member while offline and across the restart
	if got := texts(historyBatch(t, ken, "CHATHISTORY LATEST #q * 10")); got != "before private|after mei left|second restart" {
		t.Errorf("ken reads %q", got)
	}
	if got := targetsOf(t, ken); !strings.Contains(got, "#q") {
		t.Errorf("ken's TARGETS = %q, want #q", got)
	}
}

// A newcomer to a room whose every earlier message is private is not told by TARGETS that
// the room has history.
func TestPrivatePastNotInTargetsAfterRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	ts := startServer(t, cfg, dir)
	registerAccount(t, ts.addr, "tom", "tom-password").quit()
	registerAccount(t, ts.addr, "ken", "ken-password").quit()
	tom, _ := capsLogin(t, ts.addr, "tom", "tom-password", historyCaps)
	joinRoom(tom, "#z")
	tom.send("MODE #z +s")
	tom.expect(`MODE #z \+s$`)
	sayIn(tom, "#z", "only secrets here")
	ts.stop(t)
	ts = startServer(t, cfg, dir)
	ken, _ := capsLogin(t, ts.addr, "ken", "ken-password", historyCaps)
	joinRoom(ken, "#z")
	if got := texts(historyBatch(t, ken, "CHATHISTORY LATEST #z * 10")); got != "" {
		t.Errorf("ken reads %q", got)
	}
	if got := targetsOf(t, ken); strings.Contains(got, "#z") {
		t.Errorf("ken's TARGETS = %q: lists a room whose past he may not read", got)
	}
	tom, lines := capsLogin(t, ts.addr, "tom", "tom-password", historyCaps)
	if lineIndex(lines, " 366 tom #z ") < 0 {
		t.Fatalf("tom is not put back in #z: %q", lines)
	}
	if got := targetsOf(t, tom); !strings.Contains(got, "#z") {
		t.Errorf("tom's TARGETS = %q, want #z", got)
	}
}

// A spells line the crash cut short is skipped, and the next line the server appends stands
// on its own; the room's private part stays private.
func TestRoomSpellsSurviveATornLine(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	ts := startServer(t, cfg, dir)
	registerAccount(t, ts.addr, "tom", "tom-password").quit()
	registerAccount(t, ts.addr, "ken", "ken-password").quit()
	tom, _ := capsLogin(t, ts.addr, "tom", "tom-password", historyCaps)
	joinRoom(tom, "#t")
	sayIn(tom, "#t", "public")
	tom.send("MODE #t +i")
	tom.expect(`MODE #t \+i$`)
	sayIn(tom, "#t", "secret")
	ts.stop(t)
	path := filepath.Join(dir, "logs", "room-t", spellsFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("part tom 2026-12-0") // a crash in the middle of the line
	f.Close()

	ts = startServer(t, cfg, dir)
	tom, lines := capsLogin(t, ts.addr, "tom", "tom-password", historyCaps)
	if lineIndex(lines, " 366 tom #t ") < 0 {
		t.Fatalf("tom is not put back in #t: %q", lines)
	}
	if got := texts(historyBatch(t, tom, "CHATHISTORY LATEST #t * 10")); got != "public|secret" {
		t.Errorf("tom reads %q after a torn line", got)
	}
	tom.send("MODE #t -i")
	tom.expect(`MODE #t -i$`)
	sayIn(tom, "#t", "public again")
	ts.stop(t)
	data, _ := os.ReadFile(path)
	if !regexp.MustCompile(`(?m)^part tom 2026-12-0\npublic \S+ \d+ \.\n$`).Match(data) {
		t.Errorf("spells file after the torn line:\n%s", data)
	}

	ts = startServer(t, cfg, dir)
	ken, _ := capsLogin(t, ts.addr, "ken", "ken-password", historyCaps)
	joinRoom(ken, "#t")
	if got := texts(historyBatch(t, ken, "CHATHISTORY LATEST #t * 10")); got != "public|public again" {
		t.Errorf("newcomer ken reads %q", got)
	}
}

// Data directories of earlier versions keep their meaning: history-from with a log position
// (written when a room went public again) shows the history from there, "none" (written when
// a room turned private, and by fb35a54 when a room emptied) shows none of it, and neither
// has a spells file.
func TestRoomHistoryFromEarlierVersions(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	ts := startServer(t, cfg, dir)
	a, _ := capsLogin(t, ts.addr, "alice", "", historyCaps)
	joinRoom(a, "#old")
	sayIn(a, "#old", "hidden by the position")
	day := time.Now().UTC().Format("2006-01-02") + ".log"
	info, err := os.Stat(filepath.Join(dir, "logs", "room-old", day))
	if err != nil {
		t.Fatal(err)
	}
	sayIn(a, "#old", "shown from the position")
	joinRoom(a, "#none")
	sayIn(a, "#none", "hidden by none")
	ts.stop(t)
	write := func(room, value string) {
		os.Remove(filepath.Join(dir, "logs", room, spellsFile))
		if err := os.WriteFile(filepath.Join(dir, "logs", room, historyFromFile), []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("room-old", day+" "+strconv.FormatInt(info.Size(), 10))
	write("room-none", "none")

	for round := range 2 {
		ts = startServer(t, cfg, dir)
		b, _ := capsLogin(t, ts.addr, "bob"+strconv.Itoa(round), "", historyCaps)
		joinRoom(b, "#old")
		joinRoom(b, "#none")
		if got := texts(historyBatch(t, b, "CHATHISTORY LATEST #old * 10")); got != "shown from the position" {
			t.Errorf("round %d: #old shows %q", round, got)
		}
		want := ""
		if round == 1 {
			want = "said after the upgrade"
		}
		if got := texts(historyBatch(t, b, "CHATHISTORY LATEST #none * 10")); got != want {
			t.Errorf("round %d: #none shows %q, want %q", round, got, want)
		}
		if round == 0 {
			sayIn(b, "#none", "said after the upgrade")
		}
		ts.stop(t)
	}
}

// A spells file that cannot be read or written (here a directory in its place) costs the
// room its earlier runs' history, for everyone, and nothing else: the server starts, the room
// works, and no private part is shown to the wrong reader, in this run or the next.
func TestRoomSpellsUnwritable(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	ts := startServer(t, cfg, dir)
	registerAccount(t, ts.addr, "tom", "tom-password").quit()
	tom, _ := capsLogin(t, ts.addr, "tom", "tom-password", historyCaps)
	joinRoom(tom, "#w")
	sayIn(tom, "#w", "public")
	tom.send("MODE #w +i")
	tom.expect(`MODE #w \+i$`)
	sayIn(tom, "#w", "secret")
	ts.stop(t)
	path := filepath.Join(dir, "logs", "room-w", spellsFile)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}

	ts = startServer(t, cfg, dir)
	tom, _ = capsLogin(t, ts.addr, "tom", "tom-password", historyCaps)
	if got := texts(historyBatch(t, tom, "CHATHISTORY LATEST #w * 10")); got != "" {
		t.Errorf("with its spells unreadable the room shows %q, want none of the earlier runs", got)
	}
	sayIn(tom, "#w", "said with the spells unwritable")
	ts.stop(t)
	if data, err := os.ReadFile(filepath.Join(dir, "logs", "room-w", historyFromFile)); err != nil || string(data) != "none\n" {
		t.Errorf("history-from = %q, %v; want none after failed spells writes", data, err)
	}
	ts = startServer(t, cfg, dir)
	tom, _ = capsLogin(t, ts.addr, "tom", "tom-password", historyCaps)
	if got := texts(historyBatch(t, tom, "CHATHISTORY LATEST #w * 10")); got != "" {
		t.Errorf("the next run shows %q, want none of the earlier runs", got)
	}
}

// Memberships that began before the room logged anything (no directory to write them in yet)
// reach the spells file when the server stops: mei, who came before the first word and
// logged out, is a member across the restart and reads what is said while the room is
// private and she is offline.
func TestRoomMembersBeforeFirstWordAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	ts := startServer(t, cfg, dir)
	registerAccount(t, ts.addr, "tom", "tom-password").quit()
	registerAccount(t, ts.addr, "mei", "mei-password").quit()
	tom, _ := capsLogin(t, ts.addr, "tom", "tom-password", historyCaps)
	joinRoom(tom, "#m")
	mei, _ := capsLogin(t, ts.addr, "mei", "mei-password", historyCaps)
	joinRoom(mei, "#m")
	sayIn(tom, "#m", "first word")
	mei.quit()
	ts.stop(t)

	ts = startServer(t, cfg, dir)
	tom, lines := capsLogin(t, ts.addr, "tom", "tom-password", historyCaps)
	if lineIndex(lines, " 366 tom #m ") < 0 {
		t.Fatalf("tom is not put back in #m: %q", lines)
	}
	tom.send("MODE #m +i")
	tom.expect(`MODE #m \+i$`)
	sayIn(tom, "#m", "secret while mei is offline")
	mei, lines = capsLogin(t, ts.addr, "mei", "mei-password", historyCaps)
	if lineIndex(lines, " 366 mei #m ") < 0 {
		t.Fatalf("mei is not put back in #m: %q", lines)
	}
	if got := texts(historyBatch(t, mei, "CHATHISTORY LATEST #m * 10")); got != "first word|secret while mei is offline" {
		t.Errorf("mei reads %q", got)
	}
}
