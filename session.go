package main

// A Session is one client connection. Three goroutines serve it:
//   - the reader turns bytes into lines and queues them (the receive queue, bounded by
//     flood_queue: a client that floods past it is dropped);
//   - the processor (run) owns the session: it takes lines at the flood-control rate, runs
//     commands, and alone ends the session;
//   - the writer drains the send queue with one write per batch.
// Nobody but the writer touches the socket for writing, and nobody waits for a slow peer:
// sending is appending bytes to the send queue under qmu.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// closeGrace bounds the final flush of a closing session (its ERROR line).
const closeGrace = 2 * time.Second

// capSet is a set of negotiated IRCv3 capabilities, one bit each.
type capSet uint32

const (
	capServerTime capSet = 1 << iota
	capMessageTags
	capEchoMessage
	capSASL
	capAccountRegistration
	capCapNotify
	capMultiPrefix
	capUserhostInNames
	capBatch
	capChathistory
	capLabeledResponse
	capAwayNotify
	capExtendedMonitor
	capAccountNotify
	capExtendedJoin
	capAccountTag
	capSetname
	capInviteNotify
	capChghost
	capMultiline     // draft/multiline (multiline.go)
	capRedaction     // draft/message-redaction (redact.go)
	capMetadata      // draft/metadata-3 (metadata.go)
	capEventPlayback // draft/event-playback: TAGMSG and TOPIC in CHATHISTORY replies
	capReadMarker    // draft/read-marker (readmarker.go)
	capSearch        // soju.im/search (search.go)
)

// capNames is the order CAP LS lists them in; values are added by capValue.
var capNames = []struct {
	name string
	bit  capSet
}{
	{"batch", capBatch},
	{"account-notify", capAccountNotify},
	{"account-tag", capAccountTag},
	{"away-notify", capAwayNotify},
	{"cap-notify", capCapNotify},
	{"chghost", capChghost},
	{"draft/account-registration", capAccountRegistration},
	{"draft/chathistory", capChathistory},
	{"draft/event-playback", capEventPlayback},
	{"draft/message-redaction", capRedaction},
	{"draft/metadata-3", capMetadata},
	{"draft/multiline", capMultiline},
	{"draft/read-marker", capReadMarker},
	{"echo-message", capEchoMessage},
	{"extended-join", capExtendedJoin},
	{"labeled-response", capLabeledResponse},
	{"extended-monitor", capExtendedMonitor},
	{"invite-notify", capInviteNotify},
	{"message-tags", capMessageTags},
	{"multi-prefix", capMultiPrefix},
	{"sasl", capSASL},
	{"server-time", capServerTime},
	{"setname", capSetname},
	{"soju.im/search", capSearch},
	{"userhost-in-names", capUserhostInNames},
}

// inLine is one received line, or the news that a line was too long.
type inLine struct {
	text    string
	tooLong bool
}

// Session is one connected client.
type Session struct {
	s           *Server
	conn        transport // TCP or WebSocket (transport.go)
	ip          string
	connectedAt time.Time
	guestID     string // names this connection's DM history while it is a guest (chathistory.go)

	// Identity and membership: written by the owning processor (or a takeover) with s.mu
	// held, read by other sessions under s.mu; the processor may read them without it.
	nick       string
	user       string
	realname   string
	account    string
	registered bool
	caps       capSet
	invisible  bool   // user mode +i: hidden from WHO masks and WHOIS of those sharing no room
	wallops    bool   // user mode +w: receives WALLOPS
	oper       string // how c became a server operator (user mode +o), "" if it is none
	bot        bool   // user mode +B (IRCv3 bot-mode): marked in WHOIS, WHO and a bot tag
	host       string // shown instead of the address once an operator set one (CHGHOST)
	rooms      map[*Room]struct{}
	invitedTo  map[*Room]struct{}  // INVITEs not yet used; a room re-created is another Room
	u          *User               // the user this connection is one of; set at registration (user.go)
	renamed    string              // the user's new nick, chosen on another connection; see adoptNick
	gone       bool                // removed from the registry; nothing may add it back
	presence   presence            // AWAY and MONITOR state (presence.go)
	metaSubs   map[string]struct{} // METADATA SUB keys (metadata.go)

	slot *connSlot // the connection's place in the budget (budget.go); given back when it ends

	// Owned by the processor goroutine alone.
	capNegotiating    bool
	capVersion        int
	pendingPass       string
	serverPassOK      bool
	saslBuf           strings.Builder
	saslActive        bool
	nickProvisional   bool // nick not claimed (held by an account's user, or reserved for an account); decided at registration
	toldLoginRequired bool
	pingSent          bool
	prevLogin         time.Time // the account's login before this one, told at welcome
	prevAddr          string
	floodTokens       float64
	floodStamp        time.Time
	label             string // labeled-response: the label of the command being run, or ""
	labeled           []byte // replies to that command, held until it ends (labeled.go)
	labeledLines      int
	ml                *multilineBatch   // the draft/multiline batch being received (multiline.go)
	metaPrereg        map[string]string // METADATA SET before registration (metadata.go)

	lastActive atomic.Int64 // unix nanoseconds of the last line; read by WHO and WHOIS

	qmu      sync.Mutex // tier 3; guards outq, outBytes, closing, overflow, written
	outq     [][]byte   // lines waiting for the writer, shared with other queues: read-only
	outBytes int        // total length of outq, held to sendq_bytes
	written  []func()   // run by the writer once every byte queued before them is written
	closing  bool       // the final line is queued; accept nothing more
	overflow bool       // the send queue passed sendq_bytes
	wake     chan struct{}

	nickChanged chan struct{} // another connection of the user renamed it (renameLocked)

	killOnce   sync.Once
	killReason string        // written once before killed is closed
	killed     chan struct{} // closed when the session must end
	writerDone chan struct{}
}

