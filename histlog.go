package main

// The chat log format, shared by the server's history, its offline-message queues, the
// client's own records and `labchat history`.
//
// One message per line, six tab-separated fields, newline-terminated:
//
//	2026-11-24T21:00:00.123Z <TAB> msgid <TAB> PRIVMSG <TAB> alice <TAB> #lab <TAB> hello, world
//	time (RFC 3339, UTC)         id           kind          from         to          text
//
// A seventh field, present only when the message had tags worth keeping, holds them in IRC's
// tag encoding (client-only tags such as +draft/reply and +draft/react, and the sender's
// account): "...<TAB>text<TAB>+draft/reply=abc;account=alice". Lines without it, every line
// written before it existed included, read as before. Kinds besides PRIVMSG and NOTICE:
// TAGMSG (a reaction), TOPIC, REDACT (text: the redacted msgid, a space, the reason) and
// CALL (calllog.go).
//
// A multiline message (multiline.go) is one line whose text holds "\n" between its lines.
//
// Text is escaped so that any byte string round-trips exactly and every message stays on one
// line: backslash as \\, TAB as \t, LF as \n, CR as \r, other control bytes and bytes that
// are not UTF-8 as \xHH, so every log file is valid UTF-8. The other fields hold no such bytes
// (they are validated). A crash mid-append leaves at most one torn last line; readers skip
// lines that do not parse, and the next append first ends the torn line so it cannot swallow
// the new one.
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
	"unicode/utf8"
)

// LogEntry is one logged message.
type LogEntry struct {
	Time  time.Time
	MsgID string
	Kind  string // PRIVMSG or NOTICE (a CTCP ACTION stays inside a PRIVMSG's text)
	From  string
	To    string // the room, or the nick the message was sent to
	Text  string
	Tags  map[string]string // client-only tags and the sender's account; nil for none
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
	if len(e.Tags) > 0 {
		if t, err := (&Message{Tags: e.Tags}).appendTags(nil); err == nil && len(t) > 2 {
			buf = append(buf, '\t')
			buf = appendLogText(buf, string(t[1:len(t)-1])) // without '@' and the space
		}
	}
	return append(buf, '\n')
}

// splitLogTags cuts the optional tags field off the rest of a line after its five fields.
func splitLogTags(rest []byte) (text, tags []byte) {
	if tab := bytes.IndexByte(rest, '\t'); tab >= 0 {
		return rest[:tab], rest[tab+1:]
	}
	return rest, nil
}

// parseLogTags decodes the tags field; a field that does not parse is dropped, not the line.
func parseLogTags(b []byte) map[string]string {
	if len(b) == 0 {
		return nil
	}
	s, err := unescapeLogText(b)
	if err != nil {
		return nil
	}
	return parseTags(s)
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
		case c < utf8.RuneSelf:
			buf = append(buf, c)
		default:
			// A byte that is not part of valid UTF-8 (a client's peer or server may send any)
			// is escaped too, so that the file stays UTF-8 and still round-trips.
			if _, n := utf8.DecodeRuneInString(s[i:]); n > 1 {
				buf = append(buf, s[i:i+n]...)
				i += n - 1
			} else {
				buf = append(buf, '\\', 'x', hexDigit(c>>4), hexDigit(c&0xf))
			}
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
	var tags []byte
	fields[5], tags = splitLogTags(rest)
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
	e.Tags = parseLogTags(tags)
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
	dir      string
	openFn   logOpener // osLogOpener; tests give one whose disk fills up
	indexMax int       // msgids kept in ids (0: no index; the server's log has one)

	mu    sync.Mutex          // guards files and the index; held across the write so lines never interleave
	files map[string]*openLog // path → open file
	ids   map[string]logRef   // msgid → where its line is, for the latest indexMax appends
	order []string            // the msgids in ids, a ring: order[next] is the next to drop
	next  int
}

// openLog is an open log file and its size, which is where the next line will start.
type openLog struct {
	f    appendFile
	size int64
}

// logRef is where a logged message's line starts.
type logRef struct {
	conversation string
	day          string // file name, YYYY-MM-DD.log
	off          int64
}

const maxOpenLogs = 64

func newChatLog(dir string) *chatLog {
	return &chatLog{dir: dir, openFn: osLogOpener, files: make(map[string]*openLog)}
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
	if err := appendLogLine(f.f, line); err != nil {
		// Reopened by the next append, which seals whatever the undo left behind.
		f.f.Close()
		delete(l.files, path)
		return fmt.Errorf("append to log %s: %w", path, err)
	}
	if l.indexMax > 0 && e.MsgID != "" {
		l.index(e.MsgID, logRef{conversation, filepath.Base(path), f.size})
	}
	f.size += int64(len(line))
	return nil
}

// index remembers where msgid's line is, forgetting the oldest past indexMax; l.mu is held.
func (l *chatLog) index(msgid string, ref logRef) {
	if l.ids == nil {
		l.ids = make(map[string]logRef, l.indexMax)
		l.order = make([]string, l.indexMax)
	}
	if old := l.order[l.next]; old != "" {
		delete(l.ids, old)
	}
	l.order[l.next] = msgid
	l.next = (l.next + 1) % l.indexMax
	l.ids[msgid] = ref
}

