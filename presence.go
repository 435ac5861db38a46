package main

// Presence: who is online, away or gone, pushed as it changes.
//   - AWAY (RFC 2812, 301/305/306) and IRCv3 away-notify: "AWAY :msg" / "AWAY" from a user to
//     the clients sharing a room with it;
//   - IRCv3 MONITOR (730–734) and extended-monitor: a client names the nicks it cares about
//     and hears when they come online (730) or go (731), and, with extended-monitor, their
//     AWAY (and ACCOUNT) changes as if it shared a room with them;
//   - account-notify: ACCOUNT when a connected user logs in;
//   - server.default_room: the room everyone joins right after the welcome.
//
// All of it is state under Server.mu (tier 1); a push is an append to a send queue, so it is
// safe under that lock and never waits for a peer.

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxAwayLen is ISUPPORT AWAYLEN: longer away messages are cut at a rune boundary.
const maxAwayLen = 390

// presence is a session's away and MONITOR state; guarded by Server.mu like the identity
// fields around it.
type presence struct {
	away     string            // the away message; "" when present
	monitors map[string]string // MONITOR list: casefolded nick → as the client wrote it
	// unsaved is this connection's other watch list (MONITOR tagged labchat/unsaved): the
	// people it has a conversation open with, whose presence it shows without making them
	// contacts. Never saved, never in MONITOR L, untouched by the account's contact list.
	unsaved map[string]string
}

// unsavedMonitorTag on a MONITOR + or - makes it change the connection's unsaved watch
// list instead of the account's contacts (the MONITOR list is saved per account).
const unsavedMonitorTag = "labchat/unsaved"

func validatePresenceConfig(cfg *ServerConfig) error {
	if cfg.MonitorLimit < 1 {
		return usageErrorf("config server.monitor_limit = %d: must be at least 1", cfg.MonitorLimit)
	}
	if s := (Server{cfg: *cfg}); cfg.DefaultRoom != "" && !s.validRoomName(cfg.DefaultRoom) {
		return usageErrorf("config server.default_room = %q: want a room name like \"#lobby\", or \"\" for none", cfg.DefaultRoom)
	}
	return nil
}

// ---- AWAY ----

// handleAway sets (AWAY :message) or clears (AWAY, AWAY :) the away message and tells the
// peers that asked for away-notify.
func (c *Session) handleAway(m *Message) {
	msg := truncateUTF8(m.Param(0), maxAwayLen)
	s := c.s
	code, text := RPL_NOWAWAY, "You have been marked as being away"
	if msg == "" {
		code, text = RPL_UNAWAY, "You are no longer marked as being away"
	}
	s.mu.Lock()
	changed := c.presence.away != msg
	// AWAY is the user's: its other connections are marked too, and told as if they had
	// sent it (send, not reply: their processors may be holding labeled replies).
	for _, own := range c.ownSessionsLocked() {
		own.presence.away = msg
		if own != c {
			m := Message{Source: s.cfg.Name, Command: code, Params: []string{own.nick, text}}
			if b, err := m.AppendTo(nil); err == nil {
				own.send(b)
			}
		}
	}
	if changed && !c.gone {
		s.pushPresenceLocked(c, awayEvent(c), capAwayNotify)
	}
	s.mu.Unlock()
	c.reply(code, text)
}

// awayEvent is ":nick!user@host AWAY :message", or "AWAY" alone when back; s.mu held.
func awayEvent(c *Session) *outMsg {
	m := Message{Source: c.prefix(), Command: "AWAY"}
	if c.presence.away != "" {
		m.Params = []string{c.presence.away}
	}
	return newOutMsg(m)
}

