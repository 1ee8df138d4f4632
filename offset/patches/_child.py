"""Waiting for child processes: the os area's wait functions, and the
exit watch that the subprocess area shares with them.

``OS_PATCHES`` holds (path in the os module, factory) pairs for the os
area to define: ``waitpid``, ``wait``, ``wait3``, ``wait4`` and
``waitid``. Inside a goroutine while its scheduler runs, each parks only
that goroutine until a child it waits for changes state; everywhere else,
and for a call that would not block (``WNOHANG``) or whose arguments the
stdlib would refuse, it is the original.

How a patched wait works:

1. *Probe.* The original is called with ``WNOHANG`` added. What it returns
   for a child that is ready, and what it raises (``ChildProcessError``
   for no such child, ``OSError(EINVAL)`` for bad options), is what the
   blocking call would have returned or raised: the same system call,
   which gives the same answer once the child is ready. Only "nothing
   yet" (pid 0; None from ``waitid``) leads on.
2. *Watch* (``ExitWatch``), then probe again, until the probe has an
   answer:

   - one child, waited for its exit only (``waitpid``/``wait4`` with pid >
     0, ``waitid`` with ``P_PID`` or ``P_PIDFD``, without ``WUNTRACED``,
     ``WSTOPPED`` or ``WCONTINUED``): a *pidfd* (``os.pidfd_open``, Linux
     5.3) in the netpoller. A pidfd is readable once its process has
     exited, which is when its status can be taken. No thread, no timer:
     asyncio's ``PidfdChildWatcher`` waits the same way.
   - otherwise (any child, a process group, stops and continues, no
     pidfds: an old kernel, a seccomp filter, another OS): a timer-polled
     loop, each sleep twice the last, from 1 ms to 50 ms, the stdlib's own
     backoff in ``Popen._wait`` with a timeout.

The probe comes *before* the pidfd is opened, so a child that is gone
already (reaped by a program's SIGCHLD handler) gives its
``ChildProcessError`` at once; a pid reaped between the probe and
``pidfd_open`` makes that fail (ESRCH), and the watch then polls, where the
next probe sees ECHILD. A pidfd that fires while the probe still has no
answer (a status another waiter took with ``WNOWAIT``, a mocked waitpid in
a test) turns the watch into the polling loop, so it cannot spin.

Nothing here ever reaps a child except the probe itself, the program's own
call: a goroutine stopped while waiting (``GoroutineExit``, an exception a
signal handler raised) leaves every child's status where it was.

Rejected designs:

- A blocking ``waitpid`` on the thread pool (gevent's threadpool
  fallback): a thread per waiting child, and a wait given up (a timeout, a
  stopped goroutine) cannot be withdrawn, so the thread would reap the
  child later and its status would be lost to the program's next wait.
- A SIGCHLD handler that wakes waiters (gevent's child watcher, asyncio's
  ``SafeChildWatcher``): it takes SIGCHLD from a program that installs its
  own handler, and one handler that reaps with ``waitpid(-1, WNOHANG)``
  steals the status from every other waiter.
- Polling a pidfd-capable child on a timer: latency up to the backoff cap
  for no saving.
"""

from __future__ import annotations

import errno
import operator
import os
from collections.abc import Callable
from typing import Any, TypeVar

from .._core import InternalError, current_goroutine, sleep_ns, wait_fd
from . import _registry

__all__ = ["OS_PATCHES", "ExitWatch"]

T = TypeVar("T")

_pidfd_open: Callable[..., int] | None = getattr(os, "pidfd_open", None)
# Cleared for good when the kernel refuses pidfds (ENOSYS: before 5.3;
# EPERM: a seccomp filter); a single failure for one pid (ESRCH, EMFILE)
# only makes that watch poll.
_pidfd_ok = [_pidfd_open is not None]

_WNOHANG: int = getattr(os, "WNOHANG", 1)
# Options under which a child is ready on a stop or a continue, which no
# pidfd tells of.
_STATE_CHANGES: int = getattr(os, "WUNTRACED", 0) | getattr(os, "WSTOPPED", 0) | getattr(os, "WCONTINUED", 0)
_P_PID: int | None = getattr(os, "P_PID", None)
_P_PIDFD: int | None = getattr(os, "P_PIDFD", None)

_POLL_FIRST_NS = 1_000_000  # 1 ms
_POLL_MAX_NS = 50_000_000  # 50 ms, the cap of Popen._wait's own backoff
# A timeout this long or longer (or NaN) waits without limit, as the
# stdlib's loop does with one: the netpoller's timers want a finite deadline.
_FOREVER = 1e9  # seconds, about 31 years
_INT_MIN = -(2**31)
_INT_MAX = 2**31 - 1
_index = operator.index


