package main

import (
	"fmt"
	"strings"
	"testing"
)

// roomWith starts a room founded by the first client (its operator) and joined by the rest.
func roomWith(t *testing.T, room string, founder *ircClient, others ...*ircClient) {
	t.Helper()
	founder.send("JOIN %s", room)
	founder.expect(" 366 ")
	for _, c := range others {
		c.send("JOIN %s", room)
		c.expect(" 366 ")
	}
	founder.sync()
}

func TestISupportListsTheRoomModes(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	c := dialIRC(t, ts.addr, "c")
	c.send("NICK c")
	c.send("USER c 0 * :c")
	c.expect(" 004 c \\S+ \\S+ B?iow CIbeiklmnostuv :?Ibeklov$")
	lines := strings.Join(c.sync(), "\n")
	for _, tok := range []string{"CHANMODES=beI,k,l,imnstuC", "EXCEPTS=e", "INVEX=I", "EXTBAN=$,a", "ACCOUNTEXTBAN=a", "MAXLIST=beI:100", "KEYLEN=32"} {
		if !strings.Contains(lines, " "+tok+" ") {
			t.Errorf("ISUPPORT lacks %s:\n%s", tok, lines)
		}
	}
}

func TestInviteOnlyRoom(t *testing.T) {
	ts, log := startLoggedServer(t, operConfig(t))
	op := guest(t, ts.addr, "op")
	member := welcomed(t, ts.addr, "member", "", "invite-notify")
	member.expect(" 376 | 422 ")
	roomWith(t, "#exam", op, member)
	op.send("MODE #exam +i")
	member.expect(`^:op!\S+ MODE #exam \+i$`)
	stu := guest(t, ts.addr, "stu")
	stu.send("JOIN #exam")
	stu.expect(" 473 stu #exam :Cannot join channel \\(\\+i\\)")

	outsider := guest(t, ts.addr, "outsider")
	outsider.send("INVITE stu #exam")
	outsider.expect(" 442 outsider #exam ")
	member.send("INVITE stu #exam")
	member.expect(" 482 member #exam ")
	op.send("INVITE nobody #exam")
	op.expect(" 401 op nobody ")
	op.send("INVITE stu #nosuch")
	op.expect(" 403 op #nosuch ")
	op.send("INVITE member #exam")
	op.expect(" 443 op member #exam ")
	op.send("INVITE stu")
	op.expect(" 461 op INVITE ")

	op.send("INVITE stu #exam")
	op.expect(" 341 op stu :?#exam$")
	stu.expect(`^:op!\S+ INVITE stu #exam$`)
	// invite-notify: in a +i room, only members who could have invited hear of it.
	if lines := member.sync(); len(lines) != 0 {
		t.Errorf("an unprivileged member of a +i room heard of the INVITE: %q", lines)
	}
	stu.send("INVITE")
	stu.expect(" 336 stu :?#exam$")
	stu.expect(" 337 stu :End of /INVITE list")
	stu.send("JOIN #exam")
	stu.expect(" 366 stu #exam ")
	stu.send("PART #exam")
	stu.expect("PART #exam")
	stu.send("JOIN #exam") // the invitation was used up
	stu.expect(" 473 stu #exam ")

	// In a room without +i, any member may invite and members with invite-notify hear of it.
	roomWith(t, "#open", op, member)
	op.send("INVITE stu #open")
	op.expect(" 341 ")
	member.expect(`^:op!\S+ INVITE stu #open$`)

	// A server operator joins past +i; the override is logged.
	operUp(outsider)
	outsider.send("JOIN #exam")
	outsider.expect(" 366 outsider #exam ")
	if out := log.String(); !strings.Contains(out, `msg="operator override" oper=outsider room=#exam command=JOIN past=473`) ||
		!strings.Contains(out, `msg=invite by=op target=stu room=#exam`) {
		t.Errorf("server log lacks the invite or the override:\n%s", out)
	}
}

