"""The scheduler: goroutines, the run queue, park/ready, and the idle wait.

What: Go's G/P/M model for a GIL-bound Python (see the 2013 talk). Each OS
thread that calls ``run()`` owns one ``Scheduler`` (Go's P): a FIFO run
queue of goroutines (Gs), a timer heap, a netpoller and a queue for wake-ups
that arrive from other threads. Goroutines run on Procs (greenlets), which
are reused from one goroutine to the next as Go reuses its G structures:
a fresh greenlet costs 10-13 us (mostly the kernel mapping a stack chunk), a
reused one about 1 us.

Run order is Go's: a goroutine made runnable (by ``go`` or by a wake-up in
this thread) takes the ``runnext`` slot and runs next, pushing the previous
holder to the tail of the FIFO run queue, so a goroutine and the one it just
woke run back to back (Go: runqput with next=true). Because two goroutines
waking each other would keep ``runnext`` forever, every visit to the loop
moves ``runnext`` to the tail first, so the queue's head runs at least every
64 switches.

Control flow. ``run()`` turns the calling greenlet into the scheduler's
*loop* (Go's g0). A goroutine that parks does not go back to the loop: it
switches straight to the next runnable goroutine (``_switch_away``), so a
hand-off on an unbuffered channel costs one greenlet switch each way. The
loop is visited when the run queue is empty, and on every 64th switch so
that timers, I/O and other threads' wake-ups are not starved by goroutines
that keep each other busy (Go checks its global queue every 61 ticks for
the same reason). A goroutine that finishes runs the next *unstarted*
goroutine on its own Proc without any switch at all.

Invariants:
- A G is in at most one of: the run queue, the remote queue, parked (in
  some waiter that will ready it exactly once), running.
- ``g.proc is None and g.fn is not None``: not started yet.
  ``g.proc is not None``: started (or given a Proc to start on) and
  alive; in the goroutine table once its Proc runs it.
  ``g.proc is None and g.fn is None``: finished or killed; a stale ready of
  such a G (a thread-pool call that completed after its goroutine was
  stopped) is ignored when it is dequeued.
- The goroutine table (``_goroutines``: Proc -> G, one for every thread)
  holds every started, unfinished G, in start order; ``live`` is this
  scheduler's part of it, which deadlock reports, dumps and shutdown walk,
  and ``nlive`` its size.
- The run queue, timers, ``nlive`` and this scheduler's entries of the
  goroutine table are touched only by the owning thread.
  Other threads append to ``remote`` / ``remote_calls`` (deque.append is
  atomic under the GIL) and then wake the netpoller if ``sleeping``; the
  owner sets ``sleeping`` *before* its last look at those queues, so under
  the GIL's sequential consistency one side always sees the other and no
  wake-up is lost.

Signals. Python runs a signal handler in the main thread, at the next
bytecode boundary of whatever runs there, and its exception comes out of
that code; a handler that returns lets an interrupted system call carry on
with what is left of its timeout (PEP 475). Under a scheduler the main
thread runs offset's own bookkeeping and many goroutines, so offset places
handlers itself (the signal patch area installs ``call_signal_handler``
around every Python handler):

- Interrupting the program's own code in the main goroutine, the handler
  runs right there, as in plain Python.
- Interrupting another goroutine's code, it runs there too, and what it
  raises is posted to the main goroutine (``interrupt``), not to the
  goroutine that happened to run.
- Interrupting offset's code (the loop, its idle ``epoll_wait``, a
  channel operation half done), it is *deferred*: queued on ``signals``,
  with a netpoller wake-up so that an epoll_wait that PEP 475 would
  restart returns, and run from the loop as a goroutine of its own. An
  exception it raises is posted to the main goroutine. So no handler ever
  raises in the middle of offset's bookkeeping (between taking a wake-up
  off a queue and acting on it, with a lock held), where it would lose a
  wake-up for good.

A posted exception is *delivered* by the loop: thrown into the main
goroutine at its park, where every park site withdraws its waiter (the
park protocol), so that the blocking call it made (recv, a channel
receive, sleep, select) raises it, as the interrupted call does in plain
Python. Main runnable (its wake-up came) gets it all the same, where it
stopped, as Python raises at the next bytecode: the park site counts the
queued wake-up as stale (G.park). A thread-pool call main waits in is
given up, its result dropped when it comes (_syscall.py). If main
finishes first, run() raises it. Without the signal patch
(a bare ``offset.run()``), a handler raises wherever it interrupted; one
that escapes the loop is recognised (KeyboardInterrupt, or a traceback
through code that is not offset's) and posted to main the same way, but
one that lands in offset's code in a goroutine is not safe.

Lifecycle. When the outermost ``run()`` of a thread returns, by any path
(main returned, an exception, a deadlock), its scheduler lets go of what
the run acquired: ``_release`` closes the netpoller (its epoll fd and
wake-up fd) and ends the free Procs, whose suspended frames refer to the
scheduler (greenlets of a thread that has ended can never be resumed or
collected, so they would keep it and their stacks for good). What stays
is the ``Scheduler`` object in the thread's ``_local``, small, for a
later ``run()`` in the same thread (which makes a netpoller again at its
first wait) and for what ``go()``/``call_threadsafe`` queue before it; it
goes with the thread. Nothing else keeps the scheduler of a finished
run: no signal or wake-up registration (signals reach channels through
_signal.py's one thread), and the one registry, ``schedulers``, holds a
scheduler only while its outermost ``run()`` runs (put there when the run
starts, taken out as it ends, before ``_release``), so that diagnostics
(offset.dump, offset.stats, the blocking monitor) find every running
scheduler from any thread. Other threads may still hold the scheduler (a
parked G's ``sched``) and wake it: they call ``poller.wakeup()`` only
while ``sleeping``, which is False once run() has returned, and one that
saw it True just before gets the closed backend, whose ``wakeup`` does
nothing (its lock orders it against ``close``), or ``NO_NETPOLL``; it
never writes to a released fd nor makes a netpoller for the finished run.
After fork, the child's backends are closed (_netpoll.py) and its
scheduler makes a new one.

Out of fds. A netpoller takes two fds, made at the run's first wait; a
process whose fd table is full then (EMFILE) cannot have one, where the
stdlib's sleep, recv or lock wait needs no new fd. So a scheduler without
one keeps going (``poller_or_none``): its idle wait sleeps in slices of
``_NO_NETPOLL_SLICE``, looking for other threads' wake-ups in between (they
find ``NO_NETPOLL`` and write nothing), and fd waits go to the thread
pool (_io.py). Each later wait tries to make the netpoller again, and the
first that can, keeps it. Rejected: making the netpoller when run()
starts (run() itself would then fail with EMFILE, and every run() would
pay for fds it may never use); raising EMFILE from the wait (the stdlib's
call does not).

Chaos scheduling (``OFFSET_SHUFFLE=<seed>``, read once when offset is
imported). The order above is one valid order among many: nothing in the
API promises that of two runnable goroutines one runs first, and code that
relies on it breaks under another load, another version, or Go. With a seed
set, every pick of the next goroutine (``_switch_away``, ``_resume_next``
and a finished Proc's ``end_goroutine``) is uniform among everything
runnable, ``runnext`` being one more candidate (``_shuffle_head``); the
netpoller delivers the events of one poll in random order; and the timers
due at one visit of the loop fire in random order (_timers.py). Each
scheduler has its own ``random.Random`` (``rng``), used only by its own
thread, seeded from the seed and the scheduler's creation order (the main
thread's is always number 0) and seeded again when its outermost ``run()``
starts, as ``ticks`` is reset: so one seed replays the same choices in a
single-threaded program, run after run, and a failing test run alone.
What stays ordered is what the API promises: a channel's waiters are
served FIFO, a buffered channel keeps order (_chan.py does not consult the
scheduler), and deferred signal handlers still run before the goroutines
that were runnable (``pinned``: Python runs a handler at once). select's
own random choice comes from the ``random`` module, not from ``rng``: seed
that too (``random.seed``) to replay a program that selects among several
ready cases. Off, it costs one test of a ``Final`` bool per pick, a C
static in the compiled build.

Rejected, for chaos scheduling:
- trio's way, shuffling a batch (the whole run queue) at each pass of the
  loop: goroutines here mostly hand over directly (``_switch_away``), so
  most picks never see a batch, and ``runnext`` would still decide them.
- Inserting a readied goroutine at a random place in the run queue: not
  uniform among what is runnable, and every enqueue site (ready, go,
  gosched, the remote queue) would need it, where picks are three sites.
- A ``Scheduler`` subclass overriding the picking methods: a second copy
  of the switch code to keep in step, for a cost the bool test does not
  have (measured in the README's "Chaos scheduling").

Rejected designs:
- A hub greenlet that every switch goes through (gevent): two switches per
  hand-off instead of one.
- A fresh greenlet per goroutine: spawn cost is dominated by the kernel.
- Waking a goroutine from another thread by switching to it: a greenlet can
  only be switched to from its own thread, hence the remote queue.
"""