func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// pushPresenceLocked sends ev about c to everyone who would see it under cap: room peers
// with the cap, and MONITOR watchers with the cap and extended-monitor. Each gets it once,
// c itself never. s.mu must be held.
func (s *Server) pushPresenceLocked(c *Session, ev *outMsg, cap capSet) {
	sent := make(map[*Session]struct{})
	for peer := range c.peersLocked() {
		if peer.caps&cap != 0 {
			sent[peer] = struct{}{}
			peer.send(ev.bytesFor(peer.caps))
		}
	}
	for w := range s.watchers[casefold(c.nick)] {
		if _, done := sent[w]; !done && !w.sameUser(c) && w.caps&(cap|capExtendedMonitor) == cap|capExtendedMonitor {
			w.send(ev.bytesFor(w.caps))
		}
	}
}

// awayOnJoinLocked tells the room's away-notify members that c, just joined, is away, as the
// away-notify spec asks. s.mu must be held.
func (r *Room) awayOnJoinLocked(c *Session) {
	if c.presence.away == "" {
		return
	}
	ev := awayEvent(c)
	for m := range r.members {
		if m != c && m.caps&capAwayNotify != 0 && r.showsPresenceLocked(c, m) {
			m.send(ev.bytesFor(m.caps))
		}
	}
}

// replyAwayLocked sends RPL_AWAY about t to c when t is away; s.mu must be held (read).
func (c *Session) replyAwayLocked(t *Session) {
	if t.presence.away != "" {
		c.reply(RPL_AWAY, t.nick, t.presence.away)
	}
}

// hereFlag is WHO's H (here) or G (gone, i.e. away); USERHOST uses + and -.
func (c *Session) hereFlag() string {
	if c.presence.away != "" {
		return "G"
	}
	return "H"
}

// ---- ACCOUNT (account-notify) ----

// accountChangedLocked pushes "ACCOUNT name" after a registered user logs in; s.mu must be held.
func (c *Session) accountChangedLocked() {
	if !c.registered || c.gone {
		return
	}
	ev := newOutMsg(Message{Source: c.prefix(), Command: "ACCOUNT", Params: []string{c.account}})
	c.s.pushPresenceLocked(c, ev, capAccountNotify)
}

// ---- MONITOR ----

// monitorSubcommands are MONITOR's subcommands (the IRCv3 monitor spec).
var monitorSubcommands = map[string]func(c *Session, targets string){
	"+": (*Session).monitorAdd,
	"-": (*Session).monitorRemove,
	"C": func(c *Session, _ string) { c.monitorClear() },
	"L": func(c *Session, _ string) { c.monitorList() },
	"S": func(c *Session, _ string) { c.monitorStatus() },
}

func (c *Session) handleMonitor(m *Message) {
	sub := strings.ToUpper(m.Params[0])
	run, ok := monitorSubcommands[sub]
	_, unsaved := m.Tags[unsavedMonitorTag]
	switch {
	case !ok:
		c.reply(ERR_UNKNOWNCOMMAND, "MONITOR", "Unknown MONITOR subcommand "+m.Params[0]+" (use + - C L S)")
	case (sub == "+" || sub == "-") && m.Param(1) == "":
		c.reply(ERR_NEEDMOREPARAMS, "MONITOR", "Not enough parameters (MONITOR "+sub+" nick[,nick...])")
	case unsaved && sub == "+":
		c.monitorAddTo(m.Param(1), true)
	case unsaved && sub == "-":
		c.monitorRemoveFrom(m.Param(1), true)
	default:
		run(c, m.Param(1))
		if sub == "+" || sub == "-" || sub == "C" {
			c.saveContacts()
		}
	}
}

// monitorAdd watches each valid nick until the list is full, then answers with 730 for the
// online ones (followed by their AWAY for extended-monitor + away-notify clients, as
// away-notify does on join), 731 for the others and 734 for those that did not fit.
func (c *Session) monitorAdd(targets string) { c.monitorAddTo(targets, false) }

