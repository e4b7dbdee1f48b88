"""Validation helpers shared by the training modules: each raises :class:`ConfigError` at a
dotted field with the allowed range and the value it got."""

from __future__ import annotations

import math
import numbers

from ..errors import ConfigError


def number(value, field: str) -> float:
    """``value`` as a finite float (bools and strings are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(field, f"must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ConfigError(field, f"must be finite, got {value!r}")
    return x


def positive(value, field: str) -> float:
    """A finite number > 0."""
    x = number(value, field)
    if x <= 0:
        raise ConfigError(field, f"must be > 0, got {value!r}")
    return x


def nonnegative(value, field: str) -> float:
    """A finite number >= 0."""
    x = number(value, field)
    if x < 0:
        raise ConfigError(field, f"must be >= 0, got {value!r}")
    return x


def half_open_unit(value, field: str) -> float:
    """A number in [0, 1)."""
    x = number(value, field)
    if not 0.0 <= x < 1.0:
        raise ConfigError(field, f"must be in [0, 1), got {value!r}")
    return x


def closed_unit(value, field: str) -> float:
    """A number in [0, 1]."""
    x = number(value, field)
    if not 0.0 <= x <= 1.0:
        raise ConfigError(field, f"must be in [0, 1], got {value!r}")
    return x


def positive_int(value, field: str) -> int:
    """An integer >= 1 (bools and non-integral floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(field, f"must be a positive integer, got {value!r}")
    if value < 1:
        raise ConfigError(field, f"must be a positive integer, got {value!r}")
    return int(value)


def flag(value, field: str) -> bool:
    """A bool (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise ConfigError(field, f"must be true or false, got {value!r}")
    return value
