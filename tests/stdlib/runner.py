"""Run CPython's own test modules plain and under offset; report regressions.

    python tests/stdlib/runner.py [-j N] [--timeout S] [-v] MODULE|GROUP...
    (or ./scripts/stdlib-check, which makes the virtualenv first)

gevent runs the stdlib's tests after monkey patching in its CI, with a list
of known failures where each entry says why (gevent/gevent:
src/gevent/testing/patched_tests_setup.py, src/gevent/tests/known_failures.py).
This is offset's equivalent.

How: each module runs twice, each time in a fresh interpreter (child.py):
plain, and with ``offset.patch_all()`` before the module is imported and
its tests running as the main goroutine of ``offset.run()``. The child
streams one JSON line per test start and end through a pipe. The parent is
the watchdog: when no line arrives for ``--timeout`` seconds, it asks the
child for every stack (SIGUSR1: threads and goroutines), kills the child's
whole process group (tests start server threads and subprocesses), records
the test as **hung**, and starts a new child from the test after it. A
child that dies mid-test records that test as **crashed** and restarts the
same way. Tests that never started are **not run**.

The two runs of a module follow each other (tests bind fixed ports, as
regrtest -j never runs one module twice at once); ``-j`` modules run side
by side. A test that hangs or crashes plain is left out of the patched run:
it cannot regress, and would cost another timeout.

A regression is a test that passes plain and does anything else patched:
fails, errors, hangs, crashes, is skipped or does not run. One that failed,
errored or was skipped runs once more in a fresh patched child, and if it
passes then it is flaky: reported, not failing the check. Every other one
must be listed in known_failures.txt (one line each, with its reason) or
the check fails; a listed one that passes again is reported so that the
list only shrinks. Hangs and crashes are printed in a box of their own,
listed or not.

Time: the child stamps each test's start and end events with its clock
(``time.monotonic()``), so each test that finished (any outcome but hung,
crashed or not run) has a duration: startTest to stopTest, setUp and
tearDown included. The headline figure, "patched/unpatched, tests that ran
in both", is the sum of the patched durations over the sum of the plain
ones, taken over the tests that finished in *both* runs: like for like.
The whole-module walls (each mode's children end to end, summed) stay in
the table, but they are not comparable: a test that hangs plain costs the
plain wall a whole timeout and is left out of the patched run, one that
hangs patched does the reverse, and the walls also hold interpreter
start-up, ``patch_all()``, imports and class and module fixtures, which
the durations leave out. The report also names the tests whose patched
duration exceeds the plain one most (``LARGEST_DIFFERENCES``). Durations
are wall-clock, in children that run beside others (``-j``): on a loaded
machine expect noise of some percent.

known_failures.txt, one entry a line, ``#`` starts a comment::

    TEST-ID-OR-PATTERN  [py>=3.12 ...]  reason, one line

The id is a test id as unittest prints it (fnmatch patterns allowed:
``test.test_x.SomeTests.*``; class and module fixtures are
``test.test_x.SomeTests.setUpClass``, ``test.test_x.setUpModule``, and a
module that fails to import is ``test.test_x.<import>``). The optional
``py<op>X.Y[.Z]`` conditions (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``)
restrict the entry to some Pythons; all of them must hold.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import fnmatch
import glob
import importlib.machinery
import importlib.util
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from typing import TextIO

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHILD = os.path.join(HERE, "child.py")
KNOWN_FAILURES = os.path.join(HERE, "known_failures.txt")

DEFAULT_TIMEOUT = 60.0
# How many tests of one class may hang before the rest of the class is left
# out (a setUp that hangs every test would otherwise cost one timeout each).
CLASS_HANG_LIMIT = 2
# How long a child gets to import its module and list its tests, at least
# (the watchdog's timeout may be set short, as the runner's own tests do).
STARTUP_GRACE = 30.0
# How long a child gets to exit after its last test.
EXIT_GRACE = 10.0
# How long a child gets to write its stacks after SIGUSR1.
DUMP_GRACE = 2.0

GROUPS: dict[str, list[str]] = {
    "network": [
        "test_socket",
        "test_selectors",
        "test_select",
        "test_poll",
        "test_epoll",
        "test_time",
        "test_timeout",
        "test_socketserver",
        "test_httplib",
        "test_httpservers",
        "test_urllib2_localnet",
        "test_wsgiref",
        "test_xmlrpc",
        "test_ftplib",
        "test_smtplib",
        "test_poplib",
        "test_telnetlib",  # removed in 3.13: skipped there, with a message
    ],
    "threading": [
        "test_threading",
        "test_thread",
        "test_queue",
        "test_concurrent_futures",  # a package from 3.12; not in every build
    ],
    # The patch layer's second part: TLS, files, child processes, signals, fork.
    "system": [
        "test_ssl",
        "test_subprocess",
        "test_os",
        "test_signal",
        "test_file",
        "test_fileio",
    ],
}

PASS = "pass"
HUNG = "hung"
CRASHED = "crashed"
NOT_RUN = "not run"
# A test with any other outcome ran to its end and has a duration.
UNFINISHED = (HUNG, CRASHED, NOT_RUN)
# How many tests the report names as costing the most more patched.
LARGEST_DIFFERENCES = 5
# The regressions run again to tell flaky ones. Not hangs and crashes: a
# rerun costs another timeout, and a hang or crash is never excused by
# passing once (a hang that comes after certain earlier tests passes
# alone). Not tests left unrun: they follow from a hang or a fixture.
RERUN = ("fail", "error", "skip")


@dataclasses.dataclass
class Outcome:
    """What happened to one test in one run."""

    outcome: str  # pass fail error skip xfail unexpected-success hung crashed "not run"
    msg: str = ""
    detail: str = ""  # traceback, stack dump or the child's last output
    # Seconds from the test's start to its end (setUp and tearDown included,
    # class and module fixtures not), by the child's clock; 0 for a test
    # skipped without starting (a skip decorator, 3.12+); None for a test
    # that did not finish.
    duration: float | None = None

    @property
    def finished(self) -> bool:
        """The test ran to its end, whatever its outcome."""
        return self.outcome not in UNFINISHED and self.duration is not None


@dataclasses.dataclass
class ModuleRun:
    """One module in one mode, over however many children it took."""

    module: str
    mode: str
    select: list[str] | None = None  # fnmatch patterns: run only the tests they match
    exclude: frozenset[str] = frozenset()  # test ids left out
    all_ids: list[str] = dataclasses.field(default_factory=list)  # every test of the module, in order
    ids: list[str] = dataclasses.field(default_factory=list)  # those selected
    results: dict[str, Outcome] = dataclasses.field(default_factory=dict)
    wall: float = 0.0
    children: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results.values() if r.outcome == outcome)

    def get(self, test_id: str) -> Outcome:
        return self.results.get(test_id) or Outcome(NOT_RUN, "never started")

    def selected(self, test_id: str) -> bool:
        if test_id in self.exclude:
            return False
        return self.select is None or any(fnmatch.fnmatchcase(test_id, p) for p in self.select)


@dataclasses.dataclass
class Entry:
    """One line of known_failures.txt."""

    pattern: str
    conditions: list[str]
    reason: str
    line: int

    def applies(self, version: tuple[int, ...]) -> bool:
        return all(_holds(c, version) for c in self.conditions)

    def matches(self, test_id: str) -> bool:
        return fnmatch.fnmatchcase(test_id, self.pattern)


@dataclasses.dataclass
class Regression:
    """A test that passed plain and did not patched."""

    module: str
    test_id: str
    result: Outcome  # the patched run's
    rerun: Outcome | None = None  # the same test, patched, in a fresh child
    known: Entry | None = None

    @property
    def flaky(self) -> bool:
        """Failed (not hung, crashed or left unrun) and passed on a rerun."""
        return self.result.outcome in RERUN and self.rerun is not None and self.rerun.outcome == PASS


@dataclasses.dataclass
class Report:
    """What check() found; ``status`` is the exit status (1: new regressions)."""

    runs: dict[str, dict[str, ModuleRun]]  # module -> mode ("plain", "patched", "rerun") -> run
    regressions: list[Regression]
    now_passing: list[tuple[Entry, str]]
    skipped: list[str]
    elapsed: float
    status: int


# --- known failures ---------------------------------------------------------

_CONDITION = re.compile(r"^py(==|!=|<=|>=|<|>)(\d+(?:\.\d+){0,2})$")


def _holds(condition: str, version: tuple[int, ...]) -> bool:
    m = _CONDITION.match(condition)
    assert m is not None
    op, wanted = m.group(1), tuple(int(p) for p in m.group(2).split("."))
    have = version[: len(wanted)]
    return {
        "==": have == wanted,
        "!=": have != wanted,
        "<": have < wanted,
        "<=": have <= wanted,
        ">": have > wanted,
        ">=": have >= wanted,
    }[op]


def parse_known_failures(path: str) -> list[Entry]:
    """The entries of ``path`` (none if it does not exist).

    Raises:
        ValueError: a line has no reason, naming the file and line.
    """
    if not os.path.exists(path):
        return []
    entries = []
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            words = raw.split()
            if not words or words[0].startswith("#"):
                continue
            conditions = []
            rest = words[1:]
            while rest and _CONDITION.match(rest[0]):
                conditions.append(rest.pop(0))
            if not rest:
                raise ValueError(f"{path}:{number}: {words[0]!r} needs a reason after it")
            entries.append(Entry(words[0], conditions, " ".join(rest), number))
    return entries


# --- one module, one mode ---------------------------------------------------


def _exited(pid: int) -> bool:
    """Whether the child has exited, without reaping it (its process group
    must stay valid until we kill it)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16000))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _status_text(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exited with status {status}"


class _Child:
    """One child process: spawn, read its events, watch the clock.

    ``activity`` is what the child is doing according to its last event:
    ("import",), ("test", i), ("between", i), (phase, of, i) for a class or
    module fixture with i the next test, or ("exit",) after "done".
    """

    def __init__(self, run: ModuleRun, start: int, skip_classes: list[str], timeout: float, paths: list[str]) -> None:
        mode = "patched" if run.mode == "rerun" else run.mode
        self.run = run
        self.timeout = timeout
        self.tmp = tempfile.mkdtemp(prefix=f"stdlib-check-{run.module}-{run.mode}-")
        self.log = os.path.join(self.tmp, "output")
        self.dump = os.path.join(self.tmp, "stacks")
        cwd = os.path.join(self.tmp, "cwd")
        os.mkdir(cwd)
        self.activity: tuple[object, ...] = ("import",)
        self.test_started: dict[int, float] = {}  # test index -> its start event's t (the child's clock)
        self.finished = False
        self.fatal: Outcome | None = None
        self._buffer = b""
        self._last_event_at: float | None = None
        read, write = os.pipe()
        os.set_blocking(read, False)
        self._read = read
        cmd = [sys.executable, CHILD, "--module", run.module, "--mode", mode, "--events", str(write)]
        cmd += ["--dump", self.dump, "--start", str(start), "--timeout", str(timeout)]
        if run.select is not None:
            select = os.path.join(self.tmp, "select")
            with open(select, "w", encoding="utf-8") as f:
                f.write("".join(p + "\n" for p in run.select))
            cmd += ["--select", select]
        if run.exclude:
            exclude = os.path.join(self.tmp, "exclude")
            with open(exclude, "w", encoding="utf-8") as f:
                f.write("".join(t + "\n" for t in sorted(run.exclude)))
            cmd += ["--exclude", exclude]
        for cls in skip_classes:
            cmd += ["--skip-class", cls]
        for p in paths:
            cmd += ["--path", os.path.abspath(p)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in [ROOT, env.get("PYTHONPATH", "")] if p)
        env.pop("PYTHONSTARTUP", None)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(write,),
                start_new_session=True,
            )
        os.close(write)
        self.started = time.monotonic()

    def watch(self, on_event: Callable[[dict[str, object]], None]) -> str:
        """Read events until the child exits ("exited") or goes quiet for the
        timeout ("quiet"); the child is still unreaped either way."""
        deadline = time.monotonic() + max(self.timeout, STARTUP_GRACE)
        poller = select.poll()
        poller.register(self._read, select.POLLIN)
        eof = False
        while True:
            now = time.monotonic()
            if not eof:
                poller.poll(max(0.0, min(deadline - now, 0.2)) * 1000)
                eof = self._drain(on_event)
                if eof:
                    poller.unregister(self._read)
            else:
                time.sleep(0.05)
            if self._last_event_at is not None:
                deadline = self._last_event_at + (EXIT_GRACE if self.finished else self.timeout)
                self._last_event_at = None
            if _exited(self.proc.pid):
                self._drain(on_event)
                return "exited"
            if time.monotonic() >= deadline:
                return "quiet"

    def _drain(self, on_event: Callable[[dict[str, object]], None]) -> bool:
        """Handle every complete line available; True at end of file."""
        while True:
            try:
                chunk = os.read(self._read, 1 << 16)
            except BlockingIOError:
                return False
            if not chunk:
                return True
            self._buffer += chunk
            *lines, self._buffer = self._buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    self._last_event_at = time.monotonic()
                    on_event(json.loads(line))

    def stacks(self) -> str:
        """Ask for every stack (child.py's SIGUSR1) and return the dump."""
        try:
            os.kill(self.proc.pid, signal.SIGUSR1)
        except ProcessLookupError:
            return ""
        deadline = time.monotonic() + DUMP_GRACE
        text = ""
        while time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                with open(self.dump, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except FileNotFoundError:  # the child hung before it opened the file
                continue
            if "-- end of goroutine stacks --" in text:
                break
        return text

    def finish(self) -> int:
        """Kill what is left of the process group, reap the child, clean up."""
        _kill_group(self.proc.pid)
        status = self.proc.wait()
        os.close(self._read)
        self.run.wall += time.monotonic() - self.started
        self.run.children += 1
        shutil.rmtree(self.tmp, ignore_errors=True)
        return status


def run_module(
    module: str,
    mode: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    paths: Iterable[str] = (),
    select: list[str] | None = None,
    exclude: Iterable[str] = (),
    log: Callable[[str], None] = lambda line: None,
) -> ModuleRun:
    """Run ``module``'s tests in ``mode``, restarting after each hang or
    crash, and return what happened to each test.

    Args:
        mode: "plain", "patched", or "rerun" (patched, to try regressions
            again).
        select: fnmatch patterns; only the tests they match run.
        exclude: test ids left out.
    """
    paths = list(paths)
    run = ModuleRun(module, mode, select, frozenset(exclude))
    start = 0
    skip_classes: list[str] = []
    not_run_because: dict[str, str] = {}  # class or module -> why its tests did not run
    class_hangs: dict[str, int] = {}
    ids_known = False

    while True:
        child = _Child(run, start, skip_classes, timeout, paths)

        def on_event(event: dict[str, object], child: _Child = child) -> None:
            nonlocal ids_known
            kind = event["ev"]
            if kind == "collected":
                ids = list(event["ids"])  # type: ignore[call-overload]
                if not ids_known:
                    run.all_ids, ids_known = ids, True
                    run.ids = [t for t in ids if run.selected(t)]
                elif ids != run.all_ids:
                    run.notes.append(f"{mode}: the test list changed between children (restart at {start})")
                child.activity = ("between", start)
            elif kind == "start":
                child.activity = ("test", event["i"])
                child.test_started[int(event["i"])] = float(event["t"])  # type: ignore[call-overload, arg-type]
            elif kind == "end":
                i = int(event["i"])  # type: ignore[call-overload]
                outcome = Outcome(str(event["outcome"]), str(event.get("msg", "")), str(event.get("detail", "")))
                # No start: unittest 3.12+ skips a test marked with a skip
                # decorator without starting it. It took no time.
                began = child.test_started.pop(i, None)
                outcome.duration = 0.0 if began is None else float(event["t"]) - began  # type: ignore[arg-type]
                run.results[run.all_ids[i]] = outcome
                child.activity = ("between", i + 1)
            elif kind == "phase":
                child.activity = (event["what"], event["of"], event["i"])
            elif kind == "fixture":
                run.results[str(event["id"])] = Outcome(
                    str(event["outcome"]), str(event.get("msg", "")), str(event.get("detail", ""))
                )
            elif kind == "module_skip":
                run.results[f"{module}.<import>"] = Outcome("skip", str(event["msg"]))
                not_run_because[module] = f"module skipped: {event['msg']}"
                run.notes.append(f"{mode}: module skipped: {event['msg']}")
            elif kind == "fatal":
                child.fatal = Outcome(CRASHED, str(event["msg"]), str(event.get("detail", "")))
            elif kind == "done":
                child.finished = True
                child.activity = ("exit",)

        how = child.watch(on_event)
        if how == "quiet" and not child.finished:
            result = Outcome(HUNG, f"no progress for {timeout:g}s", child.stacks())
        elif how == "exited" and not child.finished:
            result = child.fatal or Outcome(CRASHED, "", _tail(child.log))
        else:
            result = None
        status = child.finish()
        if result is not None and result.outcome == CRASHED:
            last = [line for line in _tail(child.log, 5).splitlines() if line.strip()]
            result.msg = result.msg or (f"{_status_text(status)}: {last[-1].strip()}" if last else _status_text(status))
            result.detail = result.detail or _tail(child.log)
        if result is None:
            if how == "quiet":
                run.notes.append(f"{mode}: did not exit within {EXIT_GRACE:g}s of its last test; killed")
            elif status != 0:
                run.notes.append(f"{mode}: {_status_text(status)} after its last test")
            break

        # Record the hang or crash where the child was, and find where the
        # next child starts (None: nothing left worth starting).
        activity = child.activity
        next_start: int | None
        what = activity[0]
        if what == "import":
            run.results[f"{module}.<import>"] = result
            next_start = None
        elif what in ("test", "between"):
            i = int(activity[1])  # type: ignore[call-overload]
            if what == "between":  # the next test that was to run
                while i < len(run.all_ids) and not run.selected(run.all_ids[i]):
                    i += 1
            if i >= len(run.all_ids):
                run.results[f"{module}.<end>"] = result
                next_start = None
            else:
                if what == "between":
                    result.msg = f"{result.msg} (between tests, before this one started)"
                run.results[run.all_ids[i]] = result
                next_start = i + 1
                cls = run.all_ids[i].rsplit(".", 1)[0]
                if result.outcome == HUNG:
                    class_hangs[cls] = class_hangs.get(cls, 0) + 1
                    if class_hangs[cls] >= CLASS_HANG_LIMIT and cls not in skip_classes:
                        skip_classes.append(cls)
                        not_run_because[cls] = f"not run: {class_hangs[cls]} tests of {cls} hung before it"
        else:
            of, i_next = str(activity[1]), activity[2]
            result.msg = f"{what} of {of}: {result.msg}"
            if what in ("tearDownClass", "tearDownModule") or i_next is None:
                run.results[f"{of}.{what}"] = result
                next_start = None if i_next is None else int(i_next)  # type: ignore[call-overload]
            else:
                i = int(i_next)  # type: ignore[call-overload]
                run.results[run.all_ids[i]] = result
                next_start = i + 1
                not_run_because[of] = f"not run: {what} of {of} {result.outcome}"
                if what == "setUpClass":
                    skip_classes.append(of)
                else:
                    next_start = None
        log(f"{module} ({mode}): {result.outcome} in {_where(activity, run.all_ids)}: {result.msg}")
        if next_start is None or next_start >= len(run.all_ids):
            break
        start = next_start

    for test_id in run.ids:
        if test_id not in run.results:
            run.results[test_id] = Outcome(NOT_RUN, _not_run_reason(test_id, module, run, not_run_because))
    return run


def _where(activity: tuple[object, ...], ids: list[str]) -> str:
    if activity[0] in ("test", "between") and isinstance(activity[1], int) and activity[1] < len(ids):
        return ids[activity[1]]
    if activity[0] == "import":
        return "import"
    return f"{activity[0]} of {activity[1]}"


def _not_run_reason(test_id: str, module: str, run: ModuleRun, because: dict[str, str]) -> str:
    cls = test_id.rsplit(".", 1)[0]
    for name in (cls, module):
        if name in because:
            return because[name]
    for fixture in (f"{cls}.setUpClass", f"{module}.setUpModule"):
        r = run.results.get(fixture)
        if r is not None and r.outcome != PASS:
            return f"never started: {fixture} {r.outcome}: {r.msg}"
    return "never started"


# --- comparing and reporting -------------------------------------------------


def compare(plain: ModuleRun, patched: ModuleRun) -> list[Regression]:
    """Tests that pass plain and do anything else patched, and fixtures
    (setUpClass, import, ...) that go wrong only patched."""
    regressions = []
    for test_id in plain.ids:
        if plain.get(test_id).outcome == PASS:
            result = patched.get(test_id)
            if result.outcome != PASS:
                regressions.append(Regression(plain.module, test_id, result))
    tests = set(plain.ids) | set(patched.ids)
    for test_id, result in patched.results.items():
        if test_id not in tests and result.outcome not in (PASS, "xfail"):
            theirs = plain.results.get(test_id)
            if theirs is None or theirs.outcome != result.outcome:
                regressions.append(Regression(plain.module, test_id, result))
    return regressions


@dataclasses.dataclass
class Timing:
    """The durations of the tests that finished in both runs of a module
    (or of every module), the like-for-like part of the two walls."""

    pairs: list[tuple[str, float, float]]  # test id, seconds plain, seconds patched

    @property
    def plain(self) -> float:
        return sum(p for _, p, _ in self.pairs)

    @property
    def patched(self) -> float:
        return sum(q for _, _, q in self.pairs)

    @property
    def ratio(self) -> float | None:
        """Patched over plain (None when plain took no time)."""
        plain = self.plain
        return self.patched / plain if plain > 0 else None

    def largest(self, n: int = LARGEST_DIFFERENCES) -> list[tuple[str, float, float]]:
        """The ``n`` tests whose patched duration exceeds the plain one most."""
        return sorted(self.pairs, key=lambda pair: pair[2] - pair[1], reverse=True)[:n]


def timing(plain: ModuleRun, patched: ModuleRun) -> Timing:
    """Pair the durations of the tests that finished (any outcome but hung,
    crashed or not run) in both runs.

    What hung plain is not in the patched run, and what hung patched has
    no duration, so neither side's watchdog timeouts, nor the restarts
    after them, count: those are in the whole-module walls only.
    """
    pairs = []
    for test_id in plain.ids:
        p, q = plain.get(test_id), patched.get(test_id)
        if p.finished and q.finished:
            assert p.duration is not None and q.duration is not None
            pairs.append((test_id, p.duration, q.duration))
    return Timing(pairs)


def total_timing(runs: dict[str, dict[str, ModuleRun]]) -> Timing:
    return Timing([pair for by_mode in runs.values() for pair in timing(by_mode["plain"], by_mode["patched"]).pairs])


def _ratio(t: Timing) -> str:
    ratio = t.ratio
    return "n/a" if ratio is None else f"{ratio:.2f}"


def resolve(name: str, paths: list[str]) -> str | None:
    """The importable module a command-line name means, or None.

    ``test_socket`` means CPython's ``test.test_socket``; a name found in
    ``paths`` (the --path directories) is taken as it is.
    """
    if "." not in name and importlib.machinery.PathFinder.find_spec(name, [os.path.abspath(p) for p in paths]):
        return name
    for candidate in ([f"test.{name}"] if name.startswith("test_") else []) + [name]:
        try:
            if importlib.util.find_spec(candidate) is not None:
                return candidate
        except (ImportError, ValueError):
            pass
    return None


def has_test_package() -> bool:
    try:
        return importlib.util.find_spec("test.support") is not None
    except ImportError:
        return False


def rerun_patterns(regressions: list[Regression]) -> list[str]:
    """--select patterns that run the regressions' tests again (a fixture's
    regression: every test under it)."""
    patterns = []
    for r in regressions:
        if r.result.outcome not in RERUN:
            continue
        owner, _, last = r.test_id.rpartition(".")
        if last.startswith("<"):
            patterns.append("*")
        elif last in ("setUpClass", "tearDownClass", "setUpModule", "tearDownModule"):
            patterns.append(glob.escape(owner) + ".*")
        else:
            patterns.append(glob.escape(r.test_id))
    return sorted(set(patterns))


def judge(
    regressions: list[Regression], entries: list[Entry], modules: list[str], runs: dict[str, dict[str, ModuleRun]]
) -> tuple[list[tuple[Entry, str]], int]:
    """Match regressions with known_failures.txt's entries (setting
    ``known``); return the entries to remove and the exit status.

    An entry is to remove when its module was checked and no regression
    matches it ("now passes", or "matches no test" when no test or fixture
    of the run has a matching id). The status is 1 when a regression is
    neither listed nor flaky.
    """
    version = sys.version_info[:3]
    applicable = [e for e in entries if e.applies(version)]
    for r in regressions:
        r.known = next((e for e in applicable if e.matches(r.test_id)), None)
    to_remove = []
    for e in applicable:
        if not any(e.pattern.startswith(m + ".") for m in modules):
            continue  # its module was not checked this time
        if not any(r.known is e for r in regressions):
            seen = any(e.matches(t) for m in modules for run in runs[m].values() for t in run.results)
            to_remove.append((e, "now passes" if seen else "matches no test"))
    new = [r for r in regressions if r.known is None and not r.flaky]
    return to_remove, 1 if new else 0


def check(
    names: list[str],
    *,
    jobs: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    paths: Iterable[str] = (),
    select: list[str] | None = None,
    rerun: bool = True,
    known_failures: str = KNOWN_FAILURES,
    verbose: bool = False,
    out: TextIO = sys.stdout,
) -> Report:
    """Run each module plain and patched, compare, print the report.

    The two runs of one module never overlap (tests bind fixed ports, such
    as test_socket's VSOCK port), as regrtest -j never runs one module
    twice at once; different modules run side by side.

    Args:
        names: module names (``test_socket``, ``test.test_socket``, or a
            module in ``paths``); groups are expanded by ``main``.
        jobs: modules run at once (default: the number of CPUs).
        timeout: seconds without progress after which a test is hung.
        paths: directories searched first for the modules.
        select: fnmatch patterns: run only the tests whose ids they match.
        rerun: run each unlisted regression that failed, errored or was
            skipped once more, patched, in a fresh child; one that passes
            then is flaky, reported but not failing the check.
        known_failures: the accepted regressions' file.
        verbose: print restarts as they happen, and each regression's
            traceback or stacks.
        out: where the report goes.

    Raises:
        ValueError: known_failures has a malformed line.
    """
    began = time.monotonic()
    paths = list(paths)
    entries = parse_known_failures(known_failures)
    lock = threading.Lock()

    def say(line: str = "") -> None:
        with lock:
            out.write(line + "\n")
            out.flush()

    log = say if verbose else (lambda line: None)
    modules, skipped = [], []
    for name in names:
        module = resolve(name, paths)
        if module is None:
            skipped.append(name)
            say(f"{name}: no such test module in Python {sys.version.split()[0]}; skipped")
        elif module not in modules:
            modules.append(module)

    def one(module: str) -> tuple[dict[str, ModuleRun], list[Regression]]:
        plain = run_module(module, "plain", timeout=timeout, paths=paths, select=select, log=log)
        # What hangs or crashes without offset cannot regress with it, and
        # would cost another timeout: the patched run leaves it out.
        broken = [t for t, r in plain.results.items() if r.outcome in (HUNG, CRASHED)]
        if broken:
            plain.notes.append(
                f"plain: {', '.join(broken)} hung or crashed without offset; left out of the patched run"
            )
        patched = run_module(module, "patched", timeout=timeout, paths=paths, select=select, exclude=broken, log=log)
        runs = {"plain": plain, "patched": patched}
        regressions = compare(runs["plain"], runs["patched"])
        # A listed regression is not run again: known, it cannot fail the check.
        version = sys.version_info[:3]
        unlisted = [r for r in regressions if not any(e.applies(version) and e.matches(r.test_id) for e in entries)]
        patterns = rerun_patterns(unlisted) if rerun else []
        if patterns:
            again = run_module(module, "rerun", timeout=timeout, paths=paths, select=patterns, log=log)
            runs["rerun"] = again
            for r in unlisted:
                if r.result.outcome not in RERUN:
                    continue
                if r.test_id in again.all_ids:
                    r.rerun = again.get(r.test_id)
                else:  # a fixture: fine this time unless it went wrong again
                    r.rerun = again.results.get(r.test_id) or Outcome(PASS)
        return runs, regressions

    runs: dict[str, dict[str, ModuleRun]] = {}
    found: dict[str, list[Regression]] = {}
    jobs = jobs or os.cpu_count() or 1
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(one, m): m for m in modules}
        for future in concurrent.futures.as_completed(futures):
            m = futures[future]
            runs[m], found[m] = future.result()
            plain, patched = runs[m]["plain"], runs[m]["patched"]
            flaky = sum(1 for r in found[m] if r.flaky)
            both = timing(plain, patched)
            say(
                f"[{len(runs)}/{len(modules)}] {m}: {len(plain.ids)} tests, {len(found[m])} regressions"
                + (f" ({flaky} flaky)" if flaky else "")
                + f"; wall {plain.wall:.1f}s plain, {patched.wall:.1f}s patched"
                + f"; tests that ran in both {both.plain:.1f}s, {both.patched:.1f}s ({_ratio(both)})"
            )

    regressions = [r for m in modules for r in found[m]]
    to_remove, status = judge(regressions, entries, modules, runs)
    report = Report({m: runs[m] for m in modules}, regressions, to_remove, skipped, time.monotonic() - began, status)
    _print_report(report, modules, jobs, verbose, say)
    return report


