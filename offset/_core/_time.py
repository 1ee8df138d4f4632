"""Timers: the state machine under offset.time's Timer, Ticker and AfterFunc.

What: Go's runtime/time.go for offset. A ``Timer`` here is one pending
event, or a periodic one (a ticker), of one of three kinds:

- SEND: send ``now()`` on the timer's channel without blocking (Timer,
  Ticker, After, Tick);
- GO: start ``fn(*args)`` as a goroutine (AfterFunc);
- CALL: call ``fn(*args)`` right on the loop (offset.context's deadlines;
  ``fn`` must not block).

It is driven by ``start``, ``stop`` and ``reset`` (Go's names). offset.time
is only the public classes, argument checks and docstrings over this.

How a timer waits. A timer started in a goroutine belongs to that
goroutine's scheduler for good: while it waits it is one entry in the
scheduler's heap (``_timers.py``; no thread, no goroutine), and it fires on
the scheduler's loop, where it must not block. A SEND timer is *lazy*, as
in Go 1.23: it enters the heap only once its channel is made (``chan()``),
since until then nothing could receive what it sends. A timer started and
stopped without its channel being taken never touches the heap; one whose
channel is taken after its deadline gets its value at once (Go's
maybeRunChan; the value is the deadline, as Go's). A SEND timer sends without
blocking: straight to a waiting receiver, or into a hidden one-value slot,
or (a ticker whose receiver is slow) nowhere: the tick is dropped, as Go
drops it. A GO timer's entry is a *keepalive* one, so ``run()`` without a
main goroutine waits for it. A timer fires only while its scheduler runs:
when ``run()`` returns (Go: the program ended) the heap is cleared.

A timer started outside any goroutine (a plain thread, or the main thread
before ``run()``) has no running scheduler to belong to. It falls back to a
``threading.Timer`` (a daemon thread) per arming: its channel works the
same, and a GO timer's ``fn`` runs in that thread, there being no
scheduler to start a goroutine on. A wait longer than the thread's limit
is taken in steps (the thread re-arms if it woke early).

Collection (Go 1.23). The heap holds a SEND timer only weakly (a
``WeakEntry``), so one the program dropped is freed even if never stopped,
and its entry then leaves the heap. What keeps it alive: the program's
references, and its channel while the timer is pending (``_TimerChan._timer``:
a goroutine waiting on ``After(d)``'s channel holds the channel, which holds
the timer). GO and CALL timers are held strongly while pending, as Go
holds AfterFunc's: nothing else may refer to them. A thread-fallback timer
is held by its thread while pending.

States and transitions. The state is ``_active`` (the timer will fire) and
``_moved`` (the owner's heap does not agree yet: a ``_sync`` call is posted
to the owner), both under ``_timerlock``. "Owner" is the thread whose
scheduler holds the timer; "other" is any other thread.

    ==============  ======================  ==============  =====================================
    state           event                   next state      what happens
    ==============  ======================  ==============  =====================================
    (new)           start, in a goroutine   active          GO, CALL: entry pushed on the caller's
                                                            heap; SEND: lazy (no channel, no entry)
    (new)           start, elsewhere        active          a threading.Timer armed (fallback)
    active, lazy    chan() made, due        idle (ticker:   the deadline put in the hidden slot; a
                                            active)         ticker goes on as below, from its next tick
    active, lazy    chan() made             active          owner: entry pushed; other: moved, and
                                                            ``_sync`` posted to the owner
    active          fires, one-shot         idle            SEND: send; GO: go(fn); CALL: fn()
    active          fires, ticker           active          send; re-pushed on the period's grid
    active          stop by owner           idle            entry removed; hidden slot drained
    idle            stop                    idle            hidden slot drained (True if full)
    any             reset by owner          active          slot drained; entry (re)pushed at when
                                                            (a lazy timer: only the state is set)
    any             stop/reset by other     idle/active,    state set, slot drained; ``_sync``
                                            moved           posted to the owner (none for a lazy
                                                            timer: it is in no heap)
    moved           fires (a stale entry)   unchanged       nothing: ``_sync`` will re-push
    moved           _sync on the owner      not moved       heap made to agree with the state
    not moved       _sync on the owner      unchanged       nothing (an owner's op did it)
    active, SEND    unreferenced, freed     (gone)          heap's ``died``: the owner reaps it
    any             run() returns           unchanged       heap cleared: never fires
    ==============  ======================  ==============  =====================================

A fallback timer has no heap: every arming bumps ``_gen``, and a thread
whose ``gen`` is stale does nothing (``threading.Timer.cancel`` may lose
the race with a firing thread).

Invariants (under ``_timerlock``):
- ``_active`` is True exactly while the timer will fire: its entry is in
  the owner's heap at ``_when``, or ``_moved`` is set and ``_sync`` will
  put it there, or a fallback thread of generation ``_gen`` is armed, or
  it is a lazy SEND timer (no channel yet), which ``chan()`` will put there.
- A SEND timer of a scheduler has a heap entry (``_entry``) only once its
  channel exists; GO and CALL timers have one from ``start``.
- ``_when`` is in [0, 2**63 - 1]: a negative deadline is due at once (Go
  fires After(-(1 << 63)) at once), a huge one is clamped as Go's is.
- The hidden slot holds a value only if the timer fired since the last
  stop/reset and nobody has received it yet.
- A strong (GO, CALL) entry's ``arg`` is the timer exactly while it is in
  the heap, so a stopped or fired timer is not kept alive by a cycle.
- A pending SEND timer's channel, once made, refers to the timer
  (``_timer``); an idle one's does not.

Locking: ``_timerlock`` is one process-wide lock, held only for a few lines
and never across a park. The owner's firing re-checks the state under it,
and sends while holding it; stop/reset drain the hidden slot under it:
that is what makes "no stale value after stop() returns" hold across
threads. Lock order: a context's lock, then ``_timerlock``, then the
core's ``chanlock`` (taken inside channel operations).

Rejected designs:
- A goroutine (or a thread) per timer, sleeping: 100,000 pending timers
  would cost 100,000 stacks.
- A buffered channel of one, as before Go 1.23: stop() and reset() could
  leave a stale value for the receiver, the bug Go 1.23 fixed.
- All of Go 1.23's lazy channel timers (in the heap only while a goroutine
  is blocked on the channel, checked on every receive): it needs a hook in
  every channel receive and select; the weak entry gets the collection for
  the price of one weakref. The half kept (in the heap once the channel
  exists) needs a hook only where the channel is made, and makes a timer
  that is started and stopped without its channel 2.5x cheaper (its heap
  push and weak entry were most of its cost).
- Detecting a stale heap entry by comparing its deadline with the timer's:
  the heap clamps deadlines, so the two could disagree for good (a timer
  at a negative deadline never fired).
"""

