"""Patches for the os area: file and pipe I/O park only the goroutine.

Replaces ``os.read``, ``os.write``, ``os.pread``, ``os.pwrite``,
``os.readv``, ``os.writev``, ``os.fsync``, ``os.fdatasync``, and ``open``
itself (``builtins.open``, ``io.open`` and ``_io.open``, one object in the
stdlib); the child-process waits of ``_child.OS_PATCHES`` (waitpid & co)
belong to this area too. What follows from them, unpatched: ``os.fdopen``
(it calls ``io.open``), ``pathlib.Path.open``/``read_text``/``write_bytes``,
``shutil.copyfileobj``, ``tempfile``'s files, the pipes of
``subprocess.Popen`` (made with ``io.open(fd, ...)``), ``open_code``.

How a patched read works, inside a goroutine while its scheduler runs
(``_read_into``):

1. The read is tried with Linux's ``preadv2(..., RWF_NOWAIT)``
   (``os.preadv(fd, [buf], offset, os.RWF_NOWAIT)``; offset -1 is the
   file position, which it advances, as read(2) does). On a regular file it
   reads what is in the page cache and says EAGAIN instead of waiting for
   the disk; on a pipe, FIFO or socket it says EAGAIN instead of waiting for
   data, *without* O_NONBLOCK: the fd's flags, which other processes sharing
   the pipe see, are never changed. A read served from the cache is thus
   one system call in the goroutine, no thread-pool round trip.
2. EAGAIN, or a short read (which a blocking read(2) of a regular file
   gives only at EOF), asks ``fstat`` what the fd is. A regular file (or a
   block device) not at EOF is read, or its read completed, on the thread
   pool (``blocking_call``): the goroutine parks, the scheduler runs the
   others. Anything else waits in the netpoller (``wait_fd``) and retries;
   its short read is returned as read(2) returns it.
3. An fd the program made O_NONBLOCK (``os.get_blocking``, asked only on
   EAGAIN) gets the original call, which raises ``BlockingIOError`` (or
   returns None, for a file object) as the stdlib does.
4. Where RWF_NOWAIT is refused (EOPNOTSUPP: terminals, directories, other
   kernels or file systems, non-Linux), ``fstat`` decides: a regular file,
   directory or block device goes to the pool; anything else is asked with
   a 0-timeout ``select.poll`` first, waits in the netpoller while it is
   not ready, then gets the original call. Any other error (EBADF, ESPIPE,
   ...) is the original call's: it is made, directly, to raise it with the
   stdlib's words and without an exception context.

5. A read of more than 1 MiB (``_BIG``) from a regular file is made
   whole on the pool with the original call, which builds the bytes there:
   copying hundreds of MiB in the goroutine, out of the cache or out of a
   buffer, would hold the scheduler's thread as long as the disk would.

Writes (``_write_from``) follow the same steps with ``pwritev2``. Linux
6.18's ext4 refuses RWF_NOWAIT for buffered writes (EOPNOTSUPP, measured):
there a write to a regular file of up to 64 KiB (``_INLINE_WRITE``) is made
in the goroutine, a copy into the page cache of a few us, against tens for
a pool round trip; a larger one goes to the pool. A page-cache write waits
only when writeback throttles the writer or the journal is busy: one that
took more than 2 ms sends every regular-file write to the pool for the
next second (``_inline_write``), so a disk that cannot keep up stalls the
scheduler for one write, not for each. File systems that take RWF_NOWAIT
(xfs, btrfs) say EAGAIN instead, and the write goes to the pool. A pipe or socket write is tried with RWF_NOWAIT and waits in
the netpoller for room between attempts until everything is written, as a
blocking write(2) of a pipe returns only when all is (or with what was
written before an error such as EPIPE). ``fsync`` and ``fdatasync`` always
go to the pool.

``open()``: the built-in file types cannot be patched in place, so
``open`` is replaced by a function that builds the layers the C
``io.open`` builds (Modules/_io/_iomodule.c), in the same order, with one
difference: the raw layer is ``_FileIO``, a subclass of ``io.FileIO``
whose ``readinto``, ``read``, ``readall`` and ``write`` cooperate as above
when called in a goroutine (and are FileIO's own everywhere else). The
buffered layers (``BufferedReader``, ``BufferedWriter``,
``BufferedRandom``) and ``TextIOWrapper`` stay the C types, which call the
raw layer's methods by name: ``type(f)`` of what open() returns is
unchanged, and ``f.raw`` / ``f.buffer.raw`` is the subclass (its repr is
FileIO's, ``<_io.FileIO name=... mode=... closefd=...>``; only
``open(..., buffering=0)`` returns the subclass itself). Every call with an
argument that is not plain (a mode with an error or ``U``, a non-int
buffering, text with no encoding under ``-X warn_default_encoding``, ...)
is handed to the original open, which raises or warns with the stdlib's
words; such a file does not cooperate. (A warning it gives names the
line in offset that called it, not the program's: 3.10's ``U`` mode's
and ``-X warn_default_encoding``'s. The common one, binary mode with
``buffering=1``, is warned here, at the program's line.) A file opened while patched has the subclass
wherever it was opened (plain thread, before ``run()``), because it may be
used later in a goroutine: that ``type(f.raw) is io.FileIO`` is False is
the one difference a program can see. In a goroutine, open() of a path
first asks ``os.stat`` whether it is a FIFO, whose open(2) waits for the
other end: that one is opened on the pool. The replacement is one object
for the three names (``open is io.open`` holds) and, like the built-in, no
descriptor (``_Builtin``): a class that holds ``open = io.open`` calls it
without self (CPython's test_file does). ``open`` is not scanned for early
bindings (stdlib modules such as tokenize and tarfile keep a private
``open`` name, and would warn on every patch_all).

Rejected:
- Wrapping the file objects (a proxy around what the original open
  returns): ``type(f)`` changes, C code that checks the type (``isinstance``
  of ``io.BufferedReader``, pickling, ``TextIOWrapper``'s fast paths)
  sees a stranger.
- Pure-Python layers (``_pyio``): exact by construction but several times
  slower per call, and a different type.
- O_NONBLOCK on the fd for the duration of a call: a pipe's flags are
  shared with every process that holds it (a child's stdin); another
  process would see EAGAIN. preadv2/pwritev2 with RWF_NOWAIT ask without
  changing them.
- The pool for every regular-file read: a cached 4 KiB read costs ~1 us,
  a pool round trip tens of us.

Cost: a cached read is the NOWAIT call plus, for ``os.read``,
``os.pread`` and ``FileIO.read``, copying the bytes out of this thread's
scratch buffer (they must return ``bytes``); ``readinto``, which the
buffered layers call, reads straight into the caller's buffer. The fast
path is inline in each replacement (one Python frame). Measured
(bench/bench_files.py, 3.11, 2 CPUs): a cached 4 KiB ``os.read`` costs
about 1.5 us more than the unpatched ~1.2 us (preadv2 itself ~0.2 us, the
copy ~0.2 us, the rest Python), a buffered ``f.read(4096)`` ~0.5 us more
than ~1.8 us.

Not covered: ``os.sendfile``, ``os.copy_file_range``, ``os.splice`` (so
``shutil.copyfile``'s Linux fast path blocks the thread), ``os.open``
itself (but see FIFOs above), ``os.close`` of an fd another goroutine
waits on in the netpoller (it is not woken; a closed pipe end's peer is,
by the hang-up).
"""

