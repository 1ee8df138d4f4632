"""The pytest plugin: tests as the main goroutine of a fresh scheduler.

What: registered through the ``pytest11`` entry point, it does nothing
unless asked (pytest-asyncio's *strict* mode is the default).

- ``@pytest.mark.offset`` runs a test function as the main goroutine of a
  fresh ``offset.run()``; ``offset_mode = auto`` in the ini file (or
  ``--offset-mode=auto``) does so for every plain test function, and
  ``@pytest.mark.offset(enabled=False)`` keeps one test out of it.
- A deadlock fails the test with every goroutine's wait and stack.
- Goroutines still alive when the test returns have leaked (Go's goleak):
  each is reported with its id, wait reason and stack, and the test fails;
  ``leaks="warn"`` makes that a ``GoroutineLeakWarning`` and
  ``leaks="ignore"`` turns the check off (marker argument, ini option
  ``offset_leaks``, ``--offset-leaks``).
- A per-test timeout (``timeout=`` on the marker, ini option
  ``offset_timeout``, ``--offset-timeout``; seconds, 0 for none) fails the
  test with the goroutine dump (offset.debug's) instead of hanging the run.
- Fixtures: plain fixtures run as usual, in pytest's own code outside any
  scheduler. A fixture made with ``offset.pytest_plugin.fixture`` (and any
  function-scoped fixture that depends on one) runs in the test's main
  goroutine: set up before the test's body, torn down after it and before
  the leak check, so it may start goroutines and stop them again.

Patching stays process-wide and the program's choice: ``offset.patch_all()``
at the top of the root ``conftest.py``. The plugin never patches.

How a test runs (``_TestRun``). ``pytest_pyfunc_call`` calls
``offset.run(main)``, where ``main`` (named after the test, for the
reports) starts the timeout watchdog, sets up the offset fixtures, calls
the test function, tears the fixtures down, and then, before returning,
looks for leaks: once run() has returned the other goroutines are gone
(``run()`` stops them, API.md), so only main can see them. As goleak
retries, it gives the others about half a second, yielding and then
sleeping with a growing delay, to end on their own. What is still alive
then has leaked: the started goroutines (``Scheduler.live``, less main),
and those still queued that never started (a ``go()`` on the test's last
line: one yield starts it only in Go's run order, not under
``OFFSET_SHUFFLE`` nor when the yield is the loop's turn).

Deadlocks. run() raises ``DeadlockError`` only after it has stopped every
goroutine, when their stacks are gone. But it stops main first (the first
goroutine started, first in ``live``), by throwing ``GoroutineExit`` into it
where it waits;
main, seeing that (``_note_stop``), formats every goroutine then: the
others from where they are parked, main from the traceback of the exit. The failure is DeadlockError's first line and that dump.

Timeouts (``_Watchdog``). A thread of offset's own (registered in
``offset_thread_idents``, so that it neither keeps a deadlocked scheduler
waiting nor counts as a test's leftover thread) waits for the deadline on
a C lock. Then:

1. It asks the scheduler's loop, with ``call_threadsafe``, to expire the
   test: the loop, between goroutines, dumps the goroutines and posts the
   timeout to main as a signal handler's exception is posted
   (``Scheduler.interrupt``): it is thrown into main where it waits, the
   wait withdrawn as for any exception at a park, and the test unwinds
   (its ``finally`` blocks, the fixtures' teardown).
2. If the loop has not done so after ``_BUSY_GRACE`` seconds, a goroutine
   holds the thread without switching (a busy loop, a blocking call that
   is not offset's). The watchdog dumps the goroutines from its own thread
   (the busy one with the stack the thread is running) and raises the
   timeout in the test's thread (``PyThreadState_SetAsyncExc``), so in the
   goroutine that holds it; an exception that escapes a goroutine ends
   ``run()``, which raises it here. A C call that never returns to Python
   is beyond it: pytest-timeout is the backstop there.

The exception is ``_TimedOut``, a ``BaseException`` so that ``except
Exception`` in the test does not swallow it; ``_TestRun.run`` turns it into
a failure whose text is the report.

Invariants:
- One ``_TestRun`` per test call (per example with hypothesis), stored on
  the item while it runs; the scheduler it drives is the calling thread's,
  which is not running (a test cannot run under a scheduler of its own
  thread: pytest run by ``python -m offset`` is refused, saying so).
- The watchdog acts on the run only while ``_TestRun.active``, read and
  cleared under ``_TestRun.lock``: a timeout never reaches a later test's
  scheduler, nor is an exception injected once the test's run has ended;
  one injected but not yet raised when the run ends is cancelled.
- An offset fixture's value is a ``_Deferred`` in pytest's cache until the
  test's main goroutine sets it up, and the value itself from then on;
  pytest's fixture machinery still owns the order, the caching and the
  scope (function only). Whatever the hook caches, a failure included, is
  set in ``fixturedef.cached_result``, as pytest's own setup does: its
  teardown (``FixtureDef.finish``) runs only for a cached fixture.

Rejected designs:
- Running the whole item (setup, call, teardown) inside one ``run()`` from
  ``pytest_runtest_protocol``: higher-scoped fixtures would be set up in
  whichever test came first and their goroutines stopped at its end.
- Running every function-scoped fixture of an offset test in the goroutine
  (pytest-trio runs its async ones there): it moves third-party fixtures
  (``capsys``, a conftest's autouse guards) into a scheduler they were not
  written for. Fixtures opt in, as pytest-asyncio's strict mode has them.
- A timer on the test's scheduler for the timeout: any pending timer keeps
  the scheduler waiting, so a deadlocked test would wait for its timeout
  instead of failing at once, and a timer cannot stop a busy goroutine.
- ``SIGALRM`` for the timeout: pytest-timeout's ``signal`` method owns it,
  and a signal only reaches the main thread.
- A hook in the core for the deadlock dump: main sees the stop anyway.
"""

