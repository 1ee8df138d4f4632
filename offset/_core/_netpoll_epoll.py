"""The epoll netpoll backend (Linux). The contract is in _netpoll.py.

Each fd is registered once, edge-triggered, for reading and writing
together (Go's netpollopen: EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET, and
EPOLLPRI for the drained reads below), and stays registered
between waits, so a wait costs no system call besides the I/O itself and
the shared ``epoll_wait``. Edge-triggered is safe because the caller arms
only after the fd said EAGAIN and before the next ``poll`` (see the
contract): readiness that comes after the EAGAIN is a change the kernel
reports at the next ``epoll_wait``, by which time the waiter is armed. An
edge that arrives while nobody waits is dropped; whoever waits next tries
the I/O first and finds the data.

Re-registration. The kernel drops an fd from the epoll set when the last
reference to its open file goes away, and the fd number can then come
back for another file. ``self.fds`` would still call it registered, and a
wait on it would never fire. So each fd remembers (weakly) the *owner* that
armed it last, and an arm with another owner, or with none, registers the
fd afresh: ``epoll_ctl(MOD)``, or ``ADD`` when MOD fails with ENOENT (the
kernel forgot it). A socket object never changes its fd while open, so
"same owner" means "same open file" unless the program closed the fd under
its own socket object.

A registration left behind by a file that is still open elsewhere (a
dup'd or inherited fd closed only here) can report edges for an fd number
that now belongs to someone else: a spurious wake-up, which costs the
waiter one EAGAIN. Edge-triggered, it cannot spin.

Drained reads (``drained``/``quiet``). Each fd counts the read events
``poll`` delivered for it (``rseq``), whether a reader waited or not.
``drained(fd, owner)`` records the count when the socket layer read the fd
empty (``rmark``). While the two are equal no read event was delivered
since, so any data that arrived after the drain is an edge still pending in
the kernel's ready list: a reader armed now, without trying to read, is
woken by it. That saves the read that would only say EAGAIN.

That argument needs the short read to have left the fd *not readable*, and
it does not always (issue 7). The peer's FIN, or a reset, that came in
with or before the last data stays after the short read that took the
data: the next read gives b"" (or the error) at once, but the kernel
reported that change of readiness in the event that was delivered already,
and reports no other. Nor does a TCP read stop only at the end of the
queue: it stops short at an urgent-data mark with data behind it. Both are
in the event the kernel delivers (the mask is taken when ``epoll_wait``
collects it, not when the edge was queued): EPOLLRDHUP, EPOLLHUP or
EPOLLERR for the first, EPOLLPRI for the second. Such an event sets
``hup``, and ``quiet`` then says False until the fd is registered afresh.
Later events can only be more of the same (a peer that hung up sends no
more; an error leaves EOF behind), so the flag never needs clearing for
the same open file. Readiness that changes after ``epoll_wait`` collected
the event is a new edge, pending, which wakes a quiet reader as any data
does. No event tells of the other short reads: a Unix stream read also
stops short after data that carried file descriptors, and, with
SO_PASSCRED, where the writer's credentials change; so the socket layer
marks only TCP reads drained (patches/socket.py ``_short_read``).

Invariants:
- ``self.fds[fd] == [reader, writer, owner_ref, rseq, rmark, hup]``; a
  waiter slot holds the armed waiter or None; ``owner_ref`` is a weak
  reference to the owner that armed last, or None when that arm had no
  owner (or the owner takes no weak references). ``rmark`` is -1 (no drain
  recorded) after every registration, and otherwise a past value of
  ``rseq``. ``hup`` is False after every registration and True once an
  event since carried any of ``_NOQUIET``.
- Every fd in ``self.fds`` was registered with the kernel by the last arm
  that had a chance to (it may have been dropped by the kernel since; the
  owner check above catches that).
- ``nwaiting`` is the number of non-None waiter slots.

Wake-ups use an eventfd (a pipe where eventfd is missing), registered
level-triggered; ``wakeup`` writes only the 8 bytes eventfd needs and
ignores a full pipe, since one pending wake-up is as good as many.

Closing (see "Lifecycle" in _netpoll.py). ``wakeup`` and ``close`` take
``_lock`` (a C RLock: a signal handler that wakes this backend may run in
the middle of either, in the same thread), so that a wake-up racing with
the close either writes to the open eventfd or sees ``_closed`` and does
nothing. A closed backend's ``wakeup`` returns before the lock: once
closed it stays closed.

After ``fork()`` the child closes its copies of every open backend's epoll
fd and wake-up fd (the parent's are shared open files) and marks the
backend closed; the child's scheduler makes a new one at its next wait
(_sched.py). Goroutines of the parent that waited on fds do not exist in
the child's run.
"""

