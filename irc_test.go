package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// splitTests are transcribed from ircdocs/parser-tests tests/msg-split.yaml (CC0), then the
// RFC 1459 / RFC 2812 / modern.ircdocs.horse examples, then labchat's own edge cases. Verbs are
// written as the vectors have them; ParseMessage upper-cases the command, so the test compares
// against strings.ToUpper(command).
var splitTests = []struct {
	line    string
	tags    map[string]string
	source  string
	command string
	params  []string
}{
	// msg-split.yaml
	{line: "foo bar baz asdf", command: "foo", params: []string{"bar", "baz", "asdf"}},
	{line: ":coolguy foo bar baz asdf", source: "coolguy", command: "foo", params: []string{"bar", "baz", "asdf"}},
	{line: "foo bar baz :asdf quux", command: "foo", params: []string{"bar", "baz", "asdf quux"}},
	{line: "foo bar baz :", command: "foo", params: []string{"bar", "baz", ""}},
	{line: "foo bar baz ::asdf", command: "foo", params: []string{"bar", "baz", ":asdf"}},
	{line: ":coolguy foo bar baz :asdf quux", source: "coolguy", command: "foo", params: []string{"bar", "baz", "asdf quux"}},
	{line: ":coolguy foo bar baz :  asdf quux ", source: "coolguy", command: "foo", params: []string{"bar", "baz", "  asdf quux "}},
	{line: ":coolguy PRIVMSG bar :lol :) ", source: "coolguy", command: "PRIVMSG", params: []string{"bar", "lol :) "}},
	{line: ":coolguy foo bar baz :", source: "coolguy", command: "foo", params: []string{"bar", "baz", ""}},
	{line: ":coolguy foo bar baz :  ", source: "coolguy", command: "foo", params: []string{"bar", "baz", "  "}},
	{line: "@a=b;c=32;k;rt=ql7 foo", tags: map[string]string{"a": "b", "c": "32", "k": "", "rt": "ql7"}, command: "foo"},
	{line: "@a=b\\\\and\\nk;c=72\\s45;d=gh\\:764 foo", tags: map[string]string{"a": "b\\and\nk", "c": "72 45", "d": "gh;764"}, command: "foo"},
	{line: "@c;h=;a=b :quux ab cd", tags: map[string]string{"c": "", "h": "", "a": "b"}, source: "quux", command: "ab", params: []string{"cd"}},
	{line: ":src JOIN #chan", source: "src", command: "JOIN", params: []string{"#chan"}},
	{line: ":src JOIN :#chan", source: "src", command: "JOIN", params: []string{"#chan"}},
	{line: ":src AWAY", source: "src", command: "AWAY"},
	{line: ":src AWAY ", source: "src", command: "AWAY"},
	{line: ":cool\tguy foo bar baz", source: "cool\tguy", command: "foo", params: []string{"bar", "baz"}},
	{line: ":coolguy!ag@net\x035w\x03ork.admin PRIVMSG foo :bar baz", source: "coolguy!ag@net\x035w\x03ork.admin", command: "PRIVMSG", params: []string{"foo", "bar baz"}},
	{line: ":coolguy!~ag@n\x02et\x0305w\x0fork.admin PRIVMSG foo :bar baz", source: "coolguy!~ag@n\x02et\x0305w\x0fork.admin", command: "PRIVMSG", params: []string{"foo", "bar baz"}},
	{
		line:   "@tag1=value1;tag2;vendor1/tag3=value2;vendor2/tag4= :irc.example.com COMMAND param1 param2 :param3 param3",
		tags:   map[string]string{"tag1": "value1", "tag2": "", "vendor1/tag3": "value2", "vendor2/tag4": ""},
		source: "irc.example.com", command: "COMMAND", params: []string{"param1", "param2", "param3 param3"},
	},
	{line: ":irc.example.com COMMAND param1 param2 :param3 param3", source: "irc.example.com", command: "COMMAND", params: []string{"param1", "param2", "param3 param3"}},
	{
		line:    "@tag1=value1;tag2;vendor1/tag3=value2;vendor2/tag4 COMMAND param1 param2 :param3 param3",
		tags:    map[string]string{"tag1": "value1", "tag2": "", "vendor1/tag3": "value2", "vendor2/tag4": ""},
		command: "COMMAND", params: []string{"param1", "param2", "param3 param3"},
	},
	{line: "COMMAND", command: "COMMAND"},
	{line: "@foo=\\\\\\\\\\:\\\\s\\s\\r\\n COMMAND", tags: map[string]string{"foo": "\\\\;\\s \r\n"}, command: "COMMAND"},
	{line: ":gravel.mozilla.org 432  #momo :Erroneous Nickname: Illegal characters", source: "gravel.mozilla.org", command: "432", params: []string{"#momo", "Erroneous Nickname: Illegal characters"}},
	{line: ":gravel.mozilla.org MODE #tckk +n ", source: "gravel.mozilla.org", command: "MODE", params: []string{"#tckk", "+n"}},
	{line: ":services.esper.net MODE #foo-bar +o foobar  ", source: "services.esper.net", command: "MODE", params: []string{"#foo-bar", "+o", "foobar"}},
	{line: "@tag1=value\\\\ntest COMMAND", tags: map[string]string{"tag1": "value\\ntest"}, command: "COMMAND"},
	{line: "@tag1=value\\1 COMMAND", tags: map[string]string{"tag1": "value1"}, command: "COMMAND"},
	{line: "@tag1=value1\\ COMMAND", tags: map[string]string{"tag1": "value1"}, command: "COMMAND"},
	{line: "@tag1=1;tag2=3;tag3=4;tag1=5 COMMAND", tags: map[string]string{"tag1": "5", "tag2": "3", "tag3": "4"}, command: "COMMAND"},
	{line: "@tag1=1;tag2=3;tag3=4;tag1=5;vendor/tag2=8 COMMAND", tags: map[string]string{"tag1": "5", "tag2": "3", "tag3": "4", "vendor/tag2": "8"}, command: "COMMAND"},
	{line: ":SomeOp MODE #channel :+i", source: "SomeOp", command: "MODE", params: []string{"#channel", "+i"}},
	{line: ":SomeOp MODE #channel +oo SomeUser :AnotherUser", source: "SomeOp", command: "MODE", params: []string{"#channel", "+oo", "SomeUser", "AnotherUser"}},

	// RFC 1459 and RFC 2812 examples.
	{line: ":WiZ NICK Kilroy", source: "WiZ", command: "NICK", params: []string{"Kilroy"}},
	{line: ":WiZ!jto@tolsun.oulu.fi NICK Kilroy", source: "WiZ!jto@tolsun.oulu.fi", command: "NICK", params: []string{"Kilroy"}},
	{line: "PASS secretpasswordhere", command: "PASS", params: []string{"secretpasswordhere"}},
	{line: "USER guest 0 * :Ronnie Reagan", command: "USER", params: []string{"guest", "0", "*", "Ronnie Reagan"}},
	{line: "USER guest tolmoon tolsun :Ronnie Reagan", command: "USER", params: []string{"guest", "tolmoon", "tolsun", "Ronnie Reagan"}},
	{line: ":syrk!kalt@millennium.stealth.net QUIT :Gone to have lunch", source: "syrk!kalt@millennium.stealth.net", command: "QUIT", params: []string{"Gone to have lunch"}},
	{line: ":Trillian SQUIT cm22.eng.umd.edu :Server out of control", source: "Trillian", command: "SQUIT", params: []string{"cm22.eng.umd.edu", "Server out of control"}},
	{line: "JOIN #foo,#bar fubar,foobar", command: "JOIN", params: []string{"#foo,#bar", "fubar,foobar"}},
	{line: "JOIN 0", command: "JOIN", params: []string{"0"}},
	{line: "KICK #Finnish John :Speaking English", command: "KICK", params: []string{"#Finnish", "John", "Speaking English"}},
	{line: "MODE #Finnish +im", command: "MODE", params: []string{"#Finnish", "+im"}},
	{line: "PRIVMSG Angel :yes I'm receiving it !", command: "PRIVMSG", params: []string{"Angel", "yes I'm receiving it !"}},
	{line: ":Angel!wings@irc.org PRIVMSG Wiz :Are you receiving this message ?", source: "Angel!wings@irc.org", command: "PRIVMSG", params: []string{"Wiz", "Are you receiving this message ?"}},
	{line: "PING tolsun.oulu.fi", command: "PING", params: []string{"tolsun.oulu.fi"}},
	{line: "PONG csd.bu.edu tolsun.oulu.fi", command: "PONG", params: []string{"csd.bu.edu", "tolsun.oulu.fi"}},

	// modern.ircdocs.horse "Message format" examples.
	{line: ":irc.example.com CAP LS * :multi-prefix extended-join sasl", source: "irc.example.com", command: "CAP", params: []string{"LS", "*", "multi-prefix extended-join sasl"}},
	{line: "@id=234AB :dan!d@localhost PRIVMSG #chan :Hey what's up!", tags: map[string]string{"id": "234AB"}, source: "dan!d@localhost", command: "PRIVMSG", params: []string{"#chan", "Hey what's up!"}},
	{line: "@url=;netsplit=tur,ty CMD", tags: map[string]string{"url": "", "netsplit": "tur,ty"}, command: "CMD"},
	{line: ":irc.example.com CAP * LIST :", source: "irc.example.com", command: "CAP", params: []string{"*", "LIST", ""}},
	{line: "CAP REQ :sasl message-tags foo", command: "CAP", params: []string{"REQ", "sasl message-tags foo"}},
	{line: ":dan!d@localhost PRIVMSG #chan Hey!", source: "dan!d@localhost", command: "PRIVMSG", params: []string{"#chan", "Hey!"}},
	{line: ":dan!d@localhost PRIVMSG #chan ::-)", source: "dan!d@localhost", command: "PRIVMSG", params: []string{"#chan", ":-)"}},

	// labchat's edge cases.
	{line: "privmsg #a :hi\r\n", command: "privmsg", params: []string{"#a", "hi"}},
	{line: "  PING x", command: "PING", params: []string{"x"}},
	// Tag key names are opaque: a key outside the grammar must not reject the message.
	{line: "@foo_bar=1;+example.com/x=2 CMD", tags: map[string]string{"foo_bar": "1", "+example.com/x": "2"}, command: "CMD"},
	// An empty tag section and empty tag entries carry no tags.
	{line: "@ CMD", command: "CMD"},
	{line: "@;;a=1; CMD", tags: map[string]string{"a": "1"}, command: "CMD"},
	// Any number of parameters is parsed (modern.ircdocs.horse), not 15 as in RFC 2812.
	{line: "CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 :17 x", command: "CMD", params: []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17 x"}},
	// Limits: exactly 510 bytes of body and exactly 8191 bytes of tag section are accepted.
	{line: "PRIVMSG #a :" + strings.Repeat("x", 510-12), command: "PRIVMSG", params: []string{"#a", strings.Repeat("x", 510-12)}},
	{line: "@k=" + strings.Repeat("v", maxTagsLen-4) + " CMD", tags: map[string]string{"k": strings.Repeat("v", maxTagsLen-4)}, command: "CMD"},
}

func TestParseMessage(t *testing.T) {
	for _, tt := range splitTests {
		m, err := ParseMessage(tt.line)
		if err != nil {
			t.Errorf("ParseMessage(%s) error %v", clip(tt.line), err)
			continue
		}
		want := Message{Tags: tt.tags, Source: tt.source, Command: strings.ToUpper(tt.command), Params: tt.params}
		if !messagesEqual(m, want) {
			t.Errorf("ParseMessage(%s) = %s; want %s", clip(tt.line), clip(m), clip(want))
		}
		if len(m.Tags) == 0 && m.Tags != nil {
			t.Errorf("ParseMessage(%q).Tags = %#v; want nil when the line has none", tt.line, m.Tags)
		}
	}
}

// joinTests are transcribed from ircdocs/parser-tests tests/msg-join.yaml (CC0); matches lists
// every acceptable line.
var joinTests = []struct {
	desc    string
	msg     Message
	matches []string
}{
	{"verb and params", Message{Command: "foo", Params: []string{"bar", "baz", "asdf"}}, []string{"foo bar baz asdf", "foo bar baz :asdf"}},
	{"source and no params", Message{Source: "src", Command: "AWAY"}, []string{":src AWAY"}},
	{"source and empty trailing param", Message{Source: "src", Command: "AWAY", Params: []string{""}}, []string{":src AWAY :"}},
	{"source", Message{Source: "coolguy", Command: "foo", Params: []string{"bar", "baz", "asdf"}}, []string{":coolguy foo bar baz asdf", ":coolguy foo bar baz :asdf"}},
	{"trailing param", Message{Command: "foo", Params: []string{"bar", "baz", "asdf quux"}}, []string{"foo bar baz :asdf quux"}},
	{"empty trailing param", Message{Command: "foo", Params: []string{"bar", "baz", ""}}, []string{"foo bar baz :"}},
	{"trailing param containing colon", Message{Command: "foo", Params: []string{"bar", "baz", ":asdf"}}, []string{"foo bar baz ::asdf"}},
	{"source and trailing param", Message{Source: "coolguy", Command: "foo", Params: []string{"bar", "baz", "asdf quux"}}, []string{":coolguy foo bar baz :asdf quux"}},
	{"trailing with beginning and end whitespace", Message{Source: "coolguy", Command: "foo", Params: []string{"bar", "baz", "  asdf quux "}}, []string{":coolguy foo bar baz :  asdf quux "}},
	{"trailing looking like another trailing", Message{Source: "coolguy", Command: "PRIVMSG", Params: []string{"bar", "lol :) "}}, []string{":coolguy PRIVMSG bar :lol :) "}},
	{"source and empty trailing", Message{Source: "coolguy", Command: "foo", Params: []string{"bar", "baz", ""}}, []string{":coolguy foo bar baz :"}},
	{"trailing of only spaces", Message{Source: "coolguy", Command: "foo", Params: []string{"bar", "baz", "  "}}, []string{":coolguy foo bar baz :  "}},
	{"param containing tab", Message{Source: "coolguy", Command: "foo", Params: []string{"b\tar", "baz"}}, []string{":coolguy foo b\tar baz", ":coolguy foo b\tar :baz"}},
	{"tag with empty value", Message{Tags: map[string]string{"asd": ""}, Source: "coolguy", Command: "foo", Params: []string{"bar", "baz", "  "}}, []string{"@asd :coolguy foo bar baz :  ", "@asd= :coolguy foo bar baz :  "}},
	{
		"tags with escaped values",
		Message{Tags: map[string]string{"a": "b\\and\nk", "d": "gh;764"}, Command: "foo"},
		[]string{"@a=b\\\\and\\nk;d=gh\\:764 foo", "@d=gh\\:764;a=b\\\\and\\nk foo"},
	},
	{
		"tags with escaped values and params",
		Message{Tags: map[string]string{"a": "b\\and\nk", "d": "gh;764"}, Command: "foo", Params: []string{"par1", "par2"}},
		[]string{
			"@a=b\\\\and\\nk;d=gh\\:764 foo par1 par2", "@a=b\\\\and\\nk;d=gh\\:764 foo par1 :par2",
			"@d=gh\\:764;a=b\\\\and\\nk foo par1 par2", "@d=gh\\:764;a=b\\\\and\\nk foo par1 :par2",
		},
	},
	{"tag with strange values", Message{Tags: map[string]string{"foo": "\\\\;\\s \r\n"}, Command: "COMMAND"}, []string{"@foo=\\\\\\\\\\:\\\\s\\s\\r\\n COMMAND"}},
	// labchat's own: a numeric reply, a body of exactly 512 bytes with CRLF, any number of params.
	{"numeric", Message{Source: "labchat", Command: "001", Params: []string{"ann", "Welcome"}}, []string{":labchat 001 ann Welcome", ":labchat 001 ann :Welcome"}},
	{"body at limit", Message{Command: "PRIVMSG", Params: []string{"#a", strings.Repeat("x", 510-12)}}, []string{"PRIVMSG #a " + strings.Repeat("x", 510-12), "PRIVMSG #a :" + strings.Repeat("x", 510-12)}},
	{"sixteen params", Message{Command: "X", Params: strings.Fields("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16")}, []string{"X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", "X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 :16"}},
}

func TestAppendTo(t *testing.T) {
	for _, tt := range joinTests {
		b, err := tt.msg.AppendTo([]byte("prev\r\n"))
		if err != nil {
			t.Errorf("%s: AppendTo error %v", tt.desc, err)
			continue
		}
		line, ok := bytes.CutPrefix(b, []byte("prev\r\n"))
		if !ok || !bytes.HasSuffix(line, []byte("\r\n")) {
			t.Errorf("%s: AppendTo = %q; want the prefix kept and CRLF at the end", tt.desc, b)
			continue
		}
		got := string(line[:len(line)-2])
		if !slices.Contains(tt.matches, got) {
			t.Errorf("%s: AppendTo = %q; want one of %q", tt.desc, got, tt.matches)
		}
		if s := tt.msg.String(); s != got {
			t.Errorf("%s: String() = %q; want %q", tt.desc, s, got)
		}
	}
}

var parseErrorTests = []struct {
	name string
	line string
	want error
}{
	{"empty", "", ErrLineEmpty},
	{"only CRLF", "\r\n", ErrLineEmpty},
	{"only spaces", "   ", ErrLineEmpty},
	{"tags too long", "@k=" + strings.Repeat("v", maxTagsLen-3) + " CMD", ErrTagsTooLong},
	{"tags too long without space", "@k=" + strings.Repeat("v", maxTagsLen), ErrTagsTooLong},
	{"body too long", "PRIVMSG #a :" + strings.Repeat("x", 510-11), ErrBodyTooLong},
	{"body too long after tags", "@a=b :src PRIVMSG #a :" + strings.Repeat("x", 510-16), ErrBodyTooLong},
	{"tags only", "@a=b", ErrNoCommand},
	{"tags and space", "@a=b ", ErrNoCommand},
	{"source only", ":src", ErrNoCommand},
	{"source and space", ":src ", ErrNoCommand},
	{"tags and source", "@a=b :src", ErrNoCommand},
	{"command with hyphen", "PRIV-MSG #a", ErrBadCommand},
	{"two digits", "12 x", ErrBadCommand},
	{"four digits", "1234 x", ErrBadCommand},
	{"letters and digits", "PRIVMSG1 x", ErrBadCommand},
	{"tab in command", "PRIV\tMSG x", ErrBadCommand},
	{"NUL in trailing", "PRIVMSG #a :x\x00y", ErrBadParam},
	{"NUL in middle", "PRIVMSG #\x00 :x", ErrBadParam},
	{"NUL in source", ":s\x00rc PRIVMSG #a :x", ErrBadTag},
	{"NUL in tag value", "@a=\x00 PRIVMSG #a :x", ErrBadTag},
	{"CR inside trailing", "PRIVMSG #a :x\ry", ErrBadParam},
	{"LF inside trailing", "PRIVMSG #a :x\ny", ErrBadParam},
	{"CR inside tag", "@a=x\ry PRIVMSG #a :x", ErrBadTag},
}

func TestParseMessageErrors(t *testing.T) {
	for _, tt := range parseErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMessage(tt.line)
			if !errors.Is(err, tt.want) {
				t.Errorf("ParseMessage(%s) = %s, %v; want error %v", clip(tt.line), clip(m), err, tt.want)
			}
		})
	}
}

