"""The child side of the stdlib check: run one CPython test module, plain or
under offset, and stream what happens to the parent (runner.py).

    python tests/stdlib/child.py --module test.test_socket --mode patched \\
        --events FD --dump PATH [--start N] [--skip-class CLS ...] [--select FILE]
        [--exclude FILE] [--path DIR ...]

What it does, in order:

1. With ``--mode patched``, ``offset.patch_all()`` first, before unittest,
   test.support or the test module are imported (as ``python -m offset``
   does), and everything after it runs as the main goroutine of
   ``offset.run()``.
2. Sets the ``test.support`` state that libregrtest sets (verbose off,
   resources, timeouts scaled to the watchdog) and imports the module.
3. Loads its tests as libregrtest does: ``loadTestsFromModule`` (which
   honours ``load_tests``), or, for a module with ``test_main()``, the
   classes and suites it hands to ``test.support.run_unittest``.
4. Flattens them to one list (the test ids, in order, sent to the parent)
   and runs ``tests[start:]`` (less the classes given with --skip-class
   and the tests --exclude lists, and only those --select matches) as one
   flat ``unittest.TestSuite``, so
   setUpModule and setUpClass still run around them.

The event stream is one JSON object per line, written to file descriptor
``--events`` with ``os.write`` (unbuffered, so the parent sees each line as
soon as it is written):

=========== =============================================================
collected   ``ids``: every test id of the module, in order (duplicates get
            a ``#2``, ``#3`` suffix so that each id names one test)
phase       ``what`` (setUpModule, setUpClass, tearDownClass,
            tearDownModule), ``of`` (module or class name) and ``i``, the
            index of the test that comes next (None at the end)
start       ``i``: test ``ids[i]`` started; ``t``: when (``time.monotonic()``)
end         ``i``, ``t`` (as in start: ``t`` minus the start's ``t`` is the
            test's duration, setUp and tearDown included), ``outcome``
            (pass, fail, error, skip, xfail, unexpected-success), and for
            the others ``msg`` (one line) and ``detail`` (the traceback).
            From 3.12 a test with a skip decorator ends without a start
            (unittest calls stopTest but not startTest).
fixture     a setUpClass/setUpModule/tearDown... error or skip: ``id``
            (e.g. ``test.test_x.Foo.setUpClass``), ``outcome``, ``msg``,
            ``detail``
module_skip the module raised SkipTest while being imported: ``msg``
fatal       the run itself failed (an exception escaped ``offset.run``):
            ``msg``, ``detail``; the child then exits with status 3
done        every test ran; the child then exits normally
=========== =============================================================

A hang is the parent's to find: it sends SIGUSR1, on which faulthandler
writes every thread's stack to ``--dump`` and a Python handler adds the
stack of every goroutine (greenlet) that is not running, then it kills the
child's process group.
"""

from __future__ import annotations

import argparse
import faulthandler
import fnmatch
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

# Bound before anything is patched, so that the event stream and the dump
# stay plain system calls whatever a patch area does to os one day.
_write = os.write
_getpid = os.getpid
_signal = signal.signal
_monotonic = time.monotonic

# What test.support.use_resources holds: regrtest's resources minus the
# real network ("network", "urlfetch": traffic must stay on loopback) and
# those that need hardware, a display or long runs for nothing this check
# is about ("audio", "curses", "gui", "cpu", "largefile", "extralargefile").
USE_RESOURCES = ["decimal", "subprocess", "tzdata", "walltime"]
# Modules that require the "network" resource as a whole although every
# test in them talks only to loopback (no transient_internet, no host
# names: checked on 3.10 to 3.13). They get "network" so that they run.
NETWORK_ON_LOOPBACK = ("test.test_socketserver",)


