package main

// Plain files in the data directory: accounts (one TOML file each), the server's lock file,
// and the atomic-write helper everything that must not be lost goes through.

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/bcrypt"
)

var (
	// ErrAccountExists is a REGISTER of a name that is taken.
	ErrAccountExists = errors.New("account exists")
	// ErrNoAccount is a login to a name nobody registered.
	ErrNoAccount = errors.New("no such account")
	// ErrWrongPassword is a login whose password does not match.
	ErrWrongPassword = errors.New("wrong password")
	// ErrBadAccountName is a name that is not a valid nick or would be unsafe as a file name.
	ErrBadAccountName = errors.New("bad account name")
	// ErrBadPassword is a password that is empty, too long or holds control characters.
	ErrBadPassword = errors.New("unacceptable password")
)

const (
	// minPasswordLen is the default of server.min_password_len.
	minPasswordLen = 4
	// maxPasswordLen is what a SASL PLAIN login carries with room to spare (AUTHENTICATE takes
	// 1200 base64 bytes, about 900 raw, names included). REGISTER's 512-byte line bounds what
	// it can set; `labchat accounts add` and NickServ PASSWD can set up to this.
	maxPasswordLen = 600
)

// Account is one user's file, users/<casefolded name>.toml.
type Account struct {
	Name      string    `toml:"name"`
	Hash      string    `toml:"hash"` // bcrypt of the SHA-256 of the password, see hashPassword
	Email     string    `toml:"email,omitempty"`
	Created   time.Time `toml:"created"`
	LastLogin time.Time `toml:"last_login,omitempty"`
	LastAddr  string    `toml:"last_addr,omitempty"`
	ID        string    `toml:"id,omitempty"`       // set at creation: a new account of an old name is another one
	Locked    bool      `toml:"locked,omitempty"`   // `labchat accounts lock`: no login, connections closed
	Operator  bool      `toml:"operator,omitempty"` // `labchat accounts oper`: an operator at login
}

// accountStore keeps every account in memory and writes each change through to its file.
type accountStore struct {
	dir         string
	cost        int
	minPassword int // shortest password Register accepts; set before use

	// Slow hashes run only with a token of one of these, so a burst of them cannot take
	// every core; logins and registrations have their own, so a REGISTER storm never makes
	// a login wait (see newHashSlots).
	loginSlots    *hashPool
	registerSlots *hashPool
	hashes        atomic.Int64 // bcrypt runs so far (tests count what reached the hash)

	skipped      []skippedFile // account files that did not load, for the server to log
	removedTemps []string      // stale temp files removed at open

	mu       sync.Mutex           // guards accounts, damaged, pending and gen; a leaf lock: nothing else is taken under it
	accounts map[string]*Account  // by casefolded name
	damaged  map[string]bool      // casefolded names whose file is there but did not load
	pending  map[string]bool      // casefolded names a REGISTER is hashing a password for
	gen      string               // users/.generation as last loaded (accounts.go)
	changed  func(accountChanges) // told what a reload removed or locked; set before use
}

// hashWait bounds how long a login or registration waits for a hashing slot before it is
// told the server is busy.
const hashWait = 10 * time.Second

// ErrBusy is a login or registration that found no free hashing slot within hashWait.
var ErrBusy = errors.New("server busy hashing passwords; try again in a few seconds")

// ErrAccountDamaged is a login to or registration of an account whose file did not load.
var ErrAccountDamaged = errors.New("account file damaged (the server log names it)")

// newHashSlots sizes the pools: logins get every core, registrations half of them, so with
// registrations saturating theirs a login still finds a core and a slot. And a registration
// waits for the logins in flight before it starts: on a PC whose cores are busy anyway a
// login then shares the CPU with at most the one registration hash already running.
func newHashSlots() (login, register *hashPool) {
	n := runtime.GOMAXPROCS(0)
	login = newHashPool(max(2, n), nil)
	return login, newHashPool(max(1, n/2), login)
}

// hashPool bounds the slow hashes of one kind running at once.
type hashPool struct {
	slots   chan struct{}
	yieldTo *hashPool // a pool whose hashes go first (registrations yield to logins)

	mu     sync.Mutex    // leaf lock; guards active and idle
	active int           // hashes waiting for a slot or running
	idle   chan struct{} // closed while active == 0
}

// yieldWait bounds how long a hash waits for the pool it yields to: a steady stream of
// logins delays registrations, it does not stop them.
const yieldWait = 2 * time.Second

func newHashPool(n int, yieldTo *hashPool) *hashPool {
	idle := make(chan struct{})
	close(idle)
	return &hashPool{slots: make(chan struct{}, n), yieldTo: yieldTo, idle: idle}
}

