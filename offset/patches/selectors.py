"""Patches for the selectors module: ``select()`` parks only the goroutine.

Replaces the ``select`` method of ``selectors.SelectSelector``,
``PollSelector``, ``EpollSelector``, ``DevpollSelector`` and
``KqueueSelector`` (those the platform has; ``DefaultSelector`` is one of
them). The selectors hold the select module's originals they were made
with (``EpollSelector._selector_cls`` is bound when selectors is imported,
which socket.py does early), so this area does not depend on the select
area.

Inside a goroutine while its scheduler runs, ``select(timeout)`` asks its
selector with a timeout of 0; if nothing is ready it waits in the netpoller
(on the epoll or kqueue fd itself, which is readable exactly when the set
has events; for select and poll selectors, on each registered fd for the
events registered), then asks again, until something is ready or the
timeout expires. What it returns is what the original returns. Everywhere
else, and for a timeout of 0 or less, it is the original.

This is what socketserver's ``serve_forever``, subprocess's
``communicate`` and socket.py's ``sendfile`` wait with.
"""

from __future__ import annotations

import selectors as _selectors
from collections.abc import Callable
from typing import Any

from .._core import current_goroutine, wait_fd, wait_fds
from . import _registry
from ._deadline import NOT_READY, retry

__all__ = ["patch", "unpatch", "is_patched"]

AREA = _registry.Area("selectors", __name__, "``select()`` of the selector classes")

_READ = _selectors.EVENT_READ
_WRITE = _selectors.EVENT_WRITE
# Selectors whose own fd is readable when events are ready.
_FD_SELECTORS = tuple(
    getattr(_selectors, name) for name in ("EpollSelector", "KqueueSelector") if hasattr(_selectors, name)
)
_CLASSES = [
    name
    for name in ("SelectSelector", "PollSelector", "EpollSelector", "DevpollSelector", "KqueueSelector")
    if hasattr(_selectors, name)
]


def _select_args(timeout: Any = None) -> Any:
    return timeout


def _select(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if current_goroutine() is None:
        return wrapped(*args, **kwargs)
    try:
        timeout = _select_args(*args, **kwargs)
        parsed = True
    except TypeError:
        parsed = False
    if not parsed:
        return wrapped(*args, **kwargs)  # raises the stdlib's TypeError
    if timeout is not None:
        if not isinstance(timeout, (int, float)) or timeout != timeout or timeout <= 0:
            return wrapped(*args, **kwargs)  # never blocks, or raises

    def wait(remaining: float | None) -> bool:
        if isinstance(instance, _FD_SELECTORS):
            try:
                return wait_fd(instance.fileno(), "r", remaining, instance)
            except OSError:
                return True  # closed under us: the next select says so
        pairs = []
        for key in (instance.get_map() or {}).values():
            if key.events & _READ:
                pairs.append((key.fd, "r"))
            if key.events & _WRITE:
                pairs.append((key.fd, "w"))
        return wait_fds(pairs, remaining)

    return retry(lambda: wrapped(0) or NOT_READY, wait, timeout, lambda: wrapped(0))


def _make_select(original: Any) -> Any:
    return _registry.function_wrapper(original, _select)


for _name in _CLASSES:
    AREA.define("selectors", f"{_name}.select", _make_select)
del _name


patch, unpatch, is_patched = AREA.functions()
