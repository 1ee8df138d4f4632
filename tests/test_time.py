"""offset.time: sleep, Timer, Ticker, After, Tick, AfterFunc (Go 1.23 semantics).

Go's src/time/sleep_test.go and tick_test.go are the model: a timer fires
no earlier than asked; Stop and Reset report whether the timer was
pending and, since Go 1.23, leave no stale value in the channel; a Ticker
drops ticks for a slow receiver. Timing is checked with generous bounds
only (a loaded CI machine may be late, never early). Timers made in a
goroutine live in their scheduler's heap, which the tests inspect; timers
made outside any goroutine fall back to threads.
"""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from support import heap_len, poll, run_example

from offset import DeadlockError, default, go, gosched, makechan, run, select, sync, time
from offset._core import current_goroutine

MS = time.MILLISECOND
SLACK = 2 * time.SECOND  # how late anything may be on a loaded machine
TIMEOUT = 10.0


def nothing_within(c: Any, d: int) -> bool:
    """True if nothing arrives on ``c`` for ``d`` ns."""
    return select(c.if_recv(), time.After(d).if_recv()) != c.if_recv()


def in_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a new plain thread and return its result.

    A goroutine waits for it by polling, so its scheduler keeps running
    (the thread may need this scheduler's timers).
    """
    out: list[Any] = []
    err: list[BaseException] = []

    def body() -> None:
        try:
            out.append(fn())
        except BaseException as e:  # noqa: BLE001 - re-raised below
            err.append(e)

    t = threading.Thread(target=body, daemon=True)
    t.start()
    if current_goroutine() is not None:
        poll(lambda: not t.is_alive(), "the thread")
    t.join(TIMEOUT)
    assert not t.is_alive(), "thread did not finish in time"
    if err:
        raise err[0]
    return out[0] if out else None


# -- durations, sleep, clock ------------------------------------------------------


def test_duration_constants() -> None:
    assert time.NANOSECOND == 1
    assert time.MICROSECOND == 1000
    assert time.MILLISECOND == 10**6
    assert time.SECOND == 10**9
    assert time.MINUTE == 60 * 10**9
    assert time.HOUR == 3600 * 10**9


def test_sleep_in_goroutine_and_thread() -> None:
    def main() -> int:
        t0 = time.now()
        time.sleep(20 * MS)
        return time.since(t0)

    took = run(main)
    assert took is not None and 20 * MS <= took < 20 * MS + SLACK
    t0 = time.now()
    time.sleep(10 * MS)  # outside a goroutine: blocks the thread
    assert time.since(t0) >= 10 * MS
    time.sleep(0)
    time.sleep(-5)


def test_sleepers_run_concurrently() -> None:
    def main() -> int:
        wg = sync.WaitGroup()
        t0 = time.now()
        for _ in range(1000):
            wg.go(time.sleep, 30 * MS)
        wg.wait()
        return time.since(t0)

    took = run(main)
    assert took is not None and 30 * MS <= took < 30 * MS + SLACK


def test_now_since_until_and_type_errors() -> None:
    t = time.now()
    assert time.since(t) >= 0
    assert time.until(t + time.SECOND) > 0
    for bad in (1.5, "1", True, None):
        with pytest.raises(TypeError, match="must be an int of nanoseconds"):
            time.sleep(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="must be an int of nanoseconds"):
            time.Timer(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="must be an int of nanoseconds"):
            time.Ticker(bad)  # type: ignore[arg-type]


def test_timer_takes_an_int_subclass_as_its_duration() -> None:
    class Nanos(int):
        pass

    def main() -> None:
        t = time.Timer(Nanos(time.MILLISECOND))
        assert isinstance(t.c.recv(), int)
        assert not t.stop()

    run(main)


# -- Timer --------------------------------------------------------------------------


def test_timer_fires_after_d_with_now() -> None:
    def main() -> None:
        t0 = time.now()
        t = time.Timer(20 * MS)
        v = t.c.recv()
        assert v is not None and 20 * MS <= v - t0 < 20 * MS + SLACK
        assert not t.stop()  # fired and received
        assert heap_len() == 0

    run(main)


def test_timer_channel_is_synchronous() -> None:
    # Go 1.23: len and cap of a timer channel are 0.
    def main() -> None:
        t = time.Timer(0)
        assert t.c.cap == 0 and len(t.c) == 0
        t.c.recv()

    run(main)


def test_timer_stop_before_it_fires() -> None:
    def main() -> None:
        t = time.Timer(30 * MS)
        c = t.c  # the channel puts the timer in the heap
        assert heap_len() == 1
        assert t.stop()
        assert heap_len() == 0  # gone from the heap, not just marked
        assert not t.stop()
        assert nothing_within(c, 60 * MS)

    run(main)


def test_timer_stop_after_fire_leaves_no_stale_value() -> None:
    # Go 1.23: "any receive from t.C after Stop has returned is guaranteed
    # to block rather than receive a stale time value".
    def main() -> None:
        t = time.Timer(1 * MS)
        time.sleep(20 * MS)  # it fires while nobody receives
        assert t.stop()  # the unreceived value counts as pending
        assert select(t.c.if_recv(), default) is default
        assert not t.stop()

    run(main)


def test_timer_reset() -> None:
    def main() -> None:
        t = time.Timer(time.HOUR)
        t0 = time.now()
        assert t.reset(20 * MS)  # was pending
        v = t.c.recv()
        assert v is not None and v - t0 >= 20 * MS
        assert not t.reset(10 * MS)  # fired and received: not pending
        t.c.recv()
        t.stop()
        assert not t.reset(5 * MS)  # stopped
        t.c.recv()
        assert heap_len() == 0

    run(main)


def test_timer_reset_discards_stale_value() -> None:
    def main() -> None:
        t = time.Timer(1 * MS)
        time.sleep(20 * MS)  # fired, unreceived
        t1 = time.now()
        assert t.reset(30 * MS)
        assert select(t.c.if_recv(), default) is default
        v = t.c.recv()
        assert v is not None and v - t1 >= 30 * MS  # the new expiry, not the old one

    run(main)


def test_timer_received_by_another_scheduler_and_a_thread() -> None:
    def main() -> None:
        a, b = time.Timer(10 * MS), time.Timer(10 * MS)
        got: list[Any] = []

        def other_sched() -> None:
            got.append(a.c.recv())

        th = threading.Thread(target=run, args=(other_sched,), daemon=True)
        th.start()
        got.append(in_thread(b.c.recv))
        poll(lambda: len(got) == 2, "both receives")
        poll(lambda: not th.is_alive(), "the other scheduler")

    run(main)


def test_timer_costs_no_thread_in_a_goroutine() -> None:
    def main() -> None:
        before = threading.active_count()
        ts = [time.Timer(time.HOUR) for _ in range(100)]
        ks = [time.Ticker(time.HOUR) for _ in range(100)]
        fs = [time.AfterFunc(time.HOUR, print) for _ in range(100)]
        assert threading.active_count() == before
        assert heap_len() == 100  # channel timers wait for their channel
        for t in ts + ks:
            assert t.c is not None
        assert threading.active_count() == before
        assert heap_len() == 300
        for t in ts + fs:
            t.stop()
        for k in ks:
            k.stop()
        assert heap_len() == 0

    run(main)


def test_many_timers_started_and_stopped_leave_the_heap_empty() -> None:
    # Yields now and then: the suite fails a goroutine that holds its
    # thread for long, and a loaded machine makes 100,000 timers slow.
    def main() -> None:
        n = 100_000
        ts = []
        for i in range(n):
            t = time.Timer(time.HOUR + i)
            assert t.c is not None  # in the heap from now on
            ts.append(t)
            if i % 5000 == 0:
                gosched()
        assert heap_len() == n
        for i, t in enumerate(ts):
            if i % 2 == 0:
                assert t.stop()
        assert heap_len() == n // 2
        for i, t in enumerate(ts):
            if i % 2:
                assert t.stop()
            if i % 5000 == 0:
                gosched()
        assert heap_len() == 0
        for i in range(n):
            time.Timer(time.HOUR).stop()
            t = time.Timer(time.HOUR)
            assert t.c is not None
            t.stop()
            if i % 5000 == 0:
                gosched()
        assert heap_len() == 0

    run(main)


def test_stopped_and_fired_timers_are_freed_at_once() -> None:
    # "Stopped timers are gone, not just marked": no cycle keeps a timer
    # that has left the heap alive until the garbage collector runs.
    def main() -> None:
        gc.disable()
        try:
            t = time.Timer(time.HOUR)
            r = weakref.ref(t)
            t.stop()
            del t
            assert r() is None
            t = time.Timer(0)
            r = weakref.ref(t)
            t.c.recv()
            del t
            assert r() is None
            k = time.Ticker(MS)
            r = weakref.ref(k)
            k.c.recv()
            k.stop()
            del k
            assert r() is None
            f = time.AfterFunc(time.HOUR, print)
            r = weakref.ref(f)
            f.reset(time.HOUR)
            f.stop()
            del f
            assert r() is None
        finally:
            gc.enable()

    run(main)


def test_timers_fire_in_deadline_order() -> None:
    def main() -> list[int]:
        order: list[int] = []
        wg = sync.WaitGroup()
        for i in (5, 1, 4, 2, 3):

            def wait(i: int = i) -> None:
                time.Timer(i * 20 * MS).c.recv()
                order.append(i)

            wg.go(wait)
        wg.wait()
        return order

    assert run(main) == [1, 2, 3, 4, 5]


def test_waiting_on_a_stopped_timer_is_a_deadlock() -> None:
    def main() -> None:
        t = time.Timer(time.HOUR)
        t.stop()
        t.c.recv()

    with pytest.raises(DeadlockError, match="chan receive"):
        run(main)


def test_pending_timer_does_not_keep_run_alive_without_main() -> None:
    go(lambda: time.Timer(time.HOUR))
    t0 = time.now()
    run()
    assert time.since(t0) < SLACK


# -- stop and reset from another thread ---------------------------------------------


def test_timer_stopped_from_a_plain_thread() -> None:
    def main() -> None:
        t = time.Timer(40 * MS)
        assert in_thread(t.stop) is True
        # No value: the owner sees the stop before firing, or drops the entry.
        assert select(t.c.if_recv(), default) is default
        poll(lambda: heap_len() == 0, "the owner to drop the entry")
        assert nothing_within(t.c, 80 * MS)

    run(main)


def test_timer_reset_from_a_plain_thread() -> None:
    def main() -> None:
        t = time.Timer(time.HOUR)
        t0 = time.now()
        assert in_thread(lambda: t.reset(20 * MS)) is True
        v = t.c.recv()
        assert v is not None and 20 * MS <= v - t0 < 20 * MS + SLACK

    run(main)


def test_cross_thread_stop_races_leave_no_stale_value() -> None:
    # Stop from a thread while the owner's timer is due about now: whatever
    # stop() returns, no value may remain or arrive afterwards.
    def main() -> None:
        for i in range(30):
            t = time.Timer((i % 3) * 100 * time.MICROSECOND)
            time.sleep((i % 4) * 100 * time.MICROSECOND)
            was_pending = in_thread(t.stop)
            assert select(t.c.if_recv(), default) is default
            poll(lambda: heap_len() == 0, "the entry to go")
            assert select(t.c.if_recv(), default) is default
            assert not t.stop()
            assert isinstance(was_pending, bool)

    run(main)


# -- Ticker -------------------------------------------------------------------------


def test_ticker_ticks_every_period() -> None:
    def main() -> None:
        k = time.Ticker(10 * MS)
        t0 = time.now()
        ticks = [k.c.recv() for _ in range(5)]
        k.stop()
        assert time.since(t0) >= 50 * MS
        assert ticks == sorted(ticks)
        assert heap_len() == 0

    run(main)


def test_ticker_drops_ticks_for_a_slow_receiver() -> None:
    def main() -> None:
        k = time.Ticker(5 * MS)
        time.sleep(60 * MS)  # about 12 ticks pass unreceived
        late = time.now()
        first = select(k.c.if_recv(), default)
        assert first is not default  # one tick waited
        assert first.value is not None and first.value <= late
        assert select(k.c.if_recv(), default) is default  # the rest were dropped
        nxt = k.c.recv()
        assert nxt is not None and nxt > late
        k.stop()

    run(main)


def test_ticker_stop_and_reset_leave_no_stale_tick() -> None:
    def main() -> None:
        k = time.Ticker(2 * MS)
        time.sleep(10 * MS)
        k.stop()
        assert select(k.c.if_recv(), default) is default
        assert nothing_within(k.c, 20 * MS)
        t0 = time.now()
        k.reset(15 * MS)
        v = k.c.recv()
        assert v is not None and v - t0 >= 15 * MS
        time.sleep(20 * MS)
        k.reset(time.HOUR)
        assert select(k.c.if_recv(), default) is default
        k.stop()
        assert heap_len() == 0

    run(main)


def test_ticker_refuses_non_positive_period() -> None:
    for d in (0, -1):
        with pytest.raises(ValueError, match=r"^non-positive interval for Ticker: 'd' must be > 0, not -?\d+$"):
            time.Ticker(d)

    def main() -> None:
        k = time.Ticker(time.SECOND)
        with pytest.raises(ValueError, match=r"^non-positive interval for Ticker\.Reset: 'd' must be > 0, not 0$"):
            k.reset(0)
        k.stop()

    run(main)


# -- After, Tick, AfterFunc ---------------------------------------------------------


def test_after_and_tick() -> None:
    def main() -> None:
        t0 = time.now()
        v = time.After(10 * MS).recv()
        assert v is not None and v - t0 >= 10 * MS
        t1 = time.now()
        c = time.Tick(5 * MS)
        assert c is not None
        a, b = c.recv(), c.recv()
        # Ticks land on the period's grid: the second is due 10 ms in.
        assert a is not None and b is not None and b > a and b - t1 >= 10 * MS
        assert time.Tick(0) is None
        assert time.Tick(-1) is None

    run(main)


def test_after_in_select_as_a_timeout() -> None:
    def main() -> None:
        never = makechan()
        ret = select(never.if_recv(), time.After(10 * MS).if_recv())
        assert ret != never.if_recv()

    run(main)


def test_afterfunc_runs_fn_in_its_own_goroutine() -> None:
    def main() -> None:
        me = current_goroutine()
        done = makechan(1)

        def fn(a: int, b: int) -> None:
            g = current_goroutine()
            done.send((a + b, g is not None and g is not me))

        t0 = time.now()
        t = time.AfterFunc(10 * MS, fn, 1, 2)
        assert done.recv() == (3, True)
        assert time.since(t0) >= 10 * MS
        assert not t.stop()  # already started
        assert t.reset(time.HOUR) is False
        assert t.stop()
        assert heap_len() == 0

    run(main)


def test_afterfunc_stop_and_reset() -> None:
    ran: list[int] = []

    def main() -> None:
        t = time.AfterFunc(10 * MS, ran.append, 1)
        assert t.stop()
        assert not t.stop()
        time.sleep(30 * MS)
        assert ran == []
        t2 = time.AfterFunc(time.HOUR, ran.append, 2)
        assert t2.reset(5 * MS)
        poll(lambda: ran == [2], "the reset AfterFunc")
        assert not t2.reset(5 * MS)  # runs it again
        poll(lambda: ran == [2, 2], "the second run")
        # AfterFunc's channel never receives anything (Go's is nil).
        assert select(t2.c.if_recv(), default) is default

    run(main)


def test_afterfunc_keeps_run_without_main_alive() -> None:
    ran: list[int] = []
    go(lambda: time.AfterFunc(20 * MS, ran.append, 1))
    t0 = time.now()
    run()
    assert ran == [1]
    assert time.since(t0) >= 20 * MS


def test_afterfunc_stopped_from_a_thread_releases_run() -> None:
    # Its keepalive entry leaves the owner's heap through call_threadsafe.
    stopped: list[bool] = []

    def start() -> None:
        f = time.AfterFunc(time.HOUR, print)
        t = threading.Thread(target=lambda: stopped.append(f.stop()), daemon=True)
        t.start()

    go(start)
    t0 = time.now()
    run()
    assert stopped == [True]
    assert time.since(t0) < SLACK


def test_afterfunc_rejects_non_callable() -> None:
    with pytest.raises(TypeError, match="'fn' must be callable"):
        time.AfterFunc(MS, 42)  # type: ignore[arg-type]


# -- outside any goroutine: the threading.Timer fallback ---------------------------


def test_fallback_timer_in_a_plain_thread() -> None:
    def body() -> None:
        t0 = time.now()
        t = time.Timer(10 * MS)
        v = t.c.recv()
        assert v is not None and v - t0 >= 10 * MS
        t = time.Timer(time.HOUR)
        assert t.stop()
        assert not t.stop()
        assert t._fallback_thread is None  # its thread was cancelled
        t = time.Timer(1 * MS)
        v = t.c.recv()
        assert t.reset(10 * MS) is False
        t.c.recv()
        t = time.Timer(1 * MS)
        poll(lambda: not t._active, "the timer to fire")
        assert t.stop()  # fired but unreceived: taken back
        assert select(t.c.if_recv(), default) is default
        assert time.After(5 * MS).recv() is not None

    in_thread(body)


def test_fallback_ticker_and_afterfunc() -> None:
    def body() -> None:
        k = time.Ticker(5 * MS)
        a, b = k.c.recv(), k.c.recv()
        assert a is not None and b is not None and b > a
        k.stop()
        assert select(k.c.if_recv(), default) is default
        me = threading.current_thread()
        where: list[threading.Thread] = []
        ev = threading.Event()

        def fn() -> None:
            where.append(threading.current_thread())
            ev.set()

        time.AfterFunc(5 * MS, fn)
        assert ev.wait(TIMEOUT)
        assert where[0] is not me  # ran in the timer's own thread
        assert current_goroutine() is None

    in_thread(body)


def test_fallback_timer_received_by_a_goroutine() -> None:
    t = time.Timer(10 * MS)  # before run(): no goroutine, so a thread timer

    def main() -> Any:
        return t.c.recv()

    assert run(main) is not None


def test_goroutine_timer_stopped_after_run_returned() -> None:
    timers: list[time.Timer] = []

    def main() -> None:
        timers.append(time.Timer(time.HOUR))

    run(main)
    timers[0].stop()  # the owner's heap was cleared when run() returned; no error


# -- the example in examples/ -------------------------------------------------------


def test_example_time_ticker() -> None:
    # Go by Example: tickers, timers, timeouts. On a loaded machine a late
    # tick may be dropped, so the number of ticks is checked loosely.
    lines = run_example("time_ticker.py").splitlines()
    stop = lines.index("ticker stopped")
    assert 2 <= stop <= 3 and lines[:stop] == [f"tick {i}" for i in range(1, stop + 1)]
    assert lines[stop + 1 :] == ["timer 1 fired", "timer 2 stopped", "timeout 1"]
