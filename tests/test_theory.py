"""Tests of initlab.theory against closed forms, independent quadrature and Monte Carlo.

Tolerances: quadrature results are checked against closed forms or scipy's adaptive quad to
1e-9 or better. Monte Carlo comparisons use width >= 600 and say what fluctuation they allow;
finite-width corrections to mean-field second moments are O(1/width) and sampling errors of
pooled statistics over batch x units are well below 1 %.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy.special import erf

from initlab.engine import activations as A
from initlab import theory as T


# --- helpers (independent of the code under test) --------------------------------------------

def quad_expectation(f, q, points=(0.0,), rel=1e-13, abs_=1e-15):
    """E[f(sqrt(q) z)] by scipy's adaptive quadrature with breakpoints."""
    s = math.sqrt(q)
    lim = 14.0 * s

    def integrand(x):
        return f(x) * math.exp(-0.5 * x * x / q) / (math.sqrt(2.0 * math.pi) * s)

    pts = sorted({p for p in points if -lim < p < lim})
    val, _ = integrate.quad(integrand, -lim, lim, points=pts or None, limit=500,
                            epsabs=abs_, epsrel=rel)
    return val


# nested adaptive quadrature cannot reach 1e-13: the inner integrals carry ~1e-12 noise
NESTED = {"rel": 1e-11, "abs_": 1e-11}


def orthogonal(rng, n, m, gain=1.0):
    """A Haar-random (n, m) matrix with orthonormal rows or columns, times ``gain``."""
    a = rng.standard_normal((max(n, m), min(n, m)))
    qm, r = np.linalg.qr(a)
    qm = qm * np.sign(np.diag(r))
    return gain * (qm if n >= m else qm.T)


def forward(act, weights, biases, x):
    """Pre-activations and activations of every layer (numpy, our layout)."""
    zs, hs = [], [x]
    h = x
    for w, b in zip(weights, biases):
        z = h @ w + b
        h = act.fn(z)
        zs.append(z)
        hs.append(h)
    return zs, hs


def mc_network(act, widths, v, sb2, m2, batch, seeds, top=None):
    """Per-layer statistics pooled over the batch x units of several random Gaussian networks
    (one per seed), and of the backward pass of a N(0, top) gradient at the output through
    the same weights.

    Why pooled over networks: the pre-activations of different inputs share each unit's
    weights and bias, so the unit-level part of their variance (biases, and the mean of the
    previous layer times the unit's weight sum) is averaged over units only. The relative
    error of a pooled std is then at most ~ 1 / sqrt(2 n_units) (1.3 % for 3000 units), that
    of a pooled mean ~ std / sqrt(n_units)."""
    acc = None
    for seed in seeds:
        rng = np.random.default_rng(seed)
        weights = [rng.standard_normal((a, b)) * math.sqrt(v[i])
                   for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))]
        biases = [rng.standard_normal(b) * math.sqrt(sb2[i]) for i, b in enumerate(widths[1:])]
        x = rng.standard_normal((batch, widths[0])) * math.sqrt(m2)
        zs, hs = forward(act, weights, biases, x)
        mom = {"h1": [h.mean() for h in hs[1:]], "h2": [np.mean(h * h) for h in hs[1:]],
               "z2": [np.mean(z * z) for z in zs]}
        if top is not None:
            g = rng.standard_normal(hs[-1].shape) * math.sqrt(top)
            gh, gz = [None] * len(weights), [None] * len(weights)
            for i in range(len(weights) - 1, -1, -1):
                gh[i] = np.mean(g * g)
                g = g * T.derivative_at(act, zs[i])
                gz[i] = np.mean(g * g)
                g = g @ weights[i].T
            mom.update(gh=gh, gz=gz, g0=[np.mean(g * g)])
        acc = mom if acc is None else {k: [a + b for a, b in zip(acc[k], mom[k])] for k in acc}
    m = {k: np.array(val) / len(seeds) for k, val in acc.items()}
    out = {"act_mean": m["h1"], "act_std": np.sqrt(m["h2"] - m["h1"] ** 2),
           "preact_std": np.sqrt(m["z2"])}
    if top is not None:
        out.update(grad_act_std=np.sqrt(m["gh"]), grad_preact_std=np.sqrt(m["gz"]),
                   grad_input_std=float(np.sqrt(m["g0"][0])))
    return out


# --- 1-D Gaussian expectations ----------------------------------------------------------------

def test_tanh_saturated_against_adaptive_quad():
    value = T.gaussian_expectation(lambda x: np.tanh(x) ** 2, 500.0)
    ref = quad_expectation(lambda x: math.tanh(x) ** 2, 500.0)
    assert abs(value - ref) < 1e-9
    assert abs(value - 0.9644) < 1e-4
    # the trap this rule avoids: 80-node Gauss-Hermite is off in the 4th digit
    z, w = np.polynomial.hermite_e.hermegauss(80)
    gh = float(np.sum(w * np.tanh(math.sqrt(500.0) * z) ** 2) / math.sqrt(2 * math.pi))
    assert abs(gh - ref) > 1e-4


