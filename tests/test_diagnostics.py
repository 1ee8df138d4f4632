"""offset.dump, offset.stats and the blocking monitor (offset.monitor).

Dumps are compared line by line with what Go prints on SIGQUIT: a header
``goroutine N [reason]:`` and two lines per frame. The monitor is driven
with small thresholds (50 ms) and every wait is bounded.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time as stdtime
from pathlib import Path

import pytest

import offset
import offset.sync
from offset import go, makechan, monitor, run
from offset import time as otime
from offset._core import current_goroutine, schedulers

ROOT = str(Path(__file__).resolve().parent.parent)


def _blocks(text: str) -> dict[int, str]:
    """The dump's goroutine entries by id."""
    out = {}
    for m in re.finditer(r"^goroutine (\d+) \[.*?(?=^goroutine |^scheduler |\Z)", text, re.M | re.S):
        out[int(m.group(1))] = m.group(0)
    return out


def parked_receiver(c: offset.Chan[int]) -> None:
    c.recv()


def parked_sleeper() -> None:
    otime.sleep(30 * otime.SECOND)


def test_dump_lists_every_goroutine_of_two_schedulers_with_reason_and_stack() -> None:
    c: offset.Chan[int] = makechan()
    other_ready = threading.Event()
    other_ids: list[int] = []
    out = io.StringIO()

    def other_main() -> None:
        me = current_goroutine()
        assert me is not None
        other_ids.append(me.id)
        go(parked_receiver, c)
        other_ready.set()
        c.recv()

    def other_thread() -> None:
        run(other_main)

    def main() -> None:
        go(parked_receiver, c)
        go(parked_sleeper)
        otime.sleep(otime.MILLISECOND)  # both park
        t = threading.Thread(target=other_thread, name="other-sched")
        t.start()
        assert other_ready.wait(10)
        while len(schedulers) < 2:
            otime.sleep(otime.MILLISECOND)
        otime.sleep(10 * otime.MILLISECOND)  # the other thread's goroutines park
        offset.dump(out)
        for _ in range(3):
            c.send(0)
        t.join(10)

    run(main)
    text = out.getvalue()
    assert text.startswith("offset: goroutine dump, 2 schedulers, 5 goroutines\n")
    assert "scheduler of thread 'MainThread'" in text
    assert "scheduler of thread 'other-sched'" in text
    blocks = _blocks(text)
    assert len(blocks) == 5
    reasons = sorted(b.splitlines()[0].split("[")[1].rstrip("]:") for b in blocks.values())
    assert reasons == ["chan receive", "chan receive", "chan receive", "running", "sleep"]
    receivers = [b for b in blocks.values() if "parked_receiver(...)" in b]
    assert len(receivers) == 2
    for b in receivers:
        lines = b.splitlines()
        assert lines[0].endswith("[chan receive]:")
        assert lines[1] == f"{__name__}.parked_receiver(...)"
        assert re.fullmatch(rf"\t{re.escape(__file__)}:\d+", lines[2])
    (running,) = [b for b in blocks.values() if "[running]" in b]
    # The goroutine that called dump shows its own line, not dump's frames.
    assert running.splitlines()[1].endswith("main(...)")
    assert "offset/debug.py" not in text
    assert other_ids[0] in blocks and "other_main(...)" in blocks[other_ids[0]]


def test_dump_says_for_how_long_a_goroutine_waits() -> None:
    c: offset.Chan[int] = makechan()
    out = io.StringIO()

    def main() -> None:
        go(parked_receiver, c)
        otime.sleep(otime.MILLISECOND)
        (g,) = [g for g in schedulers[threading.get_ident()].live if g.fn is parked_receiver]
        s = g.sched
        assert 0 < g.since <= s.now  # stamped from the loop's clock when it parked
        g.since -= 150 * 10**9  # as if it had parked two and a half minutes earlier
        offset.dump(out)
        g.since += 148 * 10**9
        offset.dump(out)
        g.since += 2 * 10**9
        offset.dump(out)
        c.send(0)

    run(main)
    headers = [line for line in out.getvalue().splitlines() if "[chan receive" in line]
    assert [h.split(" ", 2)[2] for h in headers] == [
        "[chan receive, 2 minutes]:",
        "[chan receive, 2 seconds]:",
        "[chan receive]:",
    ]


