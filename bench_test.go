package main

// BenchmarkRoomFanout measures room fan-out the way NATS test/bench_test.go doFanout does:
// many members read on their own goroutines while a few senders write b.N messages in total.
//
// The same load generator drives the in-process server (default) or any IRC server already
// running on loopback, so labchat and other servers are measured by identical code:
//
//	go test -run '^$' -bench RoomFanout -benchtime 50000x -count 5
//	LABCHAT_BENCH_ADDR=127.0.0.1:6667 LABCHAT_BENCH_PID=$(pidof labchat) \
//	    go test -run '^$' -bench RoomFanout -benchtime 500x -count 5
//
// The external server must allow guests, 1,000+ connections from 127.0.0.1 and have flood
// control off (labchat: require_login = false, flood_rate = 0, max_clients_per_ip = 5000).
// With LABCHAT_BENCH_PID the server's peak RSS of each run is reported (/proc/PID/status
// VmHWM, reset through /proc/PID/clear_refs before the members connect).

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fanoutText follows the send timestamp in every message: a chat line of typical length.
const fanoutText = "the quick brown fox jumps over the lazy dog"

// latencySamplesPerMember bounds what each member records, so latency bookkeeping costs
// the same at 500 and at 50,000 messages.
const latencySamplesPerMember = 256

func BenchmarkRoomFanout(b *testing.B) {
	for _, tc := range []struct{ members, senders int }{{500, 10}, {1000, 10}} {
		name := fmt.Sprintf("members=%d,senders=%d", tc.members, tc.senders)
		b.Run(name, func(b *testing.B) {
			benchFanout(b, tc.members, tc.senders, false)
		})
		// The same room with every member on IRC over WebSocket (websocket.go).
		b.Run(name+",transport=ws", func(b *testing.B) {
			benchFanout(b, tc.members, tc.senders, true)
		})
	}
}

// benchTag keeps nicks and room names of this process apart from earlier runs on a
// long-running external server, whose old sessions may not have quit yet.
var (
	benchTag  = newBenchTag()
	benchRuns atomic.Int64
)

func newBenchTag() string {
	var b [3]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func benchFanout(b *testing.B, members, senders int, ws bool) {
	addr, external := os.LookupEnv("LABCHAT_BENCH_ADDR")
	if ws {
		addr, external = os.LookupEnv("LABCHAT_BENCH_WEB_ADDR")
	}
	if !external {
		cfg := testConfig(b)
		cfg.SendQBytes = 64 << 20 // the readers share the server's CPUs; let them lag, not drop
		if ws {
			cfg.WebListen = "127.0.0.1:0"
		}
		ts := startServer(b, cfg, "")
		addr = ts.addr
		if ws {
			addr = ts.WebAddr().String()
		}
	}
	pid := os.Getenv("LABCHAT_BENCH_PID")
	if pid != "" {
		resetPeakRSS(b, pid)
	}
	f := newFanout(b, addr, members, senders)
	f.ws = ws
	defer f.close()
	f.connect()

	cpuPID := cmp.Or(pid, "self")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpuBefore, cpuOK := cpuSeconds(cpuPID)
	b.ResetTimer()
	elapsed := f.run()
	b.StopTimer()
	cpuAfter, _ := cpuSeconds(cpuPID)
	runtime.ReadMemStats(&after)

	deliveries := float64(b.N) * float64(members-1)
	b.ReportMetric(deliveries/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(f.p99())/1e6, "p99-ms")
	if !external {
		// MemStats counts the whole process, load generator included; its hot path (ReadSlice,
		// AppendInt into reused buffers) allocates nothing, so this is the server's cost.
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/deliveries, "allocs/delivery")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/deliveries, "B/delivery")
	}
	if pid != "" {
		b.ReportMetric(peakRSSMB(b, pid), "server-MB")
	}
	if cpuOK {
		// CPU time is steadier than wall time on a shared machine. In-process it includes
		// the load generator, so compare it only between runs of the same kind.
		unit := "server-cpu-ns/delivery"
		if pid == "" {
			unit = "process-cpu-ns/delivery"
		}
		b.ReportMetric((cpuAfter-cpuBefore)*1e9/deliveries, unit)
	}
}

