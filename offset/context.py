"""Go's context package: cancellation, deadlines and request values.

What: a Context carries a done channel, closed when the work it scopes
should stop, the reason (``err()``: ``Canceled`` or ``DeadlineExceeded``),
an optional deadline and values. Contexts form a tree: cancelling one
cancels every context derived from it; cancelling a child leaves its
parent alone.

Invariants (under ``_ctxlock``):
- ``_err`` is set once, and before ``_done`` is closed, so whoever sees
  the channel closed then sees ``err()`` non-None (and ``err()`` waits out
  a cancel in progress, so the converse holds too).
- A context in its parent's ``_children`` is not cancelled; cancelling
  takes the whole subtree out at once (iteratively: no recursion limit),
  sets each ``_children`` to None and stops each deadline timer, so a
  cancelled context holds no timer and no reference to its children, and
  a child that is never cancelled itself costs nothing once its parent is.
- ``_done`` is made only when someone asks for it; a context cancelled
  before that shares one closed channel.

Locking: one process-wide ``_ctxlock`` guards every context's state. It
is taken before offset.time's timer lock and before the core's chanlock
(closing a done channel, stopping a timer), never after them. A deadline
fires on the scheduler loop of the thread that made the context (a timer
entry, no goroutine), or in a fallback timer thread for a context made
outside any goroutine.

Rejected: a goroutine per context watching its parent (Go does this only
for foreign Context implementations, and so does offset), and Go's lock
per context (under the GIL the extra locks buy no concurrency, and one
lock makes cancelling a subtree a single critical section).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ._core import Chan, PanicError, current_goroutine, go, makechan, select
from .time import Timer, _call_after, now

__all__ = [
    "Context",
    "CancelFunc",
    "CancelCauseFunc",
    "Canceled",
    "DeadlineExceeded",
    "background",
    "todo",
    "with_cancel",
    "with_cancel_cause",
    "with_deadline",
    "with_timeout",
    "with_value",
    "cause",
]

CancelFunc = Callable[[], None]
CancelCauseFunc = Callable[[BaseException | None], None]

_ctxlock = threading.Lock()

# The done channel of every context cancelled before anyone asked for it.
_closedchan: Chan[None] = makechan()
_closedchan.close()


class Canceled(Exception):
    """The ``err()`` of a context that was cancelled: "context canceled" (Go's context.Canceled)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(args or ("context canceled",)))


class DeadlineExceeded(TimeoutError):
    """The ``err()`` of a context whose deadline passed: "context deadline exceeded".

    Go's context.DeadlineExceeded, whose Timeout() is true; here a
    TimeoutError, so ``except TimeoutError`` catches it.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(args or ("context deadline exceeded",)))


class Context:
    """A deadline, a cancellation signal and values, across API boundaries.

    Go's context.Context interface. Make one with ``background()`` or
    ``todo()`` and derive others with the ``with_*`` functions. A subclass
    may implement the four methods itself (offset then watches its done
    channel with a goroutine, as Go does for foreign contexts). The base
    class is a context that is never cancelled, has no deadline and no
    values.
    """

    __slots__ = ("__weakref__",)

    def deadline(self) -> int | None:
        """When work done for this context should be cancelled, on the ``time.now()`` clock.

        Go's Deadline returns (deadline, ok); here None means no deadline.
        """
        return None

    def done(self) -> Chan[None] | None:
        """A channel closed when this context is cancelled; None if it never can be.

        Go's Done: None stands for Go's nil channel (in ``select`` a None
        case is ignored). Successive calls return the same channel.
        """
        return None

    def err(self) -> BaseException | None:
        """None while not done; then a ``Canceled`` or ``DeadlineExceeded`` instance (Go's Err)."""
        return None

    def value(self, key: object) -> Any:
        """The value this context carries for ``key``, or None (Go's Value)."""
        return None

    def _cancel_ctx(self) -> _CancelCtx | None:
        # The nearest cancellable offset context whose done channel is ours
        # (Go's parentCancelCtx); None for a context that never cancels or
        # a foreign one.
        return None


class _EmptyCtx(Context):
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


_background = _EmptyCtx("context.Background")
_todo = _EmptyCtx("context.TODO")


def background() -> Context:
    """The root of every context tree: never cancelled, no deadline, no values (Go's Background)."""
    return _background


def todo() -> Context:
    """Like ``background()``, for where it is unclear which context to use (Go's TODO)."""
    return _todo


class _ValueCtx(Context):
    __slots__ = ("_parent", "_key", "_val")

    def __init__(self, parent: Context, key: object, val: Any) -> None:
        self._parent = parent
        self._key = key
        self._val = val

    def deadline(self) -> int | None:
        return self._parent.deadline()

    def done(self) -> Chan[None] | None:
        return self._parent.done()

    def err(self) -> BaseException | None:
        return self._parent.err()

    def value(self, key: object) -> Any:
        return _value(self, key)

    def _cancel_ctx(self) -> _CancelCtx | None:
        return _parent_cancel_ctx(self._parent)

    def __repr__(self) -> str:
        return f"{self._parent!r}.WithValue({self._key!r}, {self._val!r})"


class _CancelCtx(Context):
    __slots__ = ("_parent", "_done", "_err", "_cause", "_children", "_timer")

    def __init__(self, parent: Context) -> None:
        self._parent = parent
        self._done: Chan[None] | None = None
        self._err: BaseException | None = None
        self._cause: BaseException | None = None
        self._children: dict[_CancelCtx, None] | None = None
        self._timer: Timer | None = None

    def deadline(self) -> int | None:
        return self._parent.deadline()

    def done(self) -> Chan[None]:
        d = self._done
        if d is None:
            with _ctxlock:
                d = self._done
                if d is None:
                    d = self._done = makechan()
        return d

    def err(self) -> BaseException | None:
        e = self._err
        if e is not None:
            with _ctxlock:  # let a cancel in progress finish closing done
                pass
        return e

    def value(self, key: object) -> Any:
        return _value(self, key)

    def _cancel_ctx(self) -> _CancelCtx | None:
        return self

    def _cancel(self, remove: bool, err: BaseException, cause: BaseException | None) -> None:
        """Cancel this context and its subtree with ``err``; optionally leave the parent."""
        with _ctxlock:
            if self._err is not None:
                return
            stack: list[_CancelCtx] = [self]
            while stack:
                c = stack.pop()
                if c._err is not None:
                    continue
                e = err if c is self else _fresh(err)
                c._err = e
                c._cause = cause if cause is not None else e
                d = c._done
                if d is None:
                    c._done = _closedchan
                else:
                    d.close()
                children = c._children
                if children:
                    stack.extend(children)
                c._children = None
                t = c._timer
                if t is not None:
                    c._timer = None
                    t.stop()
            if remove:
                p = _parent_cancel_ctx(self._parent)
                if p is not None and p._children:
                    p._children.pop(self, None)

    def __repr__(self) -> str:
        return f"{self._parent!r}.WithCancel"


class _TimerCtx(_CancelCtx):
    __slots__ = ("_deadline",)

    def __init__(self, parent: Context, deadline: int) -> None:
        super().__init__(parent)
        self._deadline = deadline

    def deadline(self) -> int:
        return self._deadline

    def __repr__(self) -> str:
        left = self._deadline - now()
        return f"{self._parent!r}.WithDeadline({self._deadline} [{left / 1e9:.6f}s])"


def _fresh(err: BaseException) -> BaseException:
    """A new instance of offset's own errors for each context; others shared."""
    t = type(err)
    return t() if t is Canceled or t is DeadlineExceeded else err


def _parent_cancel_ctx(parent: Context) -> _CancelCtx | None:
    find = getattr(parent, "_cancel_ctx", None)
    if find is None:
        return None
    p: _CancelCtx | None = find()
    return p


def _value(c: Context, key: object) -> Any:
    # Iterative, as Go's value(): a long chain of derived contexts must not
    # hit the recursion limit.
    while True:
        t = type(c)
        if t is _ValueCtx:
            assert isinstance(c, _ValueCtx)
            if c._key == key:
                return c._val
            c = c._parent
        elif t is _CancelCtx or t is _TimerCtx:
            assert isinstance(c, _CancelCtx)
            c = c._parent
        elif t is _EmptyCtx:
            return None
        else:
            return c.value(key)


def _check_parent(parent: object) -> Context:
    if parent is None:
        raise PanicError("cannot create context from nil parent")
    if not isinstance(parent, Context):
        raise TypeError(f"argument 'parent' must be a Context, not {type(parent).__name__}")
    return parent


def _propagate(parent: Context, child: _CancelCtx) -> None:
    """Arrange for ``child`` to be cancelled when ``parent`` is (Go's propagateCancel)."""
    p = _parent_cancel_ctx(parent)
    if p is not None:
        with _ctxlock:
            err = p._err
            if err is None:
                if p._children is None:
                    p._children = {}
                p._children[child] = None
                return
            why = p._cause
        child._cancel(False, _fresh(err), why)
        return
    done = parent.done()
    if done is None:
        return  # never cancelled
    err = parent.err()
    if err is not None:
        child._cancel(False, _fresh(err), cause(parent))
        return
    # A foreign Context: watch it, as Go does, with a goroutine (or, outside
    # any goroutine, a daemon thread).
    cdone = child.done()

    def watch() -> None:
        if select(done.if_recv(), cdone.if_recv()) == done.if_recv():
            e = parent.err()
            child._cancel(False, _fresh(e) if e is not None else Canceled(), cause(parent))

    if current_goroutine() is not None:
        go(watch)
    else:
        threading.Thread(target=watch, name="offset-context-watch", daemon=True).start()


def with_cancel(parent: Context) -> tuple[Context, CancelFunc]:
    """A child of ``parent`` with its own done channel, and the function that cancels it.

    Go's context.WithCancel. The child is done when ``cancel()`` is called
    or when ``parent`` is, whichever comes first. Calling ``cancel``
    releases the child's resources; later calls do nothing.

    Raises:
        PanicError: ``parent`` is None ("cannot create context from nil parent").
        TypeError: ``parent`` is not a Context.
    """
    c = _CancelCtx(_check_parent(parent))
    _propagate(parent, c)

    def cancel() -> None:
        c._cancel(True, Canceled(), None)

    return c, cancel


def with_cancel_cause(parent: Context) -> tuple[Context, CancelCauseFunc]:
    """Like ``with_cancel``, but ``cancel(cause)`` records why (Go 1.20's WithCancelCause).

    ``err()`` is still ``Canceled``; ``cause(ctx)`` returns the exception
    given (or the ``Canceled`` when ``cancel(None)``).

    Raises:
        PanicError: ``parent`` is None ("cannot create context from nil parent").
        TypeError: ``parent`` is not a Context.
    """
    c = _CancelCtx(_check_parent(parent))
    _propagate(parent, c)

    def cancel(why: BaseException | None) -> None:
        c._cancel(True, Canceled(), why)

    return c, cancel


def with_deadline(parent: Context, t: int) -> tuple[Context, CancelFunc]:
    """A child of ``parent`` that is done at ``t`` (on the ``time.now()`` clock) at the latest.

    Go's context.WithDeadline: if ``parent``'s deadline is earlier, this is
    ``with_cancel(parent)``; a ``t`` already past cancels at once with
    ``DeadlineExceeded``. ``cancel()`` stops the timer and releases it.

    Raises:
        PanicError: ``parent`` is None ("cannot create context from nil parent").
        TypeError: ``parent`` is not a Context, or ``t`` not an int.
    """
    parent = _check_parent(parent)
    if isinstance(t, bool) or not isinstance(t, int):
        raise TypeError(f"argument 't' must be an int of nanoseconds, not {type(t).__name__}")
    cur = parent.deadline()
    if cur is not None and cur < t:
        return with_cancel(parent)  # the parent's deadline comes first
    c = _TimerCtx(parent, t)
    _propagate(parent, c)

    def cancel() -> None:
        c._cancel(True, Canceled(), None)

    d = t - now()
    if d <= 0:
        c._cancel(True, DeadlineExceeded(), None)
        return c, cancel
    with _ctxlock:
        if c._err is None:
            c._timer = _call_after(d, _expire, c)
    return c, cancel


def _expire(c: _CancelCtx) -> None:
    c._cancel(True, DeadlineExceeded(), None)


def with_timeout(parent: Context, d: int) -> tuple[Context, CancelFunc]:
    """``with_deadline(parent, time.now() + d)`` (Go's context.WithTimeout).

    Raises:
        PanicError: ``parent`` is None ("cannot create context from nil parent").
        TypeError: ``parent`` is not a Context, or ``d`` not an int.
    """
    if isinstance(d, bool) or not isinstance(d, int):
        raise TypeError(f"argument 'd' must be an int of nanoseconds, not {type(d).__name__}")
    return with_deadline(parent, now() + d)


def with_value(parent: Context, key: object, value: Any) -> Context:
    """A child of ``parent`` whose ``value(key)`` is ``value`` (Go's context.WithValue).

    Keys compare with ``==``; to avoid collisions between packages, use a
    key of your own type (a private object), as Go advises.

    Raises:
        PanicError: ``parent`` is None ("cannot create context from nil
            parent"), or ``key`` is None ("nil key").
        TypeError: ``parent`` is not a Context.
    """
    parent = _check_parent(parent)
    if key is None:
        raise PanicError("nil key")
    return _ValueCtx(parent, key, value)


def cause(c: Context) -> BaseException | None:
    """Why ``c`` was cancelled: the cause given to a ``with_cancel_cause`` cancel, else ``c.err()``.

    Go 1.20's context.Cause: None while ``c`` is not cancelled.
    """
    p = _parent_cancel_ctx(c)
    if p is None:
        return c.err()
    with _ctxlock:
        return p._cause


for _obj in (Context, Canceled, DeadlineExceeded):
    _obj.__module__ = "offset.context"
del _obj
