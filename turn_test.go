package main

import (
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v3"
	"github.com/pion/turn/v4"
)

// stunRoundTrip sends one STUN message to addr from conn and decodes the reply.
func stunRoundTrip(t *testing.T, conn net.PacketConn, addr net.Addr, setters ...stun.Setter) *stun.Message {
	t.Helper()
	req := stun.MustBuild(append([]stun.Setter{stun.TransactionID}, setters...)...)
	if _, err := conn.WriteTo(req.Raw, addr); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(ioTimeout))
	buf := make([]byte, 1500)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no STUN reply from %s: %v", addr, err)
		}
		res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
		if err := res.Decode(); err != nil {
			t.Fatalf("reply is not STUN: %v", err)
		}
		if res.TransactionID == req.TransactionID {
			return res
		}
	}
}

var turnLine = regexp.MustCompile(`TURN relay for browser calls on (\S+) \(UDP\), relay address (\S+)`)

// The real binary with --turn-listen: its port answers STUN Binding, refuses an Allocate
// without credentials (or with a forged one) with 401, relays for a valid REST API
// credential made from the secret in the data directory, and logs the bytes relayed.
func TestTURNPortThroughBinary(t *testing.T) {
	data := t.TempDir()
	srv := startServeCLI(t, "serve", "--listen", "127.0.0.1:0", "--web-listen", "", "--tls-listen", "", "--turn-listen", "127.0.0.1:0", "--data-dir", data)
	m := turnLine.FindStringSubmatch(srv.line(t, "TURN relay"))
	if m == nil || m[2] != "127.0.0.1" {
		t.Fatalf("start-up line %v: want the TURN address and relay address 127.0.0.1", m)
	}
	addr, err := net.ResolveUDPAddr("udp", m[1])
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	res := stunRoundTrip(t, conn, addr, stun.BindingRequest)
	var mapped stun.XORMappedAddress
	if res.Type != stun.BindingSuccess || mapped.GetFrom(res) != nil {
		t.Fatalf("Binding: got %v, want a success with XOR-MAPPED-ADDRESS", res)
	}
	if got := (&net.UDPAddr{IP: mapped.IP, Port: mapped.Port}).String(); got != conn.LocalAddr().String() {
		t.Errorf("XOR-MAPPED-ADDRESS %s, want %s", got, conn.LocalAddr())
	}

	allocate := stun.NewType(stun.MethodAllocate, stun.ClassRequest)
	udp := stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}
	res = stunRoundTrip(t, conn, addr, allocate, udp, stun.Fingerprint)
	var code stun.ErrorCodeAttribute
	var realm stun.Realm
	var nonce stun.Nonce
	if res.Type.Class != stun.ClassErrorResponse || code.GetFrom(res) != nil || code.Code != stun.CodeUnauthorized {
		t.Fatalf("Allocate without credentials: got %v (%v), want error 401", res, code)
	}
	if realm.GetFrom(res) != nil || nonce.GetFrom(res) != nil {
		t.Fatalf("the 401 has no REALM or NONCE: %v", res)
	}

	// A credential that is not the server's HMAC fails the MESSAGE-INTEGRITY check. pion
	// answers 400 there (RFC 8489 9.2.4 says 401); either way no relay is given.
	forged := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + ":mallory"
	key := stun.NewLongTermIntegrity(forged, realm.String(), "not-the-hmac")
	res = stunRoundTrip(t, conn, addr, allocate, udp, stun.NewUsername(forged), realm, nonce, key, stun.Fingerprint)
	if res.Type.Class != stun.ClassErrorResponse || code.GetFrom(res) != nil || code.Code != stun.CodeUnauthorized && code.Code != stun.CodeBadRequest {
		t.Fatalf("Allocate with a forged credential: got %v (%v), want an error (401 or 400)", res, code)
	}
	// An expired one is refused the same way.
	expired := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10) + ":alice"
	res = stunRoundTrip(t, conn, addr, allocate, udp, stun.NewUsername(expired), realm, nonce, stun.NewLongTermIntegrity(expired, realm.String(), "x"), stun.Fingerprint)
	if res.Type.Class != stun.ClassErrorResponse {
		t.Fatalf("Allocate with an expired credential: got %v, want an error", res)
	}

	secretFile := filepath.Join(data, "server", turnSecretFile)
	st, err := os.Stat(secretFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", secretFile, st.Mode().Perm())
	}
	raw, _ := os.ReadFile(secretFile)
	secret, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	user := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + ":alice"
	client, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: m[1], TURNServerAddr: m[1], Conn: conn,
		Username: user, Password: turnPassword(secret, user), Realm: realm.String()})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn.SetReadDeadline(time.Time{})
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := client.Allocate()
	if err != nil {
		t.Fatalf("Allocate with a valid credential: %v", err)
	}
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if _, err := relay.WriteTo([]byte("hello via TURN"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(ioTimeout))
	buf := make([]byte, 100)
	n, from, err := peer.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hello via TURN" || from.String() != relay.LocalAddr().String() {
		t.Fatalf("peer got %q from %v (%v), want the datagram from the relay address %v", buf[:n], from, err, relay.LocalAddr())
	}
	if _, err := peer.WriteTo([]byte("and back"), from); err != nil {
		t.Fatal(err)
	}
	relay.SetReadDeadline(time.Now().Add(ioTimeout))
	if n, _, err = relay.ReadFrom(buf); err != nil || string(buf[:n]) != "and back" {
		t.Fatalf("relayed reply %q (%v)", buf[:n], err)
	}
	relay.Close() // deallocates: the server logs what the allocation relayed
	deadline := time.Now().Add(ioTimeout)
	for !strings.Contains(srv.output(), "TURN allocation ended") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	srv.stop(t)
	out := srv.output()
	if !regexp.MustCompile(`TURN allocation ended"? account=alice .*bytes_relayed=(2[2-9]|[3-9]\d|\d{3,})`).MatchString(out) {
		t.Errorf("no log line with the bytes the allocation relayed (22 of payload); serve printed:\n%s", out)
	}
}

