package main

// The IRC message codec: parsing and encoding single lines (RFC 1459/2812 framing, IRCv3
// message tags) and a bounded line reader. Server and client both use it; it knows nothing of
// sessions or commands.

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
)

// Line limits from modern.ircdocs.horse and the IRCv3 message-tags spec: the body (source,
// command, params) is at most 512 bytes including CRLF; the tag section at most 8191 bytes
// including the leading '@' and the trailing space.
const (
	maxBodyLen = 512
	maxTagsLen = 8191
	maxLineLen = maxTagsLen + maxBodyLen
	// maxParams is the most parameters a sender should use (RFC 2812); ParseMessage accepts any
	// number, as modern.ircdocs.horse requires of clients.
	maxParams = 15
)

var (
	// ErrLineEmpty is a line with nothing in it; servers ignore these silently.
	ErrLineEmpty = errors.New("irc: empty line")
	// ErrBodyTooLong is a body over 512 bytes (ERR_INPUTTOOLONG, 417); the line is dropped.
	ErrBodyTooLong = errors.New("irc: line too long")
	// ErrTagsTooLong is a tag section over 8191 bytes (also 417).
	ErrTagsTooLong = errors.New("irc: tags too long")
	// ErrNoCommand is a line with a source or tags but no command.
	ErrNoCommand = errors.New("irc: no command")
	// ErrBadCommand is a command that is neither letters nor a three-digit numeric.
	ErrBadCommand = errors.New("irc: malformed command")
	// ErrBadParam is a parameter that cannot be encoded where it stands: a middle parameter that
	// is empty, starts with ':' or holds a space, or any parameter holding CR, LF or NUL (also
	// refused by ParseMessage).
	ErrBadParam = errors.New("irc: parameter cannot be encoded")
	// ErrBadTag is a tag section or source that cannot be framed: NUL, CR or LF in either, a
	// space in a source, an empty tag key or one holding ' ', ';' or '='.
	ErrBadTag = errors.New("irc: malformed tag or source")
)

// Message is one IRC line. Tags is nil when the line has none; a tag without a value maps to "".
type Message struct {
	Tags    map[string]string
	Source  string
	Command string
	Params  []string
}

// Param returns the i'th parameter, or "" when there are fewer.
func (m *Message) Param(i int) string {
	if i < len(m.Params) {
		return m.Params[i]
	}
	return ""
}

// ParseMessage parses one line, with or without its line ending. The command is upper-cased.
// Runs of spaces between parts are accepted as one, as real clients send them, and any number
// of parameters is accepted (modern.ircdocs.horse; RFC 2812's limit of 15 is for senders).
// Tag keys are opaque: a key outside the IRCv3 grammar is kept, not an error, as the
// message-tags spec requires. NUL, and CR or LF inside the line, are refused, so every message
// ParseMessage returns can be encoded again by AppendTo.
func ParseMessage(line string) (Message, error) {
	var m Message
	var err error
	line = strings.TrimLeft(strings.TrimRight(line, "\r\n"), " ")
	if line == "" {
		return m, ErrLineEmpty
	}
	if line[0] == '@' {
		if m.Tags, line, err = parseTagSection(line); err != nil {
			return m, err
		}
	}
	if len(line)+2 > maxBodyLen {
		return m, ErrBodyTooLong
	}
	if m.Source, line, err = parseSource(line); err != nil {
		return m, err
	}
	if m.Command, line, err = parseCommand(line); err != nil {
		return m, err
	}
	if hasBadChar(line) {
		return m, ErrBadParam
	}
	m.Params = parseParams(line)
	return m, nil
}

// badChars may appear nowhere in a line: NUL is forbidden by the grammar, and CR or LF inside
// a line would end it early for whoever reads it next.
const badChars = "\x00\r\n"

// hasBadChar reports whether s holds one of badChars. Three vectorised IndexByte scans beat
// strings.ContainsAny's byte loop: BenchmarkParse/plain went from 96 to 69 ns/op.
func hasBadChar(s string) bool {
	return strings.IndexByte(s, 0) >= 0 || strings.IndexByte(s, '\r') >= 0 || strings.IndexByte(s, '\n') >= 0
}

// parseTagSection splits "@tags rest" and parses the tags; a section with no tags in it gives
// nil, as Message documents.
func parseTagSection(line string) (map[string]string, string, error) {
	section, rest, _ := strings.Cut(line[1:], " ")
	if len(section)+2 > maxTagsLen { // '@' and the trailing space count
		return nil, "", ErrTagsTooLong
	}
	if hasBadChar(section) {
		return nil, "", ErrBadTag
	}
	return parseTags(section), strings.TrimLeft(rest, " "), nil
}

// parseSource splits ":source rest"; a line without a source gives "" and the line.
func parseSource(line string) (string, string, error) {
	if line == "" || line[0] != ':' {
		return "", line, nil
	}
	source, rest, ok := strings.Cut(line[1:], " ")
	if !ok {
		return "", "", ErrNoCommand
	}
	if hasBadChar(source) {
		return "", "", ErrBadTag
	}
	return source, strings.TrimLeft(rest, " "), nil
}

