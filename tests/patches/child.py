"""The child side of the patch tests: guards and reporting (see conftest.py).

Imported first by every child script::

    import child
    child.start()            # before offset is imported or patched
    ...
    child.report(value)      # once; value must be JSON-serialisable

``start`` bounds the child with faulthandler (every stack printed, then
exit, if it runs past OFFSET_CHILD_TIMEOUT) and watches greenlet switches:
a goroutine that runs longer than ``BLOCKED_LIMIT`` seconds without
switching blocked its scheduler's thread for real, and ``report`` then
fails the child instead of reporting.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

BLOCKED_LIMIT = 1.0
MARK = "CHILD-REPORT:"

_last = [time.monotonic()]
_worst: list[Any] = [0.0, ""]


def _trace(event: str, args: Any) -> None:
    now = time.monotonic()
    origin = args[0]
    # The thread's main greenlet is the scheduler's loop (its idle wait is
    # fine); every other greenlet runs goroutines.
    if origin.parent is not None:
        ran = now - _last[0]
        if ran > _worst[0]:
            _worst[0] = ran
            _worst[1] = repr(getattr(origin, "goroutine", None))
    _last[0] = now


def start() -> None:
    faulthandler.dump_traceback_later(float(os.environ.get("OFFSET_CHILD_TIMEOUT", "40")), exit=True)
    import greenlet

    greenlet.settrace(_trace)


def blocked_for() -> float:
    """The longest a goroutine held the main thread without switching."""
    worst: float = _worst[0]
    return worst


def report(value: Any) -> None:
    if _worst[0] > BLOCKED_LIMIT:
        print(f"{_worst[1]} held the scheduler's thread for {_worst[0]:.2f}s without switching", file=sys.stderr)
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
