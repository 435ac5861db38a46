package main

// Room access control: the list modes (+b bans, +e ban exceptions, +I invite exceptions),
// the key (+k), the member limit (+l), invite-only (+i) with INVITE, and the checks JOIN makes.
// Masks are nick!user@host globs matched case-insensitively, or $a:<account glob> for
// accounts (ISUPPORT EXTBAN=$,a), so a ban follows a student across nicks and addresses.

import (
	"strconv"
	"strings"
	"time"
)

const (
	maxListEntries = 100 // per list mode and room; ISUPPORT MAXLIST
	maxKeyLen      = 32  // ISUPPORT KEYLEN
	maxInvites     = 100 // pending invitations one user may hold
	maxRoomLimit   = 100000
)

// maskEntry is one entry of a list mode.
type maskEntry struct {
	mask  string // as normalized when added
	setBy string // nick of who added it
	setAt time.Time
}

// listModeInfo names a list mode's field and numerics.
type listModeInfo struct {
	item, end, text string
}

var listModeNumerics = map[byte]listModeInfo{
	'b': {RPL_BANLIST, RPL_ENDOFBANLIST, "End of channel ban list"},
	'e': {RPL_EXCEPTLIST, RPL_ENDOFEXCEPTLIST, "End of channel exception list"},
	'I': {RPL_INVITELIST, RPL_ENDOFINVITELIST, "End of channel invite exception list"},
}

// maskList returns the room's list for a list mode letter; s.mu must be held.
func (r *Room) maskList(mode byte) *[]maskEntry {
	switch mode {
	case 'b':
		return &r.bans
	case 'e':
		return &r.excepts
	case 'I':
		return &r.invex
	}
	return nil
}

// normalizeMask completes a partial mask as servers do: "bob" is bob!*@*, "*@10.0.0.7" is
// *!*@10.0.0.7. It reports false for a mask no user could match or an unknown extban.
func normalizeMask(mask string) (string, bool) {
	if mask == "" || strings.ContainsAny(mask, " ,\x00") || len(mask) > 200 {
		return "", false
	}
	if rest, ok := strings.CutPrefix(mask, "$"); ok {
		acct, ok := strings.CutPrefix(rest, "a:")
		return mask, ok && acct != ""
	}
	nick, rest, hasBang := strings.Cut(mask, "!")
	if !hasBang {
		if user, host, ok := strings.Cut(mask, "@"); ok {
			return "*!" + user + "@" + host, true
		}
		return mask + "!*@*", true
	}
	if !strings.Contains(rest, "@") {
		rest += "@*"
	}
	if nick == "" {
		nick = "*"
	}
	return nick + "!" + rest, true
}

// matchesLocked reports whether c matches a normalized mask; s.mu must be held.
func (c *Session) matchesLocked(mask string) bool {
	if acct, ok := strings.CutPrefix(mask, "$a:"); ok {
		return c.account != "" && wildcardMatch(casefold(acct), casefold(c.account))
	}
	return wildcardMatch(casefold(mask), casefold(c.prefix()))
}

func (c *Session) matchesAnyLocked(list []maskEntry) bool {
	for _, e := range list {
		if c.matchesLocked(e.mask) {
			return true
		}
	}
	return false
}

// bannedLocked reports whether c matches a ban and no exception; s.mu must be held.
func (r *Room) bannedLocked(c *Session) bool {
	return c.matchesAnyLocked(r.bans) && !c.matchesAnyLocked(r.excepts)
}

// joinRefusalLocked is the numeric and text refusing c's JOIN to r with key, or "" when it
// may join. An invitation lets c past every check, once; so does being a server operator.
// s.mu must be held.
func (r *Room) joinRefusalLocked(c *Session, key string) (code, text string) {
	if _, invited := c.invitedTo[r]; invited {
		return "", ""
	}
	switch {
	case r.bannedLocked(c):
		code, text = ERR_BANNEDFROMCHAN, "Cannot join channel (+b): you are banned from "+r.name
	case r.modeI && !c.matchesAnyLocked(r.invex):
		code, text = ERR_INVITEONLYCHAN, "Cannot join channel (+i): "+r.name+" is invite-only; ask one of its operators for an INVITE"
	case r.key != "" && key != r.key:
		code, text = ERR_BADCHANNELKEY, "Cannot join channel (+k): wrong or missing key (JOIN "+r.name+" <key>)"
	case r.limit > 0 && r.userCountLocked() >= r.limit: // users, not their connections
		code, text = ERR_CHANNELISFULL, "Cannot join channel (+l): "+r.name+" is full ("+strconv.Itoa(r.limit)+" members)"
	default:
		return "", ""
	}
	if c.isOper() {
		c.s.log.Info("operator override", "oper", c.nick, "room", r.name, "command", "JOIN", "past", code)
		return "", ""
	}
	return code, text
}

