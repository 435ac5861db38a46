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
	created time.Time

	// Guarded by Server.mu.
	members  map[*Session]bool // member → is operator
	topic    string
	topicBy  string
	topicAt  time.Time
	modeT    bool // only operators set the topic
	modeN    bool // no messages from outside
	joinedAt map[*Session]time.Time

	relayMu sync.Mutex // tier 2; one relay at a time, so members see one order
	list    []*Session // members snapshot for relays; nil after a change. Read and rebuilt
	// with Server.mu read-locked and relayMu held; cleared with Server.mu write-locked.
}

func newRoom(name string) *Room {
	return &Room{name: name, created: time.Now(), members: make(map[*Session]bool), joinedAt: make(map[*Session]time.Time), modeT: true, modeN: true}
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

func (r *Room) addLocked(c *Session, op bool) {
	r.members[c] = op
	r.joinedAt[c] = time.Now()
	r.list = nil
	c.rooms[r] = struct{}{}
}

// removeLocked drops c from the room and the room from the server when it empties.
func (r *Room) removeLocked(c *Session) {
	delete(r.members, c)
	delete(r.joinedAt, c)
	r.list = nil
	delete(c.rooms, r)
	if len(r.members) == 0 {
		delete(c.s.rooms, casefold(r.name))
	}
}

func (r *Room) memberPrefix(c *Session) string {
	if r.members[c] {
		return "@"
	}
	return ""
}

func (r *Room) modeString() string {
	m := "+"
	if r.modeN {
		m += "n"
	}
	if r.modeT {
		m += "t"
	}
	return m
}

// broadcastLocked sends an event to every member; s.mu must be held.
func (r *Room) broadcastLocked(o *outMsg) {
	for m := range r.members {
		if b := o.bytesFor(m.caps); b != nil {
			m.send(b)
		}
	}
}

// validRoomName follows RFC 2812: '#', then no space, comma, BEL or control characters.
func (s *Server) validRoomName(name string) bool {
	if len(name) < 2 || len(name) > s.cfg.ChannelLen || name[0] != '#' {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c == ',' || c == 0x7f {
			return false
		}
	}
	return true
}

func (c *Session) handleJoin(m *Message) {
	if m.Params[0] == "0" {
		c.partAll()
		return
	}
	for name := range strings.SplitSeq(m.Params[0], ",") {
		if !c.s.validRoomName(name) {
			c.reply(ERR_NOSUCHCHANNEL, name, "No such channel (room names start with # and have no spaces or commas)")
			continue
		}
		c.join(name)
	}
}

func (c *Session) join(name string) {
	s := c.s
	s.mu.Lock()
	if c.gone {
		s.mu.Unlock()
		return
	}
	key := casefold(name)
	r, exists := s.rooms[key]
	if !exists {
		r = newRoom(name)
		s.rooms[key] = r
	}
	if _, already := r.members[c]; already {
		s.mu.Unlock()
		return
	}
	r.addLocked(c, !exists)
	r.broadcastLocked(newOutMsg(Message{Source: c.prefix(), Command: "JOIN", Params: []string{r.name}}))
	s.mu.Unlock()
	c.sendTopic(r, false)
	c.sendNames(r)
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
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[casefold(name)]
	if !ok {
		c.reply(ERR_NOSUCHCHANNEL, name, "No such channel")
		return
	}
	if _, member := r.members[c]; !member {
		c.reply(ERR_NOTONCHANNEL, r.name, "You're not on that channel")
		return
	}
	params := []string{r.name}
	if reason != "" {
		params = append(params, reason)
	}
	r.broadcastLocked(newOutMsg(Message{Source: c.prefix(), Command: "PART", Params: params}))
	r.removeLocked(c)
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
	for name := range strings.SplitSeq(m.Params[0], ",") {
		if r := c.s.lookupRoom(name); r != nil {
			c.sendNames(r)
		} else {
			c.reply(RPL_ENDOFNAMES, name, "End of /NAMES list")
		}
	}
}

// sendNames lists a room's members in 353 lines that fit the 512-byte limit.
func (c *Session) sendNames(r *Room) {
	s := c.s
	s.mu.RLock()
	names := make([]string, 0, len(r.members))
	for m, op := range r.members {
		p := ""
		if op {
			p = "@"
		}
		names = append(names, p+m.nick)
	}
	s.mu.RUnlock()
	slices.Sort(names)
	room := r.name
	budget := maxBodyLen - len(s.cfg.Name) - len(c.nick) - len(room) - 20
	var line []string
	size := 0
	for _, n := range names {
		if size+len(n)+1 > budget && len(line) > 0 {
			c.reply(RPL_NAMREPLY, "=", room, strings.Join(line, " "))
			line, size = line[:0], 0
		}
		line = append(line, n)
		size += len(n) + 1
	}
	if len(line) > 0 {
		c.reply(RPL_NAMREPLY, "=", room, strings.Join(line, " "))
	}
	c.reply(RPL_ENDOFNAMES, room, "End of /NAMES list")
}

func (c *Session) handleTopic(m *Message) {
	s := c.s
	name := m.Params[0]
	r := s.lookupRoom(name)
	if r == nil {
		c.reply(ERR_NOSUCHCHANNEL, name, "No such channel")
		return
	}
	if len(m.Params) < 2 {
		c.sendTopic(r, true)
		return
	}
	topic := m.Params[1]
	if len(topic) > maxTopicLen {
		topic = topic[:maxTopicLen]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	op, member := r.members[c]
	switch {
	case !member:
		c.reply(ERR_NOTONCHANNEL, r.name, "You're not on that channel")
	case r.modeT && !op:
		c.reply(ERR_CHANOPRIVSNEEDED, r.name, "You're not channel operator")
	default:
		r.topic, r.topicBy, r.topicAt = topic, c.prefix(), time.Now()
		r.broadcastLocked(newOutMsg(Message{Source: c.prefix(), Command: "TOPIC", Params: []string{r.name, topic}}))
	}
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
	var want map[string]bool
	if p := m.Param(0); p != "" && !strings.HasPrefix(p, ">") && !strings.HasPrefix(p, "<") {
		want = make(map[string]bool)
		for n := range strings.SplitSeq(p, ",") {
			want[casefold(n)] = true
		}
	}
	s.mu.RLock()
	var entries []entry
	for key, r := range s.rooms {
		if want == nil || want[key] {
			entries = append(entries, entry{r.name, r.topic, len(r.members)})
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

func (c *Session) handleKick(m *Message) {
	s := c.s
	reason := m.Param(2)
	if reason == "" {
		reason = c.nick
	}
	if len(reason) > maxTopicLen {
		reason = reason[:maxTopicLen]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[casefold(m.Params[0])]
	if !ok {
		c.reply(ERR_NOSUCHCHANNEL, m.Params[0], "No such channel")
		return
	}
	op, member := r.members[c]
	if !member {
		c.reply(ERR_NOTONCHANNEL, r.name, "You're not on that channel")
		return
	}
	if !op {
		c.reply(ERR_CHANOPRIVSNEEDED, r.name, "You're not channel operator")
		return
	}
	for nick := range strings.SplitSeq(m.Params[1], ",") {
		t, ok := s.nicks[casefold(nick)]
		if _, in := r.members[t]; !ok || !in {
			c.reply(ERR_USERNOTINCHANNEL, nick, r.name, "They aren't on that channel")
			continue
		}
		r.broadcastLocked(newOutMsg(Message{Source: c.prefix(), Command: "KICK", Params: []string{r.name, t.nick, reason}}))
		r.removeLocked(t)
		if len(r.members) == 0 {
			return
		}
	}
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
		modes, created := r.modeString(), r.created
		c.s.mu.RUnlock()
		c.reply(RPL_CHANNELMODEIS, r.name, modes)
		c.reply(RPL_CREATIONTIME, r.name, strconv.FormatInt(created.Unix(), 10))
		return
	}
	c.roomMode(r, m.Params[1], m.Params[2:])
}

// roomMode applies +/-o, t and n. Changes are announced in one MODE line.
func (c *Session) roomMode(r *Room, modes string, args []string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if op := r.members[c]; !op {
		if modes == "b" || modes == "+b" {
			c.reply("368", r.name, "End of channel ban list")
			return
		}
		c.reply(ERR_CHANOPRIVSNEEDED, r.name, "You're not channel operator")
		return
	}
	adding := true
	applied, appliedArgs, sign := "", []string{}, byte(0)
	for i := 0; i < len(modes); i++ {
		ch := modes[i]
		switch ch {
		case '+', '-':
			adding = ch == '+'
			continue
		case 't', 'n':
			flag := &r.modeT
			if ch == 'n' {
				flag = &r.modeN
			}
			if *flag == adding {
				continue
			}
			*flag = adding
		case 'o':
			if len(args) == 0 {
				c.reply(ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters")
				continue
			}
			nick := args[0]
			args = args[1:]
			t, ok := s.nicks[casefold(nick)]
			if _, in := r.members[t]; !ok || !in {
				c.reply(ERR_USERNOTINCHANNEL, nick, r.name, "They aren't on that channel")
				continue
			}
			r.members[t] = adding
			appliedArgs = append(appliedArgs, t.nick)
		default:
			c.reply(ERR_UNKNOWNMODE, string(ch), "is unknown mode char to me for "+r.name)
			continue
		}
		want := byte('-')
		if adding {
			want = '+'
		}
		if sign != want {
			applied += string(want)
			sign = want
		}
		applied += string(ch)
	}
	if applied == "" {
		return
	}
	params := append([]string{r.name, applied}, appliedArgs...)
	r.broadcastLocked(newOutMsg(Message{Source: c.prefix(), Command: "MODE", Params: params}))
}

func (c *Session) userMode(m *Message) {
	if casefold(m.Params[0]) != casefold(c.nick) {
		if c.s.findUser(m.Params[0]) == nil {
			c.reply(ERR_NOSUCHNICK, m.Params[0], "No such nick")
		} else {
			c.reply(ERR_USERSDONTMATCH, "Can't change mode for other users")
		}
		return
	}
	if len(m.Params) > 1 && strings.Trim(m.Params[1], "+-i") != "" {
		c.reply(ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag (labchat has no user modes but +i, which is always on)")
		return
	}
	c.reply(RPL_UMODEIS, "+i")
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

// whoRows matches a room name, or a nick mask with * and ? wildcards.
func (s *Server) whoRows(asker *Session, mask string) []whoRow {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var rows []whoRow
	row := func(t *Session, r *Room) whoRow {
		w := whoRow{room: "*", user: t.userOrNick(), host: t.ip, nick: t.nick, flags: "H", realname: t.realname, account: t.account, idle: time.Since(t.lastActiveSeen())}
		if r != nil {
			w.room = r.name
			w.flags += r.memberPrefix(t)
		}
		return w
	}
	if strings.HasPrefix(mask, "#") {
		if r, ok := s.rooms[casefold(mask)]; ok {
			for t := range r.members {
				rows = append(rows, row(t, r))
			}
		}
		return rows
	}
	folded := casefold(mask)
	for t := range s.sessions {
		if t.registered && wildcardMatch(folded, casefold(t.nick)) {
			rows = append(rows, row(t, nil))
		}
	}
	return rows
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
