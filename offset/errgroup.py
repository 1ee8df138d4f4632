"""golang.org/x/sync/errgroup: goroutines working on parts of one task.

What: a ``Group`` runs functions as goroutines, waits for them all, and
keeps the first exception one of them raised; ``with_context`` adds a
context that is cancelled at that first exception (or when ``wait``
returns), so the others can stop early. ``set_limit(n)`` bounds how many
run at once.

How: a ``sync.WaitGroup`` counts the goroutines; the limit is a channel of
capacity n that ``go`` sends a token into before starting a goroutine and
that the goroutine receives back when it ends, as x/sync does. The first
error is recorded under the core's chanlock.

Differences from Go: a function reports failure by raising (any
``Exception``) instead of returning an error, and ``wait()`` raises the
first one instead of returning it. A BaseException that is not an
Exception (KeyboardInterrupt, SystemExit, a goroutine being stopped) is
not held by the group: it ends ``run()`` as it would from any goroutine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import context as _context
from ._core import Chan, PanicError, chanlock, default, makechan, select
from ._core import go as _go
from .sync import WaitGroup

__all__ = ["Group", "with_context"]


class Group:
    """A collection of goroutines working on subtasks of one task.

    x/sync's errgroup.Group. A Group made directly has no limit and no
    context; ``with_context(ctx)`` makes one whose context is cancelled at
    the first exception. An exception held by a group does not end
    ``run()``: ``wait()`` raises it.
    """

    __slots__ = ("_wg", "_sem", "_err", "_cancel", "__weakref__")

    def __init__(self) -> None:
        self._wg = WaitGroup()
        self._sem: Chan[None] | None = None
        self._err: Exception | None = None
        self._cancel: _context.CancelCauseFunc | None = None

    def go(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` in a new goroutine of the group.

        x/sync's Group.Go: blocks while the group is at its limit. The
        first exception from any function is kept for ``wait()`` and
        cancels the group's context. The goroutine goes to the calling
        thread's scheduler, as ``offset.go`` does.

        Raises:
            TypeError: ``fn`` is not callable.
        """
        if not callable(fn):
            raise TypeError(f"Group.go() argument 'fn' must be callable, not {type(fn).__name__}")
        sem = self._sem
        if sem is not None:
            sem.send(None)
        self._start(fn, args, kwargs, sem)

    def try_go(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> bool:
        """Start ``fn`` like ``go`` only if the group is below its limit; return whether it did.

        x/sync's Group.TryGo.

        Raises:
            TypeError: ``fn`` is not callable.
        """
        if not callable(fn):
            raise TypeError(f"Group.try_go() argument 'fn' must be callable, not {type(fn).__name__}")
        sem = self._sem
        if sem is not None and select(sem.if_send(None), default) is default:
            return False
        self._start(fn, args, kwargs, sem)
        return True

    def _start(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], sem: Chan[None] | None
    ) -> None:
        wg = self._wg
        wg.add(1)

        def run() -> None:
            try:
                fn(*args, **kwargs)
            except Exception as e:
                self._fail(e)
            finally:
                if sem is not None:
                    sem.recv()
                wg.done()

        run.__qualname__ = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
        _go(run)

    def _fail(self, e: Exception) -> None:
        with chanlock:
            first = self._err is None
            if first:
                self._err = e
        if first and self._cancel is not None:
            self._cancel(e)

    def wait(self) -> None:
        """Block until every function of the group has returned; raise the first exception.

        x/sync's Group.Wait, which returns the first error: here it is
        raised (with the traceback from its goroutine). The group's
        context, if any, is cancelled once ``wait`` returns.

        Raises:
            Exception: the first exception any function of the group raised.
        """
        self._wg.wait()
        if self._cancel is not None:
            self._cancel(self._err)
        if self._err is not None:
            raise self._err

    def set_limit(self, n: int) -> None:
        """Allow at most ``n`` active goroutines in the group; negative means no limit.

        x/sync's Group.SetLimit: later ``go`` calls block until they fit; a
        limit of 0 lets none start.

        Raises:
            TypeError: ``n`` is not an int.
            PanicError: goroutines of the group are still active
                ("errgroup: modify limit while 2 goroutines in the group are still active").
        """
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"set_limit() argument 'n' must be int, not {type(n).__name__}")
        if n < 0:
            self._sem = None
            return
        sem = self._sem
        if sem is not None and len(sem):
            raise PanicError(f"errgroup: modify limit while {len(sem)} goroutines in the group are still active")
        self._sem = makechan(n)

    def __repr__(self) -> str:
        return f"<offset.errgroup.Group at {id(self):#x}>"


def with_context(ctx: _context.Context) -> tuple[Group, _context.Context]:
    """A new Group and a context derived from ``ctx`` that the group cancels.

    x/sync's errgroup.WithContext: the derived context is cancelled the
    first time a function of the group raises, or when ``wait`` returns,
    whichever comes first; ``context.cause(ctx)`` is then that exception.

    Raises:
        PanicError: ``ctx`` is None ("cannot create context from nil parent").
        TypeError: ``ctx`` is not a Context.
    """
    gctx, cancel = _context.with_cancel_cause(ctx)
    g = Group()
    g._cancel = cancel
    return g, gctx


Group.__module__ = "offset.errgroup"
