"""The timer core (_core/_time.py, _core/_timers.py): deadlines at the
edges of the clock, and collection of unreferenced timers (Go 1.23).

Go's src/time/sleep_test.go is the model: TestOverflowSleep and
TestNegativeDuration-like cases (a duration more negative than the clock
fires at once; a huge one is merely pending), and Go 1.23's "timers and
tickers that are no longer referenced are collected"
(TestNewTimerGC-style: make many, drop them, the heap and memory stay
flat). Collection is observed through weakrefs and the scheduler's heap
size, after ``gc.collect()`` and one pass of the loop, which reaps the
heap's dead entries.
"""

from __future__ import annotations

import gc
import threading
import tracemalloc
import weakref
from typing import Any

import pytest
from support import TIMEOUT, heap_len, settle

from offset import context, default, go, gosched, makechan, run, select, time

MS = time.MILLISECOND
NEVER = (1 << 63) - 1  # Go's maxWhen as a duration: pending for good


def reap() -> None:
    """Free what is unreferenced, then let the loop take dead entries out of the heap.

    A sleep parks, so the loop runs once (gosched may switch straight to
    the next goroutine without passing through the loop).
    """
    gc.collect()
    time.sleep(1)


# -- the edges of the clock ---------------------------------------------------------


@pytest.mark.parametrize("d", [-(1 << 63), -(1 << 100), -(1 << 62), -1, 0])
def test_after_a_hugely_negative_duration_fires_at_once(d: int) -> None:
    def main() -> None:
        assert time.After(d).recv() is not None
        t = time.Timer(d)
        assert t.c.recv() is not None
        assert not t.stop()  # fired and received
        t = time.Timer(time.HOUR)
        assert t.reset(d)
        assert t.c.recv() is not None
        ran = makechan(1)
        time.AfterFunc(d, ran.send, 1)
        assert ran.recv() == 1

    run(main)


def test_hugely_negative_duration_in_the_thread_fallback() -> None:
    assert time.After(-(1 << 63)).recv() is not None  # outside any goroutine
    ran = threading.Event()
    time.AfterFunc(-(1 << 63), ran.set)
    assert ran.wait(TIMEOUT)


@pytest.mark.parametrize("d", [NEVER, 1 << 62, 1 << 100])
def test_a_huge_duration_is_pending_and_stops(d: int) -> None:
    def main() -> None:
        t = time.Timer(d)
        assert select(t.c.if_recv(), default) is default
        assert t.stop()
        k = time.Ticker(d)
        k.stop()
        assert time.Timer(MS).reset(d)

    run(main)


def test_loop_idle_with_only_a_far_deadline() -> None:
    # The loop's OS wait for a deadline centuries away must fit the
    # netpoller's limit (epoll's is ~24.8 days): it used to raise
    # OverflowError and end run().
    far = makechan()
    c = makechan()

    def main() -> int:
        go(lambda: far.send(time.Timer(NEVER).c.recv()))
        settle()  # parked on the far timer
        th = threading.Timer(0.05, c.send, (42,))
        th.start()
        v: int = c.recv()  # the loop sleeps in the OS until the thread sends
        th.join(TIMEOUT)
        return v

    assert run(main) == 42


def test_huge_duration_in_the_thread_fallback() -> None:
    errors: list[Any] = []
    old = threading.excepthook
    threading.excepthook = errors.append
    try:
        t = time.Timer(NEVER)  # outside any goroutine: a thread, whose wait is capped
        k = time.Ticker(NEVER)
        ok = makechan(1)
        threading.Timer(0.05, ok.send, (1,)).start()
        assert ok.recv() == 1
        assert t.stop()
        k.stop()
    finally:
        threading.excepthook = old
    assert errors == []


def test_sleep_huge_is_a_pending_timer_that_a_stop_cancels() -> None:
    def main() -> None:
        def sleeper() -> None:
            time.sleep(NEVER)

        base = heap_len()
        go(sleeper)
        settle()
        assert heap_len() == base + 1

    run(main)  # main returns; the sleeper is stopped, its timer dropped


# -- collection (Go 1.23) -----------------------------------------------------------


def test_dropped_tickers_leave_the_heap() -> None:
    # for range N { time.Tick(ms) }: each ticker is dropped at once.
    def main() -> None:
        base = heap_len()
        for _ in range(1000):
            time.Tick(MS)
        reap()
        assert heap_len() == base

    run(main)


def test_dropped_never_stopped_ticker_is_freed() -> None:
    def main() -> None:
        k = time.Ticker(MS)
        k.c.recv()  # it ticks, and its channel now refers to it (a cycle)
        r = weakref.ref(k)
        del k
        reap()
        assert r() is None

    run(main)


