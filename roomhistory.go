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
// two small files per room that has logs, in <logs>/<room conversation>/:
//   - history-from: the log position ("2026-12-01.log 4096": day file, byte offset) from which a
//     room of that name may show its history after a restart, or "none" (a time, written by
//     hand, works too). It is replaced (temp file and rename) on the rare events that move the
//     floor; a torn file reads as "none", which hides more, never less.
//   - spells: rule 3 across restarts, append-only lines, each ending in " .":
//     "private <day> <off> ." and "public <day> <off> ." where the room turned private and
//     public again, "join <account> <day> <off> ." and "part <account> <day> <off> ." where an
//     account's membership began and ended, and "members <day> <off> <account>... ." naming
//     every account that is a member at that position (written when the room turns private, so
//     that a lost line cannot outlive the spell, and when a restart ends memberships). Positions are
//     where the room's next message is logged (Server.mu is write-locked, so no message of the
//     room is being logged meanwhile: exact). A line the crash cut short lacks its " ." and is
//     skipped, and the next append starts on a line of its own. If a line cannot be written,
//     history-from becomes "none": the next run shows none of the earlier runs' history rather
//     than a private part to the wrong reader.
// Both are written under Server.mu without fsync; a room that never logged a line writes no
// spells and no history-from, so JOINs of made-up names leave no directories behind: the
// memberships that began or ended before the room's first logged line are written as a
// members line when it turns private, empties or the server stops.
// Membership is counted per connection for guests and per account for logged-in users. An
// account that remembers a room (server.remember_rooms) stays its member while all its
// connections are offline, and across a restart, so what was said in a private room meanwhile
// is its to read; its membership ends with PART or KICK (or, without remember_rooms, with its
// last connection). Guests are never members of an earlier run's private spell.

import (
	"errors"
	"fmt"
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

const (
	historyFromFile = "history-from"
	spellsFile      = "spells"
)

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
	// membersUnsaved: a membership began or ended before the room had a log directory, so
	// no line says it; a members line does when the room empties or the server stops.
	membersUnsaved bool
}

