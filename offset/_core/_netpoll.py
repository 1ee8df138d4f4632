"""The netpoller: one OS call that waits for file descriptors, timers and
cross-thread wake-ups together.

What: the idle scheduler sleeps in ``Netpoll.poll(timeout)`` until a file
descriptor a goroutine waits on is ready, the next timer is due (the caller
passes its deadline as the timeout), or another thread calls ``wakeup()``
(a thread-pool call finished, or a goroutine of this scheduler was readied
from another thread). There is no polling loop with a fixed sleep.

The backend contract (Go: runtime/netpoll.go), for every implementation:

``arm(fd, mode, waiter, owner=None)``
    Ask to be told when ``fd`` is ready for ``mode`` ("r" or "w"). At most
    one waiter per (fd, mode); a second raises ``AlreadyArmedError`` and
    changes nothing (the caller joins the first instead, see ``armed``).
    Any other exception is a real failure (the OS refused the fd) and
    leaves nothing armed. ``waiter`` is any object with
    ``fire(ok: bool)``. The caller arms only after the fd said EAGAIN (or
    a look without blocking found it not ready) and before the next
    ``poll``: a backend may rely on that and report only *changes* of
    readiness (edge-triggered).
    ``owner`` is the object the fd belongs to (a socket), or None. A
    backend may keep an fd registered with the OS between waits, but must
    register it afresh when ``owner`` is None or is not the object that
    armed it last: an fd closed behind offset's back (a socket collected
    without close(), os.close) loses its OS registration with its file,
    and its number may come back for another object.
``disarm(fd, mode, waiter) -> bool``
    Withdraw the interest (a timeout expired, or the goroutine is being
    stopped). False when the waiter had already fired or was never armed.
``armed(fd, mode) -> FdWaiter | None``
    The waiter armed for (fd, mode), or None. Lets a second goroutine that
    waits on the same fd in the same mode join the first instead of arming
    (_io.py keeps the joined waiters; the netpoller still sees one).
``drained(fd, owner)``
    The caller (the socket layer) has just read ``fd`` empty: a read came
    back short on a stream socket. Remember it, if the fd is registered
    for this ``owner``.
``quiet(fd, owner) -> bool``
    True when the backend promises that a reader armed *now*, without
    trying to read first, will be woken by any data that arrived since the
    last ``drained(fd, owner)``: the fd is registered for this owner,
    edge-triggered, and no read event for it was delivered since that mark.
    Then the caller can skip the read that would only say EAGAIN (a system
    call and an exception saved per request on a request/response
    connection). A backend that cannot promise it returns False.
    A short read does not always leave the fd unreadable: an EOF or error
    that came with the last data, or data behind a TCP urgent mark, is
    still there, and its edge may be the one already delivered. A backend
    must say False once it has seen that (issue 7: the reader would wait
    for an edge that never comes).
``close_fd(fd)``
    ``fd`` is about to be closed: fire every waiter on it with ok=False and
    forget the fd. The caller raises what the stdlib raises.
``poll(timeout)``
    Wait at most ``timeout`` seconds (None: no limit, 0: don't block) and
    fire the waiters whose fds are ready with ok=True. Returns how many
    fired. Wake-ups from ``wakeup()`` are consumed here. A backend made
    with a ``random.Random`` (``rng``: chaos scheduling, OFFSET_SHUFFLE in
    _sched.py) takes the events of one poll in an order drawn from it,
    else in the order the OS gave them.
``wakeup()``
    Safe from any thread: make a blocked or upcoming ``poll`` return. Also
    safe racing with ``close()`` and after it, when it does nothing: it
    never writes to an fd that ``close`` has released, whose number the
    process may already have given to another file.
``nwaiting``
    How many waiters are armed; the scheduler uses it to tell an idle wait
    from a deadlock.
``close()``
    Release the OS resources; a second call does nothing. The waiters
    still armed are not fired; ``nwaiting`` keeps its value. The scheduler
    calls it when its ``run()`` returns (see "Lifecycle" in _sched.py).

Only the scheduler's own thread calls anything but ``wakeup``.

Lifecycle. A backend belongs to one ``run()`` of one scheduler: made at the
first wait, closed when that ``run()`` returns; a later ``run()`` in the
same thread makes a new one. In a forked child every backend the parent
had open is closed (the child's copies of its fds; the parent keeps its
own), and the child's scheduler makes a new one when it next needs it.
Wake-ups from other threads can race with ``close``, which is why
``wakeup`` and ``close`` take the backend's lock: the check that the
backend is open and the write must be one step against the close.

Rejected, for the lifecycle:
- Keeping the backend from one ``run()`` to the next for the thread's
  life (offset did): nothing runs in a thread at its end to close it, so
  50 threads that each ran a scheduler left 100 fds open.
- Closing it when the scheduler object is collected: goroutines parked on
  channels (a G's ``sched``) and Timers keep the scheduler alive as long
  as they live, so the fds would outlive the thread by an unknown time.
- A pool of backends for later schedulers: a late ``wakeup`` would land
  in another scheduler's backend (harmless), but the fds of a burst of
  threads would stay open.
- A lock-free ``wakeup`` that checks a closed flag, then writes: another
  thread can close, and the process give the fd number to another file,
  between the check and the write.

Rejected: a thread per blocking socket (what threads-per-connection code
pays), and readiness by polling each socket with a short timeout.
"""

from __future__ import annotations

import os
import random
import select
from collections.abc import Callable
from typing import Any, Protocol

from .. import _config
from ._errors import InternalError

__all__ = ["AlreadyArmedError", "Netpoll", "FdWaiter", "NO_NETPOLL", "make_netpoll"]


