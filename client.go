package main

// The chat client, `labchat connect`: flags and modes, the connection (one dial function, one
// reader loop, one writer), login (CAP, REGISTER, SASL PLAIN), and the two ways to use a
// session: pipeline mode (stdin lines to --to, --follow to stdout) and the interactive prompt.
// The slash commands, rendering and the recent-logins file live in client_ui.go.

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

const (
	defaultIRCPort = "6667"
	// dialTimeout bounds resolving and connecting, so a dead host gives exit 3, not a hang.
	dialTimeout = 10 * time.Second
	// writeTimeout bounds one socket write; a server that stops reading is a lost connection.
	clientWriteTimeout = 30 * time.Second
	// loginTimeout bounds the time from connect to the end of the MOTD.
	loginTimeout = 60 * time.Second
	// pongTimeout bounds the wait for a PING round trip. Generous: a flood-limited server
	// delays our lines (and so the PONG) by design.
	pongTimeout = 2 * time.Minute
	// quitWait is how long we wait for the server to close after QUIT, for a clean TCP close.
	quitWait = 2 * time.Second
	// pipelineWindow is the most lines pipeline mode sends before a PING round trip confirms
	// them. It keeps a flood-limited server's queue short (labchat drops a client 200 lines
	// ahead) while costing one round trip per window.
	pipelineWindow = 50
	// pacingNotice: a window of lines taking longer than this means the server paces us.
	pacingNotice = 2 * time.Second
	// saslChunk is the AUTHENTICATE payload size limit from the IRCv3 SASL spec.
	saslChunk = 400
	// maxStdinLine is where pipeline mode cuts a line without a newline into several messages,
	// so a huge input never has to be held in memory at once.
	maxStdinLine = 64 << 10
)

func connectCommand() *cli.Command {
	return &cli.Command{
		Name:      "connect",
		Usage:     "connect to a labchat (IRC) server and chat",
		ArgsUsage: "[HOST[:PORT]]",
		Description: "On a terminal: a prompt (type /help). With stdin not a terminal: pipeline mode,\n" +
			"each stdin line is sent to --to; --follow prints incoming messages to stdout.\n" +
			"The password comes from --password-file, LABCHAT_PASSWORD, or a prompt on a terminal.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "log in as account `NAME` (also the nick)", EnvVars: []string{"LABCHAT_USER"}},
			&cli.BoolFlag{Name: "register", Usage: "create the account first, then log in"},
			&cli.StringFlag{Name: "display-name", Usage: "set the account's display name to `NAME`, in any script (张三, Zoë); others see it beside your nick"},
			&cli.StringFlag{Name: "password-file", Usage: "read the password from the first line of `FILE`"},
			&cli.StringFlag{Name: "to", Usage: "send to `TARGET` (a nick or #room; rooms are joined first)"},
			&cli.StringFlag{Name: "upload", Usage: "upload `FILE` to the server (draft/FILEHOST), send its link to --to, print the link and exit"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "print incoming messages to stdout, one per line"},
			&cli.BoolFlag{Name: "json", Usage: "with --follow: print JSON lines"},
			&cli.BoolFlag{Name: "multiline", Aliases: []string{"m"}, Usage: "with --to: lines that arrive together (a file, a paste) are sent as one multiline message"},
			&cli.BoolFlag{Name: "no-bell", Usage: "never ring the terminal bell (overrides client.bell)"},
			&cli.BoolFlag{Name: "no-reconnect", Usage: "end when the connection drops instead of reconnecting"},
			&cli.BoolFlag{Name: "tls", Usage: "connect with TLS (default port 6697); a certificate no known authority signed is trusted on first use and pinned (tls.go)"},
			&cli.StringFlag{Name: "tls-fingerprint", Usage: "trust only the TLS certificate with this SHA-256 `FINGERPRINT`, as labchat serve prints it (implies --tls)"},
		},
		Action: runConnect,
	}
}

// clientOptions is everything a connect run needs, resolved from flags, environment and config.
type clientOptions struct {
	addr         string // host:port, as dialed and as the key of the recent-logins file
	user         string
	password     string // never logged, never shown
	register     bool
	displayName  string // --display-name: SETNAME after login
	to           string
	upload       string // --upload FILE: upload, send the link to to, exit
	follow       bool
	multiline    bool // --multiline: a burst of stdin lines is one message
	json         bool
	interactive  bool
	bell         string // "all", "dm" or "off"
	dataDir      string // the client data dir
	historyLines int
	callTimeout  time.Duration // how long /call rings
	noReconnect  bool          // --no-reconnect: a lost connection ends the client
	notify       string        // desktop notifications: "osc9", "osc777" or "" (client_notify.go)
	trace        *tracer       // nil unless --trace
	tls          *clientTLS    // nil unless --tls (tls.go)
}

var bellModes = []string{"all", "dm", "off"}

func runConnect(c *cli.Context) error {
	opts, err := connectOptions(c)
	if err != nil {
		return err
	}
	if !opts.interactive {
		if err := pipelineCredentials(c, opts); err != nil {
			return err
		}
		return connectAndRun(c.Context, opts, newPipelineSink(c.App.Writer, c.App.ErrWriter, opts), nil)
	}
	return runInteractive(c, opts)
}