@pytest.mark.parametrize("q", [1e-12, 1e-9, 1e-6, 1e-4, 1e-2, 0.3, 1.0, 3.0, 10.0, 100.0, 1e3, 1e4])
def test_against_adaptive_quad_over_q(q):
    cases = [
        (np.tanh, math.tanh, ()),
        (lambda x: np.tanh(x) ** 2, lambda x: math.tanh(x) ** 2, ()),
        (lambda x: (1 - np.tanh(x) ** 2) ** 2, lambda x: (1 - math.tanh(x) ** 2) ** 2, ()),
        (lambda x: np.clip(x, -1, 1) ** 2, lambda x: min(max(x, -1.0), 1.0) ** 2, (-1.0, 1.0)),
        (lambda x: 1.0 / (1.0 + np.exp(-np.clip(x, -700, 700))),
         lambda x: 0.5 * (1.0 + math.tanh(0.5 * x)), ()),
    ]
    for f, fs, bps in cases:
        got = T.gaussian_expectation(f, q, breakpoints=bps)
        ref = quad_expectation(fs, q, points=(0.0,) + bps)
        # (odd f: ref = 0, hence the absolute term)
        assert abs(got - ref) <= 1e-10 * abs(ref) + 1e-15 * math.sqrt(q), (q, got, ref)


def test_small_q_limits():
    q = np.logspace(-12, -5, 15)
    e2 = T.gaussian_expectation(lambda x: np.tanh(x) ** 2, q)
    # tanh(x)^2 = x^2 - 2/3 x^4 + ...: E = q - 2 q^2 + O(q^3)
    np.testing.assert_allclose(e2, q - 2 * q * q, rtol=1e-9)
    d2 = T.gaussian_expectation(lambda x: (1 - np.tanh(x) ** 2) ** 2, q)
    np.testing.assert_allclose(d2, 1 - 2 * q, rtol=1e-9)


def test_closed_forms_over_q():
    q = np.logspace(-12, 4, 81)
    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    np.testing.assert_allclose(T.gaussian_expectation(lambda x: relu(x) ** 2, q), q / 2, rtol=1e-12)
    np.testing.assert_allclose(T.gaussian_expectation(relu, q), np.sqrt(q / (2 * np.pi)),
                               rtol=1e-12)
    np.testing.assert_allclose(T.gaussian_expectation(lambda x: x * x, q), q, rtol=1e-12)
    assert np.max(np.abs(T.gaussian_expectation(lambda x: x, q) / np.sqrt(q))) < 1e-14
    # erf: E[erf(u)^2] = (2/pi) arcsin(2q / (1 + 2q)) (Williams 1997)
    np.testing.assert_allclose(T.gaussian_expectation(lambda x: erf(x) ** 2, q),
                               2 / np.pi * np.arcsin(2 * q / (1 + 2 * q)), rtol=1e-11)
    # E[erf'(u)^2] with erf' = 2/sqrt(pi) e^-x^2: (4/pi) / sqrt(1 + 4q)
    np.testing.assert_allclose(T.gaussian_expectation(lambda x: 4 / np.pi * np.exp(-2 * x * x), q),
                               4 / np.pi / np.sqrt(1 + 4 * q), rtol=1e-11)


def test_shapes_zero_q_and_work():
    assert T.gaussian_expectation(np.cos, 0.0) == 1.0
    out = T.gaussian_expectation(np.cos, np.array([[0.0, 1.0], [2.0, 0.5]]))
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out, np.exp(-np.array([[0.0, 1.0], [2.0, 0.5]]) / 2), rtol=1e-10)
    # The work, counted (timings live in benchmarks/): f is called on whole arrays of nodes
    # (a few calls for 3600 q, not one per q) and each q gets a fixed rule of at most 512
    # nodes (~240 here), whatever the scale of q.
    q = np.logspace(-12, 4, 3600)
    calls = []

    def tanh2(x):
        calls.append(x.size)
        return np.tanh(x) ** 2

    vals = T.gaussian_expectation(tanh2, q)
    assert len(calls) <= 3, len(calls)
    assert sum(calls) <= 512 * q.size, sum(calls)
    for i in (0, 1000, 2500, 3599):
        one = T.gaussian_expectation(lambda x: np.tanh(x) ** 2, q[i])
        assert vals[i] == pytest.approx(one, rel=1e-12)
    with pytest.raises(ValueError):
        T.gaussian_expectation(np.tanh, -1.0)


# --- 2-D Gaussian expectations ----------------------------------------------------------------

QS = [1e-8, 1e-3, 0.1, 1.0, 3.0, 30.0, 500.0]
CS = [-1.0, -0.99, -0.5, 0.0, 0.3, 0.9, 0.99, 0.999999, 1.0]


def test_2d_closed_forms():
    Q, C = np.meshgrid(QS, CS)
    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    step = lambda x: (x > 0).astype(float)  # noqa: E731
    # arc-cosine kernels (Cho & Saul 2009)
    theta = np.arccos(C)
    got = T.gaussian_expectation_2d(relu, relu, Q, C) / Q
    np.testing.assert_allclose(got, (np.sin(theta) + (np.pi - theta) * C) / (2 * np.pi), atol=1e-10)
    np.testing.assert_allclose(T.gaussian_expectation_2d(step, step, Q, C),
                               (np.pi - theta) / (2 * np.pi), atol=1e-10)
    # arcsine kernel of erf (Williams 1997)
    np.testing.assert_allclose(T.gaussian_expectation_2d(erf, erf, Q, C),
                               2 / np.pi * np.arcsin(2 * C * Q / (1 + 2 * Q)), atol=1e-9)
    np.testing.assert_allclose(T.gaussian_expectation_2d(lambda x: x, lambda x: x, Q, C) / Q, C,
                               atol=1e-10)


