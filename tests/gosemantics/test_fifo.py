"""golang/go test/chan/fifo.go: channels are pure FIFOs."""

from __future__ import annotations

from offset import go, makechan, run

N = 10


def test_asynch_fifo():
    ch = makechan(N)
    for i in range(N):
        ch.send(i)
    for i in range(N):
        assert ch.recv() == i, "bad receive"


def chain(ch, val, in_, out):
    in_.recv()
    v = ch.recv()
    if v != val:
        raise AssertionError(f"chain {val} received {v}")
    out.send(1)


def test_synch_fifo():
    """Thread a daisy chain of goroutines that read the elements in sequence."""

    def main():
        ch = makechan()
        in_ = makechan()
        start = in_
        for i in range(N):
            out = makechan()
            go(chain, ch, i, in_, out)
            in_ = out
        start.send(0)
        for i in range(N):
            ch.send(i)
        in_.recv()

    run(main)
