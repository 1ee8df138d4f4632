"""Patches for threading: locks, conditions, events and joins park only the goroutine.

Threads stay real OS threads. What changes is the lock under everything:
``threading.Lock``, ``_thread.allocate_lock`` (and ``threading``'s own
``_allocate_lock``), ``_thread.LockType``, ``threading.RLock`` and
``_thread.RLock`` make offset's ``Lock`` and ``RLock``, which wait on the
core's one wait queue (offset/_core/_sema.py):

- called from a goroutine, a wait parks only that goroutine, whoever holds
  the lock: a goroutine of the same scheduler, of another one, or a plain
  thread;
- called from a plain thread, a wait blocks only that thread, and the
  lock is exactly as correct between real threads as the C one;
- ``RLock`` is owned by the goroutine that acquired it when a goroutine
  did, by the thread otherwise, so two goroutines of one thread exclude
  each other (the C RLock would let both in: they share a thread).

Everything in ``threading`` that waits is built on those two in pure
Python, so it follows without patches of its own: ``Condition`` (its
waiters are ``_allocate_lock()`` locks), ``Event``, ``Semaphore``,
``BoundedSemaphore``, ``Barrier``, ``Timer``; and so do ``queue.Queue``,
``LifoQueue``, ``PriorityQueue`` and ``concurrent.futures``' waits
(``Future.result``, ``wait``, ``as_completed``: a Condition per future
and an Event per waiter). ``Thread.join`` from a goroutine sleeps and
looks again (after 1 ms, then twice as long each time, at most 20 ms
apart): the thread's end is signalled in C, where no lock of ours is
involved.

The stdlib's behaviour is kept to the letter: the same return values,
``RuntimeError`` for releasing an unlocked lock or an RLock one does not
own, and the C lock's own checks of ``blocking`` and ``timeout`` (the C
lock itself is asked to check them, so the messages are each version's).

The import system's module locks are made with ``_thread.allocate_lock``
(and ``RLock`` from 3.12) and owned by ``_thread.get_ident()``: the
import system sees ``_thread`` through a proxy whose ``get_ident`` tells
goroutines apart (``_ImportThread``), so a goroutine importing a module
that another goroutine of its thread is still importing waits for it, as
a thread would, instead of getting the half-initialized module.

Locks made before patching stay the C locks they are. Most are never held
across a wait (a module's bookkeeping lock, held for a few lines) and need
nothing. Where one is, a goroutine that finds it held blocks its whole
thread, so: patch first (``python -m offset`` patches before the program's
first import). One case cannot wait for that: ``logging``, which offset's
own imports (wrapt, asyncio) bring in before any program runs. Its module
lock and the lock of every handler that exists are swapped for offset's
RLock when patching, through logging's own registry of handlers, and put
back on unpatching; handlers made later get offset's RLock from
``createLock``. gevent instead walks the garbage collector for RLocks to
rewrite: that finds locks held at that moment, locks inside C objects and
locks of unrelated libraries, and was rejected as fragile.
"""

from __future__ import annotations

import _thread
import sys
import weakref
from collections.abc import Callable
from time import monotonic_ns as _monotonic_ns
from typing import Any

from .._core import G, LockBase, current_goroutine, goroutine_of, sleep_ns, waitreason
from .._core import getcurrent as _getcurrent
from . import _registry

__all__ = ["Lock", "RLock", "allocate_lock", "patch", "unpatch", "is_patched"]

AREA = _registry.Area("threading", __name__, "threading's locks (and ``Thread.join``, logging's locks)")

_allocate_lock = _thread.allocate_lock
_get_ident = _thread.get_ident
_CLock: type = _thread.LockType
_CRLock: type = _thread.RLock


def _timeout(blocking: Any, timeout: Any) -> float | None:
    """``acquire``'s arguments checked as the C lock checks them: 0.0 (try once), seconds, or None (forever)."""
    # A fresh C lock is free, so this only checks (and raises the
    # version's own ValueError, TypeError or OverflowError).
    _allocate_lock().acquire(blocking, timeout)
    if not blocking:
        return 0.0
    if timeout == -1:
        return None
    return float(timeout)