from __future__ import annotations

import ctypes
import functools
import inspect
import os
import time as _time
import unittest
import warnings
from _thread import allocate_lock as _allocate_lock
from _thread import get_ident as _get_ident
from _thread import start_new_thread as _start_new_thread
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

import pytest

import offset
from offset import time as otime
from offset._core import (
    DeadlockError,
    G,
    GoroutineExit,
    InternalError,
    Scheduler,
    current_goroutine,
    current_scheduler,
    offset_thread_idents,
)
from offset.debug import format_dump, format_goroutine

if TYPE_CHECKING:
    from _pytest.fixtures import FixtureDef, SubRequest

__all__ = ["GoroutineLeakWarning", "fixture"]

F = TypeVar("F", bound=Callable[..., Any])

MODES = ("strict", "auto")
LEAK_POLICIES = ("fail", "warn", "ignore")
MARKER_ARGS = ("enabled", "timeout", "leaks")

# How long the leak check lets the other goroutines finish on their own
# (goleak retries for about as long), and its first delays.
_LEAK_GRACE = 0.5
_LEAK_YIELDS = 10
_LEAK_FIRST_SLEEP = 1 * otime.MILLISECOND
_LEAK_MAX_SLEEP = 100 * otime.MILLISECOND
# How long after the deadline the loop has to expire the test before the
# watchdog decides that a goroutine holds the thread.
_BUSY_GRACE = 1.0

# Where offset's own frames come from.
_PKG_PREFIX = os.path.dirname(os.path.abspath(offset.__file__)) + os.sep
_PKG_RELATIVE = "offset" + os.sep
# Marks what offset.pytest_plugin.fixture made.
_FIXTURE_ATTR = "_offset_fixture"


class GoroutineLeakWarning(UserWarning):
    """Goroutines were still alive when an offset test returned (``leaks="warn"``)."""


class _TimedOut(BaseException):
    """An offset test ran past its timeout (raised in it; never seen by users)."""


