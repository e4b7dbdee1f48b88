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

import csv
import json
import math
import textwrap
from pathlib import Path

import numpy as np

from initlab.plots._mpl import pyplot, save
from initlab.plots.run_figures import panel_layers

MAX_HIST_ROWS = 8
LEGEND_MAX_LAYERS = 6  # more layers than this: a colorbar instead of a legend
KARPATHY_RATIO = 1e-3
LOSS_COLORS = {"train": "C0", "test": "C1"}
BINARY_COLORS = ("#1f5fa8", "#c8102e")  # class 0 and class 1: the two ends of RdBu_r, darker


# --- reading the folder ---------------------------------------------------------------------

def _float(text: str | None) -> float:
    """A CSV cell as a float: empty (or missing) is NaN; ``inf``/``nan`` as written."""
    if text is None:
        return math.nan
    text = text.strip()
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        low = text.lower()
        if low in ("true", "false"):
            return 1.0 if low == "true" else 0.0
        return math.nan


def read_table(path: Path) -> dict[str, np.ndarray]:
    """A CSV file as ``{column: float64 array}`` (empty cells NaN)."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        rows = [{(k or "").strip(): v for k, v in r.items()} for r in reader]
    return {c: np.array([_float(r.get(c)) for r in rows], dtype=float) for c in cols}


def read_config(folder: Path) -> dict:
    """``config.yaml`` as plain data ({} when absent)."""
    path = Path(folder) / "config.yaml"
    if not path.exists():
        return {}
    import yaml

    from initlab.io.configfile import Loader

    data = yaml.load(path.read_text(), Loader=Loader)
    return data if isinstance(data, dict) else {}


def read_summary(folder: Path) -> dict:
    path = Path(folder) / "summary.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _fmt(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def spec_label(spec) -> str:
    """``he``, ``normal(std=10)``, ``leaky_relu(negative_slope=0.2)``: a registry spec as text
    (a name, or a mapping with ``name`` and parameters), as :meth:`initlab.config.Spec.label`."""
    if isinstance(spec, dict):
        params = {k: v for k, v in spec.items() if k != "name"}
        name = str(spec.get("name", "?"))
        if not params:
            return name
        return name + "(" + ", ".join(f"{k}={_fmt(v)}" for k, v in params.items()) + ")"
    if spec is None:
        return "?"
    return _fmt(spec)


def _network_text(net: dict) -> str:
    depth = net.get("depth")
    width = net.get("width")
    if isinstance(width, (list, tuple)):
        if len(set(width)) == 1 and width:
            width = width[0]
        else:
            ws = [str(w) for w in width]
            shape = "x".join(ws) if len(ws) <= 6 else "x".join(ws[:3]) + "x...x" + ws[-1]
            return f"depth {depth} ({shape})" if depth is not None else shape
    if depth is None:
        return ""
    return f"depth {depth} x {width}" if width is not None else f"depth {depth}"


def _data_text(data: dict) -> str:
    if not data:
        return ""
    name = str(data.get("name", "?"))
    sizes = [f"{data[k]} {k.split('_')[1]}" for k in ("n_train", "n_test") if k in data]
    return name + (f" ({' / '.join(sizes)})" if sizes else "")


def describe(cfg: dict, initializer: bool = True) -> str:
    """``he, relu, depth 2 (10x5), circles (300 train / 100 test)``: what a title says."""
    net = cfg.get("network") or {}
    parts = []
    if initializer:
        parts.append(spec_label(net.get("initializer", "?")))
    parts.append(spec_label(net.get("activation", "?")))
    parts.append(_network_text(net))
    extras = []
    if str(net.get("norm", "none")) not in ("none", "None"):
        extras.append(f"{net['norm']} norm")
    if net.get("dropout"):
        extras.append(f"dropout {_fmt(net['dropout'])}")
    parts += extras
    parts.append(_data_text(cfg.get("data") or {}))
    return ", ".join(p for p in parts if p)


def _training_text(cfg: dict) -> str:
    train = cfg.get("train") or {}
    opt = train.get("optimizer") or {}
    bits = []
    if isinstance(opt, dict) and opt.get("name"):
        bits.append(f"{opt['name']} lr {_fmt(opt.get('lr', '?'))}")
    elif isinstance(opt, str):
        bits.append(opt)
    if "batch" in train:
        bits.append(f"batch {train['batch']}")
    if "loss" in train:
        bits.append(str(train["loss"]))
    if "seed" in cfg:
        bits.append(f"seed {cfg['seed']}")
    return ", ".join(bits)


def wrap_parts(parts: list[str], chars: int, sep: str = ", ") -> list[str]:
    """Greedy lines of whole parts (never a break inside "adam lr 0.001")."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + len(sep) + len(part) <= chars:
            lines[-1] += sep + part
        else:
            if lines:
                lines[-1] += sep.rstrip()
            lines.append(part)
    return lines


