"""The scheduler: go, run, maintask, gosched, main-goroutine semantics,
exceptions, deadlock detection, contextvars, and Go's run order.

API.md, "Goroutines and the scheduler". The run queue is FIFO and a goroutine
made runnable by go() or by a wake-up runs next (Go's runnext), so tests
record events and assert the whole order.
"""

from __future__ import annotations

import contextvars
import decimal
import gc
import re
import sys
import threading
import time
import traceback

import pytest
from support import settle

import offset
from offset import DeadlockError, go, gosched, maintask, makechan, run, select
from offset import time as otime
from offset._core import GoroutineExit

DEADLOCK = "all goroutines are asleep - deadlock!"
# Why a test that asserts Go's run order itself is skipped under OFFSET_SHUFFLE.
GO_ORDER = (
    "asserts Go's run order itself (a FIFO run queue, and runnext for the goroutine just "
    "started or woken: README 'How it runs'), which chaos scheduling replaces on purpose"
)


def here() -> int:
    """The caller's current line number."""
    return sys._getframe(1).f_lineno


def tb_functions(exc: BaseException) -> list[str]:
    return [frame.name for frame in traceback.extract_tb(exc.__traceback__)]


def deadlock_entries(message: str) -> list[str]:
    """Split a DeadlockError message into one text per goroutine."""
    first, _, rest = message.partition("\n")
    assert first == DEADLOCK
    return [e.strip() for e in re.split(r"\n(?=goroutine \d+ )", rest.strip("\n")) if e.strip()]


def assert_reported(entries: list[str], name: str, reason: str, line: int) -> None:
    """Exactly one entry names ``name`` waiting on ``reason`` at this file's ``line``."""
    where = f"{__file__}:{line}"
    found = [
        e
        for e in entries
        if re.search(rf"(?<!\w){re.escape(name)}\b", e)  # the name, possibly qualified
        and f"[{reason}]" in e
        and re.search(rf"{re.escape(where)}(?!\d)", e)
    ]
    assert len(found) == 1, f"{name} [{reason}] at {where} not reported once in {entries!r}"


# -- run() and the main goroutine -----------------------------------------


def test_run_returns_main_result_with_args_and_kwargs():
    def main(a, b, *, c):
        return (a, b, c)

    assert run(main, 1, "two", c=[3]) == (1, "two", [3])


def test_run_main_returning_none_returns_none():
    assert run(lambda: None) is None


def test_maintask_returns_fn_and_run_starts_it():
    log = []

    def main():
        log.append("main")
        return 42

    assert maintask(main) is main
    assert log == []
    assert run() == 42
    assert log == ["main"]


def test_run_fn_argument_is_the_main_goroutine_even_with_maintask():
    log = []

    @maintask
    def marked():
        log.append("marked")

    assert run(lambda: log.append("explicit") or "explicit") == "explicit"
    assert log == ["explicit"]


def test_run_without_main_returns_none_when_no_goroutine_is_left():
    log = []
    c = makechan()

    def producer():
        for i in range(3):
            c.send(i)
        c.close()

    def consumer():
        for v in c:
            log.append(v)
            if v == 1:
                go(log.append, "spawned")

    go(producer)
    go(consumer)
    assert run() is None
    # "spawned" runs after the consumer started it, before or after it receives 2.
    assert [v for v in log if v != "spawned"] == [0, 1, 2]
    assert log.index("spawned") > log.index(1)


def test_run_with_nothing_to_do_returns_at_once():
    assert run() is None


@pytest.mark.order_dependent(GO_ORDER)
def test_go_before_run_queues_in_fifo_order():
    log = []
    for name in "abc":
        go(log.append, name)
    assert log == []
    run()
    assert log == ["a", "b", "c"]


def test_go_passes_args_and_kwargs():
    got = []

    def f(a, b=None, *, c):
        got.append((a, b, c))

    def main():
        go(f, 1, c=3)
        settle()

    run(main)
    assert got == [(1, None, 3)]


