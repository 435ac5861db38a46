//go:build windows

package main

import (
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// writeAbovePrompt prints text over the prompt line, padded to the console width so no typed
// text shows through; Windows has no SIGWINCH, so liner redraws the prompt at the next key.
// Callers serialise terminal output.
func writeAbovePrompt(w io.Writer, text string) error {
	pad := ""
	if width, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && len(text) < width-1 {
		pad = strings.Repeat(" ", width-1-len(text))
	}
	_, err := io.WriteString(w, "\r"+text+pad+"\r\n")
	return err
}

// installKeyFilter: Windows consoles deliver keys to liner directly, so Ctrl-C leaves even
// with a half-typed line and a new prompt text shows at the next prompt.
func installKeyFilter() *keyFilter { return nil }
