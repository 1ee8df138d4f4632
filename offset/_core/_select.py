"""select over channel cases (Go: runtime/select.go), in the talk's three passes.

What: ``select(*cases)`` waits until one of its send or receive cases can
proceed, performs exactly that one, and returns its case.

Algorithm:
1. Under ``chanlock``, ``pollcases`` (in _chan.py) checks the arguments
   (TypeError before anything fires), finds the cases that are ready now,
   chooses one uniformly at random (reservoir sampling) and performs it
   with the channel's own non-blocking operation (``trysend``/``tryrecv``,
   steps 1-3 of chansend/chanrecv). With no ready case, return
   ``default`` if it was given.
2. Enqueue one waiter per case, all sharing one ``SelectState``, in the
   case order rotated by a random offset; release chanlock and park.
   Several cases on one channel thus queue in a random order, so a
   partner arriving later picks each of them in turn (Go's
   TestPseudoRandomSend; Go queues in lock order, which for one channel
   is its random poll order); in case order the first would always win.
3. Woken, take the lock again and remove the waiters that did not fire.
   The one that fired was claimed by the waker setting ``sel.done``.

Invariants: a select never matches itself, because its own waiters only
enter the queues in pass 2, after pass 1 has finished looking; and once one
waiter is claimed, every other waiter of the same select is stale and
skipped by every channel operation. Select reads no field of Chan: it uses
``pollcases`` and ``enqueue`` from _chan.py, and pass 3 reads only its own
waiters (``w.q``, the queue enqueue put each in).

Cases whose channel is ``None`` are not accepted (a case needs a channel);
``None`` in place of a case is ignored, which is Go's nil-channel idiom.

Rejected designs:
- Readiness tests and the operations written out in select itself
  (offset before issue 10): a second copy of the hand-off, reading Chan's
  fields, and pass 2 queued the waiters in case order (the bug above).
- Trying each case by a call to trysend/tryrecv in a lazily drawn random
  order (no readiness test at all): uniform too, and no copy of the
  conditions, but a call and a random number per case not ready made the
  fan-in bench (select over 8 channels) 1.5x slower.
- Pass 3 as a function of _chan.py beside enqueue: a call per select that
  parks, ~2% of the fan-in bench, for a loop that touches only waiters.
- A full shuffle (Fisher-Yates) for pass 2's order, as Go's pollorder:
  one random number per case on every select that parks cost ~20% of the
  fan-in bench. Only cases on one channel care about their relative
  order; a random rotation puts each of them first with probability at
  least 1/n (exactly uniform for adjacent ones, the common case).
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from ._chan import Case, SelectState, SendCase, Waiter, WaitQ, chan_lock, chan_unlock, enqueue, pollcases
from ._errors import InternalError, PanicError
from ._sched import G, current_parker
from ._waitreason import SELECT, SELECT_NO_CASES

__all__ = ["select", "default", "Default"]


class Default:
    """The type of ``default``: a select case that fires when no other can."""

    __slots__ = ()
    _instance: ClassVar[Default | None] = None

    def __new__(cls) -> Default:
        if cls._instance is None:
            cls._instance = object.__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "offset.default"

    def __reduce__(self) -> str:
        return "default"


default = Default()
# Final: compiled, select reads a C static, not the module's dict, each call.
_default: Final = default
# setattr: mypyc rejects assigning an attribute of a native class.
setattr(Default, "__module__", "offset")


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
    # Pass 1: perform a case that is ready now, if any. pollcases also
    # checks the arguments (TypeError before anything fires).
    chan_lock()
    nreal = pollcases(cases, _default)  # chanlock released if it returns a case
    if not isinstance(nreal, int):
        return nreal
    if nreal < 0:
        chan_unlock()
        return _default

    g = current_parker()
    if not nreal:
        chan_unlock()
        g.park(SELECT_NO_CASES)  # only a stop (GoroutineExit) ends this
        raise InternalError("a select with no cases returned from its park")  # pragma: no cover

    # Pass 2: wait on every case, in a random rotation of their order (see
    # enqueue). A goroutine reuses its SelectState and Waiters from one
    # blocking select to the next: after pass 3 none of them is in any
    # queue, and a waker touches a waiter only while it holds chanlock (and
    # then only calls its ready()).
    # Typed, so that compiled the select's state and waiters are structs.
    sel: SelectState
    pool: list[Waiter]
    if type(g) is G:
        cache = g.selcache
        if cache is None:
            cache = g.selcache = (SelectState(), [])
        sel, pool = cache
        sel.done = False
        sel.fired = None
    else:
        sel, pool = SelectState(), []
    enqueue(cases, pool, g, sel)
    chan_unlock()
    woken = False
    try:
        if isinstance(g, G):  # narrowed: compiled, a direct call
            g.park(SELECT)
        else:
            g.park(SELECT)
        woken = True
    finally:
        # Pass 3: leave the queues of the cases that did not fire (on a
        # stop or KeyboardInterrupt too, then from all of them).
        chan_lock()
        fired = sel.fired
        sel.done = True
        if not woken and fired is not None and type(g) is G:
            g.stale += 1  # a case fired as the wait was given up: its ready() is owed (G.park)
        for w in pool:  # the waiters leave their queues (a waiter's fields, no Chan's)
            if w is not fired:
                # WaitQ._remove, inline (a call per case cost the pure
                # build ~7% of fan-in).
                prev = w.prev
                nxt = w.next
                if prev is None and nxt is None:
                    # Alone in its queue (the common case); or in none:
                    # dropped as stale (WaitQ's invariant), or at a None
                    # case's place (w.q None, see enqueue).
                    q = w.q
                    if q is not None and q._first is w:
                        q._first = q._last = None
                else:
                    wq: WaitQ = w.q  # type: ignore[assignment]  # in a queue: the one enqueue recorded
                    if prev is not None:
                        prev.next = nxt
                        w.prev = None
                    else:
                        wq._first = nxt
                    if nxt is not None:
                        nxt.prev = prev
                        w.next = None
                    else:
                        wq._last = prev
                w.value = w.case = w.q = None  # reused: keep nothing alive
        chan_unlock()
    if fired is None:
        raise InternalError("a select was readied with none of its cases fired")
    value = fired.value
    case: Case[Any] = fired.case
    fired.value = fired.case = None
    fired.q = None
    if type(case) is SendCase:
        if not fired.ok:
            raise PanicError("send on closed channel")
    else:
        case.value = value
        case.ok = fired.ok
    return case