def test_2d_saturated_tanh_against_nested_quad():
    q, c = 500.0, 0.9
    s = math.sqrt(q * (1 - c * c))

    def inner(x):  # E[tanh(u2) | u1 = x], u2 | u1 ~ N(c x, q (1 - c^2))
        return quad_expectation(lambda y: math.tanh(c * x + y), s * s, points=(-c * x,), **NESTED)

    ref = quad_expectation(lambda x: math.tanh(x) * inner(x), q, **NESTED)
    assert T.gaussian_expectation_2d(np.tanh, np.tanh, q, c) == pytest.approx(ref, abs=1e-8)
    # c = 1 and c = -1 reduce to 1-D expectations
    one = T.gaussian_expectation(lambda x: np.tanh(x) ** 2, q)
    assert T.gaussian_expectation_2d(np.tanh, np.tanh, q, 1.0) == pytest.approx(one, abs=1e-10)
    assert T.gaussian_expectation_2d(np.tanh, np.tanh, q, -1.0) == pytest.approx(-one, abs=1e-10)


def test_2d_hardtanh_kinks_off_zero():
    act = A.get("hardtanh")
    for q, c in [(0.5, 0.3), (4.0, 0.8), (50.0, 0.95)]:
        k = T.activation_correlations(act, q, c)
        s = math.sqrt(q * (1 - c * c))

        def inner(x, f):
            kinks = (-c * x, -1 - c * x, 1 - c * x)
            return quad_expectation(lambda y: f(c * x + y), s * s, points=kinks, **NESTED)

        clip = lambda x: min(max(x, -1.0), 1.0)  # noqa: E731
        ind = lambda x: 1.0 if -1 < x < 1 else 0.0  # noqa: E731
        pts = (0.0, -1.0, 1.0)
        ref_pp = quad_expectation(lambda x: clip(x) * inner(x, clip), q, points=pts, **NESTED)
        ref_dd = quad_expectation(lambda x: ind(x) * inner(x, ind), q, points=pts, **NESTED)
        assert k["phi_phi"] == pytest.approx(ref_pp, abs=1e-7)
        assert k["dphi_dphi"] == pytest.approx(ref_dd, abs=1e-7)


# --- per-layer prediction ---------------------------------------------------------------------

def stds(rows):
    return [r["predicted_act_std"] for r in rows[1:]]


def test_cs231n_tanh_xavier():
    rows = T.predict_layers("tanh", [500] * 11, [1 / 500] * 10, [0.0] * 10, 1.0)
    s = stds(rows)
    assert s[0] == pytest.approx(0.628, abs=1e-3)
    assert s[1] == pytest.approx(0.486, abs=1e-3)
    assert s[2] == pytest.approx(0.408, abs=1e-3)
    assert s[9] == pytest.approx(0.2285, abs=1e-3)
    assert rows[0]["predicted_act_std"] is None and rows[0]["predicted_preact_std"] is None
    assert all(abs(r["predicted_act_mean"]) < 1e-15 for r in rows[1:])
    assert set(rows[1]) == set(T.ROW_KEYS)


def test_relu_he_and_xavier_closed_forms():
    rows = T.predict_layers("relu", [500] * 11, [2 / 500] * 10, [0.0] * 10, 1.0)
    for r in rows[1:]:
        assert r["predicted_act_mean"] == pytest.approx(1 / math.sqrt(math.pi), rel=1e-10)
        assert r["predicted_act_std"] == pytest.approx(math.sqrt(1 - 1 / math.pi), rel=1e-10)
        assert r["chi"] == pytest.approx(1.0, rel=1e-10)
    rows = T.predict_layers("relu", [500] * 11, [1 / 500] * 10, [0.0] * 10, 1.0)
    for layer, r in enumerate(rows[1:], start=1):
        want = math.sqrt(0.5 - 0.5 / math.pi) * 2 ** (-(layer - 1) / 2)
        assert r["predicted_act_std"] == pytest.approx(want, rel=1e-10)


def test_tanh_small_scale_collapse():
    rows = T.predict_layers("tanh", [500] * 11, [1e-4] * 10, [0.0] * 10, 1.0)
    s = stds(rows)
    ratios = np.array(s[1:]) / np.array(s[:-1])
    np.testing.assert_allclose(ratios[2:], math.sqrt(0.05), rtol=2e-3)
    # cs231n lecture 6 printed 0.213081 for layer 1 (one finite network)
    assert s[0] == pytest.approx(0.213081, rel=0.01)


