package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lines returns the lines before a sync that contain substr.
func grepLines(lines []string, substr string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

func TestWhowas(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	asker := guest(t, ts.addr, "asker")

	asker.send("WHOWAS nick2")
	asker.expect(` 406 asker nick2 :There was no such nickname$`)
	asker.expect(` 369 asker nick2 :`)

	for _, ident := range []string{"ident2", "ident3"} {
		c := dialIRC(t, ts.addr, ident)
		c.send("NICK nick2")
		c.send("USER %s 0 * :Real Name", ident)
		c.expect(" 001 ")
		c.send("QUIT :bye")
		c.expectClosed()
	}
	// Departures are recorded by the quitting session before its QUIT is final; the asker's
	// PING round trip cannot race them, the second dial did not start before the first left.
	asker.send("WHOWAS nick2")
	got := asker.sync()
	users := grepLines(got, " 314 ")
	if len(users) != 2 || !strings.Contains(users[0], " ~ident3 ") || !strings.Contains(users[1], " ~ident2 ") {
		t.Fatalf("WHOWAS nick2 = %q, want ident3 then ident2", got)
	}
	if !strings.HasSuffix(users[0], " 314 asker nick2 ~ident3 127.0.0.1 * :Real Name") {
		t.Errorf("314 = %q", users[0])
	}
	if len(grepLines(got, " 312 asker nick2 ")) != 2 || !strings.Contains(got[len(got)-1], " 369 asker nick2 ") {
		t.Errorf("want a 312 per entry and 369 last: %q", got)
	}
	asker.send("WHOWAS nick2 1")
	if got := asker.sync(); len(grepLines(got, " 314 ")) != 1 || !strings.Contains(grepLines(got, " 314 ")[0], "ident3") {
		t.Errorf("WHOWAS nick2 1 = %q, want only the newest", got)
	}
	asker.send("WHOWAS *CK2 -1")
	if got := asker.sync(); len(grepLines(got, " 314 ")) != 2 {
		t.Errorf("WHOWAS mask = %q, want 2 entries", got)
	}
	asker.send("WHOWAS")
	asker.expect(` 431 asker :No nickname given`)
	asker.send("WHOWAS nick2 1 other.server")
	asker.expect(` 402 asker other.server :No such server`)

	// A nick change is a departure of the old nick too.
	asker.send("NICK renamed")
	asker.expect(`NICK :?renamed`)
	asker.send("WHOWAS asker")
	asker.expect(` 314 renamed asker ~asker 127.0.0.1 \* :asker$`)
}

func TestWhowasIsBounded(t *testing.T) {
	var w whowasRing
	for i := range maxWhowas + 10 {
		w.add(whowasEntry{nick: "n" + strconv.Itoa(i)})
	}
	if len(w.entries) != maxWhowas {
		t.Fatalf("kept %d entries, want %d", len(w.entries), maxWhowas)
	}
	var order []string
	w.newestFirst(func(e *whowasEntry) bool { order = append(order, e.nick); return len(order) < 3 })
	want := []string{"n" + strconv.Itoa(maxWhowas+9), "n" + strconv.Itoa(maxWhowas+8), "n" + strconv.Itoa(maxWhowas+7)}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("newest first = %v, want %v", order, want)
	}
}

