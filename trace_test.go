package main

// --trace tests: redaction (every split of a secret line over two reads), the close order on
// real sockets, the flag in every position, and a real login (PASS, SASL, REGISTER) through
// the binary whose traces must not contain the password.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRedactionHidesSecretsHoweverSplit(t *testing.T) {
	tests := []struct {
		line, want, secret string
	}{
		{"PASS alice:s3cretpw\r\n", `"PASS ***\r\n"`, "s3cretpw"},
		{"pass alice:s3cretpw\n", `"pass ***\n"`, "s3cretpw"},
		{"@label=x :alice PASS  :alice:s3cretpw\r\n", `"@label=x :alice PASS  ***\r\n"`, "s3cretpw"},
		{"AUTHENTICATE AGFsaWNlAHMzY3JldHB3\r\n", `"AUTHENTICATE ***\r\n"`, "AGFsaWNlAHMzY3JldHB3"},
		{"REGISTER alice alice@example.org s3cretpw\r\n", `"REGISTER alice alice@example.org ***\r\n"`, "s3cretpw"},
		{"REGISTER * * :s3cret pw\r\n", `"REGISTER * * ***\r\n"`, "s3cret"},
		{"REGISTER alice :s3cretpw\r\n", `"REGISTER alice ***\r\n"`, "s3cretpw"},
		{"OPER admin s3cretpw\r\n", `"OPER admin ***\r\n"`, "s3cretpw"},
		// Every form ParseMessage accepts: leading spaces, tags or a source before the command,
		// runs of spaces, any case.
		{" PASS alice:s3cretpw\r\n", `" PASS ***\r\n"`, "s3cretpw"},
		{"   AUTHENTICATE AGFsaWNlAHMzY3JldHB3\n", `"   AUTHENTICATE ***\n"`, "AGFsaWNlAHMzY3JldHB3"},
		{" REGISTER alice * s3cretpw\r\n", `" REGISTER alice * ***\r\n"`, "s3cretpw"},
		{"  @a=b   :x   pAsS   alice:s3cretpw\r\n", `"  @a=b   :x   pAsS   ***\r\n"`, "s3cretpw"},
		{":x oper  admin  s3cretpw\n", `":x oper  admin  ***\n"`, "s3cretpw"},
		// Mistyped, so refused by the server, but the password is still in the line.
		{"REGISTER alice s3cretpw\r\n", `"REGISTER alice ***\r\n"`, "s3cretpw"},
		{"OPER s3cretpw\r\n", `"OPER ***\r\n"`, "s3cretpw"},
		// NickServ (nickserv.go) hears PRIVMSG NickServ, NICKSERV and NS, and splits its text
		// at any white space.
		{"PRIVMSG NickServ :IDENTIFY alice s3cretpw\r\n", `"PRIVMSG NickServ :IDENTIFY ***\r\n"`, "s3cretpw"},
		{"privmsg bob,nickserv :identify s3cretpw\r\n", `"privmsg bob,nickserv :identify ***\r\n"`, "s3cretpw"},
		{"NS IDENTIFY s3cretpw\r\n", `"NS IDENTIFY ***\r\n"`, "s3cretpw"},
		{" nickserv :\tPASSWD\ts3cretpw newer-s3cret\n", `" nickserv :\tPASSWD\t***\n"`, "s3cretpw"},
		{"NS REGISTER s3cretpw alice@example.org\r\n", `"NS REGISTER ***\r\n"`, "s3cretpw"},
	}
	for _, tt := range tests {
		var r lineRedactor
		if got := r.show([]byte(tt.line)); got != tt.want {
			t.Errorf("show(%q) = %s; want %s", tt.line, got, tt.want)
		}
		// TCP may cut the line anywhere: no cut may let the secret through, in any piece.
		for cut := 1; cut < len(tt.line); cut++ {
			var r lineRedactor
			got := r.show([]byte(tt.line[:cut])) + r.show([]byte(tt.line[cut:]))
			for i := 2; i <= len(tt.secret); i++ {
				if strings.Contains(got, tt.secret[:i]) && strings.Contains(tt.line[:cut], tt.secret[:i]) {
					t.Errorf("split %q | %q shows %q, a prefix of the secret", tt.line[:cut], tt.line[cut:], tt.secret[:i])
				}
			}
			if strings.Contains(got, tt.secret[1:]) || strings.Contains(got, tt.secret[:len(tt.secret)-1]) {
				t.Errorf("split %q | %q shows the secret: %s", tt.line[:cut], tt.line[cut:], got)
			}
		}
	}
}

