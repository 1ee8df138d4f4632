"""select, poll, epoll and selectors under the patch layer.

The cases in select_cases.py run unpatched, patched in goroutines and
patched in a plain thread; every outcome must match. Then the waits must
let other goroutines run and wake when another goroutine makes an fd ready.
"""

from __future__ import annotations

from typing import Any

import pytest

from offset.patches import _deadline

from .conftest import cases_script, run_child

PLAIN = cases_script("select_cases", "plain")
IN_GOROUTINES = cases_script("select_cases", "goroutine")
IN_A_THREAD = cases_script("select_cases", "thread")


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got.keys() == want.keys()
    assert {k: (got[k], want[k]) for k in want if got[k] != want[k]} == {}


def test_cases_match_unpatched() -> None:
    plain = run_child(PLAIN)
    patched = run_child(IN_GOROUTINES)
    assert_same(patched["cases"], plain)
    assert patched["ticks"] > 20  # the waits let a ticker goroutine run
    assert_same(run_child(IN_A_THREAD), plain)


WAKE = """
import child; child.start()
import offset; offset.patch_all()
import select, selectors, socket, time
out = {}
def waiter(name, wait):
    a, b = socket.socketpair()
    def writer():
        time.sleep(0.05)
        b.sendall(b"x")
    offset.go(writer)
    t0 = time.monotonic()
    ready = wait(a)
    out[name] = [bool(ready), round(time.monotonic() - t0, 1)]
def via_poll(a):
    p = select.poll(); p.register(a, select.POLLIN); return p.poll(5000)
def via_epoll(a):
    with select.epoll() as ep:
        ep.register(a, select.EPOLLIN); return ep.poll(5)
def via_selector(cls):
    def wait(a):
        with cls() as sel:
            sel.register(a, selectors.EVENT_READ); return sel.select(5)
    return wait
def main():
    waits = {
        "select": lambda a: select.select([a], [], [], 5)[0],
        "poll": via_poll,
        "epoll": via_epoll,
        "SelectSelector": via_selector(selectors.SelectSelector),
        "PollSelector": via_selector(selectors.PollSelector),
        "EpollSelector": via_selector(selectors.EpollSelector),
    }
    for name, wait in waits.items():
        offset.go(waiter, name, wait)
    while len(out) < len(waits):
        time.sleep(0.01)
offset.run(main)
child.report(out)
"""


def test_waits_wake_when_another_goroutine_writes() -> None:
    out = run_child(WAKE)
    # All six wait at once; each wakes about 50 ms later, not after 5 s.
    assert sorted(out) == sorted(["select", "poll", "epoll", "SelectSelector", "PollSelector", "EpollSelector"])
    assert all(ready and took < 1.0 for ready, took in out.values()), out


# -- the deadline-and-retry helper under every patched wait ------------------
# (offset/patches/_deadline.py), on a fake clock: attempts and waits are
# scripted, so each step of the loop can be checked without a scheduler.


class Script:
    """A fake clock, and the attempt/wait/expired callables of one call."""

    def __init__(self, attempts: list[Any], waits: list[bool], *, attempt_cost: float = 0.0) -> None:
        self.now = 100.0
        self.attempts = list(attempts)
        self.waits = list(waits)
        self.attempt_cost = attempt_cost
        self.log: list[Any] = []

    def clock(self) -> float:
        return self.now

    def attempt(self) -> Any:
        self.now += self.attempt_cost
        self.log.append("attempt")
        result = self.attempts.pop(0)
        if result == "EAGAIN":
            try:
                raise BlockingIOError(11, "Resource temporarily unavailable")
            except BlockingIOError:
                return _deadline.NOT_READY
        return result

    def wait(self, remaining: float | None) -> bool:
        self.log.append(("wait", remaining))
        fired = self.waits.pop(0)
        if not fired and remaining is not None:
            self.now += remaining
        return fired


def run_script(monkeypatch: pytest.MonkeyPatch, script: Script, timeout: float | None, **kw: Any) -> Any:
    monkeypatch.setattr(_deadline, "_monotonic", script.clock)
    return _deadline.retry(script.attempt, script.wait, timeout, _deadline.timed_out, **kw)


def test_retry_returns_the_first_ready_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Script(["EAGAIN", "EAGAIN", b"data"], [True, True])
    assert run_script(monkeypatch, s, None) == b"data"
    assert s.log == ["attempt", ("wait", None), "attempt", ("wait", None), "attempt"]


def test_retry_waits_only_for_what_is_left_of_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each attempt costs 0.25 s of the 1 s timeout; a wait that fires early
    # (a spurious wake-up) costs nothing; the deadline is taken once.
    s = Script(["EAGAIN", "EAGAIN", "EAGAIN"], [True, True, False], attempt_cost=0.25)
    with pytest.raises(TimeoutError, match=r"^timed out$") as info:
        run_script(monkeypatch, s, 1.0)
    assert s.log == ["attempt", ("wait", 0.75), "attempt", ("wait", 0.5), "attempt", ("wait", 0.25)]
    # Raised at the deadline outside any except clause: like the stdlib's,
    # the error carries no BlockingIOError as its context.
    assert info.value.__context__ is None


def test_retry_does_not_wait_past_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # The attempt itself used up the timeout: no wait of zero or less.
    s = Script(["EAGAIN"], [], attempt_cost=2.0)
    with pytest.raises(TimeoutError):
        run_script(monkeypatch, s, 1.0)
    assert s.log == ["attempt"]


def test_retry_gives_expired_answer_for_select_like_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    # select, poll, epoll and selectors look once more at the deadline and
    # return what they find (empty, or what became ready meanwhile).
    s = Script([[], [("fd", 1)]], [False])
    monkeypatch.setattr(_deadline, "_monotonic", s.clock)
    looks = iter([[]])
    result = _deadline.retry(lambda: s.attempt() or _deadline.NOT_READY, s.wait, 0.5, lambda: next(looks))
    assert result == []
    assert s.log == ["attempt", ("wait", 0.5)]


def test_retry_wait_first_skips_the_attempt_the_caller_just_made(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Script([b"done"], [True])
    assert run_script(monkeypatch, s, 3.0, wait_first=True) == b"done"
    assert s.log == [("wait", 3.0), "attempt"]


def test_retry_lets_a_wait_exception_through(monkeypatch: pytest.MonkeyPatch) -> None:
    # A signal handler's exception, or EBADF for an fd closed under the
    # wait, comes out of the call unchanged.
    s = Script(["EAGAIN"], [])

    def wait(remaining: float | None) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(_deadline, "_monotonic", s.clock)
    with pytest.raises(KeyboardInterrupt):
        _deadline.retry(s.attempt, wait, 1.0, _deadline.timed_out)