func TestInfoCommands(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	c := guest(t, ts.addr, "nick")
	name := ts.cfg.Name

	before := time.Now().Unix()
	c.send("TIME")
	m := c.expect(` 391 nick `)
	if m.Params[1] != name || !strings.Contains(m.Params[2], time.Unix(before, 0).UTC().Format("2006-01-02T")) {
		t.Errorf("TIME = %v", m.Params)
	}
	c.send("TIME elsewhere.example")
	c.expect(` 402 nick elsewhere.example :No such server`)

	c.send("VERSION")
	v := c.expect(` 351 nick `)
	if !strings.HasPrefix(v.Params[1], "labchat-") || v.Params[2] != name {
		t.Errorf("351 = %v", v.Params)
	}
	got := strings.Join(c.sync(), "\n")
	for _, tok := range []string{"BOT=B", "UTF8ONLY", "STATUSMSG=@+"} {
		if !strings.Contains(got, " 005 nick ") || !strings.Contains(got, tok) {
			t.Errorf("VERSION's ISUPPORT lacks %s:\n%s", tok, got)
		}
	}

	c.send("ADMIN")
	c.expect(` 256 nick ` + name + ` :`)
	c.expect(` 257 nick :labchat chat server$`)
	c.expect(` 258 nick :`)
	c.expect(` 259 nick :ask the instructor`)

	c.send("INFO")
	lines := c.sync()
	if len(lines) < 2 || !strings.Contains(lines[len(lines)-1], " 374 nick :") || len(grepLines(lines, " 371 nick :")) != len(lines)-1 {
		t.Errorf("INFO = %q, want 371 lines then 374", lines)
	}
	c.send("INFO *Little*")
	c.expect(` 402 nick \*Little\* :`)
	c.send("INFO %s", strings.ToUpper(name))
	c.expect(` 371 nick `)
	c.send("INFO nick") // a nick on this server names this server
	c.expect(` 371 nick `)

	c.send("LINKS")
	c.expect(` 364 nick ` + name + ` ` + name + ` :0 labchat chat server$`)
	c.expect(` 364 nick services\.` + name + ` ` + name + ` :1 Account services \(NickServ\), built into ` + name + `$`)
	c.expect(` 365 nick \* :End of /LINKS list$`)
	c.send("LINKS services.*")
	lines = c.sync()
	if len(lines) != 2 || !strings.Contains(lines[0], " 364 nick services.") || !strings.Contains(lines[1], " 365 ") {
		t.Errorf("LINKS services.* = %q, want the services line and 365", lines)
	}
	c.send("WHOIS NickServ")
	c.expect(` 311 nick NickServ NickServ services\.` + name + ` \* :`)
	c.expect(` 312 nick NickServ services\.` + name + ` :account services built into ` + name + `$`)
	c.expect(` 318 nick NickServ `)
	c.send("LINKS other.*")
	lines = c.sync()
	if len(lines) != 1 || !strings.Contains(lines[0], " 365 nick other.* :") {
		t.Errorf("LINKS other.* = %q, want only 365", lines)
	}
	c.send("MOTD nowhere.example")
	c.expect(` 402 nick nowhere.example `)
}

func TestHelp(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	c := guest(t, ts.addr, "nick")
	c.send("HELP")
	lines := c.sync()
	if !strings.Contains(lines[0], " 704 nick index :") || !strings.Contains(lines[len(lines)-1], " 706 nick index :") {
		t.Fatalf("HELP = %q", lines)
	}
	index := strings.Join(lines, " ")
	for name := range commandTable {
		if _, alias := helpAliases[name]; alias || name == "PONG" {
			continue
		}
		if _, ok := helpTopics[name]; !ok {
			t.Errorf("command %s has no HELP text", name)
		}
		if !strings.Contains(index, name) {
			t.Errorf("HELP index does not list %s", name)
		}
	}
	c.send("HELP privmsg")
	lines = c.sync()
	if !strings.Contains(lines[0], " 704 nick PRIVMSG :PRIVMSG <target>") || len(grepLines(lines, " 705 nick PRIVMSG :")) < 2 || !strings.Contains(lines[len(lines)-1], " 706 nick PRIVMSG :") {
		t.Errorf("HELP privmsg = %q", lines)
	}
	c.send("HELPOP WHOWAS")
	c.expect(` 704 nick WHOWAS :WHOWAS <nick>`)
	c.send("HELP nosuchthing")
	c.expect(` 524 nick nosuchthing :No help for nosuchthing`)
}

func TestLusersCountsUnknownAndPeak(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	bar := guest(t, ts.addr, "bar")
	lusers := func() []string {
		bar.send("LUSERS")
		return bar.sync()
	}
	if got := strings.Join(lusers(), "\n"); !strings.Contains(got, " 265 bar 1 1 ") || strings.Contains(got, " 253 ") {
		t.Errorf("one user: %s", got)
	}
	qux := guest(t, ts.addr, "qux")
	half := dialIRC(t, ts.addr, "half")
	half.send("NICK half")
	half.send("PING x")
	half.expect("PONG|451")
	got := strings.Join(lusers(), "\n")
	for _, want := range []string{" 253 bar 1 :", " 265 bar 2 2 :Current local users 2, max 2", " 266 bar 2 2 ", " 251 bar :There are 2 users and 0 invisible"} {
		if !strings.Contains(got, want) {
			t.Errorf("two users, one unregistered: want %q in\n%s", want, got)
		}
	}
	qux.send("QUIT")
	qux.expectClosed()
	half.send("QUIT")
	half.expectClosed()
	// The peak stays at 2 after qux left (the numbers in 265/266 are current, then max).
	deadline := time.Now().Add(ioTimeout)
	for {
		got = strings.Join(lusers(), "\n")
		if strings.Contains(got, " 265 bar 1 2 ") && !strings.Contains(got, " 253 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after qux quit: %s", got)
		}
	}
	bar.send("LUSERS * nowhere.example")
	bar.expect(` 402 bar nowhere.example `)
}

