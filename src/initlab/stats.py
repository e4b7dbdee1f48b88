"""Per-layer statistics and fixed-edge histograms, computed in as few passes as possible.

All functions are pure and take the array they summarize; statistics are over every entry
(batch x units), std is the population std (ddof 0, as ``np.std``).

Speed notes (see ``benchmarks/``): mean and second moment come from one pairwise sum and one
BLAS dot product; only when that form is ill-conditioned (|mean| large against std) is the
variance recomputed with the two-pass formula in float64. Histogram bin indices are computed
once with multiply/clip/cast into reused buffers and counted with ``np.bincount``; every value
is counted (values outside the range go to ``below``/``above``, non-finite ones to
``nonfinite``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Moments:
    mean: float
    std: float
    nonfinite: int  # entries that are inf or NaN (then mean/std are over the finite ones)


def moments(x: np.ndarray) -> Moments:
    """Mean and population std of every entry of ``x``.

    One pass for the sum and one for the sum of squares; if the naive variance
    ``E[x^2] - mean^2`` has lost more than about 3 digits to cancellation, recompute with the
    two-pass form in float64. Non-finite entries are excluded and counted.
    """
    flat = x.reshape(-1)
    n = flat.size
    if n == 0:
        return Moments(math.nan, math.nan, 0)
    with np.errstate(over="ignore", invalid="ignore"):
        s = float(np.add.reduce(flat, dtype=np.float64 if flat.dtype != np.float64 else None))
        ss = float(np.dot(flat, flat))
    if not (math.isfinite(s) and math.isfinite(ss)):
        finite = np.isfinite(flat)
        nf = int(n - np.count_nonzero(finite))
        if nf:
            if nf == n:
                return Moments(math.nan, math.nan, nf)
            m = _careful(flat[finite])
            return Moments(m.mean, m.std, nf)
        return _careful(flat)  # finite values whose sums overflow
    mean = s / n
    var = ss / n - mean * mean
    if var <= 1e-3 * mean * mean or var <= 0.0:
        return _careful(flat)
    return Moments(mean, math.sqrt(var), 0)


def _careful(flat: np.ndarray) -> Moments:
    x = flat.astype(np.float64)
    scale = float(np.max(np.abs(x))) if x.size else 0.0
    if scale == 0.0 or not math.isfinite(scale):
        return Moments(float(np.mean(x)) if scale == 0.0 else math.nan, 0.0 if scale == 0.0 else math.nan, 0)
    x = x / scale  # avoid overflow of squares for huge finite values
    mean = float(np.mean(x))
    x -= mean
    return Moments(mean * scale, math.sqrt(float(np.dot(x, x)) / x.size) * scale, 0)


@dataclass(frozen=True)
class Histogram:
    """Counts of one array over fixed edges. ``counts.sum() + below + above + nonfinite`` is
    the number of entries."""

    edges: np.ndarray  # (bins + 1,)
    counts: np.ndarray  # (bins,) int64
    below: int
    above: int
    nonfinite: int

    @property
    def total(self) -> int:
        return int(self.counts.sum()) + self.below + self.above + self.nonfinite


class Histogrammer:
    """Fixed-range histograms (``np.histogram`` bin semantics: half-open bins, the last one
    closed) with reusable index buffers, so a layer costs a few vector passes and a bincount.

    Bin index = clip(floor((x - lo) * bins / (hi - lo)), 0, bins - 1); the entries clipped
    from below/above are then moved out using exact comparisons with ``lo`` and ``hi``.
    Ties with inner edges are decided by that floating-point product (as numpy's fast path),
    which can differ from exact edge comparison by one bin for values within 1 ulp of an edge.
    """

    def __init__(self, lo: float, hi: float, bins: int):
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi and bins >= 1):
            raise ValueError(f"bad histogram range [{lo}, {hi}] x {bins}")
        self.lo, self.hi, self.bins = float(lo), float(hi), int(bins)
        self.edges = np.linspace(self.lo, self.hi, self.bins + 1)
        self._scale = self.bins / (self.hi - self.lo)
        self._tbuf: np.ndarray | None = None
        self._ibuf: np.ndarray | None = None

    def _buffers(self, n: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        if self._tbuf is None or self._tbuf.size < n or self._tbuf.dtype != dtype:
            self._tbuf = np.empty(n, dtype=dtype)
            self._ibuf = np.empty(n, dtype=np.intp)
        return self._tbuf[:n], self._ibuf[:n]

    def __call__(self, x: np.ndarray, nonfinite: int = 0) -> Histogram:
        flat = x.reshape(-1)
        if nonfinite:
            flat = flat[np.isfinite(flat)]
        n = flat.size
        t, idx = self._buffers(n, flat.dtype)
        np.subtract(flat, self.lo, out=t)
        t *= self._scale
        np.clip(t, 0, self.bins - 1, out=t)
        np.copyto(idx, t, casting="unsafe")  # truncation == floor on the clipped, >= 0 values
        counts = np.bincount(idx, minlength=self.bins).astype(np.int64, copy=False)
        below = int(np.count_nonzero(flat < self.lo))
        above = int(np.count_nonzero(flat > self.hi))
        counts[0] -= below
        counts[-1] -= above
        return Histogram(self.edges, counts, below, above, int(nonfinite))


def zero_stats(h: np.ndarray) -> tuple[float, int]:
    """(fraction of entries exactly 0, units that are 0 for every example)."""
    zero = h == 0
    nz = int(np.count_nonzero(zero))
    if nz == 0:
        return 0.0, 0
    if nz < h.shape[0]:  # fewer zeros than examples: no unit can be all-zero
        return nz / h.size, 0
    return nz / h.size, int(np.count_nonzero(zero.all(axis=0)))


def saturated_fraction(h: np.ndarray, bounds: tuple[float, float] | None) -> float | None:
    """Fraction with ``h <= lo`` or ``h >= hi``; ``None`` for unbounded activations."""
    if bounds is None:
        return None
    lo, hi = bounds
    return (int(np.count_nonzero(h <= lo)) + int(np.count_nonzero(h >= hi))) / h.size


def weight_gradient_moments(x: np.ndarray, dz: np.ndarray) -> Moments:
    """Mean and std of ``dW = x.T @ dz`` (shape ``(fan_in, fan_out)``).

    When the batch is smaller than the layer, dW is never formed: its sum is
    ``rowsum(x) . rowsum(dz)`` and its sum of squares ``<x x^T, dz dz^T>`` (Frobenius), both
    from batch x batch Gram matrices; otherwise dW is formed and summarized directly.
    """
    b, fan_in = x.shape
    fan_out = dz.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):
        if b * (fan_in + fan_out) < fan_in * fan_out:
            n = fan_in * fan_out
            s = float(np.dot(x.sum(axis=1, dtype=np.float64), dz.sum(axis=1, dtype=np.float64)))
            gx = x @ x.T
            gz = dz @ dz.T
            ss = float(np.vdot(gx, gz))
            if math.isfinite(s) and math.isfinite(ss):
                mean = s / n
                var = ss / n - mean * mean
                if var > 1e-3 * mean * mean and var > 0:
                    return Moments(mean, math.sqrt(var), 0)
        return moments(x.T @ dz)
