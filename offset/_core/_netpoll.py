"""The netpoller: one OS call that waits for file descriptors, timers and
cross-thread wake-ups together.

What: the idle scheduler sleeps in ``Netpoll.poll(timeout)`` until a file
descriptor a goroutine waits on is ready, the next timer is due (the caller
passes its deadline as the timeout), or another thread calls ``wakeup()``
(a thread-pool call finished, or a goroutine of this scheduler was readied
from another thread). There is no polling loop with a fixed sleep.

The backend contract (Go: runtime/netpoll.go), for every implementation:

``arm(fd, mode, waiter)``
    Ask to be told when ``fd`` is ready for ``mode`` ("r" or "w"). At most
    one waiter per (fd, mode); a second is a bug in the caller. ``waiter``
    is any object with ``fire(ok: bool)``.
``disarm(fd, mode, waiter) -> bool``
    Withdraw the interest (a timeout expired, or the goroutine is being
    stopped). False when the waiter had already fired or was never armed.
``armed(fd, mode) -> FdWaiter | None``
    The waiter armed for (fd, mode), or None. Lets a second goroutine that
    waits on the same fd in the same mode join the first instead of arming
    (_io.py keeps the joined waiters; the netpoller still sees one).
``close_fd(fd)``
    ``fd`` is about to be closed: fire every waiter on it with ok=False and
    forget the fd. The caller raises what the stdlib raises.
``poll(timeout)``
    Wait at most ``timeout`` seconds (None: no limit, 0: don't block) and
    fire the waiters whose fds are ready with ok=True. Returns how many
    fired. Wake-ups from ``wakeup()`` are consumed here.
``wakeup()``
    Safe from any thread: make a blocked or upcoming ``poll`` return.
``nwaiting``
    How many waiters are armed; the scheduler uses it to tell an idle wait
    from a deadlock.
``close()``
    Release the OS resources.

Only the scheduler's own thread calls anything but ``wakeup``.

Rejected: a thread per blocking socket (what threads-per-connection code
pays), and readiness by polling each socket with a short timeout.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Netpoll", "FdWaiter", "make_netpoll"]


class FdWaiter(Protocol):
    def fire(self, ok: bool) -> None: ...


class Netpoll(Protocol):
    nwaiting: int

    def arm(self, fd: int, mode: str, waiter: FdWaiter) -> None: ...
    def disarm(self, fd: int, mode: str, waiter: FdWaiter) -> bool: ...
    def armed(self, fd: int, mode: str) -> FdWaiter | None: ...
    def close_fd(self, fd: int) -> None: ...
    def poll(self, timeout: float | None) -> int: ...
    def wakeup(self) -> None: ...
    def close(self) -> None: ...


def make_netpoll() -> Netpoll:
    """The best backend for this platform: epoll on Linux, else selectors."""
    import select

    if hasattr(select, "epoll"):
        from ._netpoll_epoll import EpollNetpoll

        return EpollNetpoll()
    from ._netpoll_selectors import SelectorsNetpoll

    return SelectorsNetpoll()
