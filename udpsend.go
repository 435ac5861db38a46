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
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"
)

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
	listen, err := udpListenAddr(cfg.UDP.Listen) // its port is the default port
	if err != nil {
		return fmt.Errorf("[udp] listen: %w", err)
	}
	_, defPort, _ := net.SplitHostPort(listen)
	to, err := resolveUDPTarget(ctx, opts.target, defPort)
	if err != nil {
		return err
	}
	// Echoes of a fast probe arrive in bursts too: give them the listener's buffer.
	s, err := dialUDP(to, opts.broadcast, cfg.UDP.ReceiveBuffer, newUDPPrinter(c))
	if err != nil {
		return err
	}
	defer s.sock.Close()
	if s.trace = traceFor(c); s.trace != nil {
		s.trace.udpOpened(s.sock.LocalAddr(), s.to, s.connected)
	}
	if opts.probe {
		return s.probe(ctx, opts)
	}
	return s.talk(ctx, c, opts)
}

// udpSender is one udp-send socket. Without --broadcast it is connected, so the kernel
// filters replies to the target and reports an ICMP port unreachable as ECONNREFUSED.
type udpSender struct {
	sock      *udpSocket
	to        netip.AddrPort
	connected bool
	max       int // largest payload towards to
	out       *udpPrinter
	trace     *tracer       // nil unless --trace
	refused   atomic.Bool   // an ICMP port unreachable came back (text mode); set by reader and writer
	refusedc  chan struct{} // closed at the first refusal
	once      sync.Once
}

// noteRefused records an ICMP port unreachable, seen by a read or a write.
func (s *udpSender) noteRefused() {
	s.refused.Store(true)
	s.once.Do(func() { close(s.refusedc) })
}

// dialUDP opens udp-send's socket with a receive buffer of rcvbuf bytes (0: the default).
func dialUDP(to netip.AddrPort, broadcast bool, rcvbuf int, out *udpPrinter) (*udpSender, error) {
	s := &udpSender{to: to, connected: !broadcast, max: udpMaxPayload(to.Addr()), out: out, refusedc: make(chan struct{})}
	if !broadcast && udpIsBroadcast(to.Addr()) {
		return nil, usageErrorf("%s is a broadcast address: add --broadcast (the replies come from the hosts' own addresses, and only --broadcast reads those)", to.Addr())
	}
	var conn *net.UDPConn
	var err error
	if broadcast {
		conn, err = s.listenBroadcast()
	} else {
		// udp4 for IPv4: a dual-stack socket would skip the kernel's SO_BROADCAST check.
		network := "udp6"
		if to.Addr().Is4() {
			network = "udp4"
		}
		conn, err = net.DialUDP(network, nil, net.UDPAddrFromAddrPort(to))
	}
	if err != nil {
		return nil, fmt.Errorf("open udp socket to %s: %w", to, err)
	}
	if _, err := setUDPReceiveBuffer(conn, rcvbuf); err != nil {
		conn.Close()
		return nil, fmt.Errorf("udp socket to %s: receive buffer: %w", to, err)
	}
	if s.sock, err = newUDPSocket(conn); err != nil {
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
func (s *udpSender) listenBroadcast() (*net.UDPConn, error) {
	if !s.to.Addr().Is4() {
		return nil, usageErrorf("--broadcast needs an IPv4 address (IPv6 has no broadcast), not %s", s.to.Addr())
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return nil, err
	}
	raw, err := conn.SyscallConn()
	if err == nil {
		err = setUDPBroadcast(raw)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("set SO_BROADCAST: %w", err)
	}
	return conn, nil
}

// write is the only place udp-send writes its socket.
func (s *udpSender) write(b []byte) error {
	if s.trace != nil {
		s.trace.udpEvent("sendto", s.sock.LocalAddr(), "->", s.to, b)
	}
	var err error
	if s.connected {
		err = s.sock.Write(b)
	} else {
		err = s.sock.WriteTo(b, s.to)
	}
	if err != nil && s.trace != nil {
		s.trace.udpError("sendto", s.sock.LocalAddr(), s.to, err)
	}
	return err
}

// read is the only place udp-send reads its socket.
func (s *udpSender) read(buf []byte) (int, netip.AddrPort, error) {
	n, from, err := s.sock.ReadFrom(buf)
	if s.trace != nil {
		s.trace.udpRead(s.sock.LocalAddr(), buf[:n], from, err)
	}
	return n, from, err
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
	s.sock.Close()
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
