"""Training (initlab.training.loop, initlab.runs.train): the deeplearning.ai initialization demo,
determinism and independent streams, divergence as a result, the loop's optimizer wiring against
torch.optim, memory that does not grow with the number of steps, real Fashion-MNIST."""

from __future__ import annotations

import pickle
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from initlab.config import training as T
from initlab.io import configfile
from initlab.runs import train as R
from initlab.training import loop as L

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "train"
FASHION = Path("/usr/share/datasets/fashion-mnist")


def config(path_or_dict, *sets) -> T.TrainConfig:
    if isinstance(path_or_dict, dict):
        return T.resolve(path_or_dict, sets=list(sets))[0]
    data, lines = configfile.read(CONFIGS / path_or_dict)
    return T.resolve(data, lines=lines, default_name=Path(path_or_dict).stem, sets=list(sets))[0]


def small(**over) -> dict:
    """A quick minibatch run on circles (2-8-8-2 tanh, softmax)."""
    d = {"name": "small", "seed": 3,
         "data": {"name": "circles", "n_train": 120, "n_test": 40, "noise": 0.1},
         "network": {"depth": 2, "width": 8, "activation": "tanh", "initializer": "xavier"},
         "train": {"steps": 60, "batch": 16, "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
                   "eval_every": 20, "stats_every": 20}}
    for k, v in over.items():
        d[k] = {**d.get(k, {}), **v} if isinstance(v, dict) else v
    return d


class Recorder(L.Callbacks):
    def __init__(self):
        self.batches = []

    def batch(self, step, indices):
        self.batches.append(None if indices is None else indices.copy())


# --- the deeplearning.ai "Initialization" notebook -------------------------------------------------

# Fewer evaluation and statistics points than the configs (same 15000 steps): quicker, same claim.
DEMO_SETS = [("train.eval_every", 1500), ("train.stats_every", 1500)]


def test_dlai_zero_init_never_breaks_symmetry():
    res = R.run(config("circles_zeros.yaml", *DEMO_SETS))
    assert res.loop.steps_done == 15000 and not res.loop.diverged
    assert all(row["train_acc"] == 0.5 for row in res.loop.history)
    steps = sorted({r["step"] for r in res.loop.layers})
    assert steps == list(range(0, 15001, 1500))
    assert len(res.loop.layers) == len(steps) * 2
    assert all(r["distinct_units"] == 1 for r in res.loop.layers)  # every hidden layer, every stats step
    assert res.final_metrics()["steps_to_threshold"] is None


def test_dlai_he_init_learns_the_circles():
    res = R.run(config("circles_he.yaml", *DEMO_SETS))
    f = res.final_metrics()
    assert f["train_acc"] >= 0.95 and f["test_acc"] >= 0.9
    assert f["steps_to_threshold"] is not None and not f["diverged"]
    assert {r["distinct_units"] for r in res.loop.layers if r["layer"] == 1} == {10}
    # Karpathy's update/data ratio is well below 1 (lr 0.01, full batch)
    ratios = [r["update_ratio"] for r in res.loop.layers if r["update_ratio"] is not None]
    assert ratios and max(ratios) < 1e-2
    assert res.boundary["prob"].shape == (200, 200) and res.boundary["x_train"].shape == (300, 2)
    # the boundary's grid is in raw coordinates spanning the data +- 0.5
    assert res.boundary["xx"].min() == pytest.approx(res.boundary["x_train"][:, 0].min() - 0.5, abs=0.5)


# --- determinism and independent streams ------------------------------------------------------------

def test_same_config_and_seed_give_identical_rows_and_the_result_pickles():
    cfg = config(small(network={"dropout": 0.2}))
    a, b = R.run(cfg), R.run(cfg)
    assert a.loop.history == b.loop.history
    assert a.loop.layers == b.loop.layers
    for k in a.final:
        assert np.array_equal(a.final[k], b.final[k])
    again = pickle.loads(pickle.dumps(a))
    assert again.loop.history == a.loop.history and again.config == cfg