var appendErrorTests = []struct {
	name string
	msg  Message
	want error
}{
	{"no command", Message{Params: []string{"x"}}, ErrBadCommand},
	{"space in command", Message{Command: "PRIV MSG"}, ErrBadCommand},
	{"CRLF in command", Message{Command: "PING\r\nQUIT"}, ErrBadCommand},
	{"empty middle", Message{Command: "X", Params: []string{"", "y"}}, ErrBadParam},
	{"middle starting with colon", Message{Command: "X", Params: []string{":a", "y"}}, ErrBadParam},
	{"middle with space", Message{Command: "X", Params: []string{"a b", "y"}}, ErrBadParam},
	{"CRLF injection in trailing", Message{Command: "PRIVMSG", Params: []string{"#a", "hi\r\nQUIT :bye"}}, ErrBadParam},
	{"LF in middle", Message{Command: "PRIVMSG", Params: []string{"#a\n", "x"}}, ErrBadParam},
	{"NUL in trailing", Message{Command: "PRIVMSG", Params: []string{"#a", "x\x00"}}, ErrBadParam},
	{"space in source", Message{Source: "a b", Command: "X"}, ErrBadTag},
	{"CR in source", Message{Source: "a\r", Command: "X"}, ErrBadTag},
	{"empty tag key", Message{Tags: map[string]string{"": "v"}, Command: "X"}, ErrBadTag},
	{"space in tag key", Message{Tags: map[string]string{"a b": "v"}, Command: "X"}, ErrBadTag},
	{"semicolon in tag key", Message{Tags: map[string]string{"a;b": "v"}, Command: "X"}, ErrBadTag},
	{"equals in tag key", Message{Tags: map[string]string{"a=b": "v"}, Command: "X"}, ErrBadTag},
	{"NUL in tag value", Message{Tags: map[string]string{"a": "\x00"}, Command: "X"}, ErrBadTag},
	{"body too long", Message{Command: "PRIVMSG", Params: []string{"#a", strings.Repeat("x", 510-10)}}, ErrBodyTooLong},
	{"body too long by source", Message{Source: "nick!user@host", Command: "PRIVMSG", Params: []string{"#a", strings.Repeat("x", 490)}}, ErrBodyTooLong},
	{"tags too long", Message{Tags: map[string]string{"k": strings.Repeat("v", maxTagsLen-3)}, Command: "X"}, ErrTagsTooLong},
	{"tags too long by escaping", Message{Tags: map[string]string{"k": strings.Repeat(" ", maxTagsLen/2)}, Command: "X"}, ErrTagsTooLong},
}

