// Command labchat is the chat system and TCP/UDP toolkit of a socket-programming lab: an IRC
// chat server (serve), its client (connect), and the tools the lab's other parts add.
//
// main.go holds the command-line wiring, the configuration and the exit codes; the protocol
// lives in the files named for it.
package main

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"
)

// defaultConfigTOML is config.toml from the source tree: the documented defaults.
//
//go:embed config.toml
var defaultConfigTOML []byte

// Exit codes. Scripts rely on them, so they never change meaning; the README lists them (one table).
const (
	exitOK           = 0
	exitFailure      = 1 // anything not listed below (I/O error, server failure)
	exitUsage        = 2 // bad flags, arguments or configuration
	exitConnect      = 3 // cannot resolve or connect to the server
	exitLoginRefused = 4 // the server refused the login or registration
	exitProtocol     = 5 // the connection broke or the server answered nonsense
	exitNoAnswer     = 6 // UDP: a reply was expected and none came
	exitRefused      = 7 // UDP: the port was refused (ICMP port unreachable)
	exitThreshold    = 8 // UDP: loss above --max-loss
	exitLocalAddr    = 9 // open: the local address (--addr) is taken by another program
)

// exitError carries an exit code to main, which alone calls os.Exit.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withExit marks err with the exit code main should use; nil stays nil.
func withExit(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

func usageErrorf(format string, args ...any) error {
	return withExit(exitUsage, fmt.Errorf(format, args...))
}

// exitCode reports err on stderr and returns the process exit code for it.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "labchat: %v\n", err)
	if ee, ok := errors.AsType[*exitError](err); ok {
		return ee.code
	}
	return exitFailure
}

func main() {
	if len(os.Args) == 1 && startedFromExplorer() {
		// Double-clicked on Windows: the user wants the chat, not the help in a console
		// window that closes at once.
		code := run([]string{os.Args[0], "open"}, os.Stdin, os.Stdout, os.Stderr)
		if code != exitOK {
			waitForEnter(os.Stdin, os.Stdout)
		}
		os.Exit(code)
	}
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: tests call it with their own streams.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	return exitCode(app.Run(args), stderr)
}

// defaultInHelp matches the "(default: X)" cli adds to a flag's help line.
var defaultInHelp = regexp.MustCompile(` \(default: ([^)]*)\)`)

// init makes --help show a default only where it says something: not "false", 0 or an empty
// value, and not where the usage text already names the default (no doubled defaults).
func init() {
	stringer := cli.FlagStringer
	cli.FlagStringer = func(f cli.Flag) string {
		s := stringer(f)
		m := defaultInHelp.FindStringSubmatchIndex(s)
		if m == nil {
			return s
		}
		value, before := s[m[2]:m[3]], s[:m[0]]
		if value == "false" || value == "0" || value == "0s" || value == "" || strings.Contains(before, "default") {
			return before + s[m[1]:]
		}
		return s
	}
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "labchat",
		Usage: "chat server and client (IRC over TCP) and UDP toolkit for a socket-programming lab",
		Description: "Run `labchat serve` on one PC and `labchat connect HOST` on the others.\n" +
			"Every command reads the built-in config.toml, then --config FILE, then environment\n" +
			"variables, then flags (each overrides the one before).",
		Reader:          stdin,
		Writer:          stdout,
		ErrWriter:       stderr,
		Flags:           commonFlags(true),
		Commands:        commands(),
		HideHelpCommand: true,
		Version:         strings.TrimPrefix(serverVersion(), "labchat-"), // --version, -v
		// main reports errors and picks the exit code; cli must not exit by itself.
		ExitErrHandler: func(*cli.Context, error) {},
		// Reached only when the first argument names no command. Bare `labchat` shows the
		// help and exits 0, as urfave/cli programs do: asking for nothing is not an error.
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErrorf("unknown command %q (commands: serve, connect, open, history, udp-listen, udp-send, accounts, check; see labchat --help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return withExit(exitUsage, err)
		},
	}
	for _, cmd := range app.Commands {
		cmd.Flags = append(cmd.Flags, commonFlags(false)...)
		if cmd.OnUsageError == nil {
			cmd.OnUsageError = app.OnUsageError
		}
	}
	return app
}

