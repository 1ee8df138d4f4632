"""Whether the C code answers a host name without the resolver.

What: the one numeric-host check of the patch layer. The socket area asks
it before an address's host name is resolved on the thread pool (connect,
connect_ex, bind, sendto, sendmsg), the dns area before getaddrinfo or
gethostbyname goes to the pool: a host the C library answers by itself
(an IP address literal) is passed to the original in place, since a pool
round trip would cost more than the call.

How, following CPython's Modules/socketmodule.c:

1. ``encoded(host)``: the bytes the C code hands the C library. A str is
   encoded as ``idna_converter`` and the ``"et"`` format with the "idna"
   codec do it (an ASCII str gives its own bytes; any other goes through
   the codec, which may also normalize it: ``"１２７.０.０.１"`` is
   ``b"127.0.0.1"``); bytes and bytearray are taken as they are. None
   where the C code raises instead of looking anything up: another type,
   a failing codec (a lone surrogate), a NUL byte.
2. ``literal(name, family)``: whether ``name`` is an address literal of
   ``family`` (AF_INET, AF_INET6, or AF_UNSPEC for either), which
   ``inet_pton`` answers. Non-ASCII bytes never are (``inet_pton`` in C
   fails on them, so the C code asks the resolver, with the bytes as they
   are). An IPv6 literal with a scope id (``fe80::1%eth0``) is not: the
   C code passes it to getaddrinfo, which looks the interface up.
3. ``setipaddr_answers(name, family)``: ``literal``, or one of the two
   names ``setipaddr`` answers itself ("" and "<broadcast>"), for the
   calls that go through setipaddr (an address's host, gethostbyname).
   getaddrinfo hands "" and "<broadcast>" to the C library, which
   resolves them.

Invariants: none of these raises, for any argument (the old checks let
``inet_pton``'s ValueError for a NUL, or its UnicodeEncodeError for a
surrogate, out of a patched getaddrinfo that the stdlib answers); and a
"yes" is only given where the stdlib's own call makes no lookup, so that
the original, called in place, never blocks the scheduler's thread on the
network. A "no" is always safe: the original then runs on the pool and
gives the same result or exception there.

Rejected designs: a check per area (socket.py's and dns.py's had drifted:
dns.py let inet_pton's errors out, for a NUL or a surrogate, and passed a
non-ASCII str to inet_pton unencoded where the C code applies the idna
codec first); parsing literals in Python (``ipaddress``): slower than
inet_pton, and not the C library's parser, which is the one that decides.
"""

from __future__ import annotations

import _socket
from collections.abc import Callable
from typing import Any

__all__ = ["encoded", "literal", "setipaddr_answers"]

_inet_pton: Callable[[int, str], bytes] | None = getattr(_socket, "inet_pton", None)
_AF_UNSPEC: int = getattr(_socket, "AF_UNSPEC", 0)
_AF_INET: int = _socket.AF_INET
_AF_INET6: int | None = getattr(_socket, "AF_INET6", None)


def encoded(host: Any) -> bytes | None:
    """``host`` as bytes, as the C code hands it on; None where it raises instead."""
    if type(host) is str and host.isascii():
        name = host.encode("ascii")
    elif isinstance(host, str):
        try:
            name = host.encode("idna")
        except Exception:  # noqa: BLE001 - the C code's own error, raised by the original
            return None
    elif isinstance(host, (bytes, bytearray)):
        name = bytes(host)
    else:
        return None
    if b"\0" in name:
        return None
    return name


def literal(name: bytes, family: int) -> bool:
    """Whether ``name`` is an IP address literal of ``family`` (AF_UNSPEC: either)."""
    if _inet_pton is None or not name.isascii() or b"\0" in name:
        return False
    text = name.decode("ascii")
    if family == _AF_INET or family == _AF_UNSPEC:
        try:
            _inet_pton(_AF_INET, text)
            return True
        except OSError:
            pass
    if _AF_INET6 is not None and (family == _AF_INET6 or family == _AF_UNSPEC) and "%" not in text:
        try:
            _inet_pton(_AF_INET6, text)
            return True
        except OSError:
            pass
    return False


def setipaddr_answers(name: bytes, family: int) -> bool:
    """Whether socketmodule.c's ``setipaddr`` answers ``name`` without a lookup."""
    return name == b"" or name == b"<broadcast>" or literal(name, family)