from __future__ import annotations

import threading
import time as _stdtime
from collections.abc import Callable
from typing import Any, Final

from ._chan import Chan, chanrecv, chansend, short_lock
from ._errors import InternalError
from ._native import mypyc_attr
from ._sched import Scheduler, current_goroutine, go
from ._timers import TimerEntry, WeakEntry

__all__ = ["CALL", "GO", "SEND", "Timer", "call_after", "duration"]

# Final: compiled, a module-level name read on a hot path is a C static
# when Final, and a lookup in the module's dict when not (as in _sched.py).

# What a timer does when it fires.
SEND: Final = 0  # send now() on its channel (Timer, Ticker)
GO: Final = 1  # start fn(*args) as a goroutine (AfterFunc)
CALL: Final = 2  # call fn(*args) right on the loop (offset.context's deadlines)

MAX_WHEN: Final = (1 << 63) - 1  # Go's maxWhen
# The largest int a compiled module holds unboxed (mypyc's short int): a
# deadline is compared with MAX_WHEN, a boxed int, only above it, so the
# common case is one machine comparison instead of a call.
_SHORT_MAX: Final = (1 << 62) - 1
# A fallback thread waits at most this long (s) at a time (threading's limit is ~292 years,
# but a wait near it overflows inside the lock).
_MAX_THREAD_WAIT = 86_400.0

_get_ident: Final = threading.get_ident
_monotonic_ns: Final = _stdtime.monotonic_ns

# Compiled, a ShortLock (a flag): threading.Lock.acquire parses its arguments on
# every call, ~400 instructions of a Timer's start+stop (callgrind, 3.11);
# interpreted, a C lock (see _chan.py's chanlock).
_timerlock: Final = short_lock()


