package main

// What the client knows of other users' presence, and the commands around it: /who (a
// table of users: online, away or offline, since when, away message), /away, /back and
// /contacts. Status changes come from the server as pushes: AWAY (away-notify, for room
// peers, and extended-monitor) and MONITOR's 730/731 for the user's contacts and recent
// conversation partners, which the client watches so they show as offline too: contacts in
// the MONITOR list (the account's, on the server), partners in labchat's unsaved one
// (@labchat/unsaved MONITOR), which does not make them contacts. Both lists live in the
// client data dir too: contacts (kept by /contacts) and partners (most recent first).

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	kindStatus eventKind = "status" // someone came online, went away, came back or left
	kindCall   eventKind = "call"   // a call rang, was answered, declined, missed (client_calls.go)

	// maxPartners is how many recent conversation partners the client remembers and watches.
	maxPartners = 20
	// maxContacts bounds the contacts file, as a MONITOR list is bounded too.
	maxContacts = 200
)

// Status states, the "state" field of --json status events.
const (
	stateOnline  = "online"
	stateAway    = "away"
	stateBack    = "back" // an event only: the user is online again after being away
	stateOffline = "offline"
)

func init() {
	eventFormats[kindStatus] = formatStatus
	eventFormats[kindCall] = func(ev chatEvent) string { return "[call] " + ev.Text }
	for cmd, h := range map[string]func(cs *clientSession, m *Message, raw bool){
		"AWAY": (*clientSession).onAway,
		"730":  (*clientSession).onMonOnline,  // RPL_MONONLINE
		"731":  (*clientSession).onMonOffline, // RPL_MONOFFLINE
		"301":  (*clientSession).onAwayReply,  // RPL_AWAY
		"305":  (*clientSession).onOwnAway,    // RPL_UNAWAY
		"306":  (*clientSession).onOwnAway,    // RPL_NOWAWAY
		"352":  (*clientSession).onWhoReply,   // RPL_WHOREPLY
		"401":  (*clientSession).onNoSuchNick, // ERR_NOSUCHNICK: a call to someone offline
		"732":  (*clientSession).onMonList,    // RPL_MONLIST: the account's saved contacts
		"733":  (*clientSession).onEndOfMonList,
	} {
		messageHandlers[cmd] = h
	}
}

func formatStatus(ev chatEvent) string {
	switch ev.State {
	case stateOnline:
		return ev.From + " is online"
	case stateAway:
		return ev.From + " is away: " + ev.Text
	case stateBack:
		return ev.From + " is back"
	}
	return ev.From + " went offline"
}

// userStatus is what the client knows of one user.
type userStatus struct {
	nick  string
	state string    // stateOnline, stateAway, stateOffline; "" not known
	since time.Time // when it changed to state; zero when the change was not seen
	away  string
}

// presenceBook is the client's presence state. mu is a leaf lock: nothing else is taken
// while it is held, and no I/O happens under it.
type presenceBook struct {
	dataDir string

	mu         sync.Mutex
	users      map[string]*userStatus // clientFold(nick) →
	contacts   []string
	partners   []string // most recent first
	monList    []string // 732 lines being collected until 733
	fromServer bool     // the server sent the account's contacts: they win over the file
	monitorOK  bool     // the server has MONITOR (ISUPPORT)
	monLimit   int      // its limit; 0 none
	watched    map[string]bool
	peeked     map[string]bool   // partners in the unsaved watch list (@labchat/unsaved MONITOR)
	snapshot   bool              // initial MONITOR answers: record, do not announce
	whoRows    map[string]string // during /who: the nicks WHO * listed, folded → spelling; nil otherwise
	active     bool              // presence is tracked (interactive or --follow)
	myAway     string
	partnerErr bool // a failed partners write was reported once
}

func newPresenceBook(dataDir string) *presenceBook {
	return &presenceBook{dataDir: dataDir, users: map[string]*userStatus{}, watched: map[string]bool{}, peeked: map[string]bool{}}
}