def test_gradient_recursion_linear_glorot():
    # linear units: Var[dL/dh_{l-1}] = n_l v_l Var[dL/dh_l] (Glorot & Bengio eq. 6)
    widths, v = [30, 40, 50, 20], [0.02, 0.03, 0.01]
    rows = T.predict_layers("linear", widths, v, [0.1, 0.0, 0.2], 2.0, top_grad_second_moment=3.0)
    g = 3.0
    for layer in (3, 2, 1):
        assert rows[layer]["predicted_grad_act_std"] == pytest.approx(math.sqrt(g))
        assert rows[layer]["predicted_grad_preact_std"] == pytest.approx(math.sqrt(g))
        assert rows[layer]["chi"] == pytest.approx(widths[layer] * v[layer - 1])
        g *= widths[layer] * v[layer - 1]
    assert rows[0]["predicted_grad_act_std"] == pytest.approx(math.sqrt(g))
    assert rows[0]["predicted_grad_preact_std"] is None
    # forward: q_1 = 30 * 0.02 * 2 + 0.1, q_2 = 40 * 0.03 * q_1, q_3 = 50 * 0.01 * q_2 + 0.2
    q1 = 30 * 0.02 * 2 + 0.1
    q3 = 50 * 0.01 * 40 * 0.03 * q1 + 0.2
    assert rows[3]["predicted_preact_std"] == pytest.approx(math.sqrt(q3))
    no_grad = T.predict_layers("linear", widths, v, [0.0] * 3, 1.0)
    assert all(r["predicted_grad_act_std"] is None for r in no_grad)


def test_predict_layers_rejects_bad_input():
    from initlab.errors import ConfigError

    with pytest.raises(ConfigError):
        T.predict_layers("tanh", [10, 10], [0.1, 0.1], [0.0], 1.0)
    with pytest.raises(ConfigError):
        T.predict_layers("tanh", [10, 10], [-0.1], [0.0], 1.0)
    with pytest.raises(ConfigError):
        T.predict_layers("tanh", [10], [], [], 1.0)


@pytest.mark.parametrize("name,sw2,sb2", [("tanh", 1.0, 0.05), ("tanh", 2.5, 0.3),
                                          ("relu", 2.0, 0.1), ("sigmoid", 4.0, 0.1),
                                          ("gelu", 2.0, 0.02)])
def test_monte_carlo_forward_and_backward(name, sw2, sb2):
    """Two networks of width 1500, batch 200, 4 layers (see ``mc_network`` for the error
    budget: ~1.3 % on stds, ~1.8 % of the std on means, plus O(1/1500) finite-width bias).
    Allowed: 4 % on stds, 5 % of the std on means."""
    act = A.get(name)
    n, layers = 1500, 4
    widths = [n] * (layers + 1)
    v, b = [sw2 / n] * layers, [sb2] * layers
    rows = T.predict_layers(act, widths, v, b, 1.0, top_grad_second_moment=1.0)
    mc = mc_network(act, widths, v, b, 1.0, batch=200, seeds=(7, 8), top=1.0)
    for layer in range(1, layers + 1):
        r, i = rows[layer], layer - 1
        assert mc["preact_std"][i] == pytest.approx(r["predicted_preact_std"], rel=0.04)
        assert mc["act_std"][i] == pytest.approx(r["predicted_act_std"], rel=0.04)
        assert abs(mc["act_mean"][i] - r["predicted_act_mean"]) < 0.05 * r["predicted_act_std"]
        assert mc["grad_act_std"][i] == pytest.approx(r["predicted_grad_act_std"], rel=0.04)
        assert mc["grad_preact_std"][i] == pytest.approx(r["predicted_grad_preact_std"], rel=0.04)
    assert mc["grad_input_std"] == pytest.approx(rows[0]["predicted_grad_act_std"], rel=0.04)


def test_monte_carlo_unequal_widths():
    act = A.get("tanh")
    widths = [300, 2000, 1000, 1500]
    v = [1.5 / 300, 2.0 / 2000, 1.0 / 1000]
    b = [0.05, 0.0, 0.1]
    rows = T.predict_layers(act, widths, v, b, 0.7, top_grad_second_moment=2.0)
    mc = mc_network(act, widths, v, b, 0.7, batch=200, seeds=(3, 4), top=2.0)
    for layer in (1, 2, 3):
        assert mc["act_std"][layer - 1] == pytest.approx(rows[layer]["predicted_act_std"], rel=0.04)
        want = rows[layer]["predicted_grad_act_std"]
        assert mc["grad_act_std"][layer - 1] == pytest.approx(want, rel=0.04)
    assert mc["grad_input_std"] == pytest.approx(rows[0]["predicted_grad_act_std"], rel=0.04)


