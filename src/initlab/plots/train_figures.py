"""Figures of a training run, drawn from the files of its folder (so they can be redrawn later).

- ``loss.png``: train and test loss against step (log scale when they span more than a
  decade) and, for classification, train and test accuracy on a second panel; a diverged run
  (a non-finite loss) is marked by a vertical line and "diverged at step N".
- ``layers.png``: per-layer activation std, back-propagated gradient std (``grad_act_std``)
  and ``update_ratio`` (std of the step's update / std of W) against step, one line per layer
  coloured by depth, log scale; a dashed line at 1e-3 on the update ratio (Karpathy's
  heuristic, makemore part 3).
- ``histograms_over_training.png``: per layer (at most ``MAX_HIST_ROWS`` evenly spaced ones),
  the activation distribution against step as a heatmap, colour = log10 of the fraction of
  values per bin: fastai's "colorful dimension".
- ``decision_boundary.png`` (2-D data, when ``boundary.npz`` exists): the predicted
  probability (two classes) or class over the input plane, train points as circles and test
  points as crosses, coloured by label.

:func:`draw_compare` overlays the runs of a ``compare --train`` folder (``runs.csv``: columns
``initializer, folder``) in ``curves.png``: train loss and train accuracy per initializer, the
accuracy threshold when the folder's ``summary.json`` gives one, and a row of decision
boundaries when the data are 2-D.

Inputs (written by ``initlab train``): ``history.csv``, ``layers.csv``, ``histograms.npz``,
``boundary.npz``, ``config.yaml`` and, when present, ``summary.json``; a figure whose file is
missing is not drawn. Titles name the initializer with its parameters, the activation, the
depth and widths and the data set, read from ``config.yaml``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from initlab.plots._mpl import pyplot, save
from initlab.plots.train_common import (
    KARPATHY_RATIO, LEGEND_MAX_LAYERS, LOSS_COLORS, _mark_divergence, _pct, _ranges,
    _readable_log_ticks, _spans_decade, _step_axis, _style, _symmetry_note, title)
from initlab.plots.train_common import (  # noqa: F401 (the names tests and callers use)
    MAX_HIST_ROWS, describe, divergence, final_metrics, has_accuracy, read_config, read_summary, read_table)
from initlab.plots.train_compare import draw_compare  # noqa: F401
from initlab.plots.train_maps import boundary_figure, histograms_figure


def loss_figure(folder: Path, path: Path) -> Path:
    plt = pyplot()
    folder = Path(folder)
    hist = read_table(folder / "history.csv")
    cfg = read_config(folder)
    summary = read_summary(folder)
    steps = hist["step"]
    acc = has_accuracy(hist)
    diverged = divergence(hist, summary)
    final = final_metrics(hist)
    ncols = 2 if acc else 1
    width = 5.2 * ncols + 0.4
    fig, axes = plt.subplots(1, ncols, figsize=(width, 3.9), squeeze=False)
    ax = axes[0][0]
    losses = []
    for split in ("train", "test"):
        y = hist.get(f"{split}_loss")
        if y is None or not np.isfinite(y).any():
            continue
        losses.append(y)
        ok = np.isfinite(y)
        last = final.get(f"{split}_loss")
        ax.plot(steps[ok], y[ok], "-", color=LOSS_COLORS[split], lw=1.4,
                label=f"{split} ({'last finite' if diverged is not None else 'last'} {last:.3g})",
                **_style(int(ok.sum())))
    if losses and _spans_decade(np.concatenate(losses)):
        ax.set_yscale("log")
        _readable_log_ticks(ax, np.abs(np.concatenate(losses)))
    ax.set_ylabel("loss")
    ax.set_title("loss" + (" (log scale)" if ax.get_yscale() == "log" else ""))
    _mark_divergence(ax, diverged)
    _step_axis(ax)
    if losses:
        ax.legend(fontsize=8, loc="best")
    else:
        ax.text(0.5, 0.5, "no finite loss", transform=ax.transAxes, ha="center", color="C3")
    if acc:
        from matplotlib.ticker import PercentFormatter

        ax = axes[0][1]
        for split in ("train", "test"):
            y = hist.get(f"{split}_acc")
            if y is None or not np.isfinite(y).any():
                continue
            ok = np.isfinite(y)
            ax.plot(steps[ok], y[ok], "-", color=LOSS_COLORS[split], lw=1.4,
                    label=f"{split} (last {_pct(final.get(f'{split}_acc'))})", **_style(int(ok.sum())))
        ax.set_ylim(-0.02, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel("accuracy")
        ax.set_title("accuracy")
        _mark_divergence(ax, diverged)
        _step_axis(ax)
        ax.legend(fontsize=8, loc="best")
    fig.suptitle(title(cfg, "training curves", width, folder), fontsize=10)
    fig.tight_layout()
    save(fig, path)
    return Path(path)


# --- layers.png ----------------------------------------------------------------------------

LAYER_PANELS = (
    ("act_std", "activation std"),
    ("grad_act_std", "gradient std dL/dh"),
    ("update_ratio", "update ratio std(dW) / std(W)"),
)


def _layer_series(table: dict[str, np.ndarray], key: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """layer -> (steps, values) for the hidden and readout layers (layer 0, the input, is
    left out: its statistics do not change during training)."""
    out = {}
    if key not in table:
        return out
    layers, steps, vals = table["layer"], table["step"], table[key]
    for l in np.unique(layers[np.isfinite(layers)]).astype(int):
        if l < 1:
            continue
        sel = layers == l
        order = np.argsort(steps[sel], kind="stable")
        out[int(l)] = (steps[sel][order], vals[sel][order])
    return out


def layers_figure(folder: Path, path: Path) -> Path:
    plt = pyplot()
    import matplotlib as mpl

    folder = Path(folder)
    table = read_table(folder / "layers.csv")
    cfg = read_config(folder)
    hist = read_table(folder / "history.csv") if (folder / "history.csv").exists() else {}
    diverged = divergence(hist, read_summary(folder)) if hist else None
    depth = int((cfg.get("network") or {}).get("depth") or 0)
    all_layers = sorted({int(l) for l in table["layer"][np.isfinite(table["layer"])] if l >= 1})
    top = max(all_layers + [depth, 1])
    cmap = mpl.colormaps["viridis"]
    norm = mpl.colors.Normalize(vmin=1, vmax=max(top, 2))
    use_legend = len(all_layers) <= LEGEND_MAX_LAYERS
    width = 14.0
    fig, axes = plt.subplots(1, 3, figsize=(width, 4.0))
    for ax, (key, label) in zip(axes, LAYER_PANELS):
        series = _layer_series(table, key)
        finite = [v[np.isfinite(v)] for _, v in series.values()]
        finite = np.concatenate(finite) if finite else np.array([])
        positive = finite[finite > 0]
        log = positive.size > 0
        zero_layers = []
        for l, (x, y) in series.items():
            name = f"layer {l}" + (" (readout)" if depth and l == depth + 1 else "")
            color = cmap(norm(l))
            ok = np.isfinite(y) & ((y > 0) if log else True)
            if log and np.isfinite(y).any() and not (y[np.isfinite(y)] > 0).any():
                zero_layers.append(l)
            if ok.any():
                ax.plot(x[ok], y[ok], "-", color=color, lw=1.3, label=name,
                        **(_style(int(ok.sum())) if use_legend else {}))
        if log:
            ax.set_yscale("log")
            _readable_log_ticks(ax, positive)
        if key == "update_ratio" and finite.size:
            ax.axhline(KARPATHY_RATIO, color="k", ls="--", lw=1)
            ax.text(0.99, KARPATHY_RATIO, "~1e-3 (Karpathy) ", transform=ax.get_yaxis_transform(),
                    ha="right", va="bottom", fontsize=8)
            if log:
                lo, hi = ax.get_ylim()
                ax.set_ylim(min(lo, KARPATHY_RATIO / 3), max(hi, KARPATHY_RATIO * 3))
        notes = []
        if not series or not finite.size:
            wstd = table.get("weight_std")
            if key == "update_ratio" and wstd is not None and np.isfinite(wstd).any() \
                    and not np.any(wstd[np.isfinite(wstd)] > 0):
                notes.append("W is exactly 0 at every step: the ratio is undefined")
            else:
                notes.append("no finite values")
            ax.set_yticks([])
        elif not log:
            notes.append("every value is 0")
        if zero_layers:
            notes.append(f"exactly 0 (not on the log axis): layer{'s' if len(zero_layers) > 1 else ''} "
                         + _ranges(zero_layers))
        if notes:
            ax.text(0.02, 0.02, "\n".join(notes), transform=ax.transAxes, fontsize=8, color="C3",
                    va="bottom", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
        if len(table["step"]) and np.isfinite(table["step"]).any():
            lo_s, hi_s = np.nanmin(table["step"]), np.nanmax(table["step"])
            pad = 0.03 * (hi_s - lo_s) or 0.5
            ax.set_xlim(lo_s - pad, hi_s + pad)
        _mark_divergence(ax, diverged, label=key == "act_std")
        ax.set_title(label)
        _step_axis(ax)
        ax.grid(alpha=0.15, which="minor", lw=0.3)
    if use_legend and all_layers:
        found = {}
        for ax in axes:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                found.setdefault(lab, h)
        labels = sorted(found, key=lambda t: int(t.split()[1]))
        handles = [found[k] for k in labels]
        fig.legend(handles, labels, loc="upper right", fontsize=8, frameon=False,
                   bbox_to_anchor=(0.995, 0.88))
        right = 0.9
    else:
        right = 0.93
    sym = _symmetry_note(table)
    head = title(cfg, "per-layer statistics on the probe batch", width, folder)
    if sym:
        head += "\n" + sym
    fig.suptitle(head, fontsize=10)
    fig.tight_layout(rect=(0, 0, right, 1))
    if not use_legend and all_layers:
        cax = fig.add_axes((right + 0.01, 0.15, 0.012, 0.65))
        cb = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax)
        cb.set_label("layer (1 = nearest the input)")
        from matplotlib.ticker import MaxNLocator

        cb.locator = MaxNLocator(integer=True)
        cb.update_ticks()
    save(fig, path)
    return Path(path)


def draw_all(folder: Path) -> list[Path]:
    """Every figure that applies to the run in ``folder``, written there; the paths written."""
    folder = Path(folder)
    written = []
    if (folder / "history.csv").exists():
        written.append(loss_figure(folder, folder / "loss.png"))
    if (folder / "layers.csv").exists():
        written.append(layers_figure(folder, folder / "layers.png"))
    if (folder / "histograms.npz").exists():
        written.append(histograms_figure(folder, folder / "histograms_over_training.png"))
    if (folder / "boundary.npz").exists():
        written.append(boundary_figure(folder, folder / "decision_boundary.png"))
    return written
