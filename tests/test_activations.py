"""Activations: gains vs closed forms and Monte Carlo, in-place use, aliases, errors.

Derivatives against finite differences and no NaN for finite inputs (extremes included) are
property tests over random parameters and the defaults: tests/test_properties.py.
"""

import math

import numpy as np
import pytest

from initlab.engine import activations as A
from initlab.errors import ConfigError

# Registered names without the aliases (swish = silu): test_alias_is_its_target covers those.
NAMES = [n for n in A.ACTIVATIONS if n not in A.ALIASES]
# Points away from kinks (0 for ReLU-like, +-1 for hardtanh) so central differences apply.
X = np.array([-3.1, -1.7, -0.6, -0.23, 0.17, 0.49, 0.83, 1.37, 2.9])


@pytest.mark.parametrize("alias", sorted(A.ALIASES))
def test_alias_is_its_target(alias):
    target = A.ALIASES[alias]
    assert A.get(alias) == A.get(target)
    x = np.linspace(-4, 4, 101)
    np.testing.assert_array_equal(A.get(alias).fn(x), A.get(target).fn(x))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_equals_out_of_place_and_keeps_dtype(name, dtype):
    act = A.get(name)
    x = np.random.default_rng(0).standard_normal((7, 5)).astype(dtype) * 3
    y = act.fn(x)
    buf = x.copy()
    y2 = act.fn(buf, out=buf)
    assert y.dtype == dtype and y2 is buf
    np.testing.assert_array_equal(y, y2)
    d = act.deriv(y if act.deriv_from == "output" else x)
    assert d.dtype == dtype and d.shape == x.shape


@pytest.mark.parametrize("name", NAMES)
def test_variance_gain_matches_monte_carlo(name):
    act = A.get(name)
    z = np.random.default_rng(1).standard_normal(2_000_000)
    m2 = float(np.mean(act.fn(z) ** 2))
    # 2e6 samples: relative standard error of E[f^2] is below 0.3% for all of these (f^4 has
    # finite moments); 1.5% is five standard errors.
    assert act.variance_gain == pytest.approx(1 / math.sqrt(m2), rel=0.015)


def test_closed_form_gains():
    assert A.get("relu").variance_gain == pytest.approx(math.sqrt(2), rel=1e-9)
    assert A.get("linear").variance_gain == pytest.approx(1.0, rel=1e-12)
    assert A.get("selu").variance_gain == pytest.approx(1.0, rel=1e-6)  # self-normalizing
    # E[tanh(z)^2] = 0.3942944903978... (numerical constant, e.g. high-precision quadrature)
    assert A.get("tanh").variance_gain == pytest.approx(1 / math.sqrt(0.3942944903978), rel=1e-9)
    # torch.nn.init.calculate_gain values
    assert A.get("tanh").torch_gain == pytest.approx(5 / 3)
    assert A.get("relu").torch_gain == pytest.approx(math.sqrt(2))
    assert A.get("leaky_relu", negative_slope=0.2).torch_gain == pytest.approx(math.sqrt(2 / 1.04))
    assert A.get("selu").torch_gain == 0.75
    assert A.get("sigmoid").torch_gain == 1.0 and A.get("linear").torch_gain == 1.0
    assert A.get("gelu").torch_gain is None
    assert A.get("gelu").recommended_gain == A.get("gelu").variance_gain


def test_lecun_tanh_maps_one_to_one():
    act = A.get("lecun_tanh")
    np.testing.assert_allclose(act.fn(np.array([1.0, -1.0])), [1.0, -1.0], atol=2e-4)


def test_saturation_bounds():
    assert A.get("tanh").saturation == (-0.99, 0.99)
    assert A.get("sigmoid").saturation == (0.01, 0.99)
    assert A.get("relu").saturation is None


def test_parametrized_activations_and_errors():
    a = A.get("leaky_relu", negative_slope=0.2)
    np.testing.assert_allclose(a.fn(np.array([-1.0, 2.0])), [-0.2, 2.0])
    assert a.label() == "leaky_relu(negative_slope=0.2)"
    with pytest.raises(ConfigError, match="did you mean 'tanh'"):
        A.get("tahn")
    with pytest.raises(ConfigError, match="no parameter 'slope'.*valid: negative_slope"):
        A.get("leaky_relu", slope=0.1)
    with pytest.raises(ConfigError, match="alpha"):
        A.get("elu", alpha=-1)


def test_negative_slope_leaky_relu_uses_input_derivative():
    a = A.get("leaky_relu", negative_slope=-0.5)
    assert a.deriv_from == "input"
    eps = 1e-6
    fd = (a.fn(X + eps) - a.fn(X - eps)) / (2 * eps)
    np.testing.assert_allclose(a.deriv(X), fd, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_keeps_relative_accuracy_for_negative_inputs(dtype):
    """sigmoid(x) = e^x / (1 + e^x) is far from 0 for x = -40 .. -700 (float64) or -80
    (float32): no spurious zeros (they inflated act_zero and dead_units for sigmoid and SiLU)."""
    xs = np.array([-700.0, -100.0, -40.0, -17.5, -1.0, 0.0, 1.0, 40.0] if dtype == np.float64
                  else [-80.0, -40.0, -17.5, -1.0, 0.0, 1.0, 40.0], dtype=dtype)
    exact = np.array([1.0 / (1.0 + math.exp(-float(v))) if v >= 0 else math.exp(float(v)) / (1.0 + math.exp(float(v)))
                      for v in xs])
    got = A.get("sigmoid").fn(xs)
    assert got.dtype == dtype and np.all(got > 0)
    np.testing.assert_allclose(got, exact, rtol=2 * np.finfo(dtype).eps)
    silu = A.get("silu").fn(xs)
    assert np.all(silu[xs < 0] < 0)  # x sigmoid(x): negative, never a false zero
    np.testing.assert_array_equal(A.get("sigmoid").fn(np.array([np.inf, -np.inf, np.nan])),
                                  [1.0, 0.0, np.nan])
