"""The talk's examples print what their Go versions print.

Each runs in a fresh interpreter (sys.executable) from the repository root.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


# Each example runs as a plain script and under `python -m offset`, which
# runs it as the main goroutine with everything patched: its own run() then
# acts as main (Go's programs have one main; offset's must not trip on two).
LAUNCHERS = {"python": [], "python -m offset": ["-m", "offset"]}
launcher = "python"


@pytest.fixture(params=sorted(LAUNCHERS), autouse=True)
def _launcher(request: pytest.FixtureRequest):
    global launcher
    launcher = request.param
    yield
    launcher = "python"


def run_example(name: str) -> str:
    proc = subprocess.run(
        [sys.executable, *LAUNCHERS[launcher], str(EXAMPLES / name)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


@pytest.mark.order_dependent(
    "Go prints -5 17 12 because of its run order (the goroutine started last runs first, "
    "runnext); the README promises Go's output, which offset gives in Go's order"
)
def test_channel_sum():
    # Go: https://go.dev/tour/concurrency/2 prints "-5 17 12".
    assert run_example("channel_sum.py") == "-5 17 12\n"


def test_channel_sum_in_any_order():
    # The two halves' sums arrive in the order the goroutines ran: either is right.
    x, y, total = run_example("channel_sum.py").split()
    assert sorted([x, y]) == ["-5", "17"] and total == "12"


def test_buffered_channel():
    # Go: https://go.dev/tour/concurrency/3
    assert run_example("buffered_channel.py") == "1\n2\n"


def test_select_fibonacci():
    # Go: https://go.dev/tour/concurrency/5
    expected = [str(n) for n in (0, 1, 1, 2, 3, 5, 8, 13, 21, 34)] + ["quit"]
    assert run_example("select_fibonacci.py").splitlines() == expected


def test_goroutines():
    # Go: https://go.dev/tour/concurrency/1 prints "hello" five times and
    # "world" four or five times (main may return before the last "world").
    lines = run_example("goroutines.py").splitlines()
    assert set(lines) <= {"hello", "world"}
    assert lines.count("hello") == 5
    assert lines.count("world") in (4, 5)
    # The two goroutines take turns: no word appears three times in a row.
    assert all(lines[i : i + 3] not in (["hello"] * 3, ["world"] * 3) for i in range(len(lines)))


@pytest.mark.parametrize("name", ["goroutines.py", "channel_sum.py", "buffered_channel.py", "select_fibonacci.py"])
def test_example_exists(name):
    assert (EXAMPLES / name).is_file()