@pytest.mark.parametrize("nargs", range(6))
def test_go_passes_every_count_of_positional_arguments(nargs):
    # proc_main calls fn(a), fn(a, b)... directly for few arguments (see
    # _proc.py) and fn(*args) beyond: each count reaches the function whole.
    got = []
    args = tuple(range(nargs))

    def f(*a):
        got.append(a)

    run(lambda: go(f, *args) or settle())
    assert got == [args]


def test_go_inside_goroutine_schedules_on_running_scheduler_any_order():
    got = []

    def main():
        c = makechan()
        for n in range(1, 4):
            go(c.send, n)
        got.extend(c.recv() for _ in range(3))

    run(main)
    assert sorted(got) == [1, 2, 3]


@pytest.mark.order_dependent(GO_ORDER)
def test_go_inside_goroutine_schedules_on_running_scheduler():
    log = []

    def main():
        c = makechan()

        def child(n):
            log.append(f"child {n}")
            c.send(n)

        go(child, 1)
        go(child, 2)
        log.append(f"main got {c.recv()}")
        log.append(f"main got {c.recv()}")

    run(main)
    # go() makes the new goroutine runnext (Go's runqput with next=true): the
    # last one started runs first when main blocks; its send wakes main, which
    # then runs next, before child 1.
    assert log == ["child 2", "main got 2", "child 1", "main got 1"]


def test_main_returning_stops_other_goroutines_and_runs_their_finally():
    log = []

    class Resource:
        def __enter__(self):
            log.append("enter")

        def __exit__(self, *exc):
            log.append(f"exit {exc[0].__name__}")

    def blocked_in_recv():
        try:
            makechan().recv()
            log.append("unreachable recv")
        except Exception:  # GoroutineExit is a BaseException: not caught here
            log.append("swallowed")
        except BaseException as e:
            log.append(f"stopped by {type(e).__name__}, Exception: {isinstance(e, Exception)}")
            raise
        finally:
            log.append("finally recv")

    def blocked_in_with():
        with Resource():
            select()

    gate = makechan()
    started = makechan(1)

    def runnable_forever():
        try:
            gate.recv()
            started.send(None)
            while True:
                gosched()
        finally:
            log.append("finally gosched")

    def main():
        go(blocked_in_recv)
        go(blocked_in_with)
        go(runnable_forever)
        settle()  # the first two wait in recv and select, the third at the gate
        gate.close()
        started.recv()  # the third is in its gosched loop
        log.append("main returns")
        return "done"

    assert run(main) == "done"
    assert log[:2] == ["enter", "main returns"]
    # The order in which the survivors are stopped is not specified.
    assert sorted(log[2:]) == [
        "exit GoroutineExit",
        "finally gosched",
        "finally recv",
        "stopped by GoroutineExit, Exception: False",
    ]
    assert log.index("stopped by GoroutineExit, Exception: False") + 1 == log.index("finally recv")


def test_goroutine_exit_is_not_swallowed_by_except_exception():
    log = []

    def stubborn():
        while True:
            try:
                makechan().recv()
            except Exception as e:  # must not catch the stop
                log.append(f"caught {type(e).__name__}")

    def main():
        go(stubborn)
        settle()

    run(main)
    assert log == []


def test_goroutines_never_started_do_not_run_after_main_returns():
    log = []

    def main():
        go(log.append, "never")
        log.append("main")

    run(main)
    assert log == ["main"]


def test_finally_that_blocks_again_does_not_hang_run():
    log = []

    def worker():
        try:
            makechan().recv()
        finally:
            log.append("finally")
            makechan().recv()
            log.append("unreachable")

    def main():
        go(worker)
        settle()

    assert run(main) is None
    assert log == ["finally"]


# -- exceptions escaping goroutines ---------------------------------------


def test_exception_in_goroutine_ends_run_and_keeps_its_traceback():
    log = []

    def failing_goroutine():
        raise ValueError("boom")

    def bystander():
        try:
            makechan().recv()
        finally:
            log.append("bystander stopped")

    def main():
        go(bystander)
        settle()  # the bystander waits in recv
        go(failing_goroutine)
        makechan().recv()
        log.append("unreachable")

    with pytest.raises(ValueError, match=r"^boom$") as info:
        run(main)
    assert "failing_goroutine" in tb_functions(info.value)
    assert log == ["bystander stopped"]


