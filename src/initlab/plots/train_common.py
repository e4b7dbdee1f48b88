"""What every training figure shares: reading a run folder's files (history.csv, layers.csv,
config.yaml, summary.json), the titles that name the setup, and the small axis helpers."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np


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

    data = yaml.safe_load(path.read_text())
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
