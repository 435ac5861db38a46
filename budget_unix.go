//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// raiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit: every connection is a
// descriptor, and the soft default (often 1024) is far below what a lab server needs. It
// returns the limit now and before.
func raiseFileLimit() (now, was uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, fmt.Errorf("get RLIMIT_NOFILE: %w", err)
	}
	was = uint64(lim.Cur)
	if lim.Cur >= lim.Max {
		return was, was, nil
	}
	want := lim
	want.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		// macOS refuses more than kern.maxfilesperproc (10240 by default) with an unlimited hard limit.
		want.Cur = min(lim.Max, 10240)
		if err2 := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err2 != nil || want.Cur <= lim.Cur {
			return was, was, fmt.Errorf("set RLIMIT_NOFILE to %d: %w", lim.Max, err)
		}
	}
	return uint64(want.Cur), was, nil
}
