"""offset.context: cancellation trees, deadlines, values (Go's context).

Go's src/context/context_test.go and x_test.go are the model:
TestBackground, TestWithCancel (children cancelled with the parent, never
the other way), TestParentFinishesChild, TestChildFinishesFirst (a child
leaves its parent's children), TestDeadline/TestTimeout, TestValues,
TestCanceledTimeout, TestCause. Contexts are also cancelled across
threads and schedulers, and cancel functions release timers.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from support import heap_len, poll, run_example

from offset import PanicError, context, default, go, makechan, run, select, time

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


def test_with_cancel() -> None:
    def main() -> None:
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

    run(main)


def test_done_is_usable_in_select() -> None:
    def main() -> None:
        ctx, cancel = context.with_cancel(context.background())
        work = makechan()
        go(cancel)
        d = ctx.done()
        assert d is not None
        ret = select(work.if_recv(), d.if_recv())
        assert ret == d.if_recv()

    run(main)


def test_cancelling_parent_cancels_every_child_not_the_other_way() -> None:
    # Go: TestWithCancel / TestParentFinishesChild / TestChildFinishesFirst.
    def main() -> None:
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

    run(main)


def test_child_of_a_done_parent_is_done_at_once() -> None:
    parent, cancel = context.with_cancel(context.background())
    cancel()
    child, _ = context.with_cancel(parent)
    assert isinstance(child.err(), context.Canceled)
    tchild, _ = context.with_timeout(parent, time.HOUR)
    assert isinstance(tchild.err(), context.Canceled)
    assert tchild._timer is None  # type: ignore[attr-defined]


def test_cancelled_context_keeps_no_children_and_no_timer() -> None:
    # "A context that is never cancelled costs nothing after its parent is done."
    def main() -> None:
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

    run(main)


def test_cancel_removes_child_from_parent() -> None:
    parent, _ = context.with_cancel(context.background())
    kids = [context.with_cancel(parent) for _ in range(10)]
    for _, cancel in kids:
        cancel()
    assert parent._children == {}  # type: ignore[attr-defined]


def test_with_timeout_expires() -> None:
    def main() -> None:
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

    run(main)


def test_cancel_releases_the_timer() -> None:
    def main() -> None:
        ctx, cancel = context.with_timeout(context.background(), time.HOUR)
        assert heap_len() == 1
        cancel()
        assert heap_len() == 0
        assert isinstance(ctx.err(), context.Canceled)

    run(main)


def test_deadline_in_the_past_and_earlier_parent_deadline() -> None:
    def main() -> None:
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

    run(main)


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


def test_cancel_from_a_thread_wakes_a_goroutine_and_vice_versa() -> None:
    def main() -> None:
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

    run(main)


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


# -- the example in examples/ -------------------------------------------------------


def test_example_context_timeout() -> None:
    # Go: pkg.go.dev/context, the WithCancel and WithTimeout examples.
    assert run_example("context_timeout.py") == "1\n2\n3\n4\n5\ncontext deadline exceeded\n"
