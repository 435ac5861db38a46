package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLogLineRoundTripsAnyText(t *testing.T) {
	var all []byte
	for b := range 256 {
		all = append(all, byte(b))
	}
	texts := []string{"", "hello, world", "tab\there", "two\nlines\r\n", `back\slash\t`, "\x01ACTION waves\x01", string(all), "-"}
	for _, text := range texts {
		e := LogEntry{Time: time.Date(2026, 11, 24, 21, 0, 0, 123e6, time.UTC), MsgID: "m1", Kind: "PRIVMSG", From: "alice", To: "#lab", Text: text}
		line := e.AppendLine(nil)
		if bytes.Count(line, []byte{'\n'}) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("AppendLine(%q) = %q: not exactly one line", text, line)
		}
		got, err := ParseLogLine(line[:len(line)-1])
		if err != nil {
			t.Fatalf("ParseLogLine(%q): %v", line, err)
		}
		if got != e {
			t.Errorf("round trip of %q: got %+v, want %+v", text, got, e)
		}
	}
}

func TestLogLineFormatIsReadable(t *testing.T) {
	e := LogEntry{Time: time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC), MsgID: "x1", Kind: "PRIVMSG", From: "alice", To: "bob", Text: "hi\tthere"}
	if got, want := string(e.AppendLine(nil)), "2026-11-24T21:00:00.000Z\tx1\tPRIVMSG\talice\tbob\thi\\tthere\n"; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
}

func TestParseLogLineRejectsMalformed(t *testing.T) {
	for _, line := range []string{"", "2026-11-24T21:00:00.000Z\tx\tPRIVMSG\ta\tb", "yesterday\tx\tPRIVMSG\ta\tb\tc", "2026-11-24T21:00:00.000Z\tx\tPRIVMSG\ta\tb\tbad\\", "2026-11-24T21:00:00.000Z\tx\tPRIVMSG\ta\tb\t\\x4"} {
		if _, err := ParseLogLine([]byte(line)); err == nil {
			t.Errorf("ParseLogLine(%q) accepted a malformed line", line)
		}
	}
}

func TestConversationNamesAreSafePaths(t *testing.T) {
	cases := map[string]string{
		roomConversation("#Lab-3"):      "room-lab-3",
		roomConversation("#../../etc"):  "room-%2E%2E%2F%2E%2E%2Fetc",
		roomConversation("#con"):        "room-con",
		dmConversation("Bob", "alice"):  "dm-alice+bob",
		dmConversation("a[1]", "b\\|x"): "dm-a%5B1%5D+b%5C%7Cx",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("conversation = %q, want %q", got, want)
		}
		if strings.ContainsAny(got, `/\:*?"<>|.`) {
			t.Errorf("conversation %q holds a character unsafe in a path", got)
		}
	}
}

func TestChatLogSkipsAndRepairsTornLine(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	conv := roomConversation("#lab")
	l := newChatLog(dir)
	first := LogEntry{Time: day, MsgID: "1", Kind: "PRIVMSG", From: "alice", To: "#lab", Text: "first"}
	if err := l.Append(conv, &first); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// A crash mid-write: half a line, no newline.
	path := logFileName(dir, conv, day)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("2026-11-24T10:00:01.000Z\t2\tPRIVMSG\tbob\t#la")
	f.Close()

	var got []string
	skipped, err := readLogFile(path, func(e LogEntry) error { got = append(got, e.Text); return nil })
	if err != nil || skipped != 1 || len(got) != 1 {
		t.Fatalf("torn file: got %q, skipped %d, err %v; want [first], 1 skipped", got, skipped, err)
	}

	l = newChatLog(dir)
	second := LogEntry{Time: day.Add(time.Minute), MsgID: "3", Kind: "PRIVMSG", From: "carol", To: "#lab", Text: "after the crash"}
	if err := l.Append(conv, &second); err != nil {
		t.Fatal(err)
	}
	l.Close()
	got = nil
	skipped, _ = readLogFile(path, func(e LogEntry) error { got = append(got, e.Text); return nil })
	if strings.Join(got, "|") != "first|after the crash" || skipped != 1 {
		t.Errorf("after repair: got %q, skipped %d; want the torn line skipped and both messages kept", got, skipped)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", info.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, conv)); err != nil {
		t.Error(err)
	}
}

func TestRepairedTornLineNeverParses(t *testing.T) {
	e := LogEntry{Time: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), MsgID: "1", Kind: "PRIVMSG", From: "alice", To: "#lab", Text: `a\b\x41 tab\there`}
	line := e.AppendLine(nil)
	line = line[:len(line)-1]
	for cut := 1; cut < len(line); cut++ {
		repaired := append(append([]byte{}, line[:cut]...), tornLineEnd...)
		if got, err := ParseLogLine(repaired[:len(repaired)-1]); err == nil {
			t.Errorf("line cut at %d and repaired parses as %+v", cut, got)
		}
	}
}
