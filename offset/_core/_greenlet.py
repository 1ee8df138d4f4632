"""The substrate goroutines run on: the one module that imports greenlet.

The original offset design ran goroutines on python-fibers behind a class it
called Proc. python-fibers no longer builds on a supported CPython, so a Proc
is now a greenlet; everything else in offset reaches the substrate only through
the names below, so that it could be swapped again.

What the rest of the core relies on:

- ``Proc(run, parent)`` makes a suspended coroutine; ``p.switch(*args)``
  transfers control to it (starting it with ``run(*args)`` the first time) and
  returns whatever the next switch back into the caller passes.
- ``p.throw(exc)`` raises ``exc`` inside a suspended Proc at its switch point.
- A Proc can only be switched to from the OS thread that created it.
- ``getcurrent()`` is the running Proc (or the thread's main greenlet); a Proc
  that runs goroutines carries the goroutine it runs in ``p.goroutine``.
- Each greenlet has its own ``contextvars`` context, swapped on every switch.
- ``ProcExit`` is the BaseException that ends a Proc quietly.
"""

from __future__ import annotations

from typing import Any

# greenlet ships no type information; its names are Any to mypy.
from greenlet import GreenletExit as ProcExit  # type: ignore[import-untyped]
from greenlet import getcurrent as getcurrent
from greenlet import greenlet as _greenlet

__all__ = ["Proc", "ProcExit", "getcurrent", "switch"]

# ``p.switch(*args)`` as a function of the Proc: compiled callers hold it in a
# Final name and skip looking the method up by name on every switch.
switch = _greenlet.switch


class Proc(_greenlet):  # type: ignore[misc]  # greenlet ships no precise stubs for subclassing
    """A greenlet that runs goroutines one after another (Go reuses its Gs)."""

    # The goroutine this Proc runs now, or None while it sits in the free
    # list. A slot, not a __dict__: that would cost every goroutine 120 bytes.
    __slots__ = ("goroutine",)

    def __init__(self, run: Any, parent: Any) -> None:
        super().__init__(run, parent)
        self.goroutine: Any = None
