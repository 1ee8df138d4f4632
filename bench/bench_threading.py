"""offset's threading and queue patches beside the C lock, gevent's monkey patching and threads.

Rows (issue 8; see bench/README.md):
  Lock uncontended      ``with lock: pass`` n times: offset's patched
                        threading.Lock in a goroutine; threads: the
                        unpatched threading.Lock, which is the C
                        _thread.allocate_lock; gevent: monkey-patched, in a
                        greenlet. Target: offset within 3x the C lock.
                        Under it: offset's patched Lock outside any goroutine
                        (a plain thread's cost of the patch).
  RLock uncontended     the same with threading.RLock (C: _thread.RLock).
                        Target: offset within 3x the C RLock.
  Event set+is_set      ``ev.set(); ev.is_set()`` n times on one Event.
  Queue put+get         ``q.put(i); q.get()`` n times on one queue.Queue().
  Lock contended by 100 100 goroutines / greenlets / threads each do
                        ``with lock: v = counter; time.sleep(0); counter = v + 1``
                        (the sleep(0) yields while holding the lock, so the
                        others queue on it; the final count is checked):
                        ns per increment.

Patching is process-wide, so each column runs in a fresh interpreter of its
own (``_harness.isolated``): offset after ``offset.patch_all()``, gevent
after ``gevent.monkey.patch_all()``, threads unpatched. The program in every
column is the same stdlib code; only what patched the process and how the
100 workers start (offset.go, gevent.spawn, threading.Thread) differ.

Run: ./bench/run threading   (or: python bench/bench_threading.py [--quick])
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import REPEAT, Row, Target, header, isolated, offset_builds, per_op, progress, report, size, timeit  # noqa: E402

N_UNCONTENDED = 1_000_000
N_QUEUE = 200_000
N_CONTENDED = 50_000
CONTENDERS = 100

ROWS = ("lock", "lock_outside", "rlock", "event", "queue", "contended")


# -- the workloads: the same stdlib code in every column ----------------------------
#
# Each takes the modules the column patched (or not) and runs n operations
# in the calling goroutine / greenlet / thread.


def _lock(threading: Any, n: int) -> None:
    lock = threading.Lock()
    for _ in range(n):
        with lock:
            pass


def _rlock(threading: Any, n: int) -> None:
    lock = threading.RLock()
    for _ in range(n):
        with lock:
            pass


def _event(threading: Any, n: int) -> None:
    ev = threading.Event()
    set_, is_set = ev.set, ev.is_set
    for _ in range(n):
        set_()
        is_set()


def _queue(queue: Any, n: int) -> None:
    q = queue.Queue()
    put, get = q.put, q.get
    for i in range(n):
        put(i)
        get()


def _contender(lock: Any, counter: list[int], per: int, sleep: Callable[[float], None]) -> None:
    for _ in range(per):
        with lock:
            v = counter[0]
            sleep(0)  # yield while holding it: the others queue on the lock
            counter[0] = v + 1


def _sizes(n: dict[str, int]) -> dict[str, int]:
    return {row: n["queue" if row == "queue" else "contended" if row == "contended" else "uncontended"] for row in ROWS}


# -- the columns, each in a fresh interpreter -------------------------------------


def offset_column(n: dict[str, int], repeat: int) -> dict[str, float] | None:
    """ns per operation of each row, everything patched, in goroutines.
    None if offset has no threading patch area yet."""
    import offset

    offset.patch_all()
    if not (offset.patches.is_patched("threading") and offset.patches.is_patched("queue")):
        return None
    import queue
    import threading
    import time

    def in_goroutine(body: Callable[[int], None]) -> Callable[[int], None]:
        return lambda k: offset.run(body, k)

    def contended(k: int) -> None:
        lock, counter, per = threading.Lock(), [0], k // CONTENDERS

        def main() -> None:
            done = offset.makechan(CONTENDERS)

            def worker() -> None:
                _contender(lock, counter, per, time.sleep)
                done.send(None)

            for _ in range(CONTENDERS):
                offset.go(worker)
            for _ in range(CONTENDERS):
                done.recv()

        offset.run(main)
        assert counter[0] == per * CONTENDERS, counter

    fns: dict[str, Callable[[int], None]] = {
        "lock": in_goroutine(lambda k: _lock(threading, k)),
        "lock_outside": lambda k: _lock(threading, k),  # no goroutine: the patch's pass-through
        "rlock": in_goroutine(lambda k: _rlock(threading, k)),
        "event": in_goroutine(lambda k: _event(threading, k)),
        "queue": in_goroutine(lambda k: _queue(queue, k)),
        "contended": contended,
    }
    sizes = _sizes(n)
    return {row: per_op(timeit(fn, sizes[row], repeat), sizes[row]) * 1e9 for row, fn in fns.items()}


def gevent_column(n: dict[str, int], repeat: int) -> dict[str, float]:
    """ns per operation of each row, monkey-patched, in greenlets."""
    from gevent import monkey

    monkey.patch_all()
    import queue
    import threading
    import time

    import gevent

    def in_greenlet(body: Callable[[int], None]) -> Callable[[int], None]:
        return lambda k: gevent.spawn(body, k).get()

    def contended(k: int) -> None:
        lock, counter, per = threading.Lock(), [0], k // CONTENDERS
        gevent.joinall(
            [gevent.spawn(_contender, lock, counter, per, time.sleep) for _ in range(CONTENDERS)], raise_error=True
        )
        assert counter[0] == per * CONTENDERS, counter

    fns: dict[str, Callable[[int], None]] = {
        "lock": in_greenlet(lambda k: _lock(threading, k)),
        "rlock": in_greenlet(lambda k: _rlock(threading, k)),
        "event": in_greenlet(lambda k: _event(threading, k)),
        "queue": in_greenlet(lambda k: _queue(queue, k)),
        "contended": contended,
    }
    sizes = _sizes(n)
    return {row: per_op(timeit(fn, sizes[row], repeat), sizes[row]) * 1e9 for row, fn in fns.items()}


def threads_column(n: dict[str, int], repeat: int) -> dict[str, float]:
    """ns per operation of each row, unpatched (threading.Lock makes the C
    lock, _thread.LockType, threading.RLock the C _thread.RLock), in threads."""
    import _thread
    import queue
    import threading
    import time

    # (threading.Lock is _thread.allocate_lock up to 3.12, the type itself from 3.13.)
    assert type(threading.Lock()) is _thread.LockType and type(threading.RLock()) is _thread.RLock

    def contended(k: int) -> None:
        lock, counter, per = threading.Lock(), [0], k // CONTENDERS
        ts = [threading.Thread(target=_contender, args=(lock, counter, per, time.sleep)) for _ in range(CONTENDERS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert counter[0] == per * CONTENDERS, counter

    fns: dict[str, Callable[[int], None]] = {
        "lock": lambda k: _lock(threading, k),
        "rlock": lambda k: _rlock(threading, k),
        "event": lambda k: _event(threading, k),
        "queue": lambda k: _queue(queue, k),
        "contended": contended,
    }
    sizes = _sizes(n)
    return {row: per_op(timeit(fn, sizes[row], repeat), sizes[row]) * 1e9 for row, fn in fns.items()}


# -- the table ---------------------------------------------------------------------


def main() -> None:
    header("threading")
    n = {
        "uncontended": size(N_UNCONTENDED),
        "queue": size(N_QUEUE),
        "contended": max(CONTENDERS, size(N_CONTENDED) // CONTENDERS * CONTENDERS),
    }
    cols: dict[str, dict[str, float] | None] = {}
    for col, pure in offset_builds():
        progress(f"{col} (a fresh interpreter) ...")
        cols[col] = isolated(offset_column, n, REPEAT, pure=pure)
    for col, fn in (("gevent", gevent_column), ("threads", threads_column)):
        progress(f"{col} (a fresh interpreter) ...")
        cols[col] = isolated(fn, n, REPEAT)
    if cols["offset"] is None:
        print("offset has no threading/queue patch area yet (offset.patches.is_patched('threading') is False):")
        print("the offset column is left out.\n")

    def res(row: str) -> dict[str, float]:
        return {col: r[row] for col, r in cols.items() if r is not None and row in r}

    within3 = [Target("<=3x C lock", lambda r: r["offset"] <= 3 * r["threads"])]
    u, q, c = n["uncontended"], n["queue"], n["contended"]
    rows = [
        Row(
            f"Lock `with lock:`, uncontended ({u:,}); threads: the C lock",
            "ns/op",
            res("lock"),
            lower_is_better=True,
            targets=within3,
        ),
        Row(
            "  the same, offset's Lock outside a goroutine",
            "ns/op",
            {**res("lock_outside"), "threads": res("lock")["threads"]},
            lower_is_better=True,
        ),
        Row(
            f"RLock `with lock:`, uncontended ({u:,}); threads: the C RLock",
            "ns/op",
            res("rlock"),
            lower_is_better=True,
            targets=[Target("<=3x C RLock", lambda r: r["offset"] <= 3 * r["threads"])],
        ),
        Row(f"Event set+is_set, uncontended ({u:,})", "ns/op", res("event"), lower_is_better=True),
        Row(f"queue.Queue put+get, uncontended ({q:,})", "ns/op", res("queue"), lower_is_better=True),
        Row(
            f"Lock contended by {CONTENDERS}, lock+sleep(0)+unlock ({c:,})",
            "ns/increment",
            res("contended"),
            lower_is_better=True,
        ),
    ]
    report(rows)


if __name__ == "__main__":
    main()