func newSession(s *Server, conn transport, ip string) *Session {
	now := time.Now()
	return &Session{
		s:           s,
		conn:        conn,
		ip:          ip,
		connectedAt: now,
		guestID:     newMsgID(),
		rooms:       make(map[*Room]struct{}),
		invitedTo:   make(map[*Room]struct{}),
		floodTokens: float64(s.cfg.FloodBurst),
		floodStamp:  now,
		wake:        make(chan struct{}, 1),
		nickChanged: make(chan struct{}, 1),
		killed:      make(chan struct{}),
		writerDone:  make(chan struct{}),
	}
}

// run is the processor: the one goroutine that owns the session until it ends.
func (c *Session) run() {
	lines := make(chan inLine, c.s.cfg.FloodQueue)
	readerDone := make(chan struct{})
	go c.writeLoop()
	go func() {
		defer close(readerDone)
		c.readLoop(lines)
	}()
	defer c.s.files.revoke(c)
	defer func() {
		<-c.writerDone
		c.conn.Close() // unblocks the reader if the writer ended on an error
		<-readerDone
	}()

	regTimer := time.NewTimer(c.s.cfg.RegistrationTimeout.Duration)
	defer regTimer.Stop()
	idle := time.NewTimer(c.s.cfg.PingInterval.Duration)
	defer idle.Stop()
	for {
		select {
		case in, ok := <-lines:
			if !ok {
				c.end("Connection closed")
				return
			}
			if !c.inMultilineBatch(in.text) && !c.throttle() {
				c.end(c.killReason)
				return
			}
			c.handleLine(in)
			c.lastActive.Store(time.Now().UnixNano())
			c.slot.touch()
			c.pingSent = false
			idle.Reset(c.s.cfg.PingInterval.Duration)
		case <-regTimer.C:
			if !c.registered {
				c.end(c.registrationTimeoutReason())
				return
			}
		case <-idle.C:
			if c.pingSent {
				c.end(fmt.Sprintf("Ping timeout: %v", c.s.cfg.PingTimeout.Duration))
				return
			}
			c.pingSent = true
			c.sendLine("PING :" + c.s.cfg.Name)
			idle.Reset(c.s.cfg.PingTimeout.Duration)
		case <-c.nickChanged:
			c.adoptNick()
		case <-c.killed:
			c.end(c.killReason)
			return
		}
	}
}

// lastActiveSeen is when the client last sent a line (its connect time before that).
func (c *Session) lastActiveSeen() time.Time {
	if ns := c.lastActive.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return c.connectedAt
}

func (c *Session) registrationTimeoutReason() string {
	if c.s.cfg.RequireLogin && c.account == "" && c.nick != "" && c.user != "" {
		return "Registration timeout: this server requires login (SASL PLAIN or PASS account:password)"
	}
	return "Registration timeout"
}

// readLoop reads lines until the connection fails, then closes lines.
func (c *Session) readLoop(lines chan<- inLine) {
	defer close(lines)
	flood := c.s.cfg.FloodRate > 0
	for {
		line, err := c.conn.ReadLine()
		in := inLine{tooLong: errors.Is(err, ErrLineTooLong)}
		if err != nil && !in.tooLong {
			return
		}
		if !in.tooLong {
			if len(line) == 0 {
				continue
			}
			in.text = string(line)
		}
		if !flood {
			select {
			case lines <- in:
			case <-c.killed:
				return
			}
			continue
		}
		select {
		case lines <- in:
		default:
			c.kill("Excess Flood")
			return
		}
	}
}

