package main

// Tests of `labchat open` through the real binary: the URL it prints, the page and the
// bridge it serves, a second run reusing the first, and the errors and exit codes of a bad
// server or local address.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// openURLLine is the line labchat open prints first.
var openURLLine = regexp.MustCompile(`^labchat open: (http://127\.0\.0\.1:\d+/) `)

// openProcess is a running `labchat open`.
type openProcess struct {
	url    string
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
	code   int
}

// startOpen runs labchat open with args (never on the fixed default port) and waits for its
// URL. env is added to the environment; BROWSER is set to a program that fails, so that no
// test ever opens a real browser, unless env sets it.
func startOpen(t testing.TB, dataDir string, env []string, args ...string) *openProcess {
	t.Helper()
	return startOpenBinary(t, labchatBinary(t), dataDir, env, args...)
}

func startOpenBinary(t testing.TB, bin, dataDir string, env []string, args ...string) *openProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"open", "--data-dir", dataDir, "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(append(os.Environ(), "LABCHAT_CONFIG=", "LABCHAT_DATA=", "LABCHAT_OPEN_ADDR=", "BROWSER=false", "DBUS_SESSION_BUS_ADDRESS="), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &openProcess{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })
	lines := make(chan string, 1)
	go func() {
		line, _ := newLineReader(stdout, 4096).ReadLine()
		lines <- string(line)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-lines:
		m := openURLLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("labchat open printed %q, want its URL; stderr: %s", line, p.stderr.String())
		}
		p.url = m[1]
	case <-time.After(ioTimeout):
		t.Fatalf("labchat open printed no URL; stderr: %s", p.stderr.String())
	}
	return p
}

// stop ends the process with SIGINT (Ctrl-C) and returns its exit code.
func (p *openProcess) stop(t testing.TB) int {
	select {
	case <-p.exited:
		return p.code
	default:
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(ioTimeout):
		p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("labchat open did not end on SIGINT")
	}
	return p.code
}

func (p *openProcess) waitExit(t testing.TB) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.code
	case <-time.After(ioTimeout):
		t.Fatalf("labchat open still running; stderr: %s", p.stderr.String())
	}
	return -1
}

func TestOpenServesThePageAndBridgesIRC(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	dir := t.TempDir()
	p := startOpen(t, dir, nil, ts.addr)

	resp, err := http.Get(p.url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `<link rel="manifest"`) {
		t.Fatalf("GET %s: %d, want the web client with its manifest", p.url, resp.StatusCode)
	}

	// The bridge: a WebSocket from the page's origin is an IRC connection to the server.
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.url, "http"), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {strings.TrimSuffix(p.url, "/")}}})
	if err != nil {
		t.Fatalf("WebSocket through labchat open: %v", err)
	}
	defer ws.CloseNow()
	ws.Write(ctx, websocket.MessageText, []byte("NICK viaopen"))
	ws.Write(ctx, websocket.MessageText, []byte("USER viaopen 0 * :Via Open"))
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("read through the bridge: %v", err)
		}
		if strings.Contains(string(msg), "\r") || strings.Contains(string(msg), "\n") {
			t.Fatalf("a message carries a line ending: %q", msg)
		}
		if strings.Contains(string(msg), " 001 viaopen ") {
			break
		}
	}
	// The server sees a plain IRC client: a raw one can message it by nick.
	other := guest(t, ts.addr, "plain")
	other.send("PRIVMSG viaopen :hello over tcp")
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("read through the bridge: %v", err)
		}
		if strings.Contains(string(msg), "PRIVMSG viaopen :hello over tcp") {
			break
		}
	}

	// Another site's page may neither use the bridge nor the API, nor reach the server by a
	// name pointed at 127.0.0.1 (DNS rebinding).
	if _, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.url, "http"), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://evil.test"}}}); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("WebSocket from another origin: err %v, want 403", err)
	}
	req, _ := http.NewRequest("POST", p.url+"open/quit", nil)
	req.Header.Set("Origin", "http://evil.test")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("quit from another origin: %v %v, want 403", resp, err)
	}
	req, _ = http.NewRequest("GET", p.url, nil)
	req.Host = "labserver.test"
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("GET with Host labserver.test: %v %v, want 421", resp, err)
	}

	// The page's state reaches labchat open (the tray shows it).
	req, _ = http.NewRequest("POST", p.url+"open/state", strings.NewReader(`{"connected":true,"loggedIn":true,"unread":2,"attention":1,"from":"alice"}`))
	req.Header.Set("Origin", strings.TrimSuffix(p.url, "/"))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("POST /open/state: %v %v", resp, err)
	}
	var info struct {
		Labchat string    `json:"labchat"`
		Server  string    `json:"server"`
		State   pageState `json:"state"`
	}
	resp, err = http.Get(p.url + "open/info")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info.Labchat != "open" || info.Server != ts.addr || info.State.Attention != 1 || info.State.From != "alice" {
		t.Errorf("/open/info = %+v", info)
	}

	if code := p.stop(t); code != 0 {
		t.Errorf("exit code after Ctrl-C %d, want 0; stderr: %s", code, p.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "client", openStateFile)); !os.IsNotExist(err) {
		t.Errorf("the state file is still there after exit: %v", err)
	}
}

