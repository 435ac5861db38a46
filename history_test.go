package main

// `labchat history` tests: filters, output and exit codes through the real binary
// (labchatBinary/runCLI) over logs written with the real appender; unit tables for the
// parts with many cases; the client's records end to end; and the 1,000,000-line benchmark
// against GNU grep -c.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const historyTestTimeout = 20 * time.Second

// at is a time on the fixture days, in UTC.
func at(day, hms string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", day+" "+hms)
	if err != nil {
		panic(err)
	}
	return t
}

// writeLogs appends entries to conversation conv under root with the real appender.
func writeLogs(t testing.TB, root, conv string, entries ...LogEntry) {
	t.Helper()
	l := newChatLog(root)
	for i := range entries {
		if err := l.Append(conv, &entries[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// historyFixture is a data dir with server logs over two days and a client's records of
// two servers, one of which repeats a message the server logged (same msgid).
func historyFixture(t *testing.T) string {
	data := t.TempDir()
	srv := filepath.Join(data, "server", "logs")
	writeLogs(t, srv, roomConversation("#lab"),
		LogEntry{Time: at("2026-11-23", "10:00:00"), MsgID: "s1", Kind: "PRIVMSG", From: "alice", To: "#lab", Text: "good morning"},
		LogEntry{Time: at("2026-11-24", "09:00:00"), MsgID: "s3", Kind: "PRIVMSG", From: "bob", To: "#lab", Text: "tab\there and back\\slash"},
		LogEntry{Time: at("2026-11-24", "09:00:02"), MsgID: "s5", Kind: "NOTICE", From: "carol", To: "#lab", Text: "build is green"},
		LogEntry{Time: at("2026-11-24", "09:00:04"), MsgID: "s7", Kind: "PRIVMSG", From: "alice", To: "#lab", Text: "\x01ACTION waves\x01"},
	)
	writeLogs(t, srv, dmConversation("alice", "Bob"),
		LogEntry{Time: at("2026-11-23", "11:00:00"), MsgID: "s2", Kind: "PRIVMSG", From: "alice", To: "Bob", Text: "lunch?"},
		LogEntry{Time: at("2026-11-24", "09:00:01"), MsgID: "s4", Kind: "PRIVMSG", From: "Bob", To: "alice", Text: "sure, at noon"},
	)
	writeLogs(t, srv, dmConversation("carol", "dave"),
		LogEntry{Time: at("2026-11-24", "09:00:03"), MsgID: "s6", Kind: "PRIVMSG", From: "carol", To: "dave", Text: "hi dave"},
	)
	// alice's client on this PC recorded a message the server also logged, and talks to a
	// second server.
	client := filepath.Join(data, "client", "logs")
	writeLogs(t, filepath.Join(client, serverDirName("127.0.0.1:6667")), roomConversation("#lab"),
		LogEntry{Time: at("2026-11-24", "09:00:04"), MsgID: "s7", Kind: "PRIVMSG", From: "alice", To: "#lab", Text: "\x01ACTION waves\x01"},
	)
	writeLogs(t, filepath.Join(client, serverDirName("Other.Example:7000")), roomConversation("#lab"),
		LogEntry{Time: at("2026-11-24", "12:00:00"), MsgID: "o1", Kind: "PRIVMSG", From: "alice", To: "#lab", Text: "same room name, other server"},
	)
	return data
}

// historyJSONLines runs history --json and returns the decoded lines.
func historyJSONLines(t *testing.T, args ...string) []historyJSON {
	t.Helper()
	res := runCLI(t, historyTestTimeout, "", nil, append([]string{"history", "--json"}, args...)...)
	if res.code != exitOK {
		t.Fatalf("history %q: exit %d; stderr: %s", args, res.code, res.stderr)
	}
	var out []historyJSON
	sc := bufio.NewScanner(strings.NewReader(res.stdout))
	for sc.Scan() {
		var h historyJSON
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
			t.Fatalf("history %q printed %q: %v", args, sc.Text(), err)
		}
		out = append(out, h)
	}
	return out
}

func msgIDs(hs []historyJSON) string {
	ids := make([]string, len(hs))
	for i, h := range hs {
		ids[i] = h.MsgID
	}
	return strings.Join(ids, " ")
}

func TestHistoryFilters(t *testing.T) {
	data := historyFixture(t)
	tests := []struct {
		name string
		args []string
		want string // msgids in output order
	}{
		{"everything, sorted by time across files, duplicate shown once", nil, "s1 s2 s3 s4 s5 s6 s7 o1"},
		{"room", []string{"--room", "#lab"}, "s1 s3 s5 s7 o1"},
		{"room without #, any case", []string{"--room", "LAB"}, "s1 s3 s5 s7 o1"},
		{"with a nick, any case", []string{"--with", "bob"}, "s2 s4"},
		{"two --with", []string{"--with", "bob", "--with", "dave"}, "s2 s4 s6"},
		{"room and nick together", []string{"--room", "#lab", "--with", "dave"}, "s1 s3 s5 s6 s7 o1"},
		{"since a date", []string{"--since", "2026-11-24"}, "s3 s4 s5 s6 s7 o1"},
		{"until a date includes that day", []string{"--until", "2026-11-23"}, "s1 s2"},
		{"since and until to the second", []string{"--since", "2026-11-24 09:00:01", "--until", "2026-11-24T09:00:03Z"}, "s4 s5"},
		{"until a minute", []string{"--until", "2026-11-24 09:00"}, "s1 s2"},
		{"RFC 3339 with offset", []string{"--since", "2026-11-24T10:00:03+01:00"}, "s6 s7 o1"},
		{"grep", []string{"--grep", "noon|green"}, "s4 s5"},
		{"grep sees the unescaped text", []string{"--grep", "tab\there and back\\\\slash"}, "s3"},
		{"grep on a required literal", []string{"--grep", "(sure|fine), at no+n"}, "s4"},
		{"grep ignoring case", []string{"--grep", "(?i)GOOD"}, "s1"},
		{"grep anchored to the text", []string{"--grep", "^hi"}, "s6"},
		{"grep does not match other fields", []string{"--grep", "carol|PRIVMSG|2026"}, ""},
		{"limit keeps the last N", []string{"--limit", "3"}, "s6 s7 o1"},
		{"limit larger than the matches", []string{"--limit", "100", "--with", "dave"}, "s6"},
		{"limit after filters", []string{"--limit", "1", "--room", "#lab", "--until", "2026-11-23"}, "s1"},
		{"client records of one server", []string{"--server", "other.example:7000"}, "o1"},
		{"client records, default port", []string{"--server", "127.0.0.1"}, "s7"},
		{"nothing matches", []string{"--grep", "no such words"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // the fixture is only read
			got := msgIDs(historyJSONLines(t, append([]string{"--data-dir", data, "--utc"}, tt.args...)...))
			if got != tt.want {
				t.Errorf("history %q = %q; want %q", tt.args, got, tt.want)
			}
		})
	}
}

func TestHistoryJSONFields(t *testing.T) {
	data := historyFixture(t)
	got := historyJSONLines(t, "--data-dir", data, "--grep", "tab|other server")
	want := []historyJSON{
		{Time: "2026-11-24T09:00:00.000Z", MsgID: "s3", Kind: "PRIVMSG", From: "bob", To: "#lab", Text: "tab\there and back\\slash", Conversation: "room-lab"},
		{Time: "2026-11-24T12:00:00.000Z", MsgID: "o1", Kind: "PRIVMSG", From: "alice", To: "#lab", Text: "same room name, other server", Conversation: "room-lab", Server: "other.example:7000"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("--json = %+v;\nwant %+v", got, want)
	}
}

func TestHistoryColumns(t *testing.T) {
	data := historyFixture(t)
	res := runCLI(t, historyTestTimeout, "", nil, "history", "--data-dir", data, "--utc", "--since", "2026-11-24", "--until", "2026-11-24 09:00:05")
	// The tab is a control character: dropped, as the client shows messages.
	want := "2026-11-24 09:00:00  #lab          bob         tabhere and back\\slash\n" +
		"2026-11-24 09:00:01  ->alice       Bob         sure, at noon\n" +
		"2026-11-24 09:00:02  #lab          -carol-     build is green\n" +
		"2026-11-24 09:00:03  ->dave        carol       hi dave\n" +
		"2026-11-24 09:00:04  #lab          * alice     waves\n"
	if res.code != exitOK || res.stdout != want {
		t.Errorf("history: exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", res.code, res.stdout, want, res.stderr)
	}
}

func TestHistoryLocalTimeByDefault(t *testing.T) {
	data := historyFixture(t)
	env := []string{"TZ=Asia/Tokyo"} // +09:00, no daylight saving
	res := runCLI(t, historyTestTimeout, "", env, "history", "--data-dir", data, "--with", "dave", "--since", "2026-11-24 18:00")
	if res.code != exitOK || !strings.HasPrefix(res.stdout, "2026-11-24 18:00:03  ->dave") {
		t.Errorf("history in TZ=Asia/Tokyo: exit %d, stdout %q; want the 09:00:03Z message at 18:00:03 local", res.code, res.stdout)
	}
}

func TestHistorySinceDuration(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	writeLogs(t, dir, roomConversation("#lab"),
		LogEntry{Time: now.Add(-50 * time.Hour), MsgID: "old", Kind: "PRIVMSG", From: "a", To: "#lab", Text: "two days ago"},
		LogEntry{Time: now.Add(-3 * time.Hour), MsgID: "mid", Kind: "PRIVMSG", From: "a", To: "#lab", Text: "three hours ago"},
		LogEntry{Time: now.Add(-30 * time.Minute), MsgID: "new", Kind: "PRIVMSG", From: "a", To: "#lab", Text: "half an hour ago"},
	)
	for args, want := range map[string]string{"--since 1h": "new", "--since 1d": "mid new", "--since 3d": "old mid new", "--until 2h": "old mid", "--since 1w --until 90m": "old mid"} {
		got := msgIDs(historyJSONLines(t, append([]string{"--dir", dir}, strings.Fields(args)...)...))
		if got != want {
			t.Errorf("history %s = %q; want %q", args, got, want)
		}
	}
}

func TestHistoryUsageErrors(t *testing.T) {
	data := historyFixture(t)
	tests := []struct {
		args []string
		flag string // named in the message
	}{
		{[]string{"--since", "yesterday"}, "--since"},
		{[]string{"--until", "2026-13-01"}, "--until"},
		{[]string{"--since", "-2h"}, "--since"},
		{[]string{"--since", "2026-11-24", "--until", "2026-11-20"}, "--since"},
		{[]string{"--grep", "a(b"}, "--grep"},
		{[]string{"--limit", "-1"}, "--limit"},
		{[]string{"--limit", "many"}, "limit"},
		{[]string{"--with", "#lab"}, "--with"},
		{[]string{"--room", "#"}, "--room"},
		{[]string{"--server", ""}, "--server"},
		{[]string{"--nosuchflag"}, "nosuchflag"},
		{[]string{"stray-argument"}, "no arguments"},
	}
	for _, tt := range tests {
		res := runCLI(t, historyTestTimeout, "", nil, append([]string{"history", "--data-dir", data}, tt.args...)...)
		if res.code != exitUsage || !strings.Contains(res.stderr, tt.flag) || res.stdout != "" {
			t.Errorf("history %q: exit %d, stderr %q, stdout %q; want exit %d naming %s", tt.args, res.code, res.stderr, res.stdout, exitUsage, tt.flag)
		}
	}
}

func TestHistoryWithoutLogs(t *testing.T) {
	empty := t.TempDir()
	os.MkdirAll(filepath.Join(empty, "server", "logs", "room-lab"), 0o700) // a conversation with no day files yet
	file := filepath.Join(empty, "file")
	os.WriteFile(file, nil, 0o600)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"missing --dir", []string{"--dir", filepath.Join(empty, "nope")}, exitFailure, "no chat logs"},
		{"empty data dir", []string{"--data-dir", t.TempDir()}, exitFailure, "no chat logs"},
		{"logs dir without day files", []string{"--data-dir", empty}, exitFailure, "no chat logs"},
		{"no records of that server", []string{"--data-dir", historyFixture(t), "--server", "nowhere:1"}, exitFailure, "no client records of server nowhere:1"},
		{"--dir is a file", []string{"--dir", file}, exitUsage, "not a directory"},
	}
	for _, tt := range tests {
		res := runCLI(t, historyTestTimeout, "", nil, append([]string{"history"}, tt.args...)...)
		if res.code != tt.code || !strings.Contains(res.stderr, tt.msg) || res.stdout != "" {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", tt.name, res.code, res.stderr, tt.code, tt.msg)
		}
	}
}

func TestHistoryDirLayouts(t *testing.T) {
	data := historyFixture(t)
	tests := map[string]string{
		data:                                  "s1 s2 s3 s4 s5 s6 s7 o1",
		filepath.Join(data, "server", "logs"): "s1 s2 s3 s4 s5 s6 s7",
		filepath.Join(data, "client", "logs"): "s7 o1",
		filepath.Join(data, "client", "logs", serverDirName("other.example:7000")): "o1",
	}
	for dir, want := range tests {
		if got := msgIDs(historyJSONLines(t, "--dir", dir)); got != want {
			t.Errorf("history --dir %s = %q; want %q", dir, got, want)
		}
	}
}

func TestHistorySkipsTornAndDamagedLines(t *testing.T) {
	dir := t.TempDir()
	writeLogs(t, dir, "room-lab", LogEntry{Time: at("2026-11-24", "09:00:00"), MsgID: "a", Kind: "PRIVMSG", From: "x", To: "#lab", Text: "before"})
	path := logFileName(dir, "room-lab", at("2026-11-24", "0:00:00"))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A line torn by a full disk and sealed (histlog.go's tornLineEnd) before the next append.
	sealed := "2026-11-24T09:00:00.500Z\td\tPRIVMSG\tx\t#lab\tto" + string(tornLineEnd)
	f.WriteString("garbage without tabs\n" + strings.Repeat("x", 3<<20) + "\n" + sealed + "2026-11-24T09:00:01.000Z\tb\tPRIVMSG\tx\t#lab\tafter\n2026-11-24T09:00:02.000Z\tc\tPRIVMSG\tx\t#la")
	f.Close()
	res := runCLI(t, historyTestTimeout, "", nil, "history", "--dir", dir, "--json")
	if res.code != exitOK || strings.Count(res.stdout, "\n") != 2 || !strings.Contains(res.stdout, `"after"`) || !strings.Contains(res.stderr, "skipped 4 lines") {
		t.Errorf("exit %d, stdout %q, stderr %q; want the 2 good lines and 4 skipped", res.code, res.stdout, res.stderr)
	}
	// --grep parses only lines holding its literal ("to" is in the sealed line's text too).
	res = runCLI(t, historyTestTimeout, "", nil, "history", "--dir", dir, "--json", "--grep", "to|e")
	if res.code != exitOK || strings.Count(res.stdout, "\n") != 2 || !strings.Contains(res.stdout, `"before"`) || !strings.Contains(res.stdout, `"after"`) {
		t.Errorf("--grep: exit %d, stdout %q; want the 2 good lines", res.code, res.stdout)
	}
}

// TestLogScannerMatchesReadLog checks the chunked scanner, at buffer sizes that cut lines
// anywhere, against histlog.go's line-by-line reader with the same filter.
func TestLogScannerMatchesReadLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "room-lab", "2026-11-24.log")
	writeBenchLog(t, path, 3000)
	queries := []*historyQuery{
		{},
		{re: regexp.MustCompile("needle")},
		{re: regexp.MustCompile(`needle|tab\tstop`)},
		{re: regexp.MustCompile(`(?i)NEEDLE`)},
		{re: regexp.MustCompile(`(needle|stop|lazy dog)$`)},
		{since: at("2026-11-24", "00:01:00"), until: at("2026-11-24", "00:03:00"), re: regexp.MustCompile("w3")},
	}
	for _, q := range queries {
		var want []LogEntry
		readLogFile(path, func(e LogEntry) error {
			if (q.re == nil || q.re.MatchString(e.Text)) && (q.since.IsZero() || !e.Time.Before(q.since)) && (q.until.IsZero() || e.Time.Before(q.until)) {
				want = append(want, e)
			}
			return nil
		})
		for _, size := range []int{64, 100, 4096, 1 << 20} {
			lf := &logFile{path: path}
			s := newLogScanner(lf, newLineMatcher(q), size, size > 100)
			var got []LogEntry
			for s.advance() {
				got = append(got, s.cur)
			}
			if s.err != nil || s.skipped != 0 || !reflect.DeepEqual(got, want) {
				t.Errorf("query %+v, buffer %d: %d entries (err %v, skipped %d); want %d", q, size, len(got), s.err, s.skipped, len(want))
			}
		}
	}
}

func TestParseTimeBound(t *testing.T) {
	now := at("2026-11-24", "12:00:00")
	tests := []struct {
		in       string
		endOfDay bool
		want     time.Time
	}{
		{"2026-11-20", false, at("2026-11-20", "00:00:00")},
		{"2026-11-20", true, at("2026-11-21", "00:00:00")},
		{"2026-11-20 15:04", true, at("2026-11-20", "15:04:00")},
		{"2026-11-20 15:04:05", false, at("2026-11-20", "15:04:05")},
		{"2026-11-20T15:04", false, at("2026-11-20", "15:04:00")},
		{"2026-11-20T15:04:05+02:00", false, at("2026-11-20", "13:04:05")},
		{"2h", false, at("2026-11-24", "10:00:00")},
		{"90m", false, at("2026-11-24", "10:30:00")},
		{"3d", false, at("2026-11-21", "12:00:00")},
		{"1w", false, at("2026-11-17", "12:00:00")},
		{"0s", false, now},
	}
	for _, tt := range tests {
		got, err := parseTimeBound("since", tt.in, now, time.UTC, tt.endOfDay)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseTimeBound(%q, endOfDay %v) = %v, %v; want %v", tt.in, tt.endOfDay, got, err, tt.want)
		}
	}
	for _, bad := range []string{"yesterday", "-1h", "-3d", "3", "d", "2026-11-31", "2026/11/24", "999999d", "1.5d"} {
		if _, err := parseTimeBound("since", bad, now, time.UTC, false); err == nil {
			t.Errorf("parseTimeBound(%q) accepted it", bad)
		}
	}
}

