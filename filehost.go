package main

// filehost.go: file sharing on the web port, as IRCv3 draft/FILEHOST describes it (the
// work-in-progress spec on the filehost branch of ircv3-specifications; soju implements it
// as soju.im/FILEHOST, gamja uses it).
//
// Uploading: a logged-in session's RPL_ISUPPORT carries draft/FILEHOST (and soju.im/FILEHOST
// for gamja) = <web base>/upload/<token>, a per-session secret the server forgets when the
// session ends. A client POSTs the file's bytes there (Content-Disposition names it,
// Content-Type types it) and gets 201 Created with Location: <web base>/files/<id>/<name>,
// the link it then sends in a message. POST /upload with HTTP Basic (account:password) works
// too, for clients that authenticate uploads as soju's do, and for curl.
//
// Fetching: only logged-in accounts (Bearer <token> of a live session, or HTTP Basic) may GET
// a file. Any account may fetch any file: a link is meant to be passed on (in a room, in a
// DM, quoted later), and the server cannot know every conversation a link travelled to;
// what the rule keeps out is everyone who is not a user of this lab (the open lab network,
// a search engine, a student's browser that is not logged in). The random 128-bit id keeps
// files from being listed or guessed.
//
// Serving: raster images (PNG, JPEG, GIF, WebP) whose bytes say they are one are served
// inline; anything else is Content-Disposition: attachment. Every response has nosniff and a
// sandboxing CSP, so even a file a browser opens cannot run script as this origin. HTML, and
// SVG carrying script, are refused at upload; harmless SVG is kept but only ever downloaded.
//
// Storage: <data>/files/<id> holds the bytes, <id>.toml its metadata (plain TOML). A file is
// written to a temp file, synced, and renamed; then its metadata likewise: the metadata is
// the commit point, so a crash leaves either a whole file or an orphan that the next start
// removes. Deleting removes the metadata first. An account's files move to
// <data>/deleted/<name>-<id>/files/ with its DMs when the account is deleted (accounts.go).
//
// Lock: fileHost.mu is a leaf (nothing is taken under it); it is never held during I/O on a
// file's bytes. Server.mu may be held while taking it (revoke under finish is not), never the
// reverse.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

const (
	filesDirName   = "files"
	maxFileNameLen = 200 // bytes of UTF-8
	uploadTimeout  = 10 * time.Minute
	// fileCSP sandboxes whatever a browser shows from /files/: no script, no plugin, no
	// form, its own opaque origin; images and media may load only from here.
	fileCSP = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"
)

// inlineImageTypes are the only types a browser gets to render from /files/ (no SVG: it can
// carry script).
var inlineImageTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// knownFileTypes types files by extension; what the bytes say is checked against it.
var knownFileTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
	".pcap": "application/vnd.tcpdump.pcap", ".cap": "application/vnd.tcpdump.pcap", ".pcapng": "application/x-pcapng",
	".txt": "text/plain; charset=utf-8", ".log": "text/plain; charset=utf-8", ".md": "text/plain; charset=utf-8",
	".c": "text/plain; charset=utf-8", ".h": "text/plain; charset=utf-8", ".py": "text/plain; charset=utf-8",
	".go": "text/plain; charset=utf-8", ".java": "text/plain; charset=utf-8", ".js": "text/plain; charset=utf-8",
	".csv": "text/csv; charset=utf-8", ".json": "application/json", ".pdf": "application/pdf",
	".zip": "application/zip", ".gz": "application/gzip", ".tar": "application/x-tar",
	".svg": "image/svg+xml",
}

// fileMeta is <id>.toml.
type fileMeta struct {
	ID       string    `toml:"id"`
	Name     string    `toml:"name"`
	Type     string    `toml:"type"`
	Size     int64     `toml:"size"`
	SHA256   string    `toml:"sha256"`
	Owner    string    `toml:"owner"`    // the account, as spelled at upload
	OwnerID  string    `toml:"owner_id"` // its id: a new account of the same name owns nothing
	Uploaded time.Time `toml:"uploaded"`
}

