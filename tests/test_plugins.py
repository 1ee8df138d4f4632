"""offset.plugins: a plugin runs when its target module is imported.

The hook (install/uninstall, entry points, the built-in table, a failing
plugin) with a fake target module and a fake distribution whose
``offset.plugins`` entry point names a fake plugin; then the psycopg plugin's
wait loop against psycopg's generator protocol on a socketpair (no server:
tests/clients/test_postgres.py runs it against a real PostgreSQL). Each test
in a fresh interpreter: install() hooks the import system of the whole
process.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest
from patches.conftest import run_child

# A fake distribution on sys.path: its entry point hooks "fake_target" with
# fake_plugin:apply, which records each call in fake_log.CALLS and returns
# an undo that records itself too.
FILES = {
    "fake_log.py": "CALLS = []\n",
    "fake_target.py": "VALUE = 1\n",
    "fake_other.py": "VALUE = 2\n",
    "fake_plugin.py": """
        import fake_log
        fake_log.CALLS.append("plugin module imported")

        def apply(module):
            fake_log.CALLS.append(("apply", module.__name__))
            module.VALUE = 100
            def undo():
                fake_log.CALLS.append(("undo", module.__name__))
                module.VALUE = 1
            return undo

        def apply_other(module):
            fake_log.CALLS.append(("apply_other", module.__name__))

        def broken(module):
            raise ValueError("no can do")

        def bad_return(module):
            return 42
    """,
    "fakeplug-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: fakeplug\nVersion: 1.0\n",
    "fakeplug-1.0.dist-info/entry_points.txt": "[offset.plugins]\nfake_target = fake_plugin:apply\n",
}


def make_dist(tmp_path: Path, entry_points: str | None = None) -> str:
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    if entry_points is not None:
        (tmp_path / "fakeplug-1.0.dist-info/entry_points.txt").write_text("[offset.plugins]\n" + entry_points)
    return str(tmp_path)


PRELUDE = """
import child; child.start()
import sys, warnings
sys.path.insert(0, {path!r})
import fake_log
from offset import plugins
"""


def run(tmp_path: Path, body: str, entry_points: str | None = None) -> dict[str, object]:
    path = make_dist(tmp_path, entry_points)
    result: dict[str, object] = run_child(PRELUDE.format(path=path) + textwrap.dedent(body), timeout=30)
    return result


def test_plugin_runs_when_its_target_is_imported_and_once(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        """
        plugins.install()
        before = list(fake_log.CALLS)            # nothing yet, not even the plugin's module
        import fake_target
        after_import = list(fake_log.CALLS)
        import fake_target                       # already imported: nothing more
        plugins.install()                        # installed already: nothing more
        child.report({
            "before": before, "after": after_import, "end": fake_log.CALLS,
            "value": fake_target.VALUE, "installed": plugins.is_installed(),
            "state": [s for t, ref, s in plugins.plugins() if t == "fake_target"],
        })
    """,
    )
    assert r["before"] == []
    assert r["after"] == ["plugin module imported", ["apply", "fake_target"]]
    assert r["end"] == r["after"]
    assert r["value"] == 100
    assert r["installed"] is True
    assert r["state"] == ["applied"]


def test_plugin_for_a_module_already_imported_runs_at_install(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        """
        import fake_target
        plugins.install()
        child.report({"calls": fake_log.CALLS, "value": fake_target.VALUE})
    """,
    )
    assert r == {"calls": ["plugin module imported", ["apply", "fake_target"]], "value": 100}


def test_uninstall_undoes_and_stops_the_hooks_and_install_starts_over(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        """
        import fake_target
        plugins.install()
        plugins.uninstall()
        undone = list(fake_log.CALLS)
        value_after_uninstall = fake_target.VALUE
        plugins.uninstall()                      # a no-op
        import fake_other                        # its hook was stopped
        after_other = list(fake_log.CALLS)
        plugins.install()                        # runs again on what is imported
        child.report({
            "undone": undone, "value": value_after_uninstall, "after_other": after_other,
            "end": fake_log.CALLS, "value_end": fake_target.VALUE, "installed": plugins.is_installed(),
        })
    """,
        entry_points="fake_target = fake_plugin:apply\nfake_other = fake_plugin:apply_other\n",
    )
    assert r["undone"] == ["plugin module imported", ["apply", "fake_target"], ["undo", "fake_target"]]
    assert r["value"] == 1
    assert r["after_other"] == r["undone"]
    assert r["end"] == r["undone"] + [["apply", "fake_target"], ["apply_other", "fake_other"]]
    assert r["value_end"] == 100
    assert r["installed"] is True


def test_uninstall_of_a_plugin_that_did_not_run_and_undo_order(tmp_path: Path) -> None:
    # Two plugins on one target; undone newest first. Then a hook stopped
    # before its target was imported never runs, even on a later import.
    r = run(
        tmp_path,
        """
        plugins.install()
        import fake_target
        plugins.uninstall()
        first = list(fake_log.CALLS)
        del fake_log.CALLS[:]
        plugins.install()
        plugins.uninstall()
        import fake_other
        child.report({"first": first, "second": fake_log.CALLS})
    """,
        entry_points="fake_target = fake_plugin:apply\nfake_target = fake_plugin:apply_other\n"
        "fake_other = fake_plugin:apply_other\n",
    )
    assert r["first"] == [
        "plugin module imported",
        ["apply", "fake_target"],
        ["apply_other", "fake_target"],
        ["undo", "fake_target"],
    ]
    # The second install ran the fake_target plugins again (imported), not fake_other's.
    assert r["second"] == [["apply", "fake_target"], ["apply_other", "fake_target"], ["undo", "fake_target"]]


def test_a_failing_plugin_warns_and_the_import_goes_on(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        """
        plugins.install()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import fake_target
            import fake_other
        child.report({
            "warnings": [(w.category.__module__ + "." + w.category.__name__, str(w.message)) for w in caught],
            "imported": "fake_target" in sys.modules and "fake_other" in sys.modules,
            "states": sorted(s for t, ref, s in plugins.plugins() if t.startswith("fake")),
        })
    """,
        entry_points="fake_target = fake_plugin:broken\nfake_other = no_such_module:apply\n",
    )
    assert r["imported"] is True
    assert r["states"] == ["failed", "failed"]
    (cat1, msg1), (cat2, msg2) = r["warnings"]  # type: ignore[misc]
    assert cat1 == cat2 == "offset.plugins.PluginWarning"
    assert msg1.startswith(
        "offset plugin fake_plugin:broken for 'fake_target' failed, so fake_target waits without offset "
        "(blocking the thread): ValueError: no can do\nTraceback"
    )
    assert 'raise ValueError("no can do")' in msg1
    assert msg2.startswith(
        "offset plugin no_such_module:apply for 'fake_other' failed, so fake_other waits without offset "
        "(blocking the thread): ModuleNotFoundError: No module named 'no_such_module'"
    )


def test_a_failing_plugin_fails_the_import_when_its_warning_is_an_error(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        """
        warnings.simplefilter("error", plugins.PluginWarning)
        plugins.install()
        try:
            import fake_target
        except plugins.PluginWarning as e:
            outcome = ["raised", str(e).splitlines()[0]]
        else:
            outcome = ["imported"]
        child.report({"outcome": outcome})
    """,
        entry_points="fake_target = fake_plugin:bad_return\n",
    )
    assert r["outcome"] == [
        "raised",
        "offset plugin fake_plugin:bad_return for 'fake_target' failed, so fake_target waits without offset "
        "(blocking the thread): TypeError: a plugin returns None or a callable that undoes it, not 42",
    ]


def test_builtin_psycopg_plugin_listed_once(tmp_path: Path) -> None:
    # Built in (a source checkout) and, when offset is installed, an entry
    # point too: one plugin either way.
    r = run(
        tmp_path,
        """
        plugins.install()
        child.report({"psycopg": [p for p in plugins.plugins() if p[0] == "psycopg"]})
    """,
    )
    assert r["psycopg"] == [["psycopg", "offset.plugins.psycopg:apply", "pending"]]


def test_patch_all_installs_the_plugins_and_unpatch_all_uninstalls_them(tmp_path: Path) -> None:
    r = run(
        tmp_path,
        """
        import offset
        offset.patch_all()
        import fake_target
        patched = (plugins.is_installed(), fake_target.VALUE)
        offset.unpatch_all()
        child.report({"patched": patched, "unpatched": (plugins.is_installed(), fake_target.VALUE)})
    """,
    )
    assert r == {"patched": [True, 100], "unpatched": [False, 1]}


# --- the psycopg plugin's wait loop, on a socketpair --------------------

needs_psycopg = pytest.mark.skipif(importlib.util.find_spec("psycopg") is None, reason="psycopg is not installed")

PSYCOPG_PRELUDE = """
import child; child.start()
import json, socket, sys, threading, time
import offset
offset.patch_all()
from offset import plugins
plugins.install()
import psycopg
from psycopg import waiting, errors
from psycopg.waiting import Wait, Ready
from offset._core import current_goroutine

