"""mypyc's per-class options, usable without mypy installed.

The core modules listed in setup.py are compiled by mypyc when offset is
built with a C compiler, and run as plain Python otherwise; their ``.py``
files are the one source. mypyc makes each class a native class (a C
struct with typed slots) unless told otherwise, and a native class cannot:

- subclass a C type other than ``object`` and ``Exception``
  (``WaitQueue(deque)``, ``WeakEntry(weakref.ref)``): the build would lay
  its struct over the base's;
- be weakly referenced (mypyc ignores ``"__weakref__"`` in ``__slots__``);
- be subclassed by a class in an uncompiled module (``Mutex(LockBase)``),
  unless it says ``allow_interpreted_subclasses=True``.

Such classes say ``@mypyc_attr(native_class=False)``: mypyc then builds
them with ``type()`` as Python does, compiling only their methods (the
deque and weakref subclasses, the netpollers in their WeakSet). But a
non-native class's compiled methods accept only that exact class as
``self``, so a class subclassed elsewhere (``LockBase``, ``_time.Timer``)
stays native with ``allow_interpreted_subclasses=True``, and its
subclasses, which are Python classes, name ``"__weakref__"`` instead.
mypy and mypyc read the decorator as ``mypy_extensions.mypyc_attr``; at
run time it is the identity, so mypy_extensions is not a dependency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr as mypyc_attr
else:

    def mypyc_attr(*attrs: Any, **kwattrs: Any) -> Any:
        return lambda cls: cls
