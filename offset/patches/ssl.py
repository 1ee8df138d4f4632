"""Patches for the ssl module: TLS socket I/O parks only the goroutine.

Replaces five methods of ``ssl.SSLSocket`` (the class itself, so every TLS
socket, made before or after patching, and every subclass that does not
override them, is covered): ``do_handshake``, ``read``, ``write``, ``send``
and ``unwrap``. They are the methods that call into the C ``_ssl._SSLSocket``
(``self._sslobj``), where the stdlib waits for the socket; everything else
is built on them and is covered with them, unpatched:

- the implicit handshake of ``connect``, ``connect_ex``, ``accept`` and
  ``SSLContext.wrap_socket(do_handshake_on_connect=True)`` calls
  ``do_handshake``;
- ``recv`` and ``recv_into`` call ``read``; ``sendall`` and ``sendfile``
  (over TLS) call ``send``; ``makefile`` objects call ``recv_into`` and
  ``send``; so do ``http.client``, ``urllib.request``, ``smtplib``...
- on a socket without TLS yet (before ``connect``) or any more (after
  ``unwrap``), these methods and ``recvfrom``, ``recvfrom_into``,
  ``sendto`` fall through to ``socket.socket``'s, which are the socket
  area's.

How a patched call works, inside a goroutine while its scheduler runs:

1. A socket the program made non-blocking (timeout 0.0) gets the original
   call, untouched: it raises ``SSLWantReadError``/``SSLWantWriteError`` as
   the stdlib does. So does a closed socket, or one with no TLS object
   (the original raises the stdlib's ValueError or OSError).
2. Otherwise the original is called with the socket's timeout set to 0.0
   for that one attempt and put back right after (``_socket.socket``'s
   ``settimeout``; the C code reads the timeout of the Python socket at
   each call). No other goroutine runs in between, so none can see the
   change. OpenSSL keeps the state of a half-done operation (a handshake,
   a write of a large buffer, a shutdown), and calling it again with the
   same arguments continues it: that is its contract for non-blocking
   sockets, and CPython sets ``SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER``.
3. On ``SSLWantReadError`` or ``SSLWantWriteError`` (OpenSSL read or wrote
   the socket and got EAGAIN) the goroutine parks in the netpoller
   (``wait_fd``) until the socket is readable or writable, for what is
   left of the socket's timeout, and tries again. The deadline covers the
   whole call, as the C code's does (``sendall`` is a loop of ``send``
   calls, each with its own deadline, as in the stdlib).
4. At the deadline the original is called once more with a timeout of one
   nanosecond: the C code tries the operation, sees the deadline passed,
   and raises its own exception (``TimeoutError`` with "The read operation
   timed out", "The write operation timed out", or the handshake's message
   with its ``_ssl.c`` line number), so the type and the words are the
   stdlib's in every Python version without being copied here. Should
   the operation complete in that last attempt, its result is returned,
   as the stdlib would have returned it at its deadline.
5. A socket closed by another goroutine while this one waits raises
   ``OSError(EBADF)``, as the socket area's calls do.

The exceptions that are not waits pass through as the stdlib raises them,
from the original methods: ``SSLEOFError``, ``SSLZeroReturnError``, a peer
that closes mid-handshake, certificate errors, and ``read``'s
``suppress_ragged_eofs`` handling.

Everywhere else (a plain thread, before ``run()``) every patched method is
the original call. The replacements are plain functions (``_registry.lean``):
``read`` and ``send`` sit on every request of an HTTPS server. What a wait
costs on top of the socket area's: the attempt that raises the want-error
(about 12 us, most of it the C code building the exception) and two
``settimeout`` calls per attempt (an ioctl each).

The temporary timeout of 0.0 is visible to other OS threads using the same
``SSLSocket`` at that moment (another scheduler's goroutines, a plain
thread): OpenSSL does not allow one connection to be used by two threads
at once anyway, and the stdlib adds no lock around it.

Left alone: ``ssl.SSLObject`` with memory BIOs (what asyncio uses) never
waits: its callers move the bytes between the BIOs and the socket
themselves, through calls that are patched (or are asyncio's own event
loop). Module functions (``get_server_certificate``, ``create_connection``
under it) are built on the socket and the methods above.

Rejected designs:

- A subclass of ``SSLSocket`` put in place of ``ssl.SSLSocket`` (and in
  ``SSLContext.sslsocket_class``) that reimplements the I/O methods over
  ``SSLObject`` (gevent's ``gevent.ssl``): sockets made before patching,
  and contexts whose ``sslsocket_class`` was read or set by the program,
  keep the class that blocks; and the reimplementation must copy the
  stdlib's checks and messages, per version.
- Keeping the timeout at 0.0 for the whole call, waits included: another
  goroutine reading while this one writes (full duplex on one socket, as
  the stdlib allows from two threads) would see a non-blocking socket.
- Raising our own ``TimeoutError`` at the deadline: the handshake's
  message carries the C file's line number, which changes between
  versions; the last attempt with a tiny timeout lets the C code say it.
- Patching ``recv``, ``recv_into``, ``sendall``, ``connect`` and
  ``accept`` too: they reach the C code only through the five methods
  above, so more patch points would add wrappers on the hot path and
  nothing else.
- Waiting for readability before the first attempt when the socket was
  drained before (the socket area's ``wait_quiet``): a TLS read that
  returns data says nothing about the socket being empty (OpenSSL reads
  one record at a time), and a read may have to write first (the
  ClientHello of a handshake left to the first read, a post-handshake
  certificate request), which a wait for readability would deadlock.
"""

