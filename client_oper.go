package main

// Slash commands for operators and account holders (issue 12): /oper, /kill, /announce,
// /invite, /ban and /unban, /key, /limit, /mode, /passwd. Passwords are asked with a no-echo
// prompt, never typed in the line (which goes into the input history). The server's answers
// are rendered as sentences by client_render.go; NickServ's come as its notices.

import (
	"errors"
	"strconv"
	"strings"
)

// askSecret asks for a password without echo; set by the interactive prompt.
func (cs *clientSession) askSecret(question string) (string, error) {
	cs.mu.Lock()
	ask := cs.secretPrompt
	cs.mu.Unlock()
	if ask == nil {
		return "", errors.New("no terminal to ask on")
	}
	return ask(question)
}

func cmdOper(cs *clientSession, args string) error {
	name, rest, _ := strings.Cut(args, " ")
	if rest != "" {
		cs.complain("usage: /oper NAME (the password is asked next, so it is not kept in your input history)")
		return nil
	}
	if name == "" {
		name = cs.myNick()
	}
	if !cs.oneWord("oper", name) {
		return nil
	}
	pw, err := cs.askSecret("Operator password for " + name + ": ")
	if err != nil || pw == "" {
		cs.complain("/oper cancelled: no password given")
		return nil
	}
	if strings.Contains(pw, " ") {
		cs.complain("/oper: an operator password cannot contain a space")
		return nil
	}
	return cs.sendCmd("OPER", name, pw)
}

func cmdKill(cs *clientSession, args string) error {
	nick, why, _ := strings.Cut(args, " ")
	if !cs.oneWord("kill", nick) {
		return nil
	}
	if why = strings.TrimSpace(why); why == "" {
		why = "removed by an operator"
	}
	return cs.sendCmd("KILL", nick, why)
}

// cmdAnnounce sends a notice to everyone connected: NOTICE $* (operators only).
func cmdAnnounce(cs *clientSession, args string) error {
	if strings.TrimSpace(args) == "" {
		cs.complain("usage: /announce TEXT (to everyone connected; operators only)")
		return nil
	}
	return cs.sendCmd("NOTICE", "$*", args)
}

// roomAndRest reads "[#ROOM] REST": the room defaults to the target when it is a room.
func (cs *clientSession) roomAndRest(cmd, args string) (room, rest string, ok bool) {
	first, more, _ := strings.Cut(args, " ")
	if cs.isRoom(first) {
		room, rest = first, strings.TrimSpace(more)
	} else {
		room, rest = cs.currentTarget(), args
	}
	if !cs.isRoom(room) {
		c, _ := findSlashCommand(cmd)
		cs.complain("usage: /" + c.name + " " + c.args + " (the target is not a room: name one)")
		return "", "", false
	}
	return room, rest, true
}

func cmdInvite(cs *clientSession, args string) error {
	nick, rest, _ := strings.Cut(args, " ")
	if !cs.oneWord("invite", nick) {
		return nil
	}
	room := strings.TrimSpace(rest)
	if room == "" {
		room = cs.currentTarget()
	}
	if !cs.isRoom(room) || !cs.oneWord("invite", room) {
		cs.complain("usage: /invite NICK [#ROOM] (default: the current room)")
		return nil
	}
	return cs.sendCmd("INVITE", nick, room)
}

// confirmed sends a room command and waits for the server to take it. Typed from outside
// the room, the change is not echoed to us (the server tells only the members), so when no
// error came back, done is said in our own words; inside the room the echo says it.
func (cs *clientSession) confirmed(room, command string, params []string, done string) error {
	cs.mu.Lock()
	errorsBefore := cs.lineErrors
	cs.mu.Unlock()
	if err := cs.sendCmd(command, params...); err != nil {
		return err
	}
	if err := cs.roundTrip("confirm"); err != nil {
		return err
	}
	cs.mu.Lock()
	refused := cs.lineErrors != errorsBefore
	cs.mu.Unlock()
	if !refused && done != "" && !cs.joined(room) {
		cs.note(done)
	}
	return nil
}

// banMask turns a nick into nick!*@*; masks and $a:account stay as they are.
func banMask(s string) string {
	if strings.ContainsAny(s, "!@$*?") {
		return s
	}
	return s + "!*@*"
}