// fileHost is the server's file store and its upload tokens.
type fileHost struct {
	dir     string
	maxFile int64
	quota   int64
	log     *slog.Logger

	mu     sync.Mutex           // leaf; guards the maps
	files  map[string]*fileMeta // id → metadata
	used   map[string]int64     // casefolded owner → bytes stored and reserved by uploads in progress
	tokens map[string]*Session  // upload token → the logged-in session it was given to
	byConn map[*Session]string  // the reverse, to revoke at the session's end
}

// fileError is a refusal with its HTTP status; the text is shown to the user as is.
type fileError struct {
	status int
	text   string
}

func (e *fileError) Error() string { return e.text }

func fileErrorf(status int, format string, args ...any) error {
	return &fileError{status, fmt.Sprintf(format, args...)}
}

// openFileHost loads <data>/files, removing what an interrupted upload left.
func openFileHost(dataDir string, cfg *ServerConfig, log *slog.Logger) (*fileHost, error) {
	fh := &fileHost{
		dir: filepath.Join(dataDir, filesDirName), maxFile: cfg.UploadMaxBytes, quota: cfg.UploadQuotaBytes, log: log,
		files: map[string]*fileMeta{}, used: map[string]int64{}, tokens: map[string]*Session{}, byConn: map[*Session]string{},
	}
	if err := os.MkdirAll(fh.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the upload directory: %w", err)
	}
	ents, err := os.ReadDir(fh.dir)
	if err != nil {
		return nil, fmt.Errorf("read the upload directory: %w", err)
	}
	data := map[string]bool{}
	for _, e := range ents {
		name := e.Name()
		switch {
		case isAtomicTemp(name):
			os.Remove(filepath.Join(fh.dir, name))
			log.Warn("removed a temp file left by an interrupted upload", "file", filepath.Join(fh.dir, name))
		case strings.HasSuffix(name, ".toml"):
			m, err := readFileMeta(filepath.Join(fh.dir, name))
			if err != nil {
				log.Error("upload metadata skipped", "file", filepath.Join(fh.dir, name), "err", err)
				continue
			}
			fh.files[m.ID] = m
		case validFileID(name):
			data[name] = true
		}
	}
	for id, m := range fh.files {
		if !data[id] {
			log.Error("uploaded file missing; its metadata is ignored", "id", id, "name", m.Name)
			delete(fh.files, id)
			continue
		}
		fh.used[casefold(m.Owner)] += m.Size
	}
	for id := range data {
		if fh.files[id] == nil {
			// Renamed into place, then the server stopped before its metadata was.
			os.Remove(filepath.Join(fh.dir, id))
			log.Warn("removed an upload without metadata (interrupted)", "id", id)
		}
	}
	return fh, nil
}

func readFileMeta(path string) (*fileMeta, error) {
	var m fileMeta
	if _, err := toml.DecodeFile(path, &m); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !validFileID(m.ID) || filepath.Base(path) != m.ID+".toml" {
		return nil, fmt.Errorf("read %s: id %q does not match the file name", path, m.ID)
	}
	return &m, nil
}

// fileIDEncoding is lower-case base32: safe in URLs and on case-insensitive file systems.
var fileIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newFileID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fileIDEncoding.EncodeToString(b)
}

func validFileID(s string) bool {
	if len(s) != 26 {
		return false
	}
	_, err := fileIDEncoding.DecodeString(s)
	return err == nil
}

// ---- tokens ----

// token returns c's upload token, making one the first time. c must be logged in.
func (fh *fileHost) token(c *Session) string {
	fh.mu.Lock()
	defer fh.mu.Unlock()
	if t, ok := fh.byConn[c]; ok {
		return t
	}
	b := make([]byte, 24)
	rand.Read(b)
	t := base64.RawURLEncoding.EncodeToString(b)
	fh.tokens[t] = c
	fh.byConn[c] = t
	return t
}

// revoke forgets c's token; the session ended.
func (fh *fileHost) revoke(c *Session) {
	if fh == nil {
		return
	}
	fh.mu.Lock()
	defer fh.mu.Unlock()
	if t, ok := fh.byConn[c]; ok {
		delete(fh.tokens, t)
		delete(fh.byConn, c)
	}
}

// filehostTokens are the ISUPPORT tokens for c: none until it is logged in.
func (c *Session) filehostTokens() []string {
	s := c.s
	if s.files == nil || c.account == "" || s.web == nil {
		return nil
	}
	u := c.webBase() + "/upload/" + s.files.token(c)
	return []string{"draft/FILEHOST=" + u, "soju.im/FILEHOST=" + u}
}