// fanout is one run: members joined to one room, the first `senders` of them also sending.
type fanout struct {
	b       *testing.B
	addr    string
	room    string
	marker  []byte // " PRIVMSG <room> :", which starts the text members time
	members []*fanoutMember
	senders int
	ws      bool // members speak IRC over WebSocket (benchWS) instead of TCP
	joined  sync.WaitGroup
	done    sync.WaitGroup
	errs    chan error
}

// fanoutMember is one connection. The reader goroutine owns got and samples until done.
type fanoutMember struct {
	f       *fanout
	nick    string
	conn    net.Conn
	br      *bufio.Reader
	ws      *benchWS   // nil over TCP
	wmu     sync.Mutex // guards writes to conn: the sender's flushes and the reader's PONGs
	sends   int        // messages this member sends
	want    int        // messages from others it must receive
	got     int
	stride  int
	samples []int64 // delivery latencies in ns, every stride-th message
}

func newFanout(b *testing.B, addr string, members, senders int) *fanout {
	run := benchRuns.Add(1)
	room := fmt.Sprintf("#fan%s%d", benchTag, run)
	f := &fanout{b: b, addr: addr, room: room, senders: senders, errs: make(chan error, members)}
	f.marker = []byte(" PRIVMSG " + room + " :")
	stride := max(1, b.N/latencySamplesPerMember)
	for i := range members {
		m := &fanoutMember{f: f, nick: fmt.Sprintf("b%s%dm%d", benchTag, run, i), stride: stride}
		if i < senders {
			m.sends = b.N / senders
			if i < b.N%senders {
				m.sends++
			}
		}
		m.want = b.N - m.sends
		m.samples = make([]int64, 0, m.want/stride+1)
		f.members = append(f.members, m)
	}
	return f
}

// connect registers every member and returns once all of them are in the room.
func (f *fanout) connect() {
	f.joined.Add(len(f.members))
	f.done.Add(len(f.members))
	work := make(chan *fanoutMember)
	var dialers sync.WaitGroup
	for range 32 {
		dialers.Go(func() {
			for m := range work {
				if err := m.dial(); err != nil {
					f.fail(err)
					f.joined.Done()
					f.done.Done()
				}
			}
		})
	}
	for _, m := range f.members {
		work <- m
	}
	close(work)
	dialers.Wait()
	f.wait(&f.joined, 60*time.Second, "joining")
}

func (m *fanoutMember) dial() error {
	conn, err := net.DialTimeout("tcp", m.f.addr, ioTimeout)
	if err != nil {
		return fmt.Errorf("dial %s: %w", m.f.addr, err)
	}
	m.conn = conn
	m.br = bufio.NewReaderSize(m.conn, 64<<10)
	login := fmt.Appendf(nil, "NICK %s\r\nUSER %s 0 * :bench\r\nJOIN %s\r\n", m.nick, m.nick, m.f.room)
	if m.f.ws {
		if m.ws, err = benchWSHandshake(conn, m.br, m.f.addr); err != nil {
			conn.Close()
			return fmt.Errorf("websocket %s: %w", m.nick, err)
		}
		login = m.ws.frames(nil, login)
	}
	if _, err = conn.Write(login); err != nil {
		conn.Close()
		return fmt.Errorf("register %s: %w", m.nick, err)
	}
	go m.read()
	return nil
}

// read counts the room's messages until the connection ends; it answers PINGs so that a
// long run is not timed out by the server.
func (m *fanoutMember) read() {
	joined := false
	for {
		var line []byte
		var err error
		if m.ws != nil {
			line, err = m.ws.readMessage(m.br)
		} else {
			line, err = m.br.ReadSlice('\n')
		}
		if err != nil {
			if !joined || m.got < m.want {
				m.f.fail(fmt.Errorf("%s: read after %d of %d messages: %w", m.nick, m.got, m.want, err))
				m.finish(joined)
			}
			return
		}
		switch {
		case bytes.HasPrefix(line, []byte("PING ")):
			pong := append([]byte("PONG"), line[4:]...)
			if m.ws != nil {
				pong = m.ws.frames(nil, append(pong, '\r', '\n'))
			}
			m.write(pong)
		case !joined && bytes.Contains(line, []byte(" 366 ")):
			joined = true
			m.f.joined.Done()
			if m.want == 0 {
				m.f.done.Done()
			}
		case bytes.HasPrefix(line, []byte("ERROR ")):
			m.f.fail(fmt.Errorf("%s: server said %q", m.nick, bytes.TrimSpace(line)))
		case joined && m.got < m.want:
			m.count(line)
		}
	}
}