// The server's own lines are replies, not credentials: "REGISTER SUCCESS carol :Account
// created" is shown whole (it printed "carol ***"), while an echo-message copy of a line to
// NickServ is still hidden.
func TestRedactionOfServerLines(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{":labchat.local REGISTER SUCCESS carol :Account created\r\n", `":labchat.local REGISTER SUCCESS carol :Account created\r\n"`},
		{"AUTHENTICATE +\r\n", `"AUTHENTICATE +\r\n"`},
		{":labchat.local FAIL REGISTER ACCOUNT_EXISTS carol :Account already exists\r\n", `":labchat.local FAIL REGISTER ACCOUNT_EXISTS carol :Account already exists\r\n"`},
		{"@msgid=x :alice!alice@127.0.0.1 PRIVMSG NickServ :IDENTIFY alice s3cretpw\r\n", `"@msgid=x :alice!alice@127.0.0.1 PRIVMSG NickServ :IDENTIFY ***\r\n"`},
	} {
		r := lineRedactor{fromServer: true}
		if got := r.show([]byte(tt.line)); got != tt.want {
			t.Errorf("server line show(%q) = %s; want %s", tt.line, got, tt.want)
		}
	}
}

// FuzzRedaction checks the redactor against the server's parser: whatever line ParseMessage
// turns into a PASS, AUTHENTICATE, REGISTER or OPER with its secret parameter, the redactor
// hides from that parameter on, once the line is complete and in every unfinished part of
// it that has reached the secret (TCP may deliver any prefix of a line in one read).
func FuzzRedaction(f *testing.F) {
	for _, seed := range []string{"PASS alice:pw", " PASS a:pw", "@a=b :x pass :a b", "  REGISTER a * pw",
		"AUTHENTICATE AGFsaWNl", "OPER admin pw", "\tPASS pw", "PASS\tpw", "PRIVMSG x :PASS pw",
		"PRIVMSG NickServ :IDENTIFY a pw", "NS :passwd\u00a0old new", "nickserv register pw"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		m, err := ParseMessage(line)
		if err != nil || strings.ContainsAny(line, "\r\n") {
			return
		}
		secret, ok := nickServPassword(m)
		if !ok {
			idx, isSecret := secretParams[m.Command]
			if !isSecret || len(m.Params) <= idx {
				return
			}
			secret = m.Params[idx]
			if m.Command == "AUTHENTICATE" && slices.ContainsFunc(authenticatePublic, func(p string) bool { return strings.EqualFold(p, secret) }) {
				return
			}
		}
		at := strings.Index(line, secret)
		if secret == "" || at != strings.LastIndex(line, secret) {
			return // the secret's place in the line is not known from its text alone
		}
		wire := line + "\r\n"
		for end := at + 1; end <= len(wire); end++ {
			if off := secretOffset([]byte(wire[:end])); off < 0 || off > at {
				t.Fatalf("secretOffset(%q) = %d; the %s secret %q starts at %d", wire[:end], off, m.Command, secret, at)
			}
		}
	})
}

// nickServPassword is the first argument NickServ would take as a password from m, by
// nickserv.go's reading of it.
func nickServPassword(m Message) (string, bool) {
	var text string
	switch {
	case m.Command == "NICKSERV" || m.Command == "NS":
		text = strings.Join(m.Params, " ")
	case m.Command == "PRIVMSG" && len(m.Params) >= 2 && slices.ContainsFunc(strings.Split(m.Params[0], ","), isServiceNick):
		text = m.Params[1]
	default:
		return "", false
	}
	fields := strings.Fields(text)
	if len(fields) < 2 || !slices.Contains(nickServSecret, strings.ToUpper(fields[0])) {
		return "", false
	}
	return fields[1], true
}

