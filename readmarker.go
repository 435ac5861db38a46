package main

// IRCv3 draft/read-marker: MARKREAD <target> [timestamp=YYYY-MM-DDThh:mm:ss.sssZ].
// The marker is the time of the last message the user read in a conversation. It only ever
// moves forward; the server answers every set and get with MARKREAD <target> timestamp=...
// (or "*" when none is stored), sends the new value to every other connection of the user
// with the cap, and sends each room's marker after JOIN, before RPL_ENDOFNAMES.
//
// Markers of an account live in its profile (profile.go), so they survive reconnects and
// restarts and reach a PC the student never used; a guest's live with its user in memory.
// They are written behind (profileStore.updateLater): every device answers and relays a
// MARKREAD at once, and the file follows within profileFlushDelay, one write per burst.

import (
	"strings"
	"time"
)

const markreadLayout = "2006-01-02T15:04:05.000Z"

// parseMarkread reads "timestamp=..." as the spec writes it (RFC 3339 in UTC; any fraction
// of a second is accepted and kept to the millisecond).
func parseMarkread(param string) (time.Time, bool) {
	v, ok := strings.CutPrefix(param, "timestamp=")
	if !ok || v == "*" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil || !strings.HasSuffix(v, "Z") {
		return time.Time{}, false
	}
	return t.UTC(), true
}

func (c *Session) handleMarkread(m *Message) {
	if len(m.Params) == 0 || m.Params[0] == "" {
		c.fail("MARKREAD", "NEED_MORE_PARAMS", "Missing target (MARKREAD <target> [timestamp=YYYY-MM-DDThh:mm:ss.sssZ])")
		return
	}
	target := m.Params[0]
	if strings.HasPrefix(target, "#") {
		if !c.s.validRoomName(target) {
			c.fail("MARKREAD", "INVALID_PARAMS", target, "Not a room name")
			return
		}
	} else if c.s.validNick(target) != nil {
		c.fail("MARKREAD", "INVALID_PARAMS", target, "Not a nick or a room")
		return
	}
	if len(m.Params) < 2 {
		c.sendMarkread(target, c.readMarker(target))
		return
	}
	t, ok := parseMarkread(m.Params[1])
	if !ok {
		c.fail("MARKREAD", "INVALID_PARAMS", target, "Timestamp must be timestamp=YYYY-MM-DDThh:mm:ss.sssZ")
		return
	}
	c.sendMarkread(target, c.setReadMarker(target, t))
}

// readMarker is the stored marker for target ("" for none).
func (c *Session) readMarker(target string) string {
	key := casefold(target)
	if c.account != "" && c.s.profiles != nil {
		return c.s.profiles.get(c.account).Read[key]
	}
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	if c.u == nil {
		return ""
	}
	return c.u.marks[key]
}

// setReadMarker moves the marker forward (never back) and tells the user's other
// connections when it moved. It returns the marker as stored afterwards.
func (c *Session) setReadMarker(target string, t time.Time) string {
	key := casefold(target)
	value := t.Format(markreadLayout)
	newer := func(old string) bool {
		prev, err := time.Parse(markreadLayout, old)
		return old == "" || err != nil || t.After(prev)
	}
	moved := false
	if c.account != "" && c.s.profiles != nil {
		p := c.s.profiles.updateLater(c.account, func(p *Profile) bool {
			if !newer(p.Read[key]) {
				return false
			}
			if p.Read == nil {
				p.Read = make(map[string]string)
			}
			p.Read[key], moved = value, true
			return true
		})
		value = p.Read[key]
	} else {
		c.s.mu.Lock()
		if c.u != nil {
			if newer(c.u.marks[key]) {
				if c.u.marks == nil {
					c.u.marks = make(map[string]string)
				}
				c.u.marks[key], moved = value, true
			}
			value = c.u.marks[key]
		}
		c.s.mu.Unlock()
	}
	if moved {
		line := []byte(":" + c.s.cfg.Name + " MARKREAD " + target + " timestamp=" + value + "\r\n")
		c.s.mu.RLock()
		for _, own := range c.ownSessionsLocked() {
			if own != c && own.caps&capReadMarker != 0 {
				own.send(line)
			}
		}
		c.s.mu.RUnlock()
	}
	return value
}

func (c *Session) sendMarkread(target, value string) {
	if value == "" {
		value = "*"
	} else {
		value = "timestamp=" + value
	}
	c.sendLine(":" + c.s.cfg.Name + " MARKREAD " + target + " " + value)
}
