package main

// client_files.go: the terminal client's side of file sharing (draft/FILEHOST, filehost.go)
// and server search (soju.im/search, search.go).
//
//	/upload FILE       upload to the server's FILEHOST, progress on stderr, then send the link
//	                   to the current target ("capture.pcap (5 MiB) http://…/files/…")
//	/search WORDS [in #ROOM|NICK]   numbered results, one line each
//	/context N         result N in its conversation: CHATHISTORY AROUND its msgid
//
// In pipeline mode `labchat connect --upload FILE --to bob` does what /upload does and exits.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clientFiles is what the session knows about uploads and searches; guarded by mu.
type clientFiles struct {
	mu       sync.Mutex
	filehost string      // the upload URL from RPL_ISUPPORT draft/FILEHOST; "" if none
	results  []searchHit // the last /search's results, numbered from 1
	batches  map[string][]searchHit
}

type searchHit struct {
	target, msgid string
	ev            chatEvent
}

// noteFilehost reads draft/FILEHOST (or soju.im/FILEHOST) from an RPL_ISUPPORT token.
func (f *clientFiles) noteFilehost(tok string) {
	name, value, _ := strings.Cut(tok, "=")
	if name != "draft/FILEHOST" && name != "soju.im/FILEHOST" {
		return
	}
	for u := range strings.FieldsSeq(strings.ReplaceAll(value, `\x20`, " ")) {
		if p, err := url.Parse(u); err == nil && (p.Scheme == "http" || p.Scheme == "https") {
			f.mu.Lock()
			f.filehost = u
			f.mu.Unlock()
			return
		}
	}
}

func (f *clientFiles) uploadURL() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.filehost
}

// uploadTimeoutClient bounds a whole upload; the server allows 10 minutes.
const uploadTimeoutClient = 10 * time.Minute