from __future__ import annotations

import _socket
from collections.abc import Callable
from typing import Any

from .._core import current_goroutine, wait_fd
from . import _registry
from ._deadline import NOT_READY, retry

__all__ = ["patch", "unpatch", "is_patched"]

AREA = _registry.Area("ssl", __name__, "``ssl.SSLSocket``'s I/O methods")

_ss = _socket.socket
_gettimeout = _ss.gettimeout
_settimeout = _ss.settimeout
_fileno = _ss.fileno
# The last attempt's timeout: the C code's deadline has passed by the time
# OpenSSL returns, so it raises its own timeout error at once.
_TINY = 1e-9
# The C code takes a remaining time of exactly zero for a non-blocking
# socket; a last attempt that lands on it is made again, at most this often.
_LAST_TRIES = 3

# ssl's want-errors, set when the first replacement is built (the ssl
# module is imported then; offset does not import it before the program).
_want_read: type[BaseException] = BaseException
_want_write: type[BaseException] = BaseException


def _wants() -> None:
    global _want_read, _want_write
    import _ssl

    _want_read = _ssl.SSLWantReadError
    _want_write = _ssl.SSLWantWriteError


def _call(fn: Any, sock: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return fn(sock, *args, **kwargs) if kwargs else fn(sock, *args)


def _cooperate(sock: Any, t: float | None, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call ``fn(sock, *args, **kwargs)`` until OpenSSL does not want to wait.

    ``t`` is the timeout the call runs under (None: blocking, or > 0); the
    socket's own is put back after each attempt. Caller: in a goroutine,
    the socket open and with its TLS object.
    """
    want_read = _want_read
    want_write = _want_write
    timeout = _gettimeout(sock)
    mode = "r"  # what the last attempt's OpenSSL wanted to wait for

    def attempt() -> Any:
        # Returns NOT_READY inside the except clauses, so that what a later
        # attempt raises carries no want-error as __context__.
        nonlocal mode
        _settimeout(sock, 0.0)
        try:
            return fn(sock, *args, **kwargs) if kwargs else fn(sock, *args)
        except want_read:
            mode = "r"
            return NOT_READY
        except want_write:
            mode = "w"
            return NOT_READY
        finally:
            _settimeout(sock, timeout)

    def wait(remaining: float | None) -> bool:
        return wait_fd(_fileno(sock), mode, remaining, sock)

    return retry(attempt, wait, t, lambda: _last_try(sock, timeout, fn, args, kwargs))


def _last_try(sock: Any, timeout: float | None, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The attempt at the deadline: the C code raises its own timeout error."""
    for _ in range(_LAST_TRIES):
        _settimeout(sock, _TINY)
        try:
            return fn(sock, *args, **kwargs) if kwargs else fn(sock, *args)
        except (_want_read, _want_write):
            pass
        finally:
            _settimeout(sock, timeout)
    raise TimeoutError("timed out")  # pragma: no cover - three remainders of exactly 0 ns


def _make_io(original: Any) -> Any:
    """read, write, send, unwrap: wait under the socket's own timeout."""
    _wants()

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if current_goroutine() is None or self._sslobj is None or _fileno(self) == -1:
            return _call(original, self, args, kwargs)
        t = _gettimeout(self)
        if t == 0.0:
            return _call(original, self, args, kwargs)
        return _cooperate(self, t, original, args, kwargs)

    return _registry.lean(method, original)


def _make_do_handshake(original: Any) -> Any:
    """do_handshake(block=False): ``block`` makes a non-blocking socket's
    handshake blocking, as the original does by clearing its timeout."""
    _wants()

    def do_handshake(self: Any, *args: Any, **kwargs: Any) -> Any:
        if current_goroutine() is None or self._sslobj is None or _fileno(self) == -1:
            return _call(original, self, args, kwargs)
        if len(args) + len(kwargs) > 1 or (kwargs and "block" not in kwargs):
            return _call(original, self, args, kwargs)  # raises the stdlib's TypeError
        block = args[0] if args else kwargs.get("block", False)
        t = _gettimeout(self)
        if t == 0.0:
            if not block:
                return original(self)
            t = None
        # The original with block=False: under the timeout of 0.0 the
        # attempt sets, block=True would make it block.
        return _cooperate(self, t, original, (), {})

    return _registry.lean(do_handshake, original)


_TABLE: list[tuple[str, Callable[[Any], Any]]] = [
    ("do_handshake", _make_do_handshake),
    ("read", _make_io),
    ("write", _make_io),
    ("send", _make_io),
    ("unwrap", _make_io),
]

for _name, _factory in _TABLE:
    AREA.define("ssl", f"SSLSocket.{_name}", _factory)
del _name, _factory


patch, unpatch, is_patched = AREA.functions()
