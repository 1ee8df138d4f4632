"""golang/go test/chan/doubleselect.go: two cases of one select never both run.

The sender sends a counter to one of four channels in one select; if two
cases ran in the same iteration, the same value would arrive twice.
"""

from __future__ import annotations

from offset import go, makechan, run, select

ITERATIONS = 100000  # as in Go


def sender(n, c1, c2, c3, c4):
    try:
        for i in range(n):
            select(c1.if_send(i), c2.if_send(i), c3.if_send(i), c4.if_send(i))
    finally:
        for c in (c1, c2, c3, c4):
            c.close()


def mux(out, in_, done):
    """Receive the values from sender and forward them onto another channel."""
    for v in in_:
        out.send(v)
    done.send(True)


def recver(in_):
    """Get a stream of values from the four muxes and check for duplicates."""
    seen = set()
    for v in in_:
        if v in seen:
            raise AssertionError(f"got duplicate value: {v}")
        seen.add(v)
    return seen


def test_doubleselect():
    def main():
        c1, c2, c3, c4 = makechan(), makechan(), makechan(), makechan()
        done = makechan()
        cmux = makechan()
        go(sender, ITERATIONS, c1, c2, c3, c4)
        for c in (c1, c2, c3, c4):
            go(mux, cmux, c, done)

        def closer():
            for _ in range(4):
                done.recv()
            cmux.close()

        go(closer)
        return recver(cmux)

    assert run(main) == set(range(ITERATIONS))
