//go:build unix

package main

// Reconnect: a real server is stopped and started again on the same data dir and port
// under a running client. The client is paused (SIGSTOP) while the server is down and a
// message is sent, so what it shows afterwards came by its catch-up, not live.

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// restartServer stops ts and starts a server on the same data dir and port.
func restartServer(t *testing.T, ts *testServer) *testServer {
	t.Helper()
	ts.stop(t)
	cfg := loginRequiredConfig(t)
	cfg.Listen = ts.addr
	return startServer(t, cfg, ts.dir)
}

func TestConnectFollowReconnectsAfterServerRestart(t *testing.T) {
	ts := startServer(t, loginRequiredConfig(t), "")
	data := t.TempDir()
	registerViaCLI(t, ts.addr, data, "alice", "alicepw1")
	registerViaCLI(t, ts.addr, data, "bob", "bobpw123")
	alice := rawLogin(t, ts.addr, "alice", "alicepw1")
	alice.send("JOIN #lab")
	alice.expect(`JOIN #lab`)
	bob := startClient(t, clientEnv(data, "bobpw123"), "connect", ts.addr, "--user", "bob", "--to", "#lab", "--follow")
	alice.expect(`:bob!\S+ JOIN #lab`)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bob's stderr: %s", bob.stderr.String())
		}
	})
	alice.send("PRIVMSG #lab :before the restart")
	if line := bob.nextLine(t); !strings.HasSuffix(line, "#lab <alice> before the restart") {
		t.Fatalf("follow printed %q", line)
	}

	bob.cmd.Process.Signal(syscall.SIGSTOP)
	ts2 := restartServer(t, ts)
	alice = rawLogin(t, ts2.addr, "alice", "alicepw1")
	alice.send("JOIN #lab")
	alice.expect(`JOIN #lab`)
	alice.send("PRIVMSG #lab :while you were away")
	alice.send("PRIVMSG bob :a DM while you were away") // queued for bob, and in the history
	alice.send("PING sync")
	alice.expect(`PONG`)
	bob.cmd.Process.Signal(syscall.SIGCONT)

	alice.expect(`:bob!\S+ JOIN #lab`) // bob is back
	var got []string
	for len(got) < 2 {
		got = append(got, bob.nextLine(t))
	}
	// Both missed messages, then a live one: whatever came twice would come before it.
	alice.send("PRIVMSG #lab :after the restart")
	for !strings.HasSuffix(got[len(got)-1], "after the restart") {
		got = append(got, bob.nextLine(t))
	}
	want := []string{`#lab <alice> while you were away$`, `\*alice\* a DM while you were away$`, `#lab <alice> after the restart$`}
	for _, w := range want {
		n := 0
		for _, line := range got {
			if regexp.MustCompile(w).MatchString(line) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d lines match %s; want 1. Printed:\n%s", n, w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("printed %d lines; want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	if !strings.Contains(bob.stderr.String(), "reconnecting") {
		t.Errorf("stderr says nothing of reconnecting: %q", bob.stderr.String())
	}
	bob.stdin.Close()
	if code := bob.wait(t); code != exitOK {
		t.Errorf("exit %d; want 0; stderr: %s", code, bob.stderr.String())
	}
}

func TestConnectNoReconnectEndsWithExit5(t *testing.T) {
	ts := startServer(t, loginRequiredConfig(t), "")
	data := t.TempDir()
	registerViaCLI(t, ts.addr, data, "bob", "bobpw123")
	registerViaCLI(t, ts.addr, data, "alice", "alicepw1")
	alice := rawLogin(t, ts.addr, "alice", "alicepw1")
	alice.send("MONITOR + bob")
	alice.expect(` 731 `)
	bob := startClient(t, clientEnv(data, "bobpw123"), "connect", ts.addr, "--user", "bob", "--follow", "--no-reconnect")
	alice.expect(` 730 .*bob`)
	ts.stop(t)
	if code := bob.wait(t); code != exitProtocol || !strings.Contains(bob.stderr.String(), "Server shutting down") {
		t.Errorf("exit %d, stderr %q; want %d and the server's reason", code, bob.stderr.String(), exitProtocol)
	}
}

// paneSignal sends sig to the client running in the pane (env execs it: same pid).
func (tp *tmuxPane) signal(sig syscall.Signal) {
	tp.t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(tp.tmux("display", "-p", "-t", "lc", "#{pane_pid}")))
	if err != nil {
		tp.t.Fatalf("pane pid: %v", err)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		tp.t.Fatalf("signal %v: %v", sig, err)
	}
}

