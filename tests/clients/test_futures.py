"""concurrent.futures waited on from goroutines, under offset.

The work runs in a ThreadPoolExecutor's plain OS threads, where every call
is the original (its ``time.sleep`` blocks that worker thread, as it should).
What the threading area must make cooperative is the waiting:
``Future.result``, ``concurrent.futures.wait`` and ``as_completed`` called
from a goroutine park that goroutine only, and a worker thread finishing
the future wakes it.

Each test is a program run under ``python -m offset`` in a fresh
interpreter with a ticker goroutine beside the scenario (a tick every
TICK); the scenario records how long each wait took and how many ticks
the ticker got meanwhile, which must be about the wait over TICK (at least
a third of it): a wait that blocked the thread would leave the ticker
without a tick.
"""

from __future__ import annotations

import sys
from typing import Any

from .conftest import run_offset

TICK = 0.01

PRELUDE = """
import concurrent.futures, sys, threading, time, offset
from concurrent.futures import ThreadPoolExecutor, wait, as_completed, FIRST_COMPLETED, ALL_COMPLETED

ticks = [0]
running = [True]

def ticker():
    while running[0]:
        time.sleep(params["tick"])
        ticks[0] += 1

def work(i, seconds):
    time.sleep(seconds)  # in a worker thread: the original, it blocks that thread
    return i * i, threading.current_thread().name

def timed(fn, *args, **kwargs):
    # fn's outcome, how long it took and the ticks meanwhile
    t0, k0 = time.perf_counter(), ticks[0]
    try:
        value = fn(*args, **kwargs)
    except BaseException as e:
        value = e
    return value, time.perf_counter() - t0, ticks[0] - k0

offset.go(ticker)
offset.gosched()  # the ticker starts: it parks in its first sleep
"""

RESULT_FROM_10 = """
n, d = params["n"], params["seconds"]
results = offset.makechan(n)

def one(ex, i):
    results.send((i, ex.submit(work, i, d).result(timeout=10)))

with ThreadPoolExecutor(max_workers=n) as ex:
    ex.submit(work, -1, 0).result()  # a worker thread exists before the clock starts
    t0, k0 = time.perf_counter(), ticks[0]
    for i in range(n):
        offset.go(one, ex, i)
    got = dict(results.recv() for _ in range(n))
    wall, waited_ticks = time.perf_counter() - t0, ticks[0] - k0
running[0] = False
result = {
    "wall": wall, "ticks": waited_ticks,
    "ok": all(got[i][0] == i * i for i in range(n)),
    "threads": sorted({name for _, name in got.values()}),
}
"""

WAIT_AND_AS_COMPLETED = """
out = {}
with ThreadPoolExecutor(max_workers=5) as ex:
    fs = [ex.submit(work, i, d) for i, d in enumerate((0.5, 0.1, 0.3))]
    (done, not_done), secs, k = timed(wait, fs, timeout=5, return_when=FIRST_COMPLETED)
    out["first_completed"] = [sorted(fs.index(f) for f in done), sorted(fs.index(f) for f in not_done), secs, k]
    def order(rest):
        got = []
        for f in as_completed(rest, timeout=5):
            got.append([fs.index(f), f.result()[0]])
        return got
    got, secs, k = timed(order, [fs[0], fs[2]])
    out["as_completed"] = [got, secs, k]

    gs = [ex.submit(work, i, d) for i, d in enumerate((0.3, 0.4))]
    (done, not_done), secs, k = timed(wait, gs, timeout=0.1)
    out["timed_out"] = [len(done), len(not_done), secs, k]
    (done, not_done), secs, k = timed(wait, gs, timeout=5, return_when=ALL_COMPLETED)
    out["all_completed"] = [len(done), len(not_done), secs, k]
running[0] = False
result = out
"""