func TestRedactionKeepsEverythingElse(t *testing.T) {
	lines := []string{
		"PRIVMSG bob :PASS me the salt\r\n",
		"AUTHENTICATE PLAIN\r\n",
		"AUTHENTICATE +\r\n",
		"AUTHENTICATE *\r\n",
		"PASS\r\n",
		"REGISTER alice *\r\n",
		":labchat.local 900 bob bob!~bob@127.0.0.1 bob :You are now logged in as bob\r\n",
		"NICK alice\r\nUSER alice 0 * :Alice\r\n",
		"PRIVMSG NickServ :INFO alice\r\n",
		"NS IDENTIFY\r\n",
		"NOTICE NickServ :IDENTIFY is how you log in\r\n",
		"PRIVMSG bob :IDENTIFY yourself\r\n",
	}
	for _, line := range lines {
		var r lineRedactor
		if got, want := r.show([]byte(line)), fmt.Sprintf("%q", line); got != want {
			t.Errorf("show(%q) = %s; want it unchanged", line, got)
		}
	}
	var r lineRedactor
	long := strings.Repeat("x", traceShowBytes+10)
	if got, want := r.show([]byte(long)), fmt.Sprintf("%q...", long[:traceShowBytes]); got != want {
		t.Errorf("long payload shown as %s; want %s", got, want)
	}
}

func TestRedactionFollowsTheLineAcrossReads(t *testing.T) {
	var r lineRedactor
	got := r.show([]byte("NICK a\r\nPA")) + r.show([]byte("SS x")) + r.show([]byte("yz\r\nPRIVMSG b :hi\r\n"))
	if want := `"NICK a\r\nPA""SS ***""***\r\nPRIVMSG b :hi\r\n"`; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}

// syncBuffer is a trace destination read by the test while others write to it; waitFor
// wakes on every write instead of polling.
type syncBuffer struct {
	mu      sync.Mutex // guards b and changed
	b       bytes.Buffer
	changed chan struct{} // closed and replaced at every write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor returns the first match of re in what was written, waiting for it until timeout.
func (s *syncBuffer) waitFor(t testing.TB, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	m, ok := s.waitUntil(re, timeout, nil)
	if !ok {
		t.Fatalf("no %q within %v in:\n%s", re, timeout, s.String())
	}
	return m
}

// waitUntil is waitFor that gives up (ok false) at the timeout or when stop is closed.
func (s *syncBuffer) waitUntil(re *regexp.Regexp, timeout time.Duration, stop <-chan struct{}) (m []string, ok bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		m := re.FindStringSubmatch(s.b.String())
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		changed := s.changed
		s.mu.Unlock()
		if m != nil {
			return m, true
		}
		select {
		case <-changed:
		case <-stop:
			return s.waitUntil(re, 0, nil) // what it wrote last may match
		case <-deadline.C:
			return nil, false
		}
	}
}

// bgProc is a program running in the background, its stdout and stderr collected.
type bgProc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{} // closed when it has exited; err is set then
	err            error
}

func startProc(t testing.TB, env []string, name string, args ...string) *bgProc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	p := &bgProc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait waits for the program to exit by itself and returns its exit code.
func (p *bgProc) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s still running after %v; stderr:\n%s", p.cmd.Path, timeout, p.stderr.String())
	}
	if ee, ok := errors.AsType[*exec.ExitError](p.err); ok {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("%s: %v", p.cmd.Path, p.err)
	}
	return 0
}

