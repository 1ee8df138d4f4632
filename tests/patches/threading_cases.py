"""threading and queue cases run the same way patched and unpatched (child side).

Each case is ordinary threading code: a lock, a condition, an event, a
queue, shared by the case's own body and *workers* it starts with
``spawn``. A worker is a goroutine when the case runs in a goroutine
(patched, in the main goroutine), and a plain thread everywhere else
(unpatched, patched in a plain thread, patched before run()). So the same
code gives the stdlib's outcome with threads, and must give the same one
with goroutines sharing one OS thread: same values, same exceptions (type
and message), and waits that end when the stdlib's do.

A case that waits also reports whether a ticker worker kept ticking
meanwhile (``ticking``): with threads it always does, and with goroutines
only if the wait parked the goroutine rather than blocking the thread.

Two registries: the threading cases and the queue cases; ``run_all`` runs
the queue ones when OFFSET_CASES=queue (the child scripts of conftest.py
call ``run_all``). Timeouts are 50-200 ms; every wait is bounded.
"""

from __future__ import annotations

import _thread
import concurrent.futures
import contextlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import child

import offset
import offset.time
from offset._core import current_goroutine

_threading_cases = child.Cases()
_queue_cases = child.Cases()
case = _threading_cases.case
queue_case = _queue_cases.case
pair = child.pair

LIMIT = 10.0  # seconds: how long any helper waits before calling it a hang


