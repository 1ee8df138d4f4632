"""golang/go test/chan/powser1.go: power series as networks of goroutines.

Doug McIlroy's power series (Squinting at Power Series): a series is a
demand channel pair; every operator is a goroutine that asks its inputs for
coefficients on request. It exercises select with nil channels (getn turns
cases off by setting them to None), nested selects (dosplit) and thousands
of goroutines left blocked when main returns.

Rationals are fractions.Fraction; Go's end mark (a rat with denominator 0)
is FINIS.
"""

from __future__ import annotations

from fractions import Fraction

from offset import go, makechan, run, select

FINIS = "finis"  # end of a series
ZERO = Fraction(0)
ONE = Fraction(1)
N = 10


class Dch:
    """A demand channel: ask on req, receive the coefficient on dat."""

    __slots__ = ("req", "dat")

    def __init__(self):
        self.req = makechan()
        self.dat = makechan()


def mkdch2():
    return [Dch(), Dch()]


def end(u):
    return 1 if u is FINIS else 0


# split reads a single demand channel and replicates its output onto two,
# which may be read at different rates. A goroutine is created at first
# demand for an item and dies after the item has been sent to both outputs.
# The newest generation services requests on out[0]; the oldest on out[1].
def dosplit(in_, out, wait):
    both = False  # do not service both channels
    ret = select(out[0].req.if_recv(), wait.if_recv())
    if ret == wait.if_recv():
        both = True
        ret = select(out[0].req.if_recv(), out[1].req.if_recv())
        if ret == out[1].req.if_recv():
            out[0], out[1] = out[1], out[0]
    in_.req.send(0)
    release = makechan()
    go(dosplit, in_, out, release)
    dat = in_.dat.recv()
    out[0].dat.send(dat)
    if not both:
        wait.recv()
    out[1].req.recv()
    out[1].dat.send(dat)
    release.send(0)


def split(in_, out):
    release = makechan()
    go(dosplit, in_, out, release)
    release.send(0)


def put(dat, out):
    out.req.recv()
    out.dat.send(dat)


def get(in_):
    in_.req.send(0)
    return in_.dat.recv()


def get2(in0, in1):
    """Get one item from each of two demand channels, in whatever order they come."""
    ins = [in0, in1]
    req = [in0.req, in1.req]
    dat = [None, None]
    out = [None, None]
    for _ in range(4):
        # A None channel turns its case off, as Go's nil channel. Cases are
        # told apart by identity: in Add(Ones, Ones) both inputs are the same
        # channel, and equal cases would not say which position fired.
        cases = [
            req[0].if_send(0) if req[0] is not None else None,
            req[1].if_send(0) if req[1] is not None else None,
            dat[0].if_recv() if dat[0] is not None else None,
            dat[1].if_recv() if dat[1] is not None else None,
        ]
        ret = select(*cases)
        k = next(k for k, case in enumerate(cases) if case is ret)
        if k < 2:
            dat[k], req[k] = ins[k].dat, None
        else:
            out[k - 2], dat[k - 2] = ret.value, None
    return out


def copy(in_, out):
    while True:
        out.req.recv()
        out.dat.send(get(in_))


def repeat(dat, out):
    while True:
        put(dat, out)


def Split(U):
    UU = mkdch2()
    go(split, U, UU)
    return UU


def Add(U, V):
    Z = Dch()

    def add():
        while True:
            Z.req.recv()
            uv = get2(U, V)
            which = end(uv[0]) + 2 * end(uv[1])
            if which == 0:
                Z.dat.send(uv[0] + uv[1])
            elif which == 1:
                Z.dat.send(uv[1])
                copy(V, Z)
            elif which == 2:
                Z.dat.send(uv[0])
                copy(U, Z)
            else:
                Z.dat.send(FINIS)

    go(add)
    return Z


def Cmul(c, U):
    Z = Dch()

    def cmul():
        done = False
        while not done:
            Z.req.recv()
            u = get(U)
            if end(u):
                done = True
            else:
                Z.dat.send(c * u)
        Z.dat.send(FINIS)

    go(cmul)
    return Z


def Sub(U, V):
    return Add(U, Cmul(-ONE, V))


