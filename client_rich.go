package main

// The terminal client's side of issue 19: multiline messages (draft/multiline), replies
// (+draft/reply), reactions (+draft/react), typing (+typing) and deletes (REDACT).
//
// A multiline message is shown as one event whose text holds its lines; String prints the
// lines after the first indented under it. Replies, reactions and deletes are one line each:
//
//	19:02:11 #lab <bob> (re alice: "who has the lab sheet?") I do, page 3
//	19:02:15 #lab alice reacted 👍 to bob: "I do, page 3"
//	19:02:20 #lab alice deleted a message of bob
//
// /reply NICK TEXT answers NICK's last message in the current conversation, /react NICK
// EMOJI reacts to it, /delete [NICK] deletes one's own last message (or, for a room operator
// or server operator, NICK's). Who is typing shows in the prompt: "[me -> #lab · tom is
// typing…] >".

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// recentMsg is a message the client saw, for /reply, /react, /delete and for quoting.
type recentMsg struct {
	msgid, from, text string
}

const recentPerConv = 200

// mlCollect is a draft/multiline batch being received; dispatch goroutine only.
type mlCollect struct {
	start Message
	lines []Message
}

// onMultilineBatch takes BATCH lines of draft/multiline batches; false for other batches.
func (cs *clientSession) onMultilineBatch(m *Message) bool {
	ref := m.Param(0)
	if id, ok := strings.CutPrefix(ref, "+"); ok {
		if m.Param(1) != "draft/multiline" {
			return false
		}
		if cs.mlBatches == nil {
			cs.mlBatches = make(map[string]*mlCollect)
		}
		cs.mlBatches[id] = &mlCollect{start: *m}
		return true
	}
	id := strings.TrimPrefix(ref, "-")
	b, ok := cs.mlBatches[id]
	if !ok {
		return false
	}
	delete(cs.mlBatches, id)
	if len(b.lines) == 0 {
		return true
	}
	var sb strings.Builder
	for i, l := range b.lines {
		if _, concat := l.Tags["draft/multiline-concat"]; i > 0 && !concat {
			sb.WriteByte('\n')
		}
		sb.WriteString(l.Param(1))
	}
	tags := make(map[string]string, len(b.start.Tags))
	for k, v := range b.start.Tags {
		tags[k] = v
	}
	one := Message{Tags: tags, Source: b.start.Source, Command: b.lines[0].Command, Params: []string{b.start.Param(2), sb.String()}}
	cs.handle(inbound{msg: one}) // into the chathistory batch it is part of, or live
	return true
}

// multilineLine collects a line of an open multiline batch.
func (cs *clientSession) multilineLine(m *Message) bool {
	b, ok := cs.mlBatches[m.Tags["batch"]]
	if !ok {
		return false
	}
	b.lines = append(b.lines, *m)
	return true
}

// remember notes a message of a conversation for the commands that name one.
func (cs *clientSession) rememberMsg(conv, msgid, from, text string) {
	if msgid == "" {
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.recent == nil {
		cs.recent = make(map[string][]recentMsg)
	}
	k := clientFold(conv)
	list := append(cs.recent[k], recentMsg{msgid, from, text})
	if len(list) > recentPerConv {
		list = list[len(list)-recentPerConv:]
	}
	cs.recent[k] = list
}

// findRecent is the message with msgid in conv, or the last one from nick when msgid is "".
func (cs *clientSession) findRecent(conv, msgid, nick string) (recentMsg, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	list := cs.recent[clientFold(conv)]
	for i := len(list) - 1; i >= 0; i-- {
		if msgid != "" && list[i].msgid == msgid || msgid == "" && clientFold(list[i].from) == clientFold(nick) {
			return list[i], true
		}
	}
	return recentMsg{}, false
}

func (cs *clientSession) forgetRecent(conv, msgid string) (recentMsg, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	k := clientFold(conv)
	list := cs.recent[k]
	for i := range list {
		if list[i].msgid == msgid {
			gone := list[i]
			cs.recent[k] = append(list[:i:i], list[i+1:]...)
			return gone, true
		}
	}
	return recentMsg{}, false
}

// convOf is the conversation of a message from nick to target, as the client names it.
func (cs *clientSession) convOf(from, target string) string {
	if cs.isRoom(target) || cs.isSelf(from) {
		return target
	}
	return from
}

// quote is a short form of a message's text for one line.
func quote(text string) string {
	text = strings.Join(strings.Fields(sanitize(strings.ReplaceAll(text, "\n", " "))), " ")
	if utf8.RuneCountInString(text) > 40 {
		text = string([]rune(text)[:39]) + "…"
	}
	return `"` + text + `"`
}

// replyPrefix is "(re alice: "…") " for a message that replies to one the client saw.
func (cs *clientSession) replyPrefix(conv, parent string) string {
	if parent == "" {
		return ""
	}
	if p, ok := cs.findRecent(conv, parent, ""); ok {
		return "(re " + p.from + ": " + quote(p.text) + ") "
	}
	return "(re an earlier message) "
}

// onTagmsg shows reactions and notes who is typing.
func (cs *clientSession) onTagmsg(m *Message, raw bool) {
	from, target := nickOf(m.Source), m.Param(0)
	if from == "" {
		return
	}
	conv := cs.convOf(from, target)
	if react, parent := m.Tags["+draft/react"], m.Tags["+draft/reply"]; react != "" && parent != "" {
		if !cs.seen.add(m.Tags["msgid"]) && m.Tags["msgid"] != "" {
			return
		}
		what := "a message"
		if p, ok := cs.findRecent(conv, parent, ""); ok {
			what = p.from + ": " + quote(p.text)
		}
		cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindReaction, From: from, To: target, Text: sanitize(react) + " to " + what, direct: !cs.isRoom(target), self: cs.isSelf(from)})
		return
	}
	typing := m.Tags["+typing"]
	if typing == "" || cs.isSelf(from) {
		return
	}
	cs.mu.Lock()
	if cs.typing == nil {
		cs.typing = make(map[string]typingState)
	}
	k := clientFold(conv) + " " + clientFold(from)
	ttl := 6 * time.Second
	if typing == "done" {
		delete(cs.typing, k)
	} else {
		if typing == "paused" {
			ttl = 30 * time.Second
		}
		cs.typing[k] = typingState{conv: clientFold(conv), nick: from, until: time.Now().Add(ttl)}
	}
	cs.mu.Unlock()
	cs.promptChanged()
	time.AfterFunc(ttl+100*time.Millisecond, cs.promptChanged) // an expired "typing" leaves the prompt
}

