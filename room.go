package main

// Rooms (IRC channels): membership, topic, modes, and the room commands.

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const maxTopicLen = 390

// Room is one channel. It exists while it has members.
type Room struct {
	name    string // as first written
	logName string // its history conversation (roomConversation), escaped once, not per message
	created time.Time

	// Guarded by Server.mu.
	members    map[*Session]memberModes
	topic      string
	topicBy    string
	topicAt    time.Time
	modeT      bool // only operators set the topic
	modeN      bool // no messages from outside
	modeM      bool // moderated: only operators and voiced members speak
	modeS      bool // secret: hidden from LIST, WHOIS and NAMES of non-members
	modeI      bool // invite-only: JOIN needs an INVITE or a +I match
	modeU      bool // quiet (auditorium): plain members' JOIN/PART/QUIT reach only operators
	modeC      bool // no CTCP but ACTION (/me): a room's CTCP VERSION and PING floods stop
	key        string
	limit      int // +l: most members; 0 is none
	bans       []maskEntry
	excepts    []maskEntry
	invex      []maskEntry
	joinedAt   map[*Session]time.Time
	hist       roomHistory       // who may read its history (roomhistory.go)
	meta       map[string]string // draft/metadata-3 keys (metadata.go)
	founder    string            // account that created it, or was handed it (roomstate.go); "" for none
	opAccounts []string          // accounts the founder made operators: @ at every join

	relayMu sync.Mutex // tier 2; one relay at a time, so members see one order
	list    []*Session // members snapshot for relays; nil after a change. Read and rebuilt
	// with Server.mu read-locked and relayMu held; cleared with Server.mu write-locked.
}

// memberModes are a member's privileges in a room (the prefix modes).
type memberModes uint8

const (
	memberOp memberModes = 1 << iota
	memberVoice
)

// prefixModes is ISUPPORT PREFIX=(ov)@+, highest privilege first.
var prefixModes = []struct {
	mode, prefix byte
	bit          memberModes
}{
	{'o', '@', memberOp},
	{'v', '+', memberVoice},
}

// prefixes is what NAMES and WHO show before a nick: the highest prefix, or all of them for
// clients with multi-prefix.
func (mm memberModes) prefixes(all bool) string {
	var b []byte
	for _, pm := range prefixModes {
		if mm&pm.bit != 0 {
			b = append(b, pm.prefix)
			if !all {
				break
			}
		}
	}
	return string(b)
}

func prefixModeBit(mode byte) memberModes {
	for _, pm := range prefixModes {
		if pm.mode == mode {
			return pm.bit
		}
	}
	return 0
}

func newRoom(name string) *Room {
	return &Room{name: name, logName: roomConversation(name), created: time.Now(), members: make(map[*Session]memberModes), joinedAt: make(map[*Session]time.Time), modeT: true, modeN: true}
}

// memberList is the relay snapshot. Rebuilding it once per membership change (not per join,
// as a cache copied eagerly would) keeps a 500-member join storm linear.
func (r *Room) memberList() []*Session {
	if r.list == nil {
		r.list = make([]*Session, 0, len(r.members))
		for m := range r.members {
			r.list = append(r.list, m)
		}
	}
	return r.list
}

func (r *Room) addLocked(c *Session, modes memberModes) {
	r.members[c] = modes
	r.joinedAt[c] = time.Now()
	r.hist.joined[c] = msgSeqNow()
	r.accountJoinedLocked(c)
	r.list = nil
	c.rooms[r] = struct{}{}
}

// removeLocked drops c from the room and the room from the server when it empties.
func (r *Room) removeLocked(c *Session) {
	delete(r.members, c)
	delete(r.joinedAt, c)
	delete(r.hist.joined, c)
	r.list = nil
	delete(c.rooms, r)
	if len(r.members) == 0 {
		delete(c.s.rooms, casefold(r.name))
		c.s.roomEmptiedLocked(r)
	}
}

// memberPrefix is c's prefix in r as shown to asker; s.mu must be held.
func (r *Room) memberPrefix(c, asker *Session) string {
	return r.members[c].prefixes(asker.caps&capMultiPrefix != 0)
}

// flag returns the switch behind a channel mode letter without parameter, or nil.
func (r *Room) flag(mode byte) *bool {
	switch mode {
	case 'i':
		return &r.modeI
	case 'm':
		return &r.modeM
	case 'n':
		return &r.modeN
	case 's':
		return &r.modeS
	case 't':
		return &r.modeT
	case 'u':
		return &r.modeU
	case 'C':
		return &r.modeC
	}
	return nil
}

