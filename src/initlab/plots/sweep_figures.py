"""Figures of a sweep, drawn from its table's rows (dicts of typed cells): a metric against one
grid column (a line per value of another, the mean over seeds with a min-max band), or a
heatmap over two grid columns (mean over seeds), optionally with curves drawn over it (the
schoenholz2017 study's 6 xi_c line)."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from initlab.plots._mpl import pyplot, save


def _numeric(values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _order(values) -> list:
    uniq = list(dict.fromkeys(values))
    return sorted(uniq) if _numeric(uniq) else uniq


def _num(v) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def grouped(rows: Sequence[dict], keys: Sequence[str], metric: str) -> dict[tuple, list[float]]:
    """``(values of keys) -> [metric per row]`` (non-numbers as NaN)."""
    out: dict[tuple, list[float]] = defaultdict(list)
    for r in rows:
        out[tuple(r[k] for k in keys)].append(_num(r.get(metric)))
    return out


def _mean(vals: list[float]) -> float:
    ok = [v for v in vals if math.isfinite(v)]
    return sum(ok) / len(ok) if ok else math.nan


def lines(rows, x: str, metric: str, path: Path, title: str, hue: str | None = None, logx: bool = False) -> Path:
    """``metric`` against ``x``: the mean over seeds, a min-max band where there are several."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    hues = _order([r[hue] for r in rows]) if hue else [None]
    xs_all = _order([r[x] for r in rows])
    numeric = _numeric(xs_all)
    pos = {v: (v if numeric else i) for i, v in enumerate(xs_all)}
    for h in hues:
        sub = [r for r in rows if hue is None or r[hue] == h]
        g = grouped(sub, [x], metric)
        xs = [v for v in xs_all if (v,) in g]
        means = [_mean(g[(v,)]) for v in xs]
        lo = [min((u for u in g[(v,)] if math.isfinite(u)), default=math.nan) for v in xs]
        hi = [max((u for u in g[(v,)] if math.isfinite(u)), default=math.nan) for v in xs]
        px = [pos[v] for v in xs]
        line, = ax.plot(px, means, marker="o", ms=3, label=None if h is None else f"{hue}={h}")
        if any(len(g[(v,)]) > 1 for v in xs):
            ax.fill_between(px, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    if not numeric:
        ax.set_xticks(range(len(xs_all)), [str(v) for v in xs_all], rotation=30, ha="right")
    if logx and numeric:
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.set_title(title)
    if hue:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save(fig, path)
    return Path(path)


def _index(v, grid):
    """Positions of values ``v`` on an axis whose cells sit at 0, 1, ... for the sorted ``grid``,
    linear between cells and extended beyond the ends by the end steps."""
    import numpy as np

    idx = np.interp(v, grid, np.arange(len(grid)))
    if len(grid) > 1:
        lo, hi = v < grid[0], v > grid[-1]
        idx[lo] = (v[lo] - grid[0]) / (grid[1] - grid[0])
        idx[hi] = len(grid) - 1 + (v[hi] - grid[-1]) / (grid[-1] - grid[-2])
    return idx


def heatmap(rows, x: str, y: str, metric: str, path: Path, title: str,
            curves: Sequence[tuple[Sequence[float], Sequence[float], str]] = (), vmin=None, vmax=None,
            cmap: str = "viridis", logy: bool = False) -> Path:
    """``metric`` (mean over seeds) over ``x`` (columns) and ``y`` (rows, bottom to top);
    ``curves``: ``(x values, y values, label)`` drawn over it in data coordinates (cells are
    centred on their values; numeric axes are spaced by index, the curve interpolated onto it,
    in log y with ``logy``, and extended past the ends by their last step)."""
    import numpy as np

    plt = pyplot()
    xs, ys = _order([r[x] for r in rows]), _order([r[y] for r in rows])
    g = grouped(rows, [x, y], metric)
    grid = np.full((len(ys), len(xs)), np.nan)
    for i, yv in enumerate(ys):
        for j, xv in enumerate(xs):
            if (xv, yv) in g:
                grid[i, j] = _mean(g[(xv, yv)])
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    fig.colorbar(im, ax=ax, label=metric)
    ax.set_xticks(range(len(xs)), [f"{v:g}" if isinstance(v, float) else str(v) for v in xs], fontsize=7)
    ax.set_yticks(range(len(ys)), [str(v) for v in ys], fontsize=7)
    for cx, cy, label in curves:
        px = np.interp(cx, xs, np.arange(len(xs))) if _numeric(xs) else np.asarray(cx)
        py = _index(np.log(cy) if logy else np.asarray(cy, float), np.log(ys) if logy else np.asarray(ys, float))
        ax.plot(px, py, color="white", lw=1.8, ls="--", label=label)
    if curves:
        ax.legend(fontsize=7, loc="upper right", framealpha=0.6)
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    fig.tight_layout()
    save(fig, path)
    return Path(path)