def test_changing_the_initializer_keeps_data_batches_and_probe():
    runs = {}
    for init in ("xavier", "zeros", {"name": "normal", "std": 3.0}):
        cfg = config(small(network={"initializer": init, "dropout": 0.3}))
        ds = R.load_data(cfg)
        rec = Recorder()
        R.run(cfg, callbacks=rec, ds=ds)
        runs[str(init)] = (ds, rec.batches, R.load_data(cfg))
    (ds0, b0, _), *others = runs.values()
    assert len(b0) == 60 and all(len(b) == 16 for b in b0)
    # a fresh permutation per epoch: 7 batches of 16 out of 120 rows, then a new order
    assert len(set(np.concatenate(b0[:7]).tolist())) == 112
    for ds, batches, again in others:
        for name in ("x_train", "y_train", "x_test", "y_test"):
            assert np.array_equal(getattr(ds, name), getattr(ds0, name))
            assert np.array_equal(getattr(again, name), getattr(ds0, name))
        assert all(np.array_equal(x, y) for x, y in zip(batches, b0))
    assert np.array_equal(L.probe_indices(120, 50, 3), L.probe_indices(120, 50, 3))


# --- divergence is a result -------------------------------------------------------------------------

def test_divergence_stops_the_run_at_that_step():
    """W = 10 randn with lr 10 on the squared error: gradient descent overshoots more every step
    and the loss overflows to inf (bce and softmax_ce have bounded gradients: no overflow)."""
    cfg = config("circles_large.yaml", ("train.optimizer.lr", 10.0), ("train.steps", 3000), ("train.loss", "mse"),
                 ("train.eval_every", 500), ("train.stats_every", 500))
    res = R.run(cfg)
    f = res.final_metrics()
    assert f["diverged"] and res.loop.diverged
    k = f["diverged_at"]
    assert 0 < k < 3000 and res.loop.steps_done == k
    last = res.loop.history[-1]
    assert last["step"] == k and not np.isfinite(last["train_loss"])
    assert all(np.isfinite(r["train_loss"]) for r in res.loop.history[:-1])


# --- the loop's optimizer wiring against torch.optim ----------------------------------------------

@pytest.mark.parametrize("optimizer", [
    {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"name": "adam", "lr": 0.01, "betas": [0.8, 0.99], "weight_decay": 0.01},
])
def test_three_loop_steps_equal_torch_optim(optimizer):
    torch = pytest.importorskip("torch")
    cfg = config(small(data={"name": "spirals", "classes": 3},
                       train={"steps": 3, "batch": 16, "optimizer": optimizer, "eval_every": 1,
                              "stats_every": 1, "clip": {"norm": 0.5}}))
    ds = R.load_data(cfg)
    model = R.build_model(cfg, ds)
    init = {k: v.copy() for k, v in model.params.state().items()}
    loss, y_tr, y_te = R.loss_and_targets(cfg, ds)
    rec = Recorder()
    L.train(model, R.build_optimizer(cfg), R.build_schedule(cfg), loss, ds.x_train, y_tr, ds.x_test, y_te,
            R.settings_of(cfg, ds), callbacks=rec)

    layers = model.params.layers
    tp = [torch.tensor(init[f"{p}{l}"], dtype=torch.float64, requires_grad=True)
          for l in range(1, layers + 1) for p in ("W", "b")]
    opt_cfg = dict(optimizer)
    name = opt_cfg.pop("name")
    if name == "sgd":
        opt = torch.optim.SGD(tp, **opt_cfg)
    else:
        opt_cfg["betas"] = tuple(opt_cfg["betas"])
        opt = torch.optim.Adam(tp, **opt_cfg)
    x_all, y_all = torch.tensor(ds.x_train), torch.tensor(ds.y_train)
    for idx in rec.batches:
        h = x_all[idx]
        for l in range(layers):
            h = h @ tp[2 * l] + tp[2 * l + 1]
            if l < layers - 1:
                h = torch.tanh(h)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(h, y_all[idx]).backward()
        torch.nn.utils.clip_grad_norm_(tp, 0.5)
        opt.step()
    state = model.params.state()
    for l in range(1, layers + 1):
        for i, p in enumerate(("W", "b")):
            np.testing.assert_allclose(state[f"{p}{l}"], tp[2 * (l - 1) + i].detach().numpy(), rtol=0, atol=1e-10)


