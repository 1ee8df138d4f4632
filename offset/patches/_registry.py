"""The registry: one path for every patch, and the record that undoes it.

Every patch follows wrapt's three steps (GrahamDumpleton/wrapt patches.py):
*resolve* the attribute by its dotted path in its module, *record* the
original object, *apply* the replacement that a factory builds from the
original (``wrapt.wrap_object``). Unpatching is ``wrapt.unwrap_object`` with
the recorded replacement, in reverse order of application, which puts back
the very object that was there (identity, not a copy): a method that lived
on a base class is uncovered again, a module function is put back.

Each patch belongs to an *area* ("socket", "time", ...), one module of
offset.patches per area. An area's patches are declared once, when its
module is imported (``define``), and switched on and off together
(``patch_area`` / ``unpatch_area``).

Rules:
- Patching what is patched is a no-op, and so is unpatching what is not:
  the first original recorded is the one kept (gevent monkey/_state.py).
- A module that is not imported yet is patched when it is imported, by a
  wrapt post-import hook; until then the patch is *enabled* but not
  *applied*. ``is_patched`` answers for enabled.
- When a patch replaces a module-level function that another module has
  already bound under its own name (``from time import sleep`` before
  patch_all), that reference cannot be reached: the registry warns once
  for it, saying what to do.
- Patching and unpatching take one lock, so two threads patching at once
  cannot record a replacement as an original.

What a replacement does when called is each area's business; the rule they
all follow is in offset/patches/__init__.py.
"""

from __future__ import annotations

import importlib
import sys
import threading
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = [
    "PatchWarning",
    "define",
    "function_wrapper",
    "held_on_purpose",
    "lean",
    "patch_area",
    "unpatch_area",
    "unpatch_all",
    "is_enabled",
]


class PatchWarning(RuntimeWarning):
    """A patch could not reach every reference to what it replaces."""


PatchWarning.__module__ = "offset.patches"


class Patch:
    """One attribute to replace: where it is, and how to build the replacement."""

    __slots__ = (
        "area",
        "module",
        "path",
        "factory",
        "scan",
        "restored",
        "enabled",
        "hooked",
        "original",
        "replacement",
    )

    def __init__(
        self,
        area: str,
        module: str,
        path: str,
        factory: Callable[[Any], Any],
        scan: bool,
        restored: Callable[[Any], None] | None,
    ) -> None:
        self.area = area
        self.module = module  # the module's name, e.g. "socket"
        self.path = path  # dotted path inside it, e.g. "socket.recv"
        self.factory = factory  # original -> replacement
        self.scan = scan  # a module-level name others may have bound: look for them
        # Called with the original once it is back: undoes what the factory
        # did besides building the replacement (state the patch changed).
        self.restored = restored
        self.enabled = False
        self.hooked = False  # a post-import hook is registered for it
        self.original: Any = None  # recorded while applied
        self.replacement: Any = None  # the handle unwrap_object needs; None: not applied

    def __repr__(self) -> str:
        state = "applied" if self.replacement is not None else "enabled" if self.enabled else "off"
        return f"<patch {self.module}.{self.path} ({self.area}, {state})>"


_lock = threading.RLock()
_areas: dict[str, list[Patch]] = {}
_applied: list[Patch] = []  # in order of application; unpatching walks it backwards
_warned: set[tuple[str, str, str]] = set()


def define(
    area: str,
    module: str,
    path: str,
    factory: Callable[[Any], Any],
    *,
    scan: bool = False,
    restored: Callable[[Any], None] | None = None,
) -> None:
    """Declare a patch of ``module``'s ``path`` in ``area``.

    ``factory(original)`` returns the replacement: a ``wrapt.FunctionWrapper``,
    or a function made with ``lean``. It runs when the patch is applied, and
    may also change state the replacement relies on (the signal area wraps
    the handlers already installed); ``restored(original)``, called when the
    original is back, undoes that. ``scan`` asks for the check that no other
    module bound the original under its own name first.
    """
    with _lock:
        _areas.setdefault(area, []).append(Patch(area, module, path, factory, scan, restored))


def function_wrapper(original: Any, wrapper: Callable[..., Any]) -> Any:
    """``wrapt.FunctionWrapper(original, wrapper)``, the usual replacement.

    It pickles as the original does (by reference, ``time.sleep``), so that
    multiprocessing and ProcessPoolExecutor can send a patched function to
    a child: a bare wrapt proxy refuses to be pickled.
    """
    global _Wrapper
    if _Wrapper is None:
        wrapt = _wrapt()
        bound = type("BoundFunctionWrapper", (wrapt.BoundFunctionWrapper,), {"__reduce_ex__": _reduce_wrapper})
        _Wrapper = type(
            "FunctionWrapper",
            (wrapt.FunctionWrapper,),
            {"__reduce_ex__": _reduce_wrapper, "__bound_function_wrapper__": bound},
        )
    return _Wrapper(original, wrapper)


def _reduce_wrapper(self: Any, protocol: Any) -> Any:
    """Pickle a wrapper as its original pickles: a bound method by its
    instance and name, anything else as ``getattr`` of its module's
    attribute, which is the wrapper again where that module is patched."""
    original = self.__wrapped__
    if getattr(original, "__self__", None) is not None and not isinstance(original.__self__, ModuleType):
        return original.__reduce_ex__(protocol)  # (getattr, (instance, name))
    return _AttrRef(original.__module__, original.__qualname__).__reduce__()


