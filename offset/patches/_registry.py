"""The registry: one path for every patch, and the record that undoes it.

Every patch follows wrapt's three steps (GrahamDumpleton/wrapt patches.py):
*resolve* the attribute by its dotted path in its module, *record* the
original object, *apply* the replacement that a factory builds from the
original (``wrapt.wrap_object``). Unpatching is ``wrapt.unwrap_object`` with
the recorded replacement, in reverse order of application, which puts back
the very object that was there (identity, not a copy): a method that lived
on a base class is uncovered again, a module function is put back.

Each patch belongs to an *area* ("socket", "time", ...), one module of
offset.patches per area, which makes one ``Area`` object: the area module
declares its patches on it once, when it is imported (``Area.define``),
and gets its public ``patch``/``unpatch``/``is_patched`` from it
(``Area.functions``), so an area module holds only what is particular to
its stdlib module. ``offset.patches.patch_all`` switches the areas on in
the order of ``AREAS``.

``get_original(module_name, attr)`` answers from the record: the original of
an applied patch, or the module's attribute where nothing is patched.

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

Invariants: one patch per attribute (``define`` refuses a second, whose
original would be the first's replacement); ``Patch.original`` and
``Patch.replacement`` are set together, exactly while the patch is in
``_applied``; ``Area.is_patched`` is True only when every patch of the
area is enabled, so an area with no patches on this system is never
patched.

Rejected designs: each area module writing its own ``patch``/``unpatch``/
``is_patched`` around the registry's functions (eleven copies that drifted
in their docstrings); a registry keyed by area name alone, with the area
module passing its name string each time (the Area object is the one
place that name is spelled); finding an original through the
replacement's ``__wrapped__`` (not every replacement has one: the queue
area's SimpleQueue is a class of offset's own).
"""

from __future__ import annotations

import importlib
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from .._core import InternalError

