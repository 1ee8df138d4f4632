"""Channels and select between schedulers in different threads and plain threads.

API.md: one scheduler per OS thread that calls run(); channels are safe to
share between schedulers and with plain threads; a plain thread that blocks
on a channel blocks only itself; while another live thread exists that
offset did not start, a blocked scheduler waits instead of reporting a
deadlock.

Every thread is joined with a bound. Where a thread must act only once a
goroutine is blocked, it finds out through the channel itself (a
non-blocking select that succeeds only then), never by sleeping.
"""

from __future__ import annotations

import sys
import threading
import time

import pytest
from support import settle

from offset import DeadlockError, PanicError, default, go, makechan, run, select
from offset import time as otime
from offset._core._chan import chanlock, short_lock

BOUND = 30.0  # seconds; only reached when something is broken


class Worker(threading.Thread):
    """A thread that records what its target returned or raised."""

    def __init__(self, target, *args):
        super().__init__(daemon=True)
        self._fn = target
        self._args = args
        self.result = None
        self.error: BaseException | None = None

    def run(self):
        try:
            self.result = self._fn(*self._args)
        except BaseException as e:  # reported by finish()
            self.error = e

    def finish(self):
        self.join(BOUND)
        assert not self.is_alive(), "thread did not finish in time"
        if self.error is not None:
            raise self.error
        return self.result


def send_when_received(c, value):
    """From a plain thread: send once a goroutine is already waiting to receive."""
    deadline = time.monotonic() + BOUND
    while select(c.if_send(value), default) is default:
        assert time.monotonic() < deadline, "nobody came to receive"
        time.sleep(0.001)  # polling interval of this loop, not a settle delay


# -- two schedulers -----------------------------------------------------------------


def test_two_schedulers_exchange_values():
    n = 2000
    ping, pong = makechan(), makechan()

    def side_a():
        def main():
            total = 0
            for i in range(n):
                ping.send(i)
                total += pong.recv()
            ping.close()
            return total

        return run(main)

    def side_b():
        def echo():
            for v in ping:
                pong.send(v * 2)

        go(echo)
        run()
        return "b done"

    b = Worker(side_b)
    b.start()
    a = Worker(side_a)
    a.start()
    assert a.finish() == 2 * sum(range(n))
    assert b.finish() == "b done"


def test_two_schedulers_with_several_goroutines_each():
    senders, per_sender = 4, 300
    c = makechan(5)
    results = makechan(1)

    def producer_thread():
        def producer(k):
            for i in range(per_sender):
                c.send((k, i))

        def main():
            done = makechan()
            for k in range(senders):
                go(lambda k=k: (producer(k), done.send(k)))
            for _ in range(senders):
                done.recv()
            c.close()

        run(main)

    def consumer_thread():
        def main():
            got = makechan(senders)

            def consumer():
                got.send(list(c))

            for _ in range(senders):
                go(consumer)
            return [got.recv() for _ in range(senders)]

        results.send(run(main))

    p, q = Worker(producer_thread), Worker(consumer_thread)
    q.start()
    p.start()
    p.finish()
    q.finish()
    per_consumer = results.recv()
    everything = [v for part in per_consumer for v in part]
    assert sorted(everything) == [(k, i) for k in range(senders) for i in range(per_sender)]
    for part in per_consumer:
        for k in range(senders):
            seq = [i for kk, i in part if kk == k]
            assert seq == sorted(seq), "a sender's values were reordered"


def test_select_across_schedulers():
    a, b, quit = makechan(), makechan(), makechan()

    def other_thread():
        def main():
            for i in range(50):
                select(a.if_send(i), b.if_send(-i))
            quit.close()

        run(main)

    t = Worker(other_thread)
    t.start()

    def main():
        got = []
        while True:
            ret = select(a.if_recv(), b.if_recv(), quit.if_recv())
            if ret == quit.if_recv():
                return got
            got.append(abs(ret.value))

    assert run(main) == list(range(50))
    t.finish()


