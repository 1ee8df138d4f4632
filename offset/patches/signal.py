"""Patches for the signal module: a handler's exception reaches the main goroutine.

Replaces ``signal.signal`` and ``signal.getsignal``. Every Python signal
handler installed from then on is installed wrapped (``_Handler``), and so
is the interpreter's own Ctrl-C handler (``default_int_handler`` on
SIGINT), so that when Python calls it, offset decides where it runs
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

Beside ``offset.signal``: while a channel wants a signal, its process
handler is offset.signal's dispatcher. ``signal.signal`` on that signal
then keeps the dispatcher and records the new handler as the program's
(the dispatcher calls it after relaying the signal, and ``stop``/``reset``
install it, wrapped); it returns the program's previous handler, and
``getsignal`` shows the program's handler, never the dispatcher. The
stdlib's errors are kept (a bad handler, a call outside the main thread).

Other handlers installed before patching are left alone, not installed
again wrapped: installing a handler replaces whatever C-level handler sits
on that signal, and ``faulthandler.register(signum, chain=True)`` puts its
own there, in front of Python's (test runners do that). Such a handler runs
where Python runs it; one that raises while the scheduler idles still
reaches the main goroutine (the loop recognises it), but one that lands
inside offset's code in a goroutine is not safe. Install handlers after
``patch_all()`` (``python -m offset`` patches before the program runs).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # no stub: signal.py builds on it
from collections.abc import Callable
from typing import Any

from .._core import NOT_HELD, WrappedHandler, program_handler, set_handler_wrapping, set_program_handler
from . import _registry

__all__ = ["patch", "unpatch", "is_patched"]

AREA = _registry.Area(
    "signal", __name__, "``signal.signal`` and ``signal.getsignal`` (and the handlers installed before, wrapped)"
)

_getsignal = _signal.getsignal
_valid_signals: Callable[[], Any] = _signal.valid_signals
_SIGINT: int = _signal.SIGINT
_default_int_handler: Any = _signal.default_int_handler


# The wrapper lives in the core, so that offset.signal knows it too.
_Handler = WrappedHandler


def _unwrapped(handler: Any) -> Any:
    return handler.handler if type(handler) is _Handler else handler


def _wrap_ctrl_c(signal: Callable[..., Any]) -> None:
    """Install the interpreter's own Ctrl-C handler wrapped, if it is there.

    Only the main thread may install handlers; patching from another thread
    leaves it as it is (it still runs, without offset's placement).
    """
    if _getsignal(_SIGINT) is _default_int_handler:
        try:
            signal(_SIGINT, _Handler(_default_int_handler))
        except ValueError:
            pass  # not the main thread (or not the main interpreter)


def _unwrap_all(signal: Callable[..., Any]) -> None:
    """Install every wrapped handler again as the program gave it."""
    for signum in _valid_signals():
        try:
            current = _getsignal(signum)
        except (OSError, ValueError):  # pragma: no cover - a number the OS lists but refuses
            continue
        if type(current) is _Handler:
            try:
                signal(signum, current.handler)
            except ValueError:
                return  # not the main thread: they stay wrapped, and still run the program's handler


def _make_signal(original: Any) -> Any:
    _wrap_ctrl_c(original)
    set_handler_wrapping(True)

    def signal(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 2 and not kwargs:
            handler = args[1]
            previous = set_program_handler(args[0], handler)
            if previous is not NOT_HELD:
                return previous  # offset.signal's dispatcher stays; it calls handler
            if callable(handler) and type(handler) is not _Handler:
                args = (args[0], _Handler(handler))
        return _unwrapped(original(*args, **kwargs))

    return _registry.lean(signal, original)


def _restore_signal(original: Any) -> None:
    set_handler_wrapping(False)
    _unwrap_all(original)


def _make_getsignal(original: Any) -> Any:
    def getsignal(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs:
            handler = program_handler(args[0])
            if handler is not NOT_HELD:
                return handler  # the program's, not offset.signal's dispatcher
        return _unwrapped(original(*args, **kwargs))

    return _registry.lean(getsignal, original)


AREA.define("signal", "signal", _make_signal, scan=True, restored=_restore_signal)
AREA.define("signal", "getsignal", _make_getsignal, scan=True)


patch, unpatch, is_patched = AREA.functions()
