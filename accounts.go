package main

// Account administration: `labchat accounts list|add|passwd|delete|lock|unlock|oper|
// hash-password`, and how a running server picks those changes up.
//
// The CLI and the server share users/ safely:
//   - every write to users/ (CLI or server) happens under users/.lock, an flock the kernel
//     drops when a process dies;
//   - the CLI bumps users/.generation after each change. The server reads that small file
//     before every write of its own and before each login (so an account added a moment ago
//     logs in at once), and once a second otherwise; when it changed, the server reloads
//     users/ and closes the connections of accounts that were deleted, replaced (same name,
//     new id) or locked.
//
// Deleting an account detaches its data: its offline queue and its DM conversations move to
// <data>/deleted/<name>-<id>/, out of reach of CHATHISTORY and of a new account of the same
// name (which gets a new id and inherits nothing). The instructor can still read them there
// with `labchat history --dir`. When no server runs, the CLI moves them itself (it holds the
// data directory's lock, so no server can start meanwhile); when one runs, the server does,
// since it has those files open.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
)

// ErrAccountLocked is a login to an account `labchat accounts lock` locked.
var ErrAccountLocked = errors.New("account locked by the administrator")

const (
	accountsLockName = ".lock"
	accountsGenName  = ".generation"
	// accountsPoll is how often a running server looks for changes made by the CLI.
	accountsPoll = time.Second
)

// accountChanges is what a reload of users/ found: accounts gone (deleted, or replaced by
// a new account of the same name) and accounts now locked.
type accountChanges struct {
	removed []Account
	locked  []string
}

func newAccountID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func readGeneration(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, accountsGenName))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// bumpGeneration tells a running server that users/ changed; the dir lock must be held.
func bumpGeneration(dir string) error {
	path := filepath.Join(dir, accountsGenName)
	if err := writeFileAtomic(path, []byte(newAccountID()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// lockAccountsDir takes users/.lock, waiting for another writer to finish.
func lockAccountsDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, accountsLockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := lockFileWait(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { unlockFile(f); f.Close() }, nil
}

// withDirLock runs fn holding users/.lock, after reloading users/ if the CLI changed it, so
// that fn works on what is on disk. Changes found are reported after the lock is let go.
func (st *accountStore) withDirLock(fn func() error) error {
	unlock, err := lockAccountsDir(st.dir)
	if err != nil {
		return err
	}
	ch, rerr := st.reloadIfChanged()
	var ferr error
	if fn != nil {
		ferr = fn()
	}
	unlock()
	if st.changed != nil && (len(ch.removed) > 0 || len(ch.locked) > 0) {
		st.changed(ch)
	}
	return errors.Join(rerr, ferr)
}

// refresh reloads users/ if the CLI changed it since the last look.
func (st *accountStore) refresh() error { return st.withDirLock(nil) }

// update changes one account on disk and in memory; the dir lock is taken here.
func (st *accountStore) update(name string, fn func(*Account) error) error {
	return st.withDirLock(func() error {
		st.mu.Lock()
		defer st.mu.Unlock()
		a, ok := st.accounts[casefold(name)]
		if !ok {
			return ErrNoAccount
		}
		updated := *a
		if err := fn(&updated); err != nil {
			return err
		}
		if err := st.write(&updated); err != nil {
			return err
		}
		*a = updated
		return nil
	})
}

// SetPassword replaces an account's password (NickServ PASSWD). The hash is made before
// any lock is taken.
func (st *accountStore) SetPassword(name, password string) error {
	if err := validatePassword(password, st.minPassword); err != nil {
		return err
	}
	hash, err := st.hashNewPassword(password)
	if err != nil {
		return err
	}
	return st.update(name, func(a *Account) error {
		a.Hash = string(hash)
		return nil
	})
}

// reloadIfChanged rereads users/ when users/.generation differs from the last load; the
// dir lock must be held. A file that does not load keeps the account as it was in memory:
// a half-edited file must not log anyone out.
func (st *accountStore) reloadIfChanged() (accountChanges, error) {
	var ch accountChanges
	gen := readGeneration(st.dir)
	st.mu.Lock()
	same := gen == st.gen
	st.mu.Unlock()
	if same {
		return ch, nil
	}
	loaded, bad, err := loadAccountFiles(st.dir)
	if err != nil {
		return ch, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	damaged := make(map[string]bool)
	for key := range bad {
		if old, ok := st.accounts[key]; ok {
			loaded[key] = old
		} else {
			damaged[key] = true
		}
	}
	for key, old := range st.accounts {
		if bad[key] {
			continue
		}
		now, ok := loaded[key]
		switch {
		case !ok || now.ID != old.ID:
			ch.removed = append(ch.removed, *old)
		case now.Locked && !old.Locked:
			ch.locked = append(ch.locked, now.Name)
		}
	}
	st.accounts, st.damaged, st.gen = loaded, damaged, gen
	if len(bad) > 0 {
		return ch, fmt.Errorf("reload accounts: %d file(s) in %s did not load; kept as they were", len(bad), st.dir)
	}
	return ch, nil
}

// loadAccountFiles reads every users/<name>.toml; bad lists the names whose file is there
// but did not load.
func loadAccountFiles(dir string) (map[string]*Account, map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read accounts dir %s: %w", dir, err)
	}
	out, bad := make(map[string]*Account), make(map[string]bool)
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".toml")
		if !ok || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		a, err := loadAccountFile(filepath.Join(dir, e.Name()), name, e)
		if err != nil {
			if validateAccountName(name) == nil {
				bad[name] = true
			}
			continue
		}
		out[name] = a
	}
	return out, bad, nil
}

// readAccountFile loads the file of the account with casefolded name key.
func readAccountFile(path, key string) (*Account, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("load account %s: %w", path, err)
	}
	return loadAccountFile(path, key, fs.FileInfoToDirEntry(info))
}

