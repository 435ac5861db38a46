//go:build !windows

package main

import (
	"io"
	"os"
	"syscall"

	"github.com/peterh/liner"
)

// writeAbovePrompt prints text on its own line above a liner prompt without garbling what is
// being typed: clear the prompt line, print, then let liner redraw prompt, buffer and cursor.
// liner has no API for that (liner issue #46), but it redraws on SIGWINCH, so we send
// ourselves one. Callers serialise terminal output.
func writeAbovePrompt(w io.Writer, text string) error {
	_, err := io.WriteString(w, "\r\x1b[K"+text+"\r\n")
	syscall.Kill(os.Getpid(), syscall.SIGWINCH)
	return err
}

// installKeyFilter puts a keyFilter (client_keys.go) between the terminal and liner. It must
// run before liner.NewLiner, which reads from os.Stdin; liner still sets the terminal's
// mode on fd 0, which stays the terminal.
func installKeyFilter() *keyFilter {
	if !liner.TerminalSupported() {
		return nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil // keys then go to liner unfiltered: Ctrl-C leaves, the prompt redraws late
	}
	tty := os.Stdin
	kf := newKeyFilter(w)
	os.Stdin = r
	go kf.run(tty)
	return kf
}