// modeParams is RPL_CHANNELMODEIS's mode string and parameters. The key is shown only to
// members and server operators: an outsider asking MODE must not learn it.
func (r *Room) modeParams(asker *Session) []string {
	m := "+"
	for _, mode := range []byte("imnstuC") {
		if *r.flag(mode) {
			m += string(mode)
		}
	}
	var params []string
	if r.key != "" {
		m += "k"
		key := "*"
		if _, member := r.members[asker]; member || asker.isOper() {
			key = r.key
		}
		params = append(params, key)
	}
	if r.limit > 0 {
		m += "l"
		params = append(params, strconv.Itoa(r.limit))
	}
	return append([]string{m}, params...)
}

// visibleLocked reports whether asker may learn that c is in r: members see each other;
// others see the members of a room that is not secret, except invisible (+i) users.
// s.mu must be held.
func (r *Room) visibleLocked(c, asker *Session) bool {
	if _, in := r.members[asker]; in {
		return true
	}
	return !r.modeS && !c.invisible
}

// symbol is RPL_NAMREPLY's channel type: "@" secret, "=" public.
func (r *Room) symbol() string {
	if r.modeS {
		return "@"
	}
	return "="
}

// broadcastLocked sends an event caused by actor to every member; s.mu must be held, and
// the caller must be actor's processor (its own copy is a reply, see sendFrom).
func (r *Room) broadcastLocked(o *outMsg, actor *Session) {
	for m := range r.members {
		if b := o.bytesFor(m.caps); b != nil {
			m.sendFrom(actor, b)
		}
	}
}

// showsPresenceLocked reports whether viewer sees actor's JOIN, PART and QUIT in r. In a
// quiet room (+u) only events of members with a prefix (operator, voice) or of server
// operators reach everyone; a plain member's reach only the members with a prefix and server
// operators, so 500 logins are not 500 lines on every screen. s.mu must be held.
func (r *Room) showsPresenceLocked(actor, viewer *Session) bool {
	if !r.modeU || actor == viewer {
		return true
	}
	return r.members[actor] != 0 || actor.isOper() || r.members[viewer] != 0 || viewer.isOper()
}

// broadcastPresenceLocked is broadcastLocked for JOIN and PART, which a quiet room keeps from
// plain members.
func (r *Room) broadcastPresenceLocked(o *outMsg, actor *Session) {
	for m := range r.members {
		if !r.showsPresenceLocked(actor, m) {
			continue
		}
		if b := o.bytesFor(m.caps); b != nil {
			m.sendFrom(actor, b)
		}
	}
}

// quitWitnessesLocked is everyone who sees c's QUIT: those sharing a room with c where its
// presence shows to them. s.mu must be held.
func (c *Session) quitWitnessesLocked() map[*Session]struct{} {
	peers := make(map[*Session]struct{})
	for r := range c.rooms {
		for m := range r.members {
			if m != c && r.showsPresenceLocked(c, m) {
				peers[m] = struct{}{}
			}
		}
	}
	return peers
}

// validRoomName follows RFC 2812: '#', then no space, comma, BEL or control characters.
func (s *Server) validRoomName(name string) bool {
	return len(name) >= 2 && len(name) <= s.cfg.ChannelLen && name[0] == '#' && !hasSpaceCommaOrControl(name[1:])
}

// hasSpaceCommaOrControl reports a byte that would split a room name or key in a JOIN line
// (space, comma) or that has no place in one (controls, DEL).
func hasSpaceCommaOrControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b == ',' || b == 0x7f {
			return true
		}
	}
	return false
}

func (c *Session) handleJoin(m *Message) {
	if m.Params[0] == "0" {
		c.partAll()
		return
	}
	keys := strings.Split(m.Param(1), ",")
	for i, name := range strings.Split(m.Params[0], ",") {
		if !c.s.validRoomName(name) {
			c.reply(ERR_NOSUCHCHANNEL, name, "No such channel (room names start with # and have no spaces or commas)")
			continue
		}
		key := ""
		if i < len(keys) {
			key = keys[i]
		}
		c.join(name, key)
	}
}

// showsUserLocked reports whether r already shows c's user (through another of its
// connections): joining it then costs the user nothing. s.mu must be held.
func (r *Room) showsUserLocked(c *Session) bool {
	_, shown := r.userModesLocked(c)
	return shown
}

// join adds c to the room called name (creating it), after the room's access checks.
func (c *Session) join(name, key string) { c.joinAs(name, key, false) }

