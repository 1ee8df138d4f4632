"""offset's standard kit (offset.sync, offset.time) beside gevent's nearest equivalents.

Rows (issue 3, point 6):
  mutex uncontended     lock+unlock in one goroutine; gevent.lock.Semaphore
                        acquire+release; threading.Lock as a reference
  mutex contended 100   100 goroutines each lock, yield, unlock; gevent: 100
                        greenlets on a Semaphore(1) with gevent.sleep(0)
  waitgroup             100,000 goroutines add/go/done then wait; gevent:
                        gevent.pool.Group spawn + join
  sleepers              100,000 goroutines in time.sleep(200 ms) at once:
                        wall time for all (against the 200 ms slept), and
                        resident memory per sleeper (fresh interpreter);
                        gevent: gevent.sleep in a Group
  timers start+stop     100,000 Timers started (all pending at once), then
                        all stopped; gevent: loop.timer(...).start(cb), stop().
                        Their channels are never taken, so (Go 1.23's lazy
                        channel timers) they never enter the heap
  timers with channel   the same, each Timer's channel taken (t.c) before it
                        is stopped: the heap path, as a timer that is waited on
  afterfunc start+stop  the same with time.AfterFunc (a callback timer, like
                        gevent's)
  pending timer memory  100,000 pending Timers with their channel taken
                        (in the heap), resident memory per timer

Run: ./bench/run kit   (or: python bench/bench_kit.py [--quick])
"""

from __future__ import annotations

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gevent  # noqa: E402
import gevent.lock  # noqa: E402
import gevent.pool  # noqa: E402
from _harness import Row, Target, header, isolated_each, measure, memory_probe, report, size  # noqa: E402

from offset import go, gosched, run, sync, time  # noqa: E402

N_UNCONTENDED = 1_000_000
N_CONTENDED = 200_000
CONTENDERS = 100
N_WAITGROUP = 100_000
N_SLEEPERS = 100_000
SLEEP_MS = 200
N_TIMERS = 100_000


def _noop() -> None:
    pass


# -- 1. uncontended Mutex lock+unlock -------------------------------------------


def offset_mutex_uncontended(n: int) -> None:
    mu = sync.Mutex()

    def main() -> None:
        lock, unlock = mu.lock, mu.unlock
        for _ in range(n):
            lock()
            unlock()

    run(main)


def gevent_mutex_uncontended(n: int) -> None:
    sem = gevent.lock.Semaphore()
    acquire, release = sem.acquire, sem.release
    for _ in range(n):
        acquire()
        release()


def threads_mutex_uncontended(n: int) -> None:
    lk = threading.Lock()
    acquire, release = lk.acquire, lk.release
    for _ in range(n):
        acquire()
        release()


# -- 2. Mutex contended by 100 goroutines ---------------------------------------


def offset_mutex_contended(n: int) -> None:
    mu = sync.Mutex()
    per = n // CONTENDERS

    def worker() -> None:
        lock, unlock = mu.lock, mu.unlock
        for _ in range(per):
            lock()
            gosched()  # hold it across a switch: the others queue up
            unlock()

    def main() -> None:
        wg = sync.WaitGroup()
        for _ in range(CONTENDERS):
            wg.go(worker)
        wg.wait()

    run(main)


def gevent_mutex_contended(n: int) -> None:
    sem = gevent.lock.Semaphore()
    per = n // CONTENDERS
    yield_ = gevent.sleep

    def worker() -> None:
        acquire, release = sem.acquire, sem.release
        for _ in range(per):
            acquire()
            yield_(0)
            release()

    group = gevent.pool.Group()
    for _ in range(CONTENDERS):
        group.spawn(worker)
    group.join()


# -- 3. WaitGroup over 100,000 goroutines ----------------------------------------


def offset_waitgroup(n: int) -> None:
    def main() -> None:
        wg = sync.WaitGroup()
        add, done = wg.add, wg.done
        for _ in range(n):
            add(1)
            go(done)
        wg.wait()

    run(main)


def gevent_waitgroup(n: int) -> None:
    group = gevent.pool.Group()
    spawn = group.spawn
    for _ in range(n):
        spawn(_noop)
    group.join()


# -- 4. 100,000 concurrent sleepers: wall time, memory --------------------------


def offset_sleepers(n: int) -> None:
    d = SLEEP_MS * time.MILLISECOND

    def main() -> None:
        wg = sync.WaitGroup()
        done = wg.done
        sleep = time.sleep

        def sleeper() -> None:
            sleep(d)
            done()

        wg.add(n)
        for _ in range(n):
            go(sleeper)
        wg.wait()

    run(main)


def gevent_sleepers(n: int) -> None:
    d = SLEEP_MS / 1000
    group = gevent.pool.Group()
    spawn, sleep = group.spawn, gevent.sleep
    for _ in range(n):
        spawn(sleep, d)
    group.join()


def offset_sleepers_memory(n: int) -> float:
    """KiB per goroutine parked in time.sleep."""
    started = 0

    def sleeper() -> None:
        nonlocal started
        started += 1
        time.sleep(time.HOUR)

    def main() -> float:
        probe = memory_probe()
        base = probe()
        for _ in range(n):
            go(sleeper)
        while started < n:
            gosched()
        return (probe() - base) / n / 1024

    result = run(main)
    assert result is not None
    return result


def gevent_sleepers_memory(n: int) -> float:
    """KiB per greenlet parked in gevent.sleep."""
    started = 0

    def sleeper() -> None:
        nonlocal started
        started += 1
        gevent.sleep(3600)

    gevent.sleep(0)  # make the hub before the baseline
    probe = memory_probe()
    base = probe()
    for _ in range(n):
        gevent.spawn(sleeper)
    while started < n:
        gevent.sleep(0)
    return (probe() - base) / n / 1024


