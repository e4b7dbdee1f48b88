"""Fixed-edge histograms: every value counted (below/above the range and non-finite ones
apart), bin indices as uint8 counted two at a time, or by the kernel in its one pass."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from initlab.engine import kernel
from initlab.engine.moments import _TINY, _scratch, _sweep_step

# --- ranges --------------------------------------------------------------------------------

# Histogram edges stay within +-MAX_HIST_ABS: matplotlib's axis arithmetic (margins, ticks)
# overflows float64 near its maximum (1.8e308; a range of [-8e307, 8e307] already fails).
MAX_HIST_ABS = 1e300


def range_problem(lo: float, hi: float, bins: int) -> str | None:
    """Why ``[lo, hi]`` in ``bins`` bins cannot be a histogram's range, or None when it can:
    finite ends within +-:data:`MAX_HIST_ABS`, ``lo < hi``, and bins that float64 can tell
    apart (width ``(hi - lo) / bins`` at least the smallest normal float64, 2.2e-308, and every
    edge distinct)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "its ends must be finite numbers"
    if not lo < hi:
        return "needs low < high"
    if max(abs(lo), abs(hi)) > MAX_HIST_ABS:
        return f"its ends must lie within +-{MAX_HIST_ABS:g} (figures cannot draw wider ranges)"
    width = (hi - lo) / bins
    if not width >= sys.float_info.min:
        return (f"its {bins} bins would be {width:.3g} wide, narrower than float64 can tell apart "
                f"(at least {sys.float_info.min:.3g})")
    edges = np.linspace(lo, hi, bins + 1)
    if not np.all(np.diff(edges) > 0):
        return f"its {bins} bins are narrower than float64 can tell apart at this magnitude"
    return None


def drawable_range(lo: float, hi: float, bins: int) -> tuple[float, float]:
    """``[lo, hi]`` made a range :func:`range_problem` accepts: infinite or huge ends clipped to
    +-:data:`MAX_HIST_ABS`, a range too narrow for its bins widened about its centre to the
    narrowest one float64 resolves. For ranges derived from data or from an activation's
    parameters (a leaky slope of 1e308 gives [-inf, 4]); a range the user wrote is refused
    instead (:mod:`initlab.config.parse`)."""
    lo = -MAX_HIST_ABS if not lo > -MAX_HIST_ABS else float(lo)  # NaN and -inf included
    hi = MAX_HIST_ABS if not hi < MAX_HIST_ABS else float(hi)
    if lo > hi:
        lo, hi = hi, lo
    mid = 0.5 * lo + 0.5 * hi
    half = max(0.5 * (hi - lo), bins * max(sys.float_info.min, 4 * abs(mid) * sys.float_info.epsilon))
    lo, hi = mid - half, mid + half
    if range_problem(lo, hi, bins) is not None:  # pragma: no cover - safety net
        lo, hi = -1.0, 1.0
    return lo, hi


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
        spec = self.kernel_spec() if kernel.KERNEL is not None and f.dtype in _TINY else None
        if spec is not None and f.size:
            raw = np.zeros(self.bins + 2, np.int64)
            kernel.KERNEL.summary(np.ascontiguousarray(f), f.size, 0.0, spec, raw, None, None)
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


def _kernel_hist(hist: Histogrammer | None):
    """(spec, counts buffer) for :func:`initlab.engine._fused.summary`: (None, None) without a
    histogram, (False, None) when the kernel cannot count it (more than 254 bins)."""
    if hist is None:
        return None, None
    spec = hist.kernel_spec()
    if spec is None:
        return False, None
    return spec, np.zeros(hist.bins + 2, np.int64)