def test_exception_in_main_goroutine_is_raised_by_run():
    def main_fails():
        raise KeyError("k")

    with pytest.raises(KeyError, match=r"^'k'$") as info:
        run(main_fails)
    assert "main_fails" in tb_functions(info.value)


def test_exception_without_main_goroutine_is_raised_by_run():
    def deep():
        raise LookupError("deep")

    def failing():
        deep()

    go(failing)
    with pytest.raises(LookupError, match=r"^deep$") as info:
        run()
    names = tb_functions(info.value)
    assert names.index("failing") < names.index("deep")


def test_first_exception_wins_and_later_goroutines_do_not_run():
    log = []

    def second():
        log.append("second ran")
        raise ValueError("second")

    def first():
        go(second)  # runnable when first fails, so it never starts
        raise ValueError("first")

    go(first)
    with pytest.raises(ValueError, match=r"^first$"):
        run()
    assert log == []


def test_base_exceptions_escaping_a_goroutine_reach_the_caller():
    def exits():
        sys.exit(3)

    with pytest.raises(SystemExit) as info:
        run(lambda: go(exits) or makechan().recv())
    assert info.value.code == 3


# -- deadlock detection ---------------------------------------------------


def test_deadlock_names_every_blocked_goroutine_with_reason_and_line():
    c, d, e = makechan(), makechan(), makechan()
    lines = {}

    def receiver():
        lines["receiver"] = here() + 1
        c.recv()

    def sender():
        lines["sender"] = here() + 1
        d.send(1)

    def selector():
        lines["selector"] = here() + 1
        select(e.if_recv(), e.if_send(2))  # never matches itself

    def nocases():
        lines["nocases"] = here() + 1
        select()

    def only_nones():
        lines["only_nones"] = here() + 1
        select(None, None)

    def main_goroutine():
        for f in (receiver, sender, selector, nocases, only_nones):
            go(f)
        lines["main_goroutine"] = here() + 1
        makechan().recv()

    with pytest.raises(DeadlockError) as info:
        run(main_goroutine)
    message = str(info.value)
    assert message.startswith(DEADLOCK + "\n")
    entries = deadlock_entries(message)
    assert len(entries) == 6, message
    assert_reported(entries, "receiver", "chan receive", lines["receiver"])
    assert_reported(entries, "sender", "chan send", lines["sender"])
    assert_reported(entries, "selector", "select", lines["selector"])
    assert_reported(entries, "nocases", "select (no cases)", lines["nocases"])
    assert_reported(entries, "only_nones", "select (no cases)", lines["only_nones"])
    assert_reported(entries, "main_goroutine", "chan receive", lines["main_goroutine"])


def test_deadlock_reports_the_line_in_user_code_below_offset_frames():
    lines = {}

    def helper(c):
        lines["helper"] = here() + 1
        for _ in c:  # blocks inside Chan.__iter__ / recv_ok
            pass

    def iterating():
        helper(makechan())

    go(iterating)
    with pytest.raises(DeadlockError) as info:
        run()
    entries = deadlock_entries(str(info.value))
    assert len(entries) == 1
    assert_reported(entries, "iterating", "chan receive", lines["helper"])


def test_deadlock_without_main_goroutine():
    def lonely():
        makechan(1).send(1)
        makechan(1).send(2)  # room: does not block
        c = makechan()
        c.send(3)

    go(lonely)
    with pytest.raises(DeadlockError, match=r"^all goroutines are asleep - deadlock!\n") as info:
        run()
    entries = deadlock_entries(str(info.value))
    assert len(entries) == 1 and "lonely" in entries[0] and "[chan send]" in entries[0]


