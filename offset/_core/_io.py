"""Waiting for file descriptors: what the patch layer parks goroutines on.

What: ``wait_fd(fd, mode, timeout)`` parks the calling goroutine on its
scheduler's netpoller until ``fd`` is ready for reading ("r") or writing
("w"), the timeout expires, or the fd is closed under it by another
goroutine (``notify_close``). ``wait_fds`` does the same for several
(fd, mode) pairs at once, for select-like calls. Go: internal/poll's
``pollDesc.wait`` and runtime/netpoll.go's ``netpollblock``.

The caller tries its operation first and waits only after the OS said
EAGAIN (Go does the same), so a wait never starts on an fd that was ready
when the caller looked. The one exception is ``wait_quiet``: a reader that
read its stream socket empty (``mark_drained``) may wait before reading
again when the netpoller can prove that nothing it must hear about was
missed (see ``quiet`` in _netpoll.py).

Waiters. Each wait publishes one ``_Waiter`` per (fd, mode) in the
netpoller (park protocol step 1, see ``G.park``). Its *lead* carries the
outcome and the goroutine: for ``wait_fd`` the waiter is its own lead; for
``wait_fds`` one lead is shared by all the waiters of the call, so the
first fd to fire readies the goroutine and the others find it already
decided. ``state`` of a lead:

    =====  ==========  ===========================================
    value  name        set by
    =====  ==========  ===========================================
    0      WAITING     wait_fd / wait_fds, before parking
    1      READY       the netpoller: fire(True)
    2      CLOSED      the netpoller: fire(False), from close_fd
    3      TIMEDOUT    the timer callback
    =====  ==========  ===========================================

Invariants:
- A lead leaves WAITING exactly once, and whoever moves it readies its
  goroutine; every later event sees a non-zero state and does nothing. So a
  goroutine is readied exactly once per wait, whatever fires.
- The netpoller holds at most one waiter per (fd, mode). A second goroutine
  waiting on the same fd and mode (two goroutines in ``accept`` on one
  listening socket, as threads may be in the stdlib) *joins* it: the
  netpoller refuses its arm with ``AlreadyArmedError`` (only that: any
  other error from ``arm`` is the caller's), and it goes on
  the armed waiter's ``more`` list and records the armed one as ``head``.
  So two goroutines that wait on one fd behave as two threads blocked in
  the same call on it: both are woken, one gets the data, the other finds
  EAGAIN and waits again. The user never sees the refusal.
  Firing the head fires everything on its list. A head that withdraws
  (timeout, goroutine stopped) hands its list to the first joined waiter,
  which is armed in its place.
- After park returns, every waiter of the wait that did not fire is
  withdrawn before the caller sees the outcome, and the timer is removed:
  nothing of a finished wait stays behind in the netpoller or timer heap.

Everything here runs on the scheduler's own thread: the netpoller and the
timer heap belong to it (see _sched.py), so no lock is taken.

Without a netpoller (the fd table was full when the scheduler needed one,
see "Out of fds" in _sched.py), ``wait_fd`` and ``wait_fds`` wait on the
thread pool instead, in poll(2), which needs no fd (``_wait_on_pool``).

Rejected designs:
- Registering the fd with the OS for each wait and dropping it after (a
  oneshot re-arm, the first version): one epoll_ctl per wait, about a
  tenth of an echo server's time per request. The epoll backend keeps fds
  registered, edge-triggered, and re-registers only when the fd's *owner*
  (the socket object) changes, which is how it notices an fd number closed
  behind offset's back and reused (see _netpoll_epoll.py).
- Waking only the head of a joined list: simpler to wake them all and let
  the losers see EAGAIN and wait again; joins are rare.
"""

from __future__ import annotations

import errno
import math
import os
import select as _select
import time as _time
from typing import Any, Final

from ._errors import InternalError
from ._netpoll import AlreadyArmedError, Netpoll
from ._sched import G, Scheduler, current_goroutine
from ._syscall import blocking_call
from ._timers import TimerEntry
from ._waitreason import IO_WAIT

__all__ = ["wait_fd", "wait_fds", "notify_close", "mark_drained", "wait_quiet"]

# Final: compiled, a module-level name read on a hot path is a C static
# when Final, and a lookup in the module's dict when not.
_WAITING: Final = 0
_READY: Final = 1
_CLOSED: Final = 2
_TIMEDOUT: Final = 3

