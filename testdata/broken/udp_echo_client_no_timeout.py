#!/usr/bin/env python3
# BROKEN on purpose (labchat check udp-client must say so): no timeout, so a lost reply makes
# it wait forever instead of sending again.
import socket
import sys

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.sendto(b"hello", (sys.argv[1], int(sys.argv[2])))
data, addr = sock.recvfrom(65535)  # the bug: no settimeout, no retry
print("echo:", data.decode(), flush=True)
