"""The compiled one-pass kernel (initlab.engine._fused) against the numpy path of initlab.engine.stats.

The kernel must give the same statistics as the numpy path over the same activations:
histogram counts equal entry for entry, zeros/saturation/dead units equal, moments within float
rounding (the sums are taken in a different order: per-block lanes in the dtype, added in
double). The activations it applies itself must be numpy's bit for bit (ReLU, leaky ReLU,
identity) or, for its float32 tanh, within 1.08 ulp of the exact tanh. It must not depend on
the number of threads, and it must survive a fork.
"""

from __future__ import annotations

import multiprocessing as mp
import os

import numpy as np
import pytest

from initlab.engine import activations, kernel, stats

_fused = pytest.importorskip("initlab.engine._fused", reason="the C kernel was not built")


@pytest.fixture
def numpy_path(monkeypatch):
    """Run a block of code with the kernel switched off."""

    def call(f, *args, **kwargs):
        with monkeypatch.context() as m:
            m.setattr(kernel, "KERNEL", None)
            return f(*args, **kwargs)

    return call


def _ulps(h: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Distance of ``h`` from the exact tanh(z) (float64 tanh) in units of h's last place."""
    ref = np.tanh(z.astype(np.float64))
    ulp = np.spacing(np.abs(ref).astype(h.dtype)).astype(np.float64)
    return np.abs(h.astype(np.float64) - ref) / ulp


def _summaries(summarizer, z, act, numpy_path):
    """The kernel's sweep, and the numpy path's statistics over the activations it wrote."""
    h1, h2 = np.empty_like(z), np.empty_like(z)
    fused = summarizer.sweep(z, act, h1)
    act.fn(z, out=h2)
    if stats.kernel_activation(act, z.dtype) == (2, 0.0):  # the kernel's own tanh
        assert _ulps(h1, z).max() <= 1.08
    else:
        np.testing.assert_array_equal(h1, h2)
    plain = (numpy_path(stats.moments, z), numpy_path(summarizer, h1))
    return fused, plain


def _same(fused, plain, rtol):
    """Equal counts; moments within ``rtol``. float32 (2e-6): the numpy path adds float32 chunks
    in float64 (products exact, pairwise: error < log2(n) 2^-53 of the sum); the kernel
    adds each square (rounded in float32) into a float32 lane holding at most 4 terms, then
    pairs of lanes, then double: <= 7 float32 roundings per term, so the sum of squares is
    within 7 * 2^-24 = 4.2e-7 of its exact value, the variance within that times
    E[x^2] / var (<= 5 unshifted: both paths take the sums about a shift when mean^2 > 4 var)
    and the std within half of it: <= 1.1e-6 < 2e-6. (Before, the numpy path used BLAS's float32 dot
    product over whole 65536-entry chunks: 6.3e-6 off on a saturated tanh layer.)"""
    (mz1, a1), (mz2, a2) = fused, plain
    assert mz1.mean == pytest.approx(mz2.mean, rel=rtol, abs=rtol * mz2.std)
    assert mz1.std == pytest.approx(mz2.std, rel=rtol)
    assert a1.moments.mean == pytest.approx(a2.moments.mean, rel=rtol, abs=rtol * a2.moments.std)
    assert a1.moments.std == pytest.approx(a2.moments.std, rel=rtol)
    assert (a1.zero, a1.dead, a1.saturated) == (a2.zero, a2.dead, a2.saturated)
    if a2.hist is None:
        assert a1.hist is None
    else:
        np.testing.assert_array_equal(a1.hist.counts, a2.hist.counts)
        assert (a1.hist.below, a1.hist.above, a1.hist.nonfinite) == (a2.hist.below, a2.hist.above,
                                                                      a2.hist.nonfinite)


# (activation, histogram range, bins, pre-activation scale): plain, floor (0 an edge,
# scale >= 1), sign (0 an edge, scale < 1) and lo == 0 binning, values in and out of range
CASES = [
    ("tanh", (-1.0, 1.0), 50, 1.0),  # floor mode
    ("tanh", (-1.0, 1.0), 50, 1e-7),  # a collapsed layer: everything next to the 0 edge
    ("relu", (0.0, 3.0), 50, 2.0),  # lo == 0, values above the range
    ("relu", (-1.0, 3.0), 37, 1.0),  # plain mode, offset not an integer
    ("linear", (-400.0, 400.0), 40, 1e-3),  # 0 an edge with scale < 1: sign mode, tiny values
    ("linear", (-4.0, 4.0), 50, 10.0),  # most values out of range on both sides
    ("sigmoid", (0.0, 1.0), 50, 0.01),  # |mean| >> std: shifted sums (numpy's activation)
    ("leaky_relu", (-1.0, 4.0), 50, 1.0),  # the kernel's leaky ReLU
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,rng_range,bins,scale", CASES)
@pytest.mark.parametrize("shape", [(1000, 500), (7, 13), (3, 1), (333, 77)])
def test_kernel_matches_numpy_path(numpy_path, dtype, name, rng_range, bins, scale, shape):
    act = activations.get(name)
    rng = np.random.default_rng(hash((name, bins, shape)) % 2**32)
    z = (rng.standard_normal(shape) * scale).astype(dtype)
    summ = stats.ActivationSummarizer(act.saturation, stats.Histogrammer(*rng_range, bins))
    fused, plain = _summaries(summ, z, act, numpy_path)
    _same(fused, plain, 2e-6 if dtype == np.float32 else 1e-12)
    assert fused[1].hist.total == z.size


def test_dead_units_and_zeros(numpy_path):
    rng = np.random.default_rng(3)
    z = rng.standard_normal((400, 300)).astype(np.float32)
    z[:, [0, 7, 299]] = -1.0  # three units that never fire
    z[5, 8] = 0.0
    summ = stats.ActivationSummarizer(None, stats.Histogrammer(0.0, 3.0, 50))
    fused, plain = _summaries(summ, z, activations.RELU, numpy_path)
    assert fused[1].dead == 3
    _same(fused, plain, 2e-6)


def test_saturation_counts_match(numpy_path):
    z = np.linspace(-8, 8, 200_001, dtype=np.float32).reshape(1, -1)
    summ = stats.ActivationSummarizer(activations.TANH.saturation, stats.Histogrammer(-1, 1, 50))
    fused, plain = _summaries(summ, z, activations.TANH, numpy_path)
    assert 0.5 < fused[1].saturated < 0.9
    _same(fused, plain, 2e-6)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_layers_fall_back_to_numpy(numpy_path, bad):
    rng = np.random.default_rng(4)
    z = rng.standard_normal((200, 100))
    z[17, 3] = bad
    summ = stats.ActivationSummarizer(None, stats.Histogrammer(-4, 4, 50))
    fused, plain = _summaries(summ, z, activations.LINEAR, numpy_path)
    assert fused[1].moments.nonfinite == 1 and fused[1].hist.nonfinite == 1
    _same(fused, plain, 1e-12)


def test_histogram_kernel_edges(numpy_path):
    """Values on every edge and next to it on both sides: the kernel bins them as the numpy
    path does; 0, the smallest subnormals and +-hi land exactly where they belong."""
    h = stats.Histogrammer(-1.0, 1.0, 50)
    edges = h.edges.astype(np.float32)
    x = np.concatenate([edges, np.nextafter(edges, np.float32(2)), np.nextafter(edges, np.float32(-2)),
                        np.array([0.0, -0.0, 1e-45, -1e-45], np.float32)])
    raw = np.zeros(52, np.int64)
    _fused.summary(x, x.size, 0.0, h.kernel_spec(), raw, None, None)
    counts, below, above = h.kernel_counts(raw)
    ref, rbelow, rabove = numpy_path(h.count, x)
    np.testing.assert_array_equal(counts, ref)
    assert (below, above) == (rbelow, rabove) == (np.count_nonzero(x < -1), np.count_nonzero(x > 1))

    def bin_of(v):
        r = np.zeros(52, np.int64)
        _fused.summary(np.array([v], np.float32), 1, 0.0, h.kernel_spec(), r, None, None)
        return int(np.argmax(r))

    assert [bin_of(v) for v in (0.0, -0.0, 1e-45, -1e-45, 1.0, -1.0)] == [25, 25, 25, 24, 49, 0]


def test_sums_are_accurate_and_thread_independent():
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(1_000_003) * 3 + 0.5).astype(np.float32)
    ref = x.astype(np.float64)
    s, ss = _fused.sums(x, 0.0)
    assert s == pytest.approx(ref.sum(), rel=1e-6)
    assert ss == pytest.approx(np.dot(ref, ref), rel=1e-6)
    x2 = x.reshape(1009, -1) if x.size % 1009 == 0 else x[: 1000 * 1000].reshape(1000, 1000)
    results = []
    for k in (1, 2, 1, 2):
        old = _fused.set_threads(k)
        raw = np.zeros(52, np.int64)
        alive = np.zeros(x2.shape[1], np.uint8)
        results.append((_fused.summary(x2.reshape(-1), x2.shape[1], 0.5, (50, 0, 0, 5.0, 25.0, -5.0, 5.0),
                                       raw, (-1.0, 1.0), alive), raw.tolist(), alive.tolist()))
        _fused.set_threads(old)
    assert all(r == results[0] for r in results)  # bit for bit, whatever the threads


def test_activation_and_local_gradient_passes_are_thread_independent():
    """With the activation (and the local gradient) formed in the pass, the chunks that each
    thread takes vary from call to call; the outputs and the statistics must not."""
    rng = np.random.default_rng(6)
    z = (rng.standard_normal((1000, 500)) * 2).astype(np.float32)
    g = rng.standard_normal((1000, 500)).astype(np.float32)
    nan = float("nan")
    runs = []
    for k in (1, 2, 2, 1, 2):
        old = _fused.set_threads(k)
        try:
            h, dz = np.empty_like(z), np.empty_like(z)
            raw, graw = np.zeros(52, np.int64), np.zeros(52, np.int64)
            alive = np.zeros(500, np.uint8)
            r1 = _fused.summary(h.reshape(-1), 500, nan, (50, 1, 25, 25.0, 0.0, -1.0, 1.0), raw,
                                (-0.9, 0.9), alive, z.reshape(-1), nan, 2, 0.0)
            r2 = _fused.summary(g.reshape(-1), 500, nan, (50, 1, 25, 25.0, 0.0, -1.0, 1.0), graw,
                                None, None, dz.reshape(-1), nan, 2, 0.0, h.reshape(-1))
        finally:
            _fused.set_threads(old)
        runs.append((r1, r2, raw.tolist(), graw.tolist(), alive.tolist(), h.tobytes(), dz.tobytes()))
    assert all(r == runs[0] for r in runs)


def _child_summary(q):
    x = np.arange(200_000, dtype=np.float32).reshape(400, 500) / 200_000
    raw = np.zeros(52, np.int64)
    q.put((_fused.summary(x.reshape(-1), 500, 0.0, (50, 0, 0, 50.0, 0.0, 0.0, 1.0), raw, None, None), raw.tolist()))


def test_kernel_works_after_fork():
    x = np.ones((400, 500), np.float32)
    _fused.summary(x.reshape(-1), 500, 0.0, None, None, None, None)  # start the worker here
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_summary, args=(q,))
    p.start()
    got = q.get(timeout=60)
    p.join(timeout=60)
    assert p.exitcode == 0
    (s, ss, zeros, sat, _, _, _, _), counts = got
    assert zeros == 1 and sum(counts) == 200_000 and counts[-2:] == [0, 0]