@dataclass(frozen=True)
class _Settings:
    """The session's settings: ini options, overridden by the command line."""

    mode: str
    timeout: float
    leaks: str


@dataclass(frozen=True)
class _Options:
    """What one offset test runs with: its markers over the session's settings."""

    timeout: float
    leaks: str


_SETTINGS = pytest.StashKey[_Settings]()
_OPTIONS = pytest.StashKey["_Options | None"]()
_RUN = pytest.StashKey["_TestRun"]()


# -- configuration ----------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("offset", "offset: tests as goroutines")
    group.addoption(
        "--offset-mode",
        dest="offset_mode",
        default=None,
        help="'strict' (default): only tests marked @pytest.mark.offset run as goroutines; "
        "'auto': every plain test function does",
    )
    group.addoption(
        "--offset-timeout",
        dest="offset_timeout",
        default=None,
        help="seconds an offset test may run before it fails with a goroutine dump (0: no limit)",
    )
    group.addoption(
        "--offset-leaks",
        dest="offset_leaks",
        default=None,
        help="goroutines alive when an offset test returns: 'fail' (default), 'warn' or 'ignore'",
    )
    parser.addini("offset_mode", "offset plugin mode: 'strict' (default) or 'auto'", default="strict")
    parser.addini("offset_timeout", "seconds an offset test may run (0: no limit)", default="0")
    parser.addini("offset_leaks", "goroutines left by an offset test: 'fail', 'warn' or 'ignore'", default="fail")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "offset(enabled=True, timeout=None, leaks=None): run the test as the main goroutine of a fresh "
        "offset scheduler; timeout in seconds (0: none), leaks 'fail', 'warn' or 'ignore'",
    )

    def setting(name: str) -> Any:
        value = config.getoption(name)
        return config.getini(name) if value is None else value

    try:
        config.stash[_SETTINGS] = _Settings(
            mode=_check_choice(name="offset_mode", value=setting("offset_mode"), choices=MODES),
            timeout=_check_timeout(name="offset_timeout", value=setting("offset_timeout")),
            leaks=_check_choice(name="offset_leaks", value=setting("offset_leaks"), choices=LEAK_POLICIES),
        )
    except (TypeError, ValueError) as e:
        raise pytest.UsageError(str(e)) from None


