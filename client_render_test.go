package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// numericSamples is one line per numeric the server sends, in the server's own format (the
// params after our nick "bob"). signon is 2026-12-01 11:20 UTC.
var numericSamples = map[string]string{
	"001": ":Welcome to the labchat IRC network, bob!~bob@10.0.0.7",
	"002": ":Your host is labchat.local, running version labchat-1.0",
	"003": ":This server was created 2026-12-01",
	"004": "labchat.local labchat-1.0 iowB biklmnopstuv",
	"005": "AWAYLEN=390 MONITOR=100 :are supported by this server",
	"219": "u :End of /STATS report",
	"221": "+iw",
	"242": ":Server Up 0 days 01:02:03",
	"249": "u :connections 12, messages relayed 3400",
	"251": ":There are 3 users and 0 invisible on 1 servers",
	"252": "1 :operator(s) online",
	"253": "2 :unknown connection(s)",
	"254": "4 :channels formed",
	"255": ":I have 3 clients and 0 servers",
	"256": "labchat.local :Administrative info",
	"257": ":Networking lab, room 101",
	"258": ":Network labchat, one server running labchat-1.0",
	"259": ":teacher@example.org",
	"265": "3 40 :Current local users 3, max 40",
	"266": "3 40 :Current global users 3, max 40",
	"301": "alice :at lunch",
	"302": ":alice=+~alice@10.0.0.7 carol*=-~carol@10.0.0.9",
	"303": ":alice carol",
	"305": ":You are no longer marked as being away",
	"306": ":You have been marked as being away",
	"311": "alice ~alice 10.0.0.7 * :Alice Smith",
	"312": "alice labchat.local :labchat",
	"313": "alice :is an IRC operator",
	"314": "carol ~carol 10.0.0.9 * :Carol Jones",
	"315": "* :End of WHO list",
	"317": "alice 185 1764588000 :seconds idle, signon time",
	"318": "alice :End of /WHOIS list",
	"319": "alice :@#lab #lobby +#talk",
	"321": "Channel :Users  Name",
	"322": "#lab 3 :Sockets, week 4",
	"323": ":End of /LIST",
	"324": "#lab +ntkl sesame 10",
	"329": "#lab 1764588000",
	"330": "alice alice :is logged in as",
	"331": "#lab :No topic is set",
	"332": "#lab :Sockets, week 4",
	"333": "#lab alice!~alice@10.0.0.7 1764588000",
	"335": "alice :is a bot on labchat",
	"336": "#secret",
	"337": ":End of /INVITE list",
	"341": "carol #lab",
	"346": "#lab carol!*@* alice 1764588000",
	"347": "#lab :End of channel invite list",
	"348": "#lab $a:carol alice 1764588000",
	"349": "#lab :End of channel exception list",
	"351": "labchat-1.0 labchat.local :labchat IRC server for socket-programming labs",
	"352": "#lab ~alice 10.0.0.7 labchat.local alice G :0 Alice Smith",
	"353": "= #lab :@alice bob +carol",
	"354": "alice 10.0.0.7",
	"364": "labchat.local labchat.local :0 The lab's server",
	"365": "* :End of /LINKS list",
	"366": "#lab :End of /NAMES list",
	"367": "#lab *!*@10.0.0.66 alice 1764588000",
	"368": "#lab :End of channel ban list",
	"369": "carol :End of WHOWAS",
	"371": ":labchat: one binary, a chat server for a lab",
	"372": ":- Be kind. Type /help.",
	"374": ":End of INFO list",
	"375": ":- labchat.local Message of the day - ",
	"376": ":End of /MOTD command",
	"381": ":You are now an IRC operator",
	"391": "labchat.local :Tuesday December 1 2026 -- 11:20:00 +00:00 (2026-12-01T11:20:00Z)",
	"401": "carol :No such nick/channel",
	"402": "irc.example :No such server",
	"403": "#nowhere :No such channel",
	"404": "#lab :Cannot send to channel (+m)",
	"405": "#many :You have joined too many channels",
	"406": "carol :There was no such nickname",
	"410": "FOO :Invalid CAP command",
	"411": ":No recipient given (PRIVMSG)",
	"412": ":No text to send",
	"417": ":Input line was too long",
	"421": "FOO :Unknown command",
	"422": ":MOTD File is missing",
	"431": ":No nickname given",
	"432": "9lives :Erroneous nickname",
	"433": "alice :Nickname is already in use",
	"441": "carol #lab :They aren't on that channel",
	"442": "#lab :You're not on that channel",
	"443": "carol #lab :is already on channel",
	"451": ":You have not registered",
	"461": "MODE :Not enough parameters",
	"462": ":You may not reregister",
	"464": ":Password incorrect",
	"467": "#lab :Channel key already set",
	"471": "#lab :Cannot join channel (+l)",
	"472": "x :is unknown mode char to me for #lab",
	"473": "#lab :Cannot join channel (+i)",
	"474": "#lab :Cannot join channel (+b)",
	"475": "#lab :Cannot join channel (+k)",
	"476": "lab :Bad Channel Mask",
	"478": "#lab b :Channel ban list is full",
	"481": ":Permission Denied- You're not an IRC operator",
	"482": "#lab :You're not channel operator",
	"491": ":No O-lines for your host",
	"501": ":Unknown MODE flag",
	"502": ":Cant change mode for other users",
	"524": "FOO :No help available on this topic",
	"696": "#lab l x :Invalid limit",
	"704": "JOIN :JOIN <#room>[,<#room>...] [<key>]",
	"705": "JOIN :Joins a room, creating it if new.",
	"706": "JOIN :End of /HELP",
	"730": ":alice!~alice@10.0.0.7",
	"731": ":carol",
	"732": ":alice,carol",
	"733": ":End of MONITOR list",
	"734": "100 dave :Monitor list is full",
	"900": "bob!~bob@10.0.0.7 bob :You are now logged in as bob",
	"901": "bob!~bob@10.0.0.7 :You are now logged out",
	"902": ":You must use a nick assigned to you",
	"903": ":SASL authentication successful",
	"904": ":SASL authentication failed",
	"905": ":SASL message too long",
	"906": ":SASL authentication aborted",
	"907": ":You have already authenticated using SASL",
	"908": "PLAIN :are available SASL mechanisms",
}

