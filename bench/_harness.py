"""The small harness every bench/bench_*.py uses: time, memory, table.

A bench file builds ``Row``s and hands them to ``report``::

    from _harness import Row, Target, header, measure, report, size

    def offset_pingpong(n): ...          # runs the whole workload once, n ops
    def greenlet_pingpong(n): ...
    n = size(200_000)
    res = measure({"offset": offset_pingpong, "greenlet": greenlet_pingpong}, n, unit="ns")
    rows = [Row("ping-pong", "ns/round trip", res, lower_is_better=True,
                targets=[Target("<=2.5x floor", lambda r: r["offset"] <= 2.5 * r["greenlet"])])]
    header("core"); report(rows)

Timing (``timeit``): one warm-up run at a tenth of the size, then REPEAT
full runs; the best (smallest) wall time wins, as timeit and pyperf's
"min" do: noise only ever adds time. The garbage collector stays on (users
run with it on) but ``gc.collect()`` runs before each run.

Memory: ``rss_bytes()`` reads resident memory from /proc/self/statm (Linux).
Run a memory workload with ``isolated(fn, *args)``: it calls ``fn`` in a
fresh interpreter, so memory freed by earlier workloads cannot be reused and
hide the cost. ``fn`` must be a module-level function of the bench file and
return something JSON-encodable.

Knobs (command line of any bench file, or the environment):
  --quick           one run, workloads at a tenth of their size
  BENCH_REPEAT=n    timed runs per measurement (default 3)
  BENCH_SCALE=x     multiply every workload's size by x (default 1)
  BENCH_TIMEOUT=s   a measurement running longer is taken as a hang: every
                    thread's stack is dumped and the process exits (default 300)
"""

from __future__ import annotations

import faulthandler
import gc
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

QUICK = "--quick" in sys.argv[1:]
REPEAT = max(1, int(os.environ.get("BENCH_REPEAT", "1" if QUICK else "3")))
SCALE = float(os.environ.get("BENCH_SCALE", "0.1" if QUICK else "1"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "300"))  # seconds per measurement

# Column order of the table; only columns some row has are printed.
# "greenlet" is the floor: the least any library on greenlet can cost.
COLUMNS = {
    "offset": "offset",
    "greenlet": "greenlet (floor)",
    "gevent": "gevent",
    "asyncio": "asyncio",
    "threads": "threads",
}

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def size(n: int) -> int:
    """A workload size scaled by BENCH_SCALE / --quick (at least 1)."""
    return max(1, int(n * SCALE))


# -- timing ------------------------------------------------------------


