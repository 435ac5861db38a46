package main

// tls.go: IRC over TLS, beside plain IRC (which stays the default for the packet lab).
//
// Server: server.tls_listen (default :6697) with tls_cert/tls_key, or, when none are given, a
// self-signed certificate generated once into the data directory; its SHA-256 fingerprint is
// printed at start so that users can compare it with what their client shows.
//
// Client: `labchat connect --tls HOST[:PORT]` trusts a certificate that chains to the system
// roots; any other is trusted on first use, as ssh does with host keys: the first connection
// shows the fingerprint (a terminal asks; a pipeline accepts and says so on stderr) and pins it
// per server in the client's data directory, and a different certificate later is refused.
// --tls-fingerprint pins one up front.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
)

// defaultTLSPort is IRC over TLS's registered port (RFC 7194).
const defaultTLSPort = "6697"

// tlsHandshakeTimeout bounds a server-side handshake: a client that opens the port and says
// nothing must not hold a goroutine for long.
const tlsHandshakeTimeout = 10 * time.Second

// selfSignedFile is the generated certificate and its key, one PEM file in the server's data
// directory, so that it is written (and replaced) in one atomic step.
const selfSignedFile = "tls-selfsigned.pem"

// pinFile lists the servers whose certificate the client trusts on first use.
const pinFile = "tls_known_servers"

// --- server ---

// tlsPort is the server's TLS listener.
type tlsPort struct {
	ln          net.Listener
	config      *tls.Config
	fingerprint string // SHA-256 of the certificate, as fingerprintText shows it
	selfSigned  string // the generated certificate's file; "" for tls_cert
}

func validateTLSConfig(cfg *ServerConfig) error {
	if cfg.TLSListen != "" {
		if err := checkListenAddr(cfg.TLSListen); err != nil {
			return usageErrorf("config server.tls_listen %q: %v (want HOST:PORT, e.g. :6697, or empty for off)", cfg.TLSListen, err)
		}
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return usageErrorf("config server.tls_cert and server.tls_key: give both files (certificate chain and its key), or neither for a self-signed certificate")
	}
	return nil
}

// listenTLS opens the TLS port when tls_listen is set, with its certificate loaded (or made).
func (s *Server) listenTLS() error {
	if s.cfg.TLSListen == "" {
		return nil
	}
	p := &tlsPort{}
	var cert tls.Certificate
	var err error
	if s.cfg.TLSCert != "" {
		cert, err = tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return withExit(exitUsage, fmt.Errorf("load TLS certificate %s and key %s: %w", s.cfg.TLSCert, s.cfg.TLSKey, err))
		}
	} else {
		p.selfSigned = filepath.Join(s.dataDir, selfSignedFile)
		if cert, err = loadOrCreateSelfSigned(p.selfSigned, s.cfg.Name, s.log.Info); err != nil {
			return err
		}
	}
	p.fingerprint = fingerprintText(cert.Certificate[0])
	p.config = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	ln, err := net.Listen("tcp", s.cfg.TLSListen)
	if err != nil {
		return fmt.Errorf("listen %s (TLS): %w", s.cfg.TLSListen, err)
	}
	if s.trace != nil {
		s.trace.listen("tcp", ln.Addr())
	}
	p.ln = ln
	s.tls = p
	return nil
}

// TLSAddr is the TLS port's address, or nil when it is off. Valid after Listen.
func (s *Server) TLSAddr() net.Addr {
	if s.tls == nil {
		return nil
	}
	return s.tls.ln.Addr()
}

// origin says where the certificate came from, for the start-up line.
func (p *tlsPort) origin() string {
	if p.selfSigned != "" {
		return " (self-signed, " + p.selfSigned + "; clients pin it on first use: labchat connect --tls HOST)"
	}
	return ""
}

func (p *tlsPort) serve(s *Server) {
	if err := s.acceptLoop(p.ln, p.config); err != nil && !errors.Is(err, ErrServerClosed) {
		s.log.Error("TLS port stopped", "addr", p.ln.Addr().String(), "err", err)
	}
}

