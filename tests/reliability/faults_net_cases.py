"""Network faults run the same way patched and unpatched (child side).

Each case is a plain function using the socket and ssl modules as any
program would; the faults are real (a peer's RST through SO_LINGER 0, a
peer's FIN, a port nobody listens on, a listener whose accept queue is full,
a name the resolver does not know). ``run_plain()`` runs every case in an
interpreter where offset is not even imported, with plain threads for the
peers; ``run_offset()`` runs the same cases patched, in goroutines, with the
peers as goroutines too, and reports for each case:

- ``outcome``: what the program saw (``child.outcome``: value, or exception
  type, message, errno and ``__context__``), compared by the test with the
  unpatched run's;
- that the others carried on: while the case's victim is blocked, and
  again after the fault, a ticker goroutine must tick and another
  connection (an echo server goroutine and its client goroutine) must make
  round trips (``hold``), or the child fails;
- ``left``: what the case left behind, measured after it returned: open fds
  (/proc/self/fd), goroutines (``offset.stats()``) and threads that are not
  the thread pool's.

"The victim is blocked" is exact under offset: the peer goroutine waits
until the victim's socket is armed in the scheduler's netpoller, then waits
until the bystanders have made progress, then strikes. Unpatched, the peer
thread sleeps a little instead; a fault that lands before the victim blocks
gives the same error there (a reset is reported by the next call either
way), so the comparison does not depend on that sleep.

The connects that cannot complete go to a listener whose accept queue is
full (``full_listener``, tests/patches/child.py's): on Linux
the SYN is then dropped, SYN cookies or not, so the connect waits for its
own timeout, on 127.0.0.1 and without depending on any route.

Name resolution is made local: ``__nss_configure_lookup("hosts", "files")``
(glibc) limits the hosts database to /etc/hosts for the whole process, so a
name under ``.invalid`` (RFC 2606) fails without a packet leaving the
machine (this machine's nsswitch.conf says "files dns", and its nameserver
is not on 127.0.0.1). Where glibc is missing the case reports "skip".
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import child

BOUND = 10.0  # seconds any wait in a case may take before it fails
BIG = b"x" * (32 << 20)  # more than loopback's send and receive buffers hold
SLOW_T = 0.5  # the connect timeout of the 100 connects that cannot complete
N = 100  # goroutines (threads unpatched) making the same failing call at once
UNKNOWN = "no-such-host.offset-faults.invalid"

_cases = child.Cases()
case = _cases.case

OFFSET = False  # set by run_offset()


# -- local name resolution ---------------------------------------------------


def _hosts_only() -> bool:
    """Limit the process's hosts lookups to /etc/hosts (glibc); False if we can't."""
    try:
        libc = ctypes.CDLL(None)
        configure = libc.__nss_configure_lookup
    except (OSError, AttributeError):
        return False
    return bool(configure(b"hosts", b"files") == 0)


HOSTS_ONLY = _hosts_only()


# -- goroutine or thread -----------------------------------------------------


class Task:
    """``fn(*args)`` in a goroutine (patched run) or a plain thread (unpatched)."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        if OFFSET:
            import offset

            self.done: Any = offset.makechan(1)
            offset.go(self._run, fn, args)
        else:
            self.thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
            self.thread.start()

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self.result = fn(*args)
        except Exception as e:  # noqa: BLE001 - given to join()
            self.error = e
        finally:
            if OFFSET:
                self.done.send(None)

    def join(self) -> Any:
        if OFFSET:
            import offset
            from offset import time as otime

            timer = otime.Timer(int(BOUND * otime.SECOND))
            try:
                if offset.select(self.done.if_recv(), timer.c.if_recv()) != self.done.if_recv():
                    raise AssertionError("a task did not finish in time")
            finally:
                timer.stop()
        else:
            self.thread.join(BOUND)
            if self.thread.is_alive():
                raise AssertionError("a task did not finish in time")
        if self.error is not None:
            raise self.error
        return self.result


