//go:build !linux

package main

// udp_rcvbuf_other.go: the listener's receive buffer where Linux's options do not exist.

import "net"

// setUDPReceiveBuffer asks for a receive buffer of n bytes (0: the system default); the system
// may grant less without saying so.
func setUDPReceiveBuffer(conn *net.UDPConn, n int) (int, error) {
	if n == 0 {
		return 0, nil
	}
	return n, conn.SetReadBuffer(n)
}
