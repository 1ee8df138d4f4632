"""The load generator of bench_patches.py's echo row: many clients, one process, epoll.

    python bench/_echo_load.py PORT CLIENTS ROUNDS [WARMUP] [LIMIT_S]

Opens CLIENTS connections to 127.0.0.1:PORT, lets each make WARMUP round
trips (every handler started, every path warm), then times CLIENTS x ROUNDS
round trips: each client sends a 64-byte message, waits until the 64 bytes
are back, sends the next. All clients are driven from one thread with
level-triggered epoll on blocking sockets (a recv after EPOLLIN does not
block; a 64-byte send into an empty buffer does not either), so the client
side costs two system calls per round trip plus its share of epoll_wait.
Prints one JSON line: {"round_trips": n, "seconds": wall}.

Stdlib only and never patched: the same load for every column. Bounded:
gives up with exit status 1 when no reply came for 10 s or the whole run
took longer than LIMIT_S (default 120).
"""

import json
import select
import socket
import sys
import time

MSG = b"0123456789abcdef" * 4  # 64 bytes
SIZE = len(MSG)


def drive(socks, rounds, limit_s):
    """Run ``rounds`` round trips on every socket at once; return the wall time."""
    ep = select.epoll(len(socks))
    by_fd = {}
    left = {}
    pending = {}
    try:
        for s in socks:
            fd = s.fileno()
            by_fd[fd] = s
            left[fd] = rounds
            pending[fd] = SIZE
            ep.register(fd, select.EPOLLIN)
        active = len(socks)
        poll = ep.poll
        t0 = time.perf_counter()
        deadline = t0 + limit_s
        for s in socks:
            s.sendall(MSG)
        while active:
            events = poll(10.0)
            if not events:
                raise SystemExit("echo load: no reply for 10 s")
            for fd, _ in events:
                s = by_fd[fd]
                data = s.recv(4096)
                if not data:
                    raise SystemExit("echo load: the server closed a connection")
                rest = pending[fd] - len(data)
                if rest > 0:
                    pending[fd] = rest
                    continue
                if rest < 0:
                    raise SystemExit(f"echo load: {-rest} bytes more than were sent")
                n = left[fd] - 1
                left[fd] = n
                if n:
                    pending[fd] = SIZE
                    s.send(MSG)  # 64 bytes into an empty send buffer: all of it
                else:
                    ep.unregister(fd)
                    active -= 1
            if time.perf_counter() > deadline:
                raise SystemExit(f"echo load: not done after {limit_s} s")
        return time.perf_counter() - t0
    finally:
        ep.close()


def main():
    port, clients, rounds = (int(a) for a in sys.argv[1:4])
    warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    limit_s = float(sys.argv[5]) if len(sys.argv) > 5 else 120.0
    socks = []
    try:
        for _ in range(clients):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.settimeout(None)  # blocking: no poll() before each call
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(s)
        if warmup:
            drive(socks, warmup, limit_s)
        wall = drive(socks, rounds, limit_s)
    finally:
        for s in socks:
            s.close()
    print(json.dumps({"round_trips": clients * rounds, "seconds": wall}), flush=True)


if __name__ == "__main__":
    main()
