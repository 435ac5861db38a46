package main

// Client presence and calls: unit tests of the rules (status changes, late rings, name
// files, the repeating bell), and end-to-end runs of the real binary: pipeline --follow
// --json for pushed status and call events, tmux for /call, /answer, /decline, /who, /away.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// eventRecorder is an eventSink that hands events to the test.
type eventRecorder struct{ ch chan chatEvent }

func (er *eventRecorder) event(ev chatEvent) { er.ch <- ev }

func (er *eventRecorder) next(t *testing.T) chatEvent {
	t.Helper()
	select {
	case ev := <-er.ch:
		return ev
	case <-time.After(clientTestTimeout):
		t.Fatal("no event")
	}
	return chatEvent{}
}

func ringLine(t *testing.T, sent time.Time, verb string) inbound {
	t.Helper()
	line := fmt.Sprintf("@time=%s :alice!~alice@10.0.0.7 PRIVMSG bob :\x01CALL c0ffee %s\x01", sent.UTC().Format("2006-01-02T15:04:05.000Z"), verb)
	m, err := ParseMessage(line)
	if err != nil {
		t.Fatal(err)
	}
	return inbound{msg: m, raw: line}
}

func TestRingOlderThanTimeoutIsAMissedCall(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		age  time.Duration
		want bool
	}{{0, false}, {29 * time.Second, false}, {30 * time.Second, true}, {26 * time.Hour, true}} {
		if got := ringIsMissed(now.Add(-tt.age), now, 30*time.Second); got != tt.want {
			t.Errorf("ringIsMissed(age %v, timeout 30s) = %v; want %v", tt.age, got, tt.want)
		}
	}

	rec := &eventRecorder{ch: make(chan chatEvent, 10)}
	cs := newClientSession(nil, &clientOptions{user: "bob", callTimeout: 30 * time.Second}, rec)
	sent := now.Add(-2 * time.Hour) // stored while bob was offline, delivered at login
	cs.handle(ringLine(t, sent, "RING"))
	ev := rec.next(t)
	want := "missed call from alice at " + sinceText(sent, time.Now())
	if ev.Kind != kindCall || ev.State != callStateMissed || ev.Text != want || ev.From != "alice" {
		t.Errorf("old RING gave %+v; want a missed call %q", ev, want)
	}
	if c := cs.calls.latestIncoming(""); c != nil {
		t.Errorf("an old RING left call %+v ringing", c)
	}

	cs.handle(ringLine(t, now, "RING"))
	if ev := rec.next(t); ev.State != callStateRinging || !strings.Contains(ev.Text, "alice is calling you") {
		t.Errorf("fresh RING gave %+v; want it ringing", ev)
	}
	cs.handle(ringLine(t, now, "CANCEL"))
	if ev := rec.next(t); ev.State != callStateMissed {
		t.Errorf("CANCEL after RING gave %+v; want a missed call", ev)
	}
}

func TestIncomingCallRingsOutAfterTimeout(t *testing.T) {
	rec := &eventRecorder{ch: make(chan chatEvent, 10)}
	cs := newClientSession(nil, &clientOptions{user: "bob", callTimeout: 50 * time.Millisecond}, rec)
	cs.handle(ringLine(t, time.Now(), "RING"))
	if ev := rec.next(t); ev.State != callStateRinging {
		t.Fatalf("got %+v; want ringing", ev)
	}
	if ev := rec.next(t); ev.State != callStateMissed || !strings.HasPrefix(ev.Text, "missed call from alice at ") {
		t.Errorf("got %+v; want the call missed at the timeout", ev)
	}
}

func TestParseCall(t *testing.T) {
	for _, tt := range []struct {
		body, id, verb string
		ok             bool
	}{
		{"CALL 1a2b3c4d RING", "1a2b3c4d", "RING", true},
		{"CALL x answer", "x", "ANSWER", true},
		{"CALL 1a2b RING extra", "", "", false},
		{"CALL bad!id RING", "", "", false},
		{"VERSION", "", "", false},
	} {
		id, verb, ok := parseCall(tt.body)
		if id != tt.id || verb != tt.verb || ok != tt.ok {
			t.Errorf("parseCall(%q) = %q, %q, %v; want %q, %q, %v", tt.body, id, verb, ok, tt.id, tt.verb, tt.ok)
		}
	}
}

