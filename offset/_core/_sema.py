"""The one wait queue: who waits for a lock, a condition, a count or a slot.

What: ``WaitQueue``, a FIFO of parked waiters (Go: runtime/sema.go's
semaRoot with its sudogs; trio's ParkingLot). Every blocking primitive
that is not a channel is built on it: offset.sync's Mutex, RWMutex,
WaitGroup, Cond and Semaphore, and the patched ``threading`` locks (so
Condition, Event, Semaphore, Barrier and ``queue.Queue`` too). A waiter
is a goroutine of any scheduler or a plain thread (a ThreadParker made for
the wait); wakers may be either too. (The hand-off lock below is the one
exception: a plain thread waits for it in the C lock itself.)

Protocol. The primitive takes ``chanlock``, looks at its own state and,
if it must wait, calls ``park(reason, timeout)``, which queues a
``Sudog`` for the caller, releases chanlock and parks. A waker takes
chanlock, changes the primitive's state on the waiter's behalf (hands it
the lock, counts its weight) and takes it off the queue with ``serve``;
after releasing chanlock it calls ``ready()`` on what ``serve`` returned.
``park`` returns True when the waiter was served, False when its timeout
passed first. So a served waiter already has what it waited for: there is
no window in which a third party can take it (hand-off, Go's starvation
mode, always).

Invariants (under chanlock):
- A Sudog's ``state`` goes from WAITING to exactly one of SERVED (a waker
  took it), TIMEDOUT (its timer did) or WITHDRAWN (its own exception did),
  and is in the queue exactly while WAITING. Whoever moves it out of
  WAITING, under chanlock, decides how the wait ends; the others see that
  they lost.
- Every SERVED or TIMEDOUT waiter gets exactly one ready(), after chanlock
  is released.

Withdrawal. ``park`` may end in an exception instead: GoroutineExit (the
goroutine is stopped), a signal handler's exception thrown into the main
goroutine, KeyboardInterrupt in a plain thread. Then the waiter leaves the
queue if it is still WAITING; if a waker got there first, the goroutine
owes itself one wake-up (``G.stale``: the late ready() resumes nothing) and
``abandon(w)`` is called so the primitive can pass on what the waiter was
given (unlock, release the weight, signal again). Nothing is lost and
nothing is woken twice.

Timeouts. A goroutine's timeout is a timer on its own scheduler's heap
whose callback withdraws the waiter as TIMEDOUT and readies it; a plain
thread's is its ThreadParker's timed acquire, after which it withdraws the
waiter itself, unless a waker served it meanwhile (then the wait counts as
served: the thread has what it waited for).

Rejected designs:
- One lock per queue (Go's semaRoot locks): the primitives' own state is
  guarded by chanlock already, and a waker must change it and serve the
  waiter atomically; a second lock would only add an ordering to respect.
- An OrderedDict for O(1) withdrawal (trio): FIFO append/popleft on a deque
  is cheaper on the hot contended path, and a withdrawal scans only when a
  wait times out or is interrupted.
"""

from __future__ import annotations

import _thread
import time
from _thread import LockType
from collections import deque
from collections.abc import Callable
from typing import Any, Final, Protocol

from ._chan import chan_lock, chan_unlock
from ._errors import InternalError, PanicError
from ._native import mypyc_attr
from ._sched import G, ThreadParker, current_goroutine, current_parker
from ._timers import TimerEntry
from ._waitreason import SYNC_MUTEX_LOCK

__all__ = ["LockBase", "MutexBase", "Parker", "Sudog", "WaitQueue", "WAITING", "SERVED", "TIMEDOUT", "WITHDRAWN"]

# Final: compiled, a module-level name read on a hot path is a C static
# when Final, and a lookup in the module's dict when not.
_allocate_lock: Final = _thread.allocate_lock
_monotonic_ns: Final = time.monotonic_ns

WAITING: Final = 0
SERVED: Final = 1
TIMEDOUT: Final = 2
WITHDRAWN: Final = 3


class Parker(Protocol):
    """What a Sudog wakes: a goroutine, a plain thread's ThreadParker, or a
    custom wake-up (a Semaphore acquire that waits in select)."""

    def ready(self) -> None: ...


