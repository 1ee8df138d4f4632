"""Plugins: code that fits one library to offset, run when that library is imported.

What: the patch layer covers the standard library. A third-party library
that waits in its own C code (psycopg polls its socket in C; a driver may
call ``poll(2)`` itself) blocks the whole scheduler's thread even when the
standard library is patched. A *plugin* fixes one such library: a function
called with the library's module once it is imported, which replaces what
needs replacing (psycopg's wait functions, for ``offset.plugins.psycopg``).

The hook. ``install()`` (which ``offset.patch_all()`` calls) registers, for
each known plugin, a wrapt post-import hook on its target module
(``wrapt.register_post_import_hook``, the mechanism offset.patches uses for
modules imported after patching). The plugin runs when the target is
imported, or at once if it already is, and once only: a second
``install()`` does nothing more. ``uninstall()`` (``unpatch_all()``)
undoes every plugin that ran, newest first, and stops the hooks of those
that did not run yet; a later ``install()`` starts over.

Where plugins come from:

- the built-in ones, listed in ``BUILTIN`` below, so that they work from a
  source checkout that was never (re)installed;
- the ``offset.plugins`` entry-point group, so that any distribution can
  add one without touching offset. The entry point's *name* is the target
  module, its *value* the plugin function::

      [project.entry-points."offset.plugins"]
      psycopg = "offset.plugins.psycopg:apply"

  offset registers its own built-in plugins there too; a plugin listed in
  both places runs once (plugins are told apart by (target, function)).
  A plugin's own module is imported only when its target is.

A plugin function is called with the target module. It returns None, or a
callable that undoes what it did (``uninstall()`` calls it). It should
leave the library as it was everywhere but in goroutines: the rule of every
patched callable is that it cooperates only when called from a goroutine
while its scheduler runs, and is the original anywhere else.

A failing plugin. A plugin that cannot be loaded, or raises, does not stop
the import of its target: the library still works, but waits as it did
without offset (it blocks the thread). offset says so with a
``PluginWarning`` that names the plugin, the module and the exception, with
its traceback. Turn that warning into an error (``-W
error::offset.plugins.PluginWarning``, or ``warnings.simplefilter``) to make
the import itself fail instead. A warning rather than an exception, because
a plugin is an optimisation: failing the program's ``import psycopg`` over
it would turn a slower program into a broken one.

Locking: the plugin table is guarded by one lock; a plugin function is
called outside it (it may import modules, and imports in other threads may
fire hooks meanwhile). A plugin claimed by one thread is not run by
another.

Rejected: ``wrapt.discover_post_import_hooks(group)``, which loads every
entry point at once (importing each plugin's module before its target is
imported), cannot be undone, and lets an exception in a plugin fail the
import.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
import traceback
import warnings
from collections.abc import Callable
from types import ModuleType

import wrapt

__all__ = ["BUILTIN", "GROUP", "PluginWarning", "install", "uninstall", "is_installed", "plugins"]

GROUP = "offset.plugins"

# Plugins shipped with offset: (target module, "package.module:function").
BUILTIN: tuple[tuple[str, str], ...] = (("psycopg", "offset.plugins.psycopg:apply"),)


class PluginWarning(RuntimeWarning):
    """A plugin could not be loaded or failed; its library runs without it."""


PluginWarning.__module__ = "offset.plugins"

Undo = Callable[[], object]

_PENDING = 0  # hooked, target not imported yet
_RUNNING = 1  # claimed by the thread that runs it
_APPLIED = 2  # ran; ``undo`` undoes it (None: nothing to undo)
_FAILED = 3  # could not be loaded, or raised; warned about


class _Plugin:
    """One (target, function) pair and where it stands."""

    __slots__ = ("target", "ref", "state", "undo", "active")

    def __init__(self, target: str, ref: str) -> None:
        self.target = target
        self.ref = ref
        self.state = _PENDING
        self.undo: Undo | None = None
        # False once uninstall() ran: wrapt cannot take a hook back, so the
        # hook checks this and does nothing.
        self.active = True

    def __repr__(self) -> str:
        return f"<offset plugin {self.target} -> {self.ref}>"


_lock = threading.RLock()
_installed = False
_plugins: list[_Plugin] = []  # in the order install() found them
_applied: list[_Plugin] = []  # in the order they ran; uninstall walks it backwards


def _discover() -> list[tuple[str, str]]:
    """Every (target, ref): the built-in ones, then the entry points."""
    found = list(BUILTIN)
    try:
        for ep in importlib.metadata.entry_points(group=GROUP):
            found.append((ep.name, ep.value))
    except Exception as e:  # noqa: BLE001 - broken metadata must not stop patching
        _warn(f"offset could not read the {GROUP!r} entry points: {type(e).__name__}: {e}")
    unique: list[tuple[str, str]] = []
    for pair in found:
        if pair not in unique:
            unique.append(pair)
    return unique


def _warn(message: str) -> None:
    warnings.warn(message, PluginWarning, stacklevel=2)


def _load(ref: str) -> Callable[[ModuleType], object]:
    """The function named by "package.module:function" (dots after the colon
    walk attributes, as in entry points)."""
    module_name, sep, attrs = ref.partition(":")
    if not sep or not module_name or not attrs:
        raise ValueError(f"a plugin must be named 'package.module:function', not {ref!r}")
    obj: object = importlib.import_module(module_name.strip())
    for attr in attrs.strip().split("."):
        obj = getattr(obj, attr)
    if not callable(obj):
        raise TypeError(f"{ref} is not callable: {obj!r}")
    return obj


def _run(plugin: _Plugin, module: ModuleType) -> None:
    """The post-import hook: run ``plugin`` on its freshly imported target."""
    with _lock:
        if not plugin.active or plugin.state != _PENDING:
            return
        plugin.state = _RUNNING
    try:
        fn = _load(plugin.ref)
        undo = fn(module)
        if undo is not None and not callable(undo):
            raise TypeError(f"a plugin returns None or a callable that undoes it, not {undo!r}")
    except Exception as e:  # noqa: BLE001 - reported below, see the module docstring
        with _lock:
            plugin.state = _FAILED
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        _warn(
            f"offset plugin {plugin.ref} for {plugin.target!r} failed, so {plugin.target} waits "
            f"without offset (blocking the thread): {type(e).__name__}: {e}\n{tb}"
        )
        return
    with _lock:
        plugin.undo = undo
        plugin.state = _APPLIED
        still_wanted = plugin.active
        if still_wanted:
            _applied.append(plugin)
    if not still_wanted:  # uninstall() ran meanwhile: it is this thread's to undo
        _undo(plugin)


def _hook(plugin: _Plugin) -> Callable[[ModuleType], None]:
    def hook(module: ModuleType) -> None:
        _run(plugin, module)

    return hook


def _undo(plugin: _Plugin) -> None:
    undo = plugin.undo
    plugin.undo = None
    if undo is not None:
        undo()


def install() -> None:
    """Run every plugin when its target is imported (at once if it is).

    Plugins come from ``BUILTIN`` and the ``offset.plugins`` entry points.
    Idempotent: while installed, a second call does nothing. A plugin that
    fails gives a ``PluginWarning`` (see the module docstring).
    """
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        new = [_Plugin(target, ref) for target, ref in _discover()]
        _plugins[:] = new
    for plugin in new:
        # Outside the lock: an imported target runs the hook right here.
        wrapt.register_post_import_hook(_hook(plugin), plugin.target)


def uninstall() -> None:
    """Undo every plugin that ran, newest first; stop the others' hooks.

    Idempotent: when not installed it does nothing. A plugin another thread
    is running at this moment is undone by that thread when it finishes.
    """
    global _installed
    with _lock:
        if not _installed:
            return
        _installed = False
        for plugin in _plugins:
            plugin.active = False
        applied = _applied[:]
        del _applied[:]
        del _plugins[:]
    for plugin in reversed(applied):
        _undo(plugin)


def is_installed() -> bool:
    """Whether ``install()`` is in effect."""
    return _installed


def plugins() -> list[tuple[str, str, str]]:
    """(target, function, state) for each plugin of the current install:
    state is "pending", "running", "applied" or "failed"."""
    names = {_PENDING: "pending", _RUNNING: "running", _APPLIED: "applied", _FAILED: "failed"}
    with _lock:
        return [(p.target, p.ref, names[p.state]) for p in _plugins]
