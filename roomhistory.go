package main

// Who may read a room's history (CHATHISTORY): history follows visibility. The rule, in
// docs/history.md:
//  1. Only current members read a room's history, and never while banned from it.
//  2. A room keeps its history: what was said while it was public is readable by whoever
//     may join it, after the room emptied and after a server restart alike (rooms have
//     owners now, roomstate.go, so a name is not up for grabs when the room empties).
//  3. What is said while a room is private (+s, +i or +k) is for who was a member then: a
//     member reads those messages only if they were already in the room when each was said
//     (joining later, even by INVITE, does not open the private past).
//
// State: each room remembers its floor (rule 2) and its private spells (rule 3) in memory, and
// writes one small file per room that has logs, <logs>/<room conversation>/history-from, so
// that a restart can tell a room that went on from one that emptied. It holds the log position
// ("2026-12-01.log 4096": day file, byte offset) from which a room of that name may show its
// history after a restart, or "none" (a time, written by hand, works too). The file is
// written under Server.mu on the rare events that change it (emptying, creation after one,
// turning private or public), without fsync; a torn file reads as "none", which hides more,
// never less. A room that never logged a line writes nothing, so JOINs of made-up names leave
// no directories behind.
// Membership is counted per connection for guests and per account for logged-in users. An
// account that remembers a room (server.remember_rooms) stays its member while all its
// connections are offline, so what was said in a private room meanwhile is its to read; its
// membership ends with PART or KICK (or, without remember_rooms, with its last connection).
// Within one server run membership is kept as spells per account; a restart keeps no private
// history open (history-from says "none" while a room is private), which hides more, never less.

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxSpells bounds the private spells a room remembers; older ones move the floor past them.
const maxSpells = 16

const historyFromFile = "history-from"

// roomHistory is a room's history visibility state; guarded by Server.mu. Boundaries within
// this server run are msgid sequence numbers (newMsgID's counter, taken with Server.mu
// write-locked, so no message of the room is being numbered meanwhile): exact even within
// one millisecond, which the log's timestamps are not. Messages of earlier runs are older
// than every boundary of this run and are judged by the history-from file alone, which holds
// a log position (day file and byte offset), just as exact.
type roomHistory struct {
	floorSeq uint64      // messages numbered at or below this in this run are before the room
	earlier  earlierRuns // what of the earlier runs' messages members may read
	private  uint64      // counter when the current private spell began; 0 while public
	spells   []histSpell // ended private spells, oldest first
	joined   map[*Session]uint64
	accounts map[string][]histSpell // casefolded account → its membership spells, oldest first; the last has to = MaxUint64 while it is a member
}

// earlierRuns is history-from as read at the room's creation: all of the earlier runs'
// messages, none, or those from a log position (or, in a hand-written file, a time) on.
type earlierRuns struct {
	all  bool
	from histPos   // from.day != "": from this position
	at   time.Time // !at.IsZero(): from this time
}

func (e earlierRuns) keep(h *histEntry) bool {
	switch {
	case e.all:
		return true
	case e.from.day != "":
		return h.pos.compare(e.from) >= 0
	case !e.at.IsZero():
		return !h.Time.Before(e.at)
	}
	return false
}

// histSpell is a private spell: messages numbered in (from, to] were said while it lasted.
type histSpell struct{ from, to uint64 }

// msgSeq is the sequence number of a msgid of this process. A server started again in the
// same process (tests do) counts on: Server.startSeq tells its run's messages apart.
func msgSeq(msgid string) (uint64, bool) {
	rest, ok := strings.CutPrefix(msgid, msgidPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 36, 64)
	return n, err == nil
}

func msgSeqNow() uint64 { return msgidCounter.Load() }

// roomBornLocked sets up a new room's history floor from its history-from file: a time, where
// the room left off when the server last stopped; "none" (or anything unreadable), nothing
// of earlier runs; no file, nothing to hide (the room never emptied with a history, or its
// logs predate the file). s.mu must be write-locked.
func (s *Server) roomBornLocked(r *Room) {
	r.hist = roomHistory{floorSeq: msgSeqNow(), joined: make(map[*Session]uint64), accounts: make(map[string][]histSpell)}
	if s.history == nil {
		return
	}
	data, err := os.ReadFile(s.historyFromPath(r))
	if err != nil {
		r.hist.earlier.all = true
		return
	}
	// Nothing of this run was said in the room yet: only the earlier runs' part counts.
	text := strings.TrimSpace(string(data))
	if day, off, ok := strings.Cut(text, " "); ok {
		if n, err := strconv.ParseInt(off, 10, 64); err == nil && n >= 0 && strings.HasSuffix(day, ".log") {
			r.hist.earlier.from = histPos{day: day, off: n}
			return
		}
	}
	if t, err := time.Parse(logTimeLayout, text); err == nil {
		r.hist.earlier.at = t
		return
	}
	// Say where this room begins, or a restart would hide its history with the old room's.
	s.writeHistoryFrom(r, s.logPosNow(r))
}

// logPosNow is where the room's next message will be logged: the size of today's day file.
// With Server.mu write-locked no message of the room is being appended, so it is exact.
func (s *Server) logPosNow(r *Room) string {
	day := time.Now().UTC().Format("2006-01-02") + ".log"
	var size int64
	if fi, err := os.Stat(filepath.Join(s.history.dir, r.logName, day)); err == nil {
		size = fi.Size()
	}
	return day + " " + strconv.FormatInt(size, 10)
}

