package main

// udp_socket_linux.go: the UDP commands' socket on Linux, kept out of Go's network poller.
//
// Every socket the net package opens is registered with the runtime's epoll instance. For a
// UDP stream on loopback that costs a wake-up per datagram on both ends: each datagram the
// listener consumes frees sender memory, and the kernel then wakes the runtime thread parked in
// epoll_wait for the sender's socket; each datagram that finds the listener parked wakes it
// through the poller and a goroutine hand-off. Measured on a 2-core machine, that held the probe
// stream to about half of iperf3's rate. So the commands open their sockets with the net package
// (addresses, dual stack, SO_BROADCAST stay its business), then move the descriptor out of the
// poller and do the I/O with plain system calls, waiting in poll(2) as a C program does.

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpReceiveSpin is how long a read polls an empty socket before it sleeps. In a fast stream
// the next datagram usually comes within it, and taking it without a sleep and a wake-up keeps
// the reader ahead of the sender; a read that waits longer costs at most this much CPU.
const udpReceiveSpin = 20 * time.Microsecond

// udpSocket is a non-blocking UDP socket outside the poller. Any goroutine may write and
// close; one goroutine at a time reads, and only it sets the read deadline.
type udpSocket struct {
	// mu is read-held by every system call on fd and write-held by Close, so the descriptor
	// number is never closed, and perhaps reused by another file, under a call.
	mu     sync.RWMutex
	fd     int
	closed atomic.Bool
	local  net.Addr
	inet6  bool // an AF_INET6 socket: IPv4 destinations are written as ::ffff:a.b.c.d

	deadline time.Time // the reader's: a read that has to wait gives up at it (zero: never)
}

