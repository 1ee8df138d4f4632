"""bench/'s results as data: the JSON a bench writes, the tables and the chart made from it.

No figure is checked (they are timings): only that a tiny bench, run as
``./bench/run`` runs one, writes every key ``_harness.write_json``
documents, with the pure core's column exactly when the compiled core ran
the bench; and that bench/_results.py turns saved results into the
README's tables (between the markers only) and into a valid SVG chart.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"

# A bench file of the smallest workloads, written into tmp_path: the harness
# imports its workloads by name in the children (pure column, isolated_each).
TINY = f"""
import sys
sys.path.insert(0, {str(BENCH)!r})
from _harness import Row, Target, header, isolated_each, measure, report
from greenlet import greenlet
import offset


def offset_switch(n):
    c = offset.makechan(1)

    def main():
        for i in range(n):
            c.send(i)
            c.recv()

    offset.run(main)


def greenlet_switch(n):
    for _ in range(n):
        greenlet(lambda: None).switch()


def offset_size(n):
    return float(n)


def greenlet_size(n):
    return 2.0 * n


def main():
    header("tiny")
    rows = [
        Row("switch (50)", "ns/op", measure({{"offset": offset_switch, "greenlet": greenlet_switch}}, 50, unit="ns"),
            lower_is_better=True, targets=[Target("<=1e6x floor", lambda r: r["offset"] <= 1e6 * r["greenlet"])]),
        Row("size (3)", "B", isolated_each({{"offset": offset_size, "greenlet": greenlet_size}}, 3),
            lower_is_better=True, fmt="{{:.1f}}", words=("smaller", "larger"),
            targets=[Target("needs gevent", lambda r: r["offset"] < r["gevent"])]),
    ]
    report(rows)


if __name__ == "__main__":
    main()
