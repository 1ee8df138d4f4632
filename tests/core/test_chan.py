"""Channels: makechan, send, recv, recv_ok, iteration, close, len/cap, FIFO.

API.md, "Channels". Panics keep Go's words exactly.
"""

from __future__ import annotations

import gc
import weakref

import pytest
from support import settle

import offset
from offset import DeadlockError, PanicError, default, go, gosched, makechan, run, select

# -- making channels -------------------------------------------------------------


def test_makechan_default_is_unbuffered():
    c = makechan()
    assert c.cap == 0
    assert len(c) == 0
    assert isinstance(c, offset.Chan)


def test_makechan_zero_is_unbuffered():
    c = makechan(0)
    assert c.cap == 0
    with pytest.raises(DeadlockError) as info:
        run(lambda: c.send(1))  # nobody receives: an unbuffered send blocks
    assert "[chan send]" in str(info.value)


def test_makechan_buffered_len_and_cap():
    c = makechan(3)
    assert (len(c), c.cap) == (0, 3)
    c.send("a")
    c.send("b")
    assert (len(c), c.cap) == (2, 3)
    c.recv()
    assert (len(c), c.cap) == (1, 3)


def test_makechan_negative_size_is_value_error():
    with pytest.raises(ValueError, match=r"^makechan: size out of range: 'size' must be >= 0, not -1$"):
        makechan(-1)


@pytest.mark.parametrize(("size", "typename"), [("3", "str"), (2.0, "float"), (None, "NoneType"), (True, "bool")])
def test_makechan_non_int_size_is_type_error(size, typename):
    with pytest.raises(TypeError, match=rf"^makechan\(\) argument 'size' must be int, not {typename}$"):
        makechan(size)


# -- send and receive -------------------------------------------------------------


def test_unbuffered_send_waits_for_receiver():
    log = []
    c = makechan()

    def receiver():
        log.append("receiver starts")
        log.append(f"received {c.recv()}")

    def main():
        go(receiver)
        log.append("sending")
        c.send("x")  # blocks until the receiver takes it
        log.append("sent")
        settle()

    run(main)
    assert log == ["sending", "receiver starts", "received x", "sent"]


def test_unbuffered_receive_waits_for_sender():
    log = []
    c = makechan()

    def sender():
        log.append("sending")
        c.send("x")
        log.append("sent")

    def main():
        go(sender)
        log.append("receiving")
        log.append(f"received {c.recv()}")
        settle()

    run(main)
    # The sender hands the value over and goes on; main, woken, runs next.
    assert log == ["receiving", "sending", "sent", "received x"]


def test_buffered_send_does_not_block_until_full():
    log = []
    c = makechan(2)

    def receiver():
        log.append("receiver")
        for v in c:
            log.append(f"got {v}")

    def main():
        go(receiver)
        c.send(1)
        log.append("sent 1")
        c.send(2)
        log.append("sent 2")
        c.send(3)  # full: blocks until the receiver makes room
        log.append("sent 3")
        c.close()
        settle()

    run(main)
    assert log[:3] == ["sent 1", "sent 2", "receiver"]
    assert [e for e in log if e.startswith("got")] == ["got 1", "got 2", "got 3"]
    assert log.index("sent 3") > log.index("got 1")


def test_buffered_channel_keeps_order():
    n = 1000
    c = makechan(7)

    def producer():
        for i in range(n):
            c.send(i)
        c.close()

    def main():
        go(producer)
        return list(c)

    assert run(main) == list(range(n))


def test_any_value_including_none_goes_through():
    values = [None, 0, "", (1, 2), {"k": [1]}, makechan()]
    c = makechan()

    def producer():
        for v in values:
            c.send(v)
        c.close()

    def main():
        go(producer)
        return [c.recv_ok() for _ in range(len(values) + 1)]

    got = run(main)
    assert got[:-1] == [(v, True) for v in values]
    assert got[-1] == (None, False)


def test_send_and_recv_outside_a_goroutine_on_a_buffered_channel():
    c = makechan(2)
    c.send(1)
    c.send(2)
    assert c.recv() == 1
    assert c.recv_ok() == (2, True)


def test_blocked_senders_are_served_in_the_order_they_blocked():
    c = makechan()
    blocked = []

    def sender(i):
        blocked.append(i)
        c.send(i)

    def main():
        for i in range(6):
            go(sender, i)
        settle()  # every sender runs and blocks
        assert len(blocked) == 6
        assert len(c) == 0  # blocked senders are not buffered values
        return [c.recv() for _ in range(6)]

    assert run(main) == blocked  # in whatever order they ran (and blocked)


def test_blocked_senders_on_full_buffer_follow_buffered_values():
    c = makechan(2)
    blocked = []

    def sender(i):
        blocked.append(i)
        c.send(i)

    def main():
        c.send("b0")
        c.send("b1")
        for i in range(4):
            go(sender, i)
        settle()
        assert len(c) == 2
        got = [c.recv() for _ in range(6)]
        assert len(c) == 0
        return got

    assert run(main) == ["b0", "b1"] + blocked


