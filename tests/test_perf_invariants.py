"""Structural invariants behind the speed work (no timings: ratios live in benchmarks/).

The fast paths (chunked sweeps, uint8 bin indices counted in pairs, min/max-gated passes,
reused buffers, float32 throughout) must give the same statistics as the plain formulas,
count every value, and keep memory flat in depth.
"""

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from initlab.engine import activations, kernel, moments, network, stats
from initlab.engine.parameters import StoredParameters
from initlab import config
from initlab.runs import experiment

ROOT = Path(__file__).resolve().parent.parent


class CountingKernel:
    """Stands in for the kernel module (kernel.KERNEL), counting its one-pass calls."""

    def __init__(self, kernel):
        self._kernel, self.calls = kernel, 0

    def __getattr__(self, name):
        return getattr(self._kernel, name)

    def summary(self, *args):
        self.calls += 1
        return self._kernel.summary(*args)

    def sums(self, *args):
        self.calls += 1
        return self._kernel.sums(*args)


class StatsPath:
    """Which path of initlab.engine.stats a test runs, and whether that path did the work."""

    def __init__(self, name, monkeypatch):
        self.name = name
        self.chunked = 0  # numpy sweeps over an array larger than one chunk
        step = stats._sweep_step

        def counting(a):
            n = step(a)
            self.chunked += a.size > n
            return n

        monkeypatch.setattr(stats, "_sweep_step", counting)
        if name == "numpy":
            monkeypatch.setattr(kernel, "KERNEL", None)
            self.kernel = None
        else:
            self.kernel = CountingKernel(kernel.KERNEL)
            monkeypatch.setattr(kernel, "KERNEL", self.kernel)

    def assert_did_the_work(self):
        """The kernel ran, or the numpy path swept in several chunks: the small chunks the test
        sets are not a dead patch, and the test did not pass vacuously on either path."""
        if self.kernel is not None:
            assert self.kernel.calls > 0, "the kernel was never called"
        else:
            assert self.chunked > 0, "no numpy sweep went chunk by chunk"


@pytest.fixture(params=["kernel", "numpy"])
def path(request, monkeypatch):
    """Run the test on both paths of the statistics: the compiled kernel (skipped when it was
    not built) and numpy's (the kernel switched off, as tests/test_fused.py's numpy_path).
    Small chunks (``_SWEEP_BYTES``) are a numpy-path setting: the kernel chunks on its own."""
    if request.param == "kernel" and kernel.KERNEL is None:
        pytest.skip("the C kernel was not built")
    return StatsPath(request.param, monkeypatch)


def cfg_of(**kw):
    return config.resolve({}, sets=[(k.replace("__", "."), v) for k, v in kw.items()])


class Recorder(experiment.StatsObserver):
    """A StatsObserver that also keeps float64 copies of every z, h, g and dz it sees."""

    def __init__(self, cfg, act):
        super().__init__(cfg, act, False)
        self.z, self.h, self.g, self.dz = {}, {}, {}, {}

    def forward_layer(self, layer, act, z, out):
        self.z[layer] = z.astype(np.float64)
        h = super().forward_layer(layer, act, z, out)
        self.h[layer] = h.astype(np.float64)
        return h

    def backward_layer(self, layer, act, s, g, out, nonfinite):
        self.g[layer] = g.astype(np.float64)
        dz = super().backward_layer(layer, act, s, g, out, nonfinite)
        self.dz[layer] = dz.astype(np.float64)
        return dz


def engine(cfg, x, params, backward=False):
    """What experiment.run does, on a given input and parameters, with a Recorder."""
    act = experiment.components.activation(cfg)
    obs = Recorder(cfg, act)
    obs.input(x)
    depth = cfg.network.depth
    if not backward:
        network.forward(x, params, act, depth, obs)
        return obs
    tape = network.forward(x, params, act, depth, obs, keep=True)
    draws = network.draw_loss("random", cfg.seed, x.shape[0], tape[-1].shape[1], 10, np.float64)
    draws = network.LossDraws("random", draws.draws.astype(x.dtype))  # the same draws in both dtypes
    _, g = network.loss_and_gradient(draws, network.activation_from_tape(act, tape, depth))
    network.backward(tape, params, act, g, obs, nonfinite_from=obs.first["forward"])
    return obs


