package main

// Reconnecting. When a connection ends without the user asking (the server restarted, the
// network dropped, a ping timeout), run logs in again with backoff (1 s, doubling up to 30 s,
// each wait up to half again as long at random, so a class's 500 clients do not all come
// back in the same second), rejoins the rooms, and fetches what was missed with CHATHISTORY:
// TARGETS since the newest server time seen, then AFTER that time for each conversation with
// news. What was already shown is skipped by its msgid (seenIDs), so nothing shows twice.
// Meanwhile the prompt reads "[nick reconnecting ...]" and lines typed are not sent.
//
// The session ends instead when the user quit, with --no-reconnect, when the server refused
// the login (a changed password: asking again would not help), or when the server closed
// the connection for a reason reconnecting would undo (killed by an operator, logged in
// from elsewhere).

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

const (
	reconnectFirst = time.Second
	reconnectMax   = 30 * time.Second
	// catchUpLimit is the most missed messages fetched per conversation.
	catchUpLimit = 200
	// seenMax is how many msgids the client remembers for skipping replays.
	seenMax = 4096
)

// A connection can die without a word (a host that crashed, a cable pulled): no FIN, no RST,
// just silence. After keepaliveIdle without a line the client sends a PING; after
// keepaliveWait more it gives the connection up, and run reconnects. Variables for tests.
var (
	keepaliveIdle = 90 * time.Second
	keepaliveWait = 60 * time.Second
)

// watch closes cc when the server has been silent too long; it ends with the connection.
func (cc *clientConn) watch() {
	t := time.NewTicker(keepaliveIdle / 6)
	defer t.Stop()
	pinged := false
	for {
		select {
		case <-cc.gone:
			return
		case <-t.C:
		}
		silence := time.Since(time.Unix(0, cc.lastRead.Load()))
		switch {
		case silence >= keepaliveIdle+keepaliveWait:
			cc.silent.Store(true)
			cc.conn.Close()
			return
		case silence >= keepaliveIdle && !pinged:
			cc.send("PING", "keepalive")
			pinged = true
		case silence < keepaliveIdle:
			pinged = false
		}
	}
}

// errNotConnected is what sending says while the client is between connections.
var errNotConnected = errors.New("not connected to the server")

// finalServerErrors are ERROR reasons after which reconnecting would be wrong.
var finalServerErrors = []string{"Killed", "Logged in from", "banned", "K-Lined", "was deleted by the administrator", "was locked by the administrator"}

// accountGone matches the server's ERROR when the account itself was deleted or locked
// (accounts.go accountsChanged): said at once, as what it is, with no reconnect.
var accountGone = regexp.MustCompile(`Account (\S+) was (deleted|locked) by the administrator`)

// describeConnError says why a connection failed or ended in a student's words, not as a Go
// error ("dial tcp 127.0.0.1:6667: connect: connection refused"); the cause is kept in
// brackets for those who want to look it up.
func describeConnError(addr string, err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the server " + addr + " is not accepting connections (is it running? connection refused)"
	case errors.Is(err, syscall.ECONNRESET):
		return "the connection to " + addr + " was reset (connection reset by peer)"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "there is no route to " + addr + " (is the network up?)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the server " + addr + " closed the connection"
	case errors.Is(err, syscall.EPIPE):
		return "the connection to " + addr + " broke (broken pipe)"
	case errors.As(err, &ne) && ne.Timeout():
		return "the server " + addr + " did not answer in time"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "the server name " + dns.Name + " cannot be found"
	}
	if ee, ok := errors.AsType[*exitError](err); ok && ee.err != nil {
		return strings.TrimPrefix(ee.err.Error(), "connect to "+addr+": ")
	}
	return err.Error()
}

// resumeState is the session's memory across a reconnect; dispatch-goroutine (run) only.
type resumeState struct {
	rooms []string  // the rooms joined when the connection dropped
	since time.Time // the newest server time seen then
}

// seenIDs remembers the last seenMax msgids shown. Dispatch goroutine only.
type seenIDs struct {
	set  map[string]bool
	ring []string
	next int
}

// add records id and reports whether it was new.
func (s *seenIDs) add(id string) bool {
	if id == "" {
		return true
	}
	if s.set == nil {
		s.set, s.ring = map[string]bool{}, make([]string, seenMax)
	}
	if s.set[id] {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.set, old)
	}
	s.ring[s.next], s.set[id] = id, true
	s.next = (s.next + 1) % seenMax
	return true
}

// noteTime keeps the newest server time seen: what came after it was missed.
func (cs *clientSession) noteTime(m *Message) {
	v, ok := m.Tags["time"]
	if !ok || m.Tags["batch"] != "" {
		return
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return
	}
	cs.mu.Lock()
	if t.After(cs.lastTime) {
		cs.lastTime = t
	}
	cs.mu.Unlock()
}

