package main

// budget.go: one connection budget for the whole server. Every TCP connection, on every
// listener (plain IRC, IRC over TLS, the web port's HTTP), takes a slot the moment it is
// accepted, before a byte of IRC, TLS or HTTP is read, and gives it back when it closes:
//
//   - max_clients / max_clients_per_ip bound every connection (HTTP ones included);
//   - max_unregistered / max_unregistered_per_ip bound those that have not logged in: IRC
//     sessions before their welcome, TLS handshakes, and HTTP connections (which never log in,
//     WebSocket upgrades until their session's welcome);
//   - when a limit is reached, the not-logged-in connection idle longest makes room (idle-
//     first eviction), the new connection's own address first, then the address holding the
//     most, so a flood from one address is pushed out by, and never refuses, another address;
//   - the last ircReserve slots of max_clients are for the plain IRC port alone, so a user can
//     always log in there while the web or TLS port is flooded;
//   - max_clients is sized from RLIMIT_NOFILE (raised to its hard limit at start), less the
//     descriptors the server keeps for its own files, so accept never fails with EMFILE.
//
// connBudget.mu is a leaf: it is taken under Server.mu (a session registering or ending) and
// nothing is taken under it. Evicted connections are closed after it is let go.

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// listenerKind is the port a connection came in on.
type listenerKind uint8

const (
	portIRC listenerKind = iota
	portTLS
	portWeb
)

func (k listenerKind) String() string {
	return [...]string{"irc", "tls", "web"}[k]
}

// budgetLogWindow is how often a flooded server logs a summary of what the budget did,
// instead of a line per connection refused or pushed out.
const budgetLogWindow = 10 * time.Second

// connBudget counts the server's connections against its limits; see the file comment.
type connBudget struct {
	maxClients    int // after sizing from the descriptor limit
	maxPerIP      int
	maxUnreg      int
	maxUnregPerIP int
	ircReserve    int // slots of maxClients only the plain IRC port may fill
	log           *slog.Logger

	mu      sync.Mutex
	grace   time.Duration // how long a connection must have been idle to be pushed out
	window  time.Duration // budgetLogWindow; tests shorten it
	total   int
	perIP   map[string]int
	unreg   map[*connSlot]struct{}
	unregIP map[string]int
	win     budgetWindow
}

// budgetWindow is what happened since the budget last logged.
type budgetWindow struct {
	open             bool
	refused, evicted int
	byIP             map[string]int // events by address, up to budgetWindowIPs of them
	lastReason       string
}

const budgetWindowIPs = 4096

// connSlot is one connection's place in the budget.
type connSlot struct {
	b          *connBudget
	ip         string
	kind       listenerKind
	lastActive atomic.Int64 // unix nanoseconds: accept, then each IRC line or HTTP request

	// Guarded by b.mu.
	counted bool                // holds a slot (false once released or evicted)
	pending bool                // not logged in: counted in unreg
	closer  func(reason string) // ends the connection; the reason is told where it can be
}

// budgetSizing is what RLIMIT_NOFILE allows, worked out once at start.
type budgetSizing struct {
	nofile, nofileWas uint64 // the soft limit now, and before it was raised (0: no such limit)
	raiseErr          error
	spare             int // descriptors kept for files, listeners and the like
	maxClients        int
	clamped           bool // max_clients was set above what the descriptors allow
	ircReserve        int
}

// sizeBudget raises the descriptor limit and sizes max_clients from it: configured (0 means
// "as many as the descriptors allow") but never more than the descriptors allow.
func sizeBudget(configured int) budgetSizing {
	var z budgetSizing
	z.nofile, z.nofileWas, z.raiseErr = raiseFileLimit()
	fromFDs := 0
	if z.nofile > 0 {
		n := int(min(z.nofile, 1<<24))
		// History keeps up to maxOpenLogs files open; accounts, offline queues, the lock and
		// the listeners take a few more.
		z.spare = min(max(n/32, maxOpenLogs+64), 1024)
		fromFDs = max(n-z.spare, 1)
	} else {
		fromFDs = defaultMaxClientsNoLimit
	}
	z.maxClients = configured
	if configured == 0 {
		z.maxClients = fromFDs
	} else if configured > fromFDs {
		z.maxClients, z.clamped = fromFDs, true
	}
	z.ircReserve = min(z.maxClients/32, 512)
	return z
}