// tracedPair returns both ends of a loopback TCP connection, each traced into its own buffer.
func tracedPair(t *testing.T) (client, server *tracedConn, clientLog, serverLog *syncBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	clientLog, serverLog = &syncBuffer{}, &syncBuffer{}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	client = newTracer(clientLog).dialed(c, time.Now()).(*tracedConn)
	server = newTracer(serverLog).accepted(s).(*tracedConn)
	t.Cleanup(func() { c.Close(); s.Close() })
	return client, server, clientLog, serverLog
}

func TestTraceSaysWhoClosedFirst(t *testing.T) {
	client, server, clientLog, serverLog := tracedPair(t)
	if _, err := client.Write([]byte("QUIT\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	server.SetReadDeadline(time.Now().Add(ioTimeout))
	if n, err := server.Read(buf); err != nil || string(buf[:n]) != "QUIT\r\n" {
		t.Fatalf("server read %q, %v", buf[:n], err)
	}
	server.Close()
	client.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := client.Read(buf); !errors.Is(err, io.EOF) {
		t.Fatalf("client read after server close: %v; want EOF", err)
	}
	client.Close()
	local, remote := client.local, server.local
	for _, want := range []struct {
		log     *syncBuffer
		pattern string
	}{
		{clientLog, `^\d\d:\d\d:\d\d\.\d{6} tcp connect ` + regexp.QuoteMeta(local+" -> "+remote) + ` \(handshake`},
		{serverLog, `^\d\d:\d\d:\d\d\.\d{6} tcp accept ` + regexp.QuoteMeta(remote+" <- "+local) + ` \(`},
		{clientLog, `(?m)^\S+ tcp write ` + regexp.QuoteMeta(local+" -> "+remote) + ` 6 bytes "QUIT\\r\\n"$`},
		{serverLog, `(?m)^\S+ tcp read ` + regexp.QuoteMeta(remote+" <- "+local) + ` 6 bytes "QUIT\\r\\n"$`},
		{serverLog, `(?m)^\S+ tcp close ` + regexp.QuoteMeta(remote+" -> "+local) + ` \(this side closes first: it sends the first FIN\)$`},
		{clientLog, `(?m)^\S+ tcp eof .*\(the peer closed first`},
		{clientLog, `(?m)^\S+ tcp close .*\(the peer closed first: this side's FIN answers the peer's\)$`},
	} {
		if !regexp.MustCompile(want.pattern).MatchString(want.log.String()) {
			t.Errorf("trace lacks %s:\n%s", want.pattern, want.log.String())
		}
	}
}

// The peer's FIN may sit unread when this side closes (CLOSE_WAIT): the trace must still say
// the peer closed first. Only Linux tells (TCP_INFO); elsewhere EOF is the only evidence.
func TestTraceSeesAnUnreadFIN(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs TCP_INFO (Linux)")
	}
	client, server, _, serverLog := tracedPair(t)
	client.Close()
	// No event says the FIN has arrived short of reading it, which is what this test must
	// not do: poll the socket state, with a deadline.
	deadline := time.Now().Add(ioTimeout)
	for !peerFINReceived(server.Conn) {
		if time.Now().After(deadline) {
			t.Fatal("the client's FIN never arrived")
		}
		time.Sleep(time.Millisecond)
	}
	server.Close()
	if !strings.Contains(serverLog.String(), "(the peer closed first: this side's FIN answers the peer's)") {
		t.Errorf("server trace:\n%s", serverLog.String())
	}
}

func TestTraceFlagAnywhere(t *testing.T) {
	data := t.TempDir()
	noTrace := []string{"LABCHAT_TRACE="}
	tests := []struct {
		name  string
		env   []string
		args  []string
		trace bool
	}{
		{"before the subcommand", noTrace, []string{"--trace", "udp-send", "127.0.0.1:9", "x"}, true},
		{"after the subcommand", noTrace, []string{"udp-send", "--trace", "127.0.0.1:9", "x"}, true},
		{"after the arguments", noTrace, []string{"udp-send", "127.0.0.1:9", "x", "--trace"}, true},
		{"environment", []string{"LABCHAT_TRACE=1"}, []string{"udp-send", "127.0.0.1:9", "x"}, true},
		{"typed false beats the environment", []string{"LABCHAT_TRACE=1"}, []string{"udp-send", "--trace=false", "127.0.0.1:9", "x"}, false},
		{"off by default", noTrace, []string{"udp-send", "127.0.0.1:9", "x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := runCLI(t, ioTimeout, "", append([]string{"LABCHAT_DATA=" + data, "LABCHAT_CONFIG="}, tt.env...), tt.args...)
			traced := regexp.MustCompile(`(?m)^\S+ udp sendto 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:9 1 bytes "x"$`).MatchString(res.stderr)
			if traced != tt.trace {
				t.Errorf("labchat %s: traced %v, want %v; stderr:\n%s", strings.Join(tt.args, " "), traced, tt.trace, res.stderr)
			}
			if tt.trace && !strings.Contains(res.stderr, "capture filter: host 127.0.0.1 and udp port 9\n") {
				t.Errorf("no capture filter in stderr:\n%s", res.stderr)
			}
		})
	}
	res := runCLI(t, ioTimeout, "", []string{"LABCHAT_DATA=" + data}, "history", "--trace")
	if !strings.Contains(res.stderr, "history opens no sockets") || strings.Contains(res.stderr, "flag provided") {
		t.Errorf("history --trace: exit %d, stderr:\n%s", res.code, res.stderr)
	}
}

// startTracedServe runs `labchat serve --trace` on 127.0.0.1:0 with the cheapest hash and
// returns it with its address.
func startTracedServe(t *testing.T, data string) (*bgProc, string) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "fast.toml")
	if err := os.WriteFile(conf, []byte("[server]\nbcrypt_cost = 4\nflood_rate = 0.0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startProc(t, []string{"LABCHAT_DATA=" + data, "LABCHAT_CONFIG=" + conf, "LABCHAT_TRACE="},
		labchatBinary(t), "serve", "--trace", "--listen", "127.0.0.1:0")
	m := srv.stdout.waitFor(t, regexp.MustCompile(`listening on (\S+) `), clientTestTimeout)
	return srv, m[1]
}

