"""The bench rows as one chart: offset (compiled and pure) beside its peers.

What: ``plot(benches, path)`` draws every row of saved bench results
(bench/_results.py loads them) as an SVG, with matplotlib (the ``bench``
extra), through its ``Figure`` API and SVG canvas: no pyplot state, no
display needed. ``./bench/run --plot FILE.svg [names]`` calls it.

The chart is normalized: each row is drawn as every column's figure
relative to one reference peer of that row, gevent where the row has it,
else threads (the unpatched call, in bench_files), else the floor; so the
reference sits on the line at 1x and a bar runs from it to each other
column: right is better (faster, or smaller for memory rows), left is
worse, on a log scale, so that 2x better and 2x worse lie the same distance
from the line. Each bar ends in the column's own figure in the row's unit,
and the row's label names the unit and the reference's figure, so nothing
in the tables is lost. One panel per bench, one group of bars per row.

Rejected designs:
- One panel per row, each in its own unit (ns, items/s, KiB, requests/s):
  some 35 panels with 35 scales that must be read one at a time, where the
  question every row asks is the same (how does offset stand against
  gevent and the floor) and issue 11's targets are stated as those ratios.
  The absolute figures are on the bars instead.
- Ratios on a linear axis: a row 15x better than gevent (spawn) squeezes
  every row within 2x of it into a sliver, and 0.5x looks half as far from
  1 as 2x.
- Ratios to the floor: most rows (the patch layer's, the kit's) have none.

Invariants:
- Every figure drawn is a saved one (``_results.better``); a row missing
  its reference's figure, or having nothing else, is left out and counted
  in the figure's footnote.
- The colours of the columns are fixed (``COLORS``), the same in every
  panel and in the legend.
"""

from __future__ import annotations

import os
import textwrap
from typing import Any

from _results import better, columns, describe, label, reference, value_text

# offset dark and light blue (compiled, pure), the floor grey, then the peers.
COLORS = {
    "offset": "#1f4e9c",
    "offset_pure": "#7fa6e0",
    "greenlet": "#9a9a9a",
    "gevent": "#e0832b",
    "asyncio": "#3a9a4a",
    "threads": "#8c5bb5",
}
BAR = 0.17  # inches per bar
ROW_GAP = 0.26  # inches between two rows' groups
PANEL_PAD = 0.75  # inches per panel for its title and axis
WIDTH = 11.0  # inches
FORMATS = ("svg", "png", "pdf")


def _rows(bench: dict[str, Any]) -> list[tuple[dict[str, Any], str, list[tuple[str, float]]]]:
    """The rows that can be drawn: (row, its reference, [(column, times better)])."""
    out = []
    for row in bench["rows"]:
        ref = reference(row["values"])
        if ref is None:
            continue
        bars = [(c, x) for c in columns(bench) if c != ref and (x := better(row, c, ref)) is not None]
        if bars:
            out.append((row, ref, bars))
    return out


def _times(x: float, _pos: object = None) -> str:
    return f"{x:g}x" if x >= 1 else f"1/{1 / x:g}x"


def plot(benches: list[dict[str, Any]], path: str) -> None:
    """Draw ``benches`` (loaded results) to ``path``; ValueError if nothing can be drawn.

    SVG (the README's), or PNG or PDF when ``path`` ends so.
    """
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"the chart's file must end in {', '.join('.' + f for f in FORMATS)}, not {path!r}")
    try:
        import matplotlib
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    except ImportError as e:
        raise ImportError(f"--plot needs matplotlib (pip install -e '.[bench]'): {e}") from None

    # Text stays text in the SVG (searchable, selectable, small), in the reader's sans-serif.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "offset-bench"}):
        _draw(Figure, Patch, FuncFormatter, LogLocator, NullFormatter, benches, path, fmt)


def _draw(
    Figure: Any,
    Patch: Any,
    FuncFormatter: Any,
    LogLocator: Any,
    NullFormatter: Any,
    benches: list[dict[str, Any]],
    path: str,
    fmt: str,
) -> None:
    panels = [(b, rows) for b in benches if (rows := _rows(b))]
    left_out = sum(len(b["rows"]) for b in benches) - sum(len(rows) for _, rows in panels)
    if not panels:
        raise ValueError("no row has a figure for offset and for a reference peer: nothing to draw")
    heights = [sum(len(bars) * BAR + ROW_GAP for _, _, bars in rows) + PANEL_PAD for _, rows in panels]
    fig = Figure(figsize=(WIDTH, sum(heights) + 1.3), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]

    # One x range for every panel, 1x included, room right of a bar's end for its figure.
    xs = [x for _, rows in panels for _, _, bars in rows for _, x in bars]
    lo, hi = min(min(xs), 1.0) / 2.2, max(max(xs), 1.0) * 3.0
    seen: dict[str, None] = {}
    for ax, (bench, rows) in zip(axes, panels):
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.axvline(1, color="black", linewidth=0.9, zorder=3)
        y = 0.0
        ticks, names = [], []
        for row, ref, bars in rows:
            top = y
            for col, x in bars:
                seen[col] = None
                yc = y + BAR / 2
                ax.barh(yc, x - 1, left=1, height=BAR * 0.9, color=COLORS[col], zorder=2)
                text = value_text(row, col)
                ax.text(
                    x * (1.04 if x >= 1 else 1 / 1.04),
                    yc,
                    text,
                    va="center",
                    ha="left" if x >= 1 else "right",
                    fontsize=6.5,
                    color="#333333",
                )
                y += BAR
            seen[ref] = None
            ticks.append((top + y) / 2)
            # The reference is the line itself: a mark of its colour on it.
            ax.plot([1], [ticks[-1]], marker="D", markersize=5, color=COLORS[ref], zorder=4, clip_on=False)
            name = row["name"].strip()
            names.append(f"{name}\n{row['unit']}; {label(bench, ref)} = {value_text(row, ref)}")
            y += ROW_GAP
        ax.set_ylim(y - ROW_GAP / 2, -ROW_GAP / 2)
        ax.set_yticks(ticks)
        ax.set_yticklabels(names, fontsize=7)
        ax.tick_params(axis="y", length=0)
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(_times))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6, zorder=0)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_title(f"{bench['bench']}", loc="left", fontsize=9, fontweight="bold")

    first = benches[0]
    legend = [Patch(color=COLORS[c], label=label(first, c)) for c in COLORS if c in seen]
    fig.legend(
        handles=legend,
        loc="outside upper center",
        ncol=len(legend),
        fontsize=8,
        frameon=False,
        title="each figure against its row's reference peer (the line at 1x, marked in the peer's colour: "
        "gevent, else threads, else the floor); log scale; right is better: faster, or smaller",
        title_fontsize=8.5,
    )
    foot = f"{first['command']}: {describe(first)}"
    if left_out:
        foot += f"; {left_out} row(s) without a reference figure left out"
    fig.supxlabel("\n".join(textwrap.wrap(foot, 190)), fontsize=6.5, color="#555555")
    fig.savefig(path, format=fmt, **({"metadata": {"Date": None}} if fmt == "svg" else {}))