func (p *tlsPort) close() {
	if p != nil {
		p.ln.Close()
	}
}

// acceptTLS runs the handshake, off the accept loop, then admits the connection as a session.
func (s *Server) acceptTLS(conn net.Conn, conf *tls.Config, slot *connSlot) {
	markOpaque(conn, "TLS records")
	tc := tls.Server(conn, conf)
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		if s.trace != nil {
			s.trace.printf("tls handshake %s <- %s failed: %v", conn.LocalAddr(), conn.RemoteAddr(), err)
		}
		slot.release()
		conn.Close()
		return
	}
	if s.trace != nil {
		st := tc.ConnectionState()
		s.trace.printf("tls handshake %s <- %s done in %v: %s, %s (from now on the TCP bytes are encrypted records)",
			unmapped(addrPortOf(conn.LocalAddr())), unmapped(addrPortOf(conn.RemoteAddr())),
			time.Since(began).Round(time.Microsecond), tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	}
	s.accept(newTCPTransport(tc), slot)
}

// loadOrCreateSelfSigned loads the certificate in path, or makes one (P-256, ten years) and
// writes it there, 0600, in one atomic write.
func loadOrCreateSelfSigned(path, name string, logf func(string, ...any)) (tls.Certificate, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		cert, err := tls.X509KeyPair(data, data)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("load TLS certificate %s: %w (delete the file to have a new one made)", path, err)
		}
		return cert, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return tls.Certificate{}, fmt.Errorf("read TLS certificate %s: %w", path, err)
	}
	data, err = selfSignedPEM(name, time.Now())
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("make TLS certificate: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("make TLS certificate: %w", err)
	}
	if err := writeFileAtomic(path, data, 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("write TLS certificate %s: %w", path, err)
	}
	cert, err := tls.X509KeyPair(data, data)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load TLS certificate %s: %w", path, err)
	}
	logf("made a self-signed TLS certificate", "file", path, "sha256", fingerprintText(cert.Certificate[0]))
	return cert, nil
}

// selfSignedPEM makes a key and a certificate for the server's name, this PC's host name,
// localhost and its addresses at the time. Clients pin its fingerprint, so the names matter
// only to clients that check them (browsers, openssl s_client).
func selfSignedPEM(name string, now time.Time) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"labchat (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{name, "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host, err := os.Hostname(); err == nil && host != "" && host != name {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ipn.IP)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...), nil
}

// fingerprintText is the SHA-256 of a certificate (DER) as openssl and browsers show it:
// `openssl x509 -noout -fingerprint -sha256` prints the same.
func fingerprintText(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// parseFingerprint accepts a SHA-256 fingerprint as hex, with or without colons or spaces,
// in either case, with an optional "SHA256:" or "sha256/" prefix, and returns it as
// fingerprintText does.
func parseFingerprint(s string) (string, error) {
	t := strings.TrimSpace(s)
	for _, p := range []string{"SHA256:", "sha256:", "SHA256/", "sha256/", "SHA-256:"} {
		t = strings.TrimPrefix(t, p)
	}
	t = strings.NewReplacer(":", "", " ", "", "-", "").Replace(t)
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("fingerprint %q: want the 64 hex digits of a SHA-256 (colons allowed), as labchat serve prints it", s)
	}
	h := strings.ToUpper(hex.EncodeToString(b))
	var out strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			out.WriteByte(':')
		}
		out.WriteString(h[i : i+2])
	}
	return out.String(), nil
}

// --- client ---

// errTLSRefused marks a certificate the client will not trust: reconnecting cannot help.
var errTLSRefused = errors.New("TLS certificate refused")