// throttle waits until flood control lets the next line through: flood_burst lines at once,
// then flood_rate a second. It reports false if the session was killed while waiting.
func (c *Session) throttle() bool {
	rate := c.s.cfg.FloodRate
	if rate <= 0 {
		return true
	}
	now := time.Now()
	c.floodTokens = min(c.floodTokens+now.Sub(c.floodStamp).Seconds()*rate, float64(c.s.cfg.FloodBurst))
	c.floodStamp = now
	if c.floodTokens >= 1 {
		c.floodTokens--
		return true
	}
	wait := time.Duration((1 - c.floodTokens) / rate * float64(time.Second))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		c.floodTokens, c.floodStamp = 0, time.Now()
		return true
	case <-c.killed:
		return false
	}
}

// writeLoop sends what is queued, one WriteLines per batch, until the session closes.
func (c *Session) writeLoop() {
	defer close(c.writerDone)
	defer c.conn.Close()
	var batch [][]byte
	for {
		c.qmu.Lock()
		for len(c.outq) == 0 && len(c.written) == 0 && !c.closing {
			c.qmu.Unlock()
			<-c.wake
			c.qmu.Lock()
		}
		batch, c.outq = c.outq, batch[:0]
		c.outBytes = 0
		written := c.written
		c.written = nil
		closing := c.closing
		// Under qmu, so a kill's shorter deadline cannot be overwritten by this one.
		if closing {
			c.conn.SetWriteDeadline(time.Now().Add(closeGrace))
		} else {
			c.conn.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout.Duration))
		}
		c.qmu.Unlock()
		if _, err := c.conn.WriteLines(batch); err != nil {
			c.kill("Write error: " + shortNetError(err))
			return
		}
		for _, fn := range written {
			fn()
		}
		if closing {
			return
		}
		clear(batch) // let the shared lines go once every queue has written them
		if cap(batch) > maxIdleBatch {
			batch = nil // a burst is over: give its memory back
		}
	}
}

// maxIdleBatch is the longest line list a writer keeps between bursts (24 bytes a line).
const maxIdleBatch = 1024

