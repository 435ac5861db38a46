package main

// The chat server: listener, accept loop, the registry of nicks and rooms, and shutdown.
//
// Lock order (take them in this order, never the reverse):
//  1. Server.mu       — the registry: users (nicks and their connections, user.go), rooms,
//                       room membership, session identity fields
//  2. Room.relayMu    — one relay at a time per room, so every member sees one order
//  3. Session.qmu     — a session's send queue; held only to append bytes, never during I/O
// offlineQueues.mu ranks above all three (taken before Server.mu, never under it).
// connBudget.mu (budget.go), accountStore.mu, loginThrottle.mu, registerThrottle.mu, hashPool.mu and chatLog.mu are
// leaves: nothing is taken under them. users/.lock (an flock shared with `labchat accounts`) is taken before
// accountStore.mu and never under Server.mu or offlineQueues.mu; the store reports changes
// after letting it go.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// ErrServerClosed is returned by Serve after Shutdown, as net/http does.
var ErrServerClosed = errors.New("labchat: server closed")

// Server is a labchat chat server. Create it with NewServer, then Listen and Serve.
type Server struct {
	cfg      ServerConfig
	dataDir  string
	log      *slog.Logger
	accounts *accountStore
	lock     *dataLock
	throttle *loginThrottle
	created  time.Time
	isupport []string       // RPL_ISUPPORT tokens, computed once
	history  *chatLog       // nil when server.history is off
	redacted redactions     // redacted msgids per conversation (redact.go)
	offline  *offlineQueues // nil when server.offline_queue_max is 0
	files    *fileHost      // uploads (filehost.go); nil when server.uploads or the web port is off
	trace    *tracer        // nil unless --trace; set before Listen

	diskErrAt atomic.Int64  // unix nanoseconds of the last logged history write error
	relayed   atomic.Uint64 // messages relayed (PRIVMSG, NOTICE, TAGMSG), for STATS
	startSeq  uint64        // msgid counter when this server started (roomhistory.go)

	regThrottle *registerThrottle // REGISTER per address (throttle.go)
	evictGrace  time.Duration     // the constant evictGrace; tests shorten it before Serve
	budget      *connBudget       // every listener's connections (budget.go)
	sizing      budgetSizing      // what RLIMIT_NOFILE allowed at start

	ln       net.Listener
	web      *webServer    // the web port (websocket.go); nil when web_listen is empty
	tls      *tlsPort      // IRC over TLS (tls.go); nil when tls_listen is empty
	turn     *turnRelay    // the TURN relay (turn.go); nil when turn_listen is empty
	shutdown chan struct{} // closed by Shutdown
	sessWG   sync.WaitGroup

	mu       sync.RWMutex     // tier 1; guards the fields below, every User and every Session's identity fields
	nicks    map[string]*User // casefolded nick → the user online with it (user.go)
	rooms    map[string]*Room // casefolded name → room
	sessions map[*Session]struct{}
	watchers map[string]map[*Session]struct{} // casefolded nick → sessions MONITORing it
	whowas   whowasRing                       // recent departures, for WHOWAS
	peak     int                              // most registered users at once, for LUSERS
	closed   bool

	accountUsers map[string]*User       // casefolded account → its user, while online
	claims       map[string]*Session    // casefolded nick → the unregistered connection that asked for it
	roomRecords  map[string]*roomRecord // casefolded room → what its file keeps (roomstate.go)
	emptiedHist  map[string]roomHistory // casefolded room → its history state when it emptied

	roomSaveMu sync.Mutex    // taken before mu: room files reach the disk in order (roomstate.go)
	profiles   *profileStore // what follows each account to every device (profile.go)
}

