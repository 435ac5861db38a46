package main

// The interactive client: a liner prompt showing the current target, slash commands from one
// table, tab completion, input history in the data dir, and incoming lines printed above the
// line being typed (printAbove, in client_unix.go / client_windows.go).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/peterh/liner"
	"github.com/urfave/cli/v2"
)

// prompt is the terminal: liner for input, printAbove for output.
type prompt struct {
	ln   *liner.State // Prompt runs on one goroutine at a time (runPrompt waits for it)
	keys *keyFilter   // nil without one (Windows): see client_keys.go
	bell string

	notifyStyle string // desktop notifications (client_notify.go); "" none

	mu  sync.Mutex // serializes writes to out, so lines and the bell never interleave
	out io.Writer
}

// errQuit ends the prompt loop normally.
var errQuit = errors.New("quit")

func runInteractive(c *cli.Context, opts *clientOptions) error {
	keys := installKeyFilter() // before NewLiner, which takes os.Stdin
	p := &prompt{ln: liner.NewLiner(), keys: keys, bell: opts.bell, notifyStyle: opts.notify, out: os.Stdout}
	defer p.ln.Close()
	p.ln.SetCtrlCAborts(true)
	if err := p.askCredentials(c, opts); err != nil {
		return err
	}
	p.loadHistory(opts)
	defer p.saveHistory(opts)
	if opts.tls != nil { // a certificate to trust on first use is asked about here
		opts.tls.ask, opts.tls.notices = p.ln.Prompt, p.out
	}
	return connectAndRun(c.Context, opts, p, p)
}

func (p *prompt) event(ev chatEvent) { p.printAbove(ev.String()) }

// printAbove prints text above the line being typed (see writeAbovePrompt).
func (p *prompt) printAbove(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// The terminal is in raw mode while liner prompts: each line of a multiline message
	// needs its carriage return.
	writeAbovePrompt(p.out, strings.ReplaceAll(text, "\n", "\r\n\x1b[K"))
}

// clearLine erases the prompt line a redraw left behind (see client_keys.go).
func (p *prompt) clearLine() {
	p.mu.Lock()
	defer p.mu.Unlock()
	io.WriteString(p.out, "\r\x1b[K")
}

// endLine leaves the abandoned prompt line as it is, so what follows starts on a new line.
func (p *prompt) endLine() {
	p.mu.Lock()
	defer p.mu.Unlock()
	io.WriteString(p.out, "\r\n")
}

// ringFor rings the bell for a message from someone: on direct messages with bell = "dm",
// on every message with "all".
func (p *prompt) ringFor(ev chatEvent) {
	if p.bell == "off" || (p.bell == "dm" && !ev.direct) {
		return
	}
	if ev.direct {
		p.notify("labchat: "+ev.From, ev.Text)
	}
	p.bellPattern(bellsMessage)
}

// The bell patterns: how many bells, bellGap apart. Terminals play (or flash) each BEL,
// and most merge bells closer than about 100 ms, hence the gap.
const (
	bellsMessage = 1
	bellsOnline  = 2
	bellsCall    = 3
	bellGap      = 180 * time.Millisecond
)

// bellPattern rings n bells bellGap apart, unless the bell is off; the first at once.
func (p *prompt) bellPattern(n int) {
	if p.bell == "off" || n <= 0 {
		return
	}
	ring := func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		io.WriteString(p.out, "\a")
	}
	ring()
	if n > 1 {
		go func() {
			for range n - 1 {
				time.Sleep(bellGap) // a sound's rhythm, not a wait for an event
				ring()
			}
		}()
	}
}

// contactOnline: two bells and a desktop notification when a contact comes online (with
// bell = "all" or "dm"; a contact's arrival is news about a person, like a DM).
func (p *prompt) contactOnline(nick string) {
	if p.bell == "off" {
		return
	}
	p.notify("labchat", nick+" is online")
	p.bellPattern(bellsOnline)
}