// connectOptions checks the flags that do not need a terminal or a network.
func connectOptions(c *cli.Context) (*clientOptions, error) {
	args, err := parseTrailingFlags(c)
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, err
	}
	if len(args) > 1 {
		return nil, usageErrorf("connect takes at most one argument, HOST[:PORT]; got %q", args)
	}
	server := cfg.Client.Server
	if len(args) == 1 {
		server = args[0]
	}
	addr, err := serverAddress(server)
	if err != nil {
		return nil, withExit(exitUsage, err)
	}
	opts := &clientOptions{
		addr:         addr,
		user:         c.String("user"),
		register:     c.Bool("register"),
		displayName:  strings.TrimSpace(c.String("display-name")),
		to:           c.String("to"),
		upload:       c.String("upload"),
		follow:       c.Bool("follow"),
		multiline:    c.Bool("multiline"),
		json:         c.Bool("json"),
		bell:         cfg.Client.Bell,
		dataDir:      cfg.clientDataDir(),
		historyLines: cfg.Client.HistoryLines,
		callTimeout:  cfg.Client.CallTimeout.Duration,
		trace:        traceFor(c),
		noReconnect:  c.Bool("no-reconnect"),
	}
	if err := setupClientTLS(c, opts, server); err != nil {
		return nil, err
	}
	if opts.callTimeout <= 0 {
		return nil, usageErrorf("config client.call_timeout = %q: must be a positive duration like \"30s\"", cfg.Client.CallTimeout.String())
	}
	if !validBellMode(opts.bell) {
		return nil, usageErrorf("config client.bell = %q: want one of %s", opts.bell, strings.Join(bellModes, ", "))
	}
	if c.Bool("no-bell") {
		opts.bell = "off"
	}
	if opts.notify, err = notifyStyle(cfg.Client.Notify, os.Getenv); err != nil {
		return nil, withExit(exitUsage, err)
	}
	if opts.bell == "off" {
		opts.notify = ""
	}
	if opts.json && !opts.follow {
		return nil, usageErrorf("--json only changes what --follow prints; add --follow")
	}
	if strings.ContainsAny(opts.to, " ,\x00\r\n") {
		return nil, usageErrorf("--to %q: want one nick or #room", opts.to)
	}
	if opts.upload != "" && (opts.to == "" || opts.follow) {
		return nil, usageErrorf("--upload FILE sends the file's link to someone: add --to NICK|#ROOM (and no --follow)")
	}
	if opts.upload != "" {
		if st, err := os.Stat(opts.upload); err != nil {
			return nil, usageErrorf("--upload: %v", err)
		} else if !st.Mode().IsRegular() {
			return nil, usageErrorf("--upload %s: not a regular file", opts.upload)
		}
	}
	opts.interactive = term.IsTerminal(int(os.Stdin.Fd())) && !opts.follow && opts.upload == ""
	if !opts.interactive && opts.to == "" && !opts.follow {
		return nil, usageErrorf("stdin is not a terminal: use --to TARGET to send its lines, or --follow to print incoming messages")
	}
	return opts, nil
}

// parseTrailingFlags applies flags given after HOST (`connect HOST --user alice`), which the
// flag package leaves as arguments, and returns the real arguments.
func parseTrailingFlags(c *cli.Context) ([]string, error) {
	var args []string
	rest := c.Args().Slice()
	for len(rest) > 0 {
		arg := rest[0]
		rest = rest[1:]
		if arg == "--" {
			return append(args, rest...), nil
		}
		if len(arg) < 2 || arg[0] != '-' {
			args = append(args, arg)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		flag := findCommandFlag(c.Command, name)
		if flag == nil {
			return nil, usageErrorf("flag provided but not defined: %s", arg)
		}
		if _, isBool := flag.(*cli.BoolFlag); isBool && !hasValue {
			value, hasValue = "true", true
		}
		if !hasValue {
			if len(rest) == 0 {
				return nil, usageErrorf("flag needs an argument: %s", arg)
			}
			value, rest = rest[0], rest[1:]
		}
		if err := c.Set(flag.Names()[0], value); err != nil {
			return nil, usageErrorf("flag %s: %w", arg, err)
		}
	}
	return args, nil
}

func findCommandFlag(cmd *cli.Command, name string) cli.Flag {
	for _, f := range cmd.Flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func validBellMode(mode string) bool {
	for _, m := range bellModes {
		if mode == m {
			return true
		}
	}
	return false
}

// serverAddress turns HOST, HOST:PORT, [V6]:PORT or a bare IPv6 address into host:port.
func serverAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("no server given: connect HOST[:PORT], or set client.server in the config")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a plain host name, or an IPv6 address with or without brackets.
		host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), defaultIRCPort
	}
	if host == "" || strings.ContainsAny(host, " /") {
		return "", fmt.Errorf("server %q: want HOST[:PORT]", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("server %q: port must be a number from 1 to 65535", s)
	}
	return net.JoinHostPort(host, port), nil
}

// pipelineCredentials finds the account and password without asking anyone.
func pipelineCredentials(c *cli.Context, opts *clientOptions) error {
	if opts.user == "" {
		return usageErrorf("no account: give --user NAME (or LABCHAT_USER)")
	}
	pw, ok, err := passwordFromFlags(c)
	if err != nil {
		return err
	}
	if !ok {
		return usageErrorf("no password: stdin is not a terminal, so set LABCHAT_PASSWORD or give --password-file FILE")
	}
	opts.password = pw
	return nil
}

// passwordFromFlags returns the password from --password-file, else LABCHAT_PASSWORD.
func passwordFromFlags(c *cli.Context) (string, bool, error) {
	if path := c.String("password-file"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", false, usageErrorf("read password file: %w", err)
		}
		line, _, _ := strings.Cut(string(data), "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			return "", false, usageErrorf("password file %s: first line is empty", path)
		}
		return line, true, nil
	}
	if pw := os.Getenv("LABCHAT_PASSWORD"); pw != "" {
		return pw, true, nil
	}
	return "", false, nil
}

