package main

// IRCv3 draft/metadata-3: key/value metadata on users and rooms (display-name, avatar,
// color, a room's url ...). METADATA <target> GET|LIST|SET|CLEAR|SUB|UNSUB|SUBS|SYNC.
//
// Where it lives: a user's metadata on its User (shared by all its connections), a room's on
// the Room, both guarded by Server.mu like the rest of the registry, and in memory only: a
// user's goes when its last connection does, a room's when the room empties. (Display names
// that must outlive a connection are SETNAME's realname, kept with the account.) A
// connection's subscriptions (SUB) are guarded by Server.mu too, since the sessions that
// notify read them; keys set before registration (before-connect) are its processor's.
//
// Who may: everyone edits their own metadata, room operators their room's, server
// operators anyone's. A room's metadata is shown to its members (and server operators)
// only, so a +s or +i room's stays private. Updates go to the sessions subscribed to the
// key that share a room with the user (or are in the room), never to the one that made the
// change: it has the RPL_KEYVALUE reply. Replies follow what irctest and ergo use:
// 761 RPL_KEYVALUE, 766 RPL_KEYNOTSET, 770-772 for subscriptions, in "metadata" batches.

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	metadataMaxSubs       = 50
	metadataMaxKeys       = 20
	metadataMaxValueBytes = 300 // a value must fit one RPL_KEYVALUE line with a long nick and key

	RPL_WHOISKEYVALUE     = "760"
	RPL_KEYVALUE          = "761"
	RPL_KEYNOTSET         = "766"
	RPL_METADATASUBOK     = "770"
	RPL_METADATAUNSUBOK   = "771"
	RPL_METADATASUBS      = "772"
	RPL_METADATASYNCLATER = "774"
)

// metadataKeyOK: keys are case-insensitive names of a-z, 0-9 and "_./:-", not starting
// with ':' (they are sent as middle parameters).
func metadataKeyOK(key string) bool {
	if key == "" || len(key) > 64 || key[0] == ':' {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("_./:-", c) >= 0) {
			return false
		}
	}
	return true
}

