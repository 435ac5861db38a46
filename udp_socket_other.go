//go:build !linux

package main

// udp_socket_other.go: the UDP commands' socket outside Linux, through Go's network poller.

import (
	"net"
	"net/netip"
	"time"
)

// udpSocket is a UDP socket. Any goroutine may write and close; one goroutine at a time reads,
// and only it sets the read deadline.
type udpSocket struct {
	conn *net.UDPConn
}

func newUDPSocket(conn *net.UDPConn) (*udpSocket, error) { return &udpSocket{conn: conn}, nil }

func (s *udpSocket) LocalAddr() net.Addr { return s.conn.LocalAddr() }

func (s *udpSocket) Close() error { return s.conn.Close() }

// setReadDeadline makes reads give up at t with os.ErrDeadlineExceeded (zero: never), even
// when a datagram is queued: the listener checks its own deadlines after each datagram too.
func (s *udpSocket) setReadDeadline(t time.Time) error { return s.conn.SetReadDeadline(t) }

// ReadFrom receives one datagram. IPv4 senders to a dual-stack socket come back as IPv4, not
// as ::ffff:a.b.c.d.
func (s *udpSocket) ReadFrom(buf []byte) (int, netip.AddrPort, error) {
	n, from, err := s.conn.ReadFromUDPAddrPort(buf)
	return n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), err
}

// Write sends b on a connected socket.
func (s *udpSocket) Write(b []byte) error {
	_, err := s.conn.Write(b)
	return err
}

// WriteTo sends b to an address.
func (s *udpSocket) WriteTo(b []byte, to netip.AddrPort) error {
	_, err := s.conn.WriteToUDPAddrPort(b, to)
	return err
}
