"""Tests for initlab.engine.initializers: every registered name, statistics against exact moments,
independent truths (bounds, closed forms checked by quadrature, orthogonality, Haar), errors,
and, when torch is installed, agreement with torch.nn.init on the transposed layout."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from initlab.engine import initializers as I
from initlab.engine._params import accepted_params
from initlab.errors import ConfigError

NAMES = sorted(I.INITIALIZERS)
# Aliases (glorot_normal = xavier_normal, ...) are the same factory as their target: tests that
# depend only on the factory run over the canonical names, and test_alias_is_its_target checks
# the identity (same factory, bit-identical draws, same moments) for every alias.
ALIASES = {n: I.describe(n)["alias_of"] for n in NAMES if I.describe(n)["alias_of"]}
CANONICAL = [n for n in NAMES if n not in ALIASES]
DTYPES = [np.float32, np.float64]

# Parameters a factory needs because they have no default. test_required_params_are_covered
# fails for a new factory with a required parameter missing here, so nothing is skipped.
REQUIRED = {"torch_sparse": {"sparsity": 0.5}}

# Every name must be classified here (test_mean_field_classification), so a new entry is
# looked at the day it is added.
MEAN_FIELD = {
    "normal", "uniform", "truncated_normal", "variance_scaling", "xavier_normal",
    "xavier_uniform", "xavier", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
    "he", "kaiming_normal", "kaiming_uniform", "lecun_normal", "lecun_uniform", "orthogonal",
    "torch_default", "keras_default", "flax_default",
}
NOT_MEAN_FIELD = {"zeros", "ones", "constant", "identity", "sparse", "torch_sparse"}
NO_MOMENTS = {"identity"}
NOT_RANDOM = {"zeros", "ones", "constant", "identity"}

# tall, wide, square, 1-D, conv kernel (3x3, 4 -> 8 channels); every fan_in >= 15 so the
# default sparse(nonzero=15) fits.
SHAPES = [(60, 20), (20, 60), (32, 32), (25,), (3, 3, 4, 8)]

# Statistical tolerance: K standard errors. Each check is a (near) Gaussian z-score by the CLT
# (n = 1e6 entries); P(|Z| > 6) = 2e-9, so even the ~150 statistical checks here have a
# family-wise false-alarm rate below 1e-6 (and the seeds are fixed, so a pass is reproducible).
K = 6.0
BIG = (2000, 500)  # 1e6 entries


def make(name: str, **params) -> I.Initializer:
    return I.get(name, **{**REQUIRED.get(name, {}), **params})


def canonical(name: str) -> str:
    return I.describe(name)["alias_of"] or name


def supports(name: str, shape: tuple) -> bool:
    """Ranks each initializer accepts (torch_sparse and identity are 2-D only, as torch;
    orthogonal needs a matrix)."""
    c = canonical(name)
    if c in ("identity", "torch_sparse"):
        return len(shape) == 2
    if c == "orthogonal":
        return len(shape) >= 2
    return True


def assert_moments(x: np.ndarray, mean: float, var: float, what: str = "") -> None:
    """Sample mean and variance of ``x`` within K standard errors of ``mean`` and ``var``.

    For n iid entries, SE(mean) = sqrt(var / n) and SE(sample variance) =
    sqrt((mu4 - var^2) / n), mu4 the fourth central moment; both are estimated from the sample,
    so heavy-tailed entries (sparse: kurtosis ~ 1/density) get a wider band automatically.
    Orthogonal, sparse and torch_sparse entries are not independent, but their dependence
    (a fixed sum of squares; a fixed number of nonzeros per column/row) only makes the sample
    variance *less* variable than under independence, so the iid band is conservative there.
    A 1e-12 absolute slack covers constants, whose standard error is 0.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    n = x.size
    m = float(x.mean())
    d2 = np.square(x - m)
    v = float(d2.mean())
    mu4 = float(np.dot(d2, d2)) / n
    se_mean = math.sqrt(v / n)
    se_var = math.sqrt(max(mu4 - v * v, 0.0) / n)
    assert abs(m - mean) <= K * se_mean + 1e-12 * max(1.0, abs(mean)), (
        f"{what} mean {m!r} vs {mean!r} (SE {se_mean:.3g})")
    assert abs(v - var) <= K * se_var + 1e-12 * max(1e-12, var), (
        f"{what} variance {v!r} vs {var!r} (SE {se_var:.3g})")