func TestExtendedJoinAndAccountTag(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	registerAccount(t, ts.addr, "jilles", "sesame-pw").send("QUIT")
	foo := welcomed(t, ts.addr, "foo", "", "extended-join account-tag")
	foo.send("JOIN #chan")
	foo.expect(" 366 ")
	plain := guest(t, ts.addr, "plain")
	plain.send("JOIN #chan")
	plain.expect(" 366 ")
	foo.expect(`^:plain!~plain@127\.0\.0\.1 JOIN #chan \* :?plain$`)

	bar := saslLogin(t, ts.addr, "jilles", "sesame-pw")
	bar.send("JOIN #chan")
	bar.expect(" 366 ")
	foo.expect(`^@account=jilles :jilles!~jilles@127\.0\.0\.1 JOIN #chan jilles :?jilles$`)
	plain.expect(`^:jilles!~jilles@127\.0\.0\.1 JOIN #chan$`)

	bar.send("PRIVMSG foo :hi")
	foo.expect(`^@account=jilles :jilles!\S+ PRIVMSG foo :hi$`)
	bar.send("PRIVMSG #chan :all")
	foo.expect(`^@account=jilles :jilles!\S+ PRIVMSG #chan :all$`)
	plain.expect(`^:jilles!\S+ PRIVMSG #chan :all$`)
	plain.send("PRIVMSG foo :guest")
	foo.expect(`^:plain!\S+ PRIVMSG foo :guest$`) // a guest has no account tag
}

func TestSetname(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	foo := welcomed(t, ts.addr, "foo", "", "setname")
	bar := welcomed(t, ts.addr, "bar", "", "setname")
	baz := guest(t, ts.addr, "baz")
	for _, c := range []*ircClient{foo, bar, baz} {
		c.send("JOIN #chan")
		c.expect(" 366 ")
	}
	watcher := welcomed(t, ts.addr, "watcher", "", "setname extended-monitor")
	watcher.send("MONITOR + foo")
	watcher.expect(` 730 watcher :foo!`)
	foo.sync()
	bar.sync()
	baz.sync()
	foo.send("SETNAME :New Name")
	foo.expect(`^:foo!~foo@127\.0\.0\.1 SETNAME :New Name$`)
	bar.expect(`^:foo!~foo@127\.0\.0\.1 SETNAME :New Name$`)
	watcher.expect(`^:foo!~foo@127\.0\.0\.1 SETNAME :New Name$`) // shares no room: MONITOR
	if got := baz.sync(); len(got) != 0 {
		t.Errorf("baz without setname got %q", got)
	}
	baz.send("WHOIS foo")
	baz.expect(` 311 baz foo ~foo 127\.0\.0\.1 \* :New Name$`)
	baz.send("SETNAME :plain too")
	baz.expect(`NOTICE baz :Your realname is now: plain too`)
	foo.send("SETNAME :%s", strings.Repeat("x", maxRealnameLen+1))
	foo.expect(`FAIL SETNAME INVALID_REALNAME :`)
	foo.send("SETNAME")
	foo.expect(` 461 foo SETNAME `)
}

func TestBotMode(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	bot := welcomed(t, ts.addr, "botnick", "", "echo-message message-tags")
	bot.sync()
	bot.send("MODE botnick +B")
	bot.expect(`^:botnick!\S+ MODE botnick :?\+B$`)
	bot.send("MODE botnick")
	bot.expect(` 221 botnick :?\+B$`)
	user := welcomed(t, ts.addr, "usernick", "", "message-tags")
	plain := guest(t, ts.addr, "plain")

	plain.send("WHOIS botnick")
	plain.expect(` 335 plain botnick :is a bot`)
	bot.send("PRIVMSG usernick :beep boop")
	user.expect(`^@bot;msgid=\S+ :botnick!\S+ PRIVMSG usernick :beep boop$`)
	bot.expect(`^@bot;msgid=\S+ :botnick!\S+ PRIVMSG usernick :beep boop$`) // the echo
	for _, c := range []*ircClient{bot, user, plain} {
		c.send("JOIN #chan")
		c.expect(" 366 ")
	}
	bot.send("PRIVMSG #chan :beep")
	user.expect(`^@bot;msgid=\S+ :botnick!\S+ PRIVMSG #chan :beep$`)
	plain.expect(`^:botnick!\S+ PRIVMSG #chan :beep$`) // no tags without message-tags
	plain.send("WHO #chan")
	plain.expect(` 352 plain #chan \S+ \S+ \S+ botnick H\S*B\S* :0 botnick$`)
	bot.send("MODE botnick -B")
	bot.expect(`MODE botnick :?-B$`)
	plain.send("WHOIS botnick")
	if got := plain.sync(); len(grepLines(got, " 335 ")) != 0 {
		t.Errorf("still a bot after -B: %q", got)
	}
}

