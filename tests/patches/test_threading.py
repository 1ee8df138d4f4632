"""threading under the patch layer, against the unpatched stdlib.

The cases in threading_cases.py run unpatched (their workers are threads),
then patched in the main goroutine (their workers are goroutines, with a
ticker goroutine beside them that must keep running), in a plain thread
while a scheduler runs, and before run(); every outcome (value, or
exception type and message) must be the same. Then what only offset has:
locks shared by goroutines and plain threads and by two schedulers; a
lock nobody can release reported as a deadlock; signal handlers
interrupting the main goroutine's waits as they do the main thread's; fork
while a goroutine holds a lock (the child, like a thread's, does not have
the holder); logging's locks swapped and put back; and
the very originals back after unpatching.
"""

from __future__ import annotations

import ast
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .conftest import cases_script, run_child

# Cases whose outcome is known to differ patched: offset bugs, each an xfail below.
KNOWN_DIFFERENT = {
    "lock_call_signatures": "TypeError messages for wrong argument counts or names are Python's "
    "('Lock.acquire() got an unexpected keyword argument'), not the C lock's",
}

WHERE = ("plain", "goroutine", "thread", "before_run")


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    """The cases run each way, in four children at once (they mostly wait)."""
    with ThreadPoolExecutor(len(WHERE)) as pool:
        results = pool.map(lambda where: run_child(cases_script("threading_cases", where)), WHERE)
        return dict(zip(WHERE, results))


@pytest.fixture(scope="module")
def unpatched(runs: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = runs["plain"]
    return result


@pytest.fixture(scope="module")
def in_goroutines(runs: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = runs["goroutine"]
    return result


def differences(got: dict[str, Any], want: dict[str, Any], *, names: set[str] | None = None) -> dict[str, Any]:
    names = set(want) - set(KNOWN_DIFFERENT) if names is None else names
    assert names <= set(got)
    return {name: (got[name], want[name]) for name in sorted(names) if got[name] != want[name]}


def test_cases_in_goroutines_match_unpatched(unpatched: dict[str, Any], in_goroutines: dict[str, Any]) -> None:
    assert differences(in_goroutines["cases"], unpatched) == {}
    # The cases wait about three seconds in all; the ticker ran throughout.
    assert in_goroutines["ticks"] > 100


def test_cases_in_a_plain_thread_match_unpatched(runs: dict[str, Any]) -> None:
    assert differences(runs["thread"], runs["plain"]) == {}


def test_cases_before_run_match_unpatched(runs: dict[str, Any]) -> None:
    assert differences(runs["before_run"], runs["plain"]) == {}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason="offset bug: " + why))
        for name, why in KNOWN_DIFFERENT.items()
    ],
)
def test_known_differences(name: str, unpatched: dict[str, Any], in_goroutines: dict[str, Any]) -> None:
    assert differences(in_goroutines["cases"], unpatched, names={name}) == {}


