"""Schedulers that clean up: what a run() acquires goes when it returns.

API.md: one scheduler per OS thread that calls run(), and run() may be
called again in the same thread. When run() returns (main returned, an
exception, a deadlock), its netpoller's fds are closed and its free Procs
end ("Lifecycle" in offset/_core/_sched.py), so a program that runs
schedulers in many threads, one after another or at once, keeps its fd
count, thread count and memory flat. Each backend is checked: epoll here,
the selectors one in a fresh interpreter (OFFSET_NETPOLL is read when a
netpoller is made, but the backend module is bound at import).
"""

from __future__ import annotations

import gc
import json
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import weakref
from typing import Any

import pytest

from offset import DeadlockError, go, gosched, makechan, run
from offset import time as otime
from offset._core import _syscall, blocking_call, current_goroutine, current_scheduler, wait_fd
from offset._core._greenlet import getcurrent

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts fds and threads in /proc")

# Generous: a leak of what one run() holds (a scheduler, its free Procs and
# their stacks, about 20 KiB) in each of 400 threads is 8 MiB.
MEMORY_BOUND = 512 * 1024


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def nthreads() -> int:
    return len(os.listdir("/proc/self/task"))


def pool_threads_gone(baseline: int | None = None, bound: float = 10.0) -> int:
    """The thread count once the pool's idle threads have ended (they do after 50 ms).

    Waits (bounded) for the pool to count none, then for the OS to count no
    more than ``baseline`` threads, or, without one, the same twice running.
    """
    deadline = time.monotonic() + bound
    pool = _syscall._pool
    while pool is not None and pool.nthreads and time.monotonic() < deadline:
        time.sleep(0.01)
    n = nthreads()
    while time.monotonic() < deadline:
        time.sleep(0.01)  # a thread that has left the pool is counted until it has returned
        m = nthreads()
        if (m <= baseline) if baseline is not None else (m == n):
            return m
        n = m
    return n


def one_run() -> None:
    """A run() that uses what a scheduler can acquire.

    The netpoller (an fd wait, and the idle wait), a cross-thread wake-up (a
    pool call's completion), a timer, and goroutines that finish (free Procs).
    """
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        got = makechan(1)

        def reader() -> None:
            assert wait_fd(a.fileno(), "r", 5.0, a)
            got.send(a.recv(1))

        def main() -> bytes:
            for _ in range(3):
                go(gosched)
            go(reader)
            gosched()  # the reader waits on the fd (or, run later, finds the byte at once)
            blocking_call(b.send, b"x")
            otime.sleep(otime.MICROSECOND)
            data: bytes = got.recv()
            return data

        assert run(main) == b"x"
    finally:
        a.close()
        b.close()


def in_threads(n: int, at_once: int) -> None:
    errors: list[BaseException] = []

    def body() -> None:
        try:
            one_run()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    for _ in range(0, n, at_once):
        threads = [threading.Thread(target=body) for _ in range(at_once)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


def measure(threads_one_by_one: int, threads_at_once: int, batch: int, runs_here: int) -> dict[str, Any]:
    """Run the workloads; the fd set, thread count and traced memory before and after."""
    in_threads(3, 3)  # warm up: the pool, lazily made module state
    for _ in range(3):
        one_run()
    base_threads = pool_threads_gone()
    gc.collect()
    tracemalloc.start()
    try:
        fds0, mem0 = open_fds(), tracemalloc.get_traced_memory()[0]
        in_threads(threads_one_by_one, 1)
        in_threads(threads_at_once, batch)
        for _ in range(runs_here):
            one_run()
        threads1 = pool_threads_gone(base_threads)
        gc.collect()
        fds1, mem1 = open_fds(), tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return {
        "fds": [sorted(fds0), sorted(fds1)],
        "threads": [base_threads, threads1],
        "memory": [mem0, mem1],
        "poller_left": current_scheduler()._poller is not None,
    }


def assert_flat(m: dict[str, Any]) -> None:
    fds0, fds1 = m["fds"]
    left = sorted(set(fds1) - set(fds0))
    assert fds1 == fds0, f"{len(left)} fds left open, the first: {left[:10]}"
    assert m["threads"][1] == m["threads"][0]
    grown = m["memory"][1] - m["memory"][0]
    assert grown < MEMORY_BOUND, f"{grown} bytes more traced"
    assert m["poller_left"] is False


def test_many_threads_and_runs_leave_nothing_behind_epoll() -> None:
    if os.environ.get("OFFSET_NETPOLL") == "selectors":
        pytest.skip("this process uses the selectors backend")
    assert_flat(measure(200, 200, 20, 1000))


def test_many_threads_and_runs_leave_nothing_behind_selectors() -> None:
    env = dict(os.environ, OFFSET_NETPOLL="selectors")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "200", "200", "20", "1000"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout.splitlines()[-1])
    assert m["backend"] == "SelectorsNetpoll"
    assert_flat(m)


# -- run() and its netpoller ------------------------------------------------


def main_returns() -> None:
    otime.sleep(10 * otime.MILLISECOND)  # after look() has looked


def main_raises() -> None:
    otime.sleep(10 * otime.MILLISECOND)
    raise ValueError("from main")


def main_deadlocks() -> None:
    otime.sleep(10 * otime.MILLISECOND)
    makechan().recv()


