package main

import (
	"testing"
	"time"
)

// A voice call's SUMMARY (sent just before the HANGUP) is folded into the call's one line.
func TestCallFolderVoiceSummary(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	lines := []LogEntry{
		{Time: at, From: "alice", To: "bob", Text: "\x01CALL ab12cd34 RING\x01"},
		{Time: at.Add(3 * time.Second), From: "bob", To: "alice", Text: "\x01CALL ab12cd34 ANSWER\x01"},
		{Time: at.Add(65 * time.Second), From: "alice", To: "bob", Text: "\x01CALL ab12cd34 SUMMARY duration=62s loss=0.4% rtt=3ms jitter=1ms future=x\x01"},
		{Time: at.Add(65 * time.Second), From: "alice", To: "bob", Text: "\x01CALL ab12cd34 HANGUP\x01"},
	}
	var cf callFolder
	var got []LogEntry
	for _, e := range lines {
		s, show, isCall := cf.feed(e)
		if !isCall {
			t.Errorf("%q not taken as a call line", e.Text)
		}
		if show {
			got = append(got, s)
		}
	}
	if len(got) != 1 || got[0].Text != "call from alice, answered, 1 min, loss 0.4% average, RTT 3 ms, jitter 1 ms" {
		t.Fatalf("folded: %+v", got)
	}
	for _, bad := range []string{"CALL ab12 SUMMARY", "CALL a!b SUMMARY duration=1s", "CALL ab12 HANGUP"} {
		if _, _, ok := parseCallSummary(bad); ok {
			t.Errorf("%q read as a summary", bad)
		}
	}
}