def test_unpatched_outcomes_are_what_the_cases_expect(unpatched: dict[str, Any]) -> None:
    # Spot checks that the comparison compares something.
    def value(name: str) -> Any:
        kind, text = unpatched[name]
        assert kind == "ok", unpatched[name]
        return ast.literal_eval(text)

    def error(kind: str, message: str) -> list[Any]:
        return ["raise", kind, message, None, None]

    assert value("lock_held_across_a_socket_wait") == (
        ["holder in", "sending", ("holder got", b"hi"), ("contender in", True)],
        True,
        False,
    )
    assert value("lock_acquire_timeout_while_held") == (["ok", "False"], True, True)
    assert value("lock_acquire_timeout_in_a_worker") == (["ok", "False"], True, True, True)
    assert value("lock_acquire_nonblocking") == [True, False, False, False, False, True]
    assert value("lock_release_unlocked") == error("RuntimeError", "release unlocked lock")
    bad = value("lock_acquire_bad_arguments")
    # "must be positive" until 3.12, "must be a non-negative number" from 3.13
    assert bad["negative_timeout"][0][:2] == ["raise", "ValueError"]
    assert bad["negative_timeout"][0][2].startswith("timeout value must be ")
    assert bad["nonblocking_with_timeout"] == [
        error("ValueError", "can't specify a timeout for a non-blocking call"),
        False,
    ]
    assert bad["str_timeout"][0][:2] == ["raise", "TypeError"]
    assert value("rlock_acquire_bad_arguments")["negative_timeout"][0] == bad["negative_timeout"][0]
    assert value("lock_with_statement_waits_for_a_worker") == (["worker in", "worker out", "case in"], True)
    assert value("lock_types")[:3] == [True, True, True]
    assert value("lock_at_fork_reinit") == [False, True, True, False]
    assert value("locks_cannot_be_copied_or_pickled") == (
        [error("TypeError", "cannot pickle '_thread.lock' object")] * 3
        + [error("TypeError", "cannot pickle '_thread.RLock' object")] * 3
    )
    assert value("lock_contended_by_workers_and_a_thread") == (350, 1, False)
    assert value("rlock_two_workers_exclude_each_other") == (18, True)
    assert value("rlock_release_unowned") == error("RuntimeError", "cannot release un-acquired lock")
    assert value("rlock_owned_by_the_case_excludes_a_worker")[0][:3] == [
        False,
        ["ok", "False"],
        error("RuntimeError", "cannot release un-acquired lock"),
    ]
    assert value("rlock_owned_by_a_plain_thread") == (
        [True, True, True],
        [False, error("RuntimeError", "cannot release un-acquired lock"), False],
        True,
    )
    assert value("condition_default_rlock_wait_notify") == ([0, 1, 2], [True, True, True], True, True)
    assert value("condition_wait_timeout") == (["ok", "False"], True, True, True)
    assert value("condition_notify_one_wakes_exactly_one") == (["False", "False", "True"], [True])
    assert value("condition_notify_n") == [False, False, True, True]
    assert value("event_set_by_a_worker_wakes_a_long_wait") == (["ok", "True"], True, True)
    assert value("event_wait_timeout") == (["ok", "False"], True, True, False)
    assert value("semaphore_limits_holders") == ([0, 2], True, True, False)
    assert value("bounded_semaphore_over_release")[0] == error("ValueError", "Semaphore released too many times")
    assert value("barrier_of_three") == ([0, 1, 2], [1], False, 0)
    assert value("barrier_timeout_breaks_it")[:4] == (error("BrokenBarrierError", ""), True, True, True)
    assert value("thread_join_waits_for_the_thread") == (["ok", "None"], True, True, False)
    assert value("thread_join_timeout_leaves_it_alive") == (["ok", "None"], True, True, True, False)
    assert value("thread_join_misuse") == [
        error("RuntimeError", "cannot join thread before it is started"),
        error("RuntimeError", "cannot join thread before it is started"),
        error("RuntimeError", "cannot join current thread"),
        error("RuntimeError", "cannot join current thread"),
    ]
    assert value("futures_result_from_workers") == ([i * i for i in range(8)], True)
    assert value("futures_result_timeout") == (error("TimeoutError", ""), error("TimeoutError", ""), True, True, True)


# -- locks across goroutines and plain threads -----------------------------------

THREAD_HOLDS_GOROUTINE_WAITS = """
import child; child.start()
import offset; offset.patch_all()
import threading, time
lock = threading.Lock()
rlock = threading.RLock()
held = threading.Event()
ticks = [0]
def holder():
    with lock, rlock:
        held.set()
        time.sleep(0.2)  # a plain thread: the real sleep
def ticker():
    while True:
        time.sleep(0.005)
        ticks[0] += 1
def main():
    offset.go(ticker)
    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    t0 = time.monotonic()
    before = ticks[0]
    got = [lock.acquire(timeout=10), rlock.acquire(timeout=10)]
    waited = time.monotonic() - t0
    during = ticks[0] - before
    lock.release()
    rlock.release()
    t.join()
    return got, 0.1 < waited < 2.0, during > 10
child.report(offset.run(main))
"""


