"""Per-layer statistics and fixed-edge histograms, computed in as few passes as possible.

All functions are pure and take the array they summarize; statistics are over every entry
(batch x units), std is the population std (ddof 0, as ``np.std``).

Speed notes (measured in ``benchmarks/``; a layer's matrix product is the yardstick):

- Mean and second moment come from BLAS: column sums by a matrix-vector product with a
  vector of ones, squares by a dot product, each over runs of at most ``_CHUNK`` entries and
  added up in float64, so float32 rounding does not grow with the array. When |mean| is large
  against the std the variance is recomputed about a shift (one more pass), never from
  ``E[x^2] - mean^2`` alone.
- Histogram bin indices are computed once, in place, as uint8 (multiply/subtract/cast into
  reused buffers) and counted two at a time (a uint16 view of the uint8 indices through one
  ``np.bincount``): a quarter of ``np.histogram``'s time. Every value is counted; values
  outside the range go to ``below``/``above`` (exact comparisons), non-finite ones to
  ``nonfinite``. The clip and the comparisons run only when the array's min/max says values
  lie outside the range.
- Zeros and saturation are counted with comparisons into a reused boolean buffer, and only
  when min/max say there can be any.
- Everything element-wise runs on one core (numpy's loops), in the caller's thread. A second
  thread does not pay on the 2-core machine measured: waking it costs 50-500 us and it then
  competes with BLAS's own threads (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# Entries per BLAS reduction call: float32 dot products accumulate in float32, whose error grows
# with the run length (about 1e-7 relative at 2^18, 8e-6 at 2^22); the partial sums are added in
# float64.
_CHUNK = 1 << 18
_COLS = 512  # column sums of (rows, 512) blocks: each column adds at most _CHUNK / 512 entries
# |mean| / std above which E[x^2] - mean^2 loses too many digits for the dtype's dot product:
# recompute about a shift. float32: the variance's relative error is about
# 1e-7 * (1 + mean^2 / var), kept under 1e-6 by shifting when mean^2 > 4 var.
_SHIFT_RATIO = {np.dtype(np.float32): 4.0, np.dtype(np.float64): 1e3}
# Mean square below which squares approach underflow (float32 normals end at 1.2e-38).
_TINY = {np.dtype(np.float32): 1e-30, np.dtype(np.float64): 1e-290}


# --- reused buffers, one set per thread -----------------------------------------------------

_LOCAL = threading.local()


def _scratch(name: str, n: int, dtype) -> np.ndarray:
    """A reusable 1-D buffer of at least ``n`` entries, private to the calling thread."""
    dtype = np.dtype(dtype)
    bufs = getattr(_LOCAL, "bufs", None)
    if bufs is None:
        bufs = _LOCAL.bufs = {}
    key = (name, dtype)
    buf = bufs.get(key)
    if buf is None or buf.size < n:
        buf = bufs[key] = np.empty(max(n, 1024), dtype=dtype)
    return buf[:n]


def release_buffers() -> None:
    """Drop the calling thread's reused buffers (they otherwise live as long as the thread)."""
    _LOCAL.bufs = {}


@lru_cache(maxsize=16)
def _ones(n: int, dtype: str) -> np.ndarray:
    return np.ones(n, dtype=dtype)


# --- moments --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Moments:
    mean: float
    std: float
    nonfinite: int  # entries that are inf or NaN (then mean/std are over the finite ones)


def _sums(flat: np.ndarray) -> tuple[float, float]:
    """(sum, sum of squares) of a contiguous 1-D float array, by BLAS in runs of ``_CHUNK``."""
    s = ss = 0.0
    n = flat.size
    for start in range(0, n, _CHUNK):
        c = flat[start : start + _CHUNK]
        m = c.size - c.size % _COLS
        if m:
            block = c[:m].reshape(-1, _COLS)
            s += float(np.add.reduce(_ones(block.shape[0], c.dtype.str) @ block, dtype=np.float64))
        if m < c.size:
            s += float(np.add.reduce(c[m:], dtype=np.float64))
        ss += float(np.dot(c, c))
    return s, ss


def _float_flat(x: np.ndarray) -> np.ndarray:
    flat = np.ascontiguousarray(x).reshape(-1)
    if flat.dtype not in _TINY:
        flat = flat.astype(np.float64)
    return flat


