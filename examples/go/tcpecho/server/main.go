// TCP echo server: the six steps of a TCP server, one goroutine per client.
//
//	go run ./examples/go/tcpecho/server 5000        (port 0: the kernel picks one)
//	labchat check tcp-echo 127.0.0.1:5000
package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"
)

func main() {
	port, host := "5000", "0.0.0.0"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	if len(os.Args) > 2 {
		host = os.Args[2]
	}
	// 1-3. socket + bind + listen in one call: from now on the kernel answers SYNs itself.
	ln, err := net.Listen("tcp4", net.JoinHostPort(host, port))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening on", ln.Addr())
	for {
		// 4. accept: one finished handshake; conn is a new socket for that client.
		conn, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(conn)
	}
}

func serve(conn net.Conn) {
	fmt.Println("accepted", conn.RemoteAddr())
	// 6. close when done: our FIN answers the client's.
	defer conn.Close()
	buf := make([]byte, 4096)
	for {
		// 5. recv: what has arrived so far, not "a message"; io.EOF is the client's FIN.
		n, err := conn.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("read:", err) // e.g. a RST: "connection reset by peer"
			return
		}
		// 5. send: Write loops until all n bytes are in the kernel's send buffer.
		if _, err := conn.Write(buf[:n]); err != nil {
			fmt.Println("write:", err)
			return
		}
	}
	fmt.Println("closed", conn.RemoteAddr())
}
