"""offset.errgroup: x/sync/errgroup's Group, with_context, set_limit, try_go.

golang.org/x/sync/errgroup/errgroup_test.go is the model: TestZeroGroup
(the first error is the one returned), TestWithContext (the context is
cancelled by the first error and after Wait), TestGoLimit (never more than
the limit active), TestTryGo, and SetLimit's panic while goroutines are
active. Here a function fails by raising, and wait() raises.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support import run_example

from offset import DeadlockError, PanicError, context, errgroup, gosched, makechan, run, select, sync, time

TIMEOUT = 10.0


class Boom(Exception):
    pass


def test_group_all_succeed() -> None:
    done: list[int] = []

    def main() -> None:
        g = errgroup.Group()
        for i in range(20):
            g.go(done.append, i)
        g.wait()

    run(main)
    assert sorted(done) == list(range(20))


def test_empty_group_waits_for_nothing() -> None:
    errgroup.Group().wait()


def test_wait_raises_the_first_exception() -> None:
    first, second = Boom("first"), Boom("second")
    ran: list[str] = []

    def fail(e: Exception) -> None:
        raise e

    def ok() -> None:
        gosched()
        ran.append("ok")

    def main() -> None:
        g = errgroup.Group()
        g.go(fail, first)
        g.go(ok)
        g.go(fail, second)
        with pytest.raises(Boom) as ei:
            g.wait()
        # go() runs the newest goroutine first (Go's runnext), so "second"
        # raised first; whichever did, wait() gives back that one.
        assert ei.value is g._err
        assert ran == ["ok"]

    run(main)


def test_exception_held_by_group_does_not_end_run() -> None:
    def main() -> str:
        g = errgroup.Group()
        g.go(lambda: 1 / 0)
        try:
            g.wait()
        except ZeroDivisionError:
            return "caught"
        return "not raised"

    assert run(main) == "caught"


@pytest.mark.offset
def test_with_context_cancelled_at_first_error() -> None:
    g, ctx = errgroup.with_context(context.background())
    stopped: list[Any] = []

    def waiter() -> None:
        d = ctx.done()
        assert d is not None
        d.recv()
        stopped.append(ctx.err())

    def fail() -> None:
        raise Boom("bad")

    for _ in range(5):
        g.go(waiter)
    g.go(fail)
    with pytest.raises(Boom, match="^bad$"):
        g.wait()
    assert len(stopped) == 5
    assert all(isinstance(e, context.Canceled) for e in stopped)
    cause = context.cause(ctx)
    assert isinstance(cause, Boom) and str(cause) == "bad"


@pytest.mark.offset
def test_with_context_cancelled_when_wait_returns() -> None:
    g, ctx = errgroup.with_context(context.background())
    g.go(lambda: None)
    g.wait()
    assert isinstance(ctx.err(), context.Canceled)
    assert context.cause(ctx) is ctx.err()


@pytest.mark.offset
def test_with_context_follows_the_parent() -> None:
    parent, cancel = context.with_cancel(context.background())
    g, ctx = errgroup.with_context(parent)

    def until_cancelled() -> None:
        d = ctx.done()
        assert d is not None
        d.recv()
        raise Boom("stopped by parent")

    g.go(until_cancelled)
    cancel()
    with pytest.raises(Boom):
        g.wait()


def test_set_limit_bounds_active_goroutines() -> None:
    # x/sync: TestGoLimit.
    limit = 3
    active = 0
    most = 0

    def work() -> None:
        nonlocal active, most
        active += 1
        most = max(most, active)
        time.sleep(time.MILLISECOND)
        active -= 1

    def main() -> None:
        g = errgroup.Group()
        g.set_limit(limit)
        for _ in range(30):
            g.go(work)
            assert active <= limit
        g.wait()

    run(main)
    assert most == limit


@pytest.mark.offset
def test_try_go_and_limit_changes() -> None:
    g = errgroup.Group()
    g.set_limit(1)
    gate = makechan()
    assert g.try_go(gate.recv)
    assert not g.try_go(lambda: None)  # at the limit
    with pytest.raises(PanicError, match=r"^errgroup: modify limit while 1 goroutines in the group are still active$"):
        g.set_limit(2)
    gate.send(None)
    g.wait()
    g.set_limit(2)  # nobody active: allowed
    g.set_limit(-1)  # no limit
    for _ in range(10):
        assert g.try_go(gosched)
    g.wait()


@pytest.mark.offset
def test_limit_zero_lets_none_start() -> None:
    g = errgroup.Group()
    g.set_limit(0)
    assert not g.try_go(lambda: None)


def test_wait_from_a_plain_thread() -> None:
    out: list[str] = []
    g = errgroup.Group()
    started = sync.WaitGroup()
    started.add(1)

    def waiter() -> None:
        started.wait()
        try:
            g.wait()
        except Boom:
            out.append("raised")

    t = threading.Thread(target=waiter, daemon=True)
    t.start()

    def main() -> None:
        def fail() -> None:
            raise Boom("x")

        g.go(fail)
        started.done()
        g._wg.wait()  # main must outlive the group's goroutine
        while t.is_alive():
            time.sleep(100 * time.MICROSECOND)

    run(main)
    t.join(TIMEOUT)
    assert out == ["raised"]


def test_go_rejects_non_callable_and_bad_limit() -> None:
    g = errgroup.Group()
    with pytest.raises(TypeError, match="'fn' must be callable"):
        g.go(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'fn' must be callable"):
        g.try_go(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'n' must be int"):
        g.set_limit("3")  # type: ignore[arg-type]


def test_base_exceptions_are_not_held() -> None:
    def main() -> None:
        g = errgroup.Group()

        def interrupt() -> None:
            raise KeyboardInterrupt

        g.go(interrupt)
        g.wait()

    with pytest.raises(KeyboardInterrupt):
        run(main)


def test_goroutines_keep_the_function_name() -> None:
    def named_worker() -> None:
        select()  # blocks forever

    def main() -> None:
        g = errgroup.Group()
        g.go(named_worker)
        g.wait()

    with pytest.raises(DeadlockError, match="named_worker"):
        run(main)


# -- the example in examples/ -------------------------------------------------------


def test_example_errgroup_fetch() -> None:
    assert run_example("errgroup_fetch.py").splitlines() == [
        "error: Get 'https://www.somestupidname.com/': no such host",
        "fetched https://golang.org/",
        "fetched https://pkg.go.dev/",
        "slow fetch cancelled: True",
    ]