# -- plain threads ----------------------------------------------------------------


def test_plain_thread_blocked_in_recv_blocks_only_itself():
    c, ack = makechan(), makechan()
    log = []

    def plain():
        v = c.recv()  # blocks this thread only
        ack.send(f"thread got {v}")

    def main():
        t = Worker(plain)
        t.start()
        ping, pong = makechan(), makechan()

        def echo():
            for v in ping:
                pong.send(v)

        go(echo)
        for i in range(200):  # goroutines keep running meanwhile
            ping.send(i)
            assert pong.recv() == i
        ping.close()
        log.append("goroutines ran")
        c.send("x")
        log.append(ack.recv())
        return t

    t = run(main)
    t.finish()
    assert log == ["goroutines ran", "thread got x"]


def test_plain_thread_sends_in_order():
    c = makechan()
    n = 500

    def plain():
        for i in range(n):
            c.send(i)
        c.close()

    t = Worker(plain)
    t.start()
    assert run(lambda: list(c)) == list(range(n))
    t.finish()


def test_plain_thread_wakes_goroutine_waiting_in_recv():
    c = makechan()

    t = Worker(send_when_received, c, "hello")
    t.start()
    assert run(c.recv) == "hello"
    t.finish()


def test_plain_thread_select():
    a, b = makechan(), makechan()

    def plain():
        got = []
        for _ in range(20):
            ret = select(a.if_recv(), b.if_recv())
            got.append(ret.value)
        return got

    t = Worker(plain)
    t.start()

    def main():
        for i in range(20):
            select(a.if_send(i), b.if_send(i))

    run(main)
    assert t.finish() == list(range(20))


def test_plain_thread_blocked_in_send_gets_panic_on_close():
    c = makechan(1)

    def plain():
        c.send("first")  # buffered
        try:
            c.send("second")  # full: blocks this thread until close
            return "sent"
        except PanicError as e:
            return str(e)

    t = Worker(plain)

    def main():
        t.start()
        deadline = time.monotonic() + BOUND
        while len(c) == 0:  # until the thread's first send is buffered
            assert time.monotonic() < deadline, "thread never sent"
            otime.sleep(otime.MILLISECOND)  # a timer: the scheduler idles, no real block
        c.close()
        return list(c)

    assert run(main) == ["first"]  # a closed channel still drains
    assert t.finish() == "send on closed channel"


def test_plain_thread_blocked_in_recv_woken_by_close_from_goroutine():
    c = makechan()

    def plain():
        return c.recv_ok()

    t = Worker(plain)
    t.start()
    run(c.close)
    assert t.finish() == (None, False)


def test_close_from_another_thread_wakes_every_waiter():
    c = makechan()
    done = makechan(5)

    def receiver(name):
        done.send((name, c.recv_ok()))

    def selector():
        ret = select(c.if_recv(), makechan().if_recv())
        done.send(("select", (ret.value, ret.ok)))

    def main():
        go(receiver, "r1")
        go(receiver, "r2")
        go(selector)
        settle()  # all three are blocked on c now
        t = Worker(c.close)
        t.start()
        go(receiver, "r3")  # blocks, or finds c closed: either way (None, False)
        go(receiver, "r4")
        got = sorted(done.recv() for _ in range(5))
        return t, got

    t, got = run(main)
    t.finish()
    assert got == [(name, (None, False)) for name in ("r1", "r2", "r3", "r4", "select")]


