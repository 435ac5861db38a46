package main

// IRCv3 draft/multiline: one message of many lines, sent and relayed as a BATCH.
//
//	BATCH +ref draft/multiline #lab
//	@batch=ref PRIVMSG #lab :first line
//	@batch=ref;draft/multiline-concat PRIVMSG #lab :continues the first line
//	BATCH -ref
//
// The server collects the lines (the processor owns the open batch), checks the limits the
// cap value announces, and relays the whole message at BATCH -: to clients with
// draft/multiline as one batch of the same form, with the message's msgid and time on the
// BATCH line; to the others as one PRIVMSG per non-blank line, the first carrying the msgid
// (the spec's fallback). It is logged as ONE message whose text holds the lines joined by
// "\n" (a concat line joins without one); the log's escaping keeps it on one line of the
// file, so log files written before multiline existed read exactly as before.
//
// Flood control: the BATCH line costs what a line costs; the lines inside a batch do not,
// since the batch is bounded (multilineMaxLines, multilineMaxBytes) and must not take a
// pasted block of code many seconds to arrive.

import (
	"strconv"
	"strings"
)

const (
	multilineBatchType = "draft/multiline"
	multilineConcatTag = "draft/multiline-concat"
	// multilineMaxBytes bounds the text of one message (a 100-line paste of code fits);
	// multilineMaxLines stays below flood_queue's default so a batch never floods the reader.
	multilineMaxBytes = 8192
	multilineMaxLines = 100
)

// mlLine is one line of a multiline message.
type mlLine struct {
	text   string
	concat bool // joins the previous line without a line break
}

// multilineBatch is a batch being received; owned by the session's processor.
type multilineBatch struct {
	ref     string
	target  string
	command string // PRIVMSG or NOTICE, set by the first line
	tags    map[string]string
	label   string
	lines   []mlLine
	bytes   int
}

// inMultilineBatch reports whether a raw line belongs to the open multiline batch, so that
// flood control lets it through (see the file comment). Processor only.
func (c *Session) inMultilineBatch(line string) bool {
	if c.ml == nil || !strings.HasPrefix(line, "@") {
		return false
	}
	section, _, _ := strings.Cut(line[1:], " ")
	for t := range strings.SplitSeq(section, ";") {
		if t == "batch="+c.ml.ref {
			return true
		}
	}
	return false
}

// handleBatch runs a client's BATCH command; only draft/multiline batches are accepted.
func (c *Session) handleBatch(m *Message) {
	ref := m.Params[0]
	switch {
	case strings.HasPrefix(ref, "+") && len(ref) > 1:
		if m.Param(1) != multilineBatchType || c.caps&capMultiline == 0 {
			c.fail("BATCH", "UNKNOWN_TYPE", m.Param(1), "Only draft/multiline batches can be sent to this server (CAP REQ draft/multiline first)")
			return
		}
		if len(m.Params) < 3 || m.Params[2] == "" {
			c.fail("BATCH", "MULTILINE_INVALID_TARGET", "*", "A multiline batch needs a target: BATCH +<ref> draft/multiline <target>")
			return
		}
		if c.ml != nil {
			c.ml = nil
			c.fail("BATCH", "MULTILINE_INVALID", "A multiline batch cannot be opened inside another; both were dropped")
			return
		}
		// The label of the BATCH line labels the echo of the whole message at BATCH -, not
		// an ACK now.
		c.ml = &multilineBatch{ref: ref[1:], target: m.Params[2], tags: clientTags(m.Tags), label: c.label}
		c.label = ""
	case strings.HasPrefix(ref, "-") && len(ref) > 1:
		b := c.ml
		if b == nil || b.ref != ref[1:] {
			c.fail("BATCH", "MULTILINE_INVALID", "No multiline batch "+ref[1:]+" is open")
			return
		}
		c.ml = nil
		c.sendMultiline(b)
	default:
		c.fail("BATCH", "INVALID_PARAMS", ref, "BATCH takes +<ref> to open a batch or -<ref> to close it")
	}
}