def test_deadlock_of_lone_main_goroutine():
    with pytest.raises(DeadlockError) as info:
        run(lambda: makechan().recv())
    entries = deadlock_entries(str(info.value))
    assert len(entries) == 1 and "<lambda>" in entries[0] and "[chan receive]" in entries[0]


def test_deadlock_stops_blocked_goroutines_and_runs_their_finally():
    log = []

    def worker(n):
        try:
            makechan().recv()
        finally:
            log.append(n)

    go(worker, 1)
    go(worker, 2)
    with pytest.raises(DeadlockError):
        run()
    assert sorted(log) == [1, 2]


def test_deadlock_stops_main_with_goroutine_exit_and_run_raises_it():
    # Every goroutine, main too, is stopped by GoroutineExit; only run()
    # raises the DeadlockError. (The compiled core once took its own
    # traceback entries for a signal handler's and threw the error into main.)
    seen = []

    def waiter(c):
        try:
            c.recv()
        except BaseException as e:
            seen.append(type(e))
            raise

    def main():
        go(waiter, makechan())
        waiter(makechan())

    with pytest.raises(DeadlockError):
        run(main)
    assert seen == [GoroutineExit, GoroutineExit]


def test_deadlock_error_is_a_runtime_error():
    assert issubclass(DeadlockError, RuntimeError)


def test_pending_timer_is_not_a_deadlock_until_it_has_fired():
    log = []

    def sleeper():
        otime.sleep(10 * otime.MILLISECOND)
        log.append("slept")

    def main():
        go(sleeper)
        makechan().recv()  # blocked for good; the sleeper still runs first

    with pytest.raises(DeadlockError) as info:
        run(main)
    assert log == ["slept"]
    entries = deadlock_entries(str(info.value))
    assert len(entries) == 1 and "main" in entries[0]


def test_finally_raising_while_stopped_is_not_swallowed():
    def worker():
        try:
            makechan().recv()
        finally:
            raise ValueError("cleanup failed")

    def main():
        go(worker)
        settle()
        return "main done"

    with pytest.raises(ValueError, match=r"^cleanup failed$"):
        run(main)
    assert run(lambda: "next run") == "next run"


# -- run() again, run() inside a goroutine ----------------------------------


def test_run_again_after_return_after_raise_and_after_deadlock():
    assert run(lambda: 1) == 1
    with pytest.raises(ZeroDivisionError):
        run(lambda: 1 / 0)
    assert run(lambda: 2) == 2
    with pytest.raises(DeadlockError):
        run(lambda: makechan().recv())
    log = []
    go(log.append, "queued after deadlock")
    assert run(lambda: settle() or 3) == 3
    assert log == ["queued after deadlock"]
    c = makechan()

    def ping():
        c.send("ping")

    assert run(lambda: go(ping) or c.recv()) == "ping"


def test_run_from_a_plain_greenlet_in_a_running_scheduler_raises_runtime_error():
    # Inside a goroutine run() acts as main (see below); from anything else in
    # the thread of a running scheduler, such as a greenlet the program made
    # itself, it cannot run a second scheduler there.
    import greenlet

    log = []

    def main():
        with pytest.raises(
            RuntimeError,
            match=r"^offset\.run\(\) is already running in this thread; use go\(\) to start more goroutines$",
        ):
            greenlet.greenlet(lambda: run(lambda: log.append("inner main"))).switch()
        c = makechan()
        go(c.send, "still works")
        return c.recv()

    assert run(main) == "still works"
    assert log == []


# -- gosched ----------------------------------------------------------------


@pytest.mark.order_dependent(GO_ORDER)
def test_gosched_lets_others_run_in_fifo_order():
    log = []

    def worker(name):
        for i in range(3):
            log.append(f"{name}{i}")
            gosched()

    go(worker, "a")
    go(worker, "b")
    go(worker, "c")
    run()
    assert log == ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"]


@pytest.mark.order_dependent(GO_ORDER)
def test_gosched_in_main_runs_goroutines_started_before_it():
    log = []

    def main():
        go(log.append, "a")
        go(log.append, "b")
        go(log.append, "c")
        log.append("main gosched")
        gosched()
        log.append("main back")

    run(main)
    # Go: c is runnext, a and b in the run queue, main goes to the back.
    assert log == ["main gosched", "c", "a", "b", "main back"]


