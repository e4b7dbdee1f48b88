"""How initlab writes a number for people (tables, labels, messages): one place, so a value
reads the same in the terminal, in summary.md and in REPORT.md. Files for machines (CSV, JSON)
keep every digit (``repr``) and are written by :mod:`initlab.io.results`."""

from __future__ import annotations

import math


def param(v: object) -> str:
    """A parameter as written in a label or spec: ``0.01``, ``1e-05``, ``fan_in``, ``3``."""
    return f"{v:g}" if isinstance(v, float) else str(v)


def number(v, digits: int = 4, *, sci_digits: int | None = None, big: float = 1e5,
           missing: str = "") -> str:
    """A short deterministic number: ``digits`` significant digits, scientific notation (with
    ``sci_digits`` decimals, default ``digits - 1``) below 1e-3 or from ``big`` on; 0, inf and
    NaN as ``0``, ``inf``, ``nan``; None as ``missing``; booleans as yes/no; integers whole."""
    if v is None:
        return missing
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    if abs(v) < 1e-3 or abs(v) >= big:
        return f"{v:.{digits - 1 if sci_digits is None else sci_digits}e}"
    return f"{v:.{digits}g}"
