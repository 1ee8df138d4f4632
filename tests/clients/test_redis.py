"""redis-py, unmodified, under offset, against a real redis-server.

Each test runs a program under ``python -m offset`` in a fresh interpreter
(``run_offset``) and checks both that every goroutine got the right answer
and that the waits overlapped: the wall time against the sequential time
(n times one operation, that operation timed alone in the same child).

What overlaps honestly here is BLPOP with a timeout: the server holds each
blocked client's reply for the timeout, one connection each, without
using its single thread meanwhile (DEBUG SLEEP, by contrast, stops the
whole server and cannot overlap with anything). So each goroutine's work
ends with a BLPOP that either times out or is served by a push from
another goroutine part-way.

redis-py's ConnectionPool guards its lists with a ``threading.Lock``;
``BlockingConnectionPool`` waits for a free connection in
``queue.LifoQueue.get``: those need the threading and queue patch areas.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import RedisServer, require, run_offset

PRELUDE = """
import time, offset, offset.sync, redis

def client(**kwargs):
    return redis.Redis(host=params["host"], port=params["port"], **kwargs)

ticks = [0]
running = [True]

def ticker():
    # at most 2,000 ticks: bounded even if main never stops it
    for _ in range(2000):
        if not running[0]:
            return
        time.sleep(0.01)
        ticks[0] += 1
"""


@pytest.fixture(autouse=True)
def _redis_py() -> None:
    require("redis")


def params(server: RedisServer, **more: Any) -> dict[str, Any]:
    return {"host": server.host, "port": server.port, **more}


def report(name: str, r: dict[str, Any]) -> None:
    print(f"\n{name}: wall {r['wall']:.3f} s, sequential {r['sequential']:.3f} s ({r['sequential'] / r['wall']:.1f}x)")


ONE_CLIENT_100 = """
n, d = params["n"], params["d"]
# redis-py 8 caps a pool at 100 connections by default; n BLPOPs and the
# pushers are at most 1.5 n at once.
r = client(max_connections=2 * n)
r.flushdb()
r.ping()
# One BLPOP that times out, alone (redis-server checks timeouts 10 times
# a second, so it takes d to d + 0.1 s).
t0 = time.perf_counter()
assert r.blpop([f"{params['run']}:nothing"], timeout=d) is None
one = time.perf_counter() - t0

done = offset.makechan(n)

def pusher(i):
    time.sleep(d / 3)
    r.rpush(f"{params['run']}:q:{i}", f"v{i}")

def work(i):
    run = params["run"]
    try:
        r.set(f"{run}:k:{i}", i * i)
        count = r.incr(f"{run}:count")
        # Even i: nobody pushes, it times out after d. Odd i: pushed after
        # d/3, so the long timeout is never reached.
        got = r.blpop([f"{run}:q:{i}"], timeout=d if i % 2 == 0 else 10)
        value = int(r.get(f"{run}:k:{i}"))
        done.send((i, [value, count, None if got is None else [x.decode() for x in got]]))
    except Exception as e:
        done.send((i, f"error: {type(e).__name__}: {e}"))

t0 = time.perf_counter()
for i in range(n):
    if i % 2:
        offset.go(pusher, i)
    offset.go(work, i)
