package main

// udpsend.go: `labchat udp-send`, which sends text datagrams (from arguments, a pipe or a
// prompt) and prints the replies, or sends a paced probe stream and reports loss and RTT.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// probeDefaultWait is how long a probe waits for late echoes and the listener's count when
// --wait is not given.
const probeDefaultWait = time.Second

func udpSendCommand() *cli.Command {
	return &cli.Command{
		Name:  "udp-send",
		Usage: "send UDP datagrams (arguments, stdin lines, or typed) and print replies; probe loss, jitter and RTT",
		Description: "Each MESSAGE argument, or else each stdin line, is one datagram. On a terminal with no\n" +
			"MESSAGE, lines are typed at a prompt and replies print as they come. --probe sends a paced\n" +
			"stream for `labchat udp-listen` to measure (with --echo there, RTT and loss per direction).",
		ArgsUsage: "HOST:PORT [MESSAGE...]",
		Flags: append([]cli.Flag{
			&cli.DurationFlag{Name: "wait", Usage: "after the last send, read replies for `D`; exit 6 if none came (probe default 1s)"},
			&cli.BoolFlag{Name: "broadcast", Usage: "allow sending to an IPv4 broadcast address (SO_BROADCAST); replies are read from any address"},
			&cli.BoolFlag{Name: "probe", Usage: "send probe datagrams (sequence number, send time, sender id) instead of text"},
			&cli.Uint64Flag{Name: "count", Value: 100, Usage: "probe: send `N` datagrams (0: until Ctrl-C)"},
			&cli.Float64Flag{Name: "rate", Value: 100, Usage: "probe: send `PPS` datagrams per second (0: as fast as possible)"},
			&cli.IntFlag{Name: "size", Value: 64, Usage: "probe: UDP payload of `BYTES` per datagram (36 and up)"},
			&cli.StringFlag{Name: "max-loss", Usage: "probe: exit 8 if loss is above `PCT` percent"},
			&cli.StringFlag{Name: "sim-loss", Usage: "probe: SIMULATED loss: drop `PCT` percent of datagrams before sending"},
			&cli.StringFlag{Name: "sim-dup", Usage: "probe: SIMULATED duplication: send `PCT` percent of datagrams twice"},
			&cli.StringFlag{Name: "sim-delay", Usage: "probe: SIMULATED delay `D[±J]` before sending, like 20ms±5ms (reorders)"},
			&cli.Uint64Flag{Name: "sim-seed", Usage: "probe: random `SEED` for --sim-* (0: pick one and print it)"},
		}, udpOutputFlags()...),
		Action: runUDPSend,
	}
}

// udpSendOptions are udp-send's settings after flags and configuration are merged.
type udpSendOptions struct {
	target    string
	messages  []string
	wait      time.Duration
	broadcast bool
	probe     bool
	count     uint64
	rate      float64
	size      int
	maxLoss   float64 // percent; negative: no threshold
	sim       probeSim
}

func udpSendOptionsFrom(c *cli.Context) (udpSendOptions, error) {
	args, err := udpTrailingFlags(c)
	if err != nil {
		return udpSendOptions{}, err
	}
	if len(args) == 0 {
		return udpSendOptions{}, usageErrorf("udp-send needs HOST:PORT, like 127.0.0.1:9999")
	}
	o := udpSendOptions{target: args[0], messages: args[1:], wait: c.Duration("wait"),
		broadcast: c.Bool("broadcast"), probe: c.Bool("probe"), count: c.Uint64("count"),
		rate: c.Float64("rate"), size: c.Int("size"), maxLoss: -1}
	if o.wait < 0 {
		return o, usageErrorf("--wait must not be negative")
	}
	if !o.probe {
		for _, f := range []string{"count", "rate", "size", "max-loss", "sim-loss", "sim-dup", "sim-delay", "sim-seed"} {
			if c.IsSet(f) {
				return o, usageErrorf("--%s needs --probe", f)
			}
		}
		return o, nil
	}
	return o, o.probeOptions(c)
}

