package main

// websocket.go: the web port (server.web_listen). One HTTP server answers two kinds of
// request on any path:
//   - a WebSocket upgrade becomes an IRC session (IRCv3 WebSocket, ircv3.net/specs/extensions/
//     websocket): one IRC line per message, without CRLF, through the same Session as TCP
//     (wsTransport below);
//   - anything else gets the browser client's embedded files (web.go).
//
// The WebSocket library is github.com/coder/websocket: maintained, context-aware, no
// dependencies of its own. Its NetConn adapter joins messages into one byte stream, which
// would lose the line boundaries the spec puts in the framing, so lines are read message by
// message with Conn.Reader.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// The IRCv3 WebSocket subprotocols. With none negotiated (gamja, older clients) the server
// speaks text, as gamja needs.
const (
	subprotocolText   = "text.ircv3.net"
	subprotocolBinary = "binary.ircv3.net"
)

// HTTP limits of the web port. Requests are small GETs of embedded files on a LAN, so the
// limits are tight: every HTTP connection holds a descriptor and a place in the connection
// budget (budget.go). A WebSocket session sets its own deadlines once upgraded
// (ping_interval, write_timeout), so these bound only HTTP.
const (
	webReadTimeout    = 10 * time.Second // whole request, headers included
	webWriteTimeout   = 30 * time.Second // one response
	webIdleTimeout    = 10 * time.Second // a keep-alive connection between requests
	webMaxHeaderBytes = 16 << 10
)

// contentSecurityPolicy allows only the server's own scripts, styles and connections (ws: and
// wss: to the same host are 'self' in CSP 3): no inline script, no eval, nothing from other
// hosts, no framing by other sites.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; media-src 'self' data: blob:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// webServer is the web port of a Server.
type webServer struct {
	srv     *Server
	ln      net.Listener
	http    *http.Server
	files   http.Handler
	etags   map[string]string // file name in web/ → strong ETag of its content
	origins []string          // server.web_origins
	proxies []netip.Prefix    // server.web_trusted_proxies
	hosts   *hostCheck        // the Host names it answers to (webhost.go)

	tlsLn       net.Listener // server.web_tls_listen (web_tls.go); nil when off
	fingerprint string       // of its certificate
	redirect    bool         // server.web_tls_redirect: plain-HTTP pages go to HTTPS
}

// webConnKey is the request-context key of the connection a request came on.
type webConnKey struct{}

// validateWebConfig checks the web_* keys before anything listens.
func validateWebConfig(cfg *ServerConfig) error {
	if cfg.WebListen != "" {
		if err := checkListenAddr(cfg.WebListen); err != nil {
			return usageErrorf("config server.web_listen %q: %v (want HOST:PORT, e.g. :8080, or empty for off)", cfg.WebListen, err)
		}
	}
	if cfg.WebTLSListen != "" {
		if err := checkListenAddr(cfg.WebTLSListen); err != nil {
			return usageErrorf("config server.web_tls_listen %q: %v (want HOST:PORT, e.g. :8443, or empty for off)", cfg.WebTLSListen, err)
		}
	}
	if (cfg.WebListen != "" || cfg.WebTLSListen != "") && cfg.WebHeaderTimeout.Duration <= 0 {
		return usageErrorf("config server.web_header_timeout must be positive")
	}
	for _, o := range cfg.WebOrigins {
		if err := checkOriginPattern(o); err != nil {
			return usageErrorf("config server.web_origins %q: %v", o, err)
		}
	}
	for _, h := range cfg.WebHosts {
		if err := checkHostPattern(h); err != nil {
			return usageErrorf("config server.web_hosts %q: %v", h, err)
		}
	}
	if cfg.WebURL != "" {
		u, err := url.Parse(cfg.WebURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return usageErrorf("config server.web_url %q: want the web port's address as users reach it, such as http://labserver:8080 (scheme and host, no path)", cfg.WebURL)
		}
	}
	if cfg.Uploads && cfg.UploadMaxBytes <= 0 {
		return usageErrorf("config server.upload_max_bytes must be a positive number of bytes (26214400 is 25 MiB)")
	}
	if cfg.Uploads && cfg.UploadQuotaBytes < cfg.UploadMaxBytes {
		return usageErrorf("config server.upload_quota_bytes (%d) must be at least upload_max_bytes (%d)", cfg.UploadQuotaBytes, cfg.UploadMaxBytes)
	}
	if _, err := parseTrustedProxies(cfg.WebTrustedProxies); err != nil {
		return usageErrorf("config server.web_trusted_proxies: %v", err)
	}
	return nil
}

