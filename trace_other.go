//go:build !linux

package main

import "net"

// peerFINReceived cannot tell without TCP_INFO: only a read that returned EOF says the peer
// closed first.
func peerFINReceived(net.Conn) bool { return false }