func (o *udpSendOptions) probeOptions(c *cli.Context) error {
	if len(o.messages) > 0 {
		return usageErrorf("--probe sends its own datagrams: remove the MESSAGE arguments")
	}
	if o.rate < 0 || math.IsNaN(o.rate) || math.IsInf(o.rate, 0) {
		return usageErrorf("--rate must be 0 (as fast as possible) or more")
	}
	if o.count == 0 {
		o.count = math.MaxUint64 // until Ctrl-C
	}
	if !c.IsSet("wait") {
		o.wait = probeDefaultWait
	}
	var err error
	if v := c.String("max-loss"); c.IsSet("max-loss") {
		if o.maxLoss, err = parsePercent("max-loss", v); err != nil {
			return err
		}
		o.maxLoss *= 100
	}
	return o.simOptions(c)
}

func (o *udpSendOptions) simOptions(c *cli.Context) (err error) {
	if o.sim.loss, err = parsePercent("sim-loss", orZero(c.String("sim-loss"))); err != nil {
		return err
	}
	if o.sim.dup, err = parsePercent("sim-dup", orZero(c.String("sim-dup"))); err != nil {
		return err
	}
	if o.sim.delay, o.sim.spread, err = parseSimDelay(orZero(c.String("sim-delay"))); err != nil {
		return err
	}
	o.sim.seed = c.Uint64("sim-seed")
	if o.sim.seed == 0 {
		o.sim.seed = rand.Uint64() | 1
	}
	return nil
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func runUDPSend(c *cli.Context) error {
	opts, err := udpSendOptionsFrom(c)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	ctx, cancel := udpSignalContext(c)
	defer cancel()
	_, defPort, _ := net.SplitHostPort(cfg.UDP.Listen)
	to, err := resolveUDPTarget(ctx, opts.target, defPort)
	if err != nil {
		return err
	}
	s, err := dialUDP(to, opts.broadcast, newUDPPrinter(c))
	if err != nil {
		return err
	}
	defer s.conn.Close()
	// Echoes of a fast probe arrive in bursts too: give them the listener's buffer.
	if _, err := setUDPReceiveBuffer(s.conn, cfg.UDP.ReceiveBuffer); err != nil {
		return fmt.Errorf("udp socket to %s: receive buffer: %w", to, err)
	}
	if opts.probe {
		return s.probe(ctx, opts)
	}
	return s.talk(ctx, c, opts)
}

// udpSender is one udp-send socket. Without --broadcast it is connected, so the kernel
// filters replies to the target and reports an ICMP port unreachable as ECONNREFUSED.
type udpSender struct {
	conn      *net.UDPConn
	to        netip.AddrPort
	connected bool
	max       int // largest payload towards to
	out       *udpPrinter
	refused   atomic.Bool   // an ICMP port unreachable came back (text mode); set by reader and writer
	refusedc  chan struct{} // closed at the first refusal
	once      sync.Once
}

// noteRefused records an ICMP port unreachable, seen by a read or a write.
func (s *udpSender) noteRefused() {
	s.refused.Store(true)
	s.once.Do(func() { close(s.refusedc) })
}

func dialUDP(to netip.AddrPort, broadcast bool, out *udpPrinter) (*udpSender, error) {
	s := &udpSender{to: to, connected: !broadcast, max: udpMaxPayload(to.Addr()), out: out, refusedc: make(chan struct{})}
	if !broadcast && udpIsBroadcast(to.Addr()) {
		return nil, usageErrorf("%s is a broadcast address: add --broadcast (the replies come from the hosts' own addresses, and only --broadcast reads those)", to.Addr())
	}
	var err error
	if broadcast {
		err = s.listenBroadcast()
	} else {
		// udp4 for IPv4: a dual-stack socket would skip the kernel's SO_BROADCAST check.
		network := "udp6"
		if to.Addr().Is4() {
			network = "udp4"
		}
		s.conn, err = net.DialUDP(network, nil, net.UDPAddrFromAddrPort(to))
	}
	if err != nil {
		return nil, fmt.Errorf("open udp socket to %s: %w", to, err)
	}
	return s, nil
}

// udpIsBroadcast reports whether addr is 255.255.255.255 or the broadcast address of a
// network this host is on. The kernel cannot say: Go sets SO_BROADCAST on every UDP socket.
func udpIsBroadcast(addr netip.Addr) bool {
	if addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil || !addr.Is4() {
		return false
	}
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok || ipnet.IP.To4() == nil || len(ipnet.Mask) != net.IPv4len {
			continue
		}
		ip4 := ipnet.IP.To4()
		if ones, _ := ipnet.Mask.Size(); ones >= 31 {
			continue // point-to-point: no broadcast address
		}
		var b [4]byte
		for i := range b {
			b[i] = ip4[i] | ^ipnet.Mask[i]
		}
		if netip.AddrFrom4(b) == addr {
			return true
		}
	}
	return false
}

