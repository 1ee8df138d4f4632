"""The exceptions offset raises.

Go separates three kinds of failure (HACKING.md): misuse of an API, which
panics (``PanicError``, with Go's words); a program that can make no more
progress (``DeadlockError``); and a bug in the runtime itself
(``InternalError``, which says so and asks for a report).
"""

from __future__ import annotations

from ._greenlet import ProcExit

__all__ = ["PanicError", "DeadlockError", "InternalError", "GoroutineExit"]


class PanicError(RuntimeError):
    """Misuse that Go panics on, with Go's message ("send on closed channel")."""


class DeadlockError(RuntimeError):
    """Every goroutine is blocked and nothing can wake one.

    The message starts with Go's "all goroutines are asleep - deadlock!" and
    then names each blocked goroutine, what it waits on and where.
    """


class InternalError(RuntimeError):
    """A bug in offset itself. Please report it with the traceback."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"offset internal error: {what}. This is a bug in offset, not in "
            "your program; please report it with this traceback."
        )


class GoroutineExit(ProcExit):  # type: ignore[misc]
    """Raised inside a goroutine that is being stopped (its ``finally`` runs).

    A BaseException, so ``except Exception`` in user code does not swallow it.
    """


for _cls in (PanicError, DeadlockError, InternalError, GoroutineExit):
    _cls.__module__ = "offset"
