package main

// Client tests: the real binary (labchatBinary) against labchat's own server run in-process on
// 127.0.0.1:0, with raw IRC sockets as the other party. They wait on protocol events with
// deadlines; the tmux test polls capture-pane, its only event source.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

const clientTestTimeout = 20 * time.Second

// startClientTestServer runs labchat's server (see startServer) with logins required;
// tweaks change the configuration further.
func startClientTestServer(t *testing.T, tweaks ...func(*ServerConfig)) string {
	t.Helper()
	sc := loginRequiredConfig(t)
	for _, tweak := range tweaks {
		tweak(&sc)
	}
	return startServer(t, sc, "").addr
}

// clientEnv is the environment for one client run: its own data dir and a password.
func clientEnv(dataDir, password string) []string {
	return []string{"LABCHAT_DATA=" + dataDir, "LABCHAT_PASSWORD=" + password, "LABCHAT_USER=", "LABCHAT_CONFIG="}
}

// registerViaCLI creates an account with the binary: --register, nothing to send.
// aliceAndBob starts a server with the accounts alice (alicepw1) and bob (bobpw123), both
// registered through the real binary, and returns its address and the clients' data dir.
func aliceAndBob(t *testing.T, tweaks ...func(*ServerConfig)) (addr, data string) {
	t.Helper()
	addr = startClientTestServer(t, tweaks...)
	data = t.TempDir()
	registerViaCLI(t, addr, data, "alice", "alicepw1")
	registerViaCLI(t, addr, data, "bob", "bobpw123")
	return addr, data
}

func registerViaCLI(t *testing.T, addr, dataDir, user, password string) {
	t.Helper()
	res := runCLI(t, clientTestTimeout, "", clientEnv(dataDir, password), "connect", addr, "--user", user, "--register", "--to", user)
	if res.code != exitOK {
		t.Fatalf("register %s: exit %d, stderr: %s", user, res.code, res.stderr)
	}
}

// rawIRC is the other party: a plain socket speaking IRC, logged in with PASS.
type rawIRC struct {
	t    *testing.T
	conn net.Conn
	lr   *lineReader
}

func rawLogin(t *testing.T, addr, user, password string) *rawIRC {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, clientTestTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	r := &rawIRC{t: t, conn: conn, lr: newLineReader(conn, maxLineLen)}
	r.send("PASS " + user + ":" + password)
	r.send("NICK " + user)
	r.send("USER " + user + " 0 * :" + user)
	r.expect(` 001 `)
	return r
}

func (r *rawIRC) send(line string) {
	r.t.Helper()
	r.conn.SetWriteDeadline(time.Now().Add(clientTestTimeout))
	if _, err := io.WriteString(r.conn, line+"\r\n"); err != nil {
		r.t.Fatalf("send %q: %v", line, err)
	}
}

// expect reads lines until one matches pattern, answering PINGs on the way.
func (r *rawIRC) expect(pattern string) string {
	r.t.Helper()
	re := regexp.MustCompile(pattern)
	r.conn.SetReadDeadline(time.Now().Add(clientTestTimeout))
	for {
		line, err := r.lr.ReadLine()
		if err != nil {
			r.t.Fatalf("waiting for %q: %v", pattern, err)
		}
		if strings.HasPrefix(string(line), "PING ") {
			r.send("PONG " + string(line[5:]))
		}
		if re.Match(line) {
			return string(line)
		}
	}
}

// clientProc is the binary running in the background with stdin and stdout as pipes.
type clientProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout lines; closed at EOF
	stderr lockedBuffer
	exited chan error
}

// lockedBuffer is stderr of a running client: written by exec's copier, read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (lb *lockedBuffer) Write(p []byte) (int, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.Write(p)
}

func (lb *lockedBuffer) String() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.String()
}

func startClient(t *testing.T, env []string, args ...string) *clientProc {
	t.Helper()
	cmd := exec.Command(labchatBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cp := &clientProc{cmd: cmd, lines: make(chan string, 100), exited: make(chan error, 1)}
	cmd.Stderr = &cp.stderr
	var err error
	if cp.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start labchat: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			cp.lines <- sc.Text()
		}
		close(cp.lines)
		cp.exited <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return cp
}

func (cp *clientProc) nextLine(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-cp.lines:
		if !ok {
			t.Fatalf("client ended before printing a line; stderr: %s", cp.stderr.String())
		}
		return line
	case <-time.After(clientTestTimeout):
		t.Fatalf("no line from client within %v; stderr: %s", clientTestTimeout, cp.stderr.String())
	}
	return ""
}