def _check_choice(*, name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    value = value.strip()
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, not {value!r}")
    return value


def _check_timeout(*, name: str, value: object, text: bool = True) -> float:
    """Seconds from a number, or from its text when ``text`` (an ini or command-line value)."""
    if isinstance(value, str) and text:
        try:
            seconds = float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number of seconds, not {value!r}") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not seconds >= 0 or seconds == float("inf"):  # also rejects NaN
        raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
    return seconds


def _options(item: pytest.Item) -> _Options | None:
    """How ``item`` runs under offset, or None when it is not an offset test.

    Markers apply closest first, each argument taken from the closest mark
    that gives it: ``pytestmark = pytest.mark.offset(leaks="ignore")`` in a
    module and ``@pytest.mark.offset(timeout=5)`` on a test combine.

    Raises:
        TypeError, ValueError: a marker argument is unknown or of the wrong type.
    """
    try:
        return item.stash[_OPTIONS]
    except KeyError:
        pass
    settings = item.config.stash[_SETTINGS]
    given: dict[str, Any] = {}
    marked = False
    for mark in item.iter_markers("offset"):
        marked = True
        if mark.args:
            raise TypeError(
                f"pytest.mark.offset takes keyword arguments only ({', '.join(MARKER_ARGS)}), not {mark.args!r}"
            )
        for key, value in mark.kwargs.items():
            if key not in MARKER_ARGS:
                raise TypeError(
                    f"pytest.mark.offset got an unknown argument {key!r} (expected one of {', '.join(MARKER_ARGS)})"
                )
            given.setdefault(key, value)
    enabled = given.get("enabled", marked or settings.mode == "auto")
    if not isinstance(enabled, bool):
        raise TypeError(f"pytest.mark.offset argument 'enabled' must be a bool, not {type(enabled).__name__}")
    options: _Options | None = None
    if enabled and _is_plain_function(item):
        timeout = settings.timeout
        if given.get("timeout") is not None:
            timeout = _check_timeout(name="pytest.mark.offset argument 'timeout'", value=given["timeout"], text=False)
        leaks = settings.leaks
        if given.get("leaks") is not None:
            leaks = _check_choice(
                name="pytest.mark.offset argument 'leaks'", value=given["leaks"], choices=LEAK_POLICIES
            )
        options = _Options(timeout=timeout, leaks=leaks)
    item.stash[_OPTIONS] = options
    return options


def _is_plain_function(item: pytest.Item) -> bool:
    """Whether ``item`` is a test function offset can run (not async, not unittest).

    An async test marked for offset is an error, reported when it runs;
    auto mode leaves async tests to their own plugins.
    """
    if not isinstance(item, pytest.Function):
        return False
    if item.cls is not None and issubclass(item.cls, unittest.TestCase):
        return False  # run by unittest's machinery, not pytest_pyfunc_call
    fn = getattr(item.obj, "hypothesis", None)
    fn = getattr(fn, "inner_test", item.obj)
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        if item.get_closest_marker("offset") is not None:
            return True  # refused with a message in pytest_pyfunc_call
        return False
    return True


# -- fixtures -----------------------------------------------------------------


@overload
def fixture(fn: F, /) -> F: ...
@overload
def fixture(
    fn: None = None,
    /,
    *,
    scope: str = "function",
    autouse: bool = False,
    params: Any = None,
    ids: Any = None,
    name: str | None = None,
) -> Callable[[F], F]: ...


def fixture(
    fn: F | None = None,
    /,
    *,
    scope: str = "function",
    autouse: bool = False,
    params: Any = None,
    ids: Any = None,
    name: str | None = None,
) -> F | Callable[[F], F]:
    """A pytest fixture that runs in the main goroutine of the offset test using it.

    Used as ``@pytest.fixture`` is (``@fixture`` or ``@fixture(...)``). The
    fixture is set up in the test's main goroutine before the test's body
    and, for a generator fixture, torn down there after it, before the
    leak check: so it may start goroutines (a server) and stop them again.
    A function-scoped fixture that depends on one runs there too. Only
    function scope: the test's scheduler lives for one test. A test that
    is not an offset test and requests one fails, saying so.
    ``request.addfinalizer`` callbacks run where pytest runs them, after
    the test's scheduler has stopped; use ``yield`` for teardown.

    Raises:
        TypeError: ``fn`` is not callable.
        ValueError: ``scope`` is not ``"function"``.
    """
    if fn is not None and not callable(fn):
        raise TypeError(f"fixture() argument 'fn' must be callable, not {type(fn).__name__}")
    if scope != "function":
        raise ValueError(
            f"fixture() argument 'scope' must be 'function', not {scope!r}: an offset fixture runs in "
            "one test's main goroutine, whose scheduler ends with the test"
        )

    def decorate(f: F) -> F:
        if not callable(f):
            raise TypeError(f"fixture() argument 'fn' must be callable, not {type(f).__name__}")
        setattr(f, _FIXTURE_ATTR, True)
        made = pytest.fixture(f, autouse=autouse, params=params, ids=ids, name=name)
        return cast(F, made)

    return decorate(fn) if fn is not None else decorate


class _Deferred:
    """What pytest caches as an offset fixture's value until main sets it up."""

    __slots__ = ("fixturedef", "request", "value", "done")

    def __init__(self, fixturedef: FixtureDef[Any], request: SubRequest) -> None:
        self.fixturedef = fixturedef
        self.request = request
        self.value: Any = None
        self.done = False

    def __repr__(self) -> str:
        return f"<offset fixture {self.fixturedef.argname!r}, set up in the test's main goroutine>"


class _NotSetUp:
    """The value of an autouse offset fixture for a test that is not an offset test."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<offset fixture {self.name!r}, not set up: the test is not an offset test>"


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef: FixtureDef[Any], request: SubRequest) -> object | None:
    """Defer an offset fixture (or one depending on one) to the test's main goroutine."""
    own = getattr(fixturedef.func, _FIXTURE_ATTR, False)
    item = request.node
    options = _options(item) if isinstance(item, pytest.Function) and fixturedef.scope == "function" else None
    if options is None:
        if not own:
            return None
        key = fixturedef.cache_key(request)
        if getattr(fixturedef, "_autouse", False):
            # An autouse offset fixture serves the offset tests in its scope only.
            skipped = _NotSetUp(fixturedef.argname)
            fixturedef.cached_result = (skipped, key, None)
            return skipped
        error = pytest.fail.Exception(
            f"fixture {fixturedef.argname!r} runs in an offset test's main goroutine "
            f"(offset.pytest_plugin.fixture), but {item.name!r} is not an offset test: "
            "mark it @pytest.mark.offset",
            pytrace=False,
        )
        # Cached as pytest caches a fixture's failure, so that its teardown finds it.
        fixturedef.cached_result = (None, key, (error, None))
        raise error
    if not own and not any(
        isinstance(request.getfixturevalue(arg), _Deferred) for arg in fixturedef.argnames if arg != "request"
    ):
        return None
    deferred = _Deferred(fixturedef, request)
    fixturedef.cached_result = (deferred, fixturedef.cache_key(request), None)
    run = item.stash.get(_RUN, None)
    if run is not None and run.in_main():
        # Asked for from the test's body (request.getfixturevalue): set it up now.
        value: object = run.resolve(deferred)
        return value
    return deferred


# -- running a test ---------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> object | None:
    options = _options(pyfuncitem)
    if options is None:
        return None
    testfunction = pyfuncitem.obj
    hypothesis = getattr(testfunction, "hypothesis", None)
    if hypothesis is not None:
        # Each example is a run of its own: hypothesis calls inner_test once per example.
        inner = getattr(hypothesis.inner_test, "_offset_inner", hypothesis.inner_test)
        _refuse_async(pyfuncitem, inner)

        @functools.wraps(inner)
        def run_example(*args: Any, **kwargs: Any) -> None:
            __tracebackhide__ = True
            _TestRun(pyfuncitem, options).run(functools.partial(inner, *args), kwargs)

        run_example._offset_inner = inner  # type: ignore[attr-defined]
        hypothesis.inner_test = run_example
        return None
    _refuse_async(pyfuncitem, testfunction)
    funcargs = pyfuncitem.funcargs
    testargs = {arg: funcargs[arg] for arg in pyfuncitem._fixtureinfo.argnames}
    result = _TestRun(pyfuncitem, options).run(testfunction, testargs)
    if result is not None:
        warnings.warn(
            pytest.PytestReturnNotNoneWarning(
                f"Test functions should return None, but {pyfuncitem.nodeid} returned {type(result)!r}."
            ),
            stacklevel=1,
        )
    return True


def _refuse_async(item: pytest.Function, fn: Any) -> None:
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        pytest.fail(
            f"{item.nodeid} is an async function: offset runs plain functions as goroutines "
            "(leave async tests to their own plugin)",
            pytrace=False,
        )


class _TestRun:
    """One offset test's call: its run(), fixtures, leak check and watchdog."""

    def __init__(self, item: pytest.Function, options: _Options) -> None:
        self.item = item
        self.options = options
        self.sched: Scheduler | None = None
        self.main: G | None = None
        # Offset fixtures set up so far, in order, with their generator (None: a plain function).
        self.fixtures: list[tuple[_Deferred, Generator[Any, None, None] | None]] = []
        self.lock = _allocate_lock()  # C: taken in the loop and the watchdog, whatever is patched
        self.active = False
        self.timeout_report: str | None = None
        self.injected = False  # the watchdog raised _TimedOut in the test's thread
        self.stop_dump: str | None = None  # the goroutines when run() stopped main (_note_stop)

    def in_main(self) -> bool:
        return self.main is not None and current_goroutine() is self.main

    # -- outside the scheduler ---------------------------------------------

    def run(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        """Run ``fn(**kwargs)`` as the main goroutine; fail the test as the reports say."""
        if current_goroutine() is not None:
            pytest.fail(
                "pytest itself runs in an offset goroutine (python -m offset -m pytest?): the offset plugin "
                "gives each test a scheduler of its own in pytest's thread. Run pytest directly, with "
                "offset.patch_all() in conftest.py for patching.",
                pytrace=False,
            )
        item = self.item
        item.stash[_RUN] = self
        watchdog = _Watchdog(self) if self.options.timeout else None
        self.sched = current_scheduler()
        self.active = True
        outcome: tuple[Any, str | None] | None = None
        deadlock: str | None = None
        try:
            try:
                outcome = offset.run(_named_like(fn, self._main), fn, kwargs, watchdog)
            finally:
                self._end(watchdog)
        except _TimedOut:
            pass  # the report says it all
        except DeadlockError as e:
            deadlock = str(e)  # reported outside the except block: it is the whole story
        finally:
            del item.stash[_RUN]
        if self.timeout_report is not None:
            pytest.fail(self.timeout_report, pytrace=False)
        if deadlock is not None:
            if self.stop_dump is not None:
                deadlock = deadlock.split("\n", 1)[0] + "\n\n" + self.stop_dump
            pytest.fail(f"offset: the test deadlocked: {deadlock}", pytrace=False)
        if outcome is None:
            raise InternalError("the test's main goroutine returned nothing")
        result, report = outcome
        if report is not None:
            if self.options.leaks == "warn":
                warnings.warn(GoroutineLeakWarning(report), stacklevel=1)
            else:
                pytest.fail(report, pytrace=False)
        return result

    def _end(self, watchdog: _Watchdog | None) -> None:
        """After run(): no more timeouts; an exception injected but not raised yet is taken back.

        The watchdog injects under ``lock`` only while ``active``; once that
        is cleared, the one pending exception, if any, is cancelled, or is
        raised here first (at any bytecode), and this starts again.
        """
        while True:
            try:
                with self.lock:
                    self.active = False
                if self.injected and self.sched is not None:
                    _set_async_exc(self.sched.ident, None)
                break
            except _TimedOut:
                continue
        if watchdog is not None:
            watchdog.stop()

    # -- in the main goroutine ---------------------------------------------

    def _main(
        self, fn: Callable[..., Any], kwargs: dict[str, Any], watchdog: _Watchdog | None
    ) -> tuple[Any, str | None]:
        __tracebackhide__ = True
        self.main = current_goroutine()
        if watchdog is not None:
            watchdog.start()
        try:
            try:
                # Every offset fixture of the test's closure, in pytest's order
                # (autouse ones the test does not name included).
                for value in list(self.item.funcargs.values()):
                    if isinstance(value, _Deferred):
                        self.resolve(value)
                args = {name: v.value if isinstance(v, _Deferred) else v for name, v in kwargs.items()}
                result = fn(**args)
            except BaseException as e:
                self._note_stop(e)  # before the teardown changes what there is to see
                raise
            finally:
                self._teardown()
            report = None if self.options.leaks == "ignore" else self._check_leaks()
            return result, report
        except BaseException as e:
            self._note_stop(e)
            raise
        finally:
            self.main = None

    def _note_stop(self, exc: BaseException) -> None:
        """Main is being stopped by run()'s shutdown: describe the goroutines while they are there.

        After a deadlock, run() stops every goroutine (main first: it is
        the first started) and then raises DeadlockError; this is the last
        moment at which their stacks can be seen. Main's own stack is where
        the stop found it, in ``exc``'s traceback.
        """
        # A DeadlockError is taken too: offset before ad2d49f, compiled, threw
        # it, rather than GoroutineExit, into the first goroutine it stopped.
        if not isinstance(exc, (GoroutineExit, DeadlockError)) or self.stop_dump is not None or self.sched is None:
            return
        # Main's innermost frame of the program's own: the traceback runs from
        # here to where main was parked (and, for a DeadlockError, on into the
        # loop's frames where it was raised, which are offset's).
        tb = exc.__traceback__
        frame = None
        while tb is not None:
            if not _is_offsets(tb.tb_frame.f_code.co_filename):
                frame = tb.tb_frame
            tb = tb.tb_next
        entries = []
        for g in self.sched.live:
            if g is self.main:
                entries.append(format_goroutine(g, g.reason or "running", frame))
            else:
                proc = g.proc
                entries.append(format_goroutine(g, g.reason or "runnable", proc.gr_frame if proc is not None else None))
        self.stop_dump = "\n".join(entries)

    def resolve(self, d: _Deferred) -> Any:
        """Set up offset fixture ``d`` (and the offset fixtures it needs) in main."""
        __tracebackhide__ = True
        if d.done:
            return d.value
        from _pytest.fixtures import resolve_fixture_function

        fixturedef, request = d.fixturedef, d.request
        kwargs = {}
        for arg in fixturedef.argnames:
            value = request.getfixturevalue(arg)
            kwargs[arg] = self.resolve(value) if isinstance(value, _Deferred) else value
        func = resolve_fixture_function(fixturedef, request)
        if inspect.isgeneratorfunction(func):
            gen = func(**kwargs)
            try:
                value = next(gen)
            except StopIteration:
                raise ValueError(f"{request.fixturename} did not yield a value") from None
            self.fixtures.append((d, gen))
        else:
            value = func(**kwargs)
            self.fixtures.append((d, None))
        d.value = value
        d.done = True
        # Later requests (request.getfixturevalue in the body) get the value itself.
        fixturedef.cached_result = (value, fixturedef.cache_key(request), None)
        return value

    def _teardown(self) -> None:
        """Tear the offset fixtures down in reverse order; raise the first error after all ran."""
        __tracebackhide__ = True
        error: BaseException | None = None
        while self.fixtures:
            d, gen = self.fixtures.pop()
            # Set up again if asked for again (hypothesis: one run per example).
            d.done = False
            d.fixturedef.cached_result = (d, d.fixturedef.cache_key(d.request), None)
            if gen is None:
                continue
            try:
                next(gen)
            except StopIteration:
                continue
            except BaseException as e:
                if error is None:
                    error = e
                continue
            if error is None:
                error = pytest.fail.Exception(
                    f"fixture function has more than one 'yield': {d.fixturedef.argname!r}", pytrace=False
                )
        if error is not None:
            raise error

    def _check_leaks(self) -> str | None:
        """Give the other goroutines a little time to end; report those that did not."""
        s = current_scheduler()
        me = current_goroutine()
        deadline = _time.monotonic() + _LEAK_GRACE
        delay = _LEAK_FIRST_SLEEP
        rounds = 0
        while True:
            leaked = [g for g in s.live if g is not me]
            # Queued and never started (a go() on the test's last line): alive too.
            queued = [s.runnext, *s.runq] if s.runnext is not None else list(s.runq)
            leaked += [g for g in queued if g.proc is None and g.fn is not None]
            if not leaked:
                return None
            if _time.monotonic() >= deadline:
                break
            if rounds < _LEAK_YIELDS:
                offset.gosched()
            else:
                otime.sleep(delay)
                delay = min(delay * 2, _LEAK_MAX_SLEEP)
            rounds += 1
        n = len(leaked)
        lines = [
            f"offset: {n} goroutine{'s' if n != 1 else ''} still alive when the test returned (leaked):",
            "",
        ]
        for g in leaked:
            proc = g.proc
            lines.append(format_goroutine(g, g.reason or "runnable", proc.gr_frame if proc is not None else None))
        lines += [
            "Stop them before the test returns (close their channels, cancel their context, wait for them),",
            'or mark the test @pytest.mark.offset(leaks="ignore").',
        ]
        return "\n".join(lines)

    # -- the timeout ---------------------------------------------------------

    def expire_on_loop(self) -> None:
        """The loop's side of the timeout (see "Timeouts" above): dump, then interrupt main."""
        with self.lock:
            if not self.active or self.timeout_report is not None:
                return
            self.timeout_report = self._timeout_report(busy=False)
        s = self.sched
        if s is not None:
            s.interrupt(_TimedOut())

    def expire_from_watchdog(self) -> None:
        """The watchdog's side: the loop did not come; raise in whatever holds the thread."""
        s = self.sched
        if s is None:
            return
        with self.lock:
            if not self.active or self.timeout_report is not None:
                return
            self.timeout_report = self._timeout_report(busy=True)
            _set_async_exc(s.ident, _TimedOut)
            self.injected = True

    def _timeout_report(self, busy: bool) -> str:
        head = f"offset: the test ran longer than its timeout of {self.options.timeout:g} s"
        if busy:
            head += f", and a goroutine has held the thread without switching for {_BUSY_GRACE:g} s more"
        return f"{head}\n\n{format_dump()}"


def _is_offsets(filename: str) -> bool:
    """Whether code from ``filename`` is offset's (a compiled module's traceback entries name it relatively)."""
    return filename.startswith(_PKG_PREFIX) or filename.startswith(_PKG_RELATIVE)


def _named_like(fn: Callable[..., Any], main: F) -> F:
    """``main`` under the test function's name, for the reports that name goroutine 1."""

    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        return main(*args, **kwargs)

    target = getattr(fn, "func", fn)  # a functools.partial from the hypothesis path
    for attr in ("__name__", "__qualname__"):
        name = getattr(target, attr, None)
        if isinstance(name, str):
            setattr(wrapper, attr, name)
    return wrapper  # type: ignore[return-value]


def _set_async_exc(ident: int, exc: type[BaseException] | None) -> None:
    """Raise ``exc`` in thread ``ident`` at its next bytecode (None: cancel a pending one)."""
    fn = ctypes.pythonapi.PyThreadState_SetAsyncExc
    fn(ctypes.c_ulong(ident), ctypes.py_object(exc) if exc is not None else None)


class _Watchdog:
    """The timeout's thread (see "Timeouts" above): one per test with a timeout.

    Started from the test's main goroutine, stopped after its run() ended.
    Waits on C locks (``_thread``), not on ``threading``: the program may have
    patched threading, and this thread is offset's, not the program's.
    """

    def __init__(self, run: _TestRun) -> None:
        self.run = run
        self.stopped = _allocate_lock()
        self.stopped.acquire()  # released by stop()
        self.ended = _allocate_lock()
        self.ended.acquire()  # released by the thread as it ends
        self.started = False

    def start(self) -> None:
        registered = _allocate_lock()
        registered.acquire()
        _start_new_thread(self._watch, (registered,))
        registered.acquire()  # the thread counts as offset's before main can deadlock
        self.started = True

    def stop(self) -> None:
        if not self.started:
            return
        if self.stopped.locked():
            self.stopped.release()
        self.ended.acquire()
        self.ended.release()
        self.started = False

    def _watch(self, registered: Any) -> None:
        ident = _get_ident()
        offset_thread_idents.add(ident)
        registered.release()
        try:
            run = self.run
            if self.stopped.acquire(True, run.options.timeout):
                return
            s = run.sched
            if s is None:
                return
            s.call_threadsafe(run.expire_on_loop)
            if self.stopped.acquire(True, _BUSY_GRACE):
                return
            run.expire_from_watchdog()
        finally:
            offset_thread_idents.discard(ident)
            self.ended.release()