// askCredentials fills in the account (offering the remembered ones) and the password.
func (p *prompt) askCredentials(c *cli.Context, opts *clientOptions) error {
	if opts.user == "" {
		user, err := p.chooseAccount(opts)
		if err != nil {
			return err
		}
		opts.user = user
	}
	pw, ok, err := passwordFromFlags(c)
	if err != nil {
		return err
	}
	if !ok {
		pw, err = p.askPassword(opts)
		if err != nil {
			return err
		}
	}
	opts.password = pw
	return nil
}

func (p *prompt) chooseAccount(opts *clientOptions) (string, error) {
	known := rememberedAccounts(opts.dataDir, opts.addr)
	question := "Account: "
	if len(known) > 0 {
		p.printAbove("Accounts used on " + opts.addr + ":")
		for i, a := range known {
			p.printAbove(fmt.Sprintf("  %d) %-16s last login %s", i+1, a.name, a.last.Local().Format("2006-01-02 15:04")))
		}
		question = "Account [" + known[0].name + "]: "
	}
	answer, err := p.ln.Prompt(question)
	if err != nil {
		return "", usageErrorf("no account chosen")
	}
	answer = strings.TrimSpace(answer)
	if n, err := strconv.Atoi(answer); err == nil && n >= 1 && n <= len(known) {
		return known[n-1].name, nil
	}
	if answer == "" && len(known) > 0 {
		return known[0].name, nil
	}
	if answer == "" || strings.ContainsAny(answer, " :,") {
		return "", usageErrorf("account name %q: want one word", answer)
	}
	return answer, nil
}

func (p *prompt) askPassword(opts *clientOptions) (string, error) {
	if opts.register {
		return p.newPassword(opts)
	}
	pw, err := p.ln.PasswordPrompt("Password for " + opts.user + "@" + opts.addr + ": ")
	if err != nil || pw == "" {
		return "", usageErrorf("no password given")
	}
	return pw, nil
}

func historyPath(opts *clientOptions) string { return filepath.Join(opts.dataDir, "history") }

func (p *prompt) loadHistory(opts *clientOptions) {
	f, err := os.Open(historyPath(opts))
	if err != nil {
		return // none yet; an unreadable one is rewritten at the end
	}
	defer f.Close()
	p.ln.ReadHistory(f)
}