@pytest.mark.parametrize(
    ("main", "raises"),
    [(main_returns, None), (main_raises, ValueError), (main_deadlocks, DeadlockError), (None, None)],
    ids=["returns", "raises", "deadlock", "no-main"],
)
def test_run_closes_its_netpoller_however_it_ends(main: Any, raises: type[BaseException] | None) -> None:
    s = current_scheduler()
    before = open_fds()
    seen: list[Any] = []

    def look() -> None:
        # A wait on an fd makes the netpoller, whatever the machine's load
        # (an idle wait for a timer may find it due already and make none).
        r, w = os.pipe()
        try:
            wait_fd(r, "r", 0.001)
        finally:
            os.close(r)
            os.close(w)
        seen.append(s._poller)

    go(look)
    if raises is None:
        run(main)
    else:
        with pytest.raises(raises):
            run(main)
    assert seen and seen[0] is not None
    assert s._poller is None
    assert open_fds() == before
    seen[0].wakeup()  # closed: a late wake-up does nothing


def test_run_again_in_the_thread_makes_a_new_netpoller() -> None:
    s = current_scheduler()
    pollers: list[Any] = []
    for _ in range(3):
        one_run()
        assert s._poller is None
        run(lambda: pollers.append(s.poller))
        assert s._poller is None
    assert len({id(p) for p in pollers}) == 3  # all kept alive here: distinct ids, distinct objects
    assert all(p._closed for p in pollers)


def test_free_procs_end_with_run() -> None:
    procs: list[weakref.ref[Any]] = []

    def worker() -> None:
        procs.append(weakref.ref(getcurrent()))

    from support import settle  # here: this file also runs as a script, without tests/ on the path

    def main() -> None:
        for _ in range(10):
            go(worker)
        settle()

    run(main)
    assert current_scheduler().free == []
    assert procs
    for ref in procs:
        p = ref()
        assert p is None or p.dead


def test_a_late_wakeup_from_another_thread_makes_no_netpoller() -> None:
    # A thread that saw the scheduler asleep just before its run() ended
    # wakes it afterwards: the closed netpoller is not made again, in (and
    # for) a thread that would never close it.
    s = current_scheduler()
    parked: list[Any] = []

    def stuck() -> None:
        parked.append(current_goroutine())
        makechan().recv()

    def main() -> None:
        go(stuck)
        otime.sleep(otime.MICROSECOND)

    run(main)  # stuck is stopped when main returns
    before = open_fds()
    s.sleeping = True  # as that thread saw it
    try:
        t = threading.Thread(target=parked[0].ready)
        t.start()
        t.join()
    finally:
        s.sleeping = False
    assert s._poller is None
    assert open_fds() == before
    run()  # the stale wake-up is dropped: nothing runs, nothing hangs


def test_a_pool_call_that_completes_after_run_returned() -> None:
    # The goroutine that made the call was stopped when main returned; the
    # call finishes later on its pool thread and readies that goroutine
    # through the finished scheduler: nothing may be written to the closed
    # netpoller's fds, and nothing is made for it.
    s = current_scheduler()
    release = threading.Event()
    started = threading.Event()
    finished = threading.Event()

    def slow() -> None:
        started.set()
        release.wait(10)
        finished.set()

    def main() -> None:
        go(blocking_call, slow)
        # Until the call runs on its pool thread: one stopped while still
        # queued is given up and never runs (_syscall.py). One gosched() was
        # not enough under OFFSET_SHUFFLE, nor when the pool was slow to start.
        for _ in range(10_000):
            if started.is_set():
                break
            otime.sleep(otime.MILLISECOND)
        assert started.is_set()

    run(main)
    before = open_fds()
    release.set()
    assert finished.wait(10)
    pool_threads_gone()
    assert s._poller is None
    assert open_fds() == before
    assert run(lambda: "again") == "again"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
# A thread of an earlier test may still be ending; the child only writes a
# line to a pipe, which no lock another thread could hold stands in the way of.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_forked_child_closes_the_parents_netpoller() -> None:
    pool_threads_gone()  # no pool thread left to hold a lock at the fork
    r, w = os.pipe()

    def main() -> str:
        # Made at its first use. Not through a sleep's idle wait: on a slow
        # machine, or under OFFSET_SHUFFLE, a 1 ms timer can fall due before
        # the loop is idle, and no netpoller is made (CI failed so).
        poller = current_scheduler().poller
        at_fork = sorted(open_fds())
        pid = os.fork()
        if pid == 0:
            report: dict[str, Any] = {"at_fork": at_fork, "after_fork": sorted(open_fds())}
            report["poller_is_new"] = current_scheduler().poller is not poller  # the child's own
            os.write(w, json.dumps(report).encode() + b"\n")
            return "child"
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        return "parent"

    try:
        who = run(main)
    except BaseException:
        if os.getpid() != parent_pid:  # pragma: no cover - never go on with pytest in the child
            os._exit(1)
        raise
    if who == "child":  # pragma: no cover - the child ends here
        after_run = sorted(open_fds())
        os.write(w, json.dumps({"after_run": after_run}).encode() + b"\n")
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        first, second = (json.loads(line) for line in f.read().splitlines())
    at_fork, after_fork = set(first["at_fork"]), set(first["after_fork"])
    # The child's copies of the netpoller's fds (epoll and wake-up) are closed at once.
    assert len(at_fork - after_fork) >= 2
    assert after_fork < at_fork
    assert first["poller_is_new"] is True
    # And the child's own netpoller is closed when its run() returns.
    assert set(second["after_run"]) == after_fork


parent_pid = os.getpid()


if __name__ == "__main__":
    # A fresh interpreter for one backend (OFFSET_NETPOLL): print the figures.
    one_by_one, at_once, batch, here = (int(a) for a in sys.argv[1:5])
    result = measure(one_by_one, at_once, batch, here)
    from offset._core._netpoll import make_netpoll

    p = make_netpoll()
    result["backend"] = type(p).__name__
    p.close()
    print(json.dumps(result))