func TestRoomKeyAndLimit(t *testing.T) {
	ts, log := startLoggedServer(t, testConfig(t))
	op := guest(t, ts.addr, "op")
	roomWith(t, "#lab", op)
	op.send("MODE #lab +k :two words")
	op.expect(" 696 op #lab k \\* :Invalid key")
	op.send("MODE #lab +k")
	op.expect(" 461 op MODE ")
	op.send("MODE #lab +k s3cret")
	op.expect(`^:op!\S+ MODE #lab \+k s3cret$`)
	a := guest(t, ts.addr, "alice")
	a.send("JOIN #lab")
	a.expect(" 475 alice #lab :Cannot join channel \\(\\+k\\)")
	a.send("JOIN #lab wrong")
	a.expect(" 475 alice #lab ")
	a.send("MODE #lab")
	a.expect(" 324 alice #lab \\+ntk :?\\*$") // an outsider does not learn the key
	a.send("JOIN #other,#lab x,s3cret")
	a.expect(" 366 alice #other ")
	a.expect(" 366 alice #lab ")
	a.send("MODE #lab")
	a.expect(" 324 alice #lab \\+ntk :?s3cret$")
	a.send("MODE #lab -k")
	a.expect(" 482 alice #lab ")
	op.send("MODE #lab -k *")
	a.expect(`^:op!\S+ MODE #lab -k \*$`)

	for _, bad := range []string{"0", "-1", "abc", "100001"} {
		op.send("MODE #lab +l %s", bad)
		op.expect(fmt.Sprintf(" 696 op #lab l %s :Invalid limit", bad))
	}
	op.send("MODE #lab +l 2")
	a.expect(`^:op!\S+ MODE #lab \+l 2$`)
	b := guest(t, ts.addr, "bob")
	b.send("JOIN #lab")
	b.expect(" 471 bob #lab :Cannot join channel \\(\\+l\\)")
	op.send("MODE #lab")
	op.expect(" 324 op #lab \\+ntl :?2$")
	op.send("MODE #lab -l")
	a.expect(`^:op!\S+ MODE #lab -l$`)
	b.send("JOIN #lab")
	b.expect(" 366 bob #lab ")
	if out := log.String(); strings.Contains(out, "s3cret") || !strings.Contains(out, `msg=mode by=op room=#lab change="+k *"`) {
		t.Errorf("server log shows the key, or not the change:\n%s", out)
	}
}

func TestBansExceptionsAndAccountBans(t *testing.T) {
	cfg := testConfig(t)
	ts := startServer(t, cfg, "")
	op := guest(t, ts.addr, "op")
	eve := guest(t, ts.addr, "eve")
	roomWith(t, "#lab", op, eve)

	eve.send("MODE #lab +b op")
	eve.expect(" 482 eve #lab ")
	op.send("MODE #lab +b Eve")
	eve.expect(`^:op!\S+ MODE #lab \+b Eve!\*@\*$`)
	eve.send("PRIVMSG #lab :can I still talk?") // a banned member stays but is muted
	eve.expect(" 404 eve #lab :Cannot send to channel \\(you are banned \\(\\+b\\)\\)")
	op.send("KICK #lab eve")
	eve.expect("KICK #lab eve")
	eve.send("JOIN #lab")
	eve.expect(" 474 eve #lab :Cannot join channel \\(\\+b\\)")
	op.send("MODE #lab +b *!*@127.0.0.*")
	op.expect(`MODE #lab \+b \*!\*@127\.0\.0\.\*$`)
	op.send("MODE #lab b")
	op.expect(` 367 op #lab Eve!\*@\* op!~op@127\.0\.0\.1 :?\d+$`)
	op.expect(` 367 op #lab \*!\*@127\.0\.0\.\* op!\S+ :?\d+$`)
	op.expect(` 368 op #lab :End of channel ban list`)
	op.send("MODE #lab -b *!*@127.0.0.*")
	op.expect(`MODE #lab -b \*!\*@127\.0\.0\.\*$`)
	op.send("MODE #lab +e e*!*@*")
	op.expect(`MODE #lab \+e e\*!\*@\*$`)
	eve.send("JOIN #lab") // the exception lets her past the ban
	eve.expect(" 366 eve #lab ")
	op.send("MODE #lab +b :bad mask")
	op.expect(" 696 op #lab b ")
	op.send("MODE #lab +b $x:what")
	op.expect(" 696 op #lab b \\$x:what ")

	// $a:account follows the account across nicks.
	// (After the account's first connection is gone: another would join it as mallory.)
	mal := registerAccount(t, ts.addr, "mallory", "mallory-pw")
	mal.send("QUIT")
	mal.expectClosed()
	waitConnections(t, ts.Server, "mallory", 0)
	op.send("MODE #lab +b $a:mallory")
	op.expect(`MODE #lab \+b \$a:mallory$`)
	m := dialIRC(t, ts.addr, "m2")
	m.send("PASS mallory:mallory-pw")
	m.send("NICK innocent")
	m.send("USER x 0 * :x")
	m.expect(" 001 innocent ")
	m.send("JOIN #lab")
	m.expect(" 474 innocent #lab ")
	// A guest using the account's name as nick is not the account.
	g := guest(t, ts.addr, "mallory_")
	g.send("JOIN #lab")
	g.expect(" 366 mallory_ #lab ")

	// The list is bounded.
	for i := range maxListEntries + 1 {
		op.send("MODE #lab +I x%d!*@*", i)
	}
	op.expect(` 478 op #lab x100!\*@\* :Channel list is full`)
}