// setListModeLocked adds or removes a mask; it returns the mask to announce, or "" when
// nothing changed (a refusal is told to c). s.mu must be write-locked.
func (c *Session) setListModeLocked(r *Room, mode byte, adding bool, arg string) string {
	mask, ok := normalizeMask(arg)
	if !ok {
		c.reply(ERR_INVALIDMODEPARAM, r.name, string(mode), paramOrStar(arg), "Not a mask: use nick!user@host with * and ? wildcards, or $a:account")
		return ""
	}
	list := r.maskList(mode)
	for i, e := range *list {
		if casefold(e.mask) == casefold(mask) {
			if adding {
				return ""
			}
			*list = append((*list)[:i], (*list)[i+1:]...)
			return e.mask
		}
	}
	if !adding {
		return ""
	}
	if len(*list) >= maxListEntries {
		c.reply(ERR_BANLISTFULL, r.name, mask, "Channel list is full ("+strconv.Itoa(maxListEntries)+" entries)")
		return ""
	}
	*list = append(*list, maskEntry{mask: mask, setBy: c.prefix(), setAt: time.Now()})
	return mask
}

// sendList answers a list mode query: MODE #room b (or e, I).
func (c *Session) sendList(r *Room, mode byte) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	c.sendListLocked(r, mode)
}

// sendListLocked is sendList with s.mu held.
func (c *Session) sendListLocked(r *Room, mode byte) {
	info := listModeNumerics[mode]
	for _, e := range *r.maskList(mode) {
		c.reply(info.item, r.name, e.mask, e.setBy, strconv.FormatInt(e.setAt.Unix(), 10))
	}
	c.reply(info.end, r.name, info.text)
}

// paramOrStar is a client's parameter fit to be echoed in a middle position of a reply.
func paramOrStar(p string) string {
	if p == "" || p[0] == ':' || strings.ContainsAny(p, " \r\n\x00") {
		return "*"
	}
	return p
}

// validKey accepts what a JOIN line can carry back: 1 to maxKeyLen bytes, no space, comma or
// control character, and no leading colon.
func validKey(key string) bool {
	return key != "" && len(key) <= maxKeyLen && key[0] != ':' && !hasSpaceCommaOrControl(key)
}

// ---- INVITE ----

// handleInvite is INVITE <nick> <room>, or INVITE alone to list one's own invitations.
func (c *Session) handleInvite(m *Message) {
	if len(m.Params) == 0 {
		c.listInvitations()
		return
	}
	if len(m.Params) < 2 {
		c.reply(ERR_NEEDMOREPARAMS, "INVITE", "Not enough parameters (INVITE <nick> <room>)")
		return
	}
	nick, room := m.Params[0], m.Params[1]
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.nicks[casefold(nick)]
	if u == nil {
		c.reply(ERR_NOSUCHNICK, nick, "No such nick")
		return
	}
	t := u.first()
	r, modes, ok := c.actingRoomLocked(room)
	if !ok {
		return
	}
	if r.modeI && !c.roomOpLocked(r, "INVITE", modes) {
		return
	}
	if len(r.sessionsOfLocked(u)) > 0 {
		c.reply(ERR_USERONCHANNEL, u.nick, r.name, "is already on channel")
		return
	}
	ev := c.eventFrom(Message{Source: c.prefix(), Command: "INVITE", Params: []string{u.nick, r.name}})
	for _, t := range u.sessions { // the invitation is the user's: any of its connections may use it
		if len(t.invitedTo) >= maxInvites {
			for old := range t.invitedTo { // drop one: the list must stay bounded
				delete(t.invitedTo, old)
				break
			}
		}
		t.invitedTo[r] = struct{}{}
		t.send(ev.bytesFor(t.caps))
	}
	c.reply(RPL_INVITING, u.nick, r.name)
	c.replyAwayLocked(t)
	// invite-notify: members who could have invited hear of it (all members unless +i).
	for mbr, mm := range r.members {
		if mbr != c && mbr.u != u && mbr.caps&capInviteNotify != 0 && (!r.modeI || mm&memberOp != 0) {
			mbr.send(ev.bytesFor(mbr.caps))
		}
	}
	s.log.Info("invite", "by", c.nick, "target", t.nick, "room", r.name)
}

// listInvitations is 336 for each room c is invited to that still exists, then 337.
func (c *Session) listInvitations() {
	s := c.s
	s.mu.RLock()
	var names []string
	for r := range c.invitedTo {
		if s.rooms[casefold(r.name)] == r {
			names = append(names, r.name)
		}
	}
	s.mu.RUnlock()
	for _, n := range sortedStrings(names) {
		c.reply(RPL_INVITED, n)
	}
	c.reply(RPL_ENDOFINVITED, "End of /INVITE list")
}