def title(cfg: dict, what: str, width_in: float, folder: Path | None = None,
          initializer: bool = True) -> str:
    """The run's name and what the figure shows, then the initializer, activation, network,
    data and optimizer, wrapped at about 14 characters an inch between whole parts."""
    name = cfg.get("name") or (folder.name if folder is not None else "")
    head = f"{name}: {what}" if name else what
    parts = [p for p in describe(cfg, initializer).split(", ") if p]
    extra = _training_text(cfg)
    parts += [p for p in extra.split(", ") if p]
    chars = int(14 * width_in)
    one = head + " - " + ", ".join(parts)
    if len(one) <= chars:
        return one
    return "\n".join([head] + wrap_parts(parts, chars))


# --- what a history says --------------------------------------------------------------------

def divergence(hist: dict[str, np.ndarray], summary: dict | None = None) -> int | None:
    """The step of the first row whose train or test loss is not finite (None if none)."""
    if summary and summary.get("diverged_at") is not None:
        try:
            return int(summary["diverged_at"])
        except (TypeError, ValueError):
            pass
    steps = hist.get("step")
    if steps is None or not len(steps):
        return None
    bad = np.zeros(len(steps), bool)
    for key in ("train_loss", "test_loss"):
        v = hist.get(key)
        if v is not None:
            # NaN in a loss column means "not evaluated" only when the whole column is empty
            bad |= np.isinf(v) | (np.isnan(v) & ~np.isnan(v).all())
    if not bad.any():
        return None
    return int(steps[np.argmax(bad)])


def has_accuracy(hist: dict[str, np.ndarray]) -> bool:
    return any(k in hist and np.isfinite(hist[k]).any() for k in ("train_acc", "test_acc"))


def final_metrics(hist: dict[str, np.ndarray]) -> dict[str, float]:
    """The last row's metrics; for a diverged run, the last finite value of each."""
    out = {}
    for key in ("train_loss", "test_loss", "train_acc", "test_acc"):
        v = hist.get(key)
        if v is None:
            continue
        ok = np.isfinite(v)
        if ok.any():
            out[key] = float(v[np.nonzero(ok)[0][-1]])
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _spans_decade(values: np.ndarray) -> bool:
    v = np.abs(values[np.isfinite(values) & (values > 0)])
    return v.size > 1 and v.max() / v.min() > 10


def _mark_divergence(ax, step: int | None, label: bool = True, color: str = "C3") -> None:
    if step is None:
        return
    ax.axvline(step, color=color, lw=1, ls="--")
    if label:
        ax.text(step, 0.97, f"diverged at step {step} ", transform=ax.get_xaxis_transform(),
                ha="right", va="top", fontsize=8, color=color,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})


def _step_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.grid(alpha=0.3, lw=0.5)


def _style(n_points: int) -> dict:
    """Markers when the curve has few points (each is an evaluation)."""
    return {"marker": "o", "ms": 3} if n_points <= 40 else {}


# --- loss.png ------------------------------------------------------------------------------

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


def _readable_log_ticks(ax, values: np.ndarray) -> None:
    """Within a decade or two a log axis has too few major ticks and labels its minor ones
    as 8x10^-1: label them plainly instead."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    values = values[np.isfinite(values) & (values > 0)]
    if values.size and values.max() / values.min() < 30:
        fmt = FuncFormatter(lambda v, _: f"{v:.3g}")
        narrow = values.max() / values.min() < 3
        ax.yaxis.set_minor_locator(LogLocator(subs=np.arange(1.0, 10.0) if narrow else (1.0, 2.0, 3.0, 5.0)))
        ax.yaxis.set_minor_formatter(fmt)
        ax.yaxis.set_major_formatter(fmt)
    else:
        ax.yaxis.set_minor_formatter(NullFormatter())


def _ranges(layers: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    out, start = [], None
    for i, l in enumerate(layers):
        if start is None:
            start = l
        if i + 1 == len(layers) or layers[i + 1] != l + 1:
            out.append(str(start) if start == l else f"{start}-{l}")
            start = None
    return ", ".join(out)


def _symmetry_note(table: dict[str, np.ndarray]) -> str:
    """'distinct units: 1 in layers 1-2 at the last step (symmetry never broken)' or ''."""
    if "distinct_units" not in table or not len(table["step"]):
        return ""
    last = table["step"] == np.nanmax(table["step"])
    layers = table["layer"][last]
    distinct = table["distinct_units"][last]
    width = table["width"][last] if "width" in table else np.full(len(layers), np.nan)
    ones = sorted(int(l) for l, d, w in zip(layers, distinct, width)
                  if l >= 1 and d == 1 and not (w == 1))
    if not ones:
        return ""
    many = len(ones) > 1
    return (f"distinct units = 1 in layer{'s' if many else ''} {_ranges(ones)} at the last step: "
            "every unit computes the same function (symmetry never broken)")


# --- histograms_over_training.png ----------------------------------------------------------

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


def compare_figure(folder: Path, path: Path) -> Path:
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
    summary = read_summary(folder)
    threshold = _threshold(summary)
    acc = any(has_accuracy(d["hist"]) for d in data)
    boundaries = bool(data) and all(d["boundary"] is not None for d in data)
    n = len(data)
    width = max(11.0, 2.9 * n) if boundaries else 11.0
    height = 4.0 + (3.2 if boundaries else 0.0)
    fig = plt.figure(figsize=(width, height))
    cfg0 = dict(data[0]["cfg"]) if data else {}
    cfg0["name"] = folder.name
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
