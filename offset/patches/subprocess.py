"""Patches for the subprocess module: waiting for a child parks only the goroutine.

Replaces one method, ``subprocess.Popen._wait`` (POSIX), the one place
where the module blocks until a child exits. Everything built on it is
covered with it, unpatched: ``Popen.wait(timeout)`` (and its Ctrl-C grace
wait), ``communicate``'s final wait, ``Popen.__exit__``, ``run``,
``call``, ``check_call``, ``check_output``, ``getoutput``,
``getstatusoutput`` and ``os.popen``'s ``close``.

How the patched ``_wait`` waits, inside a goroutine while its scheduler
runs (offset/patches/_child.py has the machinery, shared with the os
area's ``os.waitpid`` and friends):

1. Under ``Popen._waitpid_lock``, taken without blocking, ``_try_wait(
   WNOHANG)`` asks whether the child has exited, exactly the stdlib's
   steps: a returncode another waiter set meanwhile is taken as it is; a
   status goes through ``_handle_exitstatus`` (so a stopped status gives
   ``-signal``); ``ChildProcessError`` (the child reaped elsewhere, by a
   program's SIGCHLD handler or with SIGCHLD ignored) gives returncode 0,
   as ``_try_wait`` makes it. The lock is never held across a park, so a
   ``poll()`` from another goroutine meanwhile can reap the child itself,
   which this wait then sees.
2. Not yet: the goroutine parks on an ``ExitWatch`` of the child, a pidfd
   in the netpoller (readable once the child has exited; no thread, no
   timer), for at most what is left of the timeout, then goes back to 1.
   Where pidfds are missing (an old kernel, a seccomp filter) the watch
   polls on a timer with the stdlib's own backoff, 1 ms doubling to 50 ms.
3. The lock busy (a plain thread is in the stdlib's blocking ``waitpid``
   for this child): the goroutine polls on the timer until it is free, as
   the stdlib's wait with a timeout does.
4. The timeout spent: one last look, then ``TimeoutExpired(self.args,
   timeout)``, the stdlib's exception with the stdlib's arguments.

Everywhere else (a plain thread, before ``run()``) ``_wait`` is the
original. The pipes are not this area's: ``communicate`` with two pipes or
a timeout waits in a selector, whose ``select()`` the selectors area
patches, then makes reads and writes that cannot block; with one pipe and
no timeout it reads or writes the pipe's file object, which is the os
area's (FileIO on a pipe). Starting a child (``fork_exec`` with vfork, the
read of the error pipe that ends at the child's exec) is left as it is:
it lasts as long as a fork and an exec.

Rejected designs:

- Leaving ``_wait`` to the os area's ``os.waitpid``: its untimed path
  would work, but holds ``_waitpid_lock`` while parked (a second waiter
  on a lock made before patching would block the thread), and its timed
  path polls from 1 ms to 50 ms where a pidfd answers at once.
- Replacing ``Popen`` or ``wait``: a program's subclass or a test's mock of
  ``_wait``/``_try_wait``/``os.waitpid`` must see the stdlib's calls.
"""

from __future__ import annotations

import os
import sys
import time as _time
from typing import Any

from .._core import InternalError, current_goroutine
from . import _registry
from ._child import ExitWatch

__all__ = ["patch", "unpatch", "is_patched"]

AREA = _registry.Area("subprocess", __name__, "``subprocess.Popen._wait``")

_monotonic = _time.monotonic
_WNOHANG: int = getattr(os, "WNOHANG", 1)


def _wait_in_goroutine(self: Any, timeout: float | None) -> Any:
    """``Popen._wait`` for the calling goroutine: see the module's docstring."""
    if self.returncode is not None:
        return self.returncode
    endtime = None if timeout is None else _monotonic() + timeout
    child: ExitWatch | None = None  # made on the first "not yet"
    lock_poll: ExitWatch | None = None
    try:
        while True:
            lock = self._waitpid_lock
            if lock.acquire(False):
                try:
                    if self.returncode is not None:
                        break  # another waiter reaped it
                    pid, sts = self._try_wait(_WNOHANG)
                    if timeout is not None:
                        # The stdlib's own check, word for word (its timed loop
                        # asserts this), so it stays an assert: not offset's.
                        assert pid == self.pid or pid == 0
                    if pid == self.pid:
                        self._handle_exitstatus(sts)
                        break
                finally:
                    lock.release()
                if child is None:
                    child = ExitWatch(self.pid)
                watch = child
            else:
                if self.returncode is not None:
                    break
                if lock_poll is None:
                    lock_poll = ExitWatch(None)
                watch = lock_poll
            if endtime is None:
                watch.wait(None)
            else:
                remaining = endtime - _monotonic()
                if remaining <= 0:
                    from subprocess import TimeoutExpired  # imported: this is its Popen

                    if timeout is None:
                        raise InternalError("Popen._wait: a deadline without a timeout")
                    raise TimeoutExpired(self.args, timeout)
                watch.wait(remaining)
    finally:
        if child is not None:
            child.close()
    return self.returncode


def _make_wait(original: Any) -> Any:
    def _wait(self: Any, timeout: float | None) -> Any:
        if current_goroutine() is None:
            return original(self, timeout)
        return _wait_in_goroutine(self, timeout)

    return _registry.lean(_wait, original)


if sys.platform != "win32":
    AREA.define("subprocess", "Popen._wait", _make_wait)


patch, unpatch, is_patched = AREA.functions()
