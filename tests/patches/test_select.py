"""select, poll, epoll and selectors under the patch layer.

The cases in select_cases.py run unpatched, patched in goroutines and
patched in a plain thread; every outcome must match. Then the waits must
let other goroutines run and wake when another goroutine makes an fd ready.
"""

from __future__ import annotations

from typing import Any

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