func cmdBan(cs *clientSession, args string) error   { return banOrUnban(cs, "ban", "+b", args) }
func cmdUnban(cs *clientSession, args string) error { return banOrUnban(cs, "unban", "-b", args) }

func banOrUnban(cs *clientSession, cmd, mode, args string) error {
	room, who, ok := cs.roomAndRest(cmd, args)
	if !ok {
		return nil
	}
	if who == "" && mode == "+b" {
		return cs.sendCmd("MODE", room, "+b") // the ban list
	}
	if !cs.oneWord(cmd, who) {
		return nil
	}
	done := "you banned " + describeMask(banMask(who)) + " from " + room
	if mode == "-b" {
		done = "you lifted the ban on " + describeMask(banMask(who)) + " in " + room
	}
	return cs.confirmed(room, "MODE", []string{room, mode, banMask(who)}, done)
}

func cmdKey(cs *clientSession, args string) error {
	room, key, ok := cs.roomAndRest("key", args)
	if !ok {
		return nil
	}
	switch {
	case key == "off":
		return cs.confirmed(room, "MODE", []string{room, "-k", "*"}, "you removed the key of "+room)
	case !cs.oneWord("key", key):
		return nil
	}
	return cs.confirmed(room, "MODE", []string{room, "+k", key}, "you set a key on "+room+": joining needs /join "+room+" "+key)
}

func cmdLimit(cs *clientSession, args string) error {
	room, n, ok := cs.roomAndRest("limit", args)
	if !ok {
		return nil
	}
	if n == "off" {
		return cs.confirmed(room, "MODE", []string{room, "-l"}, "you removed the member limit of "+room)
	}
	if v, err := strconv.Atoi(n); err != nil || v < 1 {
		cs.complain("usage: /limit [#ROOM] N|off (N: the most members, at least 1)")
		return nil
	}
	return cs.confirmed(room, "MODE", []string{room, "+l", n}, "you limited "+room+" to "+n+" members")
}

// cmdMode: /mode alone shows the target room's modes; /mode [#ROOM|NICK] CHANGES [ARGS].
func cmdMode(cs *clientSession, args string) error {
	fields := strings.Fields(args)
	if len(fields) == 0 || fields[0][0] == '+' || fields[0][0] == '-' {
		target := cs.currentTarget()
		if !cs.isRoom(target) {
			target = cs.myNick()
		}
		fields = append([]string{target}, fields...)
	}
	if cs.isRoom(fields[0]) && len(fields) > 1 {
		return cs.confirmed(fields[0], "MODE", fields, describeOwnModeChange(fields[0], fields[1], fields[2:]))
	}
	return cs.sendCmd("MODE", fields...)
}

// cmdPasswd changes one's own password through NickServ, as any IRC client does.
func cmdPasswd(cs *clientSession, args string) error {
	if args != "" {
		cs.complain("usage: /passwd (the passwords are asked next, so they are not kept in your input history)")
		return nil
	}
	old, err := cs.askSecret("Current password: ")
	if err != nil || old == "" {
		cs.complain("/passwd cancelled")
		return nil
	}
	pw, err := cs.askSecret("New password: ")
	if err != nil || pw == "" {
		cs.complain("/passwd cancelled")
		return nil
	}
	again, err := cs.askSecret("New password again: ")
	if err != nil || again != pw {
		cs.complain("/passwd: the two new passwords differ; nothing changed")
		return nil
	}
	if strings.Contains(old+pw, " ") {
		cs.complain("/passwd: passwords with spaces cannot be changed this way (NickServ PASSWD takes two words)")
		return nil
	}
	if err := cs.sendCmd("PRIVMSG", "NickServ", "PASSWD "+old+" "+pw); err != nil {
		return err
	}
	cs.opts.password = pw // a reconnect logs in with the new one
	return nil
}

// describeOwnModeChange says a room mode change we made, as the echo would ("you made #lab
// invite-only; you gave carol voice ...").
func describeOwnModeChange(room, modes string, args []string) string {
	var out []string
	adding := true
	for _, c := range modes {
		if c == '+' || c == '-' {
			adding = c == '+'
			continue
		}
		a := ""
		if strings.ContainsRune(modeArgs[adding], c) && len(args) > 0 {
			a, args = args[0], args[1:]
		}
		if text := describeRoomModeChange("you", room, adding, byte(c), a, false); text != "" {
			out = append(out, text)
		}
	}
	return strings.Join(out, "; ")
}
