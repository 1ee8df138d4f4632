"""offset's gunicorn worker (offset/gunicorn.py), in a real gunicorn.

Each test starts ``gunicorn -w 1 -k offset.gunicorn.Worker`` in a process
of its own, bound to 127.0.0.1 on a port the kernel picks (read from
gunicorn's "Listening at" line), serving tests/production/wsgi_apps.py's
plain WSGI app or flask_app.py's Flask app. Their ``/work`` handler calls
an HTTP backend in a third process (tests/clients/_backend.py's http
server, answering after 100 ms, or 1 s for the stopping tests) with
``urllib.request``. The clients are plain threads of the test process.

What is checked, issue 12 point 1:

- 200 concurrent clients are served by one worker (one pid in every
  answer) at once: the backend saw many of them at the same time, and they
  took a fraction of the 200 calls' time that one after another would
  (about one call's time plus the CPU time, 1 s or so on a loaded machine);
- the standard library was patched when the app was imported;
- a handler that raises gives a 500 and the same worker serves on;
- keep-alive: several requests on one connection, closed by the worker
  after ``--keep-alive`` seconds idle;
- ``--worker-connections 2``: the backend never sees more than 2 calls at once;
- ``--max-requests``: the worker restarts after that many requests;
- the heartbeat: requests longer than ``--timeout`` do not get the
  worker killed;
- SIGTERM with 50 requests in flight: all 50 complete, then the worker
  and gunicorn exit 0; past ``--graceful-timeout`` the worker stops what is
  left; SIGQUIT and SIGINT stop it at once; SIGUSR1 reopens the logs;
- an app that fails to import ends gunicorn with the arbiter's own exit
  statuses (worker boot error, app load error).

Every wait is bounded; timing assertions are upper bounds many times the
expected time, which only a worker that serialised the requests misses.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytest.importorskip("gunicorn")

from clients._backend import Backend  # noqa: E402
from gunicorn.arbiter import Arbiter  # noqa: E402
from gunicorn.config import Config  # noqa: E402

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(TESTS)
WORKER = "offset.gunicorn.Worker"
APPS = {"plain": "production.wsgi_apps:plain", "flask": "production.flask_app:app"}
DELAY = 0.1  # seconds the backend takes to answer
SLOW_DELAY = 1.0  # the backend of the stopping tests
CLIENTS = 200
IN_FLIGHT = 50
LIMIT = 15.0  # seconds any one wait in these tests may take
# gunicorn 24+ opens a control socket in the user's home by default: one
# per test run would be shared by parallel runs.
NO_CONTROL_SOCKET = ["--no-control-socket"] if "control_socket_disable" in Config().settings else []


class Gunicorn:
    """``gunicorn -w 1 -k WORKER ... app`` in a process of its own, until close()."""

    def __init__(self, app: str, *options: str, backend: Backend | None = None, worker: str = WORKER) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="offset-gunicorn-")
        self.log_path = os.path.join(self.dir.name, "gunicorn.log")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        if backend is not None:
            env["OFFSET_TEST_BACKEND"] = f"http://127.0.0.1:{backend.port}"
        argv = [sys.executable, "-m", "gunicorn", "-w", "1", "-k", worker, "-b", "127.0.0.1:0"]
        argv += ["--pythonpath", TESTS, *NO_CONTROL_SOCKET, *options, app]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        self.port = 0
        self.access_log: Any = None

    def start(self) -> Gunicorn:
        """Wait for the port, then for the worker's first answer; sets ``port`` and ``worker_pid``."""
        found = self.wait_log(r"Listening at: http://127\.0\.0\.1:(\d+)")
        self.port = int(found.group(1))
        self.worker_pid = self.info()["pid"]
        return self

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern: str, limit: float = LIMIT) -> re.Match[str]:
        deadline = time.monotonic() + limit
        while True:
            found = re.search(pattern, self.log())
            if found:
                return found
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited ({self.proc.returncode}) before {pattern!r}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} in gunicorn's log after {limit} s:\n{self.log()}")
            time.sleep(0.02)

    def get(self, path: str, timeout: float = LIMIT) -> tuple[int, str, http.client.HTTPResponse]:
        """GET ``path`` on a connection of its own: (status, body, response)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Connection": "close"})
            resp = conn.getresponse()
            return resp.status, resp.read().decode(), resp
        finally:
            conn.close()

    def info(self) -> dict[str, Any]:
        status, body, _ = self.get("/info")
        assert status == 200, body
        result: dict[str, Any] = json.loads(body)
        return result

    def wait_exit(self, limit: float = LIMIT) -> int:
        try:
            return self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"gunicorn still running {limit} s later:\n{self.log()}") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # the arbiter's quick shutdown
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.dir.cleanup()


def gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie counts: the arbiter reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        # Reaped before the open (ENOENT), or between the open and the
        # read (ESRCH: CI failed so at 624ae67).
        return True


def wait_for(cond: Callable[[], bool], what: str, limit: float = LIMIT) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit} s waiting for {what}")
        time.sleep(0.02)


def worker_pid(g: Gunicorn) -> int | None:
    """The pid of the worker that answers ``/info``; None if none does right now."""
    try:
        pid: int = g.info()["pid"]
        return pid
    except (OSError, http.client.HTTPException, AssertionError):
        return None


def attempt(fn: Callable[[], Any]) -> Any:
    """``fn()``, or the exception it raised (for requests the worker is expected to cut)."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - the test looks at it
        return e


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    with Backend("http", "--delay-ms", DELAY * 1000) as b:
        yield b