// noteISupport reads MONITOR[=limit] from RPL_ISUPPORT.
func (pb *presenceBook) noteISupport(tok string) {
	name, value, _ := strings.Cut(tok, "=")
	if name != "MONITOR" {
		return
	}
	pb.mu.Lock()
	defer pb.mu.Unlock()
	pb.monitorOK = true
	pb.monLimit, _ = strconv.Atoi(value)
}

// update records a state seen at time at and returns the event to show, if it is news.
// A state first learned (from a snapshot, or with nothing known before) is not news.
func (pb *presenceBook) update(nick, state, away string, at time.Time) (chatEvent, bool) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	u := pb.users[clientFold(nick)]
	if u == nil {
		u = &userStatus{}
		pb.users[clientFold(nick)] = u
	}
	u.nick = nick
	prev := u.state
	if prev == state && u.away == away {
		return chatEvent{}, false
	}
	u.state, u.away = state, away
	u.since = at
	if prev == "" || pb.snapshot {
		u.since = time.Time{} // the change itself was not seen
		return chatEvent{}, false
	}
	ev := chatEvent{Time: at, Kind: kindStatus, From: nick, State: state, Text: away}
	if state == stateOnline && prev == stateAway {
		ev.State = stateBack
	}
	return ev, true
}

func (pb *presenceBook) state(nick string) string {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if u := pb.users[clientFold(nick)]; u != nil {
		return u.state
	}
	return ""
}

func (cs *clientSession) setStatus(m *Message, raw bool, nick, state, away string) {
	if nick == "" || cs.isSelf(nick) {
		return
	}
	if ev, news := cs.presence.update(nick, state, away, msgTime(m)); news {
		cs.show(raw, ev)
		if s, ok := cs.sink.(interface{ contactOnline(string) }); ok && !raw && state == stateOnline && ev.State == stateOnline && cs.presence.isContact(nick) {
			s.contactOnline(nick)
		}
	}
}

func (pb *presenceBook) isContact(name string) bool {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return slices.ContainsFunc(pb.contacts, func(p string) bool { return clientFold(p) == clientFold(name) })
}

// onAway is an away-notify push: ":nick!u@h AWAY :message", or "AWAY" alone when back.
func (cs *clientSession) onAway(m *Message, raw bool) {
	if msg := m.Param(0); msg != "" {
		cs.setStatus(m, raw, nickOf(m.Source), stateAway, msg)
	} else {
		cs.setStatus(m, raw, nickOf(m.Source), stateOnline, "")
	}
}

// onMonOnline: "730 me :nick!u@h[,nick!u@h...]". Someone known to be away stays away.
func (cs *clientSession) onMonOnline(m *Message, raw bool) {
	for who := range strings.SplitSeq(m.Param(len(m.Params)-1), ",") {
		nick := nickOf(who)
		if nick == "" {
			nick = who
		}
		if st := cs.presence.state(nick); st == stateAway || st == stateOnline {
			continue
		}
		cs.setStatus(m, raw, nick, stateOnline, "")
	}
}

func (cs *clientSession) onMonOffline(m *Message, raw bool) {
	for nick := range strings.SplitSeq(m.Param(len(m.Params)-1), ",") {
		cs.setStatus(m, raw, nick, stateOffline, "")
	}
}

// onAwayReply: "301 me nick :message", the answer to a message (or WHOIS) to someone away.
func (cs *clientSession) onAwayReply(m *Message, raw bool) {
	nick, msg := m.Param(1), m.Param(2)
	cs.presence.update(nick, stateAway, msg, msgTime(m))
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindInfo, Text: nick + " is away: " + msg})
}

func (cs *clientSession) onOwnAway(m *Message, raw bool) {
	text := "you are marked as away"
	if msg := cs.presence.ownAway(); msg != "" {
		text += ": " + msg
	}
	if m.Command == RPL_UNAWAY {
		text = "you are back (no longer marked as away)"
	}
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindInfo, Text: text})
}