// earlierRuns is history-from and spells as read at the room's creation: all of the earlier
// runs' messages, none, or those from a log position (or, in a hand-written file, a time) on;
// and of those, the ones said while the room was private only for who was a member then.
// Read-only once set (readers use it after Server.mu is let go).
type earlierRuns struct {
	all     bool
	from    histPos   // from.day != "": from this position
	at      time.Time // !at.IsZero(): from this time
	private []posSpell
	members map[string][]posSpell // casefolded account → its membership spells
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

// keepFor is keep for a reader logged in as account (casefolded; "" for a guest).
func (e earlierRuns) keepFor(h *histEntry, account string) bool {
	if !e.keep(h) {
		return false
	}
	return !spellsHold(e.private, h.pos) || account != "" && spellsHold(e.members[account], h.pos)
}

// posSpell is a spell of an earlier run in log positions: messages logged at or after from
// and before to; to.day == "" while it was still going on when the log ends.
type posSpell struct{ from, to histPos }

func spellsHold(spells []posSpell, p histPos) bool {
	for _, sp := range spells {
		if p.compare(sp.from) >= 0 && (sp.to.day == "" || p.compare(sp.to) < 0) {
			return true
		}
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

// roomBornLocked sets up a new room's history state from its files: the floor from
// history-from, the earlier runs' private spells and memberships from spells; the members
// who remember the room go on being members, and a room private now is private from its
// first message of this run. s.mu must be write-locked.
func (s *Server) roomBornLocked(r *Room) {
	r.hist = roomHistory{floorSeq: msgSeqNow(), joined: make(map[*Session]uint64), accounts: make(map[string][]histSpell)}
	if s.history == nil {
		return
	}
	s.readHistoryFrom(r)
	sp := s.readSpells(r)
	r.hist.earlier.private, r.hist.earlier.members = sp.private, sp.members
	// Accounts that were members when the server stopped and remember the room are members
	// still (an offline member is one); without remember_rooms their membership ended then.
	var members []string
	if s.cfg.RememberRooms {
		for _, account := range sp.openMembers {
			r.hist.accounts[account] = []histSpell{{msgSeqNow(), math.MaxUint64}}
			members = append(members, account)
		}
	}
	private := r.modeS || r.modeI || r.key != ""
	switch {
	case private:
		r.hist.private = max(msgSeqNow(), 1)
		if !sp.privateOpen {
			s.appendSpells(r, "private "+s.logPosNow(r))
		}
	case sp.privateOpen:
		s.appendSpells(r, "public "+s.logPosNow(r)) // its modes were changed while it was down
	}
	if sp.exists && !slices.Equal(members, sp.openMembers) {
		s.appendSpells(r, membersLine(s.logPosNow(r), members))
	}
}

// readHistoryFrom sets the room's floor in the earlier runs from its history-from file: a
// position or time from which they show; "none" (or anything unreadable), nothing of them;
// no file, nothing to hide (the room never emptied with a history, or its logs predate the
// file).
func (s *Server) readHistoryFrom(r *Room) {
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

// savedSpells is a room's spells file, read.
type savedSpells struct {
	exists      bool
	private     []posSpell
	members     map[string][]posSpell
	privateOpen bool     // the room was private where the file ends
	openMembers []string // accounts that were members where it ends, sorted
}

// readSpells reads the room's spells file; damaged lines are skipped (see the file comment).
func (s *Server) readSpells(r *Room) savedSpells {
	data, err := os.ReadFile(s.spellsPath(r))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Error("room spells file unreadable; the room's earlier private history is shown to no one", "file", s.spellsPath(r), "err", err)
			return savedSpells{exists: true, private: []posSpell{{from: histPos{day: "0"}}}}
		}
		return savedSpells{}
	}
	return parseSpells(string(data))
}

func parseSpells(text string) savedSpells {
	sp := savedSpells{exists: true, members: make(map[string][]posSpell)}
	open := func(l []posSpell) bool { return len(l) > 0 && l[len(l)-1].to.day == "" }
	join := func(account string, at histPos) {
		if l := sp.members[account]; !open(l) {
			sp.members[account] = append(l, posSpell{from: at})
		}
	}
	part := func(account string, at histPos) {
		if l := sp.members[account]; open(l) {
			l[len(l)-1].to = at
		}
	}
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if !strings.HasSuffix(line, "\n") || len(f) < 4 || f[len(f)-1] != "." {
			continue // a comment, or a line cut short
		}
		f = f[:len(f)-1]
		var at histPos
		var ok bool
		switch f[0] {
		case "private", "public", "members":
			at, ok = parseHistPos(f[1], f[2])
		case "join", "part":
			at, ok = parseHistPos(f[2], f[3])
			ok = ok && len(f) == 4
		}
		if !ok {
			continue
		}
		switch f[0] {
		case "private":
			if !open(sp.private) {
				sp.private = append(sp.private, posSpell{from: at})
			}
		case "public":
			if open(sp.private) {
				sp.private[len(sp.private)-1].to = at
			}
		case "join":
			join(casefold(f[1]), at)
		case "part":
			part(casefold(f[1]), at)
		case "members":
			listed := make(map[string]bool)
			for _, a := range f[3:] {
				listed[casefold(a)] = true
				join(casefold(a), at)
			}
			for a := range sp.members {
				if !listed[a] {
					part(a, at)
				}
			}
		}
	}
	sp.privateOpen = open(sp.private)
	for a, l := range sp.members {
		if open(l) {
			sp.openMembers = append(sp.openMembers, a)
		}
	}
	slices.Sort(sp.openMembers)
	return sp
}

func parseHistPos(day, off string) (histPos, bool) {
	n, err := strconv.ParseInt(off, 10, 64)
	if err != nil || n < 0 || len(day) != len("2006-01-02.log") || !strings.HasSuffix(day, ".log") {
		return histPos{}, false
	}
	return histPos{day: day, off: n}, true
}

func membersLine(pos string, accounts []string) string {
	return strings.TrimSpace("members " + pos + " " + strings.Join(accounts, " "))
}

func (s *Server) spellsPath(r *Room) string {
	return filepath.Join(s.history.dir, r.logName, spellsFile)
}

// appendSpells appends lines (without their " .") to the room's spells file. A torn last
// line is ended first so that the new line stands on its own. A failure makes history-from
// "none": the next run hides the earlier runs' history rather than open a private part.
func (s *Server) appendSpells(r *Room, lines ...string) {
	if s.history == nil {
		return
	}
	var b []byte
	for _, l := range lines {
		b = append(b, l+" .\n"...)
	}
	path := s.spellsPath(r)
	err := os.MkdirAll(filepath.Dir(path), 0o700)
	var f *os.File
	if err == nil {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	}
	if err == nil {
		var info os.FileInfo
		if info, err = f.Stat(); err == nil {
			last := []byte{'\n'}
			if info.Size() > 0 {
				_, err = f.ReadAt(last, info.Size()-1)
			} else {
				b = append([]byte("# labchat: when room "+r.name+" was private and who was a member (written by the server; docs/instructors.md)\n"), b...)
			}
			if err == nil && last[0] != '\n' {
				b = append([]byte("\n"), b...)
			}
		}
		if err == nil {
			err = appendLogLine(f, b)
		}
		// A room turning private is rare, and losing that line to a power cut would show
		// the private part to everyone after the restart: it alone is worth an fsync.
		if err == nil && slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "private ") }) {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		s.logDiskError("room spells write failed; after a restart this room shows none of its earlier history", fmt.Errorf("append to %s: %w", path, err))
		s.writeHistoryFrom(r, "none")
	}
}

