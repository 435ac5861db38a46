package main

// The rest of the standard: the informational commands (WHOWAS, TIME, VERSION, ADMIN, INFO,
// LINKS, HELP), SETNAME, the bot user mode (+B) and the server-target check they share.
// Everything here reads or writes state under Server.mu like the commands in commands.go.

import (
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxWhowas bounds the WHOWAS memory: the most recent departures (quits and nick changes)
// are kept, the oldest forgotten. About 200 bytes each, so 100 KB at most.
const maxWhowas = 500

// whowasEntry is one nick as it was when its user left or renamed.
type whowasEntry struct {
	nick, user, host, realname, account string
	at                                  time.Time
}

// whowasRing is the WHOWAS history, oldest first; guarded by Server.mu.
type whowasRing struct {
	entries []whowasEntry
	next    int // where the next entry goes once the ring is full
}

func (w *whowasRing) add(e whowasEntry) {
	if len(w.entries) < maxWhowas {
		w.entries = append(w.entries, e)
		return
	}
	w.entries[w.next] = e
	w.next = (w.next + 1) % maxWhowas
}

// newestFirst calls fn for each entry from the most recent, until fn returns false.
func (w *whowasRing) newestFirst(fn func(*whowasEntry) bool) {
	n := len(w.entries)
	for i := range n {
		// The newest entry is just before next (or last while the ring is filling).
		idx := (w.next - 1 - i + 2*n) % n
		if !fn(&w.entries[idx]) {
			return
		}
	}
}

// rememberLocked records c's current nick for WHOWAS; s.mu must be write-locked.
func (c *Session) rememberLocked() {
	if !c.registered || c.nick == "" {
		return
	}
	c.s.whowas.add(whowasEntry{nick: c.nick, user: c.userOrNick(), host: c.hostname(), realname: c.realname, account: c.account, at: time.Now()})
}

// handleWhowas answers WHOWAS <nick>[,<nick>...] [count [server]]: 314 and 312 per entry,
// most recent first, up to count (a count of 0 or less means all), or 406; then 369.
func (c *Session) handleWhowas(m *Message) {
	if m.Param(0) == "" {
		c.reply(ERR_NONICKNAMEGIVEN, "No nickname given (WHOWAS <nick> [count])")
		return
	}
	count := 0
	if n, err := strconv.Atoi(m.Param(1)); err == nil {
		count = n
	}
	if t := m.Param(2); t != "" && !c.s.isThisServer(t) {
		c.reply(ERR_NOSUCHSERVER, t, "No such server")
		return
	}
	s := c.s
	for _, nick := range strings.Split(m.Params[0], ",") {
		if nick == "" {
			continue
		}
		mask := casefold(nick)
		var found []whowasEntry
		s.mu.RLock()
		s.whowas.newestFirst(func(e *whowasEntry) bool {
			if wildcardMatch(mask, casefold(e.nick)) {
				found = append(found, *e)
			}
			return count <= 0 || len(found) < count
		})
		s.mu.RUnlock()
		if len(found) == 0 {
			c.reply(ERR_WASNOSUCHNICK, nick, "There was no such nickname")
		}
		for _, e := range found {
			c.reply(RPL_WHOWASUSER, e.nick, e.user, e.host, "*", e.realname)
			c.reply(RPL_WHOISSERVER, e.nick, s.cfg.Name, "left "+e.at.UTC().Format(time.RFC1123))
		}
		c.reply(RPL_ENDOFWHOWAS, nick, "End of WHOWAS")
	}
}

// isThisServer reports whether a command's <server> target names this server: its name, a
// mask matching it, or the nick of a user on it (labchat is a network of one server).
func (s *Server) isThisServer(target string) bool {
	if wildcardMatch(casefold(target), casefold(s.cfg.Name)) {
		return true
	}
	return !strings.ContainsAny(target, "*?") && s.findUser(target) != nil
}

// serverTargetOK checks the optional <target> of TIME, VERSION, ADMIN, INFO, LUSERS and
// MOTD, replying 402 when it names another server.
func (c *Session) serverTargetOK(m *Message, i int) bool {
	if m == nil {
		return true
	}
	if t := m.Param(i); t != "" && !c.s.isThisServer(t) {
		c.reply(ERR_NOSUCHSERVER, t, "No such server (this network has one: "+c.s.cfg.Name+")")
		return false
	}
	return true
}

func (c *Session) handleTime(m *Message) {
	if !c.serverTargetOK(m, 0) {
		return
	}
	now := time.Now()
	c.reply(RPL_TIME, c.s.cfg.Name, now.Format("Monday January 2 2006 -- 15:04:05 -07:00")+" ("+now.UTC().Format(time.RFC3339)+")")
}

// serverVersion is "labchat-<module version>[-<commit>]", from the build information.
func serverVersion() string {
	v, rev := "dev", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, st := range bi.Settings {
			if st.Key == "vcs.revision" && len(st.Value) >= 7 {
				rev = "-" + st.Value[:7]
			}
		}
	}
	return "labchat-" + v + rev
}

