"""Go's context package: cancellation, deadlines and request values.

What: a Context carries a done channel, closed when the work it scopes
should stop, the reason (``err()``: ``Canceled`` or ``DeadlineExceeded``),
an optional deadline and values. Contexts form a tree: cancelling one
cancels every context derived from it; cancelling a child leaves its
parent alone.

Go 1.21's additions are here too: ``after_func(ctx, f)`` runs ``f`` in a
goroutine once ``ctx`` is done (an ``_AfterFuncCtx``: a cancel context
whose cancelling starts ``f`` instead of closing a channel anyone reads),
``without_cancel`` keeps the values and drops the rest, and
``with_deadline_cause``/``with_timeout_cause`` give the deadline a cause.
``f`` goes to the scheduler of the goroutine that registered it (through
``call_threadsafe`` when another thread cancels), or to a daemon thread if
it was registered outside any goroutine.

Finding the offset context inside another (Go's parentCancelCtx). Every
cancel context answers ``value(_CANCEL_CTX_KEY)`` with itself, and a
``without_cancel`` context with None. So a user's Context subclass that
wraps an offset context and delegates ``value`` to it still leads to it:
``cause()`` reads the cause through the wrapper, and a child made from the
wrapper joins that context's ``_children`` (cancelled with it at once, in
the same critical section) if the wrapper's ``done()`` is that context's
channel. A wrapper with a done channel of its own is a foreign context:
offset uses its ``after_func(f) -> stop`` method if it has one (Go's
afterFuncer), else watches it with a goroutine.

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
- An ``_AfterFuncCtx``'s ``_f`` is taken (set to None) exactly once:
  by its cancelling, which then starts it, or by ``stop()``, which then
  returns True (Go's ``once``).
- ``_stop`` is set only on a context registered with a foreign parent's
  ``after_func``; cancelling the context itself calls it (outside the
  lock: it is the user's code).

Locking: one process-wide ``_ctxlock`` guards every context's state. It
is taken before offset.time's timer lock and before the core's chanlock
(closing a done channel, stopping a timer), never after them. A deadline
fires on the scheduler loop of the thread that made the context (a timer
entry, no goroutine), or in a fallback timer thread for a context made
outside any goroutine. Code that is not offset's (a foreign context's
methods, an afterFuncer's stop, ``after_func``'s ``f``) never runs under
``_ctxlock``.

Rejected: a goroutine per context watching its parent (Go does this only
for foreign Context implementations, and so does offset), and Go's lock
per context (under the GIL the extra locks buy no concurrency, and one
lock makes cancelling a subtree a single critical section). For
``after_func``, a goroutine per registration waiting on the done channel
(a stack per pending callback, and ``stop()`` could not tell a waiting
goroutine from one about to call ``f``). For wrappers, a private method
that only offset's own classes answer: a wrapper written against the
public four methods would be foreign and watched by a goroutine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, cast

from ._core import Chan, PanicError, Scheduler, current_goroutine, go, makechan, select
from ._core import Timer as _Timer
from ._core import call_after as _call_after
from .time import now

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
    "with_deadline_cause",
    "with_timeout",
    "with_timeout_cause",
    "with_value",
    "without_cancel",
    "after_func",
    "cause",
]

CancelFunc = Callable[[], None]
CancelCauseFunc = Callable[[BaseException | None], None]

_ctxlock = threading.Lock()

# The done channel of every context cancelled before anyone asked for it.
_closedchan: Chan[None] = makechan()
_closedchan.close()

# The key every cancel context answers with itself (Go's &cancelCtxKey).
_CANCEL_CTX_KEY = object()


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
    ``todo()`` and derive others with the ``with_*`` functions. The base
    class is a context that is never cancelled, has no deadline and no
    values.

    A subclass may implement the four methods itself. One that wraps an
    offset context, delegating ``done`` and ``value`` to it, works as the
    context it wraps: ``cause()`` sees through it, and contexts derived
    from it are cancelled with the wrapped one at once (Go finds it the
    same way, through ``Value``). One with a done channel of its own is
    watched with a goroutine, as Go does, unless it has an
    ``after_func(f) -> stop`` method (Go's afterFuncer: call ``f`` once
    when done; ``stop()`` returns True if that stopped the call), which
    offset then uses instead.
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
        """The nearest cancel context whose done channel is ours, or None.

        Go's parentCancelCtx, for a subclass: ask ``value`` for the cancel
        context and use it only if ``done()`` is its channel (a subclass
        with a channel of its own is foreign). offset's own contexts answer
        without asking. Not called under ``_ctxlock``: it runs user code.
        """
        done = self.done()
        if done is None or done is _closedchan:
            return None  # never cancelled, or already: nothing to join
        p = self.value(_CANCEL_CTX_KEY)
        if not isinstance(p, _CancelCtx) or p._done is not done:
            return None
        return p


class _EmptyCtx(Context):
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def _cancel_ctx(self) -> None:
        return None

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
    __slots__ = ("_parent", "_done", "_err", "_cause", "_children", "_timer", "_stop")

    def __init__(self, parent: Context) -> None:
        self._parent = parent
        self._done: Chan[None] | None = None
        self._err: BaseException | None = None
        self._cause: BaseException | None = None
        self._children: dict[_CancelCtx, None] | None = None
        self._timer: _Timer | None = None
        self._stop: Callable[[], object] | None = None  # a foreign parent's after_func stop

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
        """Cancel this context and its subtree with ``err``; optionally leave the parent.

        Starts the ``f`` of every after_func context in the subtree.
        """
        # Outside the lock: for a wrapper parent this runs the user's code.
        p = _parent_cancel_ctx(self._parent) if remove else None
        fire: list[tuple[Callable[[], object], Scheduler | None]] = []
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
                if type(c) is _AfterFuncCtx:
                    f = c._f
                    if f is not None:
                        c._f = None
                        fire.append((f, c._sched))
            if p is not None and p._children:
                p._children.pop(self, None)
            stop = self._stop
            self._stop = None
        if remove and stop is not None:
            stop()  # leave a foreign parent's after_func (Go's stopCtx)
        for f, sched in fire:
            _start(f, sched)

    def __repr__(self) -> str:
        return f"{self._parent!r}.WithCancel"


class _TimerCtx(_CancelCtx):
    __slots__ = ("_deadline", "_why")

    def __init__(self, parent: Context, deadline: int, why: BaseException | None) -> None:
        super().__init__(parent)
        self._deadline = deadline
        self._why = why  # the cause when the deadline passes

    def deadline(self) -> int:
        return self._deadline

    def __repr__(self) -> str:
        left = self._deadline - now()
        return f"{self._parent!r}.WithDeadline({self._deadline} [{left / 1e9:.6f}s])"


class _AfterFuncCtx(_CancelCtx):
    """``after_func``'s registration: a child whose cancelling starts ``_f``."""

    __slots__ = ("_f", "_sched")

    def __init__(self, parent: Context, f: Callable[[], object], sched: Scheduler | None) -> None:
        super().__init__(parent)
        self._f: Callable[[], object] | None = f
        self._sched = sched  # where f runs; None: in a thread of its own

    def __repr__(self) -> str:
        return f"{self._parent!r}.AfterFunc"


