"""Signals relayed to channels: the machinery under offset.signal (Go: os/signal).

What: ``notify(c, *signals)`` makes every later arrival of one of
``signals`` send the signal (a ``signal.Signals``) on channel ``c``;
``stop(c)`` ends that; ``ignore`` sets SIG_IGN; ``reset`` undoes notify
and ignore. Several channels may want one signal, one channel several
signals; each channel gets its own copy. The public face, with the rules
a program sees, is offset/signal.py.

Algorithm (Go's runtime/sigqueue.go and os/signal/signal.go, mapped):

1. While at least one channel wants signal ``n``, the process's handler
   for ``n`` is ``DISPATCH``, a Python handler that offset installs with
   ``_signal.signal``, unwrapped. Python calls it in the main thread,
   wherever the main thread happens to be: in the program's code, in a
   goroutine, in the scheduler's idle ``epoll_wait``, in a channel
   operation holding ``chanlock``. So it does the least Go's sighandler
   does: it appends ``n`` to ``_pending`` and releases ``_wake`` (Go:
   sig.mask and the note signal_recv sleeps on). Both are atomic under the
   GIL and take no lock, so the dispatcher is safe wherever it lands. It
   then calls the program's own handler for ``n``, if the program has one,
   through ``call_signal_handler``, which places it as every handler is
   placed under offset (deferred out of offset's code, run from the loop).
2. A *delivery thread* (Go's ``os/signal.loop`` goroutine blocked in
   ``signal_recv``) sleeps on ``_wake``. Woken, it takes ``_lock`` and, for
   each pending signal, sends it on every channel that wants it with a
   non-blocking send, ``select(c.if_send(sig), default)`` (Go's
   ``process``): a full channel, or an unbuffered one with no receiver
   ready, drops it. A send wakes a receiver wherever it waits: a
   goroutine of any scheduler (its remote queue and netpoller wake-up), or
   a plain thread. So a signal reaches an idle scheduler at once.
3. ``stop(c)`` takes ``_lock``, so once it returns no send to ``c`` is
   under way or to come; the signals already pending are delivered first,
   to ``c`` too (Go's ``handlers.stopping``).

Invariants (all under ``_lock``):

- ``_handlers[c]`` is the non-empty set of signals channel ``c`` wants;
  ``_ref[n]`` is how many channels want ``n`` (absent when none).
- ``n in _held`` iff offset.signal has its hand on signal ``n``: ``_ref[n]
  > 0`` (the dispatcher was installed) or ``n in _ignored`` (SIG_IGN was).
  ``_held[n]`` is the program's own handler for ``n``, as ``getsignal``
  would show it (a callable, ``Handlers.SIG_DFL``/``SIG_IGN``, or None for
  one installed from C): what ``reset``/``stop`` install again, and, while
  channels want ``n``, what the dispatcher calls after relaying it. The
  signal patch area reads and writes it (``program_handler``,
  ``set_program_handler``), so that ``signal.signal``/``getsignal`` keep
  the program's handler beside notify.
- The delivery thread runs while ``_running``; it is started by a notify
  that finds it stopped, and ends when it finds no channel wants anything.
  While it runs it is a live thread that may wake a goroutine, so no
  scheduler calls a deadlock: a goroutine waiting on a notify channel is
  not stuck, as in Go (where signal_recv keeps an M in a syscall and
  checkdead quiet).

Locking: ``_lock`` (a C RLock) is taken by notify/stop/ignore/reset and by
the delivery thread; the dispatcher never takes it (it may interrupt the
main thread holding it), and only reads ``_ref`` and ``_held`` (a dict
lookup is atomic under the GIL) and appends to ``_pending``. Reentrant,
because a program's handler that the dispatcher runs where it interrupted
a notify (no scheduler in the main thread) may itself call stop. Lock
order: ``_lock`` before ``chanlock`` (the sends); nothing takes ``_lock``
holding ``chanlock``. ``stop`` called from a goroutine may block its
thread for as long as one delivery pass, which never blocks.

A program that installs its own handler with the *unpatched*
``signal.signal`` while the dispatcher is there replaces it: the channels
get nothing more from that signal, and ``stop``/``reset`` then leave that
handler alone (it is not the dispatcher). The next ``notify`` for that
signal takes it back, keeping the program's handler as the one to call.

Rejected designs:
- Sending on the channels from the handler itself: it runs wherever the
  main thread was, possibly inside a channel operation holding
  ``chanlock`` (a C lock: the send would deadlock the thread), and with no
  scheduler in the main thread there is no loop to defer it to.
- Deferring the whole delivery to the main thread's scheduler loop
  (``call_signal_handler``): nothing delivers when the main thread runs no
  scheduler (a plain main thread blocked in ``c.recv()``, its goroutines
  in other threads), and the loop of a finished ``run()`` is gone.
- ``signal.set_wakeup_fd`` with a goroutine reading the pipe: there is one
  wake-up fd per process and programs (asyncio) own it; and the goroutine
  would belong to one scheduler, stopped when that ``run()`` ends.
- A netpoller fd per scheduler to keep deadlock detection quiet: a
  signal channel may be received from any scheduler or thread; the thread
  does that for all of them, as Go's one signal goroutine does.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # no stub: signal.py builds on it
import errno
import os
import signal as _stdsignal
import threading
from _thread import RLock as _RLock
from _thread import allocate_lock as _allocate_lock
from _thread import get_ident as _get_ident
from _thread import start_new_thread as _start_new_thread
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from ._chan import Chan
from ._errors import PanicError
from ._sched import call_signal_handler
from ._select import default, select

__all__ = [
    "DISPATCH",
    "NOT_HELD",
    "WrappedHandler",
    "program_handler",
    "set_handler_wrapping",
    "set_program_handler",
    "signal_ignore",
    "signal_ignored",
    "signal_notify",
    "signal_reset",
    "signal_stop",
]

# Bound at import, before any patch: _signal's functions are never patched
# (the patch area replaces signal.signal and signal.getsignal, the Python
# wrappers), and the locks must be the C ones.
_install: Callable[[int, Any], Any] = _signal.signal
_getsignal: Callable[[int], Any] = _signal.getsignal
_valid_signals: Callable[[], Any] = _signal.valid_signals
_SIG_DFL: int = _signal.SIG_DFL
_SIG_IGN: int = _signal.SIG_IGN
_default_int_handler: Any = _signal.default_int_handler
_Signals = _stdsignal.Signals
_Handlers = _stdsignal.Handlers

# Signals no program catches: installing a handler fails (EINVAL).
_UNCATCHABLE = frozenset(int(s) for s in (_signal.SIGKILL, _signal.SIGSTOP))
# Left out of notify() and ignore() with no signals: the synchronous fault
# signals (a Python handler for a real SIGSEGV returns into the faulting
# instruction, forever; Go turns them into panics), and for ignore(),
# SIGCHLD (SIG_IGN there makes the kernel reap children, and every
# waitpid then fails with ECHILD).
_FAULTS = frozenset(
    int(getattr(_signal, name)) for name in ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL") if hasattr(_signal, name)
)
_SIGCHLD: int | None = getattr(_signal, "SIGCHLD", None)

_MAIN_THREAD_ONLY = "signal only works in main thread of the main interpreter"

# A sentinel: the signal is not offset.signal's (the patch area then acts as the stdlib).
NOT_HELD: Any = object()


class WrappedHandler:
    """A program's Python handler as the signal patch area installs it.

    Calls ``call_signal_handler``, which decides where the handler runs (see
    "Signals" in offset/_core/_sched.py). Defined here so that offset.signal
    recognises a wrapped handler it finds installed, and can install the
    program's handler again wrapped while the patch is on.
    """

    __slots__ = ("handler",)

    def __init__(self, handler: Callable[[int, Any], Any]) -> None:
        self.handler = handler

    def __call__(self, signum: int, frame: Any) -> Any:
        return call_signal_handler(self.handler, signum, frame)

    def __repr__(self) -> str:
        return f"<offset signal handler for {self.handler!r}>"


class _Dispatcher:
    """The handler installed on every signal a channel wants (step 1 above)."""

    __slots__ = ()

    def __call__(self, signum: int, frame: Any) -> Any:
        if _ref.get(signum):
            _pending.append(signum)
            try:
                _wake.release()
            except RuntimeError:
                pass  # released already: a wake-up is pending, and it drains every signal
        h = _held.get(signum)
        if h is not None and callable(h) and h is not _default_int_handler:
            # The program's own handler (SIGINT's default KeyboardInterrupt is
            # not one: notify replaces the default action, as in Go).
            return call_signal_handler(h, signum, frame)
        return None

    def __repr__(self) -> str:
        return "<offset.signal dispatcher>"


DISPATCH = _Dispatcher()

# Reentrant: a program's handler that the dispatcher runs right where it
# interrupted notify/stop (no scheduler in the main thread) may call them.
_lock = _RLock()
_handlers: dict[Chan[Any], set[int]] = {}
_ref: dict[int, int] = {}
_held: dict[int, Any] = {}
_ignored: set[int] = set()
_pending: deque[int] = deque()
_wake = _allocate_lock()
_wake.acquire()  # locked: no wake-up pending
_running = False
# Whether a program's Python handler is installed wrapped (WrappedHandler):
# set by the signal patch area while it is on.
_wrapping = False


def set_handler_wrapping(on: bool) -> None:
    """Install programs' handlers wrapped from now on (the signal patch area is on) or not."""
    global _wrapping
    _wrapping = on


