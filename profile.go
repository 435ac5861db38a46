package main

// What follows an account to every device: the rooms it is in, its contacts (its saved
// MONITOR list), its read markers (draft/read-marker) and its display name. One TOML file per
// account, <data>/profiles/<casefolded name>.toml, replaced atomically (temporary file, fsync,
// rename), so a lab PC the student has never used shows the same chat as the last one.
//
// Rooms, contacts and the display name are written at once: they change rarely. Read markers
// change with every message a student reads on every device, so they are written behind: a
// MARKREAD changes the cached profile and marks it dirty, and one goroutine (flushLoop) writes
// the dirty profiles profileFlushDelay after the first change, and at shutdown. A crash loses
// at most that last moment of read markers (the file is never torn), and a client, or a
// student's nc, sending a thousand MARKREADs costs a handful of fsyncs instead of a thousand.
//
// A profile file that does not load is moved aside (<name>.toml.damaged-<time>) with a log
// line and the account starts with an empty profile: a half-written file never keeps anyone
// from logging in. A missing file is an empty profile (accounts from before profiles).

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/BurntSushi/toml"
)

// Profile is one account's file.
type Profile struct {
	DisplayName string            `toml:"display_name,omitempty"`
	Rooms       []string          `toml:"rooms,omitempty"`    // as first written; the account rejoins them at login
	Contacts    []string          `toml:"contacts,omitempty"` // the saved MONITOR list, as written
	Read        map[string]string `toml:"read,omitempty"`     // casefolded target → MARKREAD timestamp
}

// maxProfileRooms and the MONITOR limit bound what one account can make the server store.
const maxProfileRooms = 100

// profileFlushDelay is how long a read marker may wait in memory before its profile is
// written: short enough that a crash loses little, long enough that a burst is one write.
const profileFlushDelay = time.Second

// profileStore caches profiles and writes them through (update) or behind (updateLater).
// mu is a leaf lock, never taken with Server.mu held (its writes fsync): callers snapshot
// what they need first. The file writes happen under mu, so they reach the disk in the order
// of the changes; flushLoop takes mu once per profile, so a long flush never holds it long.
type profileStore struct {
	dir string
	log *slog.Logger

	mu    sync.Mutex
	cache map[string]*Profile // casefolded account → its profile (newer than its file when dirty)
	dirty map[string]string   // casefolded account → account name, for profiles not yet written
	kick  chan struct{}       // 1-buffered: a profile became dirty
	stop  chan struct{}       // closed by close: flush and end flushLoop
	ended chan struct{}       // closed when flushLoop has flushed and ended
	once  sync.Once

	writes atomic.Uint64 // profile files written (STATS, and the tests that count fsyncs)
}

func newProfileStore(dir string, log *slog.Logger) *profileStore {
	ps := &profileStore{dir: dir, log: log, cache: make(map[string]*Profile), dirty: make(map[string]string),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), ended: make(chan struct{})}
	go ps.flushLoop()
	return ps
}

// flushLoop writes dirty profiles profileFlushDelay after the first change of a burst, and
// everything still dirty when the store closes.
func (ps *profileStore) flushLoop() {
	defer close(ps.ended)
	for {
		select {
		case <-ps.kick:
		case <-ps.stop:
			ps.flush()
			return
		}
		timer := time.NewTimer(profileFlushDelay)
		select {
		case <-timer.C:
		case <-ps.stop:
			timer.Stop()
			ps.flush()
			return
		}
		ps.flush()
	}
}

// flush writes every dirty profile, one at a time. A failed write is logged and the profile
// stays dirty, to be tried again with the next change or at shutdown.
func (ps *profileStore) flush() {
	var failed []string
	for {
		ps.mu.Lock()
		key, account := "", ""
		for k, a := range ps.dirty {
			if !slices.Contains(failed, k) {
				key, account = k, a
				break
			}
		}
		if key == "" {
			ps.mu.Unlock()
			return
		}
		if err := ps.writeLocked(account, ps.cache[key]); err != nil {
			ps.log.Error("profile write failed; the read markers last until the server stops unless a later write succeeds", "account", account, "err", err)
			failed = append(failed, key)
		} else {
			delete(ps.dirty, key)
		}
		ps.mu.Unlock()
	}
}

// close writes what is dirty and stops the flusher; the store keeps working (writing through)
// for a straggler afterwards.
func (ps *profileStore) close() {
	ps.once.Do(func() { close(ps.stop) })
	<-ps.ended
}

func (ps *profileStore) path(account string) string {
	return filepath.Join(ps.dir, escapePathName(casefold(account))+".toml")
}

