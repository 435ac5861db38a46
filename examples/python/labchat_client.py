#!/usr/bin/env python3
"""Log in to `labchat serve` and send one message: labchat is just TCP and lines of text (IRC).

    LABCHAT_PASSWORD=labpass1 python3 labchat_client.py 127.0.0.1 6667 alice bob "hi bob"
"""
import os
import socket
import sys


def main():
    host, port, user, to = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    text = " ".join(sys.argv[5:]) or "hello"
    password = os.environ["LABCHAT_PASSWORD"]  # never on the command line: ps shows argv
    sock = socket.create_connection((host, port), timeout=30)  # a login on a busy server can take a while
    f = sock.makefile("rwb")  # lines in and out; the file object loops over recv for us

    def send(line):
        print(">>", line if not line.startswith("PASS") else "PASS ***", flush=True)
        f.write(line.encode("utf-8") + b"\r\n")  # IRC ends every line with CR LF
        f.flush()

    # Log in: PASS account:password, then NICK and USER; the server answers 001 (welcome).
    send("PASS %s:%s" % (user, password))
    send("NICK " + user)
    send("USER %s 0 * :%s" % (user, user))
    for raw in f:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        print("<<", line, flush=True)
        words = line.split(" ")
        if words[0] == "PING":  # the server checks we are alive; answer or be dropped
            send("PONG " + " ".join(words[1:]))
        elif len(words) > 1 and words[1] == "001":  # welcome: we are logged in
            send("PRIVMSG %s :%s" % (to, text))
            send("QUIT :done")
        elif len(words) > 1 and words[1] in ("464", "904"):  # wrong account or password
            sys.exit("login refused: " + line)
        elif words[0] == "ERROR":  # the server closes after QUIT
            break
    sock.close()


if __name__ == "__main__":
    main()