def moments(x: np.ndarray) -> Moments:
    """Mean and population std of every entry of ``x``.

    One BLAS pass for the sum and one for the sum of squares. If ``E[x^2] - mean^2`` would lose digits (|mean| large against the std) the
    variance is recomputed about the mean (one more pass); if squares under- or overflow, in
    float64 after scaling. Non-finite entries are excluded and counted.
    """
    flat = _float_flat(x)
    n = flat.size
    if n == 0:
        return Moments(math.nan, math.nan, 0)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        s, ss = _sums(flat)
    if not (math.isfinite(s) and math.isfinite(ss)):
        finite = np.isfinite(flat)
        nf = int(n - np.count_nonzero(finite))
        if nf:
            if nf == n:
                return Moments(math.nan, math.nan, nf)
            m = moments(flat[finite])
            return Moments(m.mean, m.std, nf)
        return _careful(flat)  # finite values whose sums overflow
    return _finish(flat, s, ss)


def _finish(flat: np.ndarray, s: float, ss: float) -> Moments:
    n = flat.size
    mean = s / n
    msq = ss / n
    if msq < _TINY[flat.dtype]:
        return _careful(flat)
    var = msq - mean * mean
    if var * _SHIFT_RATIO[flat.dtype] < mean * mean or var <= 0.0:
        return _shifted(flat, mean)
    return Moments(mean, math.sqrt(var), 0)


def _shifted(flat: np.ndarray, center: float) -> Moments:
    """Moments about ``center`` (the mean from the first pass): no cancellation."""
    c = flat.dtype.type(center)
    t = _scratch("shift", flat.size, flat.dtype)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        np.subtract(flat, c, out=t)
        s, ss = _sums(t)
    n = flat.size
    d = s / n
    var = ss / n - d * d
    if not (math.isfinite(var) and var > 0.0 and ss / n >= _TINY[flat.dtype]):
        return _careful(flat)
    return Moments(float(c) + d, math.sqrt(var), 0)


def _careful(flat: np.ndarray) -> Moments:
    x = flat.astype(np.float64)
    scale = float(np.max(np.abs(x))) if x.size else 0.0
    if scale == 0.0 or not math.isfinite(scale):
        return Moments(float(np.mean(x)) if scale == 0.0 else math.nan, 0.0 if scale == 0.0 else math.nan, 0)
    x = x / scale  # avoid overflow of squares for huge finite values
    mean = float(np.mean(x))
    x -= mean
    return Moments(mean * scale, math.sqrt(float(np.dot(x, x)) / x.size) * scale, 0)


# --- histograms -----------------------------------------------------------------------------

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


def _pair_counts(u8: np.ndarray, k: int) -> np.ndarray:
    """Counts of the values ``0..k-1`` (k <= 256) in the uint8 array ``u8``.

    ``np.bincount`` over the uint16 view counts two entries per step: pair value
    ``a + 256 b`` lands in row ``b``, column ``a`` of a (k, 256) table, so the counts are its
    column sums plus its row sums. About 2.5x faster than counting the entries one by one
    (consecutive equal indices stall ``bincount``'s increment loop).
    """
    n = u8.size
    m = n & ~1
    table = np.bincount(u8[:m].view(np.uint16), minlength=256 * k)[: 256 * k].reshape(k, 256)[:, :k]
    counts = table.sum(axis=0) + table.sum(axis=1)
    if n & 1:
        counts[u8[n - 1]] += 1
    return counts.astype(np.int64, copy=False)


