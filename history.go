package main

// `labchat history`: search the chat logs (histlog.go's format) that a server writes under
// DATA/server/logs and a client under DATA/client/logs/<server>/ (client_records.go).
//
// Speed: per-day files outside --since/--until are skipped by name; within a file, lines are
// found in large reads, and with --grep the literals one of which every match contains are
// looked for with bytes.Index over the whole buffer, so other lines are never looked at. A
// line that may match is confirmed on its unescaped text and only then parsed. Per-day
// files are merged by time (files of different days cannot overlap).

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
)

func historyCommand() *cli.Command {
	return &cli.Command{
		Name:  "history",
		Usage: "show or search the chat logs of a server or client data dir",
		Description: "Reads DATA/server/logs (the server's logs) and DATA/client/logs/* (this client's\n" +
			"records, one directory per server), or --dir PATH (any of these, or a data dir).\n" +
			"Prints matching messages oldest first: TIME  TO  FROM  TEXT, in local time (--utc\n" +
			"for UTC), or JSON lines with --json. Exit 0 also when nothing matched; exit 1 when\n" +
			"there are no logs at all; exit 2 for a bad flag.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "read the logs in `PATH` instead of the data dir"},
			&cli.StringSliceFlag{Name: "with", Usage: "direct messages with `NICK` (repeat for several)"},
			&cli.StringSliceFlag{Name: "room", Usage: "messages in `#ROOM` (repeat for several)"},
			&cli.StringFlag{Name: "server", Usage: "only the client's records of the server at `HOST[:PORT]`"},
			&cli.StringFlag{Name: "since", Usage: "messages from `WHEN` on: 2026-11-24, \"2026-11-24 21:00\", RFC 3339, or a duration ago (2h, 3d)"},
			&cli.StringFlag{Name: "until", Usage: "messages before `WHEN` (a date alone includes that day)"},
			&cli.StringFlag{Name: "grep", Usage: "messages whose text matches `REGEX` (Go RE2 syntax; (?i) ignores case)"},
			&cli.IntFlag{Name: "limit", Usage: "only the last `N` matches"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON lines: time, msgid, kind, from, to, text, conversation, server"},
			&cli.BoolFlag{Name: "utc", Usage: "show and read times in UTC instead of local time"},
			&cli.BoolFlag{Name: "redacted", Usage: "also show deleted (redacted) messages, marked [deleted by NICK]: the logs keep them (redact.go)"},
		},
		Action: runHistory,
	}
}

// historyQuery is a parsed `labchat history` command line.
type historyQuery struct {
	rooms  []string // conversation names of --room
	with   []string // escaped, casefolded nicks of --with
	server string   // --server as a client records dir name; "" = any
	since  time.Time
	until  time.Time // exclusive; zero = open
	re     *regexp.Regexp
	limit  int
	json   bool
	utc    bool

	showRedacted bool
	redacted     map[string]string // msgid → who deleted it, from the REDACT lines of the logs
}

