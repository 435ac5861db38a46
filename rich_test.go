package main

// Issue 19 on the wire and through the binary: draft/multiline, draft/message-redaction,
// +draft/reply, +draft/react, and what the logs, CHATHISTORY and `labchat history` make of
// them. (draft/metadata-3 is covered by irctest's metadata_3 file; see docs/server.md.)

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

const richCaps = "message-tags batch echo-message server-time labeled-response draft/chathistory draft/multiline draft/message-redaction"

// readBatch reads from a BATCH +id line to its BATCH -id and returns the lines between.
func readBatch(t *testing.T, c *ircClient, start Message) []Message {
	t.Helper()
	id := strings.TrimPrefix(start.Param(0), "+")
	var out []Message
	for {
		line, err := c.readLine()
		if err != nil {
			t.Fatalf("%s: inside batch %s: %v", c.name, id, err)
		}
		m, err := ParseMessage(line)
		if err != nil {
			t.Fatalf("%s: %q: %v", c.name, line, err)
		}
		if m.Command == "BATCH" && m.Param(0) == "-"+id {
			return out
		}
		out = append(out, m)
	}
}

func msgTexts(ms []Message) []string {
	var out []string
	for _, m := range ms {
		if m.Command == "PRIVMSG" || m.Command == "NOTICE" {
			out = append(out, m.Param(1))
		}
	}
	return out
}

func roomLogLines(t *testing.T, dataDir, room string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dataDir, "logs", roomConversation(room), "*.log"))
	var lines []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimRight(string(b), "\n"), "\n")...)
	}
	return lines
}

func TestMultilineRelayFallbackHistoryAndLog(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	alice := welcomed(t, ts.addr, "alice", "", richCaps)
	bob := welcomed(t, ts.addr, "bob", "", richCaps)
	carol := welcomed(t, ts.addr, "carol", "", "message-tags server-time batch draft/chathistory")
	for _, c := range []*ircClient{alice, bob, carol} {
		c.send("JOIN #lab")
		c.expect(" 366 ")
	}
	bob.sync()
	alice.sync()

	alice.send("@label=p1 BATCH +b1 draft/multiline #lab")
	alice.send("@batch=b1 PRIVMSG #lab :int main(void) {")
	alice.send("@batch=b1 PRIVMSG #lab :    return 0;")
	alice.send("@batch=b1 PRIVMSG #lab :")
	alice.send("@batch=b1 PRIVMSG #lab :} /* a long line, ")
	alice.send("@batch=b1;draft/multiline-concat PRIVMSG #lab :continued */")
	alice.send("BATCH -b1")
	want := []string{"int main(void) {", "    return 0;", "", "} /* a long line, ", "continued */"}

	echo := alice.expect(`BATCH \+\S+ draft/multiline #lab`)
	if echo.Tags["label"] != "p1" || echo.Tags["msgid"] == "" {
		t.Errorf("echo's BATCH line tags = %v; want the label and the msgid", echo.Tags)
	}
	if got := msgTexts(readBatch(t, alice, echo)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("echo lines = %q", got)
	}
	start := bob.expect(`BATCH \+\S+ draft/multiline #lab`)
	msgid := start.Tags["msgid"]
	if msgid != echo.Tags["msgid"] {
		t.Errorf("relay msgid %q, echo %q", msgid, echo.Tags["msgid"])
	}
	lines := readBatch(t, bob, start)
	if got := msgTexts(lines); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("relayed lines = %q", got)
	}
	if _, ok := lines[4].Tags["draft/multiline-concat"]; !ok {
		t.Errorf("the concat line lost its tag: %v", lines[4].Tags)
	}
	// Without the cap: one PRIVMSG per non-blank line, the first with the msgid.
	for i, w := range []string{"int main(void) {", "    return 0;", "} /* a long line, ", "continued */"} {
		m := carol.expect(` PRIVMSG #lab `)
		if m.Param(1) != w || (i == 0) != (m.Tags["msgid"] == msgid) {
			t.Errorf("fallback line %d = %q (msgid %q)", i, m.Param(1), m.Tags["msgid"])
		}
	}

	// The log: one line for the whole message, the text's newlines escaped.
	var logged []string
	for _, l := range roomLogLines(t, ts.dir, "#lab") {
		if strings.Contains(l, "\t"+msgid+"\t") {
			logged = append(logged, l)
		}
	}
	if len(logged) != 1 || !strings.Contains(logged[0], `int main(void) {\n    return 0;\n\n} /* a long line, continued */`) {
		t.Fatalf("log lines for the message: %q", logged)
	}

	// CHATHISTORY: nested in the chathistory batch for bob, the fallback for carol.
	bob.send("CHATHISTORY LATEST #lab * 10")
	outer := bob.expect(`BATCH \+\S+ chathistory #lab`)
	inner := readBatch(t, bob, outer)
	if len(inner) < 2 || inner[0].Command != "BATCH" || inner[0].Param(1) != "draft/multiline" || inner[0].Tags["msgid"] != msgid || inner[0].Tags["batch"] != strings.TrimPrefix(outer.Param(0), "+") {
		t.Fatalf("history for bob: %v", inner)
	}
	if got := strings.Join(msgTexts(inner), "\n"); got != "int main(void) {\n    return 0;\n\n} /* a long line, continued */" {
		t.Errorf("history lines joined = %q", got)
	}
	carol.send("CHATHISTORY LATEST #lab * 10")
	outer = carol.expect(`BATCH \+\S+ chathistory #lab`)
	if got := msgTexts(readBatch(t, carol, outer)); len(got) != 3 {
		t.Errorf("history for carol (no multiline) = %q; want the three non-blank lines", got)
	}

	// Limits and mistakes are FAILs, and nothing is relayed.
	alice.send("BATCH +b2 draft/multiline #lab")
	for range multilineMaxLines + 1 {
		alice.send("@batch=b2 PRIVMSG #lab :x")
	}
	alice.expect(`FAIL BATCH MULTILINE_MAX_LINES 100 `)
	alice.send("BATCH -b2")
	alice.expect(`FAIL BATCH MULTILINE_INVALID `)
	alice.send("BATCH +b3 draft/multiline #lab")
	alice.send("@batch=b3 PRIVMSG #lab :")
	alice.send("BATCH -b3")
	alice.expect(`FAIL BATCH MULTILINE_INVALID .*at least one line`)
	alice.send("BATCH +b4 draft/multiline #elsewhere")
	alice.send("@batch=b4 PRIVMSG #lab :wrong target")
	alice.expect(`FAIL BATCH MULTILINE_INVALID `)
	for _, l := range bob.sync() {
		if strings.Contains(l, "PRIVMSG") {
			t.Errorf("bob got %q from a refused batch", l)
		}
	}
}