def _timing_json(t: Timing) -> dict[str, object]:
    return {"tests": len(t.pairs), "plain": t.plain, "patched": t.patched, "ratio": t.ratio}


def write_json(report: Report, path: str) -> None:
    """Every test's outcome and duration in every run, the durations of the
    tests that ran in both runs, and the regressions, as JSON."""
    total = total_timing(report.runs)
    data = {
        "python": sys.version.split()[0],
        "elapsed": report.elapsed,
        "status": report.status,
        "both": {
            **_timing_json(total),
            "largest_differences": [{"id": t, "plain": p, "patched": q} for t, p, q in total.largest()],
        },
        "modules": {
            m: {
                "both": _timing_json(timing(by_mode["plain"], by_mode["patched"])),
                **{
                    mode: {
                        "wall": run.wall,
                        "children": run.children,
                        "notes": run.notes,
                        # [outcome, msg, duration in seconds or null]
                        "results": {t: [r.outcome, r.msg, r.duration] for t, r in run.results.items()},
                    }
                    for mode, run in by_mode.items()
                },
            }
            for m, by_mode in report.runs.items()
        },
        "regressions": [
            {
                "id": r.test_id,
                "outcome": r.result.outcome,
                "msg": r.result.msg,
                "rerun": r.rerun.outcome if r.rerun else None,
                "known": r.known.reason if r.known else None,
            }
            for r in report.regressions
        ],
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)