func TestAppendToErrors(t *testing.T) {
	prefix := []byte("PING x\r\n")
	for _, tt := range appendErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.msg.AppendTo(slices.Clone(prefix))
			if !errors.Is(err, tt.want) {
				t.Errorf("AppendTo(%s) = %s, %v; want error %v", clip(tt.msg), clip(b), err, tt.want)
			}
			// A failed append must leave the buffer as it was, or a half line would reach the wire.
			if !bytes.Equal(b, prefix) {
				t.Errorf("AppendTo(%s) left %s in the buffer; want %q", clip(tt.msg), clip(b), prefix)
			}
			if s := tt.msg.String(); s != "" {
				t.Errorf("String() = %s; want \"\" for a message that cannot be encoded", clip(s))
			}
		})
	}
}

func TestParam(t *testing.T) {
	m := Message{Command: "X", Params: []string{"a", "b"}}
	for i, want := range []string{"a", "b", "", ""} {
		if got := m.Param(i); got != want {
			t.Errorf("Param(%d) = %q; want %q", i, got, want)
		}
	}
}

// TestMessageRoundTrip checks that every vector's line re-encodes to a line that parses back to
// the same message.
func TestMessageRoundTrip(t *testing.T) {
	for _, tt := range splitTests {
		checkRoundTrip(t, tt.line)
	}
}