@pytest.mark.parametrize("name", sorted(A.ACTIVATIONS))
def test_every_registered_activation(name):
    """Finite predictions and Monte Carlo agreement at sigma_w^2 = variance_gain^2,
    sigma_b^2 = 0.05: two networks of width 1000, batch 150, 3 layers (~1.6 % error on stds,
    ~2.2 % of the std on means). Allowed: 5 % on stds, 7 % of the std on means."""
    act = A.get(name)
    mom = T.activation_moments(act, np.array([1e-6, 0.1, 1.0, 10.0]))
    assert all(np.all(np.isfinite(v)) for v in mom.values())
    n, layers = 1000, 3
    sw2 = act.variance_gain ** 2
    widths, v, b = [n] * (layers + 1), [sw2 / n] * layers, [0.05] * layers
    rows = T.predict_layers(act, widths, v, b, 1.0, top_grad_second_moment=1.0)
    for r in rows[1:]:
        assert all(math.isfinite(r[k]) for k in T.ROW_KEYS)
    mc = mc_network(act, widths, v, b, 1.0, batch=150, seeds=(11, 12), top=1.0)
    for layer in range(1, layers + 1):
        r, i = rows[layer], layer - 1
        assert mc["act_std"][i] == pytest.approx(r["predicted_act_std"], rel=0.05)
        assert abs(mc["act_mean"][i] - r["predicted_act_mean"]) < 0.07 * r["predicted_act_std"]
        assert mc["grad_preact_std"][i] == pytest.approx(r["predicted_grad_preact_std"], rel=0.05)
    # the derivative helper agrees with a central difference away from kinks
    x = np.linspace(-3.0, 3.0, 61) + 0.0123
    h = 1e-6
    fd = (act.fn(x + h) - act.fn(x - h)) / (2 * h)
    np.testing.assert_allclose(T.derivative_at(act, x), fd, atol=1e-6)


# --- phase diagram ----------------------------------------------------------------------------

def independent_tanh_critical(sb2):
    """chi_1 = 1 for tanh with scipy quad and brentq only."""
    def q_star(sw2):
        def gap(q):
            return sw2 * quad_expectation(lambda x: math.tanh(x) ** 2, q) + sb2 - q

        return optimize.brentq(gap, 1e-6, sw2 + sb2 + 1.0, xtol=1e-14)

    def chi(sw2):
        q = q_star(sw2)
        return sw2 * quad_expectation(lambda x: (1 - math.tanh(x) ** 2) ** 2, q) - 1.0

    return optimize.brentq(chi, 1.2, 2.5, xtol=1e-12)


def test_tanh_critical_line():
    assert T.critical_sw2("tanh", 0.0) == pytest.approx(1.0, abs=1e-6)
    crit = T.critical_sw2("tanh", 0.05)
    assert crit == pytest.approx(1.761, abs=5e-3)
    assert crit == pytest.approx(independent_tanh_critical(0.05), abs=1e-8)
    assert T.chi1("tanh", crit, 0.05) == pytest.approx(1.0, abs=1e-10)


def test_relu_closed_forms():
    for sw2, sb2 in [(0.5, 0.0), (1.0, 0.1), (1.9, 0.3), (2.0, 0.0), (3.0, 0.2)]:
        assert T.chi1("relu", sw2, sb2) == pytest.approx(sw2 / 2, rel=1e-12)
    assert T.critical_sw2("relu", 0.0) == pytest.approx(2.0, abs=1e-9)
    assert T.critical_sw2("relu", 0.1) == pytest.approx(2.0, abs=1e-9)
    assert T.fixed_point_q("relu", 1.5, 0.1) == pytest.approx(0.1 / (1 - 0.75), rel=1e-10)
    assert T.fixed_point_q("relu", 2.5, 0.1) == math.inf
    assert T.fixed_point_q("relu", 2.0, 0.0) == 1.0  # every q is fixed: stays at q0
    assert T.fixed_point_q("relu", 2.0, 0.0, q0=3.0) == 3.0
    assert T.fixed_point_q("tanh", 0.8, 0.0) == 0.0
    assert T.fixed_point_q("linear", 0.5, 0.2) == pytest.approx(0.4, rel=1e-10)


def test_fixed_points_and_slopes_tanh():
    act = "tanh"
    # chaotic point
    sw2, sb2 = 2.5, 0.05
    d = T.depth_scales(act, sw2, sb2)
    q = d["q_star"]
    assert T.length_map(act, q, sw2, sb2) == pytest.approx(q, rel=1e-11)
    assert d["chi1"] > 1 and 0 < d["c_star"] < 1
    c = d["c_star"]
    assert T.correlation_map(act, c, sw2, sb2, q=q) == pytest.approx(c, abs=1e-9)
    h = 1e-5
    up, down = (T.correlation_map(act, c + s, sw2, sb2, q=q) for s in (h, -h))
    slope_c = (up - down) / (2 * h)
    assert d["chi_c"] == pytest.approx(slope_c, rel=1e-6)
    assert d["xi_c"] == pytest.approx(-1 / math.log(slope_c), rel=1e-5)
    # xi_q: slope of the length map (Stein's lemma) against a finite difference
    hq = 1e-5 * q
    slope_q = (T.length_map(act, q + hq, sw2, sb2) - T.length_map(act, q - hq, sw2, sb2)) / (2 * hq)
    assert d["xi_q"] == pytest.approx(-1 / math.log(slope_q), rel=1e-6)
    assert d["xi_grad"] == pytest.approx(-1 / math.log(d["chi1"]))
    # ordered point: c* = 1, xi_c = -1 / log chi_1
    o = T.depth_scales(act, 1.2, 0.2)
    assert o["chi1"] < 1 and o["c_star"] == 1.0
    assert o["xi_c"] == pytest.approx(-1 / math.log(o["chi1"]))
    # sigma_b^2 = 0, chaotic: c* = 0 for an odd activation
    z = T.depth_scales(act, 1.5, 0.0)
    assert z["c_star"] == pytest.approx(0.0, abs=1e-12)


