package main

// Issue 17 items 2, 4 and 5: rooms per connection (CHANLIMIT), reserved service names, and
// the 432 text naming the character.

import (
	"fmt"
	"strings"
	"testing"
)

func TestRoomsPerConnectionAreLimited(t *testing.T) {
	cfg := operConfig(t)
	cfg.MaxRoomsPerConnection = 3
	ts := startServer(t, cfg, "")
	c := dialIRC(t, ts.addr, "joiner")
	c.send("NICK joiner")
	c.send("USER joiner 0 * :j")
	if m := c.expect(" 005 .*CHANLIMIT="); !strings.Contains(strings.Join(m.Params, " "), "CHANLIMIT=#:3") {
		t.Errorf("ISUPPORT: %v, want CHANLIMIT=#:3", m.Params)
	}
	c.expect(" 001 |376|422")
	c.sync()
	for i := range 3 {
		c.send("JOIN #r%d", i)
		c.expect(fmt.Sprintf(" 366 joiner #r%d ", i))
	}
	c.send("JOIN #r3,#r4")
	m := c.expect(" 405 ")
	if m.Param(1) != "#r3" || !strings.Contains(m.Param(2), "at most 3") {
		t.Errorf("fourth JOIN: %v, want 405 #r3 naming the limit", m.Params)
	}
	c.expect(" 405 joiner #r4 ")
	c.send("LIST #r3")
	if lines := c.sync(); strings.Contains(strings.Join(lines, "\n"), " 322 ") {
		t.Errorf("a refused JOIN created the room: %q", lines)
	}
	c.send("PART #r0")
	c.expect(" PART #r0")
	c.send("JOIN #r3")
	c.expect(" 366 joiner #r3 ") // room again after a PART

	// Server operators are exempt.
	o := guest(t, ts.addr, "boss")
	operUp(o)
	for i := range 5 {
		o.send("JOIN #o%d", i)
		o.expect(fmt.Sprintf(" 366 boss #o%d ", i))
	}
}

func TestServiceNamesAndLookAlikesAreReserved(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	for _, nick := range []string{"ChanServ", "operserv", "MemoServ", "HostServ", "BotServ", "Global", "NickServ_", "nickserv1", "_ChanServ", "ChanServ-"} {
		c := dialIRC(t, ts.addr, "x")
		c.send("NICK %s", nick)
		m := c.expect(" 432 ")
		if !strings.Contains(m.Param(2), "reserved") {
			t.Errorf("NICK %s: %v, want 432 saying the nick is reserved", nick, m.Params)
		}
		c.conn.Close()
	}
	// Names that merely start like one are users' names.
	for _, nick := range []string{"Globalist", "chanservant", "memo"} {
		guest(t, ts.addr, nick)
	}
	// The attack's REGISTER: NICK ChanServ, then REGISTER under it. The nick is refused, so
	// the account is never made.
	for _, name := range []string{"ChanServ", "operserv", "NickServ_"} {
		c := dialIRC(t, ts.addr, name)
		c.send("CAP LS 302")
		c.send("NICK %s", name)
		c.send("USER x 0 * :x")
		c.send("REGISTER * * secret-password")
		c.expect(" 432 ")
		if m := c.expect("FAIL REGISTER |REGISTER SUCCESS"); m.Command != "FAIL" {
			t.Errorf("REGISTER after NICK %s: %v", name, m.Params)
		}
		if _, ok := ts.accounts.Lookup(name); ok {
			t.Errorf("account %s was created", name)
		}
		c.conn.Close()
	}
	for name, want := range map[string]string{"chanserv2": "ChanServ", "Global": "Global", "|NickServ|": "NickServ", "someone": ""} {
		if got := reservedServiceName(name); got != want {
			t.Errorf("reservedServiceName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestErroneousNickNamesTheCharacter(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	for nick, want := range map[string]string{
		"аlice": "character 'а' (U+0430) is not allowed in a nick",
		"bob✓":  "character '✓' (U+2713) is not allowed in a nick",
		"1abc":  "character '1' (U+0031) is not allowed at the start of a nick",
		"a.b":   "character '.' (U+002E) is not allowed in a nick",
	} {
		c := dialIRC(t, ts.addr, "x")
		c.send("NICK %s", nick)
		m := c.expect(" 432 ")
		if !strings.Contains(m.Param(2), want) {
			t.Errorf("NICK %q: 432 %q, want it to say %q", nick, m.Param(2), want)
		}
		c.conn.Close()
	}
}
