package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const historyCaps = "batch draft/chathistory echo-message message-tags server-time"

// historyBatch sends a CHATHISTORY command and returns the messages of the batch it answers
// with, checking the batch's frame.
func historyBatch(t *testing.T, c *ircClient, command string) []Message {
	t.Helper()
	c.send("%s", command)
	open := c.expect(`BATCH \+\S+ chathistory `)
	id := strings.TrimPrefix(open.Params[0], "+")
	var out []Message
	for {
		line, err := c.readLine()
		if err != nil {
			t.Fatalf("reading batch of %q: %v", command, err)
		}
		m, err := ParseMessage(line)
		if err != nil {
			t.Fatalf("bad line in batch: %q", line)
		}
		if m.Command == "BATCH" && m.Param(0) == "-"+id {
			return out
		}
		if m.Tags["batch"] != id {
			t.Fatalf("line inside batch %s without its tag: %q", id, line)
		}
		out = append(out, m)
	}
}

func texts(ms []Message) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Param(1))
	}
	return strings.Join(out, "|")
}

// logLines reads a conversation's log of today.
func logLines(t *testing.T, dir, conversation string) []string {
	t.Helper()
	data, err := os.ReadFile(logFileName(filepath.Join(dir, "logs"), conversation, time.Now()))
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func TestHistoryIsWrittenBeforeRelay(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	alice, _ := capsLogin(t, ts.addr, "alice", "", "")
	bob, _ := capsLogin(t, ts.addr, "bob", "", "")
	for _, c := range []*ircClient{alice, bob} {
		c.send("JOIN #Lab")
		c.expect(" 366 ")
	}
	for i := range 20 {
		alice.send("PRIVMSG #lab :room message %d", i)
		bob.expect(fmt.Sprintf(`PRIVMSG #Lab :room message %d$`, i))
		// bob has it, so the log must already hold it: the write came before the relay.
		lines := logLines(t, ts.dir, "room-lab")
		if len(lines) != i+1 || !strings.HasSuffix(lines[i], fmt.Sprintf("\tPRIVMSG\talice\t#Lab\troom message %d", i)) {
			t.Fatalf("when bob got message %d the log held %q", i, lines)
		}
	}
	bob.send("PRIVMSG alice :a \\ backslash\tand a tab")
	alice.expect(`PRIVMSG alice :a \\ backslash`)
	// Guests are filed as ~nick.<session id> (see chathistory.go).
	convs, _ := filepath.Glob(filepath.Join(ts.dir, "logs", "dm-%7Ealice%2E*+%7Ebob%2E*"))
	if len(convs) != 1 {
		t.Fatalf("guest DM conversations: %q, want one", convs)
	}
	lines := logLines(t, ts.dir, filepath.Base(convs[0]))
	if len(lines) != 1 || !strings.HasSuffix(lines[0], "\tPRIVMSG\tbob\talice\ta \\\\ backslash\\tand a tab") {
		t.Errorf("DM log = %q", lines)
	}
}

func TestHistoryTornLastLineIsSkipped(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testConfig(t), dir)
	alice, _ := capsLogin(t, ts.addr, "alice", "", historyCaps)
	alice.send("JOIN #lab")
	alice.expect(" 366 ")
	alice.send("PRIVMSG #lab :before the crash")
	alice.expect("PRIVMSG #lab :before the crash")
	ts.stop(t)
	// A crash in the middle of an append: half a line, no newline.
	path := logFileName(filepath.Join(dir, "logs"), "room-lab", time.Now())
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(time.Now().UTC().Format(logTimeLayout) + "\tx1\tPRIVMSG\talice\t#lab\tto")
	f.Close()

	ts = startServer(t, testConfig(t), dir)
	alice, _ = capsLogin(t, ts.addr, "alice", "", historyCaps)
	alice.send("JOIN #lab")
	alice.expect(" 366 ")
	if got := texts(historyBatch(t, alice, "CHATHISTORY LATEST #lab * 10")); got != "before the crash" {
		t.Fatalf("history with a torn line = %q, want only the whole message", got)
	}
	alice.send("PRIVMSG #lab :after the restart")
	alice.expect("PRIVMSG #lab :after the restart")
	if got := texts(historyBatch(t, alice, "CHATHISTORY LATEST #lab * 10")); got != "before the crash|after the restart" {
		t.Errorf("history after the next append = %q: the torn line must not swallow it", got)
	}
}