func runHistory(c *cli.Context) error {
	traceNoSockets(c)
	if c.Args().Present() {
		return usageErrorf("history takes no arguments (got %q); filters are flags, see --help", c.Args().Slice())
	}
	q, err := historyQueryFromFlags(c, time.Now())
	if err != nil {
		return err
	}
	roots, err := historyRoots(c, q)
	if err != nil {
		return err
	}
	files, total, err := listLogFiles(roots, q)
	if err != nil {
		return err
	}
	if total == 0 {
		return withExit(exitFailure, fmt.Errorf("no chat logs in %s", describeRoots(roots)))
	}
	q.showRedacted = c.Bool("redacted")
	if q.redacted, err = redactedIDs(roots, q); err != nil {
		return err
	}
	out := bufio.NewWriterSize(c.App.Writer, 64<<10)
	hr := newHistoryRun(q, out)
	if err := hr.run(files); err != nil {
		return err
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if hr.skipped > 0 {
		fmt.Fprintf(c.App.ErrWriter, "labchat: history: skipped %d lines that are not in the log format (torn or damaged)\n", hr.skipped)
	}
	return nil
}

func historyQueryFromFlags(c *cli.Context, now time.Time) (*historyQuery, error) {
	q := &historyQuery{limit: c.Int("limit"), json: c.Bool("json"), utc: c.Bool("utc")}
	if q.limit < 0 {
		return nil, usageErrorf("--limit %d: want a positive number of messages", q.limit)
	}
	var err error
	if q.rooms, err = roomConversations(c.StringSlice("room")); err != nil {
		return nil, err
	}
	if q.with, err = dmPeers(c.StringSlice("with")); err != nil {
		return nil, err
	}
	if s := c.String("server"); c.IsSet("server") {
		addr, err := serverAddress(s)
		if err != nil || s == "" {
			return nil, usageErrorf("--server %q: want HOST or HOST:PORT", s)
		}
		q.server = serverDirName(addr)
	}
	loc := time.Local
	if q.utc {
		loc = time.UTC
	}
	if q.since, err = parseTimeBound("since", c.String("since"), now, loc, false); err != nil {
		return nil, err
	}
	if q.until, err = parseTimeBound("until", c.String("until"), now, loc, true); err != nil {
		return nil, err
	}
	if !q.since.IsZero() && !q.until.IsZero() && !q.since.Before(q.until) {
		return nil, usageErrorf("--since %s is not before --until %s", c.String("since"), c.String("until"))
	}
	if expr := c.String("grep"); c.IsSet("grep") {
		if q.re, err = regexp.Compile(expr); err != nil {
			return nil, usageErrorf("--grep %q: %v", expr, err)
		}
	}
	return q, nil
}

func roomConversations(rooms []string) ([]string, error) {
	var convs []string
	for _, r := range rooms {
		name := strings.TrimPrefix(r, "#")
		if name == "" || strings.ContainsAny(name, " ,\x00\r\n\a") {
			return nil, usageErrorf("--room %q: want a room name like #lab", r)
		}
		convs = append(convs, roomConversation(name))
	}
	return convs, nil
}

func dmPeers(nicks []string) ([]string, error) {
	var peers []string
	for _, n := range nicks {
		if n == "" || strings.ContainsAny(n, " ,#&\x00\r\n") {
			return nil, usageErrorf("--with %q: want a nick (for a room use --room)", n)
		}
		peers = append(peers, escapePathName(casefold(n)))
	}
	return peers, nil
}

// timeBoundLayouts are the absolute forms --since and --until accept, besides RFC 3339.
var timeBoundLayouts = []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04"}

// parseTimeBound reads --since or --until. A date alone is the start of that day, or for
// --until (endOfDay) the start of the next, so `--until 2026-11-24` includes the 24th.
func parseTimeBound(flag, s string, now time.Time, loc *time.Location, endOfDay bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, ok := parseAgo(s); ok {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	for _, layout := range timeBoundLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageErrorf("--%s %q: want a date (2026-11-24), a time (\"2026-11-24 21:00\" or RFC 3339) or a duration ago (90m, 2h, 3d, 1w)", flag, s)
}

// parseAgo reads a non-negative duration, with d (days) and w (weeks) besides Go's units.
func parseAgo(s string) (time.Duration, bool) {
	if n := len(s); n >= 2 && (s[n-1] == 'd' || s[n-1] == 'w') {
		v, err := strconv.Atoi(s[:n-1])
		if err != nil || v < 0 || v > 100000 {
			return 0, false
		}
		unit := 24 * time.Hour
		if s[n-1] == 'w' {
			unit *= 7
		}
		return time.Duration(v) * unit, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0
}

// logRoot is a directory of conversation directories: the server's logs, or the client's
// records of one server.
type logRoot struct {
	dir    string
	server string // the server HOST:PORT of a client records dir; "" for a server's logs
}

// historyRoots finds the log directories to read: under --dir, or the configured data dir.
func historyRoots(c *cli.Context, q *historyQuery) ([]logRoot, error) {
	dir := c.String("dir")
	if dir == "" {
		cfg, err := loadConfig(c)
		if err != nil {
			return nil, err
		}
		dir = cfg.DataDir
	} else if info, err := os.Stat(dir); err != nil {
		return nil, withExit(exitFailure, fmt.Errorf("no chat logs: --dir %s: %w", dir, err))
	} else if !info.IsDir() {
		return nil, usageErrorf("--dir %s is not a directory", dir)
	}
	roots, err := findLogRoots(dir)
	if err != nil {
		return nil, err
	}
	if q.server != "" {
		roots = slices.DeleteFunc(roots, func(r logRoot) bool { return serverDirName(r.server) != q.server })
		if len(roots) == 0 {
			return nil, withExit(exitFailure, fmt.Errorf("no client records of server %s in %s", c.String("server"), dir))
		}
	}
	if len(roots) == 0 {
		return nil, withExit(exitFailure, fmt.Errorf("no chat logs in %s (looked for server/logs, client/logs, or conversation directories)", dir))
	}
	return roots, nil
}

// findLogRoots understands a data dir (server/logs, client/logs/<server>), a client logs
// dir (<server>/<conversation>), and a logs dir (<conversation>/<day>.log).
func findLogRoots(dir string) ([]logRoot, error) {
	serverLogs, clientLogs := filepath.Join(dir, "server", "logs"), filepath.Join(dir, "client", "logs")
	if isDir(serverLogs) || isDir(clientLogs) {
		var roots []logRoot
		if isDir(serverLogs) {
			roots = append(roots, logRoot{dir: serverLogs})
		}
		clientRoots, err := clientLogRoots(clientLogs)
		return append(roots, clientRoots...), err
	}
	entries, err := readDirIfExists(dir)
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.IsDir() && isConversationName(e.Name()) }) {
		return []logRoot{{dir: dir}}, nil
	}
	return clientLogRoots(dir)
}

// clientLogRoots lists a client's per-server records directories.
func clientLogRoots(dir string) ([]logRoot, error) {
	entries, err := readDirIfExists(dir)
	if err != nil {
		return nil, err
	}
	var roots []logRoot
	for _, e := range entries {
		if server, ok := unescapePathName(e.Name()); ok && e.IsDir() && !isConversationName(e.Name()) {
			roots = append(roots, logRoot{dir: filepath.Join(dir, e.Name()), server: server})
		}
	}
	return roots, nil
}

func readDirIfExists(dir string) ([]os.DirEntry, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, withExit(exitFailure, fmt.Errorf("read logs dir: %w", err))
	}
	return entries, nil
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

func isConversationName(name string) bool {
	return strings.HasPrefix(name, "room-") || strings.HasPrefix(name, "dm-")
}

func describeRoots(roots []logRoot) string {
	dirs := make([]string, len(roots))
	for i, r := range roots {
		dirs[i] = r.dir
	}
	return strings.Join(dirs, ", ")
}

// serverDirName is the directory of a server's records in the client's logs dir: the
// address lower-cased (host names ignore case) and escaped like every name in the logs.
func serverDirName(addr string) string { return escapePathName(strings.ToLower(addr)) }

// unescapePathName reverses escapePathName.
func unescapePathName(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), true
}

