package main

// The chat log format, shared by the server's history, its offline-message queues, the
// client's own records and `labchat history`.
//
// One message per line, six tab-separated fields, newline-terminated:
//
//	2026-11-24T21:00:00.123Z <TAB> msgid <TAB> PRIVMSG <TAB> alice <TAB> #lab <TAB> hello, world
//	time (RFC 3339, UTC)         id           kind          from         to          text
//
// Text is escaped so that any byte string round-trips exactly and every message stays on one
// line: backslash as \\, TAB as \t, LF as \n, CR as \r, other control bytes as \xHH. The
// other fields hold no such bytes (they are validated). A crash mid-append leaves at most one
// torn last line; readers skip lines that do not parse, and the next append first ends the
// torn line so it cannot swallow the new one.
//
// Files: <dir>/<conversation>/<YYYY-MM-DD>.log, one per conversation and UTC day. A
// conversation is "room-<name>" for a room or "dm-<a>+<b>" for two users (names casefolded
// and sorted), with every byte outside [a-z0-9_-] written as %HH, so any room or nick is a
// safe file name on Linux, macOS and Windows.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LogEntry is one logged message.
type LogEntry struct {
	Time  time.Time
	MsgID string
	Kind  string // PRIVMSG or NOTICE (a CTCP ACTION stays inside a PRIVMSG's text)
	From  string
	To    string // the room, or the nick the message was sent to
	Text  string
}

const logTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// ErrBadLogLine is a line that is torn or not in the log format.
var ErrBadLogLine = errors.New("malformed log line")

// AppendLine appends e as one log line, newline included.
func (e *LogEntry) AppendLine(buf []byte) []byte {
	buf = e.Time.UTC().AppendFormat(buf, logTimeLayout)
	for _, f := range [...]string{e.MsgID, e.Kind, e.From, e.To} {
		buf = append(buf, '\t')
		buf = appendLogField(buf, f)
	}
	buf = append(buf, '\t')
	buf = appendLogText(buf, e.Text)
	return append(buf, '\n')
}

// appendLogField writes a field that should hold no control bytes; if one slips through it
// is escaped like text rather than break the line.
func appendLogField(buf []byte, s string) []byte {
	if s == "" {
		return append(buf, '-')
	}
	return appendLogText(buf, s)
}

func appendLogText(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			buf = append(buf, '\\', '\\')
		case c == '\t':
			buf = append(buf, '\\', 't')
		case c == '\n':
			buf = append(buf, '\\', 'n')
		case c == '\r':
			buf = append(buf, '\\', 'r')
		case c < 0x20 || c == 0x7f:
			buf = append(buf, '\\', 'x', hexDigit(c>>4), hexDigit(c&0xf))
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

func hexDigit(b byte) byte { return "0123456789abcdef"[b] }

// ParseLogLine parses one line without its newline.
func ParseLogLine(line []byte) (LogEntry, error) {
	var e LogEntry
	var fields [6][]byte
	rest := line
	for i := range 5 {
		tab := bytes.IndexByte(rest, '\t')
		if tab < 0 {
			return e, ErrBadLogLine
		}
		fields[i], rest = rest[:tab], rest[tab+1:]
	}
	fields[5] = rest
	t, err := time.Parse(logTimeLayout, string(fields[0]))
	if err != nil {
		return e, ErrBadLogLine
	}
	e.Time = t
	strs := [4]*string{&e.MsgID, &e.Kind, &e.From, &e.To}
	for i, p := range strs {
		s, err := unescapeLogText(fields[i+1])
		if err != nil {
			return e, err
		}
		if s == "-" {
			s = ""
		}
		*p = s
	}
	if e.Text, err = unescapeLogText(fields[5]); err != nil {
		return e, err
	}
	return e, nil
}

func unescapeLogText(b []byte) (string, error) {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b), nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			out = append(out, b[i])
			continue
		}
		if i+1 >= len(b) {
			return "", ErrBadLogLine
		}
		i++
		switch b[i] {
		case '\\':
			out = append(out, '\\')
		case 't':
			out = append(out, '\t')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 'x':
			if i+2 >= len(b) {
				return "", ErrBadLogLine
			}
			v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
			if err != nil {
				return "", ErrBadLogLine
			}
			out = append(out, byte(v))
			i += 2
		default:
			return "", ErrBadLogLine
		}
	}
	return string(out), nil
}

// roomConversation and dmConversation name a conversation's directory.
func roomConversation(room string) string {
	return "room-" + escapePathName(casefold(strings.TrimPrefix(room, "#")))
}

func dmConversation(a, b string) string {
	names := []string{escapePathName(casefold(a)), escapePathName(casefold(b))}
	slices.Sort(names)
	return "dm-" + names[0] + "+" + names[1]
}

// escapePathName keeps [a-z0-9_-] and writes every other byte as %HH: no separator, dot,
// reserved Windows character or device name can reach the file system.
func escapePathName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || isDigit(c) || c == '_' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	if b.Len() == 0 {
		return "%"
	}
	return b.String()
}

// logFileName is the file of a conversation's messages on t's UTC day.
func logFileName(dir, conversation string, t time.Time) string {
	return filepath.Join(dir, conversation, t.UTC().Format("2006-01-02")+".log")
}

