package main

// What follows the account into the terminal: display names and read state.
//
// Display names (张三, Zoë) come from the realname the server keeps for an account
// (extended-join, SETNAME, WHO, WHOIS). The prompt shows them beside the nick, "mei (Zoë)",
// since the nick is what /msg and /query take. Plain --follow output keeps the nick alone, so
// scripts that grep "<mei>" keep working; --json adds a "name" field.
//
// Read state is IRCv3 draft/read-marker (MARKREAD), shared with the browser and every other
// device of the account. The interactive client reports as read what it has shown in the
// active conversation (the prompt's target), what you sent, a conversation you switch to and
// what /read marks; it counts the rest as unread (the prompt says "3 unread", /unread lists
// them) and clears them when another device reads. At login it asks the server which
// conversations moved since their marker and shows their unread part under a "new messages"
// divider; switching to a conversation with unread messages shows them again under the divider.
// Pipelines (--to, --follow) never ask for the capability: a script or a log tail is not a
// person reading, and must not clear the badges on the student's phone.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// markReadDelay coalesces the markers of a burst of messages into one MARKREAD.
	markReadDelay = 300 * time.Millisecond
	// maxUnreadKept bounds the unread messages kept per conversation (beyond, only counted).
	maxUnreadKept = 200
	// maxUnreadShown is how many a divider shows again; /history shows more.
	maxUnreadShown = 20
	// unreadScanDays is how far back login looks for conversations with unread messages.
	unreadScanDays = 30
	// unreadFetchLimit is how many unread messages of one conversation login fetches.
	unreadFetchLimit = 100
)

func init() {
	messageHandlers["SETNAME"] = (*clientSession).onSetname
	messageHandlers["MARKREAD"] = (*clientSession).onMarkread
	messageHandlers["315"] = (*clientSession).onEndOfWho // RPL_ENDOFWHO
	slashCommands = append(slashCommands,
		slashCommand{"unread", "", "conversations with unread messages, newest first", completeNothing, cmdUnread},
		slashCommand{"read", "[NICK|#ROOM|all]", "mark a conversation read on every device (default: all of them)", completeTarget, cmdRead},
		slashCommand{"setname", "NAME", "set your display name, in any script (张三, Zoë); shown beside your nick", completeNothing, cmdSetname},
	)
	// /help lists commands in table order: keep help and quit last.
	slices.SortStableFunc(slashCommands, func(a, b slashCommand) int {
		last := func(c slashCommand) int { return map[string]int{"help": 1, "quit": 2}[c.name] }
		return last(a) - last(b)
	})
}

// ---- display names ----

// noteRealname keeps nick's realname as its display name; one that only repeats the nick
// (what USER sends when there is none) is no display name.
func (cs *clientSession) noteRealname(nick, real string) {
	if nick == "" || strings.ContainsAny(nick, ".*") {
		return
	}
	real = strings.TrimSpace(sanitize(real))
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.realnames == nil {
		cs.realnames = make(map[string]string)
	}
	if real == "" || clientFold(real) == clientFold(nick) {
		delete(cs.realnames, clientFold(nick))
		return
	}
	cs.realnames[clientFold(nick)] = real
}

// displayName is nick's display name, "" when it has none (or none is known).
func (cs *clientSession) displayName(nick string) string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.realnames[clientFold(nick)]
}

// withName is "mei (Zoë)", or the nick alone.
func (cs *clientSession) withName(nick string) string {
	if n := cs.displayName(nick); n != "" {
		return nick + " (" + n + ")"
	}
	return nick
}

// renameRealname moves a display name along with a nick change.
func (cs *clientSession) renameRealname(old, nick string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if n, ok := cs.realnames[clientFold(old)]; ok {
		delete(cs.realnames, clientFold(old))
		cs.realnames[clientFold(nick)] = n
	}
}

// namedKinds are the events whose From is a person, shown with a display name.
var namedKinds = map[eventKind]bool{kindMessage: true, kindNotice: true, kindAction: true, kindJoin: true, kindPart: true,
	kindQuit: true, kindNick: true, kindStatus: true, kindReaction: true, kindRedact: true, kindKick: true}

