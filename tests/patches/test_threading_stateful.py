"""Hypothesis drives one patched Lock, Condition and queue.Queue from goroutines and plain threads.

``LockConditionQueue`` is a RuleBasedStateMachine. Each example starts five
actors, three goroutines and two plain threads, each reading commands from
its own channel and carrying them out one after the other, so that the
commands of different actors overlap for real. The rules send commands:
take the Lock (blocking, with a timeout, or trying) and hold it a while;
put an item in the bounded Queue or get one (with a timeout, or nowait);
wait on the Condition (briefly, or "for ever", 5 s) or notify it (1, 2,
all). After every step, and at the end of the example, the model must
hold:

- mutual exclusion: the Lock's holders, and the Condition's (its RLock,
  re-taken inside wait()), enter and leave one at a time: their records
  alternate in, out, in, out, each pair by one actor;
- nothing lost, nothing duplicated: every item got was put, none twice,
  and at the end the items got plus those left in the queue are exactly
  those whose put succeeded;
- nothing woken twice: every wait returns exactly once, and no more waits
  return True than notifications were delivered (counted under the
  Condition's lock from ``len(cond._waiters)``); a "for ever" wait must
  return True, woken by a notify (a lost wake-up would leave it to time out).

At the end of an example the driver stops the actors, notifying the
Condition until the last "for ever" waiter is out. The machine runs in a
fresh interpreter under patch_all (conftest.run_child), driven from the
main goroutine; this module is imported there as a top-level module (the
child's path has tests/patches on it), which is why it imports run_child
only inside the test.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import Counter
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

import offset
import offset.time

FOREVER = 5.0  # a wait that only a notify should end
N_GOROUTINES = 3
N_THREADS = 2
ACTORS = st.integers(0, N_GOROUTINES + N_THREADS - 1)
SETTINGS = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
STATS: Counter[str] = Counter()  # what the examples did, over all of them


class World:
    """The shared objects, and what the actors recorded about them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cond = threading.Condition()
        self.q: queue.Queue[int] = queue.Queue(maxsize=3)
        self.lock_events: list[tuple[str, int]] = []  # ("in" | "out", actor), appended while holding it
        self.cond_events: list[tuple[str, int]] = []
        self.issued: set[int] = set()  # items handed to a putter
        self.put_ok: list[int] = []
        self.got: list[int] = []
        self.waits: dict[int, float] = {}  # wait id -> its timeout
        self.wait_results: list[tuple[int, bool, float]] = []  # (wait id, returned, seconds)
        self.delivered = 0  # notifications delivered to a waiter, counted under cond's lock

    def do(self, me: int, cmd: tuple[Any, ...]) -> None:
        op = cmd[0]
        if op == "lock":
            _, mode, hold = cmd
            if mode == "block":
                ok = self.lock.acquire()
            elif mode == "timeout":
                ok = self.lock.acquire(timeout=0.01)
            else:
                ok = self.lock.acquire(False)
            STATS["lock " + mode + (" got" if ok else " missed")] += 1
            if ok:
                self.lock_events.append(("in", me))
                time.sleep(hold)
                self.lock_events.append(("out", me))
                self.lock.release()
        elif op == "put":
            _, item, mode = cmd
            try:
                if mode == "nowait":
                    self.q.put_nowait(item)
                else:
                    self.q.put(item, timeout=0.02)
            except queue.Full:
                STATS["put full"] += 1
            else:
                self.put_ok.append(item)
        elif op == "get":
            try:
                item = self.q.get_nowait() if cmd[1] == "nowait" else self.q.get(timeout=0.02)
            except queue.Empty:
                STATS["get empty"] += 1
            else:
                self.got.append(item)
        elif op == "wait":
            _, wid, timeout = cmd
            with self.cond:
                self.cond_events += [("in", me), ("out", me)]
                t0 = time.monotonic()
                woken = self.cond.wait(timeout)
                took = time.monotonic() - t0
                self.cond_events += [("in", me), ("out", me)]
            self.wait_results.append((wid, woken, took))
            STATS["wait " + ("forever" if timeout == FOREVER else "brief") + (" woken" if woken else " timed out")] += 1
        elif op == "notify":
            with self.cond:
                self.cond_events.append(("in", me))
                waiting = len(self.cond._waiters)  # type: ignore[attr-defined]
                if cmd[1] == "all":
                    self.delivered += waiting
                    self.cond.notify_all()
                else:
                    self.delivered += min(cmd[1], waiting)
                    self.cond.notify(cmd[1])
                self.cond_events.append(("out", me))
        else:
            raise AssertionError(f"unknown command {cmd!r}")


def actor(world: World, me: int, inbox: Any, finished: Any) -> None:
    """Carry out ``inbox``'s commands in order until None; then say so on ``finished``."""
    try:
        while (cmd := inbox.recv()) is not None:
            world.do(me, cmd)
        finished.send((me, None))
    except BaseException as e:  # noqa: BLE001 - the driver reports it
        finished.send((me, repr(e)))


def alternate(events: list[tuple[str, int]]) -> bool:
    """in, out, in, out..., each pair by one actor (a last "in" may still be open)."""
    for i, (what, who) in enumerate(events):
        if what != ("in" if i % 2 == 0 else "out"):
            return False
        if i % 2 and events[i - 1][1] != who:
            return False
    return True