// uploadFile POSTs a file to the FILEHOST URL, printing progress to progress, and returns
// the link to the stored file.
func (cs *clientSession) uploadFile(ctx context.Context, path string, progress io.Writer) (link string, size int64, err error) {
	target := cs.files.uploadURL()
	if target == "" {
		return "", 0, errors.New("this server takes no uploads (no draft/FILEHOST): it has uploads off, no web port, or you are not logged in")
	}
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("upload %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", 0, fmt.Errorf("upload %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return "", 0, fmt.Errorf("upload %s: not a regular file", path)
	}
	name := filepath.Base(path)
	pr := &progressReader{r: f, total: st.Size(), name: name, w: progress}
	ctx, cancel := context.WithTimeout(ctx, uploadTimeoutClient)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, pr)
	if err != nil {
		return "", 0, fmt.Errorf("upload %s: %w", name, err)
	}
	req.ContentLength = st.Size()
	req.Header.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	typ := mime.TypeByExtension(filepath.Ext(name))
	if typ == "" {
		typ = "application/octet-stream"
	}
	req.Header.Set("Content-Type", typ)
	resp, err := http.DefaultClient.Do(req)
	pr.done()
	if err != nil {
		// A file still being written (a capture tshark has open) is longer than the size
		// sent ahead, and net/http's own words for that name no file.
		if now, serr := os.Stat(path); serr == nil && (now.Size() != st.Size() || !now.ModTime().Equal(st.ModTime())) {
			return "", 0, fmt.Errorf("upload %s: the file changed while it was being sent (%d bytes at the start, %d now); upload it again once whatever writes it has finished", name, st.Size(), now.Size())
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its text repeats the URL, upload token and all
		}
		return "", 0, fmt.Errorf("upload %s to %s: %w", name, redactToken(target), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusCreated {
		return "", 0, fmt.Errorf("upload %s refused: %s", name, strings.TrimSpace(string(body)))
	}
	loc, err := resp.Location()
	if err != nil {
		return "", 0, fmt.Errorf("upload %s: the server sent no Location for it", name)
	}
	return loc.String(), st.Size(), nil
}

// redactToken hides the secret last segment of an upload URL in messages.
func redactToken(u string) string {
	if i := strings.LastIndex(u, "/upload/"); i >= 0 {
		return u[:i] + "/upload/…"
	}
	return u
}

// progressReader reports an upload's progress on one rewritten stderr line.
type progressReader struct {
	r     io.Reader
	w     io.Writer // nil: quiet
	name  string
	total int64
	sent  int64
	last  time.Time
	shown bool
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.sent += int64(n)
	if p.w != nil && (time.Since(p.last) > 100*time.Millisecond || p.sent == p.total) {
		p.last = time.Now()
		pct := 100
		if p.total > 0 {
			pct = int(p.sent * 100 / p.total)
		}
		fmt.Fprintf(p.w, "\rupload %s: %3d%% (%s of %s)", p.name, pct, humanBytes(p.sent), humanBytes(p.total))
		p.shown = true
	}
	return n, err
}

func (p *progressReader) done() {
	if p.w != nil && p.shown {
		fmt.Fprintln(p.w)
	}
}

// uploadMessage is the line that carries an upload's link: the name and size for people,
// then the link, which both clients recognise.
func uploadMessage(path string, size int64, link string) string {
	return filepath.Base(path) + " (" + humanBytes(size) + ") " + link
}

func cmdUpload(cs *clientSession, args string) error {
	path := strings.TrimSpace(args)
	if path == "" {
		cs.complain("usage: /upload FILE")
		return nil
	}
	target := cs.currentTarget()
	if target == "" {
		cs.complain("no target: /join #room or /query NICK first, then /upload FILE")
		return nil
	}
	link, size, err := cs.uploadFile(cs.ctx, path, os.Stderr)
	if err != nil {
		cs.complain(err.Error())
		return nil
	}
	return cs.sendText(target, uploadMessage(path, size, link))
}

// pipelineUpload is --upload FILE --to TARGET: upload, send the link, report it on stdout.
func (cs *clientSession) pipelineUpload(ctx context.Context, stdout io.Writer) error {
	link, size, err := cs.uploadFile(ctx, cs.opts.upload, os.Stderr)
	if err != nil {
		return withExit(exitFailure, err)
	}
	if err := cs.sendText(cs.opts.to, uploadMessage(cs.opts.upload, size, link)); err != nil {
		return err
	}
	if err := cs.roundTrip("upload"); err != nil {
		return err
	}
	fmt.Fprintln(stdout, link)
	return nil
}

// cmdRmfile deletes an uploaded file: the uploader's own, or any as a server operator.
func cmdRmfile(cs *clientSession, args string) error {
	link := strings.TrimSpace(args)
	u, err := url.Parse(link)
	if link == "" || err != nil || !strings.HasPrefix(u.Path, "/files/") {
		cs.complain("usage: /rmfile LINK (the http://…/files/… link of an upload)")
		return nil
	}
	up := cs.files.uploadURL()
	if up == "" {
		cs.complain("this server takes no uploads (no draft/FILEHOST), so it has no files to delete")
		return nil
	}
	token := up[strings.LastIndex(up, "/")+1:]
	ctx, cancel := context.WithTimeout(cs.ctx, dialTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, link, nil)
	if err != nil {
		cs.complain("rmfile: " + err.Error())
		return nil
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cs.complain("rmfile: " + err.Error())
		return nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusNoContent {
		cs.complain("rmfile refused: " + strings.TrimSpace(string(body)))
		return nil
	}
	cs.note("deleted " + link + " from the server")
	return nil
}

// ---- search ----

// escapeSearchValue escapes an attribute value as a message-tag value.
func escapeSearchValue(v string) string {
	return strings.NewReplacer(`\`, `\\`, ";", `\:`, " ", `\s`, "\r", `\r`, "\n", `\n`).Replace(v)
}

func cmdSearch(cs *clientSession, args string) error {
	fields := strings.Fields(args)
	in := ""
	if n := len(fields); n >= 3 && fields[n-2] == "in" {
		in, fields = fields[n-1], fields[:n-2]
	}
	words := strings.Join(fields, " ")
	if words == "" {
		cs.complain("usage: /search WORDS [in #ROOM|NICK]")
		return nil
	}
	if !cs.caps["soju.im/search"] {
		cs.complain("this server offers no search (no soju.im/search); try `labchat history --grep` on the server's PC")
		return nil
	}
	attrs := "text=" + escapeSearchValue(words)
	if in != "" {
		attrs += ";in=" + escapeSearchValue(in)
	}
	return cs.sendCmd("SEARCH", attrs)
}

func cmdContext(cs *clientSession, args string) error {
	n, err := strconv.Atoi(strings.TrimSpace(args))
	cs.files.mu.Lock()
	hits := cs.files.results
	cs.files.mu.Unlock()
	if err != nil || n < 1 || n > len(hits) {
		cs.complain(fmt.Sprintf("usage: /context N, N a result number of the last /search (1 to %d)", len(hits)))
		return nil
	}
	h := hits[n-1]
	if h.msgid == "" {
		cs.complain("that result has no msgid to find it by")
		return nil
	}
	cs.mu.Lock()
	cs.historyWant[clientFold(h.target)] = 11
	cs.mu.Unlock()
	return cs.sendCmd("CHATHISTORY", "AROUND", h.target, "msgid="+h.msgid, "11")
}

// onSearchBatch opens or closes a soju.im/search batch; it reports false for other batches.
func (cs *clientSession) onSearchBatch(m *Message, raw bool) bool {
	f := &cs.files
	ref := m.Param(0)
	if id, ok := strings.CutPrefix(ref, "+"); ok {
		if m.Param(1) != "soju.im/search" {
			return false
		}
		f.mu.Lock()
		if f.batches == nil {
			f.batches = map[string][]searchHit{}
		}
		f.batches[id] = []searchHit{}
		f.mu.Unlock()
		return true
	}
	id := strings.TrimPrefix(ref, "-")
	f.mu.Lock()
	hits, ok := f.batches[id]
	delete(f.batches, id)
	if ok {
		f.results = hits
	}
	f.mu.Unlock()
	if !ok {
		return false
	}
	if len(hits) == 0 {
		cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindInfo, Text: "search: nothing found"})
		return true
	}
	for i, h := range hits {
		ev := h.ev
		ev.Text = fmt.Sprintf("[%d] %s", i+1, ev.Text)
		cs.show(raw, ev)
	}
	cs.show(raw, chatEvent{Time: msgTime(m), Kind: kindInfo, Text: fmt.Sprintf("search: %d result(s); /context N shows one in its conversation", len(hits))})
	return true
}

// onSearchLine collects a line of a search batch; false for lines of other batches.
func (cs *clientSession) onSearchLine(m *Message) bool {
	f := &cs.files
	id := m.Tags["batch"]
	f.mu.Lock()
	_, ok := f.batches[id]
	f.mu.Unlock()
	if !ok {
		return false
	}
	if m.Command != "PRIVMSG" && m.Command != "NOTICE" {
		return true
	}
	from, to, text := nickOf(m.Source), m.Param(0), m.Param(1)
	target := to
	if !cs.isRoom(to) && cs.isSelf(to) {
		target = from // a DM to me: its conversation is the sender's
	}
	kind := kindMessage
	if body, ok := strings.CutPrefix(text, "\x01ACTION "); ok {
		kind, text = kindAction, strings.TrimSuffix(body, "\x01")
	}
	ev := chatEvent{Time: msgTime(m), Kind: kind, From: from, To: to, Text: text, self: cs.isSelf(from), direct: !cs.isRoom(to), history: true}
	f.mu.Lock()
	f.batches[id] = append(f.batches[id], searchHit{target: target, msgid: m.Tags["msgid"], ev: ev})
	f.mu.Unlock()
	return true
}