type typingState struct {
	conv, nick string
	until      time.Time
}

// typingLine is " · tom is typing…" for the current target, "" when nobody is; cs.mu held.
func (cs *clientSession) typingLineLocked() string {
	var who []string
	now := time.Now()
	for k, t := range cs.typing {
		if !now.Before(t.until) {
			delete(cs.typing, k)
			continue
		}
		if t.conv == clientFold(cs.target) {
			who = append(who, t.nick)
		}
	}
	switch len(who) {
	case 0:
		return ""
	case 1:
		return " · " + who[0] + " is typing…"
	}
	return " · " + strings.Join(who, ", ") + " are typing…"
}

// stopTyping forgets that nick was typing in conv (its message arrived).
func (cs *clientSession) stopTyping(conv, nick string) {
	cs.mu.Lock()
	_, was := cs.typing[clientFold(conv)+" "+clientFold(nick)]
	delete(cs.typing, clientFold(conv)+" "+clientFold(nick))
	cs.mu.Unlock()
	if was {
		cs.promptChanged()
	}
}

// onRedact shows that a message was deleted and records it, so `labchat history` on the
// client's own records leaves it out too.
func (cs *clientSession) onRedact(m *Message, raw bool) {
	from, target, msgid := nickOf(m.Source), m.Param(0), m.Param(1)
	conv := cs.convOf(from, target)
	gone, known := cs.forgetRecent(conv, msgid)
	text := "deleted a message"
	if known {
		// The text is not repeated: a message deleted for what it said should not be shown again.
		if clientFold(gone.from) == clientFold(from) {
			text = "deleted their message"
		} else {
			text = "deleted a message of " + gone.from
		}
	}
	if r := m.Param(2); r != "" {
		text += " (" + r + ")"
	}
	cs.recordEntry(&LogEntry{Time: msgTime(m), MsgID: m.Tags["msgid"], Kind: "REDACT", From: from, To: target, Text: strings.TrimSpace(msgid + " " + m.Param(2))})
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindRedact, From: from, To: target, Text: text, direct: !cs.isRoom(target), self: cs.isSelf(from)})
}

// ---- commands ----

func cmdReply(cs *clientSession, args string) error {
	nick, text, _ := strings.Cut(args, " ")
	target := cs.currentTarget()
	if target == "" || nick == "" || strings.TrimSpace(text) == "" {
		cs.complain("usage: /reply NICK TEXT (answers NICK's last message here)")
		return nil
	}
	p, ok := cs.findRecent(target, "", nick)
	if !ok {
		cs.complain("no message of " + nick + " in " + target + " to reply to")
		return nil
	}
	return cs.sendTagged(target, text, map[string]string{"+draft/reply": p.msgid})
}

func cmdReact(cs *clientSession, args string) error {
	nick, emoji, _ := strings.Cut(args, " ")
	emoji = strings.TrimSpace(emoji)
	target := cs.currentTarget()
	if target == "" || nick == "" || emoji == "" || strings.ContainsAny(emoji, " ") {
		cs.complain("usage: /react NICK EMOJI (reacts to NICK's last message here, e.g. /react bob 👍)")
		return nil
	}
	p, ok := cs.findRecent(target, "", nick)
	if !ok {
		cs.complain("no message of " + nick + " in " + target + " to react to")
		return nil
	}
	return cs.sendTagmsg(target, map[string]string{"+draft/reply": p.msgid, "+draft/react": emoji})
}