// checkRoundTrip is the property both the table test and the fuzzer hold ParseMessage and
// AppendTo to.
func checkRoundTrip(t *testing.T, line string) {
	t.Helper()
	m, err := ParseMessage(line)
	if err != nil {
		return
	}
	enc, err := m.AppendTo(nil)
	if err != nil {
		// Everything ParseMessage accepts fits the same limits when encoded again.
		t.Fatalf("ParseMessage(%s) = %s, but AppendTo fails: %v", clip(line), clip(m), err)
	}
	if !bytes.HasSuffix(enc, []byte("\r\n")) || bytes.ContainsAny(enc[:len(enc)-2], "\x00\r\n") {
		t.Fatalf("AppendTo(%s) = %s; want one line ending in CRLF", clip(m), clip(enc))
	}
	m2, err := ParseMessage(string(enc))
	if err != nil {
		t.Fatalf("ParseMessage(%s) (encoded from %s) error %v", clip(enc), clip(line), err)
	}
	if !messagesEqual(m, m2) {
		t.Fatalf("round trip of %s: %s encoded as %s parses to %s", clip(line), clip(m), clip(enc), clip(m2))
	}
	enc2, err := m2.AppendTo(nil)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("encoding not stable: %s then %s (%v)", clip(enc), clip(enc2), err)
	}
}