from __future__ import annotations

import errno
import io
import os
import select as _select
import stat
import sys
import threading
import time as _time
from collections.abc import Callable
from typing import Any
from warnings import warn as _warn

from .._core import blocking_call, current_goroutine, wait_fd
from . import _child, _registry

__all__ = ["patch", "unpatch", "is_patched"]

AREA = _registry.Area("os", __name__, "os file I/O, ``open()`` and child waits")

# Originals, bound at import: the pool runs these, never a replacement.
_read = os.read
_write = os.write
_pread = os.pread
_pwrite = os.pwrite
_readv = os.readv
_writev = os.writev
_fstat = os.fstat
_lseek = os.lseek
_get_blocking = os.get_blocking
_monotonic_ns = _time.monotonic_ns
_preadv: Callable[..., int] | None = getattr(os, "preadv", None)
_pwritev: Callable[..., int] | None = getattr(os, "pwritev", None)
_NOWAIT: int = getattr(os, "RWF_NOWAIT", 0)
if not _NOWAIT:
    _preadv = _pwritev = None
_S_ISREG = stat.S_ISREG
_S_ISDIR = stat.S_ISDIR
_S_ISBLK = stat.S_ISBLK
_EAGAIN = errno.EAGAIN
_ESPIPE = errno.ESPIPE
_EBADF = errno.EBADF
_EINVAL = errno.EINVAL
_SEEK_CUR = os.SEEK_CUR
_FileIO = io.FileIO
_open = io.open
_POLLIN = getattr(_select, "POLLIN", 1)
_POLLOUT = getattr(_select, "POLLOUT", 4)

# Outcomes of a try, besides a count.
_POOL = -1  # a regular file that would wait for the disk: use the pool
_WAIT = -2  # a pollable fd, not ready: wait in the netpoller
_FALLBACK = -3  # NOWAIT refused: classify with fstat
_DIRECT = -4  # an error the original call raises at once
_NONBLOCK = -5  # an fd the program made non-blocking, not ready


def _disk(fd: int) -> bool | None:
    """Whether ``fd`` is a regular file, directory or block device (the
    pool's), or not (the netpoller's); None if fstat fails (a bad fd)."""
    try:
        mode = _fstat(fd).st_mode
    except OSError:
        return None
    return _S_ISREG(mode) or _S_ISDIR(mode) or _S_ISBLK(mode)


