"""Mutex and RWMutex (Go: src/sync/mutex.go, src/sync/rwmutex.go).

What: mutual exclusion between goroutines of any scheduler and plain
threads. A goroutine that waits parks (its scheduler runs others); a plain
thread that waits blocks only itself (it parks on a ThreadParker).

Mutex invariants:
- ``_held`` (a ``threading.Lock``) is acquired exactly when the Mutex is
  held, or is being handed to the waiter at the head of ``_waitq``. The
  uncontended path is one ``acquire(False)`` to lock and one ``release()``
  to unlock: no chanlock.
- ``_waitq`` holds the parkers (goroutines, or ThreadParkers of plain
  threads) that found the Mutex held; each is served at most once, by an
  unlock that takes it out of the queue and hands ``_held`` over to it
  without ever releasing it (Go's starvation mode, always: FIFO, no
  barging past a waiter that is being woken).
- Waiters enter and leave ``_waitq`` only under chanlock, so "no longer in
  the queue" means "served" to a waiter whose park was interrupted.

Why no wake-up is lost, with unlock off chanlock. A locker that fails the
fast path takes chanlock, appends its waiter, and only then tries
``_held`` once more (still under chanlock; on success it takes its waiter
back out). An unlocker releases ``_held`` and only then looks at
``_waitq``. Under the GIL the two sequences are interleaved, never
reordered, so either the locker's retry sees the release, or the
unlocker's look sees the waiter and then, under chanlock, takes ``_held``
on the waiter's behalf and hands it over. If someone barged in between
(a fast-path lock), that one's unlock sees the waiter instead.

RWMutex invariants (all under chanlock, no fast path):
- ``_writer`` is True while a writer holds it; ``_readers`` counts readers
  holding it; never both.
- Writer preference, as in Go: while a writer waits, new readers queue,
  so a stream of readers cannot starve a writer. Unlock admits every
  reader that queued during the write before the next writer, so writers
  cannot starve readers either.

Every waiter withdrawn by an exception in park (GoroutineExit,
KeyboardInterrupt) either leaves its queue, or, if it was already served,
passes what it was given on by unlocking.

Rejected designs:
- Go's normal (barging) mode: on one thread a woken goroutine only runs
  after its waker parks, so a waker that locks again in a loop would win
  every time and the woken goroutine would re-queue, paying a switch for
  nothing.
- A channel of capacity one as the Mutex: a locked lock costs a channel
  operation under chanlock even when nobody else is there.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Protocol

from .._core import G, PanicError, ThreadParker, Waiter, chanlock, current_parker

__all__ = ["Locker", "Mutex", "RWMutex"]

_acquire = chanlock.acquire
_release = chanlock.release


class Locker(Protocol):
    """Anything that can be locked and unlocked (Go's sync.Locker)."""

    def lock(self) -> None: ...

    def unlock(self) -> None: ...


class Mutex:
    """A mutual exclusion lock; usable as a context manager.

    Go's sync.Mutex. Any goroutine or thread may unlock a locked Mutex (it
    is not tied to the one that locked it). Waiters are served in FIFO
    order, each handed the lock directly (Go's starvation mode, always).
    Works across schedulers and with plain threads.
    """

    __slots__ = ("_held", "_waitq", "__weakref__")

    def __init__(self) -> None:
        self._held = threading.Lock()
        # Who waits, in order: a goroutine, or a plain thread's ThreadParker.
        # A waiter that is no longer here was served (handed the lock).
        self._waitq: deque[G | ThreadParker] = deque()

    def lock(self) -> None:
        """Lock the mutex; block until it is available.

        Go's Mutex.Lock. A goroutine parks ("sync.Mutex.Lock"); a plain
        thread blocks only itself.
        """
        if self._held.acquire(False):
            return
        g = current_parker()
        q = self._waitq
        _acquire()
        q.append(g)
        if self._held.acquire(False):  # released while we queued: see the docstring
            q.pop()  # still ours: chanlock was held since the append
            _release()
            return
        _release()
        try:
            g.park("sync.Mutex.Lock")
        except BaseException:
            _acquire()
            try:
                q.remove(g)
            except ValueError:  # already served: handed the lock as we were stopped
                _release()
                self.unlock()  # pass it on
            else:
                _release()
            raise

    def try_lock(self) -> bool:
        """Lock the mutex if it is free; return whether it did (Go's Mutex.TryLock)."""
        return self._held.acquire(False)

    def unlock(self) -> None:
        """Unlock the mutex, handing it to the first waiter if there is one.

        Go's Mutex.Unlock.

        Raises:
            PanicError: the mutex is not locked ("sync: unlock of unlocked mutex").
        """
        if self._waitq:
            self._handoff()
            return
        try:
            self._held.release()
        except RuntimeError:
            raise PanicError("sync: unlock of unlocked mutex") from None
        if self._waitq:
            self._wake()

    def _wake(self) -> None:
        """After a release: serve the waiter that queued meanwhile, unless someone barged in."""
        _acquire()
        if self._waitq and self._held.acquire(False):
            self._serve_head()  # else the one who barged in serves it at its unlock
        else:
            _release()

    def _handoff(self) -> None:
        _acquire()
        if not self._held.locked():
            _release()
            raise PanicError("sync: unlock of unlocked mutex")
        if self._waitq:
            self._serve_head()
        else:  # the waiter we saw was withdrawn
            self._held.release()
            _release()

    def _serve_head(self) -> None:
        """Give the held lock to the head waiter. Caller holds chanlock; returns with it released."""
        g = self._waitq.popleft()
        _release()
        g.ready()

    __enter__ = lock

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        # unlock(), inlined: ``with mu:`` is the common way to hold a Mutex,
        # and a second Python call would double its cost.
        if self._waitq:
            self._handoff()
            return
        try:
            self._held.release()
        except RuntimeError:
            raise PanicError("sync: unlock of unlocked mutex") from None
        if self._waitq:
            self._wake()

    def __repr__(self) -> str:
        state = "locked" if self._held.locked() else "unlocked"
        return f"<offset.sync.Mutex {state}, {len(self._waitq)} waiting at {id(self):#x}>"


class RWMutex:
    """A reader/writer lock: many readers or one writer.

    Go's sync.RWMutex: a writer blocked in ``lock()`` keeps new readers
    out, and ``unlock()`` lets in the readers that queued during the write
    before the next writer. Not tied to goroutines: any goroutine or thread
    may unlock. ``with rw:`` takes the write lock; ``with rw.rlocker():``
    a read lock.
    """

    __slots__ = ("_readers", "_writer", "_rwait", "_wwait", "__weakref__")

    def __init__(self) -> None:
        self._readers = 0
        self._writer = False
        self._rwait: deque[Waiter] = deque()
        self._wwait: deque[Waiter] = deque()

    def rlock(self) -> None:
        """Lock for reading; block while a writer holds or waits for the lock.

        Go's RWMutex.RLock. Do not take a read lock twice in one goroutine:
        a writer queued in between makes the second one wait forever.
        """
        _acquire()
        if not self._writer and not self._wwait:
            self._readers += 1
            _release()
            return
        self._wait(self._rwait, "sync.RWMutex.RLock")

    def try_rlock(self) -> bool:
        """Lock for reading if that need not wait; return whether it did (Go's TryRLock)."""
        _acquire()
        ok = not self._writer and not self._wwait
        if ok:
            self._readers += 1
        _release()
        return ok

    def runlock(self) -> None:
        """Undo one ``rlock()``; the last reader out lets a waiting writer in.

        Go's RWMutex.RUnlock.

        Raises:
            PanicError: no read lock is held ("sync: RUnlock of unlocked RWMutex").
        """
        _acquire()
        if self._readers <= 0:
            _release()
            raise PanicError("sync: RUnlock of unlocked RWMutex")
        self._readers -= 1
        self._grant()

    def lock(self) -> None:
        """Lock for writing; block until no reader or writer holds it.

        Go's RWMutex.Lock.
        """
        _acquire()
        if not self._writer and not self._readers and not self._wwait:
            self._writer = True
            _release()
            return
        self._wait(self._wwait, "sync.RWMutex.Lock")

    def try_lock(self) -> bool:
        """Lock for writing if that need not wait; return whether it did (Go's TryLock)."""
        _acquire()
        ok = not self._writer and not self._readers and not self._wwait
        if ok:
            self._writer = True
        _release()
        return ok

    def unlock(self) -> None:
        """Undo ``lock()``: admit the readers that waited, else the next writer.

        Go's RWMutex.Unlock.

        Raises:
            PanicError: the write lock is not held ("sync: Unlock of unlocked RWMutex").
        """
        _acquire()
        if not self._writer:
            _release()
            raise PanicError("sync: Unlock of unlocked RWMutex")
        self._writer = False
        if self._rwait:
            self._admit_readers()
        else:
            self._grant()

    def rlocker(self) -> Locker:
        """A Locker whose lock/unlock are this RWMutex's rlock/runlock (Go's RLocker)."""
        return _RLocker(self)

    def __enter__(self) -> None:
        self.lock()

    def __exit__(self, *exc: object) -> None:
        self.unlock()

    # -- internals. Callers hold chanlock; each returns with it released. --

    def _wait(self, q: deque[Waiter], reason: str) -> None:
        g = current_parker()
        w = Waiter(g)
        q.append(w)
        _release()
        try:
            g.park(reason)
        except BaseException:
            _acquire()
            if w.ok:  # served as we were stopped: give it back
                if q is self._rwait:
                    self._readers -= 1
                else:
                    self._writer = False
            else:
                q.remove(w)
            self._grant()  # our leaving may let others in
            raise

    def _admit_readers(self) -> None:
        ws = list(self._rwait)
        self._rwait.clear()
        self._readers += len(ws)
        for w in ws:
            w.ok = True
        _release()
        for w in ws:
            w.g.ready()

    def _grant(self) -> None:
        """Let in whoever may enter now: a writer when free, else waiting readers."""
        if self._writer:
            _release()
        elif self._wwait:
            if self._readers:
                _release()
                return
            w = self._wwait.popleft()
            self._writer = True
            w.ok = True
            _release()
            w.g.ready()
        elif self._rwait:
            self._admit_readers()
        else:
            _release()

    def __repr__(self) -> str:
        state = "write-locked" if self._writer else f"{self._readers} readers"
        return f"<offset.sync.RWMutex {state} at {id(self):#x}>"


class _RLocker:
    __slots__ = ("_rw",)

    def __init__(self, rw: RWMutex) -> None:
        self._rw = rw

    def lock(self) -> None:
        self._rw.rlock()

    def unlock(self) -> None:
        self._rw.runlock()

    def __enter__(self) -> None:
        self._rw.rlock()

    def __exit__(self, *exc: Any) -> None:
        self._rw.runlock()