class Sudog:
    """One waiter in one WaitQueue (Go's sudog).

    ``parker`` is what ready() wakes; ``value`` is the primitive's (a
    Semaphore's weight, whether an RWMutex waiter reads or writes).
    """

    __slots__ = ("parker", "state", "value", "queue")

    def __init__(self, parker: Parker, value: Any, queue: WaitQueue) -> None:
        self.parker = parker
        self.state = WAITING
        self.value = value
        self.queue = queue

    def ready(self) -> None:
        self.parker.ready()

    def __repr__(self) -> str:
        state = ("waiting", "served", "timed out", "withdrawn")[self.state]
        return f"<Sudog {self.parker!r} {state} value={self.value!r}>"


def _expire(w: Sudog) -> None:
    """A goroutine's timeout, on its scheduler's loop: withdraw it unless served."""
    if not w.queue.withdraw(w, TIMEDOUT):
        w.parker.ready()


@mypyc_attr(native_class=False)  # see _native.py
class WaitQueue(deque[Sudog]):
    """A FIFO of waiters; see the module docstring for the protocol.

    A deque of WAITING Sudogs (a subclass, so that ``if q:`` and
    ``len(q)``, which hot paths test without chanlock, stay C calls).
    Only its own methods change it, under chanlock.
    """

    __slots__ = ()

    # -- waiting ------------------------------------------------------------

    def park(
        self,
        reason: str,
        timeout: float | None = None,
        *,
        value: Any = None,
        retry: Callable[[], object] | None = None,
        abandon: Callable[[Sudog], None] | None = None,
    ) -> bool:
        """Queue the caller and park it until it is served or ``timeout`` passes.

        Precondition: the caller holds chanlock; park releases it.

        Args:
            reason: the goroutine's wait reason ("sync.Mutex.Lock").
            timeout: seconds (> 0), or None to wait until served.
            value: kept on the Sudog for the primitive.
            retry: called once the waiter is queued, chanlock still held;
                True means what the caller waited for came meanwhile (a
                lock released between the caller's look and its queueing):
                the waiter leaves and park returns True at once.
            abandon: called, chanlock released, with the Sudog when the
                wait ends in an exception: ``w.state`` is SERVED if a waker
                had already handed it something to pass on, else it left
                the queue (WITHDRAWN, or TIMEDOUT as the exception came).

        Returns:
            True if served, False if the timeout passed first.
        """
        g: Any = current_parker()
        w = Sudog(g, value, self)
        self.append(w)
        if retry is not None and retry():
            self.pop()  # still the tail: chanlock was held since the append
            chan_unlock()
            return True
        chan_unlock()
        return self.wait(w, reason, timeout, abandon)

    def enqueue(self, parker: Parker, value: Any = None) -> Sudog:
        """Queue a waiter for ``parker`` without parking (chanlock held).

        For a caller that waits some other way (in select, on a channel the
        Parker closes); it ends the wait with ``withdraw``.
        """
        w = Sudog(parker, value, self)
        self.append(w)
        return w

    def wait(
        self,
        w: Sudog,
        reason: str,
        timeout: float | None = None,
        abandon: Callable[[Sudog], None] | None = None,
    ) -> bool:
        """Park until ``w``, queued by the caller's thread or goroutine, is served.

        What ``park`` does after queueing; chanlock must not be held.
        """
        g = w.parker
        if type(g) is G:
            entry = None
            if timeout is not None:
                entry = TimerEntry(_expire, w)
                g.sched.timers.push(entry, _monotonic_ns() + _ceil_ns(timeout))
            try:
                g.park(reason)
            except BaseException:
                if self.withdraw(w):
                    g.stale += 1  # its ready() is on its way, or already queued us
                if entry is not None:
                    g.sched.timers.remove(entry)  # a no-op once it fired
                if abandon is not None:
                    abandon(w)
                raise
            if w.state == SERVED:
                if entry is not None:
                    g.sched.timers.remove(entry)
                return True
            return False
        if type(g) is not ThreadParker:
            raise InternalError(f"WaitQueue.park with {g!r}, neither a goroutine nor a thread's parker")
        try:
            if g.park_timeout(reason, -1 if timeout is None else timeout):
                return True
        except BaseException:
            self.withdraw(w)  # a ThreadParker is used once: nothing is owed
            if abandon is not None:
                abandon(w)
            raise
        # Timed out, unless a waker served it after the acquire gave up:
        # then it has what it waited for (its ready() goes to a lock
        # nobody looks at again).
        return self.withdraw(w, TIMEDOUT)

    def withdraw(self, w: Sudog, state: int = WITHDRAWN) -> bool:
        """Take ``w`` out of the queue unless it has left; return whether it had.

        True means a waker or its timer got there first (``w.state`` says
        which) and its ready() is owed; False means it left as ``state``.
        """
        chan_lock()
        if w.state != WAITING:
            chan_unlock()
            return True
        try:
            self.remove(w)
        except ValueError:
            # Taken by wake_one_reentrant, which does not take chanlock:
            # served, its state not written yet.
            chan_unlock()
            return True
        w.state = state
        chan_unlock()
        return False

    # -- waking (chanlock held) ---------------------------------------------

    def serve(self) -> Sudog | None:
        """Take the first waiter off as SERVED; the caller readies it after releasing chanlock."""
        if not self:
            return None
        w = self.popleft()
        w.state = SERVED
        return w

    def serve_all(self) -> list[Sudog]:
        """Take every waiter off as SERVED; the caller readies them after releasing chanlock."""
        ws = list(self)
        self.clear()
        for w in ws:
            w.state = SERVED
        return ws

    # -- waking (chanlock not held) -----------------------------------------

    def wake_one(self) -> bool:
        """Serve and ready the first waiter; return whether there was one."""
        chan_lock()
        w = self.serve()
        chan_unlock()
        if w is None:
            return False
        w.parker.ready()
        return True

    def wake_one_reentrant(self) -> None:
        """Serve and ready the first waiter without taking chanlock.

        For a waker that may run inside offset's own code, chanlock held:
        a ``__del__`` or weakref callback that the garbage collector runs
        there (SimpleQueue.put must allow it, as C's does). Taking the
        waiter is one ``popleft``, atomic under the GIL, so it races only
        with a withdrawal, which then finds it gone (served). A goroutine
        is readied through its scheduler's remote queue, never by touching
        the run queue the interrupted code may be in the middle of.
        Only for queues whose primitive changes no state of its own when it
        serves (a SimpleQueue's getters).
        """
        try:
            w = self.popleft()
        except IndexError:
            return
        w.state = SERVED
        g = w.parker
        if type(g) is G:
            s = g.sched
            s.remote.append(g)
            if s.sleeping:
                s.poller.wakeup()
        else:
            g.ready()

    def wake_all(self) -> int:
        """Serve and ready every waiter; return how many there were."""
        chan_lock()
        ws = self.serve_all()
        chan_unlock()
        for w in ws:
            w.parker.ready()
        return len(ws)

    def __repr__(self) -> str:
        return f"<WaitQueue {len(self)} waiting>"


