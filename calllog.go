package main

// Calls in logs. A call is several CTCP lines in a conversation's log (RING, then ANSWER and
// HANGUP, or DECLINE, or CANCEL; client_calls.go), which mean nothing to a reader. A
// callFolder turns them into one line per call, for /history in the client and for
// `labchat history`: "call from alice, answered, 2 min", "missed call from alice". The line
// carries the ring's time and shows where the call ended.

import (
	"strconv"
	"strings"
	"time"
)

// callLine is a call's summary as a log entry: Kind "CALL", From the caller, To the callee.
const callKind = "CALL"

type foldedCall struct {
	ring     LogEntry
	answered time.Time
	quality  string // from a voice call's SUMMARY: "loss 0.1%, RTT 3 ms, jitter 1 ms"
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
	body = strings.TrimSuffix(body, "\x01")
	if cf.open == nil {
		cf.open = map[string]*foldedCall{}
	}
	if id, quality, ok := parseCallSummary(body); ok {
		if c := cf.open[id]; c != nil {
			c.quality = quality
		}
		return LogEntry{}, false, true
	}
	id, verb, ok := parseCall(body)
	if !ok {
		return LogEntry{}, false, strings.HasPrefix(body, "CALL ")
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
	if c.quality != "" && state == "answered" {
		e.Text += ", " + c.quality
	}
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

// parseCallSummary reads a voice call's "CALL <id> SUMMARY duration=63s loss=0.1% rtt=3ms
// jitter=1ms" (sent by the browser that hangs up, web/lib/rtc.js) into "loss 0.1% average,
// RTT 3 ms, jitter 1 ms". A summary has a duration; fields it does not know are skipped.
// The duration shown is the log's own (answer to hang-up).
func parseCallSummary(body string) (id, quality string, ok bool) {
	f := strings.Fields(body)
	if len(f) < 3 || f[0] != "CALL" || !strings.EqualFold(f[2], "SUMMARY") {
		return "", "", false
	}
	if _, _, ok := parseCall(f[0] + " " + f[1] + " x"); !ok {
		return "", "", false
	}
	var out []string
	hasDuration := false
	for _, kv := range f[3:] {
		k, v, _ := strings.Cut(kv, "=")
		num := strings.TrimRight(v, "sm%")
		if _, err := strconv.ParseFloat(num, 64); err != nil || num == "" {
			continue
		}
		switch {
		case k == "duration" && strings.HasSuffix(v, "s"):
			hasDuration = true
		case k == "loss" && strings.HasSuffix(v, "%"):
			out = append(out, "loss "+num+"% average")
		case k == "rtt" && strings.HasSuffix(v, "ms"):
			out = append(out, "RTT "+num+" ms")
		case k == "jitter" && strings.HasSuffix(v, "ms"):
			out = append(out, "jitter "+num+" ms")
		}
	}
	return f[1], strings.Join(out, ", "), hasDuration
}
