package main

// /history: the server's record of a conversation, over IRCv3 draft/chathistory. The server
// answers CHATHISTORY LATEST with the messages in a batch; they are shown marked as history,
// with their date, and neither ring the bell nor go into the client's own records again.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

const (
	defaultHistoryLines = 20
	maxHistoryLines     = 1000
)

// historyReplay is one chathistory batch being received. Batches are touched only by the
// dispatch goroutine.
type historyReplay struct {
	target  string
	count   int
	want    int         // /history N: show the last N lines
	shown   []chatEvent // the lines to show, collected until the batch ends
	calls   callFolder  // CALL lines, folded into one line per call
	catchUp bool        // fetched after a reconnect: shown as live messages, each at most once
	unread  bool        // login's fetch of the unread part (client_read.go)
}

// parseHistoryArgs reads "[TARGET] [N]"; the target defaults to the current one.
func parseHistoryArgs(args, current string) (target string, n int, errText string) {
	target, n = current, defaultHistoryLines
	for _, f := range strings.Fields(args) {
		if v, err := strconv.Atoi(f); err == nil {
			if v < 1 || v > maxHistoryLines {
				return "", 0, "N must be 1 to " + strconv.Itoa(maxHistoryLines)
			}
			n = v
			continue
		}
		target = f
	}
	if target == "" {
		return "", 0, "no target: /history NICK|#ROOM [N]"
	}
	return target, n, ""
}

func cmdHistory(cs *clientSession, args string) error {
	target, n, problem := parseHistoryArgs(args, cs.currentTarget())
	if problem != "" {
		cs.complain("usage: /history [NICK|#ROOM] [N]: " + problem)
		return nil
	}
	if !cs.caps["draft/chathistory"] || !cs.caps["batch"] {
		cs.complain("this server keeps no history for clients (no draft/chathistory); try `labchat history` on the server's PC")
		return nil
	}
	// A call is up to three lines shown as one: ask for more, show the last n.
	cs.mu.Lock()
	cs.historyWant[clientFold(target)] = n
	cs.mu.Unlock()
	return cs.sendCmd("CHATHISTORY", "LATEST", target, "*", strconv.Itoa(min(4*n, maxHistoryLines)))
}

// onBatch opens and closes chathistory batches; other batch types are shown as they come.
func (cs *clientSession) onBatch(m *Message, raw bool) {
	if cs.onSearchBatch(m, raw) {
		return
	}
	ref := m.Param(0)
	if id, ok := strings.CutPrefix(ref, "+"); ok {
		if m.Param(1) == "chathistory" {
			if cs.historyBatches == nil {
				cs.historyBatches = make(map[string]*historyReplay)
			}
			cs.mu.Lock()
			catchUp := cs.catchUp[clientFold(m.Param(2))]
			delete(cs.catchUp, clientFold(m.Param(2)))
			want := cs.historyWant[clientFold(m.Param(2))]
			delete(cs.historyWant, clientFold(m.Param(2)))
			cs.mu.Unlock()
			cs.historyBatches[id] = &historyReplay{target: m.Param(2), catchUp: catchUp, want: want, unread: !catchUp && want == 0 && cs.takeUnreadFetch(m.Param(2))}
		}
		return
	}
	id := strings.TrimPrefix(ref, "-")
	b, ok := cs.historyBatches[id]
	if !ok {
		return
	}
	delete(cs.historyBatches, id)
	if b.unread {
		cs.onUnreadBatch(b)
		return
	}
	if b.catchUp {
		if b.count > 0 {
			cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindInfo, Text: fmt.Sprintf("%s: %d message(s) you missed while reconnecting, above", b.target, b.count)})
		}
		return
	}
	cs.showHistory(b, raw)
	text := "end of history for " + b.target + " (" + strconv.Itoa(b.count) + " messages)"
	if b.count == 0 {
		text = "no history for " + b.target
	}
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindInfo, Text: text})
}

// onHistoryLine shows one message of a chathistory batch; it reports false for a line of
// another batch.
func (cs *clientSession) onHistoryLine(m *Message, raw bool) bool {
	b, ok := cs.historyBatches[m.Tags["batch"]]
	if !ok {
		return false
	}
	if m.Command != "PRIVMSG" && m.Command != "NOTICE" {
		return true
	}
	if b.catchUp {
		if cs.seen.add(m.Tags["msgid"]) && !cs.isSelf(nickOf(m.Source)) {
			b.count++
			in := inbound{msg: *m}
			delete(in.msg.Tags, "batch")
			cs.handle(in) // as if it had come live: recorded, rung, shown with its time
		}
		return true
	}
	from, target, text := nickOf(m.Source), m.Param(0), m.Param(1)
	kind := kindMessage
	if m.Command == "NOTICE" {
		kind = kindNotice
	}
	if ctcp, isCTCP := strings.CutPrefix(text, "\x01"); isCTCP {
		body, isAction := strings.CutPrefix(strings.TrimSuffix(ctcp, "\x01"), "ACTION ")
		if !isAction {
			if strings.HasPrefix(body, "CALL ") {
				cs.historyCall(b, m)
			}
			return true // other CTCP requests are signalling, not conversation
		}
		kind, text = kindAction, body
	}
	b.shown = append(b.shown, chatEvent{Time: msgTime(m), Kind: kind, From: from, To: target, Text: text,
		self: cs.isSelf(from), direct: !cs.isRoom(target), history: true})
	return true
}

// historyCall folds a CALL line of a /history batch into its call's one line.
func (cs *clientSession) historyCall(b *historyReplay, m *Message) {
	e := LogEntry{Time: msgTime(m), MsgID: m.Tags["msgid"], Kind: m.Command, From: nickOf(m.Source), To: m.Param(0), Text: m.Param(1)}
	b.calls.me = cs.myNick()
	if sum, show, _ := b.calls.feed(e); show {
		b.shown = append(b.shown, callHistoryEvent(sum))
	}
}

func callHistoryEvent(e LogEntry) chatEvent {
	return chatEvent{Time: e.Time, Kind: kindCall, From: e.From, To: e.To, Text: e.Text, history: true}
}

// showHistory shows the last want lines of a /history batch, calls folded, oldest first.
func (cs *clientSession) showHistory(b *historyReplay, raw bool) {
	for _, e := range b.calls.flush() {
		b.shown = append(b.shown, callHistoryEvent(e))
	}
	slices.SortStableFunc(b.shown, func(x, y chatEvent) int { return x.Time.Compare(y.Time) })
	if b.want > 0 && len(b.shown) > b.want {
		b.shown = b.shown[len(b.shown)-b.want:]
	}
	for _, ev := range b.shown {
		cs.show(raw, ev)
	}
	b.count = len(b.shown)
}