// joinAs is join; saved is a room the account keeps (profile.go), rejoined at login past
// the room's +i, +k and +l (the account is still its member), but not past a ban.
func (c *Session) joinAs(name, key string, saved bool) {
	s := c.s
	s.mu.Lock()
	if c.gone {
		s.mu.Unlock()
		return
	}
	folded := casefold(name)
	r, exists := s.rooms[folded]
	if lim := s.cfg.MaxRoomsPerConnection; len(c.rooms) >= lim && !c.isOper() && !(exists && r.showsUserLocked(c)) {
		s.mu.Unlock()
		c.reply(ERR_TOOMANYCHANNELS, name, "You have joined too many channels: at most "+strconv.Itoa(lim)+" rooms per connection (CHANLIMIT); PART one first")
		return
	}
	lobby := s.cfg.DefaultRoom != "" && folded == casefold(s.cfg.DefaultRoom)
	founded := false
	if !exists {
		r = newRoom(name)
		if rec := s.roomRecords[folded]; rec != nil {
			r.name, r.logName = rec.Name, roomConversation(rec.Name)
			r.applyRecordLocked(rec)
		}
		if lobby {
			r.modeU = s.cfg.DefaultRoomQuiet
		}
		s.rooms[folded] = r
		if !s.roomRebornLocked(r) {
			s.roomBornLocked(r)
		}
	}
	if _, already := r.members[c]; already {
		s.mu.Unlock()
		return
	}
	// A connection of a user already in the room joins it as the user is: no refusal.
	modes, shown := r.userModesLocked(c)
	owner := r.accountIsOpLocked(c)
	if !shown && !owner && (exists || r.founder != "" || r.limit > 0 || r.key != "" || r.modeI || len(r.bans) > 0) {
		code, text := r.joinRefusalLocked(c, key)
		if saved && code != ERR_BANNEDFROMCHAN {
			code = ""
		}
		if code != "" {
			if !exists {
				delete(s.rooms, folded)
				s.roomEmptiedLocked(r)
			}
			s.mu.Unlock()
			c.reply(code, r.name, text)
			if saved {
				s.forgetRoom(c.account, r.name)
			}
			return
		}
		delete(c.invitedTo, r) // an invitation is good for one JOIN
	}
	switch {
	case owner:
		modes |= memberOp
	case !exists && !lobby && r.founder == "":
		modes = memberOp // the creator runs the room; the lobby is run by server operators
		if c.account != "" {
			r.founder, founded = c.account, true
		}
	}
	r.addLocked(c, modes)
	if shown {
		r.ownJoinLocked(c) // the room shows the nick already: news to c alone
	} else {
		r.broadcastJoinLocked(c)
		r.awayOnJoinLocked(c)
	}
	roomName := r.name
	s.mu.Unlock()
	if founded {
		s.saveRoom(r)
	}
	if !lobby && !saved {
		s.rememberRoom(c.account, roomName)
	}
	c.sendTopic(r, false)
	c.sendNamesJoin(r, true)
	s.mu.RLock()
	c.sendJoinMetadataLocked(r)
	s.mu.RUnlock()
}

func (c *Session) partAll() {
	c.s.mu.RLock()
	var names []string
	for r := range c.rooms {
		names = append(names, r.name)
	}
	c.s.mu.RUnlock()
	for _, n := range names {
		c.part(n, "")
	}
}

func (c *Session) handlePart(m *Message) {
	for name := range strings.SplitSeq(m.Params[0], ",") {
		c.part(name, m.Param(1))
	}
}

func (c *Session) part(name, reason string) {
	s := c.s
	if c.partLocked(name, reason) {
		s.forgetRoom(c.account, name) // the account left it: no device rejoins it
	}
}

// partLocked is PART's work; it reports whether c left the room.
func (c *Session) partLocked(name, reason string) bool {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[casefold(name)]
	if !ok {
		c.reply(ERR_NOSUCHCHANNEL, name, "No such channel")
		return false
	}
	if _, member := r.members[c]; !member {
		c.reply(ERR_NOTONCHANNEL, r.name, "You're not on that channel")
		return false
	}
	params := []string{r.name}
	if reason != "" {
		params = append(params, reason)
	}
	ev := newOutMsg(Message{Source: c.prefix(), Command: "PART", Params: params})
	if _, stays := r.userModesLocked(c); stays {
		c.sendOwn(ev.bytesFor(c.caps)) // another connection of the user is still in: news to c alone
	} else {
		r.broadcastPresenceLocked(ev, c)
	}
	r.accountLeftLocked(c)
	r.removeLocked(c)
	return true
}

// lookupRoom returns the room called name, if it exists.
func (s *Server) lookupRoom(name string) *Room {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rooms[casefold(name)]
}

func (c *Session) handleNames(m *Message) {
	if m.Param(0) == "" {
		c.reply(RPL_ENDOFNAMES, "*", "End of /NAMES list")
		return
	}
	names := strings.Split(m.Params[0], ",")
	if len(names) > 4 {
		c.reply("407", m.Params[0], "Too many targets (NAMES takes at most 4 rooms)")
		return
	}
	if len(names) == 1 {
		if r := c.s.lookupRoom(names[0]); r != nil {
			c.sendNames(r)
		} else {
			c.reply(RPL_ENDOFNAMES, names[0], "End of /NAMES list")
		}
		return
	}
	// Several rooms (TARGMAX NAMES:4): their 353s, then one 366 for the whole list.
	for _, name := range names {
		if r := c.s.lookupRoom(name); r != nil {
			c.sendNamesLines(r)
		}
	}
	c.reply(RPL_ENDOFNAMES, m.Params[0], "End of /NAMES list")
}