// loadLocked returns the cached profile, reading it on first use; ps.mu must be held.
func (ps *profileStore) loadLocked(account string) *Profile {
	key := casefold(account)
	if p := ps.cache[key]; p != nil {
		return p
	}
	p := &Profile{}
	path := ps.path(account)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		ps.log.Error("profile unreadable; the account starts without its saved rooms, contacts and read markers", "file", path, "err", err)
	default:
		if _, err := toml.Decode(string(data), p); err != nil {
			aside := path + ".damaged-" + time.Now().UTC().Format("20060102T150405")
			rerr := os.Rename(path, aside)
			ps.log.Error("profile damaged, moved aside; the account starts with an empty profile", "file", path, "moved_to", aside, "err", err, "rename_err", rerr)
			p = &Profile{}
		}
	}
	ps.cache[key] = p
	return p
}

// get returns a copy of account's profile.
func (ps *profileStore) get(account string) Profile {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.loadLocked(account).clone()
}

func (p *Profile) clone() Profile {
	c := *p
	c.Rooms = slices.Clone(p.Rooms)
	c.Contacts = slices.Clone(p.Contacts)
	if p.Read != nil {
		c.Read = make(map[string]string, len(p.Read))
		for k, v := range p.Read {
			c.Read[k] = v
		}
	}
	return c
}

// update runs fn on a copy of the profile and, when fn reports a change, writes it and
// keeps it. On a failed write the profile stays as it was, and the error says so.
func (ps *profileStore) update(account string, fn func(*Profile) bool) (Profile, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	cur := ps.loadLocked(account)
	next := cur.clone()
	if !fn(&next) {
		return next, nil
	}
	if err := ps.writeLocked(account, &next); err != nil {
		return cur.clone(), err
	}
	*cur = next.clone()
	delete(ps.dirty, casefold(account)) // the file has the waiting read markers too
	return next, nil
}

// updateLater is update for read markers: the change is kept in memory at once and written
// behind by flushLoop. It reports the profile after fn.
func (ps *profileStore) updateLater(account string, fn func(*Profile) bool) Profile {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	cur := ps.loadLocked(account)
	next := cur.clone()
	if !fn(&next) {
		return next
	}
	*cur = next.clone()
	select {
	case <-ps.stop: // shutting down: nobody flushes any more, so write now
		if err := ps.writeLocked(account, cur); err != nil {
			ps.log.Error("profile write failed", "account", account, "err", err)
		}
		return next
	default:
	}
	ps.dirty[casefold(account)] = account
	select {
	case ps.kick <- struct{}{}:
	default:
	}
	return next
}

// writeLocked replaces account's profile file with p; ps.mu must be held.
func (ps *profileStore) writeLocked(account string, p *Profile) error {
	var b strings.Builder
	b.WriteString("# labchat profile of " + account + ": what follows the account to every device.\n")
	if err := toml.NewEncoder(&b).Encode(p); err != nil {
		return fmt.Errorf("encode profile %s: %w", account, err)
	}
	if err := os.MkdirAll(ps.dir, 0o700); err != nil {
		return fmt.Errorf("save profile %s: %w", account, err)
	}
	if err := writeFileAtomic(ps.path(account), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("save profile %s: %w", account, err)
	}
	ps.writes.Add(1)
	return nil
}

// forget drops a deleted account's cached profile (its file moved to deleted/).
func (ps *profileStore) forget(account string) {
	ps.mu.Lock()
	delete(ps.cache, casefold(account))
	delete(ps.dirty, casefold(account)) // a flush now would bring the file back
	ps.mu.Unlock()
}

// saveProfile is update with the failure logged: the change holds for this run only.
func (s *Server) saveProfile(account string, fn func(*Profile) bool) Profile {
	p, err := s.profiles.update(account, fn)
	if err != nil {
		s.logDiskError("profile write failed; the change lasts until the server stops", err)
	}
	return p
}

// ---- rooms follow the account ----

// rememberRoom adds a room the account joined to its profile (server.remember_rooms).
func (s *Server) rememberRoom(account, room string) {
	if account == "" || !s.cfg.RememberRooms {
		return
	}
	s.saveProfile(account, func(p *Profile) bool {
		if slices.ContainsFunc(p.Rooms, func(r string) bool { return casefold(r) == casefold(room) }) || len(p.Rooms) >= maxProfileRooms {
			return false
		}
		p.Rooms = append(p.Rooms, room)
		return true
	})
}

// forgetRoom drops a room the account left by PART or was kicked from.
func (s *Server) forgetRoom(account, room string) {
	if account == "" {
		return
	}
	s.saveProfile(account, func(p *Profile) bool {
		n := len(p.Rooms)
		p.Rooms = slices.DeleteFunc(p.Rooms, func(r string) bool { return casefold(r) == casefold(room) })
		return len(p.Rooms) != n
	})
}

// restoreAccount gives a connection that just logged in what its account keeps: its display
// name, its rooms (each with JOIN, topic and NAMES, before the client's next line is read),
// its contacts (the saved MONITOR list) and its read markers.
func (c *Session) restoreAccount() {
	if c.account == "" || c.s.profiles == nil {
		return
	}
	p := c.s.profiles.get(c.account)
	c.restoreDisplayName(p)
	c.restoreContacts(p)
	if c.s.cfg.RememberRooms {
		for _, room := range p.Rooms {
			c.joinAs(room, "", true)
		}
	}
}

