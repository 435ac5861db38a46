package main

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// bellTimes records when each BEL was written.
type bellTimes struct {
	mu    sync.Mutex
	at    []time.Time
	other strings.Builder
	rung  chan struct{}
}

func (b *bellTimes) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if string(p) == "\a" { // a bell on its own; an OSC sequence ends with one too
		b.at = append(b.at, time.Now())
	} else {
		b.other.Write(p)
	}
	select {
	case b.rung <- struct{}{}:
	default:
	}
	return len(p), nil
}

// waitBells waits (with a deadline) until n bells rang, then checks no more follow within
// two gaps, and that they were spaced so a terminal plays each one.
func (b *bellTimes) text() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.other.String()
}

func waitBells(t *testing.T, b *bellTimes, n int) {
	t.Helper()
	deadline := time.After(clientTestTimeout)
	for {
		b.mu.Lock()
		got := len(b.at)
		b.mu.Unlock()
		if got >= n {
			break
		}
		select {
		case <-b.rung:
		case <-deadline:
			t.Fatalf("%d bells rang; want %d", got, n)
		}
	}
	select {
	case <-b.rung:
	case <-time.After(2 * bellGap):
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.at) != n {
		t.Fatalf("%d bells; want %d", len(b.at), n)
	}
	for i := 1; i < n; i++ {
		if gap := b.at[i].Sub(b.at[i-1]); gap < bellGap/2 {
			t.Errorf("bells %d and %d only %v apart: a terminal merges them", i-1, i, gap)
		}
	}
}

// A message, a contact coming online and a call sound different: one, two and three bells.
func TestBellPatternsTellEventsApart(t *testing.T) {
	msg := &bellTimes{rung: make(chan struct{}, 8)}
	(&prompt{bell: "all", out: msg}).ringFor(chatEvent{Kind: kindMessage, From: "alice", To: "#lab", Text: "hi"})
	waitBells(t, msg, bellsMessage)

	online := &bellTimes{rung: make(chan struct{}, 8)}
	p := &prompt{bell: "dm", notifyStyle: notifyOSC777, out: online}
	p.contactOnline("alice")
	waitBells(t, online, bellsOnline)
	if !strings.Contains(online.text(), "\x1b]777;notify;labchat;alice is online\a") {
		t.Errorf("no desktop notification for a contact online: %q", online.text())
	}

	call := &bellTimes{rung: make(chan struct{}, 8)}
	(&prompt{bell: "dm", out: call}).ringBell()
	waitBells(t, call, bellsCall)

	off := &bellTimes{rung: make(chan struct{}, 8)}
	q := &prompt{bell: "off", out: off}
	q.contactOnline("alice")
	q.ringBell()
	if off.text() != "" || len(off.at) != 0 {
		t.Errorf("bell = off wrote %q", off.text())
	}
}
