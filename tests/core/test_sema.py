"""The one wait queue (offset/_core/_sema.py) and every primitive built on it.

One table of primitives, each told how to make a waiter wait, how to serve
it, and what "nothing happened" looks like afterwards. Every one must
survive a waiter that is stopped (GoroutineExit at the end of run()):

- while it waits: it leaves the queue and the primitive is as before;
- after a waker served it, before it ran: it passes on what it was given
  (a lock, units, a signal, an item), so nobody else waits for nothing.

Then the queue's own guarantees: timeouts for goroutines and threads,
FIFO order, and a wake-up that comes after its wait was given up not
resuming a later wait (G.stale).
"""

from __future__ import annotations

import threading
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import offset
from offset import context, go, makechan, run, sync
from offset._core import WaitQueue, chanlock, current_goroutine, current_scheduler
from offset.patches import queue as pqueue
from offset.patches import threading as pthreading

TIMEOUT = 10.0


def poll(cond: Callable[[], bool], what: str) -> None:
    """Wait, yielding, until ``cond()`` holds; fail after TIMEOUT."""
    deadline = _time.monotonic() + TIMEOUT
    while not cond():
        assert _time.monotonic() < deadline, f"timed out waiting for {what}"
        offset.gosched() if current_goroutine() else _time.sleep(0.001)


@dataclass
class Prim:
    """How to drive one primitive in the stopped-waiter test."""

    make: Callable[[], Any]
    hold: Callable[[Any], None]  # make the next wait block
    wait: Callable[[Any], Any]  # the blocking call a waiter makes
    serve: Callable[[Any], None]  # let exactly one waiter through
    queue: Callable[[Any], WaitQueue]  # where the waiter queues
    untouched: Callable[[Any], None]  # asserts: held as by hold(), nobody inside
    passed_on: Callable[[Any], None]  # asserts: after serve(), as if the waiter had not waited


def _mutex_free(mu: Any) -> None:
    assert mu.try_lock(), "lock was not passed on"
    mu.unlock()


def _mutex_held(mu: Any) -> None:
    assert not mu.try_lock()
    mu.unlock()
    _mutex_free(mu)


def _lock_free(lk: Any) -> None:
    assert lk.acquire(False), "lock was not passed on"
    lk.release()


def _lock_held(lk: Any) -> None:
    assert lk.locked()
    lk.release()
    _lock_free(lk)


def _rlock_still_mains(r: Any) -> None:
    # Owned by main's goroutine, which has ended holding it.
    assert r.locked() if hasattr(r, "locked") else r._held.locked()
    assert r._count == 1 and not r._is_owned()


def _rw_read_in(rw: sync.RWMutex) -> None:
    assert rw.try_rlock(), "readers are kept out"
    rw.runlock()


def _sem_units(n: int) -> Callable[[sync.Semaphore], None]:
    def check(sem: sync.Semaphore) -> None:
        assert sem.try_acquire(n), f"{n} units are not free"
        sem.release(n)

    return check


def _ctx_acquire(sem: sync.Semaphore) -> None:
    ctx, _cancel = context.with_cancel(context.background())
    sem.acquire(2, ctx=ctx)


def _wg_hold(wg: sync.WaitGroup) -> None:
    wg.add(1)


def _wg_zero(wg: sync.WaitGroup) -> None:
    assert wg._n == 0 and not wg._waiters


def _cond_make() -> sync.Cond:
    return sync.Cond(sync.Mutex())


def _cond_wait(c: sync.Cond) -> None:
    with c.locker:  # type: ignore[attr-defined]
        c.wait()


def _cond_unlocked(c: sync.Cond) -> None:
    _mutex_free(c.locker)


def _sq_hold(q: Any) -> None:
    pass


def _sq_item_left(q: Any) -> None:
    assert q.qsize() == 1 and q.get_nowait() == "item", "the item was lost"