// logFile is one conversation's log of one UTC day.
// redactedIDs reads the REDACT lines of every day of the queried conversations (a message
// may be deleted days after it was sent) and returns who deleted which msgid.
func redactedIDs(roots []logRoot, q *historyQuery) (map[string]string, error) {
	all := *q
	all.since, all.until = time.Time{}, time.Time{}
	files, _, err := listLogFiles(roots, &all)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string)
	needle := []byte("\tREDACT\t")
	for _, f := range files {
		data, err := os.ReadFile(f.path)
		if err != nil {
			return nil, withExit(exitFailure, fmt.Errorf("read %s: %w", f.path, err))
		}
		if !bytes.Contains(data, needle) {
			continue
		}
		readLog(bytes.NewReader(data), func(e LogEntry) error {
			if e.Kind == "REDACT" {
				id, _, _ := strings.Cut(e.Text, " ")
				out[id] = e.From
			}
			return nil
		})
	}
	return out, nil
}

type logFile struct {
	path, conversation, server string
	day                        string // YYYY-MM-DD (UTC)
}

// listLogFiles returns the log files the query may need, sorted by day, and how many log
// files there are in all (to tell "no logs" from "nothing matched").
func listLogFiles(roots []logRoot, q *historyQuery) (files []logFile, total int, err error) {
	for _, root := range roots {
		convs, err := readDirIfExists(root.dir)
		if err != nil {
			return nil, 0, err
		}
		for _, conv := range convs {
			if !conv.IsDir() || !isConversationName(conv.Name()) {
				continue
			}
			days, err := readDirIfExists(filepath.Join(root.dir, conv.Name()))
			if err != nil {
				return nil, 0, err
			}
			for _, d := range days {
				day, ok := strings.CutSuffix(d.Name(), ".log")
				if _, err := time.Parse("2006-01-02", day); !ok || err != nil || d.IsDir() {
					continue
				}
				total++
				if q.wantsConversation(conv.Name()) && q.wantsDay(day) {
					files = append(files, logFile{path: filepath.Join(root.dir, conv.Name(), d.Name()), conversation: conv.Name(), server: root.server, day: day})
				}
			}
		}
	}
	slices.SortStableFunc(files, func(a, b logFile) int { return strings.Compare(a.day, b.day) })
	return files, total, nil
}

func (q *historyQuery) wantsConversation(conv string) bool {
	if len(q.rooms) == 0 && len(q.with) == 0 {
		return true
	}
	if slices.Contains(q.rooms, conv) {
		return true
	}
	pair, ok := strings.CutPrefix(conv, "dm-")
	a, b, _ := strings.Cut(pair, "+")
	return ok && (slices.Contains(q.with, a) || slices.Contains(q.with, b))
}

// wantsDay reports whether the UTC day can hold messages in [since, until).
func (q *historyQuery) wantsDay(day string) bool {
	start, err := time.Parse("2006-01-02", day)
	if err != nil {
		return false
	}
	end := start.AddDate(0, 0, 1)
	return (q.since.IsZero() || end.After(q.since)) && (q.until.IsZero() || start.Before(q.until))
}