def _poll(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def strike(fd: int, mode: str, fault: Callable[[], Any], waiters: int = 1) -> None:
    """Cause ``fault()`` once ``waiters`` goroutines wait on ``fd`` for ``mode`` ("r"/"w").

    Under offset that is exact: the netpoller has the fd armed (a second
    waiter on the same fd and mode joins the first, see _io.py), and the
    bystanders are then given time to move. Unpatched, a short sleep. The
    fault is caused even if the wait is not seen (the case then fails on
    this task's error, rather than hang).
    """
    try:
        if OFFSET:
            _poll(lambda: _waiting(fd, mode) >= waiters, f"{waiters} goroutine(s) to wait on fd {fd} ({mode!r})")
            hold()
        else:
            time.sleep(0.1)
    finally:
        fault()


def _waiting(fd: int, mode: str) -> int:
    """How many goroutines of this scheduler wait on ``fd`` for ``mode``."""
    from offset._core import current_goroutine

    g = current_goroutine()
    assert g is not None
    poller = g.sched._poller
    head = poller.armed(fd, mode) if poller is not None else None
    if head is None:
        return 0
    return 1 + len(getattr(head, "more", None) or ())


# -- bystanders (patched run) ------------------------------------------------


class Bystanders:
    """A ticker goroutine and a served connection, which must keep going."""

    def __init__(self) -> None:
        self.ticks = 0
        self.trips = 0
        self.stop = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.tasks = [Task(self._ticker), Task(self._echo_server), Task(self._echo_client)]

    def _ticker(self) -> None:
        while not self.stop:
            time.sleep(0.003)
            self.ticks += 1

    def _echo_server(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def _echo_client(self) -> None:
        with socket.create_connection(self.listener.getsockname()) as c:
            while not self.stop:
                payload = b"ping %d" % self.trips
                c.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    more = c.recv(65536)
                    assert more, "echo server hung up"
                    got += more
                assert got == payload
                self.trips += 1
                time.sleep(0.003)

    def progress(self) -> tuple[int, int]:
        return self.ticks, self.trips

    def close(self) -> None:
        self.stop = True
        for t in self.tasks:
            t.join()
        self.listener.close()


BYSTANDERS: Bystanders | None = None


def hold() -> None:
    """Let time pass while a victim is blocked: the bystanders must move meanwhile."""
    if BYSTANDERS is None:
        time.sleep(0.05)
        return
    ticks, trips = BYSTANDERS.progress()
    _poll(lambda: BYSTANDERS.ticks >= ticks + 3 and BYSTANDERS.trips >= trips + 3, "the bystanders to move")


# -- helpers -----------------------------------------------------------------

tcp_pair = child.tcp_pair
closed_port = child.closed_port
full_listener = child.full_listener  # its SYNs dropped: see its docstring


def reset(sock: socket.socket) -> None:
    """Close ``sock`` with a reset: SO_LINGER on with a zero timeout sends an RST."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(os.environ["CHAIN"])
    client = ssl.create_default_context()
    client.load_verify_locations(os.environ["CA"])
    return server, client


@contextlib.contextmanager
def tls_pair() -> Iterator[tuple[ssl.SSLSocket, ssl.SSLSocket]]:
    """(client, server) ends of a handshaken TLS connection, closed on the way out."""
    server, client = contexts()
    with tcp_pair() as (c, s):
        p = Task(lambda: server.wrap_socket(s, server_side=True))
        tc = client.wrap_socket(c, server_hostname="localhost")
        ts = p.join()
        with tc, ts:
            yield tc, ts


# -- a peer resets the connection --------------------------------------------

TIMEOUTS = (None, 5.0)  # the blocking path, and the path with a timeout


def _each_timeout(fn: Callable[[float | None], Any]) -> Callable[[], Any]:
    def both() -> Any:
        return [fn(t) for t in TIMEOUTS]

    both.__name__ = fn.__name__
    return both


@case
@_each_timeout
def reset_during_recv(t: float | None) -> Any:
    with tcp_pair() as (c, s):
        c.settimeout(t)
        peer = Task(strike, c.fileno(), "r", lambda: reset(s))
        first = child.outcome(lambda: c.recv(1024))
        peer.join()
        return first, child.outcome(lambda: c.recv(1024)), child.outcome(lambda: c.send(b"x"))


@case
@_each_timeout
def reset_during_recv_into(t: float | None) -> Any:
    with tcp_pair() as (c, s):
        c.settimeout(t)
        buf = bytearray(1024)
        peer = Task(strike, c.fileno(), "r", lambda: reset(s))
        first = child.outcome(lambda: c.recv_into(buf))
        peer.join()
        return first, child.outcome(lambda: c.recv_into(buf))


@case
@_each_timeout
def reset_after_data(t: float | None) -> Any:
    # Data, then a short read (the socket layer marks the socket drained),
    # then the reset while the next recv waits.
    with tcp_pair() as (c, s):
        c.settimeout(t)
        s.sendall(b"some data")
        got = c.recv(1024)
        peer = Task(strike, c.fileno(), "r", lambda: reset(s))
        second = child.outcome(lambda: c.recv(1024))
        peer.join()
        return got, second


@case
@_each_timeout
def reset_during_two_recvs(t: float | None) -> Any:
    # Two readers wait on one socket (threads may; under offset the second
    # joins the first's netpoller wait): the reset wakes both, one gets the
    # error and the other the EOF that follows it, in either order.
    with tcp_pair() as (c, s):
        c.settimeout(t)
        readers = [Task(child.outcome, lambda: c.recv(1024)) for _ in range(2)]
        Task(strike, c.fileno(), "r", lambda: reset(s), 2).join()
        return sorted(r.join() for r in readers)


@case
@_each_timeout
def reset_during_sendall(t: float | None) -> Any:
    with tcp_pair() as (c, s):
        c.settimeout(t)
        peer = Task(strike, c.fileno(), "w", lambda: reset(s))
        first = child.outcome(lambda: c.sendall(BIG))
        peer.join()
        return first, child.outcome(lambda: c.sendall(b"more")), child.outcome(lambda: c.recv(10))


@case
@_each_timeout
def reset_during_tls_handshake_client(t: float | None) -> Any:
    # The client waits for the server's hello; the server reads the client's, then resets.
    _, client = contexts()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        c = socket.create_connection(listener.getsockname())
        s, _ = listener.accept()
        with c, s:
            c.settimeout(t)

            fd = c.fileno()  # wrap_socket detaches c: the TLS socket gets its fd

            def peer() -> bool:
                try:
                    hello = s.recv(65536)
                finally:
                    strike(fd, "r", lambda: reset(s))
                return len(hello) > 0

            p = Task(peer)
            got = child.outcome(lambda: client.wrap_socket(c, server_hostname="localhost").version())
            return got, p.join()


@case
@_each_timeout
def reset_during_tls_handshake_server(t: float | None) -> Any:
    # The server waits for the client's hello; the client connects and resets.
    server, _ = contexts()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        c = socket.create_connection(listener.getsockname())
        s, _ = listener.accept()
        with c, s:
            s.settimeout(t)
            p = Task(strike, s.fileno(), "r", lambda: reset(c))
            got = child.outcome(lambda: server.wrap_socket(s, server_side=True).version())
            p.join()
            return got


@case
@_each_timeout
def reset_during_tls_read(t: float | None) -> Any:
    # A handshaken TLS connection; the client's read waits, the server resets.
    with tls_pair() as (tc, ts):
        tc.settimeout(t)
        peer = Task(strike, tc.fileno(), "r", lambda: reset(ts))
        got = child.outcome(lambda: tc.recv(1024))
        peer.join()
        return got


@case
@_each_timeout
def reset_during_tls_sendall(t: float | None) -> Any:
    # A handshaken TLS connection; the client's sendall fills the buffers
    # and waits to write (OpenSSL's want-write), the server resets.
    with tls_pair() as (tc, ts):
        tc.settimeout(t)
        peer = Task(strike, tc.fileno(), "w", lambda: reset(ts))
        got = child.outcome(lambda: tc.sendall(BIG))
        peer.join()
        return got, child.outcome(lambda: tc.sendall(b"more"))


@case
@_each_timeout
def reset_during_makefile_readline(t: float | None) -> Any:
    with tcp_pair() as (c, s):
        c.settimeout(t)
        f = c.makefile("rb")
        with f:
            s.sendall(b"the start of a line")
            peer = Task(strike, c.fileno(), "r", lambda: reset(s))
            got = child.outcome(f.readline)
            peer.join()
            return got, child.outcome(f.readline)


@case
@_each_timeout
def reset_during_makefile_readline_text(t: float | None) -> Any:
    with tcp_pair() as (c, s):
        c.settimeout(t)
        f = c.makefile("r", encoding="utf-8", newline="")
        with f:
            peer = Task(strike, c.fileno(), "r", lambda: reset(s))
            got = child.outcome(f.readline)
            peer.join()
            return got


# -- half-closed connections -------------------------------------------------


def _half_closed(c: socket.socket, s: socket.socket, reads: Callable[[], Any]) -> Any:
    """The peer has shut down its sending side: read to the end, then write."""
    seen = reads()
    c.sendall(b"reply " * 20000)  # more than one segment; the peer reads it all
    c.shutdown(socket.SHUT_WR)
    got = b""
    while chunk := s.recv(65536):
        got += chunk
    return seen, len(got), child.outcome(lambda: c.recv(10))


@case
@_each_timeout
def half_closed_fin_with_data(t: float | None) -> Any:
    # The FIN comes with the last data: the short read that takes the data
    # leaves the EOF behind (issue 7's case).
    with tcp_pair() as (c, s):
        c.settimeout(t)
        s.sendall(b"last words")
        s.shutdown(socket.SHUT_WR)
        return _half_closed(c, s, lambda: [child.outcome(lambda: c.recv(1024)) for _ in range(4)])


@case
@_each_timeout
def half_closed_fin_while_waiting(t: float | None) -> Any:
    with tcp_pair() as (c, s):
        c.settimeout(t)
        s.sendall(b"last words")

        def reads() -> Any:
            first = c.recv(1024)  # a short read: drained
            peer = Task(strike, c.fileno(), "r", lambda: s.shutdown(socket.SHUT_WR))
            rest = [child.outcome(lambda: c.recv(1024)) for _ in range(3)]
            peer.join()
            return first, rest

        return _half_closed(c, s, reads)


@case
@_each_timeout
def half_closed_makefile(t: float | None) -> Any:
    with tcp_pair() as (c, s):
        c.settimeout(t)
        f = c.makefile("rb")
        with f:
            s.sendall(b"one\ntwo\nthree without end")
            peer = Task(strike, c.fileno(), "r", lambda: s.shutdown(socket.SHUT_WR))

            def reads() -> Any:
                lines = [child.outcome(f.readline) for _ in range(5)]
                peer.join()
                return lines

            return _half_closed(c, s, reads)


@case
@_each_timeout
def half_closed_tls(t: float | None) -> Any:
    # TLS over a half-closed TCP connection: the peer's FIN without
    # close_notify is a ragged EOF, an error for OpenSSL 3 (SSLEOFError).
    server, client = contexts()
    with tcp_pair() as (c, s):
        p = Task(lambda: server.wrap_socket(s, server_side=True))
        tc = client.wrap_socket(c, server_hostname="localhost")
        ts = p.join()
        with tc, ts:
            tc.settimeout(t)
            ts.sendall(b"over TLS")
            # The base class's shutdown: SSLSocket's drops the TLS object first.
            peer = Task(strike, tc.fileno(), "r", lambda: socket.socket.shutdown(ts, socket.SHUT_WR))
            got = [child.outcome(lambda: tc.recv(1024)) for _ in range(3)]
            peer.join()
            return got, child.outcome(lambda: tc.sendall(b"still writable"))


# -- 100 at once: refused, timed out, unresolvable ------------------------------


def _at_once(call: Callable[[], Any]) -> dict[str, Any]:
    """``call()`` from N goroutines (threads) at once: their outcomes and times."""
    start = time.monotonic()
    moved = BYSTANDERS.progress() if BYSTANDERS is not None else None

    def one() -> tuple[list[Any], float]:
        t0 = time.monotonic()
        got = child.outcome(call)
        return got, time.monotonic() - t0

    tasks = [Task(one) for _ in range(N)]
    results = [t.join() for t in tasks]
    outcomes = sorted({repr(r[0]) for r in results})
    return {
        "outcomes": outcomes,
        "count": len(results),
        "elapsed": time.monotonic() - start,
        "shortest": min(r[1] for r in results),
        # How far the ticker and the echo connection got meanwhile (patched run).
        "bystanders": None if moved is None else [b - a for a, b in zip(moved, BYSTANDERS.progress())],
    }


def _connect(address: Any, timeout: float | None = None, ex: bool = False) -> Any:
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex(address) if ex else sock.connect(address)


@case
def many_connect_refused() -> Any:
    address = ("127.0.0.1", closed_port())
    batches = {
        "connect": _at_once(lambda: _connect(address)),
        "connect_timeout": _at_once(lambda: _connect(address, 5.0)),
        "connect_ex": _at_once(lambda: _connect(address, ex=True)),
        "create_connection": _at_once(lambda: socket.create_connection(address).close()),
    }
    if HOSTS_ONLY:
        # A name with several addresses (::1 and 127.0.0.1 where /etc/hosts
        # has both): create_connection tries each and raises the first error.
        batches["create_connection_localhost"] = _at_once(
            lambda: socket.create_connection(("localhost", address[1])).close()
        )
    return batches


@case
def many_connect_timeout() -> Any:
    with full_listener() as address:
        return {
            "connect": _at_once(lambda: _connect(address, SLOW_T)),
            "connect_ex": _at_once(lambda: _connect(address, SLOW_T, ex=True)),
            "create_connection": _at_once(lambda: socket.create_connection(address, SLOW_T).close()),
        }


@case
def many_unresolvable() -> Any:
    if not HOSTS_ONLY:
        return "skip"
    return {
        "getaddrinfo": _at_once(lambda: socket.getaddrinfo(UNKNOWN, 80)),
        "gethostbyname": _at_once(lambda: socket.gethostbyname(UNKNOWN)),
        "connect": _at_once(lambda: _connect((UNKNOWN, 80))),
        "connect_ex": _at_once(lambda: _connect((UNKNOWN, 80), ex=True)),
        "create_connection": _at_once(lambda: socket.create_connection((UNKNOWN, 80)).close()),
    }


# -- running them --------------------------------------------------------------


def open_fds() -> list[int]:
    return sorted(int(name) for name in os.listdir("/proc/self/fd"))


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _foreign_threads() -> list[str]:
    """Live threads that are not the thread pool's (offset's own workers)."""
    from offset._core import _sched

    return sorted(t.name for t in threading.enumerate() if t.ident not in _sched.offset_thread_idents)


def run_plain(names: list[str] | None = None) -> dict[str, Any]:
    """Every case unpatched, offset not imported: the stdlib's outcomes."""
    return _cases.run_all(names)


def run_offset(names: list[str] | None = None) -> dict[str, Any]:
    """Every case patched, in goroutines, beside the bystanders (see the module docstring)."""
    global OFFSET, BYSTANDERS
    import offset

    OFFSET = True
    fds_before = open_fds()
    threads_before = os_threads()
    out: dict[str, Any] = {}

    def main() -> None:
        global BYSTANDERS
        BYSTANDERS = Bystanders()
        _poll(lambda: BYSTANDERS is not None and BYSTANDERS.trips > 0, "the echo client's first trip")
        for name, fn in _cases.fns.items():
            if names is not None and name not in names:
                continue
            print(f"case {name}", file=sys.stderr, flush=True)  # shown if the child fails
            fds = open_fds()
            goroutines = offset.stats()["goroutines"]
            threads = _foreign_threads()
            got = child.outcome(fn)
            _poll(lambda: offset.stats()["goroutines"] <= goroutines, "the case's goroutines to end")
            hold()  # the bystanders still move after the fault (raises if not)
            out[name] = {
                "outcome": got,
                "left": {
                    "fds": sorted(set(open_fds()) - set(fds)),
                    "goroutines": offset.stats()["goroutines"] - goroutines,
                    "threads": sorted(set(_foreign_threads()) - set(threads)),
                },
            }
        BYSTANDERS.close()
        BYSTANDERS = None

    offset.run(main)
    # After run(): the netpoller is closed and the pool's idle threads end
    # within 50 ms of their last call.
    deadline = time.monotonic() + BOUND
    while os_threads() > threads_before and time.monotonic() < deadline:
        time.sleep(0.01)
    return {
        "cases": out,
        "after_run": {
            "fds": open_fds() == fds_before,
            "threads": os_threads() - threads_before,
            "stats": offset.stats(),
        },
    }
