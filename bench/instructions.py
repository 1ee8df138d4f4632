"""Instructions per item of bench_core's workloads, counted by callgrind.

What: runs a workload of ``bench/bench_core.py`` (``pingpong``, ``buffered``,
``fanin``, ``spawn``) under ``valgrind --tool=callgrind`` at two sizes, in
fresh interpreters, and prints the difference in instructions divided by
the difference in items: the cost of one item with the interpreter's
start-up, the imports and the warm-up taken out. For offset (both builds
when the compiled one is installed), the raw-greenlet floor and gevent.

Why: wall and process time on a shared machine move by 30% from run to
run; instruction counts do not move with the load (they vary by well
under 1% between runs), so a change of a few percent in the core shows
up. They are not time (cache misses and branch mispredictions are not in
them), so the timed tables of ``./bench/run`` stay the measure of record;
this is the profiler's view that issue 11 asks for where a target is
missed.

Usage::

    python bench/instructions.py [WORKLOAD ...] [--libs offset,offset-pure,greenlet,gevent] [--sizes N1,N2]

Needs valgrind on PATH. A run takes about a minute per workload and library.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = ("pingpong", "buffered", "fanin", "spawn")
LIBS = ("offset", "offset-pure", "greenlet", "gevent")

PROGRAM = """
import sys
sys.path.insert(0, {here!r})
import bench_core
bench_core.{fn}(int(sys.argv[1]))
"""


def count(lib: str, workload: str, n: int) -> int:
    """Instructions callgrind collects for one fresh run of ``workload`` at size ``n``."""
    env = dict(os.environ)
    if lib == "offset-pure":
        env["OFFSET_PURE_PYTHON"] = "1"
    fn = f"{lib.split('-')[0]}_{workload}"
    prog = PROGRAM.format(here=HERE, fn=fn)
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", prog, str(n)],
        capture_output=True,
        text=True,
        env=env,
    )
    m = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode or not m:
        raise RuntimeError(f"callgrind run of {fn}({n}) failed:\n{out.stderr[-2000:]}")
    return int(m.group(1))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workloads", nargs="*", metavar="WORKLOAD", help=f"of {', '.join(WORKLOADS)} (default: all)")
    p.add_argument("--libs", default=",".join(LIBS), help=f"comma-separated, of {', '.join(LIBS)}")
    p.add_argument("--sizes", default="2000,12000", help="the two sizes, items (default 2000,12000)")
    args = p.parse_args()
    workloads = args.workloads or list(WORKLOADS)
    if any(w not in WORKLOADS for w in workloads):
        p.error(f"WORKLOAD: choose from {', '.join(WORKLOADS)}")
    libs = [x for x in args.libs.split(",") if x]
    bad = [x for x in libs if x not in LIBS]
    if bad:
        p.error(f"--libs: unknown {', '.join(bad)}; choose from {', '.join(LIBS)}")
    try:
        n1, n2 = (int(x) for x in args.sizes.split(","))
    except ValueError:
        p.error("--sizes must be two integers, N1,N2")
    if not 0 < n1 < n2:
        p.error("--sizes: need 0 < N1 < N2")
    if shutil.which("valgrind") is None:
        print("bench/instructions.py: valgrind is not on PATH", file=sys.stderr)
        return 2
    print(f"instructions per item (callgrind, sizes {n1} and {n2}); Python {sys.version.split()[0]}")
    for w in workloads:
        per = {}
        for lib in libs:
            per[lib] = (count(lib, w, n2) - count(lib, w, n1)) / (n2 - n1)
        cells = [f"{lib} {v:,.0f}" for lib, v in per.items()]
        ratios = []
        if "offset" in per and "greenlet" in per:
            ratios.append(f"{per['offset'] / per['greenlet']:.2f}x floor")
        if "offset" in per and "gevent" in per:
            ratios.append(f"gevent/offset {per['gevent'] / per['offset']:.2f}")
        print(f"{w:9} " + " | ".join(cells) + ("  (" + ", ".join(ratios) + ")" if ratios else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