def _at_eof(fd: int, offset: int) -> bool:
    """Whether a regular file ``fd`` has no byte at ``offset`` (-1: the
    position): a short read there was the EOF a blocking read stops at."""
    try:
        size = _fstat(fd).st_size
        if offset < 0:
            offset = _lseek(fd, 0, _SEEK_CUR)
    except OSError:
        return False
    return offset >= size


def _poll_ready(fd: int, mask: int) -> bool:
    """A 0-timeout poll: whether ``fd`` is ready (or in error) now."""
    p = _select.poll()
    p.register(fd, mask)
    return bool(p.poll(0))


def _cast(buffers: Any) -> list[memoryview] | None:
    """The buffers as flat byte views, or None if one cannot be."""
    try:
        return [memoryview(b).cast("B") for b in buffers]
    except (TypeError, ValueError, BufferError):
        return None


def _skip(views: list[Any], n: int) -> list[memoryview]:
    """``views`` (byte views or bytearrays) without their first ``n`` bytes."""
    out = []
    for v in views:
        if n >= len(v):
            n -= len(v)
            continue
        out.append(memoryview(v)[n:])
        n = 0
    return out


def _pool_read(fd: int, views: list[Any], offset: int) -> int:
    """On a pool thread: fill ``views`` as blocking read(2)s do, stopping
    at EOF (0) or at a short read, which on a regular file is EOF too."""
    total = 0
    while views:
        want = sum(len(v) for v in views)
        if offset < 0:
            n = _readv(fd, views)
        else:
            n = os.preadv(fd, views, offset + total)
        total += n
        if n == 0 or n >= want:
            break
        views = _skip(views, n)
    return total


def _outcome(err: int) -> int:
    """What to do after a NOWAIT try failed with errno ``err``."""
    if err == _EAGAIN:
        return _WAIT
    return _DIRECT if err == _ESPIPE or err == _EBADF else _FALLBACK


def _read_into(
    fd: int,
    views: list[Any],
    offset: int,
    direct: Callable[..., Any],
    args: tuple[Any, ...] = (),
    failed: int = 0,
) -> Any:
    """Read into ``views`` from ``fd`` (at ``offset``, -1: the position) as a
    blocking read would, parking only the goroutine (steps in the module's
    docstring). Returns the count, or what ``direct(*args)`` (the original
    call, made where the original's behaviour is wanted) returns, wrapped in
    a 1-tuple. ``views`` is non-empty, its total length > 0. ``failed``:
    the errno of a NOWAIT try the caller just made, which is not repeated
    (a regular file's EAGAIN goes straight to the pool)."""
    preadv = _preadv
    while True:
        outcome = _FALLBACK
        if failed:
            outcome = _outcome(failed)
            failed = 0
        elif preadv is not None:
            try:
                n = preadv(fd, views, offset, _NOWAIT)
            except OSError as e:
                outcome = _outcome(e.errno or 0)
            else:
                want = len(views[0]) if len(views) == 1 else sum(len(v) for v in views)
                if n >= want or n == 0:
                    return n
                # Short: EOF, or the cache held only part, or a pipe's all.
                if not _more_to_read(fd, offset, n):
                    return n
                rest = _skip(views, n)
                return n + blocking_call(_pool_read, fd, rest, -1 if offset < 0 else offset + n)
        if outcome == _DIRECT:
            return (direct(*args),)
        kind = _disk(fd)
        if kind is None:
            return (direct(*args),)  # EBADF, with the original's words
        if kind:
            return blocking_call(_pool_read, fd, views, offset)
        if outcome == _FALLBACK:
            if _poll_ready(fd, _POLLIN):
                return (direct(*args),)
        if not _get_blocking(fd):
            return (direct(*args),)
        wait_fd(fd, "r")
        if outcome == _FALLBACK:
            return (direct(*args),)


# A write to a regular file of at most this many bytes, where the file
# system cannot say whether it would wait (no RWF_NOWAIT for buffered
# writes), is made in the goroutine: it is a copy into the page cache, a few
# us, where a pool round trip costs tens (and logging writes a line at a
# time). Only writeback throttling or a busy journal make it wait; a write
# that took longer than _SLOW_WRITE_NS sends every such write to the pool
# for the next _SLOW_WRITE_COOLDOWN_NS, so a disk that cannot keep up
# stalls the scheduler once, for one write, not for each.
_INLINE_WRITE = 1 << 16
_SLOW_WRITE_NS = 2_000_000
_SLOW_WRITE_COOLDOWN_NS = 1_000_000_000
_slow_writes_until = 0


def _inline_write(direct: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any] | None:
    """``(direct(*args),)``, timed, for a small regular-file write; None
    while writes to regular files are slow (the caller uses the pool)."""
    global _slow_writes_until
    t0 = _monotonic_ns()
    if t0 < _slow_writes_until:
        return None
    try:
        return (direct(*args),)
    finally:
        t1 = _monotonic_ns()
        if t1 - t0 > _SLOW_WRITE_NS:
            _slow_writes_until = t1 + _SLOW_WRITE_COOLDOWN_NS


