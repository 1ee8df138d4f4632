"""offset.pytest_plugin: tests as the main goroutine of a fresh scheduler.

Each test writes a small test module and runs pytest on it with the
``pytester`` fixture: in this process where it can (``runpytest``), in a
fresh interpreter where the inner run would disturb this one (patching is
process-wide; a busy test holds this thread, which the suite's block guard
would count against the outer test). Covered: the marker and the modes,
option and marker checking, deadlock, leak and timeout reports, offset
fixtures, hypothesis, and patching in conftest.py.
"""

from __future__ import annotations

import importlib.metadata
import textwrap

import hypothesis  # noqa: F401  (imported here once: pytester would drop it after each inner run that imports it)
import pytest

pytest_plugins = ["pytester"]


def _entry_point_installed() -> bool:
    return any(ep.value == "offset.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))


# An install made before the plugin existed has no pytest11 entry point:
# load the plugin by name then (both at once would register it twice).
PLUGIN: tuple[str, ...] = () if _entry_point_installed() else ("-p", "offset.pytest_plugin")


COMMON = """\
import pytest
from offset import go, makechan, time
from offset._core import current_goroutine
"""


# hypothesis's plugin imports hypothesis at the end of a run, and pytester
# takes the modules a run imported out of sys.modules again: seconds a run.
QUIET = ("-p", "no:randomly", "-p", "no:hypothesispytest", "-p", "no:cacheprovider")


def run(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    """pytest in this process on a module of ``COMMON`` and ``body``."""
    pytester.makepyfile(test_inner=COMMON + textwrap.dedent(body))
    return pytester.runpytest(*PLUGIN, *QUIET, *args)


def test_marker_runs_the_test_as_main_goroutine_and_strict_leaves_the_rest(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        from offset._core import current_scheduler

        @pytest.mark.offset
        def test_marked():
            g = current_goroutine()
            assert g is not None and g is current_scheduler().main
            c = makechan()
            go(c.send, 42)
            assert c.recv() == 42

        def test_unmarked():
            assert current_goroutine() is None

        @pytest.mark.offset
        class TestClass:
            def test_method(self):
                assert current_goroutine() is not None

        @pytest.mark.offset
        @pytest.mark.parametrize("n", [1, 2])
        def test_param(n):
            assert current_goroutine() is not None
        """,
    )
    result.assert_outcomes(passed=5)


def test_auto_mode_runs_every_plain_test_and_enabled_false_opts_out(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\noffset_mode = auto\n")
    source = """
        def test_plain():
            assert current_goroutine() is not None

        @pytest.mark.offset(enabled=False)
        def test_out():
            assert current_goroutine() is None

        import unittest

        class TestUnittest(unittest.TestCase):
            # Run by unittest's machinery: left alone.
            def test_method(self):
                assert current_goroutine() is None
        """
    run(pytester, source).assert_outcomes(passed=3)
    # The command line wins over the ini file.
    result = run(pytester, source, "--offset-mode=strict")
    result.assert_outcomes(passed=2, failed=1)


def test_bad_settings_are_usage_errors(pytester: pytest.Pytester) -> None:
    source = "def test_x():\n    pass\n"
    for args, message in [
        (("--offset-mode=eager",), "offset_mode must be one of 'strict', 'auto', not 'eager'"),
        (("--offset-timeout=soon",), "offset_timeout must be a number of seconds, not 'soon'"),
        (("--offset-timeout=-1",), "offset_timeout must be a finite number of seconds >= 0, not '-1'"),
        (("--offset-leaks=maybe",), "offset_leaks must be one of 'fail', 'warn', 'ignore', not 'maybe'"),
    ]:
        result = run(pytester, source, *args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*{message}*"])


def test_bad_marker_arguments_fail_the_test_naming_them(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        @pytest.mark.offset(timout=1)
        def test_unknown():
            pass

        @pytest.mark.offset(leaks="sometimes")
        def test_leaks():
            pass

        @pytest.mark.offset(timeout="1")
        def test_timeout_type():
            pass

        @pytest.mark.offset(True)
        def test_positional():
            pass
        """,
    )
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "*TypeError: pytest.mark.offset got an unknown argument 'timout' (expected one of enabled, timeout, leaks)",
            "*ValueError: pytest.mark.offset argument 'leaks' must be one of 'fail', 'warn', 'ignore', not 'sometimes'",
            "*TypeError: pytest.mark.offset argument 'timeout' must be a number of seconds, not str",
            "*TypeError: pytest.mark.offset takes keyword arguments only*",
        ],
        consecutive=False,
    )


