package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
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
		if !reflect.DeepEqual(got, e) {
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

// fullDisk stands for a file system that fills up: its files write as many bytes as still fit
// and then fail with ENOSPC, as write(2) does on a full disk. Writes go to real files.
type fullDisk struct {
	mu           sync.Mutex // guards free and noTruncate
	free         int64      // bytes that still fit; negative: no limit
	noTruncate   bool       // Truncate fails too (an I/O error on the way out)
	failedWrites int
}

type fullDiskFile struct {
	*os.File
	d *fullDisk
}

func (d *fullDisk) open(path string) (appendFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &fullDiskFile{f, d}, nil
}

func (d *fullDisk) set(free int64, noTruncate bool) {
	d.mu.Lock()
	d.free, d.noTruncate = free, noTruncate
	d.mu.Unlock()
}

func (f *fullDiskFile) Write(b []byte) (int, error) {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if f.d.free < 0 {
		return f.File.Write(b)
	}
	n, err := f.File.Write(b[:min(int64(len(b)), f.d.free)])
	f.d.free -= int64(n)
	if err == nil && n < len(b) {
		f.d.failedWrites++
		err = &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return n, err
}

func (f *fullDiskFile) Truncate(size int64) error {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if f.d.noTruncate {
		return &os.PathError{Op: "truncate", Path: f.Name(), Err: syscall.EIO}
	}
	return f.File.Truncate(size)
}

// readBack returns the texts of a log file's well-formed lines and how many it skipped, and
// fails the test if any line other than the skipped ones is not a whole message.
func readBack(t *testing.T, path string) (string, int) {
	t.Helper()
	var got []string
	skipped, err := readLogFile(path, func(e LogEntry) error { got = append(got, e.Text); return nil })
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return strings.Join(got, "|"), skipped
}

// TestChatLogSurvivesAFullDisk fills the disk at every byte of an append, with the undo of
// the partial line working and failing, keeps it full for one more append, then frees it:
// the log must hold exactly the messages whose Append succeeded, line by line, and each
// failed Append must have said so.
func TestChatLogSurvivesAFullDisk(t *testing.T) {
	day := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	conv := roomConversation("#lab")
	entry := func(i int, text string) *LogEntry {
		return &LogEntry{Time: day.Add(time.Duration(i) * time.Second), MsgID: fmt.Sprint("m", i), Kind: "PRIVMSG", From: "alice", To: "#lab", Text: text}
	}
	lineLen := int64(len(entry(1, "lost when the disk filled").AppendLine(nil)))
	for _, noTruncate := range []bool{false, true} {
		for free := int64(0); free < lineLen; free++ {
			dir := t.TempDir()
			d := &fullDisk{free: -1}
			l := newChatLog(dir)
			l.openFn = d.open
			if err := l.Append(conv, entry(0, "before")); err != nil {
				t.Fatal(err)
			}
			d.set(free, noTruncate)
			if err := l.Append(conv, entry(1, "lost when the disk filled")); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("free %d: Append on a full disk = %v; want ENOSPC", free, err)
			}
			d.set(0, noTruncate)
			if err := l.Append(conv, entry(2, "lost while it was full")); err == nil {
				t.Fatalf("free %d: Append on a full disk succeeded", free)
			}
			d.set(-1, false) // space returns
			if err := l.Append(conv, entry(3, "after")); err != nil {
				t.Fatalf("free %d: Append once space is back: %v", free, err)
			}
			if err := l.Append(conv, entry(4, "and more")); err != nil {
				t.Fatal(err)
			}
			l.Close()
			got, skipped := readBack(t, logFileName(dir, conv, day))
			wantSkipped := 0
			if noTruncate && free > 0 {
				wantSkipped = 1 // the torn line, sealed
			}
			if got != "before|after|and more" || skipped != wantSkipped {
				t.Errorf("free %d, undo fails %v: log reads %q, %d skipped; want before|after|and more, %d skipped", free, noTruncate, got, skipped, wantSkipped)
			}
		}
	}
}

// TestRepairedTornLineNeverParsesAfterAPartialSeal: the seal itself may be cut short by the
// full disk and then written whole on a later open; the line must still never parse.
func TestRepairedTornLineNeverParsesAfterAPartialSeal(t *testing.T) {
	e := LogEntry{Time: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), MsgID: "1", Kind: "PRIVMSG", From: "alice", To: "#lab", Text: `a\b\x41 tab\there`}
	line := e.AppendLine(nil)
	line = line[:len(line)-1]
	for cut := 1; cut < len(line); cut++ {
		for part := 0; part < len(tornLineEnd); part++ {
			repaired := append(append(append([]byte{}, line[:cut]...), tornLineEnd[:part]...), tornLineEnd...)
			if got, err := ParseLogLine(repaired[:len(repaired)-1]); err == nil {
				t.Errorf("line cut at %d, seal cut at %d, then sealed parses as %+v", cut, part, got)
			}
		}
	}
}