// bellCounter is a prompt output that counts bells.
type bellCounter struct {
	mu    sync.Mutex
	bells int
	rung  chan struct{}
}

func (bc *bellCounter) Write(p []byte) (int, error) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	bc.bells += strings.Count(string(p), "\a")
	select {
	case bc.rung <- struct{}{}:
	default:
	}
	return len(p), nil
}

func TestCallBellRingsRepeatedlyUntilStopped(t *testing.T) {
	bc := &bellCounter{rung: make(chan struct{}, 1)}
	p := &prompt{bell: "dm", out: bc}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		ringUntil(p.ringBell, 5*time.Millisecond, stop)
		close(done)
	}()
	for range 3 {
		select {
		case <-bc.rung:
		case <-time.After(clientTestTimeout):
			t.Fatal("the bell stopped ringing")
		}
	}
	close(stop)
	<-done
	bc.mu.Lock()
	n := bc.bells
	bc.mu.Unlock()
	if n < 3 {
		t.Errorf("%d bells; want at least 3", n)
	}
	quiet := &bellCounter{rung: make(chan struct{}, 1)}
	(&prompt{bell: "off", out: quiet}).ringBell()
	if quiet.bells != 0 {
		t.Error("bell = off still rang")
	}
}

func TestPresenceBookAnnouncesOnlyChanges(t *testing.T) {
	pb := newPresenceBook(t.TempDir())
	at := time.Now()
	steps := []struct {
		state, away string
		wantNews    bool
		wantState   string
	}{
		{stateOffline, "", false, ""}, // first knowledge is not news
		{stateOnline, "", true, stateOnline},
		{stateAway, "lunch", true, stateAway},
		{stateAway, "lunch", false, ""},
		{stateOnline, "", true, stateBack},
		{stateOffline, "", true, stateOffline},
	}
	for i, st := range steps {
		ev, news := pb.update("Bob", st.state, st.away, at)
		if news != st.wantNews || (news && (ev.State != st.wantState || ev.From != "Bob" || ev.Text != st.away)) {
			t.Errorf("step %d (%s %q): news %v, event %+v; want news %v, state %q", i, st.state, st.away, news, ev, st.wantNews, st.wantState)
		}
	}
	for _, ev := range []chatEvent{
		{Kind: kindStatus, From: "bob", State: stateAway, Text: "lunch"},
		{Kind: kindStatus, From: "bob", State: stateBack},
		{Kind: kindStatus, From: "bob", State: stateOnline},
		{Kind: kindStatus, From: "bob", State: stateOffline},
	} {
		want := map[string]string{stateAway: "bob is away: lunch", stateBack: "bob is back", stateOnline: "bob is online", stateOffline: "bob went offline"}[ev.State]
		if got := ev.String(); !strings.HasSuffix(got, " "+want) {
			t.Errorf("%s event shows %q; want %q", ev.State, got, want)
		}
	}
}

func TestNameListFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "client", "contacts")
	if names, err := readNameList(path); err != nil || names != nil {
		t.Fatalf("missing file: %q, %v; want empty, no error", names, err)
	}
	if err := writeNameList(path, "test", []string{"alice", "b[o]b"}); err != nil {
		t.Fatal(err)
	}
	if names, err := readNameList(path); err != nil || strings.Join(names, ",") != "alice,b[o]b" {
		t.Errorf("read back %q, %v", names, err)
	}
	os.WriteFile(path, []byte("alice\n../etc/passwd\n"), 0o600)
	if _, err := readNameList(path); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad name: err = %v; want one naming line 2", err)
	}
	pb := newPresenceBook(t.TempDir())
	if _, changed := pb.changeContacts(true, "carol"); !changed {
		t.Error("adding carol changed nothing")
	}
	if _, changed := pb.changeContacts(true, "CAROL"); changed {
		t.Error("carol added twice (case differs)")
	}
	if list, changed := pb.changeContacts(false, "Carol"); !changed || len(list) != 0 {
		t.Errorf("del: %q, %v", list, changed)
	}
}

// ---- end to end, with the real binary ----

