package main

// check.go: `labchat check`, which tests a student's own server or client (the examples/
// programs and what students write from them) and says what is wrong in words a student can
// act on. Every step has a deadline, so a broken program makes a step fail, never hang.
// The TCP steps are in check_tcp.go, the UDP ones in check_udp.go.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// checkKinds are the checks: servers take HOST:PORT, clients --listen ADDR.
var checkKinds = []struct {
	name, usage string
	server      func(*checker, string)
	client      func(*checker, time.Duration)
}{
	{name: "udp-echo", usage: "a UDP echo server: datagrams back unchanged, large, empty, non-ASCII, two clients", server: checkUDPEcho},
	{name: "tcp-echo", usage: "a TCP echo server: short and 100 KB messages, several clients, closing, non-ASCII, an empty line, a reset", server: checkTCPEcho},
	{name: "chat-relay", usage: "a TCP chat relay: a line from one client reaches the others, not the sender; a leaver breaks nothing", server: checkChatRelay},
	{name: "tcp-client", usage: "your TCP client: its line ends with \\n, it reads a reply that comes in two pieces, it closes", client: checkTCPClient},
	{name: "udp-client", usage: "your UDP client: it sends a datagram and sends again when the reply is lost", client: checkUDPClient},
}

func checkCommand() *cli.Command {
	var kinds strings.Builder
	for _, k := range checkKinds {
		fmt.Fprintf(&kinds, "  %-11s %s\n", k.name, k.usage)
	}
	return &cli.Command{
		Name:      "check",
		Usage:     "test your own TCP/UDP server or client and explain what is wrong (exit code: failed steps)",
		ArgsUsage: "udp-echo|tcp-echo|chat-relay HOST:PORT  or  tcp-client|udp-client --listen ADDR",
		Description: "Servers: labchat check KIND HOST:PORT connects to your server; clients: labchat check KIND\n" +
			"--listen ADDR waits for your client. Each step prints PASS or FAIL, what was sent and\n" +
			"received, and a hint; --json prints one object per step for grading scripts. The exit code\n" +
			"is the number of failed steps (0: all passed). A usage error exits 2 with a message on\n" +
			"stderr and prints no report. Kinds:\n" + strings.TrimRight(kinds.String(), "\n"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Usage: "client checks: listen on `ADDR` (HOST:PORT; port 0 picks a free one and prints it)"},
			&cli.DurationFlag{Name: "wait", Value: time.Minute, Usage: "client checks: wait up to `D` for the client to start"},
			&cli.DurationFlag{Name: "timeout", Value: 3 * time.Second, Usage: "give each step `D` to answer before it fails"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per step and a summary (for grading scripts)"},
		},
		Action: runCheck,
	}
}

func runCheck(c *cli.Context) error {
	// Flags may follow the kind and the address (`check tcp-echo HOST:PORT --json`).
	args, err := parseTrailingFlags(c)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return usageErrorf("check: say what to check: udp-echo, tcp-echo, chat-relay HOST:PORT, or tcp-client, udp-client --listen ADDR")
	}
	name := args[0]
	for _, k := range checkKinds {
		if k.name != name {
			continue
		}
		if k.server != nil {
			if len(args) != 2 {
				return usageErrorf("check %s: give the server's address as HOST:PORT", name)
			}
			target := args[1]
			if _, _, err := net.SplitHostPort(target); err != nil {
				return usageErrorf("check %s: %q is not HOST:PORT: %v", name, target, err)
			}
			ck := newChecker(c, name, target)
			k.server(ck, target)
			return ck.finish()
		}
		if len(args) != 1 {
			return usageErrorf("check %s takes no address argument (unexpected %q); it goes in --listen", name, args[1])
		}
		if c.String("listen") == "" {
			return usageErrorf("check %s: give --listen ADDR, the address your client will connect to (port 0: any free port)", name)
		}
		if _, _, err := net.SplitHostPort(c.String("listen")); err != nil {
			return usageErrorf("check %s: --listen %q is not HOST:PORT: %v", name, c.String("listen"), err)
		}
		ck := newChecker(c, name, c.String("listen"))
		k.client(ck, c.Duration("wait"))
		return ck.finish()
	}
	return usageErrorf("check: unknown check %q (udp-echo, tcp-echo, chat-relay, tcp-client, udp-client)", name)
}