// wait returns the exit code, after stdout is drained.
func (cp *clientProc) wait(t *testing.T) int {
	t.Helper()
	deadline := time.NewTimer(clientTestTimeout)
	defer deadline.Stop()
	for open := true; open; {
		select {
		case _, open = <-cp.lines:
		case <-deadline.C:
			t.Fatalf("client output still open after %v", clientTestTimeout)
		}
	}
	select {
	case err := <-cp.exited:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		return 0
	case <-time.After(clientTestTimeout):
		t.Fatalf("client still running after %v", clientTestTimeout)
	}
	return -1
}

func TestConnectPipelineSendsLinesInOrder(t *testing.T) {
	addr, data := aliceAndBob(t)
	bob := rawLogin(t, addr, "bob", "bobpw123")

	res := runCLI(t, clientTestTimeout, "first line\n\nsecond line\r\n", clientEnv(data, "alicepw1"), "connect", addr, "--user", "alice", "--to", "bob")
	if res.code != exitOK {
		t.Fatalf("send: exit %d; stderr: %s", res.code, res.stderr)
	}
	bob.expect(`^(@\S+ )?:alice!\S+ PRIVMSG bob :first line$`)
	bob.expect(`^(@\S+ )?:alice!\S+ PRIVMSG bob :second line$`)
}

func TestConnectPipelineLongLineIsSplitNotLost(t *testing.T) {
	addr, data := aliceAndBob(t)
	bob := rawLogin(t, addr, "bob", "bobpw123")
	long := strings.Repeat("äbc ", 300) // 1500 bytes, multi-byte runes
	res := runCLI(t, clientTestTimeout, long+"\nend\n", clientEnv(data, "alicepw1"), "connect", addr, "--user", "alice", "--to", "bob")
	if res.code != exitOK {
		t.Fatalf("send: exit %d; stderr: %s", res.code, res.stderr)
	}
	var got strings.Builder
	for {
		m, err := ParseMessage(bob.expect(` PRIVMSG bob `))
		if err != nil {
			t.Fatal(err)
		}
		if m.Param(1) == "end" {
			break
		}
		got.WriteString(m.Param(1))
	}
	if got.String() != long {
		t.Errorf("reassembled %d bytes, want the %d sent", got.Len(), len(long))
	}
}

func TestConnectPipelineReportsErrorsAndExits5(t *testing.T) {
	addr := startClientTestServer(t)
	data := t.TempDir()
	registerViaCLI(t, addr, data, "alice", "alicepw1")
	res := runCLI(t, clientTestTimeout, "anyone there?\n", clientEnv(data, "alicepw1"), "connect", addr, "--user", "alice", "--to", "nobody")
	if res.code != exitProtocol || !strings.Contains(res.stderr, "nobody") {
		t.Errorf("send to a missing nick: exit %d, stderr %q; want %d and the nick named", res.code, res.stderr, exitProtocol)
	}
}

// followRoom starts bob following #lab (stdin kept open) and returns once alice sees him
// join; also the server's address and the client data dir.
func followRoom(t *testing.T, extra ...string) (bob *clientProc, alice *rawIRC, addr, data string) {
	addr, data = aliceAndBob(t)
	alice = rawLogin(t, addr, "alice", "alicepw1")
	alice.send("JOIN #lab")
	alice.expect(`JOIN #lab`)
	args := append([]string{"connect", addr, "--user", "bob", "--to", "#lab", "--follow"}, extra...)
	bob = startClient(t, clientEnv(data, "bobpw123"), args...)
	alice.expect(`:bob!\S+ JOIN #lab`)
	return bob, alice, addr, data
}

func TestConnectFollowPrintsMessagesUntilStdinCloses(t *testing.T) {
	bob, alice, _, _ := followRoom(t)
	alice.send("PRIVMSG #lab :hello room")
	alice.send("PRIVMSG bob :hello bob")
	alice.send("PRIVMSG #lab :\x01ACTION waves\x01")
	for _, want := range []string{`^\d\d:\d\d:\d\d #lab <alice> hello room$`, `^\d\d:\d\d:\d\d \*alice\* hello bob$`, `^\d\d:\d\d:\d\d #lab \* alice waves$`} {
		if line := bob.nextLine(t); !regexp.MustCompile(want).MatchString(line) {
			t.Errorf("follow printed %q; want a match for %s", line, want)
		}
	}
	io.WriteString(bob.stdin, "bye from bob\n")
	bob.stdin.Close()
	alice.expect(`:bob!\S+ PRIVMSG #lab :bye from bob`)
	if code := bob.wait(t); code != exitOK {
		t.Errorf("exit %d after stdin closed; want 0; stderr: %s", code, bob.stderr.String())
	}
}

