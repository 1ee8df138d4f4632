"""offset's patch layer beside gevent's monkey patching and a thread per connection.

Rows (issue 4, point 8; see bench/README.md):
  echo server       a plain blocking-socket echo server (bench/_echo_server.py,
                    the same code in every column) serving 100 clients of a
                    load generator in another process (bench/_echo_load.py),
                    64-byte messages, 2,000 round trips each: requests/s.
                    offset: python -m offset, go() per connection; gevent:
                    monkey.patch_all(), gevent.spawn; threads: a
                    threading.Thread per connection. One fresh server
                    process per column. Under it: the server's CPU time
                    per round trip (user + system, all threads).
  socket.recv       what patching costs on the echo row's hot call: ns per
                    recv(64) on a socketpair with data ready, patched
                    (in a goroutine / greenlet, and outside one) against
                    the unpatched call; plus a wrapt FunctionWrapper
                    pass-through for reference (a note under the table).
  HTTP fan-out      200 urllib.request.urlopen calls at once, from 200
                    goroutines / greenlets / threads (bench/_fanout.py), to
                    examples/slow_server.py --delay-ms 50 in another
                    process: wall ms. Under it: the client process's CPU
                    time for one fan-out.

Run: ./bench/run patches   (or: python bench/bench_patches.py [--quick])
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import PURE_ENV, QUICK, REPEAT, Row, Target, header, isolated, offset_builds, progress, report, size  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
PY = sys.executable

ECHO_CLIENTS = 100
ECHO_ROUNDS = 2_000  # per client
ECHO_WARMUP = 20  # round trips per client before the timed ones
FANOUT = 200
FANOUT_DELAY_MS = 50
FANOUT_RUNS = 1 if QUICK else max(REPEAT, 7)  # cheap, and server-bound, so noisy: more runs
RECV_CALLS = 200_000
RECV_BATCH = 1_000  # recv(64) calls per refill of the socketpair
CHILD_LIMIT_S = 120.0  # any one child process; then it is killed and the bench fails


_CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- child processes ------------------------------------------------------------


def _impls() -> list[str]:
    """The columns: offset's builds (compiled, and pure beside it: offset_builds), gevent, threads."""
    return [col for col, _ in offset_builds()] + ["gevent", "threads"]


def _command(impl: str, script: str, *args: Any) -> list[str]:
    """How to run ``script`` for column ``impl``: offset's under python -m offset."""
    path = os.path.join(BENCH, script)
    if impl.startswith("offset"):
        return [PY, "-m", "offset", path, "offset"] + [str(a) for a in args]
    return [PY, path, impl] + [str(a) for a in args]


def _env(impl: str) -> dict[str, str]:
    """The environment of column ``impl``'s processes: offset's pure core for offset_pure."""
    return dict(os.environ, **(PURE_ENV if impl == "offset_pure" else {}))


