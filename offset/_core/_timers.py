"""The scheduler's timer heap: when to wake, and what to run then.

What: each scheduler keeps its pending timers in one binary min-heap ordered
by (deadline, sequence number). A waiting timer is only an entry here: no
thread, no goroutine (Go: runtime/time.go). ``sleep`` is a timer whose
callback readies the sleeping goroutine; offset.time's Timer and Ticker are
timers whose callback sends on a channel without blocking.

The heap is ``heapq`` over plain int keys, ``when << 32 | seq``, so every
sift compares two ints in C; ``entries`` maps a key to its entry. Removal
is Go's (time.go before 1.23, timerDeleted): the entry leaves ``entries``
at once, which lets it, and the Timer, callback and argument it holds, go;
its key stays in the heap as a tombstone. When tombstones pass a quarter of
the heap it is rebuilt without them (``filter`` and ``heapify``, both C).
So a stopped timer is gone at once but for an int, the heap never holds
more than 4/3 of what is live, and the top is cleaned before its deadline
is read. Keys are unique while fewer than 2**32 timers share one deadline.

Invariants:
- ``entry.key`` is the entry's key while it is scheduled; ``entry.index`` is
  0 while scheduled and -1 when not (callers test ``index >= 0``).
- A key in ``heap`` is live iff it is in ``entries``; ``ndead`` counts the
  others, and ``len(self)`` is what is live.
- Ties in deadline fire in the order they were scheduled (``seq``).
- The heap is touched only by the thread that owns the scheduler, so it takes
  no lock; other threads that want a timer changed ask that thread
  (Scheduler.call_threadsafe).

Callbacks run on the scheduler's own loop, between goroutines: they must not
block. They get the entry's ``arg``.

Rejected: an indexed binary heap in Python (each entry knows its position,
removal is an exact O(log n) sift): its sifts are Python loops, 3.2 us per
removal at 100,000 entries. Also heapq over (when, seq, entry) items: each
comparison is a tuple comparison, two rich compares, and a pop at 100,000
entries cost ~1 us.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from heapq import heapify as _heapify
from heapq import heappop as _heappop
from heapq import heappush as _heappush
from typing import Any

__all__ = ["TimerEntry", "TimerHeap"]

_seq = itertools.count()


class TimerEntry:
    """One pending wake-up: call ``fn(arg)`` at ``when`` (monotonic ns)."""

    __slots__ = ("when", "index", "key", "fn", "arg", "keepalive")

    def __init__(self, when: int, fn: Callable[[Any], None], arg: Any, keepalive: bool = False) -> None:
        self.when = when
        self.index = -1  # 0 while scheduled, -1 when not
        self.key = -1  # the heap key while scheduled
        self.fn = fn
        self.arg = arg
        # A keepalive timer keeps run() without a main goroutine from
        # returning: its callback will start a goroutine (AfterFunc).
        self.keepalive = keepalive


_SEQ_BITS = 32
_SEQ_MASK = (1 << _SEQ_BITS) - 1


class TimerHeap:
    """A min-heap of TimerEntry keyed on (when, seq), with lazy removal."""

    __slots__ = ("heap", "entries", "ndead", "nkeepalive")

    def __init__(self) -> None:
        self.heap: list[int] = []
        self.entries: dict[int, TimerEntry] = {}
        self.ndead = 0
        self.nkeepalive = 0

    def __len__(self) -> int:
        return len(self.entries)

    def next_deadline(self) -> int | None:
        """The earliest deadline, or None when no timer is pending."""
        heap = self.heap
        entries = self.entries
        while heap:
            key = heap[0]
            if key in entries:
                return key >> _SEQ_BITS
            _heappop(heap)
            self.ndead -= 1
        return None

    def push(self, entry: TimerEntry) -> None:
        """Schedule ``entry``, which must not be scheduled already."""
        assert entry.index == -1, "timer entry is already in the heap"
        when = entry.when
        if when < 0:
            when = entry.when = 0
        entry.index = 0
        entry.key = key = (when << _SEQ_BITS) | (next(_seq) & _SEQ_MASK)
        self.entries[key] = entry
        _heappush(self.heap, key)
        if entry.keepalive:
            self.nkeepalive += 1

    def remove(self, entry: TimerEntry) -> bool:
        """Take ``entry`` out; return whether it was scheduled."""
        if entry.index != 0:
            return False
        entry.index = -1
        del self.entries[entry.key]
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

    def pop_expired(self, now: int) -> TimerEntry | None:
        """Remove and return the earliest entry if its deadline is <= now."""
        heap = self.heap
        entries = self.entries
        limit = (now + 1) << _SEQ_BITS  # keys below this are due
        while heap:
            key = heap[0]
            if key >= limit:
                return None
            _heappop(heap)
            entry = entries.pop(key, None)
            if entry is None:
                self.ndead -= 1
                continue
            entry.index = -1
            if entry.keepalive:
                self.nkeepalive -= 1
            return entry
        return None

    def clear(self) -> None:
        for entry in self.entries.values():
            entry.index = -1
        self.entries.clear()
        self.heap.clear()
        self.ndead = 0
        self.nkeepalive = 0
