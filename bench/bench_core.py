"""offset's core beside raw greenlet (the floor), gevent and asyncio.

Rows (see bench/README.md for what each measures and why):
  spawn+finish      100,000 goroutines, WaitGroup-style completion
  ping-pong         200,000 round trips over two unbuffered channels
  buffered 128      1,000,000 items through a channel of capacity 128
  select fan-in 8   200,000 items from 8 producers, one consumer selecting
  parked goroutine  memory of 100,000 goroutines blocked on a receive
  own channel       memory of 100,000 goroutines, each blocked on its own
                    unbuffered channel (as users write it), against a bare
                    parked greenlet
  channel           memory of 100,000 unbuffered channels nobody uses, traced

Targets are issue 11's (the compiled core).

Run: ./bench/run core   (or: python bench/bench_core.py [--quick])
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.queue  # noqa: E402
from _harness import Row, Target, header, isolated_each, measure, memory_probe, report, size  # noqa: E402
from greenlet import getcurrent, greenlet  # noqa: E402

from offset import go, gosched, makechan, run, select  # noqa: E402

N_SPAWN = 100_000
N_PINGPONG = 200_000
N_BUFFERED = 1_000_000
N_FANIN = 200_000
N_PARKED = 100_000
CAP = 128
NPROD = 8


# -- 1. spawn+finish: n goroutines, the last one to finish signals ---------


def offset_spawn(n: int) -> None:
    done = makechan(1)
    left = n

    def worker() -> None:
        nonlocal left
        left -= 1
        if left == 0:
            done.send(None)

    def main() -> None:
        for _ in range(n):
            go(worker)
        done.recv()

    run(main)


def greenlet_spawn(n: int) -> None:
    # The floor: a fresh greenlet per task, switched into at once, runs to its end.
    left = n

    def worker() -> None:
        nonlocal left
        left -= 1

    for _ in range(n):
        greenlet(worker).switch()
    assert left == 0


def gevent_spawn(n: int) -> None:
    done = gevent.event.Event()
    left = n

    def worker() -> None:
        nonlocal left
        left -= 1
        if left == 0:
            done.set()

    spawn = gevent.spawn
    for _ in range(n):
        spawn(worker)
    done.wait()


def asyncio_spawn(n: int) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        left = n

        async def worker() -> None:
            nonlocal left
            left -= 1
            if left == 0:
                done.set_result(None)

        create_task = loop.create_task
        tasks = [create_task(worker()) for _ in range(n)]
        await done
        del tasks

    asyncio.run(main())


# -- 2. ping-pong: n round trips over two unbuffered channels --------------


def offset_pingpong(n: int) -> None:
    ping, pong = makechan(), makechan()

    def ponger() -> None:
        recv, send = ping.recv, pong.send
        for _ in range(n):
            send(recv())

    def main() -> None:
        go(ponger)
        send, recv = ping.send, pong.recv
        for i in range(n):
            send(i)
            recv()

    run(main)


def greenlet_pingpong(n: int) -> None:
    # The floor: one switch there, one back.
    main = getcurrent()

    def ponger(v: int) -> None:
        back = main.switch
        while True:
            v = back(v)

    g = greenlet(ponger)
    there = g.switch
    for i in range(n):
        there(i)
    g.throw()  # end it (GreenletExit)


def gevent_pingpong(n: int) -> None:
    ping, pong = gevent.queue.Channel(), gevent.queue.Channel()

    def ponger() -> None:
        get, put = ping.get, pong.put
        for _ in range(n):
            put(get())

    g = gevent.spawn(ponger)
    put, get = ping.put, pong.get
    for i in range(n):
        put(i)
        get()
    g.join()


def asyncio_pingpong(n: int) -> None:
    # asyncio has no unbuffered queue; with one item in flight it does not matter.
    async def main() -> None:
        ping: asyncio.Queue[int] = asyncio.Queue()
        pong: asyncio.Queue[int] = asyncio.Queue()

        async def ponger() -> None:
            for _ in range(n):
                await pong.put(await ping.get())

        t = asyncio.create_task(ponger())
        for i in range(n):
            await ping.put(i)
            await pong.get()
        await t

    asyncio.run(main())


# -- 3. buffered: n items, one producer, one consumer, capacity 128 --------


def offset_buffered(n: int) -> None:
    c = makechan(CAP)

    def producer() -> None:
        send = c.send
        for i in range(n):
            send(i)

    def main() -> None:
        go(producer)
        recv = c.recv
        for _ in range(n):
            recv()

    run(main)


def greenlet_buffered(n: int) -> None:
    # The floor: a deque; the producer switches to the consumer when it is
    # full, the consumer to the producer when it is empty.
    from collections import deque

    buf: deque[int] = deque()
    main = getcurrent()

    def producer() -> None:
        append, back = buf.append, main.switch
        for i in range(n):
            if len(buf) >= CAP:
                back()
            append(i)

    prod = greenlet(producer)
    fill, popleft = prod.switch, buf.popleft
    for _ in range(n):
        if not buf:
            fill()
        popleft()


def gevent_buffered(n: int) -> None:
    q = gevent.queue.Queue(CAP)

    def producer() -> None:
        put = q.put
        for i in range(n):
            put(i)

    g = gevent.spawn(producer)
    get = q.get
    for _ in range(n):
        get()
    g.join()


def asyncio_buffered(n: int) -> None:
    async def main() -> None:
        q: asyncio.Queue[int] = asyncio.Queue(CAP)

        async def producer() -> None:
            put = q.put
            for i in range(n):
                await put(i)

        t = asyncio.create_task(producer())
        get = q.get
        for _ in range(n):
            await get()
        await t

    asyncio.run(main())


# -- 4. fan-in: 8 producers, one consumer -----------------------------------


def offset_fanin(n: int) -> None:
    per = n // NPROD
    chans = [makechan() for _ in range(NPROD)]

    def producer(c: object) -> None:
        send = c.send  # type: ignore[attr-defined]
        for i in range(per):
            send(i)

    def main() -> None:
        for c in chans:
            go(producer, c)
        c0, c1, c2, c3, c4, c5, c6, c7 = chans
        for _ in range(per * NPROD):
            _ = select(
                c0.if_recv(),
                c1.if_recv(),
                c2.if_recv(),
                c3.if_recv(),
                c4.if_recv(),
                c5.if_recv(),
                c6.if_recv(),
                c7.if_recv(),
            ).value

    run(main)


def greenlet_fanin(n: int) -> None:
    # The floor: no select; the consumer takes one item from each producer
    # in turn, two switches per item.
    per = n // NPROD
    main = getcurrent()

    def producer() -> None:
        back = main.switch
        for i in range(per):
            back(i)

    gs = [greenlet(producer).switch for _ in range(NPROD)]
    for _ in range(per):
        for take in gs:
            take()


def gevent_fanin(n: int) -> None:
    # gevent has no select: the 8 producers share one channel.
    per = n // NPROD
    ch = gevent.queue.Channel()

    def producer() -> None:
        put = ch.put
        for i in range(per):
            put(i)

    gs = [gevent.spawn(producer) for _ in range(NPROD)]
    get = ch.get
    for _ in range(per * NPROD):
        get()
    gevent.joinall(gs)


def asyncio_fanin(n: int) -> None:
    # Nor has asyncio: one shared queue of size 1 (it has no unbuffered one).
    per = n // NPROD

    async def main() -> None:
        q: asyncio.Queue[int] = asyncio.Queue(1)

        async def producer() -> None:
            put = q.put
            for i in range(per):
                await put(i)

        ts = [asyncio.create_task(producer()) for _ in range(NPROD)]
        get = q.get
        for _ in range(per * NPROD):
            await get()
        await asyncio.gather(*ts)

    asyncio.run(main())


# -- 5. memory per parked goroutine (each call runs in a fresh interpreter) --


def offset_parked(n: int, traced: bool) -> float:
    """KiB per goroutine blocked in c.recv()."""
    c = makechan()
    done = makechan(1)
    parked = 0
    left = n

    def waiter() -> None:
        nonlocal parked, left
        parked += 1
        c.recv()
        left -= 1
        if left == 0:
            done.send(None)

    def main() -> float:
        probe = memory_probe(traced)
        base = probe()
        for _ in range(n):
            go(waiter)
        while parked < n:
            gosched()
        used = probe() - base
        c.close()
        done.recv()
        return used / n / 1024

    result: float | None = run(main)
    assert result is not None
    return result


def offset_own_channel(n: int) -> float:
    """KiB per goroutine blocked in c.recv() on a channel of its own, made with it."""
    parked = 0
    chans = []

    def waiter(c: Any) -> None:
        nonlocal parked
        parked += 1
        c.recv()

    def main() -> float:
        probe = memory_probe(False)
        base = probe()
        for _ in range(n):
            c = makechan()
            chans.append(c)
            go(waiter, c)
        while parked < n:
            gosched()
        used = probe() - base
        for c in chans:
            c.close()
        return used / n / 1024

    result: float | None = run(main)
    assert result is not None
    return result


def gevent_own_channel(n: int) -> float:
    """KiB per gevent greenlet blocked in Channel.get() on a Channel of its own."""
    parked = 0

    def waiter(ch: Any) -> None:
        nonlocal parked
        parked += 1
        ch.get()

    gevent.sleep(0)
    probe = memory_probe(False)
    base = probe()
    keep = []
    for _ in range(n):
        ch = gevent.queue.Channel()
        keep.append(ch)
        gevent.spawn(waiter, ch)
    while parked < n:
        gevent.sleep(0)
    return (probe() - base) / n / 1024


def _bytes_each(make: Any, n: int) -> float:
    """Bytes traced per object of ``n`` made by ``make()``."""
    probe = memory_probe(True)
    base = probe()
    objs = [make() for _ in range(n)]
    used = probe() - base
    del objs
    return used / n


def offset_channel(n: int) -> float:
    """Bytes per unbuffered channel, traced."""
    return _bytes_each(makechan, n)


def gevent_channel(n: int) -> float:
    """Bytes per gevent.queue.Channel, traced."""
    return _bytes_each(gevent.queue.Channel, n)


def asyncio_channel(n: int) -> float:
    """Bytes per asyncio.Queue(), traced."""
    return _bytes_each(asyncio.Queue, n)


def greenlet_parked(n: int, traced: bool) -> float:
    """KiB per bare greenlet switched into and parked."""
    main = getcurrent()

    def waiter() -> None:
        main.switch()

    probe = memory_probe(traced)
    base = probe()
    gs = []
    for _ in range(n):
        g = greenlet(waiter)
        g.switch()
        gs.append(g)
    return (probe() - base) / n / 1024


def greenlet_own_channel(n: int) -> float:
    """The own-channel row's floor: KiB per bare parked greenlet (no channel)."""
    return greenlet_parked(n, False)


