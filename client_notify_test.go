package main

import (
	"bytes"
	"testing"
	"time"
)

func TestNotifyStyleDetection(t *testing.T) {
	for _, tt := range []struct {
		setting string
		env     map[string]string
		want    string
	}{
		{"auto", map[string]string{"TERM_PROGRAM": "iTerm.app"}, "osc9"},
		{"auto", map[string]string{"TERM": "xterm-kitty"}, "osc9"},
		{"auto", map[string]string{"TERM_PROGRAM": "WezTerm"}, "osc777"},
		{"auto", map[string]string{"TERM": "foot"}, "osc777"},
		{"auto", map[string]string{"VTE_VERSION": "7600"}, "osc777"},
		{"auto", map[string]string{"TERM": "xterm-256color"}, ""},
		{"auto", map[string]string{"TMUX": "/tmp/tmux-0/default,1,0", "TERM_PROGRAM": "tmux", "LC_TERMINAL": "iTerm2"}, "osc9+tmux"},
		{"auto", map[string]string{"TMUX": "/tmp/tmux-0/default,1,0", "TERM_PROGRAM": "tmux"}, ""},
		{"osc777", map[string]string{}, "osc777"},
		{"off", map[string]string{"TERM_PROGRAM": "iTerm.app"}, ""},
	} {
		got, err := notifyStyle(tt.setting, func(k string) string { return tt.env[k] })
		if err != nil || got != tt.want {
			t.Errorf("notifyStyle(%q, %v) = %q, %v; want %q", tt.setting, tt.env, got, err, tt.want)
		}
	}
	if _, err := notifyStyle("loud", func(string) string { return "" }); err == nil {
		t.Error("notify = loud: want an error")
	}
}

// A DM writes the bell and the notification; a room message with bell = "dm" neither.
func TestPromptNotifiesOnDirectMessages(t *testing.T) {
	var out bytes.Buffer
	p := &prompt{bell: "dm", notifyStyle: "osc777", out: &out}
	p.ringFor(chatEvent{Time: time.Now(), Kind: kindMessage, From: "alice", To: "#lab", Text: "room talk"})
	if out.Len() != 0 {
		t.Errorf("room message wrote %q", out.String())
	}
	p.ringFor(chatEvent{Time: time.Now(), Kind: kindMessage, From: "alice", To: "bob", Text: "hi\x1b]0;evil\a", direct: true})
	if want := "\x1b]777;notify;labchat: alice;hi]0;evil\a\a"; out.String() != want { // the body's ESC and BEL dropped
		t.Errorf("DM wrote %q; want %q", out.String(), want)
	}
	tmux := notifySequence("osc9+tmux", "labchat: call", "alice is calling you")
	if want := "\x1bPtmux;\x1b\x1b]9;labchat: call: alice is calling you\a\x1b\\"; tmux != want {
		t.Errorf("tmux passthrough %q; want %q", tmux, want)
	}
}
