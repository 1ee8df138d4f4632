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
- ``getcurrent()`` is the running Proc (or the thread's main greenlet); the
  goroutine a Proc runs is ``_sched.goroutine_of(p)``.
- Each greenlet has its own ``contextvars`` context, swapped on every switch.
- ``ProcExit`` is the BaseException that ends a Proc quietly.
"""

from __future__ import annotations

from typing import TypeAlias

# greenlet ships no type information; its names are Any to mypy.
from greenlet import GreenletExit as ProcExit  # type: ignore[import-untyped]
from greenlet import getcurrent as getcurrent
from greenlet import greenlet as _greenlet

__all__ = ["Proc", "ProcExit", "getcurrent", "switch"]

# ``p.switch(*args)`` as a function of the Proc: compiled callers hold it in a
# Final name and skip looking the method up by name on every switch.
switch = _greenlet.switch


# A Proc is a plain greenlet, ``Proc(run, parent)``. Not a subclass (as it
# was, with a ``goroutine`` slot): greenlet checks the type of every greenlet
# it switches, about a dozen times a switch, and for a subclass each check
# walks the MRO (PyType_IsSubtype): ~860 instructions of a ping-pong round
# trip's ~8,450 (3.11, compiled, callgrind). Which goroutine a Proc runs is
# in _sched's table instead (``goroutine_of``).
Proc: TypeAlias = _greenlet
