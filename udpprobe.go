package main

// udpprobe.go: the probe datagram (udp-send --probe), the figures udp-listen keeps per probe
// sender, and the round-trip-time histogram of the sender.

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"time"
)

// Probe header, network byte order, at the start of every probe datagram (docs/udp.md has
// the byte table). The rest of the datagram, up to --size, is zero padding.
const (
	probeMagic        = "LCPB" // 4C 43 50 42: "labchat probe"
	probeVersion      = 1
	probeHeaderLen    = 36
	probeFlagEcho     = 0x01 // set by udp-listen on every probe datagram it sends back
	probeFlagCount    = 0x02 // count request from the sender, or the listener's answer: not data
	probeFlagEchoing  = 0x04 // in a count answer: the listener echoes data probes (--echo)
	probeOffFlags     = 5
	probeOffSender    = 8
	probeOffSeq       = 12
	probeOffSent      = 20
	probeOffRxUnique  = 28
	probeReorderRange = 1 << 16 // sequence numbers behind the highest that can be told apart
)

// probeHeader is the decoded probe header.
type probeHeader struct {
	flags    byte
	sender   uint32 // random per udp-send run, so several senders from one host stay apart
	seq      uint64 // 0, 1, 2, ... per sender
	sent     int64  // sender's clock at sending, Unix nanoseconds
	rxUnique uint64 // in listener replies: distinct sequence numbers received from this sender
}

// put writes h into b, which must hold probeHeaderLen bytes.
func (h *probeHeader) put(b []byte) {
	copy(b, probeMagic)
	b[4] = probeVersion
	b[probeOffFlags] = h.flags
	b[6], b[7] = 0, 0
	binary.BigEndian.PutUint32(b[probeOffSender:], h.sender)
	binary.BigEndian.PutUint64(b[probeOffSeq:], h.seq)
	binary.BigEndian.PutUint64(b[probeOffSent:], uint64(h.sent))
	binary.BigEndian.PutUint64(b[probeOffRxUnique:], h.rxUnique)
}

// parseProbe decodes b's probe header; ok is false for any datagram that is not a probe, so
// text that happens to be short or start differently is printed, not counted.
func parseProbe(b []byte) (h probeHeader, ok bool) {
	if len(b) < probeHeaderLen || string(b[:4]) != probeMagic || b[4] != probeVersion {
		return h, false
	}
	h.flags = b[probeOffFlags]
	h.sender = binary.BigEndian.Uint32(b[probeOffSender:])
	h.seq = binary.BigEndian.Uint64(b[probeOffSeq:])
	h.sent = int64(binary.BigEndian.Uint64(b[probeOffSent:]))
	h.rxUnique = binary.BigEndian.Uint64(b[probeOffRxUnique:])
	return h, true
}

// probeKey names one probe sender at the listener.
type probeKey struct {
	from netip.AddrPort
	id   uint32
}

// probeCounts are the cumulative counters of one sender; interval figures are differences of two.
type probeCounts struct {
	received   uint64 // data datagrams, duplicates included
	unique     uint64 // distinct sequence numbers
	expected   uint64 // highest sequence number + 1
	bytes      uint64 // UDP payload bytes, duplicates included
	duplicates uint64
	outOfOrder uint64 // arrived after a higher sequence number (duplicates not included)
	late       uint64 // out of order and already reported lost by an interval report
}

func (c probeCounts) lost() int64 { return int64(c.expected) - int64(c.unique) }

func (c probeCounts) minus(o probeCounts) probeCounts {
	return probeCounts{c.received - o.received, c.unique - o.unique, c.expected - o.expected,
		c.bytes - o.bytes, c.duplicates - o.duplicates, c.outOfOrder - o.outOfOrder, c.late - o.late}
}

