"""Faults of the process: a saturated thread pool, a goroutine's exception
while others hold locks and wait in I/O, and Ctrl-C (issue 13, part 1).

Each fault runs in a fresh interpreter (faults_proc_support.py): the patch
layer changes the whole process, the pool's size is fixed when the pool is
made, and a real SIGINT must reach a real main thread. The child prints
one JSON report and the test checks three things in it: the outcome of every
call is the stdlib's (computed by the same code unpatched, in the same
child, before ``patch_all``); every other goroutine carried on; and nothing
was left behind: fds (``/proc/self/fd``), threads (beyond the pool's idle
ones, which end on their own ``_IDLE_SECONDS`` later), goroutines
(``offset.stats()``).

Bad configuration is test_faults_proc_config.py; pool calls given up by
stopped goroutines, test_faults_proc_pool.py; Ctrl-C in each kind of
blocking call beside plain Python, test_faults_proc_sigint.py; the wait
queues that stopped goroutines leave, test_faults_proc_waiters.py.
"""

from __future__ import annotations

import textwrap

import pytest

from reliability.faults_proc_support import PRELUDE, child, interrupt_child

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

gating = [True]

def through_gate(real):
    def blocking_call(fn, *args, **kwargs):
        if not gating[0]:
            return real(fn, *args, **kwargs)
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

# Again without the gates: the 200 calls as fast as the two threads take
# them, the ticker beside them.
gating[0] = False
free_results = {}
free_ticks = []

def free_worker(i):
    fn, args = call_for(i)
    free_results[i] = outcome(offset.syscall(pow) if fn is pow else fn, *args)

def free_ticker():
    while True:
        _time.sleep(0.001)
        free_ticks.append(offset.stats()["pool_queued"])

def free_main():
    offset.go(free_ticker)
    for i in range(N):
        offset.go(free_worker, i)
    wait_for(lambda: len(free_results) == N, "every call to complete")

offset.run(free_main)
free_idle = wait_pool_idle(offset)
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
    "free_results": [free_results.get(i) for i in range(N)],
    "free_ticks_saturated": sum(1 for q in free_ticks if q > 0),
    "free_pool_idle": free_idle,
    "threads": [threads_before, threads()],
    "fds": [fds_before, fds_after],
})
"""


def test_thread_pool_saturation_keeps_order_and_loses_nothing() -> None:
    r = child(SATURATION, env={"OFFSET_MAX_THREADS": "2"})
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
    # Without the gates, the same.
    assert r["free_results"] == r["expected"]
    assert r["free_pool_idle"]
    # Nothing left: main and the ticker alone at the end; the pool's threads gone.
    assert r["goroutines_at_end"] == 2
    assert r["pool_idle"]
    assert r["threads"][1] == r["threads"][0]
    assert r["fds"][1] == r["fds"][0]


# -- an exception while others hold locks and wait in I/O ------------------------------

EXCEPTION = """
import gc, threading, warnings, time as _time
import offset
from offset import makechan, select, sync
from offset import time as gotime
offset.patch_all()
import socket, time, traceback

warnings.simplefilter("always")  # every ResourceWarning is recorded, none deduplicated
fds_before = fds()
threads_before = threads()

mutex = sync.Mutex()
lock = threading.Lock()  # patched: offset's Lock
finallies = []
gate = _thread.allocate_lock()
gate.acquire()

# A second scheduler in another thread, which must carry on whatever the
# first one's goroutines do.
other = {"ticks": 0, "stop": False}
def other_main():
    while not other["stop"]:
        time.sleep(0.001)
        other["ticks"] += 1
other_thread = threading.Thread(target=offset.run, args=(other_main,), daemon=True)  # daemon: a failed check must not hang the child

def holds_mutex_waits_recv(addr):
    try:
        with mutex, socket.create_connection(addr) as c:
            held.add("mutex")
            c.recv(1)  # the peer never sends
    finally:
        finallies.append("mutex held, in recv")

def holds_lock_waits_chan(c):
    try:
        with lock:
            held.add("lock")
            c.recv()
    finally:
        finallies.append("lock held, in chan receive")

def waits_for_mutex():
    try:
        with mutex:
            pass
    finally:
        finallies.append("in mutex lock")

def waits_for_lock():
    try:
        with lock:
            pass
    finally:
        finallies.append("in threading lock")

def serves(srv):
    try:
        conn, _ = srv.accept()
        with conn:
            conn.recv(1)  # the peer never sends either
    finally:
        finallies.append("serving, in recv")

def sends(a):
    try:
        with a:
            a.sendall(b"x" * (64 << 20))  # the peer never reads: waits for room
    finally:
        finallies.append("in sendall")

def accepts(srv):
    try:
        srv.accept()  # a second connection never comes
    finally:
        finallies.append("in accept")

