"""golang/go test/chan/nonblock.go: channel operations that test for blocking.

For unbuffered and 1-buffered channels and values of several types: a
non-blocking receive from an empty channel finds nothing; a non-blocking
send or receive retried in a loop succeeds once the goroutine on the other
end is there. Go's sleep() between tries reads a ticker twice and calls
Gosched three times; here it calls gosched() three times, which lets every
other goroutine run.
"""

from __future__ import annotations

import pytest

from offset import default, go, gosched, makechan, run, select

MAX_TRIES = 10000

# (what the receiver goroutine expects, what the sender goroutine sends)
KINDS = {
    "i32": (123, 234),
    "i64": (123456, 234567),
    "b": (True, True),
    "s": ("hello", "hello again"),
}


def receiver(c, strobe, expected):
    if c.recv() != expected:
        raise AssertionError("receiver value")
    strobe.send(True)


def sender(c, strobe, value):
    c.send(value)
    strobe.send(True)


def sleep():
    gosched()
    gosched()
    gosched()


@pytest.mark.parametrize("buffer", [0, 1])
def test_nonblock(buffer):
    def main():
        sync = makechan()
        chans = {kind: makechan(buffer) for kind in KINDS}
        for kind, c in chans.items():
            if select(c.if_recv(), default) is not default:
                raise AssertionError(f"blocked {kind}sender")

        for kind, c in chans.items():
            to_receiver, from_sender = KINDS[kind]

            go(receiver, c, sync, to_receiver)
            for _ in range(MAX_TRIES):
                if select(c.if_send(to_receiver), default) is not default:
                    break
                sleep()
            else:
                raise AssertionError(f"{kind}receiver buffer={buffer}")
            sync.recv()

            go(sender, c, sync, from_sender)
            if buffer > 0:
                sync.recv()
            for _ in range(MAX_TRIES):
                ret = select(c.if_recv(), default)
                if ret is not default:
                    break
                sleep()
            else:
                raise AssertionError(f"{kind}sender buffer={buffer}")
            if ret.value != from_sender:
                raise AssertionError(f"{kind}sender value")
            if buffer == 0:
                sync.recv()
        return "PASS"

    assert run(main) == "PASS"