def simpson(g, lo: float, hi: float, n: int = 200_001) -> float:
    """Composite Simpson integral of ``g`` on [lo, hi] (n odd)."""
    z = np.linspace(lo, hi, n)
    w = np.full(n, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return float(np.dot(w, g(z)) * (z[1] - z[0]) / 3.0)


def truncnorm_by_quadrature(a: float, b: float) -> tuple[float, float]:
    """Mean and variance of N(0, 1) on [a, b] by numerical integration (independent of the
    closed form in the module). Infinite ends are cut at +-40 (tail mass < 1e-300)."""
    lo, hi = max(a, -40.0), min(b, 40.0)
    phi = lambda z: np.exp(-0.5 * z * z)  # noqa: E731 (normalization cancels)
    mass = simpson(phi, lo, hi)
    m = simpson(lambda z: z * phi(z), lo, hi) / mass
    v = simpson(lambda z: (z - m) ** 2 * phi(z), lo, hi) / mass
    return m, v


# --- the registry --------------------------------------------------------------------------

def test_required_params_are_covered():
    for name, factory in I.INITIALIZERS.items():
        required = {k for k, d in accepted_params(factory).items() if d is inspect.Parameter.empty}
        assert required <= set(REQUIRED.get(name, {})), f"{name}: add {required} to REQUIRED"


def test_mean_field_classification():
    assert MEAN_FIELD | NOT_MEAN_FIELD == set(NAMES), "classify every initializer"
    assert not MEAN_FIELD & NOT_MEAN_FIELD
    for name in NAMES:
        assert make(name).mean_field is (name in MEAN_FIELD), name


@pytest.mark.parametrize("name", NAMES)
def test_record_and_describe(name):
    init = make(name)
    assert init.name == name
    assert isinstance(init.mean_field, bool)
    for k, v in init.params.items():
        assert type(v) in (float, int, str), (k, v)
    assert init.label().startswith(name)
    if init.mean_field:
        assert init.moments(300, 100)[0] == 0.0

    d = I.describe(name)
    assert set(d) == {"name", "formula", "source", "params", "alias_of"}
    factory = I.INITIALIZERS[name]
    assert d["name"] == name
    assert d["formula"] and d["formula"] == inspect.getdoc(factory).splitlines()[0]
    assert d["source"]
    assert set(d["params"]) == set(accepted_params(factory)) == set(init.params)
    if d["alias_of"] is not None:
        assert I.INITIALIZERS[d["alias_of"]] is factory
        assert I.describe(d["alias_of"])["alias_of"] is None


def test_aliases():
    expected = {
        "xavier": "xavier_normal", "glorot_normal": "xavier_normal",
        "glorot_uniform": "xavier_uniform", "he": "he_normal", "kaiming_normal": "he_normal",
        "kaiming_uniform": "he_uniform",
    }
    assert ALIASES == expected
    assert I.describe("torch_sparse")["params"] == {"sparsity": None, "std": 0.01}


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_alias_is_its_target(alias):
    """An alias is its target under another name: the same factory, so the same draws bit for
    bit from the same generator, the same moments and parameters; only the name differs. So
    the statistical tests need not run again for it."""
    target = ALIASES[alias]
    assert I.INITIALIZERS[alias] is I.INITIALIZERS[target]
    a, t = make(alias), make(target)
    assert (a.name, t.name) == (alias, target)
    assert a.params == t.params and a.mean_field is t.mean_field
    assert a.moments(300, 100) == t.moments(300, 100)
    for dtype in DTYPES:
        for shape in SHAPES:
            wa = a(np.random.default_rng(9), shape, dtype)
            wt = t(np.random.default_rng(9), shape, dtype)
            assert wa.dtype == wt.dtype and np.array_equal(wa, wt), (shape, dtype)


def test_labels_and_equality():
    assert I.get("normal", std=0.01).label() == "normal(std=0.01)"
    assert I.get("xavier_normal").label() == "xavier_normal"
    assert I.get("xavier_normal", gain=2).label() == "xavier_normal(gain=2)"
    assert I.get("he", mode="fan_out").label() == "he(mode=fan_out)"
    assert I.get("sparse", nonzero=10).label() == "sparse(nonzero=10)"
    assert I.get("torch_sparse", sparsity=0.9).label() == "torch_sparse(sparsity=0.9)"
    assert I.get("xavier") == I.get("xavier")
    assert hash(I.get("xavier")) == hash(I.get("xavier"))
    assert I.get("xavier") != I.get("xavier", gain=2.0)


def test_compute_fans():
    assert I.compute_fans((7,)) == (7, 7)
    assert I.compute_fans((3, 5)) == (3, 5)
    assert I.compute_fans((3, 3, 4, 8)) == (36, 72)  # receptive 9: 4*9, 8*9
    assert I.compute_fans((5, 4, 8)) == (20, 40)
    assert I.compute_fans(()) == (1, 1)


# --- shape, dtype, determinism ------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", CANONICAL)
def test_shape_and_dtype(name, shape, dtype):
    init = make(name)
    rng = np.random.default_rng(0)
    if not supports(name, shape):
        with pytest.raises(ConfigError, match="needs a"):
            init(rng, shape, dtype)
        return
    w = init(rng, shape, dtype)
    assert w.shape == shape
    assert w.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(w))


