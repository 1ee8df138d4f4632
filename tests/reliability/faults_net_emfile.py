"""EMFILE: a process out of file descriptors, patched and unpatched (child side).

Run in a fresh interpreter whose RLIMIT_NOFILE is lowered first
(``lower_limit``), so that the test suite's own limit is untouched and the
fd table fills quickly; the rest of the table is then filled with
descriptors of /dev/null (``Hogs``), freed when the case says so.

``accept_loop_case``: a server's accept loop meets a full table. The loop
is written as Go's net/http writes it (Server.Serve: on a temporary error,
sleep 5 ms, doubling up to 1 s, and try again), since the stdlib's accept
gives the error to the program, as Go's Accept does, and retrying at once
would spin in the stdlib too. The program must see the stdlib's OSError
(EMFILE); while the table stays full the process must stay idle (a busy
loop, in the program's loop or in offset's netpoller re-reporting the
listening socket, would show as accept attempts and CPU time); and once
the fds are freed the waiting clients must be served.

``first_wait_case``: the table fills before the scheduler made its
netpoller (it is made at the first wait of a ``run()``, and needs two fds).
A sleep, a thread-pool call, a hand-off between goroutines, a recv that
waits (with and without a timeout) and a signal handler must all work as
they do unpatched, where none of them needs a new fd.

The same code runs under offset (in goroutines, ``faults_net_cases.Task``)
and unpatched (in plain threads).
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import socket
import threading
import time
from typing import Any

import child
import faults_net_cases as cases
from faults_net_cases import BOUND, Task

HEADROOM = 40  # fds above what the child has open when the limit is lowered
WINDOW = 1.0  # seconds the table stays full while the accept loop is watched


def lower_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + HEADROOM, hard))


class Hogs:
    """Fill the fd table (until EMFILE); ``free()`` closes them all."""

    def __init__(self) -> None:
        self.fds: list[int] = []
        while True:
            try:
                self.fds.append(os.open(os.devnull, os.O_RDONLY))
            except OSError as e:
                if e.errno != errno.EMFILE:
                    raise
                self.error = child.outcome(lambda: os.open(os.devnull, os.O_RDONLY))
                return
            if len(self.fds) > 100_000:
                raise AssertionError("RLIMIT_NOFILE was not lowered")

    def free(self) -> None:
        while self.fds:
            os.close(self.fds.pop())


def accept_loop_case() -> dict[str, Any]:
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    address = listener.getsockname()
    errors: list[Any] = []
    attempts = [0]  # accept() calls that failed
    stop = [False]
    workers: list[Task] = []

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.sendall(conn.recv(100).upper())

    def accept_loop() -> None:
        delay = 0.0
        while True:
            try:
                conn, _ = listener.accept()
            except OSError as e:
                if e.errno not in (errno.EMFILE, errno.ENFILE):
                    raise
                attempts[0] += 1
                if len(errors) < 3:
                    errors.append(["raise", type(e).__name__, str(e), e.errno])
                # Go's net/http Server.Serve: 5 ms, doubling, at most 1 s.
                delay = 0.005 if delay == 0 else min(delay * 2, 1.0)
                time.sleep(delay)
                continue
            delay = 0.0
            if stop[0]:
                conn.close()
                return
            workers.append(Task(serve, conn))

    loop = Task(accept_loop)
    # The clients' sockets exist before the table fills; their connects
    # need no new fd, and complete in the listener's backlog.
    clients = [socket.socket() for _ in range(3)]
    hogs = Hogs()
    try:
        for c in clients:
            c.settimeout(BOUND)
            c.connect(address)
        cases._poll(lambda: attempts[0] >= 1, "accept() to fail")
        moved = cases.BYSTANDERS.progress() if cases.BYSTANDERS is not None else None
        attempts0, cpu0 = attempts[0], time.process_time()
        time.sleep(WINDOW)
        window = {"attempts": attempts[0] - attempts0, "cpu": time.process_time() - cpu0}
        if moved is not None:
            window["bystanders"] = [b - a for a, b in zip(moved, cases.BYSTANDERS.progress())]
    finally:
        hogs.free()
    replies = []
    for i, c in enumerate(clients):
        with c:
            c.sendall(b"hello %d" % i)
            replies.append(c.recv(100).decode())
    stop[0] = True
    socket.create_connection(address).close()  # wakes the accept loop, which sees stop
    loop.join()
    for w in workers:
        w.join()
    listener.close()
    return {"full": hogs.error, "errors": errors, "window": window, "replies": replies, "served": len(workers)}


def first_wait_case() -> dict[str, Any]:
    """Everything the scheduler might need a new fd for, with none left."""
    a, b = socket.socketpair()
    hogs = Hogs()
    try:
        out: dict[str, Any] = {"full": hogs.error}
        out["sleep"] = child.outcome(lambda: time.sleep(0.02))
        # A thread-pool call (patched: offset.syscall; unpatched: a plain call).
        if cases.OFFSET:
            import offset

            out["syscall"] = child.outcome(lambda: offset.syscall(time.sleep)(0.01))
        else:
            out["syscall"] = child.outcome(lambda: time.sleep(0.01))

        def later() -> None:
            time.sleep(0.05)
            b.sendall(b"late")

        writer = Task(later)
        out["recv_waits"] = child.outcome(lambda: a.recv(100))
        writer.join()
        a.settimeout(0.05)
        out["recv_timeout"] = child.outcome(lambda: a.recv(100))
        hand_off = Task(lambda: b.recv(100))
        a.sendall(b"back")
        out["peer"] = hand_off.join().decode()
        # A signal while the scheduler sleeps without a netpoller: its
        # handler is deferred to the loop, with no netpoller to wake.
        caught: list[int] = []
        previous = signal.signal(signal.SIGUSR1, lambda signum, frame: caught.append(signum))
        try:
            killer = threading.Thread(target=lambda: (time.sleep(0.02), os.kill(os.getpid(), signal.SIGUSR1)))
            killer.start()
            time.sleep(0.1)
            killer.join()
            out["signal"] = caught == [signal.SIGUSR1]
        finally:
            signal.signal(signal.SIGUSR1, previous)
    finally:
        hogs.free()
        a.close()
        b.close()
    return out


def run(case: str) -> dict[str, Any]:
    """Run ``case`` unpatched, or in offset's main goroutine beside the bystanders."""
    fn = {"accept_loop": accept_loop_case, "first_wait": first_wait_case}[case]
    if not os.environ.get("FAULTS_OFFSET"):
        lower_limit()
        return {"outcome": child.outcome(fn)}
    import offset
    import offset.time  # noqa: F401 - Task.join's, imported while fds are free

    cases.OFFSET = True
    lower_limit()
    fds_before = cases.open_fds()
    threads_before = cases.os_threads()
    result: dict[str, Any] = {}

    def main() -> None:
        if case == "accept_loop":
            # Running bystanders made the netpoller before the table fills
            # (first_wait_case is the case where it was not).
            cases.BYSTANDERS = bystanders = cases.Bystanders()
            cases._poll(lambda: bystanders.trips > 0, "the echo client's first trip")
        try:
            result["outcome"] = child.outcome(fn)
        finally:
            if cases.BYSTANDERS is not None:
                cases.BYSTANDERS.close()
                cases.BYSTANDERS = None

    offset.run(main)
    deadline = time.monotonic() + BOUND
    while cases.os_threads() > threads_before and time.monotonic() < deadline:
        time.sleep(0.01)
    result["after_run"] = {
        "fds": cases.open_fds() == fds_before,
        "threads": cases.os_threads() - threads_before,
        "goroutines": offset.stats()["goroutines"],
    }
    return result
