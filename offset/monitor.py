"""The blocking monitor: report a goroutine that holds its scheduler too long.

What: ``start(threshold)`` (or ``OFFSET_MONITOR=100ms`` when offset is
imported, or ``python -m offset --monitor``) starts one watchdog thread
that notices a scheduler which has not switched goroutines for longer than
``threshold`` seconds while it is not idle, and prints the goroutine that
holds the thread, with its stack, once per stall::

    offset.monitor: thread 'MainThread' (1403...) has not switched goroutines
    for 0.31 s (threshold 0.1 s); it is held by:
    goroutine 7 [running]:
    __main__.handler(...)
    \t/srv/app.py:41

The culprit is code that blocks the whole thread: an unpatched blocking
call (``time.sleep`` before ``patch_all``, a C library's own I/O), or a
long computation. gevent's monitor thread (``max_blocking_time``) and
asyncio's slow-callback warning (``loop.slow_callback_duration``) do the
same. ``stop()`` ends it.

How: a scheduler's progress is two fields it keeps anyway: ``ticks``,
incremented on each direct switch between goroutines, and ``now``, the
coarse clock its loop reads at each visit (every 64 switches at most, and
whenever a goroutine hands control back to the loop). The watchdog wakes
every quarter of the threshold and reads both for each running scheduler
(``schedulers`` in the core). A scheduler whose pair has not changed since
a sample at least ``threshold`` ago, and which is not ``sleeping`` (idle in
its netpoller: waiting is not a stall), is stalled: the report names the
goroutine whose greenlet is running (or the loop itself, in a timer
callback or a wake-up), with the thread's current stack. A report is made
once; the next comes after the scheduler has moved on and stalled again.
The reported time is at least the threshold and at most a quarter more
than the real stall's length so far.

Invariants:
- The switch path does not know the monitor exists: off, it costs
  nothing; on, it costs the watchdog's wake-ups (4 per threshold) and the
  GIL it takes for a few microseconds each time.
- One watchdog at most. It is one of offset's own threads (in
  ``offset_thread_idents`` from before ``start`` returns), so deadlock
  detection does not count it as a thread that could wake a goroutine.
  It is a daemon (``_thread``, as the thread pool's): it never keeps the
  interpreter alive.
- It never writes to a scheduler or a goroutine.
- In the child of ``fork()`` (a gunicorn worker), a monitor that ran in
  the parent runs again, with the same threshold and file. At interpreter
  exit (atexit) it stops.

Rejected designs:
- A greenlet trace function counting switches (gevent's GreenletTracer):
  a Python call on every switch, on or off.
- A timestamp written by every switch for the watchdog to compare: a clock
  call on the hottest path; ``ticks`` is already counted there.
- Reporting from a signal sent to the stalled thread: only the main thread
  runs Python signal handlers, and the watchdog can read any thread's
  stack itself (``sys._current_frames``).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from _thread import allocate_lock as _allocate_lock
from _thread import get_ident as _get_ident
from _thread import start_new_thread as _start_new_thread
from time import monotonic as _monotonic
from typing import IO

from ._config import parse_duration
from ._core import Scheduler, offset_thread_idents, schedulers
from .debug import _thread_name, format_goroutine, format_stack, running_goroutine

__all__ = ["parse_threshold", "start", "stop"]

# The watchdog looks this many times per threshold.
_SAMPLES = 4


def parse_threshold(value: str, variable: str = "threshold") -> float:
    """Seconds from Go's duration syntax ("100ms", "1.5s", "1m30s") or a number of seconds ("0.1").

    Raises:
        ValueError: not a positive duration; the message names ``variable``.
    """
    return parse_duration(value, variable)


class _Watch:
    """What the watchdog knows of one scheduler: its progress when last seen moving."""

    __slots__ = ("sched", "mark", "since", "reported")

    def __init__(self, s: Scheduler, mark: tuple[int, int], now: float) -> None:
        self.sched = s
        self.mark = mark
        self.since = now
        self.reported = False


class _Monitor:
    """The watchdog thread's state; one at a time, in ``_current``."""

    def __init__(self, threshold: float, file: IO[str] | None) -> None:
        self.threshold = threshold
        self.file = file
        self.stopping = False
        self.wake = _allocate_lock()  # released by stop() to end the wait at once
        self.wake.acquire()
        self.done = _allocate_lock()  # held while the thread runs
        self.done.acquire()
        self.started = _allocate_lock()
        self.started.acquire()
        self.watches: dict[int, _Watch] = {}
        self.ident = 0

    def run(self) -> None:
        self.ident = _get_ident()
        offset_thread_idents.add(self.ident)
        self.started.release()
        try:
            while not self.stopping:
                if self.wake.acquire(True, self.threshold / _SAMPLES):
                    break
                self.check(_monotonic())
        finally:
            offset_thread_idents.discard(self.ident)
            self.done.release()

    def check(self, now: float) -> list[str]:
        """One look at every running scheduler; returns the reports it printed."""
        reports = []
        seen = set()
        for ident, s in list(schedulers.items()):
            seen.add(ident)
            if not s.running:
                continue
            mark = (s.ticks, s.now)
            w = self.watches.get(ident)
            if w is None or w.sched is not s:
                self.watches[ident] = _Watch(s, mark, now)
                continue
            if s.sleeping or mark != w.mark:
                w.mark = mark
                w.since = now
                w.reported = False
                continue
            if not w.reported and now - w.since >= self.threshold:
                w.reported = True
                report = self.report(s, now - w.since)
                if report:
                    reports.append(report)
                    self.write(report)
        for ident in [i for i in self.watches if i not in seen]:
            del self.watches[ident]
        return reports

    def report(self, s: Scheduler, stalled: float) -> str:
        frame = sys._current_frames().get(s.ident)
        if frame is None or (s.ticks, s.now) != self.watches[s.ident].mark:
            return ""  # it moved on (or ended) meanwhile
        g = running_goroutine(s)
        head = (
            f"offset.monitor: thread {_thread_name(s.ident)} has not switched goroutines "
            f"for {stalled:.2f} s (threshold {self.threshold:g} s); it is held by:\n"
        )
        if g is not None:
            return head + format_goroutine(g, "running", frame)
        stack = "\n".join(format_stack(frame)) or "(offset's own code)"
        return head + "the scheduler's loop, between goroutines:\n" + stack + "\n"

    def write(self, report: str) -> None:
        out = sys.stderr if self.file is None else self.file
        try:
            out.write(report)
            out.flush()
        except (AttributeError, OSError, ValueError):  # no stderr, or closed at interpreter exit
            pass


