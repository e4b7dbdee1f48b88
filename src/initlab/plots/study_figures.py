"""The figures of the training studies (``initlab reproduce``), drawn from the CSV tables of a
study's folder (:mod:`initlab.io.train_study_save`), so they can be redrawn later:

- :func:`curves`: a metric (train loss) against steps, one panel per setting (depth, ...), one
  line per case and seed, the threshold drawn: what "learns faster" means on a slide;
- :func:`steps_vs_setting`: steps to the threshold against depth (log scale), per seed and
  their geometric mean, runs that stalled drawn as open triangles at the budget (their
  learning time is at least that);
- :func:`side_by_side`: loss and accuracy curves with the threshold and the decision
  boundaries of the full runs side by side (:func:`initlab.plots.train_compare.compare_figure`);
- :func:`distinct_units`: distinct units per hidden layer after training, per setup
  (symmetry);
- :func:`grad_by_layer`: back-propagated gradient std per layer at several training steps,
  one panel per case (Glorot & Bengio's Fig. 7, over training).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from initlab.plots._mpl import pyplot, save
from initlab.plots.train_common import read_table

COLORS = ("C0", "C3", "C2", "C1", "C4", "C5", "C6")


def _read_rows(path: Path) -> list[dict]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _ordered(values) -> list:
    """Unique values in first-seen order."""
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _plain_log_ticks(ax) -> None:
    """Log-axis ticks written as plain numbers (20, 50, 100), minor ticks at 2 and 5 labelled."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(fmt)
    ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    ax.yaxis.set_minor_formatter(fmt)


def curves(folder: Path, path: Path, *, table: str = "curves", metric: str = "train_loss",
           panel: str | None = "depth", threshold: float | None = None, budget: int | None = None,
           title: str = "", log: bool = False, ylabel: str = "train loss",
           ylim: tuple[float, float] | None = None) -> Path:
    """``table``.csv (columns ``case``, ``seed``, ``step``, ``metric`` and ``panel``): one
    panel per value of ``panel``, one line per case (colour) and seed; the threshold as a dashed
    line, the budget as a dotted vertical line."""
    plt = pyplot()
    rows = _read_rows(Path(folder) / f"{table}.csv")
    panels = _ordered(r[panel] for r in rows) if panel else [None]
    cases = _ordered(r["case"] for r in rows)
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(max(5.6, 3.3 * n), 3.8), squeeze=False, sharey=True)
    diverged = False
    for ax, p in zip(axes[0], panels):
        sub = [r for r in rows if panel is None or r[panel] == p]
        for i, case in enumerate(cases):
            seeds = _ordered(r["seed"] for r in sub if r["case"] == case)
            for j, s in enumerate(seeds):
                pts = [(_num(r["step"]), _num(r[metric])) for r in sub if r["case"] == case and r["seed"] == s]
                x = np.array([a for a, _ in pts])
                y = np.array([b for _, b in pts])
                ok = np.isfinite(y)
                color = COLORS[i % len(COLORS)]
                ax.plot(x[ok], y[ok], "-", color=color, lw=1.2, alpha=0.85, label=case if j == 0 else None)
                if not ok.all() and ok.any():  # diverged: X at the last finite value
                    k = np.nonzero(ok)[0][-1]
                    ax.plot(x[k], y[k], "X", color=color, ms=8, mec="k", mew=0.6)
                    diverged = True
        if threshold is not None:
            ax.axhline(threshold, color="k", ls="--", lw=1)
            ax.text(0.98, threshold, f"threshold {threshold:g} ", transform=ax.get_yaxis_transform(),
                    ha="right", va="bottom", fontsize=8)
        if budget is not None:
            ax.axvline(budget, color="0.4", ls=":", lw=1)
        if log:
            ax.set_yscale("log")
            _plain_log_ticks(ax)
        if ylim is not None:
            ax.set_ylim(*ylim)
        if p is not None:
            ax.set_title(f"{panel} {p}")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3, lw=0.5)
    axes[0][0].set_ylabel(ylabel)
    axes[0][0].legend(fontsize=8)
    if diverged:
        axes[0][-1].text(0.99, 0.99, "X: last finite value of a run that diverged (inf / NaN)",
                         transform=axes[0][-1].transAxes, ha="right", va="top", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save(fig, path)
    return Path(path)


def steps_vs_setting(folder: Path, path: Path, *, table: str = "steps", x: str = "depth",
                     budget: int | None = None, title: str = "", xlabel: str = "depth (hidden layers)",
                     logx: bool = False) -> Path:
    """``table``.csv (columns ``case``, ``seed``, ``x``, ``steps``, ``reached``): steps to the
    threshold against ``x`` on a log scale, per seed (small points) and their geometric mean
    (line); stalled runs (``reached`` 0) as open triangles at the budget."""
    plt = pyplot()
    t = read_table(Path(folder) / f"{table}.csv")
    rows = _read_rows(Path(folder) / f"{table}.csv")
    cases = _ordered(r["case"] for r in rows)
    fig, ax = plt.subplots(figsize=(6.2, 4.0))
    for i, case in enumerate(cases):
        color = COLORS[i % len(COLORS)]
        mask = np.array([r["case"] == case for r in rows])
        xs, steps, reached = t[x][mask], t["steps"][mask], t["reached"][mask]
        ok = reached > 0
        ax.plot(xs[ok], steps[ok], "o", color=color, ms=4, alpha=0.6)
        ax.plot(xs[~ok], steps[~ok], "^", color=color, ms=7, mfc="none", mew=1.4)
        ux = sorted(set(xs.tolist()))
        means = [math.exp(float(np.mean(np.log(steps[xs == u])))) for u in ux]
        stalled_all = [bool(np.all(~ok[xs == u])) for u in ux]
        ax.plot(ux, means, "-", color=color, lw=1.8, label=case)
        for u, m, st in zip(ux, means, stalled_all):
            if st:
                ax.annotate("", xy=(u, m * 1.6), xytext=(u, m), arrowprops={"arrowstyle": "->", "color": color})
    if budget is not None:
        ax.axhline(budget, color="0.4", ls=":", lw=1)
        ax.text(0.01, budget, " budget: open triangles did not reach the threshold (stalled)",
                transform=ax.get_yaxis_transform(), ha="left", va="bottom", fontsize=8)
    ax.set_yscale("log")
    _plain_log_ticks(ax)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(set(t[x].tolist())))
    ax.get_xaxis().set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("steps to the threshold (log scale)")
    ax.grid(alpha=0.3, lw=0.5, which="both")
    ax.legend(fontsize=8, loc="lower right")
    if budget is not None:
        ax.set_ylim(top=budget * 3)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    save(fig, path)
    return Path(path)