RESULT_TIMEOUT = """
with ThreadPoolExecutor(max_workers=1) as ex:
    f = ex.submit(work, 7, 0.5)
    e, secs, k = timed(f.result, timeout=0.1)
    raised = {
        "type": type(e).__module__ + "." + type(e).__qualname__,
        "is_futures_timeout": isinstance(e, concurrent.futures.TimeoutError),
        "is_builtin_timeout": isinstance(e, TimeoutError),
        "secs": secs, "ticks": k,
    }
    value, secs, k = timed(f.result, timeout=5)
    later = {"value": value[0], "secs": secs, "ticks": k}
running[0] = False
result = {"raised": raised, "later": later}
"""


def _ticked(secs: float, ticks: int) -> bool:
    """The ticker got at least a third of the ticks a wait of ``secs`` allows."""
    return ticks >= (secs / TICK) / 3


def test_result_from_10_goroutines_overlaps() -> None:
    n, d = 10, 0.2
    r: dict[str, Any] = run_offset(PRELUDE + RESULT_FROM_10, params={"tick": TICK, "n": n, "seconds": d})
    sequential = n * d
    print(
        f"\nFuture.result from {n} goroutines, {d} s of work each: wall {r['wall']:.3f} s vs sequential "
        f"{sequential:.1f} s ({r['wall'] / sequential:.1%}); ticker {r['ticks']} ticks of {TICK * 1000:.0f} ms"
    )
    assert r["ok"], r
    assert all(name.startswith("ThreadPoolExecutor") for name in r["threads"]), r["threads"]
    assert d <= r["wall"] < 0.5 * sequential, r
    assert _ticked(r["wall"], r["ticks"]), r


def test_wait_and_as_completed_park_only_the_caller() -> None:
    r: dict[str, Any] = run_offset(PRELUDE + WAIT_AND_AS_COMPLETED, params={"tick": TICK})
    print("\nwait/as_completed (outcome, seconds, ticks meanwhile):")
    for k, v in r.items():
        print(f"  {k}: {v}")
    done, not_done, secs, ticks = r["first_completed"]
    assert (done, not_done) == ([1], [0, 2]), r
    # The 0.1 s job started at its submit, before the clock: the two submits
    # after it (each may start a thread) come off the wait.
    assert 0.05 <= secs < 0.3, r
    assert _ticked(secs, ticks), r
    got, secs, ticks = r["as_completed"]
    assert got == [[2, 4], [0, 0]], r  # the 0.3 s job, then the 0.5 s one
    assert 0.25 <= secs < 0.7, r  # from about 0.1 s after submission to the 0.5 s job's end
    assert _ticked(secs, ticks), r
    done, not_done, secs, ticks = r["timed_out"]
    assert (done, not_done) == (0, 2), r
    assert 0.09 <= secs < 0.25, r
    assert _ticked(secs, ticks), r
    done, not_done, secs, ticks = r["all_completed"]
    assert (done, not_done) == (2, 0), r
    assert 0.2 <= secs < 0.7, r  # the 0.4 s job, 0.1 s of which the timed-out wait took
    assert _ticked(secs, ticks), r


def test_result_timeout_raises_at_the_timeout() -> None:
    r: dict[str, Any] = run_offset(PRELUDE + RESULT_TIMEOUT, params={"tick": TICK})
    raised, later = r["raised"], r["later"]
    print(f"\nFuture.result(timeout=0.1) on 0.5 s of work: {raised}; then result(): {later}")
    assert raised["is_futures_timeout"], raised
    if sys.version_info >= (3, 11):
        assert raised["type"] == "builtins.TimeoutError" and raised["is_builtin_timeout"], raised
    else:
        assert raised["type"] == "concurrent.futures._base.TimeoutError", raised
    assert 0.09 <= raised["secs"] < 0.3, raised
    assert _ticked(raised["secs"], raised["ticks"]), raised
    assert later["value"] == 49, later
    assert 0.25 <= later["secs"] < 0.6, later  # the rest of the 0.5 s
    assert _ticked(later["secs"], later["ticks"]), later
