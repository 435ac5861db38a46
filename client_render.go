package main

// Every numeric and command the client can receive, as a sentence. A student reads "alice
// has been idle 3 min, online since Tue 1 Dec 11:20", not "317 bob alice 180 1764588000 :seconds
// idle, signon time". numericSentences has one entry per numeric the server sends (the table
// test in client_render_test.go holds it to that); a numeric missing from it is shown by its
// text, never by its parameters. /raw still shows lines as received.

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// numericSentence renders the parameters after our nick; p[len(p)-1] is the trailing text.
// ok false: show nothing (ends of lists, machine data).
type numericSentence func(cs *clientSession, p []string) (text string, ok bool)

func say(format string, args ...any) (string, bool) { return fmt.Sprintf(format, args...), true }
func quiet(*clientSession, []string) (string, bool) { return "", false }
func trailing(_ *clientSession, p []string) (string, bool) {
	if len(p) == 0 {
		return "", false
	}
	return p[len(p)-1], true
}

// arg returns p[i], or "" when there is none.
func arg(p []string, i int) string {
	if i < len(p) {
		return p[i]
	}
	return ""
}

// roomOrNick names a target the way a sentence needs it.
func (cs *clientSession) nobody(name string) string {
	if cs.isRoom(name) {
		return "there is no room " + name
	}
	return "there is nobody called " + name + " online"
}

var numericSentences map[string]numericSentence

