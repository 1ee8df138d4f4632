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
return something JSON-encodable. ``isolated_each`` does that for a column
-> function dict.

Both builds of offset's core in one run: offset's build is chosen when it
is first imported (``OFFSET_PURE_PYTHON``, offset/_build.py), so one
process cannot time both. When this process runs the compiled core, every
figure of the ``offset`` column is measured again, with the same size and
repeats, in a fresh interpreter started with ``OFFSET_PURE_PYTHON=1``: the
``offset_pure`` column, "offset (pure)". ``measure`` and ``isolated_each``
do it by themselves (a timed workload runs in the child through
``_timed``, so it must be a module-level function too); a bench that
starts offset's processes itself asks ``offset_builds()`` which to start.
The ratio columns and targets stay against the compiled ``offset``; one
more column gives the pure build against gevent (or threads, where a
table has no gevent). A process that runs the pure core (no compiler at
install, a stale editable build, or ``OFFSET_PURE_PYTHON=1`` set) has one
offset column, and the header and the JSON say it is pure.

Results as data: ``--json FILE`` makes ``report`` also write the run's
rows to FILE as JSON (``write_json``'s docstring gives the format), which
bench/_results.py turns into the README's tables and bench/_plot.py into a
chart.

Knobs (command line of any bench file, or the environment):
  --quick           one run, workloads at a tenth of their size
  --json FILE       also write the rows as JSON to FILE
  --no-pure         no "offset (pure)" column (the same: BENCH_PURE=0)
  BENCH_REPEAT=n    timed runs per measurement (default 3)
  BENCH_SCALE=x     multiply every workload's size by x (default 1)
  BENCH_TIMEOUT=s   a measurement running longer is taken as a hang: every
                    thread's stack is dumped and the process exits (default 300)
  BENCH_COMMAND     the command line the JSON records (bench/run sets it)
"""

from __future__ import annotations

import datetime
import faulthandler
import gc
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def _option(name: str) -> str | None:
    """The value after ``name`` on the command line (``--json FILE``), or None."""
    args = sys.argv[1:]
    for i, a in enumerate(args):
        if a == name:
            if i + 1 == len(args) or args[i + 1].startswith("-"):
                sys.exit(f"{sys.argv[0]}: {name} needs a value")
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


QUICK = "--quick" in sys.argv[1:]
REPEAT = max(1, int(os.environ.get("BENCH_REPEAT", "1" if QUICK else "3")))
SCALE = float(os.environ.get("BENCH_SCALE", "0.1" if QUICK else "1"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "300"))  # seconds per measurement
JSON_PATH = _option("--json")
NO_PURE = "--no-pure" in sys.argv[1:] or os.environ.get("BENCH_PURE", "1") == "0"

# Column order of the table; only columns some row has are printed.
# "greenlet" is the floor: the least any library on greenlet can cost.
# "offset_pure" is offset's pure-Python core, run in a child (see above).
COLUMNS = {
    "offset": "offset",
    "offset_pure": "offset (pure)",
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


_UNITS = ("rate", "ns", "ms")


def _value(seconds: float, n: int, unit: str) -> float:
    """A best time of ``n`` operations in ``unit``: "rate" (ops/s), "ns" (per op), "ms" (the whole)."""
    if unit == "rate":
        return rate(seconds, n)
    if unit == "ns":
        return per_op(seconds, n) * 1e9
    return seconds * 1e3


def measure(fns: dict[str, Callable[[int], Any]], n: int, unit: str = "rate", label: str = "") -> dict[str, float]:
    """Time each workload of ``fns`` (column -> fn) at size ``n`` with ``timeit``.

    ``unit="rate"``: operations per second; ``unit="ns"``: nanoseconds per
    operation; ``unit="ms"``: milliseconds for the whole workload. The
    result is a Row's ``results``. When ``pure_column()``, the ``offset``
    workload is timed again on the pure core, in a fresh interpreter
    (``_timed``), as ``offset_pure``.
    """
    if unit not in _UNITS:
        raise ValueError(f"measure: unit must be one of {', '.join(map(repr, _UNITS))}, not {unit!r}")
    out = {}
    for col, fn in fns.items():
        progress(f"{label or fn.__name__}: {col} ...")
        out[col] = _value(timeit(fn, n), n, unit)
        if col == "offset" and pure_column():
            progress(f"{label or fn.__name__}: offset (pure, a fresh interpreter) ...")
            where = os.path.dirname(os.path.abspath(sys.modules[fn.__module__].__file__ or ""))
            out["offset_pure"] = isolated(_timed, where, _module_name(fn), fn.__name__, n, unit, pure=True)
    return out


def _timed(where: str, module: str, name: str, n: int, unit: str) -> float:
    """``measure``'s figure for ``module.name`` (a bench file's workload, in directory ``where``), in a child."""
    if where not in sys.path:
        sys.path.insert(0, where)
    fn = getattr(importlib.import_module(module), name)
    return _value(timeit(fn, n), n, unit)


# -- builds of offset ------------------------------------------------------


def _offset_compiled() -> bool:
    """Whether this process runs offset's compiled core (imports offset)."""
    try:
        import offset
    except ImportError:
        return False
    return bool(getattr(offset, "COMPILED", False))


