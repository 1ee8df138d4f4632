"""The package's layering, checked on its source (trio's test_exports does the same).

- Nothing outside ``offset/_core/`` imports one of the core's private
  submodules (``offset._core._sched``, ``from .._core._chan import ...``,
  ``from ._core import _timers``): public modules are built only on what
  ``offset/_core/__init__.py`` exports (STYLE.md, "Package layout").
- Only ``offset/_core/_greenlet.py`` imports ``greenlet``: the one way into
  the greenlet library, as curio has one way into its kernel.

Every module of the package is parsed with ``ast`` and every import statement
in it is checked, wherever it sits (module level, a function body, an
``if TYPE_CHECKING:`` block). Relative imports are resolved against the
module's own package first. Imports by string (``importlib.import_module``,
``__import__``) are out of scope.

The checker is run on small bad packages too, one per kind of import it must
catch, so that a checker that finds nothing cannot pass unnoticed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import offset

PACKAGE_DIR = Path(offset.__file__).resolve().parent

# The one module allowed to import greenlet, relative to the package directory.
GREENLET_GATE = ("_core", "_greenlet.py")


def _module_name(package: str, rel: Path) -> tuple[str, bool]:
    """The dotted name of the module at ``rel`` and whether it is a package."""
    parts = list(rel.with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join([package, *parts]), is_package


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module named by ``from <node.module> import ...`` inside ``module``."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_private_core(name: str, core: str) -> bool:
    """Whether ``name`` is a private submodule of ``core`` (or lies inside one)."""
    if not name.startswith(core + "."):
        return False
    return name[len(core) + 1 :].split(".")[0].startswith("_")


def _is_greenlet(name: str) -> bool:
    return name == "greenlet" or name.startswith("greenlet.")


def violations(root: Path, package: str) -> Iterator[str]:
    """Each import under ``root`` (the directory of ``package``) that breaks the layering."""
    core = package + "._core"
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        module, is_package = _module_name(package, rel)
        inside_core = rel.parts[0] == "_core"
        greenlet_gate = rel.parts == GREENLET_GATE
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, is_package, node)
                # "from offset._core import _x" names a private submodule too.
                names = [target]
                if target == core:
                    names += [f"{target}.{alias.name}" for alias in node.names]
            else:
                continue
            where = f"{path.relative_to(root.parent)}:{node.lineno}: {ast.unparse(node)}"
            for name in names:
                if not inside_core and _is_private_core(name, core):
                    yield f"{where}  (imports private core module {name}; import its names from {core})"
                if not greenlet_gate and _is_greenlet(name):
                    yield f"{where}  (imports greenlet; only {package}/{'/'.join(GREENLET_GATE)} may)"


def test_offset_package_keeps_its_layering() -> None:
    found = list(violations(PACKAGE_DIR, "offset"))
    assert not found, "layering broken:\n" + "\n".join(found)


def test_checker_sees_every_module() -> None:
    # A checker that walks the wrong directory finds nothing wrong.
    seen = {p.relative_to(PACKAGE_DIR).as_posix() for p in PACKAGE_DIR.rglob("*.py")}
    assert {"__init__.py", "_core/_greenlet.py", "_core/_sched.py", "patches/socket.py"} <= seen


def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name in ["__init__.py", "_core/__init__.py", "_core/_greenlet.py", "_core/_sched.py", "sub/__init__.py"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    (root / "_core" / "_greenlet.py").write_text("import greenlet\nfrom greenlet import getcurrent\n")
    (root / "_core" / "__init__.py").write_text("from ._sched import go as go\nfrom . import _sched\n")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


BAD = [
    ("mod.py", "import pkg._core._sched\n", "mod.py:1: import pkg._core._sched"),
    ("mod.py", "import pkg._core._sched as s\n", "mod.py:1: import pkg._core._sched as s"),
    ("mod.py", "from pkg._core._sched import go\n", "mod.py:1: from pkg._core._sched import go"),
    ("mod.py", "\nfrom ._core._sched import go\n", "mod.py:2: from ._core._sched import go"),
    ("mod.py", "from ._core import _sched\n", "mod.py:1: from ._core import _sched"),
    ("mod.py", "from pkg._core import go, _sched\n", "mod.py:1: from pkg._core import go, _sched"),
    ("sub/mod.py", "from .._core._sched import go\n", "sub/mod.py:1: from .._core._sched import go"),
    ("sub/__init__.py", "from .._core import _sched\n", "sub/__init__.py:1: from .._core import _sched"),
    ("mod.py", "def f():\n    from ._core._sched import go\n", "mod.py:2: from ._core._sched import go"),
    ("mod.py", "import greenlet\n", "mod.py:1: import greenlet"),
    ("mod.py", "from greenlet import greenlet\n", "mod.py:1: from greenlet import greenlet"),
    ("_core/_sched.py", "import greenlet\n", "_core/_sched.py:1: import greenlet"),
]


@pytest.mark.parametrize(("name", "text", "expected"), BAD)
def test_checker_catches(tmp_path: Path, name: str, text: str, expected: str) -> None:
    root = _fake_package(tmp_path, {name: text})
    found = list(violations(root, "pkg"))
    assert len(found) == 1, found
    assert found[0].startswith("pkg/" + expected + "  (")


GOOD = [
    ("mod.py", "from ._core import go\nimport pkg._core\nfrom pkg import _core\n"),
    ("mod.py", "from ._core import go as _go\n"),
    ("sub/mod.py", "from .._core import go\nfrom . import _private\nimport greenlets_are_not_greenlet\n"),
    ("_core/_io.py", "from ._sched import go\nfrom . import _sched\nimport pkg._core._sched\n"),
]


@pytest.mark.parametrize(("name", "text"), GOOD)
def test_checker_allows(tmp_path: Path, name: str, text: str) -> None:
    root = _fake_package(tmp_path, {name: text})
    assert list(violations(root, "pkg")) == []
