package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyTree copies the files under src to dst (a test's own copy of testdata).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The data directory fb35a54 wrote (testdata/fb35a54) starts under this version with every
// account, message and setting kept; and again with this version's own files (profiles/,
// rooms/) damaged.
func TestUpgradeFromFb35a54(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join("testdata", "fb35a54", "server"), filepath.Join(dir, "data", "server"))
	conf := filepath.Join(dir, "labchat.toml")
	body := "data_dir = \"" + filepath.ToSlash(filepath.Join(dir, "data")) + "\"\n[server]\nlisten = \"127.0.0.1:0\"\nrequire_login = false\nbcrypt_cost = 4\ndefault_room = \"\"\nflood_rate = 0.0\nweb_listen = \"\"\ntls_listen = \"\"\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(round string) {
		t.Helper()
		srv := startBinaryServer(t, "serve", "--config", conf)
		alice, lines := capsLogin(t, srv.addr, "alice", "alice-password", "batch draft/chathistory message-tags server-time")
		if round == "first start" && !strings.Contains(strings.Join(lines, "\n"), "offline DM for alice: see you at 14:00") {
			t.Errorf("%s: alice's offline queue was not delivered: %q", round, lines)
		}
		if got := texts(historyBatch(t, alice, "CHATHISTORY LATEST bob * 10")); !strings.Contains(got, "a DM from bob to alice") || !strings.Contains(got, "offline DM for alice") {
			t.Errorf("%s: alice's DMs with bob: %q", round, got)
		}
		alice.send("NS INFO alice")
		alice.expect(`NOTICE alice :.*alice@lab.example`)
		bob := saslLogin(t, srv.addr, "bob", "bob-password")
		bob.expect(` 381 bob `) // still a server operator
		carol := dialIRC(t, srv.addr, "carol")
		carol.send("PASS carol:carol-password")
		carol.send("NICK carol")
		carol.send("USER carol 0 * :carol")
		carol.expect(` 464 .*locked`)
		alice.quit()
		bob.quit()
		if code := srv.stop(); code != 0 {
			t.Errorf("%s: serve exited %d", round, code)
		}
		r := runCLI(t, accountsTimeout, "", []string{"LABCHAT_CONFIG=", "LABCHAT_DATA="}, "history", "--dir", filepath.Join(dir, "data", "server"), "--room", "#lab")
		if r.code != 0 || !strings.Contains(r.stdout, "hello from alice before the upgrade") || !strings.Contains(r.stdout, "bob says hi in #lab") {
			t.Errorf("%s: labchat history --room #lab: %+v", round, r)
		}
	}
	check("first start")

	// This version's files, damaged: the server starts, logs them, and loses nothing else.
	server := filepath.Join(dir, "data", "server")
	for _, f := range []string{filepath.Join(server, "profiles", "alice.toml"), filepath.Join(server, "rooms", "room-lab.toml")} {
		os.MkdirAll(filepath.Dir(f), 0o700)
		if err := os.WriteFile(f, []byte("rooms = [[[ half a line"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	check("damaged profile and room files")
	if aside, _ := filepath.Glob(filepath.Join(server, "profiles", "alice.toml.damaged-*")); len(aside) != 1 {
		t.Errorf("damaged profile not moved aside: %v", aside)
	}
}
