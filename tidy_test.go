package main

import (
	"os/exec"
	"strings"
	"testing"
)

// go.mod and go.sum list exactly what the code imports (issue 17 item 7; .ci/run checks it too).
func TestGoModIsTidy(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	cmd := exec.Command("go", "mod", "tidy", "-diff")
	cmd.Env = append(cmd.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off") // the module cache has every module: no network
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("go mod tidy -diff: %v\n%s", err, out)
	}
}
