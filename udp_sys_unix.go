//go:build unix

package main

// udp_sys_unix.go: the socket options and terminal redraw of the UDP commands on Unix.

import (
	"syscall"
)

// setUDPBroadcast sets SO_BROADCAST, without which the kernel refuses (EACCES) a datagram to a
// broadcast address.
func setUDPBroadcast(raw syscall.RawConn) error {
	var serr error
	err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// Unix reports these conditions with the errnos the portable checks already test.
func udpRefusedErrno(error) bool  { return false }
func udpTooLargeErrno(error) bool { return false }
