package main

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerFINReceived reports whether the peer's FIN has arrived but not yet been read (the
// socket is in CLOSE_WAIT), so a Close now answers the peer's FIN instead of sending the
// first one.
func peerFINReceived(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var state uint8
	raw.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			state = info.State
		}
	})
	return state == tcpCloseWait
}

// tcpCloseWait is TCP_CLOSE_WAIT from the kernel's include/net/tcp_states.h.
const tcpCloseWait = 8
