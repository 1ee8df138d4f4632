"""The deadline-and-retry loop under every patched call that may wait.

What: ``retry`` runs a non-blocking attempt until it succeeds, parking the
goroutine in the netpoller between attempts for at most what is left of
the call's timeout, and gives the call's own answer at the deadline. The
socket methods (the stdlib raises ``TimeoutError("timed out")``), sendall
(its timeout covers the whole call), ``select.select``, poll and epoll
objects, and the selectors' ``select()`` (which return what a last look
finds, empty at the deadline) all wait through it, and so do the TLS
methods of ssl.py (whose last attempt lets the C code raise its own
timeout error).

How: the caller gives three things. ``attempt()`` makes the call without
blocking and returns its result, or ``NOT_READY`` (the OS said EAGAIN, or
nothing is ready). ``wait(remaining)`` parks in the netpoller
(``wait_fd``/``wait_fds``) for at most ``remaining`` seconds, None meaning
no limit, and returns False when that time ran out. ``expired()`` gives
the call's answer at the deadline: raises the stdlib's timeout error, or
looks once more. The deadline is taken from the monotonic clock once, when
the call starts, so the time spent in attempts counts against it, as in
socketmodule.c's ``sock_call_ex``.

Invariants:
- A call with a timeout never waits past its deadline: each wait gets
  only what is left, and a deadline already passed goes to ``expired()``
  without a wait.
- ``expired()`` runs outside any ``except`` clause, so the timeout error it
  raises carries no BlockingIOError as ``__context__`` (the stdlib's has
  none).
- EINTR: neither the attempts (their originals retry on EINTR, PEP 475)
  nor the netpoller's waits (a signal handler runs in the main goroutine
  as the signal area places it) surface an InterruptedError here; a
  handler's exception propagates out of ``wait`` unchanged, and a handler
  that returns lets the loop go on with what is left of the timeout.

Rejected designs: the loop written out at each call site (seven copies in
socket.py, select.py, selectors.py and ssl.py that had begun to differ in when
they took the deadline and whether they looked again after a timed-out
wait); a class with the attempt as a method (an object and a bound method
per call, for no gain over three closures); keeping the hottest path
(recv, recv_into, send on a blocking socket, no timeout) on it: those
stay inlined in socket.py, where a call and a closure per I/O call would
cost more than the loop they save.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from typing import Any, Final

__all__ = ["NOT_READY", "retry", "timed_out"]


class _NotReady:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_READY"


# What an attempt returns when the call would block.
NOT_READY: Final[Any] = _NotReady()

_monotonic = _time.monotonic


def retry(
    attempt: Callable[[], Any],
    wait: Callable[[float | None], bool],
    timeout: float | None,
    expired: Callable[[], Any],
    *,
    wait_first: bool = False,
) -> Any:
    """Call ``attempt()`` until it is ready, waiting between attempts.

    Args:
        attempt: makes the call without blocking; its result, or
            ``NOT_READY``.
        wait: parks for at most its argument in seconds (None: no limit);
            False when the time ran out.
        timeout: the call's timeout in seconds, None for none. Positive
            (a timeout of 0 is the caller's to handle: it never waits).
        expired: the call's answer at the deadline (it may raise).
        wait_first: the caller has just seen the call not ready: wait
            before the first attempt.

    Returns:
        The first result of ``attempt()`` that is not ``NOT_READY``, or
        what ``expired()`` returns.
    """
    deadline = None if timeout is None else _monotonic() + timeout
    if not wait_first:
        result = attempt()
        if result is not NOT_READY:
            return result
    while True:
        if deadline is None:
            wait(None)
        else:
            remaining = deadline - _monotonic()
            if remaining <= 0 or not wait(remaining):
                return expired()
        result = attempt()
        if result is not NOT_READY:
            return result


def timed_out() -> Any:
    """A socket's answer at its timeout: socketmodule.c's ``TimeoutError``."""
    raise TimeoutError("timed out")