func TestTURNCredentials(t *testing.T) {
	tr := &turnRelay{secret: []byte("0123456789abcdef0123456789abcdef"), ttl: time.Hour, realm: "lab"}
	user, pass, exp := tr.credential("alice", time.Now())
	if want := strconv.FormatInt(exp.Unix(), 10) + ":alice"; user != want {
		t.Errorf("username %q, want %q", user, want)
	}
	// The TURN REST API password is base64(HMAC-SHA1(secret, username)): pion's own
	// generator for the same scheme must agree.
	pu, pp, err := turn.GenerateLongTermTURNRESTCredentials(string(tr.secret), "alice", time.Hour)
	if err != nil || turnPassword(tr.secret, pu) != pp {
		t.Errorf("password for %q differs from pion's TURN REST API one (%v)", pu, err)
	}
	key, ok := tr.authenticate(user, "lab", nil)
	if !ok || string(key) != string(turn.GenerateAuthKey(user, "lab", pass)) {
		t.Errorf("a fresh credential is refused")
	}
	old := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10) + ":alice"
	for _, u := range []string{old, "alice", "123:", "x:alice", ""} {
		if _, ok := tr.authenticate(u, "lab", nil); ok {
			t.Errorf("username %q accepted", u)
		}
	}
}

func TestTURNSecretKeptAndBadSecretRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), turnSecretFile)
	a, err := loadOrCreateTURNSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadOrCreateTURNSecret(path)
	if err != nil || string(a) != string(b) {
		t.Fatalf("second load: %v, same=%v; want the secret kept", err, string(a) == string(b))
	}
	os.WriteFile(path, []byte("short\n"), 0o600)
	if _, err := loadOrCreateTURNSecret(path); err == nil || !strings.Contains(err.Error(), "remove the file") {
		t.Errorf("a damaged secret file: %v, want an error that says what to do", err)
	}
}

func TestTURNConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		set  func(*ServerConfig)
		want string
	}{
		{func(c *ServerConfig) { c.TURNListen = "3478" }, "turn_listen"},
		{func(c *ServerConfig) { c.TURNRelayIP = "lab-server" }, "turn_relay_ip"},
		{func(c *ServerConfig) { c.TURNRelayIP = "0.0.0.0" }, "turn_relay_ip"},
		{func(c *ServerConfig) { c.TURNCredentialTTL.Duration = time.Second }, "turn_credential_ttl"},
		{func(c *ServerConfig) { c.TURNUserKbps = -1 }, "turn_user_kbps"},
	} {
		cfg := testConfig(t)
		tc.set(&cfg)
		if _, err := NewServer(cfg, t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v", tc.want, err)
		}
	}
}

// The per-account cap: a burst over one second's allowance is cut to it.
func TestTURNBandwidthCap(t *testing.T) {
	tr := &turnRelay{rate: 1000, users: map[string]*turnBucket{}, allocs: map[int]*turnAlloc{}, log: slog.New(slog.DiscardHandler)}
	tr.allocationCreated(&net.UDPAddr{}, nil, "udp", "1:alice", "", &net.UDPAddr{Port: 5000}, 0)
	tr.allocationCreated(&net.UDPAddr{}, nil, "udp", "1:Alice", "", &net.UDPAddr{Port: 5001}, 0)
	a, b := tr.allocFor(5000), tr.allocFor(5001)
	if a.bucket != b.bucket {
		t.Fatal("two allocations of one account do not share its budget")
	}
	passed := 0
	for i := 0; i < 20; i++ {
		al := a
		if i%2 == 1 {
			al = b
		}
		if tr.allow(al, 100) {
			passed += 100
		}
	}
	if passed < 1000 || passed > 1100 {
		t.Errorf("%d bytes passed at once, want the one-second allowance (1000)", passed)
	}
}

// A logged-in connection gets its own TURN credential in RPL_ISUPPORT, one that the relay
// accepts; VERSION sends it again; a guest gets none.
func TestTURNCredentialInISupport(t *testing.T) {
	cfg := testConfig(t)
	cfg.TURNListen = "127.0.0.1:0"
	ts := startServer(t, cfg, "")
	_, turnPort, _ := net.SplitHostPort(ts.TURNAddr().String())
	a := registerAccount(t, ts.addr, "alice", "s3cret-pw") // REGISTER before CAP END: in the welcome's 005
	a.send("QUIT")
	a.expectClosed()
	c := saslLogin(t, ts.addr, "alice", "s3cret-pw")
	m := c.expect(` 005 alice .*labchat/TURN=`)
	tok := ""
	for _, p := range m.Params {
		if v, ok := strings.CutPrefix(p, "labchat/TURN="); ok {
			tok = strings.ReplaceAll(v, `\x3D`, "=")
		}
	}
	parts := strings.Split(tok, ",")
	if len(parts) != 3 || parts[0] != "127.0.0.1:"+turnPort || !regexp.MustCompile(`^\d+:alice$`).MatchString(parts[1]) {
		t.Fatalf("token %q: want 127.0.0.1:%s,<expiry>:alice,<password>", tok, turnPort)
	}
	if _, ok := ts.turn.authenticate(parts[1], ts.turn.realm, nil); !ok || turnPassword(ts.turn.secret, parts[1]) != parts[2] {
		t.Errorf("the relay does not accept the credential it gave: %q", tok)
	}
	c.send("VERSION")
	c.expect(` 005 alice .*labchat/TURN=127\.0\.0\.1:` + turnPort + `,\d+:alice,`)

	g := dialIRC(t, ts.addr, "guest")
	g.send("NICK guest")
	g.send("USER g 0 * :g")
	g.expect(" 001 ")
	g.send("VERSION")
	g.expect(" 351 ")
	g.send("PING :end")
	for {
		line := g.expect(`.`)
		if strings.Contains(strings.Join(line.Params, " "), "labchat/TURN") {
			t.Fatalf("a guest got a TURN credential: %v", line)
		}
		if line.Command == "PONG" {
			break
		}
	}
}