from __future__ import annotations

import contextvars
import errno
import os
import random
import sys
import threading
import time as _time
from _thread import _count as _thread_count
from _thread import allocate_lock as _allocate_lock
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from .. import _build, _config
from ._errors import DeadlockError, GoroutineExit, InternalError
from ._greenlet import Proc, getcurrent
from ._greenlet import switch as _greenlet_switch
from ._netpoll import NO_NETPOLL, Netpoll, make_netpoll
from ._timers import TimerEntry, TimerHeap
from ._waitreason import GOSCHED, RUN, SLEEP

if TYPE_CHECKING:
    from ._chan import SelectState, Waiter

__all__ = [
    "ChanWaiter",
    "G",
    "Scheduler",
    "ThreadParker",
    "call_signal_handler",
    "current_goroutine",
    "goroutine_of",
    "current_parker",
    "current_scheduler",
    "go",
    "gosched",
    "maintask",
    "offset_thread_idents",
    "run",
    "schedulers",
    "sleep_ns",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

# Final: compiled, a module-level name read on a hot path is a C static
# when Final, and a lookup in the module's dict when not.
_get_ident: Final = threading.get_ident
_monotonic_ns: Final = _time.monotonic_ns
_switch: Final = _greenlet_switch  # p.switch(), without the lookup by name (_greenlet.py)
_new_proc_greenlet: Final = Proc
_getcurrent: Final = getcurrent

# Procs kept for reuse per scheduler. Past this, a finished Proc ends, so a
# burst of 100,000 goroutines does not pin 100,000 stacks forever.
_MAX_FREE_PROCS: Final = 4096
# Every this many direct switches, go through the loop (timers, I/O, remote).
_LOOP_EVERY: Final = 64
_LOOP_MASK: Final = _LOOP_EVERY - 1  # a power of two, so ticks & mask is ticks % every
# Chaos scheduling (see the module docstring): the seed, and whether it is on.
SHUFFLE_SEED: Final = _config.shuffle_seed()
_SHUFFLE: Final = SHUFFLE_SEED is not None
# Schedulers made so far in threads other than the main one (the main
# thread's is number 0): each seeds its random source with its number.
_scheduler_numbers = iter(range(1, sys.maxsize))
# The idle waits, in seconds, before a deadlock is called (see _idle_wait).
_DEADLOCK_GRACE = (0.01, 0.03, 0.06)
# Out of fds, a netpoller cannot be made (see Scheduler.poller_or_none): the
# errors that say so, and the longest the idle wait then sleeps at a time.
_NO_FDS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM})
_NO_NETPOLL_SLICE: Final = 0.01
_real_sleep: Final = _time.sleep  # bound before the time area can patch it
# Files inside offset whose frames a deadlock report skips to find the user's line.
# From _build (pure): a compiled module's own __file__ can name a path that
# does not exist ("offset/offset/_core/..." on 3.12), and then offset's code
# was not known as offset's (signal handlers ran inside its bookkeeping).
_PKG_DIR = _build._HERE
_PKG_PREFIX = _PKG_DIR + os.sep
# What a traceback entry of a compiled module (mypyc) names as its file:
# the path the build was given, relative ("offset/_core/_sched.py").
_COMPILED_FILES: Final = frozenset(m.replace(".", "/") + ".py" for m in _build.MODULES)


def _is_offset_file(filename: str) -> bool:
    """Whether a frame or traceback entry of ``filename`` is offset's own code."""
    return filename.startswith(_PKG_PREFIX) or filename in _COMPILED_FILES


# Threads offset started itself (the thread pool); they do not count as
# "another thread that could wake a goroutine" for deadlock detection.
offset_thread_idents: set[int] = set()

# The schedulers whose outermost run() is running, by their thread's ident
# (see "Lifecycle"): what offset.dump, offset.stats and the monitor walk.
# Written only by the owner thread (a dict store is atomic under the GIL);
# readers in other threads copy it first.
schedulers: dict[int, Scheduler] = {}

# The goroutine each Proc runs, while it runs one (from begin_goroutine to
# exit_goroutine or end_goroutine): what current_goroutine reads, by the
# running greenlet. One table for every thread (a dict operation is atomic
# under the GIL), so that current_goroutine does not need the thread's
# scheduler first; a Proc is a plain greenlet, which carries nothing of its
# own (_greenlet.py says why). It is also every scheduler's list of its
# live goroutines (``Scheduler.live``): a second table per scheduler, as
# there was, cost ~50 bytes a goroutine (a dict entry, at 100,000).
_goroutines: Final[dict[Proc, G]] = {}
# ``goroutine_of(p)``, ``goroutine_of(p, default)``: for the patches.
goroutine_of: Final = _goroutines.get

