"""offset.sync: Mutex, RWMutex, WaitGroup, Once, once_value, Cond, Semaphore, atomic.

Go's src/sync/*_test.go are the model: mutual exclusion under contention
(mutex_test.go HammerMutex), WaitGroup's wait/done ordering and panics
(waitgroup_test.go), Once's run-once-even-on-panic (once_test.go),
OnceFunc/OnceValue/OnceValues re-panicking with the same value
(oncefunc_test.go), atomic And/Or returning the old value (Go 1.23),
Cond's signal/broadcast (cond_test.go), RWMutex's writer preference
(rwmutex_test.go), and x/sync/semaphore's FIFO weights and its context
rules (go.dev/issue/63615). Every primitive is also used across
schedulers and from plain threads. Waits are bounded; nothing sleeps to
let things settle: tests poll for the state they need.
"""

from __future__ import annotations

import collections
import gc
import threading
import weakref
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given
from support import run_example, settle

import offset
import offset.sync.atomic
from offset import DeadlockError, PanicError, context, go, gosched, makechan, run, select, sync, time
from offset.sync import atomic

TIMEOUT = 10.0  # seconds: every wait in these tests is bounded by this


def poll(cond: Callable[[], bool], what: str = "condition") -> None:
    """Wait (in a goroutine or a thread) until ``cond()`` holds; fail after TIMEOUT."""
    deadline = time.now() + int(TIMEOUT * time.SECOND)
    while not cond():
        if time.now() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(200 * time.MICROSECOND)


