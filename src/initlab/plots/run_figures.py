"""Figures of one run, drawn from its ``stats.json`` document (so they can be redrawn later).

- ``histograms.png``: one panel per layer, all on the activation's range, so layers compare
  (the cs231n lecture-6 picture); out-of-range and non-finite counts are written on the panel.
- ``gradients.png`` (backward on): the same for dL/dh per layer on the shared range
  +-4 std of the top gradient (Glorot & Bengio 2010, Fig. 7).
- ``stats.png``: mean and std of activations (and gradient std) against depth; log scale
  where the values span more than two decades.

Overflow is drawn, not refused: histograms count non-finite values apart and each panel says
how many it skipped; the first non-finite layer always gets a panel (and the last finite one
before it) and is marked, in the panels and on ``stats.png``; layers whose statistic is
non-finite are left out of the curves and counted in the axes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from initlab.plots._mpl import pyplot, save


MAX_PANELS = 20


def _grid(n: int) -> tuple[int, int]:
    cols = min(n, 5)
    return math.ceil(n / cols), cols


def panel_layers(n: int, max_panels: int = MAX_PANELS, must: tuple[int, ...] = ()) -> list[int]:
    """Which layers (0-based indices into 1..n) get a panel: all of them, or ``max_panels``
    evenly spaced ones including the first and the last, and every index in ``must`` (each
    replacing the nearest evenly spaced one)."""
    if n <= max_panels:
        return list(range(n))
    shown = sorted(set(np.linspace(0, n - 1, max_panels).round().astype(int).tolist()))
    for m in sorted({int(m) for m in must if 0 <= m < n}):
        if m in shown:
            continue
        keep = {0, n - 1} | {int(x) for x in must}
        options = [x for x in shown if x not in keep]
        if options:
            shown.remove(min(options, key=lambda x: abs(x - m)))
        shown.append(m)
    return sorted(shown)


def histogram_panels(hist: dict, title: str, path: Path, color: str = "C0", xlabel: str = "",
                     first_nonfinite: int | None = None) -> None:
    """One bar panel per layer from histogram data (edges, counts, below, above, nonfinite).

    ``first_nonfinite`` (a layer, 1-based) is always shown, with the layer before it, and its
    panel title is marked."""
    plt = pyplot()
    counts = np.asarray(hist["counts"], dtype=float)
    edges = np.asarray(hist["edges"])
    nonfinite = [int(v) for v in hist["nonfinite"]]
    must = () if first_nonfinite is None else (first_nonfinite - 2, first_nonfinite - 1)
    shown = panel_layers(counts.shape[0], must=must)
    n = len(shown)
    rows, cols = _grid(n)
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 1.9 * rows), squeeze=False,
                             sharex=True)
    for k in range(rows * cols):
        ax = axes[k // cols][k % cols]
        if k >= n:
            ax.axis("off")
            continue
        i = shown[k]
        total = counts[i].sum() + hist["below"][i] + hist["above"][i] + nonfinite[i]
        frac = counts[i] / total if total else counts[i]
        ax.stairs(frac, edges, fill=True, color=color)
        if first_nonfinite is not None and i + 1 == first_nonfinite:
            ax.set_title(f"layer {i + 1}: first inf/NaN", color="C3")
        else:
            ax.set_title(f"layer {i + 1}")
        notes = []
        if total:
            out = (hist["below"][i] + hist["above"][i]) / total
            if out > 0:
                notes.append(f"{100 * out:.1f}% out of range")
        if nonfinite[i]:
            notes.append(f"all {nonfinite[i]} non-finite, skipped" if nonfinite[i] == total
                         else f"{nonfinite[i]} non-finite skipped")
        if notes:
            ax.text(0.98, 0.97, "\n".join(notes), transform=ax.transAxes, va="top", ha="right",
                    fontsize=7, color="C3")
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
        if k // cols == rows - 1:
            ax.set_xlabel(xlabel, fontsize=8)
    skipped = sum(nonfinite)
    if skipped:
        layers = [i + 1 for i, v in enumerate(nonfinite) if v]
        title += (f"\n{skipped} non-finite values (inf/NaN) skipped in {len(layers)} layers, "
                  f"from layer {layers[0]}")
    fig.suptitle(title)
    top = 0.80 if rows == 1 else 0.88
    if skipped:
        top -= 0.06 if rows > 1 else 0.10
    fig.subplots_adjust(left=0.03, right=0.98, bottom=0.12 if rows == 1 else 0.06, top=top,
                        wspace=0.08, hspace=0.35)
    save(fig, path)


def _logscale(values) -> bool:
    v = [abs(x) for x in values if x is not None and math.isfinite(x) and x != 0]
    return bool(v) and max(v) / min(v) > 100


def stats_figure(doc: dict, path: Path) -> None:
    """Activation mean and std against layer (and gradient std when present); the first
    non-finite layer of each pass is marked, non-finite statistics are left out and counted."""
    plt = pyplot()
    rows = doc["rows"]
    layers = [r["layer"] for r in rows]
    has_grad = "grad_act_std" in doc["columns"]
    first = doc.get("first_nonfinite") or {}
    ncols = 3 if has_grad else 2
    fig, axes = plt.subplots(1, ncols, figsize=(4 * ncols, 3.2))
    series = [("act_mean", "activation mean", "forward"), ("act_std", "activation std", "forward")]
    if has_grad:
        series.append(("grad_act_std", "gradient std dL/dh", "backward"))
    for ax, (key, label, which) in zip(axes, series):
        ys = [r.get(key) for r in rows]
        y = [np.nan if v is None or not math.isfinite(v) else v for v in ys]
        ax.plot(layers, y, "o-", ms=3)
        if key == "act_std" and "predicted_act_std" in doc["columns"]:
            ax.plot(layers, [np.nan if r.get("predicted_act_std") is None else r["predicted_act_std"]
                             for r in rows], "--", color="k", lw=1, label="theory")
            ax.legend(fontsize=7)
        if key != "act_mean" and _logscale(ys):
            ax.set_yscale("log")
        missing = sum(1 for v in y if v != v)
        if first.get(which) is not None:
            ax.axvline(first[which], color="C3", lw=1, ls=":")
            ax.text(first[which], 0.98, f" first inf/NaN: layer {first[which]}", color="C3", fontsize=7,
                    va="top", ha="left" if first[which] <= 0.6 * max(layers) else "right",
                    transform=ax.get_xaxis_transform())
        if missing:
            ax.text(0.02, 0.02, f"{missing} layers non-finite, not drawn", color="C3", fontsize=7,
                    transform=ax.transAxes, va="bottom",
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
        ax.set_xlim(min(layers) - 0.5, max(layers) + 0.5)
        ax.set_xlabel("layer (0 = input)")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{doc['config']['name']}: {doc['activation']}, {doc['initializer']}")
    fig.tight_layout()
    save(fig, path)


def draw_all(doc: dict, folder: Path) -> list[Path]:
    """Every figure of a run into ``folder``; returns the paths written."""
    folder = Path(folder)
    name = doc["config"]["name"]
    first = doc.get("first_nonfinite") or {}
    written = []
    h = doc["histograms"]
    if h["act"]:
        p = folder / "histograms.png"
        histogram_panels(h["act"], f"{name}: activations ({doc['activation']}, {doc['initializer']})", p,
                         xlabel="activation", first_nonfinite=first.get("forward"))
        written.append(p)
    if h["grad"]:
        p = folder / "gradients.png"
        histogram_panels(h["grad"], f"{name}: back-propagated gradients dL/dh", p, color="C1",
                         xlabel="dL/dh")
        written.append(p)
    p = folder / "stats.png"
    stats_figure(doc, p)
    written.append(p)
    return written