// clip formats v (%q for strings and bytes, %#v otherwise) and shortens it for test output.
func clip(v any) string {
	var s string
	switch v := v.(type) {
	case string, []byte:
		s = fmt.Sprintf("%q", v)
	default:
		s = fmt.Sprintf("%#v", v)
	}
	if len(s) > 200 {
		s = fmt.Sprintf("%s…(%d bytes)…%s", s[:140], len(s), s[len(s)-40:])
	}
	return s
}

// messagesEqual treats nil and empty Tags or Params as equal, as the wire does.
func messagesEqual(a, b Message) bool {
	return maps.Equal(a.Tags, b.Tags) && a.Source == b.Source && a.Command == b.Command &&
		slices.Equal(a.Params, b.Params)
}

func FuzzMessageRoundTrip(f *testing.F) {
	for _, tt := range splitTests {
		f.Add(tt.line)
	}
	for _, tt := range parseErrorTests {
		f.Add(tt.line)
	}
	for _, tt := range joinTests {
		f.Add(tt.matches[0])
	}
	f.Fuzz(func(t *testing.T, line string) {
		checkRoundTrip(t, line)
	})
}

// FuzzAppendTo builds messages field by field, including ones ParseMessage would never return,
// and checks AppendTo's guard: it fails leaving buf as it was, or writes exactly one line that
// parses back to the same message.
func FuzzAppendTo(f *testing.F) {
	f.Add("@k", "v", "nick!u@h", "PRIVMSG", "#a", "hi there")
	f.Add("", "", "", "001", "ann", "")
	f.Add("a b", "x\x00", "a b", "PING\r\nQUIT", ":x", "\r\nQUIT :bye")
	f.Fuzz(func(t *testing.T, key, value, source, command, p1, p2 string) {
		m := Message{Source: source, Command: command, Params: []string{p1, p2}}
		if key != "" || value != "" {
			m.Tags = map[string]string{key: value}
		}
		prefix := []byte("PING x\r\n")
		b, err := m.AppendTo(slices.Clone(prefix))
		if err != nil {
			if !bytes.Equal(b, prefix) {
				t.Fatalf("AppendTo(%s) failed (%v) but changed buf to %s", clip(m), err, clip(b))
			}
			return
		}
		line, _ := bytes.CutPrefix(b, prefix)
		if !bytes.HasSuffix(line, []byte("\r\n")) || bytes.ContainsAny(line[:len(line)-2], badChars) {
			t.Fatalf("AppendTo(%s) = %s; want one line ending in CRLF", clip(m), clip(line))
		}
		got, err := ParseMessage(string(line))
		m.Command = strings.ToUpper(m.Command)
		if err != nil || !messagesEqual(got, m) {
			t.Fatalf("AppendTo(%s) = %s, which parses to %s, %v", clip(m), clip(line), clip(got), err)
		}
	})
}