class ExitWatch:
    """Parks its goroutine until process ``pid`` may have exited.

    With a pid (> 0), a pidfd in the netpoller where it can be had; with
    None, or where it cannot, a timer-polled backoff. Either way a wake-up
    only says "look again": the caller probes without blocking, and calls
    ``wait`` again if the answer is not there yet. Made and used in one
    goroutine; ``close`` when done (a ``with`` block does it).
    """

    __slots__ = ("pidfd", "owned", "delay_ns", "fired")

    def __init__(self, pid: int | None = None, *, pidfd: int | None = None) -> None:
        self.pidfd = pidfd  # the fd to wait on, or None: poll
        self.owned = False  # the pidfd is ours to close
        self.delay_ns = _POLL_FIRST_NS // 2  # doubled before each poll's sleep
        self.fired = False  # the pidfd fired once: from then on, poll
        if pidfd is None and pid is not None and pid > 0 and _pidfd_ok[0]:
            if _pidfd_open is None:
                raise InternalError("ExitWatch: pidfds marked usable where os.pidfd_open is missing")
            try:
                self.pidfd = _pidfd_open(pid)
                self.owned = True
            except OSError as e:
                if e.errno in (errno.ENOSYS, errno.EPERM, errno.EACCES):
                    _pidfd_ok[0] = False

    def wait(self, timeout: float | None = None) -> bool:
        """Park for at most ``timeout`` seconds (None: no limit).

        Returns False when the whole timeout passed without a wake-up, True
        when the caller should look again (which may also be after a poll's
        sleep, shorter than the timeout).
        """
        if timeout is not None:
            if timeout <= 0:
                return False
            if not timeout < _FOREVER:
                timeout = None
        if self.pidfd is not None and not self.fired:
            if not wait_fd(self.pidfd, "r", timeout):
                return False
            self.fired = True
            return True
        self.delay_ns = d = min(self.delay_ns * 2, _POLL_MAX_NS)
        if timeout is not None and timeout * 1e9 <= d:
            sleep_ns(max(int(timeout * 1e9), 1))
            return False
        sleep_ns(d)
        return True

    def close(self) -> None:
        fd, self.pidfd = self.pidfd, None
        if fd is not None and self.owned:
            os.close(fd)

    def __enter__(self) -> ExitWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _until(probe: Callable[[], T | None], pid: int | None, pidfd: int | None = None) -> T:
    """Probe until it answers, watching ``pid`` (or ``pidfd``) between probes."""
    result = probe()
    if result is not None:
        return result
    with ExitWatch(pid, pidfd=pidfd) as watch:
        while True:
            watch.wait()
            result = probe()
            if result is not None:
                return result


def _c_ints(*values: Any) -> tuple[int, ...] | None:
    """The values as C ints, or None where the original must judge them
    (a non-integer, one out of range: it raises the stdlib's error)."""
    out = []
    for v in values:
        try:
            n = _index(v)
        except TypeError:
            return None
        if not _INT_MIN <= n <= _INT_MAX:
            return None
        out.append(n)
    return tuple(out)


def _make_pid_wait(original: Any) -> Any:
    """waitpid(pid, options) and wait4(pid, options): one shape, one factory."""

    def wait(*args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != 2 or current_goroutine() is None:
            return original(*args, **kwargs)
        ints = _c_ints(*args)
        if ints is None or ints[1] & _WNOHANG:
            return original(*args)
        pid, options = ints
        nohang = options | _WNOHANG

        def probe() -> Any:
            r = original(pid, nohang)
            return r if r[0] != 0 else None

        return _until(probe, pid if pid > 0 and not options & _STATE_CHANGES else None)

    return _registry.lean(wait, original)


def _make_wait3(original: Any) -> Any:
    def wait3(*args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != 1 or current_goroutine() is None:
            return original(*args, **kwargs)
        ints = _c_ints(*args)
        if ints is None or ints[0] & _WNOHANG:
            return original(*args)
        nohang = ints[0] | _WNOHANG

        def probe() -> Any:
            r = original(nohang)
            return r if r[0] != 0 else None

        return _until(probe, None)

    return _registry.lean(wait3, original)


def _make_wait(original: Any) -> Any:
    # os.wait() is wait(2), which is waitpid(-1, &status, 0): the probe is
    # waitpid(-1, WNOHANG), whose answer, once there is one, is wait()'s.
    import posix

    waitpid = posix.waitpid  # the original, patched or not

    def wait(*args: Any, **kwargs: Any) -> Any:
        if args or kwargs or current_goroutine() is None:
            return original(*args, **kwargs)

        def probe() -> Any:
            r = waitpid(-1, _WNOHANG)
            return r if r[0] != 0 else None

        return _until(probe, None)

    return _registry.lean(wait, original)


def _make_waitid(original: Any) -> Any:
    def waitid(*args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != 3 or current_goroutine() is None:
            return original(*args, **kwargs)
        ints = _c_ints(*args)
        if ints is None or ints[2] & _WNOHANG:
            return original(*args)
        idtype, ident, options = ints
        nohang = options | _WNOHANG

        def probe() -> Any:
            return original(idtype, ident, nohang)

        pid = pidfd = None
        if not options & _STATE_CHANGES:
            if idtype == _P_PID:
                pid = ident
            elif idtype == _P_PIDFD and ident >= 0:
                pidfd = ident
        return _until(probe, pid, pidfd)

    return _registry.lean(waitid, original)


OS_PATCHES: list[tuple[str, Callable[[Any], Any]]] = [
    (name, factory)
    for name, factory in (
        ("waitpid", _make_pid_wait),
        ("wait", _make_wait),
        ("wait3", _make_wait3),
        ("wait4", _make_pid_wait),
        ("waitid", _make_waitid),
    )
    if hasattr(os, name)
]
