#!/usr/bin/env python3
"""TCP echo client: connect, send a line, read the echo back, close.

    python3 tcp_echo_client.py 127.0.0.1 5000 "hello"       # one line
    printf 'one\ntwo\n' | python3 tcp_echo_client.py 127.0.0.1 5000   # lines from stdin
"""
import socket
import sys


def recv_line(sock):
    """Read until the echo's \\n: TCP is a byte stream, one recv may return part of a line."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:  # the server closed before the line ended
            break
        data += chunk
    return data


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    lines = sys.argv[3:] or [line.rstrip("\n") for line in sys.stdin]
    # 1. socket; 2. connect: the kernel sends SYN, gets SYN/ACK, sends ACK (the handshake).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(10)  # never wait forever for a server that does not answer
    sock.connect((host, port))
    print("connected from %s:%d" % sock.getsockname(), flush=True)
    for line in lines:
        # send: "\n" marks where our message ends; TCP itself keeps no boundaries.
        sock.sendall(line.encode("utf-8") + b"\n")
        reply = recv_line(sock)
        print("echo:", reply.decode("utf-8", "replace").rstrip("\n"), flush=True)
    # close: our FIN goes out; the server's recv returns b"" and it closes too.
    sock.close()


if __name__ == "__main__":
    main()