_lock = threading.Lock()
_current: _Monitor | None = None


def start(threshold: float, file: IO[str] | None = None) -> None:
    """Start the blocking monitor, or change its threshold and file.

    Reports, once per stall, a scheduler that has not switched goroutines
    for more than ``threshold`` seconds while not idle, with the goroutine
    that holds its thread and that goroutine's stack. gevent's monitor
    thread and asyncio's slow-callback warning play this part there.

    Args:
        threshold: seconds (a positive int or float), e.g. 0.1.
        file: where reports go (anything with ``write``); None, the
            default, is ``sys.stderr`` at the time of each report.

    Raises:
        TypeError: ``threshold`` is not a number, or ``file`` cannot be written to.
        ValueError: ``threshold`` is not positive.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise TypeError(f"start() argument 'threshold' must be a number of seconds, not {type(threshold).__name__}")
    if not threshold > 0 or threshold == float("inf"):
        raise ValueError(f"start() argument 'threshold' must be a positive number of seconds, not {threshold!r}")
    if file is not None and not callable(getattr(file, "write", None)):
        raise TypeError(f"start() argument 'file' must have a write() method, not {type(file).__name__}")
    global _current
    with _lock:
        m = _current
        if m is not None and not m.stopping:
            # Already watching: the next wait uses the new threshold.
            m.threshold = float(threshold)
            m.file = file
            return
        m = _current = _Monitor(float(threshold), file)
        _start_new_thread(m.run, ())
        m.started.acquire()  # its ident is among offset's threads before we return


def stop() -> None:
    """Stop the blocking monitor and wait for its thread to end; no-op when it is off."""
    global _current
    with _lock:
        m, _current = _current, None
        if m is None:
            return
        m.stopping = True
        m.wake.release()
    if m.ident != _get_ident():
        m.done.acquire(True, 5.0)


def is_running() -> bool:
    """Whether the monitor is on."""
    m = _current
    return m is not None and not m.stopping


def _after_fork_in_child() -> None:
    global _current, _lock
    _lock = threading.Lock()
    m = _current
    _current = None
    if m is not None and not m.stopping:
        start(m.threshold, m.file)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
# Not while the interpreter takes itself apart: its schedulers are gone.
atexit.register(stop)