// lookup returns where msgid's line was appended, if it is among the latest indexMax.
func (l *chatLog) lookup(msgid string) (logRef, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ref, ok := l.ids[msgid]
	return ref, ok
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
func (l *chatLog) open(path string) (*openLog, error) {
	if f, ok := l.files[path]; ok {
		return f, nil
	}
	if len(l.files) >= maxOpenLogs {
		for p, f := range l.files {
			f.f.Close()
			delete(l.files, p)
			break
		}
	}
	f, err := openLogForAppend(l.openFn, path)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat log %s: %w", path, err)
	}
	o := &openLog{f: f, size: info.Size()}
	l.files[path] = o
	return o, nil
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
		if err := f.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("sync log %s: %w", p, err))
		}
		f.f.Close()
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
	return readLogAt(r, 0, func(e LogEntry, _ int64) error { return fn(e) })
}

// readLogAt is readLog telling fn where each line starts, r having started at offset base.
func readLogAt(r io.Reader, base int64, fn func(LogEntry, int64) error) (skipped int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	off := base
	for {
		line, err := br.ReadSlice('\n')
		at := off
		off += int64(len(line))
		if errors.Is(err, bufio.ErrBufferFull) {
			// Longer than any message can be: skip it whole.
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				off += int64(len(line))
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
		if err := fn(e, at); err != nil {
			if errors.Is(err, errStopLog) {
				return skipped, nil
			}
			return skipped, err
		}
	}
}

// readLogFileFrom calls fn for every well-formed line of a log file from byte offset off on
// (the start of a line), in order, with the offset where each starts.
func readLogFileFrom(path string, off int64, fn func(LogEntry, int64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	_, err = readLogAt(f, off, fn)
	return err
}

// maxLogLine bounds a log line the backward reader puts together; longer ones are skipped,
// as readLog skips them (a message line is a few KB at most).
const maxLogLine = 64 << 10

// readLogFileBackward calls fn for every well-formed line that ends at or before byte
// offset end (negative: the end of the file), newest first, with the offset where each
// starts. A last line without its newline is torn and skipped. fn may return errStopLog.
// Reading from the end is what LATEST and BEFORE need: a page costs a page, not the file.
func readLogFileBackward(path string, end int64, fn func(LogEntry, int64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if end < 0 {
		info, err := f.Stat()
		if err != nil {
			return err
		}
		end = info.Size()
	}
	chunk := make([]byte, 0, maxLogLine)
	var tail []byte // the start of the line that crosses into the chunk read before
	discard := true // bytes after the chunk's last newline are not a whole line: at end (torn, or past end), or of a line too long
	for pos := end; pos > 0; {
		n := min(int64(cap(chunk)), pos)
		pos -= n
		chunk = chunk[:n]
		if _, err := f.ReadAt(chunk, pos); err != nil {
			return err
		}
		data := append(chunk, tail...)
		if discard {
			j := bytes.LastIndexByte(data, '\n')
			if j < 0 {
				tail = tail[:0]
				continue
			}
			data, discard = data[:j+1], false
		}
		// Every line in data ends with its '\n'; the bytes before the first one belong to a
		// line that starts in an earlier chunk, unless this chunk starts the file.
		for len(data) > 0 {
			i := bytes.LastIndexByte(data[:len(data)-1], '\n')
			if i < 0 && pos > 0 {
				break
			}
			line := data[i+1:]
			data = data[:i+1]
			e, perr := ParseLogLine(line[:len(line)-1])
			if perr != nil {
				continue
			}
			if err := fn(e, pos+int64(i+1)); err != nil {
				if errors.Is(err, errStopLog) {
					return nil
				}
				return err
			}
		}
		if len(data) > maxLogLine {
			data, discard = data[:0], true // a line too long to be a message: skipped, as readLog does
		}
		tail = append(tail[:0:0], data...)
	}
	return nil
}

// findLogMsgID finds the line of msgid in a log file by searching its bytes for the field
// (a TAB only ever separates fields: text escapes its own), parsing only lines that hold
// it. It returns the entry and the offset where its line starts.
func findLogMsgID(path, msgid string) (LogEntry, int64, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return LogEntry{}, 0, false, err
	}
	defer f.Close()
	needle := []byte("\t" + msgid + "\t")
	buf := make([]byte, 1<<20)
	var base int64 // file offset of buf[0]
	have := 0
	for {
		n, rerr := io.ReadFull(f, buf[have:])
		have += n
		whole := bytes.LastIndexByte(buf[:have], '\n') + 1 // only complete lines are searched
		if rerr != nil {
			whole = have // the last piece: a torn line may be searched, then fails to parse
		}
		for from := 0; ; {
			i := bytes.Index(buf[from:whole], needle)
			if i < 0 {
				break
			}
			i += from
			start := bytes.LastIndexByte(buf[:i], '\n') + 1
			stop := bytes.IndexByte(buf[i:whole], '\n')
			if stop < 0 {
				break
			}
			if e, err := ParseLogLine(buf[start : i+stop]); err == nil && e.MsgID == msgid {
				return e, base + int64(start), true, nil
			}
			from = i + 1
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
				return LogEntry{}, 0, false, nil
			}
			return LogEntry{}, 0, false, rerr
		}
		if whole == 0 { // one line fills the buffer: longer than any message, skip it
			whole = have
		}
		have = copy(buf, buf[whole:have])
		base += int64(whole)
	}
}
