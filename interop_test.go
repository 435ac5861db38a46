package main

// Regressions found by driving real IRC clients (irssi, weechat) against the server; the
// recipes are in docs/irc-clients.md.

import (
	"encoding/base64"
	"testing"
)

// irssi sends CAP REQ and AUTHENTICATE before NICK and USER: RPL_LOGGEDIN must still carry a
// well-formed nick!user@host mask.
func TestSASLBeforeNickLikeIrssi(t *testing.T) {
	ts := startServer(t, loginRequiredConfig(t), "")
	a := registerAccount(t, ts.addr, "alice", "pw-alice")
	a.send("QUIT")
	a.expectClosed()

	c := dialIRC(t, ts.addr, "irssi")
	c.send("CAP LS 302")
	c.send("JOIN :") // irssi's probe for servers without CAP
	c.send("CAP REQ :sasl multi-prefix server-time")
	c.expect("ACK")
	c.send("AUTHENTICATE PLAIN")
	c.expect(`^AUTHENTICATE \+`)
	c.send("AUTHENTICATE %s", base64.StdEncoding.EncodeToString([]byte("alice\x00alice\x00pw-alice")))
	c.expect(`^:\S+ 900 \* \*!\*@127\.0\.0\.1 alice :You are now logged in as alice$`)
	c.expect(" 903 ")
	c.send("CAP END")
	c.send("NICK alice")
	c.send("USER root root 127.0.0.1 :root")
	c.expect(" 001 alice ")
}