// handleVersion sends 351 and, as modern IRC does, the ISUPPORT tokens again.
func (c *Session) handleVersion(m *Message) {
	if !c.serverTargetOK(m, 0) {
		return
	}
	c.reply(RPL_VERSION, serverVersion(), c.s.cfg.Name, "labchat IRC server for socket-programming labs")
	c.sendISupport()
}

func (c *Session) sendISupport() {
	tokens := c.s.isupport
	if tok := c.turnToken(); tok != "" {
		tokens = append(slices.Clone(tokens), tok)
	}
	if ft := c.filehostTokens(); ft != nil {
		tokens = append(slices.Clone(tokens), ft...)
	}
	for i := 0; i < len(tokens); i += 12 {
		part := tokens[i:min(i+12, len(tokens))]
		c.reply(RPL_ISUPPORT, append(slices.Clone(part), "are supported by this server")...)
	}
}

func (c *Session) handleAdmin(m *Message) {
	if !c.serverTargetOK(m, 0) {
		return
	}
	cfg := &c.s.cfg
	c.reply(RPL_ADMINME, cfg.Name, "Administrative info")
	c.reply(RPL_ADMINLOC1, cfg.Description)
	c.reply(RPL_ADMINLOC2, "Network "+cfg.Network+", one server running "+serverVersion())
	c.reply(RPL_ADMINEMAIL, cfg.AdminContact)
}

// infoText is INFO's answer: what the server is and where to read more.
var infoText = []string{
	"labchat: an IRC chat server, client and UDP toolkit for socket-programming labs.",
	"It speaks IRC (RFC 1459/2812) with IRCv3 extensions; any IRC client works,",
	"and Wireshark decodes its traffic on port 6667.",
	"Type HELP for the commands, HELP <command> for one of them.",
	"Accounts: REGISTER, SASL PLAIN or PASS account:password; /msg NickServ HELP.",
}

func (c *Session) handleInfo(m *Message) {
	if !c.serverTargetOK(m, 0) {
		return
	}
	c.reply(RPL_INFO, serverVersion()+" on "+c.s.cfg.Name+", up since "+c.s.created.UTC().Format(time.RFC1123))
	for _, line := range infoText {
		c.reply(RPL_INFO, line)
	}
	c.reply(RPL_ENDOFINFO, "End of /INFO list")
}

// handleLinks lists the one server of the network: LINKS [[remote] mask].
func (c *Session) handleLinks(m *Message) {
	s := c.s
	mask := ""
	if len(m.Params) > 0 {
		mask = m.Params[len(m.Params)-1]
	}
	if mask == "" || wildcardMatch(casefold(mask), casefold(s.cfg.Name)) {
		c.reply(RPL_LINKS, s.cfg.Name, s.cfg.Name, "0 "+s.cfg.Description)
	}
	// NickServ's name, one hop away as services are on real networks (built in here).
	if mask == "" || wildcardMatch(casefold(mask), casefold(s.cfg.ServicesName)) {
		c.reply(RPL_LINKS, s.cfg.ServicesName, s.cfg.Name, "1 Account services (NickServ), built into "+s.cfg.Name)
	}
	if mask == "" {
		mask = "*"
	}
	c.reply(RPL_ENDOFLINKS, mask, "End of /LINKS list")
}