class Server:
    """A server process that prints its port on its first line; killed on exit."""

    def __init__(self, argv: list[str], name: str, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.err, cwd=ROOT, env=env)
        self.port = self._read_port(timeout=20.0)

    def _read_port(self, timeout: float) -> int:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                self.close()
                raise RuntimeError(f"{self.name}: no port after {timeout} s{self.stderr()}")
        line = self.proc.stdout.readline()
        try:
            return int(line)
        except ValueError:
            self.close()
            raise RuntimeError(f"{self.name}: first line {line!r} is not a port{self.stderr()}") from None

    def cpu_seconds(self) -> tuple[float, float]:
        """(user, system) CPU time the server process (every thread) has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / _CLK_TCK, int(fields[12]) / _CLK_TCK

    def check(self) -> None:
        """Raise if the server died."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name}: exited with {self.proc.returncode}{self.stderr()}")

    def stderr(self) -> str:
        self.err.seek(0)
        text = self.err.read().decode(errors="replace").strip()
        return f"; its stderr:\n{text}" if text else ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.err.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run_child(argv: list[str], what: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a client process to its end; its last line of output is JSON."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=CHILD_LIMIT_S, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired as e:  # subprocess.run kills it
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        raise RuntimeError(f"{what}: still running after {CHILD_LIMIT_S} s; stderr:\n{err}") from None
    if p.returncode != 0:
        raise RuntimeError(f"{what}: exit {p.returncode}; stderr:\n{p.stderr.strip()}")
    out: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    return out


# -- 1. echo server: requests per second ---------------------------------------------


def echo(rounds: int) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    """Round trips per second of each column, best of REPEAT runs (columns interleaved),
    and the server's (user, system) CPU time per round trip in us, of the run
    that used the least."""
    servers: dict[str, Server] = {}
    best: dict[str, float] = {}
    cpu: dict[str, tuple[float, float]] = {}
    try:
        for impl in _impls():
            servers[impl] = Server(_command(impl, "_echo_server.py"), f"echo server ({impl})", _env(impl))
        for run in range(REPEAT):
            for impl, srv in servers.items():
                progress(f"echo server: {impl}, run {run + 1} of {REPEAT} ...")
                argv = [PY, os.path.join(BENCH, "_echo_load.py"), srv.port, ECHO_CLIENTS, rounds, ECHO_WARMUP]
                u0, s0 = srv.cpu_seconds()
                r = _run_child([str(a) for a in argv], f"echo load against {impl}")
                srv.check()
                u1, s1 = srv.cpu_seconds()
                per = 1e6 / (ECHO_CLIENTS * (rounds + ECHO_WARMUP))
                used = ((u1 - u0) * per, (s1 - s0) * per)
                best[impl] = max(best.get(impl, 0.0), r["round_trips"] / r["seconds"])
                if impl not in cpu or sum(used) < sum(cpu[impl]):
                    cpu[impl] = used
    finally:
        for srv in servers.values():
            srv.close()
    return best, cpu


# -- 2. what patching costs on socket.recv --------------------------------------------
#
# Each runs in a fresh interpreter (isolated): patching is process-wide.


def _time_recv(recv: Any, fill: Any, n: int) -> float:
    """ns per ``recv(64)`` with data always ready.

    ``n`` calls in batches of RECV_BATCH: ``fill`` puts RECV_BATCH x 64
    bytes in the socket (not timed), then the batch's calls are timed. The
    fastest batch counts (noise only adds time), as the harness does.
    """
    blob = b"x" * (64 * RECV_BATCH)
    perf = time.perf_counter
    best = float("inf")
    for _ in range(max(1, n // RECV_BATCH)):
        fill(blob)
        t0 = perf()
        for _ in range(RECV_BATCH):
            recv(64)
        best = min(best, perf() - t0)
    return best / RECV_BATCH * 1e9


def _pair() -> tuple[Any, Any, Any]:
    import socket

    a, b = socket.socketpair()
    return a, b, a.sendall  # the refill is not timed


def recv_unpatched(n: int) -> dict[str, float]:
    """Plain recv, and recv behind a pass-through wrapt.FunctionWrapper."""
    import socket

    import wrapt

    a, b, fill = _pair()
    _time_recv(b.recv, fill, n // 10)
    plain = _time_recv(b.recv, fill, n)

    class Wrapped(socket.socket):
        recv = wrapt.FunctionWrapper(
            socket.socket.recv, lambda wrapped, instance, args, kwargs: wrapped(*args, **kwargs)
        )

    c = Wrapped(fileno=b.detach())
    _time_recv(c.recv, fill, n // 10)
    wrapped = _time_recv(c.recv, fill, n)
    return {"plain": plain, "wrapt": wrapped}


def recv_offset(n: int) -> dict[str, float]:
    """offset-patched recv, outside a goroutine and in one."""
    import offset

    offset.patch_all()
    a, b, fill = _pair()
    _time_recv(b.recv, fill, n // 10)
    outside = _time_recv(b.recv, fill, n)

    def main() -> float:
        _time_recv(b.recv, fill, n // 10)
        return _time_recv(b.recv, fill, n)

    inside = offset.run(main)
    assert inside is not None
    return {"outside": outside, "inside": inside}


def recv_gevent(n: int) -> float:
    """gevent-patched recv, in a greenlet."""
    from gevent import monkey

    monkey.patch_all()
    import gevent

    a, b, fill = _pair()

    def main() -> float:
        _time_recv(b.recv, fill, n // 10)
        return _time_recv(b.recv, fill, n)

    ns: float = gevent.spawn(main).get()
    return ns


# -- 3. HTTP fan-out: wall time -----------------------------------------------------


def fanout(n: int) -> tuple[dict[str, float], dict[str, float]]:
    """Best wall ms of each column over FANOUT_RUNS runs (fresh client process each,
    interleaved), and the least CPU ms the client process used for one fan-out."""
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}
    argv = [PY, os.path.join(ROOT, "examples", "slow_server.py"), "--delay-ms", str(FANOUT_DELAY_MS)]
    with Server(argv, "slow_server.py") as srv:
        url = f"http://127.0.0.1:{srv.port}"
        for run in range(FANOUT_RUNS):
            for impl in _impls():
                progress(f"fan-out: {impl}, run {run + 1} of {FANOUT_RUNS} ...")
                r = _run_child(_command(impl, "_fanout.py", url, n, 1), f"fan-out client ({impl})", _env(impl))
                srv.check()
                best[impl] = min([best.get(impl, float("inf"))] + r["ms"])
                cpu[impl] = min([cpu.get(impl, float("inf"))] + r["cpu_ms"])
    return best, cpu


# -- the table -------------------------------------------------------------------------


def main() -> None:
    header("patches")
    rows = []
    t_start = time.perf_counter()

    rounds = size(ECHO_ROUNDS)
    res, echo_cpu = echo(rounds)
    rows.append(
        Row(
            f"echo server, {ECHO_CLIENTS} clients x {rounds:,} round trips of 64 B",
            "requests/s",
            res,
            targets=[
                Target(">=1.3x gevent", lambda r: r["offset"] >= 1.3 * r["gevent"]),  # issue 11 (issue 4: 1.2x)
                Target(">=threads", lambda r: r["offset"] >= r["threads"]),
            ],
        )
    )

    rows.append(
        Row(
            "  echo server's CPU (user+sys) per round trip",
            "us",
            {k: u + s for k, (u, s) in echo_cpu.items()},
            lower_is_better=True,
            fmt="{:.1f}",
        )
    )

    n = size(RECV_CALLS)
    progress("socket.recv: unpatched ...")
    plain = isolated(recv_unpatched, n)
    offs = {}
    for col, pure in offset_builds():
        progress(f"socket.recv: {col} ...")
        offs[col] = isolated(recv_offset, n, pure=pure)
    off = offs["offset"]
    progress("socket.recv: gevent ...")
    gev = isolated(recv_gevent, n)
    rows.append(
        Row(
            "socket.recv(64), data ready; threads: unpatched",
            "ns/call",
            {**{col: r["inside"] for col, r in offs.items()}, "gevent": gev, "threads": plain["plain"]},
            lower_is_better=True,
        )
    )
    rows.append(
        Row(
            "  the same, offset's patch outside a goroutine",
            "ns/call",
            {**{col: r["outside"] for col, r in offs.items()}, "threads": plain["plain"]},
            lower_is_better=True,
        )
    )

    res, cpu = fanout(FANOUT)
    rows.append(
        Row(
            f"HTTP fan-out, {FANOUT} urlopen to a {FANOUT_DELAY_MS} ms server",
            "ms wall",
            res,
            lower_is_better=True,
            targets=[Target("<=gevent", lambda r: r["offset"] <= r["gevent"])],
        )
    )
    rows.append(Row("  fan-out client's CPU (user+sys)", "ms", cpu, lower_is_better=True))

    report(rows)
    print(
        f"socket.recv: offset's patch adds {off['inside'] - plain['plain']:+,.0f} ns a call in a goroutine, "
        f"{off['outside'] - plain['plain']:+,.0f} ns outside one (unpatched: {plain['plain']:,.0f} ns); "
        f"a pass-through wrapt.FunctionWrapper would add {plain['wrapt'] - plain['plain']:+,.0f} ns."
    )
    print(
        "echo server's CPU per round trip, user + system (us): "
        + ", ".join(f"{k} {u:.1f} + {s:.1f}" for k, (u, s) in echo_cpu.items())
        + " (system: the recv and send calls themselves, and for threads the GIL's hand-offs, futex)."
    )
    print(f"({time.perf_counter() - t_start:.0f} s in all)")


if __name__ == "__main__":
    main()
