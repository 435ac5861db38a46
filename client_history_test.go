package main

import "testing"

func TestParseHistoryArgs(t *testing.T) {
	cases := []struct {
		args, current, target string
		n                     int
		bad                   bool
	}{
		{"", "#lab", "#lab", defaultHistoryLines, false},
		{"bob", "#lab", "bob", defaultHistoryLines, false},
		{"50", "#lab", "#lab", 50, false},
		{"#lab 5", "bob", "#lab", 5, false},
		{"", "", "", 0, true},
		{"bob 0", "", "", 0, true},
		{"bob 100000", "", "", 0, true},
	}
	for _, tc := range cases {
		target, n, problem := parseHistoryArgs(tc.args, tc.current)
		if (problem != "") != tc.bad || !tc.bad && (target != tc.target || n != tc.n) {
			t.Errorf("parseHistoryArgs(%q, %q) = %q, %d, %q; want %q, %d, bad=%v", tc.args, tc.current, target, n, problem, tc.target, tc.n, tc.bad)
		}
	}
}

// The prompt's /history shows the server's record of a DM, dated and marked, in order.
func TestHistoryCommandInteractive(t *testing.T) {
	needTmux(t)
	addr, data := aliceAndBob(t)
	alice := rawLogin(t, addr, "alice", "alicepw1")
	bobRaw := rawLogin(t, addr, "bob", "bobpw123")
	alice.send("PRIVMSG bob :first, from alice")
	bobRaw.expect("first, from alice")
	bobRaw.send("PRIVMSG alice :second, from bob")
	alice.expect("second, from bob")
	bobRaw.send("QUIT")

	bob := startPane(t, addr, data, "bob", "bobpw123")
	bob.typeLine("/history alice 10")
	bob.shows(`\[history\] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \*alice\* first, from alice`)
	bob.shows(`\[history\] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d -> \*alice\* second, from bob`)
	bob.shows(`end of history for alice \(2 messages\)`)
	bob.typeLine("/history carol")
	bob.shows(`no history for carol`)
}