// historyEntry is a matching message and where it was logged.
type historyEntry struct {
	LogEntry
	file *logFile
}

// historyRun merges, filters and prints. Owned by one goroutine.
type historyRun struct {
	q        *historyQuery
	m        *lineMatcher
	out      *bufio.Writer
	enc      *json.Encoder
	buf      []byte
	stamp    []byte // the time column of the second stampSec
	stampSec int64
	seen     sameTimeIDs
	calls    callFolder // CALL lines become one line per call (calllog.go)
	// A call's line is shown at its ring's time, but known only at its end: from a ring on,
	// what follows waits in pending until the calls before it have ended.
	pending  []pendingLine
	pendBase int            // the sequence number of pending[0]
	slots    map[string]int // call id → the sequence number of its place in pending
	last     []historyEntry // with --limit: a ring of the last matches
	nlast    int            // matches put in last
	skipped  int            // lines not in the log format
}

func newHistoryRun(q *historyQuery, out *bufio.Writer) *historyRun {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	return &historyRun{q: q, m: newLineMatcher(q), out: out, enc: enc}
}

// run prints the matches of files, which are sorted by day.
func (hr *historyRun) run(files []logFile) error {
	for len(files) > 0 {
		n := 1
		for n < len(files) && files[n].day == files[0].day {
			n++
		}
		if err := hr.mergeDay(files[:n]); err != nil {
			return err
		}
		files = files[n:]
	}
	var fillErr error
	hr.calls.flushEach(func(id string, e LogEntry) { // calls whose end is not in the logs
		if err := hr.fill(id, historyEntry{LogEntry: e}); err != nil && fillErr == nil {
			fillErr = err
		}
	})
	if fillErr != nil {
		return fillErr
	}
	if err := hr.drain(true); err != nil {
		return err
	}
	return hr.flushLast()
}