// defaultMaxClientsNoLimit is max_clients = 0 where the system has no descriptor limit to
// size it from (Windows).
const defaultMaxClientsNoLimit = 16384

func newConnBudget(cfg ServerConfig, z budgetSizing, log *slog.Logger) *connBudget {
	return &connBudget{
		maxClients:    z.maxClients,
		maxPerIP:      cfg.MaxClientsPerIP,
		maxUnreg:      cfg.MaxUnregistered,
		maxUnregPerIP: cfg.MaxUnregisteredPerIP,
		ircReserve:    z.ircReserve,
		log:           log,
		grace:         evictGrace,
		window:        budgetLogWindow,
		perIP:         make(map[string]int),
		unreg:         make(map[*connSlot]struct{}),
		unregIP:       make(map[string]int),
	}
}

// logSizing is the start-up line issue 21's capacity work reads: what the descriptors allow.
func (z budgetSizing) logSizing(log *slog.Logger, cfg ServerConfig) {
	attrs := []any{"nofile", z.nofile, "max_clients", z.maxClients, "irc_reserve", z.ircReserve,
		"max_unregistered", cfg.MaxUnregistered, "max_clients_per_ip", cfg.MaxClientsPerIP,
		"max_unregistered_per_ip", cfg.MaxUnregisteredPerIP}
	if z.nofileWas != 0 && z.nofileWas != z.nofile {
		attrs = append(attrs, "nofile_raised_from", z.nofileWas)
	}
	if z.nofile == 0 {
		attrs[1] = "no limit"
	}
	log.Info("connection budget", attrs...)
	if z.raiseErr != nil {
		log.Warn("could not raise the open-file limit (RLIMIT_NOFILE) to its hard limit; max_clients is sized from the current one", "err", z.raiseErr)
	}
	if z.clamped {
		log.Warn("config server.max_clients is more than the open-file limit allows; using the most it allows",
			"configured", cfg.MaxClients, "using", z.maxClients, "nofile", z.nofile)
	}
}

// setGrace sets how long a connection must be idle before it may be pushed out (tests
// shorten it). Called before Serve.
func (b *connBudget) setGrace(d time.Duration) {
	b.mu.Lock()
	b.grace = d
	b.mu.Unlock()
}

// setLogWindow sets how often a flooded budget logs its summary (tests shorten it).
func (b *connBudget) setLogWindow(d time.Duration) {
	b.mu.Lock()
	b.window = d
	b.mu.Unlock()
}

// admit gives a new connection from ip on port kind a slot, pushing out idle not-logged-in
// connections where a limit is reached, or returns why it is refused. exempt skips the
// per-address limits (a trusted proxy: its clients are counted by their own address once
// known). close ends the connection if it is pushed out later (setCloser changes it).
func (b *connBudget) admit(ip string, kind listenerKind, exempt bool, close func(string)) (*connSlot, string) {
	now := time.Now()
	b.mu.Lock()
	reason, victims := b.makeRoomLocked(ip, kind, exempt, now)
	var sl *connSlot
	if reason == "" {
		sl = &connSlot{b: b, ip: ip, kind: kind, counted: true, pending: true, closer: close}
		sl.lastActive.Store(now.UnixNano())
		b.total++
		b.perIP[ip]++
		b.unreg[sl] = struct{}{}
		b.unregIP[ip]++
	}
	first := b.noteLocked(ip, reason, victims)
	b.mu.Unlock()
	b.closeVictims(victims, now, first)
	if reason != "" && first {
		b.log.Info("refused", "remote", ip, "port", kind.String(), "reason", reason)
	}
	return sl, reason
}

type eviction struct {
	slot   *connSlot
	close  func(string)
	idle   time.Duration
	reason string
}

func (b *connBudget) closeVictims(victims []eviction, now time.Time, first bool) {
	for _, v := range victims {
		if first {
			b.log.Info("evicted idle unregistered connection", "remote", v.slot.ip, "port", v.slot.kind.String(),
				"idle", v.idle.Round(time.Millisecond), "limit", v.reason)
		}
		v.close("Closing link: idle before logging in, closed to make room for a new connection (" + v.reason + ")")
	}
}