def test_dump_shows_runnable_and_unstarted_goroutines() -> None:
    out = io.StringIO()

    def never_started() -> None:
        pass

    def main() -> None:
        go(never_started)
        offset.dump(out)

    run(main)
    blocks = list(_blocks(out.getvalue()).values())
    (b,) = [b for b in blocks if "never_started" in b]
    assert "[runnable]" in b.splitlines()[0]
    assert re.search(r"never_started\(\.\.\.\)\n\t.*test_diagnostics\.py:\d+", b)


def test_dump_outside_any_scheduler_and_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    offset.dump()
    assert capsys.readouterr().err == "offset: goroutine dump, 0 schedulers, 0 goroutines\n\n"
    with pytest.raises(TypeError, match="dump\\(\\) argument 'file' must have a write\\(\\) method, not int"):
        offset.dump(3)  # type: ignore[arg-type]


def _run_child(body: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.Popen[str]:
    full = dict(os.environ)
    full["PYTHONPATH"] = ROOT
    full.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(body)],
        env=full,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


HOG = """
    import _signal, sys, time
    import offset
    from offset import go, makechan, run

    c = makechan()
    done = False

    def finish(signum, frame):
        global done
        done = True

    _signal.signal(_signal.SIGUSR1, finish)

    def waiter():
        c.recv()

    def hog():
        print("hogging", flush=True)
        t = time.monotonic()
        while not done and time.monotonic() - t < 20:  # holds the thread: no switch
            pass

    def main():
        go(waiter)
        offset.time.sleep(offset.time.MILLISECOND)
        hog()
        c.close()

    import offset.time
    run(main)
    print("done", flush=True)
"""


@pytest.mark.parametrize("patched", [False, True])
def test_dump_signal_dumps_while_a_goroutine_holds_the_thread(patched: bool) -> None:
    body = textwrap.dedent(HOG)
    if patched:
        body = "import offset\noffset.patch_all()\n" + body
    p = _run_child(body, {"OFFSET_DUMP_SIGNAL": "SIGUSR2"})
    killer = threading.Timer(30, p.kill)  # bounds the readline()s below
    killer.start()
    try:
        assert p.stdout is not None and p.stderr is not None
        assert p.stdout.readline() == "hogging\n"
        p.send_signal(signal.SIGUSR2)
        err = p.stderr.readline()
        while not err.endswith("\n\n") or err.count("goroutine ") < 3:
            line = p.stderr.readline()
            assert line, err
            err += line
        p.send_signal(signal.SIGUSR1)  # the hog ends: the program goes on
        out, rest = p.communicate(timeout=30)
    finally:
        killer.cancel()
        p.kill()
    assert p.returncode == 0, rest
    assert out == "done\n"  # the handler dumped and the program carried on
    assert rest == ""
    assert err.startswith("offset: goroutine dump, 1 schedulers, 2 goroutines\n")
    blocks = _blocks(err)
    assert "[running]" in blocks[1] and "__main__.hog(...)" in blocks[1]
    assert "__main__.main(...)" in blocks[1]
    assert "[chan receive]" in blocks[2] and "__main__.waiter(...)" in blocks[2]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("SIGNOPE", "OFFSET_DUMP_SIGNAL must name a signal (SIGABRT, "),
        ("SIGKILL", "OFFSET_DUMP_SIGNAL: 'SIGKILL' cannot be caught; name another signal"),
    ],
)
def test_dump_signal_bad_value_is_one_clear_error(value: str, message: str) -> None:
    p = _run_child("import offset", {"OFFSET_DUMP_SIGNAL": value})
    _, err = p.communicate(timeout=30)
    assert p.returncode == 1
    assert f"ValueError: {message}" in err


