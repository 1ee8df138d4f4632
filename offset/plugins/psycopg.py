"""psycopg 3 under offset: its waits for the server go through the netpoller.

What: psycopg runs every operation as a generator that does the libpq work
without blocking and yields what it must wait for (``Wait.R``, ``Wait.W``
or ``Wait.RW``); a *wait function* waits on the connection's socket and
sends back what is ready (``Ready.NONE/R/W/RW``) until the generator
returns. ``psycopg.waiting`` chooses the wait function once, at import:
``wait_c``, which waits in ``poll(2)`` in C, unless it sees gevent's
monkey-patching (``_is_select_patched``, which knows only gevent), else
``wait_poll`` and friends. So under offset every query blocks the whole
scheduler's thread for the server's answer. Connecting goes through
``waiting.wait_conn`` (a ``selectors`` loop in Python, cooperative only
while the selectors area is patched).

This plugin replaces ``psycopg.waiting.wait`` and ``psycopg.waiting.wait_conn``
(the connection calls them as ``waiting.wait(...)`` at call time) with
functions that, called from a goroutine, park only that goroutine on the
netpoller with ``offset._core.wait_fd`` / ``wait_fds``; called anywhere
else (a plain thread, before ``run()``) they call the original. The async
variants (``wait_async``, ``wait_conn_async``) are asyncio's business and
are left alone.

The generator protocol, as psycopg's own Python wait functions
(``wait_poll``, ``wait_conn``) keep it, which this follows:

1. ``next(gen)`` gives the first wait state (for ``wait_conn``: the pair
   ``(fileno, state)``; the connection's fd may change while connecting).
2. Wait for the state, at most ``interval`` seconds (and not past the
   deadline); send the ready state, ``Ready.NONE`` when the interval
   elapsed with nothing ready. The generator answers with the next state
   (on ``Ready.NONE``, the same one again).
3. With a ``timeout``, after each send: past the deadline, raise
   ``psycopg.errors._WaitTimeout("wait timeout expired")``. A timeout of 0
   looks once without waiting.
4. ``StopIteration``'s value is the result.

What is ready is decided by a look that does not block (``poll`` with a
zero timeout) after the wait: readable, writable or both; an fd in error or
hung up with nothing to read raises ``OperationalError("connection socket
closed")``, as ``wait_poll`` does. An OSError from the wait itself (the fd
closed under it) is the same ``OperationalError``, as ``wait_async`` does.
The fd is armed without an owner (``wait_fd``'s ``owner=None``): libpq owns
and closes it behind offset's back, so it is registered afresh each wait.

Differences from ``wait_c``, by design: ``interval`` only bounds how long
one wait lasts before ``Ready.NONE`` is sent (psycopg uses it to notice
Ctrl-C; under offset a signal's exception reaches a parked goroutine
anyway). An interval of 0 or None means no periodic wake-up, where
psycopg's C loop would poll without sleeping (psycopg 3.3) and raise for
None: a goroutine must never spin without switching.

Needs psycopg 3.2 or later (the ``interval`` protocol); on 3.1 the plugin
fails with a PluginWarning and psycopg blocks its thread as before.

Registered in ``offset.plugins.BUILTIN`` (so it works from a source
checkout) and as the ``psycopg`` entry point of the ``offset.plugins``
group in pyproject.toml; it runs once either way.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import select as _select
from collections.abc import Callable, Generator
from time import monotonic
from types import ModuleType
from typing import Any, TypeVar

from .._core import current_goroutine, wait_fd, wait_fds

__all__ = ["apply"]

RV = TypeVar("RV")

_UNSET: Any = object()


class _Protocol:
    """What the wait loop needs from one psycopg: its states and errors."""

    def __init__(self, waiting: ModuleType, errors: ModuleType) -> None:
        ready = waiting.Ready
        wait = waiting.Wait
        self.ready = ready  # Ready(bits): the member psycopg's own loops send
        self.READY_NONE = ready.NONE
        self.READY_R = ready.R
        self.READY_W = ready.W
        self.READY_RW = ready.RW
        self.WAIT_R = wait.R
        self.WAIT_W = wait.W
        self.WAIT_RW = wait.RW
        self.errors = errors

    def wait_timeout(self) -> BaseException:
        cls = getattr(self.errors, "_WaitTimeout", None) or self.errors.OperationalError
        exc: BaseException = cls("wait timeout expired")
        return exc

    def socket_closed(self) -> BaseException:
        exc: BaseException = self.errors.OperationalError("connection socket closed")
        return exc


def _seconds(interval: Any) -> float | None:
    """How long one wait may last: None for no periodic wake-up."""
    if interval is _UNSET or interval is None:
        return None
    t = float(interval)
    return t if t > 0 else None


def _look(p: _Protocol, fileno: int, state: int) -> Any:
    """What is ready now for ``state``, without blocking (wait_poll's rules)."""
    mask = 0
    if state & p.WAIT_R:
        mask |= _select.POLLIN
    if state & p.WAIT_W:
        mask |= _select.POLLOUT
    poller = _select.poll()
    poller.register(fileno, mask)
    bits = 0
    for _, ev in poller.poll(0):
        if ev & _select.POLLIN:
            bits |= p.READY_R
        if ev & _select.POLLOUT:
            bits |= p.READY_W
        if not bits and ev & ~(_select.POLLIN | _select.POLLOUT):
            try:
                os.fstat(fileno)
            except OSError as e:
                raise p.socket_closed() from e
            raise p.socket_closed()
    return p.ready(bits)


def _wait_once(p: _Protocol, fileno: int, state: int, seconds: float | None) -> Any:
    """Park until ``fileno`` is ready for ``state`` or ``seconds`` pass; then look."""
    if seconds is None or seconds > 0:
        try:
            if state == p.WAIT_R:
                fired = wait_fd(fileno, "r", seconds)
            elif state == p.WAIT_W:
                fired = wait_fd(fileno, "w", seconds)
            elif state == p.WAIT_RW:
                fired = wait_fds([(fileno, "r"), (fileno, "w")], seconds)
            else:
                raise p.errors.InternalError(f"bad poll status: {state}")
        except OSError as e:
            raise p.socket_closed() from e
        if not fired:
            return p.READY_NONE
    return _look(p, fileno, state)


def _deadline_wait(deadline: float | None, interval: float | None) -> float | None:
    if deadline is None:
        return interval
    left = max(0.0, deadline - monotonic())
    return left if interval is None else min(interval, left)


def _wait(p: _Protocol, gen: Generator[Any, Any, RV], fileno: int, interval: Any, timeout: Any) -> RV:
    """``waiting.wait`` in a goroutine: fd fixed, the generator yields states."""
    period = _seconds(interval)
    deadline = None if timeout is _UNSET or timeout is None else monotonic() + float(timeout)
    try:
        state = next(gen)
        while True:
            ready = _wait_once(p, fileno, state, _deadline_wait(deadline, period))
            state = gen.send(ready)
            if deadline is not None and monotonic() >= deadline:
                raise p.wait_timeout()
    except StopIteration as ex:
        rv: RV = ex.value
        return rv


def _wait_conn(p: _Protocol, gen: Generator[Any, Any, RV], interval: Any, timeout: Any) -> RV:
    """``waiting.wait_conn`` in a goroutine: the generator yields (fd, state)."""
    period = _seconds(interval)
    deadline = None if timeout is _UNSET or timeout is None else monotonic() + float(timeout)
    try:
        fileno, state = next(gen)
        while True:
            ready = _wait_once(p, fileno, state, _deadline_wait(deadline, period))
            fileno, state = gen.send(ready)
            if deadline is not None and monotonic() >= deadline:
                raise p.wait_timeout()
    except StopIteration as ex:
        rv: RV = ex.value
        return rv


def _given(interval: Any, timeout: Any) -> dict[str, Any]:
    """The keyword arguments the caller passed, for the original."""
    kwargs: dict[str, Any] = {}
    if interval is not _UNSET:
        kwargs["interval"] = interval
    if timeout is not _UNSET:
        kwargs["timeout"] = timeout
    return kwargs


def apply(psycopg: ModuleType) -> Callable[[], None]:
    """The plugin: make ``psycopg``'s blocking waits park only the goroutine.

    Called by offset.plugins with the imported ``psycopg`` package; returns
    the function that puts psycopg's own wait functions back.

    Raises:
        RuntimeError: this psycopg predates the protocol followed here (3.2).
    """
    waiting = importlib.import_module(psycopg.__name__ + ".waiting")
    errors = importlib.import_module(psycopg.__name__ + ".errors")
    original_wait = getattr(waiting, "wait")
    original_wait_conn = getattr(waiting, "wait_conn")
    if "interval" not in inspect.signature(original_wait_conn).parameters:
        version = getattr(psycopg, "__version__", "?")
        raise RuntimeError(f"offset's psycopg plugin needs psycopg 3.2 or later, not {version}")
    p = _Protocol(waiting, errors)

    def wait(gen: Generator[Any, Any, RV], fileno: int, interval: Any = _UNSET, timeout: Any = _UNSET) -> RV:
        if current_goroutine() is None:
            result: RV = original_wait(gen, fileno, **_given(interval, timeout))
            return result
        return _wait(p, gen, fileno, interval, timeout)

    def wait_conn(gen: Generator[Any, Any, RV], interval: Any = _UNSET, timeout: Any = _UNSET) -> RV:
        if current_goroutine() is None:
            result: RV = original_wait_conn(gen, **_given(interval, timeout))
            return result
        return _wait_conn(p, gen, interval, timeout)

    functools.update_wrapper(wait, original_wait)
    functools.update_wrapper(wait_conn, original_wait_conn)
    setattr(waiting, "wait", wait)
    setattr(waiting, "wait_conn", wait_conn)

    def undo() -> None:
        # Put back only what is still ours: something that replaced it since
        # keeps its place.
        if getattr(waiting, "wait") is wait:
            setattr(waiting, "wait", original_wait)
        if getattr(waiting, "wait_conn") is wait_conn:
            setattr(waiting, "wait_conn", original_wait_conn)

    return undo