def test_failures_keep_their_traceback(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        def check(x):
            assert x == 2

        @pytest.mark.offset
        def test_fails():
            c = makechan(1)
            c.send(1)
            check(c.recv())

        @pytest.mark.offset
        def test_goroutine_raises():
            def worker():
                raise KeyError("from a goroutine")
            go(worker)
            makechan().recv()
        """,
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*check(c.recv())", "E       assert 1 == 2"], consecutive=False)
    result.stdout.fnmatch_lines(["*raise KeyError*", "E       KeyError: 'from a goroutine'"], consecutive=False)


def test_deadlock_fails_with_every_goroutine_and_its_stack(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        def waiter(c):
            c.recv()

        def wait_here(c):
            c.recv()

        @pytest.mark.offset
        def test_stuck():
            a, b = makechan(), makechan()
            go(waiter, a)
            wait_here(b)
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "offset: the test deadlocked: all goroutines are asleep - deadlock!",
            "",
            "goroutine * [[]chan receive[]]:",
            "test_inner.wait_here(...)",
            "*test_inner.py:9",
            "test_inner.test_stuck(...)",
            "*test_inner.py:15",
            "goroutine * [[]chan receive[]]:",
            "test_inner.waiter(...)",
            "*test_inner.py:6",
        ]
    )


def test_leaked_goroutines_fail_the_test_unless_it_opts_out(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import warnings
        from offset.pytest_plugin import GoroutineLeakWarning

        def forever(c):
            c.recv()

        @pytest.mark.offset
        def test_leaks():
            go(forever, makechan())

        @pytest.mark.offset
        def test_started_on_the_last_line():
            go(forever, makechan())

        @pytest.mark.offset(leaks="ignore")
        def test_ignored():
            go(forever, makechan())

        @pytest.mark.offset(leaks="warn")
        def test_warned():
            go(forever, makechan())

        @pytest.mark.offset
        def test_ends_soon_after():
            # Still running when the test returns, gone a moment later: not a leak (goleak retries too).
            go(time.sleep, 20 * time.MILLISECOND)

        @pytest.mark.offset
        def test_stopped_in_time():
            c = makechan()
            go(forever, c)
            c.close()
        """,
    )
    result.assert_outcomes(passed=4, failed=2, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_leaks _*",
            "offset: 1 goroutine still alive when the test returned (leaked):",
            "",
            "goroutine * [[]chan receive[]]:",
            "test_inner.forever(...)",
            "*test_inner.py:9",
            "",
            "Stop them before the test returns*",
            'or mark the test @pytest.mark.offset(leaks="ignore").',
        ]
    )
    result.stdout.fnmatch_lines(["*GoroutineLeakWarning: offset: 1 goroutine still alive*"])


