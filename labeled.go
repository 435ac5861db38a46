package main

// IRCv3 labeled-response. A client that negotiated the cap may tag a command with
// @label=<token>; the server's replies to that command then carry the label: a single reply
// gets the tag, several come inside one "labeled-response" batch (if the client has batch;
// otherwise they go unlabeled), and a command with no reply at all gets "ACK".
//
// The replies are what the session's processor queues for its own client while it runs the
// command (sendOwn): numerics, echoes, the client's own JOIN. Lines other sessions send to
// it meanwhile (a message from a friend) go straight to the send queue, outside the batch.
// label, labeled and labeledLines are owned by the processor.

import (
	"bytes"
	"strings"
)

// maxLabelLen bounds a label we echo back; longer ones are ignored, as if absent.
const maxLabelLen = 64

// beginLabel starts holding replies for a labeled command. Only after registration: a
// command before it may end the session (a failed login), and its last replies must not be
// held back behind the closing ERROR.
func (c *Session) beginLabel(m *Message) {
	if c.caps&capLabeledResponse == 0 || !c.registered {
		return
	}
	if l := m.Tags["label"]; l != "" && len(l) <= maxLabelLen {
		c.label = l
	}
}

// sendOwn queues a line for the session's own client, from its processor: a reply to the
// command being run.
func (c *Session) sendOwn(b []byte) {
	if c.label == "" {
		c.send(b)
		return
	}
	c.labeled = append(c.labeled, b...)
	c.labeledLines++
}

// sendFrom queues b for c, sent on behalf of actor: when c is the actor itself, b is part of
// its reply. Call it only from actor's processor.
func (c *Session) sendFrom(actor *Session, b []byte) {
	if c == actor {
		c.sendOwn(b)
	} else {
		c.send(b)
	}
}

// endLabel sends the held replies of a labeled command, labeled.
func (c *Session) endLabel() {
	if c.label == "" {
		return
	}
	label, out, n := c.label, c.labeled, c.labeledLines
	c.label, c.labeled, c.labeledLines = "", out[:0], 0
	labelTag := appendTagValue([]byte("label="), label)
	switch {
	case n == 0:
		c.send(append(append(append([]byte("@"), labelTag...), " :"+c.s.cfg.Name+" ACK"...), '\r', '\n'))
	case n == 1:
		c.send(withTag(out, labelTag))
	case c.caps&capBatch == 0:
		c.send(out)
	default:
		c.send(labeledBatch(c.s.cfg.Name, labelTag, out))
	}
	if cap(c.labeled) > 64<<10 {
		c.labeled = nil // a big history reply is over: give its memory back
	}
}

// labeledBatch wraps lines in a labeled-response batch. Lines that already belong to a batch
// (a chathistory reply's) keep it: their batch opener is the one tagged with ours.
func labeledBatch(server string, labelTag, lines []byte) []byte {
	id := newMsgID()
	batchTag := []byte("batch=" + id)
	buf := make([]byte, 0, len(lines)+len(lines)/8+128)
	buf = append(append(append(buf, '@'), labelTag...), " :"+server+" BATCH +"+id+" labeled-response\r\n"...)
	for len(lines) > 0 {
		end := bytes.IndexByte(lines, '\n') + 1
		if end == 0 {
			end = len(lines)
		}
		line := lines[:end]
		lines = lines[end:]
		if !hasTag(line, "batch") {
			line = withTag(line, batchTag)
		}
		buf = append(buf, line...)
	}
	return append(buf, ":"+server+" BATCH -"+id+"\r\n"...)
}

// withTag returns one encoded line with tag ("key=value", escaped) added in front.
func withTag(line, tag []byte) []byte {
	out := make([]byte, 0, len(line)+len(tag)+2)
	out = append(append(out, '@'), tag...)
	if len(line) > 0 && line[0] == '@' {
		return append(append(out, ';'), line[1:]...)
	}
	return append(append(out, ' '), line...)
}

// hasTag reports whether an encoded line carries a tag with this key.
func hasTag(line []byte, key string) bool {
	if len(line) == 0 || line[0] != '@' {
		return false
	}
	section, _, _ := strings.Cut(string(line[1:]), " ")
	for t := range strings.SplitSeq(section, ";") {
		if k, _, _ := strings.Cut(t, "="); k == key {
			return true
		}
	}
	return false
}