def _pool_write(fd: int, views: list[memoryview], offset: int) -> int:
    """On a pool thread: write ``views`` as one blocking write(2) would."""
    if offset < 0:
        return _writev(fd, views)
    return os.pwritev(fd, views, offset)


def _write_from(fd: int, views: list[Any], offset: int, direct: Callable[..., Any], args: tuple[Any, ...] = ()) -> Any:
    """Write ``views`` to ``fd`` as a blocking write would, parking only the
    goroutine. Returns the count, or ``(direct(),)``."""
    pwritev = _pwritev
    total = 0
    while True:
        outcome = _FALLBACK
        if pwritev is not None:
            try:
                n = pwritev(fd, views, offset if offset < 0 else offset + total, _NOWAIT)
            except BlockingIOError:
                outcome = _WAIT
            except OSError as e:
                if total:
                    return total  # what a blocking write returns after a partial write
                outcome = _outcome(e.errno or 0)
            else:
                want = len(views[0]) if len(views) == 1 else sum(len(v) for v in views)
                total += n
                if n >= want:
                    return total
                views = _skip(views, n)
                kind = _disk(fd)
                if kind:
                    return total + blocking_call(_pool_write, fd, views, offset if offset < 0 else offset + total)
                if kind is None or not _get_blocking(fd):
                    return total
                wait_fd(fd, "w")
                continue
        if outcome == _DIRECT:
            return (direct(*args),)
        kind = _disk(fd)
        if kind is None:
            return (direct(*args),) if not total else total
        if kind:
            if outcome == _FALLBACK and not total and sum(len(v) for v in views) <= _INLINE_WRITE:
                done = _inline_write(direct, args)
                if done is not None:
                    return done
            return total + blocking_call(_pool_write, fd, views, offset if offset < 0 else offset + total)
        if outcome == _FALLBACK and total == 0:
            if _poll_ready(fd, _POLLOUT):
                return (direct(*args),)
        if not _get_blocking(fd):
            return total if total else (direct(*args),)
        wait_fd(fd, "w")
        if outcome == _FALLBACK and total == 0:
            return (direct(*args),)


_MISSING: Any = object()
_MAXSIZE = sys.maxsize


def _view(data: Any) -> memoryview | None:
    """``memoryview(data)``, or None where it cannot be (the original then
    raises its own error, outside any except clause: no exception context)."""
    try:
        return memoryview(data)
    except TypeError:
        return None


def _index(x: Any) -> int | None:
    if type(x) is int:
        return x
    try:
        return x.__index__()  # type: ignore[no-any-return]
    except Exception:
        return None


# -- os functions ---------------------------------------------------------


def _scratch(n: int) -> bytearray:
    """A buffer of ``n`` bytes for a fast read, reused by this thread.

    Only the first, non-blocking try reads into it, and its bytes are
    copied out before anything can switch goroutines; whatever parks
    (a pool read, a netpoller wait) gets a buffer of its own, since a pool
    thread may still write into it after its goroutine was stopped.
    """
    local = _local
    try:
        buf: bytearray = local.buf
        if len(buf) == n:
            return buf
    except AttributeError:
        pass
    buf = bytearray(n)
    if n <= _SCRATCH_MAX:
        local.buf = buf
    return buf


_local = threading.local()
_BIG = 1 << 20
_SCRATCH_MAX = 1 << 16