@pytest.fixture(scope="module")
def slow_backend() -> Iterator[Backend]:
    with Backend("http", "--delay-ms", SLOW_DELAY * 1000) as b:
        yield b


@pytest.fixture
def gunicorn_factory(backend: Backend) -> Iterator[Callable[..., Gunicorn]]:
    """``start(app, *options, backend=...)``: a started gunicorn, closed after the test."""
    started: list[Gunicorn] = []

    def start(app: str = APPS["plain"], *options: str, backend_: Backend | None = None) -> Gunicorn:
        g = Gunicorn(app, *options, backend=backend_ or backend)
        started.append(g)
        return g.start()

    yield start
    for g in started:
        g.close()


@pytest.fixture(scope="module", params=sorted(APPS))
def server(request: pytest.FixtureRequest, backend: Backend) -> Iterator[Gunicorn]:
    """One gunicorn per app (plain, flask) shared by the tests that do not stop it."""
    if request.param == "flask":
        pytest.importorskip("flask")
    g = Gunicorn(APPS[request.param], "--keep-alive", "1", backend=backend)
    try:
        yield g.start()
    finally:
        g.close()


@pytest.fixture(scope="module")
def respawning(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    """One gunicorn for the tests that stop its worker (the arbiter starts another) or rotate its log."""
    access = tmp_path_factory.mktemp("access") / "access.log"
    g = Gunicorn(
        APPS["plain"], "--graceful-timeout", "1", "--timeout", "1", "--access-logfile", str(access), backend=backend
    )
    g.access_log = access
    try:
        yield g.start()
    finally:
        g.close()


def replaced(g: Gunicorn, pid: int) -> int:
    """Wait until worker ``pid`` has exited and another answers; its pid."""
    wait_for(lambda: gone(pid), f"worker {pid} to exit")
    wait_for(lambda: worker_pid(g) not in (None, pid), "the arbiter's next worker")
    g.worker_pid = g.info()["pid"]
    return g.worker_pid


# -- serving ---------------------------------------------------------------------


def test_patched_before_the_app_is_imported(server: Gunicorn) -> None:
    assert server.info()["patched"] == {"socket": True, "time": True, "threading": True, "signal": True}


def test_200_clients_in_about_the_time_of_one_call(server: Gunicorn, backend: Backend) -> None:
    run = f"c200-{os.getpid()}-{id(server)}-{time.monotonic_ns()}"
    t0 = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(lambda i: attempt(lambda: server.get(f"/work?run={run}&i={i}")), range(CLIENTS)))
    wall = time.perf_counter() - t0
    bad = [(i, a) for i, a in enumerate(answers) if not isinstance(a, tuple) or a[0] != 200]
    assert not bad, bad[:5]
    pids = {a[1].split()[0] for a in answers}
    assert pids == {str(server.worker_pid)}  # one worker served them all
    assert [a[1].split()[1] for a in answers] == [f"{run}:{i}" for i in range(CLIENTS)]
    stats = backend.get(f"/stats?run={run}")
    assert stats["requests"] == CLIENTS
    # Most of them waited on the backend at the same time (one after
    # another: 1), and the whole took a fraction of the CLIENTS x DELAY =
    # 20 s that one after another would: about DELAY plus the CPU time of
    # 200 requests (0.3 to 0.6 s pure, more on a loaded machine).
    assert stats["max_inflight"] >= CLIENTS // 8, stats
    assert wall < CLIENTS * DELAY / 4, f"{CLIENTS} requests took {wall:.2f} s; backend saw {stats}"