// listenBroadcast opens an unconnected IPv4 socket with SO_BROADCAST: replies to a broadcast
// come from the hosts' own addresses, which a connected socket would discard.
func (s *udpSender) listenBroadcast() error {
	if !s.to.Addr().Is4() {
		return usageErrorf("--broadcast needs an IPv4 address (IPv6 has no broadcast), not %s", s.to.Addr())
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return err
	}
	raw, err := conn.SyscallConn()
	if err == nil {
		err = setUDPBroadcast(raw)
	}
	if err != nil {
		conn.Close()
		return fmt.Errorf("set SO_BROADCAST: %w", err)
	}
	s.conn = conn
	return nil
}

// write is the only place udp-send writes its socket.
func (s *udpSender) write(b []byte) error {
	var err error
	if s.connected {
		_, err = s.conn.Write(b)
	} else {
		_, err = s.conn.WriteToUDPAddrPort(b, s.to)
	}
	return err
}

// read is the only place udp-send reads its socket.
func (s *udpSender) read(buf []byte) (int, netip.AddrPort, error) {
	return s.conn.ReadFromUDPAddrPort(buf)
}

// udpReplies is what the reply reader of text mode saw.
type udpReplies struct {
	n    atomic.Uint64 // replies received; read by the sender while the reader runs
	err  error         // a read failure; written by the reader before done closes
	done chan struct{} // closed when the reader returns
}

// readReplies prints every reply until the socket closes.
func (s *udpSender) readReplies(r *udpReplies, interactive bool) {
	defer close(r.done)
	buf := make([]byte, 1<<16)
	for {
		n, from, err := s.read(buf)
		switch {
		case err == nil:
			r.n.Add(1)
			s.out.datagram(buf[:n], from, time.Now())
		case isUDPRefused(err):
			if interactive {
				s.out.notice("%s refused the datagram (ICMP port unreachable): nothing listens there", s.to)
			}
			s.noteRefused()
		case errors.Is(err, net.ErrClosed):
			return
		default:
			r.err = fmt.Errorf("receive from %s: %w", s.to, err)
			return
		}
	}
}

// talk sends the messages (arguments, stdin lines or typed lines), then reads replies for
// --wait, and turns what happened into the exit code.
func (s *udpSender) talk(ctx context.Context, c *cli.Context, o udpSendOptions) error {
	r := &udpReplies{done: make(chan struct{})}
	interactive := len(o.messages) == 0 && udpStdinTerminal(c)
	go s.readReplies(r, interactive)
	var err error
	switch {
	case len(o.messages) > 0:
		err = s.sendAll(ctx, o.messages, c)
	case interactive:
		err = s.prompt(ctx, c, r)
	default:
		err = s.sendLines(ctx, c, r)
	}
	if err == nil && o.wait > 0 {
		s.awaitReplies(ctx, r, o.wait)
	}
	s.conn.Close()
	<-r.done
	return s.talkResult(err, r, o.wait, interactive)
}

func (s *udpSender) sendAll(ctx context.Context, messages []string, c *cli.Context) error {
	for _, m := range messages {
		if ctx.Err() != nil {
			return nil
		}
		if err := s.send([]byte(m)); err != nil {
			return err
		}
	}
	return nil
}

// send writes one text datagram. A refusal is not fatal here: the reader records it, and the
// exit code reports it.
func (s *udpSender) send(b []byte) error {
	if len(b) > s.max {
		return usageErrorf("message of %d bytes is larger than the largest UDP datagram to %s (%d)", len(b), s.to, s.max)
	}
	err := s.write(b)
	if isUDPRefused(err) {
		s.noteRefused()
		return nil
	}
	if err != nil {
		return udpWriteError(err, len(b), s.to)
	}
	return nil
}