@pytest.mark.parametrize("name", CANONICAL)
def test_empty_shapes(name):
    for shape in [(0, 5), (5, 0)]:
        w = make(name)(np.random.default_rng(0), shape, np.float32)
        assert w.shape == shape and w.dtype == np.float32


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CANONICAL)
def test_same_seed_same_array(name, dtype):
    init = make(name)
    np.random.seed(123)
    global_state = np.random.get_state()[1].copy()
    a = init(np.random.default_rng(42), (40, 30), dtype)
    b = init(np.random.default_rng(42), (40, 30), dtype)
    assert np.array_equal(a, b)
    # Only the given generator is used: numpy's global state is untouched.
    assert np.array_equal(np.random.get_state()[1], global_state)
    if name not in NOT_RANDOM:
        c = init(np.random.default_rng(43), (40, 30), dtype)
        assert not np.array_equal(a, c)
    # The generator advances: two draws from one rng differ.
    rng = np.random.default_rng(42)
    if name not in NOT_RANDOM:
        assert not np.array_equal(init(rng, (40, 30), dtype), init(rng, (40, 30), dtype))


def test_bad_dtype_and_shape():
    init = I.get("xavier")
    rng = np.random.default_rng(0)
    for dt in (np.int32, np.float16, "complex128", "nonsense"):
        with pytest.raises(ConfigError) as e:
            init(rng, (3, 4), dt)
        assert e.value.field == "dtype"
    with pytest.raises(ConfigError):
        init(rng, (3, -4))
    assert init(rng, 5).shape == (5,)


# --- moments --------------------------------------------------------------------------------

# Orthogonal's draw is a QR of the whole weight: at BIG it cost 13-21 s per dtype on a loaded
# machine (0.5 s idle), ~100x a normal draw. Its sum of squares is fixed (gain^2 x the short
# side), so 2e5 entries (a 5000 x 40 QR, ~0.05 s) still pin the variance to ~2 %.
MOMENT_SHAPE = {"orthogonal": (5000, 40)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CANONICAL)
def test_sample_moments_match(name, dtype):
    init = make(name)
    shape = MOMENT_SHAPE.get(name, BIG)
    mom = init.moments(*I.compute_fans(shape))
    if mom is None:
        assert name in NO_MOMENTS, f"{name} has no moments: add it to NO_MOMENTS if intended"
        return
    w = init(np.random.default_rng(2024), shape, dtype)
    assert_moments(w, *mom, what=f"{name} {np.dtype(dtype)}")