func TestConnectFollowJSON(t *testing.T) {
	bob, alice, _, _ := followRoom(t, "--json")
	alice.send("PRIVMSG bob :json please")
	alice.send("NOTICE #lab :a notice")
	want := []chatEvent{{Kind: kindMessage, From: "alice", To: "bob", Text: "json please"}, {Kind: kindNotice, From: "alice", To: "#lab", Text: "a notice"}}
	for _, w := range want {
		line := bob.nextLine(t)
		var got chatEvent
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("follow --json printed %q: %v", line, err)
		}
		if got.Kind != w.Kind || got.From != w.From || got.To != w.To || got.Text != w.Text || time.Since(got.Time) > time.Minute {
			t.Errorf("got %+v; want %+v with a current time", got, w)
		}
	}
	bob.stdin.Close()
	if code := bob.wait(t); code != exitOK {
		t.Errorf("exit %d; want 0; stderr: %s", code, bob.stderr.String())
	}
}

func TestConnectSecondLoginKeepsTheFirst(t *testing.T) {
	bob, alice, addr, data := followRoom(t)
	res := runCLI(t, clientTestTimeout, "sent from a script\n", clientEnv(data, "bobpw123"), "connect", addr, "--user", "bob", "--to", "alice")
	if res.code != exitOK {
		t.Fatalf("second login: exit %d; stderr %s", res.code, res.stderr)
	}
	alice.expect(`:bob!\S+ PRIVMSG alice :sent from a script`)
	// The first client is still connected and following #lab.
	alice.send("PRIVMSG #lab :still here?")
	for line := bob.nextLine(t); !strings.Contains(line, "still here?"); line = bob.nextLine(t) {
	}
	bob.stdin.Close()
	if code := bob.wait(t); code != exitOK {
		t.Errorf("first client: exit %d, stderr %q; want 0", code, bob.stderr.String())
	}
}

func TestConnectRegisterThenLoginRemembersAccounts(t *testing.T) {
	addr := startClientTestServer(t)
	data := t.TempDir()
	registerViaCLI(t, addr, data, "carol", "carolpw1")
	again := runCLI(t, clientTestTimeout, "", clientEnv(data, "carolpw1"), "connect", addr, "--user", "carol", "--register", "--to", "carol")
	if again.code != exitLoginRefused || !strings.Contains(again.stderr, "ACCOUNT_EXISTS") {
		t.Errorf("register twice: exit %d, stderr %q; want %d, ACCOUNT_EXISTS", again.code, again.stderr, exitLoginRefused)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("carolpw1\n"), 0o600)
	login := runCLI(t, clientTestTimeout, "", []string{"LABCHAT_DATA=" + data, "LABCHAT_PASSWORD="}, "connect", addr, "--user", "carol", "--password-file", pwFile, "--to", "carol")
	if login.code != exitOK {
		t.Fatalf("login with --password-file: exit %d; stderr %s", login.code, login.stderr)
	}
	known := rememberedAccounts(filepath.Join(data, "client"), addr)
	if len(known) != 1 || known[0].name != "carol" || time.Since(known[0].last) > time.Minute {
		t.Errorf("remembered logins for %s = %+v; want carol, just now", addr, known)
	}
	if err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if b, _ := os.ReadFile(path); err == nil && !d.IsDir() && strings.Contains(string(b), "carolpw1") {
			t.Errorf("%s holds the password", path)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestConnectExitCodes(t *testing.T) {
	addr := startClientTestServer(t)
	data := t.TempDir()
	registerViaCLI(t, addr, data, "dave", "davepw12")
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := closed.Addr().String()
	closed.Close()
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		msg  string
	}{
		{"wrong password", clientEnv(data, "wrongpw1"), []string{addr, "--user", "dave", "--to", "dave"}, exitLoginRefused, "wrong password"},
		{"unknown account", clientEnv(data, "whatever1"), []string{addr, "--user", "nobody", "--to", "dave"}, exitLoginRefused, "nobody"},
		{"nothing listening", clientEnv(data, "davepw12"), []string{deadAddr, "--user", "dave", "--to", "dave"}, exitConnect, "connect to"},
		{"no user", clientEnv(data, "davepw12"), []string{addr, "--to", "dave"}, exitUsage, "--user"},
		{"no password", clientEnv(data, ""), []string{addr, "--user", "dave", "--to", "dave"}, exitUsage, "LABCHAT_PASSWORD"},
		{"no target", clientEnv(data, "davepw12"), []string{addr, "--user", "dave"}, exitUsage, "--to"},
		{"json without follow", clientEnv(data, "davepw12"), []string{addr, "--user", "dave", "--to", "x", "--json"}, exitUsage, "--follow"},
		{"two servers", clientEnv(data, "davepw12"), []string{addr, addr, "--user", "dave", "--to", "x"}, exitUsage, "at most one"},
		{"bad port", clientEnv(data, "davepw12"), []string{"127.0.0.1:99999", "--user", "dave", "--to", "x"}, exitUsage, "port"},
		{"unknown flag", clientEnv(data, "davepw12"), []string{addr, "--user", "dave", "--too", "x"}, exitUsage, "--too"},
		{"missing password file", clientEnv(data, ""), []string{addr, "--user", "dave", "--to", "x", "--password-file", "/nonexistent/pw"}, exitUsage, "password file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(t, clientTestTimeout, "hi\n", tt.env, append([]string{"connect"}, tt.args...)...)
			if res.code != tt.code || !strings.Contains(res.stderr, tt.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", res.code, res.stderr, tt.code, tt.msg)
			}
		})
	}
}

