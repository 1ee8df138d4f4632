"""The scheduler's timer heap: when to wake, and what to run then.

What: each scheduler keeps its pending timers in one binary min-heap ordered
by (deadline, sequence number). A waiting timer is only an entry here: no
thread, no goroutine (Go: runtime/time.go). This module is the heap and its
entries; the Timer/Ticker state machine built on it is in ``_time.py``.
Two kinds of entry:

- ``TimerEntry``: call ``fn(arg)`` at the deadline, holding ``arg``
  strongly. ``sleep``, the timeouts of ``_io.py`` and ``_sema.py`` (whose
  goroutine waits for them anyway), and the timers that must stay alive
  while pending (``AfterFunc``, context deadlines) use it.
- ``WeakEntry``: a ``weakref.ref`` to a channel timer (``_time.Timer``),
  fired with its ``fire``. The heap does not keep such a timer alive, as
  Go 1.23 does not: one the program dropped is freed (its channel keeps it
  alive while anyone holds that). Its death calls the weakref's callback,
  ``died``, which only appends the entry to ``dead`` (atomic under the GIL,
  from whatever thread freed it, even from inside a heap operation during
  a garbage collection); the owner removes the dead entries at its next
  safe point (``reap``: the loop's ``run_due``, a new channel timer).

The heap is ``heapq`` over plain int keys, ``when << 32 | seq``, so every
sift compares two ints in C; ``entries`` maps a key to its entry. Removal
is Go's (time.go before 1.23, timerDeleted): the entry leaves ``entries``
at once, which lets it, and what it holds, go; its key stays in the heap
as a tombstone. When tombstones pass a quarter of the heap it is rebuilt
without them (``filter`` and ``heapify``, both C). So a stopped timer is
gone at once but for an int, the heap never holds more than 4/3 of what
is live, and the top is cleaned before its deadline is read. Keys are
unique while fewer than 2**32 timers share one deadline.

Chaos scheduling (``OFFSET_SHUFFLE``, _sched.py): the heap is given its
scheduler's ``random.Random`` (``rng``, None when off), and ``run_due``
then takes every entry due at that visit off the heap first, shuffles
them, and fires them in that order, so that no code relies on the order of
timers that expire together. While collected, an entry's key is
``_COLLECTED``: ``remove`` says it has fired (it is about to, and its
wake-up is owed, as for any entry that fired), and one pushed again before
its turn (nothing on the loop does that today) fires at its new deadline
instead.

Invariants:
- ``entry.key`` is the entry's key while it is scheduled, ``_COLLECTED``
  while a shuffled ``run_due`` holds it to fire, and -1 otherwise;
  nothing outside this module reads it.
- A key in ``heap`` is live iff it is in ``entries``; ``ndead`` counts the
  others, and ``len(self)`` is what is live (dead weak entries included
  until reaped).
- A deadline is never negative (``push`` clamps it to 0: already due).
- Ties in deadline fire in the order they were scheduled (``seq``),
  unless chaos scheduling is on.
- The heap is touched only by the thread that owns the scheduler, so it takes
  no lock; other threads that want a timer changed ask that thread
  (Scheduler.call_threadsafe).

Callbacks run on the scheduler's own loop, between goroutines: they must not
block.

Rejected designs:
- An indexed binary heap in Python (each entry knows its position,
  removal is an exact O(log n) sift): its sifts are Python loops, 3.2 us
  per removal at 100,000 entries.
- heapq over (when, seq, entry) items: each comparison is a tuple
  comparison, two rich compares, and a pop at 100,000 entries cost ~1 us.
- For channel timers, a TimerEntry whose ``arg`` is a ``weakref.ref`` to
  the timer: two objects per timer where the weakref subclass is one (88
  bytes, made in C), and its death callback would need a map from the
  weakref back to its entry.
- A weakref callback that removes the entry itself: it may run in another
  thread, or inside a heap operation (a garbage collection is triggered by
  any allocation), where the heap is not consistent.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
import weakref
from collections.abc import Callable
from typing import Any, Final

from ._errors import InternalError
from ._native import mypyc_attr

__all__ = ["TimerEntry", "TimerHeap", "WeakEntry"]

# Final: compiled, a module-level name read on a hot path is a C static
# when Final, and a lookup in the module's dict when not.
_heapify: Final = heapq.heapify
_heappop: Final = heapq.heappop
_heappush: Final = heapq.heappush
_monotonic_ns: Final = time.monotonic_ns

# Its __next__, bound: compiled, next() on it looked up builtins.next each call.
_next_seq: Final = itertools.count().__next__

_SEQ_BITS: Final = 32
_SEQ_MASK: Final = (1 << _SEQ_BITS) - 1
# The loop never asks the OS to wait longer than this (ns) for a timer:
# epoll's limit is ~24.8 days, and a deadline further away than that (a
# sleep of a year) is looked at again after a day.
_MAX_WAIT: Final = 86_400 * 1_000_000_000
# An entry's key while a shuffled run_due holds it, about to fire it.
_COLLECTED: Final = -2


class TimerEntry:
    """One pending wake-up: call ``fn(arg)`` at its deadline (monotonic ns).

    ``keepalive``: the entry keeps ``run()`` without a main goroutine from
    returning while it is pending (its callback will start a goroutine).
    """

    __slots__ = ("key", "fn", "arg", "keepalive")

    def __init__(self, fn: Callable[[Any], None], arg: Any, keepalive: bool = False) -> None:
        self.key = -1  # the heap key while scheduled, else -1
        self.fn: Callable[[Any], None] | None = fn
        self.arg = arg
        self.keepalive = keepalive


@mypyc_attr(native_class=False)  # see _native.py
class WeakEntry(weakref.ref):  # type: ignore[type-arg]
    """A channel timer's entry: a weak reference to the timer (see the docstring).

    Made with ``Subclass(timer, heap.died)``; when due, ``run_due`` calls
    ``entry.fire(timer)`` on the owner's loop if the timer is still alive.
    The subclass (``_time.py``'s) supplies ``fire``.
    """

    __slots__ = ("key",)
    key: int  # as TimerEntry's
    fn = None  # tells run_due this is a weak entry
    keepalive = False

    @staticmethod
    def fire(timer: Any) -> None:
        raise InternalError("WeakEntry.fire is not overridden")


class TimerHeap:
    """A min-heap of timer entries keyed on (when, seq), with lazy removal."""

    __slots__ = ("heap", "entries", "ndead", "nkeepalive", "dead", "died", "rng")

    def __init__(self, rng: random.Random | None = None) -> None:
        self.heap: list[int] = []
        self.entries: dict[int, TimerEntry | WeakEntry] = {}
        self.ndead = 0
        self.nkeepalive = 0
        # Weak entries whose timer has been freed, to remove (see reap).
        self.dead: list[WeakEntry] = []
        self.died: Callable[[WeakEntry], None] = self.dead.append
        # Chaos scheduling: fire the entries due together in random order (see above).
        self.rng = rng

    def __len__(self) -> int:
        return len(self.entries)

    def next_deadline(self) -> int | None:
        """When the loop must look next: the earliest deadline, or None.

        A deadline more than a day away is reported as a day from now, so
        that the OS wait fits every netpoller's limit.
        """
        heap = self.heap
        entries = self.entries
        while heap:
            key = heap[0]
            if key in entries:
                when = key >> _SEQ_BITS
                now = _monotonic_ns()
                return when if when - now < _MAX_WAIT else now + _MAX_WAIT
            _heappop(heap)
            self.ndead -= 1
        return None

    def push(self, entry: TimerEntry | WeakEntry, when: int) -> None:
        """Schedule ``entry`` for ``when`` (monotonic ns; a past one is due at once)."""
        if entry.key >= 0:
            raise InternalError("timer entry pushed while already in the heap")
        if when < 0:
            when = 0
        entry.key = key = (when << _SEQ_BITS) | (_next_seq() & _SEQ_MASK)
        self.entries[key] = entry
        _heappush(self.heap, key)
        if entry.keepalive:
            self.nkeepalive += 1

    def remove(self, entry: TimerEntry | WeakEntry) -> bool:
        """Take ``entry`` out; return whether it was scheduled (False once it fired)."""
        key = entry.key
        if key < 0:
            return False
        entry.key = -1
        del self.entries[key]
        if entry.keepalive:
            self.nkeepalive -= 1
        # Never pop here, even from the top: marking costs nothing, and the
        # rebuild below (C filter + heapify) is cheap amortized.
        heap = self.heap
        self.ndead = ndead = self.ndead + 1
        if ndead > 64 and ndead > len(heap) >> 2:
            heap[:] = filter(self.entries.__contains__, heap)
            _heapify(heap)
            self.ndead = 0
        return True

    def reap(self) -> None:
        """Remove the weak entries whose timer was freed (owner thread, a safe point)."""
        dead = self.dead
        while dead:
            self.remove(dead.pop())

    def run_due(self) -> None:
        """Fire every entry whose deadline has come, earliest first (the loop calls this)."""
        heap = self.heap
        if not heap:
            return
        if self.dead:
            self.reap()
        entries = self.entries
        limit = (_monotonic_ns() + 1) << _SEQ_BITS  # keys below this are due
        if self.rng is not None:
            self._run_due_shuffled(limit, self.rng)
            return
        while heap:
            key = heap[0]
            if key >= limit:
                return
            _heappop(heap)
            entry = entries.pop(key, None)
            if entry is None:
                self.ndead -= 1
                continue
            entry.key = -1
            fn = entry.fn
            if fn is not None:
                if entry.keepalive:
                    self.nkeepalive -= 1
                fn(entry.arg)  # type: ignore[union-attr]
            else:
                t = entry()  # type: ignore[operator]
                if t is not None:
                    entry.fire(t)  # type: ignore[union-attr]

    def _run_due_shuffled(self, limit: int, rng: random.Random) -> None:
        """``run_due`` under chaos scheduling: the entries due now, in random order."""
        heap = self.heap
        entries = self.entries
        due: list[TimerEntry | WeakEntry] = []
        while heap and heap[0] < limit:
            entry = entries.pop(_heappop(heap), None)
            if entry is None:
                self.ndead -= 1
                continue
            entry.key = _COLLECTED
            if entry.keepalive:
                self.nkeepalive -= 1
            due.append(entry)
        rng.shuffle(due)
        i = 0
        try:
            while i < len(due):
                entry = due[i]
                i += 1
                if entry.key != _COLLECTED:
                    continue  # pushed again since: it fires at its new deadline
                entry.key = -1
                fn = entry.fn
                if fn is not None:
                    fn(entry.arg)  # type: ignore[union-attr]
                else:
                    t = entry()  # type: ignore[operator]
                    if t is not None:
                        entry.fire(t)  # type: ignore[union-attr]
        except BaseException:
            # A signal handler's exception (a bare run() catches it in its
            # loop and carries on): the others are still due, as they would
            # be in the heap.
            for entry in due[i:]:
                if entry.key == _COLLECTED:
                    entry.key = -1
                    self.push(entry, 0)
            raise

    def clear(self) -> None:
        """Drop every entry (the scheduler's run() has returned)."""
        for entry in self.entries.values():
            entry.key = -1
        self.entries.clear()
        self.heap.clear()
        self.dead.clear()
        self.ndead = 0
        self.nkeepalive = 0
