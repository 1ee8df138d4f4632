"""Faults of the process: a saturated thread pool, a goroutine's exception
while others hold locks and wait in I/O, and Ctrl-C (issue 13, part 1).

Each fault runs in a fresh interpreter (``_child``): the patch layer changes
the whole process, the pool's size is fixed when the pool is made, and a
real SIGINT must reach a real main thread. The child prints one JSON report
(``MARK``) and the test checks three things in it: the outcome of every
call is the stdlib's (computed by the same code unpatched, in the same
child, before ``patch_all``); every other goroutine carried on; and nothing
was left behind: fds (``/proc/self/fd``), threads (beyond the pool's idle
ones, which end on their own ``_IDLE_SECONDS`` later), goroutines
(``offset.stats()``).

Bad configuration is tests/reliability/test_faults_proc_config.py; pool
calls given up by stopped goroutines are test_faults_proc_pool.py.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import offset

ROOT = Path(offset.__file__).resolve().parent.parent
MARK = "FAULT-REPORT:"

# Helpers every child script starts with: a bound on its whole life (every
# stack is printed if it hangs), fd and thread counts, and the report.
PRELUDE = """
import faulthandler, json, os, sys, _thread
faulthandler.dump_traceback_later(float(os.environ["FAULT_CHILD_TIMEOUT"]), exit=True)

def fds():
    # listdir opens one fd of its own while it runs: the same one each time.
    return sorted(int(n) for n in os.listdir("/proc/self/fd"))

def threads():
    return _thread._count()

def report(value):
    sys.stdout.write("FAULT-REPORT:" + json.dumps(value) + "\\n")
    sys.stdout.flush()

def outcome(fn, *args):
    # What a call gave, comparable between two runs: the result's repr, or
    # the exception's type, text and errno.
    try:
        return ["ok", repr(fn(*args))]
    except Exception as e:
        return ["raise", type(e).__name__, str(e), getattr(e, "errno", None)]

def wait_pool_idle(offset, bound=10.0):
    # The pool's threads end _IDLE_SECONDS after their last call.
    import time
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        busy, idle, queued, size = offset._core.pool_stats()
        if busy == idle == queued == 0:
            return True
        time.sleep(0.01)
    return False
