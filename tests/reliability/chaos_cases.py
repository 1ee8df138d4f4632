"""Cases that test_chaos.py runs with pytest in a fresh interpreter.

Not collected by the suite (the name does not start with ``test_``): each
is run by its node id, with the environment test_chaos.py gives it.
"""

from __future__ import annotations

import os

import pytest

from offset import go, gosched, run


def trace() -> list[str]:
    """Four goroutines, each yielding three times: the order they ran in."""
    log: list[str] = []

    def worker(name: str) -> None:
        for i in range(3):
            log.append(f"{name}{i}")
            gosched()

    for name in "abcd":
        go(worker, name)
    run()
    return log


def test_fails_naming_its_order() -> None:
    # CHAOS_CASES_FAIL=1: fail, with the order in the message, so that a
    # replay can be compared with the first run.
    log = trace()
    assert os.environ.get("CHAOS_CASES_FAIL") != "1", "order: " + " ".join(log)


@pytest.mark.order_dependent("asserts Go's FIFO run order itself")
def test_marked_with_a_reason() -> None:
    assert trace() == ["a0", "b0", "c0", "d0", "a1", "b1", "c1", "d1", "a2", "b2", "c2", "d2"]


@pytest.mark.order_dependent
def test_marked_without_a_reason() -> None:
    pass