def test_gosched_loop_does_not_starve_timers():
    """A goroutine that only yields must still let a timer fire."""
    done = []

    def sleeper():
        otime.sleep(otime.MILLISECOND)
        done.append(True)

    def main():
        go(sleeper)
        deadline = time.monotonic() + 30
        spins = 0
        while not done:
            assert time.monotonic() < deadline, "timer starved by a gosched loop"
            gosched()
            spins += 1
        return spins

    assert run(main) > 0


def test_gosched_loop_does_not_starve_wakeups_from_other_threads():
    c = makechan(1)
    got = []

    def main():
        t = threading.Thread(target=c.send, args=("from thread",))
        t.start()
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, "wake-up starved by a gosched loop"
            ret = select(c.if_recv(), offset.default)
            if ret is not offset.default:
                got.append(ret.value)
                break
            gosched()
        t.join(30)

    run(main)
    assert got == ["from thread"]


def test_gosched_outside_a_goroutine_returns():
    assert gosched() is None


# -- run order: Go's runnext --------------------------------------------------


@pytest.mark.order_dependent(GO_ORDER)
def test_goroutine_woken_by_a_send_runs_next():
    log = []
    ca, cb = makechan(), makechan()

    def ra():
        log.append("a parks")
        log.append(f"a got {ca.recv()}")

    def rb():
        log.append("b parks")
        log.append(f"b got {cb.recv()}")

    def other():
        log.append("other")

    def main():
        go(ra)
        go(rb)
        gosched()
        log.append("main resumes")
        go(other)  # other is runnext ...
        ca.send(1)  # ... until a, woken here, takes its place
        log.append("main after send")
        gosched()
        log.append("main after gosched")
        cb.send(2)  # b is woken and runnable, but main returns first
        log.append("main returns")

    run(main)
    assert log == [
        "b parks",
        "a parks",
        "main resumes",
        "main after send",
        "a got 1",
        "other",
        "main after gosched",
        "main returns",
    ]


def test_unbuffered_ping_pong_order():
    log = []
    ping, pong = makechan(), makechan()

    def player():
        for v in ping:
            log.append(f"player got {v}")
            pong.send(v + 1)
            log.append(f"player sent {v + 1}")

    def main():
        go(player)
        for i in (0, 10):
            log.append(f"main sends {i}")
            ping.send(i)
            log.append(f"main got {pong.recv()}")
        ping.close()

    run(main)
    assert log == [
        "main sends 0",
        "player got 0",
        "main got 1",
        "main sends 10",
        "player sent 1",
        "player got 10",
        "main got 11",
    ]


def test_same_program_same_order_on_every_run():
    """The order is a function of the program, not of earlier run() calls.

    The program makes about 40 switches with a runnext and a run queue
    competing at every one, so any state carried from one run() to the next
    (such as a switch counter) would move where the scheduler's periodic
    fairness check lands and change the interleaving.
    """

    def program():
        log = []
        c = makechan()

        def worker(i):
            for k in range(3):
                log.append((i, k))
                c.send(i)

        def main():
            for i in range(5):
                go(worker, i)
            for _ in range(15):
                log.append(("main", c.recv()))

        run(main)
        return log

    distinct = {tuple(program()) for _ in range(64)}
    assert len(distinct) == 1, f"{len(distinct)} different orders in 64 runs"


def test_many_goroutines():
    n = 5000
    results = makechan(n)

    def worker(i):
        if i % 2:
            gosched()
        results.send(i)

    def main():
        for i in range(n):
            go(worker, i)
        return sorted(results.recv() for _ in range(n))

    assert run(main) == list(range(n))


def test_deep_chain_of_goroutines():
    def relay(depth, out):
        if depth == 0:
            out.send(0)
            return
        inner = makechan()
        go(relay, depth - 1, inner)
        out.send(inner.recv() + 1)

    def main():
        c = makechan()
        go(relay, 500, c)
        return c.recv()

    assert run(main) == 500


