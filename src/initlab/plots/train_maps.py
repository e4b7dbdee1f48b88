"""Training figures drawn as maps: the activation distribution against step per layer
(fastai's "colorful dimension") and the decision boundary over the input plane."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from initlab.plots._mpl import pyplot, save
from initlab.plots.train_common import (
    BINARY_COLORS, MAX_HIST_ROWS, _mark_divergence, _pct, describe, divergence, final_metrics,
    read_config, read_summary, read_table, title)
from initlab.plots.run_figures import panel_layers


def _column_edges(steps: np.ndarray) -> np.ndarray:
    """Edges between evaluation steps, so each column is centred on its step."""
    s = np.asarray(steps, dtype=float)
    if s.size == 1:
        return np.array([s[0] - 0.5, s[0] + 0.5])
    mid = 0.5 * (s[1:] + s[:-1])
    return np.concatenate([[s[0] - (mid[0] - s[0])], mid, [s[-1] + (s[-1] - mid[-1])]])


def histograms_figure(folder: Path, path: Path, max_rows: int = MAX_HIST_ROWS) -> Path:
    plt = pyplot()
    import matplotlib as mpl

    folder = Path(folder)
    cfg = read_config(folder)
    with np.load(folder / "histograms.npz") as f:
        steps = np.asarray(f["steps"], dtype=float)
        layers = np.asarray(f["layers"]).astype(int)
        edges = np.asarray(f["edges"], dtype=float)
        counts = np.asarray(f["counts"], dtype=float)
    hist = read_table(folder / "history.csv") if (folder / "history.csv").exists() else {}
    diverged = divergence(hist, read_summary(folder)) if hist else None
    n_layers = len(layers)
    shown = panel_layers(n_layers, max_rows)
    rows = len(shown)
    totals = counts.sum(axis=2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(totals > 0, counts / np.where(totals > 0, totals, 1), np.nan)
        logf = np.log10(frac)  # -inf for empty bins: drawn as the background
    finite = logf[np.isfinite(logf)]
    vmin = max(float(np.percentile(finite, 2)) if finite.size else -4.0, -5.0)
    vmax = float(finite.max()) if finite.size else 0.0
    vmin = min(vmin, vmax - 1.0)
    magma = mpl.colormaps["magma"]
    cmap = magma.with_extremes(bad=magma(0.0))  # empty bins: the colour of the rarest
    width = 10.0
    row_h = 1.05 if rows > 4 else 1.5
    head = title(cfg, f"activation distribution during training ({rows} of {n_layers} layers)"
                 if rows < n_layers else "activation distribution during training", width, folder)
    top_in = 0.35 + 0.18 * (head.count("\n") + 1)
    height = top_in + 0.55 + row_h * rows
    fig = plt.figure(figsize=(width, height))
    gs = fig.add_gridspec(rows, 1, left=0.14, right=0.87, top=1 - top_in / height,
                          bottom=0.55 / height, hspace=0.25)
    xe = _column_edges(steps)
    mesh = None
    any_empty = False
    for r, i in enumerate(shown):
        ax = fig.add_subplot(gs[r, 0])
        z = np.ma.masked_invalid(logf[:, i, :].T)  # (bins, steps)
        empty = ~np.isfinite(totals[:, i, 0]) | (totals[:, i, 0] == 0)
        mesh = ax.pcolormesh(xe, edges[i], z, cmap=cmap, vmin=vmin, vmax=vmax, shading="flat",
                             rasterized=True)
        if empty.any():
            any_empty = True
            for s in np.nonzero(empty)[0]:
                ax.axvspan(xe[s], xe[s + 1], color="0.85", lw=0)
        ax.set_xlim(xe[0], xe[-1])
        ax.set_ylim(edges[i][0], edges[i][-1])
        ax.yaxis.set_major_locator(mpl.ticker.MaxNLocator(3))
        ax.tick_params(labelsize=7)
        ax.set_ylabel(f"layer {layers[i]}", rotation=0, ha="right", va="center", fontsize=8,
                      labelpad=4)
        _mark_divergence(ax, diverged, label=r == 0, color="C2")
        if r < rows - 1:
            ax.set_xticklabels([])
        else:
            ax.set_xlabel("step")
            ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=8, integer=True))
    if mesh is not None:
        cax = fig.add_axes((0.89, 0.55 / height, 0.015, 1 - (top_in + 0.55) / height))
        cb = fig.colorbar(mesh, cax=cax)
        cb.set_label("log10 fraction of values in the bin")
    fig.text(0.01, 0.5 * (1 + 0.55 / height - top_in / height), "activation value (per layer)",
             rotation=90, va="center", fontsize=8)
    if any_empty:
        fig.text(0.87, 0.05 / height, "grey: no finite value at that step", ha="right",
                 va="bottom", fontsize=8)
    fig.suptitle(head, fontsize=10, y=1 - 0.1 / height, va="top")
    save(fig, path)
    return Path(path)


# --- decision_boundary.png -----------------------------------------------------------------

def _boundary(ax, b: dict, classes: int, cmap_points, with_colorbar=None):
    """Fill the plane with P(class 1) (two classes) or the predicted class; draw the points."""
    import matplotlib as mpl

    xx, yy = b["xx"], b["yy"]
    prob, pred = b.get("prob"), b.get("pred")
    mappable = None
    binary = classes <= 2
    if binary and prob is not None and np.isfinite(prob).any():
        levels = np.linspace(0, 1, 11)
        p = np.clip(np.where(np.isfinite(prob), prob, np.nan), 0, 1)
        if pred is not None and pred.shape == p.shape and np.nanmin(p) >= 0.5 \
                and np.unique(pred[np.isfinite(pred)]).size == 2:
            # ``prob`` holds the predicted class's probability (softmax with two classes):
            # P(class 1) is it where class 1 is predicted, its complement elsewhere
            p = np.where(pred == 1, p, 1 - p)
        mappable = ax.contourf(xx, yy, p, levels=levels, cmap="RdBu_r", alpha=0.45)
        ax.contour(xx, yy, p, levels=[0.5], colors="k", linewidths=1.2)
    elif pred is not None and np.isfinite(pred).any():
        colors = [cmap_points(k) for k in range(max(classes, 1))]
        cm = mpl.colors.ListedColormap(colors)
        ax.contourf(xx, yy, pred, levels=np.arange(-0.5, classes), cmap=cm, alpha=0.35)
        ax.contour(xx, yy, pred, levels=np.arange(0.5, classes - 0.5), colors="k", linewidths=0.8)
    else:
        ax.text(0.5, 0.5, "prediction not finite", transform=ax.transAxes, ha="center",
                color="C3", fontsize=9)
    norm = mpl.colors.Normalize(vmin=0, vmax=max(classes - 1, 1))
    for key, marker in (("train", "o"), ("test", "X")):
        x, y = b.get(f"x_{key}"), b.get(f"y_{key}")
        if x is None or y is None or not len(x):
            continue
        y = np.asarray(y).reshape(-1)
        # filled markers with a black edge stay visible on a background of their own colour
        kw = {"edgecolors": "k", "linewidths": 0.5, "s": 16 if marker == "o" else 30}
        c = [cmap_points(norm(v)) if not binary else (BINARY_COLORS[1] if v > 0.5 else BINARY_COLORS[0])
             for v in y]
        ax.scatter(x[:, 0], x[:, 1], c=c, marker=marker, zorder=3, **kw)
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_aspect("equal", adjustable="box")
    ax.tick_params(labelsize=7)
    return mappable


def _load_boundary(path: Path) -> dict:
    with np.load(path) as f:
        return {k: np.asarray(f[k]) for k in f.files}


def _classes(b: dict) -> int:
    ys = [np.asarray(b[k]).reshape(-1) for k in ("y_train", "y_test") if k in b]
    ys = np.concatenate(ys) if ys else np.array([0, 1])
    return max(int(np.nanmax(ys)) + 1 if ys.size else 2, 2)


def boundary_figure(folder: Path, path: Path) -> Path:
    plt = pyplot()
    import matplotlib as mpl
    from matplotlib.lines import Line2D

    folder = Path(folder)
    cfg = read_config(folder)
    b = _load_boundary(folder / "boundary.npz")
    hist = read_table(folder / "history.csv") if (folder / "history.csv").exists() else {}
    final = final_metrics(hist) if hist else {}
    diverged = divergence(hist, read_summary(folder)) if hist else None
    classes = _classes(b)
    width = 6.4
    fig, ax = plt.subplots(figsize=(width, 5.2))
    cmap_points = mpl.colormaps["tab10"]
    m = _boundary(ax, b, classes, cmap_points)
    if m is not None:
        cb = fig.colorbar(m, ax=ax, shrink=0.85)
        cb.set_label("predicted P(class 1)")
    handles = [Line2D([], [], ls="", marker="o", mfc="0.6", mec="k", label="train"),
               Line2D([], [], ls="", marker="X", mfc="0.6", mec="k", label="test")]
    if classes <= 2 and m is not None:
        handles.append(Line2D([], [], color="k", lw=1.2, label="P = 0.5"))
    ax.legend(handles=handles, fontsize=8, loc="upper right", framealpha=0.85)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    acc = f"train {_pct(final.get('train_acc'))}, test {_pct(final.get('test_acc'))}"
    if diverged is not None:
        acc += f"; diverged at step {diverged}"
    head = "\n".join(textwrap.wrap(f"{cfg.get('name') or folder.name}: decision boundary "
                                   f"({acc})", 70))
    head += "\n" + "\n".join(textwrap.wrap(describe(cfg), 70))
    ax.set_title(head, fontsize=9)
    fig.tight_layout()
    save(fig, path)
    return Path(path)


# --- one run, and a comparison ------------------------------------------------------------
