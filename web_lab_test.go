package main

// LAB.md Part 5 quotes a capture of the real browser client. This test keeps it honest: it
// runs the same session (scripts/capture-web.mjs drives the page in headless Chromium)
// against the real binary's `serve --trace`, and holds every frame the browser sent, as the
// server traced it, against the frame table LAB.md prints: the same frames in the same order,
// the same sizes on the wire, the same text. The credentials, the room and the line come from
// the table itself, so the base64 of its AUTHENTICATE frame must decode to the password the
// page was given. tshark is not needed: the server's trace sees every frame.

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// labFrame is one row of LAB.md's frame table, or one frame of the server's trace.
type labFrame struct {
	frame      string // the capture's frame number (LAB.md only)
	session    string // the browser's port: one WebSocket
	fromServer bool
	wire       int    // TCP payload bytes (LAB.md) or bytes on the wire (trace); -1 unknown
	opcodes    string // LAB.md: "1", "1|1", "8"
	mask, key  string // LAB.md
	lenCode    string // LAB.md: the 7-bit length code
	payload    int    // trace: payload bytes
	text       string
	cut        bool // text is a prefix of the message
}

func TestLabWebFramesAreWhatThePageSends(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the browser client for about 10 s; skipped with -short")
	}
	node := needNode(t, true)
	lab, err := os.ReadFile("LAB.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table := labFrameTable(t, string(lab))
	browser := framesFrom(table, false)
	account, password, room, line := labSession(t, browser)

	data := t.TempDir()
	conf := filepath.Join(t.TempDir(), "fast.toml")
	if err := os.WriteFile(conf, []byte("[server]\nbcrypt_cost = 4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startProc(t, []string{"LABCHAT_DATA=" + data, "LABCHAT_CONFIG=" + conf, "LABCHAT_TRACE="}, labchatBinary(t),
		"serve", "--trace", "--listen", "127.0.0.1:0", "--web-listen", "127.0.0.1:0", "--tls-listen", "")
	web := srv.stdout.waitFor(t, regexp.MustCompile(`web client on (\S+) `), clientTestTimeout)[1]

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("scripts", "capture-web.mjs"), "http://"+web+"/", account, room)
	cmd.Env = append(os.Environ(), "LABCHAT_PASSWORD="+password, "LABCHAT_LINE="+line, "CHROMIUM="+chromiumPath())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node scripts/capture-web.mjs: %v\n%s\nserver trace:\n%s", err, out, srv.stderr.String())
	}
	// Both WebSockets closed: everything the browser sent has been read and traced.
	srv.stderr.waitFor(t, regexp.MustCompile(`(?s)ws close .*ws close `), clientTestTimeout)
	srv.cmd.Process.Signal(os.Interrupt)
	if code := srv.wait(t, clientTestTimeout); code != exitOK {
		t.Fatalf("serve exited %d", code)
	}
	trace := traceFrames(srv.stderr.String())
	sent := framesFrom(trace, false)

	secrets := map[string]string{password: "***", base64.StdEncoding.EncodeToString([]byte("\x00" + account + "\x00" + password)): "***"}
	sessions := func(fs []labFrame) []string {
		var ss []string
		for _, f := range fs {
			if len(ss) == 0 || ss[len(ss)-1] != f.session {
				ss = append(ss, f.session)
			}
		}
		return ss
	}
	labSessions, sentSessions := sessions(browser), sessions(sent)
	if len(labSessions) != len(sentSessions) {
		t.Fatalf("LAB.md's table has %d WebSockets from the browser, the page opened %d", len(labSessions), len(sentSessions))
	}
	listing := func(fs []labFrame) string {
		var b strings.Builder
		for _, f := range fs {
			fmt.Fprintf(&b, "  %s %d %q\n", f.session, f.wire, f.text)
		}
		return b.String()
	}
	if len(browser) != len(sent) {
		t.Fatalf("LAB.md lists %d frames from the browser, the page sent %d.\nLAB.md:\n%spage (server trace):\n%s",
			len(browser), len(sent), listing(browser), listing(sent))
	}
	for i, want := range browser {
		got := sent[i]
		where := fmt.Sprintf("LAB.md frame %s (%q)", want.frame, want.text)
		if want.opcodes != "1" {
			t.Errorf("%s: one text frame per segment expected, the table says opcodes %s", where, want.opcodes)
			continue
		}
		if want.mask != "1" || !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(want.key) {
			t.Errorf("%s: a browser frame is masked with a 4-byte key; the table says mask %q key %q", where, want.mask, want.key)
		}
		if want.wire != got.wire {
			t.Errorf("%s: %d bytes on the wire in LAB.md, %d from the page (%q)", where, want.wire, got.wire, got.text)
		}
		if code := min(got.payload, 126); want.lenCode != strconv.Itoa(code) {
			t.Errorf("%s: length code %s in LAB.md, the page's %d-byte payload has %d", where, want.lenCode, got.payload, code)
		}
		if !sameFrameText(hideSecrets(want.text, secrets), want.cut, got.text, got.cut) {
			t.Errorf("%s: the page sent %q", where, got.text)
		}
	}
	// The server's rows: each row's first message is one the server sent on that WebSocket,
	// in the table's order.
	served := framesFrom(trace, true)
	sessionOf := map[string]string{}
	for i, s := range labSessions {
		sessionOf[s] = sentSessions[i]
	}
	next := map[string]int{}
	for _, row := range framesFrom(table, true) {
		if !strings.HasPrefix(row.opcodes, "1") {
			continue
		}
		first, _, _ := strings.Cut(row.text, "|")
		want := ircCommand(first)
		if want == "" || (row.cut && !strings.Contains(row.text, "|") && strings.HasSuffix(first, want)) {
			continue // cut before (or inside) its command: nothing to compare
		}
		s := sessionOf[row.session]
		found := false
		for next[s] < len(served) {
			f := served[next[s]]
			next[s]++
			if f.session == s && ircCommand(f.text) == want {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("LAB.md frame %s: the server sent no %s on that WebSocket after the rows before it (%q)", row.frame, want, first)
		}
	}
}