// NewServer opens the data directory (taking its lock) and loads the accounts.
func NewServer(cfg ServerConfig, dataDir string, log *slog.Logger) (*Server, error) {
	if err := validateServerConfig(&cfg); err != nil {
		return nil, err
	}
	lock, err := lockDataDir(dataDir)
	if err != nil {
		return nil, err
	}
	accounts, err := openAccountStore(filepath.Join(dataDir, "users"), cfg.BcryptCost)
	if err != nil {
		lock.Release()
		return nil, err
	}
	accounts.minPassword = cfg.MinPasswordLen
	for _, sk := range accounts.skipped {
		log.Error("account file skipped; the name stays taken until the file is repaired or removed", "file", sk.path, "err", sk.err)
	}
	removed := accounts.removedTemps
	for _, sub := range []string{"", "offline", "rooms", "profiles"} {
		r, err := removeStaleTemps(filepath.Join(dataDir, sub))
		if err != nil {
			lock.Release()
			return nil, err
		}
		removed = append(removed, r...)
	}
	for _, path := range removed {
		log.Warn("removed a temp file left by an interrupted write", "file", path)
	}
	s := &Server{
		cfg:      cfg,
		dataDir:  dataDir,
		log:      log,
		accounts: accounts,
		lock:     lock,
		throttle: newLoginThrottle(cfg.LoginFailuresPerMinute, cfg.LoginFailuresPerIP),
		created:  time.Now(),
		startSeq: msgSeqNow(),
		shutdown: make(chan struct{}),
		nicks:    make(map[string]*User),
		rooms:    make(map[string]*Room),
		sessions: make(map[*Session]struct{}),
		watchers: make(map[string]map[*Session]struct{}),

		accountUsers: make(map[string]*User),
		claims:       make(map[string]*Session),
	}
	s.regThrottle = newRegisterThrottle(cfg.RegisterPerIPBurst, cfg.RegisterPerIPPerMinute)
	s.evictGrace = evictGrace
	s.sizing = sizeBudget(cfg.MaxClients)
	s.budget = newConnBudget(cfg, s.sizing, log)
	if cfg.History {
		s.history = newChatLog(filepath.Join(dataDir, "logs"))
		s.history.indexMax = msgidIndexMax
	}
	if cfg.OfflineQueueMax > 0 {
		s.offline = newOfflineQueues(filepath.Join(dataDir, "offline"), cfg.OfflineQueueMax)
	}
	if cfg.Uploads && cfg.WebListen != "" {
		if s.files, err = openFileHost(dataDir, &cfg, log); err != nil {
			lock.Release()
			return nil, err
		}
	}
	s.isupport = s.buildISupport()
	s.roomRecords = s.loadRoomRecords()
	s.emptiedHist = make(map[string]roomHistory)
	s.profiles = newProfileStore(filepath.Join(dataDir, "profiles"), log)
	accounts.changed = s.accountsChanged
	return s, nil
}

func validateServerConfig(cfg *ServerConfig) error {
	switch {
	case cfg.BcryptCost < 4 || cfg.BcryptCost > 31:
		return usageErrorf("config server.bcrypt_cost = %d: must be 4 to 31", cfg.BcryptCost)
	case cfg.MinPasswordLen < 1 || cfg.MinPasswordLen > maxPasswordLen:
		return usageErrorf("config server.min_password_len = %d: must be 1 to %d", cfg.MinPasswordLen, maxPasswordLen)
	case cfg.SendQBytes < 4096:
		return usageErrorf("config server.sendq_bytes = %d: must be at least 4096", cfg.SendQBytes)
	case cfg.FloodRate < 0 || cfg.FloodBurst < 1 || cfg.FloodQueue < 1:
		return usageErrorf("config server.flood_*: rate must be >= 0, burst and queue >= 1")
	case cfg.NickLen < 9 || cfg.ChannelLen < 2:
		return usageErrorf("config server.nick_len must be >= 9 and channel_len >= 2")
	case cfg.MaxClients < 0 || cfg.MaxClientsPerIP < 1:
		return usageErrorf("config server.max_clients must be >= 0 (0: as many as the open-file limit allows) and max_clients_per_ip >= 1")
	case cfg.MaxUnregistered < 1 || cfg.MaxUnregisteredPerIP < 1:
		return usageErrorf("config server.max_unregistered and max_unregistered_per_ip must be >= 1")
	case cfg.LoginFailuresPerMinute < 0 || cfg.LoginFailuresPerIP < 0:
		return usageErrorf("config server.login_failures_per_minute and login_failures_per_ip_per_minute must be >= 0 (0: no limit)")
	case cfg.RegisterPerIPBurst < 1 || cfg.RegisterPerIPPerMinute < 1:
		return usageErrorf("config server.register_per_ip_burst and register_per_ip_per_minute must be >= 1")
	case cfg.RegistrationTimeout.Duration <= 0 || cfg.PingInterval.Duration <= 0 || cfg.PingTimeout.Duration <= 0 || cfg.WriteTimeout.Duration <= 0:
		return usageErrorf("config server timeouts must be positive")
	case cfg.ChathistoryMax < 1:
		return usageErrorf("config server.chathistory_max = %d: must be at least 1", cfg.ChathistoryMax)
	case cfg.MaxConnectionsPerAccount < 1:
		return usageErrorf("config server.max_connections_per_account = %d: must be at least 1", cfg.MaxConnectionsPerAccount)
	case cfg.MaxRoomsPerConnection < 1:
		return usageErrorf("config server.max_rooms_per_connection = %d: must be at least 1", cfg.MaxRoomsPerConnection)
	case cfg.OfflineQueueMax < 0:
		return usageErrorf("config server.offline_queue_max = %d: must be 0 (off) or more", cfg.OfflineQueueMax)
	case cfg.Name == "" || strings.ContainsAny(cfg.Name, " :!@"):
		return usageErrorf("config server.name %q: must be a host-like name without spaces", cfg.Name)
	case strings.ContainsAny(cfg.ServicesName, " :!@,*?") || cfg.ServicesName != "" && casefold(cfg.ServicesName) == casefold(cfg.Name):
		return usageErrorf("config server.services_name %q: must be a host-like name without spaces, other than server.name", cfg.ServicesName)
	}
	if cfg.ServicesName == "" {
		cfg.ServicesName = "services." + cfg.Name
	}
	if err := validateOperators(cfg); err != nil {
		return err
	}
	if err := validateWebConfig(cfg); err != nil {
		return err
	}
	if err := validateTLSConfig(cfg); err != nil {
		return err
	}
	if err := validateTURNConfig(cfg); err != nil {
		return err
	}
	return validatePresenceConfig(cfg)
}