// makeRoomLocked checks the limits for a new connection from ip. Where one is reached it
// takes out the connection that evictionVictimLocked picks, until there is room; it returns
// "" then, or why the new connection is refused. b.mu must be held.
func (b *connBudget) makeRoomLocked(ip string, kind listenerKind, exempt bool, now time.Time) (string, []eviction) {
	var victims []eviction
	capacity := b.maxClients
	if kind != portIRC {
		capacity -= b.ircReserve
	}
	for {
		var reason string
		sameIP := true
		switch {
		case !exempt && b.perIP[ip] >= b.maxPerIP:
			reason = "Too many connections from your address (max_clients_per_ip)"
		case !exempt && b.unregIP[ip] >= b.maxUnregPerIP:
			reason = "Too many connections from your address still logging in (max_unregistered_per_ip)"
		case b.total >= capacity && kind == portIRC:
			reason, sameIP = "Server full (max_clients reached)", false
		case b.total >= capacity:
			reason, sameIP = fmt.Sprintf("Server full (max_clients reached; the last %d are kept for the IRC port)", b.ircReserve), false
		case len(b.unreg) >= b.maxUnreg:
			reason, sameIP = "Too many connections still logging in (max_unregistered)", false
		default:
			return "", victims
		}
		v := b.evictionVictimLocked(ip, sameIP, now)
		if v == nil {
			return reason, victims
		}
		victims = append(victims, eviction{slot: v, close: v.closer, idle: now.Sub(v.lastSeen()), reason: reason})
		v.releaseLocked()
	}
}

// evictionVictimLocked picks the not-logged-in connection to push out for a newcomer from ip:
// one idle at least b.grace, from ip itself first, then from the address holding the most
// such connections, the longest idle of those. With none idle that long and a limit of all
// addresses reached, the oldest of the address holding the most goes anyway when it holds
// more than ip does (plus one): a flood from one address, however fresh, never refuses
// another. With sameIP only ip's own connections are candidates. b.mu must be held.
func (b *connBudget) evictionVictimLocked(ip string, sameIP bool, now time.Time) *connSlot {
	var best *connSlot
	better := func(a, than *connSlot) bool {
		if (a.ip == ip) != (than.ip == ip) {
			return a.ip == ip
		}
		if na, nt := b.unregIP[a.ip], b.unregIP[than.ip]; na != nt {
			return na > nt
		}
		return a.lastSeen().Before(than.lastSeen())
	}
	for sl := range b.unreg {
		if sameIP && sl.ip != ip || now.Sub(sl.lastSeen()) < b.grace {
			continue
		}
		if best == nil || better(sl, best) {
			best = sl
		}
	}
	if best != nil || sameIP {
		return best
	}
	heaviest, most := "", 0
	for a, n := range b.unregIP {
		if n > most {
			heaviest, most = a, n
		}
	}
	if heaviest == "" || most <= b.unregIP[ip]+1 {
		return nil
	}
	for sl := range b.unreg {
		if sl.ip == heaviest && (best == nil || sl.lastSeen().Before(best.lastSeen())) {
			best = sl
		}
	}
	return best
}

// noteLocked counts a refusal or evictions for the log; it reports whether this is the first
// event of a window (logged as it happens; the rest of the window is summed up at its end).
func (b *connBudget) noteLocked(ip, reason string, victims []eviction) bool {
	if reason == "" && len(victims) == 0 {
		return false
	}
	w := &b.win
	first := !w.open
	if first {
		*w = budgetWindow{open: true, byIP: make(map[string]int)}
		time.AfterFunc(b.window, b.logWindow)
	}
	if reason != "" {
		w.refused++
		w.lastReason = reason
		w.count(ip)
	}
	for _, v := range victims {
		w.evicted++
		w.lastReason = v.reason
		w.count(v.slot.ip)
	}
	return first
}

func (w *budgetWindow) count(ip string) {
	if _, ok := w.byIP[ip]; ok || len(w.byIP) < budgetWindowIPs {
		w.byIP[ip]++
	}
}

// logWindow ends a window: one line for everything the budget did in it.
func (b *connBudget) logWindow() {
	b.mu.Lock()
	w := b.win
	b.win = budgetWindow{}
	unreg, total, window := len(b.unreg), b.total, b.window
	b.mu.Unlock()
	if w.refused+w.evicted <= 1 {
		return // the one event was logged as it happened
	}
	busiest, most := "", 0
	for ip, n := range w.byIP {
		if n > most {
			busiest, most = ip, n
		}
	}
	b.log.Warn("connection budget: connections refused or pushed out", "window", window,
		"refused", w.refused, "evicted", w.evicted, "addresses", len(w.byIP), "busiest", busiest,
		"busiest_events", most, "last_limit", w.lastReason, "connections", total, "not_logged_in", unreg)
}

