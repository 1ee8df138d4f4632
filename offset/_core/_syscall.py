"""Blocking calls on a thread pool, parking only the calling goroutine.

What: the talk's "syscalls": a blocking callable runs on a pool thread
while its goroutine is parked and the others go on. When the call returns,
the pool thread readies the goroutine through its scheduler's remote queue
and wakes the scheduler's idle wait; the goroutine then returns the result
or raises the exception.

The pool is process-wide and made on first use. Its size comes from
``OFFSET_MAX_THREADS`` (the talk's name). The default, 64, is not tied to
the number of cores: calls sent here mostly wait (DNS, disk, a driver
without non-blocking I/O), and sizing the pool by cores would serialize
them needlessly on a small machine. Threads start as calls need them and
end after ``_IDLE_SECONDS`` (50 ms) without one, so a burst of lookups leaves no
threads behind (a program's thread count comes back to what it was, which
is what CPython's own tests check with ``wait_threads_exit``). Pool threads
are registered so that deadlock detection does not count them as threads
that could wake a goroutine; a call in flight counts as pending work
(``Scheduler.syscalls``) instead.

Invariants (under ``_Pool.lock``):
- ``nthreads`` counts the pool's live threads, at most ``size``; each is
  running a call, or on ``idle`` waiting for one, or about to be one of
  those.
- ``queue`` (calls waiting for a thread) is non-empty only while every
  thread is busy: a call is handed straight to an idle thread, else to a
  new one while ``nthreads < size``. A call is ``queued`` exactly while
  it is in ``queue``.
- ``withdrawn`` counts the calls in ``queue`` that were given up while
  they waited (their ``fn`` is None): the thread that takes one off skips
  it. They are left in place rather than removed, which would cost a scan
  of the queue per call when thousands of goroutines are stopped at once.
- An idle thread is on ``idle`` (a stack, so the most recently busy go
  first and the others can time out) exactly while no call is handed to
  it. Whoever takes it off (a submitter handing it a call, or the thread
  itself on timeout) decides; a thread that times out after a submitter
  took it waits for the call that is on its way.

Calls wait for a thread in arrival order: ``queue`` is FIFO, so with every
thread busy, the call made first is the first to start (what a program
that saturates the pool can rely on; tests/reliability/test_faults_proc.py
checks it one dequeue at a time).

Each call's *claim* (a list holding its goroutine) is popped by whoever
ends the wait: the completion, which then readies the goroutine, or the
goroutine itself giving the call up when an exception reaches it where it
parked: a stop (``GoroutineExit``, when run() ends by another goroutine's
exception or main's return) or an interrupt of the main goroutine
(``Scheduler._deliver_interrupt``). A call given up is taken off the queue
if it is still there (``withdraw``), skipped if a thread has just taken
it, and its result dropped if it was running; so nothing of a program that has ended
starts on the pool afterwards (a queued write or fsync of a stopped
goroutine once ran after run() had raised). ``list.pop`` is atomic under
the GIL, so exactly one of the completion and the goroutine wins.

The exception of a call that failed is raised in the goroutine with the
traceback of the callable's own frames, behind blocking_call's: not the
pool thread's, whose frames hold the call and its arguments (CPython's
testRefCountGetNameInfo counts references to an argument while the
exception is handled).

Outside a goroutine (plain thread, before run()) the callable is simply
called.

Rejected: ``concurrent.futures.ThreadPoolExecutor``, the first version. Its
threads never end, and its futures carry the worker's frames into the
exception raised in the goroutine.
"""

from __future__ import annotations

import functools
import os
import threading
from _thread import allocate_lock as _allocate_lock
from _thread import start_new_thread as _start_new_thread
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from .._config import max_threads
from ._errors import InternalError
from ._sched import G, current_goroutine, offset_thread_idents
from ._waitreason import SYSCALL

__all__ = ["blocking_call", "syscall", "max_threads", "pool_stats"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

# How long a pool thread waits for another call before it ends. Short: a
# thread costs ~60 us to start, nothing against calls that come less often
# than this, and a program's thread count must come back soon after a call
# (CPython's tests wait for it after every test that resolved "localhost").
_IDLE_SECONDS = 0.05

_get_ident = threading.get_ident


class _Call:
    """One blocking call handed to the pool, and what it gave."""

    __slots__ = ("fn", "args", "kwargs", "claim", "ok", "value", "queued")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], g: G) -> None:
        self.fn: Callable[..., Any] | None = fn
        self.args = args
        self.kwargs = kwargs
        self.claim = [g]
        self.ok = False
        self.value: Any = None  # the result, or the exception
        self.queued = False  # in the pool's queue (under its lock)

    def run(self) -> None:
        """On a pool thread: make the call (unless given up) and end the wait."""
        fn = self.fn
        if fn is None or not self.claim:
            return  # given up before it started
        try:
            self.value = fn(*self.args, **self.kwargs)
            self.ok = True
        except BaseException as e:
            tb = e.__traceback__
            # Without this frame, which holds the call: the callable's own frames.
            self.value = e.with_traceback(tb.tb_next if tb is not None else None)
        self.fn = None
        self.args = ()
        self.kwargs = {}
        try:
            g = self.claim.pop()
        except IndexError:
            self.value = None  # given up while it ran: the result is dropped
            return
        g.ready()


