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
from dataclasses import dataclass

import numpy as np

from initlab.engine import kernel
from initlab.engine.histograms import Histogram, Histogrammer, _kernel_hist  # noqa: F401
from initlab.engine.kernel import kernel_activation, kernel_derivative, kernel_info  # noqa: F401
from initlab.engine.moments import (  # noqa: F401
    _SHIFT_RATIO, _TINY, _UNTRUSTED, Moments, _Accumulator, _float_flat, _ones, _ones_for, _scratch, _sweep_step,
    moments, release_buffers)


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
        if kernel.KERNEL is None or h.dtype not in _TINY or h.size == 0 or not h.flags.c_contiguous:
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
                kernel.KERNEL.prepare()  # the worker wakes while the activation runs
                act.fn(z, out=h)
            else:
                code, alpha = fused
        alive = np.zeros(cols, np.uint8) if rows > 1 else None  # dead units need two examples
        s, ss, zeros, sat, zs, zss, hshift, zshift = kernel.KERNEL.summary(
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


def _gradient_fused(g, s, out, local, hist: Histogrammer | None, fused=None):
    """:func:`gradient_sweep` with the kernel: one kernel call for the moments and histogram
    of ``g`` and the sums of dz, on the two cores, dz formed in the same pass (``fused``) or
    by ``local`` over the whole layer first (numpy). None when it does not apply or the sums
    of ``g`` cannot be trusted (then the caller redoes the sweep with numpy)."""
    if kernel.KERNEL is None or g.dtype not in _TINY or g.size == 0 or out.dtype != g.dtype or not (
            g.flags.c_contiguous and out.flags.c_contiguous):
        return None
    spec, raw = _kernel_hist(hist)
    if spec is False:
        return None
    gf, of = g.reshape(-1), out.reshape(-1)
    cols = g.shape[-1] if g.ndim >= 2 else g.size
    if fused is not None and s.dtype == g.dtype and s.shape == g.shape and s.flags.c_contiguous:
        code, alpha = fused
        sg, ssg, _, _, sd, ssd, gshift, dshift = kernel.KERNEL.summary(
            gf, cols, math.nan, spec, raw, None, None, of, math.nan, code, alpha, s.reshape(-1))
    else:
        kernel.KERNEL.prepare()
        local(s, g, out)
        sg, ssg, _, _, sd, ssd, gshift, dshift = kernel.KERNEL.summary(gf, cols, math.nan, spec, raw, None,
                                                                None, of, math.nan)
    mg = _Accumulator.of_sums(g.dtype, gf.size, gshift, sg, ssg)
    if mg is None:
        return None
    md = _Accumulator.of_sums(out.dtype, of.size, dshift, sd, ssd) or moments(out)
    hg = Histogram(hist.edges, *hist.kernel_counts(raw), 0) if hist is not None else None
    return mg, hg, md