func TestUTF8Only(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	foo := welcomed(t, ts.addr, "foo", "", "labeled-response batch")
	bar := guest(t, ts.addr, "bar")
	foo.send("PRIVMSG bar :hi\xaa")
	foo.expect(`^:\S+ FAIL PRIVMSG INVALID_UTF8 :`)
	foo.send("@label=x1 PRIVMSG bar :hi\xff")
	foo.expect(`^@label=x1 :\S+ FAIL PRIVMSG INVALID_UTF8 :`)
	foo.send("PRIVMSG bar :héllo")
	if got := bar.sync(); len(got) != 0 {
		// the UTF-8 line arrives; the two bad ones never did
		if len(got) != 1 || !strings.HasSuffix(got[0], "PRIVMSG bar :héllo") {
			t.Errorf("bar got %q", got)
		}
	} else {
		bar.expect(`PRIVMSG bar :héllo$`)
	}

	c := dialIRC(t, ts.addr, "new")
	c.send("NICK new")
	c.send("USER u 0 * :i\xe8rc\xe9")
	c.expect(`FAIL USER INVALID_UTF8 `)
	c.send("USER u 0 * :fine")
	c.expect(" 001 new ")
}

func TestStatusmsg(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	op := welcomed(t, ts.addr, "chanop", "", "echo-message")
	op.send("JOIN #chan")
	op.expect(" 366 ")
	joe := guest(t, ts.addr, "joe")
	joe.send("JOIN #chan")
	joe.expect(" 366 ")
	voiced := guest(t, ts.addr, "voiced")
	voiced.send("JOIN #chan")
	voiced.expect(" 366 ")
	op.send("MODE #chan +v voiced")
	voiced.expect(`MODE #chan \+v voiced`)
	joe.sync()
	op.sync()

	joe.send("PRIVMSG @#chan :for operators")
	if got := joe.sync(); len(got) != 0 {
		t.Errorf("sender got %q", got)
	}
	op.expect(`^:joe!\S+ PRIVMSG @#chan :for operators$`)
	joe.send("PRIVMSG +#chan :for voiced")
	op.expect(`^:joe!\S+ PRIVMSG \+#chan :for voiced$`)
	voiced.expect(`^:joe!\S+ PRIVMSG \+#chan :for voiced$`)
	if got := voiced.sync(); len(grepLines(got, "for operators")) != 0 {
		t.Errorf("voiced member got the @#chan message: %q", got)
	}
	op.send("NOTICE @#chan :echoed")
	op.expect(`^:chanop!\S+ NOTICE @#chan :echoed$`)
	if got := joe.sync(); len(grepLines(got, "PRIVMSG")) != 0 || len(grepLines(got, "NOTICE")) != 0 {
		t.Errorf("plain member got status messages: %q", got)
	}
	joe.send("PRIVMSG @#nosuch :x")
	joe.expect(` 403 joe #nosuch `)
	out := guest(t, ts.addr, "outsider")
	out.send("PRIVMSG @#chan :x")
	out.expect(` 404 outsider #chan `)
}

// A line that is itself too long gets "417 Input line was too long"; one that only outgrows
// 512 bytes once the server adds the sender's prefix gets a 417 that says why and by how much.
func TestRelayOverflowIs417WithTheReason(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	a := guest(t, ts.addr, "alice")
	b := guest(t, ts.addr, "bob")
	fits := strings.Repeat("x", maxBodyLen-len("PRIVMSG bob :\r\n"))
	a.send("PRIVMSG bob :%s", fits)
	a.expect(`^:\S+ 417 alice :PRIVMSG to bob not sent: with your nick!user@host in front the line would be 24 bytes over the 512-byte limit; split`)
	a.send("NOTICE bob :%s", fits)
	a.expect(` 417 alice :NOTICE to bob not sent: `)
	a.send("JOIN #r")
	a.expect(" 366 ")
	a.send("PRIVMSG #r :%s", fits[:len(fits)-1])
	a.expect(` 417 alice :PRIVMSG to #r not sent: .* 22 bytes over`)
	a.send("PRIVMSG bob :%s", fits+"yy")
	a.expect(` 417 alice :Input line was too long`)
	if got := a.sync(); len(got) != 0 {
		t.Errorf("a line too long as sent got more than 417: %q", got)
	}
	if got := b.sync(); len(got) != 0 {
		t.Errorf("bob got %q", got)
	}
}

