"""offset's gunicorn worker beside gunicorn's gevent and gthread workers.

Rows (issue 12, point 1; see bench/README.md):
  trivial app       requests/s of one worker (``-w 1``) serving an app that
                    answers at once (bench/_gunicorn_app.py ``trivial``), to
                    CONNECTIONS_TRIVIAL keep-alive clients of a load
                    generator in another process (bench/_http_load.py).
  100 ms backend    the same for an app whose handler calls a backend over
                    HTTP (examples/slow_server.py --delay-ms 100, another
                    process) with urllib.request: CONNECTIONS_BACKEND
                    clients at once. At most CONNECTIONS_BACKEND / 0.1 s
                    = 2,000 requests/s for a worker that overlaps them all.
  Under each: the worker process's CPU time per request (user + system).

Columns, each one gunicorn (``-w 1``) started once and kept for every run,
runs interleaved: offset ``-k offset.gunicorn.Worker``; gevent ``-k
gevent`` (gunicorn's GeventWorker, monkey-patched); threads ``-k gthread
--threads GTHREAD_THREADS`` (gunicorn's thread pool worker; the backend
row's ceiling for it is GTHREAD_THREADS / 0.1 s).

Run: ./bench/run gunicorn   (or: python bench/bench_gunicorn.py [--quick])
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import REPEAT, Row, Target, header, progress, report, size  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
PY = sys.executable
GTHREAD_THREADS = 32  # gunicorn's docs suggest 2-4 per core; generous for 2 cores
WORKERS = {
    "offset": ["-k", "offset.gunicorn.Worker"],
    "gevent": ["-k", "gevent"],
    "threads": ["-k", "gthread", "--threads", str(GTHREAD_THREADS)],
}
CONNECTIONS_TRIVIAL = 50
ROUNDS_TRIVIAL = 200  # per connection
CONNECTIONS_BACKEND = 200
ROUNDS_BACKEND = 10
BACKEND_DELAY_MS = 100
WARMUP = 2  # requests per connection before the timed ones
CHILD_LIMIT_S = 120.0  # any one load run; then the bench fails
STARTUP_S = 30.0

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


class Process:
    """A child process whose output goes to a file; killed on close."""

    def __init__(self, argv: list[str], name: str, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.out = tempfile.NamedTemporaryFile(prefix="offset-bench-", suffix=".log")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)

    def output(self) -> str:
        with open(self.out.name, errors="replace") as f:
            return f.read()

    def wait_for(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + STARTUP_S
        while True:
            found = re.search(pattern, self.output())
            if found:
                return found
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out = self.output()
                self.close()
                raise RuntimeError(f"{self.name}: no {pattern!r}; its output:\n{out}")
            time.sleep(0.02)

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name}: exited with {self.proc.returncode}; its output:\n{self.output()}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.out.close()


def slow_server() -> tuple[Process, int]:
    """examples/slow_server.py in its own process; (process, port)."""
    p = Process([PY, "examples/slow_server.py", "--delay-ms", str(BACKEND_DELAY_MS)], "slow_server.py")
    port = int(p.wait_for(r"(?m)^(\d+)$").group(1))
    return p, port


def gunicorn(impl: str, app: str, backend_port: int) -> tuple[Process, int, int]:
    """One gunicorn (-w 1) for column ``impl``; (process, port, worker pid)."""
    env = dict(os.environ, BENCH_BACKEND=f"http://127.0.0.1:{backend_port}")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (BENCH, ROOT, env.get("PYTHONPATH", "")) if p)
    argv = [PY, "-m", "gunicorn", "-w", "1", *WORKERS[impl], "-b", "127.0.0.1:0", "--backlog", "2048"]
    argv += _no_control_socket() + [f"_gunicorn_app:{app}"]
    p = Process(argv, f"gunicorn {impl} ({app})", env=env)
    port = int(p.wait_for(r"Listening at: http://127\.0\.0\.1:(\d+)").group(1))
    pid = int(p.wait_for(r"Booting worker with pid: (\d+)").group(1))
    return p, port, pid


def _no_control_socket() -> list[str]:
    from gunicorn.config import Config

    return ["--no-control-socket"] if "control_socket_disable" in Config().settings else []


def load(port: int, connections: int, rounds: int, path: str, what: str) -> dict[str, Any]:
    argv = [PY, os.path.join(BENCH, "_http_load.py"), str(port), str(connections), str(rounds), path, str(WARMUP)]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=CHILD_LIMIT_S + 10)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{what}: the load generator hung") from None
    if p.returncode != 0:
        raise RuntimeError(f"{what}: load generator exit {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
    out: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    return out


def measure_app(
    app: str, path: str, connections: int, rounds: int, backend_port: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Requests/s of each column (best of REPEAT, interleaved) and the worker's CPU us per request (least)."""
    servers: dict[str, tuple[Process, int, int]] = {}
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}
    try:
        for impl in WORKERS:
            servers[impl] = gunicorn(impl, app, backend_port)
        for run in range(REPEAT):
            for impl, (proc, port, pid) in servers.items():
                progress(f"gunicorn {app}: {impl}, run {run + 1} of {REPEAT} ...")
                c0 = _cpu_seconds(pid)
                r = load(port, connections, rounds, path, f"{app} on {impl}")
                used = (_cpu_seconds(pid) - c0) * 1e6 / (connections * (rounds + WARMUP))
                proc.check()
                best[impl] = max(best.get(impl, 0.0), r["requests"] / r["seconds"])
                cpu[impl] = min(cpu.get(impl, float("inf")), used)
    finally:
        for proc, _, _ in servers.values():
            proc.close()
    return best, cpu


def main() -> None:
    header("gunicorn")
    import gunicorn as _g

    print(f"gunicorn {_g.__version__}; one worker each (-w 1); gthread with --threads {GTHREAD_THREADS}")
    print()
    t_start = time.perf_counter()
    rows = []
    backend, backend_port = slow_server()
    try:
        rounds = size(ROUNDS_TRIVIAL)
        res, cpu = measure_app("trivial", "/", CONNECTIONS_TRIVIAL, rounds, backend_port)
        rows.append(
            Row(
                f"trivial app, {CONNECTIONS_TRIVIAL} keep-alive clients x {rounds:,} requests",
                "requests/s",
                res,
                targets=[Target(">=gevent", lambda r: r["offset"] >= r["gevent"])],
            )
        )
        rows.append(Row("  worker's CPU (user+sys) per request", "us", cpu, lower_is_better=True))
        rounds = max(2, size(ROUNDS_BACKEND))
        res, cpu = measure_app("backend", "/", CONNECTIONS_BACKEND, rounds, backend_port)
        rows.append(
            Row(
                f"app calling a {BACKEND_DELAY_MS} ms backend, {CONNECTIONS_BACKEND} clients x {rounds:,}",
                "requests/s",
                res,
                targets=[Target(">=gevent", lambda r: r["offset"] >= r["gevent"])],
            )
        )
        rows.append(Row("  worker's CPU (user+sys) per request", "us", cpu, lower_is_better=True))
        backend.check()
    finally:
        backend.close()
    report(rows)
    print(
        f"threads = gunicorn's gthread worker, --threads {GTHREAD_THREADS}: at most {GTHREAD_THREADS} requests at "
        f"once, so at most {GTHREAD_THREADS * 1000 // BACKEND_DELAY_MS:,} requests/s on the backend row."
    )
    print(f"({time.perf_counter() - t_start:.0f} s in all)")


if __name__ == "__main__":
    main()