def _unwrap(h: Any) -> Any:
    return h.handler if type(h) is WrappedHandler else h


def _program_view(h: Any) -> Any:
    """A raw ``_signal.getsignal`` result as ``signal.getsignal`` shows it to the program."""
    h = _unwrap(h)
    if type(h) is int:
        try:
            return _Handlers(h)
        except ValueError:  # pragma: no cover - no other int is a handler
            return h
    return h


def _check_main_thread() -> None:
    if _get_ident() != threading.main_thread().ident:
        raise ValueError(_MAIN_THREAD_ONLY)


def _signum(fname: str, arg: str, s: Any) -> int:
    """``s`` as a signal number, or the error naming the argument."""
    if isinstance(s, bool) or not isinstance(s, int):
        raise TypeError(f"{fname}() argument '{arg}' must be a signal number (int), not {type(s).__name__}")
    n = int(s)
    _getsignal(n)  # the stdlib's ValueError: signal number out of range
    return n


def _signums(fname: str, signals: tuple[Any, ...]) -> list[int]:
    out: list[int] = []
    for s in signals:
        n = _signum(fname, "signals", s)
        if n not in out:
            out.append(n)
    return out


def _catchable(*, for_ignore: bool) -> list[int]:
    """The signals notify() or ignore() with no signals take (see _FAULTS).

    A signal whose handler was installed from C (``getsignal`` is None:
    faulthandler's, a C extension's) is left alone: Python could not put
    that handler back.
    """
    out = []
    for s in sorted(_valid_signals()):
        n = int(s)
        if n in _UNCATCHABLE or n in _FAULTS or (for_ignore and n == _SIGCHLD):
            continue
        if n not in _held:
            try:
                if _getsignal(n) is None:
                    continue
            except (OSError, ValueError):  # pragma: no cover - a number the OS lists but refuses
                continue
        out.append(n)
    return out


