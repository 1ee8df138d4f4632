"""offset.syscall: blocking calls on the thread pool, parking one goroutine.

API.md, "Blocking calls and the patch layer". Waits are bounded with
generous timeouts; none of them is a sleep used to let things settle.
"""

from __future__ import annotations

import re
import threading
import time
import traceback

import pytest
from support import settle

import offset
from offset import go, makechan, run
from offset._core import _sched, _syscall

BOUND = 30.0  # seconds; only reached when something is broken


@offset.syscall
def whose_thread():
    return threading.get_ident()


def test_decorated_call_runs_on_a_pool_thread():
    me = threading.get_ident()
    ident = run(whose_thread)
    assert ident != me
    assert run(lambda: whose_thread()) != me


def test_outside_a_goroutine_it_just_calls_the_function():
    assert whose_thread() == threading.get_ident()

    def in_plain_thread(out):
        out.append((whose_thread(), threading.get_ident()))

    out = []
    t = threading.Thread(target=in_plain_thread, args=(out,))
    t.start()
    t.join(BOUND)
    assert out and out[0][0] == out[0][1]


def test_syscall_as_a_function():
    def add(a, b, *, c):
        return (a + b + c, threading.get_ident())

    value, ident = run(lambda: offset.syscall(add)(1, 2, c=3))
    assert value == 6
    assert ident != threading.get_ident()


def test_returns_the_value():
    @offset.syscall
    def compute(x):
        return {"x": x}

    assert run(compute, 5) == {"x": 5}


def test_raises_the_exception_with_its_traceback():
    @offset.syscall
    def failing_call(x):
        raise ValueError(f"bad {x}")

    def main():
        try:
            failing_call(3)
        except ValueError as e:
            return e
        return None

    err = run(main)
    assert isinstance(err, ValueError)
    assert str(err) == "bad 3"
    assert "failing_call" in [f.name for f in traceback.extract_tb(err.__traceback__)]

    with pytest.raises(ValueError, match=r"^bad 4$"):
        run(failing_call, 4)


def test_parks_only_the_calling_goroutine():
    """While one goroutine waits in a blocking call, the others run.

    The blocking call waits for an event that only the other goroutines
    set, after a ping-pong over a channel. If the call blocked the
    scheduler, the event would never be set and the wait would time out.
    """
    event = threading.Event()
    log = []
    done = makechan()

    @offset.syscall
    def wait_for_goroutines():
        return event.wait(BOUND)

    def caller():
        log.append("call starts")
        log.append(f"call returned {wait_for_goroutines()}")
        done.send(None)

    def pinger(c):
        for i in range(100):
            c.send(i)
        c.close()

    def main():
        go(caller)
        settle()  # caller is now parked in the blocking call
        c = makechan()
        go(pinger, c)
        log.append(f"others ran: {sum(c)}")
        event.set()
        done.recv()

    run(main)
    assert log == ["call starts", "others ran: 4950", "call returned True"]


def test_many_blocking_calls_run_at_once():
    """8 calls meet at a Barrier(8): they cannot be serialized on one thread."""
    parties = 8
    barrier = threading.Barrier(parties, timeout=BOUND)

    @offset.syscall
    def meet(i):
        barrier.wait()
        return i, threading.get_ident()

    def main():
        out = makechan(parties)
        for i in range(parties):
            go(lambda i=i: out.send(meet(i)))
        return [out.recv() for _ in range(parties)]

    results = run(main)
    assert sorted(i for i, _ in results) == list(range(parties))
    assert len({ident for _, ident in results}) == parties
    assert threading.get_ident() not in {ident for _, ident in results}


def test_call_in_flight_is_not_a_deadlock():
    """Every goroutine is blocked, but a pool call will wake one: wait for it."""
    c = makechan()

    @offset.syscall
    def slow_call():
        time.sleep(0.05)  # the blocking call itself, not synchronisation
        return "slow"

    def waiter():
        c.send(("waiter", c.recv()))

    def main():
        go(waiter)
        settle()
        c.send(slow_call())  # main parked in the pool, waiter on c
        return c.recv()

    assert run(main) == ("waiter", "slow")


def test_call_completing_after_its_goroutine_was_stopped_is_ignored():
    started = threading.Event()
    release = threading.Event()
    finished = threading.Event()
    log = []

    @offset.syscall
    def outlives_its_goroutine():
        started.set()
        release.wait(BOUND)
        finished.set()
        return "late"

    def stuck():
        try:
            log.append(outlives_its_goroutine())
        finally:
            log.append("stopped")

    def main():
        go(stuck)
        settle()
        # Wait (in the pool, not here) until the call runs: a call stopped
        # before it starts may be cancelled instead.
        assert offset.syscall(started.wait)(BOUND)
        return "main done"

    assert run(main) == "main done"
    assert log == ["stopped"]
    release.set()
    assert finished.wait(BOUND)
    # The late completion must not disturb later runs in this thread.
    for _ in range(3):
        assert run(lambda: offset.syscall(lambda: 7)() + 1) == 8
    assert log == ["stopped"]