// labFrameTable finds the web port of Part 5's commands and the rows of its frame table.
func labFrameTable(t *testing.T, lab string) (string, []labFrame) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^export WEBPORT=(\d+)`).FindStringSubmatch(lab)
	if m == nil {
		t.Fatal("LAB.md: no `export WEBPORT=N` in Part 5's commands")
	}
	port := m[1]
	_, rest, ok := strings.Cut(lab, "### One IRC line per frame")
	if !ok {
		t.Fatal("LAB.md: no section \"One IRC line per frame\"")
	}
	_, rest, ok = strings.Cut(rest, "\n```\n")
	block, _, ok2 := strings.Cut(rest, "\n```")
	if !ok || !ok2 {
		t.Fatal("LAB.md: no frame table after \"One IRC line per frame\"")
	}
	var rows []labFrame
	for row := range strings.SplitSeq(block, "\n") {
		f := strings.Split(row, "\t")
		for len(f) < 11 {
			f = append(f, "")
		}
		if f[1] != port && f[2] != port {
			t.Fatalf("LAB.md frame table: a row not on port %s: %q", port, row)
		}
		wire, err := strconv.Atoi(f[3])
		if err != nil {
			t.Fatalf("LAB.md frame table: TCP length %q: %v", f[3], err)
		}
		text, cut := strings.CutSuffix(f[8], "…")
		fr := labFrame{frame: f[0], fromServer: f[1] == port, wire: wire, opcodes: f[4], mask: f[5], key: f[6], lenCode: f[7], text: text, cut: cut}
		fr.session = f[2]
		if !fr.fromServer {
			fr.session = f[1]
		}
		rows = append(rows, fr)
	}
	if len(rows) == 0 {
		t.Fatal("LAB.md: the frame table is empty")
	}
	return port, rows
}