// The interactive client through a server restart: the prompt says it is reconnecting and
// keeps the half-typed line, the DM sent meanwhile shows once, and Ctrl-C clears a line,
// then leaves on an empty one.
func TestInteractiveReconnectAndCtrlC(t *testing.T) {
	needTmux(t)
	ts := startServer(t, loginRequiredConfig(t), "")
	data := t.TempDir()
	registerViaCLI(t, ts.addr, data, "alice", "alicepw1")
	registerViaCLI(t, ts.addr, data, "bob", "bobpw123")
	bob := startPane(t, ts.addr, data, "bob", "bobpw123")
	bob.tmux("send-keys", "-t", "lc", "-l", "draft")
	bob.waitScreen("the typed text", lastLineIs("[bob] > draft"))

	bob.signal(syscall.SIGSTOP)
	ts2 := restartServer(t, ts)
	alice := rawLogin(t, ts2.addr, "alice", "alicepw1")
	alice.send("PRIVMSG bob :sent while you were away")
	alice.send("PING sync")
	alice.expect(`PONG`)
	bob.signal(syscall.SIGCONT)

	bob.waitScreen("the reconnecting prompt", lastLineIs("[bob reconnecting ...] > draft"))
	bob.waitScreen("the prompt back, the line kept", lastLineMatches(`^\[bob(, \d+ unread)?\] > draft$`))
	bob.shows(`\*alice\* sent while you were away$`)
	alice.send("PRIVMSG bob :a live one")
	bob.shows(`\*alice\* a live one$`)
	screen := bob.waitScreen("the prompt, two DMs unread", lastLineIs("[bob, 2 unread] > draft"))
	n := 0
	for _, l := range screen {
		if strings.HasSuffix(l, "sent while you were away") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the missed DM shows %d times; want once:\n%s", n, strings.Join(screen, "\n"))
	}

	bob.tmux("send-keys", "-t", "lc", "C-c")
	bob.waitScreen("the line cleared", lastLineIs("[bob, 2 unread] >"))
	bob.typeLine("/query alice")
	bob.waitScreen("the client still there", lastLineIs("[bob -> alice] >"))
	bob.tmux("send-keys", "-t", "lc", "C-c")
	bob.waitGone()
}

func TestInteractiveCtrlDLeaves(t *testing.T) {
	needTmux(t)
	addr, data := aliceAndBob(t)
	bob := startPane(t, addr, data, "bob", "bobpw123")
	bob.tmux("send-keys", "-t", "lc", "C-d")
	bob.waitGone()
}

