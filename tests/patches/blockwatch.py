"""Did a goroutine block its scheduler's thread for real? (the suite's guard)

Used by tests/conftest.py (every test) and tests/patches/child.py (every
child script): a ``greenlet.settrace`` function that measures, for each
goroutine run, the time between two switches in the scheduler's thread.
The thread's main greenlet is the scheduler's loop, whose idle wait is fine;
every other greenlet runs goroutines.

A goroutine that holds the thread longer than the limit is either in a
real blocking call (the bug the guard is for) or was runnable but kept off
the CPU by the machine's load: on two cores running several suites, a few
hundred milliseconds of CPU can take seconds. Only the first is the
program's doing, so the time the thread spent waiting for a CPU (the second
field of /proc/thread-self/schedstat, where the kernel has it) is taken off
the run. The counter is read at most every ``SAMPLE`` seconds at a switch,
not at every switch, so a run is credited with the wait since the last
reading before it began: at most ``SAMPLE`` seconds of wait from before
the run are credited to it, which is far below any limit.
"""

from __future__ import annotations

import _thread
import os
import time
from typing import Any

from offset._core import goroutine_of

SAMPLE = 0.05

_SCHEDSTAT = "/proc/thread-self/schedstat"


def _runqueue_wait(
    _open: Any = os.open, _read: Any = os.read, _close: Any = os.close, _ident: Any = _thread.get_ident
) -> float:
    """Seconds this thread has waited for a CPU while runnable (0.0 if unknown).

    The os functions are bound when this module is imported, before any
    test patches os (the trace function runs inside greenlet switches and
    must never park), and as defaults, not module names, which the
    registry's scan for names bound before patching would report.
    """
    try:
        fd = _open(_SCHEDSTAT, os.O_RDONLY)
    except FileNotFoundError:
        return 0.0
    except OSError:
        # No fd left (a test of EMFILE fills the table): the last reading,
        # so that the run is credited with no wait rather than with minus
        # everything waited so far, which reported a goroutine that switched
        # as holding the thread.
        return _last_wait.get(_ident(), 0.0)
    try:
        fields = _read(fd, 128).split()
    finally:
        _close(fd)
    wait = _last_wait[_ident()] = int(fields[1]) / 1e9 if len(fields) >= 2 else 0.0
    return wait


# Each thread's last reading (the counter is per thread).
_last_wait: dict[int, float] = {}


class BlockWatch:
    """A settrace function keeping the longest goroutine run, net of CPU waits."""

    def __init__(self) -> None:
        now = time.monotonic()
        self.last = now  # when the current greenlet was switched to
        self.sampled_at = now
        self.wait_at_sample = _runqueue_wait()
        self.worst = 0.0
        self.who = ""

    def __call__(self, event: str, args: Any) -> None:
        now = time.monotonic()
        origin = args[0]
        ran = now - self.last
        if origin.parent is not None and ran > self.worst:
            # Only a long run pays for a reading of the wait counter.
            waited = _runqueue_wait()
            net = ran - (waited - self.wait_at_sample)
            if net > self.worst:
                self.worst = net
                g = goroutine_of(origin)
                self.who = repr(g) if g is not None else "a goroutine"
        self.last = now
        if now - self.sampled_at > SAMPLE:
            self.sampled_at = now
            self.wait_at_sample = _runqueue_wait()
