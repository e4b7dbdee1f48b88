"""Figures of the data-dependent initializations: lottery tickets (accuracy and steps to the
threshold against the remaining weights), LSUV gains per layer, pretraining and transfer curves.
Each draws from plain rows (the CSV files' content), so a figure can be redrawn later."""

from __future__ import annotations

import math
from pathlib import Path

from initlab.plots._mpl import pyplot, save

KIND_STYLE = {"dense": ("k", "s"), "ticket": ("C0", "o"), "reinit": ("C3", "v"), "random": ("C2", "^")}


def _mean_by(rows, key, x="remaining"):
    """{kind: [(x, mean, lo, hi)]} over the rows' seeds (min/max band)."""
    out: dict[str, dict[float, list[float]]] = {}
    for r in rows:
        v = r.get(key)
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            continue
        out.setdefault(r["kind"], {}).setdefault(round(float(r[x]), 6), []).append(float(v))
    return {k: sorted((xv, sum(vs) / len(vs), min(vs), max(vs)) for xv, vs in d.items()) for k, d in out.items()}


def tickets(rows: list[dict], path: Path, title: str, steps: int | None = None) -> Path:
    """Test accuracy (left) and steps to the threshold (right, unreached at ``steps``) against
    the fraction of weights remaining, log x axis, one line per kind (mean over seeds, band
    min-max)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    dense = [r for r in rows if r["kind"] == "dense"]
    for ax, key, label in ((axes[0], "test_acc", "test accuracy (final)"),
                           (axes[1], "steps_to_threshold", "steps to threshold")):
        data = [dict(r, steps_to_threshold=(r["steps_to_threshold"] if r["steps_to_threshold"] is not None
                                            else steps)) for r in rows] if key == "steps_to_threshold" else rows
        for kind, pts in _mean_by(data, key).items():
            if kind == "dense":
                continue
            c, m = KIND_STYLE.get(kind, ("C4", "x"))
            xs, ys, lo, hi = zip(*pts)
            ax.plot([100 * x for x in xs], ys, color=c, marker=m, ms=3, label=kind)
            ax.fill_between([100 * x for x in xs], lo, hi, color=c, alpha=0.15, lw=0)
        if dense:
            d = _mean_by(data, key).get("dense")
            if d:
                ax.axhline(d[0][1], color="k", ls="--", lw=1, label="dense")
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("weights remaining (%)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    save(fig, path)
    return path


def lsuv_gains(rows: list[dict], refs: dict[str, float], path: Path, title: str) -> Path:
    """LSUV's gain per layer (one line per activation, mean over seeds) with the activation's
    variance-preserving gain dashed."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    by: dict[str, dict[int, list[float]]] = {}
    for r in rows:
        by.setdefault(r["case"], {}).setdefault(int(r["layer"]), []).append(float(r["lsuv_gain"]))
    for i, (case, d) in enumerate(by.items()):
        ls = sorted(d)
        ax.plot(ls, [sum(d[l]) / len(d[l]) for l in ls], marker="o", ms=3, color=f"C{i}", label=f"{case} (LSUV)")
        if case in refs:
            ax.axhline(refs[case], color=f"C{i}", ls="--", lw=1)
    return _finish(fig, ax, path, "layer", "gain sqrt(fan_in mean W^2)", title)


def curves(rows: list[dict], x: str, y: str, group: str, path: Path, title: str, ylabel: str,
           logy: bool = False) -> Path:
    """Mean over seeds of ``y`` against ``x``, one line per ``group`` value (band: min-max)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    by: dict[str, dict[float, list[float]]] = {}
    for r in rows:
        if r.get(y) is None:
            continue
        by.setdefault(str(r[group]), {}).setdefault(float(r[x]), []).append(float(r[y]))
    for i, (g, d) in enumerate(by.items()):
        xs = sorted(d)
        ax.plot(xs, [sum(d[v]) / len(d[v]) for v in xs], color=f"C{i}", label=g)
        ax.fill_between(xs, [min(d[v]) for v in xs], [max(d[v]) for v in xs], color=f"C{i}", alpha=0.15, lw=0)
    if logy:
        ax.set_yscale("log")
    return _finish(fig, ax, path, x, ylabel, title)


def _finish(fig, ax, path: Path, xlabel: str, ylabel: str, title: str) -> Path:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, path)
    return path
