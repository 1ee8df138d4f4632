"""Which build of the runtime core runs: compiled, or pure Python.

What: offset's hot core modules (``MODULES``) are compiled by mypyc from
their own ``.py`` source when offset is installed where a C compiler is
found (``setup.py``). The ``.py`` files stay beside the extension modules:
they are the source of truth, the documentation, and the fallback.
``OFFSET_PURE_PYTHON=1`` (or true, yes, on; offset/_config.py parses it)
when offset is first imported makes it import the ``.py`` modules even
where compiled ones are installed (gevent's ``PURE_PYTHON``).
``offset.COMPILED`` says which build runs, and ``python -m offset
--version`` prints it.

How: a compiled module and its source share one name
(``offset._core._chan`` is ``_chan.cpython-311-x86_64-linux-gnu.so`` or
``_chan.py``, and Python's path finder prefers the extension). To run pure,
``select()`` puts a finder at the front of ``sys.meta_path`` that loads each
module of ``MODULES`` from its ``.py`` file. The build records a digest of
the sources it compiled (``STAMP``, written by ``setup.py``); a compiled
module whose source has changed since (an editable install, then an edit)
would run stale code, so then the pure modules run, with a warning that
says how to rebuild.

Invariants:
- All or nothing: either every module of ``MODULES`` is compiled or none
  is. Compiled code trusts the types of what it is given (a compiled
  ``_sched`` takes only a compiled ``Chan``), so a mix cannot run.
- ``select()`` runs before any module of ``MODULES`` is imported (it is
  the first thing ``offset/__init__.py`` does), and decides once per
  process.
- This module imports nothing of offset's at its top (``select()`` asks
  ``_config``, which imports only the stdlib), so ``setup.py`` can read
  ``MODULES`` from it without offset's dependencies.

Rejected designs:
- Cython in pure-Python mode, with augmenting ``.pxd`` files (gevent's way),
  measured beside mypyc on _sched, _chan and _select (3.11, ns per item,
  ranges of interleaved runs, 2026-12-02): ping-pong pure 3,242-3,647,
  Cython without .pxd 3,392-3,668 (nothing gained), Cython with .pxd
  2,209-2,578, mypyc 2,593-3,234 (2,378-2,479 with a common waiter base
  class); buffered 465-506 / 478-528 / 341-474 / 358-405. Within ~5% of
  each other once typed, but Cython needs every class declared a second
  time (``__slots__`` and ``.pxd``), refuses ``Generic[T]`` on a compiled
  class (``Chan[int]`` then fails ``mypy --strict`` without a third, stub
  copy), refuses ``@final`` and ``__init_subclass__`` in the class, and
  builds 5.4 MB of C extension against mypyc's 0.8. mypyc compiles the
  modules that already pass ``mypy --strict``, from their annotations.
- Compiled modules under other names, imported over the pure ones by a
  call at the end of each pure module (gevent's ``import_c_accel``):
  every compiled module then holds two copies of every name, and each
  pure module carries the switch.
- Comparing file times to find a stale build: an installer may write the
  ``.py`` after the ``.so``, so the times say nothing.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

__all__ = ["MODULES", "STAMP", "compiled_modules", "digest", "is_compiled", "select", "source_path"]

# The compiled modules, by import name (setup.py compiles these, and no other).
MODULES: tuple[str, ...] = (
    "offset._core._chan",
    "offset._core._io",
    "offset._core._netpoll",
    "offset._core._netpoll_epoll",
    "offset._core._netpoll_selectors",
    "offset._core._sched",
    "offset._core._select",
    "offset._core._sema",
    "offset._core._time",
    "offset._core._timers",
    "offset._core._waitreason",
)

# The file, beside this one, in which setup.py records the digest of what it
# compiled: one per interpreter (cache tag), as the extensions are, so that
# rebuilding for one Python in a checkout does not vouch for another's
# older extensions (they then imported, failing, instead of falling back).
STAMP = f"_build_stamp.{sys.implementation.cache_tag}.txt"

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)  # the directory that holds the offset package


def source_path(name: str, root: str = _ROOT) -> str:
    """The ``.py`` file of module ``name`` under ``root``."""
    return os.path.join(root, *name.split(".")) + ".py"


def digest(root: str = _ROOT) -> str:
    """A digest of the sources of ``MODULES`` under ``root`` (what a build compiled)."""
    h = hashlib.sha256()
    for name in MODULES:
        h.update(name.encode())
        with open(source_path(name, root), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def _is_compiled(spec: importlib.machinery.ModuleSpec | None) -> bool:
    return spec is not None and isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)


def _has_extension(name: str) -> bool:
    """Whether module ``name`` has an extension module beside its source (which import prefers).

    Looked up on disk: asking the import system would import the package,
    and with it the modules, before the choice is made.
    """
    base = os.path.join(_ROOT, *name.split("."))
    return any(os.path.exists(base + suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES)


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of ``MODULES`` as their ``.py`` files, whatever else is installed."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(fullname))


def _wants_pure() -> bool:
    # Imported here, not at the top: setup.py runs this module on its own
    # (runpy) and never calls select(). _config imports only the stdlib too.
    from ._config import pure_python

    return pure_python()


def select() -> bool:
    """Choose the build for this process, before the core is imported; return True if compiled.

    Pure when ``OFFSET_PURE_PYTHON`` asks for it, when no compiled module is
    installed, or when the compiled ones are stale (with a RuntimeWarning).
    """
    if any(name in sys.modules for name in MODULES):
        return is_compiled()  # decided already
    built = [_has_extension(name) for name in MODULES]
    if not any(built):
        return False
    reason = ""
    if not all(built):
        reason = "only some of offset's core modules are compiled"
    elif not _wants_pure():
        try:
            with open(os.path.join(_HERE, STAMP), encoding="ascii") as f:
                stamp = f.read().strip()
        except OSError:
            stamp = ""
        if stamp != digest():
            reason = "offset's compiled core is older than its source"
    if reason:
        warnings.warn(
            f"{reason}: using the pure-Python modules (rebuild with `pip install -e .`, "
            "or set OFFSET_PURE_PYTHON=1 to silence this)",
            RuntimeWarning,
            stacklevel=3,
        )
    elif not _wants_pure():
        return True
    sys.meta_path.insert(0, _SourceFinder())
    return False


def compiled_modules() -> tuple[int, int]:
    """(compiled, imported): of the modules of ``MODULES`` imported now, how many came from extensions.

    Not every module is imported in every process (``_netpoll_selectors``
    only where epoll is missing, or chosen).
    """
    compiled = imported = 0
    for name in MODULES:
        module = sys.modules.get(name)
        if module is not None:
            imported += 1
            if _is_compiled(module.__spec__):
                compiled += 1
    return compiled, imported


def is_compiled() -> bool:
    """Whether the core runs compiled: every module of ``MODULES`` imported so far is."""
    compiled, imported = compiled_modules()
    return 0 < imported == compiled
