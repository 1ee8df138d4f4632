"""Real client libraries against real servers, under offset.

Servers. Session-scoped fixtures start a real ``redis-server`` and a real
PostgreSQL on 127.0.0.1, each on a free port in a temporary directory of
its own, and stop them when the session ends:

- ``redis_server`` -> ``RedisServer(host, port)``;
- ``postgres_server`` -> ``PostgresServer(host, port, user, dbname, dsn)``,
  trust authentication on 127.0.0.1 only, the unix socket in the temporary
  directory. PostgreSQL refuses to run as root, so as root initdb and the
  server run as an unprivileged user: ``postgres`` if the system has it,
  else ``offsettest`` (made with useradd), else ``nobody``.

A server whose binary is missing skips the tests that need it, with the
reason, except under CI (``CI=true``): there a missing server fails them,
since .ci/run installs the servers first and a skip would hide that it did
not. The same goes for a missing client library (``require``).

Children. ``run_offset(code)`` runs ``code`` as a script under
``python -m offset`` (everything patched, its top-level code the main
goroutine) in a fresh interpreter, with tests/patches/child.py's guards: a
hard timeout that prints every stack, and a failure if a goroutine held the
scheduler's thread for real (more than ``child.BLOCKED_LIMIT`` seconds
without switching). The script sets a global ``result`` to anything
JSON-serialisable; ``run_offset`` returns it. ``params`` (a dict of
JSON-serialisable values, e.g. a server's port) is the script's global
``params``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import pytest
from patches.conftest import run_child

HOST = "127.0.0.1"
# How long a server gets to come up before the fixture gives up.
STARTUP_TIMEOUT = 30.0


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(reason: str) -> NoReturn:
    """Skip (a developer's machine) or fail (CI) for something absent."""
    if under_ci():
        pytest.fail(f"{reason} (CI=true: .ci/run should have installed it)", pytrace=False)
    pytest.skip(reason)


def require(module: str) -> None:
    """Skip or fail (under CI) unless ``module`` can be imported here."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        missing(f"{module} is not installed (pip install -e '.[test]')")


# The child script: python -m offset's own main() runs the test's script
# file, then the child reports the script's global ``result``.
_CHILD = """
import child; child.start()
import sys
from offset.__main__ import main
main([{path!r}])
child.report(sys.modules["__main__"].__dict__.get("result"))
"""


# Every script may call collect(done, n, limit): the (i, result) pairs n
# goroutines send on ``done``, gathered for at most ``limit`` seconds.
_COLLECT = """
import offset as _offset
from offset import time as _gotime

def collect(done, n, limit):
    out = {}
    expired = _gotime.After(int(limit * _gotime.SECOND))
    while len(out) < n:
        ret = _offset.select(done.if_recv(), expired.if_recv())
        if ret == expired.if_recv():
            break
        i, r = ret.value
        out[i] = r
    return out

"""


def run_offset(
    code: str, *, timeout: float = 30.0, params: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> Any:
    """Run ``code`` under ``python -m offset`` in a fresh interpreter.

    ``code`` (dedented) is the script: its top-level code is the main
    goroutine, after ``offset.patch_all()``, with ``collect`` defined (see
    _COLLECT). It sets ``result``; that comes
    back (through JSON). ``params`` is available to it as ``params``. The
    test fails with the child's output if the script raises, the child
    runs past ``timeout`` seconds (every stack is printed first) or a
    goroutine blocked the scheduler's thread.
    """
    import json

    prelude = f"import json as _json; params = _json.loads({json.dumps(params or {})!r})\n" + _COLLECT
    with tempfile.TemporaryDirectory(prefix="offset-client-") as d:
        path = os.path.join(d, "client_script.py")
        with open(path, "w") as f:
            f.write(prelude + textwrap.dedent(code))
        return run_child(_CHILD.format(path=path), timeout=timeout, env=env, cwd=d)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _wait_until(ready: Any, proc: subprocess.Popen[Any], what: str, log: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with status {proc.returncode} at startup:\n{_tail(log)}", pytrace=False)
        if ready():
            return
        time.sleep(0.02)
    pytest.fail(f"{what} not ready after {STARTUP_TIMEOUT}s:\n{_tail(log)}", pytrace=False)


def _tail(path: str, n: int = 40) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[Any], sig: int) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# --- redis ---------------------------------------------------------------


@dataclass(frozen=True)
class RedisServer:
    host: str
    port: int


def _redis_pings(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server not found (apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="offset-redis-") as d:
        log = os.path.join(d, "redis.log")
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    HOST,
                    "--dir",
                    d,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--maxclients",
                    "2000",
                    "--logfile",
                    "",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            _wait_until(lambda: _redis_pings(port), proc, "redis-server", log)
            yield RedisServer(HOST, port)
        finally:
            _stop(proc, signal.SIGTERM)


# --- PostgreSQL ----------------------------------------------------------


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    dbname: str

    @property
    def dsn(self) -> str:
        """A libpq URI (psycopg, SQLAlchemy after its dialect prefix)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"


def postgres_bindir() -> str | None:
    """The directory holding initdb and postgres (PATH, then the usual places)."""
    found = shutil.which("initdb")
    if found is not None:
        bindir = os.path.dirname(os.path.realpath(found))
        if os.path.exists(os.path.join(bindir, "postgres")):
            return bindir
    candidates = glob.glob("/usr/lib/postgresql/*/bin") + glob.glob("/usr/pgsql-*/bin")
    candidates += glob.glob("/usr/local/pgsql/bin") + glob.glob("/opt/homebrew/opt/postgresql*/bin")

    def version(path: str) -> tuple[int, ...]:
        digits = "".join(c if c.isdigit() else " " for c in path).split()
        return tuple(int(x) for x in digits)

    for bindir in sorted(candidates, key=version, reverse=True):
        if all(os.access(os.path.join(bindir, b), os.X_OK) for b in ("initdb", "postgres")):
            return bindir
    return None


def _unprivileged_user() -> pwd.struct_passwd:
    """Who runs PostgreSQL when we are root (it refuses to run as root)."""
    for name in ("postgres", "offsettest"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    useradd = shutil.which("useradd")
    if useradd is not None:
        subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "offsettest"], capture_output=True
        )
        try:
            return pwd.getpwnam("offsettest")
        except KeyError:
            pass
    return pwd.getpwnam("nobody")


