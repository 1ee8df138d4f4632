"""Patches for the socket module: socket I/O parks only the goroutine.

Replaces these methods of ``socket.socket`` (the class itself, so every
socket and every subclass, made before or after patching, is covered):
``_accept`` (under ``accept``), ``connect``, ``connect_ex``, ``bind`` (name
resolution only), ``recv``, ``recv_into``, ``recvfrom``, ``recvfrom_into``,
``recvmsg``, ``recvmsg_into``, ``send``, ``sendall``, ``sendto``,
``sendmsg``, ``_sendfile_use_sendfile`` (under ``sendfile``) and
``_real_close`` (under ``close``). Everything the socket module builds on
them is covered with them, unpatched: ``accept``, ``makefile`` objects,
``sendfile``, ``create_connection``, ``create_server``, ``socketpair``,
``fromfd``, ``dup``. Name resolution (getaddrinfo and friends) is the dns
area's.

How a patched call works, inside a goroutine while its scheduler runs:

1. A socket the program made non-blocking (timeout 0.0) gets the original
   call, untouched: it raises BlockingIOError as the stdlib does.
2. Otherwise the call is tried without blocking. A blocking socket
   (timeout None) is asked with ``MSG_DONTWAIT``, which leaves the socket
   as it is: one system call, as the stdlib makes. Where that flag cannot
   be used (accept, connect, a socket with a timeout, odd arguments, a
   platform without the flag) the socket's timeout is set to 0.0 for the
   one call and put back right after (``settimeout``, one ioctl each way).
   No other goroutine runs in between, so none can see the change.
3. On EAGAIN the goroutine parks in the netpoller (``wait_fd``) until the
   socket is ready, for what is left of the socket's timeout, then tries
   again. A timeout raises ``TimeoutError("timed out")`` (``socket.timeout``),
   as the stdlib does; sendall's timeout covers the whole call, as in the
   stdlib since 3.5. A socket closed by another goroutine meanwhile raises
   ``OSError(EBADF)``, what the stdlib's call raises on a closed socket.
4. A read on a blocking TCP socket that comes back short took everything
   there was, or stopped at an EOF, an error or an urgent mark that the
   netpoller hears of (``mark_drained``). The next read on it may then
   wait first, without trying, when the netpoller can prove no data went
   unnoticed since (``wait_quiet``): on a request/response connection
   that saves the read that would only say EAGAIN, a system call and an
   exception per request. Not on Unix stream sockets, whose reads also
   stop short where no event tells (file descriptors passed in the data).
5. An address with a host name (connect, connect_ex, bind, sendto,
   sendmsg) is resolved first on the thread pool, as the C code would
   resolve it, so DNS does not block the scheduler's thread.

Everywhere else (a plain thread, before ``run()``) every patched method is
the original call. The replacements are plain functions, not wrapt
``FunctionWrapper`` objects (see ``_registry.lean``): these sit on every
I/O call of a server.
"""

from __future__ import annotations

import _socket
import errno
import operator
import os
import sys
from collections.abc import Callable
from typing import Any

from .._core import InternalError, blocking_call, current_goroutine, mark_drained, notify_close, wait_fd, wait_quiet
from . import _registry
from ._deadline import NOT_READY, retry, timed_out
from ._hostname import encoded as _encoded
from ._hostname import setipaddr_answers as _setipaddr_answers

__all__ = ["patch", "unpatch", "is_patched"]

AREA = _registry.Area("socket", __name__, "the socket class's blocking methods")

