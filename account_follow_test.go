package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// REGISTER of a name `labchat accounts delete` freed a moment ago succeeds at once on a
// running server, after a passwd and a login (issue 16: it was refused ACCOUNT_EXISTS until
// the one-second poll ran).
func TestRegisterRightAfterDelete(t *testing.T) {
	conf, _ := accountsConfig(t)
	srv := startBinaryServer(t, "serve", "--config", conf)
	for round := range 3 {
		if r := accountsCLI(t, conf, "first-pw", "add", "xena"); r.code != 0 {
			t.Fatalf("round %d add: %+v", round, r)
		}
		if r := accountsCLI(t, conf, "second-pw", "passwd", "xena"); r.code != 0 {
			t.Fatalf("passwd: %+v", r)
		}
		c := saslLogin(t, srv.addr, "xena", "second-pw")
		c.sync()
		c.quit()
		if r := accountsCLI(t, conf, "", "delete", "xena"); r.code != 0 {
			t.Fatalf("delete: %+v", r)
		}
		reg := dialIRC(t, srv.addr, "reg")
		reg.send("CAP LS 302")
		reg.send("NICK xena")
		reg.send("USER x 0 * :x")
		reg.send("REGISTER * * third-pw")
		m := reg.expect(`REGISTER SUCCESS|FAIL REGISTER`)
		if m.Command != "REGISTER" {
			t.Fatalf("round %d: REGISTER right after delete: %v", round, m)
		}
		reg.send("CAP END")
		reg.expect(" 001 ")
		reg.quit()
		if r := accountsCLI(t, conf, "", "delete", "xena"); r.code != 0 {
			t.Fatalf("delete again: %+v", r)
		}
	}
}

// Each refused account name is told exactly why; none is cut to fit.
func TestAccountNameRefusalsSayWhy(t *testing.T) {
	cfg := testConfig(t)
	cfg.RegistrationBeforeConnect = true
	ts := startServer(t, cfg, "")
	c := guest(t, ts.addr, "someone")
	cases := []struct{ name, want string }{
		{"张三", "Account names use a–z, 0–9, - and _; put 张三 in your display name"},
		{"Zoë", "put Zoë in your display name"},
		{strings.Repeat("a", 31), "at most 30 characters; " + strings.Repeat("a", 31) + " has 31"},
		{"NickServ", "name of a service"},
		{"con", "reserved for a device on Windows"},
		{"9lives", "start with a letter"},
	}
	for _, tc := range cases {
		c.send("REGISTER %s * long-enough-pw", tc.name)
		lines := c.sync()
		got := strings.Join(lines, "\n")
		if !strings.Contains(got, "FAIL REGISTER") || !strings.Contains(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.name, got, tc.want)
		}
	}
	// Through NICK, the 432 says the same for a non-ASCII nick.
	n := dialIRC(t, ts.addr, "n")
	n.send("NICK 张三")
	n.expect(` 432 .*put 张三 in your display name`)
}

// lineIndex is the position of the first line matching pattern, or -1.
func lineIndex(lines []string, pattern string) int {
	re := regexp.MustCompile(pattern)
	for i, l := range lines {
		if re.MatchString(l) {
			return i
		}
	}
	return -1
}