PRIMS: dict[str, Prim] = {
    "Mutex": Prim(
        sync.Mutex,
        lambda m: m.lock(),
        lambda m: m.lock(),
        lambda m: m.unlock(),
        lambda m: m._waitq,
        _mutex_held,
        _mutex_free,
    ),
    "RWMutex.Lock": Prim(
        sync.RWMutex,
        lambda rw: rw.rlock(),
        lambda rw: rw.lock(),
        lambda rw: rw.runlock(),
        lambda rw: rw._wwait,
        lambda rw: (_rw_read_in(rw), rw.runlock(), _mutex_free(rw)),
        lambda rw: (_rw_read_in(rw), _mutex_free(rw)),
    ),
    "RWMutex.RLock": Prim(
        sync.RWMutex,
        lambda rw: rw.lock(),
        lambda rw: rw.rlock(),
        lambda rw: rw.unlock(),
        lambda rw: rw._rwait,
        lambda rw: (rw.unlock(), _mutex_free(rw)),
        _mutex_free,
    ),
    "WaitGroup": Prim(
        sync.WaitGroup,
        _wg_hold,
        lambda wg: wg.wait(),
        lambda wg: wg.done(),
        lambda wg: wg._waiters,
        lambda wg: (wg.done(), _wg_zero(wg)),
        _wg_zero,
    ),
    "Cond": Prim(
        _cond_make,
        lambda c: None,
        _cond_wait,
        lambda c: c.signal(),
        lambda c: c._waiters,
        _cond_unlocked,
        _cond_unlocked,
    ),
    "Semaphore": Prim(
        lambda: sync.Semaphore(2),
        lambda s: s.acquire(2),
        lambda s: s.acquire(2),
        lambda s: s.release(2),
        lambda s: s._waiters,
        lambda s: (s.release(2), _sem_units(2)(s)),
        _sem_units(2),
    ),
    "Semaphore+ctx": Prim(
        lambda: sync.Semaphore(2),
        lambda s: s.acquire(2),
        _ctx_acquire,
        lambda s: s.release(2),
        lambda s: s._waiters,
        lambda s: (s.release(2), _sem_units(2)(s)),
        _sem_units(2),
    ),
    "threading.Lock": Prim(
        pthreading.allocate_lock,
        lambda lk: lk.acquire(),
        lambda lk: lk.acquire(),
        lambda lk: lk.release(),
        lambda lk: lk._waitq,
        _lock_held,
        _lock_free,
    ),
    "threading.Lock+timeout": Prim(
        pthreading.allocate_lock,
        lambda lk: lk.acquire(),
        lambda lk: lk.acquire(True, 60),
        lambda lk: lk.release(),
        lambda lk: lk._waitq,
        _lock_held,
        _lock_free,
    ),
    "threading.RLock": Prim(
        pthreading.RLock,
        lambda lk: lk.acquire(),
        lambda lk: lk.acquire(),
        lambda lk: lk.release(),
        lambda lk: lk._waitq,
        _rlock_still_mains,
        _lock_free,
    ),
    "SimpleQueue": Prim(
        pqueue.SimpleQueue,
        _sq_hold,
        lambda q: q.get(),
        lambda q: q.put("item"),
        lambda q: q._getters,
        lambda q: None,
        _sq_item_left,
    ),
}


@pytest.mark.parametrize("served", [False, True], ids=["waiting", "served"])
@pytest.mark.parametrize("name", list(PRIMS))
def test_stopped_waiter(name: str, served: bool) -> None:
    p = PRIMS[name]
    obj = p.make()
    returned: list[Any] = []

    def waiter() -> None:
        returned.append(p.wait(obj))

    def main() -> None:
        p.hold(obj)
        go(waiter)
        poll(lambda: len(p.queue(obj)) == 1, "the waiter to queue")
        if served:
            p.serve(obj)  # the waiter is runnable, not run yet
        # main returns: the waiter is stopped where it is

    run(main)
    assert not returned, "the stopped waiter returned from its wait"
    assert len(p.queue(obj)) == 0, "the stopped waiter is still queued"
    (p.passed_on if served else p.untouched)(obj)


