"""Signal handlers under the patch layer, against the unpatched stdlib.

A handler's exception must come out of the call it interrupted in the main
goroutine, as it does in plain Python, and a handler that returns must let
that call carry on with its remaining timeout. The cases in
signal_cases.py run unpatched, then patched in the main goroutine (with
another goroutine ticking beside it, which must keep running), and before
run(); the outcomes must be the same. Then what only offset has: a handler
that interrupts another goroutine, the loop, or offset's own code.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .conftest import cases_script, run_child

PLAIN = cases_script("signal_cases", "plain")
IN_MAIN_GOROUTINE = cases_script("signal_cases", "goroutine")
BEFORE_RUN = cases_script("signal_cases", "before_run")
WHERE = {"plain": PLAIN, "goroutine": IN_MAIN_GOROUTINE, "before_run": BEFORE_RUN}


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    """The cases run each way, in three children at once (they mostly wait;
    each child's timers and signals are its own)."""
    with ThreadPoolExecutor(len(WHERE)) as pool:
        return dict(zip(WHERE, pool.map(run_child, WHERE.values())))


def test_cases_match_the_stdlib_in_the_main_goroutine(runs: dict[str, Any]) -> None:
    plain = runs["plain"]
    patched = runs["goroutine"]
    assert patched["cases"] == plain
    assert patched["ticks"] > 50  # the other goroutine ran throughout
    # The stdlib's own outcomes, so that a case cannot pass by doing nothing.
    interrupted = "['raise', 'Interrupted', 'signal 14', None, None]"
    timed_out = "['raise', 'TimeoutError', 'timed out', None, None]"
    assert plain["recv_handler_raises"] == ["ok", f"({interrupted}, b'after')"]
    assert plain["recv_timeout_handler_returns"] == ["ok", f"({timed_out}, True, [14])"]
    assert plain["sendall_handler_raises"] == ["ok", interrupted]
    assert plain["sendall_timeout_handler_returns"] == ["ok", f"({timed_out}, True, [14])"]
    assert plain["accept_handler_raises_keyboard_interrupt"] == ["ok", "['raise', 'KeyboardInterrupt', '', None, None]"]
    assert plain["sleep_handler_raises"] == ["ok", f"({interrupted}, True)"]
    assert plain["sleep_handler_returns"] == ["ok", "(True, [14])"]
    assert plain["select_handler_raises"] == ["ok", interrupted]
    assert plain["selector_handler_returns"] == ["ok", "([], True, [14])"]
    assert plain["handler_runs_before_the_next_line"] == ["ok", "[10]"]
    assert plain["signal_returns_the_previous_handler"] == ["ok", "[True, True, True, True, True]"]


def test_cases_match_the_stdlib_before_run(runs: dict[str, Any]) -> None:
    assert runs["before_run"] == runs["plain"]


OTHER_GOROUTINE = """
import child; child.start()
import offset; offset.patch_all()
import signal, time
fired = []
def handler(signum, frame):
    fired.append(signum)
    raise ZeroDivisionError("from the handler")
signal.signal(signal.SIGALRM, handler)
out = {}
def busy(c):
    # Runs without switching until the alarm has interrupted it: the
    # handler runs here, but its exception is the main goroutine's.
    try:
        while not fired:
            pass
        out["busy"] = "finished"
    except BaseException as e:
        out["busy"] = type(e).__name__
    for _ in range(1000):  # main, parked in recv, gets the exception there
        if "main" in out:
            break
        offset.gosched()
    c.send("done")
def main():
    c = offset.makechan(1)
    offset.go(busy, c)
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    try:
        c.recv()
        out["main"] = "no exception"
    except ZeroDivisionError as e:
        out["main"] = str(e)
    out["after"] = c.recv()  # the channel still works; the goroutine was not lost
offset.run(main)
child.report(out)
"""


def test_handler_interrupting_another_goroutine_raises_in_main() -> None:
    assert run_child(OTHER_GOROUTINE) == {"busy": "finished", "main": "from the handler", "after": "done"}


MAIN_RETURNS_FIRST = """
import child; child.start()
import offset; offset.patch_all()
import signal
fired = []
def handler(signum, frame):
    fired.append(signum)
    raise ZeroDivisionError("late")
signal.signal(signal.SIGALRM, handler)
started = []
def busy():
    started.append(True)
    while not fired:
        pass
def main():
    offset.go(busy)
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    # Runnable, not parked, while the handler raises in busy: until busy
    # has run (one gosched() runs it only in Go's order, not under OFFSET_SHUFFLE).
    while not started:
        offset.gosched()
    return "main returned"
try:
    offset.run(main)
    child.report("no exception")
except ZeroDivisionError as e:
    child.report(str(e))
"""


def test_exception_not_yet_delivered_when_main_returns_comes_out_of_run() -> None:
    assert run_child(MAIN_RETURNS_FIRST) == "late"


CHANNEL_AND_SELECT = """
import child; child.start()
import offset, offset.sync; offset.patch_all()
import signal, time
def handler(signum, frame):
    raise KeyboardInterrupt
signal.signal(signal.SIGALRM, handler)
out = []
def main():
    # A pending alarm is not something the scheduler waits for (a signal
    # could as well never come): a sleeping goroutine keeps it from
    # reporting a deadlock meanwhile.
    offset.go(time.sleep, 10)
    c = offset.makechan()
    for op in ("recv", "select", "mutex"):
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        try:
            if op == "recv":
                c.recv()
            elif op == "select":
                offset.select(c.if_recv(), offset.makechan().if_send(1))
            else:
                mu = offset.sync.Mutex()
                mu.lock()
                mu.lock()
        except KeyboardInterrupt:
            out.append(op)
    # Nothing of the interrupted waits is left behind on the channel.
    offset.go(c.send, "still works")
    out.append(c.recv())
offset.run(main)
child.report(out)
"""


def test_handler_interrupts_channel_select_and_mutex_waits() -> None:
    assert run_child(CHANNEL_AND_SELECT) == ["recv", "select", "mutex", "still works"]


UNPATCH = """
import child; child.start()
import _signal, signal
def before(signum, frame):
    pass
def after(signum, frame):
    pass
signal.signal(signal.SIGUSR1, before)
import offset
offset.patch_all()
signal.signal(signal.SIGUSR2, after)
during = [_signal.getsignal(signal.SIGUSR1) is before, type(_signal.getsignal(signal.SIGUSR2)).__name__,
          signal.getsignal(signal.SIGUSR2) is after, type(_signal.getsignal(signal.SIGINT)).__name__]
offset.unpatch_all()
done = [_signal.getsignal(signal.SIGUSR1) is before, _signal.getsignal(signal.SIGUSR2) is after,
        _signal.getsignal(signal.SIGINT) is signal.default_int_handler,
        not hasattr(signal.getsignal, "__wrapped__")]
child.report({"during": during, "after": done})
"""


def test_unpatch_puts_back_the_programs_handlers() -> None:
    # A handler installed before patching is left alone (installing it again
    # would drop a C-level handler chained in front of it); the Ctrl-C
    # handler and those installed later are wrapped, and unwrapped again.
    assert run_child(UNPATCH) == {
        "during": [True, "WrappedHandler", True, "WrappedHandler"],
        "after": [True, True, True, True],
    }


FAULTHANDLER_CHAIN = """
import child; child.start()
import faulthandler, os, signal, tempfile
seen = []
signal.signal(signal.SIGUSR1, lambda n, f: seen.append(n))
with tempfile.TemporaryFile("w+") as out:
    faulthandler.register(signal.SIGUSR1, file=out, chain=True)
    import offset
    offset.patch_all()
    def main():
        os.kill(os.getpid(), signal.SIGUSR1)
    offset.run(main)
    faulthandler.unregister(signal.SIGUSR1)
    out.seek(0)
    child.report([seen, "most recent call first" in out.read()])
"""


def test_patching_keeps_a_faulthandler_chained_in_front_of_a_handler() -> None:
    assert run_child(FAULTHANDLER_CHAIN) == [[10], True]


WITHOUT_THE_PATCH = """
import child; child.start()
import offset, offset.time
import signal
def handler(signum, frame):
    raise ZeroDivisionError("no patch")
signal.signal(signal.SIGALRM, handler)
def main():
    c = offset.makechan()
    offset.time.AfterFunc(300 * offset.time.MILLISECOND, c.send, "later")
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    try:
        c.recv()
        return "no exception"
    except ZeroDivisionError as e:
        return [str(e), c.recv()]
child.report(offset.run(main))
"""


def test_without_the_signal_patch_a_handler_raising_in_the_idle_loop_reaches_main() -> None:
    # The scheduler idles in epoll_wait, where Python runs the handler; the
    # loop recognises the exception as the handler's and passes it on.
    assert run_child(WITHOUT_THE_PATCH) == ["no patch", "later"]


POOL_CALL = """
import child; child.start()
import offset; offset.patch_all()
import signal, time
def handler(signum, frame):
    raise KeyboardInterrupt
signal.signal(signal.SIGALRM, handler)
@offset.syscall
def slow():
    time.sleep(0.5)  # on a pool thread: the real, blocking sleep
    return "slow result"
def sender(c):
    time.sleep(1.0)  # after slow() has completed on its thread
    c.send("sent")
def main():
    c = offset.makechan()
    offset.go(sender, c)
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    t0 = time.monotonic()
    try:
        slow()
        first = "no exception"
    except KeyboardInterrupt:
        first = "interrupted"
    took = time.monotonic() - t0
    # The call given up must not resume main later, inside this receive.
    return [first, took < 0.4, c.recv()]
child.report(offset.run(main))
"""


def test_handler_interrupts_a_thread_pool_call_at_once_and_its_completion_is_dropped() -> None:
    assert run_child(POOL_CALL) == ["interrupted", True, "sent"]
