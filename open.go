package main

// open.go: `labchat open`, the chat as a desktop app on a student's PC. A small HTTP server
// on 127.0.0.1 serves the embedded web client and carries its IRC over WebSocket to the chat
// server as plain IRC over TCP (or TLS with --tls). Browsers treat a loopback origin as a
// secure context, which a lab server reached by name or address is not over plain HTTP: so
// through labchat open the page gets desktop notifications, the credential store, a service
// worker (an installable app) and the microphone.
//
// The local server is a proxy, not a second chat server: one WebSocket from the page is one
// TCP connection to the chat server, line for line. Beside the bridge it answers a small
// API under /open/ that only its own page may use (Host and Origin checked): the page reports
// its unread and away state there (for the tray icon, open_tray.go), listens for the tray's
// commands (an event stream), and asks to quit.
//
// Lock order: openApp.mu guards the page state and the event subscribers; it is never held
// while writing to a connection or calling the tray.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/urfave/cli/v2"
)

// defaultOpenAddr is labchat open's fixed local address. A fixed port keeps the browser's
// per-origin storage (recent accounts, the stored password, the installed app) the same from
// week to week; when it is taken, a free port is used instead.
const defaultOpenAddr = "127.0.0.1:6680"

// openStateFile in the client's data directory holds the URL of the running labchat open, so
// that a second one finds it even on a fallback port.
const openStateFile = "open.url"

// openProbeTimeout bounds asking a running labchat open who it is.
const openProbeTimeout = 2 * time.Second

func openCommand() *cli.Command {
	return &cli.Command{
		Name:      "open",
		Usage:     "open the chat in the browser as a desktop app (local server on 127.0.0.1, tray icon)",
		ArgsUsage: "[HOST[:PORT]]",
		Description: "Runs a small server on this PC (127.0.0.1) that serves the web client and carries\n" +
			"its IRC to the chat server (default: the server of this PC's last login, else localhost).\n" +
			"A local page is a secure context: desktop notifications, stored login, installable app.\n" +
			"Prints the URL and opens it (an app window with Chrome or Edge). A second labchat open\n" +
			"reuses the running one. Quit from the page, the tray icon, or with Ctrl-C.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: defaultOpenAddr, Usage: "serve the page on `ADDR`, a loopback address (when the default is taken, a free port is used)", EnvVars: []string{"LABCHAT_OPEN_ADDR"}},
			&cli.BoolFlag{Name: "no-browser", Usage: "only print the URL; open no browser"},
			&cli.BoolFlag{Name: "no-tray", Usage: "show no tray icon"},
			&cli.BoolFlag{Name: "tls", Usage: "reach the server with TLS (default port 6697), pinned on first use as connect --tls does"},
			&cli.StringFlag{Name: "tls-fingerprint", Usage: "trust only the server certificate with this SHA-256 `FINGERPRINT` (implies --tls)"},
		},
		Action: runOpen,
	}
}

// openApp is one running labchat open.
type openApp struct {
	addr     string // the chat server, host:port
	tls      *clientTLS
	dataDir  string // the client data dir
	trace    *tracer
	url      string // the page, http://127.0.0.1:PORT/
	host     string // the page's host:port, the only Host and Origin the API accepts
	log      *slog.Logger
	quitOnce sync.Once
	quit     chan struct{} // closed on quit (page, tray)
	bridges  sync.WaitGroup

	mu    sync.Mutex // guards state, subs and conns
	state pageState
	subs  map[chan string]struct{} // the pages' event streams
	conns map[*websocket.Conn]struct{}
	tray  openTray // nil without a tray; set before serving, read-only after
}

// pageState is what the page reports about itself (POST /open/state).
type pageState struct {
	Connected bool   `json:"connected"`
	LoggedIn  bool   `json:"loggedIn"`
	Away      bool   `json:"away"`
	Unread    int    `json:"unread"`    // unread messages in conversations that are not muted
	Attention int    `json:"attention"` // unread DMs and mentions, and ringing calls: the tray flashes
	From      string `json:"from"`      // who the newest of those is from, for the tooltip
	Muted     bool   `json:"muted"`     // sounds off
}