// sendFilehostISupport tells a session that logged in after its welcome where to upload.
func (c *Session) sendFilehostISupport() {
	if t := c.filehostTokens(); t != nil {
		c.reply(RPL_ISUPPORT, append(t, "are supported by this server")...)
	}
}

// webBase is the web port's address as this session can reach it: server.web_url when set;
// for a browser, the scheme and host its page came from; for TCP, the address the client
// reached the IRC port on, with the web port.
func (c *Session) webBase() string {
	s := c.s
	if s.cfg.WebURL != "" {
		return strings.TrimSuffix(s.cfg.WebURL, "/")
	}
	if ws, ok := c.conn.(*wsTransport); ok && ws.base != "" {
		return ws.base
	}
	_, port, _ := net.SplitHostPort(s.web.ln.Addr().String())
	host, _, _ := net.SplitHostPort(s.cfg.WebListen)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = ""
		if la, ok := c.localAddr().(*net.TCPAddr); ok {
			host = la.IP.String()
		}
	}
	if host == "" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func (c *Session) localAddr() net.Addr {
	if la, ok := c.conn.(interface{ LocalAddr() net.Addr }); ok {
		return la.LocalAddr()
	}
	return nil
}

// ---- HTTP ----

// requestBase is scheme://host of an HTTP request, as the client addressed the server.
func (w *webServer) requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if w.trustedPeer(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (w *webServer) trustedPeer(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && w.trusted(ap.Addr().Unmap())
}

// isFilesRequest reports the paths filehost.go answers.
func isFilesRequest(p string) bool {
	return p == "/upload" || strings.HasPrefix(p, "/upload/") || strings.HasPrefix(p, "/files/")
}

// serveFiles answers /upload and /files/.
func (w *webServer) serveFiles(rw http.ResponseWriter, r *http.Request) {
	fh := w.srv.files
	h := rw.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", fileCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "private, no-store")
	if fh == nil {
		http.Error(rw, "404 not found: uploads are off on this server (server.uploads)", http.StatusNotFound)
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/files/"); ok {
		id, _, _ := strings.Cut(rest, "/")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			w.fetchFile(rw, r, id)
		case http.MethodDelete:
			w.deleteFile(rw, r, id)
		case http.MethodOptions:
			h.Set("Allow", "OPTIONS, GET, HEAD, DELETE")
			rw.WriteHeader(http.StatusNoContent)
		default:
			h.Set("Allow", "OPTIONS, GET, HEAD, DELETE")
			http.Error(rw, "405 method not allowed: GET or HEAD fetches a file, DELETE removes it", http.StatusMethodNotAllowed)
		}
		return
	}
	switch r.Method {
	case http.MethodPost:
		w.upload(rw, r)
	case http.MethodOptions:
		h.Set("Allow", "OPTIONS, POST")
		h.Set("Accept-Post", "*/*")
		rw.WriteHeader(http.StatusNoContent)
	default:
		h.Set("Allow", "OPTIONS, POST")
		http.Error(rw, "405 method not allowed: upload a file with POST", http.StatusMethodNotAllowed)
	}
}

// uploader is who a request is from.
type uploader struct {
	account, accountID string
	oper               bool
}