def test_goroutine_waiting_on_a_lock_held_by_a_plain_thread_parks() -> None:
    assert run_child(THREAD_HOLDS_GOROUTINE_WAITS) == [[True, True], True, True]


GOROUTINE_HOLDS_THREAD_WAITS = """
import child; child.start()
import offset; offset.patch_all()
import threading, time
lock = threading.Lock()
rlock = threading.RLock()
out = {}
def waiter():
    t0 = time.monotonic()
    out["got"] = [lock.acquire(timeout=10), rlock.acquire(timeout=10)]
    out["waited"] = time.monotonic() - t0
    out["timed out"] = lock.acquire(timeout=0.05)  # not re-entrant: held by this thread now
    lock.release()
    rlock.release()
def holder():
    with lock, rlock:
        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.2)  # parks the goroutine; the thread waits meanwhile
    return t
def main():
    t = holder()
    while t.is_alive():
        time.sleep(0.01)
    return [out["got"], 0.1 < out["waited"] < 2.0, out["timed out"], lock.locked(), rlock.acquire(False)]
child.report(offset.run(main))
"""


def test_plain_thread_waiting_on_a_lock_held_by_a_goroutine() -> None:
    assert run_child(GOROUTINE_HOLDS_THREAD_WAITS) == [[True, True], True, False, False, True]


TWO_SCHEDULERS = """
import child; child.start()
import offset; offset.patch_all()
import queue, threading, time
lock = threading.Lock()
rlock = threading.RLock()
counter = [0]
inside = [0, 0]
q = queue.Queue()
ticks = {"main": 0, "side": 0}
holders = []
def work(name, n):
    for i in range(n):
        with lock:
            inside[0] += 1
            inside[1] = max(inside[1], inside[0])
            holders.append(name)
            v = counter[0]
            time.sleep(0.001 if i % 10 == 0 else 0)
            counter[0] = v + 1
            inside[0] -= 1
        with rlock:
            with rlock:
                time.sleep(0)
def ticker(name, stop):
    while not stop:
        time.sleep(0.005)
        ticks[name] += 1
def scheduler(name, n_workers, result):
    stop = []
    offset.go(ticker, name, stop)
    done = offset.makechan(n_workers)
    for _ in range(n_workers):
        offset.go(lambda: (work(name, 100), done.send(None)))
    for _ in range(n_workers):
        done.recv()
    # A queue between the schedulers: each sends 20 items, gets 20 of the other's.
    for i in range(20):
        q.put((name, i))
    got = [q.get(timeout=10) for _ in range(20)]
    stop.append(1)
    result[name] = got
side_result = {}
def side():
    offset.run(scheduler, "side", 5, side_result)
def main():
    t = threading.Thread(target=side)
    t.start()
    result = {}
    scheduler("main", 5, result)
    t.join()
    return result["main"] + side_result["side"]
got = offset.run(main)
handed_over = sum(a != b for a, b in zip(holders, holders[1:]))
child.report({"counter": counter[0], "most inside": inside[1], "handed over": handed_over > 2,
              "items": sorted(map(tuple, got)) == sorted([(n, i) for n in ("main", "side") for i in range(20)]),
              "ticked": [ticks["main"] > 3, ticks["side"] > 3]})
"""


def test_goroutines_of_two_schedulers_contend() -> None:
    assert run_child(TWO_SCHEDULERS) == {
        "counter": 1000,
        "most inside": 1,
        "handed over": True,
        "items": True,
        "ticked": [True, True],
    }


RLOCK_ACROSS_SCHEDULERS = """
import child; child.start()
import offset; offset.patch_all()
import threading, time
rlock = threading.RLock()
held = threading.Event()
done = threading.Event()
out = {}
def side_main():
    rlock.acquire()
    rlock.acquire()
    held.set()
    done.wait(10)  # parks this goroutine of the second scheduler
    rlock.release()
    rlock.release()
def main():
    t = threading.Thread(target=offset.run, args=(side_main,))
    t.start()
    held.wait(10)
    out["other scheduler"] = [rlock.acquire(False), rlock.acquire(timeout=0.05)]
    try:
        rlock.release()
    except RuntimeError as e:
        out["release"] = str(e)
    done.set()
    out["after"] = rlock.acquire(timeout=10)
    t.join()
child.report([offset.run(main), out])
"""


