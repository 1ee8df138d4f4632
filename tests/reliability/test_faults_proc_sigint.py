"""Faults: Ctrl-C in the middle of each kind of blocking call, compared with plain Python.

A program blocked in ``lock.acquire()``, ``queue.get()``, ``accept()``,
``os.read`` of a pipe, ``Popen.wait()``... gets ``KeyboardInterrupt`` out of
that call when the user presses Ctrl-C, and its ``finally`` blocks run.
Each case runs twice in a fresh interpreter: plain (no offset), and under
``offset.patch_all()`` as the main goroutine of ``offset.run()`` with two
other goroutines waiting beside it. The parent sends a real SIGINT once the
child has said it is about to block (through a pipe) and its main thread is
asleep in the kernel (``/proc``), and compares what each run reports: the
exception that came out, whether the call returned, which finally blocks
ran.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import offset

ROOT = Path(offset.__file__).resolve().parent.parent
MARK = "SIGINT-REPORT:"

CHILD = """
import faulthandler, json, os, sys, time as _time
faulthandler.dump_traceback_later(40, exit=True)
MODE, KIND, READY = sys.argv[1], sys.argv[2], int(sys.argv[3])
if MODE == "offset":
    import offset
    offset.patch_all()
import concurrent.futures, queue, socket, subprocess, threading, time
import select as select_module

state = {"returned": False, "finally": [], "exception": None}
release = threading.Event()  # ends what a case left waiting (threads, children)

def ready():
    os.write(READY, b"r")

def case_lock():
    lock = threading.Lock()
    lock.acquire()
    ready()
    lock.acquire()

def case_rlock_held_elsewhere():
    lock = threading.RLock()
    held = threading.Event()
    def holder():
        with lock:
            held.set()
            release.wait(30)
    threading.Thread(target=holder, daemon=True).start()
    held.wait(30)
    ready()
    lock.acquire()

def case_event():
    ready()
    threading.Event().wait()

def case_condition():
    cond = threading.Condition()
    with cond:
        ready()
        cond.wait()

def case_queue():
    ready()
    queue.Queue().get()

def case_sleep():
    ready()
    time.sleep(3600)

def case_accept():
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        ready()
        srv.accept()

def case_recv():
    a, b = socket.socketpair()
    with a, b:
        ready()
        a.recv(1)

def case_pipe_read():
    r, w = os.pipe()
    try:
        ready()
        os.read(r, 1)
    finally:
        os.close(r)
        os.close(w)

def case_select():
    r, w = os.pipe()
    try:
        ready()
        select_module.select([r], [], [])
    finally:
        os.close(r)
        os.close(w)

def case_popen_wait():
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        ready()
        p.wait()
    finally:
        p.kill()
        p.wait()

def case_thread_join():
    t = threading.Thread(target=release.wait, args=(30,), daemon=True)
    t.start()
    ready()
    t.join()

def case_future_result():
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        f = ex.submit(release.wait, 30)
        try:
            ready()
            f.result()
        finally:
            release.set()

def main():
    try:
        globals()["case_" + KIND]()
        state["returned"] = True
    finally:
        state["finally"].append("main")
        release.set()

def bystander(c):
    try:
        c.recv()
    finally:
        state["finally"].append("bystander")

try:
    if MODE == "offset":
        def goroutine_main():
            c = offset.makechan()
            offset.go(bystander, c)
            offset.go(bystander, c)
            main()
        offset.run(goroutine_main)
    else:
        main()
except BaseException as e:
    state["exception"] = type(e).__name__
state["finally"].sort()
sys.stdout.write("SIGINT-REPORT:" + json.dumps(state) + "\\n")
sys.stdout.flush()
"""

KINDS = [
    "lock",
    "rlock_held_elsewhere",
    "event",
    "condition",
    "queue",
    "sleep",
    "accept",
    "recv",
    "pipe_read",
    "select",
    "popen_wait",
    "thread_join",
    "future_result",
]


def _asleep(pid: int) -> bool:
    """Whether the process's main thread is asleep in the kernel (state S)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] == "S"


def _interrupt(mode: str, kind: str) -> dict[str, Any]:
    r, w = os.pipe()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFSET_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    p = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), mode, kind, str(w)],
        pass_fds=(w,),
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(w)
    try:
        readable, _, _ = select.select([r], [], [], 30)
        if not readable or os.read(r, 1) != b"r":
            pytest.fail(f"{mode} {kind}: the child never said it was ready", pytrace=False)
        # Asleep in the kernel three looks in a row, 5 ms apart: in its wait.
        deadline = time.monotonic() + 10
        streak = 0
        while streak < 3 and time.monotonic() < deadline:
            streak = streak + 1 if _asleep(p.pid) else 0
            time.sleep(0.005)
        os.kill(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        os.close(r)
        if p.poll() is None:
            p.kill()
            p.communicate()
    lines = [line for line in out.splitlines() if line.startswith(MARK)]
    if p.returncode != 0 or len(lines) != 1:
        pytest.fail(f"{mode} {kind}: exit {p.returncode}\nstdout:\n{out}\nstderr:\n{err}", pytrace=False)
    state: dict[str, Any] = json.loads(lines[0][len(MARK) :])
    return state


@pytest.mark.parametrize("kind", KINDS)
def test_ctrl_c_interrupts_the_blocking_call_as_in_plain_python(kind: str) -> None:
    plain = _interrupt("plain", kind)
    assert plain == {"returned": False, "finally": ["main"], "exception": "KeyboardInterrupt"}
    under_offset = _interrupt("offset", kind)
    assert under_offset == {
        "returned": False,
        "finally": ["bystander", "bystander", "main"],
        "exception": "KeyboardInterrupt",
    }
