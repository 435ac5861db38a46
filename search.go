package main

// search.go: server-side search of the history logs, as soju's soju.im/search extension
// (doc/ext/search.md in emersion/soju): the client negotiates the soju.im/search capability
// and sends
//
//	SEARCH <attributes>     e.g. SEARCH :text=capture;in=#lab;limit=20
//
// where attributes are key=value pairs separated by ';', values escaped as message-tag
// values (\s a space, \: a ';'). Keys: in (a room or nick), from (a nick), after and before
// (server-time timestamps), text (every word must appear, case-insensitively), limit. The
// answer is a BATCH of type soju.im/search holding the matching PRIVMSG and NOTICE lines as
// CHATHISTORY replays them (msgid and time tags), oldest first; a client opens one in its
// context with CHATHISTORY AROUND <target> msgid=<id>.
//
// Who may find what: exactly what CHATHISTORY would serve the same session
// (historyConversations and historyConversation in chathistory.go): the rooms it is in, with
// the room's visibility rule, and its own DMs. Nothing else is read.
//
// Cost: each conversation's day files are read newest first until limit matches are in; a
// search with no match reads the searched conversations' whole history (plain files read
// sequentially: a term of a lab's chat is tens of megabytes, read in well under a second).

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	searchDefaultLimit = 50
)

type searchQuery struct {
	in, from      string
	after, before time.Time
	words         []string // lower-cased
	limit         int
}

// parseSearch reads SEARCH's attributes; bad is the attribute at fault.
func parseSearch(attrs string, maxLimit int) (q searchQuery, bad string, err error) {
	q.limit = min(searchDefaultLimit, maxLimit)
	for attr := range strings.SplitSeq(attrs, ";") {
		if attr == "" {
			continue
		}
		key, raw, ok := strings.Cut(attr, "=")
		val := unescapeTagValue(raw)
		if !ok {
			return q, attr, errors.New("want key=value")
		}
		switch strings.ToLower(key) {
		case "in":
			q.in = val
		case "from":
			q.from = val
		case "text":
			for w := range strings.FieldsSeq(strings.ToLower(val)) {
				q.words = append(q.words, w)
			}
		case "after", "before":
			t, err := time.Parse(time.RFC3339Nano, val)
			if err != nil {
				return q, attr, errors.New("want a server-time timestamp such as 2026-12-06T10:00:00.000Z")
			}
			if key == "after" {
				q.after = t
			} else {
				q.before = t
			}
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n <= 0 {
				return q, attr, errors.New("limit must be a positive number")
			}
			q.limit = min(n, maxLimit)
		default:
			return q, attr, errors.New("unknown attribute; use in, from, after, before, text, limit")
		}
	}
	if len(q.words) == 0 && q.from == "" {
		return q, attrs, errors.New("give text=<words> or from=<nick>")
	}
	return q, "", nil
}

func (q *searchQuery) matches(e *histEntry) bool {
	if e.Kind != "PRIVMSG" && e.Kind != "NOTICE" {
		return false
	}
	if q.from != "" {
		nick, _, _ := strings.Cut(e.From, "!")
		if casefold(nick) != casefold(q.from) {
			return false
		}
	}
	if !q.after.IsZero() && e.Time.Before(q.after) || !q.before.IsZero() && e.Time.After(q.before) {
		return false
	}
	if len(q.words) > 0 {
		text := strings.ToLower(strings.TrimPrefix(e.Text, "\x01ACTION "))
		for _, w := range q.words {
			if !strings.Contains(text, w) {
				return false
			}
		}
	}
	return true
}

func (c *Session) handleSearch(m *Message) {
	s := c.s
	if s.history == nil || !s.cfg.Search {
		c.reply(ERR_UNKNOWNCOMMAND, "SEARCH", "Unknown command (search is off on this server)")
		return
	}
	if c.caps&capSearch == 0 {
		c.fail("SEARCH", "NEED_CAP", "Request the soju.im/search capability first (CAP REQ soju.im/search)")
		return
	}
	q, bad, err := parseSearch(strings.Join(m.Params, " "), s.cfg.ChathistoryMax)
	if err != nil {
		c.fail("SEARCH", "INVALID_PARAMS", bad, "Invalid parameters: "+err.Error())
		return
	}
	convs := map[string]string{}
	keeps := map[string]func(*histEntry) bool{}
	if q.in != "" {
		conv, keep, ok := c.historyConversation(q.in)
		if !ok {
			c.fail("SEARCH", "INVALID_PARAMS", "in="+q.in, "Invalid parameters: no such room you are in, or no such nick")
			return
		}
		convs[q.in], keeps[q.in] = conv, keep
	} else {
		convs = c.historyConversations()
		for name := range convs {
			if strings.HasPrefix(name, "#") {
				if _, keep, ok := c.historyConversation(name); ok {
					keeps[name] = keep
				}
			}
		}
	}
	found, err := c.searchConversations(convs, keeps, &q)
	if err != nil {
		s.log.Error("search history", "err", err)
		c.fail("SEARCH", "INTERNAL_ERROR", "The search could not be run (server error reading the logs)")
		return
	}
	batch := c.openBatch("soju.im/search")
	for i := range found {
		msg := historyMessage(&found[i].LogEntry, c.caps, batch)
		c.sendMsg(&msg)
	}
	c.closeBatch(batch)
}

// searchConversations returns the newest q.limit matches over convs, oldest first.
func (c *Session) searchConversations(convs map[string]string, keeps map[string]func(*histEntry) bool, q *searchQuery) ([]histEntry, error) {
	s := c.s
	var all []histEntry
	names := make([]string, 0, len(convs))
	for name := range convs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		conv := convs[name]
		keep := keeps[name]
		var lo, hi histBound
		if !q.after.IsZero() {
			lo = histBound{set: true, t: q.after.UTC().Truncate(time.Millisecond), inclusive: true}
		}
		if !q.before.IsZero() {
			hi = histBound{set: true, t: q.before.UTC().Truncate(time.Millisecond), inclusive: true}
		}
		entries, err := s.scanHistory(conv, lo, hi, q.limit, true, func(e *histEntry) bool {
			return (keep == nil || keep(e)) && q.matches(e)
		})
		if err != nil {
			return nil, err
		}
		all = append(all, entries...)
	}
	slices.SortStableFunc(all, func(a, b histEntry) int { return cmp.Compare(a.Time.UnixNano(), b.Time.UnixNano()) })
	if len(all) > q.limit {
		all = all[len(all)-q.limit:]
	}
	return all, nil
}