def pure_column() -> bool:
    """Whether offset's figures are also measured on its pure core ("offset_pure").

    True when this process runs the compiled core (so the ``offset`` column
    is the compiled build) and neither ``--no-pure`` nor ``BENCH_PURE=0``
    was given.
    """
    return not NO_PURE and _offset_compiled()


def offset_builds() -> list[tuple[str, bool]]:
    """(column, pure) for each build of offset this run measures.

    ``[("offset", False)]``, and ``("offset_pure", True)`` when
    ``pure_column()``. For a bench that starts offset's processes itself:
    with ``pure`` it sets ``PURE_ENV`` in the child's environment.
    """
    return [("offset", False)] + ([("offset_pure", True)] if pure_column() else [])


PURE_ENV = {"OFFSET_PURE_PYTHON": "1"}


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


def _module_name(fn: Callable[..., Any]) -> str:
    """The importable name of the bench module that defines ``fn`` at its top level."""
    mod = sys.modules.get(fn.__module__)
    path = getattr(mod, "__file__", None) or ""
    name = os.path.splitext(os.path.basename(path))[0]
    if not path or fn.__qualname__ != fn.__name__ or getattr(mod, fn.__name__, None) is not fn:
        raise TypeError(
            f"fn must be a module-level function of a bench file (a child imports it by name), not {fn.__qualname__!r}"
        )
    return name