// ---- contacts follow the account: the saved MONITOR list ----

// saveContacts keeps c's MONITOR list as its account's contacts, and gives every other
// connection of the account the same list at once: its MONITOR list is set to it, and it is
// sent the list (732/733, as MONITOR L answers) and the status of who was added (730/731).
func (c *Session) saveContacts() {
	if c.account == "" || !c.registered || c.s.profiles == nil {
		return
	}
	s := c.s
	s.mu.RLock()
	list := make([]string, 0, len(c.presence.monitors))
	for _, nick := range c.presence.monitors {
		list = append(list, nick)
	}
	s.mu.RUnlock()
	slices.Sort(list)
	changed := false
	s.saveProfile(c.account, func(p *Profile) bool {
		if slices.Equal(p.Contacts, list) {
			return false
		}
		p.Contacts, changed = list, true
		return true
	})
	if !changed {
		return
	}
	s.mu.RLock()
	others := slices.DeleteFunc(slices.Clone(c.ownSessionsLocked()), func(o *Session) bool { return o == c })
	s.mu.RUnlock()
	for _, o := range others {
		o.applyContacts(list, true)
	}
}

// restoreContacts sets a connection's MONITOR list to its account's contacts at login.
func (c *Session) restoreContacts(p Profile) {
	if len(p.Contacts) > 0 {
		c.applyContacts(p.Contacts, true)
	}
}

// applyContacts makes list c's MONITOR list and tells c. It may run on any goroutine: the
// MONITOR state is guarded by Server.mu and the replies are queued.
func (c *Session) applyContacts(list []string, tell bool) {
	s := c.s
	want := make(map[string]string, len(list))
	for _, n := range list {
		if len(want) < s.cfg.MonitorLimit {
			want[casefold(n)] = n
		}
	}
	var online, offline []string
	s.mu.Lock()
	for key := range c.presence.monitors {
		if _, keep := want[key]; !keep {
			c.unwatchLocked(key, false)
		}
	}
	for key, nick := range want {
		if _, have := c.presence.monitors[key]; have {
			continue
		}
		c.watchLocked(key, nick, false)
		if u := s.nicks[key]; u != nil {
			online = append(online, u.first().prefix())
		} else {
			offline = append(offline, nick)
		}
	}
	names := make([]string, 0, len(want))
	for _, n := range want {
		names = append(names, n)
	}
	nick := c.nickOrStar() // read under s.mu: c may be another goroutine's connection
	s.mu.Unlock()
	if !tell {
		return
	}
	slices.Sort(names)
	slices.Sort(online)
	slices.Sort(offline)
	var out []byte
	for _, l := range numericListLines(s.cfg.Name, nick, RPL_MONLIST, names) {
		out = append(out, l...)
	}
	out = append(out, ":"+s.cfg.Name+" "+RPL_ENDOFMONLIST+" "+nick+" :End of MONITOR list\r\n"...)
	for _, l := range numericListLines(s.cfg.Name, nick, RPL_MONONLINE, online) {
		out = append(out, l...)
	}
	for _, l := range numericListLines(s.cfg.Name, nick, RPL_MONOFFLINE, offline) {
		out = append(out, l...)
	}
	c.send(out)
}

// numericListLines is replyList's lines, built without touching the session: a numeric
// whose last parameter is a comma-separated list, split to fit 512 bytes.
func numericListLines(server, nick, code string, items []string) []string {
	budget := maxBodyLen - len(server) - len(nick) - 16
	var lines []string
	for len(items) > 0 {
		n, size := 0, 0
		for n < len(items) && (n == 0 || size+1+len(items[n]) <= budget) {
			size += 1 + len(items[n])
			n++
		}
		lines = append(lines, ":"+server+" "+code+" "+nick+" :"+strings.Join(items[:n], ",")+"\r\n")
		items = items[n:]
	}
	return lines
}

// ---- display names ----

// saveDisplayName keeps a logged-in user's SETNAME as its account's display name.
func (c *Session) saveDisplayName(name string) {
	if c.account == "" || c.s.profiles == nil {
		return
	}
	c.s.saveProfile(c.account, func(p *Profile) bool {
		if p.DisplayName == name {
			return false
		}
		p.DisplayName = name
		return true
	})
}

// restoreDisplayName gives a connection that logs in its account's display name as its
// realname (what WHOIS, WHO and extended-join show), whatever USER said.
func (c *Session) restoreDisplayName(p Profile) {
	if p.DisplayName == "" {
		return
	}
	c.s.mu.Lock()
	c.realname = p.DisplayName
	c.s.mu.Unlock()
}
