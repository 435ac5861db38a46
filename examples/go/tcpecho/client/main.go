// TCP echo client: connect, send each line, read its echo, close.
//
//	go run ./examples/go/tcpecho/client 127.0.0.1 5000 hello
//	printf 'one\ntwo\n' | go run ./examples/go/tcpecho/client 127.0.0.1 5000
package main

import (
	"bufio"
	"fmt"
	"log"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		log.Fatal("usage: client HOST PORT [LINE...]")
	}
	lines := os.Args[3:]
	if len(lines) == 0 {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
	}
	// socket + connect: the kernel sends SYN, gets SYN/ACK, sends ACK.
	conn, err := net.DialTimeout("tcp4", net.JoinHostPort(os.Args[1], os.Args[2]), 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("connected from", conn.LocalAddr())
	// ReadString loops over Read until '\n': one Read may return part of a line.
	in := bufio.NewReader(conn)
	for _, line := range lines {
		conn.SetDeadline(time.Now().Add(10 * time.Second)) // never wait forever
		// "\n" marks where our message ends; TCP itself keeps no boundaries.
		if _, err := conn.Write([]byte(line + "\n")); err != nil {
			log.Fatal(err)
		}
		reply, err := in.ReadString('\n')
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print("echo: ", reply)
	}
	// close: our FIN; the server's Read returns io.EOF and it closes too.
	conn.Close()
}
