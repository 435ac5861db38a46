// UDP echo client: send one datagram, wait for the echo, send again if it does not come.
//
//	go run ./examples/go/udpecho/client 127.0.0.1 5001 hello
package main

import (
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

const (
	timeout = time.Second // how long to wait for the echo before sending again
	tries   = 5
)

func main() {
	if len(os.Args) < 3 {
		log.Fatal("usage: client HOST PORT [TEXT...]")
	}
	message := strings.Join(os.Args[3:], " ")
	if message == "" {
		message = "hello"
	}
	// A connected UDP socket: the kernel picks our port and only keeps datagrams from there.
	conn, err := net.Dial("udp4", net.JoinHostPort(os.Args[1], os.Args[2]))
	if err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 65535)
	for attempt := 1; attempt <= tries; attempt++ {
		if _, err := conn.Write([]byte(message)); err != nil {
			log.Fatal(err)
		}
		// UDP never resends: without a deadline a lost datagram would make us wait forever.
		conn.SetReadDeadline(time.Now().Add(timeout))
		n, err := conn.Read(buf)
		if errors.Is(err, syscall.ECONNREFUSED) { // an ICMP "port unreachable" came back
			log.Fatalf("refused: nothing listens on UDP %v", conn.RemoteAddr())
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			fmt.Printf("no echo after %v (try %d of %d)\n", timeout, attempt, tries)
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("echo from %v: %s\n", conn.RemoteAddr(), buf[:n])
		return
	}
	log.Fatalf("no echo after %d tries", tries)
}
