"""EMFILE under the patch layer: the stdlib's error, no busy loop, service resumes.

Issue 13, part 1. Each case (faults_net_emfile.py) runs in a fresh
interpreter with RLIMIT_NOFILE lowered and the rest of its fd table filled:
unpatched with plain threads, then patched in goroutines on each netpoll
backend; the outcomes must be the same. See that module for the cases.
"""

from __future__ import annotations

import ast
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from patches.conftest import run_child

from .test_faults_net import HERE, child_env

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux (/proc, RLIMIT_NOFILE)")

SCRIPT = """
import child; child.start()
import os
if os.environ.get("FAULTS_OFFSET"):
    import offset; offset.patch_all()
import faults_net_emfile
child.report(faults_net_emfile.run({case!r}))
"""

WAYS: dict[str, dict[str, str]] = {
    "plain": {},
    "epoll": {"FAULTS_OFFSET": "1", "OFFSET_NETPOLL": "epoll"},
    "selectors": {"FAULTS_OFFSET": "1", "OFFSET_NETPOLL": "selectors"},
}


def run_ways(case: str) -> dict[str, Any]:
    with ThreadPoolExecutor(len(WAYS)) as pool:
        results = pool.map(
            lambda env: run_child(SCRIPT.format(case=case), env=child_env(env), cwd=HERE, timeout=60.0),
            WAYS.values(),
        )
        return dict(zip(WAYS, results))


def value(result: dict[str, Any]) -> dict[str, Any]:
    kind, text = result["outcome"][:2]
    assert kind == "ok", result["outcome"]
    got: dict[str, Any] = ast.literal_eval(text)
    return got


def check_after_run(result: dict[str, Any]) -> None:
    assert result["after_run"] == {"fds": True, "threads": 0, "goroutines": 0}


@pytest.fixture(scope="module")
def accept_loop() -> dict[str, Any]:
    return run_ways("accept_loop")


def test_accept_loop_sees_the_stdlib_error(accept_loop: dict[str, Any]) -> None:
    plain = value(accept_loop["plain"])
    emfile = ["raise", "OSError", "[Errno 24] Too many open files", 24]
    assert plain["errors"][0] == emfile
    assert plain["replies"] == ["HELLO 0", "HELLO 1", "HELLO 2"]
    for backend in ("epoll", "selectors"):
        got = value(accept_loop[backend])
        assert (got["full"], got["errors"], got["replies"], got["served"]) == (
            plain["full"],
            plain["errors"],
            plain["replies"],
            plain["served"],
        ), backend
        check_after_run(accept_loop[backend])


@pytest.mark.parametrize("backend", ["plain", "epoll", "selectors"])
def test_accept_loop_does_not_spin(accept_loop: dict[str, Any], backend: str) -> None:
    window = value(accept_loop[backend])["window"]
    # In WINDOW (1 s) the backoff (5 ms doubling) retries about 8 times; a
    # loop spinning on accept() or on a re-reported listening socket would
    # make thousands of attempts and burn the whole second of CPU.
    assert window["attempts"] <= 12, window
    assert window["cpu"] < 0.3, window
    if backend != "plain":
        ticks, trips = window["bystanders"]
        assert ticks > 10 and trips > 10, window  # the other goroutines ran meanwhile


def test_first_wait_with_no_fd_left() -> None:
    """Regression: a scheduler that had no netpoller yet when the fd table
    filled ended run() with EMFILE from its idle wait (epoll_create1), where
    the unpatched program's sleep, recv and hand-off need no new fd."""
    runs = run_ways("first_wait")
    plain = value(runs["plain"])
    assert plain["sleep"] == ["ok", "None"] and plain["recv_waits"] == ["ok", "b'late'"]
    assert plain["recv_timeout"] == ["raise", "TimeoutError", "timed out", None, None]
    assert plain["signal"] is True
    for backend in ("epoll", "selectors"):
        assert value(runs[backend]) == plain, backend
        check_after_run(runs[backend])