// who is the event's sender as shown: "mei (Zoë)" with a display name.
func (ev chatEvent) who() string {
	if ev.Name == "" {
		return ev.From
	}
	return ev.From + " (" + ev.Name + ")"
}

// onSetname: someone (or we) changed the display name (IRCv3 setname).
func (cs *clientSession) onSetname(m *Message, raw bool) {
	nick, real := nickOf(m.Source), m.Param(0)
	cs.noteRealname(nick, real)
	shown := cs.displayName(nick)
	var text string
	switch self := cs.isSelf(nick); {
	case self && shown == "":
		text = "you have no display name now"
	case self:
		text = "your display name is now " + shown
	case shown == "":
		text = nick + " has no display name now"
	default:
		text = nick + "'s display name is now " + shown
	}
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindInfo, Text: text})
}

func cmdSetname(cs *clientSession, args string) error {
	if args == "" {
		c, _ := findSlashCommand("setname")
		cs.complain("usage: /" + c.name + " " + c.args)
		return nil
	}
	return cs.sendCmd("SETNAME", args) // the server's SETNAME (or its FAIL) says what happened
}

// quietWho asks WHO for a room without showing the answer: its members' display names.
func (cs *clientSession) quietWho(room string) {
	cs.mu.Lock()
	if cs.quietWhos == nil {
		cs.quietWhos = make(map[string]int)
	}
	cs.quietWhos[clientFold(room)]++
	cs.mu.Unlock()
	if cs.sendCmd("WHO", room) != nil {
		cs.mu.Lock()
		cs.quietWhos[clientFold(room)]--
		cs.mu.Unlock()
	}
}

// isQuietWho reports a WHO reply for a mask asked by quietWho.
func (cs *clientSession) isQuietWho(mask string) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.quietWhos[clientFold(mask)] > 0
}

func (cs *clientSession) onEndOfWho(m *Message, raw bool) {
	cs.mu.Lock()
	if k := clientFold(m.Param(1)); cs.quietWhos[k] > 0 {
		cs.quietWhos[k]--
	}
	cs.mu.Unlock()
}

// whoRealname is the realname of a 352 reply's ":hops realname".
func whoRealname(p string) string {
	if _, real, ok := strings.Cut(p, " "); ok {
		return real
	}
	return ""
}

// describeNames reads a NAMES reply with display names: "@mei (Zoë, operator), tom".
func (cs *clientSession) describeNames(names []string) string {
	if len(names) == 0 {
		return "nobody"
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		nick := strings.TrimLeft(n, "~&@%+")
		var notes []string
		if dn := cs.displayName(nick); dn != "" {
			notes = append(notes, dn)
		}
		switch {
		case strings.HasPrefix(n, "@"):
			notes = append(notes, "operator")
		case strings.HasPrefix(n, "+"):
			notes = append(notes, "voice")
		}
		if len(notes) > 0 {
			nick += " (" + strings.Join(notes, ", ") + ")"
		}
		out = append(out, nick)
	}
	return strings.Join(out, ", ")
}

// realnamesSnapshot copies the display names, for tables built under another lock.
func (cs *clientSession) realnamesSnapshot() map[string]string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make(map[string]string, len(cs.realnames))
	for k, v := range cs.realnames {
		out[k] = v
	}
	return out
}

// ---- read markers ----

// convRead is what the client knows of one conversation's read state; guarded by cs.mu.
type convRead struct {
	name   string      // as first seen: a room, or the other person's nick
	marker time.Time   // the account's read marker (the server's, or ours on the way); zero: none
	sent   time.Time   // the newest marker this client sent: its echo is no news
	due    time.Time   // a marker to send at the next flush; zero: none
	unread []chatEvent // messages after the marker, oldest first, at most maxUnreadKept
	more   int         // unread messages beyond those kept
	latest time.Time   // TARGETS at login: the newest message there
}

func (cr *convRead) count() int { return len(cr.unread) + cr.more }

