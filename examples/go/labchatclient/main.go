// Log in to `labchat serve` and send one message: labchat is just TCP and lines of text (IRC).
//
//	LABCHAT_PASSWORD=labpass1 go run ./examples/go/labchatclient 127.0.0.1 6667 alice bob "hi bob"
package main

import (
	"bufio"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 5 {
		log.Fatal("usage: labchatclient HOST PORT USER TO [TEXT...]")
	}
	host, port, user, to := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	text := strings.Join(os.Args[5:], " ")
	if text == "" {
		text = "hello"
	}
	password := os.Getenv("LABCHAT_PASSWORD") // never on the command line: ps shows argv
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	send := func(line string) {
		if strings.HasPrefix(line, "PASS") {
			fmt.Println(">> PASS ***")
		} else {
			fmt.Println(">>", line)
		}
		fmt.Fprintf(conn, "%s\r\n", line) // IRC ends every line with CR LF
	}
	// Log in: PASS account:password, then NICK and USER; the server answers 001 (welcome).
	send("PASS " + user + ":" + password)
	send("NICK " + user)
	send("USER " + user + " 0 * :" + user)
	in := bufio.NewScanner(conn)
	for in.Scan() {
		line := in.Text()
		fmt.Println("<<", line)
		words := strings.Fields(line)
		switch {
		case len(words) > 0 && words[0] == "PING": // answer or be dropped
			send("PONG " + strings.Join(words[1:], " "))
		case len(words) > 1 && words[1] == "001": // welcome: logged in
			send("PRIVMSG " + to + " :" + text)
			send("QUIT :done")
		case len(words) > 1 && (words[1] == "464" || words[1] == "904"):
			log.Fatal("login refused: ", line)
		case len(words) > 0 && words[0] == "ERROR": // the server closes after QUIT
			return
		}
	}
}