// renamed notes a nick change: the old nick leaving MONITOR's view (731) is not someone
// going offline, and the new nick is as present as the old one was.
func (pb *presenceBook) renamed(old, nick string) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	u := pb.users[clientFold(old)]
	if u == nil {
		return
	}
	moved := *u
	moved.nick = nick
	pb.users[clientFold(nick)] = &moved
	u.state, u.since = stateOffline, time.Time{}
}

func (pb *presenceBook) ownAway() string {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return pb.myAway
}

// onWhoReply collects "352 me chan user host server nick flags :hops real" during /who.
func (cs *clientSession) onWhoReply(m *Message, raw bool) {
	pb := cs.presence
	cs.noteRealname(m.Param(5), whoRealname(m.Param(7)))
	self := cs.isSelf(m.Param(5))
	pb.mu.Lock()
	collecting := pb.whoRows != nil
	if collecting && !self {
		pb.whoRows[clientFold(m.Param(5))] = m.Param(5)
	}
	pb.mu.Unlock()
	if !collecting {
		if !raw && !cs.isQuietWho(m.Param(1)) {
			cs.onOther(m)
		}
		return
	}
	nick, away := m.Param(5), strings.HasPrefix(m.Param(6), "G")
	if self {
		return
	}
	switch st := pb.state(nick); {
	case away && st != stateAway:
		pb.update(nick, stateAway, "", msgTime(m)) // the message is not in WHO; shown as (unknown)
	case !away && st != stateOnline:
		pb.update(nick, stateOnline, "", msgTime(m))
	}
}

// ---- startup: what to watch ----

// startPresence loads contacts and partners and MONITORs them, so they show as offline too.
// The first answers describe the present, not changes: they are recorded silently.
func (cs *clientSession) startPresence() error {
	pb := cs.presence
	if !cs.opts.interactive && !cs.opts.follow {
		return nil
	}
	contacts, err := readNameList(pb.path("contacts"))
	if err != nil {
		cs.complain(err.Error())
	}
	partners, err := readNameList(pb.path("partners"))
	if err != nil {
		cs.complain(err.Error())
	}
	pb.mu.Lock()
	if pb.fromServer {
		contacts = pb.contacts // the account's list, kept by the server for every device
	}
	pb.active, pb.contacts, pb.partners = true, contacts, partners
	pb.snapshot = pb.monitorOK
	pb.mu.Unlock()
	// Only contacts are MONITORed: the server keeps an account's MONITOR list as its
	// contacts on every device (the browser's too), so partners must not land in it.
	if err := cs.monitorAdd(contacts...); err != nil {
		return err
	}
	if err := cs.watchPartners(partners, nil); err != nil {
		return err
	}
	// The round trip also lets the server's auto-join (a default room) arrive first, so
	// the first prompt shows it as the target.
	err = cs.roundTrip("presence")
	pb.mu.Lock()
	pb.snapshot = false
	pb.mu.Unlock()
	cs.settled()
	return err
}

func (pb *presenceBook) path(name string) string { return filepath.Join(pb.dataDir, name) }

// monitorAdd MONITORs the nicks not yet watched, within the server's limit, in lines that
// fit 512 bytes.
func (cs *clientSession) monitorAdd(nicks ...string) error {
	pb := cs.presence
	pb.mu.Lock()
	var add []string
	for _, n := range nicks {
		if pb.monitorOK && !pb.watched[clientFold(n)] && (pb.monLimit == 0 || len(pb.watched) < pb.monLimit) {
			pb.watched[clientFold(n)] = true
			add = append(add, n)
		}
	}
	pb.mu.Unlock()
	for len(add) > 0 {
		n, size := 0, 0
		for n < len(add) && size+len(add[n])+1 < 400 {
			size += len(add[n]) + 1
			n++
		}
		if err := cs.sendCmd("MONITOR", "+", strings.Join(add[:n], ",")); err != nil {
			return err
		}
		add = add[n:]
	}
	return nil
}