// checkOriginPattern accepts an origin ("https://chat.example.org", "http://10.0.0.5:8080")
// or a host pattern matched with path.Match ("*.example.org", "10.0.0.5:8080").
func checkOriginPattern(o string) error {
	if strings.Contains(o, "://") {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return errors.New("want an origin such as https://chat.example.org (scheme and host, no path)")
		}
		return nil
	}
	if o == "" || strings.ContainsAny(o, "/ ") {
		return errors.New("want an origin (https://host) or a host pattern (*.example.org)")
	}
	if _, err := path.Match(o, ""); err != nil {
		return fmt.Errorf("bad pattern: %w", err)
	}
	return nil
}

// parseTrustedProxies reads addresses ("127.0.0.1") and networks ("10.0.0.0/8").
func parseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or network (e.g. 127.0.0.1 or 10.0.0.0/8)", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// listenWeb opens the web port when web_listen is set.
func (s *Server) listenWeb() error {
	if s.cfg.WebListen == "" && s.cfg.WebTLSListen == "" {
		return nil
	}
	var ln net.Listener
	if s.cfg.WebListen != "" {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.WebListen); err != nil {
			return fmt.Errorf("listen %s (web): %w", s.cfg.WebListen, err)
		}
		if s.trace != nil {
			s.trace.listen("tcp", ln.Addr())
			ln = tracedListener{ln, s.trace}
		}
	}
	proxies, _ := parseTrustedProxies(s.cfg.WebTrustedProxies) // validated by NewServer
	files := webFiles()
	w := &webServer{
		srv:     s,
		files:   http.FileServerFS(files),
		etags:   fileETags(files),
		origins: s.cfg.WebOrigins,
		proxies: proxies,
	}
	if ln != nil {
		w.hosts = newHostCheck(ln.Addr(), s.cfg.Name, s.cfg.WebHosts)
		// Outermost, so that the budget sees each connection before net/http reads from it, and
		// ConnState and the upgrade find its slot.
		w.ln = &budgetListener{Listener: ln, b: s.budget, kind: portWeb, exempt: func(ip string) bool {
			a, err := netip.ParseAddr(ip)
			return err == nil && w.trusted(a.Unmap()) // counted by its clients' addresses at upgrade
		}}
	}
	w.http = &http.Server{
		Handler:           w,
		ReadHeaderTimeout: s.cfg.WebHeaderTimeout.Duration,
		ReadTimeout:       max(webReadTimeout, s.cfg.WebHeaderTimeout.Duration),
		WriteTimeout:      webWriteTimeout,
		IdleTimeout:       webIdleTimeout,
		MaxHeaderBytes:    webMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, webConnKey{}, c)
		},
		ConnState: func(c net.Conn, st http.ConnState) {
			if sc, ok := c.(*slotConn); ok && (st == http.StateActive || st == http.StateIdle) {
				sc.slot.touch() // idle from here: a keep-alive connection is pushed out first
			}
		},
	}
	if err := w.listenTLS(); err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	if w.hosts == nil {
		w.hosts = newHostCheck(w.tlsLn.Addr(), s.cfg.Name, s.cfg.WebHosts)
	}
	s.web = w
	return nil
}

// WebAddr is the web port's address, or nil when it is off. Valid after Listen.
func (s *Server) WebAddr() net.Addr {
	if s.web == nil || s.web.ln == nil {
		return nil
	}
	return s.web.ln.Addr()
}

// serve runs the HTTP server until close, on the plain and the HTTPS listener.
func (w *webServer) serve() {
	for _, ln := range []net.Listener{w.ln, w.tlsLn} {
		if ln == nil {
			continue
		}
		go func() {
			if err := w.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				w.srv.log.Error("web port stopped", "addr", ln.Addr().String(), "err", err)
			}
		}()
	}
}

