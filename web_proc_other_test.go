//go:build !unix

package main

import "os/exec"

// ownProcessGroup: without process groups, the context's end kills node only; WaitDelay
// (runNode) still keeps Wait from blocking on pipes its children hold.
func ownProcessGroup(cmd *exec.Cmd) {}

func killProcessGroup(cmd *exec.Cmd) error { return nil }