func (s *udpSender) sendLines(ctx context.Context, c *cli.Context, r *udpReplies) error {
	lines, errc := udpLines(ctx, c.App.Reader, s.max)
	for line := range lines {
		if err := s.send(udpLinePayload(c, line)); err != nil {
			return err
		}
	}
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

func (s *udpSender) prompt(ctx context.Context, c *cli.Context, r *udpReplies) error {
	p := newUDPPrompt(c.App.Writer)
	s.out.setWriter(p)
	defer func() { s.out.setWriter(c.App.Writer); p.close() }()
	for ctx.Err() == nil {
		line, err := p.readLine(s.to.String() + "> ")
		if err != nil {
			return nil
		}
		if err := s.send(udpLinePayload(c, line)); err != nil {
			s.out.notice("%v", err)
		}
	}
	return nil
}

// awaitReplies waits for wait after the last send, or less when the port was refused and
// nothing else came.
func (s *udpSender) awaitReplies(ctx context.Context, r *udpReplies, wait time.Duration) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	case <-s.refusedc:
		if r.n.Load() > 0 {
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
	}
}

// talkResult picks the exit code: replies or nothing expected 0, refused 7, no reply 6.
func (s *udpSender) talkResult(err error, r *udpReplies, wait time.Duration, interactive bool) error {
	switch {
	case err != nil:
		return err
	case r.err != nil:
		return r.err
	case r.n.Load() > 0 || interactive:
		return nil
	case s.refused.Load():
		return withExit(exitRefused, fmt.Errorf("%s refused the datagram (ICMP port unreachable): nothing listens on that UDP port", s.to))
	case wait > 0:
		return withExit(exitNoAnswer, fmt.Errorf("no reply from %s within %v", s.to, wait))
	}
	return nil
}

// probe runs udp-send --probe: paced probes, then a count request, then the report.
func (s *udpSender) probe(ctx context.Context, o udpSendOptions) error {
	if o.size < probeHeaderLen || o.size > s.max {
		return usageErrorf("--size %d: a probe payload is %d to %d bytes towards %s", o.size, probeHeaderLen, s.max, s.to)
	}
	p := newProbeRun(s, o)
	go p.readEchoes()
	err := p.send(ctx)
	if err == nil {
		// Ctrl-C ends the sending (--count 0 runs until then) but not the count request:
		// a second Ctrl-C does.
		fctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		p.finish(fctx)
		stop()
	}
	s.conn.Close()
	<-p.echoDone
	if err != nil {
		return err
	}
	res := p.result()
	s.out.report(res)
	return res.exitError(o.maxLoss)
}

// probeRun is one probe stream. The sending goroutine owns the send-side fields; readEchoes
// owns echo until it closes echoDone.
type probeRun struct {
	s     *udpSender
	o     probeOptionsView
	id    uint32
	start time.Time
	wall  int64 // Unix ns at start: header times are wall + monotonic elapsed, so they never jump
	buf   []byte
	sim   *probeSimulator // nil without --sim-*

	next      uint64 // next sequence number: probes sent so far (send side)
	written   uint64 // datagrams written (send side)
	refusedW  uint64 // writes refused by ICMP (send side)
	sendErrs  uint64 // writes the kernel dropped for lack of buffers (send side)
	sendEnded time.Time

	echo     probeEchoes
	echoDone chan struct{}
	complete chan struct{} // closed by readEchoes once the count answer and its echoes are in
	heard    atomic.Bool   // readEchoes got an echo or answer of this run
	refusedc chan struct{} // closed at the first ICMP refusal, seen by a write or a read
	refused  sync.Once
}

func (p *probeRun) noteRefused() { p.refused.Do(func() { close(p.refusedc) }) }

// probeOptionsView is the part of udpSendOptions a probe run uses.
type probeOptionsView struct {
	count uint64
	rate  float64
	size  int
	wait  time.Duration
	sim   probeSim
}

func newProbeRun(s *udpSender, o udpSendOptions) *probeRun {
	p := &probeRun{s: s, o: probeOptionsView{o.count, o.rate, o.size, o.wait, o.sim},
		id: rand.Uint32(), buf: make([]byte, o.size),
		echoDone: make(chan struct{}), complete: make(chan struct{}), refusedc: make(chan struct{})}
	if o.sim.active() {
		p.sim = newProbeSimulator(o.sim)
	}
	p.start = time.Now()
	p.wall = p.start.UnixNano()
	return p
}