// monitorAddTo adds to the saved MONITOR list, or to the unsaved one.
func (c *Session) monitorAddTo(targets string, unsaved bool) {
	s := c.s
	limit := s.cfg.MonitorLimit
	var online, offline, full []string
	var awayEvents []*outMsg
	s.mu.Lock()
	for _, nick := range strings.Split(targets, ",") {
		if nick == "" || s.validNick(nick) != nil {
			continue // masks and junk are not nicks; the spec lets us drop them
		}
		key := casefold(nick)
		list := c.presence.monitors
		if unsaved {
			list = c.presence.unsaved
		}
		if _, have := list[key]; !have && len(list) >= limit {
			full = append(full, nick)
			continue
		}
		c.watchLocked(key, nick, unsaved)
		if u, as := s.watchedUserLocked(key, nick); u != nil {
			t := u.first()
			online = append(online, as)
			if t.presence.away != "" && c.caps&(capExtendedMonitor|capAwayNotify) == capExtendedMonitor|capAwayNotify {
				awayEvents = append(awayEvents, awayEvent(t))
			}
		} else {
			offline = append(offline, nick)
		}
	}
	s.mu.Unlock()
	c.replyList(RPL_MONONLINE, online)
	for _, ev := range awayEvents {
		c.send(ev.bytesFor(c.caps))
	}
	c.replyList(RPL_MONOFFLINE, offline)
	if len(full) > 0 {
		c.reply(ERR_MONLISTFULL, strconv.Itoa(limit), strings.Join(full, ","), "Monitor list is full")
	}
}

// watchLocked adds key to c's MONITOR list (or its unsaved one) and the server's reverse
// index; s.mu held.
func (c *Session) watchLocked(key, nick string, unsaved bool) {
	list := &c.presence.monitors
	if unsaved {
		list = &c.presence.unsaved
	}
	if *list == nil {
		*list = make(map[string]string)
	}
	(*list)[key] = nick
	w := c.s.watchers[key]
	if w == nil {
		w = make(map[*Session]struct{})
		c.s.watchers[key] = w
	}
	w[c] = struct{}{}
}

// unwatchLocked removes key from c's MONITOR list (or its unsaved one), and from the
// reverse index once neither list has it; s.mu held.
func (c *Session) unwatchLocked(key string, unsaved bool) {
	other := c.presence.unsaved
	if unsaved {
		delete(c.presence.unsaved, key)
		other = c.presence.monitors
	} else {
		delete(c.presence.monitors, key)
	}
	if _, still := other[key]; still {
		return
	}
	if w := c.s.watchers[key]; w != nil {
		delete(w, c)
		if len(w) == 0 {
			delete(c.s.watchers, key)
		}
	}
}

func (c *Session) monitorRemove(targets string) { c.monitorRemoveFrom(targets, false) }

func (c *Session) monitorRemoveFrom(targets string, unsaved bool) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, nick := range strings.Split(targets, ",") {
		c.unwatchLocked(casefold(nick), unsaved)
	}
}

// monitorClear empties the MONITOR list, the contacts; the unsaved list stays.
func (c *Session) monitorClear() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for key := range c.presence.monitors {
		c.unwatchLocked(key, false)
	}
}

// unwatchAllLocked empties both of c's watch lists as the session ends; s.mu held.
func (c *Session) unwatchAllLocked() {
	for key := range c.presence.monitors {
		c.unwatchLocked(key, false)
	}
	for key := range c.presence.unsaved {
		c.unwatchLocked(key, true)
	}
}

func (c *Session) monitorList() {
	c.s.mu.RLock()
	nicks := make([]string, 0, len(c.presence.monitors))
	for _, nick := range c.presence.monitors {
		nicks = append(nicks, nick)
	}
	c.s.mu.RUnlock()
	slices.Sort(nicks)
	c.replyList(RPL_MONLIST, nicks)
	c.reply(RPL_ENDOFMONLIST, "End of MONITOR list")
}

func (c *Session) monitorStatus() {
	s := c.s
	var online, offline []string
	s.mu.RLock()
	for key, nick := range c.presence.monitors {
		if u, as := s.watchedUserLocked(key, nick); u != nil {
			online = append(online, as)
		} else {
			offline = append(offline, nick)
		}
	}
	s.mu.RUnlock()
	slices.Sort(online)
	slices.Sort(offline)
	c.replyList(RPL_MONONLINE, online)
	c.replyList(RPL_MONOFFLINE, offline)
}

