"""queue under the patch layer, against the unpatched stdlib.

queue.Queue, LifoQueue and PriorityQueue are pure Python over threading's
locks; queue.SimpleQueue is C, replaced by the queue area. The queue cases
of threading_cases.py (OFFSET_CASES=queue) run unpatched, with threads as
workers, then patched in the main goroutine with goroutines as workers (a
ticker goroutine beside them must keep running), in a plain thread, and
before run(); the outcomes must be the same. Then SimpleQueue between two
schedulers, under getters that give up as items arrive, and from a signal
handler.
"""

from __future__ import annotations

import ast
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .conftest import cases_script, run_child

ENV = {"OFFSET_CASES": "queue"}

# Cases whose outcome is known to differ patched: offset bugs, each an xfail below.
KNOWN_DIFFERENT = {
    "simple_queue_call_signatures": "TypeError messages for wrong argument counts or names are Python's "
    "('SimpleQueue.get() got an unexpected keyword argument'), not the C queue's",
}


WHERE = ("plain", "goroutine", "thread", "before_run")


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    """The cases run each way, in four children at once (they mostly wait)."""
    with ThreadPoolExecutor(len(WHERE)) as pool:
        results = pool.map(lambda where: run_child(cases_script("threading_cases", where), env=ENV), WHERE)
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
    assert in_goroutines["ticks"] > 50  # about a second of waits; the ticker ran throughout


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
    def value(name: str) -> Any:
        kind, text = unpatched[name]
        assert kind == "ok", unpatched[name]
        return ast.literal_eval(text)

    empty = ["raise", "Empty", "", None, None]
    negative = ["raise", "ValueError", "'timeout' must be a non-negative number", None, None]
    assert value("queue_get_waits_for_a_put") == (["ok", "1"], True, True)
    assert value("queue_put_waits_on_a_full_queue") == (["ok", "None"], 1, 2, True, True)
    assert value("queue_get_timeout") == (empty, True, True)
    assert value("queue_put_timeout") == (["raise", "Full", "", None, None], True, True, 1)
    assert value("queue_task_done_and_join") == (
        ["ok", "None"],
        True,
        [0, 1, 2, 3, 4],
        True,
        ["raise", "ValueError", "task_done() called too many times", None, None],
    )
    assert value("lifo_and_priority_queues")[-1] == [(1, "1"), (2, "2"), (3, "3")]
    assert value("queue_between_several_workers") == (True, 80)
    assert value("simple_queue_fifo") == [7, False, 0, 1, 2, 3, 4, "x", "y", True, 0]
    bad = value("simple_queue_bad_timeouts_and_empty")
    assert bad[0] == bad[1] == negative
    assert bad[4:8] == [empty] * 4
    assert value("simple_queue_bad_timeout_with_an_item")[0] == negative
    assert value("simple_queue_get_timeout") == (empty, True, True)
    assert value("simple_queue_put_from_a_plain_thread_wakes_the_getter") == (["ok", "'from a thread'"], True, True)
    assert value("simple_queue_put_wakes_a_plain_thread_getter") == (["ok", "'to a thread'"], True)
    assert value("simple_queue_many_getters_many_putters") == (600, True, True, True)


def test_simple_queue_generic_alias() -> None:
    # A types.GenericAlias of the class that is queue.SimpleQueue, patched or not.
    script = """
import child; child.start()
PATCH
import queue, types
alias = queue.SimpleQueue[int]
child.report([type(alias) is types.GenericAlias, alias.__origin__ is queue.SimpleQueue, alias.__args__ == (int,),
              alias == queue.SimpleQueue[int], repr(alias).endswith(".SimpleQueue[int]"),
              type(alias()) is queue.SimpleQueue])
"""
    want = [True] * 6
    assert run_child(script.replace("PATCH", "")) == want
    assert run_child(script.replace("PATCH", "import offset; offset.patch_all()")) == want


TWO_SCHEDULERS = """
import child; child.start()
import offset; offset.patch_all()
import queue, threading, time
q = queue.SimpleQueue()
got = []
def getter(done):
    while True:
        item = q.get(timeout=10)
        if item is None:
            break
        got.append(item)
    done.send(None)
def side():
    def main():
        done = offset.makechan(4)
        for _ in range(4):
            offset.go(getter, done)
        for _ in range(4):
            done.recv()
    offset.run(main)
def putter(k, done):
    for i in range(100):
        q.put(k * 100 + i)
        if i % 7 == 0:
            time.sleep(0.001)
    done.send(None)
def main():
    t = threading.Thread(target=side)
    t.start()
    time.sleep(0.02)  # the getters wait in the other scheduler (a thread: no gosched)
    done = offset.makechan(4)
    for k in range(4):
        offset.go(putter, k, done)
    for _ in range(4):
        done.recv()
    for _ in range(4):
        q.put(None)
    t.join()
offset.run(main)
child.report([len(got), sorted(got) == list(range(400)), q.empty()])
"""


def test_simple_queue_between_two_schedulers() -> None:
    assert run_child(TWO_SCHEDULERS) == [400, True, True]