func (p *probeRun) clock() int64 { return p.wall + int64(time.Since(p.start)) }

// due is when probe i should leave: computed from the start, so sleeping late never drifts
// the rate, it only sends the overdue probes at once.
func (p *probeRun) due(i uint64) time.Time {
	if p.o.rate == 0 {
		return p.start
	}
	return p.start.Add(time.Duration(float64(i) * 1e9 / p.o.rate))
}

// send emits every probe on schedule, plus the datagrams --sim-delay holds back.
func (p *probeRun) send(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		now := time.Now()
		if err := p.release(now); err != nil {
			return err
		}
		for batch := 0; batch < 1024 && p.next < p.o.count && !p.due(p.next).After(now); batch++ {
			if err := p.emit(now); err != nil {
				return err
			}
		}
		next, more := p.nextEvent()
		if !more {
			break
		}
		if wait := next.Sub(time.Now()); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
	}
	p.sendEnded = time.Now()
	return nil
}

// nextEvent is when the send loop has something to do next; more is false when it is done.
func (p *probeRun) nextEvent() (next time.Time, more bool) {
	if p.next < p.o.count {
		next, more = p.due(p.next), true
	}
	if p.sim != nil && p.sim.queue.Len() > 0 {
		if d := p.sim.queue[0].due; !more || d.Before(next) {
			next = d
		}
		more = true
	}
	return next, more
}

// emit sends probe p.next, or hands it to the simulator.
func (p *probeRun) emit(now time.Time) error {
	seq, sent := p.next, p.clock()
	p.next++
	if p.sim == nil {
		return p.write(seq, sent)
	}
	for range p.sim.copies() {
		if d := p.sim.delayFor(); d > 0 {
			p.sim.queue.push(probeDelayed{due: now.Add(d), seq: seq, sent: sent})
			continue
		}
		if err := p.write(seq, sent); err != nil {
			return err
		}
	}
	return nil
}

// release writes the held-back datagrams that are due.
func (p *probeRun) release(now time.Time) error {
	for p.sim != nil && p.sim.queue.Len() > 0 && !p.sim.queue[0].due.After(now) {
		d := p.sim.queue.pop()
		if err := p.write(d.seq, d.sent); err != nil {
			return err
		}
	}
	return nil
}

// write puts one probe on the wire. Refusals and a full send queue are counted, not fatal:
// the listener may start later, and the figures show what was lost.
func (p *probeRun) write(seq uint64, sent int64) error {
	h := probeHeader{sender: p.id, seq: seq, sent: sent}
	h.put(p.buf)
	err := p.s.write(p.buf)
	switch {
	case err == nil:
		p.written++
	case isUDPRefused(err):
		p.refusedW++
		p.noteRefused()
	case errors.Is(err, syscall.ENOBUFS):
		p.sendErrs++
	default:
		return udpWriteError(err, len(p.buf), p.s.to)
	}
	return nil
}

// finish asks the listener for its count, again every fifth of --wait, until every answer is
// in, --wait has passed, or the port was refused and nothing came back.
func (p *probeRun) finish(ctx context.Context) {
	deadline := time.NewTimer(p.o.wait)
	defer deadline.Stop()
	retry := time.NewTicker(max(p.o.wait/5, time.Millisecond))
	defer retry.Stop()
	refused := p.refusedc
	for {
		p.countRequest()
		select {
		case <-p.complete:
			return
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		case <-refused:
			if !p.heard.Load() {
				return
			}
			refused = nil // heard from the listener before: wait for the rest
		case <-retry.C:
		}
	}
}

func (p *probeRun) countRequest() {
	// In a count request the sequence field carries how many probes were sent, so the
	// listener's figures include losses at the very end of the stream.
	h := probeHeader{flags: probeFlagCount, sender: p.id, seq: p.next, sent: p.clock()}
	h.put(p.buf)
	err := p.s.write(p.buf[:probeHeaderLen])
	if isUDPRefused(err) {
		p.noteRefused()
	} else if err != nil {
		p.s.out.notice("count request: %v", udpWriteError(err, probeHeaderLen, p.s.to))
	}
}

