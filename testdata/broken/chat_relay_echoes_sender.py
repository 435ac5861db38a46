#!/usr/bin/env python3
# BROKEN on purpose (labchat check chat-relay must say so): sends every line to everyone,
# the sender included.
import socket
import sys
import threading

clients, lock = [], threading.Lock()


def serve(conn):
    for line in conn.makefile("rb"):
        with lock:
            for c in clients:  # the bug: no "if c is not conn"
                c.sendall(line)


server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen()
print("listening on %s:%d" % server.getsockname(), flush=True)
while True:
    conn, _ = server.accept()
    with lock:
        clients.append(conn)
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