_ss = _socket.socket
_gettimeout = _ss.gettimeout
_settimeout = _ss.settimeout
_fileno = _ss.fileno
_getsockopt = _ss.getsockopt
_family: Callable[[Any], int] = _ss.family.__get__  # the int, not socket.py's enum property
_type: Callable[[Any], int] = _ss.type.__get__
_SOCK_STREAM = _socket.SOCK_STREAM
# Not AF_UNIX: a Unix stream read also stops short at data that carried
# file descriptors, or where SO_PASSCRED's credentials change, with more
# queued behind, and no netpoller event says so (see _netpoll_epoll.py).
_STREAM_FAMILIES = tuple(getattr(_socket, name) for name in ("AF_INET", "AF_INET6") if hasattr(_socket, name))
_DONTWAIT: int = getattr(_socket, "MSG_DONTWAIT", 0)
_AF_INET = _socket.AF_INET
_AF_INET6: int = getattr(_socket, "AF_INET6", -1)
_index = operator.index
_EINPROGRESS = errno.EINPROGRESS
_EAGAIN = errno.EAGAIN
# accept() on these platforms gives the new socket the listening socket's
# O_NONBLOCK, which the temporary timeout of 0.0 sets (Linux does not).
_ACCEPT_INHERITS_NONBLOCK = not sys.platform.startswith("linux") and sys.platform != "win32"

_KEYWORDS_BOUND = sys.version_info < (3, 11)

# What an argument parser returns for a call that asked for MSG_DONTWAIT
# itself: the caller wants the original, non-blocking behaviour.
_DIRECT: Any = object()


