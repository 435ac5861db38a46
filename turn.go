package main

// The TURN relay (RFC 8656) for browser calls between PCs that cannot reach each other
// directly: different subnets, NAT, a firewall. On one LAN, WebRTC's host candidates are
// enough and the relay is never used, so it is off unless server.turn_listen is set.
//
// STUN and TURN are pion/turn's (a well-kept pure-Go implementation; hand-written STUN
// would be a lab exercise, not a server). What labchat adds:
//
//   - Credentials by the TURN REST API scheme (draft-uberti-behave-turn-rest): the username
//     is "<expiry unix time>:<account>", the password base64(HMAC-SHA1(secret, username)).
//     The secret is made once into <data_dir>/server/turn-secret (0600, written atomically),
//     so credentials survive a restart and nobody needs to configure one. A logged-in
//     connection gets its own credential in RPL_ISUPPORT (token labchat/TURN, turnToken),
//     as draft/FILEHOST hands out per-user URIs after SASL; VERSION sends a fresh one.
//   - A bandwidth cap per account (server.turn_user_kbps, both directions of all its
//     allocations together): packets over it are dropped, as a policer does, so one user
//     cannot fill the server's uplink.
//   - A log line per allocation when it ends (an allocation is one side of one call): who,
//     how long, bytes relayed each way, and what the cap dropped; and a total for STATS.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v4"
)

// turnSecretFile holds the TURN credential secret, hex, in the server's data directory.
const turnSecretFile = "turn-secret"

// turnRefreshBefore: a client asks for a fresh credential (VERSION) when its own expires
// sooner than this, so a call it starts now outlives it; documented in docs/browser.md.
const turnRefreshBefore = 2 * time.Hour

// turnRelay is the running TURN server. mu guards users and allocs; it is a leaf lock
// (nothing is called under it but map and bucket arithmetic).
type turnRelay struct {
	server  *turn.Server
	conn    net.PacketConn // the TURN port (UDP)
	secret  []byte
	realm   string
	relayIP net.IP
	ttl     time.Duration
	rate    float64 // bytes per second per account, both directions; 0: no cap
	log     *slog.Logger

	relayed atomic.Uint64 // bytes relayed, both directions, since start (STATS, tests)
	dropped atomic.Uint64 // bytes the per-account cap dropped

	mu     sync.Mutex
	users  map[string]*turnBucket // casefolded account → its shared budget
	allocs map[int]*turnAlloc     // relay port → the allocation using it
}

// turnBucket is a token bucket in bytes: rate a second, at most one second's worth saved.
type turnBucket struct {
	tokens float64
	at     time.Time
	refs   int // allocations sharing it; the bucket goes when the last one does
}

// turnAlloc is one allocation's accounting.
type turnAlloc struct {
	account string
	client  string // the client's address as the TURN port saw it
	started time.Time
	bucket  *turnBucket
	toPeer  atomic.Uint64
	toUser  atomic.Uint64
	dropped atomic.Uint64
}

func validateTURNConfig(cfg *ServerConfig) error {
	if cfg.TURNListen != "" {
		if err := checkListenAddr(cfg.TURNListen); err != nil {
			return usageErrorf("config server.turn_listen %q: %v (want HOST:PORT for UDP, e.g. :3478, or empty for off)", cfg.TURNListen, err)
		}
	}
	if cfg.TURNRelayIP != "" {
		if ip := net.ParseIP(cfg.TURNRelayIP); ip == nil || ip.IsUnspecified() {
			return usageErrorf("config server.turn_relay_ip %q: want this PC's IP address as the other PCs reach it (e.g. 10.0.0.5), or empty to pick one", cfg.TURNRelayIP)
		}
	}
	if cfg.TURNCredentialTTL.Duration < 10*time.Minute || cfg.TURNCredentialTTL.Duration > 7*24*time.Hour {
		return usageErrorf("config server.turn_credential_ttl = %v: must be 10m to 168h", cfg.TURNCredentialTTL.Duration)
	}
	if cfg.TURNUserKbps < 0 {
		return usageErrorf("config server.turn_user_kbps = %d: must be 0 (no cap) or more", cfg.TURNUserKbps)
	}
	return nil
}

