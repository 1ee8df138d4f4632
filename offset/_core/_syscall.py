"""Blocking calls on a thread pool, parking only the calling goroutine.

What: the talk's "syscalls": a blocking callable runs on a
``concurrent.futures.ThreadPoolExecutor`` thread while its goroutine is
parked and the others go on. When the call returns, the pool thread readies
the goroutine through its scheduler's remote queue and wakes the
scheduler's idle wait; the goroutine then returns the result or raises the
exception, traceback included.

The pool is process-wide and made on first use. Its size comes from
``OFFSET_MAX_THREADS`` (the talk's name). The default, 64, is not tied to
the number of cores: calls sent here mostly wait (DNS, disk, a driver
without non-blocking I/O), and sizing the pool by cores would serialize
them needlessly on a small machine. Pool threads are registered so that
deadlock detection does not count them as threads that could wake a
goroutine; a call in flight counts as pending work instead.

Outside a goroutine (plain thread, before run()) the callable is simply
called.
"""

from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from ._sched import current_goroutine, offset_thread_idents

__all__ = ["blocking_call", "syscall", "max_threads"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_MAX_THREADS = 64

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def max_threads() -> int:
    """The pool size: ``OFFSET_MAX_THREADS`` if set, else 64."""
    raw = os.environ.get("OFFSET_MAX_THREADS")
    if raw is None or raw.strip() == "":
        return DEFAULT_MAX_THREADS
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"OFFSET_MAX_THREADS must be a positive integer, not {raw!r}") from None
    if n < 1:
        raise ValueError(f"OFFSET_MAX_THREADS must be a positive integer, not {raw!r}")
    return n


def _register_thread() -> None:
    offset_thread_idents.add(threading.get_ident())


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    pool = _pool
    if pool is None:
        with _pool_lock:
            pool = _pool
            if pool is None:
                pool = _pool = ThreadPoolExecutor(
                    max_workers=max_threads(),
                    thread_name_prefix="offset-syscall",
                    initializer=_register_thread,
                )
    return pool


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
    fut: Future[T] = _get_pool().submit(fn, *args, **kwargs)
    # The completion and an interrupt of main (Scheduler._deliver_interrupt)
    # race to pop the G; only the winner ends the wait, so a call given up
    # never readies its goroutine later.
    claim = [g]

    def done(_f: Future[T]) -> None:
        try:
            waiter = claim.pop()
        except IndexError:
            return  # given up: the result is dropped
        waiter.ready()

    s.syscalls[g] = claim
    try:
        fut.add_done_callback(done)
        g.park("syscall")
    except BaseException:
        fut.cancel()  # if it has not started; a running call can't be stopped
        raise
    finally:
        del s.syscalls[g]
    return fut.result()


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
