"""Guards shared by the whole suite.

Every test is bounded by pytest-timeout (120 s, pyproject.toml) and prints
every stack after 90 s (faulthandler_timeout). On top of that, each test runs
under three guards:

- A goroutine must not hold its scheduler's thread for long without
  switching: that is a real blocking call inside a goroutine, which stalls
  every other goroutine of the scheduler (anyio's conftest does the same for
  asyncio). The guard watches greenlet switches in the test's thread with
  ``greenlet.settrace`` and fails the test if a goroutine ran for more than
  ``BLOCKED_LIMIT`` seconds between two switches, less any time the
  machine's load kept the thread waiting for a CPU (patches/blockwatch.py).
  The scheduler's own idle wait runs in the thread's main greenlet and is
  not counted.
- A test must not leave threads behind: a live thread that offset did not
  start keeps every later deadlock test waiting instead of reporting
  (API.md: "While any other live thread exists ... a blocked scheduler waits").
- Nothing a test queued with ``go()`` or marked with ``@maintask`` leaks into
  the next test's ``run()``.

Chaos scheduling: under ``OFFSET_SHUFFLE=<seed>`` (README, "Reliability")
the header names the seed and a failing test's report says how to replay
it; the ``random`` module is seeded from it before each test, so that
select's random choices replay too. A test marked
``@pytest.mark.order_dependent("why")`` asserts an order that the API
promises only under Go's run order (or a property of that default order
itself), and is skipped under a seed with its reason.
"""

from __future__ import annotations

import importlib.metadata
import random
import signal
import threading
import time

import greenlet
import pytest
from patches.blockwatch import BlockWatch

import offset._core._sched as _sched

# A shell starts background jobs with SIGINT ignored (bash without job
# control: `.ci/run` runs the other Pythons' suites at once), and an ignored
# disposition survives exec, so Python would not install its Ctrl-C handler
# here or in any child: the tests of KeyboardInterrupt and of the program's
# SIGINT handler need the usual start. A caught signal is reset to the
# default at exec, so children start as from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# offset's pytest plugin (@pytest.mark.offset) comes with offset's pytest11
# entry point; an editable install made before the plugin existed lacks it,
# so load it by name there (with the entry point too, it would be twice).
if not any(ep.value == "offset.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11")):
    pytest_plugins = ["offset.pytest_plugin"]

# OFFSET_SHUFFLE's seed (offset read it at import), None when unset.
SHUFFLE_SEED = getattr(_sched, "SHUFFLE_SEED", None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "order_dependent(why): asserts an order that holds only under Go's run order; "
        "skipped under OFFSET_SHUFFLE, with why",
    )


def pytest_report_header(config: pytest.Config) -> str:
    if SHUFFLE_SEED is None:
        return "offset: OFFSET_SHUFFLE unset (Go's run order)"
    return f"offset: OFFSET_SHUFFLE={SHUFFLE_SEED} (chaos scheduling: the same seed replays it)"


def pytest_runtest_setup(item: pytest.Item) -> None:
    mark = item.get_closest_marker("order_dependent")
    if mark is None or SHUFFLE_SEED is None:
        return
    if not mark.args or not isinstance(mark.args[0], str) or not mark.args[0]:
        pytest.fail("@pytest.mark.order_dependent needs its reason: order_dependent('why')", pytrace=False)
    pytest.skip(f"order_dependent under OFFSET_SHUFFLE={SHUFFLE_SEED}: {mark.args[0]}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    if report.failed and SHUFFLE_SEED is not None:
        report.sections.append(
            (
                "offset chaos scheduling",
                f"failed under OFFSET_SHUFFLE={SHUFFLE_SEED}; replay: "
                f"OFFSET_SHUFFLE={SHUFFLE_SEED} python -m pytest -p no:randomly '{item.nodeid}'",
            )
        )
    return report


@pytest.fixture(autouse=True)
def _shuffle_seeds_random():
    """Under OFFSET_SHUFFLE, seed ``random`` before each test (select draws from it)."""
    if SHUFFLE_SEED is not None:
        random.seed(f"offset shuffle {SHUFFLE_SEED}")
    yield


# A goroutine that runs this long without switching blocked the thread for real.
BLOCKED_LIMIT = 2.0
# How long a test's leftover threads get to finish before the test fails.
THREAD_GRACE = 5.0


def _offset_pool_thread(t: threading.Thread) -> bool:
    # offset's own thread-pool workers (offset.syscall); they do not count.
    return t.ident in getattr(_sched, "offset_thread_idents", ())


@pytest.fixture(autouse=True)
def _no_leftover_threads():
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + THREAD_GRACE
    leftover: list[threading.Thread] = []
    for t in threading.enumerate():
        if t in before or _offset_pool_thread(t):
            continue
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            leftover.append(t)
    if leftover:
        pytest.fail(f"test left threads running: {leftover!r}", pytrace=False)


@pytest.fixture(autouse=True)
def _scheduler_thread_not_blocked():
    """Fail the test if a goroutine blocked its scheduler's thread for real."""
    watch = BlockWatch()

    previous = greenlet.settrace(watch)
    try:
        yield
    finally:
        greenlet.settrace(previous)
    if watch.worst > BLOCKED_LIMIT:
        pytest.fail(
            f"{watch.who} held the scheduler's thread for {watch.worst:.1f}s without switching "
            "(a real blocking call in a goroutine?)",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _fresh_scheduler_state():
    """Nothing queued or marked by one test reaches the next one's run().

    Also starts every test with the scheduler's switch counter at zero: the
    run order of a program must not depend on what ran earlier in the same
    thread (see test_sched.py::test_same_program_same_order_on_every_run,
    which checks this within one test). Touches private state on purpose:
    there is no public way to drop goroutines that were queued with go()
    but never run.
    """
    s = _sched.current_scheduler()
    if hasattr(s, "ticks"):
        s.ticks = 0
    yield
    s = _sched.current_scheduler()
    if hasattr(_sched, "_maintask"):
        _sched._maintask = None
    runq = getattr(s, "runq", None)
    if runq is not None:
        runq.clear()
    if hasattr(s, "runnext"):
        s.runnext = None