@pytest.mark.parametrize("name,params", [
    ("normal", {"mean": 0.5, "std": 0.1}),
    ("uniform", {"low": 0.0, "high": 3.0}),
    ("truncated_normal", {"mean": 1.0, "std": 2.0, "a": -1.0, "b": 3.0}),
    ("truncated_normal", {"mean": 0.0, "std": 1.0, "a": 0.5, "b": 1.5, "bounds": "absolute"}),
    ("variance_scaling", {"scale": 2.0, "mode": "fan_out", "distribution": "uniform"}),
    ("variance_scaling", {"scale": 0.5, "mode": "fan_geo_avg"}),
    ("he_uniform", {"mode": "fan_out", "negative_slope": 0.2}),
    ("sparse", {"nonzero": 100, "std": 0.5}),
    ("torch_sparse", {"sparsity": 0.9, "std": 1.0}),
    ("orthogonal", {"gain": 3.0}),
    ("constant", {"value": -2.5}),
])
def test_moments_with_params(name, params):
    init = I.get(name, **params)
    shape = MOMENT_SHAPE.get(name, BIG)
    w = init(np.random.default_rng(7), shape, np.float64)
    assert_moments(w, *init.moments(*shape), what=init.label())
    assert init.mean_field is (init.moments(*shape)[0] == 0.0 and name not in NOT_MEAN_FIELD)


# --- independent truths -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_xavier_uniform_bound(dtype):
    fan_in, fan_out = BIG
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    w = I.get("xavier_uniform")(np.random.default_rng(1), BIG, dtype)
    top = float(np.abs(w).max())
    # With 1e6 uniform draws, P(max < bound (1 - 2e-5)) = (1 - 2e-5)^1e6 = e^-20.
    assert bound * (1 - 2e-5) < top <= bound * (1 + 1e-7)
    w2 = I.get("xavier_uniform", gain=2.0)(np.random.default_rng(1), BIG, dtype)
    assert 2 * bound * (1 - 2e-5) < float(np.abs(w2).max()) <= 2 * bound * (1 + 1e-7)


def test_he_normal_variance():
    fan_in, fan_out = BIG
    w = I.get("he_normal")(np.random.default_rng(3), BIG)
    # Normal: SE of the sample variance is var sqrt(2 / n).
    var = 2.0 / fan_in
    assert abs(w.var() - var) <= K * var * math.sqrt(2.0 / w.size)
    # Untruncated: P(|z| > 4) = 6.3e-5, so 1e6 draws have ~63 beyond 4 std (none: e^-63).
    assert float(np.abs(w).max()) > 4.0 * math.sqrt(var)
    w = I.get("kaiming_normal", mode="fan_out", negative_slope=0.5)(np.random.default_rng(3), BIG)
    var = 2.0 / (1 + 0.25) / fan_out
    assert abs(w.var() - var) <= K * var * math.sqrt(2.0 / w.size)


def test_truncation_constant():
    # Independent truth: std of N(0, 1) on [-2, 2] by quadrature.
    _, v = truncnorm_by_quadrature(-2.0, 2.0)
    assert I.TRUNC2_STD == pytest.approx(math.sqrt(v), rel=1e-12)


