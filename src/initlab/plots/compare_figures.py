"""Figures of a comparison, drawn from its plain-data document (``compare.json`` or a study's
figure data: see :func:`initlab.io.compare_save.figure_document`).

- :func:`std_by_layer`: one line per entry and one panel per statistic (activation std, and
  gradient std when backward is on), log scale; with seeds the line is the geometric mean and
  the band its 95% interval; dashed black lines are the mean-field predictions when the
  document carries them (compare's does wherever theory applies); an overflowing entry's line stops at its first inf/NaN layer
  (marked x), rather than plunging with the std of what is left finite.
- :func:`histogram_grid`: one row per entry, one column per layer (at most ``MAX_COLUMNS``
  evenly spaced layers, the first and last included), all on a shared range: the cs231n
  lecture-6 picture side by side. A panel notes the share of values outside the range ("% out")
  and, for non-negative activations whose first bin (the exact zeros of ReLU) would flatten the
  rest, clips that bin and prints its height.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np

from initlab.plots._mpl import pyplot, save
from initlab.plots.run_figures import panel_layers

MAX_COLUMNS = 10
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
TITLES = {
    "act_std": "activation std",
    "preact_std": "pre-activation std",
    "grad_act_std": "back-propagated gradient std dL/dh",
    "grad_weight_std": "weight gradient std dL/dW",
    "preact_ratio": "std(y_l) / std(y_1)  (forward)",
    "grad_ratio": "std(dL/dh_l) / std(dL/dh_L)  (backward)",
}


def _arr(values) -> np.ndarray:
    """None, zero and non-finite become NaN (gaps on a log axis)."""
    return np.array([np.nan if v is None or not math.isfinite(v) or v <= 0 else v for v in values], dtype=float)


def std_by_layer(doc: dict, path: Path, panels: tuple[str, ...] = ("act_std",)) -> Path:
    """One panel per curve name in ``panels`` (keys of each series' ``curves``)."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    panels = [p for p in panels if any(p in s["curves"] for s in doc["series"])]
    n = len(panels)
    width, height = 0.4 + 4.6 * n, 4.1
    fig, axes = plt.subplots(1, n, figsize=(width, height), squeeze=False)
    handles = {}
    for ax, key in zip(axes[0], panels):
        for i, s in enumerate(doc["series"]):
            c = s["curves"].get(key)
            if c is None:
                continue
            color = f"C{i % 10}"
            x = np.asarray(c["layers"])
            y = _arr(c["gmean"])
            nf = s.get("nonfinite")
            if nf is not None and key in ("act_std", "preact_std", "preact_ratio"):
                # From the first non-finite layer on the std of the finite values says nothing
                # about the net: the line stops there (a break, marked), it does not plunge.
                y = np.where(x >= nf, np.nan, y)
            # Distinct hollow markers keep coinciding curves visible (e.g. a 22-layer net is the
            # prefix of the 30-layer one drawn from the same weight streams).
            (line,) = ax.plot(x, y, "-", marker=MARKERS[i % len(MARKERS)], ms=4, mfc="none", mew=0.9,
                              lw=1.2, color=color)
            handles.setdefault(s["label"], line)
            if any(v is not None for v in c.get("lo", [])):
                ax.fill_between(x, _arr(c["lo"]), _arr(c["hi"]), color=color, alpha=0.2, lw=0)
            if c.get("theory"):  # the mean-field prediction, on top (it often sits on the measurement)
                ax.plot(x, _arr(c["theory"]), "--", color="k", lw=0.9, alpha=0.75, zorder=5)
            if nf is not None and key in ("act_std", "preact_std", "preact_ratio"):
                ax.axvline(nf, color=color, ls=":", lw=1)
                finite = y[np.isfinite(y)]
                if finite.size:
                    ax.plot([nf], [finite[-1]], marker="x", ms=8, mew=2, color=color, zorder=6)
                ax.annotate(f"inf/NaN from layer {nf}", (nf, 0.02), xycoords=("data", "axes fraction"),
                            rotation=90, fontsize=7, color=color, ha="right", va="bottom")
        if np.isfinite(ax.get_ylim()).all():
            ax.set_yscale("log")
        ax.set_title(TITLES.get(key, key))
        ax.set_xlabel("layer (0 = input)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3, which="both", lw=0.5)
        ax.grid(alpha=0.1, which="minor", lw=0.3)
    labels = list(handles)
    ncol = min(len(labels), 3 if n == 1 else 4)
    rows = math.ceil(len(labels) / ncol) if labels else 0
    fig.suptitle("\n".join(textwrap.wrap(doc["title"], int(16 * width))), fontsize=10)
    notes = []
    if doc.get("seeds", 1) > 1:
        notes.append("band: 95% interval over seeds")
    if any(c.get("theory") for s in doc["series"] for c in s["curves"].values()):
        notes.append("dashed black: each entry's mean-field prediction")
    if any(s.get("nonfinite") is not None for s in doc["series"]):
        notes.append("x and dotted line: first inf/NaN layer (the line stops)")
    bottom_in = 0.55 + 0.2 * rows + (0.18 if notes else 0.0)
    fig.subplots_adjust(left=0.75 / width, right=1 - 0.15 / width, top=1 - 0.6 / height,
                        bottom=bottom_in / height, wspace=0.3)
    if labels:
        fig.legend([handles[k] for k in labels], labels, loc="lower center", ncol=ncol, fontsize=8,
                   frameon=False, title="; ".join(notes) or None, title_fontsize=7)
    save(fig, path)
    return Path(path)


def histogram_grid(doc: dict, path: Path, which: str = "act", max_columns: int = MAX_COLUMNS) -> Path:
    """Rows: the entries; columns: layers; cells: the fraction of entries per bin."""
    plt = pyplot()
    series = [s for s in doc["series"] if s.get(f"{which}_hist")]
    depth = max(len(s[f"{which}_hist"]["counts"]) for s in series)
    shown = panel_layers(depth, max_columns)
    nr, nc = len(series), len(shown)
    label_w = 1.6  # inches for the row labels
    width = label_w + 1.45 * nc
    what = "activations" if which == "act" else "back-propagated gradients dL/dh"
    # the title names the seed once: a comparison's title already does unless there are several
    seed = f" (seed {doc.get('hist_seed', 0)} of those)" if doc.get("seeds", 1) > 1 else ""
    title = "\n".join(textwrap.wrap(f"{doc['title']}: {what} per layer{seed}", int(15 * width)))
    top_in = 0.35 + 0.2 * (title.count("\n") + 1)
    height = top_in + 0.32 + 1.12 * nr
    fig = plt.figure(figsize=(width, height))
    gs = fig.add_gridspec(nr, nc, left=label_w / width, right=0.99, top=1 - top_in / height,
                          bottom=0.32 / height, wspace=0.16, hspace=0.55)
    for i, s in enumerate(series):
        h = s[f"{which}_hist"]
        edges = np.asarray(h["edges"], dtype=float)
        counts = np.asarray(h["counts"], dtype=float)
        color = f"C{doc['series'].index(s) % 10}"
        first_ax = None
        for j, layer_idx in enumerate(shown):
            ax = fig.add_subplot(gs[i, j])
            first_ax = first_ax or ax
            if layer_idx < counts.shape[0]:
                total = counts[layer_idx].sum() + h["below"][layer_idx] + h["above"][layer_idx] + h["nonfinite"][layer_idx]
                frac = counts[layer_idx] / total if total else counts[layer_idx]
                ax.stairs(frac, edges, fill=True, color=color, lw=0)
                notes = []
                if total:
                    out = (h["below"][layer_idx] + h["above"][layer_idx]) / total
                    if out >= 0.01:
                        notes.append(f"{100 * out:.0f}% out")
                if h["nonfinite"][layer_idx]:
                    notes.append("non-finite")
                top = frac.max() if frac.size else 0.0
                if edges[0] == 0.0 and frac.size > 1 and frac[0] == top:
                    # Non-negative activations (ReLU): the exact zeros make a spike in the first
                    # bin that would flatten everything else; clip it and say how tall it is.
                    rest = np.sort(frac)[-2]
                    if rest > 0 and top > 2.5 * rest:
                        top = 2.5 * rest
                        notes.append(f"first bin {100 * frac[0]:.0f}%")
                if notes:
                    ax.text(0.97, 0.93, "\n".join(notes), transform=ax.transAxes, ha="right", va="top",
                            fontsize=6, color="C3", zorder=10,
                            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1})
                if top > 0:
                    ax.set_ylim(0, top * 1.08)
            else:
                ax.axis("off")
                continue
            pad = 0.03 * (edges[-1] - edges[0])  # so the edge bins (saturation) stay visible
            ax.set_xlim(edges[0] - pad, edges[-1] + pad)
            ax.set_yticks([])
            mid = 0.5 * (edges[0] + edges[-1])
            ax.set_xticks([edges[0], mid, edges[-1]])
            ticks = ax.set_xticklabels([_tick(edges[0]), _tick(mid), _tick(edges[-1])], fontsize=6)
            ticks[0].set_horizontalalignment("left")  # keep the end labels inside their panel
            ticks[-1].set_horizontalalignment("right")
            ax.tick_params(length=2, pad=1)
            if i == 0 or which == "grad":
                ax.set_title(f"layer {layer_idx + 1}", fontsize=7, pad=2)
        label = "\n".join(textwrap.wrap(s["label"], 17))
        if which == "grad":
            label += f"\n(range +-{_tick(edges[-1])})"
        pos = first_ax.get_position()
        fig.text(0.01, 0.5 * (pos.y0 + pos.y1), label, ha="left", va="center", fontsize=8)
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / height, va="top")
    save(fig, path)
    return Path(path)


def _tick(v: float) -> str:
    if v == 0:
        return "0"
    return f"{v:.2g}" if abs(v) >= 0.01 else f"{v:.0e}"
