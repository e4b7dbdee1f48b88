"""Analytic and mean-field predictions for deep random networks.

Conventions (the whole package uses them): layer ``l = 1..L`` computes
``z_l = h_{l-1} @ W_l + b_l`` and ``h_l = act(z_l)``, with ``W_l`` of shape
``(fan_in, fan_out) = (widths[l-1], widths[l])``, entries zero-mean with variance ``v_l``
(``sigma_w^2 / fan_in`` for the variance-scaling initializers) and biases of variance
``sigma_b^2``. Layer 0 is the input ``h_0``. ``q`` is the second moment of one pre-activation
(its variance: mean-field pre-activations are zero-mean Gaussians), and ``u ~ N(0, q)``.

What is here, and where each formula comes from:

- Gaussian expectations ``E[f(sqrt(q) z)]`` and ``E[f(u1) g(u2)]`` for a correlated pair, by
  fixed composite Gauss-Legendre rules whose panels put the kinks on panel edges and grade
  geometrically toward them, so that tiny ``q`` (1e-12) and saturated ``q`` (1e4) are both
  accurate to ~1e-10 (Gauss-Hermite with 80 nodes gets E[tanh(sqrt(500) z)^2] wrong in the
  fourth digit).
- :func:`predict_layers`: the mean-field recursion for the forward second moment (Glorot &
  Bengio 2010 eq. 5 for linear units; Poole et al. 2016 eq. 3 for any activation) and the
  backward one (Glorot & Bengio eq. 6; Schoenholz et al. 2017 sec. 4).
- The order-to-chaos phase diagram: length map, ``chi_1``, correlation map, depth scales
  (Poole et al. 2016; Schoenholz et al. 2017).
- Input-output Jacobians and their singular values (Pennington, Schoenholz & Ganguli 2017;
  Glorot & Bengio 2010 sec. 4.2.2 for the per-layer ones).
- Finite-width fluctuations of the activation length of He-initialized ReLU nets (Hanin &
  Rolnick 2018).

Everything is numpy/scipy; nothing prints or draws. See ``docs/theory.md``.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
from numpy.polynomial.legendre import leggauss

from initlab.engine import activations as _activations
from initlab.engine.activations import Activation
from initlab.errors import ConfigError

Array = np.ndarray

_SQRT_2PI = math.sqrt(2.0 * math.pi)

# q at which "infinite" fixed points are evaluated (their q -> infinity limit), and the floor
# used where q* = 0 (the limit q -> 0+, which differs from q = 0 for kinked activations:
# E[relu'(sqrt(q) z)^2] = 1/2 for every q > 0 although relu'(0) = 0).
Q_INFINITE = 1e12
Q_TINY = 1e-200

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


# --- activations -----------------------------------------------------------------------------

def as_activation(act: Activation | str) -> Activation:
    """An :class:`Activation` from itself or a registered name."""
    return _activations.get(act) if isinstance(act, str) else act


def derivative_at(act: Activation | str, x) -> Array:
    """``act'(x)`` at pre-activations ``x``, whichever side ``act.deriv`` is written on
    (``deriv_from == "output"`` means ``deriv`` takes ``h = act(x)``, e.g. tanh: 1 - h^2)."""
    act = as_activation(act)
    x = np.asarray(x, dtype=np.float64)
    return act.deriv(act.fn(x)) if act.deriv_from == "output" else act.deriv(x)


def _value_and_derivative(act: Activation, x: Array) -> tuple[Array, Array]:
    h = act.fn(x)
    d = act.deriv(h) if act.deriv_from == "output" else act.deriv(x)
    return h, d


def activation_breakpoints(act: Activation | str) -> tuple[float, ...]:
    """Points other than 0 where ``act`` or its derivative has a kink or a jump (0 is always a
    panel edge of the rules). Only hardtanh has such points among the registered activations
    (relu, leaky_relu, elu, selu are kinked at 0 only; the others are smooth)."""
    act = as_activation(act)
    if act.name == "hardtanh":
        return (float(act.params["min_val"]), float(act.params["max_val"]))
    return ()


def activation_moments(act: Activation | str, q) -> dict[str, Array | float]:
    """Gaussian moments of an activation at pre-activation variance ``q`` (scalar or array),
    u ~ N(0, q):

    - ``mean`` = E[phi(u)], ``second`` = E[phi(u)^2]  (the length map's integral),
    - ``deriv_second`` = E[phi'(u)^2]                  (chi_1 / sigma_w^2),
    - ``length_slope`` = E[u phi(u) phi'(u)] / q, the derivative d E[phi(u)^2] / dq
      = E[phi'^2 + phi phi''] by Stein's lemma (Schoenholz et al. 2017, eq. 6 uses
      chi_1 + sigma_w^2 E[phi'' phi]); at q = 0 its q -> 0+ limit (evaluated at
      q = :data:`Q_TINY`).
    """
    act = as_activation(act)
    qf, shape = _as_q(q)

    def fs(x):
        h, d = _value_and_derivative(act, x)
        return h, h * h, d * d, x * h * d

    bps = activation_breakpoints(act)
    mean, second, dsec, xhd = _expect_1d(fs, qf, bps)
    zero = qf == 0
    if zero.any():  # E[u phi phi'] / q has a 0/0 at q = 0: take the limit
        xhd[zero] = _expect_1d(fs, np.array([Q_TINY]), bps)[3, 0]
    slope = xhd / np.where(zero, Q_TINY, qf)
    res = {"mean": mean, "second": second, "deriv_second": dsec, "length_slope": slope}
    if shape == ():
        return {k: float(v[0]) for k, v in res.items()}
    return {k: v.reshape(shape) for k, v in res.items()}


def activation_correlations(act: Activation | str, q, c) -> dict[str, Array | float]:
    """For the pair (u1, u2) ~ N(0, [[q, c q], [c q, q]]): ``phi_phi`` = E[phi(u1) phi(u2)]
    (the correlation map's integral, Poole et al. 2016 eq. 5) and ``dphi_dphi`` =
    E[phi'(u1) phi'(u2)] (its slope: d E[phi phi] / dc = q E[phi' phi'], Price's theorem;
    Schoenholz et al. 2017 eq. 9)."""
    act = as_activation(act)
    qf, cf, shape = _as_qc(q, c)

    def fs(a, b):
        ha, da = _value_and_derivative(act, a)
        hb, db = _value_and_derivative(act, b)
        return ha * hb, da * db

    pp, dd = _expect_2d(fs, qf, cf, activation_breakpoints(act))
    if shape == ():
        return {"phi_phi": float(pp[0]), "dphi_dphi": float(dd[0])}
    return {"phi_phi": pp.reshape(shape), "dphi_dphi": dd.reshape(shape)}


# --- per-layer mean-field prediction ---------------------------------------------------------

ROW_KEYS = ("predicted_preact_std", "predicted_act_mean", "predicted_act_std", "chi",
            "predicted_grad_act_std", "predicted_grad_preact_std")


def _check_number(name: str, value, minimum: float = 0.0) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(name, f"must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < minimum:
        raise ConfigError(name, f"must be a finite number >= {minimum:g}, got {value!r}")
    return v


def predict_layers(act, widths: list[int], weight_var: list[float], bias_var: list[float],
                   input_second_moment: float,
                   top_grad_second_moment: float | None = None) -> list[dict]:
    """Mean-field per-layer statistics of a random fully connected network.

    ``widths`` has L+1 entries (``widths[0]`` = input dimension); ``weight_var`` (the entry
    variance ``v_l`` of ``W_l``) and ``bias_var`` (``sigma_b^2``) have L entries, for layers
    1..L. ``input_second_moment`` is E[h_0^2] averaged over input units.

    Forward (Poole et al. 2016 eq. 3 with per-layer fans; Glorot & Bengio 2010 eq. 5 for
    linear units)::

        q_1 = widths[0] v_1 E[h_0^2] + sigma_b1^2
        q_l = widths[l-1] v_l E[phi(sqrt(q_{l-1}) z)^2] + sigma_bl^2

    Backward, treating the back-propagated gradient as zero-mean and independent of the
    forward pass (Glorot & Bengio 2010 eq. 6; Schoenholz et al. 2017 sec. 4), from
    E[(dL/dh_L)^2] = ``top_grad_second_moment``::

        E[(dL/dz_l)^2]     = E[phi'(sqrt(q_l) z)^2] E[(dL/dh_l)^2]
        E[(dL/dh_{l-1})^2] = widths[l] v_l E[(dL/dz_l)^2]        (dL/dh_{l-1} = dL/dz_l W_l^T)

    Returns L+1 dicts with keys :data:`ROW_KEYS`, all floats or None:
    ``predicted_preact_std`` = sqrt(q_l); ``predicted_act_mean`` = E[phi(sqrt(q_l) z)];
    ``predicted_act_std`` = sqrt(E[phi^2] - E[phi]^2); ``chi`` = widths[l] v_l E[phi'^2], the
    per-layer gradient (and Jacobian) factor, sigma_w^2 E[phi'^2] at equal widths;
    ``predicted_grad_act_std`` = sqrt(E[(dL/dh_l)^2]) and ``predicted_grad_preact_std`` =
    sqrt(E[(dL/dz_l)^2]) when ``top_grad_second_moment`` is given, else None. Row 0 (the
    input) has None for everything but ``predicted_grad_act_std``.

    Valid for zero-mean weights with independent (or, at large width, orthogonal) entries;
    see docs/theory.md for the initializations that get no prediction.
    """
    act = as_activation(act)
    widths = list(widths)
    n_layers = len(widths) - 1
    if n_layers < 1:
        raise ConfigError("widths", f"needs at least 2 entries (input and one layer), got {widths}")
    for name, seq in (("weight_var", weight_var), ("bias_var", bias_var)):
        if len(seq) != n_layers:
            raise ConfigError(name, f"needs {n_layers} entries (one per layer), got {len(seq)}")
    for i, w in enumerate(widths):
        if int(w) != w or w < 1:
            raise ConfigError(f"widths[{i}]", f"must be a positive integer, got {w!r}")
    v = [_check_number(f"weight_var[{i}]", x) for i, x in enumerate(weight_var)]
    b = [_check_number(f"bias_var[{i}]", x) for i, x in enumerate(bias_var)]
    m2 = _check_number("input_second_moment", input_second_moment)
    top = (None if top_grad_second_moment is None
           else _check_number("top_grad_second_moment", top_grad_second_moment))

    rows = [dict.fromkeys(ROW_KEYS)]
    dsec = []
    for layer in range(1, n_layers + 1):
        q = widths[layer - 1] * v[layer - 1] * m2 + b[layer - 1]
        if not math.isfinite(q):  # the predicted variance itself overflows float64: no
            rows.extend(dict.fromkeys(ROW_KEYS) for _ in range(layer, n_layers + 1))
            return rows  # prediction from here on (and no gradient prediction at all)
        with np.errstate(over="ignore", invalid="ignore"):
            mom = activation_moments(act, q)
        if not all(math.isfinite(float(mom[k])) for k in ("mean", "second", "deriv_second")):
            rows.extend(dict.fromkeys(ROW_KEYS) for _ in range(layer, n_layers + 1))
            return rows
        var = max(mom["second"] - mom["mean"] ** 2, 0.0)
        rows.append({
            "predicted_preact_std": math.sqrt(q),
            "predicted_act_mean": mom["mean"],
            "predicted_act_std": math.sqrt(var),
            "chi": widths[layer] * v[layer - 1] * mom["deriv_second"],
            "predicted_grad_act_std": None,
            "predicted_grad_preact_std": None,
        })
        dsec.append(mom["deriv_second"])
        m2 = mom["second"]
    if top is not None:
        g_h = top
        for layer in range(n_layers, 0, -1):
            g_z = dsec[layer - 1] * g_h
            rows[layer]["predicted_grad_act_std"] = math.sqrt(g_h)
            rows[layer]["predicted_grad_preact_std"] = math.sqrt(g_z)
            g_h = widths[layer] * v[layer - 1] * g_z
        rows[0]["predicted_grad_act_std"] = math.sqrt(g_h)
    return rows


def _normal_cdf(x: float) -> float:
    """Phi(x) = erfc(-x / sqrt 2) / 2: accurate in both tails (no 1 - Phi cancellation)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _monotone_inverse(f, level: float) -> float:
    """The x with ``f(x) = level`` for an increasing ``f``: the bracket doubled outward until it
    holds the root, then bisection until the bracket's midpoint repeats (to the last bit)."""
    a, b = -1.0, 1.0
    while f(a) > level:
        a *= 2
        if math.isinf(a):  # never reached: the tail beyond it is empty
            return a
    while f(b) < level:
        b *= 2
        if math.isinf(b):
            return b
    while True:
        m = 0.5 * (a + b)
        if m <= a or m >= b:
            return m
        if f(m) < level:
            a = m
        else:
            b = m


def saturation_probability(act, q: float) -> float | None:
    """``P(phi(sqrt(q) z) <= lo or >= hi)`` for the activation's saturation thresholds
    ``(lo, hi)`` (tanh: |h| >= 0.99; sigmoid: h <= 0.01 or >= 0.99), None for unbounded ones.

    Exact for the bounded activations, which are monotone: each threshold is inverted by
    bisection to the last bit, ``x_hi = phi^-1(hi)``, and the Gaussian tails are read off the
    normal CDF, ``P = Phi(x_lo / sqrt(q)) + 1 - Phi(x_hi / sqrt(q))``. (A quadrature of the
    indicator would need the jump as a breakpoint anyway.) Standard library only: ``initlab
    run`` need not import scipy (~0.5 s) for it."""
    act = as_activation(act)
    if act.saturation is None:
        return None
    lo, hi = act.saturation

    def f(x: float) -> float:
        return float(act.fn(np.array([x]))[0])

    if q <= 0:
        h0 = f(0.0)
        return float(h0 <= lo or h0 >= hi)
    s = math.sqrt(q)
    return _normal_cdf(_monotone_inverse(f, lo) / s) + _normal_cdf(-_monotone_inverse(f, hi) / s)


def predicted_jacobian_gain(rows: list[dict]) -> float:
    """``prod_l chi_l`` over the rows of :func:`predict_layers`: the mean-field prediction of
    ``tr(J J^T) / dim0`` for the input-output Jacobian J (see
    :func:`mean_squared_singular_value`), which is ``chi^L`` at equal widths (Pennington et
    al. 2017, sec. 2.3)."""
    return float(np.prod([r["chi"] for r in rows[1:]]))


# --- the order-to-chaos phase diagram --------------------------------------------------------

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


# --- Jacobians -------------------------------------------------------------------------------

def sample_network(sampler: Callable, widths: Sequence[int], rng: np.random.Generator,
                   bias_var: float = 0.0, dtype=np.float64) -> tuple[list[Array], list[Array]]:
    """Weights ``sampler(rng, (widths[l-1], widths[l]), dtype)`` (an initializer) and biases
    N(0, bias_var) for layers 1..L, in the (fan_in, fan_out) layout."""
    weights, biases = [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        weights.append(np.asarray(sampler(rng, (int(fan_in), int(fan_out)), dtype)))
        biases.append(rng.standard_normal(int(fan_out)).astype(dtype) * math.sqrt(bias_var)
                      if bias_var > 0 else np.zeros(int(fan_out), dtype=dtype))
    return weights, biases


def _forward_derivs(act, weights, biases, x):
    """phi'(z_l) of every layer for one input row ``x``."""
    act = as_activation(act)
    h = np.asarray(x, dtype=np.float64).reshape(-1)
    derivs = []
    for layer, w in enumerate(weights):
        z = h @ w
        if biases is not None and biases[layer] is not None:
            z = z + biases[layer]
        h, d = _value_and_derivative(act, z)
        derivs.append(d)
    return derivs


def input_output_jacobian(act, weights: list[Array], biases, x) -> Array:
    """``J = d h_L / d h_0`` at one input ``x`` (shape (dim0,)), in the row-vector convention:
    ``J[i, j] = d h_L[j] / d h_0[i]``, shape (dim0, dimL), so ``dh_L = dh_0 @ J`` and
    ``J = W_1 D_1 W_2 D_2 ... W_L D_L`` with ``D_l = diag(phi'(z_l))``. (Pennington et al. 2017
    write the transpose, ``D_L W_L ... D_1 W_1``; the singular values are the same.)
    ``biases`` may be None (all zero)."""
    derivs = _forward_derivs(act, weights, biases, x)
    jac = np.eye(np.asarray(weights[0]).shape[0])
    for w, d in zip(weights, derivs):
        jac = (jac @ w) * d[None, :]
    return jac


def jacobian_spectrum(act, weights: list[Array], biases, x) -> Array:
    """Singular values (descending) of :func:`input_output_jacobian`. Dynamical isometry
    (Pennington et al. 2017) is all of them near 1; their mean square is
    :func:`mean_squared_singular_value`."""
    return np.linalg.svd(input_output_jacobian(act, weights, biases, x), compute_uv=False)


def jacobian_spectra_at_depths(act, weights: list[Array], biases, x,
                               depths: Sequence[int]) -> dict[int, Array]:
    """Singular values of the Jacobian of the first ``d`` layers, for each ``d`` in ``depths``,
    from one forward pass (for spectra against depth, Pennington et al. 2017 Fig. 3)."""
    derivs = _forward_derivs(act, weights, biases, x)
    wanted = sorted({int(d) for d in depths})
    if wanted and (wanted[0] < 1 or wanted[-1] > len(weights)):
        raise ValueError(f"depths must lie in 1..{len(weights)}, got {list(depths)}")
    out = {}
    jac = np.eye(np.asarray(weights[0]).shape[0])
    for layer, (w, d) in enumerate(zip(weights, derivs), start=1):
        jac = (jac @ w) * d[None, :]
        if layer in wanted:
            out[layer] = np.linalg.svd(jac, compute_uv=False)
    return out


def per_layer_jacobian_singular_values(act, weights: list[Array], biases, x) -> list[Array]:
    """Singular values of each layer's Jacobian ``d h_l / d h_{l-1}`` at input ``x``:
    ``W_l D_l`` in our layout, ``D_l W_l^T`` in the column convention. Glorot & Bengio
    (2010, sec. 4.2.2) report their average: ~0.8 with normalized init, ~0.5 with standard."""
    derivs = _forward_derivs(act, weights, biases, x)
    return [np.linalg.svd(np.asarray(w) * d[None, :], compute_uv=False)
            for w, d in zip(weights, derivs)]


def mean_squared_singular_value(jac: Array) -> float:
    """``tr(J J^T) / dim0`` for J of shape (dim0, dimL): the mean squared singular value when
    dim0 <= dimL, and in any case the expected squared gain |u J|^2 of a random unit input
    direction u. Mean field predicts :func:`predicted_jacobian_gain` (chi^L)."""
    jac = np.asarray(jac)
    return float(np.sum(jac * jac) / jac.shape[0])


# --- finite width: Hanin & Rolnick 2018 ------------------------------------------------------

def log_length_ratio(h0, hL) -> Array:
    """``log(|h_L|^2 / |h_0|^2)`` per row (input) of ``h0`` (batch, dim0) and ``hL``
    (batch, dimL). Hanin & Rolnick (2018) study the fluctuations of this quantity."""
    h0 = np.atleast_2d(np.asarray(h0, dtype=np.float64))
    hL = np.atleast_2d(np.asarray(hL, dtype=np.float64))
    with np.errstate(divide="ignore"):
        return np.log(np.sum(hL * hL, axis=1)) - np.log(np.sum(h0 * h0, axis=1))


def hanin_rolnick_variance(widths_hidden: Sequence[int], exact: bool = False) -> float:
    """Predicted ``Var[log(|h_L|^2 / |h_0|^2)]`` for a He-initialized ReLU net (weights
    N(0, 2 / fan_in), zero biases) whose layers 1..L have widths ``widths_hidden``
    (n_1..n_L: every layer whose ReLU output enters h_L, the last included).

    Hanin & Rolnick (2018, failure mode FM2) prove that the variance of the normalized squared
    length grows exponentially in ``sum_l 1 / n_l`` and stays bounded when that sum does. The
    leading-order value at large width, for Gaussian weights: given h_{l-1}, the ratio
    ``|h_l|^2 / |h_{l-1}|^2 = (2 / n_{l-1}) sum_{j <= n_l} relu(g_j)^2`` with g_j iid N(0, 1)
    independent of earlier layers, and Var[relu(g)^2] / E[relu(g)^2]^2 = (3/2 - 1/4) / (1/4) = 5,
    so each layer adds ``5 / n_l`` and::

        Var[log(|h_L|^2 / |h_0|^2)] ~ 5 * sum_l 1 / n_l      (exact=False; large n_l)

    ``exact=True`` gives the finite-width value for Gaussian weights: the number K of positive
    g_j is Binomial(n, 1/2) and, given K, the sum of their squares is chi-square with K degrees
    of freedom, so each layer adds ``E[psi'(K/2)] + Var[psi(K/2)]`` (psi the digamma function;
    K = 0, probability 2^-n, excluded). It is ~5/n (1 + 3/n): 6 % above the asymptotic value at
    n = 50.
    """
    ns = [int(n) for n in widths_hidden]
    if any(n < 1 for n in ns):
        raise ValueError("widths must be positive")
    if not exact:
        return float(5.0 * sum(1.0 / n for n in ns))
    from scipy.special import gammaln, polygamma, psi

    total = 0.0
    for n in ns:
        k = np.arange(1, n + 1)
        p = np.exp(gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) - n * math.log(2.0))
        p /= p.sum()  # Binomial(n, 1/2) given K >= 1
        mean_psi = np.sum(p * psi(k / 2.0))
        var_given_k = np.sum(p * polygamma(1, k / 2.0))  # E[Var[log chi2_K | K]]
        var_of_mean = np.sum(p * (psi(k / 2.0) - mean_psi) ** 2)  # Var[E[log chi2_K | K]]
        total += float(var_given_k + var_of_mean)
    return total