// sendNames lists the room's members that c may see in 353 lines that fit the 512-byte limit.
func (c *Session) sendNames(r *Room) { c.sendNamesJoin(r, false) }

// sendNamesJoin is sendNames; after a JOIN it sends the room's read marker before 366, as
// draft/read-marker asks.
func (c *Session) sendNamesJoin(r *Room, joined bool) {
	room := c.sendNamesLines(r)
	if joined && c.caps&capReadMarker != 0 {
		c.sendMarkread(room, c.readMarker(room))
	}
	c.reply(RPL_ENDOFNAMES, room, "End of /NAMES list")
}

// sendNamesLines sends the 353 lines of sendNames and returns the room's name.
func (c *Session) sendNamesLines(r *Room) string {
	s := c.s
	s.mu.RLock()
	names := r.namesLocked(c)
	room, symbol := r.name, r.symbol()
	s.mu.RUnlock()
	slices.Sort(names)
	budget := maxBodyLen - len(s.cfg.Name) - len(c.nick) - len(room) - 20
	var line []string
	size := 0
	for _, n := range names {
		if size+len(n)+1 > budget && len(line) > 0 {
			c.reply(RPL_NAMREPLY, symbol, room, strings.Join(line, " "))
			line, size = line[:0], 0
		}
		line = append(line, n)
		size += len(n) + 1
	}
	if len(line) > 0 {
		c.reply(RPL_NAMREPLY, symbol, room, strings.Join(line, " "))
	}
	return room
}

// namesLocked is the NAMES entries asker may see, formatted for its caps; s.mu must be held.
func (r *Room) namesLocked(asker *Session) []string {
	names := make([]string, 0, len(r.members))
	seen := make(map[*User]struct{}, len(r.members))
	for m, modes := range r.members {
		if _, dup := seen[m.u]; dup || !r.visibleLocked(m, asker) {
			continue // a user with several connections in the room is listed once
		}
		seen[m.u] = struct{}{}
		n := modes.prefixes(asker.caps&capMultiPrefix != 0) + m.u.nick
		if asker.caps&capUserhostInNames != 0 {
			n = modes.prefixes(asker.caps&capMultiPrefix != 0) + m.prefix()
		}
		names = append(names, n)
	}
	return names
}

func (c *Session) handleTopic(m *Message) {
	s := c.s
	name := m.Params[0]
	r := s.lookupRoom(name)
	if r == nil {
		c.reply(ERR_NOSUCHCHANNEL, name, "No such channel")
		return
	}
	if len(m.Params) < 2 && s.hiddenFrom(r, c) {
		c.reply(ERR_NOTONCHANNEL, r.name, "You're not on that channel")
		return
	}
	if len(m.Params) < 2 {
		c.sendTopic(r, true)
		return
	}
	topic := m.Params[1]
	if len(topic) > maxTopicLen {
		topic = truncateUTF8(topic, maxTopicLen)
	}
	s.mu.Lock()
	modes, member := r.members[c]
	changed := false
	switch {
	case !member:
		c.reply(ERR_NOTONCHANNEL, r.name, "You're not on that channel")
	case r.modeT && !c.roomOpLocked(r, "TOPIC", modes):
	default:
		r.topic, r.topicBy, r.topicAt = topic, c.prefix(), time.Now()
		o := c.eventFrom(Message{Source: c.prefix(), Command: "TOPIC", Params: []string{r.name, topic}})
		// Logged for draft/event-playback; a failed write costs only that replay.
		s.logMessage(r.logName, o, c.nick)
		r.broadcastLocked(o, c)
		changed = true
	}
	s.mu.Unlock()
	if changed {
		s.saveRoom(r)
	}
}

// hiddenFrom reports whether r is secret and c is not in it.
func (s *Server) hiddenFrom(r *Room, c *Session) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, member := r.members[c]
	return r.modeS && !member
}

// sendTopic sends 332+333, or 331 when asked and there is no topic.
func (c *Session) sendTopic(r *Room, asked bool) {
	c.s.mu.RLock()
	topic, by, at, name := r.topic, r.topicBy, r.topicAt, r.name
	c.s.mu.RUnlock()
	if topic == "" {
		if asked {
			c.reply(RPL_NOTOPIC, name, "No topic is set")
		}
		return
	}
	c.reply(RPL_TOPIC, name, topic)
	c.reply(RPL_TOPICWHOTIME, name, by, strconv.FormatInt(at.Unix(), 10))
}

