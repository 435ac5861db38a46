//go:build !windows

package main

// startedFromExplorer is Windows' double-click; elsewhere a program without arguments was
// typed in a shell.
func startedFromExplorer() bool { return false }