// commonFlags are accepted before and after the subcommand (`labchat --data-dir d serve` and
// `labchat serve --data-dir d`), since users type them both ways. Only the app-level copy
// reads the environment: then a value set at the subcommand level was typed on the command
// line, and a typed flag beats the environment wherever it stands. Each call makes new flag
// values: cli keeps set-state inside them.
func commonFlags(withEnv bool) []cli.Flag {
	env := func(name string) []string {
		if withEnv {
			return []string{name}
		}
		return nil
	}
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "read configuration from `FILE` over the built-in defaults", EnvVars: env("LABCHAT_CONFIG")},
		&cli.StringFlag{Name: "data-dir", Usage: "keep labchat's files in `DIR` (overrides data_dir)", EnvVars: env("LABCHAT_DATA")},
		&cli.BoolFlag{Name: "trace", Usage: "print socket events (connect, read, write, close, sendto) on stderr for the packet lab", EnvVars: env("LABCHAT_TRACE")},
	}
}

// lookupFlag returns the value of a flag given on the command line (at the subcommand or
// app level) or by its environment variable. An empty value counts as not given, so
// LABCHAT_DATA= behaves as unset.
func lookupFlag(c *cli.Context, name string) (string, bool) {
	for _, ctx := range c.Lineage() {
		if slices.Contains(ctx.LocalFlagNames(), name) {
			if v := ctx.String(name); v != "" {
				return v, true
			}
		}
	}
	return "", false
}

// lookupBoolFlag is lookupFlag for a bool flag: the value nearest the subcommand wins, so
// `--trace=false` after the subcommand beats LABCHAT_TRACE=1.
func lookupBoolFlag(c *cli.Context, name string) bool {
	for _, ctx := range c.Lineage() {
		if slices.Contains(ctx.LocalFlagNames(), name) {
			return ctx.Bool(name)
		}
	}
	return false
}

// Config is the whole configuration file. The field tags are the TOML keys.
type Config struct {
	DataDir string       `toml:"data_dir"`
	Server  ServerConfig `toml:"server"`
	Client  ClientConfig `toml:"client"`
	UDP     UDPConfig    `toml:"udp"`
}

// ServerConfig is the [server] table; config.toml documents every key.
type ServerConfig struct {
	Listen                    string           `toml:"listen"`
	Name                      string           `toml:"name"`
	Network                   string           `toml:"network"`
	MOTD                      string           `toml:"motd"`
	RequireLogin              bool             `toml:"require_login"`
	Registration              bool             `toml:"registration"`
	RegistrationBeforeConnect bool             `toml:"registration_before_connect"`
	RegistrationRequiresEmail bool             `toml:"registration_requires_email"`
	Password                  string           `toml:"password"`
	BcryptCost                int              `toml:"bcrypt_cost"`
	MinPasswordLen            int              `toml:"min_password_len"`
	LoginFailuresPerMinute    int              `toml:"login_failures_per_minute"`
	LoginFailuresPerIP        int              `toml:"login_failures_per_ip_per_minute"`
	RegisterPerIPBurst        int              `toml:"register_per_ip_burst"`
	RegisterPerIPPerMinute    int              `toml:"register_per_ip_per_minute"`
	RegistrationTimeout       Duration         `toml:"registration_timeout"`
	PingInterval              Duration         `toml:"ping_interval"`
	PingTimeout               Duration         `toml:"ping_timeout"`
	MaxClients                int              `toml:"max_clients"`
	MaxClientsPerIP           int              `toml:"max_clients_per_ip"`
	MaxUnregistered           int              `toml:"max_unregistered"`
	MaxUnregisteredPerIP      int              `toml:"max_unregistered_per_ip"`
	MaxConnectionsPerAccount  int              `toml:"max_connections_per_account"`
	SendQBytes                int              `toml:"sendq_bytes"`
	WriteTimeout              Duration         `toml:"write_timeout"`
	FloodBurst                int              `toml:"flood_burst"`
	FloodRate                 float64          `toml:"flood_rate"`
	FloodQueue                int              `toml:"flood_queue"`
	ChannelLen                int              `toml:"channel_len"`
	NickLen                   int              `toml:"nick_len"`
	History                   bool             `toml:"history"`
	ChathistoryMax            int              `toml:"chathistory_max"`
	OfflineQueueMax           int              `toml:"offline_queue_max"`
	DefaultRoom               string           `toml:"default_room"`
	DefaultRoomQuiet          bool             `toml:"default_room_quiet"`
	MonitorLimit              int              `toml:"monitor_limit"`
	MaxRoomsPerConnection     int              `toml:"max_rooms_per_connection"`
	RememberRooms             bool             `toml:"remember_rooms"`
	Description               string           `toml:"description"`
	ServicesName              string           `toml:"services_name"`
	AdminContact              string           `toml:"admin_contact"`
	Operators                 []OperatorConfig `toml:"operators"`
	WebListen                 string           `toml:"web_listen"`
	WebOrigins                []string         `toml:"web_origins"`
	WebTrustedProxies         []string         `toml:"web_trusted_proxies"`
	WebHosts                  []string         `toml:"web_hosts"`
	WebHeaderTimeout          Duration         `toml:"web_header_timeout"`
	WebURL                    string           `toml:"web_url"`
	Uploads                   bool             `toml:"uploads"`
	UploadMaxBytes            int64            `toml:"upload_max_bytes"`
	UploadQuotaBytes          int64            `toml:"upload_quota_bytes"`
	Search                    bool             `toml:"search"`
	WebTLSListen              string           `toml:"web_tls_listen"`
	WebTLSRedirect            bool             `toml:"web_tls_redirect"`
	TLSListen                 string           `toml:"tls_listen"`
	TLSCert                   string           `toml:"tls_cert"`
	TLSKey                    string           `toml:"tls_key"`
	TURNListen                string           `toml:"turn_listen"`
	TURNRelayIP               string           `toml:"turn_relay_ip"`
	TURNCredentialTTL         Duration         `toml:"turn_credential_ttl"`
	TURNUserKbps              int              `toml:"turn_user_kbps"`
}