// multilineLine takes a line tagged with a batch while a multiline batch is open. It reports
// false for a line that is not part of one, which then runs as a command of its own.
func (c *Session) multilineLine(m *Message) bool {
	ref, tagged := m.Tags["batch"]
	b := c.ml
	if !tagged || b == nil {
		return false
	}
	abort := func(code, why string, params ...string) bool {
		c.ml = nil
		c.fail("BATCH", code, append(params, why+"; the message was not sent")...)
		return true
	}
	if ref != b.ref {
		return abort("MULTILINE_INVALID", "A line tagged batch="+ref+" arrived inside multiline batch "+b.ref)
	}
	if m.Command != "PRIVMSG" && m.Command != "NOTICE" {
		return abort("MULTILINE_INVALID", m.Command+" cannot be part of a multiline message (PRIVMSG or NOTICE only)")
	}
	if b.command == "" {
		b.command = m.Command
	} else if b.command != m.Command {
		return abort("MULTILINE_INVALID", "A multiline message mixes PRIVMSG and NOTICE")
	}
	if casefold(m.Param(0)) != casefold(b.target) {
		return abort("MULTILINE_INVALID", "A line for "+m.Param(0)+" arrived in a multiline batch for "+b.target)
	}
	text := m.Param(1)
	_, concat := m.Tags[multilineConcatTag]
	if concat && text == "" {
		return abort("MULTILINE_INVALID", "A blank line cannot carry draft/multiline-concat")
	}
	b.lines = append(b.lines, mlLine{text, concat})
	b.bytes += len(text)
	if len(b.lines) > 1 && !concat {
		b.bytes++ // the line break
	}
	if len(b.lines) > multilineMaxLines {
		return abort("MULTILINE_MAX_LINES", "The message has more than "+strconv.Itoa(multilineMaxLines)+" lines", strconv.Itoa(multilineMaxLines))
	}
	if b.bytes > multilineMaxBytes {
		return abort("MULTILINE_MAX_BYTES", "The message is longer than "+strconv.Itoa(multilineMaxBytes)+" bytes", strconv.Itoa(multilineMaxBytes))
	}
	return true
}

// sendMultiline relays a complete batch like one PRIVMSG (or NOTICE) to its target.
func (c *Session) sendMultiline(b *multilineBatch) {
	blank := true
	for _, l := range b.lines {
		blank = blank && l.text == ""
	}
	if blank {
		c.fail("BATCH", "MULTILINE_INVALID", "A multiline message needs at least one line of text")
		return
	}
	if b.label != "" && c.label == "" {
		c.label = b.label // the echo of the message is the labeled reply
	}
	ev := Message{Tags: b.tags, Command: b.command, Params: []string{b.target, joinMultiline(b.lines)}}
	notice := b.command == "NOTICE"
	switch target := b.target; {
	case isServiceNick(target):
		c.fail("BATCH", "MULTILINE_INVALID_TARGET", target, "Services take one command per line; send them without a multiline batch")
	case strings.HasPrefix(target, "#"):
		c.relayToRoom(target, ev, notice, b.lines)
	case strings.ContainsAny(target[:1], "$@+"):
		c.fail("BATCH", "MULTILINE_INVALID_TARGET", target, "A multiline message goes to one room or one user")
	default:
		c.relayToUser(target, ev, notice, b.lines)
	}
}

// joinMultiline is the logged text of a multiline message.
func joinMultiline(lines []mlLine) string {
	var sb strings.Builder
	for i, l := range lines {
		if i > 0 && !l.concat {
			sb.WriteByte('\n')
		}
		sb.WriteString(l.text)
	}
	return sb.String()
}