def _einval() -> OSError:
    return OSError(errno.EINVAL, os.strerror(errno.EINVAL))


# -- under _lock ---------------------------------------------------------


def _ours(n: int) -> bool:
    """Whether what is installed on ``n`` is what offset.signal installed."""
    current = _getsignal(n)
    return current is DISPATCH or (n in _ignored and current == _SIG_IGN)


def _take(n: int) -> None:
    """Have a hand on ``n``: remember the program's handler, unless we hold it already.

    Held, but replaced behind our back (by the unpatched signal.signal):
    what is there now is the program's handler.
    """
    if n not in _held or not _ours(n):
        _held[n] = _program_view(_getsignal(n))


def _enable(n: int) -> None:
    """Go's enableSignal: the dispatcher on ``n``. Caller counts ``_ref``."""
    _take(n)
    _ignored.discard(n)
    if _getsignal(n) is not DISPATCH:
        _install(n, DISPATCH)


def _disable(n: int) -> None:
    """Go's disableSignal: the program's handler on ``n`` again; forget ``n``."""
    if n not in _held:
        return
    if _ours(n):
        h = _held[n]
        if h is None:
            h = _SIG_DFL  # installed from C: Python cannot put it back
        elif isinstance(h, int):
            h = int(h)  # _signal wants an exact int, not a Handlers member
        elif callable(h) and _wrapping:
            h = WrappedHandler(h)
        _install(n, h)
    del _held[n]
    _ignored.discard(n)


