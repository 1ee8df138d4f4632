"""Goroutine dumps and runtime statistics: what a stuck or leaking program shows.

What: ``dump()`` prints every goroutine of every running scheduler, as Go
prints them on SIGQUIT: its id, its wait reason and for how long it has
waited, and its stack, most recent call first::

    goroutine 7 [chan receive, 2 minutes]:
    __main__.worker(...)
    \t/srv/app.py:12
    __main__.serve(...)
    \t/srv/app.py:30

``stats()`` returns the counts a dashboard wants, as a plain dict.
``OFFSET_DUMP_SIGNAL`` (read when offset is imported) installs a handler
that dumps on that signal and carries on. The blocking monitor, which uses
the same formatting, is offset.monitor.

How: the core keeps the running schedulers in ``schedulers`` (by thread;
only while their ``run()`` runs), and each scheduler keeps its started
goroutines in ``live``. A dump copies those (they belong to their owner
threads; a copy taken under the GIL is consistent at one bytecode
boundary, and one that races with the owner is taken again) and reads
each goroutine: a parked one's stack is its greenlet's ``gr_frame``; the
one that holds its thread (the one whose greenlet is running: its
``gr_frame`` is None) has the thread's current frame, from
``sys._current_frames()``; a runnable one is in the run queue. Frames of
offset itself at either end of a stack (the park, the Proc's body, the
dump's own call) are left out, as Go leaves out the runtime's.

"For how long" is the scheduler's coarse clock (``Scheduler.now``, read at
each visit of its loop) copied into the goroutine when it parks: no clock
call on the park path. It can be early by as long as a goroutine held the
thread before that park (the monitor reports such holds); waits shorter
than a second are not shown (Go shows only whole minutes).

Invariants: nothing here writes to a scheduler or a goroutine, so a dump
or stats() is safe from any thread, from a goroutine, and from a signal
handler that interrupted offset's own bookkeeping; what they show of
another thread is a snapshot that may be a moment old.

Rejected designs:
- Stamping the wait with ``time.monotonic_ns()`` at every park: a clock
  call on the hottest path (two per ping-pong round trip) for a number
  read only by dumps.
- Go's lazy stamp (``waitsince`` set by the garbage collector the first
  time it finds the goroutine waiting): offset has no periodic pass over
  the goroutines to do it, and a first dump would show no durations.
- Running the signal dump through the signal patch area (deferred to the
  scheduler's loop when it interrupts offset's code): a goroutine that
  holds the thread would keep the loop, and so the dump, from ever
  running, and that is the program one most wants a dump of.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import IO, Any

from ._config import dump_signal, monitor_threshold
from ._config import signal_number as signal_number
from ._core import G, Scheduler, pool_stats, schedulers

__all__ = ["dump", "format_dump", "stats"]

_PKG_PREFIX = os.path.dirname(os.path.abspath(__file__)) + os.sep


def dump(file: IO[str] | None = None) -> None:
    """Print every goroutine of every scheduler, with its wait and its stack.

    Go's goroutine dump (what SIGQUIT prints): for each running scheduler,
    each goroutine as ``goroutine N [reason, M minutes]:`` followed by its
    stack, most recent call first; ``[running]`` for the one that holds its
    thread, ``[runnable]`` for one waiting for its turn. Safe from any
    thread and from a goroutine.

    Args:
        file: where to write (anything with ``write``); None, the default,
            is ``sys.stderr`` at the time of the call.
    """
    text = format_dump()
    out = sys.stderr if file is None else file
    if not callable(getattr(out, "write", None)):
        raise TypeError(f"dump() argument 'file' must have a write() method, not {type(out).__name__}")
    out.write(text)
    flush = getattr(out, "flush", None)
    if flush is not None:
        flush()


def format_dump() -> str:
    """What ``dump()`` prints, as a string."""
    frames = sys._current_frames()
    parts = []
    scheds = _copy(schedulers.values)
    total = 0
    for s in sorted(scheds, key=lambda s: s.ident):
        gs = _goroutines_of(s, frames)
        total += len(gs)
        parts.append(f"scheduler of thread {_thread_name(s.ident)} ({len(gs)} goroutines):\n\n")
        parts.extend(entry + "\n" for entry in gs)
    head = f"offset: goroutine dump, {len(scheds)} schedulers, {total} goroutines\n\n"
    return head + "".join(parts)


def stats() -> dict[str, Any]:
    """Counts of what the runtime holds now, as a plain dict; safe from any thread.

    Keys:
        ``schedulers``: schedulers whose ``run()`` is running (one per thread).
        ``goroutines``: goroutines alive (started and not finished, plus
            those queued that have not started yet).
        ``running``: goroutines holding their thread now (at most one per
            scheduler; 0 when every loop is between goroutines or idle).
        ``runnable``: goroutines queued to run.
        ``parked``: goroutines blocked (``goroutines - running - runnable``).
        ``parked_by_reason``: ``{wait reason: count}`` for the parked ones,
            with Go's words ("chan receive", "select", "sleep", "IO wait",
            "syscall", "sync.Mutex.Lock", ...).
        ``pool_busy``, ``pool_idle``: threads of the blocking-call pool
            running a call, and waiting for one.
        ``pool_queued``: calls waiting for a pool thread.
        ``pool_max``: the pool's size (``OFFSET_MAX_THREADS``).
        ``netpoll_waits``: fd waits armed in the netpollers (one per fd
            and direction a goroutine waits on).
        ``netpoll_fds``: fds the netpollers have registered (kept between
            waits on the same socket).
        ``timers``: pending timers in the schedulers' heaps (sleeps,
            timeouts, offset.time timers and tickers).
    """
    scheds = _copy(schedulers.values)
    running = runnable = parked = 0
    by_reason: dict[str, int] = {}
    waits = fds = timers = 0
    for s in scheds:
        for state, g in _states(s):
            if state == "running":
                running += 1
            elif state == "runnable":
                runnable += 1
            else:
                parked += 1
                by_reason[g.reason] = by_reason.get(g.reason, 0) + 1
        poller = s._poller
        if poller is not None:
            waits += poller.nwaiting
            fds += len(getattr(poller, "fds", ()))
        timers += len(s.timers)
    busy, idle, queued, size = pool_stats()
    return {
        "schedulers": len(scheds),
        "goroutines": running + runnable + parked,
        "running": running,
        "runnable": runnable,
        "parked": parked,
        "parked_by_reason": by_reason,
        "pool_busy": busy,
        "pool_idle": idle,
        "pool_queued": queued,
        "pool_max": size,
        "netpoll_waits": waits,
        "netpoll_fds": fds,
        "timers": timers,
    }


# -- reading the core from any thread ---------------------------------------


def _copy(items: Callable[[], Iterable[Any]]) -> list[Any]:
    """``list(items())``, taken again if its owner thread changed it meanwhile."""
    for _ in range(100):
        try:
            return list(items())
        except RuntimeError:  # changed size during iteration (another thread)
            continue
    return []  # pragma: no cover - a container that never holds still


def _states(s: Scheduler) -> list[tuple[str, G]]:
    """Each alive goroutine of ``s`` with its state: running, runnable or parked."""
    queued: dict[G, None] = {}
    for g in _copy(lambda: [s.runnext, *s.runq, *s.remote]):
        if g is not None and g.fn is not None:
            queued[g] = None
    out: list[tuple[str, G]] = []
    for g in s.live:  # a copy, taken safely from any thread
        proc = g.proc
        if proc is None or g.fn is None:
            continue  # finished since the copy
        if g in queued:
            out.append(("runnable", g))
        elif proc.gr_frame is None and not proc.dead:
            out.append(("running", g))  # its greenlet runs: it holds the thread
        else:
            out.append(("parked", g))
    live = {g for _, g in out}
    out.extend(("runnable", g) for g in queued if g not in live and g.proc is None)
    return out


def running_goroutine(s: Scheduler) -> G | None:
    """The goroutine that holds ``s``'s thread now, or None (its loop does)."""
    for state, g in _states(s):
        if state == "running":
            return g
    return None


