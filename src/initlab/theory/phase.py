"""The order-to-chaos phase diagram: length map, its fixed point q*, chi_1, the correlation map
and its fixed point c*, the depth scales xi_q and xi_c, the critical line (Poole et al. 2016;
Schoenholz et al. 2017). Conventions as in :mod:`initlab.theory.meanfield`.
"""

from __future__ import annotations

import math

import numpy as np

from initlab.engine.gaussian import Array
from initlab.theory.meanfield import (Q_INFINITE, Q_TINY, activation_correlations, activation_moments,
                                      as_activation)

def length_map(act, q, sw2, sb2):
    """``sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2`` (Poole et al. 2016, eq. 3): q of the
    next layer, at equal widths with weight variance sigma_w^2 / fan_in. Broadcasts."""
    res = np.asarray(sw2) * np.asarray(activation_moments(act, q)["second"]) + np.asarray(sb2)
    return float(res) if res.ndim == 0 else res


def fixed_point_q(act, sw2, sb2, q0: float = 1.0, tol: float = 1e-13):
    """The fixed point ``q*`` the length map reaches from ``q0`` (Poole et al. 2016, sec. 2).

    Solves ``sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2 = q`` on the side of ``q0`` the map
    moves toward (for a map increasing in q, iteration from q0 converges to the nearest fixed
    point in that direction): by a bracketed secant (Illinois) iteration in log q. Returns 0
    when the map contracts to 0 (e.g. tanh, sigma_b^2 = 0, sigma_w^2 <= 1), ``inf`` when it
    grows without bound (e.g. relu, sigma_w^2 > 2), ``q0`` where every q is fixed (relu,
    sigma_w^2 = 2, sigma_b^2 = 0). Scalars or arrays broadcast together.
    """
    act = as_activation(act)
    sw, sb, shape = _weights_and_biases(sw2, sb2)
    u_lo, u_hi = math.log(Q_TINY), math.log(Q_INFINITE)
    if not (math.isfinite(q0) and q0 > 0):
        raise ValueError(f"q0 must be a positive number, got {q0!r}")
    u0 = math.log(q0)
    everyone = np.arange(sw.size)
    g0 = _gap_at(act, sw, sb, np.full(sw.size, u0))
    res = np.full(sw.size, float(q0))
    # |g0| below the quadrature's accuracy: q0 itself is fixed (relu at sigma_w^2 = 2)
    down, up = g0 < -1e-12, g0 > 1e-12
    b = np.where(down, u_lo, u_hi)
    gb = np.zeros(sw.size)
    moving = everyone[down | up]
    if moving.size:
        gb[moving] = _gap_at(act, sw[moving], sb[moving], b[moving])
    # no sign change on the way: the map runs to 0 (down) or to infinity (up)
    res[down & (gb < 0)] = 0.0
    res[up & (gb > 0)] = np.inf
    todo = everyone[(down | up) & (np.sign(gb) != np.sign(g0))]
    if todo.size:
        res[todo] = np.exp(_illinois(lambda u, sub: _gap_at(act, sw[todo][sub], sb[todo][sub], u),
                                     np.full(todo.size, u0), b[todo], g0[todo], gb[todo], tol))
    return float(res[0]) if shape == () else res.reshape(shape)


def _weights_and_biases(sw2, sb2) -> tuple[Array, Array, tuple]:
    sw, sb = np.broadcast_arrays(np.asarray(sw2, dtype=np.float64),
                                 np.asarray(sb2, dtype=np.float64))
    finite = np.all(np.isfinite(sw)) and np.all(np.isfinite(sb))
    if not finite or np.any(sw < 0) or np.any(sb < 0):
        raise ValueError("sw2 and sb2 must be finite and >= 0")
    return sw.ravel().copy(), sb.ravel().copy(), sw.shape


def _gap_at(act, sw, sb, u):
    """arcsinh((sw2 E[phi^2] + sb2) / q - 1) at q = e^u: the sign of map(q) - q."""
    q = np.exp(u)
    # arcsinh keeps the root and tames the ~sb2/q values near q = Q_TINY for the secant steps
    return np.arcsinh((sw * activation_moments(act, q)["second"] + sb) / q - 1.0)


