"""The engine against independent truth: finite differences, closed forms, the cs231n case."""

import math
import tracemalloc

import numpy as np
import pytest

from initlab.engine import activations, network
from initlab.engine.parameters import StoredParameters
from initlab import config
from initlab.runs import experiment
from initlab.runs.experiment import run


def cfg_of(**kw):
    """A config from dotted keys, e.g. cfg_of(**{"network.depth": 3})."""
    sets = [(k.replace("__", "."), v) for k, v in kw.items()]
    return config.resolve({}, sets=sets)


def small(act="tanh", init="xavier", loss="random", bias=0.0, dtype="float64", **extra):
    return cfg_of(network__depth=3, network__width=[7, 6, 5], input__batch=4, input__dim=8,
                  network__activation=act, network__initializer=init, network__bias=bias,
                  backward__enabled=True, backward__loss=loss, dtype=dtype, **extra)


class Recorder(network.Observer):
    def __init__(self):
        self.dz, self.dw, self.g = {}, {}, {}

    def grad_act(self, layer, g):
        self.g[layer] = g.copy()

    def grad_preact(self, layer, dz):
        self.dz[layer] = dz.copy()

    def grad_weight(self, layer, h_prev, dz, w):
        self.dw[layer] = h_prev.T @ dz


def loss_of(cfg, params, x, draws):
    act = activations.get(cfg.network.activation.name, **cfg.network.activation.kwargs)
    h = network.forward(x, params, act, cfg.network.depth)[0]
    readout = params.weight(cfg.network.depth + 1) if draws.kind == "softmax_ce" else None
    return network.loss_and_gradient(draws, h, readout)[0]


# Every registered activation (a new one is tested the day it is added), aliases aside (swish
# is silu: tests/test_activations.py), at its default parameters.
ACTS = sorted(n for n in activations.ACTIVATIONS if n not in activations.ALIASES)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("loss", ["random", "mse", "softmax_ce"])
def test_backward_matches_finite_differences(act, loss):
    cfg = small(act=act, loss=loss, bias={"name": "normal", "std": 0.1})
    a = activations.get(cfg.network.activation.name, **cfg.network.activation.kwargs)
    params = experiment.build_parameters(cfg)
    # freeze the weights so finite differences perturb them in place
    depth = cfg.network.depth
    n_w = depth + (1 if loss == "softmax_ce" else 0)
    fixed = StoredParameters([params.weight(l) for l in range(1, n_w + 1)],
                                    [params.bias(l) for l in range(1, depth + 1)])
    x = experiment.make_input(cfg)
    draws = network.draw_loss(loss, cfg.seed, 4, 5, cfg.backward.classes, np.float64)
    tape = network.forward(x, fixed, a, depth, keep=True)
    h_top = network.activation_from_tape(a, tape, depth)
    _, g = network.loss_and_gradient(draws, h_top, fixed.weight(depth + 1) if loss == "softmax_ce" else None)
    rec = Recorder()
    gx = network.backward(tape, fixed, a, g, rec)
    eps, tol = 1e-6, 1e-6  # central differences in float64: error ~ eps^2 + 1e-16/eps

    def central_difference(arr, i, j):
        """d loss / d arr[i, j], arr perturbed in place and restored."""
        old = arr[i, j]
        arr[i, j] = old + eps
        lp = loss_of(cfg, fixed, x, draws)
        arr[i, j] = old - eps
        lm = loss_of(cfg, fixed, x, draws)
        arr[i, j] = old
        return (lp - lm) / (2 * eps)

    rng = np.random.default_rng(0)
    for l in range(1, depth + 1):
        W = fixed.weights[l - 1]
        for _ in range(4):
            i, j = rng.integers(W.shape[0]), rng.integers(W.shape[1])
            assert rec.dw[l][i, j] == pytest.approx(central_difference(W, i, j), rel=tol, abs=tol), (l, i, j)
    for _ in range(4):  # the input gradient
        i, j = rng.integers(x.shape[0]), rng.integers(x.shape[1])
        assert gx[i, j] == pytest.approx(central_difference(x, i, j), rel=tol, abs=tol)


def test_streaming_and_taped_forward_agree():
    cfg = small(act="gelu")
    a = activations.get("gelu")
    p = experiment.build_parameters(cfg)
    x = experiment.make_input(cfg)
    h1 = network.forward(x, p, a, 3)[0]
    tape = network.forward(x, p, a, 3, keep=True)
    np.testing.assert_array_equal(h1, network.activation_from_tape(a, tape, 3))


def test_cs231n_tanh_small():
    """cs231n lecture 6: tanh, W = 0.01 randn, 10 x 500, batch 1000."""
    r = run(config.resolve({"network": {"activation": "tanh", "initializer": {"name": "normal", "std": 0.01}}}))
    std = [row["act_std"] for row in r.rows]
    # Mean-field: q1 = 500 * 1e-4 * 1 = 0.05, E[tanh(sqrt(q1) z)^2]^(1/2) = 0.21350. The
    # sample std over 5e5 entries of one draw fluctuates by about 1% (finite width 500).
    assert std[1] == pytest.approx(0.2135, rel=0.01)
    # deeper layers are in the linear regime: ratio sqrt(500) * 0.01 * tanh'(0) = 0.2236
    for l in range(3, 11):
        assert std[l] / std[l - 1] == pytest.approx(math.sqrt(500) * 0.01, rel=0.02)


