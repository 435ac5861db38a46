package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// capsLogin connects with the given caps (and SASL when password is not empty) and returns
// the client after the welcome, with every line up to the sync returned as well.
func capsLogin(t testing.TB, addr, nick, password, caps string) (*ircClient, []string) {
	t.Helper()
	c := welcomed(t, addr, nick, password, caps)
	return c, c.sync()
}

// quit ends a client's session and waits until the server has closed it.
func (c *ircClient) quit() {
	c.t.Helper()
	c.send("QUIT :bye")
	c.expectClosed()
}

func privmsgTexts(lines []string) []string {
	var out []string
	for _, l := range lines {
		if m, err := ParseMessage(l); err == nil && m.Command == "PRIVMSG" {
			out = append(out, m.Param(1))
		}
	}
	return out
}

// waitGone polls for a file to disappear: the trim after delivery has no protocol event.
func waitGone(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists after delivery", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOfflineMessagesDeliveredOnceInOrderAfterRestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testConfig(t), dir)
	registerAccount(t, ts.addr, "bob", "bob-pw").quit()
	alice, _ := capsLogin(t, ts.addr, "alice", "", "echo-message server-time")
	var sentTimes []string
	for _, text := range []string{"first", "second\twith a tab", "third"} {
		alice.send("PRIVMSG bob :%s", text)
		echo := alice.expect(`PRIVMSG bob :`)
		sentTimes = append(sentTimes, echo.Tags["time"])
		alice.expect(`NOTICE alice :bob is offline; message stored for delivery at next login`)
	}
	ts.stop(t)
	queue := filepath.Join(dir, "offline", "bob.log")
	if data, err := os.ReadFile(queue); err != nil || strings.Count(string(data), "\n") != 3 {
		t.Fatalf("queue file after restart: %q, %v; want 3 lines", data, err)
	}

	ts = startServer(t, testConfig(t), dir)
	bob, lines := capsLogin(t, ts.addr, "bob", "bob-pw", "server-time")
	got := privmsgTexts(lines)
	if strings.Join(got, "|") != "first|second\twith a tab|third" {
		t.Fatalf("delivered %q, want the three messages in order", got)
	}
	var times []string
	for _, l := range lines {
		if m, _ := ParseMessage(l); m.Command == "PRIVMSG" {
			times = append(times, m.Tags["time"])
			if !strings.HasPrefix(m.Source, "alice") || m.Param(0) != "bob" {
				t.Errorf("delivered %q: want it from alice to bob", l)
			}
		}
	}
	if strings.Join(times, " ") != strings.Join(sentTimes, " ") {
		t.Errorf("delivered with times %v, want the original %v", times, sentTimes)
	}
	waitGone(t, queue)
	bob.quit()

	_, lines = capsLogin(t, ts.addr, "bob", "bob-pw", "")
	if got := privmsgTexts(lines); len(got) != 0 {
		t.Errorf("second login got %q again", got)
	}
}

func TestOfflineMessageTimePrefixWithoutServerTime(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	registerAccount(t, ts.addr, "bob", "bob-pw").quit()
	alice := guest(t, ts.addr, "alice")
	alice.send("PRIVMSG bob :hello later")
	alice.send("PRIVMSG bob :\x01ACTION waves\x01")
	alice.sync()
	_, lines := capsLogin(t, ts.addr, "bob", "bob-pw", "")
	got := privmsgTexts(lines)
	if len(got) != 2 {
		t.Fatalf("delivered %q, want 2 messages", got)
	}
	day := time.Now().UTC().Format("2006-01-02")
	if !strings.HasPrefix(got[0], "["+day+" ") || !strings.HasSuffix(got[0], " UTC] hello later") {
		t.Errorf("plain client got %q, want a [%s hh:mm UTC] prefix", got[0], day)
	}
	if !strings.HasPrefix(got[1], "\x01ACTION ["+day) || !strings.HasSuffix(got[1], "] waves\x01") {
		t.Errorf("action delivered as %q, want the time inside the ACTION", got[1])
	}
}

func TestOfflineDeliveredAfterLateSASLLogin(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	registerAccount(t, ts.addr, "bob", "bob-pw").quit()
	alice := guest(t, ts.addr, "alice")
	alice.send("PRIVMSG bob :while you were out")
	alice.expect("is offline")

	c := dialIRC(t, ts.addr, "bob2")
	c.send("CAP LS 302")
	c.send("CAP REQ :sasl")
	c.expect("ACK")
	c.send("NICK bob2")
	c.send("USER bob 0 * :bob")
	c.send("CAP END")
	c.expect(" 001 ")
	c.sync()
	c.send("AUTHENTICATE PLAIN")
	c.expect("^AUTHENTICATE \\+")
	c.send("AUTHENTICATE %s", base64.StdEncoding.EncodeToString([]byte("bob\x00bob\x00bob-pw")))
	c.expect(" 903 ")
	c.expect(`^:alice PRIVMSG bob2 :\[.*\] while you were out$`)
}

func TestOfflineQueueFullAndUnknownNick(t *testing.T) {
	cfg := testConfig(t)
	cfg.OfflineQueueMax = 2
	ts := startServer(t, cfg, "")
	registerAccount(t, ts.addr, "bob", "bob-pw").quit()
	alice := guest(t, ts.addr, "alice")
	alice.send("PRIVMSG bob :one")
	alice.expect("stored for delivery")
	alice.send("PRIVMSG bob :two")
	alice.expect("stored for delivery")
	alice.send("PRIVMSG bob :three")
	alice.expect(`^:\S+ FAIL PRIVMSG QUEUE_FULL bob :bob is offline and already has 2 messages waiting`)
	alice.send("PRIVMSG nobody :hi")
	alice.expect(" 401 alice nobody ")
	alice.send("NOTICE bob :notices are not queued")
	for _, l := range alice.sync() {
		t.Errorf("unexpected reply to a NOTICE: %q", l)
	}
	_, lines := capsLogin(t, ts.addr, "bob", "bob-pw", "")
	if got := privmsgTexts(lines); len(got) != 2 {
		t.Errorf("bob got %q, want one and two only", got)
	}
}

func TestOfflineQueueTrimKeepsLaterMessages(t *testing.T) {
	q := newOfflineQueues(t.TempDir(), 10)
	at := time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC)
	add := func(text string) {
		t.Helper()
		e := LogEntry{Time: at, MsgID: text, Kind: "PRIVMSG", From: "alice", To: "bob", Text: text}
		if err := q.append("Bob", &e); err != nil {
			t.Fatal(err)
		}
	}
	add("a")
	add("b")
	_, size, err := q.read("bob")
	if err != nil {
		t.Fatal(err)
	}
	q.pending[q.path("bob")] = pendingTrim{token: 1}
	add("c") // arrives after the delivery read

	if err := q.trim("bob", size, 2); err != nil { // a stale delivery must not trim
		t.Fatal(err)
	}
	if entries, _, _ := q.read("bob"); len(entries) != 3 {
		t.Fatalf("stale trim changed the queue: %d entries", len(entries))
	}
	if err := q.trim("bob", size, 1); err != nil {
		t.Fatal(err)
	}
	entries, _, _ := q.read("bob")
	if len(entries) != 1 || entries[0].Text != "c" {
		t.Errorf("after trim: %+v, want only c", entries)
	}
}