func (c *Session) handleList(m *Message) {
	s := c.s
	type entry struct {
		name, topic string
		n           int
	}
	filter := parseListFilter(m.Param(0))
	now := time.Now()
	s.mu.RLock()
	var entries []entry
	for key, r := range s.rooms {
		if _, member := r.members[c]; r.modeS && !member {
			continue // a secret room is not listed to outsiders
		}
		if n := r.userCountLocked(); filter.match(key, n) && filter.matchTimes(r.created, r.topicAt, now) {
			entries = append(entries, entry{r.name, r.topic, n})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	c.reply(RPL_LISTSTART, "Channel", "Users  Name")
	for _, e := range entries {
		c.reply(RPL_LIST, e.name, strconv.Itoa(e.n), e.topic)
	}
	c.reply(RPL_LISTEND, "End of /LIST")
}

// listFilter is LIST's argument under ISUPPORT ELIST=CMNTU: comma-separated room names or
// masks (any may match), !masks (none may match), <n / >n bounds on the member count, and
// C<n / C>n (created less / more than n minutes ago), T<n / T>n (topic set less / more than
// n minutes ago; a room without a topic matches no T bound).
type listFilter struct {
	masks, notMasks    []string // casefolded
	moreThan, lessThan int      // lessThan 0: no upper bound
	age                [2]timeBound
}

// timeBound is "less than" and "more than" a number of minutes ago; -1 for unset.
type timeBound struct{ less, more int }

// matchTimes applies the C and T bounds.
func (f listFilter) matchTimes(created, topicAt, now time.Time) bool {
	for i, at := range [2]time.Time{created, topicAt} {
		b := f.age[i]
		if b.less < 0 && b.more < 0 {
			continue
		}
		if at.IsZero() {
			return false
		}
		mins := now.Sub(at).Minutes()
		if b.less >= 0 && mins >= float64(b.less) || b.more >= 0 && mins <= float64(b.more) {
			return false
		}
	}
	return true
}

func parseListFilter(arg string) listFilter {
	f := listFilter{moreThan: -1, lessThan: -1, age: [2]timeBound{{-1, -1}, {-1, -1}}}
	for item := range strings.SplitSeq(arg, ",") {
		if len(item) > 2 && (item[0] == 'C' || item[0] == 'T') && (item[1] == '<' || item[1] == '>') {
			if n, err := strconv.Atoi(item[2:]); err == nil && n >= 0 {
				b := &f.age[0]
				if item[0] == 'T' {
					b = &f.age[1]
				}
				if item[1] == '<' {
					b.less = n
				} else {
					b.more = n
				}
				continue
			}
		}
		if n, err := strconv.Atoi(strings.TrimLeft(item, "<>")); err == nil && item[0] == '<' {
			f.lessThan = n
			continue
		} else if err == nil && item[0] == '>' {
			f.moreThan = n
			continue
		}
		if not, ok := strings.CutPrefix(item, "!"); ok {
			f.notMasks = append(f.notMasks, casefold(not))
		} else if item != "" {
			f.masks = append(f.masks, casefold(item))
		}
	}
	return f
}

// match reports whether the room with this registry key and member count is listed.
func (f listFilter) match(key string, users int) bool {
	if users <= f.moreThan || (f.lessThan >= 0 && users >= f.lessThan) {
		return false
	}
	for _, m := range f.notMasks {
		if wildcardMatch(m, key) {
			return false
		}
	}
	if len(f.masks) == 0 {
		return true
	}
	return slices.ContainsFunc(f.masks, func(m string) bool { return wildcardMatch(m, key) })
}

// handleKick takes KICK <room> <nick>[,<nick>...] or, as RFC 2812 allows, one room per nick.
func (c *Session) handleKick(m *Message) {
	rooms, nicks := strings.Split(m.Params[0], ","), strings.Split(m.Params[1], ",")
	if len(rooms) != 1 && len(rooms) != len(nicks) {
		c.reply(ERR_NEEDMOREPARAMS, "KICK", "Give one room, or one room per nick")
		return
	}
	reason := m.Param(2)
	if reason == "" {
		reason = c.nick
	}
	if len(reason) > maxTopicLen {
		reason = truncateUTF8(reason, maxTopicLen)
	}
	for i, nick := range nicks {
		c.kick(rooms[min(i, len(rooms)-1)], nick, reason)
	}
}

// actingRoomLocked finds the room a command acts on and c's modes in it, answering 403 or
// 442 itself when there is none or c is neither a member nor a server operator (who may act
// in any room). s.mu must be held.
func (c *Session) actingRoomLocked(name string) (*Room, memberModes, bool) {
	r, ok := c.s.rooms[casefold(name)]
	if !ok {
		c.reply(ERR_NOSUCHCHANNEL, name, "No such channel")
		return nil, 0, false
	}
	modes, member := r.members[c]
	if !member && !c.isOper() {
		c.reply(ERR_NOTONCHANNEL, r.name, "You're not on that channel")
		return nil, 0, false
	}
	return r, modes, true
}

func (c *Session) kick(room, nick, reason string) {
	if account, name := c.kickLocked(room, nick, reason); account != "" {
		c.s.forgetRoom(account, name) // kicked: no device of the account rejoins it
	}
}

// kickLocked is KICK's work; it returns the account kicked (if any) and the room's name.
func (c *Session) kickLocked(room, nick, reason string) (string, string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r, modes, ok := c.actingRoomLocked(room)
	if !ok || !c.roomOpLocked(r, "KICK", modes) {
		return "", ""
	}
	u := s.nicks[casefold(nick)]
	if u == nil {
		c.reply(ERR_NOSUCHNICK, nick, "No such nick")
		return "", ""
	}
	in := r.sessionsOfLocked(u) // a user is kicked with all its connections in the room
	if len(in) == 0 {
		c.reply(ERR_USERNOTINCHANNEL, u.nick, r.name, "They aren't on that channel")
		return "", ""
	}
	s.log.Info("kick", "by", c.nick, "room", r.name, "target", u.first().prefix(), "reason", reason)
	r.broadcastLocked(newOutMsg(Message{Source: c.prefix(), Command: "KICK", Params: []string{r.name, u.nick, reason}}), c)
	name := r.name
	for _, t := range in {
		r.accountLeftLocked(t)
		r.removeLocked(t)
	}
	return u.account, name
}

func (c *Session) handleMode(m *Message) {
	target := m.Params[0]
	if !strings.HasPrefix(target, "#") {
		c.userMode(m)
		return
	}
	r := c.s.lookupRoom(target)
	if r == nil {
		c.reply(ERR_NOSUCHCHANNEL, target, "No such channel")
		return
	}
	if len(m.Params) == 1 {
		c.s.mu.RLock()
		modes, created := r.modeParams(c), r.created
		c.s.mu.RUnlock()
		c.reply(RPL_CHANNELMODEIS, append([]string{r.name}, modes...)...)
		c.reply(RPL_CREATIONTIME, r.name, strconv.FormatInt(created.Unix(), 10))
		return
	}
	c.roomMode(r, m.Params[1], m.Params[2:])
}

// roomMode applies MODE changes from c and announces what changed in one MODE line: flags
// i m n s t u, key k, limit l, lists b e I (roommodes.go) and prefixes o v. A list mode
// without a mask is a query (irssi and weechat send MODE #chan b on join), answered for
// anyone who may see the room.
func (c *Session) roomMode(r *Room, modes string, args []string) {
	if len(args) == 0 && strings.Trim(modes, "+beI") == "" {
		if c.s.hiddenFrom(r, c) && !c.isOper() {
			c.reply(ERR_NOTONCHANNEL, r.name, "You're not on that channel")
			return
		}
		for i := 0; i < len(modes); i++ {
			if _, ok := listModeNumerics[modes[i]]; ok {
				c.sendList(r, modes[i])
			}
		}
		return
	}
	s := c.s
	if c.roomModeLocked(r, modes, args) {
		s.saveRoom(r)
	}
}

// roomModeLocked is roomMode's work; it reports whether anything changed.
func (c *Session) roomModeLocked(r *Room, modes string, args []string) bool {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.roomOpLocked(r, "MODE", r.members[c]) {
		return false
	}
	var change modeChange
	adding := true
	for i := 0; i < len(modes); i++ {
		switch mode := modes[i]; {
		case mode == '+' || mode == '-':
			adding = mode == '+'
		case r.flag(mode) != nil:
			if flag := r.flag(mode); *flag != adding {
				*flag = adding
				change.add(adding, mode, "")
			}
		case listModeNumerics[mode].item != "":
			if len(args) == 0 {
				c.sendListLocked(r, mode)
				continue
			}
			if mask := c.setListModeLocked(r, mode, adding, args[0]); mask != "" {
				change.add(adding, mode, mask)
			}
			args = args[1:]
		case mode == 'k':
			if !adding {
				if len(args) > 0 {
					args = args[1:] // -k takes the key, or not; either way it goes
				}
				if r.key != "" {
					r.key = ""
					change.add(false, 'k', "*")
				}
				continue
			}
			if len(args) == 0 {
				c.reply(ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters (+k needs the key)")
				continue
			}
			if !validKey(args[0]) {
				c.reply(ERR_INVALIDMODEPARAM, r.name, "k", "*", "Invalid key: 1 to "+strconv.Itoa(maxKeyLen)+" characters without spaces or commas")
			} else if r.key != args[0] {
				r.key = args[0]
				change.add(true, 'k', r.key)
				change.keyArg = len(change.args)
			}
			args = args[1:]
		case mode == 'l':
			if !adding {
				if r.limit != 0 {
					r.limit = 0
					change.add(false, 'l', "")
				}
				continue
			}
			if len(args) == 0 {
				c.reply(ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters (+l needs the number of members)")
				continue
			}
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 || n > maxRoomLimit {
				c.reply(ERR_INVALIDMODEPARAM, r.name, "l", paramOrStar(args[0]), "Invalid limit: a number of members from 1 to "+strconv.Itoa(maxRoomLimit))
			} else if r.limit != n {
				r.limit = n
				change.add(true, 'l', args[0])
			}
			args = args[1:]
		case prefixModeBit(mode) != 0:
			if len(args) == 0 {
				c.reply(ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters")
				continue
			}
			if nick := c.setMemberMode(r, adding, prefixModeBit(mode), args[0]); nick != "" {
				change.add(adding, mode, nick)
			}
			args = args[1:]
		default:
			c.reply(ERR_UNKNOWNMODE, string(mode), "is unknown mode char to me for "+r.name)
		}
	}
	if len(change.modes) > 0 {
		s.roomPrivacyLocked(r)
		params := append([]string{r.name, string(change.modes)}, change.args...)
		r.broadcastLocked(newOutMsg(Message{Source: c.prefix(), Command: "MODE", Params: params}), c)
		logged := slices.Clone(params[1:])
		if change.keyArg > 0 {
			logged[change.keyArg] = "*" // a room key is a shared password: not in the log
		}
		s.log.Info("mode", "by", c.nick, "room", r.name, "change", strings.Join(logged, " "))
	}
	return len(change.modes) > 0
}

// setMemberMode gives or takes a prefix mode and returns the member's nick, or "" when
// nick is not in the room (told to c). s.mu must be write-locked.
func (c *Session) setMemberMode(r *Room, adding bool, bit memberModes, nick string) string {
	u := c.s.nicks[casefold(nick)]
	if u == nil {
		c.reply(ERR_NOSUCHNICK, nick, "No such nick")
		return ""
	}
	in := r.sessionsOfLocked(u) // the modes are the user's, on all its connections in the room
	if len(in) == 0 {
		c.reply(ERR_USERNOTINCHANNEL, u.nick, r.name, "They aren't on that channel")
		return ""
	}
	for _, t := range in {
		if adding {
			r.members[t] |= bit
		} else {
			r.members[t] &^= bit
		}
	}
	// The founder's (or a server operator's) +o makes the account an operator of the room
	// for good, and -o ends that; other operators' are for this visit.
	founder := c.account != "" && r.founder != "" && casefold(c.account) == casefold(r.founder)
	if bit == memberOp && (founder || c.isOper()) {
		r.setOpAccountLocked(u.account, adding)
	}
	return u.nick
}

// roomOpLocked reports whether c may act as operator of r: a room operator, or a server
// operator (whose use of that override is logged). Otherwise it answers 482. s.mu must be held.
func (c *Session) roomOpLocked(r *Room, command string, modes memberModes) bool {
	if modes&memberOp != 0 {
		return true
	}
	if c.isOper() {
		c.s.log.Info("operator override", "oper", c.nick, "room", r.name, "command", command)
		return true
	}
	c.reply(ERR_CHANOPRIVSNEEDED, r.name, "You're not channel operator")
	return false
}

// modeChange collects the applied part of a MODE command, as "+nt-o nick".
type modeChange struct {
	modes  []byte
	args   []string
	sign   byte
	keyArg int // position of a new key in the mode string and args (1 + index in args), or 0
}

func (mc *modeChange) add(adding bool, mode byte, arg string) {
	sign := byte('-')
	if adding {
		sign = '+'
	}
	if mc.sign != sign {
		mc.modes = append(mc.modes, sign)
		mc.sign = sign
	}
	mc.modes = append(mc.modes, mode)
	if arg != "" {
		mc.args = append(mc.args, arg)
	}
}

// userMode answers MODE <nick> [+i|-i]. +i (invisible) is the only user mode.
func (c *Session) userMode(m *Message) {
	if casefold(m.Params[0]) != casefold(c.nick) {
		if c.s.findUser(m.Params[0]) == nil {
			c.reply(ERR_NOSUCHNICK, m.Params[0], "No such nick")
		} else {
			c.reply(ERR_USERSDONTMATCH, "Can't change mode for other users")
		}
		return
	}
	if len(m.Params) == 1 {
		c.reply(RPL_UMODEIS, c.userModeString())
		return
	}
	var change modeChange
	adding := true
	for _, mode := range []byte(m.Params[1]) {
		switch {
		case mode == '+' || mode == '-':
			adding = mode == '+'
		case mode == 'i' || mode == 'w' || mode == 'B':
			flag := &c.invisible
			switch mode {
			case 'w':
				flag = &c.wallops
			case 'B':
				flag = &c.bot
			}
			c.s.mu.Lock() // before reading: another connection of the user may set +i
			if *flag != adding {
				*flag = adding
				if mode == 'i' {
					for _, own := range c.ownSessionsLocked() {
						own.invisible = adding // +i is the user's
					}
				}
				change.add(adding, mode, "")
			}
			c.s.mu.Unlock()
		case mode == 'o':
			// +o comes only from OPER or an operator account; -o gives it up.
			if !adding && c.isOper() {
				c.s.mu.Lock()
				c.oper = ""
				c.s.mu.Unlock()
				change.add(false, 'o', "")
				c.s.log.Info("oper down", "nick", c.nick, "remote", c.ip)
			}
		default:
			c.reply(ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag (user modes: +i invisible, +w wallops, +o operator, +B bot)")
		}
	}
	if len(change.modes) > 0 {
		c.sendMsg(&Message{Source: c.prefix(), Command: "MODE", Params: []string{c.nick, string(change.modes)}})
	}
}

func (c *Session) userModeString() string {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	m := "+"
	if c.bot {
		m += "B"
	}
	if c.invisible {
		m += "i"
	}
	if c.isOper() {
		m += "o"
	}
	if c.wallops {
		m += "w"
	}
	return m
}

// handleWho answers WHO <mask> [%fields[,token]] with 352, or 354 for WHOX, then 315.
func (c *Session) handleWho(m *Message) {
	mask := m.Param(0)
	if mask == "" {
		mask = "*"
	}
	fields, token, whox := "", "", false
	if f, ok := strings.CutPrefix(m.Param(1), "%"); ok {
		whox = true
		fields, token, _ = strings.Cut(f, ",")
	}
	for _, row := range c.s.whoRows(c, mask) {
		if whox {
			c.reply(RPL_WHOSPCRPL, row.whox(fields, token)...)
		} else {
			c.reply(RPL_WHOREPLY, row.room, row.user, row.host, c.s.cfg.Name, row.nick, row.flags, "0 "+row.realname)
		}
	}
	c.reply(RPL_ENDOFWHO, mask, "End of WHO list")
}

type whoRow struct {
	room, user, host, nick, flags, realname, account string
	idle                                             time.Duration
}

// whox orders fields as the WHOX spec does, whatever order the client wrote them in.
func (w whoRow) whox(fields, token string) []string {
	var out []string
	for _, f := range "tcuihsnfdlaor" {
		if !strings.ContainsRune(fields, f) {
			continue
		}
		var v string
		switch f {
		case 't':
			v = token
		case 'c':
			v = w.room
		case 'u':
			v = w.user
		case 'i':
			v = w.host
		case 'h':
			v = w.host
		case 's':
			v = "*"
		case 'n':
			v = w.nick
		case 'f':
			v = w.flags
		case 'd':
			v = "0"
		case 'l':
			v = strconv.Itoa(int(w.idle.Seconds()))
		case 'a':
			v = w.account
			if v == "" {
				v = "0"
			}
		case 'o':
			v = "n/a"
		case 'r':
			v = w.realname
		}
		out = append(out, v)
	}
	if len(out) > 0 && strings.ContainsRune(fields, 'r') && out[len(out)-1] == "" {
		out[len(out)-1] = "*"
	}
	return out
}

// whoRows matches a room name, or a nick mask with * and ? wildcards. Masks skip invisible
// users who share no room with the asker; an exact nick always matches.
func (s *Server) whoRows(asker *Session, mask string) []whoRow {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var rows []whoRow
	if strings.HasPrefix(mask, "#") {
		if r, ok := s.rooms[casefold(mask)]; ok {
			seen := make(map[*User]struct{}, len(r.members))
			for t := range r.members {
				if _, dup := seen[t.u]; !dup && r.visibleLocked(t, asker) {
					seen[t.u] = struct{}{} // one row per user, not per connection
					rows = append(rows, newWhoRow(t, r, asker))
				}
			}
		}
		return rows
	}
	folded := casefold(mask)
	exact := !strings.ContainsAny(mask, "*?")
	for key, u := range s.nicks {
		if t := u.first(); wildcardMatch(folded, key) && (exact || s.seesLocked(asker, t)) {
			rows = append(rows, newWhoRow(t, nil, asker))
		}
	}
	return rows
}

// newWhoRow describes t, in room r if not nil, for asker; s.mu must be held.
func newWhoRow(t *Session, r *Room, asker *Session) whoRow {
	w := whoRow{room: "*", user: t.userOrNick(), host: t.hostname(), nick: t.u.nick, flags: t.hereFlag(), realname: t.realname, account: t.account, idle: time.Since(t.lastActiveSeen())}
	if t.isOper() {
		w.flags += "*"
	}
	w.flags += t.botFlag()
	if r != nil {
		w.room = r.name
		w.flags += r.memberPrefix(t, asker)
	}
	return w
}

// seesLocked reports whether asker may find t by a mask: t is itself, visible, or shares a
// room with asker. s.mu must be held.
func (s *Server) seesLocked(asker, t *Session) bool {
	if t.sameUser(asker) || !t.invisible {
		return true
	}
	for _, own := range t.ownSessionsLocked() {
		for r := range own.rooms {
			if _, in := r.members[asker]; in {
				return true
			}
		}
	}
	return false
}

// wildcardMatch matches IRC masks: '*' any run, '?' one byte. Iterative with one
// backtrack point, so a mask full of stars cannot blow up.
func wildcardMatch(pattern, s string) bool {
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p, mark = star+1, mark+1
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}