def test_buffered_channel_as_semaphore_across_threads_never_overfills():
    limit, threads, rounds = 2, 4, 300
    sem = makechan(limit)
    lock = threading.Lock()
    inside = [0]
    most = [0]

    def worker():
        for _ in range(rounds):
            sem.send(None)
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            with lock:
                inside[0] -= 1
            sem.recv()

    ts = [Worker(worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.finish()
    assert 1 <= most[0] <= limit
    assert len(sem) == 0


def test_many_plain_threads_and_goroutines_exactly_once_in_order():
    threads, per_thread = 4, 400
    c = makechan(8)

    def plain(k):
        for i in range(per_thread):
            c.send((k, i))

    ts = [Worker(plain, k) for k in range(threads)]
    for t in ts:
        t.start()

    def main():
        got = makechan(3)

        def consumer():
            part = []
            for _ in range(threads * per_thread // 4):
                part.append(c.recv())
            got.send(part)

        for _ in range(4):
            go(consumer)
        return [got.recv() for _ in range(4)]

    parts = run(main)
    for t in ts:
        t.finish()
    everything = sorted(v for part in parts for v in part)
    assert everything == [(k, i) for k in range(threads) for i in range(per_thread)]
    for part in parts:
        for k in range(threads):
            seq = [i for kk, i in part if kk == k]
            assert seq == sorted(seq)


# -- deadlock detection with other threads ----------------------------------------------


def test_no_deadlock_while_another_thread_will_wake_the_scheduler():
    """Every goroutine is blocked; a plain thread wakes one only later."""
    c = makechan()
    t = Worker(send_when_received, c, "from thread")

    def main():
        t.start()
        return c.recv()  # the scheduler has nothing else to run: it must wait

    assert run(main) == "from thread"
    t.finish()


def test_deadlock_reported_once_the_other_thread_has_ended():
    blocked = threading.Event()
    started = time.monotonic()

    def bystander():
        blocked.wait(BOUND)  # ends without touching any channel

    t = Worker(bystander)

    def main():
        t.start()
        blocked.set()
        makechan().recv()

    with pytest.raises(DeadlockError, match=r"^all goroutines are asleep - deadlock!\n"):
        run(main)
    t.finish()
    assert time.monotonic() - started < 10.0


def test_each_thread_has_its_own_scheduler():
    out = makechan(2)

    def thread_main(name):
        def main():
            log = []
            go(log.append, f"{name} goroutine")
            settle()
            return log

        out.send(run(main))

    ts = [Worker(thread_main, n) for n in ("t1", "t2")]
    for t in ts:
        t.start()
    for t in ts:
        t.finish()
    got = sorted([out.recv(), out.recv()])
    assert got == [["t1 goroutine"], ["t2 goroutine"]]


def test_wakeup_from_a_thread_that_then_ends_is_not_a_deadlock(monkeypatch):
    """A thread wakes the only goroutine and ends, just as the scheduler idles.

    The scheduler has drained its queue of wake-ups from other threads and
    is deciding whether it may report a deadlock, which depends on whether
    another thread is still alive. If the thread hands a value to the
    blocked goroutine and ends right then, the goroutine is runnable and
    there is no deadlock. Plain scheduling can produce this interleaving
    (a stress loop found it about once in 5000 runs); here it is forced by
    letting the thread run and end at the moment the scheduler counts the
    threads (``_thread._count``, where deadlock detection looks first).
    """
    from offset._core import _sched

    c = makechan()
    go_ahead = threading.Event()
    me = threading.get_ident()
    real_count = _sched._thread_count
    injected = []

    def plain():
        go_ahead.wait(BOUND)
        c.send("from a thread that then ends")

    t = Worker(plain)

    def count_after_the_thread_ran():
        if not injected and threading.get_ident() == me and t.is_alive():
            injected.append(True)
            go_ahead.set()
            t.join(BOUND)
        return real_count()

    def main():
        t.start()
        return c.recv()

    monkeypatch.setattr(_sched, "_thread_count", count_after_the_thread_ran)
    t0 = time.monotonic()
    try:
        result = run(main)
    finally:
        go_ahead.set()
        monkeypatch.undo()
    t.finish()
    assert result == "from a thread that then ends"
    assert injected  # the interleaving was forced, not reached by the thread's own timeout
    assert time.monotonic() - t0 < BOUND / 2


def test_wakeups_from_short_lived_threads_stress():
    """Many threads that each wake the blocked goroutine once and end."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for i in range(500):
            c = makechan(i % 2)
            go_ahead = threading.Event()

            def plain(c=c, go_ahead=go_ahead, i=i):
                go_ahead.wait(BOUND)
                c.send(i)

            t = Worker(plain)

            def main(c=c, go_ahead=go_ahead, t=t):
                t.start()
                go_ahead.set()
                return c.recv()

            assert run(main) == i
            t.finish()
    finally:
        sys.setswitchinterval(old)


class _NoLock:
    """No exclusion at all: shows the test below can fail."""

    def acquire(self):
        return True

    def release(self):
        pass

    def locked(self):
        return False


def _count_under(lk, threads=4, each=5000):
    """Increment a counter ``threads * each`` times from plain threads, each
    read-modify-write under ``lk``, with the GIL handed over as often as
    possible; return the count."""
    counter = [0]
    start = threading.Barrier(threads)

    def work():
        start.wait(BOUND)
        for _ in range(each):
            lk.acquire()
            v = counter[0]
            for _ in range(50):  # bytecodes: a thread switch may come here
                pass
            counter[0] = v + 1
            lk.release()

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [Worker(work) for _ in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.finish()
    finally:
        sys.setswitchinterval(old)
    return counter[0]


@pytest.mark.parametrize("which", ["chanlock", "short_lock"])
def test_core_short_locks_exclude_plain_threads(which):
    """chanlock and the core's other short locks (compiled, a flag tested and
    set in C; interpreted, a C lock) let one holder in at a time, also when
    the holder loses the GIL inside: no increment is lost."""
    lk = chanlock if which == "chanlock" else short_lock()
    assert _count_under(lk) == 4 * 5000
    assert not lk.locked()


def test_the_exclusion_test_can_fail():
    """Without a lock the same run loses increments (else the test above
    would prove nothing); a run may happen not to, so up to five."""
    assert any(_count_under(_NoLock()) < 4 * 5000 for _ in range(5))


def test_select_stress_across_schedulers_and_plain_threads():
    """Values sent by selects and sends in two schedulers and a plain thread,
    received by selects in two schedulers and a plain thread: each value
    arrives exactly once (golang/go chan_test.go TestSelectStress, threaded).
    """
    n = 1000
    chans = [makechan(i % 2) for i in range(3)]
    got: list[tuple] = []
    lock = threading.Lock()

    def scheduler_producer(k):
        def main():
            done = makechan(2)

            def producer(j):
                for i in range(n):
                    v = (k, j, i)
                    select(chans[i % 3].if_send(v), chans[(i + j + 1) % 3].if_send(v))
                done.send(j)

            go(producer, 0)
            go(producer, 1)
            done.recv()
            done.recv()

        run(main)

    def plain_producer():
        for i in range(n):
            chans[i % 3].send(("plain", 0, i))

    def receive_until_stop():
        local = []
        while True:
            ret = select(*(c.if_recv() for c in chans))
            if ret.value == "stop":
                return local
            local.append(ret.value)

    def scheduler_consumer():
        def main():
            out = makechan(3)
            for _ in range(3):
                go(lambda: out.send(receive_until_stop()))
            return [v for _ in range(3) for v in out.recv()]

        values = run(main)
        with lock:
            got.extend(values)

    def plain_consumer():
        values = receive_until_stop()
        with lock:
            got.extend(values)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        producers = [Worker(scheduler_producer, 0), Worker(scheduler_producer, 1), Worker(plain_producer)]
        consumers = [Worker(scheduler_consumer), Worker(scheduler_consumer), Worker(plain_consumer)]
        for t in producers + consumers:
            t.start()
        for t in producers:
            t.finish()
        for _ in range(3 + 3 + 1):  # one stop per receiving loop
            chans[0].send("stop")
        for t in consumers:
            t.finish()
    finally:
        sys.setswitchinterval(old)
    expected = [(k, j, i) for k in (0, 1) for j in (0, 1) for i in range(n)] + [("plain", 0, i) for i in range(n)]
    assert sorted(got, key=repr) == sorted(expected, key=repr)
