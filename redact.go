package main

// IRCv3 draft/message-redaction: REDACT <target> <msgid> [:reason] deletes a message.
//
// Who may: the sender of the message (its account, or for a guest the same nick on the
// connection that sent it), a room's operators any message in their room, and server
// operators any message anywhere. The server relays REDACT to the clients with the cap that
// can see the conversation (sender included, as the confirmation); a client without the cap
// gets nothing, as the spec says.
//
// What is on disk: the chat log is append-only (histlog.go: a crash or a full disk can tear
// at most the last line, never a message written before), so the redacted message's line
// stays where it is and a REDACT line is appended to the same conversation:
//
//	2026-12-06T19:00:00.000Z  <id>  REDACT  teacher  #lab  <redacted msgid> <reason>
//
// Everything that serves the log to users honours it: CHATHISTORY no longer returns the
// message (nor the REDACT line), the clients drop it from their view and their own records
// get the same REDACT line, and `labchat history` leaves it out (--redacted shows it,
// marked, for the instructor who runs the server and must be able to see what was said in
// the lab before it was deleted — abuse is moderated, not made to vanish). Wiping the text
// from the disk as well would mean rewriting log files in place, which the crash-safety of
// the format rules out; an instructor who must can delete the day file.
//
// Lock order: redactions.mu is taken before chatLog.mu (a REDACT line is appended with it
// held, so a set being loaded cannot miss it) and nothing else is taken under it.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// redactions knows which msgids of each conversation are redacted. A conversation's set is
// read from its log files the first time it is needed (a scan for "\tREDACT\t", at disk
// cache speed), then kept up to date. Sets are copy-on-write: a reader keeps the map it got,
// which nobody changes, while a new REDACT installs a new one.
type redactions struct {
	mu   sync.Mutex
	sets map[string]map[string]struct{} // conversation → redacted msgids
}

// redactedIn returns the conversation's redacted msgids; the map must not be modified.
func (s *Server) redactedIn(conv string) map[string]struct{} {
	r := &s.redacted
	r.mu.Lock()
	defer r.mu.Unlock()
	if set, ok := r.sets[conv]; ok {
		return set
	}
	set := make(map[string]struct{})
	needle := []byte("\tREDACT\t")
	for _, day := range s.historyDays(conv) {
		data, err := os.ReadFile(filepath.Join(s.history.dir, conv, day))
		if err != nil || !bytes.Contains(data, needle) {
			continue
		}
		readLog(bytes.NewReader(data), func(e LogEntry) error {
			if e.Kind == "REDACT" {
				id, _, _ := strings.Cut(e.Text, " ")
				set[id] = struct{}{}
			}
			return nil
		})
	}
	if r.sets == nil {
		r.sets = make(map[string]map[string]struct{})
	}
	r.sets[conv] = set
	return set
}

// historyKeep is what CHATHISTORY may send c from a conversation: messages (and with
// draft/event-playback reactions and topic changes) that are not redacted, within what the
// room's own rule (keep) lets through.
func (c *Session) historyKeep(conv string, keep func(*histEntry) bool) func(*histEntry) bool {
	redacted := c.s.redactedIn(conv)
	events := c.caps&capEventPlayback != 0
	return func(e *histEntry) bool {
		switch e.Kind {
		case "PRIVMSG", "NOTICE":
		case "TAGMSG", "TOPIC":
			if !events {
				return false
			}
		default:
			return false
		}
		if _, gone := redacted[e.MsgID]; gone && e.MsgID != "" {
			return false
		}
		return keep == nil || keep(e)
	}
}

