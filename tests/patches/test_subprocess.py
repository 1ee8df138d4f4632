"""Subprocesses and child waits under the patch layer, against the unpatched stdlib.

The cases in subprocess_cases.py run unpatched, then patched in the main
goroutine (with another goroutine ticking beside it, which must keep
running, and the child failing if any goroutine held the thread), with
pidfds taken away (the polling fallback), before ``run()`` and in a plain
thread; the outcomes must be the same. Then what only offset has: many
children waited for at once, two waiters on one child, a waiter beside a
plain thread's stdlib wait, and unpatching.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .conftest import cases_script, run_child

PLAIN = cases_script("subprocess_cases", "plain")
IN_MAIN_GOROUTINE = cases_script("subprocess_cases", "goroutine")
BEFORE_RUN = cases_script("subprocess_cases", "before_run")
IN_A_THREAD = cases_script("subprocess_cases", "thread", exclude="subprocess_cases.MAIN_THREAD_ONLY")
# The same, with pidfds refused as an old kernel refuses them.
WITHOUT_PIDFDS = IN_MAIN_GOROUTINE.replace(
    "import offset; offset.patch_all()",
    "import offset; offset.patch_all()\nfrom offset.patches import _child; _child._pidfd_ok[0] = False",
)

WHERE = {
    "plain": PLAIN,
    "goroutine": IN_MAIN_GOROUTINE,
    "without_pidfds": WITHOUT_PIDFDS,
    "before_run": BEFORE_RUN,
    "thread": IN_A_THREAD,
}


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    """The cases run each way, in five children at once (they mostly wait)."""
    with ThreadPoolExecutor(len(WHERE)) as pool:
        return dict(zip(WHERE, pool.map(run_child, WHERE.values())))


@pytest.fixture(scope="module")
def plain(runs: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = runs["plain"]
    return result


def test_cases_match_the_stdlib_in_the_main_goroutine(runs: dict[str, Any], plain: dict[str, Any]) -> None:
    patched = runs["goroutine"]
    assert patched["cases"] == plain
    assert patched["ticks"] > 100  # the ticker ran throughout (the cases take seconds)


def test_the_stdlib_outcomes(plain: dict[str, Any]) -> None:
    # What the cases give unpatched, so that a case cannot pass by doing nothing.
    p = plain
    assert p["popen_wait_exit_codes"] == ["ok", "[(0, 0, 0), (3, 3, 3), (-9, -9, -9), (-15, -15, -15)]"]
    expired = (
        "('TimeoutExpired', (['sleep', '5'], 0.1), ['sleep', '5'], 0.1, None, None, "
        "\"Command '['sleep', '5']' timed out after 0.1 seconds\", 'NoneType')"
    )
    assert p["popen_wait_timeout_raises_timeout_expired"] == ["ok", f"({expired}, None, -9, -9)"]
    assert p["popen_wait_timeouts_without_limit"] == ["ok", "[3, 3, 3]"]
    assert p["communicate_ten_megabytes_each_way"] == ["ok", "(10485760, True, True, 0)"]
    assert p["communicate_timeout_then_again"][1].startswith(
        "(('TimeoutExpired', (['/bin/sh', '-c', 'echo early; exec sleep 5'], 0.5), "
    )
    assert p["waitpid_pid"] == ["ok", "(True, 768, 3)"]
    assert p["waitpid_no_child"] == [
        "ok",
        "(['raise', 'ChildProcessError', '[Errno 10] No child processes', 10, None], "
        "['raise', 'ChildProcessError', '[Errno 10] No child processes', 10, None])",
    ]
    assert p["waitpid_untraced_sees_a_stop"] == ["ok", "((True, True, 19), True, 512)"]
    assert p["sigchld_handler_reaps_before_wait"] == ["ok", "(True, 0, 0)"]
    assert p["sigchld_handler_reaps_during_wait"] == ["ok", "(0, 0, 0, 0)"]
    assert p["waitid_pidfd"] in (["ok", "(True, 13, 1)"], ["ok", "'no P_PIDFD'"])


def test_cases_match_the_stdlib_without_pidfds(runs: dict[str, Any], plain: dict[str, Any]) -> None:
    patched = runs["without_pidfds"]
    assert patched["cases"] == plain
    assert patched["ticks"] > 100


def test_cases_match_the_stdlib_before_run(runs: dict[str, Any], plain: dict[str, Any]) -> None:
    assert runs["before_run"] == plain


def test_cases_match_the_stdlib_in_a_plain_thread(runs: dict[str, Any], plain: dict[str, Any]) -> None:
    expected = {
        k: v
        for k, v in plain.items()
        if k not in ("sigchld_handler_reaps_before_wait", "sigchld_handler_reaps_during_wait")
    }
    assert runs["thread"] == expected


MANY = """
import child; child.start()
import offset; offset.patch_all()
import subprocess_cases, subprocess, time
from offset.sync import WaitGroup
def main():
    codes = []
    wg = WaitGroup()
    def one(i):
        try:
            codes.append(subprocess.run(["sleep", "0.2"]).returncode)
        finally:
            wg.done()
    t0 = time.monotonic()
    for i in range(100):
        wg.add(1)
        offset.go(one, i)
    wg.wait()
    wall = time.monotonic() - t0
    return {"codes": sorted(set(codes)), "n": len(codes), "wall": wall}
