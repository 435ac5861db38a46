package main

// The client's memory of recent logins: per server, the accounts used and when each last
// logged in, in <data_dir>/client/logins.toml. Interactive mode without --user offers them.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/BurntSushi/toml"
)

// recentLogins is logins.toml: [servers."host:port"] account = last login time.
type recentLogins struct {
	Servers map[string]map[string]time.Time `toml:"servers"`
}

type rememberedAccount struct {
	name string
	last time.Time
}

func loginsPath(dataDir string) string { return filepath.Join(dataDir, "logins.toml") }

// loadRecentLogins reads logins.toml; a missing file is an empty list.
func loadRecentLogins(dataDir string) (*recentLogins, error) {
	rl := &recentLogins{}
	data, err := os.ReadFile(loginsPath(dataDir))
	if err != nil && !os.IsNotExist(err) {
		return rl, fmt.Errorf("read recent logins: %w", err)
	}
	if _, err := toml.Decode(string(data), rl); err != nil {
		return &recentLogins{}, fmt.Errorf("read recent logins %s: %w", loginsPath(dataDir), err)
	}
	return rl, nil
}

// rememberedAccounts lists the accounts used on addr, most recent first. A damaged file
// only means nothing to offer: it is rewritten at the next login.
func rememberedAccounts(dataDir, addr string) []rememberedAccount {
	rl, _ := loadRecentLogins(dataDir)
	var out []rememberedAccount
	for name, last := range rl.Servers[addr] {
		out = append(out, rememberedAccount{name, last})
	}
	slices.SortFunc(out, func(a, b rememberedAccount) int { return b.last.Compare(a.last) })
	return out
}

// recordLogin notes that user logged in to addr at when.
func recordLogin(dataDir, addr, user string, when time.Time) error {
	rl, _ := loadRecentLogins(dataDir)
	if rl.Servers == nil {
		rl.Servers = map[string]map[string]time.Time{}
	}
	if rl.Servers[addr] == nil {
		rl.Servers[addr] = map[string]time.Time{}
	}
	rl.Servers[addr][user] = when.UTC().Truncate(time.Second)
	var buf bytes.Buffer
	buf.WriteString("# Accounts labchat connect has logged in with, per server (written by labchat).\n")
	if err := toml.NewEncoder(&buf).Encode(rl); err != nil {
		return fmt.Errorf("encode recent logins: %w", err)
	}
	return saveClientFile(loginsPath(dataDir), buf.Bytes(), 0o600)
}

// saveClientFile writes a client file atomically (writeFileAtomic), creating the client
// data dir on first use.
func saveClientFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := writeFileAtomic(path, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