func TestRedactWhoMayAndWhatIsServed(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	for _, n := range []string{"alice", "bob", "carol"} {
		registerAccount(t, ts.addr, n, n+"-pw-1234").conn.Close()
	}
	alice := welcomed(t, ts.addr, "alice", "alice-pw-1234", richCaps)
	bob := welcomed(t, ts.addr, "bob", "bob-pw-1234", richCaps)
	carol := welcomed(t, ts.addr, "carol", "carol-pw-1234", "message-tags echo-message batch draft/chathistory")
	for _, c := range []*ircClient{alice, bob, carol} { // alice founds the room: its operator
		c.send("JOIN #lab")
		c.expect(" 366 ")
		c.sync()
	}
	say := func(c *ircClient, target, text string) string {
		c.send("PRIVMSG %s :%s", target, text)
		return c.expect(`PRIVMSG ` + regexp.QuoteMeta(target) + ` :` + regexp.QuoteMeta(text)).Tags["msgid"]
	}
	oops := say(bob, "#lab", "oops, wrong room")
	rude := say(carol, "#lab", "something rude")
	keep := say(bob, "#lab", "this one stays")

	bob.send("REDACT #lab %s", rude)
	bob.expect(`FAIL REDACT REDACT_FORBIDDEN #lab ` + rude + ` `)
	bob.send("REDACT #lab %s", oops)
	bob.expect(`:bob!\S+ REDACT #lab ` + oops + `$`)
	alice.expect(`:bob!\S+ REDACT #lab ` + oops + `$`)
	alice.send("REDACT #lab %s :not for this room", rude) // the room's operator
	alice.expect(`:alice!\S+ REDACT #lab ` + rude + ` :not for this room$`)
	bob.expect(`:alice!\S+ REDACT #lab ` + rude + ` :not for this room$`)
	for _, l := range carol.sync() { // no cap: no REDACT (the spec)
		if strings.Contains(l, "REDACT") {
			t.Errorf("carol without the cap got %q", l)
		}
	}
	alice.send("REDACT #lab %s", oops)
	alice.expect(`FAIL REDACT UNKNOWN_MSGID #lab ` + oops + ` `)

	bob.send("CHATHISTORY LATEST #lab * 10")
	got := msgTexts(readBatch(t, bob, bob.expect(`BATCH \+\S+ chathistory #lab`)))
	if strings.Join(got, "|") != "this one stays" {
		t.Errorf("history after the deletes = %q; want only the kept message (msgid %s)", got, keep)
	}

	// Direct messages: only the sender deletes.
	dm := say(bob, "carol", "a private note")
	carol.expect(`PRIVMSG carol :a private note`)
	alice.send("REDACT bob %s", dm)
	alice.expect(`FAIL REDACT UNKNOWN_MSGID bob `) // not her conversation: nothing by that id
	bob.send("REDACT carol %s", dm)
	bob.expect(`REDACT carol ` + dm)
	carol.send("CHATHISTORY LATEST bob * 10")
	if got := msgTexts(readBatch(t, carol, carol.expect(`BATCH \+\S+ chathistory bob`))); len(got) != 0 {
		t.Errorf("DM history after the delete = %q", got)
	}

	// A guest deletes its own message too (same nick, same connection).
	dave := welcomed(t, ts.addr, "dave", "", richCaps)
	dave.send("JOIN #lab")
	dave.expect(" 366 ")
	mine := say(dave, "#lab", "guest text")
	dave.send("REDACT #lab %s", mine)
	dave.expect(`:dave!\S+ REDACT #lab ` + mine)

	// On disk: the lines stay, a REDACT line each; `labchat history` leaves them out unless
	// asked with --redacted.
	log := strings.Join(roomLogLines(t, ts.dir, "#lab"), "\n")
	if !strings.Contains(log, "oops, wrong room") || strings.Count(log, "\tREDACT\t") != 3 {
		t.Errorf("log:\n%s", log)
	}
	ts.stop(t)
	res := runCLI(t, historyTestTimeout, "", nil, "history", "--dir", ts.dir, "--room", "#lab")
	if res.code != exitOK || strings.Contains(res.stdout, "oops") || strings.Contains(res.stdout, "rude") || !strings.Contains(res.stdout, "this one stays") {
		t.Errorf("history: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = runCLI(t, historyTestTimeout, "", nil, "history", "--dir", ts.dir, "--room", "#lab", "--redacted")
	if !strings.Contains(res.stdout, "[deleted by bob] oops, wrong room") || !strings.Contains(res.stdout, "[deleted by alice] something rude") {
		t.Errorf("history --redacted:\n%s", res.stdout)
	}
}

func TestLogTagsFieldAndOldLines(t *testing.T) {
	// A line as every earlier version wrote it (six fields) and one with the tags field.
	old := "2026-11-24T21:00:00.123Z\tm1\tPRIVMSG\talice\t#lab\thello\\tworld"
	e, err := ParseLogLine([]byte(old))
	if err != nil || e.Text != "hello\tworld" || e.Tags != nil {
		t.Fatalf("old line: %+v, %v", e, err)
	}
	e2 := LogEntry{Time: e.Time, MsgID: "m2", Kind: "PRIVMSG", From: "bob", To: "#lab", Text: "two\nlines", Tags: map[string]string{"+draft/reply": "m1", "account": "bob"}}
	line := e2.AppendLine(nil)
	if strings.Count(string(line), "\n") != 1 || strings.Count(string(line), "\t") != 6 {
		t.Fatalf("new line %q", line)
	}
	for _, parse := range []func([]byte) (LogEntry, error){ParseLogLine, parseLogEntry} {
		got, err := parse(line[:len(line)-1])
		if err != nil || got.Text != e2.Text || got.Tags["+draft/reply"] != "m1" || got.Tags["account"] != "bob" {
			t.Errorf("round trip: %+v, %v", got, err)
		}
	}
	if string(logTextField(line[:len(line)-1])) != `two\nlines` {
		t.Errorf("text field %q", logTextField(line[:len(line)-1]))
	}
}

// TestOldLogsReadAndRedactAfterUpgrade: logs written by fb35a54 (six fields, no account tag)
// are served by CHATHISTORY as before, and their sender can still delete them.
func TestOldLogsReadAndRedactAfterUpgrade(t *testing.T) {
	const old = "/work/labchat-fb35a54"
	if _, err := os.Stat(old); err != nil {
		t.Skip("the fb35a54 binary is not on this machine")
	}
	data := t.TempDir()
	cmd := exec.Command(old, "serve", "--config", cheapHashConfig(t), "--listen", "127.0.0.1:0", "--web-listen", "", "--tls-listen", "", "--data-dir", data)
	cmd.Env = append(os.Environ(), "LABCHAT_CONFIG=", "LABCHAT_DATA=", "LABCHAT_LISTEN=", "LABCHAT_WEB_LISTEN=", "LABCHAT_TLS_LISTEN=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := newLineReader(stdout, 4096).ReadLine()
	m := listenLine.FindStringSubmatch(string(line))
	if err != nil || m == nil {
		t.Fatalf("old serve printed %q, %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	alice := registerAccount(t, m[1], "alice", "alice-pw-1234")
	alice.send("JOIN #lab")
	alice.expect(" 366 ")
	alice.send("PRIVMSG #lab :written by the old version")
	alice.sync()
	// Stopped with alice still in #lab: a restart is not an emptying (roomhistory.go), so the
	// room goes on with its history.
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	alice.conn.Close()

	ts := startServer(t, testConfig(t), filepath.Join(data, "server"))
	alice = welcomed(t, ts.addr, "alice", "alice-pw-1234", richCaps)
	alice.send("JOIN #lab")
	alice.expect(" 366 ")
	alice.send("CHATHISTORY LATEST #lab * 10")
	got := readBatch(t, alice, alice.expect(`BATCH \+\S+ chathistory #lab`))
	if len(got) != 1 || got[0].Param(1) != "written by the old version" || got[0].Tags["msgid"] == "" {
		t.Fatalf("old history: %v", got)
	}
	id := got[0].Tags["msgid"]
	alice.send("REDACT #lab %s", id)
	alice.expect(`:alice!\S+ REDACT #lab ` + id)
	alice.send("CHATHISTORY LATEST #lab * 10")
	if got := readBatch(t, alice, alice.expect(`BATCH \+\S+ chathistory #lab`)); len(got) != 0 {
		t.Errorf("after the delete: %v", got)
	}
}
