"""Go's time package for goroutines: durations, sleep, Timer, Ticker.

What: durations are plain ints of nanoseconds, as Go's ``time.Duration``;
``now()`` is the monotonic clock in nanoseconds. ``Timer``, ``Ticker``,
``After``, ``Tick`` and ``AfterFunc`` are Go 1.23's: a timer's channel
behaves as if unbuffered, so once ``stop()`` or ``reset()`` has returned no
value from before the call is received; and a timer or ticker the program
no longer refers to is freed, even if never stopped.

How: this module is the public face only (argument checks, docstrings).
The timers themselves, their state machine, both backends (the owner
scheduler's heap, or a thread for a timer made outside any goroutine),
their locking and their collection are the core's: ``offset/_core/_time.py``
and its heap, ``_core/_timers.py``. ``sleep`` is the core's ``sleep_ns``.

Invariants: every public entry point checks its arguments before the core
sees them (a duration is an int, not a bool; the check is the core's
``duration``, which ``Timer(d)``, the core's own ``__init__``, makes
itself); the core then clamps a deadline into [0, 2**63 - 1], so a hugely
negative duration fires at once, as Go's does.

Rejected designs: a Timer wrapping a core timer object (one more object
and one more call per operation); the classes here subclass the core's
instead, adding only checks and docstrings.
"""

from __future__ import annotations

import time as _stdtime
from collections.abc import Callable
from typing import Any

from ._core import Chan
from ._core import Timer as _Timer
from ._core import duration as _duration
from ._core import sleep_ns as _sleep_ns

__all__ = [
    "NANOSECOND",
    "MICROSECOND",
    "MILLISECOND",
    "SECOND",
    "MINUTE",
    "HOUR",
    "sleep",
    "now",
    "since",
    "until",
    "Timer",
    "Ticker",
    "After",
    "Tick",
    "AfterFunc",
]

NANOSECOND = 1
MICROSECOND = 1000 * NANOSECOND
MILLISECOND = 1000 * MICROSECOND
SECOND = 1000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_monotonic_ns = _stdtime.monotonic_ns


def sleep(d: int) -> None:
    """Pause the calling goroutine for at least ``d`` nanoseconds.

    Go's time.Sleep: a zero or negative duration returns at once (here it
    also lets other goroutines run). A sleeping goroutine costs a timer
    entry, no thread. Outside a goroutine it blocks the thread.

    Raises:
        TypeError: ``d`` is not an int.
    """
    _sleep_ns(_duration(d))


def now() -> int:
    """The monotonic clock, in nanoseconds (for measuring, as Go's time.Now)."""
    return _monotonic_ns()


def since(t: int) -> int:
    """Nanoseconds elapsed since ``t``, a value of ``now()`` (Go's time.Since)."""
    return _monotonic_ns() - _duration(t, "t")


def until(t: int) -> int:
    """Nanoseconds from now until ``t``, a value on the ``now()`` clock (Go's time.Until)."""
    return _duration(t, "t") - _monotonic_ns()


class Timer(_Timer):
    """A single event: after ``d`` nanoseconds, ``now()`` is sent on ``c``.

    Go's time.NewTimer, with Go 1.23's semantics: once ``stop()`` or
    ``reset()`` returns, no value from before is received on ``c``, and a
    stopped timer is gone from its scheduler's heap. A timer made in a
    goroutine enters its scheduler's heap only once ``c`` is taken (until
    then nothing could receive from it; Go 1.23 is as lazy), and the heap
    holds it weakly: a timer nothing refers to (neither the program nor a
    goroutine waiting on ``c``) is freed, even if never stopped. One made outside any goroutine falls back to a
    daemon ``threading.Timer``, which holds it until it fires. For
    ``AfterFunc`` timers ``c`` is a channel nothing is ever sent on (Go's
    is nil; receiving from either blocks forever).

    Args:
        d: nanoseconds to wait; zero or negative fires at once.

    Raises:
        TypeError: ``d`` is not an int.
    """

    __slots__ = ("__weakref__",)  # the heap holds the timer weakly; not in the compiled base

    # __init__(d) is the core's own (_core/_time.py): it checks ``d`` as
    # every function here does and starts the timer, with no wrapper frame.

    @property
    def c(self) -> Chan[int]:
        """The channel the timer sends ``now()`` on when it fires (Go's C)."""
        return self.chan()

    # stop() is the core's own (_core/_time.py), Go's Timer.Stop, called
    # directly: the hot path of a start/stop loop has no wrapper.

    # The public signatures are Go's time package's; the core's are its runtime's.
    def reset(self, d: int) -> bool:  # type: ignore[override]
        """Make the timer fire ``d`` nanoseconds from now; return whether it was pending.

        Go's Timer.Reset (Go 1.23): a value sent before and not yet received
        is discarded (and counts as pending), so only the new expiry is
        received. An ``AfterFunc`` timer runs ``fn`` again at the new time.

        Raises:
            TypeError: ``d`` is not an int.
        """
        return _reset(self, _monotonic_ns() + _duration(d))

    def __repr__(self) -> str:
        state = "pending" if self._active else "stopped"
        return f"<offset.time.Timer {state} at {id(self):#x}>"