func TestChathistoryAccessControl(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	alice := registerAccount(t, ts.addr, "alice", "alice-pw")
	alice.quit()
	alice, _ = capsLogin(t, ts.addr, "alice", "alice-pw", historyCaps)
	bob := registerAccount(t, ts.addr, "bob", "bob-pw")
	bob.quit()
	bob, _ = capsLogin(t, ts.addr, "bob", "bob-pw", historyCaps)
	carol, _ := capsLogin(t, ts.addr, "carol", "", historyCaps)

	alice.send("PRIVMSG bob :secret for bob")
	bob.expect("secret for bob")
	bob.send("PRIVMSG alice :secret for alice")
	alice.expect("secret for alice")
	alice.send("JOIN #private")
	alice.expect(" 366 ")
	alice.send("PRIVMSG #private :members only")
	alice.expect("members only")

	for _, who := range []*ircClient{alice, bob} {
		other := map[*ircClient]string{alice: "bob", bob: "alice"}[who]
		if got := texts(historyBatch(t, who, "CHATHISTORY LATEST "+other+" * 10")); got != "secret for bob|secret for alice" {
			t.Errorf("%s's history with %s = %q", who.name, other, got)
		}
	}
	for _, target := range []string{"alice", "bob", "ALICE"} {
		if got := historyBatch(t, carol, "CHATHISTORY LATEST "+target+" * 10"); len(got) != 0 {
			t.Errorf("a third user asking for %s's DMs got %q", target, texts(got))
		}
	}
	carol.send("CHATHISTORY LATEST #private * 10")
	carol.expect(`FAIL CHATHISTORY INVALID_TARGET LATEST #private :`)
	carol.send("CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z timestamp=2262-01-01T00:00:00.000Z 10")
	carol.expect(`BATCH \+\S+ draft/chathistory-targets`)
	if lines := carol.sync(); len(lines) != 1 || !strings.Contains(lines[0], "BATCH -") {
		t.Errorf("carol's TARGETS = %q, want an empty batch", lines)
	}

	// A guest's DMs stay with the guest: an account registered later under the nick sees nothing.
	carol.send("PRIVMSG alice :from guest carol")
	alice.expect("from guest carol")
	carol.quit()
	registerAccount(t, ts.addr, "carol", "carol-pw").quit()
	carol, _ = capsLogin(t, ts.addr, "carol", "carol-pw", historyCaps)
	if got := historyBatch(t, carol, "CHATHISTORY LATEST alice * 10"); len(got) != 0 {
		t.Errorf("account carol sees guest carol's DMs: %q", texts(got))
	}
}

