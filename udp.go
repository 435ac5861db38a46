package main

// udp.go: `labchat udp-listen` and `labchat udp-send`, two-way UDP for people and scripts.
// Socket reads and writes each go through one method per command (udpListener.read/writeTo,
// udpSender.read/write), the place a tracer will hook in.

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// UDPConfig is the [udp] table; config.toml documents every key.
type UDPConfig struct {
	Listen        string `toml:"listen"`
	ReceiveBuffer int    `toml:"receive_buffer"`
}

// Largest UDP payloads: 65535 minus the IP and UDP headers.
const (
	udpMaxPayload4 = 65507
	udpMaxPayload6 = 65527
)

// errNoPeer is why udp-listen cannot send a typed line yet.
var errNoPeer = errors.New("no peer heard from yet")

// udpOutputFlags are the ways both commands print datagrams.
func udpOutputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "from", Usage: "prefix each datagram with its sender's address"},
		&cli.BoolFlag{Name: "hex", Usage: "print payloads as hexadecimal"},
		&cli.BoolFlag{Name: "json", Usage: "print one JSON object per line (datagrams and reports)"},
		&cli.BoolFlag{Name: "newline", Usage: "end every datagram sent from a typed or piped line with \\n, as nc does"},
	}
}

// udpPrinter writes received datagrams and reports, one line each, from any goroutine.
type udpPrinter struct {
	mu       sync.Mutex // guards w: lines from the receive loop and the prompt must not interleave
	w        io.Writer
	from     bool
	hex      bool
	json     bool
	progress io.Writer // notices for people (stderr)
}

func newUDPPrinter(c *cli.Context) *udpPrinter {
	return &udpPrinter{w: c.App.Writer, progress: c.App.ErrWriter,
		from: c.Bool("from"), hex: c.Bool("hex"), json: c.Bool("json")}
}

func (p *udpPrinter) setWriter(w io.Writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w = w
}

func (p *udpPrinter) line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	io.WriteString(p.w, s+"\n")
}

// datagramJSON is the --json form of one received datagram.
type datagramJSON struct {
	Time string `json:"time"`
	From string `json:"from"`
	Size int    `json:"size"`
	Text string `json:"text,omitempty"` // the payload when it is UTF-8 text
	Hex  string `json:"hex,omitempty"`  // the payload otherwise, or with --hex
}

// datagram prints one received datagram: as text (one trailing newline dropped, as nc sends
// lines; control characters and bytes that are not UTF-8 escaped, so a datagram can neither
// start a line of its own, which could pass for a report, nor drive the terminal), as hex,
// or as JSON.
func (p *udpPrinter) datagram(b []byte, from netip.AddrPort, at time.Time) {
	if p.json {
		d := datagramJSON{Time: at.Format(time.RFC3339Nano), From: from.String(), Size: len(b)}
		if p.hex || !utf8.Valid(b) {
			d.Hex = hex.EncodeToString(b)
		} else {
			d.Text = string(b)
		}
		out, _ := json.Marshal(d) // cannot fail: strings and numbers only
		p.line(string(out))
		return
	}
	text := udpDisplayText(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"))
	if p.hex {
		text = hex.EncodeToString(b)
	}
	if p.from {
		text = from.String() + ": " + text
	}
	p.line(text)
}

// udpDisplayText escapes what a terminal would act on: C0 and C1 controls and DEL as \n, \r,
// \t or \xHH (\u0085 for C1), and bytes that are not UTF-8 as \xHH. Everything else prints
// as sent, backslashes too: "C:\temp" stays readable.
func udpDisplayText(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// report prints a JSON-able value as JSON or via its String method.
func (p *udpPrinter) report(v fmt.Stringer) {
	if p.json {
		out, err := json.Marshal(v)
		if err != nil {
			p.notice("encode report: %v", err)
			return
		}
		p.line(string(out))
		return
	}
	p.line(v.String())
}

// notice tells the person running the command something on stderr.
func (p *udpPrinter) notice(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.progress, "labchat: "+format+"\n", args...)
}

// udpMaxPayload is the largest datagram payload towards addr.
func udpMaxPayload(addr netip.Addr) int {
	if addr.Unmap().Is4() {
		return udpMaxPayload4
	}
	return udpMaxPayload6
}

// udpListenAddr accepts host:port, :port or a bare port.
func udpListenAddr(s string) (string, error) {
	if _, err := strconv.ParseUint(s, 10, 16); err == nil {
		return ":" + s, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", usageErrorf("listen address %q: want HOST:PORT, :PORT or PORT", s)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", usageErrorf("listen address %q: port %q is not a number from 0 to 65535", s, port)
	}
	return net.JoinHostPort(host, port), nil
}

// resolveUDPTarget turns HOST:PORT (or HOST alone, for defaultPort) into one address.
// A malformed address is a usage error; a name that does not resolve is exitConnect.
func resolveUDPTarget(ctx context.Context, s, defaultPort string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if inner, ok := strings.CutPrefix(s, "["); ok && strings.HasSuffix(inner, "]") {
			s = strings.TrimSuffix(inner, "]") // [::1] is how people write an IPv6 address without a port
		}
		if _, perr := netip.ParseAddr(s); (perr != nil && strings.Contains(s, ":")) || s == "" {
			return netip.AddrPort{}, usageErrorf("address %q: want HOST:PORT, like 127.0.0.1:9999 or [::1]:9999", s)
		}
		host, port = s, defaultPort
	}
	p, err := net.LookupPort("udp", port)
	if err != nil || p == 0 {
		return netip.AddrPort{}, usageErrorf("address %q: port %q is not a port number from 1 to 65535", s, port)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), uint16(p)), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, withExit(exitConnect, fmt.Errorf("resolve %s: %w", host, err))
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(p)), nil
}

