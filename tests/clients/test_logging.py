"""logging.handlers.SocketHandler shared by 50 goroutines, under offset.

The program is ordinary logging code: one logger with a SocketHandler, a
first record from the main goroutine (the handler connects), then 50
goroutines that each log 20 records of about 10 KB over that connection. The receiver
(tests/clients/_backend.py, ``logrecv``) is another process that reads the
length-prefixed pickles slowly, so the handler's ``sendall`` keeps finding
the socket full and parks its goroutine half-way through a record.

``Handler.handle`` holds the handler's ``threading.RLock`` around ``emit``.
Unpatched, an RLock is owned per thread, and all 50 goroutines run in one
thread: every one of them would take it at once and their ``sendall``s
would interleave on the one socket, garbling the stream. With the threading
area patched, the RLock is owned per goroutine, so the records go out one
after another, whole. The test checks that every record arrived intact (all
1,000, each unpickles, its message is the one sent), in each goroutine's
order, on one connection; and that the program's other goroutines kept
running meanwhile (a ticker's count against the wall time).
"""

from __future__ import annotations

import inspect

from ._backend import LOG_FILLER, Backend, log_message
from .conftest import run_offset

GOROUTINES = 50
PER = 20  # records per goroutine: 1,000 in all
TICK = 0.01

SCRIPT = (
    f"LOG_FILLER = {LOG_FILLER}\n"
    + inspect.getsource(log_message)
    + """
import logging, logging.handlers, time, offset
from offset import time as gotime

log = logging.getLogger("clients.slow")
log.propagate = False
log.setLevel(logging.INFO)
handler = logging.handlers.SocketHandler("127.0.0.1", params["port"])
log.addHandler(handler)

ticks = [0]
running = [True]

def ticker():
    while running[0]:
        time.sleep(params["tick"])
        ticks[0] += 1

def writer(g, done):
    for i in range(params["per"]):
        log.info(log_message(g, i))
    done.send(g)

log.info(log_message(-1, 0))  # the program's first record: the handler connects
offset.go(ticker)
done = offset.makechan(params["goroutines"])
t0 = time.perf_counter()
for g in range(params["goroutines"]):
    offset.go(writer, g, done)
finished = 0
expired = gotime.After(20 * gotime.SECOND)
while finished < params["goroutines"]:
    if offset.select(done.if_recv(), expired.if_recv()) == expired.if_recv():
        break
    finished += 1
wall = time.perf_counter() - t0
running[0] = False
handler.close()
result = {"finished": finished, "wall": wall, "ticks": ticks[0]}
"""
)


def test_socket_handler_shared_by_50_goroutines() -> None:
    n = GOROUTINES * PER + 1  # the main goroutine's first record, then the 50's
    with Backend("logrecv", "--expect", n, "--chunk", 8192, "--pause-ms", 0.5, "--limit-s", 25) as recv:
        r = run_offset(SCRIPT, params={"port": recv.port, "goroutines": GOROUTINES, "per": PER, "tick": TICK})
        got = recv.output(timeout=15)
    print(
        f"\nSocketHandler: {n - 1} records of {LOG_FILLER // 1000} KB from {GOROUTINES} goroutines: "
        f"wall {r['wall']:.3f} s (the receiver took {got['seconds']:.3f} s for {got['bytes']:,} bytes "
        f"on {got['connections']} connection(s)); ticker {r['ticks']} ticks of {TICK * 1000:.0f} ms"
    )
    assert got["n_problems"] == 0, f"{got['n_problems']} bad records, the first: {got['problems']}"
    assert r["finished"] == GOROUTINES, r
    assert len(got["intact"]) == n, f"{len(got['intact'])} of {n} records arrived"
    assert got["intact"][0] == "g-1-r0"
    expected = {f"g{g}-r{i}" for g in range(GOROUTINES) for i in range(PER)}
    assert set(got["intact"][1:]) == expected
    # Each goroutine's records in the order it logged them.
    order: dict[str, list[int]] = {}
    for tag in got["intact"][1:]:
        g, i = tag[1:].split("-r")
        order.setdefault(g, []).append(int(i))
    assert all(v == list(range(PER)) for v in order.values()), order
    assert got["connections"] == 1, got["connections"]
    # The other goroutines ran while the 50 waited on the lock and the
    # socket: a ticker ticking every TICK got at least a third of its ticks.
    assert r["ticks"] >= (r["wall"] / TICK) / 3, r