from __future__ import annotations

import os
import random
import select
import weakref
from _thread import RLock as _RLock
from typing import Any, Final

from ._native import mypyc_attr
from ._netpoll import AlreadyArmedError, FdWaiter
from ._netpoll import _write as _write_keeping_gil  # write_keeping_gil's libc write, called without its frame

__all__ = ["EpollNetpoll"]

_epoll = select.epoll  # bound at import, before offset.patches.select replaces it
# Final: compiled, a module-level name read on a hot path is a C static
# when Final, and a lookup in the module's dict when not.
_IN: Final = select.EPOLLIN
_OUT: Final = select.EPOLLOUT
_ERR: Final = select.EPOLLERR | select.EPOLLHUP
_READ: Final = _IN | select.EPOLLRDHUP | _ERR
_WRITE: Final = _OUT | _ERR
# After an event with any of these a short read may leave the fd readable
# (EOF, an error, data behind an urgent mark): no more quiet (see above).
_NOQUIET: Final = select.EPOLLRDHUP | _ERR | select.EPOLLPRI
_MASK: Final = _IN | _OUT | select.EPOLLRDHUP | select.EPOLLPRI | select.EPOLLET
_ONE: Final = (1).to_bytes(8, "little")
_ref = weakref.ref

# Every live backend, for the after-fork reset.
_live: weakref.WeakSet[EpollNetpoll] = weakref.WeakSet()