// The informational commands through the real binary, as a student's nc session would.
func TestStandardCommandsThroughBinary(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "guests.toml")
	if err := os.WriteFile(conf, []byte("[server]\nrequire_login = false\nbcrypt_cost = 4\ndefault_room = \"\"\nweb_listen = \"\"\ntls_listen = \"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startBinaryServer(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--config", conf)
	c := guest(t, srv.addr, "student")
	for _, tc := range []struct{ send, want string }{
		{"HELP", ` 704 student index :`},
		{"HELP JOIN", ` 704 student JOIN :JOIN <#room>`},
		{"TIME", ` 391 student labchat.local :`},
		{"VERSION", ` 351 student labchat-\S+ labchat.local :`},
		{"ADMIN", ` 259 student :`},
		{"INFO", ` 374 student :End of /INFO list`},
		{"LINKS", ` 365 student \* :`},
		{"LUSERS", ` 266 student 1 1 :`},
		{"WHOWAS nobody", ` 406 student nobody :`},
		{"SETNAME :Stu Dent", `NOTICE student :Your realname is now: Stu Dent`},
		{"MODE student +B", `MODE student :?\+B`},
		{"WHOIS student", ` 335 student student :is a bot`},
		{"PRIVMSG NickServ :REGISTER first-pw", `NickServ!\S+ NOTICE student :Account student registered`},
		{"PRIVMSG NickServ :PASSWD first-pw second-pw", `NickServ!\S+ NOTICE student :Password changed`},
		{"PRIVMSG NickServ :PASSWD first-pw third-pw", `NickServ!\S+ NOTICE student :Password not changed: wrong password`},
		{"NS INFO", `NickServ!\S+ NOTICE student :Account: student`},
		{"PRIVMSG NickServ :GHOST x", `NickServ!\S+ NOTICE student :Unknown command GHOST`},
		{"NICK NickServ", ` 432 student NickServ :`},
	} {
		c.send("%s", tc.send)
		c.expect(tc.want)
	}
}

func TestChghost(t *testing.T) {
	cfg := testConfig(t)
	cfg.Operators = []OperatorConfig{{Account: "teach"}}
	ts := startServer(t, cfg, "")
	teach := registerAccount(t, ts.addr, "teach", "teach-pw")
	stu := welcomed(t, ts.addr, "stu", "", "chghost")
	peer := welcomed(t, ts.addr, "peer", "", "chghost")
	plain := guest(t, ts.addr, "plain")
	for _, c := range []*ircClient{stu, peer, plain} {
		c.send("JOIN #lab")
		c.expect(" 366 ")
	}
	peer.sync()
	plain.sync()

	plain.send("CHGHOST stu hidden.lab")
	plain.expect(` 481 plain :Permission Denied`)
	teach.send("CHGHOST stu bad!host")
	teach.expect(`FAIL CHGHOST INVALID_HOST `)
	teach.send("CHGHOST nobody x.lab")
	teach.expect(` 401 teach nobody `)
	teach.send("CHGHOST stu student-7.lab")
	teach.expect(`NOTICE teach :stu is now shown as stu@student-7\.lab`)
	stu.expect(`^:stu!~stu@127\.0\.0\.1 CHGHOST ~stu student-7\.lab$`)
	peer.expect(`^:stu!~stu@127\.0\.0\.1 CHGHOST ~stu student-7\.lab$`)
	if got := plain.sync(); len(got) != 0 {
		t.Errorf("a client without chghost got %q", got)
	}
	stu.send("PRIVMSG #lab :hi")
	plain.expect(`^:stu!~stu@student-7\.lab PRIVMSG #lab :hi$`)
	plain.send("WHOIS stu")
	plain.expect(` 311 plain stu ~stu student-7\.lab \* :`)
	plain.send("USERHOST stu")
	plain.expect(` 302 plain :stu=\+~stu@student-7\.lab`)
}

func TestServicesNameIsValidated(t *testing.T) {
	for _, bad := range []string{"two words", "nick!x", "labchat.local", "LABCHAT.local"} {
		cfg := testConfig(t)
		cfg.Name, cfg.ServicesName = "labchat.local", bad
		if err := validateServerConfig(&cfg); err == nil || !strings.Contains(err.Error(), "server.services_name") {
			t.Errorf("services_name %q: err %v, want one naming server.services_name", bad, err)
		}
	}
	cfg := testConfig(t)
	cfg.Name, cfg.ServicesName = "lab.example", ""
	if err := validateServerConfig(&cfg); err != nil || cfg.ServicesName != "services.lab.example" {
		t.Errorf("empty services_name: %v, %q; want services.lab.example", err, cfg.ServicesName)
	}
}