def _ceil_ns(seconds: float) -> int:
    ns = seconds * 1e9
    n = int(ns)
    return n + 1 if n < ns else n


@mypyc_attr(allow_interpreted_subclasses=True)  # subclassed in offset.sync and offset.patches
class LockBase:
    """The hand-off lock under offset.sync.Mutex and the patched threading.Lock.

    Invariants:
    - ``_held`` (a C lock) is acquired exactly when the lock is held, or is
      being handed to the waiter at the head of ``_waitq``. Locking
      uncontended is one ``_held.acquire(False)``, unlocking one
      ``release()``: no chanlock. Subclasses inline both in their hot
      methods and call the slow paths below.
    - ``_waitq`` holds the goroutines that found it held; an unlock serves
      the head by handing ``_held`` over without ever releasing it, so
      nobody barges past a waiter that is being woken (Go's starvation
      mode, always). Plain threads wait in ``_held.acquire`` itself, and
      get the lock from an unlock that finds no goroutine queued.

    Why no wake-up is lost, with unlock off chanlock. A locker that fails
    the fast path takes chanlock, queues itself, and only then tries
    ``_held`` once more (park's ``retry``; on success it leaves again). An
    unlocker releases ``_held`` and only then looks at ``_waitq``. Under the
    GIL the two sequences interleave but are not reordered, so either the
    locker's retry sees the release, or the unlocker's look sees the waiter
    and, under chanlock, takes ``_held`` for it and hands it over. If
    someone barged in between (a fast-path lock), that one's unlock sees
    the waiter instead.

    Rejected: Go's normal (barging) mode. On one thread a woken goroutine
    runs only after its waker parks, so a waker that locks again in a loop
    would win every time and the woken one would queue again, paying a
    switch for nothing.
    """

    # No "__weakref__": each subclass names it, since a compiled (native)
    # class cannot be weakly referenced (see _native.py).
    __slots__ = ("_held", "_waitq")

    def __init__(self) -> None:
        self._held = _allocate_lock()
        self._waitq = WaitQueue()

    def _lock_slow(self, reason: str, timeout: float | None) -> bool:
        """Wait for the lock (the fast path failed); False if ``timeout`` passed first.

        A goroutine queues and parks. A plain thread blocks in the C lock
        itself, as fast as the C lock between threads and interruptible as
        it is; it takes the lock when an unlock finds no goroutine queued
        (goroutines are handed the lock first, in FIFO order).
        """
        if current_goroutine() is None:
            return self._held.acquire(True, -1 if timeout is None else timeout)
        chan_lock()
        return self._waitq.park(reason, timeout, retry=self._try, abandon=self._pass_on)

    def _try(self) -> bool:
        return self._held.acquire(False)

    def _pass_on(self, w: Sudog) -> None:
        if w.state == SERVED:
            self._unlock()  # handed the lock as the wait was given up: pass it on

    def _unlock(self) -> bool:
        """Unlock, handing the lock to the first waiter; False if it was not locked."""
        if self._waitq:
            return self._handoff()
        try:
            self._held.release()
        except RuntimeError:  # the one error a C lock's release() raises: it was not locked
            return False
        if self._waitq:
            self._wake()
        return True

    def _wake(self) -> None:
        """After a release: serve the waiter that queued meanwhile, unless someone barged in."""
        chan_lock()
        if self._waitq and self._held.acquire(False):
            w = self._waitq.serve()
            chan_unlock()
            if w is None:
                raise InternalError("a non-empty wait queue served no waiter")
            w.parker.ready()
        else:
            chan_unlock()  # the one who barged in serves it at its unlock

    def _handoff(self) -> bool:
        """Unlock with waiters queued: hand ``_held`` to the head; False if not locked."""
        chan_lock()
        if not self._held.locked():
            chan_unlock()
            return False
        w = self._waitq.serve()
        if w is None:  # the waiter we saw has left
            self._held.release()
            chan_unlock()
            return True
        chan_unlock()
        w.parker.ready()
        return True

    def _reinit(self) -> None:
        """After fork, in the child: unlocked, nobody waiting (the waiters were the parent's)."""
        self._held = _allocate_lock()
        self._waitq = WaitQueue()