// mergeDay prints one day's matches from all its files in time order.
func (hr *historyRun) mergeDay(files []logFile) error {
	bufSize := min(max(32<<20/len(files), 64<<10), 1<<20)
	h := &scannerHeap{}
	for i := range files {
		s := newLogScanner(&files[i], hr.m, bufSize, len(files) <= 64)
		if s.advance() {
			h.items = append(h.items, s)
		} else if err := hr.finish(s); err != nil {
			return err
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		s := h.items[0]
		if err := hr.emit(historyEntry{LogEntry: s.cur, file: s.file}); err != nil {
			return err
		}
		if s.advance() {
			heap.Fix(h, 0)
			continue
		}
		heap.Pop(h)
		if err := hr.finish(s); err != nil {
			return err
		}
	}
	return nil
}

func (hr *historyRun) finish(s *logScanner) error {
	s.close()
	hr.skipped += s.skipped
	if s.err != nil {
		return withExit(exitFailure, fmt.Errorf("read %s: %w", s.file.path, s.err))
	}
	return nil
}

// emit prints e, or with --limit keeps it among the last N. A message logged twice (by the
// server and a client on the same PC, or by two clients sharing a data dir) is shown once.
func (hr *historyRun) emit(e historyEntry) error {
	switch e.Kind {
	case "REDACT", "TAGMSG", "TOPIC":
		return nil // bookkeeping and events, not messages
	}
	if by, gone := hr.q.redacted[e.MsgID]; gone && e.MsgID != "" {
		if !hr.q.showRedacted {
			return nil
		}
		e.Text = "[deleted by " + by + "] " + e.Text
	}
	if e.MsgID != "" && !hr.seen.add(e.Time, e.MsgID) {
		return nil
	}
	wasOpen := false
	id, verb, callLine := callOfText(e.Text)
	if callLine {
		wasOpen = hr.calls.isOpen(id)
	}
	if sum, show, isCall := hr.calls.feed(e.LogEntry); isCall {
		switch {
		case callLine && verb == callRing && !wasOpen && hr.calls.isOpen(id):
			if hr.slots == nil {
				hr.slots = map[string]int{}
			}
			hr.slots[id] = hr.pendBase + len(hr.pending)
			hr.pending = append(hr.pending, pendingLine{})
			return nil
		case show:
			e.LogEntry = sum
			return hr.fill(id, e)
		}
		return nil
	}
	if len(hr.pending) > 0 {
		hr.pending = append(hr.pending, pendingLine{e: e, ready: true})
		// A call that never ends (a log cut short) must not hold the rest forever.
		return hr.drain(len(hr.pending) > maxPendingLines)
	}
	return hr.keep(e)
}

// pendingLine is a line waiting for the calls that rang before it to end; a call's own
// place is not ready until its end gives its summary.
type pendingLine struct {
	e     historyEntry
	ready bool
	drop  bool // a call whose summary --grep does not match
}

// maxPendingLines bounds the lines held behind an unfinished call.
const maxPendingLines = 10000

// callOfText reads a CALL line's id and verb.
func callOfText(text string) (id, verb string, ok bool) {
	body, isCTCP := strings.CutPrefix(text, "\x01")
	if !isCTCP {
		return "", "", false
	}
	return parseCall(strings.TrimSuffix(body, "\x01"))
}

// fill puts call id's summary in its place and prints what is no longer waiting. --grep
// is applied to the summary here: the matcher let the call's raw CTCP lines through.
func (hr *historyRun) fill(id string, e historyEntry) error {
	seq, ok := hr.slots[id]
	if !ok {
		if hr.q.re != nil && !hr.q.re.MatchString(e.Text) {
			return nil
		}
		return hr.keep(e)
	}
	delete(hr.slots, id)
	p := &hr.pending[seq-hr.pendBase]
	p.e, p.ready = e, true
	p.drop = hr.q.re != nil && !hr.q.re.MatchString(e.Text)
	return hr.drain(false)
}

// drain prints the ready lines at the front of pending; force prints past an open call
// (its summary then comes at the end, out of place, rather than never).
func (hr *historyRun) drain(force bool) error {
	for len(hr.pending) > 0 && (hr.pending[0].ready || force) {
		p := hr.pending[0]
		hr.pending = hr.pending[1:]
		hr.pendBase++
		if !p.ready {
			for id, seq := range hr.slots {
				if seq == hr.pendBase-1 {
					delete(hr.slots, id) // its summary is printed when it comes
				}
			}
			continue
		}
		if p.drop {
			continue
		}
		if err := hr.keep(p.e); err != nil {
			return err
		}
		if force && len(hr.pending) <= maxPendingLines/2 {
			force = false
		}
	}
	return nil
}

// keep prints e, or with --limit keeps it among the last N.
func (hr *historyRun) keep(e historyEntry) error {
	if hr.q.limit == 0 {
		return hr.print(e)
	}
	if len(hr.last) < hr.q.limit {
		hr.last = append(hr.last, e)
	} else {
		hr.last[hr.nlast%hr.q.limit] = e
	}
	hr.nlast++
	return nil
}

func (hr *historyRun) flushLast() error {
	if hr.nlast <= len(hr.last) {
		for _, e := range hr.last {
			if err := hr.print(e); err != nil {
				return err
			}
		}
		return nil
	}
	start := hr.nlast % hr.q.limit
	for i := range hr.last {
		if err := hr.print(hr.last[(start+i)%hr.q.limit]); err != nil {
			return err
		}
	}
	return nil
}

// historyJSON is one line of --json output.
type historyJSON struct {
	Time         string `json:"time"` // RFC 3339, UTC, milliseconds
	MsgID        string `json:"msgid"`
	Kind         string `json:"kind"`
	From         string `json:"from"`
	To           string `json:"to"`
	Text         string `json:"text"`
	Conversation string `json:"conversation"`
	Server       string `json:"server,omitempty"` // the server of a client's record
}

func (hr *historyRun) print(e historyEntry) error {
	var err error
	if hr.q.json {
		err = hr.enc.Encode(historyJSON{
			Time: e.Time.UTC().Format(logTimeLayout), MsgID: e.MsgID, Kind: e.Kind, From: e.From,
			To: e.To, Text: e.Text, Conversation: e.file.conversation, Server: e.file.server,
		})
	} else {
		hr.buf = hr.appendColumns(hr.buf[:0], &e.LogEntry)
		_, err = hr.out.Write(hr.buf)
	}
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// appendColumns formats e as "TIME  TO  FROM  TEXT". TO is the room, or ->NICK for a
// direct message to NICK; a NOTICE's sender shows as -nick-, an ACTION as "* nick".
// Control characters are dropped, as the client does.
func (hr *historyRun) appendColumns(buf []byte, e *LogEntry) []byte {
	if sec := e.Time.Unix(); sec != hr.stampSec || hr.stamp == nil {
		t := e.Time
		if !hr.q.utc {
			t = t.Local()
		}
		hr.stampSec, hr.stamp = sec, t.AppendFormat(hr.stamp[:0], "2006-01-02 15:04:05")
	}
	buf = append(buf, hr.stamp...)
	from, text := e.From, e.Text
	if body, ok := strings.CutPrefix(text, "\x01ACTION "); ok {
		from, text = "* "+from, strings.TrimSuffix(body, "\x01")
	} else if e.Kind == "NOTICE" {
		from = "-" + from + "-"
	}
	to := e.To
	if to != "" && !strings.ContainsRune("#&", rune(to[0])) {
		to = "->" + to
	}
	buf = appendColumn(buf, displayText(to), 12)
	buf = appendColumn(buf, displayText(from), 10)
	buf = append(buf, "  "...)
	// A multiline message: its further lines under the first, indented past the columns.
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			buf = append(buf, '\n')
			buf = append(buf, historyIndent...)
		}
		buf = append(buf, displayText(line)...)
	}
	return append(buf, '\n')
}