class Histogrammer:
    """Fixed-range histograms (``np.histogram`` bin semantics: half-open bins, the last one
    closed) with reused index buffers, so a layer costs a few vector passes and one bincount.

    Bin index = floor((x - lo) * bins / (hi - lo)), clipped to [0, bins] only when min/max say
    some values are out of range; those are then moved out by exact comparisons with ``lo`` and
    ``hi``, and index ``bins`` (x == hi) joins the last bin. Ties with inner edges are decided by
    that floating-point product (as numpy's fast path), which can differ from exact edge
    comparison by one bin for values within 1 ulp of an edge.
    """

    def __init__(self, lo: float, hi: float, bins: int):
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi and bins >= 1):
            raise ValueError(f"bad histogram range [{lo}, {hi}] x {bins}")
        self.lo, self.hi, self.bins = float(lo), float(hi), int(bins)
        self.edges = np.linspace(self.lo, self.hi, self.bins + 1)
        self._scale = self.bins / (self.hi - self.lo)

    def count(self, f: np.ndarray, mn: float | None = None, mx: float | None = None
              ) -> tuple[np.ndarray, int, int]:
        """(counts, below, above) of the finite 1-D array ``f`` whose min/max are ``mn``/``mx``
        (computed when not given). Thread-safe: buffers are per thread."""
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            return self._count(f, mn, mx)

    def _count(self, f, mn, mx):
        n = f.size
        if n == 0:
            return np.zeros(self.bins, np.int64), 0, 0
        if mn is None:
            mn, mx = float(f.min()), float(f.max())
        lo, hi, bins = self.lo, self.hi, self.bins
        out_low, out_high = mn < lo, mx > hi
        below = above = 0
        if out_low or out_high:
            bo = _scratch("bool", n, np.bool_)
            if out_low:
                below = int(np.count_nonzero(np.less(f, lo, out=bo)))
            if out_high:
                above = int(np.count_nonzero(np.greater(f, hi, out=bo)))
        small = bins < 256  # uint8 indices, counted two at a time
        idx = _scratch("hist_u8", n, np.uint8) if small else _scratch("hist_intp", n, np.intp)
        # t = (x - lo) * scale, truncated to an integer by the cast (floor, as t >= 0)
        if out_low or out_high:
            t = np.clip(f, lo, hi, out=_scratch("hist_t", n, f.dtype))  # out-of-range -> end bins
            if lo != 0.0:
                t -= lo
            np.multiply(t, self._scale, out=idx, casting="unsafe")
        elif lo != 0.0:
            t = np.subtract(f, lo, out=_scratch("hist_t", n, f.dtype))
            np.multiply(t, self._scale, out=idx, casting="unsafe")
        else:  # one pass: lo == 0 and every value in range
            np.multiply(f, self._scale, out=idx, casting="unsafe")
        if small:
            counts = _pair_counts(idx, bins + 1)
        else:
            counts = np.bincount(idx, minlength=bins + 1).astype(np.int64, copy=False)
        counts[bins - 1] += counts[bins]  # x == hi (and clipped x > hi) sit at index `bins`
        counts = counts[:bins].copy()
        counts[0] -= below
        counts[bins - 1] -= above
        return counts, below, above

    def __call__(self, x: np.ndarray, nonfinite: int = 0) -> Histogram:
        flat = np.ascontiguousarray(x).reshape(-1)
        if nonfinite:
            flat = flat[np.isfinite(flat)]
        counts, below, above = self.count(flat)
        return Histogram(self.edges, counts, below, above, int(nonfinite))


# --- zeros, dead units, saturation ----------------------------------------------------------

def zero_stats(h: np.ndarray) -> tuple[float, int]:
    """(fraction of entries exactly 0, units that are 0 for every example)."""
    flat = np.ascontiguousarray(h).reshape(-1)
    nz = int(np.count_nonzero(np.equal(flat, 0, out=_scratch("bool", flat.size, np.bool_))))
    return nz / h.size, _dead_units(h, nz)


def _dead_units(h: np.ndarray, zeros: int, nonnegative: bool = False) -> int:
    """Columns of the 2-D ``h`` that are all zero, given its number of ``zeros``."""
    if h.ndim != 2 or zeros < h.shape[0] or h.size == 0:  # too few zeros to fill a column
        return 0
    if nonnegative:
        # A sum of non-negative finite numbers is 0 only if every term is: column sums by BLAS
        # find the candidates, which are then checked entry by entry.
        with np.errstate(over="ignore", invalid="ignore"):
            colsum = _ones(h.shape[0], h.dtype.str) @ h
        cand = np.flatnonzero(colsum == 0)
        if cand.size == 0:
            return 0
        return int(cand.size - np.count_nonzero(np.any(h[:, cand] != 0, axis=0)))
    return int(np.count_nonzero(~np.any(h != 0, axis=0)))


def saturated_fraction(h: np.ndarray, bounds: tuple[float, float] | None) -> float | None:
    """Fraction with ``h <= lo`` or ``h >= hi``; ``None`` for unbounded activations."""
    if bounds is None:
        return None
    flat = np.ascontiguousarray(h).reshape(-1)
    return _saturated(flat, bounds, -math.inf, math.inf) / max(flat.size, 1)