// finish releases what the main goroutine waits for when a member fails.
func (m *fanoutMember) finish(joined bool) {
	if !joined {
		m.f.joined.Done()
	}
	if m.want > 0 || !joined {
		m.f.done.Done()
	}
}

func (m *fanoutMember) count(line []byte) {
	i := bytes.Index(line, m.f.marker)
	if i < 0 {
		return
	}
	m.got++
	if m.got%m.stride == 0 {
		text := line[i+len(m.f.marker):]
		stamp, _, _ := bytes.Cut(text, []byte(" "))
		sent, err := strconv.ParseInt(string(stamp), 10, 64)
		if err == nil && len(m.samples) < cap(m.samples) {
			m.samples = append(m.samples, time.Now().UnixNano()-sent)
		}
	}
	if m.got == m.want {
		m.f.done.Done()
	}
}

func (m *fanoutMember) write(b []byte) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := m.conn.Write(b)
	return err
}

// run starts the senders and returns the time from the first send until every member has
// every message.
func (f *fanout) run() time.Duration {
	start := time.Now()
	for _, m := range f.members[:f.senders] {
		go m.send()
	}
	f.wait(&f.done, 30*time.Second+time.Duration(f.b.N*len(f.members))*10*time.Microsecond, "delivering")
	return time.Since(start)
}

// send writes the member's share of messages through a buffer, each stamped with its
// send time for the latency sample.
func (m *fanoutMember) send() {
	bw := bufio.NewWriter(writerFunc(m.write))
	line := make([]byte, 0, 128)
	var frame []byte
	for range m.sends {
		line = append(line[:0], "PRIVMSG "...)
		line = append(line, m.f.room...)
		line = append(line, " :"...)
		line = strconv.AppendInt(line, time.Now().UnixNano(), 10)
		line = append(line, ' ')
		line = append(line, fanoutText...)
		line = append(line, '\r', '\n')
		out := line
		if m.ws != nil {
			frame = m.ws.frames(frame[:0], line)
			out = frame
		}
		if _, err := bw.Write(out); err != nil {
			m.f.fail(fmt.Errorf("%s: send: %w", m.nick, err))
			return
		}
	}
	if err := bw.Flush(); err != nil {
		m.f.fail(fmt.Errorf("%s: send: %w", m.nick, err))
	}
}

type writerFunc func([]byte) error

func (w writerFunc) Write(b []byte) (int, error) {
	if err := w(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// fail records a member's error for the main goroutine; the first one is enough.
func (f *fanout) fail(err error) {
	select {
	case f.errs <- err:
	default:
	}
}

// wait blocks until wg is done, failing the benchmark on the first error or at the deadline.
func (f *fanout) wait(wg *sync.WaitGroup, timeout time.Duration, what string) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case err := <-f.errs:
		f.b.Fatalf("%s: %v", what, err)
	case <-time.After(timeout):
		f.b.Fatalf("%s: not done after %v: %s", what, timeout, f.progress())
	}
	select {
	case err := <-f.errs:
		f.b.Fatalf("%s: %v", what, err)
	default:
	}
}

// progress is read only after a timeout, when the numbers are a diagnosis, not a result.
func (f *fanout) progress() string {
	short := 0
	for _, m := range f.members {
		if m.got < m.want {
			short++
		}
	}
	return fmt.Sprintf("%d of %d members still missing messages", short, len(f.members))
}

func (f *fanout) p99() int64 {
	var all []int64
	for _, m := range f.members {
		all = append(all, m.samples...)
	}
	if len(all) == 0 {
		return 0
	}
	slices.Sort(all)
	return all[len(all)*99/100]
}

func (f *fanout) close() {
	for _, m := range f.members {
		if m.conn != nil {
			m.conn.Close()
		}
	}
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux: clear_refs value 5).
func resetPeakRSS(b *testing.B, pid string) {
	if err := os.WriteFile("/proc/"+pid+"/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset peak RSS of %s: %v", pid, err)
	}
}