// historyIndent lines up a multiline message's further lines with its text column.
var historyIndent = strings.Repeat(" ", len("2006-01-02 15:04:05")+2+12+2+10+2-2) + "| "

// displayText is sanitize without the copy when there is nothing to drop (0xc2 leads the
// C1 controls in UTF-8).
func displayText(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == 0xc2 {
			return sanitize(s)
		}
	}
	return s
}

func appendColumn(buf []byte, s string, width int) []byte {
	buf = append(buf, "  "...)
	buf = append(buf, s...)
	for n := len(s); n < width; n++ {
		buf = append(buf, ' ')
	}
	return buf
}

// sameTimeIDs holds the msgids shown with the current time stamp. A message recorded twice
// carries the server's time stamp both times, and the merge puts equal times together, so
// comparing within one time stamp finds every duplicate.
type sameTimeIDs struct {
	at  time.Time
	ids []string
}

// add reports whether msgid at time t is new, and remembers it.
func (s *sameTimeIDs) add(t time.Time, msgid string) bool {
	if !t.Equal(s.at) {
		s.at, s.ids = t, s.ids[:0]
	} else if slices.Contains(s.ids, msgid) {
		return false
	}
	s.ids = append(s.ids, msgid)
	return true
}

// scannerHeap orders a day's scanners by their current entry's time, then by file order.
type scannerHeap struct{ items []*logScanner }

func (h *scannerHeap) Len() int { return len(h.items) }
func (h *scannerHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if c := a.cur.Time.Compare(b.cur.Time); c != 0 {
		return c < 0
	}
	return a.file.path < b.file.path
}
func (h *scannerHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *scannerHeap) Push(x any)    { h.items = append(h.items, x.(*logScanner)) }
func (h *scannerHeap) Pop() any {
	s := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return s
}

// maxHistoryLine is the longest line read; longer ones are skipped as damaged (a 512-byte
// IRC line escapes to at most 2 KiB).
const maxHistoryLine = 1 << 20

// logScanner yields the matching entries of one log file in file order, reading it in big
// chunks. With keepOpen false it reopens the file for each chunk, so a day with many
// conversations cannot run out of file descriptors.
type logScanner struct {
	file     *logFile
	m        *lineMatcher
	keepOpen bool
	f        *os.File
	off      int64 // file offset of buf[end]
	buf      []byte
	pos      int   // next byte to look at
	lim      int   // end of the last whole line in buf
	end      int   // end of the bytes read into buf
	eof      bool  // nothing more to read
	skipLine bool  // discarding the rest of an over-long line
	litNext  []int // lineMatcher.candidate's cache for this buffer
	cur      LogEntry
	skipped  int
	err      error
}

func newLogScanner(file *logFile, m *lineMatcher, bufSize int, keepOpen bool) *logScanner {
	return &logScanner{file: file, m: m, buf: make([]byte, bufSize), keepOpen: keepOpen, litNext: make([]int, len(m.literals))}
}

// advance moves to the next matching entry; false at the end or on an error (s.err).
func (s *logScanner) advance() bool {
	for {
		for s.pos < s.lim {
			line, next := s.m.candidate(s.buf[:s.lim], s.pos, s.litNext)
			s.pos = next
			if line == nil {
				break
			}
			e, ok, bad := s.m.match(line)
			if bad {
				s.skipped++
			}
			if ok {
				s.cur = e
				return true
			}
		}
		if !s.fill() {
			return false
		}
	}
}

// fill reads the next chunk after the whole lines already scanned.
func (s *logScanner) fill() bool {
	if s.eof || s.err != nil {
		if s.pos < s.end && s.err == nil {
			s.skipped++ // a last line without its newline is torn
			s.pos = s.end
		}
		return false
	}
	s.end = copy(s.buf, s.buf[s.pos:s.end])
	s.pos, s.lim = 0, 0
	for i := range s.litNext {
		s.litNext[i] = -1
	}
	if s.end == len(s.buf) {
		if len(s.buf) < maxHistoryLine {
			s.buf = append(s.buf, make([]byte, len(s.buf))...)
		} else {
			s.skipped++
			s.skipLine, s.end = true, 0
		}
	}
	if err := s.read(); err != nil {
		s.err = err
		return false
	}
	if s.skipLine {
		nl := bytes.IndexByte(s.buf[:s.end], '\n')
		if nl < 0 {
			s.end = 0
			return true
		}
		s.skipLine, s.pos = false, nl+1
	}
	s.lim = bytes.LastIndexByte(s.buf[:s.end], '\n') + 1
	if s.lim < s.pos {
		s.lim = s.pos
	}
	return true
}

