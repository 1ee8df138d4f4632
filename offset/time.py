"""Go's time package for goroutines: durations in nanoseconds, sleep.

Durations are plain ints of nanoseconds, as Go's ``time.Duration``.
"""

from __future__ import annotations

import time as _stdtime

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
]

NANOSECOND = 1
MICROSECOND = 1000 * NANOSECOND
MILLISECOND = 1000 * MICROSECOND
SECOND = 1000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


def _duration(d: object, name: str = "d") -> int:
    if isinstance(d, bool) or not isinstance(d, int):
        raise TypeError(f"argument '{name}' must be an int of nanoseconds, not {type(d).__name__}")
    return d


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
    return _stdtime.monotonic_ns()


def since(t: int) -> int:
    """Nanoseconds elapsed since ``t``, a value of ``now()``."""
    return _stdtime.monotonic_ns() - _duration(t, "t")