// clientTLS is connect --tls: how to check the server's certificate.
type clientTLS struct {
	host    string                                // the name dialed: SNI, and the name checked against system roots
	addr    string                                // host:port, the key of the pin
	pinned  string                                // --tls-fingerprint, as fingerprintText; "" for none
	pins    string                                // the pin file
	ask     func(question string) (string, error) // interactive: asks the user (one line); nil in a pipeline
	notices io.Writer                             // where the fingerprint is shown: stderr, or the terminal
	tr      *tracer

	mu sync.Mutex // guards the pin file against two handshakes at once (reconnects)
}

// setupClientTLS applies --tls and --tls-fingerprint to opts; server is what the user gave
// (for the default port: 6697 with TLS).
func setupClientTLS(c *cli.Context, opts *clientOptions, server string) error {
	fp := c.String("tls-fingerprint")
	if !c.Bool("tls") && fp == "" {
		return nil
	}
	t := &clientTLS{pins: filepath.Join(opts.dataDir, pinFile), notices: c.App.ErrWriter, tr: opts.trace}
	if fp != "" {
		var err error
		if t.pinned, err = parseFingerprint(fp); err != nil {
			return withExit(exitUsage, fmt.Errorf("--tls-fingerprint: %w", err))
		}
	}
	if _, _, err := net.SplitHostPort(strings.TrimSpace(server)); err != nil {
		host, _, _ := net.SplitHostPort(opts.addr) // serverAddress gave it the plain port
		opts.addr = net.JoinHostPort(host, defaultTLSPort)
	}
	t.addr = opts.addr
	t.host, _, _ = net.SplitHostPort(opts.addr)
	opts.tls = t
	return nil
}

// handshake runs TLS over conn and checks the certificate before anything is sent.
func (t *clientTLS) handshake(ctx context.Context, conn net.Conn) (net.Conn, error) {
	markOpaque(conn, "TLS records")
	conf := &tls.Config{
		// Verified below, after the handshake and before any IRC line: system roots, or the
		// pin, or the user's yes.
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS12,
	}
	if _, err := netip.ParseAddr(t.host); err != nil {
		conf.ServerName = t.host
	}
	if path := os.Getenv("SSLKEYLOGFILE"); path != "" {
		// The packet lab's way to let Wireshark decrypt the capture, as browsers and curl
		// offer: the file gets this connection's session secrets (never the password, but
		// whoever has the file reads the session).
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			conn.Close()
			return nil, withExit(exitFailure, fmt.Errorf("open SSLKEYLOGFILE %s: %w", path, err))
		}
		defer f.Close() // the secrets are written during the handshake
		conf.KeyLogWriter = f
		fmt.Fprintf(t.notices, "labchat: writing this TLS session's secrets to %s (SSLKEYLOGFILE): whoever has that file can decrypt the capture\n", path)
	}
	tc := tls.Client(conn, conf)
	began := time.Now()
	hctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		conn.Close()
		return nil, withExit(exitConnect, fmt.Errorf("TLS handshake with %s: %w (is it a TLS port? plain IRC is usually 6667, TLS 6697)", t.addr, err))
	}
	st := tc.ConnectionState()
	if t.tr != nil {
		t.tr.printf("tls handshake %s -> %s done in %v: %s, %s", unmapped(addrPortOf(conn.LocalAddr())), unmapped(addrPortOf(conn.RemoteAddr())),
			time.Since(began).Round(time.Microsecond), tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	}
	if err := t.verify(st.PeerCertificates); err != nil {
		tc.Close()
		return nil, err
	}
	return tc, nil
}

