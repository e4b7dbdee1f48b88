"""Tests for initlab.engine.draw: exact distributions on large samples, the C kernel and the numpy
path give the same bits, the values do not depend on the thread count or the kernel's variant.

Statistical tolerances: z-scores within K = 6 standard errors (P = 2e-9 each), KS p-values above
0.01 at fixed seeds (a deterministic pass), and p-values over many seeds uniform (their own KS
p-value above 0.001).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtr

from initlab.engine import _draw_numpy, draw, kernel
from initlab.engine import initializers as I
from initlab.engine.parameters import WEIGHT, stream

K = 6.0
needs_kernel = pytest.mark.skipif(kernel.DRAW is None, reason="C draw kernel not built")
DTYPES = [np.float32, np.float64]


@pytest.fixture
def numpy_path(monkeypatch):
    monkeypatch.setattr(kernel, "DRAW", None)


@pytest.fixture
def threads():
    prev = draw.threads()
    yield draw.set_threads
    draw.set_threads(prev)


def kinds(dt):
    """(name, function of rng) for every kind of draw, with bounds that exercise each path."""
    return [
        ("normal", lambda r, n: draw.normal(r, (n,), dt, 0.25, 1.5)),
        ("truncated", lambda r, n: draw.truncated(r, (n,), dt, -2.0, 2.0, 0.0, 0.5,
                                                  dt(-1.0), dt(1.0))),
        ("truncated_tail", lambda r, n: draw.truncated(r, (n,), dt, 0.5, 3.5, 0.0, 1.0,
                                                       dt(0.5), dt(3.5))),
        ("uniform", lambda r, n: draw.uniform(r, (n,), dt, -3.0, 0.5)),
    ]


# --- the same bits ------------------------------------------------------------------------------

@needs_kernel
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("n", [1, 1023, 1025, 200_001])
def test_kernel_and_numpy_path_give_the_same_bits(dt, n, monkeypatch):
    for name, f in kinds(dt):
        a = f(np.random.default_rng(n), n)
        monkeypatch.setattr(kernel, "DRAW", None)
        b = f(np.random.default_rng(n), n)
        monkeypatch.undo()
        assert a.dtype == dt and b.dtype == dt
        assert np.array_equal(a.view(np.uint8), b.view(np.uint8)), name


@needs_kernel
@pytest.mark.parametrize("name", sorted(I.INITIALIZERS))
def test_every_initializer_is_the_same_without_the_kernel(name, monkeypatch):
    init = I.get(name, **({"sparsity": 0.3} if name == "torch_sparse" else {}))
    for shape in [(300, 200), (40, 700)]:
        for dt in DTYPES:
            a = init(stream(7, WEIGHT, 3), shape, dt)
            monkeypatch.setattr(kernel, "DRAW", None)
            b = init(stream(7, WEIGHT, 3), shape, dt)
            monkeypatch.undo()
            assert np.array_equal(a, b), (name, shape, dt)


@needs_kernel
@pytest.mark.parametrize("dt", DTYPES)
def test_thread_count_and_kernel_variant_do_not_change_the_values(dt, threads):
    n = 3 * draw.MIN_SPLIT + 12345
    for name, f in kinds(dt):
        ref = None
        for t in (1, 2, 3):
            threads(t)
            for target in kernel.DRAW.build_info()["supported"]:
                prev = kernel.DRAW.set_target(target)
                try:
                    x = f(np.random.default_rng(11), n)
                finally:
                    kernel.DRAW.set_target(prev)
                if ref is None:
                    ref = x
                assert np.array_equal(ref, x), (name, t, target)


def test_a_slice_of_entries_is_the_same_slice_of_the_whole(numpy_path):
    """Counter-based: entry j depends on (key, j) only (what lets threads split an array)."""
    whole = np.empty(5000)
    _draw_numpy.fill(whole, 1, 123, 0x9E3779B97F4A7C15, 0, -1.0, 1.5, 1.0, 0.0, -1.0, 1.5)
    part = np.empty(777)
    _draw_numpy.fill(part, 1, 123, 0x9E3779B97F4A7C15, 2000, -1.0, 1.5, 1.0, 0.0, -1.0, 1.5)
    assert np.array_equal(whole[2000:2777], part)


@pytest.mark.parametrize("kind", ["normal", "truncated"])
def test_float32_is_the_float64_draw_rounded_once(kind):
    f = {"normal": lambda r, dt: draw.normal(r, (10_000,), dt, 0.1, 0.3),
         "truncated": lambda r, dt: draw.truncated(r, (10_000,), dt, -2.0, 2.0, 0.0, 1.0,
                                                   dt(-2.0), dt(2.0))}[kind]
    a32 = f(np.random.default_rng(3), np.float32)
    a64 = f(np.random.default_rng(3), np.float64)
    assert np.array_equal(a32, a64.astype(np.float32))


def test_uniforms_have_the_dtypes_resolution():
    """float64: 52 random bits; float32: 24 (two per word, float32's own resolution)."""
    u32 = draw.uniform(np.random.default_rng(1), (100_001,), np.float32, 0.0, 1.0)
    u64 = draw.uniform(np.random.default_rng(1), (100_001,), np.float64, 0.0, 1.0)
    k32, k64 = u32.astype(np.float64) * 2.0**24, u64 * 2.0**52
    assert np.array_equal(k32, np.floor(k32)) and np.array_equal(k64, np.floor(k64))
    assert len(np.unique(u32)) > 99_000 and u32.max() < 1.0 and u64.max() < 1.0
    # the odd entries' bits are independent of the even ones'
    assert abs(np.corrcoef(u32[0:-1:2], u32[1::2])[0, 1]) < K / math.sqrt(50_000)


def test_keys_differ_between_layers_and_the_stream_goes_on():
    keys = {draw.key(stream(0, WEIGHT, layer)) for layer in range(1, 200)}
    assert len(keys) == 199
    assert all(g % 2 == 1 and bin(g ^ (g >> 1)).count("1") >= 24 for _, g in keys)
    r1, r2 = stream(5, WEIGHT, 1), stream(5, WEIGHT, 1)
    draw.normal(r1, (1000,), np.float64)
    r2.bit_generator.random_raw(2)
    assert r1.random() == r2.random()  # a draw takes exactly two words of the stream


def test_layers_and_neighbouring_entries_are_uncorrelated():
    n = 1_000_000
    a = draw.normal(stream(1, WEIGHT, 1), (n,), np.float64)
    b = draw.normal(stream(1, WEIGHT, 2), (n,), np.float64)
    for x, y in [(a, b), (a[:-1], a[1:]), (a[:-1024], a[1024:])]:
        assert abs(np.corrcoef(x, y)[0, 1]) < K / math.sqrt(n)


def test_ziggurat_tables_close_at_the_top():
    """Layers of equal area v: the top one ends at f(0) = 1 (r solved to the last bit; the
    relative error of its area is the float64 recursion's, ~1e-12)."""
    xs, v = _draw_numpy._layers(_draw_numpy.R)
    top = xs[_draw_numpy.ZN - 1]
    assert abs(top * (1.0 - math.exp(-0.5 * top * top)) / v - 1.0) < 1e-10
    assert abs(_draw_numpy.R - 3.6541528853610088) < 1e-14  # Marsaglia & Tsang's r for 256


# --- exact distributions ----------------------------------------------------------------------

def test_normal_ks_on_1e7_draws_over_seeds():
    for seed in range(3):
        x = draw.normal(np.random.default_rng(seed), (10_000_000,), np.float64)
        assert stats.kstest(x, ndtr).pvalue > 0.01, seed


@pytest.mark.parametrize("dt", DTYPES)
def test_ks_p_values_over_many_seeds_are_uniform(dt):
    for name, f in kinds(dt):
        ps = []
        for seed in range(100):
            x = f(np.random.default_rng(1000 + seed), 20_000).astype(np.float64)
            ps.append(stats.kstest(x, _cdf(name)).pvalue)
        assert stats.kstest(ps, "uniform").pvalue > 0.001, name


def truncnorm_cdf(a: float, b: float, scale: float = 1.0):
    """CDF of scale * Z, Z ~ N(0, 1) conditioned on [a, b] (closed form; scipy's truncnorm is
    ~50x slower on 1e7 points)."""
    pa, pb = ndtr(a), ndtr(b)
    return lambda x: np.clip((ndtr(np.asarray(x) / scale) - pa) / (pb - pa), 0.0, 1.0)


def _cdf(name):
    if name == "normal":
        return lambda x: ndtr((np.asarray(x) - 0.25) / 1.5)
    if name == "truncated":
        return truncnorm_cdf(-2.0, 2.0, 0.5)
    if name == "truncated_tail":
        return truncnorm_cdf(0.5, 3.5)
    return stats.uniform(-3.0, 3.5).cdf


@pytest.mark.parametrize("dt", DTYPES)
def test_truncated_and_uniform_ks_on_1e7_draws(dt):
    n = 10_000_000
    x = draw.truncated(np.random.default_rng(1), (n,), dt, -2.0, 2.0, 0.0, 1.0, dt(-2.0), dt(2.0))
    assert x.min() >= -2.0 and x.max() <= 2.0 and x.min() < -1.9999 and x.max() > 1.9999
    assert stats.kstest(x.astype(np.float64), truncnorm_cdf(-2.0, 2.0)).pvalue > 0.01
    u = draw.uniform(np.random.default_rng(2), (n,), dt, -1.0, 1.0)
    assert u.min() >= -1.0 and u.max() <= 1.0
    assert stats.kstest(u.astype(np.float64), stats.uniform(-1, 2).cdf).pvalue > 0.01


def test_normal_moments_on_1e7_draws():
    n = 10_000_000
    x = draw.normal(np.random.default_rng(9), (n,), np.float64)
    # exact: mean 0, var 1, skew 0, kurtosis 3; standard errors of the sample moments
    checks = [(x.mean(), 0.0, 1.0), ((x * x).mean(), 1.0, math.sqrt(2.0)),
              ((x ** 3).mean(), 0.0, math.sqrt(15.0)), ((x ** 4).mean(), 3.0, math.sqrt(96.0))]
    for got, want, sd in checks:
        assert abs(got - want) < K * sd / math.sqrt(n), (got, want)


def test_tail_frequencies_beyond_4_5_6_sigma():
    """2e8 draws (20 arrays of 1e7): counts of |x| > 4, 5, 6 against the exact probabilities
    (binomial z-score; beyond 6 the expectation is 0.39, so the count must stay under the
    Poisson bound 6, P = 1e-5), and the shape of the tail beyond the Ziggurat's r = 3.654 (the
    exponential method's draws): a KS test of |x| | |x| > r against the exact conditional law."""
    n, chunks = 10_000_000, 20
    counts = {4: 0, 5: 0, 6: 0}
    tail = []
    r = _draw_numpy.R
    for c in range(chunks):
        x = np.abs(draw.normal(np.random.default_rng(500 + c), (n,), np.float64))
        tail.append(x[x > r])
        for t in counts:
            counts[t] += int(np.count_nonzero(x > t))
    total = n * chunks
    for t in (4, 5):
        p = math.erfc(t / math.sqrt(2.0))
        assert abs(counts[t] - total * p) < K * math.sqrt(total * p * (1 - p)), (t, counts[t])
    assert counts[6] <= 6
    tail = np.concatenate(tail)
    assert abs(tail.size - total * math.erfc(r / math.sqrt(2))) < K * math.sqrt(tail.size)
    assert stats.kstest(tail, stats.truncnorm(r, np.inf).cdf).pvalue > 0.01


def test_tail_method_beyond_5_and_6_sigma():
    """Marsaglia's tail method as the kernel runs it (_draw_numpy._tail, the kernel's formula in
    Python's libm calls): beyond r it gives the normal's conditional tail, checked on 2e5
    draws: P(x > 5 | x > r) and P(x > 6 | x > r) against their exact values."""
    s, g = draw.key(np.random.default_rng(77))
    xs = np.array([_draw_numpy._tail(s, g, j, 0)[0] for j in range(200_000)])
    r = _draw_numpy.R
    for t in (4.0, 5.0, 6.0):
        p = math.erfc(t / math.sqrt(2)) / math.erfc(r / math.sqrt(2))
        got = np.count_nonzero(xs > t)
        assert abs(got - xs.size * p) < K * math.sqrt(xs.size * p) + 1, (t, got, xs.size * p)
    assert stats.kstest(xs, stats.truncnorm(r, np.inf).cdf).pvalue > 0.01


def test_narrow_and_tail_truncations_keep_their_proposals(numpy_path):
    """Intervals where the normal is a poor proposal (uniform and exponential ones, in numpy over
    the counter-based uniforms): exact bounds and the right law."""
    for a, b in [(-0.1, 0.2), (3.0, 8.0), (-9.0, -4.0)]:
        init = I.truncated_normal(0.0, 2.0, a, b)
        x = init(np.random.default_rng(4), (400_000,), np.float64)
        assert x.min() >= 2 * a and x.max() <= 2 * b
        assert stats.kstest(x, truncnorm_cdf(a, b, 2.0)).pvalue > 0.01, (a, b)
