package main

// transport.go: what a Session reads lines from and writes lines to. The session's reader,
// processor and writer are the same for every transport, so login, limits, flood control,
// the send queue, history and presence hold alike for IRC over TCP and over WebSocket
// (websocket.go); only framing differs.

import (
	"crypto/tls"
	"net"
	"time"
)

// transport carries IRC lines for one Session. ReadLine is called by the session's reader
// goroutine alone and WriteLines by its writer alone; Close and SetWriteDeadline may be
// called from any goroutine, and Close unblocks both.
type transport interface {
	// ReadLine returns the next line without its line ending, valid until the next call.
	// A line over maxLineLen gives ErrLineTooLong once and the transport stays usable; any
	// other error ends the connection.
	ReadLine() ([]byte, error)
	// WriteLines writes a batch of lines, each ending in CRLF. It keeps neither the slice
	// nor the lines after it returns.
	WriteLines(lines [][]byte) (int64, error)
	// SetWriteDeadline bounds the write in progress and the following ones, as net.Conn's.
	SetWriteDeadline(t time.Time) error
	Close() error
	RemoteAddr() net.Addr
}

// tcpTransport is IRC over a byte stream: lines end in LF or CRLF, and a batch leaves in one
// writev (usually one segment).
type tcpTransport struct {
	net.Conn
	lr   *lineReader
	bufs net.Buffers // the batch being written; WriteTo advances it (a field: no allocation per batch)

	// Over TLS a writev is one Write per line, each its own record (22 bytes more) and
	// syscall: the batch is copied into out and written at once, one record per 16 KiB.
	join bool
	out  []byte
}

func newTCPTransport(conn net.Conn) *tcpTransport {
	_, isTLS := conn.(*tls.Conn)
	return &tcpTransport{Conn: conn, lr: newLineReader(conn, maxLineLen), join: isTLS}
}

func (t *tcpTransport) ReadLine() ([]byte, error) { return t.lr.ReadLine() }

func (t *tcpTransport) WriteLines(lines [][]byte) (int64, error) {
	if t.join {
		out := t.out[:0]
		for _, b := range lines {
			out = append(out, b...)
		}
		n, err := t.Conn.Write(out)
		t.out = out[:0]
		if cap(out) > maxIdleWriteBuf {
			t.out = nil // a burst is over: give its memory back
		}
		return int64(n), err
	}
	t.bufs = lines
	n, err := writeBatch(t.Conn, &t.bufs)
	t.bufs = nil
	return n, err
}
