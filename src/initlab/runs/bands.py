"""Seed bands: each layer's std over a comparison's seeds, on the log scale. No I/O.

With several seeds, each layer's std is summarized on the log scale (deep ReLU stds are close
to log-normal across networks): with ``y_i = ln std_i`` over the ``n`` seeds, ``m`` their mean
and ``s`` their sample sd (ddof 1), the band is the 95% Student-t confidence interval of the
mean of the log std, reported geometrically: ``exp(m)`` (the geometric mean) and
``exp(m -+ t_{0.975, n-1} s / sqrt(n))``. It is a confidence interval for the typical
(geometric-mean) std of a network of this setup, not a range that 95% of single networks fall
in. A layer where any seed has a zero or non-finite std has no band (``None``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from initlab.runs.series import Comparison, Series

CONFIDENCE = 0.95
# Quantities that get seed bands.
BAND_COLUMNS = ("act_std", "preact_std", "grad_act_std")


@dataclass(frozen=True)
class Band:
    """One layer's summary over seeds (see the module docstring). ``gmean``/``lo``/``hi`` are
    ``None`` where a seed has a zero or non-finite value (or, for lo/hi, with one seed)."""

    layer: int
    n: int  # seeds with a positive finite value
    gmean: float | None
    lo: float | None
    hi: float | None
    log_sd: float | None  # sample sd of ln(value) over the seeds


def t_quantile(p: float, df: int) -> float:
    """The Student-t quantile (scipy.special.stdtrit, imported on first use)."""
    from scipy.special import stdtrit

    return float(stdtrit(df, p))


def _exp(x: float) -> float:
    """``e^x``, inf where it overflows float64 (a band of values near 1e308 reaches past it)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def log_band(values: Sequence[float | None], layer: int = 0, confidence: float = CONFIDENCE) -> Band:
    ok = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    n = len(ok)
    if n == 0 or n < len(values):
        return Band(layer, n, None, None, None, None)
    logs = [math.log(v) for v in ok]
    m = sum(logs) / n
    if n == 1:
        return Band(layer, 1, _exp(m), None, None, None)
    sd = math.sqrt(sum((y - m) ** 2 for y in logs) / (n - 1))
    half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    # Keep lo <= gmean <= hi exact in floating point (exp is monotone, but round the ends out).
    g = _exp(m)
    return Band(layer, n, g, min(_exp(m - half), g), max(_exp(m + half), g), sd)


def bands(series: Series, column: str = "act_std") -> list[Band]:
    """Per layer (0..L) the geometric mean and 95% interval of ``column`` over the seeds."""
    return [log_band(series.values(column, l), l) for l in range(series.depth + 1)]


def band_rows(comp: Comparison, case: bool = False) -> tuple[list[dict], list[str]]:
    """The aggregated table: one row per (entry, layer) with ``<q>_gmean``, ``<q>_lo``,
    ``<q>_hi`` for the band columns present in the runs."""
    present = [c for c in BAND_COLUMNS if c in comp.run_columns()
               and any(v is not None for s in comp.series for r in s.runs for v in (x.get(c) for x in r.rows))]
    cols = (["case"] if case else []) + ["initializer", "layer", "n_seeds"]
    for c in present:
        cols += [f"{c}_gmean", f"{c}_lo", f"{c}_hi"]
    rows = []
    for s in comp.series:
        per = {c: bands(s, c) for c in present}
        for l in range(s.depth + 1):
            d = {"initializer": s.entry.label, "layer": l, "n_seeds": len(s.runs)}
            if case:
                d["case"] = s.entry.key
            for c in present:
                b = per[c][l]
                d.update({f"{c}_gmean": b.gmean, f"{c}_lo": b.lo, f"{c}_hi": b.hi})
            rows.append(d)
    return rows, cols