class LockConditionQueue(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = World()
        self.ids = itertools.count()
        self.finished: Any = offset.makechan(N_GOROUTINES + N_THREADS)
        self.inboxes: list[Any] = [offset.makechan(1000) for _ in range(N_GOROUTINES + N_THREADS)]
        self.threads = []
        for me, inbox in enumerate(self.inboxes):
            if me < N_GOROUTINES:
                offset.go(actor, self.world, me, inbox, self.finished)
            else:
                t = threading.Thread(target=actor, args=(self.world, me, inbox, self.finished), daemon=True)
                t.start()
                self.threads.append(t)
        self.stopped = False

    def send(self, a: int, cmd: tuple[Any, ...]) -> None:
        self.inboxes[a].send(cmd)
        time.sleep(0)  # the goroutine actors get a turn

    @rule(a=ACTORS, mode=st.sampled_from(["block", "timeout", "try"]), hold=st.sampled_from([0, 0.001, 0.02]))
    def take_the_lock(self, a: int, mode: str, hold: float) -> None:
        self.send(a, ("lock", mode, hold))

    @rule(a=ACTORS, mode=st.sampled_from(["timeout", "nowait"]))
    def put(self, a: int, mode: str) -> None:
        item = next(self.ids)
        self.world.issued.add(item)
        self.send(a, ("put", item, mode))

    @rule(a=ACTORS, mode=st.sampled_from(["timeout", "nowait"]))
    def get(self, a: int, mode: str) -> None:
        self.send(a, ("get", mode))

    @rule(a=ACTORS, timeout=st.sampled_from([0.005, FOREVER]))
    def wait(self, a: int, timeout: float) -> None:
        wid = next(self.ids)
        self.world.waits[wid] = timeout
        self.send(a, ("wait", wid, timeout))

    @rule(a=ACTORS, n=st.sampled_from([1, 2, "all"]))
    def notify(self, a: int, n: Any) -> None:
        self.send(a, ("notify", n))

    @rule(seconds=st.sampled_from([0.001, 0.01]))
    def let_them_run(self, seconds: float) -> None:
        time.sleep(seconds)

    @invariant()
    def mutual_exclusion(self) -> None:
        assert alternate(list(self.world.lock_events)), self.world.lock_events
        assert alternate(list(self.world.cond_events)), self.world.cond_events

    @invariant()
    def nothing_got_twice_or_from_nowhere(self) -> None:
        got = list(self.world.got)
        assert len(set(got)) == len(got), Counter(got).most_common(3)
        assert set(got) <= self.world.issued

    @invariant()
    def nothing_woken_twice(self) -> None:
        with self.world.cond:  # delivered is counted under it
            results = list(self.world.wait_results)
            delivered = self.world.delivered
        ids = [wid for wid, _, _ in results]
        assert len(set(ids)) == len(ids), Counter(ids).most_common(3)
        assert sum(woken for _, woken, _ in results) <= delivered

    def teardown(self) -> None:
        w = self.world
        for inbox in self.inboxes:
            inbox.send(None)
        # Let every "for ever" waiter out; any other command ends on its own.
        done: dict[int, Any] = {}
        deadline = time.monotonic() + 2 * FOREVER
        while len(done) < len(self.inboxes):
            assert time.monotonic() < deadline, f"actors {set(range(len(self.inboxes))) - set(done)} never finished"
            with w.cond:
                w.delivered += len(w.cond._waiters)  # type: ignore[attr-defined]
                w.cond.notify_all()
            ret = offset.select(self.finished.if_recv(), offset.time.After(2 * offset.time.MILLISECOND).if_recv())
            if ret.chan is self.finished:
                me, error = ret.value
                done[me] = error
        for t in self.threads:
            t.join(FOREVER)
            assert not t.is_alive()
        assert {me: e for me, e in done.items() if e is not None} == {}
        self.mutual_exclusion()
        self.nothing_got_twice_or_from_nowhere()
        self.nothing_woken_twice()
        assert not w.lock.locked()
        left = []
        while True:
            try:
                left.append(w.q.get_nowait())
            except queue.Empty:
                break
        assert sorted(w.got + left) == sorted(w.put_ok)
        assert sorted(wid for wid, _, _ in w.wait_results) == sorted(w.waits)
        forever = [(wid, woken, round(took, 3)) for wid, woken, took in w.wait_results if w.waits[wid] == FOREVER]
        assert all(woken and took < FOREVER / 2 for _, woken, took in forever), forever
        STATS["examples"] += 1
        STATS["items"] += len(w.put_ok)


def run_machine() -> dict[str, int]:
    """The child's main goroutine: run the machine; return the statistics."""
    t0 = time.monotonic()
    run_state_machine_as_test(LockConditionQueue, settings=SETTINGS)
    STATS["seconds"] = round(time.monotonic() - t0)
    return dict(STATS)


CHILD = """
import child; child.start()
import offset; offset.patch_all()
import test_threading_stateful
child.report(offset.run(test_threading_stateful.run_machine))
"""


def test_lock_condition_and_queue_against_the_model() -> None:
    from .conftest import run_child

    stats = run_child(CHILD, timeout=60.0)
    assert stats["examples"] >= SETTINGS.max_examples
    # The examples exercised what the model checks: contention, timeouts,
    # full and empty queues, and waits ended both ways.
    for what in (
        "lock block got",
        "lock timeout missed",
        "lock try missed",
        "put full",
        "get empty",
        "wait forever woken",
        "wait brief timed out",
        "wait brief woken",
    ):
        assert stats.get(what, 0) > 0, (what, stats)
    assert stats["items"] > 50