func (p *hashPool) enter() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.active++; p.active == 1 {
		p.idle = make(chan struct{})
	}
}

func (p *hashPool) leave() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.active--; p.active == 0 {
		close(p.idle)
	}
}

func (p *hashPool) idleChan() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.idle
}

// withSlot runs fn holding a slot of p, or returns ErrBusy after hashWait.
func withSlot(p *hashPool, fn func()) error {
	p.enter()
	defer p.leave()
	select {
	case p.slots <- struct{}{}:
	default:
		t := time.NewTimer(hashWait)
		defer t.Stop()
		select {
		case p.slots <- struct{}{}:
		case <-t.C:
			return ErrBusy
		}
	}
	defer func() { <-p.slots }()
	if p.yieldTo != nil {
		t := time.NewTimer(yieldWait)
		select {
		case <-p.yieldTo.idleChan():
		case <-t.C:
		}
		t.Stop()
	}
	fn()
	return nil
}

// openAccountStore loads every account file in dir. A file that cannot be read or decoded
// does not stop the server (one bad file must not lock out everyone else): it is listed in
// skipped, and its name stays taken, so nobody can REGISTER over an owner's damaged file.
// Stale temp files of an interrupted atomic write are removed first.
func openAccountStore(dir string, cost int) (*accountStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create accounts dir: %w", err)
	}
	// Under users/.lock: `labchat accounts` may be writing (its temp file is no stale one),
	// and the generation read before the files makes a change made meanwhile a reload later.
	unlock, err := lockAccountsDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	gen := readGeneration(dir)
	removed, err := removeStaleTemps(dir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read accounts dir: %w", err)
	}
	st := &accountStore{dir: dir, cost: cost, minPassword: minPasswordLen, accounts: make(map[string]*Account),
		damaged: make(map[string]bool), pending: make(map[string]bool), removedTemps: removed, gen: gen}
	st.loginSlots, st.registerSlots = newHashSlots()
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".toml")
		if !ok || strings.HasPrefix(e.Name(), ".") {
			continue // editor backups, hidden files
		}
		path := filepath.Join(dir, e.Name())
		a, err := loadAccountFile(path, name, e)
		if err != nil {
			st.skipped = append(st.skipped, skippedFile{path, err})
			if validateAccountName(name) == nil {
				st.damaged[casefold(name)] = true
			}
			continue
		}
		st.accounts[name] = a
	}
	return st, nil
}

// skippedFile is an account file the store could not load, and why.
type skippedFile struct {
	path string
	err  error
}

var errReservedName = errors.New("reserved device name on Windows")

// loadAccountFile reads one users/<name>.toml and checks it belongs there.
func loadAccountFile(path, name string, e os.DirEntry) (*Account, error) {
	if !e.Type().IsRegular() {
		return nil, fmt.Errorf("load account %s: not a regular file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load account %s: %w", path, err)
	}
	var a Account
	if err := toml.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("load account %s: %w", path, err)
	}
	if err := validateAccountName(a.Name); err != nil {
		return nil, fmt.Errorf("load account %s: %w", path, err)
	}
	if casefold(a.Name) != name || a.Hash == "" {
		return nil, fmt.Errorf("load account %s: name %q does not match the file or hash missing", path, a.Name)
	}
	if err := a.checkText(); err != nil {
		return nil, fmt.Errorf("load account %s: %w", path, err)
	}
	return &a, nil
}

// removeStaleTemps deletes what writeFileAtomic leaves behind when the process dies between
// creating its temp file and renaming it. Only the server holding the data-dir lock calls
// it, so no temp file it removes can belong to a write in progress.
func removeStaleTemps(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("clean temp files in %s: %w", dir, err)
	}
	var removed []string
	for _, e := range entries {
		if !isAtomicTemp(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("remove stale temp file %s: %w", path, err)
		}
		removed = append(removed, path)
	}
	return removed, nil
}

// isAtomicTemp matches the names writeFileAtomic gives its temp files: ".<name>.tmp<random>".
func isAtomicTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp")
}

// validateAccountName allows what is both a valid nick and a safe file name on every OS the
// binary runs on: a letter, then letters, digits, '-' and '_', and not a name Windows keeps
// for a device (users/con.toml cannot be created or opened there). Each refusal wraps its
// own reason (errNameNotASCII, errNameTooLong, ...) so the client is told exactly why; a
// name is never cut to fit.
func validateAccountName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrBadAccountName)
	case !isASCII(name):
		return fmt.Errorf("%w: %q: %w", ErrBadAccountName, name, errNameNotASCII)
	case len(name) > maxAccountNameLen:
		return fmt.Errorf("%w: %q has %d characters: %w", ErrBadAccountName, name, len(name), errNameTooLong)
	case isServiceNick(name):
		return fmt.Errorf("%w: %q: %w", ErrBadAccountName, name, errNameService)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(isDigit(c) || c == '-' || c == '_')) {
			return fmt.Errorf("%w: %q: use a letter, then letters, digits, - or _", ErrBadAccountName, name)
		}
	}
	if isWindowsDeviceName(name) {
		return fmt.Errorf("%w: %q: %w", ErrBadAccountName, name, errReservedName)
	}
	return nil
}