def Rep(c):
    Z = Dch()
    go(repeat, c, Z)
    return Z


def Mul(U, V):
    """U*V = u*v + x*(u*VV + v*UU) + x*x*UU*VV."""
    Z = Dch()

    def mul():
        Z.req.recv()
        uv = get2(U, V)
        if end(uv[0]) or end(uv[1]):
            Z.dat.send(FINIS)
            return
        Z.dat.send(uv[0] * uv[1])
        UU = Split(U)
        VV = Split(V)
        W = Add(Cmul(uv[0], VV[0]), Cmul(uv[1], UU[0]))
        Z.req.recv()
        Z.dat.send(get(W))
        copy(Add(W, Mul(UU[1], VV[1])), Z)

    go(mul)
    return Z


def Diff(U):
    Z = Dch()

    def diff():
        Z.req.recv()
        u = get(U)
        if not end(u):
            i = 1
            while True:
                u = get(U)
                if end(u):
                    break
                Z.dat.send(i * u)
                Z.req.recv()
                i += 1
        Z.dat.send(FINIS)

    go(diff)
    return Z


def Integ(c, U):
    """Integrate, with constant of integration c."""
    Z = Dch()

    def integ():
        put(c, Z)
        i = 1
        while True:
            Z.req.recv()
            u = get(U)
            if end(u):
                break
            Z.dat.send(Fraction(1, i) * u)
            i += 1
        Z.dat.send(FINIS)

    go(integ)
    return Z


def Exp(U):
    """exp(U) for U with constant term 0: Z = integral of Z*DU."""
    ZZ = mkdch2()
    split(Integ(ONE, Mul(ZZ[0], Diff(U))), ZZ)
    return ZZ[1]


def MonSubst(U, c0, n):
    """U(c0 * x^n): each coefficient times c0^i, followed by n-1 zeros."""
    Z = Dch()

    def monsubst():
        c = ONE
        while True:
            Z.req.recv()
            u = get(U)
            if end(u):
                Z.dat.send(FINIS)
                return
            Z.dat.send(u * c)
            c = c * c0
            for _ in range(1, n):
                Z.req.recv()
                Z.dat.send(ZERO)

    go(monsubst)
    return Z


def take(U, n):
    return [get(U) for _ in range(n)]


def test_powser1():
    def main():
        Ones = Rep(ONE)
        Twos = Rep(Fraction(2))
        results = {}
        results["Ones"] = take(Ones, 5)
        results["Add Ones Ones"] = take(Add(Ones, Ones), 5)
        results["Add Ones Twos"] = take(Add(Ones, Twos), 5)
        results["Diff"] = take(Diff(Ones), N)
        results["Integ"] = take(Integ(ZERO, Ones), N)
        results["CMul"] = take(Cmul(-ONE, Twos), N)
        results["Sub Ones Twos"] = take(Sub(Ones, Twos), 5)
        results["Mul"] = take(Mul(Ones, Ones), N)
        results["Exp"] = take(Exp(Ones), N)
        results["ATan"] = take(Integ(ZERO, MonSubst(Ones, -ONE, 2)), N)
        return results

    r = run(main)
    F = Fraction
    assert r["Ones"] == [1] * 5
    assert r["Add Ones Ones"] == [2] * 5
    assert r["Add Ones Twos"] == [3] * 5
    assert r["Diff"] == list(range(1, N + 1))  # 1 2 3 4 5
    assert r["Integ"] == [0] + [F(1, i) for i in range(1, N)]  # 0 1 1/2 1/3 1/4
    assert r["CMul"] == [-2] * N
    assert r["Sub Ones Twos"] == [-1] * 5
    assert r["Mul"] == list(range(1, N + 1))  # 1 2 3 4 5
    assert r["Exp"] == [  # 1 1 3/2 13/6 73/24
        F(1), F(1), F(3, 2), F(13, 6), F(73, 24), F(167, 40),
        F(4051, 720), F(37633, 5040), F(43817, 4480), F(4596553, 362880),
    ]  # fmt: skip
    assert r["ATan"] == [  # 0 1 0 -1/3 0 1/5
        0, 1, 0, F(-1, 3), 0, F(1, 5), 0, F(-1, 7), 0, F(1, 9),
    ]  # fmt: skip