func init() {
	numericSentences = map[string]numericSentence{
		RPL_WELCOME: trailing, RPL_YOURHOST: trailing, RPL_CREATED: trailing,
		RPL_MYINFO: quiet, RPL_ISUPPORT: quiet,
		// LUSERS: the welcome says how many are here in one line (265), and operators and rooms.
		RPL_LUSERCLIENT: quiet, RPL_LUSERME: quiet, RPL_GLOBALUSERS: quiet,
		RPL_LUSEROP: func(_ *clientSession, p []string) (string, bool) {
			return say("%s server operator(s) online", arg(p, 0))
		},
		RPL_LUSERUNKNOWN:  quiet, // connections still logging in: nothing a user acts on
		RPL_LUSERCHANNELS: func(_ *clientSession, p []string) (string, bool) { return say("%s room(s) open", arg(p, 0)) },
		RPL_LOCALUSERS: func(_ *clientSession, p []string) (string, bool) {
			if len(p) < 3 {
				return trailing(nil, p)
			}
			return say("%s user(s) online now (the most so far: %s)", p[0], p[1])
		},
		RPL_MOTDSTART: quiet,
		RPL_MOTD: func(_ *clientSession, p []string) (string, bool) {
			return strings.TrimPrefix(strings.TrimPrefix(arg(p, 0), "-"), " "), true
		},
		RPL_ENDOFMOTD: quiet,
		ERR_NOMOTD:    func(*clientSession, []string) (string, bool) { return say("this server has no message of the day") },
		RPL_UMODEIS: func(_ *clientSession, p []string) (string, bool) {
			return say("your user modes: %s", describeUserModes(arg(p, 0)))
		},
		// WHOIS, WHOWAS
		RPL_WHOISUSER: func(cs *clientSession, p []string) (string, bool) {
			cs.noteRealname(arg(p, 0), arg(p, 4))
			return say("%s is connected from %s as %s", cs.withName(arg(p, 0)), arg(p, 2), arg(p, 1))
		},
		RPL_WHOWASUSER: func(cs *clientSession, p []string) (string, bool) {
			cs.whowas = true
			return say("%s (%s) was connected from %s as %s", arg(p, 0), arg(p, 4), arg(p, 2), arg(p, 1))
		},
		RPL_WHOISSERVER: func(cs *clientSession, p []string) (string, bool) {
			if cs.whowas {
				return say("%s was on %s, %s", arg(p, 0), arg(p, 1), arg(p, 2))
			}
			return say("%s is on server %s (%s)", arg(p, 0), arg(p, 1), arg(p, 2))
		},
		RPL_WHOISOPERATOR: func(_ *clientSession, p []string) (string, bool) { return say("%s is a server operator", arg(p, 0)) },
		RPL_WHOISIDLE: func(_ *clientSession, p []string) (string, bool) {
			idle, err1 := strconv.ParseInt(arg(p, 1), 10, 64)
			signon, err2 := strconv.ParseInt(arg(p, 2), 10, 64)
			if err1 != nil || err2 != nil {
				return say("%s: idle time unknown", arg(p, 0))
			}
			return say("%s has been idle %s, online since %s", arg(p, 0), humanDuration(time.Duration(idle)*time.Second), humanTime(time.Unix(signon, 0)))
		},
		RPL_WHOISCHANNELS: func(_ *clientSession, p []string) (string, bool) {
			return say("%s is in %s", arg(p, 0), describeMembers(strings.Fields(arg(p, 1))))
		},
		RPL_WHOISACCOUNT: func(_ *clientSession, p []string) (string, bool) {
			return say("%s is logged in as account %s", arg(p, 0), arg(p, 1))
		},
		RPL_WHOISBOT:   func(_ *clientSession, p []string) (string, bool) { return say("%s is a bot", arg(p, 0)) },
		RPL_ENDOFWHOIS: quiet,
		RPL_ENDOFWHOWAS: func(cs *clientSession, p []string) (string, bool) {
			cs.whowas = false
			return "", false
		},
		ERR_WASNOSUCHNICK: func(_ *clientSession, p []string) (string, bool) {
			return say("nobody called %s was here lately", arg(p, 0))
		},
		RPL_USERHOST: func(_ *clientSession, p []string) (string, bool) {
			var out []string
			for _, r := range strings.Fields(arg(p, 0)) {
				nick, rest, _ := strings.Cut(r, "=")
				nick = strings.TrimSuffix(nick, "*")
				state := "here"
				if strings.HasPrefix(rest, "-") {
					state = "away"
				}
				out = append(out, fmt.Sprintf("%s is %s (%s)", nick, strings.TrimLeft(rest, "+-"), state))
			}
			if len(out) == 0 {
				return say("none of them is online")
			}
			return strings.Join(out, "; "), true
		},
		RPL_ISON: func(_ *clientSession, p []string) (string, bool) {
			if strings.TrimSpace(arg(p, 0)) == "" {
				return say("none of them is online")
			}
			return say("online: %s", strings.Join(strings.Fields(arg(p, 0)), ", "))
		},
		// Rooms
		RPL_LISTSTART: func(*clientSession, []string) (string, bool) { return say("rooms on this server:") },
		RPL_LIST: func(_ *clientSession, p []string) (string, bool) {
			topic := ""
			if t := arg(p, 2); t != "" {
				topic = ": " + t
			}
			return say("  %s, %s member(s)%s", arg(p, 0), arg(p, 1), topic)
		},
		RPL_LISTEND: quiet,
		RPL_CHANNELMODEIS: func(_ *clientSession, p []string) (string, bool) {
			d := describeRoomModes(p[min(1, len(p)):])
			if d == "" {
				return say("%s has no modes set", arg(p, 0))
			}
			return say("%s is %s", arg(p, 0), d)
		},
		RPL_CREATIONTIME: func(_ *clientSession, p []string) (string, bool) {
			t, err := strconv.ParseInt(arg(p, 1), 10, 64)
			if err != nil {
				return "", false
			}
			return say("%s was created %s", arg(p, 0), humanTime(time.Unix(t, 0)))
		},
		RPL_NOTOPIC: func(_ *clientSession, p []string) (string, bool) { return say("%s has no topic", arg(p, 0)) },
		RPL_TOPIC: func(cs *clientSession, p []string) (string, bool) {
			if cs.isRejoining(arg(p, 0)) {
				return "", false
			}
			return say("topic of %s: %s", arg(p, 0), arg(p, 1))
		},
		RPL_TOPICWHOTIME: func(cs *clientSession, p []string) (string, bool) {
			t, err := strconv.ParseInt(arg(p, 2), 10, 64)
			if err != nil || cs.isRejoining(arg(p, 0)) {
				return "", false
			}
			return say("(the topic of %s was set by %s on %s)", arg(p, 0), nickOrMask(arg(p, 1)), humanTime(time.Unix(t, 0)))
		},
		RPL_INVITED:      func(_ *clientSession, p []string) (string, bool) { return say("you are invited to %s", arg(p, 0)) },
		RPL_ENDOFINVITED: quiet,
		RPL_INVITING: func(_ *clientSession, p []string) (string, bool) {
			return say("you invited %s to %s", arg(p, 0), arg(p, 1))
		},
		RPL_INVITELIST:      listEntry("may join without an invitation"),
		RPL_ENDOFINVITELIST: quiet,
		RPL_EXCEPTLIST:      listEntry("is exempt from the bans"),
		RPL_ENDOFEXCEPTLIST: quiet,
		RPL_BANLIST:         listEntry("is banned"),
		RPL_ENDOFBANLIST:    quiet,
		RPL_ENDOFNAMES:      quiet,
		RPL_ENDOFWHO:        quiet,
		RPL_WHOREPLY: func(_ *clientSession, p []string) (string, bool) {
			// me chan user host server nick flags :hops real
			state := "here"
			if strings.HasPrefix(arg(p, 5), "G") {
				state = "away"
			}
			where := ""
			if c := arg(p, 0); c != "*" && c != "" {
				where = " in " + c
			}
			real := arg(p, 6)
			if _, r, ok := strings.Cut(real, " "); ok {
				real = r
			}
			return say("%s (%s) is %s%s, connected from %s", arg(p, 4), real, state, where, arg(p, 2))
		},
		RPL_WHOSPCRPL: func(_ *clientSession, p []string) (string, bool) {
			return say("who: %s", strings.Join(p, ", "))
		},
		// Server information
		RPL_VERSION: func(_ *clientSession, p []string) (string, bool) {
			return say("server %s runs %s (%s)", arg(p, 1), arg(p, 0), arg(p, 2))
		},
		RPL_LINKS: func(_ *clientSession, p []string) (string, bool) {
			_, desc, _ := strings.Cut(arg(p, 2), " ")
			return say("server %s: %s", arg(p, 0), desc)
		},
		RPL_ENDOFLINKS: quiet,
		RPL_INFO:       trailing,
		RPL_ENDOFINFO:  quiet,
		RPL_TIME: func(_ *clientSession, p []string) (string, bool) {
			return say("time on %s: %s", arg(p, 0), arg(p, 1))
		},
		RPL_ADMINME:     func(_ *clientSession, p []string) (string, bool) { return say("about %s:", arg(p, 0)) },
		RPL_ADMINLOC1:   trailing,
		RPL_ADMINLOC2:   trailing,
		RPL_ADMINEMAIL:  func(_ *clientSession, p []string) (string, bool) { return say("administrator: %s", arg(p, 0)) },
		RPL_STATSUPTIME: trailing,
		RPL_STATSDEBUG:  func(_ *clientSession, p []string) (string, bool) { return say("stats: %s", arg(p, 1)) },
		RPL_ENDOFSTATS:  quiet,
		RPL_YOUREOPER: func(cs *clientSession, _ []string) (string, bool) {
			if cs.operSaid { // the MODE +o said it already
				cs.operSaid = false
				return "", false
			}
			cs.operSaid = true
			return say("you are now a server operator")
		},
		RPL_HELPSTART: func(_ *clientSession, p []string) (string, bool) { return arg(p, 1), true },
		RPL_HELPTXT:   func(_ *clientSession, p []string) (string, bool) { return "  " + arg(p, 1), true },
		RPL_ENDOFHELP: quiet,
		ERR_HELPNOTFOUND: func(_ *clientSession, p []string) (string, bool) {
			return say("no help for %s (HELP alone lists the commands)", arg(p, 0))
		},
		// Login
		RPL_LOGGEDIN:    quiet,
		RPL_LOGGEDOUT:   func(*clientSession, []string) (string, bool) { return say("you are logged out") },
		RPL_SASLSUCCESS: quiet,
		ERR_SASLALREADY: func(*clientSession, []string) (string, bool) { return say("you are already logged in") },
		ERR_NICKLOCKED:  func(*clientSession, []string) (string, bool) { return say("this account is locked") },
		ERR_SASLFAIL: func(*clientSession, []string) (string, bool) {
			return say("login refused: wrong account name or password")
		},
		ERR_SASLTOOLONG: func(*clientSession, []string) (string, bool) { return say("login refused: the password is too long") },
		ERR_SASLABORTED: func(*clientSession, []string) (string, bool) { return say("login cancelled") },
		RPL_SASLMECHS:   quiet,
		ERR_MONLISTFULL: func(_ *clientSession, p []string) (string, bool) {
			return say("the server watches at most %s users for you: %s not added", arg(p, 0), arg(p, 1))
		},
		// Errors
		ERR_NOSUCHNICK:    func(cs *clientSession, p []string) (string, bool) { return cs.nobody(arg(p, 0)), true },
		ERR_NOSUCHSERVER:  func(_ *clientSession, p []string) (string, bool) { return say("there is no server %s", arg(p, 0)) },
		ERR_NOSUCHCHANNEL: func(_ *clientSession, p []string) (string, bool) { return say("there is no room %s", arg(p, 0)) },
		ERR_CANNOTSENDTOCHAN: func(_ *clientSession, p []string) (string, bool) {
			return say("you cannot talk in %s: %s", arg(p, 0), strings.ToLower(arg(p, 1)))
		},
		ERR_TOOMANYCHANNELS: func(_ *clientSession, p []string) (string, bool) {
			return say("you cannot join %s: you are in too many rooms", arg(p, 0))
		},
		ERR_INVALIDCAPCMD: func(_ *clientSession, p []string) (string, bool) {
			return say("the server refused capability command %s", arg(p, 0))
		},
		ERR_NORECIPIENT:  func(*clientSession, []string) (string, bool) { return say("a message needs someone to go to") },
		ERR_NOTEXTTOSEND: func(*clientSession, []string) (string, bool) { return say("there was no text to send") },
		ERR_INPUTTOOLONG: func(*clientSession, []string) (string, bool) { return say("that line was too long for the server") },
		ERR_UNKNOWNCOMMAND: func(_ *clientSession, p []string) (string, bool) {
			return say("the server has no command %s", arg(p, 0))
		},
		ERR_NONICKNAMEGIVEN: func(*clientSession, []string) (string, bool) { return say("no nick was given") },
		ERR_ERRONEUSNICKNAME: func(_ *clientSession, p []string) (string, bool) {
			return say("%s cannot be a nick (letters, digits and -_[]\\`^{|}, not starting with a digit)", arg(p, 0))
		},
		ERR_NICKNAMEINUSE:    func(_ *clientSession, p []string) (string, bool) { return say("the nick %s is taken", arg(p, 0)) },
		"436":                func(_ *clientSession, p []string) (string, bool) { return say("the nick %s is taken", arg(p, 0)) },
		ERR_USERNOTINCHANNEL: func(_ *clientSession, p []string) (string, bool) { return say("%s is not in %s", arg(p, 0), arg(p, 1)) },
		ERR_NOTONCHANNEL:     func(_ *clientSession, p []string) (string, bool) { return say("you are not in %s", arg(p, 0)) },
		ERR_USERONCHANNEL: func(_ *clientSession, p []string) (string, bool) {
			return say("%s is already in %s", arg(p, 0), arg(p, 1))
		},
		ERR_NOTREGISTERED:     func(*clientSession, []string) (string, bool) { return say("log in first") },
		ERR_NEEDMOREPARAMS:    func(_ *clientSession, p []string) (string, bool) { return say("%s needs more parameters", arg(p, 0)) },
		ERR_ALREADYREGISTERED: func(*clientSession, []string) (string, bool) { return say("you are already logged in") },
		ERR_PASSWDMISMATCH:    func(*clientSession, []string) (string, bool) { return say("wrong password") },
		"465":                 func(*clientSession, []string) (string, bool) { return say("you are banned from this server") },
		ERR_KEYSET:            func(_ *clientSession, p []string) (string, bool) { return say("%s already has a key", arg(p, 0)) },
		ERR_CHANNELISFULL: func(_ *clientSession, p []string) (string, bool) {
			return say("you cannot join %s: it is full (its member limit is reached)", arg(p, 0))
		},
		ERR_UNKNOWNMODE: func(_ *clientSession, p []string) (string, bool) {
			return say("%s is not a mode this server knows", arg(p, 0))
		},
		ERR_INVITEONLYCHAN: func(_ *clientSession, p []string) (string, bool) {
			return say("you cannot join %s: it is invite-only (ask one of its operators to /invite you)", arg(p, 0))
		},
		ERR_BANNEDFROMCHAN: func(_ *clientSession, p []string) (string, bool) {
			return say("you cannot join %s: you are banned from it", arg(p, 0))
		},
		ERR_BADCHANNELKEY: func(_ *clientSession, p []string) (string, bool) {
			return say("you cannot join %s without its key: /join %s KEY", arg(p, 0), arg(p, 0))
		},
		ERR_BADCHANMASK: func(_ *clientSession, p []string) (string, bool) { return say("%s is not a room name", arg(p, 0)) },
		ERR_BANLISTFULL: func(_ *clientSession, p []string) (string, bool) { return say("the ban list of %s is full", arg(p, 0)) },
		ERR_NOPRIVILEGES: func(*clientSession, []string) (string, bool) {
			return say("only server operators can do that (/oper first)")
		},
		ERR_CHANOPRIVSNEEDED: func(_ *clientSession, p []string) (string, bool) {
			return say("only operators of %s can do that", arg(p, 0))
		},
		ERR_NOOPERHOST: func(*clientSession, []string) (string, bool) {
			return say("operator login refused: no operator entry matches you")
		},
		ERR_UMODEUNKNOWNFLAG: func(*clientSession, []string) (string, bool) { return say("that is not a user mode this server knows") },
		ERR_USERSDONTMATCH:   func(*clientSession, []string) (string, bool) { return say("you can only change your own user modes") },
		ERR_INVALIDMODEPARAM: func(_ *clientSession, p []string) (string, bool) {
			return say("mode %s of %s: %s", arg(p, 1), arg(p, 0), arg(p, len(p)-1))
		},
	}
}

