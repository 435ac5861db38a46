package main

// udpprompt.go: the interactive line editor of udp-send and udp-listen.

import (
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/peterh/liner"
)

// udpPrompt reads typed lines while datagrams arriving on other goroutines are printed above
// the line being typed, the way the chat client's prompt does (writeAbovePrompt).
type udpPrompt struct {
	line *liner.State
	mu   sync.Mutex // serialises terminal output; guards out
	out  io.Writer
}

func newUDPPrompt(out io.Writer) *udpPrompt {
	p := &udpPrompt{line: liner.NewLiner(), out: out}
	p.line.SetCtrlCAborts(true)
	return p
}

// errUDPPromptDone is returned by readLine after Ctrl-C or Ctrl-D.
var errUDPPromptDone = errors.New("prompt closed")

func (p *udpPrompt) readLine(prompt string) (string, error) {
	s, err := p.line.Prompt(prompt)
	if errors.Is(err, liner.ErrPromptAborted) || errors.Is(err, io.EOF) {
		return "", errUDPPromptDone
	}
	if err != nil {
		return "", err
	}
	if s != "" {
		p.line.AppendHistory(s)
	}
	return s, nil
}

// Write prints b above the prompt. The terminal is in raw mode, so \n needs its \r.
func (p *udpPrompt) Write(b []byte) (int, error) {
	text := strings.ReplaceAll(strings.TrimSuffix(string(b), "\n"), "\n", "\r\n")
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(b), writeAbovePrompt(p.out, text)
}

func (p *udpPrompt) close() { p.line.Close() }