def side_by_side(folder: Path, path: Path, *, threshold: float | None = None, name: str | None = None) -> Path:
    """The full runs of ``runs.csv``: curves with the threshold and decision boundaries."""
    from initlab.plots.train_compare import compare_figure

    return compare_figure(folder, path, threshold=threshold, name=name)


def distinct_units(folder: Path, path: Path, *, table: str = "units", width: int | None = None,
                   title: str = "") -> Path:
    """``table``.csv (columns ``init``, ``setup``, ``seed``, ``layer``, ``distinct_units``):
    the distinct units of each hidden layer after training, the smallest over seeds and layers,
    one group of bars per setup (activation / optimizer), one bar per initialization."""
    plt = pyplot()
    rows = _read_rows(Path(folder) / f"{table}.csv")
    inits = _ordered(r["init"] for r in rows)
    setups = _ordered(r["setup"] for r in rows)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(setups) + 2), 3.8))
    wbar = 0.8 / len(inits)
    for i, init in enumerate(inits):
        lo, hi = [], []
        for s in setups:
            v = [_num(r["distinct_units"]) for r in rows if r["init"] == init and r["setup"] == s]
            lo.append(min(v) if v else math.nan)
            hi.append(max(v) if v else math.nan)
        xs = np.arange(len(setups)) + (i - (len(inits) - 1) / 2) * wbar
        ax.bar(xs, hi, wbar * 0.9, color=COLORS[i % len(COLORS)], label=init)
        ax.plot(xs, lo, "_", color="k", ms=8)
    if width is not None:
        ax.axhline(width, color="0.4", ls=":", lw=1)
        ax.text(0.995, width, f"width {width} ", transform=ax.get_yaxis_transform(), ha="right",
                va="bottom", fontsize=8)
    ax.axhline(1, color="k", lw=0.8)
    ax.set_xticks(np.arange(len(setups)))
    ax.set_xticklabels(setups, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("distinct units after training")
    top = int(np.nanmax([_num(r["distinct_units"]) for r in rows] + [width or 1]))
    ax.set_yticks(sorted({1, *range(0, top + 1, max(1, top // 4))} - {0}))
    ax.text(0.0, 1.01, "bar: most, black tick: fewest, over layers and seeds", transform=ax.transAxes,
            fontsize=7, va="bottom")
    ax.legend(fontsize=8, ncol=len(inits), loc="upper center", bbox_to_anchor=(0.5, -0.32))
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    save(fig, path)
    return Path(path)


def grad_by_layer(folder: Path, path: Path, *, table: str = "layers", column: str = "grad_act_std",
                  title: str = "", ylabel: str = "std of dL/dh (probe batch)") -> Path:
    """``table``.csv (columns ``case``, ``seed``, ``step``, ``layer``, ``column``): one panel
    per case, one line per training step (darker: later) of the seed-geometric-mean ``column``
    against the layer, log scale."""
    plt = pyplot()
    rows = _read_rows(Path(folder) / f"{table}.csv")
    cases = _ordered(r["case"] for r in rows)
    fig, axes = plt.subplots(1, len(cases), figsize=(4.0 * len(cases), 3.6), squeeze=False, sharey=True)
    cmap = plt.get_cmap("viridis")
    for ax, case in zip(axes[0], cases):
        sub = [r for r in rows if r["case"] == case]
        steps = sorted({int(_num(r["step"])) for r in sub})
        layers = sorted({int(_num(r["layer"])) for r in sub})
        for k, st in enumerate(steps):
            ys = []
            for l in layers:
                v = [_num(r[column]) for r in sub if int(_num(r["step"])) == st and int(_num(r["layer"])) == l]
                v = [x for x in v if x > 0]
                ys.append(math.exp(float(np.mean(np.log(v)))) if v else math.nan)
            ax.plot(layers, ys, "o-", color=cmap(k / max(1, len(steps) - 1) * 0.85), ms=3, lw=1.3,
                    label=f"step {st}")
        ax.set_yscale("log")
        ax.set_title(case)
        ax.set_xlabel("layer")
        ax.set_xticks(layers)
        ax.grid(alpha=0.3, lw=0.5, which="both")
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save(fig, path)
    return Path(path)