func (c *Session) handleMetadata(m *Message) {
	if len(m.Params) < 2 {
		c.reply(ERR_NEEDMOREPARAMS, "METADATA", "Not enough parameters: METADATA <target> <GET|LIST|SET|CLEAR|SUB|UNSUB|SUBS|SYNC> ...")
		return
	}
	target, sub := m.Params[0], strings.ToUpper(m.Params[1])
	keys := m.Params[2:]
	switch sub {
	case "GET", "SUB", "UNSUB", "SET":
		if len(keys) == 0 {
			c.reply(ERR_NEEDMOREPARAMS, "METADATA", "Not enough parameters: METADATA "+target+" "+sub+" <key>")
			return
		}
	}
	switch sub {
	case "SUB":
		c.metadataSub(keys)
		return
	case "UNSUB":
		c.metadataUnsub(keys)
		return
	case "SUBS":
		c.metadataSubs()
		return
	case "GET", "LIST", "SET", "CLEAR", "SYNC":
	default:
		c.fail("METADATA", "INVALID_PARAMS", m.Params[1], "Unknown subcommand: use GET, LIST, SET, CLEAR, SUB, UNSUB, SUBS or SYNC")
		return
	}
	if !c.registered {
		c.metadataBeforeConnect(target, sub, keys)
		return
	}
	s := c.s
	if target == "*" {
		target = c.nick
	}
	// Writes take the lock for writing; everything is decided and queued under it, so a
	// notification can never overtake the value it reports.
	s.mu.Lock()
	defer s.mu.Unlock()
	var room *Room
	var user *User
	if strings.HasPrefix(target, "#") {
		room = s.rooms[casefold(target)]
	} else {
		user = s.nicks[casefold(target)]
	}
	if room == nil && user == nil {
		c.fail("METADATA", "INVALID_TARGET", target, "No such nick or room")
		return
	}
	var meta *map[string]string
	if room != nil {
		target, meta = room.name, &room.meta
	} else {
		target, meta = user.nick, &user.meta
	}
	canSee := room == nil || c.isOper() || isMember(room, c)
	canEdit := c.isOper() || (user != nil && user == c.u) || (room != nil && room.members[c]&memberOp != 0)
	switch sub {
	case "GET":
		if !canSee {
			c.fail("METADATA", "KEY_NO_PERMISSION", target, "*", "Only members of "+target+" can read its metadata")
			return
		}
		batch := c.openBatch("metadata", target)
		for _, key := range keys {
			key = strings.ToLower(key)
			switch v, ok := (*meta)[key]; {
			case !metadataKeyOK(key):
				c.sendInBatch(batch, "FAIL", "METADATA", "INVALID_KEY", key, "Invalid key name")
			case ok:
				c.sendInBatch(batch, RPL_KEYVALUE, c.nick, target, key, "*", v)
			default:
				c.sendInBatch(batch, RPL_KEYNOTSET, c.nick, target, key, "Key is not set")
			}
		}
		c.closeBatch(batch)
	case "LIST":
		if !canSee {
			c.fail("METADATA", "KEY_NO_PERMISSION", target, "*", "Only members of "+target+" can read its metadata")
			return
		}
		batch := c.openBatch("metadata", target)
		for _, key := range sortedKeys(*meta) {
			c.sendInBatch(batch, RPL_KEYVALUE, c.nick, target, key, "*", (*meta)[key])
		}
		c.closeBatch(batch)
	case "SYNC":
		if !canSee {
			c.fail("METADATA", "KEY_NO_PERMISSION", target, "*", "Only members of "+target+" can read its metadata")
			return
		}
		batch := c.openBatch("metadata", target)
		if room != nil {
			c.sendSubscribedLocked(batch, room.name, room.meta)
			for _, u := range roomUsersLocked(room) {
				c.sendSubscribedLocked(batch, u.nick, u.meta)
			}
		} else {
			c.sendSubscribedLocked(batch, user.nick, user.meta)
		}
		c.closeBatch(batch)
	case "SET":
		key := strings.ToLower(keys[0])
		if !metadataKeyOK(key) {
			c.fail("METADATA", "INVALID_KEY", keys[0], "Invalid key name: use a-z, 0-9 and _ . / : -")
			return
		}
		if !canEdit {
			c.fail("METADATA", "KEY_NO_PERMISSION", target, key, metadataEditRule(room != nil))
			return
		}
		if len(keys) < 2 || keys[1] == "" {
			_, had := (*meta)[key]
			delete(*meta, key)
			c.reply(RPL_KEYNOTSET, target, key, "Key deleted")
			if had {
				c.s.notifyMetadataLocked(c, room, user, target, key, "", false)
			}
			return
		}
		value := keys[1]
		if why := metadataValueProblem(value); why != "" {
			c.fail("METADATA", "INVALID_VALUE", key, why)
			return
		}
		if _, had := (*meta)[key]; !had && len(*meta) >= metadataMaxKeys {
			c.fail("METADATA", "LIMIT_REACHED", target, strconv.Itoa(metadataMaxKeys), "At most "+strconv.Itoa(metadataMaxKeys)+" keys per target")
			return
		}
		changed := (*meta)[key] != value
		if *meta == nil {
			*meta = make(map[string]string)
		}
		(*meta)[key] = value
		c.reply(RPL_KEYVALUE, target, key, "*", value)
		if changed {
			c.s.notifyMetadataLocked(c, room, user, target, key, value, true)
		}
	case "CLEAR":
		if !canEdit {
			c.fail("METADATA", "KEY_NO_PERMISSION", target, "*", metadataEditRule(room != nil))
			return
		}
		old := *meta
		*meta = nil
		batch := c.openBatch("metadata", target)
		for _, key := range sortedKeys(old) {
			c.sendInBatch(batch, RPL_KEYNOTSET, c.nick, target, key, "Key deleted")
			c.s.notifyMetadataLocked(c, room, user, target, key, "", false)
		}
		c.closeBatch(batch)
	}
}

func metadataEditRule(room bool) string {
	if room {
		return "Only the room's operators (and server operators) can change its metadata"
	}
	return "You can only change your own metadata"
}

func metadataValueProblem(v string) string {
	switch {
	case !utf8.ValidString(v):
		return "Values must be UTF-8"
	case len(v) > metadataMaxValueBytes:
		return "Value is too long (at most " + strconv.Itoa(metadataMaxValueBytes) + " bytes)"
	case strings.ContainsAny(v, "\x00\r\n"):
		return "Values cannot hold line breaks"
	}
	return ""
}

