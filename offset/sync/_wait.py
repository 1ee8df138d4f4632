"""WaitGroup, Once (and once_func/once_value/once_values), Cond and the
weighted Semaphore (Go: src/sync/waitgroup.go, once.go, oncefunc.go,
cond.go; golang.org/x/sync/semaphore).

What: the waiting primitives of Go's sync, for goroutines of any scheduler
and plain threads alike. Each keeps its waiters in the core's one wait
queue (offset/_core/_sema.py) under chanlock, and wakes them after
releasing it, as channels do; none of them holds chanlock across a park.

Invariants (under chanlock):
- WaitGroup: ``_n >= 0``; ``_waiters`` is non-empty only while ``_n > 0``.
  The add that brings ``_n`` to zero serves the whole queue.
- Cond: a waiter is queued before it unlocks the locker, so a signal sent
  after the unlock finds it (Go's ticket list does the same); if the
  unlock fails it leaves the queue again before the error goes on.
- Semaphore: ``0 <= _cur <= _size``; waiters are served strictly in FIFO
  order, so a large request at the head is not starved by small ones
  behind it (x/sync/semaphore's rule). A served waiter's weight (its
  Sudog's value) is already counted in ``_cur``.

A waiter whose wait is given up (GoroutineExit, KeyboardInterrupt) after
it was served passes on what it got (a Cond signal, a Semaphore's weight),
so no wake-up is lost with it; the wait queue tells served from not.

A Semaphore acquire that also watches a context cannot park on one queue:
it waits in ``select`` on its context's done channel and on a channel of
its own that serving it closes (x/sync/semaphore does the same). A done
context always wins (x/sync since go.dev/issue/63615): it is looked at
before the free units, and units granted as it ended go back through
``release``, so the acquire fails holding nothing and whoever fits behind
it is served.

once_func/once_value/once_values are Go 1.21's OnceFunc family: a Mutex
held while ``f`` runs, and a ``done`` flag read without it once set (Go's
Once, with the outcome kept: a result, or the exception every call
raises again).

Rejected: building these on channels (a WaitGroup as a channel closed at
zero, a Semaphore as a buffered channel of tokens, as x/sync's Simple).
A channel holds values, not counts: weights, FIFO order by weight and
"wake everyone at zero, then start counting again" would each need a
channel per wait, where a queue of parked waiters needs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .._core import (
    SERVED,
    Chan,
    InternalError,
    PanicError,
    Sudog,
    WaitQueue,
    chan_lock,
    chan_unlock,
    current_parker,
    makechan,
    select,
    waitreason,
)
from .._core import go as _go
from ._mutex import Locker, Mutex

if TYPE_CHECKING:  # offset.sync does not need offset.context at run time
    from ..context import Context

__all__ = ["WaitGroup", "Once", "once_func", "once_value", "once_values", "Cond", "Semaphore"]

T = TypeVar("T")
T1 = TypeVar("T1")
T2 = TypeVar("T2")

_acquire = chan_lock
_release = chan_unlock


def _named(wrapper: Callable[[], None], fn: Callable[..., Any]) -> Callable[[], None]:
    """Give ``wrapper`` the name of ``fn``, for deadlock reports."""
    wrapper.__qualname__ = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return wrapper


class WaitGroup:
    """Waits for a collection of goroutines (or threads) to finish.

    Go's sync.WaitGroup: ``add(n)`` before starting work, ``done()`` when
    each piece ends, ``wait()`` blocks until the counter is zero. ``go(fn,
    *args)`` is Go 1.25's WaitGroup.Go: add(1), then run fn as a goroutine
    that calls done() when it returns or raises.
    """

    __slots__ = ("_n", "_waiters", "__weakref__")

    def __init__(self) -> None:
        self._n = 0
        self._waiters = WaitQueue()

    def add(self, delta: int) -> None:
        """Add ``delta`` (may be negative) to the counter; at zero, release every waiter.

        Go's WaitGroup.Add.

        Raises:
            PanicError: the counter would go negative ("sync: negative WaitGroup counter").
        """
        _acquire()
        n = self._n + delta
        if n < 0:
            _release()
            raise PanicError("sync: negative WaitGroup counter")
        self._n = n
        if n or not self._waiters:
            _release()
            return
        ws = self._waiters.serve_all()
        _release()
        for w in ws:
            w.parker.ready()

    def done(self) -> None:
        """Decrement the counter by one (Go's WaitGroup.Done).

        Raises:
            PanicError: the counter would go negative ("sync: negative WaitGroup counter").
        """
        self.add(-1)

    def wait(self) -> None:
        """Block until the counter is zero (Go's WaitGroup.Wait)."""
        if not self._n:
            return
        _acquire()
        if not self._n:
            _release()
            return
        self._waiters.park(waitreason.SYNC_WAITGROUP_WAIT)

    def go(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` in a new goroutine tracked by the group.

        Go 1.25's WaitGroup.Go: ``add(1)``, then ``done()`` when fn returns
        or raises (an exception still ends ``run()``, as a panic in Go
        ends the program). The goroutine goes to the calling thread's
        scheduler, as ``offset.go`` does.

        Raises:
            TypeError: ``fn`` is not callable.
        """
        if not callable(fn):
            raise TypeError(f"WaitGroup.go() argument 'fn' must be callable, not {type(fn).__name__}")
        self.add(1)

        def run() -> None:
            try:
                fn(*args, **kwargs)
            finally:
                self.add(-1)

        _go(_named(run, fn))

    def __repr__(self) -> str:
        return f"<offset.sync.WaitGroup counter={self._n} at {id(self):#x}>"


class Once:
    """Runs a function exactly once.

    Go's sync.Once: ``do(fn)`` calls ``fn()`` only the first time; every
    other call waits until that first call has returned. If ``fn`` raises,
    the exception reaches the first caller and ``fn`` is still considered
    done: it never runs again.
    """

    __slots__ = ("_done", "_m", "__weakref__")

    def __init__(self) -> None:
        self._done = False
        self._m = Mutex()

    def do(self, fn: Callable[[], Any]) -> None:
        """Call ``fn()`` if no call of ``do`` has yet; otherwise wait for that one.

        Go's Once.Do.

        Raises:
            BaseException: whatever ``fn`` raises, on the first call only.
        """
        if self._done:
            return
        with self._m:
            if not self._done:
                try:
                    fn()
                finally:
                    self._done = True

    def __repr__(self) -> str:
        return f"<offset.sync.Once {'done' if self._done else 'not done'} at {id(self):#x}>"


def once_func(f: Callable[[], object]) -> Callable[[], None]:
    """A function that calls ``f()`` only the first time it is called.

    Go 1.21's sync.OnceFunc. Any goroutine or thread may call the returned
    function, at once or one after another: ``f`` runs at most once, and a
    call made while it runs waits for it. If ``f`` raises, every call (the
    first with ``f``'s own traceback) raises that same exception object, as
    Go's "will panic with the same value on every call". Unlike ``Once``,
    nothing is remembered until the first call.

    A BaseException that is not an Exception (the first caller's goroutine
    being stopped, KeyboardInterrupt, SystemExit) interrupts ``f`` rather
    than being its outcome: it reaches the first caller only, and later
    calls raise ``PanicError`` ("sync: once function interrupted by
    GoroutineExit before it returned"; Go would panic with nil there).

    Args:
        f: called with no arguments; not kept once it has run.

    Raises:
        TypeError: ``f`` is not callable.
    """
    call = _once(f, "once_func", False)

    def once() -> None:
        call()

    return once


def once_value(f: Callable[[], T]) -> Callable[[], T]:
    """A function that calls ``f()`` only the first time and returns its value every time.

    Go 1.21's sync.OnceValue: as ``once_func``, and each call returns what
    the one call of ``f`` returned (or raises what it raised).

    Args:
        f: called with no arguments; not kept once it has run.

    Raises:
        TypeError: ``f`` is not callable.
    """
    return cast("Callable[[], T]", _once(f, "once_value", False))


def once_values(f: Callable[[], tuple[T1, T2]]) -> Callable[[], tuple[T1, T2]]:
    """A function that calls ``f()`` only the first time and returns its pair every time.

    Go 1.21's sync.OnceValues, for an ``f`` that returns two values (Go's
    ``(T1, T2)``, often a value and an error): ``f`` returns a 2-tuple and
    each call returns that tuple. Otherwise as ``once_value``.

    Args:
        f: called with no arguments; must return a tuple of two values.

    Raises:
        TypeError: ``f`` is not callable; or (from the returned function,
            on every call) ``f`` returned something other than a 2-tuple.
    """
    return cast("Callable[[], tuple[T1, T2]]", _once(f, "once_values", True))


def _once(f: Callable[[], Any], name: str, pair: bool) -> Callable[[], Any]:
    """The shared body of once_func, once_value and once_values (Go's OnceValue).

    Invariant: ``done`` goes from False to True once, under ``mu``, after
    ``result``/``exc`` are written; a call that reads it True without
    ``mu`` (a cell load, atomic under the GIL, which also orders it after
    those writes) only reads them. Callers that find it False wait on
    ``mu``, which the one running ``f`` holds.
    """
    if not callable(f):
        raise TypeError(f"{name}() argument 'f' must be callable, not {type(f).__name__}")
    mu = Mutex()
    fn: Callable[[], Any] | None = f
    done = False
    result: Any = None
    exc: BaseException | None = None
    tb: TracebackType | None = None

    def call() -> Any:
        nonlocal fn, done, result, exc, tb
        if not done:
            with mu:
                if not done:
                    g = fn
                    if g is None:
                        raise InternalError(f"{name}: function gone before its one call")
                    fn = None  # do not keep f alive after its call (Go)
                    try:
                        r = g()
                        if pair and not (isinstance(r, tuple) and len(r) == 2):
                            raise TypeError(f"{name}() argument 'f' must return a 2-tuple, not {type(r).__name__}")
                    except Exception as e:
                        exc, tb = e, e.__traceback__
                        done = True
                        raise  # the first call: f's own traceback
                    except BaseException as e:
                        exc = PanicError(f"sync: once function interrupted by {type(e).__name__} before it returned")
                        done = True
                        raise
                    result = r
                    done = True
                    return r
        if exc is not None:
            # The same object every time; its traceback reset to f's, so
            # that repeated calls do not grow it.
            raise exc.with_traceback(tb)
        return result

    return call


class Cond:
    """A condition variable over any Locker (a Mutex, an RWMutex's rlocker...).

    Go's sync.Cond: ``wait()`` unlocks the locker, parks until woken by
    ``signal()`` or ``broadcast()``, and locks it again before returning;
    call it in a loop that re-checks the condition. The locker is
    ``cond.locker`` (Go's ``c.L``).

    Args:
        locker: what ``wait`` unlocks and locks again (lock/unlock methods).
    """

    __slots__ = ("locker", "_waiters", "__weakref__")

    def __init__(self, locker: Locker) -> None:
        if not (callable(getattr(locker, "lock", None)) and callable(getattr(locker, "unlock", None))):
            raise TypeError(f"Cond() argument 'locker' must have lock() and unlock(), not {type(locker).__name__}")
        self.locker = locker
        self._waiters = WaitQueue()

    def wait(self) -> None:
        """Unlock the locker, wait for a signal or broadcast, lock it again.

        Go's Cond.Wait. The caller must hold the locker. If the wait is
        interrupted (the goroutine is stopped, or KeyboardInterrupt in a
        thread) the locker is locked again before the exception goes on, so
        a surrounding ``with`` block stays balanced.
        """
        q = self._waiters
        _acquire()
        w = q.enqueue(current_parker())
        _release()
        try:
            self.locker.unlock()
        except BaseException:
            if q.withdraw(w):
                self.signal()  # signalled before we could leave: pass it on
            raise
        try:
            q.wait(w, waitreason.SYNC_COND_WAIT, abandon=self._abandon)
        finally:
            self.locker.lock()

    def _abandon(self, w: Sudog) -> None:
        if w.state == SERVED:
            self.signal()  # we were woken as we were stopped: pass it on

    def signal(self) -> None:
        """Wake one waiter, if there is one (Go's Cond.Signal; the locker need not be held)."""
        self._waiters.wake_one()

    def broadcast(self) -> None:
        """Wake every waiter (Go's Cond.Broadcast; the locker need not be held)."""
        self._waiters.wake_all()


class _Closer:
    """A Semaphore waiter's wake-up for an acquire that also watches a context."""

    __slots__ = ("chan",)

    def __init__(self, chan: Chan[Any]) -> None:
        self.chan = chan

    def ready(self) -> None:
        self.chan.close()


class Semaphore:
    """A weighted semaphore: up to ``n`` units held at once, in any shares.

    golang.org/x/sync/semaphore's Weighted (NewWeighted(n)). Waiters are
    served in FIFO order: a large request at the head blocks smaller ones
    behind it until it fits, so it cannot starve. ``with sem:`` acquires
    and releases one unit.

    Args:
        n: the total weight; not negative.

    Raises:
        TypeError: ``n`` is not an int.
        ValueError: ``n`` is negative.
    """

    __slots__ = ("_size", "_cur", "_waiters", "__weakref__")

    def __init__(self, n: int) -> None:
        self._size = _weight(n, "n")
        self._cur = 0
        self._waiters = WaitQueue()  # each Sudog's value is its weight

    def acquire(self, k: int = 1, *, ctx: Context | None = None) -> None:
        """Acquire ``k`` units, blocking until they are free (and earlier waiters served).

        x/sync's Weighted.Acquire. With ``ctx`` (an offset.context
        Context), give up when it is done: raise ``ctx.err()`` and leave
        the semaphore unchanged. As in x/sync since go.dev/issue/63615, a
        context already done fails the acquire even when the units are
        free, and units granted as the context ended are given back (to
        the waiters behind, if they now fit) before the error is raised.
        As in Go, asking for more than the semaphore's size waits for
        ``ctx`` (forever without one).

        Raises:
            TypeError: ``k`` is not an int.
            ValueError: ``k`` is negative.
            offset.context.Canceled, offset.context.DeadlineExceeded: ``ctx`` ended first.
        """
        _weight(k, "k")
        done = None
        if ctx is not None:
            # Done before the call, or while it began: fail, even though
            # the units may be free (x/sync). err() rather than a look at
            # the done channel, as Go does: a context's err() is set
            # exactly when its channel is closed (its contract) and costs
            # far less here than a select.
            err = ctx.err()
            if err is not None:
                raise err
            # Before chanlock: done() may take the context's lock, which
            # comes first in the lock order (offset/context.py).
            done = ctx.done()
        _acquire()
        if self._size - self._cur >= k and not self._waiters:
            self._cur += k
            _release()
            return
        if k > self._size:
            # Doomed: don't make other acquires queue behind it.
            _release()
            select(done.if_recv() if done is not None else None)  # forever if never done
            raise _ctx_err(ctx)
        if done is None:
            self._waiters.park(waitreason.SEMACQUIRE, value=k, abandon=self._abandon)
            return
        granted: Chan[Any] = makechan()
        w = self._waiters.enqueue(_Closer(granted), k)
        _release()
        try:
            ret = select(granted.if_recv(), done.if_recv())
        except BaseException:
            self._waiters.withdraw(w)
            self._abandon(w)
            raise
        if ret == granted.if_recv():
            if ctx.err() is None:  # type: ignore[union-attr]  # done is ctx's
                return
            # Granted, but the context is done too: fail (x/sync).
        elif not self._waiters.withdraw(w):
            self._abandon(w)  # left unserved: the waiters behind may fit now
            raise _ctx_err(ctx)
        # Granted as the context ended: give the units back (which serves
        # whoever fits now), and fail.
        self.release(k)
        raise _ctx_err(ctx)

    def _abandon(self, w: Sudog) -> None:
        """A wait given up: give back a weight granted meanwhile, or let the next ones in."""
        if w.state == SERVED:
            self.release(w.value)
            return
        _acquire()
        self._notify()  # if it was the head, the waiters behind it may fit now

    def try_acquire(self, k: int = 1) -> bool:
        """Acquire ``k`` units if free now and nobody waits; return whether it did.

        x/sync's Weighted.TryAcquire.

        Raises:
            TypeError: ``k`` is not an int.
            ValueError: ``k`` is negative.
        """
        _weight(k, "k")
        _acquire()
        ok = self._size - self._cur >= k and not self._waiters
        if ok:
            self._cur += k
        _release()
        return ok

    def release(self, k: int = 1) -> None:
        """Release ``k`` units and serve the waiters that now fit, in order.

        x/sync's Weighted.Release.

        Raises:
            TypeError: ``k`` is not an int.
            ValueError: ``k`` is negative.
            PanicError: more released than held ("semaphore: released more than held").
        """
        _weight(k, "k")
        _acquire()
        if k > self._cur:
            _release()
            raise PanicError("semaphore: released more than held")
        self._cur -= k
        self._notify()

    def _notify(self) -> None:
        """Serve waiters from the head while they fit. Caller holds chanlock; returns with it released."""
        q = self._waiters
        served = []
        while q:
            n = q[0].value
            if self._size - self._cur < n:
                break  # not enough for the head: everyone behind it waits too
            self._cur += n
            w = q.serve()
            if w is None:
                _release()
                raise InternalError("Semaphore: a non-empty wait queue served nobody")
            served.append(w)
        _release()
        for w in served:
            w.parker.ready()

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<offset.sync.Semaphore {self._cur}/{self._size} held, {len(self._waiters)} waiting at {id(self):#x}>"


def _ctx_err(ctx: Context | None) -> BaseException:
    """``ctx.err()`` of a context whose done channel is closed."""
    if ctx is None:
        raise InternalError("Semaphore.acquire without a context stopped waiting")
    err = ctx.err()
    if err is None:
        from ..context import Canceled  # a foreign Context broke the contract: Go would return nil

        return Canceled()
    return err


def _weight(k: object, name: str) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"argument '{name}' must be int, not {type(k).__name__}")
    if k < 0:
        raise ValueError(f"argument '{name}' must be >= 0, not {k}")
    return k
