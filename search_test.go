package main

import (
	"strings"
	"testing"
)

// searchResults runs SEARCH and returns the PRIVMSG/NOTICE lines of its batch.
func searchResults(t *testing.T, c *ircClient, attrs string) []Message {
	t.Helper()
	c.send("SEARCH :%s", attrs)
	open := c.expect(`BATCH \+\S+ soju.im/search`)
	id := strings.TrimPrefix(open.Params[0], "+")
	var out []Message
	for {
		line, err := c.readLine()
		if err != nil {
			t.Fatalf("%s: search batch: %v", c.name, err)
		}
		m, _ := ParseMessage(line)
		if m.Command == "BATCH" && m.Params[0] == "-"+id {
			return out
		}
		if m.Tags["batch"] == id {
			out = append(out, m)
		}
	}
}

func searchTexts(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Param(0)+": "+m.Param(1))
	}
	return out
}

func TestSearchOnlyWhatTheUserMayRead(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	caps := "batch server-time message-tags draft/chathistory soju.im/search"
	for _, n := range []string{"alice", "bob", "carol"} {
		registerAccount(t, ts.addr, n, n+"pass1").send("QUIT")
	}
	alice := welcomed(t, ts.addr, "alice", "alicepass1", caps)
	bob := welcomed(t, ts.addr, "bob", "bobpass1", caps)
	carol := welcomed(t, ts.addr, "carol", "carolpass1", caps)
	for _, c := range []*ircClient{alice, bob} {
		c.send("JOIN #lab")
		c.expect("JOIN #lab")
	}
	carol.send("JOIN #other")
	carol.expect("JOIN #other")
	alice.send("PRIVMSG #lab :step one: start the capture")
	alice.send("PRIVMSG #lab :step two: ping the server")
	alice.send("PRIVMSG #lab :step three: stop the Capture and save it")
	alice.send("PRIVMSG bob :my capture password is secret")
	carol.send("PRIVMSG #other :carol's own capture")
	alice.sync()
	carol.sync()
	bob.sync()

	got := searchTexts(searchResults(t, bob, "text=capture"))
	want := []string{"#lab: step one: start the capture", "#lab: step three: stop the Capture and save it", "bob: my capture password is secret"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("bob's search:\n got %q\nwant %q", got, want)
	}
	got = searchTexts(searchResults(t, carol, "text=capture"))
	if strings.Join(got, "|") != "#other: carol's own capture" {
		t.Fatalf("carol (not in #lab, not in alice and bob's DMs) found %q", got)
	}
	got = searchTexts(searchResults(t, bob, `text=stop\sthe;in=#lab;from=alice`))
	if len(got) != 1 || !strings.Contains(got[0], "step three") {
		t.Fatalf("in/from/text search: %q", got)
	}
	if got = searchTexts(searchResults(t, bob, "text=capture;limit=1")); len(got) != 1 || !strings.Contains(got[0], "password") {
		t.Fatalf("limit=1 keeps the newest: %q", got)
	}
	carol.send("SEARCH :text=capture;in=#lab")
	carol.expect(`FAIL SEARCH INVALID_PARAMS .*no such room you are in`)
	carol.send("SEARCH :colour=blue")
	carol.expect(`FAIL SEARCH INVALID_PARAMS colour=blue :Invalid parameters: unknown attribute`)
	guestNoCap := registerAccount(t, ts.addr, "dave", "davepass1")
	guestNoCap.send("SEARCH :text=x")
	guestNoCap.expect(`FAIL SEARCH NEED_CAP`)

	// A result opens in its context: CHATHISTORY AROUND its msgid.
	res := searchResults(t, bob, "text=ping")
	if len(res) != 1 || res[0].Tags["msgid"] == "" {
		t.Fatalf("ping result: %v", res)
	}
	bob.send("CHATHISTORY AROUND #lab msgid=%s 3", res[0].Tags["msgid"])
	bob.expect("BATCH \\+\\S+ chathistory #lab")
	bob.expect("step one")
	bob.expect("step two")
	bob.expect("step three")
}
