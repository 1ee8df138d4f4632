"""``python -m offset``: an unmodified program, patched, as the main goroutine.

Each run is compared with the same program under plain ``python``:
argv, ``__main__``, the exit status and the traceback must be the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import ROOT


def run(args: list[str], cwd: Path, timeout: float = 30) -> tuple[int, str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT
    p = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


INSPECT = """
import json, os, pickle, sys

class Point:
    pass

info = {
    "argv": sys.argv,
    "name": __name__,
    "path0": sys.path[0],
    "file": __file__,
    "main_is_me": sys.modules["__main__"].__dict__ is globals(),
    "pickles": type(pickle.loads(pickle.dumps(Point()))).__name__,
}
if "offset" in sys.modules:
    import offset
    from offset._core import current_goroutine
    import time
    info["patched"] = offset.patches.is_patched("socket") and hasattr(time.sleep, "__wrapped__")
    info["in_goroutine"] = current_goroutine() is not None
print(json.dumps(info))
"""


def test_script_runs_as_main_goroutine_like_plain_python(tmp_path: Path) -> None:
    import json

    path = script(tmp_path, "inspect_me.py", INSPECT)
    rc, out, err = run(["-m", "offset", "inspect_me.py", "a", "-b"], tmp_path)
    assert (rc, err) == (0, "")
    got = json.loads(out)
    assert got.pop("patched") is True
    assert got.pop("in_goroutine") is True
    rc, out, err = run(["inspect_me.py", "a", "-b"], tmp_path)
    assert (rc, err) == (0, "")
    assert got == json.loads(out)
    assert got["argv"] == ["inspect_me.py", "a", "-b"] and got["path0"] == str(tmp_path)
    assert got["file"] == str(path)


def test_module_runs_like_python_dash_m(tmp_path: Path) -> None:
    import json

    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(INSPECT)
    rc, out, err = run(["-m", "offset", "-m", "mypkg", "x"], tmp_path)
    assert (rc, err) == (0, "")
    got = json.loads(out)
    assert got.pop("patched") is True and got.pop("in_goroutine") is True
    rc, out, err = run(["-m", "mypkg", "x"], tmp_path)
    assert (rc, err) == (0, "")
    want = json.loads(out)
    # runpy.run_module puts a fresh module in __main__ for the run, where
    # python -m runs the code in its own __main__; pickling works in both.
    assert {k: v for k, v in got.items() if k not in ("path0", "main_is_me")} == {
        k: v for k, v in want.items() if k not in ("path0", "main_is_me")
    }
    assert got["argv"] == [str(pkg / "__main__.py"), "x"]


def test_goroutines_and_blocking_calls_in_a_script(tmp_path: Path) -> None:
    script(
        tmp_path,
        "sleepers.py",
        """
        import time
        import offset

        done = []
        def sleeper():
            time.sleep(0.3)
            done.append(1)

        t0 = time.monotonic()
        for _ in range(100):
            offset.go(sleeper)
        while len(done) < 100:
            time.sleep(0.01)
        print(len(done), time.monotonic() - t0 < 1.5)
        """,
    )
    assert run(["-m", "offset", "sleepers.py"], tmp_path) == (0, "100 True\n", "")


def same_as_plain(tmp_path: Path, name: str, body: str, *args: str) -> tuple[int, str, str]:
    script(tmp_path, name, body)
    patched = run(["-m", "offset", name, *args], tmp_path)
    plain = run([name, *args], tmp_path)
    assert patched == plain
    return plain


def test_exit_codes_like_plain_python(tmp_path: Path) -> None:
    assert same_as_plain(tmp_path, "exit3.py", "import sys\nsys.exit(3)\n") == (3, "", "")
    assert same_as_plain(tmp_path, "exitmsg.py", "import sys\nsys.exit('bye')\n") == (1, "", "bye\n")
    assert same_as_plain(tmp_path, "ok.py", "print('fine')\n") == (0, "fine\n", "")


def test_uncaught_exception_prints_the_usual_traceback(tmp_path: Path) -> None:
    rc, out, err = same_as_plain(
        tmp_path,
        "boom.py",
        """
        def inner():
            raise ValueError("boom")

        def outer():
            try:
                {}["missing"]
            except KeyError:
                inner()

        print("before")
        outer()
        """,
    )
    assert rc == 1 and out == "before\n"
    assert err.startswith("Traceback (most recent call last):\n")
    assert err.endswith("ValueError: boom\n")
    assert "offset" not in err and "runpy" not in err


def test_syntax_error_like_plain_python(tmp_path: Path) -> None:
    rc, _, err = same_as_plain(tmp_path, "syntax.py", "x = (\n")
    assert rc == 1 and "SyntaxError" in err


def test_missing_script_and_usage(tmp_path: Path) -> None:
    rc, out, err = run(["-m", "offset", "nope.py"], tmp_path)
    assert (rc, out, err) == run(["nope.py"], tmp_path)
    assert rc == 2
    rc, out, err = run(["-m", "offset"], tmp_path)
    assert rc == 2 and out == "" and err.startswith("usage: python -m offset [options] script.py [args...]")
    assert err.endswith("python -m offset: error: no script or module given\n")
    rc, out, err = run(["-m", "offset", "--help"], tmp_path)
    assert rc == 0 and out.startswith("usage:")


AREAS_SCRIPT = """
import json
from offset import patches
print(json.dumps({name: patches.is_patched(name) for name in patches.AREAS}))
"""


def test_help_lists_every_patch_area_of_the_registry(tmp_path: Path) -> None:
    from offset import patches

    rc, out, err = run(["-m", "offset", "--help"], tmp_path)
    assert (rc, err) == (0, "")
    assert "--no-AREA" in out and "--monitor[=DURATION]" in out and "--dump-signal=SIGNAL" in out
    listed = out.split("patch areas")[1].splitlines()[1:]
    assert [line.split()[0] for line in listed] == list(patches.AREAS)
    assert "  time        time.sleep" in listed


def test_no_area_flags_leave_those_areas_alone(tmp_path: Path) -> None:
    import json

    from offset import patches

    script(tmp_path, "areas.py", AREAS_SCRIPT)
    rc, out, err = run(["-m", "offset", "--no-socket", "--no-dns", "areas.py"], tmp_path)
    assert (rc, err) == (0, "")
    assert json.loads(out) == {name: name not in ("socket", "dns") for name in patches.AREAS}
    # gevent's rule: --AREA patches only the areas named so.
    rc, out, err = run(["-m", "offset", "--time", "--select", "--", "areas.py"], tmp_path)
    assert (rc, err) == (0, "")
    assert json.loads(out) == {name: name in ("time", "select") for name in patches.AREAS}


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    script(tmp_path, "areas.py", AREAS_SCRIPT)
    for args, message in [
        (["--no-sockets", "areas.py"], "unknown option '--no-sockets' (the patch areas are: time, socket, "),
        (["--frobnicate", "areas.py"], "unknown option '--frobnicate'"),
        (["--monitor=soon", "areas.py"], "--monitor must be a positive duration such as 100ms, 1.5s or 0.1"),
        (["--dump-signal=SIGNOPE", "areas.py"], "--dump-signal must name a signal (SIGABRT, "),
        (["--dump-signal"], "argument --dump-signal: expected a signal name"),
        (["--no-socket"], "no script or module given"),
    ]:
        rc, out, err = run(["-m", "offset", *args], tmp_path)
        assert (rc, out) == (2, ""), args
        assert err.startswith("usage: python -m offset [options] script.py"), args
        assert f"python -m offset: error: {message}" in err, (args, err)


def test_monitor_option_reports_a_blocking_script(tmp_path: Path) -> None:
    script(
        tmp_path,
        "blocks.py",
        """
        import time
        from offset.patches import get_original
        get_original("time", "sleep")(0.4)  # blocks the thread: no goroutine switch
        print("done")
        """,
    )
    rc, out, err = run(["-m", "offset", "--monitor=50ms", "blocks.py"], tmp_path)
    assert (rc, out) == (0, "done\n"), err
    assert err.count("offset.monitor:") == 1, err
    assert "(threshold 0.05 s); it is held by:" in err
    assert "__main__.<module>(...)" in err
    rc, out, err = run(["-m", "offset", "--monitor", "blocks.py"], tmp_path)
    assert (rc, out) == (0, "done\n"), err
    assert err.count("(threshold 0.1 s)") == 1, err


def test_dump_signal_option(tmp_path: Path) -> None:
    script(
        tmp_path,
        "waits.py",
        """
        import os, signal, time
        from offset import go, makechan
        c = makechan()
        def worker():
            c.recv()
        go(worker)
        time.sleep(0.01)  # patched: worker parks
        os.kill(os.getpid(), signal.SIGUSR2)
        time.sleep(0.01)
        c.close()
        print("done")
        """,
    )
    rc, out, err = run(["-m", "offset", "--dump-signal", "USR2", "waits.py"], tmp_path)
    assert (rc, out) == (0, "done\n"), err
    assert err.startswith("offset: goroutine dump, 1 schedulers, 2 goroutines\n"), err
    assert "[chan receive]:\n__main__.worker(...)\n" in err


def test_the_tour_runs_its_blocking_tasks_at_once(tmp_path: Path) -> None:
    # The main demonstration (./scripts/demo): HTTPS fetches from a local
    # TLS server, child processes, file reads and sleeps, unmodified, run
    # one by one and then all at once. 4 of each kind, each waiting about
    # 150 ms: about 2 s one by one, about 0.2 s at once. The bound only
    # catches a task that blocked the whole scheduler.
    code, out, err = run(["-m", "offset", str(Path(ROOT) / "examples" / "tour.py"), "4", "150"], tmp_path, 90)
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "16 blocking tasks: 4 of each kind, each waiting about 150 ms"
    one_by_one = float(lines[-2].split()[-2])
    at_once = float(lines[-1].split()[3])
    assert one_by_one > 1.5
    assert at_once < one_by_one / 3, out
