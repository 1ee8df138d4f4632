"""Faults: what goroutines stopped in the middle of a wait leave in the wait queues.

When one goroutine's exception ends ``run()``, the others are stopped where
they wait. Each must withdraw its waiter (the park protocol, _sched.py), or
the queue keeps a dead one: a later send would be handed to it and lost, a
Cond.signal spent on it, a Mutex or Semaphore handed to it and never
released, an RWMutex writer that never comes would hold readers out. So:
goroutines wait on every primitive, one raises, and a later ``run()``
uses every primitive again and checks that it behaves as if the dead
waiters had never been there (a ``select`` with ``default`` finds no
partner; a signal wakes the live waiter; the locks are free). A deadlock
in the later run (a dead waiter swallowed a wake-up) is a DeadlockError
there, naming the goroutine. The same for the patched threading
primitives (Lock, RLock, Semaphore, Condition, Event, queue.Queue), in a
fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import offset
from offset import default, makechan, select, sync
from offset import time as gotime


class Prims:
    def __init__(self) -> None:
        self.recv_chan = makechan()  # a receiver waits
        self.send_chan = makechan()  # a sender waits
        self.full = makechan(1)  # a sender waits for room
        self.full.send("buffered")
        self.sel_a = makechan()
        self.sel_b = makechan()  # one select waits on both, to receive and to send
        self.mutex = sync.Mutex()
        self.rw = sync.RWMutex()
        self.wg = sync.WaitGroup()
        self.wg.add(1)
        self.cond_lock = sync.Mutex()
        self.cond = sync.Cond(self.cond_lock)
        self.sem = sync.Semaphore(2)
        self.finallies: list[str] = []


def _stopped_run(p: Prims) -> None:
    """Goroutines waiting on every primitive (some holding one); then one raises."""
    parked: list[str] = []

    def waiter(name: str, fn: object) -> None:
        try:
            parked.append(name)
            fn()  # type: ignore[operator]
        finally:
            p.finallies.append(name)

    def holds_mutex() -> None:
        with p.mutex:
            parked.append("holds mutex")
            gotime.sleep(gotime.HOUR)

    def holds_rlock() -> None:
        p.rw.rlock()
        try:
            parked.append("holds rlock")
            gotime.sleep(gotime.HOUR)
        finally:
            p.rw.runlock()

    def holds_sem() -> None:
        p.sem.acquire(2)
        try:
            parked.append("holds semaphore")
            gotime.sleep(gotime.HOUR)
        finally:
            p.sem.release(2)

    def cond_wait() -> None:
        with p.cond_lock:
            p.cond.wait()

    def main() -> None:
        for fn in (holds_mutex, holds_rlock, holds_sem):
            offset.go(fn)
        while len(parked) < 3:
            offset.gosched()
        waits = {
            "recv": p.recv_chan.recv,
            "send": lambda: p.send_chan.send("lost?"),
            "send to full": lambda: p.full.send("lost?"),
            "select": lambda: select(p.sel_a.if_recv(), p.sel_b.if_send("lost?")),
            "mutex": p.mutex.lock,
            "rw writer": p.rw.lock,
            "wait group": p.wg.wait,
            "cond": cond_wait,
            "semaphore": lambda: p.sem.acquire(1),
        }
        for name, fn in waits.items():
            offset.go(waiter, name, fn)
        while offset.stats()["parked"] < 3 + len(waits):
            offset.gosched()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="^boom$"):
        offset.run(main)


def test_stopped_waiters_leave_nothing_in_the_queues() -> None:
    p = Prims()
    _stopped_run(p)
    assert sorted(p.finallies) == sorted(
        ["recv", "send", "send to full", "select", "mutex", "rw writer", "wait group", "cond", "semaphore"]
    )

    def main() -> dict[str, object]:
        got: dict[str, object] = {}
        # Channels: no partner waits any more.
        got["send finds no receiver"] = select(p.recv_chan.if_send(1), default) is default
        got["recv finds no sender"] = select(p.send_chan.if_recv(), default) is default
        got["full keeps its one item"] = (p.full.recv(), select(p.full.if_recv(), default) is default)
        got["select's cases gone"] = (
            select(p.sel_a.if_send(1), default) is default and select(p.sel_b.if_recv(), default) is default
        )
        # Locks: free, and taken by the living without a wait.
        got["mutex free"] = p.mutex.try_lock()
        p.mutex.unlock()
        got["rw writer gone"] = p.rw.try_rlock()  # a waiting writer would hold readers out
        p.rw.runlock()
        got["rw free"] = p.rw.try_lock()
        p.rw.unlock()
        got["semaphore whole"] = p.sem.try_acquire(2)
        p.sem.release(2)
        # A Cond's signal wakes the one living waiter.
        woke: list[bool] = []

        def cond_waiter() -> None:
            with p.cond_lock:
                p.cond.wait()
                woke.append(True)

        offset.go(cond_waiter)
        while offset.stats()["parked_by_reason"].get("sync.Cond.Wait", 0) < 1:
            offset.gosched()
        with p.cond_lock:
            p.cond.signal()
        while not woke:
            gotime.sleep(gotime.MILLISECOND)  # a dead waiter took the signal: a deadlock here
        got["cond signal reached the living"] = woke == [True]
        # A WaitGroup's done wakes a living waiter.
        done: list[bool] = []

        def wg_waiter() -> None:
            p.wg.wait()
            done.append(True)

        offset.go(wg_waiter)
        p.wg.done()
        while not done:
            gotime.sleep(gotime.MILLISECOND)
        got["wait group"] = done == [True]
        return got

    got = offset.run(main)
    assert got == {
        "send finds no receiver": True,
        "recv finds no sender": True,
        "full keeps its one item": ("buffered", True),
        "select's cases gone": True,
        "mutex free": True,
        "rw writer gone": True,
        "rw free": True,
        "semaphore whole": True,
        "cond signal reached the living": True,
        "wait group": True,
    }


THREADING_CHILD = """
import json, sys, faulthandler
faulthandler.dump_traceback_later(40, exit=True)
import offset
offset.patch_all()
import queue, threading, time

