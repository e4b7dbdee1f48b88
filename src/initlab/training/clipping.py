"""Gradient clipping, in place: by the global 2-norm (``clip_grad_norm``) or by value.

Both match ``torch.nn.utils`` (``clip_grad_norm_``, ``clip_grad_value_``) on finite gradients.
They differ from torch on purpose when the total norm is not finite: torch would multiply
every gradient by ``max_norm / (nan or inf)`` (turning them into NaN or 0); here the
gradients are left untouched and the result says ``finite=False``, so the caller can skip the
step and report it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _checks

EPS = 1e-6  # torch's guard in max_norm / (total + 1e-6)


@dataclass(frozen=True)
class ClipResult:
    """What :func:`clip_grad_norm` did: the total norm *before* clipping, the factor the
    gradients were multiplied by (1.0 when untouched), and whether the norm was finite."""

    norm: float
    clipped: bool
    scale: float
    finite: bool


def _norm(g: np.ndarray) -> float:
    """The 2-norm of one array as a float; rescaled when the sum of squares overflows."""
    flat = np.ravel(g)
    if flat.size == 0:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        n = float(np.linalg.norm(flat))
    if math.isinf(n) and np.isfinite(flat).all():  # squares overflowed, entries did not
        big = float(np.max(np.abs(flat)))
        n = big * float(np.linalg.norm(flat / flat.dtype.type(big)))
    return n


def global_norm(grads: Sequence[np.ndarray]) -> float:
    """``sqrt(sum_i ||g_i||_2^2)``: the 2-norm of all gradients viewed as one vector, formed as
    the norm of the per-array norms as torch's ``_get_total_norm`` does (inf or NaN when an
    entry is)."""
    norms = [_norm(g) for g in grads]
    if not norms:
        return 0.0
    return _norm(np.array(norms, dtype=np.float64))


def clip_grad_norm(grads: Sequence[np.ndarray], max_norm: float,
                   field: str = "train.clip.max_norm") -> ClipResult:
    """Scale all gradients in place so their global 2-norm is at most about ``max_norm``.

    ``total = sqrt(sum_i ||g_i||^2)``; ``c = max_norm / (total + 1e-6)``; every ``g_i <- g_i c``
    when ``c < 1``, i.e. when ``total > max_norm - 1e-6``: exactly
    ``torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=2)``, whose ``+ 1e-6`` also
    applies a factor just below 1 when ``total`` equals ``max_norm``. Pascanu et al. 2013.

    A non-finite total leaves the gradients untouched (see the module docstring).

    Args:
        grads: the gradient arrays, modified in place.
        max_norm: the largest allowed total norm, > 0 (a :class:`ConfigError` at ``field``).

    Returns:
        :class:`ClipResult` with the pre-clip total norm.
    """
    max_norm = _checks.positive(max_norm, field)
    total = global_norm(grads)
    if not math.isfinite(total):
        return ClipResult(total, False, 1.0, False)
    coef = max_norm / (total + EPS)
    if coef >= 1.0:
        return ClipResult(total, False, 1.0, True)
    for g in grads:
        g *= g.dtype.type(coef)
    return ClipResult(total, True, coef, True)


def clip_grad_value(grads: Sequence[np.ndarray], clip_value: float,
                    field: str = "train.clip.value") -> int:
    """Clamp every gradient entry to ``[-clip_value, clip_value]`` in place, as
    ``torch.nn.utils.clip_grad_value_`` (NaN entries stay NaN).

    Args:
        grads: the gradient arrays, modified in place.
        clip_value: > 0 (a :class:`ConfigError` at ``field``).

    Returns:
        The number of entries that were changed.
    """
    c = _checks.positive(clip_value, field)
    changed = 0
    for g in grads:
        with np.errstate(invalid="ignore"):
            changed += int(np.count_nonzero(np.abs(g) > c))
        np.clip(g, -c, c, out=g)
    return changed