// connectAndRun dials, logs in and runs the session in the mode opts asks for. ui is the
// prompt in interactive mode, nil in pipeline mode.
func connectAndRun(ctx context.Context, opts *clientOptions, sink eventSink, ui *prompt) error {
	if ui == nil {
		// Before anything is printed: a script that reads an event may signal at once.
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	cs := newClientSession(nil, opts, sink)
	cs.ctx = ctx
	defer cs.closeRecords()
	cc, err := cs.connect()
	for tries := 1; err != nil && ui != nil; tries++ {
		if !ui.forgive(opts, err, tries) {
			break
		}
		cc, err = cs.connect()
	}
	if err != nil {
		return err
	}
	if err := recordLogin(opts.dataDir, opts.addr, opts.user, time.Now()); err != nil {
		sink.event(chatEvent{Time: time.Now(), Kind: kindError, Text: fmt.Sprintf("remember login: %v", err)})
	}
	go cs.run(cc)
	defer cs.closeConn()
	if err := cs.startPresence(); err != nil && (opts.noReconnect || !errors.Is(err, errNotConnected)) {
		return cs.lost(err)
	}
	if ui != nil {
		if opts.displayName != "" {
			cs.sendCmd("SETNAME", opts.displayName)
		}
		go cs.scanUnread()
		return cs.lost(cs.runPrompt(ui))
	}
	if opts.displayName != "" {
		cs.sendCmd("SETNAME", opts.displayName)
	}
	return cs.lost(cs.runPipeline(ctx, os.Stdin))
}

// lost prefers the reason the session ended (the server's ERROR) to the failed write that
// noticed it.
func (cs *clientSession) lost(err error) error {
	if !errors.Is(err, errNotConnected) {
		return err
	}
	select {
	case <-cs.done:
		if cs.endErr != nil {
			return cs.endErr
		}
	case <-time.After(quitWait):
	}
	return err
}

// connect dials and logs in: one connection of the session (client_reconnect.go has the rest).
func (cs *clientSession) connect() (*clientConn, error) {
	conn, err := clientDial(cs.ctx, cs.opts.addr, cs.opts.trace)
	if err != nil {
		return nil, withExit(exitConnect, err)
	}
	if cs.opts.tls != nil {
		if conn, err = cs.opts.tls.handshake(cs.ctx, conn); err != nil {
			return nil, err
		}
	}
	cc := newClientConn(conn)
	cs.setConn(cc)
	if err := cs.login(cc); err != nil {
		cc.close()
		return nil, err
	}
	return cc, nil
}

// clientDial is the client's one TCP dial; tr (nil: off) traces the connection.
func clientDial(ctx context.Context, addr string, tr *tracer) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	began := time.Now()
	if tr != nil {
		tr.dialing(addr)
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if tr != nil {
			tr.dialFailed(addr, err)
		}
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	if tr != nil {
		conn = tr.dialed(conn, began)
	}
	return conn, nil
}

// inbound is one line from the server, parsed, with its wire text for /raw.
type inbound struct {
	msg Message
	raw string
	err error // a line that does not parse; msg is then empty
}

// clientConn is the socket: readLoop is its only reader, send its only writer.
type clientConn struct {
	conn     net.Conn
	lines    chan inbound  // closed when readLoop ends; readErr says why
	readErr  error         // written by readLoop before it closes lines
	gone     chan struct{} // closed when readLoop ends, for waits that do not read lines
	lastRead atomic.Int64  // UnixNano of the last line read (watch)
	silent   atomic.Bool   // watch closed the connection: the server stopped answering

	wmu sync.Mutex // guards wbuf and serializes writes to conn
	buf []byte
}

func newClientConn(conn net.Conn) *clientConn {
	cc := &clientConn{conn: conn, lines: make(chan inbound, 64), gone: make(chan struct{})}
	cc.lastRead.Store(time.Now().UnixNano())
	go cc.readLoop()
	go cc.watch()
	return cc
}

func (cc *clientConn) readLoop() {
	defer close(cc.gone)
	defer close(cc.lines)
	lr := newLineReader(cc.conn, maxLineLen)
	for {
		line, err := lr.ReadLine()
		if errors.Is(err, ErrLineTooLong) {
			cc.lines <- inbound{err: err}
			continue
		}
		if err != nil {
			cc.readErr = err
			if cc.silent.Load() {
				cc.readErr = fmt.Errorf("the server said nothing for %v, not even to a PING", keepaliveIdle+keepaliveWait)
			}
			return
		}
		cc.lastRead.Store(time.Now().UnixNano())
		msg, err := ParseMessage(string(line))
		if errors.Is(err, ErrLineEmpty) {
			continue
		}
		cc.lines <- inbound{msg: msg, raw: string(line), err: err}
	}
}

// send encodes one message and writes it. Parameters that cannot be encoded (a line break,
// a space in a middle parameter) are refused, so nothing typed can inject a second line.
func (cc *clientConn) send(command string, params ...string) error {
	if cc == nil {
		return errNotConnected
	}
	m := Message{Command: command, Params: params}
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	buf, err := m.AppendTo(cc.buf[:0])
	if err != nil {
		return fmt.Errorf("encode %s: %w", command, err)
	}
	cc.buf = buf
	return cc.writeLocked(buf)
}

// sendMsg is send for a message with tags.
func (cc *clientConn) sendMsg(m *Message) error {
	if cc == nil {
		return errNotConnected
	}
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	buf, err := m.AppendTo(cc.buf[:0])
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.Command, err)
	}
	cc.buf = buf
	return cc.writeLocked(buf)
}

// sendRaw writes line as typed, for /raw; only the line ending is added.
func (cc *clientConn) sendRaw(line string) error {
	if cc == nil {
		return errNotConnected
	}
	if strings.ContainsAny(line, "\r\n\x00") || len(line)+2 > maxBodyLen {
		return errors.New("raw line must be one line of at most 510 bytes")
	}
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	return cc.writeLocked(append(append(cc.buf[:0], line...), '\r', '\n'))
}

func (cc *clientConn) writeLocked(b []byte) error {
	cc.conn.SetWriteDeadline(time.Now().Add(clientWriteTimeout))
	if _, err := cc.conn.Write(b); err != nil {
		return fmt.Errorf("write to server: %w (%w)", errNotConnected, err)
	}
	return nil
}

func (cc *clientConn) close() {
	if cc != nil {
		cc.conn.Close()
	}
}

