"""Patches for name resolution: the resolver runs on offset's thread pool.

Replaces ``socket.getaddrinfo``, ``socket.gethostbyname``,
``socket.gethostbyname_ex``, ``socket.gethostbyaddr`` and
``socket.getnameinfo``. Inside a goroutine while its scheduler runs, the
original call runs on a pool thread (``offset.syscall``'s pool, sized by
OFFSET_MAX_THREADS) and only the calling goroutine waits: the C resolver
cannot be made non-blocking, so this is Go's cgo resolver, not its pure-Go
one. A host the C code answers without a lookup, given to getaddrinfo
(an address literal, ``"127.0.0.1"`` or ``"::1"``, or None) or
gethostbyname (an IPv4 literal, ``""`` or ``"<broadcast>"``), is answered
in place: a pool round trip would cost more than the call. Which hosts
those are is ``_hostname``'s one check, shared with the socket area.

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
from ._hostname import encoded, literal, setipaddr_answers

__all__ = ["patch", "unpatch", "is_patched"]

AREA = _registry.Area("dns", __name__, "resolver functions (``socket.getaddrinfo`` and the rest)")

_AF_INET = _socket.AF_INET
_AF_UNSPEC: int = getattr(_socket, "AF_UNSPEC", 0)


def _getaddrinfo_answers(host: Any) -> bool:
    """Whether getaddrinfo answers ``host`` without a lookup (see _hostname).

    The C code hands the C library None (the local addresses) or the
    encoded host, which it answers itself when it is an address literal
    of either family.
    """
    if host is None:
        return True
    name = encoded(host)
    return name is not None and literal(name, _AF_UNSPEC)


def _gethostbyname_answers(host: Any) -> bool:
    """Whether gethostbyname answers ``host`` without a lookup: setipaddr for AF_INET."""
    if host is None:
        return True  # the C code's TypeError
    name = encoded(host)
    return name is not None and setipaddr_answers(name, _AF_INET)


def _on_pool(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if current_goroutine() is None:
        return wrapped(*args, **kwargs)
    try:
        return blocking_call(wrapped, *args, **kwargs)
    except BaseException:
        del args, kwargs  # the stdlib's traceback holds no reference to them
        raise


def _on_pool_unless(answers: Callable[[Any], bool]) -> Callable[..., Any]:
    """The wrapper for a resolver function that ``answers(host)`` itself for some hosts."""

    def on_pool_unless(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if current_goroutine() is None:
            return wrapped(*args, **kwargs)
        host = args[0] if args else kwargs.get("host", kwargs.get("hostname"))
        if (args or kwargs) and answers(host):
            return wrapped(*args, **kwargs)
        try:
            return blocking_call(wrapped, *args, **kwargs)
        except BaseException:
            del args, kwargs, host
            raise

    return on_pool_unless


def _factory(wrapper: Callable[..., Any]) -> Callable[[Any], Any]:
    def make(original: Any) -> Any:
        return _registry.function_wrapper(original, wrapper)

    return make


AREA.define("socket", "getaddrinfo", _factory(_on_pool_unless(_getaddrinfo_answers)), scan=True)
AREA.define("socket", "gethostbyname", _factory(_on_pool_unless(_gethostbyname_answers)), scan=True)
for _name in ("gethostbyname_ex", "gethostbyaddr", "getnameinfo"):
    AREA.define("socket", _name, _factory(_on_pool), scan=True)
del _name


patch, unpatch, is_patched = AREA.functions()