// maxAccountNameLen bounds account names (they are file names and nicks).
const maxAccountNameLen = 30

var (
	errNameNotASCII = errors.New("account names are ASCII")
	errNameTooLong  = errors.New("longer than 30 characters")
	errNameService  = errors.New("a service's name")
)

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// isWindowsDeviceName reports a name Windows maps to a device whatever its extension
// (CON, CON.txt, com1.log): CON, PRN, AUX, NUL, COM0-9 and LPT0-9, in any case. Names that
// become files are checked with it, so a file the server writes opens on every lab PC.
func isWindowsDeviceName(name string) bool {
	base, _, _ := strings.Cut(name, ".")
	base = strings.ToLower(strings.TrimRight(base, " "))
	switch base {
	case "con", "prn", "aux", "nul", "conin$", "conout$":
		return true
	}
	if len(base) == 4 && (strings.HasPrefix(base, "com") || strings.HasPrefix(base, "lpt")) && isDigit(base[3]) {
		return true
	}
	// COM¹ COM² COM³ and LPT¹-³ are devices too (superscript digits).
	for _, sup := range []string{"\u00b9", "\u00b2", "\u00b3"} {
		if base == "com"+sup || base == "lpt"+sup {
			return true
		}
	}
	return false
}

// maxEmailLen is the longest address RFC 5321 lets a mailbox have.
const maxEmailLen = 254

// ErrBadEmail is an e-mail address that is too long or holds what no address holds.
var ErrBadEmail = errors.New("bad e-mail address")

func validateEmail(email string) error {
	switch {
	case len(email) > maxEmailLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrBadEmail, maxEmailLen)
	case !utf8.ValidString(email):
		return fmt.Errorf("%w: not valid UTF-8", ErrBadEmail)
	case strings.ContainsFunc(email, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }):
		return fmt.Errorf("%w: spaces or control characters", ErrBadEmail)
	}
	return nil
}

// checkText refuses an account whose text fields could not be written back as TOML (which
// is UTF-8): a file that loads must also save.
func (a *Account) checkText() error {
	for _, f := range [...]struct{ key, v string }{{"name", a.Name}, {"hash", a.Hash}, {"email", a.Email}, {"last_addr", a.LastAddr}} {
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("%s is not valid UTF-8", f.key)
		}
	}
	return nil
}

func validatePassword(pw string, minLen int) error {
	if len(pw) < minLen || len(pw) > maxPasswordLen {
		return fmt.Errorf("%w: use %d to %d bytes", ErrBadPassword, minLen, maxPasswordLen)
	}
	if strings.ContainsAny(pw, "\x00\r\n") {
		return fmt.Errorf("%w: control characters", ErrBadPassword)
	}
	return nil
}

// prehash lets passwords longer than bcrypt's 72-byte limit count in full.
func prehash(pw string) []byte {
	sum := sha256.Sum256([]byte(pw))
	return []byte(base64.StdEncoding.EncodeToString(sum[:]))
}

// Lookup returns a copy of the account, or false.
func (st *accountStore) Lookup(name string) (Account, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	a, ok := st.accounts[casefold(name)]
	if !ok {
		return Account{}, false
	}
	return *a, true
}

// Register creates an account. See RegisterFrom.
func (st *accountStore) Register(name, email, password string, now time.Time) error {
	return st.RegisterFrom(name, email, password, now, nil)
}