// readMakers wrap a reader so each lineReader test runs against several ways of splitting reads.
var readMakers = []struct {
	name string
	fn   func(io.Reader) io.Reader
}{
	{"full", func(r io.Reader) io.Reader { return r }},
	{"byte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"data+err", iotest.DataErrReader},
}

// lineResult is one ReadLine outcome, the line or the error.
type lineResult struct {
	line string
	err  error
}

func (r lineResult) String() string {
	if r.err != nil {
		return r.err.Error()
	}
	return clip(r.line)
}

func readAll(t *testing.T, lr *lineReader) []lineResult {
	t.Helper()
	var out []lineResult
	for range 10000 {
		line, err := lr.ReadLine()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			out = append(out, lineResult{err: err})
			continue
		}
		out = append(out, lineResult{line: string(line)})
	}
	t.Fatal("ReadLine did not reach EOF")
	return nil
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("y", 40)
	tests := []struct {
		name  string
		input string
		max   int
		want  []lineResult
	}{
		{"LF", "a\nbc\n", 16, []lineResult{{line: "a"}, {line: "bc"}}},
		{"CRLF", "a\r\nbc\r\n", 16, []lineResult{{line: "a"}, {line: "bc"}}},
		{"mixed and empty", "a\r\n\nb\n\r\nc\n", 16, []lineResult{{line: "a"}, {line: ""}, {line: "b"}, {line: ""}, {line: "c"}}},
		{"CR inside a line is kept", "a\rb\r\n", 16, []lineResult{{line: "a\rb"}}},
		{"final line without newline", "a\nbc", 16, []lineResult{{line: "a"}, {line: "bc"}}},
		{"final line with CR only", "a\nbc\r", 16, []lineResult{{line: "a"}, {line: "bc"}}},
		{"empty input", "", 16, nil},
		{
			"over-long line reported once, then the next line",
			"short\r\n" + long + "\r\nnext\n", 16,
			[]lineResult{{line: "short"}, {err: ErrLineTooLong}, {line: "next"}},
		},
		{"over-long final line", "a\n" + long, 16, []lineResult{{line: "a"}, {err: ErrLineTooLong}}},
		{"two over-long lines", long + "\n" + long + "\r\nok\n", 16, []lineResult{{err: ErrLineTooLong}, {err: ErrLineTooLong}, {line: "ok"}}},
		{"exactly max with LF", "0123456789\nx\n", 10, []lineResult{{line: "0123456789"}, {line: "x"}}},
		{"exactly max with CRLF", "0123456789\r\nx\n", 10, []lineResult{{line: "0123456789"}, {line: "x"}}},
		{"exactly max at EOF", "0123456789", 10, []lineResult{{line: "0123456789"}}},
		{"one over max with LF", "0123456789A\nx\n", 10, []lineResult{{err: ErrLineTooLong}, {line: "x"}}},
		{"one over max with CRLF", "0123456789A\r\nx\n", 10, []lineResult{{err: ErrLineTooLong}, {line: "x"}}},
		{"one over max at EOF", "0123456789A", 10, []lineResult{{err: ErrLineTooLong}}},
	}
	for _, tt := range tests {
		for _, rm := range readMakers {
			t.Run(tt.name+"/"+rm.name, func(t *testing.T) {
				lr := newLineReader(rm.fn(strings.NewReader(tt.input)), tt.max)
				got := readAll(t, lr)
				if !slices.EqualFunc(got, tt.want, sameResult) {
					t.Errorf("ReadLine on %s (max %d) = %v; want %v", clip(tt.input), tt.max, got, tt.want)
				}
			})
		}
	}
}