// expectJSON reads --json lines from a client until one matches, failing on a deadline.
func expectJSON(t *testing.T, cp *clientProc, kind eventKind, state string) chatEvent {
	t.Helper()
	for {
		line := cp.nextLine(t)
		var ev chatEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("--json printed %q: %v", line, err)
		}
		if ev.Kind == kindStatus || ev.Kind == kindCall {
			if ev.Kind != kind || ev.State != state {
				t.Fatalf("got %s %s event %+v; want %s %s", ev.Kind, ev.State, ev, kind, state)
			}
			return ev
		}
	}
}

func TestFollowJSONPrintsStatusChangesOfContacts(t *testing.T) {
	addr := startClientTestServer(t)
	data := t.TempDir()
	for _, u := range []string{"alice", "bob", "carol"} {
		registerViaCLI(t, addr, data, u, u+"-pw1")
	}
	if err := writeNameList(filepath.Join(data, "client", "contacts"), "test", []string{"alice"}); err != nil {
		t.Fatal(err)
	}
	carol := rawLogin(t, addr, "carol", "carol-pw1")
	carol.send("JOIN #lab")
	carol.expect(`JOIN #lab`)
	bob := startClient(t, clientEnv(data, "bob-pw1"), "connect", addr, "--user", "bob", "--to", "#lab", "--follow", "--json")
	carol.expect(`:bob!\S+ JOIN #lab`) // bob joins after his MONITOR answers are in

	alice := rawLogin(t, addr, "alice", "alice-pw1")
	expectJSON(t, bob, kindStatus, stateOnline)
	alice.send("AWAY :at lunch")
	if ev := expectJSON(t, bob, kindStatus, stateAway); ev.From != "alice" || ev.Text != "at lunch" {
		t.Errorf("away event %+v; want alice, at lunch", ev)
	}
	alice.send("AWAY")
	expectJSON(t, bob, kindStatus, stateBack)
	alice.send("QUIT :bye")
	expectJSON(t, bob, kindStatus, stateOffline)
	bob.stdin.Close()
	if code := bob.wait(t); code != exitOK {
		t.Errorf("exit %d; stderr %s", code, bob.stderr.String())
	}
}

// startPane runs the interactive client for user in its own tmux server.
func startPane(t *testing.T, addr, data, user, password string, extra ...string) *tmuxPane {
	t.Helper()
	tp := &tmuxPane{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	cmd := fmt.Sprintf("env LABCHAT_DATA=%s LABCHAT_PASSWORD=%s LABCHAT_CONFIG= TERM=xterm %s connect %s --user %s %s",
		data, password, labchatBinary(t), addr, user, strings.Join(extra, " "))
	tp.tmux("new-session", "-d", "-s", "lc", "-x", "150", "-y", "40", cmd)
	t.Cleanup(func() { tp.quit() })
	tp.waitScreen(user+"'s prompt", func(lines []string) bool { return strings.HasPrefix(lines[len(lines)-1], "["+user) })
	return tp
}

// quit ends the client with /quit and waits for it, so it writes no file after the test's
// data dir is removed; kill-server is the fallback when it does not end in time.
func (tp *tmuxPane) quit() {
	tmux := func(args ...string) error {
		return exec.Command("tmux", append([]string{"-S", tp.sock}, args...)...).Run()
	}
	tmux("send-keys", "-t", "lc", "C-u", "/quit", "Enter")
	deadline := time.Now().Add(clientTestTimeout)
	for tmux("has-session", "-t", "lc") == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // tmux offers no exit event to wait on
	}
	tmux("kill-server")
}

func (tp *tmuxPane) typeLine(line string) {
	tp.tmux("send-keys", "-t", "lc", "-l", line)
	tp.tmux("send-keys", "-t", "lc", "Enter")
}

// shows waits until some screen line matches the pattern.
func (tp *tmuxPane) shows(pattern string) {
	tp.t.Helper()
	tp.showsTimes(pattern, 1)
}

// showsTimes waits until n screen lines match the pattern.
func (tp *tmuxPane) showsTimes(pattern string, n int) {
	tp.t.Helper()
	re := regexp.MustCompile(pattern)
	tp.waitScreen(fmt.Sprintf("%d lines matching %s", n, pattern), func(lines []string) bool {
		seen := 0
		for _, l := range lines {
			if re.MatchString(l) {
				seen++
			}
		}
		return seen >= n
	})
}

func needTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed")
	}
}