// RegisterFrom creates an account. A taken name is refused before any hashing, and the name
// is held while its password is hashed, so a loop of REGISTERs of one name costs one hash.
// allow (if not nil) runs after those checks and before the hash: it is the caller's
// throttle, so only attempts that would really hash are counted. The hash runs outside the
// lock, with a register slot.
func (st *accountStore) RegisterFrom(name, email, password string, now time.Time, allow func() error) error {
	if err := validateAccountName(name); err != nil {
		return err
	}
	if err := validateEmail(email); err != nil {
		return err
	}
	if err := validatePassword(password, st.minPassword); err != nil {
		return err
	}
	// What memory says may be a second old: `labchat accounts delete` a moment ago must
	// free the name now, not after the next poll. A failed reload is the poll's to log.
	_ = st.refresh()
	key := casefold(name)
	st.mu.Lock()
	switch {
	case st.damaged[key]:
		st.mu.Unlock()
		return ErrAccountDamaged
	case st.accounts[key] != nil || st.pending[key]:
		st.mu.Unlock()
		return ErrAccountExists
	}
	st.pending[key] = true
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		delete(st.pending, key)
		st.mu.Unlock()
	}()
	if allow != nil {
		if err := allow(); err != nil {
			return err
		}
	}
	hash, err := st.hashNewPassword(password)
	if err != nil {
		return err
	}
	a := &Account{Name: name, Hash: string(hash), Email: email, Created: now.UTC().Truncate(time.Second), ID: newAccountID()}
	// Under users/.lock, after a reload: `labchat accounts add` may have taken the name
	// while the hash ran.
	return st.withDirLock(func() error {
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.accounts[key] != nil || st.damaged[key] {
			return ErrAccountExists
		}
		if err := st.write(a); err != nil {
			return err
		}
		st.accounts[key] = a
		return nil
	})
}

// Authenticate checks a password and returns the account as it was before this login. The
// hash runs with a login slot.
func (st *accountStore) Authenticate(name, password string) (Account, error) {
	// An account the CLI added a moment ago logs in at once. A failed reload leaves the
	// accounts as last loaded; the server's poll logs why.
	_ = st.refresh()
	a, ok := st.Lookup(name)
	if !ok {
		st.mu.Lock()
		damaged := st.damaged[casefold(name)]
		st.mu.Unlock()
		if damaged {
			return Account{}, ErrAccountDamaged
		}
		return Account{}, ErrNoAccount
	}
	var mismatch error
	if err := withSlot(st.loginSlots, func() {
		st.hashes.Add(1)
		mismatch = bcrypt.CompareHashAndPassword([]byte(a.Hash), prehash(password))
	}); err != nil {
		return Account{}, err
	}
	if mismatch != nil {
		return Account{}, ErrWrongPassword
	}
	if a.Locked {
		return Account{}, ErrAccountLocked
	}
	return a, nil
}

// Taken reports whether name is an account or held by one (being registered, or with a
// damaged file).
func (st *accountStore) Taken(name string) bool {
	key := casefold(name)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.accounts[key] != nil || st.pending[key] || st.damaged[key]
}

// RecordLogin stores the time and address of a successful login.
func (st *accountStore) RecordLogin(name, addr string, now time.Time) error {
	return st.update(name, func(a *Account) error {
		a.LastLogin, a.LastAddr = now.UTC().Truncate(time.Second), addr
		return nil
	})
}

// write must be called with st.mu held, so two writers of one file cannot interleave.
// Text that is not UTF-8 is refused here too: TOML is UTF-8, and a file that does not parse
// is an account lost.
func (st *accountStore) write(a *Account) error {
	if err := a.checkText(); err != nil {
		return fmt.Errorf("save account %s: %w", a.Name, err)
	}
	var b strings.Builder
	b.WriteString("# labchat account. The hash is bcrypt over SHA-256 of the password.\n")
	if err := toml.NewEncoder(&b).Encode(a); err != nil {
		return fmt.Errorf("encode account %s: %w", a.Name, err)
	}
	path := filepath.Join(st.dir, casefold(a.Name)+".toml")
	if err := writeFileAtomic(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("save account %s: %w", a.Name, err)
	}
	return nil
}

// writeFileAtomic replaces path with data so that a crash leaves the old or the new file,
// never a mix: temp file in the same directory, fsync, rename, fsync the directory.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename durable. Some systems (Windows) cannot open a directory for sync;
// there the rename is as durable as the OS makes it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// dataLock is held for the server's lifetime so that a second server on the same data
// directory refuses to start instead of corrupting the first one's files.
type dataLock struct{ f *os.File }

// ErrLocked is the lock held by another process.
var ErrLocked = errors.New("data directory in use by another labchat serve")

func lockDataDir(dir string) (*dataLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dir, "serve.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("%w (%s is locked; stop the other server or use another --data-dir)", ErrLocked, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return &dataLock{f: f}, nil
}

func (l *dataLock) Release() {
	unlockFile(l.f)
	l.f.Close()
}

// hashNewPassword hashes a new password in one of the registration slots, so that new
// passwords never take the slots logins wait for.
func (st *accountStore) hashNewPassword(password string) ([]byte, error) {
	var hash []byte
	var herr error
	if err := withSlot(st.registerSlots, func() {
		st.hashes.Add(1)
		hash, herr = bcrypt.GenerateFromPassword(prehash(password), st.cost)
	}); err != nil {
		return nil, err
	}
	if herr != nil {
		return nil, fmt.Errorf("hash password: %w", herr)
	}
	return hash, nil
}
