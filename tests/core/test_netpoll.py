"""The netpoller backends and the fd waits built on them (_io.py).

The contract is at the top of offset/_core/_netpoll.py; every test of a
backend runs against each implementation (epoll where the platform has it,
and the portable selectors one). The wait tests run goroutines on a
scheduler whose netpoller is the backend under test.
"""

from __future__ import annotations

import errno
import math
import os
import re
import select
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support import settle

import offset
from offset import go, makechan, run
from offset._core import (
    current_scheduler,
    mark_drained,
    notify_close,
    wait_fd,
    wait_fds,
    wait_quiet,
)
from offset._core._errors import InternalError
from offset._core._netpoll import NO_NETPOLL, AlreadyArmedError
from offset._core._netpoll_selectors import SelectorsNetpoll

BACKENDS: list[Any] = [SelectorsNetpoll]
if hasattr(select, "epoll"):
    from offset._core._netpoll_epoll import EpollNetpoll

    BACKENDS.insert(0, EpollNetpoll)


# What the TCP tests below show is Linux's behaviour (a reset leaves the
# data before it readable; a read stops at the urgent mark).
LINUX_TCP = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux TCP behaviour")


class Recorder:
    """A waiter that records how it fired."""

    def __init__(self) -> None:
        self.fired: list[bool] = []

    def fire(self, ok: bool) -> None:
        self.fired.append(ok)


@pytest.fixture(params=BACKENDS, ids=lambda cls: cls.__name__)
def poller(request: pytest.FixtureRequest) -> Iterator[Any]:
    p = request.param()
    yield p
    p.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def fill(sock: socket.socket) -> None:
    """Fill ``sock``'s send buffer until it says EAGAIN."""
    chunk = b"x" * 65536
    while True:
        try:
            sock.send(chunk)
        except BlockingIOError:
            return


def drain(sock: socket.socket) -> None:
    while True:
        try:
            if not sock.recv(65536):
                return
        except BlockingIOError:
            return


# -- the backend contract ---------------------------------------------------


