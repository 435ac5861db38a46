package main

// What the client shows: server lines become chatEvents; a sink renders them, either to the
// interactive prompt (printed above the line being typed) or, in pipeline mode, to stdout
// (--follow, plain or JSON lines) and stderr (errors).

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// eventKind names what happened; it is the "type" field of --json output.
type eventKind string

const (
	kindMessage   eventKind = "privmsg"
	kindNotice    eventKind = "notice"
	kindAction    eventKind = "action"
	kindJoin      eventKind = "join"
	kindPart      eventKind = "part"
	kindQuit      eventKind = "quit"
	kindNick      eventKind = "nick"
	kindKick      eventKind = "kick"
	kindTopic     eventKind = "topic"
	kindInfo      eventKind = "info"  // a server reply or notice
	kindError     eventKind = "error" // an error reply, or the client's own complaint
	kindRaw       eventKind = "raw"   // a line as sent or received, for /raw
	kindLastLogin eventKind = "lastlogin"
	kindReaction  eventKind = "reaction" // +draft/react on a message (client_rich.go)
	kindRedact    eventKind = "redact"   // a message was deleted
)

// chatEvent is one thing to show. The exported fields are the --json output.
type chatEvent struct {
	Time    time.Time `json:"time"`
	Kind    eventKind `json:"type"`
	From    string    `json:"from,omitempty"`
	Name    string    `json:"name,omitempty"` // From's display name (client_read.go)
	To      string    `json:"to,omitempty"`
	Text    string    `json:"text"`
	State   string    `json:"state,omitempty"` // status: online/away/back/offline; call: ringing, answered...
	ID      string    `json:"id,omitempty"`    // call: the call's id
	self    bool      // sent by us (local echo or echo-message)
	direct  bool      // a private message, not a room's
	history bool      // replayed by /history: shown with its date
}

// eventSink receives events from the dispatch goroutine and the input side, so it must be
// safe for concurrent use.
type eventSink interface {
	event(ev chatEvent)
}

// timeLayout is how event times are shown, in local time.
const timeLayout = "15:04:05"

// eventFormats render each kind without the time stamp.
var eventFormats = map[eventKind]func(ev chatEvent) string{
	kindMessage: formatMessage,
	kindNotice: func(ev chatEvent) string {
		return roomPrefix(ev) + "-" + ev.who() + "- " + ev.Text
	},
	kindAction: func(ev chatEvent) string { return roomPrefix(ev) + "* " + ev.who() + " " + ev.Text },
	kindJoin:   func(ev chatEvent) string { return ev.who() + " joined " + ev.To },
	kindPart:   func(ev chatEvent) string { return ev.who() + " left " + ev.To + reason(ev.Text) },
	kindQuit:   func(ev chatEvent) string { return ev.who() + " quit" + reason(ev.Text) },
	kindNick:   func(ev chatEvent) string { return ev.who() + " is now known as " + ev.To },
	kindKick:   func(ev chatEvent) string { return ev.From + " kicked " + ev.Text },
	kindTopic: func(ev chatEvent) string {
		if ev.Text == "" {
			return ev.From + " cleared the topic of " + ev.To
		}
		return ev.From + " set the topic of " + ev.To + ": " + ev.Text
	},
	kindInfo:     func(ev chatEvent) string { return ev.Text },
	kindError:    func(ev chatEvent) string { return "! " + ev.Text },
	kindRaw:      func(ev chatEvent) string { return ev.Text },
	kindReaction: func(ev chatEvent) string { return roomPrefix(ev) + ev.who() + " reacted " + ev.Text },
	kindRedact:   func(ev chatEvent) string { return roomPrefix(ev) + ev.who() + " " + ev.Text },
	kindLastLogin: func(ev chatEvent) string {
		return ev.Text
	},
}