def test_blocked_receivers_are_served_in_the_order_they_blocked():
    c = makechan()
    blocked = []
    got = {}

    def receiver(i):
        blocked.append(i)
        got[i] = c.recv()

    def main():
        for i in range(6):
            go(receiver, i)
        settle()
        assert len(blocked) == 6
        for v in range(6):
            c.send(v)
        settle()

    run(main)
    assert [got[i] for i in blocked] == list(range(6))


def test_blocked_receivers_of_buffered_channel_in_order():
    c = makechan(3)
    blocked = []
    got = {}

    def receiver(i):
        blocked.append(i)
        got[i] = c.recv()

    def main():
        for i in range(4):
            go(receiver, i)
        settle()
        for v in range(4):
            c.send(v)
        settle()

    run(main)
    assert [got[i] for i in blocked] == [0, 1, 2, 3]


class Payload:
    """A value whose lifetime a test can watch with a weak reference."""


@pytest.mark.parametrize("blocked", ["sender", "receiver", "buffered", "select"])
def test_received_values_are_not_kept_alive(blocked):
    """Once received and dropped, a value is garbage: neither the channel nor
    the goroutines that passed it keep a reference (Go clears the waiter's
    element after each hand-off for the same reason). Both goroutines stay
    parked on other channels while we look, so their own state is alive.
    """
    c = makechan(1 if blocked == "buffered" else 0)
    ref = []

    def make():
        p = Payload()
        ref.append(weakref.ref(p))
        return p

    def sender():
        if blocked == "select":
            select(c.if_send(make()), makechan().if_recv())
        else:
            c.send(make())
        makechan().recv()  # park for good (stopped when main returns)

    def receiver(out):
        if blocked == "select":
            ret = select(c.if_recv(), makechan().if_recv())
            ret.value = None
        else:
            c.recv()  # the value is dropped at once
        out.send(None)
        makechan().recv()

    def main():
        out = makechan()
        if blocked == "receiver":
            go(receiver, out)
            settle()  # receiver is parked before the sender comes
            go(sender)
        else:
            go(sender)
            settle()  # sender is parked (or has buffered) before the receiver comes
            go(receiver, out)
        out.recv()
        settle()
        gc.collect()
        return ref[0]() is None

    assert run(main), "a received and dropped value is still referenced"


# -- close --------------------------------------------------------------------------


def test_close_wakes_every_blocked_receiver():
    c = makechan()
    log = []

    def by_recv():
        log.append(("recv", c.recv()))

    def by_recv_ok():
        log.append(("recv_ok", c.recv_ok()))

    def by_iteration():
        log.append(("iter", list(c)))

    def by_select():
        ret = select(c.if_recv())
        log.append(("select", ret.value, ret.ok))

    def main():
        for f in (by_recv, by_recv_ok, by_iteration, by_select):
            go(f)
        settle()
        assert log == []
        c.close()
        settle()

    run(main)
    assert sorted(log, key=repr) == sorted(
        [("recv", None), ("recv_ok", (None, False)), ("iter", []), ("select", None, False)], key=repr
    )


def test_close_wakes_blocked_senders_with_panic():
    c = makechan(1)
    log = []

    def sender(i):
        try:
            c.send(i)
            log.append(f"sent {i}")
        except PanicError as e:
            log.append(f"{i}: {e}")

    def main():
        c.send("buffered")
        go(sender, 1)
        go(sender, 2)
        settle()
        assert log == []
        c.close()
        settle()
        return list(c)

    assert run(main) == ["buffered"]  # a closed channel still drains
    assert sorted(log) == ["1: send on closed channel", "2: send on closed channel"]


def test_send_on_closed_channel_panics():
    c = makechan(1)
    c.close()
    with pytest.raises(PanicError, match=r"^send on closed channel$"):
        c.send(1)
    assert len(c) == 0


def test_send_on_closed_channel_panics_inside_goroutine():
    c = makechan()

    def main():
        c.close()
        c.send(1)

    with pytest.raises(PanicError, match=r"^send on closed channel$"):
        run(main)


def test_close_of_closed_channel_panics():
    c = makechan()
    c.close()
    with pytest.raises(PanicError, match=r"^close of closed channel$"):
        c.close()


def test_recv_on_closed_empty_channel_returns_none_forever():
    c = makechan()
    c.close()
    for _ in range(3):
        assert c.recv() is None
        assert c.recv_ok() == (None, False)
    assert list(c) == []


def test_buffered_channel_drains_after_close():
    c = makechan(3)
    c.send(1)
    c.send(2)
    c.close()
    assert len(c) == 2
    assert c.recv() == 1
    assert c.recv_ok() == (2, True)
    assert c.recv_ok() == (None, False)
    assert c.recv() is None
    assert len(c) == 0
    assert c.cap == 3


def test_iteration_stops_when_closed_and_drained():
    c = makechan(2)
    got = []

    def producer():
        for i in range(5):
            c.send(i)
        c.close()

    def consumer():
        for v in c:
            got.append(v)

    go(consumer)
    go(producer)
    run()
    assert got == [0, 1, 2, 3, 4]


def test_recv_ok_tells_sent_none_from_closed():
    c = makechan(1)
    c.send(None)
    c.close()
    assert c.recv_ok() == (None, True)
    assert c.recv_ok() == (None, False)