// tmuxPane runs the client in a private tmux server and reads its screen.
type tmuxPane struct {
	t    *testing.T
	sock string
}

func (tp *tmuxPane) tmux(args ...string) string {
	tp.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tp.sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		tp.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// waitScreen polls capture-pane (tmux offers no event) until ok accepts the screen.
func (tp *tmuxPane) waitScreen(what string, ok func(lines []string) bool) []string {
	tp.t.Helper()
	deadline := time.Now().Add(clientTestTimeout)
	for {
		lines := strings.Split(strings.TrimRight(tp.tmux("capture-pane", "-p", "-t", "lc"), "\n"), "\n")
		if ok(lines) {
			return lines
		}
		if time.Now().After(deadline) {
			tp.t.Fatalf("screen never showed %s:\n%s", what, strings.Join(lines, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lastLineIs(want string) func([]string) bool {
	return func(lines []string) bool { return lines[len(lines)-1] == want }
}

func lastLineMatches(pattern string) func([]string) bool {
	re := regexp.MustCompile(pattern)
	return func(lines []string) bool { return re.MatchString(lines[len(lines)-1]) }
}

func TestConnectInteractivePromptKeepsTypedText(t *testing.T) {
	needTmux(t)
	addr, data := aliceAndBob(t)
	alice := rawLogin(t, addr, "alice", "alicepw1")

	tp := &tmuxPane{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	cmd := fmt.Sprintf("env LABCHAT_DATA=%s LABCHAT_PASSWORD=bobpw123 TERM=xterm %s connect %s --user bob --no-bell", data, labchatBinary(t), addr)
	tp.tmux("new-session", "-d", "-s", "lc", "-x", "120", "-y", "30", cmd)
	t.Cleanup(func() { exec.Command("tmux", "-S", tp.sock, "kill-server").Run() })

	screen := tp.waitScreen("the prompt", lastLineIs("[bob] >"))
	if !strings.Contains(strings.Join(screen, "\n"), "last login") {
		t.Errorf("no 'last login' line after login:\n%s", strings.Join(screen, "\n"))
	}
	tp.tmux("send-keys", "-t", "lc", "/query alice", "Enter")
	tp.waitScreen("the new target", lastLineIs("[bob -> alice] >"))
	tp.tmux("send-keys", "-t", "lc", "-l", "half a sent")
	tp.waitScreen("the typed text", lastLineIs("[bob -> alice] > half a sent"))

	alice.send("PRIVMSG bob :news while you type")
	tp.waitScreen("the DM above the intact prompt line", func(lines []string) bool {
		n := len(lines)
		return n >= 2 && strings.HasSuffix(lines[n-2], "*alice* news while you type") && lines[n-1] == "[bob -> alice] > half a sent"
	})

	tp.tmux("send-keys", "-t", "lc", "-l", "ence")
	tp.tmux("send-keys", "-t", "lc", "Enter")
	alice.expect(`:bob!\S+ PRIVMSG alice :half a sentence$`)
	tp.tmux("send-keys", "-t", "lc", "/quit", "Enter")
	tp.waitGone()
}

// waitGone polls until the client has exited and so its tmux session has ended.
func (tp *tmuxPane) waitGone() {
	tp.t.Helper()
	deadline := time.Now().Add(clientTestTimeout)
	for exec.Command("tmux", "-S", tp.sock, "has-session", "-t", "lc").Run() == nil {
		if time.Now().After(deadline) {
			tp.t.Fatalf("client still running %v after /quit", clientTestTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServerAddress(t *testing.T) {
	tests := []struct{ in, want string }{
		{"localhost", "localhost:6667"},
		{"10.0.0.7:7000", "10.0.0.7:7000"},
		{"::1", "[::1]:6667"},
		{"[::1]:6697", "[::1]:6697"},
		{"[fe80::1]", "[fe80::1]:6667"},
	}
	for _, tt := range tests {
		if got, err := serverAddress(tt.in); err != nil || got != tt.want {
			t.Errorf("serverAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "host:0", "host:x", "host:70000", "a b:1"} {
		if got, err := serverAddress(bad); err == nil {
			t.Errorf("serverAddress(%q) = %q; want an error", bad, got)
		}
	}
}

func TestSASLPlainChunks(t *testing.T) {
	// 300 bytes of credentials encode to exactly 400 base64 bytes: then a lone "+" follows.
	pw := strings.Repeat("p", 300-len("u\x00u\x00"))
	if got := saslPlainChunks("u", pw); len(got) != 2 || len(got[0]) != 400 || got[1] != "+" {
		t.Errorf("400-byte payload: got %d chunks, last %q; want a 400-byte chunk and +", len(got), got[len(got)-1])
	}
	if got := saslPlainChunks("alice", "pw"); len(got) != 1 || got[0] != "YWxpY2UAYWxpY2UAcHc=" {
		t.Errorf("short payload = %q", got)
	}
}

func TestSplitTextKeepsRunesAndBytes(t *testing.T) {
	s := strings.Repeat("日本語 text ", 100)
	pieces := splitText(s, 100)
	if strings.Join(pieces, "") != s {
		t.Fatal("pieces do not add up to the text")
	}
	for _, p := range pieces {
		if len(p) > 100 || !utf8.ValidString(p) {
			t.Errorf("piece of %d bytes, valid UTF-8 %v", len(p), utf8.ValidString(p))
		}
	}
}

func TestReadStdinLinesCutsHugeLinesAtRunes(t *testing.T) {
	long := strings.Repeat("€", maxStdinLine) // 3 bytes each: the buffer ends mid-rune
	out := make(chan string)
	errc := make(chan error, 1)
	go readStdinLines(strings.NewReader(long+"\nlast"), out, errc)
	var got []string
	for line := range out {
		if !utf8.ValidString(line) {
			t.Fatalf("piece of %d bytes is not valid UTF-8", len(line))
		}
		got = append(got, line)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if strings.Join(got[:len(got)-1], "") != long || got[len(got)-1] != "last" {
		t.Errorf("got %d pieces that do not add up to the input", len(got))
	}
}

func TestEventsAreSanitized(t *testing.T) {
	ev := chatEvent{Time: time.Now(), Kind: kindMessage, From: "eve", To: "#lab", Text: "hi\x1b[2J\x07\x03there"}
	if got := ev.String(); strings.ContainsAny(got, "\x1b\x07\x03") || !strings.HasSuffix(got, "#lab <eve> hi[2Jthere") {
		t.Errorf("String() = %q; want control characters removed", got)
	}
}

func TestCompletion(t *testing.T) {
	cs := newClientSession(nil, &clientOptions{user: "me"}, nil)
	cs.nicks["alice"], cs.nicks["albert"], cs.rooms["#lab"] = "alice", "albert", "#lab"
	tests := []struct {
		line string
		want []string
	}{
		{"/jo", []string{"/join "}},
		{"/whois al", []string{"albert ", "alice "}},
		{"/join #l", []string{"#lab "}},
		{"/whois #l", nil},
		{"hello ali", []string{"alice "}},
	}
	for _, tt := range tests {
		_, got, _ := cs.complete(tt.line, len(tt.line))
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("complete(%q) = %q; want %q", tt.line, got, tt.want)
		}
	}
}
