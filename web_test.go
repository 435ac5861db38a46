package main

// The browser client's tests, run from go test: the node unit tests of its protocol and
// state modules (web/test/unit) and the Playwright scenarios (web/test/e2e) in headless
// Chromium against a real server on 127.0.0.1 with its web port. Both need node; the
// scenarios also need Debian's chromium and `npm ci` (playwright-core). Without them the
// tests skip and say what is missing; .ci/run installs all three so CI never skips.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// browserTestTimeout bounds one node run; the whole e2e suite takes about 80 s here.
// browserCaseTimeout bounds one test() of a scenario file: node --test then fails it with
// "test timed out" and goes on, so a scenario that waits forever is reported by name instead
// of stalling the run with no output.
const (
	browserTestTimeout = 8 * time.Minute
	browserCaseTimeout = 4 * time.Minute
)

func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/lib/chromium/chromium"
}

// needNode skips t unless node (and, for the browser, chromium and playwright-core) exist.
// With LABCHAT_REQUIRE_BROWSER=1 (set by .ci/run, which installs them) it fails instead.
func needNode(t *testing.T, browser bool) string {
	t.Helper()
	node, missing := browserTools(browser)
	if missing == "" {
		return node
	}
	if os.Getenv("LABCHAT_REQUIRE_BROWSER") == "1" {
		t.Fatal("LABCHAT_REQUIRE_BROWSER=1 but " + missing)
	}
	t.Skip(missing)
	return ""
}

// browserTools finds node, and says what is missing.
func browserTools(browser bool) (node, missing string) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", "node is not installed: the browser client's tests need Node.js 20 (apt-get install nodejs npm)"
	}
	if !browser {
		return node, ""
	}
	if _, err := os.Stat(chromiumPath()); err != nil {
		return "", fmt.Sprintf("no Chromium at %s (apt-get install --no-install-recommends chromium, or set CHROMIUM)", chromiumPath())
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		return "", "playwright-core is not installed: run npm ci in the repository root"
	}
	return node, ""
}

// runNode runs node --test on dir with env added, and fails t with its output on failure.
// Every test() has a deadline (browserCaseTimeout); --test-force-exit ends the run once the
// tests are done even if a failed one left a browser or a child process open, and whatever
// is left of node's process group is killed, so a run always ends and reports.
func runNode(t *testing.T, node string, env []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserTestTimeout)
	defer cancel()
	flags := []string{"--test", "--test-force-exit", fmt.Sprintf("--test-timeout=%d", browserCaseTimeout.Milliseconds())}
	cmd := exec.CommandContext(ctx, node, append(flags, args...)...)
	cmd.Env = append(os.Environ(), env...)
	ownProcessGroup(cmd)
	cmd.WaitDelay = 10 * time.Second // a grandchild holding the output pipe must not block Wait
	out, err := cmd.CombinedOutput()
	if kerr := killProcessGroup(cmd); kerr != nil {
		t.Errorf("kill what node --test left running: %v", kerr)
	}
	if ctx.Err() != nil {
		t.Fatalf("node --test %s: still running after %v\n%s", strings.Join(args, " "), browserTestTimeout, out)
	}
	if err != nil {
		t.Fatalf("node --test %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if testing.Verbose() {
		t.Logf("node --test %s:\n%s", strings.Join(args, " "), summary(out))
	}
}

// summary keeps the ok/not ok lines and the totals of TAP output.
func summary(out []byte) string {
	var b strings.Builder
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(line, "ok ") || strings.HasPrefix(line, "not ok ") || strings.HasPrefix(line, "# ") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestBrowserUnit(t *testing.T) {
	node := needNode(t, false)
	runNode(t, node, nil, "web/test/unit/")
}

// restartableServer is a real server whose restart keeps its ports, so that browsers
// reconnect to the same URL.
type restartableServer struct {
	t   *testing.T
	cfg ServerConfig
	dir string

	mu   sync.Mutex // guards srv and done across the control handler and cleanup
	srv  *Server
	done chan error
}

func (rs *restartableServer) start() error {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := NewServer(rs.cfg, rs.dir, log)
	if err != nil {
		return fmt.Errorf("new server: %w", err)
	}
	// A port just closed may take a moment to be free again on some systems.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = srv.Listen()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	rs.srv, rs.done = srv, make(chan error, 1)
	go func(done chan error) { done <- srv.Serve() }(rs.done)
	// The next start takes the same ports.
	rs.cfg.Listen = srv.Addr().String()
	rs.cfg.WebListen = srv.WebAddr().String()
	if a := srv.TURNAddr(); a != nil {
		rs.cfg.TURNListen = a.String()
	}
	return nil
}

func (rs *restartableServer) stop() error {
	if rs.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	err := rs.srv.Shutdown(ctx)
	if serr := <-rs.done; serr != nil && !errors.Is(serr, ErrServerClosed) && err == nil {
		err = serr
	}
	rs.srv = nil
	return err
}

// control runs one of the e2e tests' requests: stop, start or restart.
func (rs *restartableServer) control(what string) error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if what == "stop" || what == "restart" {
		if err := rs.stop(); err != nil {
			return fmt.Errorf("stop: %w", err)
		}
	}
	if (what == "start" || what == "restart") && rs.srv == nil {
		return rs.start()
	}
	return nil
}