func formatMessage(ev chatEvent) string {
	switch {
	case ev.direct && ev.self:
		return "-> *" + ev.To + "* " + ev.Text
	case ev.direct:
		return "*" + ev.who() + "* " + ev.Text
	default:
		return ev.To + " <" + ev.who() + "> " + ev.Text
	}
}

func roomPrefix(ev chatEvent) string {
	if ev.direct {
		return ""
	}
	return ev.To + " "
}

func reason(text string) string {
	if text == "" {
		return ""
	}
	return " (" + text + ")"
}

// String is the event as one line of text, time first; control characters from the network
// are removed, so nobody can move the cursor or clear a screen with a message.
func (ev chatEvent) String() string {
	// A multiline message: its first line where a message goes, the others indented below.
	first, more, multi := strings.Cut(ev.Text, "\n")
	if multi {
		ev.Text = first
		var sb strings.Builder
		sb.WriteString(ev.String())
		for line := range strings.SplitSeq(more, "\n") {
			sb.WriteString("\n" + multilineIndent + sanitize(line))
		}
		return sb.String()
	}
	ev.From, ev.Name, ev.To, ev.Text = sanitize(ev.From), sanitize(ev.Name), sanitize(ev.To), sanitize(ev.Text)
	format, ok := eventFormats[ev.Kind]
	if !ok {
		format = eventFormats[kindInfo]
	}
	if ev.Kind == kindRaw {
		return format(ev)
	}
	if ev.history {
		return "[history] " + ev.Time.Local().Format("2006-01-02 "+timeLayout) + " " + format(ev)
	}
	return ev.Time.Local().Format(timeLayout) + " " + format(ev)
}

// multilineIndent starts each further line of a multiline message.
const multilineIndent = "         | "

// sanitize drops C0 and C1 control characters (IRC colour codes included) and DEL.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}

// isChat reports whether ev is a message from someone, the events --follow prints.
func (ev chatEvent) isChat() bool {
	return (ev.Kind == kindMessage || ev.Kind == kindNotice || ev.Kind == kindAction || ev.Kind == kindStatus || ev.Kind == kindCall || ev.Kind == kindReaction || ev.Kind == kindRedact) && !ev.self
}

// pipelineSink prints chat events to stdout with --follow, and errors to stderr.
type pipelineSink struct {
	mu     sync.Mutex // serializes writes, so lines never interleave
	stdout io.Writer
	stderr io.Writer
	follow bool
	json   bool
}

func newPipelineSink(stdout, stderr io.Writer, opts *clientOptions) *pipelineSink {
	return &pipelineSink{stdout: stdout, stderr: stderr, follow: opts.follow, json: opts.json}
}

func (ps *pipelineSink) event(ev chatEvent) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	switch {
	case ev.Kind == kindError:
		fmt.Fprintf(ps.stderr, "labchat: %s\n", sanitize(ev.Text))
	case !ps.follow || !ev.isChat():
	case ps.json:
		ev.Time = ev.Time.UTC()
		b, _ := json.Marshal(ev) // cannot fail: strings and a time
		fmt.Fprintf(ps.stdout, "%s\n", b)
	default:
		ev.Name = "" // plain lines keep "<mei>" for scripts; --json has the display name
		fmt.Fprintln(ps.stdout, ev.String())
	}
}

// messageHandlers handle server lines after login. raw is true while /raw replies are shown
// as received: handlers then update state but show nothing.
var messageHandlers = map[string]func(cs *clientSession, m *Message, raw bool){
	"PRIVMSG":     (*clientSession).onMessage,
	"NOTICE":      (*clientSession).onMessage,
	"JOIN":        (*clientSession).onJoin,
	"PART":        (*clientSession).onPart,
	"KICK":        (*clientSession).onKick,
	"QUIT":        (*clientSession).onQuit,
	"NICK":        (*clientSession).onNick,
	"TOPIC":       (*clientSession).onTopic,
	"PONG":        (*clientSession).onPong,
	"ERROR":       (*clientSession).onError,
	"FAIL":        (*clientSession).onFail,
	"PING":        func(*clientSession, *Message, bool) {}, // answered in handle
	"CAP":         func(*clientSession, *Message, bool) {},
	"353":         (*clientSession).onNames, // RPL_NAMREPLY
	"BATCH":       (*clientSession).onBatch,
	"TAGMSG":      (*clientSession).onTagmsg,
	"REDACT":      (*clientSession).onRedact,
	"CHATHISTORY": (*clientSession).onHistoryTarget,
}