// listenTURN opens the TURN port when turn_listen is set.
func (s *Server) listenTURN() error {
	if s.cfg.TURNListen == "" {
		return nil
	}
	secret, err := loadOrCreateTURNSecret(filepath.Join(s.dataDir, turnSecretFile))
	if err != nil {
		return err
	}
	conn, err := net.ListenPacket("udp", s.cfg.TURNListen)
	if err != nil {
		return fmt.Errorf("listen %s (TURN, UDP): %w", s.cfg.TURNListen, err)
	}
	t := &turnRelay{
		conn:   conn,
		secret: secret,
		realm:  s.cfg.Name,
		ttl:    s.cfg.TURNCredentialTTL.Duration,
		rate:   float64(s.cfg.TURNUserKbps) * 1000 / 8,
		log:    s.log,
		users:  map[string]*turnBucket{},
		allocs: map[int]*turnAlloc{},
	}
	t.relayIP = turnRelayIP(s.cfg.TURNRelayIP, conn.LocalAddr())
	bind := "0.0.0.0"
	if t.relayIP.To4() == nil {
		bind = "::"
	}
	if host, _, _ := net.SplitHostPort(s.cfg.TURNListen); host != "" && !net.ParseIP(host).IsUnspecified() {
		bind = host // relays on the address the TURN port is on, as the relay IP is
	}
	server, err := turn.NewServer(turn.ServerConfig{
		Realm:         t.realm,
		AuthHandler:   t.authenticate,
		LoggerFactory: pionLogs{s.log},
		EventHandler: turn.EventHandler{
			OnAllocationCreated: t.allocationCreated,
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            conn,
			RelayAddressGenerator: &turnRelayPorts{t: t, bind: bind},
		}},
	})
	if err != nil {
		conn.Close()
		return fmt.Errorf("start the TURN server on %s: %w", s.cfg.TURNListen, err)
	}
	t.server = server
	if s.trace != nil {
		s.trace.listen("udp", conn.LocalAddr())
	}
	s.turn = t
	return nil
}

// TURNAddr is the TURN port's address, or nil when it is off. Valid after Listen.
func (s *Server) TURNAddr() net.Addr {
	if s.turn == nil {
		return nil
	}
	return s.turn.conn.LocalAddr()
}

func (t *turnRelay) close() {
	if t != nil {
		t.server.Close() // closes the port and every relay socket
	}
}

// turnRelayIP is the address put in XOR-RELAYED-ADDRESS: the configured one, the TURN
// port's own if it is bound to one, else this PC's first non-loopback IPv4 address (found
// without DNS), else loopback (one PC: tests, a demo).
func turnRelayIP(configured string, listen net.Addr) net.IP {
	if configured != "" {
		return net.ParseIP(configured)
	}
	if ua, ok := listen.(*net.UDPAddr); ok && !ua.IP.IsUnspecified() {
		return ua.IP
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
				return ipn.IP.To4()
			}
		}
	}
	return net.IPv4(127, 0, 0, 1)
}

// loadOrCreateTURNSecret reads the secret, or makes one. A file that is there but unusable
// is an error, not replaced: replacing it would silently invalidate every credential given.
func loadOrCreateTURNSecret(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		secret, derr := hex.DecodeString(strings.TrimSpace(string(data)))
		if derr != nil || len(secret) < 16 {
			return nil, fmt.Errorf("read the TURN secret %s: not 32+ hex digits; remove the file to make a new one (credentials already given stop working)", path)
		}
		return secret, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read the TURN secret: %w", err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	if err := writeFileAtomic(path, []byte(hex.EncodeToString(secret)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("save the TURN secret %s: %w", path, err)
	}
	return secret, nil
}

// credential makes account's TURN REST API credential, valid until now+ttl.
func (t *turnRelay) credential(account string, now time.Time) (username, password string, expires time.Time) {
	expires = now.Add(t.ttl).Truncate(time.Second)
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + account
	return username, turnPassword(t.secret, username), expires
}