// status is the tray's word for the state.
func (s pageState) status() string {
	switch {
	case !s.Connected || !s.LoggedIn:
		return "offline"
	case s.Away:
		return "away"
	}
	return "online"
}

func runOpen(c *cli.Context) error {
	args, err := parseTrailingFlags(c)
	if err != nil {
		return err
	}
	if len(args) > 1 {
		return usageErrorf("open takes at most one argument, HOST[:PORT]; got %q", args)
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	opts := &clientOptions{dataDir: cfg.clientDataDir(), trace: traceFor(c)}
	server := ""
	if len(args) == 1 {
		server = args[0]
	} else {
		server = lastLoginServer(opts.dataDir, cfg.Client.Server)
	}
	if opts.addr, err = serverAddress(server); err != nil {
		return withExit(exitUsage, err)
	}
	if !c.Bool("tls") && c.String("tls-fingerprint") == "" && len(args) == 0 && usesTLS(opts.dataDir, opts.addr) {
		c.Set("tls", "true") // the last login's server was reached with TLS
		server = opts.addr
	}
	if err := setupClientTLS(c, opts, server); err != nil {
		return err
	}
	localAddr := c.String("addr")
	if err := checkLoopbackAddr(localAddr); err != nil {
		return usageErrorf("--addr %q: %v", localAddr, err)
	}
	out, errOut := c.App.Writer, c.App.ErrWriter
	noBrowser := c.Bool("no-browser")

	// A running labchat open on this PC is reused: its page is the app already open.
	if url, running := runningOpen(opts.dataDir, ""); running != nil {
		return reuseOpen(out, errOut, url, running, opts.addr, len(args) == 1, noBrowser)
	}
	if opts.tls != nil {
		opts.tls.notices = errOut
	}
	if err := probeServer(c.Context, opts); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", localAddr)
	if err != nil {
		if url, running := runningOpen("", "http://"+localAddr+"/"); running != nil {
			return reuseOpen(out, errOut, url, running, opts.addr, len(args) == 1, noBrowser)
		}
		if c.IsSet("addr") && localAddr != defaultOpenAddr {
			return withExit(exitLocalAddr, fmt.Errorf("listen on %s: %w (another program uses it; give another --addr, or 127.0.0.1:0 for any free port)", localAddr, err))
		}
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return withExit(exitLocalAddr, fmt.Errorf("listen on 127.0.0.1: %w", err))
		}
		fmt.Fprintf(errOut, "labchat open: %s is taken by another program; using %s (the browser keeps logins per port)\n", localAddr, ln.Addr())
	}
	app := &openApp{
		addr:    opts.addr,
		tls:     opts.tls,
		dataDir: opts.dataDir,
		trace:   opts.trace,
		host:    ln.Addr().String(),
		log:     slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn})),
		quit:    make(chan struct{}),
		subs:    make(map[chan string]struct{}),
		conns:   make(map[*websocket.Conn]struct{}),
	}
	app.url = "http://" + app.host + "/"
	return app.run(c.Context, ln, out, errOut, noBrowser, !c.Bool("no-tray"))
}

