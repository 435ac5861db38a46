//go:build unix

package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
)

// serve raises RLIMIT_NOFILE to its hard limit, sizes max_clients from it and logs both.
func TestServeLogsTheDescriptorBudget(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	bin := labchatBinary(t)
	conf := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(conf, []byte("[server]\nweb_listen = \"\"\ntls_listen = \"\"\n"), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", `ulimit -Sn 256 && exec "$@"`, "sh",
		bin, "serve", "--config", conf, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	re := regexp.MustCompile(`msg="connection budget" nofile=(\d+) max_clients=(\d+) irc_reserve=(\d+)`)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		nofile, _ := strconv.ParseUint(m[1], 10, 64)
		maxClients, _ := strconv.Atoi(m[2])
		if nofile != uint64(lim.Max) {
			t.Errorf("nofile=%d, want the hard limit %d (the soft limit was 256)", nofile, lim.Max)
		}
		if want := sizeBudget(0).maxClients; maxClients != want || maxClients < int(nofile)*9/10 {
			t.Errorf("max_clients=%d from nofile=%d, want %d", maxClients, nofile, want)
		}
		return
	}
	t.Fatalf("no connection budget line in serve's log")
}