// saveHistory keeps the last history_lines input lines (liner holds at most 1000).
func (p *prompt) saveHistory(opts *clientOptions) {
	if opts.historyLines <= 0 {
		return
	}
	var buf bytes.Buffer
	p.ln.WriteHistory(&buf)
	lines := strings.SplitAfter(buf.String(), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	lines = lines[max(0, len(lines)-opts.historyLines):]
	if err := saveClientFile(historyPath(opts), []byte(strings.Join(lines, "")), 0o600); err != nil {
		fmt.Fprintf(os.Stderr, "labchat: save input history: %v\n", err)
	}
}

func (p *prompt) remember(line string) {
	if keepInHistory(line) {
		p.ln.AppendHistory(line)
	}
}

// keepInHistory reports whether a typed line may be saved: a /raw line carrying a password,
// or a /msg to NickServ carrying one, is not, recognised as --trace recognises it (the
// server's parsing rules).
func keepInHistory(line string) bool {
	if rest, ok := strings.CutPrefix(line, "/raw "); ok && secretOffset([]byte(rest+"\n")) >= 0 {
		return false
	}
	if rest, ok := strings.CutPrefix(line, "/msg "); ok {
		target, text, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
		if secretOffset([]byte("PRIVMSG "+target+" :"+text+"\n")) >= 0 {
			return false
		}
	}
	return strings.TrimSpace(line) != ""
}

type promptResult struct {
	line string
	err  error
}

// runPrompt reads lines until /quit, Ctrl-C on an empty line, Ctrl-D, a signal, or the
// session ends. Prompt runs on its own goroutine so the end of the session is noticed while
// the user types; the deferred liner Close then restores the terminal.
func (cs *clientSession) runPrompt(p *prompt) error {
	p.ln.SetWordCompleter(func(line string, pos int) (string, []string, string) {
		if p.keys.answer(line, pos) {
			return "", nil, ""
		}
		// liner counts pos in runes; complete slices bytes.
		return cs.complete(line, len(string([]rune(line)[:min(pos, utf8.RuneCountInString(line))])))
	})
	cs.mu.Lock()
	cs.redraw = p.keys.requestRedraw
	cs.secretPrompt = p.ln.PasswordPrompt // commands run between prompts, so liner is free
	cs.mu.Unlock()
	if cs.isRoom(cs.opts.to) {
		if err := cmdJoin(cs, cs.opts.to); err != nil {
			return err
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	results := make(chan promptResult, 1)
	var restore lineState // the line a redraw took away, typed back into the new prompt
	// Lines of text that come faster than anyone types (a paste) are one multiline message:
	// they wait pasteGap for the next before being sent.
	var paste []string
	var pasteDue <-chan time.Time
	prompting := false
	for {
		if !prompting {
			cs.enteredConversation() // a command may have changed the target: its unread part
			text := cs.promptText()
			cs.shown.Store(text)
			go func(st lineState) {
				p.keys.setChat(true)
				line, err := p.ln.PromptWithSuggestion(text, st.line, st.pos)
				p.keys.setChat(false)
				results <- promptResult{line, err}
			}(restore)
			restore = lineState{}
			prompting = true
		}
		select {
		case <-pasteDue:
			pasteDue = nil
			if err := cs.flushPaste(&paste); err != nil {
				return err
			}
		case r := <-results:
			prompting = false
			if st, ok := p.keys.takeRedraw(); ok && errors.Is(r.err, io.EOF) {
				p.clearLine()
				restore = st
				continue
			}
			if r.err == nil && (len(paste) > 0 || strings.TrimSpace(r.line) != "") && (!strings.HasPrefix(r.line, "/") || strings.HasPrefix(r.line, "//")) {
				p.remember(r.line)
				paste = append(paste, r.line)
				pasteDue = time.After(pasteGap)
				continue
			}
			pasteDue = nil
			if err := cs.flushPaste(&paste); err != nil {
				return err
			}
			if err := cs.promptLine(p, r); err != nil {
				if errors.Is(err, errQuit) {
					return nil
				}
				return err
			}
		case <-cs.done:
			p.endLine()
			return cs.endErr
		case <-sigs:
			p.endLine()
			cs.quit("labchat client quit")
			return nil
		}
	}
}

// pasteGap: lines closer than this were pasted, not typed (nobody presses Enter twice in
// 30 ms), and the wait is too short to notice when sending a typed line.
const pasteGap = 30 * time.Millisecond

// flushPaste sends the lines held by runPrompt: one line as typed, several as one message.
func (cs *clientSession) flushPaste(paste *[]string) error {
	lines := *paste
	*paste = nil
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	var err error
	switch len(lines) {
	case 0:
		return nil
	case 1:
		err = cs.runLine(lines[0])
	default:
		if strings.HasPrefix(lines[0], "//") {
			lines[0] = lines[0][1:]
		}
		err = cs.say(strings.Join(lines, "\n"))
	}
	if errors.Is(err, errNotConnected) {
		cs.complain("not sent: the connection is down, reconnecting ... (the lines are in your input history: press Up)")
		return nil
	}
	return err
}

// promptLine handles what Prompt returned: Ctrl-C (the key filter lets it through only on an
// empty line) and Ctrl-D leave, after a newline so the shell's prompt starts on its own line.
func (cs *clientSession) promptLine(p *prompt, r promptResult) error {
	if errors.Is(r.err, liner.ErrPromptAborted) || errors.Is(r.err, io.EOF) {
		if errors.Is(r.err, io.EOF) {
			p.endLine() // liner printed "^C" and a newline for Ctrl-C, nothing for Ctrl-D
		}
		cs.quit("labchat client quit")
		return errQuit
	}
	if r.err != nil {
		return fmt.Errorf("read input: %w", r.err)
	}
	p.remember(r.line)
	err := cs.runLine(r.line)
	if errors.Is(err, errNotConnected) {
		cs.complain("not sent: the connection is down, reconnecting ... (the line is in your input history: press Up)")
		return nil
	}
	return err
}

func (cs *clientSession) promptText() string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.offline {
		return "[" + cs.nick + " reconnecting ...] > "
	}
	unread := ""
	if n := cs.unreadElsewhereLocked(); n > 0 {
		unread = fmt.Sprintf(", %d unread", n)
	}
	if cs.target == "" {
		return "[" + cs.nick + unread + "] > "
	}
	return "[" + cs.nick + " -> " + cs.target + cs.typingLineLocked() + unread + "] > "
}

func (cs *clientSession) currentTarget() string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.target
}

// runLine runs a slash command, or sends the line to the current target ("//" sends a "/").
func (cs *clientSession) runLine(line string) error {
	switch {
	case strings.TrimSpace(line) == "":
		return nil
	case strings.HasPrefix(line, "//"):
		return cs.say(line[1:])
	case strings.HasPrefix(line, "/"):
		name, args, _ := strings.Cut(line[1:], " ")
		cmd, ok := findSlashCommand(name)
		if !ok {
			cs.complain("unknown command /" + name + " (type /help)")
			return nil
		}
		return cmd.run(cs, strings.TrimSpace(args))
	}
	return cs.say(line)
}

func (cs *clientSession) say(text string) error {
	target := cs.currentTarget()
	if target == "" {
		cs.complain("no target: /join #room or /query NICK first")
		return nil
	}
	if strings.Contains(text, "\n") {
		return cs.sendMultiline(target, text)
	}
	return cs.sendText(target, text)
}

func (cs *clientSession) complain(text string) {
	cs.sink.event(chatEvent{Time: time.Now(), Kind: kindError, Text: text})
}

func (cs *clientSession) note(text string) {
	cs.sink.event(chatEvent{Time: time.Now(), Kind: kindInfo, Text: text})
}

// completionKind says what the first argument of a command completes to.
type completionKind int

const (
	completeNothing completionKind = iota
	completeNick
	completeRoom
	completeTarget // a nick or a room
)

// slashCommand is one entry of the command table; later features add rows.
type slashCommand struct {
	name     string
	args     string // for /help: "NICK TEXT"
	help     string
	complete completionKind
	run      func(cs *clientSession, args string) error
}

// slashCommands is filled in init, because /help reads the table itself.
var slashCommands []slashCommand

func init() {
	slashCommands = []slashCommand{
		{"msg", "NICK|#ROOM TEXT", "send one message without changing the target", completeTarget, cmdMsg},
		{"query", "NICK|#ROOM", "send plain lines to NICK (or a room) from now on", completeTarget, cmdQuery},
		{"join", "#ROOM [KEY]", "join a room (created if new) and make it the target; KEY for a room with a key", completeRoom, cmdJoin},
		{"part", "[#ROOM] [REASON]", "leave a room (default: the current one)", completeRoom, cmdPart},
		{"rooms", "", "list the server's rooms", completeNothing, func(cs *clientSession, _ string) error { return cs.sendCmd("LIST") }},
		{"names", "[#ROOM]", "who is in a room (default: the current one)", completeRoom, cmdNames},
		{"whois", "NICK", "who is NICK", completeNick, cmdWhois},
		{"who", "", "table of users: online, away, offline (with your contacts and recent partners)", completeNothing, cmdWho},
		{"status", "", "same as /who", completeNothing, cmdWho},
		{"away", "[MESSAGE]", "mark yourself away, with a message others see", completeNothing, cmdAway},
		{"back", "", "you are no longer away", completeNothing, cmdBack},
		{"contacts", "[add|del NAME]", "list, add or remove contacts (their status shows in /who)", completeNick, cmdContacts},
		{"call", "NICK", "ring NICK: their terminal bell rings until they answer", completeNick, cmdCall},
		{"answer", "[NICK]", "answer the ringing call", completeNick, cmdAnswer},
		{"decline", "[NICK]", "decline the ringing call", completeNick, cmdDecline},
		{"hangup", "", "end the call in progress (on both sides)", completeNothing, cmdHangup},
		{"history", "[NICK|#ROOM] [N]", "the server's last N messages (default 20) of a conversation", completeTarget, cmdHistory},
		{"upload", "FILE", "upload a file to the server and send its link to the target (progress on stderr)", completeNothing, cmdUpload},
		{"rmfile", "LINK", "delete an uploaded file from the server (yours, or any as an operator)", completeNothing, cmdRmfile},
		{"search", "WORDS [in #ROOM|NICK]", "search the messages you may read on the server", completeNothing, cmdSearch},
		{"context", "N", "show result N of the last /search in its conversation", completeNothing, cmdContext},
		{"me", "TEXT", "send an action (* you TEXT) to the target", completeNothing, cmdMe},
		{"reply", "NICK TEXT", "reply to NICK's last message here (shown quoted to others)", completeNick, cmdReply},
		{"react", "NICK EMOJI", "react to NICK's last message here, e.g. /react bob 👍", completeNick, cmdReact},
		{"delete", "[NICK]", "delete your last message here (room operators: NICK's)", completeNick, cmdDelete},
		{"topic", "[#ROOM] [TEXT|-]", "show the topic, set it to TEXT, or clear it (-)", completeRoom, cmdTopic},
		{"kick", "[#ROOM] NICK [REASON]", "remove NICK from a room, with a reason they see", completeNick, cmdKick},
		{"invite", "NICK [#ROOM]", "invite NICK to a room (default: the current one)", completeNick, cmdInvite},
		{"mode", "[#ROOM|NICK] [+-MODES ARGS]", "show or change modes, e.g. /mode +m, /mode #lab +v carol", completeTarget, cmdMode},
		{"ban", "[#ROOM] [NICK|MASK|$a:ACCOUNT]", "ban from a room (alone: list the bans)", completeNick, cmdBan},
		{"unban", "[#ROOM] NICK|MASK|$a:ACCOUNT", "lift a ban", completeNick, cmdUnban},
		{"key", "[#ROOM] KEY|off", "set or remove a room's key (joining then needs /join #ROOM KEY)", completeRoom, cmdKey},
		{"limit", "[#ROOM] N|off", "set or remove a room's member limit", completeRoom, cmdLimit},
		{"passwd", "", "change your password (asked without echo)", completeNothing, cmdPasswd},
		{"oper", "[NAME]", "become a server operator (the password is asked without echo)", completeNothing, cmdOper},
		{"kill", "NICK [REASON]", "operators: disconnect a user, with a reason they see", completeNick, cmdKill},
		{"announce", "TEXT", "operators: a notice to everyone connected", completeNothing, cmdAnnounce},
		{"raw", "LINE", "send LINE to the server as typed and show the replies raw", completeNothing, cmdRaw},
		{"help", "", "list the commands", completeNothing, cmdHelp},
		{"quit", "[REASON]", "leave the server and exit", completeNothing, cmdQuit},
	}
}

func findSlashCommand(name string) (slashCommand, bool) {
	for _, c := range slashCommands {
		if strings.EqualFold(c.name, name) {
			return c, true
		}
	}
	return slashCommand{}, false
}

func (cs *clientSession) sendCmd(command string, params ...string) error {
	if err := cs.conn().send(command, params...); err != nil {
		return withExit(exitProtocol, err)
	}
	return nil
}

// oneWord checks a command argument that becomes an IRC middle parameter.
func (cs *clientSession) oneWord(cmd, arg string) bool {
	if arg == "" || strings.ContainsAny(arg, " ,") || arg[0] == ':' {
		c, _ := findSlashCommand(cmd)
		cs.complain("usage: /" + c.name + " " + c.args)
		return false
	}
	return true
}

func cmdMsg(cs *clientSession, args string) error {
	target, text, _ := strings.Cut(args, " ")
	if !cs.oneWord("msg", target) || strings.TrimSpace(text) == "" {
		if target != "" {
			cs.complain("usage: /msg NICK|#ROOM TEXT")
		}
		return nil
	}
	return cs.sendText(target, text)
}

func cmdQuery(cs *clientSession, args string) error {
	if args == "" {
		cs.note("target: " + cs.currentTarget())
		return nil
	}
	if !cs.oneWord("query", args) {
		return nil
	}
	cs.mu.Lock()
	cs.target = args
	cs.mu.Unlock()
	if cs.isRoom(args) && !cs.joined(args) {
		cs.note("you are not in " + args + ": /join it to talk there")
	}
	return nil
}

// cmdJoin: /join #ROOM [KEY]. The room becomes the target when the server lets us in
// (onJoin); a refused JOIN leaves the target as it was.
func cmdJoin(cs *clientSession, args string) error {
	room, key, _ := strings.Cut(args, " ")
	key = strings.TrimSpace(key)
	if room != "" && !cs.isRoom(room) {
		room = "#" + room
	}
	if !cs.oneWord("join", room) || strings.Contains(key, " ") || strings.HasPrefix(key, ":") {
		return nil
	}
	cs.mu.Lock()
	cs.askedRoom = clientFold(room)
	cs.mu.Unlock()
	params := []string{room}
	if key != "" {
		params = append(params, key)
	}
	if err := cs.sendCmd("JOIN", params...); err != nil {
		return err
	}
	err := cs.roundTrip("join") // so the next prompt shows the new target
	cs.mu.Lock()
	if cs.askedRoom == clientFold(room) {
		cs.askedRoom = "" // refused: a later JOIN of it (an invitation, a rejoin) is not this one
	}
	cs.mu.Unlock()
	return err
}

// cmdKick: /kick [#ROOM] NICK [REASON].
func cmdKick(cs *clientSession, args string) error {
	room, rest, ok := cs.roomAndRest("kick", args)
	if !ok {
		return nil
	}
	nick, why, _ := strings.Cut(rest, " ")
	if !cs.oneWord("kick", nick) {
		return nil
	}
	params := []string{room, nick}
	if why = strings.TrimSpace(why); why != "" {
		params = append(params, why)
	}
	return cs.confirmed(room, "KICK", params, "")
}

// cmdTopic: /topic [#ROOM] shows the topic; /topic [#ROOM] TEXT sets it; /topic [#ROOM] -
// clears it.
func cmdTopic(cs *clientSession, args string) error {
	room, text, ok := cs.roomAndRest("topic", args)
	if !ok {
		return nil
	}
	switch text {
	case "":
		return cs.sendCmd("TOPIC", room)
	case "-":
		return cs.confirmed(room, "TOPIC", []string{room, ""}, "you cleared the topic of "+room)
	}
	return cs.confirmed(room, "TOPIC", []string{room, text}, "you set the topic of "+room+": "+text)
}

func cmdPart(cs *clientSession, args string) error {
	room, reasonText, _ := strings.Cut(args, " ")
	if !cs.isRoom(room) {
		room, reasonText = cs.currentTarget(), args
	}
	if !cs.isRoom(room) {
		cs.complain("usage: /part [#ROOM] [REASON] (the target is not a room)")
		return nil
	}
	params := []string{room}
	if reasonText != "" {
		params = append(params, reasonText)
	}
	if err := cs.sendCmd("PART", params...); err != nil {
		return err
	}
	return cs.roundTrip("part")
}

func cmdNames(cs *clientSession, args string) error {
	room := args
	if room == "" {
		room = cs.currentTarget()
	}
	if !cs.isRoom(room) || !cs.oneWord("names", room) {
		cs.complain("usage: /names #ROOM")
		return nil
	}
	return cs.sendCmd("NAMES", room)
}

func cmdWhois(cs *clientSession, args string) error {
	if !cs.oneWord("whois", args) {
		return nil
	}
	return cs.sendCmd("WHOIS", args)
}

func cmdMe(cs *clientSession, args string) error {
	target := cs.currentTarget()
	if target == "" || args == "" {
		cs.complain("usage: /me TEXT (with a target: /join or /query first)")
		return nil
	}
	if err := cs.sendCmd("PRIVMSG", target, "\x01ACTION "+args+"\x01"); err != nil {
		return err
	}
	if !cs.caps["echo-message"] {
		cs.mu.Lock()
		nick := cs.nick
		cs.mu.Unlock()
		cs.sink.event(chatEvent{Time: time.Now(), Kind: kindAction, From: nick, To: target, Text: args, self: true, direct: !cs.isRoom(target)})
		cs.record("PRIVMSG", nick, target, "\x01ACTION "+args+"\x01", "", time.Now())
	}
	return nil
}

// cmdRaw sends the line, then a PING; every reply before its PONG is shown raw, since the
// server answers a client's lines in order.
func cmdRaw(cs *clientSession, args string) error {
	if args == "" {
		cs.complain("usage: /raw LINE, e.g. /raw WHOIS alice")
		return nil
	}
	cs.mu.Lock()
	cs.rawWatch++
	cs.pingSeq++
	token := fmt.Sprintf("raw-%d", cs.pingSeq)
	cs.mu.Unlock()
	cs.sink.event(chatEvent{Time: time.Now(), Kind: kindRaw, Text: ">> " + args})
	if err := cs.conn().sendRaw(args); err != nil {
		cs.mu.Lock()
		cs.rawWatch--
		cs.mu.Unlock()
		cs.complain(err.Error())
		return nil
	}
	return cs.sendCmd("PING", token)
}

func cmdHelp(cs *clientSession, _ string) error {
	cs.note("Plain lines go to the target shown in the prompt. Commands:")
	for _, c := range slashCommands {
		cs.note(fmt.Sprintf("  /%-24s %s", strings.TrimSpace(c.name+" "+c.args), c.help))
	}
	cs.note("  Tab completes commands, nicks and rooms; a line starting with // sends a /.")
	return nil
}

func cmdQuit(cs *clientSession, args string) error {
	if args == "" {
		args = "labchat client quit"
	}
	cs.quit(args)
	return errQuit
}

// complete is liner's word completer: command names after "/", then per the command's
// completion kind, and nicks (or rooms, after a '#') in plain text.
func (cs *clientSession) complete(line string, pos int) (head string, completions []string, tail string) {
	head, tail = line[:pos], line[pos:]
	start := strings.LastIndexByte(head, ' ') + 1
	word := head[start:]
	head = head[:start]
	if start == 0 && strings.HasPrefix(word, "/") {
		for _, c := range slashCommands {
			if strings.HasPrefix(c.name, strings.ToLower(word[1:])) {
				completions = append(completions, "/"+c.name+" ")
			}
		}
		return head, completions, tail
	}
	kind := completeTarget
	if strings.HasPrefix(head, "/") {
		fields := strings.Fields(head)
		c, _ := findSlashCommand(strings.TrimPrefix(fields[0], "/"))
		kind = c.complete
		if len(fields) != 1 {
			kind = completeTarget
		}
	}
	return head, cs.candidates(kind, word), tail
}

func (cs *clientSession) candidates(kind completionKind, word string) []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var names []string
	if kind == completeNick || kind == completeTarget {
		for _, n := range cs.nicks {
			names = append(names, n)
		}
	}
	if kind == completeRoom || kind == completeTarget {
		for _, r := range cs.rooms {
			names = append(names, r)
		}
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(clientFold(n), clientFold(word)) {
			out = append(out, n+" ")
		}
	}
	slices.Sort(out)
	return out
}
