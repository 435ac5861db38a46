package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var profileWritesLine = regexp.MustCompile(`profile writes (\d+)`)

// profileWrites asks the server (as operator c) how many profile files it has written.
func profileWrites(t *testing.T, c *ircClient) int {
	t.Helper()
	c.send("STATS")
	m := c.expect(` 249 \S+ \* :profile writes \d+`)
	n, err := strconv.Atoi(profileWritesLine.FindStringSubmatch(m.Param(2))[1])
	if err != nil {
		t.Fatal(err)
	}
	c.expect(` 219 `)
	return n
}

// A flood of MARKREADs typed into nc costs a handful of profile writes (each an fsync), not
// one per line; every device still hears each move at once; the last marker, set just before
// SIGTERM, is on disk after the restart. Through the real binary, writes counted by STATS.
func TestReadMarkersAreWrittenBehind(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(t.TempDir(), "labchat.toml")
	if err := os.WriteFile(conf, []byte("[server]\nbcrypt_cost = 4\nflood_rate = 0\n\n[[server.operators]]\naccount = \"teacher\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startBinaryServer(t, "serve", "--config", conf, "--data-dir", dir, "--listen", "127.0.0.1:0")
	registerAccount(t, srv.addr, "mei", "mei-password").quit()
	registerAccount(t, srv.addr, "teacher", "teacher-password").quit()
	teacher, _ := capsLogin(t, srv.addr, "teacher", "teacher-password", "")
	phone, _ := capsLogin(t, srv.addr, "mei", "mei-password", "draft/read-marker")
	before := profileWrites(t, teacher)

	// nc: no capabilities, PASS login, then 500 MARKREADs in one write.
	nc := dialIRC(t, srv.addr, "nc")
	nc.send("PASS mei:mei-password")
	nc.send("NICK mei")
	nc.send("USER mei 0 * :mei")
	nc.expect(" 001 ")
	const flood = 500
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	stamp := func(i int) string { return start.Add(time.Duration(i) * time.Second).Format(markreadLayout) }
	var burst strings.Builder
	for i := 1; i <= flood; i++ {
		fmt.Fprintf(&burst, "MARKREAD tom timestamp=%s\r\n", stamp(i))
	}
	if _, err := nc.conn.Write([]byte(burst.String())); err != nil {
		t.Fatal(err)
	}
	nc.expect(`MARKREAD tom timestamp=` + regexp.QuoteMeta(stamp(flood)))
	phone.expect(`MARKREAD tom timestamp=` + regexp.QuoteMeta(stamp(flood))) // relayed at once, not at the flush

	profile := filepath.Join(dir, "server", "profiles", "mei.toml")
	deadline := time.Now().Add(ioTimeout)
	for {
		data, _ := os.ReadFile(profile)
		if strings.Contains(string(data), stamp(flood)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("profile never got the last marker; it holds:\n%s", data)
		}
		time.Sleep(20 * time.Millisecond) // polling a file: the flush has no event to wait on
	}
	writes := profileWrites(t, teacher) - before
	t.Logf("%d MARKREADs: %d profile write(s)", flood, writes)
	if writes < 1 || writes > flood/20 {
		t.Errorf("%d MARKREADs cost %d profile writes; want a few (written behind, at most one per flush)", flood, writes)
	}

	// One more move, and SIGTERM at once: the shutdown writes it.
	phone.send("MARKREAD #lab timestamp=2026-12-06T12:00:00.000Z")
	phone.expect(`MARKREAD #lab timestamp=2026-12-06T12:00:00.000Z`)
	if code := srv.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	srv = startBinaryServer(t, "serve", "--config", conf, "--data-dir", dir, "--listen", "127.0.0.1:0")
	again, _ := capsLogin(t, srv.addr, "mei", "mei-password", "draft/read-marker")
	again.send("MARKREAD #lab")
	again.expect(`MARKREAD #lab timestamp=2026-12-06T12:00:00.000Z`)
	again.send("MARKREAD tom")
	again.expect(`MARKREAD tom timestamp=` + regexp.QuoteMeta(stamp(flood)))
}