// close stops the web port. Upgraded connections are sessions: Shutdown ends those.
func (w *webServer) close() {
	if w != nil {
		w.http.Close()
	}
}

// tracedListener traces the web port's connections as the IRC port's.
type tracedListener struct {
	net.Listener
	t *tracer
}

func (l tracedListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.t.accepted(conn), nil
}

// fileETags hashes every embedded file once, so browsers can revalidate with If-None-Match
// (embedded files have no modification time for If-Modified-Since).
func fileETags(files fs.FS) map[string]string {
	tags := make(map[string]string)
	fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(b)
		tags[name] = `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
		return nil
	})
	return tags
}

func (w *webServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if tr := w.srv.trace; tr != nil {
		rec := &statusRecorder{ResponseWriter: rw}
		defer func() { w.traceRequest(r, rec.status) }()
		rw = rec
	}
	if !w.hosts.allowed(r.Host) {
		w.refuseHost(rw, r)
		return
	}
	if isWebSocketRequest(r) {
		w.upgrade(rw, r)
		return
	}
	if w.redirect && !isTLS(r) {
		w.redirectToTLS(rw, r)
		return
	}
	if isFilesRequest(r.URL.Path) {
		w.serveFiles(rw, r)
		return
	}
	w.serveFile(rw, r)
}

// isWebSocketRequest reports an HTTP/1.1 Upgrade to websocket (RFC 6455 section 4.2.1).
func isWebSocketRequest(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// setSecurityHeaders goes on every HTTP response of the web port.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// serveFile answers GET and HEAD from the embedded files. Every file is revalidated on each
// use (no-cache + ETag): a 304 costs a round trip on the lab LAN, while a cached script from
// the previous binary beside a new page would break the client after an upgrade.
func (w *webServer) serveFile(rw http.ResponseWriter, r *http.Request) {
	h := rw.Header()
	setSecurityHeaders(h)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(rw, "405 method not allowed: the web port serves files (GET) and WebSocket upgrades", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" || strings.HasSuffix(r.URL.Path, "/") {
		name = path.Join(name, "index.html")
	}
	if tag, ok := w.etags[name]; ok {
		h.Set("ETag", tag)
	}
	h.Set("Cache-Control", "no-cache")
	w.files.ServeHTTP(rw, r)
}

// upgrade turns a WebSocket request into an IRC session.
func (w *webServer) upgrade(rw http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(rw.Header())
	if origin := r.Header.Get("Origin"); !w.originAllowed(origin, r.Host) {
		// A page from another site must not drive a visitor's browser into this server
		// (cross-site WebSocket hijacking): browsers always send Origin, and it cannot be faked
		// from a script.
		w.srv.log.Info("refused WebSocket", "remote", r.RemoteAddr, "origin", origin, "host", r.Host)
		http.Error(rw, fmt.Sprintf("403 forbidden: WebSocket connections from origin %q are not allowed on %s (the server's own pages are; more with server.web_origins)", origin, r.Host), http.StatusForbidden)
		return
	}
	proto := chooseSubprotocol(r.Header.Values("Sec-WebSocket-Protocol"))
	opts := &websocket.AcceptOptions{
		InsecureSkipVerify: true, // the Origin was checked above, with the configured origins
		CompressionMode:    websocket.CompressionDisabled,
	}
	if proto != "" {
		opts.Subprotocols = []string{proto}
	}
	ws, err := websocket.Accept(rw, r, opts)
	if err != nil {
		return // Accept answered the request with the error
	}
	netConn, ok := r.Context().Value(webConnKey{}).(*slotConn)
	if !ok {
		ws.CloseNow() // the server's ConnContext always sets it
		return
	}
	netConn.SetDeadline(time.Time{}) // HTTP's request timeouts end here; the session keeps its own
	binary := strings.EqualFold(ws.Subprotocol(), subprotocolBinary)
	t := newWSTransport(ws, binary, netConn, w.srv.trace)
	t.base = w.requestBase(r)
	if w.srv.trace != nil {
		w.srv.trace.printf("ws open %s <- %s %s (HTTP 101 Switching Protocols; from now on the TCP bytes are WebSocket frames)", t.local, t.remote, t.modeName())
	}
	// Behind a trusted proxy the client's own address counts from here on. A refusal is
	// told as IRC's, over the WebSocket, where the browser client can show it.
	if reason := netConn.slot.rekey(w.clientIP(r)); reason != "" {
		t.SetWriteDeadline(time.Now().Add(time.Second))
		t.WriteLines([][]byte{[]byte("ERROR :Closing link: " + reason + "\r\n")})
		t.Close()
		return
	}
	w.srv.accept(t, netConn.slot)
}

// chooseSubprotocol picks the first IRCv3 subprotocol in the client's order of preference,
// as the spec requires. "" means none: the client asked for none (text, gamja) or only for
// ones the server does not speak (text, as legacy clients expect).
func chooseSubprotocol(headers []string) string {
	for _, h := range headers {
		for p := range strings.SplitSeq(h, ",") {
			p = strings.TrimSpace(p)
			if strings.EqualFold(p, subprotocolText) || strings.EqualFold(p, subprotocolBinary) {
				return p
			}
		}
	}
	return ""
}

// originAllowed reports whether a page from origin may open a WebSocket to host: pages the
// server itself served (same host and port), configured origins, and clients that send no
// Origin (not a browser, so not a page another site can script).
func (w *webServer) originAllowed(origin, host string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // includes "null" (sandboxed frames, file: pages)
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	for _, o := range w.origins {
		if strings.Contains(o, "://") {
			if strings.EqualFold(strings.TrimSuffix(o, "/"), u.Scheme+"://"+u.Host) {
				return true
			}
		} else if ok, _ := path.Match(strings.ToLower(o), strings.ToLower(u.Host)); ok {
			return true
		}
	}
	return false
}

// clientIP is the address the per-address limits count: the TCP peer, or, when the peer is
// a trusted proxy, the last address in X-Forwarded-For that is not one.
func (w *webServer) clientIP(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		return host
	}
	ip := ap.Addr().Unmap()
	if !w.trusted(ip) {
		return ip.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: trust nothing before it
		}
		ip = a.Unmap()
		if !w.trusted(ip) {
			break
		}
	}
	return ip.String()
}

func (w *webServer) trusted(ip netip.Addr) bool {
	for _, p := range w.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// statusRecorder remembers the status of a response for --trace. Unwrap lets the upgrade
// reach the connection's Hijack.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (w *webServer) traceRequest(r *http.Request, status int) {
	local := ""
	if c, ok := r.Context().Value(webConnKey{}).(net.Conn); ok {
		local = unmapped(addrPortOf(c.LocalAddr())).String()
	}
	remote := r.RemoteAddr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		remote = unmapped(ap).String()
	}
	uri := r.URL.RequestURI()
	if i := strings.Index(uri, "/upload/"); i >= 0 {
		uri = uri[:i] + "/upload/***" // the session's upload token (filehost.go)
	}
	w.srv.trace.printf("http request %s <- %s %s %q -> %d %s", local, remote, r.Method, uri, status, http.StatusText(status))
}

// --- the WebSocket transport ---

// wsTransport is IRC over WebSocket: one line per message, CRLF left out both ways. The
// library does the handshake, reads messages and answers control frames (ping, close); data
// frames are written here, a batch of them in one write straight to the TCP connection, as
// TCP's batch is. Through the library every message costs a flush (one syscall) and about 5
// allocations: the room fan-out benchmark ran at 0.25x TCP's deliveries/s. Mixing the two
// is safe because a server's frames are never masked and the library writes each control
// frame whole in one Write, which the connection never interleaves with another.
type wsTransport struct {
	ws     *websocket.Conn
	conn   net.Conn // the TCP connection under ws (traced when --trace is on)
	opcode byte     // of the frames the server sends: binary only with binary.ircv3.net
	buf    []byte   // the message being read; grows up to maxLineLen+1

	out []byte // the frames of the batch being written; owned by the writer

	closeReason atomic.Pointer[string] // the last ERROR line's text: the close frame's reason
	closeOnce   sync.Once

	tr            *tracer // nil unless --trace
	local, remote string
	base          string // scheme://host the page came from (filehost.go's links)
	rd, wr        lineRedactor
}

// WebSocket opcodes (RFC 6455 section 5.2) of the frames the server writes itself.
const (
	wsOpText   = 0x1
	wsOpBinary = 0x2
)

func newWSTransport(ws *websocket.Conn, binary bool, conn net.Conn, tr *tracer) *wsTransport {
	ws.SetReadLimit(-1) // ReadLine bounds what it keeps and skips the rest, as TCP's reader does
	t := &wsTransport{ws: ws, conn: conn, opcode: wsOpText, buf: make([]byte, lineReaderInitial), tr: tr}
	t.wr.fromServer = true
	if binary {
		t.opcode = wsOpBinary
	}
	t.local = unmapped(addrPortOf(conn.LocalAddr())).String()
	t.remote = unmapped(addrPortOf(conn.RemoteAddr())).String()
	markOpaque(conn, "WebSocket frames")
	return t
}

func (t *wsTransport) modeName() string {
	if t.opcode == wsOpBinary {
		return "subprotocol binary.ircv3.net: binary messages"
	}
	if p := t.ws.Subprotocol(); p != "" {
		return "subprotocol " + p + ": text messages"
	}
	return "no subprotocol: text messages"
}

// errWSInvalidUTF8 ends a connection whose text message was not UTF-8.
var errWSInvalidUTF8 = errors.New("websocket: text message is not valid UTF-8")

// ReadLine reads the next message as one IRC line. A trailing CRLF or LF is tolerated (the
// spec forbids it; some clients send it). A text message that is not UTF-8 fails the
// connection with 1007, as RFC 6455 section 8.1 requires; binary messages carry any bytes.
func (t *wsTransport) ReadLine() ([]byte, error) {
	typ, r, err := t.ws.Reader(context.Background())
	if err != nil {
		return nil, err
	}
	n := 0
	for {
		if n == len(t.buf) && n <= maxLineLen {
			grown := make([]byte, min(2*len(t.buf), maxLineLen+1))
			copy(grown, t.buf[:n])
			t.buf = grown
		}
		if n > maxLineLen {
			if _, err := io.Copy(io.Discard, r); err != nil {
				return nil, err
			}
			t.traceRead(typ, n, []byte("(over the line limit: skipped)\n"))
			return nil, ErrLineTooLong
		}
		m, err := r.Read(t.buf[n:])
		n += m
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	line := t.buf[:n]
	if typ == websocket.MessageText && !utf8.Valid(line) {
		t.traceRead(typ, n, []byte("(not UTF-8: closing with 1007)\n"))
		t.closeWith(websocket.StatusInvalidFramePayloadData, "text message is not valid UTF-8 (use binary.ircv3.net for other encodings)")
		return nil, errWSInvalidUTF8
	}
	line = dropLineEnd(line)
	if t.tr != nil {
		t.traceRead(typ, n, append(line[:len(line):len(line)], '\n'))
	}
	return line, nil
}

// WriteLines sends each line as one unfragmented message without its CRLF, the whole batch
// in one write. In text mode, bytes that are not UTF-8 become U+FFFD, since the spec forbids
// relaying them in text messages (a browser would drop the connection).
func (t *wsTransport) WriteLines(lines [][]byte) (int64, error) {
	size := 0
	for _, b := range lines {
		size += len(b) + 8 // a header is at most 10 bytes, and the CRLF goes
	}
	if cap(t.out) < size {
		t.out = make([]byte, 0, size)
	}
	out := t.out[:0]
	for _, b := range lines {
		msg := dropLineEnd(b)
		if t.opcode == wsOpText && !utf8.Valid(msg) {
			msg = bytes.ToValidUTF8(msg, []byte("\uFFFD"))
		}
		if len(msg) > 7 && msg[0] == 'E' && string(msg[:7]) == "ERROR :" { // relayed lines start with ':' or '@'; skip the compare
			reason := string(msg[len("ERROR :"):])
			t.closeReason.Store(&reason)
		}
		if t.tr != nil {
			t.tr.printf("ws write %s -> %s %s %d bytes %s", t.local, t.remote, t.frameName(t.opcode == wsOpBinary, len(msg), false), len(msg), t.wr.show(append(msg[:len(msg):len(msg)], '\n')))
		}
		out = append(appendFrameHeader(out, t.opcode, len(msg)), msg...)
	}
	n, err := t.conn.Write(out)
	t.out = out[:0]
	if cap(out) > maxIdleWriteBuf {
		t.out = nil // a burst is over: give its memory back
	}
	return int64(n), err
}

// maxIdleWriteBuf is the most bytes a WebSocket or TLS writer keeps between bursts. Copying a batch
// into one buffer costs less than a writev of two pieces (header, line) per line.
const maxIdleWriteBuf = 64 << 10

// dropLineEnd returns line without its CRLF (the session ends every line so) or LF.
func dropLineEnd(line []byte) []byte {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		n--
		if n > 0 && line[n-1] == '\r' {
			n--
		}
	}
	return line[:n]
}

// appendFrameHeader appends the header of a final, unmasked frame of n payload bytes.
func appendFrameHeader(b []byte, opcode byte, n int) []byte {
	b = append(b, 0x80|opcode)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	}
	b = append(b, 127)
	for shift := 56; shift >= 0; shift -= 8 {
		b = append(b, byte(uint64(n)>>shift))
	}
	return b
}

func (t *wsTransport) SetWriteDeadline(d time.Time) error { return t.conn.SetWriteDeadline(d) }

// Close sends a close frame (1000, with the ERROR line's text as reason) and closes the
// connection once the peer answers, within the library's 5 s bound.
func (t *wsTransport) Close() error {
	reason := ""
	if p := t.closeReason.Load(); p != nil {
		reason = *p
	}
	return t.closeWith(websocket.StatusNormalClosure, reason)
}

func (t *wsTransport) closeWith(code websocket.StatusCode, reason string) error {
	var err error
	t.closeOnce.Do(func() {
		reason = truncateUTF8(reason, 123) // a close frame's payload is at most 125 bytes
		if t.tr != nil {
			t.tr.printf("ws close %s -> %s (close frame %d %s %q)", t.local, t.remote, int(code), code, reason)
		}
		err = t.ws.Close(code, reason)
	})
	return err
}

func (t *wsTransport) RemoteAddr() net.Addr { return t.conn.RemoteAddr() }

func (t *wsTransport) traceRead(typ websocket.MessageType, n int, shown []byte) {
	if t.tr == nil {
		return
	}
	t.tr.printf("ws read %s <- %s %s %d bytes %s", t.local, t.remote, t.frameName(typ == websocket.MessageBinary, n, true), n, t.rd.show(shown))
}

// frameName describes a message as one unfragmented frame, as browsers send IRC lines and
// this server sends them: header (2, 4 or 10 bytes), the 4-byte mask from clients, payload.
func (t *wsTransport) frameName(binary bool, n int, masked bool) string {
	header := 2
	switch {
	case n > 65535:
		header = 10
	case n > 125:
		header = 4
	}
	kind, how := "text", "unmasked"
	if binary {
		kind = "binary"
	}
	if masked {
		header += 4
		how = "masked"
	}
	return fmt.Sprintf("%s frame (%s, %d bytes on the wire):", kind, how, header+n)
}

// webURLs are the addresses to type into a browser for the web port at addr: this PC's
// LAN addresses when it listens on all of them (students' PCs reach those), else addr.
func webURLs(addr net.Addr) []string {
	ap := unmapped(addrPortOf(addr))
	port := fmt.Sprint(ap.Port())
	if !ap.Addr().IsUnspecified() {
		return []string{"http://" + net.JoinHostPort(ap.Addr().String(), port) + "/"}
	}
	var urls []string
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsMulticast() {
				continue
			}
			if ip = ip.Unmap(); ip.Is4() { // lab networks are IPv4; [::] takes IPv4 too
				urls = append(urls, "http://"+net.JoinHostPort(ip.String(), port)+"/")
			}
		}
	}
	return append(urls, "http://localhost:"+port+"/")
}