lock, rlock = threading.Lock(), threading.RLock()
cond = threading.Condition()
event = threading.Event()
sem = threading.Semaphore(1)
q = queue.Queue()
full = queue.Queue(1)
full.put("buffered")
finallies = []

def waiter(name, fn):
    try:
        fn()
    finally:
        finallies.append(name)

def holds(name, lk):
    with lk:
        time.sleep(3600)

def cond_wait():
    with cond:
        cond.wait()

def main():
    offset.go(holds, "lock", lock)
    offset.go(holds, "rlock", rlock)
    offset.go(holds, "semaphore", sem)
    waits = {
        "lock": lock.acquire, "rlock": rlock.acquire, "semaphore": sem.acquire, "cond": cond_wait,
        "event": event.wait, "get": q.get, "put to full": lambda: full.put("lost?"),
    }
    for name, fn in waits.items():
        offset.go(waiter, name, fn)
    while offset.stats()["parked"] < 3 + len(waits):
        offset.gosched()
    raise RuntimeError("boom")

try:
    offset.run(main)
except RuntimeError as e:
    outcome = str(e)

def later():
    got = {}
    got["free"] = [lock.acquire(False), rlock.acquire(False), sem.acquire(False)]
    lock.release(); rlock.release(); sem.release()
    woke = []
    def cond_waiter():
        with cond:
            cond.wait(10)
            woke.append("cond")
    def getter():
        woke.append(q.get(timeout=10))
    def event_waiter():
        woke.append("event" if event.wait(10) else "event timed out")
    for fn in (cond_waiter, getter, event_waiter):
        offset.go(fn)
    while offset.stats()["parked"] < 3:
        offset.gosched()
    with cond:
        cond.notify()
    q.put("item")
    event.set()
    while len(woke) < 3:
        time.sleep(0.001)
    got["woke"] = sorted(woke)
    got["full"] = [full.get_nowait(), full.empty()]
    return got

print(json.dumps({"outcome": outcome, "finallies": sorted(finallies), "later": offset.run(later)}))
"""


def test_stopped_goroutines_leave_nothing_in_patched_threading_queues() -> None:
    root = Path(offset.__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFSET_")}
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    p = subprocess.run(
        [sys.executable, "-c", THREADING_CHILD], env=env, capture_output=True, text=True, timeout=60, cwd=root
    )
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.splitlines()[-1])
    assert r["outcome"] == "boom"
    assert r["finallies"] == sorted(["lock", "rlock", "semaphore", "cond", "event", "get", "put to full"])
    assert r["later"] == {"free": [True, True, True], "woke": ["cond", "event", "item"], "full": ["buffered", True]}
