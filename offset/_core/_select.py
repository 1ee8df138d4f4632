"""select over channel cases (Go: runtime/select.go), in the talk's three passes.

What: ``select(*cases)`` waits until one of its send or receive cases can
proceed, performs exactly that one, and returns its case.

Algorithm:
0. Check the arguments (before taking chanlock, before anything fires).
1. Under ``chanlock``, go through the cases in a random order (Go's
   pollorder), trying each with the channel's own non-blocking operation
   (``trysend``/``tryrecv``, steps 1-3 of chansend/chanrecv); the first
   that succeeds is the chosen case. The first ready case of a uniformly
   random order is uniform among the ready cases. The order is drawn
   lazily, by Fisher-Yates one step per case tried, so a select whose
   first case tried is ready pays for one random number, not n. With no
   ready case, return ``default`` if it was given.
2. The order is now a whole random permutation. Enqueue one waiter per
   case, in that order, all sharing one ``SelectState``; release chanlock
   and park. Several cases on one channel thus queue in random order, as
   Go's do, so a partner arriving later picks each of them in turn
   (Go's TestPseudoRandomSend); in case order the first would always win.
3. Woken, take the lock again and remove the waiters that did not fire.
   The one that fired was claimed by the waker setting ``sel.done``.

Invariants: a select never matches itself, because its own waiters only
enter the queues in pass 2, after pass 1 has finished looking; and once one
waiter is claimed, every other waiter of the same select is stale and
skipped by every channel operation. Select reads no field of Chan: it uses
``trysend``, ``tryrecv``, ``enqueue`` and ``dequeue`` from _chan.py.

Cases whose channel is ``None`` are not accepted (a case needs a channel);
``None`` in place of a case is ignored, which is Go's nil-channel idiom.

Rejected designs:
- A readiness test of every case, then reservoir sampling among the ready
  ones, then performing the chosen one (offset before issue 10): it scanned
  each queue twice and wrote the operations out a second time, and the
  enqueue order of pass 2 was the case order (the bug above).
- ``random.shuffle`` of the cases up front: a Python-level loop over all n
  cases on every select, where most selects stop at the first case tried.
"""

from __future__ import annotations

from random import random as _random
from typing import Any

from . import _waitreason as waitreason
from ._chan import Case, RecvCase, SelectState, SendCase, Waiter, chanlock, dequeue, enqueue, tryrecv, trysend
from ._errors import InternalError, PanicError
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
    # Pass 0: check the arguments before anything fires.
    nreal = 0
    has_default = False
    last: Any = None
    for c in cases:
        t = type(c)
        if t is RecvCase or t is SendCase:
            nreal += 1
            last = c
        elif c is None:
            continue
        elif c is default:
            has_default = True
        elif isinstance(c, Case):  # a subclass of a case type
            nreal += 1
            last = c
        else:
            i = cases.index(c)
            raise TypeError(
                f"select() argument {i + 1} must be a case (c.if_send(v) or c.if_recv()), "
                f"default or None, not {type(c).__name__}"
            )
    # Pass 1: try the cases in a random order, drawn one step at a time
    # (Fisher-Yates); the first that proceeds is the chosen one. One case
    # (the try idiom, select(c.if_send(v), default)) needs no order.
    cs: Case[Any]
    order: Any = None  # the cases, in poll order as pass 1 draws it
    if nreal > 1:
        order = list(cases) if nreal == len(cases) else [c for c in cases if isinstance(c, Case)]
    _acquire()
    for i in range(nreal):
        if order is None:
            cs = last
        elif i < nreal - 1:
            j = i + int(_random() * (nreal - i))
            cs = order[j]
            order[j] = order[i]
            order[i] = cs
        else:
            cs = order[i]
        t = type(cs)
        if t is RecvCase or (t is not SendCase and isinstance(cs, RecvCase)):
            r = tryrecv(cs.chan)
            if r is not None:
                _release()
                cs.value, cs.ok, w = r
                if w is not None:
                    w.ready()
                return cs
        else:
            sent = trysend(cs.chan, cs.value)  # on a closed channel: raises, lock released
            if sent is not False:
                _release()
                if sent is not True:
                    sent.ready()
                return cs
    if has_default:
        _release()
        return default

    g = current_parker()
    if not nreal:
        _release()
        g.park(waitreason.SELECT_NO_CASES)  # only a stop (GoroutineExit) ends this
        raise InternalError("a select with no cases returned from its park")  # pragma: no cover

    # Pass 2: wait on every case, in the poll order pass 1 completed. A
    # goroutine reuses its SelectState and Waiters from one blocking select
    # to the next: after pass 3 none of them is in any queue, and a waker
    # touches a waiter only while it holds chanlock (and then only calls
    # its ready()).
    if type(g) is G:
        cache = g.selcache
        if cache is None:
            cache = g.selcache = (SelectState(), [])
        sel, pool = cache
        sel.done = False
        sel.fired = None
    else:
        sel, pool = SelectState(), []
    for i in range(nreal):
        c = last if order is None else order[i]
        if i == len(pool):
            pool.append(Waiter(g, None, sel))
        w = pool[i]
        w.case = c
        w.ok = False
        if isinstance(c, RecvCase):
            w.value = None
            enqueue(c.chan, w, False)
        else:
            w.value = c.value
            enqueue(c.chan, w, True)
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
        for i in range(nreal):
            w = pool[i]
            if w is not fired:
                dequeue(w)
                w.value = w.case = None  # reused: keep nothing alive
        _release()
    if fired is None:
        raise InternalError("a select was readied with none of its cases fired")
    value = fired.value
    case: Case[Any] = fired.case
    fired.value = fired.case = fired.q = None
    if isinstance(case, SendCase):
        if not fired.ok:
            raise PanicError("send on closed channel")
    else:
        case.value = value
        case.ok = fired.ok
    return case