// run serves until Ctrl-C, SIGTERM or a quit from the page or the tray.
func (a *openApp) run(ctx context.Context, ln net.Listener, out, errOut io.Writer, noBrowser, withTray bool) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	statePath := filepath.Join(a.dataDir, openStateFile)
	if err := saveClientFile(statePath, []byte(a.url+"\n"), 0o600); err != nil {
		fmt.Fprintf(errOut, "labchat open: %v (a second labchat open will not find this one)\n", err)
	}
	defer func() {
		if b, err := os.ReadFile(statePath); err == nil && strings.TrimSpace(string(b)) == a.url {
			os.Remove(statePath)
		}
	}()
	if withTray {
		tray, note := startTray(a)
		if note != "" {
			fmt.Fprintf(errOut, "labchat open: %s\n", note)
		}
		a.tray = tray
	}
	hs := &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       webIdleTimeout,
		MaxHeaderBytes:    webMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	how := ""
	if a.tls != nil {
		how = ", TLS"
	}
	fmt.Fprintf(out, "labchat open: %s (chat server %s%s; Ctrl-C or Quit to stop)\n", a.url, a.addr, how)
	if f, ok := out.(interface{ Sync() error }); ok {
		f.Sync()
	}
	if !noBrowser {
		if err := openBrowser(a.url); err != nil {
			fmt.Fprintf(errOut, "labchat open: could not open a browser (%v): open %s yourself\n", err, a.url)
		}
	}
	var err error
	select {
	case <-ctx.Done():
	case <-a.quit:
	case err = <-served:
		err = fmt.Errorf("serve %s: %w", a.url, err)
	}
	if a.tray != nil {
		a.tray.close()
	}
	a.broadcast("quit")
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hs.Shutdown(sctx) // the event streams end with the quit event; bridges below
	a.mu.Lock()
	for ws := range a.conns {
		ws.Close(websocket.StatusGoingAway, "labchat open has quit")
	}
	a.mu.Unlock()
	a.bridges.Wait()
	return err
}

// stopApp quits labchat open (the page's Quit, the tray's Quit).
func (a *openApp) stopApp() { a.quitOnce.Do(func() { close(a.quit) }) }

// handler answers the page, the API and the bridge.
func (a *openApp) handler() http.Handler {
	files := webFiles()
	static := &webServer{files: http.FileServerFS(files), etags: fileETags(files)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.localHost(r.Host) {
			// A page of another site that points a name at 127.0.0.1 (DNS rebinding) must not
			// read the client or drive the bridge.
			http.Error(w, "421 misdirected request: labchat open answers only as "+a.host, http.StatusMisdirectedRequest)
			return
		}
		if isWebSocketRequest(r) {
			a.bridge(w, r)
			return
		}
		switch r.URL.Path {
		case "/open/info", "/open/state", "/open/events", "/open/quit":
			a.api(w, r)
			return
		}
		static.serveFile(w, r)
	})
}

// localHost reports whether host (a Host header, or an Origin's host) names this server.
func (a *openApp) localHost(host string) bool {
	_, port, _ := net.SplitHostPort(a.host)
	for _, h := range []string{"127.0.0.1", "localhost", "[::1]"} {
		if strings.EqualFold(host, h+":"+port) {
			return true
		}
	}
	return false
}

// sameOrigin reports whether a request comes from the page itself: a browser sends Origin on
// POST and WebSocket requests (and Sec-Fetch-Site on all of them), and no other site's
// script can set them. A request without either is from a program on this PC, not a page.
func (a *openApp) sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		return strings.HasPrefix(o, "http://") && a.localHost(strings.TrimPrefix(o, "http://"))
	}
	site := r.Header.Get("Sec-Fetch-Site")
	return site == "" || site == "same-origin" || site == "none"
}