// send queues a line for the client; b must not be modified afterwards, since the queue
// holds it (a room relay hands the same bytes to every member). It never blocks: past
// sendq_bytes the session is dropped ("SendQ exceeded") instead of stalling the sender.
func (c *Session) send(b []byte) {
	if len(b) == 0 {
		return
	}
	c.qmu.Lock()
	if c.closing || c.overflow {
		c.qmu.Unlock()
		return
	}
	if c.outBytes+len(b) > c.s.cfg.SendQBytes {
		c.overflow = true
		clear(c.outq) // the peer is not reading; what it missed is moot
		c.outq, c.outBytes = c.outq[:0], 0
		c.written = nil // and was never written
		c.qmu.Unlock()
		c.kill("SendQ exceeded")
		return
	}
	c.outq = append(c.outq, b)
	c.outBytes += len(b)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// afterWrite arranges for fn to run on the writer goroutine once everything queued so far
// has been written to the socket (Write returned without error). If the session ends first,
// fn never runs. fn must not block for long: it delays the session's next write.
func (c *Session) afterWrite(fn func()) {
	c.qmu.Lock()
	if c.closing || c.overflow {
		c.qmu.Unlock()
		return
	}
	c.written = append(c.written, fn)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// finish queues the session's last line and tells the writer to close after it.
func (c *Session) finish(last string) {
	c.qmu.Lock()
	if c.closing {
		c.qmu.Unlock()
		return
	}
	c.closing = true
	c.outq = append(c.outq, []byte(last+"\r\n"))
	c.conn.SetWriteDeadline(time.Now().Add(closeGrace))
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// kill asks the processor to end the session. Safe from any goroutine, even under s.mu or
// a room's relay lock: it only marks and signals.
func (c *Session) kill(reason string) {
	c.killOnce.Do(func() {
		c.killReason = reason
		close(c.killed)
	})
}

// end removes the session from the registry (others see it QUIT), queues "ERROR :reason"
// and closes the connection after it. Idempotent; must not be called under s.mu.
func (c *Session) end(reason string) {
	c.s.unregister(c, reason)
	c.finish("ERROR :" + reason)
	c.kill(reason)
}

func shortNetError(err error) string {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return "timed out"
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return "connection closed"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// sendLine queues a line built by the caller (without CRLF). Like sendMsg, reply and fail,
// it is for the session's own processor (a labeled command's replies are held back, see
// labeled.go); other goroutines use send.
func (c *Session) sendLine(line string) {
	b := make([]byte, 0, len(line)+2)
	b = append(b, line...)
	c.sendOwn(append(b, '\r', '\n'))
}

// sendMsg encodes and queues m. An unencodable message is a server bug, logged, not sent.
func (c *Session) sendMsg(m *Message) {
	b, err := m.AppendTo(nil)
	if err != nil {
		c.s.log.Error("encode reply", "command", m.Command, "err", err)
		return
	}
	c.sendOwn(b)
}

// reply sends a numeric (or other server reply) addressed to the client: ":server CODE nick params...".
func (c *Session) reply(code string, params ...string) {
	m := Message{Source: c.s.cfg.Name, Command: code, Params: append([]string{c.nickOrStar()}, params...)}
	c.sendMsg(&m)
}

// fail sends an IRCv3 standard reply: FAIL <command> <code> [context...] :<description>.
func (c *Session) fail(command, code string, params ...string) {
	m := Message{Source: c.s.cfg.Name, Command: "FAIL", Params: append([]string{command, code}, params...)}
	c.sendMsg(&m)
}

func (c *Session) nickOrStar() string {
	if c.nick == "" {
		return "*"
	}
	return c.nick
}

// prefix is nick!user@host, the source of the client's messages. Callers hold s.mu or are
// the processor.
func (c *Session) prefix() string {
	return c.nick + "!" + c.userOrNick() + "@" + c.hostname()
}

func (c *Session) userOrNick() string {
	if c.user != "" {
		return c.user
	}
	return c.nick
}

// handleLine parses and dispatches one line.
func (c *Session) handleLine(in inLine) {
	if in.tooLong {
		c.reply(ERR_INPUTTOOLONG, "Input line was too long (limit: 512 bytes, 8191 for tags)")
		return
	}
	if clientTagsTooLong(in.text) {
		c.reply(ERR_INPUTTOOLONG, "Input line was too long (limit: 4094 bytes of tags from a client)")
		return
	}
	m, err := ParseMessage(in.text)
	switch {
	case errors.Is(err, ErrLineEmpty):
		return
	case errors.Is(err, ErrBodyTooLong), errors.Is(err, ErrTagsTooLong):
		c.reply(ERR_INPUTTOOLONG, "Input line was too long (limit: 512 bytes, 8191 for tags)")
		return
	case errors.Is(err, ErrBadCommand):
		// A misspelt command (NONEXISTENT_COMMAND) is an unknown command to the user; the
		// tags are parsed already, so a labeled request gets a labeled answer.
		c.beginLabel(&m)
		c.reply(ERR_UNKNOWNCOMMAND, commandToken(in.text), "Unknown command")
		c.endLabel()
		return
	case err != nil:
		c.reply(ERR_UNKNOWNCOMMAND, "*", "Malformed line: "+err.Error())
		return
	}
	c.beginLabel(&m)
	defer c.endLabel()
	if !utf8.ValidString(in.text) {
		// ISUPPORT UTF8ONLY: nothing that is not UTF-8 is relayed or stored.
		c.fail(m.Command, "INVALID_UTF8", "Line not sent: it is not valid UTF-8 (this server accepts UTF-8 text only)")
		return
	}
	if c.multilineLine(&m) {
		return
	}
	cmd, ok := commandTable[m.Command]
	switch {
	case !ok:
		c.reply(ERR_UNKNOWNCOMMAND, m.Command, "Unknown command")
	case !c.registered && !cmd.preReg:
		c.reply(ERR_NOTREGISTERED, "You have not registered"+c.loginHint())
	case len(m.Params) < cmd.minParams:
		c.reply(ERR_NEEDMOREPARAMS, m.Command, "Not enough parameters")
	default:
		cmd.run(c, &m)
	}
}

// commandToken is the command word of a raw line (after tags and source), cut to something
// a reply can carry.
func commandToken(line string) string {
	for _, prefix := range "@:" {
		if strings.HasPrefix(line, string(prefix)) {
			_, line, _ = strings.Cut(line, " ")
			line = strings.TrimLeft(line, " ")
		}
	}
	word, _, _ := strings.Cut(line, " ")
	if word == "" || len(word) > 32 || strings.ContainsAny(word, ":\x00\r\n") || !utf8.ValidString(word) {
		return "*"
	}
	return word
}

// maxClientTagData is the tag data a client may send (message-tags: "Clients MUST NOT send
// messages with tag data exceeding 4094 bytes"); the rest of the codec's 8191 is the
// server's, for the tags it adds when relaying.
const maxClientTagData = 4094

// clientTagsTooLong reports a tag section the server must refuse with 417, not truncate.
func clientTagsTooLong(line string) bool {
	if !strings.HasPrefix(line, "@") {
		return false
	}
	end := strings.IndexByte(line, ' ')
	if end < 0 {
		end = len(line)
	}
	return end-1 > maxClientTagData
}

func (c *Session) loginHint() string {
	if c.s.cfg.RequireLogin && c.account == "" {
		return " (log in first: SASL PLAIN or PASS account:password)"
	}
	return ""
}
