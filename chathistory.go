package main

// Server-side chat history: every relayed room and direct message is appended to the chat
// log (histlog.go) before it is relayed, and IRCv3 draft/chathistory reads it back.
//
// Where: <data>/logs/<conversation>/<YYYY-MM-DD>.log. In DM conversation names a user is
// their account when logged in, and as a guest "~nick.<session id>" (so
// "dm-%7Ecarol%2Ek3x9a1+alice"): a guest's DMs belong to that one connection under that one
// nick. Whoever takes the nick later (another guest, the account carol registered later, the
// same student after a reconnect) names another conversation and reads none of them.
//
// Order: a room's messages are logged under its relayMu, so the log order is the order
// every member saw. A DM is logged just before it is queued for the recipient.
//
// Disk errors: the message is still relayed (a full disk must not silence the lab's chat),
// its sender gets a NOTICE that it was delivered but not saved, and the error is logged (at
// most one log line per historyErrorEvery). History then has a gap; the server log says when
// it began. A write cut short is undone or sealed (histlog.go), so the log stays line by line.
//
// Reading: CHATHISTORY reads day files, newest first and each from its end for LATEST and
// BEFORE, oldest first for AFTER, from a msgid's own line when the reference is one, and
// stops at the requested number of messages (chathistory_max caps it): a page costs about a
// page. A msgid is found in the log's index of the latest msgidIndexMax messages, else by
// searching the day files' bytes for it, newest day first, parsing only lines that hold it.

import (
	"cmp"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// historyErrorEvery spaces out the server log lines about failing history writes.
const historyErrorEvery = time.Minute

// historyName names a user in DM conversations. Callers hold s.mu or are c's processor.
func (c *Session) historyName() string {
	if c.account != "" {
		return c.account
	}
	return "~" + c.nick + "." + c.guestID
}

// logMessage appends a message to its conversation's log; see the file comment for errors.
// The error is for the sender (noteNotSaved); it is logged here.
func (s *Server) logMessage(conversation string, o *outMsg, from string) error {
	if s.history == nil || o.tagOnly && ephemeralTagmsg(o.msg.Tags) {
		return nil
	}
	e := LogEntry{Time: o.at, MsgID: o.msgid, Kind: o.msg.Command, From: from, To: o.msg.Param(0), Text: o.msg.Param(1), Tags: logTags(o)}
	if o.tagOnly {
		e.Text = ""
	}
	err := s.history.Append(conversation, &e)
	if err != nil {
		s.logDiskError("history write failed; messages are relayed but not logged", err)
	}
	return err
}

// ephemeralTagmsg: typing notifications are about now; replaying them would be wrong, so
// they are not logged (the +typing spec: clients MUST NOT replay them). A voice call's
// signalling (+labchat/call: the WebRTC offer, answer and ICE candidates, web/lib/rtc.js)
// is the same: it means nothing once the call is set up, and kilobytes of SDP per call
// would fill the chat logs.
func ephemeralTagmsg(tags map[string]string) bool {
	_, typing := tags["+typing"]
	_, draftTyping := tags["+draft/typing"]
	_, callSignal := tags["+labchat/call"]
	return typing || draftTyping || callSignal
}

// logTags is what of an event's tags the log keeps: its client-only tags (a reply's parent,
// a reaction) and the sender's account (who may redact it, and account-tag on replay).
func logTags(o *outMsg) map[string]string {
	if len(o.msg.Tags) == 0 && o.account == "" {
		return nil
	}
	tags := make(map[string]string, len(o.msg.Tags)+1)
	for k, v := range o.msg.Tags {
		if strings.HasPrefix(k, "+") {
			tags[k] = v
		}
	}
	if o.account != "" {
		tags["account"] = o.account
	}
	return tags
}

// noteNotSaved tells the sender that its message to target went out but is missing from the
// history, so nobody counts on CHATHISTORY for it. A NOTICE rather than FAIL: the message was
// delivered, and every client shows a NOTICE.
func (c *Session) noteNotSaved(target string, err error) {
	c.sendLine(":" + c.s.cfg.Name + " NOTICE " + c.nick + " :Your message to " + target +
		" was sent but NOT saved in the history: " + diskProblem(err))
}

// diskProblem names a write error for users, without the server's paths.
func diskProblem(err error) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return "the server's disk is full"
	case errors.As(err, &errno):
		return "the server cannot write its history log (" + errno.Error() + ")"
	}
	return "the server cannot write its history log"
}