class Lock(LockBase):
    """``threading.Lock`` under offset: parks a waiting goroutine, blocks a waiting thread.

    The core's hand-off lock (LockBase) with the C lock's interface:
    ``acquire(blocking=True, timeout=-1)``, ``release()``, ``locked()``,
    the ``*_lock`` aliases, ``_at_fork_reinit`` and the context manager.
    """

    __slots__ = ("__weakref__",)  # not in LockBase, which may be compiled

    if sys.version_info < (3, 13):

        def __new__(cls, *args: Any, **kwargs: Any) -> Lock:
            # Before 3.13 the lock type cannot be called: allocate_lock()
            # makes locks (bpo-43916).
            raise TypeError(f"cannot create '{cls.__module__}.{cls.__qualname__}' instances")

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire the lock, as ``_thread.lock.acquire``; return whether it did."""
        if blocking is True and timeout == -1:
            return self._held.acquire(False) or self._lock_slow(waitreason.THREADING_LOCK, None)
        t = _timeout(blocking, timeout)
        if self._held.acquire(False):
            return True
        if t == 0.0:
            return False
        return self._lock_slow(waitreason.THREADING_LOCK, t)

    def __enter__(self) -> bool:
        return self._held.acquire(False) or self._lock_slow(waitreason.THREADING_LOCK, None)

    def release(self) -> None:
        """Release the lock, handing it to the first waiter if there is one.

        Raises:
            RuntimeError: the lock is not locked ("release unlocked lock").
        """
        if self._waitq:
            if not self._handoff():
                raise RuntimeError("release unlocked lock")
            return
        self._held.release()  # the C lock's RuntimeError if not locked
        if self._waitq:
            self._wake()

    def __exit__(self, *exc: object) -> None:
        # release(), inlined: ``with lock:`` is how most code holds a lock.
        if self._waitq:
            if not self._handoff():
                raise RuntimeError("release unlocked lock")
            return
        self._held.release()
        if self._waitq:
            self._wake()

    def locked(self) -> bool:
        """Whether the lock is held."""
        return self._held.locked()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError(f"type '{Lock.__module__}.{Lock.__qualname__}' is not an acceptable base type")

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError(f"cannot pickle '{type(self).__module__}.{type(self).__qualname__}' object")

    acquire_lock = acquire
    release_lock = release
    locked_lock = locked

    def _at_fork_reinit(self) -> None:
        self._reinit()

    def __repr__(self) -> str:
        state = "locked" if self._held.locked() else "unlocked"
        return f"<{state} {type(self).__module__}.{type(self).__qualname__} object at {id(self):#x}>"


def _owner() -> Any:
    """Who owns an RLock acquired now: the running goroutine, else the thread.

    A thread is its current greenlet: one per thread, unless the thread
    runs greenlets of its own (then each is an owner, as under gevent).
    Owners are compared by identity.
    """
    cur = _getcurrent()
    return goroutine_of(cur, cur)


class RLock(LockBase):
    """``threading.RLock`` under offset: owned by a goroutine, or by a thread.

    The C RLock's interface, including what ``Condition`` uses
    (``_is_owned``, ``_release_save``, ``_acquire_restore``) and
    ``_recursion_count``.
    """

    __slots__ = ("_owner", "_count", "__weakref__")  # __weakref__: not in LockBase, which may be compiled

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            # What the stdlib's RLock() says to arguments (3.13 warns).
            _CRLock(*args, **kwargs)
        super().__init__()
        self._owner: Any = None
        self._count = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire, or acquire again if the caller owns it; return whether it did."""
        t = None if blocking is True and timeout == -1 else _timeout(blocking, timeout)
        me = _owner()
        if self._owner is me:
            self._count += 1
            return True
        if not self._held.acquire(False) and (t == 0.0 or not self._lock_slow(waitreason.THREADING_RLOCK, t)):
            return False
        self._owner = me
        self._count = 1
        return True

    def __enter__(self) -> bool:
        cur = _getcurrent()  # _owner(), inlined: ``with rlock:`` is the hot path
        me = goroutine_of(cur, cur)
        if self._owner is me:
            self._count += 1
            return True
        if not self._held.acquire(False):
            self._lock_slow(waitreason.THREADING_RLOCK, None)
        self._owner = me
        self._count = 1
        return True

    def release(self) -> None:
        """Release once; the last release unlocks.

        Raises:
            RuntimeError: the caller does not own it ("cannot release un-acquired lock").
        """
        if self._owner is not _owner() or not self._count:
            raise RuntimeError("cannot release un-acquired lock")
        self._count = n = self._count - 1
        if not n:
            self._owner = None
            self._unlock()

    def __exit__(self, *exc: object) -> None:
        cur = _getcurrent()  # release(), inlined
        me = goroutine_of(cur, cur)
        if self._owner is not me or not self._count:
            raise RuntimeError("cannot release un-acquired lock")
        self._count = n = self._count - 1
        if not n:
            self._owner = None
            self._unlock()

    def _is_owned(self) -> bool:
        return bool(self._count) and self._owner is _owner()

    def _release_save(self) -> tuple[int, Any]:
        if not self._count:
            raise RuntimeError("cannot release un-acquired lock")
        state = (self._count, self._owner)
        self._count = 0
        self._owner = None
        self._unlock()
        return state

    def _acquire_restore(self, state: tuple[int, Any]) -> None:
        if not self._held.acquire(False):
            self._lock_slow(waitreason.THREADING_RLOCK, None)
        self._count, self._owner = state

    def _recursion_count(self) -> int:
        return self._count if self._owner is _owner() else 0

    def _at_fork_reinit(self) -> None:
        self._reinit()
        self._owner = None
        self._count = 0

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError(f"cannot pickle '{type(self).__module__}.{type(self).__qualname__}' object")

    def __repr__(self) -> str:
        owner = self._owner
        if owner is not None:
            # The thread's ident, as the C RLock shows: a goroutine's is its
            # scheduler's; a thread's own greenlet knows it only while current.
            owner = owner.sched.ident if type(owner) is G else _get_ident() if owner is _getcurrent() else -1
        state = "locked" if self._held.locked() else "unlocked"
        return (
            f"<{state} {type(self).__module__}.{type(self).__qualname__} object "
            f"owner={owner or 0} count={self._count} at {id(self):#x}>"
        )


