"""Socket I/O under the patch layer, against the unpatched stdlib.

Each test runs in a fresh interpreter (see conftest.py). The cases in
socket_cases.py run unpatched, then patched in a goroutine, in a plain
thread while a scheduler runs, and before run(); every outcome (value, or
exception type, message, errno, and whether it carries a __context__) must
be the same. Then real servers on 127.0.0.1 with unmodified code.
"""

from __future__ import annotations

import ast
import errno
from typing import Any

import pytest

from .conftest import cases_script, run_child

MAIN_THREAD_ONLY = {"recv_through_signals"}  # socket_cases.MAIN_THREAD_ONLY

PLAIN = cases_script("socket_cases", "plain")
IN_GOROUTINES = cases_script("socket_cases", "goroutine")
IN_A_THREAD = cases_script("socket_cases", "thread", exclude="socket_cases.MAIN_THREAD_ONLY")
BEFORE_RUN = cases_script("socket_cases", "before_run")


@pytest.fixture(scope="module")
def unpatched() -> dict[str, Any]:
    result: dict[str, Any] = run_child(PLAIN)
    return result


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    want = {name: want[name] for name in want if name in got or name not in MAIN_THREAD_ONLY}
    different = {name: (got[name], want[name]) for name in want if got[name] != want[name]}
    assert different == {}


def test_cases_in_goroutines_match_unpatched(unpatched: dict[str, Any]) -> None:
    result = run_child(IN_GOROUTINES)
    assert_same(result["cases"], unpatched)
    # The cases wait about a second in all; a ticker goroutine ran meanwhile.
    assert result["ticks"] > 20


def test_cases_on_the_portable_netpoller_match_unpatched(unpatched: dict[str, Any]) -> None:
    # The selectors backend (level-triggered, registered per wait) is what
    # platforms without epoll use.
    result = run_child(IN_GOROUTINES, env={"OFFSET_NETPOLL": "selectors"})
    assert_same(result["cases"], unpatched)
    assert result["ticks"] > 20


def test_cases_in_a_plain_thread_match_unpatched(unpatched: dict[str, Any]) -> None:
    assert_same(run_child(IN_A_THREAD), unpatched)


def test_cases_before_run_match_unpatched(unpatched: dict[str, Any]) -> None:
    assert_same(run_child(BEFORE_RUN), unpatched)


def test_unpatched_outcomes_are_what_the_cases_expect(unpatched: dict[str, Any]) -> None:
    # Spot checks that the comparison compares something.
    def value(name: str) -> Any:
        kind, text = unpatched[name]
        assert kind == "ok"
        return ast.literal_eval(text)

    assert value("recv_timeout")[0] == ["raise", "TimeoutError", "timed out", None, None]
    assert value("recv_nonblocking")[0][:2] == ["raise", "BlockingIOError"]
    assert value("connect_refused")[0][1] == "ConnectionRefusedError"
    assert value("connect_timeout")[0][1:3] == ["TimeoutError", "timed out"]
    assert value("connect_ex_timeout") == errno.EAGAIN
    assert value("recv_through_signals") == (["raise", "TimeoutError", "timed out", None, None], True)
    assert value("sendall_big_to_reader") == (True, (5.0, True, False))


ECHO_1000 = """
import child; child.start()
import offset; offset.patch_all()
import resource, socket, threading, time
N = 1000
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < 2 * N + 100:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * N), hard))

# The server: plain blocking socket code, nothing offset-specific but go().
def handle(conn):
    with conn:
        while True:
            data = conn.recv(1024)
            if not data:
                break
            conn.sendall(data)

def serve(listener):
    while True:
        conn, _ = listener.accept()
        offset.go(handle, conn)

def client(port, i, results, lock):
    with socket.create_connection(("127.0.0.1", port)) as s:
        got = []
        for j in range(3):
            msg = f"{i}:{j};".encode()
            s.sendall(msg)
            buf = b""
            while len(buf) < len(msg):
                buf += s.recv(1024)
            got.append(buf == msg)
        results.append(all(got))

def main():
    listener = socket.create_server(("127.0.0.1", 0), backlog=N)
    offset.go(serve, listener)
    port = listener.getsockname()[1]
    results = []
    t0 = time.monotonic()
    for i in range(N):
        offset.go(client, port, i, results, None)
    while len(results) < N and time.monotonic() - t0 < 30:
        time.sleep(0.01)
    return results, time.monotonic() - t0

results, took = offset.run(main)
child.report({"n": len(results), "ok": sum(results), "took": took})
"""