// logDiskError logs err unless one was logged within historyErrorEvery.
func (s *Server) logDiskError(msg string, err error) {
	now := time.Now().UnixNano()
	last := s.diskErrAt.Load()
	if now-last < int64(historyErrorEvery) || !s.diskErrAt.CompareAndSwap(last, now) {
		return
	}
	s.log.Error(msg, "err", err)
}

// ---- CHATHISTORY ----

// histPos orders entries of one conversation: by day file, then by place within it.
type histPos struct {
	day string // file name, YYYY-MM-DD.log
	off int64  // where the line starts in the file
}

func (p histPos) compare(q histPos) int {
	return cmp.Or(strings.Compare(p.day, q.day), cmp.Compare(p.off, q.off))
}

// msgidIndexMax is how many of the latest msgids the server's log indexes (about 100 bytes
// each): clients page back from messages they saw, which are recent.
const msgidIndexMax = 1 << 16

type histEntry struct {
	LogEntry
	pos histPos
}

// histBound is one end of a range. A bound from a msgid compares by position (so equal
// timestamps cannot blur it); one from a timestamp compares by time.
type histBound struct {
	set       bool
	byPos     bool
	pos       histPos
	t         time.Time // millisecond precision, as on the wire
	inclusive bool
}

func boundAt(e *histEntry) histBound {
	return histBound{set: true, byPos: true, pos: e.pos, t: e.Time}
}

// cmpEntry is the sign of e compared with the bound.
func (b histBound) cmpEntry(e *histEntry) int {
	if b.byPos {
		return e.pos.compare(b.pos)
	}
	return e.Time.Truncate(time.Millisecond).Compare(b.t)
}

func (b histBound) below(e *histEntry) bool { // e is past b as a lower bound
	if !b.set {
		return true
	}
	c := b.cmpEntry(e)
	return c > 0 || c == 0 && b.inclusive
}

func (b histBound) above(e *histEntry) bool { // e is before b as an upper bound
	if !b.set {
		return true
	}
	c := b.cmpEntry(e)
	return c < 0 || c == 0 && b.inclusive
}

// dayRange reports whether a day file can hold entries within the bounds.
func dayRange(day string, lo, hi histBound) bool {
	d := strings.TrimSuffix(day, ".log")
	if lo.set && d < lo.dayName() {
		return false
	}
	return !hi.set || d <= hi.dayName()
}

func (b histBound) dayName() string {
	if b.byPos {
		return strings.TrimSuffix(b.pos.day, ".log")
	}
	return b.t.UTC().Format("2006-01-02")
}

// historyDays lists a conversation's day files, oldest first.
func (s *Server) historyDays(conversation string) []string {
	ents, err := os.ReadDir(filepath.Join(s.history.dir, conversation))
	if err != nil {
		return nil
	}
	var days []string
	for _, e := range ents {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".log") && len(n) == len("2006-01-02.log") {
			days = append(days, n)
		}
	}
	slices.Sort(days)
	return days
}