def test_correlation_map_monte_carlo():
    """Pairs of inputs (correlation 0.9) through 12 tanh layers of width 1000 in the chaotic
    phase (sigma_w^2 = 4, sigma_b^2 = 0.2), inputs scaled so every layer sits at q*: the
    correlation of the pre-activations follows the iterated correlation map. One pair
    fluctuates by ~0.03-0.06 (chaos amplifies the O(1/sqrt(width)) noise); the mean over 2
    networks x 16 pairs is allowed 0.03, q 3 %."""
    sw2, sb2, n, depth, pairs, rho = 4.0, 0.2, 1000, 12, 16, 0.9
    d = T.depth_scales("tanh", sw2, sb2)
    q = d["q_star"]
    m2 = (q - sb2) / sw2
    c = (sw2 * m2 * rho + sb2) / q
    predicted = [c]
    for _ in range(depth - 1):
        c = float(T.correlation_map("tanh", c, sw2, sb2, q=q))
        predicted.append(c)
    measured = np.zeros(depth)
    q_measured = np.zeros(depth)
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        a = rng.standard_normal((pairs, n))
        b = rho * a + math.sqrt(1 - rho ** 2) * rng.standard_normal((pairs, n))
        h = np.concatenate([a, b])
        h *= math.sqrt(m2 * n) / np.linalg.norm(h, axis=1, keepdims=True)
        for layer in range(depth):
            w = rng.standard_normal((n, n)) * math.sqrt(sw2 / n)
            z = h @ w + rng.standard_normal(n) * math.sqrt(sb2)
            h = np.tanh(z)
            za, zb = z[:pairs], z[pairs:]
            corr = np.sum(za * zb, 1) / np.sqrt(np.sum(za * za, 1) * np.sum(zb * zb, 1))
            measured[layer] += corr.mean() / 2
            q_measured[layer] += np.mean(z * z) / 2
    np.testing.assert_allclose(measured, predicted, atol=0.03)
    np.testing.assert_allclose(q_measured, q, rtol=0.03)
    # and the map's fixed point is where deep layers go
    assert predicted[-1] > d["c_star"] and d["c_star"] == pytest.approx(0.4568, abs=1e-3)


def test_phase_grid_matches_pointwise_and_does_bounded_work(monkeypatch):
    sw = np.linspace(0.5, 4.0, 60)
    sb = np.linspace(0.0, 0.3, 60)
    # The work, counted (timings live in benchmarks/): the 2-D correlation kernels, the costly
    # part, are evaluated once on the Chebyshev table (24 x 24 (q, c) points), not in a Newton
    # solve at each of the ~3000 chaotic grid points (about 3 evaluations per point, ~10^4).
    points = []
    correlations = T.activation_correlations

    def counted(act, q, c):
        points.append(np.size(q))
        return correlations(act, q, c)

    monkeypatch.setattr(T.phase, "activation_correlations", counted)  # where phase_grid looks it up
    g = T.phase_grid("tanh", sw, sb)
    assert 0 < sum(points) <= 24 * 24, points
    monkeypatch.undo()
    assert g["xi_c"].shape == (60, 60) and g["sw2"][0, 5] == sw[5] and g["sb2"][7, 0] == sb[7]
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, 60, 25), rng.integers(0, 60, 25)
    d = T.depth_scales("tanh", sw[j], sb[i])
    for key in ("q_star", "chi1", "xi_q", "xi_grad", "chi_c"):
        np.testing.assert_allclose(g[key][i, j], d[key], rtol=1e-7)
    np.testing.assert_allclose(g["c_star"][i, j], d["c_star"], atol=1e-7)
    np.testing.assert_allclose(g["xi_c"][i, j], d["xi_c"], rtol=1e-5)
    ordered = g["chi1"] < 1
    assert np.all(g["c_star"][ordered] == 1.0)
    assert np.all(g["c_star"][~ordered] < 1.0)


@pytest.mark.parametrize("name", sorted(A.ACTIVATIONS))
def test_phase_grid_every_activation(name):
    g = T.phase_grid(name, np.linspace(0.5, 4.0, 6), np.linspace(0.0, 0.3, 4))
    finite = np.isfinite(g["q_star"])
    assert np.all(np.isfinite(g["chi1"]))
    assert np.all((g["c_star"][finite] >= 0) & (g["c_star"][finite] <= 1))
    assert np.all(np.isnan(g["c_star"][~finite]))


# --- Jacobians --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tanh", "gelu", "elu"])
def test_jacobian_against_finite_differences(name):
    rng = np.random.default_rng(2)
    widths = [5, 7, 6, 4]
    ws = [rng.standard_normal((a, b)) / math.sqrt(a) for a, b in zip(widths[:-1], widths[1:])]
    bs = [rng.standard_normal(b) * 0.1 for b in widths[1:]]
    x = rng.standard_normal(5)
    act = A.get(name)
    jac = T.input_output_jacobian(act, ws, bs, x)
    assert jac.shape == (5, 4)
    h = 1e-6
    for i in range(5):
        e = np.zeros(5)
        e[i] = h
        fd = (forward(act, ws, bs, x + e)[1][-1] - forward(act, ws, bs, x - e)[1][-1]) / (2 * h)
        np.testing.assert_allclose(jac[i], fd, atol=1e-7)