def gevent_parked(n: int, traced: bool) -> float:
    """KiB per gevent greenlet blocked in Channel.get()."""
    ch = gevent.queue.Channel()
    parked = 0

    def waiter() -> None:
        nonlocal parked
        parked += 1
        ch.get()

    gevent.sleep(0)  # make the hub before the baseline
    probe = memory_probe(traced)
    base = probe()
    for _ in range(n):
        gevent.spawn(waiter)
    while parked < n:
        gevent.sleep(0)
    return (probe() - base) / n / 1024


def asyncio_parked(n: int, traced: bool) -> float:
    """KiB per task blocked in Queue.get()."""

    async def main() -> float:
        q: asyncio.Queue[None] = asyncio.Queue()
        parked = 0

        async def waiter() -> None:
            nonlocal parked
            parked += 1
            await q.get()

        probe = memory_probe(traced)
        base = probe()
        tasks = [asyncio.create_task(waiter()) for _ in range(n)]
        while parked < n:
            await asyncio.sleep(0)
        used = probe() - base
        for _ in range(n):  # wake them (cancelling 100,000 getters is quadratic)
            q.put_nowait(None)
        await asyncio.gather(*tasks)
        return used / n / 1024

    return asyncio.run(main())


# -- the table -----------------------------------------------------------------