// ---- the server's side ----

// watchAccounts polls users/.generation until shutdown.
func (s *Server) watchAccounts() {
	t := time.NewTicker(accountsPoll)
	defer t.Stop()
	for {
		select {
		case <-s.shutdown:
			return
		case <-t.C:
			if err := s.accounts.refresh(); err != nil {
				s.log.Warn("accounts", "err", err)
			}
		}
	}
}

// accountsChanged closes the connections of deleted and locked accounts and detaches a
// deleted account's data. Called by the store with no lock held.
func (s *Server) accountsChanged(ch accountChanges) {
	for _, a := range ch.removed {
		for _, c := range s.sessionsOf(a.Name) {
			c.kill("Account " + a.Name + " was deleted by the administrator")
		}
		s.files.forgetAccount(a)
		s.profiles.forget(a.Name) // before the move too: a waiting flush must not write it back
		n, err := s.detachAccountData(a)
		s.profiles.forget(a.Name)
		if err != nil {
			s.log.Error("detach deleted account's data", "account", a.Name, "err", err)
		}
		s.log.Info("account deleted", "account", a.Name, "detached", n)
	}
	for _, name := range ch.locked {
		for _, c := range s.sessionsOf(name) {
			c.kill("Account " + name + " was locked by the administrator")
		}
		s.log.Info("account locked", "account", name)
	}
}

// detachAccountData moves a deleted account's offline queue and DM logs out of the way,
// with the queue's and the log's locks held and the log's open files for them closed.
func (s *Server) detachAccountData(a Account) (int, error) {
	if q := s.offline; q != nil {
		q.mu.Lock()
		defer q.mu.Unlock()
	}
	if l := s.history; l != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		party := escapePathName(casefold(a.Name))
		for path, f := range l.files {
			if dmHasParty(filepath.Base(filepath.Dir(path)), party) {
				f.f.Close()
				delete(l.files, path)
			}
		}
		for msgid, ref := range l.ids {
			if dmHasParty(ref.conversation, party) {
				delete(l.ids, msgid) // its ring slot forgets nothing when it comes round
			}
		}
	}
	return detachAccountFiles(s.dataDir, a)
}

