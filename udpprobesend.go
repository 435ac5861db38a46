package main

// udpprobesend.go: the sending side of udp-send --probe: pacing, the simulated impairments,
// reading echoes and the listener's count, and the report.

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// probeDefaultWait is how long a probe waits for late echoes and the listener's count when
// --wait is not given.
const probeDefaultWait = time.Second

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
	s.sock.Close()
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
	n := p.sim.copies()
	if n == 0 && p.s.trace != nil {
		p.s.trace.udpSimDropped(seq)
	}
	for range n {
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
	if !ok || h.sender != p.id || h.flags&probeFlagEcho == 0 || h.seq >= probeMaxSeq {
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

// probeSim is the impairment udp-send --sim-* applies before its socket write. It is
// simulated, not measured: every report labels it.
type probeSim struct {
	loss, dup     float64 // probabilities, 0..1
	delay, spread time.Duration
	seed          uint64
}

func (p probeSim) active() bool { return p.loss > 0 || p.dup > 0 || p.delay > 0 || p.spread > 0 }

// parsePercent reads "5%", "5" or "0.5%" as a probability.
func parsePercent(flag, s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || v < 0 || v > 100 || math.IsNaN(v) {
		return 0, usageErrorf("--%s %q: want a percentage from 0 to 100, like 5%%", flag, s)
	}
	return v / 100, nil
}

// parseSimDelay reads "20ms", "20ms±5ms" or "20ms+-5ms": a base delay and a uniform spread.
func parseSimDelay(s string) (delay, spread time.Duration, err error) {
	base, jit, found := strings.Cut(strings.ReplaceAll(s, "+-", "±"), "±")
	delay, err = time.ParseDuration(strings.TrimSpace(base))
	if err == nil && found {
		spread, err = time.ParseDuration(strings.TrimSpace(jit))
	}
	if err != nil || delay < 0 || spread < 0 || spread > delay {
		return 0, 0, usageErrorf("--sim-delay %q: want DELAY or DELAY±SPREAD with SPREAD <= DELAY, like 20ms±5ms", s)
	}
	return delay, spread, nil
}

// probeSimulator decides the fate of each datagram. Owned by the sending goroutine.
type probeSimulator struct {
	cfg                          probeSim
	rng                          *rand.Rand
	dropped, duplicated, delayed uint64
	queue                        probeDelayQueue
}

func newProbeSimulator(cfg probeSim) *probeSimulator {
	return &probeSimulator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15))}
}

// copies returns how many copies of the next datagram to send: 0 (dropped), 1 or 2.
func (p *probeSimulator) copies() int {
	if p.cfg.loss > 0 && p.rng.Float64() < p.cfg.loss {
		p.dropped++
		return 0
	}
	if p.cfg.dup > 0 && p.rng.Float64() < p.cfg.dup {
		p.duplicated++
		return 2
	}
	return 1
}

// delayFor returns the simulated delay of one copy.
func (p *probeSimulator) delayFor() time.Duration {
	d := p.cfg.delay
	if p.cfg.spread > 0 {
		d += time.Duration(p.rng.Int64N(int64(2*p.cfg.spread)+1)) - p.cfg.spread
	}
	if d > 0 {
		p.delayed++
	}
	return d
}

// probeDelayed is a datagram held back by --sim-delay.
type probeDelayed struct {
	due  time.Time
	seq  uint64
	sent int64
}

// probeDelayQueue is a min-heap of held-back datagrams by due time.
type probeDelayQueue []probeDelayed

func (q probeDelayQueue) Len() int           { return len(q) }
func (q probeDelayQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q probeDelayQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *probeDelayQueue) Push(x any)        { *q = append(*q, x.(probeDelayed)) }
func (q *probeDelayQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

func (q *probeDelayQueue) push(d probeDelayed) { heap.Push(q, d) }
func (q *probeDelayQueue) pop() probeDelayed   { return heap.Pop(q).(probeDelayed) }