def test_dump_signal_accepts_names_without_sig_and_numbers() -> None:
    from offset.debug import signal_number

    assert signal_number("usr2", "X") == signal.SIGUSR2
    assert signal_number(" SIGUSR1 ", "X") == signal.SIGUSR1
    assert signal_number(str(int(signal.SIGTERM)), "X") == signal.SIGTERM


# -- stats --------------------------------------------------------------------


def test_stats_counts_a_known_setup() -> None:
    c: offset.Chan[int] = makechan()
    mu = offset.sync.Mutex()
    seen: list[dict[str, object]] = []
    r, w = os.pipe()

    def reader() -> None:
        from offset._core import wait_fd

        wait_fd(r, "r")

    def locker() -> None:
        mu.lock()
        mu.unlock()

    def main() -> None:
        for _ in range(3):
            go(parked_receiver, c)
        go(parked_sleeper)
        go(reader)
        mu.lock()
        go(locker)
        otime.sleep(otime.MILLISECOND)
        go(parked_receiver, c)  # queued, not started
        seen.append(offset.stats())
        mu.unlock()
        os.write(w, b"x")
        for _ in range(4):
            c.send(0)

    try:
        run(main)
    finally:
        os.close(r)
        os.close(w)
    (st,) = seen
    assert st["schedulers"] == 1
    assert st["running"] == 1
    assert st["runnable"] == 1
    assert st["parked"] == 6
    assert st["goroutines"] == 8
    assert st["parked_by_reason"] == {"chan receive": 3, "sleep": 1, "IO wait": 1, "sync.Mutex.Lock": 1}
    assert st["timers"] == 1
    assert st["netpoll_waits"] == 1
    assert st["netpoll_fds"] == 1
    assert set(st) == {
        "schedulers",
        "goroutines",
        "running",
        "runnable",
        "parked",
        "parked_by_reason",
        "pool_busy",
        "pool_idle",
        "pool_queued",
        "pool_max",
        "netpoll_waits",
        "netpoll_fds",
        "timers",
    }


def test_stats_counts_pool_threads_from_another_thread() -> None:
    release = threading.Event()
    started = threading.Event()
    seen: list[dict[str, object]] = []

    @offset.syscall
    def blocking() -> None:
        started.set()
        release.wait(10)

    def watcher() -> None:
        assert started.wait(10)
        seen.append(offset.stats())
        release.set()

    def main() -> None:
        t = threading.Thread(target=watcher)
        t.start()
        blocking()
        t.join(10)

    run(main)
    (st,) = seen
    assert st["pool_busy"] == 1
    assert st["parked_by_reason"] == {"syscall": 1}
    assert st["running"] == 0  # the loop waits for the call: no goroutine holds the thread
    assert offset.stats()["schedulers"] == 0


# -- the blocking monitor -----------------------------------------------------


@pytest.fixture
def report() -> io.StringIO:
    out = io.StringIO()
    yield out
    monitor.stop()


def test_monitor_reports_a_goroutine_in_an_unpatched_sleep_once(report: io.StringIO) -> None:
    def blocker() -> None:
        stdtime.sleep(0.4)  # unpatched: holds the thread

    def main() -> None:
        monitor.start(0.05, report)
        go(blocker)
        otime.sleep(otime.MILLISECOND)

    run(main)
    text = report.getvalue()
    assert text.count("offset.monitor:") == 1, text
    head, _, rest = text.partition("\n")
    assert re.fullmatch(
        r"offset\.monitor: thread 'MainThread' \(\d+\) has not switched goroutines for 0\.\d\d s "
        r"\(threshold 0\.05 s\); it is held by:",
        head,
    )
    lines = rest.splitlines()
    assert re.fullmatch(r"goroutine \d+ \[running\]:", lines[0])
    assert lines[1] == f"{__name__}.test_monitor_reports_a_goroutine_in_an_unpatched_sleep_once.<locals>.blocker(...)"