// A new connection of an account, on another device and after a restart, is placed in the
// account's rooms (JOIN, topic, NAMES) before its first command is answered; PART takes a
// room off the list; a client that JOINs again (irssi, weechat) changes nothing.
func TestRoomsFollowTheAccount(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testConfig(t), dir)
	pc1 := registerAccount(t, ts.addr, "mei", "mei-password")
	joinRoom(pc1, "#lab")
	pc1.send("TOPIC #lab :week 3: sockets")
	pc1.expect("TOPIC #lab :week 3")
	joinRoom(pc1, "#code")
	pc1.send("PART #code")
	pc1.expect("PART #code")

	// The phone: its first line after the welcome burst is the JOIN, before its PING's PONG.
	phone := saslLogin(t, ts.addr, "mei", "mei-password")
	got := phone.sync()
	join, topic, names := lineIndex(got, ` JOIN #lab`), lineIndex(got, ` 332 mei #lab :week 3`), lineIndex(got, ` 366 mei #lab `)
	if join < 0 || topic < join || names < topic {
		t.Fatalf("second device: JOIN %d, topic %d, NAMES %d in:\n%s", join, topic, names, strings.Join(got, "\n"))
	}
	if lineIndex(got, `#code`) >= 0 {
		t.Errorf("a parted room came back: %q", got)
	}
	// irssi sends its own JOIN after connecting: harmless.
	phone.send("JOIN #lab")
	if again := phone.sync(); lineIndex(again, `JOIN|353|366`) >= 0 {
		t.Errorf("a second JOIN of a room the connection is in answered %q", again)
	}
	ts.stop(t)

	ts = startServer(t, testConfig(t), dir)
	after := saslLogin(t, ts.addr, "mei", "mei-password")
	got = after.sync()
	if lineIndex(got, ` 332 mei #lab :week 3: sockets`) < 0 || lineIndex(got, ` 366 mei #lab `) < 0 {
		t.Errorf("after a restart: %q", got)
	}
	ts.stop(t)

	cfg := testConfig(t)
	cfg.RememberRooms = false
	ts = startServer(t, cfg, dir)
	off := saslLogin(t, ts.addr, "mei", "mei-password")
	if got := off.sync(); lineIndex(got, `JOIN #lab`) >= 0 {
		t.Errorf("remember_rooms = false still joined: %q", got)
	}
}

// The founder and the accounts it made operators get @ on every join after a restart; topic,
// modes, key, limit and bans are kept; ChanServ hands the room over, drops it, and lets a
// server operator take it over. A damaged room file is skipped with a log line.
func TestRoomOwnersSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	cfg.Operators = []OperatorConfig{{Account: "teacher"}}
	ts := startServer(t, cfg, dir)
	mei := registerAccount(t, ts.addr, "mei", "mei-password")
	tom := registerAccount(t, ts.addr, "tom", "tom-password")
	registerAccount(t, ts.addr, "teacher", "teacher-password").quit()
	joinRoom(mei, "#lab")
	joinRoom(tom, "#lab")
	mei.send("MODE #lab +o tom")
	mei.expect(`MODE #lab \+o tom`)
	mei.send("TOPIC #lab :week 3")
	mei.expect("TOPIC #lab")
	mei.send("MODE #lab +mkl sekrit 40")
	mei.expect(`MODE #lab \+mkl sekrit 40`)
	mei.send("MODE #lab +b eve!*@*")
	mei.expect(`MODE #lab \+b eve!\*@\*`)
	ts.stop(t)
	// A damaged file of another room must not stop the server or this room.
	if err := os.WriteFile(filepath.Join(dir, "rooms", "room-broken.toml"), []byte("name = \"#broken\"\nmodes = [[["), 0o600); err != nil {
		t.Fatal(err)
	}

	ts, logs := startServerWith(t, cfg, dir, nil)
	if !strings.Contains(logs.String(), "room file skipped") {
		t.Errorf("no log line for the damaged room file: %s", logs.String())
	}
	// tom comes back first: @ is his, not the first comer's.
	tom = saslLogin(t, ts.addr, "tom", "tom-password")
	got := tom.sync()
	if lineIndex(got, ` 353 tom = #lab :@tom`) < 0 {
		t.Errorf("tom after the restart: %q", got)
	}
	guest := guest(t, ts.addr, "carol")
	guest.send("JOIN #lab")
	guest.expect(` 475 carol #lab `) // the key is kept
	guest.send("JOIN #lab sekrit")
	guest.expect(` 366 carol #lab `)
	guest.send("MODE #lab")
	guest.expect(` 324 carol #lab \+mntkl sekrit :?40`)
	guest.send("MODE #lab b")
	guest.expect(` 367 carol #lab eve!\*@\* `)
	guest.send("TOPIC #lab")
	guest.expect(` 332 carol #lab :week 3`)
	mei = saslLogin(t, ts.addr, "mei", "mei-password")
	mei.expect(`MODE #lab \+o mei|353 mei = #lab :.*@mei`)

	// ChanServ: only the founder hands the room over.
	tom.send("PRIVMSG ChanServ :TRANSFER #lab tom")
	tom.expect(`NOTICE tom :Only the founder of #lab`)
	mei.send("PRIVMSG ChanServ :TRANSFER #lab tom")
	mei.expect(`NOTICE mei :#lab now belongs to tom`)
	mei.send("CS INFO #lab")
	mei.expect(`NOTICE mei :Room #lab: founder tom`)
	mei.expect(`NOTICE mei :Operators: mei`)
	tom.send("CS DROP #lab")
	tom.expect(`NOTICE tom :#lab has no founder now`)
	teacher := saslLogin(t, ts.addr, "teacher", "teacher-password")
	joinRoom(teacher, "#lab")
	teacher.send("CS TAKEOVER #lab")
	teacher.expect(`NOTICE teacher :You are now the founder of #lab`)
	teacher.send("CS HELP")
	teacher.expect(`TAKEOVER <#room>`)
	ts.stop(t)
	rec, err := readRoomRecord(filepath.Join(dir, "rooms", "room-lab.toml"))
	if err != nil || rec.Founder != "teacher" || rec.Topic != "week 3" || len(rec.Bans) != 1 {
		t.Errorf("room file after the takeover: %+v, %v", rec, err)
	}
}