def _ignore(n: int) -> None:
    """Go's ignoreSignal: SIG_IGN on ``n``."""
    _take(n)
    _install(n, _SIG_IGN)
    _ignored.add(n)


def _remove(n: int) -> None:
    """No channel wants ``n`` any more (Go's cancel's remove)."""
    for c in list(_handlers):
        sigs = _handlers[c]
        if n in sigs:
            sigs.discard(n)
            if not sigs:
                del _handlers[c]
    _ref.pop(n, None)


def _send(c: Chan[Any], value: Any) -> None:
    try:
        select(c.if_send(value), default)
    except PanicError:
        pass  # closed: Go's signal goroutine would panic and end the program


def _deliver_pending(stopping: Iterable[tuple[Chan[Any], set[int]]] = ()) -> None:
    """Go's process(), for each pending signal: non-blocking sends."""
    while _pending:
        n = _pending.popleft()
        try:
            value: Any = _Signals(n)
        except ValueError:
            value = n  # a real-time signal with no name
        for c, sigs in list(_handlers.items()):
            if n in sigs:
                _send(c, value)
        for c, sigs in stopping:
            if n in sigs:
                _send(c, value)


def _wake_thread() -> None:
    try:
        _wake.release()
    except RuntimeError:  # the one error a C lock's release() raises: a wake-up is pending already
        pass


def _start_thread() -> None:
    global _running
    if not _running:
        _running = True
        _start_new_thread(_delivery_loop, (_wake,))


def _delivery_loop(wake: Any) -> None:
    """The delivery thread (Go's os/signal.loop): step 2 above."""
    global _running
    while True:
        wake.acquire()
        with _lock:
            if wake is not _wake:  # pragma: no cover - a fork made a new one; this thread is not in that child
                return
            _deliver_pending()
            if not _handlers:
                _running = False
                return


# -- the operations --------------------------------------------------------


def signal_notify(c: Any, signals: tuple[Any, ...]) -> None:
    """offset.signal.notify; see there."""
    if c is None:
        raise PanicError("os/signal: Notify using nil channel")
    if not isinstance(c, Chan):
        raise TypeError(f"notify() argument 'c' must be a channel (offset.Chan), not {type(c).__name__}")
    ns = _signums("notify", signals)
    for n in ns:
        if n in _UNCATCHABLE:
            raise _einval()
    _check_main_thread()
    with _lock:
        if not ns:
            ns = _catchable(for_ignore=False)
        sigs = _handlers.setdefault(c, set())
        try:
            for n in ns:
                if n in sigs and _getsignal(n) is DISPATCH:
                    continue
                was_held = n in _held
                try:
                    _enable(n)
                except OSError:
                    if signals:
                        raise
                    if not was_held:
                        _held.pop(n, None)  # all signals: one the OS refuses is left out
                    continue
                if n not in sigs:
                    sigs.add(n)
                    _ref[n] = _ref.get(n, 0) + 1
        finally:
            if not sigs:
                del _handlers[c]
        if _handlers:
            _start_thread()


