"""File and pipe I/O under the patch layer (the os area's reads, writes and open())."""

from __future__ import annotations

from typing import Any

from .conftest import cases_script, run_child

PLAIN = cases_script("files_cases", "plain")
IN_GOROUTINES = cases_script("files_cases", "goroutine")
IN_A_THREAD = cases_script("files_cases", "thread")
BEFORE_RUN = cases_script("files_cases", "before_run")


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got.keys() == want.keys()
    assert {k: (got[k], want[k]) for k in want if got[k] != want[k]} == {}


def test_cases_match_unpatched() -> None:
    plain = run_child(PLAIN)
    assert all(v[0] == "ok" for v in plain.values()), {k: v for k, v in plain.items() if v[0] != "ok"}
    patched = run_child(IN_GOROUTINES)
    assert_same(patched["cases"], plain)
    assert_same(run_child(IN_A_THREAD), plain)
    assert_same(run_child(BEFORE_RUN), plain)