func TestQuietRoomHidesPlainMembersComingAndGoing(t *testing.T) {
	ts := startServer(t, operConfig(t), "")
	op := guest(t, ts.addr, "op")
	roomWith(t, "#aud", op)
	op.send("MODE #aud +u")
	op.expect(`MODE #aud \+u$`)
	op.send("MODE #aud")
	op.expect(" 324 op #aud :?\\+ntu$")
	g1 := guest(t, ts.addr, "g1")
	g2 := guest(t, ts.addr, "g2")
	g3 := guest(t, ts.addr, "g3")
	teacher := guest(t, ts.addr, "teacher")
	operUp(teacher)
	roomWith(t, "#aud", teacher)
	op.expect(`^:teacher!\S+ JOIN #aud$`) // a server operator's arrival shows
	roomWith(t, "#aud", g1)
	op.expect(`^:g1!\S+ JOIN #aud$`)
	teacher.expect(`^:g1!\S+ JOIN #aud$`)
	roomWith(t, "#aud", g2, g3)
	op.expect(`^:g2!\S+ JOIN #aud$`)
	teacher.expect(`^:g2!\S+ JOIN #aud$`)
	// NAMES still lists everyone, to everyone.
	g1.send("NAMES #aud")
	names := g1.expect(" 353 g1 = #aud ")
	g1.expect(" 366 g1 #aud ")
	for _, n := range []string{"@op", "teacher", "g1", "g2", "g3"} {
		if !strings.Contains(" "+names.Params[3]+" ", " "+n+" ") {
			t.Errorf("NAMES for g1 = %q, lacks %s", names.Params[3], n)
		}
	}
	g2.send("PART #aud")
	g2.expect("PART #aud") // its own PART, always
	op.expect(`^:g2!\S+ PART #aud`)
	g3.send("QUIT :bye")
	g3.expectClosed()
	op.expect(`^:g3!\S+ QUIT :Quit: bye$`)
	teacher.expect(`^:g3!\S+ QUIT`)
	if lines := g1.sync(); len(lines) != 0 {
		t.Errorf("a plain member of a quiet room saw others come and go: %q", lines)
	}
	// Messages still reach everyone; a voiced member's PART shows to all.
	g2.send("JOIN #aud")
	g2.expect(" 366 ")
	op.send("PRIVMSG #aud :welcome")
	g1.expect("PRIVMSG #aud :welcome$")
	g2.expect("PRIVMSG #aud :welcome$")
	op.send("MODE #aud +v g1")
	g2.expect(`MODE #aud \+v g1$`)
	g1.send("PART #aud")
	g2.expect(`^:g1!\S+ PART #aud`)
	op.send("MODE #aud -u")
	g2.expect(`MODE #aud -u$`)
	g1.send("JOIN #aud")
	g2.expect(`^:g1!\S+ JOIN #aud$`)
}

func TestDefaultRoomIsQuietAndHasNoFounder(t *testing.T) {
	cfg := operConfig(t)
	cfg.DefaultRoom = "#lobby"
	ts := startServer(t, cfg, "")
	alice := guest(t, ts.addr, "alice")
	bob := guest(t, ts.addr, "bob")
	bob.send("NAMES #lobby")
	names := bob.expect(" 353 bob = #lobby ")
	if names.Params[3] != "alice bob" && names.Params[3] != "bob alice" {
		t.Errorf("NAMES #lobby = %q, want both without a founder's @", names.Params[3])
	}
	bob.send("MODE #lobby")
	bob.expect(" 324 bob #lobby :?\\+ntu$")
	bob.send("QUIT")
	bob.expectClosed()
	if lines := alice.sync(); len(lines) != 0 {
		t.Errorf("alice saw bob come and go in the quiet lobby: %q", lines)
	}
	// The instructor sees the lobby's traffic of arrivals and can moderate it.
	teacher := guest(t, ts.addr, "teacher")
	teacher.sync()
	operUp(teacher)
	carol := guest(t, ts.addr, "carol")
	teacher.expect(`^:carol!\S+ JOIN #lobby$`)
	teacher.send("MODE #lobby +m")
	carol.expect(`MODE #lobby \+m$`)
}