// authenticate finds the account behind a request: the upload token in the path or a Bearer
// header, or HTTP Basic account:password (throttled as logins are).
func (w *webServer) authenticate(r *http.Request) (uploader, error) {
	s := w.srv
	token, _ := strings.CutPrefix(r.URL.Path, "/upload/")
	if r.URL.Path == "/upload" || strings.HasPrefix(r.URL.Path, "/files/") {
		token = ""
	}
	authz := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(authz, "Bearer "); ok && token == "" {
		token = strings.TrimSpace(t)
	}
	if token != "" {
		s.files.mu.Lock()
		c := s.files.tokens[token]
		s.files.mu.Unlock()
		if c == nil {
			return uploader{}, fileErrorf(http.StatusUnauthorized, "401 unauthorized: this upload link has expired (its session ended); log in again")
		}
		s.mu.RLock()
		u := uploader{account: c.account, oper: c.oper != ""}
		s.mu.RUnlock()
		if a, ok := s.accounts.Lookup(u.account); ok {
			u.accountID = a.ID
			return u, nil
		}
		return uploader{}, fileErrorf(http.StatusUnauthorized, "401 unauthorized: the account is gone")
	}
	name, password, ok := r.BasicAuth()
	if !ok {
		return uploader{}, fileErrorf(http.StatusUnauthorized, "401 unauthorized: log in first (files are only for logged-in users of this server)")
	}
	ip := w.clientIP(r)
	att, wait, what := s.throttle.Begin(name, ip, time.Now())
	if att == nil {
		return uploader{}, fileErrorf(http.StatusTooManyRequests, "429 too many failed logins %s: try again in %s", what, retryIn(wait))
	}
	a, err := s.accounts.Authenticate(name, password)
	if err != nil {
		if errors.Is(err, ErrBusy) || errors.Is(err, ErrAccountDamaged) || errors.Is(err, ErrAccountLocked) {
			att.Void()
		}
		return uploader{}, fileErrorf(http.StatusUnauthorized, "401 unauthorized: %s", loginErrorText(name, err))
	}
	att.Succeeded()
	u := uploader{account: a.Name, accountID: a.ID, oper: a.Operator}
	for _, op := range s.cfg.Operators {
		if op.Account != "" && casefold(op.Account) == casefold(a.Name) {
			u.oper = true
		}
	}
	return u, nil
}

func writeFileError(rw http.ResponseWriter, err error) {
	var fe *fileError
	if errors.As(err, &fe) {
		if fe.status == http.StatusUnauthorized {
			rw.Header().Set("WWW-Authenticate", `Basic realm="labchat files", charset="UTF-8"`)
		}
		http.Error(rw, fe.text, fe.status)
		return
	}
	http.Error(rw, "500 internal error: "+err.Error(), http.StatusInternalServerError)
}

func (w *webServer) upload(rw http.ResponseWriter, r *http.Request) {
	fh := w.srv.files
	who, err := w.authenticate(r)
	if err != nil {
		writeFileError(rw, err)
		return
	}
	name := ""
	if cd := r.Header.Get("Content-Disposition"); cd != "" {
		_, params, err := mime.ParseMediaType(cd)
		if err != nil {
			writeFileError(rw, fileErrorf(http.StatusBadRequest, "400 bad request: Content-Disposition does not parse: %v", err))
			return
		}
		name = params["filename"]
	}
	if name == "" {
		writeFileError(rw, fileErrorf(http.StatusBadRequest, `400 bad request: name the file with Content-Disposition: attachment; filename="capture.pcap"`))
		return
	}
	if err := checkUploadName(name); err != nil {
		writeFileError(rw, err)
		return
	}
	// The web port's 30 s request limit is for pages; a 25 MiB capture on a busy lab LAN
	// may take longer, so an authenticated upload gets uploadTimeout.
	rc := http.NewResponseController(rw)
	rc.SetReadDeadline(time.Now().Add(uploadTimeout))
	rc.SetWriteDeadline(time.Now().Add(uploadTimeout + webWriteTimeout))
	meta, err := fh.store(r.Body, r.ContentLength, name, who)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = fileErrorf(http.StatusRequestEntityTooLarge, "413 file too large: the limit is %s per file", humanBytes(fh.maxFile))
		}
		if fe := (*fileError)(nil); !errors.As(err, &fe) {
			w.srv.log.Error("upload failed", "account", who.account, "err", err)
			err = fileErrorf(http.StatusInternalServerError, "500 the server could not store the file: %s", diskProblemText(err))
		}
		writeFileError(rw, err)
		return
	}
	w.srv.log.Info("file uploaded", "account", who.account, "id", meta.ID, "name", meta.Name, "bytes", meta.Size)
	loc := w.fileURL(r, meta)
	rw.Header().Set("Location", loc)
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.WriteHeader(http.StatusCreated)
	fmt.Fprintln(rw, loc)
}

// fileURL is the link to a stored file, on the server's public base (web_url), else on the
// host the upload came to.
func (w *webServer) fileURL(r *http.Request, m *fileMeta) string {
	base := w.requestBase(r)
	if w.srv.cfg.WebURL != "" {
		base = strings.TrimSuffix(w.srv.cfg.WebURL, "/")
	}
	return base + "/files/" + m.ID + "/" + url.PathEscape(m.Name)
}