// TestChathistorySelectorsAcrossDays writes a room's log over three days directly and reads
// it back with every selector.
func TestChathistorySelectorsAcrossDays(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	alice, _ := capsLogin(t, ts.addr, "alice", "", historyCaps)
	start := time.Date(2026, 11, 22, 23, 58, 0, 0, time.UTC)
	var ids, stamps []string
	for i := range 9 { // three messages a day, one minute apart across midnight... and days
		at := start.Add(time.Duration(i/3)*24*time.Hour + time.Duration(i%3)*time.Minute)
		e := LogEntry{Time: at, MsgID: fmt.Sprintf("id%d", i), Kind: "PRIVMSG", From: "bob", To: "#lab", Text: fmt.Sprintf("m%d", i)}
		if err := ts.history.Append(roomConversation("#lab"), &e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.MsgID)
		stamps = append(stamps, at.Format(wireTimeLayout))
	}
	// As if #lab had members when the server last stopped: its history goes on (roomhistory.go).
	os.WriteFile(filepath.Join(ts.history.dir, "room-lab", historyFromFile), []byte(start.Add(-time.Hour).Format(logTimeLayout)+"\n"), 0o600)
	alice.send("JOIN #lab")
	alice.expect(" 366 ")
	if days := ts.historyDays("room-lab"); len(days) < 4 {
		t.Fatalf("day files = %v, want messages split over at least 4 UTC days", days)
	}
	cases := []struct{ cmd, want string }{
		{"LATEST #lab * 4", "m5|m6|m7|m8"},
		{"LATEST #lab msgid=" + ids[6] + " 10", "m7|m8"},
		{"LATEST #lab timestamp=" + stamps[5] + " 10", "m6|m7|m8"},
		{"BEFORE #lab msgid=" + ids[4] + " 3", "m1|m2|m3"},
		{"BEFORE #lab timestamp=" + stamps[4] + " 10", "m0|m1|m2|m3"},
		{"AFTER #lab msgid=" + ids[1] + " 3", "m2|m3|m4"},
		{"AFTER #lab timestamp=" + stamps[7] + " 10", "m8"},
		{"BETWEEN #lab msgid=" + ids[1] + " msgid=" + ids[7] + " 2", "m2|m3"},
		{"BETWEEN #lab msgid=" + ids[7] + " msgid=" + ids[1] + " 2", "m5|m6"},
		{"BETWEEN #lab timestamp=" + stamps[0] + " timestamp=" + stamps[8] + " 100", "m1|m2|m3|m4|m5|m6|m7"},
		{"AROUND #lab msgid=" + ids[3] + " 3", "m2|m3|m4"},
		{"AROUND #lab msgid=" + ids[0] + " 3", "m0|m1|m2"},
		{"AROUND #lab msgid=unknown 3", ""},
	}
	for _, tc := range cases {
		got := historyBatch(t, alice, "CHATHISTORY "+tc.cmd)
		if texts(got) != tc.want {
			t.Errorf("CHATHISTORY %s = %q, want %q", tc.cmd, texts(got), tc.want)
		}
	}
	got := historyBatch(t, alice, "CHATHISTORY LATEST #lab * 1")
	if m := got[0]; m.Tags["msgid"] != ids[8] || m.Tags["time"] != stamps[8] || m.Source != "bob" || m.Param(0) != "#lab" {
		t.Errorf("replayed message = %+v, want msgid, time, source and target of the original", m)
	}
	alice.send("CHATHISTORY BEFORE #lab * 10")
	alice.expect(`FAIL CHATHISTORY INVALID_PARAMS BEFORE \* :`)
	alice.send("CHATHISTORY LATEST #lab * many")
	alice.expect(`FAIL CHATHISTORY INVALID_PARAMS LATEST :`)
	alice.send("CHATHISTORY SOMETIME #lab * 1")
	alice.expect(`FAIL CHATHISTORY INVALID_PARAMS SOMETIME :`)
}

func TestHistoryOffHidesChathistory(t *testing.T) {
	cfg := testConfig(t)
	cfg.History = false
	ts := startServer(t, cfg, "")
	c := dialIRC(t, ts.addr, "alice")
	c.send("CAP LS 302")
	ls := c.expect("CAP \\* LS")
	if strings.Contains(ls.Param(2), "chathistory") {
		t.Errorf("CAP LS offers %q with history off", ls.Param(2))
	}
	c.send("NICK alice")
	c.send("USER alice 0 * :alice")
	c.send("CAP END")
	c.expect(" 001 ")
	c.send("JOIN #lab")
	c.send("PRIVMSG #lab :not logged")
	c.send("CHATHISTORY LATEST #lab * 10")
	c.expect(" 421 alice CHATHISTORY ")
	if _, err := os.Stat(filepath.Join(ts.dir, "logs")); !os.IsNotExist(err) {
		t.Errorf("history off, yet the logs dir exists (err %v)", err)
	}
}

func TestLabeledResponse(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	c, _ := capsLogin(t, ts.addr, "alice", "", "batch echo-message labeled-response message-tags")
	c.send("@label=one PING x")
	c.expect(`^@label=one :\S+ PONG \S+ x$`)
	c.send("@label=two PONG x")
	c.expect(`^@label=two :\S+ ACK$`)
	c.send("@label=three JOIN #lab")
	open := c.expect(`^@label=three :\S+ BATCH \+\S+ labeled-response$`)
	id := strings.TrimPrefix(open.Params[0], "+")
	c.expect(`^@batch=` + id + `;msgid=\S+ :alice!\S+ JOIN #lab$`)
	c.expect(`^:\S+ BATCH -` + id + `$`)
	c.send("@label=four PRIVMSG alice :to myself")
	lines := c.sync()
	if len(lines) != 2 || strings.Contains(lines[0], "label=") || !strings.Contains(lines[1], "label=four") {
		t.Errorf("PRIVMSG to self with echo-message: got %q, want the delivery, then the labeled echo", lines)
	}
}