def test_monitor_reports_each_stall_of_a_busy_loop(report: io.StringIO) -> None:
    def spin(seconds: float) -> None:
        t = stdtime.monotonic()
        while stdtime.monotonic() - t < seconds:
            pass

    def main() -> None:
        monitor.start(0.05, report)
        spin(0.3)
        otime.sleep(otime.MILLISECOND)  # switches: the next hold is a new stall
        spin(0.3)

    run(main)
    text = report.getvalue()
    assert text.count("offset.monitor:") == 2, text
    assert text.count(".spin(...)") == 2


def test_monitor_is_silent_for_a_busy_program_that_switches(report: io.StringIO) -> None:
    c: offset.Chan[int] = makechan()

    def pong() -> None:
        for v in c:
            c.send(v)

    def main() -> None:
        monitor.start(0.05, report)
        go(pong)
        deadline = stdtime.monotonic() + 0.4
        while stdtime.monotonic() < deadline:
            c.send(1)
            c.recv()
        c.close()
        otime.sleep(200 * otime.MILLISECOND)  # idle in the netpoller: not a stall

    run(main)
    assert report.getvalue() == ""


def test_monitor_start_stop_and_errors(report: io.StringIO) -> None:
    from offset._core import offset_thread_idents

    before = set(offset_thread_idents)
    monitor.start(0.1, report)
    assert monitor.is_running()
    assert len(offset_thread_idents - before) == 1  # deadlock detection ignores it
    monitor.start(0.2, report)  # changes the threshold, no second thread
    assert len(offset_thread_idents - before) == 1
    monitor.stop()
    assert not monitor.is_running()
    assert offset_thread_idents == before
    monitor.stop()  # no-op
    with pytest.raises(TypeError, match=r"^start\(\) argument 'threshold' must be a number of seconds, not str$"):
        monitor.start("100ms")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^start\(\) argument 'threshold' must be a positive number"):
        monitor.start(0)
    with pytest.raises(TypeError, match=r"^start\(\) argument 'file' must have a write\(\) method, not int$"):
        monitor.start(0.1, 3)  # type: ignore[arg-type]


def test_monitor_does_not_hide_a_deadlock(report: io.StringIO) -> None:
    monitor.start(0.05, report)

    def main() -> None:
        makechan().recv()

    with pytest.raises(offset.DeadlockError):
        run(main)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("100ms", 0.1), ("1.5s", 1.5), ("1m30s", 90.0), ("0.25", 0.25), ("2", 2.0), ("500us", 0.0005), (" 1h ", 3600.0)],
)
def test_parse_threshold(text: str, seconds: float) -> None:
    assert monitor.parse_threshold(text, "OFFSET_MONITOR") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "-1s", "0", "0ms", "10 ms", "1.5x", "ms", "inf", "nan"])
def test_parse_threshold_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"^OFFSET_MONITOR must be a positive duration such as 100ms, 1\.5s or 0\.1"):
        monitor.parse_threshold(text, "OFFSET_MONITOR")


def test_offset_monitor_environment_variable() -> None:
    body = """
        import time
        import offset

        def main():
            time.sleep(0.4)  # unpatched

        offset.run(main)
    """
    p = _run_child(body, {"OFFSET_MONITOR": "50ms"})
    _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert err.count("offset.monitor:") == 1, err
    assert "(threshold 0.05 s)" in err and "__main__.main(...)" in err
    p = _run_child("import offset", {"OFFSET_MONITOR": "soon"})
    _, err = p.communicate(timeout=30)
    assert p.returncode == 1
    assert (
        "ValueError: OFFSET_MONITOR must be a positive duration such as 100ms, 1.5s or 0.1 (seconds), not 'soon'" in err
    )
