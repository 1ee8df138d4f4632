"""Patches for the select module: waiting on many fds parks only the goroutine.

Replaces ``select.select``, ``select.poll`` and (Linux) ``select.epoll``.
Inside a goroutine while its scheduler runs:

- ``select.select(r, w, x, timeout)`` first asks the OS with a timeout of 0
  (which also checks the arguments, with the stdlib's errors); if nothing
  is ready it waits in the netpoller for the fds of ``r`` (readable) and
  ``w`` (writable), then asks again. ``x`` (exceptional conditions) has no
  netpoller mode: an fd in ``x`` that is also in ``r`` is covered by the
  read wait; if ``x`` holds any other fd, the whole call runs on the thread
  pool instead, with the stdlib's semantics unchanged.
- ``select.poll()`` returns a poll object whose ``poll(timeout)`` does the
  same with the registered fds; ``register``, ``modify`` and ``unregister``
  are the real object's. An event mask with neither read nor write bits
  (POLLPRI alone) makes that call run on the thread pool.
- ``select.epoll(...)`` returns an epoll object whose ``poll`` waits in the
  netpoller on the epoll fd itself, which is readable exactly when the
  epoll set has events: edge-triggered and oneshot registrations behave as
  they do without offset.

Return values, timeouts (seconds for select and epoll, milliseconds for
poll; None or a negative poll/epoll timeout waits without limit) and the
errors for bad arguments and bad fds are the stdlib's. Outside a goroutine
the poll and epoll objects call straight through to the real ones, and
select.select is the original.

Not the same: ``type()`` of a patched poll or epoll object is offset's
class (``isinstance(obj, select.epoll)`` holds while patched), and the
``x`` fallback above takes a pool thread for as long as the call waits.
"""

from __future__ import annotations

import operator
import select as _select
from collections.abc import Callable
from typing import Any

from .._core import blocking_call, current_goroutine, notify_close, wait_fd, wait_fds
from . import _registry
from ._deadline import NOT_READY, retry

__all__ = ["patch", "unpatch", "is_patched"]

AREA = _registry.Area("select", __name__, "``select.select``, ``select.poll`` and ``select.epoll``")

# Timeouts at or past these, in the argument's own unit, are left to the
# original, which raises OverflowError for most of them.
_SELECT_MAX = 1e9  # seconds
_POLL_MAX = 2**31 - 1  # milliseconds (a C int)
_EPOLL_MAX = (2**31 - 1) / 1000  # seconds (a C int of milliseconds)

_POLL_READ = sum(getattr(_select, n, 0) for n in ("POLLIN", "POLLPRI", "POLLRDNORM", "POLLRDBAND"))
_POLL_WRITE = sum(getattr(_select, n, 0) for n in ("POLLOUT", "POLLWRNORM", "POLLWRBAND"))
_POLL_PRI = getattr(_select, "POLLPRI", 0)
_POLL_DEFAULT = getattr(_select, "POLLIN", 0) | _POLL_PRI | getattr(_select, "POLLOUT", 0)


def _seconds(timeout: Any, scale: float, limit: float, negative_is_forever: bool) -> tuple[bool, float | None]:
    """(valid, seconds) for a timeout argument; seconds None means forever.

    ``valid`` is False for anything the original should see for itself:
    a wrong type, NaN, a negative select timeout, a huge value. The
    original then raises the stdlib's error without blocking.
    """
    if timeout is None:
        return True, None
    if isinstance(timeout, float):
        value = timeout
    else:
        try:
            value = operator.index(timeout)
        except TypeError:
            return False, None
    if value != value or abs(value) >= limit:
        return False, None
    if value < 0:
        return (True, None) if negative_is_forever else (False, None)
    return True, value * scale


def _fd(obj: Any) -> int:
    """An fd as select takes it: an int, or what ``fileno()`` returns."""
    if isinstance(obj, int):
        return int(obj)
    fd: int = obj.fileno()
    return fd


# -- select.select -----------------------------------------------------------


def _select_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if current_goroutine() is None or kwargs or not 3 <= len(args) <= 4:
        return wrapped(*args, **kwargs)
    valid, secs = _seconds(args[3] if len(args) == 4 else None, 1.0, _SELECT_MAX, negative_is_forever=False)
    if not valid:
        return wrapped(*args)
    lists = []
    for seq in args[:3]:
        if type(seq) is not list and type(seq) is not tuple:
            try:
                seq = list(seq)  # an iterator is read once, so keep what it gave
            except TypeError:
                seq = None
            if seq is None:
                # Called outside the except clause, so that the stdlib's
                # TypeError carries no __context__ of ours.
                return wrapped(*args)
        lists.append(seq)
    rl, wl, xl = lists
    result = wrapped(rl, wl, xl, 0)
    if result[0] or result[1] or result[2] or secs == 0:
        return result
    rfds = [_fd(o) for o in rl]
    if xl:
        known = set(rfds)
        if any(_fd(o) not in known for o in xl):
            return blocking_call(wrapped, rl, wl, xl, secs)
    pairs = [(fd, "r") for fd in rfds] + [(_fd(o), "w") for o in wl]

    def look() -> Any:
        return wrapped(rl, wl, xl, 0)

    def attempt() -> Any:
        result = look()
        return result if result[0] or result[1] or result[2] else NOT_READY

    return retry(attempt, lambda remaining: wait_fds(pairs, remaining), secs, look, wait_first=True)


# -- select.poll -------------------------------------------------------------


