// Chat relay: every line a client sends goes to all the other clients, not back to it.
// One goroutine per client; mu guards the set of clients.
//
//	go run ./examples/go/chatrelay 5002
//	nc 127.0.0.1 5002        (in two or three terminals)
package main

import (
	"bufio"
	"fmt"
	"log"
	"net"
	"os"
	"sync"
	"time"
)

var (
	mu      sync.Mutex // guards clients
	clients = map[net.Conn]bool{}
)

func broadcast(line string, sender net.Conn) {
	mu.Lock()
	defer mu.Unlock()
	for c := range clients {
		if c != sender {
			// A client that stopped reading must not stall everyone: give up after 2 s.
			c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			c.Write([]byte(line))
		}
	}
}

func serve(conn net.Conn) {
	defer func() {
		mu.Lock()
		delete(clients, conn)
		mu.Unlock()
		conn.Close()
		fmt.Println("left", conn.RemoteAddr())
	}()
	// Scanner loops over Read and splits at "\n": a Read may bring half a line or several.
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		broadcast(fmt.Sprintf("[%v] %s\n", conn.RemoteAddr(), sc.Text()), conn)
	}
}

func main() {
	port, host := "5002", "0.0.0.0"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	if len(os.Args) > 2 {
		host = os.Args[2]
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort(host, port))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening on", ln.Addr())
	for {
		conn, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		mu.Lock()
		clients[conn] = true
		mu.Unlock()
		fmt.Println("joined", conn.RemoteAddr())
		go serve(conn)
	}
}
