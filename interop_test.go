package main

// Regressions found by driving real IRC clients (irssi, weechat) against the server; the
// recipes are in docs/irc-clients.md.

import (
	"encoding/base64"
	"strings"
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

// With remember_rooms on (the default) an irssi-style client that logs in with SASL and then
// autojoins the rooms it knows gets each saved room once (the server's JOIN at login), its
// own JOIN changes nothing, and the usual follow-up queries answer as before.
func TestIrssiStyleAutojoinWithRememberRooms(t *testing.T) {
	ts := startServer(t, loginRequiredConfig(t), "")
	a := registerAccount(t, ts.addr, "alice", "pw-alice")
	joinRoom(a, "#lab")
	a.quit()

	c := dialIRC(t, ts.addr, "irssi")
	c.send("CAP LS 302")
	c.send("JOIN :")
	c.send("CAP REQ :sasl multi-prefix server-time")
	c.expect("ACK")
	c.send("AUTHENTICATE PLAIN")
	c.expect(`^AUTHENTICATE \+`)
	c.send("AUTHENTICATE %s", base64.StdEncoding.EncodeToString([]byte("alice\x00alice\x00pw-alice")))
	c.expect(" 903 ")
	c.send("CAP END")
	c.send("NICK alice")
	c.send("USER root root 127.0.0.1 :root")
	c.expect(" 001 alice ")
	c.send("JOIN #lab") // irssi's autojoin, right after the welcome
	c.send("MODE #lab")
	c.send("WHO #lab")
	c.send("MODE #lab b")
	lines := c.sync()
	joins, names := 0, 0
	for _, l := range lines {
		if strings.Contains(l, " JOIN #lab") {
			joins++
		}
		if strings.Contains(l, " 366 alice #lab ") {
			names++
		}
	}
	if joins != 1 || names != 1 {
		t.Errorf("JOIN lines %d, end of NAMES %d (want 1 each): %q", joins, names, lines)
	}
	for _, want := range []string{` 353 alice = #lab :@alice`, ` 324 alice #lab :?\+nt`, ` 315 alice #lab `, ` 368 alice #lab `} {
		if lineIndex(lines, want) < 0 {
			t.Errorf("no %q in %q", want, lines)
		}
	}
}