// dmHasParty reports whether a DM conversation directory name has party (escaped) in it.
func dmHasParty(dir, party string) bool {
	pair, ok := strings.CutPrefix(dir, "dm-")
	if !ok {
		return false
	}
	x, y, ok := strings.Cut(pair, "+")
	return ok && (x == party || y == party)
}

// detachAccountFiles moves <data>/offline/<name>.log and <data>/logs/dm-*<name>* into
// <data>/deleted/<name>-<id>/ and reports how many it moved.
func detachAccountFiles(dataDir string, a Account) (int, error) {
	party := escapePathName(casefold(a.Name))
	tag := a.ID
	if tag == "" {
		tag = a.Created.UTC().Format("20060102T150405Z")
	}
	dest := filepath.Join(dataDir, "deleted", party+"-"+tag)
	var moves [][2]string
	queue := filepath.Join(dataDir, "offline", party+".log")
	if _, err := os.Stat(queue); err == nil {
		moves = append(moves, [2]string{queue, filepath.Join(dest, "offline.log")})
	}
	profile := filepath.Join(dataDir, "profiles", party+".toml") // rooms, contacts, read markers
	if _, err := os.Stat(profile); err == nil {
		moves = append(moves, [2]string{profile, filepath.Join(dest, "profile.toml")})
	}
	logs := filepath.Join(dataDir, "logs")
	ents, err := os.ReadDir(logs)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("read %s: %w", logs, err)
	}
	for _, e := range ents {
		if e.IsDir() && dmHasParty(e.Name(), party) {
			moves = append(moves, [2]string{filepath.Join(logs, e.Name()), filepath.Join(dest, "logs", e.Name())})
		}
	}
	for _, id := range accountUploads(dataDir, a) {
		for _, name := range []string{id + ".toml", id} {
			moves = append(moves, [2]string{filepath.Join(dataDir, filesDirName, name), filepath.Join(dest, filesDirName, name)})
		}
	}
	for i, mv := range moves {
		if err := os.MkdirAll(filepath.Dir(mv[1]), 0o700); err != nil {
			return i, fmt.Errorf("detach %s: %w", mv[0], err)
		}
		to := mv[1]
		if _, err := os.Stat(to); err == nil {
			to += "." + time.Now().UTC().Format("20060102T150405.000000000")
		}
		if err := os.Rename(mv[0], to); err != nil {
			return i, fmt.Errorf("detach %s: %w", mv[0], err)
		}
	}
	return len(moves), nil
}

// ---- the CLI ----

func accountsCommand() *cli.Command {
	sub := []*cli.Command{
		{Name: "list", Usage: "list the accounts (name, created, last login, locked, operator)", ArgsUsage: " ", Action: runAccountsList},
		{Name: "add", Usage: "create an account (password from a prompt or LABCHAT_PASSWORD)", ArgsUsage: "NAME",
			Flags: []cli.Flag{&cli.StringFlag{Name: "email", Usage: "the account's e-mail `ADDRESS`"}}, Action: runAccountsAdd},
		{Name: "passwd", Usage: "set an account's password (prompt or LABCHAT_PASSWORD)", ArgsUsage: "NAME", Action: runAccountsPasswd},
		{Name: "delete", Usage: "delete an account: its connections close, its offline queue, DMs and uploaded files move to deleted/", ArgsUsage: "NAME", Action: runAccountsDelete},
		{Name: "lock", Usage: "lock an account: no login, its connections close", ArgsUsage: "NAME", Action: accountFlagAction("lock", func(a *Account) { a.Locked = true })},
		{Name: "unlock", Usage: "unlock a locked account", ArgsUsage: "NAME", Action: accountFlagAction("unlock", func(a *Account) { a.Locked = false })},
		{Name: "oper", Usage: "make an account a server operator from its next login (--remove undoes it)", ArgsUsage: "NAME",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "remove", Usage: "take operator status away instead"}}, Action: runAccountsOper},
		{Name: "hash-password", Usage: "print a bcrypt hash for a [[server.operators]] password_hash", ArgsUsage: " ", Action: runHashPassword},
	}
	for _, cmd := range sub {
		cmd.Flags = append(cmd.Flags, commonFlags(false)...)
		cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return withExit(exitUsage, err) }
	}
	return &cli.Command{
		Name:  "accounts",
		Usage: "manage the server's accounts (safe while the server runs)",
		Description: "Works on the server's data directory (--data-dir / --config as for serve).\n" +
			"A running server picks every change up within a second; deleted and locked\n" +
			"accounts are disconnected. Passwords come from a no-echo prompt or LABCHAT_PASSWORD.",
		Subcommands: sub,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErrorf("unknown accounts command %q (list, add, passwd, delete, lock, unlock, oper, hash-password)", c.Args().First())
			}
			return cli.ShowSubcommandHelp(c)
		},
	}
}

