"""fork() from a goroutine: the child has a runtime of its own.

As with threads, the child of ``os.fork()`` has only the goroutine that
forked, which carries on as its scheduler's main goroutine; the parent's
other goroutines neither run nor finish there (no ``finally`` block runs),
and the netpoller, the thread pool and the queue of wake-ups from other
threads start empty. multiprocessing and ProcessPoolExecutor then work from
goroutines with every start method.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, run_child

# The child writes what it saw to a pipe; the parent reports it.
FORK = """
import child; child.start()
import offset; offset.patch_all()
import os, socket, threading, time
from offset import go, makechan
from offset._core import _sched, _syscall
from support import settle
log = []
def other():
    try:
        while True:
            time.sleep(0.005)
            log.append("tick")
    finally:
        log.append("other's finally")
def reader(sock):
    try:
        log.append(sock.recv(10))
    finally:
        log.append("reader's finally")
def main():
    go(other)
    a, b = socket.socketpair()
    go(reader, a)
    settle()  # other parks in its sleep, reader in its recv
    offset.syscall(time.sleep)(0.001)  # the pool has a thread now
    s = _sched.current_scheduler()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        seen = {}
        n = len(log)
        seen["live"] = len(s.live)
        seen["main_is_me"] = s.main is offset._core.current_goroutine()
        seen["pool"] = _syscall._pool is None
        # the netpoller works: a socketpair made here, read in a goroutine
        c, d = socket.socketpair()
        got = makechan(1)
        go(lambda: got.send(c.recv(5)))
        settle()  # the reader parks in recv, on the child's netpoller
        d.sendall(b"hello")
        seen["recv"] = got.recv().decode()
        seen["pooled"] = offset.syscall(lambda: 7)()
        b.sendall(b"x")  # would wake the parent's reader, were it here
        time.sleep(0.05)
        seen["others_ran"] = log[n:]
        os.write(w, repr(seen).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 1000):
        data += chunk
    _, status = os.waitpid(pid, 0)
    return [data.decode(), status]
child.report(offset.run(main))
"""


def test_child_has_only_the_forking_goroutine() -> None:
    seen, status = run_child(FORK)
    assert status == 0
    assert eval(seen) == {  # noqa: S307 - our own child's repr
        "live": 1,
        "main_is_me": True,
        "pool": True,
        "recv": "hello",
        "pooled": 7,
        "others_ran": [],
    }


RETURNS = """
import child; child.start()
import offset; offset.patch_all()
import os, time
def other():
    time.sleep(10)
def main():
    offset.go(other)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        time.sleep(0.01)
        return ("child", w)   # run() returns it in the child, as main's result
    os.close(w)
    data = os.read(r, 100)
    _, status = os.waitpid(pid, 0)
    return ("parent", data.decode(), os.waitstatus_to_exitcode(status))
result = offset.run(main)
if result[0] == "child":
    os.write(result[1], b"run() returned in the child")
    os._exit(5)
child.report(result)
"""


def test_forking_goroutine_is_the_childs_main() -> None:
    # The parent's other goroutine sleeps for 10 s; the child's run() ends
    # with the forking goroutine, without it.
    assert run_child(RETURNS) == ["parent", "run() returned in the child", 5]


QUEUED = """
import child; child.start()
import offset
import os
from offset._core import _sched
def main():
    s = _sched.current_scheduler()
    # What another thread leaves queued: a wake-up, a call, a deferred handler.
    s.remote.append(offset._core.current_goroutine())
    s.remote_calls.append((print, ("a remote call ran in the child",)))
    s.signals.append((lambda signum, frame: print("a handler ran in the child"), 10))
    pid = os.fork()
    if pid == 0:
        os._exit(0 if not (s.remote or s.remote_calls or s.signals) else 1)
    s.remote.clear()
    s.remote_calls.clear()
    s.signals.clear()
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
child.report(offset.run(main))
"""


def test_no_wakeups_from_other_threads_in_the_child() -> None:
    assert run_child(QUEUED) == 0


FORKPTY = """
import child; child.start()
import offset; offset.patch_all()
import os, time
ticks = [0]
def ticker():
    while True:
        time.sleep(0.005)
        ticks[0] += 1