class poll:
    """A ``select.poll`` object whose ``poll()`` parks only the goroutine.

    Made only by the patched ``select.poll()``, as the stdlib's poll type
    is: calling the type or subclassing it raises the stdlib's TypeError.
    """

    __slots__ = ("_poll", "_masks", "_running")
    _poll: Any  # the real select.poll object
    _masks: dict[int, int]  # fd -> event mask registered
    _running: bool  # a poll() waits (the stdlib refuses a second at once)

    def __new__(cls, *args: Any, **kwargs: Any) -> poll:
        raise TypeError("cannot create 'select.poll' instances")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("type 'select.poll' is not an acceptable base type")

    @classmethod
    def _wrap(cls, real: Any) -> poll:
        self = object.__new__(cls)
        self._poll = real
        self._masks = {}
        self._running = False
        return self

    def register(self, *args: Any, **kwargs: Any) -> Any:
        result = self._poll.register(*args, **kwargs)
        self._masks[_fd(args[0])] = args[1] if len(args) > 1 else _POLL_DEFAULT
        return result

    def modify(self, *args: Any, **kwargs: Any) -> Any:
        result = self._poll.modify(*args, **kwargs)
        self._masks[_fd(args[0])] = args[1]
        return result

    def unregister(self, *args: Any, **kwargs: Any) -> Any:
        result = self._poll.unregister(*args, **kwargs)
        self._masks.pop(_fd(args[0]), None)
        return result

    def poll(self, *args: Any, **kwargs: Any) -> Any:
        real = self._poll
        if current_goroutine() is None or kwargs or len(args) > 1:
            return real.poll(*args, **kwargs)
        if self._running:
            raise RuntimeError("concurrent poll() invocation")
        valid, secs = _seconds(args[0] if args else None, 1e-3, _POLL_MAX, negative_is_forever=True)
        if not valid:
            return real.poll(*args)
        result = real.poll(0)
        if result or secs == 0:
            return result
        pairs = []
        for fd, mask in self._masks.items():
            if mask & _POLL_READ & ~_POLL_PRI:
                pairs.append((fd, "r"))
            if mask & _POLL_WRITE:
                pairs.append((fd, "w"))
            if not mask & (_POLL_READ & ~_POLL_PRI | _POLL_WRITE):
                # POLLPRI alone, or only errors: no netpoller mode for it.
                return blocking_call(real.poll, *args)
        self._running = True
        try:
            return retry(
                lambda: real.poll(0) or NOT_READY,
                lambda remaining: wait_fds(pairs, remaining),
                secs,
                lambda: real.poll(0),
                wait_first=True,
            )
        finally:
            self._running = False


def _poll_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return poll._wrap(wrapped(*args, **kwargs))


# -- select.epoll ------------------------------------------------------------


def _epoll_args(timeout: Any = None, maxevents: Any = -1) -> tuple[Any, Any]:
    return timeout, maxevents


class epoll:
    """A ``select.epoll`` object whose ``poll()`` parks only the goroutine."""

    __slots__ = ("_ep", "__weakref__")
    # For wrapt's unwrap_object: the class this one stands in for (set below).
    __wrapped__: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._ep = _real_epoll(*args, **kwargs)

    @classmethod
    def fromfd(cls, fd: int) -> epoll:
        self = cls.__new__(cls)
        self._ep = _real_epoll.fromfd(fd)
        return self

    @property
    def closed(self) -> bool:
        closed: bool = self._ep.closed
        return closed

    def fileno(self) -> int:
        fd: int = self._ep.fileno()
        return fd

    def close(self) -> None:
        if not self._ep.closed:
            notify_close(self._ep.fileno())
        self._ep.close()

    def register(self, *args: Any, **kwargs: Any) -> None:
        self._ep.register(*args, **kwargs)

    def modify(self, *args: Any, **kwargs: Any) -> None:
        self._ep.modify(*args, **kwargs)

    def unregister(self, *args: Any, **kwargs: Any) -> None:
        self._ep.unregister(*args, **kwargs)

    def __enter__(self) -> epoll:
        self._ep.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def poll(self, *args: Any, **kwargs: Any) -> list[tuple[int, int]]:
        ep = self._ep
        if current_goroutine() is None:
            result: list[tuple[int, int]] = ep.poll(*args, **kwargs)
            return result
        try:
            timeout, maxevents = _epoll_args(*args, **kwargs)
            parsed = True
        except TypeError:
            parsed = False
        if not parsed:
            return ep.poll(*args, **kwargs)  # type: ignore[no-any-return]  # raises the stdlib's TypeError
        valid, secs = _seconds(timeout, 1.0, _EPOLL_MAX, negative_is_forever=True)
        if not valid:
            return ep.poll(*args, **kwargs)  # type: ignore[no-any-return]
        result = ep.poll(0, maxevents)
        if result or secs == 0:
            return result

        def wait(remaining: float | None) -> bool:
            try:
                return wait_fd(ep.fileno(), "r", remaining, self)
            except OSError:
                return True  # closed under us: the next poll says so

        return retry(  # type: ignore[no-any-return]
            lambda: ep.poll(0, maxevents) or NOT_READY, wait, secs, lambda: ep.poll(0, maxevents), wait_first=True
        )

    def __repr__(self) -> str:
        return f"<offset-patched {self._ep!r}>"


epoll.__module__ = poll.__module__ = "select"
_real_epoll: Any = getattr(_select, "epoll", None)


def _make_epoll(original: Any) -> Any:
    global _real_epoll
    _real_epoll = original
    epoll.__wrapped__ = original
    return epoll


AREA.define("select", "select", lambda original: _registry.function_wrapper(original, _select_wrapper), scan=True)
if hasattr(_select, "poll"):
    AREA.define("select", "poll", lambda original: _registry.function_wrapper(original, _poll_wrapper), scan=True)
if hasattr(_select, "epoll"):
    AREA.define("select", "epoll", _make_epoll, scan=True)


patch, unpatch, is_patched = AREA.functions()