class _WithoutCancelCtx(Context):
    __slots__ = ("_parent",)

    def __init__(self, parent: Context) -> None:
        self._parent = parent

    def value(self, key: object) -> Any:
        return _value(self, key)

    def _cancel_ctx(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"{self._parent!r}.WithoutCancel"


def _start(f: Callable[[], object], sched: Scheduler | None) -> None:
    """Start an after_func's ``f`` as a goroutine of ``sched`` (or in a thread if None)."""
    if sched is None:
        threading.Thread(target=f, name="offset-context-afterfunc", daemon=True).start()
    elif sched.ident == threading.get_ident():
        go(f)  # in a goroutine, or on the loop (a deadline firing)
    else:
        sched.call_threadsafe(go, f)


def _fresh(err: BaseException) -> BaseException:
    """A new instance of offset's own errors for each context; others shared."""
    t = type(err)
    return t() if t is Canceled or t is DeadlineExceeded else err


def _parent_cancel_ctx(parent: Context) -> _CancelCtx | None:
    """The cancel context a child of ``parent`` joins, if any (Go's parentCancelCtx)."""
    return parent._cancel_ctx()


def _value(c: Context, key: object) -> Any:
    # Iterative, as Go's value(): a long chain of derived contexts must not
    # hit the recursion limit.
    while True:
        t = type(c)
        if t is _ValueCtx:
            v = cast(_ValueCtx, c)
            if v._key == key:
                return v._val
            c = v._parent
        elif t is _CancelCtx or t is _TimerCtx or t is _AfterFuncCtx:
            if key is _CANCEL_CTX_KEY:
                return c
            c = cast(_CancelCtx, c)._parent
        elif t is _WithoutCancelCtx:
            if key is _CANCEL_CTX_KEY:
                return None  # so that cause(without_cancel(ctx)) is None (Go)
            c = cast(_WithoutCancelCtx, c)._parent
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
    after = getattr(parent, "after_func", None)
    if callable(after):
        # A foreign Context that can call back when done (Go's afterFuncer).

        def fire() -> None:
            e = parent.err()
            child._cancel(False, _fresh(e) if e is not None else Canceled(), cause(parent))

        stop = after(fire)
        if not callable(stop):
            raise TypeError(
                f"{type(parent).__name__}.after_func() must return a stop function, not {type(stop).__name__}"
            )
        with _ctxlock:
            live = child._err is None
            if live:
                child._stop = stop
        if not live:
            stop()  # cancelled meanwhile, maybe by its own cancel: leave now
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
    return with_deadline_cause(parent, t, None)


def with_deadline_cause(parent: Context, t: int, cause: BaseException | None) -> tuple[Context, CancelFunc]:
    """Like ``with_deadline``, with ``cause`` as the ``cause()`` once the deadline passes.

    Go 1.21's context.WithDeadlineCause: when ``t`` passes, ``err()`` is
    ``DeadlineExceeded`` and ``cause(ctx)`` is ``cause`` (the
    ``DeadlineExceeded`` itself if ``cause`` is None). The returned
    ``cancel`` does not set a cause.

    Raises:
        PanicError: ``parent`` is None ("cannot create context from nil parent").
        TypeError: ``parent`` is not a Context, ``t`` not an int, or
            ``cause`` not an exception or None.
    """
    parent = _check_parent(parent)
    if isinstance(t, bool) or not isinstance(t, int):
        raise TypeError(f"argument 't' must be an int of nanoseconds, not {type(t).__name__}")
    why = _check_cause(cause)
    cur = parent.deadline()
    if cur is not None and cur < t:
        return with_cancel(parent)  # the parent's deadline comes first
    c = _TimerCtx(parent, t, why)
    _propagate(parent, c)

    def cancel() -> None:
        c._cancel(True, Canceled(), None)

    d = t - now()
    if d <= 0:
        c._cancel(True, DeadlineExceeded(), why)
        return c, cancel
    with _ctxlock:
        if c._err is None:
            c._timer = _call_after(d, _expire, c)
    return c, cancel


def _expire(c: _TimerCtx) -> None:
    c._cancel(True, DeadlineExceeded(), c._why)


def with_timeout(parent: Context, d: int) -> tuple[Context, CancelFunc]:
    """``with_deadline(parent, time.now() + d)`` (Go's context.WithTimeout).

    Raises:
        PanicError: ``parent`` is None ("cannot create context from nil parent").
        TypeError: ``parent`` is not a Context, or ``d`` not an int.
    """
    if isinstance(d, bool) or not isinstance(d, int):
        raise TypeError(f"argument 'd' must be an int of nanoseconds, not {type(d).__name__}")
    return with_deadline_cause(parent, now() + d, None)


def with_timeout_cause(parent: Context, d: int, cause: BaseException | None) -> tuple[Context, CancelFunc]:
    """``with_deadline_cause(parent, time.now() + d, cause)`` (Go 1.21's context.WithTimeoutCause).

    Raises:
        PanicError: ``parent`` is None ("cannot create context from nil parent").
        TypeError: ``parent`` is not a Context, ``d`` not an int, or
            ``cause`` not an exception or None.
    """
    if isinstance(d, bool) or not isinstance(d, int):
        raise TypeError(f"argument 'd' must be an int of nanoseconds, not {type(d).__name__}")
    return with_deadline_cause(parent, now() + d, cause)


def _check_cause(cause: object) -> BaseException | None:
    if cause is not None and not isinstance(cause, BaseException):
        raise TypeError(f"argument 'cause' must be an exception or None, not {type(cause).__name__}")
    return cause


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


def without_cancel(parent: Context) -> Context:
    """A context with ``parent``'s values that is never cancelled (Go 1.21's context.WithoutCancel).

    Its ``done()`` is None, ``err()`` None, ``deadline()`` None and
    ``cause()`` None, whatever becomes of ``parent``; ``value(key)`` is
    ``parent``'s. For work that must finish even when the request that
    started it is cancelled.

    Raises:
        PanicError: ``parent`` is None ("cannot create context from nil parent").
        TypeError: ``parent`` is not a Context.
    """
    return _WithoutCancelCtx(_check_parent(parent))


def after_func(ctx: Context, f: Callable[[], object]) -> Callable[[], bool]:
    """Arrange for ``f()`` to run in its own goroutine once ``ctx`` is done; return ``stop``.

    Go 1.21's context.AfterFunc. ``f`` runs at most once, and at once if
    ``ctx`` is already done. ``stop()`` unregisters it: it returns True if
    that kept ``f`` from being started, False if ``f`` had already been
    started (or stopped); it does not wait for ``f``. Several calls with
    one ``ctx`` register independently. ``f``'s goroutine goes to the
    scheduler of the goroutine that called ``after_func``, whichever thread
    cancels ``ctx``; called outside any goroutine, ``f`` runs in a daemon
    thread of its own (there is no scheduler to start a goroutine on), as
    ``time.AfterFunc`` does.

    Raises:
        TypeError: ``ctx`` is not a Context, or ``f`` not callable.
    """
    if not isinstance(ctx, Context):
        raise TypeError(f"after_func() argument 'ctx' must be a Context, not {type(ctx).__name__}")
    if not callable(f):
        raise TypeError(f"after_func() argument 'f' must be callable, not {type(f).__name__}")
    g = current_goroutine()
    a = _AfterFuncCtx(ctx, f, g.sched if g is not None else None)
    _propagate(ctx, a)

    def stop() -> bool:
        with _ctxlock:
            stopped = a._f is not None
            a._f = None
        if stopped:
            a._cancel(True, Canceled(), None)  # leave the parent
        return stopped

    return stop


def cause(c: Context) -> BaseException | None:
    """Why ``c`` was cancelled: the cause given to a ``with_cancel_cause`` cancel, else ``c.err()``.

    Go 1.20's context.Cause: None while ``c`` is not cancelled. The cause
    is found through any context derived from the cancelled one, and
    through a Context subclass that delegates ``value`` to it (Go looks it
    up with ``Value`` too); none through ``without_cancel``. A deadline's
    cause is the one given to ``with_deadline_cause``.

    Raises:
        TypeError: ``c`` is not a Context.
    """
    if not isinstance(c, Context):
        raise TypeError(f"cause() argument 'c' must be a Context, not {type(c).__name__}")
    p = _value(c, _CANCEL_CTX_KEY)
    if isinstance(p, _CancelCtx):
        with _ctxlock:
            return p._cause
    return c.err()


for _obj in (Context, Canceled, DeadlineExceeded):
    _obj.__module__ = "offset.context"
del _obj
