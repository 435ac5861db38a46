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
	maxParams  = 15
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
	// is empty, starts with ':' or holds a space, or any parameter holding CR, LF or NUL.
	ErrBadParam = errors.New("irc: parameter cannot be encoded")
	// ErrBadTag is a tag key that is not valid, or a source holding a space or a line break.
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

// ParseMessage parses one line without its line ending. The command is upper-cased. Runs of
// spaces between parameters are accepted as one, as real clients send them.
func ParseMessage(line string) (Message, error) {
	var m Message
	line = strings.TrimRight(line, "\r\n")
	if strings.TrimLeft(line, " ") == "" {
		return m, ErrLineEmpty
	}
	if line[0] == '@' {
		end := strings.IndexByte(line, ' ')
		if end < 0 {
			return m, ErrNoCommand
		}
		if end+1 > maxTagsLen {
			return m, ErrTagsTooLong
		}
		tags, err := parseTags(line[1:end])
		if err != nil {
			return m, err
		}
		m.Tags = tags
		line = line[end+1:]
	}
	line = strings.TrimLeft(line, " ")
	if len(line)+2 > maxBodyLen {
		return m, ErrBodyTooLong
	}
	if strings.HasPrefix(line, ":") {
		end := strings.IndexByte(line, ' ')
		if end < 0 {
			return m, ErrNoCommand
		}
		m.Source = line[1:end]
		line = strings.TrimLeft(line[end+1:], " ")
	}
	cmd, rest, _ := strings.Cut(line, " ")
	if cmd == "" {
		return m, ErrNoCommand
	}
	if !validCommand(cmd) {
		return m, ErrBadCommand
	}
	m.Command = strings.ToUpper(cmd)
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			break
		}
		if rest[0] == ':' || len(m.Params) == maxParams-1 {
			m.Params = append(m.Params, strings.TrimPrefix(rest, ":"))
			break
		}
		var p string
		p, rest, _ = strings.Cut(rest, " ")
		m.Params = append(m.Params, p)
	}
	if strings.ContainsAny(m.Source, "\x00\r\n") {
		return m, ErrBadTag
	}
	for _, p := range m.Params {
		if strings.ContainsRune(p, 0) {
			return m, ErrBadParam
		}
	}
	return m, nil
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
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseTags parses the tag section after '@'. A later duplicate key wins, as the spec says.
func parseTags(s string) (map[string]string, error) {
	tags := make(map[string]string, strings.Count(s, ";")+1)
	for tag := range strings.SplitSeq(s, ";") {
		if tag == "" {
			continue
		}
		key, value, _ := strings.Cut(tag, "=")
		if !validTagKey(key) {
			return nil, ErrBadTag
		}
		tags[key] = unescapeTagValue(value)
	}
	return tags, nil
}

// validTagKey accepts [+][vendor/]name, where vendor is a host name and name is letters,
// digits and hyphens.
func validTagKey(key string) bool {
	key = strings.TrimPrefix(key, "+")
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		vendor := key[:i]
		if vendor == "" || strings.ContainsAny(vendor, " ;=\x00\r\n") {
			return false
		}
		key = key[i+1:]
	}
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || isDigit(c) || c == '-') {
			return false
		}
	}
	return true
}

func unescapeTagValue(v string) string {
	if !strings.ContainsRune(v, '\\') {
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
		switch v[i] {
		case ':':
			b.WriteByte(';')
		case 's':
			b.WriteByte(' ')
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		default:
			b.WriteByte(v[i]) // "\\" and unknown escapes stand for the character itself
		}
	}
	return b.String()
}