// TestOfflineQueueSurvivesAFullDisk: a queue append cut short by the disk is refused and
// leaves the queue readable; once space is back the next message is queued whole.
func TestOfflineQueueSurvivesAFullDisk(t *testing.T) {
	q := newOfflineQueues(t.TempDir(), 100)
	d := &fullDisk{free: -1}
	q.openFn = d.open
	e := func(text string) *LogEntry {
		return &LogEntry{Time: time.Now(), MsgID: text, Kind: "PRIVMSG", From: "bob", To: "alice", Text: text}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.append("alice", e("first")); err != nil {
		t.Fatal(err)
	}
	d.set(10, true)
	if err := q.append("alice", e("torn")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append on a full disk = %v; want ENOSPC", err)
	}
	d.set(0, true)
	if err := q.append("alice", e("refused")); err == nil {
		t.Fatal("append on a full disk succeeded")
	}
	d.set(-1, false)
	if err := q.append("alice", e("after")); err != nil {
		t.Fatal(err)
	}
	entries, _, err := q.read("alice")
	var got []string
	for _, e := range entries {
		got = append(got, e.Text)
	}
	if err != nil || strings.Join(got, "|") != "first|after" {
		t.Errorf("queue reads %q, %v; want first|after", got, err)
	}
}

// TestLogReadersAgree checks the backward reader and the msgid search against the forward
// reader on a file with lines of every length across the readers' buffer boundaries, a
// sealed torn line, a line too long to be a message and a torn last line.
func TestLogReadersAgree(t *testing.T) {
	path := filepath.Join(t.TempDir(), "2026-11-24.log")
	rng := rand.New(rand.NewPCG(1, 2))
	var buf []byte
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	for i := range 6000 {
		switch i {
		case 1000:
			buf = append(buf, "2026-11-24T01:00:00.000Z\tTORN\tPRIVMSG\tbob\t#la"...)
			buf = append(buf, tornLineEnd...)
		case 2000:
			buf = append(buf, bytes.Repeat([]byte("x"), maxLogLine+10)...)
			buf = append(buf, '\n')
		}
		e := LogEntry{Time: day.Add(time.Duration(i) * time.Second), MsgID: fmt.Sprintf("id%d", i), Kind: "PRIVMSG",
			From: "alice", To: "#lab", Text: strings.Repeat("é\t", rng.IntN(400))}
		buf = e.AppendLine(buf)
	}
	buf = append(buf, "2026-11-24T23:00:00.000Z\tLAST\tPRIV"...) // torn last line
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	type line struct {
		id  string
		off int64
	}
	var forward []line
	if err := readLogFileFrom(path, 0, func(e LogEntry, off int64) error {
		forward = append(forward, line{e.MsgID, off})
		return nil
	}); err != nil || len(forward) != 6000 {
		t.Fatalf("forward read %d lines, %v; want 6000", len(forward), err)
	}
	for _, end := range []int64{-1, forward[5999].off, forward[4321].off, forward[2001].off, forward[1].off, 0} {
		var backward []line
		if err := readLogFileBackward(path, end, func(e LogEntry, off int64) error {
			backward = append(backward, line{e.MsgID, off})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(forward)
		if end >= 0 {
			want = slices.DeleteFunc(want, func(l line) bool { return l.off >= end })
		}
		slices.Reverse(want)
		if !slices.Equal(backward, want) {
			t.Errorf("backward from %d: %d lines, want %d (first %v, want %v)", end, len(backward), len(want), backward[:min(1, len(backward))], want[:min(1, len(want))])
		}
	}
	for _, i := range []int{0, 999, 1000, 2000, 2500, 5999} {
		e, off, ok, err := findLogMsgID(path, forward[i].id)
		if err != nil || !ok || e.MsgID != forward[i].id || off != forward[i].off {
			t.Errorf("findLogMsgID(%s) = %q at %d, %v, %v; want it at %d", forward[i].id, e.MsgID, off, ok, err, forward[i].off)
		}
	}
	for _, id := range []string{"TORN", "LAST", "id6000", "PRIVMSG", "alice"} {
		if e, _, ok, err := findLogMsgID(path, id); ok || err != nil {
			t.Errorf("findLogMsgID(%s) found %+v, %v", id, e, err)
		}
	}
}