func sameResult(a, b lineResult) bool {
	return a.line == b.line && errors.Is(a.err, b.err) && errors.Is(b.err, a.err)
}

func TestLineReaderGrowsBuffer(t *testing.T) {
	big := strings.Repeat("z", 5000)
	for _, rm := range readMakers {
		t.Run(rm.name, func(t *testing.T) {
			lr := newLineReader(rm.fn(strings.NewReader("a\n"+big+"\r\nb\n")), maxLineLen)
			if n := len(lr.buf); n > 1024 {
				t.Errorf("initial buffer %d bytes; want it small for idle clients", n)
			}
			got := readAll(t, lr)
			want := []lineResult{{line: "a"}, {line: big}, {line: "b"}}
			if !slices.EqualFunc(got, want, sameResult) {
				t.Errorf("lines = %d results; want the 5000-byte line intact between a and b", len(got))
			}
			if n := len(lr.buf); n < len(big) || n > maxLineLen+2 {
				t.Errorf("buffer %d bytes after a %d-byte line; want between them and %d", n, len(big), maxLineLen+2)
			}
		})
	}
}

// TestLineReaderKeepsDataOnError checks that a read error (a deadline, say) loses nothing: the
// bytes before it come back with the rest of their line on the next call.
func TestLineReaderKeepsDataOnError(t *testing.T) {
	lr := newLineReader(iotest.TimeoutReader(iotest.OneByteReader(strings.NewReader("abcd\nef\n"))), 16)
	if _, err := lr.ReadLine(); !errors.Is(err, iotest.ErrTimeout) {
		t.Fatalf("first ReadLine error %v; want %v", err, iotest.ErrTimeout)
	}
	got := readAll(t, lr)
	want := []lineResult{{line: "abcd"}, {line: "ef"}}
	if !slices.EqualFunc(got, want, sameResult) {
		t.Errorf("after the error ReadLine = %v; want %v", got, want)
	}
}

