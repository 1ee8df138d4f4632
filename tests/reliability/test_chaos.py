"""Chaos scheduling: ``OFFSET_SHUFFLE=<seed>`` (issue 13, part 3).

What is checked: the variable's parsing and its error; that with a seed
each pick of the next goroutine is uniform among everything runnable
(``runnext`` included), the netpoller's events and the timers due together
come in random order, and deferred signal handlers still run first; that
the same seed replays the same run, in one process and in another, while
other seeds give other runs; that the pytest run names its seed in the
header and in a failing test's report, whose replay command fails the
same way; and that ``order_dependent`` tests are skipped under a seed only.

Statistical checks state their bound where they make it (STYLE.md: Go's
chan_test.go does the same for select).
"""

from __future__ import annotations

import math
import os
import random
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import offset
from offset import _config, go, makechan, run
from offset._core import _sched, current_scheduler
from offset._core._netpoll_epoll import EpollNetpoll
from offset._core._netpoll_selectors import SelectorsNetpoll
from offset._core._timers import TimerEntry, TimerHeap

ROOT = Path(__file__).resolve().parent.parent.parent
CASES = Path(__file__).with_name("chaos_cases.py")
TIMEOUT = 60  # seconds for a fresh interpreter


def env_with(seed: str | None, **extra: str) -> dict[str, str]:
    """This environment, offset from this checkout, OFFSET_SHUFFLE set to ``seed`` (None: unset)."""
    env = dict(os.environ, **extra)
    env.pop("OFFSET_SHUFFLE", None)
    if seed is not None:
        env["OFFSET_SHUFFLE"] = seed
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return env


def fresh(code: str, seed: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env=env_with(seed), capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT
    )


def bound(trials: int, p: float, sigmas: float = 6) -> float:
    """Half-width of the band around trials * p that a fair draw stays in (normal approximation)."""
    return sigmas * math.sqrt(trials * p * (1 - p))


