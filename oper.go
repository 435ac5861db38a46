package main

// Server operators (the instructor's powers): OPER, operator accounts, KILL, WALLOPS,
// announcements to everyone ($*), STATS. Operators also count as room operators in every room
// (room.go asks isOper). Every operator action is logged with slog, so the server log is the
// record of who removed whom and who said what to everyone.

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// validateOperators checks the [[server.operators]] blocks: each is an account, or a name with
// a bcrypt hash, and names are unique. A broken block stops the server at start, since an
// instructor who cannot oper up finds out in front of the class otherwise.
func validateOperators(cfg *ServerConfig) error {
	names := make(map[string]bool)
	for i, op := range cfg.Operators {
		where := fmt.Sprintf("config server.operators block %d", i+1)
		switch {
		case op.Account != "" && (op.Name != "" || op.PasswordHash != ""):
			return usageErrorf("%s: give either account, or name and password_hash, not both", where)
		case op.Account != "":
			if err := validateAccountName(op.Account); err != nil {
				return usageErrorf("%s: %v", where, err)
			}
		case op.Name == "" || op.PasswordHash == "":
			return usageErrorf("%s: needs account, or name and password_hash", where)
		case strings.ContainsAny(op.Name, " :\x00\r\n"):
			return usageErrorf("%s: name %q must be one word", where, op.Name)
		default:
			if _, err := bcrypt.Cost([]byte(op.PasswordHash)); err != nil {
				return usageErrorf("%s (%s): password_hash is not a bcrypt hash (%v); make one with labchat accounts hash-password", where, op.Name, err)
			}
			if names[casefold(op.Name)] {
				return usageErrorf("%s: name %q is used by an earlier block", where, op.Name)
			}
			names[casefold(op.Name)] = true
		}
	}
	return nil
}

// isOper reports whether c is a server operator. Callers hold s.mu or are c's processor.
func (c *Session) isOper() bool { return c.oper != "" }

// operAccount grants operator status to a registered session whose account has an operator
// block. Called at the welcome and after a login that completes later.
func (c *Session) operAccount() {
	if !c.registered || c.isOper() || c.account == "" {
		return
	}
	for _, op := range c.s.cfg.Operators {
		if op.Account != "" && casefold(op.Account) == casefold(c.account) {
			c.becomeOper("account " + c.account)
			return
		}
	}
	// `labchat accounts oper NAME` marks the account itself.
	if a, ok := c.s.accounts.Lookup(c.account); ok && a.Operator {
		c.becomeOper("account flag " + c.account)
	}
}

// becomeOper marks c an operator and tells it so: 381 and the user mode change +o.
func (c *Session) becomeOper(how string) {
	c.s.mu.Lock()
	c.oper = how
	c.s.mu.Unlock()
	c.reply(RPL_YOUREOPER, "You are now an IRC operator")
	c.sendMsg(&Message{Source: c.prefix(), Command: "MODE", Params: []string{c.nick, "+o"}})
	c.s.log.Info("oper up", "nick", c.nick, "by", how, "remote", c.ip)
}

// requireOper answers 481 to a non-operator and reports whether c may go on.
func (c *Session) requireOper(command string) bool {
	if c.isOper() {
		return true
	}
	c.reply(ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator ("+command+" is for operators)")
	return false
}

// handleOper is OPER <name> <password>. Failures count against the address like failed
// logins, so OPER cannot be used to guess passwords faster than login can.
func (c *Session) handleOper(m *Message) {
	s := c.s
	if len(m.Params) < 2 {
		c.reply(ERR_NEEDMOREPARAMS, "OPER", "Not enough parameters (OPER <name> <password>)")
		return
	}
	if c.isOper() {
		c.reply(RPL_YOUREOPER, "You are already an IRC operator")
		return
	}
	name, password := m.Params[0], m.Params[1]
	// An operator name counts like an account (a space keeps it apart from every account).
	att, wait, what := s.throttle.Begin("oper "+name, c.ip, time.Now())
	if att == nil {
		c.reply(ERR_PASSWDMISMATCH, "Too many failed attempts "+what+"; try again in "+retryIn(wait))
		return
	}
	var hash string
	for _, op := range s.cfg.Operators {
		if op.Name != "" && casefold(op.Name) == casefold(name) {
			hash = op.PasswordHash
		}
	}
	if hash == "" {
		s.log.Warn("oper refused", "nick", c.nick, "name", name, "remote", c.ip, "reason", "no such operator")
		c.reply(ERR_NOOPERHOST, "No operator block named "+name+" on this server")
		return
	}
	var mismatch error
	if err := withSlot(s.accounts.loginSlots, func() { mismatch = bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) }); err != nil {
		att.Void()
		c.reply(ERR_PASSWDMISMATCH, "Server busy; try again in a few seconds")
		return
	}
	if mismatch != nil {
		s.log.Warn("oper refused", "nick", c.nick, "name", name, "remote", c.ip, "reason", "wrong password")
		c.reply(ERR_PASSWDMISMATCH, "Password incorrect for operator "+name)
		return
	}
	att.Succeeded()
	c.becomeOper("name " + name)
}

