"""Go's sync package for goroutines and threads alike.

``Mutex``, ``RWMutex``, ``WaitGroup``, ``Once`` (and Go 1.21's
``once_func``, ``once_value``, ``once_values``), ``Cond`` and a weighted
``Semaphore`` (golang.org/x/sync/semaphore's), plus ``offset.sync.atomic``.
Every one of them may be shared by goroutines of any scheduler and plain
threads: a goroutine that waits parks (its scheduler runs the others), a
plain thread that waits blocks only itself. Misuse that Go panics on
raises ``offset.PanicError`` with Go's words.

How they wait: each keeps its own queue of waiters under the core's
``chanlock`` and parks them with the core's park/ready protocol, as
channels do (see offset/_core/_chan.py); the details and invariants are at
the top of ``_mutex.py`` and ``_wait.py``.
"""

from __future__ import annotations

from . import atomic as atomic
from ._mutex import Locker as Locker
from ._mutex import Mutex as Mutex
from ._mutex import RWMutex as RWMutex
from ._wait import Cond as Cond
from ._wait import Once as Once
from ._wait import Semaphore as Semaphore
from ._wait import WaitGroup as WaitGroup
from ._wait import once_func as once_func
from ._wait import once_value as once_value
from ._wait import once_values as once_values

__all__ = [
    "Locker",
    "Mutex",
    "RWMutex",
    "WaitGroup",
    "Once",
    "once_func",
    "once_value",
    "once_values",
    "Cond",
    "Semaphore",
    "atomic",
]

for _obj in (Locker, Mutex, RWMutex, WaitGroup, Once, once_func, once_value, once_values, Cond, Semaphore):
    _obj.__module__ = "offset.sync"
del _obj
