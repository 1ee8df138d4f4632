"""Patch tests run in a fresh interpreter each (gevent's test runner does the
same, src/gevent/testing/testrunner.py): patching changes the whole process,
so no test may leave it patched for the next, and none may inherit another's
patches.

``run_child(code)`` runs ``code`` with ``sys.executable -c`` and returns what
the child passed to ``child.report``. The child side (tests/patches/child.py)
bounds the child's whole life with faulthandler, which prints every stack
and exits if it hangs, and fails the child if a goroutine held its
scheduler's thread for real (a patched call that blocked after all).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MARK = "CHILD-REPORT:"


def run_child(code: str, *, timeout: float = 45.0, env: dict[str, str] | None = None, cwd: str | None = None) -> Any:
    """Run ``code`` in a fresh interpreter; return what it reported.

    The child must call ``child.report(value)`` exactly once; the test fails
    with the child's output if it exits with an error or reports nothing.
    """
    full_env = dict(os.environ)
    # tests/ too, for support.settle().
    full_env["PYTHONPATH"] = os.pathsep.join([HERE, os.path.dirname(HERE), ROOT, full_env.get("PYTHONPATH", "")])
    full_env["OFFSET_CHILD_TIMEOUT"] = str(timeout - 5.0)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            cwd=cwd or HERE,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"child timed out after {timeout}s\nstdout:\n{e.stdout}\nstderr:\n{e.stderr}", pytrace=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if proc.returncode != 0 or len(lines) != 1:
        pytest.fail(
            f"child exited with {proc.returncode}, {len(lines)} report(s)\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}",
            pytrace=False,
        )
    return json.loads(lines[0][len(MARK) :])


_CASE_SCRIPTS = {
    # Unpatched: the stdlib's own outcomes.
    "plain": """
import child; child.start()
import {cases}
child.report({cases}.run_all())
""",
    # Patched, in the main goroutine, with a goroutine ticking beside it
    # (which must keep running): reports {{"cases": ..., "ticks": n}}.
    "goroutine": """
import child; child.start()
import offset; offset.patch_all()
import {cases}, time
ticks = [0]
def ticker():
    while True:
        time.sleep(0.005)
        ticks[0] += 1
def main():
    offset.go(ticker)
    return {cases}.run_all()
cases = offset.run(main)
child.report({{"cases": cases, "ticks": ticks[0]}})
""",
    # Patched, in a plain thread while a scheduler runs in the main thread.
    "thread": """
import child; child.start()
import offset; offset.patch_all()
import {cases}, threading, time
out = {{}}
def main():
    t = threading.Thread(target=lambda: out.update({cases}.run_all(exclude={exclude})))
    t.start()
    while t.is_alive():
        time.sleep(0.01)  # the scheduler keeps running meanwhile
    t.join()
offset.run(main)
child.report(out)
""",
    # Patched, before any run(): every patched call is the original.
    "before_run": """
import child; child.start()
import offset; offset.patch_all()
import {cases}
child.report({cases}.run_all())
""",
}


def cases_script(cases: str, where: str, *, exclude: str = "set()") -> str:
    """The child script that runs case module ``cases`` (a cases.Cases
    registry, see child.py) ``where``: "plain", "goroutine", "thread" or
    "before_run". ``exclude`` is a Python expression for the case names the
    thread run leaves out (those that need the main thread)."""
    return _CASE_SCRIPTS[where].format(cases=cases, exclude=exclude)