func listEntry(what string) numericSentence {
	return func(_ *clientSession, p []string) (string, bool) {
		by := ""
		if len(p) >= 4 {
			if t, err := strconv.ParseInt(p[3], 10, 64); err == nil {
				by = fmt.Sprintf(" (set by %s on %s)", nickOrMask(p[2]), humanTime(time.Unix(t, 0)))
			}
		}
		return say("%s: %s %s%s", arg(p, 0), describeMask(arg(p, 1)), what, by)
	}
}

// describeMask reads a ban mask: $a:account, nick!*@*, or a full mask.
func describeMask(mask string) string {
	if acct, ok := strings.CutPrefix(mask, "$a:"); ok {
		return "account " + acct
	}
	if nick, ok := strings.CutSuffix(mask, "!*@*"); ok && !strings.ContainsAny(nick, "*?") {
		return nick
	}
	if host, ok := strings.CutPrefix(mask, "*!*@"); ok {
		return "anyone from " + host
	}
	return "whoever matches " + strings.ReplaceAll(mask, "*", "(anything)")
}

func nickOrMask(s string) string {
	if n := nickOf(s); n != "" {
		return n
	}
	return s
}

// describeMembers reads "@#lab +#talk #x" (a prefix is the user's rank there).
func describeMembers(rooms []string) string {
	if len(rooms) == 0 {
		return "no rooms"
	}
	out := make([]string, 0, len(rooms))
	for _, r := range rooms {
		switch {
		case strings.HasPrefix(r, "@"):
			out = append(out, r[1:]+" (operator)")
		case strings.HasPrefix(r, "+"):
			out = append(out, r[1:]+" (voice)")
		default:
			out = append(out, strings.TrimLeft(r, "~&%"))
		}
	}
	return strings.Join(out, ", ")
}