// dropRead forgets the unread messages at or before t.
func (cr *convRead) dropRead(t time.Time) int {
	before := cr.count()
	cr.unread = slices.DeleteFunc(cr.unread, func(ev chatEvent) bool { return !ev.Time.After(t) })
	if len(cr.unread) == 0 {
		cr.more = 0
	}
	return before - cr.count()
}

// readsOn: this session keeps read markers (interactive, and the server has them).
func (cs *clientSession) readsOn() bool {
	return cs.opts.interactive && cs.caps["draft/read-marker"]
}

// convLocked is the read state of a conversation, made on first use; cs.mu must be held.
func (cs *clientSession) convLocked(name string) *convRead {
	if cs.reads == nil {
		cs.reads = make(map[string]*convRead)
	}
	k := clientFold(name)
	cr := cs.reads[k]
	if cr == nil {
		cr = &convRead{name: name}
		cs.reads[k] = cr
	}
	return cr
}

// conversationOf is the conversation an event belongs to.
func conversationOf(ev chatEvent) string {
	if ev.direct && !ev.self {
		return ev.From
	}
	return ev.To
}

// noteShown counts a live message as unread, or as read when it is in the active
// conversation or our own.
func (cs *clientSession) noteShown(ev chatEvent) {
	if !cs.readsOn() || ev.history || (ev.Kind != kindMessage && ev.Kind != kindAction) {
		return
	}
	conv := conversationOf(ev)
	if conv == "" {
		return
	}
	cs.mu.Lock()
	active := clientFold(conv) == clientFold(cs.target) && !cs.offline
	cr := cs.convLocked(conv)
	if !ev.self && !active {
		if ev.Time.After(cr.marker) {
			if len(cr.unread) < maxUnreadKept {
				cr.unread = append(cr.unread, ev)
			} else {
				cr.more++
			}
		}
		cs.mu.Unlock()
		cs.promptChanged()
		return
	}
	cs.markReadLocked(cr, ev.Time)
	cs.mu.Unlock()
}

// markReadLocked moves the marker to t (never back) and sends it at the next flush, which
// coalesces a burst into one MARKREAD. cs.mu must be held.
func (cs *clientSession) markReadLocked(cr *convRead, t time.Time) {
	t = t.UTC().Truncate(time.Millisecond)
	if !t.After(cr.marker) || t.IsZero() {
		return
	}
	cr.marker, cr.due = t, t
	cr.dropRead(t)
	if cs.readFlush == nil {
		cs.readFlush = time.AfterFunc(markReadDelay, cs.flushReads)
	}
}

// flushReads sends the markers due.
func (cs *clientSession) flushReads() {
	cs.mu.Lock()
	cs.readFlush = nil
	type due struct {
		name string
		at   time.Time
	}
	var send []due
	for _, cr := range cs.reads {
		if !cr.due.IsZero() {
			send = append(send, due{cr.name, cr.due})
			cr.sent, cr.due = cr.due, time.Time{}
		}
	}
	cs.mu.Unlock()
	for _, d := range send {
		cs.conn().send("MARKREAD", d.name, "timestamp="+d.at.Format(markreadLayout)) // lost while offline: the next one carries it
	}
	cs.promptChanged()
}

// onMarkread: the account's marker for a conversation, at JOIN, as the answer to ours or
// to a question, or because another device read it.
func (cs *clientSession) onMarkread(m *Message, raw bool) {
	target := m.Param(0)
	t, ok := parseMarkread(m.Param(1))
	cs.mu.Lock()
	cr := cs.convLocked(target)
	cleared, fetch := 0, false
	if ok && t.After(cr.marker) {
		cr.marker = t
		cleared = cr.dropRead(t)
	}
	elsewhere := ok && t.After(cr.sent)
	if !cr.latest.IsZero() {
		// Login's scan: fetch what came after the marker (nothing without one: a
		// conversation never read anywhere is not all unread).
		fetch = !cr.marker.IsZero() && cr.latest.After(cr.marker)
		if fetch {
			cs.unreadFetch[clientFold(target)] = true
		}
		cr.latest = time.Time{}
	}
	marker := cr.marker
	cs.mu.Unlock()
	if fetch {
		cs.sendCmd("CHATHISTORY", "AFTER", target, "timestamp="+marker.Format(markreadLayout), strconv.Itoa(unreadFetchLimit))
	}
	if cleared > 0 && elsewhere && !raw {
		cs.note(fmt.Sprintf("%s: %d unread message(s) read on another device", target, cleared))
	}
	cs.promptChanged()
}