// ---- SETNAME (IRCv3 setname) ----

// maxRealnameLen bounds a realname set with SETNAME (ISUPPORT NAMELEN would advertise it).
const maxRealnameLen = 200

// handleSetname changes the realname and tells the user and its room peers that have the
// setname cap.
func (c *Session) handleSetname(m *Message) {
	name := m.Params[0]
	if name == "" || len(name) > maxRealnameLen {
		c.fail("SETNAME", "INVALID_REALNAME", "Realname must be 1 to "+strconv.Itoa(maxRealnameLen)+" bytes")
		return
	}
	s := c.s
	s.mu.Lock()
	c.realname = name
	ev := newOutMsg(Message{Source: c.prefix(), Command: "SETNAME", Params: []string{name}})
	ev.account, ev.bot = c.account, c.bot
	s.pushPresenceLocked(c, ev, capSetname) // room peers, and MONITOR watchers with extended-monitor
	s.mu.Unlock()
	c.saveDisplayName(name)
	if c.caps&capSetname != 0 {
		c.sendOwn(ev.bytesFor(c.caps))
	} else {
		c.sendLine(":" + s.cfg.Name + " NOTICE " + c.nick + " :Your realname is now: " + name)
	}
}

// ---- HELP ----

// helpTopics holds a help text per command: the first line is the syntax, the rest explain.
// Students type HELP; HELP <command> shows one entry.
var helpTopics = map[string][]string{
	"ADMIN":        {"ADMIN", "Who runs this server and how to reach them."},
	"AUTHENTICATE": {"AUTHENTICATE PLAIN", "SASL login during CAP negotiation; clients do it for you", "(set your account and password in the client's SASL settings)."},
	"AWAY":         {"AWAY [:message]", "Marks you away with a message (others see it when they message you);", "AWAY alone marks you back."},
	"BATCH":        {"BATCH +<ref> draft/multiline <target> ... BATCH -<ref>", "Sends the PRIVMSG (or NOTICE) lines tagged @batch=<ref> between them as ONE", "message of many lines (draft/multiline; limits in the cap value). A line tagged", "draft/multiline-concat joins the one before without a line break."},
	"CAP":          {"CAP LS 302 | CAP REQ :<caps> | CAP LIST | CAP END", "IRCv3 capability negotiation, done by your client before it connects."},
	"CHATHISTORY":  {"CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN|TARGETS <target> ...", "Replays the messages of a room you are in or of your own direct messages."},
	"SEARCH":       {"SEARCH :text=<words>[;in=<#room|nick>][;from=<nick>][;limit=<n>]", "Searches the messages you may read (your rooms and your own DMs); needs the", "soju.im/search capability. Values escape a space as \\s and ';' as \\:."},
	"HELP":         {"HELP [command]", "HELP lists the commands; HELP <command> explains one."},
	"INFO":         {"INFO", "What this server is."},
	"INVITE":       {"INVITE <nick> <#room> | INVITE", "Invites someone into a room you are in (into a +i room: operators only);", "the invitation lets them in once, past +i, +k, +l and bans. INVITE alone", "lists the rooms you are invited to."},
	"ISON":         {"ISON <nick> [<nick> ...]", "Which of these nicks are online now."},
	"JOIN":         {"JOIN <#room>[,<#room>...] [key[,key...]]", "Enters a room (and creates it if nobody is in it: you become its operator,", "except in the lobby, which server operators run). A room may need a key (+k),", "an INVITE (+i) or room (+l); 471/473/474/475 say why not. JOIN 0 leaves every room."},
	"KICK":         {"KICK <#room> <nick> [:reason]", "Removes someone from a room you are an operator (@) of."},
	"LINKS":        {"LINKS", "Lists the servers of the network (here: one)."},
	"LIST":         {"LIST [#room,...|>n|<n|C<n|C>n|T<n|T>n]", "Lists the rooms, with their member counts and topics; C and T filter by minutes", "since the room was created and since its topic was set."},
	"LUSERS":       {"LUSERS", "How many users, rooms and unregistered connections there are, and the peak."},
	"MODE":         {"MODE <#room> [+|-modes [args]] | MODE <nick> [+|-iwB]", "Shows or changes room modes or your own user modes. Room: i invite-only,", "k <key>, l <count>, m moderated, n no outside messages, s secret, t topic by", "operators, u quiet (no join/part lines), C no CTCP but /me, b/e/I <nick!user@host or $a:account>", "ban, ban exception, invite exception (MODE #room b lists bans), o/v <nick>.", "User: +i invisible, +w wallops, +B bot, -o stop being an operator."},
	"METADATA":     {"METADATA <target|*> GET|LIST|SET|CLEAR|SUB|UNSUB|SUBS|SYNC [key [:value]]", "Keys on users and rooms (display-name, avatar, color, url): your own, your room's", "as its operator. SUB <keys> tells you when they change (draft/metadata-3)."},
	"MONITOR":      {"MONITOR + <nick>[,...] | - <nick>[,...] | C | L | S", "Tells you when these nicks come online or leave."},
	"MOTD":         {"MOTD", "Shows the message of the day."},
	"NAMES":        {"NAMES <#room>[,<#room>...]", "Lists a room's members (up to 4 rooms); @ marks operators, + voiced members."},
	"NICK":         {"NICK <newnick>", "Changes your nick. A nick registered as an account is its owner's."},
	"CHANSERV":     {"CHANSERV <command> or PRIVMSG ChanServ :<command>", "Room ownership: INFO, OP, DEOP, TRANSFER, DROP, TAKEOVER. /msg ChanServ HELP."},
	"MARKREAD":     {"MARKREAD <target> [timestamp=YYYY-MM-DDThh:mm:ss.sssZ]", "Gets or moves your read marker in a conversation (draft/read-marker); every device of your account is told."},
	"NICKSERV":     {"NICKSERV <command> or PRIVMSG NickServ :<command>", "Account services: IDENTIFY, REGISTER, PASSWD, INFO. /msg NickServ HELP."},
	"NOTICE":       {"NOTICE <target> :<text>", "Like PRIVMSG, but never answered automatically."},
	"OPER":         {"OPER <name> <password>", "Become a server operator with an operator block's name and password", "(an operator account is one as soon as it logs in)."},
	"KILL":         {"KILL <nick> [:reason]", "Operators: disconnects a user; the reason is shown to them and their rooms."},
	"WALLOPS":      {"WALLOPS :<text>", "Operators: a message to every user with user mode +w."},
	"CHGHOST":      {"CHGHOST <nick> <host>", "Operators: shows <host> instead of the user's address (to hide a student's IP, say).", "Clients with the chghost cap are told at once."},
	"STATS":        {"STATS [u]", "Operators: connections, rooms, uptime, memory and messages relayed."},
	"PART":         {"PART <#room>[,<#room>...] [:reason]", "Leaves a room."},
	"PASS":         {"PASS <password> | PASS <account>:<password>", "The server password, or a login, sent before NICK and USER."},
	"PING":         {"PING <token>", "The server answers PONG <token>: a way to measure the round trip."},
	"PRIVMSG":      {"PRIVMSG <target>[,<target>...] :<text>", "Sends a message to a room (#room), a person (nick), or to a room's", "operators only (@#room) or operators and voiced members (+#room).", "A message to an offline account waits for its next login."},
	"QUIT":         {"QUIT [:reason]", "Disconnects; the reason is shown to your rooms."},
	"REDACT":       {"REDACT <target> <msgid> [:reason]", "Deletes a message: your own, any in a room you are an operator of, any at all", "as a server operator. History stops serving it (draft/message-redaction)."},
	"REGISTER":     {"REGISTER <account> <email|*> <password>", "Creates an account named like your nick (IRCv3 account-registration)."},
	"TAGMSG":       {"TAGMSG <target>", "A message with only tags: @+typing=active (typing), @+draft/reply=<msgid>;+draft/react=👍", "(a reaction); needs message-tags."},
	"SETNAME":      {"SETNAME :<realname>", "Changes your realname (the name WHOIS shows); logged in, it is your display name on every device (张三, Zoë)."},
	"TIME":         {"TIME", "The server's local time."},
	"TOPIC":        {"TOPIC <#room> [:topic]", "Shows or sets a room's topic (operators only under +t)."},
	"USER":         {"USER <username> 0 * :<realname>", "Part of connecting: your username and realname."},
	"USERHOST":     {"USERHOST <nick> [<nick> ...]", "The user@host of up to five nicks; - after = means away."},
	"VERSION":      {"VERSION", "The server's version and the features it supports (ISUPPORT)."},
	"WHO":          {"WHO <#room|mask> [%fields]", "Lists users; flags: H here, G away, * server operator, B bot, @ and + room privileges."},
	"WHOIS":        {"WHOIS <nick>", "Who someone is: user@host, realname, rooms, account, idle time."},
	"WHOWAS":       {"WHOWAS <nick> [count]", "Who last used a nick that is gone now."},
}