func (a *openApp) api(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	if !a.sameOrigin(r) {
		http.Error(w, "403 forbidden: only labchat's own page may use /open/", http.StatusForbidden)
		return
	}
	wantMethod := map[string]string{"/open/info": http.MethodGet, "/open/events": http.MethodGet, "/open/state": http.MethodPost, "/open/quit": http.MethodPost}[r.URL.Path]
	if r.Method != wantMethod {
		w.Header().Set("Allow", wantMethod)
		http.Error(w, "405 method not allowed: "+r.URL.Path+" takes "+wantMethod, http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/open/info":
		a.mu.Lock()
		st := a.state
		a.mu.Unlock()
		writeJSON(w, map[string]any{"labchat": "open", "server": a.addr, "tls": a.tls != nil, "tray": a.tray != nil, "pid": os.Getpid(), "version": serverVersion(), "state": st})
	case "/open/state":
		var st pageState
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&st); err != nil {
			http.Error(w, "400 bad request: want the page state as JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		a.setState(st)
		w.WriteHeader(http.StatusNoContent)
	case "/open/quit":
		w.WriteHeader(http.StatusNoContent)
		go a.stopApp()
	case "/open/events":
		a.events(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// setState records the page's state and shows it on the tray.
func (a *openApp) setState(st pageState) {
	a.mu.Lock()
	a.state = st
	a.mu.Unlock()
	if a.tray != nil {
		a.tray.update(st)
	}
}

// events streams the tray's commands to a page (server-sent events): "away", "back",
// "mute", "unmute", "focus", "quit".
func (a *openApp) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "500 streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch := make(chan string, 8)
	a.mu.Lock()
	a.subs[ch] = struct{}{}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.subs, ch)
		a.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, ": labchat open\n\n")
	fl.Flush()
	rc := http.NewResponseController(w)
	for {
		select {
		case ev := <-ch:
			rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := fmt.Fprintf(w, "data: %s\n\n", ev); err != nil {
				return
			}
			fl.Flush()
			if ev == "quit" {
				return
			}
		case <-r.Context().Done():
			return
		case <-a.quit:
			fmt.Fprint(w, "data: quit\n\n")
			fl.Flush()
			return
		}
	}
}

// broadcast sends an event to every page; a page that does not keep up misses it.
func (a *openApp) broadcast(ev string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ch := range a.subs {
		select {
		case ch <- ev:
		default:
		}
	}
	return len(a.subs)
}

// showPage brings the page forward (the tray's Open labchat): a page that is open focuses
// itself; with none, the browser opens it again.
func (a *openApp) showPage() {
	if a.broadcast("focus") == 0 {
		if err := openBrowser(a.url); err != nil {
			a.log.Warn("could not open a browser", "url", a.url, "err", err)
		}
	}
}

// --- the bridge ---

// bridge carries one page's IRC over WebSocket to the chat server as IRC over TCP: one
// message, one line.
func (a *openApp) bridge(w http.ResponseWriter, r *http.Request) {
	if !a.sameOrigin(r) {
		http.Error(w, "403 forbidden: WebSocket connections to labchat open come from its own page only", http.StatusForbidden)
		return
	}
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled} // Origin checked above
	if p := chooseSubprotocol(r.Header.Values("Sec-WebSocket-Protocol")); strings.EqualFold(p, subprotocolText) {
		opts.Subprotocols = []string{p}
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		return
	}
	ws.SetReadLimit(maxLineLen + 2)
	a.mu.Lock()
	select {
	case <-a.quit:
		a.mu.Unlock()
		ws.Close(websocket.StatusGoingAway, "labchat open has quit")
		return
	default:
	}
	a.conns[ws] = struct{}{}
	a.bridges.Add(1)
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.conns, ws)
		a.mu.Unlock()
		a.bridges.Done()
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, err := a.dial(ctx)
	if err != nil {
		// The page shows "cannot reach the server" and retries; the reason is for the terminal.
		a.log.Warn("cannot reach the chat server", "server", a.addr, "err", err)
		ws.Close(websocket.StatusTryAgainLater, truncateUTF8("cannot reach "+a.addr+": "+err.Error(), 120))
		return
	}
	defer conn.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		a.serverToPage(ctx, conn, ws)
	}()
	a.pageToServer(ctx, ws, conn)
	cancel()
	conn.Close()
	<-done
	ws.Close(websocket.StatusNormalClosure, "")
}

// dial connects to the chat server as connect does (trace, TLS with pinning).
func (a *openApp) dial(ctx context.Context) (net.Conn, error) {
	conn, err := clientDial(ctx, a.addr, a.trace)
	if err != nil {
		return nil, withExit(exitConnect, err)
	}
	if a.tls != nil {
		return a.tls.handshake(ctx, conn)
	}
	return conn, nil
}

