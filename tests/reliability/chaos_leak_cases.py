"""Cases that test_chaos.py runs with pytest in a fresh interpreter, under a seed.

Not collected by the suite (the name does not start with ``test_``). Each
test leaks a goroutine started on its last line, which the offset pytest
plugin must report whatever the run order: every one of them fails.
"""

from __future__ import annotations

import pytest

from offset import go, makechan


def forever(c: object) -> None:
    c.recv()  # type: ignore[attr-defined]


@pytest.mark.offset
@pytest.mark.parametrize("i", range(8))
def test_leaks_on_its_last_line(i: int) -> None:
    # i goroutines that end at once, runnable beside the leaked one: each
    # test's yields draw differently from the same seed.
    for _ in range(i):
        go(lambda: None)
    go(forever, makechan())