def _call(fn: Any, sock: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``fn(sock, *args, **kwargs)``, failing with the words the program's call would.

    A C method that takes no keywords names itself in the TypeError; how
    depends on how it was called, and ``sock.recv(...)`` in a program is
    called like the bound method on 3.10 ("recv() takes no keyword
    arguments") and like the unbound one from 3.11 ("socket.recv() ...").
    """
    if kwargs and _KEYWORDS_BOUND:
        return fn.__get__(sock, type(sock))(*args, **kwargs)
    return fn(sock, *args, **kwargs)


def _toggled(
    sock: Any, t: float | None, mode: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Call ``fn(sock, *args, **kwargs)`` until it does not block.

    Each attempt runs with the socket's timeout at 0.0, put back to ``t``
    (None: blocking, or > 0) right after; between attempts the goroutine
    waits in the netpoller for at most what is left of ``t`` (``retry``).
    """

    def attempt() -> Any:
        _settimeout(sock, 0.0)
        try:
            return _call(fn, sock, args, kwargs)
        except BlockingIOError:
            return NOT_READY
        finally:
            _settimeout(sock, t)

    return retry(attempt, _waiter(sock, mode), t, timed_out)


def _waiter(sock: Any, mode: str) -> Callable[[float | None], bool]:
    """``retry``'s wait for ``sock``: the netpoller, for ``mode``."""

    def wait(remaining: float | None) -> bool:
        return wait_fd(_fileno(sock), mode, remaining, sock)

    return wait


def _int_or_none(flags: Any) -> int | None:
    """``flags`` as the C code reads it (``__index__``), or None if it can't."""
    if type(flags) is int:
        return flags
    try:
        return _index(flags)
    except TypeError:
        return None


def _flags_injector(
    pos: int, fill: tuple[Any, ...], keywords: bool
) -> Callable[[tuple[Any, ...], dict[str, Any]], Any]:
    """Build the argument rewriter that adds MSG_DONTWAIT to a call's flags.

    ``pos`` is the index of ``flags`` among the positional arguments after
    self, ``fill`` the defaults of the optional arguments before it.
    Returns ``(args, kwargs)`` rewritten, ``_DIRECT`` when the caller passed
    MSG_DONTWAIT itself, or None for anything unusual (the caller then takes
    the settimeout path with the arguments untouched, and the original
    reports any mistake in them with the stdlib's words).
    """
    nfill = len(fill)

    def inject(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        n = len(args)
        if kwargs:
            if not keywords or n > pos:
                return None
            flags = _int_or_none(kwargs.get("flags", 0))
            if flags is None:
                return None
            if flags & _DONTWAIT:
                return _DIRECT
            kw = dict(kwargs)
            kw["flags"] = flags | _DONTWAIT
            return args, kw
        if n > pos:
            flags = _int_or_none(args[pos])
            if flags is None:
                return None
            if flags & _DONTWAIT:
                return _DIRECT
            return args[:pos] + (flags | _DONTWAIT,) + args[pos + 1 :], kwargs
        need = pos - n
        if n == 0 or need > nfill:
            return None
        return args + fill[nfill - need :] + (_DONTWAIT,), kwargs

    return inject


def _sendto_inject(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # sendto(data, address) or sendto(data, flags, address)
    if kwargs:
        return None
    n = len(args)
    if n == 2:
        return (args[0], _DONTWAIT, args[1]), kwargs
    if n == 3:
        flags = _int_or_none(args[1])
        if flags is None:
            return None
        if flags & _DONTWAIT:
            return _DIRECT
        return (args[0], flags | _DONTWAIT, args[2]), kwargs
    return None


def _read_once(args: tuple[Any, ...], positions: tuple[int, ...]) -> tuple[Any, ...]:
    """``args`` with the iterables at ``positions`` read into lists.

    recvmsg_into's buffers and sendmsg's buffers and ancillary data may be
    any iterable, which the C code reads once per call (PySequence_Fast).
    A patched call may make several attempts; each must see them all. A
    list or tuple is used as it is, as the C code does; what is not
    iterable is left for the original to refuse.
    """
    for i in positions:
        if i < len(args):
            x = args[i]
            if type(x) is not list and type(x) is not tuple:
                try:
                    it = iter(x)
                except TypeError:
                    continue
                args = args[:i] + (list(it),) + args[i + 1 :]
    return args


def _make_io(
    mode: str, inject: Callable[[tuple[Any, ...], dict[str, Any]], Any], sequences: tuple[int, ...] = ()
) -> Callable[[Any], Any]:
    """Factory for a data method (recv*, send, sendto, sendmsg).

    ``sequences``: the positions of arguments that may be any iterable
    (see ``_read_once``).
    """

    def factory(original: Any) -> Any:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if current_goroutine() is None:
                return original(self, *args) if not kwargs else _call(original, self, args, kwargs)
            if sequences and not kwargs:
                args = _read_once(args, sequences)
            t = _gettimeout(self)
            if t is None:
                if _DONTWAIT:
                    rewritten = inject(args, kwargs)
                    if rewritten is _DIRECT:
                        return _call(original, self, args, kwargs)
                    if rewritten is not None:
                        a, k = rewritten
                        while True:
                            try:
                                return _call(original, self, a, k)
                            except BlockingIOError:
                                pass
                            wait_fd(_fileno(self), mode, None, self)
            elif t == 0.0:
                return _call(original, self, args, kwargs)
            return _toggled(self, t, mode, original, args, kwargs)

        return _registry.lean(method, original)

    return factory


# Fds whose last read came back short (drained) in a goroutine: a cheap
# first look before asking the netpoller whether the next read may wait
# without trying (``wait_quiet``). Only a hint: the netpoller's answer, which
# checks the owner, is what counts, so a stale entry costs one question.
_drained: set[int] = set()


def _short_read(sock: Any, fd: int) -> None:
    """A read on ``sock`` returned less than asked: it may have drained it.

    Only a stream may let the next read wait first. True for TCP: its recv
    returns less than asked when it took everything there was, or at an
    EOF, error or urgent mark, which the netpoller's events report
    (``quiet``). Not for datagrams, where one recv returns one message
    however much is queued behind it, nor for Unix stream sockets, whose
    recv also stops at data that carried file descriptors. (Tested here,
    not by a helper: its call was ~40 of this step's ~250 ns, which an
    echo server pays on every request.)
    """
    if _type(sock) == _SOCK_STREAM and _family(sock) in _STREAM_FAMILIES:
        _drained.add(fd)
        mark_drained(fd, sock)


def _make_recv(original: Any) -> Any:
    """recv: the hottest path, written out (no argument rewriter call)."""
    dontwait = _DONTWAIT

    def recv(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            return _call(original, self, args, kwargs)  # recv takes no keywords: the stdlib's error
        if current_goroutine() is None:
            return original(self, *args)
        t = _gettimeout(self)
        if t is None and dontwait:
            n = len(args)
            size = args[0] if n else None
            if n == 1:
                flags = 0
                ask = dontwait
            elif n == 2 and (flags := _int_or_none(args[1])) is not None:  # type: ignore[assignment]
                if flags & dontwait:
                    return original(self, *args)
                ask = flags | dontwait
            else:
                return _toggled(self, t, "r", original, args, kwargs)
            fd = _fileno(self)
            if fd in _drained:
                _drained.discard(fd)
                if flags == 0:
                    wait_quiet(fd, self)
            while True:
                try:
                    data = original(self, size, ask)  # a plain call: no tuple to build and unpack
                    break
                except BlockingIOError:
                    pass
                wait_fd(fd, "r", None, self)
            if flags == 0 and data and type(size) is int and len(data) < size:
                _short_read(self, fd)
            return data
        if t == 0.0:
            return original(self, *args)
        return _toggled(self, t, "r", original, args, kwargs)

    return _registry.lean(recv, original)


def _make_recv_into(original: Any) -> Any:
    """recv_into: what makefile() objects read with, so as hot as recv."""
    dontwait = _DONTWAIT
    general = _make_io("r", _flags_injector(2, (0,), keywords=True))(original)

    def recv_into(self: Any, *args: Any, **kwargs: Any) -> Any:
        if current_goroutine() is None:
            return original(self, *args) if not kwargs else _call(original, self, args, kwargs)
        n = len(args)
        if kwargs or not 1 <= n <= 3 or not dontwait or _gettimeout(self) is not None:
            return general(self, *args, **kwargs)
        buf = args[0]
        nbytes = args[1] if n >= 2 else 0
        flags = args[2] if n == 3 else 0
        if type(nbytes) is not int or type(flags) is not int:
            return general(self, *args)
        if flags & dontwait:
            return original(self, *args)
        fd = _fileno(self)
        if fd in _drained:
            _drained.discard(fd)
            if flags == 0:
                wait_quiet(fd, self)
        while True:
            try:
                got = original(self, buf, nbytes, flags | dontwait)
                break
            except BlockingIOError:
                pass
            wait_fd(fd, "r", None, self)
        if flags == 0 and got > 0:
            if nbytes > 0:
                size = nbytes
            elif type(buf) is memoryview:
                size = buf.nbytes
            elif type(buf) is bytearray:
                size = len(buf)
            else:
                size = 0
            if got < size:
                _short_read(self, fd)
        return got

    return _registry.lean(recv_into, original)


def _make_sendall(original: Any) -> Any:
    """sendall: send until everything is out; the timeout covers the whole call."""
    send = _ss.send

    def sendall(self: Any, *args: Any, **kwargs: Any) -> Any:
        if current_goroutine() is None or kwargs:
            return original(self, *args) if not kwargs else _call(original, self, args, kwargs)
        t = _gettimeout(self)
        if t == 0.0:
            return original(self, *args)
        n = len(args)
        if n == 1:
            data, flags = args[0], 0
        elif n == 2:
            data = args[0]
            maybe = _int_or_none(args[1])
            if maybe is None:
                return original(self, *args)  # raises the stdlib's TypeError
            flags = maybe
            if flags & _DONTWAIT:
                return original(self, *args)
        else:
            return original(self, *args)  # raises the stdlib's TypeError
        if t is None and _DONTWAIT:
            # The hot path: one send of the whole buffer usually does it.
            try:
                sent = send(self, data, flags | _DONTWAIT)
            except BlockingIOError:
                sent = -1
            # The send accepted ``data``, so any error in it was the
            # stdlib's; now count in bytes.
            if type(data) is bytes:
                if sent == len(data):
                    return None
                view = memoryview(data)
            else:
                view = memoryview(data).cast("B")
                if sent == view.nbytes:
                    view.release()
                    return None
            if sent < 0:
                return _sendall_rest(self, t, view, 0, flags, wait_first=True)
            return _sendall_rest(self, t, view, sent, flags, wait_first=False)
        return _sendall_rest(self, t, None, 0, flags, wait_first=False, data=data)

    return _registry.lean(sendall, original)


def _sendall_rest(
    sock: Any, t: float | None, view: memoryview | None, pos: int, flags: int, wait_first: bool, data: Any = None
) -> None:
    """sendall's loop: send what is left, waiting whenever the OS says EAGAIN.

    ``view`` is None when nothing was tried yet; the first send then gets
    the caller's ``data`` as it is, so that a wrong argument gets the
    stdlib's error.
    """
    send = _ss.send
    dontwait = _DONTWAIT if t is None else 0

    def attempt() -> Any:
        # Sends until all is out (None) or the OS says EAGAIN (NOT_READY).
        nonlocal view, pos
        while True:
            chunk = data if view is None else view[pos:]
            try:
                if dontwait:
                    sent = send(sock, chunk, flags | dontwait)
                else:
                    _settimeout(sock, 0.0)
                    try:
                        sent = send(sock, chunk, flags)
                    finally:
                        _settimeout(sock, t)
            except BlockingIOError:
                sent = -1
            if view is None:
                view = memoryview(data).cast("B")
            if sent < 0:
                return NOT_READY
            pos += sent
            if pos >= view.nbytes:
                view.release()
                return None

    retry(attempt, _waiter(sock, "w"), t, timed_out, wait_first=wait_first)


def _host_to_resolve(family: int, address: tuple[Any, ...]) -> bytes | None:
    """The name socketmodule.c would give the resolver for ``address``, or None.

    Follows getsockaddrarg for AF_INET and AF_INET6: the tuple is parsed
    whole (``"O&i"``, or ``"O&i|II"`` for AF_INET6; the host by
    idna_converter, ``_hostname.encoded``) before setipaddr looks at the
    host, and setipaddr answers "", "<broadcast>" and address literals
    itself (``_hostname.setipaddr_answers``). None whenever the C code
    would not call the resolver: the address is malformed (the original
    then raises its own error, before any lookup) or its host needs none.
    What comes after the lookup (the port and flowinfo ranges) is the
    original's to check.
    """
    n = len(address)
    if n != 2 and not (family == _AF_INET6 and 2 <= n <= 4):
        return None
    name = _encoded(address[0])
    if name is None:
        return None
    port = address[1]
    if type(port) is not int or n > 2:
        try:
            port = _index(port)
            for number in address[2:]:
                _index(number)  # "I": no range check
        except Exception:  # noqa: BLE001 - the parser's error is the original's to raise
            return None
    if not -(2**31) <= port < 2**31:
        return None  # "i": OverflowError, which the C code words as a port range
    if _setipaddr_answers(name, family):
        return None
    return name


def _resolve(sock: Any, address: Any) -> Any:
    """``address`` with its host name resolved on the thread pool.

    Does what socketmodule.c's setipaddr does (getaddrinfo with only the
    socket's family as hint, first answer), but off the scheduler's
    thread. Anything but an AF_INET/AF_INET6 address the C code would
    resolve is returned unchanged (see ``_host_to_resolve``).
    """
    family = _family(sock)
    if (family != _AF_INET and family != _AF_INET6) or not isinstance(address, tuple):
        return address
    name = _host_to_resolve(family, address)
    if name is None:
        return address
    return _lookup(family, name, address)


def _lookup(family: int, name: bytes, address: tuple[Any, ...]) -> tuple[Any, ...]:
    """``address`` with ``name`` resolved on the thread pool, as setipaddr does."""
    infos = blocking_call(_socket.getaddrinfo, name, None, family)
    return (infos[0][4][0],) + address[1:]


def _make_connect(ex: bool) -> Callable[[Any], Any]:
    def factory(original: Any) -> Any:
        def connect(self: Any, *args: Any, **kwargs: Any) -> Any:
            if current_goroutine() is None or kwargs or len(args) != 1:
                return original(self, *args) if not kwargs else _call(original, self, args, kwargs)
            address = _resolve(self, args[0])
            t = _gettimeout(self)
            if t == 0.0:
                return original(self, address)
            return _connect(self, t, original, address, ex)

        return _registry.lean(connect, original)

    return factory


def _connect(sock: Any, t: float | None, original: Any, address: Any, ex: bool) -> Any:
    """connect/connect_ex on a blocking or timeout socket, in a goroutine.

    Mirrors socketmodule.c's internal_connect: start the connection without
    blocking; if it is in progress (EINPROGRESS, or EINTR), wait until the
    socket is writable, then read the outcome with SO_ERROR (EISCONN counts
    as success). connect raises what the C code raises; connect_ex returns
    the error number, and EWOULDBLOCK on timeout.
    """
    failure: BaseException | None = None
    err = 0
    _settimeout(sock, 0.0)
    try:
        if ex:
            err = original(sock, address)
        else:
            original(sock, address)
    except InterruptedError:
        err = errno.EINTR
    except BlockingIOError as e:
        err = e.errno or 0
        failure = e
    finally:
        _settimeout(sock, t)
    if err == 0:
        return 0 if ex else None
    if err == _EAGAIN:
        # An AF_UNIX listener's backlog is full: there is nothing to wait
        # for in the netpoller. Let a pool thread make the blocking call.
        return blocking_call(original, sock, address)
    if err != _EINPROGRESS and err != errno.EINTR:
        if ex:
            return err
        if failure is None:
            raise InternalError(f"connect: error {err} without the exception that reported it")
        raise failure
    failure = None
    if not wait_fd(_fileno(sock), "w", t, sock):
        if ex:
            return errno.EWOULDBLOCK
        raise TimeoutError("timed out")
    err = _getsockopt(sock, _socket.SOL_SOCKET, _socket.SO_ERROR)
    if err == 0 or err == errno.EISCONN:
        return 0 if ex else None
    if ex:
        return err
    raise OSError(err, os.strerror(err))


def _make_bind(original: Any) -> Any:
    def bind(self: Any, *args: Any, **kwargs: Any) -> Any:
        if current_goroutine() is None or kwargs or len(args) != 1:
            return original(self, *args) if not kwargs else _call(original, self, args, kwargs)
        return original(self, _resolve(self, args[0]))

    return _registry.lean(bind, original)


def _c_int(x: Any) -> bool:
    """Whether ``x`` passes the C parser's "i" format."""
    try:
        n = x if type(x) is int else _index(x)
    except Exception:  # noqa: BLE001 - the parser's error is the original's to raise
        return False
    return -(2**31) <= n < 2**31


def _c_buffer(x: Any) -> bool:
    """Whether ``x`` passes the C parser's "y*" format (a contiguous buffer)."""
    if type(x) is bytes or type(x) is bytearray:
        return True
    try:
        view = memoryview(x)
    except Exception:  # noqa: BLE001 - the parser's error is the original's to raise
        return False
    with view:
        return view.c_contiguous


def _sendto_parses(args: tuple[Any, ...]) -> bool:
    # sock_sendto: "y*O" or "y*iO", then the address.
    n = len(args)
    return (n == 2 or (n == 3 and _c_int(args[1]))) and _c_buffer(args[0])


def _sendmsg_parses(args: tuple[Any, ...]) -> bool:
    # sock_sendmsg: "O|OiO", then the address, then the buffers.
    return len(args) == 4 and _c_int(args[2])


def _make_addressed(
    mode: str,
    inject: Callable[[tuple[Any, ...], dict[str, Any]], Any],
    addr_pos: int,
    parses: Callable[[tuple[Any, ...]], bool],
    sequences: tuple[int, ...] = (),
) -> Callable[[Any], Any]:
    """sendto/sendmsg: resolve a host name in the address, then as _make_io.

    The name is resolved only when the C code would get that far:
    ``parses(args)`` says whether the arguments it reads before the
    address are good; if not, the original raises its own error first.
    """
    inner = _make_io(mode, inject, sequences)

    def factory(original: Any) -> Any:
        io_method = inner(original)

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if current_goroutine() is not None and not kwargs:
                i = addr_pos if addr_pos >= 0 else len(args) - 1
                if 1 <= i < len(args):
                    address = args[i]
                    family = _family(self)
                    if (family == _AF_INET or family == _AF_INET6) and isinstance(address, tuple):
                        name = _host_to_resolve(family, address)
                        if name is not None and parses(args):
                            args = args[:i] + (_lookup(family, name, address),) + args[i + 1 :]
            return io_method(self, *args, **kwargs)

        return _registry.lean(method, original)

    return factory


def _make_accept(original: Any) -> Any:
    def _accept(self: Any, *args: Any, **kwargs: Any) -> Any:
        if current_goroutine() is None or args or kwargs:
            return original(self, *args) if not kwargs else _call(original, self, args, kwargs)
        t = _gettimeout(self)
        if t == 0.0:
            return original(self)
        result = _toggled(self, t, "r", original, (), {})
        if _ACCEPT_INHERITS_NONBLOCK and t is None:  # pragma: no cover - not Linux
            os.set_blocking(result[0], True)
        return result

    return _registry.lean(_accept, original)


def _make_sendfile(original: Any) -> Any:
    """``_sendfile_use_sendfile``: os.sendfile has no MSG_DONTWAIT.

    The whole call runs on the thread pool, with the socket as the program
    set it: the stdlib's own code, its errors and its fallback to send()
    (which then runs patched, in the goroutine).
    """

    def _sendfile_use_sendfile(self: Any, *args: Any, **kwargs: Any) -> Any:
        if current_goroutine() is None or _gettimeout(self) == 0.0:
            return original(self, *args) if not kwargs else _call(original, self, args, kwargs)
        return blocking_call(original, self, *args, **kwargs)

    return _registry.lean(_sendfile_use_sendfile, original)


def _make_real_close(original: Any) -> Any:
    """``_real_close`` (under close): wake goroutines waiting on the socket."""

    def _real_close(self: Any, *args: Any, **kwargs: Any) -> Any:
        if current_goroutine() is not None:
            fd = _fileno(self)
            _drained.discard(fd)
            notify_close(fd)
        return _call(original, self, args, kwargs)

    return _registry.lean(_real_close, original)


_NONE: tuple[Any, ...] = ()
_TABLE: list[tuple[str, Callable[[Any], Any]]] = [
    ("_accept", _make_accept),
    ("connect", _make_connect(ex=False)),
    ("connect_ex", _make_connect(ex=True)),
    ("bind", _make_bind),
    ("recv", _make_recv),
    ("recv_into", _make_recv_into),
    ("recvfrom", _make_io("r", _flags_injector(1, _NONE, keywords=False))),
    ("recvfrom_into", _make_io("r", _flags_injector(2, (0,), keywords=True))),
    ("send", _make_io("w", _flags_injector(1, _NONE, keywords=False))),
    ("sendall", _make_sendall),
    ("sendto", _make_addressed("w", _sendto_inject, -1, _sendto_parses)),
]
if hasattr(_ss, "recvmsg"):
    _TABLE += [
        ("recvmsg", _make_io("r", _flags_injector(2, (0,), keywords=False))),
        ("recvmsg_into", _make_io("r", _flags_injector(2, (0,), keywords=False), sequences=(0,))),
    ]
if hasattr(_ss, "sendmsg"):
    _TABLE.append(
        (
            "sendmsg",
            _make_addressed("w", _flags_injector(2, ([],), keywords=False), 3, _sendmsg_parses, sequences=(0, 1)),
        )
    )
_TABLE += [
    ("_sendfile_use_sendfile", _make_sendfile),
    ("_real_close", _make_real_close),
]

for _name, _factory in _TABLE:
    AREA.define("socket", f"socket.{_name}", _factory)
del _name, _factory


patch, unpatch, is_patched = AREA.functions()
