"""Network faults under the patch layer: the stdlib's errors, nothing else stops, nothing leaks.

Issue 13, part 1. The cases (faults_net_cases.py) run in fresh interpreters:
once unpatched, with offset not imported and plain threads as the peers
(the stdlib's own outcomes), and once patched in goroutines on each netpoll
backend. For every case the test checks the three things the issue asks:

1. the outcome is the stdlib's: the same value, or the same exception type,
   message, errno and ``__context__``;
2. the other goroutines carried on: while the victim was blocked, a ticker
   goroutine ticked and an echo connection made round trips (the peer waits
   for both before it strikes, and the child fails if they stall), and no
   goroutine held the scheduler's thread for real (tests/patches/child.py's
   guard);
3. nothing was left behind: no fd, goroutine or thread (the pool's idle
   workers excepted) after each case, and after ``run()`` the process has
   the fds and threads it had before it.

EMFILE has its own test below: test_faults_net_emfile.py.
"""

from __future__ import annotations

import ast
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import trustme
from patches.conftest import ROOT, run_child

HERE = os.path.dirname(os.path.abspath(__file__))
PATCHES = os.path.join(ROOT, "tests", "patches")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux (/proc, SO_LINGER resets)")

PLAIN = """
import child; child.start()
import faults_net_cases as cases
child.report(cases.run_plain())
"""

PATCHED = """
import child; child.start()
import offset; offset.patch_all()
import faults_net_cases as cases
child.report(cases.run_offset())
"""


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The children import faults_net_cases (here) and child (tests/patches)."""
    path = os.pathsep.join([HERE, PATCHES, ROOT, os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path, **extra}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CA and a certificate for localhost made now (trustme), as files for the children."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    where = tmp_path_factory.mktemp("certs")
    ca.cert_pem.write_to_path(str(where / "ca.pem"))
    cert.private_key_and_cert_chain_pem.write_to_path(str(where / "server.pem"))
    return {"CA": str(where / "ca.pem"), "CHAIN": str(where / "server.pem")}


WAYS: dict[str, tuple[str, dict[str, str]]] = {
    "plain": (PLAIN, {}),
    "epoll": (PATCHED, {"OFFSET_NETPOLL": "epoll"}),
    "selectors": (PATCHED, {"OFFSET_NETPOLL": "selectors"}),
}


@pytest.fixture(scope="module")
def runs(certs: dict[str, str]) -> dict[str, Any]:
    """The cases run each way, in three children at once (they mostly wait)."""
    with ThreadPoolExecutor(len(WAYS)) as pool:
        results = pool.map(
            lambda way: run_child(way[0], env=child_env({**way[1], **certs}), cwd=HERE, timeout=90.0),
            WAYS.values(),
        )
        return dict(zip(WAYS, results))


def comparable(name: str, outcome: Any) -> Any:
    """What must match between runs: everything, except the 100-at-once cases'
    timings and bystander counts (checked on their own below)."""
    if name.startswith("many_") and isinstance(outcome, list) and outcome[0] == "ok":
        batches = ast.literal_eval(outcome[1])
        if isinstance(batches, dict):
            return {k: (v["outcomes"], v["count"]) for k, v in batches.items()}
    return outcome


def batches(outcome: Any) -> dict[str, Any]:
    assert outcome[0] == "ok", outcome
    value: dict[str, Any] = ast.literal_eval(outcome[1])
    return value


@pytest.mark.parametrize("backend", ["epoll", "selectors"])
def test_outcomes_match_unpatched(runs: dict[str, Any], backend: str) -> None:
    plain = runs["plain"]
    patched = runs[backend]["cases"]
    assert set(patched) == set(plain)
    different = {
        name: (comparable(name, patched[name]["outcome"]), comparable(name, plain[name]))
        for name in plain
        if comparable(name, patched[name]["outcome"]) != comparable(name, plain[name])
    }
    assert different == {}


@pytest.mark.parametrize("backend", ["epoll", "selectors"])
def test_nothing_left_behind(runs: dict[str, Any], backend: str) -> None:
    result = runs[backend]
    left = {name: c["left"] for name, c in result["cases"].items()}
    assert {name: v for name, v in left.items() if v != {"fds": [], "goroutines": 0, "threads": []}} == {}
    after = result["after_run"]
    assert after["fds"] is True  # the same fds as before run(): the netpoller's closed too
    assert after["threads"] == 0
    assert after["stats"]["schedulers"] == 0 and after["stats"]["goroutines"] == 0


def test_unpatched_outcomes_are_the_faults(runs: dict[str, Any]) -> None:
    """Spot checks that the comparison compares the faults it is meant to."""
    plain = runs["plain"]

    def value(name: str) -> Any:
        kind, text = plain[name]
        assert kind == "ok", (name, plain[name])
        return ast.literal_eval(text)

    reset = ["raise", "ConnectionResetError", "[Errno 104] Connection reset by peer", 104, None]
    for first, second, send in value("reset_during_recv"):
        assert (first, second) == (reset, ["ok", "b''"])
        assert send[1] == "BrokenPipeError"
    for readers in value("reset_during_two_recvs"):
        assert readers == [["ok", "b''"], reset]
    for first, _ in value("reset_during_makefile_readline"):
        assert first == reset
    for first, _, _ in value("reset_during_sendall"):
        assert first[1] in ("ConnectionResetError", "BrokenPipeError")
    for got, saw_hello in value("reset_during_tls_handshake_client"):
        assert got == reset and saw_hello is True
    for seen, nbytes, after in value("half_closed_fin_with_data"):
        assert seen == [["ok", "b'last words'"]] + [["ok", "b''"]] * 3
        assert nbytes == len(b"reply " * 20000)  # the writes after the peer's FIN went through
        assert after == ["ok", "b''"]
    refused = ["raise", "ConnectionRefusedError", "[Errno 111] Connection refused", 111, None]
    assert batches(plain["many_connect_refused"])["connect"]["outcomes"] == [repr(refused)]
    timed_out = ["raise", "TimeoutError", "timed out", None, None]
    assert batches(plain["many_connect_timeout"])["connect"]["outcomes"] == [repr(timed_out)]
    unresolvable = batches(plain["many_unresolvable"]) if plain["many_unresolvable"] != ["ok", "'skip'"] else None
    if unresolvable is not None:
        assert "gaierror" in unresolvable["getaddrinfo"]["outcomes"][0]


@pytest.mark.parametrize("backend", ["epoll", "selectors"])
def test_hundred_at_once_ran_concurrently(runs: dict[str, Any], backend: str) -> None:
    cases = runs[backend]["cases"]
    slow = batches(cases["many_connect_timeout"]["outcome"])
    for name, batch in slow.items():
        assert batch["count"] == 100
        # Each waited its whole timeout, and all waited together: one after
        # another, 100 of them would take 50 s.
        assert batch["shortest"] >= 0.4, (name, batch)
        assert batch["elapsed"] < 10.0, (name, batch)
        ticks, trips = batch["bystanders"]
        assert ticks > 0 and trips > 0, (name, batch)  # the others ran meanwhile
    for case in ("many_connect_refused", "many_unresolvable"):
        if cases[case]["outcome"] == ["ok", "'skip'"]:
            continue
        for name, batch in batches(cases[case]["outcome"]).items():
            assert batch["count"] == 100
            # Each fails in microseconds here, so time cannot tell whether
            # they overlapped; a generous bound only catches one that blocked.
            assert batch["elapsed"] < 10.0, (case, name, batch)
