"""Per-layer statistics and fixed-edge histograms, computed in as few passes as possible.

All functions are pure and take the array they summarize; statistics are over every entry
(batch x units), std is the population std (ddof 0, as ``np.std``).

How it is fast (figures in ``benchmarks/README.md``; a layer's matrix product is the yardstick):

- When the C kernel :mod:`initlab.engine._fused` is built (``_fused.c``; ``pip install`` compiles it),
  a layer is one vectorized pass on both cores that applies the activation itself (tanh, ReLU,
  leaky ReLU, identity; :func:`kernel_activation`) or, backwards, forms dz = act'(h) * g
  (:func:`kernel_derivative`), and does every per-entry statistic while each block is in L1
  (:meth:`ActivationSummarizer._fused`, :func:`_gradient_fused`); the same statistics as the
  numpy path below over the same activations (tests/test_fused.py). The numpy path remains for
  builds without a compiler, integer arrays, more than 254 bins, layers with non-finite values
  and the activations the kernel does not have (applied by numpy before the kernel's pass).

The numpy path:

- One sweep per layer over cache-sized chunks (:class:`ActivationSummarizer`,
  :func:`gradient_sweep`): a chunk and its scratch stay in L2 while a layer's ~10 passes run
  over it, instead of streaming the whole array from L3 ten times; the activation itself is
  applied chunk by chunk inside the sweep.
- Mean and second moment by two BLAS dot products per chunk (with a vector of ones, and with
  itself), added up in float64. Never ``E[x^2] - mean^2`` under cancellation: when a chunk
  shows |mean| large against the std, the sums are taken about a shift (one more pass);
  squares near under/overflow go to a rescaled float64 pass.
- Histogram bin indices computed once, as uint8 (subtract/multiply with a casting output, into
  reused buffers), counted two at a time: ``np.bincount`` over the uint16 view of the uint8
  indices (a quarter of ``np.histogram``'s time). Every value is counted; values outside the
  range go to ``below``/``above`` by exact comparisons, non-finite ones to ``nonfinite``.
- min/max first (two fast reductions): they decide which other passes a chunk needs (zeros
  only if 0 lies in [min, max], each saturation side only if reached, the histogram's clip and
  out-of-range comparisons only if something is out of range).
- Everything element-wise runs on one core, in the caller's thread (a Python-level second
  thread competes for the GIL; the kernel's worker thread does not).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

try:  # the compiled one-pass kernel (src/initlab/_fused.c); without it, the numpy path below
    from initlab.engine import _fused as KERNEL
except ImportError:  # pragma: no cover - a build without a C compiler
    KERNEL = None

# What ActivationSummarizer._fused returns when the kernel ran but its sums cannot be trusted.
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
        if KERNEL is not None and c.flags.c_contiguous:
            return KERNEL.sums(c, shift)
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


class Histogrammer:
    """Fixed-range histograms (``np.histogram`` bin semantics: half-open bins, the last one
    closed) with reused index buffers, so a layer costs a few vector passes and one bincount.

    Bin index = floor(x * scale + offset), scale = bins / (hi - lo), offset = -lo * scale;
    out-of-range values (only when min/max say there are some) are clipped onto the end bins
    and then moved out by exact comparisons with ``lo`` and ``hi``; index ``bins`` (x == hi)
    joins the last bin. Ties with inner edges are decided by that floating-point arithmetic (as
    numpy's fast path), which can differ from exact edge comparison by one bin for values
    within about 1e-7 (float32) of the range's width from an edge -- except at 0, which is
    exact: when 0 is an edge (symmetric ranges: tanh, gradients) the offset is exactly an
    integer k0 and the index is floor(x * scale) + k0, which keeps the sign of every nonzero
    x (for scale < 1, where a subnormal x * scale could round to -0, the negatives are counted
    instead and the strays moved). A collapsed layer, all of it near 0, is binned exactly.
    """

    def __init__(self, lo: float, hi: float, bins: int):
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi and bins >= 1):
            raise ValueError(f"bad histogram range [{lo}, {hi}] x {bins}")
        self.lo, self.hi, self.bins = float(lo), float(hi), int(bins)
        self.edges = np.linspace(self.lo, self.hi, self.bins + 1)
        self._scale = self.bins / (self.hi - self.lo)
        offset = -self.lo * self._scale
        k0 = round(offset)
        self._zero_edge = k0 if 0 < k0 < self.bins and abs(offset - k0) <= 1e-9 * self.bins else None
        if self._zero_edge is not None:
            self.edges[k0] = 0.0
        self._floor = self._zero_edge is not None and self._scale >= 1.0
        # floor() may put x == lo at -1 (lo * scale rounds below -k0): index slots are shifted
        # by one then, slot 0 joining bin 0
        self._shift = 1 if self._floor else 0
        self._offset = float(k0 + self._shift) if self._zero_edge is not None else offset
        self._slots = self.bins + 1 + self._shift  # indices 0 .. bins (+ shift)

    def kernel_spec(self) -> tuple | None:
        """This histogram for :mod:`initlab.engine._fused` (bins, mode, k0, scale, offset, lo, hi), or
        None when it has too many bins for uint8 slots (then the numpy path counts)."""
        if self.bins + 2 > 256:
            return None
        if self._zero_edge is None:
            return (self.bins, 0, 0, self._scale, self._offset, self.lo, self.hi)
        if self._floor:  # floor(x * scale) + k0
            return (self.bins, 1, self._zero_edge, self._scale, 0.0, self.lo, self.hi)
        return (self.bins, 2, self._zero_edge, self._scale, float(self._zero_edge), self.lo, self.hi)

    def kernel_counts(self, raw: np.ndarray) -> tuple[np.ndarray, int, int]:
        """(counts, below, above) from the kernel's ``bins + 2`` slots."""
        return raw[: self.bins].copy(), int(raw[self.bins]), int(raw[self.bins + 1])

    def count(self, f: np.ndarray, mn: float | None = None, mx: float | None = None
              ) -> tuple[np.ndarray, int, int]:
        """(counts, below, above) of the finite 1-D array ``f`` whose min/max are ``mn``/``mx``
        (computed when not given). Thread-safe: buffers are per thread."""
        spec = self.kernel_spec() if KERNEL is not None and f.dtype in _TINY else None
        if spec is not None and f.size:
            raw = np.zeros(self.bins + 2, np.int64)
            KERNEL.summary(np.ascontiguousarray(f), f.size, 0.0, spec, raw, None, None)
            return self.kernel_counts(raw)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            acc = self.accumulator()
            step = _sweep_step(f)
            for a in range(0, f.size, step):
                self.add(acc, f[a : a + step], mn, mx)
            return self.finish(acc)

    def accumulator(self) -> list:
        """[raw counts, below, above, unpaired, negatives]: what :meth:`add` accumulates."""
        size = 256 * self._slots if self._slots <= 256 else self._slots
        return [np.zeros(size, np.int64), 0, 0, 0, 0]

    def add(self, acc: list, f: np.ndarray, mn: float | None = None, mx: float | None = None) -> None:
        """Count the finite 1-D array ``f`` (min/max ``mn``/``mx``, computed when not given)
        into ``acc``."""
        n = f.size
        if n == 0:
            return
        if mn is None:
            mn, mx = float(f.min()), float(f.max())
        lo, hi = self.lo, self.hi
        out_low, out_high = mn < lo, mx > hi
        if out_low or out_high:
            bo = _scratch("bool", n, np.bool_)
            if out_low:
                acc[1] += int(np.count_nonzero(np.less(f, lo, out=bo)))
            if out_high:
                acc[2] += int(np.count_nonzero(np.greater(f, hi, out=bo)))
        if self._zero_edge is not None and not self._floor and mn < 0.0:
            acc[4] += n if mx < 0.0 else int(np.count_nonzero(np.less(f, 0, out=_scratch("bool", n, np.bool_))))
        small = self._slots <= 256  # uint8 indices, counted two at a time
        idx = _scratch("hist_u8", n, np.uint8) if small else _scratch("hist_intp", n, np.intp)
        if out_low or out_high:  # out-of-range values onto the end bins (then moved out)
            t = _scratch("hist_t", n, f.dtype)
            if out_low and out_high:
                np.clip(f, lo, hi, out=t)
            elif out_high:
                np.minimum(f, hi, out=t)
            else:
                np.maximum(f, lo, out=t)
            f = t
        if self._offset == 0.0:  # lo == 0: one pass, truncation == floor for x >= 0
            np.multiply(f, self._scale, out=idx, casting="unsafe")
        else:
            t = np.multiply(f, self._scale, out=_scratch("hist_t", n, f.dtype))
            if self._floor:
                np.floor(t, out=t)
            # the casting output truncates: floor for t + offset >= 0 (or in (-1, 0), at lo)
            np.add(t, self._offset, out=idx, casting="unsafe")
        raw = acc[0]
        if small:
            # np.bincount over the uint16 view counts two entries per step: pair value
            # a + 256 b lands at [b, a] of a (slots, 256) table (see finish)
            m = n & ~1
            if m:
                raw += np.bincount(idx[:m].view(np.uint16), minlength=raw.size)[: raw.size]
            if n & 1:  # the last entry has no partner: count it as the pair (idx, 0) ...
                raw[int(idx[n - 1])] += 1
                acc[3] += 1  # ... and remember the phantom 0 for finish()
        else:
            raw += np.bincount(idx, minlength=raw.size)[: raw.size]

    def finish(self, acc: list) -> tuple[np.ndarray, int, int]:
        """(counts, below, above) from an accumulator."""
        bins, k = self.bins, self._slots
        raw, below, above = acc[0], acc[1], acc[2]
        if k <= 256:
            table = raw.reshape(k, 256)[:, :k]
            slots = table.sum(axis=0) + table.sum(axis=1)
            slots[0] -= acc[3]  # the unpaired entries' phantom partners
        else:
            slots = raw.copy()
        if self._shift:  # slot 0: x == lo rounded below the first edge
            slots[1] += slots[0]
            slots = slots[1:]
        slots[bins - 1] += slots[bins]  # x == hi (and clipped x > hi) sit at index `bins`
        counts = slots[:bins].astype(np.int64)
        counts[0] -= below
        counts[bins - 1] -= above
        if self._zero_edge is not None and not self._floor:  # negatives rounded onto the 0 edge
            k0 = self._zero_edge
            moved = (acc[4] - below) - int(counts[:k0].sum())
            counts[k0] -= moved
            counts[k0 - 1] += moved
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


def _dead_units(h: np.ndarray, zeros: int) -> int:
    """Columns of the 2-D ``h`` that are all zero, given its number of ``zeros``."""
    if h.ndim != 2 or zeros < h.shape[0] or h.size == 0:  # too few zeros to fill a column
        return 0
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
    """Every forward statistic of one layer, in one sweep over cache-sized chunks of whole rows.

    Per chunk: the pre-activation's sums, the activation itself (``fn(z, out=h)``), min and
    max (they decide which other passes the chunk needs: zeros only if 0 lies in [min, max],
    dead-unit tracking only while every chunk has zeros, each saturation side only if a value
    reaches it, the histogram's clip and out-of-range comparisons only if some value is out of
    range), the histogram indices and counts, and the activation's sums. Moments are
    recomputed over the whole array only when the chunked sums cannot be trusted (see
    :class:`_Accumulator`).
    """

    def __init__(self, saturation: tuple[float, float] | None, hist: Histogrammer | None):
        self.saturation = saturation
        self.hist = hist

    def __call__(self, h: np.ndarray) -> ActivationStats:
        """The statistics of the activations ``h``."""
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            done = self._fused(None, None, h)
            return (done if isinstance(done, tuple) else self._sweep(None, None, h))[1]

    def sweep(self, z: np.ndarray, act, out: np.ndarray) -> tuple[Moments, ActivationStats]:
        """Apply the activation ``act`` (an :class:`initlab.engine.activations.Activation`) to ``z``
        into ``out`` (which must not overlap ``z``) and return the moments of ``z`` and the
        statistics of ``out``."""
        with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
            done = self._fused(z, act, out)
            if done is None:  # the kernel does not apply: the numpy sweep does everything
                return self._sweep(z, act.fn, out)
            if done is _UNTRUSTED:  # out holds act(z): the numpy path over it, z's moments apart
                return moments(z), self._sweep(None, None, out)[1]
            return done

    def _fused(self, z, act, h) -> tuple[Moments | None, ActivationStats] | None:
        """The layer with :mod:`initlab.engine._fused`: one kernel call that applies the activation
        (the kernel's own, see :func:`kernel_activation`; else numpy's over the whole layer
        first) and does every per-entry statistic of ``h`` and the sums of ``z`` in the same
        pass, in chunks on the two cores. None when the kernel does not apply (no kernel, an
        integer dtype, more than 254 bins; nothing done yet); ``_UNTRUSTED`` when the layer's
        sums cannot be trusted (non-finite entries, squares near underflow, cancellation):
        then ``h`` is complete and the caller takes the numpy path over it."""
        hist, bounds = self.hist, self.saturation
        if KERNEL is None or h.dtype not in _TINY or h.size == 0 or not h.flags.c_contiguous:
            return None
        if z is not None and (z.dtype != h.dtype or not z.flags.c_contiguous):
            return None
        spec, raw = _kernel_hist(hist)
        if spec is False:
            return None
        rows = h.shape[0] if h.ndim >= 2 else 1
        cols = h.size // rows
        hf = h.reshape(-1)
        code, alpha = 0, 0.0
        zf = None
        if z is not None:
            zf = z.reshape(-1)
            fused = kernel_activation(act, h.dtype)
            if fused is None:
                KERNEL.prepare()  # the worker wakes while the activation runs
                act.fn(z, out=h)
            else:
                code, alpha = fused
        alive = np.zeros(cols, np.uint8) if rows > 1 else None  # dead units need two examples
        s, ss, zeros, sat, zs, zss, hshift, zshift = KERNEL.summary(
            hf, cols, math.nan, spec, raw, bounds, alive, zf, math.nan, code, alpha)
        mh = _Accumulator.of_sums(h.dtype, hf.size, hshift, s, ss)
        if mh is None:
            return _UNTRUSTED
        mz = None
        if zf is not None:
            mz = _Accumulator.of_sums(z.dtype, zf.size, zshift, zs, zss) or moments(z)
        hs = Histogram(hist.edges, *hist.kernel_counts(raw), 0) if hist is not None else None
        n = h.size
        dead = int(cols - np.count_nonzero(alive)) if alive is not None else 0
        return mz, ActivationStats(mh, zeros / n, dead, None if bounds is None else sat / n, hs)

    def _sweep(self, z, fn, h) -> tuple[Moments | None, ActivationStats]:
        n = h.size
        if n == 0:
            empty = Moments(math.nan, math.nan, 0)
            return empty, ActivationStats(empty, 0.0, 0, None, None)
        # chunks of whole rows, so that dead units can be tracked chunk by chunk
        h2 = h.reshape(h.shape[0], -1) if h.ndim >= 2 else h.reshape(1, -1)
        z2 = z.reshape(h2.shape) if z is not None else None
        rows, cols = h2.shape
        step = max(1, _sweep_step(h2) // cols) if rows > 1 else 1
        zacc = _Accumulator(h2.dtype) if z is not None else None
        hacc = _Accumulator(h2.dtype)
        mz = None
        hist, bounds = self.hist, self.saturation
        hacc_hist = hist.accumulator() if hist is not None else None
        mn, mx = math.inf, -math.inf
        nf = zeros = sat = 0
        alive = None  # columns seen nonzero, tracked while every chunk so far has zeros
        track = rows > 1
        for r in range(0, rows, step):
            hc2 = h2[r : r + step]
            hc = hc2.reshape(-1)
            if z is not None:
                zc = z2[r : r + step].reshape(-1)
                if zacc is not None:
                    zacc.add(zc)
                fn(zc, out=hc)
            cmn, cmx = float(hc.min()), float(hc.max())
            f = hc
            bad = 0
            if not (math.isfinite(cmn) and math.isfinite(cmx)):  # rare: an overflowed layer
                fin = np.isfinite(hc)
                bad = int(hc.size - np.count_nonzero(fin))
                if bad:
                    f = hc[fin]
                    cmn, cmx = (float(f.min()), float(f.max())) if f.size else (math.inf, -math.inf)
                nf += bad
            mn, mx = min(mn, cmn), max(mx, cmx)
            cz = 0
            if cmn <= 0.0 <= cmx:
                cz = int(np.count_nonzero(np.equal(f, 0, out=_scratch("bool", f.size, np.bool_))))
                zeros += cz
            if track:
                if cz == 0 and not bad:  # every column has a nonzero entry in this chunk
                    track = False
                else:  # NaN and inf count as nonzero, as in (h == 0).all(axis=0)
                    seen = np.maximum.reduce(hc2, axis=0) != 0
                    if bad or cmn < 0.0:
                        seen |= np.minimum.reduce(hc2, axis=0) != 0
                    alive = seen if alive is None else (alive | seen)
                    if alive.all():  # every unit has fired: none can be dead
                        track = False
            if bounds is not None:
                # inf counts as saturated, NaN does not: with non-finite values compare everything
                sat += _saturated(hc, bounds, -math.inf if bad else cmn, math.inf if bad else cmx)
            if hist is not None and f.size:
                hist.add(hacc_hist, f, cmn, cmx)
            if not bad:
                hacc.add(hc)
        if zacc is not None:
            mz = zacc.result() or moments(z)
        mh = (hacc.result() if not nf else None) or moments(h)
        hs = None
        if hist is not None:
            counts, below, above = hist.finish(hacc_hist)
            hs = Histogram(hist.edges, counts, below, above, nf)
        dead = int(cols - np.count_nonzero(alive)) if track and alive is not None else 0
        return mz, ActivationStats(mh, zeros / n, dead, None if bounds is None else sat / n, hs)


def gradient_sweep(g: np.ndarray, s: np.ndarray, out: np.ndarray, local, hist: Histogrammer | None,
                   fused: tuple[int, float] | None = None
                   ) -> tuple[Moments, Histogram | None, Moments]:
    """One backward layer in one sweep over cache-sized chunks: the moments and histogram of
    the gradient ``g`` = dL/dh, then ``local(s_part, g_part, out_part)`` (which writes
    dz = act'(s) * g into ``out``) while the chunk of ``g`` is in cache, then the moments of dz.
    ``fused``: the kernel's code for the same local gradient (:func:`kernel_derivative`), so
    that the kernel forms dz in its own pass. Returns (moments of g, histogram of g or None,
    moments of dz)."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        done = _gradient_fused(g, s, out, local, hist, fused)
        if done is not None:
            return done
        gf, sf, of = g.reshape(-1), s.reshape(-1), out.reshape(-1)
        n = gf.size
        gacc, dacc = _Accumulator(gf.dtype), _Accumulator(of.dtype)
        hacc = hist.accumulator() if hist is not None else None
        nf = 0
        step = _sweep_step(gf)
        for a in range(0, n, step):
            gc = gf[a : a + step]
            if hist is not None:
                cmn, cmx = float(gc.min()), float(gc.max())
                f = gc
                if not (math.isfinite(cmn) and math.isfinite(cmx)):
                    fin = np.isfinite(gc)
                    bad = int(gc.size - np.count_nonzero(fin))
                    nf += bad
                    if bad:
                        f = gc[fin]
                        cmn, cmx = (float(f.min()), float(f.max())) if f.size else (0.0, 0.0)
                if f.size:
                    hist.add(hacc, f, cmn, cmx)
            gacc.add(gc)
            dacc.add(local(sf[a : a + step], gc, of[a : a + step]))
        mg = gacc.result() or moments(g)
        md = dacc.result() or moments(out)
        hg = None
        if hist is not None:
            counts, below, above = hist.finish(hacc)
            hg = Histogram(hist.edges, counts, below, above, nf)
        return mg, hg, md


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
            rx = (x @ _ones(fan_in, x.dtype.str)).astype(np.float64)  # row sums by BLAS
            rz = (dz @ _ones(fan_out, dz.dtype.str)).astype(np.float64)
            s = float(np.dot(rx, rz))
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


# Activations that the kernel applies itself, by name: (code, parameter name or None).
_KERNEL_ACTS = {"linear": (1, None), "tanh": (2, None), "relu": (3, None),
                "leaky_relu": (4, "negative_slope")}


def _kernel_code(act) -> tuple[int, float] | None:
    """(code, parameter) of ``act`` in the kernel's table, or None."""
    entry = _KERNEL_ACTS.get(act.name) if KERNEL is not None else None
    if entry is None:
        return None
    code, param = entry
    return code, float(act.params[param]) if param else 0.0


def kernel_info() -> dict:
    """What does the per-layer pass: ``{"built": False, "float32_tanh": "numpy"}`` without the C
    kernel (the numpy path), else ``built`` True and, from :func:`initlab.engine._fused.build_info`,
    ``target`` (the instruction-set variant chosen at import: avx512, avx2, baseline or native),
    ``compiler``, ``flags`` and ``tanh_fma`` (how its tanh's exact fused multiply-adds are done),
    with ``float32_tanh`` "tanh_f32" (the kernel's, the same bits in every variant)."""
    if KERNEL is None:
        return {"built": False, "float32_tanh": "numpy"}
    info = KERNEL.build_info()
    return {"built": True, "target": info["target"], "compiler": info["compiler"],
            "flags": info["flags"], "tanh_fma": info["tanh_fma"], "float32_tanh": "tanh_f32"}


def kernel_activation(act, dtype) -> tuple[int, float] | None:
    """(code, parameter) of the activation ``act`` in :func:`initlab.engine._fused.summary`, or None
    when numpy applies it. The kernel's ReLU, leaky ReLU and identity give numpy's values bit
    for bit; its float32 tanh is its own (within 1.08 ulp of the exact tanh over every float32,
    numpy's 1.37 on the machine measured; the same bits on every machine and in every
    instruction-set variant of the kernel: its fused multiply-adds are exact everywhere);
    float64 tanh is numpy's."""
    found = _kernel_code(act)
    if found is not None and found[0] == 2 and np.dtype(dtype) != np.float32:
        return None
    return found


def kernel_derivative(act, dtype) -> tuple[int, float] | None:
    """(code, parameter) for the kernel to form dz = act'(h) * g itself (numpy's operations in
    numpy's order, so the same bits as :func:`initlab.engine.network.local_gradient`), or None: only
    for activations whose derivative is a function of their output."""
    if act.deriv_from != "output" or np.dtype(dtype) not in _TINY:
        return None
    return _kernel_code(act)


def _kernel_hist(hist: Histogrammer | None):
    """(spec, counts buffer) for :func:`initlab.engine._fused.summary`: (None, None) without a
    histogram, (False, None) when the kernel cannot count it (more than 254 bins)."""
    if hist is None:
        return None, None
    spec = hist.kernel_spec()
    if spec is None:
        return False, None
    return spec, np.zeros(hist.bins + 2, np.int64)


def _gradient_fused(g, s, out, local, hist: Histogrammer | None, fused=None):
    """:func:`gradient_sweep` with the kernel: one kernel call for the moments and histogram
    of ``g`` and the sums of dz, on the two cores, dz formed in the same pass (``fused``) or
    by ``local`` over the whole layer first (numpy). None when it does not apply or the sums
    of ``g`` cannot be trusted (then the caller redoes the sweep with numpy)."""
    if KERNEL is None or g.dtype not in _TINY or g.size == 0 or out.dtype != g.dtype or not (
            g.flags.c_contiguous and out.flags.c_contiguous):
        return None
    spec, raw = _kernel_hist(hist)
    if spec is False:
        return None
    gf, of = g.reshape(-1), out.reshape(-1)
    cols = g.shape[-1] if g.ndim >= 2 else g.size
    if fused is not None and s.dtype == g.dtype and s.shape == g.shape and s.flags.c_contiguous:
        code, alpha = fused
        sg, ssg, _, _, sd, ssd, gshift, dshift = KERNEL.summary(
            gf, cols, math.nan, spec, raw, None, None, of, math.nan, code, alpha, s.reshape(-1))
    else:
        KERNEL.prepare()
        local(s, g, out)
        sg, ssg, _, _, sd, ssd, gshift, dshift = KERNEL.summary(gf, cols, math.nan, spec, raw, None,
                                                                None, of, math.nan)
    mg = _Accumulator.of_sums(g.dtype, gf.size, gshift, sg, ssg)
    if mg is None:
        return None
    md = _Accumulator.of_sums(out.dtype, of.size, dshift, sd, ssd) or moments(out)
    hg = Histogram(hist.edges, *hist.kernel_counts(raw), 0) if hist is not None else None
    return mg, hg, md