// humanDuration: "40 s", "3 min", "2 h 5 min", "3 days".
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		h := int(d.Hours())
		if m := int(d.Minutes()) % 60; m > 0 {
			return fmt.Sprintf("%d h %d min", h, m)
		}
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// humanTime is a local date a person reads: "Tue 1 Dec 2026 11:20".
func humanTime(t time.Time) string { return t.Local().Format("Mon 2 Jan 2006 15:04") }

var userModeNames = map[byte]string{
	'i': "invisible", 'o': "server operator", 'w': "receives wallops", 'B': "bot", 'r': "logged in", 'Z': "secure connection",
}

func describeUserModes(modes string) string {
	var out []string
	for i := 0; i < len(modes); i++ {
		if name, ok := userModeNames[modes[i]]; ok {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

var roomModeNames = map[byte]string{
	'n': "closed to messages from outside", 't': "topic set by operators only", 'm': "moderated (only operators and voiced members talk)",
	'i': "invite-only", 's': "secret", 'p': "private", 'u': "quiet (joins and leaves are not shown)", 'C': "closed to CTCP",
}

// describeRoomModes reads a 324 "+ntkl key 10".
func describeRoomModes(p []string) string {
	if len(p) == 0 {
		return ""
	}
	modes, args := strings.TrimPrefix(p[0], "+"), p[1:]
	var out []string
	for i := 0; i < len(modes); i++ {
		switch c := modes[i]; c {
		case 'k':
			out = append(out, "protected by a key")
			if len(args) > 0 {
				args = args[1:]
			}
		case 'l':
			out = append(out, "limited to "+arg(args, 0)+" members")
			if len(args) > 0 {
				args = args[1:]
			}
		default:
			if name, ok := roomModeNames[c]; ok {
				out = append(out, name)
			} else {
				out = append(out, "mode "+string(c))
			}
		}
	}
	return strings.Join(out, ", ")
}

// ---- commands other than numerics ----

func init() {
	for cmd, h := range map[string]func(cs *clientSession, m *Message, raw bool){
		"MODE":    (*clientSession).onMode,
		"INVITE":  (*clientSession).onInvite,
		"KILL":    (*clientSession).onKill,
		"WALLOPS": (*clientSession).onWallops,
	} {
		messageHandlers[cmd] = h
	}
}

// modeArgs are the room modes that take an argument when set (+) and when unset (-).
var modeArgs = map[bool]string{true: "ovhaqkbleI", false: "ovhaqbeIk"}

// onMode: ":bob MODE #lab +o-v carol dave" → one sentence per change.
func (cs *clientSession) onMode(m *Message, raw bool) {
	who, target := nickOf(m.Source), m.Param(0)
	if who == "" {
		who = "the server"
	}
	if !cs.isRoom(target) {
		self, modes := cs.isSelf(target), m.Param(1)
		if self && strings.HasPrefix(modes, "+") && strings.Contains(modes, "o") {
			if cs.operSaid { // 381 said it already
				cs.operSaid = false
				modes = strings.Replace(modes, "o", "", 1)
				if strings.Trim(modes, "+-") == "" {
					return
				}
			} else {
				cs.operSaid = true
			}
		}
		cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindInfo, Text: describeUserModeChange(self, target, modes)})
		return
	}
	args := m.Params[min(2, len(m.Params)):]
	adding := true
	for _, c := range m.Param(1) {
		if c == '+' || c == '-' {
			adding = c == '+'
			continue
		}
		a := ""
		if strings.ContainsRune(modeArgs[adding], c) && len(args) > 0 {
			a, args = args[0], args[1:]
		}
		if c == 'l' && adding && a == "" && len(args) > 0 {
			a, args = args[0], args[1:]
		}
		if text := describeRoomModeChange(who, target, adding, byte(c), a, cs.isSelf(a)); text != "" {
			cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindInfo, Text: text})
		}
	}
}