_monotonic_ns: Final = _time.monotonic_ns
# Bound before any patch is applied: the thread fallback must block for real.
_poll_factory = _select.poll if hasattr(_select, "poll") else None
_real_select = _select.select


class _Waiter:
    """One goroutine's interest in one (fd, mode); what the netpoller fires."""

    __slots__ = ("g", "state", "lead", "more", "head")

    def __init__(self, g: G) -> None:
        self.g = g
        self.state = _WAITING  # meaningful on a lead only
        # None: its own lead (wait_fd). Not ``self``: a waiter referring to
        # itself is a reference cycle, one per I/O wait, which only the
        # cyclic GC frees; a server's waiters outlived young collections,
        # piled up in the old generation and grew its heap (issue 13's
        # echo soak).
        self.lead: _Waiter | None = None
        self.more: list[_Waiter] | None = None  # waiters joined to this armed one
        self.head: _Waiter | None = None  # the armed waiter this one joined

    def fire(self, ok: bool) -> None:
        lead = self.lead
        if lead is None:
            lead = self
        if lead.state == _WAITING:
            lead.state = _READY if ok else _CLOSED
            lead.g.ready()
        more = self.more
        if more is not None:
            self.more = None
            for w in more:
                w.head = None
                w.fire(ok)


def _expire(lead: _Waiter) -> None:
    """Timer callback: the wait's time is up (runs on the scheduler loop)."""
    if lead.state == _WAITING:
        lead.state = _TIMEDOUT
        lead.g.ready()


# The callback as a value (a timer entry's): Final, so compiled a C static.
_EXPIRE: Final = _expire


def _arm(poller: Netpoll, fd: int, mode: str, w: _Waiter, owner: object = None) -> None:
    try:
        poller.arm(fd, mode, w, owner)
    except AlreadyArmedError:
        _join(poller, fd, mode, w)


def _join(poller: Netpoll, fd: int, mode: str, w: _Waiter) -> None:
    """Someone waits on this fd and mode already: go on their list.

    Only this module arms the netpoller, so what is armed is a _Waiter.
    """
    head = poller.armed(fd, mode)
    if not isinstance(head, _Waiter):
        raise InternalError(f"fd {fd} ({mode!r}) is armed by something other than wait_fd: {head!r}")
    if head.more is None:
        head.more = []
    head.more.append(w)
    w.head = head


def _withdraw(poller: Netpoll, fd: int, mode: str, w: _Waiter) -> None:
    """Take ``w`` out of the netpoller, or off the list it joined."""
    if poller.disarm(fd, mode, w):
        more = w.more
        if more:
            w.more = None
            nxt = more.pop(0)
            nxt.head = None
            if more:
                nxt.more = more
                for m in more:
                    m.head = nxt
            try:
                poller.arm(fd, mode, nxt)
            except AlreadyArmedError as e:  # w was armed until the disarm just above
                raise InternalError(f"fd {fd} ({mode!r}) armed again while its waiter withdrew") from e
        return
    head = w.head
    if head is not None:
        w.head = None
        if head.more is not None:
            try:
                head.more.remove(w)
            except ValueError:  # pragma: no cover - fired in the meantime
                pass


# A timeout this long or longer (or inf, or NaN) is no limit: its deadline
# would not fit the timer heap's integer nanoseconds (and a caller's
# own clock arithmetic never ends either).
_NO_LIMIT: Final = 1e9
# The longest one wait on the thread pool lasts when no netpoller can be
# made (see _wait_on_pool).
_POOL_SLICE: Final = 0.05


def _deadline(timeout: float) -> int:
    return _monotonic_ns() + math.ceil(timeout * 1e9)


