#!/usr/bin/env python3
"""A TCP server that stops reading: watch the receive window fill up and close (zero window).

    python3 slow_reader.py 5003 5       # accept, read nothing for 5 s, then read everything
    head -c 2000000 /dev/zero | nc -N 127.0.0.1 5003    # a sender that does not stop
"""
import socket
import sys
import time


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 5003
    pause = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # A small receive buffer (set before listen, so the handshake announces it) fills fast.
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    server.bind(("0.0.0.0", port))
    server.listen()
    print("listening on %s:%d" % server.getsockname(), flush=True)
    conn, addr = server.accept()
    # Not calling recv: the kernel keeps what arrives in the receive buffer and announces
    # less and less window; at 0 the sender must stop and only probe now and then.
    print("accepted", addr, "- not reading for", pause, "s", flush=True)
    time.sleep(pause)
    total = 0
    while True:
        data = conn.recv(65536)  # reading frees the buffer: a window update lets it go on
        if not data:
            break
        total += len(data)
    print("read", total, "bytes", flush=True)
    conn.close()


if __name__ == "__main__":
    main()
