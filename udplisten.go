package main

// udplisten.go: `labchat udp-listen`, which prints, echoes and answers datagrams and keeps
// per-sender figures for probe datagrams.

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
)

func udpListenCommand() *cli.Command {
	return &cli.Command{
		Name:  "udp-listen",
		Usage: "receive UDP datagrams and print them; reply with typed or piped lines; measure probes",
		Description: "Prints each datagram as it arrives. Lines typed (or piped) on stdin go to the last\n" +
			"sender heard from. Probe datagrams from `labchat udp-send --probe` are counted instead of\n" +
			"printed: per sender, every --interval and when the sender finishes.",
		ArgsUsage: " ",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "listen", Usage: "listen on `ADDR` (HOST:PORT, :PORT or PORT; default [udp] listen)", EnvVars: []string{"LABCHAT_UDP_LISTEN"}},
			&cli.BoolFlag{Name: "echo", Usage: "send every datagram back to its sender"},
			&cli.Uint64Flag{Name: "count", Usage: "exit after `N` datagrams (0: never)"},
			&cli.DurationFlag{Name: "timeout", Usage: "exit after `D` without a datagram (0: never)"},
			&cli.DurationFlag{Name: "interval", Value: time.Second, Usage: "print probe figures every `D` (0: only at the end)"},
			&cli.IntFlag{Name: "receive-buffer", Usage: "ask for a socket receive buffer of `BYTES` (default [udp] receive_buffer)"},
			&cli.IntFlag{Name: "max-senders", Value: probeMaxSenders, Usage: "keep figures for at most `N` probe senders at once; the least recently heard makes room"},
		}, udpOutputFlags()...),
		Action: runUDPListen,
	}
}

// udpListenOptions are udp-listen's settings after flags and configuration are merged.
type udpListenOptions struct {
	addr     string
	echo     bool
	count    uint64
	timeout  time.Duration
	interval time.Duration
	rcvbuf   int
	senders  int // probe senders tracked at once
}

func udpListenOptionsFrom(c *cli.Context) (udpListenOptions, error) {
	args, err := udpTrailingFlags(c)
	if err != nil {
		return udpListenOptions{}, err
	}
	if len(args) > 0 {
		return udpListenOptions{}, usageErrorf("udp-listen takes no arguments (got %q); use --listen ADDR", args[0])
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return udpListenOptions{}, err
	}
	o := udpListenOptions{addr: cfg.UDP.Listen, echo: c.Bool("echo"), count: c.Uint64("count"),
		timeout: c.Duration("timeout"), interval: c.Duration("interval"), rcvbuf: cfg.UDP.ReceiveBuffer,
		senders: c.Int("max-senders")}
	if c.IsSet("listen") {
		o.addr = c.String("listen")
	}
	if c.IsSet("receive-buffer") {
		o.rcvbuf = c.Int("receive-buffer")
	}
	if o.timeout < 0 || o.interval < 0 || o.rcvbuf < 0 {
		return o, usageErrorf("--timeout, --interval and --receive-buffer must not be negative")
	}
	if o.senders < 1 || o.senders > 1<<20 {
		return o, usageErrorf("--max-senders must be 1 to %d", 1<<20)
	}
	o.addr, err = udpListenAddr(o.addr)
	return o, err
}

func runUDPListen(c *cli.Context) error {
	opts, err := udpListenOptionsFrom(c)
	if err != nil {
		return err
	}
	ctx, cancel := udpSignalContext(c)
	defer cancel()
	out := newUDPPrinter(c)
	l, err := listenUDP(opts, out)
	if err != nil {
		return err
	}
	if l.trace = traceFor(c); l.trace != nil {
		l.trace.listen("udp", l.sock.LocalAddr())
	}
	out.notice("listening on UDP %s (receive buffer %d bytes)", l.sock.LocalAddr(), l.rcvbufGot)
	go l.replyFromStdin(ctx, c, cancel)
	return l.serve(ctx)
}

