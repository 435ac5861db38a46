package main

// Calls: /call NICK rings another user; /answer and /decline reply. A call is plain IRC,
// so it passes through any IRC server, as CTCP (a \x01-framed message) named CALL:
//
//	caller → callee  PRIVMSG bob :\x01CALL <id> RING\x01     ring (starts the call)
//	callee → caller  NOTICE alice :\x01CALL <id> ANSWER\x01  answered
//	callee → caller  NOTICE alice :\x01CALL <id> DECLINE\x01 declined
//	caller → callee  PRIVMSG bob :\x01CALL <id> CANCEL\x01   caller gave up (no answer in time)
//	either → other   PRIVMSG bob :\x01CALL <id> HANGUP\x01   an answered call ends (/hangup)
//	either → other   NOTICE bob :\x01CALL <id> SUMMARY duration=63s loss=0.1% rtt=3ms jitter=1ms\x01
//	                 a voice call's quality, sent by the browser that hangs up just before
//	                 its HANGUP; history folds it into the call's line (calllog.go)
//
// Voice calls (browser to browser) add the client tag +labchat/voice on RING and ANSWER and
// carry the WebRTC offer, answer and ICE candidates in TAGMSG (web/lib/rtc.js, docs/browser.md).
//
// <id> is 8 hex digits chosen by the caller; it ties the replies to the ring. Requests go
// in PRIVMSG and replies in NOTICE, as CTCP has it (a NOTICE is never answered
// automatically). The callee's bell rings every ringInterval until the call is answered,
// declined, cancelled, or call_timeout passes; then the caller sees "no answer" and the
// callee "missed call from X at T". A RING older than call_timeout by its server-time tag
// (one stored while the callee was offline and delivered at login) is shown as a missed
// call at once.

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// voiceTag marks a RING or ANSWER from a client with audio (the browser; web/lib/rtc.js has
// the voice part of the protocol: TAGMSG signalling, and the SUMMARY line after a call).
// This client carries no audio: its ANSWER has no such tag, which tells the browser that
// no offer will come.
const voiceTag = "+labchat/voice"

// ringInterval is how often the callee's bell rings while a call waits.
const ringInterval = 2 * time.Second

// Call verbs on the wire.
const (
	callRing    = "RING"
	callAnswer  = "ANSWER"
	callDecline = "DECLINE"
	callCancel  = "CANCEL"
	callHangup  = "HANGUP"
)

// Call event states, the "state" field of --json call events.
const (
	callStateCalling  = "calling"   // we ring someone
	callStateRinging  = "ringing"   // someone rings us
	callStateAnswered = "answered"  // either side: the call was answered
	callStateDeclined = "declined"  // either side: the call was declined
	callStateNoAnswer = "no-answer" // caller: nobody answered in time
	callStateMissed   = "missed"    // callee: a call rang out (or was cancelled) unanswered
	callStateFailed   = "failed"    // caller: the call could not be delivered
	callStateStored   = "stored"    // caller: the callee is offline; they see a missed call at login
	callStateEnded    = "ended"     // either side: an answered call was hung up
)

// call is one call ringing, in either direction.
type call struct {
	id       string
	peer     string
	outgoing bool
	at       time.Time     // when the ring was sent (its server time, for incoming calls)
	answered time.Time     // when it was answered (the call in progress)
	before   string        // the target before the call made the peer the target
	timer    *time.Timer   // ends the ringing at the timeout
	stopBell chan struct{} // incoming: closed to stop the bell
}

// callBook holds the calls ringing now. mu is a leaf lock; no I/O under it.
type callBook struct {
	mu     sync.Mutex
	calls  map[string]*call // by id
	active *call            // the answered call in progress, if any
}

// setActive makes c the call in progress and returns the one it replaces.
func (cb *callBook) setActive(c *call) *call {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	old := cb.active
	cb.active = c
	return old
}

// takeActive ends the call in progress (with id, if id is not "").
func (cb *callBook) takeActive(id string) *call {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	c := cb.active
	if c == nil || id != "" && c.id != id {
		return nil
	}
	cb.active = nil
	return c
}

