package main

// The IRC command table and the handlers for connection registration, login and the
// user-level queries. Room commands live in room.go, message relay in relay.go.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// command is one entry of the command table; handleLine checks registration and the
// parameter count once for all of them.
type command struct {
	run       func(c *Session, m *Message)
	minParams int
	preReg    bool // usable before connection registration completes
}

var commandTable map[string]command

func init() {
	// Assigned in init: the handlers refer back to the table through handleLine.
	commandTable = map[string]command{
		"CAP":          {run: (*Session).handleCap, minParams: 1, preReg: true},
		"PASS":         {run: (*Session).handlePass, minParams: 1, preReg: true},
		"NICK":         {run: (*Session).handleNick, preReg: true},
		"USER":         {run: (*Session).handleUser, minParams: 4, preReg: true},
		"AUTHENTICATE": {run: (*Session).handleAuthenticate, minParams: 1, preReg: true},
		"REGISTER":     {run: (*Session).handleRegister, minParams: 3, preReg: true},
		"PING":         {run: (*Session).handlePing, minParams: 1, preReg: true},
		"PONG":         {run: func(*Session, *Message) {}, preReg: true},
		"QUIT":         {run: (*Session).handleQuit, preReg: true},
		"PRIVMSG":      {run: (*Session).handlePrivmsg},
		"NOTICE":       {run: (*Session).handlePrivmsg},
		"TAGMSG":       {run: (*Session).handlePrivmsg},
		"BATCH":        {run: (*Session).handleBatch, minParams: 1},
		"REDACT":       {run: (*Session).handleRedact, minParams: 2},
		"JOIN":         {run: (*Session).handleJoin, minParams: 1},
		"PART":         {run: (*Session).handlePart, minParams: 1},
		"NAMES":        {run: (*Session).handleNames},
		"TOPIC":        {run: (*Session).handleTopic, minParams: 1},
		"LIST":         {run: (*Session).handleList},
		"KICK":         {run: (*Session).handleKick, minParams: 2},
		"MODE":         {run: (*Session).handleMode, minParams: 1},
		"WHO":          {run: (*Session).handleWho},
		"WHOIS":        {run: (*Session).handleWhois, minParams: 1},
		"ISON":         {run: (*Session).handleIson, minParams: 1},
		"USERHOST":     {run: (*Session).handleUserhost, minParams: 1},
		"MOTD":         {run: (*Session).handleMotd},
		"LUSERS":       {run: (*Session).handleLusers},
		"CHATHISTORY":  {run: (*Session).handleChathistory, minParams: 1},
		"SEARCH":       {run: (*Session).handleSearch, minParams: 1},
		"AWAY":         {run: (*Session).handleAway},
		"MONITOR":      {run: (*Session).handleMonitor, minParams: 1},
		"OPER":         {run: (*Session).handleOper, minParams: 1},
		"KILL":         {run: (*Session).handleKill, minParams: 1},
		"WALLOPS":      {run: (*Session).handleWallops, minParams: 1},
		"STATS":        {run: (*Session).handleStats},
		"WHOWAS":       {run: (*Session).handleWhowas},
		"TIME":         {run: (*Session).handleTime},
		"VERSION":      {run: (*Session).handleVersion},
		"ADMIN":        {run: (*Session).handleAdmin},
		"INFO":         {run: (*Session).handleInfo},
		"LINKS":        {run: (*Session).handleLinks},
		"HELP":         {run: (*Session).handleHelp},
		"HELPOP":       {run: (*Session).handleHelp},
		"SETNAME":      {run: (*Session).handleSetname, minParams: 1},
		"INVITE":       {run: (*Session).handleInvite},
		"NICKSERV":     {run: (*Session).handleNickServCommand, minParams: 1},
		"NS":           {run: (*Session).handleNickServCommand, minParams: 1},
		"CHGHOST":      {run: (*Session).handleChghost, minParams: 2},
		"METADATA":     {run: (*Session).handleMetadata, preReg: true},
		"MARKREAD":     {run: (*Session).handleMarkread},
		"CHANSERV":     {run: (*Session).handleChanServCommand, minParams: 1},
		"CS":           {run: (*Session).handleChanServCommand, minParams: 1},
	}
}

// ---- connection registration ----

func (c *Session) handleCap(m *Message) {
	sub := strings.ToUpper(m.Params[0])
	switch sub {
	case "LS":
		if !c.registered {
			c.capNegotiating = true
		}
		if v, err := strconv.Atoi(m.Param(1)); err == nil && v > c.capVersion {
			c.capVersion = v
		}
		if c.capVersion >= 302 && c.caps&capCapNotify == 0 {
			c.s.mu.Lock()
			c.caps |= capCapNotify // implied by CAP LS 302, so CAP LIST shows it
			c.s.mu.Unlock()
		}
		c.capReply("LS", c.capList(c.capVersion >= 302))
	case "LIST":
		var names []string
		for _, cn := range capNames {
			if c.caps&cn.bit != 0 {
				names = append(names, cn.name)
			}
		}
		c.capReply("LIST", strings.Join(names, " "))
	case "REQ":
		if !c.registered {
			c.capNegotiating = true
		}
		c.capRequest(m.Param(1))
	case "END":
		if !c.registered && c.capNegotiating {
			c.capNegotiating = false
			c.tryRegister()
		}
	default:
		c.reply(ERR_INVALIDCAPCMD, m.Params[0], "Invalid CAP subcommand")
	}
}

