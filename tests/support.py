"""Helpers shared by the test modules (plain functions, imported by name)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from offset import gosched, time
from offset._core import current_goroutine

TIMEOUT = 10.0  # seconds any wait in a test may take before it fails


def heap_len() -> int:
    """How many timers are pending on the calling goroutine's scheduler."""
    g = current_goroutine()
    assert g is not None
    return len(g.sched.timers)


def poll(cond: Callable[[], bool], what: str = "condition") -> None:
    """Wait, yielding to other goroutines, until ``cond()`` (TIMEOUT at most)."""
    deadline = time.now() + int(TIMEOUT * time.SECOND)
    while not cond():
        if time.now() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(200 * time.MICROSECOND)


def run_example(name: str) -> str:
    """Run examples/<name> in a fresh interpreter; return what it printed."""
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, str(root / "examples" / name)], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


def settle() -> None:
    """Yield until no other goroutine of the caller's scheduler is runnable.

    Every other goroutine has then parked or ended: what a test wants
    before it looks at what they did. One ``gosched()`` does that only
    under Go's run order (a goroutine just started runs next); under
    ``OFFSET_SHUFFLE`` the yield may come straight back to the caller. A
    goroutine that never parks (a ``gosched()`` loop) never lets this
    return: such a test says "started" on a channel instead.
    """
    g = current_goroutine()
    assert g is not None, "settle() outside a goroutine"
    s = g.sched
    for _ in range(100_000):
        if not s.runq and s.runnext is None:
            return
        gosched()
    raise AssertionError("other goroutines stayed runnable through 100,000 yields")