// roomEmptiedLocked records nothing: a room that empties keeps its history (rule 2), and
// what it said while private is already hidden by the history-from file written when it
// turned private. Kept as the one place a future rule would go. s.mu must be write-locked.
func (s *Server) roomEmptiedLocked(r *Room) {
	if s.history == nil || s.closed {
		return
	}
	// The room's run so far (its floor, its private spells) goes on when it is joined
	// again; only rooms that logged something are worth remembering.
	if _, err := os.Stat(filepath.Join(s.history.dir, r.logName)); err == nil {
		h := r.hist
		h.joined = nil
		s.emptiedHist[casefold(r.name)] = h
	}
}

// roomRebornLocked gives a room created again in this run the history state it had when it
// emptied, and reports false when there is none (then roomBornLocked sets it up).
func (s *Server) roomRebornLocked(r *Room) bool {
	h, ok := s.emptiedHist[casefold(r.name)]
	if !ok {
		return false
	}
	delete(s.emptiedHist, casefold(r.name))
	h.joined = make(map[*Session]uint64)
	r.hist = h
	s.roomPrivacyLocked(r) // a spell that ended with the room ends now
	return true
}

// roomPrivacyLocked records a change between public and private after MODE. s.mu must be
// write-locked.
func (s *Server) roomPrivacyLocked(r *Room) {
	private := r.modeS || r.modeI || r.key != ""
	h := &r.hist
	switch {
	case private && h.private == 0:
		h.private = max(msgSeqNow(), 1)
		if s.history != nil {
			s.writeHistoryFrom(r, "none") // a restart now must not open the private part
		}
	case !private && h.private != 0:
		h.spells = append(h.spells, histSpell{h.private, msgSeqNow()})
		h.private = 0
		if len(h.spells) > maxSpells {
			h.floorSeq = max(h.floorSeq, h.spells[0].to)
			h.earlier = earlierRuns{} // earlier runs' messages are before the floor now
			h.spells = h.spells[1:]
		}
		if s.history != nil {
			s.writeHistoryFrom(r, s.logPosNow(r)) // after a restart, from here on
		}
	}
}

func (s *Server) historyFromPath(r *Room) string {
	return filepath.Join(s.history.dir, r.logName, historyFromFile)
}

// writeHistoryFrom replaces the room's history-from file (temp file and rename, so a reader
// never sees half of it). A failure is logged: the room works on with its in-memory state.
func (s *Server) writeHistoryFrom(r *Room, value string) {
	path := s.historyFromPath(r)
	err := os.MkdirAll(filepath.Dir(path), 0o700)
	if err == nil {
		tmp := path + ".tmp"
		if err = os.WriteFile(tmp, []byte(value+"\n"), 0o600); err == nil {
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		s.logDiskError("history-from write failed; after a restart this room may show less or more history", err)
	}
}

// historyFilterLocked is rules 2 and 3 for reader c, a member of r: which logged messages it
// may read. s.mu must be held.
func (r *Room) historyFilterLocked(c *Session) func(*histEntry) bool {
	memberAt := r.membershipLocked(c)
	h := r.hist
	runStart := c.s.startSeq
	spells := slices.Clone(h.spells)
	if h.private != 0 {
		spells = append(spells, histSpell{h.private, math.MaxUint64})
	}
	return func(e *histEntry) bool {
		seq, thisRun := msgSeq(e.MsgID)
		if !thisRun || seq <= runStart {
			return h.earlier.keep(e)
		}
		if seq <= h.floorSeq {
			return false
		}
		for _, sp := range spells {
			if seq > sp.from && seq <= sp.to && !memberAt(seq) {
				return false // said while private, while c was no member
			}
		}
		return true
	}
}

// membershipLocked reports, for reader c, whether it was a member when message seq was said:
// a guest since its connection joined, an account during one of its spells (offline included).
// s.mu must be held; the answer is a snapshot, safe to use after the lock is let go.
func (r *Room) membershipLocked(c *Session) func(seq uint64) bool {
	since := r.hist.joined[c]
	if c.account == "" {
		return func(seq uint64) bool { return seq > since }
	}
	spans := slices.Clone(r.hist.accounts[casefold(c.account)])
	return func(seq uint64) bool {
		if seq > since {
			return true
		}
		for _, sp := range spans {
			if seq > sp.from && seq <= sp.to {
				return true
			}
		}
		return false
	}
}

// accountJoinedLocked opens a membership spell for c's account, unless one is open (another
// device, or the account stayed a member while offline). s.mu must be write-locked.
func (r *Room) accountJoinedLocked(c *Session) {
	if c.account == "" {
		return
	}
	if r.hist.accounts == nil {
		r.hist.accounts = make(map[string][]histSpell)
	}
	key := casefold(c.account)
	spans := r.hist.accounts[key]
	if n := len(spans); n > 0 && spans[n-1].to == math.MaxUint64 {
		return
	}
	spans = append(spans, histSpell{msgSeqNow(), math.MaxUint64})
	if len(spans) > maxSpells {
		spans = spans[1:] // forgetting the oldest spell hides more, never less
	}
	r.hist.accounts[key] = spans
}

// accountLeftLocked ends the membership of c's account when c is its last connection in the
// room; call it before removeLocked. s.mu must be write-locked.
func (r *Room) accountLeftLocked(c *Session) {
	if c.account == "" {
		return
	}
	key := casefold(c.account)
	for m := range r.members {
		if m != c && m.account != "" && casefold(m.account) == key {
			return // the account is still in on another device
		}
	}
	spans := r.hist.accounts[key]
	if n := len(spans); n > 0 && spans[n-1].to == math.MaxUint64 {
		spans[n-1].to = msgSeqNow()
	}
}
