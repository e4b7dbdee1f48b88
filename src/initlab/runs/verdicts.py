"""Verdicts: one line per entry on how the activation std travels through the depth. No I/O.

From the activation std at the first hidden layer (``first``, layer 1; the input when depth
is 1) to the last (``last``, layer L), on the geometric-mean curve when there are seeds:
``total = last / first`` and ``per_layer = total ** (1 / (L - 1))``. In this order:

1. non-finite activations in any seed: **explodes (non-finite from layer k)**;
2. a std of exactly 0: **collapses (std 0 from layer k)**;
3. bounded activations with ``act_saturated > 0.5`` at the last layer (tanh: |h| >= 0.99):
   **saturates** (most units sit where the derivative is ~0, whatever the std does);
4. ``total < 1e-3`` or ``per_layer < 0.5``: **collapses** (three decades lost, or the std
   halves every layer: the signal soon falls below what the next layers resolve);
5. ``total > 1e3`` or ``per_layer > 2``: **explodes** (the mirror image);
6. ``total < 0.5``: **shrinks**; ``total > 2``: **grows** (a steady drift of more than a
   factor 2 over the depth, e.g. tanh + Xavier over 10 layers, ReLU + Xavier over 5);
7. otherwise **healthy** (the last layer's std within a factor 2 of the first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from initlab.fmt import number
from initlab.runs.bands import Band, bands, log_band
from initlab.runs.series import Series

# Verdict thresholds (see the module docstring).
SATURATED_FRACTION = 0.5
COLLAPSE_TOTAL = 1e-3
COLLAPSE_PER_LAYER = 0.5
EXPLODE_TOTAL = 1e3
EXPLODE_PER_LAYER = 2.0
DRIFT_TOTAL = 2.0


@dataclass(frozen=True)
class Verdict:
    label: str
    kind: str  # healthy | shrinks | grows | collapses | explodes | saturates
    text: str  # the full one-line verdict
    first_layer: int
    last_layer: int
    first_std: float | None
    last_std: float | None
    total: float | None
    per_layer: float | None
    nonfinite_layer: int | None = None
    saturated: float | None = None


def _curve(series: Series, column: str = "act_std") -> list[float | None]:
    if len(series.runs) == 1:
        return [r.get(column) for r in series.runs[0].rows]
    return [b.gmean for b in bands(series, column)]


def _mean(xs: Sequence[float | None]) -> float | None:
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return sum(xs) / len(xs) if xs else None


def verdict(series: Series) -> Verdict:
    """The one-line verdict on how the activation std travels (see the module docstring)."""
    label = series.entry.label
    depth = series.depth
    first_l = 1 if depth > 1 else 0
    curve = _curve(series)
    first, last = curve[first_l], curve[depth]
    nonfinite = [r.first_nonfinite["forward"] for r in series.runs if r.first_nonfinite["forward"] is not None]
    grad_nf = [r.first_nonfinite["backward"] for r in series.runs if r.first_nonfinite["backward"] is not None]
    sat = _mean(series.values("act_saturated", depth))
    total = per = None
    if first is not None and last is not None and first > 0 and math.isfinite(first) and math.isfinite(last):
        total = last / first
        per = total ** (1.0 / (depth - first_l)) if total > 0 else 0.0

    def change() -> str:
        if total is None:
            return ""
        return (f"act std {_fmt(first)} (layer {first_l}) -> {_fmt(last)} (layer {depth}): "
                f"x{_fmt(total)} in total, x{_fmt(per)} per layer")

    if nonfinite:
        k = min(nonfinite)
        of = f" in {len(nonfinite)}/{len(series.runs)} seeds" if len(series.runs) > 1 else ""
        kind, text = "explodes", f"explodes (non-finite from layer {k}{of})"
    else:
        k = None
        zero = next((l for l in range(first_l, depth + 1) if curve[l] == 0.0), None)
        if zero is not None:
            kind, text = "collapses", f"collapses (std 0 from layer {zero})"
        elif sat is not None and sat > SATURATED_FRACTION:
            kind, text = "saturates", f"saturates ({100 * sat:.0f}% of the last layer's units saturated)"
        elif total is None:
            kind, text = "collapses", "collapses (no finite std)"
        elif total < COLLAPSE_TOTAL or per < COLLAPSE_PER_LAYER:
            kind, text = "collapses", "collapses"
        elif total > EXPLODE_TOTAL or per > EXPLODE_PER_LAYER:
            kind, text = "explodes", "explodes"
        elif total < 1.0 / DRIFT_TOTAL:
            kind, text = "shrinks", "shrinks"
        elif total > DRIFT_TOTAL:
            kind, text = "grows", "grows"
        else:
            kind, text = "healthy", "healthy"
    detail = change()
    line = f"{label}: {text}" + (f"; {detail}" if detail and k is None else "")
    if grad_nf:
        line += f"; gradients non-finite from layer {max(grad_nf)} down"
    return Verdict(label, kind, line, first_l, depth, first, last, total, per, k, sat)


def _fmt(v: float | None) -> str:
    return number(v, 4, sci_digits=3, big=1e4, missing="-")


def ratio_bands(series: Series, column: str, ref_layer: int) -> list[Band]:
    """Per layer the band of ``column[l] / column[ref_layer]`` over seeds (the ratio is taken
    seed by seed, then summarized: the band of a ratio, not a ratio of bands)."""
    out = []
    for l in range(series.depth + 1):
        vals = []
        for r in series.runs:
            a, b = r.rows[l].get(column), r.rows[ref_layer].get(column)
            ok = a is not None and b is not None and b != 0 and math.isfinite(a) and math.isfinite(b)
            vals.append(a / b if ok else None)
        out.append(log_band(vals, l))
    return out
