"""Saved bench results: merge them, print them as the README's tables, draw them.

What: a bench file given ``--json FILE`` writes its rows as JSON
(``_harness.write_json`` gives the format: ``{"format": "offset-bench/1",
"benches": [...]}``, one bench per file). This module reads such files,
merges them into one (what ``./bench/run --json FILE`` keeps: every bench of
one run), writes the README's performance tables as Markdown, and hands the
rows to ``_plot.py`` for the chart. ``bench/run`` calls it; it also runs on
its own, on saved files, without running any bench::

    python bench/_results.py [--json OUT.json] [--markdown FILE|-] [--plot OUT.svg]
                             [--only NAME ...] IN.json ...

``--markdown FILE`` puts the tables between the two marker lines ``BEGIN``
and ``END`` in FILE (the README's performance section has them), leaving the
rest of FILE alone; a FILE without them is refused, a missing FILE is
written whole, ``-`` prints to stdout. So refreshing the README is one
command: ``./bench/run --json docs/bench.json --plot docs/bench.svg
--markdown README.md``.

Invariants:
- The tables and the chart show only what a run measured: every figure,
  ratio and verdict comes from the saved rows, none is computed anew from
  a target's text. A verdict is the harness's, made in the run.
- Columns keep the harness's order (``_harness.COLUMNS``); ``offset`` is the
  build the bench process ran (``build`` says which), ``offset_pure`` the
  pure core beside it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import COLUMNS, FORMAT  # noqa: E402

BEGIN = "<!-- bench tables: begin (written by ./bench/run --markdown README.md; edit bench/_results.py instead) -->"
END = "<!-- bench tables: end -->"


def load(paths: list[str]) -> list[dict[str, Any]]:
    """The benches of every file of ``paths``, in order; ValueError for a file of another format."""
    benches: list[dict[str, Any]] = []
    for path in paths:
        with open(path) as f:
            doc = json.load(f)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("benches"), list):
            raise ValueError(f"{path}: not a bench results file (format {FORMAT!r})")
        benches.extend(doc["benches"])
    return benches


def only(benches: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """The benches titled one of ``names`` (all of them if ``names`` is empty), in ``names``' order."""
    if not names:
        return benches
    missing = [n for n in names if not any(b["bench"] == n for b in benches)]
    if missing:
        have = ", ".join(b["bench"] for b in benches) or "none"
        raise ValueError(f"no bench {', '.join(missing)} in the results (they hold: {have})")
    return [b for n in names for b in benches if b["bench"] == n]