// parseCommand splits "command rest" and upper-cases the command.
func parseCommand(line string) (string, string, error) {
	cmd, rest, _ := strings.Cut(line, " ")
	if cmd == "" {
		return "", "", ErrNoCommand
	}
	if !validCommand(cmd) {
		return "", "", ErrBadCommand
	}
	return strings.ToUpper(cmd), rest, nil
}

// parseParams splits the parameters after the command. It collects them on the stack and
// copies them out once, so a typical line costs one allocation for its parameters.
func parseParams(s string) []string {
	var stack [16]string
	params := stack[:0]
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		if s[0] == ':' {
			params = append(params, s[1:])
			break
		}
		var p string
		p, s, _ = strings.Cut(s, " ")
		params = append(params, p)
	}
	if len(params) == 0 {
		return nil
	}
	return slices.Clone(params)
}

func validCommand(cmd string) bool {
	if len(cmd) == 3 && isDigit(cmd[0]) && isDigit(cmd[1]) && isDigit(cmd[2]) {
		return true
	}
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return cmd != ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseTags parses the tag section after '@'. A later duplicate key wins, as the spec says.
// Empty entries (";;", "=v") carry no key and are skipped.
func parseTags(s string) map[string]string {
	var tags map[string]string
	for tag := range strings.SplitSeq(s, ";") {
		key, value, _ := strings.Cut(tag, "=")
		if key == "" {
			continue
		}
		if tags == nil {
			tags = make(map[string]string, strings.Count(s, ";")+1)
		}
		tags[key] = unescapeTagValue(value)
	}
	return tags
}

// encodableTagKey reports whether key can be framed on the wire. Keys are opaque identifiers
// (IRCv3 message-tags), so this checks framing only, not the key grammar.
func encodableTagKey(key string) bool {
	return key != "" && !strings.ContainsAny(key, " ;="+badChars)
}

func unescapeTagValue(v string) string {
	if strings.IndexByte(v, '\\') < 0 {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(v) {
			break // a trailing lone backslash is dropped
		}
		if u, ok := tagUnescapes[v[i]]; ok {
			b.WriteByte(u)
		} else {
			b.WriteByte(v[i]) // an unknown escape drops the backslash; "\\" is a backslash
		}
	}
	return b.String()
}

// tagUnescapes maps the character after a backslash to what it stands for.
var tagUnescapes = map[byte]byte{':': ';', 's': ' ', 'r': '\r', 'n': '\n'}

// appendTagValue appends v escaped as the IRCv3 message-tags spec says.
func appendTagValue(buf []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			buf = append(buf, '\\', '\\')
		case ';':
			buf = append(buf, '\\', ':')
		case ' ':
			buf = append(buf, '\\', 's')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\n':
			buf = append(buf, '\\', 'n')
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

// AppendTo appends the wire form of m, CRLF included, to buf. It refuses what would change
// meaning on the wire (the guard against line injection): NUL, CR or LF anywhere; a middle
// parameter that is empty, starts with ':' or holds a space; a tag section over 8191 bytes
// (ErrTagsTooLong) or a body over 512 bytes with CRLF (ErrBodyTooLong), which the peer would
// drop. On error buf is returned as it was given, so no half line is left in it.
func (m *Message) AppendTo(buf []byte) ([]byte, error) {
	out, err := m.appendTags(buf)
	if err == nil {
		out, err = m.appendBody(out)
	}
	if err != nil {
		return buf, err
	}
	return out, nil
}

func (m *Message) appendTags(buf []byte) ([]byte, error) {
	if len(m.Tags) == 0 {
		return buf, nil
	}
	start := len(buf)
	buf = append(buf, '@')
	var stack [8]string // most messages carry a few tags; sort their keys without allocating
	for i, k := range appendSortedKeys(stack[:0], m.Tags) {
		v := m.Tags[k]
		if !encodableTagKey(k) || strings.IndexByte(v, 0) >= 0 {
			return buf, ErrBadTag
		}
		if i > 0 {
			buf = append(buf, ';')
		}
		buf = append(buf, k...)
		if v != "" {
			buf = appendTagValue(append(buf, '='), v)
		}
	}
	buf = append(buf, ' ')
	if len(buf)-start > maxTagsLen {
		return buf, ErrTagsTooLong
	}
	return buf, nil
}

func (m *Message) appendBody(buf []byte) ([]byte, error) {
	start := len(buf)
	if m.Source != "" {
		if strings.ContainsAny(m.Source, " "+badChars) {
			return buf, ErrBadTag
		}
		buf = append(append(append(buf, ':'), m.Source...), ' ')
	}
	if !validCommand(m.Command) {
		return buf, ErrBadCommand
	}
	buf = append(buf, m.Command...)
	for i, p := range m.Params {
		if hasBadChar(p) {
			return buf, ErrBadParam
		}
		buf = append(buf, ' ')
		last := i == len(m.Params)-1
		if p == "" || p[0] == ':' || strings.IndexByte(p, ' ') >= 0 {
			if !last {
				return buf, ErrBadParam
			}
			buf = append(buf, ':')
		} else if last && textTrailing(m.Command, len(m.Params)) && len(buf)-start+len(p)+3 <= maxBodyLen {
			buf = append(buf, ':') // optional: only where the line still fits
		}
		buf = append(buf, p...)
	}
	buf = append(buf, '\r', '\n')
	if len(buf)-start > maxBodyLen {
		return buf, ErrBodyTooLong
	}
	return buf, nil
}

// textTrailing reports whether the last parameter is free text that is written with ':'
// even when it needs none, as servers conventionally do: hand-written parsers (students'
// first clients) and capture readers look for the text after " :".
func textTrailing(command string, params int) bool {
	switch command {
	case "PRIVMSG", "NOTICE", "PART", "QUIT", "KICK", "TOPIC", "ERROR", "AWAY":
		return params >= 2 || command == "QUIT" || command == "ERROR" || command == "AWAY"
	}
	return params >= 2 && len(command) == 3 && isDigit(command[0])
}

// String returns the wire form without CRLF, or "" if m cannot be encoded; for logs and tests.
func (m *Message) String() string {
	b, err := m.AppendTo(nil)
	if err != nil {
		return ""
	}
	return string(b[:len(b)-2])
}

// appendSortedKeys gives tags a stable order on the wire, so equal messages encode equally.
func appendSortedKeys(keys []string, tags map[string]string) []string {
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// lineReader reads lines ending in LF or CRLF from r, holding at most max bytes of a line
// (without its line ending). Unlike bufio.Scanner it survives an over-long line: it reports
// ErrLineTooLong once, skips to the next line ending and goes on. Its buffer starts small,
// since most clients are idle, and grows to max+2 at most. One goroutine owns a lineReader.
type lineReader struct {
	r          io.Reader
	buf        []byte
	start, end int // unread bytes are buf[start:end]
	max        int
	skipping   bool // discarding the rest of an over-long line
}

// ErrLineTooLong is returned by lineReader for a line over its limit; the reader stays usable.
var ErrLineTooLong = errors.New("irc: line exceeds read limit")

// lineReaderInitial is the starting buffer size: one RFC 1459 line.
const lineReaderInitial = 512

// maxEmptyReads is how many (0, nil) reads in a row ReadLine accepts before it gives up with
// io.ErrNoProgress, as bufio does, instead of spinning.
const maxEmptyReads = 100

// newLineReader returns a reader of lines of at most max bytes (max >= 1).
func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: r, buf: make([]byte, min(lineReaderInitial, max+2)), max: max}
}

// ReadLine returns the next line without its line ending. The slice is valid until the next
// call. A final line without a line ending before EOF is returned, then io.EOF. A line over
// max bytes gives ErrLineTooLong once, whether its end has arrived yet or not; the next call
// returns the line after it. After another read error the bytes held so far are kept, so a
// later call (after a deadline, say) loses nothing.
func (lr *lineReader) ReadLine() ([]byte, error) {
	for {
		if i := bytes.IndexByte(lr.buf[lr.start:lr.end], '\n'); i >= 0 {
			line := dropCR(lr.buf[lr.start : lr.start+i])
			lr.start += i + 1
			if lr.skipping {
				lr.skipping = false
				continue
			}
			if len(line) > lr.max {
				return nil, ErrLineTooLong
			}
			return line, nil
		}
		if len(dropCR(lr.buf[lr.start:lr.end])) > lr.max {
			// No line ending within the limit: drop what we hold and the rest of the line.
			lr.start, lr.end = 0, 0
			if !lr.skipping {
				lr.skipping = true
				return nil, ErrLineTooLong
			}
		}
		if err := lr.fill(); err != nil {
			if err == io.EOF && lr.end > lr.start && !lr.skipping {
				line := dropCR(lr.buf[lr.start:lr.end])
				lr.start = lr.end
				return line, nil
			}
			return nil, err
		}
	}
}

// fill reads more into the buffer, growing it while a line in progress needs the room.
func (lr *lineReader) fill() error {
	if lr.start > 0 {
		lr.end = copy(lr.buf, lr.buf[lr.start:lr.end])
		lr.start = 0
	}
	if lr.end == len(lr.buf) {
		grown := make([]byte, min(2*len(lr.buf), lr.max+2))
		lr.end = copy(grown, lr.buf[:lr.end])
		lr.buf = grown
	}
	for range maxEmptyReads {
		n, err := lr.r.Read(lr.buf[lr.end:])
		lr.end += n
		if n > 0 || err != nil {
			// Bytes first: an error that came with them is returned again by the next Read.
			if n > 0 {
				return nil
			}
			return err
		}
	}
	return io.ErrNoProgress
}

// dropCR removes the CR of a CRLF line ending.
func dropCR(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1]
	}
	return line
}
