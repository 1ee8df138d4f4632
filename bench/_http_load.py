"""The load generator of bench_gunicorn.py: many keep-alive HTTP clients, one process, epoll.

    python bench/_http_load.py PORT CONNECTIONS ROUNDS PATH [WARMUP] [LIMIT_S]

Opens CONNECTIONS connections to 127.0.0.1:PORT, lets each make WARMUP
requests (the worker's handlers, the app's imports and pools warm), then
times CONNECTIONS x ROUNDS requests: each connection sends ``GET PATH``
(HTTP/1.1, keep-alive), reads the whole response (status line, headers,
``Content-Length`` bytes of body), checks the status is 200, and sends the
next. A connection the server closes (``Connection: close``, or its
keep-alive timeout) is opened again and carries on. All connections are
driven from one thread with level-triggered epoll, so the client costs the
same whichever worker serves. Prints one JSON line: {"requests": n,
"seconds": wall, "reconnects": k}.

Stdlib only and never patched. Bounded: exits with status 1 when no
response came for 30 s or the whole run took longer than LIMIT_S (default
120), or on a status other than 200.
"""

import json
import select
import socket
import sys
import time

STALL_S = 30.0


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.settimeout(None)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Conn:
    """One client connection: its socket, what it has read of the current response."""

    def __init__(self, port, request):
        self.port = port
        self.request = request
        self.sock = connect(port)
        self.buf = b""
        self.need = -1  # length of the whole response; -1: its headers are not all read yet
        self.close = False  # the response said Connection: close

    def send(self):
        self.buf = b""
        self.need = -1
        self.close = False
        self.sock.sendall(self.request)

    def feed(self, data):
        """Take ``data``; True when the response is complete (then ``close`` says if the server will close)."""
        self.buf += data
        if self.need < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return False
            head = self.buf[:end].decode("latin-1").split("\r\n")
            status = head[0].split(" ", 2)
            if len(status) < 2 or status[1] != "200":
                raise SystemExit(f"http load: {head[0]!r}")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value.strip().lower() == "close":
                    self.close = True
            self.need = end + 4 + length
        return len(self.buf) >= self.need


def drive(conns, rounds, limit_s):
    """``rounds`` requests on every connection at once; (wall seconds, reconnects)."""
    ep = select.epoll(len(conns))
    by_fd = {}
    left = {}
    reconnects = 0
    try:
        for c in conns:
            fd = c.sock.fileno()
            by_fd[fd] = c
            left[c] = rounds
            ep.register(fd, select.EPOLLIN)
        active = len(conns)
        t0 = time.perf_counter()
        deadline = t0 + limit_s
        for c in conns:
            c.send()
        while active:
            events = ep.poll(STALL_S)
            if not events:
                raise SystemExit(f"http load: no response for {STALL_S} s")
            for fd, _ in events:
                c = by_fd[fd]
                data = c.sock.recv(65536)
                if not data:
                    raise SystemExit("http load: the server closed a connection in the middle of a response")
                if not c.feed(data):
                    continue
                n = left[c] - 1
                left[c] = n
                if c.close or not n:
                    ep.unregister(fd)
                    del by_fd[fd]
                    c.sock.close()
                    if not n:
                        active -= 1
                        continue
                    reconnects += 1
                    c.sock = connect(c.port)
                    by_fd[c.sock.fileno()] = c
                    ep.register(c.sock.fileno(), select.EPOLLIN)
                c.send()
            if time.perf_counter() > deadline:
                raise SystemExit(f"http load: not done after {limit_s} s")
        return time.perf_counter() - t0, reconnects
    finally:
        ep.close()


def main():
    port, connections, rounds = (int(a) for a in sys.argv[1:4])
    path = sys.argv[4]
    warmup = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    limit_s = float(sys.argv[6]) if len(sys.argv) > 6 else 120.0
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    if warmup:
        warm = [Conn(port, request) for _ in range(connections)]
        drive(warm, warmup, limit_s)
    conns = [Conn(port, request) for _ in range(connections)]
    wall, reconnects = drive(conns, rounds, limit_s)
    print(json.dumps({"requests": connections * rounds, "seconds": wall, "reconnects": reconnects}), flush=True)


if __name__ == "__main__":
    main()
