"""Signal cases run the same way patched and unpatched (child side).

Each case installs a SIGALRM handler, arms a short one-shot timer
(``setitimer``, 50 ms) and makes a blocking call the alarm interrupts.
Python runs the handler in the main thread; its exception must come out
of the interrupted call, and a handler that returns must let the call
carry on with what is left of its timeout (PEP 475). The tests run the
cases unpatched, then patched in the main goroutine, and compare.
"""

from __future__ import annotations

import os
import select
import selectors
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

import child

_cases = child.Cases()
case = _cases.case
run_all = _cases.run_all
pair = child.pair

ALARM = 0.05


class Interrupted(Exception):
    pass


def _alarm(handler: Callable[[int, Any], Any], fn: Callable[[], Any]) -> Any:
    """``fn()`` with ``handler`` on SIGALRM and the alarm armed; all undone after."""
    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, ALARM)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _raising(signum: int, frame: Any) -> None:
    raise Interrupted(f"signal {signum}")


def _fill(sock: socket.socket) -> None:
    sock.setblocking(False)
    try:
        while True:
            sock.send(b"x" * 65536)
    except BlockingIOError:
        pass
    sock.setblocking(True)


@case
def recv_handler_raises() -> Any:
    with pair() as (a, b):
        got = child.outcome(lambda: _alarm(_raising, lambda: a.recv(10)))
        b.sendall(b"after")  # the socket is still whole, and nothing waits on it twice
        return got, a.recv(10)


@case
def recv_timeout_handler_returns() -> Any:
    calls = []
    with pair() as (a, _b):
        a.settimeout(0.3)
        t0 = time.monotonic()
        got = child.outcome(lambda: _alarm(lambda n, f: calls.append(n), lambda: a.recv(10)))
        return got, time.monotonic() - t0 >= 0.29, calls


@case
def sendall_handler_raises() -> Any:
    with pair() as (a, _b):
        _fill(a)
        return child.outcome(lambda: _alarm(_raising, lambda: a.sendall(b"y" * 1_000_000)))


@case
def sendall_timeout_handler_returns() -> Any:
    calls = []
    with pair() as (a, _b):
        _fill(a)
        a.settimeout(0.3)
        t0 = time.monotonic()
        got = child.outcome(lambda: _alarm(lambda n, f: calls.append(n), lambda: a.sendall(b"y" * 1_000_000)))
        return got, time.monotonic() - t0 >= 0.29, calls


@case
def accept_handler_raises_keyboard_interrupt() -> Any:
    def ctrl_c(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    with socket.create_server(("127.0.0.1", 0)) as listener:
        return child.outcome(lambda: _alarm(ctrl_c, listener.accept))


@case
def sleep_handler_raises() -> Any:
    t0 = time.monotonic()
    got = child.outcome(lambda: _alarm(_raising, lambda: time.sleep(5)))
    return got, time.monotonic() - t0 < 2


@case
def sleep_handler_returns() -> Any:
    calls = []
    t0 = time.monotonic()
    _alarm(lambda n, f: calls.append(n), lambda: time.sleep(0.25))
    return time.monotonic() - t0 >= 0.24, calls


@case
def select_handler_raises() -> Any:
    with pair() as (a, _b):
        return child.outcome(lambda: _alarm(_raising, lambda: select.select([a], [], [], 5)))


@case
def selector_handler_returns() -> Any:
    calls = []
    with pair() as (a, _b), selectors.DefaultSelector() as sel:
        sel.register(a, selectors.EVENT_READ)
        t0 = time.monotonic()
        got = _alarm(lambda n, f: calls.append(n), lambda: sel.select(0.25))
        return got, time.monotonic() - t0 >= 0.24, calls


@case
def handler_runs_before_the_next_line() -> Any:
    # A signal a thread sends itself is handled before its next bytecode.
    seen = []
    old = signal.signal(signal.SIGUSR1, lambda n, f: seen.append(n))
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        return list(seen)
    finally:
        signal.signal(signal.SIGUSR1, old)


@case
def handler_gets_a_frame() -> Any:
    frames = []
    with pair() as (a, _b):
        a.settimeout(0.2)
        child.outcome(lambda: _alarm(lambda n, f: frames.append(f), lambda: a.recv(1)))
    return [type(f).__name__ for f in frames]


@case
def signal_returns_the_previous_handler() -> Any:
    def first(signum: int, frame: Any) -> None:
        pass

    def second(signum: int, frame: Any) -> None:
        pass

    old = signal.signal(signal.SIGUSR2, first)
    try:
        returned = signal.signal(signal.SIGUSR2, second)
        return [
            returned is first,
            signal.getsignal(signal.SIGUSR2) is second,
            signal.getsignal(signal.SIGINT) is signal.default_int_handler,
            signal.signal(signal.SIGUSR2, signal.SIG_IGN) is second,
            signal.getsignal(signal.SIGUSR2) is signal.SIG_IGN,
        ]
    finally:
        signal.signal(signal.SIGUSR2, old)


@case
def bad_signal_number() -> Any:
    return child.outcome(lambda: signal.signal(9999, lambda n, f: None))


@case
def bad_handler() -> Any:
    return child.outcome(lambda: signal.signal(signal.SIGUSR2, 5))


@case
def bad_getsignal() -> Any:
    return child.outcome(lambda: signal.getsignal(-1))