// pageToServer writes each message from the page as one line to the server.
func (a *openApp) pageToServer(ctx context.Context, ws *websocket.Conn, conn net.Conn) {
	var line []byte
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			return
		}
		msg = dropLineEnd(msg)
		if bytes.ContainsAny(msg, "\r\n\x00") {
			continue // one message is one line: a CR or LF inside would smuggle a second
		}
		line = append(append(line[:0], msg...), '\r', '\n')
		conn.SetWriteDeadline(time.Now().Add(clientWriteTimeout))
		if _, err := conn.Write(line); err != nil {
			return
		}
	}
}

// serverToPage sends each line from the server as one text message, and notes logins (so
// that the next labchat open without arguments goes to the same server).
func (a *openApp) serverToPage(ctx context.Context, conn net.Conn, ws *websocket.Conn) {
	lr := newLineReader(conn, maxLineLen)
	for {
		line, err := lr.ReadLine()
		if errors.Is(err, ErrLineTooLong) {
			continue
		}
		if err != nil {
			return
		}
		if !utf8.Valid(line) {
			line = bytes.ToValidUTF8(line, []byte("\uFFFD")) // a text message must be UTF-8
		}
		if m, err := ParseMessage(string(line)); err == nil && m.Command == "900" && len(m.Params) >= 3 {
			if err := recordLogin(a.dataDir, a.addr, m.Params[2], time.Now()); err != nil {
				a.log.Warn("could not note the login", "err", err)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, clientWriteTimeout)
		err = ws.Write(wctx, websocket.MessageText, line)
		cancel()
		if err != nil {
			return
		}
	}
}

// probeServer checks, before anything is opened, that the chat server answers (and, with
// TLS, that its certificate is trusted), so a wrong address is an error now, not a page that
// cannot log in.
func probeServer(ctx context.Context, opts *clientOptions) error {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := clientDial(ctx, opts.addr, opts.trace)
	if err == nil && opts.tls != nil {
		conn, err = opts.tls.handshake(ctx, conn)
	}
	if err != nil {
		hint := "is labchat serve running there? give the server as labchat open HOST[:PORT]"
		if errors.Is(err, errTLSRefused) {
			hint = "see above"
		}
		return withExit(exitConnect, fmt.Errorf("cannot reach the chat server %s: %w (%s)", opts.addr, err, hint))
	}
	conn.Close()
	return nil
}

// checkLoopbackAddr accepts HOST:PORT with a loopback HOST: only a loopback page is a secure
// context, and the bridge must not be open to the network.
func checkLoopbackAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want 127.0.0.1:PORT: %w", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("port must be a number from 0 to 65535")
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errors.New("want a loopback address such as 127.0.0.1:6680 (only a local page is a secure context, and the bridge must not be reachable from the network)")
	}
	return nil
}

// lastLoginServer is the server of this PC's most recent login (connect or open), else the
// configured client.server, else localhost.
func lastLoginServer(dataDir, configured string) string {
	rl, _ := loadRecentLogins(dataDir)
	best, bestAt := "", time.Time{}
	for addr, accounts := range rl.Servers {
		for _, at := range accounts {
			if at.After(bestAt) {
				best, bestAt = addr, at
			}
		}
	}
	switch {
	case best != "":
		return best
	case configured != "":
		return configured
	}
	return "localhost"
}

// usesTLS guesses whether the last login's server took TLS: its port is IRC over TLS's, or
// its certificate is pinned.
func usesTLS(dataDir, addr string) bool {
	if _, port, _ := net.SplitHostPort(addr); port == defaultTLSPort {
		return true
	}
	pins, err := readPins(filepath.Join(dataDir, pinFile))
	return err == nil && pins[addr] != ""
}

// openInfo is what /open/info says about a running labchat open.
type openInfo struct {
	Labchat string `json:"labchat"`
	Server  string `json:"server"`
	PID     int    `json:"pid"`
}

