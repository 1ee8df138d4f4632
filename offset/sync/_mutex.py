"""Mutex and RWMutex (Go: src/sync/mutex.go, src/sync/rwmutex.go).

What: mutual exclusion between goroutines of any scheduler and plain
threads. A goroutine that waits parks (its scheduler runs others); a plain
thread that waits blocks only itself. Both wait on the core's one wait
queue (offset/_core/_sema.py), which also withdraws a waiter stopped in
its wait and passes on what it had been handed.

Mutex is the core's hand-off lock (``LockBase``: its invariants and why no
wake-up is lost are written there), with Go's names and panics
(``MutexBase``, compiled with the core): FIFO among goroutines, each handed
the lock directly, plain threads waiting in the C lock itself, uncontended
lock and unlock without chanlock.

RWMutex invariants (all under chanlock, no fast path):
- ``_writer`` is True while a writer holds it; ``_readers`` counts readers
  holding it; never both.
- Writer preference, as in Go: while a writer waits, new readers queue,
  so a stream of readers cannot starve a writer. Unlock admits every
  reader that queued during the write before the next writer, so writers
  cannot starve readers either.
- A served waiter has already been counted in (``_readers`` or
  ``_writer``); one whose wait is given up after that gives it back.

Rejected: a channel of capacity one as the Mutex: a locked lock would cost
a channel operation under chanlock even when nobody else is there.
"""

from __future__ import annotations

from typing import Any, Protocol

from .._core import SERVED, InternalError, MutexBase, PanicError, Sudog, WaitQueue, chan_lock, chan_unlock, waitreason

__all__ = ["Locker", "Mutex", "RWMutex"]

_acquire = chan_lock
_release = chan_unlock


class Locker(Protocol):
    """Anything that can be locked and unlocked (Go's sync.Locker)."""

    def lock(self) -> None: ...

    def unlock(self) -> None: ...


class Mutex(MutexBase):
    """A mutual exclusion lock; usable as a context manager.

    Go's sync.Mutex. Any goroutine or thread may unlock a locked Mutex (it
    is not tied to the one that locked it). Waiting goroutines are served
    in FIFO order, each handed the lock directly (Go's starvation mode,
    always); a plain thread waits in a C lock, and gets the Mutex when no
    goroutine is queued. Works across schedulers and with plain threads.

    ``lock``, ``try_lock``, ``unlock`` and ``with`` are the core's own
    (``MutexBase`` in offset/_core/_sema.py), called directly: compiled,
    the uncontended path runs no Python frame.
    """

    __slots__ = ("__weakref__",)  # not in MutexBase, which may be compiled

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
        self._rwait = WaitQueue()
        self._wwait = WaitQueue()

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
        self._rwait.park(waitreason.SYNC_RWMUTEX_RLOCK, abandon=self._abandon_read)

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
        self._wwait.park(waitreason.SYNC_RWMUTEX_LOCK, abandon=self._abandon_write)

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

    # -- internals. Callers hold chanlock (the abandons take it); each returns with it released. --

    def _abandon_read(self, w: Sudog) -> None:
        _acquire()
        if w.state == SERVED:  # let in as the wait was given up: give it back
            self._readers -= 1
        self._grant()  # our leaving may let others in

    def _abandon_write(self, w: Sudog) -> None:
        _acquire()
        if w.state == SERVED:
            self._writer = False
        self._grant()

    def _admit_readers(self) -> None:
        ws = self._rwait.serve_all()
        self._readers += len(ws)
        _release()
        for w in ws:
            w.parker.ready()

    def _grant(self) -> None:
        """Let in whoever may enter now: a writer when free, else waiting readers."""
        if self._writer:
            _release()
        elif self._wwait:
            if self._readers:
                _release()
                return
            w = self._wwait.serve()
            if w is None:
                _release()
                raise InternalError("RWMutex: a non-empty writer queue served nobody")
            self._writer = True
            _release()
            w.parker.ready()
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