// splitMultiline turns a logged text back into lines that each fit one IRC line after a
// prefix of room bytes: a long line is cut (on a rune boundary) into concat pieces.
func splitMultiline(text string, room int) []mlLine {
	room = max(room, 64)
	var out []mlLine
	for line := range strings.SplitSeq(text, "\n") {
		first := true
		for {
			piece := line
			if len(piece) > room {
				piece = truncateUTF8(piece, room)
				if piece == "" { // a rune longer than the room: cannot happen with room >= 64
					piece = line[:room]
				}
			}
			out = append(out, mlLine{text: piece, concat: !first})
			line = line[len(piece):]
			first = false
			if line == "" {
				break
			}
		}
	}
	return out
}

// multilineRoom is the text one relayed line can carry: 512 bytes less the source, command,
// target and framing.
func multilineRoom(source, command, target string) int {
	return maxBodyLen - (1 + len(source) + 1 + len(command) + 1 + len(target) + 2 + 2)
}

// multilineBytes is the wire form of a multiline event for a client with these caps: one
// draft/multiline batch when the client has the cap (and batch), else the fallback of one
// message per non-blank line, the first with the msgid.
func (o *outMsg) multilineBytes(v int, tags map[string]string) []byte {
	src, cmd, target := o.msg.Source, o.msg.Command, o.msg.Param(0)
	var out []byte
	if v&8 != 0 {
		batchMsg := Message{Tags: tags, Source: src, Command: "BATCH", Params: []string{"+" + o.msgid, multilineBatchType, target}}
		b, err := batchMsg.AppendTo(nil)
		if err != nil {
			return nil
		}
		out = b
		for _, l := range o.multi {
			lt := map[string]string{"batch": o.msgid}
			if l.concat {
				lt[multilineConcatTag] = ""
			}
			m := Message{Tags: lt, Source: src, Command: cmd, Params: []string{target, l.text}}
			if out, err = m.AppendTo(out); err != nil {
				return nil
			}
		}
		return append(out, ":"+src+" BATCH -"+o.msgid+"\r\n"...)
	}
	first := true
	for _, l := range o.multi {
		if l.text == "" {
			continue
		}
		lt := tags
		if !first {
			lt = make(map[string]string, len(tags))
			for k, val := range tags {
				if k != "msgid" {
					lt[k] = val
				}
			}
		}
		first = false
		m := Message{Tags: lt, Source: src, Command: cmd, Params: []string{target, l.text}}
		var err error
		if out, err = m.AppendTo(out); err != nil {
			return nil
		}
	}
	return out
}

// multilineTooLong reports the first line that does not fit once relayed, as relayedLen
// measures it; 0 if all fit.
func multilineTooLong(source, command, target string, lines []mlLine) int {
	for _, l := range lines {
		ev := Message{Source: source, Command: command, Params: []string{target, l.text}}
		if _, err := ev.AppendTo(nil); err != nil {
			return relayedLen(&ev)
		}
	}
	return 0
}

// encodeHistory encodes a message read back from a log (CHATHISTORY, offline delivery):
// a multiline text becomes a draft/multiline batch for a client with the cap, nested in the
// message's batch if it has one, and one message per non-blank line otherwise. nil if it
// cannot be encoded.
func encodeHistory(m Message, caps capSet) []byte {
	text := m.Param(len(m.Params) - 1)
	if !strings.Contains(text, "\n") {
		if b, err := m.AppendTo(nil); err == nil {
			return b
		}
	}
	target := m.Param(0)
	o := &outMsg{msg: m, msgid: m.Tags["msgid"]}
	o.multi = splitMultiline(text, multilineRoom(m.Source, m.Command, target))
	tags := m.Tags
	outer := tags["batch"]
	if caps&(capMultiline|capBatch) == capMultiline|capBatch {
		if o.msgid == "" {
			o.msgid = newMsgID()
		}
		b := o.multilineBytes(8, tags)
		if b != nil && outer != "" {
			// The closing BATCH belongs to the outer batch as its opener does.
			end := []byte(":" + m.Source + " BATCH -" + o.msgid + "\r\n")
			b = append(b[:len(b)-len(end)], withTag(end, []byte("batch="+outer))...)
		}
		return b
	}
	return o.multilineBytes(0, tags)
}