class Events:
    """Writes the event stream; silent in a process forked by a test."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pid = _getpid()

    def emit(self, **event: Any) -> None:
        if _getpid() != self.pid:
            return
        data = (json.dumps(event) + "\n").encode()
        while data:
            n = _write(self.fd, data)
            data = data[n:]


def _one_line(exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> str:
    """``Type: first line of the message (file:line)``, at most 300 characters.

    The place is the innermost frame outside unittest, where the exception
    was raised (or the assertion that failed).
    """
    if exc_type is None:
        return ""
    name = exc_type.__qualname__
    if exc_type.__module__ not in ("builtins", "__main__"):
        name = f"{exc_type.__module__}.{name}"
    text = str(exc).strip().splitlines()
    line = f"{name}: {text[0]}" if text else name
    where = ""
    for frame, lineno in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if f"{os.sep}unittest{os.sep}" not in filename:
            where = f"{os.path.basename(filename)}:{lineno}"
    if where:
        line = f"{line} ({where})"
    return line if len(line) <= 300 else line[:297] + "..."


def _fixture_id(description: str) -> str:
    """``setUpClass (mod.Cls)`` -> ``mod.Cls.setUpClass``: ids without spaces."""
    head, sep, rest = description.partition(" (")
    if sep and rest.endswith(")") and head in ("setUpClass", "tearDownClass", "setUpModule", "tearDownModule"):
        return f"{rest[:-1]}.{head}"
    return description.replace(" ", "_")


def _run(args: argparse.Namespace, events: Events) -> None:
    """Import, load, flatten and run the module's tests (the main goroutine
    when patched)."""
    import importlib
    import unittest

    from test import support  # type: ignore[import-not-found]  # typeshed has no stubs for CPython's tests

    flat_suite, streaming_result = _suite_classes()
    _configure_support(support, args.timeout)
    if args.module in NETWORK_ON_LOOPBACK:
        support.use_resources.append("network")

    try:
        module = importlib.import_module(args.module)
    except unittest.SkipTest as e:
        events.emit(ev="collected", ids=[])
        events.emit(ev="module_skip", msg=str(e))
        events.emit(ev="done")
        return
    except Exception as e:
        detail = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        events.emit(ev="collected", ids=[])
        events.emit(
            ev="fixture",
            id=f"{args.module}.<import>",
            outcome="error",
            msg=_one_line(type(e), e, e.__traceback__),
            detail=detail[-8000:],
        )
        events.emit(ev="done")
        return

    tests = _flatten(_load(module))
    ids = _unique_ids([t.id() for t in tests])
    events.emit(ev="collected", ids=ids)
    for index, test in enumerate(tests):
        test.__dict__["_stdlib_check_index"] = index

    skip = set(args.skip_class)
    patterns = _lines(args.select)
    exclude = set(_lines(args.exclude) or ())
    chosen = [
        t
        for i, t in enumerate(tests)
        if i >= args.start
        and unittest.util.strclass(t.__class__) not in skip
        and (patterns is None or any(fnmatch.fnmatchcase(ids[i], p) for p in patterns))
        and ids[i] not in exclude
    ]
    del tests  # as unittest does, drop each test once it has run
    suite = flat_suite(chosen, events)
    del chosen
    suite.run(streaming_result(events, ids))
    events.emit(ev="done")


def _lines(path: str | None) -> list[str] | None:
    """The lines of a --select or --exclude file (None without one)."""
    if path is None:
        return None
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def _configure_support(support: Any, timeout: float) -> None:
    """The test.support state libregrtest sets for a worker."""
    support.verbose = 0
    support.failfast = False
    support.use_resources = list(USE_RESOURCES)
    support.junit_xml_list = None
    support.PGO = False
    support.record_original_stdout(sys.stdout)
    # As regrtest --timeout does, but each bound stays below the watchdog,
    # so that a test which waits for its own timeout fails rather than
    # being taken for a hang.
    ceiling = timeout * 0.8
    support.LOOPBACK_TIMEOUT = min(max(support.LOOPBACK_TIMEOUT, timeout / 120), ceiling)
    support.INTERNET_TIMEOUT = min(support.INTERNET_TIMEOUT, ceiling)
    support.SHORT_TIMEOUT = min(max(support.SHORT_TIMEOUT, timeout / 40), ceiling)
    support.LONG_TIMEOUT = min(max(support.LONG_TIMEOUT, timeout / 4), ceiling)


def _load(module: Any) -> Any:
    """The module's tests, as libregrtest finds them."""
    import unittest

    if hasattr(module, "test_main"):
        return _captured(module)
    return unittest.defaultTestLoader.loadTestsFromModule(module)


def _captured(module: Any) -> Any:
    """What ``module.test_main()`` hands to test.support's runners.

    Python 3.10's regrtest calls test_main(), which calls
    ``support.run_unittest(*classes)`` (and sometimes ``run_doctest``);
    here those collect into one suite instead of running.
    """
    import doctest
    import unittest

    from test import support

    loader = unittest.defaultTestLoader
    suite = unittest.TestSuite()

    def run_unittest(*classes: Any) -> None:
        for cls in classes:
            if isinstance(cls, str):
                suite.addTest(loader.loadTestsFromModule(sys.modules[cls]))
            elif isinstance(cls, (unittest.TestSuite, unittest.TestCase)):
                suite.addTest(cls)
            else:
                suite.addTest(loader.loadTestsFromTestCase(cls))

    def run_doctest(mod: Any, verbosity: Any = None, optionflags: int = 0) -> Any:
        suite.addTest(doctest.DocTestSuite(mod, optionflags=optionflags))
        return doctest.TestResults(0, 0)

    replaced: list[tuple[Any, str, Any]] = []
    for owner in (support, module):
        for name, fake in (("run_unittest", run_unittest), ("run_doctest", run_doctest)):
            original = getattr(owner, name, None)
            if owner is support or (original is not None and original is getattr(support, name, None)):
                replaced.append((owner, name, original))
                setattr(owner, name, fake)
    try:
        module.test_main()
    finally:
        for owner, name, original in reversed(replaced):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
    return suite