def _goroutines_of(s: Scheduler, frames: dict[int, FrameType]) -> list[str]:
    now = s.now
    entries = []
    for state, g in sorted(_states(s), key=lambda sg: sg[1].id):
        if state == "running":
            frame = frames.get(s.ident)
            if s.ident == threading.get_ident():
                frame = sys._getframe()
            entries.append(format_goroutine(g, "running", frame))
        elif state == "runnable":
            entries.append(format_goroutine(g, "runnable", None))
        else:
            proc = g.proc
            since = g.since
            label = g.reason or "parked"
            waited = (now - since) / 1e9 if since and now >= since else 0.0
            entries.append(format_goroutine(g, label + _waited(waited), proc.gr_frame if proc is not None else None))
    return entries


def _waited(seconds: float) -> str:
    """``, N minutes`` (Go's words, from one minute), ``, N seconds`` (from one second), or nothing."""
    if seconds >= 60:
        return f", {int(seconds // 60)} minutes"
    if seconds >= 1:
        return f", {int(seconds)} seconds"
    return ""


def format_goroutine(g: G, label: str, frame: FrameType | None) -> str:
    """``goroutine N [label]:`` and the stack from ``frame`` outwards, without offset's frames at the ends."""
    lines = [f"goroutine {g.id} [{label}]:"]
    stack = format_stack(frame)
    if stack:
        lines.extend(stack)
    else:
        lines.extend(_function_lines(g.fn))
    return "\n".join(lines) + "\n"


