package main

// Tests of IRC over TLS: the server's TLS port (in process and through the binary) and
// `labchat connect --tls` with trust on first use, through the real binary.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startTLSServer starts a server with its TLS port on 127.0.0.1:0.
func startTLSServer(t testing.TB, cfg ServerConfig, dir string) *testServer {
	t.Helper()
	cfg.TLSListen = "127.0.0.1:0"
	return startServer(t, cfg, dir)
}

// dialTLS is dialIRC over TLS, trusting whatever certificate the server has.
func dialTLS(t testing.TB, addr, name string) (*ircClient, *tls.Conn) {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("%s: dial: %v", name, err)
	}
	conn := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	conn.SetDeadline(time.Now().Add(ioTimeout))
	if err := conn.Handshake(); err != nil {
		t.Fatalf("%s: TLS handshake: %v", name, err)
	}
	conn.SetDeadline(time.Time{})
	t.Cleanup(func() { conn.Close() })
	return &ircClient{t: t, name: name, conn: conn, lr: newLineReader(conn, maxLineLen)}, conn
}

func TestTLSSessionChatsWithTCPUser(t *testing.T) {
	ts := startTLSServer(t, testConfig(t), "")
	alice := guest(t, ts.addr, "alice")
	bob, conn := dialTLS(t, ts.TLSAddr().String(), "bob")
	if got, want := fingerprintText(conn.ConnectionState().PeerCertificates[0].Raw), ts.tls.fingerprint; got != want {
		t.Errorf("the certificate's fingerprint is %s; the server announces %s", got, want)
	}
	bob.send("NICK bob")
	bob.send("USER bob 0 * :bob")
	bob.expect(" 001 bob ")
	alice.send("PRIVMSG bob :over tcp")
	bob.expect(`^:alice!\S+ PRIVMSG bob :over tcp$`)
	bob.send("PRIVMSG alice :over tls")
	alice.expect(`^:bob!\S+ PRIVMSG alice :over tls$`)
}

func TestTLSSelfSignedCertificateMadeOnce(t *testing.T) {
	dir := t.TempDir()
	ts := startTLSServer(t, testConfig(t), dir)
	first := ts.tls.fingerprint
	path := filepath.Join(dir, selfSignedFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no self-signed certificate in the data dir: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600 (it holds the private key)", path, fi.Mode().Perm())
	}
	ts.stop(t)
	ts = startTLSServer(t, testConfig(t), dir)
	if ts.tls.fingerprint != first {
		t.Errorf("restart made a new certificate (%s, was %s); it must be made once", ts.tls.fingerprint, first)
	}
	if _, err := parseFingerprint(first); err != nil {
		t.Errorf("the server's fingerprint %q does not parse back: %v", first, err)
	}
}

func TestTLSCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	pemData, err := selfSignedPEM("files.example", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pemData, 0o600) // X509KeyPair takes the blocks it needs from each
	os.WriteFile(keyFile, pemData, 0o600)
	cfg := testConfig(t)
	cfg.TLSCert, cfg.TLSKey = certFile, keyFile
	ts := startTLSServer(t, cfg, "")
	_, conn := dialTLS(t, ts.TLSAddr().String(), "c")
	if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "files.example" {
		t.Errorf("served certificate for %q, want the one from tls_cert (files.example)", cn)
	}
	if _, err := os.Stat(filepath.Join(ts.dir, selfSignedFile)); err == nil {
		t.Errorf("a self-signed certificate was made although tls_cert is set")
	}

	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"cert without key", certFile, "", "give both files"},
		{"missing file", filepath.Join(dir, "nope.pem"), keyFile, "load TLS certificate"},
	} {
		cfg := testConfig(t)
		cfg.TLSListen = "127.0.0.1:0"
		cfg.TLSCert, cfg.TLSKey = tc.cert, tc.key
		srv, err := NewServer(cfg, t.TempDir(), testLogger())
		if err == nil {
			err = srv.Listen()
			srv.lock.Release()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestParseFingerprint(t *testing.T) {
	const want = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
	for _, in := range []string{want, strings.ToLower(want), strings.ReplaceAll(want, ":", ""), "SHA256:" + want, " sha256/" + strings.ReplaceAll(want, ":", "") + " "} {
		if got, err := parseFingerprint(in); err != nil || got != want {
			t.Errorf("parseFingerprint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "AB:CD", want + ":00", strings.Replace(want, "AB", "XY", 1)} {
		if _, err := parseFingerprint(bad); err == nil {
			t.Errorf("parseFingerprint(%q) accepted", bad)
		}
	}
}

// tlsServeLine is serve's start-up line for the TLS port.
var tlsServeLine = regexp.MustCompile(`IRC over TLS on (\S+), certificate SHA-256 fingerprint ([0-9A-F:]{95})`)

// startTLSServe runs `labchat serve` with its TLS port on 127.0.0.1:0 and an account alice.
func startTLSServe(t *testing.T, data string) (plain, tlsAddr, fp string) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "fast.toml")
	os.WriteFile(conf, []byte("[server]\nbcrypt_cost = 4\n"), 0o600)
	srv := startServeCLI(t, "serve", "--config", conf, "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--data-dir", data)
	plain = listenLine.FindStringSubmatch(srv.line(t, "listening on"))[1]
	m := tlsServeLine.FindStringSubmatch(srv.line(t, "IRC over TLS"))
	if m == nil {
		t.Fatalf("no TLS line with address and fingerprint:\n%s", srv.output())
	}
	return plain, m[1], m[2]
}

func TestConnectTLSTrustOnFirstUse(t *testing.T) {
	plain, addr, fp := startTLSServe(t, t.TempDir())
	data := t.TempDir()
	registerViaCLI(t, plain, data, "alice", "alicepw1")
	send := func(args ...string) cliResult {
		return runCLI(t, clientTestTimeout, "hello over tls\n", clientEnv(data, "alicepw1"),
			append([]string{"connect", "--tls", addr, "--user", "alice", "--to", "alice"}, args...)...)
	}
	// First use in a pipeline: accepted, the fingerprint on stderr, pinned.
	res := send()
	if res.code != exitOK {
		t.Fatalf("first TLS connection: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "first TLS connection to "+addr) || !strings.Contains(res.stderr, fp) {
		t.Errorf("first use did not show the fingerprint %s on stderr:\n%s", fp, res.stderr)
	}
	pins := filepath.Join(data, "client", pinFile)
	b, err := os.ReadFile(pins)
	if err != nil || !strings.Contains(string(b), addr+" "+fp) {
		t.Fatalf("pin file %s: %q, %v; want a line %q", pins, b, err, addr+" "+fp)
	}
	if fi, _ := os.Stat(pins); fi.Mode().Perm() != 0o600 {
		t.Errorf("pin file mode %v, want 0600", fi.Mode().Perm())
	}
	// Second use: the pin matches, nothing to say. The trace shows the handshake and then
	// only records: no IRC line in clear.
	res = send("--trace")
	if res.code != exitOK || strings.Contains(res.stderr, "first TLS connection") {
		t.Errorf("second connection: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "tls handshake ") || !strings.Contains(res.stderr, "bytes (TLS records)") || strings.Contains(res.stderr, "hello over tls") {
		t.Errorf("--trace of a TLS connection: want the handshake and records, no plain text:\n%s", res.stderr)
	}

	// SSLKEYLOGFILE (for Wireshark in the lab) gets the session's secrets, 0600.
	keylog := filepath.Join(t.TempDir(), "keys.txt")
	res = runCLI(t, clientTestTimeout, "hi\n", append(clientEnv(data, "alicepw1"), "SSLKEYLOGFILE="+keylog),
		"connect", "--tls", addr, "--user", "alice", "--to", "alice")
	b, _ = os.ReadFile(keylog)
	if res.code != exitOK || !strings.Contains(string(b), "CLIENT_TRAFFIC_SECRET_0 ") || !strings.Contains(res.stderr, "SSLKEYLOGFILE") {
		t.Errorf("SSLKEYLOGFILE: exit %d, file %q, stderr:\n%s", res.code, b, res.stderr)
	}
	if fi, err := os.Stat(keylog); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("SSLKEYLOGFILE mode: %v %v, want 0600", fi, err)
	}

	// A changed certificate: the pin for this address names another one.
	const other = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"
	os.WriteFile(pins, []byte(addr+" "+other+"\n"), 0o600)
	res = send()
	if res.code != exitConnect {
		t.Errorf("changed certificate: exit %d, want %d; stderr:\n%s", res.code, exitConnect, res.stderr)
	}
	for _, want := range []string{"CHANGED", other, fp, pins} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("changed-certificate message lacks %q:\n%s", want, res.stderr)
		}
	}
	if b, _ := os.ReadFile(pins); !strings.Contains(string(b), other) {
		t.Errorf("a refused certificate replaced the pin: %q", b)
	}

	// --tls-fingerprint pins up front: the wrong one is refused, the right one accepted.
	res = send("--tls-fingerprint", other)
	if res.code != exitConnect || !strings.Contains(res.stderr, fp) || !strings.Contains(res.stderr, other) {
		t.Errorf("wrong --tls-fingerprint: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	fresh := t.TempDir()
	res = runCLI(t, clientTestTimeout, "hi\n", clientEnv(fresh, "alicepw1"),
		"connect", addr, "--tls-fingerprint", strings.ToLower(strings.ReplaceAll(fp, ":", "")), "--user", "alice", "--to", "alice")
	if res.code != exitOK || strings.Contains(res.stderr, "first TLS connection") {
		t.Errorf("right --tls-fingerprint (implying --tls): exit %d, stderr:\n%s", res.code, res.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(fresh, "client", pinFile)); !strings.Contains(string(b), addr+" "+fp) {
		t.Errorf("--tls-fingerprint was not pinned for later runs: %q", b)
	}
}

func TestConnectTLSErrors(t *testing.T) {
	plain, _, _ := startTLSServe(t, t.TempDir())
	data := t.TempDir()
	// TLS to the plain port: the handshake fails and says what to check.
	res := runCLI(t, clientTestTimeout, "x\n", clientEnv(data, "pw"), "connect", "--tls", plain, "--user", "alice", "--to", "alice")
	if res.code != exitConnect || !strings.Contains(res.stderr, "TLS handshake with "+plain) || !strings.Contains(res.stderr, "6697") {
		t.Errorf("--tls to a plain port: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	res = runCLI(t, clientTestTimeout, "", clientEnv(data, "pw"), "connect", "--tls-fingerprint", "zz", "127.0.0.1", "--user", "a", "--to", "a")
	if res.code != exitUsage || !strings.Contains(res.stderr, "--tls-fingerprint") {
		t.Errorf("bad --tls-fingerprint: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	// Without a port, --tls means 6697. Nothing is sent off this PC: the trace shows where
	// the client connects to, whatever it finds there.
	res = runCLI(t, clientTestTimeout, "x\n", clientEnv(data, "pw"), "connect", "--tls", "127.0.0.1", "--trace", "--no-reconnect", "--user", "a", "--to", "a")
	if !strings.Contains(res.stderr, "tcp connecting to 127.0.0.1:6697") {
		t.Errorf("--tls 127.0.0.1 did not dial port 6697:\n%s", res.stderr)
	}
}

func TestConnectTLSAsksOnATerminal(t *testing.T) {
	needTmux(t)
	plain, addr, fp := startTLSServe(t, t.TempDir())
	data := t.TempDir()
	registerViaCLI(t, plain, data, "alice", "alicepw1")
	for _, answer := range []string{"n", "y"} {
		tp := &tmuxPane{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
		cmd := fmt.Sprintf("env LABCHAT_DATA=%s LABCHAT_PASSWORD=alicepw1 LABCHAT_CONFIG= TERM=xterm %s connect --tls %s --user alice",
			data, labchatBinary(t), addr)
		if answer == "n" {
			cmd += "; sleep 30" // keep the pane, to read the refusal
		}
		tp.tmux("new-session", "-d", "-s", "lc", "-x", "150", "-y", "40", cmd)
		kill := func() { exec.Command("tmux", "-S", tp.sock, "kill-server").Run() }
		t.Cleanup(kill)
		tp.shows(`Trust it and remember it\? \[y/N\]`)
		tp.shows(regexp.QuoteMeta(fp))
		tp.typeLine(answer)
		if answer == "n" {
			tp.shows("was not trusted")
			if _, err := os.Stat(filepath.Join(data, "client", pinFile)); err == nil {
				t.Errorf("a certificate the user refused was pinned")
			}
			kill()
			continue
		}
		tp.waitScreen("alice's prompt", func(lines []string) bool { return strings.HasPrefix(lines[len(lines)-1], "[alice") })
		tp.quit()
		if b, _ := os.ReadFile(filepath.Join(data, "client", pinFile)); !strings.Contains(string(b), addr+" "+fp) {
			t.Errorf("the certificate the user trusted was not pinned: %q", b)
		}
	}
}

// TestConnectTLSTrustsSystemRoots checks the other branch of trust: a certificate that
// chains to a root the system trusts (SSL_CERT_FILE stands in for the system's store) is
// accepted without a question and without a pin.
func TestConnectTLSTrustsSystemRoots(t *testing.T) {
	dir := t.TempDir()
	caPEM, certPEM, keyPEM := testCAChain(t, "127.0.0.1")
	caFile, certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(caFile, caPEM, 0o600)
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)
	conf := filepath.Join(dir, "server.toml")
	os.WriteFile(conf, fmt.Appendf(nil, "[server]\nbcrypt_cost = 4\ntls_cert = %q\ntls_key = %q\n", certFile, keyFile), 0o600)
	srv := startServeCLI(t, "serve", "--config", conf, "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	plain := listenLine.FindStringSubmatch(srv.line(t, "listening on"))[1]
	m := tlsServeLine.FindStringSubmatch(srv.line(t, "IRC over TLS"))
	if m == nil {
		t.Fatalf("no TLS line:\n%s", srv.output())
	}
	data := t.TempDir()
	registerViaCLI(t, plain, data, "alice", "alicepw1")
	env := append(clientEnv(data, "alicepw1"), "SSL_CERT_FILE="+caFile, "SSL_CERT_DIR="+dir)
	res := runCLI(t, clientTestTimeout, "hi\n", env, "connect", "--tls", m[1], "--user", "alice", "--to", "alice")
	if res.code != exitOK || strings.Contains(res.stderr, "first TLS connection") {
		t.Errorf("a certificate from a trusted root: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "client", pinFile)); err == nil {
		t.Errorf("a certificate from a trusted root was pinned")
	}
	// The same server without that root: trust on first use, as for a self-signed one.
	res = runCLI(t, clientTestTimeout, "hi\n", append(clientEnv(data, "alicepw1"), "SSL_CERT_FILE="+filepath.Join(dir, "none.pem"), "SSL_CERT_DIR="+t.TempDir()),
		"connect", "--tls", m[1], "--user", "alice", "--to", "alice")
	if res.code != exitOK || !strings.Contains(res.stderr, "first TLS connection") {
		t.Errorf("without the root: exit %d, stderr:\n%s", res.code, res.stderr)
	}
}

// testCAChain makes a root and a leaf for ip signed by it, as PEM.
func testCAChain(t *testing.T, ip string) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "labchat test root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP(ip)},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return caPEM, certPEM, keyPEM
}

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkTLSHandshake is one full TLS handshake with the server's TLS port on loopback
// (TCP connect included, no session resumption), client and server in this process:
//
//	go test -run '^$' -bench TLSHandshake -count 5
func BenchmarkTLSHandshake(b *testing.B) {
	ts := startTLSServer(b, testConfig(b), "")
	addr := ts.TLSAddr().String()
	conf := &tls.Config{InsecureSkipVerify: true}
	b.ResetTimer()
	for range b.N {
		raw, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			b.Fatal(err)
		}
		c := tls.Client(raw, conf)
		c.SetDeadline(time.Now().Add(ioTimeout))
		if err := c.Handshake(); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