// udpStdinTerminal reports whether the command's stdin is a terminal (interactive mode)
// rather than a pipe, a file or nothing.
func udpStdinTerminal(c *cli.Context) bool {
	f, ok := c.App.Reader.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// udpSignalContext is cancelled by Ctrl-C or SIGTERM, so both commands print their final
// figures and exit 0 when stopped on purpose.
func udpSignalContext(c *cli.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
}

// udpLines reads newline-terminated lines from r into a channel, which is closed at EOF or on
// an error (sent to errc first). Lines longer than max bytes are an error, not split.
func udpLines(ctx context.Context, r io.Reader, max int) (<-chan string, <-chan error) {
	lines, errc := make(chan string), make(chan error, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), max+2)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSuffix(sc.Text(), "\r")
			if len(line) > max {
				errc <- usageErrorf("stdin line %d: %d bytes is larger than the largest UDP datagram (%d)", n, len(line), max)
				return
			}
			select {
			case lines <- line:
			case <-ctx.Done():
				return
			}
		}
		if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
			errc <- usageErrorf("stdin: a line is larger than the largest UDP datagram (%d)", max)
		} else if err != nil {
			errc <- fmt.Errorf("read stdin: %w", err)
		}
	}()
	return lines, errc
}

// udpLinePayload is the datagram sent for one typed or piped line.
func udpLinePayload(c *cli.Context, line string) []byte {
	if c.Bool("newline") {
		return []byte(line + "\n")
	}
	return []byte(line)
}

// isUDPRefused reports whether err is the kernel passing on an ICMP port unreachable.
func isUDPRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || udpRefusedErrno(err)
}

// isUDPTooLarge reports whether the kernel refused a datagram for its size.
func isUDPTooLarge(err error) bool {
	return errors.Is(err, syscall.EMSGSIZE) || udpTooLargeErrno(err)
}

// udpWriteError makes a socket write error say what the user can do about it.
func udpWriteError(err error, size int, to netip.AddrPort) error {
	switch {
	case isUDPTooLarge(err):
		return usageErrorf("send %d bytes to %s: datagram too large for this path: %w", size, to, err)
	case errors.Is(err, syscall.EACCES):
		return usageErrorf("send to %s: %w (a broadcast address needs --broadcast)", to, err)
	}
	return fmt.Errorf("send to %s: %w", to, err)
}

// udpTrailingFlags applies the flags written after HOST:PORT and returns the other arguments.
// cli v2 stops parsing flags at the first argument, and `udp-send HOST hi --wait 1s` must not
// send "--wait" as a message. After "--", everything is an argument.
func udpTrailingFlags(c *cli.Context) ([]string, error) {
	args := c.Args().Slice()
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(rest, args[i+1:]...), nil
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := udpFindFlag(c, name)
		if f == nil {
			return nil, usageErrorf("flag provided but not defined: %s (to send text starting with -, put -- before it)", a)
		}
		if _, isBool := f.(*cli.BoolFlag); isBool && !hasValue {
			value = "true"
		} else if !hasValue {
			if i+1 >= len(args) {
				return nil, usageErrorf("flag needs an argument: %s", a)
			}
			i++
			value = args[i]
		}
		if err := c.Set(name, value); err != nil {
			return nil, usageErrorf("invalid value %q for flag %s: %v", value, a, err)
		}
	}
	return rest, nil
}

func udpFindFlag(c *cli.Context, name string) cli.Flag {
	for _, f := range c.Command.Flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}