// readDay calls fn for each entry of one day file from byte offset from on, oldest first.
func (s *Server) readDay(conversation, day string, from int64, fn func(*histEntry) error) error {
	err := readLogFileFrom(filepath.Join(s.history.dir, conversation, day), from, func(e LogEntry, off int64) error {
		return fn(&histEntry{LogEntry: e, pos: histPos{day, off}})
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// readDayBackward calls fn for each entry of one day file whose line ends by byte offset end
// (negative: the whole file), newest first.
func (s *Server) readDayBackward(conversation, day string, end int64, fn func(*histEntry) error) error {
	err := readLogFileBackward(filepath.Join(s.history.dir, conversation, day), end, func(e LogEntry, off int64) error {
		return fn(&histEntry{LogEntry: e, pos: histPos{day, off}})
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// errStopScan ends a scan over every day, not just the current one.
var errStopScan = errors.New("stop scanning history")

// scanHistory returns up to limit entries strictly between lo and hi (unless inclusive),
// oldest first: the newest ones of the range if newest, else the oldest ones. A bound at a
// msgid is where reading starts (its line's offset), so no line before it is read; reading
// stops once limit entries are in, or past the other bound when that is a msgid.
// keep, when not nil, says which entries the reader may see (roomhistory.go); the others
// neither appear nor count.
func (s *Server) scanHistory(conversation string, lo, hi histBound, limit int, newest bool, keep func(*histEntry) bool) ([]histEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	days := s.historyDays(conversation)
	days = slices.DeleteFunc(days, func(d string) bool { return !dayRange(d, lo, hi) })
	var out []histEntry
	if !newest {
		for _, day := range days {
			from := int64(0)
			if lo.byPos && lo.pos.day == day {
				from = lo.pos.off
			}
			err := s.readDay(conversation, day, from, func(e *histEntry) error {
				if !hi.above(e) && hi.byPos {
					return errStopScan
				}
				if lo.below(e) && hi.above(e) && (keep == nil || keep(e)) {
					out = append(out, *e)
					if len(out) >= limit {
						return errStopScan
					}
				}
				return nil
			})
			if errors.Is(err, errStopScan) {
				return out, nil
			}
			if err != nil {
				return out, err
			}
		}
		return out, nil
	}
	for _, day := range slices.Backward(days) {
		end := int64(-1)
		if hi.byPos && !hi.inclusive && hi.pos.day == day {
			end = hi.pos.off
		}
		var dayOut []histEntry // newest first
		err := s.readDayBackward(conversation, day, end, func(e *histEntry) error {
			if !lo.below(e) && lo.byPos {
				return errStopScan
			}
			if lo.below(e) && hi.above(e) && (keep == nil || keep(e)) {
				dayOut = append(dayOut, *e)
				if len(out)+len(dayOut) >= limit {
					return errStopScan
				}
			}
			return nil
		})
		slices.Reverse(dayOut)
		out = append(dayOut, out...)
		if errors.Is(err, errStopScan) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// findMsgID finds a message of the conversation by its msgid: in the log's index, else by
// searching the day files, newest first.
func (s *Server) findMsgID(conversation, msgid string) (histEntry, bool, error) {
	if ref, ok := s.history.lookup(msgid); ok && ref.conversation == conversation {
		var found histEntry
		ok := false
		err := s.readDay(conversation, ref.day, ref.off, func(e *histEntry) error {
			found, ok = *e, e.MsgID == msgid && e.pos.off == ref.off
			return errStopLog
		})
		if err != nil || ok {
			return found, ok, err
		}
		// Not where the index says (the file was changed by hand): search.
	}
	for _, day := range slices.Backward(s.historyDays(conversation)) {
		e, off, ok, err := findLogMsgID(filepath.Join(s.history.dir, conversation, day), msgid)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return histEntry{}, false, err
		}
		if ok {
			return histEntry{LogEntry: e, pos: histPos{day, off}}, true, nil
		}
	}
	return histEntry{}, false, nil
}

// chathistoryRequest is one parsed CHATHISTORY command.
type chathistoryRequest struct {
	sub, target  string
	conversation string
	refs         []string // the message references, "*" or msgid=… or timestamp=…
	limit        int
	keep         func(*histEntry) bool // for a room: what this member may read
}

var chathistoryArgs = map[string]int{"LATEST": 1, "BEFORE": 1, "AFTER": 1, "AROUND": 1, "BETWEEN": 2}

func (c *Session) handleChathistory(m *Message) {
	if c.s.history == nil {
		c.reply(ERR_UNKNOWNCOMMAND, "CHATHISTORY", "Unknown command (history is off on this server)")
		return
	}
	sub := strings.ToUpper(m.Params[0])
	if sub == "TARGETS" {
		c.chathistoryTargets(m)
		return
	}
	nrefs, ok := chathistoryArgs[sub]
	if !ok {
		c.fail("CHATHISTORY", "INVALID_PARAMS", sub, "Unknown subcommand: use LATEST, BEFORE, AFTER, AROUND, BETWEEN or TARGETS")
		return
	}
	if len(m.Params) < 3+nrefs {
		c.fail("CHATHISTORY", "NEED_MORE_PARAMS", sub, "Missing parameters: CHATHISTORY "+sub+" <target> "+strings.Repeat("<reference> ", nrefs)+"<limit>")
		return
	}
	req := chathistoryRequest{sub: sub, target: m.Params[1], refs: m.Params[2 : 2+nrefs]}
	limit, err := strconv.Atoi(m.Params[2+nrefs])
	if err != nil || limit < 0 {
		c.fail("CHATHISTORY", "INVALID_PARAMS", sub, "The limit must be a number")
		return
	}
	req.limit = c.historyLimit(limit)
	conv, keep, ok := c.historyConversation(req.target)
	if !ok {
		c.fail("CHATHISTORY", "INVALID_TARGET", sub, req.target, "No such room you are in, or no such nick")
		return
	}
	req.conversation, req.keep = conv, c.historyKeep(conv, keep)
	entries, ok := c.runChathistory(&req)
	if !ok {
		return
	}
	c.sendHistoryBatch("chathistory", req.target, entries)
}

// historyLimit applies chathistory_max; 0 means "as many as allowed".
func (c *Session) historyLimit(limit int) int {
	if limit == 0 || limit > c.s.cfg.ChathistoryMax {
		return c.s.cfg.ChathistoryMax
	}
	return limit
}

// historyConversation is the conversation a CHATHISTORY target names for c: a room c is in
// and not banned from, with what of it c may read (roomhistory.go), or c's own DMs with that
// nick. No other conversation can be named, which is the access rule: a third user asking
// for alice's DMs gets his own (empty) ones.
func (c *Session) historyConversation(target string) (string, func(*histEntry) bool, bool) {
	s := c.s
	if strings.HasPrefix(target, "#") {
		s.mu.RLock()
		defer s.mu.RUnlock()
		r, ok := s.rooms[casefold(target)]
		if !ok {
			return "", nil, false
		}
		if _, member := r.members[c]; !member || r.bannedLocked(c) {
			return "", nil, false
		}
		return r.logName, r.historyFilterLocked(c), true
	}
	if s.validNick(target) != nil {
		return "", nil, false
	}
	return dmConversation(c.historyName(), s.historyNameOf(target)), nil, true
}

// historyNameOf names a nick for DM history: whoever holds it now, else the account of that
// name, else a guest without a session (which no guest's DMs are filed under).
func (s *Server) historyNameOf(nick string) string {
	s.mu.RLock()
	if u := s.nicks[casefold(nick)]; u != nil {
		defer s.mu.RUnlock()
		return u.first().historyName()
	}
	s.mu.RUnlock()
	if name := s.accountOwning(nick); name != "" {
		return name
	}
	return "~" + nick
}

// runChathistory resolves the references and reads the entries, or sends the FAIL.
func (c *Session) runChathistory(req *chathistoryRequest) ([]histEntry, bool) {
	s := c.s
	var bounds [2]histBound
	for i, ref := range req.refs {
		b, found, err := s.resolveRef(req.conversation, ref, req.sub == "LATEST")
		if err != nil {
			c.fail("CHATHISTORY", "INVALID_PARAMS", req.sub, ref, "Bad message reference: use *, msgid=<id> or timestamp=<RFC 3339 time>")
			return nil, false
		}
		if !found {
			return nil, true // an unknown msgid: nothing is around it
		}
		bounds[i] = b
	}
	var entries []histEntry
	var err error
	switch req.sub {
	case "LATEST":
		entries, err = s.scanHistory(req.conversation, bounds[0], histBound{}, req.limit, true, req.keep)
	case "BEFORE":
		entries, err = s.scanHistory(req.conversation, histBound{}, bounds[0], req.limit, true, req.keep)
	case "AFTER":
		entries, err = s.scanHistory(req.conversation, bounds[0], histBound{}, req.limit, false, req.keep)
	case "BETWEEN":
		entries, err = s.between(req.conversation, bounds[0], bounds[1], req.limit, req.keep)
	case "AROUND":
		entries, err = s.around(req.conversation, bounds[0], req.limit, req.keep)
	}
	if err != nil {
		s.log.Error("read history", "conversation", req.conversation, "err", err)
		c.fail("CHATHISTORY", "MESSAGE_ERROR", req.sub, req.target, "Could not read the history (server error)")
		return nil, false
	}
	return entries, true
}

// between reads the range from a to b; when a is the later one, the newest messages of the
// range are the ones kept, as the spec reads "from a towards b".
func (s *Server) between(conv string, a, b histBound, limit int, keep func(*histEntry) bool) ([]histEntry, error) {
	if a.t.After(b.t) || a.t.Equal(b.t) && a.byPos && b.byPos && a.pos.compare(b.pos) > 0 {
		return s.scanHistory(conv, b, a, limit, true, keep)
	}
	return s.scanHistory(conv, a, b, limit, false, keep)
}

// around returns limit messages centred on the reference, the referenced one included.
func (s *Server) around(conv string, ref histBound, limit int, keep func(*histEntry) bool) ([]histEntry, error) {
	before, err := s.scanHistory(conv, histBound{}, ref, (limit-1)/2, true, keep)
	if err != nil {
		return nil, err
	}
	ref.inclusive = true
	after, err := s.scanHistory(conv, ref, histBound{}, limit-len(before), false, keep)
	return append(before, after...), err
}

// resolveRef parses a message reference; "*" is an unset bound where allowStar. found is
// false for a msgid that is not in the conversation.
func (s *Server) resolveRef(conv, ref string, allowStar bool) (b histBound, found bool, err error) {
	errBadRef := errors.New("bad message reference")
	key, val, _ := strings.Cut(ref, "=")
	switch {
	case ref == "*" && allowStar:
		return histBound{}, true, nil
	case key == "timestamp":
		t, err := time.Parse(time.RFC3339Nano, val)
		if err != nil {
			return b, false, errBadRef
		}
		return histBound{set: true, t: t.UTC().Truncate(time.Millisecond)}, true, nil
	case key == "msgid" && val != "":
		e, ok, err := s.findMsgID(conv, val)
		if err != nil || !ok {
			return b, false, err
		}
		return boundAt(&e), true, nil
	}
	return b, false, errBadRef
}

// sendHistoryBatch replays entries as messages, in a batch when the client supports it.
func (c *Session) sendHistoryBatch(kind, target string, entries []histEntry) {
	batch := c.openBatch(kind, target)
	for i := range entries {
		e := &entries[i].LogEntry
		if !historyKind(e.Kind, c.caps) {
			continue
		}
		m := historyMessage(e, c.caps, batch)
		if b := encodeHistory(m, c.caps); b != nil {
			c.sendOwn(b)
		}
	}
	c.closeBatch(batch)
}

// historyKind reports whether a client with these caps is sent logged events of this kind.
func historyKind(kind string, caps capSet) bool {
	switch kind {
	case "PRIVMSG", "NOTICE":
		return true
	case "TAGMSG", "TOPIC":
		return caps&capEventPlayback != 0
	}
	return false
}

// openBatch starts a batch for a client with the batch cap and returns its id ("" if none).
func (c *Session) openBatch(params ...string) string {
	if c.caps&capBatch == 0 {
		return ""
	}
	id := newMsgID()
	c.sendMsg(&Message{Source: c.s.cfg.Name, Command: "BATCH", Params: append([]string{"+" + id}, params...)})
	return id
}

func (c *Session) closeBatch(id string) {
	if id != "" {
		c.sendMsg(&Message{Source: c.s.cfg.Name, Command: "BATCH", Params: []string{"-" + id}})
	}
}

const wireTimeLayout = "2006-01-02T15:04:05.000Z"

// historyMessage rebuilds a logged message for a client: its original time as a server-time
// tag, or for a client without server-time as a "[2026-11-24 21:00 UTC] " text prefix (inside
// a CTCP ACTION, so /me still works).
func historyMessage(e *LogEntry, caps capSet, batch string) Message {
	tags := make(map[string]string, 3)
	text := e.Text
	if batch != "" {
		tags["batch"] = batch
	}
	if caps&capServerTime != 0 {
		tags["time"] = e.Time.UTC().Format(wireTimeLayout)
	} else {
		stamp := "[" + e.Time.UTC().Format("2006-01-02 15:04 UTC") + "] "
		if rest, ok := strings.CutPrefix(text, "\x01ACTION "); ok {
			text = "\x01ACTION " + stamp + rest
		} else {
			text = stamp + text
		}
	}
	if caps&capMessageTags != 0 && e.MsgID != "" {
		tags["msgid"] = e.MsgID
	}
	for k, v := range e.Tags {
		switch {
		case strings.HasPrefix(k, "+") && caps&capMessageTags != 0:
			tags[k] = v
		case k == "account" && caps&capAccountTag != 0:
			tags[k] = v
		}
	}
	if e.Kind == "TAGMSG" {
		return Message{Tags: tags, Source: e.From, Command: e.Kind, Params: []string{e.To}}
	}
	return Message{Tags: tags, Source: e.From, Command: e.Kind, Params: []string{e.To, text}}
}

// ---- CHATHISTORY TARGETS ----

type historyTarget struct {
	name   string
	latest time.Time
}

// chathistoryTargets lists the conversations c may read whose latest message lies strictly
// between two timestamps, oldest first.
func (c *Session) chathistoryTargets(m *Message) {
	if len(m.Params) < 4 {
		c.fail("CHATHISTORY", "NEED_MORE_PARAMS", "TARGETS", "Missing parameters: CHATHISTORY TARGETS <timestamp> <timestamp> <limit>")
		return
	}
	var bounds [2]histBound
	for i, ref := range m.Params[1:3] {
		// Timestamps only (the spec: "they MUST be timestamps and not msgids"): a msgid
		// names a message of one conversation, and TARGETS spans them all.
		if !strings.HasPrefix(ref, "timestamp=") {
			c.fail("CHATHISTORY", "INVALID_PARAMS", "TARGETS", ref, "TARGETS takes two timestamp=<RFC 3339 time> references, not msgids")
			return
		}
		b, _, err := c.s.resolveRef("", ref, false)
		if err != nil || b.byPos {
			c.fail("CHATHISTORY", "INVALID_PARAMS", "TARGETS", ref, "TARGETS takes two timestamp=<RFC 3339 time> references")
			return
		}
		bounds[i] = b
	}
	limit, err := strconv.Atoi(m.Params[3])
	if err != nil || limit < 0 {
		c.fail("CHATHISTORY", "INVALID_PARAMS", "TARGETS", "The limit must be a number")
		return
	}
	lo, hi := bounds[0].t, bounds[1].t
	if lo.After(hi) {
		lo, hi = hi, lo
	}
	var targets []historyTarget
	for name, conv := range c.historyConversations() {
		if t, ok := c.latestVisible(name, conv); ok && t.After(lo) && t.Before(hi) {
			targets = append(targets, historyTarget{name, t})
		}
	}
	slices.SortFunc(targets, func(a, b historyTarget) int {
		return cmp.Or(a.latest.Compare(b.latest), strings.Compare(a.name, b.name))
	})
	targets = targets[:min(len(targets), c.historyLimit(limit))]
	batch := c.openBatch("draft/chathistory-targets")
	for _, t := range targets {
		msg := Message{Source: c.s.cfg.Name, Command: "CHATHISTORY", Params: []string{"TARGETS", t.name, t.latest.UTC().Format(wireTimeLayout)}}
		if batch != "" {
			msg.Tags = map[string]string{"batch": batch}
		}
		c.sendMsg(&msg)
	}
	c.closeBatch(batch)
}

// historyConversations maps display names to the conversations c may read: the rooms it
// is in, and every DM conversation of its own.
func (c *Session) historyConversations() map[string]string {
	s := c.s
	out := make(map[string]string)
	s.mu.RLock()
	for r := range c.rooms {
		out[r.name] = roomConversation(r.name)
	}
	s.mu.RUnlock()
	self := escapePathName(casefold(c.historyName()))
	ents, _ := os.ReadDir(s.history.dir)
	for _, e := range ents {
		pair, ok := strings.CutPrefix(e.Name(), "dm-")
		a, b, ok2 := strings.Cut(pair, "+")
		if !ok || !ok2 || !e.IsDir() {
			continue
		}
		peer := ""
		switch self {
		case a:
			peer = displayPeer(b)
		case b:
			peer = displayPeer(a)
		default:
			continue
		}
		// Only what CHATHISTORY <peer> would read: a guest's past sessions are not listed
		// under the nick someone else may hold now.
		if dmConversation(c.historyName(), s.historyNameOf(peer)) == e.Name() {
			out[peer] = e.Name()
		}
	}
	return out
}

// displayPeer turns an escaped DM party back into a nick to query with.
func displayPeer(escaped string) string {
	var b strings.Builder
	for i := 0; i < len(escaped); i++ {
		if escaped[i] == '%' && i+2 < len(escaped) {
			if v, err := strconv.ParseUint(escaped[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(escaped[i])
	}
	name, guest := strings.CutPrefix(b.String(), "~")
	if guest {
		name, _, _ = strings.Cut(name, ".") // the session id; a nick holds no '.'
	}
	return name
}

// latestVisible is the time of the last message of a conversation that c may read: for a
// room, the last one the visibility rule lets through.
func (c *Session) latestVisible(name, conv string) (time.Time, bool) {
	if !strings.HasPrefix(name, "#") {
		return c.s.latestInConversation(conv)
	}
	_, keep, ok := c.historyConversation(name)
	if !ok {
		return time.Time{}, false
	}
	last, err := c.s.scanHistory(conv, histBound{}, histBound{}, 1, true, keep)
	if err != nil || len(last) == 0 {
		return time.Time{}, false
	}
	return last[0].Time.Truncate(time.Millisecond), true
}

// latestInConversation is the time of a conversation's last message.
func (s *Server) latestInConversation(conv string) (time.Time, bool) {
	for _, day := range slices.Backward(s.historyDays(conv)) {
		var last time.Time
		s.readDayBackward(conv, day, -1, func(e *histEntry) error {
			last = e.Time.Truncate(time.Millisecond)
			return errStopLog
		})
		if !last.IsZero() {
			return last, true
		}
	}
	return time.Time{}, false
}