def test_rlock_owned_by_a_goroutine_of_another_scheduler() -> None:
    assert run_child(RLOCK_ACROSS_SCHEDULERS) == [
        None,
        {"other scheduler": [False, False], "release": "cannot release un-acquired lock", "after": True},
    ]


DEADLOCK = """
import child; child.start()
import offset; offset.patch_all()
import queue, re, threading
def lock():
    lk = threading.Lock()
    lk.acquire()
    lk.acquire()  # nobody can release it
def rlock():
    r = threading.RLock()
    held = offset.makechan(1)
    def take():
        r.acquire()
        held.send(None)
    offset.go(take)
    held.recv()  # (one gosched() ran take first only in Go's order, not under OFFSET_SHUFFLE)
    r.acquire()  # the goroutine that holds it has ended
def condition():
    queue.Queue().get()  # a Condition's wait on a fresh lock
def simple_queue():
    queue.SimpleQueue().get()
out = {}
for fn in (lock, rlock, condition, simple_queue):
    try:
        offset.run(fn)
        out[fn.__name__] = "returned"
    except offset.DeadlockError as e:
        out[fn.__name__] = re.sub(r"goroutine \\d+", "goroutine N", str(e)).splitlines()[:3]
child.report(out)
"""


def test_a_lock_nobody_can_release_is_a_deadlock() -> None:
    # The stdlib would hang for ever; offset names the wait.
    got = run_child(DEADLOCK)
    head = ["all goroutines are asleep - deadlock!", ""]
    assert got == {
        "lock": head + ["goroutine N [threading.Lock]: lock"],
        "rlock": head + ["goroutine N [threading.RLock]: rlock"],
        "condition": head + ["goroutine N [threading.Lock]: condition"],
        "simple_queue": head + ["goroutine N [queue.SimpleQueue.get]: simple_queue"],
    }


SIGNALS = """
import child; child.start()
PATCH
import queue, signal, threading, time
class Interrupted(Exception):
    pass
def raising(signum, frame):
    raise Interrupted("signal %d" % signum)
calls = []
def returning(signum, frame):
    calls.append(signum)
def alarm(handler, fn):
    # fn() with handler on SIGALRM, due in 50 ms: its outcome, and whether it took at least 0.29 s.
    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    t0 = time.monotonic()
    try:
        got = child.outcome(fn)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    took = time.monotonic() - t0
    assert took < 2, (fn, took)  # an exception ends the wait at once, not at its 5 s timeout
    return got, took >= 0.29
def sleeper(seconds):
    t = threading.Thread(target=time.sleep, args=(seconds,))
    t.start()
    return t
def main():
    out = {}
    lock = threading.Lock()
    lock.acquire()
    out["lock"] = alarm(raising, lock.acquire)
    out["lock, handler returns"] = alarm(returning, lambda: lock.acquire(timeout=0.3))
    lock.release()
    out["lock after"] = lock.acquire(False)
    rlock = threading.RLock()
    held = threading.Event()
    t = threading.Thread(target=lambda: (rlock.acquire(), held.set(), time.sleep(0.6), rlock.release()))
    t.start()
    held.wait(5)
    out["rlock"] = alarm(raising, lambda: rlock.acquire(timeout=5))
    out["rlock, handler returns"] = alarm(returning, lambda: rlock.acquire(timeout=5))
    rlock.release()
    t.join()
    cond = threading.Condition()
    with cond:
        out["condition"] = alarm(raising, lambda: cond.wait(5))
        out["condition still owned"] = cond._is_owned()
        out["condition, handler returns"] = alarm(returning, lambda: cond.wait(0.3))
    out["event"] = alarm(raising, lambda: threading.Event().wait(5))
    out["semaphore"] = alarm(raising, lambda: threading.Semaphore(0).acquire(timeout=5))
    out["queue"] = alarm(raising, lambda: queue.Queue().get(timeout=5))
    out["simple queue"] = alarm(raising, lambda: queue.SimpleQueue().get(timeout=5))
    out["simple queue, handler returns"] = alarm(returning, lambda: queue.SimpleQueue().get(timeout=0.3))
    out["join"] = alarm(raising, sleeper(0.5).join)
    out["join, handler returns"] = alarm(returning, sleeper(0.35).join)
    out["handler calls"] = len(calls)
    return out
RUN
"""


