"""Subprocess and child-wait cases run the same way patched and unpatched
(child side).

Each case starts children and waits for them: through ``subprocess``
(``Popen.wait`` with and without a timeout, ``communicate``, ``run``,
``call``, ``check_*``, ``getoutput``, ``os.popen``) or with the os wait
functions (``waitpid``, ``wait``, ``wait3``, ``wait4``, ``waitid``). What
a case returns holds no pid (they differ from run to run): a pid is
reported as whether it is the child's. The tests run the cases unpatched,
then patched in the main goroutine (with another goroutine ticking beside
it, which must keep running), before ``run()`` and in a plain thread, and
compare.

Children are started with ``os.posix_spawn`` where the case waits with the
os functions, so that no ``Popen`` object waits for them too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import child

_cases = child.Cases()
case = _cases.case
run_all = _cases.run_all

# Cases that install a signal handler: the main thread only.
MAIN_THREAD_ONLY = {"sigchld_handler_reaps_before_wait", "sigchld_handler_reaps_during_wait"}

SH = "/bin/sh"


def spawn(script: str) -> int:
    """A child running ``sh -c script``; its pid."""
    return os.posix_spawn(SH, [SH, "-c", script], os.environ)


def _timeout_expired(e: subprocess.TimeoutExpired) -> Any:
    """The exception as data. ``run`` without pipes raises the wait's
    exception, whose timeout is what was left of run's (0.19997...): that
    one is rounded, as is its message."""
    timeout = round(e.timeout, 2)
    args = e.args[:1] + (round(e.args[1], 2),) + e.args[2:]
    return (
        type(e).__name__,
        args,
        e.cmd,
        timeout,
        e.output,
        e.stderr,
        str(e).replace(str(e.timeout), str(timeout)),
        type(e.__context__).__name__,
    )


# -- subprocess ----------------------------------------------------------


@case
def popen_wait_exit_codes() -> Any:
    codes = []
    for script in ("exit 0", "exit 3", "kill -9 $$", "kill -TERM $$"):
        p = subprocess.Popen([SH, "-c", script])
        codes.append((p.wait(), p.returncode, p.wait()))
    return codes


@case
def popen_wait_timeout_raises_timeout_expired() -> Any:
    p = subprocess.Popen(["sleep", "5"])
    try:
        p.wait(0.1)
    except subprocess.TimeoutExpired as e:
        got = _timeout_expired(e)
    else:
        got = "no TimeoutExpired"
    p.kill()
    return got, p.returncode, p.wait(), p.wait(timeout=0)


@case
def popen_wait_timeout_keyword_and_zero() -> Any:
    p = subprocess.Popen(["sleep", "5"])
    out = []
    for t in (0, -1, 0.0):
        try:
            p.wait(timeout=t)
        except subprocess.TimeoutExpired as e:
            out.append(_timeout_expired(e))
    p.terminate()
    out.append(p.wait(timeout=5))
    return out


@case
def popen_wait_timeout_child_exits_in_time() -> Any:
    p = subprocess.Popen([SH, "-c", "sleep 0.1; exit 7"])
    return p.wait(timeout=10)


@case
def popen_wait_timeouts_without_limit() -> Any:
    codes = []
    for t in (float("inf"), 1e300, float("nan")):
        p = subprocess.Popen([SH, "-c", "sleep 0.05; exit 3"])
        codes.append(p.wait(t))
    return codes


@case
def popen_poll_then_wait() -> Any:
    p = subprocess.Popen([SH, "-c", "sleep 0.1; exit 2"])
    first = p.poll()
    return first, p.wait(), p.poll()


@case
def communicate_both_ways() -> Any:
    p = subprocess.Popen(
        [sys.executable, "-c", "import sys; d = sys.stdin.read(); print(d.upper()); print('err', file=sys.stderr)"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return p.communicate("hello"), p.returncode


@case
def communicate_one_pipe_no_timeout() -> Any:
    p = subprocess.Popen([SH, "-c", "echo out; exit 4"], stdout=subprocess.PIPE)
    return p.communicate(), p.returncode


@case
def communicate_timeout_then_again() -> Any:
    p = subprocess.Popen([SH, "-c", "echo early; exec sleep 5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.communicate(timeout=0.5)
    except subprocess.TimeoutExpired as e:
        got = _timeout_expired(e)
    else:
        got = "no TimeoutExpired"
    p.kill()
    return got, p.communicate(), p.returncode


@case
def communicate_ten_megabytes_each_way() -> Any:
    data = bytes(range(256)) * (10 * 4096)  # 10 MiB
    code = "import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d); sys.stderr.buffer.write(d[::-1])"
    p = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = p.communicate(data, timeout=60)
    return len(out), out == data, err == data[::-1], p.returncode


@case
def run_call_check() -> Any:
    r = subprocess.run([SH, "-c", "echo x; exit 5"], capture_output=True)
    out: list[Any] = [(r.args, r.returncode, r.stdout, r.stderr)]
    out.append(subprocess.call([SH, "-c", "exit 6"]))
    out.append(subprocess.check_call(["true"]))
    out.append(subprocess.check_output([SH, "-c", "echo checked"]))
    try:
        subprocess.check_call([SH, "-c", "exit 9"])
    except subprocess.CalledProcessError as e:
        out.append((type(e).__name__, e.returncode, e.cmd, str(e)))
    try:
        subprocess.check_output([SH, "-c", "echo partial; exit 8"])
    except subprocess.CalledProcessError as e:
        out.append((type(e).__name__, e.returncode, e.output, str(e)))
    out.append(subprocess.getoutput("echo got; exit 1"))
    out.append(subprocess.getstatusoutput("echo status; exit 2"))
    return out


@case
def run_timeout_kills_the_child() -> Any:
    t0 = time.monotonic()
    try:
        subprocess.run(["sleep", "5"], timeout=0.2)
    except subprocess.TimeoutExpired as e:
        got = _timeout_expired(e)
    else:
        got = "no TimeoutExpired"
    try:
        subprocess.run([SH, "-c", "echo before; exec sleep 5"], timeout=0.3, capture_output=True)
    except subprocess.TimeoutExpired as e:
        got2 = _timeout_expired(e)
    else:
        got2 = "no TimeoutExpired"
    return got, got2, time.monotonic() - t0 < 4


@case
def call_timeout() -> Any:
    try:
        subprocess.call(["sleep", "5"], timeout=0.1)
    except subprocess.TimeoutExpired as e:
        return _timeout_expired(e)
    return "no TimeoutExpired"


@case
def os_popen_read_and_close() -> Any:
    f = os.popen("echo popen; exit 3")
    text = f.read()
    status = f.close()
    g = os.popen("cat > /dev/null", "w")
    g.write("input\n")
    return text, status, g.close()


@case
def popen_context_manager_waits() -> Any:
    with subprocess.Popen([SH, "-c", "sleep 0.1; exit 11"]) as p:
        pass
    return p.returncode


# -- the os wait functions -------------------------------------------------


@case
def waitpid_pid() -> Any:
    pid = spawn("sleep 0.1; exit 3")
    r = os.waitpid(pid, 0)
    return r[0] == pid, r[1], os.waitstatus_to_exitcode(r[1])


@case
def waitpid_any_child() -> Any:
    pid = spawn("sleep 0.1; exit 4")
    r = os.waitpid(-1, 0)
    return r[0] == pid, r[1]


@case
def waitpid_process_group() -> Any:
    pid = spawn("sleep 0.1; exit 5")
    r = os.waitpid(0, 0)
    return r[0] == pid, r[1]


@case
def waitpid_wnohang() -> Any:
    pid = spawn("sleep 0.2; exit 6")
    early = os.waitpid(pid, os.WNOHANG)
    r = os.waitpid(pid, 0)
    return early, r[0] == pid, r[1]


@case
def waitpid_killed() -> Any:
    pid = spawn("sleep 5")
    os.kill(pid, signal.SIGKILL)
    r = os.waitpid(pid, 0)
    return r[0] == pid, r[1], os.WIFSIGNALED(r[1]), os.WTERMSIG(r[1])


@case
def waitpid_untraced_sees_a_stop() -> Any:
    pid = spawn("kill -STOP $$; exit 2")
    r = os.waitpid(pid, os.WUNTRACED)
    stopped = (r[0] == pid, os.WIFSTOPPED(r[1]), os.WSTOPSIG(r[1]))
    os.kill(pid, signal.SIGCONT)
    r2 = os.waitpid(pid, 0)
    return stopped, r2[0] == pid, r2[1]


@case
def waitpid_continued() -> Any:
    pid = spawn("kill -STOP $$; sleep 0.1; exit 3")
    r = os.waitpid(pid, os.WUNTRACED)
    first = os.WIFSTOPPED(r[1])
    os.kill(pid, signal.SIGCONT)
    r2 = os.waitpid(pid, os.WCONTINUED)
    r3 = os.waitpid(pid, 0)
    return first, r2[0] == pid, os.WIFCONTINUED(r2[1]), r3[0] == pid, r3[1]


@case
def waitpid_no_child() -> Any:
    return child.outcome(lambda: os.waitpid(-1, 0)), child.outcome(lambda: os.waitpid(1, 0))


@case
def waitpid_bad_arguments() -> Any:
    return [
        child.outcome(lambda: os.waitpid("1", 0)),  # type: ignore[arg-type]
        child.outcome(lambda: os.waitpid(1, 2**40)),
        child.outcome(lambda: os.waitpid(2**40, 0)),
        child.outcome(lambda: os.waitpid(1)),  # type: ignore[call-arg]
        child.outcome(lambda: os.waitpid(pid=1, options=0)),  # type: ignore[call-arg]
    ]


@case
def wait_any() -> Any:
    pid = spawn("sleep 0.1; exit 7")
    r = os.wait()
    return r[0] == pid, r[1], child.outcome(os.wait)


@case
def wait3_and_wait4() -> Any:
    pid = spawn("sleep 0.1; exit 8")
    r = os.wait3(0)
    pid2 = spawn("sleep 0.1; exit 9")
    r2 = os.wait4(pid2, 0)
    return (
        (r[0] == pid, r[1], type(r[2]).__name__),
        (r2[0] == pid2, r2[1], type(r2[2]).__name__),
        child.outcome(lambda: os.wait3(0)),
        child.outcome(lambda: os.wait4(-1, 0)),
    )


@case
def waitid_p_pid_and_p_all() -> Any:
    pid = spawn("sleep 0.1; exit 10")
    early = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG)
    r = os.waitid(os.P_PID, pid, os.WEXITED)
    pid2 = spawn("sleep 0.1; exit 11")
    r2 = os.waitid(os.P_ALL, 0, os.WEXITED)
    return (
        early,
        (r.si_pid == pid, r.si_status, r.si_code, r.si_signo),
        (r2.si_pid == pid2, r2.si_status, r2.si_code),
        child.outcome(lambda: os.waitid(os.P_ALL, 0, os.WEXITED)),
        child.outcome(lambda: os.waitid(os.P_PID, 1, 0)),
    )


@case
def waitid_nowait_leaves_the_status() -> Any:
    pid = spawn("sleep 0.1; exit 12")
    r = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    r2 = os.waitpid(pid, 0)
    return (r.si_pid == pid, r.si_status), (r2[0] == pid, r2[1])


@case
def waitid_pidfd() -> Any:
    if not hasattr(os, "P_PIDFD"):
        return "no P_PIDFD"
    pid = spawn("sleep 0.1; exit 13")
    fd = os.pidfd_open(pid)
    try:
        r = os.waitid(os.P_PIDFD, fd, os.WEXITED)
    finally:
        os.close(fd)
    return r.si_pid == pid, r.si_status, r.si_code


# -- a program's own SIGCHLD handler ---------------------------------------


def _reaping_handler(reaped: list[int]) -> Any:
    def handler(signum: int, frame: Any) -> None:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            reaped.append(pid)

    return handler


@case
def sigchld_handler_reaps_before_wait() -> Any:
    reaped: list[int] = []
    old = signal.signal(signal.SIGCHLD, _reaping_handler(reaped))
    try:
        p = subprocess.Popen([SH, "-c", "exit 3"])
        p2 = subprocess.Popen([SH, "-c", "exit 4"])
        deadline = time.monotonic() + 5
        while len(reaped) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        # The handler took both statuses: Popen sees ECHILD and says 0.
        return sorted(reaped) == sorted([p.pid, p2.pid]), p.wait(), p2.wait(timeout=1)
    finally:
        signal.signal(signal.SIGCHLD, old)


@case
def sigchld_handler_reaps_during_wait() -> Any:
    reaped: list[int] = []
    old = signal.signal(signal.SIGCHLD, _reaping_handler(reaped))
    try:
        # Exit code 0 either way: whichever of the wait and the handler
        # takes the status, the wait says 0.
        p = subprocess.Popen([SH, "-c", "sleep 0.1"])
        p2 = subprocess.Popen([SH, "-c", "sleep 0.1"])
        return p.wait(), p2.wait(timeout=5), subprocess.call(["true"]), subprocess.run(["true"], timeout=5).returncode
    finally:
        signal.signal(signal.SIGCHLD, old)