class Ticker(_Timer):
    """Sends ``now()`` on ``c`` every ``d`` nanoseconds; drops ticks for a slow receiver.

    Go's time.NewTicker, with Go 1.23's semantics: ticks land on a grid of
    the period, and a tick the receiver is not ready for is dropped (at
    most one waits to be received); after ``stop()`` or ``reset()`` no
    stale tick is received. A ticker nothing refers to (neither the
    program nor a goroutine waiting on ``c``) is freed, even if never
    stopped, as in Go 1.23; stopping one you are done with frees it at
    once. Outside a goroutine it falls back to daemon threads, which hold
    it until stopped.

    Args:
        d: the period in nanoseconds; must be positive.

    Raises:
        TypeError: ``d`` is not an int.
        ValueError: ``d`` is zero or negative (Go panics:
            "non-positive interval for NewTicker").
    """

    __slots__ = ("__weakref__",)  # the heap holds the timer weakly; not in the compiled base

    def __init__(self, d: int) -> None:
        if _duration(d) <= 0:
            raise ValueError(f"non-positive interval for Ticker: 'd' must be > 0, not {d}")
        self.start(_monotonic_ns() + d, d)

    @property
    def c(self) -> Chan[int]:
        """The channel ticks are sent on (Go's C)."""
        return self.chan()

    def stop(self) -> None:  # type: ignore[override]
        """Turn the ticker off: no more ticks, and no stale one is received.

        Go's Ticker.Stop (Go 1.23). Stop does not close ``c``.
        """
        _stop(self)

    def reset(self, d: int) -> None:  # type: ignore[override]
        """Change the period to ``d``; the next tick comes ``d`` from now.

        Go's Ticker.Reset (Go 1.23): a tick not yet received is discarded.

        Raises:
            TypeError: ``d`` is not an int.
            ValueError: ``d`` is zero or negative (Go panics:
                "non-positive interval for Ticker.Reset").
        """
        if _duration(d) <= 0:
            raise ValueError(f"non-positive interval for Ticker.Reset: 'd' must be > 0, not {d}")
        _reset(self, _monotonic_ns() + d, d)

    def __repr__(self) -> str:
        state = f"every {self._period}ns" if self._active else "stopped"
        return f"<offset.time.Ticker {state} at {id(self):#x}>"


_stop = _Timer.stop
_reset = _Timer.reset


def After(d: int) -> Chan[int]:
    """Wait ``d`` nanoseconds, then send ``now()`` on the returned channel.

    Go's time.After: the same as ``Timer(d).c``. As in Go 1.23, the timer
    is freed once nothing refers to the channel, even before it fires: no
    need to stop it when the wait is abandoned.

    Raises:
        TypeError: ``d`` is not an int.
    """
    return Timer(d).chan()


def Tick(d: int) -> Chan[int] | None:
    """A channel that receives ``now()`` every ``d`` nanoseconds.

    Go's time.Tick: ``Ticker(d).c``, with no way to stop the ticker; as in
    Go 1.23 the ticker is freed once nothing refers to the channel. As in
    Go, a zero or negative ``d`` returns None (a nil channel: in ``select``
    a None case is ignored).

    Raises:
        TypeError: ``d`` is not an int.
    """
    if _duration(d) <= 0:
        return None
    return Ticker(d).chan()


def AfterFunc(d: int, fn: Callable[..., Any], /, *args: Any) -> Timer:
    """Start ``fn(*args)`` in its own goroutine after ``d`` nanoseconds.

    Go's time.AfterFunc. The returned Timer's ``stop()`` cancels the call
    if ``fn`` has not started (and returns True); ``reset(d)`` schedules it
    again. While pending it keeps ``run()`` without a main goroutine from
    returning, and is kept alive even if nothing refers to it. Made
    outside any goroutine, ``fn`` runs in a daemon timer thread instead
    (there is no scheduler to start a goroutine on).

    Raises:
        TypeError: ``d`` is not an int, or ``fn`` is not callable.
    """
    when = _monotonic_ns() + _duration(d)
    if not callable(fn):
        raise TypeError(f"AfterFunc() argument 'fn' must be callable, not {type(fn).__name__}")
    t = Timer.__new__(Timer)
    t.start_func(when, fn, args)
    return t
