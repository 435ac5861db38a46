package main

// Users: one nick online, with one connection or several. A guest is one connection; an
// account may be online from several at once (a PC, a laptop and a script run as the same
// student), up to server.max_connections_per_account, past which the oldest is closed.
//
// What belongs to the user, and what to each connection:
//   - The user's: the nick, the account, AWAY and user mode +i, and presence. MONITOR
//     watchers see it come online with its first connection and go offline with its last;
//     a DM to the nick reaches every connection. Each connection keeps copies of these
//     (Session.nick, account, presence.away, invisible), written together under Server.mu;
//     only the nick is adopted by each connection's own processor (renameLocked), which
//     reads it without the lock.
//   - Each connection's: its capabilities, its MONITOR list and its room membership. A room
//     shows the nick while any of the user's connections is in it: others see the first one's
//     JOIN and the last one's PART (or QUIT, when it was the user's last connection); joins
//     and parts in between are told to that connection alone, so a script run as alice
//     makes no JOIN, PART or QUIT noise where alice already is.
//   - What a connection sends (PRIVMSG, NOTICE, TAGMSG) reaches the user's other
//     connections in the echo-message form (the user as source, the recipient as target,
//     the same msgid), whatever their caps, so every device shows the whole conversation.
//     The sending connection gets it only if it negotiated echo-message. Room messages reach
//     the user's other connections that are in the room, as members; a connection outside
//     a room does not get the room's traffic.
//
// All of it is guarded by Server.mu (tier 1); no lock of its own.

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// User is a nick in the registry, Server.nicks. Guarded by Server.mu.
type User struct {
	nick      string            // as last written
	account   string            // "" for a guest
	sessions  []*Session        // registered connections, oldest first; never empty while in nicks
	announced bool              // MONITOR watchers were told it came online
	meta      map[string]string // draft/metadata-3 keys (metadata.go)
	marks     map[string]string // a guest's read markers (an account's are in its profile)
}

// first is the user's oldest connection, whose address and realname WHOIS and WHO show.
func (u *User) first() *Session { return u.sessions[0] }

// sameUser reports whether o is c or another connection of c's user; s.mu must be held
// (or c's and o's processor: c.u is written at registration by c's own processor).
func (c *Session) sameUser(o *Session) bool {
	return c == o || c.u != nil && c.u == o.u
}

// ownSessionsLocked is every connection of c's user, c included; just c before it registers.
func (c *Session) ownSessionsLocked() []*Session {
	if c.u == nil {
		return []*Session{c}
	}
	return c.u.sessions
}

// attachLocked puts a connection that completes registration in the registry: as a new
// user, or as one more connection of u (its account's user), whose nick, AWAY and +i it
// takes. Past max_connections_per_account the oldest connections are asked to close.
// s.mu must be held.
func (s *Server) attachLocked(c *Session, u *User) {
	if u == nil {
		u = &User{nick: c.nick, account: c.account}
		s.nicks[casefold(c.nick)] = u
		if c.account != "" {
			s.accountUsers[casefold(c.account)] = u
		}
	} else {
		f := u.first()
		c.nick, c.presence.away, c.invisible = u.nick, f.presence.away, f.invisible
		live := 0
		for _, o := range u.sessions {
			if !o.isKilled() {
				live++
			}
		}
		for _, o := range u.sessions {
			if live < s.cfg.MaxConnectionsPerAccount {
				break
			}
			if !o.isKilled() {
				// "Logged in from" is what clients (ours, the web page) take as final: they
				// must not reconnect and close the next oldest in turn.
				o.kill("Logged in from " + c.ip + " on another connection to " + u.account + "; the oldest is closed (max_connections_per_account = " +
					strconv.Itoa(s.cfg.MaxConnectionsPerAccount) + ")")
				live--
			}
		}
	}
	u.sessions = append(u.sessions, c)
	c.u = u
	c.registered = true
}

// detachLocked takes a leaving connection out of its user, and the user out of the registry
// with its last connection. s.mu must be held.
func (s *Server) detachLocked(c *Session) {
	u := c.u
	if u == nil {
		return
	}
	u.sessions = slices.DeleteFunc(u.sessions, func(o *Session) bool { return o == c })
	if len(u.sessions) > 0 {
		return
	}
	if s.nicks[casefold(u.nick)] == u {
		delete(s.nicks, casefold(u.nick))
	}
	if u.account != "" && s.accountUsers[casefold(u.account)] == u {
		delete(s.accountUsers, casefold(u.account))
	}
}

// lastConnectionLocked reports whether c is its user's only connection; s.mu must be held.
func (c *Session) lastConnectionLocked() bool {
	return c.u == nil || len(c.u.sessions) <= 1
}