// helpAliases are commands documented under another entry.
var helpAliases = map[string]string{"HELPOP": "HELP", "NS": "NICKSERV", "CS": "CHANSERV"}

func (c *Session) handleHelp(m *Message) {
	subject := strings.ToUpper(m.Param(0))
	if subject == "" {
		c.helpIndex()
		return
	}
	if alias, ok := helpAliases[subject]; ok {
		subject = alias
	}
	text, ok := helpTopics[subject]
	if !ok {
		c.reply(ERR_HELPNOTFOUND, m.Param(0), "No help for "+m.Param(0)+"; HELP lists the commands")
		return
	}
	c.reply(RPL_HELPSTART, subject, text[0])
	for _, line := range text[1:] {
		c.reply(RPL_HELPTXT, subject, line)
	}
	c.reply(RPL_ENDOFHELP, subject, "End of /HELP")
}

// helpIndex lists the commands that have help, several to a line.
func (c *Session) helpIndex() {
	var names []string
	for name := range commandTable {
		if _, ok := helpTopics[name]; ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	c.reply(RPL_HELPSTART, "index", "labchat commands (HELP <command> for one of them):")
	for chunk := range slices.Chunk(names, 8) {
		c.reply(RPL_HELPTXT, "index", strings.Join(chunk, " "))
	}
	c.reply(RPL_HELPTXT, "index", "Account services: /msg NickServ HELP")
	c.reply(RPL_ENDOFHELP, "index", "End of /HELP")
}

// ---- bot mode (IRCv3 bot-mode, ISUPPORT BOT=B) ----

// botFlag is WHO's flag letter for a bot.
func (c *Session) botFlag() string {
	if c.bot {
		return "B"
	}
	return ""
}

// ---- STATUSMSG: PRIVMSG @#room (operators) and +#room (operators and voiced) ----

// statusTarget splits "@#room" or "+#room" into the prefix and the room name.
func statusTarget(target string) (byte, string, bool) {
	if len(target) > 2 && (target[0] == '@' || target[0] == '+') && target[1] == '#' {
		return target[0], target[1:], true
	}
	return 0, "", false
}

// relayToStatus sends a message to the members of a room holding at least the privilege
// the prefix names. Whoever may speak in the room may send it. It is not written to the
// room's history: CHATHISTORY would show it to every member.
func (c *Session) relayToStatus(status byte, name string, ev Message, notice bool) {
	s := c.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.rooms[casefold(name)]
	if !ok {
		if !notice {
			c.reply(ERR_NOSUCHCHANNEL, name, "No such channel")
		}
		return
	}
	if why := r.cannotSendLocked(c); why != "" {
		if !notice {
			c.reply(ERR_CANNOTSENDTOCHAN, r.name, "Cannot send to channel ("+why+")")
		}
		return
	}
	want := memberOp
	if status == '+' {
		want |= memberVoice
	}
	ev.Source = c.prefix()
	ev.Params[0] = string(status) + r.name
	o := c.eventFrom(ev)
	if o.body == nil {
		c.replyTooLongToRelay(ev.Command, ev.Params[0], relayedLen(&ev))
		return
	}
	o.tagOnly = ev.Command == "TAGMSG"
	echo := c.caps&capEchoMessage != 0
	r.relayMu.Lock()
	for m, modes := range r.members {
		if m != c && modes&want != 0 {
			if b := o.bytesFor(m.caps); b != nil {
				m.send(b)
			}
		}
	}
	r.relayMu.Unlock()
	if echo {
		c.sendOwn(o.bytesFor(c.caps))
	}
}

// relayedLen is the length of ev on the wire, CRLF included, without tags.
func relayedLen(ev *Message) int {
	n := 1 + len(ev.Source) + 1 + len(ev.Command) + 2
	for _, p := range ev.Params {
		n += 1 + len(p)
	}
	return n + 1 // the ':' before the text
}

// ---- extended-join ----

// broadcastJoinLocked tells the room that c joined: "JOIN #room", or with extended-join
// "JOIN #room <account|*> :<realname>". s.mu must be held; c is the caller's own session.
func (r *Room) broadcastJoinLocked(c *Session) {
	plain := c.eventFrom(Message{Source: c.prefix(), Command: "JOIN", Params: []string{r.name}})
	var extended *outMsg
	for m := range r.members {
		if !r.showsPresenceLocked(c, m) {
			continue // a quiet room (+u) keeps plain members' arrivals from plain members
		}
		o := plain
		if m.caps&capExtendedJoin != 0 {
			if extended == nil {
				account := c.account
				if account == "" {
					account = "*"
				}
				extended = c.eventFrom(Message{Source: c.prefix(), Command: "JOIN", Params: []string{r.name, account, c.realname}})
			}
			o = extended
		}
		if b := o.bytesFor(m.caps); b != nil {
			m.sendFrom(c, b)
		}
	}
}

// ---- CHGHOST (operators) and the IRCv3 chghost cap ----

// hostname is the host part of c's prefix: its address, unless an operator set another.
// Callers hold s.mu or are c's processor.
func (c *Session) hostname() string {
	if c.host != "" {
		return c.host
	}
	return c.ip
}

// validHost accepts what fits a prefix's host: letters, digits, '.', '-', ':' and '/',
// at most 63 bytes, not starting with ':' or '-'.
func validHost(h string) bool {
	if h == "" || len(h) > 63 || h[0] == ':' || h[0] == '-' {
		return false
	}
	for i := 0; i < len(h); i++ {
		b := h[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || isDigit(b) || strings.IndexByte(".-:/", b) >= 0) {
			return false
		}
	}
	return true
}

// handleChghost is CHGHOST <nick> <host>, for operators: the user is shown with that host
// from now on, and its peers with the chghost cap get ":nick!user@old CHGHOST user host".
func (c *Session) handleChghost(m *Message) {
	if !c.requireOper("CHGHOST") {
		return
	}
	nick, host := m.Params[0], m.Params[1]
	if !validHost(host) {
		c.fail("CHGHOST", "INVALID_HOST", host, "A host is 1 to 63 letters, digits, '.', '-', ':' or '/'")
		return
	}
	s := c.s
	s.mu.Lock()
	u := s.nicks[casefold(nick)]
	if u == nil {
		s.mu.Unlock()
		c.reply(ERR_NOSUCHNICK, nick, "No such nick")
		return
	}
	// Every connection of the user gets the host; the event is the one its peers know it by.
	t := u.first()
	old := t.hostname()
	ev := t.eventFrom(Message{Source: t.prefix(), Command: "CHGHOST", Params: []string{t.userOrNick(), host}})
	for _, own := range u.sessions {
		own.host = host
		if host == own.ip {
			own.host = ""
		}
		if own.caps&capChghost != 0 {
			own.sendFrom(c, ev.bytesFor(own.caps))
		}
	}
	s.pushPresenceLocked(t, ev, capChghost) // room peers, and MONITOR watchers with extended-monitor
	tnick := u.nick
	s.mu.Unlock()
	s.log.Info("chghost", "oper", c.nick, "nick", tnick, "from", old, "to", host)
	c.sendLine(":" + s.cfg.Name + " NOTICE " + c.nick + " :" + tnick + " is now shown as " + tnick + "@" + host)
}
