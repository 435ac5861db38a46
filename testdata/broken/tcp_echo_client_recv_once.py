#!/usr/bin/env python3
# BROKEN on purpose (labchat check tcp-client must say so): reads the reply with one recv.
import socket
import sys

sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
sock.sendall(b"hello labchat\n")
print("echo:", sock.recv(4096).decode(), flush=True)  # the bug: part of the reply at best
sock.close()