func newCallBook() *callBook { return &callBook{calls: map[string]*call{}} }

// take removes and returns the call with id if it matches the peer and direction.
func (cb *callBook) take(id, peer string, outgoing bool) *call {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	c := cb.calls[id]
	if c == nil || c.outgoing != outgoing || clientFold(c.peer) != clientFold(peer) {
		return nil
	}
	delete(cb.calls, id)
	c.stop()
	return c
}

// latestIncoming removes and returns the newest incoming call, from peer if peer is given.
func (cb *callBook) latestIncoming(peer string) *call {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	var best *call
	for _, c := range cb.calls {
		if !c.outgoing && (peer == "" || clientFold(c.peer) == clientFold(peer)) && (best == nil || c.at.After(best.at)) {
			best = c
		}
	}
	if best != nil {
		delete(cb.calls, best.id)
		best.stop()
	}
	return best
}

func (cb *callBook) outgoing() *call {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	for _, c := range cb.calls {
		if c.outgoing {
			return c
		}
	}
	return nil
}

// add books c and starts its timeout, which runs end. The timer is set under mu, so an
// end that fires at once finds it set.
func (cb *callBook) add(c *call, timeout time.Duration, end func()) bool {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if _, dup := cb.calls[c.id]; dup {
		return false
	}
	cb.calls[c.id] = c
	c.timer = time.AfterFunc(timeout, end)
	return true
}

func (c *call) stop() {
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.stopBell != nil {
		close(c.stopBell)
	}
}

func newCallID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// parseCall reads "CALL <id> <VERB>" (the CTCP body without its \x01s).
func parseCall(body string) (id, verb string, ok bool) {
	f := strings.Fields(body)
	if len(f) != 3 || f[0] != "CALL" || len(f[1]) == 0 || len(f[1]) > 32 {
		return "", "", false
	}
	for _, r := range f[1] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "", "", false
		}
	}
	return f[1], strings.ToUpper(f[2]), true
}

// ringIsMissed is the rule for a RING delivered late (stored while we were offline): older
// than the call timeout by its server time, it rang out long ago.
func ringIsMissed(sent, now time.Time, timeout time.Duration) bool {
	return now.Sub(sent) >= timeout
}

// callHandlers run a CALL verb from peer; m is the message that carried it.
var callHandlers = map[string]func(cs *clientSession, m *Message, peer, id string){
	callRing:    (*clientSession).onRing,
	callCancel:  (*clientSession).onCallCancel,
	callAnswer:  (*clientSession).onCallAnswer,
	callDecline: (*clientSession).onCallDecline,
	callHangup:  (*clientSession).onCallHangup,
}

// onCallCTCP handles a CTCP CALL and reports whether body was one. Our own (echo-message)
// and those sent to a room are ignored; unknown verbs are dropped, as CTCP asks.
func (cs *clientSession) onCallCTCP(m *Message, from, target, body string, raw bool) bool {
	id, verb, ok := parseCall(body)
	if !ok {
		return strings.HasPrefix(body, "CALL ")
	}
	if raw || cs.isRoom(target) {
		return true
	}
	if cs.isSelf(from) {
		// Our own echo, or the copy of what another device of this account sent: an answer
		// or refusal there must stop the ringing here.
		if verb == callAnswer || verb == callDecline {
			cs.repliedElsewhere(m, target, id, verb)
		}
		return true
	}
	if h, ok := callHandlers[verb]; ok {
		h(cs, m, from, id)
	}
	return true
}

func (cs *clientSession) callEvent(at time.Time, from, to, state, id, text string) {
	cs.sink.event(chatEvent{Time: at, Kind: kindCall, From: from, To: to, State: state, ID: id, Text: text})
}

func (cs *clientSession) myNick() string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.nick
}

