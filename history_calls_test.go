package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// A call's line is printed at its ring's time, before what was said after the ring, and
// --grep finds calls by their summary ("missed call from alice"), through the real binary.
func TestHistoryCallLinesInOrderAndGreppable(t *testing.T) {
	data := t.TempDir()
	srv := filepath.Join(data, "server", "logs")
	writeLogs(t, srv, dmConversation("alice", "bob"),
		LogEntry{Time: at("2026-11-24", "10:00:00"), MsgID: "c1", Kind: "PRIVMSG", From: "alice", To: "bob", Text: "\x01CALL aa11 RING\x01"},
		LogEntry{Time: at("2026-11-24", "10:00:10"), MsgID: "m1", Kind: "PRIVMSG", From: "alice", To: "bob", Text: "are you there?"},
		LogEntry{Time: at("2026-11-24", "10:00:30"), MsgID: "c2", Kind: "PRIVMSG", From: "alice", To: "bob", Text: "\x01CALL aa11 CANCEL\x01"},
		LogEntry{Time: at("2026-11-24", "10:01:00"), MsgID: "m2", Kind: "PRIVMSG", From: "bob", To: "alice", Text: "sorry, in the lab"},
		LogEntry{Time: at("2026-11-24", "10:02:00"), MsgID: "c3", Kind: "PRIVMSG", From: "bob", To: "alice", Text: "\x01CALL bb22 RING\x01"},
		LogEntry{Time: at("2026-11-24", "10:02:05"), MsgID: "c4", Kind: "NOTICE", From: "alice", To: "bob", Text: "\x01CALL bb22 ANSWER\x01"},
		LogEntry{Time: at("2026-11-24", "10:02:06"), MsgID: "m3", Kind: "PRIVMSG", From: "bob", To: "alice", Text: "can you hear me"},
		LogEntry{Time: at("2026-11-24", "10:05:05"), MsgID: "c5", Kind: "PRIVMSG", From: "bob", To: "alice", Text: "\x01CALL bb22 HANGUP\x01"},
	)
	res := runCLI(t, historyTestTimeout, "", nil, "history", "--data-dir", data, "--utc")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var texts []string
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		f := strings.Fields(line)
		texts = append(texts, strings.Join(f[4:], " "))
	}
	want := []string{"missed call from alice", "are you there?", "sorry, in the lab", "call from bob, answered, 3 min", "can you hear me"}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("order:\n got %q\nwant %q\n%s", texts, want, res.stdout)
	}
	for _, grep := range []string{"missed", "(?i)MISSED call", "answered, 3"} {
		res := runCLI(t, historyTestTimeout, "", nil, "history", "--data-dir", data, "--utc", "--grep", grep)
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		if res.code != 0 || len(lines) != 1 || !strings.Contains(strings.ToLower(lines[0]), strings.ToLower(strings.TrimPrefix(grep, "(?i)"))) {
			t.Errorf("--grep %q: exit %d, %q (stderr %s)", grep, res.code, res.stdout, res.stderr)
		}
	}
	res = runCLI(t, historyTestTimeout, "", nil, "history", "--data-dir", data, "--utc", "--grep", "hear")
	if lines := strings.Split(strings.TrimSpace(res.stdout), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "can you hear me") {
		t.Errorf("--grep hear: %q", res.stdout)
	}
}
