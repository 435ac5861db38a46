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
	return cs.sendCmd("MODE", room, mode, banMask(who))
}

func cmdKey(cs *clientSession, args string) error {
	room, key, ok := cs.roomAndRest("key", args)
	if !ok {
		return nil
	}
	switch {
	case key == "off":
		return cs.sendCmd("MODE", room, "-k", "*")
	case !cs.oneWord("key", key):
		return nil
	}
	return cs.sendCmd("MODE", room, "+k", key)
}

func cmdLimit(cs *clientSession, args string) error {
	room, n, ok := cs.roomAndRest("limit", args)
	if !ok {
		return nil
	}
	if n == "off" {
		return cs.sendCmd("MODE", room, "-l")
	}
	if v, err := strconv.Atoi(n); err != nil || v < 1 {
		cs.complain("usage: /limit [#ROOM] N|off (N: the most members, at least 1)")
		return nil
	}
	return cs.sendCmd("MODE", room, "+l", n)
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
