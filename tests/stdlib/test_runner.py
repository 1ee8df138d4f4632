"""The stdlib-check runner, run on fake test modules (fixtures/) that go
wrong only when offset is patched: it must name exactly their regressions,
record a hang as hung and a dead child as crashed and carry on after each,
apply known_failures.txt's rules, and time only the tests that ran in both
runs (fake_hang_plain hangs only plain)."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest

from . import runner

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
TIMEOUT = 1.5  # the watchdog; the fixtures' hangs are sleeps of an hour

pytestmark = pytest.mark.skipif(not runner.has_test_package(), reason="CPython's test package is not installed")

MODULES = [
    "fake_pass",
    "fake_fail",
    "fake_hang",
    "fake_hang_fixtures",
    "fake_crash",
    "fake_test_main",
    "fake_hang_plain",
]
SLEEP = 0.3  # fake_hang_plain.HangsPlain.test_1_sleeps

EXPECTED = {
    "fake_fail.Failing.test_b_fails": "fail",
    "fake_fail.Failing.test_c_errors": "error",
    "fake_fail.Failing.test_d_skips": "skip",
    "fake_fail.Failing.test_f_subtest_fails": "fail",
    "fake_fail.FixtureFails.setUpClass": "error",
    "fake_fail.FixtureFails.test_never_runs_patched": "not run",
    "fake_hang.Hanging.test_2_hangs": "hung",
    "fake_hang.Hanging.test_4_fails": "fail",
    "fake_hang_fixtures.HangsEveryTest.test_1": "hung",
    "fake_hang_fixtures.HangsEveryTest.test_2": "hung",
    "fake_hang_fixtures.HangsEveryTest.test_3": "not run",
    "fake_hang_fixtures.SetUpClassHangs.test_1": "hung",
    "fake_hang_fixtures.SetUpClassHangs.test_2": "not run",
    "fake_crash.Crashing.test_2_sigkill": "crashed",
    "fake_crash.Crashing.test_4_exits": "crashed",
}


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[runner.Report, str]:
    known = tmp_path_factory.mktemp("known") / "known_failures.txt"
    known.write_text("# nothing accepted\n")
    out = io.StringIO()
    report = runner.check(
        MODULES, jobs=len(MODULES), timeout=TIMEOUT, paths=[FIXTURES], rerun=False, known_failures=str(known), out=out
    )
    return report, out.getvalue()


def outcomes(run: runner.ModuleRun) -> dict[str, str]:
    return {test_id: result.outcome for test_id, result in run.results.items()}


def test_exactly_the_regressions(checked: tuple[runner.Report, str]) -> None:
    report, _ = checked
    assert {r.test_id: r.result.outcome for r in report.regressions} == EXPECTED
    assert report.status == 1


def test_plain_runs_as_unittest_would(checked: tuple[runner.Report, str]) -> None:
    report, _ = checked
    plain = {m: outcomes(report.runs[m]["plain"]) for m in MODULES}
    assert plain["fake_pass"] == {
        "fake_pass.Passing.test_one": "pass",
        "fake_pass.Passing.test_skipped": "skip",
        "fake_pass.Passing.test_subtests": "pass",
        "fake_pass.Passing.test_two": "pass",
    }
    failing = {t: outcome for m in MODULES for t, outcome in plain[m].items() if outcome not in ("pass", "skip")}
    assert failing == {  # in both runs: no regressions
        "fake_fail.Failing.test_e_always_fails": "fail",
        "fake_hang_plain.HangsPlain.test_2_hangs_plain": "hung",
        "fake_hang_plain.HangsPlain.test_4_fails_in_both": "fail",
    }


def test_a_hang_is_recorded_and_the_module_goes_on(checked: tuple[runner.Report, str]) -> None:
    report, _ = checked
    patched = report.runs["fake_hang"]["patched"]
    assert outcomes(patched) == {
        "fake_hang.Hanging.test_1_passes": "pass",
        "fake_hang.Hanging.test_2_hangs": "hung",
        "fake_hang.Hanging.test_3_passes": "pass",
        "fake_hang.Hanging.test_4_fails": "fail",
        "fake_hang.Later.test_still_runs": "pass",
    }
    assert patched.children == 2
    hung = patched.results["fake_hang.Hanging.test_2_hangs"]
    assert hung.msg == f"no progress for {TIMEOUT:g}s"
    # The dump: faulthandler's threads, then the parked main goroutine.
    assert "Current thread" in hung.detail
    assert "in test_2_hangs\n    time.sleep(3600)" in hung.detail


def test_hanging_fixtures_cost_one_timeout_each(checked: tuple[runner.Report, str]) -> None:
    report, _ = checked
    patched = report.runs["fake_hang_fixtures"]["patched"]
    assert patched.results["fake_hang_fixtures.HangsEveryTest.test_3"].msg == (
        "not run: 2 tests of fake_hang_fixtures.HangsEveryTest hung before it"
    )
    assert patched.results["fake_hang_fixtures.SetUpClassHangs.test_1"].msg.startswith(
        "setUpClass of fake_hang_fixtures.SetUpClassHangs: no progress"
    )
    assert patched.results["fake_hang_fixtures.ZLast.test_still_runs"].outcome == "pass"
    assert patched.children == 4  # three hangs


def test_a_crash_is_recorded_and_the_module_goes_on(checked: tuple[runner.Report, str]) -> None:
    report, _ = checked
    patched = report.runs["fake_crash"]["patched"]
    assert outcomes(patched) == {
        "fake_crash.Crashing.test_1_passes": "pass",
        "fake_crash.Crashing.test_2_sigkill": "crashed",
        "fake_crash.Crashing.test_3_passes": "pass",
        "fake_crash.Crashing.test_4_exits": "crashed",
        "fake_crash.Crashing.test_5_passes": "pass",
    }
    assert patched.results["fake_crash.Crashing.test_2_sigkill"].msg == "killed by SIGKILL"
    assert patched.results["fake_crash.Crashing.test_4_exits"].msg == "exited with status 7"


def test_test_main_classes_are_captured(checked: tuple[runner.Report, str]) -> None:
    report, _ = checked
    for mode in ("plain", "patched"):
        assert outcomes(report.runs["fake_test_main"][mode]) == {
            "fake_test_main.First.test_first": "pass",
            "fake_test_main.Second.test_second": "pass",
        }


def test_the_report(checked: tuple[runner.Report, str]) -> None:
    _, text = checked
    lines = text.splitlines()
    row = next(line for line in lines if line.startswith("fake_hang_fixtures "))
    assert row.split()[:5] == ["fake_hang_fixtures", "6", "5", "3", "0"]
    assert any(line.startswith("total ") and line.split()[1:5] == ["33", "15", "4", "2"] for line in lines)
    assert re.search(r"^patched/unpatched, tests that ran in both: \d+\.\d\d \(23 tests, ", text, re.M)
    assert re.search(r"^patched/unpatched, whole-module walls: \d+\.\d\d ", text, re.M)
    # fake_hang_plain: n is 3 (not the test hung plain), the ratio near 1.
    row = next(line for line in lines if line.startswith("fake_hang_plain "))
    assert row.split()[7] == "3"
    assert 0.5 < float(row.split()[10]) < 2
    block = lines.index("Largest patched-minus-plain differences:")
    assert [
        line.startswith("  ") and line.rstrip().endswith("s patched)") for line in lines[block + 1 : block + 6]
    ] == [True] * 5
    assert "!! 6 test(s) HUNG or CRASHED under offset" in text
    assert "!!   CRASHED  fake_crash.Crashing.test_2_sigkill: killed by SIGKILL" in text
    assert lines[-1].startswith("stdlib-check: FAILED: 15 regression(s): 15 new, 0 known, 0 flaky")


def test_durations_are_per_test_and_not_negative(checked: tuple[runner.Report, str]) -> None:
    report, _ = checked
    for m in MODULES:
        for mode, run in report.runs[m].items():
            for test_id, result in run.results.items():
                if result.outcome in runner.UNFINISHED or test_id not in run.all_ids:  # or a fixture
                    assert result.duration is None, (mode, test_id)
                else:
                    assert result.duration is not None and result.duration >= 0, (mode, test_id)
    for mode in ("plain", "patched"):
        results = report.runs["fake_hang_plain"][mode].results
        # Each test's own time, not the time since the child started.
        duration = results["fake_hang_plain.HangsPlain.test_1_sleeps"].duration
        assert duration is not None and SLEEP <= duration < SLEEP + 1.0
        duration = results["fake_hang_plain.HangsPlain.test_3_passes"].duration
        assert duration is not None and duration < SLEEP
        # Skipped by a decorator: from 3.12 unittest never starts it; it
        # finished all the same, in no time.
        skipped = report.runs["fake_pass"][mode].results["fake_pass.Passing.test_skipped"]
        assert skipped.outcome == "skip" and skipped.finished


def test_a_test_that_hangs_plain_is_left_out_of_the_ratio(checked: tuple[runner.Report, str]) -> None:
    report, _ = checked
    plain, patched = report.runs["fake_hang_plain"]["plain"], report.runs["fake_hang_plain"]["patched"]
    assert plain.results["fake_hang_plain.HangsPlain.test_2_hangs_plain"].outcome == "hung"
    assert "fake_hang_plain.HangsPlain.test_2_hangs_plain" not in patched.results
    both = runner.timing(plain, patched)
    assert [t for t, _, _ in both.pairs] == [  # a failure ran to its end: it counts
        "fake_hang_plain.HangsPlain.test_1_sleeps",
        "fake_hang_plain.HangsPlain.test_3_passes",
        "fake_hang_plain.HangsPlain.test_4_fails_in_both",
    ]
    # The plain wall paid the watchdog (after test_1's sleep); the durations
    # did not. (Not "plain.wall - patched.wall > ...": under load the
    # patched child's start-up alone took most of a second.)
    assert plain.wall >= TIMEOUT + SLEEP
    assert SLEEP <= both.plain < SLEEP + 1.0 and SLEEP <= both.patched < SLEEP + 1.0
    assert both.ratio is not None and 0.5 < both.ratio < 2
    # Hangs and crashes patched are left out too, and the total is the sum.
    hang = runner.timing(report.runs["fake_hang"]["plain"], report.runs["fake_hang"]["patched"])
    assert "fake_hang.Hanging.test_2_hangs" not in [t for t, _, _ in hang.pairs]
    total = runner.total_timing(report.runs)
    assert len(total.pairs) == 23  # 4 + 6 + 4 + 1 + 3 + 2 + 3, by module
    assert total.plain == pytest.approx(
        sum(runner.timing(r["plain"], r["patched"]).plain for r in report.runs.values())
    )
    assert total.largest()[0][0] == max(total.pairs, key=lambda pair: pair[2] - pair[1])[0]


def test_the_json(checked: tuple[runner.Report, str], tmp_path: Path) -> None:
    report, _ = checked
    path = tmp_path / "report.json"
    runner.write_json(report, str(path))
    data = json.loads(path.read_text())
    assert data["both"]["tests"] == 23
    assert len(data["both"]["largest_differences"]) == 5
    module = data["modules"]["fake_hang_plain"]
    assert module["both"]["tests"] == 3
    assert module["both"]["plain"] == pytest.approx(
        runner.timing(report.runs["fake_hang_plain"]["plain"], report.runs["fake_hang_plain"]["patched"]).plain
    )
    outcome, _, duration = module["plain"]["results"]["fake_hang_plain.HangsPlain.test_1_sleeps"]
    assert outcome == "pass" and duration >= SLEEP
    assert module["plain"]["results"]["fake_hang_plain.HangsPlain.test_2_hangs_plain"][2] is None


def test_known_failures(checked: tuple[runner.Report, str], tmp_path: Path) -> None:
    report, _ = checked
    modules = list(report.runs)

    def judge(text: str) -> tuple[list[tuple[str, str]], int]:
        path = tmp_path / "known_failures.txt"
        path.write_text(text)
        to_remove, status = runner.judge(
            report.regressions, runner.parse_known_failures(str(path)), modules, report.runs
        )
        return [(e.pattern, why) for e, why in to_remove], status

    everything = (
        "# every regression, by pattern\n"
        "\n"
        "fake_fail.*  the fake fails patched\n"
        "fake_hang.Hanging.*  py>=3.0  hangs patched\n"
        "fake_hang_fixtures.*  py>=3.0 py!=2.7  hangs patched\n"
        "fake_crash.Crashing.test_?_*  crashes patched\n"
    )
    assert judge(everything) == ([], 0)
    assert all(r.known is not None for r in report.regressions)
    assert next(r for r in report.regressions if r.test_id.startswith("fake_crash")).known.reason == "crashes patched"

    # Unlisted: fails. Listed only for other Pythons: unlisted.
    assert judge(everything.replace("fake_crash.Crashing.test_?_*  ", "fake_crash.Crashing.test_?_*  py<3.0 "))[1] == 1
    assert judge(everything.replace("fake_fail.*", "fake_fail.Failing.test_b_fails"))[1] == 1

    # Listed but passing, or matching nothing: reported, not failing.
    stale = everything + "fake_pass.Passing.test_one  passes now\nfake_pass.Gone.test_x  renamed\n"
    assert judge(stale) == (
        [("fake_pass.Passing.test_one", "now passes"), ("fake_pass.Gone.test_x", "matches no test")],
        0,
    )
    # An entry of a module that was not checked says nothing.
    assert judge(everything + "test.test_socket.X.test_y  not checked here\n") == ([], 0)


def test_known_failures_need_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "known_failures.txt"
    path.write_text("# comment\nfake_fail.Failing.test_b_fails py>=3.10\n")
    with pytest.raises(ValueError, match=r"known_failures\.txt:2: 'fake_fail\.Failing\.test_b_fails' needs a reason"):
        runner.parse_known_failures(str(path))


def test_a_regression_that_passes_on_a_rerun_is_flaky(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_FLAKY_MARK", str(tmp_path / "mark"))
    known = tmp_path / "known_failures.txt"
    known.write_text("")
    out = io.StringIO()
    report = runner.check(["fake_flaky"], timeout=10, paths=[FIXTURES], known_failures=str(known), out=out)
    [regression] = report.regressions
    assert (regression.test_id, regression.result.outcome) == ("fake_flaky.Flaky.test_flaky", "fail")
    assert regression.flaky
    assert report.status == 0
    assert "[FLAKY: passed on a rerun]" in out.getvalue()


def test_without_cpythons_test_package(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(runner, "has_test_package", lambda: False)
    assert runner.main(["--network"]) == 0
    assert "CPython's test package (test.support) is not installed" in capsys.readouterr().out