@mypyc_attr(native_class=False)  # see _native.py
class EpollNetpoll:
    __slots__ = ("_ep", "_wake_r", "_wake_w", "_lock", "_closed", "fds", "nwaiting", "rng", "__weakref__")

    def __init__(self, rng: random.Random | None = None) -> None:
        self._closed = True  # until every fd is open: __del__ then closes nothing
        self.rng = rng  # chaos scheduling: each poll's events in an order drawn from it
        self._lock = _RLock()
        self.fds: dict[int, list[Any]] = {}
        self.nwaiting = 0
        self._ep = _epoll()
        try:
            if hasattr(os, "eventfd"):
                self._wake_r = self._wake_w = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            else:  # pragma: no cover - Linux before 2.6.22 or a CPython without eventfd
                self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        except BaseException:
            self._ep.close()
            raise
        self._closed = False
        _live.add(self)
        self._ep.register(self._wake_r, _IN)

    def _register(self, fd: int, known: bool) -> None:
        ep = self._ep
        try:
            if known:
                ep.modify(fd, _MASK)
            else:
                ep.register(fd, _MASK)
        except FileExistsError:
            ep.modify(fd, _MASK)
        except FileNotFoundError:
            ep.register(fd, _MASK)

    def arm(self, fd: int, mode: str, waiter: FdWaiter, owner: object = None) -> None:
        i = 0 if mode == "r" else 1
        slots = self.fds.get(fd)
        if slots is None:
            self._register(fd, False)
            self.fds[fd] = slots = [None, None, _owner_ref(owner), 0, -1, False]
        else:
            if slots[i] is not None:
                raise AlreadyArmedError(f"two goroutines wait to {'read' if i == 0 else 'write'} fd {fd} at once")
            ref = slots[2]
            if owner is None or ref is None or ref() is not owner:
                self._register(fd, True)
                slots[2] = _owner_ref(owner)
                slots[4] = -1
                slots[5] = False
        slots[i] = waiter
        self.nwaiting += 1

    def disarm(self, fd: int, mode: str, waiter: FdWaiter) -> bool:
        slots = self.fds.get(fd)
        i = 0 if mode == "r" else 1
        if slots is None or slots[i] is not waiter:
            return False
        slots[i] = None
        self.nwaiting -= 1
        return True

    def armed(self, fd: int, mode: str) -> FdWaiter | None:
        slots = self.fds.get(fd)
        if slots is None:
            return None
        w: FdWaiter | None = slots[0 if mode == "r" else 1]
        return w

    def drained(self, fd: int, owner: object) -> None:
        slots = self.fds.get(fd)
        if slots is not None:
            ref = slots[2]
            if ref is not None and ref() is owner:
                slots[4] = slots[3]

    def quiet(self, fd: int, owner: object) -> bool:
        slots = self.fds.get(fd)
        if slots is None or slots[4] != slots[3] or slots[0] is not None or slots[5]:
            return False
        ref = slots[2]
        return ref is not None and ref() is owner

    def close_fd(self, fd: int) -> None:
        slots = self.fds.pop(fd, None)
        if slots is None:
            return
        try:
            self._ep.unregister(fd)
        except OSError:
            pass
        for w in slots[:2]:
            if w is not None:
                self.nwaiting -= 1
                w.fire(False)

    def poll(self, timeout: float | None) -> int:
        try:
            events = self._ep.poll(-1 if timeout is None else timeout)
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            return 0
        if self.rng is not None:
            self.rng.shuffle(events)
        fired = 0
        fds = self.fds
        wake_r = self._wake_r
        for fd, ev in events:
            slots = fds.get(fd)
            if slots is None:
                if fd == wake_r:
                    try:
                        os.read(wake_r, 8)
                    except BlockingIOError:
                        pass
                continue
            if ev & _NOQUIET:
                slots[5] = True
            if ev & _READ:
                slots[3] += 1
                w = slots[0]
                if w is not None:
                    slots[0] = None
                    self.nwaiting -= 1
                    w.fire(True)
                    fired += 1
            if ev & _WRITE:
                w = slots[1]
                if w is not None:
                    slots[1] = None
                    self.nwaiting -= 1
                    w.fire(True)
                    fired += 1
        return fired

    def wakeup(self) -> None:
        # A full pipe (a wake-up is already pending) fails the write: one
        # pending wake-up is as good as many. The GIL stays with the waker
        # (write_keeping_gil). Closed: nobody is left to wake.
        if self._closed:
            return
        lock = self._lock
        lock.acquire()  # not ``with``: its __exit__ call costs as much again
        try:
            if not self._closed:
                _write_keeping_gil(self._wake_w, _ONE, 8)
        finally:
            lock.release()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            _live.discard(self)
            self._ep.close()
            os.close(self._wake_r)
            if self._wake_w != self._wake_r:
                os.close(self._wake_w)

    def __del__(self) -> None:
        # A backend dropped without close() (not by a scheduler, which
        # closes its own when run() returns): its fds go with it.
        try:
            self.close()
        except (AttributeError, OSError):  # pragma: no cover - at interpreter exit
            pass

    def _after_fork(self) -> None:
        # The parent's epoll set and wake-up fd are open files we share
        # with it: close our copies, leave them to the parent. The lock
        # may have been held by a thread the fork left behind.
        self._lock = _RLock()
        self._closed = True
        for fd in {self._wake_r, self._wake_w}:
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self._ep.close()
        except OSError:  # pragma: no cover
            pass


def _owner_ref(owner: object) -> Any:
    if owner is None:
        return None
    try:
        return _ref(owner)
    except TypeError:
        return None  # takes no weak references: register afresh every time


def _reset_after_fork() -> None:
    for backend in list(_live):
        backend._after_fork()
    _live.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