func (c *Session) handleRedact(m *Message) {
	s := c.s
	target, msgid, reason := m.Params[0], m.Params[1], m.Param(2)
	if s.history == nil {
		c.fail("REDACT", "UNKNOWN_MSGID", target, msgid, "This server keeps no history, so it cannot find messages to delete")
		return
	}
	var conv string
	var room *Room
	var peer *User
	op := false
	if strings.HasPrefix(target, "#") {
		s.mu.RLock()
		room = s.rooms[casefold(target)]
		member := false
		if room != nil {
			var modes memberModes
			modes, member = room.members[c]
			op = modes&memberOp != 0
			target, conv = room.name, room.logName
		}
		s.mu.RUnlock()
		if room == nil || !member && !c.isOper() {
			c.fail("REDACT", "INVALID_TARGET", target, "You are not in "+target)
			return
		}
	} else {
		if s.validNick(target) != nil {
			c.fail("REDACT", "INVALID_TARGET", target, "No such nick or room")
			return
		}
		s.mu.RLock()
		peer = s.nicks[casefold(target)]
		if peer != nil {
			target = peer.nick
		}
		s.mu.RUnlock()
		conv = dmConversation(c.historyName(), s.historyNameOf(target))
	}
	e, found, err := s.findMsgID(conv, msgid)
	if err != nil {
		s.log.Error("find message to redact", "conversation", conv, "err", err)
		c.fail("REDACT", "UNKNOWN_MSGID", target, msgid, "Could not read the history (server error)")
		return
	}
	if _, gone := s.redactedIn(conv)[msgid]; !found || gone || e.Kind == "REDACT" {
		c.fail("REDACT", "UNKNOWN_MSGID", target, msgid, "No message with that id in "+target)
		return
	}
	if !c.isOper() && !op && !c.sentEntry(&e.LogEntry) {
		why := "You can only delete your own messages"
		if room != nil {
			why += " (room operators delete any in their room)"
		}
		c.fail("REDACT", "REDACT_FORBIDDEN", target, msgid, why)
		return
	}
	params := []string{target, msgid}
	if reason != "" {
		params = append(params, reason)
	}
	s.mu.RLock()
	ev := c.eventFrom(Message{Source: c.prefix(), Command: "REDACT", Params: params})
	s.mu.RUnlock()
	if ev.body == nil {
		c.fail("REDACT", "INVALID_PARAMS", target, msgid, "The reason is too long")
		return
	}
	if err := s.logRedaction(conv, ev, c.nick, target, msgid, reason); err != nil {
		c.fail("REDACT", "MESSAGE_ERROR", target, msgid, "The message was not deleted: "+diskProblem(err))
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var to []*Session
	if room != nil {
		r := s.rooms[casefold(target)]
		if r == room {
			for mem := range room.members {
				to = append(to, mem)
			}
		}
	} else if u := s.nicks[casefold(target)]; u != nil {
		to = append(to, u.sessions...)
	}
	sentSelf := false
	for _, own := range c.ownSessionsLocked() {
		if own != c && !containsSession(to, own) {
			to = append(to, own)
		}
	}
	for _, r := range to {
		if r.caps&capRedaction == 0 {
			continue
		}
		if r == c {
			sentSelf = true
		}
		r.sendFrom(c, ev.bytesFor(r.caps))
	}
	if !sentSelf && c.caps&capRedaction != 0 {
		c.sendOwn(ev.bytesFor(c.caps))
	}
}

func containsSession(list []*Session, c *Session) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

// sentEntry reports whether c sent a logged message: the same account, or for a guest the
// same nick, no account, and sent while this connection was up (another guest may have had
// the nick before). A line written before the log kept the account (fb35a54 and earlier)
// has only the nick: it is the account's when the nick is the account's name, which is the
// nick an account logs in with.
func (c *Session) sentEntry(e *LogEntry) bool {
	if c.account != "" {
		if e.Tags == nil {
			return casefold(e.From) == casefold(c.account)
		}
		return strings.EqualFold(e.Tags["account"], c.account)
	}
	return e.Tags["account"] == "" && casefold(e.From) == casefold(c.nick) && !e.Time.Before(c.connectedAt.Truncate(time.Millisecond))
}

// logRedaction appends the REDACT line and marks the msgid redacted, under redactions.mu
// (see the lock order above).
func (s *Server) logRedaction(conv string, ev *outMsg, from, target, msgid, reason string) error {
	s.redactedIn(conv) // loaded before the line exists, so the load does not race with it
	r := &s.redacted
	r.mu.Lock()
	defer r.mu.Unlock()
	text := msgid
	if reason != "" {
		text += " " + reason
	}
	e := LogEntry{Time: ev.at, MsgID: ev.msgid, Kind: "REDACT", From: from, To: target, Text: text, Tags: logTags(ev)}
	if err := s.history.Append(conv, &e); err != nil {
		s.logDiskError("history write failed; a REDACT was refused", err)
		return err
	}
	old := r.sets[conv]
	set := make(map[string]struct{}, len(old)+1)
	for id := range old {
		set[id] = struct{}{}
	}
	set[msgid] = struct{}{}
	r.sets[conv] = set
	return nil
}