# -- stopped waiters leave the queues -------------------------------------------------


def test_receiver_stopped_at_shutdown_leaves_the_queue():
    c = makechan()

    def receiver():
        c.recv()

    def main():
        go(receiver)
        settle()  # receiver blocks in c's receive queue; main returns

    run(main)
    # A later send must not hand its value to the stopped goroutine.
    assert select(c.if_send("lost?"), default) is default
    assert run(lambda: select(c.if_send("lost?"), default)) is default


def test_sender_stopped_at_deadlock_leaves_the_queue():
    c = makechan()

    def sender():
        c.send("stale")

    go(sender)
    with pytest.raises(DeadlockError):
        run()
    assert select(c.if_recv(), default) is default


def test_stopped_select_leaves_every_queue():
    c, d = makechan(), makechan()

    def selector():
        select(c.if_recv(), d.if_send(1), c.if_send(2))

    def main():
        go(selector)
        settle()

    run(main)
    assert select(c.if_recv(), c.if_send(3), d.if_recv(), default) is default
    c.close()
    assert c.recv_ok() == (None, False)


def test_channel_is_generic_for_type_checkers():
    alias = offset.Chan[int]
    assert alias is not None


# -- golang/go src/runtime/chan_test.go ----------------------------------------------


@pytest.mark.parametrize("cap", [0, 1, 2, 5, 17])
def test_go_chan_test_TestChan(cap):
    """golang/go src/runtime/chan_test.go TestChan, for one capacity.

    Go waits a millisecond to see that an operation blocks; here the
    goroutines run until all are blocked (settle), which is exact.
    """

    def main():
        # Receive from an empty channel blocks; a non-blocking receive does not.
        c = makechan(cap)
        received = []
        go(lambda: received.append(c.recv()))
        go(lambda: received.append(c.recv_ok()))
        settle()
        assert received == []
        assert select(c.if_recv(), default) is default
        c.send(0)
        c.send(0)
        settle()
        assert sorted(received, key=repr) == sorted([0, (0, True)], key=repr)

        # Send to a full channel blocks; a non-blocking send does not.
        c = makechan(cap)
        for i in range(cap):
            c.send(i)
        sent = []
        go(lambda: (c.send(0), sent.append(True)))
        settle()
        assert sent == []
        assert select(c.if_send(0), default) is default
        c.recv()
        settle()
        assert sent == [True]

        # Receive the zero value (None) from a closed channel, after its values.
        c = makechan(cap)
        for i in range(cap):
            c.send(i)
        c.close()
        for i in range(cap):
            assert c.recv() == i
        assert c.recv() is None
        assert c.recv_ok() == (None, False)

        # Close unblocks receive.
        c = makechan(cap)
        done = makechan()
        go(lambda: done.send(c.recv_ok()))
        settle()
        c.close()
        assert done.recv() == (None, False)

        # Send 100 integers; receive them in FIFO order, uncorrupted.
        c = makechan(cap)

        def send100():
            for i in range(100):
                c.send(i)

        go(send100)
        assert [c.recv() for _ in range(100)] == list(range(100))

        # Send 1000 integers in 4 goroutines; receive them in 4 goroutines.
        c = makechan(cap)
        n, workers = 250, 4
        totals = makechan(workers)

        def sender():
            for i in range(n):
                c.send(i)

        def receiver():
            totals.send(sum(c.recv() for _ in range(n)))

        for _ in range(workers):
            go(sender)
            go(receiver)
        assert sum(totals.recv() for _ in range(workers)) == workers * sum(range(n))

        # len and cap.
        c = makechan(cap)
        assert (len(c), c.cap) == (0, cap)
        for i in range(cap):
            c.send(i)
        assert (len(c), c.cap) == (cap, cap)

    run(main)


def test_go_chan_test_TestMultiConsumer():
    """golang/go src/runtime/chan_test.go TestMultiConsumer (niter 271828 -> 20000)."""
    nwork, niter = 23, 20000
    pn = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31]
    q, r = makechan(nwork * 3), makechan(nwork * 3)

    def main():
        wg = makechan(nwork)

        def worker(w):
            for v in q:
                if pn[w % len(pn)] == v:
                    gosched()  # mess with the fifo-ish nature of range
                r.send(v)
            wg.send(None)

        for i in range(nwork):
            go(worker, i)
        expect = [0]

        def feeder():
            for i in range(niter):
                v = pn[i % len(pn)]
                expect[0] += v
                q.send(v)
            q.close()  # no more work
            for _ in range(nwork):
                wg.recv()  # workers done
            r.close()  # so there can be no more results

        go(feeder)
        n = s = 0
        for v in r:
            n += 1
            s += v
        assert (n, s) == (niter, expect[0])

    run(main)


def test_an_empty_channel_is_truthy():
    # Go's nil-channel idiom written in Python: `c and c.if_recv()` must give
    # the case, not the (empty) channel.
    c = makechan()
    assert bool(c) is True
    assert bool(makechan(3)) is True
    assert isinstance(c and c.if_recv(), type(c.if_recv()))