// checkStep is one line of the report (and one JSON object).
type checkStep struct {
	Check    string `json:"check"`
	Target   string `json:"target"`
	Step     string `json:"step"`
	Pass     bool   `json:"pass"`
	Sent     string `json:"sent,omitempty"`
	Received string `json:"received,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Hint     string `json:"hint,omitempty"`
	Millis   int64  `json:"ms"`
}

// checker runs the steps of one check and prints each as it ends.
type checker struct {
	kind, target string
	timeout      time.Duration
	jsonOut      bool
	out, errOut  io.Writer
	passed       int
	failed       int
	started      time.Time
}

func newChecker(c *cli.Context, kind, target string) *checker {
	timeout := c.Duration("timeout")
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	return &checker{kind: kind, target: target, timeout: timeout, jsonOut: c.Bool("json"),
		out: c.App.Writer, errOut: c.App.ErrWriter, started: time.Now()}
}

// step times one step and reports what it returns.
func (ck *checker) step(name string, run func(*checkStep)) bool {
	s := checkStep{Check: ck.kind, Target: ck.target, Step: name}
	start := time.Now()
	run(&s)
	s.Millis = time.Since(start).Milliseconds()
	ck.report(s)
	return s.Pass
}

func (ck *checker) report(s checkStep) {
	if s.Pass {
		ck.passed++
	} else {
		ck.failed++
	}
	if ck.jsonOut {
		b, _ := json.Marshal(s)
		fmt.Fprintf(ck.out, "%s\n", b)
		return
	}
	verdict := "PASS"
	if !s.Pass {
		verdict = "FAIL"
	}
	var parts []string
	if s.Sent != "" {
		parts = append(parts, "sent "+s.Sent)
	}
	if s.Received != "" {
		parts = append(parts, "received "+s.Received)
	}
	if s.Detail != "" {
		parts = append(parts, s.Detail)
	}
	fmt.Fprintf(ck.out, "%s %s: %s (%d ms)\n", verdict, s.Step, strings.Join(parts, "; "), s.Millis)
	if s.Hint != "" && !s.Pass {
		fmt.Fprintf(ck.out, "     hint: %s\n", s.Hint)
	}
}

// finish prints the summary; the exit code is the number of failed steps.
func (ck *checker) finish() error {
	total := ck.passed + ck.failed
	if ck.jsonOut {
		b, _ := json.Marshal(map[string]any{"check": ck.kind, "target": ck.target, "summary": true,
			"passed": ck.passed, "failed": ck.failed, "ms": time.Since(ck.started).Milliseconds()})
		fmt.Fprintf(ck.out, "%s\n", b)
	} else {
		fmt.Fprintf(ck.out, "%s %s: %d of %d steps passed\n", ck.kind, ck.target, ck.passed, total)
	}
	if ck.failed == 0 {
		return nil
	}
	return withExit(min(ck.failed, 100), fmt.Errorf("check %s: %d of %d steps failed", ck.kind, ck.failed, total))
}

// listening tells the student (on stderr, so stdout stays the report) where to point the client.
func (ck *checker) listening(addr net.Addr, wait time.Duration) {
	fmt.Fprintf(ck.errOut, "labchat check: listening on %s; start your client now (waiting up to %v)\n", addr, wait)
}

// show renders bytes for a report line: quoted when short, else a count and the start.
func show(b []byte) string {
	const max = 60
	if len(b) <= max {
		return strconv.Quote(string(b)) + " (" + plural(len(b), "byte") + ")"
	}
	return strconv.Quote(string(b[:40])) + "… (" + plural(len(b), "byte") + ")"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// firstDifference is the offset of the first byte where got and want differ.
func firstDifference(got, want []byte) int {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return i
		}
	}
	return min(len(got), len(want))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isRefused: an RST answered the SYN (TCP) or an ICMP port unreachable came back (UDP).
func isRefused(err error) bool { return isUDPRefused(err) }

// isReset: the peer aborted the connection. Winsock's codes are not mapped to the portable
// errnos, hence the text as well.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		err != nil && strings.Contains(err.Error(), "reset")
}

// connectHint explains a failed connect.
func connectHint(err error) string {
	switch {
	case isRefused(err):
		return "nothing listens there (the kernel answered the SYN with RST): is your server running, on this port, and did it call listen()?"
	case isTimeout(err):
		return "no answer to the SYN: a firewall drops it, or the address is not this PC's"
	}
	return "check the address and port your server printed"
}