// run dispatches the lines of cc, and of each connection after it, until the session ends.
func (cs *clientSession) run(cc *clientConn) {
	defer close(cs.done)
	for {
		cs.dispatch(cc)
		cc.close()
		err := cs.connectionEnded(cc)
		if err == nil || cs.opts.noReconnect || isFinal(err) {
			cs.endErr = err
			return
		}
		cc = cs.reconnect(err)
		if cc == nil {
			return
		}
		go cs.resumeSession()
	}
}

// finalError marks a connection's end that reconnecting must not undo.
type finalError struct{ error }

func (e finalError) Unwrap() error { return e.error }

func isFinal(err error) bool { return errors.As(err, new(finalError)) }

// connectionEnded says why cc ended: nil when the user quit.
func (cs *clientSession) connectionEnded(cc *clientConn) error {
	cs.mu.Lock()
	quitting := cs.quitting
	cs.mu.Unlock()
	if quitting {
		return nil
	}
	reason := cs.serverErr
	cs.serverErr = ""
	if reason != "" {
		if m := accountGone.FindStringSubmatch(reason); m != nil {
			return finalError{withExit(exitLoginRefused, fmt.Errorf("your account %s was %s by the administrator, so the server disconnected you (ask your instructor)", m[1], m[2]))}
		}
		err := withExit(exitProtocol, fmt.Errorf("server %s closed the connection: %s", cs.opts.addr, reason))
		for _, f := range finalServerErrors {
			if strings.Contains(reason, f) {
				return finalError{err}
			}
		}
		return err
	}
	err := cc.readErr
	if err == nil {
		err = io.EOF
	}
	if cc.silent.Load() {
		return withExit(exitProtocol, fmt.Errorf("connection to %s lost: the server stopped answering: %w", cs.opts.addr, err))
	}
	return withExit(exitProtocol, fmt.Errorf("connection lost: %s: %w", describeConnError(cs.opts.addr, err), err))
}

// goOffline forgets the rooms (remembering them for the rejoin) and shows "reconnecting".
func (cs *clientSession) goOffline() {
	cs.setConn(nil)
	cs.mu.Lock()
	cs.resume.since = cs.lastTime // taken now: lines delivered at the next login are newer
	cs.offline = true
	cs.online = make(chan struct{})
	cs.resume.rooms = cs.resume.rooms[:0]
	for _, r := range cs.rooms {
		cs.resume.rooms = append(cs.resume.rooms, r)
	}
	clear(cs.rooms)
	// Set now, as the server's default room may be joined again before resumeSession runs.
	for _, r := range cs.resume.rooms {
		cs.rejoining[clientFold(r)] = true
	}
	cs.mu.Unlock()
	cs.presence.mu.Lock()
	clear(cs.presence.watched) // the new connection's MONITOR lists start empty
	clear(cs.presence.peeked)
	cs.presence.mu.Unlock()
	cs.promptChanged()
}

func (cs *clientSession) goOnline(cc *clientConn) {
	cs.setConn(cc)
	cs.mu.Lock()
	cs.offline = false
	close(cs.online)
	cs.mu.Unlock()
	cs.promptChanged()
}

// reconnect logs in again with backoff; nil when the session ends instead (endErr says why).
func (cs *clientSession) reconnect(cause error) *clientConn {
	cs.goOffline()
	cs.sink.event(chatEvent{Time: time.Now(), Kind: kindError, Text: lostText(cs.opts.addr, cause) + "; reconnecting ..."})
	cs.opts.register = false // the account exists now: log in to it
	delay := reconnectFirst
	for attempt := 1; ; attempt++ {
		wait := delay + rand.N(delay/2+1)
		cs.sink.event(chatEvent{Time: time.Now(), Kind: kindInfo, Text: fmt.Sprintf("reconnecting to %s in %s (attempt %d; /quit to give up)", cs.opts.addr, wait.Round(100*time.Millisecond), attempt)})
		select {
		case <-time.After(wait):
		case <-cs.ctx.Done():
			return nil
		}
		if cs.isQuitting() {
			return nil
		}
		cc, err := cs.connect()
		if err == nil {
			cs.mu.Lock()
			cs.skipLastLogin = true
			cs.mu.Unlock()
			cs.goOnline(cc)
			cs.sink.event(chatEvent{Time: time.Now(), Kind: kindInfo, Text: "reconnected to " + cs.opts.addr})
			return cc
		}
		cs.setConn(nil)
		if ee, ok := errors.AsType[*exitError](err); ok && ee.code == exitLoginRefused || errors.Is(err, errTLSRefused) {
			cs.endErr = err // a changed password or a deleted account: trying again will not help
			return nil
		}
		cs.sink.event(chatEvent{Time: time.Now(), Kind: kindError, Text: "not yet: " + describeConnError(cs.opts.addr, err)})
		delay = min(2*delay, reconnectMax)
	}
}