func TestCallRingAnswerDecline(t *testing.T) {
	needTmux(t)
	ts := startServer(t, loginRequiredConfig(t), "")
	addr, data := ts.addr, t.TempDir()
	registerViaCLI(t, addr, data, "alice", "alicepw1")
	registerViaCLI(t, addr, data, "bob", "bobpw123")
	alice := startPane(t, addr, data, "alice", "alicepw1")
	bob := startPane(t, addr, data, "bob", "bobpw123")

	alice.typeLine("/call bob")
	alice.shows(`\[call\] calling bob\.\.\. \(rings for 30s\)`)
	bob.shows(`\[call\] \*\*\* alice is calling you \*\*\*  /answer to talk, /decline to refuse`)
	bob.typeLine("/answer")
	bob.shows(`you answered alice`)
	alice.shows(`\[call\] bob answered: you are talking to bob`)
	bob.waitScreen("bob's target", lastLineIs("[bob -> alice] >"))
	alice.waitScreen("alice's target, without a key pressed", lastLineIs("[alice -> bob] >"))
	alice.typeLine("hello after the call")
	bob.shows(`\*alice\* hello after the call`)
	bob.typeLine("/hangup")
	bob.shows(`\[call\] you hung up: the call with alice is over \(\d+ s\)`)
	alice.shows(`\[call\] bob hung up: the call is over \(\d+ s\)`)
	alice.waitScreen("alice's target back", lastLineIs("[alice] >"))
	bob.waitScreen("bob's target back", lastLineIs("[bob] >"))
	bob.typeLine("/history alice 2")
	bob.shows(`\[history\] \S+ \S+ \[call\] call from alice, answered, \d+ s$`)
	bob.shows(`\[history\] \S+ \S+ \*alice\* hello after the call$`)
	bob.shows(`end of history for alice \(2 messages\)`)
	alice.typeLine("/history bob 1")
	alice.shows(`\[history\] \S+ \S+ -> \*bob\* hello after the call$`)
	alice.shows(`end of history for bob \(1 messages\)`)

	alice.typeLine("/call bob")
	bob.showsTimes(`alice is calling you`, 2)
	bob.typeLine("/decline")
	alice.shows(`\[call\] bob declined the call`)
	bob.shows(`you declined the call from alice`)

	// The server's logs and bob's records tell the calls the same way, one line each.
	for _, dir := range []string{filepath.Join(ts.dir, "logs"), filepath.Join(data, "client", "logs")} {
		res := runCLI(t, clientTestTimeout, "", []string{"LABCHAT_CONFIG="}, "history", "--dir", dir, "--with", "alice")
		if res.code != exitOK {
			t.Fatalf("history --dir %s: exit %d: %s", dir, res.code, res.stderr)
		}
		for _, want := range []string{`alice +call from alice, answered, \d+ s`, `alice +call from alice, declined`} {
			if n := len(regexp.MustCompile(want).FindAllString(res.stdout, -1)); n != 1 {
				t.Errorf("history of %s: %d lines match %s; want 1:\n%s", dir, n, want, res.stdout)
			}
		}
		if strings.Contains(res.stdout, "CALL") || strings.Contains(res.stdout, "RING") {
			t.Errorf("history of %s shows raw call lines:\n%s", dir, res.stdout)
		}
	}

	alice.typeLine("/call nobody")
	alice.shows(`\[call\] cannot call nobody: there is no user nobody$`)
	registerViaCLI(t, ts.addr, data, "carol", "carolpw1")
	alice.typeLine("/call carol")
	alice.shows(`\[call\] carol is offline: they will see a missed call from you when they log in$`)
	screen := alice.waitScreen("the prompt", lastLineIs("[alice] >"))
	if n := strings.Count(strings.Join(screen, "\n"), "carol"); n != 2 { // the command and one line
		t.Errorf("calling offline carol: %d lines name carol; want the one answer:\n%s", n, strings.Join(screen, "\n"))
	}
}