// accountsArgs takes the positional arguments, applying flags written after them
// (`accounts add alice --config x`, as irctest's kit writes it): cli/v2 stops parsing flags
// at the first argument.
// accountTarget reads the one NAME argument of an accounts subcommand and opens the data
// directory's account store.
func accountTarget(c *cli.Context, usage string) (string, *accountsEnv, error) {
	args, err := accountsArgs(c, 1, usage)
	if err != nil {
		return "", nil, err
	}
	env, err := openAccountsEnv(c)
	if err != nil {
		return "", nil, err
	}
	return args[0], env, nil
}

func accountsArgs(c *cli.Context, want int, usage string) ([]string, error) {
	var pos []string
	args := c.Args().Slice()
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		if !slices.ContainsFunc(c.Command.Flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), name) }) {
			return nil, usageErrorf("accounts %s: unknown flag %s", c.Command.Name, a)
		}
		if !hasValue {
			if _, isBool := flagByName(c.Command.Flags, name).(*cli.BoolFlag); isBool {
				value = "true"
			} else if i+1 < len(args) {
				i++
				value = args[i]
			} else {
				return nil, usageErrorf("accounts %s: flag %s needs a value", c.Command.Name, a)
			}
		}
		if err := c.Set(name, value); err != nil {
			return nil, usageErrorf("accounts %s: %s: %v", c.Command.Name, a, err)
		}
	}
	if len(pos) != want {
		return nil, usageErrorf("usage: labchat accounts %s %s", c.Command.Name, usage)
	}
	return pos, nil
}

func flagByName(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

// accountsEnv is what every accounts subcommand works on.
type accountsEnv struct {
	cfg     *Config
	dataDir string // the server's data dir
	store   *accountStore
}

func openAccountsEnv(c *cli.Context) (*accountsEnv, error) {
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, err
	}
	dataDir := cfg.serverDataDir()
	dir := filepath.Join(dataDir, "users")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create accounts dir: %w", err)
	}
	st := &accountStore{dir: dir, cost: cfg.Server.BcryptCost, minPassword: cfg.Server.MinPasswordLen, accounts: make(map[string]*Account)}
	return &accountsEnv{cfg: cfg, dataDir: dataDir, store: st}, nil
}

func (env *accountsEnv) path(name string) string {
	return filepath.Join(env.store.dir, casefold(name)+".toml")
}

