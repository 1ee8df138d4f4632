"""Patches for the time module: ``time.sleep`` becomes a scheduler timer.

Replaces ``time.sleep``. Inside a goroutine while its scheduler runs, the
goroutine parks on a timer (no thread, no goroutine: see offset/_core/
_timers.py) and the others run; ``time.sleep(0)`` yields as ``gosched()``
does. Everywhere else, and for any argument the stdlib would refuse, the
original ``time.sleep`` is called, so errors are the stdlib's own.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from .._core import current_goroutine, sleep_ns
from . import _registry

__all__ = ["patch", "unpatch", "is_patched"]

AREA = _registry.Area("time", __name__, "``time.sleep``")

# Past this many seconds (about 285 years is the C limit), the original
# decides: it raises OverflowError, as the stdlib does.
_MAX_SECONDS = 9e9


def _sleep(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if current_goroutine() is None or kwargs or len(args) != 1:
        return wrapped(*args, **kwargs)
    secs = args[0]
    if isinstance(secs, float):
        if not 0.0 <= secs < _MAX_SECONDS:  # negative, NaN, too large: the stdlib's errors
            return wrapped(secs)
        sleep_ns(math.ceil(secs * 1e9))
        return None
    try:
        n = operator.index(secs)
    except TypeError:
        n = -1
    if not 0 <= n < _MAX_SECONDS:
        # Outside the except clause: the stdlib's error carries no context.
        return wrapped(secs)
    sleep_ns(n * 1_000_000_000)
    return None


def _make_sleep(original: Any) -> Any:
    return _registry.function_wrapper(original, _sleep)


AREA.define("time", "sleep", _make_sleep, scan=True)


patch, unpatch, is_patched = AREA.functions()
