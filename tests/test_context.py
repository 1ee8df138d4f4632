"""offset.context: cancellation trees, deadlines, values (Go's context).

Go's src/context/context_test.go and x_test.go are the model:
TestBackground, TestWithCancel (children cancelled with the parent, never
the other way), TestParentFinishesChild, TestChildFinishesFirst (a child
leaves its parent's children), TestDeadline/TestTimeout, TestValues,
TestCanceledTimeout, TestCause, and Go 1.21's TestWithoutCancel,
TestAfterFunc* and the custom-Context propagation tests (a user's
Context subclass that wraps an offset context; one with an AfterFunc
method). Contexts are also cancelled across threads and schedulers, and
cancel functions release timers.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support import heap_len, poll, run_example

from offset import PanicError, context, default, go, gosched, makechan, run, select, sync, time

MS = time.MILLISECOND
SLACK = 2 * time.SECOND
TIMEOUT = 10.0


def is_done(ctx: context.Context) -> bool:
    d = ctx.done()
    return d is not None and select(d.if_recv(), default) is not default


def test_background_and_todo() -> None:
    for ctx, name in ((context.background(), "context.Background"), (context.todo(), "context.TODO")):
        assert ctx.done() is None
        assert ctx.err() is None
        assert ctx.deadline() is None
        assert ctx.value("k") is None
        assert repr(ctx) == name
    assert context.background() is context.background()
    assert context.cause(context.background()) is None


def test_error_classes() -> None:
    assert str(context.Canceled()) == "context canceled"
    assert str(context.DeadlineExceeded()) == "context deadline exceeded"
    assert issubclass(context.DeadlineExceeded, TimeoutError)
    assert not issubclass(context.Canceled, TimeoutError)


@pytest.mark.offset
def test_with_cancel() -> None:
    ctx, cancel = context.with_cancel(context.background())
    assert repr(ctx) == "context.Background.WithCancel"
    d = ctx.done()
    assert d is not None and d is ctx.done()
    assert ctx.err() is None and not is_done(ctx)
    cancel()
    assert isinstance(ctx.err(), context.Canceled)
    assert str(ctx.err()) == "context canceled"
    assert d.recv_ok() == (None, False)  # closed
    cancel()  # again: nothing happens
    assert isinstance(ctx.err(), context.Canceled)


@pytest.mark.offset
def test_done_is_usable_in_select() -> None:
    ctx, cancel = context.with_cancel(context.background())
    work = makechan()
    go(cancel)
    d = ctx.done()
    assert d is not None
    ret = select(work.if_recv(), d.if_recv())
    assert ret == d.if_recv()


@pytest.mark.offset
def test_cancelling_parent_cancels_every_child_not_the_other_way() -> None:
    # Go: TestWithCancel / TestParentFinishesChild / TestChildFinishesFirst.
    root, cancel_root = context.with_cancel(context.background())
    a, cancel_a = context.with_cancel(root)
    b, _ = context.with_timeout(root, time.HOUR)
    c = context.with_value(a, "k", "v")
    d, _ = context.with_cancel(c)
    e, cancel_e = context.with_cancel(d)
    cancel_e()
    assert is_done(e) and not is_done(d) and not is_done(root)
    assert d._children == {}  # type: ignore[attr-defined]  # e left its parent
    assert heap_len() == 1  # b's timer
    cancel_root()
    for x in (root, a, b, c, d, e):
        assert is_done(x), x
        assert isinstance(x.err(), context.Canceled)
    assert heap_len() == 0  # b's timer went with it
    cancel_a()


def test_child_of_a_done_parent_is_done_at_once() -> None:
    parent, cancel = context.with_cancel(context.background())
    cancel()
    child, _ = context.with_cancel(parent)
    assert isinstance(child.err(), context.Canceled)
    tchild, _ = context.with_timeout(parent, time.HOUR)
    assert isinstance(tchild.err(), context.Canceled)
    assert tchild._timer is None  # type: ignore[attr-defined]


@pytest.mark.offset
def test_cancelled_context_keeps_no_children_and_no_timer() -> None:
    # "A context that is never cancelled costs nothing after its parent is done."
    parent, cancel = context.with_cancel(context.background())
    kids = [context.with_timeout(parent, time.HOUR)[0] for _ in range(100)]
    grandkids = [context.with_cancel(k)[0] for k in kids]
    assert len(parent._children) == 100  # type: ignore[attr-defined]
    assert heap_len() == 100
    cancel()
    assert parent._children is None  # type: ignore[attr-defined]
    assert all(k._children is None and k._timer is None for k in kids)  # type: ignore[attr-defined]
    assert all(is_done(g) for g in grandkids)
    assert heap_len() == 0


def test_cancel_removes_child_from_parent() -> None:
    parent, _ = context.with_cancel(context.background())
    kids = [context.with_cancel(parent) for _ in range(10)]
    for _, cancel in kids:
        cancel()
    assert parent._children == {}  # type: ignore[attr-defined]


@pytest.mark.offset
def test_with_timeout_expires() -> None:
    t0 = time.now()
    ctx, cancel = context.with_timeout(context.background(), 20 * MS)
    dl = ctx.deadline()
    assert dl is not None and dl - t0 >= 20 * MS
    assert "WithDeadline" in repr(ctx)
    d = ctx.done()
    assert d is not None
    d.recv()
    took = time.since(t0)
    assert 20 * MS <= took < 20 * MS + SLACK
    err = ctx.err()
    assert isinstance(err, context.DeadlineExceeded)
    assert str(err) == "context deadline exceeded"
    assert heap_len() == 0
    cancel()
    assert isinstance(ctx.err(), context.DeadlineExceeded)


@pytest.mark.offset
def test_cancel_releases_the_timer() -> None:
    ctx, cancel = context.with_timeout(context.background(), time.HOUR)
    assert heap_len() == 1
    cancel()
    assert heap_len() == 0
    assert isinstance(ctx.err(), context.Canceled)


@pytest.mark.offset
def test_deadline_in_the_past_and_earlier_parent_deadline() -> None:
    ctx, _ = context.with_deadline(context.background(), time.now() - 1)
    assert isinstance(ctx.err(), context.DeadlineExceeded)
    assert heap_len() == 0
    parent, _ = context.with_timeout(context.background(), 30 * MS)
    child, _ = context.with_timeout(parent, time.HOUR)
    assert child.deadline() == parent.deadline()  # the parent's comes first
    d = child.done()
    assert d is not None
    d.recv()
    assert isinstance(child.err(), context.DeadlineExceeded)
    later, _ = context.with_deadline(parent, time.now() + time.HOUR)
    assert isinstance(later.err(), context.DeadlineExceeded)


def test_with_value() -> None:
    class Key:
        pass

    k1, k2 = Key(), Key()
    ctx = context.with_value(context.background(), k1, "one")
    ctx = context.with_value(ctx, "name", 2)
    cctx, cancel = context.with_cancel(ctx)
    vctx = context.with_value(cctx, k2, None)
    vctx = context.with_value(vctx, "name", 3)  # shadows
    assert vctx.value(k1) == "one"
    assert vctx.value("name") == 3
    assert cctx.value("name") == 2
    assert vctx.value(k2) is None
    assert vctx.value("missing") is None
    assert repr(context.with_value(context.background(), "a", 1)) == "context.Background.WithValue('a', 1)"
    cancel()
    assert isinstance(vctx.err(), context.Canceled)
    assert vctx.done() is cctx.done()


def test_deep_chain_needs_no_recursion() -> None:
    ctx: context.Context = context.background()
    root, cancel = context.with_cancel(ctx)
    ctx = context.with_value(root, "deep", "yes")
    for i in range(5000):
        ctx = context.with_value(ctx, i, i) if i % 2 else context.with_cancel(ctx)[0]
    assert ctx.value("deep") == "yes"
    cancel()
    assert isinstance(ctx.err(), context.Canceled)


def test_misuse() -> None:
    with pytest.raises(PanicError, match=r"^cannot create context from nil parent$"):
        context.with_cancel(None)  # type: ignore[arg-type]
    with pytest.raises(PanicError, match=r"^cannot create context from nil parent$"):
        context.with_timeout(None, MS)  # type: ignore[arg-type]
    with pytest.raises(PanicError, match=r"^nil key$"):
        context.with_value(context.background(), None, 1)
    with pytest.raises(TypeError, match="'parent' must be a Context"):
        context.with_cancel(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'d' must be an int"):
        context.with_timeout(context.background(), 1.5)  # type: ignore[arg-type]


def test_cause() -> None:
    ctx, cancel = context.with_cancel_cause(context.background())
    child, _ = context.with_cancel(ctx)
    assert context.cause(ctx) is None
    why = ValueError("why")
    cancel(why)
    assert isinstance(ctx.err(), context.Canceled)
    assert context.cause(ctx) is why
    assert context.cause(child) is why
    plain, cancel2 = context.with_cancel(context.background())
    cancel2()
    assert context.cause(plain) is plain.err()
    ctx3, cancel3 = context.with_cancel_cause(context.background())
    cancel3(None)
    assert context.cause(ctx3) is ctx3.err()


@pytest.mark.offset
def test_cancel_from_a_thread_wakes_a_goroutine_and_vice_versa() -> None:
    ctx, cancel = context.with_cancel(context.background())
    t = threading.Thread(target=cancel, daemon=True)
    t.start()
    d = ctx.done()
    assert d is not None
    d.recv()
    assert isinstance(ctx.err(), context.Canceled)
    poll(lambda: not t.is_alive(), "the thread")

    ctx2, cancel2 = context.with_cancel(context.background())
    seen: list[Any] = []

    def waiter() -> None:
        d2 = ctx2.done()
        assert d2 is not None
        d2.recv()
        seen.append(ctx2.err())

    t2 = threading.Thread(target=waiter, daemon=True)
    t2.start()
    cancel2()
    poll(lambda: not t2.is_alive(), "the waiting thread")
    assert isinstance(seen[0], context.Canceled)


def test_err_is_set_whenever_done_is_closed_across_threads() -> None:
    # Go's contract: once Done is closed, Err is non-nil.
    bad: list[str] = []

    def waiter(ctx: context.Context) -> None:
        d = ctx.done()
        assert d is not None
        d.recv()
        if ctx.err() is None:
            bad.append("err None after done closed")

    for _ in range(50):
        ctx, cancel = context.with_cancel(context.background())
        ts = [threading.Thread(target=waiter, args=(ctx,), daemon=True) for _ in range(3)]
        for t in ts:
            t.start()
        cancel()
        for t in ts:
            t.join(TIMEOUT)
    assert not bad


def test_timeout_made_in_a_plain_thread() -> None:
    out: list[Any] = []

    def body() -> None:
        t0 = time.now()
        ctx, cancel = context.with_timeout(context.background(), 20 * MS)
        d = ctx.done()
        assert d is not None
        d.recv()
        out.append((ctx.err(), time.since(t0)))
        cancel()

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(TIMEOUT)
    err, took = out[0]
    assert isinstance(err, context.DeadlineExceeded)
    assert took >= 20 * MS


def test_foreign_context_parent_is_watched() -> None:
    class MyCtx(context.Context):
        def __init__(self) -> None:
            self.ch = makechan()
            self.error: BaseException | None = None

        def done(self) -> Any:
            return self.ch

        def err(self) -> BaseException | None:
            return self.error

        def cancel(self) -> None:
            self.error = context.Canceled()
            self.ch.close()

    def main() -> None:
        parent = MyCtx()
        child, cancel_child = context.with_cancel(parent)
        v = context.with_value(parent, "k", 1)
        assert v.value("k") == 1
        parent.cancel()
        d = child.done()
        assert d is not None
        d.recv()
        assert isinstance(child.err(), context.Canceled)
        parent2 = MyCtx()
        child2, cancel2 = context.with_cancel(parent2)
        cancel2()  # the watcher goroutine ends with the child
        assert isinstance(child2.err(), context.Canceled)
        assert parent2.err() is None

    run(main)  # returns: no watcher goroutine is left behind


def test_context_cancels_goroutines_in_another_scheduler() -> None:
    ctx, cancel = context.with_cancel(context.background())
    stopped: list[str] = []

    def worker() -> None:
        ticker = time.Ticker(MS)
        d = ctx.done()
        assert d is not None
        while True:
            if select(d.if_recv(), ticker.c.if_recv()) == d.if_recv():
                ticker.stop()
                stopped.append("worker")
                return

    t = threading.Thread(target=run, args=(worker,), daemon=True)
    t.start()

    def main() -> None:
        cancel()
        poll(lambda: not t.is_alive(), "the other scheduler")

    run(main)
    assert stopped == ["worker"]


# -- Go 1.21: WithoutCancel, WithDeadlineCause, WithTimeoutCause, AfterFunc ----------


def test_without_cancel_keeps_values_and_nothing_else() -> None:
    # Go: TestWithoutCancel.
    def main() -> None:
        parent, cancel = context.with_cancel_cause(context.background())
        vparent = context.with_value(parent, "k", "v")
        dparent, _ = context.with_timeout(vparent, time.HOUR)
        ctx = context.without_cancel(dparent)
        assert repr(context.without_cancel(vparent)) == f"{vparent!r}.WithoutCancel"
        assert ctx.value("k") == "v"
        assert ctx.done() is None and ctx.err() is None and ctx.deadline() is None
        child, cancel_child = context.with_cancel(ctx)
        cancel(ValueError("why"))
        assert isinstance(dparent.err(), context.Canceled)
        assert ctx.err() is None and ctx.done() is None and context.cause(ctx) is None
        assert child.err() is None and context.cause(child) is None
        cancel_child()
        assert context.cause(child) is child.err()
        assert context.cause(context.with_value(ctx, "x", 1)) is None

    run(main)
    with pytest.raises(PanicError, match=r"^cannot create context from nil parent$"):
        context.without_cancel(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'parent' must be a Context"):
        context.without_cancel("ctx")  # type: ignore[arg-type]


def test_with_deadline_cause_and_with_timeout_cause() -> None:
    # Go: TestCause's WithDeadlineCause and WithTimeoutCause rows.
    def main() -> None:
        why = TimeoutError("too slow")
        ctx, cancel = context.with_timeout_cause(context.background(), 5 * MS, why)
        assert ctx.deadline() is not None and context.cause(ctx) is None
        d = ctx.done()
        assert d is not None
        d.recv()
        assert isinstance(ctx.err(), context.DeadlineExceeded)
        assert context.cause(ctx) is why
        assert context.cause(context.with_value(ctx, "k", 1)) is why
        cancel()
        assert context.cause(ctx) is why

        past, _ = context.with_deadline_cause(context.background(), time.now() - 1, why)
        assert isinstance(past.err(), context.DeadlineExceeded)
        assert context.cause(past) is why

        # cancel() first: the cause is the Canceled, not the deadline's.
        early, cancel_early = context.with_deadline_cause(context.background(), time.now() + time.HOUR, why)
        cancel_early()
        assert isinstance(early.err(), context.Canceled)
        assert context.cause(early) is early.err()
        assert heap_len() == 0

        nocause, _ = context.with_timeout_cause(context.background(), -1, None)
        assert context.cause(nocause) is nocause.err()

        # A parent cancelled with a cause: the child's cause is the parent's.
        parent, pcancel = context.with_cancel_cause(context.background())
        child, _ = context.with_timeout_cause(parent, time.HOUR, why)
        pcause = ValueError("parent")
        pcancel(pcause)
        assert context.cause(child) is pcause
        assert heap_len() == 0

    run(main)
    with pytest.raises(TypeError, match=r"^argument 'cause' must be an exception or None, not str$"):
        context.with_timeout_cause(context.background(), MS, "why")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^argument 't' must be an int of nanoseconds, not float$"):
        context.with_deadline_cause(context.background(), 1.0, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^argument 'd' must be an int of nanoseconds, not float$"):
        context.with_timeout_cause(context.background(), 1.0, None)  # type: ignore[arg-type]
    with pytest.raises(PanicError, match=r"^cannot create context from nil parent$"):
        context.with_deadline_cause(None, 0, None)  # type: ignore[arg-type]


def test_after_func_runs_f_in_its_own_goroutine_once_done() -> None:
    # Go: TestAfterFuncCalledAfterCancel / TestAfterFuncNotCalledAfterStop.
    events: list[str] = []

    def main() -> None:
        ctx, cancel = context.with_cancel(context.background())
        me = threading.get_ident()
        ran = makechan()

        def f() -> None:
            assert threading.get_ident() == me
            events.append("f")
            ran.close()

        stop = context.after_func(ctx, f)
        assert len(ctx._children) == 1  # type: ignore[attr-defined]
        cancel()
        assert events == []  # not called by cancel itself: a goroutine of its own
        ran.recv()
        assert events == ["f"]
        assert stop() is False  # already started
        assert stop() is False

        ctx2, cancel2 = context.with_cancel(context.background())
        stop2 = context.after_func(ctx2, lambda: events.append("never"))
        assert stop2() is True
        assert stop2() is False
        assert ctx2._children == {}  # type: ignore[attr-defined]  # stop left the parent
        cancel2()
        for _ in range(5):
            gosched()
        assert events == ["f"]

    run(main)


def test_after_func_on_a_done_context_runs_at_once_and_each_registration_counts() -> None:
    seen: list[int] = []

    def main() -> None:
        ctx, cancel = context.with_cancel(context.background())
        cancel()
        wg = sync.WaitGroup()
        wg.add(3)
        for i in range(3):
            context.after_func(ctx, lambda i=i: (seen.append(i), wg.done()))
        wg.wait()
        never = context.after_func(context.background(), lambda: seen.append(99))
        assert never() is True

    run(main)
    assert sorted(seen) == [0, 1, 2]


@pytest.mark.offset
def test_after_func_fires_on_deadline_and_on_a_parents_cancel() -> None:
    ctx, _ = context.with_timeout(context.background(), 5 * MS)
    fired = makechan(2)
    context.after_func(ctx, lambda: fired.send("deadline"))
    assert fired.recv() == "deadline"
    assert isinstance(ctx.err(), context.DeadlineExceeded)

    root, cancel = context.with_cancel(context.background())
    leaf = context.with_value(context.with_cancel(root)[0], "k", 1)
    context.after_func(leaf, lambda: fired.send("subtree"))
    cancel()
    assert fired.recv() == "subtree"


def test_after_func_cancelled_from_a_thread_runs_f_in_the_registering_scheduler() -> None:
    where: list[int] = []

    def main() -> None:
        ctx, cancel = context.with_cancel(context.background())
        ran = makechan()
        context.after_func(ctx, lambda: (where.append(threading.get_ident()), ran.close()))
        t = threading.Thread(target=cancel, daemon=True)
        t.start()
        ran.recv()
        t.join(TIMEOUT)
        assert where == [threading.get_ident()]

    run(main)


def test_after_func_outside_any_goroutine_runs_f_in_a_thread() -> None:
    ctx, cancel = context.with_cancel(context.background())
    ran = threading.Event()
    where: list[int] = []
    context.after_func(ctx, lambda: (where.append(threading.get_ident()), ran.set()))
    cancel()
    assert ran.wait(TIMEOUT)
    assert where != [threading.get_ident()]


def test_after_func_stop_races_cancel_exactly_one_wins() -> None:
    # Go: TestAfterFuncStopCalledAfterCancel's contract, from two threads.
    for _ in range(100):
        ctx, cancel = context.with_cancel(context.background())
        ran = threading.Event()
        stop = context.after_func(ctx, ran.set)
        t = threading.Thread(target=cancel, daemon=True)
        t.start()
        stopped = stop()
        t.join(TIMEOUT)
        if not stopped:
            assert ran.wait(TIMEOUT)
        else:
            assert not ran.is_set()


def test_after_func_bad_arguments() -> None:
    with pytest.raises(TypeError, match=r"^after_func\(\) argument 'ctx' must be a Context, not NoneType$"):
        context.after_func(None, lambda: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^after_func\(\) argument 'f' must be callable, not int$"):
        context.after_func(context.background(), 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^cause\(\) argument 'c' must be a Context, not NoneType$"):
        context.cause(None)  # type: ignore[arg-type]


# -- Context subclasses that wrap an offset context (Go's parentCancelCtx) ------------


class Wrapper(context.Context):
    """A user context that delegates everything to the one it wraps."""

    def __init__(self, inner: context.Context) -> None:
        self.inner = inner

    def deadline(self) -> int | None:
        return self.inner.deadline()

    def done(self) -> Any:
        return self.inner.done()

    def err(self) -> BaseException | None:
        return self.inner.err()

    def value(self, key: object) -> Any:
        if key == "wrapped":
            return True
        return self.inner.value(key)


def test_cause_is_found_through_a_wrapper() -> None:
    # Go: TestCustomContextPropagation / Cause through a custom Context.
    parent, cancel = context.with_cancel_cause(context.background())
    w = Wrapper(context.with_value(parent, "k", 1))
    assert context.cause(w) is None
    why = ValueError("why")
    cancel(why)
    assert isinstance(w.err(), context.Canceled)
    assert context.cause(w) is why
    assert context.cause(context.with_value(w, "x", 2)) is why
    assert context.cause(Wrapper(Wrapper(parent))) is why
    assert context.cause(Wrapper(context.without_cancel(parent))) is None
    assert context.cause(Wrapper(context.background())) is None


def test_child_of_a_wrapper_is_cancelled_with_the_wrapped_context_at_once() -> None:
    # Outside any goroutine, and without a gosched: a watcher could not run.
    parent, cancel = context.with_cancel_cause(context.background())
    w = Wrapper(parent)
    child, _ = context.with_cancel(w)
    tchild, _ = context.with_timeout(Wrapper(w), time.HOUR)
    assert child.value("wrapped") is True
    assert set(parent._children) == {child, tchild}  # type: ignore[attr-defined]
    why = ValueError("why")
    cancel(why)
    assert isinstance(child.err(), context.Canceled)
    assert isinstance(tchild.err(), context.Canceled)
    assert context.cause(child) is why and context.cause(tchild) is why
    assert tchild._timer is None  # type: ignore[attr-defined]

    # A child cancelled first leaves the wrapped context's children.
    parent2, _ = context.with_cancel(context.background())
    kids = [context.with_cancel(Wrapper(parent2)) for _ in range(5)]
    for _, c in kids:
        c()
    assert parent2._children == {}  # type: ignore[attr-defined]

    # after_func through a wrapper: registered with the wrapped context too.
    parent3, cancel3 = context.with_cancel(context.background())
    ran = threading.Event()
    context.after_func(Wrapper(parent3), ran.set)
    assert len(parent3._children) == 1  # type: ignore[attr-defined]
    cancel3()
    assert ran.wait(TIMEOUT)


def test_wrapper_with_a_done_channel_of_its_own_is_foreign() -> None:
    class OwnDone(Wrapper):
        def __init__(self, inner: context.Context) -> None:
            super().__init__(inner)
            self.ch = makechan()

        def done(self) -> Any:
            return self.ch

    def main() -> None:
        parent, cancel = context.with_cancel(context.background())
        w = OwnDone(parent)
        child, _ = context.with_cancel(w)
        assert not parent._children  # type: ignore[attr-defined]  # not joined: watched
        w.ch.close()  # its own channel: the child follows it, not parent
        d = child.done()
        assert d is not None
        d.recv()
        assert isinstance(child.err(), context.Canceled)
        cancel()

    run(main)


def test_foreign_parent_with_after_func_is_used_instead_of_a_watcher() -> None:
    # Go's afterFuncer: propagateCancel calls the parent's AfterFunc.
    class Callbacks(context.Context):
        def __init__(self) -> None:
            self.ch = makechan()
            self.error: BaseException | None = None
            self.fns: dict[int, Any] = {}
            self.stopped: list[int] = []

        def done(self) -> Any:
            return self.ch

        def err(self) -> BaseException | None:
            return self.error

        def after_func(self, f: Any) -> Any:
            n = len(self.fns)
            self.fns[n] = f

            def stop() -> bool:
                self.stopped.append(n)
                return self.fns.pop(n, None) is not None

            return stop

        def cancel(self) -> None:
            self.error = context.Canceled()
            self.ch.close()
            for f in list(self.fns.values()):
                f()
            self.fns.clear()

    parent = Callbacks()
    a, _ = context.with_cancel(parent)
    b, cancel_b = context.with_cancel(parent)
    assert len(parent.fns) == 2
    cancel_b()  # leaves the parent through its stop
    assert parent.stopped == [1] and list(parent.fns) == [0]
    parent.cancel()  # no goroutine, no gosched: a is cancelled by the callback
    assert isinstance(a.err(), context.Canceled)
    assert context.cause(a) is parent.err()  # Go: child.cancel(false, parent.Err(), Cause(parent))


# -- the example in examples/ -------------------------------------------------------


def test_example_context_timeout() -> None:
    # Go: pkg.go.dev/context, the WithCancel and WithTimeout examples.
    assert run_example("context_timeout.py") == "1\n2\n3\n4\n5\ncontext deadline exceeded\n"