// udpListener is one udp-listen socket. The receive loop (serve) owns every field below
// except peer and peerKnown, which the stdin goroutine reads.
type udpListener struct {
	sock      *udpSocket
	opts      udpListenOptions
	out       *udpPrinter
	rcvbufGot int

	peerMu    sync.Mutex     // guards peer
	peer      netip.AddrPort // last sender heard from: where typed lines go
	peerKnown chan struct{}  // closed when the first datagram arrives
	lastPeer  netip.AddrPort // receive loop's copy, so peerMu is taken only when it changes

	received   uint64
	lastActive time.Time
	probes     map[probeKey]*probeStats
	serial     uint64      // numbers the senders in first-heard order, the order of reports
	newest     *probeStats // the senders by last heard, newest first, linked by newer/older:
	oldest     *probeStats // the oldest is the first forgotten when idle or the table is full
	cached     *probeStats // the sender of the previous probe: most datagrams come in runs
	table      probeTableReport
	shownTable probeTableReport // as of the last probe-table line printed
	nextReport time.Time        // zero while no probe sender is active
	armed      time.Time        // when the loop must next wake, as last set on the socket
	trace      *tracer          // nil unless --trace
}

// The probe sender table is bounded: on a lab network a listener hears every PC, and a forged
// header can name a new sender in every datagram (60,000 of them once took 343 MB). Each
// sender costs about 8.5 KB, most of it the duplicate window.
const (
	probeMaxSenders = 1024             // default --max-senders
	probeSenderIdle = 30 * time.Second // a sender silent this long is forgotten (its final figures printed first)
	probeMaxSeq     = 1 << 48          // larger sequence numbers are forged: 8.9 years at 10^6 datagrams/s
)

// probeTableReport counts what the bounded sender table did; a line of it is printed with
// the reports whenever it changed, so figures that were dropped are never dropped silently.
type probeTableReport struct {
	Type       string `json:"type"` // "probe-table"
	Tracked    int    `json:"tracked"`
	Max        int    `json:"max"`
	Evicted    uint64 `json:"evicted"`           // senders dropped to make room for new ones
	EvictedRx  uint64 `json:"evicted_datagrams"` // data datagrams of theirs in no report (no final printed)
	Expired    uint64 `json:"expired"`           // senders forgotten after probeSenderIdle of silence
	BadHeaders uint64 `json:"bad_headers"`       // probes with a sequence number no sender reaches
}

func (r probeTableReport) String() string {
	return fmt.Sprintf("[probe senders] %d tracked (at most %d)  evicted %d (%d datagrams not in any report)  expired after %v idle %d  forged sequence numbers ignored %d",
		r.Tracked, r.Max, r.Evicted, r.EvictedRx, probeSenderIdle, r.Expired, r.BadHeaders)
}

// listenUDP opens the listening socket with a large receive buffer, so bursts wait in the
// kernel instead of being dropped while the loop is busy.
func listenUDP(opts udpListenOptions, out *udpPrinter) (*udpListener, error) {
	addr, err := net.ResolveUDPAddr("udp", opts.addr)
	if err != nil {
		return nil, usageErrorf("listen address %s: %w", opts.addr, err)
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen udp %s: %w", opts.addr, err)
	}
	got, err := setUDPReceiveBuffer(conn, opts.rcvbuf)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("listen udp %s: receive buffer: %w", opts.addr, err)
	}
	if got < opts.rcvbuf {
		out.notice("receive buffer is %d bytes, not the %d asked for: raise net.core.rmem_max or run as root", got, opts.rcvbuf)
	}
	sock, err := newUDPSocket(conn)
	if err != nil {
		return nil, fmt.Errorf("listen udp %s: %w", opts.addr, err)
	}
	if opts.senders <= 0 {
		opts.senders = probeMaxSenders
	}
	return &udpListener{sock: sock, opts: opts, out: out, rcvbufGot: got,
		peerKnown: make(chan struct{}), probes: make(map[probeKey]*probeStats),
		table: probeTableReport{Type: "probe-table", Max: opts.senders}}, nil
}