"""

BENCH_KEYS = {
    "bench",
    "command",
    "date",
    "python",
    "implementation",
    "platform",
    "cpus",
    "cpu_model",
    "offset",
    "git",
    "build",
    "greenlet",
    "gevent",
    "repeat",
    "scale",
    "quick",
    "columns",
    "rows",
}
ROW_KEYS = {"name", "unit", "lower_is_better", "kind", "fmt", "values", "targets"}


def _run(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(
        [sys.executable, *argv], cwd=cwd, capture_output=True, text=True, timeout=100, env={**os.environ, **env}
    )
    assert p.returncode == 0, p.stderr
    return p


def test_a_bench_writes_its_rows_as_json(tmp_path: Path) -> None:
    (tmp_path / "bench_tiny.py").write_text(TINY)
    out = tmp_path / "tiny.json"
    p = _run(["bench_tiny.py", "--quick", "--json", str(out)], tmp_path, BENCH_COMMAND="./bench/run tiny")
    assert "switch (50)" in p.stdout  # the table is printed as before
    doc = json.loads(out.read_text())
    assert doc["format"] == "offset-bench/1"
    [bench] = doc["benches"]
    assert set(bench) == BENCH_KEYS
    assert bench["bench"] == "tiny"
    assert bench["command"] == "./bench/run tiny"
    assert bench["python"] == platform.python_version()
    assert bench["build"] in ("compiled", "pure")
    assert (bench["repeat"], bench["scale"], bench["quick"]) == (1, 0.1, True)
    compiled = bench["build"] == "compiled"
    # Both builds in one run: the pure core's column exactly when the bench ran compiled.
    want = ["offset", "offset_pure", "greenlet"] if compiled else ["offset", "greenlet"]
    assert list(bench["columns"]) == want
    switch, size = bench["rows"]
    for row in (switch, size):
        assert set(row) == ROW_KEYS
        assert list(row["values"]) == want
        assert all(isinstance(v, float) and v > 0 for v in row["values"].values())
    assert (switch["kind"], switch["lower_is_better"], switch["unit"]) == ("speed", True, "ns/op")
    assert size["kind"] == "memory"
    assert size["values"]["offset"] == 3.0 and size["values"]["greenlet"] == 6.0
    if compiled:
        assert size["values"]["offset_pure"] == 3.0
    pure_verdict = "met" if compiled else "n/a"
    assert switch["targets"] == [{"text": "<=1e6x floor", "offset": "met", "offset_pure": pure_verdict}]
    assert size["targets"] == [{"text": "needs gevent", "offset": "n/a", "offset_pure": "n/a"}]


def test_no_pure_leaves_the_pure_column_out(tmp_path: Path) -> None:
    (tmp_path / "bench_tiny.py").write_text(TINY)
    out = tmp_path / "tiny.json"
    _run(["bench_tiny.py", "--quick", "--no-pure", "--json", str(out)], tmp_path)
    [bench] = json.loads(out.read_text())["benches"]
    assert list(bench["columns"]) == ["offset", "greenlet"]


def _saved(tmp_path: Path) -> Path:
    """A results file of two benches, as ``bench/run --json`` writes it."""

    def bench(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "bench": name,
            "command": "./bench/run --json x.json core files",
            "date": "2026-12-02 13:00 UTC",
            "python": "3.11.7",
            "implementation": "CPython",
            "platform": "Linux x86_64",
            "cpus": 2,
            "cpu_model": "Test CPU",
            "offset": "0.1.0",
            "git": "abc1234",
            "build": "compiled",
            "greenlet": "3.5.6",
            "gevent": "26.9.0",
            "repeat": 3,
            "scale": 1.0,
            "quick": False,
            "columns": {},
            "rows": rows,
        }

    pingpong = {
        "name": "ping-pong (200,000)",
        "unit": "ns/round trip",
        "lower_is_better": True,
        "kind": "speed",
        "fmt": "{:,.0f}",
        "values": {"offset": 2500.0, "offset_pure": 3300.0, "greenlet": 570.0, "gevent": 8500.0, "asyncio": 20000.0},
        "targets": [{"text": ">=4x gevent", "offset": "missed", "offset_pure": "missed"}],
    }
    memory = {
        "name": "parked goroutine (100,000)",
        "unit": "KiB/goroutine",
        "lower_is_better": True,
        "kind": "memory",
        "fmt": "{:.2f}",
        "values": {"offset": 6.64, "offset_pure": 6.26, "greenlet": 5.85, "gevent": 7.54},
        "targets": [{"text": "<7 KiB", "offset": "met", "offset_pure": "met"}],
    }
    read = {
        "name": "  os.read | cached",
        "unit": "ns/call",
        "lower_is_better": True,
        "kind": "speed",
        "fmt": "{:,.0f}",
        "values": {"offset": 2158.0, "offset_pure": 2300.0, "threads": 994.0},
        "targets": [],
    }
    path = tmp_path / "saved.json"
    doc = {"format": "offset-bench/1", "benches": [bench("core", [pingpong, memory]), bench("files", [read])]}
    path.write_text(json.dumps(doc))
    return path


def test_markdown_tables_go_between_the_markers(tmp_path: Path) -> None:
    saved = _saved(tmp_path)
    readme = tmp_path / "README.md"
    sys.path.insert(0, str(BENCH))
    try:
        from _results import BEGIN, END
    finally:
        sys.path.remove(str(BENCH))
    readme.write_text(f"# title\n\nbefore\n\n{BEGIN}\nold tables\n{END}\n\nafter\n")
    _run([str(BENCH / "_results.py"), str(saved), "--markdown", str(readme)], tmp_path)
    text = readme.read_text()
    assert text.startswith(f"# title\n\nbefore\n\n{BEGIN}\n") and text.endswith(f"{END}\n\nafter\n")
    assert "old tables" not in text
    assert "`./bench/run --json x.json core files`" in text and "git abc1234" in text and "CPython 3.11.7" in text
    lines = text.splitlines()
    head = next(line for line in lines if line.startswith("| workload") and "floor" in line)
    assert head == (
        "| workload | unit | offset, compiled | offset, pure | floor | gevent | asyncio "
        "| compiled vs gevent | pure vs gevent | target |"
    )
    assert (
        "| ping-pong (200,000) | ns/round trip | 2,500 | 3,300 | 570 | 8,500 | 20,000 | 3.40x faster | 2.58x faster "
        "| >=4x gevent: **missed** (pure: missed) |" in lines
    )
    assert any(line.startswith("| parked goroutine (100,000) | KiB/goroutine | 6.64 | 6.26 |") for line in lines)
    # files has no gevent: threads (the unpatched call) is its reference; a | in a name is escaped.
    assert "| &emsp;os.read \\| cached | ns/call | 2,158 | 2,300 | 994 | 2.17x slower | 2.31x slower |" in lines

    # Only the named benches; a file without the markers is refused, not overwritten.
    only = tmp_path / "only.md"
    _run([str(BENCH / "_results.py"), str(saved), "--markdown", str(only), "--only", "files"], tmp_path)
    assert "ping-pong" not in only.read_text() and "os.read" in only.read_text()
    plain = tmp_path / "plain.md"
    plain.write_text("mine\n")
    p = subprocess.run(
        [sys.executable, str(BENCH / "_results.py"), str(saved), "--markdown", str(plain)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 1 and "no '<!-- bench tables: begin" in p.stderr
    assert plain.read_text() == "mine\n"


def test_plot_draws_an_svg_from_saved_results(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    saved = _saved(tmp_path)
    svg = tmp_path / "bench.svg"
    _run([str(BENCH / "_results.py"), str(saved), "--plot", str(svg)], tmp_path)
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = " ".join(t for t in root.itertext())
    # Text is kept as text (svg.fonttype none): the rows, the legend and each bar's own figure.
    for want in ("ping-pong (200,000)", "parked goroutine (100,000)", "os.read | cached", "offset, pure", "3,300"):
        assert want in text, want


def test_bad_input_is_named(tmp_path: Path) -> None:
    saved = _saved(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": []}')
    for argv, msg in (
        ([str(bad), "--markdown", "-"], "not a bench results file"),
        ([str(saved), "--markdown", "-", "--only", "kit"], "no bench kit in the results (they hold: core, files)"),
        ([str(saved), "--plot", str(tmp_path / "x.jpeg")], "must end in .svg, .png, .pdf"),
    ):
        p = subprocess.run(
            [sys.executable, str(BENCH / "_results.py"), *argv], capture_output=True, text=True, timeout=60
        )
        assert p.returncode == 1 and msg in p.stderr, (argv, p.stderr)