// numericShown is what the client prints for each sample ("" = nothing).
var numericShown = map[string]string{
	"001": "Welcome to the labchat IRC network, bob!~bob@10.0.0.7",
	"002": "Your host is labchat.local, running version labchat-1.0",
	"003": "This server was created 2026-12-01",
	"242": "Server Up 0 days 01:02:03",
	"221": "your user modes: invisible, receives wallops",
	"249": "stats: connections 12, messages relayed 3400",
	"252": "1 server operator(s) online",
	"254": "4 room(s) open",
	"256": "about labchat.local:",
	"257": "Networking lab, room 101",
	"258": "Network labchat, one server running labchat-1.0",
	"259": "administrator: teacher@example.org",
	"265": "3 user(s) online now (the most so far: 40)",
	"301": "alice is away: at lunch",
	"302": "alice is ~alice@10.0.0.7 (here); carol is ~carol@10.0.0.9 (away)",
	"303": "online: alice, carol",
	"305": "you are back (no longer marked as away)",
	"306": "you are marked as away",
	"311": "alice (Alice Smith) is connected from 10.0.0.7 as ~alice",
	"312": "alice is on server labchat.local (labchat)",
	"313": "alice is a server operator",
	"314": "carol (Carol Jones) was connected from 10.0.0.9 as ~carol",
	"317": "alice has been idle 3 min, online since " + humanTime(time.Unix(1764588000, 0)),
	"319": "alice is in #lab (operator), #lobby, #talk (voice)",
	"321": "rooms on this server:",
	"322": "  #lab, 3 member(s): Sockets, week 4",
	"324": "#lab is closed to messages from outside, topic set by operators only, protected by a key, limited to 10 members",
	"329": "#lab was created " + humanTime(time.Unix(1764588000, 0)),
	"330": "alice is logged in as account alice",
	"331": "#lab has no topic",
	"332": "topic of #lab: Sockets, week 4",
	"333": "(the topic of #lab was set by alice on " + humanTime(time.Unix(1764588000, 0)) + ")",
	"335": "alice is a bot",
	"336": "you are invited to #secret",
	"341": "you invited carol to #lab",
	"346": "#lab: carol may join without an invitation (set by alice on " + humanTime(time.Unix(1764588000, 0)) + ")",
	"348": "#lab: account carol is exempt from the bans (set by alice on " + humanTime(time.Unix(1764588000, 0)) + ")",
	"351": "server labchat.local runs labchat-1.0 (labchat IRC server for socket-programming labs)",
	"352": "alice (Alice Smith) is away in #lab, connected from 10.0.0.7",
	"353": "in #lab: alice (operator), bob, carol (voice)",
	"354": "who: alice, 10.0.0.7",
	"364": "server labchat.local: The lab's server",
	"367": "#lab: anyone from 10.0.0.66 is banned (set by alice on " + humanTime(time.Unix(1764588000, 0)) + ")",
	"371": "labchat: one binary, a chat server for a lab",
	"372": "Be kind. Type /help.",
	"381": "you are now a server operator",
	"391": "time on labchat.local: Tuesday December 1 2026 -- 11:20:00 +00:00 (2026-12-01T11:20:00Z)",
	"401": "there is nobody called carol online",
	"402": "there is no server irc.example",
	"403": "there is no room #nowhere",
	"404": "you cannot talk in #lab: cannot send to channel (+m)",
	"405": "you cannot join #many: you are in too many rooms",
	"406": "nobody called carol was here lately",
	"410": "the server refused capability command FOO",
	"411": "a message needs someone to go to",
	"412": "there was no text to send",
	"417": "that line was too long for the server",
	"421": "the server has no command FOO",
	"422": "this server has no message of the day",
	"431": "no nick was given",
	"432": "9lives cannot be a nick (letters, digits and -_[]\\`^{|}, not starting with a digit)",
	"433": "the nick alice is taken",
	"441": "carol is not in #lab",
	"442": "you are not in #lab",
	"443": "carol is already in #lab",
	"451": "log in first",
	"461": "MODE needs more parameters",
	"462": "you are already logged in",
	"464": "wrong password",
	"467": "#lab already has a key",
	"471": "you cannot join #lab: it is full (its member limit is reached)",
	"472": "x is not a mode this server knows",
	"473": "you cannot join #lab: it is invite-only (ask one of its operators to /invite you)",
	"474": "you cannot join #lab: you are banned from it",
	"475": "you cannot join #lab without its key: /join #lab KEY",
	"476": "lab is not a room name",
	"478": "the ban list of #lab is full",
	"481": "only server operators can do that (/oper first)",
	"482": "only operators of #lab can do that",
	"491": "operator login refused: no operator entry matches you",
	"501": "that is not a user mode this server knows",
	"502": "you can only change your own user modes",
	"524": "no help for FOO (HELP alone lists the commands)",
	"696": "mode l of #lab: Invalid limit",
	"704": "JOIN <#room>[,<#room>...] [<key>]",
	"705": "  Joins a room, creating it if new.",
	"734": "the server watches at most 100 users for you: dave not added",
	"901": "you are logged out",
	"902": "this account is locked",
	"904": "login refused: wrong account name or password",
	"905": "login refused: the password is too long",
	"906": "login cancelled",
	"907": "you are already logged in",
}

