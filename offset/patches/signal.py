"""Patches for the signal module: a handler's exception reaches the main goroutine.

Replaces ``signal.signal`` and ``signal.getsignal``. Every Python signal
handler is installed wrapped (``_Handler``), those installed before
patching too (``default_int_handler``, the Ctrl-C handler, among them), so
that when Python calls it, offset decides where it runs
(``call_signal_handler``; the whole story is "Signals" at the top of
offset/_core/_sched.py):

- interrupting the program's code in the main goroutine, or code in a
  thread with no scheduler, it runs right there, as in plain Python;
- interrupting another goroutine, it runs there, and what it raises is
  raised in the main goroutine instead;
- interrupting offset's own code (the scheduler's idle ``epoll_wait``, a
  channel operation, a patched call between its steps), it runs a moment
  later from the scheduler's loop, and what it raises is raised in the
  main goroutine.

The main goroutine gets the exception where it waits: a patched ``recv``,
``select``, ``sleep`` or channel receive raises it, as the interrupted call
does in plain Python; a handler that returns lets the wait carry on with
what is left of its timeout (PEP 475).

What a program sees is the stdlib's: ``signal.signal`` returns the
previous handler as the program installed it, ``getsignal`` the current
one, and the stdlib's errors for a bad signal number, a bad handler or a
call outside the main thread. Unpatching installs the program's handlers
again, unwrapped. Where Python would not call a handler (SIG_DFL, SIG_IGN,
a handler installed from C), nothing changes.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # no stub: signal.py builds on it
from typing import Any, Callable

from .._core import call_signal_handler
from . import _registry

__all__ = ["patch", "unpatch", "is_patched"]

AREA = "signal"

_getsignal = _signal.getsignal
_valid_signals: Callable[[], Any] = _signal.valid_signals


class _Handler:
    """A program's Python handler as offset installs it."""

    __slots__ = ("handler",)

    def __init__(self, handler: Callable[[int, Any], Any]) -> None:
        self.handler = handler

    def __call__(self, signum: int, frame: Any) -> Any:
        return call_signal_handler(self.handler, signum, frame)

    def __repr__(self) -> str:
        return f"<offset signal handler for {self.handler!r}>"


def _unwrapped(handler: Any) -> Any:
    return handler.handler if type(handler) is _Handler else handler


def _installed(signal: Callable[..., Any], wrap: bool) -> None:
    """Wrap (or unwrap) every Python handler installed now.

    Only the main thread may install handlers; patching from another thread
    leaves the ones already there as they are (each still runs, without
    offset's placement) and wraps those installed later.
    """
    for signum in _valid_signals():
        try:
            current = _getsignal(signum)
        except (OSError, ValueError):  # pragma: no cover - a number the OS lists but refuses
            continue
        if wrap and callable(current) and type(current) is not _Handler:
            replacement: Any = _Handler(current)
        elif not wrap and type(current) is _Handler:
            replacement = current.handler
        else:
            continue
        try:
            signal(signum, replacement)
        except ValueError:
            return  # not the main thread (or not the main interpreter)


def _make_signal(original: Any) -> Any:
    _installed(original, wrap=True)

    def signal(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 2 and not kwargs:
            handler = args[1]
            if callable(handler) and type(handler) is not _Handler:
                args = (args[0], _Handler(handler))
        return _unwrapped(original(*args, **kwargs))

    return _registry.lean(signal, original)


def _restore_signal(original: Any) -> None:
    _installed(original, wrap=False)


def _make_getsignal(original: Any) -> Any:
    def getsignal(*args: Any, **kwargs: Any) -> Any:
        return _unwrapped(original(*args, **kwargs))

    return _registry.lean(getsignal, original)


_registry.define(AREA, "signal", "signal", _make_signal, scan=True, restored=_restore_signal)
_registry.define(AREA, "signal", "getsignal", _make_getsignal, scan=True)


def patch() -> None:
    """Patch signal.signal and signal.getsignal; wrap the handlers installed now."""
    _registry.patch_area(AREA)


def unpatch() -> None:
    """Restore signal.signal and signal.getsignal, and the handlers unwrapped."""
    _registry.unpatch_area(AREA)


def is_patched() -> bool:
    """Whether the signal module is patched."""
    return _registry.is_enabled(AREA)
