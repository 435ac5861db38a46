//go:build windows

package main

import (
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// printAbove prints text over the prompt line, padded to the console width so no typed text
// shows through; Windows has no SIGWINCH, so liner redraws the prompt at the next key.
func (p *prompt) printAbove(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pad := ""
	if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && len(text) < w-1 {
		pad = strings.Repeat(" ", w-1-len(text))
	}
	io.WriteString(p.out, "\r"+text+pad+"\r\n")
}