def reference_hist(a, h):
    """np.histogram counts plus exact below/above: what every Histogram must equal."""
    finite = a[np.isfinite(a)]
    counts, _ = np.histogram(finite, bins=h.edges.size - 1, range=(h.edges[0], h.edges[-1]))
    return counts, int(np.count_nonzero(finite < h.edges[0])), int(np.count_nonzero(finite > h.edges[-1]))


CASES = [  # (activation, initializer, batch, width, depth): odd sizes, clipped ranges, zeros
    ("tanh", "xavier", 301, 257, 4),
    ("relu", "he", 300, 256, 4),  # max > 4: values above the range, exact zeros, dead units
    ("sigmoid", {"name": "normal", "std": 0.02}, 129, 200, 3),  # |mean| >> std
    ("hardtanh", {"name": "normal", "std": 0.3}, 64, 99, 3),  # saturation at the clip
    ("selu", "lecun_normal", 77, 130, 3),  # non-representable range edge
    ("gelu", "he", 70, 64, 3),  # derivative from z: the tape keeps z (70 x 64 > one 4096-entry chunk)
]


@pytest.mark.parametrize("act,init,batch,width,depth", CASES)
def test_every_statistic_matches_the_plain_formulas(act, init, batch, width, depth, path, monkeypatch):
    # numpy path: small chunks so that every array is swept in several pieces, including an odd
    # last one
    monkeypatch.setattr(moments, "_SWEEP_BYTES", 4096 * 4)
    cfg = cfg_of(network__activation=act, network__initializer=init, network__depth=depth,
                 network__width=width, input__batch=batch, input__dim=width, dtype="float32",
                 backward__enabled=True)
    params = experiment.build_parameters(cfg)
    obs = engine(cfg, experiment.make_input(cfg), params, backward=True)
    a = obs.activation
    for l in range(1, depth + 1):
        row, z, h = obs.rows[l], obs.z[l], obs.h[l]
        assert row["preact_mean"] == pytest.approx(z.mean(), abs=1e-6 * z.std())
        assert row["preact_std"] == pytest.approx(z.std(), rel=1e-6)
        assert row["act_mean"] == pytest.approx(h.mean(), abs=1e-6 * h.std())
        assert row["act_std"] == pytest.approx(h.std(), rel=1e-6)
        assert row["act_zero"] == np.count_nonzero(h == 0) / h.size
        assert row["dead_units"] == np.count_nonzero((h == 0).all(axis=0))
        if a.saturation is not None:
            lo, hi = (np.float32(v) for v in a.saturation)
            h32 = h.astype(np.float32)
            assert row["act_saturated"] == np.count_nonzero((h32 <= lo) | (h32 >= hi)) / h.size
        hist = obs.act_hist[l - 1]
        counts, below, above = reference_hist(h.astype(np.float32), hist)
        assert hist.total == h.size
        assert (hist.below, hist.above) == (below, above)
        assert np.abs(hist.counts - counts).sum() <= 2  # ties within 1 ulp of an inner edge
        g, dz = obs.g[l], obs.dz[l]
        assert row["grad_act_std"] == pytest.approx(g.std(), rel=1e-6)
        assert row["grad_preact_std"] == pytest.approx(dz.std(), rel=1e-6)
        gh = obs.grad_hist[l]
        assert gh.total == g.size
        assert (gh.below, gh.above) == reference_hist(g.astype(np.float32), gh)[1:]
    path.assert_did_the_work()


