package main

import (
	"strings"
	"testing"
)

// REGISTER of a name `labchat accounts delete` freed a moment ago succeeds at once on a
// running server, after a passwd and a login (issue 16: it was refused ACCOUNT_EXISTS until
// the one-second poll ran).
func TestRegisterRightAfterDelete(t *testing.T) {
	conf, _ := accountsConfig(t)
	srv := startBinaryServer(t, "serve", "--config", conf)
	for round := range 3 {
		if r := accountsCLI(t, conf, "first-pw", "add", "xena"); r.code != 0 {
			t.Fatalf("round %d add: %+v", round, r)
		}
		if r := accountsCLI(t, conf, "second-pw", "passwd", "xena"); r.code != 0 {
			t.Fatalf("passwd: %+v", r)
		}
		c := saslLogin(t, srv.addr, "xena", "second-pw")
		c.sync()
		c.quit()
		if r := accountsCLI(t, conf, "", "delete", "xena"); r.code != 0 {
			t.Fatalf("delete: %+v", r)
		}
		reg := dialIRC(t, srv.addr, "reg")
		reg.send("CAP LS 302")
		reg.send("NICK xena")
		reg.send("USER x 0 * :x")
		reg.send("REGISTER * * third-pw")
		m := reg.expect(`REGISTER SUCCESS|FAIL REGISTER`)
		if m.Command != "REGISTER" {
			t.Fatalf("round %d: REGISTER right after delete: %v", round, m)
		}
		reg.send("CAP END")
		reg.expect(" 001 ")
		reg.quit()
		if r := accountsCLI(t, conf, "", "delete", "xena"); r.code != 0 {
			t.Fatalf("delete again: %+v", r)
		}
	}
}

// Each refused account name is told exactly why; none is cut to fit.
func TestAccountNameRefusalsSayWhy(t *testing.T) {
	cfg := testConfig(t)
	cfg.RegistrationBeforeConnect = true
	ts := startServer(t, cfg, "")
	c := guest(t, ts.addr, "someone")
	cases := []struct{ name, want string }{
		{"张三", "Account names use a–z, 0–9, - and _; put 张三 in your display name"},
		{"Zoë", "put Zoë in your display name"},
		{strings.Repeat("a", 31), "at most 30 characters; " + strings.Repeat("a", 31) + " has 31"},
		{"NickServ", "name of a service"},
		{"con", "reserved for a device on Windows"},
		{"9lives", "start with a letter"},
	}
	for _, tc := range cases {
		c.send("REGISTER %s * long-enough-pw", tc.name)
		lines := c.sync()
		got := strings.Join(lines, "\n")
		if !strings.Contains(got, "FAIL REGISTER") || !strings.Contains(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.name, got, tc.want)
		}
	}
	// Through NICK, the 432 says the same for a non-ASCII nick.
	n := dialIRC(t, ts.addr, "n")
	n.send("NICK 张三")
	n.expect(` 432 .*put 张三 in your display name`)
}