// lostText is the first line after a drop: what happened, without the Go error's chain.
func lostText(addr string, cause error) string {
	var ee *exitError
	if errors.As(cause, &ee) && ee.err != nil {
		if text, _, ok := strings.Cut(ee.err.Error(), ": "+describeRawCause(ee.err)); ok && describeRawCause(ee.err) != "" {
			return text
		}
		return ee.err.Error()
	}
	return cause.Error()
}

// describeRawCause is the innermost error's text (what lostText leaves out).
func describeRawCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

func (cs *clientSession) takeSkipLastLogin() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	skip := cs.skipLastLogin
	cs.skipLastLogin = false
	return skip
}

// isReconnecting: a login now is a reconnect (the prompt says "reconnecting ...").
func (cs *clientSession) isReconnecting() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.offline
}

func (cs *clientSession) isQuitting() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.quitting
}

// waitOnline waits until the client is connected; false when the session ended first.
func (cs *clientSession) waitOnline() bool {
	cs.mu.Lock()
	ch := cs.online
	cs.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-cs.done:
		return false
	case <-cs.ctx.Done():
		return false
	}
}

// resumeSession rejoins the rooms and fetches what was missed. It runs beside dispatch,
// which handles the replies.
func (cs *clientSession) resumeSession() {
	cs.mu.Lock()
	rooms := append([]string(nil), cs.resume.rooms...)
	since := cs.resume.since
	cs.mu.Unlock()
	for _, r := range rooms {
		if err := cs.sendCmd("JOIN", r); err != nil {
			return
		}
	}
	pb := cs.presence
	pb.mu.Lock()
	watch := append([]string(nil), pb.contacts...)
	partners := slices.Clone(pb.partners)
	active := pb.active
	pb.mu.Unlock()
	if active {
		pb.mu.Lock()
		pb.snapshot = pb.monitorOK // the answers describe the present, not changes
		pb.mu.Unlock()
		cs.monitorAdd(watch...)
		cs.watchPartners(partners, nil)
	}
	err := cs.roundTrip("rejoin")
	pb.mu.Lock()
	pb.snapshot = false
	pb.mu.Unlock()
	if err != nil {
		return
	}
	cs.mu.Lock()
	var back []string
	for _, r := range rooms {
		if _, ok := cs.rooms[clientFold(r)]; ok {
			back = append(back, r)
		}
		delete(cs.rejoining, clientFold(r))
	}
	cs.mu.Unlock()
	if len(back) > 0 {
		cs.note("back in " + strings.Join(back, ", "))
	}
	if since.IsZero() {
		return
	}
	if !cs.caps["draft/chathistory"] || !cs.caps["batch"] {
		cs.note("this server keeps no history: messages sent while you were away are not shown")
		return
	}
	cs.mu.Lock()
	cs.catchUpSince = since
	cs.mu.Unlock()
	// The end is a day ahead so a server clock a little ahead of ours loses nothing.
	cs.sendCmd("CHATHISTORY", "TARGETS", "timestamp="+since.UTC().Format(wireTimeLayout), "timestamp="+time.Now().Add(24*time.Hour).UTC().Format(wireTimeLayout), "100")
}

// onHistoryTarget: "CHATHISTORY TARGETS <target> <time>", a conversation with news since the
// drop; its messages after that time are fetched as a catch-up batch.
func (cs *clientSession) onHistoryTarget(m *Message, raw bool) {
	if m.Param(0) != "TARGETS" {
		return
	}
	target := m.Param(1)
	if cs.noteScanTarget(target, m.Param(2)) {
		return
	}
	cs.mu.Lock()
	since := cs.catchUpSince
	if !since.IsZero() {
		cs.catchUp[clientFold(target)] = true
	}
	cs.mu.Unlock()
	if since.IsZero() {
		if !raw {
			cs.note("conversation with news: " + target)
		}
		return
	}
	cs.sendCmd("CHATHISTORY", "AFTER", target, "timestamp="+since.UTC().Format(wireTimeLayout), fmt.Sprint(catchUpLimit))
}

// promptChanged asks the prompt to redraw when its text is no longer what it shows.
func (cs *clientSession) promptChanged() {
	cs.enteredConversation()
	cs.mu.Lock()
	redraw := cs.redraw
	cs.mu.Unlock()
	if redraw == nil {
		return
	}
	if shown, _ := cs.shown.Load().(string); shown != cs.promptText() {
		redraw()
	}
}
