package main

// ChanServ: room ownership, as irssi, weechat and ergo users know it. Like NickServ it is no
// client: the server answers PRIVMSG ChanServ (and the CHANSERV / CS commands) with NOTICEs.
//
//	INFO <#room>                 founder, operator accounts, topic and modes kept
//	OP <#room> <account>         the founder makes an account an operator for good
//	DEOP <#room> <account>       and takes that back
//	TRANSFER <#room> <account>   the founder hands the room over
//	DROP <#room>                 the founder gives the room up (it keeps its history)
//	TAKEOVER <#room>             a server operator becomes the founder of any room
//	HELP                         the list above
//
// What they change is in the room's file (roomstate.go) and takes effect at once: the
// accounts' connections in the room get or lose @ with a MODE line from ChanServ.

import (
	"slices"
	"strconv"
	"strings"
)

const chanServ = "ChanServ"

var chanServHelp = []string{
	"ChanServ keeps who owns the rooms of this server. Commands:",
	"INFO <#room> - show a room's founder, operators and kept modes",
	"OP <#room> <account> - (founder) make an account an operator of the room: @ whenever it joins",
	"DEOP <#room> <account> - (founder) take that back",
	"TRANSFER <#room> <account> - (founder) hand the room over to another account",
	"DROP <#room> - (founder) give the room up: no founder, no operator accounts (history stays)",
	"TAKEOVER <#room> - (server operator) become the room's founder",
	"The founder's /mode #room +o nick does what OP does. Type them as /msg ChanServ <command>.",
}

func (c *Session) chanServSource() string {
	return chanServ + "!" + chanServ + "@" + c.s.cfg.ServicesName
}

func (c *Session) csNotice(text string) {
	c.sendMsg(&Message{Source: c.chanServSource(), Command: "NOTICE", Params: []string{c.nick, text}})
}

func (c *Session) handleChanServCommand(m *Message) {
	c.chanServ(strings.Join(m.Params, " "))
}

// chanServ runs one line sent to ChanServ.
func (c *Session) chanServ(text string) {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		c.csNotice("Send HELP for the commands.")
		return
	}
	cmd, args := strings.ToUpper(fields[0]), fields[1:]
	need := map[string]int{"INFO": 1, "OP": 2, "DEOP": 2, "TRANSFER": 2, "DROP": 1, "TAKEOVER": 1}
	if n, known := need[cmd]; known && len(args) != n {
		c.csNotice("Syntax: " + strings.TrimSuffix(strings.SplitN(chanServHelpFor(cmd), " - ", 2)[0], " ") + " (/msg ChanServ HELP)")
		return
	}
	switch cmd {
	case "HELP":
		for _, line := range chanServHelp {
			c.csNotice(line)
		}
	case "INFO":
		c.csInfo(args[0])
	case "OP", "DEOP":
		c.csChange(args[0], func(r *Room) (string, bool) {
			a, ok := c.s.accounts.Lookup(args[1])
			if !ok {
				return "There is no account named " + args[1] + ".", false
			}
			if !r.setOpAccountLocked(a.Name, cmd == "OP") {
				return a.Name + " is already " + map[bool]string{true: "an", false: "not an"}[cmd == "OP"] + " operator account of " + r.name + ".", false
			}
			c.s.setAccountOpLocked(r, a.Name, cmd == "OP")
			return a.Name + map[bool]string{true: " is now an operator of ", false: " is no longer an operator of "}[cmd == "OP"] + r.name + ".", true
		}, false)
	case "TRANSFER":
		c.csChange(args[0], func(r *Room) (string, bool) {
			a, ok := c.s.accounts.Lookup(args[1])
			if !ok {
				return "There is no account named " + args[1] + ".", false
			}
			old := r.founder
			r.founder = a.Name
			r.opAccounts = slices.DeleteFunc(r.opAccounts, func(o string) bool { return casefold(o) == casefold(a.Name) })
			r.setOpAccountLocked(old, true) // the old founder stays an operator unless deopped
			c.s.setAccountOpLocked(r, a.Name, true)
			return r.name + " now belongs to " + a.Name + " (" + old + " stays an operator; DEOP to change that).", true
		}, false)
	case "DROP":
		c.csChange(args[0], func(r *Room) (string, bool) {
			r.founder, r.opAccounts = "", nil
			return r.name + " has no founder now; its history, topic and modes stay.", true
		}, false)
	case "TAKEOVER":
		c.csChange(args[0], func(r *Room) (string, bool) {
			old := r.founder
			r.founder = c.account
			c.s.setAccountOpLocked(r, c.account, true)
			c.s.log.Info("room takeover", "oper", c.nick, "account", c.account, "room", r.name, "old_founder", old)
			return "You are now the founder of " + r.name + " (it was " + nameOrNone(old) + ").", true
		}, true)
	default:
		c.csNotice("Unknown command " + fields[0] + ". Commands: INFO, OP, DEOP, TRANSFER, DROP, TAKEOVER, HELP (/msg ChanServ HELP).")
	}
}

