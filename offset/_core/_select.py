"""select over channel cases (Go: runtime/select.go), in the talk's three passes.

What: ``select(*cases)`` waits until one of its send or receive cases can
proceed, performs exactly that one, and returns its case.

Algorithm (all under ``chanlock``):
1. Look for cases that are ready now. Among them choose one uniformly at
   random (reservoir sampling: the i-th ready case replaces the choice with
   probability 1/i, so no list is built), perform it and return it. With no
   ready case, return ``default`` if it was given.
2. Enqueue one waiter per case on its channel, all sharing one
   ``SelectState``, release the lock and park.
3. Woken, take the lock again and remove the waiters that did not fire.
   The one that fired was claimed by the waker setting ``sel.done``.

Invariants: a select never matches itself, because its own waiters only
enter the queues in pass 2, after pass 1 has finished looking; and once one
waiter is claimed, every other waiter of the same select is stale and
skipped by every channel operation.

Cases whose channel is ``None`` are not accepted (a case needs a channel);
``None`` in place of a case is ignored, which is Go's nil-channel idiom.
"""

from __future__ import annotations

from random import random as _random
from typing import Any

from . import _waitreason as waitreason
from ._chan import AnyWaiter, Case, RecvCase, SelectState, SendCase, Waiter, _claim, _first_live, _refill, chanlock
from ._errors import PanicError
from ._sched import G, current_parker

__all__ = ["select", "default", "Default"]

_acquire = chanlock.acquire
_release = chanlock.release


class Default:
    """The type of ``default``: a select case that fires when no other can."""

    __slots__ = ()
    _instance: Default | None = None

    def __new__(cls) -> Default:
        if cls._instance is None:
            cls._instance = object.__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "offset.default"

    def __reduce__(self) -> str:
        return "default"


default = Default()
Default.__module__ = "offset"


def _ready(case: Case[Any]) -> bool:
    """Whether ``case`` can proceed now. Caller holds chanlock."""
    ch = case.chan
    if isinstance(case, RecvCase):
        return bool(ch._buf) or ch._closed or _first_live(ch._sendq) is not None
    return ch._closed or _first_live(ch._recvq) is not None or len(ch._buf) < ch._cap


def _perform(case: Case[Any]) -> AnyWaiter | None:
    """Carry out a ready case; return the waiter to wake, if any.

    Precondition: caller holds chanlock and ``_ready(case)`` is true.
    Raises PanicError (lock still held) for a send on a closed channel.
    """
    ch = case.chan
    if isinstance(case, RecvCase):
        buf = ch._buf
        sendq = ch._sendq
        if buf:
            case.value = buf.popleft()
            case.ok = True
            return _refill(buf, sendq) if sendq else None
        while sendq:
            w = sendq.popleft()
            if _claim(w):
                case.value = w.value
                case.ok = True
                w.ok = True
                return w
        case.value = None
        case.ok = False  # closed
        return None
    if ch._closed:
        raise PanicError("send on closed channel")
    recvq = ch._recvq
    while recvq:
        w = recvq.popleft()
        if _claim(w):
            w.value = case.value
            w.ok = True
            return w
    ch._buf.append(case.value)
    return None


SelectCase = Case[Any] | Default | None


def select(*cases: SelectCase) -> Case[Any] | Default:
    """Wait until one case can proceed, perform it, and return that case.

    Go's select statement. ``c.if_send(v)`` and ``c.if_recv()`` are cases;
    the returned case compares equal to a new case of the same kind on the
    same channel, so ``if ret == c.if_send(x):`` tells which fired. A
    received case carries ``.value`` and ``.ok``. Among ready cases one is
    chosen uniformly at random. ``default`` fires only when no other case is
    ready, wherever it stands. ``None`` is ignored; with no case left,
    select blocks forever.

    Raises:
        PanicError: the chosen case sends on a closed channel.
        TypeError: an argument is not a case, ``default`` or None.
    """
    # Pass 1: check the arguments and, in the same loop, pick uniformly
    # among the cases ready now. Written out rather than calling _ready: this
    # loop runs once per case per select.
    chosen: Case[Any] | None = None
    nready = 0
    nreal = 0
    has_default = False
    _acquire()
    for c in cases:
        t = type(c)
        if t is RecvCase:
            nreal += 1
            ch = c.chan  # type: ignore[union-attr]
            q = ch._sendq
            if not (ch._buf or ch._closed or (q and _first_live(q) is not None)):
                continue
        elif t is SendCase:
            nreal += 1
            ch = c.chan  # type: ignore[union-attr]
            q = ch._recvq
            if not (ch._closed or len(ch._buf) < ch._cap or (q and _first_live(q) is not None)):
                continue
        elif c is None:
            continue
        elif c is default:
            has_default = True
            continue
        elif isinstance(c, Case):  # a subclass of a case type
            nreal += 1
            if not _ready(c):
                continue
        else:
            _release()
            i = cases.index(c)
            raise TypeError(
                f"select() argument {i + 1} must be a case (c.if_send(v) or c.if_recv()), "
                f"default or None, not {type(c).__name__}"
            )
        nready += 1
        if nready == 1 or _random() * nready < 1.0:
            chosen = c  # type: ignore[assignment]
    if chosen is not None:
        try:
            w = _perform(chosen)
        finally:
            _release()
        if w is not None:
            w.ready()
        return chosen
    if has_default:
        _release()
        return default

    g = current_parker()
    if not nreal:
        _release()
        g.park(waitreason.SELECT_NO_CASES)  # only a stop (GoroutineExit) ends this
        raise AssertionError("select with no cases returned")  # pragma: no cover

    # Pass 2: wait on every case. A goroutine reuses its SelectState and
    # Waiters from one blocking select to the next: after pass 3 none of
    # them is in any queue, and a waker touches a waiter only while it holds
    # chanlock (and then only calls its ready()).
    if type(g) is G:
        cache = g.selcache
        if cache is None:
            cache = g.selcache = (SelectState(), [])
        sel, pool = cache
        sel.done = False
        sel.fired = None
    else:
        sel, pool = SelectState(), []
    n = 0
    for c in cases:
        if not isinstance(c, Case):
            continue
        if n == len(pool):
            pool.append(Waiter(g, None, sel))
        w = pool[n]
        n += 1
        w.case = c
        w.ok = False
        ch = c.chan
        if isinstance(c, SendCase):
            w.value = c.value
            q = ch._sendq
        else:
            w.value = None
            q = ch._recvq
        w.q = q
        q.append(w)
    _release()
    woken = False
    try:
        g.park(waitreason.SELECT)
        woken = True
    finally:
        # Pass 3: leave the queues of the cases that did not fire (on a
        # stop or KeyboardInterrupt too, then from all of them).
        _acquire()
        fired = sel.fired
        sel.done = True
        if not woken and fired is not None and type(g) is G:
            g.stale += 1  # a case fired as the wait was given up: its ready() is owed (G.park)
        for i in range(n):
            w = pool[i]
            if w is not fired:
                try:
                    w.q.remove(w)
                except ValueError:
                    pass  # dropped as stale by another operation
                w.value = w.case = w.q = None  # reused: keep nothing alive
        _release()
    if fired is not None:
        value = fired.value
        fired.value = fired.q = None
        case: Case[Any] = fired.case
        fired.case = None
    assert fired is not None
    if isinstance(case, SendCase):
        if not fired.ok:
            raise PanicError("send on closed channel")
    else:
        case.value = value
        case.ok = fired.ok
    return case
