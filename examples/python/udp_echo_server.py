#!/usr/bin/env python3
"""UDP echo server: every datagram goes back to the address it came from.

    python3 udp_echo_server.py 5001                 # port 0: the kernel picks one
    labchat udp-send 127.0.0.1:5001 hello --wait 1s # talk to it
    labchat check udp-echo 127.0.0.1:5001           # test it
"""
import socket
import sys


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 5001
    host = sys.argv[2] if len(sys.argv) > 2 else "0.0.0.0"
    # SOCK_DGRAM = UDP: no listen, no accept, no connection; one socket for every client.
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    print("listening on %s:%d" % sock.getsockname(), flush=True)
    while True:
        # recvfrom: exactly one datagram, and who sent it. 65535 is the largest UDP payload:
        # with a smaller buffer a longer datagram would be cut, and the rest is lost.
        data, addr = sock.recvfrom(65535)
        print("from %s:%d %d bytes" % (addr[0], addr[1], len(data)), flush=True)
        # sendto: one datagram back, to the address the kernel gave us.
        sock.sendto(data, addr)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
