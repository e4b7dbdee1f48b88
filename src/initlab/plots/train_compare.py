"""The overlay of a ``compare --train`` folder: ``curves.png``."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np

from initlab.plots._mpl import pyplot, save
from initlab.plots.train_common import (
    _pct, _readable_log_ticks, _spans_decade, _step_axis, _style, divergence, final_metrics,
    has_accuracy, read_config, read_summary, read_table, title)
from initlab.plots.train_maps import _boundary, _classes, _load_boundary


def read_runs(folder: Path) -> list[tuple[str, Path]]:
    """``runs.csv`` as ``[(initializer label, run folder)]``; relative folders are taken from
    ``folder``."""
    folder = Path(folder)
    with open(folder / "runs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        r = {(k or "").strip(): (v or "").strip() for k, v in r.items()}
        sub = Path(r["folder"])
        out.append((r["initializer"], sub if sub.is_absolute() else folder / sub))
    return out


def _threshold(summary: dict) -> float | None:
    for key in ("threshold", "accuracy_threshold"):
        v = summary.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            return float(v)
    return None


def _unstaged(name: str) -> str:
    """The result folder's name when drawing inside its staging folder
    (``.<name>.<pid>.<hex>.initlab-tmp``, :func:`initlab.io.results.staged_dir`)."""
    m = re.fullmatch(r"\.(.+)\.\d+\.[0-9a-f]{8}\.initlab-tmp", name)
    return m.group(1) if m else name


def compare_figure(folder: Path, path: Path, threshold: float | None = None, name: str | None = None) -> Path:
    """Loss and accuracy curves of every run of ``runs.csv`` overlaid, and their decision
    boundaries side by side (2-D data). ``threshold``: the accuracy line to draw (default: the
    folder's ``summary.json``); ``name``: the title's (default: the folder's)."""
    plt = pyplot()
    import matplotlib as mpl
    from matplotlib.ticker import PercentFormatter

    folder = Path(folder)
    runs = read_runs(folder)
    data = []
    for label, sub in runs:
        hist = read_table(sub / "history.csv")
        b = _load_boundary(sub / "boundary.npz") if (sub / "boundary.npz").exists() else None
        data.append({"label": label, "hist": hist, "cfg": read_config(sub), "boundary": b,
                     "diverged": divergence(hist, read_summary(sub)), "final": final_metrics(hist)})
    if threshold is None:
        threshold = _threshold(read_summary(folder))
    acc = any(has_accuracy(d["hist"]) for d in data)
    boundaries = bool(data) and all(d["boundary"] is not None for d in data)
    n = len(data)
    width = max(11.0, 2.9 * n) if boundaries else 11.0
    height = 4.0 + (3.2 if boundaries else 0.0)
    fig = plt.figure(figsize=(width, height))
    cfg0 = dict(data[0]["cfg"]) if data else {}
    cfg0["name"] = name or _unstaged(folder.name)
    head = title(cfg0, "initializers compared", width, initializer=False)
    top_in = 0.3 + 0.2 * (head.count("\n") + 1)
    outer = fig.add_gridspec(2 if boundaries else 1, 1, height_ratios=[4.0, 3.2] if boundaries else None,
                             top=1 - top_in / height, bottom=(0.6 if boundaries else 0.35) / height,
                             left=0.06, right=0.98,
                             hspace=0.35)
    top = outer[0].subgridspec(1, 2 if acc else 1, wspace=0.22)
    ax_loss = fig.add_subplot(top[0, 0])
    ax_acc = fig.add_subplot(top[0, 1]) if acc else None
    all_loss = []
    for i, d in enumerate(data):
        h, color = d["hist"], f"C{i % 10}"
        steps = h["step"]
        y = h.get("train_loss")
        label = d["label"] + (f" (diverged at step {d['diverged']})" if d["diverged"] is not None else "")
        if y is not None:
            ok = np.isfinite(y)
            all_loss.append(y[ok])
            ax_loss.plot(steps[ok], y[ok], "-", color=color, lw=1.4, label=label, **_style(int(ok.sum())))
            if d["diverged"] is not None:
                last = np.nonzero(ok)[0]
                if last.size:
                    ax_loss.plot(steps[last[-1]], y[last[-1]], "X", color=color, ms=8, mec="k", mew=0.6)
        if ax_acc is not None and "train_acc" in h:
            a = h["train_acc"]
            ok = np.isfinite(a)
            ax_acc.plot(steps[ok], a[ok], "-", color=color, lw=1.4,
                        label=f"{d['label']} (last {_pct(d['final'].get('train_acc'))})",
                        **_style(int(ok.sum())))
            if threshold is not None:
                hit = np.nonzero(ok & (a >= threshold))[0]
                if hit.size:
                    ax_acc.plot(steps[hit[0]], a[hit[0]], "o", color=color, ms=6, mfc="none", mew=1.5)
    if all_loss and _spans_decade(np.concatenate(all_loss)):
        ax_loss.set_yscale("log")
        _readable_log_ticks(ax_loss, np.concatenate(all_loss))
    ax_loss.set_title("train loss" + (" (log scale; X: last finite value before divergence)"
                                      if ax_loss.get_yscale() == "log" and any(d["diverged"] is not None for d in data)
                                      else " (log scale)" if ax_loss.get_yscale() == "log" else ""))
    ax_loss.set_ylabel("loss")
    _step_axis(ax_loss)
    ax_loss.legend(fontsize=8)
    if ax_acc is not None:
        ax_acc.set_ylim(-0.02, 1.02)
        ax_acc.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax_acc.set_title("train accuracy")
        if threshold is not None:
            ax_acc.axhline(threshold, color="k", ls="--", lw=1)
            ax_acc.text(0.99, threshold - 0.01, f"threshold {_pct(threshold)} (circle: first step reaching it) ",
                        transform=ax_acc.get_yaxis_transform(), ha="right", va="top", fontsize=8)
        _step_axis(ax_acc)
        ax_acc.legend(fontsize=8, loc="lower right")
    if boundaries:
        classes = max(_classes(d["boundary"]) for d in data)
        row = outer[1].subgridspec(1, n, wspace=0.15)
        cmap_points = mpl.colormaps["tab10"]
        for i, d in enumerate(data):
            ax = fig.add_subplot(row[0, i])
            _boundary(ax, d["boundary"], classes, cmap_points)
            f = d["final"]
            sub = f"train {_pct(f.get('train_acc'))}, test {_pct(f.get('test_acc'))}"
            if d["diverged"] is not None:
                sub = f"diverged at step {d['diverged']}"
            ax.set_title(f"{d['label']}\n{sub}", fontsize=9, color=f"C{i % 10}")
            if i:
                ax.set_yticklabels([])
        note = ("background: predicted P(class 1), black line P = 0.5" if classes <= 2
                else "background: predicted class") + "; circles: train points, X: test points"
        fig.text(0.5, 0.08 / height, note, ha="center", va="bottom", fontsize=8)
    fig.suptitle(head, fontsize=10, y=1 - 0.08 / height, va="top")
    save(fig, path)
    return Path(path)


def draw_compare(folder: Path) -> list[Path]:
    """``curves.png`` of a ``compare --train`` folder (see the module docstring)."""
    folder = Path(folder)
    return [compare_figure(folder, folder / "curves.png")]