def test_float32_statistics_match_float64_on_the_same_draws():
    cfg64 = cfg_of(network__depth=8, network__width=300, input__batch=400, input__dim=300,
                   network__activation="tanh", network__initializer="xavier", dtype="float64",
                   backward__enabled=True)
    cfg32 = cfg_of(network__depth=8, network__width=300, input__batch=400, input__dim=300,
                   network__activation="tanh", network__initializer="xavier", dtype="float32",
                   backward__enabled=True)
    p64 = experiment.build_parameters(cfg64)
    w64 = [p64.weight(l) for l in range(1, 9)]
    x64 = experiment.make_input(cfg64)
    o64 = engine(cfg64, x64, StoredParameters(w64, [0.0] * 8), backward=True)
    o32 = engine(cfg32, x64.astype(np.float32),
                 StoredParameters([w.astype(np.float32) for w in w64], [0.0] * 8), backward=True)
    for r64, r32 in zip(o64.rows[1:], o32.rows[1:]):
        for key in ("preact_std", "act_std", "grad_act_std", "grad_preact_std", "grad_weight_std"):
            assert r32[key] == pytest.approx(r64[key], rel=1e-4), key
        assert r32["act_mean"] == pytest.approx(r64["act_mean"], abs=1e-4 * r64["act_std"])
        assert r32["act_saturated"] == pytest.approx(r64["act_saturated"], abs=1e-4)
    for h64, h32 in zip(o64.act_hist, o32.act_hist):  # values may cross an edge by rounding
        assert np.abs(h64.counts - h32.counts).sum() <= 1e-3 * 400 * 300


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loc,scale", [(0.5, 0.01), (0.0, 1e-25), (3.0, 1e-3), (0.0, 0.0)])
def test_chunked_moments_stay_exact_to_the_dtype(dtype, loc, scale, path, monkeypatch):
    """Far-from-zero means, tiny values (squares underflow in float32) and constant arrays
    leave the chunked one-pass sums for a shifted or rescaled pass: same answer as float64,
    on the kernel's sums and on numpy's chunked ones."""
    monkeypatch.setattr(moments, "_SWEEP_BYTES", 8192)
    x = (loc + scale * np.random.default_rng(1).standard_normal((300, 100))).astype(dtype)
    h = np.empty_like(x)
    mz, st = stats.ActivationSummarizer(None, None).sweep(x, activations.LINEAR, h)
    ref = x.astype(np.float64)
    for m in (mz, st.moments):
        assert m.mean == pytest.approx(ref.mean(), rel=1e-6, abs=1e-300)
        assert m.std == pytest.approx(ref.std(), rel=1e-5, abs=1e-300)
    path.assert_did_the_work()


def test_nonfinite_layers_are_counted_not_binned():
    cfg = cfg_of(dtype="float32", network__depth=60, network__activation="relu",
                 network__initializer={"name": "normal", "std": 1.0}, network__width=101,
                 input__batch=51, input__dim=101, backward__enabled=True)
    r = experiment.run(cfg, theory=False)
    assert r.first_nonfinite["forward"] is not None
    for h in r.act_hist + r.grad_hist:
        assert h.total == 51 * 101
    assert any(h.nonfinite for h in r.act_hist)


def test_histograms_with_many_bins_and_a_custom_range():
    cfg = cfg_of(network__depth=3, network__width=200, input__batch=101, input__dim=200,
                 network__activation="relu", network__initializer="he", stats__bins=300,
                 stats__range=[-0.5, 1.5], dtype="float32")
    obs = engine(cfg, experiment.make_input(cfg), experiment.build_parameters(cfg))
    for l, hist in enumerate(obs.act_hist, start=1):
        counts, below, above = reference_hist(obs.h[l].astype(np.float32), hist)
        assert hist.counts.size == 300 and hist.total == 101 * 200
        assert (hist.below, hist.above) == (below, above)
        assert np.abs(hist.counts - counts).sum() <= 2


