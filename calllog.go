package main

// Calls in logs. A call is several CTCP lines in a conversation's log (RING, then ANSWER and
// HANGUP, or DECLINE, or CANCEL; client_calls.go), which mean nothing to a reader. A
// callFolder turns them into one line per call, for /history in the client and for
// `labchat history`: "call from alice, answered, 2 min", "missed call from alice". The line
// carries the ring's time and shows where the call ended.

import (
	"strings"
	"time"
)

// callLine is a call's summary as a log entry: Kind "CALL", From the caller, To the callee.
const callKind = "CALL"

type foldedCall struct {
	ring     LogEntry
	answered time.Time
}

// callFolder is used by one goroutine.
type callFolder struct {
	me   string                 // whose view: "call to bob" for the caller; "" for a log reader
	open map[string]*foldedCall // by call id
}

// feed takes one log entry; isCall reports a CALL line, and show a summary to show for it.
func (cf *callFolder) feed(e LogEntry) (summary LogEntry, show, isCall bool) {
	body, ok := strings.CutPrefix(e.Text, "\x01")
	if !ok {
		return LogEntry{}, false, false
	}
	id, verb, ok := parseCall(strings.TrimSuffix(body, "\x01"))
	if !ok {
		return LogEntry{}, false, strings.HasPrefix(body, "CALL ")
	}
	if cf.open == nil {
		cf.open = map[string]*foldedCall{}
	}
	c := cf.open[id]
	if verb == callRing {
		if c == nil {
			cf.open[id] = &foldedCall{ring: e}
		}
		return LogEntry{}, false, true
	}
	if c == nil {
		return LogEntry{}, false, true // the ring is before what is shown
	}
	switch verb {
	case callAnswer:
		c.answered = e.Time
		return LogEntry{}, false, true
	case callDecline:
		delete(cf.open, id)
		return c.summary(cf.me, "declined", e.Time), true, true
	case callCancel:
		delete(cf.open, id)
		return c.summary(cf.me, "missed", e.Time), true, true
	case callHangup:
		delete(cf.open, id)
		return c.summary(cf.me, "answered", e.Time), true, true
	}
	return LogEntry{}, false, true
}

// flush ends the calls whose end is not in the log: answered ones with no hangup, and rings
// nobody answered.
func (cf *callFolder) flush() []LogEntry {
	var out []LogEntry
	cf.flushEach(func(_ string, e LogEntry) { out = append(out, e) })
	return out
}

// flushEach is flush, naming each call's id.
func (cf *callFolder) flushEach(fn func(id string, e LogEntry)) {
	for id, c := range cf.open {
		state := "missed"
		if !c.answered.IsZero() {
			state = "answered"
		}
		fn(id, c.summary(cf.me, state, time.Time{}))
		delete(cf.open, id)
	}
}

// isOpen reports whether call id has rung and not ended.
func (cf *callFolder) isOpen(id string) bool {
	_, ok := cf.open[id]
	return ok
}

func (c *foldedCall) summary(me, state string, end time.Time) LogEntry {
	e := LogEntry{Time: c.ring.Time, MsgID: c.ring.MsgID, Kind: callKind, From: c.ring.From, To: c.ring.To}
	e.Text = callSummaryText(state, me, c.ring.From, c.ring.To, c.answered, end)
	return e
}

// callSummaryText words a call for me ("" for a log reader, who is neither side).
func callSummaryText(state, me, from, to string, answered, end time.Time) string {
	who := "call from " + from
	if me != "" && clientFold(me) == clientFold(from) {
		who = "call to " + to
	}
	switch state {
	case "missed":
		if me != "" && clientFold(me) == clientFold(from) {
			return who + ", not answered"
		}
		return "missed " + who
	case "declined":
		return who + ", declined"
	}
	if !answered.IsZero() && !end.IsZero() {
		return who + ", answered, " + humanDuration(end.Sub(answered))
	}
	return who + ", answered"
}