def signal_stop(c: Any) -> None:
    """offset.signal.stop; see there."""
    if c is None:
        return  # Go: a nil channel was never registered
    if not isinstance(c, Chan):
        raise TypeError(f"stop() argument 'c' must be a channel (offset.Chan), not {type(c).__name__}")
    with _lock:
        sigs = _handlers.get(c)
        if sigs is None:
            return
        _check_main_thread()
        del _handlers[c]
        for n in sorted(sigs):
            left = _ref.get(n, 0) - 1
            if left > 0:
                _ref[n] = left
            else:
                _ref.pop(n, None)
                _disable(n)
        # Signals the dispatcher took before the handlers changed still go
        # to c (Go: handlers.stopping); none comes after.
        _deliver_pending(((c, sigs),))
        if not _handlers:
            _wake_thread()  # it ends


def _cancel(fname: str, signals: tuple[Any, ...], action: Callable[[int], None], *, for_ignore: bool) -> None:
    """Go's cancel: no channel wants ``signals`` any more; then ``action`` on each."""
    ns = _signums(fname, signals)
    if for_ignore:
        for n in ns:
            if n in _UNCATCHABLE:
                raise _einval()
    _check_main_thread()
    with _lock:
        if not ns:
            ns = _catchable(for_ignore=True) if for_ignore else sorted(_held)
        _deliver_pending()
        for n in ns:
            _remove(n)
            was_held = n in _held
            try:
                action(n)
            except OSError:
                if signals:
                    raise
                if not was_held:
                    _held.pop(n, None)  # all signals: one the OS refuses is left out
        if not _handlers:
            _wake_thread()


def signal_ignore(signals: tuple[Any, ...]) -> None:
    """offset.signal.ignore; see there."""
    _cancel("ignore", signals, _ignore, for_ignore=True)


def signal_reset(signals: tuple[Any, ...]) -> None:
    """offset.signal.reset; see there."""
    _cancel("reset", signals, _disable, for_ignore=False)


def signal_ignored(sig: Any) -> bool:
    """offset.signal.ignored; see there."""
    n = _signum("ignored", "sig", sig)
    return bool(_getsignal(n) == _SIG_IGN)


# -- for the signal patch area ----------------------------------------------


def program_handler(signum: Any) -> Any:
    """The program's handler for ``signum`` while channels want it; else NOT_HELD.

    What the patched ``signal.getsignal`` returns: the dispatcher is
    offset's, not the program's.
    """
    if isinstance(signum, int) and _ref.get(int(signum)):
        return _held.get(int(signum), NOT_HELD)
    return NOT_HELD


def set_program_handler(signum: Any, handler: Any) -> Any:
    """The patched ``signal.signal`` on a signal channels want: keep the dispatcher.

    Records ``handler`` as the program's (the dispatcher calls it after
    relaying the signal; stop/reset install it) and returns the previous
    one, as ``signal.signal`` does. NOT_HELD when no channel wants
    ``signum``: the caller installs ``handler`` as the stdlib would. Raises
    the stdlib's errors: a handler that is not SIG_DFL, SIG_IGN or a
    callable, a call outside the main thread.
    """
    if not isinstance(signum, int) or not _ref.get(int(signum)):
        return NOT_HELD
    n = int(signum)
    with _lock:
        if not _ref.get(n):
            return NOT_HELD
        if not (callable(handler) or (isinstance(handler, int) and handler in (_SIG_DFL, _SIG_IGN))):
            _install(n, handler)  # raises the stdlib's TypeError, and installs nothing
        _install(n, DISPATCH)  # the stdlib's ValueError outside the main thread; else a no-op
        previous = _held.get(n)
        _held[n] = _program_view(handler)
        return previous


def _after_fork_in_child() -> None:
    """The child of a fork: fresh locks, no delivery thread (start one if needed)."""
    global _lock, _wake, _running
    _lock = _RLock()
    _wake = _allocate_lock()
    _wake.acquire()
    _pending.clear()
    _running = False
    if _handlers:
        _start_thread()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