// draft/read-marker: a marker set on one device reaches the others at once, is kept across a
// restart, and is sent after each JOIN before 366.
func TestReadMarkerFollowsTheAccount(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testConfig(t), dir)
	registerAccount(t, ts.addr, "mei", "mei-password").quit()
	pc, _ := capsLogin(t, ts.addr, "mei", "mei-password", "draft/read-marker")
	phone, _ := capsLogin(t, ts.addr, "mei", "mei-password", "draft/read-marker")
	pc.send("JOIN #lab")
	lines := pc.sync()
	if mr, end := lineIndex(lines, `MARKREAD #lab \*`), lineIndex(lines, ` 366 `); mr < 0 || mr > end {
		t.Errorf("JOIN: MARKREAD at %d, 366 at %d: %q", mr, end, lines)
	}
	pc.send("MARKREAD tom timestamp=2026-12-06T10:00:00.000Z")
	pc.expect(`MARKREAD tom timestamp=2026-12-06T10:00:00.000Z`)
	phone.expect(`MARKREAD tom timestamp=2026-12-06T10:00:00.000Z`)
	phone.send("MARKREAD tom timestamp=2026-12-06T09:00:00.000Z") // older: refused by keeping the newer
	phone.expect(`MARKREAD tom timestamp=2026-12-06T10:00:00.000Z`)
	pc.send("MARKREAD #lab timestamp=2026-12-06T11:00:00.000Z")
	phone.expect(`MARKREAD #lab timestamp=2026-12-06T11:00:00.000Z`)
	ts.stop(t)

	ts = startServer(t, testConfig(t), dir)
	again, lines := capsLogin(t, ts.addr, "mei", "mei-password", "draft/read-marker")
	if lineIndex(lines, `MARKREAD #lab timestamp=2026-12-06T11:00:00.000Z`) < 0 {
		t.Errorf("after a restart, login: %q", lines)
	}
	again.send("MARKREAD tom")
	again.expect(`MARKREAD tom timestamp=2026-12-06T10:00:00.000Z`)
	again.send("MARKREAD #lab *")
	again.expect(`FAIL MARKREAD INVALID_PARAMS`)
}

