"""golang/go test/chan/select3.go: which selects and channel operations block.

Go's testBlock races the operation against a 0.1 s timer. Here the answer is
exact instead: the operation runs as the only goroutine, so it blocks
forever exactly when run() reports a deadlock. A nil channel is ``None`` in
place of a case (API.md), so Go's plain operations on a nil channel have no
counterpart and only their select forms are ported.
"""

from __future__ import annotations

import pytest

from offset import DeadlockError, PanicError, default, makechan, run, select


def blocks(f) -> bool:
    """Whether ``f`` blocks forever when it is the only goroutine."""
    try:
        run(f)
    except DeadlockError:
        return True
    return False


def unreachable():
    raise AssertionError("control flow shouldn't reach here")


def closed_channel():
    c = makechan()
    c.close()
    return c


def test_nil_channel_in_select_is_never_selected():
    assert select(None, default) is default  # case nilch <- 7 / case <-nilch
    assert select(default, None) is default


def test_sending_to_async_channel_with_free_buffer_never_blocks():
    assert not blocks(lambda: makechan(1).send(7))


def test_receiving_from_closed_channel_never_blocks():
    closedch = closed_channel()

    def f():
        for _ in range(10):
            if closedch.recv() is not None:
                raise AssertionError("expected zero value when reading from closed channel")
            if closedch.recv_ok() != (None, False):
                raise AssertionError("expected 0, false from closed channel")

    assert not blocks(f)


def test_sending_to_closed_channel_panics():
    with pytest.raises(PanicError, match=r"^send on closed channel$"):
        closed_channel().send(7)


def test_receiving_from_non_ready_channel_always_blocks():
    assert blocks(lambda: makechan().recv())


def test_empty_select_always_blocks():
    assert blocks(lambda: select())


def test_select_with_only_nil_channels_always_blocks():
    assert blocks(lambda: select(None))  # case <-nilch
    assert blocks(lambda: select(None, None))  # case <-nilch, case nilch <- 7


def test_select_with_non_ready_non_nil_channels_always_blocks():
    assert blocks(lambda: select(makechan().if_recv()))


def test_select_with_default_never_blocks():
    assert not blocks(lambda: select(default))
    assert not blocks(lambda: select(None, default))


def test_select_with_ready_channels_never_blocks():
    def send_ready():
        ch = makechan(1)
        if select(ch.if_send(7), default) is default:
            unreachable()

    def recv_ready():
        ch = makechan(1)
        ch.send(7)
        if select(ch.if_recv(), default) is default:
            unreachable()

    assert not blocks(send_ready)
    assert not blocks(recv_ready)


def test_select_with_closed_channels_behaves_like_ordinary_operations():
    closedch = closed_channel()
    assert not blocks(lambda: select(closedch.if_recv()))

    def x_ok():
        ret = select(closedch.if_recv())
        assert (ret.value, ret.ok) == (None, False)

    assert not blocks(x_ok)
    with pytest.raises(PanicError, match=r"^send on closed channel$"):
        select(closedch.if_send(7))


def test_select_is_not_confused_when_it_sees_itself():
    def f():
        c = makechan()
        select(c.if_send(1), c.if_recv())

    assert blocks(f)