// roomLogged reports whether the room has a log directory, that is, logged something.
func (s *Server) roomLogged(r *Room) bool {
	_, err := os.Stat(filepath.Join(s.history.dir, r.logName))
	return err == nil
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
	if s.roomLogged(r) {
		s.saveMembersLocked(r)
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
			pos := s.logPosNow(r)
			s.appendSpells(r, "private "+pos, membersLine(pos, r.openAccountsLocked()))
			h.membersUnsaved = false
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
			s.appendSpells(r, "public "+s.logPosNow(r))
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
	account := ""
	if c.account != "" {
		account = casefold(c.account)
	}
	spells := slices.Clone(h.spells)
	if h.private != 0 {
		spells = append(spells, histSpell{h.private, math.MaxUint64})
	}
	return func(e *histEntry) bool {
		seq, thisRun := msgSeq(e.MsgID)
		if !thisRun || seq <= runStart {
			return h.earlier.keepFor(e, account)
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
	c.s.membershipChangedLocked(r, "join "+key)
}

// membershipChangedLocked writes a join or part line, or, while the room has logged nothing
// (and so has no directory to write it in), notes that a members line is owed. s.mu must be
// write-locked.
func (s *Server) membershipChangedLocked(r *Room, event string) {
	switch {
	case s.history == nil:
	case s.roomLogged(r):
		s.appendSpells(r, event+" "+s.logPosNow(r))
	default:
		r.hist.membersUnsaved = true
	}
}

// saveMembersLocked writes the members line a room owes, once it has a log directory. s.mu
// must be write-locked.
func (s *Server) saveMembersLocked(r *Room) {
	if r.hist.membersUnsaved && s.history != nil && s.roomLogged(r) {
		s.appendSpells(r, membersLine(s.logPosNow(r), r.openAccountsLocked()))
		r.hist.membersUnsaved = false
	}
}

// openAccountsLocked lists the accounts that are members of r now (offline ones included),
// sorted. s.mu must be held.
func (r *Room) openAccountsLocked() []string {
	var out []string
	for a, spans := range r.hist.accounts {
		if n := len(spans); n > 0 && spans[n-1].to == math.MaxUint64 {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
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
		c.s.membershipChangedLocked(r, "part "+key)
	}
}