IMPLS = ("offset", "greenlet", "gevent", "asyncio")


def impls(workload: str) -> dict[str, Any]:
    """The functions named ``<impl>_<workload>`` above, by column."""
    return {impl: globals()[f"{impl}_{workload}"] for impl in IMPLS}


def main() -> None:
    header("core")
    rows = []

    n = size(N_SPAWN)
    rows.append(
        Row(
            f"spawn+finish ({n:,})",
            "goroutines/s",
            measure(impls("spawn"), n, label="spawn+finish"),
            targets=[Target(">=10x gevent", lambda r: r["offset"] >= 10 * r["gevent"])],
        )
    )

    n = size(N_PINGPONG)
    rows.append(
        Row(
            f"ping-pong ({n:,})",
            "ns/round trip",
            measure(impls("pingpong"), n, unit="ns", label="ping-pong"),
            lower_is_better=True,
            targets=[
                Target("<=2x floor", lambda r: r["offset"] <= 2 * r["greenlet"]),
                Target(">=4x gevent", lambda r: r["gevent"] >= 4 * r["offset"]),
            ],
        )
    )

    n = size(N_BUFFERED)
    rows.append(
        Row(
            f"buffered {CAP} ({n:,})",
            "items/s",
            measure(impls("buffered"), n, label="buffered"),
            targets=[Target(">=1.2x gevent", lambda r: r["offset"] >= 1.2 * r["gevent"])],
        )
    )

    n = size(N_FANIN) // NPROD * NPROD
    rows.append(
        Row(
            f"select fan-in {NPROD} ({n:,})",
            "items/s",
            measure(impls("fanin"), n, label="select fan-in"),
            targets=[Target(">=2x gevent", lambda r: r["offset"] >= 2 * r["gevent"])],
        )
    )

    # Memory: each figure from a fresh interpreter, so nothing freed earlier is reused.
    n = size(N_PARKED)
    for traced, label, unit, targets in (
        (False, "parked goroutine", "KiB/goroutine", [Target("<7 KiB", lambda r: r["offset"] < 7)]),
        (True, "parked, tracemalloc", "KiB traced", []),
    ):
        rows.append(
            Row(
                f"{label} ({n:,})",
                unit,
                isolated_each(impls("parked"), n, traced, label=label),
                lower_is_better=True,
                targets=targets,
                fmt="{:.2f}",
                words=("smaller", "larger"),
            )
        )

    res = isolated_each(
        {"offset": offset_own_channel, "greenlet": greenlet_own_channel, "gevent": gevent_own_channel},
        n,
        label="own channel",
    )
    rows.append(
        Row(
            f"parked on its own channel ({n:,})",
            "KiB/goroutine",
            res,
            lower_is_better=True,
            targets=[Target("<=floor+1 KiB", lambda r: r["offset"] <= r["greenlet"] + 1)],
            fmt="{:.2f}",
            words=("smaller", "larger"),
        )
    )
    res = isolated_each(
        {impl: globals()[f"{impl}_channel"] for impl in ("offset", "gevent", "asyncio")}, n, label="channel"
    )
    rows.append(
        Row(
            f"unbuffered channel, unused ({n:,})",
            "bytes traced",
            res,
            lower_is_better=True,
            targets=[Target("<=256 B", lambda r: r["offset"] <= 256)],
            fmt="{:.0f}",
            words=("smaller", "larger"),
        )
    )

    report(rows)


if __name__ == "__main__":
    main()