func TestCallTimeoutIsNoAnswerAndMissed(t *testing.T) {
	needTmux(t)
	addr, data := aliceAndBob(t)
	registerViaCLI(t, addr, data, "carol", "carolpw1")
	cfg := filepath.Join(t.TempDir(), "fast.toml")
	os.WriteFile(cfg, []byte("[client]\ncall_timeout = \"2s\"\n"), 0o600)
	carol := rawLogin(t, addr, "carol", "carolpw1") // sees bob join #lab: then he is logged in
	carol.send("JOIN #lab")
	carol.expect(`JOIN #lab`)
	bob := startClient(t, clientEnv(data, "bobpw123"), "connect", addr, "--user", "bob", "--to", "#lab", "--follow", "--json")
	carol.expect(`:bob!\S+ JOIN #lab`)
	alice := startPane(t, addr, data, "alice", "alicepw1", "--config", cfg)
	alice.typeLine("/call bob")
	ring := expectJSON(t, bob, kindCall, callStateRinging)
	if ring.From != "alice" || ring.To != "bob" || ring.ID == "" {
		t.Errorf("ring event %+v; want from alice to bob with an id", ring)
	}
	missed := expectJSON(t, bob, kindCall, callStateMissed)
	if missed.ID != ring.ID || !strings.HasPrefix(missed.Text, "missed call from alice at ") {
		t.Errorf("missed event %+v; want the same call, 'missed call from alice at T'", missed)
	}
	alice.shows(`\[call\] no answer from bob after 2s`)
	bob.stdin.Close()
	bob.wait(t)
}

// With bob on two devices, his answer on one stops the ringing on the other at once (it
// used to ring on until the timeout and then show a missed call).
func TestCallAnsweredOnAnotherDeviceStopsRinging(t *testing.T) {
	addr, data := aliceAndBob(t)
	alice := rawLogin(t, addr, "alice", "alicepw1")
	alice.send("MONITOR + bob")
	alice.expect(" 731 ")
	bob := startClient(t, clientEnv(data, "bobpw123"), "connect", addr, "--user", "bob", "--follow", "--json")
	alice.expect(" 730 ") // the follower is logged in
	bobPhone := rawLogin(t, addr, "bob", "bobpw123")
	for _, verb := range []string{"ANSWER", "DECLINE"} {
		id := "devices" + verb
		alice.send("PRIVMSG bob :\x01CALL " + id + " RING\x01")
		if ev := expectJSON(t, bob, kindCall, callStateRinging); ev.ID != id {
			t.Fatalf("ring event %+v; want call %s", ev, id)
		}
		bobPhone.expect("CALL " + id + " RING")
		bobPhone.send("NOTICE alice :\x01CALL " + id + " " + verb + "\x01")
		state, what := callStateAnswered, "answered"
		if verb == "DECLINE" {
			state, what = callStateDeclined, "declined"
		}
		ev := expectJSON(t, bob, kindCall, state)
		if ev.ID != id || ev.Text != "the call from alice was "+what+" on another device" {
			t.Errorf("after the other device's %s: %+v", verb, ev)
		}
	}
	bob.cmd.Process.Signal(syscall.SIGTERM)
	if code := bob.wait(t); code != 0 {
		t.Errorf("follower exit %d after SIGTERM, want 0", code)
	}
}

func TestCallToOfflineAccountIsMissedAtNextLogin(t *testing.T) {
	addr, data := aliceAndBob(t)
	cfg := filepath.Join(t.TempDir(), "fast.toml")
	os.WriteFile(cfg, []byte("[client]\ncall_timeout = \"1s\"\n"), 0o600)
	alice := startPane(t, addr, data, "alice", "alicepw1", "--config", cfg)
	alice.typeLine("/call bob")
	alice.shows(`\[call\] bob is offline: they will see a missed call from you when they log in$`)
	bob := startClient(t, clientEnv(data, "bobpw123"), "connect", addr, "--user", "bob", "--follow", "--json", "--config", cfg)
	if ev := expectJSON(t, bob, kindCall, callStateMissed); ev.From != "alice" || !strings.HasPrefix(ev.Text, "missed call from alice at ") {
		t.Errorf("at login: %+v; want 'missed call from alice at T'", ev)
	}
	// --follow without --to reads no stdin: it runs until a signal.
	bob.cmd.Process.Signal(syscall.SIGTERM)
	if code := bob.wait(t); code != 0 {
		t.Errorf("follower exit %d after SIGTERM, want 0", code)
	}
}

