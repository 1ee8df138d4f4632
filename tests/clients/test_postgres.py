"""PostgreSQL drivers, unmodified, under offset, against a real PostgreSQL.

Each test runs a program under ``python -m offset`` in a fresh interpreter
(``run_offset``) and checks both the answers and the overlap: the wall
time against the sequential time (n times one query, that query timed
alone on an open connection in the same child), and the server backends
that answered (``pg_backend_pid()``), which show how many connections were
really in use.

- pg8000 is pure Python on the standard socket: the socket patch area is
  all it needs.
- psycopg 3 waits for its socket in C (``psycopg.waiting.wait_c``): it
  needs offset's psycopg plugin (offset/plugins/psycopg.py), which
  ``patch_all()`` installs.
- SQLAlchemy's QueuePool waits for a free connection on a
  ``threading.Condition`` (sqlalchemy.util.queue): the threading patch
  area must park just the waiting goroutine, with the pool's timeout.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import PostgresServer, require, run_offset

DRIVERS = ["pg8000", "psycopg"]

PRELUDE = """
import time, offset

def plugin_states():
    from offset import plugins
    return [list(p) for p in plugins.plugins()]

# pg8000 asks for SSL unless told not to, building a default SSL context
# for each connection first: ~50 ms of CPU in C (loading the system's CA
# certificates) that no goroutine can overlap. The server here has no SSL.
CONNECT_ARGS = {"ssl_context": False} if params["driver"] == "pg8000" else {}

if params["driver"] == "pg8000":
    import pg8000.dbapi
    def connect():
        return pg8000.dbapi.connect(user=params["user"], host=params["host"], port=params["port"],
                                    database=params["dbname"], **CONNECT_ARGS)
    def sleep_query(conn, seconds, i):
        cur = conn.cursor()
        cur.execute("SELECT pg_sleep(%s), %s::int, pg_backend_pid()", (seconds, i))
        return cur.fetchone()
else:
    import psycopg
    def connect():
        return psycopg.connect(params["dsn"], autocommit=True)
    def sleep_query(conn, seconds, i):
        return conn.execute("SELECT pg_sleep(%s), %s::int, pg_backend_pid()", (seconds, i)).fetchone()
"""


def params(server: PostgresServer, driver: str, **more: Any) -> dict[str, Any]:
    return {
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "dbname": server.dbname,
        "dsn": server.dsn,
        "driver": driver,
        **more,
    }


def report(name: str, r: dict[str, Any]) -> None:
    print(f"\n{name}: wall {r['wall']:.3f} s, sequential {r['sequential']:.3f} s ({r['sequential'] / r['wall']:.1f}x)")


def check_plugin(r: dict[str, Any], driver: str) -> None:
    if driver == "psycopg":
        states = {target: state for target, _, state in r["plugins"]}
        assert states.get("psycopg") == "applied", (
            f"offset's psycopg plugin did not run (plugins: {r['plugins']}): "
            "offset.patch_all() must call offset.plugins.install()"
        )


OWN_CONNECTIONS = """
n, d = params["n"], params["d"]
conn = connect()
t0 = time.perf_counter()
sleep_query(conn, d, -1)
one = time.perf_counter() - t0
conn.close()

done = offset.makechan(n)
def work(i):
    try:
        c = connect()
        try:
            row = sleep_query(c, d, i)
        finally:
            c.close()
        done.send((i, [row[1], row[2]]))
    except Exception as e:
        done.send((i, f"error: {type(e).__name__}: {e}"))

t0 = time.perf_counter()
for i in range(n):
    offset.go(work, i)