def timeit(fn: Callable[[int], Any], n: int, repeat: int | None = None) -> float:
    """Best wall time in seconds of ``fn(n)`` over ``repeat`` runs, after a warm-up.

    The warm-up is ``fn(max(1, n // 10))``: it imports, fills caches and
    free lists, and lets the first-run cost stay out of the numbers.
    """
    repeat = REPEAT if repeat is None else repeat
    # A workload that hangs dumps every thread's stack and ends the process.
    faulthandler.dump_traceback_later(TIMEOUT, exit=True)
    try:
        gc.collect()
        fn(max(1, n // 10))
        best = float("inf")
        for _ in range(repeat):
            gc.collect()
            t0 = time.perf_counter()
            fn(n)
            best = min(best, time.perf_counter() - t0)
    finally:
        faulthandler.cancel_dump_traceback_later()
    return best


def per_op(seconds: float, n: int) -> float:
    """Seconds per operation."""
    return seconds / n


def rate(seconds: float, n: int) -> float:
    """Operations per second."""
    return n / seconds


def measure(fns: dict[str, Callable[[int], Any]], n: int, unit: str = "rate", label: str = "") -> dict[str, float]:
    """Time each workload of ``fns`` (column -> fn) at size ``n`` with ``timeit``.

    ``unit="rate"``: operations per second; ``unit="ns"``: nanoseconds per
    operation. The result is a Row's ``results``.
    """
    out = {}
    for col, fn in fns.items():
        progress(f"{label or fn.__name__}: {col} ...")
        best = timeit(fn, n)
        out[col] = rate(best, n) if unit == "rate" else per_op(best, n) * 1e9
    return out


# -- memory ------------------------------------------------------------


def rss_bytes() -> int:
    """Resident set size of this process now, from /proc/self/statm."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def memory_probe(traced: bool = False) -> Callable[[], int]:
    """A function returning bytes in use now, after ``gc.collect()``.

    ``traced=False``: resident memory (RSS) from /proc/self/statm: everything,
    greenlet stacks and the interpreter's frame chunks included.
    ``traced=True``: starts tracemalloc and reports what Python's allocators
    hold (objects, and greenlet's saved stack copies); not memory mapped
    directly (CPython 3.11+ frame-stack chunks), and much slower.
    """
    if traced:
        import tracemalloc

        tracemalloc.start()

        def now() -> int:
            gc.collect()
            return tracemalloc.get_traced_memory()[0]

        return now

    def rss() -> int:
        gc.collect()
        return rss_bytes()

    return rss


def isolated(fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
    """Call module-level ``fn(*args)`` in a fresh interpreter; return its result.

    The child imports the bench file as a module (so its ``if __name__ ==
    "__main__"`` block does not run), calls ``fn``, prints the result as
    JSON and leaves with ``os._exit`` (no teardown of what it built).
    A child that fails raises RuntimeError with its stderr.
    """
    mod = sys.modules[fn.__module__]
    path = os.path.abspath(mod.__file__ or "")
    name = os.path.splitext(os.path.basename(path))[0]
    code = (
        "import json, os, sys\n"
        f"sys.path.insert(0, {os.path.dirname(path)!r})\n"
        f"import {name} as m\n"
        f"r = m.{fn.__name__}(*json.loads(sys.argv[1]))\n"
        "sys.stdout.write('\\n' + json.dumps(r) + '\\n'); sys.stdout.flush()\n"
        "os._exit(0)\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT if timeout is None else timeout,
    )
    if p.returncode != 0:
        raise RuntimeError(f"{fn.__name__}{args!r} failed in a child (exit {p.returncode}):\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def progress(msg: str) -> None:
    """Show what is being measured (on a terminal only; erased by report)."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + msg)
        sys.stderr.flush()


# -- the table ---------------------------------------------------------


@dataclass
class Target:
    """A goal for a row: ``check(results)`` says whether it is met."""

    text: str  # short, shown in the table: ">=5x gevent"
    check: Callable[[dict[str, float]], bool]


@dataclass
class Row:
    """One workload: a value per implementation, in ``unit``."""

    name: str
    unit: str
    results: dict[str, float]
    lower_is_better: bool = False  # times and memory: True; rates: False
    targets: list[Target] = field(default_factory=list)
    fmt: str = "{:,.0f}"  # how values are printed
    words: tuple[str, str] = ("faster", "slower")  # memory: ("smaller", "larger")

    def ratio(self, other: str) -> str:
        """How offset compares with ``other``: "3.10x faster", "1.20x slower"."""
        a, b = self.results.get("offset"), self.results.get(other)
        if not a or not b:
            return "-"
        better = b / a if self.lower_is_better else a / b  # > 1: offset is better
        if better >= 1:
            return f"{better:.2f}x {self.words[0]}"
        return f"{1 / better:.2f}x {self.words[1]}"

    def verdict(self) -> str:
        out = []
        for t in self.targets:
            try:
                ok = t.check(self.results)
            except (KeyError, ZeroDivisionError, TypeError):
                out.append(f"{t.text}: n/a")
                continue
            out.append(f"{t.text}: {'met' if ok else 'MISSED'}")
        return "; ".join(out) or "-"


def header(title: str) -> None:
    """Print what the numbers were measured on."""
    import greenlet

    try:
        import gevent

        gv = gevent.__version__
    except ImportError:
        gv = "not installed"
    try:
        import offset

        ov = offset.__version__
        src = os.path.dirname(os.path.dirname(os.path.abspath(offset.__file__)))
        git = subprocess.run(
            ["git", "-C", src, "describe", "--always", "--dirty"], capture_output=True, text=True
        ).stdout.strip()
        if git:
            ov += f" (git {git})"
        ov += ", compiled core" if getattr(offset, "COMPILED", False) else ", pure-Python core"
    except (ImportError, OSError):
        ov = "?"
    print(f"== bench {title}")
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}) on "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(f"offset {ov}, greenlet {greenlet.__version__}, gevent {gv}")
    print(f"best of {REPEAT} run(s) after a warm-up; sizes x{SCALE:g}{' (--quick)' if QUICK else ''}")
    print()


def report(rows: list[Row]) -> None:
    """Print ``rows`` as one table: values, offset's ratios, targets."""
    progress("")
    cols = [c for c in COLUMNS if any(c in r.results for r in rows)]
    others = [c for c in cols if c != "offset"]
    head = ["workload", "unit"] + [COLUMNS[c] for c in cols]
    head += [f"vs {'floor' if c == 'greenlet' else c}" for c in others] + ["target"]
    body = []
    for r in rows:
        cells = [r.name, r.unit]
        cells += [r.fmt.format(r.results[c]) if c in r.results else "-" for c in cols]
        cells += [r.ratio(c) for c in others]
        cells.append(r.verdict())
        body.append(cells)
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    nleft = 2  # workload and unit are left-aligned, numbers right-aligned

    def line(cells: list[str]) -> str:
        parts = [
            c.ljust(w) if i < nleft or i == len(cells) - 1 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        ]
        return " | ".join(parts).rstrip()

    print(line(head))
    print("-+-".join("-" * w for w in widths))
    for cells in body:
        print(line(cells))
    print()
    sys.stdout.flush()