// OperatorConfig is one [[server.operators]] block: an account that is an operator as soon
// as it logs in, or a name and bcrypt hash for OPER <name> <password>.
type OperatorConfig struct {
	Account      string `toml:"account"`
	Name         string `toml:"name"`
	PasswordHash string `toml:"password_hash"`
}

// ClientConfig is the [client] table.
type ClientConfig struct {
	Server       string   `toml:"server"`
	Bell         string   `toml:"bell"`
	HistoryLines int      `toml:"history_lines"`
	CallTimeout  Duration `toml:"call_timeout"`
	Notify       string   `toml:"notify"`
}

// Duration is a time.Duration written in TOML as a string such as "90s" or "1m30s".
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("duration %q: want a number with a unit, like 30s or 2m", text)
	}
	if v < 0 {
		return fmt.Errorf("duration %q: must not be negative", text)
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// decodeConfig decodes TOML over cfg, so keys absent from data keep their current values.
// An unknown key is an error naming it: a typo must not silently fall back to a default.
func decodeConfig(cfg *Config, data []byte, name string) error {
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(cfg)
	if err != nil {
		if pe, ok := errors.AsType[toml.ParseError](err); ok {
			return fmt.Errorf("config %s: line %d: %s", name, pe.Position.Line, pe.Message)
		}
		return fmt.Errorf("config %s: %w", name, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		k := undecoded[0]
		return fmt.Errorf("config %s: line %d: unknown key %s (see config.toml for the valid keys)", name, keyLine(data, k), k)
	}
	return nil
}

// keyLine finds the line of a key, since toml reports no position for keys it did not
// decode. It understands [table] headers and dotted keys well enough for config files; 0
// means not found.
func keyLine(data []byte, key toml.Key) int {
	table := ""
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			table = strings.Trim(line, "[] ")
			if table == key.String() {
				return i + 1
			}
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		full := strings.Trim(strings.TrimSpace(k), `"`)
		if table != "" {
			full = table + "." + full
		}
		if full == key.String() || strings.HasPrefix(key.String(), full+".") {
			return i + 1
		}
	}
	return 0
}

// loadConfig returns the built-in defaults overlaid with the --config file, if any, and with
// --data-dir. Subcommands apply their own flags on top.
func loadConfig(c *cli.Context) (*Config, error) {
	var cfg Config
	if err := decodeConfig(&cfg, defaultConfigTOML, "(built-in)"); err != nil {
		return nil, err // a broken embedded file is a build bug; say so loudly
	}
	if path, ok := lookupFlag(c, "config"); ok && path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, usageErrorf("read config: %w", err)
		}
		if err := decodeConfig(&cfg, data, path); err != nil {
			return nil, withExit(exitUsage, err)
		}
	}
	if dir, ok := lookupFlag(c, "data-dir"); ok {
		cfg.DataDir = dir
	}
	if cfg.DataDir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return nil, usageErrorf("no data directory: set data_dir, --data-dir or LABCHAT_DATA (%w)", err)
		}
		cfg.DataDir = filepath.Join(base, "labchat")
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, usageErrorf("data directory %s: %w", cfg.DataDir, err)
	}
	cfg.DataDir = abs
	return &cfg, nil
}

// serverDataDir and clientDataDir keep the two roles' files apart, so one PC can run both.
func (cfg *Config) serverDataDir() string { return filepath.Join(cfg.DataDir, "server") }
func (cfg *Config) clientDataDir() string { return filepath.Join(cfg.DataDir, "client") }

// commands lists the subcommands; each lives in the file of its concern.
func commands() []*cli.Command {
	return []*cli.Command{serveCommand(), connectCommand(), udpListenCommand(), udpSendCommand(), historyCommand(), accountsCommand(), checkCommand(), openCommand()}
}