// Listen opens the TCP listener; Serve then accepts on it. Split so that callers (and tests
// on port 0) learn the address before serving.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	if s.trace != nil {
		s.trace.listen("tcp", ln.Addr())
	}
	if err := s.listenWeb(); err != nil {
		ln.Close()
		return err
	}
	if err := s.listenTLS(); err != nil {
		ln.Close()
		s.web.close()
		return err
	}
	if err := s.listenTURN(); err != nil {
		ln.Close()
		s.web.close()
		s.tls.close()
		return err
	}
	return nil
}

// Addr is the listening address, valid after Listen.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until Shutdown, then returns ErrServerClosed. Temporary accept
// errors (out of file descriptors) are retried with backoff instead of ending the server.
func (s *Server) Serve() error {
	s.budget.setGrace(s.evictGrace)
	s.sizing.logSizing(s.log, s.cfg)
	if s.web != nil {
		go s.web.serve()
	}
	go s.watchAccounts()
	if s.tls != nil {
		go s.tls.serve(s)
	}
	return s.acceptLoop(s.ln, nil)
}

// acceptLoop is Serve for one listener; with tlsConf its connections speak TLS (tls.go).
func (s *Server) acceptLoop(ln net.Listener, tlsConf *tls.Config) error {
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			select {
			case <-s.shutdown:
				return ErrServerClosed
			default:
			}
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() || isTemporaryAccept(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept", "err", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
				case <-s.shutdown:
					return ErrServerClosed
				}
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		backoff = 0
		if s.trace != nil {
			conn = s.trace.accepted(conn)
		}
		kind := portIRC
		if tlsConf != nil {
			kind = portTLS
		}
		slot, reason := s.budget.admit(remoteIP(conn), kind, false, func(string) { conn.Close() })
		if reason != "" {
			if tlsConf == nil {
				conn.SetWriteDeadline(time.Now().Add(time.Second))
				conn.Write([]byte("ERROR :Closing link: " + reason + "\r\n"))
			} // nothing can be said in the clear on a TLS port
			conn.Close()
			continue
		}
		if tlsConf != nil {
			go s.acceptTLS(conn, tlsConf, slot)
			continue
		}
		s.accept(newTCPTransport(conn), slot)
	}
}

func isTemporaryAccept(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS)
}

