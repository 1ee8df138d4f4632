"""The portable netpoll backend, on ``selectors.DefaultSelector``.

Used where epoll is missing (macOS, the BSDs, Windows). The contract is in
_netpoll.py. Interest is registered while a waiter is armed and removed when
both slots are empty, which costs a system call per change on kqueue and
none on select/poll. Wake-ups come through a socketpair, which works on
every platform (Windows has no pipes that select accepts).

``wakeup`` and ``close`` take ``_lock``, and a closed backend's ``wakeup``
does nothing, as in the epoll backend (see "Lifecycle" in _netpoll.py).
After ``fork()`` the child closes its copies of every open backend's
selector and wake-up socketpair, as the epoll backend does (the parent's
are shared files); the child's scheduler makes a new backend.
"""

from __future__ import annotations

import os
import random
import selectors
import socket
import weakref
from _thread import RLock as _RLock

from ._native import mypyc_attr
from ._netpoll import AlreadyArmedError, FdWaiter
from ._netpoll import _write as _write_keeping_gil  # write_keeping_gil's libc write, called without its frame

__all__ = ["SelectorsNetpoll"]

_R = selectors.EVENT_READ
_W = selectors.EVENT_WRITE


@mypyc_attr(native_class=False)  # see _native.py
class SelectorsNetpoll:
    __slots__ = (
        "_sel",
        "_wake_r",
        "_wake_w",
        "_wake_fd",
        "_lock",
        "_closed",
        "fds",
        "nwaiting",
        "rng",
        "__weakref__",
    )

    def __init__(self, rng: random.Random | None = None) -> None:
        self._closed = True  # until every fd is open: __del__ then closes nothing
        self.rng = rng  # chaos scheduling: each poll's events in an order drawn from it
        self._lock = _RLock()
        self.fds: dict[int, list[FdWaiter | None]] = {}
        self.nwaiting = 0
        self._sel = selectors.DefaultSelector()
        try:
            self._wake_r, self._wake_w = socket.socketpair()
        except BaseException:
            self._sel.close()
            raise
        self._wake_fd = self._wake_w.fileno()
        self._closed = False
        _live.add(self)
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, _R)

    def _after_fork(self) -> None:
        # Close only our copies of the parent's selector and socketpair;
        # the lock may have been held by a thread the fork left behind.
        self._lock = _RLock()
        self._closed = True
        for closable in (self._sel, self._wake_r, self._wake_w):
            try:
                closable.close()
            except OSError:  # pragma: no cover
                pass

    def _update(self, fd: int, slots: list[FdWaiter | None], had: int) -> None:
        mask = (_R if slots[0] is not None else 0) | (_W if slots[1] is not None else 0)
        if mask == had:
            return
        if had == 0:
            self._sel.register(fd, mask)
        elif mask == 0:
            self._sel.unregister(fd)
        else:
            self._sel.modify(fd, mask)

    @staticmethod
    def _mask(slots: list[FdWaiter | None]) -> int:
        return (_R if slots[0] is not None else 0) | (_W if slots[1] is not None else 0)

    def arm(self, fd: int, mode: str, waiter: FdWaiter, owner: object = None) -> None:
        # Interest is registered per wait and removed when both slots empty,
        # so nothing outlives a wait and ``owner`` is not needed.
        slots = self.fds.setdefault(fd, [None, None])
        i = 0 if mode == "r" else 1
        if slots[i] is not None:
            raise AlreadyArmedError(f"two goroutines wait to {'read' if i == 0 else 'write'} fd {fd} at once")
        had = self._mask(slots)
        slots[i] = waiter
        try:
            self._update(fd, slots, had)
        except BaseException:
            slots[i] = None
            raise
        self.nwaiting += 1

    def disarm(self, fd: int, mode: str, waiter: FdWaiter) -> bool:
        slots = self.fds.get(fd)
        i = 0 if mode == "r" else 1
        if slots is None or slots[i] is not waiter:
            return False
        had = self._mask(slots)
        slots[i] = None
        self.nwaiting -= 1
        try:
            self._update(fd, slots, had)
        except (OSError, KeyError, ValueError):
            pass
        if slots[0] is None and slots[1] is None:
            del self.fds[fd]
        return True

    def armed(self, fd: int, mode: str) -> FdWaiter | None:
        slots = self.fds.get(fd)
        if slots is None:
            return None
        return slots[0 if mode == "r" else 1]

    def drained(self, fd: int, owner: object) -> None:
        pass  # level-triggered, registered per wait: nothing to remember

    def quiet(self, fd: int, owner: object) -> bool:
        return False  # a reader must always try first here

    def close_fd(self, fd: int) -> None:
        slots = self.fds.pop(fd, None)
        if slots is None:
            return
        try:
            self._sel.unregister(fd)
        except (OSError, KeyError, ValueError):
            pass
        for w in slots:
            if w is not None:
                self.nwaiting -= 1
                w.fire(False)

    def poll(self, timeout: float | None) -> int:
        fired = 0
        ready = self._sel.select(timeout)
        if self.rng is not None:
            self.rng.shuffle(ready)
        for key, ev in ready:
            if key.fileobj is self._wake_r:
                try:
                    while self._wake_r.recv(4096):
                        pass
                except BlockingIOError:
                    pass
                continue
            fd = key.fd
            slots = self.fds.get(fd)
            if slots is None:
                continue
            had = self._mask(slots)
            reader, writer = slots
            if reader is not None and ev & _R:
                slots[0] = None
                self.nwaiting -= 1
                reader.fire(True)
                fired += 1
            if writer is not None and ev & _W:
                slots[1] = None
                self.nwaiting -= 1
                writer.fire(True)
                fired += 1
            try:
                self._update(fd, slots, had)
            except (OSError, KeyError, ValueError):
                pass
            if slots[0] is None and slots[1] is None:
                self.fds.pop(fd, None)
        return fired

    def wakeup(self) -> None:
        if self._closed:
            return
        lock = self._lock
        lock.acquire()  # not ``with``: its __exit__ call costs as much again
        try:
            if not self._closed:
                _write_keeping_gil(self._wake_fd, b"\0", 1)  # errors ignored, as in epoll's
        finally:
            lock.release()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            _live.discard(self)
            self._sel.close()
            self._wake_r.close()
            self._wake_w.close()

    def __del__(self) -> None:
        try:
            self.close()
        except (AttributeError, OSError):
            pass


# Every live backend, for the after-fork reset.
_live: weakref.WeakSet[SelectorsNetpoll] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for backend in list(_live):
        backend._after_fork()
    _live.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