def _read_bytes(fd: int, n: int, offset: int, direct: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """``n`` bytes read from ``fd`` as a blocking read / pread does, as bytes:
    the fast try (RWF_NOWAIT into this thread's scratch buffer), then
    ``_read_rest`` (os.read and os.pread inline the fast try).

    A read of more than ``_BIG`` bytes from a regular file is made on the
    pool whole, with the original call, which also builds the bytes there:
    copying hundreds of MiB (from the cache, or out of a buffer) would hold
    the scheduler's thread for as long as a disk read."""
    preadv = _preadv
    if n > _BIG and _disk(fd):
        return blocking_call(_read, fd, n) if offset < 0 else blocking_call(_pread, fd, n, offset)
    if preadv is None:
        return _read_rest(fd, n, offset, None, 0, 0, direct, args)
    buf = _scratch(n)
    try:
        r = preadv(fd, [buf], offset, _NOWAIT)
    except OSError as e:
        r = -(e.errno or _EINVAL)  # the rest outside the except clause: no context
    if r < 0:
        return _read_rest(fd, n, offset, None, 0, -r, direct, args)
    if r == n:
        return bytes(buf)
    return _read_rest(fd, n, offset, buf, r, 0, direct, args)


def _read_rest(
    fd: int,
    n: int,
    offset: int,
    buf: bytearray | None,
    r: int,
    failed: int,
    direct: Callable[..., Any],
    args: tuple[Any, ...],
) -> Any:
    """After the fast try of ``_read_bytes``: it read ``r`` < ``n`` bytes
    into ``buf`` (0: EOF), or failed with errno ``failed``, or was not made
    (``failed`` 0 and ``buf`` None)."""
    if buf is not None:
        if r == 0:
            return b""
        head = bytes(memoryview(buf)[:r])
        if not _more_to_read(fd, offset, r):
            return head
        rest = bytearray(n - r)
        got = blocking_call(_pool_read, fd, [rest], -1 if offset < 0 else offset + r)
        return head + bytes(memoryview(rest)[:got])
    if n > _BIG and _disk(fd):
        return blocking_call(_read, fd, n) if offset < 0 else blocking_call(_pread, fd, n, offset)
    own = bytearray(n)
    got = _read_into(fd, [own], offset, direct, args, failed)
    if type(got) is tuple:
        return got[0]
    return bytes(own) if got == n else bytes(memoryview(own)[:got])


def _more_to_read(fd: int, offset: int, r: int) -> bool:
    """After a short NOWAIT read of ``r`` bytes: whether a blocking read
    would have gone on (a regular file not at EOF: the cache held only
    part), rather than stop there (EOF, or a pipe's or socket's all)."""
    kind = _disk(fd)
    return bool(kind) and not _at_eof(fd, offset if offset < 0 else offset + r)


def _present(*values: Any) -> tuple[Any, ...]:
    """The arguments a caller gave (those not ``_MISSING``)."""
    return tuple(v for v in values if v is not _MISSING)


def _make_read(original: Any) -> Any:
    current = current_goroutine
    preadv = _preadv
    local = _local
    nowait = _NOWAIT

    def read(fd: Any = _MISSING, n: Any = _MISSING, /, *more: Any, **kwargs: Any) -> Any:
        # The fast path, inline: a cached read is one NOWAIT call and a copy.
        if (
            type(n) is int
            and 0 < n <= _SCRATCH_MAX
            and type(fd) is int
            and preadv is not None
            and not kwargs
            and not more
            and current() is not None
        ):
            buf = getattr(local, "buf", None)
            if buf is None or len(buf) != n:
                buf = local.buf = bytearray(n)
            try:
                r = preadv(fd, [buf], -1, nowait)
            except OSError as e:
                r = -(e.errno or _EINVAL)  # the rest outside the except clause: no context
            if r == n:
                return bytes(buf)
            if r < 0:
                return _read_rest(fd, n, -1, None, 0, -r, original, (fd, n))
            return _read_rest(fd, n, -1, buf, r, 0, original, (fd, n))
        if current() is None or more or kwargs or n is _MISSING:
            return original(*_present(fd, n), *more, **kwargs)
        args = (fd, n)
        if type(fd) is not int or type(n) is not int:
            fd, n = _index(fd), _index(n)
            if fd is None or n is None:
                return original(*args)
        if not 0 < n <= _MAXSIZE:
            return original(*args)
        return _read_bytes(fd, n, -1, original, args)

    return _registry.lean(read, original)


def _make_pread(original: Any) -> Any:
    current = current_goroutine
    preadv = _preadv
    local = _local
    nowait = _NOWAIT

    def pread(fd: Any = _MISSING, n: Any = _MISSING, offset: Any = _MISSING, /, *more: Any, **kwargs: Any) -> Any:
        if (
            type(n) is int
            and 0 < n <= _SCRATCH_MAX
            and type(fd) is int
            and type(offset) is int
            and offset >= 0
            and preadv is not None
            and not kwargs
            and not more
            and current() is not None
        ):
            buf = getattr(local, "buf", None)
            if buf is None or len(buf) != n:
                buf = local.buf = bytearray(n)
            try:
                r = preadv(fd, [buf], offset, nowait)
            except OSError as e:
                r = -(e.errno or _EINVAL)  # the rest outside the except clause: no context
            if r == n:
                return bytes(buf)
            if r < 0:
                return _read_rest(fd, n, offset, None, 0, -r, original, (fd, n, offset))
            return _read_rest(fd, n, offset, buf, r, 0, original, (fd, n, offset))
        if current() is None or more or kwargs or offset is _MISSING:
            return original(*_present(fd, n, offset), *more, **kwargs)
        args = (fd, n, offset)
        if type(fd) is not int or type(n) is not int or type(offset) is not int:
            fd, n, offset = _index(fd), _index(n), _index(offset)
            if fd is None or n is None or offset is None:
                return original(*args)
        if not 0 < n <= _MAXSIZE or offset < 0:
            return original(*args)
        return _read_bytes(fd, n, offset, original, args)

    return _registry.lean(pread, original)


def _make_readv(original: Any) -> Any:
    def readv(*args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != 2 or current_goroutine() is None:
            return original(*args, **kwargs)
        fd = _index(args[0])
        views = _cast(args[1]) if fd is not None and isinstance(args[1], (list, tuple)) else None
        if fd is None or not views or any(v.readonly for v in views) or not sum(len(v) for v in views):
            return original(*args)
        r = _read_into(fd, views, -1, original, args)
        return r[0] if type(r) is tuple else r

    return _registry.lean(readv, original)


def _make_write(original: Any) -> Any:
    def write(*args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != 2 or current_goroutine() is None:
            return original(*args, **kwargs)
        fd, data = args
        if type(fd) is not int:
            fd = _index(fd)
        view = _view(data)
        if view is None:
            return original(*args)
        if fd is None or not view.nbytes or not view.c_contiguous:
            return original(*args)
        views = [view] if view.ndim == 1 and view.itemsize == 1 else _cast([view])
        if not views:
            return original(*args)
        r = _write_from(fd, views, -1, original, args)
        return r[0] if type(r) is tuple else r

    return _registry.lean(write, original)


def _make_pwrite(original: Any) -> Any:
    def pwrite(*args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != 3 or current_goroutine() is None:
            return original(*args, **kwargs)
        fd, offset = _index(args[0]), _index(args[2])
        view = _view(args[1])
        if view is not None and (view.ndim != 1 or view.itemsize != 1 or not view.c_contiguous):
            views = _cast([view]) if view.c_contiguous else None
            view = views[0] if views else None
        if view is None or fd is None or offset is None or offset < 0 or not view.nbytes:
            return original(*args)
        r = _write_from(fd, [view], offset, original, args)
        return r[0] if type(r) is tuple else r

    return _registry.lean(pwrite, original)


def _make_writev(original: Any) -> Any:
    def writev(*args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != 2 or current_goroutine() is None:
            return original(*args, **kwargs)
        fd = _index(args[0])
        views = _cast(args[1]) if fd is not None and isinstance(args[1], (list, tuple)) else None
        if fd is None or not views or not sum(len(v) for v in views):
            return original(*args)
        r = _write_from(fd, views, -1, original, args)
        return r[0] if type(r) is tuple else r

    return _registry.lean(writev, original)


def _make_pool(original: Any) -> Any:
    """fsync, fdatasync: always the pool, from a goroutine."""

    def on_pool(*args: Any, **kwargs: Any) -> Any:
        if current_goroutine() is None:
            return original(*args, **kwargs)
        return blocking_call(original, *args, **kwargs)

    return _registry.lean(on_pool, original)


# -- open() -----------------------------------------------------------------


class _CoopFileIO(_FileIO):
    """``io.FileIO`` whose reads and writes cooperate in a goroutine.

    Only open() makes it. Each method is FileIO's own outside a goroutine,
    on a closed file, a file not open for that, or an argument the fast
    path does not take; the C code then raises what it raises.
    """

    _offset_rw = (False, False)  # (readable, writable), fixed by __init__
    _offset_fd = -1
    _offset_regular = False  # a regular file, whose small writes are inline (_INLINE_WRITE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._offset_rw = (_FileIO.readable(self), _FileIO.writable(self))
        self._offset_fd = fd = _FileIO.fileno(self)  # FileIO's fd never changes while open
        if self._offset_rw[1]:
            try:
                self._offset_regular = _S_ISREG(_fstat(fd).st_mode)
            except OSError:
                pass

    def __repr__(self) -> str:
        # FileIO's repr names the type by tp_name from 3.12 on, which for a
        # class made in Python is its bare name.
        r: str = _FileIO.__repr__(self)
        return "<_io.FileIO" + r[7:] if r.startswith("<FileIO") else r

    def readinto(self, buffer: Any, /) -> Any:
        if current_goroutine() is None or self.closed or not self._offset_rw[0]:
            return _FileIO.readinto(self, buffer)
        # The fast path: what the buffered layers pass, a flat memoryview
        # of their buffer (or a bytearray), read into in place.
        t = type(buffer)
        preadv = _preadv
        if preadv is not None and (t is memoryview or t is bytearray):
            size = buffer.nbytes if t is memoryview else len(buffer)
            if size:
                fd = self._offset_fd
                failed = 0
                try:
                    r = preadv(fd, [buffer], -1, _NOWAIT)
                except OSError as e:
                    failed = e.errno or _EINVAL
                except (TypeError, BufferError):
                    failed = -1  # not a writable contiguous buffer: the slow path decides
                if not failed:
                    if r == size or r == 0 or not _more_to_read(fd, -1, r):
                        return r
                    flat = memoryview(buffer).cast("B")
                    return r + blocking_call(_pool_read, fd, [flat[r:]], -1)
                if failed > 0:
                    views = [buffer if t is bytearray else memoryview(buffer).cast("B")]
                    got = _read_into(fd, views, -1, _FileIO.readinto, (self, buffer), failed)
                    return got[0] if type(got) is tuple else got
        view = _view(buffer)
        if view is None or view.readonly or not view.c_contiguous or not view.nbytes:
            return _FileIO.readinto(self, buffer)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        got = _read_into(_FileIO.fileno(self), [view], -1, _FileIO.readinto, (self, buffer))
        return got[0] if type(got) is tuple else got

    def read(self, size: Any = -1, /) -> Any:
        if current_goroutine() is None or self.closed or not self._offset_rw[0]:
            return _FileIO.read(self, size)
        preadv = _preadv
        if type(size) is int and 0 < size <= _SCRATCH_MAX and preadv is not None:
            # The fast path, inline, as in os.read.
            local = _local
            buf = getattr(local, "buf", None)
            if buf is None or len(buf) != size:
                buf = local.buf = bytearray(size)
            fd = self._offset_fd
            try:
                r = preadv(fd, [buf], -1, _NOWAIT)
            except OSError as e:
                r = -(e.errno or _EINVAL)  # the rest outside the except clause: no context
            if r == size:
                return bytes(buf)
            if r < 0:
                return _read_rest(fd, size, -1, None, 0, -r, _FileIO.read, (self, size))
            return _read_rest(fd, size, -1, buf, r, 0, _FileIO.read, (self, size))
        n = -1 if size is None else size if type(size) is int else _index(size)
        if n is None or n == 0 or n > _MAXSIZE:
            return _FileIO.read(self, size)
        if n < 0:
            return self.readall()
        return _read_bytes(_FileIO.fileno(self), n, -1, _FileIO.read, (self, size))

    def readall(self) -> Any:
        if current_goroutine() is None or self.closed or not self._offset_rw[0]:
            return _FileIO.readall(self)
        fd = _FileIO.fileno(self)
        # As the C readall sizes its buffer: the rest of the file and one
        # byte more, so that the read that says EOF is the next one.
        want = 8192
        try:
            end = _fstat(fd).st_size
            pos = _lseek(fd, 0, _SEEK_CUR)
            if end > 0 and end >= pos >= 0:
                want = end - pos + 1
        except OSError:
            pass
        chunks: list[bytes] = []

        def direct(n: int) -> bytes | None:
            try:
                return _read(fd, n)
            except BlockingIOError:
                return None  # non-blocking and not ready: what the C readall does then

        while True:
            data = _read_bytes(fd, want, -1, direct, (want,))
            if data is None:
                if chunks:
                    break
                return None
            if not data:
                break
            chunks.append(data)
            if len(data) == want:
                want = max(8192, min(want * 2, 1 << 26))
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def write(self, data: Any, /) -> Any:
        if current_goroutine() is None or self.closed or not self._offset_rw[1]:
            return _FileIO.write(self, data)
        view = _view(data)
        if view is None or not view.c_contiguous or not view.nbytes:
            return _FileIO.write(self, data)
        if self._offset_regular and view.nbytes <= _INLINE_WRITE:
            done = _inline_write(_FileIO.write, (self, data))
            if done is not None:
                return done[0]
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        r = _write_from(_FileIO.fileno(self), [view], -1, _FileIO.write, (self, data))
        return r[0] if type(r) is tuple else r


_CoopFileIO.__name__ = "FileIO"
_CoopFileIO.__qualname__ = "FileIO"

_MODES = frozenset("xrwa+tb")


def _is_fifo(path: str | bytes) -> bool:
    """Whether ``path`` names a FIFO, whose open(2) waits for a peer."""
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


_OPEN_ARGS = ("file", "mode", "buffering", "encoding", "errors", "newline", "closefd", "opener")


def _make_open(original: Any) -> Any:
    """One replacement for builtins.open, io.open and _io.open, which are
    one object in the stdlib (``open is io.open`` stays true)."""
    made = _open_made.get(id(original))
    if made is not None and made.__wrapped__ is original:
        return made
    made = _make_open_for(original)
    _open_made[id(original)] = made
    return made


_open_made: dict[int, Any] = {}
_LINE_BUFFERING_BINARY = (
    "line buffering (buffering=1) isn't supported in binary mode, the default buffer size will be used"
)


def _make_open_for(original: Any) -> Any:
    def open(*args: Any, **kwargs: Any) -> Any:
        n = len(args)
        if not 1 <= n <= 8 and not (n == 0 and "file" in kwargs):
            return original(*args, **kwargs)
        values = list(args) + [_MISSING] * (8 - n)
        if kwargs:
            for k, v in kwargs.items():
                if k not in _OPEN_ARGS:
                    return original(*args, **kwargs)
                i = _OPEN_ARGS.index(k)
                if values[i] is not _MISSING:
                    return original(*args, **kwargs)
                values[i] = v
        file, mode, buffering, encoding, errors, newline, closefd, opener = values
        if file is _MISSING:
            return original(*args, **kwargs)
        mode = "r" if mode is _MISSING else mode
        buffering = -1 if buffering is _MISSING else buffering
        encoding = None if encoding is _MISSING else encoding
        errors = None if errors is _MISSING else errors
        newline = None if newline is _MISSING else newline
        closefd = True if closefd is _MISSING else closefd
        opener = None if opener is _MISSING else opener
        if (
            type(mode) is not str
            or type(buffering) is not int
            or not (encoding is None or type(encoding) is str)
            or not (errors is None or type(errors) is str)
            or not (newline is None or type(newline) is str)
            or not (type(closefd) is bool or type(closefd) is int)
            or len(set(mode)) != len(mode)
            or not _MODES.issuperset(mode)
        ):
            return original(*args, **kwargs)
        text = "t" in mode
        binary = "b" in mode
        creating, reading, writing, appending = "x" in mode, "r" in mode, "w" in mode, "a" in mode
        updating = "+" in mode
        if (
            (text and binary)
            or creating + reading + writing + appending != 1
            or (binary and (encoding is not None or errors is not None or newline is not None))
            or (not binary and encoding is None and sys.flags.warn_default_encoding)
            or (buffering == 0 and not binary)
        ):
            return original(*args, **kwargs)
        if binary and buffering == 1:
            # Warned here, not by the original: a warning names the line
            # that called open(), and for the original that is this one.
            # 3: this frame, _Builtin.__call__, the caller.
            _warn(_LINE_BUFFERING_BINARY, RuntimeWarning, 3)
            buffering = -1
        # From here, the steps of _io_open_impl.
        t = type(file)
        if t is int or t is str or t is bytes:
            path_or_fd = file
        elif hasattr(t, "__fspath__") and not (
            hasattr(t, "__index__") or hasattr(t, "__int__") or hasattr(t, "__float__")
        ):
            path_or_fd = os.fspath(file)
            if type(path_or_fd) is not str and type(path_or_fd) is not bytes:
                return original(*args, **kwargs)
        else:
            return original(*args, **kwargs)  # a number of another kind, or no path: its own checks
        rawmode = ("x" if creating else "") + ("r" if reading else "") + ("w" if writing else "")
        rawmode += ("a" if appending else "") + ("+" if updating else "")
        if opener is None and type(path_or_fd) is not int and current_goroutine() is not None and _is_fifo(path_or_fd):
            # open(2) of a FIFO waits for the other end: on the pool.
            raw = blocking_call(_CoopFileIO, path_or_fd, rawmode, bool(closefd), opener)
        else:
            raw = _CoopFileIO(path_or_fd, rawmode, bool(closefd), opener)
        result: Any = raw
        try:
            line_buffering = False
            if buffering == 1 or (buffering < 0 and raw.isatty()):
                buffering = -1
                line_buffering = True
            if buffering < 0:
                buffering = raw._blksize  # type: ignore[attr-defined]
            if buffering < 0:
                raise ValueError("invalid buffering size")
            if buffering == 0:
                return result
            if updating:
                buffer: Any = io.BufferedRandom(raw, buffering)
            elif creating or writing or appending:
                buffer = io.BufferedWriter(raw, buffering)
            else:
                buffer = io.BufferedReader(raw, buffering)
            result = buffer
            if binary:
                return result
            wrapper = io.TextIOWrapper(buffer, encoding, errors, newline, line_buffering)
            result = wrapper
            wrapper.mode = mode  # type: ignore[misc]
            return result
        except BaseException:
            try:
                result.close()
            except BaseException:
                pass
            raise

    # The built-in open is no descriptor, so a class that holds it (``open
    # = io.open``, as CPython's test_file does) calls it without self; a
    # plain function would be bound (see _Builtin).
    return _Builtin(_registry.lean(open, original), original)


class _Builtin:
    """A replacement that is, like the built-in it replaces, no descriptor.

    The built-in open is not bound when a class holds it (``open =
    io.open``, as CPython's test_file does): ``self.open(name)`` passes no
    self. A plain function would be bound. Its repr, name and pickling are
    the original's.
    """

    def __init__(self, fn: Callable[..., Any], original: Any) -> None:
        self._fn = fn
        for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
            try:
                setattr(self, attr, getattr(original, attr))
            except (AttributeError, TypeError):
                pass
        self.__wrapped__ = original

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn(*args, **kwargs)

    def __repr__(self) -> str:
        return repr(self.__wrapped__)

    def __reduce__(self) -> str:
        name: str = self.__wrapped__.__qualname__
        return name


# -- the area -----------------------------------------------------------------

_OS_FUNCTIONS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("read", _make_read),
    ("write", _make_write),
    ("pread", _make_pread),
    ("pwrite", _make_pwrite),
    ("readv", _make_readv),
    ("writev", _make_writev),
    ("fsync", _make_pool),
    ("fdatasync", _make_pool),
)
for _path, _factory in _OS_FUNCTIONS:
    if hasattr(os, _path):
        AREA.define("os", _path, _factory, scan=True)
AREA.define("builtins", "open", _make_open)
AREA.define("io", "open", _make_open)
AREA.define("_io", "open", _make_open)
for _path, _factory in _child.OS_PATCHES:
    AREA.define("os", _path, _factory, scan=True)
# subprocess binds os.waitpid as _waitpid when imported (offset's own
# imports may import it before patch_all: wrapt imports asyncio), for
# Popen._internal_poll's WNOHANG calls, which never block; Popen's blocking
# waits are the subprocess area's. Not a reference worth a PatchWarning.
_registry.held_on_purpose("subprocess", "_waitpid", "os.waitpid")


patch, unpatch, is_patched = AREA.functions()
