package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The browser's call signalling is TAGMSG with client-only tags (web/lib/rtc.js), each
// within the 4094 bytes of tag data a client may send: one at the limit reaches the peer
// intact (spaces, semicolons and CRLF escaped as the SDP needs), one byte more is refused
// with 417 rather than cut, and neither is stored in history.
func TestVoiceSignallingTagmsgAtTheClientTagLimit(t *testing.T) {
	ts := startServer(t, testConfig(t), "")
	alice := welcomed(t, ts.addr, "alice", "", "message-tags")
	bob := welcomed(t, ts.addr, "bob", "", "message-tags")
	bob.sync()
	head := "+labchat/call=ab12cd34;+labchat/sdp=offer;+labchat/part=1/2;+labchat/data="
	value := strings.Repeat(`v\s0\r\n`, 1000)
	value = value[:maxClientTagData-len(head)]
	for strings.HasSuffix(value, `\`) { // do not cut an escape in half
		value = value[:len(value)-1] + "x"
	}
	if len(head)+len(value) != maxClientTagData {
		t.Fatalf("built %d bytes of tag data", len(head)+len(value))
	}
	alice.send("@%s%s TAGMSG bob", head, value)
	m := bob.expect(`TAGMSG bob`)
	want := strings.NewReplacer(`\s`, " ", `\r`, "\r", `\n`, "\n").Replace(value)
	if m.Tags["+labchat/data"] != want || m.Tags["+labchat/part"] != "1/2" || m.Tags["+labchat/call"] != "ab12cd34" {
		t.Fatalf("relayed tags differ (data %d bytes, want %d)", len(m.Tags["+labchat/data"]), len(want))
	}
	alice.send("@%s%sx TAGMSG bob", head, value)
	alice.expect(` 417 `)
	alice.send("PRIVMSG bob :after")
	bob.expect(`PRIVMSG bob :after`)
	var logged strings.Builder
	filepath.WalkDir(filepath.Join(ts.dir, "logs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			logged.Write(b)
		}
		return nil
	})
	if !strings.Contains(logged.String(), "after") || strings.Contains(logged.String(), "TAGMSG") {
		t.Errorf("history should hold the PRIVMSG and no TAGMSG:\n%s", logged.String())
	}
}