def test_a_signal_handler_interrupts_waits_in_the_main_goroutine_as_in_the_main_thread() -> None:
    # Python runs handlers in the main thread, where an exception they
    # raise comes out of the lock wait they interrupted, and a handler that
    # returns lets the wait carry on. Patched, the main goroutine's waits
    # do the same. (A goroutine sleeps beside main: a pending alarm alone
    # does not keep run() from calling a deadlock. It sleeps an hour: with
    # 30 s, CI on a swamped machine once called a deadlock with main alone
    # in a lock wait, the sleeper gone.)
    scripts = [
        SIGNALS.replace("PATCH", "").replace("RUN", "child.report(main())"),
        SIGNALS.replace("PATCH", "import offset; offset.patch_all()").replace(
            "RUN",
            "def with_a_sleeper():\n    offset.go(time.sleep, 3600)\n    return main()\n"
            "child.report(offset.run(with_a_sleeper))",
        ),
    ]
    with ThreadPoolExecutor(2) as pool:
        plain, patched = pool.map(run_child, scripts)
    assert patched == plain
    interrupted = [["raise", "Interrupted", "signal 14", None, None], False]
    assert plain["lock"] == plain["condition"] == plain["queue"] == plain["join"] == interrupted
    assert plain["lock, handler returns"] == [["ok", "False"], True]
    assert plain["rlock, handler returns"] == [["ok", "True"], True]
    assert plain["simple queue, handler returns"] == [["raise", "Empty", "", None, None], True]
    assert plain["join, handler returns"] == [["ok", "None"], True]
    assert plain["handler calls"] == 5


THREAD_ENDS_HOLDING_IT = """
import child; child.start()
import offset; offset.patch_all()
import threading
lock = threading.Lock()
def main():
    t = threading.Thread(target=lock.acquire)  # and ends without releasing it
    t.start()
    t.join()
    lock.acquire()
try:
    offset.run(main)
    child.report("returned")
except offset.DeadlockError as e:
    child.report(str(e).splitlines()[2])
"""


def test_a_lock_left_held_by_an_ended_thread_is_a_deadlock() -> None:
    # While the thread lived it might have released it; once it has ended
    # nothing can.
    assert run_child(THREAD_ENDS_HOLDING_IT) == "goroutine 1 [threading.Lock]: main"


FORK = """
import child; child.start()
import offset; offset.patch_all()
import io, logging, os, socket, time
class SlowStream(io.StringIO):
    def write(self, s):
        for ch in s:
            super().write(ch)
            time.sleep(0.001)  # parks the goroutine, holding the handler's lock
stream = SlowStream()
handler = logging.StreamHandler(stream)
handler.setFormatter(logging.Formatter("%(message)s"))
log = logging.getLogger("offset.test.fork")
log.addHandler(handler)
log.propagate = False
log.setLevel(logging.INFO)
errors = []
finished = []
def emit(ch):
    try:
        log.info(ch * 20)
        finished.append(ch)
    except BaseException as e:
        errors.append(repr(e))
def main():
    offset.go(emit, "A")
    offset.go(emit, "B")
    for _ in range(1000):  # A gets into write() and parks there, holding the lock; B waits for it
        if stream.getvalue():
            break
        offset.gosched()
    parent_end, child_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        # The child has only this goroutine, as a forked thread has only
        # itself: logging's at-fork hook resets the lock the lost goroutine held.
        try:
            emit("C")
            child_end.sendall(repr([stream.getvalue().splitlines()[-1], errors]).encode())
        finally:
            os._exit(0)
    child_end.close()
    got = b""
    while data := parent_end.recv(10000):
        got += data
    os.waitpid(pid, 0)
    while len(finished) + len(errors) < 2:
        time.sleep(0.01)
    return [got.decode(), sorted(stream.getvalue().splitlines()), errors]
child.report(offset.run(main))
"""