class _AttrRef:
    """``module.dotted.path`` for pickle, loaded with importlib and getattr only."""

    def __init__(self, module: str, path: str) -> None:
        self.module = module
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        if not self.path:
            return (importlib.import_module, (self.module,))
        parent, _, name = self.path.rpartition(".")
        return (getattr, (_AttrRef(self.module, parent), name))


_Wrapper: Any = None


def _wrapt() -> Any:
    # Imported on first use, not with offset: wrapt imports asyncio, which
    # imports socket, ssl and subprocess, two thirds of offset's import time.
    import wrapt

    return wrapt


def lean(fn: Callable[..., Any], original: Any) -> Callable[..., Any]:
    """Make plain function ``fn`` a replacement for ``original``.

    For the socket methods on every I/O call: a ``FunctionWrapper`` costs
    about 1 us a call there (binding, then calling the wrapper with args
    and kwargs), a plain function about 0.1 us. wrapt still installs,
    records and removes it: ``__wrapped__`` links it to the original as a
    wrapt wrapper does, so ``unwrap_object`` restores the original.
    """
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(fn, attr, getattr(original, attr))
        except (AttributeError, TypeError):
            pass
    fn.__wrapped__ = original  # type: ignore[attr-defined]
    return fn


def is_enabled(area: str) -> bool:
    """Whether ``area`` is patched (applied, or waiting for its module's import)."""
    with _lock:
        patches = _areas.get(area, [])
        return bool(patches) and all(p.enabled for p in patches)


def patch_area(area: str) -> None:
    """Enable every patch of ``area``; apply those whose module is imported."""
    with _lock:
        for p in _areas.get(area, ()):
            if p.enabled:
                continue
            p.enabled = True
            module = sys.modules.get(p.module)
            if module is not None:
                _apply(p, module)
            elif not p.hooked:
                p.hooked = True
                _wrapt().register_post_import_hook(_hook_for(p), p.module)


def unpatch_area(area: str) -> None:
    """Disable every patch of ``area`` and restore its originals."""
    with _lock:
        patches = _areas.get(area, [])
        for p in reversed(_applied):
            if p.area == area:
                _unapply(p)
        for p in patches:
            p.enabled = False


def unpatch_all() -> None:
    """Disable every patch and restore every original, newest first."""
    with _lock:
        for p in reversed(_applied):
            _unapply(p)
        for patches in _areas.values():
            for p in patches:
                p.enabled = False


def _hook_for(p: Patch) -> Callable[[ModuleType], None]:
    def on_import(module: ModuleType) -> None:
        with _lock:
            if p.enabled:
                _apply(p, module)

    return on_import


def _apply(p: Patch, module: ModuleType) -> None:
    """Resolve, record the original, apply. Caller holds _lock."""
    if p.replacement is not None:
        return  # applied already: the first original wins
    wrapt = _wrapt()
    _parent, _attr, original = wrapt.resolve_path(module, p.path)
    # wrap_object calls factory(original) and applies what it returns.
    p.replacement = wrapt.wrap_object(module, p.path, p.factory)
    p.original = original
    _applied.append(p)
    if p.scan:
        _warn_unreachable(p, module, original)


def _unapply(p: Patch) -> None:
    """Put the recorded original back. Caller holds _lock."""
    if p.replacement is None:
        return
    module = sys.modules.get(p.module)
    if module is not None:
        _wrapt().unwrap_object(module, p.path, p.replacement, missing_ok=True)
    original = p.original
    p.replacement = None
    p.original = None
    _applied.remove(p)
    if p.restored is not None:
        p.restored(original)


# Modules that hold an original by design, not by an early import.
_HOLDERS_BY_DESIGN = ("offset", "wrapt", "_pytest", "pytest")


def held_on_purpose(module: str, name: str, target: str) -> None:
    """Say that ``module.name`` holds ``target``'s original on purpose.

    For a stdlib module that binds a function under its own name for calls
    that never block (subprocess's ``_waitpid``, used only with WNOHANG):
    no PatchWarning for it.
    """
    with _lock:
        _warned.add((module, name, target))


def _warn_unreachable(p: Patch, module: ModuleType, original: Any) -> None:
    """Warn once per (module, name) that bound ``original`` before patching."""
    target = f"{module.__name__}.{p.path}"
    home = getattr(original, "__module__", None)
    for name, mod in list(sys.modules.items()):
        if mod is None or mod is module or name == home or name.startswith(_HOLDERS_BY_DESIGN):
            continue
        try:
            namespace = vars(mod)
        except TypeError:
            continue
        for attr, value in list(namespace.items()):
            if value is not original:
                continue
            key = (name, attr, target)
            if key in _warned:
                continue
            _warned.add(key)
            warnings.warn(
                f"offset could not patch {name}.{attr}: it was bound to {target} "
                f"before patching, so calls through it still block the whole thread. "
                f"Call offset.patch_all() first thing in the program, before other "
                f"imports (or run it with python -m offset).",
                PatchWarning,
                stacklevel=5,
            )