// BenchmarkHistoryAppend is the cost logging adds to each relayed message: one line
// formatted and one write(2) to an open file, under the log's mutex.
func BenchmarkHistoryAppend(b *testing.B) {
	l := newChatLog(b.TempDir())
	defer l.Close()
	e := LogEntry{Time: time.Now(), MsgID: "abcdefgh12", Kind: "PRIVMSG", From: "alice", To: "#lab", Text: strings.Repeat("hello world ", 8)}
	conv := roomConversation("#lab")
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Append(conv, &e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoomRelayHistory relays messages from one member to 19 others over loopback
// with history on and off (ns/op is per message, all deliveries included): the difference
// is logging's share of the relay path.
func BenchmarkRoomRelayHistory(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("history=%v", on), func(b *testing.B) {
			cfg := testConfig(b)
			cfg.History = on
			cfg.SendQBytes = 256 << 20 // the readers drain as fast as they can; never drop one
			ts := startServer(b, cfg, "")
			const members = 20
			var clients []*ircClient
			for i := range members {
				c, _ := capsLogin(b, ts.addr, fmt.Sprintf("m%d", i), "", "")
				c.send("JOIN #bench")
				c.expect(" 366 ")
				clients = append(clients, c)
			}
			clients[members-1].sync()
			for _, c := range clients[:members-1] {
				c.sync() // every JOIN has arrived: from here on only the benchmark's lines
			}
			done := make(chan error, members-1)
			for _, c := range clients[1:] {
				go func() {
					c.conn.SetReadDeadline(time.Now().Add(time.Minute))
					for {
						line, err := c.lr.ReadLine()
						if err != nil || strings.HasSuffix(string(line), ":done") {
							done <- err
							return
						}
					}
				}()
			}
			sender := clients[0]
			w := bufio.NewWriter(sender.conn)
			for i := 0; b.Loop(); i++ {
				fmt.Fprintf(w, "PRIVMSG #bench :benchmark message number %d with some text\r\n", i)
			}
			w.WriteString("PRIVMSG #bench :done\r\n")
			w.Flush()
			for range members - 1 {
				if err := <-done; err != nil {
					b.Fatalf("receiver: %v", err)
				}
			}
		})
	}
}

// TestHistoryFullDiskTellsTheSender runs the server over a disk that fills up: messages are
// still relayed, each sender is told its message was not saved, and once space is back the
// log reads line by line with every saved message whole, through CHATHISTORY too.
func TestHistoryFullDiskTellsTheSender(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testConfig(t), dir)
	d := &fullDisk{free: -1}
	ts.history.mu.Lock()
	ts.history.openFn = d.open
	ts.history.mu.Unlock()
	alice, _ := capsLogin(t, ts.addr, "alice", "", historyCaps)
	bob, _ := capsLogin(t, ts.addr, "bob", "", "")
	for _, c := range []*ircClient{alice, bob} {
		c.send("JOIN #lab")
		c.expect(" 366 ")
	}
	notSaved := `^:\S+ NOTICE alice :Your message to (#lab|bob) was sent but NOT saved in the history: the server's disk is full$`
	alice.send("PRIVMSG #lab :before")
	bob.expect(`PRIVMSG #lab :before$`)
	d.set(30, false) // fills up part way through the next line
	alice.send("PRIVMSG #lab :while the disk is full")
	bob.expect(`PRIVMSG #lab :while the disk is full$`) // relayed all the same
	alice.expect(`PRIVMSG #lab :while the disk is full$`)
	alice.expect(notSaved)
	d.set(20, true) // and this time the partial line cannot be cut off
	alice.send("PRIVMSG #lab :torn")
	bob.expect(`PRIVMSG #lab :torn$`)
	alice.expect(notSaved)
	d.set(0, true)
	alice.send("PRIVMSG bob :a DM while it is still full")
	bob.expect(`PRIVMSG bob :a DM while it is still full$`)
	alice.expect(notSaved)
	alice.send("PRIVMSG #lab :still full")
	alice.expect(notSaved)

	d.set(-1, false) // space returns
	alice.send("PRIVMSG #lab :after")
	bob.expect(`PRIVMSG #lab :after$`)
	for _, line := range alice.sync() {
		if strings.Contains(line, "NOT saved") {
			t.Errorf("a saved message was reported unsaved: %q", line)
		}
	}
	if got := texts(historyBatch(t, alice, "CHATHISTORY LATEST #lab * 10")); got != "before|after" {
		t.Errorf("history = %q; want before|after", got)
	}
	ts.stop(t)
	got, skipped := readBack(t, logFileName(filepath.Join(dir, "logs"), "room-lab", time.Now()))
	if got != "before|after" || skipped != 1 {
		t.Errorf("log reads %q with %d lines skipped; want before|after and the one sealed torn line", got, skipped)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failedWrites < 2 {
		t.Errorf("the disk refused %d writes; the test did not fill it", d.failedWrites)
	}
}

