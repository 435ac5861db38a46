//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts cmd in a process group of its own, killed as a whole when its
// context ends. node --test runs each file in a child process, which starts Chromium and
// labchat binaries: killing node alone would leave them running, holding node's output pipe
// open so that Wait never returns (a browser test then hangs instead of failing).
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killProcessGroup(cmd) }
}

// killProcessGroup ends whatever is left of cmd's process group (a browser a failed
// scenario did not close); no group left is not an error.
func killProcessGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return err
	}
	return nil
}
