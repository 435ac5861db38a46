package main

// web_tls.go: HTTPS on the web port (server.web_tls_listen), for labs that want the browser
// client to be a secure context without `labchat open` on every PC: the same handler as the
// plain web port, so wss:// carries IRC as ws:// does. The certificate is tls_cert/tls_key,
// or the self-signed one of the IRC TLS port (one certificate, one fingerprint to compare).
// With web_tls_redirect, plain-HTTP page requests are sent to HTTPS; WebSocket upgrades on
// the plain port are left alone (IRC clients and scripts use them).

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
)

// listenTLS opens the HTTPS listener when web_tls_listen is set.
func (w *webServer) listenTLS() error {
	s := w.srv
	if s.cfg.WebTLSListen == "" {
		return nil
	}
	var cert tls.Certificate
	var err error
	if s.cfg.TLSCert != "" {
		if cert, err = tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey); err != nil {
			return withExit(exitUsage, fmt.Errorf("load TLS certificate %s and key %s for web_tls_listen: %w", s.cfg.TLSCert, s.cfg.TLSKey, err))
		}
	} else if cert, err = loadOrCreateSelfSigned(filepath.Join(s.dataDir, selfSignedFile), s.cfg.Name, s.log.Info); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.WebTLSListen)
	if err != nil {
		return fmt.Errorf("listen %s (web, HTTPS): %w", s.cfg.WebTLSListen, err)
	}
	if s.trace != nil {
		s.trace.listen("tcp", ln.Addr())
		ln = tracedListener{ln, s.trace}
	}
	// HTTP/1.1 only (no h2 in ALPN): a WebSocket upgrade is an HTTP/1.1 request.
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	// The budget outside TLS, as on the plain port: the upgrade finds the connection's slot.
	w.tlsLn = &budgetListener{Listener: tls.NewListener(ln, conf), b: s.budget, kind: portWeb, exempt: func(ip string) bool {
		a, err := netip.ParseAddr(ip)
		return err == nil && w.trusted(a.Unmap())
	}}
	w.fingerprint = fingerprintText(cert.Certificate[0])
	w.redirect = s.cfg.WebTLSRedirect && w.ln != nil
	return nil
}

// WebTLSAddr is the HTTPS listener's address, or nil when it is off. Valid after Listen.
func (s *Server) WebTLSAddr() net.Addr {
	if s.web == nil || s.web.tlsLn == nil {
		return nil
	}
	return s.web.tlsLn.Addr()
}

// redirectToTLS sends a plain-HTTP page request to the same host and path over HTTPS.
func (w *webServer) redirectToTLS(rw http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(rw.Header())
	host := strings.TrimSuffix(strings.TrimPrefix(r.Host, "["), "]")
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		host = h
	}
	port := strconv.Itoa(int(unmapped(addrPortOf(w.tlsLn.Addr())).Port()))
	target := "https://" + net.JoinHostPort(host, port) + r.URL.RequestURI()
	http.Redirect(rw, r, target, http.StatusPermanentRedirect)
}

// webTLSURLs are the HTTPS addresses to type into a browser, as webURLs are for HTTP.
func webTLSURLs(addr net.Addr) []string {
	urls := webURLs(addr)
	for i, u := range urls {
		urls[i] = "https" + u[len("http"):]
	}
	return urls
}

// isTLS reports whether a request came over the HTTPS listener (net/http sees the budget's
// wrapper, not the *tls.Conn, so r.TLS is not set).
func isTLS(r *http.Request) bool {
	c, ok := r.Context().Value(webConnKey{}).(*slotConn)
	if !ok {
		return r.TLS != nil
	}
	_, tlsConn := c.Conn.(*tls.Conn)
	return tlsConn
}