// nickOf returns the nick of a "nick!user@host" source; "" for a server.
func nickOf(source string) string {
	nick, _, found := strings.Cut(source, "!")
	if !found && strings.Contains(source, ".") {
		return ""
	}
	return nick
}

// clientFold folds names for comparison, RFC 1459 style ({}|~ are the lower case of []\^).
func clientFold(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		case r == '[', r == ']', r == '\\', r == '^':
			return map[rune]rune{'[': '{', ']': '}', '\\': '|', '^': '~'}[r]
		}
		return r
	}, name)
}

// msgTime is the server-time tag of m, or now when the server sent none.
func msgTime(m *Message) time.Time {
	if v, ok := m.Tags["time"]; ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t
		}
	}
	return time.Now()
}

// isSelf reports whether nick is ours; it also remembers other nicks for completion.
func (cs *clientSession) isSelf(nick string) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if clientFold(nick) == clientFold(cs.nick) {
		return true
	}
	if nick != "" {
		cs.nicks[clientFold(nick)] = nick
	}
	return false
}

func (cs *clientSession) show(raw bool, ev chatEvent) {
	if raw {
		return
	}
	if ev.Name == "" && ev.From != "" && namedKinds[ev.Kind] {
		ev.Name = cs.displayName(ev.From)
	}
	cs.sink.event(ev)
	cs.noteShown(ev)
}

func (cs *clientSession) onMessage(m *Message, raw bool) {
	from, target, text := nickOf(m.Source), m.Param(0), m.Param(1)
	if from == "" {
		cs.onServerNotice(m, raw)
		return
	}
	cs.seen.add(m.Tags["msgid"])
	cs.recordEntry(&LogEntry{Time: msgTime(m), MsgID: m.Tags["msgid"], Kind: m.Command, From: from, To: target, Text: text, Tags: replyTags(m.Tags)})
	conv := cs.convOf(from, target)
	cs.stopTyping(conv, from)
	pre := cs.replyPrefix(conv, m.Tags["+draft/reply"])
	cs.rememberMsg(conv, m.Tags["msgid"], from, text)
	kind := kindMessage
	if m.Command == "NOTICE" {
		kind = kindNotice
	}
	if ctcp, ok := strings.CutPrefix(text, "\x01"); ok {
		if cs.onCallCTCP(m, from, target, strings.TrimSuffix(ctcp, "\x01"), raw) {
			return
		}
		body, isAction := strings.CutPrefix(strings.TrimSuffix(ctcp, "\x01"), "ACTION ")
		if !isAction {
			return // other CTCP requests (VERSION, PING...) are not answered
		}
		kind, text = kindAction, body
	}
	self := cs.isSelf(from)
	if !self && !cs.isRoom(target) {
		cs.notePartner(from)
	}
	ev := chatEvent{Time: msgTime(m), Kind: kind, From: from, To: target, Text: pre + text, self: self, direct: !cs.isRoom(target)}
	cs.show(raw, ev)
	if r, ok := cs.sink.(interface{ ringFor(chatEvent) }); ok && !self && !raw {
		r.ringFor(ev)
	}
}