// handleKill is KILL <nick> [<reason>]: the user's connection is closed with the reason, which
// it sees in its ERROR line and its rooms in its QUIT.
func (c *Session) handleKill(m *Message) {
	if !c.requireOper("KILL") {
		return
	}
	nick := m.Params[0]
	reason := m.Param(1)
	if reason == "" {
		reason = "no reason given"
	}
	reason = truncateUTF8(reason, maxTopicLen)
	c.s.mu.RLock()
	u := c.s.nicks[casefold(nick)]
	if u == nil {
		c.s.mu.RUnlock()
		c.reply(ERR_NOSUCHNICK, nick, "No such nick")
		return
	}
	targets := slices.Clone(u.sessions) // the user goes, with every connection of it
	tnick, tprefix := u.nick, u.first().prefix()
	c.s.mu.RUnlock()
	c.s.log.Warn("kill", "oper", c.nick, "target", tprefix, "reason", reason)
	for _, t := range targets {
		t.send([]byte(":" + c.prefix() + " KILL " + tnick + " :" + reason + "\r\n"))
		t.end("Killed by " + c.nick + " (" + reason + ")")
	}
	c.notice("Killed " + tnick + " (" + reason + ")")
}

// handleWallops sends a line to every user with user mode +w, and back to the operator.
func (c *Session) handleWallops(m *Message) {
	if !c.requireOper("WALLOPS") {
		return
	}
	text := m.Params[0]
	ev := newOutMsg(Message{Source: c.prefix(), Command: "WALLOPS", Params: []string{text}})
	s := c.s
	n := 0
	s.mu.RLock()
	for t := range s.sessions {
		if t != c && t.registered && t.wallops {
			t.send(ev.bytesFor(t.caps))
			n++
		}
	}
	s.mu.RUnlock()
	c.sendOwn(ev.bytesFor(c.caps))
	s.log.Info("wallops", "oper", c.nick, "recipients", n, "text", text)
}

// announce relays PRIVMSG or NOTICE to a server mask ($* or $<server glob>): to every
// connected user. Only operators may; nothing is logged to history, since it is no
// conversation anyone can ask for.
func (c *Session) announce(target string, ev Message, notice bool) {
	if !c.isOper() {
		if !notice {
			c.requireOper(ev.Command + " $*")
		}
		return
	}
	s := c.s
	if !wildcardMatch(casefold(target[1:]), casefold(s.cfg.Name)) {
		if !notice {
			c.reply(ERR_NOSUCHSERVER, target, "No such server (announce to everyone with $*)")
		}
		return
	}
	ev.Source = c.prefix()
	o := c.eventFrom(ev)
	if o.body == nil {
		c.replyTooLongToRelay(ev.Command, target, relayedLen(&ev))
		return
	}
	o.tagOnly = ev.Command == "TAGMSG"
	n := 0
	s.relayed.Add(1)
	s.mu.RLock()
	for t := range s.sessions {
		if t != c && t.registered {
			t.send(o.bytesFor(t.caps))
			n++
		}
	}
	s.mu.RUnlock()
	if c.caps&capEchoMessage != 0 {
		c.sendOwn(o.bytesFor(c.caps))
	}
	s.log.Info("announce", "oper", c.nick, "command", ev.Command, "recipients", n, "text", ev.Param(1))
}

// handleStats answers operators: STATS u (uptime) or, for any other query, labchat's own
// figures as 249 lines: connections, rooms, uptime, memory, messages relayed.
func (c *Session) handleStats(m *Message) {
	query := m.Param(0)
	if query == "" {
		query = "*"
	}
	if !c.requireOper("STATS") {
		return
	}
	s := c.s
	up := time.Since(s.created)
	if query == "u" {
		d := int(up.Hours()) / 24
		c.reply(RPL_STATSUPTIME, fmt.Sprintf("Server Up %d days %s", d, time.Time{}.Add(up%(24*time.Hour)).Format("15:04:05")))
		c.reply(RPL_ENDOFSTATS, query, "End of /STATS report")
		return
	}
	s.mu.RLock()
	total, registered, opers, accounts := len(s.sessions), 0, 0, 0
	for t := range s.sessions {
		if t.registered {
			registered++
		}
		if t.isOper() {
			opers++
		}
		if t.account != "" {
			accounts++
		}
	}
	rooms := len(s.rooms)
	s.mu.RUnlock()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for _, line := range []string{
		fmt.Sprintf("connections %d (registered %d, logged in %d, operators %d, not yet registered %d)", total, registered, accounts, opers, total-registered),
		fmt.Sprintf("rooms %d", rooms),
		"uptime " + up.Round(time.Second).String() + " (since " + s.created.UTC().Format(time.RFC3339) + ")",
		fmt.Sprintf("memory heap %s, from the OS %s, goroutines %d", mib(ms.HeapAlloc), mib(ms.Sys), runtime.NumGoroutine()),
		"messages relayed " + strconv.FormatUint(s.relayed.Load(), 10) + " (PRIVMSG, NOTICE and TAGMSG to rooms, users and $*)",
		"profile writes " + strconv.FormatUint(s.profiles.writes.Load(), 10) + " (rooms, contacts, display names at once; read markers at most one a second per account)",
	} {
		c.reply(RPL_STATSDEBUG, query, line)
	}
	if t := s.turn; t != nil {
		c.reply(RPL_STATSDEBUG, query, fmt.Sprintf("TURN relayed %d bytes, dropped %d over the per-user cap, allocations now %d", t.relayed.Load(), t.dropped.Load(), t.server.AllocationCount()))
	}
	c.reply(RPL_ENDOFSTATS, query, "End of /STATS report")
	s.log.Info("stats", "oper", c.nick, "query", query)
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// notice sends a server NOTICE to the client.
func (c *Session) notice(text string) {
	c.sendMsg(&Message{Source: c.s.cfg.Name, Command: "NOTICE", Params: []string{c.nickOrStar(), text}})
}
