"""The side-by-side table of a comparison (terminal and summary.md): layers as rows, one
column per entry and quantity. Cells are data; :mod:`initlab.io` and :mod:`initlab.cli` render
them. No I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from initlab.runs.bands import log_band
from initlab.runs.series import Comparison, Series
from initlab.runs.verdicts import _mean


@dataclass(frozen=True)
class Cell:
    """A table value: a number, or a geometric mean with its interval."""

    value: float | int | None
    lo: float | None = None
    hi: float | None = None
    pct: bool = False


def side_by_side(comp: Comparison, layers: Sequence[int] | None = None) -> tuple[list[str], list[list[Cell]]]:
    """Layers as rows; the activation std of every entry as columns, then its mean-field
    prediction (``<label> theory``, where theory applies: docs/theory.md), the saturated
    fraction (bounded activations), the zero fraction (where any layer has zeros) and the
    gradient std (backward), one column per entry each. With seeds, stds are geometric means
    with their 95% interval and fractions plain means. Returns (headers, rows)."""
    depth = max(s.depth for s in comp.series)
    layers = list(range(depth + 1)) if layers is None else list(layers)
    cols: list[tuple[str, Series, str, bool]] = [(f"{s.entry.label} std", s, "act_std", False)
                                                  for s in comp.series]
    cols += [(f"{s.entry.label} theory", s, "predicted_act_std", False) for s in comp.series
             if any(r.get("predicted_act_std") is not None for r in s.runs[0].rows)]
    if any(s.runs[0].activation.saturation is not None for s in comp.series):
        cols += [(f"{s.entry.label} sat %", s, "act_saturated", True) for s in comp.series]
    if any((r.rows[l].get("act_zero") or 0) > 0 for s in comp.series for r in s.runs
           for l in range(1, s.depth + 1)):
        cols += [(f"{s.entry.label} zero %", s, "act_zero", True) for s in comp.series]
    cols += [(f"{s.entry.label} grad std", s, "grad_act_std", False) for s in comp.series
             if s.entry.config.backward.enabled]

    def cell(s: Series, column: str, pct: bool, l: int) -> Cell:
        if l > s.depth:
            return Cell(None)
        if column.startswith("predicted_"):  # a function of the config, the same for every seed
            return Cell(s.runs[0].rows[l].get(column))
        vals = s.values(column, l)
        if pct:
            return Cell(_mean(vals), pct=True)
        if len(vals) == 1:
            return Cell(vals[0])
        b = log_band(vals, l)
        return Cell(b.gmean if b.gmean is not None else _nan_or_none(vals), b.lo, b.hi)

    headers = ["layer"] + [h for h, *_ in cols]
    rows = [[Cell(l)] + [cell(s, c, pct, l) for _, s, c, pct in cols] for l in layers]
    return headers, rows


def _nan_or_none(vals):
    for v in vals:
        if v is not None and not math.isfinite(v):
            return v
    return None


def shown_layers(depth: int, cap: int = 30, keep: int = 21) -> list[int]:
    """All layers 0..depth, or ``keep`` evenly spaced ones (0, 1 and depth included) past ``cap``."""
    if depth + 1 <= cap:
        return list(range(depth + 1))
    step = depth / (keep - 2)
    picked = {0, 1, depth} | {int(round(1 + i * step)) for i in range(keep - 2)}
    return sorted(l for l in picked if 0 <= l <= depth)