// counts is the budget's state, for tests and STATS.
func (b *connBudget) counts() (total, unreg int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total, len(b.unreg)
}

func (sl *connSlot) lastSeen() time.Time { return time.Unix(0, sl.lastActive.Load()) }

// touch marks activity: an IRC line, an HTTP request beginning or ending.
func (sl *connSlot) touch() { sl.lastActive.Store(time.Now().UnixNano()) }

// setCloser changes how the connection is ended if it is pushed out (a session takes over
// from its raw socket).
func (sl *connSlot) setCloser(close func(string)) {
	sl.b.mu.Lock()
	sl.closer = close
	sl.b.mu.Unlock()
}

// loggedIn takes the connection out of the not-logged-in counts: it cannot be pushed out now.
func (sl *connSlot) loggedIn() {
	sl.b.mu.Lock()
	sl.loggedInLocked()
	sl.b.mu.Unlock()
}

func (sl *connSlot) loggedInLocked() {
	if !sl.pending {
		return
	}
	b := sl.b
	sl.pending = false
	delete(b.unreg, sl)
	if b.unregIP[sl.ip]--; b.unregIP[sl.ip] <= 0 {
		delete(b.unregIP, sl.ip)
	}
}

// release gives the slot back; idempotent.
func (sl *connSlot) release() {
	sl.b.mu.Lock()
	sl.releaseLocked()
	sl.b.mu.Unlock()
}

func (sl *connSlot) releaseLocked() {
	sl.loggedInLocked()
	if !sl.counted {
		return
	}
	b := sl.b
	sl.counted = false
	b.total--
	if b.perIP[sl.ip]--; b.perIP[sl.ip] <= 0 {
		delete(b.perIP, sl.ip)
	}
}

// rekey moves the slot to the address a trusted proxy names for its client, within that
// address's limits; it returns why not, or "". The slot keeps its place in the totals.
func (sl *connSlot) rekey(ip string) string {
	b := sl.b
	now := time.Now()
	b.mu.Lock()
	if sl.ip == ip || !sl.counted {
		b.mu.Unlock()
		return ""
	}
	var reason string
	var victims []eviction
	for {
		switch {
		case b.perIP[ip] >= b.maxPerIP:
			reason = "Too many connections from your address (max_clients_per_ip)"
		case sl.pending && b.unregIP[ip] >= b.maxUnregPerIP:
			reason = "Too many connections from your address still logging in (max_unregistered_per_ip)"
		default:
			reason = ""
		}
		if reason == "" {
			break
		}
		v := b.evictionVictimLocked(ip, true, now) // ip's own idle ones make room, as in admit
		if v == nil {
			break
		}
		victims = append(victims, eviction{slot: v, close: v.closer, idle: now.Sub(v.lastSeen()), reason: reason})
		v.releaseLocked()
	}
	if reason == "" {
		if b.perIP[sl.ip]--; b.perIP[sl.ip] <= 0 {
			delete(b.perIP, sl.ip)
		}
		b.perIP[ip]++
		if sl.pending {
			if b.unregIP[sl.ip]--; b.unregIP[sl.ip] <= 0 {
				delete(b.unregIP, sl.ip)
			}
			b.unregIP[ip]++
		}
		sl.ip = ip
	}
	first := b.noteLocked(ip, reason, victims)
	b.mu.Unlock()
	b.closeVictims(victims, now, first)
	return reason
}

// slotConn is a connection holding a slot; closing it gives the slot back.
type slotConn struct {
	net.Conn
	slot *connSlot
}

func (c *slotConn) Close() error {
	c.slot.release()
	return c.Conn.Close()
}

// budgetListener admits the web port's connections through the budget as Accept returns
// them, before net/http reads a byte. A refused connection gets a plain HTTP 503.
type budgetListener struct {
	net.Listener
	b      *connBudget
	kind   listenerKind
	exempt func(ip string) bool
}

func (l *budgetListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(conn)
		sl, reason := l.b.admit(ip, l.kind, l.exempt(ip), func(string) { conn.Close() })
		if reason != "" {
			refuseHTTP(conn, reason)
			continue
		}
		return &slotConn{Conn: conn, slot: sl}, nil
	}
}

// refuseHTTP answers a connection the budget has no room for, without reading its request.
func refuseHTTP(conn net.Conn, reason string) {
	body := "503 service unavailable: " + reason + "\n"
	conn.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(conn, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	conn.Close()
}