// probeEchoes is what came back to a probe sender. Owned by readEchoes.
type probeEchoes struct {
	rtt            rttHistogram
	seq            probeStats // sequence bookkeeping of the echoes: distinct, duplicates
	other          uint64     // datagrams that were not echoes of this run
	answered       bool       // the listener's count answer arrived
	listenerUnique uint64
	echoing        bool
	refused        bool
	err            error
}

// readEchoes reads echoes and count answers until the socket closes. It signals complete
// once the count answer and every echo it announces are in, or the port was refused with
// nothing received.
func (p *probeRun) readEchoes() {
	defer close(p.echoDone)
	buf := make([]byte, 1<<16)
	var once sync.Once
	for {
		n, _, err := p.s.read(buf)
		switch {
		case err == nil:
			p.echoed(buf[:n])
		case isUDPRefused(err):
			p.echo.refused = true
			p.noteRefused()
		case errors.Is(err, net.ErrClosed):
			return
		default:
			p.echo.err = fmt.Errorf("receive from %s: %w", p.s.to, err)
			return
		}
		if e := &p.echo; e.answered && (!e.echoing || e.seq.unique >= e.listenerUnique) {
			once.Do(func() { close(p.complete) })
		}
	}
}

// echoed counts one datagram that came back.
func (p *probeRun) echoed(b []byte) {
	now := p.clock()
	e := &p.echo
	h, ok := parseProbe(b)
	if !ok || h.sender != p.id || h.flags&probeFlagEcho == 0 {
		e.other++
		return
	}
	p.heard.Store(true)
	if h.flags&probeFlagCount != 0 {
		e.answered = true
		e.echoing = h.flags&probeFlagEchoing != 0
		e.listenerUnique = max(e.listenerUnique, h.rxUnique)
		return
	}
	dups := e.seq.duplicates
	e.seq.observe(h.seq, h.sent, time.Unix(0, now), len(b))
	if e.seq.duplicates == dups {
		e.rtt.add(now - h.sent)
	}
}

// probeResult is udp-send's report of a probe run.
type probeResult struct {
	Type             string          `json:"type"` // "probe-result"
	Target           string          `json:"target"`
	Sender           string          `json:"sender"`
	Sent             uint64          `json:"sent"` // sequence numbers used, simulated drops included
	Size             int             `json:"size"`
	DurationS        float64         `json:"duration_s"`
	RatePPS          float64         `json:"rate_pps"`
	Simulated        *probeSimResult `json:"simulated,omitempty"`
	SendErrors       uint64          `json:"send_errors"`
	Refused          bool            `json:"refused"`
	ListenerAnswered bool            `json:"listener_answered"`
	ListenerReceived uint64          `json:"listener_received"`
	ForwardLost      int64           `json:"forward_lost"`
	ForwardLossPct   float64         `json:"forward_loss_pct"`
	ListenerEchoes   bool            `json:"listener_echoes"`
	Echoed           uint64          `json:"echoed"`
	EchoDuplicates   uint64          `json:"echo_duplicates"`
	ReturnLost       int64           `json:"return_lost"`
	ReturnLossPct    float64         `json:"return_loss_pct"`
	RoundTripLost    int64           `json:"round_trip_lost"`
	RoundTripLossPct float64         `json:"round_trip_loss_pct"`
	RTT              *rttSummary     `json:"rtt_ms,omitempty"`
}

// probeSimResult counts what --sim-* did, so the listener's figures can be checked against it.
type probeSimResult struct {
	Seed       uint64 `json:"seed"`
	Dropped    uint64 `json:"dropped"`
	Duplicated uint64 `json:"duplicated"`
	Delayed    uint64 `json:"delayed"`
}

