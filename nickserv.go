package main

// NickServ: the account service irssi, weechat and ergo users talk to with
// /msg NickServ <command>. It is no client: the server answers PRIVMSG NickServ (and the
// NICKSERV / NS commands) itself with NOTICEs from NickServ, and nobody can take the nick.
//
//	IDENTIFY [account] <password>   log in after connecting (as SASL would have)
//	REGISTER <password> [email]     create an account named like the current nick
//	PASSWD <old> <new>              change one's own password
//	INFO [account]                  what the server knows about an account
//	HELP                            the list above

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

const nickServ = "NickServ"

// isServiceNick reports names that belong to a service and never to a user or account.
func isServiceNick(name string) bool {
	return casefold(name) == casefold(nickServ) || casefold(name) == casefold(chanServ)
}

// reservedServiceNames are the services users know from other networks. Only NickServ
// exists here, but a user called ChanServ or NickServ_ could pose as one (and ask for
// passwords), so none of these, nor look-alikes of them, is a nick or an account.
var reservedServiceNames = []string{nickServ, "ChanServ", "OperServ", "MemoServ", "HostServ", "BotServ", "Global"}

// reservedServiceName is the service a nick is or looks like ("NickServ" for nickserv1,
// NickServ_ or |NickServ|), or "" when it is no service's name.
func reservedServiceName(nick string) string {
	core := strings.Trim(nick, "_-`^|[]{}\\0123456789")
	for _, name := range reservedServiceNames {
		if casefold(core) == casefold(name) {
			return name
		}
	}
	return ""
}

func (c *Session) nickServSource() string {
	return nickServ + "!" + nickServ + "@" + c.s.cfg.ServicesName
}

// nsNotice sends a NickServ reply.
func (c *Session) nsNotice(text string) {
	c.sendMsg(&Message{Source: c.nickServSource(), Command: "NOTICE", Params: []string{c.nick, text}})
}

// handleNickServCommand is NICKSERV <command...> and NS <command...>.
func (c *Session) handleNickServCommand(m *Message) {
	c.nickServ(strings.Join(m.Params, " "))
}

var nickServHelp = []string{
	"NickServ keeps the accounts of this server. Commands:",
	"IDENTIFY [account] <password> - log in to your account",
	"REGISTER <password> [email] - create an account named like your nick",
	"PASSWD <old password> <new password> - change your password",
	"INFO [account] - show an account's details",
	"Type them as /msg NickServ <command>.",
}

// nickServ runs one line sent to NickServ.
func (c *Session) nickServ(text string) {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		c.nsNotice("Send HELP for the commands.")
		return
	}
	cmd, args := strings.ToUpper(fields[0]), fields[1:]
	switch cmd {
	case "HELP":
		for _, line := range nickServHelp {
			c.nsNotice(line)
		}
	case "IDENTIFY", "LOGIN":
		c.nsIdentify(args)
	case "REGISTER":
		c.nsRegister(args)
	case "PASSWD":
		c.nsPasswd(args)
	case "INFO":
		c.nsInfo(args)
	default:
		c.nsNotice("Unknown command " + fields[0] + ". Commands: IDENTIFY, REGISTER, PASSWD, INFO, HELP (/msg NickServ HELP).")
	}
}

func (c *Session) nsIdentify(args []string) {
	var name, password string
	switch len(args) {
	case 1:
		name, password = c.nick, args[0]
	case 2:
		name, password = args[0], args[1]
	default:
		c.nsNotice("Syntax: IDENTIFY [account] <password>")
		return
	}
	if c.account != "" {
		c.nsNotice("You are already logged in as " + c.account + ".")
		return
	}
	if err := c.login(name, password); err != nil {
		c.nsNotice("Login failed: " + loginErrorText(name, err) + ".")
		return
	}
	c.sendPreviousLogin()
	c.loggedIn()
	c.nsNotice("You're now logged in as " + c.account + ".")
	c.operAccount()
	c.deliverOffline()
	c.restoreAccount()
}