// probeStats is what the listener knows about one sender. It is owned by the listener's
// receive loop: no lock.
type probeStats struct {
	key probeKey
	probeCounts
	first, last  time.Time // arrival of the first and latest data datagram
	maxSeq       uint64
	reportedMax  uint64 // maxSeq at the last interval report: new numbers at or below it are late
	reported     bool
	jitter       float64 // RFC 3550 interarrival jitter estimate, nanoseconds
	transit      int64   // arrival - send time of the previous datagram, nanoseconds
	mark         probeCounts
	markTime     time.Time
	finalPrinted bool                           // the final report was printed and nothing arrived since
	seen         [probeReorderRange / 64]uint64 // bit (seq % range) set: seq in (maxSeq-range, maxSeq] arrived

	// The listener's sender table (udplisten.go); unused by udp-send's echo bookkeeping.
	heard        time.Time   // the latest datagram of any kind
	serial       uint64      // the table's count of senders when this one was first heard
	newer, older *probeStats // neighbours in the table's last-heard order
}

// observe counts one data datagram with sequence number seq and send time sent (Unix ns)
// that arrived at at with size bytes of payload.
func (s *probeStats) observe(seq uint64, sent int64, at time.Time, size int) {
	s.received++
	s.bytes += uint64(size)
	s.last = at
	transit := at.UnixNano() - sent
	if s.received == 1 {
		s.first, s.markTime = at, at
		s.transit = transit
		s.maxSeq = seq
		s.expected = seq + 1
		s.unique = 1
		s.setSeen(seq)
		return
	}
	// RFC 3550 section 6.4.1 and A.8: J += (|D| - J) / 16, D the change in transit time.
	d := float64(transit - s.transit)
	s.transit = transit
	s.jitter += (math.Abs(d) - s.jitter) / 16
	s.sequence(seq)
}

// sequence classifies seq as new, duplicate, out of order or late.
func (s *probeStats) sequence(seq uint64) {
	switch {
	case seq > s.maxSeq:
		s.advance(seq)
		s.unique++
	case s.maxSeq-seq >= probeReorderRange:
		// Too far behind to check for a duplicate: a late arrival, unless more numbers
		// arrived than exist below expected, which only repeats (or forgeries) can do:
		// unique never exceeds expected, so loss is never negative.
		if s.unique >= s.expected {
			s.duplicates++
			return
		}
		s.unique++
		s.outOfOrder++
		s.late++
	case s.isSeen(seq):
		s.duplicates++
	default:
		s.setSeen(seq)
		s.unique++
		s.outOfOrder++
		if s.reported && seq <= s.reportedMax {
			s.late++
		}
	}
}

// advance moves the duplicate window up to seq, forgetting the numbers that fall out of it.
func (s *probeStats) advance(seq uint64) {
	if seq-s.maxSeq >= probeReorderRange {
		s.seen = [probeReorderRange / 64]uint64{}
	} else {
		for n := s.maxSeq + 1; n < seq; n++ {
			s.clearSeen(n)
		}
	}
	s.maxSeq = seq
	s.expected = seq + 1
	s.setSeen(seq)
}

func (s *probeStats) setSeen(seq uint64) {
	i := seq % probeReorderRange
	s.seen[i/64] |= 1 << (i % 64)
}

func (s *probeStats) clearSeen(seq uint64) {
	i := seq % probeReorderRange
	s.seen[i/64] &^= 1 << (i % 64)
}

func (s *probeStats) isSeen(seq uint64) bool {
	i := seq % probeReorderRange
	return s.seen[i/64]&(1<<(i%64)) != 0
}

// probeReport is one line of listener figures, for an interval or for the whole run.
type probeReport struct {
	Type       string  `json:"type"` // "probe-interval" or "probe-final"
	From       string  `json:"from"`
	Sender     string  `json:"sender"`
	Start      float64 `json:"start_s"` // seconds since the first datagram of this sender
	End        float64 `json:"end_s"`
	Received   uint64  `json:"received"`
	Expected   uint64  `json:"expected"`
	Lost       int64   `json:"lost"`
	LossPct    float64 `json:"loss_pct"`
	Duplicates uint64  `json:"duplicates"`
	OutOfOrder uint64  `json:"out_of_order"`
	Late       uint64  `json:"late"`
	JitterMs   float64 `json:"jitter_ms"`
	Bytes      uint64  `json:"bytes"`
	BitRate    float64 `json:"bitrate_bps"`
}

