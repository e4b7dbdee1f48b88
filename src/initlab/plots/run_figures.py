"""Figures of one run, drawn from its ``stats.json`` document (so they can be redrawn later).

- ``histograms.png``: one image whatever the depth: from 8 layers on, an all-layers heatmap
  (value against layer, colour = log10 of the fraction of entries per bin, with strips for the
  fractions below and above the range: TensorBoard's distributions, fastai's "colorful
  dimension"), over panels of a few chosen layers (the input, the first, evenly spread ones,
  the last; the title says "k of N layers"), each with a y axis (percent per bin) and its std,
  all on the activation's range so layers compare (the cs231n lecture-6 picture). ReLU's
  spike at zero is clipped and its height written (as compare does); out-of-range and
  non-finite counts are written in headroom above the bars.
- ``gradients.png`` (backward on): the same for dL/dh per layer on the shared range
  +-4 std of the top gradient (Glorot & Bengio 2010, Fig. 7).

Drawing cost does not grow with depth: one Agg figure, one mesh and at most 5 bar panels
(benchmarks/bench.py measures it against the run).
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


PANELS = 5  # chosen layers under the all-layers heatmap (input, first, spread, last)
HEATMAP_FROM = 8  # layers (with the input) from which the heatmap is drawn
DENSITY_FLOOR = 1e-4  # the heatmap's colour scale: log10 of the fraction per bin, from here up


def _fractions(hist: dict, inp: dict | None) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(fractions per bin, [below, above] fractions, non-finite counts) per layer, layer 0 the
    input when its histogram is there (else an empty row)."""
    counts = np.asarray(hist["counts"], dtype=float)
    out = np.stack([np.asarray(hist["below"], float), np.asarray(hist["above"], float)], axis=1)
    nonfinite = [int(v) for v in hist["nonfinite"]]
    if inp is not None:
        counts = np.vstack([np.asarray(inp["counts"], dtype=float), counts])
        out = np.vstack([[inp["below"][0], inp["above"][0]], out])
        nonfinite = [int(inp["nonfinite"][0])] + nonfinite
    else:
        counts = np.vstack([np.full(counts.shape[1], np.nan), counts])
        out = np.vstack([[np.nan, np.nan], out])
        nonfinite = [0] + nonfinite
    total = counts.sum(axis=1) + out.sum(axis=1) + np.asarray(nonfinite)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(total > 0, 1.0 / np.where(total > 0, total, 1.0), np.nan)[:, None]
    return counts * scale, out * scale, nonfinite


def _heatmap(ax, frac, out, edges, first_nonfinite, xlabel: str) -> None:
    """Value against layer, colour = log10 of the fraction of entries per bin (TensorBoard's
    distributions, fastai's "colorful dimension"); a strip above and below the range holds the
    fractions out of range."""
    n, bins = frac.shape
    width = edges[-1] - edges[0]
    strip = max(width / bins, 0.04 * width)
    grid = np.full((bins + 4, n), np.nan)
    grid[2:bins + 2] = frac.T
    grid[0], grid[-1] = out[:, 0], out[:, 1]  # below, above (a blank row between)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log10(np.where(grid > 0, grid, np.nan))
    rows = np.concatenate([[edges[0] - 2 * strip, edges[0] - strip], edges,
                           [edges[-1] + strip, edges[-1] + 2 * strip]])
    rows = np.unique(rows)
    cmap = _cmap()
    im = ax.pcolormesh(np.arange(n + 1) - 0.5, rows, z[:len(rows) - 1], cmap=cmap,
                       vmin=math.log10(DENSITY_FLOOR), vmax=max(-0.5, float(np.nanmax(z)) if
                                                                np.isfinite(z).any() else 0.0),
                       shading="flat", rasterized=True)
    ax.set_ylim(rows[0], rows[-1])
    ax.set_yticks([edges[0] - 1.5 * strip, edges[0], 0.5 * (edges[0] + edges[-1]), edges[-1],
                   edges[-1] + 1.5 * strip])
    ax.set_yticklabels(["below", f"{edges[0]:.3g}", f"{0.5 * (edges[0] + edges[-1]):.3g}",
                        f"{edges[-1]:.3g}", "above"], fontsize=7)
    ax.axhline(edges[0], color="white", lw=0.6)
    ax.axhline(edges[-1], color="white", lw=0.6)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_xlabel("layer (0 = input)")
    ax.set_ylabel(xlabel)
    if first_nonfinite is not None:
        ax.axvline(first_nonfinite, color="C3", lw=1, ls=":")
        ax.text(first_nonfinite, rows[-1], f" first inf/NaN: layer {first_nonfinite}", color="C3",
                fontsize=7, va="top", ha="left" if first_nonfinite < 0.6 * n else "right")
    bar = ax.figure.colorbar(im, ax=ax, pad=0.01, fraction=0.03)
    bar.set_label("log10 fraction per bin", fontsize=7)
    bar.ax.tick_params(labelsize=6)