func cmdDelete(cs *clientSession, args string) error {
	target := cs.currentTarget()
	if target == "" {
		cs.complain("usage: /delete [NICK] (your last message here, or NICK's if you run the room)")
		return nil
	}
	cs.mu.Lock()
	nick := cs.nick
	cs.mu.Unlock()
	if args != "" {
		nick = args
	}
	p, ok := cs.findRecent(target, "", nick)
	if !ok {
		cs.complain("no message of " + nick + " in " + target + " to delete")
		return nil
	}
	return cs.sendCmd("REDACT", target, p.msgid)
}

// sendTagged is sendText with client-only tags (a reply's parent) on every piece.
func (cs *clientSession) sendTagged(target, text string, tags map[string]string) error {
	if !cs.caps["message-tags"] {
		return cs.sendText(target, text)
	}
	cs.mu.Lock()
	nick := cs.nick
	cs.mu.Unlock()
	for _, piece := range splitText(text, maxTextBytes(nick, target)) {
		m := Message{Tags: tags, Command: "PRIVMSG", Params: []string{target, piece}}
		if err := cs.conn().sendMsg(&m); err != nil {
			return withExit(exitProtocol, err)
		}
	}
	return nil
}

func (cs *clientSession) sendTagmsg(target string, tags map[string]string) error {
	if !cs.caps["message-tags"] {
		cs.complain("this server does not relay reactions (no message-tags)")
		return nil
	}
	m := Message{Tags: tags, Command: "TAGMSG", Params: []string{target}}
	if err := cs.conn().sendMsg(&m); err != nil {
		return withExit(exitProtocol, err)
	}
	return nil
}

// sendMultiline sends text of several lines as draft/multiline batches (within the limits
// the server's cap value gives), or without the cap as one message per non-blank line.
func (cs *clientSession) sendMultiline(target, text string) error {
	if !cs.caps["draft/multiline"] || !cs.caps["batch"] {
		for line := range strings.SplitSeq(text, "\n") {
			if line != "" {
				if err := cs.sendText(target, line); err != nil {
					return err
				}
			}
		}
		return nil
	}
	cs.mu.Lock()
	nick := cs.nick
	cs.mu.Unlock()
	lines := splitMultiline(text, maxTextBytes(nick, target))
	maxBytes, maxLines := cs.multilineLimits()
	var batch []mlLine
	bytes := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		cs.mu.Lock()
		cs.batchSeq++
		ref := "ml" + itoa(cs.batchSeq)
		cs.mu.Unlock()
		cc := cs.conn()
		if err := cc.sendMsg(&Message{Command: "BATCH", Params: []string{"+" + ref, "draft/multiline", target}}); err != nil {
			return withExit(exitProtocol, err)
		}
		for _, l := range batch {
			tags := map[string]string{"batch": ref}
			if l.concat {
				tags["draft/multiline-concat"] = ""
			}
			if err := cc.sendMsg(&Message{Tags: tags, Command: "PRIVMSG", Params: []string{target, l.text}}); err != nil {
				return withExit(exitProtocol, err)
			}
		}
		if err := cc.sendMsg(&Message{Command: "BATCH", Params: []string{"-" + ref}}); err != nil {
			return withExit(exitProtocol, err)
		}
		batch, bytes = nil, 0
		return nil
	}
	for _, l := range lines {
		n := len(l.text) + 1
		if len(batch) > 0 && (len(batch) >= maxLines || bytes+n > maxBytes) {
			if err := flush(); err != nil {
				return err
			}
			l.concat = false
		}
		if len(batch) == 0 && l.text == "" {
			continue // a batch may not start with a blank continuation
		}
		batch = append(batch, l)
		bytes += n
	}
	if err := flush(); err != nil {
		return err
	}
	if !cs.caps["echo-message"] {
		cs.sink.event(chatEvent{Time: time.Now(), Kind: kindMessage, From: nick, To: target, Text: text, self: true, direct: !cs.isRoom(target)})
		cs.record("PRIVMSG", nick, target, text, "", time.Now())
	}
	return nil
}

// multilineLimits reads max-bytes and max-lines from the server's draft/multiline value.
func (cs *clientSession) multilineLimits() (maxBytes, maxLines int) {
	maxBytes, maxLines = 4096, 24
	for kv := range strings.SplitSeq(cs.capValues["draft/multiline"], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, _ := strconv.Atoi(v)
		switch {
		case k == "max-bytes" && n > 0:
			maxBytes = n
		case k == "max-lines" && n > 0:
			maxLines = n
		}
	}
	return maxBytes, maxLines
}

// replyTags keeps a message's +draft/reply for the records.
func replyTags(tags map[string]string) map[string]string {
	if p := tags["+draft/reply"]; p != "" {
		return map[string]string{"+draft/reply": p}
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