// Every numeric in numerics.go has a sample; each sample prints what numericShown says, and
// nothing printed has an epoch time, a '*', or the numeric's raw parameters.
func TestEveryNumericIsASentence(t *testing.T) {
	src, err := os.ReadFile("numerics.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`= "(\d{3})"`).FindAllStringSubmatch(string(src), -1) {
		if _, ok := numericSamples[m[1]]; !ok {
			t.Errorf("numeric %s (numerics.go) has no sample line in this test", m[1])
		}
	}
	epoch := regexp.MustCompile(`\b1[0-9]{9}\b`)
	for code, params := range numericSamples {
		line := ":labchat.local " + code + " bob " + params
		m, err := ParseMessage(line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		rec := &eventRecorder{ch: make(chan chatEvent, 10)}
		cs := newClientSession(nil, &clientOptions{user: "bob", callTimeout: time.Minute}, rec)
		cs.presence.active = true
		cs.handle(inbound{msg: m, raw: line})
		got := ""
		select {
		case ev := <-rec.ch:
			got = ev.Text
			if ev.Kind == kindStatus {
				got = ev.String()[len(timeLayout)+1:]
			}
		default:
		}
		if want := numericShown[code]; got != want {
			t.Errorf("%s %s\n shows %q\n want  %q", code, params, got, want)
		}
		if epoch.MatchString(got) || strings.Contains(got, "*") && code != "001" && code != "302" {
			t.Errorf("%s shows %q: an epoch time or a '*'", code, got)
		}
		if raw := strings.Join(m.Params[1:], " "); got != "" && len(m.Params) > 2 && got == raw {
			t.Errorf("%s shows its bare parameters: %q", code, got)
		}
	}
}

// Commands other than numerics, as the other users' actions read.
func TestCommandsAreSentences(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{":alice!~a@h MODE #lab +o carol", "alice gave carol operator rights in #lab"},
		{":alice!~a@h MODE #lab -o+v bob carol", "alice took operator rights from you in #lab|alice gave carol voice (may talk in a moderated room) in #lab"},
		{":alice!~a@h MODE #lab +ik sesame", "alice made #lab invite-only|alice set a key on #lab: joining needs /join #lab sesame"},
		{":alice!~a@h MODE #lab +l 10", "alice limited #lab to 10 members"},
		{":alice!~a@h MODE #lab -l", "alice removed the member limit of #lab"},
		{":alice!~a@h MODE #lab +b $a:eve", "alice banned account eve from #lab"},
		{":alice!~a@h MODE #lab -b eve!*@*", "alice lifted the ban on eve in #lab"},
		{":alice!~a@h MODE #lab +u", "alice made #lab quiet (joins and leaves are not shown)"},
		{":alice!~a@h MODE #lab -m", "alice made #lab no longer moderated (only operators and voiced members talk)"},
		{":bob MODE bob +o", "you are now a server operator"},
		{":labchat.local MODE bob +w-i", "you are now receiving wallops (operators' messages to everyone); you are visible again"},
		{":alice!~a@h KICK #lab carol :spam", "alice kicked carol from #lab (spam)"},
		{":alice!~a@h KICK #lab bob", "alice kicked you from #lab"},
		{":alice!~a@h TOPIC #lab :week 5", "alice set the topic of #lab: week 5"},
		{":alice!~a@h TOPIC #lab :", "alice cleared the topic of #lab"},
		{":alice!~a@h INVITE bob #secret", "alice invites you to #secret: /join #secret"},
		{":alice!~a@h INVITE carol #lab", "alice invited carol to #lab"},
		{":teacher!~t@h KILL bob :flooding", "! teacher disconnected you from the server: flooding"},
		{":teacher!~t@h WALLOPS :server restarts at noon", "-teacher- [to operators and +w users] server restarts at noon"},
		{":alice!~a@h NICK alice2", "alice is now known as alice2"},
	} {
		m, err := ParseMessage(tt.line)
		if err != nil {
			t.Fatal(err)
		}
		rec := &eventRecorder{ch: make(chan chatEvent, 10)}
		cs := newClientSession(nil, &clientOptions{user: "bob"}, rec)
		cs.handle(inbound{msg: m, raw: tt.line})
		var got []string
		for len(rec.ch) > 0 {
			ev := <-rec.ch
			got = append(got, ev.String()[len(timeLayout)+1:])
		}
		if strings.Join(got, "|") != tt.want {
			t.Errorf("%s\n shows %q\n want  %q", tt.line, strings.Join(got, "|"), tt.want)
		}
	}
}