def _cmap():
    from matplotlib import colormaps

    return colormaps["viridis"].with_extremes(bad="white")


def _panel(ax, frac, out, nonfinite, edges, layer, std, color, marked: bool) -> None:
    """One layer's histogram (percent per bin) with its std; ReLU's spike at 0 clipped and its
    height written; std and notes in the headroom above the bars, never on them."""
    pct = 100.0 * np.nan_to_num(frac)
    ax.stairs(pct, edges, fill=True, color=color, lw=0)
    top = float(pct.max()) if pct.size else 0.0
    notes = []
    if edges[0] == 0.0 and pct.size > 1 and pct[0] == top:
        rest = float(np.sort(pct)[-2])
        if rest > 0 and top > 2.5 * rest:  # the exact zeros of ReLU flatten the rest: clip
            top = 2.5 * rest
            notes.append(f"first bin {pct[0]:.0f}% (clipped)")
    o = float(np.nansum(out))
    if o > 0:
        notes.append(f"{100 * o:.1f}% out of range")
    if nonfinite:
        notes.append(f"all {nonfinite} non-finite, skipped" if not np.nansum(frac) and not o
                     else f"{nonfinite} non-finite skipped")
    shown = std is not None and math.isfinite(std)
    head = 1.0 + 0.15 * (len(notes) + shown)  # one line of headroom per text line: no text on a peak
    ax.set_ylim(0, (top if top > 0 else 1.0) * head)
    if shown:
        ax.text(0.03, 0.97, f"std {std:.3g}", transform=ax.transAxes, va="top", ha="left",
                fontsize=7)
    if notes:  # under the std, never beside it (long numbers and notes overlapped in narrow panels)
        ax.text(0.03, 0.97 - 0.1 * shown, "\n".join(notes), transform=ax.transAxes, va="top", ha="left",
                fontsize=6.5, color="C3")
    name = "input" if layer == 0 else f"layer {layer}"
    ax.set_title(name + (": first inf/NaN" if marked else ""), fontsize=8,
                 color="C3" if marked else "black")
    ax.tick_params(labelsize=6.5)
    ax.locator_params(nbins=3)  # fewer labels to lay out (text is most of a figure's cost)


