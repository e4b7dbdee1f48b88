"""Gaussian expectations by fixed composite Gauss-Legendre rules (numpy only).

``E[f(sqrt(q) z)]`` and ``E[f(u1) g(u2)]`` for a correlated Gaussian pair, with panels that put
an activation's kinks on panel edges and grade geometrically toward them, so that tiny ``q``
(1e-12) and saturated ``q`` (1e4) are both accurate to ~1e-10 (80-node Gauss-Hermite gets
E[tanh(sqrt(500) z)^2] wrong in the fourth digit). The engine uses them for an activation's
variance gain; :mod:`initlab.theory` for every mean-field integral.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
from numpy.polynomial.legendre import leggauss

Array = np.ndarray

_SQRT_2PI = math.sqrt(2.0 * math.pi)

# Work arrays are kept below this many float64 entries per chunk (memory, cache).
_CHUNK = 1_500_000

# --- quadrature ------------------------------------------------------------------------------

_GL_CACHE: dict[int, tuple[Array, Array]] = {}


def _gl(n: int) -> tuple[Array, Array]:
    if n not in _GL_CACHE:
        _GL_CACHE[n] = leggauss(n)
    return _GL_CACHE[n]


def _panels(edges: Array, n: int) -> tuple[Array, Array]:
    """Composite ``n``-point Gauss-Legendre nodes and weights on the panels between
    consecutive ``edges`` (sorted along the last axis); zero-width panels get zero weight."""
    t, w = _gl(n)
    a = edges[..., :-1, None]
    b = edges[..., 1:, None]
    half = 0.5 * (b - a)
    x = (0.5 * (a + b) + half * t).reshape(*edges.shape[:-1], -1)
    wx = (half * w).reshape(*edges.shape[:-1], -1)
    return x, wx


# 1-D rule: panels from 0 outwards grow by _RATIO_1D, from LO = _LO_1D * min(sqrt(q), 1) (the
# smaller of the Gaussian's scale and the O(1) scale of the activation's features) to
# _TAIL * sqrt(q) (the density there is e^-84). 10 nodes per panel. Against adaptive quadrature
# this gives ~1e-13 relative error on tanh^2, relu, erf^2, hardtanh^2 for q in [1e-12, 1e4].
_RATIO_1D = 2.0
_LO_1D = 0.05
_TAIL = 13.0
_N_1D = 10


def _rule_1d(q: Array, breakpoints: Sequence[float] = ()) -> tuple[Array, Array]:
    """Nodes ``x`` and weights ``w`` (shape (len(q), N)) with ``sum(w * f(x)) ~ E[f(u)]``,
    u ~ N(0, q), for q > 0. 0 and ``breakpoints`` are panel edges."""
    s = np.sqrt(q)
    lo = _LO_1D * np.minimum(s, 1.0)
    hi = _TAIL * s
    steps = max(1, int(math.ceil(float(np.max(np.log(hi / lo))) / math.log(_RATIO_1D))))
    pos = lo[:, None] * (hi / lo)[:, None] ** (np.arange(steps + 1) / steps)[None, :]
    parts = [-pos[:, ::-1], np.zeros((len(q), 1)), pos]
    extra = [float(b) for b in breakpoints if b != 0]
    if extra:
        parts.append(np.clip(np.array(extra)[None, :], -hi[:, None], hi[:, None]))
    edges = np.sort(np.concatenate(parts, axis=1), axis=1)
    x, w = _panels(edges, _N_1D)
    w *= np.exp(-0.5 * x * x / q[:, None]) / (_SQRT_2PI * s[:, None])
    return x, w


def _as_q(q) -> tuple[Array, tuple]:
    qa = np.asarray(q, dtype=np.float64)
    if not np.all(np.isfinite(qa)) or np.any(qa < 0):
        raise ValueError("q must be finite and >= 0")
    return qa.ravel(), qa.shape


def _evaluate(f: Callable, x: Array) -> Array:
    return np.broadcast_to(np.asarray(f(x), dtype=np.float64), x.shape)


def _expect_1d(fs: Callable[[Array], Sequence[Array]], q: Array, breakpoints) -> Array:
    """``E[F(u)]`` for every output F of ``fs`` (which maps nodes to a tuple of arrays), for
    each q of the flat array ``q``; shape (len(fs output), len(q))."""
    out = None
    zero = q == 0
    if zero.any():
        vals = fs(np.zeros(1))
        out = np.empty((len(vals), q.size))
        for k, v in enumerate(vals):
            out[k, zero] = np.broadcast_to(np.asarray(v, dtype=np.float64), (1,))[0]
    idx = np.flatnonzero(~zero)
    if idx.size:
        # one row of nodes has ~200-500 entries
        per = max(1, _CHUNK // 512)
        for start in range(0, idx.size, per):
            sel = idx[start:start + per]
            x, w = _rule_1d(q[sel], breakpoints)
            vals = fs(x)
            if out is None:
                out = np.empty((len(vals), q.size))
            for k, v in enumerate(vals):
                out[k, sel] = np.sum(w * np.broadcast_to(np.asarray(v, dtype=np.float64), x.shape),
                                     axis=1)
    return out


def gaussian_expectation(f: Callable[[Array], Array], q, breakpoints: Sequence[float] = ()):
    """``E[f(sqrt(q) z)]``, z ~ N(0, 1), for a scalar or an array of ``q >= 0``.

    ``f`` maps an array elementwise. The rule is a fixed composite Gauss-Legendre quadrature
    in ``x = sqrt(q) z``: 10 nodes per panel, panel edges at 0 and at
    ``+-lo * r**k`` growing geometrically (ratio <= 2) from ``lo = 0.05 min(sqrt(q), 1)`` to
    ``13 sqrt(q)``, plus ``breakpoints`` (points other than 0 where ``f`` has a kink or a
    jump). Both scales that matter, the Gaussian's ``sqrt(q)`` and the O(1) scale of an
    activation's features, are resolved, and a kink at 0 (ReLU) falls on a panel edge, so the
    result is accurate to ~1e-12 relative for q from 1e-12 to 1e4: E[tanh(sqrt(500) z)^2] =
    0.9643468148 (80-node Gauss-Hermite: 0.9996). ``q = 0`` gives ``f(0)``.

    Returns a float for scalar ``q``, else an array of ``q``'s shape.
    """
    qf, shape = _as_q(q)
    res = _expect_1d(lambda x: (_evaluate(f, x),), qf, breakpoints)[0]
    return float(res[0]) if shape == () else res.reshape(shape)


# 2-D rule, in polar coordinates of the two independent normals (z1, z2) behind
#   u1 = sqrt(q) (cos(b) z1 + sin(b) z2) = sqrt(q) r cos(t - b),
#   u2 = sqrt(q) (cos(b) z1 - sin(b) z2) = sqrt(q) r cos(t + b),   cos(2b) = c.
# The lines u1 = 0 and u2 = 0 are rays, so they bound four angular sectors in which the
# integrand is smooth; angular panels are graded toward the rays (where a saturating activation
# changes over an angle ~ 1/(sqrt(q) r)) and radial ones toward r = 0 (features at
# r ~ 1/sqrt(q)). Kinks at u = b != 0 are curves r = b / (sqrt(q) cos(.)), inserted as radial
# panel edges node by node. 6 nodes per panel: errors ~1e-10 (relu, erf, tanh), ~1e-8
# (hardtanh) against closed forms and a fine reference rule, for q in [1e-8, 500], |c| <= 1.
_RADII = np.array([0.0, 0.7, 1.4, 2.1, 2.9, 3.8, 4.9, 6.3, 9.0])  # r e^(-r^2/2) ~ 2e-17 at 9
_N_2D = 6
_ANGLE_SCALE = 0.3  # finest angular panel ~ _ANGLE_SCALE / sqrt(q)
_RADIUS_SCALE = 0.25  # finest radial panel ~ _RADIUS_SCALE / sqrt(q)


def _polar_rule(q: Array, c: Array, breakpoints: Sequence[float]) -> tuple[Array, Array, Array]:
    """Nodes ``u1, u2`` and weights ``w`` (shape (len(q), N)) with
    ``sum(w * F(u1, u2)) ~ E[F(u1, u2)]`` for the pair of variance q, correlation c."""
    m = q.size
    sq = np.sqrt(q)
    beta = 0.5 * np.arccos(c)
    start = -beta - 0.5 * np.pi
    ends = np.stack([start, beta - 0.5 * np.pi, 0.5 * np.pi - beta, beta + 0.5 * np.pi,
                     start + 2.0 * np.pi], axis=1)  # (m, 5): four sectors
    half = 0.5 * np.diff(ends, axis=1)  # (m, 4)
    finest = float(np.max(half * sq[:, None]))
    levels = int(math.ceil(math.log2(finest / _ANGLE_SCALE))) if finest > _ANGLE_SCALE else 0
    frac = 2.0 ** -np.arange(1, levels + 1)
    a_edges = np.concatenate([
        ends[:, :-1, None],
        ends[:, :-1, None] + half[:, :, None] * frac,
        (ends[:, :-1] + half)[:, :, None],
        ends[:, 1:, None] - half[:, :, None] * frac,
        ends[:, 1:, None],
    ], axis=2)
    a_edges.sort(axis=2)
    theta, w_theta = _panels(a_edges, _N_2D)
    theta = theta.reshape(m, -1)
    w_theta = w_theta.reshape(m, -1)
    n_theta = theta.shape[1]
    cos1 = np.cos(theta - beta[:, None])
    cos2 = np.cos(theta + beta[:, None])

    with np.errstate(divide="ignore", over="ignore"):
        graded = (_RADIUS_SCALE / sq)[:, None] * 2.0 ** np.arange(40)[None, :]
    graded = np.where(graded < _RADII[1], graded, 0.0)
    keep = int(np.max(np.sum(graded > 0, axis=1)))
    graded = -np.sort(-graded, axis=1)[:, :keep]
    r_edges = np.concatenate([np.broadcast_to(_RADII, (m, _RADII.size)), graded], axis=1)
    r_edges = np.broadcast_to(r_edges[:, None, :], (m, n_theta, r_edges.shape[1]))
    kinks = []
    for b in breakpoints:
        if b == 0:
            continue
        for cs in (cos1, cos2):
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                rb = b / (sq[:, None] * cs)
            kinks.append(np.where((rb > 0) & (rb < _RADII[-1]), rb, 0.0)[:, :, None])
    if kinks:
        r_edges = np.concatenate([r_edges] + kinks, axis=2)
    r_edges = np.sort(r_edges, axis=2)
    r, w_r = _panels(r_edges, _N_2D)
    w = w_theta[:, :, None] * w_r * r * np.exp(-0.5 * r * r) / (2.0 * np.pi)
    u1 = sq[:, None, None] * r * cos1[:, :, None]
    u2 = sq[:, None, None] * r * cos2[:, :, None]
    return u1.reshape(m, -1), u2.reshape(m, -1), w.reshape(m, -1)


def _as_qc(q, c) -> tuple[Array, Array, tuple]:
    qa, ca = np.broadcast_arrays(np.asarray(q, dtype=np.float64), np.asarray(c, dtype=np.float64))
    if not np.all(np.isfinite(qa)) or np.any(qa < 0):
        raise ValueError("q must be finite and >= 0")
    if not np.all(np.isfinite(ca)) or np.any(np.abs(ca) > 1 + 1e-12):
        raise ValueError("c must lie in [-1, 1]")
    return qa.ravel(), np.clip(ca.ravel(), -1.0, 1.0), qa.shape


def _expect_2d(fs: Callable[[Array, Array], Sequence[Array]], q: Array, c: Array,
               breakpoints) -> Array:
    """``E[F(u1, u2)]`` for every output F of ``fs``; shape (n outputs, len(q))."""
    out = None
    # group pairs whose rules have similar sizes (the angular grading depends on max sqrt(q))
    order = np.argsort(q, kind="stable")
    start = 0
    while start < order.size:
        per = 1
        for _ in range(2):  # size the chunk by the largest q in it (the rule grows with q)
            last = order[min(start + per, order.size) - 1:][:1]
            n_nodes = _polar_rule(q[last], c[last], breakpoints)[0].shape[1]
            per = max(1, _CHUNK // n_nodes)
        sel = order[start:start + per]
        u1, u2, w = _polar_rule(q[sel], c[sel], breakpoints)
        vals = fs(u1, u2)
        if out is None:
            out = np.empty((len(vals), q.size))
        for k, v in enumerate(vals):
            out[k, sel] = np.sum(w * np.broadcast_to(np.asarray(v, dtype=np.float64), u1.shape),
                                 axis=1)
        start += per
    return out


def gaussian_expectation_2d(f: Callable[[Array], Array], g: Callable[[Array], Array], q, c,
                            breakpoints: Sequence[float] = ()):
    """``E[f(u1) g(u2)]`` for ``(u1, u2) ~ N(0, [[q, c q], [c q, q]])`` (scalars or arrays
    broadcast together; ``-1 <= c <= 1``).

    The product form lets the rule put the kinks of ``f`` and ``g`` (at 0 always, and at
    ``breakpoints``) on panel edges. Quadrature in the polar coordinates ``(r, t)`` of the
    two independent normals behind the pair: ``u1 = sqrt(q) r cos(t - b)``,
    ``u2 = sqrt(q) r cos(t + b)``, ``cos 2b = c``, so ``u1 = 0`` and ``u2 = 0`` are rays that
    bound four angular sectors; 6-node Gauss-Legendre panels graded toward those rays and
    toward r = 0. Checked against the arc-cosine kernels of ReLU and its step derivative
    (Cho & Saul 2009) and the arcsine kernel of erf (Williams 1997) to ~1e-10.
    """
    qf, cf, shape = _as_qc(q, c)
    res = _expect_2d(lambda a, b: (_evaluate(f, a) * _evaluate(g, b),), qf, cf, breakpoints)[0]
    return float(res[0]) if shape == () else res.reshape(shape)