def sleeps():
    try:
        time.sleep(3600)
    finally:
        finallies.append("in sleep")

def selects(c):
    try:
        select(c.if_recv(), gotime.After(3600 * gotime.SECOND).if_recv())
    finally:
        finallies.append("in select")

def in_pool():
    try:
        offset.syscall(gate.acquire)()
    finally:
        finallies.append("in a pool call")

def reads_pipe():
    r, w = os.pipe()  # never written
    try:
        with os.fdopen(r, "rb") as rf, os.fdopen(w, "wb"):
            rf.read(1)
    finally:
        finallies.append("in a pipe read")

held = set()
# Where this scheduler's goroutines wait (the other scheduler's one sleeps,
# or runs): two recvs, sendall, accept and the pipe read in the netpoller.
PARKED = {"IO wait": 5, "sync.Mutex.Lock": 1, "threading.Lock": 1, "chan receive": 2, "sleep": 1, "select": 1, "syscall": 1}
seen = {}

def wait_for(cond, what):
    deadline = _time.monotonic() + 20
    while not cond():
        if _time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s: %r" % (what, offset.stats()))
        offset.gosched()

def all_parked():
    reasons = offset.stats()["parked_by_reason"]
    return all(reasons.get(k, 0) >= n for k, n in PARKED.items())

def fails():
    wait_for(all_parked, "every goroutine to wait")
    seen.update(offset.stats()["parked_by_reason"])
    raise ValueError("boom")

def main():
    c = makechan()
    a, b = socket.socketpair()
    with b, socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        addr = srv.getsockname()
        offset.go(serves, srv)
        offset.go(holds_mutex_waits_recv, addr)
        offset.go(holds_lock_waits_chan, c)
        wait_for(lambda: held == {"mutex", "lock"}, "the locks to be taken")
        for fn, *args in [(sends, a), (waits_for_mutex,), (waits_for_lock,), (accepts, srv), (sleeps,), (selects, c), (in_pool,), (reads_pipe,)]:
            offset.go(fn, *args)
        offset.go(fails)
        try:
            c.recv()
        finally:
            finallies.append("main")

other_thread.start()
while other["ticks"] < 1:
    _time.sleep(0.001)
# Now, with the other scheduler's netpoller (two fds) made.
fds_other = fds()
failure = None
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        offset.run(main)
    except ValueError as e:
        failure = [str(e), [f.name for f in traceback.extract_tb(e.__traceback__)]]
    fds_after_run = fds()
    stats_after_run = offset.stats()
    gc.collect()
    resource_warnings = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]

ticks_then = other["ticks"]
deadline = _time.monotonic() + 10
while other["ticks"] < ticks_then + 5 and _time.monotonic() < deadline:
    _time.sleep(0.001)
other_ticks = other["ticks"] - ticks_then
other["stop"] = True
other_thread.join(10)

# The locks were released by the finally blocks and their queues hold no
# stopped waiter: a later run() uses both, with contention.
def reuse():
    order = []
    def user(name):
        with mutex, lock:
            order.append(name)
            time.sleep(0.001)
    wg = sync.WaitGroup()
    for name in "abc":
        wg.go(user, name)
    wg.wait()
    return order

free = [mutex.try_lock(), lock.acquire(False)]
mutex.unlock()
lock.release()
reused = offset.run(reuse)
gate.release()  # the pool call given up ends; its thread then idles out
idle = wait_pool_idle(offset)
report({
    "failure": failure,
    "finallies": sorted(finallies),
    "seen": seen,
    "resource_warnings": resource_warnings,
    "fds": [fds_before, fds_other, fds_after_run, fds()],
    "threads": [threads_before, threads()],
    "after_run": [stats_after_run["schedulers"], stats_after_run["goroutines"], stats_after_run["timers"]],
    "other_ticks": other_ticks,
    "other_alive": other_thread.is_alive(),
    "free": free,
    "reused": reused,
    "pool_idle": idle,
})
"""


def test_exception_while_others_hold_locks_and_wait_in_io() -> None:
    r = child(EXCEPTION)
    # run() raised the goroutine's exception, with its traceback.
    message, frames = r["failure"]
    assert message == "boom"
    assert frames[-1] == "fails"
    # Every goroutine was parked in its wait when it came.
    assert {"IO wait", "sync.Mutex.Lock", "chan receive", "sleep", "select", "syscall", "threading.Lock"} <= set(
        r["seen"]
    )
    # Every finally ran.
    assert r["finallies"] == sorted(
        [
            "main",
            "mutex held, in recv",
            "lock held, in chan receive",
            "in mutex lock",
            "in threading lock",
            "in sendall",
            "serving, in recv",
            "in accept",
            "in sleep",
            "in select",
            "in a pool call",
            "in a pipe read",
        ]
    )
    # Every socket (and pipe) was closed by then: fds back at once, no ResourceWarning.
    fds_before, fds_other, fds_after_run, fds_end = r["fds"]
    assert len(fds_other) == len(fds_before) + 2  # the other scheduler's netpoller
    assert fds_after_run == fds_other
    assert fds_end == fds_before  # the other one's too, once it ended
    assert r["resource_warnings"] == []
    # Only the other scheduler is left, with its one goroutine (sleeping, one timer, or running).
    assert r["after_run"][:2] == [1, 1] and r["after_run"][2] <= 1
    # The other scheduler carried on, and ended when told.
    assert r["other_ticks"] >= 5 and not r["other_alive"]
    # The locks are free, and work again.
    assert r["free"] == [True, True]
    assert sorted(r["reused"]) == ["a", "b", "c"]
    assert r["pool_idle"]
    assert r["threads"][1] == r["threads"][0]


# -- Ctrl-C ------------------------------------------------------------------------------

# The child: 10,000 goroutines wait on channels, sockets and timers, each
# with a finally that counts; main tells the parent it is ready through a
# pipe and waits too. The parent sends a real SIGINT. CLOCK_MONOTONIC is
# one clock for the whole machine, so the parent compares the child's
# times with the moment it sent the signal.
CTRL_C = """
import resource, time as _time
import offset
from offset import makechan, select, sync
from offset import time as gotime