def format_stack(frame: FrameType | None) -> list[str]:
    """Go's two lines per frame, most recent first: ``module.function(...)`` and ``\\tfile:line``.

    The function's qualified name (``Class.method``, ``outer.<locals>.inner``)
    from Python 3.11; 3.10's code objects know only the bare name.
    """
    chain: list[FrameType] = []
    while frame is not None:
        chain.append(frame)
        frame = frame.f_back
    start, end = 0, len(chain)
    while start < end and chain[start].f_code.co_filename.startswith(_PKG_PREFIX):
        start += 1
    while end > start and chain[end - 1].f_code.co_filename.startswith(_PKG_PREFIX):
        end -= 1
    lines = []
    for f in chain[start:end]:
        code = f.f_code
        module = f.f_globals.get("__name__", "?")
        name = getattr(code, "co_qualname", code.co_name)
        lines.append(f"{module}.{name}(...)")
        lines.append(f"\t{code.co_filename}:{f.f_lineno}")
    return lines


def _function_lines(fn: Any) -> list[str]:
    """A goroutine with no frame of its own to show (not started, or a C function)."""
    if fn is None:
        return []
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    module = getattr(fn, "__module__", None)
    lines = [f"{module}.{name}(...)" if module else f"{name}(...)"]
    code = getattr(fn, "__code__", None)
    if code is not None:
        lines.append(f"\t{code.co_filename}:{code.co_firstlineno}")
    return lines


def _thread_name(ident: int) -> str:
    """``'name' (ident)``, without making a dummy Thread for a foreign thread."""
    t = threading._active.get(ident)  # type: ignore[attr-defined]
    name = t.name if t is not None else "?"
    return f"{name!r} ({ident})"


# -- OFFSET_DUMP_SIGNAL (parsed by _config) -------------------------------------


def _write_fd(fd: int, data: bytes) -> None:
    from .patches import get_original

    write: Callable[[int, memoryview], int] = get_original("os", "write")
    view = memoryview(data)
    while view:
        try:
            n = write(fd, view)
        except InterruptedError:
            continue
        except OSError:
            return  # stderr closed or gone: nothing to print to
        view = view[n:]


def _dump_handler(signum: int, frame: Any) -> None:
    """The handler OFFSET_DUMP_SIGNAL installs: dump to stderr's fd, carry on.

    Installed with the C-level ``signal.signal`` and never wrapped by the
    signal patch area, so it runs where Python runs it, even in the middle
    of offset's bookkeeping (a dump only reads) or of a goroutine that holds
    the thread. It writes to the fd itself: ``sys.stderr`` may be in the
    middle of a write it interrupted (a reentrant write raises).
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):
        fd = 2
    _write_fd(fd, format_dump().encode("utf-8", "backslashreplace"))


def install_dump_signal(signum: int) -> None:
    """Dump on ``signum`` (main thread only, as every signal handler)."""
    import _signal  # type: ignore[import-not-found]  # the C module: never patched

    _signal.signal(signum, _dump_handler)


def setup_from_environment() -> None:
    """``OFFSET_DUMP_SIGNAL`` and ``OFFSET_MONITOR``, read once when offset is imported (parsed by _config)."""
    signum = dump_signal()
    if signum is not None:
        if threading.current_thread() is not threading.main_thread():
            raise ValueError(
                "OFFSET_DUMP_SIGNAL: a signal handler can only be installed in the main thread; "
                "import offset there first"
            )
        install_dump_signal(signum)
    threshold = monitor_threshold()
    if threshold is not None:
        from . import monitor

        monitor.start(threshold)
