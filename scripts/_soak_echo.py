"""The two programs of the echo soak (``echo_soak`` in scripts/_soak.py).

    python -m offset scripts/_soak_echo.py server LIMIT_S [FLIP_AT]
    python -m offset scripts/_soak_echo.py client PORT CONNS ROUNDS SEED LIMIT_S

Both run under ``python -m offset``, everything patched, and are ordinary
blocking-socket programs with a goroutine per connection (the client has
two: one writes, one reads and checks). Traffic goes to 127.0.0.1 only.

server: listens on 127.0.0.1 (a free port), prints ``port N``, and echoes
what arrives on each connection until the client closes it. When its stdin
reaches EOF it closes the listener, waits for its handlers, prints
``result {json}`` (connections accepted, the most open at once, bytes
echoed, goroutines and fds left) and exits.

client: prints ``started`` once it has started, opens CONNS connections (at most ``CONNECTING`` connecting at once:
the listen backlog is bounded by somaxconn), and once every one is open,
prints ``connected N`` and makes ROUNDS round trips on each, all at once.
A round trip sends one payload, reads its echo back whole and compares it
with what was sent: every byte is verified. A payload is a 16-byte header
(total length, connection, round, CRC-32 of the body) and a body cut from
a random pool; sizes are log-uniform from 16 bytes to 16 KiB, and one
round trip in ``LARGE_EVERY`` carries ``LARGE`` bytes, four times what
both ends' socket buffers hold together (``BUF``, set on every socket:
Linux would otherwise let loopback's send buffer grow to megabytes), so
that both sides' ``sendall`` must wait for room. The header says what went
wrong when an echo differs: another connection's data, another round's,
or bytes changed in transit. The client prints ``progress K`` at each
tenth of the round trips, keeps every connection open until all are done
(so the end of the run has as many connections open as its first tenth),
prints ``finished`` and waits for a line on stdin (the orchestrator samples
RSS meanwhile), closes them and prints ``result {json}``.

``FLIP_AT`` plants a defect, for the test that checks that the client
notices one: the server flips one bit of the byte at that offset of all it
echoes.

Each exits with status 3 and a goroutine dump on stderr if it is not done
within LIMIT_S seconds (the orchestrator gives each a little less than its
own deadline, so that the dump tells where a run stuck).
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import socket
import struct
import sys
import zlib
from collections.abc import Callable
from typing import cast

import offset
from offset import go, makechan, time
from offset.sync import Semaphore, WaitGroup

BUF = 32 * 1024  # SO_SNDBUF and SO_RCVBUF of every socket (Linux doubles it: 64 KiB)
LARGE = 512 * 1024  # a large payload: 4x what a socket's two buffers hold together
LARGE_EVERY = 400  # one round trip in this many is large
SMALL_MIN, SMALL_MAX = 16, 16 * 1024
HEADER = struct.Struct("!IIII")  # total length, connection, round, crc32(body)
POOL_SIZE = 1 << 20
CONNECTING = 256  # connects in flight at once


class EchoError(AssertionError):
    """An echo came back wrong, or a connection ended early."""


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def say(line: str) -> None:
    # A short line into a pipe the orchestrator drains: it does not block.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _mallinfo2() -> Callable[[], _Mallinfo2] | None:
    try:
        fn = ctypes.CDLL(None).mallinfo2  # glibc 2.33 and later
    except (AttributeError, OSError):
        return None
    fn.restype = _Mallinfo2
    fn.argtypes = []
    return cast("Callable[[], _Mallinfo2]", fn)


_MALLINFO2 = _mallinfo2()


def heap_figures() -> dict[str, int]:
    """What the allocators hold, beside RSS: live objects, and glibc's heap in use and free.

    ``blocks``: memory blocks Python has allocated and not freed
    (``sys.getallocatedblocks``: objects, buffers, greenlets' saved stacks).
    ``malloc_in_use_kib``: what glibc's malloc has handed out and not had
    back (mallinfo2 ``uordblks + hblkhd``); ``malloc_free_kib``: what it
    holds freed, in its heap (``fordblks``), which RSS still counts where
    those pages were touched: glibc gives back only the top of its heap.
    Python's small objects live in its own arenas, outside malloc's figures.
    """
    figures = {"blocks": sys.getallocatedblocks()}
    if _MALLINFO2 is not None:
        m = _MALLINFO2()
        figures["malloc_in_use_kib"] = (m.uordblks + m.hblkhd) // 1024
        figures["malloc_free_kib"] = m.fordblks // 1024
    return figures


def watchdog(limit_s: float, what: str, progress: dict[str, int]) -> None:
    """End the process, with a goroutine dump, if it is still running after limit_s."""
    time.sleep(int(limit_s * time.SECOND))
    sys.stderr.write(f"{what}: not done after {limit_s:g} s; progress {progress}\n")
    offset.dump(sys.stderr)
    sys.stderr.flush()
    os._exit(3)


# -- server -----------------------------------------------------------------


def server(limit_s: float, flip_at: int = -1) -> None:
    state = {"accepted": 0, "active": 0, "peak": 0, "bytes": 0}
    handlers = WaitGroup()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit the listener's buffer sizes.
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUF)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUF)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4096)

    def handle(conn: socket.socket) -> None:
        state["active"] += 1
        state["peak"] = max(state["peak"], state["active"])
        try:
            with conn:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    done = state["bytes"]
                    if done <= flip_at < done + len(data):
                        i = flip_at - done
                        data = data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]
                    conn.sendall(data)
                    state["bytes"] += len(data)
        finally:
            state["active"] -= 1
            handlers.done()

    def watch_stdin() -> None:
        # A line "heap" asks for heap_figures(); EOF ends the run.
        buf = b""
        while data := os.read(0, 4096):
            *lines, buf = (buf + data).split(b"\n")
            for line in lines:
                if line == b"heap":
                    say("heap " + json.dumps(heap_figures()))
        lsock.close()  # the accept loop's accept() raises OSError(EBADF)

    go(watchdog, limit_s, "echo server", state)
    go(watch_stdin)
    # Let watch_stdin park in the netpoller (made at the first idle wait), so
    # that the fds counted after "port" are the server's baseline.
    time.sleep(time.MILLISECOND)
    say(f"port {lsock.getsockname()[1]}")
    while True:
        try:
            conn, _ = lsock.accept()
        except OSError:
            if lsock.fileno() == -1:
                break  # closed by watch_stdin: the run is over
            raise
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state["accepted"] += 1
        handlers.add(1)
        go(handle, conn)
    handlers.wait()
    stats = offset.stats()
    result = dict(
        state,
        goroutines=stats["goroutines"],
        fds=fd_count(),
        netpoll_fds=stats["netpoll_fds"],
        netpoll_waits=stats["netpoll_waits"],
        timers=stats["timers"],
    )
    say("result " + json.dumps(result))


# -- client -----------------------------------------------------------------


def payload(pool: bytes, rng: random.Random, conn: int, rnd: int, conns: int) -> bytes:
    """The payload of round ``rnd`` of connection ``conn``.

    Large ones are spread over the rounds (counted round by round, one
    round trip in LARGE_EVERY), so that the connections do not all send
    theirs at once: 2,500 at once would hold 2.5 GiB, and the allocator
    would keep that high-water mark for the rest of the run.
    """
    if (rnd * conns + conn) % LARGE_EVERY == 0:
        size = LARGE
    else:
        size = int(SMALL_MIN * (SMALL_MAX / SMALL_MIN) ** rng.random())
    n = size - HEADER.size
    start = rng.randrange(POOL_SIZE - n)
    body = pool[start : start + n]
    return HEADER.pack(size, conn, rnd, zlib.crc32(body)) + body


def mismatch(conn: int, rnd: int, sent: bytes, got: bytearray) -> str:
    """What is wrong with ``got``, the echo of ``sent``, in words."""
    size, c, r, crc = HEADER.unpack_from(got)
    where = f"connection {conn}, round {rnd} ({len(sent)} bytes)"
    if (c, r) != (conn, rnd):
        return f"{where}: the echo starts with the header of connection {c}, round {r}"
    first = next(i for i in range(len(sent)) if sent[i] != got[i])
    body_ok = zlib.crc32(got[HEADER.size :]) == crc
    return f"{where}: the echo differs from byte {first} on (body CRC-32 {'matches' if body_ok else 'differs'})"


def client(port: int, conns: int, rounds: int, seed: int, limit_s: float) -> None:
    time.sleep(time.MILLISECOND)  # the netpoller is made at the first idle wait: count its fds in
    pool = random.Random(seed).randbytes(POOL_SIZE)
    fds_before = fd_count()
    say("started")
    total = conns * rounds
    marks = [total * k // 10 for k in range(1, 11)]
    state = {"connected": 0, "finished": 0, "round_trips": 0, "bytes": 0, "large": 0, "tenth": 0}
    all_connected = makechan()
    all_finished = makechan()
    connecting = Semaphore(CONNECTING)
    wg = WaitGroup()

    def writer(sock: socket.socket, out: offset.Chan[bytes], done: offset.Chan[None]) -> None:
        for p in out:
            sock.sendall(p)
        done.close()

    def conn_main(i: int) -> None:
        rng = random.Random(seed * 1_000_003 + i)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            # Before connect, so that the window is scaled for them.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUF)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUF)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with connecting:
                sock.connect(("127.0.0.1", port))
            state["connected"] += 1
            if state["connected"] == conns:
                say(f"connected {conns}")
                all_connected.close()
            all_connected.recv()
            out: offset.Chan[bytes] = makechan()
            done: offset.Chan[None] = makechan()
            go(writer, sock, out, done)
            for r in range(rounds):
                p = payload(pool, rng, i, r, conns)
                n = len(p)
                out.send(p)
                got = bytearray(n)
                view = memoryview(got)
                k = 0
                while k < n:
                    m = sock.recv_into(view[k:])
                    if m == 0:
                        raise EchoError(f"connection {i}, round {r}: the server closed it after {k} of {n} bytes")
                    k += m
                view.release()
                if got != p:
                    raise EchoError(mismatch(i, r, p, got))
                state["bytes"] += n
                state["large"] += n == LARGE
                state["round_trips"] += 1
                while state["tenth"] < 10 and state["round_trips"] >= marks[state["tenth"]]:
                    state["tenth"] += 1
                    say(f"progress {state['tenth']}")
            out.close()
            done.recv()
            state["finished"] += 1
            if state["finished"] == conns:
                # The orchestrator samples RSS with every connection still
                # open, then writes a line (or closes our stdin).
                say("finished")
                os.read(0, 64)
                all_finished.close()
            all_finished.recv()  # every connection stays open until all are done
        finally:
            sock.close()
            wg.done()

    go(watchdog, limit_s, "echo client", state)
    wg.add(conns)
    for i in range(conns):
        go(conn_main, i)
    wg.wait()
    fds_after = fd_count()
    stats = offset.stats()
    result = dict(
        state,
        fds_before=fds_before,
        fds_after=fds_after,
        goroutines=stats["goroutines"],
        netpoll_fds=stats["netpoll_fds"],
        netpoll_waits=stats["netpoll_waits"],
        timers=stats["timers"],
    )
    say("result " + json.dumps(result))


def main(argv: list[str]) -> None:
    if not offset.patches.is_patched("socket"):
        sys.exit("run as: python -m offset scripts/_soak_echo.py server|client ...")
    if argv[:1] == ["server"] and len(argv) in (2, 3):
        server(float(argv[1]), *(int(a) for a in argv[2:]))
    elif argv[:1] == ["client"] and len(argv) == 6:
        port, conns, rounds, seed = (int(a) for a in argv[1:5])
        client(port, conns, rounds, seed, float(argv[5]))
    else:
        sys.exit("usage: _soak_echo.py server LIMIT_S [FLIP_AT] | client PORT CONNS ROUNDS SEED LIMIT_S")


if __name__ == "__main__":
    main(sys.argv[1:])