// onRing: someone calls us. Ring until answered, declined, cancelled, or the timeout.
func (cs *clientSession) onRing(m *Message, peer, id string) {
	cs.mu.Lock()
	if cs.settling { // stored while we were offline: its CANCEL may follow at once
		cs.heldRings = append(cs.heldRings, heldRing{*m, peer, id})
		cs.mu.Unlock()
		return
	}
	cs.mu.Unlock()
	sent, timeout := msgTime(m), cs.opts.callTimeout
	me := cs.myNick()
	cs.notePartner(peer)
	if ringIsMissed(sent, time.Now(), timeout) {
		cs.missedCall(sent, peer, me, id)
		return
	}
	c := &call{id: id, peer: peer, at: sent, stopBell: make(chan struct{})}
	rangOut := func() {
		if cs.calls.take(id, peer, false) != nil {
			cs.missedCall(sent, peer, me, id)
		}
	}
	if !cs.calls.add(c, timeout-time.Since(sent), rangOut) {
		return // the same ring twice
	}
	text := "*** " + peer + " is calling you ***  /answer to talk, /decline to refuse"
	if _, voice := m.Tags[voiceTag]; voice {
		// From the browser, with audio: this client has none, so it says where to answer.
		text = "*** voice call from " + peer + ": answer in the browser (labchat open) ***  /answer here for a call without audio, /decline to refuse"
	}
	cs.callEvent(sent, peer, me, callStateRinging, id, text)
	if r, ok := cs.sink.(interface{ ringBell() }); ok {
		if n, ok := cs.sink.(interface{ notify(title, body string) }); ok {
			n.notify("labchat: call", peer+" is calling you (/answer or /decline)")
		}
		go ringUntil(r.ringBell, ringInterval, c.stopBell)
	}
}

// heldRing is a RING that came with the login's burst (the offline queue), held until the
// burst is over so that a CANCEL stored after it makes it a missed call without ringing.
type heldRing struct {
	m        Message
	peer, id string
}

// settled ends the login burst: the rings held and not cancelled ring now.
func (cs *clientSession) settled() {
	cs.mu.Lock()
	held := cs.heldRings
	cs.heldRings, cs.settling = nil, false
	cs.mu.Unlock()
	for _, h := range held {
		cs.onRing(&h.m, h.peer, h.id)
	}
}

// ringUntil rings now and then every interval until stop is closed.
func ringUntil(ring func(), every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ring()
		select {
		case <-t.C:
		case <-stop:
			return
		}
	}
}

func (cs *clientSession) missedCall(at time.Time, peer, me, id string) {
	cs.callEvent(at, peer, me, callStateMissed, id, "missed call from "+peer+" at "+sinceText(at, time.Now()))
}

func (cs *clientSession) onCallCancel(m *Message, peer, id string) {
	cs.mu.Lock()
	for i, h := range cs.heldRings {
		if h.id == id && clientFold(h.peer) == clientFold(peer) {
			cs.heldRings = append(cs.heldRings[:i], cs.heldRings[i+1:]...)
			cs.mu.Unlock()
			cs.missedCall(msgTime(&h.m), peer, cs.myNick(), id)
			return
		}
	}
	cs.mu.Unlock()
	if c := cs.calls.take(id, peer, false); c != nil {
		cs.missedCall(c.at, peer, cs.myNick(), id)
	}
}

// repliedElsewhere: another connection of this account answered or declined the call from
// peer that rings here. This connection's own reply took the call off the book before it
// was sent, so its echo finds nothing.
func (cs *clientSession) repliedElsewhere(m *Message, peer, id, verb string) {
	if cs.calls.take(id, peer, false) == nil {
		return
	}
	state, what := callStateAnswered, "answered"
	if verb == callDecline {
		state, what = callStateDeclined, "declined"
	}
	cs.callEvent(msgTime(m), peer, cs.myNick(), state, id, "the call from "+peer+" was "+what+" on another device")
}