# -- the replacements ------------------------------------------------------


def allocate_lock() -> Lock:
    """A new offset ``Lock``, unlocked (what ``threading.Lock()`` makes while patched)."""
    lock = LockBase.__new__(Lock)  # not object.__new__: LockBase may be compiled, with its own
    LockBase.__init__(lock)
    return lock


class _AllocateLock:
    """``allocate_lock`` while patched. A builtin function does not bind as a
    method, and code relies on that (``locktype = thread.allocate_lock`` in a
    class body), so the replacement is a callable object, not a function."""

    def __init__(self, original: Any) -> None:
        self.__wrapped__ = original  # where wrapt finds the original again
        self.__module__ = original.__module__
        self.__name__ = original.__name__
        self.__qualname__ = original.__qualname__
        self.__doc__ = original.__doc__

    def __call__(self) -> Lock:
        return allocate_lock()

    def __reduce__(self) -> str:
        name: str = self.__qualname__  # pickled by reference, as the builtin is
        return name

    def __repr__(self) -> str:
        return f"<offset's {self.__name__} (patched)>"


# One per original, so that _thread.allocate_lock, threading.Lock and
# threading._allocate_lock are one object while patched, as they were.
_allocators: dict[int, _AllocateLock] = {}


def _lock_factory(original: Any) -> Any:
    if isinstance(original, type):  # _thread.LockType; threading.Lock on 3.13
        return Lock
    factory = _allocators.get(id(original))
    if factory is None or factory.__wrapped__ is not original:
        factory = _allocators[id(original)] = _AllocateLock(original)
    return factory


def _rlock_factory(original: Any) -> Any:
    if isinstance(original, type):  # _thread.RLock
        return RLock

    def RLock_(*args: Any, **kwargs: Any) -> RLock:
        if args or kwargs:
            original(*args, **kwargs)  # threading.RLock's own word on arguments (3.13 deprecates them)
        return RLock()

    return _registry.lean(RLock_, original)


# Where a class is replaced by a class, wrapt finds the original under
# ``__wrapped__`` to put it back; so isinstance(threading.Lock(),
# _thread.LockType) holds while patched.
Lock.__wrapped__ = _CLock  # type: ignore[attr-defined]
RLock.__wrapped__ = _CRLock  # type: ignore[attr-defined]
# Named as the C types are, so that what a program prints, and the errors
# it gets, read as the stdlib's: "<unlocked _thread.lock object at ...>",
# "cannot pickle '_thread.RLock' object". They are offset's all the same:
# offset.patches.threading.Lock and .RLock.
for _cls, _original in ((Lock, _CLock), (RLock, _CRLock)):
    _cls.__module__ = _original.__module__
    _cls.__name__ = _cls.__qualname__ = _original.__qualname__