// replyList sends a numeric whose last parameter is a comma-separated list, in as many
// lines as the 512-byte limit needs.
func (c *Session) replyList(code string, items []string) {
	budget := maxBodyLen - len(c.s.cfg.Name) - len(c.nickOrStar()) - 16
	for len(items) > 0 {
		n, size := 0, 0
		for n < len(items) && (n == 0 || size+1+len(items[n]) <= budget) {
			size += 1 + len(items[n])
			n++
		}
		c.reply(code, strings.Join(items[:n], ","))
		items = items[n:]
	}
}

// monitorNotifyLocked tells c's watchers that c came online (730 nick!user@host) or went
// offline (731 nick). s.mu must be held.
func (s *Server) monitorNotifyLocked(c *Session, nick string, online bool) {
	watchers := s.watchers[casefold(nick)]
	if len(watchers) == 0 {
		return
	}
	code, who := RPL_MONOFFLINE, nick
	if online {
		code, who = RPL_MONONLINE, c.prefix()
	}
	for w := range watchers {
		if !w.sameUser(c) {
			// send, not sendMsg: w's own processor may be holding a labeled reply.
			m := Message{Source: s.cfg.Name, Command: code, Params: []string{w.nickOrStar(), who}}
			if b, err := m.AppendTo(nil); err == nil {
				w.send(b)
			}
		}
	}
}

// nickChangedLocked moves MONITOR state along with a nick change: watchers of the old nick
// see it go offline, watchers of the new one see it come online; a change of case alone is
// no news. s.mu must be held; c.nick is already the new nick.
//
// The account's own name stays online while the account is (messages to it reach the
// current nick, relay.go), so a /nick away from it is not "went offline" to its contacts.
func (c *Session) nickChangedLocked(old string) {
	if casefold(old) == casefold(c.nick) {
		return
	}
	if c.account == "" || casefold(old) != casefold(c.account) {
		c.s.monitorNotifyLocked(c, old, false)
	}
	c.s.monitorNotifyLocked(c, c.nick, true)
}

// watchedUserLocked finds who a MONITOR entry watches: the user of that nick, or the
// account of that name online under another nick. as is the RPL_MONONLINE target, under
// the watched name so the watcher can match it. s.mu must be held.
func (s *Server) watchedUserLocked(key, nick string) (u *User, as string) {
	if u = s.nicks[key]; u != nil {
		return u, u.first().prefix()
	}
	if u = s.accountUsers[key]; u != nil {
		t := u.first()
		return u, nick + "!" + t.userOrNick() + "@" + t.hostname()
	}
	return nil, ""
}

// wentOfflineLocked is unregister's part: watchers hear of it when c was its user's last
// connection, and c's own list is dropped. s.mu must be held.
func (c *Session) wentOfflineLocked() {
	if c.registered && c.lastConnectionLocked() && c.u.announced {
		c.s.monitorNotifyLocked(c, c.nick, false)
		if c.account != "" && casefold(c.account) != casefold(c.nick) {
			c.s.monitorNotifyLocked(c, c.account, false) // its account name was online too
		}
	}
	c.unwatchAllLocked()
}

// ---- login completion ----

// cameOnline runs after the welcome: watchers hear of the new user (once, whichever of its
// connections gets here first), then it joins the default room. A session that ended
// meanwhile (gone) stays offline.
func (c *Session) cameOnline() {
	s := c.s
	s.mu.Lock()
	gone := c.gone
	if !gone && !c.u.announced {
		c.u.announced = true
		s.monitorNotifyLocked(c, c.nick, true)
	}
	s.mu.Unlock()
	if !gone {
		c.restoreAccount()
	}
	if room := s.cfg.DefaultRoom; room != "" && !gone {
		c.join(room, "")
	}
}