func (s *logScanner) read() error {
	if s.f == nil {
		f, err := os.Open(s.file.path)
		if err != nil {
			return err
		}
		if _, err := f.Seek(s.off, io.SeekStart); err != nil {
			f.Close()
			return err
		}
		s.f = f
	}
	n, err := io.ReadFull(s.f, s.buf[s.end:])
	s.end += n
	s.off += int64(n)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		s.eof, err = true, nil
	}
	if !s.keepOpen || s.eof {
		s.close()
	}
	return err
}

func (s *logScanner) close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// lineMatcher decides which log lines a query wants, touching as few bytes as it can.
type lineMatcher struct {
	sinceKey, untilKey []byte // the bounds as log time stamps ("…T21:00:00.000Z"); nil = open
	since, until       time.Time
	re                 *regexp.Regexp
	literals           [][]byte // every match of re contains one of them; found with bytes.Index
	scratch            []byte   // unescaped text of the line being matched
}

func newLineMatcher(q *historyQuery) *lineMatcher {
	m := &lineMatcher{re: q.re, since: ceilMilli(q.since), until: ceilMilli(q.until)}
	if !q.since.IsZero() {
		m.sinceKey = m.since.UTC().AppendFormat(nil, logTimeLayout)
	}
	if !q.until.IsZero() {
		m.untilKey = m.until.UTC().AppendFormat(nil, logTimeLayout)
	}
	if q.re != nil {
		m.literals = requiredLiterals(q.re.String())
		if len(m.literals) > 0 {
			// A call's lines are CTCP; --grep is matched against the call's summary
			// ("missed call from alice"), so they are let through to the folder.
			m.literals = append(m.literals, []byte(`\x01CALL `))
		}
	}
	return m
}

// ceilMilli rounds t up to the log's millisecond precision, so comparing time stamps as
// text gives the same answer as comparing the exact times.
func ceilMilli(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(time.Millisecond - 1).Truncate(time.Millisecond)
}

// candidate returns the next line at or after pos in buf (which ends with a whole line)
// that may match, without its newline, and where to go on; nil when there is none.
// next[i] caches where literal i occurs next in buf (-1: not known).
func (m *lineMatcher) candidate(buf []byte, pos int, next []int) (line []byte, nextPos int) {
	if len(m.literals) > 0 {
		at := len(buf)
		for i, lit := range m.literals {
			if next[i] < pos {
				next[i] = len(buf)
				if j := bytes.Index(buf[pos:], lit); j >= 0 {
					next[i] = pos + j
				}
			}
			at = min(at, next[i])
		}
		if at == len(buf) {
			return nil, len(buf)
		}
		pos += bytes.LastIndexByte(buf[pos:at], '\n') + 1
	}
	nl := bytes.IndexByte(buf[pos:], '\n')
	return buf[pos : pos+nl], pos + nl + 1
}

// match checks one raw line; bad means it is not in the log format.
func (m *lineMatcher) match(line []byte) (e LogEntry, ok, bad bool) {
	fastTime := len(line) > 24 && line[23] == 'Z' && line[24] == '\t'
	if fastTime && (m.sinceKey != nil && bytes.Compare(line[:24], m.sinceKey) < 0 || m.untilKey != nil && bytes.Compare(line[:24], m.untilKey) >= 0) {
		return e, false, false
	}
	if m.re != nil {
		text := logTextField(line)
		if text == nil {
			return e, false, true
		}
		if bytes.IndexByte(text, '\\') >= 0 {
			var err error
			if m.scratch, err = appendUnescapedLogText(m.scratch[:0], text); err != nil {
				return e, false, true
			}
			text = m.scratch
		}
		if !m.re.Match(text) && !bytes.HasPrefix(text, []byte("\x01CALL ")) {
			return e, false, false
		}
	}
	e, err := parseLogEntry(line)
	if err != nil {
		return e, false, true
	}
	if !fastTime && (!m.since.IsZero() && e.Time.Before(m.since) || !m.until.IsZero() && !e.Time.Before(m.until)) {
		return e, false, false
	}
	return e, true, false
}

// parseLogEntry is ParseLogLine with a single allocation for a line in the usual form (a UTC
// time stamp, no escapes): the fields are substrings of one copy of the line.
func parseLogEntry(line []byte) (LogEntry, error) {
	t, ok := parseLogTime(line)
	if !ok || bytes.IndexByte(line, '\\') >= 0 {
		return ParseLogLine(line)
	}
	rest := string(line[25:])
	var fields [4]string
	for i := range fields {
		tab := strings.IndexByte(rest, '\t')
		if tab < 0 {
			return LogEntry{}, ErrBadLogLine
		}
		if fields[i], rest = rest[:tab], rest[tab+1:]; fields[i] == "-" {
			fields[i] = ""
		}
	}
	text, tags, _ := strings.Cut(rest, "\t")
	return LogEntry{Time: t, MsgID: fields[0], Kind: fields[1], From: fields[2], To: fields[3], Text: text, Tags: parseLogTags([]byte(tags))}, nil
}