out = collect(done, n, 20)
wall = time.perf_counter() - t0
result = {
    # One by one: the even half each times out after one BLPOP's time,
    # the odd half each waits d/3 for its push.
    "wall": wall, "one": one, "sequential": (n - n // 2) * one + (n // 2) * d / 3, "out": out,
    "count": int(r.get(f"{params['run']}:count")),
    "connections": len(r.connection_pool._available_connections) + len(r.connection_pool._in_use_connections),
}
"""


def test_100_goroutines_share_one_client(redis_server: RedisServer) -> None:
    n, d = 100, 0.3
    r = run_offset(PRELUDE + ONE_CLIENT_100, params=params(redis_server, n=n, d=d, run="one"), timeout=30)
    report("redis: 100 goroutines, one client, SET/INCR/BLPOP 0.3 s/GET", r)
    print(f"redis: the client's pool grew to {r['connections']} connections")
    out = r["out"]
    assert len(out) == n, f"only {len(out)} of {n} answered: {out}"
    for i in range(n):
        value, count, got = out[str(i)]
        assert value == i * i
        assert got == ([f"one:q:{i}", f"v{i}"] if i % 2 else None)
    assert sorted(v[1] for v in out.values()) == list(range(1, n + 1))  # INCR: each count once
    assert r["count"] == n
    # The BLPOPs in flight at once each held a connection of their own.
    assert r["connections"] > n // 4
    assert r["one"] >= d * 0.9
    assert r["wall"] < 0.5 * r["sequential"]
    assert r["wall"] < 10 * d, f"{r['wall']:.2f}s: the BLPOPs did not overlap"


BLOCKING_POOL = """
n, d, size = params["n"], params["d"], params["size"]
run = params["run"]
pool = redis.BlockingConnectionPool(host=params["host"], port=params["port"], max_connections=size, timeout=20)
r = redis.Redis(connection_pool=pool)
r.ping()
t0 = time.perf_counter()
assert r.blpop([f"{run}:nothing"], timeout=d) is None
one = time.perf_counter() - t0

# What the server saw: the most clients connected at once, sampled by a
# client of its own (not from the pool) every 10 ms.
most = [0]
sampling = [True]
def sampler():
    mon = client()
    for _ in range(3000):
        if not sampling[0]:
            break
        most[0] = max(most[0], mon.info("clients")["connected_clients"] - 1)  # less itself
        time.sleep(0.01)
    mon.close()

done = offset.makechan(n)
def work(i):
    try:
        r.set(f"{run}:k:{i}", i)
        got = r.blpop([f"{run}:q:{i}"], timeout=d)
        done.send((i, [int(r.get(f"{run}:k:{i}")), got]))
    except Exception as e:
        done.send((i, f"error: {type(e).__name__}: {e}"))

offset.go(sampler)
time.sleep(0.05)
t0 = time.perf_counter()
for i in range(n):
    offset.go(work, i)
out = collect(done, n, 25)
wall = time.perf_counter() - t0
sampling[0] = False
result = {"wall": wall, "one": one, "sequential": n * one, "out": out, "most": most[0],
          "pool": len(pool._connections)}
"""


def test_blocking_connection_pool_more_goroutines_than_connections(redis_server: RedisServer) -> None:
    n, d, size = 30, 0.2, 5
    r = run_offset(PRELUDE + BLOCKING_POOL, params=params(redis_server, n=n, d=d, size=size, run="bpool"), timeout=40)
    report(f"redis: BlockingConnectionPool({size}), {n} goroutines, BLPOP {d} s", r)
    out = r["out"]
    assert len(out) == n, f"only {len(out)} of {n} answered: {out}"
    assert all(out[str(i)] == [i, None] for i in range(n)), out
    assert r["pool"] <= size
    assert 1 <= r["most"] <= size
    # n/size rounds of d at least (the pool's limit holds) ...
    assert r["wall"] >= (n // size) * d * 0.9
    # ... and not the sequential n x d.
    assert r["wall"] < 0.5 * r["sequential"]


BLPOP_PARKS = """
d = params["d"]
run = params["run"]
r = client()
r.ping()
offset.go(ticker)
offset.gosched()  # the ticker starts: it parks in its first sleep

def timed_blpop(key, timeout):
    t0, k0 = time.perf_counter(), ticks[0]
    got = r.blpop([key], timeout=timeout)
    return got, time.perf_counter() - t0, ticks[0] - k0

# Nobody pushes: it times out, and the ticker ticked meanwhile.
none, none_wall, none_ticks = timed_blpop(f"{run}:empty", d)

# Another goroutine pushes after d/2: it returns then.
def push_later():
    time.sleep(d / 2)
    client().rpush(f"{run}:later", "hello")
offset.go(push_later)
got, got_wall, got_ticks = timed_blpop(f"{run}:later", 5)
running[0] = False
result = {
    "none": none, "none_wall": none_wall, "none_ticks": none_ticks,
    "got": [x.decode() for x in got], "got_wall": got_wall, "got_ticks": got_ticks,
}
"""


def test_blpop_timeout_parks_only_its_goroutine(redis_server: RedisServer) -> None:
    d = 0.5
    r = run_offset(PRELUDE + BLPOP_PARKS, params=params(redis_server, d=d, run="parks"), timeout=30)
    print(
        f"\nredis: BLPOP timeout {d} s took {r['none_wall']:.3f} s with {r['none_ticks']} ticks of 10 ms; "
        f"served after {r['got_wall']:.3f} s with {r['got_ticks']} ticks"
    )
    assert r["none"] is None
    assert d * 0.9 <= r["none_wall"] < d + 1.0
    assert r["none_ticks"] >= d / 0.01 / 3  # the ticker kept ticking (a blocked thread: 0)
    assert r["got"] == ["parks:later", "hello"]
    assert d / 2 * 0.9 <= r["got_wall"] < d / 2 + 1.0
    assert r["got_ticks"] >= d / 2 / 0.01 / 3


PUBSUB = """
run = params["run"]
publishers, each = params["publishers"], params["each"]
r = client()
p = r.pubsub()
p.subscribe(f"{run}:ch")
# The subscription is confirmed before anyone publishes.
first = p.get_message(timeout=5)
assert first is not None and first["type"] == "subscribe", first
offset.go(ticker)

received = []
done = offset.makechan(1)
def listener():
    t0 = time.perf_counter()
    # At most publishers x each messages plus "stop", and at most 10 s.
    for _ in range(publishers * each + 1):
        if time.perf_counter() - t0 > 10:
            break
        m = p.get_message(timeout=10)  # parks on the socket until a message comes
        if m is None or m["type"] != "message":
            continue
        data = m["data"].decode()
        if data == "stop":
            break
        received.append(data)
    done.send(time.perf_counter() - t0)

def publisher(k):
    pub = client()
    for j in range(each):
        assert pub.publish(f"{run}:ch", f"{k}:{j}") == 1  # one subscriber got it
        time.sleep(0.002)
    pub.close()

offset.go(listener)
wg = offset.sync.WaitGroup()
t0 = time.perf_counter()
for k in range(publishers):
    wg.go(publisher, k)
wg.wait()
r.publish(f"{run}:ch", "stop")
listen_wall = done.recv()
running[0] = False
p.close()
result = {"received": received, "wall": time.perf_counter() - t0, "ticks": ticks[0]}
"""


def test_pubsub_listener_goroutine_receives_what_others_publish(redis_server: RedisServer) -> None:
    publishers, each = 10, 20
    r = run_offset(
        PRELUDE + PUBSUB, params=params(redis_server, publishers=publishers, each=each, run="ps"), timeout=30
    )
    print(
        f"\nredis: pub/sub, {publishers} publishers x {each} messages in {r['wall']:.3f} s, "
        f"{r['ticks']} ticks meanwhile"
    )
    received = r["received"]
    assert len(received) == publishers * each
    assert sorted(received) == sorted(f"{k}:{j}" for k in range(publishers) for j in range(each))
    for k in range(publishers):  # each publisher's messages in its order
        mine = [m for m in received if m.startswith(f"{k}:")]
        assert mine == [f"{k}:{j}" for j in range(each)]
    # 20 messages 2 ms apart per publisher, all at once: about 40 ms plus
    # the round trips, not 10 x that.
    assert r["wall"] < 3.0
    assert r["ticks"] >= 1