func (c *Session) capReply(sub, list string) {
	m := Message{Source: c.s.cfg.Name, Command: "CAP", Params: []string{c.nickOrStar(), sub, list}}
	c.sendMsg(&m)
}

func (c *Session) capList(withValues bool) string {
	var b strings.Builder
	for _, cn := range capNames {
		if !c.s.offersCap(cn.bit) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(cn.name)
		if v := c.capValue(cn.bit); withValues && v != "" {
			b.WriteString("=" + v)
		}
	}
	return b.String()
}

func (c *Session) capValue(bit capSet) string {
	cfg := &c.s.cfg
	switch bit {
	case capSASL:
		return "PLAIN"
	case capAccountRegistration:
		var v []string
		if cfg.RegistrationBeforeConnect {
			v = append(v, "before-connect")
		}
		if cfg.RegistrationRequiresEmail {
			v = append(v, "email-required")
		}
		return strings.Join(v, ",")
	case capMultiline:
		return "max-bytes=" + strconv.Itoa(multilineMaxBytes) + ",max-lines=" + strconv.Itoa(multilineMaxLines)
	case capMetadata:
		return "before-connect,max-subs=" + strconv.Itoa(metadataMaxSubs) + ",max-keys=" + strconv.Itoa(metadataMaxKeys) + ",max-value-bytes=" + strconv.Itoa(metadataMaxValueBytes)
	}
	return ""
}

// capRequest grants all of a CAP REQ or none of it, as the spec requires.
func (c *Session) capRequest(list string) {
	add, del := capSet(0), capSet(0)
	for name := range strings.FieldsSeq(list) {
		remove := strings.HasPrefix(name, "-")
		bit := capBit(strings.TrimPrefix(name, "-"))
		if bit == 0 || !c.s.offersCap(bit) || (remove && bit == capCapNotify && c.capVersion >= 302) {
			c.capReply("NAK", list)
			return
		}
		if remove {
			del |= bit
		} else {
			add |= bit
		}
	}
	c.s.mu.Lock()
	c.caps = (c.caps | add) &^ del
	c.s.mu.Unlock()
	c.capReply("ACK", list)
}

func capBit(name string) capSet {
	for _, cn := range capNames {
		if cn.name == name {
			return cn.bit
		}
	}
	return 0
}

func (c *Session) handlePass(m *Message) {
	if c.registered {
		c.reply(ERR_ALREADYREGISTERED, "You may not reregister")
		return
	}
	c.pendingPass = m.Params[0]
	if c.s.cfg.Password != "" {
		c.serverPassOK = c.pendingPass == c.s.cfg.Password
	}
}

func (c *Session) handleUser(m *Message) {
	if c.registered {
		c.reply(ERR_ALREADYREGISTERED, "You may not reregister")
		return
	}
	if c.user != "" {
		return // a repeated USER before registration changes nothing
	}
	user := m.Params[0]
	if user == "" || strings.ContainsAny(user, "@!") {
		c.reply(ERR_NEEDMOREPARAMS, "USER", "Invalid username")
		return
	}
	if m.Params[3] == "" {
		c.reply(ERR_NEEDMOREPARAMS, "USER", "Empty realname (USER <username> 0 * :<realname>)")
		return
	}
	if len(user) > 16 {
		user = truncateUTF8(user, 16)
	}
	c.s.mu.Lock()
	c.user, c.realname = "~"+user, m.Params[3]
	c.s.mu.Unlock()
	c.tryRegister()
}

func (c *Session) handleNick(m *Message) {
	nick := m.Param(0)
	if nick == "" {
		c.reply(ERR_NONICKNAMEGIVEN, "No nickname given")
		return
	}
	if err := c.s.validNick(nick); err != nil {
		c.reply(ERR_ERRONEUSNICKNAME, nick, "Erroneous nickname: "+err.Error())
		return
	}
	if isServiceNick(nick) {
		c.reply(ERR_ERRONEUSNICKNAME, nick, "Nickname is reserved for a service (/msg "+nickServ+" HELP)")
		return
	}
	// An account of that name from before the names were reserved keeps its nick.
	if svc := reservedServiceName(nick); svc != "" && c.s.accountOwning(nick) == "" {
		c.reply(ERR_ERRONEUSNICKNAME, nick, "Nickname is reserved: it is or looks like the service "+svc+"; choose another nick")
		return
	}
	if c.registered {
		c.changeNick(nick)
		return
	}
	if code, text := c.s.claimNick(c, nick); code != "" {
		c.reply(code, nick, text)
		return
	}
	c.tryRegister()
}