func describeRoomModeChange(who, room string, adding bool, mode byte, a string, aIsMe bool) string {
	subject := a
	if aIsMe {
		subject = "you"
	}
	give := func(what string) string {
		if adding {
			return who + " gave " + subject + " " + what + " in " + room
		}
		return who + " took " + what + " from " + subject + " in " + room
	}
	switch mode {
	case 'o':
		return give("operator rights")
	case 'v':
		return give("voice (may talk in a moderated room)")
	case 'h':
		return give("half-operator rights")
	case 'k':
		if adding {
			return who + " set a key on " + room + ": joining needs /join " + room + " " + a
		}
		return who + " removed the key of " + room
	case 'l':
		if adding {
			return who + " limited " + room + " to " + a + " members"
		}
		return who + " removed the member limit of " + room
	case 'b':
		if adding {
			return who + " banned " + describeMask(a) + " from " + room
		}
		return who + " lifted the ban on " + describeMask(a) + " in " + room
	case 'e':
		if adding {
			return who + " exempted " + describeMask(a) + " from the bans of " + room
		}
		return who + " removed the ban exemption of " + describeMask(a) + " in " + room
	case 'I':
		if adding {
			return who + " lets " + describeMask(a) + " join " + room + " without an invitation"
		}
		return who + " removed the invite exception of " + describeMask(a) + " in " + room
	}
	name, ok := roomModeNames[mode]
	if !ok {
		name = "mode " + string(mode)
	}
	if adding {
		return who + " made " + room + " " + name
	}
	return who + " made " + room + " no longer " + name
}