def gen_read(sock, sent):
    # psycopg's _fetch shape: wait for R until told ready, then read.
    while True:
        ready = yield Wait.R
        sent.append(int(ready))
        if ready:
            return sock.recv(100)

def ticker(ticks, stop):
    while not stop:
        time.sleep(0.01)
        ticks.append(1)
"""


@needs_psycopg
def test_psycopg_wait_parks_only_the_goroutine_and_sends_ready() -> None:
    r = run_child(
        PSYCOPG_PRELUDE
        + textwrap.dedent("""
        def main():
            a, b = socket.socketpair()
            ticks, stop, sent = [], [], []
            offset.go(ticker, ticks, stop)
            def writer():
                time.sleep(0.3)
                b.send(b"hello")
            offset.go(writer)
            t = time.perf_counter()
            # interval 0.1: Ready.NONE every 0.1 s until the data comes.
            data = waiting.wait(gen_read(a, sent), a.fileno(), interval=0.1)
            wall = time.perf_counter() - t
            stop.append(1)
            a.close(); b.close()
            return {"data": data.decode(), "sent": sent, "ticks": len(ticks), "wall": wall,
                    "wraps": waiting.wait.__wrapped__ is psycopg.waiting.wait_c}
        child.report(offset.run(main))
    """)
    )
    assert r["data"] == "hello"
    # Two or three Ready.NONE (at 0.1, 0.2, maybe 0.3 s) and then Ready.R.
    assert r["sent"][-1] == 1 and set(r["sent"][:-1]) == {0} and 2 <= len(r["sent"]) - 1 <= 3
    assert 0.25 < r["wall"] < 1.0
    assert r["ticks"] >= 10  # the ticker ran while main waited
    assert r["wraps"] is True


@needs_psycopg
def test_psycopg_wait_timeout_and_zero_interval() -> None:
    r = run_child(
        PSYCOPG_PRELUDE
        + textwrap.dedent("""
        def main():
            a, b = socket.socketpair()
            sent = []
            out = {}
            t = time.perf_counter()
            try:
                waiting.wait(gen_read(a, sent), a.fileno(), interval=0.0, timeout=0.2)
            except errors._WaitTimeout as e:
                out["timeout"] = [type(e).__name__, str(e)]
            out["wall"] = time.perf_counter() - t
            # interval 0 never woke it before the deadline: one Ready.NONE at the end.
            out["sent"] = sent
            sent2 = []
            try:
                waiting.wait(gen_read(a, sent2), a.fileno(), interval=0.1, timeout=0.0)
            except errors._WaitTimeout as e:
                out["zero"] = [type(e).__name__, sent2]
            a.close(); b.close()
            return out
        child.report(offset.run(main))
    """)
    )
    assert r["timeout"] == ["_WaitTimeout", "wait timeout expired"]
    assert 0.18 < r["wall"] < 0.8
    assert r["sent"] == [0]
    assert r["zero"] == ["_WaitTimeout", [0]]  # a timeout of 0 looks once


@needs_psycopg
def test_psycopg_wait_rw_and_conn_with_changing_fd() -> None:
    r = run_child(
        PSYCOPG_PRELUDE
        + textwrap.dedent("""
        def gen_rw(sent):
            ready = yield Wait.RW          # a fresh socket: writable at once
            sent.append(int(ready))
            return "done"

        def gen_conn(s1, s2, sent):
            # connect-like: wait on one fd, then on another.
            ready = yield s1.fileno(), Wait.W
            sent.append(int(ready))
            while not (ready := (yield s2.fileno(), Wait.R)):
                sent.append(int(ready))
            sent.append(int(ready))
            return s2.recv(10)

        def main():
            a, b = socket.socketpair()
            c, d = socket.socketpair()
            sent, sent2 = [], []
            rv = waiting.wait(gen_rw(sent), a.fileno())
            offset.go(lambda: (time.sleep(0.1), d.send(b"x")))
            rv2 = waiting.wait_conn(gen_conn(a, c, sent2), interval=0.03)
            for s in (a, b, c, d):
                s.close()
            return {"rv": rv, "sent": sent, "rv2": rv2.decode(), "sent2": sent2}
        child.report(offset.run(main))
    """)
    )
    assert r["rv"] == "done" and r["sent"] == [2]  # writable, nothing to read
    assert r["rv2"] == "x"
    assert r["sent2"][0] == 2 and r["sent2"][-1] == 1 and set(r["sent2"][1:-1]) == {0}


@needs_psycopg
def test_psycopg_wait_in_a_plain_thread_is_the_original_and_undo_restores_it() -> None:
    r = run_child(
        PSYCOPG_PRELUDE
        + textwrap.dedent("""
        seen = []
        def spy(*args, **kwargs):
            seen.append(current_goroutine() is None)
            return original(*args, **kwargs)
        original = waiting.wait.__wrapped__
        wrapper = waiting.wait
        # Find the original through the wrapper's closure: replace it by a spy.
        cell = [c for c in wrapper.__closure__ if c.cell_contents is original][0]
        cell.cell_contents = spy
        a, b = socket.socketpair()
        b.send(b"x")
        out = {}
        def in_thread():
            out["thread"] = waiting.wait(gen_read(a, []), a.fileno(), interval=0.1).decode()
        t = threading.Thread(target=in_thread); t.start(); t.join()
        b.send(b"y")
        out["before_run"] = waiting.wait(gen_read(a, []), a.fileno()).decode()
        cell.cell_contents = original
        plugins.uninstall()
        out["restored"] = waiting.wait is original
        out["seen"] = seen
        a.close(); b.close()
        child.report(out)
    """)
    )
    assert r == {"thread": "x", "before_run": "y", "restored": True, "seen": [True, True]}


@needs_psycopg
def test_psycopg_wait_on_a_closed_fd_raises_operational_error_and_hangup_reads() -> None:
    r = run_child(
        PSYCOPG_PRELUDE
        + textwrap.dedent("""
        def gen_once(state):
            ready = yield state
            return int(ready)
        def main():
            import os
            out = {}
            # A peer that hung up: readable (the read finds EOF), as wait_poll says.
            a, b = socket.socketpair()
            b.close()
            out["hangup"] = waiting.wait(gen_once(Wait.R), a.fileno(), interval=0.1, timeout=1.0)
            a.close()
            # A closed fd (what a connection lost under psycopg looks like).
            # The netpoller exists by now, so the number stays free.
            fd = os.open(os.devnull, os.O_RDONLY)
            os.close(fd)
            try:
                waiting.wait(gen_once(Wait.R), fd, interval=0.1, timeout=1.0)
            except errors.OperationalError as e:
                out["closed"] = [type(e).__name__, str(e), type(e.__cause__).__name__]
            return out
        child.report(offset.run(main))
    """)
    )
    assert r == {"closed": ["OperationalError", "connection socket closed", "OSError"], "hangup": 1}