def _saturated(f: np.ndarray, bounds: tuple[float, float], mn: float, mx: float) -> int:
    lo, hi = bounds
    c = 0
    if mn <= lo:
        c += int(np.count_nonzero(np.less_equal(f, lo, out=_scratch("bool", f.size, np.bool_))))
    if mx >= hi:
        c += int(np.count_nonzero(np.greater_equal(f, hi, out=_scratch("bool", f.size, np.bool_))))
    return c


# --- everything about one layer's activations -----------------------------------------------

@dataclass(frozen=True)
class ActivationStats:
    moments: Moments
    zero: float  # fraction of entries exactly 0
    dead: int  # units (columns) that are 0 for every example
    saturated: float | None  # None when the activation has no saturation bounds
    hist: Histogram | None


class ActivationSummarizer:
    """Every forward statistic of one layer's activations, in as few passes as possible.

    min and max first (two fast reductions), because they decide which other passes are
    needed: zeros are counted only if 0 lies in [min, max], each saturation side only if a
    value reaches it, the histogram clips and counts out-of-range values only if some value is
    out of range. Then the histogram (see :class:`Histogrammer`) and the moments (BLAS).
    """

    def __init__(self, saturation: tuple[float, float] | None, hist: Histogrammer | None):
        self.saturation = saturation
        self.hist = hist

    def __call__(self, h: np.ndarray) -> ActivationStats:
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            return self._summarize(h)

    def _summarize(self, h: np.ndarray) -> ActivationStats:
        flat = _float_flat(h)
        n = flat.size
        if n == 0:
            return ActivationStats(Moments(math.nan, math.nan, 0), 0.0, 0, None, None)
        mn, mx = float(flat.min()), float(flat.max())
        nf = 0
        f = flat
        if not (math.isfinite(mn) and math.isfinite(mx)):  # rare: an overflowed layer
            fin = np.isfinite(flat)
            nf = int(n - np.count_nonzero(fin))
            if nf:
                f = flat[fin]
                mn, mx = (float(f.min()), float(f.max())) if f.size else (math.inf, -math.inf)
        zeros = 0
        if mn <= 0.0 <= mx:
            zeros = int(np.count_nonzero(np.equal(f, 0, out=_scratch("bool", f.size, np.bool_))))
        sat = None
        if self.saturation is not None:
            # inf counts as saturated, NaN does not: with non-finite values compare everything
            sat = _saturated(flat, self.saturation, -math.inf if nf else mn,
                             math.inf if nf else mx) / n
        hist = None
        if self.hist is not None:
            counts, below, above = self.hist.count(f, mn, mx) if f.size else \
                (np.zeros(self.hist.bins, np.int64), 0, 0)
            hist = Histogram(self.hist.edges, counts, below, above, nf)
        if nf:
            m = moments(f) if f.size else Moments(math.nan, math.nan, 0)
            m = Moments(m.mean, m.std, nf)
        else:
            m = moments(flat)
        dead = 0
        if h.ndim == 2 and zeros >= h.shape[0] > 1:
            dead = _dead_units(h, zeros, nonnegative=mn >= 0.0 and not nf)
        return ActivationStats(m, zeros / n, dead, sat, hist)


def weight_gradient_moments(x: np.ndarray, dz: np.ndarray) -> Moments:
    """Mean and std of ``dW = x.T @ dz`` (shape ``(fan_in, fan_out)``).

    When the batch is smaller than the layer, dW is never formed: its sum is
    ``rowsum(x) . rowsum(dz)`` and its sum of squares ``<x x^T, dz dz^T>`` (Frobenius), both
    from batch x batch Gram matrices (numpy computes ``a @ a.T`` as a symmetric rank-k update,
    half a product's work); otherwise dW is formed and summarized directly.
    """
    b, fan_in = x.shape
    fan_out = dz.shape[1]
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if b * (fan_in + fan_out) < fan_in * fan_out:
            n = fan_in * fan_out
            s = float(np.dot(x.sum(axis=1, dtype=np.float64), dz.sum(axis=1, dtype=np.float64)))
            gx = x @ x.T
            gz = dz @ dz.T
            ss = float(np.vdot(gx, gz))
            if math.isfinite(s) and math.isfinite(ss):
                mean = s / n
                var = ss / n - mean * mean
                ratio = _SHIFT_RATIO.get(x.dtype, 1e3)
                if var * ratio >= mean * mean and var > 0 and ss / n >= _TINY.get(x.dtype, 1e-290):
                    return Moments(mean, math.sqrt(var), 0)
        return moments(x.T @ dz)
