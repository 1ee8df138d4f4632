"""Patches for queue: ``SimpleQueue.get`` parks only the goroutine.

``queue.Queue``, ``LifoQueue`` and ``PriorityQueue`` are pure Python over
``threading.Lock`` and ``threading.Condition``: with the threading area
patched, a queue made after patching parks a waiting goroutine with no
patch of its own (see offset/patches/threading.py).

``queue.SimpleQueue`` is C (``_queue.SimpleQueue``) and waits on a C lock,
so this area replaces it with ``SimpleQueue`` below, built on the core's
wait queue: a getter that finds it empty parks (a goroutine) or blocks (a
plain thread) until a put. As in C, ``put`` never blocks and takes no
lock, to add the item (a deque append) or to wake a getter (the wait
queue's ``wake_one_reentrant``), so it is safe to call from a ``__del__``
or a signal handler, even one that runs inside offset's own code. Values, ``queue.Empty``, ``timeout`` checks and FIFO order
are the stdlib's. SimpleQueues made before patching stay C.
"""

from __future__ import annotations

import types
from collections import deque
from time import monotonic as _monotonic
from typing import Any, Generic, TypeVar

from .._core import SERVED, Sudog, WaitQueue, chan_lock, waitreason
from . import _registry

__all__ = ["SimpleQueue", "patch", "unpatch", "is_patched"]

AREA = _registry.Area("queue", __name__, "``queue.SimpleQueue``")

T = TypeVar("T")

_acquire = chan_lock

try:
    from _queue import Empty as _Empty
    from _queue import SimpleQueue as _CSimpleQueue
except ImportError:  # pragma: no cover - CPython always has _queue
    from queue import Empty as _Empty
    from queue import SimpleQueue as _CSimpleQueue


def _check_timeout(timeout: Any) -> None:
    """The C SimpleQueue's checks of ``timeout``: it is asked, with an item to get."""
    probe: Any = _CSimpleQueue()
    probe.put(None)
    probe.get(True, timeout)


class SimpleQueue(Generic[T]):
    """``queue.SimpleQueue`` under offset: an unbounded FIFO whose get parks a goroutine."""

    __slots__ = ("_items", "_getters", "__weakref__")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            _CSimpleQueue(*args, **kwargs)  # the C queue's TypeError
        self._items: deque[T] = deque()
        self._getters = WaitQueue()

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        """Put ``item`` in the queue; never blocks (``block`` and ``timeout`` are ignored, as in C)."""
        self._items.append(item)
        if self._getters:
            # Without chanlock: put may run in a __del__ inside offset's code.
            self._getters.wake_one_reentrant()

    def put_nowait(self, item: T) -> None:
        """Put ``item`` in the queue (the same as ``put``)."""
        self.put(item)

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        """Remove and return an item, waiting for one if ``block``.

        Raises:
            queue.Empty: none came in time (at once when not ``block``).
            ValueError: ``timeout`` is negative (the C queue's checks).
        """
        deadline = None
        if timeout is not None and block:
            _check_timeout(timeout)  # first, as C does, even with an item there
            deadline = _monotonic() + timeout
        items = self._items
        if items:
            try:
                return items.popleft()
            except IndexError:  # another thread took it in between
                pass
        if not block:
            raise _Empty
        getters = self._getters
        while True:
            remaining = None
            if deadline is not None:
                remaining = deadline - _monotonic()
                if remaining <= 0:
                    raise _Empty
            _acquire()
            # Woken by a put, a getter takes whatever is there; one that
            # finds it taken already (a get that never waited) waits again.
            if not getters.park(waitreason.QUEUE_GET, remaining, retry=items.__len__, abandon=self._pass_on):
                raise _Empty
            try:
                return items.popleft()
            except IndexError:
                continue

    def _pass_on(self, w: Sudog) -> None:
        if w.state == SERVED and self._items:
            self._getters.wake_one()  # woken for an item it will not take

    def get_nowait(self) -> T:
        """Remove and return an item if one is there.

        Raises:
            queue.Empty: the queue is empty.
        """
        return self.get(False)

    def empty(self) -> bool:
        """Whether the queue is empty (not reliable while others use it)."""
        return not self._items

    def qsize(self) -> int:
        """How many items the queue holds (not reliable while others use it)."""
        return len(self._items)

    def __class_getitem__(cls, item: Any) -> types.GenericAlias:  # the stdlib's, not typing's alias
        return types.GenericAlias(cls, item)

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__qualname__} object at {id(self):#x}>"


SimpleQueue.__wrapped__ = _CSimpleQueue  # type: ignore[attr-defined]  # wrapt puts it back from here

AREA.define("queue", "SimpleQueue", lambda original: SimpleQueue)


patch, unpatch, is_patched = AREA.functions()