func (cs *clientSession) onCallAnswer(m *Message, peer, id string) {
	c := cs.calls.take(id, peer, true)
	if c == nil {
		return
	}
	cs.startCall(c, msgTime(m))
	cs.callEvent(msgTime(m), cs.myNick(), peer, callStateAnswered, id, peer+" answered: you are talking to "+peer+" (plain lines go to "+peer+")")
}

func (cs *clientSession) onCallDecline(m *Message, peer, id string) {
	if cs.calls.take(id, peer, true) != nil {
		cs.callEvent(msgTime(m), cs.myNick(), peer, callStateDeclined, id, peer+" declined the call")
	}
}

// startCall makes c the call in progress: its peer is the target until it ends.
func (cs *clientSession) startCall(c *call, at time.Time) {
	c.answered = at
	cs.mu.Lock()
	c.before = cs.target
	cs.mu.Unlock()
	if old := cs.calls.setActive(c); old != nil {
		c.before = old.before
	}
	cs.setTarget(c.peer)
}

// endCall: the call in progress is over; the target goes back to what it was before.
func (cs *clientSession) endCall(c *call, text string, at time.Time) {
	cs.mu.Lock()
	if clientFold(cs.target) == clientFold(c.peer) {
		cs.target = c.before
	}
	cs.mu.Unlock()
	cs.promptChanged()
	cs.callEvent(at, cs.myNick(), c.peer, callStateEnded, c.id, text+" ("+humanDuration(at.Sub(c.answered))+")")
}

func (cs *clientSession) onCallHangup(m *Message, peer, id string) {
	if c := cs.calls.takeActive(id); c != nil && clientFold(c.peer) == clientFold(peer) {
		cs.endCall(c, peer+" hung up: the call is over", msgTime(m))
	}
}

// onNoSuchNick: during /call's probe, the callee does not exist (callProbe says so once);
// otherwise the error is shown as usual.
func (cs *clientSession) onNoSuchNick(m *Message, raw bool) {
	cs.mu.Lock()
	probing := cs.callProbe != "" && clientFold(cs.callProbe) == clientFold(m.Param(1))
	if probing {
		cs.callProbeResult = callStateFailed
	}
	cs.mu.Unlock()
	if probing {
		cs.countLineError()
		return
	}
	if !raw {
		cs.onOther(m)
	}
}

// noteStoredCall: the server stored the ring for an offline callee (offline.go's notice).
func (cs *clientSession) noteStoredCall(text string) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.callProbe == "" || !strings.HasPrefix(clientFold(text), clientFold(cs.callProbe)+" is offline") {
		return false
	}
	cs.callProbeResult = callStateStored
	return true
}

func (cs *clientSession) setTarget(nick string) {
	cs.mu.Lock()
	cs.target = nick
	cs.mu.Unlock()
	cs.promptChanged()
}

// ---- commands ----

func cmdCall(cs *clientSession, args string) error {
	if !cs.oneWord("call", args) {
		return nil
	}
	if cs.isRoom(args) || !validNickName(args) || cs.isSelf(args) {
		cs.complain("usage: /call NICK (a user other than you, not a room)")
		return nil
	}
	if c := cs.calls.outgoing(); c != nil {
		cs.complain("already calling " + c.peer + ": wait for the answer or the timeout")
		return nil
	}
	c := &call{id: newCallID(), peer: args, outgoing: true, at: time.Now()}
	timeout := cs.opts.callTimeout
	cs.calls.add(c, timeout, func() { cs.callUnanswered(c.id, c.peer, timeout) })
	me := cs.myNick()
	// The round trip after the ring says whether the callee is online, offline (the ring is
	// stored) or unknown, so the caller sees one line that says which.
	cs.mu.Lock()
	cs.callProbe, cs.callProbeResult = args, ""
	cs.mu.Unlock()
	err := cs.sendCall(args, c.id, callRing)
	if err == nil {
		err = cs.roundTrip("call")
	}
	cs.mu.Lock()
	result := cs.callProbeResult
	cs.callProbe, cs.callProbeResult = "", ""
	cs.mu.Unlock()
	if err != nil {
		cs.calls.take(c.id, c.peer, true)
		return err
	}
	switch result {
	case callStateFailed:
		cs.calls.take(c.id, c.peer, true)
		cs.callEvent(c.at, me, args, callStateFailed, c.id, "cannot call "+args+": there is no user "+args)
	case callStateStored:
		cs.calls.take(c.id, c.peer, true)
		// Stored after the ring, the cancel makes it a missed call however soon they log in;
		// its own "stored" notice is caught by a second probe.
		cs.mu.Lock()
		cs.callProbe = args
		cs.mu.Unlock()
		if cs.sendCall(args, c.id, callCancel) == nil {
			cs.roundTrip("call")
		}
		cs.mu.Lock()
		cs.callProbe, cs.callProbeResult = "", ""
		cs.mu.Unlock()
		cs.notePartner(args)
		cs.callEvent(c.at, me, args, callStateStored, c.id, args+" is offline: they will see a missed call from you when they log in")
	default:
		cs.notePartner(args)
		cs.callEvent(c.at, me, args, callStateCalling, c.id, "calling "+args+"... (rings for "+timeout.String()+")")
	}
	return nil
}