// zeroReader returns 0, nil forever, which io.Reader discourages but does not forbid.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestLineReaderNoProgress(t *testing.T) {
	lr := newLineReader(zeroReader{}, 16)
	if _, err := lr.ReadLine(); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("ReadLine on a reader that never returns data: error %v; want %v", err, io.ErrNoProgress)
	}
}

// FuzzLineReader compares lineReader with a model (split on LF, drop one CR before it, lines
// over max become ErrLineTooLong) under whole and one-byte reads.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\r\nbc\n\nd"), uint8(4), false)
	f.Add([]byte("short\r\n"+strings.Repeat("y", 40)+"\r\nnext\n"), uint8(16), true)
	f.Add([]byte("0123456789\r\n0123456789A\r\n"), uint8(10), true)
	f.Add([]byte("\r\r\n\r"), uint8(1), false)
	f.Fuzz(func(t *testing.T, data []byte, max uint8, oneByte bool) {
		limit := int(max) + 1
		var r io.Reader = bytes.NewReader(data)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		lr := newLineReader(r, limit)
		got := readAll(t, lr)
		for _, res := range got {
			if len(res.line) > limit || strings.Contains(res.line, "\n") {
				t.Fatalf("ReadLine returned %s (max %d)", clip(res.line), limit)
			}
		}
		if want := modelLines(data, limit); !slices.EqualFunc(got, want, sameResult) {
			t.Fatalf("ReadLine on %s (max %d) = %v; want %v", clip(data), limit, got, want)
		}
	})
}

func modelLines(data []byte, max int) []lineResult {
	var out []lineResult
	segs := strings.Split(string(data), "\n")
	if segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1]
	}
	for _, s := range segs {
		s = strings.TrimSuffix(s, "\r")
		if len(s) > max {
			out = append(out, lineResult{err: ErrLineTooLong})
			continue
		}
		out = append(out, lineResult{line: s})
	}
	return out
}

const (
	benchLine       = ":ann!ann@127.0.0.1 PRIVMSG #lab :hello everyone, the lab starts in five minutes"
	benchTaggedLine = "@time=2026-11-24T21:49:00.000Z;msgid=8f3kq2;+draft/reply=7yb1 " + benchLine
)

func BenchmarkParse(b *testing.B) {
	for _, bb := range []struct{ name, line string }{{"plain", benchLine}, {"tagged", benchTaggedLine}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.line)))
			for b.Loop() {
				if _, err := ParseMessage(bb.line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendTo(b *testing.B) {
	for _, bb := range []struct{ name, line string }{{"plain", benchLine}, {"tagged", benchTaggedLine}} {
		m, err := ParseMessage(bb.line)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 1024)
			for b.Loop() {
				if buf, err = m.AppendTo(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func TestAppendToOptionalTrailingColon(t *testing.T) {
	m := Message{Command: "PRIVMSG", Params: []string{"bob", "hi"}}
	if got := m.String(); got != "PRIVMSG bob :hi" {
		t.Errorf("free text = %q, want the conventional ':' before it", got)
	}
	// At the limit the optional ':' is left out rather than push the line over 512 bytes.
	long := Message{Command: "PRIVMSG", Params: []string{"bob", strings.Repeat("x", maxBodyLen-2-len("PRIVMSG bob "))}}
	b, err := long.AppendTo(nil)
	if err != nil || len(b) != maxBodyLen || strings.Contains(string(b), ":") {
		t.Errorf("510-byte body: %d bytes, err %v; want exactly 512 bytes without the optional ':'", len(b), err)
	}
	join := Message{Command: "JOIN", Params: []string{"#lab"}}
	if got := join.String(); got != "JOIN #lab" {
		t.Errorf("JOIN = %q, want no ':' on a channel name", got)
	}
}
