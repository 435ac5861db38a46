package main

// udp_rcvbuf_linux.go: the listener's receive buffer on Linux.

import (
	"net"
	"syscall"
)

// setUDPReceiveBuffer asks for a receive buffer of n bytes and returns what the kernel granted.
// SO_RCVBUFFORCE (root or CAP_NET_ADMIN) goes past net.core.rmem_max; otherwise SO_RCVBUF is
// capped there. Linux reports double the usable size (it counts its bookkeeping); halve it.
// n == 0 keeps the system default.
func setUDPReceiveBuffer(conn *net.UDPConn, n int) (int, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var got int
	var serr error
	err = raw.Control(func(fd uintptr) {
		if n > 0 && syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n) != nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
		}
		if serr == nil {
			got, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		}
	})
	if err == nil {
		err = serr
	}
	return got / 2, err
}