# -- 5. 100,000 timers started, then stopped --------------------------------------


def offset_timers(n: int) -> None:
    def main() -> None:
        Timer = time.Timer
        ts = [Timer(time.HOUR) for _ in range(n)]
        for t in ts:
            t.stop()

    run(main)


def offset_timers_chan(n: int) -> None:
    def main() -> None:
        Timer = time.Timer
        ts = [Timer(time.HOUR) for _ in range(n)]
        for t in ts:
            t.c  # noqa: B018  (taking the channel puts the timer in the heap)
        for t in ts:
            t.stop()

    run(main)


def offset_afterfunc(n: int) -> None:
    def main() -> None:
        AfterFunc = time.AfterFunc
        ts = [AfterFunc(time.HOUR, _noop) for _ in range(n)]
        for t in ts:
            t.stop()

    run(main)


def gevent_timers(n: int) -> None:
    timer = gevent.get_hub().loop.timer
    ts = []
    append = ts.append
    for _ in range(n):
        t = timer(3600.0)
        t.start(_noop)
        append(t)
    for t in ts:
        t.stop()


def offset_timers_memory(n: int) -> float:
    """KiB per pending time.Timer with its channel taken (the Timer, its heap entry and channel)."""

    def main() -> float:
        probe = memory_probe()
        base = probe()
        ts = [time.Timer(time.HOUR) for _ in range(n)]
        for t in ts:
            t.c  # noqa: B018
        used = probe() - base
        for t in ts:
            t.stop()
        return used / n / 1024

    result = run(main)
    assert result is not None
    return result


def gevent_timers_memory(n: int) -> float:
    """KiB per started gevent loop.timer."""
    timer = gevent.get_hub().loop.timer
    probe = memory_probe()
    base = probe()
    ts = []
    for _ in range(n):
        t = timer(3600.0)
        t.start(_noop)
        ts.append(t)
    used = probe() - base
    for t in ts:
        t.stop()
    return used / n / 1024


# -- the table ---------------------------------------------------------------------


def main() -> None:
    header("kit")
    rows = []

    n = size(N_UNCONTENDED)
    res = measure(
        {"offset": offset_mutex_uncontended, "gevent": gevent_mutex_uncontended, "threads": threads_mutex_uncontended},
        n,
        unit="ns",
        label="mutex uncontended",
    )
    rows.append(
        Row(
            f"Mutex lock+unlock, uncontended ({n:,})",
            "ns/pair",
            res,
            lower_is_better=True,
            targets=[Target("<=gevent", lambda r: r["offset"] <= r["gevent"])],  # issue 11
        )
    )

    n = size(N_CONTENDED) // CONTENDERS * CONTENDERS
    res = measure(
        {"offset": offset_mutex_contended, "gevent": gevent_mutex_contended}, n, unit="ns", label="mutex contended"
    )
    rows.append(
        Row(
            f"Mutex contended by {CONTENDERS} ({n:,})",
            "ns/lock+yield+unlock",
            res,
            lower_is_better=True,
            targets=[Target("<=gevent", lambda r: r["offset"] <= r["gevent"])],
        )
    )

    n = size(N_WAITGROUP)
    res = measure({"offset": offset_waitgroup, "gevent": gevent_waitgroup}, n, label="waitgroup")
    rows.append(
        Row(
            f"WaitGroup over {n:,} goroutines",
            "goroutines/s",
            res,
            targets=[Target(">=gevent", lambda r: r["offset"] >= r["gevent"])],
        )
    )

    n = size(N_SLEEPERS)
    res = measure({"offset": offset_sleepers, "gevent": gevent_sleepers}, n, unit="ms", label="sleepers")
    rows.append(
        Row(
            f"{n:,} sleepers of {SLEEP_MS} ms, wall",
            "ms",
            res,
            lower_is_better=True,
            targets=[Target(">=1.5x gevent", lambda r: r["gevent"] >= 1.5 * r["offset"])],  # issue 11
        )
    )
    res = isolated_each(
        {impl: globals()[f"{impl}_sleepers_memory"] for impl in ("offset", "gevent")}, n, label="sleeper memory"
    )
    rows.append(
        Row(
            f"{n:,} sleepers, memory",
            "KiB/sleeper",
            res,
            lower_is_better=True,
            fmt="{:.2f}",
            words=("smaller", "larger"),
        )
    )

    n = size(N_TIMERS)
    res = measure({"offset": offset_timers, "gevent": gevent_timers}, n, unit="ns", label="timers")
    rows.append(
        Row(
            f"{n:,} Timers started, then stopped",
            "ns/timer",
            res,
            lower_is_better=True,
            targets=[Target("<=gevent", lambda r: r["offset"] <= r["gevent"])],  # issue 11
        )
    )
    res = measure({"offset": offset_timers_chan, "gevent": gevent_timers}, n, unit="ns", label="timers with c")
    rows.append(Row(f"{n:,} Timers, channel taken, then stopped", "ns/timer", res, lower_is_better=True))
    res = measure({"offset": offset_afterfunc, "gevent": gevent_timers}, n, unit="ns", label="afterfunc")
    rows.append(Row(f"{n:,} AfterFuncs started, then stopped", "ns/timer", res, lower_is_better=True))
    res = isolated_each(
        {impl: globals()[f"{impl}_timers_memory"] for impl in ("offset", "gevent")}, n, label="timer memory"
    )
    rows.append(
        Row(
            f"{n:,} pending timers, memory",
            "KiB/timer",
            res,
            lower_is_better=True,
            fmt="{:.2f}",
            words=("smaller", "larger"),
        )
    )

    report(rows)


if __name__ == "__main__":
    main()