# -- contextvars ---------------------------------------------------------------

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


def test_goroutine_runs_in_a_copy_of_the_context_that_called_go():
    log = []

    def child(c):
        log.append(f"child sees {request_id.get()}")
        request_id.set("child")
        log.append(f"child set {request_id.get()}")
        c.send(None)

    def main():
        c = makechan()
        go(child, c)  # before the parent sets it: the child's copy is older
        request_id.set("parent")
        go(child, c)
        c.recv()
        c.recv()
        log.append(f"parent sees {request_id.get()}")

    run(main)
    # Each child logs twice without parking in between; they run in either order.
    assert sorted([log[0:2], log[2:4]]) == [
        ["child sees parent", "child set child"],
        ["child sees unset", "child set child"],
    ]
    assert log[4:] == ["parent sees parent"]


def test_go_before_run_and_main_goroutine_copy_the_callers_context():
    seen = []
    token = request_id.set("outer")
    try:

        def child():
            seen.append(("child", request_id.get()))
            request_id.set("child")

        def main():
            seen.append(("main", request_id.get()))
            request_id.set("main")
            settle()

        go(child)
        run(main)
        assert request_id.get() == "outer"
    finally:
        request_id.reset(token)
    assert sorted(seen) == [("child", "outer"), ("main", "outer")]


@pytest.mark.parametrize("extra", [0, 1, 2, 3])
def test_a_running_goroutine_keeps_no_tuple_of_its_arguments(extra):
    # Up to three arguments are unpacked from go()'s tuple and it is freed
    # (48 bytes a parked go(f, c)); past three, the tuple is what the
    # function is called with (*args), and stays.
    class Payload:
        pass

    held_in_tuple = []

    def worker(p, *rest):
        gc.collect()
        held_in_tuple.append(any(type(r) is tuple and p in r for r in gc.get_referrers(p)))

    def main():
        go(worker, Payload(), *[object() for _ in range(extra)])
        settle()

    run(main)
    assert held_in_tuple == [1 + extra > 3]


def test_goroutines_started_from_an_empty_context_do_not_share_what_they_set():
    # A goroutine started from an empty context gets no copy (it would be
    # empty too): each still sets variables in its own context, seen by no
    # other goroutine, by its parent, or by the next goroutine run on the
    # same Proc.
    seen = []

    def child(name):
        seen.append((name, request_id.get()))
        request_id.set(name)
        gosched()  # the others run and set theirs meanwhile
        seen.append((name, request_id.get()))

    def main():
        for name in ("a", "b", "c"):
            go(child, name)
        settle()
        go(child, "d")  # runs on a Proc that a, b or c finished on
        settle()
        seen.append(("main", request_id.get()))

    def in_thread():
        assert len(contextvars.copy_context()) == 0  # a new thread's context is empty
        run(main)

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert sorted(seen) == sorted([(n, "unset") for n in "abcd"] + [(n, n) for n in "abcd"] + [("main", "unset")])


def test_decimal_context_is_per_goroutine():
    out = makechan(2)

    def precise(prec):
        decimal.setcontext(decimal.Context(prec=prec))
        gosched()  # the other goroutine sets its own context meanwhile
        out.send(str(decimal.Decimal(1) / decimal.Decimal(7)))

    def main():
        go(precise, 3)
        go(precise, 6)
        return sorted([out.recv(), out.recv()])

    assert run(main) == ["0.142857", "0.143"]


# -- argument checking ---------------------------------------------------------


def test_go_rejects_non_callable():
    with pytest.raises(TypeError, match=r"^go\(\) argument 'fn' must be callable, not int$"):
        go(42)


def test_run_rejects_non_callable():
    with pytest.raises(TypeError, match=r"^run\(\) argument 'fn' must be callable, not str$"):
        run("main")


def test_maintask_rejects_non_callable():
    with pytest.raises(TypeError, match=r"^maintask\(\) argument 'fn' must be callable, not NoneType$"):
        maintask(None)


