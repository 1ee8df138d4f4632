"""Faults: bad configuration (issue 13, part 1, last bullet).

Each ``OFFSET_*`` variable, set to something offset cannot use, must give one
clear error in a fresh interpreter: a single ``ValueError`` when offset is
imported (offset/_config.py checks every variable there), whose message names
the variable, what it accepts and the value given. Not a traceback from
``int()`` deep inside, not a chain of exceptions, not a silent fallback.
The variables offset reads are exactly ``offset._config.VARIABLES``: the
source is grepped for ``OFFSET_`` names and the README's table is compared
with the list, so that a new variable cannot go undocumented or unchecked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import offset
from offset import _config
from offset._core import _syscall

ROOT = Path(offset.__file__).resolve().parent.parent
PKG = ROOT / "offset"


def _python(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter with offset's own variables cleared, then ``env`` set."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("OFFSET_")}
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT), full.get("PYTHONPATH", "")])
    full.update(env)
    return subprocess.run(
        [sys.executable, *args], env=full, capture_output=True, text=True, timeout=60, cwd=cwd or ROOT
    )


def _one_error(p: subprocess.CompletedProcess[str]) -> str:
    """The message of the one ValueError ``p`` died of (it must be exactly one)."""
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert p.stderr.count("Traceback (most recent call last):") == 1, p.stderr
    assert "During handling of the above exception" not in p.stderr, p.stderr
    assert "The above exception was the direct cause" not in p.stderr, p.stderr
    tail = p.stderr[p.stderr.rindex("ValueError: ") :]
    return tail[len("ValueError: ") :].rstrip("\n")


SIGNALS = "SIGABRT, SIGALRM"

BAD = [
    ("OFFSET_MAX_THREADS", "abc", "OFFSET_MAX_THREADS must be a positive integer, not 'abc'"),
    ("OFFSET_MAX_THREADS", "0", "OFFSET_MAX_THREADS must be a positive integer, not '0'"),
    ("OFFSET_MAX_THREADS", "-1", "OFFSET_MAX_THREADS must be a positive integer, not '-1'"),
    ("OFFSET_MAX_THREADS", "2.5", "OFFSET_MAX_THREADS must be a positive integer, not '2.5'"),
    ("OFFSET_NETPOLL", "nonsense", "OFFSET_NETPOLL must be 'epoll' or 'selectors', not 'nonsense'"),
    ("OFFSET_NETPOLL", "kqueue", "OFFSET_NETPOLL must be 'epoll' or 'selectors', not 'kqueue'"),
    (
        "OFFSET_PURE_PYTHON",
        "maybe",
        "OFFSET_PURE_PYTHON must be 1, true, yes or on (run the pure-Python core) "
        "or 0, false, no or off (the compiled core where installed), not 'maybe'",
    ),
    (
        "OFFSET_MONITOR",
        "xyz",
        "OFFSET_MONITOR must be a positive duration such as 100ms, 1.5s or 0.1 (seconds), not 'xyz'",
    ),
    (
        "OFFSET_MONITOR",
        "0",
        "OFFSET_MONITOR must be a positive duration such as 100ms, 1.5s or 0.1 (seconds), not '0'",
    ),
    ("OFFSET_DUMP_SIGNAL", "SIGNOPE", f"OFFSET_DUMP_SIGNAL must name a signal ({SIGNALS}, "),
    ("OFFSET_DUMP_SIGNAL", "9", "OFFSET_DUMP_SIGNAL: '9' cannot be caught; name another signal"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_bad_value_is_one_clear_error_at_import(name: str, value: str, message: str) -> None:
    got = _one_error(_python(["-c", "import offset"], {name: value}))
    if message.endswith(", "):  # the list of signals goes on: the platform's
        assert got.startswith(message) and got.endswith(f", or its number), not {value!r}"), got
        assert "SIGKILL" not in got and "SIGSTOP" not in got, got  # not offered: they cannot be caught
    else:
        assert got == message


@pytest.mark.parametrize(("name", "value", "message"), BAD[:1] + BAD[4:5] + BAD[6:7])
def test_bad_value_is_one_clear_error_under_python_m_offset(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    script = tmp_path / "prog.py"
    script.write_text("print('the program ran')\n")
    p = _python(["-m", "offset", str(script)], {name: value})
    assert "the program ran" not in p.stdout
    assert _one_error(p) == message


def test_several_bad_values_are_one_error_with_a_line_each() -> None:
    p = _python(["-c", "import offset"], {"OFFSET_MAX_THREADS": "abc", "OFFSET_NETPOLL": "x", "OFFSET_MONITOR": "soon"})
    assert p.stderr.count("Traceback (most recent call last):") == 1, p.stderr
    assert p.stderr.rstrip("\n").splitlines()[-3:] == [
        "ValueError: OFFSET_MAX_THREADS must be a positive integer, not 'abc'",
        "OFFSET_NETPOLL must be 'epoll' or 'selectors', not 'x'",
        "OFFSET_MONITOR must be a positive duration such as 100ms, 1.5s or 0.1 (seconds), not 'soon'",
    ]


GOOD_PROBE = """
import offset, offset.monitor, signal, sys
from offset._core import _netpoll
def main():
    return offset.stats()["pool_max"], type(_netpoll.make_netpoll()).__name__
pool_max, backend = offset.run(main)
print(pool_max, backend, offset.COMPILED, offset.monitor._current is not None,
      signal.getsignal(signal.SIGUSR2) is not signal.SIG_DFL)