def _illinois(fun, a, b, fa, fb, tol, max_iter: int = 200):
    """Vectorized Illinois (modified regula falsi) root of ``fun(u, idx)`` in [a, b] with
    fa, fb of opposite signs; ``idx`` indexes the still-active entries."""
    a, b, fa, fb = a.copy(), b.copy(), fa.copy(), fb.copy()
    x = 0.5 * (a + b)
    active = np.arange(a.size)
    side = np.zeros(a.size, dtype=int)
    for _ in range(max_iter):
        if active.size == 0:
            break
        ia = active
        denom = fb[ia] - fa[ia]
        secant = b[ia] - fb[ia] * (b[ia] - a[ia]) / np.where(denom != 0, denom, 1.0)
        xs = np.where(denom != 0, secant, 0.5 * (a[ia] + b[ia]))
        lo = np.minimum(a[ia], b[ia])
        hi = np.maximum(a[ia], b[ia])
        bad = ~np.isfinite(xs) | (xs <= lo) | (xs >= hi)
        xs = np.where(bad, 0.5 * (a[ia] + b[ia]), xs)
        fx = fun(xs, ia)
        x[ia] = xs
        same = np.sign(fx) == np.sign(fb[ia])
        # replace the endpoint whose sign fx shares
        nb, nfb = b[ia].copy(), fb[ia].copy()
        na, nfa = a[ia].copy(), fa[ia].copy()
        nb[same], nfb[same] = xs[same], fx[same]
        na[~same], nfa[~same] = xs[~same], fx[~same]
        # Illinois: halve the retained endpoint's value when it is kept twice in a row
        keep_a = same
        keep_b = ~same
        nfa[keep_a & (side[ia] == 1)] *= 0.5
        nfb[keep_b & (side[ia] == -1)] *= 0.5
        side[ia] = np.where(keep_a, 1, -1)
        a[ia], fa[ia], b[ia], fb[ia] = na, nfa, nb, nfb
        done = (np.abs(b[ia] - a[ia]) <= tol * np.maximum(1.0, np.abs(xs))) | (fx == 0)
        active = ia[~done]
    return x


def chi1(act, sw2, sb2, q_star=None):
    """``chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]`` at the length map's fixed point
    (Poole et al. 2016, eq. 8; Schoenholz et al. 2017, eq. 5): the mean squared singular value
    of one layer's Jacobian; chi_1 < 1 ordered (vanishing gradients), > 1 chaotic (exploding).
    Where q* = 0 or inf the q -> 0+ / q -> inf limits are used (relu: sigma_w^2 / 2)."""
    q = fixed_point_q(act, sw2, sb2) if q_star is None else q_star
    qe = np.clip(np.asarray(q, dtype=np.float64), Q_TINY, Q_INFINITE)
    res = np.asarray(sw2) * np.asarray(activation_moments(act, qe)["deriv_second"])
    return float(res) if np.ndim(res) == 0 else res


def correlation_map(act, c, sw2, sb2, q=None):
    """``c -> (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q*``, (u1, u2) of variance q* and
    correlation c (Poole et al. 2016, eq. 5): the correlation of two inputs one layer deeper,
    both at the fixed length q* (``q`` overrides it)."""
    q = fixed_point_q(act, sw2, sb2) if q is None else q
    pp = activation_correlations(act, q, c)["phi_phi"]
    return (np.asarray(sw2) * pp + np.asarray(sb2)) / np.asarray(q)


def fixed_point_c(act, sw2, sb2, q0: float = 1.0):
    """The stable fixed point ``c*`` of :func:`correlation_map` (Poole et al. 2016, sec. 3;
    Schoenholz et al. 2017, sec. 3): 1 in the ordered phase (chi_1 <= 1), in [0, 1) in the
    chaotic one, NaN where q* is infinite. See :func:`depth_scales`."""
    return depth_scales(act, sw2, sb2, q0)["c_star"]


def _newton_c(kernel, sw, sb, q, max_iter: int = 60, tol: float = 1e-13):
    """Stable fixed point c* in [0, 1) of c -> (sw C(c) + sb) / q for chaotic points, by Newton
    from c = 0 on G(c) = (sw C(c) + sb) / q - c. C(c) = sum_n a_n^2 c^n (Mehler) is convex on
    [0, 1], G(0) >= 0, G(1) = 0 and G'(1) = chi_1 - 1 > 0: Newton from 0 rises monotonically
    to the root. ``kernel(c, idx) -> (C, D)`` with D = E[phi' phi'] = C'(c) / q."""
    c = np.zeros(sw.size)
    active = np.arange(sw.size)
    for _ in range(max_iter):
        if active.size == 0:
            break
        pp, dd = kernel(c[active], active)
        g = (sw[active] * pp + sb[active]) / q[active] - c[active]
        dg = sw[active] * dd - 1.0
        ok = dg < 0
        step = np.where(ok, -g / np.where(ok, dg, -1.0), 0.0)
        new = np.clip(c[active] + step, 0.0, 1.0)
        moved = np.abs(new - c[active])
        c[active] = new
        active = active[ok & (moved > tol)]
    return c