func turnPassword(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// authenticate is pion's AuthHandler: the long-term key for a REST API username whose
// expiry has not passed. Wrong passwords fail in pion's MESSAGE-INTEGRITY check (401).
func (t *turnRelay) authenticate(username, realm string, _ net.Addr) ([]byte, bool) {
	expiry, account, ok := strings.Cut(username, ":")
	if !ok || account == "" {
		return nil, false
	}
	at, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil || time.Now().Unix() > at {
		return nil, false
	}
	return turn.GenerateAuthKey(username, realm, turnPassword(t.secret, username)), true
}

// allocationCreated ties the relay port to the account, so its packets are counted and
// capped as that account's.
func (t *turnRelay) allocationCreated(src, _ net.Addr, _, username, _ string, relay net.Addr, _ int) {
	ua, ok := relay.(*net.UDPAddr)
	if !ok {
		return
	}
	_, account, _ := strings.Cut(username, ":")
	key := casefold(account)
	t.mu.Lock()
	b := t.users[key]
	if b == nil {
		b = &turnBucket{tokens: t.rate, at: time.Now()}
		t.users[key] = b
	}
	b.refs++
	t.allocs[ua.Port] = &turnAlloc{account: account, client: src.String(), started: time.Now(), bucket: b}
	t.mu.Unlock()
	t.log.Info("TURN allocation", "account", account, "client", src.String(), "relay", relay.String())
}

// allocFor finds the allocation on a relay port (nil until allocationCreated has run).
func (t *turnRelay) allocFor(port int) *turnAlloc {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.allocs[port]
}

// allow takes n bytes from a's account budget; false means drop the packet.
func (t *turnRelay) allow(a *turnAlloc, n int) bool {
	if t.rate <= 0 || a == nil {
		return true
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	b := a.bucket
	b.tokens = min(b.tokens+now.Sub(b.at).Seconds()*t.rate, t.rate)
	b.at = now
	if b.tokens < float64(n) {
		return false
	}
	b.tokens -= float64(n)
	return true
}

// ended logs what one allocation relayed and forgets it.
func (t *turnRelay) ended(port int) {
	t.mu.Lock()
	a := t.allocs[port]
	delete(t.allocs, port)
	if a != nil {
		if a.bucket.refs--; a.bucket.refs <= 0 {
			delete(t.users, casefold(a.account))
		}
	}
	t.mu.Unlock()
	if a == nil {
		return
	}
	t.log.Info("TURN allocation ended", "account", a.account, "client", a.client,
		"duration", time.Since(a.started).Round(time.Second).String(),
		"bytes_to_peer", a.toPeer.Load(), "bytes_to_user", a.toUser.Load(),
		"bytes_relayed", a.toPeer.Load()+a.toUser.Load(), "bytes_dropped_over_cap", a.dropped.Load())
}

// turnRelayPorts is the RelayAddressGenerator: a UDP socket per allocation, wrapped so its
// traffic is counted and capped.
type turnRelayPorts struct {
	t    *turnRelay
	bind string
}

func (g *turnRelayPorts) Validate() error { return nil }

func (g *turnRelayPorts) AllocatePacketConn(network string, requestedPort int) (net.PacketConn, net.Addr, error) {
	conn, err := net.ListenPacket(network, net.JoinHostPort(g.bind, strconv.Itoa(requestedPort)))
	if err != nil {
		return nil, nil, fmt.Errorf("open a relay port: %w", err)
	}
	local, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok {
		conn.Close()
		return nil, nil, fmt.Errorf("open a relay port: not UDP")
	}
	return &relayConn{PacketConn: conn, t: g.t, port: local.Port}, &net.UDPAddr{IP: g.t.relayIP, Port: local.Port}, nil
}

func (g *turnRelayPorts) AllocateConn(string, int) (net.Conn, net.Addr, error) {
	return nil, nil, errors.New("TURN over TCP relays are not offered")
}

// relayConn is one allocation's relay socket: ReadFrom is the peer's traffic for the
// user, WriteTo the user's for the peer. Used by pion's goroutines for that allocation.
type relayConn struct {
	net.PacketConn
	t     *turnRelay
	port  int
	alloc atomic.Pointer[turnAlloc]
	once  sync.Once
}

func (c *relayConn) accounting() *turnAlloc {
	if a := c.alloc.Load(); a != nil {
		return a
	}
	a := c.t.allocFor(c.port)
	if a != nil {
		c.alloc.Store(a)
	}
	return a
}

func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.PacketConn.ReadFrom(p)
		if err != nil || n == 0 {
			return n, from, err
		}
		a := c.accounting()
		if !c.t.allow(a, n) {
			a.dropped.Add(uint64(n))
			c.t.dropped.Add(uint64(n))
			continue
		}
		if a != nil {
			a.toUser.Add(uint64(n))
		}
		c.t.relayed.Add(uint64(n))
		return n, from, err
	}
}