def wait_fd(fd: int, mode: str, timeout: float | None = None, owner: object = None) -> bool:
    """Park the calling goroutine until ``fd`` is ready for ``mode``.

    ``mode`` is "r" (readable, or hung up / in error) or "w" (writable).
    ``timeout`` is in seconds; None (or inf, NaN, or 1e9 and more) waits
    without limit, and a timeout of zero or less returns False at once
    without looking at the fd (the caller has just looked). ``owner`` is the object the fd belongs to
    (the socket): with it the netpoller can keep the fd registered from one
    wait to the next (see the contract in _netpoll.py); without it the fd
    is registered afresh. The caller must have seen EAGAIN (or found the fd
    not ready without blocking) just before, with no switch in between.

    Returns:
        True when the fd is ready (or may be: the caller retries its
        operation, which settles it), False when the timeout expired.

    Raises:
        OSError: EBADF, "Bad file descriptor", when the fd was closed by
            another goroutine while this one waited: what the stdlib's call
            gives on a socket closed under it.
        GoroutineExit: the goroutine is being stopped; the wait is withdrawn.

    Outside a goroutine it blocks the thread in poll(2) (select(2) where
    poll is missing), so that a caller need not care where it runs.
    """
    g = current_goroutine()
    if g is None:
        return _wait_thread(((fd, mode),), timeout)
    s = g.sched
    poller = s._poller
    if poller is None:
        poller = s.poller_or_none()
        if poller is None:
            return _wait_on_pool(s, ((fd, mode),), timeout)
    w = _Waiter(g)
    if timeout is not None and not timeout < _NO_LIMIT:
        timeout = None
    if timeout is None:
        # The hot path (a socket without a timeout): arm, park, done.
        try:
            poller.arm(fd, mode, w, owner)
        except AlreadyArmedError:
            _join(poller, fd, mode, w)
        try:
            g.park(IO_WAIT)
        except BaseException:
            _withdraw(poller, fd, mode, w)
            if w.state != _WAITING:
                g.stale += 1  # it fired: its ready() is owed (G.park)
            raise
        if w.state == _READY:
            return True
    else:
        if timeout <= 0:
            return False
        when = _deadline(timeout)
        entry = TimerEntry(_EXPIRE, w)  # before arming: nothing to undo if it raises
        _arm(poller, fd, mode, w, owner)
        s.timers.push(entry, when)
        try:
            g.park(IO_WAIT)
        except BaseException:
            s.timers.remove(entry)
            _withdraw(poller, fd, mode, w)
            if w.state != _WAITING:
                g.stale += 1  # it fired or timed out: its ready() is owed (G.park)
            raise
        s.timers.remove(entry)  # unless it fired
    state = w.state
    if state == _READY:
        return True
    if state == _TIMEDOUT:
        _withdraw(poller, fd, mode, w)
        return False
    if state == _CLOSED:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))
    raise InternalError(f"wait_fd resumed in state {state}")  # pragma: no cover


def mark_drained(fd: int, owner: object) -> None:
    """Record that ``owner`` just read ``fd`` empty (a short read on a stream).

    For ``wait_quiet``; see the netpoller contract. A no-op outside a
    goroutine, or before this scheduler has a netpoller.
    """
    g = current_goroutine()
    if g is not None:
        poller = g.sched._poller
        if poller is not None:
            poller.drained(fd, owner)


def wait_quiet(fd: int, owner: object) -> bool:
    """Before a read: wait for ``fd`` without trying, if that is safe.

    Safe when the netpoller promises that whatever arrived since
    ``mark_drained(fd, owner)`` will wake a reader armed now (``quiet``).
    Then park until it does and return True: the read that follows finds
    data (or EOF, or an error), where trying first would only have said
    EAGAIN. Otherwise return False at once; the caller reads first as usual.

    Raises:
        OSError: EBADF, as ``wait_fd``, when the fd is closed meanwhile.
    """
    g = current_goroutine()
    if g is None:
        return False
    poller = g.sched._poller
    if poller is None or not poller.quiet(fd, owner):
        return False
    w = _Waiter(g)
    try:
        poller.arm(fd, "r", w, owner)
    except AlreadyArmedError as e:
        raise InternalError(f"fd {fd} has a reader armed though quiet() said none") from e
    try:
        g.park(IO_WAIT)
    except BaseException:
        _withdraw(poller, fd, "r", w)
        if w.state != _WAITING:
            g.stale += 1  # it fired: its ready() is owed (G.park)
        raise
    if w.state == _CLOSED:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))
    return True