def run_all(names: list[str] | None = None, exclude: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    cases = _queue_cases if os.environ.get("OFFSET_CASES") == "queue" else _threading_cases
    return cases.run_all(names, exclude)


# -- workers: goroutines in a goroutine, threads elsewhere -------------------


class Hung(Exception):
    """A worker did not finish within LIMIT (a lost wake-up)."""


class Worker:
    """``fn(*args)`` running beside the case; ``join()`` gives its result or raises its exception."""

    def __init__(self, fn: Callable[..., Any], *args: Any, thread: bool = False) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        if not thread and current_goroutine() is not None:
            self.done: Any = offset.makechan(1)
            offset.go(self._run_goroutine, fn, args)
        else:
            self.thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
            self.thread.start()

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self.result = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to join()
            self.error = e

    def _run_goroutine(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._run(fn, args)
        self.done.send(None)

    def join(self, timeout: float = LIMIT) -> Any:
        if self.thread is not None:
            self.thread.join(timeout)
            if self.thread.is_alive():
                raise Hung(repr(self.thread))
        else:
            after = offset.time.After(int(timeout * offset.time.SECOND))
            if offset.select(self.done.if_recv(), after.if_recv()).chan is after:
                raise Hung("goroutine")
        if self.error is not None:
            raise self.error
        return self.result


def spawn(fn: Callable[..., Any], *args: Any) -> Worker:
    """A worker of the kind the case runs among (a goroutine or a thread)."""
    return Worker(fn, *args)


def spawn_thread(fn: Callable[..., Any], *args: Any) -> Worker:
    """A plain thread, wherever the case runs."""
    return Worker(fn, *args, thread=True)


def wait_until(cond: Callable[[], object], what: str = "condition") -> None:
    """Poll ``cond`` (1 ms apart) until it holds; Hung after LIMIT."""
    deadline = time.monotonic() + LIMIT
    while not cond():
        if time.monotonic() > deadline:
            raise Hung(what)
        time.sleep(0.001)


@contextlib.contextmanager
def ticking() -> Iterator[list[int]]:
    """A worker ticking every 5 ms while the block runs; yields its count."""
    ticks = [0]
    stop = [False]

    def tick() -> None:
        while not stop[0]:
            time.sleep(0.005)
            ticks[0] += 1

    w = spawn(tick)
    try:
        yield ticks
    finally:
        stop[0] = True
        w.join()


def ticked(ticks: list[int], seconds: float) -> bool:
    """Whether the ticker ran through a wait of about ``seconds``.

    It ticks every 5 ms: about 20 times in 0.1 s, fewer on a loaded machine;
    at most once if the wait blocked the thread (the tick it owes as it
    stops). So at least 3, or an eighth of the ticks due.
    """
    return ticks[0] >= max(3, int(seconds / 0.005 / 8))


def timed(fn: Callable[[], Any], t0: float | None = None) -> tuple[Any, float]:
    """``fn``'s outcome, and the seconds from ``t0`` (default: the call) to its end.

    A case whose worker sleeps and then ends the wait takes ``t0`` before it
    starts the worker: the worker's sleep may begin before the wait does.
    """
    t0 = time.monotonic() if t0 is None else t0
    out = child.outcome(fn)
    return out, time.monotonic() - t0


def around(dt: float, seconds: float) -> bool:
    """``dt`` is a wait of ``seconds``: not shorter, and not so long something else held it."""
    return seconds - 0.005 <= dt < seconds + 0.5


# -- Lock ---------------------------------------------------------------------


@case
def lock_held_across_a_socket_wait() -> Any:
    lock = threading.Lock()
    order: list[Any] = []
    with pair() as (a, b), ticking() as ticks:

        def holder() -> None:
            with lock:
                order.append("holder in")
                order.append(("holder got", a.recv(10)))

        def contender() -> None:
            got = lock.acquire(timeout=LIMIT)
            order.append(("contender in", got))
            lock.release()

        h = spawn(holder)
        wait_until(lock.locked)
        c = spawn(contender)
        time.sleep(0.1)
        order.append("sending")
        b.sendall(b"hi")
        h.join()
        c.join()
        return order, ticked(ticks, 0.1), lock.locked()


@case
def lock_acquire_timeout_while_held() -> Any:
    lock = threading.Lock()
    lock.acquire()
    with ticking() as ticks:
        got, dt = timed(lambda: lock.acquire(timeout=0.1))
    lock.release()
    return got, around(dt, 0.1), ticked(ticks, 0.1)


@case
def lock_acquire_timeout_in_a_worker() -> Any:
    lock = threading.Lock()
    lock.acquire()
    with ticking() as ticks:
        got = spawn(timed, lambda: lock.acquire(True, 0.1)).join()
    return got[0], around(got[1], 0.1), ticked(ticks, 0.1), lock.locked()


@case
def lock_acquire_timeout_served_in_time() -> Any:
    lock = threading.Lock()
    lock.acquire()

    def release_later() -> None:
        time.sleep(0.05)
        lock.release()

    t0 = time.monotonic()
    w = spawn(release_later)
    got, dt = timed(lambda: lock.acquire(timeout=2), t0)
    w.join()
    return got, 0.045 <= dt < 1.0, lock.locked()


@case
def lock_acquire_nonblocking() -> Any:
    lock = threading.Lock()
    first = lock.acquire(False)
    return [
        first,
        lock.acquire(False),
        lock.acquire(blocking=False),
        lock.acquire(0),
        lock.acquire(timeout=0),
        lock.locked(),
    ]


@case
def lock_release_unlocked() -> Any:
    return child.outcome(threading.Lock().release)


@case
def lock_release_twice() -> Any:
    lock = threading.Lock()
    lock.acquire()
    lock.release()
    return child.outcome(lock.release), lock.locked()


@case
def lock_release_by_another_worker() -> Any:
    # A Lock has no owner: any thread may release it, and that wakes a waiter.
    lock = threading.Lock()
    lock.acquire()
    waiter = spawn(lambda: lock.acquire(timeout=LIMIT))
    time.sleep(0.02)
    spawn(lock.release).join()
    return waiter.join(), lock.locked()


def _bad_acquires(make: Callable[[], Any]) -> dict[str, Any]:
    calls: dict[str, Callable[[Any], Any]] = {
        "negative_timeout": lambda lk: lk.acquire(timeout=-2),
        "negative_timeout_positional": lambda lk: lk.acquire(True, -0.5),
        "nonblocking_with_timeout": lambda lk: lk.acquire(False, 1),
        "nonblocking_with_timeout_keyword": lambda lk: lk.acquire(blocking=False, timeout=0.5),
        "str_blocking": lambda lk: lk.acquire("x"),
        "none_blocking": lambda lk: lk.acquire(None),
        "float_blocking": lambda lk: lk.acquire(1.5),
        "str_timeout": lambda lk: lk.acquire(timeout="1"),
        "none_timeout": lambda lk: lk.acquire(timeout=None),
        "nan_timeout": lambda lk: lk.acquire(timeout=float("nan")),
        "huge_timeout": lambda lk: lk.acquire(timeout=1e100),
        "int_huge_timeout": lambda lk: lk.acquire(timeout=2**70),
        "bool_timeout": lambda lk: lk.acquire(timeout=True),
        "list_blocking": lambda lk: lk.acquire([]),
    }
    out = {}
    for name, call in calls.items():
        lk = make()
        got = child.outcome(lambda: call(lk))
        # Whether the failed call left the lock held (it must not).
        out[name] = [got, lk._is_owned() if hasattr(lk, "_is_owned") else lk.locked()]
        with contextlib.suppress(RuntimeError):
            while True:
                lk.release()
    return out


@case
def lock_acquire_bad_arguments() -> Any:
    return _bad_acquires(threading.Lock)


@case
def allocate_lock_acquire_bad_arguments() -> Any:
    return _bad_acquires(_thread.allocate_lock)


@case
def lock_with_statement() -> Any:
    lock = threading.Lock()
    seen = []
    with lock as entered:
        seen.append((entered, lock.locked()))
    seen.append(lock.locked())
    try:
        with lock:
            raise KeyError("inside")
    except KeyError as e:
        seen.append(repr(e))
    seen.append(lock.locked())
    return seen


@case
def lock_with_statement_waits_for_a_worker() -> Any:
    lock = threading.Lock()
    order = []

    def hold() -> None:
        with lock:
            order.append("worker in")
            time.sleep(0.1)
            order.append("worker out")

    w = spawn(hold)
    wait_until(lambda: order)
    with ticking() as ticks:
        with lock:
            order.append("case in")
    w.join()
    return order, ticked(ticks, 0.05)


@case
def lock_locked() -> Any:
    lock = threading.Lock()
    seen = [lock.locked()]
    lock.acquire()
    seen.append(lock.locked())
    lock.release()
    seen.append(lock.locked())
    return seen


@case
def lock_types() -> Any:
    return [
        isinstance(threading.Lock(), _thread.LockType),
        isinstance(_thread.allocate_lock(), _thread.LockType),
        isinstance(threading._allocate_lock(), _thread.LockType),  # type: ignore[attr-defined]
        type(threading.Lock()) is _thread.LockType,
        type(threading.Lock()) is type(_thread.allocate_lock()),
        child.outcome(lambda: isinstance(threading.Lock(), threading.Lock)),  # a class only on 3.13+
    ]


# Calls with the wrong number or names of arguments: the TypeError's
# message is the C function's (KNOWN_DIFFERENT: offset's Python methods
# word it their own way).
@case
def lock_call_signatures() -> Any:
    lock = threading.Lock()
    rlock = threading.RLock()
    return [
        child.outcome(lambda: threading.Lock(1)),
        child.outcome(lambda: _thread.allocate_lock(1)),
        child.outcome(lambda: lock.locked(1)),
        child.outcome(lambda: lock.acquire(foo=1)),
        child.outcome(lambda: lock.acquire(True, 1, 2)),
        child.outcome(lambda: lock.release(1)),
        child.outcome(lambda: rlock.acquire(foo=1)),
        child.outcome(lambda: rlock.acquire(True, 1, 2)),
        child.outcome(lambda: rlock.release(1)),
    ]


@case
def lock_aliases() -> Any:
    lock = threading.Lock()
    return [
        lock.acquire_lock(),  # type: ignore[attr-defined]
        lock.locked_lock(),  # type: ignore[attr-defined]
        lock.acquire_lock(False),  # type: ignore[attr-defined]
        lock.release_lock(),  # type: ignore[attr-defined]
        lock.locked(),
    ]


@case
def lock_at_fork_reinit() -> Any:
    lock = threading.Lock()
    lock.acquire()
    lock._at_fork_reinit()  # type: ignore[attr-defined]
    seen = [lock.locked(), lock.acquire(False), lock.locked()]
    lock.release()
    seen.append(lock.locked())
    return seen


@case
def locks_are_weakly_referenceable() -> Any:
    import weakref

    lock, rlock = threading.Lock(), threading.RLock()
    return [weakref.ref(lock)() is lock, weakref.ref(rlock)() is rlock]


# A lock cannot be copied or pickled: TypeError, naming the C type (a copy
# would be a second lock object sharing the first one's state).
@case
def locks_cannot_be_copied_or_pickled() -> Any:
    import copy
    import pickle

    return [
        child.outcome(lambda: fn(make()))
        for make in (threading.Lock, threading.RLock)
        for fn in (copy.copy, copy.deepcopy, pickle.dumps)
    ]


@case
def lock_contended_by_workers_and_a_thread() -> Any:
    # A yield inside the critical section: without mutual exclusion the
    # read-modify-write loses increments.
    lock = threading.Lock()
    counter = [0]
    inside = [0, 0]  # now, most at once

    def work(n: int) -> None:
        for _ in range(n):
            with lock:
                inside[0] += 1
                inside[1] = max(inside[1], inside[0])
                v = counter[0]
                time.sleep(0)
                counter[0] = v + 1
                inside[0] -= 1

    def work_timed(n: int) -> int:
        taken = 0
        while taken < n:
            if lock.acquire(timeout=0.5):
                inside[0] += 1
                inside[1] = max(inside[1], inside[0])
                v = counter[0]
                time.sleep(0)
                counter[0] = v + 1
                inside[0] -= 1
                lock.release()
                taken += 1
        return taken

    workers = [spawn(work, 50) for _ in range(4)] + [spawn(work_timed, 50)]
    threads = [spawn_thread(work, 50), spawn_thread(work_timed, 50)]
    for w in workers + threads:
        w.join()
    return counter[0], inside[1], lock.locked()


# -- RLock --------------------------------------------------------------------


@case
def rlock_two_workers_exclude_each_other() -> Any:
    # Goroutines of one thread must exclude each other, as threads do.
    rlock = threading.RLock()
    events: list[str] = []

    def work(name: str) -> None:
        for _ in range(3):
            with rlock:
                events.append(name + " in")
                with rlock:  # re-entering is fine
                    time.sleep(0.01)
                events.append(name + " out")

    ws = [spawn(work, n) for n in "abc"]
    for w in ws:
        w.join()
    paired = all(
        events[i].split()[0] == events[i + 1].split()[0] and events[i].endswith("in") for i in range(0, len(events), 2)
    )
    return len(events), paired


@case
def rlock_recursion() -> Any:
    rlock = threading.RLock()
    seen: list[Any] = [rlock._is_owned()]  # type: ignore[attr-defined]
    seen += [rlock.acquire(), rlock.acquire(), rlock.acquire(False), rlock.acquire(timeout=0.5)]
    seen.append(rlock._is_owned())  # type: ignore[attr-defined]
    if sys.version_info >= (3, 11):  # _recursion_count: new in 3.11
        seen.append(rlock._recursion_count())  # type: ignore[attr-defined]
    for _ in range(4):
        rlock.release()
    seen.append(rlock._is_owned())  # type: ignore[attr-defined]
    if sys.version_info >= (3, 11):
        seen.append(rlock._recursion_count())  # type: ignore[attr-defined]
    seen.append(child.outcome(rlock.release))
    return seen


@case
def rlock_release_unowned() -> Any:
    return child.outcome(threading.RLock().release)


@case
def rlock_owned_by_the_case_excludes_a_worker() -> Any:
    rlock = threading.RLock()
    rlock.acquire()
    rlock.acquire()

    def other() -> Any:
        return [
            rlock.acquire(False),
            timed(lambda: rlock.acquire(timeout=0.1))[0],
            child.outcome(rlock.release),
            rlock._is_owned(),  # type: ignore[attr-defined]
            rlock._recursion_count() if sys.version_info >= (3, 11) else None,  # type: ignore[attr-defined]
        ]

    with ticking() as ticks:
        seen = spawn(other).join()
    rlock.release()
    rlock.release()
    return seen, ticked(ticks, 0.1), spawn(lambda: rlock.acquire(False)).join()


@case
def rlock_owned_by_a_plain_thread() -> Any:
    # Owned per thread for plain threads: re-entrant within the thread,
    # closed to everyone else (a goroutine included).
    rlock = threading.RLock()
    held = threading.Event()
    go_on = threading.Event()

    def owner() -> Any:
        got = [rlock.acquire(), rlock.acquire(timeout=0.1), rlock._is_owned()]  # type: ignore[attr-defined]
        held.set()
        go_on.wait(LIMIT)
        rlock.release()
        rlock.release()
        return got

    t = spawn_thread(owner)
    held.wait(LIMIT)
    seen = [rlock.acquire(False), child.outcome(rlock.release), rlock._is_owned()]  # type: ignore[attr-defined]
    go_on.set()
    return t.join(), seen, rlock.acquire(timeout=LIMIT)


@case
def rlock_waiter_gets_it_on_the_last_release() -> Any:
    rlock = threading.RLock()
    order = []

    def hold() -> None:
        with rlock:
            with rlock:
                order.append("holder in")
                time.sleep(0.05)
            order.append("holder half out")
            time.sleep(0.05)
            order.append("holder out")

    w = spawn(hold)
    wait_until(lambda: order)
    with rlock:
        order.append("case in")
    w.join()
    return order


@case
def rlock_acquire_bad_arguments() -> Any:
    return _bad_acquires(threading.RLock)


@case
def rlock_with_statement() -> Any:
    rlock = threading.RLock()
    with rlock as a:
        with rlock as b:
            inner = rlock._is_owned()  # type: ignore[attr-defined]
    return [a, b, inner, rlock._is_owned(), rlock.acquire(False)]  # type: ignore[attr-defined]


@case
def rlock_types() -> Any:
    return [
        isinstance(threading.RLock(), _thread.RLock),  # type: ignore[attr-defined]
        type(threading.RLock()) is _thread.RLock,  # type: ignore[attr-defined]
        child.outcome(lambda: _thread.RLock().acquire(False)),  # type: ignore[attr-defined]
        child.outcome(lambda: threading._PyRLock is not None),  # type: ignore[attr-defined]
    ]


@case
def rlock_at_fork_reinit() -> Any:
    rlock = threading.RLock()
    rlock.acquire()
    rlock.acquire()
    rlock._at_fork_reinit()  # type: ignore[attr-defined]
    seen = [rlock._is_owned(), spawn(lambda: rlock.acquire(False)).join()]  # type: ignore[attr-defined]
    return seen


# -- Condition ----------------------------------------------------------------


@case
def condition_default_rlock_wait_notify() -> Any:
    cond = threading.Condition()
    items: list[int] = []
    got: list[int] = []

    def consumer() -> Any:
        seen = []
        with cond:
            for _ in range(3):
                ok = cond.wait_for(lambda: items, timeout=LIMIT)
                seen.append(bool(ok))
                got.append(items.pop(0))
        return seen

    with ticking() as ticks:
        c = spawn(consumer)
        for i in range(3):
            time.sleep(0.03)
            with cond:
                items.append(i)
                cond.notify()
        oks = c.join()
    return got, oks, ticked(ticks, 0.09), type(cond._lock) is type(threading.RLock())


@case
def condition_on_a_lock() -> Any:
    cond = threading.Condition(threading.Lock())
    flag = []

    def setter() -> None:
        time.sleep(0.05)
        with cond:
            flag.append(1)
            cond.notify_all()

    w = spawn(setter)
    with cond:
        got = cond.wait_for(lambda: flag, timeout=LIMIT)
    w.join()
    return got


@case
def condition_wait_timeout() -> Any:
    cond = threading.Condition()
    with ticking() as ticks:
        with cond:
            got, dt = timed(lambda: cond.wait(0.1))
            owned = cond._is_owned()  # type: ignore[attr-defined]
    return got, around(dt, 0.1), ticked(ticks, 0.1), owned


@case
def condition_wait_for_timeout() -> Any:
    cond = threading.Condition()
    with cond:
        got, dt = timed(lambda: cond.wait_for(lambda: 0, timeout=0.1))
    return got, around(dt, 0.1)


@case
def condition_notify_one_wakes_exactly_one() -> Any:
    cond = threading.Condition()
    # Waits of 0.5 s: time for all three to queue, even on a loaded machine.
    waiters = [spawn(lambda: timed(lambda: _wait(cond, 0.5))) for _ in range(3)]
    wait_until(lambda: len(cond._waiters) == 3, "three waiters")  # type: ignore[attr-defined]
    with cond:
        cond.notify()
    results = [w.join() for w in waiters]
    woken = [r for r in results if r[0] == ["ok", "True"]]
    return sorted(r[0][1] for r in results), [dt < 0.45 for _, dt in woken]


def _wait(cond: threading.Condition, timeout: float) -> bool:
    with cond:
        return cond.wait(timeout)


@case
def condition_notify_all() -> Any:
    cond = threading.Condition()
    waiters = [spawn(_wait, cond, LIMIT) for _ in range(4)]
    wait_until(lambda: len(cond._waiters) == 4, "four waiters")  # type: ignore[attr-defined]
    with cond:
        cond.notify_all()
    return [w.join() for w in waiters], len(cond._waiters)  # type: ignore[attr-defined]


@case
def condition_notify_n() -> Any:
    cond = threading.Condition(threading.Lock())
    waiters = [spawn(_wait, cond, 0.5) for _ in range(4)]
    wait_until(lambda: len(cond._waiters) == 4, "four waiters")  # type: ignore[attr-defined]
    with cond:
        cond.notify(2)
    return sorted(w.join() for w in waiters)


@case
def condition_misuse() -> Any:
    cond = threading.Condition()
    return [
        child.outcome(cond.notify),
        child.outcome(cond.notify_all),
        child.outcome(cond.wait),
        child.outcome(lambda: cond.wait_for(lambda: True)),
    ]


# -- Event, Semaphore, Barrier, Timer -------------------------------------------


@case
def event_set_by_a_worker_wakes_a_long_wait() -> Any:
    event = threading.Event()

    def setter() -> None:
        time.sleep(0.1)
        event.set()

    with ticking() as ticks:
        t0 = time.monotonic()
        w = spawn(setter)
        got, dt = timed(lambda: event.wait(timeout=1), t0)
        w.join()
    return got, 0.095 <= dt < 0.8, ticked(ticks, 0.1)


@case
def event_wait_timeout() -> Any:
    event = threading.Event()
    with ticking() as ticks:
        got, dt = timed(lambda: event.wait(0.1))
    return got, around(dt, 0.1), ticked(ticks, 0.1), event.is_set()


@case
def event_set_clear() -> Any:
    event = threading.Event()
    seen = [event.is_set(), event.wait(0)]
    event.set()
    seen += [event.is_set(), event.wait(), event.wait(0.01)]
    event.clear()
    seen += [event.is_set(), event.wait(0)]
    return seen


@case
def event_wakes_every_waiter() -> Any:
    event = threading.Event()
    waiters = [spawn(event.wait, LIMIT) for _ in range(5)]
    time.sleep(0.02)
    event.set()
    return [w.join() for w in waiters]


@case
def semaphore_limits_holders() -> Any:
    sem = threading.Semaphore(2)
    inside = [0, 0]

    def work() -> None:
        for _ in range(3):
            with sem:
                inside[0] += 1
                inside[1] = max(inside[1], inside[0])
                time.sleep(0.01)
                inside[0] -= 1

    ws = [spawn(work) for _ in range(5)]
    for w in ws:
        w.join()
    return inside, sem.acquire(False), sem.acquire(False), sem.acquire(False)


@case
def semaphore_acquire_timeout() -> Any:
    sem = threading.Semaphore(0)
    with ticking() as ticks:
        got, dt = timed(lambda: sem.acquire(timeout=0.1))
    return got, around(dt, 0.1), ticked(ticks, 0.1), sem.acquire(False)


@case
def semaphore_release_n_wakes_n() -> Any:
    sem = threading.Semaphore(0)
    waiters = [spawn(sem.acquire, True, 0.3) for _ in range(3)]
    time.sleep(0.02)
    sem.release(2)
    return sorted(w.join() for w in waiters)


@case
def semaphore_misuse() -> Any:
    return [
        child.outcome(lambda: threading.Semaphore(-1)),
        child.outcome(lambda: threading.Semaphore(1).acquire(False, 1)),
        child.outcome(lambda: threading.Semaphore(1).release(0)),
    ]


@case
def bounded_semaphore_over_release() -> Any:
    sem = threading.BoundedSemaphore(2)
    sem.acquire()
    sem.release()
    return child.outcome(sem.release), sem.acquire(False), sem.acquire(False), sem.acquire(False)


@case
def barrier_of_three() -> Any:
    actions = []
    barrier = threading.Barrier(3, action=lambda: actions.append(1), timeout=LIMIT)

    def party() -> int:
        time.sleep(0.01)
        return barrier.wait()

    ws = [spawn(party) for _ in range(2)]
    mine = barrier.wait()
    indices = sorted([mine] + [w.join() for w in ws])
    return indices, actions, barrier.broken, barrier.n_waiting


@case
def barrier_timeout_breaks_it() -> Any:
    barrier = threading.Barrier(2)
    with ticking() as ticks:
        got, dt = timed(lambda: barrier.wait(timeout=0.1))
    return got, around(dt, 0.1), ticked(ticks, 0.1), barrier.broken, child.outcome(barrier.wait)


@case
def barrier_abort_wakes_a_waiter() -> Any:
    barrier = threading.Barrier(3)
    w = spawn(barrier.wait, LIMIT)
    wait_until(lambda: barrier.n_waiting == 1, "a waiter")
    barrier.abort()
    return child.outcome(w.join), barrier.broken


@case
def timer_fires_and_cancels() -> Any:
    fired: list[str] = []
    t = threading.Timer(0.05, fired.append, ("fired",))
    t.start()
    t.join(LIMIT)
    c = threading.Timer(LIMIT, fired.append, ("cancelled",))
    c.start()
    c.cancel()
    c.join(LIMIT)
    return fired, t.is_alive(), c.is_alive()


# -- Thread.join ----------------------------------------------------------------


@case
def thread_join_waits_for_the_thread() -> Any:
    t = threading.Thread(target=time.sleep, args=(0.2,))  # the real sleep: a plain thread
    t0 = time.monotonic()
    t.start()
    with ticking() as ticks:
        got, dt = timed(t.join, t0)
    return got, 0.195 <= dt < 1.0, ticked(ticks, 0.1), t.is_alive()


@case
def thread_join_timeout_leaves_it_alive() -> Any:
    release = threading.Event()
    t = threading.Thread(target=release.wait, args=(LIMIT,))
    t.start()
    with ticking() as ticks:
        got, dt = timed(lambda: t.join(timeout=0.1))
    alive = t.is_alive()
    release.set()
    t.join(LIMIT)
    return got, around(dt, 0.1), ticked(ticks, 0.1), alive, t.is_alive()


@case
def thread_join_finished_thread() -> Any:
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    return [t.join(), t.join(0), t.join(-1), t.is_alive()]


@case
def thread_join_misuse() -> Any:
    t = threading.Thread(target=lambda: None)
    return [
        child.outcome(t.join),
        child.outcome(lambda: t.join(0.1)),
        child.outcome(threading.current_thread().join),
        child.outcome(lambda: threading.current_thread().join(0.01)),
    ]


@case
def thread_join_negative_timeout_on_a_live_thread() -> Any:
    release = threading.Event()
    t = threading.Thread(target=release.wait, args=(LIMIT,))
    t.start()
    got = child.outcome(lambda: t.join(-1))
    alive = t.is_alive()
    release.set()
    t.join(LIMIT)
    return got, alive


@case
def thread_join_from_several_workers() -> Any:
    t = threading.Thread(target=time.sleep, args=(0.1,))
    t.start()
    joiners = [spawn(t.join, LIMIT) for _ in range(5)]
    return [w.join() for w in joiners], t.is_alive()


# -- concurrent.futures -------------------------------------------------------------


def _slow_square(x: int) -> int:
    time.sleep(0.05)
    return x * x


@case
def futures_result_from_workers() -> Any:
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(_slow_square, i) for i in range(8)]
        with ticking() as ticks:
            getters = [spawn(lambda f=f: f.result(timeout=LIMIT)) for f in futures]
            results = [w.join() for w in getters]
    return results, ticked(ticks, 0.05)


@case
def futures_result_timeout() -> Any:
    release = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        fut = pool.submit(release.wait, LIMIT)
        with ticking() as ticks:
            got, dt = timed(lambda: fut.result(timeout=0.1))
        exc, _ = timed(lambda: fut.exception(timeout=0.05))
        release.set()
        final = fut.result(timeout=LIMIT)
    return got, exc, around(dt, 0.1), ticked(ticks, 0.1), final


@case
def futures_exception_and_cancel() -> Any:
    def fail() -> None:
        time.sleep(0.02)
        raise KeyError("from the pool")

    release = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        blocker = pool.submit(release.wait, LIMIT)
        queued = pool.submit(fail)
        cancelled = queued.cancel()
        failing = pool.submit(fail)
        release.set()
        return [
            blocker.result(LIMIT),
            cancelled,
            child.outcome(lambda: queued.result(LIMIT)),
            child.outcome(lambda: failing.result(LIMIT)),
            repr(failing.exception(LIMIT)),
        ]


@case
def futures_wait_and_as_completed() -> Any:
    release = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        quick = pool.submit(_slow_square, 3)
        slow = pool.submit(release.wait, LIMIT)
        done, not_done = concurrent.futures.wait(
            [quick, slow], timeout=LIMIT, return_when=concurrent.futures.FIRST_COMPLETED
        )
        first = [f is quick for f in done], [f is slow for f in not_done]
        t0 = time.monotonic()
        waited = concurrent.futures.wait([slow], timeout=0.1)
        still = [len(waited.done), len(waited.not_done)]
        dt = time.monotonic() - t0
        timeout = child.outcome(lambda: list(concurrent.futures.as_completed([slow], timeout=0.1)))
        release.set()
        completed = sorted(repr(f.result()) for f in concurrent.futures.as_completed([quick, slow], timeout=LIMIT))
    return first, still, around(dt, 0.1), timeout, completed


# -- queue ----------------------------------------------------------------------------


@queue_case
def queue_get_waits_for_a_put() -> Any:
    q: queue.Queue[int] = queue.Queue()

    def putter() -> None:
        time.sleep(0.1)
        q.put(1)

    with ticking() as ticks:
        t0 = time.monotonic()
        w = spawn(putter)
        got, dt = timed(q.get, t0)
        w.join()
    return got, 0.095 <= dt < 1.0, ticked(ticks, 0.1)


@queue_case
def queue_put_waits_on_a_full_queue() -> Any:
    q: queue.Queue[int] = queue.Queue(maxsize=1)
    q.put(1)

    def getter() -> int:
        time.sleep(0.1)
        return q.get()

    with ticking() as ticks:
        t0 = time.monotonic()
        w = spawn(getter)
        got, dt = timed(lambda: q.put(2), t0)
        first = w.join()
    return got, first, q.get_nowait(), 0.095 <= dt < 1.0, ticked(ticks, 0.1)


@queue_case
def queue_get_timeout() -> Any:
    q: queue.Queue[int] = queue.Queue()
    with ticking() as ticks:
        got, dt = timed(lambda: q.get(timeout=0.1))
    return got, around(dt, 0.1), ticked(ticks, 0.1)


@queue_case
def queue_put_timeout() -> Any:
    q: queue.Queue[int] = queue.Queue(1)
    q.put(0)
    with ticking() as ticks:
        got, dt = timed(lambda: q.put(1, timeout=0.1))
    return got, around(dt, 0.1), ticked(ticks, 0.1), q.qsize()


@queue_case
def queue_nowait_and_bad_timeouts() -> Any:
    q: queue.Queue[int] = queue.Queue(1)
    seen = [child.outcome(q.get_nowait), child.outcome(lambda: q.get(False)), child.outcome(lambda: q.get(True, -1))]
    q.put_nowait(1)
    seen += [
        child.outcome(lambda: q.put_nowait(2)),
        child.outcome(lambda: q.put(2, False)),
        child.outcome(lambda: q.put(2, timeout=-1)),
        q.full(),
        q.empty(),
        q.qsize(),
    ]
    return seen


@queue_case
def queue_task_done_and_join() -> Any:
    q: queue.Queue[int] = queue.Queue()
    done: list[int] = []

    def worker() -> None:
        time.sleep(0.1)  # join() waits for this at least
        while True:
            item = q.get(timeout=LIMIT)
            if item < 0:
                q.task_done()
                return
            time.sleep(0.01)
            done.append(item)
            q.task_done()

    t0 = time.monotonic()
    w = spawn(worker)
    for i in range(5):
        q.put(i)
    q.put(-1)
    with ticking() as ticks:
        got, dt = timed(q.join, t0)
    w.join()
    return got, 0.145 <= dt < 1.5, done, ticked(ticks, 0.1), child.outcome(q.task_done)


@queue_case
def lifo_and_priority_queues() -> Any:
    lifo: queue.LifoQueue[int] = queue.LifoQueue()
    prio: queue.PriorityQueue[tuple[int, str]] = queue.PriorityQueue()

    def putter() -> None:
        time.sleep(0.02)
        for i in range(3):
            lifo.put(i)
        for p in (3, 1, 2):
            prio.put((p, str(p)))

    w = spawn(putter)
    first = lifo.get(timeout=LIMIT)  # whatever came first: the getter waited
    w.join()
    return [
        first,
        lifo.get(),
        lifo.get(),
        child.outcome(lambda: lifo.get(timeout=0.01))[:2],
        [prio.get(timeout=LIMIT) for _ in range(3)],
    ]


@queue_case
def queue_between_several_workers() -> Any:
    q: queue.Queue[int] = queue.Queue(maxsize=3)
    got: list[int] = []

    def producer(base: int) -> None:
        for i in range(20):
            q.put(base + i, timeout=LIMIT)

    def consumer() -> None:
        while True:
            item = q.get(timeout=LIMIT)
            if item < 0:
                return
            got.append(item)

    consumers = [spawn(consumer) for _ in range(3)] + [spawn_thread(consumer)]
    producers = [spawn(producer, 100 * k) for k in range(3)] + [spawn_thread(producer, 1000)]
    for p in producers:
        p.join()
    for _ in consumers:
        q.put(-1)
    for c in consumers:
        c.join()
    want = sorted([100 * k + i for k in range(3) for i in range(20)] + [1000 + i for i in range(20)])
    return sorted(got) == want, len(got)


@queue_case
def simple_queue_fifo() -> Any:
    q: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for i in range(5):
        q.put(i)
    q.put_nowait("x")
    q.put("y", block=False, timeout=-5)  # both ignored, as in C
    return [q.qsize(), q.empty()] + [q.get() for _ in range(7)] + [q.empty(), q.qsize()]


@queue_case
def simple_queue_bad_timeouts_and_empty() -> Any:
    q: queue.SimpleQueue[int] = queue.SimpleQueue()
    return [
        child.outcome(lambda: q.get(timeout=-1)),
        child.outcome(lambda: q.get(True, -0.001)),
        child.outcome(lambda: q.get(timeout="x")),
        child.outcome(lambda: q.get(timeout=float("nan"))),
        child.outcome(lambda: q.get(False)),
        child.outcome(lambda: q.get(False, -1)),  # not checked when not blocking
        child.outcome(q.get_nowait),
        child.outcome(lambda: q.get(timeout=0)),
    ]


@queue_case
def simple_queue_call_signatures() -> Any:
    # KNOWN_DIFFERENT, as lock_call_signatures (the constructor's matches).
    q: queue.SimpleQueue[int] = queue.SimpleQueue()
    return [
        child.outcome(lambda: queue.SimpleQueue(1)),
        child.outcome(lambda: q.get(foo=1)),
        child.outcome(lambda: q.put()),  # type: ignore[call-arg]
        child.outcome(lambda: q.get(True, 1, 2)),  # type: ignore[call-arg]
    ]


@queue_case
def simple_queue_bad_timeout_with_an_item() -> Any:
    # The C queue checks timeout first, even with an item to return.
    q: queue.SimpleQueue[int] = queue.SimpleQueue()
    q.put(1)
    q.put(2)
    return [child.outcome(lambda: q.get(timeout=-1)), child.outcome(lambda: q.get(timeout="x"))]


@queue_case
def simple_queue_get_timeout() -> Any:
    q: queue.SimpleQueue[int] = queue.SimpleQueue()
    with ticking() as ticks:
        got, dt = timed(lambda: q.get(timeout=0.1))
    return got, around(dt, 0.1), ticked(ticks, 0.1)


@queue_case
def simple_queue_get_waits_for_a_worker() -> Any:
    q: queue.SimpleQueue[str] = queue.SimpleQueue()

    def putter() -> None:
        time.sleep(0.1)
        q.put("from a worker")

    with ticking() as ticks:
        t0 = time.monotonic()
        w = spawn(putter)
        got, dt = timed(lambda: q.get(timeout=LIMIT), t0)
        w.join()
    return got, 0.095 <= dt < 1.0, ticked(ticks, 0.1)


@queue_case
def simple_queue_put_from_a_plain_thread_wakes_the_getter() -> Any:
    q: queue.SimpleQueue[str] = queue.SimpleQueue()

    def putter() -> None:
        time.sleep(0.1)
        q.put("from a thread")

    with ticking() as ticks:
        t0 = time.monotonic()
        t = spawn_thread(putter)
        got, dt = timed(lambda: q.get(timeout=LIMIT), t0)
        t.join()
    return got, 0.095 <= dt < 1.0, ticked(ticks, 0.1)


@queue_case
def simple_queue_put_wakes_a_plain_thread_getter() -> Any:
    q: queue.SimpleQueue[str] = queue.SimpleQueue()
    t0 = time.monotonic()
    t = spawn_thread(timed, lambda: q.get(timeout=LIMIT), t0)
    time.sleep(0.1)
    q.put("to a thread")
    got, dt = t.join()
    return got, 0.095 <= dt < 1.0


@queue_case
def simple_queue_many_getters_many_putters() -> Any:
    q: queue.SimpleQueue[int] = queue.SimpleQueue()
    n_putters, per = 6, 100

    def putter(k: int) -> None:
        for i in range(per):
            q.put(k * per + i)
            if i % 10 == 0:
                time.sleep(0)

    def getter() -> list[int]:
        got = []
        while True:
            item = q.get(timeout=LIMIT)
            if item < 0:
                return got
            got.append(item)

    getters = [spawn(getter) for _ in range(4)] + [spawn_thread(getter) for _ in range(2)]
    putters = [spawn(putter, k) for k in range(n_putters - 2)] + [spawn_thread(putter, k) for k in (4, 5)]
    for p in putters:
        p.join()
    for _ in getters:
        q.put(-1)
    got = [x for g in getters for x in g.join()]
    # Each getter saw each putter's items in order (FIFO).
    in_order = all(
        [x for x in g.result if x // per == k] == sorted(x for x in g.result if x // per == k)
        for g in getters
        for k in range(n_putters)
    )
    return len(got), sorted(got) == list(range(n_putters * per)), in_order, q.empty()


@queue_case
def simple_queue_types() -> Any:
    alias = queue.SimpleQueue[int]
    return [
        alias.__origin__ is queue.SimpleQueue,  # type: ignore[attr-defined]
        alias.__args__,  # type: ignore[attr-defined]
        type(alias).__name__,
        isinstance(queue.SimpleQueue(), queue.SimpleQueue),
        queue.SimpleQueue.__name__,
        issubclass(queue.Empty, Exception),
    ]