"""


def _child(body: str, *, env: dict[str, str] | None = None, timeout: float = 60.0) -> Any:
    """Run PRELUDE + ``body`` in a fresh interpreter; return what it reported."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("OFFSET_")}
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT), full.get("PYTHONPATH", "")])
    full["FAULT_CHILD_TIMEOUT"] = str(timeout - 10)
    full.update(env or {})
    code = PRELUDE + textwrap.dedent(body)
    try:
        p = subprocess.run(
            [sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=timeout, cwd=ROOT
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"child timed out after {timeout}s\nstdout:\n{e.stdout}\nstderr:\n{e.stderr}", pytrace=False)
    return _parse(p.returncode, p.stdout, p.stderr)


def _parse(returncode: int, stdout: str, stderr: str) -> Any:
    lines = [line for line in stdout.splitlines() if line.startswith(MARK)]
    if returncode != 0 or len(lines) != 1:
        pytest.fail(
            f"child exited with {returncode}, {len(lines)} report(s)\nstdout:\n{stdout}\nstderr:\n{stderr}",
            pytrace=False,
        )
    return json.loads(lines[0][len(MARK) :])


# -- thread-pool saturation ----------------------------------------------------------

SATURATION = """
import socket, tempfile, threading, time as _time
import offset
from offset import patches

N = 200
tmp = tempfile.TemporaryFile()
import resource
# An fd that is not open (the highest allowed: no fd the run makes gets it): EBADF.
bad_fd = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 1

def call_for(i):
    # 200 blocking calls of the kinds the pool runs: DNS (the dns area),
    # fsync (the os area), and offset.syscall; some fail.
    k = i % 8
    if k in (0, 4):
        return socket.getaddrinfo, ("localhost", 8000 + i, socket.AF_INET, socket.SOCK_STREAM)
    if k == 1:
        return os.fsync, (tmp.fileno(),)
    if k == 5:
        return os.fsync, (bad_fd,)
    if k == 2:
        return socket.gethostbyname, ("localhost",)
    if k == 3:
        return socket.getaddrinfo, ("localhost", "no-such-service", socket.AF_INET, socket.SOCK_STREAM)
    if k == 6:
        return socket.gethostbyaddr, ("127.0.0.1",)
    return pow, (i, 2)  # k == 7: through offset.syscall

# The same calls, unpatched: what each must give.
expected = [outcome(fn, *args) for fn, args in map(call_for, range(N))]

offset.patch_all()
fds_before = fds()
threads_before = threads()

# Every call the pool is given goes through a gate, released by main one at
# a time: the pool's order is then seen deterministically, one dequeue per
# release, whatever the pool threads' timing.
gates = []
started = set()
running = [0, 0]  # now, most at once
count_lock = _thread.allocate_lock()

def gated(seq, fn):
    def call(*args, **kwargs):
        with count_lock:
            started.add(seq)
            running[0] += 1
            running[1] = max(running[1], running[0])
        gates[seq].acquire()
        try:
            return fn(*args, **kwargs)
        finally:
            with count_lock:
                running[0] -= 1
    return call

arrival = []  # worker index, in the order the calls reached the pool

def through_gate(real):
    def blocking_call(fn, *args, **kwargs):
        seq = len(arrival)
        gate = _thread.allocate_lock()
        gate.acquire()
        gates.append(gate)
        arrival.append(current[0])
        return real(gated(seq, fn), *args, **kwargs)
    return blocking_call

import offset.patches.dns as dns_area, offset.patches.os as os_area
import offset._core._syscall as syscall_module
for module in (dns_area, os_area, syscall_module):
    module.blocking_call = through_gate(module.blocking_call)

current = [None]
results = {}
ticks = []
seen = {"busy": 0, "queued": 0, "threads": 0}

def worker(i):
    fn, args = call_for(i)
    if fn is pow:
        fn = offset.syscall(pow)
    current[0] = i  # read by through_gate before the call parks
    results[i] = outcome(fn, *args)

def ticker(stop):
    while not stop:
        _time.sleep(0.001)
        ticks.append(offset.stats()["pool_queued"])

def wait_for(cond, what, bound=20.0):
    deadline = _time.monotonic() + bound
    while not cond():
        if _time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        _time.sleep(0.0005)

order_ok = True
def main():
    global order_ok
    stop = []
    offset.go(ticker, stop)
    for i in range(N):
        offset.go(worker, i)
    wait_for(lambda: len(arrival) == N, "every call to reach the pool")
    wait_for(lambda: len(started) == 2, "the pool's two threads to start a call")
    s = offset.stats()
    seen["busy"], seen["queued"] = s["pool_busy"], s["pool_queued"]
    # Saturated: two calls run, 198 wait. The ticker goes on regardless.
    n = len(ticks)
    wait_for(lambda: len(ticks) >= n + 5, "the ticker to tick while the pool is saturated")
    for seq in range(N):
        gates[seq].release()
        want = min(seq + 3, N)
        # The one thread freed takes the oldest waiting call: call seq+2.
        wait_for(lambda: len(started) >= want, "call %d to start" % (want - 1))
        if started != set(range(want)):
            order_ok = False
        seen["threads"] = max(seen["threads"], threads() - threads_before)
    wait_for(lambda: len(results) == N, "every worker to have its outcome")
    goroutines = offset.stats()["goroutines"]
    stop.append(True)
    return goroutines

goroutines = offset.run(main)
idle = wait_pool_idle(offset)
fds_after = fds()
tmp.close()
report({
    "expected": expected,
    "results": [results.get(i) for i in range(N)],
    "arrival": arrival,
    "order_ok": order_ok,
    "running_max": running[1],
    "seen": seen,
    "ticks": len(ticks),
    "ticks_saturated": sum(1 for q in ticks if q > 0),
    "goroutines_at_end": goroutines,
    "pool_idle": idle,
    "threads": [threads_before, threads()],
    "fds": [fds_before, fds_after],
})
"""


def test_thread_pool_saturation_keeps_order_and_loses_nothing() -> None:
    r = _child(SATURATION, env={"OFFSET_MAX_THREADS": "2"})
    n = len(r["expected"])
    # Every call completed with the stdlib's outcome: none lost, none mixed up.
    assert r["results"] == r["expected"]
    kinds = {tuple(o[:2]) for o in r["expected"]}
    assert ("raise", "gaierror") in kinds and ("raise", "OSError") in kinds  # failures too
    # In arrival order: each call started only after every call that reached
    # the pool before it (checked one dequeue at a time), two at most at once.
    assert sorted(r["arrival"]) == list(range(n))
    assert r["order_ok"]
    assert r["running_max"] == 2
    assert r["seen"]["busy"] == 2 and r["seen"]["queued"] == n - 2
    assert 0 < r["seen"]["threads"] <= 2
    # The ticker ran throughout, while calls were queued.
    assert r["ticks_saturated"] >= 5
    # Nothing left: main and the ticker alone at the end; the pool's threads gone.
    assert r["goroutines_at_end"] == 2
    assert r["pool_idle"]
    assert r["threads"][1] == r["threads"][0]
    assert r["fds"][1] == r["fds"][0]