del _cls, _original


def _join(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if current_goroutine() is None:
        return wrapped(*args, **kwargs)
    timeout = _join_timeout(*args, **kwargs)
    # The stdlib's checks (not started, joining itself), and the common
    # case of a thread that has ended.
    wrapped(0)
    if not instance.is_alive():
        return None
    # A thread's end is signalled in C, to a lock no goroutine can wait on;
    # so look again after 1, 2, 4... ms, at most 20 ms apart. (On a pool
    # thread, join would make each pool thread a _DummyThread of
    # threading's that is never removed.)
    deadline = None if timeout is None else _monotonic_ns() + int(max(timeout, 0) * 1e9)
    delay = 1_000_000
    while True:
        d = delay
        if deadline is not None:
            d = min(d, deadline - _monotonic_ns())
            if d <= 0:
                return None
        sleep_ns(d)
        if not instance.is_alive():
            wrapped(0)  # the stdlib's bookkeeping of an ended thread
            return None
        delay = min(delay * 2, 20_000_000)


def _join_timeout(timeout: float | None = None) -> float | None:
    return timeout


_LOCK_PATHS = [
    ("_thread", "allocate_lock"),
    ("_thread", "LockType"),
    ("threading", "Lock"),
    ("threading", "_allocate_lock"),
]
if hasattr(_thread, "lock"):  # 3.13 names the type too; pickle finds a class by it
    _LOCK_PATHS.append(("_thread", "lock"))
for _module, _path in _LOCK_PATHS:
    AREA.define(_module, _path, _lock_factory)
AREA.define("_thread", "RLock", _rlock_factory)
AREA.define("threading", "RLock", _rlock_factory)
AREA.define("threading", "Thread.join", lambda original: _registry.function_wrapper(original, _join))


# -- the import system's module locks ----------------------------------------


def _import_ident() -> int:
    """``_thread.get_ident()`` as the import system's module locks ask it:
    a goroutine's own number in a goroutine, the thread's elsewhere."""
    g = current_goroutine()
    if g is not None:
        return id(g)  # an object's address: never a live thread's ident
    return _get_ident()


_get_ident = _thread.get_ident


class _ImportThread(type(_thread)):  # type: ignore[misc]
    """``_thread`` as ``importlib._bootstrap`` sees it: goroutines are owners.

    A module lock (``_ModuleLock``) lets its owner in again, and tells
    owners apart by ``_thread.get_ident()``. Goroutines of one thread share
    that ident, so a goroutine that imports a module another goroutine of
    its thread is importing (parked in the middle, on a lock or I/O) would
    be let in and get the half-initialized module: an ImportError ("cannot
    import name ... partially initialized module"), where two threads
    would wait for each other. With this ``get_ident`` it waits, parking on
    the module lock (the lock is offset's: ``_thread.allocate_lock`` and
    ``RLock`` are patched above), and the import system's deadlock check
    sees goroutines as it sees threads. Everything else is ``_thread``'s.
    """

    def __init__(self, original: Any) -> None:
        super().__init__(original.__name__, original.__doc__)
        self.__wrapped__ = original
        self.get_ident = _import_ident

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__wrapped__, name)

    def __repr__(self) -> str:
        return repr(self.__wrapped__)


AREA.define("_frozen_importlib", "_thread", _ImportThread)


# -- logging's locks, made before patching -----------------------------------

# Handlers whose lock was swapped, with the lock they had.
_swapped: list[tuple[weakref.ReferenceType[Any], Any]] = []


def _make_logging_lock(original: Any) -> Any:
    logging = sys.modules["logging"]
    for ref in list(getattr(logging, "_handlerList", ())):
        handler = ref()
        lock = getattr(handler, "lock", None)
        if lock is None or isinstance(lock, RLock):
            continue
        handler.lock = RLock()
        _swapped.append((weakref.ref(handler), lock))
    # A class of its own, for wrapt to find this original on.
    return type("RLock", (RLock,), {"__slots__": (), "__wrapped__": original, "__module__": RLock.__module__})()


def _restore_logging_locks(original: Any) -> None:
    for ref, lock in _swapped:
        handler = ref()
        if handler is not None and isinstance(handler.lock, RLock) and not handler.lock._held.locked():
            handler.lock = lock
    _swapped.clear()


AREA.define("logging", "_lock", _make_logging_lock, restored=_restore_logging_locks)


patch, unpatch, is_patched = AREA.functions()