def test_read_fires_when_data_arrives(poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    w = Recorder()
    poller.arm(a.fileno(), "r", w, a)
    assert poller.nwaiting == 1
    assert poller.poll(0) == 0
    assert w.fired == []
    b.send(b"hi")
    assert poller.poll(5) == 1
    assert w.fired == [True]
    assert poller.nwaiting == 0
    assert poller.armed(a.fileno(), "r") is None


def test_write_fires_when_buffer_drains(poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    fill(a)
    w = Recorder()
    poller.arm(a.fileno(), "w", w, a)
    assert poller.poll(0) == 0
    drain(b)
    assert poller.poll(5) == 1
    assert w.fired == [True]


def test_reader_and_writer_on_one_fd(poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    fill(a)
    r, w = Recorder(), Recorder()
    poller.arm(a.fileno(), "r", r, a)
    poller.arm(a.fileno(), "w", w, a)
    assert poller.nwaiting == 2
    b.send(b"x")
    assert poller.poll(5) == 1
    assert (r.fired, w.fired) == ([True], [])
    drain(b)
    assert poller.poll(5) == 1
    assert w.fired == [True]
    assert poller.nwaiting == 0


def test_second_waiter_same_mode_is_refused(poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    first = Recorder()
    poller.arm(a.fileno(), "r", first, a)
    with pytest.raises(AlreadyArmedError, match=r"^two goroutines wait to read fd \d+ at once$"):
        poller.arm(a.fileno(), "r", Recorder(), a)
    # Its own type, which an ``except RuntimeError`` meant for other failures does not catch.
    assert not issubclass(AlreadyArmedError, RuntimeError)
    assert poller.armed(a.fileno(), "r") is first
    assert poller.armed(a.fileno(), "w") is None
    assert poller.nwaiting == 1


def test_disarm(poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    w = Recorder()
    poller.arm(a.fileno(), "r", w, a)
    assert poller.disarm(a.fileno(), "r", Recorder()) is False
    assert poller.disarm(a.fileno(), "r", w) is True
    assert poller.disarm(a.fileno(), "r", w) is False
    assert poller.nwaiting == 0
    b.send(b"x")
    assert poller.poll(0.05) == 0
    assert w.fired == []


def test_close_fd_fires_with_false(poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    fill(a)
    r, w = Recorder(), Recorder()
    poller.arm(a.fileno(), "r", r, a)
    poller.arm(a.fileno(), "w", w, a)
    poller.close_fd(a.fileno())
    assert (r.fired, w.fired) == ([False], [False])
    assert poller.nwaiting == 0
    assert poller.armed(a.fileno(), "r") is None
    poller.close_fd(a.fileno())  # unknown fd: nothing to do


def test_poll_timeout(poller: Any) -> None:
    t0 = time.monotonic()
    assert poller.poll(0.05) == 0
    assert 0.04 <= time.monotonic() - t0 < 2.0


def test_wakeup_from_another_thread(poller: Any) -> None:
    t = threading.Timer(0.05, poller.wakeup)
    t.start()
    t0 = time.monotonic()
    assert poller.poll(None) == 0
    assert time.monotonic() - t0 < 5.0
    t.join()
    # A wake-up is consumed by the poll that saw it.
    assert poller.poll(0) == 0


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


LINUX_PROC = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")


@LINUX_PROC
def test_close_releases_every_fd(poller: Any) -> None:
    before = open_fds()
    other = type(poller)()
    assert len(open_fds() - before) >= 2  # the OS poller and the wake-up fd(s)
    other.close()
    assert open_fds() == before
    other.close()  # a second close does nothing
    assert open_fds() == before


def test_wakeup_after_close_writes_to_no_reused_fd(poller: Any) -> None:
    # close() gives the fd numbers back; the next files opened get them. A
    # wakeup() that came late (another thread saw the scheduler asleep just
    # before its run() ended) must not write into those files.
    other = type(poller)()
    other.close()
    pipes = [os.pipe() for _ in range(3)]
    try:
        other.wakeup()
        for r, _ in pipes:
            os.set_blocking(r, False)
            with pytest.raises(BlockingIOError):
                os.read(r, 64)
    finally:
        for r, w in pipes:
            os.close(r)
            os.close(w)


def test_wakeup_races_close_from_threads(poller: Any) -> None:
    # Threads wake backends as fast as they can while this thread closes
    # them: no write may land in a released fd (the pipes opened after each
    # close take those numbers) and nothing raises.
    stop = threading.Event()
    current: list[Any] = [type(poller)()]
    errors: list[BaseException] = []

    def waker() -> None:
        try:
            while not stop.is_set():
                current[0].wakeup()
        except BaseException as e:  # pragma: no cover - the failure this test looks for
            errors.append(e)

    threads = [threading.Thread(target=waker) for _ in range(2)]
    for t in threads:
        t.start()
    leaked = 0
    try:
        for _ in range(200):
            old = current[0]
            current[0] = type(poller)()
            old.close()
            r, w = os.pipe()
            os.set_blocking(r, False)
            time.sleep(0)
            try:
                os.read(r, 64)
                leaked += 1
            except BlockingIOError:
                pass
            os.close(r)
            os.close(w)
    finally:
        stop.set()
        for t in threads:
            t.join()
        current[0].close()
    assert errors == []
    assert leaked == 0


def test_another_thread_never_makes_a_schedulers_netpoller() -> None:
    # A thread that saw a scheduler asleep wakes it through ``poller``; if
    # that run() has ended meanwhile, the netpoller is gone and must not be
    # made again by (and for) a thread that would never close it.
    s = current_scheduler()
    assert s._poller is None  # not running: no netpoller
    seen: list[Any] = []
    t = threading.Thread(target=lambda: seen.append(s.poller))
    t.start()
    t.join()
    assert seen == [NO_NETPOLL]
    assert s._poller is None
    NO_NETPOLL.wakeup()  # nothing to wake: does nothing
    with pytest.raises(InternalError, match=r"netpoller used from another thread"):
        NO_NETPOLL.arm(0, "r", Recorder())


def test_fd_reused_under_another_owner_is_registered_afresh(poller: Any) -> None:
    # The first socket arms, fires, and is closed without close_fd (as a
    # socket collected without close() is): the kernel forgets it. A new
    # socket that gets the same fd number must still be heard.
    a, b = socket.socketpair()
    fd = a.fileno()
    w = Recorder()
    poller.arm(fd, "r", w, a)
    b.send(b"x")
    assert poller.poll(5) == 1
    a.close()
    b.close()
    c, d = socket.socketpair()
    try:
        assert fd in (c.fileno(), d.fileno())
        mine = c if c.fileno() == fd else d
        other = d if mine is c else c
        w2 = Recorder()
        poller.arm(fd, "r", w2, mine)
        other.send(b"y")
        assert poller.poll(5) == 1
        assert w2.fired == [True]
    finally:
        c.close()
        d.close()


def test_drained_and_quiet(poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    fd = a.fileno()
    assert poller.quiet(fd, a) is False  # never registered
    w = Recorder()
    poller.arm(fd, "r", w, a)
    b.send(b"x")
    assert poller.poll(5) == 1
    a.recv(10)
    poller.drained(fd, a)
    if isinstance(poller, SelectorsNetpoll):
        assert poller.quiet(fd, a) is False  # level-triggered: always read first
        return
    assert poller.quiet(fd, a) is True
    assert poller.quiet(fd, b) is False  # another owner
    # Data that arrives after the drain is still reported to a reader armed
    # without reading first.
    b.send(b"y")
    w2 = Recorder()
    poller.arm(fd, "r", w2, a)
    assert poller.quiet(fd, a) is False  # a reader is armed
    assert poller.poll(5) == 1
    assert w2.fired == [True]
    # That event was delivered: no longer quiet until the next drain.
    assert poller.quiet(fd, a) is False
    a.recv(10)
    poller.drained(fd, a)
    assert poller.quiet(fd, a) is True
    # An event delivered while nobody waited ends the quiet too.
    b.send(b"z")
    poller.poll(5)
    assert poller.quiet(fd, a) is False


def test_no_quiet_after_a_short_read_at_eof(poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    # Issue 7. The peer's last data and its EOF arrive before one poll,
    # which delivers a single read event for both. The read that takes the
    # data comes back short, but the fd stays readable (the next read gives
    # b"") and the kernel has no further edge to report: a reader armed
    # without trying would wait forever.
    a, b = pair
    fd = a.fileno()
    w = Recorder()
    poller.arm(fd, "r", w, a)
    b.send(b"last")
    b.shutdown(socket.SHUT_WR)
    assert poller.poll(5) == 1
    assert a.recv(10) == b"last"
    poller.drained(fd, a)
    assert poller.quiet(fd, a) is False
    assert a.recv(10) == b""
    # It stays so: no later drain of this registration makes it quiet.
    poller.drained(fd, a)
    assert poller.quiet(fd, a) is False


@LINUX_TCP
def test_no_quiet_after_a_short_read_before_a_reset(poller: Any) -> None:
    # As above with an error pending instead of EOF: the peer closed with
    # unread data in its receive queue, so it sent a reset.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        a = socket.create_connection(listener.getsockname())
        b, _ = listener.accept()
    with a, b:
        a.setblocking(False)
        fd = a.fileno()
        w = Recorder()
        poller.arm(fd, "r", w, a)
        b.send(b"last")
        a.send(b"unread")
        # Let that reach b's receive queue, so that b's close sends a reset.
        assert wait_fd(b.fileno(), "r", 5.0) is True
        b.close()
        # Until the reset is in (level-triggered, so the edge stays pending).
        p = select.poll()
        p.register(fd, 0)  # POLLERR and POLLHUP are always reported
        assert p.poll(5000) != []
        assert poller.poll(5) == 1
        assert a.recv(10) == b"last"
        poller.drained(fd, a)
        assert poller.quiet(fd, a) is False
        with pytest.raises(ConnectionResetError):
            a.recv(10)


@LINUX_TCP
def test_no_quiet_after_a_read_stopped_at_an_urgent_mark(poller: Any) -> None:
    # A TCP read stops short at the urgent mark, with data behind it.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        a = socket.create_connection(listener.getsockname())
        b, _ = listener.accept()
    with a, b:
        a.setblocking(False)
        fd = a.fileno()
        w = Recorder()
        poller.arm(fd, "r", w, a)
        b.send(b"abc")
        b.send(b"!", socket.MSG_OOB)
        b.send(b"def")
        p = select.poll()
        p.register(fd, select.POLLPRI)
        assert p.poll(5000) != []  # "!" is in, so "abc" before it is too
        assert poller.poll(5) == 1
        assert w.fired == [True]
        assert a.recv(100) == b"abc"
        poller.drained(fd, a)
        assert poller.quiet(fd, a) is False
        assert wait_fd(fd, "r", 5.0) is True  # poll(2) in this thread
        assert a.recv(100) == b"def"


# -- waits on a scheduler using each backend -------------------------------


@pytest.fixture
def sched_poller(poller: Any) -> Iterator[Any]:
    """Make ``poller`` the netpoller of this thread's scheduler for the test."""
    s = current_scheduler()
    previous = s._poller
    s._poller = poller
    yield poller
    s._poller = previous


def test_wait_fd_parks_only_the_goroutine(sched_poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    events: list[Any] = []

    done = makechan()

    def reader() -> None:
        events.append("wait")
        events.append(wait_fd(a.fileno(), "r", 5.0, a))
        events.append(a.recv(10))
        done.send(None)

    def writer() -> None:
        events.append("write")
        b.send(b"hi")

    def main() -> None:
        go(reader)
        settle()  # the reader parks before the write
        go(writer)
        done.recv()

    run(main)
    assert events == ["wait", "write", True, b"hi"]
    assert sched_poller.nwaiting == 0


def test_wait_fd_timeout(sched_poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair

    def main() -> tuple[bool, float, bool]:
        t0 = time.monotonic()
        ok = wait_fd(a.fileno(), "r", 0.05, a)
        return ok, time.monotonic() - t0, wait_fd(a.fileno(), "r", 0, a)

    ok, took, zero = run(main)  # type: ignore[misc]
    assert ok is False and zero is False
    assert 0.04 <= took < 2.0
    assert sched_poller.nwaiting == 0
    assert current_scheduler().timers.heap == []


@pytest.mark.parametrize("timeout", [math.inf, math.nan, 1e12])
def test_wait_fd_without_limit(sched_poller: Any, pair: tuple[socket.socket, socket.socket], timeout: float) -> None:
    # A timeout no deadline can hold waits without limit, as the stdlib's
    # own clock arithmetic does, and leaves nothing armed behind.
    a, b = pair

    def main() -> tuple[bool, bool]:
        go(lambda: b.send(b"x"))
        ready = wait_fd(a.fileno(), "r", timeout, a)
        ready_any = wait_fds([(a.fileno(), "r")], timeout)
        return ready, ready_any

    assert run(main) == (True, True)
    assert sched_poller.nwaiting == 0
    assert current_scheduler().timers.heap == []


def test_wait_fd_closed_under_it(sched_poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    caught: list[BaseException] = []

    done = makechan()

    def reader() -> None:
        try:
            wait_fd(a.fileno(), "r", None, a)
        except OSError as e:
            caught.append(e)
        done.send(None)

    def main() -> None:
        go(reader)
        settle()  # the reader runs and parks
        notify_close(a.fileno())
        done.recv()

    run(main)
    assert len(caught) == 1
    e = caught[0]
    assert type(e) is OSError and e.errno == errno.EBADF and e.strerror == os.strerror(errno.EBADF)
    assert sched_poller.nwaiting == 0


def test_two_readers_on_one_fd_both_wake(sched_poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    woke: list[str] = []

    def reader(name: str, timeout: float | None) -> None:
        woke.append(f"{name}:{wait_fd(a.fileno(), 'r', timeout, a)}")

    def main() -> None:
        go(reader, "one", None)
        go(reader, "two", 5.0)
        go(reader, "three", 0.01)  # times out first: leaves the others waiting
        from offset import time as otime

        otime.sleep(50 * otime.MILLISECOND)
        b.send(b"x")
        otime.sleep(50 * otime.MILLISECOND)

    run(main)
    assert sorted(woke) == ["one:True", "three:False", "two:True"]
    assert woke[0] == "three:False"
    assert sched_poller.nwaiting == 0


def test_first_of_joined_readers_times_out(sched_poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    # The armed waiter withdraws; the one that joined it must take its place.
    a, b = pair
    woke: list[str] = []

    def reader(name: str, timeout: float | None) -> None:
        woke.append(f"{name}:{wait_fd(a.fileno(), 'r', timeout, a)}")

    def main() -> None:
        from offset import time as otime

        go(reader, "head", 0.01)
        go(reader, "joined", None)
        otime.sleep(50 * otime.MILLISECOND)
        b.send(b"x")
        otime.sleep(20 * otime.MILLISECOND)

    run(main)
    assert woke == ["head:False", "joined:True"]
    assert sched_poller.nwaiting == 0


def test_two_goroutines_read_one_fd_as_two_threads_do(
    sched_poller: Any, pair: tuple[socket.socket, socket.socket]
) -> None:
    # Two threads blocked in recv() on one socket: a byte wakes one of them
    # with it, the other goes on waiting, and the next byte is its. The
    # second goroutine's arm is refused (AlreadyArmedError) and it joins
    # the first: the program never sees that.
    a, b = pair
    got = makechan()

    def reader(name: str) -> None:
        while True:
            try:
                data = a.recv(1)
            except BlockingIOError:
                wait_fd(a.fileno(), "r", None, a)
                continue
            got.send((name, data))
            return

    def main() -> list[Any]:
        go(reader, "one")
        go(reader, "two")
        settle()  # both wait now, one armed and one joined
        assert sched_poller.nwaiting == 1
        b.send(b"1")
        first = got.recv()
        settle()  # the other, woken with it, found nothing and waits again
        assert offset.select(got.if_recv(), offset.default) is offset.default  # one byte woke one reader
        assert sched_poller.nwaiting == 1
        b.send(b"2")
        second = got.recv()
        return [first, second]

    result = run(main)
    assert result is not None
    first, second = result
    assert {first[0], second[0]} == {"one", "two"}
    assert (first[1], second[1]) == (b"1", b"2")
    assert sched_poller.nwaiting == 0


def test_a_foreign_waiter_armed_on_the_fd_is_offsets_bug(
    sched_poller: Any, pair: tuple[socket.socket, socket.socket]
) -> None:
    # Only _io.py arms the netpoller; a waiter it cannot join is a bug in
    # offset, said as such, not a RuntimeError a caller might catch.
    a, _ = pair
    foreign = Recorder()
    sched_poller.arm(a.fileno(), "r", foreign, a)
    caught: list[BaseException] = []

    def main() -> None:
        try:
            wait_fd(a.fileno(), "r", 5.0, a)
        except BaseException as e:
            caught.append(e)

    run(main)
    assert len(caught) == 1 and type(caught[0]) is InternalError
    assert re.search(r"fd \d+ \('r'\) is armed by something other than wait_fd", str(caught[0]))
    assert sched_poller.armed(a.fileno(), "r") is foreign
    assert current_scheduler().timers.heap == []


class FailingArm:
    """A netpoller whose arm fails as the OS can (a RuntimeError, say), not with AlreadyArmedError."""

    def __init__(self, inner: Any, exc: BaseException) -> None:
        self.inner = inner
        self.exc = exc

    def arm(self, fd: int, mode: str, waiter: Any, owner: object = None) -> None:
        raise self.exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("timeout", [None, 5.0])
def test_an_arm_failure_is_not_taken_for_a_waiter_to_join(
    poller: Any, pair: tuple[socket.socket, socket.socket], timeout: float | None
) -> None:
    a, _ = pair
    s = current_scheduler()
    previous = s._poller
    s._poller = FailingArm(poller, RuntimeError("boom"))
    caught: list[BaseException] = []

    def main() -> None:
        try:
            wait_fd(a.fileno(), "r", timeout, a)
        except BaseException as e:
            caught.append(e)
        try:
            wait_fds([(a.fileno(), "r")], timeout)
        except BaseException as e:
            caught.append(e)

    try:
        run(main)
    finally:
        s._poller = previous
    assert [str(e) for e in caught] == ["boom", "boom"]
    assert all(type(e) is RuntimeError for e in caught)
    assert current_scheduler().timers.heap == []


def test_reader_and_writer_goroutines_on_one_socket(
    sched_poller: Any, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    fill(a)
    woke: list[str] = []

    def main() -> None:
        from offset import time as otime

        go(lambda: woke.append(f"r:{wait_fd(a.fileno(), 'r', 5.0, a)}"))
        go(lambda: woke.append(f"w:{wait_fd(a.fileno(), 'w', 5.0, a)}"))
        otime.sleep(10 * otime.MILLISECOND)
        b.send(b"x")
        otime.sleep(10 * otime.MILLISECOND)
        drain(b)
        otime.sleep(50 * otime.MILLISECOND)

    run(main)
    assert woke == ["r:True", "w:True"]


def test_wait_fds(sched_poller: Any) -> None:
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    try:
        results: list[Any] = []

        def main() -> None:
            from offset import time as otime

            go(lambda: results.append(wait_fds([(a.fileno(), "r"), (c.fileno(), "r"), (a.fileno(), "r")], 5.0)))
            otime.sleep(10 * otime.MILLISECOND)
            d.send(b"x")
            otime.sleep(10 * otime.MILLISECOND)
            results.append(wait_fds([(a.fileno(), "r")], 0.02))
            results.append(wait_fds([], 0.01))

        run(main)
        assert results == [True, False, False]
        assert sched_poller.nwaiting == 0
    finally:
        for s in (a, b, c, d):
            s.close()


def test_stopped_goroutine_withdraws_its_wait(sched_poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair

    def main() -> None:
        go(wait_fd, a.fileno(), "r", None, a)
        go(wait_fd, a.fileno(), "r", 30.0, a)  # joins the first

    run(main)  # main returns: the waiters are stopped
    assert sched_poller.nwaiting == 0
    assert sched_poller.armed(a.fileno(), "r") is None
    assert current_scheduler().timers.heap == []


def test_wait_quiet_after_drain(sched_poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    log: list[Any] = []

    def main() -> None:
        from offset import time as otime

        fd = a.fileno()
        log.append(wait_quiet(fd, a))  # nothing known yet: read first
        b.send(b"1")
        log.append(wait_fd(fd, "r", 5.0, a))
        log.append(a.recv(10))
        mark_drained(fd, a)

        def later() -> None:
            otime.sleep(20 * otime.MILLISECOND)
            b.send(b"2")

        go(later)
        quiet = wait_quiet(fd, a)  # epoll: parks until "2" arrives
        if not quiet:
            wait_fd(fd, "r", 5.0, a)  # what a caller does after reading first
        log.append(a.recv(10))
        log.append(quiet)

    run(main)
    # Only the edge-triggered backend can promise a quiet fd.
    quiet = sched_poller.__class__.__name__ == "EpollNetpoll"
    assert log == [False, True, b"1", b"2", quiet]


def test_wait_quiet_after_a_short_read_at_eof(sched_poller: Any, pair: tuple[socket.socket, socket.socket]) -> None:
    # Issue 7 as the patch layer meets it: recv waits, the peer's last data
    # and EOF arrive before the scheduler polls, recv returns them short
    # (mark_drained), and the next recv asks wait_quiet. It must not park:
    # nothing more will arrive to wake it. The guard's close is a fresh
    # edge that ends a wait which was wrongly begun, so that the test fails
    # instead of hanging.
    a, b = pair
    log: list[Any] = []

    def main() -> None:
        from offset import time as otime

        fd = a.fileno()

        def peer() -> None:
            b.send(b"last")
            b.shutdown(socket.SHUT_WR)

        def guard() -> None:
            otime.sleep(5 * otime.SECOND)
            log.append("guard")
            b.close()

        go(peer)
        log.append(wait_fd(fd, "r", 5.0, a))  # the peer runs, then the scheduler polls
        log.append(a.recv(10))
        mark_drained(fd, a)
        go(guard)
        log.append(wait_quiet(fd, a))
        log.append(a.recv(10))

    run(main)
    assert log == [True, b"last", False, b""]


def test_wait_fd_outside_a_goroutine_blocks_the_thread(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    assert wait_fd(a.fileno(), "r", 0.02) is False
    b.send(b"x")
    assert wait_fd(a.fileno(), "r", 1.0) is True
    assert wait_fds([(a.fileno(), "r")], 1.0) is True
