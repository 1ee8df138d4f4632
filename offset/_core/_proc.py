"""The body of every Proc (a goroutine's greenlet): run goroutines one after another.

What: ``proc_main()`` is what a Proc runs. It calls its goroutine's
function (the first one from ``start_proc``: a Proc is started with no
arguments, whose tuple greenlet would keep while it runs); when that
returns, the Proc takes the next unstarted goroutine right there (no
switch), or parks in the scheduler's free list until it is given one
(``_sched.end_goroutine``).

How: this is the one function of the scheduler that is interpreted even in
the compiled build (offset/_build.py does not list this module). A call
from compiled code into a Python function starts a fresh C-level eval
loop, and greenlet saves the whole C stack of a goroutine while it is
parked: compiled, the goroutine's function would carry that eval loop
frame in every parked goroutine (+0.75 KiB each, measured with
bench_core's parked row). Called from here, the goroutine's function runs
inside this function's eval loop, so its stack holds only the compiled
frames of the operation it waits in. Everything else is in ``_sched``'s
compiled steps, which return before the goroutine's function is called
or after it has returned.

Invariants: ``begin_goroutine``, then ``exit_goroutine`` (stopped) or
``fail_goroutine`` (raised) and ``end_goroutine``, are called in that
protocol, each on the G alone (its Proc is ``g.proc``, this greenlet); the
function's result goes to ``g.value``, where ``end_goroutine`` takes it
(a failed goroutine's is cleared). A goroutine's function is called with a
plain call, ``fn()`` or ``fn(a, b)``, when it has at most three positional
arguments: CPython 3.11+ then runs it in this eval loop too, where
``fn(*args)`` (CALL_FUNCTION_EX) starts a new C-level one, which every
parked goroutine would carry (go(f, c), as users write it: 2,400 bytes of
saved stack per parked goroutine with ``fn(*args)``, 1,600 without: the
floor, a bare greenlet parked in its function, is 1,568).

On 3.12+ greenlet makes a frame object for each Python frame of a
greenlet it switches away from, so every parked goroutine also keeps this
function's frame object (264 bytes on 3.13, 248 on 3.12; tracemalloc).
Its size grows by 8 bytes with each local variable (and each slot of its
value stack), so this function keeps four: the G and three arguments
(224 bytes on 3.13, where eight made 264). The exception is read by
``fail_goroutine``, not bound here; the function, its result and how to
call it are the G's, or what ``begin_goroutine`` returns (a ``match``:
its subject leaves the value stack before a case runs). The arguments'
tuple is unpacked into locals and dropped, so that it is not kept while
the goroutine runs (48 bytes for ``go(f, c)``).

Rejected designs: the loop in ``_sched.py`` itself, or this module
compiled (see How; measured on 3.13, where it drops the frame object: a
parked goroutine saved 2,216 bytes of C stack instead of 1,864 + 264).
"""

from __future__ import annotations

from ._errors import GoroutineExit
from ._sched import G, begin_goroutine, end_goroutine, exit_goroutine, fail_goroutine, start_proc

__all__ = ["proc_main"]


def proc_main() -> None:
    """The body of every Proc: run goroutines one after another."""
    g: G | None = start_proc()
    # Not ``while g is not None``: CPython 3.11 specializes a function's
    # bytecode once it has warmed up, counted at calls and unconditional
    # backward jumps only, and a Proc calls this once; a loop that ends in
    # a conditional jump left it unspecialized for good (a dict lookup for
    # every global, a generic getattr for every field: ~800 instructions
    # a goroutine, callgrind, 3.11).
    while True:
        if g is None:
            return
        try:
            # The function's result is kept in the G's ``value`` until
            # end_goroutine takes it, and the arguments are unpacked from
            # the G, dropping its tuple: no local but g, a, b and c.
            match begin_goroutine(g):
                case 0:
                    g.value = g.fn()  # type: ignore[misc]
                case 1:
                    (a,) = g.args
                    g.args = ()
                    g.value = g.fn(a)  # type: ignore[misc]
                case 2:
                    a, b = g.args
                    g.args = ()
                    g.value = g.fn(a, b)  # type: ignore[misc]
                case 3:
                    a, b, c = g.args
                    g.args = ()
                    g.value = g.fn(a, b, c)  # type: ignore[misc]
                case _:  # keywords, or more than three arguments (a dict then, see begin_goroutine)
                    g.value = g.fn(*g.args, **g.kwargs)  # type: ignore[arg-type, misc]
        except GoroutineExit:
            exit_goroutine(g)
            return
        except BaseException:
            fail_goroutine(g)
        g = end_goroutine(g)
