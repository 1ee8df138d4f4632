"""Go's time package for goroutines: durations, sleep, Timer, Ticker.

What: durations are plain ints of nanoseconds, as Go's ``time.Duration``;
``now()`` is the monotonic clock in nanoseconds. ``Timer``, ``Ticker``,
``After``, ``Tick`` and ``AfterFunc`` are Go 1.23's: a timer's channel
behaves as if unbuffered, so once ``stop()`` or ``reset()`` has returned no
value from before the call is received.

How a timer waits. A timer made in a goroutine belongs to that goroutine's
scheduler: while it waits it is one ``TimerEntry`` in the scheduler's heap
(no thread, no goroutine), and its callback runs on the scheduler's loop,
where it must not block. A channel timer's callback sends ``now()`` without
blocking: straight to a waiting receiver, or into a hidden one-value buffer,
or (a Ticker whose receiver is slow) nowhere: the tick is dropped, as Go
drops it. ``AfterFunc``'s callback starts ``fn`` as a new goroutine; its
entry is a *keepalive* one, so ``run()`` without a main goroutine waits for
it. A timer fires only while its scheduler runs: when ``run()`` returns
(Go: the program ended) the scheduler's pending timers are dropped with
its goroutines.

A timer made outside any goroutine (a plain thread, or the main thread
before ``run()``) has no running scheduler to belong to. It falls back to a
``threading.Timer`` (a daemon thread) per arming: its channel works exactly
the same, and ``AfterFunc``'s ``fn`` runs in that timer thread, since there
is no scheduler to start a goroutine on. This fallback costs a thread while
the timer waits; make timers inside goroutines to avoid it.

State and locking. Each timer's state (``_active``, ``_when``, ``_gen``)
is guarded by ``_timerlock``, one process-wide lock, held only for a few
lines and never across a park. Only the owning thread touches its heap:
``stop()``/``reset()`` from any other thread update the state under the
lock and ask the owner, through ``Scheduler.call_threadsafe``, to bring the
heap in line (``_sync``). The owner's callback re-checks the state under
the lock before firing, so an entry that fires before the owner has seen a
stop or reset does nothing. The callback sends while still holding the
lock, and stop/reset drain the hidden buffer under it: that is what makes
"no stale value after stop() returns" hold across threads.

Invariants (under ``_timerlock``):
- ``_active`` is True exactly while the timer will fire: its entry is in
  the owner's heap, or a ``_sync`` call or a ``threading.Timer`` is on its
  way to make it so.
- The hidden slot holds a value only if the timer fired since the last
  stop/reset and nobody has received it yet.
- ``entry.arg`` is the timer exactly while the entry is in the heap, so a
  stopped or fired timer is not kept alive by a reference cycle.

Lock order: a context's lock, then ``_timerlock``, then the core's
``chanlock`` (taken inside channel operations). Nothing takes them in any
other order.

Rejected designs:
- A goroutine (or a thread) per timer, sleeping: 100,000 pending timers
  would cost 100,000 stacks.
- Marking stopped entries dead and leaving them in the heap: start/stop
  loops would grow the heap until the old deadlines pass.
- A buffered channel of one, as before Go 1.23: stop() and reset() could
  leave a stale value for the receiver, the bug Go 1.23 fixed.
"""

from __future__ import annotations

import threading
import time as _stdtime
from collections.abc import Callable
from typing import Any

from ._core import Chan, TimerEntry, current_goroutine, default, go, select
from ._core import Scheduler as _Scheduler
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
_get_ident = threading.get_ident

# Guards every timer's state; see the module docstring for the lock order.
_timerlock = threading.Lock()
_lock = _timerlock.acquire
_unlock = _timerlock.release


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
    return _monotonic_ns()


def since(t: int) -> int:
    """Nanoseconds elapsed since ``t``, a value of ``now()`` (Go's time.Since)."""
    return _monotonic_ns() - _duration(t, "t")


def until(t: int) -> int:
    """Nanoseconds from now until ``t``, a value on the ``now()`` clock (Go's time.Until)."""
    return _duration(t, "t") - _monotonic_ns()


