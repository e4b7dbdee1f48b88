"""Property-based tests (hypothesis) over every registered initializer and activation, with
random valid parameters and shapes, and a fuzz test of the config validation.

Initializers: output shape and dtype as asked, finite values, and, for those with
``moments``, the sample mean and variance of a large draw within a statistical bound of the
formula. The bound is K = 6 standard errors estimated from the draw itself:

    |mean - mu|      <= K sqrt(var / n)
    |s^2 - sigma^2|  <= K sqrt((m4 - s^4) / n) + 1e-6 sigma^2   (m4: sample 4th central moment;
                                                                 the small term is float32 rounding)

For iid entries these are (near) Gaussian z-scores by the CLT (n >= 100 000); P(|Z| > 6) = 2e-9
per check. For a normal draw the variance bound is 6 sqrt(2 / n) = 2.7% relative: a formula off
by more than that (a forgotten truncation correction is 23%) fails. Initializers with structure (orthogonal: fixed sum of squares; sparse and
torch_sparse: fixed counts per column/row) vary less than iid entries, so the same bound is
conservative for them. Examples are derandomized: a pass is reproducible.

Activations: no NaN for any finite input (huge ones included) in the function or its
derivative, and the derivative matches a central finite difference away from the kinks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from initlab.engine import activations as A
from initlab import config
from initlab.engine import initializers as I
from initlab.errors import ConfigError

K = 6.0
MIN_DRAW = 100_000
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def canonical(name: str) -> str:
    return I.describe(name)["alias_of"] or name


def fans_of(shape: tuple[int, ...]) -> tuple[int, int]:
    return I.compute_fans(shape)


def sparse_rows(shape: tuple[int, ...]) -> int:
    cols = shape[-1] if len(shape) >= 2 else 1
    return math.prod(shape) // cols if cols else 0


def pos(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Positive floats spread over decades (log-uniform)."""
    return st.floats(math.log(lo), math.log(hi)).map(math.exp)


@st.composite
def init_params(draw, name: str, shape: tuple[int, ...]) -> dict:
    """Random valid parameters for ``name`` (within the documented ranges) at ``shape``."""
    c = canonical(name)
    if c == "constant":
        return {"value": draw(st.floats(-10, 10))}
    if c == "normal":
        return {"mean": draw(st.floats(-5, 5)), "std": draw(pos(1e-3, 10))}
    if c == "uniform":
        low = draw(st.floats(-10, 10))
        return {"low": low, "high": low + draw(pos(1e-3, 20))}
    if c == "truncated_normal":
        a = draw(st.floats(-3, 1))
        b = a + draw(st.floats(0.25, 4))
        mean, std = draw(st.floats(-3, 3)), draw(pos(1e-2, 5))
        if draw(st.booleans()):
            return {"mean": mean, "std": std, "a": a, "b": b}
        return {"mean": mean, "std": std, "a": mean + a * std, "b": mean + b * std, "bounds": "absolute"}
    if c == "variance_scaling":
        return {"scale": draw(pos(1e-2, 10)), "mode": draw(st.sampled_from(I.MODES)),
                "distribution": draw(st.sampled_from(I.DISTRIBUTIONS))}
    if c in ("xavier_normal", "xavier_uniform", "orthogonal", "identity"):
        return {"gain": draw(pos(0.1, 5))}
    if c in ("he_normal", "he_uniform"):
        return {"mode": draw(st.sampled_from(["fan_in", "fan_out"])),
                "negative_slope": draw(st.floats(0, 1))}
    if c == "sparse":
        rows = max(1, sparse_rows(shape))
        return {"nonzero": draw(st.integers(1, rows)), "std": draw(pos(1e-2, 5))}
    if c == "torch_sparse":
        return {"sparsity": draw(st.floats(0, 0.95)), "std": draw(pos(1e-3, 1))}
    return {}  # zeros, ones, lecun_*, *_default: no parameters


PARAMETERLESS = {"zeros", "ones", "lecun_normal", "lecun_uniform", "torch_default", "keras_default",
                 "flax_default"}


def test_every_initializer_has_a_parameter_strategy():
    """A new initializer with parameters must get a strategy above (or be parameterless)."""
    for name in I.INITIALIZERS:
        c = canonical(name)
        params = I.describe(name)["params"]
        assert not params or c not in PARAMETERLESS, name
        assert c in PARAMETERLESS or params or c in ("constant",), name


