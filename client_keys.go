package main

// The key filter sits between the terminal and liner (on Unix; see prompt_unix.go), because
// liner offers no way to read the line being typed or to change the prompt while Prompt runs.
// It passes every key on, and adds two things:
//
//   - Ctrl-C: liner either aborts (losing the line) or clears, never both as users expect. The
//     filter asks what is typed (a Tab that the completer answers with no completions), then
//     sends Ctrl-E Ctrl-U (clear the line, keep the client) for a half-typed line, or the
//     Ctrl-C itself (liner returns ErrPromptAborted, the client leaves) for an empty one.
//   - A new prompt text ("reconnecting ...", a call's target): the filter asks what is typed,
//     empties the line and sends Ctrl-D, so Prompt returns io.EOF without printing; the prompt
//     loop then starts a new Prompt with the new text and the saved line and cursor.
//
// Both happen on the filter's goroutine, between two reads of the terminal, so no key the
// user types can come between the question and what follows it.

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

const (
	keyCtrlC = 0x03
	keyCtrlD = 0x04
	keyCtrlE = 0x05
	keyTab   = 0x09
	keyCtrlU = 0x15
)

// keyQueryTimeout bounds the wait for liner to answer a question. Liner answers at once while
// Prompt runs; no answer means no chat prompt is active (a command is running).
const keyQueryTimeout = 500 * time.Millisecond

type lineState struct {
	line string
	pos  int
}

type keyFilter struct {
	out        io.Writer // liner's end of the pipe; written only by run
	chat       atomic.Bool
	unanswered atomic.Int32   // query Tabs liner has not read yet: the completer swallows them
	answers    chan lineState // the completer's answers
	redraws    chan struct{}  // asks run to redraw the prompt

	mu         sync.Mutex
	redrawing  bool      // the next io.EOF of Prompt is a redraw, not Ctrl-D
	savedState lineState // the line typed when the redraw began
}

func newKeyFilter(out io.Writer) *keyFilter {
	return &keyFilter{out: out, answers: make(chan lineState, 1), redraws: make(chan struct{}, 1)}
}

// run copies the terminal's keys to liner until in ends.
func (kf *keyFilter) run(in io.Reader) {
	chunks := make(chan []byte)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 256)
			n, err := in.Read(buf)
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		select {
		case b, ok := <-chunks:
			if !ok {
				if c, ok := kf.out.(io.Closer); ok {
					c.Close()
				}
				return
			}
			kf.keys(b)
		case <-kf.redraws:
			kf.redraw()
		}
	}
}

func (kf *keyFilter) keys(b []byte) {
	for len(b) > 0 {
		i := -1
		if kf.chat.Load() {
			for j, c := range b {
				if c == keyCtrlC {
					i = j
					break
				}
			}
		}
		if i < 0 {
			kf.out.Write(b)
			return
		}
		kf.out.Write(b[:i])
		b = b[i+1:]
		if st, ok := kf.query(); ok && st.line == "" {
			kf.out.Write([]byte{keyCtrlC})
		} else {
			kf.out.Write([]byte{keyCtrlE, keyCtrlU})
		}
	}
}

// query asks liner for the line being typed.
func (kf *keyFilter) query() (lineState, bool) {
	select {
	case <-kf.answers: // a late answer to an earlier question
	default:
	}
	kf.unanswered.Add(1)
	kf.out.Write([]byte{keyTab})
	t := time.NewTimer(keyQueryTimeout)
	defer t.Stop()
	select {
	case st := <-kf.answers:
		return st, true
	case <-t.C:
		return lineState{}, false
	}
}

// answer is called by the completer; it reports whether the Tab was a question.
func (kf *keyFilter) answer(line string, pos int) bool {
	if kf == nil {
		return false
	}
	for {
		n := kf.unanswered.Load()
		if n <= 0 {
			return false
		}
		if kf.unanswered.CompareAndSwap(n, n-1) {
			break
		}
	}
	select {
	case kf.answers <- lineState{line, pos}:
	default:
	}
	return true
}

// requestRedraw asks for the prompt to be drawn again with its current text; a nil filter
// (Windows, no terminal) shows the new text at the next prompt instead.
func (kf *keyFilter) requestRedraw() {
	if kf == nil {
		return
	}
	select {
	case kf.redraws <- struct{}{}:
	default: // one is pending: it shows the newest text too
	}
}

func (kf *keyFilter) redraw() {
	if !kf.chat.Load() {
		return
	}
	st, ok := kf.query()
	if !ok {
		return
	}
	kf.mu.Lock()
	kf.redrawing, kf.savedState = true, st
	kf.mu.Unlock()
	if st.line != "" {
		kf.out.Write([]byte{keyCtrlE, keyCtrlU})
	}
	kf.out.Write([]byte{keyCtrlD})
}

// takeRedraw reports whether Prompt's io.EOF was a redraw, and the line to restore.
func (kf *keyFilter) takeRedraw() (lineState, bool) {
	if kf == nil {
		return lineState{}, false
	}
	kf.mu.Lock()
	defer kf.mu.Unlock()
	if !kf.redrawing {
		return lineState{}, false
	}
	kf.redrawing = false
	return kf.savedState, true
}

// setChat marks whether the chat prompt (Prompt with the completer) is reading keys.
func (kf *keyFilter) setChat(on bool) {
	if kf != nil {
		kf.chat.Store(on)
	}
}