__all__ = [
    "Area",
    "PatchWarning",
    "function_wrapper",
    "get_original",
    "held_on_purpose",
    "lean",
    "unpatch_all",
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
        area: Area,
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
        # What was there before: set exactly while applied (replacement not
        # None). get_original answers from it, _unapply hands it to restored.
        self.original: Any = None
        self.replacement: Any = None  # the handle unwrap_object needs; None: not applied

    def __repr__(self) -> str:
        state = "applied" if self.replacement is not None else "enabled" if self.enabled else "off"
        return f"<patch {self.module}.{self.path} ({self.area.name}, {state})>"


_lock = threading.RLock()
_areas: dict[str, Area] = {}  # by name, in order of definition
_targets: dict[tuple[str, str], Patch] = {}  # (module, path) -> its one patch
_applied: list[Patch] = []  # in order of application; unpatching walks it backwards
_warned: set[tuple[str, str, str]] = set()


class Area:
    """One stdlib area ("socket", "time", ...): its patches, switched together.

    An area module makes one, declares its patches with ``define`` when it
    is imported, and takes its public ``patch``/``unpatch``/``is_patched``
    from ``functions()``::

        AREA = _registry.Area("time", __name__, "``time.sleep``")
        AREA.define("time", "sleep", _make_sleep, scan=True)
        patch, unpatch, is_patched = AREA.functions()

    An area may have no patches on some systems (nothing it replaces
    exists there): patching it is then a no-op and it never counts as
    patched.
    """

    __slots__ = ("name", "module", "what", "patches")

    def __init__(self, name: str, module: str, what: str) -> None:
        """``name`` is the area's (patch_all's keyword), ``module`` the area
        module's ``__name__``, ``what`` a phrase naming what it replaces,
        for the docstrings of its functions."""
        self.name = name
        self.module = module
        self.what = what
        self.patches: list[Patch] = []
        with _lock:
            if name in _areas:
                raise ValueError(f"Area(): an area named {name!r} exists already")
            _areas[name] = self

    def __repr__(self) -> str:
        return f"<patch area {self.name!r} ({len(self.patches)} patches)>"

    def define(
        self,
        module: str,
        path: str,
        factory: Callable[[Any], Any],
        *,
        scan: bool = False,
        restored: Callable[[Any], None] | None = None,
    ) -> None:
        """Declare a patch of ``module``'s ``path`` (dotted: "socket.recv").

        ``factory(original)`` returns the replacement: a ``wrapt.FunctionWrapper``,
        or a function made with ``lean``. It runs when the patch is applied, and
        may also change state the replacement relies on (the signal area wraps
        the handlers already installed); ``restored(original)``, called when the
        original is back, undoes that. ``scan`` asks for the check that no other
        module bound the original under its own name first.

        Raises:
            ValueError: another patch replaces the same attribute (two
                originals could not both be put back).
        """
        with _lock:
            key = (module, path)
            if key in _targets:
                raise ValueError(f"define(): {module}.{path} is patched by area {_targets[key].area.name!r} already")
            p = Patch(self, module, path, factory, scan, restored)
            _targets[key] = p
            self.patches.append(p)

    def patch(self) -> None:
        """Enable every patch of the area; apply those whose module is imported."""
        with _lock:
            for p in self.patches:
                if p.enabled:
                    continue
                p.enabled = True
                module = sys.modules.get(p.module)
                if module is not None:
                    _apply(p, module)
                elif not p.hooked:
                    p.hooked = True
                    _wrapt().register_post_import_hook(_hook_for(p), p.module)

    def unpatch(self) -> None:
        """Disable every patch of the area and restore its originals, newest first."""
        with _lock:
            for p in reversed(_applied):
                if p.area is self:
                    _unapply(p)
            for p in self.patches:
                p.enabled = False

    def is_patched(self) -> bool:
        """Whether the area is patched (applied, or waiting for its module's import)."""
        with _lock:
            return bool(self.patches) and all(p.enabled for p in self.patches)

    def functions(self) -> tuple[Callable[[], None], Callable[[], None], Callable[[], bool]]:
        """The area module's ``patch``, ``unpatch`` and ``is_patched``.

        Plain functions of the area module (its ``__module__``, their own
        names and docstrings saying what this area replaces), so that
        ``help(offset.patches.time)`` reads as if they were written there.
        """

        def patch() -> None:
            self.patch()

        def unpatch() -> None:
            self.unpatch()

        def is_patched() -> bool:
            return self.is_patched()

        patch.__doc__ = f"Patch {self.what} (a no-op if patched already)."
        unpatch.__doc__ = f"Put back the original {self.what} (a no-op if not patched)."
        is_patched.__doc__ = f"Whether the {self.name} area ({self.what}) is patched."
        for fn in (patch, unpatch, is_patched):
            fn.__module__ = self.module
            fn.__qualname__ = fn.__name__
        return patch, unpatch, is_patched


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


def unpatch_all() -> None:
    """Disable every patch and restore every original, newest first."""
    with _lock:
        for p in reversed(_applied):
            _unapply(p)
        for area in _areas.values():
            for p in area.patches:
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


def get_original(module_name: str | Sequence[str], attr: str | Sequence[str]) -> Any:
    """The original object of ``module_name``'s ``attr``, patched or not.

    offset's twin of ``gevent.monkey.get_original``: where offset patched
    the attribute, the object it replaced; elsewhere whatever the module
    holds. The module is imported if it is not yet (which applies the
    patches waiting for it).

    Args:
        module_name: a module's name ("socket"), or a sequence of names to
            try in turn: the first that imports supplies every ``attr``.
        attr: an attribute's name, dotted to reach into a class
            ("socket.recv" is ``socket.socket.recv``), or a sequence of
            them.

    Returns:
        The original object, or a list of them when ``attr`` is a sequence.

    Raises:
        TypeError: ``module_name`` or ``attr`` is neither a str nor a
            sequence of str.
        ValueError: an empty name or sequence, or a relative module name.
        ImportError: no module of ``module_name`` can be imported (the last
            one's error).
        AttributeError: the module has no such attribute.
    """
    modules = _names(module_name, "module_name")
    attrs = _names(attr, "attr")
    for name in modules:
        if name.startswith("."):
            raise ValueError(f"get_original(): module_name must be an absolute module name, not {name!r}")
    for name in attrs:
        if "" in name.split("."):
            raise ValueError(f"get_original(): attr {name!r} is not an attribute name")
    for i, name in enumerate(modules):
        try:
            module = importlib.import_module(name)
        except ImportError:
            if i == len(modules) - 1:
                raise
            continue
        values = [_original(module, name, a) for a in attrs]
        return values[0] if isinstance(attr, str) else values
    raise InternalError("get_original(): a non-empty list of modules yielded no answer")


def _names(value: Any, argument: str) -> list[str]:
    """``value`` (a str or a sequence of str) as a non-empty list of names."""
    if isinstance(value, str):
        names = [value]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        names = list(value)
        if not names:
            raise ValueError(f"get_original(): {argument} must not be an empty sequence")
    else:
        raise TypeError(
            f"get_original() argument {argument!r} must be str or a sequence of str, not {type(value).__name__}"
        )
    for name in names:
        if not name:
            raise ValueError(f"get_original(): {argument} must not be an empty string")
    return names


def _original(module: ModuleType, name: str, path: str) -> Any:
    """``module``'s ``path`` as it was before patching (or as it is)."""
    with _lock:
        p = _targets.get((name, path))
        if p is not None and p.replacement is not None and sys.modules.get(name) is module:
            return p.original
    value: Any = module
    for part in path.split("."):
        value = getattr(value, part)
    return value