// read is the only place udp-listen reads its socket. IPv4 senders to a dual-stack socket
// are shown as IPv4, not as ::ffff:a.b.c.d.
func (l *udpListener) read(buf []byte) (int, netip.AddrPort, error) {
	n, from, err := l.sock.ReadFrom(buf)
	if l.trace != nil {
		l.trace.udpRead(l.sock.LocalAddr(), buf[:n], from, err)
	}
	return n, from, err
}

// writeTo is the only place udp-listen writes its socket.
func (l *udpListener) writeTo(b []byte, to netip.AddrPort) error {
	if l.trace != nil {
		l.trace.udpEvent("sendto", l.sock.LocalAddr(), "->", to, b)
	}
	err := l.sock.WriteTo(b, to)
	if err != nil && l.trace != nil {
		l.trace.udpError("sendto", l.sock.LocalAddr(), to, err)
	}
	return err
}

// serve receives until ctx is cancelled, --count datagrams arrived or --timeout passed in
// silence, then prints the final probe figures. It closes the socket.
func (l *udpListener) serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { l.sock.Close() })
	defer stop()
	defer l.sock.Close()
	defer l.finalReports()
	buf := make([]byte, 1<<16)
	l.lastActive = time.Now()
	l.rearm(l.lastActive)
	for l.opts.count == 0 || l.received < l.opts.count {
		n, from, err := l.read(buf)
		now := time.Now()
		if err != nil {
			if done, err := l.readError(err, now); done {
				return err
			}
			continue
		}
		l.handle(buf[:n], from, now)
		l.keepTime(now)
	}
	return nil
}

// keepTime runs after each datagram. The socket's deadline only bounds a wait, and a steady
// stream never waits, so a report that is due prints here; a wake-up moved earlier is set.
func (l *udpListener) keepTime(now time.Time) {
	switch w := l.wake(); {
	case !l.armed.IsZero() && !now.Before(l.armed):
		l.tick(now) // cannot end the loop: a datagram just came, so --timeout has not passed
	case !w.IsZero() && (l.armed.IsZero() || w.Before(l.armed)):
		l.rearm(now)
	}
}

// readError handles a failed read: the deadline (reports, --timeout), a stop, an ICMP error
// some systems pass to unconnected sockets, or a real failure.
func (l *udpListener) readError(err error, now time.Time) (done bool, _ error) {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return l.tick(now)
	case errors.Is(err, net.ErrClosed):
		return true, nil
	case isUDPRefused(err):
		l.out.notice("a datagram sent to %s was refused (ICMP port unreachable)", l.lastPeer)
		return false, nil
	}
	return true, fmt.Errorf("receive on %s: %w", l.sock.LocalAddr(), err)
}

// tick runs when the loop's wake-up time has passed, found by a read that waited until then
// or after a datagram: it prints due interval reports and ends the loop after --timeout of
// silence.
func (l *udpListener) tick(now time.Time) (done bool, _ error) {
	if !l.nextReport.IsZero() && !now.Before(l.nextReport) {
		l.intervalReports(now)
	}
	if l.opts.timeout > 0 && now.Sub(l.lastActive) >= l.opts.timeout {
		if l.opts.count > 0 {
			return true, withExit(exitNoAnswer, fmt.Errorf("no datagram for %v: %d of %d received", l.opts.timeout, l.received, l.opts.count))
		}
		return true, nil
	}
	l.rearm(now)
	return false, nil
}

// wake is when the loop must next wake without a datagram; zero means never.
func (l *udpListener) wake() time.Time {
	w := l.nextReport
	if l.opts.timeout > 0 {
		if t := l.lastActive.Add(l.opts.timeout); w.IsZero() || t.Before(w) {
			w = t
		}
	}
	return w
}

func (l *udpListener) rearm(now time.Time) {
	l.armed = l.wake()
	l.sock.setReadDeadline(l.armed)
}

// handle dispatches one datagram. It runs for every datagram: no allocation on the probe path.
func (l *udpListener) handle(b []byte, from netip.AddrPort, now time.Time) {
	l.lastActive = now
	if from != l.lastPeer {
		l.setPeer(from)
	}
	if h, ok := parseProbe(b); ok && h.flags&probeFlagEcho == 0 {
		l.handleProbe(b, h, from, now)
		return
	}
	l.received++
	l.out.datagram(b, from, now)
	if l.opts.echo {
		l.reply(b, from)
	}
}

