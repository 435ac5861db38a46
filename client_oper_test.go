package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// assertNoSecretIn fails if a file under dir holds one of the secrets.
func assertNoSecretIn(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds %q", path, s)
			}
		}
		return nil
	})
}

// The operator and account commands against the real server: every command's wire form
// and what the screen says about it.
func TestOperatorCommandsInteractive(t *testing.T) {
	needTmux(t)
	addr, data := aliceAndBob(t, func(sc *ServerConfig) { sc.Operators = operConfig(t).Operators })
	registerViaCLI(t, addr, data, "carol", "carolpw1")
	bob := startPane(t, addr, data, "bob", "bobpw123")
	bob.typeLine("/join #lab")
	bob.waitScreen("#lab", lastLineIs("[bob -> #lab] >"))
	alice := rawLogin(t, addr, "alice", "alicepw1")
	alice.send("JOIN #lab")
	alice.expect(`JOIN #lab`)
	carol := rawLogin(t, addr, "carol", "carolpw1")

	bob.typeLine("/oper operuser now")
	bob.shows(`usage: /oper NAME \(the password is asked next`)
	bob.typeLine("/oper operuser")
	bob.waitScreen("the password question", lastLineIs("Operator password for operuser:"))
	bob.typeLine("operpassword")
	bob.shows(`you are now a server operator$`)

	bob.typeLine("/limit 5")
	alice.expect(`:bob!\S+ MODE #lab \+l 5$`)
	bob.shows(`bob limited #lab to 5 members$`)
	bob.typeLine("/key sesame")
	alice.expect(`:bob!\S+ MODE #lab \+k sesame$`)
	bob.shows(`bob set a key on #lab: joining needs /join #lab sesame$`)
	bob.typeLine("/key off")
	bob.shows(`bob removed the key of #lab$`)
	bob.typeLine("/ban dave")
	alice.expect(`:bob!\S+ MODE #lab \+b dave!\*@\*$`)
	bob.shows(`bob banned dave from #lab$`)
	bob.typeLine("/mode +i")
	bob.shows(`bob made #lab invite-only$`)
	bob.typeLine("/invite carol")
	carol.expect(`:bob!\S+ INVITE carol #lab$`)
	bob.shows(`you invited carol to #lab$`)
	carol.send("JOIN #lab")
	carol.expect(`JOIN #lab`)
	bob.typeLine("/announce the lab closes at noon")
	alice.expect(`NOTICE \S+ :the lab closes at noon$`)
	bob.typeLine("/kill alice flooding")
	alice.expect(`KILL alice :flooding`)
	bob.shows(`you disconnected alice from the server \(flooding\)$`) // once: not also her QUIT

	bob.typeLine("/passwd")
	bob.waitScreen("the old password", lastLineIs("Current password:"))
	bob.typeLine("bobpw123")
	bob.waitScreen("the new password", lastLineIs("New password:"))
	bob.typeLine("newbobpw9")
	bob.waitScreen("again", lastLineIs("New password again:"))
	bob.typeLine("newbobpw9")
	bob.shows(`-NickServ- .*[Pp]assword changed`)
	rawLogin(t, addr, "bob", "newbobpw9")
	screen := bob.waitScreen("the prompt", lastLineIs("[bob -> #lab] >"))
	for _, l := range screen {
		if regexp.MustCompile(`bobpw123|newbobpw9|operpassword`).MatchString(l) {
			t.Errorf("a password on screen: %q", l)
		}
	}
	// Nothing the client keeps holds them either.
	assertNoSecretIn(t, data, "bobpw123", "newbobpw9", "operpassword")
}

// A non-operator gets one clear line for an operator command.
func TestOperatorCommandRefusedInteractive(t *testing.T) {
	needTmux(t)
	addr, data := aliceAndBob(t)
	bob := startPane(t, addr, data, "bob", "bobpw123")
	bob.typeLine("/kill alice")
	bob.shows(`! only server operators can do that \(/oper first\)$`)
	bob.typeLine("/limit 3")
	bob.shows(`usage: /limit \[#ROOM\] N\|off \(the target is not a room: name one\)$`)
}

// A client an operator disconnects says so and does not come back.
func TestKilledClientDoesNotReconnect(t *testing.T) {
	addr, data := aliceAndBob(t, func(sc *ServerConfig) { sc.Operators = operConfig(t).Operators })
	oper := rawLogin(t, addr, "alice", "alicepw1")
	oper.send("OPER operuser operpassword")
	oper.expect(` 381 `)
	oper.send("MONITOR + bob")
	oper.expect(` 731 `)
	bob := startClient(t, clientEnv(data, "bobpw123"), "connect", addr, "--user", "bob", "--follow")
	oper.expect(` 730 `)
	oper.send("KILL bob :go home")
	code := bob.wait(t)
	if stderr := bob.stderr.String(); code != exitProtocol || !strings.Contains(stderr, "go home") || strings.Contains(stderr, "reconnecting") {
		t.Errorf("exit %d, stderr %q; want %d, the reason, no reconnecting", code, stderr, exitProtocol)
	}
}
