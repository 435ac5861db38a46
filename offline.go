package main

// Offline messages: a PRIVMSG to a registered account with no connected session is queued
// in <data>/offline/<casefolded account>.log (the chat log line format, To = the account)
// and delivered, oldest first with its original time, when the account next logs in.
//
// Delivery is at least once. The queue file is trimmed only after the session's writer has
// written the replayed lines to the socket (Write returned without error; see afterWrite).
// A crash or a broken connection before that leaves the file as it was, and the next login
// delivers the same messages again; a crash after it loses nothing, since the messages
// were written to the client's socket. Duplicates are possible by design only in those
// windows: the bytes reached the socket but the file was not yet trimmed, or the client's
// machine lost what its kernel had received.
//
// With several connections to one account, the queue is delivered to the first that logs in
// (no message is queued while one is connected). A connection logging in while another's
// delivery waits for its write gets nothing from the queue; if that other one closes before
// its write, the next login delivers the queue again.
//
// Appends fsync the queue: it may be the only copy of the message. The queue cap is
// offline_queue_max messages; past it the sender gets FAIL PRIVMSG QUEUE_FULL.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// offlineQueues holds the per-account queue files.
type offlineQueues struct {
	dir    string
	max    int
	openFn logOpener // osLogOpener; tests give one whose disk fills up

	// mu ranks above Server.mu (see server.go): storing checks "not connected" and appends
	// under it, delivering reads under it, so a message is either read by the delivering
	// login or sees that login's session and is relayed instead. It guards the files,
	// pending and nextToken.
	mu        sync.Mutex
	pending   map[string]pendingTrim // queue path → the delivery whose trim is awaited
	nextToken uint64
}

// pendingTrim is a delivery whose lines are not yet written: its token and its connection.
type pendingTrim struct {
	token uint64
	to    *Session
}

// errQueueFull is an append to a queue that holds its maximum.
var errQueueFull = errors.New("offline queue full")

func newOfflineQueues(dir string, max int) *offlineQueues {
	return &offlineQueues{dir: dir, max: max, openFn: osLogOpener, pending: make(map[string]pendingTrim)}
}

func (q *offlineQueues) path(account string) string {
	return filepath.Join(q.dir, escapePathName(casefold(account))+".log")
}

// append adds e to the account's queue; q.mu must be held.
func (q *offlineQueues) append(account string, e *LogEntry) error {
	path := q.path(account)
	n := 0
	_, err := readLogFile(path, func(LogEntry) error { n++; return nil })
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read offline queue %s: %w", path, err)
	}
	if n >= q.max {
		return errQueueFull
	}
	f, err := openLogForAppend(q.openFn, path)
	if err != nil {
		return fmt.Errorf("offline queue %s: %w", path, err)
	}
	defer f.Close()
	if err := appendLogLine(f, e.AppendLine(nil)); err != nil {
		return fmt.Errorf("append to offline queue %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync offline queue %s: %w", path, err)
	}
	return nil
}

// read returns the queued entries and the byte length they were read from; q.mu must be held.
func (q *offlineQueues) read(account string) ([]LogEntry, int64, error) {
	f, err := os.Open(q.path(account))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open offline queue: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("stat offline queue: %w", err)
	}
	var entries []LogEntry
	_, err = readLog(io.LimitReader(f, info.Size()), func(e LogEntry) error {
		entries = append(entries, e)
		return nil
	})
	return entries, info.Size(), err
}

// trim drops the first n bytes of the queue once delivery token's lines were written, unless
// a later delivery of the same queue has started (it re-read those bytes and trims itself).
func (q *offlineQueues) trim(account string, n int64, token uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	path := q.path(account)
	if q.pending[path].token != token {
		return nil
	}
	delete(q.pending, path)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("trim offline queue: %w", err)
	}
	if int64(len(data)) <= n {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("remove delivered offline queue: %w", err)
		}
		return nil
	}
	// Messages arrived after the delivery read: keep them, atomically.
	return writeFileAtomic(path, data[n:], 0o600)
}