func (l *udpListener) setPeer(from netip.AddrPort) {
	first := !l.lastPeer.IsValid()
	l.lastPeer = from
	l.peerMu.Lock()
	l.peer = from
	l.peerMu.Unlock()
	if first {
		close(l.peerKnown)
	}
}

// reply sends b back; a failed reply is reported, never fatal: the next sender may be fine.
func (l *udpListener) reply(b []byte, to netip.AddrPort) {
	if err := l.writeTo(b, to); err != nil {
		l.out.notice("reply to %s: %v", to, err)
	}
}

// handleProbe counts a data probe (echoing it with --echo) or answers a count request.
func (l *udpListener) handleProbe(b []byte, h probeHeader, from netip.AddrPort, now time.Time) {
	if h.seq >= probeMaxSeq {
		l.received++
		l.table.BadHeaders++
		return
	}
	s := l.probeStats(probeKey{from, h.sender}, now)
	if h.flags&probeFlagCount != 0 {
		s.expected = max(s.expected, h.seq)
		l.answerCount(b[:probeHeaderLen], h, s)
		return
	}
	l.received++
	s.observe(h.seq, h.sent, now, len(b))
	s.finalPrinted = false
	if l.opts.echo {
		b[probeOffFlags] |= probeFlagEcho
		binary.BigEndian.PutUint64(b[probeOffRxUnique:], s.unique)
		l.reply(b, from)
	}
}

// answerCount tells the sender how many distinct probes arrived, so it can split loss by
// direction; the sender's count request also means it is done, so its final figures print.
func (l *udpListener) answerCount(b []byte, h probeHeader, s *probeStats) {
	h.flags |= probeFlagEcho
	if l.opts.echo {
		h.flags |= probeFlagEchoing
	}
	h.rxUnique = s.unique
	h.put(b)
	l.reply(b, s.key.from)
	if !s.finalPrinted && s.received > 0 {
		l.out.report(s.final())
		s.finalPrinted = true
	}
}

func (l *udpListener) probeStats(k probeKey, now time.Time) *probeStats {
	if s := l.cached; s != nil && s.key == k {
		s.heard = now // already the newest
		return s
	}
	s, ok := l.probes[k]
	if !ok {
		l.expire(now)
		if len(l.probes) >= l.opts.senders {
			s = l.oldest
			l.table.Evicted++
			if !s.finalPrinted {
				l.table.EvictedRx += s.received
			}
			l.forget(s)
			*s = probeStats{key: k} // reused: a flood of new ids allocates nothing
		} else {
			s = &probeStats{key: k}
		}
		l.serial++
		s.serial = l.serial
		l.probes[k] = s
		if l.nextReport.IsZero() && l.opts.interval > 0 {
			l.nextReport = now.Add(l.opts.interval)
		}
	} else {
		l.unlink(s)
	}
	s.heard = now
	s.older, l.newest = l.newest, s
	if s.older != nil {
		s.older.newer = s
	} else {
		l.oldest = s
	}
	l.cached = s
	l.table.Tracked = len(l.probes)
	return s
}

// expire forgets the senders silent for probeSenderIdle, printing the final figures of any
// that did not ask for them: a sender stopped by Ctrl-C gets its line, later than at exit.
func (l *udpListener) expire(now time.Time) {
	for s := l.oldest; s != nil && now.Sub(s.heard) >= probeSenderIdle; s = l.oldest {
		if !s.finalPrinted && s.received > 0 {
			l.out.report(s.final())
			s.finalPrinted = true
		}
		l.table.Expired++
		l.forget(s)
	}
	l.table.Tracked = len(l.probes)
}

// forget drops s from the table.
func (l *udpListener) forget(s *probeStats) {
	l.unlink(s)
	delete(l.probes, s.key)
	if l.cached == s {
		l.cached = nil
	}
}

