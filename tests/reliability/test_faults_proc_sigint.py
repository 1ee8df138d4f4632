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

import textwrap
from typing import Any

import pytest

from reliability.faults_proc_support import interrupt_child

CHILD = """
import faulthandler, json, os, sys, time as _time
faulthandler.dump_traceback_later(float(os.environ["FAULT_CHILD_TIMEOUT"]), exit=True)
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
sys.stdout.write("FAULT-REPORT:" + json.dumps(state) + "\\n")
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


def _interrupt(mode: str, kind: str) -> Any:
    return interrupt_child(textwrap.dedent(CHILD), [mode, kind])[1]


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