func (c *Session) nsRegister(args []string) {
	if len(args) < 1 || len(args) > 2 {
		c.nsNotice("Syntax: REGISTER <password> [email]")
		return
	}
	email := "*"
	if len(args) == 2 {
		email = args[1]
	}
	// The same path as the IRCv3 REGISTER command, with all its checks and throttles; its
	// FAIL or REGISTER SUCCESS line comes first, this notice sums it up.
	c.handleRegister(&Message{Command: "REGISTER", Params: []string{"*", email, args[0]}})
	if c.account != "" && casefold(c.account) == casefold(c.nick) {
		c.nsNotice("Account " + c.account + " registered; you're now logged in.")
	} else {
		c.nsNotice("Registration failed; the line above says why.")
	}
}

func (c *Session) nsPasswd(args []string) {
	s := c.s
	if len(args) != 2 {
		c.nsNotice("Syntax: PASSWD <old password> <new password>")
		return
	}
	if c.account == "" {
		c.nsNotice("You are not logged in; IDENTIFY first.")
		return
	}
	att, wait, what := s.throttle.Begin(c.account, c.ip, time.Now())
	if att == nil {
		c.nsNotice("Password not changed: too many failed attempts " + what + "; try again in " + retryIn(wait) + ".")
		return
	}
	if _, err := s.accounts.Authenticate(c.account, args[0]); err != nil {
		if !errors.Is(err, ErrWrongPassword) {
			att.Void() // no guess: the server was busy or the file is damaged
		}
		s.log.Info("password change refused", "account", c.account, "remote", c.ip, "reason", err)
		c.nsNotice("Password not changed: " + loginErrorText(c.account, err) + ".")
		return
	}
	att.Succeeded()
	err := s.accounts.SetPassword(c.account, args[1])
	switch {
	case errors.Is(err, ErrBadPassword):
		c.nsNotice(fmt.Sprintf("Password not changed: the new one must be %d to %d bytes without control characters.", s.accounts.minPassword, maxPasswordLen))
		return
	case err != nil:
		s.log.Error("change password", "account", c.account, "err", err)
		c.nsNotice("Password not changed: the server could not save it; try again later.")
		return
	}
	s.log.Info("password changed", "account", c.account, "remote", c.ip)
	c.nsNotice("Password changed. Use the new one from your next login.")
}

func (c *Session) nsInfo(args []string) {
	name := c.account
	if len(args) > 0 {
		name = args[0]
	}
	if name == "" {
		c.nsNotice("Syntax: INFO [account] (you are not logged in)")
		return
	}
	a, ok := c.s.accounts.Lookup(name)
	if !ok {
		c.nsNotice("No account named " + name + ".")
		return
	}
	c.nsNotice("Account: " + a.Name)
	c.nsNotice("Registered: " + a.Created.UTC().Format(time.RFC1123))
	own := c.account != "" && casefold(c.account) == casefold(a.Name)
	if own && !a.LastLogin.IsZero() {
		c.nsNotice("Last login: " + a.LastLogin.UTC().Format(time.RFC1123) + " from " + a.LastAddr)
	}
	if own && a.Email != "" {
		c.nsNotice("E-mail: " + a.Email)
	}
	if a.Operator {
		c.nsNotice("Operator: yes")
	}
	if a.Locked {
		c.nsNotice("Locked by the administrator")
	}
	online := "no"
	if c.s.accountConnected(a.Name) {
		online = "yes"
	}
	c.nsNotice("Online: " + online)
	c.nsNotice("End of INFO.")
}

// whoisService answers WHOIS NickServ: the service is always there, on the services name.
func (c *Session) whoisService() {
	name := c.s.cfg.ServicesName
	c.reply(RPL_WHOISUSER, nickServ, nickServ, name, "*", "Account services: /msg NickServ HELP")
	c.reply(RPL_WHOISSERVER, nickServ, name, "account services built into "+c.s.cfg.Name)
	c.reply(RPL_ENDOFWHOIS, nickServ, "End of /WHOIS list")
}