type rttSummary struct {
	Min float64 `json:"min"`
	Avg float64 `json:"avg"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func pct(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

func (p *probeRun) result() probeResult {
	e := &p.echo
	secs := p.sendEnded.Sub(p.start).Seconds()
	r := probeResult{Type: "probe-result", Target: p.s.to.String(), Sender: fmt.Sprintf("%08x", p.id),
		Sent: p.next, Size: p.o.size, DurationS: secs, SendErrors: p.sendErrs,
		Refused: p.refusedW > 0 || e.refused, ListenerAnswered: e.answered, ListenerReceived: e.listenerUnique,
		ListenerEchoes: e.echoing || e.seq.unique > 0, Echoed: e.seq.unique, EchoDuplicates: e.seq.duplicates}
	if secs > 0 {
		r.RatePPS = float64(p.written) / secs
	}
	if p.sim != nil {
		r.Simulated = &probeSimResult{p.o.sim.seed, p.sim.dropped, p.sim.duplicated, p.sim.delayed}
	}
	sent := int64(r.Sent)
	if e.answered {
		r.ForwardLost = sent - int64(e.listenerUnique)
		r.ForwardLossPct = pct(r.ForwardLost, sent)
		r.ReturnLost = int64(e.listenerUnique) - int64(e.seq.unique)
		r.ReturnLossPct = pct(r.ReturnLost, int64(e.listenerUnique))
	}
	r.RoundTripLost = sent - int64(e.seq.unique)
	r.RoundTripLossPct = pct(r.RoundTripLost, sent)
	if e.rtt.n > 0 {
		r.RTT = &rttSummary{float64(e.rtt.min) / 1e6, e.rtt.sum / float64(e.rtt.n) / 1e6,
			e.rtt.percentile(50) / 1e6, e.rtt.percentile(99) / 1e6, float64(e.rtt.max) / 1e6}
	}
	return r
}

// loss is the figure --max-loss judges: round trip when the listener echoes, else forward.
func (r probeResult) loss() float64 {
	if r.ListenerEchoes {
		return r.RoundTripLossPct
	}
	return r.ForwardLossPct
}

// exitError is nil when the run met expectations: some answer came, loss within maxLoss.
func (r probeResult) exitError(maxLoss float64) error {
	switch {
	case !r.ListenerAnswered && !r.ListenerEchoes && r.Refused:
		return withExit(exitRefused, fmt.Errorf("%s refused the probes (ICMP port unreachable): nothing listens on that UDP port", r.Target))
	case !r.ListenerAnswered && !r.ListenerEchoes:
		return withExit(exitNoAnswer, fmt.Errorf("no answer from %s: is `labchat udp-listen` running there?", r.Target))
	case maxLoss >= 0 && r.loss() > maxLoss:
		return withExit(exitThreshold, fmt.Errorf("loss %.2f%% is above --max-loss %.2f%%", r.loss(), maxLoss))
	}
	return nil
}

// String is the report for people, several lines.
func (r probeResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "probe %s -> %s: %d sent in %.2f s (%.0f datagrams/s, %d-byte payloads)",
		r.Sender, r.Target, r.Sent, r.DurationS, r.RatePPS, r.Size)
	if s := r.Simulated; s != nil {
		fmt.Fprintf(&b, "\nSIMULATED by this sender (seed %d): %d dropped, %d duplicated, %d delayed", s.Seed, s.Dropped, s.Duplicated, s.Delayed)
	}
	if r.SendErrors > 0 {
		fmt.Fprintf(&b, "\nsend errors (no buffer space): %d", r.SendErrors)
	}
	if r.ListenerAnswered {
		fmt.Fprintf(&b, "\nforward: listener received %d, lost %d (%.2f%%)", r.ListenerReceived, r.ForwardLost, r.ForwardLossPct)
	} else {
		b.WriteString("\nforward: the listener's count did not arrive")
	}
	if r.ListenerEchoes {
		if r.ListenerAnswered {
			fmt.Fprintf(&b, "\nreturn: %d echoed back, lost %d (%.2f%%)", r.Echoed, r.ReturnLost, r.ReturnLossPct)
		}
		fmt.Fprintf(&b, "\nround trip: %d of %d back, lost %d (%.2f%%), %d duplicate echoes", r.Echoed, r.Sent, r.RoundTripLost, r.RoundTripLossPct, r.EchoDuplicates)
	}
	if t := r.RTT; t != nil {
		fmt.Fprintf(&b, "\nrtt: min %.3f  avg %.3f  p50 %.3f  p99 %.3f  max %.3f ms", t.Min, t.Avg, t.P50, t.P99, t.Max)
	}
	return b.String()
}