// paneWithoutPassword starts the client in tmux with no password in the environment, so it
// asks on the terminal.
func paneWithoutPassword(t *testing.T, addr, data, user string) *tmuxPane {
	t.Helper()
	tp := &tmuxPane{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	cmd := fmt.Sprintf("env -u LABCHAT_PASSWORD LABCHAT_DATA=%s LABCHAT_CONFIG= TERM=xterm %s connect %s --user %s", data, labchatBinary(t), addr, user)
	tp.tmux("new-session", "-d", "-s", "lc", "-x", "150", "-y", "40", cmd)
	t.Cleanup(func() { tp.quit() })
	return tp
}

// A wrong password asks again; an unknown account offers to be created, and two different
// passwords ask again.
func TestInteractiveLoginForgives(t *testing.T) {
	needTmux(t)
	addr, data := aliceAndBob(t)
	bob := paneWithoutPassword(t, addr, data, "bob")
	bob.waitScreen("the password question", lastLineIs("Password for bob@"+addr+":"))
	bob.typeLine("not-his-pw")
	bob.shows(`wrong password for bob; try again \(2 more\)`)
	bob.waitScreen("the question again", lastLineIs("Password for bob@"+addr+":"))
	bob.typeLine("bobpw123")
	bob.waitScreen("bob's prompt", func(l []string) bool { return strings.HasPrefix(l[len(l)-1], "[bob") })

	dora := paneWithoutPassword(t, addr, data, "dora")
	dora.waitScreen("the password question", lastLineIs("Password for dora@"+addr+":"))
	dora.typeLine("dorapw12")
	dora.waitScreen("the offer", lastLineIs("There is no account dora on "+addr+". Create it? [y/N]"))
	dora.typeLine("y")
	dora.waitScreen("the confirmation", lastLineIs("Same password again, to create dora:"))
	dora.typeLine("typo-pw1")
	dora.shows(`the two passwords differ`)
	dora.waitScreen("a new password", lastLineIs("New password for dora@"+addr+":"))
	dora.typeLine("dorapw12")
	dora.waitScreen("its confirmation", lastLineIs("Same password again:"))
	dora.typeLine("dorapw12")
	dora.shows(`account dora created`)
	dora.waitScreen("dora's prompt", func(l []string) bool { return strings.HasPrefix(l[len(l)-1], "[dora") })
	screen := dora.waitScreen("the prompt", func([]string) bool { return true })
	if strings.Contains(strings.Join(screen, "\n"), "already") {
		t.Errorf("registering says 'already authenticated':\n%s", strings.Join(screen, "\n"))
	}
	rawLogin(t, addr, "dora", "dorapw12") // the account exists with the password typed twice
}

// A pipeline sending to --to goes on after a server restart: the line written while the
// server was down is sent once the client is back.
func TestConnectPipelineSendsAcrossARestart(t *testing.T) {
	ts := startServer(t, loginRequiredConfig(t), "")
	data := t.TempDir()
	registerViaCLI(t, ts.addr, data, "alice", "alicepw1")
	registerViaCLI(t, ts.addr, data, "bob", "bobpw123")
	bob := rawLogin(t, ts.addr, "bob", "bobpw123")
	alice := startClient(t, clientEnv(data, "alicepw1"), "connect", ts.addr, "--user", "alice", "--to", "bob")
	io.WriteString(alice.stdin, "before the restart\n")
	bob.expect(`:alice!\S+ PRIVMSG bob :before the restart$`)

	ts2 := restartServer(t, ts)
	io.WriteString(alice.stdin, "written while the server was down\n")
	bob = rawLogin(t, ts2.addr, "bob", "bobpw123")
	bob.expect(`:alice!\S+ PRIVMSG bob :written while the server was down$`)
	io.WriteString(alice.stdin, "after\n")
	alice.stdin.Close()
	bob.expect(`:alice!\S+ PRIVMSG bob :after$`)
	if code := alice.wait(t); code != exitOK {
		t.Errorf("exit %d; want 0; stderr: %s", code, alice.stderr.String())
	}
}

// The real server process killed (SIGKILL: no ERROR, no goodbye) and started again on the
// same data dir and port: the client comes back and shows what was said meanwhile, once.
func TestConnectFollowReconnectsAfterServerIsKilled(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(t.TempDir(), "server.toml")
	os.WriteFile(conf, []byte("[server]\nbcrypt_cost = 4\ntls_listen = \"\"\nweb_listen = \"\"\n"), 0o600)
	srv := startBinaryServer(t, "serve", "--config", conf, "--data-dir", dir, "--listen", "127.0.0.1:0")
	data := t.TempDir()
	registerViaCLI(t, srv.addr, data, "alice", "alicepw1")
	registerViaCLI(t, srv.addr, data, "bob", "bobpw123")
	alice := rawLogin(t, srv.addr, "alice", "alicepw1")
	alice.send("JOIN #lab")
	alice.expect(`JOIN #lab`)
	bob := startClient(t, clientEnv(data, "bobpw123"), "connect", srv.addr, "--user", "bob", "--to", "#lab", "--follow")
	alice.expect(`:bob!\S+ JOIN #lab`)

	bob.cmd.Process.Signal(syscall.SIGSTOP)
	srv.proc.Kill()
	srv.stop() // waits for the killed process
	srv = startBinaryServer(t, "serve", "--config", conf, "--data-dir", dir, "--listen", srv.addr)
	alice = rawLogin(t, srv.addr, "alice", "alicepw1")
	alice.send("JOIN #lab")
	alice.expect(`JOIN #lab`)
	alice.send("PRIVMSG #lab :said while bob was cut off")
	alice.send("PING sync")
	alice.expect(`PONG`)
	bob.cmd.Process.Signal(syscall.SIGCONT)

	alice.expect(`:bob!\S+ JOIN #lab`)
	got := []string{bob.nextLine(t)}
	alice.send("PRIVMSG #lab :live again")
	got = append(got, bob.nextLine(t))
	if !strings.HasSuffix(got[0], "#lab <alice> said while bob was cut off") || !strings.HasSuffix(got[1], "#lab <alice> live again") {
		t.Errorf("printed:\n%s\nwant the missed message once, then the live one", strings.Join(got, "\n"))
	}
	bob.stdin.Close()
	if code := bob.wait(t); code != exitOK {
		t.Errorf("exit %d; stderr: %s", code, bob.stderr.String())
	}
}

// A server that goes silent (no FIN, no RST) is asked with a PING, then given up.
func TestSilentServerIsGivenUp(t *testing.T) {
	idle, wait := keepaliveIdle, keepaliveWait
	keepaliveIdle, keepaliveWait = 60*time.Millisecond, 60*time.Millisecond
	defer func() { keepaliveIdle, keepaliveWait = idle, wait }()
	client, server := net.Pipe()
	defer server.Close()
	cc := newClientConn(client)
	lr := newLineReader(server, maxLineLen)
	server.SetReadDeadline(time.Now().Add(clientTestTimeout))
	if line, err := lr.ReadLine(); err != nil || string(line) != "PING keepalive" {
		t.Fatalf("read %q, %v; want the keepalive PING", line, err)
	}
	select {
	case <-cc.gone:
	case <-time.After(clientTestTimeout):
		t.Fatal("the silent connection was never given up")
	}
	if cc.readErr == nil || !strings.Contains(cc.readErr.Error(), "said nothing") {
		t.Errorf("readErr = %v; want it to say the server went silent", cc.readErr)
	}
}