// chatLog appends entries to per-conversation, per-day files. Files stay open between
// appends (a room's chatter would otherwise cost an open and close per message), at most
// maxOpenLogs of them.
type chatLog struct {
	dir    string
	openFn logOpener // osLogOpener; tests give one whose disk fills up

	mu    sync.Mutex            // guards files; held across the write so lines never interleave
	files map[string]appendFile // path → open file
}

const maxOpenLogs = 64

func newChatLog(dir string) *chatLog {
	return &chatLog{dir: dir, openFn: osLogOpener, files: make(map[string]appendFile)}
}

// appendFile is what the logs write through: an *os.File, or in tests a file on a disk that
// fills up after so many bytes.
type appendFile interface {
	io.Writer
	io.ReaderAt
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// logOpener opens a log file for reading and appending, creating it.
type logOpener func(path string) (appendFile, error)

func osLogOpener(path string) (appendFile, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
}

// Append writes e to the conversation's file for e's day, in one write. After a failed or
// short write (a full disk) the file is as before, or, if even that could not be undone,
// its torn last line is sealed before the next append; see appendLogLine.
func (l *chatLog) Append(conversation string, e *LogEntry) error {
	path := logFileName(l.dir, conversation, e.Time)
	line := e.AppendLine(make([]byte, 0, 64+len(e.Text)))
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := l.open(path)
	if err != nil {
		return err
	}
	if err := appendLogLine(f, line); err != nil {
		// Reopened by the next append, which seals whatever the undo left behind.
		f.Close()
		delete(l.files, path)
		return fmt.Errorf("append to log %s: %w", path, err)
	}
	return nil
}

// appendLogLine writes one whole line to f. The bytes of a write that failed part way (ENOSPC
// after some of them) are cut off again, so a later line cannot be appended onto them; if
// that fails too, the file ends in a torn line, which openLogForAppend seals.
func appendLogLine(f appendFile, line []byte) error {
	n, err := f.Write(line)
	if err == nil {
		return nil
	}
	if n > 0 {
		info, serr := f.Stat()
		if serr == nil && info.Size() >= int64(n) {
			serr = f.Truncate(info.Size() - int64(n))
		}
		if serr != nil {
			return fmt.Errorf("%w (and could not cut the partial line: %v)", err, serr)
		}
	}
	return err
}

// open returns the open file for path, opening it (and closing another if too many are
// open) on first use; l.mu must be held.
func (l *chatLog) open(path string) (appendFile, error) {
	if f, ok := l.files[path]; ok {
		return f, nil
	}
	if len(l.files) >= maxOpenLogs {
		for p, f := range l.files {
			f.Close()
			delete(l.files, p)
			break
		}
	}
	f, err := openLogForAppend(l.openFn, path)
	if err != nil {
		return nil, err
	}
	l.files[path] = f
	return f, nil
}

// tornLineEnd ends a torn line so that it never parses, whatever byte the crash cut it at
// (a whole field, half an escape, a lone backslash): otherwise a line cut inside its text
// would read back as a shorter, false message once it had its newline. Cut short itself (the
// disk still full), it leaves the line unterminated, and the next open seals it again.
var tornLineEnd = []byte("\\x\\x\n")

// openLogForAppend opens (creating) a log file and ends a torn last line, so the next
// append starts on a line of its own and the torn one stays unreadable. If the torn line
// cannot be sealed (the disk is still full), nothing may be appended: that is an error.
func openLogForAppend(open logOpener, path string) (appendFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create log dir: %w", err)
	}
	f, err := open(path)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat log: %w", err)
	}
	if info.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, info.Size()-1); err != nil {
			f.Close()
			return nil, fmt.Errorf("read log's last byte: %w", err)
		}
		if last[0] != '\n' {
			if _, err := f.Write(tornLineEnd); err != nil {
				f.Close()
				return nil, fmt.Errorf("seal the torn last line of the log: %w", err)
			}
		}
	}
	return f, nil
}

// Close syncs and closes every open file.
func (l *chatLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for p, f := range l.files {
		if err := f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("sync log %s: %w", p, err))
		}
		f.Close()
		delete(l.files, p)
	}
	return errors.Join(errs...)
}

// readLogFile calls fn for every well-formed line of a log file, in order, and returns how
// many lines it skipped as torn or malformed. fn may return errStopLog to stop early.
func readLogFile(path string, fn func(LogEntry) error) (skipped int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return readLog(f, fn)
}

// errStopLog stops readLog early without an error.
var errStopLog = errors.New("stop reading log")

func readLog(r io.Reader, fn func(LogEntry) error) (skipped int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Longer than any message can be: skip it whole.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			skipped++
			continue
		}
		if err != nil {
			if len(line) > 0 {
				skipped++ // a last line without newline is torn
			}
			if errors.Is(err, io.EOF) {
				return skipped, nil
			}
			return skipped, err
		}
		e, perr := ParseLogLine(line[:len(line)-1])
		if perr != nil {
			skipped++
			continue
		}
		if err := fn(e); err != nil {
			if errors.Is(err, errStopLog) {
				return skipped, nil
			}
			return skipped, err
		}
	}
}