// clientSession is one logged-in connection and what the client knows about it.
type clientSession struct {
	ccp  atomic.Pointer[clientConn] // the connection now; nil while reconnecting (conn())
	opts *clientOptions
	sink eventSink
	ctx  context.Context // ends the session (pipeline mode: SIGINT, SIGTERM)

	// Set by login before dispatch starts; read-only afterwards.
	caps      map[string]bool
	capValues map[string]string // what CAP LS offered, with values (draft/multiline's limits)
	chantypes string

	records      *chatLog      // this client's record of its messages (client_records.go); nil: none
	recordFailed atomic.Bool   // recording stopped after an error, already reported
	presence     *presenceBook // others' status, contacts, partners (client_presence.go)
	calls        *callBook     // calls ringing now (client_calls.go)
	files        clientFiles   // FILEHOST and /search results (client_files.go)

	done   chan struct{} // closed by run when the session has ended (no more reconnecting)
	endErr error         // why it ended (nil: as asked); written before done is closed

	serverErr string       // the ERROR text of the current connection; dispatch goroutine only
	resume    resumeState  // what the reconnect loop needs (client_reconnect.go)
	seen      seenIDs      // msgids shown, so a replay after a reconnect shows nothing twice
	redraw    func()       // asks the prompt to redraw itself (set by runPrompt); guarded by mu
	shown     atomic.Value // the prompt text being shown (string)

	mu            sync.Mutex // guards the fields below (dispatch and the input side share them)
	nick          string
	target        string            // where plain text goes
	askedRoom     string            // clientFold of the room a /join asked for: it becomes the target
	rooms         map[string]string // joined rooms, casefolded → as the server spells it
	nicks         map[string]string // nicks seen, for completion, casefolded → spelling
	pongs         map[string]chan struct{}
	pingSeq       int
	rawWatch      int             // outstanding /raw round trips: replies are shown raw meanwhile
	offline       bool            // reconnecting: the prompt says so
	online        chan struct{}   // closed while connected; a fresh one while reconnecting
	lastTime      time.Time       // the newest server time seen: history after it was missed
	rejoining     map[string]bool // rooms being rejoined: their JOIN echo and NAMES are not shown
	catchUp       map[string]bool // targets whose next chathistory batch is a catch-up
	historyWant   map[string]int  // /history N asked for a target: its batch shows N lines
	catchUpSince  time.Time       // the newest server time seen before the drop; zero: no catch-up
	skipLastLogin bool            // the next "last login" notice follows a reconnect: not shown

	historyBatches  map[string]*historyReplay    // open chathistory batches; dispatch goroutine only
	mlBatches       map[string]*mlCollect        // open draft/multiline batches; dispatch goroutine only (client_rich.go)
	recent          map[string][]recentMsg       // recent messages per conversation, for /reply /react /delete; guarded by mu
	typing          map[string]typingState       // who is typing where; guarded by mu
	batchSeq        int                          // names the multiline batches sent; guarded by mu
	whowas          bool                         // inside a WHOWAS reply (its 312 reads differently); dispatch only
	operSaid        bool                         // 381 or MODE +o said "you are now a server operator": the other is not repeated; dispatch only
	killSaid        map[string]bool              // a kill (our notice or the victim's QUIT) shown: its twin is not; dispatch only
	callProbe       string                       // during /call's round trip: the callee, whose 401 or "offline" notice is caught
	callProbeResult string                       // what the probe found: callStateFailed, callStateStored or ""
	settling        bool                         // until the login's burst is over: rings are held (client_calls.go)
	heldRings       []heldRing                   // guarded by mu
	secretPrompt    func(string) (string, error) // no-echo question (interactive only); guarded by mu
	quitting        bool
	lineErrors      int // server errors about lines we sent (pipeline mode's exit status)

	// Display names and read state (client_read.go); guarded by mu.
	realnames   map[string]string    // clientFold(nick) → display name
	quietWhos   map[string]int       // clientFold(mask) → WHOs asked for display names, answers not shown
	reads       map[string]*convRead // clientFold(conversation) → its read state
	readFlush   *time.Timer          // the pending MARKREAD flush; nil: none
	entered     string               // clientFold of the conversation last entered (its unread shown)
	scanning    bool                 // login's unread scan is running
	unreadFetch map[string]bool      // targets whose next chathistory batch is their unread part
}

func newClientSession(cc *clientConn, opts *clientOptions, sink eventSink) *clientSession {
	cs := &clientSession{
		opts: opts, sink: sink, ctx: context.Background(), settling: opts.interactive || opts.follow,
		online: make(chan struct{}), rejoining: map[string]bool{}, catchUp: map[string]bool{}, historyWant: map[string]int{},
		caps: map[string]bool{}, chantypes: "#&",
		done:   make(chan struct{}),
		nick:   opts.user,
		target: opts.to,
		rooms:  map[string]string{}, nicks: map[string]string{}, killSaid: map[string]bool{},
		pongs:    map[string]chan struct{}{},
		records:  newClientRecords(opts),
		presence: newPresenceBook(opts.dataDir),
		calls:    newCallBook(),
	}
	if opts.interactive && strings.ContainsAny(opts.to[:min(1, len(opts.to))], "#&") {
		cs.target = "" // the room becomes the target when its JOIN succeeds, not before
	}
	close(cs.online)
	cs.ccp.Store(cc)
	return cs
}

// conn is the current connection: nil while reconnecting, and sending on nil says so.
func (cs *clientSession) conn() *clientConn { return cs.ccp.Load() }

func (cs *clientSession) setConn(cc *clientConn) { cs.ccp.Store(cc) }

func (cs *clientSession) closeConn() { cs.conn().close() }

// wantedCaps are the capabilities the client uses when the server offers them.
var wantedCaps = []string{"sasl", "server-time", "message-tags", "echo-message", "away-notify", "extended-monitor", "batch", "draft/chathistory", "draft/multiline", "draft/message-redaction", "soju.im/search", "setname", "extended-join", "draft/read-marker"}