func chanServHelpFor(cmd string) string {
	for _, l := range chanServHelp[1:] {
		if strings.HasPrefix(l, cmd+" ") {
			return l
		}
	}
	return cmd
}

func nameOrNone(s string) string {
	if s == "" {
		return "no one's"
	}
	return s + "'s"
}

// csChange runs a founder's (or, with operOnly, a server operator's) change of a room,
// then saves the room.
func (c *Session) csChange(name string, fn func(*Room) (string, bool), operOnly bool) {
	s := c.s
	if c.account == "" {
		c.csNotice("Log in first: rooms belong to accounts.")
		return
	}
	s.mu.Lock()
	r := s.rooms[casefold(name)]
	if r == nil {
		s.mu.Unlock()
		c.csNotice("No room " + name + " is open (join it first).")
		return
	}
	isFounder := r.founder != "" && casefold(r.founder) == casefold(c.account)
	switch {
	case operOnly && !c.isOper():
		s.mu.Unlock()
		c.csNotice("Only a server operator can take a room over (OPER, or an operator account).")
		return
	case !operOnly && !isFounder && !c.isOper():
		text := "Only the founder of " + r.name + " (" + nameOrNone(r.founder) + " room) can do that."
		s.mu.Unlock()
		c.csNotice(text)
		return
	}
	text, changed := fn(r)
	s.mu.Unlock()
	if changed {
		s.saveRoom(r)
	}
	c.csNotice(text)
}

// setAccountOpLocked gives (or takes) @ to the account's connections in r, with a MODE line
// from ChanServ to the room. s.mu must be write-locked.
func (s *Server) setAccountOpLocked(r *Room, account string, op bool) {
	u := s.accountUsers[casefold(account)]
	in := r.sessionsOfLocked(u)
	if len(in) == 0 {
		return
	}
	changed := false
	for _, t := range in {
		has := r.members[t]&memberOp != 0
		if has != op {
			changed = true
			if op {
				r.members[t] |= memberOp
			} else {
				r.members[t] &^= memberOp
			}
		}
	}
	if changed {
		sign := map[bool]string{true: "+o", false: "-o"}[op]
		src := chanServ + "!" + chanServ + "@" + s.cfg.ServicesName
		ev := newOutMsg(Message{Source: src, Command: "MODE", Params: []string{r.name, sign, u.nick}})
		for m := range r.members {
			if b := ev.bytesFor(m.caps); b != nil {
				m.send(b)
			}
		}
	}
}

// csInfo shows what the room's file keeps.
func (c *Session) csInfo(name string) {
	s := c.s
	s.mu.RLock()
	var rec *roomRecord
	if r := s.rooms[casefold(name)]; r != nil && (!r.modeS || r.members[c] != 0 || c.isOper() || r.accountIsOpLocked(c)) {
		rec = r.recordLocked()
	} else if r == nil {
		if saved := s.roomRecords[casefold(name)]; saved != nil && !strings.Contains(saved.Modes, "s") {
			rec = saved
		}
	}
	s.mu.RUnlock()
	if rec == nil {
		c.csNotice(name + " is not a room ChanServ can tell you about.")
		return
	}
	c.csNotice("Room " + rec.Name + ": founder " + strings.TrimSuffix(nameOrNone(rec.Founder), "'s"))
	if len(rec.Ops) > 0 {
		c.csNotice("Operators: " + strings.Join(rec.Ops, ", "))
	}
	c.csNotice("Modes kept: " + rec.Modes + map[bool]string{true: " (with a key)", false: ""}[rec.Key != ""])
	if len(rec.Bans) > 0 {
		c.csNotice("Bans kept: " + strconv.Itoa(len(rec.Bans)))
	}
}