// accept starts the session of a connection the budget admitted (budget.go): the limits
// were applied when it was accepted, before any protocol work.
func (s *Server) accept(conn transport, slot *connSlot) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		slot.release()
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		conn.WriteLines([][]byte{[]byte("ERROR :Closing link: Server shutting down\r\n")})
		conn.Close()
		return
	}
	c := newSession(s, conn, slot.ip)
	c.slot = slot
	slot.setCloser(c.kill)
	s.sessions[c] = struct{}{}
	s.sessWG.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.sessWG.Done()
		c.run()
	}()
}

// evictGrace is how long an unregistered connection must have been silent before a new
// connection may push it out: a client that is still logging in is never silent that long.
const evictGrace = time.Second

// uncountLocked gives c's place in the connection budget back: it is ending. s.mu must be held.
func (s *Server) uncountLocked(c *Session) {
	c.slot.release()
}

// registeredLocked takes c out of the not-logged-in counts. s.mu must be held.
func (c *Session) registeredLocked() {
	c.slot.loggedIn()
}

func remoteIP(conn net.Conn) string {
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(conn.RemoteAddr().String())
	if err != nil {
		return conn.RemoteAddr().String()
	}
	return host
}

// Shutdown stops accepting, tells every client "ERROR :Server shutting down", waits for
// their queues to flush (until ctx ends) and releases the data directory.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.shutdown)
	for _, r := range s.rooms {
		s.saveMembersLocked(r) // who is a member of a room that has logged since they came
	}
	sessions := make([]*Session, 0, len(s.sessions))
	for c := range s.sessions {
		sessions = append(sessions, c)
	}
	s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
	}
	s.web.close()
	s.tls.close()
	s.turn.close()
	for _, c := range sessions {
		c.kill("Server shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.sessWG.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("shutdown: sessions still open: %w", ctx.Err())
	}
	s.profiles.close() // the read markers written behind reach the disk
	if s.history != nil {
		if cerr := s.history.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("shutdown: %w", cerr))
		}
	}
	s.lock.Release()
	return err
}

// casefold maps a nick or room name to its registry key under CASEMAPPING=ascii.
func casefold(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 'A' && c <= 'Z' {
			b := []byte(name)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return name
}

// buildISupport lists only what the server really does.
func (s *Server) buildISupport() []string {
	tokens := []string{
		"CASEMAPPING=ascii",
		"CHANTYPES=#",
		"CHANMODES=beI,k,l,imnstuC",
		"EXCEPTS=e",
		"INVEX=I",
		"EXTBAN=$,a",
		"ACCOUNTEXTBAN=a",
		"MAXLIST=beI:" + strconv.Itoa(maxListEntries),
		"KEYLEN=" + strconv.Itoa(maxKeyLen),
		"PREFIX=(ov)@+",
		"NICKLEN=" + strconv.Itoa(s.cfg.NickLen),
		"CHANNELLEN=" + strconv.Itoa(s.cfg.ChannelLen),
		"TOPICLEN=" + strconv.Itoa(maxTopicLen),
		"KICKLEN=" + strconv.Itoa(maxTopicLen),
		"NETWORK=" + s.cfg.Network,
		"TARGMAX=PRIVMSG:4,NOTICE:4,TAGMSG:4,JOIN:,PART:,KICK:,NAMES:4,WHOIS:1",
		"ELIST=CMNTU",
		"WHOX",
		"AWAYLEN=" + strconv.Itoa(maxAwayLen),
		"MONITOR=" + strconv.Itoa(s.cfg.MonitorLimit),
		"CHANLIMIT=#:" + strconv.Itoa(s.cfg.MaxRoomsPerConnection),
		"BOT=B",
		"UTF8ONLY",
		"STATUSMSG=@+",
	}
	if s.history != nil {
		tokens = append(tokens, "CHATHISTORY="+strconv.Itoa(s.cfg.ChathistoryMax), "MSGREFTYPES=msgid,timestamp")
	}
	return tokens
}

// offersCap reports whether the server offers a capability with its configuration.
func (s *Server) offersCap(bit capSet) bool {
	switch bit {
	case capChathistory, capEventPlayback, capRedaction:
		return s.history != nil
	case capSearch:
		return s.history != nil && s.cfg.Search
	}
	return true
}

// checkListenAddr catches a mistyped address as a usage error before the listen call, whose
// failure then means the address is busy or not this PC's.
func checkListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not 0 to 65535", port)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
		return fmt.Errorf("host %q is not an address or name", host)
	}
	return nil
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "run the chat server (IRC over TCP)",
		ArgsUsage: " ",
		Description: "Accounts, rooms and direct messages over IRC (RFC 1459/2812 + IRCv3).\n" +
			"Any IRC client works; Wireshark decodes the traffic on port 6667.\n" +
			"Example: labchat serve --listen 0.0.0.0:6667 --data-dir ./chatdata",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Usage: "listen on `ADDR` (host:port; overrides server.listen)", EnvVars: []string{"LABCHAT_LISTEN"}},
			&cli.StringFlag{Name: "tls-listen", Usage: "serve IRC over TLS on `ADDR` (overrides server.tls_listen; empty: off)", EnvVars: []string{"LABCHAT_TLS_LISTEN"}},
			&cli.StringFlag{Name: "web-listen", Usage: "serve the web client and IRC over WebSocket on `ADDR` (overrides server.web_listen; empty: off)", EnvVars: []string{"LABCHAT_WEB_LISTEN"}},
			&cli.StringFlag{Name: "turn-listen", Usage: "run a TURN relay for browser calls on UDP `ADDR`, e.g. :3478 (overrides server.turn_listen; empty: off)", EnvVars: []string{"LABCHAT_TURN_LISTEN"}},
			&cli.StringFlag{Name: "web-tls-listen", Usage: "serve the web client over HTTPS (and wss) on `ADDR` (overrides server.web_tls_listen; empty: off)", EnvVars: []string{"LABCHAT_WEB_TLS_LISTEN"}},
		},
		Action: runServe,
	}
}