// watchPartners adds nicks to this connection's unsaved watch list and takes drop off it.
// The labchat/unsaved tag needs message-tags; without it nothing is sent, since a plain
// MONITOR would make every partner a contact of the account.
func (cs *clientSession) watchPartners(nicks, drop []string) error {
	pb := cs.presence
	if !cs.caps["message-tags"] {
		return nil
	}
	pb.mu.Lock()
	var add, del []string
	for _, n := range nicks {
		if pb.monitorOK && !pb.peeked[clientFold(n)] && len(pb.peeked) < maxPartners {
			pb.peeked[clientFold(n)] = true
			add = append(add, n)
		}
	}
	for _, n := range drop {
		if pb.peeked[clientFold(n)] {
			delete(pb.peeked, clientFold(n))
			del = append(del, n)
		}
	}
	pb.mu.Unlock()
	tags := map[string]string{unsavedMonitorTag: ""}
	for op, list := range map[string][]string{"+": add, "-": del} {
		if len(list) == 0 {
			continue
		}
		m := Message{Tags: tags, Command: "MONITOR", Params: []string{op, strings.Join(list, ",")}}
		if err := cs.conn().sendMsg(&m); err != nil {
			return withExit(exitProtocol, err)
		}
	}
	return nil
}

func (cs *clientSession) monitorRemove(nick string) error {
	pb := cs.presence
	pb.mu.Lock()
	watched := pb.watched[clientFold(nick)]
	delete(pb.watched, clientFold(nick))
	pb.mu.Unlock()
	if !watched {
		return nil
	}
	return cs.sendCmd("MONITOR", "-", nick)
}

// notePartner remembers nick as the latest conversation partner (direct messages, calls)
// and watches it.
func (cs *clientSession) notePartner(nick string) {
	pb := cs.presence
	if nick == "" || cs.isRoom(nick) || !validNickName(nick) || cs.isSelf(nick) {
		return
	}
	pb.mu.Lock()
	if !pb.active || (len(pb.partners) > 0 && clientFold(pb.partners[0]) == clientFold(nick)) {
		pb.mu.Unlock()
		return
	}
	pb.partners = slices.DeleteFunc(pb.partners, func(p string) bool { return clientFold(p) == clientFold(nick) })
	pb.partners = slices.Insert(pb.partners, 0, nick)
	var dropped []string
	if len(pb.partners) > maxPartners {
		dropped = slices.Clone(pb.partners[maxPartners:])
		pb.partners = pb.partners[:maxPartners]
	}
	list := slices.Clone(pb.partners)
	pb.mu.Unlock()
	if err := cs.watchPartners([]string{nick}, dropped); err != nil {
		return
	}
	if err := writeNameList(pb.path("partners"), "Recent conversation partners, most recent first (written by labchat).", list); err != nil && !pb.reportedPartnerError() {
		cs.complain(err.Error())
	}
}

func (pb *presenceBook) reportedPartnerError() bool {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	was := pb.partnerErr
	pb.partnerErr = true
	return was
}

// ---- name list files ----

// validNickName accepts what IRC servers accept as a nick: a letter or one of []\`_^{|},
// then those, digits and '-'; at most 30 bytes. Names become file lines and IRC parameters.
func validNickName(nick string) bool {
	if nick == "" || len(nick) > 30 {
		return false
	}
	for i := 0; i < len(nick); i++ {
		c := nick[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("[]\\`_^{|}", c) >= 0
		if !letter && (i == 0 || !(isDigit(c) || c == '-')) {
			return false
		}
	}
	return true
}

// readNameList reads one name a line; '#' starts a comment. A missing file is an empty
// list; an invalid name is an error naming the file and line.
func readNameList(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var names []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !validNickName(line) {
			return names, fmt.Errorf("%s line %d: %q is not a nick", path, i+1, line)
		}
		names = append(names, line)
	}
	return names, nil
}