// login runs connection registration up to the end of the MOTD: capabilities, REGISTER when
// asked, SASL PLAIN (or PASS when the server has no SASL), then the welcome.
func (cs *clientSession) login(cc *clientConn) error {
	lg := &loginState{cs: cs, cc: cc}
	steps := [][]string{{"CAP", "LS", "302"}, {"NICK", cs.opts.user}, {"USER", cs.opts.user, "0", "*", cs.opts.user}}
	for _, p := range steps {
		if err := cc.send(p[0], p[1:]...); err != nil {
			return withExit(exitProtocol, err)
		}
	}
	timeout := time.NewTimer(loginTimeout)
	defer timeout.Stop()
	for !lg.finished && lg.err == nil {
		select {
		case in, ok := <-cc.lines:
			if !ok {
				return lg.closedError()
			}
			lg.handle(in)
		case <-timeout.C:
			return withExit(exitProtocol, fmt.Errorf("login to %s: no welcome from the server after %v", cs.opts.addr, loginTimeout))
		}
	}
	if lg.err != nil {
		cc.send("QUIT", "login failed")
	}
	return lg.err
}

// loginState is owned by the goroutine running login.
type loginState struct {
	cs       *clientSession
	cc       *clientConn
	capLS    []string
	welcomed bool
	loggedIn bool
	authSent bool
	finished bool
	err      error
}

// loginHandlers handle what matters during registration; everything else is shown as usual.
var loginHandlers = map[string]func(lg *loginState, m *Message){
	"CAP":          (*loginState).onCap,
	"REGISTER":     (*loginState).onRegister,
	"FAIL":         (*loginState).onFail,
	"AUTHENTICATE": (*loginState).onAuthenticate,
	"900":          func(lg *loginState, m *Message) { lg.loggedIn = true }, // RPL_LOGGEDIN
	"903":          (*loginState).capEnd,                                    // RPL_SASLSUCCESS
	"907":          func(*loginState, *Message) {},                          // ERR_SASLALREADY: not asked for any more
	"902":          (*loginState).refused,                                   // ERR_NICKLOCKED
	"904":          (*loginState).refused,                                   // ERR_SASLFAIL
	"905":          (*loginState).refused,                                   // ERR_SASLTOOLONG
	"906":          (*loginState).refused,                                   // ERR_SASLABORTED
	"432":          (*loginState).refused,                                   // ERR_ERRONEUSNICKNAME
	"433":          (*loginState).refused,                                   // ERR_NICKNAMEINUSE
	"436":          (*loginState).refused,                                   // ERR_NICKCOLLISION
	"464":          (*loginState).refused,                                   // ERR_PASSWDMISMATCH
	"465":          (*loginState).refused,                                   // ERR_YOUREBANNEDCREEP
	"001":          (*loginState).onWelcome,
	"005":          (*loginState).onISupport,
	"376":          func(lg *loginState, m *Message) { lg.finished = true }, // RPL_ENDOFMOTD
	"422":          func(lg *loginState, m *Message) { lg.finished = true }, // ERR_NOMOTD
	"ERROR":        (*loginState).onError,
}

func (lg *loginState) handle(in inbound) {
	if in.err == nil {
		if h, ok := loginHandlers[in.msg.Command]; ok {
			h(lg, &in.msg)
			if in.msg.Command != "001" && in.msg.Command != "ERROR" {
				return
			}
		}
		if lg.cs.isReconnecting() && welcomeOnly(&in.msg) {
			lg.cs.noteTime(&in.msg)
			return // seen at the first login: a reconnect shows only "reconnected"
		}
	}
	lg.cs.handle(in)
}

// welcomeOnly reports the lines of a login that say nothing new after a reconnect: the
// welcome numerics, LUSERS, the MOTD and the server's "Previous login" notice.
func welcomeOnly(m *Message) bool {
	if isNumeric(m.Command) {
		return m.Command[0] != '4' && m.Command[0] != '5'
	}
	return m.Command == "NOTICE" && nickOf(m.Source) == "" && (strings.HasPrefix(m.Param(1), "Previous login: ") || m.Param(1) == "First login to this account")
}

func (lg *loginState) closedError() error {
	err := lg.cc.readErr
	if err == nil || errors.Is(err, io.EOF) {
		err = errors.New("server closed the connection")
	}
	return withExit(exitProtocol, fmt.Errorf("login to %s: %w", lg.cs.opts.addr, err))
}

func (lg *loginState) fail(err error) {
	if lg.err == nil {
		lg.err = err
	}
}

func (lg *loginState) send(command string, params ...string) {
	if err := lg.cc.send(command, params...); err != nil {
		lg.fail(withExit(exitProtocol, err))
	}
}

// onCap collects a (possibly multi-line) CAP LS, requests what we use, and goes on at ACK/NAK.
func (lg *loginState) onCap(m *Message) {
	switch m.Param(1) {
	case "LS":
		more := len(m.Params) > 3 && m.Param(2) == "*"
		lg.capLS = append(lg.capLS, strings.Fields(m.Params[len(m.Params)-1])...)
		if more {
			return
		}
		if req := lg.capsToRequest(); len(req) > 0 {
			lg.send("CAP", "REQ", strings.Join(req, " "))
			return
		}
		lg.authenticate()
	case "ACK":
		for _, c := range strings.Fields(m.Params[len(m.Params)-1]) {
			lg.cs.caps[strings.TrimPrefix(c, "-")] = !strings.HasPrefix(c, "-")
		}
		lg.authenticate()
	case "NAK":
		lg.authenticate()
	}
}