class _Worker:
    """An idle pool thread's mailbox: ``wake`` is released with ``call`` set."""

    __slots__ = ("wake", "call")

    def __init__(self) -> None:
        self.wake = _allocate_lock()
        self.wake.acquire()
        self.call: _Call | None = None


class _Pool:
    """Threads for blocking calls: started on demand, ended when idle."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = _allocate_lock()
        self.queue: deque[_Call] = deque()
        self.idle: list[_Worker] = []
        self.nthreads = 0
        self.withdrawn = 0

    def submit(self, call: _Call) -> None:
        with self.lock:
            if self.idle:
                w = self.idle.pop()
                w.call = call
                w.wake.release()
                return
            if self.nthreads >= self.size:
                call.queued = True
                self.queue.append(call)
                return
            self.nthreads += 1
        try:
            # _thread's, bound at import, not threading.Thread: pool threads
            # are offset's, invisible to threading.enumerate() and to a
            # program that patches or mocks threading's thread start (as
            # CPython's tests do); they never keep the interpreter alive.
            _start_new_thread(self._work, (call,))
        except BaseException:
            with self.lock:
                self.nthreads -= 1
            raise

    def withdraw(self, call: _Call) -> None:
        """Mark a call that was given up as withdrawn, if it still waits in the queue.

        A thread has it otherwise: ``_Call.run`` skips it (its claim is
        gone), or drops its result.
        """
        with self.lock:
            if call.queued:
                call.fn = None
                call.args = ()
                call.kwargs = {}
                self.withdrawn += 1

    def _work(self, first: _Call) -> None:
        ident = _get_ident()
        offset_thread_idents.add(ident)
        me = _Worker()
        call: _Call | None = first
        try:
            while True:
                if call is None:
                    raise InternalError("a pool thread was woken without a call")
                call.run()
                call = None
                with self.lock:
                    while self.queue:
                        call = self.queue.popleft()
                        call.queued = False
                        if call.fn is not None:
                            break
                        self.withdrawn -= 1  # given up while it waited: skipped
                        call = None
                    if call is not None:
                        continue
                    self.idle.append(me)
                if not me.wake.acquire(timeout=_IDLE_SECONDS):
                    with self.lock:
                        if me in self.idle:
                            self.idle.remove(me)
                            self.nthreads -= 1
                            return
                    me.wake.acquire()  # taken off idle just now: the call is on its way
                call, me.call = me.call, None
        finally:
            offset_thread_idents.discard(ident)


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _get_pool() -> _Pool:
    global _pool
    pool = _pool
    if pool is None:
        with _pool_lock:
            pool = _pool
            if pool is None:
                pool = _pool = _Pool(max_threads())
    return pool


def pool_stats() -> tuple[int, int, int, int]:
    """(busy, idle, queued, size) of the pool, read under its lock; any thread.

    Busy threads are running a call (or about to); idle ones wait for one;
    queued calls wait for a thread. Before the first call there is no
    pool: (0, 0, 0, OFFSET_MAX_THREADS's size).
    """
    pool = _pool
    if pool is None:
        return 0, 0, 0, max_threads()
    with pool.lock:
        idle = len(pool.idle)
        return pool.nthreads - idle, idle, len(pool.queue) - pool.withdrawn, pool.size


def _after_fork() -> None:
    # The child has none of the parent's pool threads.
    global _pool
    _pool = None
    offset_thread_idents.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def blocking_call(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on the pool, parking only this goroutine.

    Outside a goroutine, call ``fn`` directly.
    """
    g = current_goroutine()
    if g is None:
        return fn(*args, **kwargs)
    s = g.sched
    call = _Call(fn, args, kwargs, g)
    s.syscalls[g] = call.claim
    try:
        _get_pool().submit(call)
        g.park(SYSCALL)
    except BaseException:
        _give_up(g, call)
        raise
    finally:
        del s.syscalls[g]
    if call.ok:
        result: T = call.value
        return result
    exc: BaseException = call.value
    # The traceback raised holds this frame: let it hold no argument.
    del call, args, kwargs
    try:
        raise exc
    finally:
        del exc


def _give_up(g: G, call: _Call) -> None:
    """``g`` stops waiting for ``call``: it was stopped or interrupted where it parked.

    Whoever pops the claim decides (see the top of this module). If the
    completion popped it first, its ready() of ``g`` is on its way or
    queued, and is owed (G.park).
    """
    try:
        call.claim.pop()
    except IndexError:
        g.stale += 1
        return
    pool = _pool
    if pool is not None:
        pool.withdraw(call)


def syscall(fn: F) -> F:
    """Decorate a blocking callable so that it runs on offset's thread pool.

    Calling the result from a goroutine runs ``fn`` on a pool thread and
    parks only the calling goroutine; it returns ``fn``'s result or raises
    its exception. From anywhere else it simply calls ``fn``. The talk's
    syscall, and Go's behaviour for a goroutine in a blocking system call.

    Raises:
        TypeError: ``fn`` is not callable.
    """
    if not callable(fn):
        raise TypeError(f"syscall() argument 'fn' must be callable, not {type(fn).__name__}")

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return blocking_call(fn, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
