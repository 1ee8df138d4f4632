"""File and pipe I/O cases, run patched and unpatched (child side; see
socket_cases.py for how they are compared).

Each case works in a fresh directory of its own and names files by
relative paths, so that the reprs of two runs compare equal. Fds in
results are not shown (they differ from run to run).
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any

import child

_cases = child.Cases()
case = _cases.case
CASES = _cases.fns
run_all = _cases.run_all

DATA = bytes(range(256)) * 64  # 16 KiB


@contextlib.contextmanager
def workdir() -> Iterator[str]:
    """A fresh directory, the current one while the case runs."""
    old = os.getcwd()
    d = tempfile.mkdtemp(prefix="offset-files-", dir=os.path.dirname(os.path.abspath(__file__)))
    os.chdir(d)
    try:
        with open("data", "wb") as f:
            f.write(DATA)
        yield d
    finally:
        os.chdir(old)
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def fd_of(path: str, flags: int = os.O_RDONLY) -> Iterator[int]:
    fd = os.open(path, flags, 0o644)
    try:
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    try:
        yield r, w
    finally:
        for fd in (r, w):
            with contextlib.suppress(OSError):
                os.close(fd)


def outcomes(**fns: Any) -> dict[str, Any]:
    return {name: child.outcome(fn) for name, fn in fns.items()}


def describe(f: Any) -> list[Any]:
    """What a program sees of a file object: types, repr, mode, name."""
    raw = f
    while hasattr(raw, "buffer") or hasattr(raw, "raw"):
        raw = getattr(raw, "buffer", None) or raw.raw
    return [
        type(f).__name__,
        repr(f),
        getattr(f, "mode", None),
        type(raw).__name__,
        repr(raw),
        isinstance(raw, io.FileIO),
    ]


# -- os functions on a regular file ----------------------------------------


@case
def read_sizes() -> Any:
    with workdir(), fd_of("data") as fd:
        out = [os.read(fd, n) == DATA[sum((1, 100, 4096, 5000)[:i]) :][:n] for i, n in enumerate((1, 100, 4096, 5000))]
        os.lseek(fd, -10, os.SEEK_END)
        out += [os.read(fd, 100), os.read(fd, 100), os.read(fd, 0), os.lseek(fd, 0, os.SEEK_CUR)]
        return out


@case
def read_whole() -> Any:
    with workdir(), fd_of("data") as fd:
        return [os.read(fd, 1 << 20) == DATA, os.read(fd, 10)]


@case
def pread_offsets() -> Any:
    with workdir(), fd_of("data") as fd:
        out = [os.pread(fd, n, off) == DATA[off : off + n] for n, off in ((1, 0), (4096, 10), (100, 16380), (9, 99999))]
        out.append(os.lseek(fd, 0, os.SEEK_CUR))  # pread leaves the position
        out.append(child.outcome(lambda: os.pread(fd, 10, -1)))
        out.append(child.outcome(lambda: os.pread(fd, -1, 0)))
        out.append(os.pread(fd, 0, 0))
        return out


@case
def readv_writev() -> Any:
    with workdir(), fd_of("data", os.O_RDWR) as fd:
        a, b, c = bytearray(3), bytearray(5000), bytearray(0)
        n = os.readv(fd, [a, b, c])
        out: list[Any] = [n, bytes(a) == DATA[:3], bytes(b) == DATA[3:5003]]
        os.lseek(fd, 0, os.SEEK_END)
        out.append(os.writev(fd, [b"xy", memoryview(b"z" * 5000), bytearray(b"!")]))
        out.append(os.pread(fd, 10, len(DATA)))
        out.append(child.outcome(lambda: os.readv(fd, [b"readonly"])))
        out.append(child.outcome(lambda: os.writev(fd, ["str"])))
        return out


@case
def write_and_pwrite() -> Any:
    with workdir(), fd_of("new", os.O_RDWR | os.O_CREAT) as fd:
        out = [os.write(fd, b"hello"), os.write(fd, memoryview(b"abcdef")[1:4]), os.write(fd, bytearray(10000))]
        out += [os.pwrite(fd, b"XY", 1), os.pwrite(fd, b"tail", 20000), os.lseek(fd, 0, os.SEEK_CUR)]
        out.append(os.pread(fd, 10, 0))
        out.append(os.fstat(fd).st_size)
        out.append(os.write(fd, b""))
        out.append(child.outcome(lambda: os.pwrite(fd, b"x", -5)))
        return out


@case
def append_mode() -> Any:
    with workdir(), fd_of("data", os.O_WRONLY | os.O_APPEND) as fd:
        return [os.write(fd, b"end"), os.lseek(fd, 0, os.SEEK_CUR), os.pwrite(fd, b"ab", 0)]


@case
def errors() -> Any:
    with workdir():
        os.mkdir("dir")
        with fd_of("data", os.O_WRONLY) as wo, fd_of("dir") as d, fd_of("data") as ro, pipe() as (r, w):
            # An fd that no later open can take (the netpoller's, made on the
            # first idle wait, would take a just-closed number).
            closed = resource.getrlimit(resource.RLIMIT_NOFILE)[0] + 10
            return outcomes(
                read_writeonly=lambda: os.read(wo, 10),
                read_dir=lambda: os.read(d, 10),
                pread_dir=lambda: os.pread(d, 10, 0),
                read_closed=lambda: os.read(closed, 10),
                pread_closed=lambda: os.pread(closed, 10, 0),
                write_readonly=lambda: os.write(ro, b"x"),
                write_closed=lambda: os.write(closed, b"x"),
                pwrite_closed=lambda: os.pwrite(closed, b"x", 0),
                write_dir=lambda: os.write(d, b"x"),
                pread_pipe=lambda: os.pread(r, 10, 0),
                pwrite_pipe=lambda: os.pwrite(w, b"x", 0),
                readv_closed=lambda: os.readv(closed, [bytearray(3)]),
                writev_closed=lambda: os.writev(closed, [b"x"]),
                fsync_pipe=lambda: os.fsync(r),
                fsync_closed=lambda: os.fsync(closed),
                fdatasync_closed=lambda: os.fdatasync(closed),
                fsync_file=lambda: os.fsync(wo),
                fdatasync_file=lambda: os.fdatasync(wo),
                fsync_object=lambda: os.fsync(io.FileIO(wo, "w", closefd=False)),
                read_negative_fd=lambda: os.read(-1, 10),
            )


@case
def bad_arguments() -> Any:
    class Index:
        def __index__(self) -> int:
            return 5

    with workdir(), fd_of("data") as fd:
        return outcomes(
            no_args=lambda: os.read(),
            one_arg=lambda: os.read(fd),
            three_args=lambda: os.read(fd, 1, 2),
            keywords=lambda: os.read(fd=fd, n=1),
            float_n=lambda: os.read(fd, 1.5),
            str_fd=lambda: os.read("3", 1),
            negative_n=lambda: os.read(fd, -1),
            huge_n=lambda: os.read(fd, 2**70),
            index_n=lambda: os.read(fd, Index()),
            bool_n=lambda: os.read(fd, True),
            write_str=lambda: os.write(fd, "text"),
            write_none=lambda: os.write(fd, None),
            write_kw=lambda: os.write(fd=fd, data=b"x"),
            write_noncontiguous=lambda: os.write(fd, memoryview(b"abcdef")[::2]),
            pread_two=lambda: os.pread(fd, 1),
            pread_float=lambda: os.pread(fd, 1, 0.5),
            pwrite_str=lambda: os.pwrite(fd, "x", 0),
            readv_not_seq=lambda: os.readv(fd, 5),
            writev_gen=lambda: os.writev(fd, (b for b in [b"x"])),
            fsync_str=lambda: os.fsync("x"),
        )


# -- pipes ------------------------------------------------------------------


@case
def pipe_round_trip() -> Any:
    with pipe() as (r, w):
        out = [os.write(w, b"hello"), os.read(r, 3), os.read(r, 100)]
        big = bytes(50_000)
        out.append(os.write(w, big))
        got = b""
        while len(got) < len(big):
            got += os.read(r, 1 << 20)
        out.append(len(got))
        os.close(w)
        out.append(os.read(r, 10))  # EOF
        return out


@case
def pipe_broken() -> Any:
    with pipe() as (r, w):
        os.close(r)
        return [child.outcome(lambda: os.write(w, b"x")), child.outcome(lambda: os.writev(w, [b"x"]))]


@case
def pipe_nonblocking() -> Any:
    with pipe() as (r, w):
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        out: list[Any] = [child.outcome(lambda: os.read(r, 10)), child.outcome(lambda: os.readv(r, [bytearray(3)]))]
        n = os.write(w, bytes(1 << 20))  # partial: what fits
        out.append(n > 0)
        out.append(child.outcome(lambda: os.write(w, b"x")))
        with os.fdopen(r, "rb", buffering=0, closefd=False) as f:
            out.append(len(f.read(10)))
            while f.read(1 << 20):
                pass
            out.append(f.read(10))  # None: not ready
            out.append(f.readinto(bytearray(5)))
            out.append(f.readall())
        os.set_blocking(r, True)
        out.append(os.get_blocking(r))
        return out


@case
def pipe_file_objects() -> Any:
    with pipe() as (r, w):
        with os.fdopen(w, "w", closefd=False) as fw, os.fdopen(r, "r", closefd=False) as fr:
            fw.write("line one\nline two\n")
            fw.flush()
            out = [fr.readline(), describe(fw)[3::2], describe(fr)[3::2]]
            fw.write("rest")
            fw.close()
            os.close(w)
            out.append(fr.read())
            return out


@case
def subprocess_pipes() -> Any:
    p = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper())"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    out = p.communicate(b"hello " * 20000)[0]
    p2 = subprocess.run([sys.executable, "-c", "print('hi')"], capture_output=True, text=True)
    return [len(out), out[:12], p.returncode, p2.stdout, describe(p2.stdout)[0]]


@case
def fifo() -> Any:
    with workdir():
        os.mkfifo("fifo")
        fd = os.open("fifo", os.O_RDWR)  # both ends: open does not wait
        try:
            return [os.write(fd, b"abc"), os.read(fd, 10)]
        finally:
            os.close(fd)


# -- open() -----------------------------------------------------------------


@case
def open_modes() -> Any:
    out = {}
    with workdir():
        for mode in ("r", "rb", "rt", "br", "r+", "rb+", "w", "wb", "a", "ab", "a+", "w+b", "x", "xb"):
            name = "m-" + mode.replace("+", "p")
            if mode[0] in "ra" or mode.startswith("br"):
                shutil.copy("data", name)
            kw = {} if "b" in mode else {"encoding": "latin-1"}
            with open(name, mode, **kw) as f:
                desc = describe(f)
                if f.readable():
                    desc.append(len(f.read()))
                if f.writable():
                    desc.append(f.write(b"ab" if "b" in mode else "ab"))
            out[mode] = desc
        for buffering in (0, 1, 2, 8192, -1, -5):
            out[f"buffering={buffering}"] = child.outcome(lambda: describe(open("data", "rb", buffering)))
        out["text-buffering-1"] = child.outcome(lambda: describe(open("data", 1, encoding="latin-1")))
    return out


@case
def open_errors() -> Any:
    with workdir():
        os.mkdir("dir")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = outcomes(
                missing=lambda: open("missing"),
                directory=lambda: open("dir"),
                exists_x=lambda: open("data", "x"),
                rw=lambda: open("data", "rw"),
                rr=lambda: open("data", "rr"),
                bad_char=lambda: open("data", "rz"),
                empty_mode=lambda: open("data", ""),
                tb=lambda: open("data", "rtb"),
                plus_only=lambda: open("data", "+"),
                mode_int=lambda: open("data", 5),
                mode_U=lambda: open("data"),
                binary_encoding=lambda: open("data", "rb", encoding="utf-8"),
                binary_errors=lambda: open("data", "rb", errors="strict"),
                binary_newline=lambda: open("data", "rb", newline=""),
                binary_line_buffered=lambda: describe(open("data", "rb", 1)),
                unbuffered_text=lambda: open("data", 0),
                bad_encoding=lambda: open("data", encoding="no-such-codec"),
                bad_newline=lambda: open("data", newline="x"),
                bad_errors_type=lambda: open("data", errors=5),
                buffering_str=lambda: open("data", "rb", "5"),
                buffering_float=lambda: open("data", "rb", 1.5),
                closefd_name=lambda: open("data", "rb", closefd=False),
                closefd_str=lambda: open("data", "rb", closefd="no"),
                file_none=lambda: open(None),
                file_float=lambda: open(1.5),
                file_list=lambda: open([]),
                file_bad_fd=lambda: open(-1),
                file_bool=lambda: describe(open(False, "rb", closefd=False)),
                null_in_name=lambda: open("da\0ta"),
                null_in_mode=lambda: open("data", "r\0"),
                unknown_kw=lambda: open("data", bogus=1),
                file_kw=lambda: describe(open(file="data", mode="rb")),
                duplicate=lambda: open("data", file="data"),
                too_many=lambda: open("data", -1, None, None, None, True, None, 9),
                no_args=lambda: open(),
                opener_bad=lambda: open("data", opener=lambda p, f: -1),
            )
        out["warnings"] = [(w.category.__name__, str(w.message)) for w in caught if w.category is not ResourceWarning]
        return out


@case
def open_kinds_of_file() -> Any:
    with workdir():
        out = []
        with open(pathlib.Path("data"), "rb") as f:
            out.append(describe(f) + [len(f.read())])
        with open(b"data", "rb") as f:
            out.append(describe(f) + [len(f.read())])
        fd = os.open("data", os.O_RDONLY)
        with open(fd, "rb") as f:
            d = describe(f)
            out.append([d[0], d[2], d[3], d[5], len(f.read())])
        with open("data", "rb", opener=lambda p, fl: os.open(p, fl)) as f:
            out.append(describe(f) + [f.read(5)])
        return out


@case
def file_object_reads() -> Any:
    with workdir():
        out: list[Any] = []
        with open("data", "rb", buffering=0) as f:
            b = bytearray(100)
            out += [f.read(10) == DATA[:10], f.readinto(b), bytes(b) == DATA[10:110], f.read(0), f.tell()]
            out += [len(f.readall()), f.read(10), f.readinto(bytearray(3)), f.readall()]
            f.seek(16380)
            out += [f.read(), f.read(None)]
            arr = __import__("array").array("i", [0] * 4)
            f.seek(0)
            out += [f.readinto(arr), list(arr) == list(__import__("array").array("i", DATA[:16]))]
            out.append(child.outcome(lambda: f.readinto(b"readonly")))
            out.append(child.outcome(lambda: f.write(b"x")))
            out.append(child.outcome(lambda: f.read("5")))
        out.append(child.outcome(lambda: f.read(1)))
        out.append(child.outcome(lambda: f.readinto(bytearray(1))))
        with open("data", "rb") as f:
            out += [f.read(4096) == DATA[:4096], f.read1(100) == DATA[4096:4196], f.peek(1)[:1], len(f.read())]
            f.seek(3)
            out += [f.readline()[:5], f.tell()]
        with open("data", encoding="latin-1", newline="") as f:
            out += [len(f.read()), f.tell()]
        return out


@case
def file_object_writes() -> Any:
    with workdir():
        out: list[Any] = []
        with open("w", "wb", buffering=0) as f:
            out += [f.write(b"abc"), f.write(bytearray(10000)), f.write(memoryview(b"xyz")), f.write(b"")]
            out.append(child.outcome(lambda: f.write("str")))
            out.append(child.outcome(lambda: f.read(1)))
        out.append(child.outcome(lambda: f.write(b"x")))
        with open("w", "ab") as f:
            out += [f.write(b"more" * 5000), f.tell()]
        with open("w", "r+b") as f:
            f.seek(1)
            out += [f.write(b"Z"), f.read(2), f.tell()]
            f.flush()
            os.fsync(f.fileno())
        with open("t", "w", encoding="utf-8") as f:
            out.append(f.write("héllo\n" * 1000))
        with open("t", encoding="utf-8") as f:
            out += [f.readline(), len(f.read())]
        out.append(os.path.getsize("w"))
        return out


@case
def library_users() -> Any:
    with workdir():
        p = pathlib.Path("p")
        out: list[Any] = [p.write_bytes(DATA), p.read_bytes() == DATA, p.write_text("txt", encoding="ascii")]
        out.append(p.read_text(encoding="ascii"))
        with open("data", "rb") as src, open("copy", "wb") as dst:
            shutil.copyfileobj(src, dst, 1000)
        out.append(pathlib.Path("copy").read_bytes() == DATA)
        with tempfile.TemporaryFile() as t:
            t.write(DATA)
            t.seek(0)
            out += [describe(t)[0], describe(t)[3], t.read() == DATA]
        with tempfile.NamedTemporaryFile("w+", encoding="utf-8", dir=".") as t:
            t.write("named")
            t.seek(0)
            out.append(t.read())
        fd = os.open("data", os.O_RDONLY)
        with os.fdopen(fd, "rb") as f:
            out += [describe(f)[0], len(f.read())]
        out.append(child.outcome(lambda: os.fdopen(fd)))
        import _io

        with _io.open("data", "rb") as f:
            out += [describe(f)[0], describe(f)[3], len(f.read())]
        with open("data", "rb") as f:
            out += [describe(f)[0], describe(f)[3]]
        return out