// TestChathistoryTargetsRefusesMsgids: TARGETS takes timestamps only ("they MUST be
// timestamps and not msgids", IRCv3 chathistory); a msgid, even a real one, is refused.
func TestChathistoryTargetsRefusesMsgids(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	alice, _ := capsLogin(t, ts.addr, "alice", "", historyCaps)
	alice.send("JOIN #lab")
	alice.expect(" 366 ")
	alice.send("PRIVMSG #lab :hello")
	id := alice.expect(`PRIVMSG #lab :hello`).Tags["msgid"]
	if id == "" {
		t.Fatal("the echo has no msgid")
	}
	for _, refs := range []string{"msgid=x msgid=y", "msgid=" + id + " timestamp=2262-01-01T00:00:00.000Z", "timestamp=2020-01-01T00:00:00.000Z msgid=" + id, "* *"} {
		alice.send("CHATHISTORY TARGETS " + refs + " 10")
		alice.expect(`^:\S+ FAIL CHATHISTORY INVALID_PARAMS TARGETS \S+ :TARGETS takes two timestamp=`)
	}
	alice.send("CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z timestamp=2262-01-01T00:00:00.000Z 10")
	alice.expect(`BATCH \+\S+ draft/chathistory-targets`)
	alice.expect(`CHATHISTORY TARGETS #lab `)
}

// BenchmarkChathistoryMsgid answers CHATHISTORY BEFORE msgid=… over a real socket with 50 MB
// of room history (500,000 messages over five day files) written before the server started.
// "old" references the oldest message (the worst case for a search), "recent" one sent in
// this run. ns/op is one whole request: command, lookup, reading the page, the batch.
func BenchmarkChathistoryMsgid(b *testing.B) {
	dir := b.TempDir()
	logs := filepath.Join(dir, "logs")
	conv := roomConversation("#lab")
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -5)
	const perDay = 100_000
	text := strings.Repeat("lorem ipsum dolor sit amet ", 2)
	var buf []byte
	for day := range 5 {
		path := logFileName(logs, conv, start.AddDate(0, 0, day))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			b.Fatal(err)
		}
		buf = buf[:0]
		for i := range perDay {
			e := LogEntry{Time: start.AddDate(0, 0, day).Add(time.Duration(i) * 500 * time.Millisecond),
				MsgID: fmt.Sprintf("old%02d%06d", day, i), Kind: "PRIVMSG", From: "alice", To: "#lab", Text: text}
			buf = e.AppendLine(buf)
		}
		if err := os.WriteFile(path, buf, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	// The room went on across the restart, so its earlier history stays readable (roomhistory.go).
	if err := os.WriteFile(filepath.Join(logs, conv, historyFromFile), []byte(start.Format(logTimeLayout)+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	ts := startServer(b, testConfig(b), dir)
	c, _ := capsLogin(b, ts.addr, "alice", "", historyCaps)
	c.send("JOIN #lab")
	c.expect(" 366 ")
	c.send("PRIVMSG #lab :recent")
	recent := c.expect(`PRIVMSG #lab :recent`).Tags["msgid"]
	for _, bc := range []struct{ name, msgid string }{{"old", "old00000050"}, {"recent", recent}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				c.send("CHATHISTORY BEFORE #lab msgid=%s 10", bc.msgid)
				c.expect(`BATCH \+\S+ chathistory `)
				c.expect(`BATCH -`)
			}
		})
	}
}