func diskProblemText(err error) string {
	if strings.Contains(err.Error(), "no space") {
		return "the server's disk is full"
	}
	return "a disk error (see the server log)"
}

// checkUploadName refuses names that would be dangerous where they are shown or saved:
// markup and quotes (an XSS attempt in a client that forgets to escape), control and
// invisible characters, path separators, and Windows device names.
func checkUploadName(name string) error {
	bad := func(why string) error {
		return fileErrorf(http.StatusBadRequest, "400 bad file name %q: %s", name, why)
	}
	switch {
	case !utf8.ValidString(name):
		return bad("not UTF-8")
	case len(name) > maxFileNameLen:
		return bad(fmt.Sprintf("longer than %d bytes", maxFileNameLen))
	case strings.TrimSpace(name) != name || name == "" || strings.Trim(name, ".") == "":
		return bad("empty, only dots, or spaces at either end")
	case strings.HasPrefix(name, "."):
		return bad("a hidden file name (starts with a dot)")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return bad("control or text-direction characters")
		}
		if strings.ContainsRune(`<>"'`+"`"+`&/\:*?|;`, r) {
			return bad(`characters such as < > " ' & / \ : * ? | ; are not allowed in file names`)
		}
	}
	stem, _, _ := strings.Cut(strings.ToUpper(name), ".")
	switch strings.TrimSpace(stem) {
	case "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		return bad("a Windows device name")
	}
	return nil
}

