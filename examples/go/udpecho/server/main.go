// UDP echo server: every datagram goes back to the address it came from.
//
//	go run ./examples/go/udpecho/server 5001
//	labchat udp-send 127.0.0.1:5001 hello --wait 1s
package main

import (
	"fmt"
	"log"
	"net"
	"os"
)

func main() {
	port, host := "5001", "0.0.0.0"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	if len(os.Args) > 2 {
		host = os.Args[2]
	}
	// socket + bind: no listen, no accept; one socket serves every client.
	conn, err := net.ListenPacket("udp4", net.JoinHostPort(host, port))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening on", conn.LocalAddr())
	// 65535: the largest UDP payload. A smaller buffer cuts a longer datagram; the rest is lost.
	buf := make([]byte, 65535)
	for {
		// recvfrom: exactly one datagram, and who sent it.
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("from %v %d bytes\n", addr, n)
		// sendto: one datagram back.
		if _, err := conn.WriteTo(buf[:n], addr); err != nil {
			fmt.Println("sendto:", err)
		}
	}
}