// Contacts are the account's saved MONITOR list: a nick added on one device is watched on
// the others at once and on every later login; a plain IRC client sees it with MONITOR L.
func TestContactsFollowTheAccount(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testConfig(t), dir)
	registerAccount(t, ts.addr, "mei", "mei-password").quit()
	pc, _ := capsLogin(t, ts.addr, "mei", "mei-password", "")
	phone, _ := capsLogin(t, ts.addr, "mei", "mei-password", "")
	guest(t, ts.addr, "tom")
	pc.send("MONITOR + tom,ken")
	pc.expect(` 730 mei :tom!`)
	phone.expect(` 732 mei :ken,tom`)
	phone.expect(` 730 mei :tom!`)
	pc.send("MONITOR - ken")
	phone.expect(` 732 mei :tom$`)
	ts.stop(t)

	ts = startServer(t, testConfig(t), dir)
	later, lines := capsLogin(t, ts.addr, "mei", "mei-password", "")
	if lineIndex(lines, ` 732 mei :tom$`) < 0 || lineIndex(lines, ` 731 mei :tom$`) < 0 {
		t.Errorf("login after a restart: %q", lines)
	}
	later.send("MONITOR L")
	later.expect(` 732 mei :tom$`)
}

// A display name in any script, set with SETNAME, is the account's realname on every later
// connection.
func TestDisplayNameFollowsTheAccount(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testConfig(t), dir)
	c := registerAccount(t, ts.addr, "zhang", "zhang-password")
	c.send("SETNAME :张三")
	c.sync()
	c.quit()
	ts.stop(t)
	ts = startServer(t, testConfig(t), dir)
	again, _ := capsLogin(t, ts.addr, "zhang", "zhang-password", "")
	other := guest(t, ts.addr, "tom")
	other.send("WHOIS zhang")
	other.expect(` 311 tom zhang \S+ \S+ \* :张三`)
	again.quit()
}

// A conversation partner watched with the labchat/unsaved tag pushes presence to that
// connection alone and never becomes a contact, even when a contact of the same name
// comes and goes.
func TestUnsavedMonitorIsNotAContact(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testConfig(t), dir)
	registerAccount(t, ts.addr, "mei", "mei-password").quit()
	pc, _ := capsLogin(t, ts.addr, "mei", "mei-password", "")
	phone, _ := capsLogin(t, ts.addr, "mei", "mei-password", "")
	pc.send("@labchat/unsaved MONITOR + ken")
	pc.expect(` 731 mei :ken$`)
	ken := guest(t, ts.addr, "ken")
	pc.expect(` 730 mei :ken!`)
	pc.send("MONITOR + ken") // a contact too, then not
	pc.expect(` 730 mei :ken!`)
	pc.send("MONITOR - ken")
	phone.expect(` 732 mei :ken$`)
	phone.expect(` 733 mei `)
	for _, line := range phone.sync() {
		if strings.Contains(line, " 732 ") {
			t.Errorf("the phone was sent a contact list with the unsaved watch in it: %q", line)
		}
	}
	pc.send("MONITOR L")
	for _, line := range pc.sync() {
		if strings.Contains(line, " 732 ") {
			t.Errorf("MONITOR L lists the unsaved watch: %q", line)
		}
	}
	ken.quit()
	pc.expect(` 731 mei :ken$`) // still watched: the unsaved list kept it
	pc.send("@labchat/unsaved MONITOR - ken")
	pc.sync()
	guest(t, ts.addr, "ken")
	for _, line := range pc.sync() {
		if strings.Contains(line, " 730 ") {
			t.Errorf("an unwatched nick still pushes: %q", line)
		}
	}
	ts.stop(t)
	ts = startServer(t, testConfig(t), dir)
	_, lines := capsLogin(t, ts.addr, "mei", "mei-password", "")
	if i := lineIndex(lines, ` 732 `); i >= 0 {
		t.Errorf("after a restart the unsaved watch is a contact: %q", lines[i])
	}
}