// cpuSeconds is the user+system CPU time of a process from /proc/PID/stat (Linux only:
// ok is false elsewhere). Times there are in USER_HZ ticks, 100 a second on Linux.
func cpuSeconds(pid string) (secs float64, ok bool) {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the command name, which is in parentheses and may contain spaces.
	_, rest, _ := bytes.Cut(stat, []byte(") "))
	fields := bytes.Fields(rest)
	if len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseFloat(string(fields[11]), 64)
	stime, err2 := strconv.ParseFloat(string(fields[12]), 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return (utime + stime) / 100, true
}

func peakRSSMB(b *testing.B, pid string) float64 {
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		b.Fatalf("read RSS of %s: %v", pid, err)
	}
	_, rest, ok := bytes.Cut(status, []byte("VmHWM:"))
	if !ok {
		b.Fatalf("no VmHWM in /proc/%s/status", pid)
	}
	fields := bytes.Fields(rest)
	kb, err := strconv.ParseFloat(string(fields[0]), 64)
	if err != nil {
		b.Fatalf("parse VmHWM of %s: %v", pid, err)
	}
	return kb / 1024
}

// benchWS is the load generator's end of IRC over WebSocket, framed by hand like the TCP
// members' lines, so that both transports cost the load generator about the same and the
// comparison measures the server. (A library client would also spend a crypto/rand read and
// a context per message.) The mask key is drawn once per connection: a browser draws one per
// frame, which costs the server nothing more.
type benchWS struct {
	mask    [4]byte
	pending int // bytes of the last message returned, still in the bufio.Reader
}

// benchWSHandshake upgrades conn to a WebSocket with text.ircv3.net; br reads the response
// and must be used for the frames after it.
func benchWSHandshake(conn net.Conn, br *bufio.Reader, host string) (*benchWS, error) {
	var key [16]byte
	rand.Read(key[:])
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
		host, base64.StdEncoding.EncodeToString(key[:]), subprotocolText)
	conn.SetReadDeadline(time.Now().Add(ioTimeout))
	defer conn.SetReadDeadline(time.Time{})
	status, err := br.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("read upgrade response: %w", err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101 ") {
		return nil, fmt.Errorf("upgrade refused: %q", strings.TrimSpace(status))
	}
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("read upgrade response: %w", err)
		}
		if h == "\r\n" {
			break
		}
	}
	w := &benchWS{}
	rand.Read(w.mask[:])
	return w, nil
}

// frames appends one masked text frame per CRLF-terminated line of lines to dst.
func (w *benchWS) frames(dst, lines []byte) []byte {
	for line := range bytes.Lines(lines) {
		line = bytes.TrimRight(line, "\r\n")
		dst = append(dst, 0x81) // FIN, text
		switch n := len(line); {
		case n < 126:
			dst = append(dst, 0x80|byte(n))
		default:
			dst = append(dst, 0x80|126, byte(n>>8), byte(n))
		}
		dst = append(dst, w.mask[:]...)
		start := len(dst)
		dst = append(dst, line...)
		for i := range line {
			dst[start+i] ^= w.mask[i&3]
		}
	}
	return dst
}

// readMessage returns the payload of the next data frame (the server sends each line as one
// unfragmented, unmasked frame), valid until the next call: it is still in br's buffer, as
// ReadSlice's lines are for the TCP members.
func (w *benchWS) readMessage(br *bufio.Reader) ([]byte, error) {
	br.Discard(w.pending)
	w.pending = 0
	for {
		h, err := br.Peek(2)
		if err != nil {
			return nil, err
		}
		op, hdr, n := h[0]&0x0f, 2, int(h[1]&0x7f)
		switch n {
		case 126:
			ext, err := br.Peek(4)
			if err != nil {
				return nil, err
			}
			hdr, n = 4, int(ext[2])<<8|int(ext[3])
		case 127:
			return nil, errors.New("websocket: frame over 64 KiB from the server")
		}
		frame, err := br.Peek(hdr + n) // under 64 KiB: the reader's buffer holds it
		if err != nil {
			return nil, err
		}
		switch op {
		case 0x1, 0x2:
			w.pending = hdr + n
			return frame[hdr:], nil
		case 0x8:
			return nil, fmt.Errorf("websocket closed by the server: %q", frame[hdr:])
		}
		br.Discard(hdr + n)
	}
}

// idleSessions is how many idle sessions BenchmarkIdleSessionMemory opens.
const idleSessions = 1000

