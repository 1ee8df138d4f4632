"""File and pipe I/O under the patch layer (the os area's reads, writes and open())."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .conftest import cases_script, run_child

PLAIN = cases_script("files_cases", "plain")
IN_GOROUTINES = cases_script("files_cases", "goroutine")
IN_A_THREAD = cases_script("files_cases", "thread")
BEFORE_RUN = cases_script("files_cases", "before_run")


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got.keys() == want.keys()
    assert {k: (got[k], want[k]) for k in want if got[k] != want[k]} == {}


def test_cases_match_unpatched() -> None:
    # Four children at once: they mostly wait, and each case works in a
    # directory of its own.
    with ThreadPoolExecutor(4) as pool:
        plain, patched, in_a_thread, before_run = pool.map(run_child, [PLAIN, IN_GOROUTINES, IN_A_THREAD, BEFORE_RUN])
    assert all(v[0] == "ok" for v in plain.values()), {k: v for k, v in plain.items() if v[0] != "ok"}
    assert_same(patched["cases"], plain)
    assert_same(in_a_thread, plain)
    assert_same(before_run, plain)


WAITS = """
import child; child.start()
import offset; offset.patch_all()
import os, subprocess, sys, tempfile, threading, time
ticks = [0]
def ticker():
    while True:
        time.sleep(0.005)
        ticks[0] += 1
out = {}
def timed(name, fn):
    t0, n0 = time.monotonic(), ticks[0]
    r = fn()
    out[name] = [r.decode() if isinstance(r, bytes) else r, round(time.monotonic() - t0, 1), ticks[0] - n0 > 20]
def later(delay, fn, *args):
    def run():
        time.sleep(delay)
        fn(*args)
    offset.go(run)
def main():
    offset.go(ticker)
    r, w = os.pipe()
    later(0.2, os.write, w, b"data")
    timed("pipe_read", lambda: os.read(r, 100))
    rf = os.fdopen(r, "rb", buffering=0)
    later(0.2, os.write, w, b"more")
    timed("pipe_fileio_read", lambda: rf.read(100))
    # A full pipe: the write waits for a reader, then returns all of it.
    big = bytes(1 << 20)
    def drain():
        time.sleep(0.2)
        got = 0
        while got < len(big):
            got += len(os.read(rf.fileno(), 1 << 16))
        out["drained"] = got
    offset.go(drain)
    timed("pipe_write_full", lambda: os.write(w, big))
    # A FIFO: open(2) waits for the other end (on the pool), reads in the netpoller.
    d = tempfile.mkdtemp(dir=".")
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    def writer():
        time.sleep(0.2)
        with open(fifo, "wb") as f:
            time.sleep(0.2)
            f.write(b"through the fifo")
    offset.go(writer)
    def read_fifo():
        with open(fifo, "rb") as f:
            return f.read()
    timed("fifo", read_fifo)
    os.unlink(fifo); os.rmdir(d)
    # A child's stdout (io.open over a pipe): read in the netpoller.
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3); print('done')"], stdout=subprocess.PIPE)
    timed("subprocess_stdout", lambda: p.stdout.read())
    p.wait()
    p.stdout.close()
    rf.close()
    os.close(w)