# -- the variable -------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "seed"), [(None, None), ("", None), ("  ", None), ("0", 0), ("42", 42), (" -7 ", -7)])
def test_shuffle_seed_parses_an_integer_or_nothing(
    raw: str | None, seed: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if raw is None:
        monkeypatch.delenv("OFFSET_SHUFFLE", raising=False)
    else:
        monkeypatch.setenv("OFFSET_SHUFFLE", raw)
    assert _config.shuffle_seed() == seed


@pytest.mark.parametrize("raw", ["abc", "1.5", "0x10", "yes"])
def test_shuffle_seed_rejects_anything_else_naming_the_variable(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFSET_SHUFFLE", raw)
    message = f"OFFSET_SHUFFLE must be an integer, the seed of chaos scheduling (unset or empty: off), not {raw!r}"
    with pytest.raises(ValueError) as info:
        _config.shuffle_seed()
    assert str(info.value) == message


def test_a_bad_seed_stops_the_import_with_that_error() -> None:
    proc = fresh("import offset", "abc")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == (
        "ValueError: OFFSET_SHUFFLE must be an integer, the seed of chaos scheduling (unset or empty: off), not 'abc'"
    )


def test_off_there_is_no_random_source_anywhere() -> None:
    proc = fresh(
        "from offset._core import _sched, current_scheduler\n"
        "s = current_scheduler()\n"
        "print(_sched.SHUFFLE_SEED, _sched._SHUFFLE, s.rng, s.timers.rng, s.poller.rng)\n",
        None,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["None", "False", "None", "None", "None"]


# -- replay -------------------------------------------------------------------------

# A program whose every step is decided by the scheduler, never by time: the
# goroutines that yield, then four sleeps that are all due at one visit of the
# loop and six fds that are all ready in one poll (the thread blocks for real
# until they are, before main parks).
PROGRAM = r"""
import socket, time as _time
from offset import go, gosched, makechan, run, time
from offset._core import current_scheduler, wait_fd

def program():
    log = []

    def yielder(name):
        for i in range(3):
            log.append(name + str(i))
            gosched()

    def sleeper(name, done):
        time.sleep(100 * time.MILLISECOND)  # long after the yields below, whatever the load
        log.append("slept " + name)
        done.send(None)

    def reader(i, sock, done):
        wait_fd(sock.fileno(), "r", None, sock)
        log.append("read " + str(i))
        done.send(None)

    def main():
        done = makechan(16)
        for name in "abc":
            go(yielder, name)
        for name in "defg":
            go(sleeper, name, done)
        pairs = [socket.socketpair() for _ in range(6)]
        for i, (a, b) in enumerate(pairs):
            a.setblocking(False)
            go(reader, i, a, done)
        s = current_scheduler()
        while s.runq or s.runnext is not None:
            gosched()  # until every other goroutine has parked
        for a, b in pairs:
            b.send(b"x")
        _time.sleep(0.15)  # the sleeps are due, the fds ready: one visit of the loop sees them all
        for _ in range(10):
            done.recv()
        for a, b in pairs:
            a.close()
            b.close()

    run(main)
    return " ".join(log)

print(program())
print(program())
"""


def traces(seed: str | None) -> list[str]:
    proc = fresh(PROGRAM, seed)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    return lines


def test_the_same_seed_replays_the_same_run_in_this_process_and_the_next() -> None:
    first = traces("1")
    assert first[0] == first[1]  # run() again: the same choices
    assert traces("1") == first  # another process: the same again


def test_other_seeds_give_other_runs_and_none_is_forced_to_gos_order() -> None:
    plain = traces(None)
    assert plain[0] == plain[1]
    assert plain[0].split()[:9] == ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"]  # Go's order
    shuffled = [traces(str(seed))[0] for seed in range(2, 6)]
    # Four seeds draw 4 of the many orders: the chance that two seeds draw the
    # same one is far below 1e-6 (the 9 yields alone have 1,680 orders).
    assert len(set(shuffled)) == 4
    assert plain[0] not in shuffled
    for t in shuffled:
        assert sorted(t.split()) == sorted(plain[0].split())  # the same events, in another order


# -- what is picked -----------------------------------------------------------------


def first_runner_counts(trials: int) -> dict[str, int]:
    """Which of a, b, c runs first once main parks: a and b in the run queue, c in runnext."""
    counts = {"a": 0, "b": 0, "c": 0}

    def main() -> None:
        for _ in range(trials):
            first: list[str] = []
            done = makechan(3)
            for name in "abc":
                go(lambda n=name: (first.append(n), done.send(None)))
            for _ in range(3):
                done.recv()
            counts[first[0]] += 1

    run(main)
    return counts


def test_under_a_seed_the_next_goroutine_is_uniform_among_the_runnable_runnext_included() -> None:
    # Unshuffled, c (runnext) always runs first. With a seed each of the
    # three is first with probability 1/3: in 3,000 trials a count is
    # Binomial(3000, 1/3), mean 1,000, sd 25.8; accepted within 6 sd
    # (+-155), which a fair pick fails with probability about 2e-9 per count.
    proc = fresh(
        "import sys; sys.path.insert(0, 'tests/reliability')\n"
        "from test_chaos import first_runner_counts\n"
        "print(first_runner_counts(3000))\n",
        "11",
    )
    assert proc.returncode == 0, proc.stderr
    counts = eval(proc.stdout)  # a dict literal printed by the child
    half_width = bound(3000, 1 / 3)
    assert all(abs(n - 1000) <= half_width for n in counts.values()), (counts, half_width)
    if _sched.SHUFFLE_SEED is None:
        # Go's order: runnext first, but for the loop's visit every 64 switches.
        assert first_runner_counts(50)["c"] >= 45


def test_a_deferred_signal_handler_runs_before_the_runnable_goroutines() -> None:
    # Python runs a handler at once; offset defers one that lands in its own
    # code to the loop, which starts it before anything runnable (see
    # "Signals" in _sched.py), shuffled or not. 20 goroutines are runnable
    # when the loop comes round: a handler that took its chance among them
    # would be first with probability 1/21 per trial.
    code = (
        "from offset import go, gosched, run\n"
        "from offset._core import current_scheduler\n"
        "def trial():\n"
        "    log = []\n"
        "    def main():\n"
        "        s = current_scheduler()\n"
        "        for i in range(20):\n"
        "            go(log.append, i)\n"
        "        s.signals.append((lambda signum, frame: log.append('handler'), 10))\n"
        "        s.ticks = 63  # the next switch visits the loop\n"
        "        gosched()\n"
        "        while len(log) < 21:\n"
        "            gosched()\n"
        "    run(main)\n"
        "    return log\n"
        "for _ in range(5):\n"
        "    log = trial()\n"
        "    assert log[0] == 'handler' and sorted(log[1:]) == list(range(20)), log\n"
        "print('ok')\n"
    )
    for seed in (None, "3", "4"):
        proc = fresh(code, seed)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "ok\n"


# -- the netpoller and the timers ---------------------------------------------------


class Recorder:
    def __init__(self, log: list[int], i: int) -> None:
        self.log = log
        self.i = i

    def fire(self, ok: bool) -> None:
        self.log.append(self.i)


@pytest.mark.parametrize("backend", [EpollNetpoll, SelectorsNetpoll])
def test_the_netpoller_delivers_one_polls_events_in_random_order(backend: Any) -> None:
    # 8 readable fds, armed afresh each round (owner None: epoll registers
    # again and reports the data that is there). Which fires first: each fd
    # is first with probability 1/8 over 400 rounds, Binomial(400, 1/8),
    # mean 50, sd 6.6, accepted within 6 sd (+-40). Without a random
    # source, every round fires in the same order.
    pairs = [socket.socketpair() for _ in range(8)]
    for _, b in pairs:
        b.send(b"x")
    try:
        for rng in (None, random.Random(5)):
            poller = backend(rng)
            try:
                orders = []
                for _ in range(400):
                    log: list[int] = []
                    for i, (a, _) in enumerate(pairs):
                        poller.arm(a.fileno(), "r", Recorder(log, i))
                    assert poller.poll(0) == 8
                    assert sorted(log) == list(range(8))
                    orders.append(tuple(log))
            finally:
                poller.close()
            if rng is None:
                assert len(set(orders)) == 1
            else:
                firsts = [order[0] for order in orders]
                half_width = bound(400, 1 / 8)
                assert all(abs(firsts.count(i) - 50) <= half_width for i in range(8)), firsts
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def due_heap(rng: random.Random | None, n: int, log: list[int]) -> tuple[TimerHeap, list[TimerEntry]]:
    heap = TimerHeap(rng)
    entries = [TimerEntry(log.append, i) for i in range(n)]
    for e in entries:
        heap.push(e, 0)  # all due at once
    return heap, entries


def test_timers_due_together_fire_in_random_order_and_in_order_without_a_seed() -> None:
    # Each of 8 entries fires first with probability 1/8 over 400 visits:
    # Binomial(400, 1/8), accepted within 6 sd of 50 (+-40), as above.
    log: list[int] = []
    heap, _ = due_heap(None, 8, log)
    heap.run_due()
    assert log == list(range(8))  # ties fire in the order they were scheduled
    rng = random.Random(9)
    firsts = []
    for _ in range(400):
        log = []
        heap, _ = due_heap(rng, 8, log)
        heap.run_due()
        assert sorted(log) == list(range(8)) and len(heap) == 0
        firsts.append(log[0])
    half_width = bound(400, 1 / 8)
    assert all(abs(firsts.count(i) - 50) <= half_width for i in range(8)), firsts


def test_shuffled_timers_removed_or_pushed_again_by_an_earlier_one() -> None:
    # A callback that stops another timer due at the same visit finds it
    # fired (remove() says False: its wake-up is on its way) and it fires;
    # one pushed again fires at its new deadline, not now.
    for seed in range(20):
        heap = TimerHeap(random.Random(seed))
        log: list[str] = []
        removed: list[bool] = []
        late = TimerEntry(lambda _: log.append("late"), None)
        stopped = TimerEntry(lambda _: log.append("stopped"), None)

        def meddle(_: object, heap: TimerHeap = heap) -> None:
            log.append("meddle")
            removed.append(heap.remove(stopped))
            if late.key < 0:  # not fired yet in this order: push it back
                heap.push(late, 2**62)

        heap.push(late, 0)
        heap.push(stopped, 0)
        heap.push(TimerEntry(meddle, None), 0)
        heap.run_due()
        assert removed == [False]
        assert sorted(log) in (["late", "meddle", "stopped"], ["meddle", "stopped"])
        if "late" not in log:
            assert len(heap) == 1 and heap.next_deadline() is not None  # pending, at its new deadline


def test_shuffled_timers_left_by_a_raising_callback_stay_due() -> None:
    # A signal handler's exception can escape a callback (a bare run()
    # catches it in its loop and carries on): the entries not yet fired are
    # still due at the next visit, none lost, none fired twice.
    for seed in range(20):
        log: list[int] = []
        heap = TimerHeap(random.Random(seed))

        def boom(_: object) -> None:
            raise KeyboardInterrupt

        for i in range(5):
            heap.push(TimerEntry(log.append, i), 0)
        heap.push(TimerEntry(boom, None), 0)
        with pytest.raises(KeyboardInterrupt):
            heap.run_due()
        heap.run_due()
        assert sorted(log) == list(range(5))
        assert len(heap) == 0


def test_each_scheduler_has_its_own_source_seeded_by_creation_order() -> None:
    code = (
        "import threading\n"
        "from offset._core import current_scheduler\n"
        "keys = [current_scheduler().shuffle_key]\n"
        "for _ in range(2):\n"
        "    t = threading.Thread(target=lambda: keys.append(current_scheduler().shuffle_key))\n"
        "    t.start(); t.join()\n"
        "print(keys)\n"
    )
    proc = fresh(code, "8")
    assert proc.returncode == 0, proc.stderr
    assert eval(proc.stdout) == [f"offset shuffle 8 scheduler {n}" for n in range(3)]


# -- pytest: the seed in the header and in a failure; the marker --------------------


def pytest_in_fresh_interpreter(node: str, seed: str | None, **extra: str) -> list[str]:
    """Run pytest on ``chaos_cases.py`` (or one of its tests), return its output's lines."""
    target = str(CASES.relative_to(ROOT)) + (f"::{node}" if node else "")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-rs", target],
        env=env_with(seed, **extra),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=ROOT,
    )
    return proc.stdout.splitlines() + [f"exit {proc.returncode}"]


def order_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("E ") and "order: " in line]


def test_a_failure_names_its_seed_its_replay_fails_the_same_way_and_marked_tests_skip() -> None:
    lines = pytest_in_fresh_interpreter("", "21", CHAOS_CASES_FAIL="1")
    assert lines[-1] == "exit 1"
    assert "offset: OFFSET_SHUFFLE=21 (chaos scheduling: the same seed replays it)" in lines
    replay = (
        "failed under OFFSET_SHUFFLE=21; replay: OFFSET_SHUFFLE=21 python -m pytest -p no:randomly "
        "'tests/reliability/chaos_cases.py::test_fails_naming_its_order'"
    )
    assert replay in lines
    assert any(
        "order_dependent under OFFSET_SHUFFLE=21: asserts Go's FIFO run order itself" in line for line in lines
    ), lines
    assert any("@pytest.mark.order_dependent needs its reason: order_dependent('why')" in line for line in lines)
    assert any(line.startswith("=") and "1 failed, 1 skipped, 1 error" in line for line in lines), lines
    orders = order_lines(lines)
    assert len(orders) == 1
    # The replay command, run: the same order, so the same failure.
    again = pytest_in_fresh_interpreter("test_fails_naming_its_order", "21", CHAOS_CASES_FAIL="1")
    assert again[-1] == "exit 1"
    assert order_lines(again) == orders
    # Without a seed: Go's order, the marked test runs and passes.
    plain = pytest_in_fresh_interpreter("", None)
    assert plain[-1] == "exit 0", plain
    assert "offset: OFFSET_SHUFFLE unset (Go's run order)" in plain
    assert any(line.startswith("=") and "3 passed" in line for line in plain), plain


def test_in_this_process_the_scheduler_follows_the_environment() -> None:
    s = current_scheduler()
    assert (s.rng is None) == (os.environ.get("OFFSET_SHUFFLE", "").strip() == "")
    assert offset.run(lambda: 1) == 1


def test_the_pytest_plugin_finds_a_goroutine_leaked_on_the_tests_last_line_in_any_order() -> None:
    # Defect found under OFFSET_SHUFFLE: the leak check yielded once and then
    # looked only at started goroutines, so one started on the test's last
    # line that had not run yet (any seed, or Go's order when that yield was
    # the loop's turn, one in 64) was no leak.
    lines = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-q", "tests/reliability/chaos_leak_cases.py"],
        env=env_with("5"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=ROOT,
    ).stdout.splitlines()
    assert lines[-1].startswith("8 failed"), lines[-30:]
    leaks = [line for line in lines if line == "offset: 1 goroutine still alive when the test returned (leaked):"]
    assert len(leaks) == 8