// interval reports the figures since the previous interval report and starts a new interval.
func (s *probeStats) interval(now time.Time) probeReport {
	r := s.report("probe-interval", s.probeCounts.minus(s.mark), s.markTime, now)
	s.mark, s.markTime = s.probeCounts, now
	s.reportedMax, s.reported = s.maxSeq, true
	return r
}

// final reports the figures of the whole run.
func (s *probeStats) final() probeReport {
	return s.report("probe-final", s.probeCounts, s.first, s.last)
}

func (s *probeStats) report(typ string, c probeCounts, from, to time.Time) probeReport {
	secs := to.Sub(from).Seconds()
	r := probeReport{
		Type: typ, From: s.key.from.String(), Sender: fmt.Sprintf("%08x", s.key.id),
		Start: from.Sub(s.first).Seconds(), End: to.Sub(s.first).Seconds(),
		Received: c.received, Expected: c.expected, Lost: c.lost(), Duplicates: c.duplicates,
		OutOfOrder: c.outOfOrder, Late: c.late, JitterMs: s.jitter / 1e6, Bytes: c.bytes,
	}
	if c.expected > 0 {
		r.LossPct = 100 * float64(r.Lost) / float64(c.expected)
	}
	if secs > 0 {
		r.BitRate = float64(c.bytes) * 8 / secs
	}
	return r
}

// String is the report as one human-readable line.
func (r probeReport) String() string {
	label := "total"
	if r.Type == "probe-interval" {
		label = "     "
	}
	return fmt.Sprintf("[%s #%s] %s %6.2f-%-6.2fs  received %d  lost %d/%d (%.2f%%)  dup %d  out-of-order %d  late %d  jitter %.3f ms  %s",
		r.From, r.Sender, label, r.Start, r.End, r.Received, r.Lost, r.Expected, r.LossPct,
		r.Duplicates, r.OutOfOrder, r.Late, r.JitterMs, formatBitRate(r.BitRate))
}

func formatBitRate(bps float64) string {
	switch {
	case bps >= 1e9:
		return fmt.Sprintf("%.2f Gbit/s", bps/1e9)
	case bps >= 1e6:
		return fmt.Sprintf("%.2f Mbit/s", bps/1e6)
	default:
		return fmt.Sprintf("%.2f kbit/s", bps/1e3)
	}
}

// rttHistogram keeps round-trip times in buckets 1/64 of a power of two wide, so percentiles
// are within 1.6% in constant memory however long the probe runs.
type rttHistogram struct {
	buckets  [64 * 60]uint64
	n        uint64
	sum      float64
	min, max int64
}

func rttBucket(ns uint64) int {
	if ns < 64 {
		return int(ns)
	}
	e := bits.Len64(ns) - 7 // ns>>e is in [64, 127]
	return (e+1)*64 + int(ns>>e) - 64
}

// rttBucketMid is the middle of bucket i, in nanoseconds.
func rttBucketMid(i int) float64 {
	if i < 64 {
		return float64(i)
	}
	e := i/64 - 1
	low := uint64(i%64+64) << e
	return float64(low) + float64(uint64(1)<<e)/2
}

func (h *rttHistogram) add(ns int64) {
	ns = max(ns, 0)
	if h.n == 0 || ns < h.min {
		h.min = ns
	}
	h.max = max(h.max, ns)
	h.n++
	h.sum += float64(ns)
	h.buckets[min(rttBucket(uint64(ns)), len(h.buckets)-1)]++
}

// percentile returns the p-th percentile (0 < p <= 100) in nanoseconds, clamped to min and max.
func (h *rttHistogram) percentile(p float64) float64 {
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	var seen uint64
	for i, c := range h.buckets {
		seen += c
		if c > 0 && seen >= rank {
			return min(max(rttBucketMid(i), float64(h.min)), float64(h.max))
		}
	}
	return float64(h.max)
}