// onServerNotice shows the server's own notices; "Previous login: TIME from ADDR" becomes
// the "last login" line.
func (cs *clientSession) onServerNotice(m *Message, raw bool) {
	text := m.Param(len(m.Params) - 1)
	if cs.noteStoredCall(text) {
		return // /call says it in its own words
	}
	ev := chatEvent{Time: msgTime(m), Kind: kindInfo, Text: text}
	if k := killNotice.FindStringSubmatch(text); k != nil {
		// Our KILL's confirmation; the victim's QUIT in a shared room says the same.
		if cs.killSaid[clientFold(k[1])] {
			delete(cs.killSaid, clientFold(k[1]))
			return
		}
		cs.killSaid[clientFold(k[1])] = true
		ev.Text = "you disconnected " + k[1] + " from the server (" + k[2] + ")"
	}
	if rest, ok := strings.CutPrefix(text, "Previous login: "); ok {
		ev.Kind, ev.Text = kindLastLogin, "last login "+describeLogin(rest)
	} else if text == "First login to this account" {
		ev.Kind, ev.Text = kindLastLogin, "first login to this account"
	}
	if ev.Kind == kindLastLogin && cs.takeSkipLastLogin() {
		return // after a reconnect it names the login just before: ours
	}
	cs.show(raw, ev)
}

// describeLogin turns "2026-11-24T21:00:00Z from 10.0.0.7" into local time.
func describeLogin(s string) string {
	stamp, from, _ := strings.Cut(s, " from ")
	t, err := time.Parse(time.RFC3339, stamp)
	if err != nil {
		return s
	}
	return t.Local().Format("Mon 2 Jan 2006 15:04 MST") + " from " + from
}

func (cs *clientSession) onJoin(m *Message, raw bool) {
	who, room := nickOf(m.Source), m.Param(0)
	if len(m.Params) >= 3 { // extended-join: JOIN #room account :realname
		cs.noteRealname(who, m.Param(2))
	}
	if cs.isSelf(who) {
		defer cs.quietWho(room) // the members' display names, which NAMES does not carry
		cs.mu.Lock()
		cs.rooms[clientFold(room)] = room
		if cs.target == "" || cs.askedRoom == clientFold(room) {
			cs.target = room // a join the user asked for, or the server's default room
		}
		rejoin := cs.rejoining[clientFold(room)]
		cs.mu.Unlock()
		cs.promptChanged()
		if rejoin {
			return // "back in #room" says it once for all rooms
		}
	}
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindJoin, From: who, To: room})
}

func (cs *clientSession) onPart(m *Message, raw bool) {
	who, room := nickOf(m.Source), m.Param(0)
	if cs.isSelf(who) {
		cs.leftRoom(room)
	}
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindPart, From: who, To: room, Text: m.Param(1)})
}

func (cs *clientSession) onKick(m *Message, raw bool) {
	room, victim := m.Param(0), m.Param(1)
	if cs.isSelf(victim) {
		cs.leftRoom(room)
	}
	text := victim + " from " + room + reason(m.Param(2))
	if cs.isSelf(victim) {
		text = "you from " + room + reason(m.Param(2))
	}
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindKick, From: nickOrMask(m.Source), To: room, Text: text})
}

// leftRoom forgets a room; if it was the target, another room the user is in (the first
// by name) becomes the target, or none.
func (cs *clientSession) leftRoom(room string) {
	cs.mu.Lock()
	delete(cs.rooms, clientFold(room))
	if clientFold(cs.target) == clientFold(room) {
		cs.target = ""
		for _, k := range slices.Sorted(maps.Keys(cs.rooms)) {
			cs.target = cs.rooms[k]
			break
		}
	}
	cs.mu.Unlock()
	cs.promptChanged()
}

var killNotice = regexp.MustCompile(`^Killed (\S+) \((.*)\)$`)

func (cs *clientSession) onQuit(m *Message, raw bool) {
	who := nickOf(m.Source)
	if why, ok := strings.CutPrefix(m.Param(0), "Killed by "+cs.myNick()+" ("); ok {
		if cs.killSaid[clientFold(who)] { // our own KILL, already said
			delete(cs.killSaid, clientFold(who))
			return
		}
		cs.killSaid[clientFold(who)] = true
		cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindInfo, Text: "you disconnected " + who + " from the server (" + strings.TrimSuffix(why, ")") + ")"})
		return
	}
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindQuit, From: who, Text: m.Param(0)})
}