def test_a_handler_that_raises_gives_500_and_the_worker_serves_on(server: Gunicorn) -> None:
    status, _, _ = server.get("/raise")
    assert status == 500
    assert server.info()["pid"] == server.worker_pid
    server.wait_log(r"RuntimeError: this handler fails on purpose")
    assert "Traceback" in server.log()


def test_keep_alive(server: Gunicorn) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=LIMIT)
    try:
        ports = []
        for _ in range(3):
            conn.request("GET", "/info")
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.getheader("Connection", "").lower() != "close"
            ports.append(json.loads(resp.read())["remote_port"])
        assert len(set(ports)) == 1  # the three came on one connection
        # Idle past --keep-alive 1: the worker closes its end.
        assert conn.sock is not None
        t0 = time.monotonic()
        assert conn.sock.recv(1) == b""
        assert time.monotonic() - t0 < LIMIT
    finally:
        conn.close()


def test_worker_connections_caps_the_open_connections(
    gunicorn_factory: Callable[..., Gunicorn], backend: Backend
) -> None:
    g = gunicorn_factory(APPS["plain"], "--worker-connections", "2")
    run = f"cap-{os.getpid()}-{time.monotonic_ns()}"
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda i: g.get(f"/work?run={run}&i={i}"), range(6)))
    assert [a[0] for a in answers] == [200] * 6
    stats = backend.get(f"/stats?run={run}")
    assert stats["requests"] == 6
    assert stats["max_inflight"] == 2, stats


def test_max_requests_restarts_the_worker(gunicorn_factory: Callable[..., Gunicorn]) -> None:
    g = gunicorn_factory(APPS["plain"], "--max-requests", "4", "--max-requests-jitter", "0")
    first = g.worker_pid  # start() made request 1
    for n in (2, 3):
        assert g.info()["pid"] == first, n
    status, body, resp = g.get("/info")  # the 4th: answered, then the worker stops
    assert status == 200 and json.loads(body)["pid"] == first
    assert resp.getheader("Connection", "").lower() == "close"
    g.wait_log(rf"Worker exiting \(pid: {first}\)")
    wait_for(lambda: worker_pid(g) not in (None, first), "a new worker")
    assert "Autorestarting worker after current request" in g.log()


def test_tls(tmp_path: Any) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    g = Gunicorn(APPS["plain"], "--certfile", str(certfile), "--keyfile", str(keyfile))
    try:
        found = g.wait_log(r"Listening at: https://127\.0\.0\.1:(\d+)")
        ctx = ssl.create_default_context()
        ca.configure_trust(ctx)

        def get(path: str) -> tuple[int, str]:
            conn = http.client.HTTPSConnection("127.0.0.1", int(found.group(1)), timeout=LIMIT, context=ctx)
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                return resp.status, resp.read().decode()
            finally:
                conn.close()

        with ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(lambda _: get("/info"), range(10)))
        assert {a[0] for a in answers} == {200}
        assert len({json.loads(a[1])["pid"] for a in answers}) == 1
        # A client that does not speak TLS: its connection ends, the worker serves on.
        with socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=LIMIT) as plain:
            plain.sendall(b"GET /info HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                while plain.recv(4096):
                    pass
            except ConnectionResetError:
                pass  # the worker closed with the request unread
        status, body = get("/info")
        assert status == 200 and json.loads(body)["pid"] == json.loads(answers[0][1])["pid"]
    finally:
        g.close()


def test_heartbeat_keeps_a_busy_worker_alive(respawning: Gunicorn) -> None:
    # The arbiter kills a worker that has not called notify() for --timeout
    # (1) seconds; these requests each take twice that.
    g = respawning
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: g.get("/sleep?s=2"), range(4)))
    assert [a[:2] for a in answers] == [(200, "slept")] * 4
    assert g.info()["pid"] == g.worker_pid
    assert "WORKER TIMEOUT" not in g.log()


# -- stopping --------------------------------------------------------------------