def ranks(name: str) -> tuple[int, int]:
    c = canonical(name)
    if c in ("identity", "torch_sparse"):
        return 2, 2
    if c == "orthogonal":
        return 2, 4
    return 0, 4


@st.composite
def any_shape(draw, name: str) -> tuple[int, ...]:
    lo, hi = ranks(name)
    rank = draw(st.integers(lo, hi))
    return tuple(draw(st.lists(st.integers(0 if rank else 1, 9), min_size=rank, max_size=rank)))


@st.composite
def big_matrix(draw, name: str) -> tuple[int, int]:
    """A 2-D weight with at least MIN_DRAW entries, tall or wide. Orthogonal gets a short side
    of at most 40 (its QR costs short^2 x long)."""
    short = draw(st.integers(20, 40 if canonical(name) == "orthogonal" else 400))
    long = draw(st.integers(math.ceil(MIN_DRAW / short), math.ceil(MIN_DRAW / short) + 200))
    return (short, long) if draw(st.booleans()) else (long, short)


# Canonical names only: an alias draws the same examples (derandomized) from the same factory,
# so it would repeat its target's test exactly; tests/test_initializers.py checks that aliases
# are their targets.
NAMES = sorted(n for n in I.INITIALIZERS if canonical(n) == n)
DTYPES = [np.float32, np.float64]


def draw_initializer(data, name, shapes):
    """(shape, drawn valid parameters, their initializer, dtype, seed) for ``name``."""
    shape = data.draw(shapes, label="shape")
    params = data.draw(init_params(name, shape), label="params")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    return shape, params, I.get(name, **params), dtype, seed


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_initializer_shape_dtype_finite(name, data):
    shape, _, init, dtype, seed = draw_initializer(data, name, any_shape(name))
    w = init(np.random.default_rng(seed), shape, dtype)
    assert w.shape == shape and w.dtype == np.dtype(dtype)
    assert np.isfinite(w).all()


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_initializer_moments_within_statistical_bound(name, data):
    shape, params, init, dtype, seed = draw_initializer(data, name, big_matrix(name))
    moments = init.moments(*fans_of(shape))
    if moments is None:  # identity: deterministic, checked exactly
        w = init(np.random.default_rng(seed), shape, dtype)
        np.testing.assert_array_equal(w, params["gain"] * np.eye(*shape, dtype=dtype))
        return
    mu, var = moments
    w = init(np.random.default_rng(seed), shape, dtype).astype(np.float64).ravel()
    n = w.size
    if var == 0.0:  # constants
        np.testing.assert_allclose(w, float(np.asarray(mu, dtype)), rtol=1e-6)  # as the dtype holds it
        return
    mean = float(w.mean())
    d = w - mean
    s2 = float(np.mean(d * d))
    m4 = float(np.mean(d ** 4))
    assert abs(mean - mu) <= K * math.sqrt(var / n) + 1e-6 * math.sqrt(var), (mean, mu)
    assert abs(s2 - var) <= K * math.sqrt(max(m4 - s2 * s2, 0.0) / n) + 1e-6 * var, (s2, var)


# --- activations -------------------------------------------------------------------------------

@st.composite
def act_params(draw, name: str) -> dict:
    if name == "leaky_relu":
        return {"negative_slope": draw(st.floats(-2, 2))}
    if name == "elu":
        return {"alpha": draw(pos(1e-3, 10))}
    if name == "softplus":
        return {"beta": draw(pos(1e-2, 50))}
    if name == "hardtanh":
        lo = draw(st.floats(-5, 4))
        return {"min_val": lo, "max_val": lo + draw(pos(1e-2, 10))}
    return {}


def test_every_activation_with_parameters_has_a_strategy():
    from initlab.engine._params import accepted_params

    for name, factory in A.ACTIVATIONS.items():
        if accepted_params(factory):
            assert name in ("leaky_relu", "elu", "softplus", "hardtanh"), name


def kinks(act: A.Activation) -> list[float]:
    if act.name in ("relu", "leaky_relu", "elu", "selu"):
        return [0.0]
    if act.name == "hardtanh":
        return [act.params["min_val"], act.params["max_val"]]
    return []


def deriv_at(act: A.Activation, x: np.ndarray) -> np.ndarray:
    """act'(x), fed the input or the output as the record says."""
    return act.deriv(act.fn(x) if act.deriv_from == "output" else x)