// sendCall sends one CALL verb to peer (requests in PRIVMSG, replies in NOTICE) and records
// it, as the server does, so `labchat history` can fold the call into one line.
func (cs *clientSession) sendCall(peer, id, verb string) error {
	command := "PRIVMSG"
	if verb == callAnswer || verb == callDecline {
		command = "NOTICE"
	}
	text := "\x01CALL " + id + " " + verb + "\x01"
	if err := cs.sendCmd(command, peer, text); err != nil {
		return err
	}
	if !cs.caps["echo-message"] {
		cs.record(command, cs.myNick(), peer, text, "", time.Now())
	}
	return nil
}

func cmdHangup(cs *clientSession, _ string) error {
	c := cs.calls.takeActive("")
	if c == nil {
		cs.complain("no call in progress (/call NICK starts one)")
		return nil
	}
	if err := cs.sendCall(c.peer, c.id, callHangup); err != nil {
		return err
	}
	cs.endCall(c, "you hung up: the call with "+c.peer+" is over", time.Now())
	return nil
}

// callUnanswered ends our call at the timeout and tells the callee's client to stop ringing.
func (cs *clientSession) callUnanswered(id, peer string, timeout time.Duration) {
	if cs.calls.take(id, peer, true) == nil {
		return
	}
	cs.sendCall(peer, id, callCancel)
	cs.callEvent(time.Now(), cs.myNick(), peer, callStateNoAnswer, id, "no answer from "+peer+" after "+timeout.String())
}

func cmdAnswer(cs *clientSession, args string) error {
	return cs.replyToCall(args, callAnswer)
}

func cmdDecline(cs *clientSession, args string) error {
	return cs.replyToCall(args, callDecline)
}

// replyToCall answers or declines the newest ringing call (from NICK, if given).
func (cs *clientSession) replyToCall(peer, verb string) error {
	c := cs.calls.latestIncoming(peer)
	if c == nil && peer != "" {
		cs.complain("no call from " + peer + " is ringing")
		return nil
	}
	if c == nil {
		cs.complain("no call is ringing")
		return nil
	}
	if err := cs.sendCall(c.peer, c.id, verb); err != nil {
		return err
	}
	me := cs.myNick()
	if verb == callDecline {
		cs.callEvent(time.Now(), c.peer, me, callStateDeclined, c.id, "you declined the call from "+c.peer)
		return nil
	}
	cs.startCall(c, time.Now())
	cs.callEvent(time.Now(), c.peer, me, callStateAnswered, c.id, "you answered "+c.peer+": you are talking to "+c.peer+" (plain lines go to "+c.peer+")")
	return nil
}

// ringBell is the prompt's call bell: every ring, unless the bell is off. A call rings
// three times in quick succession (a message is one bell, a contact coming online two), so
// the three are told apart by ear; see docs/client.md.
func (p *prompt) ringBell() {
	p.bellPattern(bellsCall)
}
