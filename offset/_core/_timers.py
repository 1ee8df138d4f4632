"""The scheduler's timer heap: when to wake, and what to run then.

What: each scheduler keeps its pending timers in one binary min-heap ordered
by (deadline, sequence number). A waiting timer is only an entry here: no
thread, no goroutine (Go: runtime/time.go). ``sleep`` is a timer whose
callback readies the sleeping goroutine; offset.time's Timer and Ticker are
timers whose callback sends on a channel without blocking.

Invariants:
- ``heap[i].index == i`` for every entry in the heap; an entry not in the heap
  has ``index == -1``. Removal is therefore O(log n), and a stopped timer is
  gone from the heap at once (not marked and left to rot, which would let
  100,000 start/stop pairs grow the heap without bound).
- Ties in deadline fire in the order they were scheduled (``seq``).
- The heap is touched only by the thread that owns the scheduler, so it takes
  no lock; other threads that want a timer ask that thread (see _sched).

Callbacks run on the scheduler's own loop, between goroutines: they must not
block. They get the entry's ``arg``.

Rejected: ``heapq`` with lazy deletion. It is C and faster per push, but a
stopped timer stays in the heap until its deadline passes, so start/stop
loops leak until then, and the idle wait can no longer read the next real
deadline off the top.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

__all__ = ["TimerEntry", "TimerHeap"]

_seq = itertools.count()


class TimerEntry:
    """One pending wake-up: call ``fn(arg)`` at ``when`` (monotonic ns)."""

    __slots__ = ("when", "seq", "index", "fn", "arg", "keepalive")

    def __init__(
        self, when: int, fn: Callable[[Any], None], arg: Any, keepalive: bool = False
    ) -> None:
        self.when = when
        self.seq = 0
        self.index = -1  # position in the heap; -1 when not scheduled
        self.fn = fn
        self.arg = arg
        # A keepalive timer keeps run() without a main goroutine from
        # returning: its callback will start a goroutine (AfterFunc).
        self.keepalive = keepalive


class TimerHeap:
    """An indexed binary min-heap of TimerEntry keyed on (when, seq)."""

    __slots__ = ("heap", "nkeepalive")

    def __init__(self) -> None:
        self.heap: list[TimerEntry] = []
        self.nkeepalive = 0

    def __len__(self) -> int:
        return len(self.heap)

    def next_deadline(self) -> int | None:
        """The earliest deadline, or None when no timer is pending."""
        heap = self.heap
        return heap[0].when if heap else None

    def push(self, entry: TimerEntry) -> None:
        """Schedule ``entry``, which must not be scheduled already."""
        assert entry.index == -1, "timer entry is already in the heap"
        entry.seq = next(_seq)
        heap = self.heap
        entry.index = len(heap)
        heap.append(entry)
        self._up(entry.index)
        if entry.keepalive:
            self.nkeepalive += 1

    def remove(self, entry: TimerEntry) -> bool:
        """Take ``entry`` out; return whether it was scheduled."""
        i = entry.index
        if i < 0:
            return False
        heap = self.heap
        last = heap.pop()
        entry.index = -1
        if entry.keepalive:
            self.nkeepalive -= 1
        if last is not entry:
            heap[i] = last
            last.index = i
            self._down(i)
            self._up(last.index)
        return True

    def pop_expired(self, now: int) -> TimerEntry | None:
        """Remove and return the earliest entry if its deadline is <= now."""
        heap = self.heap
        if not heap or heap[0].when > now:
            return None
        top = heap[0]
        self.remove(top)
        return top

    def clear(self) -> None:
        for entry in self.heap:
            entry.index = -1
        self.heap.clear()
        self.nkeepalive = 0

    # Sift helpers: compare (when, seq) without building tuples.
    def _up(self, i: int) -> None:
        heap = self.heap
        entry = heap[i]
        when, seq = entry.when, entry.seq
        while i > 0:
            parent_i = (i - 1) >> 1
            parent = heap[parent_i]
            if parent.when < when or (parent.when == when and parent.seq < seq):
                break
            heap[i] = parent
            parent.index = i
            i = parent_i
        heap[i] = entry
        entry.index = i

    def _down(self, i: int) -> None:
        heap = self.heap
        n = len(heap)
        entry = heap[i]
        when, seq = entry.when, entry.seq
        while True:
            child_i = 2 * i + 1
            if child_i >= n:
                break
            child = heap[child_i]
            right_i = child_i + 1
            if right_i < n:
                right = heap[right_i]
                if right.when < child.when or (right.when == child.when and right.seq < child.seq):
                    child_i, child = right_i, right
            if when < child.when or (when == child.when and seq < child.seq):
                break
            heap[i] = child
            child.index = i
            i = child_i
        heap[i] = entry
        entry.index = i
