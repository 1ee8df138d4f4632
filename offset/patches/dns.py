"""Patches for name resolution: the resolver runs on offset's thread pool.

Replaces ``socket.getaddrinfo``, ``socket.gethostbyname``,
``socket.gethostbyname_ex``, ``socket.gethostbyaddr`` and
``socket.getnameinfo``. Inside a goroutine while its scheduler runs, the
original call runs on a pool thread (``offset.syscall``'s pool, sized by
OFFSET_MAX_THREADS) and only the calling goroutine waits: the C resolver
cannot be made non-blocking, so this is Go's cgo resolver, not its pure-Go
one. A numeric host (``"127.0.0.1"``, ``"::1"``, None) given to getaddrinfo
or gethostbyname is answered in place: the C library answers those without
the network, and a pool round trip would cost more than the call.

Results and exceptions (``socket.gaierror``, ``socket.herror``, the
TypeError for a wrong argument) are the originals', raised with the
caller's traceback, not the pool thread's. Everywhere else
the original is called directly.
"""

from __future__ import annotations

import _socket
from collections.abc import Callable
from typing import Any

from .._core import blocking_call, current_goroutine
from . import _registry

__all__ = ["patch", "unpatch", "is_patched"]

AREA = _registry.Area("dns", __name__, "resolver functions (``socket.getaddrinfo`` and the rest)")

_inet_pton: Callable[[int, str], bytes] | None = getattr(_socket, "inet_pton", None)
_FAMILIES = [f for f in (getattr(_socket, "AF_INET", None), getattr(_socket, "AF_INET6", None)) if f is not None]


def _numeric(host: Any) -> bool:
    """Whether ``host`` is None or an IP address literal (no resolver needed)."""
    if host is None:
        return True
    if type(host) is bytes:
        try:
            host = host.decode("ascii")
        except UnicodeDecodeError:
            return False
    if type(host) is not str or _inet_pton is None or "%" in host:
        return False
    for family in _FAMILIES:
        try:
            _inet_pton(family, host)
        except OSError:
            continue
        return True
    return False


def _on_pool(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if current_goroutine() is None:
        return wrapped(*args, **kwargs)
    try:
        return blocking_call(wrapped, *args, **kwargs)
    except BaseException:
        del args, kwargs  # the stdlib's traceback holds no reference to them
        raise


def _on_pool_unless_numeric(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if current_goroutine() is None:
        return wrapped(*args, **kwargs)
    host = args[0] if args else kwargs.get("host", kwargs.get("hostname"))
    if (args or kwargs) and _numeric(host):
        return wrapped(*args, **kwargs)
    try:
        return blocking_call(wrapped, *args, **kwargs)
    except BaseException:
        del args, kwargs, host
        raise


def _factory(wrapper: Callable[..., Any]) -> Callable[[Any], Any]:
    def make(original: Any) -> Any:
        return _registry.function_wrapper(original, wrapper)

    return make


AREA.define("socket", "getaddrinfo", _factory(_on_pool_unless_numeric), scan=True)
AREA.define("socket", "gethostbyname", _factory(_on_pool_unless_numeric), scan=True)
for _name in ("gethostbyname_ex", "gethostbyaddr", "getnameinfo"):
    AREA.define("socket", _name, _factory(_on_pool), scan=True)
del _name


patch, unpatch, is_patched = AREA.functions()