// parseLogTime reads the "2006-01-02T15:04:05.000Z\t" a line starts with, as time.Parse
// would with logTimeLayout; false for any other form.
func parseLogTime(line []byte) (time.Time, bool) {
	if len(line) < 25 || string(line[23:25]) != "Z\t" {
		return time.Time{}, false
	}
	var v [7]int
	for i, f := range [7][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}, {20, 23}} {
		for _, c := range line[f[0]:f[1]] {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			v[i] = v[i]*10 + int(c-'0')
		}
	}
	if string([]byte{line[4], line[7], line[10], line[13], line[16], line[19]}) != "--T::." || v[3] > 23 || v[4] > 59 || v[5] > 59 {
		return time.Time{}, false
	}
	t := time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], v[6]*1e6, time.UTC)
	if t.Day() != v[2] || int(t.Month()) != v[1] { // Feb 30 and the like
		return time.Time{}, false
	}
	return t, true
}

// logTextField is the sixth field of a log line, still escaped; nil if there is none.
func logTextField(line []byte) []byte {
	for range 5 {
		tab := bytes.IndexByte(line, '\t')
		if tab < 0 {
			return nil
		}
		line = line[tab+1:]
	}
	text, _ := splitLogTags(line)
	return text
}

// appendUnescapedLogText is histlog.go's unescapeLogText into a reused buffer.
func appendUnescapedLogText(dst, b []byte) ([]byte, error) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' {
			if i+1 >= len(b) {
				return dst, ErrBadLogLine
			}
			i++
			var ok bool
			if c, ok = logUnescapes[b[i]]; b[i] == 'x' && i+2 < len(b) {
				v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
				c, ok = byte(v), err == nil
				i += 2
			}
			if !ok {
				return dst, ErrBadLogLine
			}
		}
		dst = append(dst, c)
	}
	return dst, nil
}

var logUnescapes = map[byte]byte{'\\': '\\', 't': '\t', 'n': '\n', 'r': '\r'}

// requiredLiterals returns strings one of which every match of expr contains, each free of
// bytes the log escapes (so it appears in the raw line as in the text); nil if no small set
// is known, and then every line is tried.
func requiredLiterals(expr string) [][]byte {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	var lits [][]byte
	for _, s := range literalSet(re.Simplify()) {
		lits = append(lits, []byte(s))
	}
	return lits
}

// maxLiteralSet bounds the strings looked for: each costs one pass over the buffer.
const maxLiteralSet = 8

// literalSet returns strings one of which every match of re contains; nil: none known.
func literalSet(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		if piece := longestPiece(string(re.Rune)); piece != "" && re.Flags&syntax.FoldCase == 0 {
			return []string{piece}
		}
	case syntax.OpCapture, syntax.OpPlus:
		return literalSet(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min > 0 {
			return literalSet(re.Sub[0])
		}
	case syntax.OpConcat:
		var best []string
		for _, sub := range re.Sub {
			if set := literalSet(sub); betterLiteralSet(set, best) {
				best = set
			}
		}
		return best
	case syntax.OpAlternate:
		var union []string
		for _, sub := range re.Sub {
			set := literalSet(sub)
			if set == nil {
				return nil
			}
			union = append(union, set...)
		}
		if len(union) <= maxLiteralSet {
			return union
		}
	}
	return nil
}

// betterLiteralSet prefers the set whose shortest string is longest (fewer false
// candidates), then the smaller set.
func betterLiteralSet(a, b []string) bool {
	shortest := func(set []string) int {
		return len(slices.MinFunc(set, func(x, y string) int { return len(x) - len(y) }))
	}
	switch {
	case a == nil:
		return false
	case b == nil:
		return true
	}
	return shortest(a) > shortest(b) || shortest(a) == shortest(b) && len(a) < len(b)
}

// longestPiece is the longest part of a required literal without a byte the log escapes:
// a part of a required string is required too.
func longestPiece(lit string) string {
	var best string
	for _, piece := range strings.FieldsFunc(lit, escapedInLog) {
		if len(piece) > len(best) {
			best = piece
		}
	}
	return best
}

// escapedInLog reports whether the log writes r otherwise than as its UTF-8 bytes (an
// invalid byte in the text matches the regexp as U+FFFD but is not those bytes).
func escapedInLog(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' || r == utf8.RuneError }