# --- memory -----------------------------------------------------------------------------------------

def _peak(steps: int, warm_up: bool = False) -> int:
    cfg = config(small(train={"steps": steps, "eval_every": steps, "stats_every": steps}))
    ds = R.load_data(cfg)
    if warm_up:  # imports, caches, work buffers
        R.run(config(small(train={"steps": 20, "eval_every": 20, "stats_every": 20})), ds=ds)
    tracemalloc.start()
    try:
        R.run(cfg, ds=ds)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_steps():
    short = _peak(200, warm_up=True)
    long = _peak(2000)
    assert long <= 1.2 * short, (short, long)


def test_layer_rows_are_stats_steps_times_depth():
    cfg = config(small(network={"depth": 3, "width": [6, 5, 4]}, train={"steps": 50, "stats_every": 20}))
    res = R.run(cfg)
    assert [r["step"] for r in res.loop.layers[::3]] == [0, 20, 40, 50]
    assert len(res.loop.layers) == 4 * 3
    assert np.stack(res.loop.hist_counts).shape == (4, 3, 50)
    assert res.loop.hist_edges.shape == (3, 51)


def test_norms_and_dropout_train_and_the_stats_see_normalized_preactivations():
    res = R.run(config(small(network={"norm": "batch", "dropout": 0.1}, train={"steps": 40})))
    assert not res.loop.diverged and len(res.loop.layers) == 3 * 2
    # layer norm at step 0 (gamma 1, beta 0): every row of y has mean 0 and variance var/(var+eps),
    # so the statistics of the normalized pre-activations are mean 0 and std ~1 in every layer
    res = R.run(config(small(network={"norm": "layer"}, train={"steps": 1})))
    for row in (r for r in res.loop.layers if r["step"] == 0):
        assert abs(row["preact_mean"]) < 1e-12 and row["preact_std"] == pytest.approx(1.0, abs=1e-3)


def test_frozen_layers_stay_and_masked_weights_stay_zero():
    from initlab.engine.parameters import StoredParameters

    cfg = config(small(train={"steps": 30}))
    ds = R.load_data(cfg)
    model = R.build_model(cfg, ds)
    p = model.params
    model.params = StoredParameters(p.weights, p.biases, frozen=[1])
    model.params.set_mask(2, (np.arange(p.weights[1].size).reshape(p.weights[1].shape) % 3 != 0))
    w1 = model.params.weights[0].copy()
    loss, y_tr, y_te = R.loss_and_targets(cfg, ds)
    L.train(model, R.build_optimizer(cfg), R.build_schedule(cfg), loss, ds.x_train, y_tr, ds.x_test, y_te,
            R.settings_of(cfg, ds))
    assert np.array_equal(model.params.weights[0], w1)
    w2 = model.params.weights[1]
    assert (w2.ravel()[::3] == 0).all() and (w2.ravel()[1::3] != 0).all()


# --- real data ----------------------------------------------------------------------------------------

@pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").exists() and
                    not (FASHION / "train-images-idx3-ubyte").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_the_debian_package():
    cfg = config("fashion_mlp.yaml", ("data.n_train", 2000), ("data.n_test", 500), ("train.steps", 40),
                 ("train.eval_every", 40), ("train.stats_every", 40))
    res = R.run(cfg)
    f = res.final_metrics()
    assert res.dataset["input_dim"] == 784 and res.dataset["n_classes"] == 10
    assert f["test_acc"] > 0.5  # chance is 0.1