// storeOffline queues a PRIVMSG for target if it is an account with no connected session,
// and tells the sender. It reports false when target is no such account (or is connected
// under another nick), leaving the reply to the caller.
func (c *Session) storeOffline(target string, ev Message, multi []mlLine) bool {
	s := c.s
	q := s.offline
	if q == nil {
		return false
	}
	account := s.accountOwning(target)
	if account == "" {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if s.accountConnected(account) {
		return false
	}
	s.mu.RLock()
	ev.Source = c.prefix()
	from, self := c.nick, c.historyName()
	s.mu.RUnlock()
	ev.Params[0] = account
	o := newOutMsg(ev)
	if n := o.setMulti(multi); o.body == nil {
		c.replyTooLongToRelay(ev.Command, target, max(n, relayedLen(&ev)))
		return true
	}
	e := LogEntry{Time: o.at, MsgID: o.msgid, Kind: "PRIVMSG", From: from, To: account, Text: o.msg.Param(1)}
	switch err := q.append(account, &e); {
	case errors.Is(err, errQueueFull):
		c.fail("PRIVMSG", "QUEUE_FULL", account, account+" is offline and already has "+strconv.Itoa(q.max)+" messages waiting; try again after they log in")
		return true
	case err != nil:
		s.log.Error("store offline message", "account", account, "err", err)
		c.fail("PRIVMSG", "MESSAGE_ERROR", account, account+" is offline and the server could not store your message")
		return true
	}
	logErr := s.logMessage(dmConversation(self, account), o, from)
	if c.caps&capEchoMessage != 0 {
		c.sendOwn(o.bytesFor(c.caps))
	}
	s.mu.RLock()
	c.copyToOwnLocked(o)
	s.mu.RUnlock()
	c.sendLine(":" + s.cfg.Name + " NOTICE " + c.nick + " :" + account + " is offline; message stored for delivery at next login")
	if logErr != nil {
		c.noteNotSaved(account, logErr)
	}
	return true
}

// accountConnected reports whether a registered session is logged in to account.
func (s *Server) accountConnected(account string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.accountUsers[casefold(account)] != nil
}

// deliverOffline replays the account's queue to its client after login (registered is set
// by then, so no message can be queued for it after this read) and arranges the trim.
func (c *Session) deliverOffline() {
	q := c.s.offline
	if q == nil || c.account == "" {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if p, ok := q.pending[q.path(c.account)]; ok && p.to != c {
		c.s.mu.RLock()
		delivering := !p.to.gone
		c.s.mu.RUnlock()
		if delivering {
			return // another connection of the account is being given these: once is enough
		}
	}
	// Straight to the send queue, never held back as a labeled reply: afterWrite below must
	// come after these bytes.
	entries, size, err := q.read(c.account)
	if err != nil {
		c.s.log.Error("read offline queue", "account", c.account, "err", err)
		return
	}
	if size == 0 {
		return
	}
	for i := range entries {
		c.send(offlineLine(&entries[i], c.nick, c.caps))
	}
	q.nextToken++
	token, account, log := q.nextToken, c.account, c.s.log
	q.pending[q.path(account)] = pendingTrim{token, c}
	c.afterWrite(func() {
		if err := q.trim(account, size, token); err != nil {
			log.Error("trim offline queue; its messages will be delivered again", "account", account, "err", err)
		}
	})
}

// offlineLine encodes a queued message for its recipient. If the time prefix of a client
// without server-time makes it too long, it goes without: the text matters more.
func offlineLine(e *LogEntry, nick string, caps capSet) []byte {
	m := historyMessage(e, caps, "")
	m.Command = "PRIVMSG"
	m.Params[0] = nick
	if b := encodeHistory(m, caps); b != nil {
		return b
	}
	m.Params[1] = e.Text
	return encodeHistory(m, caps)
}
