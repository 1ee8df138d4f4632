"""The soaks of scripts/soak at CI's sizes (``--short``): nothing lost, nothing leaked.

The soaks are the functions of scripts/_soak.py, which the script runs at
full size; here they run with ``SHORT``'s sizes, in this process (the
echo soak's server and client are children under ``python -m offset``:
patching is for a whole process). Each raises ``SoakFailure`` saying what
it found, so a passing test is the soak's own verdict; the figures are
checked on top for what the short size must show (every connection open
at once, traffic between threads, every stopped goroutine's ``finally``).
The last tests plant a defect (a lost message, a leaked fd, a kept
greenlet, a low fd limit) and check that the soak notices: a soak that
cannot fail proves nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _load_soak():
    spec = importlib.util.spec_from_file_location("_soak", SCRIPTS / "_soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


soak = _load_soak()
SHORT = soak.SHORT
LIMIT_S = 100.0  # each short soak takes seconds (20 on a loaded CI machine); this turns a hang into a failure

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the soaks read /proc")


def test_echo_short():
    fig = soak.echo_soak(SHORT["conns"], SHORT["rounds"], limit_s=LIMIT_S)
    conns, rounds = SHORT["conns"], SHORT["rounds"]
    assert fig["connections"] == conns
    assert fig["round_trips"] == conns * rounds
    assert fig["server_peak_open"] == conns  # all at once
    assert fig["large_payloads"] == -(-conns * rounds // 400)  # payloads bigger than both socket buffers together
    assert fig["bytes_verified"] == fig["server_bytes_echoed"] > conns * rounds * 16
    assert fig["server_fds"]["after"] == fig["server_fds"]["before"]
    assert fig["fds"]["after"] == fig["fds"]["before"]


def test_chans_short():
    fig = soak.chan_soak(SHORT["messages"], limit_s=LIMIT_S)
    assert fig["received"] == SHORT["messages"]
    assert fig["between_threads"] > 0
    # Every receiver took part: two schedulers' goroutines and both plain threads.
    assert len(fig["by_receiver"]) == 10


def test_runs_short():
    fig = soak.runs_soak(SHORT["runs"], SHORT["threads"], limit_s=LIMIT_S)
    assert fig["schedulers_at_once"] == SHORT["threads"]
    assert fig["finally_ran"] == SHORT["runs"] + SHORT["threads"]
    for key in ("greenlets", "fds", "threads", "schedulers"):
        assert fig["after"][key] == fig["before"][key], key


def test_script_writes_figures(tmp_path):
    out = tmp_path / "soak.json"
    env = dict(os.environ, PYTHONPATH=str(SCRIPTS.parent))
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "_soak.py"), "--short", "--messages", "900", "--runs", "5", "--threads", "3"]
        + ["--json", str(out), "chans", "runs"],
        capture_output=True,
        text=True,
        timeout=LIMIT_S,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "== chans" in proc.stdout and "== runs" in proc.stdout
    figures = json.loads(out.read_text())
    assert figures["sizes"]["messages"] == 900
    assert figures["chans"]["received"] == 900
    assert figures["runs"]["sequential_runs"] == 5


def test_script_rejects_bad_arguments():
    for args, words in ((["nonsense"], "no soak 'nonsense'"), (["--runs", "0"], "--runs must be a positive integer")):
        proc = subprocess.run(
            [sys.executable, str(SCRIPTS / "_soak.py"), *args], capture_output=True, text=True, timeout=LIMIT_S
        )
        assert proc.returncode == 2
        assert words in proc.stderr


# -- a soak that cannot fail proves nothing -----------------------------------------


def test_chans_notices_a_lost_message(monkeypatch):
    got = soak._Receiver.got

    def drop_one(self, chan, msg):
        if msg == (0, 7):
            return  # message 7 of the first sender never arrives
        got(self, chan, msg)

    monkeypatch.setattr(soak._Receiver, "got", drop_one)
    with pytest.raises(soak.SoakFailure, match=r"sender A send unbuffered: 1 of \d+ messages lost, 0 duplicated"):
        soak.chan_soak(900, limit_s=LIMIT_S)


def test_chans_notices_reordering(monkeypatch):
    got = soak._Receiver.got
    held = []

    def swap(self, chan, msg):
        if msg[0] == 1 and msg[1] in (3, 4) and not held:
            held.append(msg)  # message 3 or 4 of sender 1, whichever comes first, is recorded late
            return
        got(self, chan, msg)
        if held and held[0][1] < msg[1] and msg[0] == 1:
            got(self, chan, held.pop())

    monkeypatch.setattr(soak._Receiver, "got", swap)
    with pytest.raises(soak.SoakFailure, match=r"got message 3 of sender 1 on channel 1 after 4"):
        soak.chan_soak(900, limit_s=LIMIT_S)


def test_runs_notices_leaks(monkeypatch):
    body = soak._run_body
    kept = []

    def leaky(*args):
        kept.append(os.dup(0))  # an fd per run
        return body(*args)

    monkeypatch.setattr(soak, "_run_body", leaky)
    try:
        with pytest.raises(soak.SoakFailure, match=r"fds: \d+ after the sequential runs, \d+ before"):
            soak.runs_soak(5, 3, limit_s=LIMIT_S)
    finally:
        for fd in kept:
            os.close(fd)


def test_runs_notices_kept_greenlets(monkeypatch):
    import greenlet

    body = soak._run_body
    kept = []

    def leaky(*args):
        kept.append(greenlet.greenlet(lambda: None))
        return body(*args)

    monkeypatch.setattr(soak, "_run_body", leaky)
    with pytest.raises(soak.SoakFailure, match=r"greenlets: \d+ after the sequential runs"):
        soak.runs_soak(5, 3, limit_s=LIMIT_S)


def test_echo_scales_down_to_the_hard_fd_limit(monkeypatch):
    real = soak.resource.getrlimit
    fake_hard = soak.FD_SLACK + 40

    def getrlimit(which):
        soft, hard = real(which)
        if which == soak.resource.RLIMIT_NOFILE:
            return min(soft, fake_hard), fake_hard
        return soft, hard

    monkeypatch.setattr(soak.resource, "getrlimit", getrlimit)
    monkeypatch.setattr(soak.resource, "setrlimit", lambda which, limits: None)
    lines = []
    fig = soak.echo_soak(100, 2, limit_s=LIMIT_S, log=lines.append)
    assert fig["connections"] == 40
    assert fig["connections_asked"] == 100
    assert any(
        f"RLIMIT_NOFILE's hard limit is {fake_hard}, too low for 100 connections" in line
        and "running 40 instead" in line
        for line in lines
    ), lines


def test_runs_notices_kept_memory(monkeypatch):
    body = soak._run_body
    kept = []

    def leaky(*args):
        kept.append(bytearray(8192))  # 8 KiB a run, 64 KiB over 5 runs and 3 threads
        return body(*args)

    monkeypatch.setattr(soak, "_run_body", leaky)
    with pytest.raises(soak.SoakFailure, match=r"traced memory grew by \d+ bytes after the sequential runs"):
        soak.runs_soak(5, 3, limit_s=LIMIT_S)


# -- a soak that goes wrong ends at once, saying why, rather than at its deadline ----


def test_chans_ends_when_a_receiver_fails(monkeypatch):
    got = soak._Receiver.got

    def fail(self, chan, msg):
        if msg == (2, 5):
            raise ValueError("planted failure")
        got(self, chan, msg)

    monkeypatch.setattr(soak._Receiver, "got", fail)
    t0 = time.monotonic()
    with pytest.raises(soak.SoakFailure, match=r"ValueError\('planted failure'\)"):
        soak.chan_soak(900, limit_s=LIMIT_S)
    assert time.monotonic() - t0 < LIMIT_S / 2


def test_runs_ends_when_a_thread_fails(monkeypatch):
    body = soak._run_body

    def fail(i, *args):
        if i == 2 and threading.current_thread() is not threading.main_thread():
            raise ValueError("planted failure")
        return body(i, *args)

    monkeypatch.setattr(soak, "_run_body", fail)
    t0 = time.monotonic()
    with pytest.raises(soak.SoakFailure, match=r"ValueError\('planted failure'\)"):
        soak.runs_soak(3, 4, limit_s=LIMIT_S)
    assert time.monotonic() - t0 < LIMIT_S / 2


def test_echo_names_the_client_that_failed_during_a_heap_question(monkeypatch):
    # The soak asks the server for its heap figures at each sample. A client
    # that fails meanwhile (here: on the flipped bit) ends its connections,
    # and the server dies of a ConnectionResetError: the failure must still
    # be named as the client's. The question is asked here only once the
    # client has ended, which a real run hits by chance (CI saw it on 3.13).
    ask = soak._ask_heap

    def late(server, children, deadline):
        for c in children:
            if c.name == "client":
                c.proc.wait(LIMIT_S)
        return ask(server, children, deadline)

    monkeypatch.setattr(soak, "_ask_heap", late)
    with pytest.raises(soak.SoakFailure, match=r"(?s)client: ended early.*EchoError: connection \d+"):
        soak.echo_soak(20, 10, limit_s=LIMIT_S, _flip_at=100_000)


def test_echo_notices_a_flipped_bit():
    # The server flips one bit of the 100,000th byte it echoes, in some payload's body.
    with pytest.raises(
        soak.SoakFailure,
        match=r"(?s)client: ended early.*EchoError: connection \d+, round \d+ \(\d+ bytes\): the echo differs from byte \d+ on \(body CRC-32 differs\)",
    ):
        soak.echo_soak(20, 10, limit_s=LIMIT_S, _flip_at=100_000)