def test_public_functions_report_module_offset():
    for f in (go, run, maintask, gosched, makechan, select, offset.syscall):
        assert f.__module__ == "offset", f


def test_goroutine_started_from_a_deep_stack_gets_a_fresh_recursion_budget():
    """greenlet starts a greenlet at the recursion depth of whoever first
    switches into it, and Procs are reused: one started from deep inside a
    goroutine would pass that depth on to every goroutine it later runs.
    Seen as RecursionError in urllib after ~20 generations of goroutines
    spawned from inside urllib."""
    import sys

    def deep(n, f):
        return f() if n == 0 else deep(n - 1, f)

    def main():
        c = makechan()
        got = []

        def child():
            def rec(n):
                return 0 if n == 0 else 1 + rec(n - 1)

            try:
                got.append(rec(sys.getrecursionlimit() - 150))
            except RecursionError:
                got.append("RecursionError")
            c.send(None)

        def spawn_and_wait():
            go(child)
            c.recv()

        for _ in range(3):  # generations: each spawned from deep inside the last
            deep(sys.getrecursionlimit() // 2, spawn_and_wait)
        return got

    limit = sys.getrecursionlimit() - 150
    assert run(main) == [limit, limit, limit]


def test_run_inside_a_goroutine_acts_as_main():
    """A program run by `python -m offset` calls run() from its main goroutine:
    run(fn) calls fn there and returns its result."""
    log = []

    def prog(x):
        go(log.append, "other")
        return x * 2

    def outer():
        return run(prog, 21)

    assert run(outer) == 42


def test_bare_run_inside_a_goroutine_waits_for_the_others():
    log = []

    def worker(i, c):
        log.append(("start", i))
        c.send(i)
        log.append(("end", i))

    def outer():
        c = makechan(3)
        for i in range(3):
            go(worker, i, c)
        assert run() is None  # returns once the three workers are done
        log.append("run returned")
        return sorted(c.recv() for _ in range(3))

    assert run(outer) == [0, 1, 2]
    assert log[-1] == "run returned"
    assert sorted(e for e in log if e != "run returned") == sorted(
        [("start", i) for i in range(3)] + [("end", i) for i in range(3)]
    )


def test_bare_run_inside_a_goroutine_with_blocked_goroutines_is_a_deadlock():
    def outer():
        c = makechan()
        go(c.recv)
        run()

    with pytest.raises(DeadlockError) as info:
        run(outer)
    assert "[run (waiting for goroutines)]" in str(info.value)
    assert "[chan receive]" in str(info.value)


# Ctrl-C runs in a fresh interpreter: a real SIGINT must not be able to reach
# pytest itself, and the suite's switch tracer (conftest) runs Python code
# inside greenlet switches, where a pending signal could be raised in the
# tracer rather than in the program, which no real program does.
_CTRL_C = """
import os, signal, sys, threading, time
from offset import makechan, run

# What an interactive Python has. A process started with SIGINT ignored (a
# background job of a non-interactive shell, which CI may be) inherits that,
# and Python then installs no KeyboardInterrupt handler at all.
signal.signal(signal.SIGINT, signal.default_int_handler)

def sigint_soon():
    # Stays alive until main has handled the signal: once ended (and before
    # Python runs the pending handler) the blocked scheduler would rightly
    # see nothing that could wake it, and report a deadlock.
    done = threading.Event()
    def body():
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)
        done.wait(10)
    t = threading.Thread(target=body)
    t.start()
    return done, t

def handled():
    c = makechan()
    done, t = sigint_soon()
    try:
        c.recv()
    except KeyboardInterrupt:
        return "caught in main"
    finally:
        done.set(); t.join()

def unhandled():
    c = makechan()
    done, t = sigint_soon()
    try:
        c.recv()
    finally:
        done.set(); t.join()
        print("finally ran", flush=True)

if sys.argv[1] == "handled":
    print(run(handled), flush=True)
else:
    try:
        run(unhandled)
    except KeyboardInterrupt:
        print("run raised KeyboardInterrupt", flush=True)
"""


def _ctrl_c(kind: str) -> str:
    import subprocess

    proc = subprocess.run([sys.executable, "-c", _CTRL_C, kind], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_ctrl_c_while_the_scheduler_idles_reaches_the_main_goroutine():
    # Python raises KeyboardInterrupt where the main thread is, here the
    # scheduler's epoll_wait; the program's own handler around its wait
    # must still see it (python -m offset runs servers that rely on that).
    assert _ctrl_c("handled") == "caught in main\n"


def test_ctrl_c_not_handled_by_main_ends_run():
    assert _ctrl_c("unhandled") == "finally ran\nrun raised KeyboardInterrupt\n"


def test_a_goroutine_on_a_fresh_proc_is_held_by_no_tuple():
    # A fresh Proc is started with no arguments and takes its first
    # goroutine from its scheduler (start_proc): a switch with the G as an
    # argument had greenlet keep a tuple of it for as long as the Proc ran
    # (48 bytes a goroutine). Every Proc of a new run() is fresh, and none
    # is freed here before the last check: the goroutines wait for main's
    # close. (A freed Proc is resumed with its next G as the switch's
    # argument, which greenlet holds until that goroutine's first switch:
    # under OFFSET_SHUFFLE=712 one started so, when they did not wait.)
    from offset._core import current_goroutine

    held = []
    checked = makechan(3)
    release = makechan()

    def check():
        g = current_goroutine()
        gc.collect()
        held.append(any(type(r) is tuple and g in r for r in gc.get_referrers(g)))

    def waiter():
        check()
        checked.send(None)
        release.recv()

    def main():
        check()
        for _ in range(3):
            go(waiter)
        for _ in range(3):
            checked.recv()
        release.close()

    run(main)
    assert held == [False] * 4


def test_each_scheduler_lists_only_its_own_live_goroutines():
    # One goroutine table serves every thread; a scheduler's ``live`` is
    # its part of it, and ``nlive`` counts it, in both threads at once.
    from offset._core import current_goroutine, current_scheduler

    seen = {}
    parked = threading.Barrier(2)

    def body(name):
        c = makechan()
        mine = []

        def waiter():
            mine.append(current_goroutine())
            c.recv()

        def main():
            for _ in range(3):
                go(waiter)
            settle()
            parked.wait(5)  # both threads' goroutines are parked now
            s = current_scheduler()
            live = s.live
            seen[name] = (set(live) == {current_goroutine(), *mine}, len(live), s.nlive)
            parked.wait(5)  # ... until both have looked
            c.close()
            settle()
            seen[name + " after"] = (len(s.live), s.nlive)

        run(main)

    threads = [threading.Thread(target=body, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert seen == {"a": (True, 4, 4), "b": (True, 4, 4), "a after": (1, 1), "b after": (1, 1)}


_PROC_MAIN_WARMS_UP = """
import dis
from offset import go, makechan, run
from offset._core._proc import proc_main

def main():
    done = makechan(1000)
    for _ in range(1000):
        go(done.send, None)  # each runs to its end on the Proc that ran the one before
    for _ in range(1000):
        done.recv()

run(main)
ops = [i.opname for i in dis.get_instructions(proc_main, adaptive=True)]
print(sum(op.startswith("LOAD_GLOBAL_") for op in ops))
"""


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="3.11 warms code up at calls and unconditional jumps only")
def test_proc_main_is_specialized_in_a_program_with_few_procs():
    # A Proc calls proc_main once and loops in it; on 3.11 a loop that ends
    # in a conditional jump never warmed the function up, so every
    # goroutine ran through unspecialized bytecode (~800 instructions
    # more a goroutine). A fresh interpreter: the suite starts Procs enough
    # to warm it up by calls alone.
    import subprocess

    proc = subprocess.run([sys.executable, "-c", _PROC_MAIN_WARMS_UP], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) > 0, "proc_main's globals are still looked up unspecialized"
