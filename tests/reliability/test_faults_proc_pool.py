"""Faults: thread-pool calls of goroutines that are stopped (issue 13, part 4).

A goroutine stopped while its blocking call waits for a pool thread (run()
ended by another goroutine's exception, or by main returning) has given the
call up: a call that has not started must never start, as nothing of a Go
program runs after its main returns, and the result of one already running
is dropped. Found by the saturation fault: the calls queued behind a full
pool ran after ``run()`` had raised, writing to files of a program that had
ended.

In process: the pool is made afresh with ``OFFSET_MAX_THREADS=1`` (the size
is read when the pool is made), as tests/core/test_syscall.py does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

import offset
from offset._core import _syscall

BOUND = 10.0


@pytest.fixture
def one_thread_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFSET_MAX_THREADS", "1")
    monkeypatch.setattr(_syscall, "_pool", None)


def _wait_pool_idle() -> None:
    deadline = time.monotonic() + BOUND
    while _syscall.pool_stats()[:3] != (0, 0, 0):
        assert time.monotonic() < deadline, f"pool still busy: {_syscall.pool_stats()}"
        time.sleep(0.005)


def _program(ending: str, gate: threading.Event, ran: list[int], finallies: list[int]) -> Callable[[], str]:
    """Main of a program whose one pool thread is held by a call while ten more wait for it."""
    holding = threading.Event()

    def hold() -> None:
        holding.set()
        gate.wait(BOUND)

    def record(i: int) -> int:
        ran.append(i)
        return i

    def caller(i: int) -> None:
        try:
            offset.syscall(record)(i)
        finally:
            finallies.append(i)

    def wait_for(cond: Callable[[], bool]) -> None:
        deadline = time.monotonic() + BOUND
        while not cond():
            assert time.monotonic() < deadline, (offset.stats(), _syscall.pool_stats())
            offset.gosched()

    def main() -> str:
        offset.go(offset.syscall(hold))
        wait_for(holding.is_set)  # the one thread is taken
        for i in range(10):
            offset.go(caller, i)
        wait_for(lambda: offset.stats()["pool_queued"] == 10)
        if ending == "exception":
            raise RuntimeError("boom")
        return "main returned"

    return main


@pytest.mark.parametrize("ending", ["exception", "main returns"])
def test_queued_calls_of_stopped_goroutines_never_start(one_thread_pool: None, ending: str) -> None:
    gate = threading.Event()
    ran: list[int] = []
    finallies: list[int] = []
    main = _program(ending, gate, ran, finallies)
    try:
        if ending == "exception":
            with pytest.raises(RuntimeError, match="^boom$"):
                offset.run(main)
        else:
            assert offset.run(main) == "main returned"
        assert sorted(finallies) == list(range(10))  # each caller was stopped, its finally ran
        assert _syscall.pool_stats()[2] == 0  # given up: nothing waits for a thread any more
    finally:
        gate.set()  # the call that holds the thread ends; its result is dropped
    _wait_pool_idle()
    assert ran == []


def test_a_later_run_gets_its_own_calls_served(one_thread_pool: None) -> None:
    # The calls given up leave nothing in the way of the next run()'s calls.
    gate = threading.Event()
    ran: list[int] = []
    with pytest.raises(RuntimeError, match="^boom$"):
        offset.run(_program("exception", gate, ran, []))
    gate.set()

    def main() -> list[int]:
        return [offset.syscall(pow)(i, 2) for i in range(5)]

    assert offset.run(main) == [0, 1, 4, 9, 16]
    _wait_pool_idle()
    assert ran == []


def test_a_pool_thread_that_cannot_start_fails_only_its_call(
    one_thread_pool: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The OS refuses a thread (RLIMIT_NPROC, memory): the call that needed it
    # raises what threading.Thread.start raises then, the other goroutines
    # carry on, and the pool, which counted no thread for it, starts one
    # for the next call.
    real = _syscall._start_new_thread
    refusals = [1]

    def start_new_thread(fn: Callable[..., object], args: tuple[object, ...]) -> int:
        if refusals[0]:
            refusals[0] -= 1
            raise RuntimeError("can't start new thread")
        return real(fn, args)

    monkeypatch.setattr(_syscall, "_start_new_thread", start_new_thread)
    ticks: list[int] = []

    def ticker() -> None:
        for i in range(5):
            offset.gosched()
            ticks.append(i)

    def main() -> list[object]:
        offset.go(ticker)
        out: list[object] = []
        for i in range(3):
            try:
                out.append(offset.syscall(pow)(i, 2))
            except RuntimeError as e:
                out.append(str(e))
        while len(ticks) < 5:
            offset.gosched()
        return out

    assert offset.run(main) == ["can't start new thread", 1, 4]
    assert ticks == [0, 1, 2, 3, 4]
    _wait_pool_idle()