// unreadElsewhereLocked is the number of unread messages outside the active conversation.
func (cs *clientSession) unreadElsewhereLocked() int {
	n := 0
	for k, cr := range cs.reads {
		if k != clientFold(cs.target) {
			n += cr.count()
		}
	}
	return n
}

// enteredConversation is called when the target changes: the conversation's unread
// messages are shown again under the divider and it is read.
func (cs *clientSession) enteredConversation() {
	if !cs.readsOn() {
		return
	}
	cs.mu.Lock()
	if clientFold(cs.target) == cs.entered || cs.offline {
		cs.mu.Unlock()
		return
	}
	cs.entered = clientFold(cs.target)
	cr := cs.reads[cs.entered]
	if cr == nil || cr.count() == 0 {
		cs.mu.Unlock()
		return
	}
	evs, more := slices.Clone(cr.unread), cr.more
	cs.markReadLocked(cr, evs[len(evs)-1].Time)
	cs.mu.Unlock()
	cs.showUnread(cr.name, evs, more)
}

// showUnread prints a conversation's unread messages under the "new messages" divider.
func (cs *clientSession) showUnread(name string, evs []chatEvent, more int) {
	total := len(evs) + more
	if len(evs) > maxUnreadShown {
		more += len(evs) - maxUnreadShown
		evs = evs[len(evs)-maxUnreadShown:]
	}
	cs.note(fmt.Sprintf("---- %d new message(s) in %s ----", total, name))
	if more > 0 {
		cs.note(fmt.Sprintf("(%d earlier not shown: /history %s %d)", more, name, min(total, maxHistoryLines)))
	}
	for _, ev := range evs {
		ev.history = true
		cs.show(false, ev)
	}
}

// scanUnread runs after login: CHATHISTORY TARGETS names the conversations with messages in
// the last unreadScanDays; MARKREAD asks each one's marker; CHATHISTORY AFTER fetches what
// came after it, shown under the divider (onUnreadBatch). Each step's round trip makes sure
// the server has answered the previous one.
func (cs *clientSession) scanUnread() {
	if !cs.readsOn() || !cs.caps["draft/chathistory"] || !cs.caps["batch"] {
		return
	}
	cs.mu.Lock()
	cs.scanning = true
	if cs.unreadFetch == nil {
		cs.unreadFetch = make(map[string]bool)
	}
	cs.mu.Unlock()
	defer func() {
		cs.mu.Lock()
		cs.scanning = false
		cs.mu.Unlock()
	}()
	now := time.Now().UTC()
	if cs.sendCmd("CHATHISTORY", "TARGETS", "timestamp="+now.AddDate(0, 0, -unreadScanDays).Format(wireTimeLayout), "timestamp="+now.Add(24*time.Hour).Format(wireTimeLayout), "100") != nil {
		return
	}
	for _, step := range []string{"unread-targets", "unread-markers", "unread-fetch"} {
		if cs.roundTrip(step) != nil {
			return
		}
	}
	cs.mu.Lock()
	var parts []string
	for _, cr := range cs.sortedUnreadLocked() {
		parts = append(parts, fmt.Sprintf("%s %d", cr.name, cr.count()))
	}
	cs.mu.Unlock()
	if len(parts) > 0 {
		cs.note("unread: " + strings.Join(parts, ", ") + " (/unread lists them, /query or /join opens one, /read marks all read)")
	}
}

// noteScanTarget: a conversation TARGETS named during the login scan; its marker is asked.
func (cs *clientSession) noteScanTarget(target, latest string) bool {
	cs.mu.Lock()
	if !cs.scanning {
		cs.mu.Unlock()
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(latest, "timestamp="))
	if err == nil {
		cs.convLocked(target).latest = t
	}
	cs.mu.Unlock()
	if err == nil {
		cs.sendCmd("MARKREAD", target)
	}
	return true
}

