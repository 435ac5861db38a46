//go:build windows

package main

// udp_sys_windows.go: the socket options and terminal redraw of the UDP commands on Windows.

import (
	"errors"
	"syscall"
)

// Winsock codes the syscall package does not map to the portable errnos.
const (
	wsaEMSGSIZE     = syscall.Errno(10040)
	wsaECONNRESET   = syscall.Errno(10054) // what recvfrom says after an ICMP port unreachable
	wsaECONNREFUSED = syscall.Errno(10061)
)

// setUDPBroadcast sets SO_BROADCAST, without which a datagram to a broadcast address is refused.
func setUDPBroadcast(raw syscall.RawConn) error {
	var serr error
	err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

func udpRefusedErrno(err error) bool {
	return errors.Is(err, wsaECONNRESET) || errors.Is(err, wsaECONNREFUSED)
}

func udpTooLargeErrno(err error) bool { return errors.Is(err, wsaEMSGSIZE) }