child.report(offset.run(main))
"""


def test_a_hundred_children_are_waited_for_at_once() -> None:
    out = run_child(MANY)
    assert out["n"] == 100 and out["codes"] == [0]
    # One after another they would take 20 s; at once, about 0.3 s here.
    # Printed for the record (pytest -s); the bound is generous on purpose.
    print(f"100 x sleep 0.2: {out['wall']:.2f} s")
    assert out["wall"] < 5.0


TOGETHER = """
import child; child.start()
import offset; offset.patch_all()
import subprocess_cases, subprocess, threading, time, os
from offset.sync import WaitGroup
def main():
    out = {}
    # Two goroutines wait for one child; a third polls meanwhile.
    p = subprocess.Popen(["sh", "-c", "sleep 0.2; exit 5"])
    wg = WaitGroup()
    got = []
    def waiter(t):
        try:
            got.append(p.wait(timeout=t))
        finally:
            wg.done()
    for t in (None, 10):
        wg.add(1)
        offset.go(waiter, t)
    polls = [p.poll()]
    wg.wait()
    before_fds = sorted(os.listdir("/proc/self/fd"))  # the netpoller's are made by now
    out["two_waiters"] = [got, polls, p.returncode]
    # A goroutine waits while a plain thread is in the stdlib's blocking
    # wait for the same child, holding its _waitpid_lock.
    p = subprocess.Popen(["sh", "-c", "sleep 0.3; exit 6"])
    th = []
    t = threading.Thread(target=lambda: th.append(p.wait()))
    t.start()
    time.sleep(0.1)
    mine = p.wait(timeout=10)
    while t.is_alive():
        time.sleep(0.01)
    out["beside_a_thread"] = [mine, th]
    # A goroutine that goes on waiting after its wait timed out.
    p = subprocess.Popen(["sh", "-c", "sleep 0.3; exit 7"])
    tries = 0
    while True:
        try:
            code = p.wait(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            tries += 1
    out["retried"] = [code, tries > 2]
    # Unpatching puts back the very method; patching again, the wrapper.
    import offset.patches.subprocess as area
    wrapped = subprocess.Popen._wait
    offset.unpatch_all()
    restored = subprocess.Popen._wait
    offset.patch_all()
    out["unpatch"] = [wrapped is not restored, getattr(wrapped, "__wrapped__", None) is restored,
                      getattr(restored, "__wrapped__", None) is None, area.is_patched()]
    # No pidfd is left open behind the waits.
    out["fds"] = sorted(os.listdir("/proc/self/fd")) == before_fds
    return out
child.report(offset.run(main))
"""


def test_waiters_together() -> None:
    out = run_child(TOGETHER)
    assert out["two_waiters"] == [[5, 5], [None], 5]
    assert out["beside_a_thread"] == [6, [6]]
    assert out["retried"] == [7, True]
    assert out["unpatch"] == [True, True, True, True]
    assert out["fds"] is True


PIPES = """
import child; child.start()
import offset; offset.patch_all()
import subprocess_cases, subprocess, time
from offset.sync import WaitGroup
def main():
    out = []
    wg = WaitGroup()
    def reader():
        try:
            # One pipe, no timeout: communicate reads the pipe's file object
            # (the os area's FileIO read), not through a selector.
            out.append(subprocess.check_output(["sh", "-c", "sleep 0.5; echo late"]))
        finally:
            wg.done()
    def writer():
        try:
            # stdin only, no timeout: communicate writes the pipe's file object.
            p = subprocess.Popen(["sh", "-c", "sleep 0.5; cat > /dev/null"], stdin=subprocess.PIPE)
            p.communicate(b"x" * 200_000)
            out.append(p.returncode)
        finally:
            wg.done()
    t0 = time.monotonic()
    for i in range(10):
        wg.add(2)
        offset.go(reader)
        offset.go(writer)
    wg.wait()
    return {"out": sorted(map(repr, out)), "wall": time.monotonic() - t0}
child.report(offset.run(main))
"""


def test_pipes_with_one_pipe_park_only_the_goroutine() -> None:
    # With the os area's pipe reads and writes: 20 children that make their
    # parent wait 0.5 s each on a pipe take about 0.5 s together, where the
    # thread blocked on each in turn would take 10 s (and the child fails
    # if a goroutine held the thread for a second).
    out = run_child(PIPES)
    assert out["out"] == sorted(["0"] * 10 + ["b'late\\n'"] * 10)
    print(f"20 one-pipe communicates: {out['wall']:.2f} s")
    assert out["wall"] < 5.0
