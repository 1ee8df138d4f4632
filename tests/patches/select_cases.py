"""select, poll, epoll and selectors cases, run patched and unpatched
(child side; see socket_cases.py for how they are compared).

Fds in results are replaced by names ("a", "b", ...) so that two runs
compare equal.
"""

from __future__ import annotations

import os
import select
import selectors
import socket
import time
from collections.abc import Callable
from typing import Any

import child

_cases = child.Cases()
case = _cases.case
CASES = _cases.fns
run_all = _cases.run_all
pair = child.pair


def named(result: Any, names: dict[Any, str]) -> Any:
    """``result`` with sockets and fds replaced by their names."""
    if isinstance(result, (list, tuple)):
        return type(result)(named(x, names) for x in result)
    if isinstance(result, socket.socket):
        return names.get(result.fileno(), "?")
    if isinstance(result, int) and not isinstance(result, bool) and result in names:
        return names[result]
    return result


def timed(fn: Callable[[], Any], at_least: float) -> Any:
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0 >= at_least


# -- select.select -----------------------------------------------------------


@case
def select_ready() -> Any:
    with pair() as (a, b):
        names = {a.fileno(): "a", b.fileno(): "b"}
        b.sendall(b"x")
        return [
            named(select.select([a, b], [a], [], 1.0), names),
            named(select.select([a.fileno()], [], [], None), names),
            named(select.select([a], [], [a], 1.0), names),
        ]


@case
def select_timeout() -> Any:
    with pair() as (a, _):
        return timed(lambda: select.select([a], [], [], 0.05), 0.05), select.select([a], [], [], 0)


@case
def select_x_only_timeout() -> Any:
    with pair() as (a, b):
        return timed(lambda: select.select([], [], [a, b], 0.05), 0.05)


@case
def select_iterators() -> Any:
    with pair() as (a, b):
        b.sendall(b"x")
        names = {a.fileno(): "a"}
        return named(select.select(iter([a]), (s for s in [a]), iter(()), 0.5), names)


@case
def select_errors() -> Any:
    closed = socket.socket()
    closed.close()
    with pair() as (a, _):
        return [
            child.outcome(lambda: select.select([a], [], [], -1)),
            child.outcome(lambda: select.select([a], [], [], "1")),  # type: ignore[arg-type]
            child.outcome(lambda: select.select([a], [], [], float("nan"))),
            child.outcome(lambda: select.select(1, [], [], 0.01)),  # type: ignore[arg-type]
            child.outcome(lambda: select.select([-1], [], [], 0.01)),
            child.outcome(lambda: select.select([closed], [], [], 0.01)),
            child.outcome(lambda: select.select(["x"], [], [], 0.01)),
            child.outcome(lambda: select.select([], [], [], 0.01, 5)),  # type: ignore[call-arg]
        ]


@case
def select_closed_fd_number() -> Any:
    r, w = os.pipe()
    os.close(r)
    try:
        return child.outcome(lambda: select.select([r], [], [], 0.05))
    finally:
        os.close(w)


# -- select.poll -------------------------------------------------------------


@case
def poll_object() -> Any:
    with pair() as (a, b):
        names = {a.fileno(): "a", b.fileno(): "b"}
        p = select.poll()
        p.register(a, select.POLLIN)
        p.register(b.fileno())

        def polled(*args: Any) -> Any:
            return [(names[fd], ev) for fd, ev in p.poll(*args)]

        first = timed(lambda: p.poll(50), 0.05)[1], polled(0)  # b is writable at once
        p.modify(b, select.POLLIN)
        empty = timed(lambda: p.poll(50), 0.05)
        b.sendall(b"x")
        ready = polled(1000)
        p.unregister(a)
        after = polled(0)
        return [first, empty, ready, after]


@case
def poll_errors() -> Any:
    with pair() as (a, _):
        p = select.poll()
        p.register(a, select.POLLIN)
        return [
            child.outcome(lambda: p.poll("x")),  # type: ignore[arg-type]
            child.outcome(lambda: p.poll(float("nan"))),
            child.outcome(lambda: p.poll(2**40)),
            child.outcome(lambda: p.poll(1, 2)),  # type: ignore[call-arg]
            child.outcome(lambda: p.unregister(12345)),
            child.outcome(lambda: p.register("x")),  # type: ignore[arg-type]
            timed(lambda: p.poll(10), 0.01),
        ]


@case
def poll_pri_only() -> Any:
    with pair() as (a, _):
        p = select.poll()
        p.register(a, select.POLLPRI)
        return timed(lambda: p.poll(50), 0.05)


@case
def poll_type() -> Any:
    # The poll type is made only by select.poll(): CPython's test_select
    # checks that calling it fails (test_disallow_instantiation).
    tp = type(select.poll())
    return [
        tp.__module__,
        tp.__name__,
        child.outcome(lambda: tp()),
        child.outcome(lambda: type("sub", (tp,), {})),
        child.outcome(lambda: select.poll(1)),  # type: ignore[call-arg]
        child.outcome(lambda: select.poll(x=1)),  # type: ignore[call-arg]
    ]


# -- select.epoll ------------------------------------------------------------


@case
def epoll_object() -> Any:
    if not hasattr(select, "epoll"):
        return "no epoll"
    with pair() as (a, b), select.epoll() as ep:
        names = {a.fileno(): "a"}
        ep.register(a, select.EPOLLIN | select.EPOLLET)
        empty = timed(lambda: ep.poll(0.05), 0.05)
        b.sendall(b"x")
        ready = ep.poll(1.0)
        # Edge-triggered: the same readiness is not reported twice.
        again = timed(lambda: ep.poll(0.05), 0.05)
        b.sendall(b"y")
        more = ep.poll(timeout=1.0, maxevents=1)
        return named([empty, ready, again, more, ep.closed, type(ep.fileno()).__name__], names)


@case
def epoll_errors() -> Any:
    if not hasattr(select, "epoll"):
        return "no epoll"
    ep = select.epoll()
    out = [
        child.outcome(lambda: ep.poll("x")),  # type: ignore[arg-type]
        child.outcome(lambda: ep.poll(0.01, 0)),
        child.outcome(lambda: ep.poll(bogus=1)),  # type: ignore[call-arg]
    ]
    ep.close()
    out.append(child.outcome(lambda: ep.poll(0.01)))
    out.append(ep.closed)
    return out


# -- selectors ---------------------------------------------------------------

SELECTOR_CLASSES = [
    name for name in ("DefaultSelector", "SelectSelector", "PollSelector", "EpollSelector") if hasattr(selectors, name)
]


@case
def selectors_all() -> Any:
    out = {}
    for name in SELECTOR_CLASSES:
        with pair() as (a, b), getattr(selectors, name)() as sel:
            sel.register(a, selectors.EVENT_READ, "A")
            sel.register(b, selectors.EVENT_WRITE, "B")
            first = [(key.data, ev) for key, ev in sel.select(1.0)]
            sel.unregister(b)
            empty = timed(lambda: sel.select(0.05), 0.05)
            b.sendall(b"x")
            ready = [(key.data, ev) for key, ev in sel.select(None)]
            nonblocking = [(key.data, ev) for key, ev in sel.select(-1)]
            errors = child.outcome(lambda: sel.select("x"))  # type: ignore[arg-type]
            out[name] = [first, empty, ready, nonblocking, errors[:2]]
    return out


@case
def selector_empty_timeout() -> Any:
    with selectors.DefaultSelector() as sel:
        return timed(lambda: sel.select(0.05), 0.05)
