//go:build !windows

package main

import (
	"io"
	"os"
	"syscall"
)

// printAbove prints text on its own line above the prompt without garbling what is being
// typed: clear the prompt line, print, then let liner redraw prompt, buffer and cursor. liner
// has no API for that (liner issue #46), but it redraws on SIGWINCH, so we send ourselves one.
func (p *prompt) printAbove(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	io.WriteString(p.out, "\r\x1b[K"+text+"\r\n")
	syscall.Kill(os.Getpid(), syscall.SIGWINCH)
}