N = 10_000
PAIRS = 1_000  # 2,000 goroutines wait on sockets: one end of a socketpair each
ready_fd = int(sys.argv[-1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
need = 2 * PAIRS + 256
if soft < need:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
if PATCHED:
    offset.patch_all()
import socket, time

fds_before = fds()
finallies = [0]
ended = [0]

def on_socket(s):
    try:
        with s:
            s.recv(1)
    finally:
        finallies[0] += 1

def on_chan(c):
    try:
        c.recv()
    finally:
        finallies[0] += 1

def in_select(c, d):
    try:
        select(c.if_recv(), d.if_send(1))
    finally:
        finallies[0] += 1

def on_timer():
    try:
        gotime.sleep(3600 * gotime.SECOND)
    finally:
        finallies[0] += 1

def main():
    c, d = makechan(), makechan()
    kinds = {"socket": 0, "chan": 0, "select": 0, "timer": 0}
    if PATCHED:
        for _ in range(PAIRS):
            a, b = socket.socketpair()
            offset.go(on_socket, a)
            offset.go(on_socket, b)
        kinds["socket"] = 2 * PAIRS
    rest = N - kinds["socket"]
    kinds["chan"] = kinds["select"] = rest // 4
    kinds["timer"] = rest - 2 * (rest // 4)
    for _ in range(kinds["chan"]):
        offset.go(on_chan, c)
    for _ in range(kinds["select"]):
        offset.go(in_select, c, d)
    for _ in range(kinds["timer"]):
        offset.go(on_timer)
    deadline = _time.monotonic() + 30
    while offset.stats()["parked"] < N:
        assert _time.monotonic() < deadline, offset.stats()
        gotime.sleep(gotime.MILLISECOND)
    state["parked"] = offset.stats()["parked_by_reason"]
    try:
        os.write(ready_fd, b"r")
        c.recv()  # main waits too, on a channel nothing sends to
    except KeyboardInterrupt:
        state["main_got_it"] = _time.monotonic()
        raise

state = {}
try:
    offset.run(main)
    state["outcome"] = "run() returned"
except KeyboardInterrupt:
    state["outcome"] = "KeyboardInterrupt"
state["run_ended"] = _time.monotonic()
state["finallies"] = finallies[0]
state["fds"] = [fds_before, fds()]
state["goroutines"] = offset.stats()["goroutines"]
report(state)
"""


@pytest.mark.parametrize("patched", [True, False], ids=["patched", "bare"])
def test_ctrl_c_with_10000_goroutines_waiting(patched: bool) -> None:
    # patched: under patch_all, with sockets; bare: offset.run() alone, channels and timers.
    code = PRELUDE + f"PATCHED = {patched}\n" + textwrap.dedent(CTRL_C)
    sent, state = interrupt_child(code, [])
    n = 10_000
    assert sum(state["parked"].values()) == n
    assert state["outcome"] == "KeyboardInterrupt"  # reached main, then came out of run()
    assert state["finallies"] == n
    assert state["goroutines"] == 0
    assert state["fds"][1] == state["fds"][0]
    to_main = state["main_got_it"] - sent
    to_end = state["run_ended"] - sent
    print(
        f"SIGINT with {n} goroutines ({'patched' if patched else 'bare'}): main got it after {to_main * 1e3:.1f} ms, "
    )
    print(f"every finally had run after {to_end * 1e3:.1f} ms")
    assert 0 < to_main <= to_end < 2.0
