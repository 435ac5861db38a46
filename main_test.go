package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testBinDir holds the labchat binary built once for the tests that run the real CLI.
var testBinDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "labchat-test-bin")
	if err != nil {
		panic(err)
	}
	testBinDir = dir
	// The binaries the tests start open no web or TLS port unless a test asks (--web-listen,
	// --tls-listen): the defaults :8080 and :6697 would collide between tests and with
	// anything else on the PC.
	os.Setenv("LABCHAT_WEB_LISTEN", "")
	os.Setenv("LABCHAT_TLS_LISTEN", "")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
)

// labchatBinary builds the labchat binary once per test run (with -race when the tests run
// with it, so races in the real binary are caught too) and returns its path.
func labchatBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(testBinDir, "labchat")
	buildOnce.Do(func() {
		args := []string{"build", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = err
			os.Stderr.Write(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build labchat: %v", buildErr)
	}
	return bin
}

// cliResult is what one run of the real binary did.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the built binary with args and stdin, killed after timeout so a hang fails the
// test instead of stalling it.
func runCLI(t testing.TB, timeout time.Duration, stdin string, env []string, args ...string) cliResult {
	t.Helper()
	bin := labchatBinary(t) // first: the one-time build must not eat the run's timeout
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("labchat %s: still running after %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), timeout, stdout.String(), stderr.String())
	}
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run labchat: %v", err)
	}
	return res
}