// BenchmarkIdleSessionMemory reports the memory an idle, registered session costs, over TCP
// and over WebSocket, from the heap and stacks in use (runtime.MemStats after a GC) and the
// process RSS. Client and server share the process, so each figure includes the client's end
// of the connection; transport=bare is that part alone (a client socket and the accepted
// socket held by a plain listener, no session) to subtract. Run with -benchtime 1x:
//
//	go test -run '^$' -bench IdleSessionMemory -benchtime 1x -count 5
func BenchmarkIdleSessionMemory(b *testing.B) {
	for _, transport := range []string{"bare", "tcp", "ws"} {
		b.Run("transport="+transport, func(b *testing.B) {
			for range b.N {
				benchIdleSessions(b, transport)
			}
		})
	}
}

func benchIdleSessions(b *testing.B, transport string) {
	b.StopTimer()
	var addr string
	var held []net.Conn
	var hmu sync.Mutex
	switch transport {
	case "bare":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				hmu.Lock()
				held = append(held, c)
				hmu.Unlock()
			}
		}()
		addr = ln.Addr().String()
	default:
		cfg := testConfig(b)
		cfg.WebListen = "127.0.0.1:0"
		cfg.History = false
		ts := startServer(b, cfg, "")
		defer ts.stop(b)
		addr = ts.addr
		if transport == "ws" {
			addr = ts.WebAddr().String()
		}
	}
	before, rssBefore, gBefore := idleMemory()
	clients := make([]net.Conn, 0, idleSessions)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
		hmu.Lock()
		for _, c := range held {
			c.Close()
		}
		hmu.Unlock()
	}()
	b.StartTimer()
	for i := range idleSessions {
		c, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			b.Fatalf("dial %d: %v", i, err)
		}
		clients = append(clients, c)
		if transport != "bare" {
			if err := idleLogin(c, addr, fmt.Sprintf("idle%d", i), transport == "ws"); err != nil {
				b.Fatalf("session %d: %v", i, err)
			}
		}
	}
	b.StopTimer()
	if transport == "bare" {
		for deadline := time.Now().Add(ioTimeout); ; {
			hmu.Lock()
			n := len(held)
			hmu.Unlock()
			if n == idleSessions {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("the listener accepted %d of %d connections", n, idleSessions)
			}
			time.Sleep(time.Millisecond) // the accept loop has no hook to wait on
		}
	}
	after, rssAfter, gAfter := idleMemory()
	b.ReportMetric(float64(after-before)/idleSessions, "heap+stack-B/session")
	b.ReportMetric(float64(rssAfter-rssBefore)/idleSessions, "rss-B/session")
	b.ReportMetric(float64(gAfter-gBefore)/idleSessions, "goroutines/session")
}

// idleLogin registers a guest on conn and reads the welcome to its end, so that the session
// is idle with an empty send queue; the reader used for that is dropped.
func idleLogin(conn net.Conn, host, nick string, ws bool) error {
	br := bufio.NewReaderSize(conn, 4096)
	login := fmt.Appendf(nil, "NICK %s\r\nUSER %s 0 * :idle\r\n", nick, nick)
	var w *benchWS
	if ws {
		var err error
		if w, err = benchWSHandshake(conn, br, host); err != nil {
			return err
		}
		login = w.frames(nil, login)
	}
	if _, err := conn.Write(login); err != nil {
		return err
	}
	conn.SetReadDeadline(time.Now().Add(ioTimeout))
	defer conn.SetReadDeadline(time.Time{})
	for {
		var line []byte
		var err error
		if ws {
			line, err = w.readMessage(br)
		} else {
			line, err = br.ReadSlice('\n')
		}
		if err != nil {
			return fmt.Errorf("read welcome: %w", err)
		}
		if bytes.Contains(line, []byte(" 376 ")) || bytes.Contains(line, []byte(" 422 ")) {
			return nil
		}
	}
}

// idleMemory returns the heap and stack bytes in use after a full GC, the RSS and the number
// of goroutines.
func idleMemory() (inUse, rss uint64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		if _, rest, ok := bytes.Cut(status, []byte("VmRSS:")); ok {
			if f := bytes.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseUint(string(f[0]), 10, 64)
				rss = kb << 10
			}
		}
	}
	return ms.HeapInuse + ms.StackInuse, rss, runtime.NumGoroutine()
}