// lockedAccount takes the users/ lock and reads the account's file under it; the caller
// runs unlock when done, also after an error.
func (env *accountsEnv) lockedAccount(name string) (a *Account, unlock func(), err error) {
	unlock, err = lockAccountsDir(env.store.dir)
	if err != nil {
		return nil, func() {}, err
	}
	a, err = readAccountFile(env.path(name), casefold(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, unlock, fmt.Errorf("no account named %s (labchat accounts list shows them)", name)
	}
	return a, unlock, err
}

// change runs fn on the account's file under the dir lock, then tells a running server.
func (env *accountsEnv) change(name string, fn func(*Account) error) error {
	a, unlock, err := env.lockedAccount(name)
	defer unlock()
	if err != nil {
		return err
	}
	if err := fn(a); err != nil {
		return err
	}
	env.store.mu.Lock()
	err = env.store.write(a)
	env.store.mu.Unlock()
	if err != nil {
		return err
	}
	return bumpGeneration(env.store.dir)
}

func runAccountsList(c *cli.Context) error {
	if _, err := accountsArgs(c, 0, ""); err != nil {
		return err
	}
	env, err := openAccountsEnv(c)
	if err != nil {
		return err
	}
	accounts, bad, err := loadAccountFiles(env.store.dir)
	if err != nil {
		return err
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range accounts {
			if !yield(k) {
				return
			}
		}
	})
	w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tCREATED\tLAST LOGIN\tFROM\tFLAGS")
	for _, k := range names {
		a := accounts[k]
		last := "never"
		if !a.LastLogin.IsZero() {
			last = a.LastLogin.UTC().Format(time.RFC3339)
		}
		var flags []string
		if a.Locked {
			flags = append(flags, "locked")
		}
		if a.Operator {
			flags = append(flags, "operator")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.Name, a.Created.UTC().Format(time.RFC3339), last, orDash(a.LastAddr), orDash(strings.Join(flags, ",")))
	}
	w.Flush()
	fmt.Fprintf(c.App.Writer, "%d account(s) in %s\n", len(names), env.store.dir)
	if len(bad) > 0 {
		var list []string
		for k := range bad {
			list = append(list, k+".toml")
		}
		slices.Sort(list)
		return fmt.Errorf("%d account file(s) did not load: %s", len(bad), strings.Join(list, ", "))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runAccountsAdd(c *cli.Context) error {
	name, env, err := accountTarget(c, "NAME [--email ADDRESS]")
	if err != nil {
		return err
	}
	if err := validateAccountName(name); err != nil {
		return withExit(exitUsage, err)
	}
	if isServiceNick(name) {
		return usageErrorf("%s is the name of a service; choose another", name)
	}
	if err := validateEmail(c.String("email")); err != nil {
		return withExit(exitUsage, err)
	}
	if _, err := os.Stat(env.path(name)); err == nil {
		return fmt.Errorf("account %s already exists (labchat accounts passwd %s changes its password)", name, name)
	}
	hash, err := newPasswordHash(c, env, "Password for "+name+": ")
	if err != nil {
		return err
	}
	a := &Account{Name: name, Hash: string(hash), Email: c.String("email"), Created: time.Now().UTC().Truncate(time.Second), ID: newAccountID()}
	unlock, err := lockAccountsDir(env.store.dir)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(env.path(name)); err == nil {
		return fmt.Errorf("account %s already exists", name)
	}
	env.store.mu.Lock()
	err = env.store.write(a)
	env.store.mu.Unlock()
	if err != nil {
		return err
	}
	if err := bumpGeneration(env.store.dir); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "account %s created\n", name)
	return nil
}

// newPasswordHash reads a new password (no-echo prompt or LABCHAT_PASSWORD), checks it
// against the server's rules and hashes it at the configured cost.
func newPasswordHash(c *cli.Context, env *accountsEnv, prompt string) ([]byte, error) {
	pw, err := readNewPassword(c, prompt)
	if err != nil {
		return nil, err
	}
	if err := validatePassword(pw, env.store.minPassword); err != nil {
		return nil, withExit(exitUsage, fmt.Errorf("%w (min_password_len is %d)", err, env.store.minPassword))
	}
	hash, err := bcrypt.GenerateFromPassword(prehash(pw), env.store.cost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

func runAccountsPasswd(c *cli.Context) error {
	name, env, err := accountTarget(c, "NAME")
	if err != nil {
		return err
	}
	if _, err := readAccountFile(env.path(name), casefold(name)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no account named %s (labchat accounts list shows them)", name)
		}
		return err
	}
	hash, err := newPasswordHash(c, env, "New password for "+name+": ")
	if err != nil {
		return err
	}
	if err := env.change(name, func(a *Account) error { a.Hash = string(hash); return nil }); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "password of %s changed\n", name)
	return nil
}

func accountFlagAction(verb string, set func(*Account)) cli.ActionFunc {
	return func(c *cli.Context) error {
		name, env, err := accountTarget(c, "NAME")
		if err != nil {
			return err
		}
		if err := env.change(name, func(a *Account) error { set(a); return nil }); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "account %s: %sed\n", name, strings.TrimSuffix(verb, "e"))
		return nil
	}
}