func TestOpenSecondRunReusesTheFirst(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	dir := t.TempDir()
	first := startOpen(t, dir, nil, ts.addr)

	// The second run opens the first one's page (BROWSER records it) and ends at once.
	opened := filepath.Join(t.TempDir(), "opened")
	script := filepath.Join(t.TempDir(), "browser.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" > "+opened+"\n"), 0o755)
	res := runCLI(t, ioTimeout, "", []string{"LABCHAT_CONFIG=", "LABCHAT_DATA=", "BROWSER=" + script, "DBUS_SESSION_BUS_ADDRESS="},
		"open", "--data-dir", dir, "--addr", "127.0.0.1:0")
	if res.code != 0 || !strings.Contains(res.stdout, first.url) || !strings.Contains(res.stdout, "already running") {
		t.Fatalf("second labchat open: exit %d, stdout %q, stderr %q; want the first one's URL %s", res.code, res.stdout, res.stderr, first.url)
	}
	deadline := time.Now().Add(ioTimeout)
	for {
		b, err := os.ReadFile(opened)
		if err == nil && strings.TrimSpace(string(b)) == first.url {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the browser was not opened at %s (got %q, %v)", first.url, b, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Without an argument, the default server is the running one's, and a different one is
	// named: it is still reused, with a note.
	res = runCLI(t, ioTimeout, "", []string{"LABCHAT_CONFIG=", "LABCHAT_DATA=", "BROWSER=false", "DBUS_SESSION_BUS_ADDRESS="},
		"open", "--no-browser", "--data-dir", dir, "--addr", "127.0.0.1:0", "127.0.0.1:1")
	if res.code != 0 || !strings.Contains(res.stdout, first.url) || !strings.Contains(res.stderr, "not 127.0.0.1:1") {
		t.Errorf("open for another server while one runs: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}

	// Quit from the page ends the first one.
	req, _ := http.NewRequest("POST", first.url+"open/quit", nil)
	req.Header.Set("Origin", strings.TrimSuffix(first.url, "/"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("POST /open/quit: %v %v", resp, err)
	}
	if code := first.waitExit(t); code != 0 {
		t.Errorf("exit code after quit %d, want 0", code)
	}
}

func TestOpenErrors(t *testing.T) {
	env := []string{"LABCHAT_CONFIG=", "LABCHAT_DATA=", "BROWSER=false", "DBUS_SESSION_BUS_ADDRESS="}
	dir := t.TempDir()
	// A port nothing listens on: the probe is refused before anything is opened.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	ts := startServer(t, testConfig(t), "")
	busy, err := net.Listen("tcp", "127.0.0.1:0") // another program's port
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unreachable", []string{"--addr", "127.0.0.1:0", dead}, exitConnect, "cannot reach the chat server " + dead},
		{"bad server", []string{"--addr", "127.0.0.1:0", "host:99999"}, exitUsage, "port must be a number"},
		{"two servers", []string{"--addr", "127.0.0.1:0", "a", "b"}, exitUsage, "at most one argument"},
		{"not loopback", []string{"--addr", "0.0.0.0:0", ts.addr}, exitUsage, "want a loopback address"},
		{"address taken", []string{"--addr", busy.Addr().String(), ts.addr}, exitLocalAddr, "another program uses it"},
		{"TLS to a plain port", []string{"--addr", "127.0.0.1:0", "--tls", ts.addr}, exitConnect, "TLS handshake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, 2*ioTimeout, "", env, append([]string{"open", "--no-browser", "--data-dir", dir}, tc.args...)...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", res.code, res.stderr, tc.code, tc.want)
			}
			if res.stdout != "" {
				t.Errorf("stdout %q, want nothing (no URL for a failed start)", res.stdout)
			}
		})
	}
}

func TestOpenDefaultServerIsTheLastLogin(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	dir := t.TempDir()
	if err := recordLogin(filepath.Join(dir, "client"), "127.0.0.1:1", "old", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := recordLogin(filepath.Join(dir, "client"), ts.addr, "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	p := startOpen(t, dir, nil)
	resp, err := http.Get(p.url + "open/info")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info openInfo
	json.NewDecoder(resp.Body).Decode(&info)
	if info.Server != ts.addr {
		t.Errorf("default server %q, want the last login's %s", info.Server, ts.addr)
	}
	if got := lastLoginServer(t.TempDir(), ""); got != "localhost" {
		t.Errorf("with no logins and no client.server: %q, want localhost", got)
	}
	fmt.Fprint(io.Discard, p.stderr.String())
}