// validNick accepts RFC 2812 nicks: a letter or special, then letters, digits, specials, '-'.
func (s *Server) validNick(nick string) error {
	if len(nick) > s.cfg.NickLen {
		return fmt.Errorf("longer than %d characters", s.cfg.NickLen)
	}
	for i := 0; i < len(nick); i++ {
		c := nick[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		special := strings.IndexByte("[]\\`_^{|}", c) >= 0
		if c >= 0x80 && utf8.ValidString(nick) {
			return fmt.Errorf("%w; put %s in your display name (SETNAME)", nickCharError(nick[i:], i == 0), nick)
		}
		if !letter && !special && (i == 0 || !(isDigit(c) || c == '-')) {
			return nickCharError(nick[i:], i == 0)
		}
	}
	return nil
}

// nickCharError names the first character of rest that a nick may not hold as the user
// typed it (a whole UTF-8 character, not its first byte) and by its code point, so that a
// look-alike such as Cyrillic 'а' (U+0430) is told apart from the Latin letter.
func nickCharError(rest string, first bool) error {
	r, size := utf8.DecodeRuneInString(rest)
	where := "in a nick"
	if first && (isDigit(rest[0]) || rest[0] == '-') {
		where = "at the start of a nick" // allowed after it
	}
	switch {
	case r == utf8.RuneError && size <= 1:
		return fmt.Errorf("byte 0x%02X (not UTF-8) is not allowed in a nick", rest[0])
	case !unicode.IsPrint(r):
		return fmt.Errorf("character U+%04X is not allowed in a nick", r)
	}
	return fmt.Errorf("character '%c' (U+%04X) is not allowed %s", r, r, where)
}

// claimNick gives nick to an unregistered session if nobody else holds it. Two kinds of nick
// are not claimed but left provisional, decided at registration: one an account's user is
// online with (this connection may turn out to be one more of it), and one registered to an
// account, which only its owner gets. So a connection that sends NICK alice and never logs in
// cannot keep alice out.
func (s *Server) claimNick(c *Session, nick string) (code, text string) {
	key := casefold(nick)
	reserved := s.accountOwning(nick) != ""
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.nicks[key]; u != nil && u.account == "" {
		return ERR_NICKNAMEINUSE, "Nickname is already in use"
	} else if u == nil && !reserved {
		if holder := s.claims[key]; holder != nil && holder != c {
			return ERR_NICKNAMEINUSE, "Nickname is already in use"
		}
		c.releaseNickLocked()
		s.claims[key] = c
		c.nick, c.nickProvisional = nick, false
		return "", ""
	}
	c.releaseNickLocked()
	c.nick, c.nickProvisional = nick, true
	return "", ""
}

// releaseNickLocked frees the nick an unregistered session claimed; s.mu must be held.
func (c *Session) releaseNickLocked() {
	if c.nick != "" && !c.nickProvisional && c.s.claims[casefold(c.nick)] == c {
		delete(c.s.claims, casefold(c.nick))
	}
}

// changeNick renames a registered user and tells everyone who shares a room with them.
func (c *Session) changeNick(nick string) {
	s := c.s
	key := casefold(nick)
	if owner := s.accountOwning(nick); owner != "" && (c.account == "" || casefold(c.account) != key) {
		c.reply(ERR_NICKNAMEINUSE, nick, "Nickname is registered to an account; log in to use it")
		return
	}
	s.mu.Lock()
	c.adoptNickLocked() // a rename on another connection, not yet taken: c.nick must be current
	if u, holder := s.nicks[key], s.claims[key]; u != nil && u != c.u || holder != nil {
		s.mu.Unlock()
		c.reply(ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
		return
	}
	if c.nick == nick || c.gone {
		s.mu.Unlock()
		return
	}
	// The nick is the user's: every connection of it is renamed and told.
	ev := newOutMsg(Message{Source: c.prefix(), Command: "NICK", Params: []string{nick}})
	for peer := range c.peersLocked() {
		peer.send(ev.bytesFor(peer.caps))
	}
	c.sendToOwnLocked(ev)
	delete(s.nicks, casefold(c.u.nick))
	s.nicks[key] = c.u
	old := c.nick
	c.rememberLocked()
	c.u.nick = nick
	c.nick = nick
	for _, own := range c.u.sessions {
		if own != c {
			own.renameLocked(nick)
		}
	}
	c.nickChangedLocked(old)
	s.mu.Unlock()
}

// accountOwning returns the name of the account called nick, if there is one.
func (s *Server) accountOwning(nick string) string {
	if a, ok := s.accounts.Lookup(nick); ok {
		return a.Name
	}
	return ""
}

// peersLocked is every session of another user sharing a room with any connection of c's
// user: who sees the nick. s.mu must be held.
func (c *Session) peersLocked() map[*Session]struct{} {
	peers := make(map[*Session]struct{})
	for _, own := range c.ownSessionsLocked() {
		for r := range own.rooms {
			for m := range r.members {
				if !m.sameUser(c) {
					peers[m] = struct{}{}
				}
			}
		}
	}
	return peers
}

// tryRegister completes connection registration once everything it needs has arrived.
func (c *Session) tryRegister() {
	if c.registered || c.nick == "" || c.user == "" || c.capNegotiating {
		return
	}
	if c.saslActive {
		// SASL 3.1: registration completed mid-exchange aborts it; the client goes on unauthenticated.
		c.saslReset()
		c.reply(ERR_SASLABORTED, "SASL authentication aborted")
	}
	cfg := &c.s.cfg
	if cfg.Password != "" && !c.serverPassOK {
		c.reply(ERR_PASSWDMISMATCH, "Password incorrect (this server needs its server password: PASS)")
		c.end("Bad server password")
		return
	}
	if c.account == "" && cfg.Password == "" && c.pendingPass != "" {
		if !c.loginWithPass() {
			return
		}
	}
	if c.pendingPass != "" {
		c.pendingPass = "" // done with it; do not keep a password around
	}
	if cfg.RequireLogin && c.account == "" {
		c.askForLogin()
		return
	}
	if !c.settleNick() {
		return
	}
	c.s.mu.Lock()
	c.s.countPeakLocked()
	c.registeredLocked()
	c.s.mu.Unlock()
	c.welcome()
	c.cameOnline()
}

// askForLogin explains, once, why a client that never logged in is not welcomed.
func (c *Session) askForLogin() {
	if c.toldLoginRequired {
		return
	}
	c.toldLoginRequired = true
	text := "This server requires an account: log in with SASL PLAIN or PASS account:password" +
		" (create one with REGISTER <name> * <password>, or labchat connect --register)"
	c.fail("*", "ACCOUNT_REQUIRED", text)
	c.sendLine(":" + c.s.cfg.Name + " NOTICE " + c.nickOrStar() + " :*** " + text)
}

// settleNick completes registration in the registry: a connection logged in to an account
// that is online already becomes one more connection of that user (with its nick, whatever
// NICK it sent); otherwise the nick must be free and not an account's it did not log in to.
// It reports false, with a 433, when the client must send another NICK.
func (c *Session) settleNick() bool {
	s := c.s
	key := casefold(c.nick)
	owner := s.accountOwning(c.nick)
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.accountUsers[casefold(c.account)]; c.account != "" && u != nil {
		c.releaseNickLocked()
		s.attachLocked(c, u)
		return true
	}
	text := ""
	switch {
	case owner != "" && casefold(c.account) != casefold(owner):
		text = "Nickname is registered to an account; log in to use it, or choose another nick"
	case s.nicks[key] != nil || s.claims[key] != nil && s.claims[key] != c:
		text = "Nickname is already in use"
	}
	if text != "" {
		nick := c.nick
		c.releaseNickLocked()
		c.nick, c.nickProvisional = "", false
		c.reply(ERR_NICKNAMEINUSE, nick, text)
		return false
	}
	c.releaseNickLocked()
	c.nickProvisional = false
	s.attachLocked(c, nil)
	return true
}

func (c *Session) welcome() {
	s := c.s
	cfg := &s.cfg
	c.reply(RPL_WELCOME, "Welcome to the "+cfg.Network+" IRC network, "+c.prefix())
	c.reply(RPL_YOURHOST, "Your host is "+cfg.Name+", running labchat")
	c.reply(RPL_CREATED, "This server was created "+s.created.UTC().Format(time.RFC1123))
	c.reply(RPL_MYINFO, cfg.Name, serverVersion(), "Biow", "CIbeiklmnostuv", "Ibeklov")
	c.sendISupport()
	c.handleLusers(nil)
	c.handleMotd(nil)
	c.applyPreregMetadata()
	if c.account != "" {
		c.sendPreviousLogin()
		c.deliverOffline()
	}
	c.operAccount()
	if away := c.awayMessage(); away != "" {
		c.reply(RPL_NOWAWAY, "You have been marked as being away (set on another connection: "+away+")")
	}
}

// ---- login ----

// loginWithPass logs in with PASS account:password, or PASS password for the account named
// like the nick. It reports false when the login failed (the session is then ending).
func (c *Session) loginWithPass() bool {
	name, password, ok := strings.Cut(c.pendingPass, ":")
	if !ok {
		name, password = c.nick, c.pendingPass
	}
	c.pendingPass = ""
	if err := c.login(name, password); err != nil {
		c.reply(ERR_PASSWDMISMATCH, "Password incorrect: "+loginErrorText(name, err))
		c.end("Login failed: " + loginErrorText(name, err))
		return false
	}
	return true
}

// login checks a password and marks the session logged in (its user is settled at
// registration, or here when it logs in after the welcome). Failures count against the account from the client's address, and against the
// address (loginThrottle); the token is taken before the hash.
func (c *Session) login(name, password string) error {
	s := c.s
	att, wait, what := s.throttle.Begin(name, c.ip, time.Now())
	if att == nil {
		s.log.Info("login throttled", "account", name, "remote", c.ip, "limit", what)
		return fmt.Errorf("%w %s: try again in %s", errThrottled, what, retryIn(wait))
	}
	prev, err := s.accounts.Authenticate(name, password)
	if err != nil {
		if errors.Is(err, ErrBusy) || errors.Is(err, ErrAccountDamaged) || errors.Is(err, ErrAccountLocked) {
			att.Void() // no guess: a locked account's password was right
		}
		s.log.Info("login failed", "account", name, "remote", c.ip, "reason", err)
		return err
	}
	att.Succeeded()
	s.mu.Lock()
	if c.registered {
		// Logging in after the welcome: this connection's user becomes the account's, unless
		// the account is online already (a guest's nick cannot join another user's).
		if s.accountUsers[casefold(prev.Name)] != nil {
			s.mu.Unlock()
			return errOnlineElsewhere
		}
		c.u.account = prev.Name
		s.accountUsers[casefold(prev.Name)] = c.u
	}
	c.account = prev.Name
	c.accountChangedLocked()
	s.mu.Unlock()
	c.prevLogin, c.prevAddr = prev.LastLogin, prev.LastAddr
	if err := s.accounts.RecordLogin(prev.Name, c.ip, time.Now()); err != nil {
		s.log.Error("record login", "account", prev.Name, "err", err)
	}
	s.log.Info("login", "account", prev.Name, "remote", c.ip)
	return nil
}

var (
	errThrottled       = errors.New("too many failed logins")
	errOnlineElsewhere = errors.New("is online from another connection")
)

// retryIn is a wait rounded up to whole seconds, as "42s".
func retryIn(wait time.Duration) string {
	return strconv.Itoa(int((wait+time.Second-1)/time.Second)) + "s"
}

func loginErrorText(name string, err error) string {
	switch {
	case errors.Is(err, ErrNoAccount):
		return "there is no account named " + name + " (create it with REGISTER, or labchat connect --register)"
	case errors.Is(err, ErrWrongPassword):
		return "wrong password for account " + name
	case errors.Is(err, errThrottled):
		return err.Error()
	case errors.Is(err, ErrAccountLocked):
		return "account " + name + " is locked by the administrator"
	case errors.Is(err, errOnlineElsewhere):
		return "account " + name + " is online from another connection; to add this one, log in while connecting (SASL before CAP END, or PASS)"
	}
	return "login unavailable: " + err.Error()
}

// sendPreviousLogin tells the account's owner about the login before this one (which may be
// another connection still open), and which other connections are open now.
func (c *Session) sendPreviousLogin() {
	text := "First login to this account"
	if !c.prevLogin.IsZero() {
		text = "Previous login: " + c.prevLogin.UTC().Format(time.RFC3339) + " from " + c.prevAddr
	}
	c.sendLine(":" + c.s.cfg.Name + " NOTICE " + c.nick + " :" + text)
	c.s.mu.RLock()
	others := c.otherConnectionsText()
	c.s.mu.RUnlock()
	if others != "" {
		c.sendLine(":" + c.s.cfg.Name + " NOTICE " + c.nick + " :" + others)
	}
}

func (c *Session) loggedIn() {
	user := c.userOrNick()
	if user == "" {
		user = "*" // irssi authenticates before it sends NICK and USER
	}
	c.reply(RPL_LOGGEDIN, c.nickOrStar()+"!"+user+"@"+c.hostname(), c.account, "You are now logged in as "+c.account)
	if c.registered {
		c.sendFilehostISupport() // logged in after the welcome: now it may upload
	}
}

// saslChunkLen is the AUTHENTICATE payload size; a shorter chunk (or "+") ends a response.
const saslChunkLen = 400

// handleAuthenticate implements SASL PLAIN (RFC 4616) in AUTHENTICATE's 400-byte chunks.
func (c *Session) handleAuthenticate(m *Message) {
	arg := m.Params[0]
	switch {
	case arg == "*":
		if c.saslActive {
			c.saslReset()
			c.reply(ERR_SASLABORTED, "SASL authentication aborted")
		} else {
			c.reply(ERR_SASLFAIL, "SASL authentication failed: nothing to abort")
		}
	case c.account != "":
		c.reply(ERR_SASLALREADY, "You have already authenticated using SASL")
	case !c.saslActive:
		if !strings.EqualFold(arg, "PLAIN") {
			c.reply(RPL_SASLMECHS, "PLAIN", "are available SASL mechanisms")
			c.reply(ERR_SASLFAIL, "SASL authentication failed: unsupported mechanism")
			return
		}
		c.saslActive = true
		c.sendLine("AUTHENTICATE +")
	default:
		c.saslChunk(arg)
	}
}

// maxSASLResponse bounds a PLAIN response in base64: two names and a password fit easily.
const maxSASLResponse = 1200

func (c *Session) saslChunk(arg string) {
	if len(arg) > saslChunkLen {
		c.saslReset()
		c.reply(ERR_SASLTOOLONG, "SASL message too long: send it in AUTHENTICATE chunks of 400 bytes")
		return
	}
	if arg != "+" {
		c.saslBuf.WriteString(arg)
	}
	if c.saslBuf.Len() > maxSASLResponse {
		c.saslReset()
		c.reply(ERR_SASLFAIL, "SASL authentication failed: response longer than any PLAIN login")
		return
	}
	if len(arg) == saslChunkLen {
		return // more chunks follow
	}
	raw, err := base64.StdEncoding.DecodeString(c.saslBuf.String())
	c.saslReset()
	if err != nil {
		c.reply(ERR_SASLFAIL, "SASL authentication failed: invalid base64")
		return
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 || parts[1] == "" || (parts[0] != "" && parts[0] != parts[1]) {
		c.reply(ERR_SASLFAIL, "SASL authentication failed: malformed PLAIN message")
		return
	}
	if err := c.login(parts[1], parts[2]); err != nil {
		c.reply(ERR_SASLFAIL, "SASL authentication failed: "+loginErrorText(parts[1], err))
		return
	}
	if c.registered {
		c.sendPreviousLogin() // first, so 900 and 903 end the SASL exchange as clients expect
	}
	c.loggedIn()
	c.reply(RPL_SASLSUCCESS, "SASL authentication successful")
	if c.registered {
		c.deliverOffline() // logged in after the welcome: deliver now
		c.operAccount()
		c.restoreAccount()
	}
	c.tryRegister()
}

func (c *Session) saslReset() {
	c.saslActive = false
	c.saslBuf.Reset()
}

// handleRegister implements IRCv3 draft/account-registration: REGISTER <account> <email> <password>.
func (c *Session) handleRegister(m *Message) {
	cfg := &c.s.cfg
	name, email, password := m.Params[0], m.Params[1], m.Params[2]
	if name == "*" {
		name = c.nick
	}
	switch {
	case !cfg.Registration:
		c.fail("REGISTER", "TEMPORARILY_UNAVAILABLE", nameOrStar(name), "Account registration is disabled on this server")
	case !c.registered && !cfg.RegistrationBeforeConnect:
		c.fail("REGISTER", "COMPLETE_CONNECTION_REQUIRED", nameOrStar(name), "Finish connecting before you register")
	case c.account != "":
		c.fail("REGISTER", "ALREADY_AUTHENTICATED", c.account, "You are already logged in")
	case c.nick == "":
		c.fail("REGISTER", "NEED_NICK", "*", "Send NICK first: the account is named after your nick")
	case name != "" && validateAccountName(name) != nil:
		// The name's own fault first: "张三" is told to use a display name, not to NICK.
		c.fail("REGISTER", "BAD_ACCOUNT_NAME", name, accountNameRefusal(name, validateAccountName(name)))
	case casefold(name) != casefold(c.nick):
		c.fail("REGISTER", "ACCOUNT_NAME_MUST_BE_NICK", name, "The account name must be your current nick")
	case cfg.RegistrationRequiresEmail && !strings.Contains(email, "@"):
		c.fail("REGISTER", "INVALID_EMAIL", name, "This server needs an e-mail address to register")
	case cfg.Password != "" && !c.serverPassOK:
		c.fail("REGISTER", "DISALLOWED", name, "Send the server password (PASS) first")
	default:
		c.register(name, email, password)
	}
}

// registerThrottledError is a REGISTER refused by the per-address throttle.
type registerThrottledError struct{ wait time.Duration }

func (e *registerThrottledError) Error() string { return "registration throttled" }

// accountNameRefusal says exactly why validateAccountName refused name.
func accountNameRefusal(name string, err error) string {
	switch {
	case errors.Is(err, errNameNotASCII):
		return "Account names use a–z, 0–9, - and _; put " + name + " in your display name (SETNAME, or the display name field)"
	case errors.Is(err, errNameTooLong):
		return fmt.Sprintf("Account names are at most %d characters; %s has %d", maxAccountNameLen, name, len(name))
	case errors.Is(err, errNameService):
		return name + " is the name of a service of this server; choose another name"
	case errors.Is(err, errReservedName):
		return "That name is reserved for a device on Windows (con, prn, aux, nul, com1-9, lpt1-9); choose another nick"
	case name == "" || name == "*":
		return "An account needs a name"
	}
	return "Account names start with a letter and hold only letters, digits, - and _"
}

func nameOrStar(name string) string {
	if name == "" {
		return "*"
	}
	return name
}

func (c *Session) register(name, email, password string) {
	if svc := reservedServiceName(name); svc != "" {
		c.fail("REGISTER", "BAD_ACCOUNT_NAME", name, "The name "+name+" is reserved: it is or looks like the service "+svc+"; choose another nick")
		return
	}
	if c.nickProvisional && c.s.accounts.refresh() == nil && c.s.accountOwning(name) == "" {
		// The account that held the nick was deleted since NICK (the poll may not have
		// run yet): the nick is free unless someone online has it.
		if code, _ := c.s.claimNick(c, c.nick); code == "" && !c.nickProvisional {
			c.nickProvisional = false
		}
	}
	if c.nickProvisional {
		if c.s.accountOwning(name) == "" {
			c.fail("REGISTER", "BAD_ACCOUNT_NAME", name, "The nick "+name+" is in use by someone online; an account needs a nick of its own")
			return
		}
		c.fail("REGISTER", "ACCOUNT_EXISTS", name, "Account "+name+" already exists")
		return
	}
	if email == "*" {
		email = ""
	}
	s := c.s
	took := false
	allow := func() error {
		if wait := s.regThrottle.Take(c.ip, time.Now()); wait > 0 {
			return &registerThrottledError{wait}
		}
		took = true
		return nil
	}
	err := s.accounts.RegisterFrom(name, email, password, time.Now(), allow)
	if took && err != nil {
		s.regThrottle.Refund(c.ip, time.Now()) // nothing was created: the attempt costs nothing
	}
	var throttled *registerThrottledError
	switch {
	case errors.As(err, &throttled):
		s.log.Info("register throttled", "account", name, "remote", c.ip)
		c.fail("REGISTER", "TEMPORARILY_UNAVAILABLE", name, "Too many accounts created from your address (register_per_ip_per_minute); try again in "+retryIn(throttled.wait))
		return
	case errors.Is(err, ErrAccountExists):
		c.fail("REGISTER", "ACCOUNT_EXISTS", name, "Account "+name+" already exists; log in, or choose another nick")
		return
	case errors.Is(err, ErrAccountDamaged):
		c.fail("REGISTER", "ACCOUNT_EXISTS", name, "Account "+name+" exists but its file is damaged; ask the server's administrator")
		return
	case errors.Is(err, ErrBadAccountName):
		c.fail("REGISTER", "BAD_ACCOUNT_NAME", name, accountNameRefusal(name, err))
		return
	case errors.Is(err, ErrBadEmail):
		c.fail("REGISTER", "INVALID_EMAIL", name, "That e-mail address cannot be stored: "+strings.TrimPrefix(err.Error(), ErrBadEmail.Error()+": "))
		return
	case errors.Is(err, ErrBadPassword):
		c.fail("REGISTER", "UNACCEPTABLE_PASSWORD", name, fmt.Sprintf("Passwords must be %d to %d bytes without control characters", c.s.accounts.minPassword, maxPasswordLen))
		return
	case errors.Is(err, ErrBusy):
		c.fail("REGISTER", "TEMPORARILY_UNAVAILABLE", name, "The server is busy creating accounts; try again in a few seconds")
		return
	case err != nil:
		c.s.log.Error("register", "account", name, "err", err)
		c.fail("REGISTER", "TEMPORARILY_UNAVAILABLE", name, "Could not save the account; try again later")
		return
	}
	c.s.log.Info("registered", "account", name, "remote", c.ip)
	c.s.mu.Lock()
	if c.registered {
		c.u.account = name
		c.s.accountUsers[casefold(name)] = c.u
	}
	c.account = name
	c.accountChangedLocked()
	c.s.mu.Unlock()
	_ = c.s.accounts.RecordLogin(name, c.ip, time.Now())
	c.sendLine(":" + c.s.cfg.Name + " REGISTER SUCCESS " + name + " :Account created")
	c.loggedIn()
	if c.registered {
		if tok := c.turnToken(); tok != "" {
			c.reply(RPL_ISUPPORT, tok, "are supported by this server") // the welcome's 005 had no account yet
		}
		c.sendPreviousLogin()
		c.operAccount()
	}
	c.tryRegister()
}

// ---- simple commands ----

func (c *Session) handlePing(m *Message) {
	c.sendMsg(&Message{Source: c.s.cfg.Name, Command: "PONG", Params: []string{c.s.cfg.Name, m.Params[0]}})
}

func (c *Session) handleQuit(m *Message) {
	reason := "Client quit"
	if q := m.Param(0); q != "" {
		reason = "Quit: " + q
	}
	c.end(reason)
}

func (c *Session) handleMotd(m *Message) {
	if !c.serverTargetOK(m, 0) {
		return
	}
	motd := c.s.cfg.MOTD
	if motd == "" {
		c.reply(ERR_NOMOTD, "MOTD File is missing")
		return
	}
	c.reply(RPL_MOTDSTART, "- "+c.s.cfg.Name+" Message of the day - ")
	for line := range strings.SplitSeq(motd, "\n") {
		c.reply(RPL_MOTD, "- "+line)
	}
	c.reply(RPL_ENDOFMOTD, "End of /MOTD command.")
}

// handleLusers counts registered users (visible and invisible), connections that have not
// registered yet, rooms, and the peak of registered users since the server started.
func (c *Session) handleLusers(m *Message) {
	if !c.serverTargetOK(m, 1) {
		return
	}
	s := c.s
	s.mu.RLock()
	// Users are nicks online; an account on three devices is one user and three clients.
	users, invisible, clients, rooms, peak, opers := len(s.nicks), 0, 0, len(s.rooms), s.peak, 0
	for _, u := range s.nicks {
		if u.first().invisible {
			invisible++
		}
		if slices.ContainsFunc(u.sessions, (*Session).isOper) {
			opers++
		}
	}
	for sess := range s.sessions {
		if sess.registered {
			clients++
		}
	}
	unknown := len(s.sessions) - clients
	s.mu.RUnlock()
	n, max := strconv.Itoa(users), strconv.Itoa(peak)
	c.reply(RPL_LUSERCLIENT, "There are "+strconv.Itoa(users-invisible)+" users and "+strconv.Itoa(invisible)+" invisible on 1 servers")
	if opers > 0 {
		c.reply(RPL_LUSEROP, strconv.Itoa(opers), "operator(s) online")
	}
	if unknown > 0 {
		c.reply(RPL_LUSERUNKNOWN, strconv.Itoa(unknown), "unknown connection(s)")
	}
	c.reply(RPL_LUSERCHANNELS, strconv.Itoa(rooms), "channels formed")
	c.reply(RPL_LUSERME, "I have "+strconv.Itoa(clients)+" clients and 0 servers")
	c.reply(RPL_LOCALUSERS, n, max, "Current local users "+n+", max "+max)
	c.reply(RPL_GLOBALUSERS, n, max, "Current global users "+n+", max "+max)
}

// countPeakLocked updates the LUSERS peak after a registration; s.mu must be write-locked.
func (s *Server) countPeakLocked() {
	s.peak = max(s.peak, len(s.nicks))
}

// findUser returns the first connection of the user online with nick, under s.mu read lock.
func (s *Server) findUser(nick string) *Session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if u := s.nicks[casefold(nick)]; u != nil {
		return u.first()
	}
	return nil
}

func (c *Session) handleWhois(m *Message) {
	nick := m.Params[len(m.Params)-1] // WHOIS [server] nick
	nick, _, _ = strings.Cut(nick, ",")
	if isServiceNick(nick) {
		c.whoisService()
		return
	}
	s := c.s
	s.mu.RLock()
	u := s.nicks[casefold(nick)]
	if u == nil {
		s.mu.RUnlock()
		c.reply(ERR_NOSUCHNICK, nick, "No such nick")
		c.reply(RPL_ENDOFWHOIS, nick, "End of /WHOIS list")
		return
	}
	t := u.first()
	tnick, user, ip, real, account, away, oper, bot := u.nick, t.userOrNick(), t.hostname(), t.realname, t.account, t.presence.away, t.isOper(), t.bot
	meta := maps.Clone(u.meta)
	// The user's rooms are those of all its connections; idle is the least of theirs, signon
	// the oldest's.
	var rooms []string
	seen := make(map[*Room]struct{})
	idle, signon := time.Since(t.lastActiveSeen()), t.connectedAt
	for _, own := range u.sessions {
		for r := range own.rooms {
			if _, dup := seen[r]; !dup && r.visibleLocked(own, c) {
				seen[r] = struct{}{}
				rooms = append(rooms, r.memberPrefix(own, c)+r.name)
			}
		}
		idle, signon = min(idle, time.Since(own.lastActiveSeen())), minTime(signon, own.connectedAt)
	}
	s.mu.RUnlock()
	c.reply(RPL_WHOISUSER, tnick, user, ip, "*", real)
	if len(rooms) > 0 {
		c.reply(RPL_WHOISCHANNELS, tnick, strings.Join(sortedStrings(rooms), " "))
	}
	c.reply(RPL_WHOISSERVER, tnick, s.cfg.Name, s.cfg.Network)
	if oper {
		c.reply(RPL_WHOISOPERATOR, tnick, "is an IRC operator")
	}
	if away != "" {
		c.reply(RPL_AWAY, tnick, away)
	}
	if account != "" {
		c.reply(RPL_WHOISACCOUNT, tnick, account, "is logged in as")
	}
	if bot {
		c.reply(RPL_WHOISBOT, tnick, "is a bot on "+s.cfg.Network)
	}
	c.reply(RPL_WHOISIDLE, tnick, strconv.Itoa(int(idle.Seconds())), strconv.FormatInt(signon.Unix(), 10), "seconds idle, signon time")
	for _, key := range sortedKeys(meta) {
		c.reply(RPL_WHOISKEYVALUE, tnick, key, "*", meta[key])
	}
	c.reply(RPL_ENDOFWHOIS, tnick, "End of /WHOIS list")
}

func (c *Session) handleIson(m *Message) {
	var on []string
	for _, p := range m.Params {
		for nick := range strings.FieldsSeq(p) {
			if t := c.s.findUser(nick); t != nil || isServiceNick(nick) {
				on = append(on, nick)
			}
		}
	}
	c.reply(RPL_ISON, strings.Join(on, " "))
}

func (c *Session) handleUserhost(m *Message) {
	var out []string
	s := c.s
	for _, nick := range m.Params[:min(len(m.Params), 5)] {
		s.mu.RLock()
		if u := s.nicks[casefold(nick)]; u != nil {
			t := u.first()
			here := "+"
			if t.presence.away != "" {
				here = "-" // RPL_USERHOST: - marks an away user
			}
			out = append(out, t.nick+"="+here+t.userOrNick()+"@"+t.hostname())
		}
		s.mu.RUnlock()
	}
	c.reply(RPL_USERHOST, strings.Join(out, " "))
}