def _flatten(suite: Any) -> list[Any]:
    import unittest

    out: list[Any] = []
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            out.extend(_flatten(test))
        else:
            out.append(test)
    return out


def _unique_ids(ids: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for test_id in ids:
        seen[test_id] = seen.get(test_id, 0) + 1
        out.append(test_id if seen[test_id] == 1 else f"{test_id}#{seen[test_id]}")
    return out


def _index(test: Any) -> int | None:
    index = getattr(test, "_stdlib_check_index", None)
    return index if isinstance(index, int) else None


def _suite_classes() -> tuple[type, type]:
    """FlatSuite and StreamingResult, made once unittest may be imported
    (after patching, in the patched child)."""
    import unittest
    from unittest.util import strclass

    class FlatSuite(unittest.TestSuite):
        """A flat suite that reports which class or module fixture it is in.

        The hooks are unittest's own (TestSuite.run calls them before each
        test, 3.10 to 3.13); each one says what is about to run, so that a
        hang in setUpClass is known as one.
        """

        def __init__(self, tests: list[Any], events: Events) -> None:
            super().__init__(tests)
            self._events = events
            self._resume: dict[str, Any] | None = None
            self._next: int | None = None

        def _phase(self, what: str, of: str) -> None:
            self._events.emit(ev="phase", what=what, of=of, i=self._next)

        def _tearDownPreviousClass(self, test: Any, result: Any) -> None:
            self._next = None if test is None else _index(test)
            previous = getattr(result, "_previousTestClass", None)
            if previous is not None and previous is not test.__class__:
                self._phase("tearDownClass", strclass(previous))
            super()._tearDownPreviousClass(test, result)  # type: ignore[misc]

        def _handleModuleFixture(self, test: Any, result: Any) -> None:
            previous = getattr(result, "_previousTestClass", None)
            current = test.__class__.__module__
            if previous is None or previous.__module__ != current:
                self._resume = {"what": "setUpModule", "of": current}
                self._phase("setUpModule", current)
            super()._handleModuleFixture(test, result)  # type: ignore[misc]
            self._resume = None

        def _handleModuleTearDown(self, result: Any) -> None:
            previous = getattr(result, "_previousTestClass", None)
            if previous is not None:
                self._phase("tearDownModule", previous.__module__)
            super()._handleModuleTearDown(result)  # type: ignore[misc]
            if self._resume is not None:
                self._phase(self._resume["what"], self._resume["of"])

        def _handleClassSetUp(self, test: Any, result: Any) -> None:
            if getattr(result, "_previousTestClass", None) is not test.__class__:
                self._phase("setUpClass", strclass(test.__class__))
            super()._handleClassSetUp(test, result)  # type: ignore[misc]

    class StreamingResult(unittest.TestResult):
        """Sends each test's start and final outcome as it happens.

        A test's outcome is the first of fail/error/skip/xfail/
        unexpected-success reported for it (a failing subtest counts for
        its test), else pass.
        """

        def __init__(self, events: Events, ids: list[str]) -> None:
            super().__init__()
            self._events = events
            self._ids = ids
            self._outcome: dict[str, Any] | None = None

        def startTest(self, test: Any) -> None:
            super().startTest(test)
            self._outcome = None
            index = _index(test)
            if index is not None:
                self._events.emit(ev="start", i=index, t=_monotonic())

        def stopTest(self, test: Any) -> None:
            super().stopTest(test)
            index = _index(test)
            if index is not None:
                self._events.emit(ev="end", i=index, t=_monotonic(), **(self._outcome or {"outcome": "pass"}))
            self._outcome = None

        def _record(self, test: Any, outcome: str, msg: str = "", detail: str = "") -> None:
            if _index(test) is None:  # a class or module fixture
                self._events.emit(
                    ev="fixture", id=_fixture_id(str(test)), outcome=outcome, msg=msg, detail=detail[-8000:]
                )
            elif self._outcome is None:
                self._outcome = {"outcome": outcome, "msg": msg, "detail": detail[-8000:]}

        def _err(self, test: Any, outcome: str, err: Any, prefix: str = "") -> None:
            exc_type, exc, tb = err
            while tb is not None and "__unittest" in tb.tb_frame.f_globals:  # unittest's own frames, as it does
                tb = tb.tb_next
            detail = "".join(traceback.format_exception(exc_type, exc, tb))
            self._record(test, outcome, prefix + _one_line(*err), detail)

        def addError(self, test: Any, err: Any) -> None:
            super().addError(test, err)
            self._err(test, "error", err)

        def addFailure(self, test: Any, err: Any) -> None:
            super().addFailure(test, err)
            self._err(test, "fail", err)

        def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
            super().addSubTest(test, subtest, err)
            if err is not None:
                outcome = "fail" if issubclass(err[0], test.failureException) else "error"
                self._err(test, outcome, err, prefix=f"{subtest._subDescription()}: ")

        def addSkip(self, test: Any, reason: str) -> None:
            super().addSkip(test, reason)
            if _index(test) is not None or not hasattr(test, "test_case"):  # not a skipped subtest
                self._record(test, "skip", reason)

        def addExpectedFailure(self, test: Any, err: Any) -> None:
            super().addExpectedFailure(test, err)
            self._record(test, "xfail")

        def addUnexpectedSuccess(self, test: Any) -> None:
            super().addUnexpectedSuccess(test)
            self._record(test, "unexpected-success", "expected to fail, but passed")

    return FlatSuite, StreamingResult


def _dump_goroutines(dump: Any) -> Callable[[int, Any], None]:
    """A SIGUSR1 handler adding every suspended greenlet's stack to the dump
    (faulthandler shows each thread's running frames only)."""

    def handler(signum: int, frame: Any) -> None:
        import gc

        from offset._core import goroutine_of

        greenlet = sys.modules.get("greenlet")
        for obj in gc.get_objects() if greenlet is not None else ():
            if isinstance(obj, greenlet.greenlet) and obj.gr_frame is not None:  # type: ignore[union-attr]
                name = repr(goroutine_of(obj) or obj)
                dump.write(f"\nSuspended greenlet {name} (most recent call last):\n")
                dump.write("".join(traceback.format_stack(obj.gr_frame)))
        dump.write("\n-- end of goroutine stacks --\n")
        dump.flush()

    return handler


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="child.py")
    parser.add_argument("--module", required=True)
    parser.add_argument("--mode", choices=("plain", "patched"), required=True)
    parser.add_argument("--events", type=int, required=True, help="file descriptor for the event stream")
    parser.add_argument("--dump", required=True, help="file for the stacks dumped on SIGUSR1")
    parser.add_argument("--start", type=int, default=0, help="index of the first test to run")
    parser.add_argument("--skip-class", action="append", default=[], help="a class whose tests are left out")
    parser.add_argument("--select", help="a file of fnmatch patterns, one a line: run only the tests they match")
    parser.add_argument("--exclude", help="a file of test ids, one a line: leave these out")
    parser.add_argument("--path", action="append", default=[], help="a directory to put first on sys.path")
    parser.add_argument("--timeout", type=float, default=60.0, help="the parent's per-test watchdog")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = _parse(argv)
    # Run as a script, this file's directory is first on sys.path; a test
    # should see what `python -m test` gives it, the working directory.
    sys.path[0] = os.getcwd()
    sys.path[1:1] = [os.path.abspath(p) for p in args.path]
    events = Events(args.events)

    if args.mode == "patched":
        import offset

        offset.patch_all()

    # As libregrtest: fatal errors print every thread's stack; SIGUSR1
    # dumps them (here to the dump file, for the parent's report). After
    # patching, and with the signal.signal bound before it: the patched
    # signal module reinstalls the handlers it finds, which would drop
    # faulthandler's C handler chained in front of ours.
    faulthandler.enable(all_threads=True)
    # Appending: faulthandler writes to the descriptor, the Python handler
    # through the file object, and neither may overwrite the other.
    dump = open(args.dump, "a")  # noqa: SIM115 - open for the process's life
    _signal(signal.SIGUSR1, _dump_goroutines(dump))
    faulthandler.register(signal.SIGUSR1, file=dump, all_threads=True, chain=True)

    try:
        if args.mode == "plain":
            _run(args, events)
        else:
            offset.run(_run, args, events)
    except BaseException as e:  # noqa: BLE001 - any end of the run other than a return is the report
        where = "offset.run()" if args.mode == "patched" else "the run"
        detail = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        events.emit(ev="fatal", msg=f"{where} raised {_one_line(type(e), e, e.__traceback__)}", detail=detail[-8000:])
        sys.stderr.write(detail)
        sys.stderr.flush()
        os._exit(3)


if __name__ == "__main__":
    main(sys.argv[1:])