def _print_report(report: Report, modules: list[str], jobs: int, verbose: bool, say: Callable[[str], None]) -> None:
    by_module: dict[str, list[Regression]] = {m: [] for m in modules}
    for r in report.regressions:
        by_module[r.module].append(r)

    # regr: regressions; hung, crash: patched (plain ones are notes); wall:
    # each run of the module, end to end; ran in both: the durations of the
    # tests that finished in both runs (n of them), and their ratio.
    width = max([len(m) for m in modules] + [len("total")])
    say("")
    say(f"{'':<{width}}  {'':>5}  {'':>4}  {'':>4}  {'':>5}  {' wall ':-^17}  {' tests that ran in both ':-^31}")
    say(
        f"{'module':<{width}}  {'tests':>5}  {'regr':>4}  {'hung':>4}  {'crash':>5}  {'plain':>8} {'patched':>8}  "
        f"{'n':>5}  {'plain':>8} {'patched':>8}  {'ratio':>6}"
    )

    def row(name: str, cells: list[int], walls: tuple[float, float], both: Timing) -> None:
        tests, regr, hung, crash = cells
        say(
            f"{name:<{width}}  {tests:>5}  {regr:>4}  {hung:>4}  {crash:>5}  {walls[0]:>7.1f}s {walls[1]:>7.1f}s  "
            f"{len(both.pairs):>5}  {both.plain:>7.1f}s {both.patched:>7.1f}s  {_ratio(both):>6}"
        )

    totals = [0, 0, 0, 0]
    walls = [0.0, 0.0]
    rerun_wall = 0.0
    for m in modules:
        plain, patched = report.runs[m]["plain"], report.runs[m]["patched"]
        if "rerun" in report.runs[m]:
            rerun_wall += report.runs[m]["rerun"].wall
        cells = [len(plain.ids) or len(patched.ids), len(by_module[m]), patched.count(HUNG), patched.count(CRASHED)]
        totals = [a + b for a, b in zip(totals, cells)]
        walls = [walls[0] + plain.wall, walls[1] + patched.wall]
        row(m, cells, (plain.wall, patched.wall), timing(plain, patched))
    total = total_timing(report.runs)
    row("total", totals, (walls[0], walls[1]), total)
    say("")
    say(
        f"patched/unpatched, tests that ran in both: {_ratio(total)} "
        f"({len(total.pairs)} tests, {total.plain:.1f}s plain, {total.patched:.1f}s patched)"
    )
    wall_ratio = f"{walls[1] / walls[0]:.2f}" if walls[0] else "n/a"
    reruns = f"; reruns of regressions {rerun_wall:.1f}s" if rerun_wall else ""
    say(
        f"patched/unpatched, whole-module walls: {wall_ratio} (hangs, restarts, imports and fixtures included)"
        f"{reruns}; the whole check took {report.elapsed:.1f}s with -j {jobs}"
    )
    largest = total.largest()
    if largest:
        say("Largest patched-minus-plain differences:")
        for test_id, p, q in largest:
            say(f"  {q - p:+7.2f}s  {test_id} ({p:.2f}s plain, {q:.2f}s patched)")

    for m in modules:
        for _mode, run in report.runs[m].items():
            for note in run.notes:
                say(f"note: {m}: {note}")

    if report.regressions:
        say("")
        say("Regressions (pass unpatched, not patched):")
        for r in report.regressions:
            if r.known:
                tag = f"[known: {r.known.reason}]"
            elif r.flaky:
                tag = "[FLAKY: passed on a rerun]"
            else:
                tag = "[NEW]"
            again = f" (rerun: {r.rerun.outcome})" if r.rerun and not r.flaky else ""
            say(f"  {r.test_id}  {r.result.outcome.upper()}: {r.result.msg}{again}  {tag}")
            if verbose and r.result.detail:
                say("    " + r.result.detail.rstrip().replace("\n", "\n    "))

    stuck = [r for r in report.regressions if r.result.outcome in (HUNG, CRASHED)]
    if stuck:
        say("")
        say("!" * 78)
        say(f"!! {len(stuck)} test(s) HUNG or CRASHED under offset (listed or not, never fine):")
        for r in stuck:
            again = f" (rerun: {r.rerun.outcome})" if r.rerun else ""
            say(f"!!   {r.result.outcome.upper()}  {r.test_id}: {r.result.msg}{again}")
        if not verbose:
            say("!! (-v prints the stacks of each hang and the output of each crash)")
        say("!" * 78)

    if report.now_passing:
        say("")
        for e, why in report.now_passing:
            say(f"{why}: remove it from known_failures.txt (line {e.line}): {e.pattern}")

    new = sum(1 for r in report.regressions if r.known is None and not r.flaky)
    known = sum(1 for r in report.regressions if r.known is not None)
    flaky = sum(1 for r in report.regressions if r.known is None and r.flaky)
    say("")
    counts = f"{len(report.regressions)} regression(s): {new} new, {known} known, {flaky} flaky"
    if report.status:
        say(f"stdlib-check: FAILED: {counts}; each new one needs fixing or a line in tests/stdlib/known_failures.txt")
    else:
        say(f"stdlib-check: OK: {counts}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="stdlib-check",
        description="Run CPython's test modules plain and under offset.patch_all(); report regressions.",
        epilog=f"groups: {', '.join(f'{g} (--{g})' for g in GROUPS)}",
    )
    parser.add_argument("modules", nargs="*", metavar="MODULE|GROUP", help="test_socket, test.test_socket, network")
    for group, members in GROUPS.items():
        parser.add_argument(f"--{group}", action="store_true", help=" ".join(members))
    parser.add_argument("-j", "--jobs", type=int, default=None, help="modules at once (default: CPUs)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="per-test watchdog, seconds")
    parser.add_argument(
        "-k",
        "--match",
        action="append",
        metavar="PATTERN",
        help="run only the tests whose id matches, as unittest -k: a substring, or an fnmatch pattern if it has a *",
    )
    parser.add_argument("--no-rerun", action="store_true", help="do not run regressions again to find flaky ones")
    parser.add_argument("-v", "--verbose", action="store_true", help="restarts as they happen; stacks, tracebacks")
    parser.add_argument("--path", action="append", default=[], help="directory searched first for modules")
    parser.add_argument("--known-failures", default=KNOWN_FAILURES, help="default: %(default)s")
    parser.add_argument("--json", metavar="FILE", help="write every outcome and duration of every run to FILE")
    args = parser.parse_args(argv)

    names: list[str] = []
    for group in GROUPS:
        if getattr(args, group):
            names += GROUPS[group]
    for name in args.modules:
        names += GROUPS.get(name, [name])
    if not names:
        parser.error("name a module or a group")
    if not has_test_package():
        print(
            f"stdlib-check: CPython's test package (test.support) is not installed for {sys.executable}; "
            "nothing checked (Debian and Ubuntu ship it as libpython3.X-testsuite)"
        )
        return 0
    # A module named on the command line must exist (a group's member may
    # be missing from some Pythons: check() says so and goes on).
    for name in args.modules:
        if name not in GROUPS and resolve(name, args.path) is None:
            parser.error(f"no test module {name!r} in Python {sys.version.split()[0]}")

    try:
        report = check(
            names,
            jobs=args.jobs,
            timeout=args.timeout,
            paths=args.path,
            select=[p if "*" in p else f"*{p}*" for p in args.match] if args.match else None,
            rerun=not args.no_rerun,
            known_failures=args.known_failures,
            verbose=args.verbose,
        )
    except ValueError as e:
        print(f"stdlib-check: {e}", file=sys.stderr)
        return 2
    if args.json:
        write_json(report, args.json)
    return report.status


if __name__ == "__main__":
    sys.exit(main())
