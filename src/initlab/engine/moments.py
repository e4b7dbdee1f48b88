"""Moments of an array (mean, population std) in as few passes as possible, accurate under
cancellation: BLAS dot products per cache-sized chunk added in float64, about a shift when the
mean is large against the std, rescaled near under/overflow; the kernel's sums when it is built.
The per-thread scratch buffers the statistics modules share live here too.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from initlab.engine import kernel

_UNTRUSTED = object()

# Entries per chunk of a sweep (256 KB): small enough that a chunk, its float and uint8 scratch
# and bincount's table stay in L2 (1.25 MB per core on the machine measured), large enough that
# the ~15 numpy calls per chunk (~15 us) stay small beside the work.
_SWEEP_BYTES = 1 << 18
# |mean| / std above which E[x^2] - mean^2 loses too many digits for the dtype's sums, so the
# sums are taken about a shift. The kernel's float32 sums are good to ~4e-7 (at most 7 float32
# roundings per term; the numpy path's are float64), so the variance's relative error,
# ~4e-7 * (1 + mean^2 / var), stays under 2e-6.
_SHIFT_RATIO = {np.dtype(np.float32): 4.0, np.dtype(np.float64): 1e3}
# Mean square below which squares approach underflow (float32 normals end at 1.2e-38).
_TINY = {np.dtype(np.float32): 1e-30, np.dtype(np.float64): 1e-290}


def _sweep_step(a: np.ndarray) -> int:
    return max(4096, _SWEEP_BYTES // a.itemsize)


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
    """Drop the calling thread's reused buffers (a few chunks' worth; they live as long as the
    thread otherwise)."""
    _LOCAL.bufs = {}


@lru_cache(maxsize=16)
def _ones(n: int, dtype: str) -> np.ndarray:
    return np.ones(n, dtype=dtype)


def _ones_for(c: np.ndarray) -> np.ndarray:
    """A vector of ones as long as the 1-D ``c`` (cached in power-of-two lengths)."""
    return _ones(max(1024, 1 << (c.size - 1).bit_length()), c.dtype.str)[: c.size]


# --- moments --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Moments:
    mean: float
    std: float
    nonfinite: int  # entries that are inf or NaN (then mean/std are over the finite ones)


class _Accumulator:
    """Sum and sum of squares over a stream of chunks, about a shift: 0, or the first chunk's
    mean when that chunk shows |mean| large against the std (then every chunk costs one more
    pass). :meth:`result` is None when the sums cannot be trusted (non-finite values, squares
    near underflow, cancellation left over): the caller then uses :func:`moments`."""

    __slots__ = ("n", "s", "ss", "shift", "ratio", "tiny")

    def __init__(self, dtype: np.dtype):
        self.n, self.s, self.ss, self.shift = 0, 0.0, 0.0, None
        self.ratio, self.tiny = _SHIFT_RATIO[dtype], _TINY[dtype]

    @staticmethod
    def _sums(c: np.ndarray, shift: float) -> tuple[float, float]:
        """Sum of ``c - shift`` and of its squares: the kernel's one pass (per-block sums in
        the dtype, added up in double), or, after a subtraction when shifted, two BLAS dot
        products (float64), or for float32 numpy's pairwise sums of a float64 copy (products
        exact; error below log2(n) 2^-53 of the sum of squares). Not BLAS's float32 dot
        product: it accumulates a whole chunk in a few float32 lanes, and terms close to each
        other (a saturated tanh layer: most within an ulp of 1) round the same way at every
        addition, so the error grows with the chunk: 6.3e-6 of the sum of squares measured
        (OpenBLAS 0.3.31, 200k tanh values). Not BLAS's float64 dot of the copy either: 10-35x
        slower here on a busy 2-core machine (its threads)."""
        if kernel.KERNEL is not None and c.flags.c_contiguous:
            return kernel.KERNEL.sums(c, shift)
        if shift != 0.0:
            c = np.subtract(c, shift, out=_scratch("shift", c.size, c.dtype))
        if c.dtype == np.float64:
            return float(np.dot(c, _ones_for(c))), float(np.dot(c, c))
        c64 = _scratch("sums64", c.size, np.float64)
        np.copyto(c64, c)
        s = float(np.add.reduce(c64))
        return s, float(np.add.reduce(np.multiply(c64, c64, out=c64)))

    def decide(self, c: np.ndarray) -> tuple[float, float] | None:
        """Choose the shift from the first chunk ``c`` (without adding it); return its sums
        when the shift is 0 (they are the ones to add), else None."""
        s, ss = self._sums(c, 0.0)
        k = c.size
        m = s / k
        var = ss / k - m * m
        if math.isfinite(var) and (var * self.ratio < m * m or var <= 0.0) and m != 0.0:
            self.shift = float(c.dtype.type(m))
            return None
        self.shift = 0.0
        return s, ss

    def add(self, c: np.ndarray) -> None:
        if self.shift is None:  # the first chunk decides the shift
            first = self.decide(c)
            if first is not None:
                self.add_sums(c.size, *first)
                return
        self.add_sums(c.size, *self._sums(c, self.shift))

    @classmethod
    def of_sums(cls, dtype: np.dtype, k: int, shift: float, s: float, ss: float) -> Moments | None:
        """:meth:`result` for sums (about ``shift``) of ``k`` entries computed elsewhere (the
        kernel's)."""
        acc = cls(dtype)
        acc.shift = shift
        acc.add_sums(k, s, ss)
        return acc.result()

    def add_sums(self, k: int, s: float, ss: float) -> None:
        """Add the sums (about :attr:`shift`) of ``k`` entries computed elsewhere."""
        self.n += k
        self.s += s
        self.ss += ss

    def result(self) -> Moments | None:
        if self.n == 0:
            return None
        d, msq = self.s / self.n, self.ss / self.n
        if not (math.isfinite(d) and math.isfinite(msq)) or msq < self.tiny:
            return None
        var = msq - d * d
        if var * self.ratio < d * d or var <= 0.0:
            return None
        return Moments(self.shift + d, math.sqrt(var), 0)


def _float_flat(x: np.ndarray) -> np.ndarray:
    flat = np.ascontiguousarray(x).reshape(-1)
    if flat.dtype not in _TINY:
        flat = flat.astype(np.float64)
    return flat


def moments(x: np.ndarray) -> Moments:
    """Mean and population std of every entry of ``x``.

    Two BLAS dot products per chunk (see :class:`_Accumulator`), about a shift when |mean| is
    large against the std. Non-finite entries are excluded and counted; when the sums still
    cannot be trusted, a second pass about the mean, or a rescaled float64 pass when squares
    under- or overflow.
    """
    flat = _float_flat(x)
    n = flat.size
    if n == 0:
        return Moments(math.nan, math.nan, 0)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        acc = _Accumulator(flat.dtype)
        step = _sweep_step(flat)
        for a in range(0, n, step):
            acc.add(flat[a : a + step])
        m = acc.result()
        if m is not None:
            return m
        finite = np.isfinite(flat)
        nf = int(n - np.count_nonzero(finite))
        if nf:
            if nf == n:
                return Moments(math.nan, math.nan, nf)
            m = moments(flat[finite])
            return Moments(m.mean, m.std, nf)
        mean = acc.shift + acc.s / acc.n
        if math.isfinite(mean) and acc.ss / acc.n >= acc.tiny:
            return _shifted(flat, mean)  # a first chunk unlike the rest
        return _careful(flat)  # squares under- or overflow


def _shifted(flat: np.ndarray, center: float) -> Moments:
    """Moments about ``center`` (the mean from a first pass): no cancellation."""
    acc = _Accumulator(flat.dtype)
    acc.shift = float(flat.dtype.type(center))
    step = _sweep_step(flat)
    for a in range(0, flat.size, step):
        acc.add(flat[a : a + step])
    return acc.result() or _careful(flat)


def _careful(flat: np.ndarray) -> Moments:
    x = flat.astype(np.float64)
    scale = float(np.max(np.abs(x))) if x.size else 0.0
    if scale == 0.0 or not math.isfinite(scale):
        return Moments(float(np.mean(x)) if scale == 0.0 else math.nan, 0.0 if scale == 0.0 else math.nan, 0)
    x = x / scale  # avoid overflow of squares for huge finite values
    mean = float(np.mean(x))
    x -= mean
    return Moments(mean * scale, math.sqrt(float(np.dot(x, x)) / x.size) * scale, 0)
