package main

// The client's own record of its conversations: every message it sends or receives, in a
// room it is in or directly, appended in histlog.go's format to
// DATA/client/logs/<server>/<conversation>/<day>.log, where <server> is the HOST:PORT dialed,
// lower-cased and escaped (serverDirName). One PC may talk to several servers, and a room
// of one server is not the same room as one of another. `labchat history` reads these.

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// clientRecordsDir is where the client records its conversations on the server at addr.
func clientRecordsDir(clientDataDir, addr string) string {
	return filepath.Join(clientDataDir, "logs", serverDirName(addr))
}

// newClientRecords opens (lazily) the records of one connection; nil without a data dir.
func newClientRecords(opts *clientOptions) *chatLog {
	if opts.dataDir == "" {
		return nil
	}
	return newChatLog(clientRecordsDir(opts.dataDir, opts.addr))
}

// record appends one message sent or received to the client's records. A direct message
// is filed under dmConversation(from, to), which is the same for both directions. The
// first failure is shown once; recording then stops, and chatting goes on.
func (cs *clientSession) record(kind, from, to, text, msgid string, at time.Time) {
	cs.recordEntry(&LogEntry{Time: at, MsgID: msgid, Kind: kind, From: from, To: to, Text: text})
}

// recordEntry appends an entry (with its tags: a reply's parent; or a REDACT) to the records.
func (cs *clientSession) recordEntry(e *LogEntry) {
	if cs.records == nil || cs.recordFailed.Load() || strings.HasPrefix(e.Text, "\x01") && !strings.HasPrefix(e.Text, "\x01ACTION ") && !strings.HasPrefix(e.Text, "\x01CALL ") {
		return
	}
	conv := dmConversation(e.From, e.To)
	if cs.isRoom(e.To) {
		conv = roomConversation(e.To)
	}
	if err := cs.records.Append(conv, e); err != nil && !cs.recordFailed.Swap(true) {
		cs.sink.event(chatEvent{Time: time.Now(), Kind: kindError, Text: fmt.Sprintf("record conversation (no more records this session): %v", err)})
	}
}

// closeRecords syncs and closes the record files at the end of the connection.
func (cs *clientSession) closeRecords() {
	if cs.records == nil {
		return
	}
	if err := cs.records.Close(); err != nil {
		cs.sink.event(chatEvent{Time: time.Now(), Kind: kindError, Text: fmt.Sprintf("close conversation records: %v", err)})
	}
}
