"""Helpers of the process-fault tests (test_faults_proc*.py): children and their reports.

A fault runs in a fresh interpreter: ``child(body)`` runs ``PRELUDE`` and
``body`` there, bounded by faulthandler (every stack printed, then exit, if
it hangs) and by a timeout, and returns the one JSON report the child
printed with ``report(value)``. ``wait_until_asleep(pid)`` is for tests that
signal a child: it returns once the child's main thread sleeps in the
kernel, i.e. waits (plain Python in its blocking call, offset in its
netpoller), so that the signal lands in the wait and not on the way to it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import offset

ROOT = Path(offset.__file__).resolve().parent.parent
MARK = "FAULT-REPORT:"

# Helpers every child script starts with: a bound on its whole life (every
# stack is printed if it hangs), fd and thread counts, and the report.
PRELUDE = """
import faulthandler, json, os, sys, _thread
faulthandler.dump_traceback_later(float(os.environ["FAULT_CHILD_TIMEOUT"]), exit=True)

def fds():
    # listdir opens one fd of its own while it runs: the same one each time.
    return sorted(int(n) for n in os.listdir("/proc/self/fd"))

def threads():
    return _thread._count()

def report(value):
    sys.stdout.write("FAULT-REPORT:" + json.dumps(value) + "\\n")
    sys.stdout.flush()

def outcome(fn, *args):
    # What a call gave, comparable between two runs: the result's repr, or
    # the exception's type, text and errno.
    try:
        return ["ok", repr(fn(*args))]
    except Exception as e:
        return ["raise", type(e).__name__, str(e), getattr(e, "errno", None)]

def wait_pool_idle(offset, bound=10.0):
    # The pool's threads end _IDLE_SECONDS after their last call.
    import time
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        busy, idle, queued, size = offset._core.pool_stats()
        if busy == idle == queued == 0:
            return True
        time.sleep(0.01)
    return False
"""


def child_env(timeout: float = 60.0, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child: offset's own variables cleared, this offset importable, then ``env``.

    Except ``OFFSET_PURE_PYTHON``: a suite run on the pure build (CI's pure
    job) runs its children pure too.
    """
    full = {k: v for k, v in os.environ.items() if not k.startswith("OFFSET_") or k == "OFFSET_PURE_PYTHON"}
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT), full.get("PYTHONPATH", "")])
    full["FAULT_CHILD_TIMEOUT"] = str(timeout - 10)
    full.update(env or {})
    return full


def child(body: str, *, env: dict[str, str] | None = None, timeout: float = 60.0) -> Any:
    """Run PRELUDE + ``body`` in a fresh interpreter; return what it reported."""
    code = PRELUDE + textwrap.dedent(body)
    try:
        p = subprocess.run(
            [sys.executable, "-c", code],
            env=child_env(timeout, env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"child timed out after {timeout}s\nstdout:\n{e.stdout}\nstderr:\n{e.stderr}", pytrace=False)
    return parse_report(p.returncode, p.stdout, p.stderr)


def parse_report(returncode: int, stdout: str, stderr: str) -> Any:
    """The one report of a child that exited with 0; the test fails with its output otherwise."""
    lines = [line for line in stdout.splitlines() if line.startswith(MARK)]
    if returncode != 0 or len(lines) != 1:
        pytest.fail(
            f"child exited with {returncode}, {len(lines)} report(s)\nstdout:\n{stdout}\nstderr:\n{stderr}",
            pytrace=False,
        )
    return json.loads(lines[0][len(MARK) :])


def _asleep(pid: int) -> bool:
    """Whether the process's main thread is asleep in the kernel (state S)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] == "S"


def wait_until_asleep(pid: int, bound: float = 10.0) -> None:
    """Return once ``pid``'s main thread has been seen asleep three times in a row, 5 ms apart.

    Bounded: after ``bound`` seconds it returns anyway (the signal then
    lands wherever the child is, which the tests also accept).
    """
    deadline = time.monotonic() + bound
    streak = 0
    while streak < 3 and time.monotonic() < deadline:
        streak = streak + 1 if _asleep(pid) else 0
        time.sleep(0.005)


def interrupt_child(code: str, args: list[str], *, timeout: float = 60.0) -> tuple[float, Any]:
    """Run ``code`` with ``args`` and a ready pipe's fd last; SIGINT it once it is ready and asleep.

    The child writes one byte to the fd (its last argument) just before it
    blocks. Returns ``(sent, report)``: when the signal was sent, on
    ``time.monotonic()``'s clock (CLOCK_MONOTONIC, one clock for every
    process of the machine, so the child's own stamps compare with it), and
    what the child reported.
    """
    r, w = os.pipe()
    p = subprocess.Popen(
        [sys.executable, "-c", code, *args, str(w)],
        pass_fds=(w,),
        env=child_env(timeout),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(w)
    try:
        readable, _, _ = select.select([r], [], [], timeout)
        if not readable or os.read(r, 1) != b"r":
            p.kill()
            out, err = p.communicate(timeout=30)
            pytest.fail(f"child never said it was ready\nstdout:\n{out}\nstderr:\n{err}", pytrace=False)
        wait_until_asleep(p.pid)
        sent = time.monotonic()
        os.kill(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=timeout)
    finally:
        os.close(r)
        if p.poll() is None:
            p.kill()
            p.communicate()
    return sent, parse_report(p.returncode, out, err)