# Its __next__, bound: compiled, next() on it looked up builtins.next each call.
_next_goroutine_id: Final = iter(range(1, sys.maxsize)).__next__


class ChanWaiter:
    """What sits in a channel's waiter queue (Go's sudog): a G or a
    ThreadParker waiting for itself in a plain send or receive, or one case
    of a select (``_chan.Waiter``, which adds the select's state: a waker
    claims it through its ``sel``). Wakers hand over ``value`` and ``ok``
    and ``ready()`` it.

    One base class rather than a Protocol, so that the compiled build reads
    these four fields at fixed offsets of one C struct and calls ``ready``
    and ``park`` through its vtable; through a Protocol every access was a
    generic attribute lookup (a select's Waiter lives in _chan.py, the
    others here). ``park`` is declared here so that a channel's park
    (``_chan._park``) calls it on either kind with no test of which:
    interpreted, a test of the type before the call was 6 bytecodes a park.
    ``next`` and ``prev`` link it into one channel's ``WaitQ`` (_chan.py),
    Go's sudog links: a waiter is in at most one queue at a time, so the
    queue needs no node of its own and leaves in O(1).
    Never made itself: each subclass sets the four fields in ``__init__``.
    The select's fields are the Waiter's alone: on every G they were two
    more words, always None (176 -> 160 bytes a goroutine).
    """

    __slots__ = ("value", "ok", "next", "prev")

    value: Any
    ok: bool
    next: ChanWaiter | None
    prev: ChanWaiter | None

    def park(self, reason: str) -> None:
        """Block until ``ready()``: G.park and ThreadParker.park.

        The overrides keep this signature exactly: compiled, one that
        differed (another return type, one more parameter) is called
        through a glue function, one more C frame in the saved stack of
        every goroutine parked on a channel (16 bytes on 3.13).
        """
        raise InternalError(f"{type(self).__name__}.park is not overridden")  # pragma: no cover

    def ready(self) -> None:
        raise InternalError(f"{type(self).__name__}.ready is not overridden")  # pragma: no cover


class G(ChanWaiter):
    """A goroutine: the function to run and where it stands.

    A G is also its own waiter for a plain channel send or receive (``value``
    and ``ok`` carry what was sent or received), which saves allocating a
    Waiter on the hottest path; a select, which waits on many channels at
    once, uses one Waiter per case instead (Go: sudog).
    """

    __slots__ = (
        "fn",
        "args",
        "kwargs",
        "ctx",
        "proc",
        "sched",
        "reason",
        "id",
        "since",
        "selcache",
        "stale",
        "__weakref__",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        sched: Scheduler,
    ) -> None:
        self.fn: Callable[..., Any] | None = fn
        self.args = args
        # None rather than the empty dict go() was called with: 64 bytes a
        # goroutine, kept for as long as it lives.
        self.kwargs: dict[str, Any] | None = kwargs or None
        # The caller's context, copied; None when it is empty (most programs
        # set no context variable): the goroutine then starts in an empty
        # one that CPython makes only if it sets a variable, which a copy
        # of an empty context is too. A copy costs 64 bytes a goroutine.
        ctx = _getcurrent().gr_context  # the running greenlet's: the context itself, not a copy
        self.ctx: contextvars.Context | None = ctx.copy() if ctx else None
        self.proc: Proc | None = None
        self.sched = sched
        self.reason = ""  # Go's wait reason while parked ("chan receive", ...)
        self.id = _next_goroutine_id()
        # When it last parked, on the scheduler's coarse clock (``now``):
        # for how long it waits, in dumps. Meaningful only while parked.
        self.since = 0
        self.value = None
        self.ok = False
        self.next = self.prev = None
        # (SelectState, [Waiter]) reused by this goroutine's blocking selects.
        self.selcache: tuple[SelectState, list[Waiter]] | None = None
        # Wake-ups owed to waits this goroutine gave up after a waker had
        # already taken it off the queue (see park): each one, when it
        # comes, resumes nothing.
        self.stale = 0

    def ready(self) -> None:
        """Make this parked goroutine runnable; safe from any thread."""
        s = self.sched
        if _get_ident() == s.ident:
            prev = s.runnext
            s.runnext = self
            if prev is not None:
                s.runq.append(prev)
        else:
            s.remote.append(self)
            if s.sleeping:
                s.poller.wakeup()

    def park(self, reason: str) -> None:
        """Block the calling goroutine (which must be ``self``) until ready().

        The protocol, for every blocking primitive in offset:

        1. Publish a waiter that holds this G where the waker will find it
           (a channel queue, a timer, the netpoller, a future's callback),
           and release any lock.
        2. Call ``park(reason)``. The goroutine stops; others run.
        3. Exactly one ``ready()`` later makes it runnable, and park returns.
           A ready() that lands before step 2 (a waker in this thread, or a
           callback that ran at once) is fine: the G is queued and park
           returns at its turn.

        Pitfalls: park may instead raise ``GoroutineExit`` (the goroutine is
        being stopped) or, in the main goroutine, an interrupt (what a
        signal handler raised, KeyboardInterrupt); the caller must then
        withdraw its waiter. If a waker had already taken the waiter, or
        its timer or fd fired (its ready() is on its way, or already queued
        this G), the caller adds one to ``stale``: a later park treats that
        many resumptions as spurious and parks again, so the late ready()
        cannot end a wait it does not belong to (a ready for a dead G is
        ignored anyway). Every park site in offset does this.
        ``_core/_sema.py``'s WaitQueue does all of this for its waiters.
        Never park while holding a lock another goroutine of this thread
        needs.
        """
        self.reason = reason
        s = self.sched
        self.since = s.now
        s._switch_away()
        while self.stale:
            # Wake-ups are interchangeable: whichever came first, one of
            # them belongs to a wait given up earlier.
            self.stale -= 1
            s._switch_away()

    def describe(self) -> str:
        """``name [reason]:\\n    at file:line`` for deadlock reports."""
        fn = self.fn
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
        where = ""
        proc = self.proc
        frame = proc.gr_frame if proc is not None else None
        while frame is not None and _is_offset_file(frame.f_code.co_filename):
            frame = frame.f_back
        if frame is not None:
            where = f"\n    {frame.f_code.co_name} at {frame.f_code.co_filename}:{frame.f_lineno}"
        return f"goroutine {self.id} [{self.reason or 'runnable'}]: {name}{where}"

    def __repr__(self) -> str:
        fn = self.fn
        name = getattr(fn, "__qualname__", None) or repr(fn)
        return f"<goroutine {self.id} {name} [{self.reason}]>"