IMPATIENT_GETTERS = """
import child; child.start()
import offset; offset.patch_all()
import queue, random, threading, time
# Getters with timeouts of a millisecond or two, racing puts: a getter
# woken for an item as its timeout passes must not lose the item, and no
# item may be got twice.
random.seed(7)
q = queue.SimpleQueue()
got = []
empties = [0]
stop = []
def getter():
    while not stop:
        try:
            got.append(q.get(timeout=random.choice([0.0005, 0.001, 0.002])))
        except queue.Empty:
            empties[0] += 1
def putter(base, n):
    for i in range(n):
        q.put(base + i)
        if i % 3 == 0:
            time.sleep(random.choice([0, 0.0005, 0.001]))
def main():
    done = offset.makechan(8)
    for _ in range(6):
        offset.go(lambda: (getter(), done.send(None)))
    threads = [threading.Thread(target=getter) for _ in range(2)]
    for t in threads:
        t.start()
    putters = [offset.go(putter, k * 1000, 300) for k in range(3)]
    pt = threading.Thread(target=putter, args=(5000, 300))
    pt.start()
    pt.join()
    deadline = time.monotonic() + 10
    while len(got) < 1200 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.append(1)
    for _ in range(6):
        done.recv()
    for t in threads:
        t.join()
offset.run(main)
want = sorted(k * 1000 + i for k in (0, 1, 2, 5) for i in range(300))
leftover = []
while not q.empty():
    leftover.append(q.get_nowait())
child.report([len(got), len(set(got)), sorted(got + leftover) == want, empties[0] > 0])
"""


def test_simple_queue_getters_timing_out_as_items_arrive_lose_nothing() -> None:
    assert run_child(IMPATIENT_GETTERS) == [1200, 1200, True, True]


SIGNAL_HANDLER_PUTS = """
import child; child.start()
PATCH
import queue, signal, time
q = queue.SimpleQueue()
signal.signal(signal.SIGALRM, lambda n, f: q.put("from the handler"))
def main():
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    t0 = time.monotonic()
    item = q.get(timeout=5)
    return [item, time.monotonic() - t0 < 2]
RUN
"""


@pytest.mark.parametrize("where", ["plain", "goroutine"])
def test_simple_queue_put_from_a_signal_handler_wakes_the_getter(where: str) -> None:
    if where == "plain":
        script = SIGNAL_HANDLER_PUTS.replace("PATCH", "").replace("RUN", "child.report(main())")
    else:
        script = SIGNAL_HANDLER_PUTS.replace("PATCH", "import offset; offset.patch_all()").replace(
            "RUN", "child.report(offset.run(main))"
        )
    assert run_child(script) == ["from the handler", True]


FINALIZER_PUTS = """
import child; child.start()
import _thread, os, time
# A C lock made before patching: the watchdog must not need offset's lock.
finished = _thread.allocate_lock()
finished.acquire()
def watchdog():
    if not finished.acquire(timeout=3):
        child.report("hung")
        os._exit(0)
_thread.start_new_thread(watchdog, ())
import offset; offset.patch_all()
import gc, queue, threading
sq = queue.SimpleQueue()
class Garbage:
    # A reference cycle whose finalizer puts: it runs in whatever code
    # allocates when a collection is due (ThreadPoolExecutor's weakref
    # callback puts on its SimpleQueue the same way).
    def __init__(self):
        self.me = self
    def __del__(self):
        sq.put("from __del__")
got = []
def getter():
    while True:
        got.append(sq.get())
lock = threading.Lock()
def contender(n):
    for _ in range(n):
        with lock:
            Garbage()
            time.sleep(0)
def main():
    gc.set_threshold(2, 1, 1)  # collections often: inside offset's own code too
    offset.go(getter)
    done = offset.makechan(4)
    for _ in range(4):
        offset.go(lambda: (contender(500), done.send(None)))
    for _ in range(4):
        done.recv()
    gc.collect()
    for _ in range(1000):  # the getter takes what the last finalizers put
        if len(got) == 2000:
            break
        offset.gosched()
    return len(got)
got_all = offset.run(main)
finished.release()
child.report(got_all)
"""


def test_simple_queue_put_from_a_finalizer_with_a_getter_waiting() -> None:
    # The C SimpleQueue's put is reentrant for exactly this (bpo-14976);
    # the patched module's docstring promises it too.
    assert run_child(FINALIZER_PUTS) == 2000


QUEUE_MADE_BEFORE_PATCHING = """
import child; child.start()
import queue, _queue
before = queue.SimpleQueue()
before.put(1)
import offset; offset.patch_all()
after = queue.SimpleQueue()
child.report([type(before) is _queue.SimpleQueue, before.get(False), type(after).__module__,
              offset.patches.is_patched("queue")])
"""


def test_a_simple_queue_made_before_patching_stays_c() -> None:
    assert run_child(QUEUE_MADE_BEFORE_PATCHING) == [True, 1, "offset.patches.queue", True]