ACTS = sorted(n for n in A.ACTIVATIONS if n not in A.ALIASES)  # aliases: tests/test_activations.py


# Finite inputs every example gets besides the dtype's extremes: where exp() overflows (800)
# or comes close (50), on both sides.
EXTREMES = [-1e300, -800.0, -50.0, 0.0, -0.0, 50.0, 800.0, 1e300]


@pytest.mark.parametrize("name", ACTS)
@SETTINGS
@given(data=st.data())
def test_activation_no_nan_for_finite_input(name, data):
    """Random parameters and the defaults, on random finite inputs plus EXTREMES."""
    params = data.draw(act_params(name), label="params")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    x = data.draw(hnp.arrays(dtype, st.integers(1, 64),
                             elements=st.floats(allow_nan=False, allow_infinity=False,
                                                width=32 if dtype is np.float32 else 64)), label="x")
    info = np.finfo(dtype)
    extremes = [v for v in EXTREMES if abs(v) <= float(info.max)] + [info.max, -info.max, info.tiny]
    x = np.concatenate([x, np.array(extremes, dtype=dtype)])
    for act in (A.get(name, **params), A.get(name)):
        with np.errstate(all="ignore"):  # overflow warnings are fine; NaN is not
            h = act.fn(x)
            d = deriv_at(act, x)
        assert h.dtype == x.dtype and h.shape == x.shape
        assert not np.isnan(h).any(), (act, x[np.isnan(h)])
        assert not np.isnan(d).any(), (act, x[np.isnan(d)])


@pytest.mark.parametrize("name", ACTS)
@SETTINGS
@given(data=st.data())
def test_activation_derivative_matches_finite_differences(name, data):
    """Random parameters and the defaults. Central differences with step eps = 1e-6 in float64
    (error ~ eps^2 f''' + 1e-16 |f| / eps, below 1e-8 here); points within 1e-4 of a kink are
    left out."""
    params = data.draw(act_params(name), label="params")
    x0 = np.array(data.draw(st.lists(st.floats(-6, 6), min_size=1, max_size=40), label="x"))
    for act in (A.get(name, **params), A.get(name)):
        x = x0
        for k in kinks(act):
            x = x[np.abs(x - k) > 1e-4]
        if x.size == 0:
            continue
        eps = 1e-6
        fd = (act.fn(x + eps) - act.fn(x - eps)) / (2 * eps)
        d = deriv_at(act, x)
        np.testing.assert_allclose(d, fd, rtol=1e-7, atol=1e-7, err_msg=act.label())


# --- config fuzz: any data either validates or is refused with one ConfigError line ------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 3000), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(["tanh", "relu", "normal", "sparse", "xavier",
                                                          "float32", "auto", "1e-3", "softmax_ce"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=8)


def section(keys: tuple[str, ...]) -> st.SearchStrategy[dict]:
    key = st.one_of(st.sampled_from(keys), st.text(max_size=6))
    return st.dictionaries(key, VALUES, max_size=4)


def spec() -> st.SearchStrategy:
    names = st.sampled_from(sorted(I.INITIALIZERS) + sorted(A.ACTIVATIONS) + ["nope"])
    return st.one_of(names, st.fixed_dictionaries({"name": names},
                                                  optional={"std": SCALARS, "gain": SCALARS, "nonzero": SCALARS,
                                                            "alpha": SCALARS, "sdt": SCALARS}))


CONFIGS = st.fixed_dictionaries({}, optional={
    "seed": VALUES, "dtype": VALUES, "name": VALUES,
    "input": st.one_of(VALUES, section(config.known_fields()["input"])),
    "network": st.one_of(VALUES, st.fixed_dictionaries({}, optional={
        "depth": st.one_of(st.integers(-2, 6), VALUES), "width": st.one_of(st.integers(-2, 40), VALUES),
        "activation": spec(), "initializer": spec(), "bias": st.one_of(spec(), SCALARS), "dpeth": VALUES})),
    "backward": st.one_of(VALUES, section(config.known_fields()["backward"])),
    "stats": st.one_of(VALUES, section(config.known_fields()["stats"])),
    "netwrk": VALUES,
})


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=CONFIGS)
def test_config_validation_never_crashes(data):
    try:
        cfg = config.resolve(data, check_draws=True)
    except ConfigError as e:
        msg = str(e)
        assert msg and "\n" not in msg
        assert e.field, msg  # always names the field
    else:
        assert config.from_dict(config.to_dict(cfg)) == cfg