def test_fork_while_goroutines_log_through_one_handler() -> None:
    # The parent's goroutines finish their lines; the child logs its own,
    # though a goroutine it does not have held the handler's lock at fork.
    # The child's last line starts with what the lost goroutine had written
    # when the process forked.
    in_child, in_parent, errors = run_child(FORK)
    last_line, child_errors = eval(in_child)  # noqa: S307 - our own child's repr
    assert re.fullmatch(r"(A{0,19}|B{0,19})C{20}", last_line), last_line
    assert child_errors == []
    assert in_parent == ["A" * 20, "B" * 20]
    assert errors == []


# -- logging ----------------------------------------------------------------------

LOGGING = """
import child; child.start()
import logging, sys, time
class SlowStream:
    '''Writes in 4-character pieces, sleeping after each: a write that parks.'''
    def __init__(self):
        self.pieces = []
    def write(self, s):
        for i in range(0, len(s), 4):
            self.pieces.append(s[i:i + 4])
            time.sleep(0.001)
    def flush(self):
        pass
stream = SlowStream()
handler = logging.StreamHandler(stream)  # made before patching: its lock is C
handler.setFormatter(logging.Formatter("%(message)s"))
log = logging.getLogger("offset.test")
log.addHandler(handler)
log.propagate = False
log.setLevel(logging.INFO)
originals = {"module": logging._lock, "handler": handler.lock}
import offset
from offset.patches.threading import RLock
offset.patch_all(threading=THREADING)
later = logging.StreamHandler(stream)  # made after patching
during = [isinstance(logging._lock, RLock), isinstance(handler.lock, RLock), isinstance(later.lock, RLock)]
def emitter(k, done):
    for i in range(2):
        log.info("goroutine %02d record %d %s", k, i, "x" * 10)
    done.send(None)
def main():
    done = offset.makechan(20)
    for k in range(20):
        offset.go(emitter, k, done)
    for _ in range(20):
        done.recv()
offset.run(main)
lines = "".join(stream.pieces).splitlines()
want = sorted("goroutine %02d record %d %s" % (k, i, "x" * 10) for k in range(20) for i in range(2))
offset.unpatch_all()
after = [logging._lock is originals["module"], handler.lock is originals["handler"],
         isinstance(later.lock, RLock)]
child.report({"during": during, "intact": sorted(lines) == want, "after": after})
"""


def test_logging_locks_are_swapped_and_records_never_interleave() -> None:
    got = run_child(LOGGING.replace("THREADING", "True"))
    assert got == {
        "during": [True, True, True],
        "intact": True,
        # The locks swapped are put back; one made while patched stays offset's.
        "after": [True, True, True],
    }


def test_without_the_threading_area_logging_records_interleave() -> None:
    # The control: with the C locks, goroutines of one thread all get in at
    # once (the RLock is per thread) and the pieces of their records mix.
    got = run_child(LOGGING.replace("THREADING", "False"))
    assert got == {"during": [False, False, False], "intact": False, "after": [True, True, False]}


# -- patching and unpatching ------------------------------------------------------

