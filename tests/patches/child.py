"""The child side of the patch tests: guards and reporting (see conftest.py).

Imported first by every child script::

    import child
    child.start()            # before offset is imported or patched
    ...
    child.report(value)      # once; value must be JSON-serialisable

``start`` bounds the child with faulthandler (every stack printed, then
exit, if it runs past OFFSET_CHILD_TIMEOUT) and watches greenlet switches:
a goroutine that runs longer than ``BLOCKED_LIMIT`` seconds without
switching (not counting time the machine's load kept the thread off the
CPU: blockwatch.py) blocked its scheduler's thread for real, and
``report`` then fails the child instead of reporting.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from blockwatch import BlockWatch

BLOCKED_LIMIT = 1.0
MARK = "CHILD-REPORT:"

_watch: BlockWatch | None = None


def start() -> None:
    faulthandler.dump_traceback_later(float(os.environ.get("OFFSET_CHILD_TIMEOUT", "40")), exit=True)
    import greenlet

    global _watch
    _watch = BlockWatch()
    greenlet.settrace(_watch)


def blocked_for() -> float:
    """The longest a goroutine held the main thread without switching."""
    return _watch.worst if _watch is not None else 0.0


def count_pool_calls(*areas: Any) -> list[int]:
    """Count the patch ``areas``' trips to the thread pool; return the counter (one int, in a list).

    Wraps each area's ``blocking_call``: whether the pool exists says
    nothing, since anything else in the process may have started it.
    """
    calls = [0]

    def counting(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            return real(*args, **kwargs)

        return call

    for area in areas:
        area.blocking_call = counting(area.blocking_call)
    return calls


def report(value: Any) -> None:
    if _watch is not None and _watch.worst > BLOCKED_LIMIT:
        print(f"{_watch.who} held the scheduler's thread for {_watch.worst:.2f}s without switching", file=sys.stderr)
        sys.exit(3)
    sys.stdout.write(MARK + json.dumps(value) + "\n")
    sys.stdout.flush()


def outcome(fn: Callable[[], Any]) -> list[Any]:
    """What calling ``fn`` gave, in a form two runs can be compared by.

    ``["ok", repr(result)]``, or ``["raise", type, str, errno, context]``
    for an exception (context: the type of its ``__context__``, which the
    stdlib's exceptions do not have unless the caller was handling one).
    """
    try:
        result = fn()
    except BaseException as e:  # noqa: BLE001 - every outcome is data here
        ctx = type(e.__context__).__name__ if e.__context__ is not None else None
        return ["raise", type(e).__name__, str(e), getattr(e, "errno", None), ctx]
    return ["ok", repr(result)]


class Cases:
    """A case module's registry: ``@cases.case`` records a function by name,
    ``run_all`` runs them and gives each one's ``outcome``."""

    def __init__(self) -> None:
        self.fns: dict[str, Callable[[], Any]] = {}

    def case(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        self.fns[fn.__name__] = fn
        return fn

    def run_all(
        self, names: list[str] | None = None, exclude: frozenset[str] | set[str] = frozenset()
    ) -> dict[str, Any]:
        return {
            name: outcome(fn)
            for name, fn in self.fns.items()
            if (names is None or name in names) and name not in exclude
        }


@contextlib.contextmanager
def pair() -> Iterator[Any]:
    """A connected socketpair, both ends closed on the way out."""
    import socket  # here, not at the top: a child imports this module first

    a, b = socket.socketpair()
    with a, b:
        yield a, b


# The socket helpers below import socket and time where they run, as pair()
# does: a child imports this module first, before it patches anything.


@contextlib.contextmanager
def tcp_pair() -> Iterator[Any]:
    """(client, server) ends of a loopback TCP connection, closed on the way out."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listener:
        c = socket.create_connection(listener.getsockname())
        s, _ = listener.accept()
        with c, s:
            yield c, s


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: a connect to it is refused."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@contextlib.contextmanager
def full_listener() -> Iterator[tuple[str, int]]:
    """A listener whose accept queue is full, so a connect to it cannot complete.

    listen(0) queues one connection; the fillers' handshakes take it (and
    whatever half-done ones the kernel let in), and from then on Linux drops
    every SYN to it (tcp_conn_request: ``sk_acceptq_is_full`` -> drop, with
    or without SYN cookies, which only stand in for a full SYN queue). A
    connect then waits for its timeout, without being refused, the first SYN
    retransmission being a second away. All on 127.0.0.1.
    """
    import socket
    import time

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        fillers = []
        try:
            for _ in range(4):
                f = socket.socket()
                f.setblocking(False)
                f.connect_ex(address)
                fillers.append(f)
            time.sleep(0.05)  # the fillers' handshakes that fit complete
            yield address
        finally:
            for f in fillers:
                f.close()