func TestTraceNeverShowsPasswords(t *testing.T) {
	const bobPW, alicePW = "bob-S3cret-pw", "alice-S3cret-pw"
	srv, addr := startTracedServe(t, t.TempDir())
	clientData := t.TempDir()
	var traces []string
	// REGISTER, then SASL PLAIN: the client does both.
	for _, args := range [][]string{
		{"--trace", "connect", addr, "--user", "bob", "--register", "--to", "bob"},
		{"connect", addr, "--user", "bob", "--to", "bob", "--trace"},
	} {
		res := runCLI(t, clientTestTimeout, "hello\n", clientEnv(clientData, bobPW), args...)
		if res.code != exitOK {
			t.Fatalf("labchat %s: exit %d, stderr: %s", strings.Join(args, " "), res.code, res.stderr)
		}
		traces = append(traces, res.stderr)
	}
	registerViaCLI(t, addr, clientData, "alice", alicePW)
	// PASS, from a raw client the server traces; it waits for the welcome, so the login
	// has been read and traced.
	raw := rawLogin(t, addr, "alice", alicePW)
	raw.send("QUIT")
	raw.expect(`^ERROR `)
	plain := base64.StdEncoding.EncodeToString([]byte("bob\x00bob\x00" + bobPW))
	traces = append(traces, srv.stderr.String())
	for _, trace := range traces {
		for _, secret := range []string{bobPW, alicePW, plain, plain[len(plain)/2:]} {
			if strings.Contains(trace, secret) {
				t.Errorf("trace shows %q:\n%s", secret, trace)
			}
		}
	}
	for _, want := range []string{`"REGISTER * * ***\r\n"`, `"AUTHENTICATE ***\r\n"`, `"PASS ***\r\n`} {
		if !strings.Contains(strings.Join(traces, ""), want) {
			t.Errorf("no %s in the traces: is the login traced at all?\n%s", want, strings.Join(traces, "\n"))
		}
	}
}