out = collect(done, n, 20)
wall = time.perf_counter() - t0
result = {"wall": wall, "one": one, "sequential": n * one, "out": out, "plugins": plugin_states()}
"""


@pytest.mark.parametrize("driver", DRIVERS)
def test_10_goroutines_each_on_its_own_connection(postgres_server: PostgresServer, driver: str) -> None:
    require(driver)
    n, d = 10, 0.3
    r = run_offset(PRELUDE + OWN_CONNECTIONS, params=params(postgres_server, driver, n=n, d=d), timeout=30)
    report(f"{driver}: {n} goroutines, own connection each, SELECT pg_sleep({d})", r)
    check_plugin(r, driver)
    out = r["out"]
    assert len(out) == n, f"only {len(out)} of {n} answered: {out}"
    assert [out[str(i)][0] for i in range(n)] == list(range(n)), out
    assert len({out[str(i)][1] for i in range(n)}) == n  # n server backends
    assert r["one"] >= d
    assert r["wall"] < 0.5 * r["sequential"], f"{r['wall']:.2f}s: the queries did not overlap"
    assert r["wall"] < 5 * d


QUEUE_POOL = """
import sqlalchemy
from sqlalchemy import create_engine, text
from sqlalchemy.pool import QueuePool

n, d, size = params["n"], params["d"], params["size"]
kwargs = {} if params["pool_timeout"] is None else {"pool_timeout": params["pool_timeout"]}
url = f"postgresql+{params['driver']}://{params['user']}@{params['host']}:{params['port']}/{params['dbname']}"
engine = create_engine(url, poolclass=QueuePool, pool_size=size, max_overflow=0, connect_args=CONNECT_ARGS,
                       **kwargs)
query = text("SELECT pg_sleep(:d), CAST(:i AS integer), pg_backend_pid()")
with engine.connect() as c:  # the dialect's first-connect queries, and the one-query time
    t0 = time.perf_counter()
    c.execute(query, {"d": d, "i": -1}).fetchone()
    one = time.perf_counter() - t0

done = offset.makechan(n)
most = [0]
def work(i):
    try:
        with engine.connect() as c:
            most[0] = max(most[0], engine.pool.checkedout())
            row = c.execute(query, {"d": d, "i": i}).fetchone()
        done.send((i, [row[1], row[2]]))
    except Exception as e:
        done.send((i, f"error: {type(e).__name__}: {e}"))

t0 = time.perf_counter()
for i in range(n):
    offset.go(work, i)
out = collect(done, n, 20)
wall = time.perf_counter() - t0
engine.dispose()
result = {"wall": wall, "one": one, "sequential": n * one, "out": out, "most": most[0],
          "plugins": plugin_states()}
"""


@pytest.mark.parametrize("pool_timeout", [None, 2], ids=["default-timeout", "pool_timeout=2"])
@pytest.mark.parametrize("driver", DRIVERS)
def test_sqlalchemy_queuepool_5_connections_20_goroutines(
    postgres_server: PostgresServer, driver: str, pool_timeout: int | None
) -> None:
    require("sqlalchemy")
    require(driver)
    n, d, size = 20, 0.2, 5
    p = params(postgres_server, driver, n=n, d=d, size=size, pool_timeout=pool_timeout)
    r = run_offset(PRELUDE + QUEUE_POOL, params=p, timeout=30)
    report(
        f"SQLAlchemy+{driver}: QueuePool({size}, max_overflow=0, pool_timeout={pool_timeout}), "
        f"{n} goroutines, SELECT pg_sleep({d})",
        r,
    )
    check_plugin(r, driver)
    out = r["out"]
    assert len(out) == n, f"only {len(out)} of {n} answered: {out}"
    # Every goroutine got its row: none timed out waiting for the pool.
    assert [out[str(i)][0] for i in range(n)] == list(range(n)), out
    assert len({out[str(i)][1] for i in range(n)}) <= size  # at most 5 server backends
    assert r["most"] == size
    # n/size rounds of d: the pool's limit holds ...
    assert r["wall"] >= (n // size) * d * 0.9
    # ... and the rounds overlap: not n x d.
    assert r["wall"] < 0.5 * r["sequential"]
    assert r["wall"] < 2 * (n // size) * d