def test_linear_orthogonal_is_isometric():
    rng = np.random.default_rng(0)
    ws = [orthogonal(rng, 64, 64) for _ in range(20)]
    sv = T.jacobian_spectrum("linear", ws, None, rng.standard_normal(64))
    np.testing.assert_allclose(sv, 1.0, atol=1e-10)
    x = rng.standard_normal(64)
    for layer_sv in T.per_layer_jacobian_singular_values("linear", ws, None, x):
        np.testing.assert_allclose(layer_sv, 1.0, atol=1e-12)
    by_depth = T.jacobian_spectra_at_depths("linear", ws, None, x, [1, 10, 20])
    assert sorted(by_depth) == [1, 10, 20]
    np.testing.assert_allclose(by_depth[20], 1.0, atol=1e-10)


def critical_tanh_nets(kind, n, depth, seeds, sb2=1e-3):
    sw2 = T.critical_sw2("tanh", sb2)
    q = T.fixed_point_q("tanh", sw2, sb2)
    m2 = (q - sb2) / sw2  # input second moment that puts layer 1 at q*
    for ws, bs, x in tanh_nets(kind, n, depth, seeds, sw2, sb2, m2):
        yield ws, bs, x, (sw2, sb2, m2)


def tanh_nets(kind, n, depth, seeds, sw2, sb2, m2):
    """(weights, biases, input) per seed: Gaussian or orthogonal weights of variance sw2 / n,
    biases of variance sb2, an input of second moment m2."""
    for seed in seeds:
        rng = np.random.default_rng(seed)
        if kind == "gaussian":
            ws = [rng.standard_normal((n, n)) * math.sqrt(sw2 / n) for _ in range(depth)]
        else:
            ws = [orthogonal(rng, n, n, math.sqrt(sw2)) for _ in range(depth)]
        bs = [rng.standard_normal(n) * math.sqrt(sb2) for _ in range(depth)]
        x = rng.standard_normal(n)
        x *= math.sqrt(m2 * n) / np.linalg.norm(x)
        yield ws, bs, x


def test_orthogonal_tanh_at_criticality_is_concentrated():
    """Pennington et al. 2017: at chi_1 = 1 (sigma_b^2 = 1e-3, q* ~ 0.11), depth 32, width
    128, orthogonal weights keep more than half the singular values in [0.5, 2]; Gaussian
    weights spread them over many decades (~5 % in [0.5, 2])."""
    frac = {}
    for kind in ("gaussian", "orthogonal"):
        f = []
        for ws, bs, x, _ in critical_tanh_nets(kind, 128, 32, seeds=(0, 1)):
            sv = T.jacobian_spectrum("tanh", ws, bs, x)
            f.append(np.mean((sv > 0.5) & (sv < 2.0)))
        frac[kind] = float(np.mean(f))
    assert frac["orthogonal"] > 0.35
    assert frac["gaussian"] < 0.12
    assert frac["orthogonal"] > 4 * frac["gaussian"]


@pytest.mark.parametrize("sw2,sb2", [(1.2, 0.0), (1.6, 0.05)])
def test_mean_squared_singular_value_is_chi_to_the_depth(sw2, sb2):
    """tr(J J^T)/n against prod chi_l (mean field), width 200, depth 16, mean over 5 nets.
    One net's value fluctuates by ~20-30 % (Gaussian) / ~7 % (orthogonal) at this size; the
    means are allowed 20 % and 10 %."""
    n, depth, m2 = 200, 16, 0.5
    rows = T.predict_layers("tanh", [n] * (depth + 1), [sw2 / n] * depth, [sb2] * depth, m2)
    pred = T.predicted_jacobian_gain(rows)
    for kind, tol in (("gaussian", 0.2), ("orthogonal", 0.1)):
        vals = [T.mean_squared_singular_value(T.input_output_jacobian("tanh", ws, bs, x))
                for ws, bs, x in tanh_nets(kind, n, depth, range(100, 105), sw2, sb2, m2)]
        assert np.mean(vals) == pytest.approx(pred, rel=tol), kind


def test_glorot_per_layer_singular_values():
    """Glorot & Bengio 2010 sec. 4.2.2: average per-layer Jacobian singular value ~0.5 with the
    standard init U[-1/sqrt(n), 1/sqrt(n)] and ~0.8 with the normalized one (tanh, 5 layers
    of 1000 units, their data). With N(0, 1) inputs and width 300 we find ~0.47 and ~0.71
    averaged over layers 2-5 (0.49 and 0.75 at layer 5): both within 0.1 of the paper."""
    n = 300
    rng = np.random.default_rng(4)
    x = rng.standard_normal(n)
    means = {}
    for kind, lim in (("standard", 1 / math.sqrt(n)), ("normalized", math.sqrt(6 / (2 * n)))):
        ws = [rng.uniform(-lim, lim, (n, n)) for _ in range(5)]
        sv = T.per_layer_jacobian_singular_values("tanh", ws, None, x)
        means[kind] = float(np.mean([s.mean() for s in sv[1:]]))
    assert means["standard"] == pytest.approx(0.5, abs=0.1)
    assert means["normalized"] == pytest.approx(0.8, abs=0.1)
    assert means["normalized"] - means["standard"] > 0.15