def isolated(fn: Callable[..., Any], *args: Any, timeout: float | None = None, pure: bool = False) -> Any:
    """Call module-level ``fn(*args)`` in a fresh interpreter; return its result.

    The child imports the bench file as a module (so its ``if __name__ ==
    "__main__"`` block does not run), calls ``fn``, prints the result as
    JSON and leaves with ``os._exit`` (no teardown of what it built). It
    gets this run's BENCH_REPEAT and BENCH_SCALE (``--quick`` included).
    ``pure=True`` starts it with ``OFFSET_PURE_PYTHON=1`` and checks that
    offset's pure core is the one that runs.
    A child that fails raises RuntimeError with its stderr.
    """
    name = _module_name(fn)
    path = os.path.abspath(sys.modules[fn.__module__].__file__ or "")
    check = "import offset\nassert not offset.COMPILED, 'OFFSET_PURE_PYTHON=1 but the compiled core runs'\n"
    code = (
        "import json, os, sys\n"
        f"sys.path.insert(0, {os.path.dirname(path)!r})\n" + (check if pure else "") + f"import {name} as m\n"
        f"r = m.{fn.__name__}(*json.loads(sys.argv[1]))\n"
        "sys.stdout.write('\\n' + json.dumps(r) + '\\n'); sys.stdout.flush()\n"
        "os._exit(0)\n"
    )
    env = dict(os.environ, BENCH_REPEAT=str(REPEAT), BENCH_SCALE=repr(SCALE), **(PURE_ENV if pure else {}))
    p = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT if timeout is None else timeout,
    )
    if p.returncode != 0:
        build = " (pure)" if pure else ""
        raise RuntimeError(f"{fn.__name__}{args!r}{build} failed in a child (exit {p.returncode}):\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def isolated_each(fns: dict[str, Callable[..., Any]], *args: Any, label: str = "") -> dict[str, Any]:
    """``isolated(fn, *args)`` for each column -> fn of ``fns``: a Row's ``results``.

    When ``pure_column()``, the ``offset`` function also runs on the pure
    core, as ``offset_pure``.
    """
    out = {}
    for col, fn in fns.items():
        progress(f"{label or fn.__name__}: {col} ...")
        out[col] = isolated(fn, *args)
        if col == "offset" and pure_column():
            progress(f"{label or fn.__name__}: offset (pure) ...")
            out["offset_pure"] = isolated(fn, *args, pure=True)
    return out


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

    def met(self, results: dict[str, float], of: str = "offset") -> bool | None:
        """Whether column ``of`` meets it (its figure taken as offset's); None: not computable."""
        if of not in results:
            return None
        try:
            return bool(self.check({**results, "offset": results[of]}))
        except (KeyError, ZeroDivisionError, TypeError):
            return None


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

    def ratio(self, other: str, of: str = "offset") -> str:
        """How column ``of`` compares with ``other``: "3.10x faster", "1.20x slower"."""
        a, b = self.results.get(of), self.results.get(other)
        if not a or not b:
            return "-"
        better = b / a if self.lower_is_better else a / b  # > 1: offset is better
        if better >= 1:
            return f"{better:.2f}x {self.words[0]}"
        return f"{1 / better:.2f}x {self.words[1]}"

    def verdict(self) -> str:
        out = []
        for t in self.targets:
            ok = t.met(self.results)
            out.append(f"{t.text}: {'n/a' if ok is None else 'met' if ok else 'MISSED'}")
        return "; ".join(out) or "-"

    def as_json(self) -> dict[str, Any]:
        """The row as data: ``write_json``'s docstring gives the keys."""

        def word(ok: bool | None) -> str:
            return "n/a" if ok is None else "met" if ok else "missed"

        return {
            "name": self.name,
            "unit": self.unit,
            "lower_is_better": self.lower_is_better,
            "kind": "memory" if self.words == ("smaller", "larger") else "speed",
            "fmt": self.fmt,
            "values": {c: self.results[c] for c in COLUMNS if c in self.results},
            "targets": [
                {"text": t.text, **{of: word(t.met(self.results, of)) for of in ("offset", "offset_pure")}}
                for t in self.targets
            ],
        }


# What header() found, for the JSON: filled in by header(), read by report().
_RUN: dict[str, Any] = {}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _describe(title: str) -> dict[str, Any]:
    """What the numbers are measured on: Python, machine, versions, build, settings."""
    import greenlet

    try:
        import gevent

        gv: str | None = gevent.__version__
    except ImportError:
        gv = None
    run: dict[str, Any] = {
        "bench": title,
        "command": os.environ.get("BENCH_COMMAND") or " ".join(["python"] + sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "offset": None,
        "git": None,
        "build": None,
        "greenlet": greenlet.__version__,
        "gevent": gv,
        "repeat": REPEAT,
        "scale": SCALE,
        "quick": QUICK,
    }
    try:
        import offset
    except ImportError:
        return run
    run["offset"] = offset.__version__
    src = os.path.dirname(os.path.dirname(os.path.abspath(offset.__file__)))
    try:
        git = subprocess.run(["git", "-C", src, "describe", "--always", "--dirty"], capture_output=True, text=True)
        run["git"] = git.stdout.strip() or None
    except OSError:
        pass
    run["build"] = "compiled" if getattr(offset, "COMPILED", False) else "pure"
    return run


def header(title: str) -> None:
    """Print what the numbers were measured on (and keep it for the JSON)."""
    _RUN.clear()
    _RUN.update(_describe(title))
    r = _RUN
    ov = "?"
    if r["offset"]:
        ov = r["offset"] + (f" (git {r['git']})" if r["git"] else "")
        ov += ", compiled core" if r["build"] == "compiled" else ", pure-Python core"
    print(f"== bench {title}")
    print(f"Python {r['python']} ({r['implementation']}) on {r['platform']}, {r['cpus']} CPUs")
    print(f"offset {ov}, greenlet {r['greenlet']}, gevent {r['gevent'] or 'not installed'}")
    print(f"best of {REPEAT} run(s) after a warm-up; sizes x{SCALE:g}{' (--quick)' if QUICK else ''}")
    if pure_column():
        print("offset (pure): the same workloads on the pure-Python core, each in a fresh interpreter")
    print()


def _reference(cols: list[str]) -> str | None:
    """The peer the pure build is compared with: gevent, else threads, else the floor."""
    return next((c for c in ("gevent", "threads", "greenlet") if c in cols), None)


def report(rows: list[Row]) -> None:
    """Print ``rows`` as one table: values, offset's ratios, targets (and --json)."""
    progress("")
    cols = [c for c in COLUMNS if any(c in r.results for r in rows)]
    others = [c for c in cols if c not in ("offset", "offset_pure")]
    ref = _reference(cols) if "offset_pure" in cols else None
    head = ["workload", "unit"] + [COLUMNS[c] for c in cols]
    head += [f"vs {'floor' if c == 'greenlet' else c}" for c in others]
    head += [f"pure vs {'floor' if ref == 'greenlet' else ref}"] if ref else []
    head += ["target"]
    body = []
    for r in rows:
        cells = [r.name, r.unit]
        cells += [r.fmt.format(r.results[c]) if c in r.results else "-" for c in cols]
        cells += [r.ratio(c) for c in others]
        cells += [r.ratio(ref, of="offset_pure")] if ref else []
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
    if JSON_PATH:
        write_json(JSON_PATH, rows)


FORMAT = "offset-bench/1"


def write_json(path: str, rows: list[Row]) -> None:
    """Write ``rows`` and what ``header`` found to ``path`` as JSON.

    The file is ``{"format": "offset-bench/1", "benches": [bench]}``, where
    ``bench`` holds: ``bench`` (the title), ``command``, ``date`` (UTC),
    ``python``, ``implementation``, ``platform``, ``cpus``, ``cpu_model``,
    ``offset`` (version), ``git`` (``git describe --always --dirty`` of
    offset's checkout), ``build`` ("compiled" or "pure": what the
    ``offset`` column ran), ``greenlet``, ``gevent``, ``repeat``,
    ``scale``, ``quick``, ``columns`` (key -> heading, in table order) and
    ``rows``. A row holds ``name``, ``unit``, ``lower_is_better``, ``kind``
    ("speed" or "memory"), ``fmt`` (its ``str.format`` for a value),
    ``values`` (column key -> figure, only the columns it has) and
    ``targets``: ``{"text", "offset", "offset_pure"}``, each build's
    "met", "missed" or "n/a". bench/_results.py merges such files (all of
    one ``bench/run``) and reads them back.
    """
    bench = dict(_RUN or _describe("?"))
    cols = [c for c in COLUMNS if any(c in r.results for r in rows)]
    bench["columns"] = {c: COLUMNS[c] for c in cols}
    bench["rows"] = [r.as_json() for r in rows]
    with open(path, "w") as f:
        json.dump({"format": FORMAT, "benches": [bench]}, f, indent=1)
        f.write("\n")
