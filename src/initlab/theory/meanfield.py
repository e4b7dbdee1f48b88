"""The mean-field recursion for deep random networks: Gaussian moments of an activation and
the per-layer forward and backward second moments.

Conventions (the whole of :mod:`initlab.theory` uses them): layer ``l = 1..L`` computes
``z_l = h_{l-1} @ W_l + b_l`` and ``h_l = act(z_l)``, with ``W_l`` of shape
``(fan_in, fan_out) = (widths[l-1], widths[l])``, entries zero-mean with variance ``v_l``
(``sigma_w^2 / fan_in`` for the variance-scaling initializers) and biases of variance
``sigma_b^2``. Layer 0 is the input ``h_0``. ``q`` is the second moment of one pre-activation
(its variance: mean-field pre-activations are zero-mean Gaussians), and ``u ~ N(0, q)``.

:func:`predict_layers` is the forward recursion (Glorot & Bengio 2010 eq. 5 for linear units;
Poole et al. 2016 eq. 3 for any activation) and the backward one (Glorot & Bengio eq. 6;
Schoenholz et al. 2017 sec. 4).
"""

from __future__ import annotations

import math

import numpy as np

from initlab.engine import activations as _activations
from initlab.engine.activations import Activation
from initlab.engine.gaussian import Array, _as_q, _as_qc, _expect_1d, _expect_2d
from initlab.errors import ConfigError


# q at which "infinite" fixed points are evaluated (their q -> infinity limit), and the floor
# used where q* = 0 (the limit q -> 0+, which differs from q = 0 for kinked activations:
# E[relu'(sqrt(q) z)^2] = 1/2 for every q > 0 although relu'(0) = 0).
Q_INFINITE = 1e12
Q_TINY = 1e-200


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
    panel edge of the rules): the record's ``kinks`` (hardtanh's clip points; relu, leaky_relu,
    elu, selu are kinked at 0 only; the others are smooth)."""
    return tuple(float(k) for k in as_activation(act).kinks)


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