// runningOpen finds a running labchat open: at the URL in the state file of dataDir, or at
// url. It returns the URL and what it said, or nil.
func runningOpen(dataDir, url string) (string, *openInfo) {
	if dataDir != "" {
		b, err := os.ReadFile(filepath.Join(dataDir, openStateFile))
		if err != nil {
			return "", nil
		}
		url = strings.TrimSpace(string(b))
	}
	if !strings.HasPrefix(url, "http://") {
		return "", nil
	}
	if checkLoopbackAddr(strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")) != nil {
		return "", nil // a damaged state file must not send us anywhere but this PC
	}
	client := &http.Client{Timeout: openProbeTimeout}
	resp, err := client.Get(url + "open/info")
	if err != nil {
		return "", nil
	}
	defer resp.Body.Close()
	var info openInfo
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&info) != nil || info.Labchat != "open" {
		return "", nil
	}
	return url, &info
}

// reuseOpen hands over to a running labchat open: its URL is printed and opened again.
func reuseOpen(out, errOut io.Writer, url string, info *openInfo, asked string, explicit, noBrowser bool) error {
	fmt.Fprintf(out, "labchat open: %s (already running, pid %d, chat server %s)\n", url, info.PID, info.Server)
	if explicit && info.Server != asked {
		fmt.Fprintf(errOut, "labchat open: the running one is connected to %s, not %s: quit it (Quit in the page or the tray) to switch\n", info.Server, asked)
	}
	if noBrowser {
		return nil
	}
	if err := openBrowser(url); err != nil {
		fmt.Fprintf(errOut, "labchat open: could not open a browser (%v): open %s yourself\n", err, url)
	}
	return nil
}

// --- the browser ---

// openBrowser opens url: with $BROWSER when set (as xdg-open and Python's webbrowser do),
// else as an app window of Chrome, Chromium or Edge (no tabs or address bar: the chat looks
// like a program), else in the default browser.
func openBrowser(url string) error {
	if b := os.Getenv("BROWSER"); b != "" {
		fields := strings.Fields(b)
		return startDetached(fields[0], append(fields[1:], url)...)
	}
	if app := appBrowser(); app != "" {
		return startDetached(app, "--app="+url)
	}
	switch runtime.GOOS {
	case "windows":
		return startDetached("rundll32", "url.dll,FileProtocolHandler", url)
	case "darwin":
		return startDetached("open", url)
	}
	return startDetached("xdg-open", url)
}

// appBrowser finds a browser that has app windows (--app=URL).
func appBrowser() string {
	var candidates []string
	switch runtime.GOOS {
	case "windows":
		for _, env := range []string{"ProgramFiles", "ProgramFiles(x86)", "LocalAppData"} {
			if dir := os.Getenv(env); dir != "" {
				candidates = append(candidates,
					filepath.Join(dir, `Google\Chrome\Application\chrome.exe`),
					filepath.Join(dir, `Microsoft\Edge\Application\msedge.exe`))
			}
		}
	case "darwin":
		candidates = []string{"/Applications/Google Chrome.app/Contents/MacOS/Google Chrome", "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge", "/Applications/Chromium.app/Contents/MacOS/Chromium"}
	default:
		for _, name := range []string{"google-chrome", "google-chrome-stable", "chromium", "chromium-browser", "microsoft-edge", "microsoft-edge-stable"} {
			if p, err := exec.LookPath(name); err == nil {
				candidates = append(candidates, p)
			}
		}
	}
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// startDetached starts a program and lets it run on its own (a browser outlives us).
func startDetached(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait() // reap it
	return nil
}

// waitForEnter keeps a double-clicked console open on an error, so that it can be read.
func waitForEnter(in io.Reader, out io.Writer) {
	fmt.Fprint(out, "Press Enter to close this window.")
	var b [1]byte
	in.Read(b[:])
}

// openTray is the tray icon while labchat open runs (open_tray.go).
type openTray interface {
	update(pageState) // show the page's state; never blocks
	close()
}