func (lg *loginState) capsToRequest() []string {
	offered := map[string]string{}
	for _, c := range lg.capLS {
		name, value, _ := strings.Cut(c, "=")
		offered[name] = value
	}
	lg.cs.capValues = offered
	if _, ok := offered["draft/account-registration"]; ok {
		lg.cs.caps["draft/account-registration"] = true
	}
	if mechs, ok := offered["sasl"]; ok && mechs != "" && !strings.Contains(","+mechs+",", ",PLAIN,") {
		delete(offered, "sasl") // SASL without PLAIN is no use to us; PASS may still work
	}
	var req []string
	for _, c := range wantedCaps {
		// Pipelines neither echo what they send nor read: see client_read.go.
		if _, ok := offered[c]; ok && (c != "echo-message" && c != "draft/read-marker" || lg.cs.opts.interactive) {
			req = append(req, c)
		}
	}
	return req
}

// authenticate registers the account when asked, then logs in.
func (lg *loginState) authenticate() {
	if lg.authSent {
		return
	}
	lg.authSent = true
	if lg.cs.opts.register {
		if !lg.cs.caps["draft/account-registration"] {
			lg.fail(withExit(exitLoginRefused, fmt.Errorf("register at %s: the server does not offer account registration", lg.cs.opts.addr)))
			return
		}
		lg.send("REGISTER", "*", "*", lg.cs.opts.password)
		return
	}
	lg.startLogin()
}

func (lg *loginState) startLogin() {
	if lg.cs.caps["sasl"] {
		lg.send("AUTHENTICATE", "PLAIN")
		return
	}
	lg.send("PASS", lg.cs.opts.user+":"+lg.cs.opts.password)
	lg.capEnd(nil)
}

func (lg *loginState) onAuthenticate(m *Message) {
	if m.Param(0) != "+" {
		return
	}
	for _, chunk := range saslPlainChunks(lg.cs.opts.user, lg.cs.opts.password) {
		lg.send("AUTHENTICATE", chunk)
	}
}

// saslPlainChunks encodes authzid\0authcid\0password and splits it as the SASL spec says:
// 400-byte pieces, and a lone "+" after a final piece of exactly 400.
func saslPlainChunks(user, password string) []string {
	enc := base64.StdEncoding.EncodeToString([]byte(user + "\x00" + user + "\x00" + password))
	var chunks []string
	for len(enc) >= saslChunk {
		chunks = append(chunks, enc[:saslChunk])
		enc = enc[saslChunk:]
	}
	if enc == "" {
		enc = "+"
	}
	return append(chunks, enc)
}

func (lg *loginState) onRegister(m *Message) {
	switch m.Param(0) {
	case "SUCCESS":
		lg.cs.sink.event(chatEvent{Time: msgTime(m), Kind: kindInfo, Text: "account " + m.Param(1) + " created"})
		// SUCCESS means logged in (draft/account-registration): SASL now would only earn
		// 907 "You have already authenticated".
		lg.capEnd(nil)
	default: // VERIFICATION_REQUIRED: nothing this client can do about it
		lg.fail(withExit(exitLoginRefused, fmt.Errorf("register %s: %s", lg.cs.opts.user, m.Params[len(m.Params)-1])))
	}
}

// onFail treats a FAIL during login as a refusal: REGISTER's, and any other before the welcome.
func (lg *loginState) onFail(m *Message) {
	what := "login"
	if m.Param(0) == "REGISTER" {
		what = "register"
	}
	err := fmt.Errorf("%s %s at %s refused: %s (%s)", what, lg.cs.opts.user, lg.cs.opts.addr, m.Params[len(m.Params)-1], m.Param(1))
	if m.Param(0) == "REGISTER" && m.Param(1) == "ACCOUNT_EXISTS" {
		err = &loginRefusal{errAccountExists, err}
	}
	lg.fail(withExit(exitLoginRefused, err))
}

func (lg *loginState) refused(m *Message) {
	text := m.Params[len(m.Params)-1]
	var err error = fmt.Errorf("login %s at %s refused: %s", lg.cs.opts.user, lg.cs.opts.addr, text)
	// The server's words are all that tells these apart (commands.go, loginErrorText).
	switch {
	case strings.Contains(text, "there is no account named"):
		err = &loginRefusal{errNoSuchAccount, err}
	case strings.Contains(text, "wrong password"):
		err = &loginRefusal{errWrongPassword, err}
	}
	lg.fail(withExit(exitLoginRefused, err))
}

// Kinds of refused logins the interactive client can do something about (client_login.go).
var (
	errWrongPassword = errors.New("wrong password")
	errNoSuchAccount = errors.New("no such account")
	errAccountExists = errors.New("account exists")
)

// loginRefusal is a refused login of a known kind; its text is the server's.
type loginRefusal struct{ kind, err error }

func (r *loginRefusal) Error() string   { return r.err.Error() }
func (r *loginRefusal) Unwrap() []error { return []error{r.kind, r.err} }

func (lg *loginState) capEnd(*Message) { lg.send("CAP", "END") }

func (lg *loginState) onWelcome(m *Message) {
	lg.welcomed = true
	lg.cs.mu.Lock()
	lg.cs.nick = m.Param(0)
	lg.cs.mu.Unlock()
}

func (lg *loginState) onISupport(m *Message) {
	for _, tok := range m.Params[1 : len(m.Params)-1] {
		if v, ok := strings.CutPrefix(tok, "CHANTYPES="); ok {
			lg.cs.chantypes = v
		}
		lg.cs.presence.noteISupport(tok)
		lg.cs.files.noteFilehost(tok)
	}
}

// onError: an ERROR before the welcome is the server refusing us (full, banned, no login).
func (lg *loginState) onError(m *Message) {
	code := exitLoginRefused
	if lg.welcomed {
		code = exitProtocol
	}
	lg.fail(withExit(code, fmt.Errorf("server %s closed the connection: %s", lg.cs.opts.addr, m.Param(0))))
}

