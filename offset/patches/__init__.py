"""offset's patch layer: unmodified blocking code runs concurrently.

Call ``offset.patch_all()`` first thing in the program, on the main thread,
before other modules are imported and before other threads start (or run
the program with ``python -m offset script.py``, which does that):

- *first thing*, because a module that did ``from time import sleep`` or
  ``from socket import getaddrinfo`` before patching keeps the original
  under its own name, where no patch can reach it (offset warns about each
  such name it finds, with a ``PatchWarning``);
- *on the main thread, before other threads start*, because patching
  replaces attributes of shared modules while other threads may be in the
  middle of calling them.

Patching is cheap to get wrong in the other order and harmless to repeat:
patching twice is a no-op, unpatching what is not patched is a no-op, and a
module that is not imported yet is patched when it is imported.

The originals stay within reach: ``get_original("time", "sleep")`` is the
``time.sleep`` that offset replaced (the same object, patched or not), for
code that means to block its thread. It is the twin of gevent's
``gevent.monkey.get_original``: a name or a list of names (a list of
originals back), a module name or a list of them to try in turn, and a
dotted name for a method (``get_original("socket", "socket.recv")``).

The rule every patched callable follows: it cooperates (parks only the
calling goroutine, letting the others run) only when called from a
goroutine while that goroutine's scheduler runs. Called from a plain
thread, before ``run()``, or after ``unpatch_all()``, it is the original,
with no difference a program can see. What a program can observe is the
stdlib's behaviour to the letter: the same return values, the same
exceptions (``socket.timeout``/``TimeoutError`` at the socket's timeout,
``BlockingIOError`` on a socket the program made non-blocking, never an
``InterruptedError``), and the blocking and timeout settings the program
made (``settimeout``, ``setblocking``, ``setdefaulttimeout``).

Areas, one module each (each with ``patch()``, ``unpatch()`` and
``is_patched()``):

========== ===============================================================
time       ``time.sleep``: a scheduler timer; ``sleep(0)`` yields
socket     socket I/O methods: recv*, send*, sendall, accept, connect,
           connect_ex, sendfile; close wakes goroutines waiting on it
dns        getaddrinfo, gethostbyname(_ex), gethostbyaddr, getnameinfo on
           the thread pool
select     select.select, select.poll, select.epoll through the netpoller
selectors  every selector class's select() through the netpoller
signal     signal.signal, signal.getsignal: a Python handler's exception
           reaches the main goroutine where it waits, never the middle of
           offset's own code
threading  Lock, RLock (and _thread's allocate_lock, LockType, RLock):
           offset's locks on the core's wait queue, so Condition, Event,
           Semaphore, BoundedSemaphore, Barrier, Timer, queue.Queue and
           concurrent.futures' waits park only the goroutine; RLock owned
           per goroutine; Thread.join polls with a timer; logging's locks
           swapped (locks made before patching otherwise stay C)
queue      queue.SimpleQueue: get parks the goroutine (Queue, LifoQueue and
           PriorityQueue follow from threading)
ssl        ssl.SSLSocket's do_handshake, read, write, send, unwrap (so the
           handshakes of connect/accept, recv*, sendall, sendfile): the
           netpoller, with the C code's own timeout errors; SSLObject left
           alone (memory BIOs never wait)
os         os.read, write, pread, pwrite, readv, writev (RWF_NOWAIT in the
           goroutine when the page cache has it, else the pool for disks
           and the netpoller for pipes), fsync, fdatasync (the pool),
           open() (a cooperating FileIO under the C buffered and text
           layers), waitpid, wait, wait3, wait4, waitid (a pidfd)
subprocess Popen._wait, under wait, communicate, run, call, check_output,
           getoutput, os.popen: a pidfd in the netpoller
========== ===============================================================

Each area module declares its patches on one ``Area`` object
(``_registry.py``), which records every original and gives the module its
``patch``, ``unpatch`` and ``is_patched``; the area module holds only what
is particular to its stdlib module. What several areas share is written
once: the deadline-and-retry loop of every wait with a timeout
(``_deadline.py``) and the check for a host the C code answers without a
lookup (``_hostname.py``).

fork is not an area: the core gives the child of ``os.fork()`` a runtime
of its own, with or without patching (see offset/_core/_sched.py).
"""

from __future__ import annotations

from . import dns as dns
from . import os as os
from . import queue as queue
from . import select as select
from . import selectors as selectors
from . import signal as signal
from . import socket as socket
from . import ssl as ssl
from . import subprocess as subprocess
from . import threading as threading
from . import time as time
from ._registry import Area as _Area
from ._registry import PatchWarning as PatchWarning
from ._registry import get_original as get_original
from ._registry import unpatch_all as _unpatch_all

__all__ = [
    "patch_all",
    "unpatch_all",
    "is_patched",
    "get_original",
    "PatchWarning",
    "dns",
    "os",
    "queue",
    "select",
    "selectors",
    "signal",
    "socket",
    "ssl",
    "subprocess",
    "threading",
    "time",
]

# The order patch_all applies areas in; unpatch_all undoes them in reverse.
# The areas replace disjoint attributes and none calls through another's
# replacement (socket's connect resolves names with _socket.getaddrinfo on
# the pool, not with the dns area's socket.getaddrinfo; selectors keep the
# select originals they were made with), so no order is needed for
# correctness. It is fixed so that every program patches and unpatches in
# the same order, which keeps PatchWarnings and tracebacks reproducible.
_ORDER: tuple[_Area, ...] = (
    time.AREA,
    socket.AREA,
    dns.AREA,
    select.AREA,
    selectors.AREA,
    signal.AREA,
    threading.AREA,
    queue.AREA,
    ssl.AREA,
    os.AREA,
    subprocess.AREA,
)
_BY_NAME = {area.name: area for area in _ORDER}
# The areas' names, in that order: patch_all's keywords.
AREAS = tuple(_BY_NAME)


def patch_all(**areas: bool) -> None:
    """Patch every area, except those named with False.

    ``patch_all()`` patches everything; ``patch_all(dns=False)`` everything
    but name resolution. Call it first thing, on the main thread, before
    other threads start (see the module's docstring). Patching twice is a
    no-op.

    Args:
        **areas: an area's name and whether to patch it. Areas:
            time, socket, dns, select, selectors, signal, threading, queue,
            ssl, os, subprocess.

    Raises:
        TypeError: an argument names no area.
    """
    for name, _wanted in areas.items():
        if name not in AREAS:
            raise TypeError(
                f"patch_all() got an unexpected keyword argument {name!r}; the areas are: {', '.join(AREAS)}"
            )
    for area in _ORDER:
        if areas.get(area.name, True):
            area.patch()
    # Libraries that wait in their own C code (psycopg), fitted when imported.
    from .. import plugins

    plugins.install()


def unpatch_all() -> None:
    """Undo every patch, newest first, restoring the original objects.

    What was patched gets back the very object it had before (identity, not
    a copy). Unpatching what is not patched is a no-op.
    """
    from .. import plugins

    plugins.uninstall()
    _unpatch_all()


def is_patched(name: str) -> bool:
    """Whether area ``name`` ("socket", "time", ...) is patched.

    Raises:
        ValueError: ``name`` is not an area.
    """
    area = _BY_NAME.get(name) if isinstance(name, str) else None
    if area is None:
        raise ValueError(f"is_patched(): no area {name!r}; the areas are: {', '.join(AREAS)}")
    return area.is_patched()