class _TimerChan(Chan[int]):
    """A timer's channel: one hidden slot, but len and cap 0 as in Go 1.23.

    The slot holds a value the timer sent while nobody was receiving;
    stop() and reset() empty it, so no stale value is received after them.
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(1)

    @property
    def cap(self) -> int:
        """0: a timer channel is synchronous (Go 1.23)."""
        return 0

    def __len__(self) -> int:
        """0: a timer channel is synchronous (Go 1.23)."""
        return 0


_buffered = Chan.__len__  # the real count of a _TimerChan's hidden slot

# What a timer does when it fires.
_SEND = 0  # send now() on its channel (Timer, Ticker)
_GO = 1  # start fn(*args) as a goroutine (AfterFunc)
_CALL = 2  # call fn(*args) right on the loop (offset.context's deadlines)


class _Base:
    """What Timer and Ticker share: the state machine and the two backends."""

    __slots__ = (
        "_c",
        "_kind",
        "_fn",
        "_args",
        "_period",
        "_when",
        "_active",
        "_gen",
        "_sched",
        "_entry",
        "_thread",
        "__weakref__",
    )
    _c: _TimerChan | None  # made on first use
    _sched: _Scheduler | None  # the owner; None for the thread fallback
    _entry: TimerEntry | None  # the owner's heap entry; None for the thread fallback
    _thread: threading.Timer | None  # the fallback's pending thread

    def _start(self, kind: int, fn: Callable[..., Any] | None, args: tuple[Any, ...], period: int, when: int) -> None:
        """Set up a new timer, pending for ``when``.

        Takes no lock: nobody else can see this timer yet.
        """
        self._c = None
        self._kind = kind
        self._fn = fn
        self._args = args
        self._period = period
        # Under _timerlock: the deadline wanted (monotonic ns), whether the
        # timer is pending, and the arming count (the thread backend's
        # staleness check).
        self._when = when
        self._active = True
        self._gen = 0
        self._thread = None
        g = current_goroutine()
        if g is not None:
            s = self._sched = g.sched
            entry = self._entry = TimerEntry(when, _fire, self, kind == _GO)
            s.timers.push(entry)  # we are the owner thread
        else:
            self._sched = None
            self._entry = None
            self._arm_thread(when).start()

    def _chan(self) -> _TimerChan:
        c = self._c
        if c is None:
            with _timerlock:
                c = self._chan_locked()
        return c

    def _chan_locked(self) -> _TimerChan:
        # Made on first use: a timer nobody receives from (stopped unread,
        # or an AfterFunc) never pays for a channel. Caller holds _timerlock.
        c = self._c
        if c is None:
            c = self._c = _TimerChan()
        return c

    def _send(self) -> None:
        # Never blocks: to a waiting receiver, into the hidden slot, or
        # dropped when the slot is full. Caller holds _timerlock.
        select(self._chan_locked().if_send(_monotonic_ns()), default)

    # -- the two backends. Caller holds _timerlock. -----------------------

    def _arm(self, when: int) -> threading.Timer | None:
        """Make the timer pending for ``when``; return a thread to start.

        The thread (fallback backend) is started by the caller after it
        releases _timerlock.
        """
        self._when = when
        self._active = True
        self._gen += 1
        s = self._sched
        if s is None:
            return self._arm_thread(when)
        if _get_ident() == s.ident:
            entry = self._entry
            assert entry is not None
            heap = s.timers
            if entry.index >= 0:
                heap.remove(entry)
            entry.when = when
            entry.arg = self
            heap.push(entry)
        else:
            s.call_threadsafe(_sync, self)
        return None

    def _arm_thread(self, when: int) -> threading.Timer:
        old = self._thread
        if old is not None:
            old.cancel()
        th = threading.Timer(max(0, when - _monotonic_ns()) / 1e9, _fire_thread, (self, self._gen))
        th.daemon = True
        self._thread = th
        return th

    def _disarm(self) -> bool:
        """Make the timer not pending; return whether it was."""
        was = self._active
        self._active = False
        self._gen += 1
        s = self._sched
        if s is None:
            th = self._thread
            if th is not None:
                th.cancel()
                self._thread = None
        elif _get_ident() == s.ident:
            entry = self._entry
            assert entry is not None
            if entry.index >= 0:
                s.timers.remove(entry)
                entry.arg = None  # see _fire
        else:
            s.call_threadsafe(_sync, self)
        return was

    def _drain(self) -> bool:
        """Empty the hidden slot; return whether a value was there."""
        c = self._c
        # Only a firing timer fills the slot, and it holds _timerlock to do so.
        if c is not None and _buffered(c):
            return select(c.if_recv(), default) is not default
        return False


def _fire(t: _Base) -> None:
    """The heap entry's callback, on the owning scheduler's loop.

    An entry points back at its timer (``entry.arg``) only while it is in
    the heap: every path that takes it out clears ``arg``, so a stopped or
    fired timer is freed by reference counting as soon as its user drops
    it, without waiting for the cycle collector.
    """
    with _timerlock:
        entry = t._entry
        assert entry is not None
        entry.arg = None
        if not t._active or entry.when != t._when:
            return  # stopped or reset from another thread; _sync is on its way
        if t._period:
            # A Ticker: the next tick on the period's grid after now (Go
            # skips the ticks a late loop missed).
            period = t._period
            when = t._when
            when += period * (1 + (_monotonic_ns() - when) // period)
            t._when = entry.when = when
            entry.arg = t
            assert t._sched is not None
            t._sched.timers.push(entry)
        else:
            t._active = False
        if t._kind == _SEND:
            t._send()
            return
    fn = t._fn
    assert fn is not None
    if t._kind == _GO:
        go(fn, *t._args)
    else:
        fn(*t._args)


def _sync(t: _Base) -> None:
    """On the owning loop: make the heap agree with the timer's state."""
    s = t._sched
    entry = t._entry
    assert s is not None and entry is not None
    with _timerlock:
        heap = s.timers
        if entry.index >= 0:
            if t._active and entry.when == t._when:
                return
            heap.remove(entry)
            entry.arg = None
        if t._active:
            entry.when = t._when
            entry.arg = t
            heap.push(entry)