def test_sigterm_completes_the_requests_in_flight(
    gunicorn_factory: Callable[..., Gunicorn], slow_backend: Backend
) -> None:
    g = gunicorn_factory(APPS["plain"], backend_=slow_backend)
    run = f"term-{os.getpid()}-{time.monotonic_ns()}"
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        futures = [pool.submit(attempt, lambda i=i: g.get(f"/work?run={run}&i={i}")) for i in range(IN_FLIGHT)]
        wait_for(
            lambda: slow_backend.get(f"/stats?run={run}")["max_inflight"] == IN_FLIGHT,
            f"{IN_FLIGHT} requests in flight at the backend",
        )
        assert slow_backend.get(f"/stats?run={run}")["requests"] == 0  # none answered yet
        g.proc.send_signal(signal.SIGTERM)  # to the arbiter, which sends SIGTERM to its worker
        answers = [f.result() for f in futures]
    bad = [
        (i, a) for i, a in enumerate(answers) if not isinstance(a, tuple) or a[:2] != (200, f"{g.worker_pid} {run}:{i}")
    ]
    assert not bad, bad[:5]
    assert g.wait_exit() == 0
    log = g.log()
    assert f"Worker exiting (pid: {g.worker_pid})" in log
    assert "graceful timeout" not in log


def test_graceful_timeout_stops_what_is_left(respawning: Gunicorn) -> None:
    g = respawning  # --graceful-timeout 1
    pid = g.worker_pid
    with ThreadPoolExecutor(5) as pool:
        futures = [pool.submit(attempt, lambda: g.get("/sleep?s=60")) for _ in range(5)]
        wait_for(lambda: g.info()["sleeping"] == 5, "5 requests in flight")
        t0 = time.monotonic()
        os.kill(pid, signal.SIGTERM)  # the worker itself: the arbiter starts another
        wait_for(lambda: gone(pid), "the worker to exit")
        took = time.monotonic() - t0
        answers = [f.result() for f in futures]
    assert all(isinstance(a, Exception) for a in answers), answers  # cut, not answered
    assert took < LIMIT
    replaced(g, pid)
    g.wait_log(rf"Worker exiting \(pid: {pid}\)")
    assert f"Worker graceful timeout (pid:{pid})" in g.log()


@pytest.mark.parametrize("sig", [signal.SIGQUIT, signal.SIGINT], ids=["SIGQUIT", "SIGINT"])
def test_sigquit_and_sigint_stop_at_once(respawning: Gunicorn, sig: int) -> None:
    g = respawning
    pid = g.worker_pid
    with ThreadPoolExecutor(5) as pool:
        futures = [pool.submit(attempt, lambda: g.get("/sleep?s=60")) for _ in range(5)]
        wait_for(lambda: g.info()["sleeping"] == 5, "5 requests in flight")
        os.kill(pid, sig)
        wait_for(lambda: gone(pid), "the worker to exit")
        answers = [f.result() for f in futures]
    assert all(isinstance(a, Exception) for a in answers), answers
    replaced(g, pid)
    g.wait_log(rf"Worker exiting \(pid: {pid}\)")
    # Stopped at once: not a graceful stop cut short after --graceful-timeout.
    assert f"Worker graceful timeout (pid:{pid})" not in g.log()


def test_sigusr1_reopens_the_log_files(respawning: Gunicorn) -> None:
    g = respawning
    access = g.access_log
    wait_for(lambda: access.exists() and "/info" in access.read_text(), "the first access log line")
    access.rename(access.with_name("access.log.1"))  # what logrotate does
    os.kill(g.worker_pid, signal.SIGUSR1)
    n = 0

    def logged_in_new_file() -> bool:
        nonlocal n
        n += 1
        assert g.get(f"/info?n={n}")[0] == 200
        return access.exists() and f"n={n}" in access.read_text()

    wait_for(logged_in_new_file, "a request logged in the reopened access log")
    assert g.info()["pid"] == g.worker_pid


@pytest.mark.parametrize(
    ("app", "status", "message"),
    [
        ("production.broken_app:app", Arbiter.WORKER_BOOT_ERROR, "RuntimeError: this app fails to import on purpose"),
        ("production.wsgi_apps:missing", Arbiter.APP_LOAD_ERROR, "Failed to find attribute 'missing'"),
    ],
    ids=["raises-at-import", "no-such-app"],
)
def test_boot_errors_reach_the_arbiter(app: str, status: int, message: str) -> None:
    g = Gunicorn(app)
    try:
        assert g.wait_exit() == status
        assert message in g.log()
    finally:
        g.close()
