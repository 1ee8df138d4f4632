"""time.sleep under the patch layer: a scheduler timer, never a thread."""

from __future__ import annotations

import pytest

from .conftest import run_child

TEN_THOUSAND = """
import child; child.start()
import offset; offset.patch_all()
import threading, time
done = []
def sleeper():
    time.sleep(0.2)
    done.append(1)
def main():
    t0 = time.monotonic()
    for _ in range(10_000):
        offset.go(sleeper)
    while len(done) < 10_000:
        time.sleep(0.01)
    return time.monotonic() - t0
took = offset.run(main)
child.report({"took": took, "threads": threading.active_count()})
"""


def test_ten_thousand_sleepers_take_about_one_sleep() -> None:
    r = run_child(TEN_THOUSAND)
    assert 0.2 <= r["took"] < 2.0
    assert r["threads"] == 1  # no thread per sleeper, nor a pool


SLEEP_ZERO = """
import child; child.start()
import offset; offset.patch_all()
import time
order = []
def worker(name):
    for i in range(3):
        order.append(f"{name}{i}")
        time.sleep(0)
def main():
    offset.go(worker, "a")
    offset.go(worker, "b")
    for _ in range(1000):  # each turn of main's lets both workers run once
        if len(order) == 6:
            break
        offset.gosched()
offset.run(main)
child.report(order)
"""


@pytest.mark.order_dependent(
    "two goroutines that each yield alternate only in Go's order (gosched puts the caller at the tail "
    "of the FIFO run queue): under a seed the yielder may be picked again"
)
def test_sleep_zero_yields() -> None:
    order = run_child(SLEEP_ZERO)
    assert sorted(order) == ["a0", "a1", "a2", "b0", "b1", "b2"]
    # Each sleep(0) lets the other goroutine run: they alternate.
    assert all(order[i][0] != order[i + 1][0] for i in range(len(order) - 1))


ERRORS = """
import child; child.start()
import decimal, fractions, time
def cases():
    class F(float): pass
    class I:
        def __index__(self): return 0
    return {
        "negative": child.outcome(lambda: time.sleep(-1)),
        "nan": child.outcome(lambda: time.sleep(float("nan"))),
        "inf": child.outcome(lambda: time.sleep(float("inf"))),
        "huge": child.outcome(lambda: time.sleep(2**70)),
        "str": child.outcome(lambda: time.sleep("1")),
        "none": child.outcome(lambda: time.sleep(None)),
        "decimal": child.outcome(lambda: time.sleep(decimal.Decimal("0.01"))),
        "fraction": child.outcome(lambda: time.sleep(fractions.Fraction(1, 100))),
        "no_args": child.outcome(lambda: time.sleep()),
        "two_args": child.outcome(lambda: time.sleep(1, 2)),
        "keyword": child.outcome(lambda: time.sleep(secs=0)),
        "float_subclass": child.outcome(lambda: time.sleep(F(0.001))),
        "bool": child.outcome(lambda: time.sleep(False)),
        "index": child.outcome(lambda: time.sleep(I())),
        "int": child.outcome(lambda: time.sleep(0)),
    }
if MODE == "patched":
    import offset
    offset.patch_all()
    result = offset.run(cases)
else:
    result = cases()
child.report(result)
"""


def test_errors_and_arguments_match_unpatched() -> None:
    plain = run_child("MODE = 'plain'\n" + ERRORS)
    patched = run_child("MODE = 'patched'\n" + ERRORS)
    assert patched == plain
    assert plain["negative"] == ["raise", "ValueError", "sleep length must be non-negative", None, None]
    assert plain["keyword"][:3] == ["raise", "TypeError", "time.sleep() takes no keyword arguments"]


THREAD_AND_BEFORE_RUN = """
import child; child.start()
import offset; offset.patch_all()
import threading, time
out = {}
t0 = time.monotonic()
time.sleep(0.05)                       # before run(): the original, blocks
out["before_run"] = time.monotonic() - t0
ticks = []
def in_thread():
    t = time.monotonic()
    time.sleep(0.2)                    # a plain thread: the original
    out["thread"] = time.monotonic() - t
def main():
    th = threading.Thread(target=in_thread)
    th.start()
    while th.is_alive():
        time.sleep(0.01)               # goroutines keep running meanwhile
        ticks.append(1)
    th.join()
offset.run(main)
out["ticks"] = len(ticks)
child.report(out)
"""


def test_sleep_outside_goroutines_is_the_original() -> None:
    r = run_child(THREAD_AND_BEFORE_RUN)
    assert r["before_run"] >= 0.05
    assert r["thread"] >= 0.2
    assert r["ticks"] >= 5
