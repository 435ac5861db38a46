package main

// HTTPS on the web port: the page and wss:// with the server's certificate, the redirect from
// plain HTTP, and WebSocket upgrades on the plain port left alone.

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

func TestWebPortOverHTTPS(t *testing.T) {
	cfg := testConfig(t)
	cfg.WebListen = "127.0.0.1:0"
	cfg.WebTLSListen = "127.0.0.1:0"
	cfg.WebTLSRedirect = true
	ts := startServer(t, cfg, "")
	httpsAddr := ts.WebTLSAddr().String()
	pem, err := os.ReadFile(filepath.Join(ts.dir, selfSignedFile))
	if err != nil {
		t.Fatalf("the self-signed certificate: %v", err)
	}
	want, _ := tls.X509KeyPair(pem, pem)
	var seen string
	tlsConf := &tls.Config{InsecureSkipVerify: true, VerifyConnection: func(cs tls.ConnectionState) error {
		seen = fingerprintText(cs.PeerCertificates[0].Raw)
		return nil
	}}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}}
	resp, err := client.Get("https://" + httpsAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "manifest.webmanifest") {
		t.Fatalf("GET https://%s/: %d", httpsAddr, resp.StatusCode)
	}
	if seen != fingerprintText(want.Certificate[0]) || seen != ts.web.fingerprint {
		t.Errorf("served certificate %s, want the self-signed one %s", seen, fingerprintText(want.Certificate[0]))
	}

	// wss:// is an IRC session, with the page's https origin.
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss://"+httpsAddr+"/", &websocket.DialOptions{HTTPClient: client, HTTPHeader: http.Header{"Origin": {"https://" + httpsAddr}}})
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	defer ws.CloseNow()
	ws.Write(ctx, websocket.MessageText, []byte("NICK secure"))
	ws.Write(ctx, websocket.MessageText, []byte("USER secure 0 * :Secure"))
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("wss read: %v", err)
		}
		if strings.Contains(string(msg), " 001 secure ") {
			break
		}
	}

	// Plain HTTP pages are redirected; a WebSocket upgrade there is still served.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get("http://" + ts.WebAddr().String() + "/lib/irc.js?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusPermanentRedirect || loc != "https://"+httpsAddr+"/lib/irc.js?x=1" {
		t.Errorf("plain GET: %d Location %q, want 308 to https://%s/lib/irc.js?x=1", resp.StatusCode, loc, httpsAddr)
	}
	plain, _, err := websocket.Dial(ctx, "ws://"+ts.WebAddr().String()+"/", nil)
	if err != nil {
		t.Fatalf("ws on the plain port with the redirect on: %v", err)
	}
	plain.CloseNow()
}

func TestWebTLSConfigErrors(t *testing.T) {
	cfg := testConfig(t)
	cfg.WebTLSListen = "nonsense"
	if _, err := NewServer(cfg, t.TempDir(), slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "web_tls_listen") {
		t.Errorf("web_tls_listen = nonsense: %v, want an error naming the key", err)
	}
	cfg = testConfig(t)
	cfg.WebTLSListen = "127.0.0.1:0"
	cfg.TLSCert, cfg.TLSKey = filepath.Join(t.TempDir(), "missing.pem"), filepath.Join(t.TempDir(), "missing.key")
	srv, err := NewServer(cfg, t.TempDir(), slog.New(slog.DiscardHandler))
	if err == nil {
		err = srv.Listen()
		srv.lock.Release()
	}
	if err == nil || !strings.Contains(err.Error(), "web_tls_listen") {
		t.Errorf("missing certificate: %v, want an error naming the files and the key", err)
	}
}