class Thread(threading.Thread):
    """A thread whose exception is re-raised by join()."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        super().__init__(daemon=True)
        self.fn, self.args = fn, args
        self.exc: BaseException | None = None
        self.result: Any = None

    def run(self) -> None:
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # noqa: BLE001 - re-raised in join
            self.exc = e

    def join(self, timeout: float | None = TIMEOUT) -> None:  # type: ignore[override]
        super().join(timeout)
        assert not self.is_alive(), "thread did not finish in time"
        if self.exc is not None:
            raise self.exc


def start(fn: Callable[..., Any], *args: Any) -> Thread:
    t = Thread(fn, *args)
    t.start()
    return t


def run_in_thread(fn: Callable[..., Any], *args: Any) -> Thread:
    """A thread with its own scheduler running ``fn`` as its main goroutine."""
    return start(run, fn, *args)


# -- atomic is importable both ways ---------------------------------------------


def test_atomic_import_paths() -> None:
    assert offset.sync.atomic.Int64 is atomic.Int64
    assert sync.atomic is atomic


# -- Mutex -----------------------------------------------------------------------


def test_mutex_lock_unlock_try_lock_and_with() -> None:
    mu = sync.Mutex()
    mu.lock()
    assert not mu.try_lock()
    mu.unlock()
    assert mu.try_lock()
    mu.unlock()
    with mu:
        assert not mu.try_lock()
    assert mu.try_lock()
    mu.unlock()


def test_mutex_unlock_of_unlocked_panics() -> None:
    mu = sync.Mutex()
    with pytest.raises(PanicError, match=r"^sync: unlock of unlocked mutex$"):
        mu.unlock()
    mu.lock()
    mu.unlock()
    with pytest.raises(PanicError, match=r"^sync: unlock of unlocked mutex$"):
        mu.unlock()
    # The context manager's exit is an unlock of its own (not a call of unlock()).
    with pytest.raises(PanicError, match=r"^sync: unlock of unlocked mutex$"):
        mu.__exit__(None, None, None)
    assert mu.try_lock() and not mu.try_lock()
    mu.__exit__(None, None, None)
    assert mu.try_lock()


def test_mutex_excludes_goroutines_that_yield_inside() -> None:
    # Go: mutex_test.go HammerMutex, with a yield inside the critical section.
    mu = sync.Mutex()
    inside = 0
    count = 0

    def worker() -> None:
        nonlocal inside, count
        for _ in range(50):
            with mu:
                inside += 1
                assert inside == 1
                gosched()
                count += 1
                inside -= 1

    def main() -> None:
        wg = sync.WaitGroup()
        for _ in range(100):
            wg.go(worker)
        wg.wait()

    run(main)
    assert count == 5000


def test_mutex_waiters_are_served_in_fifo_order() -> None:
    mu = sync.Mutex()
    arrived: list[int] = []
    order: list[int] = []

    def waiter(i: int) -> None:
        arrived.append(i)
        with mu:
            order.append(i)

    def main() -> None:
        mu.lock()
        wg = sync.WaitGroup()
        for i in range(10):
            wg.go(waiter, i)
        poll(lambda: len(mu._waitq) == 10, "10 waiters")
        mu.unlock()
        wg.wait()

    run(main)
    assert sorted(order) == list(range(10))
    assert order == arrived


def test_mutex_thread_waiting_on_goroutine_blocks_only_itself() -> None:
    mu = sync.Mutex()
    got: list[str] = []

    def thread_body() -> None:
        got.append("locking")
        mu.lock()  # blocks in the C lock: only this thread
        got.append("thread")
        mu.unlock()

    def main() -> int:
        mu.lock()
        t = start(thread_body)
        poll(lambda: got == ["locking"], "the thread to lock")
        # The scheduler keeps running goroutines while the thread waits.
        c = makechan()

        def producer() -> None:
            for i in range(1000):
                c.send(i)

        go(producer)
        total = sum(c.recv() for _ in range(1000))
        assert got == ["locking"]
        mu.unlock()
        poll(lambda: got == ["locking", "thread"], "the thread to get the lock")
        t.join()
        return total

    assert run(main) == 499500


def test_mutex_goroutine_waiting_on_thread() -> None:
    mu = sync.Mutex()
    release = threading.Event()
    locked = threading.Event()

    def holder() -> None:
        mu.lock()
        locked.set()
        assert release.wait(TIMEOUT)
        mu.unlock()

    def main() -> list[str]:
        events: list[str] = []
        t = start(holder)
        poll(locked.is_set, "the thread to lock")

        def locker() -> None:
            with mu:
                events.append("locked")

        def other() -> None:
            events.append("other ran")
            release.set()

        wg = sync.WaitGroup()
        wg.go(locker)
        wg.go(other)
        wg.wait()
        t.join()
        return events

    assert run(main) == ["other ran", "locked"]


def test_mutex_across_schedulers_and_threads() -> None:
    mu = sync.Mutex()
    counter = [0]
    n = 300

    def bump() -> None:
        with mu:
            v = counter[0]
            gosched()
            counter[0] = v + 1

    def sched_main() -> None:
        wg = sync.WaitGroup()
        for _ in range(n):
            wg.go(bump)
        wg.wait()

    def plain() -> None:
        for _ in range(n):
            bump()

    ts = [run_in_thread(sched_main) for _ in range(3)] + [start(plain) for _ in range(2)]
    run(sched_main)
    for t in ts:
        t.join()
    assert counter[0] == 6 * n


def test_mutex_deadlock_names_the_wait_reason() -> None:
    mu = sync.Mutex()

    def main() -> None:
        mu.lock()
        mu.lock()

    with pytest.raises(DeadlockError, match=r"sync\.Mutex\.Lock"):
        run(main)


# -- RWMutex ---------------------------------------------------------------------


def test_rwmutex_panics() -> None:
    rw = sync.RWMutex()
    with pytest.raises(PanicError, match=r"^sync: RUnlock of unlocked RWMutex$"):
        rw.runlock()
    with pytest.raises(PanicError, match=r"^sync: Unlock of unlocked RWMutex$"):
        rw.unlock()
    rw.rlock()
    with pytest.raises(PanicError, match=r"^sync: Unlock of unlocked RWMutex$"):
        rw.unlock()
    rw.runlock()
    rw.lock()
    with pytest.raises(PanicError, match=r"^sync: RUnlock of unlocked RWMutex$"):
        rw.runlock()
    rw.unlock()


def test_rwmutex_readers_share_writer_excludes() -> None:
    rw = sync.RWMutex()
    assert rw.try_rlock() and rw.try_rlock()
    assert not rw.try_lock()
    rw.runlock()
    rw.runlock()
    assert rw.try_lock()
    assert not rw.try_rlock()
    rw.unlock()
    with rw:
        assert not rw.try_rlock()
    with rw.rlocker():
        assert rw.try_rlock()
        rw.runlock()


def test_rwmutex_many_readers_at_once() -> None:
    rw = sync.RWMutex()
    readers = 0
    most = 0

    def reader() -> None:
        nonlocal readers, most
        rw.rlock()
        readers += 1
        most = max(most, readers)
        for _ in range(100_000):  # until all 20 hold it, in whatever order they came
            if most == 20:
                break
            gosched()
        readers -= 1
        rw.runlock()

    def main() -> None:
        wg = sync.WaitGroup()
        for _ in range(20):
            wg.go(reader)
        wg.wait()

    run(main)
    assert most == 20


def test_rwmutex_waiting_writer_keeps_new_readers_out() -> None:
    # Go: rwmutex.go "If a goroutine holds a RWMutex for reading and another
    # goroutine might call Lock, no goroutine should expect to be able to
    # acquire a read lock until the initial read lock is released."
    rw = sync.RWMutex()
    events: list[str] = []

    def writer() -> None:
        rw.lock()
        events.append("writer in")
        rw.unlock()

    def late_reader() -> None:
        rw.rlock()
        events.append("late reader in")
        rw.runlock()

    def main() -> None:
        rw.rlock()
        wg = sync.WaitGroup()
        wg.go(writer)
        poll(lambda: len(rw._wwait) == 1, "the writer to wait")
        assert not rw.try_rlock()
        wg.go(late_reader)
        poll(lambda: len(rw._rwait) == 1, "the late reader to wait")
        events.append("first reader out")
        rw.runlock()
        wg.wait()

    run(main)
    assert events == ["first reader out", "writer in", "late reader in"]


def test_rwmutex_unlock_admits_waiting_readers_before_next_writer() -> None:
    rw = sync.RWMutex()
    events: list[str] = []

    def reader(i: int) -> None:
        rw.rlock()
        events.append(f"r{i}")
        gosched()
        rw.runlock()

    def writer() -> None:
        rw.lock()
        events.append("w2")
        rw.unlock()

    def main() -> None:
        rw.lock()
        wg = sync.WaitGroup()
        wg.go(reader, 1)
        wg.go(reader, 2)
        poll(lambda: len(rw._rwait) == 2, "two readers")
        wg.go(writer)
        poll(lambda: len(rw._wwait) == 1, "the second writer")
        rw.unlock()
        wg.wait()

    run(main)
    assert sorted(events[:2]) == ["r1", "r2"]
    assert events[2:] == ["w2"]


def test_rwmutex_with_threads_and_schedulers() -> None:
    rw = sync.RWMutex()
    data = {"a": 0, "b": 0}
    bad: list[str] = []

    def write(n: int) -> None:
        for _ in range(n):
            with rw:
                data["a"] += 1
                gosched()
                data["b"] += 1

    def read(n: int) -> None:
        for _ in range(n):
            rw.rlock()
            if data["a"] != data["b"]:
                bad.append("torn read")
            gosched()
            rw.runlock()

    def sched_main() -> None:
        wg = sync.WaitGroup()
        for _ in range(5):
            wg.go(write, 40)
            wg.go(read, 40)
        wg.wait()

    ts = [run_in_thread(sched_main), start(write, 100), start(read, 100)]
    run(sched_main)
    for t in ts:
        t.join()
    assert not bad
    assert data["a"] == data["b"] == 2 * 5 * 40 + 100


# -- WaitGroup -------------------------------------------------------------------


def test_waitgroup_negative_counter_panics() -> None:
    wg = sync.WaitGroup()
    with pytest.raises(PanicError, match=r"^sync: negative WaitGroup counter$"):
        wg.done()
    wg.add(2)
    with pytest.raises(PanicError, match=r"^sync: negative WaitGroup counter$"):
        wg.add(-3)
    wg.add(-2)
    wg.wait()


def test_waitgroup_wait_returns_after_every_done() -> None:
    # Go: waitgroup_test.go testWaitGroup.
    def main() -> None:
        wg1, wg2 = sync.WaitGroup(), sync.WaitGroup()
        n = 16
        wg1.add(n)
        wg2.add(n)
        exited = makechan(n)
        for _ in range(n):

            def body() -> None:
                wg1.done()
                wg2.wait()
                exited.send(True)

            go(body)
        wg1.wait()
        for _ in range(n):
            assert select(exited.if_recv(), offset.default) is offset.default
            wg2.done()
        for _ in range(n):
            exited.recv()

    run(main)


def test_waitgroup_go_passes_arguments_and_counts() -> None:
    results: list[tuple[int, str]] = []

    def work(i: int, *, tag: str) -> None:
        gosched()
        results.append((i, tag))

    def main() -> None:
        wg = sync.WaitGroup()
        for i in range(100):
            wg.go(work, i, tag="t")
        wg.wait()
        assert len(results) == 100

    run(main)
    assert sorted(results) == [(i, "t") for i in range(100)]


def test_waitgroup_go_exception_still_counts_down_and_ends_run() -> None:
    wg = sync.WaitGroup()

    def boom() -> None:
        raise ValueError("boom")

    def main() -> None:
        wg.go(boom)
        wg.wait()

    with pytest.raises(ValueError, match="^boom$"):
        run(main)
    wg.wait()  # the counter went back to zero


def test_waitgroup_deadlock_report_names_the_function() -> None:
    def stuck_forever() -> None:
        makechan().recv()

    def main() -> None:
        wg = sync.WaitGroup()
        wg.go(stuck_forever)
        wg.wait()

    with pytest.raises(DeadlockError) as ei:
        run(main)
    msg = str(ei.value)
    assert "stuck_forever" in msg
    assert "sync.WaitGroup.Wait" in msg


def test_waitgroup_waited_from_threads_and_other_schedulers() -> None:
    wg = sync.WaitGroup()
    wg.add(50)
    seen: list[str] = []

    def thread_wait() -> None:
        wg.wait()
        seen.append("thread")

    def sched_wait() -> None:
        wg.wait()
        seen.append("scheduler")

    ts = [start(thread_wait), start(thread_wait), run_in_thread(sched_wait)]

    def main() -> None:
        for _ in range(50):
            go(wg.done)
        wg.wait()

    run(main)
    for t in ts:
        t.join()
    assert sorted(seen) == ["scheduler", "thread", "thread"]


def test_waitgroup_go_rejects_non_callable() -> None:
    with pytest.raises(TypeError, match="'fn' must be callable"):
        sync.WaitGroup().go(42)  # type: ignore[arg-type]


# -- Once ------------------------------------------------------------------------


def test_once_runs_once_and_others_wait_for_it() -> None:
    once = sync.Once()
    calls: list[str] = []
    after: list[int] = []

    def init() -> None:
        calls.append("init")
        for _ in range(10):
            gosched()  # the others arrive meanwhile and must wait

    def user(i: int) -> None:
        once.do(init)
        assert calls == ["init"]
        after.append(i)

    def main() -> None:
        wg = sync.WaitGroup()
        for i in range(10):
            wg.go(user, i)
        wg.wait()

    run(main)
    assert calls == ["init"]
    assert sorted(after) == list(range(10))


def test_once_that_raises_is_still_done() -> None:
    # Go: once_test.go TestOncePanic.
    once = sync.Once()
    calls = 0

    def fail() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("failed")

    with pytest.raises(RuntimeError, match="^failed$"):
        once.do(fail)
    once.do(fail)
    once.do(lambda: pytest.fail("ran again"))
    assert calls == 1


# -- once_func, once_value, once_values (Go 1.21's OnceFunc family) ----------------


def test_once_value_calls_f_once_and_returns_its_value_every_time() -> None:
    # Go: oncefunc_test.go TestOnceValue.
    calls = 0

    def f() -> list[int]:
        nonlocal calls
        calls += 1
        return [calls]

    get = sync.once_value(f)
    assert calls == 0  # nothing runs before the first call
    first = get()
    assert first == [1]
    assert get() is first and get() is first
    assert calls == 1


def test_once_func_returns_none_and_once_values_the_pair() -> None:
    calls: list[str] = []
    fn = sync.once_func(lambda: calls.append("f") or "ignored")
    assert fn() is None and fn() is None
    assert calls == ["f"]
    pair = sync.once_values(lambda: (calls.append("pair") or 1, "err"))
    assert pair() == (1, "err")
    assert pair() == (1, "err")
    assert calls == ["f", "pair"]
    Pair = collections.namedtuple("Pair", "value err")
    named = sync.once_values(lambda: Pair(2, None))
    assert named() == Pair(2, None) and named().value == 2


def test_once_value_many_goroutines_at_once_wait_for_the_one_call() -> None:
    calls = 0
    results: list[object] = []

    def slow() -> object:
        nonlocal calls
        calls += 1
        for _ in range(20):
            gosched()  # every other caller arrives while f runs
        return object()

    get = sync.once_value(slow)

    def main() -> None:
        wg = sync.WaitGroup()
        for _ in range(200):
            wg.go(lambda: results.append(get()))
        wg.wait()

    run(main)
    assert calls == 1
    assert len(results) == 200 and all(r is results[0] for r in results)


def test_once_value_from_threads_and_goroutines() -> None:
    calls = 0
    release = threading.Event()
    results: list[int] = []

    def f() -> int:
        nonlocal calls
        calls += 1
        assert release.wait(TIMEOUT)  # blocks whichever thread got here first
        return 42

    get = sync.once_value(f)
    threads = [start(lambda: results.append(get())) for _ in range(8)]
    schedulers = [run_in_thread(lambda: results.append(get())) for _ in range(2)]
    release.set()
    for t in threads + schedulers:
        t.join()
    assert calls == 1
    assert results == [42] * 10


def test_once_value_that_raises_raises_the_same_exception_every_time() -> None:
    # Go: "If f panics, the returned function will panic with the same value
    # on every call" (TestOnceFuncPanic, TestOnceValuePanic).
    calls = 0

    def fail() -> int:
        nonlocal calls
        calls += 1
        raise ValueError("boom")

    for once in (sync.once_func, sync.once_value, sync.once_values):
        calls = 0
        fn = once(fail)  # type: ignore[operator]
        with pytest.raises(ValueError, match="^boom$") as first:
            fn()
        assert first.tb is not None and "fail" in {e.name for e in first.traceback}  # f's own frame
        depth = len(first.traceback)
        for _ in range(3):
            with pytest.raises(ValueError) as again:
                fn()
            assert again.value is first.value
            assert len(again.traceback) <= depth + 1  # reset each time, not grown
        assert calls == 1


def test_once_value_raise_reaches_every_waiting_goroutine() -> None:
    started = makechan()
    seen: list[BaseException] = []

    def fail() -> None:
        started.close()
        for _ in range(5):
            gosched()
        raise KeyError("k")

    fn = sync.once_value(fail)

    def call() -> None:
        try:
            fn()
        except KeyError as e:
            seen.append(e)

    def main() -> None:
        wg = sync.WaitGroup()
        wg.go(call)
        started.recv()
        for _ in range(10):
            wg.go(call)
        wg.wait()

    run(main)
    assert len(seen) == 11 and all(e is seen[0] for e in seen)


def test_once_value_interrupted_call_panics_for_later_callers() -> None:
    def interrupted() -> int:
        raise KeyboardInterrupt

    fn = sync.once_value(interrupted)
    with pytest.raises(KeyboardInterrupt):
        fn()
    for _ in range(2):
        with pytest.raises(
            PanicError, match=r"^sync: once function interrupted by KeyboardInterrupt before it returned$"
        ):
            fn()


def test_once_value_stopped_goroutine_panics_for_later_callers() -> None:
    never = makechan()
    entered: list[str] = []

    def blocks() -> int:
        entered.append("f")
        never.recv()  # the goroutine is stopped here when main returns
        return 1

    fn = sync.once_value(blocks)

    def main() -> None:
        go(fn)
        settle()
        assert entered == ["f"]

    run(main)
    with pytest.raises(PanicError, match=r"^sync: once function interrupted by GoroutineExit before it returned$"):
        fn()
    assert entered == ["f"]


def test_once_value_lets_go_of_f_after_its_call() -> None:
    # Go: TestOnceXGC ("Do not keep f alive after invoking it").
    class F:
        def __call__(self) -> tuple[int, int]:
            return 7, 8

    for once in (sync.once_func, sync.once_value, sync.once_values):
        f = F()
        ref = weakref.ref(f)
        fn = once(f)  # type: ignore[operator]
        del f
        gc.collect()
        assert ref() is not None  # kept until called
        fn()
        gc.collect()
        assert ref() is None


def test_once_values_needs_a_pair() -> None:
    fn = sync.once_values(lambda: 1)  # type: ignore[arg-type,return-value]
    for _ in range(2):
        with pytest.raises(TypeError, match=r"^once_values\(\) argument 'f' must return a 2-tuple, not int$"):
            fn()
    with pytest.raises(TypeError):
        sync.once_values(lambda: (1, 2, 3))()  # type: ignore[arg-type,return-value]


def test_once_funcs_reject_a_non_callable() -> None:
    for once in (sync.once_func, sync.once_value, sync.once_values):
        name = once.__name__
        with pytest.raises(TypeError, match=rf"^{name}\(\) argument 'f' must be callable, not int$"):
            once(42)  # type: ignore[operator]


# -- Cond ------------------------------------------------------------------------


def test_cond_signal_wakes_one_broadcast_wakes_all() -> None:
    # Go: cond_test.go TestCondSignal / TestCondBroadcast.
    mu = sync.Mutex()
    cond = sync.Cond(mu)
    assert cond.locker is mu
    arrived: list[int] = []
    woken: list[int] = []

    def waiter(i: int) -> None:
        with mu:
            arrived.append(i)
            cond.wait()
            woken.append(i)

    def main() -> None:
        wg = sync.WaitGroup()
        for i in range(5):
            wg.go(waiter, i)
        poll(lambda: len(cond._waiters) == 5, "five waiters")
        cond.signal()
        poll(lambda: len(woken) == 1, "one woken")
        assert woken == arrived[:1]  # the longest waiter
        cond.broadcast()
        wg.wait()
        cond.signal()  # nobody waits: nothing happens
        cond.broadcast()

    run(main)
    assert sorted(woken) == [0, 1, 2, 3, 4]


def test_cond_queue_between_goroutines_and_threads() -> None:
    mu = sync.Mutex()
    cond = sync.Cond(mu)
    items: list[int] = []
    got: list[int] = []
    n = 200

    def consume(k: int) -> None:
        for _ in range(k):
            with mu:
                while not items:
                    cond.wait()
                got.append(items.pop(0))

    def produce(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            with mu:
                items.append(i)
                cond.signal()

    def main() -> None:
        wg = sync.WaitGroup()
        wg.go(consume, n)
        wg.go(produce, 0, n)
        wg.wait()

    consumer = start(consume, n)
    producer = start(produce, n, 2 * n)
    run(main)
    consumer.join()
    producer.join()
    assert sorted(got) == list(range(2 * n))


def test_cond_over_rlocker() -> None:
    rw = sync.RWMutex()
    cond = sync.Cond(rw.rlocker())
    ready = False
    seen: list[bool] = []

    def waiter() -> None:
        rw.rlock()
        while not ready:
            cond.wait()
        seen.append(ready)
        rw.runlock()

    def main() -> None:
        nonlocal ready
        wg = sync.WaitGroup()
        wg.go(waiter)
        poll(lambda: len(cond._waiters) == 1, "the waiter")
        with rw:
            ready = True
        cond.broadcast()
        wg.wait()

    run(main)
    assert seen == [True]


def test_cond_rejects_a_non_locker() -> None:
    with pytest.raises(TypeError, match="'locker' must have lock"):
        sync.Cond(threading.Lock())  # type: ignore[arg-type]


# -- Semaphore -------------------------------------------------------------------


def test_semaphore_weights_and_try_acquire() -> None:
    sem = sync.Semaphore(10)
    assert sem.try_acquire(7)
    assert not sem.try_acquire(4)
    assert sem.try_acquire(3)
    assert not sem.try_acquire()
    sem.release(10)
    assert sem.try_acquire(0)
    with sem:
        assert sem.try_acquire(9)
        assert not sem.try_acquire(1)
        sem.release(9)
    with pytest.raises(PanicError, match=r"^semaphore: released more than held$"):
        sem.release()


def test_semaphore_bad_arguments() -> None:
    with pytest.raises(ValueError, match="'n' must be >= 0"):
        sync.Semaphore(-1)
    with pytest.raises(TypeError, match="'n' must be int"):
        sync.Semaphore(1.5)  # type: ignore[arg-type]
    sem = sync.Semaphore(1)
    with pytest.raises(ValueError, match="'k' must be >= 0"):
        sem.acquire(-1)
    with pytest.raises(TypeError, match="'k' must be int"):
        sem.release("1")  # type: ignore[arg-type]


def test_semaphore_large_request_at_head_blocks_smaller_ones() -> None:
    # x/sync/semaphore: FIFO, so a large waiter is not starved by small ones.
    sem = sync.Semaphore(4)
    order: list[str] = []

    def take(k: int, name: str) -> None:
        sem.acquire(k)
        order.append(name)

    def main() -> None:
        sem.acquire(3)
        wg = sync.WaitGroup()
        wg.go(take, 4, "big")
        poll(lambda: len(sem._waiters) == 1, "big to wait")
        assert not sem.try_acquire(1)  # one unit is free, but big is first
        wg.go(take, 1, "small")
        poll(lambda: len(sem._waiters) == 2, "small to wait")
        sem.release(3)
        poll(lambda: order == ["big"], "big to get in")
        sem.release(4)
        wg.wait()
        sem.release(1)

    run(main)
    assert order == ["big", "small"]


def test_semaphore_bounds_concurrency_across_threads() -> None:
    sem = sync.Semaphore(3)
    active = atomic.Int64()
    most = atomic.Int64()

    def work() -> None:
        sem.acquire()
        n = active.add(1)
        while True:
            m = most.load()
            if n <= m or most.compare_and_swap(m, n):
                break
        gosched()
        active.add(-1)
        sem.release()

    def main() -> None:
        wg = sync.WaitGroup()
        for _ in range(50):
            wg.go(work)
        wg.wait()

    ts = [start(lambda: [work() for _ in range(50)]) for _ in range(2)]
    run(main)
    for t in ts:
        t.join()
    assert 1 <= most.load() <= 3
    assert sem.try_acquire(3)


def test_semaphore_acquire_gives_up_when_context_ends() -> None:
    sem = sync.Semaphore(2)

    def main() -> None:
        sem.acquire(2)
        ctx, cancel = context.with_timeout(context.background(), 20 * time.MILLISECOND)
        t0 = time.now()
        with pytest.raises(context.DeadlineExceeded):
            sem.acquire(1, ctx=ctx)
        assert time.since(t0) >= 15 * time.MILLISECOND
        cancel()
        assert len(sem._waiters) == 0
        ctx2, cancel2 = context.with_cancel(context.background())
        go(cancel2)
        with pytest.raises(context.Canceled):
            sem.acquire(5, ctx=ctx2)  # more than the size: waits for ctx only
        sem.release(2)
        assert sem.try_acquire(2)

    run(main)


def test_semaphore_acquire_with_context_succeeds_when_granted() -> None:
    sem = sync.Semaphore(1)

    def main() -> None:
        ctx, cancel = context.with_cancel(context.background())
        sem.acquire()
        go(sem.release)
        sem.acquire(ctx=ctx)  # granted by the release, ctx still live
        cancel()
        assert not sem.try_acquire()
        sem.release()

    run(main)


def test_semaphore_withdrawn_head_lets_the_next_waiter_in() -> None:
    sem = sync.Semaphore(2)
    got: list[str] = []

    def main() -> None:
        sem.acquire(1)
        ctx, cancel = context.with_cancel(context.background())

        def big() -> None:
            with pytest.raises(context.Canceled):
                sem.acquire(2, ctx=ctx)
            got.append("big gave up")

        def small() -> None:
            sem.acquire(1)
            got.append("small")

        wg = sync.WaitGroup()
        wg.go(big)
        poll(lambda: len(sem._waiters) == 1, "big")
        wg.go(small)
        poll(lambda: len(sem._waiters) == 2, "small")
        cancel()
        wg.wait()

    run(main)
    assert got == ["big gave up", "small"]


def test_semaphore_acquire_with_a_done_context_fails_even_with_free_units() -> None:
    # x/sync/semaphore since go.dev/issue/63615: a context done before the
    # call "happened before" the acquire.
    sem = sync.Semaphore(2)
    ctx, cancel = context.with_cancel_cause(context.background())
    cancel(ValueError("gone"))
    for k in (0, 1, 2, 3):  # free, free, free, more than the size
        with pytest.raises(context.Canceled):
            sem.acquire(k, ctx=ctx)
    assert sem._cur == 0 and not sem._waiters
    assert sem.try_acquire(2)
    dctx, _ = context.with_deadline(context.background(), time.now() - 1)
    sem.release(2)
    with pytest.raises(context.DeadlineExceeded):
        sem.acquire(1, ctx=dctx)
    assert sem.try_acquire(2)


def test_semaphore_cancelled_waiter_keeps_no_units() -> None:
    sem = sync.Semaphore(2)

    def main() -> None:
        sem.acquire(2)
        ctx, cancel = context.with_cancel(context.background())
        out = makechan(1)

        def waiter() -> None:
            try:
                sem.acquire(1, ctx=ctx)
            except context.Canceled as e:
                out.send(e)
            else:
                out.send(None)

        go(waiter)
        settle()
        assert len(sem._waiters) == 1
        cancel()
        assert isinstance(out.recv(), context.Canceled)
        assert sem._cur == 2 and not sem._waiters
        sem.release(2)
        assert sem.try_acquire(2)

    run(main)


@pytest.mark.parametrize("cancel_first", [False, True])
def test_semaphore_granted_as_the_context_ends_gives_the_units_back(cancel_first: bool) -> None:
    # go.dev/issue/63615: granted and cancelled before the waiter runs again
    # (in either order), it fails holding nothing, and the waiter behind it
    # gets the units.
    sem = sync.Semaphore(2)
    got: list[str] = []

    def main() -> None:
        sem.acquire(2)
        ctx, cancel = context.with_cancel(context.background())

        def first() -> None:
            try:
                sem.acquire(2, ctx=ctx)
            except context.Canceled:
                got.append("first failed")
            else:
                got.append("first got it")

        def second() -> None:
            sem.acquire(2)
            got.append("second")
            sem.release(2)

        wg = sync.WaitGroup()
        wg.go(first)
        settle()
        wg.go(second)
        settle()
        assert len(sem._waiters) == 2
        if cancel_first:
            cancel()  # first's select picks done...
            sem.release(2)  # ...and the release still serves it, queued
        else:
            sem.release(2)  # serves first, which has not run yet...
            cancel()  # ...and its context ends too
        assert sem._cur == 2
        wg.wait()
        assert sem._cur == 0

    run(main)
    assert got == ["first failed", "second"]


def test_semaphore_waiter_in_a_thread_cancelled_from_a_goroutine() -> None:
    sem = sync.Semaphore(1)
    sem.acquire()
    ctx, cancel = context.with_cancel(context.background())
    t = start(lambda: sem.acquire(1, ctx=ctx))
    poll(lambda: len(sem._waiters) == 1, "the thread to wait")
    run(cancel)
    with pytest.raises(context.Canceled):
        t.join()
    assert not sem._waiters
    sem.release()
    assert sem.try_acquire()


# -- atomic ----------------------------------------------------------------------


def test_atomic_int64_operations_and_wraparound() -> None:
    x = atomic.Int64()
    assert x.load() == 0
    assert x.add(5) == 5
    assert x.add(-7) == -2
    x.store(2**63 - 1)
    assert x.add(1) == -(2**63)  # wraps as Go's int64
    assert x.swap(10) == -(2**63)
    assert not x.compare_and_swap(11, 12)
    assert x.compare_and_swap(10, 12)
    assert x.load() == 12
    with pytest.raises(ValueError, match="out of range"):
        x.store(2**63)
    with pytest.raises(TypeError, match="must be int"):
        x.store(1.0)  # type: ignore[arg-type]
    assert atomic.Int64(7).load() == 7


def test_atomic_int32_and_unsigned_wrap() -> None:
    i = atomic.Int32(2**31 - 1)
    assert i.add(1) == -(2**31)
    u = atomic.Uint32()
    assert u.add(-1) == 2**32 - 1  # Go: AddUint32(&x, ^uint32(0))
    assert u.add(1) == 0
    u64 = atomic.Uint64(2**64 - 1)
    assert u64.add(2) == 1
    with pytest.raises(ValueError, match="out of range"):
        atomic.Uint32(-1)


@pytest.mark.parametrize("cls", [atomic.Int32, atomic.Int64, atomic.Uint32, atomic.Uint64])
def test_atomic_and_or_return_the_old_value(cls: type[atomic.Int64]) -> None:
    # Go 1.23's And/Or: "atomically performs a bitwise AND/OR operation ...
    # and returns the old value".
    x = cls(0b1100)
    assert x.and_(0b1010) == 0b1100
    assert x.load() == 0b1000
    assert x.or_(0b0011) == 0b1000
    assert x.load() == 0b1011
    assert x.and_(~0b0001) == 0b1011  # a negative mask clears bits (Go's ^T(1))
    assert x.load() == 0b1010
    assert x.or_(0) == 0b1010 and x.and_(-1) == 0b1010 and x.load() == 0b1010
    bits = cls._BITS
    top = 1 << (bits - 1)
    assert x.or_(top) == 0b1010  # the sign bit of a signed type: wraps, as add does
    with_top = x._MIN + 0b1010 if x._MIN else top | 0b1010
    assert x.load() == with_top
    assert x.and_(top - 1) == with_top
    assert x.load() == 0b1010
    assert x.or_(1 << bits) == 0b1010 and x.load() == 0b1010  # beyond the width: no bits
    for bad in (1.0, True, "1", None):
        with pytest.raises(TypeError, match=rf"^{cls.__name__} argument 'mask' must be int, not "):
            x.and_(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=rf"^{cls.__name__} argument 'mask' must be int, not "):
            x.or_(bad)  # type: ignore[arg-type]


@given(
    cls=st.sampled_from([atomic.Int32, atomic.Int64, atomic.Uint32, atomic.Uint64]),
    ops=st.lists(st.tuples(st.sampled_from(["and_", "or_", "add"]), st.integers(-(1 << 70), 1 << 70)), max_size=20),
)
def test_atomic_bit_operations_match_fixed_width_arithmetic(
    cls: type[atomic.Int64], ops: list[tuple[str, int]]
) -> None:
    # The model: the value as its ``bits`` low bits (Go's machine word), and
    # every operand reduced to them too; signed types read it as two's complement.
    bits = cls._BITS
    word = (1 << bits) - 1

    def signed(u: int) -> int:
        return u - (1 << bits) if cls._MIN and u >> (bits - 1) else u

    x = cls()
    u = 0
    for op, arg in ops:
        old = x.load()
        ret = getattr(x, op)(arg)
        if op == "and_":
            u &= arg & word
        elif op == "or_":
            u |= arg & word
        else:
            u = (u + arg) & word
        assert x.load() == signed(u)
        assert ret == (signed(u) if op == "add" else old)  # add: the new value; and_/or_: the old


def test_atomic_or_and_are_atomic_across_threads_and_goroutines() -> None:
    x = atomic.Uint64()
    olds: list[int] = []

    def setbits(base: int) -> None:
        for i in range(base, base + 8):
            olds.append(x.or_(1 << i))
            gosched()

    ts = [start(setbits, 8 * i) for i in range(4)]
    run_threads = [run_in_thread(setbits, 8 * i) for i in range(4, 8)]
    for t in ts + run_threads:
        t.join()
    assert x.load() == (1 << 64) - 1
    assert len(olds) == 64 and len(set(olds)) == 64  # each or_ saw a different state
    masks = [~(1 << i) for i in range(64)]

    def clear(ms: list[int]) -> None:
        for m in ms:
            x.and_(m)
            gosched()

    ts = [start(clear, masks[i::4]) for i in range(4)]
    for t in ts:
        t.join()
    assert x.load() == 0


def test_atomic_bool() -> None:
    b = atomic.Bool()
    assert b.load() is False
    assert b.compare_and_swap(False, True)
    assert not b.compare_and_swap(False, True)
    assert b.swap(False) is True
    b.store(True)
    assert b.load() is True


def test_atomic_value_and_its_panics() -> None:
    v: atomic.Value[Any] = atomic.Value()
    assert v.load() is None
    with pytest.raises(PanicError, match=r"^sync/atomic: store of nil value into Value$"):
        v.store(None)
    with pytest.raises(PanicError, match=r"^sync/atomic: swap of nil value into Value$"):
        v.swap(None)
    with pytest.raises(PanicError, match=r"^sync/atomic: compare and swap of nil value into Value$"):
        v.compare_and_swap(None, None)
    assert not v.compare_and_swap("x", "y")  # empty: only old=None matches
    assert v.compare_and_swap(None, "a")
    v.store("b")
    with pytest.raises(PanicError, match=r"^sync/atomic: store of inconsistently typed value into Value$"):
        v.store(1)
    with pytest.raises(PanicError, match=r"^sync/atomic: swap of inconsistently typed value into Value$"):
        v.swap(1)
    with pytest.raises(PanicError, match=r"^sync/atomic: compare and swap of inconsistently typed values$"):
        v.compare_and_swap("b", 1)
    with pytest.raises(PanicError, match=r"^sync/atomic: compare and swap of inconsistently typed value into Value$"):
        v.compare_and_swap(1, 2)
    assert v.swap("c") == "b"
    assert v.compare_and_swap("c", "d")
    assert not v.compare_and_swap("c", "e")
    assert v.load() == "d"


def test_atomic_add_is_atomic_across_threads_and_goroutines() -> None:
    x = atomic.Int64()
    u = atomic.Uint32()
    n = 20_000

    def spin() -> None:
        for i in range(n):
            x.add(1)
            u.add(-1)
            if i % 500 == 0:
                # A goroutine that never switches holds its thread as long
                # as four threads let it have the GIL, which on a loaded
                # machine trips the suite's blocked-thread guard. (In a
                # plain thread gosched does nothing.)
                gosched()

    def main() -> None:
        wg = sync.WaitGroup()
        for _ in range(4):
            wg.go(spin)
        wg.wait()

    ts = [start(spin) for _ in range(4)]
    run(main)
    for t in ts:
        t.join()
    assert x.load() == 8 * n
    assert u.load() == (-8 * n) % 2**32


# -- the example in examples/ -------------------------------------------------------


def test_example_sync_waitgroup() -> None:
    # Go: https://go.dev/tour/concurrency/9 prints 1000.
    assert run_example("sync_waitgroup.py") == "1000\n"