class ThreadParker(ChanWaiter):
    """What a plain thread (not a goroutine) parks on: a locked lock.

    Blocking on a channel from a plain thread blocks only that thread; the
    goroutine or thread that wakes it releases the lock. One is made per
    wait, so a ready() that comes after its wait was given up (timed out,
    interrupted) is released into a lock nobody looks at again.
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        # The C lock, never the patched threading.Lock: that one parks on this.
        self._lock = _allocate_lock()
        self._lock.acquire()
        self.value = None
        self.ok = False
        self.next = self.prev = None

    def park(self, reason: str) -> None:
        """Block until ready()."""
        self._lock.acquire()

    def park_timeout(self, reason: str, timeout: float) -> bool:
        """Block until ready(), for ``timeout`` seconds at most (-1: no limit); False if it passed first."""
        return self._lock.acquire(True, timeout)

    def ready(self) -> None:
        self._lock.release()


class Scheduler:
    """One per OS thread that calls run() (Go's P)."""

    def __init__(self) -> None:
        self.ident = _get_ident()
        self.runq: deque[G] = deque()
        self.runnext: G | None = None
        self.remote: deque[G] = deque()
        self.remote_calls: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        # How many of the goroutine table's entries are this scheduler's (``live``).
        self.nlive = 0
        self.free: list[Proc] = []
        # The goroutine a fresh Proc starts with, from the loop's switch into
        # it until proc_main takes it (start_proc): a switch with it as an
        # argument would have greenlet keep a tuple of it (48 bytes) for as
        # long as the Proc lives, each goroutine it runs.
        self.starting: G | None = None
        # Chaos scheduling (OFFSET_SHUFFLE): this scheduler's random source,
        # used by its own thread only, None when off; seeded from
        # ``shuffle_key`` when made and at every outermost run(). ``pinned``:
        # how many goroutines at the run queue's head the next picks take
        # in order (deferred signal handlers, _run_signals).
        self.rng: random.Random | None = None
        self.shuffle_key = ""
        self.pinned = 0
        if _SHUFFLE:
            n = 0 if self.ident == threading.main_thread().ident else next(_scheduler_numbers)
            self.shuffle_key = f"offset shuffle {SHUFFLE_SEED} scheduler {n}"
            self.rng = random.Random(self.shuffle_key)
        self.timers = TimerHeap(self.rng)
        self._poller: Netpoll | None = None
        self.sleeping = False
        self.running = False
        self.stopping = False
        self.loop_proc: Any = None
        self.main: G | None = None
        self.main_result: Any = None
        self.failure: BaseException | None = None
        # Goroutines of this scheduler in a thread-pool call, each with its
        # claim: a list holding the G until the call's completion, or the
        # goroutine giving the call up (stopped or interrupted), pops it
        # (list.pop is atomic under the GIL); whoever pops it decides how
        # the wait ends (see _syscall.py).
        self.syscalls: dict[G, list[G]] = {}
        self.ticks = 0
        # A coarse clock (monotonic ns), read by the loop at each visit
        # (every 64 switches at most, and after every idle wait), so that a
        # park stamps ``G.since`` with one attribute copy and no clock call.
        # A goroutine that held the thread a long time before it parked
        # (and those that park after it, until the next visit) gets a stamp
        # early by that long. With ``ticks`` (direct switches), the blocking
        # monitor's sign that the thread moves on.
        self.now = 0
        self._backoff = 0.0  # idle wait while other threads live; 0 when not backing off
        self._grace = 0  # how many times the idle wait has looked again before calling a deadlock
        # Goroutines in a nested bare run(), waiting to be the only ones left.
        self.idle_waiters: list[G] = []
        self.just_polled = False  # the idle wait has just polled the netpoller
        # Signal handlers deferred out of offset's code, run by the loop as
        # goroutines; appended from wherever Python ran the handler, so only
        # ever appended to, and taken off by the loop (see "Signals" above).
        self.signals: deque[tuple[Callable[[int, Any], Any], int]] = deque()
        # Exceptions signal handlers raised, for the main goroutine, oldest first.
        self.interrupts: deque[BaseException] = deque()

    @property
    def poller(self) -> Netpoll:
        """The netpoller of this run(), made at its first use (see "Lifecycle").

        Another thread only calls ``poller.wakeup()``, having seen
        ``sleeping``; if run() has returned since and the netpoller is
        gone, it gets ``NO_NETPOLL``, whose wakeup does nothing: a
        netpoller made by that thread would never be closed.
        """
        p = self._poller
        if p is None:
            if _get_ident() != self.ident:
                return NO_NETPOLL
            p = self._poller = make_netpoll(self.rng)
        return p

    def poller_or_none(self) -> Netpoll | None:
        """The netpoller, or None when it cannot be made for want of fds.

        Owner thread only. A netpoller needs two fds (the epoll fd and the
        wake-up fd); a process whose fd table is full (EMFILE, ENFILE) can
        have none until it frees some. The stdlib's sleep, lock waits and
        blocking calls need no new fd, so neither may offset's: the idle
        wait then sleeps in slices (``_NO_NETPOLL_SLICE``), fd waits go to
        the thread pool (_io.py), and each later wait tries to make the
        netpoller again. Any other failure is raised.
        """
        p = self._poller
        if p is None:
            try:
                p = self.poller
            except OSError as e:
                if e.errno not in _NO_FDS:
                    raise
                return None
        return p

    # -- called from any thread ------------------------------------------

    def call_threadsafe(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on this scheduler's loop; safe from any thread.

        Used for what only the owner may touch (its timer heap). ``fn`` runs
        between goroutines and must not block. If the scheduler is not
        running it runs when run() is next called in its thread.
        """
        self.remote_calls.append((fn, args))
        if self.sleeping:
            self.poller.wakeup()

    # -- switching (owner thread only) ------------------------------------

    def _switch_away(self) -> Any:
        """Give the processor to the next runnable goroutine, or the loop.

        Returns what the switch back into the caller passes: nothing for a
        parked goroutine, the next G to run for a free Proc.
        """
        g = self.runnext
        if g is not None or self.runq:
            self.ticks = ticks = self.ticks + 1
            if ticks & _LOOP_MASK and not self.stopping:
                if _SHUFFLE:
                    g = self._shuffle_pop()
                elif g is not None:
                    self.runnext = None
                else:
                    g = self.runq.popleft()
                p = g.proc
                if p is not None:
                    return _switch(p)
                if g.fn is not None:
                    return self._switch_to_start(g)
                # A dead G (stale ready): fall through to the loop.
        return _switch(self.loop_proc)

    def _switch_to_start(self, g: G) -> Any:
        """_switch_away's step for a goroutine that has not started: a free Proc runs it, or the loop does.

        Out of line: every parked goroutine keeps _switch_away's C frame
        (compiled) in its saved stack, and this step's two-argument switch
        widened it.
        """
        free = self.free
        if free:
            p = g.proc = free.pop()
            return _switch(p, g)
        # A fresh Proc starts from the loop: greenlet gives a new greenlet
        # the recursion depth of the one that first switches into it, and a
        # Proc is reused for ever, so one started from a deep goroutine
        # would carry that depth into every goroutine it later runs.
        self.runq.appendleft(g)
        if _SHUFFLE:
            self.pinned += 1  # the loop takes the goroutine picked here
        return _switch(self.loop_proc)

    def _new_proc(self) -> Proc:
        p: Proc = _new_proc_greenlet(proc_main, self.loop_proc)
        return p

    def _resume_next(self) -> None:
        """From the loop: run goroutines until one hands control back.

        ``runnext`` goes to the tail first, so the queue's head gets its turn.
        """
        runq = self.runq
        self._grace = 0  # something runs: a deadlock would be a new one
        if self.runnext is not None:
            runq.append(self.runnext)
            self.runnext = None
        while runq:
            if _SHUFFLE:
                self._shuffle_head()
            g = runq.popleft()
            p = g.proc
            if p is not None:
                p.switch()
                return
            if g.fn is not None:
                free = self.free
                if free:
                    p = g.proc = free.pop()
                    p.switch(g)  # the result of the free Proc's switch (end_goroutine)
                else:
                    p = g.proc = self._new_proc()
                    self.starting = g
                    p.switch()  # proc_main(), which takes g from start_proc
                return

    def _shuffle_head(self) -> None:
        """Chaos scheduling: put a goroutine chosen at random at the run queue's head.

        Chosen uniformly among everything runnable: the run queue and
        ``runnext``, which goes to the tail first (the pickers then take
        the head). The first ``pinned`` goroutines are taken in order.
        """
        runq = self.runq
        g = self.runnext
        if g is not None:
            self.runnext = None
            runq.append(g)
        if self.pinned:
            self.pinned -= 1
            return
        n = len(runq)
        if n > 1:
            rng = self.rng
            if rng is None:
                raise InternalError("chaos scheduling without a random source")
            i = rng.randrange(n)
            if i:
                runq[0], runq[i] = runq[i], runq[0]

    def _shuffle_pop(self) -> G:
        """Chaos scheduling: take a goroutine chosen at random (``_shuffle_head``).

        Out of line, so that the switch's hot path, which calls it only
        under OFFSET_SHUFFLE, stays as small as it was.
        """
        self._shuffle_head()
        return self.runq.popleft()

    # -- the loop ---------------------------------------------------------

    def _loop(self) -> None:
        while not self.stopping:
            self.now = _monotonic_ns()
            try:
                self._poll()
                if self.signals or self.interrupts:
                    self._run_signals()
                if self.runq or self.runnext is not None:
                    self._resume_next()
                    continue
                if self.stopping:
                    break
                if self.main is None and not self.nlive and not self.timers.nkeepalive:
                    break  # no goroutine is left
                self._idle_wait()
            except BaseException as e:
                # Only a signal handler that Python ran inside the loop
                # (no signal patch) gets here; anything else is offset's
                # own failure and ends run().
                if not _raised_by_handler(e):
                    raise
                self.interrupt(e)

    def interrupt(self, exc: BaseException) -> None:
        """Post ``exc``, raised by a signal handler, to the main goroutine.

        Called on this scheduler's thread (signal handlers run in the main
        thread, which runs this scheduler). The loop delivers it at its
        next visit (``_deliver_interrupt``).
        """
        self.interrupts.append(exc)

    def _run_signals(self) -> None:
        """Start the deferred handlers; deliver a posted exception to main.

        The handlers run first, before any goroutine that is runnable (main
        may be): Python would have run them at once. One that raises brings
        the loop back as soon as it ends (_proc.proc_main), so the exception
        reaches main before main runs on.
        """
        signals = self.signals
        if signals:
            gs = []
            while signals:
                handler, signum = signals.popleft()
                gs.append(G(_run_deferred_handler, (handler, signum), {}, self))
            self.runq.extendleft(reversed(gs))
            if _SHUFFLE:
                self.pinned += len(gs)
        if self.interrupts:
            self._deliver_interrupt()

    def _deliver_interrupt(self) -> None:
        """Throw the oldest posted exception into the main goroutine.

        Python raises a handler's exception in whatever the main thread
        runs, and a program expects it where its main code waits
        (``except KeyboardInterrupt`` around ``accept()``, a SIGALRM
        handler that ends a ``recv``). So it is thrown into the main
        goroutine where it stopped, as a stop is thrown: every park site
        withdraws its waiter on an exception. If main is runnable (a
        wake-up came, and is queued), it is thrown all the same, as Python
        raises at the next bytecode: the site it parked at finds its
        waiter served, or fired, and counts the queued wake-up as stale
        (G.park), so that it resumes nothing later. A thread-pool call
        main waits for is given up where it parked, as for any goroutine
        stopped there (_syscall.blocking_call). With no main goroutine,
        run() itself raises it.

        The same holds for a waker in another thread that has taken main's
        waiter off a channel or wait queue without having readied it yet.
        """
        main = self.main
        if main is None:
            self.fail(self.interrupts.popleft())
            return
        if main.proc is None or main.fn is None:
            return
        main.proc.throw(self.interrupts.popleft())

    def _drain_remote(self) -> None:
        remote = self.remote
        runq = self.runq
        while remote:
            runq.append(remote.popleft())
        calls = self.remote_calls
        while calls:
            fn, args = calls.popleft()
            fn(*args)

    def _poll(self) -> None:
        self._drain_remote()
        self.timers.run_due()
        if self.just_polled:
            # The idle wait has just asked the netpoller: asking again at
            # once would cost an epoll_wait that finds nothing.
            self.just_polled = False
            return
        p = self._poller
        if p is not None and p.nwaiting:
            p.poll(0)

    def _idle_wait(self) -> None:
        """Sleep in the OS until a timer, an fd, a pool call or a thread."""
        poller = self.poller_or_none()
        deadline = self.timers.next_deadline()
        if deadline is not None:
            timeout: float | None = max(0.0, (deadline - _monotonic_ns()) / 1e9)
        elif (poller is not None and poller.nwaiting) or self.syscalls:
            timeout = None
        elif _other_threads_alive():
            # Another thread may still wake one of ours, but it may also end
            # without doing so: look again now and then, backing off.
            timeout = self._backoff = min(max(self._backoff * 2, 0.01), 1.0)
        elif self.remote or self.remote_calls or self.signals:
            # A thread that has ended woke one of ours on its way out (looked
            # at after the threads: a thread seen as ended did its appends),
            # or a signal handler was deferred since the loop looked.
            return
        elif self._grace < len(_DEADLOCK_GRACE):
            # Nothing can wake us, it seems; but a thread that has just
            # been started is counted only once it runs (on a loaded
            # machine that can take a while), so give the other threads the
            # GIL and look again, three times, 100 ms in all.
            timeout = _DEADLOCK_GRACE[self._grace]
            self._grace += 1
        else:
            raise DeadlockError(self._deadlock_message())
        self.sleeping = True
        try:
            if self.remote or self.remote_calls or self.signals:
                timeout = 0
            if poller is not None:
                poller.poll(timeout)
            else:
                # No netpoller, so nothing can wake this sleep: look again
                # every slice for other threads' wake-ups and deferred signals.
                _real_sleep(_NO_NETPOLL_SLICE if timeout is None else min(timeout, _NO_NETPOLL_SLICE))
        finally:
            self.sleeping = False
        self.just_polled = True
        if timeout != self._backoff:
            self._backoff = 0.0

    @property
    def live(self) -> list[G]:
        """This scheduler's started, unfinished goroutines, in start order.

        Its entries of the goroutine table, read from a copy of it: safe
        from any thread (a dump reads it from the monitor's), and O(every
        goroutine of the process), for reports and shutdown only.
        """
        return [g for g in list(_goroutines.values()) if g.sched is self]

    def _deadlock_message(self) -> str:
        lines = ["all goroutines are asleep - deadlock!", ""]
        lines += [g.describe() for g in self.live]
        return "\n".join(lines)

    # -- stopping ---------------------------------------------------------

    def fail(self, exc: BaseException) -> None:
        """A goroutine raised ``exc``: end run(), which re-raises it."""
        if self.failure is None:
            self.failure = exc
        self.stopping = True

    def _shutdown(self) -> None:
        """Stop every goroutine still alive; their finally blocks run."""
        self.stopping = True
        for _ in range(3):
            if not self.nlive:
                break
            for g in self.live:
                # Nothing else runs while we stop them: a finally block that
                # parks comes straight back here.
                self.runq.clear()
                self.runnext = None
                p = g.proc
                if p is None or p.dead:
                    _drop_live(g)
                    continue
                try:
                    p.throw(GoroutineExit)
                except BaseException as e:  # pragma: no cover - Proc swallowed the exit oddly
                    if self.failure is None:
                        self.failure = e
        for g in self.live:
            # Still alive after three stops: its finally blocks keep blocking.
            # Abandon it; the greenlet is killed when collected.
            _drop_live(g)
            _forget(g)
        self.nlive = 0
        self.idle_waiters = []
        self.runq.clear()
        self.runnext = None
        self.remote.clear()
        self.timers.clear()

    def take_failure(self) -> BaseException | None:
        """The exception that ends run() (None: none), cleared."""
        failure, self.failure = self.failure, None
        return failure

    def _release(self) -> None:
        """After run(): close the netpoller, end the free Procs (see "Lifecycle").

        Called in the thread's own greenlet that called run(), which is
        every free Proc's parent: each ends where it waits for its next
        goroutine and comes back here.
        """
        p = self._poller
        if p is not None:
            self._poller = None
            p.close()
        self.just_polled = False
        free, self.free = self.free, []
        for proc in free:
            proc.throw(GoroutineExit)
            if not proc.dead:
                raise InternalError(f"free Proc {proc!r} survived its end")


def _forget(g: G) -> None:
    g.value = None  # its result, or what a channel operation left there
    g.fn = None
    g.args = ()
    g.kwargs = None
    g.ctx = None
    g.proc = None


def start_proc() -> G:
    """_proc.py's first step on a fresh Proc: the goroutine it starts with (``Scheduler.starting``)."""
    s = current_scheduler()
    g = s.starting
    if g is None:
        raise InternalError("a fresh Proc started with no goroutine to run")
    s.starting = None
    return g


def begin_goroutine(g: G) -> int:
    """_proc.py's step before calling a goroutine's function (see there), on its Proc.

    Returns how _proc.py calls it: with 0 to 3 positional arguments
    (their number), which it unpacks from ``g.args``; or -1, with
    ``*g.args, **g.kwargs``, for keywords or more arguments (``kwargs``
    is then a dict).
    """
    me = g.proc
    if me is None or g.fn is None:
        raise InternalError(f"{g!r} started without a Proc, or after it finished")
    _goroutines[me] = g
    g.sched.nlive += 1
    # Run in the goroutine's own context by making it the Proc's context,
    # rather than through ctx.run: that would add a C frame to every
    # goroutine's stack, which greenlet copies on each switch and keeps
    # while the goroutine is parked.
    me.gr_context = g.ctx
    n = len(g.args)
    if g.kwargs is None and n <= 3:
        return n
    if g.kwargs is None:
        g.kwargs = {}
    return -1


def fail_goroutine(g: G) -> None:
    """_proc.py's step when a goroutine's function raised: run() re-raises it.

    Called in the except clause; the exception is read here, so that
    _proc.py's frame needs no variable for it (each costs 8 bytes of its
    frame object on 3.12+, which every parked goroutine keeps).
    """
    e = sys.exc_info()[1]
    if e is None:
        raise InternalError("fail_goroutine called outside an except clause")
    g.value = None  # no result (whatever a channel operation left there)
    g.sched.fail(e)


def _drop_live(g: G) -> None:
    """Take ``g`` out of the goroutine table (and its scheduler's ``nlive``): it runs no more."""
    p = g.proc
    if p is not None and _goroutines.get(p) is g:
        del _goroutines[p]
        g.sched.nlive -= 1


def exit_goroutine(g: G) -> None:
    """_proc.py's step when a goroutine was stopped by shutdown: its Proc ends (it is not reused)."""
    _drop_live(g)
    _forget(g)


def end_goroutine(g: G) -> G | None:
    """_proc.py's step after a goroutine's function returned (its result in ``g.value``) or failed.

    Returns the next goroutine this Proc is to run, or None when the Proc
    ends.
    """
    s = g.sched
    me = g.proc
    if me is None:
        raise InternalError(f"{g!r} ended without a Proc")
    if g is s.main:
        # Its result; when it failed, run() raises instead (s.failure).
        s.main_result = g.value
        s.stopping = True
    if _goroutines.get(me) is g:  # _drop_live, inline: interpreted, a call less a goroutine
        del _goroutines[me]
        s.nlive -= 1
    _forget(g)
    if s.idle_waiters:
        _wake_idle_waiters(s)
    if not s.stopping and not s.interrupts:
        if _SHUFFLE:
            s._shuffle_head()
        nxt = s.runnext
        if nxt is None and s.runq:
            nxt = s.runq[0]
        if nxt is not None and nxt.proc is None and nxt.fn is not None:
            # Run the next unstarted goroutine right here: no switch.
            if nxt is s.runnext:
                s.runnext = None
            else:
                s.runq.popleft()
            nxt.proc = me
            return nxt
        if len(s.free) >= _MAX_FREE_PROCS:
            return None
        s.free.append(me)
        g = s._switch_away()
    else:
        s.free.append(me)
        g = s.loop_proc.switch()
    if type(g) is not G:
        raise InternalError(f"free Proc resumed with {g!r} instead of a goroutine")
    return g


def _wake_idle_waiters(s: Scheduler) -> None:
    """Ready the nested bare run()s once they are the only goroutines left."""
    waiters = s.idle_waiters
    if s.nlive == len(waiters) and not s.runq and s.runnext is None:
        s.idle_waiters = []
        for g in waiters:
            g.ready()


def _raised_by_handler(exc: BaseException) -> bool:
    """Whether ``exc``, escaping the loop, was raised by a signal handler.

    The loop runs only offset's code, so an exception raised in a frame
    that is not offset's came from a handler Python ran in the loop;
    KeyboardInterrupt (from the C default handler, which has no frame) is
    always one.
    """
    if isinstance(exc, KeyboardInterrupt):
        return True
    tb = exc.__traceback__
    while tb is not None:
        if not _is_offset_file(tb.tb_frame.f_code.co_filename):
            return True
        tb = tb.tb_next
    return False


def _run_deferred_handler(handler: Callable[[int, Any], Any], signum: int) -> None:
    """A deferred signal handler, run as a goroutine; what it raises goes to main."""
    s: Scheduler = _local.sched
    main = s.main
    frame = main.proc.gr_frame if main is not None and main.proc is not None else None
    while frame is not None and _is_offset_file(frame.f_code.co_filename):
        frame = frame.f_back  # the program's frame where main waits, as Python would pass
    try:
        handler(signum, frame)
    except GoroutineExit:
        raise
    except BaseException as e:
        s.interrupt(e)


def call_signal_handler(handler: Callable[[int, Any], Any], signum: int, frame: Any) -> Any:
    """Run a Python signal handler that the interpreter has just called.

    The signal patch area installs this around every Python handler; see
    "Signals" at the top of this module for where each case comes from.
    ``frame`` is the frame Python interrupted.
    """
    s: Scheduler | None = getattr(_local, "sched", None)
    if s is None or not s.running:
        return handler(signum, frame)
    if frame is not None and _is_offset_file(frame.f_code.co_filename) or getcurrent() is s.loop_proc:
        # Inside offset's own code: run it from the loop, between goroutines.
        # The wake-up makes an epoll_wait that PEP 475 restarts return.
        s.signals.append((handler, signum))
        p = s._poller  # none yet: no epoll_wait to cut short (and none to make here)
        if p is not None:
            p.wakeup()
        return None
    g = current_goroutine()
    if g is None or g is s.main:
        return handler(signum, frame)
    try:
        return handler(signum, frame)
    except GoroutineExit:
        raise
    except BaseException as e:
        s.interrupt(e)
        return None


# Threads _thread._count() still counts in a forked child though they did
# not survive the fork (CPython does not bring the count down): the count
# when this process began as a child, 0 in a process that was never forked.
# The forking thread is among them if _thread started it; it is the child's
# main thread, which the check below does not subtract.
_fork_bias = 0


def _other_threads_alive() -> bool:
    # _thread counts every thread it started (threading's too) while it
    # runs; threading.enumerate() misses those started by start_new_thread.
    others = _thread_count() - _fork_bias - len(offset_thread_idents)
    me = _get_ident()
    if me != threading.main_thread().ident:
        others -= 1  # this thread is one of them (not current_thread(): it makes a _DummyThread)
    if others > 0:
        return True
    for t in threading.enumerate():
        if t.ident == me or t.ident in offset_thread_idents:
            continue
        # enumerate() also lists threads that start() has launched but that
        # have not yet said so (is_alive() is False until then): with the
        # threading area patched, a goroutine parks in start() for that.
        started = getattr(t, "_started", None)
        if t.is_alive() or (started is not None and not started.is_set()):
            return True
    return False


_local: Final = threading.local()

# After fork, in the child: the Procs of the parent's other goroutines,
# kept so that they are never collected. Collecting a suspended greenlet
# throws GreenletExit into it, which would run the finally blocks of code
# that, like a thread the fork left behind, must not run at all.
_fork_orphans: list[Proc] = []


def _after_fork_in_child() -> None:
    """Give the child of ``os.fork()`` a runtime of its own.

    Go's model is threads': a forked child has only the thread that
    forked. Here it has only the goroutine that forked, which carries on as
    the main goroutine of its scheduler (so ``run()`` returns what it
    returns, and a signal handler's exception reaches it). The parent's
    other goroutines do not run in the child, and nothing of theirs runs
    there either: no ``finally`` block, no timer or fd event resumes them
    (a wake-up of a dead goroutine is ignored, see the invariants above).
    Wake-ups other threads had queued, deferred handlers and posted
    exceptions belong to the parent. The netpoller is closed (each
    backend's own at-fork hook closes the child's copies of its fds) and
    made again at the child's next wait; the thread pool (_syscall.py)
    starts afresh, and deadlock detection stops counting the threads the
    fork left behind.

    Left as they are: timers (the forking goroutine's may be among them:
    its deadlines and tickers keep working; the others wake nothing), and
    locks the lost goroutines held, which stay held unless the library
    that owns them resets them at fork, as it must for threads
    (``_at_fork_reinit``: logging's handlers, threading's internals).
    """
    global _fork_bias
    _fork_bias = _thread_count()
    this_thread = _get_ident()
    for ident in [i for i in schedulers if i != this_thread]:
        del schedulers[ident]  # their threads did not survive the fork
    # Of the goroutine table, only the forking goroutine's entry (if it is
    # one) is of any use here: no other Proc runs again.
    cur = _getcurrent()
    me = _goroutines.get(cur)
    lost = [g for g in _goroutines.values() if g is not me]
    _goroutines.clear()
    if me is not None:
        _goroutines[cur] = me
    try:
        s: Scheduler = _local.sched
    except AttributeError:
        return  # this thread never had a scheduler
    s.nlive = 0 if me is None else 1
    s.sleeping = False
    s._backoff = 0.0
    s._grace = 0
    s._poller = None  # closed in the child by its backend's at-fork hook; made again when needed
    s.remote.clear()
    s.remote_calls.clear()
    s.signals.clear()
    s.interrupts.clear()
    s.syscalls.clear()
    if not s.running:
        return
    for g in lost:
        if g.sched is s:  # this thread's (the others' went with their schedulers)
            if g.proc is not None:
                _fork_orphans.append(g.proc)
            _forget(g)
    s.runq.clear()
    s.runnext = None
    s.pinned = 0
    s.idle_waiters = []
    s.main = me
    s.main_result = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def current_scheduler() -> Scheduler:
    """This thread's scheduler, made on first use."""
    try:
        s: Scheduler = _local.sched
    except AttributeError:
        s = _local.sched = Scheduler()
    return s


def current_goroutine() -> G | None:
    """The running goroutine, or None outside one (plain thread, before run()).

    The one place that tells, by the running greenlet: the core and the
    patches ask here (or ``goroutine_of``). The hottest waits repeat its
    one line rather than call it: ``current_parker`` below, and
    ``Chan.send`` and ``Chan.recv``.
    """
    return _goroutines.get(_getcurrent())


def current_parker() -> G | ThreadParker:
    """What the caller parks on: its goroutine, or a fresh ThreadParker."""
    # current_goroutine(), inline: interpreted, a call less on every select
    # and chansend/chanrecv that parks.
    g = _goroutines.get(_getcurrent())
    return g if g is not None else ThreadParker()


def go(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Start ``fn(*args, **kwargs)`` as a goroutine; return at once.

    Go's ``go`` statement. Inside a goroutine, the new one is queued on the
    running scheduler; before ``run()``, on the one ``run()`` will use. The
    goroutine runs in a copy of the caller's contextvars context.

    Raises:
        TypeError: ``fn`` is not callable.
    """
    if not callable(fn):
        raise TypeError(f"go() argument 'fn' must be callable, not {type(fn).__name__}")
    try:
        s: Scheduler = _local.sched
    except AttributeError:
        s = current_scheduler()
    prev = s.runnext
    s.runnext = G(fn, args, kwargs, s)
    if prev is not None:
        s.runq.append(prev)


_maintask: Callable[..., Any] | None = None


def maintask(fn: F) -> F:
    """Mark ``fn`` as the main goroutine that the next ``run()`` starts; return fn.

    The mark is used once: the ``run()`` that starts ``fn`` clears it, so a
    later ``run()`` (in this thread or another) does not start it again.

    Raises:
        TypeError: ``fn`` is not callable.
    """
    global _maintask
    if not callable(fn):
        raise TypeError(f"maintask() argument 'fn' must be callable, not {type(fn).__name__}")
    _maintask = fn
    return fn


def run(fn: Callable[..., T] | None = None, /, *args: Any, **kwargs: Any) -> T | None:
    """Run the scheduler in this thread until the program is done.

    With a main goroutine (``fn``, or the function marked ``@maintask``),
    return its result when it returns; goroutines still alive then are
    stopped (their ``finally`` blocks run), as a Go program ends with main.
    Without one, return None when no goroutine is left.

    Called from a goroutine of the running scheduler (a program run by
    ``python -m offset`` that calls run() itself), run() acts as that
    program's main: it calls ``fn`` and returns its result, or, without a
    main function, waits until every other goroutine is done.

    Raises:
        BaseException: whatever escaped a goroutine, with its traceback.
        DeadlockError: every goroutine is blocked and nothing can wake one.
        RuntimeError: run() is already running in this thread, called from
            outside its goroutines.
        TypeError: ``fn`` is not callable.
    """
    global _maintask
    if fn is not None and not callable(fn):
        raise TypeError(f"run() argument 'fn' must be callable, not {type(fn).__name__}")
    s = current_scheduler()
    main_fn = fn
    if main_fn is None:
        main_fn, _maintask = _maintask, None
    if s.running:
        g = current_goroutine()
        if g is None or g.sched is not s:
            raise RuntimeError("offset.run() is already running in this thread; use go() to start more goroutines")
        return _nested_run(g, main_fn, args, kwargs)
    s.main = None
    if main_fn is not None:
        s.main = G(main_fn, args, kwargs, s)
        if s.runnext is not None:
            s.runq.appendleft(s.runnext)
        s.runnext = s.main
    s.running = True
    s.ticks = 0  # the order of a program must not depend on earlier runs
    if s.rng is not None:
        s.rng.seed(s.shuffle_key)  # nor, under OFFSET_SHUFFLE, its random choices
        s.pinned = 0
    s.stopping = False
    s.failure = None
    s.main_result = None
    s.interrupts.clear()
    s.loop_proc = getcurrent()
    for p in s.free:
        p.parent = s.loop_proc
    schedulers[s.ident] = s
    try:
        try:
            s._loop()
        finally:
            s._shutdown()
    finally:
        s.running = False
        schedulers.pop(s.ident, None)
        s.main = None
        s.loop_proc = None
        s._release()
    # Read through a method: after ``s.failure = None`` above, mypy takes
    # s.failure to be None here (it cannot see the loop set it), and the
    # compiled build (mypyc) would check that and raise TypeError.
    failure = s.take_failure()
    if failure is None and s.interrupts:
        # Main returned before a handler's exception reached it: in plain
        # Python that exception would have come out of the program's last
        # lines, so it comes out of run().
        failure = s.interrupts.popleft()
    s.interrupts.clear()
    try:
        while s.signals:
            # Handlers deferred while the program ended run here, in the
            # caller's code, as Python would have run them.
            handler, signum = s.signals.popleft()
            handler(signum, sys._getframe())
    except BaseException as e:
        if failure is None:
            raise
        raise failure from e
    if failure is not None:
        raise failure
    result: T | None = s.main_result
    s.main_result = None
    return result


def _nested_run(g: G, fn: Callable[..., T] | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> T | None:
    """run() from a goroutine of the running scheduler, as a main goroutine.

    ``python -m offset prog.py`` runs the program's top-level code as the
    main goroutine, and a program written for offset calls run() itself.
    With a main function, call it here and return its result; without one,
    wait until every other goroutine is done, which is what a bare run()
    waits for.
    """
    if fn is not None:
        return fn(*args, **kwargs)
    s = g.sched
    s.idle_waiters.append(g)
    _wake_idle_waiters(s)
    try:
        g.park(RUN)
    except BaseException:
        if g in s.idle_waiters:
            s.idle_waiters.remove(g)
        else:
            g.stale += 1  # readied already: its ready() is owed (G.park)
        raise
    return None


def gosched() -> None:
    """Yield the processor: let other goroutines run, stay runnable.

    Go's runtime.Gosched. Outside a goroutine it does nothing.
    """
    g = current_goroutine()
    if g is None:
        return
    s = g.sched
    s.runq.append(g)
    g.reason = GOSCHED
    try:
        s._switch_away()
    except BaseException:
        g.stale += 1  # thrown into while queued: that turn is owed (G.park)
        raise


def sleep_ns(d: int) -> None:
    """Park the calling goroutine for ``d`` nanoseconds (a timer, no thread).

    ``d <= 0`` yields as gosched() does. Outside a goroutine this is the
    blocking ``time.sleep``.
    """
    g = current_goroutine()
    if g is None:
        if d > 0:
            _time.sleep(d / 1e9)
        return
    if d <= 0:
        gosched()
        return
    s = g.sched
    entry = TimerEntry(G.ready, g)
    s.timers.push(entry, _monotonic_ns() + d)
    try:
        g.park(SLEEP)
    except BaseException:
        if not s.timers.remove(entry):
            g.stale += 1  # it fired: its ready() is owed (G.park)
        raise


# The body of every Proc, interpreted on purpose (_proc.py says why); it
# uses the functions above, so it is imported last.
from ._proc import proc_main  # noqa: E402
