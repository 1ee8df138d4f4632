"""The epoll netpoll backend (Linux). The contract is in _netpoll.py.

Each fd is registered once with EPOLLONESHOT and re-armed with one
``epoll_ctl(MOD)`` per wait, so a wait costs one system call besides the
I/O itself; an fd is never explicitly removed, because the kernel drops it
from the epoll set when the last reference to its open file goes away.
That makes fd numbers reusable under us: a MOD that fails with ENOENT means
the fd was closed and its number reused, so we ADD it afresh; an ADD that
fails with EEXIST means the number is still known to epoll, so we MOD.

Invariants:
- ``self.fds[fd] == [reader, writer]``; a slot holds the armed waiter or None.
- An fd whose slots are both None is disarmed in the kernel (oneshot fired,
  or never armed since the last fire) or about to be re-armed by ``arm``.
- ``nwaiting`` is the number of non-None slots.

Wake-ups use an eventfd (a pipe where eventfd is missing); ``wakeup`` writes
only the 8 bytes eventfd needs and ignores a full pipe, since one pending
wake-up is as good as many.
"""

from __future__ import annotations

import errno
import os
import select

from ._netpoll import FdWaiter

__all__ = ["EpollNetpoll"]

_IN = select.EPOLLIN
_OUT = select.EPOLLOUT
_ERR = select.EPOLLERR | select.EPOLLHUP
_ONESHOT = select.EPOLLONESHOT
_ONE = (1).to_bytes(8, "little")


class EpollNetpoll:
    __slots__ = ("_ep", "_wake_r", "_wake_w", "fds", "nwaiting")

    def __init__(self) -> None:
        self._ep = select.epoll()
        if hasattr(os, "eventfd"):
            self._wake_r = self._wake_w = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:  # pragma: no cover - Linux before 2.6.22 or a CPython without eventfd
            self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._ep.register(self._wake_r, _IN)
        self.fds: dict[int, list[FdWaiter | None]] = {}
        self.nwaiting = 0

    def _ctl(self, fd: int, mask: int, known: bool) -> None:
        ep = self._ep
        try:
            if known:
                ep.modify(fd, mask)
            else:
                ep.register(fd, mask)
        except FileExistsError:
            ep.modify(fd, mask)
        except FileNotFoundError:
            ep.register(fd, mask)

    def arm(self, fd: int, mode: str, waiter: FdWaiter) -> None:
        slots = self.fds.get(fd)
        known = slots is not None
        if slots is None:
            slots = self.fds[fd] = [None, None]
        i = 0 if mode == "r" else 1
        if slots[i] is not None:
            raise RuntimeError(f"two goroutines wait to {'read' if i == 0 else 'write'} fd {fd} at once")
        slots[i] = waiter
        mask = _ONESHOT | (_IN if slots[0] is not None else 0) | (_OUT if slots[1] is not None else 0)
        try:
            self._ctl(fd, mask, known)
        except BaseException:
            slots[i] = None
            raise
        self.nwaiting += 1

    def disarm(self, fd: int, mode: str, waiter: FdWaiter) -> bool:
        slots = self.fds.get(fd)
        i = 0 if mode == "r" else 1
        if slots is None or slots[i] is not waiter:
            return False
        slots[i] = None
        self.nwaiting -= 1
        other = slots[1 - i]
        if other is not None:
            mask = _ONESHOT | (_IN if i == 1 else _OUT)
            try:
                self._ep.modify(fd, mask)
            except OSError:
                pass
        return True

    def armed(self, fd: int, mode: str) -> FdWaiter | None:
        slots = self.fds.get(fd)
        if slots is None:
            return None
        return slots[0 if mode == "r" else 1]

    def close_fd(self, fd: int) -> None:
        slots = self.fds.pop(fd, None)
        if slots is None:
            return
        try:
            self._ep.unregister(fd)
        except OSError:
            pass
        for w in slots:
            if w is not None:
                self.nwaiting -= 1
                w.fire(False)

    def poll(self, timeout: float | None) -> int:
        try:
            events = self._ep.poll(-1 if timeout is None else timeout)
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            return 0
        fired = 0
        fds = self.fds
        wake_r = self._wake_r
        for fd, ev in events:
            if fd == wake_r:
                try:
                    os.read(wake_r, 8)
                except BlockingIOError:
                    pass
                continue
            slots = fds.get(fd)
            if slots is None:
                continue
            reader, writer = slots
            if reader is not None and ev & (_IN | _ERR):
                slots[0] = None
                self.nwaiting -= 1
                reader.fire(True)
                fired += 1
            if writer is not None and ev & (_OUT | _ERR):
                slots[1] = None
                self.nwaiting -= 1
                writer.fire(True)
                fired += 1
            # Oneshot disabled the fd; re-arm what still waits.
            r, w = slots
            if r is not None or w is not None:
                mask = _ONESHOT | (_IN if r is not None else 0) | (_OUT if w is not None else 0)
                try:
                    self._ep.modify(fd, mask)
                except OSError as e:  # pragma: no cover - fd closed under a waiter
                    if e.errno not in (errno.ENOENT, errno.EBADF):
                        raise
        return fired

    def wakeup(self) -> None:
        try:
            os.write(self._wake_w, _ONE)
        except (BlockingIOError, OSError):
            # Full (a wake-up is already pending) or closed (the scheduler
            # is gone): either way there is no one left to wake.
            pass

    def close(self) -> None:
        if self._ep.closed:
            return
        self._ep.close()
        os.close(self._wake_r)
        if self._wake_w != self._wake_r:
            os.close(self._wake_w)

    def __del__(self) -> None:
        # A thread's scheduler (and its netpoller) goes when the thread ends.
        try:
            self.close()
        except (AttributeError, OSError):
            pass