func runAccountsOper(c *cli.Context) error {
	name, env, err := accountTarget(c, "NAME [--remove]")
	if err != nil {
		return err
	}
	on := !c.Bool("remove")
	if err := env.change(name, func(a *Account) error { a.Operator = on; return nil }); err != nil {
		return err
	}
	if on {
		fmt.Fprintf(c.App.Writer, "account %s is an operator from its next login\n", name)
	} else {
		fmt.Fprintf(c.App.Writer, "account %s is no operator from its next login\n", name)
	}
	return nil
}

func runAccountsDelete(c *cli.Context) error {
	name, env, err := accountTarget(c, "NAME")
	if err != nil {
		return err
	}
	a, unlock, err := env.lockedAccount(name)
	defer unlock()
	if err != nil {
		return err
	}
	// With the data directory's lock, no server runs: move the data now. Without it, the
	// running server moves it when it sees the account gone.
	serverLock, lerr := lockDataDir(env.dataDir)
	if err := os.Remove(env.path(name)); err != nil {
		if lerr == nil {
			serverLock.Release()
		}
		return fmt.Errorf("delete account %s: %w", name, err)
	}
	syncDir(env.store.dir)
	if err := bumpGeneration(env.store.dir); err != nil {
		return err
	}
	if lerr != nil {
		if !errors.Is(lerr, ErrLocked) {
			return lerr
		}
		fmt.Fprintf(c.App.Writer, "account %s deleted; the running server closes its connections and moves its offline queue, DMs and uploaded files to %s\n", a.Name, filepath.Join(env.dataDir, "deleted"))
		return nil
	}
	defer serverLock.Release()
	n, err := detachAccountFiles(env.dataDir, *a)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "account %s deleted; %d offline queue/DM item(s) moved to %s\n", a.Name, n, filepath.Join(env.dataDir, "deleted"))
	return nil
}

func runHashPassword(c *cli.Context) error {
	if _, err := accountsArgs(c, 0, ""); err != nil {
		return err
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	pw, err := readNewPassword(c, "Operator password: ")
	if err != nil {
		return err
	}
	if pw == "" || len(pw) > 72 {
		return usageErrorf("operator passwords must be 1 to 72 bytes (bcrypt's limit)")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), cfg.Server.BcryptCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	fmt.Fprintln(c.App.Writer, string(hash))
	return nil
}

// readNewPassword takes LABCHAT_PASSWORD, or asks twice on the terminal without echo.
// Never an argument: argv is visible to every user of the machine.
func readNewPassword(c *cli.Context, prompt string) (string, error) {
	if pw, ok := os.LookupEnv("LABCHAT_PASSWORD"); ok && pw != "" {
		return pw, nil
	}
	in, ok := c.App.Reader.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", usageErrorf("no password: stdin is not a terminal, so set LABCHAT_PASSWORD")
	}
	first, err := promptPassword(in, c.App.ErrWriter, prompt)
	if err != nil {
		return "", err
	}
	again, err := promptPassword(in, c.App.ErrWriter, "Same password again: ")
	if err != nil {
		return "", err
	}
	if first != again {
		return "", usageErrorf("the two passwords differ; nothing changed")
	}
	return first, nil
}

func promptPassword(in *os.File, out io.Writer, prompt string) (string, error) {
	fmt.Fprint(out, prompt)
	b, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(out)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
