#!/usr/bin/env python3
"""TCP echo server: the six steps of every TCP server (socket, bind, listen, accept,
send/recv, close), with one thread per client so that several are served at once.

    python3 tcp_echo_server.py 5000            # port 0: the kernel picks a free one
    labchat check tcp-echo 127.0.0.1:5000      # test it
"""
import socket
import sys
import threading


def serve(conn, addr):
    print("accepted", addr, flush=True)
    with conn:
        try:
            while True:
                # 5. recv: returns what has arrived so far (1 byte up to 4096), not "a message".
                #    b"" means the client sent its FIN: it closed its side.
                data = conn.recv(4096)
                if not data:
                    break
                # 5. send: sendall loops until every byte is in the kernel's send buffer.
                conn.sendall(data)
        except ConnectionResetError:
            print("reset by", addr, flush=True)  # an RST: the client vanished mid-way
            return
    # 6. close (the with block): our FIN goes out, answering the client's.
    print("closed", addr, flush=True)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    host = sys.argv[2] if len(sys.argv) > 2 else "0.0.0.0"
    # 1. socket: AF_INET = IPv4, SOCK_STREAM = TCP. Nothing goes on the wire yet.
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Lets a restarted server bind at once, while old connections are still in TIME-WAIT.
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # 2. bind: claim the port. Port 0 asks the kernel for a free one.
    server.bind((host, port))
    # 3. listen: from now on the kernel answers SYNs with SYN/ACK by itself.
    server.listen()
    print("listening on %s:%d" % server.getsockname(), flush=True)
    while True:
        # 4. accept: takes one finished handshake off the queue; conn is a new socket
        #    for that one client, server keeps listening for the next.
        conn, addr = server.accept()
        threading.Thread(target=serve, args=(conn, addr), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