// A watched user changing nick is not shown as going offline (MONITOR says 731 for the old
// nick).
func TestNickChangeIsNotGoingOffline(t *testing.T) {
	rec := &eventRecorder{ch: make(chan chatEvent, 10)}
	cs := newClientSession(nil, &clientOptions{user: "bob"}, rec)
	cs.presence.update("alice", stateOnline, "", time.Now())
	for _, line := range []string{":alice!~a@h NICK alice2", ":labchat.local 731 bob :alice"} {
		m, _ := ParseMessage(line)
		cs.handle(inbound{msg: m, raw: line})
	}
	if ev := rec.next(t); ev.Kind != kindNick {
		t.Fatalf("got %+v; want the nick change", ev)
	}
	if len(rec.ch) > 0 {
		t.Errorf("then %v; want nothing (no 'went offline')", (<-rec.ch).String())
	}
}

// /whois against the real server: sentences, dates and durations, no epoch seconds.
func TestWhoisInteractive(t *testing.T) {
	needTmux(t)
	addr, data := aliceAndBob(t)
	alice := rawLogin(t, addr, "alice", "alicepw1")
	alice.send("JOIN #lab")
	alice.expect(`JOIN #lab`)
	alice.send("AWAY :at lunch")
	alice.expect(` 306 `)
	bob := startPane(t, addr, data, "bob", "bobpw123")
	bob.typeLine("/whois alice")
	bob.shows(`alice has been idle \d+ s, online since \w{3} \d+ \w{3} \d{4} \d\d:\d\d$`)
	bob.shows(`alice is in #lab \(operator\)$`)
	bob.shows(`alice is logged in as account alice$`)
	bob.shows(`alice is away: at lunch$`)
	screen := bob.waitScreen("the prompt", func(l []string) bool { return strings.HasPrefix(l[len(l)-1], "[bob") })
	for _, l := range screen {
		if regexp.MustCompile(`\b1[0-9]{9}\b| 31[1-9] |\*`).MatchString(l) {
			t.Errorf("raw protocol on screen: %q", l)
		}
	}
}