class AlreadyArmedError(Exception):
    """``arm`` found another waiter armed for this (fd, mode).

    Internal: _io.py catches it and joins the armed waiter; where offset
    arms knowing the slot is free, it is offset's bug (``InternalError``).
    Not a RuntimeError, so that catching it cannot swallow anything else.
    """


class FdWaiter(Protocol):
    def fire(self, ok: bool) -> None: ...


class Netpoll(Protocol):
    nwaiting: int

    def arm(self, fd: int, mode: str, waiter: FdWaiter, owner: object = None) -> None: ...
    def disarm(self, fd: int, mode: str, waiter: FdWaiter) -> bool: ...
    def armed(self, fd: int, mode: str) -> FdWaiter | None: ...
    def drained(self, fd: int, owner: object) -> None: ...
    def quiet(self, fd: int, owner: object) -> bool: ...
    def close_fd(self, fd: int) -> None: ...
    def poll(self, timeout: float | None) -> int: ...
    def wakeup(self) -> None: ...
    def close(self) -> None: ...


class _NoNetpoll:
    """What another thread finds as the netpoller of a scheduler that has none.

    A thread that wakes a scheduler reads its ``sleeping`` flag, then calls
    ``poller.wakeup()``. If that scheduler's ``run()`` returned in between,
    its netpoller is closed and dropped, and nothing is left to wake; a
    netpoller made there would belong to a finished scheduler and nobody
    would close it. Only ``wakeup`` (and ``close``) may be called on this.
    """

    __slots__ = ()
    nwaiting = 0

    def wakeup(self) -> None:
        pass

    def close(self) -> None:
        pass

    def _misuse(self) -> InternalError:
        return InternalError("a scheduler's netpoller used from another thread")

    def arm(self, fd: int, mode: str, waiter: FdWaiter, owner: object = None) -> None:
        raise self._misuse()

    def disarm(self, fd: int, mode: str, waiter: FdWaiter) -> bool:
        raise self._misuse()

    def armed(self, fd: int, mode: str) -> FdWaiter | None:
        raise self._misuse()

    def drained(self, fd: int, owner: object) -> None:
        raise self._misuse()

    def quiet(self, fd: int, owner: object) -> bool:
        raise self._misuse()

    def close_fd(self, fd: int) -> None:
        raise self._misuse()

    def poll(self, timeout: float | None) -> int:
        raise self._misuse()


NO_NETPOLL: Netpoll = _NoNetpoll()


def make_netpoll(rng: random.Random | None = None) -> Netpoll:
    """The best backend for this platform: epoll on Linux, else selectors.

    ``OFFSET_NETPOLL=selectors`` picks the portable backend anywhere (the
    tests run the patch layer on both); offset/_config.py parses it.
    ``rng``: deliver each poll's events in random order, drawn from it
    (chaos scheduling).

    Raises:
        ValueError: ``OFFSET_NETPOLL`` is neither "epoll" nor "selectors",
            or "epoll" where the platform has none.
    """
    choice = _config.netpoll()
    if _EpollNetpoll is not None and choice != "selectors":
        return _EpollNetpoll(rng)
    if "_SelectorsNetpoll" not in globals():  # OFFSET_NETPOLL set after offset was imported
        from ._netpoll_selectors import SelectorsNetpoll

        return SelectorsNetpoll(rng)
    return _SelectorsNetpoll(rng)


def write_keeping_gil(fd: int, data: bytes) -> None:
    """Write ``data`` to the non-blocking ``fd``, holding the GIL; errors are ignored.

    For wake-ups. A thread that wakes a goroutine (a lock released, a
    future's result set) must go on running, as it does when it releases a
    lock in plain Python, where code relies on it (concurrent.futures sets
    a result, then releases the idle-worker semaphore). ``os.write``
    releases the GIL for the system call, and the woken thread, back from
    epoll_wait, takes it and runs its goroutines first. libc's write
    called through ``ctypes.PyDLL`` keeps it, and on a non-blocking fd it
    never waits. Without ctypes, ``os.write``.
    """
    _write(fd, data, len(data))


def _bind_write() -> Any:
    """libc's write through ctypes, bound when offset is imported.

    Not later: an import made when the first netpoller is made or at the
    first wake-up could find the module lock held by a goroutine (they
    are offset's locks under the threading area), and the scheduler's
    loop, or a thread in the middle of an import of its own, would wait
    for it for good.
    """
    w: Any
    try:
        import ctypes

        w = ctypes.PyDLL(None).write  # PyDLL: the call keeps the GIL
        w.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t)
        w.restype = ctypes.c_ssize_t
    except (ImportError, OSError, AttributeError):  # pragma: no cover - no ctypes, or no libc symbol
        w = _os_write
    return w


_real_write = os.write  # bound before the os area can patch it


def _os_write(fd: int, data: bytes, n: int) -> None:
    try:
        _real_write(fd, data)
    except OSError:
        pass


_write: Any = _bind_write()


# The epoll backend is imported with offset._core, so that it binds
# select.epoll before offset.patches can replace it with its cooperative
# class (the netpoller must use the real one).
_EpollNetpoll: Callable[[random.Random | None], Netpoll] | None = None
if hasattr(select, "epoll"):
    from ._netpoll_epoll import EpollNetpoll as _EpollNetpoll
# The portable backend only where it may be chosen (it imports socket and
# selectors), and then now: make_netpoll must import nothing (see _bind_write).
if _EpollNetpoll is None or _config.netpoll() == "selectors":
    from ._netpoll_selectors import SelectorsNetpoll as _SelectorsNetpoll
