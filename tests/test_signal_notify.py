"""offset.signal (Go's os/signal): real signals relayed to channels.

Signal handlers are process-wide, so every test runs its program in a
fresh interpreter (tests/patches/conftest.run_child), most of them twice:
under ``patch_all()`` and without it. Signals are real: ``os.kill`` from
the process itself, from another thread, from a child process. Nothing
sleeps to let a delivery settle: a second channel on the same signal
tells when a delivery pass is done (the signal thread sends to every
channel that wants a signal in one pass, under one lock).
"""

from __future__ import annotations

import pytest

from tests.patches.conftest import run_child

MODES = ["plain", "patched"]


def _script(mode: str, body: str) -> str:
    patch = "offset.patch_all()" if mode == "patched" else ""
    return (
        "import child; child.start()\n"
        "import offset\n"
        f"{patch}\n"
        "import os, signal, sys, threading, time\n"
        "from offset import signal as osignal\n"
        "from offset import makechan, go, select, default\n"
        "USR1, USR2 = signal.SIGUSR1, signal.SIGUSR2\n"
        "def kill(sig=USR1):\n"
        "    os.kill(os.getpid(), sig)\n"
        "def until(pred, limit=10.0):\n"
        "    # A handler runs when the main thread next checks for signals,\n"
        "    # which is at once only if the kernel gave the signal to the main\n"
        "    # thread: with offset's signal thread alive it may take another.\n"
        "    end = time.monotonic() + limit\n"
        "    while not pred() and time.monotonic() < end:\n"
        "        time.sleep(0.001)\n"
        "def poll(c):\n"
        "    r = select(c.if_recv(), default)\n"
        "    return None if r is default else int(r.value)\n" + body
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_signal_wakes_an_idle_scheduler_at_once(mode: str) -> None:
    # Main waits on the channel with nothing else that could wake it; the
    # signal comes from a child process 1.2 s later, when the scheduler's
    # idle wait looks again only every second or so. It must arrive at
    # once, and no DeadlockError may be raised meanwhile: a goroutine
    # waiting on a signal channel is not deadlocked (Go: signal.Notify).
    out = run_child(
        _script(
            mode,
            """
import subprocess
def main():
    c = makechan(1)
    osignal.notify(c, USR1)
    p = subprocess.Popen([sys.executable, "-c",
        "import os, signal, sys, time; time.sleep(1.2); print(time.time(), flush=True); "
        f"os.kill({os.getpid()}, signal.SIGUSR1)"], stdout=subprocess.PIPE, text=True)
    v = c.recv()
    got = time.time()
    sent = float(p.stdout.readline())
    p.wait()
    return [repr(v), type(v).__name__, got - sent]
v, t, latency = offset.run(main)
child.report({"v": v, "type": t, "latency": latency})
""",
        )
    )
    assert out["v"] == "<Signals.SIGUSR1: 10>"
    assert out["type"] == "Signals"
    assert out["latency"] < 0.5, out


def test_a_deadlock_is_reported_again_once_no_channel_wants_a_signal() -> None:
    # The signal thread, which keeps deadlock detection quiet while a
    # channel wants a signal (as Go's signal goroutine does), ends with the
    # last stop.
    out = run_child(
        _script(
            "plain",
            """
def main():
    c = makechan(1)
    osignal.notify(c, USR1)
    osignal.stop(c)
    makechan().recv()
try:
    offset.run(main)
    r = "no deadlock"
except offset.DeadlockError as e:
    r = str(e).splitlines()[0]
child.report(r)
""",
        )
    )
    assert out == "all goroutines are asleep - deadlock!"


@pytest.mark.parametrize("mode", MODES)
def test_receivers_in_other_threads_and_schedulers(mode: str) -> None:
    # The main thread runs no scheduler and only waits: a goroutine of a
    # scheduler in another thread, and a plain thread, receive; the signal
    # is sent from a third thread.
    out = run_child(
        _script(
            mode,
            """
c1, c2 = makechan(1), makechan(1)
osignal.notify(c1, USR1)
osignal.notify(c2, USR1)
got = {}
waiting = [threading.Event(), threading.Event()]
def in_scheduler():
    def g():
        waiting[0].set()
        got["goroutine"] = int(c1.recv())
    offset.run(g)
def in_thread():
    waiting[1].set()
    got["thread"] = int(c2.recv())
ts = [threading.Thread(target=in_scheduler), threading.Thread(target=in_thread)]
for t in ts:
    t.start()
for e in waiting:
    e.wait(10)  # about to wait (or waiting): either way the signal must reach them
k = threading.Thread(target=kill)
k.start()
k.join()
for t in ts:
    t.join(10)
child.report(got)
""",
        )
    )
    assert out == {"goroutine": 10, "thread": 10}


@pytest.mark.parametrize("mode", MODES)
def test_delivery_drops_when_full_and_never_blocks(mode: str) -> None:
    out = run_child(
        _script(
            mode,
            """
def main():
    full, unbuffered, witness = makechan(1), makechan(0), makechan(10)
    osignal.notify(full, USR1)
    osignal.notify(unbuffered, USR1)
    osignal.notify(witness, USR1)
    kill()
    witness.recv()  # the first delivery pass is done
    kill()
    witness.recv()
    return [len(full), poll(full), poll(full), poll(unbuffered)]
child.report(offset.run(main))
""",
        )
    )
    # One kept, one dropped (full); nothing for an unbuffered channel with
    # no receiver ready (Go drops it too; go vet warns).
    assert out == [1, 10, None, None]


@pytest.mark.parametrize("mode", MODES)
def test_channels_and_signals_many_to_many_then_stop(mode: str) -> None:
    out = run_child(
        _script(
            mode,
            """
def main():
    a, b = makechan(10), makechan(10)
    osignal.notify(a, USR1)
    osignal.notify(a, USR2)  # adds to a's set
    osignal.notify(b, USR1)
    kill(USR1); b.recv()
    kill(USR2)
    r = [a.recv(), a.recv()]
    osignal.stop(a)
    after_stop_a = signal.getsignal(USR2)
    kill(USR1); b.recv()
    r += [poll(a)]
    osignal.stop(b)
    osignal.stop(b)  # again: nothing
    osignal.stop(makechan())  # never notified: nothing
    return [[int(x) for x in r[:2]] + r[2:], repr(after_stop_a), repr(signal.getsignal(USR1))]
child.report(offset.run(main))
""",
        )
    )
    assert out == [[10, 12, None], "<Handlers.SIG_DFL: 0>", "<Handlers.SIG_DFL: 0>"]


@pytest.mark.parametrize("mode", MODES)
def test_ignore_and_reset(mode: str) -> None:
    out = run_child(
        _script(
            mode,
            """
def h(signum, frame):
    fired.append(signum)
fired = []
def main():
    r = {}
    signal.signal(USR1, h)
    c = makechan(10)
    osignal.notify(c, USR1, USR2)
    r["ignored_before"] = [osignal.ignored(USR1), osignal.ignored(USR2)]
    osignal.ignore(USR1, USR2)  # undoes notify for both
    r["ignored"] = [osignal.ignored(USR1), osignal.ignored(USR2)]
    kill(USR1); kill(USR2)  # SIGUSR2's default would end the process
    r["after_ignore"] = [poll(c), list(fired)]
    osignal.reset(USR1, USR2)
    r["reset"] = [signal.getsignal(USR1) is h, int(signal.getsignal(USR2)), osignal.ignored(USR1)]
    kill(USR1); until(lambda: fired)
    r["fired"] = list(fired)
    osignal.notify(c, USR2)
    osignal.reset()  # every signal offset.signal changed
    r["reset_all"] = int(signal.getsignal(USR2))
    osignal.ignore()  # every catchable signal but SIGCHLD and the faults
    r["ignore_all"] = [osignal.ignored(USR2), osignal.ignored(signal.SIGTERM), osignal.ignored(signal.SIGCHLD),
                       osignal.ignored(signal.SIGSEGV)]
    osignal.reset()
    r["reset_ignore_all"] = [osignal.ignored(signal.SIGTERM), signal.getsignal(USR1) is h]
    return r
child.report(offset.run(main))
""",
        )
    )
    assert out == {
        "ignored_before": [False, False],
        "ignored": [True, True],
        "after_ignore": [None, []],
        "reset": [True, 0, False],
        "fired": [10],
        "reset_all": 0,
        "ignore_all": [True, True, False, False],
        "reset_ignore_all": [False, True],
    }


@pytest.mark.parametrize("mode", MODES)
def test_the_programs_handler_is_called_beside_the_channel(mode: str) -> None:
    # A handler installed before notify is kept and called too; SIGINT's
    # default (KeyboardInterrupt) is replaced, as Go's Notify replaces the
    # default action; stop puts each back.
    out = run_child(
        _script(
            mode,
            """
fired = []
def h(signum, frame):
    fired.append(signum)
def main():
    r = {}
    signal.signal(USR1, h)
    c, w = makechan(10), makechan(10)
    osignal.notify(c, USR1, signal.SIGINT)
    osignal.notify(w, USR1, signal.SIGINT)
    kill(USR1); w.recv()
    r["usr1"] = [poll(c), list(fired)]
    kill(signal.SIGINT); w.recv()  # no KeyboardInterrupt
    r["int"] = poll(c)
    osignal.stop(c); osignal.stop(w)
    r["restored"] = [signal.getsignal(USR1) is h, signal.getsignal(signal.SIGINT) is signal.default_int_handler]
    try:
        kill(signal.SIGINT)
        time.sleep(1)
        r["after"] = "no KeyboardInterrupt"
    except KeyboardInterrupt:
        r["after"] = "KeyboardInterrupt"
    return r
child.report(offset.run(main))
""",
        )
    )
    assert out == {"usr1": [10, [10]], "int": 2, "restored": [True, True], "after": "KeyboardInterrupt"}


@pytest.mark.parametrize("mode", MODES)
def test_the_programs_handler_raising_reaches_main_where_it_waits(mode: str) -> None:
    # The dispatcher runs the program's handler through offset's placement:
    # interrupting the scheduler's idle wait, it runs from the loop, and
    # its exception comes out of the receive main is blocked in.
    out = run_child(
        _script(
            mode,
            """
def h(signum, frame):
    raise ZeroDivisionError("from the handler")
def main():
    signal.signal(USR1, h)
    c, other = makechan(1), makechan()
    osignal.notify(c, USR1)
    threading.Timer(0.1, kill).start()
    try:
        other.recv()
        r = "no exception"
    except ZeroDivisionError as e:
        r = str(e)
    return [r, int(c.recv())]
child.report(offset.run(main))
""",
        )
    )
    assert out == ["from the handler", 10]


def test_signal_signal_beside_notify_patched() -> None:
    # With the signal patch area on, signal.signal on a signal a channel
    # wants keeps the dispatcher: the new handler is the program's (called,
    # shown by getsignal, returned by the next signal.signal), and stop
    # installs it.
    out = run_child(
        _script(
            "patched",
            """
fired = []
def h1(signum, frame):
    fired.append(("h1", signum))
def h2(signum, frame):
    fired.append(("h2", signum))
def main():
    r = {}
    c, w = makechan(10), makechan(10)
    osignal.notify(c, USR1)
    osignal.notify(w, USR1)
    r["getsignal"] = repr(signal.getsignal(USR1))
    r["prev1"] = repr(signal.signal(USR1, h1))
    r["prev2"] = signal.signal(USR1, h2) is h1
    r["shown"] = signal.getsignal(USR1) is h2
    kill(USR1); w.recv()
    r["got"] = [poll(c), fired[:]]
    try:
        signal.signal(USR1, 5)
    except TypeError as e:
        r["bad"] = str(e)
    errs = []
    def other():
        try:
            signal.signal(USR1, h1)
        except ValueError as e:
            errs.append(str(e))
    t = threading.Thread(target=other); t.start(); t.join()
    r["thread"] = errs
    osignal.stop(c); osignal.stop(w)
    r["after_stop"] = signal.getsignal(USR1) is h2
    kill(USR1); until(lambda: len(fired) >= 2)
    r["fired"] = [f[0] for f in fired]
    return r
child.report(offset.run(main))
""",
        )
    )
    assert out == {
        "getsignal": "<Handlers.SIG_DFL: 0>",
        "prev1": "<Handlers.SIG_DFL: 0>",
        "prev2": True,
        "shown": True,
        "got": [10, [["h2", 10]]],
        "bad": "signal handler must be signal.SIG_IGN, signal.SIG_DFL, or a callable object",
        "thread": ["signal only works in main thread of the main interpreter"],
        "after_stop": True,
        "fired": ["h2", "h2"],
    }


def test_unpatching_beside_notify() -> None:
    # The program's handler recorded while patched is installed unwrapped
    # by stop once the patch is gone; the dispatcher was never wrapped.
    out = run_child(
        _script(
            "patched",
            """
def h(signum, frame):
    pass
c = makechan(1)
osignal.notify(c, USR1)
signal.signal(USR1, h)
offset.unpatch_all()
r = [repr(signal.getsignal(USR1))]
kill(USR1)
r.append(int(c.recv()))
osignal.stop(c)
r.append(signal.getsignal(USR1) is h)
child.report(r)
""",
        )
    )
    assert out == ["<offset.signal dispatcher>", 10, True]


def test_signal_signal_replaces_the_dispatcher_unpatched() -> None:
    # Without the patch, signal.signal is the stdlib's: it replaces the
    # dispatcher, the channel gets nothing more, and stop leaves the
    # program's handler alone. The next notify takes the signal back and
    # keeps that handler as the one to call.
    out = run_child(
        _script(
            "plain",
            """
fired = []
def h(signum, frame):
    fired.append(signum)
def main():
    r = {}
    c, w = makechan(10), makechan(10)
    osignal.notify(c, USR1)
    r["dispatcher"] = repr(signal.getsignal(USR1))
    signal.signal(USR1, h)
    kill(USR1); until(lambda: fired)
    r["replaced"] = [poll(c), list(fired)]
    osignal.notify(w, USR1)  # takes it back
    kill(USR1); w.recv()
    r["back"] = [poll(c), list(fired)]
    osignal.stop(w); osignal.stop(c)
    r["after_stop"] = signal.getsignal(USR1) is h
    return r
child.report(offset.run(main))
""",
        )
    )
    assert out == {
        "dispatcher": "<offset.signal dispatcher>",
        "replaced": [None, [10]],
        "back": [10, [10, 10]],
        "after_stop": True,
    }


@pytest.mark.parametrize("mode", MODES)
def test_sigchld_handler_and_children_beside_notify(mode: str) -> None:
    # A program's SIGCHLD handler keeps working beside notify on SIGCHLD
    # and beside notify() of every signal; children are still waited for.
    out = run_child(
        _script(
            mode,
            """
import subprocess
fired = []
def on_child(signum, frame):
    fired.append(signum)
def main():
    signal.signal(signal.SIGCHLD, on_child)
    c, everything = makechan(10), makechan(100)
    osignal.notify(c, signal.SIGCHLD)
    osignal.notify(everything)
    rc = subprocess.run([sys.executable, "-c", "pass"]).returncode
    got = int(c.recv())
    kill(USR2)  # caught by notify(): no default action (which ends the process)
    seen = set()
    while 12 not in seen:
        seen.add(int(everything.recv()))
    osignal.reset()
    return [rc, got, 17 in seen, 17 in fired, signal.getsignal(signal.SIGCHLD) is on_child]
child.report(offset.run(main))
""",
        )
    )
    assert out == [0, 17, True, True, True]


@pytest.mark.parametrize("mode", MODES)
def test_a_flood_of_signals_while_goroutines_use_channels(mode: str) -> None:
    # Signals land in the middle of offset's channel code (the main thread
    # is busy with channel hand-offs, or idle in the netpoller): the
    # dispatcher only records them, so nothing deadlocks or breaks.
    out = run_child(
        _script(
            mode,
            """
N = 100000
def main():
    sigs = makechan(N)
    osignal.notify(sigs, USR1)
    ping, pong = makechan(), makechan()
    def echo():
        for v in ping:
            pong.send(v)
    go(echo)
    done, kills = [], [0]
    def flood():
        while not done:
            kill(USR1)
            kills[0] += 1
    t = threading.Thread(target=flood)
    t.start()
    n = 0
    while n < 3000 or kills[0] < 100:
        ping.send(n)
        n = pong.recv() + 1
    done.append(True)
    t.join()
    ping.close()
    # A last one, so that the delivery pass is known to be done.
    w = makechan(1)
    osignal.notify(w, USR1)
    kill(USR1)
    w.recv()
    got = len(sigs)
    osignal.stop(sigs)
    return [n >= 3000, 1 <= got <= kills[0] + 1]
child.report(offset.run(main))
""",
        )
    )
    assert out == [True, True]


def test_errors() -> None:
    out = run_child(
        _script(
            "plain",
            """
r = {}
def outcome(fn):
    try:
        fn()
        return "ok"
    except BaseException as e:
        return f"{type(e).__name__}: {e}"
c = makechan(1)
r["nil"] = outcome(lambda: osignal.notify(None, USR1))
r["not_chan"] = outcome(lambda: osignal.notify("c", USR1))
r["range"] = outcome(lambda: osignal.notify(c, 0))
r["range_ignore"] = outcome(lambda: osignal.ignore(1000))
r["type"] = outcome(lambda: osignal.notify(c, "SIGUSR1"))
r["kill"] = outcome(lambda: osignal.notify(c, signal.SIGKILL))
r["ignore_stop"] = outcome(lambda: osignal.ignore(signal.SIGSTOP))
r["stop_not_chan"] = outcome(lambda: osignal.stop(1))
r["stop_none"] = outcome(lambda: osignal.stop(None))
r["ignored_type"] = outcome(lambda: osignal.ignored(None))
r["ignored_range"] = outcome(lambda: osignal.ignored(-1))
r["untouched"] = repr(signal.getsignal(USR1))
def other():
    r["thread_notify"] = outcome(lambda: osignal.notify(c, USR1))
    r["thread_ignored"] = outcome(lambda: osignal.ignored(USR1))
t = threading.Thread(target=other); t.start(); t.join()
child.report(r)
""",
        )
    )
    main_only = "ValueError: signal only works in main thread of the main interpreter"
    assert out == {
        "nil": "PanicError: os/signal: Notify using nil channel",
        "not_chan": "TypeError: notify() argument 'c' must be a channel (offset.Chan), not str",
        "range": "ValueError: signal number out of range",
        "range_ignore": "ValueError: signal number out of range",
        "type": "TypeError: notify() argument 'signals' must be a signal number (int), not str",
        "kill": "OSError: [Errno 22] Invalid argument",
        "ignore_stop": "OSError: [Errno 22] Invalid argument",
        "stop_not_chan": "TypeError: stop() argument 'c' must be a channel (offset.Chan), not int",
        "stop_none": "ok",
        "ignored_type": "TypeError: ignored() argument 'sig' must be a signal number (int), not NoneType",
        "ignored_range": "ValueError: signal number out of range",
        "untouched": "<Handlers.SIG_DFL: 0>",
        "thread_notify": main_only,
        "thread_ignored": "ok",
    }


def test_python_m_offset(tmp_path: object) -> None:
    import os

    prog = os.path.join(str(tmp_path), "prog.py")
    with open(prog, "w") as f:
        f.write(
            "import os, signal, threading\n"
            "import offset\n"
            "from offset import signal as osignal\n"
            "c = offset.makechan(1)\n"
            "osignal.notify(c, signal.SIGTERM)\n"
            "threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGTERM)).start()\n"
            "print('got', c.recv().name, offset.patches.is_patched('signal'))\n"
        )
    out = run_child(
        "import child; child.start()\n"
        "import subprocess, sys\n"
        f"p = subprocess.run([sys.executable, '-m', 'offset', {prog!r}], capture_output=True, text=True, timeout=20)\n"
        "child.report([p.returncode, p.stdout, p.stderr[-2000:]])\n"
    )
    assert out[:2] == [0, "got SIGTERM True\n"], out[2]


def test_fork_child_keeps_delivering() -> None:
    out = run_child(
        _script(
            "plain",
            """
c = makechan(1)
osignal.notify(c, USR1)
pid = os.fork()
if pid == 0:
    kill(USR1)
    os._exit(0 if int(c.recv()) == 10 else 1)
_, status = os.waitpid(pid, 0)
kill(USR1)
child.report([os.waitstatus_to_exitcode(status), int(c.recv())])
""",
        )
    )
    assert out == [0, 10]