def duration(d: object, name: str = "d") -> int:
    """``d`` if it is a duration (an int of nanoseconds, not a bool), else TypeError.

    offset.time's argument check, here so that ``Timer(d)`` can make it
    without a Python frame of its own.
    """
    if isinstance(d, bool) or not isinstance(d, int):
        raise TypeError(f"argument '{name}' must be an int of nanoseconds, not {type(d).__name__}")
    return d


class _TimerChan(Chan[int]):
    """A timer's channel: one hidden slot, but len and cap 0 as in Go 1.23.

    The slot holds a value the timer sent while nobody was receiving;
    stop() and reset() empty it, so no stale value is received after them.
    ``_timer`` is the timer while it is pending: whoever holds the channel
    keeps the timer that will send on it.
    """

    __slots__ = ("_timer",)

    def __init__(self, timer: Timer | None) -> None:
        super().__init__(1)
        self._timer = timer

    @property
    def cap(self) -> int:
        """0: a timer channel is synchronous (Go 1.23)."""
        return 0

    def __len__(self) -> int:
        """0: a timer channel is synchronous (Go 1.23)."""
        return 0


_buffered: Final = Chan.__len__  # the real count of a _TimerChan's hidden slot


def _next_tick(when: int, period: int) -> int:
    """A ticker's next deadline: the first on the period's grid after now.

    Go skips the ticks a late loop (or thread) missed.
    """
    return when + period * (1 + (_monotonic_ns() - when) // period)


@mypyc_attr(native_class=False)  # see _native.py
class _Entry(WeakEntry):
    """A SEND timer's heap entry (see _timers.py)."""

    __slots__ = ()

    @staticmethod
    def fire(timer: Timer) -> None:
        _fire(timer)


@mypyc_attr(allow_interpreted_subclasses=True)  # subclassed by offset.time
class Timer:
    """One timer: a deadline, a period (0: one-shot), a kind, and its backend.

    Subclassed by offset.time's Timer and Ticker. Construct with
    ``Timer.__new__`` and ``start``; see the module docstring.
    """

    __slots__ = (
        "_c",
        "_kind",
        "_fn",
        "_args",
        "_period",
        "_when",
        "_active",
        "_moved",
        "_sched",
        "_entry",
        "_gen",
        "_fallback_thread",
        # No "__weakref__" (which _Entry needs): offset.time's subclasses
        # name it, since a compiled (native) class cannot (see _native.py).
    )
    _c: _TimerChan | None  # made on first use
    _kind: int  # SEND, GO or CALL
    _period: int  # ns; 0: one-shot
    _when: int  # the deadline, monotonic ns
    _active: bool
    _moved: bool
    _fn: Callable[..., Any] | None  # GO and CALL
    _args: tuple[Any, ...]
    _sched: Scheduler | None  # the owner; None for the thread fallback
    _entry: TimerEntry | WeakEntry | None  # the owner's heap entry; None for the fallback
    _gen: int  # fallback only: the arming count
    _fallback_thread: threading.Timer | None  # fallback only: the pending thread

    def __init__(self, d: object) -> None:
        """offset.time.Timer(d): a one-shot timer sending on its channel ``d`` ns from now.

        Here rather than in offset.time, so that making a Timer runs no
        Python frame when compiled; ``d`` is checked as offset.time checks
        every duration. Ticker has its own; AfterFunc and ``call_after``
        make theirs with ``__new__`` and ``start``.
        """
        n = d if type(d) is int else duration(d)
        _start(self, _monotonic_ns() + n, 0, SEND, None, ())

    def start(
        self,
        when: int,
        period: int = 0,
        kind: int = SEND,
        fn: Callable[..., Any] | None = None,
        args: tuple[Any, ...] = (),
    ) -> None:
        """Make this new timer pending for ``when`` (monotonic ns), then every ``period``.

        Takes no lock: nobody else can see the timer yet.
        """
        _start(self, when, period, kind, fn, args)

    def start_func(self, when: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """``start`` for AfterFunc: start ``fn(*args)`` as a goroutine at ``when``."""
        self.start(when, 0, GO, fn, args)

    def chan(self) -> Chan[int]:
        """The timer's channel (made on first use: many timers never need one)."""
        c = self._c
        if c is None:
            with _timerlock:
                c = self._chan_locked()
        return c

    def _chan_locked(self) -> _TimerChan:
        # Caller holds _timerlock. A pending heap timer's channel enters the heap with it.
        c = self._c
        if c is None:
            c = self._c = _TimerChan(None)
            if not self._active:
                return c
            s = self._sched
            if s is not None:  # lazy until now
                when = self._when
                if when <= _monotonic_ns():
                    # Due while nothing could receive: its value is ready now, not
                    # a loop pass later (Go 1.23's maybeRunChan). Go's value is the
                    # deadline.
                    chansend(c, when, False)
                    if not self._period:
                        self._active = False
                        return c
                    self._when = _next_tick(when, self._period)
                if _get_ident() == s.ident:
                    self._push(s)
                else:
                    self._moved = True
                    s.call_threadsafe(_sync, self)
            c._timer = self
        return c

    def stop(self) -> bool:
        """Stop the timer; return True if that stopped it from firing.

        Go's Timer.Stop (Go 1.23): False when it had already fired (and its
        value was received) or was stopped. A value it sent that nobody has
        received yet is taken back, and True returned. For an ``AfterFunc``
        timer, True means ``fn`` will not be started; stop does not wait
        for a running ``fn``. (offset.time.Timer's stop is this method.)
        """
        _timerlock.acquire()
        try:
            was = self._active
            if was:
                self._active = False
                s = self._sched
                entry = self._entry
                if s is None or entry is not None or self._c is not None:
                    if s is not None and _get_ident() == s.ident:  # the owner: inline
                        self._moved = False
                        if entry is not None and s.timers.remove(entry) and self._kind != SEND:
                            entry.arg = None  # type: ignore[union-attr]
                    else:
                        self._disarm()
                # else: a lazy timer (no channel taken), of any thread's scheduler:
                # in no heap, never moved, so nothing to undo (the common case).
            c = self._c
            if c is not None:
                c._timer = None
                if _buffered(c) and chanrecv(c, False) is not None:
                    was = True
        finally:
            _timerlock.release()
        return was

    def reset(self, when: int, period: int | None = None) -> bool:
        """Make the timer pending for ``when`` (and ``period``, if given); return whether it was.

        Go's Timer.Reset (Go 1.23): a value sent before and not yet received
        is discarded (and counts as pending).
        """
        if when < 0:
            when = 0
        elif when > _SHORT_MAX and when > MAX_WHEN:
            when = MAX_WHEN
        th = None
        with _timerlock:
            was = self._active
            c = self._c
            if c is not None:
                c._timer = self
                if _buffered(c) and chanrecv(c, False) is not None:
                    was = True
            if period is not None:
                self._period = period
            self._when = when
            self._active = True
            s = self._sched
            if s is None:
                self._gen += 1
                th = self._arm_thread(when)
            elif _get_ident() == s.ident:
                self._moved = False
                entry = self._entry
                if entry is not None:
                    s.timers.remove(entry)
                if c is not None or self._kind != SEND:
                    self._push(s)
            elif self._entry is not None or c is not None:
                self._moved = True
                s.call_threadsafe(_sync, self)
            # else: a lazy timer of another thread's scheduler, in no heap yet
        if th is not None:
            th.start()
        return was

    # -- caller holds _timerlock ---------------------------------------------

    def _push(self, s: Scheduler) -> None:
        """Put the pending timer in its owner's heap at ``_when`` (owner thread; not in it now)."""
        heap = s.timers
        entry = self._entry
        if entry is None:
            if self._kind == SEND:
                if heap.dead:
                    heap.reap()
                entry = _Entry(self, heap.died)
                entry.key = -1
            else:
                entry = TimerEntry(_FIRE, self, self._kind == GO)
            self._entry = entry
        elif self._kind != SEND:
            entry.arg = self  # type: ignore[union-attr]
        heap.push(entry, self._when)

    def _disarm(self) -> None:
        """Stop from a thread that is not the owner's (or for the fallback)."""
        s = self._sched
        if s is None:
            self._gen += 1
            th = self._fallback_thread
            if th is not None:
                th.cancel()
                self._fallback_thread = None
        else:
            self._moved = True
            s.call_threadsafe(_sync, self)

    def _arm_thread(self, when: int) -> threading.Timer:
        """The fallback: a thread that fires this timer at ``when``; the caller starts it."""
        old = self._fallback_thread
        if old is not None:
            old.cancel()
        wait = min(max(0, when - _monotonic_ns()) / 1e9, _MAX_THREAD_WAIT)
        th = threading.Timer(wait, _fire_thread, (self, self._gen))
        th.daemon = True
        self._fallback_thread = th
        return th

    def _send(self) -> None:
        # Never blocks: to a waiting receiver, into the hidden slot, or
        # dropped when the slot is full.
        chansend(self._chan_locked(), _monotonic_ns(), False)


def _start(t: Timer, when: int, period: int, kind: int, fn: Callable[..., Any] | None, args: tuple[Any, ...]) -> None:
    """Timer.start's body: a function, so that __init__ calls it directly
    (compiled, a method call on an instance of offset.time's subclass goes
    through Python, since the subclass could override it)."""
    if when < 0:
        when = 0
    elif when > _SHORT_MAX and when > MAX_WHEN:
        when = MAX_WHEN
    t._c = None
    t._kind = kind
    t._period = period
    t._when = when
    t._active = True
    t._moved = False
    if kind != SEND:
        t._fn = fn
        t._args = args
    g = current_goroutine()
    if g is not None:
        s = t._sched = g.sched
        if kind == SEND:
            t._entry = None  # lazy: in the heap once its channel is made
        else:
            entry = t._entry = TimerEntry(_FIRE, t, kind == GO)
            s.timers.push(entry, when)  # we are the owner thread
    else:
        t._sched = None
        t._entry = None
        t._gen = 0
        t._fallback_thread = None
        t._arm_thread(when).start()


def _fire(t: Timer) -> None:
    """A heap entry's callback, on the owning scheduler's loop."""
    with _timerlock:
        kind = t._kind
        if kind != SEND:
            t._entry.arg = None  # type: ignore[union-attr]  # see the invariants
        if t._moved or not t._active:
            return  # stopped or reset from another thread; _sync is on its way
        period = t._period
        if period:
            t._when = when = _next_tick(t._when, period)
            s = t._sched
            if s is None:
                raise InternalError("a heap timer has no scheduler")
            if kind != SEND:
                t._entry.arg = t  # type: ignore[union-attr]
            s.timers.push(t._entry, when)  # type: ignore[arg-type]
        else:
            t._active = False
            c = t._c
            if c is not None:
                c._timer = None
        if kind == SEND:
            t._send()
            return
    fn = t._fn
    if fn is None:
        raise InternalError("a GO or CALL timer has no function")
    if kind == GO:
        go(fn, *t._args)
    else:
        fn(*t._args)


# The callback as a value (a heap entry's): Final, so compiled a C static,
# not a lookup in the module's dict each time a timer is started.
_FIRE: Final = _fire


def _sync(t: Timer) -> None:
    """On the owning loop: make the heap agree with the timer's state."""
    with _timerlock:
        if not t._moved:
            return  # an owner's stop or reset did it already
        t._moved = False
        s = t._sched
        entry = t._entry
        if s is None:
            raise InternalError("a heap timer has no scheduler")
        if entry is not None and s.timers.remove(entry) and t._kind != SEND:
            entry.arg = None  # type: ignore[union-attr]
        if t._active and (t._c is not None or t._kind != SEND):
            t._push(s)


def _fire_thread(t: Timer, gen: int) -> None:
    """The fallback's callback, in its threading.Timer thread."""
    with _timerlock:
        if t._gen != gen or not t._active:
            return
        when = t._when
        due = _monotonic_ns() >= when
        if not due:
            th: threading.Timer | None = t._arm_thread(when)  # a long wait is taken in steps
        elif t._period:
            t._when = when = _next_tick(when, t._period)
            t._gen += 1
            th = t._arm_thread(when)
        else:
            th = None
            t._active = False
            t._fallback_thread = None
            c = t._c
            if c is not None:
                c._timer = None
        kind = t._kind
        if due and kind == SEND:
            t._send()
    if th is not None:
        th.start()
    if due and kind != SEND:
        fn = t._fn
        if fn is None:
            raise InternalError("a GO or CALL timer has no function")
        fn(*t._args)  # no scheduler here: the function runs in this thread


def call_after(d: int, fn: Callable[..., Any], *args: Any) -> Timer:
    """Call ``fn(*args)`` on the owning loop after ``d`` ns (or in the fallback thread).

    For offset.context's deadlines: ``fn`` must not block. The timer is
    held while pending, and does not keep run() alive. Returns the timer,
    for ``stop()``.
    """
    t = Timer.__new__(Timer)
    t.start(_monotonic_ns() + d, 0, CALL, fn, args)
    return t