func (cs *clientSession) onNick(m *Message, raw bool) {
	old, nick := nickOf(m.Source), m.Param(0)
	cs.mu.Lock()
	if clientFold(old) == clientFold(cs.nick) {
		cs.nick = nick
	}
	if clientFold(cs.target) == clientFold(old) {
		cs.target = nick
	}
	delete(cs.nicks, clientFold(old))
	cs.nicks[clientFold(nick)] = nick
	cs.mu.Unlock()
	name := cs.displayName(old)
	cs.renameRealname(old, nick)
	cs.presence.renamed(old, nick)
	cs.promptChanged()
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindNick, From: old, Name: name, To: nick})
}

func (cs *clientSession) onTopic(m *Message, raw bool) {
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindTopic, From: nickOf(m.Source), To: m.Param(0), Text: m.Param(1)})
}

func (cs *clientSession) onPong(m *Message, raw bool) {
	token := m.Param(len(m.Params) - 1)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if ch, ok := cs.pongs[token]; ok {
		close(ch)
		delete(cs.pongs, token)
	}
}

// onError records why the server is closing; run decides when the socket closes whether
// that ends the session or the client reconnects.
func (cs *clientSession) onError(m *Message, raw bool) {
	cs.serverErr = m.Param(0)
}

// onFail shows a standard-replies FAIL: "FAIL <command> <code> [<context>...] :<description>".
func (cs *clientSession) onFail(m *Message, raw bool) {
	cs.countLineError()
	text := fmt.Sprintf("%s: %s (%s)", m.Param(0), m.Param(len(m.Params)-1), m.Param(1))
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindError, Text: text})
}

func (cs *clientSession) countLineError() {
	cs.mu.Lock()
	cs.lineErrors++
	cs.mu.Unlock()
}

func (cs *clientSession) onNames(m *Message, raw bool) {
	room, names := m.Param(2), strings.Fields(m.Param(3))
	cs.mu.Lock()
	for _, n := range names {
		n = strings.TrimLeft(n, "~&@%+")
		if clientFold(n) != clientFold(cs.nick) {
			cs.nicks[clientFold(n)] = n
		}
	}
	rejoin := cs.rejoining[clientFold(room)]
	cs.mu.Unlock()
	if rejoin {
		return
	}
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindInfo, Text: "in " + room + ": " + cs.describeNames(names)})
}

// onOther shows any other line: numerics as their parameters after our nick, error numerics
// (4xx, 5xx) as errors, unknown commands as received.
func (cs *clientSession) onOther(m *Message) {
	if !isNumeric(m.Command) {
		if len(m.Params) > 0 { // a command this client does not know: its text, if any
			cs.sink.event(chatEvent{Time: msgTime(m), Kind: kindInfo, Text: nickOrMask(m.Source) + ": " + m.Params[len(m.Params)-1]})
		}
		return
	}
	text, show := numericText(cs, m)
	ev := chatEvent{Time: msgTime(m), Kind: kindInfo, Text: text}
	if m.Command[0] == '4' || m.Command[0] == '5' {
		ev.Kind = kindError
		cs.countLineError()
	}
	if show {
		cs.sink.event(ev)
	}
}

func isNumeric(cmd string) bool {
	return len(cmd) == 3 && isDigit(cmd[0]) && isDigit(cmd[1]) && isDigit(cmd[2])
}

// numericText is a numeric as a sentence (client_render.go); one the table lacks shows its
// text, never its parameters.
func numericText(cs *clientSession, m *Message) (string, bool) {
	params := m.Params[min(1, len(m.Params)):]
	if r, ok := numericSentences[m.Command]; ok {
		return r(cs, params)
	}
	if len(params) == 0 {
		return "", false
	}
	return params[len(params)-1], true
}