def _depth_scale(x):
    """``-1 / log(x)``: inf at x = 1, 0 at x = 0, negative for x > 1."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        lg = np.log(x)
        return np.where(lg == 0, np.inf, -1.0 / np.where(lg == 0, 1.0, lg))


def depth_scales(act, sw2, sb2, q0: float = 1.0) -> dict:
    """All the phase-diagram quantities at (sigma_w^2, sigma_b^2), scalars or arrays, with
    exact 2-D quadrature for the correlation map (Schoenholz et al. 2017, sec. 3):

    - ``q_star``: :func:`fixed_point_q`; ``chi1``: :func:`chi1`;
    - ``c_star``: the stable fixed point of the correlation map: 1 in the ordered phase
      (chi_1 <= 1), the root in [0, 1) of the map otherwise;
    - ``chi_c`` = sigma_w^2 E[phi'(u1) phi'(u2)] at (q*, c*), the map's slope there
      (= chi_1 when c* = 1);
    - ``xi_q`` = -1 / log(chi_1 + sigma_w^2 E[phi'' phi]) at q* (eq. 6). The bracket is the
      slope of the length map, computed as sigma_w^2 E[u phi(u) phi'(u)] / q* by Stein's
      lemma: no second derivative is needed and kinks (ReLU, hardtanh) are exact. When that
      slope is negative its absolute value is used;
    - ``xi_c`` = -1 / log(chi_c) (eq. 9): inf on the critical line;
    - ``xi_grad`` = -1 / log(chi_1): gradients scale as chi_1^depth (sec. 4); negative where
      they explode (chi_1 > 1), inf at chi_1 = 1.

    Where q* is infinite (the length map diverges) ``c_star``, ``chi_c``, ``xi_c`` and ``xi_q``
    are NaN and ``chi1`` is the q -> inf limit.
    """
    return _scales(act, sw2, sb2, q0, table=False)


def phase_grid(act, sw2_values, sb2_values, q0: float = 1.0) -> dict:
    """:func:`depth_scales` over the grid ``sw2_values x sb2_values``.

    Returns 2-D arrays of shape ``(len(sb2_values), len(sw2_values))`` (rows: sigma_b^2,
    columns: sigma_w^2, the layout of an image with sigma_w^2 on the x axis): ``q_star``,
    ``chi1``, ``c_star``, ``chi_c``, ``xi_q``, ``xi_c``, ``xi_grad``, plus the grids ``sw2``
    and ``sb2``. The correlation fixed point of chaotic points is solved on a Chebyshev table
    of the correlation kernels in (log q, sqrt(1 - c)) built with the exact 2-D rule
    (interpolation error ~1e-7 in c*), so a 60 x 60 grid takes about a second.
    """
    sw = np.asarray(sw2_values, dtype=np.float64).ravel()
    sb = np.asarray(sb2_values, dtype=np.float64).ravel()
    SW, SB = np.meshgrid(sw, sb)
    res = _scales(act, SW, SB, q0, table=True)
    res["sw2"], res["sb2"] = SW, SB
    return res


def _scales(act, sw2, sb2, q0, table: bool) -> dict:
    act = as_activation(act)
    sw, sb, shape = _weights_and_biases(sw2, sb2)
    q = np.atleast_1d(fixed_point_q(act, sw, sb, q0=q0))
    qe = np.clip(q, Q_TINY, Q_INFINITE)
    mom = activation_moments(act, qe)
    x1 = sw * mom["deriv_second"]
    slope_q = np.abs(sw * mom["length_slope"])
    finite = np.isfinite(q)
    chaotic = finite & (x1 > 1.0 + 1e-12) & (q > 0)
    c_star = np.where(finite, 1.0, np.nan)
    chi_c = np.where(finite, x1, np.nan)
    idx = np.flatnonzero(chaotic)
    if idx.size:
        if table:
            c_idx, d_idx = _table_c_star(act, sw[idx], sb[idx], q[idx])
        else:
            def kernel(c, sub):
                k = activation_correlations(act, q[idx][sub], c)
                return k["phi_phi"], k["dphi_dphi"]

            c_idx = _newton_c(kernel, sw[idx], sb[idx], q[idx])
            d_idx = activation_correlations(act, q[idx], c_idx)["dphi_dphi"]
        c_star[idx] = c_idx
        chi_c[idx] = sw[idx] * d_idx
    xi_q = np.where(finite, _depth_scale(slope_q), np.nan)
    xi_c = np.where(finite, _depth_scale(chi_c), np.nan)
    out = {"q_star": q, "chi1": x1, "c_star": c_star, "chi_c": chi_c, "xi_q": xi_q,
           "xi_c": xi_c, "xi_grad": _depth_scale(x1)}
    if shape == ():
        return {k: float(v[0]) for k, v in out.items()}
    return {k: v.reshape(shape) for k, v in out.items()}


def _cheb_nodes(n: int) -> Array:
    """Chebyshev-Lobatto points on [-1, 1] (descending)."""
    return np.cos(np.pi * np.arange(n) / (n - 1)) if n > 1 else np.zeros(1)


def _bary_weights(x: Array, nodes: Array) -> Array:
    """Barycentric interpolation matrix (len(x), len(nodes)) for Chebyshev-Lobatto nodes."""
    n = nodes.size
    if n == 1:
        return np.ones((x.size, 1))
    lam = (-1.0) ** np.arange(n)
    lam[0] *= 0.5
    lam[-1] *= 0.5
    diff = x[:, None] - nodes[None, :]
    hit = diff == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = lam / diff
    rows = hit.any(axis=1)
    terms[rows] = hit[rows].astype(float)
    return terms / terms.sum(axis=1, keepdims=True)


_TABLE_NQ = 24
_TABLE_NS = 24


def _table_c_star(act, sw, sb, q):
    """c* and E[phi' phi'](c*) from a Chebyshev table of C(q, c) / q and D(q, c) over
    log q in [min, max] of the points' q* and s = sqrt(1 - c) in [0, 1] (s, not c: kinked
    activations give C and D terms in (1 - c)^(1/2), smooth in s)."""
    lq = np.log(q)
    lo, hi = float(lq.min()), float(lq.max())
    nq = 1 if hi - lo < 1e-12 else _TABLE_NQ
    tq = _cheb_nodes(nq)
    q_nodes = np.exp(lo + (hi - lo) * 0.5 * (tq + 1.0))
    ts = _cheb_nodes(_TABLE_NS)
    s_nodes = 0.5 * (ts + 1.0)
    Q, S = np.meshgrid(q_nodes, s_nodes, indexing="ij")
    k = activation_correlations(act, Q, 1.0 - S * S)
    kern = k["phi_phi"] / Q  # (nq, ns)
    dker = k["dphi_dphi"]
    wq = _bary_weights((2.0 * (lq - lo) / (hi - lo) - 1.0) if nq > 1 else np.zeros(q.size), tq)
    kern_p = wq @ kern  # (n_pts, ns)
    dker_p = wq @ dker

    def kernel(c, sub):
        s = np.sqrt(np.clip(1.0 - c, 0.0, 1.0))
        ws = _bary_weights(2.0 * s - 1.0, ts)
        return np.sum(ws * kern_p[sub], axis=1) * q[sub], np.sum(ws * dker_p[sub], axis=1)

    c = _newton_c(kernel, sw, sb, q)
    _, d = kernel(c, np.arange(c.size))
    return c, d


def critical_sw2(act, sb2: float, bracket: tuple[float, float] = (0.5, 4.0)) -> float:
    """The sigma_w^2 at which chi_1 = 1 for this sigma_b^2: the order-to-chaos boundary
    (Schoenholz et al. 2017, Fig. 1). Brent's method on log chi_1(sigma_w^2), after widening
    ``bracket`` until it encloses a sign change. tanh: 1 at sigma_b^2 = 0; relu: 2."""
    from scipy.optimize import brentq

    def f(x):
        return math.log(max(chi1(act, x, sb2), 1e-300))

    lo, hi = bracket
    flo, fhi = f(lo), f(hi)
    for _ in range(60):
        if flo <= 0 <= fhi:
            break
        if flo > 0:
            lo, flo = lo / 2, f(lo / 2)
        if fhi < 0:
            hi, fhi = hi * 2, f(hi * 2)
    else:
        raise ValueError(f"no chi_1 = 1 crossing found for sigma_b^2 = {sb2}")
    if flo == 0:
        return lo
    if fhi == 0:
        return hi
    return float(brentq(f, lo, hi, xtol=1e-12, maxiter=500))