// labSession reads the session's account, password, room and line from the browser's rows.
func labSession(t *testing.T, browser []labFrame) (account, password, room, line string) {
	t.Helper()
	for _, f := range browser {
		if blob, ok := strings.CutPrefix(f.text, "AUTHENTICATE "); ok && blob != "PLAIN" && blob != "+" {
			plain, err := base64.StdEncoding.DecodeString(blob)
			if err != nil {
				t.Fatalf("LAB.md frame %s: the AUTHENTICATE blob is not base64: %v", f.frame, err)
			}
			parts := strings.Split(string(plain), "\x00")
			if len(parts) != 3 || parts[0] != "" {
				t.Fatalf("LAB.md frame %s: SASL PLAIN is NUL account NUL password; %q decodes to %q", f.frame, blob, plain)
			}
			account, password = parts[1], parts[2]
		}
		if r, ok := strings.CutPrefix(f.text, "JOIN "); ok {
			room = r
		}
		if _, l, ok := strings.Cut(f.text, "PRIVMSG "); ok {
			_, line, _ = strings.Cut(l, " :")
		}
	}
	if account == "" || room == "" || line == "" {
		t.Fatalf("LAB.md's table lacks the login (AUTHENTICATE), the JOIN or the PRIVMSG: account %q room %q line %q", account, room, line)
	}
	for _, f := range browser {
		if strings.HasPrefix(f.text, "REGISTER ") && f.text != "REGISTER "+account+" * "+password {
			t.Errorf("LAB.md frame %s: %q does not register %s with the password of the AUTHENTICATE frame", f.frame, f.text, account)
		}
	}
	return account, password, room, line
}

var traceFrameLine = regexp.MustCompile(`^\S+ ws (read|write) \S+ (?:<-|->) 127\.0\.0\.1:(\d+) text frame \((?:un)?masked, (\d+) bytes on the wire\): (\d+) bytes ("(?:[^"\\]|\\.)*")(\.\.\.)?$`)

// traceFrames reads the text frames of the server's --trace.
func traceFrames(trace string) []labFrame {
	var fs []labFrame
	for line := range strings.SplitSeq(trace, "\n") {
		m := traceFrameLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		wire, _ := strconv.Atoi(m[3])
		payload, _ := strconv.Atoi(m[4])
		text, err := strconv.Unquote(m[5])
		if err != nil {
			continue
		}
		cut := m[6] != ""
		if !cut {
			text = strings.TrimSuffix(text, "\n") // the trace shows the line as IRC over TCP would end it
		}
		fs = append(fs, labFrame{session: m[2], fromServer: m[1] == "write", wire: wire, payload: payload, text: text, cut: cut})
	}
	return fs
}

func framesFrom(fs []labFrame, fromServer bool) []labFrame {
	var out []labFrame
	for _, f := range fs {
		if f.fromServer == fromServer && (f.opcodes == "" || f.opcodes != "8") {
			out = append(out, f)
		}
	}
	return out
}

func hideSecrets(text string, secrets map[string]string) string {
	for s, mask := range secrets {
		text = strings.ReplaceAll(text, s, mask)
	}
	return text
}

var timestampParam = regexp.MustCompile(`timestamp=[0-9TZ:.-]*`)

// sameFrameText compares two texts of one message, either possibly cut short; timestamps
// differ from run to run.
func sameFrameText(a string, aCut bool, b string, bCut bool) bool {
	a, b = timestampParam.ReplaceAllString(a, "timestamp=T"), timestampParam.ReplaceAllString(b, "timestamp=T")
	switch {
	case !aCut && !bCut:
		return a == b
	case aCut && bCut:
		n := min(len(a), len(b))
		return a[:n] == b[:n]
	case aCut:
		return strings.HasPrefix(b, a)
	default:
		return strings.HasPrefix(a, b)
	}
}

// ircCommand is a line's command (or numeric), after its tags and source.
func ircCommand(line string) string {
	f := strings.Fields(line)
	for len(f) > 0 && (strings.HasPrefix(f[0], "@") || strings.HasPrefix(f[0], ":")) {
		f = f[1:]
	}
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
