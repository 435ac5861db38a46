package main

// Rooms that outlive the server: one TOML file per room, <data>/rooms/<room>.toml, with its
// founder, the accounts the founder made operators, topic, modes, key, limit and the ban,
// exception and invite lists. It is written atomically after every change of those and read
// at start; a file that does not load is skipped with a log line (the room starts fresh).
//
// The account that creates a room is its founder. The founder and its operator accounts get
// @ whenever they join, from any device, after any restart, and pass the room's +i, +k, +l
// and +b. The founder hands the room over or drops it, and a server operator can take any
// room over, with ChanServ (chanserv.go).
//
// Lock order: Server.roomSaveMu, then Server.mu. A save snapshots the room under Server.mu
// and writes the file holding only roomSaveMu, so saves reach the disk in the order the
// changes were made and the file's fsync never stalls the server.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// roomRecord is one room's file.
type roomRecord struct {
	Name    string      `toml:"name"`
	Founder string      `toml:"founder,omitempty"`
	Ops     []string    `toml:"ops,omitempty"` // accounts the founder made operators
	Topic   string      `toml:"topic,omitempty"`
	TopicBy string      `toml:"topic_by,omitempty"`
	TopicAt time.Time   `toml:"topic_at,omitempty"`
	Modes   string      `toml:"modes"` // flags only, as "+nt"
	Key     string      `toml:"key,omitempty"`
	Limit   int         `toml:"limit,omitempty"`
	Bans    []savedMask `toml:"bans,omitempty"`
	Excepts []savedMask `toml:"excepts,omitempty"`
	Invex   []savedMask `toml:"invex,omitempty"`
}

type savedMask struct {
	Mask  string    `toml:"mask"`
	SetBy string    `toml:"set_by,omitempty"`
	SetAt time.Time `toml:"set_at,omitempty"`
}

func (s *Server) roomsDir() string { return filepath.Join(s.dataDir, "rooms") }

func (s *Server) roomPath(name string) string {
	return filepath.Join(s.roomsDir(), roomConversation(name)+".toml")
}

// loadRoomRecords reads every room file; damaged ones are logged and skipped.
func (s *Server) loadRoomRecords() map[string]*roomRecord {
	recs := make(map[string]*roomRecord)
	ents, err := os.ReadDir(s.roomsDir())
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Error("room files unreadable; rooms start without their founders and modes", "dir", s.roomsDir(), "err", err)
		}
		return recs
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".toml") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(s.roomsDir(), e.Name())
		rec, err := readRoomRecord(path)
		if err == nil && (!s.validRoomName(rec.Name) || roomConversation(rec.Name)+".toml" != e.Name()) {
			err = fmt.Errorf("room name %q does not belong in %s", rec.Name, e.Name())
		}
		if err != nil {
			s.log.Error("room file skipped; the room starts without its founder, topic and modes", "file", path, "err", err)
			continue
		}
		recs[casefold(rec.Name)] = rec
	}
	return recs
}

func readRoomRecord(path string) (*roomRecord, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rec := &roomRecord{}
	if _, err := toml.Decode(string(data), rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// applyRecordLocked gives a room being created what its file kept. s.mu must be held.
func (r *Room) applyRecordLocked(rec *roomRecord) {
	r.founder, r.opAccounts = rec.Founder, slices.Clone(rec.Ops)
	r.topic, r.topicBy, r.topicAt = rec.Topic, rec.TopicBy, rec.TopicAt
	for _, mode := range []byte("imnstu") {
		*r.flag(mode) = strings.IndexByte(rec.Modes, mode) >= 0
	}
	r.key, r.limit = rec.Key, rec.Limit
	load := func(l []savedMask) []maskEntry {
		var out []maskEntry
		for _, m := range l {
			if mask, ok := normalizeMask(m.Mask); ok {
				out = append(out, maskEntry{mask: mask, setBy: m.SetBy, setAt: m.SetAt})
			}
		}
		return out
	}
	r.bans, r.excepts, r.invex = load(rec.Bans), load(rec.Excepts), load(rec.Invex)
}

// recordLocked is what the room's file keeps. s.mu must be held.
func (r *Room) recordLocked() *roomRecord {
	rec := &roomRecord{Name: r.name, Founder: r.founder, Ops: slices.Clone(r.opAccounts),
		Topic: r.topic, TopicBy: r.topicBy, TopicAt: r.topicAt, Key: r.key, Limit: r.limit}
	rec.Modes = "+"
	for _, mode := range []byte("imnstu") {
		if *r.flag(mode) {
			rec.Modes += string(mode)
		}
	}
	save := func(l []maskEntry) []savedMask {
		var out []savedMask
		for _, m := range l {
			out = append(out, savedMask{Mask: m.mask, SetBy: m.setBy, SetAt: m.setAt})
		}
		return out
	}
	rec.Bans, rec.Excepts, rec.Invex = save(r.bans), save(r.excepts), save(r.invex)
	return rec
}

// worthKeeping reports whether a record holds anything a fresh room would not have.
func (rec *roomRecord) worthKeeping() bool {
	return rec.Founder != "" || len(rec.Ops) > 0 || rec.Topic != "" || rec.Modes != "+nt" || rec.Key != "" ||
		rec.Limit != 0 || len(rec.Bans) > 0 || len(rec.Excepts) > 0 || len(rec.Invex) > 0
}

// saveRoom writes r's file (or removes it when nothing is worth keeping). A failed write is
// logged; the room works on with its state in memory.
func (s *Server) saveRoom(r *Room) {
	s.roomSaveMu.Lock()
	defer s.roomSaveMu.Unlock()
	s.mu.Lock()
	rec := r.recordLocked()
	keep := rec.worthKeeping()
	if keep {
		s.roomRecords[casefold(r.name)] = rec
	} else {
		delete(s.roomRecords, casefold(r.name))
	}
	s.mu.Unlock()
	path := s.roomPath(r.name)
	if !keep {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.logDiskError("room file removal failed", err)
		}
		return
	}
	var b strings.Builder
	b.WriteString("# labchat room " + r.name + ": founder, operators, topic, modes and lists (written by the server)\n")
	err := toml.NewEncoder(&b).Encode(rec)
	if err == nil {
		err = os.MkdirAll(s.roomsDir(), 0o700)
	}
	if err == nil {
		err = writeFileAtomic(path, []byte(b.String()), 0o600)
	}
	if err != nil {
		s.logDiskError("room file write failed; after a restart "+r.name+" may lose its founder, topic or modes", fmt.Errorf("save room %s: %w", r.name, err))
	}
}

// accountIsOpLocked reports whether c's account is r's founder or one of its operator
// accounts. s.mu must be held.
func (r *Room) accountIsOpLocked(c *Session) bool {
	if c.account == "" {
		return false
	}
	a := casefold(c.account)
	return r.founder != "" && casefold(r.founder) == a ||
		slices.ContainsFunc(r.opAccounts, func(o string) bool { return casefold(o) == a })
}

// setOpAccountLocked adds or removes an account from the room's operator accounts and
// reports whether the list changed. s.mu must be held.
func (r *Room) setOpAccountLocked(account string, op bool) bool {
	if account == "" || r.founder != "" && casefold(account) == casefold(r.founder) {
		return false
	}
	i := slices.IndexFunc(r.opAccounts, func(o string) bool { return casefold(o) == casefold(account) })
	switch {
	case op && i < 0:
		r.opAccounts = append(r.opAccounts, account)
		return true
	case !op && i >= 0:
		r.opAccounts = slices.Delete(r.opAccounts, i, i+1)
		return true
	}
	return false
}
