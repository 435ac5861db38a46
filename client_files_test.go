package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func withUploads(sc *ServerConfig) {
	sc.WebListen = "127.0.0.1:0"
	sc.UploadMaxBytes = 6 << 20
	sc.UploadQuotaBytes = 40 << 20
}

// rawFilehost returns the upload URL in r's welcome (r logged in with PASS).
func rawFilehost(t *testing.T, r *rawIRC) string {
	t.Helper()
	line := r.expect(` 005 .*draft/FILEHOST=`)
	return regexp.MustCompile(`draft/FILEHOST=(\S+)`).FindStringSubmatch(line)[1]
}

var linkInText = regexp.MustCompile(`http://\S+/files/\S+`)

func TestConnectUploadPipeline(t *testing.T) {
	addr, data := aliceAndBob(t, withUploads)
	bob := rawLogin(t, addr, "bob", "bobpw123")
	bobURL := rawFilehost(t, bob)
	dir := t.TempDir()
	capture := testPCAP(t, 5<<20)
	path := filepath.Join(dir, "lab3.pcap")
	os.WriteFile(path, capture, 0o600)

	res := runCLI(t, clientTestTimeout, "", clientEnv(data, "alicepw1"), "connect", addr, "--user", "alice", "--upload", path, "--to", "bob")
	if res.code != exitOK {
		t.Fatalf("upload: exit %d, stderr %s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "upload lab3.pcap: 100% (5 MiB of 5 MiB)") {
		t.Errorf("no progress on stderr: %q", res.stderr)
	}
	link := strings.TrimSpace(res.stdout)
	msg := bob.expect(`PRIVMSG bob :lab3.pcap \(5 MiB\) http://`)
	if got := linkInText.FindString(msg); got != link {
		t.Fatalf("bob got link %q, stdout said %q", got, link)
	}
	got := doHTTP(t, http.MethodGet, link, nil, bearer(bobURL))
	if got.status != 200 || string(got.body) != string(capture) {
		t.Fatalf("bob's download: %d, %d bytes (want the same %d bytes)", got.status, len(got.body), len(capture))
	}

	big := filepath.Join(dir, "big.pcap")
	os.WriteFile(big, testPCAP(t, 7<<20), 0o600)
	res = runCLI(t, clientTestTimeout, "", clientEnv(data, "alicepw1"), "connect", addr, "--user", "alice", "--upload", big, "--to", "bob")
	if res.code == exitOK || !strings.Contains(res.stderr, "too large") {
		t.Errorf("too large: exit %d, stderr %q", res.code, res.stderr)
	}
	evil := filepath.Join(dir, "evil.svg")
	os.WriteFile(evil, []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 0o600)
	res = runCLI(t, clientTestTimeout, "", clientEnv(data, "alicepw1"), "connect", addr, "--user", "alice", "--upload", evil, "--to", "bob")
	if res.code == exitOK || !strings.Contains(res.stderr, "SVG carries script") {
		t.Errorf("svg with script: exit %d, stderr %q", res.code, res.stderr)
	}
	for _, args := range [][]string{{"--upload", path}, {"--upload", filepath.Join(dir, "missing.pcap"), "--to", "bob"}} {
		res = runCLI(t, clientTestTimeout, "", clientEnv(data, "alicepw1"), append([]string{"connect", addr, "--user", "alice"}, args...)...)
		if res.code != exitUsage {
			t.Errorf("%v: exit %d, stderr %q; want usage error", args, res.code, res.stderr)
		}
	}
}

func TestConnectInteractiveUploadAndSearch(t *testing.T) {
	needTmux(t)
	addr, data := aliceAndBob(t, withUploads)
	alice := rawLogin(t, addr, "alice", "alicepw1")
	aliceURL := rawFilehost(t, alice)
	picture := testPNG(t)
	pic := filepath.Join(t.TempDir(), "topology.png")
	os.WriteFile(pic, picture, 0o600)
	alice.send("PRIVMSG bob :first: the router drops TTL 1")
	alice.send("PRIVMSG bob :second: look at the traceroute output")
	alice.send("PRIVMSG bob :third: the capture filter is icmp")

	tp := &tmuxPane{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	cmd := fmt.Sprintf("env LABCHAT_DATA=%s LABCHAT_PASSWORD=bobpw123 TERM=xterm %s connect %s --user bob --no-bell", data, labchatBinary(t), addr)
	tp.tmux("new-session", "-d", "-s", "lc", "-x", "160", "-y", "40", cmd)
	t.Cleanup(func() { exec.Command("tmux", "-S", tp.sock, "kill-server").Run() })
	tp.waitScreen("the prompt", lastLineIs("[bob, 3 unread] >")) // alice's three DMs, not read anywhere yet
	tp.tmux("send-keys", "-t", "lc", "/query alice", "Enter")
	tp.waitScreen("the new target", lastLineIs("[bob -> alice] >"))
	tp.tmux("send-keys", "-t", "lc", "-l", "/upload "+pic)
	tp.tmux("send-keys", "-t", "lc", "Enter")
	msg := alice.expect(`PRIVMSG alice :topology.png \([0-9.]+ (KiB|bytes)\) http://`)
	got := doHTTP(t, http.MethodGet, linkInText.FindString(msg), nil, bearer(aliceURL))
	if got.status != 200 || string(got.body) != string(picture) || got.header.Get("Content-Type") != "image/png" {
		t.Fatalf("alice's download of bob's /upload: %d %q", got.status, got.header.Get("Content-Type"))
	}
	tp.waitScreen("the upload's progress", func(lines []string) bool {
		return strings.Contains(strings.Join(lines, "\n"), "upload topology.png: 100%")
	})

	tp.tmux("send-keys", "-t", "lc", "/search traceroute", "Enter")
	tp.waitScreen("one numbered result", func(lines []string) bool {
		s := strings.Join(lines, "\n")
		return strings.Contains(s, "[1] second: look at the traceroute output") && strings.Contains(s, "search: 1 result(s)")
	})
	tp.tmux("send-keys", "-t", "lc", "/context 1", "Enter")
	tp.waitScreen("the result in its conversation", func(lines []string) bool {
		s := strings.Join(lines, "\n")
		return strings.Contains(s, "first: the router drops TTL 1") && strings.Contains(s, "third: the capture filter is icmp") && strings.Contains(s, "end of history for alice")
	})
	tp.tmux("send-keys", "-t", "lc", "/search nothing-like-this", "Enter")
	tp.waitScreen("no result", func(lines []string) bool { return strings.Contains(strings.Join(lines, "\n"), "search: nothing found") })
	link := linkInText.FindString(msg)
	tp.tmux("send-keys", "-t", "lc", "-l", "/rmfile "+link)
	tp.tmux("send-keys", "-t", "lc", "Enter")
	tp.waitScreen("the file deleted", func(lines []string) bool { return strings.Contains(strings.Join(lines, "\n"), "deleted "+link) })
	if r := doHTTP(t, http.MethodGet, link, nil, bearer(aliceURL)); r.status != 404 {
		t.Errorf("after /rmfile: %d", r.status)
	}
	tp.tmux("send-keys", "-t", "lc", "/quit", "Enter")
	tp.waitGone()
}