// renameLocked gives c the user's new nick, chosen on another connection. c's processor
// reads c.nick without the lock, so it adopts the nick itself (adoptNick); the NICK line is
// queued already. s.mu must be held.
func (c *Session) renameLocked(nick string) {
	c.renamed = nick
	select {
	case c.nickChanged <- struct{}{}:
	default:
	}
}

// adoptNick runs on c's processor: it takes the nick another connection of its user chose.
func (c *Session) adoptNick() {
	c.s.mu.Lock()
	c.adoptNickLocked()
	c.s.mu.Unlock()
}

// adoptNickLocked is adoptNick with s.mu held, on c's processor.
func (c *Session) adoptNickLocked() {
	if c.renamed != "" {
		c.nick, c.renamed = c.renamed, ""
	}
}

// awayMessage is the user's away message, "" when present.
func (c *Session) awayMessage() string {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	return c.presence.away
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// isKilled reports whether the session was asked to end.
func (c *Session) isKilled() bool {
	select {
	case <-c.killed:
		return true
	default:
		return false
	}
}

// copyToOwnLocked gives the user's other connections the message c sent, as echo-message
// gives it to c. s.mu must be held.
func (c *Session) copyToOwnLocked(o *outMsg) {
	if c.u == nil {
		return
	}
	for _, own := range c.u.sessions {
		if own != c {
			own.send(o.bytesFor(own.caps))
		}
	}
}

// sendToOwnLocked queues an event about c's user for every connection of it; c's copy is a
// reply to the command c runs. s.mu must be held.
func (c *Session) sendToOwnLocked(o *outMsg) {
	for _, own := range c.ownSessionsLocked() {
		own.sendFrom(c, o.bytesFor(own.caps))
	}
}

// userModesLocked returns the modes of another connection of c's user in r, and whether
// there is one: then the room already shows the nick. s.mu must be held.
func (r *Room) userModesLocked(c *Session) (memberModes, bool) {
	if c.u == nil {
		return 0, false
	}
	for _, own := range c.u.sessions {
		if own != c {
			if modes, in := r.members[own]; in {
				return modes, true
			}
		}
	}
	return 0, false
}

// sessionsOfLocked lists u's connections in r (none for a nil u); s.mu must be held.
func (r *Room) sessionsOfLocked(u *User) []*Session {
	if u == nil {
		return nil
	}
	var in []*Session
	for _, own := range u.sessions {
		if _, ok := r.members[own]; ok {
			in = append(in, own)
		}
	}
	return in
}

// userCountLocked is how many users (not connections) are in r; s.mu must be held.
func (r *Room) userCountLocked() int {
	seen := make(map[*User]struct{}, len(r.members))
	for m := range r.members {
		seen[m.u] = struct{}{}
	}
	return len(seen)
}

// leftRoomsLocked tells the rooms where c, leaving while its user stays online, was the
// user's last connection that the nick left them: a PART with the reason, not a QUIT.
// s.mu must be held.
func (c *Session) leftRoomsLocked(reason string) {
	for r := range c.rooms {
		if _, shared := r.userModesLocked(c); shared {
			continue
		}
		ev := newOutMsg(Message{Source: c.prefix(), Command: "PART", Params: []string{r.name, reason}})
		for m := range r.members {
			if m != c && r.showsPresenceLocked(c, m) {
				m.send(ev.bytesFor(m.caps))
			}
		}
	}
}

// otherConnectionsText describes the user's other connections for a connection that just
// logged in: "" when it is the only one. s.mu must be held.
func (c *Session) otherConnectionsText() string {
	var others []string
	for _, own := range c.ownSessionsLocked() {
		if own != c {
			others = append(others, own.ip+" since "+own.connectedAt.UTC().Format(time.TimeOnly)+" UTC")
		}
	}
	switch len(others) {
	case 0:
		return ""
	case 1:
		return "Also connected to this account: 1 other connection (" + others[0] + ")"
	}
	return "Also connected to this account: " + strconv.Itoa(len(others)) + " other connections (" + strings.Join(others, ", ") + ")"
}

// ownJoinLocked is the JOIN broadcastJoinLocked would send, for c alone: its own join of a
// room where another connection of its user already is. s.mu must be held.
func (r *Room) ownJoinLocked(c *Session) {
	m := Message{Source: c.prefix(), Command: "JOIN", Params: []string{r.name}}
	if c.caps&capExtendedJoin != 0 {
		account := c.account
		if account == "" {
			account = "*"
		}
		m.Params = append(m.Params, account, c.realname)
	}
	c.sendOwn(c.eventFrom(m).bytesFor(c.caps))
}

// sessionsOf lists the connections logged in to an account, registered or not yet.
func (s *Server) sessionsOf(account string) []*Session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Session
	for c := range s.sessions {
		if c.account != "" && casefold(c.account) == casefold(account) {
			out = append(out, c)
		}
	}
	return out
}