// takeUnreadFetch reports (once) that target's next chathistory batch is its unread part.
func (cs *clientSession) takeUnreadFetch(target string) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	k := clientFold(target)
	if cs.unreadFetch[k] {
		delete(cs.unreadFetch, k)
		return true
	}
	return false
}

// onUnreadBatch ends login's fetch of one conversation's unread part: the messages become its
// unread list (after whatever came live meanwhile) and are shown under the divider; in the
// active conversation they are read once shown.
func (cs *clientSession) onUnreadBatch(b *historyReplay) {
	cs.mu.Lock()
	cr := cs.convLocked(b.target)
	var evs []chatEvent
	for _, ev := range b.shown {
		if !ev.self && ev.Time.After(cr.marker) && (ev.Kind == kindMessage || ev.Kind == kindAction) {
			ev.history = false
			evs = append(evs, ev)
		}
	}
	live := cr.unread
	cr.unread = nil
	for _, ev := range evs {
		if !slices.ContainsFunc(live, func(l chatEvent) bool { return l.Time.Equal(ev.Time) && l.From == ev.From && l.Text == ev.Text }) {
			cr.unread = append(cr.unread, ev)
		}
	}
	cr.unread = append(cr.unread, live...)
	if len(cr.unread) > maxUnreadKept {
		cr.more += len(cr.unread) - maxUnreadKept
		cr.unread = cr.unread[len(cr.unread)-maxUnreadKept:]
	}
	shown, more := slices.Clone(cr.unread), cr.more
	active := clientFold(b.target) == clientFold(cs.target)
	if active && len(shown) > 0 {
		cs.markReadLocked(cr, shown[len(shown)-1].Time)
		cs.entered = clientFold(b.target)
	}
	cs.mu.Unlock()
	if len(shown) > 0 {
		cs.showUnread(cr.name, shown, more)
	}
	cs.promptChanged()
}

// sortedUnreadLocked lists the conversations with unread messages, newest first.
func (cs *clientSession) sortedUnreadLocked() []*convRead {
	var out []*convRead
	for _, cr := range cs.reads {
		if cr.count() > 0 {
			out = append(out, cr)
		}
	}
	slices.SortFunc(out, func(a, b *convRead) int {
		return b.unread[len(b.unread)-1].Time.Compare(a.unread[len(a.unread)-1].Time)
	})
	return out
}

func cmdUnread(cs *clientSession, _ string) error {
	if !cs.readsOn() {
		cs.complain("this server keeps no read markers (no draft/read-marker)")
		return nil
	}
	cs.mu.Lock()
	var lines []string
	for _, cr := range cs.sortedUnreadLocked() {
		last := cr.unread[len(cr.unread)-1]
		lines = append(lines, fmt.Sprintf("  %-20s %3d new, last %s from %s: %s", sanitize(cr.name), cr.count(), last.Time.Local().Format(timeLayout), sanitize(last.who()), quote(last.Text)))
	}
	cs.mu.Unlock()
	if len(lines) == 0 {
		cs.note("nothing unread")
		return nil
	}
	cs.note("unread conversations (/query or /join one to read it):")
	for _, l := range lines {
		cs.note(l)
	}
	return nil
}

func cmdRead(cs *clientSession, args string) error {
	if !cs.readsOn() {
		cs.complain("this server keeps no read markers (no draft/read-marker)")
		return nil
	}
	cs.mu.Lock()
	var marked []string
	for k, cr := range cs.reads {
		if cr.count() == 0 || (args != "" && args != "all" && k != clientFold(args)) {
			continue
		}
		cs.markReadLocked(cr, cr.unread[len(cr.unread)-1].Time)
		marked = append(marked, cr.name)
	}
	cs.mu.Unlock()
	slices.Sort(marked)
	switch {
	case len(marked) > 0:
		cs.note("marked read on every device: " + strings.Join(marked, ", "))
	case args != "" && args != "all":
		cs.note("nothing unread in " + args)
	default:
		cs.note("nothing unread")
	}
	cs.promptChanged()
	return nil
}
