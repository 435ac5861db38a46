#!/usr/bin/env python3
# BROKEN on purpose (labchat check tcp-echo must say so): calls recv once per client, so a
# message longer than what has arrived by then is cut.
import socket
import sys

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen()
print("listening on %s:%d" % server.getsockname(), flush=True)
while True:
    conn, addr = server.accept()
    data = conn.recv(4096)  # the bug: no loop
    conn.sendall(data)
    conn.close()