def main():
    offset.go(ticker)
    pid, fd = os.forkpty()
    if pid == 0:
        time.sleep(0.1)  # the parent waits in os.read meanwhile, its ticker running
        os.write(1, b"from the pty child")
        os._exit(0)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 100)
        except OSError:  # EIO once the child is gone
            break
        if not chunk:
            break
        out += chunk
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return [out.decode(), os.waitstatus_to_exitcode(status), ticks[0] > 0]
child.report(offset.run(main))
"""


def test_forkpty_from_a_goroutine() -> None:
    assert run_child(FORKPTY) == ["from the pty child", 0, True]


# Each start method, from two goroutines at once, while a third ticks.
MULTIPROCESSING = """
import child; child.start()
import offset; offset.patch_all()
import multiprocessing as mp, os, sys, time
from concurrent.futures import ProcessPoolExecutor
sys.path.insert(0, {here!r})
import fork_target
ticks = [0]
def ticker():
    while True:
        time.sleep(0.005)
        ticks[0] += 1
def use(method, out):
    ctx = mp.get_context(method)
    q = ctx.Queue()
    p = ctx.Process(target=fork_target.double, args=(q, 21))
    p.start()
    got = q.get(timeout=30)
    p.join(30)
    with ctx.Pool(2) as pool:
        pooled = pool.map(fork_target.square, range(6))
    with ProcessPoolExecutor(2, mp_context=ctx) as ex:
        executed = list(ex.map(fork_target.square, range(6)))
    out[method] = [got, p.exitcode, pooled, executed]
def main():
    offset.go(ticker)
    out = {{}}
    done = offset.makechan(2)
    def one(method):
        try:
            use(method, out)
        finally:
            done.send(method)
    offset.go(one, "{a}")
    offset.go(one, "{b}")
    done.recv(); done.recv()
    return [out, ticks[0] > 0]
if __name__ == "__main__":
    child.report(offset.run(main))
"""


@pytest.mark.parametrize(("a", "b"), [("fork", "spawn"), ("forkserver", "fork")])
def test_multiprocessing_start_methods_from_goroutines(a: str, b: str) -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    out, ticked = run_child(MULTIPROCESSING.format(here=here, a=a, b=b), timeout=90)
    expected = [[True, 42], 0, [0, 1, 4, 9, 16, 25], [0, 1, 4, 9, 16, 25]]
    assert out == {a: expected, b: expected}
    assert ticked


SCRIPT = """
import multiprocessing as mp, sys, time
from concurrent.futures import ProcessPoolExecutor

def square(x):
    time.sleep(0.01)
    return x * x

if __name__ == "__main__":
    for method in sys.argv[1:]:
        ctx = mp.get_context(method)
        with ctx.Pool(2) as pool:
            a = pool.map(square, range(5))
        with ProcessPoolExecutor(2, mp_context=ctx) as ex:
            b = list(ex.map(square, range(5)))
        print(method, a == b == [0, 1, 4, 9, 16])
"""


def test_multiprocessing_under_python_m_offset(tmp_path: Path) -> None:
    # The main module of `python -m offset script.py` is what spawn and
    # forkserver children import again, by its path, as __mp_main__.
    script = tmp_path / "pool_script.py"
    script.write_text(SCRIPT)
    proc = subprocess.run(
        [sys.executable, "-m", "offset", str(script), "fork", "forkserver", "spawn"],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n") == ["fork True", "forkserver True", "spawn True", ""]


DEADLOCK = """
import child; child.start()
import offset; offset.patch_all()
import os, threading, time
parent = os.getpid()
r, w = os.pipe()
def main():
    # Threads alive at fork (a thread's and the pool's) are not in the child.
    t = threading.Thread(target=time.sleep, args=(0.5,))
    t.start()
    offset.syscall(time.sleep)(0.001)
    pid = os.fork()
    if pid == 0:
        offset.makechan().recv()
    os.close(w)
    out = os.read(r, 1000).decode()
    os.waitpid(pid, 0)
    t.join()
    return out
try:
    result = offset.run(main)
except offset.DeadlockError as e:
    if os.getpid() == parent:
        raise
    os.write(w, str(e).splitlines()[0].encode())
    os._exit(0)
child.report(result)
"""


def test_deadlock_in_the_child_is_reported() -> None:
    # _thread._count() still counts the parent's threads in the child.
    assert run_child(DEADLOCK) == "all goroutines are asleep - deadlock!"