def test_many_quick_calls_in_sequence_and_at_once():
    """Each completion wakes an idle scheduler from a pool thread: none is lost.

    A lost wake-up would leave run() waiting forever for a call that has
    finished (pytest-timeout bounds the test).
    """

    @offset.syscall
    def echo(i):
        return i

    def main():
        assert [echo(i) for i in range(1000)] == list(range(1000))
        out = makechan(50)

        def worker(k):
            out.send(sum(echo(k * 10 + j) for j in range(10)))

        for k in range(50):
            go(worker, k)
        return sum(out.recv() for _ in range(50))

    assert run(main) == sum(range(500))


def test_exception_elsewhere_ends_run_while_a_call_is_in_flight():
    """run() does not wait for a blocking call whose goroutine it stops."""
    release = threading.Event()
    started = threading.Event()

    @offset.syscall
    def long_call():
        started.set()
        return release.wait(BOUND)

    def failing():
        raise RuntimeError("failed elsewhere")

    def fail_once_the_call_runs():
        assert offset.syscall(started.wait)(BOUND)
        failing()

    def main():
        go(fail_once_the_call_runs)
        long_call()

    t0 = time.monotonic()
    try:
        with pytest.raises(RuntimeError, match=r"^failed elsewhere$"):
            run(main)
        assert time.monotonic() - t0 < BOUND / 2
    finally:
        release.set()


def test_syscall_rejects_non_callable():
    with pytest.raises(TypeError, match=r"^syscall\(\) argument 'fn' must be callable, not int$"):
        offset.syscall(3)


# -- OFFSET_MAX_THREADS ----------------------------------------------------------------


def test_max_threads_default(monkeypatch):
    monkeypatch.delenv("OFFSET_MAX_THREADS", raising=False)
    n = _syscall.max_threads()
    assert n >= 8  # lets several blocking calls run at once even on one core
    monkeypatch.setenv("OFFSET_MAX_THREADS", "")
    assert _syscall.max_threads() == n


@pytest.mark.parametrize("raw", ["1", "8", "200", " 16 "])
def test_max_threads_from_environment(monkeypatch, raw):
    monkeypatch.setenv("OFFSET_MAX_THREADS", raw)
    assert _syscall.max_threads() == int(raw)


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5", "8 threads"])
def test_max_threads_invalid_values(monkeypatch, raw):
    monkeypatch.setenv("OFFSET_MAX_THREADS", raw)
    expected = f"OFFSET_MAX_THREADS must be a positive integer, not {raw!r}"
    with pytest.raises(ValueError, match="^" + re.escape(expected) + "$"):
        _syscall.max_threads()


def _pool_threads():
    # Pool threads are _thread's, not threading's: they register their idents.
    return sorted(_sched.offset_thread_idents)


def test_pool_threads_end_when_idle(monkeypatch):
    # A burst leaves no threads behind: each ends after _IDLE_SECONDS
    # without a call (CPython's tests check a program's thread count).
    monkeypatch.setattr(_syscall, "_IDLE_SECONDS", 0.05)
    release = threading.Event()

    @offset.syscall
    def wait_for_release():
        return release.wait(BOUND)

    def main():
        done = makechan(8)
        for _ in range(8):
            go(lambda: done.send(wait_for_release()))
        while len(_pool_threads()) < 8:
            offset.time.sleep(offset.time.MILLISECOND)
        release.set()
        return [done.recv() for _ in range(8)]

    assert run(main) == [True] * 8
    deadline = time.monotonic() + BOUND
    while _pool_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _pool_threads() == []
    assert run(whose_thread) != threading.get_ident()  # and the pool starts again


def test_calls_beyond_the_pool_size_wait_in_order(monkeypatch):
    # With one thread, calls run one at a time in the order they were made.
    monkeypatch.setenv("OFFSET_MAX_THREADS", "1")
    monkeypatch.setattr(_syscall, "_pool", None)
    release = threading.Event()
    submitted = []
    order = []

    @offset.syscall
    def call(i):
        release.wait(BOUND)
        order.append(i)
        return i

    def caller(i, done):
        submitted.append(i)  # no switch between this and the submission
        done.send(call(i))

    def main():
        done = makechan(10)
        for i in range(10):
            go(caller, i, done)
        settle()
        release.set()
        return sorted(done.recv() for _ in range(10))

    try:
        assert run(main) == list(range(10))
        assert order == submitted
    finally:
        _syscall._pool = None


def test_the_exception_holds_no_reference_to_the_arguments():
    # CPython's testRefCountGetNameInfo: while the exception of a C call made
    # on the pool is handled, its traceback must keep no reference to the
    # arguments (the pool thread's frames held them), as the direct call's.
    import operator
    import sys

    from offset._core import blocking_call

    class Arg:
        pass

    def main():
        a = Arg()
        before = sys.getrefcount(a)
        try:
            blocking_call(operator.index, a)
        except TypeError:
            return sys.getrefcount(a) - before
        return None

    assert run(main) == 0