def test_relu_positive_homogeneity_xavier_vs_he_exact():
    """A ReLU net with xavier weights is the he net scaled by 2^(-l/2) at layer l (same draws)."""
    base = {"network": {"activation": "relu", "depth": 6, "width": 200}, "input": {"batch": 64, "dim": 200}}
    rx = run(config.resolve(base, sets=[("network.initializer", "xavier_normal")]))
    rh = run(config.resolve(base, sets=[("network.initializer", "he_normal")]))
    for l in range(1, 7):
        for key in ("act_mean", "act_std", "preact_std"):
            assert rx.rows[l][key] == pytest.approx(rh.rows[l][key] * 2 ** (-l / 2), rel=1e-12)
        assert rx.rows[l]["act_zero"] == rh.rows[l]["act_zero"]


def test_streams_are_independent_of_other_settings():
    c1 = config.resolve({"network": {"depth": 2, "width": 20}, "input": {"batch": 5, "dim": 10}})
    c2 = config.resolve({"network": {"depth": 4, "width": 20, "initializer": "orthogonal"},
                         "input": {"batch": 5, "dim": 10}, "backward": {"enabled": True},
                         "stats": {"histograms": False}})
    np.testing.assert_array_equal(experiment.make_input(c1), experiment.make_input(c2))
    r1, r2 = run(c1), run(c2)
    assert r1.rows[0] == {k: r2.rows[0][k] for k in r1.rows[0]}
    # forward columns do not depend on backward being on
    c3 = config.resolve({"network": {"depth": 4, "width": 20, "initializer": "orthogonal"},
                         "input": {"batch": 5, "dim": 10}})
    r3 = run(c3)
    for a, b in zip(r2.rows, r3.rows):
        assert {k: a[k] for k in experiment.FORWARD_COLUMNS} == {k: b[k] for k in experiment.FORWARD_COLUMNS}


def test_forward_memory_does_not_grow_with_depth():
    def peak(depth):
        cfg = config.resolve({"network": {"depth": depth, "width": 256, "activation": "relu",
                                          "initializer": "he"}, "input": {"batch": 64, "dim": 256},
                              "stats": {"histograms": True}})
        tracemalloc.start()
        run(cfg)
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return p

    shallow, deep = peak(3), peak(60)
    assert deep < 1.2 * shallow, (shallow, deep)


def test_overflow_is_a_result():
    cfg = config.resolve({"dtype": "float32", "network": {"depth": 100, "activation": "relu",
                          "initializer": {"name": "normal", "std": 1.0}, "width": 100},
                          "input": {"batch": 50, "dim": 100}, "backward": {"enabled": True}})
    r = run(cfg)
    first = r.first_nonfinite["forward"]
    assert first is not None and 20 < first < 60
    assert r.rows[first]["act_nonfinite"] > 0
    assert r.rows[first - 1]["act_nonfinite"] == 0 and math.isfinite(r.rows[first - 1]["act_std"])
    assert r.first_nonfinite["backward"] is not None
    assert all(h.total == 50 * 100 for h in r.act_hist)


def test_save_weights_recomputes_the_run():
    cfg = small(act="tanh", loss="softmax_ce", bias={"name": "uniform", "low": -0.1, "high": 0.1})
    r = run(cfg, save_weights=True)
    arr = r.arrays
    fixed = StoredParameters([arr[f"W{l}"] for l in (1, 2, 3)] + [arr["W_readout"]],
                                    [arr[f"b{l}"] for l in (1, 2, 3)])
    r2 = run(cfg, params=fixed)
    assert r2.rows == r.rows
    np.testing.assert_array_equal(arr["input"], experiment.make_input(cfg))
    assert arr["loss_softmax_ce"].shape == (4,)


def test_work_buffers_are_reused_and_never_shared():
    """The forward pass keeps its two work buffers for the thread's next pass (no fresh pages
    per run), returns a result that is not one of them, and a pass run from inside another
    (an observer that runs a network itself) gets buffers of its own."""
    cfg = cfg_of(**{"network.depth": 3, "network.width": 16, "input.batch": 8, "input.dim": 16})
    params = experiment.build_parameters(cfg)
    act = activations.get("tanh")
    x = experiment.make_input(cfg)
    ref = network.forward(x, params, act, 3)[0].copy()

    class Nested(network.Observer):
        def act(self, layer, h):
            if layer == 2:
                self.inner = network.forward(x, params, act, 3)[0]

    obs = Nested()
    out = network.forward(x, params, act, 3, obs)[0]
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(obs.inner, ref)
    again = network.forward(x, params, act, 3)[0]
    np.testing.assert_array_equal(out, ref)  # the first result survives the next pass
    assert not np.shares_memory(out, again)
    kept = [b for b in network._POOL.free]
    assert kept and all(not np.shares_memory(b, again) for b in kept)
    network.release_buffers()
    assert network._POOL.free == []