func TestWhoAwayContactsInteractive(t *testing.T) {
	needTmux(t)
	addr, data := aliceAndBob(t)
	registerViaCLI(t, addr, data, "carol", "carolpw1")
	alice := rawLogin(t, addr, "alice", "alicepw1")
	alice.send("AWAY :in the lab")
	alice.expect(" 306 ")
	bob := startPane(t, addr, data, "bob", "bobpw123")

	bob.typeLine("/contacts add carol")
	bob.shows(`carol added to your contacts`)
	bob.typeLine("/who")
	bob.shows(`NAME +STATUS +SINCE +MESSAGE`)
	bob.shows(`alice +away +- +\(no message known\)`)
	bob.shows(`carol +offline +-`)

	carol := rawLogin(t, addr, "carol", "carolpw1")
	bob.shows(`\d\d:\d\d:\d\d carol is online`)
	carol.send("AWAY :lunch")
	bob.shows(`carol is away: lunch`)
	bob.typeLine("/who")
	bob.shows(`carol +away +\d\d:\d\d:\d\d +lunch`)

	bob.typeLine("/away brb")
	bob.shows(`you are marked as away: brb`)
	alice.send("WHOIS bob")
	alice.expect(` 301 alice bob :brb`)
	bob.typeLine("/back")
	bob.shows(`you are back`)
	contacts, _ := os.ReadFile(filepath.Join(data, "client", "contacts"))
	if !regexp.MustCompile(`(?m)^carol$`).Match(contacts) {
		t.Errorf("contacts file = %q; want carol in it", contacts)
	}
}

func TestDefaultRoomBecomesTheTarget(t *testing.T) {
	needTmux(t)
	addr, data := aliceAndBob(t, func(sc *ServerConfig) { sc.DefaultRoom, sc.DefaultRoomQuiet = "#lobby", false })
	alice := rawLogin(t, addr, "alice", "alicepw1")
	alice.expect(`:alice!\S+ JOIN #lobby`)
	bob := startPane(t, addr, data, "bob", "bobpw123")
	bob.waitScreen("the lobby as target", lastLineIs("[bob -> #lobby] >"))
	alice.expect(`:bob!\S+ JOIN #lobby`)
	bob.typeLine("hi all")
	alice.expect(`:bob!\S+ PRIVMSG #lobby :hi all`)

	again := startPane(t, addr, data, "alice", "alicepw1", "--to", "bob") // --to wins over the lobby
	again.waitScreen("--to as target", lastLineIs("[alice -> bob] >"))
}

// A recent conversation partner's comings and goings reach the terminal as they happen,
// and watching them does not make them contacts of the account (the unsaved MONITOR list).
func TestFollowWatchesPartnersWithoutMakingThemContacts(t *testing.T) {
	addr := startClientTestServer(t)
	data := t.TempDir()
	for _, u := range []string{"bob", "carol", "dave"} {
		registerViaCLI(t, addr, data, u, u+"-pw1")
	}
	if err := writeNameList(filepath.Join(data, "client", "partners"), "test", []string{"dave"}); err != nil {
		t.Fatal(err)
	}
	carol := rawLogin(t, addr, "carol", "carol-pw1")
	carol.send("JOIN #lab")
	carol.expect(`JOIN #lab`)
	bob := startClient(t, clientEnv(data, "bob-pw1"), "connect", addr, "--user", "bob", "--to", "#lab", "--follow", "--json")
	carol.expect(`:bob!\S+ JOIN #lab`) // the client joins after its MONITOR answers are in

	dave := rawLogin(t, addr, "dave", "dave-pw1")
	if ev := expectJSON(t, bob, kindStatus, stateOnline); ev.From != "dave" {
		t.Errorf("online event %+v; want dave", ev)
	}
	dave.send("QUIT :bye")
	if ev := expectJSON(t, bob, kindStatus, stateOffline); ev.From != "dave" {
		t.Errorf("offline event %+v; want dave", ev)
	}
	watcher := rawLogin(t, addr, "bob", "bob-pw1") // bob's other device: his contacts
	watcher.send("MONITOR L")
	if line := watcher.expect(` 73[23] `); strings.Contains(line, "dave") {
		t.Errorf("dave became bob's contact: %q", line)
	}
	bob.stdin.Close()
	if code := bob.wait(t); code != exitOK {
		t.Errorf("exit %d; stderr %s", code, bob.stderr.String())
	}
}