// verify decides whether to trust the server's certificate chain.
func (t *clientTLS) verify(chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return t.refuse(fmt.Errorf("%s sent no TLS certificate", t.addr))
	}
	fp := fingerprintText(chain[0].Raw)
	if t.pinned != "" {
		if fp != t.pinned {
			return t.refuse(fmt.Errorf("the TLS certificate of %s has SHA-256 fingerprint\n  %s\nnot the one given with --tls-fingerprint:\n  %s\nRefusing to connect: someone may be intercepting the connection", t.addr, fp, t.pinned))
		}
		return t.savePin(fp)
	}
	if chainsToSystemRoots(chain, t.host) {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	known, err := readPins(t.pins)
	if err != nil {
		return withExit(exitFailure, err)
	}
	if old, ok := known[t.addr]; ok {
		if old == fp {
			return nil
		}
		return t.refuse(fmt.Errorf("the TLS certificate of %s has CHANGED.\n  pinned:  SHA-256 %s\n  now:     SHA-256 %s\n"+
			"Refusing to connect: someone may be intercepting the connection. If the server really has a new\n"+
			"certificate (compare with what labchat serve printed), delete the line for %s from\n  %s\nor connect once with --tls-fingerprint %s",
			t.addr, old, fp, t.addr, t.pins, fp))
	}
	if t.ask != nil {
		fmt.Fprintf(t.notices, "The TLS certificate of %s is not signed by an authority this PC knows.\r\n"+
			"SHA-256 fingerprint: %s\r\nCompare it with the one labchat serve printed.\r\n", t.addr, fp)
		answer, err := t.ask("Trust it and remember it? [y/N] ")
		if err != nil {
			return withExit(exitConnect, fmt.Errorf("TLS certificate of %s not trusted: %w", t.addr, err))
		}
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return t.refuse(fmt.Errorf("the TLS certificate of %s (SHA-256 %s) was not trusted", t.addr, fp))
		}
	} else {
		fmt.Fprintf(t.notices, "labchat: first TLS connection to %s: trusting its certificate, SHA-256 fingerprint\n  %s\n"+
			"  (pinned in %s; a different certificate later will be refused)\n", t.addr, fp, t.pins)
	}
	known[t.addr] = fp
	return t.writePins(known)
}

func (t *clientTLS) refuse(err error) error {
	return withExit(exitConnect, fmt.Errorf("%w: %w", errTLSRefused, err))
}

// savePin records a fingerprint given with --tls-fingerprint, so later runs need no flag.
func (t *clientTLS) savePin(fp string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	known, err := readPins(t.pins)
	if err != nil {
		return withExit(exitFailure, err)
	}
	if known[t.addr] == fp {
		return nil
	}
	known[t.addr] = fp
	return t.writePins(known)
}

// chainsToSystemRoots reports whether chain is valid for host under the system's roots.
func chainsToSystemRoots(chain []*x509.Certificate, host string) bool {
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{DNSName: host, Intermediates: inter})
	return err == nil
}

// readPins reads the pin file: one "HOST:PORT FINGERPRINT" a line, # comments. A missing
// file is empty; a line that does not parse is an error naming it, never silently dropped
// (dropping a pin would turn a refusal into a first use).
func readPins(path string) (map[string]string, error) {
	pins := make(map[string]string)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return pins, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read TLS pins %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		addr, fp, ok := strings.Cut(line, " ")
		norm, err := parseFingerprint(fp)
		if !ok || err != nil {
			return nil, fmt.Errorf("read TLS pins %s: line %d: want HOST:PORT SHA256-FINGERPRINT, got %q", path, n, line)
		}
		pins[addr] = norm
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read TLS pins %s: %w", path, err)
	}
	return pins, nil
}

func (t *clientTLS) writePins(pins map[string]string) error {
	var b bytes.Buffer
	b.WriteString("# Servers whose TLS certificate labchat connect --tls trusts (pinned on first use).\n")
	b.WriteString("# HOST:PORT SHA-256 fingerprint. Delete a line to trust that server's next certificate.\n")
	addrs := make([]string, 0, len(pins))
	for a := range pins {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	for _, a := range addrs {
		fmt.Fprintf(&b, "%s %s\n", a, pins[a])
	}
	if err := os.MkdirAll(filepath.Dir(t.pins), 0o700); err != nil {
		return withExit(exitFailure, fmt.Errorf("save TLS pin: %w", err))
	}
	if err := writeFileAtomic(t.pins, b.Bytes(), 0o600); err != nil {
		return withExit(exitFailure, fmt.Errorf("save TLS pin %s: %w", t.pins, err))
	}
	return nil
}
