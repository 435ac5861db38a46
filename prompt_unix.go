//go:build !windows

package main

import (
	"io"
	"os"
	"syscall"
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