def wait_fds(pairs: list[tuple[int, str]], timeout: float | None = None) -> bool:
    """Park the calling goroutine until one of the (fd, mode) pairs is ready.

    For select-like calls: the caller then asks the OS again which fds are
    ready, without blocking. Duplicate pairs are waited on once. With no
    pairs this is a sleep of ``timeout`` (or forever, which deadlock
    detection sees).

    Returns:
        True when an fd fired (ready, or closed under the wait: the caller's
        own look then reports the closed fd as the stdlib does), False when
        the timeout expired.
    """
    g = current_goroutine()
    if g is None:
        return _wait_thread(pairs, timeout)
    if timeout is not None:
        if timeout <= 0:
            return False
        if not timeout < _NO_LIMIT:
            timeout = None
    s = g.sched
    poller = s.poller_or_none()
    if poller is None:
        return _wait_on_pool(s, pairs, timeout)
    lead = _Waiter(g)
    entry = None
    when = 0
    if timeout is not None:
        when = _deadline(timeout)
        entry = TimerEntry(_EXPIRE, lead)  # before arming: nothing to undo if it raises
    armed: list[tuple[int, str, _Waiter]] = []
    seen: set[tuple[int, str]] = set()
    try:
        for fd, mode in pairs:
            if (fd, mode) in seen:
                continue
            seen.add((fd, mode))
            w = _Waiter(g)
            w.lead = lead
            _arm(poller, fd, mode, w)
            armed.append((fd, mode, w))
    except BaseException:
        for fd, mode, w in armed:
            _withdraw(poller, fd, mode, w)
        raise
    if entry is not None:
        s.timers.push(entry, when)
    try:
        g.park(IO_WAIT)
    except BaseException:
        if lead.state != _WAITING:
            g.stale += 1  # it fired or timed out: its ready() is owed (G.park)
        raise
    finally:
        if entry is not None:
            s.timers.remove(entry)  # unless it fired
        for fd, mode, w in armed:
            _withdraw(poller, fd, mode, w)
    return lead.state != _TIMEDOUT


def _wait_on_pool(s: Scheduler, pairs: Any, timeout: float | None) -> bool:
    """wait_fd/wait_fds when the scheduler has no netpoller: the process is out of fds.

    The stdlib's blocking call waits in the kernel without a new fd, so
    this one must not fail for want of one either: a pool thread waits in
    poll(2), which takes none, for at most ``_POOL_SLICE`` at a time. After
    each slice the netpoller is tried again; once it can be made (fds were
    freed) this returns True, and the caller's next attempt waits there. A
    slice bounds, too, what a wait given up (the goroutine stopped) leaves
    running on the pool. A close by another goroutine is not seen at once,
    as it is by the netpoller (``notify_close``); poll(2) reports the
    closed fd (POLLNVAL) at the next slice, and the caller's retry gets the
    stdlib's EBADF.
    """
    deadline = None if timeout is None or not timeout < _NO_LIMIT else _deadline(timeout)
    while True:
        piece = _POOL_SLICE
        if deadline is not None:
            piece = min(piece, (deadline - _monotonic_ns()) / 1e9)
            if piece <= 0:
                return False
        if blocking_call(_wait_thread, pairs, piece):
            return True
        if s.poller_or_none() is not None:
            return True  # may be ready: the caller retries, then waits in the netpoller


def _wait_thread(pairs: Any, timeout: float | None) -> bool:
    """wait_fd/wait_fds outside a goroutine: block the thread."""
    if timeout is not None and timeout <= 0:
        return False
    if _poll_factory is not None:
        masks: dict[int, int] = {}
        for fd, mode in pairs:
            masks[fd] = masks.get(fd, 0) | (_select.POLLIN if mode == "r" else _select.POLLOUT)
        p = _poll_factory()
        for fd, mask in masks.items():
            p.register(fd, mask)
        events = p.poll(None if timeout is None else math.ceil(timeout * 1e3))
        return bool(events)
    rl = [fd for fd, mode in pairs if mode == "r"]
    wl = [fd for fd, mode in pairs if mode == "w"]
    r, w, _ = _real_select(rl, wl, [], timeout)
    return bool(r or w)


def notify_close(fd: int) -> None:
    """``fd`` is about to be closed: wake the goroutines that wait on it.

    Each wakes with ``OSError(EBADF)`` from ``wait_fd``. Called by patched
    close() methods, from a goroutine, before the descriptor is closed;
    elsewhere it does nothing. Only this thread's scheduler is told: a goroutine of another thread's scheduler waiting on
    the same fd keeps waiting, as a thread blocked in recv() does when
    another thread closes its socket.
    """
    g = current_goroutine()
    if g is None or fd < 0:
        return  # no scheduler runs here, so nothing of this thread waits
    poller = g.sched._poller  # never make a netpoller just to tell it nothing
    if poller is not None:
        poller.close_fd(fd)