var tagValueEscaper = strings.NewReplacer(`\`, `\\`, ";", `\:`, " ", `\s`, "\r", `\r`, "\n", `\n`)

// AppendTo appends the wire form of m, CRLF included, to buf. It refuses what would change
// meaning on the wire: a line break or NUL anywhere, a middle parameter that is empty, starts
// with ':' or holds a space. This is the guard against line injection.
func (m *Message) AppendTo(buf []byte) ([]byte, error) {
	if len(m.Tags) > 0 {
		buf = append(buf, '@')
		first := true
		for _, k := range sortedKeys(m.Tags) {
			if !validTagKey(k) {
				return buf, ErrBadTag
			}
			if !first {
				buf = append(buf, ';')
			}
			first = false
			buf = append(buf, k...)
			if v := m.Tags[k]; v != "" {
				buf = append(buf, '=')
				buf = append(buf, tagValueEscaper.Replace(v)...)
			}
		}
		buf = append(buf, ' ')
	}
	if m.Source != "" {
		if strings.ContainsAny(m.Source, " \x00\r\n") {
			return buf, ErrBadTag
		}
		buf = append(buf, ':')
		buf = append(buf, m.Source...)
		buf = append(buf, ' ')
	}
	if m.Command == "" || !validCommand(m.Command) {
		return buf, ErrBadCommand
	}
	buf = append(buf, m.Command...)
	for i, p := range m.Params {
		if strings.ContainsAny(p, "\x00\r\n") {
			return buf, ErrBadParam
		}
		buf = append(buf, ' ')
		last := i == len(m.Params)-1
		if p == "" || p[0] == ':' || strings.IndexByte(p, ' ') >= 0 {
			if !last {
				return buf, ErrBadParam
			}
			buf = append(buf, ':')
		}
		buf = append(buf, p...)
	}
	return append(buf, '\r', '\n'), nil
}

// String returns the wire form without CRLF, or "" if m cannot be encoded; for logs and tests.
func (m *Message) String() string {
	b, err := m.AppendTo(nil)
	if err != nil {
		return ""
	}
	return string(b[:len(b)-2])
}

// sortedKeys gives tags a stable order on the wire, so equal messages encode equally.
func sortedKeys(tags map[string]string) []string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// lineReader reads lines ending in LF or CRLF from r, holding at most max bytes of a line.
// Unlike bufio.Scanner it survives an over-long line: it reports ErrLineTooLong once, skips
// to the next line ending and goes on. Its buffer starts small, since most clients are idle.
type lineReader struct {
	r          io.Reader
	buf        []byte
	start, end int // unread bytes are buf[start:end]
	max        int
	skipping   bool // discarding the rest of an over-long line
}

// ErrLineTooLong is returned by lineReader for a line over its limit; the reader stays usable.
var ErrLineTooLong = errors.New("irc: line exceeds read limit")

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: r, buf: make([]byte, 512), max: max}
}

// ReadLine returns the next line without its line ending. The slice is valid until the next
// call. A final line without a line ending before EOF is returned, then io.EOF.
func (lr *lineReader) ReadLine() ([]byte, error) {
	for {
		if i := bytes.IndexByte(lr.buf[lr.start:lr.end], '\n'); i >= 0 {
			line := lr.buf[lr.start : lr.start+i]
			lr.start += i + 1
			if lr.skipping {
				lr.skipping = false
				continue
			}
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, nil
		}
		if lr.end-lr.start >= lr.max {
			// No line ending within the limit: drop what we hold and the rest of the line.
			lr.start, lr.end = 0, 0
			wasSkipping := lr.skipping
			lr.skipping = true
			if !wasSkipping {
				return nil, ErrLineTooLong
			}
		}
		if err := lr.fill(); err != nil {
			if lr.end > lr.start && !lr.skipping && err == io.EOF {
				line := lr.buf[lr.start:lr.end]
				lr.start = lr.end
				return line, nil
			}
			return nil, err
		}
	}
}

func (lr *lineReader) fill() error {
	if lr.start > 0 {
		lr.end = copy(lr.buf, lr.buf[lr.start:lr.end])
		lr.start = 0
	}
	if lr.end == len(lr.buf) {
		size := min(2*len(lr.buf), lr.max+1)
		if size > len(lr.buf) {
			lr.buf = append(lr.buf, make([]byte, size-len(lr.buf))...)
		}
	}
	n, err := lr.r.Read(lr.buf[lr.end:])
	lr.end += n
	if n > 0 {
		return nil
	}
	return err
}