def test_backward_allocates_no_per_layer_arrays_beyond_the_tape():
    """The taped forward pass keeps one array per layer and no weights: its peak grows with
    depth by one activation array a layer (plus less than one weight). With the tape given,
    the backward pass's peak is what it starts with plus a constant: two reused buffers (dz,
    g), O(1) regenerated weights and the statistics' scratch."""
    def extra(depth):
        cfg = cfg_of(network__depth=depth, network__width=256, input__batch=64, input__dim=256,
                     backward__enabled=True, dtype="float32")
        act = experiment.components.activation(cfg)
        params = experiment.build_parameters(cfg)
        obs = experiment.StatsObserver(cfg, act, False)
        x = experiment.make_input(cfg)
        g = np.ones((64, 256), np.float32)
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tape = network.forward(x, params, act, depth, obs, keep=True)
        forward = tracemalloc.get_traced_memory()[1] - base
        assert len(tape) == depth + 1 and all(s.shape == (64, 256) for s in tape)
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        network.backward(tape, params, act, g, obs)
        backward = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        return forward, backward

    (fwd4, shallow), (fwd40, deep) = extra(4), extra(40)
    weight, activation = 256 * 256 * 4, 64 * 256 * 4
    assert fwd40 - fwd4 < 36 * activation + weight, (fwd4, fwd40)  # the tape, and no weights
    assert deep < shallow + weight, (shallow, deep)  # flat in depth
    assert deep < 4 * weight + 6 * activation + (1 << 20), deep  # and small


def test_the_benchmark_measures_what_run_does():
    """benchmarks/bench.py times the engine of experiment.run: same rows and histograms."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench
    finally:
        sys.path.pop(0)
    for backward in (False, True):
        case = bench.make_case(40, 30, 3, "tanh", backward=backward)
        run = experiment.run(case["cfg"], params=case["params"], theory=False)
        obs = (bench.engine_forward_backward if backward else bench.engine_forward)(case)()
        assert obs.rows == run.rows
        assert all(np.array_equal(a.counts, b.counts) for a, b in zip(obs.act_hist, run.act_hist))
    # the bare chains compute the same network
    case = bench.make_case(40, 30, 3, "tanh")
    np.testing.assert_allclose(bench.bare_forward(case)(),
                               network.forward(case["x"], case["params"], case["act"], 3)[0], rtol=1e-6)


@pytest.mark.parametrize("module", ["initlab.engine.network", "initlab.engine.stats", "initlab.runs.experiment"])
def test_the_engine_imports_no_cli_or_plotting_library(module):
    code = (f"import sys, {module}; bad = [m for m in ('matplotlib', 'rich', 'typer', 'yaml', 'torch') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_help_does_not_import_matplotlib_or_the_engine():
    code = ("import sys\nfrom initlab.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "bad = [m for m in ('matplotlib', 'scipy', 'initlab.runs.experiment', 'initlab.engine.stats') if m in sys.modules]\n"
            "print(bad)\nsys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_dead_units_are_tracked_exactly_chunk_by_chunk(act, path, monkeypatch):
    monkeypatch.setattr(moments, "_SWEEP_BYTES", 4096 * 4)  # numpy path: several chunks of whole rows
    rng = np.random.default_rng(2)
    x = rng.random((300, 64)).astype(np.float32)  # non-negative input
    w = rng.standard_normal((64, 70)).astype(np.float32)
    w[:, [3, 10]] = -np.abs(w[:, [3, 10]])  # never fire under ReLU
    w[:, 69] = 0.0  # exactly 0 under every activation with act(0) = 0
    cfg = cfg_of(network__depth=1, network__width=70, input__batch=300, input__dim=64,
                 network__activation=act, dtype="float32")
    obs = engine(cfg, x, StoredParameters([w], [0.0]))
    dead = obs.rows[1]["dead_units"]
    assert dead == np.count_nonzero((obs.h[1] == 0).all(axis=0))
    assert dead >= 3 if act == "relu" else dead == 1
    path.assert_did_the_work()


@pytest.mark.parametrize("lo,hi", [(-1.0, 1.0), (-0.3713, 0.3713), (-1.0, 4.0)])
def test_values_near_a_zero_edge_keep_their_sign(lo, hi):
    """float32 x - lo rounds tiny values onto the edge at 0 whatever their sign; the count of
    negatives puts them back (a collapsed tanh layer, or a vanishing gradient, is all there)."""
    rng = np.random.default_rng(4)
    for scale in (1e-30, 1e-9, 1e-6, 1e-3):
        x = (scale * rng.standard_normal(100_001)).astype(np.float32)
        x[:5] = 0.0
        h = stats.Histogrammer(lo, hi, 50)(x)
        ref, _ = np.histogram(x, bins=50, range=(lo, hi))
        np.testing.assert_array_equal(h.counts, ref)