def test_dropped_timers_are_freed_and_memory_stays_flat() -> None:
    n = 5_000

    def make(n: int) -> None:
        for i in range(n):
            time.Timer(time.HOUR)
            if i % 500 == 0:
                gosched()  # a slow machine must not trip the blocked-thread guard
        for _ in range(n // 2):
            time.After(time.HOUR)  # its channel made, and dropped too
        reap()

    def main() -> int:
        base = heap_len()
        make(n)  # warm up (free lists, the heap's list)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            make(n)
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert heap_len() == base
        return after - before

    grown = run(main)
    assert grown < 64 * 1024, f"{grown} bytes kept for {3 * n // 2} dropped timers"


def test_pending_timer_without_references_is_freed_by_refcount() -> None:
    # No channel, no cycle: dropping it frees it at once, without the collector.
    def main() -> None:
        gc.disable()
        try:
            t = time.Timer(time.HOUR)
            r = weakref.ref(t)
            del t
            assert r() is None
            t = time.Timer(time.HOUR)
            t.c  # noqa: B018 - make the channel
            t.stop()
            r = weakref.ref(t)
            del t
            assert r() is None  # stopped: its channel no longer refers to it
        finally:
            gc.enable()
        base = heap_len()
        gosched()
        assert heap_len() <= base

    run(main)


def test_a_goroutine_waiting_on_after_keeps_its_timer() -> None:
    def main() -> list[Any]:
        got: list[Any] = []
        done = makechan()

        def waiter() -> None:
            got.append(time.After(20 * MS).recv())
            got.append(select(time.After(20 * MS).if_recv()))
            done.send(None)

        go(waiter)
        settle()  # parked in recv; nothing but the goroutine refers to the timer
        for _ in range(3):
            reap()
        done.recv()
        return got

    got = run(main)
    assert got[0] is not None and got[1] is not None


def test_a_referenced_channel_keeps_its_timer_and_ticker() -> None:
    def main() -> None:
        c = time.Timer(10 * MS).c
        k = time.Tick(MS)
        assert k is not None
        reap()
        assert c.recv() is not None
        assert k.recv() is not None
        reap()
        assert k.recv() is not None

    run(main)


def test_unreferenced_afterfunc_and_context_deadline_still_fire() -> None:
    # Go keeps an AfterFunc (and a context's deadline timer) alive while pending.
    def main() -> None:
        ran = makechan(1)
        time.AfterFunc(10 * MS, ran.send, 1)
        ctx, _ = context.with_timeout(context.background(), 10 * MS)
        done = ctx.done()
        del ctx
        reap()
        assert ran.recv() == 1
        done.recv()

    run(main)


def test_stopped_timer_in_the_heap_then_dropped_is_reaped_once() -> None:
    def main() -> None:
        base = heap_len()
        ts = [time.Timer(time.HOUR) for _ in range(100)]
        for t in ts:
            assert t.c is not None  # its channel puts it in the heap
        for t in ts[::2]:
            t.stop()
        assert heap_len() == base + 50
        del ts, t
        reap()
        assert heap_len() == base

    run(main)


# -- channel timers are lazy: in the heap once their channel is made ------------------


def test_a_timer_enters_the_heap_with_its_channel() -> None:
    def main() -> None:
        base = heap_len()
        t = time.Timer(time.HOUR)
        k = time.Ticker(time.HOUR)
        assert heap_len() == base  # nothing could receive from them yet
        assert t.reset(2 * time.HOUR)
        k.reset(2 * time.HOUR)
        assert heap_len() == base
        assert t.c is not None and k.c is not None
        assert heap_len() == base + 2
        assert t.stop()
        k.stop()
        assert heap_len() == base
        assert not t.reset(time.HOUR)
        assert heap_len() == base + 1
        time.AfterFunc(time.HOUR, print).stop()
        assert heap_len() == base + 1

    run(main)


def test_a_lazy_timer_past_its_deadline_delivers_when_its_channel_is_taken() -> None:
    def main() -> None:
        t = time.Timer(MS)
        k = time.Ticker(MS)
        time.sleep(5 * MS)  # both are due, neither is in the heap
        assert t.c.recv() is not None
        assert k.c.recv() is not None
        assert k.c.recv() is not None  # and it goes on ticking
        k.stop()
        assert not t.stop()  # fired and received

        # Past its deadline, its value never taken: stop() takes it back, as in Go 1.23.
        t = time.Timer(MS)
        time.sleep(5 * MS)
        assert t.stop()
        assert select(t.c.if_recv(), default) is default
        t = time.Timer(MS)
        time.sleep(5 * MS)
        assert t.reset(MS)
        assert t.c.recv() is not None

    run(main)


def test_a_lazy_timer_made_by_a_goroutine_and_taken_by_another_thread() -> None:
    # The channel is made in a plain thread: the owner's loop is asked to put it in its heap.
    def main() -> None:
        t = time.Timer(20 * MS)
        got: list[Any] = []
        th = threading.Thread(target=lambda: got.append(t.c.recv()))
        th.start()
        while th.is_alive():
            time.sleep(MS)
        assert got and got[0] is not None
        t2 = time.Timer(time.HOUR)
        stopped: list[bool] = []
        th = threading.Thread(target=lambda: stopped.append(t2.stop()))
        th.start()
        th.join(TIMEOUT)
        assert stopped == [True]
        assert not t2.stop()

    run(main)