// senders lists the table in first-heard order.
func (l *udpListener) senders() []*probeStats {
	all := slices.Collect(maps.Values(l.probes))
	slices.SortFunc(all, func(a, b *probeStats) int { return cmp.Compare(a.serial, b.serial) })
	return all
}

// unlink takes s out of the newest-to-oldest list.
func (l *udpListener) unlink(s *probeStats) {
	if s.newer != nil {
		s.newer.older = s.older
	} else {
		l.newest = s.older
	}
	if s.older != nil {
		s.older.newer = s.newer
	} else {
		l.oldest = s.newer
	}
	s.newer, s.older = nil, nil
}

// tableReport prints the probe-table line if anything was dropped or ignored since it was
// last printed (or, at the end, at all).
func (l *udpListener) tableReport(final bool) {
	t := l.table
	t.Tracked = len(l.probes)
	changed := t.Evicted != l.shownTable.Evicted || t.Expired != l.shownTable.Expired || t.BadHeaders != l.shownTable.BadHeaders
	if changed || final && (t.Evicted > 0 || t.BadHeaders > 0) {
		l.out.report(t)
		l.shownTable = t
	}
}

// intervalReports prints the figures of every sender still active and schedules the next
// report, or none when every sender has finished.
func (l *udpListener) intervalReports(now time.Time) {
	l.expire(now)
	active := false
	for _, s := range l.senders() {
		if s.finalPrinted || s.received == 0 {
			continue
		}
		active = true
		if r := s.interval(now); r.Received > 0 || r.Lost != 0 {
			l.out.report(r)
		}
	}
	l.tableReport(false)
	l.nextReport = time.Time{}
	if active {
		l.nextReport = now.Add(l.opts.interval)
	}
}

// finalReports prints the whole-run figures of senders that did not ask for them.
func (l *udpListener) finalReports() {
	for _, s := range l.senders() {
		if !s.finalPrinted && s.received > 0 {
			l.out.report(s.final())
			s.finalPrinted = true
		}
	}
	l.tableReport(true)
}

// replyFromStdin sends each stdin line to the last sender heard from. A line typed before
// anyone has sent waits for the first sender. Interactive: Ctrl-D or Ctrl-C ends udp-listen;
// piped: EOF ends only the replies.
func (l *udpListener) replyFromStdin(ctx context.Context, c *cli.Context, cancel context.CancelFunc) {
	if udpStdinTerminal(c) {
		l.promptLoop(ctx, c)
		cancel()
		return
	}
	lines, errc := udpLines(ctx, c.App.Reader, udpMaxPayload6)
	for line := range lines {
		if err := l.sendLine(ctx, udpLinePayload(c, line), true); err != nil {
			l.out.notice("%v", err)
		}
	}
	select {
	case err := <-errc:
		l.out.notice("%v", err)
	default:
	}
}

func (l *udpListener) promptLoop(ctx context.Context, c *cli.Context) {
	p := newUDPPrompt(c.App.Writer)
	l.out.setWriter(p)
	defer func() { l.out.setWriter(c.App.Writer); p.close() }()
	for {
		line, err := p.readLine("reply> ")
		if err != nil {
			return
		}
		if err := l.sendLine(ctx, udpLinePayload(c, line), false); err != nil {
			l.out.notice("%v", err)
		}
	}
}

// sendLine sends b to the latest peer. Before the first one is heard from, a piped line waits
// (a script may start before its peer) and a typed line is refused (a person should know).
func (l *udpListener) sendLine(ctx context.Context, b []byte, wait bool) error {
	select {
	case <-l.peerKnown:
	case <-ctx.Done():
		return errNoPeer
	default:
		if !wait {
			return fmt.Errorf("line not sent: %w", errNoPeer)
		}
		select {
		case <-l.peerKnown:
		case <-ctx.Done():
			return errNoPeer
		}
	}
	l.peerMu.Lock()
	to := l.peer
	l.peerMu.Unlock()
	if len(b) > udpMaxPayload(to.Addr()) {
		return fmt.Errorf("line not sent: %d bytes is larger than the largest UDP datagram", len(b))
	}
	if err := l.writeTo(b, to); err != nil {
		return udpWriteError(err, len(b), to)
	}
	return nil
}