def test_bad_arguments_raise():
    x = np.ones(10, np.float32)
    with pytest.raises(TypeError):
        _fused.sums(np.ones(10, np.int32), 0.0)
    with pytest.raises(ValueError):
        _fused.summary(x, 3, 0.0, None, None, None, None)  # 3 does not divide 10
    with pytest.raises(ValueError):
        _fused.summary(x, 10, 0.0, (300, 0, 0, 1.0, 0.0, 0.0, 1.0), np.zeros(302, np.int64), None, None)
    with pytest.raises(ValueError):
        _fused.summary(x, 10, 0.0, (50, 0, 0, 1.0, 0.0, 0.0, 1.0), np.zeros(10, np.int64), None, None)


# --- the activations the kernel applies itself -----------------------------------------------

def _apply(code: int, z: np.ndarray, alpha: float = 0.0) -> np.ndarray:
    h = np.empty_like(z)
    _fused.summary(h.reshape(-1), z.size, 0.0, None, None, None, None, z.reshape(-1), 0.0, code, alpha)
    return h


def test_tanh_is_within_1_08_ulp_everywhere():
    """Every float32 in [2^-20, 12] at a stride (3.1 million values, both signs), the split
    point and its neighbours, tiny, huge and special values. The bound comes from an exhaustive
    check of all 1.09e9 float32 in [0, 9.6] (above 9.01 tanh rounds to 1): 1.079 ulp at
    0.872971. numpy's float32 tanh on the machine measured: 1.37 ulp."""
    lo, hi = np.array([2.0**-20, 12.0], np.float32).view(np.int32)
    x = np.arange(lo, hi, 331, dtype=np.int32).view(np.float32)
    split = np.float32(0.75)
    near = np.array([np.nextafter(split, np.float32(0)), split, np.nextafter(split, np.float32(1)),
                     9.0, 9.01, 9.5, 10.0, 88.0, 1e30, 1e-30, 1e-45, 2.0**-12], np.float32)
    z = np.concatenate([x, near, -x, -near])
    h = _apply(2, z)
    assert _ulps(h, z).max() <= 1.08
    np.testing.assert_array_equal(h[: z.size // 2], -h[z.size // 2 :])  # odd
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], np.float32)
    hs = _apply(2, special)
    assert list(hs[:4]) == [0.0, 0.0, 1.0, -1.0] and np.signbit(hs[1]) and np.isnan(hs[4])
    assert np.all(np.abs(h) <= 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_leaky_linear_are_numpys_bit_for_bit(dtype):
    rng = np.random.default_rng(9)
    z = rng.standard_normal(50_000).astype(dtype)
    z[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-300 if dtype == np.float64 else 1e-40]
    for code, act in ((1, activations.LINEAR), (3, activations.RELU),
                      (4, activations.get("leaky_relu", negative_slope=0.2))):
        alpha = act.params.get("negative_slope", 0.0)
        np.testing.assert_array_equal(_apply(code, z, alpha), act.fn(z))


def test_activation_arguments_are_checked():
    z = np.ones(10, np.float32)
    with pytest.raises(ValueError):  # no input to apply it to
        _fused.summary(z, 10, 0.0, None, None, None, None, None, 0.0, 3, 0.0)
    with pytest.raises(ValueError):  # in place
        _fused.summary(z, 10, 0.0, None, None, None, None, z, 0.0, 3, 0.0)
    with pytest.raises(ValueError):  # tanh in float64 is numpy's
        _fused.summary(np.ones(10), 10, 0.0, None, None, None, None, np.ones(10), 0.0, 2, 0.0)
    with pytest.raises(ValueError):
        _fused.summary(np.ones(10, np.float32), 10, 0.0, None, None, None, None, z, 0.0, 9, 0.0)


def test_shift_chosen_by_the_kernel_is_returned():
    """shift NaN: the kernel takes the first entries' mean (rounded to the dtype) when |mean|
    is large against their std, as initlab.engine.stats._Accumulator.decide does, else 0."""
    rng = np.random.default_rng(11)
    far = (100.0 + rng.standard_normal(100_000)).astype(np.float32)
    near = rng.standard_normal(100_000).astype(np.float32)
    nan = float("nan")
    r = _fused.summary(far, far.size, nan, None, None, None, None, near, nan)
    assert r[6] == pytest.approx(100.0, abs=0.1) and r[6] == float(np.float32(r[6])) and r[7] == 0.0
    n = far.size
    mean = r[6] + r[0] / n
    assert mean == pytest.approx(far.astype(np.float64).mean(), rel=1e-9)
    assert np.sqrt(r[1] / n - (r[0] / n) ** 2) == pytest.approx(far.astype(np.float64).std(), rel=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["tanh", "relu", "leaky_relu", "linear"])
def test_local_gradient_is_numpys_bit_for_bit(dtype, name):
    """dz = act'(h) * g formed by the kernel (the backward pass's fused step) against
    network.local_gradient, including zeros, signed zeros, infinities and NaN in g and h."""
    from initlab.engine import network

    act = activations.get(name, negative_slope=0.2) if name == "leaky_relu" else activations.get(name)
    code, alpha = stats.kernel_derivative(act, dtype)
    rng = np.random.default_rng(13)
    h = act.fn(rng.standard_normal((300, 70)).astype(dtype))
    g = rng.standard_normal((300, 70)).astype(dtype)
    h.flat[:4] = [0.0, -0.0, 1.0, -1.0]
    g.flat[4:9] = [np.inf, -np.inf, np.nan, 0.0, -0.0]
    dz = np.empty_like(g)
    r = _fused.summary(g.reshape(-1), 70, float("nan"), None, None, None, None, dz.reshape(-1),
                       float("nan"), code, alpha, h.reshape(-1))
    ref = network.local_gradient(act, h, g, np.empty_like(g))
    np.testing.assert_array_equal(dz, ref)
    np.testing.assert_array_equal(np.signbit(dz), np.signbit(ref))
    assert not np.isfinite(r[4])  # the sums of dz see the non-finite entries


# --- instruction-set variants: a portable build, the best variant chosen at import ------------

def test_build_info_is_sane():
    info = _fused.build_info()
    assert {"compiler", "flags", "target", "isa", "best", "tanh_fma", "targets", "supported"} <= set(info)
    assert info["compiler"] and info["flags"] != "?" and "-ffp-contract=off" in info["flags"]
    assert set(info["supported"]) <= set(info["targets"]) and info["supported"]
    assert info["best"] == info["supported"][0]  # best first
    if not os.environ.get("INITLAB_KERNEL_TARGET"):
        assert info["target"] == info["best"]
    assert info["tanh_fma"] in ("instruction", "exact in double")
    if "-march=native" in info["flags"]:  # INITLAB_NATIVE=1: one variant for this machine
        assert info["targets"] == ["native"]
    else:  # portable: the baseline variant always, the vector ones on x86-64
        assert info["targets"][-1] == "baseline"
    with pytest.raises(ValueError, match="not in this build"):
        _fused.set_target("sse9")


def _every_output() -> list:
    """The kernel's outputs on inputs covering every path: tanh over a stride of every float32
    (both signs, 4.2 million values) and special values; float32 and float64 passes with every
    histogram mode, saturation, dead units and kernel-chosen shifts; local gradients; sums."""
    out = []
    bits = np.arange(0, 0x7F800000, 0x1FD, dtype=np.int32)
    z = np.concatenate([bits.view(np.float32), np.array([np.inf, np.nan, 0.75, 9.5], np.float32)])
    z = np.concatenate([z, -z])
    out.append(_apply(2, z).tobytes())
    rng = np.random.default_rng(21)
    for dtype in (np.float32, np.float64):
        zz = (rng.standard_normal((500, 300)) * 2).astype(dtype)
        g = rng.standard_normal((500, 300)).astype(dtype)
        for code, spec in ((2 if dtype == np.float32 else 1, (50, 1, 25, 25.0, 0.0, -1.0, 1.0)),
                           (3, (37, 0, 0, 9.25, 9.25, -1.0, 3.0)), (4, (50, 2, 25, 0.0625, 25.0, -400.0, 400.0))):
            h, dz = np.empty_like(zz), np.empty_like(zz)
            raw, graw, alive = np.zeros(spec[0] + 2, np.int64), np.zeros(spec[0] + 2, np.int64), np.zeros(300, np.uint8)
            r1 = _fused.summary(h.reshape(-1), 300, float("nan"), spec, raw, (-0.9, 0.9), alive,
                                zz.reshape(-1), float("nan"), code, 0.1)
            r2 = _fused.summary(g.reshape(-1), 300, float("nan"), spec, graw, None, None,
                                dz.reshape(-1), float("nan"), code, 0.1, h.reshape(-1))
            out += [r1, r2, raw.tolist(), graw.tolist(), alive.tolist(), h.tobytes(), dz.tobytes()]
        out.append(_fused.sums(zz + 100, 100.0))
    return out


def test_every_variant_gives_the_same_bits():
    """The baseline variant (SSE2 on x86-64, tanh_f32's fused multiply-adds emulated exactly)
    and every vector variant this CPU runs give the same activations, gradients, counts and
    sums, bit for bit."""
    supported = _fused.build_info()["supported"]
    old = _fused.set_target(supported[0])
    try:
        results = {}
        for name in supported:
            _fused.set_target(name)
            results[name] = _every_output()
    finally:
        _fused.set_target(old)
    for name in supported[1:]:
        assert results[name] == results[supported[0]], name


_HASH_TANH = ("import hashlib, numpy as np; from initlab.engine import _fused; "
              "z = np.arange(0, 0x7F800000, 0x1FD, dtype=np.int32).view(np.float32); h = np.empty_like(z); "
              "_fused.summary(h, z.size, 0.0, None, None, None, None, z, 0.0, 2, 0.0); "
              "print(_fused.build_info()['target'], hashlib.sha256(h.tobytes()).hexdigest())")


def test_target_from_the_environment_and_software_fma():
    """INITLAB_KERNEL_TARGET picks the variant at import; the baseline variant (its tanh's
    fused multiply-adds emulated exactly in double, fmaf_exact) gives the best variant's bits,
    also with FMA masked from glibc as on a CPU without it (glibc >= 2.33 tunables; ignored
    elsewhere), which would change nothing unless the baseline variant leaned on libm's fmaf."""
    import subprocess
    import sys

    best = _fused.build_info()["best"]
    runs = {}
    for target, tunables in ((best, ""), ("baseline", ""), ("baseline", "glibc.cpu.hwcaps=-AVX2,-FMA,-FMA4")):
        env = {**os.environ, "INITLAB_KERNEL_TARGET": target, "GLIBC_TUNABLES": tunables}
        if "baseline" not in _fused.build_info()["targets"]:
            pytest.skip("a native build has no baseline variant")
        out = subprocess.run([sys.executable, "-c", _HASH_TANH], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        assert out[0] == target
        runs[(target, tunables)] = out[1]
    assert len(set(runs.values())) == 1, runs