func writeNameList(path, comment string, names []string) error {
	var b strings.Builder
	b.WriteString("# " + comment + "\n")
	for _, n := range names {
		b.WriteString(n + "\n")
	}
	return saveClientFile(path, []byte(b.String()), 0o600)
}

// ---- commands ----

func cmdAway(cs *clientSession, args string) error {
	if args == "" {
		args = "away"
	}
	cs.presence.mu.Lock()
	cs.presence.myAway = args
	cs.presence.mu.Unlock()
	return cs.sendCmd("AWAY", args)
}

func cmdBack(cs *clientSession, _ string) error { return cs.sendCmd("AWAY") }

// cmdContacts: /contacts, /contacts add NAME, /contacts del NAME.
func cmdContacts(cs *clientSession, args string) error {
	verb, name, _ := strings.Cut(args, " ")
	name = strings.TrimSpace(name)
	pb := cs.presence
	switch {
	case verb == "":
		pb.mu.Lock()
		list := slices.Clone(pb.contacts)
		pb.mu.Unlock()
		if len(list) == 0 {
			cs.note("no contacts yet: /contacts add NAME")
		} else {
			for i, n := range list {
				list[i] = cs.withName(n) // mei (Zoë)
			}
			cs.note("contacts: " + strings.Join(list, ", ") + " (/who shows their status)")
		}
		return nil
	case (verb != "add" && verb != "del") || !validNickName(name):
		cs.complain("usage: /contacts [add|del NAME] (NAME is a nick: letters, digits, -_[]\\`^{|})")
		return nil
	}
	list, changed := pb.changeContacts(verb == "add", name)
	if !changed {
		if verb == "add" {
			cs.note(name + " is already a contact (or the list is full)")
		} else {
			cs.note(name + " is not a contact")
		}
		return nil
	}
	if err := writeNameList(pb.path("contacts"), "Contacts: one nick a line (kept by /contacts in labchat connect).", list); err != nil {
		cs.complain(err.Error())
		return nil
	}
	if verb == "add" {
		cs.note(name + " added to your contacts")
		return cs.monitorAdd(name)
	}
	cs.note(name + " removed from your contacts")
	return cs.monitorRemove(name)
}

// onMonList collects the server's MONITOR list (732), sent at login and when another device
// of the account changed it: the account's contacts.
func (cs *clientSession) onMonList(m *Message, _ bool) {
	pb := cs.presence
	pb.mu.Lock()
	for n := range strings.SplitSeq(m.Param(len(m.Params)-1), ",") {
		if n != "" {
			pb.monList = append(pb.monList, n)
		}
	}
	pb.mu.Unlock()
}

// onEndOfMonList (733) makes the collected list the contacts, here and in the contacts file.
func (cs *clientSession) onEndOfMonList(_ *Message, _ bool) {
	pb := cs.presence
	pb.mu.Lock()
	list := pb.monList
	pb.monList = nil
	slices.SortFunc(list, func(a, b string) int { return strings.Compare(clientFold(a), clientFold(b)) })
	changed := !slices.EqualFunc(list, pb.contacts, func(a, b string) bool { return clientFold(a) == clientFold(b) })
	pb.contacts, pb.fromServer = list, true
	pb.watched = map[string]bool{}
	for _, n := range list {
		pb.watched[clientFold(n)] = true // the server MONITORs them for this connection already
	}
	pb.mu.Unlock()
	if !changed {
		return
	}
	if err := writeNameList(pb.path("contacts"), "Contacts: one nick a line (kept by /contacts in labchat connect).", list); err != nil {
		cs.complain(err.Error())
	}
}