ORIGINALS = """
import child; child.start()
import _thread, logging, queue, threading
names = {
    "threading.Lock": lambda: threading.Lock,
    "threading._allocate_lock": lambda: threading._allocate_lock,
    "threading.RLock": lambda: threading.RLock,
    "threading.Thread.join": lambda: threading.Thread.__dict__["join"],
    "_thread.allocate_lock": lambda: _thread.allocate_lock,
    "_thread.LockType": lambda: _thread.LockType,
    "_thread.RLock": lambda: _thread.RLock,
    "queue.SimpleQueue": lambda: queue.SimpleQueue,
    "logging._lock": lambda: logging._lock,
}
originals = {name: get() for name, get in names.items()}
def same():
    return sorted(name for name, get in names.items() if get() is originals[name])
c_lock = threading.Lock()  # made before patching: stays C
c_queue = queue.SimpleQueue()
import offset
from offset.patches import is_patched
offset.patch_all(AREAS)
report = {"patched": [is_patched("threading"), is_patched("queue")], "same while patched": same()}
from offset.patches import queue as offset_queue, threading as offset_threading
offset_types = offset_threading.Lock, offset_threading.RLock, offset_queue.SimpleQueue
def offsets(objects):
    return [type(x) is t for x, t in zip(objects, offset_types)]
made = threading.Lock(), threading.RLock(), queue.SimpleQueue()
report["made while patched"] = offsets(made)
report["before patching"] = [type(c_lock) is originals["_thread.LockType"], type(c_queue) is originals["queue.SimpleQueue"]]
offset.unpatch_all()
report["unpatched"] = [is_patched("threading"), is_patched("queue")]
report["same after"] = same()
report["made after"] = offsets((threading.Lock(), threading.RLock(), queue.SimpleQueue()))
# What was made while patched still works.
lock, rlock, sq = made
sq.put(1)
report["still works"] = [lock.acquire(False), lock.locked(), rlock.acquire(), rlock.acquire(False), sq.get(False)]
offset.patch_all(AREAS)
report["patched again"] = same()
offset.unpatch_all()
report["unpatched again"] = same()
child.report(report)
"""

ALL_NAMES = sorted(
    [
        "threading.Lock",
        "threading._allocate_lock",
        "threading.RLock",
        "threading.Thread.join",
        "_thread.allocate_lock",
        "_thread.LockType",
        "_thread.RLock",
        "queue.SimpleQueue",
        "logging._lock",
    ]
)


def test_unpatch_all_puts_back_the_very_originals() -> None:
    got = run_child(ORIGINALS.replace("AREAS", ""))
    assert got == {
        "patched": [True, True],
        "same while patched": [],
        "made while patched": [True, True, True],
        "before patching": [True, True],
        "unpatched": [False, False],
        "same after": ALL_NAMES,
        "made after": [False, False, False],
        "still works": [True, True, True, True, 1],
        "patched again": [],
        "unpatched again": ALL_NAMES,
    }


def test_patch_all_without_threading_leaves_it_alone() -> None:
    got = run_child(ORIGINALS.replace("AREAS", "threading=False"))
    assert got["patched"] == [False, True]
    assert got["same while patched"] == [n for n in ALL_NAMES if n != "queue.SimpleQueue"]
    assert got["made while patched"] == [False, False, True]
    assert got["same after"] == ALL_NAMES


def test_patch_all_without_queue_leaves_simple_queue_alone() -> None:
    got = run_child(ORIGINALS.replace("AREAS", "queue=False"))
    assert got["patched"] == [True, False]
    assert got["same while patched"] == ["queue.SimpleQueue"]
    assert got["made while patched"] == [True, True, False]
    assert got["same after"] == ALL_NAMES


# -- the import system's module locks ---------------------------------------------

IMPORTS = """
import child; child.start()
import offset; offset.patch_all()
import os, sys, tempfile, time, _frozen_importlib, _thread
d = tempfile.mkdtemp()
with open(os.path.join(d, "slowmod.py"), "w") as f:
    f.write("import time\\ntime.sleep(0.05)\\nVALUE = 42\\n")  # parks its importer mid-import
sys.path.insert(0, d)
out = []
def imp():
    try:
        from slowmod import VALUE
        out.append(VALUE)
    except ImportError as e:
        out.append(str(e))
def main():
    for _ in range(5):
        offset.go(imp)
    deadline = time.monotonic() + 10
    while len(out) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)  # the importer's timer (0.05 s), then the others
    return out
result = offset.run(main)
seen = repr(_frozen_importlib._thread)
offset.unpatch_all()
child.report([result, seen, _frozen_importlib._thread is _thread])
"""


def test_goroutines_importing_one_module_wait_for_each_other() -> None:
    # As threads do: the first imports, the others wait for it to finish
    # instead of getting the half-initialized module.
    assert run_child(IMPORTS) == [[42] * 5, "<module '_thread' (built-in)>", True]