func isMember(r *Room, c *Session) bool {
	_, ok := r.members[c]
	return ok
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// roomUsersLocked is each user in r once, in a stable order.
func roomUsersLocked(r *Room) []*User {
	seen := make(map[*User]struct{})
	var out []*User
	for m := range r.members {
		if m.u != nil {
			if _, dup := seen[m.u]; !dup {
				seen[m.u] = struct{}{}
				out = append(out, m.u)
			}
		}
	}
	slices.SortFunc(out, func(a, b *User) int { return strings.Compare(casefold(a.nick), casefold(b.nick)) })
	return out
}

// sendInBatch sends a server reply (params complete, nick included) inside batch if any.
func (c *Session) sendInBatch(batch, command string, params ...string) {
	m := Message{Source: c.s.cfg.Name, Command: command, Params: params}
	if batch != "" {
		m.Tags = map[string]string{"batch": batch}
	}
	c.sendMsg(&m)
}

// sendSubscribedLocked sends the values of meta that c subscribed to; s.mu held.
func (c *Session) sendSubscribedLocked(batch, target string, meta map[string]string) {
	for _, key := range sortedKeys(meta) {
		if _, sub := c.metaSubs[key]; sub {
			c.sendInBatch(batch, RPL_KEYVALUE, c.nick, target, key, "*", meta[key])
		}
	}
}

// notifyMetadataLocked tells the sessions subscribed to key about a change; s.mu held.
func (s *Server) notifyMetadataLocked(actor *Session, room *Room, user *User, target, key, value string, set bool) {
	recipients := make(map[*Session]struct{})
	if room != nil {
		for m := range room.members {
			recipients[m] = struct{}{}
		}
	} else {
		for _, own := range user.sessions {
			recipients[own] = struct{}{}
			for r := range own.rooms {
				for m := range r.members {
					recipients[m] = struct{}{}
				}
			}
		}
	}
	for r := range recipients {
		if r == actor || r.caps&capMetadata == 0 {
			continue
		}
		if _, sub := r.metaSubs[key]; !sub {
			continue
		}
		var m Message
		if set {
			m = Message{Source: s.cfg.Name, Command: RPL_KEYVALUE, Params: []string{r.nickOrStar(), target, key, "*", value}}
		} else {
			m = Message{Source: s.cfg.Name, Command: RPL_KEYNOTSET, Params: []string{r.nickOrStar(), target, key, "Key deleted"}}
		}
		if b, err := m.AppendTo(nil); err == nil {
			r.send(b)
		}
	}
}

// sendJoinMetadataLocked sends a metadata client that joined r the room's and its members'
// subscribed values; s.mu held.
func (c *Session) sendJoinMetadataLocked(r *Room) {
	if c.caps&capMetadata == 0 || len(c.metaSubs) == 0 {
		return
	}
	any := len(r.meta) > 0
	for _, u := range roomUsersLocked(r) {
		any = any || (u != c.u && len(u.meta) > 0)
	}
	if !any {
		return
	}
	batch := c.openBatch("metadata", r.name)
	c.sendSubscribedLocked(batch, r.name, r.meta)
	for _, u := range roomUsersLocked(r) {
		if u != c.u {
			c.sendSubscribedLocked(batch, u.nick, u.meta)
		}
	}
	c.closeBatch(batch)
}

func (c *Session) metadataSub(keys []string) {
	s := c.s
	s.mu.Lock()
	var added []string
	var bad []string
	full := ""
	for _, key := range keys {
		key = strings.ToLower(key)
		if !metadataKeyOK(key) {
			bad = append(bad, key)
			continue
		}
		if _, dup := c.metaSubs[key]; !dup && len(c.metaSubs) >= metadataMaxSubs {
			full = key
			break
		}
		if c.metaSubs == nil {
			c.metaSubs = make(map[string]struct{})
		}
		c.metaSubs[key] = struct{}{}
		added = append(added, key)
	}
	s.mu.Unlock()
	for _, key := range bad {
		c.fail("METADATA", "INVALID_KEY", key, "Invalid key name: use a-z, 0-9 and _ . / : -")
	}
	if full != "" {
		c.fail("METADATA", "LIMIT_REACHED", full, strconv.Itoa(metadataMaxSubs), "Too many subscriptions (at most "+strconv.Itoa(metadataMaxSubs)+")")
	}
	if len(added) > 0 {
		c.reply(RPL_METADATASUBOK, added...)
	}
	if c.registered && len(added) > 0 {
		c.syncAllMetadata()
	}
}

// syncAllMetadata sends the current subscribed values of everyone c shares a room with,
// its rooms' and its own; nothing (not even an empty batch) when there are none.
func (c *Session) syncAllMetadata() {
	s := c.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	type tv struct{ target, key, value string }
	var vals []tv
	add := func(target string, meta map[string]string) {
		for _, key := range sortedKeys(meta) {
			if _, sub := c.metaSubs[key]; sub {
				vals = append(vals, tv{target, key, meta[key]})
			}
		}
	}
	seen := map[*User]struct{}{}
	if c.u != nil {
		seen[c.u] = struct{}{}
		add(c.u.nick, c.u.meta)
	}
	for r := range c.rooms {
		add(r.name, r.meta)
		for _, u := range roomUsersLocked(r) {
			if _, dup := seen[u]; !dup {
				seen[u] = struct{}{}
				add(u.nick, u.meta)
			}
		}
	}
	if len(vals) == 0 {
		return
	}
	batch := c.openBatch("metadata", "*")
	for _, v := range vals {
		c.sendInBatch(batch, RPL_KEYVALUE, c.nick, v.target, v.key, "*", v.value)
	}
	c.closeBatch(batch)
}

func (c *Session) metadataUnsub(keys []string) {
	s := c.s
	var removed []string
	s.mu.Lock()
	for _, key := range keys {
		key = strings.ToLower(key)
		if metadataKeyOK(key) {
			delete(c.metaSubs, key)
			removed = append(removed, key)
		}
	}
	s.mu.Unlock()
	if len(removed) > 0 {
		c.reply(RPL_METADATAUNSUBOK, removed...)
	}
}

func (c *Session) metadataSubs() {
	c.s.mu.RLock()
	keys := make([]string, 0, len(c.metaSubs))
	for k := range c.metaSubs {
		keys = append(keys, k)
	}
	c.s.mu.RUnlock()
	slices.Sort(keys)
	for chunk := range slices.Chunk(keys, 10) {
		c.reply(RPL_METADATASUBS, chunk...)
	}
}

// metadataBeforeConnect keeps SET on "*" until registration (the cap's before-connect).
func (c *Session) metadataBeforeConnect(target, sub string, keys []string) {
	if target != "*" {
		c.fail("METADATA", "KEY_NO_PERMISSION", target, "*", "Before registration you can only set your own metadata (target *)")
		return
	}
	switch sub {
	case "SET":
		key := strings.ToLower(keys[0])
		if !metadataKeyOK(key) {
			c.fail("METADATA", "INVALID_KEY", keys[0], "Invalid key name: use a-z, 0-9 and _ . / : -")
			return
		}
		if len(keys) < 2 || keys[1] == "" {
			delete(c.metaPrereg, key)
			c.reply(RPL_KEYNOTSET, "*", key, "Key deleted")
			return
		}
		if why := metadataValueProblem(keys[1]); why != "" {
			c.fail("METADATA", "INVALID_VALUE", key, why)
			return
		}
		if _, had := c.metaPrereg[key]; !had && len(c.metaPrereg) >= metadataMaxKeys {
			c.fail("METADATA", "LIMIT_REACHED", "*", strconv.Itoa(metadataMaxKeys), "At most "+strconv.Itoa(metadataMaxKeys)+" keys per target")
			return
		}
		if c.metaPrereg == nil {
			c.metaPrereg = make(map[string]string)
		}
		c.metaPrereg[key] = keys[1]
		c.reply(RPL_KEYVALUE, "*", key, "*", keys[1])
	case "GET":
		batch := c.openBatch("metadata", "*")
		for _, key := range keys {
			key = strings.ToLower(key)
			if v, ok := c.metaPrereg[key]; ok {
				c.sendInBatch(batch, RPL_KEYVALUE, c.nickOrStar(), "*", key, "*", v)
			} else {
				c.sendInBatch(batch, RPL_KEYNOTSET, c.nickOrStar(), "*", key, "Key is not set")
			}
		}
		c.closeBatch(batch)
	case "LIST", "CLEAR":
		batch := c.openBatch("metadata", "*")
		for _, key := range sortedKeys(c.metaPrereg) {
			if sub == "LIST" {
				c.sendInBatch(batch, RPL_KEYVALUE, c.nickOrStar(), "*", key, "*", c.metaPrereg[key])
			} else {
				c.sendInBatch(batch, RPL_KEYNOTSET, c.nickOrStar(), "*", key, "Key deleted")
			}
		}
		if sub == "CLEAR" {
			c.metaPrereg = nil
		}
		c.closeBatch(batch)
	case "SYNC":
		c.reply(RPL_METADATASYNCLATER, "*", "60", "Nothing to sync before registration")
	}
}

// applyPreregMetadata moves the keys set before registration onto the user, at welcome,
// and shows the client what it now has.
func (c *Session) applyPreregMetadata() {
	if len(c.metaPrereg) == 0 || c.u == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	if c.u.meta == nil {
		c.u.meta = make(map[string]string)
	}
	for k, v := range c.metaPrereg {
		if _, had := c.u.meta[k]; had || len(c.u.meta) < metadataMaxKeys {
			c.u.meta[k] = v
		}
	}
	nick, meta := c.u.nick, maps.Clone(c.u.meta)
	s.mu.Unlock()
	c.metaPrereg = nil
	batch := c.openBatch("metadata", nick)
	for _, key := range sortedKeys(meta) {
		c.sendInBatch(batch, RPL_KEYVALUE, c.nick, nick, key, "*", meta[key])
	}
	c.closeBatch(batch)
}