def _fire_thread(t: _Base, gen: int) -> None:
    """The fallback backend's callback, in its threading.Timer thread."""
    th = None
    with _timerlock:
        if t._gen != gen or not t._active:
            return
        if t._period:
            when = t._when
            period = t._period
            when += period * (1 + (_monotonic_ns() - when) // period)
            t._when = when
            t._gen += 1
            th = t._arm_thread(when)
        else:
            t._active = False
            t._thread = None
        if t._kind == _SEND:
            t._send()
    if th is not None:
        th.start()
        return
    fn = t._fn
    if fn is not None:
        fn(*t._args)  # no scheduler here: AfterFunc's fn runs in this thread


class Timer(_Base):
    """A single event: after ``d`` nanoseconds, ``now()`` is sent on ``c``.

    Go's time.NewTimer, with Go 1.23's semantics: once ``stop()`` or
    ``reset()`` returns, no value from before is received on ``c``, and a
    stopped timer is gone from its scheduler's heap. A timer made in a
    goroutine costs one heap entry; one made outside any goroutine falls
    back to a daemon ``threading.Timer`` (see the module docstring). For
    ``AfterFunc`` timers ``c`` is a channel nothing is ever sent on (Go's
    is nil; receiving from either blocks forever).

    Args:
        d: nanoseconds to wait; zero or negative fires at once.

    Raises:
        TypeError: ``d`` is not an int.
    """

    __slots__ = ()

    def __init__(self, d: int) -> None:
        if type(d) is not int:
            _duration(d)
        self._start(_SEND, None, (), 0, _monotonic_ns() + d)

    @classmethod
    def _func(cls, kind: int, d: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> Timer:
        when = _monotonic_ns() + _duration(d)
        if not callable(fn):
            raise TypeError(f"AfterFunc() argument 'fn' must be callable, not {type(fn).__name__}")
        t = cls.__new__(cls)
        t._start(kind, fn, args, 0, when)
        return t

    @property
    def c(self) -> Chan[int]:
        """The channel the timer sends ``now()`` on when it fires (Go's C)."""
        return self._chan()

    def stop(self) -> bool:
        """Stop the timer; return True if that stopped it from firing.

        Go's Timer.Stop (Go 1.23): False when it had already fired (and its
        value was received) or was stopped. A value it sent that nobody has
        received yet is taken back, and True returned. For an ``AfterFunc``
        timer, True means ``fn`` will not be started; stop does not wait
        for a running ``fn``.
        """
        _lock()
        try:
            was = self._active
            if was:
                s = self._sched
                if s is not None and _get_ident() == s.ident:  # the common case, inline
                    self._active = False
                    entry = self._entry
                    assert entry is not None
                    if entry.index >= 0:
                        s.timers.remove(entry)
                        entry.arg = None  # see _fire
                else:
                    self._disarm()
            c = self._c
            if c is not None and _buffered(c) and self._drain():
                was = True
        finally:
            _unlock()
        return was

    def reset(self, d: int) -> bool:
        """Make the timer fire ``d`` nanoseconds from now; return whether it was pending.

        Go's Timer.Reset (Go 1.23): a value sent before and not yet received
        is discarded (and counts as pending), so only the new expiry is
        received. An ``AfterFunc`` timer runs ``fn`` again at the new time.

        Raises:
            TypeError: ``d`` is not an int.
        """
        when = _monotonic_ns() + _duration(d)
        with _timerlock:
            was = self._active
            if self._drain():
                was = True
            th = self._arm(when)
        if th is not None:
            th.start()
        return was

    def __repr__(self) -> str:
        state = "pending" if self._active else "stopped"
        return f"<offset.time.Timer {state} at {id(self):#x}>"


class Ticker(_Base):
    """Sends ``now()`` on ``c`` every ``d`` nanoseconds; drops ticks for a slow receiver.

    Go's time.NewTicker, with Go 1.23's semantics: ticks land on a grid of
    the period, and a tick the receiver is not ready for is dropped (at
    most one waits to be received); after ``stop()`` or ``reset()`` no
    stale tick is received. Stop a ticker you are done with: a running
    ticker stays in its scheduler's heap. Outside a goroutine it falls back
    to daemon threads (see the module docstring).

    Args:
        d: the period in nanoseconds; must be positive.

    Raises:
        TypeError: ``d`` is not an int.
        ValueError: ``d`` is zero or negative (Go panics:
            "non-positive interval for NewTicker").
    """

    __slots__ = ()

    def __init__(self, d: int) -> None:
        if _duration(d) <= 0:
            raise ValueError(f"non-positive interval for Ticker: 'd' must be > 0, not {d}")
        self._start(_SEND, None, (), d, _monotonic_ns() + d)

    @property
    def c(self) -> Chan[int]:
        """The channel ticks are sent on (Go's C)."""
        return self._chan()

    def stop(self) -> None:
        """Turn the ticker off: no more ticks, and no stale one is received.

        Go's Ticker.Stop (Go 1.23). Stop does not close ``c``.
        """
        with _timerlock:
            self._disarm()
            self._drain()

    def reset(self, d: int) -> None:
        """Change the period to ``d``; the next tick comes ``d`` from now.

        Go's Ticker.Reset (Go 1.23): a tick not yet received is discarded.

        Raises:
            TypeError: ``d`` is not an int.
            ValueError: ``d`` is zero or negative (Go panics:
                "non-positive interval for Ticker.Reset").
        """
        if _duration(d) <= 0:
            raise ValueError(f"non-positive interval for Ticker.Reset: 'd' must be > 0, not {d}")
        when = _monotonic_ns() + d
        with _timerlock:
            self._drain()
            self._period = d
            th = self._arm(when)
        if th is not None:
            th.start()

    def __repr__(self) -> str:
        state = f"every {self._period}ns" if self._active else "stopped"
        return f"<offset.time.Ticker {state} at {id(self):#x}>"


def After(d: int) -> Chan[int]:
    """Wait ``d`` nanoseconds, then send ``now()`` on the returned channel.

    Go's time.After: the same as ``Timer(d).c``. Since Go 1.23 the timer is
    collected if unreferenced; here it leaves the heap when it fires. Use a
    ``Timer`` and stop it if the wait may be abandoned early in a loop.

    Raises:
        TypeError: ``d`` is not an int.
    """
    return Timer(d).c


def Tick(d: int) -> Chan[int] | None:
    """A channel that receives ``now()`` every ``d`` nanoseconds.

    Go's time.Tick: ``Ticker(d).c``, with no way to stop the ticker. As in
    Go, a zero or negative ``d`` returns None (a nil channel: in ``select``
    a None case is ignored).

    Raises:
        TypeError: ``d`` is not an int.
    """
    if _duration(d) <= 0:
        return None
    return Ticker(d).c


def AfterFunc(d: int, fn: Callable[..., Any], /, *args: Any) -> Timer:
    """Start ``fn(*args)`` in its own goroutine after ``d`` nanoseconds.

    Go's time.AfterFunc. The returned Timer's ``stop()`` cancels the call
    if ``fn`` has not started (and returns True); ``reset(d)`` schedules it
    again. While pending it keeps ``run()`` without a main goroutine from
    returning. Made outside any goroutine, ``fn`` runs in a daemon timer
    thread instead (there is no scheduler to start a goroutine on).

    Raises:
        TypeError: ``d`` is not an int, or ``fn`` is not callable.
    """
    return Timer._func(_GO, d, fn, args)


def _call_after(d: int, fn: Callable[..., Any], *args: Any) -> Timer:
    """Call ``fn(*args)`` on the owning loop after ``d`` (or in the fallback thread).

    For offset.context's deadlines: ``fn`` must not block. The timer does
    not keep run() alive.
    """
    return Timer._func(_CALL, d, fn, args)