func TestRequiredLiterals(t *testing.T) {
	tests := map[string]string{
		"needle":                 "needle",
		"(?i)needle":             "",
		"x(hello)y":              "hello",
		"foo.*barbaz":            "barbaz",
		`tab\there`:              "here",
		`back\\slash`:            "slash",
		"[Nn]eedle":              "eedle",
		"(needle){2,}":           "needle",
		"(needle)?":              "",
		"(needle)*x":             "x",
		"caf\u00e9":              "caf\u00e9",
		"^start":                 "start",
		"\ufffdbad":              "bad",
		"(?i)a(?-i)bcdefg":       "bcdefg",
		"needle|stop":            "needle stop",
		"(quick|lazy) (fox|dog)": "quick lazy",
		"(a|bc)dddd":             "dddd",
		"needle|(?i)stop":        "",
		"needle|":                "",
		"a|b|c|d|e|f|g|h|i":      "",
	}
	for expr, want := range tests {
		var got []string
		for _, lit := range requiredLiterals(expr) {
			got = append(got, string(lit))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("requiredLiterals(%q) = %q; want %q", expr, got, want)
		}
	}
}

func TestServerDirNameRoundTrips(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:6667", "[::1]:6667", "lab-pc.example:7000", "x/../..:1"} {
		name := serverDirName(addr)
		back, ok := unescapePathName(name)
		if !ok || back != strings.ToLower(addr) || strings.ContainsAny(name, `/\:.`) {
			t.Errorf("serverDirName(%q) = %q, back to %q, %v", addr, name, back, ok)
		}
	}
	for _, bad := range []string{"%", "%4", "%zz"} {
		if _, ok := unescapePathName(bad); ok {
			t.Errorf("unescapePathName(%q) accepted it", bad)
		}
	}
}