func runServe(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageErrorf("serve takes no arguments (got %q); use --listen ADDR", c.Args().First())
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	if addr, ok := lookupFlag(c, "listen"); ok {
		cfg.Server.Listen = addr
	}
	if err := checkListenAddr(cfg.Server.Listen); err != nil {
		return usageErrorf("listen address %q: %v (want HOST:PORT, e.g. 0.0.0.0:6667)", cfg.Server.Listen, err)
	}
	if c.IsSet("web-listen") {
		cfg.Server.WebListen = c.String("web-listen")
	}
	if c.IsSet("tls-listen") {
		cfg.Server.TLSListen = c.String("tls-listen")
	}
	if c.IsSet("turn-listen") {
		cfg.Server.TURNListen = c.String("turn-listen")
	}
	if c.IsSet("web-tls-listen") {
		cfg.Server.WebTLSListen = c.String("web-tls-listen")
	}
	log := slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
	srv, err := NewServer(cfg.Server, cfg.serverDataDir(), log)
	if err != nil {
		return err
	}
	srv.trace = traceFor(c)
	if err := srv.Listen(); err != nil {
		srv.lock.Release()
		return err
	}
	// Catch signals before announcing the address: whoever reads it may signal at once.
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(c.App.Writer, "labchat serve: listening on %s (IRC), data in %s\n", srv.Addr(), srv.dataDir)
	if addr := srv.TLSAddr(); addr != nil {
		fmt.Fprintf(c.App.Writer, "labchat serve: IRC over TLS on %s, certificate SHA-256 fingerprint %s%s\n", addr, srv.tls.fingerprint, srv.tls.origin())
	}
	if addr := srv.WebAddr(); addr != nil {
		fmt.Fprintf(c.App.Writer, "labchat serve: web client on %s (IRC over WebSocket too): open %s\n", addr, strings.Join(webURLs(addr), " or "))
	}
	if addr := srv.TURNAddr(); addr != nil {
		fmt.Fprintf(c.App.Writer, "labchat serve: TURN relay for browser calls on %s (UDP), relay address %s\n", addr, srv.turn.relayIP)
	}
	if addr := srv.WebTLSAddr(); addr != nil {
		fmt.Fprintf(c.App.Writer, "labchat serve: web client over HTTPS on %s, certificate SHA-256 fingerprint %s: open %s\n", addr, srv.web.fingerprint, strings.Join(webTLSURLs(addr), " or "))
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case err := <-errc:
		srv.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(c.App.Writer, "labchat serve: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		return err
	}
	return nil
}