// dispatch handles the lines of one connection after login until it ends.
func (cs *clientSession) dispatch(cc *clientConn) {
	for in := range cc.lines {
		cs.handle(in)
	}
}

// handle runs the handler for one line; /raw replies are shown as received.
func (cs *clientSession) handle(in inbound) {
	if in.err != nil {
		cs.sink.event(chatEvent{Time: time.Now(), Kind: kindError, Text: fmt.Sprintf("unreadable line from server: %v", in.err)})
		return
	}
	m := &in.msg
	if m.Command == "PING" {
		cs.conn().send("PONG", m.Params...)
	}
	cs.noteTime(m)
	cs.mu.Lock()
	raw := cs.rawWatch > 0
	if raw && m.Command == "PONG" && strings.HasPrefix(m.Param(len(m.Params)-1), "raw-") {
		cs.rawWatch--
	}
	cs.mu.Unlock()
	if raw {
		cs.sink.event(chatEvent{Time: time.Now(), Kind: kindRaw, Text: "<< " + in.raw})
	}
	if m.Command == "BATCH" && cs.onMultilineBatch(m) || m.Tags["batch"] != "" && cs.multilineLine(m) {
		return
	}
	if m.Tags["batch"] != "" && (cs.onSearchLine(m) || cs.onHistoryLine(m, raw)) {
		return
	}
	if h, ok := messageHandlers[m.Command]; ok {
		h(cs, m, raw)
		return
	}
	if !raw {
		cs.onOther(m)
	}
}

// roundTrip sends PING with a fresh token and waits for its PONG. The server handles a
// client's lines in order, so the PONG proves it has taken every line sent before.
func (cs *clientSession) roundTrip(prefix string) error {
	cs.mu.Lock()
	cs.pingSeq++
	token := fmt.Sprintf("%s-%d", prefix, cs.pingSeq)
	ch := make(chan struct{})
	cs.pongs[token] = ch
	cs.mu.Unlock()
	cc := cs.conn()
	if err := cc.send("PING", token); err != nil {
		return withExit(exitProtocol, err)
	}
	timer := time.NewTimer(pongTimeout)
	defer timer.Stop()
	select {
	case <-ch:
		return nil
	case <-cc.gone:
		if cs.opts.noReconnect {
			<-cs.done // run is closing it: the end of the session has its reason
			return cs.endErr
		}
		return withExit(exitProtocol, fmt.Errorf("connection to %s lost: %w", cs.opts.addr, errNotConnected))
	case <-cs.done:
		return cs.endErr
	case <-timer.C:
		return withExit(exitProtocol, fmt.Errorf("server %s did not answer PING within %v", cs.opts.addr, pongTimeout))
	}
}

// quit sends QUIT and waits a moment for the server to close, for a clean end of the TCP stream.
func (cs *clientSession) quit(reason string) {
	cs.mu.Lock()
	cs.quitting = true
	if cs.readFlush != nil && cs.readFlush.Stop() {
		cs.mu.Unlock()
		cs.flushReads() // what was read goes to the other devices before we leave
	} else {
		cs.mu.Unlock()
	}
	if err := cs.conn().send("QUIT", reason); err != nil { // nil while reconnecting: nothing to wait for
		return
	}
	select {
	case <-cs.done:
	case <-time.After(quitWait):
	}
}

// sendText sends text to target as PRIVMSG, split so every piece fits in one relayed line.
func (cs *clientSession) sendText(target, text string) error {
	cs.mu.Lock()
	nick := cs.nick
	cs.mu.Unlock()
	if !cs.isRoom(target) {
		cs.notePartner(target)
	}
	for _, piece := range splitText(text, maxTextBytes(nick, target)) {
		if err := cs.conn().send("PRIVMSG", target, piece); err != nil {
			return withExit(exitProtocol, err)
		}
		if !cs.caps["echo-message"] {
			cs.sink.event(chatEvent{Time: time.Now(), Kind: kindMessage, From: nick, To: target, Text: piece, self: true, direct: !cs.isRoom(target)})
			cs.record("PRIVMSG", nick, target, piece, "", time.Now())
		}
	}
	return nil
}

// maxTextBytes is the text that fits when the server relays ":nick!user@host PRIVMSG target
// :text\r\n" in 512 bytes, assuming user = nick and a host of up to 63 bytes.
func maxTextBytes(nick, target string) int {
	return maxBodyLen - len(":!@ PRIVMSG  :\r\n") - 2*len(nick) - 63 - len(target)
}

// splitText cuts s into pieces of at most max bytes, at rune boundaries, preferring spaces.
func splitText(s string, limit int) []string {
	limit = max(limit, 2*utf8.UTFMax)
	var pieces []string
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if sp := strings.LastIndexByte(s[:cut], ' '); sp > cut/2 {
			cut = sp + 1
		}
		pieces = append(pieces, s[:cut])
		s = s[cut:]
	}
	return append(pieces, s)
}

func (cs *clientSession) isRoom(name string) bool {
	return name != "" && strings.IndexByte(cs.chantypes, name[0]) >= 0
}

// runPipeline sends stdin's lines to --to and/or follows incoming messages, until stdin ends
// (with --to), a signal, or the connection ends.
// connectAndRun has made ctx end on SIGINT and SIGTERM.
func (cs *clientSession) runPipeline(ctx context.Context, stdin io.Reader) error {
	if cs.opts.to == "" {
		select {
		case <-ctx.Done():
			cs.quit("labchat follow ended")
			return nil
		case <-cs.done:
			return cs.endErr
		}
	}
	for {
		err := cs.joinTarget()
		if err == nil {
			break
		}
		if none := 0; !cs.survive(err, &none) {
			return err
		}
	}
	if cs.opts.upload != "" {
		err := cs.pipelineUpload(ctx, os.Stdout)
		cs.quit("labchat done")
		return err
	}
	if err := cs.sendLines(ctx, stdin); err != nil {
		return err
	}
	cs.quit("labchat done")
	cs.mu.Lock()
	n := cs.lineErrors
	cs.mu.Unlock()
	if n > 0 {
		return withExit(exitProtocol, fmt.Errorf("the server reported %d error(s) about the lines sent to %s", n, cs.opts.to))
	}
	return nil
}

