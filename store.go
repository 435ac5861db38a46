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
	"strings"
	"sync"
	"time"

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
	minPasswordLen = 4
	// maxPasswordLen follows the account-registration spec's advice (passwords must fit a line).
	maxPasswordLen = 300
)

// Account is one user's file, users/<casefolded name>.toml.
type Account struct {
	Name      string    `toml:"name"`
	Hash      string    `toml:"hash"` // bcrypt of the SHA-256 of the password, see hashPassword
	Email     string    `toml:"email,omitempty"`
	Created   time.Time `toml:"created"`
	LastLogin time.Time `toml:"last_login,omitempty"`
	LastAddr  string    `toml:"last_addr,omitempty"`
}

// accountStore keeps every account in memory and writes each change through to its file.
type accountStore struct {
	dir  string
	cost int

	mu       sync.Mutex          // guards accounts; a leaf lock: nothing else is taken under it
	accounts map[string]*Account // by casefolded name
}

// openAccountStore loads every account file in dir. A file that cannot be read or decoded is
// an error: silently skipping it would let someone re-register a name that has an owner.
func openAccountStore(dir string, cost int) (*accountStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create accounts dir: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read accounts dir: %w", err)
	}
	st := &accountStore{dir: dir, cost: cost, accounts: make(map[string]*Account)}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".toml")
		if !ok || e.IsDir() {
			continue // temp files from an interrupted write, editor backups
		}
		path := filepath.Join(dir, e.Name())
		var a Account
		if _, err := toml.DecodeFile(path, &a); err != nil {
			return nil, fmt.Errorf("load account %s: %w", path, err)
		}
		if casefold(a.Name) != name || validateAccountName(a.Name) != nil || a.Hash == "" {
			return nil, fmt.Errorf("load account %s: name %q does not match the file or hash missing", path, a.Name)
		}
		st.accounts[name] = &a
	}
	return st, nil
}

// validateAccountName allows what is both a valid nick and a safe file name on every OS the
// binary runs on: a letter, then letters, digits, '-' and '_'.
func validateAccountName(name string) error {
	if name == "" || len(name) > 30 {
		return fmt.Errorf("%w: %q must be 1 to 30 characters", ErrBadAccountName, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(isDigit(c) || c == '-' || c == '_')) {
			return fmt.Errorf("%w: %q: use a letter, then letters, digits, - or _", ErrBadAccountName, name)
		}
	}
	return nil
}

func validatePassword(pw string) error {
	if len(pw) < minPasswordLen || len(pw) > maxPasswordLen {
		return fmt.Errorf("%w: use %d to %d bytes", ErrBadPassword, minPasswordLen, maxPasswordLen)
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

// Register creates an account. The slow hash runs before the lock is taken, so concurrent
// registrations do not queue behind each other.
func (st *accountStore) Register(name, email, password string, now time.Time) error {
	if err := validateAccountName(name); err != nil {
		return err
	}
	if err := validatePassword(password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword(prehash(password), st.cost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	a := &Account{Name: name, Hash: string(hash), Email: email, Created: now.UTC().Truncate(time.Second)}
	key := casefold(name)
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.accounts[key]; ok {
		return ErrAccountExists
	}
	if err := st.write(a); err != nil {
		return err
	}
	st.accounts[key] = a
	return nil
}

// Authenticate checks a password and returns the account as it was before this login.
func (st *accountStore) Authenticate(name, password string) (Account, error) {
	a, ok := st.Lookup(name)
	if !ok {
		return Account{}, ErrNoAccount
	}
	if bcrypt.CompareHashAndPassword([]byte(a.Hash), prehash(password)) != nil {
		return Account{}, ErrWrongPassword
	}
	return a, nil
}

// RecordLogin stores the time and address of a successful login.
func (st *accountStore) RecordLogin(name, addr string, now time.Time) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	a, ok := st.accounts[casefold(name)]
	if !ok {
		return ErrNoAccount
	}
	updated := *a
	updated.LastLogin, updated.LastAddr = now.UTC().Truncate(time.Second), addr
	if err := st.write(&updated); err != nil {
		return err
	}
	*a = updated
	return nil
}

// write must be called with st.mu held, so two writers of one file cannot interleave.
func (st *accountStore) write(a *Account) error {
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

// loginThrottle counts failed logins per address over the last minute.
type loginThrottle struct {
	limit int

	mu       sync.Mutex             // leaf lock; guards failures
	failures map[string][]time.Time // address → failure times within the window
}

const throttleWindow = time.Minute

func newLoginThrottle(limit int) *loginThrottle {
	return &loginThrottle{limit: limit, failures: make(map[string][]time.Time)}
}

// Blocked reports how long the address must wait, or 0 if it may try now.
func (t *loginThrottle) Blocked(addr string, now time.Time) time.Duration {
	if t.limit <= 0 {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	recent := t.prune(addr, now)
	if len(recent) < t.limit {
		return 0
	}
	return recent[0].Add(throttleWindow).Sub(now)
}

// Fail records a failed login.
func (t *loginThrottle) Fail(addr string, now time.Time) {
	if t.limit <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failures[addr] = append(t.prune(addr, now), now)
}

// prune drops failures older than the window; t.mu must be held.
func (t *loginThrottle) prune(addr string, now time.Time) []time.Time {
	recent := t.failures[addr]
	i := 0
	for i < len(recent) && now.Sub(recent[i]) >= throttleWindow {
		i++
	}
	recent = recent[i:]
	if len(recent) == 0 {
		delete(t.failures, addr)
		return nil
	}
	t.failures[addr] = recent
	return recent
}