// newUDPSocket takes over conn: its descriptor is duplicated, and closing conn removes the
// original from the poller (the net package deletes it from epoll before closing it).
func newUDPSocket(conn *net.UDPConn) (*udpSocket, error) {
	defer conn.Close()
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	fd, domain := -1, 0
	var serr error
	err = raw.Control(func(s uintptr) {
		if domain, serr = unix.GetsockoptInt(int(s), unix.SOL_SOCKET, unix.SO_DOMAIN); serr == nil {
			fd, serr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return nil, fmt.Errorf("udp socket: take descriptor: %w", err)
	}
	return &udpSocket{fd: fd, local: conn.LocalAddr(), inet6: domain == unix.AF_INET6}, nil
}

func (s *udpSocket) LocalAddr() net.Addr { return s.local }

// enter holds the descriptor open for one call; false once the socket is closed.
func (s *udpSocket) enter() bool {
	s.mu.RLock()
	if s.closed.Load() {
		s.mu.RUnlock()
		return false
	}
	return true
}

func (s *udpSocket) leave() { s.mu.RUnlock() }

// Close wakes any read or write in progress and closes the descriptor once they have left.
// Closing twice is harmless.
func (s *udpSocket) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	// shutdown wakes a thread in poll even on an unconnected socket, where it also answers
	// ENOTCONN; the wake-up is what is wanted here.
	unix.Shutdown(s.fd, unix.SHUT_RDWR)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := unix.Close(s.fd); err != nil {
		return fmt.Errorf("close udp socket: %w", err)
	}
	return nil
}

// setReadDeadline makes a read that has to wait give up at t with os.ErrDeadlineExceeded
// (zero: wait for ever). A datagram already queued is returned even after t. Only the reading
// goroutine calls it.
func (s *udpSocket) setReadDeadline(t time.Time) error {
	s.deadline = t
	return nil
}

// ReadFrom receives one datagram. IPv4 senders to a dual-stack socket come back as IPv4, not
// as ::ffff:a.b.c.d.
func (s *udpSocket) ReadFrom(buf []byte) (int, netip.AddrPort, error) {
	if !s.enter() {
		return 0, netip.AddrPort{}, net.ErrClosed
	}
	defer s.leave()
	var from unix.RawSockaddrAny
	var spinUntil time.Time
	for {
		fromLen := uint32(unsafe.Sizeof(from))
		// Non-blocking, so the scheduler need not hear of it.
		n, _, errno := syscall.RawSyscall6(unix.SYS_RECVFROM, uintptr(s.fd),
			uintptr(unsafe.Pointer(unsafe.SliceData(buf))), uintptr(len(buf)), 0,
			uintptr(unsafe.Pointer(&from)), uintptr(unsafe.Pointer(&fromLen)))
		switch {
		case s.closed.Load():
			return 0, netip.AddrPort{}, net.ErrClosed
		case errno == 0:
			return int(n), sockaddrAddrPort(&from), nil
		case errno != unix.EAGAIN && errno != unix.EINTR:
			return 0, netip.AddrPort{}, os.NewSyscallError("recvfrom", errno)
		}
		now := time.Now()
		if spinUntil.IsZero() {
			spinUntil = now.Add(udpReceiveSpin)
		}
		if now.Before(spinUntil) {
			continue
		}
		if err := s.wait(unix.POLLIN, s.deadline, now); err != nil {
			return 0, netip.AddrPort{}, err
		}
	}
}

// Write sends b on a connected socket.
func (s *udpSocket) Write(b []byte) error {
	return s.sendto(b, nil, 0)
}

// WriteTo sends b to an address.
func (s *udpSocket) WriteTo(b []byte, to netip.AddrPort) error {
	var sa unix.RawSockaddrInet6 // large enough for either family
	n := s.sockaddr(to, &sa)
	if n == 0 {
		return os.NewSyscallError("sendto", unix.EAFNOSUPPORT)
	}
	return s.sendto(b, unsafe.Pointer(&sa), n)
}

func (s *udpSocket) sendto(b []byte, to unsafe.Pointer, toLen uintptr) error {
	if !s.enter() {
		return net.ErrClosed
	}
	defer s.leave()
	for {
		_, _, errno := syscall.RawSyscall6(unix.SYS_SENDTO, uintptr(s.fd),
			uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0, uintptr(to), toLen)
		switch {
		case s.closed.Load():
			return net.ErrClosed
		case errno == 0:
			return nil
		case errno != unix.EAGAIN && errno != unix.EINTR:
			return os.NewSyscallError("sendto", errno)
		}
		// The send buffer is full: on a real link, until the interface has sent some of it.
		if err := s.wait(unix.POLLOUT, time.Time{}, time.Time{}); err != nil {
			return err
		}
	}
}

// wait sleeps in poll(2) until the socket is ready for events, closed, or the deadline passes.
func (s *udpSocket) wait(events int16, deadline, now time.Time) error {
	timeout := -1
	if !deadline.IsZero() {
		d := deadline.Sub(now)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		timeout = int((d + time.Millisecond - 1) / time.Millisecond)
	}
	fds := [1]unix.PollFd{{Fd: int32(s.fd), Events: events}}
	if _, err := unix.Poll(fds[:], timeout); err != nil && err != unix.EINTR {
		return os.NewSyscallError("poll", err)
	}
	if s.closed.Load() {
		return net.ErrClosed
	}
	return nil
}

// sockaddr writes to in the form the socket's family wants and returns its length: 0 when
// an IPv4 socket is given an IPv6 address.
func (s *udpSocket) sockaddr(to netip.AddrPort, sa *unix.RawSockaddrInet6) uintptr {
	port := to.Port()
	if !s.inet6 {
		if !to.Addr().Unmap().Is4() {
			return 0
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		sa4.Family = unix.AF_INET
		sa4.Addr = to.Addr().Unmap().As4()
		putNetworkPort(&sa4.Port, port)
		return unix.SizeofSockaddrInet4
	}
	sa.Family = unix.AF_INET6
	sa.Addr = to.Addr().As16() // an IPv4 address becomes ::ffff:a.b.c.d
	putNetworkPort(&sa.Port, port)
	if zone := to.Addr().Zone(); zone != "" {
		if ifi, err := net.InterfaceByName(zone); err == nil {
			sa.Scope_id = uint32(ifi.Index)
		} else if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
			sa.Scope_id = uint32(n)
		}
	}
	return unix.SizeofSockaddrInet6
}

// sockaddrAddrPort decodes the address recvfrom stored.
func sockaddrAddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), networkPort(sa4.Port))
	case unix.AF_INET6:
		sa6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		a := netip.AddrFrom16(sa6.Addr).Unmap()
		if sa6.Scope_id != 0 {
			a = a.WithZone(zoneName(sa6.Scope_id))
		}
		return netip.AddrPortFrom(a, networkPort(sa6.Port))
	}
	return netip.AddrPort{}
}

// networkPort reads a port the kernel stored in network byte order.
func networkPort(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func putNetworkPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// zoneName names a link-local sender's interface, as the net package does.
func zoneName(index uint32) string {
	if ifi, err := net.InterfaceByIndex(int(index)); err == nil {
		return ifi.Name
	}
	return strconv.FormatUint(uint64(index), 10)
}