// TestChathistoryMsgidPagingAcrossDays pages through a log of several days, with a sealed
// torn line inside, by msgids from before the server started (found by searching the files)
// and from this run (found in the index), reading from the references' own lines.
func TestChathistoryMsgidPagingAcrossDays(t *testing.T) {
	dir := t.TempDir()
	conv := roomConversation("#lab")
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	for day := range 3 {
		var buf []byte
		for i := range 300 {
			n := day*300 + i
			if n == 450 {
				buf = append(buf, "2026-11-24T01:00:00.000Z\tTORN\tPRIVMSG\tbob\t#la"...)
				buf = append(buf, tornLineEnd...)
			}
			e := LogEntry{Time: start.AddDate(0, 0, day).Add(time.Duration(i) * time.Second), MsgID: fmt.Sprintf("m%d", n),
				Kind: "PRIVMSG", From: "bob", To: "#lab", Text: fmt.Sprintf("m%d", n)}
			buf = e.AppendLine(buf)
		}
		path := logFileName(filepath.Join(dir, "logs"), conv, start.AddDate(0, 0, day))
		os.MkdirAll(filepath.Dir(path), 0o700)
		if err := os.WriteFile(path, buf, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The room went on across the restart, so its earlier history stays readable (roomhistory.go).
	if err := os.WriteFile(filepath.Join(dir, "logs", conv, historyFromFile), []byte(start.Format(logTimeLayout)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, testConfig(t), dir)
	alice, _ := capsLogin(t, ts.addr, "alice", "", historyCaps)
	alice.send("JOIN #lab")
	alice.expect(" 366 ")
	ids := map[string]string{}
	for i := range 5 {
		alice.send("PRIVMSG #lab :n%d", i)
		ids[fmt.Sprint("n", i)] = alice.expect(fmt.Sprintf(`PRIVMSG #lab :n%d$`, i)).Tags["msgid"]
	}
	ref := func(name string) string {
		if id, ok := ids[name]; ok {
			return "msgid=" + id
		}
		return "msgid=" + name
	}
	for _, tt := range []struct{ query, want string }{
		{"BEFORE #lab " + ref("m305") + " 10", "m295|m296|m297|m298|m299|m300|m301|m302|m303|m304"},
		{"AFTER #lab " + ref("m295") + " 10", "m296|m297|m298|m299|m300|m301|m302|m303|m304|m305"},
		{"BEFORE #lab " + ref("m452") + " 4", "m448|m449|m450|m451"},
		{"BETWEEN #lab " + ref("m100") + " " + ref("m700") + " 5", "m101|m102|m103|m104|m105"},
		{"BETWEEN #lab " + ref("m700") + " " + ref("m100") + " 5", "m695|m696|m697|m698|m699"},
		{"BETWEEN #lab " + ref("m298") + " " + ref("m301") + " 10", "m299|m300"},
		{"AROUND #lab " + ref("m300") + " 5", "m298|m299|m300|m301|m302"},
		{"LATEST #lab * 3", "n2|n3|n4"},
		{"LATEST #lab " + ref("m897") + " 10", "m898|m899|n0|n1|n2|n3|n4"},
		{"BEFORE #lab " + ref("n1") + " 3", "m898|m899|n0"},
		{"AFTER #lab " + ref("m898") + " 3", "m899|n0|n1"},
		{"BETWEEN #lab " + ref("n3") + " " + ref("m899") + " 10", "n0|n1|n2"},
		{"BEFORE #lab " + ref("m0") + " 10", ""},
		{"BEFORE #lab " + ref("TORN") + " 10", ""},
	} {
		if got := texts(historyBatch(t, alice, "CHATHISTORY "+tt.query)); got != tt.want {
			t.Errorf("CHATHISTORY %s = %q; want %q", tt.query, got, tt.want)
		}
	}
}