def _parent(path: str) -> None:
    """Make the directory an output file goes in (``docs/`` for ``docs/bench.svg``)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


def dump(benches: list[dict[str, Any]], path: str) -> None:
    """Write ``benches`` as one results file."""
    _parent(path)
    with open(path, "w") as f:
        json.dump({"format": FORMAT, "benches": benches}, f, indent=1)
        f.write("\n")


# -- labels and figures --------------------------------------------------------


def columns(bench: dict[str, Any]) -> list[str]:
    """The columns some row of ``bench`` has, in table order."""
    return [c for c in COLUMNS if any(c in r["values"] for r in bench["rows"])]


def label(bench: dict[str, Any], col: str) -> str:
    """A column's heading: offset's says which build it is."""
    if col == "offset":
        return "offset, pure" if bench.get("build") == "pure" else "offset, compiled"
    return {"offset_pure": "offset, pure", "greenlet": "floor"}.get(col, col)


def reference(cols: list[str] | dict[str, Any]) -> str | None:
    """The peer offset is compared with: gevent, else threads (unpatched), else the floor."""
    return next((c for c in ("gevent", "threads", "greenlet") if c in cols), None)


def better(row: dict[str, Any], col: str, ref: str) -> float | None:
    """How many times better ``col`` is than ``ref`` on ``row`` (> 1: better; faster or smaller)."""
    a, b = row["values"].get(col), row["values"].get(ref)
    if not a or not b:
        return None
    return float(b / a if row["lower_is_better"] else a / b)


def ratio_text(row: dict[str, Any], col: str, ref: str) -> str:
    """``better`` as the harness prints it: "3.10x faster", "1.20x larger"."""
    x = better(row, col, ref)
    if x is None:
        return ""
    words = ("smaller", "larger") if row.get("kind") == "memory" else ("faster", "slower")
    return f"{x:.2f}x {words[0]}" if x >= 1 else f"{1 / x:.2f}x {words[1]}"


def value_text(row: dict[str, Any], col: str) -> str:
    v = row["values"].get(col)
    return "" if v is None else str(row.get("fmt", "{:,.0f}")).format(v)


def describe(bench: dict[str, Any]) -> str:
    """One line on what a bench ran on."""
    off = f"offset {bench.get('offset') or '?'}" + (f" (git {bench['git']})" if bench.get("git") else "")
    builds = "compiled and pure cores" if bench.get("build") == "compiled" and has_pure(bench) else bench.get("build")
    return (
        f"{bench.get('implementation', 'CPython')} {bench['python']} on {bench['platform']}, "
        f"{bench['cpus']} CPUs ({bench.get('cpu_model', '?')}); {off}, {builds or '?'}; "
        f"greenlet {bench['greenlet']}, gevent {bench.get('gevent') or 'not installed'}; "
        f"best of {bench['repeat']} run(s), sizes x{bench['scale']:g}; {bench['date']}"
    )


def has_pure(bench: dict[str, Any]) -> bool:
    return any("offset_pure" in r["values"] for r in bench["rows"])


# -- Markdown ------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _name(row: dict[str, Any]) -> str:
    # A name indented in the text table ("  the same, ...") is a line under the one above.
    name = row["name"]
    return "&emsp;" + name.strip() if name.startswith(" ") else name


def _verdicts(row: dict[str, Any], pure: bool) -> str:
    out = []
    for t in row["targets"]:
        v = f"{t['text']}: **{t['offset']}**"
        if pure and t.get("offset_pure") not in (None, "n/a"):
            v += f" (pure: {t['offset_pure']})"
        out.append(v)
    return "; ".join(out)


def markdown_table(bench: dict[str, Any]) -> str:
    """One bench as a Markdown table: every column's figure, offset's and the pure core's ratio
    to the reference peer (gevent, else threads), and the targets."""
    cols = columns(bench)
    ref = reference(cols)
    pure = "offset_pure" in cols
    refname = label(bench, ref) if ref else ""
    head = ["workload", "unit"] + [label(bench, c) for c in cols]
    if ref:
        build = label(bench, "offset").split(", ")[-1]  # compiled (or pure, when that is all there is)
        head += [f"{build} vs {refname}"] + ([f"pure vs {refname}"] if pure else [])
    targets = any(r["targets"] for r in bench["rows"])
    head += ["target"] if targets else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2 - targets) + "---|" * targets]
    for r in bench["rows"]:
        cells = [_name(r), r["unit"]] + [value_text(r, c) for c in cols]
        if ref:
            cells += [ratio_text(r, "offset", ref)] + ([ratio_text(r, "offset_pure", ref)] if pure else [])
        cells += [_verdicts(r, pure)] if targets else []
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def markdown(benches: list[dict[str, Any]]) -> str:
    """The README's tables: a heading, the command and the machine, then one table per bench."""
    if not benches:
        raise ValueError("no benches to write")
    first = benches[0]
    out = [
        f"Measured with `{first['command']}`: {describe(first)}.",
        "",
    ]
    for b in benches:
        line = f"**{b['bench']}** (`bench/bench_{b['bench']}.py`)"
        if b["command"] != first["command"]:
            line += f" (`{b['command']}`)"
        if (b["python"], b.get("git"), b.get("build")) != (first["python"], first.get("git"), first.get("build")):
            line += f": {describe(b)}"
        out += [line, "", markdown_table(b), ""]
    return "\n".join(out).rstrip() + "\n"


def write_markdown(text: str, path: str) -> None:
    """``text`` into ``path`` between BEGIN and END (see the module docstring); ``-``: stdout."""
    if path == "-":
        sys.stdout.write(text)
        return
    if not os.path.exists(path):
        _parent(path)
        with open(path, "w") as f:
            f.write(text)
        return
    with open(path) as f:
        old = f.read()
    i, j = old.find(BEGIN), old.find(END)
    if i < 0 or j < i:
        raise ValueError(
            f"{path} exists but has no {BEGIN!r} ... {END!r} lines to put the tables between "
            "(give a new file, or - for stdout)"
        )
    with open(path, "w") as f:
        f.write(old[: i + len(BEGIN)] + "\n\n" + text + "\n" + old[j:])


# -- the command line ----------------------------------------------------------


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(
        prog="bench/_results.py", description="Merge saved bench results; write the README's tables and the chart."
    )
    p.add_argument("inputs", nargs="+", metavar="IN.json", help="results files (bench files' or bench/run's --json)")
    p.add_argument("--json", metavar="OUT.json", help="write the benches of every input as one file")
    p.add_argument("--markdown", metavar="FILE", help="the tables, into FILE between the markers, or - for stdout")
    p.add_argument("--plot", metavar="OUT.svg", help="draw the rows as a chart (matplotlib, bench/_plot.py)")
    p.add_argument("--only", nargs="*", default=[], metavar="NAME", help="these benches only (core, kit, ...)")
    a = p.parse_args(argv)
    try:
        benches = only(load(a.inputs), a.only)
        if not benches:
            raise ValueError("the inputs hold no bench")
        if a.json:
            dump(benches, a.json)
        if a.markdown:
            write_markdown(markdown(benches), a.markdown)
        if a.plot:
            from _plot import plot

            _parent(a.plot)
            plot(benches, a.plot)
    except (OSError, ValueError, ImportError) as e:
        print(f"bench/_results.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