// userModeChanges say a user mode change: what set and what unset reads.
var userModeChanges = map[byte][2]string{
	'o': {"now a server operator", "no longer a server operator"},
	'w': {"now receiving wallops (operators' messages to everyone)", "no longer receiving wallops"},
	'i': {"now invisible (hidden from WHO lists of strangers)", "visible again"},
	'B': {"now marked as a bot", "no longer marked as a bot"},
}

func describeUserModeChange(self bool, nick, modes string) string {
	subject := nick + " is "
	if self {
		subject = "you are "
	}
	var out []string
	adding := true
	for i := 0; i < len(modes); i++ {
		c := modes[i]
		if c == '+' || c == '-' {
			adding = c == '+'
			continue
		}
		say, ok := userModeChanges[c]
		if !ok {
			say = [2]string{"now in user mode " + string(c), "no longer in user mode " + string(c)}
		}
		if adding {
			out = append(out, subject+say[0])
		} else {
			out = append(out, subject+say[1])
		}
	}
	return strings.Join(out, "; ")
}

// onInvite: an invitation to us, or (invite-notify) one to someone else in our room.
func (cs *clientSession) onInvite(m *Message, raw bool) {
	who, nick, room := nickOf(m.Source), m.Param(0), m.Param(1)
	text := who + " invited " + nick + " to " + room
	if cs.isSelf(nick) {
		text = who + " invites you to " + room + ": /join " + room
	}
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindInfo, Text: text})
}

// onKill: an operator disconnected us; the ERROR that follows ends the session for good.
func (cs *clientSession) onKill(m *Message, raw bool) {
	text := nickOrMask(m.Source) + " disconnected you from the server: " + m.Param(1)
	if !cs.isSelf(m.Param(0)) {
		text = nickOrMask(m.Source) + " disconnected " + m.Param(0) + ": " + m.Param(1)
	}
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindError, Text: text})
}

func (cs *clientSession) onWallops(m *Message, raw bool) {
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindNotice, From: nickOrMask(m.Source), Text: "[to operators and +w users] " + m.Param(0), direct: true})
}

func (cs *clientSession) isRejoining(room string) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.rejoining[clientFold(room)]
}
