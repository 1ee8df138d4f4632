"""Originals run on offset's thread pool, failing as they fail in the caller.

A patch that cannot make its original cooperative (the C resolver,
os.sendfile, a connect the kernel makes wait) runs it on the pool with
``blocking_call``. The stdlib's call raises in the caller's thread, with a
traceback of the caller's frames and the original's own; an exception
carried back from a pool thread brings the pool's frames with it: the
worker's, concurrent.futures', blocking_call's, and those hold the call's
arguments (CPython's testRefCountGetNameInfo counts references to an
argument while the exception is handled). So the original runs inside
``_capture``, which hands back its exception as a value, and ``reraise``
raises it again in the goroutine with the pool's frames cut off: the
traceback is the caller's, the patch's, then the original's own.

An interrupt of the waiting goroutine (Ctrl-C, a signal handler's
exception) is raised by the park in blocking_call, not captured, and keeps
its traceback.

Usage, in a patch::

    outcome = call(original, args, kwargs)
    if not outcome.ok:
        del args, kwargs  # the stdlib's traceback holds no reference to them
    return outcome.unwrap()
"""

from __future__ import annotations

from typing import Any, Callable

from .._core import blocking_call

__all__ = ["Outcome", "call"]


class Outcome:
    """What a call on the pool gave: its result (``ok``) or its exception."""

    __slots__ = ("ok", "value")

    def __init__(self, ok: bool, value: Any) -> None:
        self.ok = ok
        self.value = value

    def unwrap(self) -> Any:
        """Return the result, or raise the exception without the pool's frames.

        The exception is raised once: the outcome lets go of it first, so
        that no frame that holds the outcome makes a cycle with it.
        """
        if self.ok:
            return self.value
        e: BaseException = self.value
        self.value = None
        tb = e.__traceback__
        try:
            # The first entry is _capture's frame, which holds the
            # arguments; what follows is the original's own frames, if any.
            raise e.with_traceback(tb.tb_next if tb is not None else None)
        finally:
            del e, tb


def _capture(job: list[Any]) -> Outcome:
    """Run the job ``[fn, args, kwargs]`` (on a pool thread); its outcome.

    The original's own frames, kept in the traceback, keep this frame and
    the pool thread's below it (``f_back``). So the arguments are held only
    by this frame while the call runs, and let go of once it failed: the
    job list, which the pool's work item holds, is emptied first.
    """
    fn, args, kwargs = job
    job.clear()
    try:
        return Outcome(True, fn(*args, **kwargs))
    except BaseException as e:  # noqa: BLE001 - handed back to the goroutine, which raises it
        del fn, args, kwargs
        return Outcome(False, e)


def call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Outcome:
    """Run ``fn(*args, **kwargs)`` on the pool, parking only this goroutine.

    Outside a goroutine, calls ``fn`` here. Never raises what ``fn``
    raises: ``unwrap()`` the outcome for that.
    """
    outcome: Outcome = blocking_call(_capture, [fn, args, kwargs])
    return outcome