@pytest.mark.parametrize("netpoll", ["epoll", "selectors"])
def test_blocking_echo_server_1000_connections(netpoll: str) -> None:
    r = run_child(ECHO_1000, env={"OFFSET_NETPOLL": netpoll})
    assert r["n"] == 1000 and r["ok"] == 1000
    assert r["took"] < 20


CLOSED_UNDER = """
import child; child.start()
import offset; offset.patch_all()
import socket, time, errno
out = {}
a, b = socket.socketpair()
def reader(name, sock):
    try:
        sock.recv(10)
        out[name] = "returned"
    except OSError as e:
        out[name] = [type(e).__name__, e.errno, str(e), e.__context__ is None]
def main():
    offset.go(reader, "recv", a)
    c, d = socket.socketpair()
    c.settimeout(5.0)
    offset.go(reader, "recv-timeout", c)
    time.sleep(0.05)
    a.close()
    c.close()
    time.sleep(0.05)
    b.close(); d.close()
offset.run(main)
child.report(out)
"""


def test_socket_closed_under_a_waiting_goroutine() -> None:
    expect = ["OSError", 9, "[Errno 9] Bad file descriptor", True]
    assert run_child(CLOSED_UNDER) == {"recv": expect, "recv-timeout": expect}


SAME_SOCKET = """
import child; child.start()
import offset; offset.patch_all()
import socket, time
out = []
a, b = socket.socketpair()
def reader():
    out.append(("read", repr(a.recv(10))))
def writer():
    # Fill a's send buffer so that this goroutine waits to write while the
    # reader waits to read on the same socket.
    data = b"x" * (4 << 20)
    a.sendall(data)
    out.append(("wrote", len(data)))
def main():
    offset.go(reader)
    offset.go(writer)
    time.sleep(0.05)
    b.sendall(b"hi")
    got = 0
    while got < (4 << 20):
        got += len(b.recv(1 << 20))
    time.sleep(0.01)
offset.run(main)
child.report(out)
"""


def test_reader_and_writer_goroutines_share_a_socket() -> None:
    assert run_child(SAME_SOCKET) == [["read", "b'hi'"], ["wrote", 4 << 20]]


FORK = """
import child; child.start()
import offset; offset.patch_all()
import os, socket, time

def exchange():
    # A goroutine waits in the netpoller while another writes.
    a, b = socket.socketpair()
    def writer():
        time.sleep(0.02)
        b.sendall(b"ok")
    def main():
        offset.go(writer)
        return a.recv(10)
    try:
        return offset.run(main)
    finally:
        a.close(); b.close()

first = exchange()                  # the parent's scheduler has a netpoller now
pid = os.fork()
# Both processes wait in their netpollers at the same time: a shared epoll
# set would hand one process's events to the other.
results = [exchange() for _ in range(20)]
if pid == 0:
    os._exit(0 if results == [b"ok"] * 20 else 1)
_, status = os.waitpid(pid, 0)
child.report([first.decode(), os.waitstatus_to_exitcode(status), results == [b"ok"] * 20])
"""


@pytest.mark.parametrize("netpoll", ["epoll", "selectors"])
def test_fork_gives_the_child_its_own_netpoller(netpoll: str) -> None:
    assert run_child(FORK, timeout=30, env={"OFFSET_NETPOLL": netpoll}) == ["ok", 0, True]


UNIX_SHORT_READ_AT_PASSED_FDS = """
import child; child.start()
import offset; offset.patch_all()
import array, os, socket
out = []
def main():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    r, w = os.pipe()
    def sender():
        # Both before the receiver's scheduler polls: one read event for both.
        b.sendmsg([b"abc"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))])
        b.sendall(b"def")
    offset.go(sender)
    out.append(a.recv(100))  # waits in the netpoller, then stops at the fds' boundary
    out.append(a.recv(100))  # the rest is queued, with no event to come: it must not wait
    for fd in (r, w):
        os.close(fd)
    a.close(); b.close()
offset.run(main)
child.report([x.decode() for x in out])
"""


def test_unix_stream_read_after_a_short_read_at_passed_fds_does_not_wait() -> None:
    assert run_child(UNIX_SHORT_READ_AT_PASSED_FDS, timeout=20.0) == ["abc", "def"]