func TestVersionHelpAndBareLabchat(t *testing.T) {
	if res := runCLI(t, clientTestTimeout, "", nil, "--version"); res.code != exitOK || !strings.HasPrefix(res.stdout, "labchat version ") {
		t.Errorf("--version: exit %d, %q", res.code, res.stdout)
	}
	bare := runCLI(t, clientTestTimeout, "", nil)
	if bare.code != exitOK || !strings.Contains(bare.stdout, "COMMANDS:") {
		t.Errorf("bare labchat: exit %d, %q; want the help and 0", bare.code, bare.stdout)
	}
	for _, cmd := range []string{"connect", "serve", "udp-send", "udp-listen", "history"} {
		res := runCLI(t, clientTestTimeout, "", nil, cmd, "--help")
		for _, line := range strings.Split(res.stdout, "\n") {
			if strings.Count(line, "default") > 1 || regexp.MustCompile(`\(default: (false|0|0s)?\)`).MatchString(line) {
				t.Errorf("%s --help: %q", cmd, line)
			}
		}
	}
}

// After /part the prompt goes to another room the user is still in.
func TestPartMovesThePromptToAnotherRoom(t *testing.T) {
	needTmux(t)
	addr, data := aliceAndBob(t)
	bob := startPane(t, addr, data, "bob", "bobpw123")
	bob.typeLine("/join #alpha")
	bob.waitScreen("#alpha", lastLineIs("[bob -> #alpha] >"))
	bob.typeLine("/join #beta")
	bob.waitScreen("#beta", lastLineIs("[bob -> #beta] >"))
	bob.typeLine("/part")
	bob.waitScreen("back to #alpha", lastLineIs("[bob -> #alpha] >"))
	bob.typeLine("/part")
	bob.waitScreen("no room left", lastLineIs("[bob] >"))
}
