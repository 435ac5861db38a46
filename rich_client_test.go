package main

// Issue 19 in the terminal client, through the real binary: a file piped with --multiline
// is one message, printed indented by a follower; replies, reactions and deletes are one
// line each; a delete reaches the client's records, so `labchat history` drops it too; and
// lines pasted into the interactive prompt go out as one multiline message.

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestTerminalMultilineRepliesReactionsDeletes(t *testing.T) {
	bob, _, addr, data := followRoom(t)
	alice := welcomed(t, addr, "alice", "alicepw1", "message-tags echo-message batch draft/multiline")
	alice.send("JOIN #lab")
	alice.expect(" 366 ")

	file := "#include <stdio.h>\n\nint main(void) {\n    puts(\"hi\");\n}"
	res := runCLI(t, clientTestTimeout, file+"\n", clientEnv(t.TempDir(), "alicepw1"), "connect", addr, "--user", "alice", "--to", "#lab", "--multiline")
	if res.code != exitOK {
		t.Fatalf("send the file: exit %d: %s", res.code, res.stderr)
	}
	// Printed as one message: the first line as usual, the others indented under it.
	wantLines := []string{`^\d\d:\d\d:\d\d #lab <alice> #include <stdio.h>$`, `^ +\| $`, `^ +\| int main\(void\) \{$`, `^ +\|     puts\("hi"\);$`, `^ +\| \}$`}
	for _, w := range wantLines {
		if line := bob.nextLine(t); !regexp.MustCompile(w).MatchString(line) {
			t.Fatalf("follow printed %q; want %s", line, w)
		}
	}

	alice.send("PRIVMSG #lab :who has the lab sheet?")
	parent := alice.expect(`PRIVMSG #lab :who has the lab sheet\?`).Tags["msgid"]
	if line := bob.nextLine(t); !strings.HasSuffix(line, "#lab <alice> who has the lab sheet?") {
		t.Fatalf("follow printed %q", line)
	}
	alice.send("@+draft/reply=%s PRIVMSG #lab :page 3", parent)
	if line := bob.nextLine(t); !strings.HasSuffix(line, `#lab <alice> (re alice: "who has the lab sheet?") page 3`) {
		t.Errorf("reply printed as %q", line)
	}
	alice.send("@+draft/reply=%s;+draft/react=👍 TAGMSG #lab", parent)
	if line := bob.nextLine(t); !strings.HasSuffix(line, `#lab alice reacted 👍 to alice: "who has the lab sheet?"`) {
		t.Errorf("reaction printed as %q", line)
	}
	alice.send("REDACT #lab %s", parent)
	if line := bob.nextLine(t); !strings.HasSuffix(line, "#lab alice deleted their message") {
		t.Errorf("delete printed as %q", line)
	}
	bob.stdin.Close()
	if code := bob.wait(t); code != exitOK {
		t.Fatalf("bob exit %d: %s", code, bob.stderr.String())
	}

	// bob's own records: the multiline message once, the deleted one gone.
	res = runCLI(t, historyTestTimeout, "", []string{"LABCHAT_DATA=" + data, "LABCHAT_CONFIG="}, "history", "--room", "#lab")
	out := res.stdout
	if res.code != exitOK || strings.Count(out, "#include <stdio.h>") != 1 || !strings.Contains(out, "|     puts(\"hi\");") || strings.Contains(out, "who has the lab sheet?\n") || !strings.Contains(out, "page 3") {
		t.Errorf("history of bob's records: exit %d\n%s%s", res.code, out, res.stderr)
	}
}

func TestTerminalPasteIsOneMultilineMessage(t *testing.T) {
	needTmux(t)
	addr, data := aliceAndBob(t)
	alice := welcomed(t, addr, "alice", "alicepw1", "message-tags batch draft/multiline")
	tp := &tmuxPane{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	cmd := fmt.Sprintf("env LABCHAT_DATA=%s LABCHAT_PASSWORD=bobpw123 TERM=xterm %s connect %s --user bob --no-bell", data, labchatBinary(t), addr)
	tp.tmux("new-session", "-d", "-s", "lc", "-x", "120", "-y", "30", cmd)
	t.Cleanup(func() { exec.Command("tmux", "-S", tp.sock, "kill-server").Run() })
	tp.waitScreen("the prompt", lastLineIs("[bob] >"))
	tp.tmux("send-keys", "-t", "lc", "/query alice", "Enter")
	tp.waitScreen("the new target", lastLineIs("[bob -> alice] >"))

	// A paste: three lines in one write, as a terminal delivers pasted text.
	tp.tmux("send-keys", "-t", "lc", "-l", "for i in range(3):\r    print(i)\rdone\r")
	start := alice.expect(`BATCH \+\S+ draft/multiline alice`)
	if got := strings.Join(msgTexts(readBatch(t, alice, start)), "\n"); got != "for i in range(3):\n    print(i)\ndone" {
		t.Errorf("the paste arrived as %q", got)
	}
	// A line typed alone is still a plain message.
	tp.tmux("send-keys", "-t", "lc", "-l", "just one line")
	tp.tmux("send-keys", "-t", "lc", "Enter")
	alice.expect(`:bob!\S+ PRIVMSG alice :just one line$`)

	alice.send("@+typing=active TAGMSG bob")
	tp.waitScreen("who is typing", lastLineIs("[bob -> alice · alice is typing…] >"))
	alice.send("@+typing=done TAGMSG bob")
	tp.waitScreen("typing gone", lastLineIs("[bob -> alice] >"))
	tp.tmux("send-keys", "-t", "lc", "/quit", "Enter")
	tp.waitGone()
}