def chosen_layers(n: int, k: int = PANELS, must: tuple[int, ...] = ()) -> list[int]:
    """``k`` layers of 0..n-1 for panels: the input, the first layer, evenly spread ones and the
    last, plus every index in ``must`` (replacing the nearest spread one)."""
    if n <= k:
        return list(range(n))
    shown = sorted(set([0, 1] + np.linspace(1, n - 1, k - 1).round().astype(int).tolist()))
    while len(shown) > k:
        shown.remove(shown[len(shown) // 2])
    for m in sorted({int(x) for x in must if 0 <= x < n}):
        if m in shown:
            continue
        options = [x for x in shown if x not in (0, 1, n - 1) and x not in must]
        if options:
            shown.remove(min(options, key=lambda x: abs(x - m)))
        shown.append(m)
    return sorted(shown)


def histogram_figure(hist: dict, title: str, path: Path, color: str = "C0", xlabel: str = "",
                     first_nonfinite: int | None = None, stds=None, inp: dict | None = None) -> None:
    """One image: the all-layers heatmap (from HEATMAP_FROM layers on) over panels of a few
    chosen layers (all of them when there are at most PANELS), each with a y axis (percent of
    the layer's entries per bin) and its std. ``first_nonfinite`` (1-based) is always shown.
    Cost: one Agg figure, one mesh, at most PANELS bar panels, whatever the depth."""
    plt = pyplot()
    frac, out, nonfinite = _fractions(hist, inp)
    edges = np.asarray(hist["edges"])
    n = frac.shape[0]
    must = () if first_nonfinite is None else (first_nonfinite - 1, first_nonfinite)
    if inp is not None:
        layers = chosen_layers(n, must=must)
    else:  # no layer 0 (gradients): choose among layers 1..n-1
        layers = [l + 1 for l in chosen_layers(n - 1, must=tuple(m - 1 for m in must))]
    heat = n >= HEATMAP_FROM
    cols = len(layers)
    fig = plt.figure(figsize=(max(8.0, 1.9 * cols), 5.6 if heat else 2.6))
    gs = fig.add_gridspec(2 if heat else 1, cols, height_ratios=[1.5, 1] if heat else None,
                          hspace=0.45, wspace=0.3)
    if heat:
        _heatmap(fig.add_subplot(gs[0, :]), frac, out, edges, first_nonfinite, xlabel)
    for k, layer in enumerate(layers):
        ax = fig.add_subplot(gs[-1, k])
        std = None if stds is None or layer >= len(stds) else stds[layer]
        _panel(ax, frac[layer], out[layer], nonfinite[layer], edges, layer, std, color,
               first_nonfinite is not None and layer == first_nonfinite)
        ax.set_xlabel(xlabel, fontsize=7)
        if k == 0:
            ax.set_ylabel("% of entries", fontsize=7)
    shown = f"panels: {cols} of {n - (0 if inp is not None else 1)} layers" + \
        (" (with the input)" if inp is not None else "")
    skipped = sum(nonfinite)
    if skipped:
        bad = [i for i, v in enumerate(nonfinite) if v]
        shown += (f"\n{skipped} non-finite values (inf/NaN) skipped in {len(bad)} layers, "
                  f"from layer {bad[0]}")
    fig.suptitle(f"{title}\n{shown}", fontsize=9)
    fig.subplots_adjust(left=0.07, right=0.97, bottom=0.1 if heat else 0.2,
                        top=(0.88 if heat else 0.76) - (0.04 if skipped else 0.0))
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
    fig.suptitle(f"{doc['config']['name']}: {doc['activation']}, {init_label(doc)}")
    # fixed margins: tight_layout lays every text out twice (a third of this figure's cost)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.84, wspace=0.28)
    save(fig, path)


def init_label(doc: dict) -> str:
    """The initializer with its parameters as the config gave them (``normal(std=1)``): the
    parameter is often the lesson (tanh_large is std 1, tanh_small 0.01)."""
    spec = doc["config"]["network"]["initializer"]
    if not isinstance(spec, dict) or len(spec) <= 1:
        return str(doc["initializer"])
    params = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in spec.items() if k != "name")
    return f"{spec.get('name', doc['initializer'])}({params})"


def draw_all(doc: dict, folder: Path) -> list[Path]:
    """Every figure of a run into ``folder``; returns the paths written."""
    folder = Path(folder)
    name = doc["config"]["name"]
    first = doc.get("first_nonfinite") or {}
    written = []
    h = doc["histograms"]
    rows = doc["rows"]
    if h["act"]:
        p = folder / "histograms.png"
        histogram_figure(h["act"], f"{name}: activations ({doc['activation']}, {init_label(doc)})",
                         p, xlabel="activation", first_nonfinite=first.get("forward"),
                         stds=[r.get("act_std") for r in rows], inp=h.get("input"))
        written.append(p)
    if h["grad"]:
        p = folder / "gradients.png"
        histogram_figure(h["grad"], f"{name}: back-propagated gradients dL/dh ({doc['activation']}, "
                                    f"{init_label(doc)})", p, color="C1",
                         xlabel="dL/dh", stds=[r.get("grad_act_std") for r in rows])
        written.append(p)
    p = folder / "stats.png"
    stats_figure(doc, p)
    written.append(p)
    return written