offset.run(main)
child.report(out)
"""


def test_pipes_fifos_and_child_pipes_wait_in_the_netpoller() -> None:
    out = run_child(WAITS)
    assert out["pipe_read"] == ["data", 0.2, True]
    assert out["pipe_fileio_read"] == ["more", 0.2, True]
    assert out["pipe_write_full"][0] == 1 << 20 and out["pipe_write_full"][2]
    assert out["drained"] == 1 << 20
    assert out["fifo"] == ["through the fifo", 0.4, True]
    assert out["subprocess_stdout"][0] == "done\n" and out["subprocess_stdout"][2]


POOL = """
import child; child.start()
import offset; offset.patch_all()
import os, threading, time
import offset.patches.os as area
pool = child.count_pool_calls(area)
data = os.urandom(4 << 20)
name = "pool-%d.dat" % os.getpid()
with open(name, "wb") as f:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())
def evict():
    fd = os.open(name, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
out = {}
def main():
    evict()
    fd = os.open(name, os.O_RDONLY)
    n0 = pool[0]
    ok = os.read(fd, len(data)) == data
    out["evicted_read"] = [ok, pool[0] - n0 >= 1]
    n0 = pool[0]
    ok = os.pread(fd, 4096, 8192) == data[8192:12288] and os.pread(fd, 1 << 20, 0) == data[: 1 << 20]
    out["cached_read"] = [ok, pool[0] - n0]
    os.close(fd)
    evict()
    n0 = pool[0]
    with open(name, "rb") as f:
        ok = f.read() == data
    out["evicted_file_read"] = [ok, pool[0] - n0 >= 1]
    n0 = pool[0]
    with open(name, "rb") as f:
        ok = f.read(4096) == data[:4096] and f.read(1 << 20) == data[4096 : 4096 + (1 << 20)]
    out["cached_file_read"] = [ok, pool[0] - n0]
    # fsync always on the pool; a plain thread never uses it.
    n0 = pool[0]
    fd = os.open(name, os.O_RDONLY)
    os.fsync(fd)
    out["fsync"] = pool[0] - n0
    evict()
    n0 = pool[0]
    t = threading.Thread(target=lambda: out.update(thread=os.read(fd, len(data)) == data))
    t.start()
    t.join()
    out["thread_pool"] = pool[0] - n0
    os.close(fd)
try:
    offset.run(main)
finally:
    os.unlink(name)
child.report(out)
"""


def test_regular_files_read_from_the_cache_in_the_goroutine_else_on_the_pool() -> None:
    out = run_child(POOL)
    assert out == {
        "evicted_read": [True, True],
        "cached_read": [True, 0],
        "evicted_file_read": [True, True],
        "cached_file_read": [True, 0],
        "fsync": 1,
        "thread": True,
        "thread_pool": 0,
    }


HYPOTHESIS = """
import child; child.start()
import offset; offset.patch_all()
import os, random, shutil, tempfile
from hypothesis import HealthCheck, given, settings, strategies as st

d = tempfile.mkdtemp(dir=".")
SIZES = [0, 5000, 70000, 300000]
FILES = []
for i, size in enumerate(SIZES):
    p = os.path.join(d, "f%d" % i)
    with open(p, "wb") as f:
        f.write(random.Random(i).randbytes(size))
        os.fsync(f.fileno())
    FILES.append(p)

def do(op, k):
    kind, i, offset, size, evict, bufsize = op
    path = FILES[i]
    if evict:
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    if kind == "pread":
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.pread(fd, size, offset)
        finally:
            os.close(fd)
    if kind == "read":
        fd = os.open(path, os.O_RDONLY)
        try:
            os.lseek(fd, offset, 0)
            return [os.read(fd, size), os.read(fd, size), os.lseek(fd, 0, 1)]
        finally:
            os.close(fd)
    if kind == "readv":
        fd = os.open(path, os.O_RDONLY)
        try:
            os.lseek(fd, offset, 0)
            bufs = [bytearray(size), bytearray(size // 3 + 1)]
            n = os.readv(fd, bufs)
            return [n, bytes(bufs[0]), bytes(bufs[1])]
        finally:
            os.close(fd)
    if kind == "file":
        with open(path, "rb", buffering=bufsize) as f:
            f.seek(offset)
            a = f.read(size)
            return [a, f.read(), f.tell()]
    if kind == "text":
        with open(path, "r", encoding="latin-1", newline="", buffering=bufsize or -1) as f:
            f.seek(min(offset, os.path.getsize(path)))
            return f.read(size)
    # writes, to a file of the op's own
    out = os.path.join(d, "w%d-%d" % (k, os.getpid()))
    try:
        if kind == "pwrite":
            fd = os.open(out, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
            try:
                n = os.pwrite(fd, bytes([k % 256]) * size, offset)
                os.fsync(fd)
                return [n, os.pread(fd, offset + size + 1, 0)]
            finally:
                os.close(fd)
        with open(out, "wb", buffering=bufsize) as f:
            f.write(bytes([k % 256]) * size)
            f.seek(offset)
            f.write(b"x" * (size // 2))
        with open(out, "rb") as f:
            return f.read()
    finally:
        if os.path.exists(out):
            os.unlink(out)

op = st.tuples(
    st.sampled_from(["pread", "read", "readv", "file", "text", "pwrite", "write"]),
    st.integers(0, len(FILES) - 1),
    st.integers(0, 320000),
    st.integers(0, 100000),
    st.booleans(),
    st.sampled_from([0, 1, 100, 8192]),
)

examples = [0]

@settings(max_examples=int(os.environ.get("FILES_EXAMPLES", "40")), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(st.lists(op, min_size=1, max_size=10))
def check(ops):
    ops = [o if o[0] != "text" or o[5] != 0 else o[:5] + (100,) for o in ops]
    ops = [o if o[0] != "file" or o[5] != 1 else o[:5] + (100,) for o in ops]
    ops = [o if o[0] != "write" or o[5] != 1 else o[:5] + (100,) for o in ops]
    want = [child.outcome(lambda o=o, k=k: do(o, k)) for k, o in enumerate(ops)]  # unpatched: no goroutine
    got = [None] * len(ops)
    def main():
        done = offset.makechan(len(ops))
        def one(k, o):
            got[k] = child.outcome(lambda: do(o, k))
            done.send(k)
        for k, o in enumerate(ops):
            offset.go(one, k, o)
        for _ in ops:
            done.recv()
    offset.run(main)
    assert got == want, [(o, g[:2], w[:2]) for o, g, w in zip(ops, got, want) if g != w]
    examples[0] += 1

try:
    check()
finally:
    shutil.rmtree(d)
child.report(examples[0])
"""


def test_concurrent_reads_and_writes_match_unpatched_hypothesis() -> None:
    assert run_child(HYPOTHESIS, timeout=60.0) >= 20
