#!/usr/bin/env python3
"""UDP echo client: send one datagram, wait for the echo; resend if it does not come.

    python3 udp_echo_client.py 127.0.0.1 5001 "hello"
    labchat udp-listen --listen 5001 --echo        # a server to talk to
"""
import socket
import sys

TIMEOUT = 1.0  # seconds to wait for the echo before sending again
TRIES = 5


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    message = (" ".join(sys.argv[3:]) or "hello").encode("utf-8")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # UDP never resends: a lost datagram or a lost echo is simply gone. Without a timeout
    # recvfrom would wait for ever; with one, it raises socket.timeout and we try again.
    sock.settimeout(TIMEOUT)
    for attempt in range(1, TRIES + 1):
        # sendto: one datagram; the kernel picks our port on the first send.
        sock.sendto(message, (host, port))
        try:
            data, addr = sock.recvfrom(65535)
        except socket.timeout:
            print("no echo after %.1f s (try %d of %d)" % (TIMEOUT, attempt, TRIES), flush=True)
            continue
        except ConnectionRefusedError:
            # An ICMP "port unreachable" came back: nothing listens on that port.
            sys.exit("refused: nothing listens on UDP %s:%d" % (host, port))
        print("echo from %s:%d: %s" % (addr[0], addr[1], data.decode("utf-8", "replace")), flush=True)
        return
    sys.exit("no echo after %d tries" % TRIES)


if __name__ == "__main__":
    main()
