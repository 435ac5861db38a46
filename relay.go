package main

// Message relay: PRIVMSG, NOTICE and TAGMSG to users and rooms. A message is encoded once
// per capability variant (at most four: with or without server-time, with or without
// message-tags) and the same bytes are appended to every recipient's send queue.

import (
	"crypto/rand"
	"encoding/base32"
	"maps"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// outMsg is one event on its way to many recipients. It belongs to the goroutine relaying
// it; only the encoded bytes it hands out are shared, and those are never modified.
type outMsg struct {
	msg      Message // Tags holds only client-only (+) tags, relayed to message-tags clients
	at       time.Time
	msgid    string
	body     []byte     // the line without tags, CRLF included
	variants [16][]byte // indexed by variant
	multi    []mlLine   // a draft/multiline message's lines (multiline.go); msg's text is them joined
	tagOnly  bool       // TAGMSG: only for clients with message-tags
	account  string     // the sender's account, for account-tag clients ("" for none)
	bot      bool       // the sender is a bot (+B): a "bot" tag for message-tags clients
}

// eventFrom is newOutMsg for an event c causes, tagged with c's account and bot mode;
// s.mu held or c's processor.
func (c *Session) eventFrom(m Message) *outMsg {
	o := newOutMsg(m)
	o.account, o.bot = c.account, c.bot
	return o
}

func newOutMsg(m Message) *outMsg {
	o := &outMsg{msg: m, at: time.Now(), msgid: newMsgID()}
	o.msg.Tags = nil
	b, err := o.msg.AppendTo(nil)
	if err != nil {
		b = nil // callers build events from validated parts; a failure sends nothing
	}
	o.body = b
	o.msg.Tags = m.Tags
	return o
}

func (o *outMsg) variant(caps capSet) int {
	v := 0
	if caps&capServerTime != 0 {
		v |= 1
	}
	if caps&capMessageTags != 0 {
		v |= 2
	}
	if caps&capAccountTag != 0 && o.account != "" {
		v |= 4
	}
	if o.multi != nil && caps&(capMultiline|capBatch) == capMultiline|capBatch {
		v |= 8
	}
	return v
}

// bytesFor returns the wire form for a client with these caps, or nil when it gets nothing.
func (o *outMsg) bytesFor(caps capSet) []byte {
	if o.body == nil || (o.tagOnly && caps&capMessageTags == 0) {
		return nil
	}
	v := o.variant(caps)
	if b := o.variants[v]; b != nil {
		return b
	}
	tags := make(map[string]string, len(o.msg.Tags)+4)
	if v&2 != 0 {
		maps.Copy(tags, o.msg.Tags)
		tags["msgid"] = o.msgid
		if o.bot {
			tags["bot"] = ""
		}
	}
	if v&4 != 0 {
		tags["account"] = o.account
	}
	if v&1 != 0 {
		tags["time"] = o.at.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	if o.multi != nil {
		o.variants[v] = o.multilineBytes(v, tags)
		return o.variants[v]
	}
	b := o.body
	if len(tags) > 0 {
		t, err := (&Message{Tags: tags}).appendTags(make([]byte, 0, 64+len(o.body)))
		if err != nil {
			return nil // client tags were size-checked on the way in; nothing fits here
		}
		b = append(t, o.body...)
	}
	o.variants[v] = b
	return b
}

var (
	msgidPrefix  = newMsgIDPrefix()
	msgidCounter atomic.Uint64
)

func newMsgIDPrefix() string {
	var b [5]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// newMsgID is unique per server run and cheap: a random prefix and a counter.
func newMsgID() string {
	return msgidPrefix + strconv.FormatUint(msgidCounter.Add(1), 36)
}

// setMulti makes o a multiline message of these lines (nil: it is not one). It returns the
// relayed length of a line too long to relay, leaving o.body nil, or 0.
func (o *outMsg) setMulti(lines []mlLine) int {
	if lines == nil {
		return 0
	}
	o.multi = lines
	if n := multilineTooLong(o.msg.Source, o.msg.Command, o.msg.Param(0), lines); n > 0 {
		o.body = nil
		return n
	}
	o.body = []byte{} // the lines are encoded per variant (multilineBytes)
	return 0
}

// clientTags keeps the client-only tags (those starting with '+') of an incoming message.
func clientTags(tags map[string]string) map[string]string {
	var out map[string]string
	for k, v := range tags {
		if strings.HasPrefix(k, "+") {
			if out == nil {
				out = make(map[string]string)
			}
			out[k] = v
		}
	}
	return out
}

const maxTargets = 4

func (c *Session) handlePrivmsg(m *Message) {
	notice := m.Command == "NOTICE"
	tagOnly := m.Command == "TAGMSG"
	if len(m.Params) == 0 || m.Params[0] == "" {
		if !notice {
			c.reply(ERR_NORECIPIENT, "No recipient given ("+m.Command+")")
		}
		return
	}
	text := m.Param(1)
	if !tagOnly && text == "" {
		if !notice {
			c.reply(ERR_NOTEXTTOSEND, "No text to send")
		}
		return
	}
	if tagOnly && c.caps&capMessageTags == 0 {
		return // TAGMSG without message-tags makes no sense; drop silently as servers do
	}
	targets := strings.Split(m.Params[0], ",")
	if len(targets) > maxTargets {
		c.reply("407", m.Params[0], "Too many recipients (at most "+strconv.Itoa(maxTargets)+")")
		return
	}
	for _, target := range targets {
		params := []string{target, text}
		if tagOnly {
			params = params[:1]
		}
		ev := Message{Tags: clientTags(m.Tags), Command: m.Command, Params: params}
		if isServiceNick(target) {
			if m.Command == "PRIVMSG" && casefold(target) == casefold(chanServ) {
				c.chanServ(text)
			} else if m.Command == "PRIVMSG" {
				c.nickServ(text)
			}
			continue
		}
		if status, room, ok := statusTarget(target); ok {
			c.relayToStatus(status, room, ev, notice)
		} else if strings.HasPrefix(target, "#") {
			c.relayToRoom(target, ev, notice, nil)
		} else if strings.HasPrefix(target, "$") {
			c.announce(target, ev, notice)
		} else {
			c.relayToUser(target, ev, notice, nil)
		}
	}
}

// relayToUser and relayToRoom relay one message; multi holds the lines of a multiline one.
func (c *Session) relayToUser(target string, ev Message, notice bool, multi []mlLine) {
	s := c.s
	s.mu.RLock()
	u := s.nicks[casefold(target)]
	if u == nil {
		s.mu.RUnlock()
		// An account online under another nick (after a /nick) still gets what is sent to
		// its account name, at its current nick: not "no such nick", not a stored message.
		if account := s.accountOwning(target); account != "" {
			s.mu.RLock()
			if u = s.accountUsers[casefold(account)]; u == nil {
				s.mu.RUnlock()
			}
		}
	}
	if u == nil {
		if ev.Command == "PRIVMSG" && c.storeOffline(target, ev, multi) {
			return
		}
		if !notice {
			c.reply(ERR_NOSUCHNICK, target, "No such nick/channel")
		}
		return
	}
	t := u.first()
	ev.Source = c.prefix()
	ev.Params[0] = u.nick
	o := c.eventFrom(ev)
	if n := o.setMulti(multi); o.body == nil {
		s.mu.RUnlock()
		c.replyTooLongToRelay(ev.Command, target, max(n, relayedLen(&ev)))
		return
	}
	o.tagOnly = ev.Command == "TAGMSG"
	logErr := s.logMessage(dmConversation(c.historyName(), t.historyName()), o, c.nick)
	s.relayed.Add(1) // counted before delivery, so a STATS sent on receipt includes it
	// Every connection of the recipient, then the sender's other connections (see user.go).
	for _, own := range u.sessions {
		own.send(o.bytesFor(own.caps)) // a delivery, even to oneself: not a labeled reply
	}
	if u != c.u {
		c.copyToOwnLocked(o)
	}
	if c.caps&capEchoMessage != 0 {
		c.sendOwn(o.bytesFor(c.caps)) // to oneself too: the echo, apart from the delivery
	}
	if logErr != nil {
		c.noteNotSaved(t.nick, logErr)
	}
	if ev.Command == "PRIVMSG" {
		c.replyAwayLocked(t)
	}
	s.mu.RUnlock()
}

func (c *Session) relayToRoom(target string, ev Message, notice bool, multi []mlLine) {
	s := c.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.rooms[casefold(target)]
	if !ok {
		if !notice {
			c.reply(ERR_NOSUCHCHANNEL, target, "No such channel")
		}
		return
	}
	if why := r.cannotSendLocked(c); why != "" {
		if !notice {
			c.reply(ERR_CANNOTSENDTOCHAN, r.name, "Cannot send to channel ("+why+")")
		}
		return
	}
	if text := ev.Param(1); r.modeC && strings.HasPrefix(text, "\x01") && !strings.HasPrefix(text, "\x01ACTION ") {
		if !notice {
			c.reply(ERR_CANNOTSENDTOCHAN, r.name, "Cannot send to channel (+C: no CTCP here but /me)")
		}
		return
	}
	ev.Source = c.prefix()
	ev.Params[0] = r.name
	o := c.eventFrom(ev)
	if n := o.setMulti(multi); o.body == nil {
		c.replyTooLongToRelay(ev.Command, target, max(n, relayedLen(&ev)))
		return
	}
	o.tagOnly = ev.Command == "TAGMSG"
	echo := c.caps&capEchoMessage != 0
	r.relayMu.Lock()
	logErr := s.logMessage(r.logName, o, c.nick) // under relayMu: log order is relay order
	s.relayed.Add(1)
	for _, m := range r.memberList() {
		if m != c || echo {
			if b := o.bytesFor(m.caps); b != nil {
				m.sendFrom(c, b)
			}
		}
	}
	r.relayMu.Unlock()
	if _, member := r.members[c]; !member && echo {
		c.sendOwn(o.bytesFor(c.caps))
	}
	if logErr != nil {
		c.noteNotSaved(r.name, logErr)
	}
}

// replyTooLongToRelay refuses a message that fits 512 bytes as sent but not once the
// server puts the sender's nick!user@host in front: cutting it would lose text silently.
// It is a 417 alone, whose text says why and by how much: irctest's buffering and
// message-tags length tests accept only 417 (or delivery) here, and a FAIL after the 417 is
// taken for the reply to the client's next line. NOTICE gets it too: its sender must learn
// the text was not sent.
func (c *Session) replyTooLongToRelay(command, target string, line int) {
	over := strconv.Itoa(line - maxBodyLen)
	c.reply(ERR_INPUTTOOLONG, command+" to "+target+" not sent: with your nick!user@host in front the line would be "+over+" bytes over the 512-byte limit; split the text into shorter messages")
}

// cannotSendLocked says why c may not speak in r, or "" if it may; s.mu must be held.
func (r *Room) cannotSendLocked(c *Session) string {
	modes, member := r.members[c]
	switch {
	case !member && r.modeN:
		return "join it first: JOIN " + r.name
	case r.modeM && modes == 0:
		return "the room is moderated (+m): only operators and voiced members speak"
	case modes == 0 && len(r.bans) > 0 && r.bannedLocked(c):
		return "you are banned (+b)"
	}
	return ""
}

// unregister removes c from nicks, rooms and the session set, and tells everyone who shared
// a room with it that it quit. Idempotent; safe from any goroutine not holding s.mu.
func (s *Server) unregister(c *Session, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.gone {
		return
	}
	c.gone = true
	switch {
	case c.registered && c.lastConnectionLocked():
		c.rememberLocked() // WHOWAS: the user, not a connection, is gone
		ev := newOutMsg(Message{Source: c.prefix(), Command: "QUIT", Params: []string{reason}})
		for peer := range c.quitWitnessesLocked() {
			peer.send(ev.bytesFor(peer.caps))
		}
	case c.registered:
		c.leftRoomsLocked(reason) // the user stays online on its other connections
	}
	c.wentOfflineLocked()
	for r := range c.rooms {
		if !s.cfg.RememberRooms {
			r.accountLeftLocked(c) // no device rejoins it: the account is no member while offline
		}
		r.removeLocked(c)
	}
	c.releaseNickLocked()
	s.detachLocked(c)
	delete(s.sessions, c)
	s.uncountLocked(c)
	if c.account != "" {
		s.log.Info("logout", "account", c.account, "remote", c.ip, "reason", reason)
	}
}
