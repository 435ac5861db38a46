#!/usr/bin/env python3
"""Nagle's algorithm: many small writes, with TCP_NODELAY off (the default) or on.

    python3 slow_reader.py 5003 0                     # a receiver that reads and never writes
    python3 nagle.py 127.0.0.1 5003 50                # Nagle on: small writes wait and merge
    python3 nagle.py 127.0.0.1 5003 50 nodelay        # TCP_NODELAY: one segment per write
"""
import socket
import sys
import time


def main():
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sock = socket.create_connection((host, port), timeout=10)
    if sys.argv[4:] == ["nodelay"]:
        # Nagle: while sent data waits for its ACK, hold small writes back and send them
        # together. TCP_NODELAY turns that off: every write leaves at once.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = time.monotonic()
    for i in range(count):
        sock.sendall(b"%d\n" % i)  # 2-3 bytes per write, like keystrokes in a chat
    sock.close()
    print("%d writes in %.1f ms" % (count, (time.monotonic() - start) * 1000), flush=True)


if __name__ == "__main__":
    main()