@pytest.mark.parametrize("mode", I.MODES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_variance_scaling_truncated_actual_variance(mode, dtype):
    fan_in, fan_out = BIG
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
         "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]
    scale = 2.0
    w = I.get("variance_scaling", scale=scale, mode=mode)(np.random.default_rng(5), BIG, dtype)
    parent_std = math.sqrt(scale / n) / I.TRUNC2_STD
    assert float(np.abs(w).max()) <= 2 * parent_std * (1 + 1e-6)
    assert float(np.abs(w).max()) >= 2 * parent_std * (1 - 1e-3)  # the cut is reached
    # actual variance scale / n; mu4 of the truncated normal enters via the sample estimate
    assert_moments(w, 0.0, scale / n, what=mode)


TRUNC_CASES = [
    # mean, std, a, b, bounds
    (0.0, 1.0, -2.0, 2.0, "std"),
    (1.0, 2.0, -1.0, 3.0, "std"),
    (0.0, 1.0, -0.5, 0.5, "absolute"),  # torch trunc_normal_ style
    (0.5, 0.1, 0.6, 0.7, "absolute"),  # narrow, off-centre: uniform proposal
    (0.0, 1.0, 3.0, math.inf, "std"),  # one-sided tail: exponential proposal
    (0.0, 1.0, -math.inf, -4.0, "std"),  # left tail, mirrored
    (0.0, 1.0, 5.0, 5.5, "std"),  # far tail, narrow
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mean,std,a,b,bounds", TRUNC_CASES)
def test_truncated_normal(mean, std, a, b, bounds, dtype):
    init = I.get("truncated_normal", mean=mean, std=std, a=a, b=b, bounds=bounds)
    lo, hi = (mean + a * std, mean + b * std) if bounds == "std" else (a, b)
    # The closed form against quadrature on the standardized interval.
    alpha, beta = (lo - mean) / std, (hi - mean) / std
    qm, qv = truncnorm_by_quadrature(alpha, beta)
    m, v = init.moments(1, 1)
    assert m == pytest.approx(mean + std * qm, rel=1e-9, abs=1e-12)
    assert v == pytest.approx(std * std * qv, rel=1e-8)
    w = init(np.random.default_rng(11), (500, 1000), dtype)
    assert w.min() >= lo and w.max() <= hi
    assert_moments(w, m, v, what=str((mean, std, a, b, bounds)))


def test_truncated_bounds_modes_differ():
    # std=2, a=-1, b=1: "std" cuts at +-2, "absolute" at +-1.
    w = I.get("truncated_normal", std=2.0, a=-1, b=1)(np.random.default_rng(0), (500, 200))
    assert 1.99 < np.abs(w).max() <= 2.0
    w = I.get("truncated_normal", std=2.0, a=-1, b=1, bounds="absolute")(
        np.random.default_rng(0), (500, 200))
    assert 0.99 < np.abs(w).max() <= 1.0


@pytest.mark.parametrize("shape", [(50, 20), (20, 50), (30, 30), (3, 3, 4, 8), (2, 5, 40)],
                         ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal(shape, gain):
    w = I.get("orthogonal", gain=gain)(np.random.default_rng(0), shape, np.float64)
    m = w.reshape(-1, shape[-1])  # flattened as documented: (prod(shape[:-1]), shape[-1])
    r, c = m.shape
    gram = m.T @ m if r >= c else m @ m.T
    np.testing.assert_allclose(gram, gain * gain * np.eye(min(r, c)), atol=1e-10)
    w32 = I.get("orthogonal", gain=gain)(np.random.default_rng(0), shape, np.float32)
    np.testing.assert_allclose(w32, w, rtol=1e-6, atol=1e-6)


def _trace_stat(qs: list[np.ndarray]) -> tuple[float, float]:
    t = np.array([np.trace(q) for q in qs])
    return float(t.mean()), float(t.std() / math.sqrt(t.size))


def test_orthogonal_is_haar():
    # For Haar Q in O(3), E[trace Q] = 0 and E[trace(Q)^2] = 1; mean of 4000 traces has SE
    # ~ 1/sqrt(4000) = 0.016.
    init = I.get("orthogonal")
    rng = np.random.default_rng(99)
    mean, se = _trace_stat([init(rng, (3, 3)) for _ in range(4000)])
    assert abs(mean) <= K * se
    # Power check: the same statistic on QR *without* the sign(diag(R)) correction is far off
    # (about -0.5), so the test above would fail without it.
    rng = np.random.default_rng(99)
    raw_mean, raw_se = _trace_stat([np.linalg.qr(rng.standard_normal((3, 3)))[0]
                                    for _ in range(4000)])
    assert abs(raw_mean) > 2 * K * raw_se


@pytest.mark.parametrize("shape,per_col", [((60, 20), 60), ((3, 3, 4, 8), 36), ((25,), 25)],
                         ids=str)
def test_sparse_exact_count(shape, per_col):
    k = 7
    w = I.get("sparse", nonzero=k, std=2.0)(np.random.default_rng(0), shape)
    cols = w.reshape(per_col, -1)  # (fan_in, units)
    assert np.all(np.count_nonzero(cols, axis=0) == k)
    assert I.get("sparse", nonzero=k).moments(*I.compute_fans(shape)) == (0.0, k / per_col)


def test_sparse_rows_uniform():
    # Each row is chosen with probability k / rows per column: counts ~ Binomial(cols, 1/4).
    rows, cols, k = 20, 20_000, 5
    w = I.get("sparse", nonzero=k)(np.random.default_rng(0), (rows, cols))
    counts = np.count_nonzero(w, axis=1)
    p = k / rows
    assert np.all(np.abs(counts - cols * p) <= K * math.sqrt(cols * p * (1 - p)))


def test_sparse_nonzero_exceeds_fan_in():
    init = I.get("sparse", nonzero=30)
    with pytest.raises(ConfigError) as e:
        init(np.random.default_rng(0), (20, 10))
    assert e.value.field == "nonzero"
    assert np.count_nonzero(I.get("sparse", nonzero=20)(np.random.default_rng(0), (20, 3))) == 60


@pytest.mark.parametrize("sparsity,fan_out,zeros", [
    (0.5, 40, 20), (0.07, 100, 8),  # 0.07 * 100 = 7.000000000000001 -> ceil 8, as torch
    (0.0, 10, 0), (0.99, 7, 7), (0.1, 25, 3),
])
def test_torch_sparse_zero_count(sparsity, fan_out, zeros):
    fan_in = 30
    w = I.get("torch_sparse", sparsity=sparsity, std=1.0)(np.random.default_rng(0),
                                                           (fan_in, fan_out))
    # Our layout (fan_in, fan_out): each row (an input unit's outgoing weights, a column of
    # torch's (fan_out, fan_in) weight) has exactly ceil(sparsity * fan_out) zeros.
    assert np.all(np.sum(w == 0, axis=1) == zeros)
    assert I.get("torch_sparse", sparsity=sparsity).moments(fan_in, fan_out) == (
        0.0, 0.01**2 * (fan_out - zeros) / fan_out)


def test_identity():
    rng = np.random.default_rng(0)
    for shape in [(4, 4), (3, 5), (5, 3)]:
        for dt in DTYPES:
            w = I.get("identity", gain=2.0)(rng, shape, dt)
            assert w.dtype == dt
            assert np.array_equal(w, 2.0 * np.eye(*shape))
    for shape in [(4,), (2, 3, 3)]:
        with pytest.raises(ConfigError):
            I.get("identity")(rng, shape)
    assert I.get("identity").moments(4, 4) is None


def test_specializations_equal_the_core():
    # Same rng state -> identical arrays: the named ones *are* variance_scaling.
    pairs = [
        (I.get("xavier_normal", gain=1.5), I.get("variance_scaling", scale=2.25, mode="fan_avg",
                                                  distribution="normal")),
        (I.get("glorot_uniform"), I.get("variance_scaling", mode="fan_avg",
                                        distribution="uniform")),
        (I.get("he_normal"), I.get("variance_scaling", scale=2.0, distribution="normal")),
        (I.get("he_uniform", mode="fan_out"), I.get("variance_scaling", scale=2.0,
                                                    mode="fan_out", distribution="uniform")),
        (I.get("lecun_normal"), I.get("variance_scaling", distribution="normal")),
        (I.get("lecun_uniform"), I.get("variance_scaling", distribution="uniform")),
        (I.get("flax_default"), I.get("variance_scaling")),
        (I.get("keras_default"), I.get("glorot_uniform")),
    ]
    for named, core in pairs:
        a = named(np.random.default_rng(5), (30, 20), np.float32)
        b = core(np.random.default_rng(5), (30, 20), np.float32)
        assert np.array_equal(a, b), named.name
    fan_in = 400
    w = I.get("torch_default")(np.random.default_rng(0), (fan_in, 2500))
    assert 1 / math.sqrt(fan_in) * (1 - 2e-5) < np.abs(w).max() <= 1 / math.sqrt(fan_in)


# --- errors -------------------------------------------------------------------------------

def test_unknown_name():
    with pytest.raises(ConfigError) as e:
        I.get("xavir")
    assert "did you mean 'xavier'" in str(e.value)
    assert "xavier_uniform" in str(e.value)  # lists the valid names
    with pytest.raises(ConfigError, match="did you mean"):
        I.describe("orthogonl")


def test_unknown_param():
    with pytest.raises(ConfigError) as e:
        I.get("normal", stdev=0.1)
    assert e.value.field == "stdev"
    assert "did you mean 'std'" in str(e.value) and "mean, std" in str(e.value)


def test_missing_required_param():
    with pytest.raises(ConfigError) as e:
        I.get("torch_sparse")
    assert e.value.field == "sparsity"


@pytest.mark.parametrize("name,params,field", [
    ("normal", {"std": -1.0}, "std"),
    ("normal", {"std": "abc"}, "std"),
    ("normal", {"mean": None}, "mean"),
    ("normal", {"std": True}, "std"),
    ("normal", {"mean": math.nan}, "mean"),
    ("uniform", {"low": 1.0, "high": 0.0}, "low"),
    ("uniform", {"low": 1.0, "high": 1.0}, "low"),
    ("uniform", {"high": math.inf}, "high"),
    ("constant", {"value": math.inf}, "value"),
    ("truncated_normal", {"a": 2.0, "b": 1.0}, "a"),
    ("truncated_normal", {"std": 0.0}, "std"),
    ("truncated_normal", {"bounds": "relative"}, "bounds"),
    ("truncated_normal", {"a": 50.0, "b": 60.0}, "a"),  # no probability mass
    ("variance_scaling", {"mode": "fan_inn"}, "mode"),
    ("variance_scaling", {"distribution": "gaussian"}, "distribution"),
    ("variance_scaling", {"scale": 0.0}, "scale"),
    ("variance_scaling", {"scale": False}, "scale"),
    ("xavier_normal", {"gain": "auto"}, "gain"),
    ("xavier_uniform", {"gain": "abc"}, "gain"),
    ("glorot_normal", {"gain": -1.0}, "gain"),
    ("he_normal", {"mode": "fan_avg"}, "mode"),
    ("he_uniform", {"negative_slope": "x"}, "negative_slope"),
    ("orthogonal", {"gain": 0.0}, "gain"),
    ("identity", {"gain": [1]}, "gain"),
    ("sparse", {"nonzero": 0}, "nonzero"),
    ("sparse", {"nonzero": 2.5}, "nonzero"),
    ("sparse", {"nonzero": True}, "nonzero"),
    ("sparse", {"std": -0.1}, "std"),
    ("torch_sparse", {"sparsity": 1.0}, "sparsity"),
    ("torch_sparse", {"sparsity": -0.1}, "sparsity"),
    ("torch_sparse", {"sparsity": "half"}, "sparsity"),
])
def test_bad_values_name_the_param(name, params, field):
    with pytest.raises(ConfigError) as e:
        I.get(name, **params)
    assert e.value.field == field, str(e.value)


def test_unknown_choice_lists_valid():
    with pytest.raises(ConfigError) as e:
        I.get("variance_scaling", mode="fan_inn")
    msg = str(e.value)
    assert "did you mean 'fan_in'" in msg and "fan_geo_avg" in msg


def test_numeric_strings_and_integers_are_accepted():
    # YAML 1.1 reads 1e-2 as a string; numeric strings and ints become floats.
    assert I.get("normal", std="1e-2").params["std"] == 0.01
    assert I.get("xavier", gain=2).params["gain"] == 2.0
    assert I.get("sparse", nonzero=15.0).params["nonzero"] == 15
    assert type(I.get("sparse", nonzero=15.0).params["nonzero"]) is int


# --- torch ----------------------------------------------------------------------------------

def test_against_torch():
    torch = pytest.importorskip("torch")
    nn_init = torch.nn.init
    torch.manual_seed(0)
    fan_in, fan_out = 400, 2500  # 1e6 entries; torch weight is (fan_out, fan_in) = our W.T

    def torch_weight(fn, **kw):
        t = torch.empty(fan_out, fan_in, dtype=torch.float64)
        with torch.no_grad():
            fn(t, **kw)
        return t.numpy().T  # our layout

    # Fans: torch (out, in, kh, kw) and our (kh, kw, in, out) agree.
    for t_shape, ours in [((8, 4), (4, 8)), ((8, 4, 3, 5), (3, 5, 4, 8))]:
        t = torch.empty(*t_shape)
        assert nn_init._calculate_fan_in_and_fan_out(t) == I.compute_fans(ours)

    cases = [
        (nn_init.xavier_uniform_, {}, I.get("xavier_uniform"), "uniform"),
        (nn_init.xavier_uniform_, {"gain": 2.0}, I.get("xavier_uniform", gain=2.0), "uniform"),
        (nn_init.xavier_normal_, {"gain": 0.5}, I.get("xavier_normal", gain=0.5), "normal"),
        (nn_init.kaiming_normal_, {}, I.get("he_normal"), "normal"),
        (nn_init.kaiming_normal_, {"a": 0.2, "mode": "fan_out"},
         I.get("kaiming_normal", negative_slope=0.2, mode="fan_out"), "normal"),
        (nn_init.kaiming_uniform_, {"a": 0.1}, I.get("he_uniform", negative_slope=0.1), "uniform"),
        (nn_init.kaiming_uniform_, {"a": math.sqrt(5)}, I.get("torch_default"), "uniform"),
        (nn_init.trunc_normal_, {"mean": 0.1, "std": 0.5, "a": -0.5, "b": 1.0},
         I.get("truncated_normal", mean=0.1, std=0.5, a=-0.5, b=1.0, bounds="absolute"),
         "truncated"),
        (nn_init.orthogonal_, {"gain": 2.0}, I.get("orthogonal", gain=2.0), "orthogonal"),
    ]
    for fn, kw, ours, kind in cases:
        w = torch_weight(fn, **kw)
        mean, var = ours.moments(fan_in, fan_out)
        assert_moments(w, mean, var, what=f"torch {fn.__name__} {kw}")
        if kind == "uniform":
            bound = math.sqrt(3 * var)
            assert bound * (1 - 1e-4) < np.abs(w).max() <= bound * (1 + 1e-6)
        if kind == "truncated":
            assert w.min() >= -0.5 and w.max() <= 1.0

    # nn.Linear's default weight is torch_default.
    lin = torch.nn.Linear(fan_in, fan_out)
    w = lin.weight.detach().numpy().T
    bound = 1 / math.sqrt(fan_in)
    assert bound * (1 - 1e-4) < np.abs(w).max() <= bound * (1 + 1e-6)

    # eye_: our identity is torch's eye transposed.
    for t_shape in [(3, 5), (5, 3)]:
        t = nn_init.eye_(torch.empty(*t_shape, dtype=torch.float64))
        ours = I.get("identity")(np.random.default_rng(0), t_shape[::-1])
        assert np.array_equal(t.numpy().T, ours)

    # sparse_: torch zeroes ceil(sparsity * rows) in each column of (fan_out, fan_in), i.e. in
    # each row of our (fan_in, fan_out).
    for sparsity, fo, fi in [(0.07, 100, 12), (0.5, 40, 30), (0.9, 7, 5)]:
        t = nn_init.sparse_(torch.empty(fo, fi, dtype=torch.float64), sparsity=sparsity)
        torch_zeros = (t.numpy().T == 0).sum(axis=1)
        ours = I.get("torch_sparse", sparsity=sparsity, std=1.0)(np.random.default_rng(0), (fi, fo))
        assert np.array_equal(torch_zeros, (ours == 0).sum(axis=1))