"""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ["64", "EpollNetpoll", "?", "False", "False"]),
        (
            {"OFFSET_MAX_THREADS": " 3 ", "OFFSET_NETPOLL": "Selectors"},
            ["3", "SelectorsNetpoll", "?", "False", "False"],
        ),
        ({"OFFSET_NETPOLL": "epoll", "OFFSET_PURE_PYTHON": "YES"}, ["64", "EpollNetpoll", "False", "False", "False"]),
        (
            {"OFFSET_PURE_PYTHON": "on", "OFFSET_MONITOR": "1h", "OFFSET_DUMP_SIGNAL": "usr2"},
            ["64", "EpollNetpoll", "False", "True", "True"],
        ),
        (
            {"OFFSET_MAX_THREADS": "", "OFFSET_NETPOLL": " ", "OFFSET_MONITOR": "", "OFFSET_DUMP_SIGNAL": ""},
            ["64", "EpollNetpoll", "?", "False", "False"],
        ),
    ],
)
def test_good_values_take_effect(env: dict[str, str], expected: list[str]) -> None:
    p = _python(["-c", GOOD_PROBE], env)
    assert p.returncode == 0, p.stderr
    got = p.stdout.split()
    if expected[2] == "?":  # whatever the install has
        expected = [*expected[:2], got[2], *expected[3:]]
    assert got == expected


def test_pure_python_off_values_run_what_is_installed() -> None:
    probe = "import offset; print(offset.COMPILED)"
    unset = _python(["-c", probe], {}).stdout
    for value in ("0", "false", "No", "OFF"):
        p = _python(["-c", probe], {"OFFSET_PURE_PYTHON": value})
        assert p.returncode == 0, p.stderr
        assert p.stdout == unset, value


def test_epoll_where_the_platform_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    import select

    monkeypatch.delattr(select, "epoll")
    monkeypatch.setenv("OFFSET_NETPOLL", "epoll")
    msg = "OFFSET_NETPOLL is 'epoll', but this platform has no epoll: set it to 'selectors' or unset it"
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        _config.netpoll()
    monkeypatch.setenv("OFFSET_NETPOLL", "selectors")
    assert _config.netpoll() == "selectors"


def test_max_threads_set_after_import_is_checked_when_the_pool_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    # Documented: read when the pool is made. A bad value set after import is
    # the same one error, raised by the blocking call that makes the pool,
    # in the goroutine that made it, and run() raises it.
    monkeypatch.setattr(_syscall, "_pool", None)
    monkeypatch.setenv("OFFSET_MAX_THREADS", "many")

    def main() -> None:
        offset.syscall(len)("abc")

    with pytest.raises(ValueError, match=r"^OFFSET_MAX_THREADS must be a positive integer, not 'many'$"):
        offset.run(main)
    assert _syscall._pool is None


def test_config_needs_only_the_stdlib() -> None:
    # setup.py runs it with runpy at build time, without offset importable.
    code = f"import runpy, sys; c = runpy.run_path({str(PKG / '_config.py')!r}); print(c['pure_python']())"
    p = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        env={"OFFSET_PURE_PYTHON": "true"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (p.returncode, p.stdout, p.stderr) == (0, "True\n", "")


def _names_in_source() -> set[str]:
    found: set[str] = set()
    for path in PKG.rglob("*.py"):
        found.update(re.findall(r"\bOFFSET_[A-Z_]+[A-Z]\b", path.read_text(encoding="utf-8")))
    found.update(re.findall(r"\bOFFSET_[A-Z_]+[A-Z]\b", (ROOT / "setup.py").read_text(encoding="utf-8")))
    return found


def test_every_variable_offset_reads_is_checked_and_documented() -> None:
    names = {v.name for v in _config.VARIABLES}
    unknown = _names_in_source() - names
    assert not unknown, f"OFFSET_* names in offset's source missing from offset._config.VARIABLES: {sorted(unknown)}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| `(OFFSET_[A-Z_]+)` \|", readme, re.MULTILINE)
    assert table == [v.name for v in _config.VARIABLES], "README's table of variables differs from _config.VARIABLES"
    for v in _config.VARIABLES:
        row = f"| `{v.name}` | {v.accepts} | {v.default} | {v.read} |"
        assert row in readme, f"README's row for {v.name} should read: {row}"


def test_netpoll_set_after_import_is_checked_when_a_netpoller_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    # Documented: read whenever a netpoller is made, which run() does at its
    # first idle wait. The one error comes out of run(), and the thread's
    # scheduler runs again once the variable is right.
    from offset import time as gotime

    finallies: list[str] = []

    def sleeper() -> None:
        try:
            gotime.sleep(gotime.HOUR)
        finally:
            finallies.append("sleeper")

    def main(d: int) -> str:
        offset.go(sleeper)
        gotime.sleep(d)
        return "slept"

    monkeypatch.setenv("OFFSET_NETPOLL", "poll")
    with pytest.raises(ValueError, match=r"^OFFSET_NETPOLL must be 'epoll' or 'selectors', not 'poll'$"):
        # An hour: a run whose timer is due before its first idle wait (1 ms,
        # on a loaded machine) ends with no netpoller made, and no error.
        offset.run(main, gotime.HOUR)
    assert finallies == ["sleeper"]
    monkeypatch.delenv("OFFSET_NETPOLL")
    assert offset.run(main, gotime.MILLISECOND) == "slept"
    assert offset.stats()["goroutines"] == 0
