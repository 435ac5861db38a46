#!/usr/bin/env python3
"""Chat relay: every line a client sends goes to all the other clients, not back to it.
One thread per client; a lock guards the list of clients.

    python3 chat_relay.py 5002
    nc 127.0.0.1 5002          # in two or three terminals, then type
    labchat check chat-relay 127.0.0.1:5002
"""
import socket
import sys
import threading

clients = []  # sockets of the connected clients
lock = threading.Lock()  # guards clients: every thread reads or changes it


def broadcast(line, sender):
    with lock:
        others = [c for c in clients if c is not sender]
    for c in others:
        try:
            c.sendall(line)
        except OSError:
            pass  # that client is gone; its own thread removes it


def serve(conn, addr):
    name = ("%s:%d" % addr).encode()
    buf = b""
    try:
        while True:
            data = conn.recv(4096)
            if not data:
                break
            buf += data
            # A line is complete at "\n"; a recv may bring half a line or several lines.
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                broadcast(b"[" + name + b"] " + line + b"\n", conn)
    except OSError:
        pass  # reset by the client: treat like a close
    finally:
        with lock:
            clients.remove(conn)
        conn.close()
        print("left", addr, flush=True)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 5002
    host = sys.argv[2] if len(sys.argv) > 2 else "0.0.0.0"
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen()
    print("listening on %s:%d" % server.getsockname(), flush=True)
    while True:
        conn, addr = server.accept()
        with lock:
            clients.append(conn)
        print("joined", addr, flush=True)
        threading.Thread(target=serve, args=(conn, addr), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
