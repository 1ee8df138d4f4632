"""Go channels: make, send, receive, close (Go: runtime/chan.go).

What: ``Chan`` is a FIFO of capacity ``cap`` (0: unbuffered) shared by any
number of goroutines, of any scheduler, and plain threads.

Invariants (checked under ``chanlock``):
- At most one of ``_sendq`` and ``_recvq`` holds live waiters, except while
  one select waits on both ends of the channel.
- Items in the buffer mean no live receiver waits; room in the buffer means
  no live sender waits.
- A closed channel never reopens; a closed channel has no waiters left
  (close wakes them all).
- A waiter of a select is *live* while its select is not done. Stale
  waiters (their select fired elsewhere) may sit in a queue until the select
  removes them in its third pass; every scan skips them.

Locking: one process-wide lock, ``chanlock``, guards every channel, every
waiter queue and every select. It is taken for the few lines of each
operation and released before anything parks; wake-ups (``ready()``) happen
after it is released. Waiters of a select are claimed by setting
``sel.done`` under the same lock, which is what Go's per-select CAS does.

Algorithm, send (recv mirrors it):
1. closed: panic "send on closed channel".
2. a live receiver waits: hand the value straight to it and ready it.
3. room in the buffer: append.
4. park on ``_sendq``; a receiver takes the value and readies us, or close
   readies us with ok=False and we panic.

Rejected designs:
- A lock per channel (Go's): a select over n channels then takes n locks in
  address order, and under the GIL nothing runs in parallel anyway, so the
  extra locks buy no concurrency. The cost of the single lock is that a
  thread preempted while holding it stalls other threads' channel
  operations until it runs again, which the GIL's hand-off makes short.
- No lock, relying on the GIL alone: a check-then-act on the buffer can be
  interleaved with another thread between the two steps, so a buffered
  channel used as a semaphore across threads would overfill.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar

from . import _waitreason as waitreason
from ._errors import PanicError
from ._greenlet import getcurrent as _getcurrent
from ._sched import G, ThreadParker, current_parker

__all__ = ["Chan", "Waiter", "SelectState", "chanlock", "makechan"]

T = TypeVar("T")

chanlock = threading.Lock()
_new = object.__new__
_acquire = chanlock.acquire
_release = chanlock.release


class SelectState:
    """Shared by the waiters of one blocked select."""

    __slots__ = ("done", "fired")

    def __init__(self) -> None:
        self.done = False  # set, under chanlock, by whoever claims a waiter
        self.fired: ChanWaiter | None = None  # always one of its Waiters


class Waiter:
    """One goroutine (or thread) waiting on one queue (Go's sudog).

    Separate from the goroutine because one select waits on many channels;
    a plain send or receive queues the G itself (it has the same fields).
    For a sender ``value`` is what it sends and ``ok`` says whether it was
    taken (False: the channel was closed). For a receiver ``value`` and
    ``ok`` are what it got.
    """

    __slots__ = ("g", "value", "ok", "sel", "case", "q")

    def __init__(
        self, g: G | ThreadParker, value: Any = None, sel: SelectState | None = None, case: Any = None
    ) -> None:
        self.g = g
        self.value = value
        self.ok = False
        self.sel = sel
        self.case = case
        self.q: deque[Any] | None = None  # the queue a select's waiter sits in

    def ready(self) -> None:
        self.g.ready()


class ChanWaiter(Protocol):
    """What sits in a channel's waiter queue: a Waiter (one case of a
    select), or a G or ThreadParker waiting for itself in a plain send or
    receive. Wakers hand over ``value`` and ``ok``, claim a select's waiter
    through ``sel``, and ``ready()`` it."""

    value: Any
    ok: bool

    @property
    def sel(self) -> SelectState | None: ...

    @property
    def case(self) -> Any: ...

    def ready(self) -> None: ...


AnyWaiter = ChanWaiter


def _withdraw(q: deque[AnyWaiter], w: AnyWaiter) -> None:
    """Take ``w`` (a G or ThreadParker) out of ``q`` if it is still there (its wait was interrupted)."""
    _acquire()
    try:
        q.remove(w)
    except ValueError:
        # Already served: its ready() is owed. A ThreadParker is used once;
        # a G must not be resumed by it in a later wait (G.park).
        if type(w) is G:
            w.stale += 1
    finally:
        _release()


def _claim(w: AnyWaiter) -> bool:
    """Take ``w`` for an operation; False if its select already fired.

    Precondition: caller holds chanlock and has removed ``w`` from its queue.
    """
    sel = w.sel
    if sel is None:
        return True
    if sel.done:
        return False
    sel.done = True
    sel.fired = w
    return True


def _first_live(q: deque[AnyWaiter]) -> AnyWaiter | None:
    """Drop stale select waiters from the front of ``q``; peek the first live one.

    Precondition: caller holds chanlock.
    """
    while q:
        w = q[0]
        sel = w.sel
        if sel is None or not sel.done:
            return w
        q.popleft()
    return None


def _refill(buf: deque[Any], sendq: deque[AnyWaiter]) -> AnyWaiter | None:
    """A value left the full buffer: move the first live sender's value in.

    Precondition: caller holds chanlock. Returns the sender to ready.
    """
    while sendq:
        w = sendq.popleft()
        if _claim(w):
            buf.append(w.value)
            w.ok = True
            return w
    return None


class Chan(Generic[T]):
    """A Go channel. Make one with ``makechan(size)``.

    ``send`` blocks until a receiver takes the value (unbuffered) or there
    is room in the buffer; ``recv`` blocks until a value is there. Closing
    wakes every blocked receiver (with None / ok False) and every blocked
    sender (with PanicError). Safe to share between goroutines of any
    scheduler and plain threads.
    """

    __slots__ = ("_cap", "_buf", "_closed", "_recvq", "_sendq", "__weakref__")

    def __init__(self, size: int = 0) -> None:
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"makechan() argument 'size' must be int, not {type(size).__name__}")
        if size < 0:
            raise ValueError(f"makechan: size out of range: 'size' must be >= 0, not {size}")
        self._cap = size
        self._buf: deque[T] = deque()
        self._closed = False
        self._recvq: deque[AnyWaiter] = deque()
        self._sendq: deque[AnyWaiter] = deque()

    @property
    def cap(self) -> int:
        """The buffer's capacity (0 for an unbuffered channel)."""
        return self._cap

    def __len__(self) -> int:
        """How many values are buffered now."""
        return len(self._buf)

    def __bool__(self) -> bool:
        """Always true: a channel is a channel, whatever it holds.

        Without this, ``len()`` would make an empty channel falsy, and Go's
        nil-channel idiom ``select(c and c.if_recv(), ...)`` would pass the
        channel itself to select.
        """
        return True

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<offset.Chan len={len(self._buf)} cap={self._cap}{state} at {id(self):#x}>"

    # send, recv and recv_ok are written out in full, not layered on a
    # shared helper: they are the hottest code in offset and a Python call
    # costs as much as a third of a greenlet switch.

    def send(self, value: T) -> None:
        """Send ``value``; block until a receiver takes it or it is buffered.

        Raises:
            PanicError: the channel is closed, or is closed while we wait
                ("send on closed channel").
        """
        _acquire()
        if self._closed:
            _release()
            raise PanicError("send on closed channel")
        recvq = self._recvq
        while recvq:
            w = recvq.popleft()
            sel = w.sel
            if sel is not None:
                if sel.done:
                    continue
                sel.done = True
                sel.fired = w
            w.value = value
            w.ok = True
            _release()
            w.ready()
            return
        if len(self._buf) < self._cap:
            self._buf.append(value)
            _release()
            return
        g = getattr(_getcurrent(), "goroutine", None) or ThreadParker()
        g.value = value
        g.ok = False
        sendq = self._sendq
        sendq.append(g)
        _release()
        try:
            g.park(waitreason.CHAN_SEND)
        except BaseException:
            _withdraw(sendq, g)
            g.value = None
            raise
        g.value = None  # a G outlives its waits: don't keep what it sent alive
        if not g.ok:
            raise PanicError("send on closed channel")

    def recv(self) -> T | None:
        """Receive a value; block until one is there.

        Returns None once the channel is closed and drained (use
        ``recv_ok`` to tell that from a None that was sent).
        """
        _acquire()
        buf = self._buf
        sendq = self._sendq
        if buf:
            value = buf.popleft()
            w = _refill(buf, sendq) if sendq else None
            _release()
            if w is not None:
                w.ready()
            return value
        while sendq:  # unbuffered: take straight from a waiting sender
            w = sendq.popleft()
            sel = w.sel
            if sel is not None:
                if sel.done:
                    continue
                sel.done = True
                sel.fired = w
            value = w.value
            w.ok = True
            _release()
            w.ready()
            return value
        if self._closed:
            _release()
            return None
        g = getattr(_getcurrent(), "goroutine", None) or ThreadParker()
        recvq = self._recvq
        recvq.append(g)
        _release()
        try:
            g.park(waitreason.CHAN_RECEIVE)
        except BaseException:
            _withdraw(recvq, g)
            raise
        value = g.value
        g.value = None  # a G outlives its waits: don't keep what it got alive
        return value

    def recv_ok(self) -> tuple[T | None, bool]:
        """Receive ``(value, ok)``; ok is False when closed and drained."""
        _acquire()
        buf = self._buf
        sendq = self._sendq
        if buf:
            value = buf.popleft()
            w = _refill(buf, sendq) if sendq else None
            _release()
            if w is not None:
                w.ready()
            return value, True
        while sendq:
            w = sendq.popleft()
            if not _claim(w):
                continue
            value = w.value
            w.ok = True
            _release()
            w.ready()
            return value, True
        if self._closed:
            _release()
            return None, False
        g = current_parker()
        recvq = self._recvq
        recvq.append(g)
        _release()
        try:
            g.park(waitreason.CHAN_RECEIVE)
        except BaseException:
            _withdraw(recvq, g)
            raise
        value = g.value
        g.value = None
        return value, g.ok

    def __iter__(self) -> Iterator[T]:
        """Receive until the channel is closed and drained (Go's range)."""
        while True:
            value, ok = self.recv_ok()
            if not ok:
                return
            yield value  # type: ignore[misc]

    def close(self) -> None:
        """Close the channel: no more sends; receivers drain then get None.

        Raises:
            PanicError: the channel is already closed ("close of closed channel").
        """
        _acquire()
        if self._closed:
            _release()
            raise PanicError("close of closed channel")
        self._closed = True
        wake = []
        for w in self._recvq:
            if _claim(w):
                w.value = None
                w.ok = False
                wake.append(w)
        for w in self._sendq:
            if _claim(w):
                w.ok = False
                wake.append(w)
        self._recvq.clear()
        self._sendq.clear()
        _release()
        for w in wake:
            w.ready()

    # -- select cases --------------------------------------------------

    # Cases are made with object.__new__ and slot stores rather than through
    # __init__: a select builds one per case per call, and skipping the
    # Python-level __init__ frame makes that a third cheaper.

    def if_send(self, value: T) -> SendCase[T]:
        """A select case that sends ``value`` on this channel."""
        case: SendCase[T] = _new(SendCase)
        case.chan = self
        case.value = value
        case.ok = False
        return case

    def if_recv(self) -> RecvCase[T]:
        """A select case that receives from this channel (``.value``, ``.ok``)."""
        case: RecvCase[T] = _new(RecvCase)
        case.chan = self
        case.value = None
        case.ok = False
        return case


class Case(Generic[T]):
    """A select case. Equal to any case of the same kind on the same channel."""

    __slots__ = ("chan", "value", "ok")

    def __init__(self, chan: Chan[T], value: Any = None) -> None:
        self.chan = chan
        self.value = value
        self.ok = False

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.chan is self.chan

    def __hash__(self) -> int:
        return hash((type(self), id(self.chan)))


class SendCase(Case[T]):
    """``c.if_send(v)``: fires when ``v`` is sent on ``c``."""

    __slots__ = ()
    value: T

    def __repr__(self) -> str:
        return f"<offset send case {self.chan!r} <- {self.value!r}>"


class RecvCase(Case[T]):
    """``c.if_recv()``: fires when a value is received; see ``.value``, ``.ok``."""

    __slots__ = ()
    value: T | None

    def __repr__(self) -> str:
        return f"<offset receive case <-{self.chan!r} value={self.value!r} ok={self.ok}>"


def makechan(size: int = 0) -> Chan[Any]:
    """Make a channel with a buffer of ``size`` values (0: unbuffered).

    Go's ``make(chan T, size)``.

    Raises:
        TypeError: ``size`` is not an int.
        ValueError: ``size`` is negative.
    """
    return Chan(size)