func (c *relayConn) WriteTo(p []byte, to net.Addr) (int, error) {
	a := c.accounting()
	if !c.t.allow(a, len(p)) {
		a.dropped.Add(uint64(len(p)))
		c.t.dropped.Add(uint64(len(p)))
		return len(p), nil // dropped, as a full link drops: the sender's congestion control reacts
	}
	n, err := c.PacketConn.WriteTo(p, to)
	if a != nil && n > 0 {
		a.toPeer.Add(uint64(n))
	}
	c.t.relayed.Add(uint64(max(n, 0)))
	return n, err
}

func (c *relayConn) Close() error {
	err := c.PacketConn.Close()
	c.once.Do(func() { c.t.ended(c.port) })
	return err
}

// turnToken is the RPL_ISUPPORT token with c's credential, or "" when c gets none (the
// relay is off, or c is not logged in: credentials are per account). Its value is
// "HOST:PORT,USERNAME,PASSWORD", escaped as ISUPPORT values are (\x3D for '='). HOST is
// the address this connection reached the server at, so a browser behind a proxy (labchat
// open) is still told the server's own address.
func (c *Session) turnToken() string {
	t := c.s.turn
	if t == nil || c.account == "" {
		return ""
	}
	_, port, _ := net.SplitHostPort(t.conn.LocalAddr().String())
	host := t.relayIP.String()
	if la, ok := c.conn.(interface{ LocalAddr() net.Addr }); ok {
		if ap := unmapped(addrPortOf(la.LocalAddr())); ap.IsValid() && !ap.Addr().IsUnspecified() {
			host = ap.Addr().String()
		}
	}
	if bound, ok := t.conn.LocalAddr().(*net.UDPAddr); ok && !bound.IP.IsUnspecified() {
		host = bound.IP.String() // a TURN port bound to one address is reached there only
	}
	user, pass, _ := t.credential(c.account, time.Now())
	return "labchat/TURN=" + isupportEscape(net.JoinHostPort(host, port)+","+user+","+pass)
}

// isupportEscape escapes an RPL_ISUPPORT value: \xHH for space, backslash and '='.
func isupportEscape(v string) string {
	return strings.NewReplacer(`\`, `\x5C`, " ", `\x20`, "=", `\x3D`).Replace(v)
}

// LocalAddr lets turnToken see which address a WebSocket client reached.
func (t *wsTransport) LocalAddr() net.Addr { return t.conn.LocalAddr() }

// pionLogs sends pion's log lines to the server log at debug level: what a stray datagram
// on the TURN port (a student's nc) makes pion say is no operator's concern.
type pionLogs struct{ log *slog.Logger }

func (p pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{p.log.With("component", "pion/"+scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) Trace(string)                   {}
func (l pionLogger) Tracef(string, ...any)          {}
func (l pionLogger) Debug(msg string)               { l.log.Debug(msg) }
func (l pionLogger) Debugf(format string, a ...any) { l.log.Debug(fmt.Sprintf(format, a...)) }
func (l pionLogger) Info(msg string)                { l.log.Debug(msg) }
func (l pionLogger) Infof(format string, a ...any)  { l.log.Debug(fmt.Sprintf(format, a...)) }
func (l pionLogger) Warn(msg string)                { l.log.Debug(msg) }
func (l pionLogger) Warnf(format string, a ...any)  { l.log.Debug(fmt.Sprintf(format, a...)) }
func (l pionLogger) Error(msg string)               { l.log.Debug(msg) }
func (l pionLogger) Errorf(format string, a ...any) { l.log.Debug(fmt.Sprintf(format, a...)) }