def _pg_ready(datadir: str) -> bool:
    # What pg_ctl -w reads: postmaster.pid's status line says "ready" once
    # the server accepts connections.
    try:
        with open(os.path.join(datadir, "postmaster.pid")) as f:
            lines = f.read().splitlines()
    except OSError:
        return False
    return len(lines) >= 8 and lines[7].strip() == "ready"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = postgres_bindir()
    if bindir is None:
        missing(
            "PostgreSQL not found: no initdb/postgres in PATH or /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        )
    run_as: dict[str, Any] = {}
    tmp = tempfile.mkdtemp(prefix="offset-pg-")
    if os.geteuid() == 0:
        pw = _unprivileged_user()
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
        run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    os.chmod(tmp, 0o700)
    datadir = os.path.join(tmp, "data")
    log = os.path.join(tmp, "postgres.log")
    user = "offset"
    env = dict(os.environ, LC_ALL="C", LANG="C")
    proc: subprocess.Popen[bytes] | None = None
    try:
        init = subprocess.run(
            [
                os.path.join(bindir, "initdb"),
                "-D",
                datadir,
                "-U",
                user,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            capture_output=True,
            text=True,
            cwd=tmp,
            env=env,
            timeout=STARTUP_TIMEOUT,
            **run_as,
        )
        if init.returncode != 0:
            pytest.fail(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}", pytrace=False)
        port = free_port()
        with open(log, "wb") as out:
            if run_as:
                os.chown(log, run_as["user"], run_as["group"])
            proc = subprocess.Popen(
                [
                    os.path.join(bindir, "postgres"),
                    "-D",
                    datadir,
                    "-p",
                    str(port),
                    "-h",
                    HOST,
                    "-k",
                    tmp,
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "shared_buffers=16MB",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=tmp,
                env=env,
                **run_as,
            )
        _wait_until(lambda: _pg_ready(datadir), proc, "postgres", log)
        yield PostgresServer(HOST, port, user, "postgres")
    finally:
        if proc is not None:
            _stop(proc, signal.SIGINT)  # fast shutdown
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = [
    "HOST",
    "PostgresServer",
    "RedisServer",
    "free_port",
    "missing",
    "postgres_bindir",
    "require",
    "run_offset",
    "under_ci",
]
