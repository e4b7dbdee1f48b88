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
6. ``total < 0.5`` and ``per_layer < 0.85``: **shrinks**; ``total > 2`` and
   ``per_layer > 1/0.85``: **grows** (a geometric drift of more than 15% a layer that adds up
   to more than a factor 2, e.g. ReLU + Xavier: x0.71 a layer);
7. otherwise **healthy**; "healthy, slowly shrinking" (or growing) when the total passes the
   factor 2 at less than 15% a layer: tanh + Xavier sits at the edge of chaos (chi_1 = 1,
   q* = 0), where the std decays like a power of the depth (~1/sqrt(l)), not exponentially:
   x0.36 over 10 layers, x0.89 a layer. cs231n's lecture calls it healthy (claim cs231n-8).

With the backward pass the gradient std is judged the same way from the top layer L down to
the first (``grad_total = dL/dh_1 / dL/dh_L``, thresholds 1e-3/1e3 and x0.5/x2 a layer):
"gradients vanish toward the input", "gradients explode toward the input" (std-1 tanh, cs231n's net: x7.5e4 from
layer 10 to layer 1 although the activations merely saturate), "shrink"/"grow" for a drift past a
factor 2 at more than 15% a layer. The verdict's ``kind`` is the worse of the two passes.
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
DRIFT_PER_LAYER = 0.85  # below this per-layer factor a drift past DRIFT_TOTAL is exponential
# kinds from best to worst (the verdict's kind is the worse of the forward and backward ones)
SEVERITY = ("healthy", "shrinks", "grows", "saturates", "collapses", "explodes")


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
        elif total < 1.0 / DRIFT_TOTAL and per < DRIFT_PER_LAYER:
            kind, text = "shrinks", "shrinks"
        elif total > DRIFT_TOTAL and per > 1.0 / DRIFT_PER_LAYER:
            kind, text = "grows", "grows"
        elif total < 1.0 / DRIFT_TOTAL:
            kind, text = "healthy", "healthy, slowly shrinking"
        elif total > DRIFT_TOTAL:
            kind, text = "healthy", "healthy, slowly growing"
        else:
            kind, text = "healthy", "healthy"
    detail = change()
    line = f"{label}: {text}" + (f"; {detail}" if detail and k is None else "")
    if grad_nf:
        line += f"; gradients non-finite from layer {max(grad_nf)} down"
    elif series.entry.config.backward.enabled:
        g = gradient_verdict(series, first_l)
        if g is not None:
            gkind, gtext = g
            line += f"; {gtext}"
            if SEVERITY.index(gkind) > SEVERITY.index(kind):
                kind = gkind
    return Verdict(label, kind, line, first_l, depth, first, last, total, per, k, sat)


def gradient_verdict(series: Series, first_l: int) -> tuple[str, str] | None:
    """How dL/dh's std travels from the top layer down to ``first_l`` (module docstring):
    ``(kind, text)``, or None without a finite gradient curve."""
    curve = _curve(series, "grad_act_std")
    depth = series.depth
    top, bottom = curve[depth], curve[first_l]
    if top is None or bottom is None or not (top > 0 and math.isfinite(top) and math.isfinite(bottom)):
        return None
    total = bottom / top
    per = total ** (1.0 / max(depth - first_l, 1)) if total > 0 else 0.0
    what = (f"dL/dh std {_fmt(top)} (layer {depth}) -> {_fmt(bottom)} (layer {first_l}): "
            f"x{_fmt(total)}, x{_fmt(per)} per layer")
    if total < COLLAPSE_TOTAL or per < COLLAPSE_PER_LAYER:
        return "collapses", f"gradients vanish toward the input ({what})"
    if total > EXPLODE_TOTAL or per > EXPLODE_PER_LAYER:
        return "explodes", f"gradients explode toward the input ({what})"
    if total < 1.0 / DRIFT_TOTAL and per < DRIFT_PER_LAYER:
        return "shrinks", f"gradients shrink toward the input ({what})"
    if total > DRIFT_TOTAL and per > 1.0 / DRIFT_PER_LAYER:
        return "grows", f"gradients grow toward the input ({what})"
    return "healthy", f"gradients healthy ({what})"


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
