package main

import (
	"bytes"
	"crypto/rand"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// filehostURL waits for c's draft/FILEHOST token and returns its URL.
func filehostURL(t testing.TB, c *ircClient) string {
	t.Helper()
	c.send("VERSION") // the welcome's 005 went by; VERSION repeats it
	m := c.expect(` 005 .*draft/FILEHOST=`)
	for _, p := range m.Params {
		if v, ok := strings.CutPrefix(p, "draft/FILEHOST="); ok {
			return v
		}
	}
	t.Fatalf("%s: no draft/FILEHOST in %v", c.name, m.Params)
	return ""
}

func uploadsConfig(t testing.TB) ServerConfig {
	cfg := testConfig(t)
	cfg.UploadMaxBytes = 6 << 20
	cfg.UploadQuotaBytes = 12 << 20
	return cfg
}

// testPCAP is a pcap file of about n bytes: a global header and random packets.
func testPCAP(t testing.TB, n int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0})
	pkt := make([]byte, 1500)
	for b.Len() < n {
		rand.Read(pkt)
		hdr := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0xdc, 0x05, 0, 0, 0xdc, 0x05, 0, 0}
		b.Write(hdr)
		b.Write(pkt)
	}
	return b.Bytes()
}

func testPNG(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func doHTTP(t testing.TB, method, url string, body []byte, header map[string]string) httpResult {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	cl := &http.Client{Timeout: 30 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{resp.StatusCode, resp.Header, b}
}

func uploadTo(t testing.TB, url, name string, data []byte, header map[string]string) httpResult {
	t.Helper()
	h := map[string]string{"Content-Disposition": mime.FormatMediaType("attachment", map[string]string{"filename": name}), "Content-Type": "application/octet-stream"}
	for k, v := range header {
		h[k] = v
	}
	return doHTTP(t, http.MethodPost, url, data, h)
}

func bearer(uploadURL string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + uploadURL[strings.LastIndex(uploadURL, "/")+1:]}
}

func TestFilehostUploadAndDownloadBetweenUsers(t *testing.T) {
	ts, web := startWebServer(t, uploadsConfig(t))
	alice := registerAccount(t, ts.addr, "alice", "alicepw1")
	aliceURL := filehostURL(t, alice)
	bob := registerAccount(t, ts.addr, "bob", "bobpw123")
	bobURL := filehostURL(t, bob)
	if !strings.HasPrefix(aliceURL, "http://127.0.0.1:") || !strings.Contains(aliceURL, strings.Split(web, ":")[1]+"/upload/") {
		t.Fatalf("FILEHOST %q: want the web port %s as the client reached the server", aliceURL, web)
	}
	guestC := guest(t, ts.addr, "visitor")
	guestC.send("VERSION")
	for _, l := range guestC.sync() {
		if strings.Contains(l, "FILEHOST") {
			t.Fatalf("a guest got an upload URL: %s", l)
		}
	}

	capture := testPCAP(t, 5<<20)
	picture := testPNG(t)
	up := uploadTo(t, aliceURL, "lab3 capture.pcap", capture, nil)
	if up.status != http.StatusCreated {
		t.Fatalf("upload pcap: %d %s", up.status, up.body)
	}
	pcapURL := up.header.Get("Location")
	if !strings.Contains(pcapURL, "/files/") || !strings.HasSuffix(pcapURL, "/lab3%20capture.pcap") {
		t.Fatalf("Location %q", pcapURL)
	}
	up = uploadTo(t, aliceURL, "topology.png", picture, map[string]string{"Content-Type": "image/png"})
	if up.status != http.StatusCreated {
		t.Fatalf("upload png: %d %s", up.status, up.body)
	}
	pngURL := up.header.Get("Location")

	got := doHTTP(t, http.MethodGet, pcapURL, nil, bearer(bobURL))
	if got.status != 200 || !bytes.Equal(got.body, capture) {
		t.Fatalf("bob's download of the pcap: %d, %d bytes, same=%v", got.status, len(got.body), bytes.Equal(got.body, capture))
	}
	if cd := got.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, "lab3 capture.pcap") {
		t.Errorf("pcap Content-Disposition %q", cd)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/vnd.tcpdump.pcap" {
		t.Errorf("pcap Content-Type %q", ct)
	}
	got = doHTTP(t, http.MethodGet, pngURL, nil, bearer(bobURL))
	if got.status != 200 || !bytes.Equal(got.body, picture) {
		t.Fatalf("bob's download of the png: %d", got.status)
	}
	for k, want := range map[string]string{"Content-Type": "image/png", "Content-Disposition": "inline", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"} {
		if v := got.header.Get(k); !strings.Contains(v, want) {
			t.Errorf("png %s = %q, want %q in it", k, v, want)
		}
	}
	// HTTP Basic works for both ways too (gamja, curl -u).
	basic := func(user, pw string) map[string]string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(user, pw)
		return map[string]string{"Authorization": req.Header.Get("Authorization")}
	}
	got = doHTTP(t, http.MethodGet, pngURL, nil, basic("bob", "bobpw123"))
	if got.status != 200 || !bytes.Equal(got.body, picture) {
		t.Fatalf("basic-auth download: %d", got.status)
	}
	got = doHTTP(t, http.MethodGet, pngURL, nil, basic("bob", "wrong-pw"))
	if got.status != 401 || !strings.Contains(string(got.body), "password") {
		t.Fatalf("wrong password: %d %s", got.status, got.body)
	}
	up = uploadTo(t, "http://"+web+"/upload", "notes.txt", []byte("hello\n"), basic("bob", "bobpw123"))
	if up.status != http.StatusCreated {
		t.Fatalf("basic-auth upload: %d %s", up.status, up.body)
	}

	// Not logged in: no download, no upload, and a token dies with its session.
	if r := doHTTP(t, http.MethodGet, pngURL, nil, nil); r.status != 401 || r.header.Get("WWW-Authenticate") == "" || !strings.Contains(string(r.body), "log in") {
		t.Fatalf("anonymous download: %d %s", r.status, r.body)
	}
	if r := uploadTo(t, "http://"+web+"/upload", "x.txt", []byte("x"), nil); r.status != 401 {
		t.Fatalf("anonymous upload: %d %s", r.status, r.body)
	}
	bob.send("QUIT")
	bob.expectClosed()
	// The token dies when the session's goroutine ends, just after the close.
	deadline := time.Now().Add(ioTimeout)
	for {
		r := doHTTP(t, http.MethodGet, pngURL, nil, bearer(bobURL))
		if r.status == 401 && strings.Contains(string(r.body), "expired") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("download with a dead session's token: %d %s", r.status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := uploadTo(t, bobURL, "late.txt", []byte("x"), nil); r.status != 401 {
		t.Fatalf("upload with a dead session's token: %d %s", r.status, r.body)
	}

	// The files and their metadata are plain files under the data dir.
	ents, _ := os.ReadDir(filepath.Join(ts.dir, "files"))
	if len(ents) != 6 {
		t.Errorf("files/ holds %d entries, want 3 files and 3 .toml", len(ents))
	}
}

func TestFilehostRefusals(t *testing.T) {
	ts, _ := startWebServer(t, uploadsConfig(t))
	alice := registerAccount(t, ts.addr, "alice", "alicepw1")
	u := filehostURL(t, alice)
	cases := []struct {
		name   string
		data   []byte
		status int
		says   string
	}{
		{"big.pcap", testPCAP(t, 7<<20), 413, "too large"},
		{`<img src=x onerror=alert(1)>.png`, testPNG(t), 400, "bad file name"},
		{`"quote.png`, testPNG(t), 400, "bad file name"},
		{"..", []byte("x"), 400, "bad file name"},
		{"CON.txt", []byte("x"), 400, "Windows device"},
		{"evil.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>`), 415, "SVG carries script"},
		{"evil2.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>`), 415, "SVG carries script"},
		{"page.html", []byte(`<p>hello</p>`), 415, "HTML"},
		{"page.txt", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), 415, "HTML"},
		{"empty.txt", []byte{}, 400, "empty"},
	}
	for _, c := range cases {
		r := uploadTo(t, u, c.name, c.data, nil)
		if r.status != c.status || !strings.Contains(string(r.body), c.says) {
			t.Errorf("%s: got %d %q, want %d saying %q", c.name, r.status, r.body, c.status, c.says)
		}
	}
	// A harmless SVG is kept, but never rendered: it downloads.
	r := uploadTo(t, u, "ok.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><rect width="4" height="4"/></svg>`), nil)
	if r.status != 201 {
		t.Fatalf("plain svg: %d %s", r.status, r.body)
	}
	got := doHTTP(t, http.MethodGet, r.header.Get("Location"), nil, bearer(u))
	if cd := got.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
		t.Errorf("svg served with Content-Disposition %q", cd)
	}
	// A "PNG" that is not one is not rendered either.
	r = uploadTo(t, u, "fake.png", []byte("GIF89a? no, just text pretending"), nil)
	got = doHTTP(t, http.MethodGet, r.header.Get("Location"), nil, bearer(u))
	if got.header.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(got.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("fake png served as %q, %q", got.header.Get("Content-Type"), got.header.Get("Content-Disposition"))
	}
	// Quota: 12 MiB per account; two 5 MiB files fit, the third does not.
	for i, want := range []int{201, 201, 507} {
		r := uploadTo(t, u, "q.pcap", testPCAP(t, 5<<20), nil)
		if r.status != want {
			t.Fatalf("quota upload %d: %d %s", i, r.status, r.body)
		}
		if want == 507 && !strings.Contains(string(r.body), "over quota") {
			t.Errorf("quota refusal says %q", r.body)
		}
	}
	// Nothing of the refused uploads is left behind.
	ents, _ := os.ReadDir(filepath.Join(ts.dir, "files"))
	for _, e := range ents {
		if isAtomicTemp(e.Name()) {
			t.Errorf("temp file left: %s", e.Name())
		}
	}
}

func TestFilehostDeleteAndAccountDeletion(t *testing.T) {
	cfg := uploadsConfig(t)
	cfg.Operators = []OperatorConfig{{Account: "teacher"}}
	dir := t.TempDir()
	ts, _ := startWebServer(t, cfg)
	_ = dir
	alice := registerAccount(t, ts.addr, "alice", "alicepw1")
	au := filehostURL(t, alice)
	bob := registerAccount(t, ts.addr, "bob", "bobpw123")
	bu := filehostURL(t, bob)
	teacher := registerAccount(t, ts.addr, "teacher", "teachpw1")
	tu := filehostURL(t, teacher)

	one := uploadTo(t, au, "one.txt", []byte("one\n"), nil).header.Get("Location")
	two := uploadTo(t, au, "two.txt", []byte("two\n"), nil).header.Get("Location")
	if r := doHTTP(t, http.MethodDelete, one, nil, bearer(bu)); r.status != 403 || !strings.Contains(string(r.body), "alice") {
		t.Fatalf("bob deletes alice's file: %d %s", r.status, r.body)
	}
	if r := doHTTP(t, http.MethodDelete, one, nil, bearer(tu)); r.status != 204 {
		t.Fatalf("operator deletes: %d %s", r.status, r.body)
	}
	if r := doHTTP(t, http.MethodGet, one, nil, bearer(bu)); r.status != 404 {
		t.Fatalf("deleted file: %d", r.status)
	}
	if r := doHTTP(t, http.MethodDelete, two, nil, bearer(au)); r.status != 204 {
		t.Fatalf("owner deletes: %d %s", r.status, r.body)
	}
	three := uploadTo(t, au, "three.txt", []byte("three\n"), nil).header.Get("Location")
	id := strings.Split(strings.SplitN(three, "/files/", 2)[1], "/")[0]

	// Deleting alice's account takes her files out of reach, into deleted/ with her DMs.
	a, _ := ts.accounts.Lookup("alice")
	if err := os.Remove(filepath.Join(ts.dir, "users", "alice.toml")); err != nil {
		t.Fatal(err)
	}
	if err := bumpGeneration(filepath.Join(ts.dir, "users")); err != nil {
		t.Fatal(err)
	}
	alice.expectClosed()
	deadline := time.Now().Add(ioTimeout)
	for doHTTP(t, http.MethodGet, three, nil, bearer(bu)).status != 404 {
		if time.Now().After(deadline) {
			t.Fatal("a deleted account's file is still served")
		}
		time.Sleep(20 * time.Millisecond)
	}
	moved := filepath.Join(ts.dir, "deleted", "alice-"+a.ID, "files", id)
	for {
		if b, err := os.ReadFile(moved); err == nil && string(b) == "three\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the file did not move to %s", moved)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFilehostSurvivesRestartAndCleansCrashLeftovers(t *testing.T) {
	cfg := uploadsConfig(t)
	cfg.WebListen = "127.0.0.1:0"
	dir := t.TempDir()
	ts := startServer(t, cfg, dir)
	alice := registerAccount(t, ts.addr, "alice", "alicepw1")
	loc := uploadTo(t, filehostURL(t, alice), "keep.txt", []byte("kept\n"), nil).header.Get("Location")
	ts.stop(t)
	files := filepath.Join(dir, "files")
	// What a crash mid-upload leaves: a temp file, and bytes renamed in without metadata.
	os.WriteFile(filepath.Join(files, ".upload.tmp123"), []byte("partial"), 0o600)
	orphan := newFileID()
	os.WriteFile(filepath.Join(files, orphan), []byte("orphan"), 0o600)

	ts2 := startServer(t, cfg, dir)
	bob := registerAccount(t, ts2.addr, "bob", "bobpw123")
	bu := filehostURL(t, bob)
	path := loc[strings.Index(loc, "/files/"):]
	r := doHTTP(t, http.MethodGet, "http://"+ts2.WebAddr().String()+path, nil, bearer(bu))
	if r.status != 200 || string(r.body) != "kept\n" {
		t.Fatalf("after restart: %d %q", r.status, r.body)
	}
	for _, gone := range []string{".upload.tmp123", orphan} {
		if _, err := os.Stat(filepath.Join(files, gone)); err == nil {
			t.Errorf("%s was not cleaned up", gone)
		}
	}
}

func TestFilehostCredentialsStayOutOfTraces(t *testing.T) {
	cfg := uploadsConfig(t)
	cfg.WebListen = "127.0.0.1:0"
	trace := &syncBuffer{}
	ts, _ := startServerWith(t, cfg, "", func(s *Server) { s.trace = newTracer(trace) })
	alice := registerAccount(t, ts.addr, "alice", "alicepw1")
	u := filehostURL(t, alice)
	tok := u[strings.LastIndex(u, "/")+1:]
	loc := uploadTo(t, u, "a.txt", []byte("a\n"), nil).header.Get("Location")
	req, _ := http.NewRequest("GET", loc, nil)
	req.SetBasicAuth("alice", "alicepw1")
	if r := doHTTP(t, http.MethodGet, loc, nil, map[string]string{"Authorization": req.Header.Get("Authorization")}); r.status != 200 {
		t.Fatalf("basic fetch: %d", r.status)
	}
	alice.sync()
	out := trace.String()
	basic := strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
	for _, secret := range []string{tok, basic, "alicepw1"} {
		if strings.Contains(out, secret) {
			t.Errorf("the trace shows %q", secret)
		}
	}
	if !strings.Contains(out, "/upload/***") {
		t.Errorf("the trace does not show the upload at all:\n%s", out)
	}
}