def test_sample_network_layout():
    def sampler(rng, shape, dtype):
        return rng.standard_normal(shape).astype(dtype) / math.sqrt(shape[0])

    ws, bs = T.sample_network(sampler, [4, 6, 3], np.random.default_rng(0), bias_var=0.1)
    assert [w.shape for w in ws] == [(4, 6), (6, 3)] and [b.shape for b in bs] == [(6,), (3,)]


# --- Hanin & Rolnick 2018 ---------------------------------------------------------------------

def test_log_length_ratio():
    h0 = np.array([[3.0, 4.0], [1.0, 0.0]])
    hl = np.array([[0.0, 5.0, 0.0], [2.0, 0.0, 0.0]])
    np.testing.assert_allclose(T.log_length_ratio(h0, hl), [0.0, math.log(4.0)])


def test_hanin_rolnick_formula():
    assert T.hanin_rolnick_variance([50] * 10) == pytest.approx(1.0)
    assert T.hanin_rolnick_variance([100, 50, 25]) == pytest.approx(5 * (0.01 + 0.02 + 0.04))
    for n in (20, 50, 200, 2000):
        exact = T.hanin_rolnick_variance([n], exact=True)
        assert exact > 5 / n
        assert exact == pytest.approx(5 / n * (1 + 3 / n), rel=3 / n)


@pytest.mark.parametrize("n,depth", [(50, 12), (64, 20)])
def test_hanin_rolnick_monte_carlo(n, depth):
    """He-initialized ReLU nets (N(0, 2/fan_in), no bias), 1200 nets x 4 inputs. Sampling error
    of the variance ~4 %: the exact finite-width value is allowed 12 %, the asymptotic
    5 sum 1/n_l (which is ~6-8 % low at these widths) 30 %."""
    rng = np.random.default_rng(n + depth)
    nets, inputs = 1200, 4
    h0 = rng.standard_normal((nets, inputs, n))
    h = h0
    for _ in range(depth):
        h = np.maximum(h @ (rng.standard_normal((nets, n, n)) * math.sqrt(2.0 / n)), 0.0)
    r = T.log_length_ratio(h0.reshape(-1, n), h.reshape(-1, n))
    var = float(np.var(r, ddof=1))
    assert var == pytest.approx(T.hanin_rolnick_variance([n] * depth, exact=True), rel=0.12)
    assert var == pytest.approx(T.hanin_rolnick_variance([n] * depth), rel=0.30)
    # He init keeps the mean squared length (FM1 avoided): E[exp(r)] = 1, so for a roughly
    # log-normal ratio E[r] ~ -Var[r] / 2
    assert float(np.mean(np.exp(r))) == pytest.approx(1.0, abs=0.15)
    assert float(np.mean(r)) == pytest.approx(-var / 2, abs=0.15)


# --- figures ----------------------------------------------------------------------------------

def is_png(path):
    data = path.read_bytes()
    return len(data) > 2000 and data[:8] == b"\x89PNG\r\n\x1a\n"


def test_phase_diagram_figure(tmp_path):
    from initlab.plots import theory_figures as F

    sw = np.linspace(0.5, 4.0, 16)
    sb = np.linspace(0.0, 0.3, 12)
    grid = T.phase_grid("tanh", sw, sb)
    emp = [{"sw2": 1.5, "sb2": 0.1, "q": 0.5, "c": 0.9},
           {"sw2": 3.0, "sb2": 0.2, "q": 1.4, "c": 0.5}]
    out = F.phase_diagram(grid, sw, sb, "tanh", tmp_path / "phase.png", empirical=emp)
    assert is_png(out)
    relu = T.phase_grid("relu", sw, sb)  # q* diverges for sigma_w^2 > 2: grey cells
    assert is_png(F.phase_diagram(relu, sw, sb, "relu", tmp_path / "relu.png"))


def test_jacobian_spectra_figure(tmp_path):
    from initlab.plots import theory_figures as F

    spectra = {}
    for kind in ("gaussian", "orthogonal"):
        ws, bs, x, _ = next(critical_tanh_nets(kind, 64, 16, seeds=(0,)))
        spectra[kind] = T.jacobian_spectra_at_depths("tanh", ws, bs, x, [2, 8, 16])
    out = F.jacobian_spectra(spectra, tmp_path / "jac.png")
    assert is_png(out)


@pytest.mark.parametrize("q", [1e-4, 0.3, 1.0, 7.5])
def test_saturation_probability_against_the_tanh_closed_form(q):
    """tanh saturates at |h| >= 0.99: P = erfc(atanh(0.99) / sqrt(2 q)) exactly; the threshold
    is found by bisection to the last bit and Phi by erfc (no scipy)."""
    exact = math.erfc(math.atanh(0.99) / math.sqrt(2.0 * q))
    assert T.saturation_probability(A.get("tanh"), q) == pytest.approx(exact, rel=1e-12, abs=1e-300)


def test_monotone_inverse_reaches_the_last_bit_and_stops_when_unreachable():
    x = T.meanfield._monotone_inverse(math.tanh, 0.5)
    assert abs(x - math.atanh(0.5)) <= 2 * math.ulp(x)
    assert T.meanfield._monotone_inverse(math.tanh, 1.5) == math.inf  # tanh never reaches 1.5
    assert T.meanfield._monotone_inverse(math.tanh, -1.5) == -math.inf