func TestUnescapeIntoBufferAgreesWithHistlog(t *testing.T) {
	for _, s := range []string{``, `plain`, `a\\b`, `t\tn\nr\r`, `\x01\x7f`, `bad\`, `\q`, `\x4`, `\x4g`, `\xzz`} {
		want, werr := unescapeLogText([]byte(s))
		got, gerr := appendUnescapedLogText([]byte("junk"), []byte(s))
		if (werr != nil) != (gerr != nil) || werr == nil && string(got[4:]) != want {
			t.Errorf("appendUnescapedLogText(%q) = %q, %v; unescapeLogText = %q, %v", s, got, gerr, want, werr)
		}
	}
}

// TestClientRecordsItsConversations runs the real client against the server: what bob
// receives and sends lands in his data dir, per server, and `labchat history` shows it.
func TestClientRecordsItsConversations(t *testing.T) {
	bob, alice, addr, data := followRoom(t)
	alice.send("PRIVMSG #lab :hello room")
	alice.send("PRIVMSG bob :hello bob")
	bob.nextLine(t)
	bob.nextLine(t)
	fmt.Fprintln(bob.stdin, "bye from bob")
	bob.stdin.Close()
	alice.expect(`:bob!\S+ PRIVMSG #lab :bye from bob`)
	if code := bob.wait(t); code != exitOK {
		t.Fatalf("bob: exit %d; stderr: %s", code, bob.stderr.String())
	}
	day := time.Now().UTC().Format("2006-01-02") + ".log"
	for _, conv := range []string{"room-lab", "dm-alice+bob"} {
		if _, err := os.Stat(filepath.Join(data, "client", "logs", serverDirName(addr), conv, day)); err != nil {
			t.Errorf("client record of %s: %v", conv, err)
		}
	}
	got := historyJSONLines(t, "--data-dir", data, "--server", addr)
	want := []historyJSON{
		{Kind: "PRIVMSG", From: "alice", To: "bob", Text: "hello bob", Conversation: "dm-alice+bob", Server: addr},
		{Kind: "PRIVMSG", From: "alice", To: "#lab", Text: "hello room", Conversation: "room-lab", Server: addr},
		{Kind: "PRIVMSG", From: "bob", To: "#lab", Text: "bye from bob", Conversation: "room-lab", Server: addr},
	}
	if len(got) != len(want) {
		t.Fatalf("history of bob's records: %+v; want %d entries", got, len(want))
	}
	// Alice's two messages may carry the same millisecond; then their order is by file.
	slices.SortFunc(got[:2], func(a, b historyJSON) int { return strings.Compare(a.Text, b.Text) })
	for i, g := range got {
		received := i < 2
		ts, err := time.Parse(time.RFC3339, g.Time)
		if err != nil || time.Since(ts) > time.Minute || received != (g.MsgID != "") {
			t.Errorf("entry %d: time %q, msgid %q; want a current time and a msgid on received messages", i, g.Time, g.MsgID)
		}
		g.Time, g.MsgID = "", ""
		if g != want[i] {
			t.Errorf("entry %d = %+v; want %+v", i, g, want[i])
		}
	}
}

// writeBenchLog writes n deterministic log lines of one room on 2026-11-24: ~1% contain
// "needle", some have tabs or backslashes to escape.
func writeBenchLog(t testing.TB, path string, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the quick brown fox jumps over lazy dog socket port packet udp tcp ack syn window buffer lab test ok w3 hello")
	start, step := at("2026-11-24", "00:00:00"), 24*time.Hour/time.Duration(n)
	var line []byte
	var text strings.Builder
	for i := range n {
		text.Reset()
		for j := range 5 + rng.IntN(10) {
			if j > 0 {
				text.WriteByte(' ')
			}
			text.WriteString(words[rng.IntN(len(words))])
		}
		switch r := rng.IntN(1000); {
		case r < 10:
			text.WriteString(" needle")
		case r < 15:
			text.WriteString(" tab\tstop C:\\path")
		}
		e := LogEntry{Time: start.Add(time.Duration(i) * step), MsgID: "m" + strconv.Itoa(i), Kind: "PRIVMSG", From: "user" + strconv.Itoa(rng.IntN(50)), To: "#lab", Text: text.String()}
		line = e.AppendLine(line[:0])
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkHistoryGrepVsGNUGrep times `labchat history --dir D --grep RE` (output to a
// file) against `grep -E -c RE` on the same 1,000,000-line log (HISTORY_BENCH_KEEP=DIR
// keeps the log there for profiling). Each op runs both once; the
// medians and their ratio are reported. Run with scripts/history-bench.sh.
func BenchmarkHistoryGrepVsGNUGrep(b *testing.B) {
	grep, err := exec.LookPath("grep")
	if err != nil {
		b.Skip("no grep")
	}
	dir := os.Getenv("HISTORY_BENCH_KEEP")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, "room-lab", "2026-11-24.log")
	writeBenchLog(b, path, 1_000_000)
	bin := labchatBinary(b)
	pattern := os.Getenv("HISTORY_BENCH_REGEX")
	if pattern == "" {
		pattern = "needle"
	}
	out := filepath.Join(b.TempDir(), "out")
	var ours, theirs []time.Duration
	var ourLines, grepCount string
	for b.Loop() {
		start := time.Now()
		cmd := exec.Command(bin, "history", "--dir", dir, "--grep", pattern)
		f, _ := os.Create(out)
		cmd.Stdout = f
		if err := cmd.Run(); err != nil {
			b.Fatalf("labchat history: %v", err)
		}
		f.Close()
		ours = append(ours, time.Since(start))
		start = time.Now()
		res, err := exec.Command(grep, "-E", "-c", pattern, path).Output()
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
			b.Fatalf("grep -E -c: %v", err) // 1 is grep's "no line matched"
		}
		theirs = append(theirs, time.Since(start))
		grepCount = strings.TrimSpace(string(res))
	}
	got, _ := os.ReadFile(out)
	ourLines = strconv.Itoa(strings.Count(string(got), "\n"))
	if ourLines != grepCount {
		b.Errorf("labchat found %s messages, grep -c %s", ourLines, grepCount)
	}
	med := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	b.ReportMetric(float64(med(ours).Microseconds())/1000, "labchat-ms")
	b.ReportMetric(float64(med(theirs).Microseconds())/1000, "grep-ms")
	b.ReportMetric(float64(med(ours))/float64(med(theirs)), "ratio")
	b.ReportMetric(0, "ns/op")
}

func TestParseLogEntryAgreesWithParseLogLine(t *testing.T) {
	lines := []string{
		"2026-11-24T21:00:00.123Z\tm1\tPRIVMSG\talice\t#lab\thello, world",
		"2026-11-24T21:00:00.123Z\t-\tNOTICE\t-\t-\t-",
		"2026-11-24T21:00:00.123Z\tm1\tPRIVMSG\talice\t#lab\ttab\\tand\\\\back",
		"2026-11-24T21:00:00.123Z\tm1\tPRIVMSG\talice\t#lab\t",
		"2026-11-24T21:00:00.123+01:00\tm1\tPRIVMSG\talice\t#lab\tzone",
		"2026-02-30T21:00:00.123Z\tm1\tPRIVMSG\talice\t#lab\tno such day",
		"2024-02-29T23:59:59.999Z\tm1\tPRIVMSG\talice\t#lab\tleap day",
		"2026-11-24T24:00:00.000Z\tm1\tPRIVMSG\ta\tb\thour 24",
		"2026-11-24T21:60:00.000Z\tm1\tPRIVMSG\ta\tb\tminute 60",
		"2026-11-24T21:00:60.000Z\tm1\tPRIVMSG\ta\tb\tsecond 60",
		"2026-11-24 21:00:00.000Z\tm1\tPRIVMSG\ta\tb\tspace",
		"2026-11-24T21:00:00.000Z\tm1\tPRIVMSG\ta\tfour fields",
		"2026-1a-24T21:00:00.000Z\tm1\tPRIVMSG\ta\tb\tletter",
		"2026-11-24T21:00:00.000Z\tm1\tPRIVMSG\ta\tb\tbad escape \\",
		"2026-00-24T21:00:00.000Z\tm1\tPRIVMSG\ta\tb\tmonth 0",
		"short",
	}
	for _, line := range lines {
		want, werr := ParseLogLine([]byte(line))
		got, gerr := parseLogEntry([]byte(line))
		if (werr != nil) != (gerr != nil) || werr == nil && (!reflect.DeepEqual(got, want) || got.Time.Location() != want.Time.Location()) {
			t.Errorf("parseLogEntry(%q) = %+v, %v; ParseLogLine = %+v, %v", line, got, gerr, want, werr)
		}
	}
}
