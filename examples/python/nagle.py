#!/usr/bin/env python3
"""Nagle's algorithm: many small writes, with TCP_NODELAY off (the default) or on.

    python3 nagle.py 127.0.0.1 5000 20            # Nagle on: small writes wait and merge
    python3 nagle.py 127.0.0.1 5000 20 nodelay    # TCP_NODELAY: one segment per write
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
    for i in range(count):
        sock.sendall(b"%d\n" % i)  # 2-3 bytes per write, like keystrokes
        time.sleep(0.001)
    sock.shutdown(socket.SHUT_WR)  # FIN: no more data; then read the echo until the server's FIN
    received = b""
    while True:
        data = sock.recv(4096)
        if not data:
            break
        received += data
    print("wrote %d times, %d bytes echoed" % (count, len(received)), flush=True)
    sock.close()


if __name__ == "__main__":
    main()