def test_leaks_setting_in_the_ini_file_and_the_module_mark(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\noffset_leaks = ignore\n")
    result = run(
        pytester,
        """
        pytestmark = pytest.mark.offset(timeout=30)

        @pytest.mark.offset
        def test_ini_says_ignore():
            go(makechan().recv)

        @pytest.mark.offset(leaks="fail")
        def test_mark_says_fail():
            go(makechan().recv)
        """,
    )
    result.assert_outcomes(passed=1, failed=1)


def test_timeout_of_a_parked_test_fails_with_the_dump(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        def sleeper():
            time.sleep(time.HOUR)

        @pytest.mark.offset(timeout=0.2)
        def test_parked():
            try:
                go(sleeper)
                makechan().recv()
            finally:
                print("unwound")

        @pytest.mark.offset(timeout=30)
        def test_in_time():
            time.sleep(time.MILLISECOND)
        """,
        "-s",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*unwound*",
            "*offset: the test ran longer than its timeout of 0.2 s",
            "",
            "offset: goroutine dump, 1 schedulers, 2 goroutines",
            "*",
            "goroutine * [[]chan receive[]]:",
            "test_inner.test_parked(...)",
            "*",
            "goroutine * [[]sleep[]]:",
            "test_inner.sleeper(...)",
        ]
    )
    # A deadlock is reported as one at once, not as a timeout later.
    result = run(
        pytester,
        """
        @pytest.mark.offset(timeout=60)
        def test_stuck():
            makechan().recv()
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["offset: the test deadlocked*"])
    assert result.duration < 30


def test_offset_fixtures_run_in_the_main_goroutine(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        from offset.pytest_plugin import fixture

        EVENTS = []

        @pytest.fixture
        def plain():
            # A plain fixture: in pytest's code, unless the test's body asks for it.
            EVENTS.append(f"plain in goroutine: {current_goroutine() is not None}")
            return "plain"

        @fixture
        def server(plain):
            # A goroutine that lives as long as the fixture: stopped in its teardown.
            main = current_goroutine()
            assert main is not None
            requests = makechan()
            done = makechan()
            def serve():
                for reply in requests:
                    reply.send("pong")
                done.close()
            go(serve)
            EVENTS.append("server up")
            yield requests
            assert current_goroutine() is main
            requests.close()
            done.recv()
            EVENTS.append("server down")

        @pytest.fixture
        def client(server):
            # Plain, but it depends on an offset fixture: runs in the goroutine too.
            assert current_goroutine() is not None
            def call():
                reply = makechan()
                server.send(reply)
                return reply.recv()
            return call

        @fixture(autouse=True)
        def every_test():
            EVENTS.append("autouse up")
            yield
            EVENTS.append("autouse down")

        @pytest.mark.offset
        def test_uses_them(client, plain):
            assert plain == "plain"
            assert client() == "pong"
            assert EVENTS == ["plain in goroutine: False", "autouse up", "server up"]

        @pytest.mark.offset
        def test_dynamic(request):
            call = request.getfixturevalue("client")
            assert call() == "pong"

        def test_after():
            assert EVENTS == [
                "plain in goroutine: False", "autouse up", "server up", "server down", "autouse down",
                "autouse up", "plain in goroutine: True", "server up", "server down", "autouse down",
            ]

        @fixture
        def refused():
            yield

        def test_plain_test_refused(refused):
            pass
        """,
    )
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*fixture 'refused' runs in an offset test's main goroutine (offset.pytest_plugin.fixture), "
            "but 'test_plain_test_refused' is not an offset test: mark it @pytest.mark.offset"
        ]
    )


def test_offset_fixture_arguments_are_checked() -> None:
    from offset.pytest_plugin import fixture

    with pytest.raises(TypeError, match=r"^fixture\(\) argument 'fn' must be callable, not int$"):
        fixture(1)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match=r"^fixture\(\) argument 'scope' must be 'function', not 'module': "):
        fixture(scope="module")


def test_each_hypothesis_example_is_a_run_of_its_own(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        from hypothesis import given, settings, strategies as st

        MAINS = set()

        @pytest.mark.offset
        @settings(max_examples=5, database=None)
        @given(st.integers())
        def test_examples(n):
            g = current_goroutine()
            assert g is not None and g not in MAINS
            MAINS.add(g)
            c = makechan(1)
            c.send(n)
            assert c.recv() == n

        def test_count():
            assert len(MAINS) >= 2
        """,
        "-p",
        "hypothesispytest",
    )
    result.assert_outcomes(passed=2)


def test_in_a_fresh_interpreter_busy_timeout_and_patching_in_conftest(pytester: pytest.Pytester) -> None:
    # Patching is process-wide, and a busy test holds the thread: both in a child.
    pytester.makeconftest("import offset\noffset.patch_all()\n")
    pytester.makepyfile(
        test_inner=textwrap.dedent(
            """
            import time
            import pytest
            from offset import go
            from offset.sync import WaitGroup

            @pytest.mark.offset(timeout=0.2)
            def test_busy():
                end = time.monotonic() + 30
                while time.monotonic() < end:
                    pass

            def hog():
                end = time.monotonic() + 30
                while time.monotonic() < end:
                    pass

            @pytest.mark.offset(timeout=0.2)
            def test_busy_other_goroutine():
                go(hog)
                time.sleep(30)

            @pytest.mark.offset
            def test_patched_sleeps_overlap():
                wg = WaitGroup()
                start = time.monotonic()
                for _ in range(5):
                    wg.go(time.sleep, 0.3)
                wg.wait()
                assert time.monotonic() - start < 1.2
            """
        )
    )
    result = pytester.runpytest_subprocess(*PLUGIN, *QUIET, timeout=60)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_busy _*",
            "offset: the test ran longer than its timeout of 0.2 s, and a goroutine has held the thread "
            "without switching for 1 s more",
            "",
            "offset: goroutine dump, 1 schedulers, 1 goroutines",
            "*",
            "goroutine * [[]running[]]:",
            "test_inner.test_busy(...)",
            "*test_inner.py:9",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*_ test_busy_other_goroutine _*",
            "offset: the test ran longer than its timeout of 0.2 s, and a goroutine has held the thread*",
            "",
            "offset: goroutine dump, 1 schedulers, 2 goroutines",
            "*",
            "goroutine * [[]sleep[]]:",
            "test_inner.test_busy_other_goroutine(...)",
            "*",
            "goroutine * [[]running[]]:",
            "test_inner.hog(...)",
            "*test_inner.py:14",
        ]
    )
    assert result.duration < 30