// store writes an upload and indexes it. length is the declared size (-1: unknown).
func (fh *fileHost) store(body io.Reader, length int64, name string, who uploader) (*fileMeta, error) {
	key := casefold(who.account)
	if length > fh.maxFile {
		return nil, fileErrorf(http.StatusRequestEntityTooLarge, "413 file too large: %s, the limit is %s per file", humanBytes(length), humanBytes(fh.maxFile))
	}
	fh.mu.Lock()
	free := fh.quota - fh.used[key]
	reserve := min(fh.maxFile, free)
	if length >= 0 {
		reserve = length
	}
	if reserve > free || free <= 0 {
		used := fh.used[key]
		fh.mu.Unlock()
		return nil, fileErrorf(http.StatusInsufficientStorage, "507 over quota: %s already stores %s of its %s; delete some files first", who.account, humanBytes(used), humanBytes(fh.quota))
	}
	fh.used[key] += reserve
	fh.mu.Unlock()
	committed := false
	defer func() {
		if !committed {
			fh.mu.Lock()
			fh.used[key] -= reserve
			fh.mu.Unlock()
		}
	}()

	tmp, err := os.CreateTemp(fh.dir, ".upload.tmp*")
	if err != nil {
		return nil, fmt.Errorf("create the upload's temp file: %w", err)
	}
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	sum := sha256.New()
	head := &headBuffer{max: 512}
	n, err := io.Copy(io.MultiWriter(tmp, sum, head), io.LimitReader(body, reserve+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, fileErrorf(http.StatusBadRequest, "400 the upload was cut short: %v", err)
	}
	if n > reserve {
		if reserve == fh.maxFile || length >= 0 {
			return nil, fileErrorf(http.StatusRequestEntityTooLarge, "413 file too large: the limit is %s per file", humanBytes(fh.maxFile))
		}
		return nil, fileErrorf(http.StatusInsufficientStorage, "507 over quota: this file would pass %s's %s", who.account, humanBytes(fh.quota))
	}
	if length >= 0 && n != length {
		return nil, fileErrorf(http.StatusBadRequest, "400 the upload was cut short: %d of %d bytes", n, length)
	}
	if n == 0 {
		return nil, fileErrorf(http.StatusBadRequest, "400 the file is empty")
	}
	typ, err := fh.checkContent(tmp, name, head.b)
	if err != nil {
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("sync the upload: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("close the upload: %w", err)
	}
	m := &fileMeta{ID: newFileID(), Name: name, Type: typ, Size: n, SHA256: hex.EncodeToString(sum.Sum(nil)),
		Owner: who.account, OwnerID: who.accountID, Uploaded: time.Now().UTC().Truncate(time.Second)}
	if err := os.Rename(tmp.Name(), filepath.Join(fh.dir, m.ID)); err != nil {
		return nil, fmt.Errorf("store the upload: %w", err)
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(m); err != nil {
		os.Remove(filepath.Join(fh.dir, m.ID))
		return nil, fmt.Errorf("encode the upload's metadata: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(fh.dir, m.ID+".toml"), buf.Bytes(), 0o600); err != nil {
		os.Remove(filepath.Join(fh.dir, m.ID))
		return nil, fmt.Errorf("write the upload's metadata: %w", err)
	}
	syncDir(fh.dir)
	committed = true
	fh.mu.Lock()
	fh.used[key] += n - reserve
	fh.files[m.ID] = m
	fh.mu.Unlock()
	return m, nil
}

// headBuffer keeps the first max bytes written to it, for sniffing.
type headBuffer struct {
	b   []byte
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// checkContent types an upload and refuses what a browser could run: HTML under any name,
// and SVG carrying script. f is the temp file, head its first bytes.
func (fh *fileHost) checkContent(f *os.File, name string, head []byte) (string, error) {
	ext := strings.ToLower(filepath.Ext(name))
	sniffed := http.DetectContentType(head)
	sniffedBase, _, _ := strings.Cut(sniffed, ";")
	switch ext {
	case ".html", ".htm", ".xhtml", ".shtml", ".mht", ".mhtml", ".xht", ".hta":
		return "", fileErrorf(http.StatusUnsupportedMediaType, "415 HTML files are not accepted: a browser would run their scripts; zip the file or share it as .txt")
	}
	if sniffedBase == "text/html" {
		return "", fileErrorf(http.StatusUnsupportedMediaType, "415 this file is HTML inside (named %q): HTML files are not accepted; zip it", name)
	}
	lowerHead := bytes.ToLower(head)
	isSVG := ext == ".svg" || ext == ".svgz" || bytes.Contains(lowerHead, []byte("<svg"))
	if isSVG {
		whole, err := os.ReadFile(f.Name())
		if err != nil {
			return "", fmt.Errorf("read the upload back: %w", err)
		}
		if svgHasScript(whole) {
			return "", fileErrorf(http.StatusUnsupportedMediaType, "415 this SVG carries script (a <script>, an on… handler or a javascript: link): not accepted")
		}
		return "image/svg+xml", nil
	}
	typ, known := knownFileTypes[ext]
	if inlineImageTypes[typ] && sniffedBase != typ {
		// Named as an image, but the bytes are something else: never render it.
		return "application/octet-stream", nil
	}
	if known {
		return typ, nil
	}
	if inlineImageTypes[sniffedBase] {
		return sniffedBase, nil
	}
	if strings.HasPrefix(sniffed, "text/plain") {
		return "text/plain; charset=utf-8", nil
	}
	return "application/octet-stream", nil
}

// svgHasScript looks for what makes an SVG active: script elements, event handlers,
// javascript: URLs, and embedded HTML or frames.
func svgHasScript(b []byte) bool {
	l := bytes.ToLower(b)
	for _, bad := range []string{"<script", "javascript:", "<foreignobject", "<iframe", "<embed", "<object", "<handler", "data:text/html"} {
		if bytes.Contains(l, []byte(bad)) {
			return true
		}
	}
	// on...= attributes (onload, onclick, onbegin...), with any whitespace before '='.
	for i := 0; i+3 < len(l); i++ {
		if l[i] == 'o' && l[i+1] == 'n' && (i == 0 || l[i-1] == ' ' || l[i-1] == '\t' || l[i-1] == '\n' || l[i-1] == '\r' || l[i-1] == '/' || l[i-1] == '"' || l[i-1] == '\'') {
			j := i + 2
			for j < len(l) && l[j] >= 'a' && l[j] <= 'z' {
				j++
			}
			for j < len(l) && (l[j] == ' ' || l[j] == '\t' || l[j] == '\n' || l[j] == '\r') {
				j++
			}
			if j > i+2 && j < len(l) && l[j] == '=' {
				return true
			}
		}
	}
	return false
}

// fileRequest is what fetching and deleting a file both start with: who asks (authenticate:
// an upload token or the account's password) and the file's metadata. When either is missing
// it has answered the request itself and returns false.
func (w *webServer) fileRequest(rw http.ResponseWriter, r *http.Request, id string) (uploader, *fileMeta, bool) {
	who, err := w.authenticate(r)
	if err != nil {
		writeFileError(rw, err)
		return uploader{}, nil, false
	}
	fh := w.srv.files
	fh.mu.Lock()
	m := fh.files[id]
	fh.mu.Unlock()
	if m == nil {
		http.Error(rw, "404 not found: no such file (it was deleted, or the link is mistyped)", http.StatusNotFound)
		return uploader{}, nil, false
	}
	return who, m, true
}

func (w *webServer) fetchFile(rw http.ResponseWriter, r *http.Request, id string) {
	_, m, ok := w.fileRequest(rw, r, id)
	if !ok {
		return
	}
	fh := w.srv.files
	f, err := os.Open(filepath.Join(fh.dir, m.ID))
	if err != nil {
		http.Error(rw, "404 not found: the file was deleted", http.StatusNotFound)
		return
	}
	defer f.Close()
	h := rw.Header()
	h.Set("Content-Type", m.Type)
	disp := "attachment"
	if base, _, _ := strings.Cut(m.Type, ";"); inlineImageTypes[base] {
		disp = "inline"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": m.Name}))
	h.Set("Digest", "sha-256="+hexToBase64(m.SHA256))
	h.Set("X-Labchat-Owner", m.Owner)
	http.ServeContent(rw, r, "", m.Uploaded, f)
}

func hexToBase64(s string) string {
	b, _ := hex.DecodeString(s)
	return base64.StdEncoding.EncodeToString(b)
}

// deleteFile lets a file's owner or a server operator delete it.
func (w *webServer) deleteFile(rw http.ResponseWriter, r *http.Request, id string) {
	who, m, ok := w.fileRequest(rw, r, id)
	if !ok {
		return
	}
	fh := w.srv.files
	if casefold(m.Owner) != casefold(who.account) && !who.oper {
		http.Error(rw, "403 forbidden: only "+m.Owner+" (who uploaded it) or a server operator may delete this file", http.StatusForbidden)
		return
	}
	if err := fh.remove(id); err != nil {
		w.srv.log.Error("delete file", "id", id, "err", err)
		http.Error(rw, "500 could not delete the file: "+diskProblemText(err), http.StatusInternalServerError)
		return
	}
	w.srv.log.Info("file deleted", "id", id, "name", m.Name, "owner", m.Owner, "by", who.account)
	rw.WriteHeader(http.StatusNoContent)
}

// remove deletes a file: metadata first (then it is gone even if the bytes stay).
func (fh *fileHost) remove(id string) error {
	fh.mu.Lock()
	m := fh.files[id]
	if m != nil {
		delete(fh.files, id)
		fh.used[casefold(m.Owner)] -= m.Size
	}
	fh.mu.Unlock()
	if m == nil {
		return nil
	}
	if err := os.Remove(filepath.Join(fh.dir, id+".toml")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	syncDir(fh.dir)
	if err := os.Remove(filepath.Join(fh.dir, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// forgetAccount drops a deleted account's files from the index (detachAccountFiles moves
// them on disk), so its links answer 404 and its quota is free for nobody.
func (fh *fileHost) forgetAccount(a Account) {
	if fh == nil {
		return
	}
	fh.mu.Lock()
	defer fh.mu.Unlock()
	for id, m := range fh.files {
		if fileOwnedBy(m, a) {
			delete(fh.files, id)
		}
	}
	delete(fh.used, casefold(a.Name))
}

func fileOwnedBy(m *fileMeta, a Account) bool {
	if casefold(m.Owner) != casefold(a.Name) {
		return false
	}
	return m.OwnerID == "" || a.ID == "" || m.OwnerID == a.ID
}

// accountUploads lists the ids of an account's files in a data directory.
func accountUploads(dataDir string, a Account) []string {
	dir := filepath.Join(dataDir, filesDirName)
	ents, _ := os.ReadDir(dir)
	var ids []string
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".toml")
		if !ok || !validFileID(id) {
			continue
		}
		if m, err := readFileMeta(filepath.Join(dir, e.Name())); err == nil && fileOwnedBy(m, a) {
			ids = append(ids, id)
		}
	}
	return ids
}

// humanBytes is a size for people: 5 MiB, 200 KiB.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strings.TrimSuffix(strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64), ".0") + " MiB"
	case n >= 1<<10:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
