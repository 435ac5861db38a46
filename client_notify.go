package main

// Desktop notifications through the terminal. Besides the bell, terminals that know them show
// a notification for an escape sequence: OSC 9 (ESC ] 9 ; text BEL: iTerm2, kitty, ghostty,
// Windows Terminal) or OSC 777 (ESC ] 777 ; notify ; title ; body BEL: foot, WezTerm, urxvt,
// VTE). Other terminals ignore them, but not all do so quietly, so "auto" sends them only to
// terminals known to understand them. Inside tmux the sequence goes through tmux's
// passthrough (ESC P tmux; ... ESC \, with `set -g allow-passthrough on`) to the terminal
// tmux runs in, which tmux names in $LC_TERMINAL (iTerm2) or which $TERM_PROGRAM named when
// tmux started.

import (
	"fmt"
	"strings"
)

const (
	notifyOSC9   = "osc9"
	notifyOSC777 = "osc777"
	notifyTmux   = "+tmux" // suffix: wrap in tmux passthrough
)

// notifyStyle turns client.notify into the style to use ("" for none); getenv reads the
// environment.
func notifyStyle(setting string, getenv func(string) string) (string, error) {
	switch setting {
	case "off":
		return "", nil
	case notifyOSC9, notifyOSC777:
		if getenv("TMUX") != "" {
			return setting + notifyTmux, nil
		}
		return setting, nil
	case "auto", "":
	default:
		return "", fmt.Errorf("config client.notify = %q: want auto, osc9, osc777 or off", setting)
	}
	style := ""
	program, termName := getenv("TERM_PROGRAM"), getenv("TERM")
	if getenv("TMUX") != "" {
		program = getenv("LC_TERMINAL") // tmux overwrites TERM_PROGRAM; iTerm2 sets this too
	}
	switch {
	case program == "iTerm.app" || program == "iTerm2" || program == "ghostty" || strings.Contains(termName, "kitty") || getenv("WT_SESSION") != "":
		style = notifyOSC9
	case program == "WezTerm" || strings.HasPrefix(termName, "foot") || strings.HasPrefix(termName, "rxvt-unicode") || getenv("VTE_VERSION") != "":
		style = notifyOSC777
	}
	if style != "" && getenv("TMUX") != "" {
		style += notifyTmux
	}
	return style, nil
}

// notifySequence is the escape sequence that shows a notification; text is sanitized first.
func notifySequence(style, title, body string) string {
	title, body = strings.ReplaceAll(sanitize(title), ";", ","), sanitize(body)
	base, tmux := strings.CutSuffix(style, notifyTmux)
	var seq string
	switch base {
	case notifyOSC9:
		seq = "\x1b]9;" + title + ": " + body + "\a"
	case notifyOSC777:
		seq = "\x1b]777;notify;" + title + ";" + body + "\a"
	default:
		return ""
	}
	if tmux {
		seq = "\x1bPtmux;" + strings.ReplaceAll(seq, "\x1b", "\x1b\x1b") + "\x1b\\"
	}
	return seq
}

// notify shows a desktop notification, if the terminal takes them.
func (p *prompt) notify(title, body string) {
	seq := notifySequence(p.notifyStyle, title, body)
	if seq == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.Write([]byte(seq))
}