_UNLOCKED: Final = "sync: unlock of unlocked mutex"
# The C lock's methods, called with the lock: compiled, ``self._held.acquire``
# would look the method up by name on every call.
_lock_acquire: Final = LockType.acquire
_lock_release: Final = LockType.release


@mypyc_attr(allow_interpreted_subclasses=True)  # subclassed by offset.sync.Mutex
class MutexBase(LockBase):
    """offset.sync.Mutex's methods: the hand-off lock with Go's names and panics.

    Here, in a compiled module, rather than in offset/sync (which is not
    compiled), because uncontended lock and unlock are the whole cost of a
    Mutex that is rarely contended: compiled, each is one call into C and
    the C lock's own call, with no Python frame (offset.sync.Mutex only adds
    its docstring and ``__repr__``). The invariants are LockBase's.
    """

    __slots__ = ()

    def lock(self) -> None:
        """Lock the mutex; block until it is available.

        Go's Mutex.Lock. A goroutine parks ("sync.Mutex.Lock"); a plain
        thread blocks only itself.
        """
        if not _lock_acquire(self._held, False):
            self._lock_slow(SYNC_MUTEX_LOCK, None)

    def try_lock(self) -> bool:
        """Lock the mutex if it is free; return whether it did (Go's Mutex.TryLock)."""
        return _lock_acquire(self._held, False)

    def unlock(self) -> None:
        """Unlock the mutex, handing it to the first waiter if there is one.

        Go's Mutex.Unlock.

        Raises:
            PanicError: the mutex is not locked ("sync: unlock of unlocked mutex").
        """
        # LockBase._unlock, inlined: one call less on the uncontended path.
        if self._waitq:
            if not self._handoff():
                raise PanicError(_UNLOCKED)
            return
        try:
            _lock_release(self._held)
        except RuntimeError:  # the one error a C lock's release() raises: it was not locked
            raise PanicError(_UNLOCKED) from None
        if self._waitq:
            self._wake()

    def __enter__(self) -> None:
        if not _lock_acquire(self._held, False):
            self._lock_slow(SYNC_MUTEX_LOCK, None)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._waitq:
            if not self._handoff():
                raise PanicError(_UNLOCKED)
            return
        try:
            _lock_release(self._held)
        except RuntimeError:
            raise PanicError(_UNLOCKED) from None
        if self._waitq:
            self._wake()