// joinTarget joins --to when it is a room; messages to a room need membership.
func (cs *clientSession) joinTarget() error {
	if !cs.isRoom(cs.opts.to) {
		return nil
	}
	if err := cs.conn().send("JOIN", cs.opts.to); err != nil {
		return withExit(exitProtocol, err)
	}
	if err := cs.roundTrip("join"); err != nil {
		return err
	}
	if !cs.joined(cs.opts.to) {
		return withExit(exitProtocol, fmt.Errorf("join %s: refused by the server", cs.opts.to))
	}
	return nil
}

func (cs *clientSession) joined(room string) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	_, ok := cs.rooms[clientFold(room)]
	return ok
}

// sendLines sends each stdin line; every pipelineWindow lines a round trip keeps the
// server's queue short. Reading runs in its own goroutine so a signal is seen at once.
func (cs *clientSession) sendLines(ctx context.Context, stdin io.Reader) error {
	lines := make(chan string)
	readErr := make(chan error, 1)
	go readStdinLines(stdin, lines, readErr)
	unconfirmed := 0
	pacingSaid := false
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				if err := <-readErr; err != nil {
					return err
				}
				for { // the server has taken every line when it answers
					err := cs.roundTrip("sent")
					if err == nil || !cs.survive(err, &unconfirmed) {
						return err
					}
				}
			}
			if cs.opts.multiline {
				line = gatherBurst(line, lines)
			}
			if line == "" {
				continue
			}
			for {
				err := cs.sayTo(cs.opts.to, line)
				if err == nil {
					break
				}
				if !cs.survive(err, &unconfirmed) {
					return err
				}
			}
			if unconfirmed++; unconfirmed >= pipelineWindow {
				started := time.Now()
				if err := cs.roundTrip("window"); err != nil {
					if !cs.survive(err, &unconfirmed) {
						return err
					}
				} else {
					cs.notePacing(unconfirmed, time.Since(started), &pacingSaid)
				}
				unconfirmed = 0
			}
		case <-ctx.Done():
			return nil
		case <-cs.done:
			return cs.endErr
		}
	}
}

// burstGap: stdin lines closer than this came together (a file, a paste), not one by one.
const burstGap = 50 * time.Millisecond

// gatherBurst joins to first the lines that follow it within burstGap, up to what one
// multiline message may hold (sendMultiline splits further by the server's limits).
func gatherBurst(first string, lines <-chan string) string {
	parts := []string{first}
	size := len(first)
	timer := time.NewTimer(burstGap)
	defer timer.Stop()
	for size < 64<<10 {
		select {
		case l, ok := <-lines:
			if !ok {
				return strings.Trim(strings.Join(parts, "\n"), "\n")
			}
			parts = append(parts, l)
			size += len(l) + 1
			timer.Reset(burstGap)
			continue
		case <-timer.C:
		}
		break
	}
	return strings.Trim(strings.Join(parts, "\n"), "\n")
}

// sayTo sends text, as a multiline message when it has several lines.
func (cs *clientSession) sayTo(target, text string) error {
	if strings.Contains(text, "\n") {
		return cs.sendMultiline(target, text)
	}
	return cs.sendText(target, text)
}

// notePacing says once that the server is holding our lines back: its flood control takes a
// few lines a second from every connection, so a long pipeline slows down on purpose.
func (cs *clientSession) notePacing(lines int, took time.Duration, said *bool) {
	if *said || took < pacingNotice || lines == 0 {
		return
	}
	*said = true
	rate := float64(lines) / took.Seconds()
	cs.complain(fmt.Sprintf("the server is pacing this connection at about %.0f lines a second (its flood control, flood_rate/flood_burst in the server's config, the same for every client); the rest of the input follows at that pace", rate))
}

// survive waits for a reconnect after a send failed on a lost connection, and reports
// whether to go on. Lines sent since the last confirmation may have been lost with the
// connection; that is said on stderr, as they are not sent twice.
func (cs *clientSession) survive(err error, unconfirmed *int) bool {
	if !errors.Is(err, errNotConnected) || cs.opts.noReconnect || !cs.waitOnline() {
		return false
	}
	if *unconfirmed > 0 {
		cs.complain(fmt.Sprintf("up to %d line(s) sent just before the connection dropped may not have arrived", *unconfirmed))
	}
	*unconfirmed = 0
	if cs.isRoom(cs.opts.to) && !cs.joined(cs.opts.to) {
		// resumeSession rejoins too; a second JOIN is harmless and this one is waited for.
		if cs.sendCmd("JOIN", cs.opts.to) == nil {
			cs.roundTrip("rejoin")
		}
	}
	return true
}

// readStdinLines sends r's lines to out without line endings; a line longer than
// maxStdinLine arrives in pieces cut at rune boundaries. It closes out at the end.
func readStdinLines(r io.Reader, out chan<- string, errc chan<- error) {
	defer close(out)
	br := bufio.NewReaderSize(r, maxStdinLine)
	var carry []byte // the start of a rune cut by the buffer's end
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			if len(carry) > 0 {
				out <- string(carry)
			}
			errc <- err
			return
		}
		data := append(carry, chunk...)
		carry = nil
		if isPrefix {
			data, carry = cutIncompleteRune(data)
			carry = append([]byte(nil), carry...) // br reuses its buffer
			out <- string(data)
			continue
		}
		out <- strings.TrimSuffix(string(data), "\r")
	}
}

// cutIncompleteRune splits off a UTF-8 sequence cut short at the end of b.
func cutIncompleteRune(b []byte) (whole, rest []byte) {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i], b[i:]
			}
			break
		}
	}
	return b, nil
}
