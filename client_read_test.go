package main

// Display names and read markers in the terminal client, through the real binary in tmux,
// beside a second device of the same account (a raw IRC connection with draft/read-marker).

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

const readCaps = "draft/read-marker setname server-time echo-message message-tags batch draft/chathistory"

// serverTimeOf is a received line's server-time tag.
func serverTimeOf(t *testing.T, line Message) string {
	t.Helper()
	ts := line.Tags["time"]
	if ts == "" {
		t.Fatalf("no server time on %v", line)
	}
	return ts
}

func TestTerminalDisplayNamesAndReadMarkers(t *testing.T) {
	needTmux(t)
	ts := startServer(t, loginRequiredConfig(t), "")
	addr, data := ts.addr, t.TempDir()
	for _, u := range []string{"mei", "tom"} {
		registerViaCLI(t, addr, data, u, u+"-pw-1")
	}
	mei, _ := capsLogin(t, addr, "mei", "mei-pw-1", readCaps)
	mei.send("SETNAME :Zoë")
	mei.expect(`SETNAME :?Zoë`)
	tomPhone, _ := capsLogin(t, addr, "tom", "tom-pw-1", readCaps)

	tom := startPane(t, addr, data, "tom", "tom-pw-1", "--no-bell")
	tom.typeLine("/join #lab")
	tom.waitScreen("tom in #lab", lastLineIs("[tom -> #lab] >"))
	joinRoom(mei, "#lab")
	tom.shows(`mei \(Zoë\) joined #lab`)

	// Shown in the active conversation: read, on the phone too.
	mei.send("PRIVMSG #lab :hello from Zoë")
	said := mei.expect(`PRIVMSG #lab :hello from Zoë`)
	tom.shows(`#lab <mei \(Zoë\)> hello from Zoë$`)
	tomPhone.expect(`MARKREAD #lab timestamp=` + regexp.QuoteMeta(serverTimeOf(t, said)))

	// A DM while tom is in #lab: unread, counted in the prompt and /unread ...
	mei.send("PRIVMSG tom :psst, tom")
	dm := tomPhone.expect(`PRIVMSG tom :psst, tom`)
	tom.shows(`\*mei \(Zoë\)\* psst, tom$`)
	tom.waitScreen("the unread count", lastLineIs("[tom -> #lab, 1 unread] >"))
	tom.typeLine("/unread")
	tom.shows(`^\d\d:\d\d:\d\d   mei +1 new, last \d\d:\d\d:\d\d from mei \(Zoë\): "psst, tom"`)
	// ... and cleared when the phone reads it.
	tomPhone.send("MARKREAD mei timestamp=" + serverTimeOf(t, dm))
	tom.shows(`mei: 1 unread message\(s\) read on another device`)
	tom.waitScreen("no unread count", lastLineIs("[tom -> #lab] >"))

	// Switching to a conversation shows its unread part under the divider, and reads it.
	mei.send("PRIVMSG tom :are you there?")
	dm = tomPhone.expect(`PRIVMSG tom :are you there\?`)
	tom.waitScreen("the unread count", lastLineIs("[tom -> #lab, 1 unread] >"))
	tom.typeLine("/query mei")
	tom.waitScreen("the divider and the message again", func(lines []string) bool {
		for i := range lines[:len(lines)-1] {
			if strings.HasSuffix(lines[i], "---- 1 new message(s) in mei ----") && strings.HasSuffix(lines[i+1], "*mei (Zoë)* are you there?") {
				return true
			}
		}
		return false
	})
	tomPhone.expect(`MARKREAD mei timestamp=` + regexp.QuoteMeta(serverTimeOf(t, dm)))
	tom.waitScreen("tom talking to mei", lastLineIs("[tom -> mei] >"))

	// WHOIS and the member list.
	tom.typeLine("/whois mei")
	tom.shows(`mei \(Zoë\) is connected from \S+ as ~?mei`)
	tom.typeLine("/names #lab")
	tom.shows(`in #lab: .*mei \(Zoë\)`)
	tom.typeLine("/contacts add mei")
	tom.shows(`mei added to your contacts`)
	tom.typeLine("/contacts")
	tom.shows(`contacts: mei \(Zoë\) \(/who shows their status\)`)
	tom.typeLine("/who")
	tom.shows(`^\d\d:\d\d:\d\d mei +online +\S+ +\(Zoë\)`)
	tom.typeLine("/setname Tom Li")
	tom.shows(`your display name is now Tom Li`)
	mei.expect(`:tom!\S+ SETNAME :Tom Li`)

	// Said while tom is logged out (he stays a member of #lab): at the next login it is
	// shown under the divider, and read, as #lab is where he lands.
	tom.quit()
	mei.send("PRIVMSG #lab :said while tom was away")
	said = mei.expect(`PRIVMSG #lab :said while tom was away`)
	tom = startPane(t, addr, data, "tom", "tom-pw-1", "--no-bell")
	tom.waitScreen("the divider at login", func(lines []string) bool {
		for i := range lines[:len(lines)-1] {
			if strings.HasSuffix(lines[i], "---- 1 new message(s) in #lab ----") && strings.Contains(lines[i+1], "#lab <mei (Zoë)> said while tom was away") {
				return true
			}
		}
		return false
	})
	tomPhone.expect(`MARKREAD #lab timestamp=` + regexp.QuoteMeta(serverTimeOf(t, said)))
}

// Pipelines keep "<mei>" in plain lines (scripts grep it); --json carries the display name.
func TestFollowShowsDisplayNameOnlyInJSON(t *testing.T) {
	ts := startServer(t, loginRequiredConfig(t), "")
	addr, data := ts.addr, t.TempDir()
	for _, u := range []string{"mei", "tom", "ken"} {
		registerViaCLI(t, addr, data, u, u+"-pw-1")
	}
	mei, _ := capsLogin(t, addr, "mei", "mei-pw-1", readCaps)
	joinRoom(mei, "#lab")
	plain := startClient(t, clientEnv(data, "tom-pw-1"), "connect", addr, "--user", "tom", "--to", "#lab", "--follow")
	jsonl := startClient(t, clientEnv(data, "ken-pw-1"), "connect", addr, "--user", "ken", "--to", "#lab", "--follow", "--json")
	mei.expect(`:(tom|ken)!\S+ JOIN #lab`)
	mei.expect(`:(tom|ken)!\S+ JOIN #lab`)
	mei.send("SETNAME :Zoë") // pushed to both (setname), before what follows
	mei.expect(`SETNAME :?Zoë`)
	mei.send("PRIVMSG #lab :hi all")
	if line := plain.nextLine(t); !strings.HasSuffix(line, " #lab <mei> hi all") {
		t.Errorf("plain --follow printed %q; want the nick alone", line)
	}
	var ev struct{ From, Name, Text string }
	line := jsonl.nextLine(t)
	if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.From != "mei" || ev.Name != "Zoë" || ev.Text != "hi all" {
		t.Errorf("--json printed %s (%v); want from mei, name Zoë", line, err)
	}
}