def test_cond_wait_leaves_the_queue_when_unlock_raises() -> None:
    class Bad:
        def lock(self) -> None:
            pass

        def unlock(self) -> None:
            raise ValueError("unlock failed")

    c = sync.Cond(Bad())
    got: list[Any] = []

    def main() -> None:
        with pytest.raises(ValueError):
            c.wait()
        assert len(c._waiters) == 0
        ch = makechan()
        c.signal()  # must not wake main: it waits on ch now
        go(lambda: ch.send("sent"))
        got.append(ch.recv())

    run(main)
    assert got == ["sent"]


def test_late_wakeup_of_an_abandoned_wait_resumes_nothing() -> None:
    """A waker took the waiter off the queue but its ready() comes only after
    the wait ended in an exception: the goroutine's next wait ignores it."""
    q = WaitQueue()
    events: list[str] = []

    class Stop(Exception):
        pass

    def main() -> None:
        ch = makechan()
        s = current_scheduler()
        me = current_goroutine()

        def waker() -> None:
            chanlock.acquire()
            w = q.serve()  # served: main now owns one wake-up...
            chanlock.release()
            assert w is not None and w.parker is me
            s.interrupt(Stop())  # ...but is interrupted before it comes
            offset.time.sleep(offset.time.MILLISECOND)  # the loop delivers it
            w.ready()  # the late wake-up
            events.append("late ready")
            offset.time.sleep(offset.time.MILLISECOND)
            ch.send("value")

        go(waker)
        chanlock.acquire()
        try:
            q.park("test")
        except Stop:
            events.append("interrupted")
        events.append(f"recv {ch.recv()}")  # must not return on the late ready

    run(main)
    assert events == ["interrupted", "late ready", "recv value"]


@pytest.mark.parametrize("where", ["goroutine", "thread"])
def test_timeout_then_served_later(where: str) -> None:
    lk = pthreading.allocate_lock()
    lk.acquire()
    results: list[Any] = []

    def waiter() -> None:
        t0 = _time.monotonic()
        results.append(lk.acquire(True, 0.05))
        results.append(_time.monotonic() - t0 >= 0.05)
        results.append(lk.acquire(True, TIMEOUT))

    if where == "goroutine":

        def main() -> None:
            go(waiter)
            offset.time.sleep(100 * offset.time.MILLISECOND)
            lk.release()
            poll(lambda: len(results) == 3, "the waiter")

        run(main)
    else:
        t = threading.Thread(target=waiter)
        t.start()
        _time.sleep(0.1)
        lk.release()
        t.join(TIMEOUT)
    assert results == [False, True, True]
    assert len(lk._waitq) == 0 and lk.locked()


def test_goroutines_served_in_fifo_order_then_threads() -> None:
    """Goroutines queue and are handed the lock in order; a plain thread
    waits in the C lock itself and gets it once no goroutine is queued."""
    lk = pthreading.allocate_lock()
    order: list[str] = []

    def take(name: str) -> None:
        with lk:
            order.append(name)

    def main() -> None:
        lk.acquire()
        t = threading.Thread(target=take, args=("thread",), daemon=True)
        t.start()
        for i in range(4):
            go(take, f"g{i}")
            poll(lambda: len(lk._waitq) == i + 1, "goroutine waiter")
        lk.release()
        poll(lambda: len(order) == 5, "every waiter")
        t.join(TIMEOUT)

    run(main)
    assert [n for n in order if n != "thread"] == ["g0", "g1", "g2", "g3"]
    assert "thread" in order


def test_rlock_is_owned_per_goroutine() -> None:
    r = pthreading.RLock()
    inside: list[int] = []
    seen: list[int] = []

    def worker(n: int) -> None:
        with r:
            with r:
                inside.append(n)
                seen.append(len(inside))
                offset.gosched()
                inside.remove(n)

    def main() -> None:
        wg = sync.WaitGroup()
        for i in range(5):
            wg.go(worker, i)
        wg.wait()

    run(main)
    assert seen == [1] * 5
    with pytest.raises(RuntimeError, match="cannot release un-acquired lock"):
        r.release()
