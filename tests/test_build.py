"""The build switch (offset/_build.py): compiled or pure Python, and which one runs.

The one place in the suite that knows which build runs: every other test
runs the same against both. The fallback cases run on a copy of the
package with fake extension modules beside the sources (empty files that
would fail to load), so they need no compiler: if the switch chose one of
them, the import would fail.
"""

from __future__ import annotations

import importlib.machinery
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import offset
from offset import _build

PKG = Path(offset.__file__).parent
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]

PROBE = (
    "import sys, offset, offset._build as b; "
    "print(offset.COMPILED, all(sys.modules[m].__file__.endswith('.py') for m in b.MODULES if m in sys.modules))"
)


def python(code: str, root: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ)
    e.pop("OFFSET_PURE_PYTHON", None)
    e.update(env)
    if root is not None:
        e["PYTHONPATH"] = str(root)
    return subprocess.run(
        [sys.executable, "-c", code], env=e, capture_output=True, text=True, timeout=60, cwd=root or PKG.parent
    )


def test_compiled_says_which_modules_run() -> None:
    kinds = {name: m.__file__.endswith(".py") for name in _build.MODULES if (m := sys.modules.get(name)) is not None}  # type: ignore[union-attr]
    assert "offset._core._chan" in kinds and "offset._core._sched" in kinds
    assert len(set(kinds.values())) == 1, f"a mix of compiled and pure modules: {kinds}"
    assert offset.COMPILED is (not next(iter(kinds.values())))
    assert _build.compiled_modules() == (len(kinds) if offset.COMPILED else 0, len(kinds))
    if os.environ.get("OFFSET_EXPECT_BUILD"):  # CI says which build it installed
        assert offset.COMPILED is (os.environ["OFFSET_EXPECT_BUILD"] == "compiled")


def test_pure_python_switch_runs_the_sources() -> None:
    for value in ("1", "yes"):
        r = python(PROBE, OFFSET_PURE_PYTHON=value)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["False", "True"]
        assert "RuntimeWarning" not in r.stderr
    # "0" is as unset: whatever the install has (this process may run pure by the switch).
    unset = python(PROBE)
    assert unset.returncode == 0, unset.stderr
    assert python(PROBE, OFFSET_PURE_PYTHON="0").stdout == unset.stdout


def test_version_says_which_build() -> None:
    r = subprocess.run([sys.executable, "-m", "offset", "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    build = "compiled" if offset.COMPILED else "pure Python"
    assert r.stdout.startswith(f"offset {offset.__version__} ({build}) on ")
    r = subprocess.run(
        [sys.executable, "-m", "offset", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OFFSET_PURE_PYTHON": "1"},
    )
    assert "(pure Python)" in r.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the offset package's sources, with no build in it."""
    shutil.copytree(PKG, tmp_path / "offset", ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "*.txt"))
    return tmp_path


def fake_build(root: Path, names: tuple[str, ...], stamp: str | None) -> None:
    for name in names:
        Path(str(root / Path(*name.split("."))) + SUFFIX).write_bytes(b"")
    if stamp is not None:
        (root / "offset" / _build.STAMP).write_text(stamp)


def test_no_build_runs_pure_without_a_word(tree: Path) -> None:
    r = python(PROBE, tree)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True"]
    assert r.stderr == ""


def test_a_stale_build_runs_pure_and_says_so(tree: Path) -> None:
    fake_build(tree, _build.MODULES, stamp="0" * 64)
    r = python(PROBE, tree)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True"]
    assert "RuntimeWarning: offset's compiled core is older than its source" in r.stderr
    assert "pip install -e ." in r.stderr
    r = python(PROBE, tree, OFFSET_PURE_PYTHON="1")
    assert r.stdout.split() == ["False", "True"]
    assert r.stderr == ""


def test_a_partial_build_runs_pure_and_says_so(tree: Path) -> None:
    fake_build(tree, _build.MODULES[:3], stamp=None)
    (tree / "offset" / _build.STAMP).write_text(_build.digest(str(tree)))
    r = python(PROBE, tree)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True"]
    assert "only some of offset's core modules are compiled" in r.stderr


def test_another_pythons_stamp_does_not_vouch_for_this_ones_build(tree: Path) -> None:
    # One checkout built for two Pythons: a rebuild for the other one (its
    # stamp current) says nothing of this one's extensions.
    fake_build(tree, _build.MODULES, stamp=None)
    other = "cpython-399" if sys.implementation.cache_tag != "cpython-399" else "cpython-398"
    (tree / "offset" / f"_build_stamp.{other}.txt").write_text(_build.digest(str(tree)))
    r = python(PROBE, tree)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True"]
    assert "older than its source" in r.stderr


def test_a_current_build_is_chosen(tree: Path) -> None:
    # The fake extensions match the stamp, so the switch takes them: importing them fails.
    fake_build(tree, _build.MODULES, stamp=_build.digest(str(tree)))
    r = python("import offset", tree)
    assert r.returncode != 0
    assert "ImportError" in r.stderr or "dynamic module" in r.stderr or "invalid ELF" in r.stderr


def test_digest_follows_the_sources(tree: Path) -> None:
    before = _build.digest(str(tree))
    assert before == _build.digest(str(tree))
    chan = Path(_build.source_path("offset._core._chan", str(tree)))
    chan.write_text(chan.read_text() + "\n# edited\n")
    assert _build.digest(str(tree)) != before