func TestBrowserE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser scenarios take about a minute; skipped with -short")
	}
	node := needNode(t, true)
	bin := labchatBinary(t) // the terminal users of the scenarios are the real client
	cfg := testConfig(t)
	cfg.RequireLogin = true // as shipped: the login screen is the way in
	cfg.DefaultRoom = "#lobby"
	cfg.WebListen = "127.0.0.1:0"
	cfg.TURNListen = "127.0.0.1:0" // the voice scenarios force calls through it
	// A lab PC reaching the server by name over plain http (not a secure context): the
	// browser maps labserver.test to 127.0.0.1, and the Host check must know the name.
	cfg.WebHosts = append(cfg.WebHosts, "labserver.test")
	cfg.Operators = append(cfg.Operators, OperatorConfig{Account: "teacher"}) // serverwords.test.js
	rs := &restartableServer{t: t, cfg: cfg, dir: t.TempDir()}
	if err := rs.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if err := rs.stop(); err != nil {
			t.Errorf("stop server: %v", err)
		}
	})
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		what := strings.TrimPrefix(r.URL.Path, "/")
		if what == "turn" && r.Method == http.MethodGet { // GET /turn: bytes the TURN relay relayed
			rs.mu.Lock()
			var n uint64
			if rs.srv != nil && rs.srv.turn != nil {
				n = rs.srv.turn.relayed.Load()
			}
			rs.mu.Unlock()
			fmt.Fprintf(w, "%d\n", n)
			return
		}
		if r.Method != http.MethodPost || (what != "stop" && what != "start" && what != "restart") {
			http.NotFound(w, r)
			return
		}
		if err := rs.control(what); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, what+" done\n")
	}))
	defer control.Close()
	artifacts, err := filepath.Abs(filepath.Join("web", "test", "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"LABCHAT_WEB_URL=http://" + rs.cfg.WebListen + "/",
		"LABCHAT_IRC_ADDR=" + rs.cfg.Listen,
		"LABCHAT_TURN_ADDR=" + rs.cfg.TURNListen,
		"LABCHAT_BIN=" + bin,
		"LABCHAT_CONTROL_URL=" + control.URL,
		"LABCHAT_SERVER_DIR=" + rs.dir,
		"LABCHAT_ARTIFACTS=" + artifacts,
		"CHROMIUM=" + chromiumPath(),
	}
	// One file at a time: some stop or restart the shared server.
	scenarios, err := filepath.Glob(filepath.Join("web", "test", "e2e", "*.test.js"))
	if err != nil || len(scenarios) == 0 {
		t.Fatalf("no scenarios in web/test/e2e (%v)", err)
	}
	for _, file := range scenarios {
		// LABCHAT_E2E=calls,chat runs only those files (while working on them).
		if only := os.Getenv("LABCHAT_E2E"); only != "" && !slices.Contains(strings.Split(only, ","), strings.TrimSuffix(filepath.Base(file), ".test.js")) {
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(file), ".test.js"), func(t *testing.T) {
			runNode(t, node, env, file)
		})
	}
	t.Logf("screenshots in %s", artifacts)
}

// TestWebFilesComplete checks the embedded client: every module a page or module imports
// is embedded, and the tests are not.
func TestWebFilesComplete(t *testing.T) {
	files := webFiles()
	if _, err := fs.Stat(files, "test"); err == nil {
		t.Error("web/test is embedded; the binary should carry the client only")
	}
	refRe := regexp.MustCompile(`(?:from\s+|import\s*\(\s*|src=|href=)["']([^"':]+)["']`)
	checked := 0
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(name, ".js") || strings.HasSuffix(name, ".html")) {
			return err
		}
		data, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		for _, m := range refRe.FindAllStringSubmatch(string(data), -1) {
			ref := m[1]
			if strings.HasPrefix(ref, "#") || strings.Contains(ref, "//") {
				continue
			}
			target := filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(name), ref)))
			if _, err := fs.Stat(files, target); err != nil {
				t.Errorf("%s refers to %s, which is not embedded", name, ref)
			}
			checked++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Errorf("only %d references checked: the pattern no longer matches the client's imports", checked)
	}
}