// changeContacts adds or removes name and returns the new list and whether it changed.
func (pb *presenceBook) changeContacts(add bool, name string) ([]string, bool) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	i := slices.IndexFunc(pb.contacts, func(c string) bool { return clientFold(c) == clientFold(name) })
	switch {
	case add && i >= 0, !add && i < 0:
		return nil, false
	case add && len(pb.contacts) >= maxContacts:
		return nil, false
	case add:
		pb.contacts = append(pb.contacts, name)
		slices.SortFunc(pb.contacts, func(a, b string) int { return strings.Compare(clientFold(a), clientFold(b)) })
	default:
		pb.contacts = slices.Delete(pb.contacts, i, i+1)
	}
	return slices.Clone(pb.contacts), true
}

func (pb *presenceBook) isPartner(name string) bool {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return slices.ContainsFunc(pb.partners, func(p string) bool { return clientFold(p) == clientFold(name) })
}

// cmdWho lists users: those online (WHO *), and the contacts and recent partners, with
// their status, since when, and away message.
func cmdWho(cs *clientSession, _ string) error {
	pb := cs.presence
	pb.mu.Lock()
	pb.whoRows = map[string]string{}
	pb.mu.Unlock()
	err := cs.sendCmd("WHO", "*")
	if err == nil {
		err = cs.roundTrip("who")
	}
	names := cs.realnamesSnapshot()
	pb.mu.Lock()
	rows := pb.tableLocked(time.Now(), names)
	pb.whoRows = nil
	pb.mu.Unlock()
	if err != nil {
		return err
	}
	for _, r := range rows {
		cs.note(r)
	}
	return nil
}

// tableLocked formats /who: online and away users first, then offline ones, by name.
// pb.mu must be held.
func (pb *presenceBook) tableLocked(now time.Time, names map[string]string) []string {
	show := maps.Clone(pb.whoRows)
	for _, n := range append(slices.Clone(pb.contacts), pb.partners...) {
		if _, ok := show[clientFold(n)]; !ok {
			show[clientFold(n)] = n
		}
	}
	var users []userStatus
	for k, nick := range show {
		u := userStatus{nick: nick, state: "unknown"}
		_, listed := pb.whoRows[k]
		// WHO * lists who is online (and visible); MONITOR knows the rest. Someone neither
		// listed nor watched (no MONITOR, or past its limit) is unknown.
		if known := pb.users[k]; known != nil && known.state != "" && (listed || pb.watched[k]) {
			u = *known
		}
		users = append(users, u)
	}
	rank := map[string]int{stateOnline: 0, stateAway: 1, stateOffline: 2}
	slices.SortFunc(users, func(a, b userStatus) int {
		ra, ok := rank[a.state]
		if !ok {
			ra = 3
		}
		rb, ok := rank[b.state]
		if !ok {
			rb = 3
		}
		if ra != rb {
			return ra - rb
		}
		return strings.Compare(clientFold(a.nick), clientFold(b.nick))
	})
	out := []string{fmt.Sprintf("%-16s %-8s %-16s %s", "NAME", "STATUS", "SINCE", "MESSAGE")}
	for _, u := range users {
		msg := u.away
		if u.state == stateAway && msg == "" {
			msg = "(no message known)"
		}
		if dn := names[clientFold(u.nick)]; dn != "" { // the display name leads the message column
			msg = strings.TrimSpace("(" + dn + ") " + msg)
		}
		out = append(out, strings.TrimRight(fmt.Sprintf("%-16s %-8s %-16s %s", sanitize(u.nick), u.state, sinceText(u.since, now), sanitize(msg)), " "))
	}
	if len(users) == 0 {
		out = append(out, "(nobody online, and no contacts yet: /contacts add NAME)")
	}
	return out
}

// sinceText shows a time of day for today, with the date otherwise; "-" when unknown.
func sinceText(t, now time.Time) string {
	switch {
	case t.IsZero():
		return "-"
	case t.Local().Format("2006-01-02") == now.Local().Format("2006-01-02"):
		return t.Local().Format(timeLayout)
	}
	return t.Local().Format("Mon 2 Jan 15:04")
}