// TestTraceRedactsWhatTheServerAccepts sends the secret commands in the forms the parser takes
// besides the plain one (leading spaces, tags, a source, lower case, runs of spaces). Each is
// acted on by the real server, which proves it parsed it, and none shows its secret in the
// server's trace.
func TestTraceRedactsWhatTheServerAccepts(t *testing.T) {
	const pw = "alice-S3cret-pw"
	srv, addr := startTracedServe(t, t.TempDir())
	dial := func() *rawIRC {
		conn, err := net.DialTimeout("tcp", addr, clientTestTimeout)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		return &rawIRC{t: t, conn: conn, lr: newLineReader(conn, maxLineLen)}
	}
	r := dial()
	r.send(" NICK alice")
	r.send("  REGISTER alice * " + pw)
	r.expect(` REGISTER SUCCESS alice `)
	r.send("QUIT")
	r.expect(`^ERROR `)
	for _, prefix := range []string{" ", "   ", "@label=x ", " @a=b  :alice  ", ":alice "} {
		r := dial()
		r.send(prefix + "pAsS alice:" + pw)
		r.send("NICK alice")
		r.send("USER alice 0 * :alice")
		r.expect(` 001 `)
		r.send("QUIT")
		r.expect(`^ERROR `)
	}
	// NickServ hears its commands however they come; these answer "already logged in".
	r = dial()
	r.send("PASS alice:" + pw)
	r.send("NICK alice")
	r.send("USER alice 0 * :alice")
	r.expect(` 001 `)
	for _, line := range []string{"PRIVMSG NickServ :IDENTIFY alice " + pw, " ns identify " + pw, "PRIVMSG bob,NickServ :IDENTIFY " + pw} {
		r.send(line)
		r.expect(`^:NickServ!\S+ NOTICE alice :You are already logged in`)
	}
	r.send("QUIT")
	r.expect(`^ERROR `)
	plain := base64.StdEncoding.EncodeToString([]byte("alice\x00alice\x00" + pw))
	r = dial()
	r.send("CAP REQ :sasl")
	r.expect(` ACK `)
	r.send(" AUTHENTICATE PLAIN")
	r.expect(`^AUTHENTICATE \+`)
	r.send("  authenticate " + plain)
	r.expect(` 903 `)
	r.send("QUIT")
	r.expect(`^ERROR `)
	trace := srv.stderr.String()
	for _, secret := range []string{pw, plain, plain[len(plain)/2:]} {
		if strings.Contains(trace, secret) {
			t.Errorf("trace shows %q:\n%s", secret, trace)
		}
	}
	for _, want := range []string{` REGISTER alice * ***\r\n`, `" pAsS ***\r\n`, `" @a=b  :alice  pAsS ***\r\n`, `"  authenticate ***\r\n"`} {
		if !strings.Contains(trace, want) {
			t.Errorf("no %s in the trace:\n%s", want, trace)
		}
	}
}

// The client's input history keeps /raw lines out by the same rule as the trace.
func TestInputHistorySkipsRawSecrets(t *testing.T) {
	for line, want := range map[string]bool{
		"/raw PASS alice:pw": false, "/raw  pass alice:pw": false, "/raw @a=b PASS alice:pw": false,
		"/raw :alice PASS alice:pw": false, "/raw REGISTER alice * pw": false, "/raw OPER admin pw": false,
		"/raw AUTHENTICATE PLAIN": true, "/raw PRIVMSG bob :PASS it on": true, "/msg bob hi": true, "  ": false,
		"/msg NickServ IDENTIFY pw": false, "/msg nickserv passwd old new": false, "/raw NS IDENTIFY pw": false,
		"/msg NickServ INFO alice": true, "/msg bob IDENTIFY pw": true,
	} {
		if got := keepInHistory(line); got != want {
			t.Errorf("keepInHistory(%q) = %v; want %v", line, got, want)
		}
	}
}
