"""The data-dependent initializations (initlab.datainit): each tested for what it promises.

LSUV: the pre-activation variance on a *fresh* batch is 1 within tol at every layer of depth-20
tanh/ReLU/sigmoid nets, in a bounded number of rescalings, and the deep gain approaches the
activation record's variance-preserving gain; max_iter is respected when the target cannot be
reached; zero variance is a refusal. Transfer: bit-for-bit copies, frozen layers unchanged by
training, clear refusals naming the layer and the dotted field. Lottery: masks stay 0 through
training, rewinding restores exact values, pruning removes the smallest magnitudes. Pretraining:
the tied autoencoder's gradient against central differences, reconstruction falls.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from initlab.config import from_dict
from initlab.config import training
from initlab.datainit import lottery, lsuv, pretrain as P, resolve
from initlab.engine import activations
from initlab.engine.parameters import StoredParameters
from initlab.errors import ConfigError
from initlab.runs import train as R
from initlab.training import losses, optimizers

from cli_helpers import invoke
from test_bad_inputs import assert_refused, snapshot


def run_cfg(act: str, depth: int = 20, width: int = 100, batch: int = 256, seed: int = 0, **init):
    spec = {"name": "lsuv", **init}
    return from_dict({"seed": seed, "input": {"batch": batch, "dim": width},
                      "network": {"depth": depth, "width": width, "activation": act, "initializer": spec}})


# --- LSUV ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("seed", [0, 1])
def test_lsuv_unit_variance_on_a_fresh_batch_depth_20(act, seed):
    """The run's statistics batch is the input stream, not the LSUV batch: a fresh batch. LSUV
    puts the LSUV batch's variance within tol (checked exactly below); on a fresh batch add the
    sampling error of a variance over 256 x 100 correlated entries, a few percent, compounded
    over 20 layers: allowed 0.05 (measured max deviation 0.1016 = tol + 0.0016, relu seed 1)."""
    tol, sampling = 0.1, 0.05
    res = resolve.run(run_cfg(act, seed=seed, tol=tol, max_iter=10))
    rows = res.datainit["rows"]
    assert len(rows) == 20
    for r in res.rows[1:]:
        assert abs(r["preact_std"] ** 2 - 1) <= tol + sampling, (r["layer"], r["preact_std"])
    for r in rows:
        assert r["lsuv_converged"]
        assert abs(r["lsuv_var_after"] - 1) <= tol
        assert r["lsuv_iterations"] <= 2  # z is linear in W's scale: one rescaling lands on 1
    assert res.initializer.startswith("lsuv")
    assert "lsuv_iterations" in res.rows[1] and "lsuv_gain" in res.rows[1]


@pytest.mark.parametrize("act,closed_form", [("relu", math.sqrt(2)), ("tanh", 1.5927), ("sigmoid", 1.8468)])
def test_lsuv_deep_gain_is_the_variance_preserving_gain(act, closed_form):
    """Deep layers fed unit-variance pre-activations need g = 1 / sqrt(E[phi(z)^2]), z ~ N(0, 1):
    the activation record's variance_gain (ReLU sqrt 2; tanh and sigmoid by quadrature). Mean of
    layers 10-20 over 2 seeds at width 500: a deep ReLU layer's gain fluctuates by ~sqrt(1/n)
    (measured sd 0.046 per layer at width 500, 0.14 at width 100: the examples' correlation),
    so 22 layers give an SE of ~0.7%; tolerance 2% (~3 SE)."""
    rec = activations.get(act).variance_gain
    assert rec == pytest.approx(closed_form, rel=1e-3)
    gains = []
    for seed in (0, 1):
        res = resolve.run(run_cfg(act, width=500, batch=64, seed=seed))
        gains += [r["lsuv_gain"] for r in res.datainit["rows"][9:]]
    assert np.mean(gains) == pytest.approx(rec, rel=0.02)


def test_lsuv_max_iter_is_respected_when_unreachable():
    """A bias of variance 4 keeps Var(z) >= 4 whatever W's scale: exactly max_iter rescalings,
    then a result (converged False), never a loop."""
    cfg = from_dict({"input": {"batch": 64, "dim": 20},
                     "network": {"depth": 3, "width": 20, "activation": "tanh", "bias": {"name": "normal", "std": 2.0},
                                 "initializer": {"name": "lsuv", "max_iter": 3}}})
    res = resolve.run(cfg)
    for r in res.datainit["rows"]:
        assert r["lsuv_iterations"] == 3
        assert not r["lsuv_converged"]
        assert r["lsuv_var_after"] > 1.1


def test_lsuv_zero_variance_is_a_refusal_naming_the_layer():
    with pytest.raises(ConfigError, match=r"variance of layer 1 is 0") as e:
        resolve.run(run_cfg("tanh", depth=3, width=10, base="zeros"))
    assert e.value.field == "network.initializer"


def test_lsuv_center_zeroes_the_mean_and_keeps_the_variance():
    cfg = from_dict({"input": {"batch": 128, "dim": 30, "mean": 2.0},
                     "network": {"depth": 4, "width": 30, "activation": "sigmoid",
                                 "initializer": {"name": "lsuv", "center": True, "tol": 0.02}}})
    params, info = resolve.run_parameters(cfg)
    x = resolve._input_like(cfg, 256)
    h = x
    act = activations.get("sigmoid")
    for l in range(1, 5):
        z = h @ params.weight(l) + params.bias(l)
        assert abs(z.mean()) < 1e-9
        assert abs(z.var() - 1) <= 0.02 + 1e-9
        h = act.fn(z)


def test_lsuv_skips_layers_narrower_than_min_width():
    w = [np.random.default_rng(0).standard_normal((10, 4)) * 0.1, np.random.default_rng(1).standard_normal((4, 10))]
    p = StoredParameters(w, [0.0, 0.0])
    before = [a.copy() for a in p.weights]
    rows = lsuv.fit(p, activations.get("tanh"), np.random.default_rng(2).standard_normal((64, 10)), 2, min_width=5)
    assert rows[0]["lsuv_skipped"] and rows[0]["lsuv_iterations"] == 0
    assert np.array_equal(p.weights[0], before[0])
    assert not rows[1]["lsuv_skipped"]


def test_plain_configs_pass_through_unchanged():
    from initlab.runs.experiment import run

    cfg = from_dict({"input": {"batch": 16, "dim": 8}, "network": {"depth": 3, "width": 8}})
    a, b = resolve.run(cfg), run(cfg)
    assert a.rows == b.rows and a.datainit is None


def test_compare_refuses_a_data_dependent_init_clearly():
    from initlab.runs.experiment import run

    with pytest.raises(ConfigError, match="needs data or a file") as e:
        run(run_cfg("tanh", depth=2, width=4))
    assert e.value.field == "network.initializer"


def test_lsuv_is_deterministic():
    a = resolve.run_parameters(run_cfg("relu", depth=5, width=20, seed=3))[0]
    b = resolve.run_parameters(run_cfg("relu", depth=5, width=20, seed=3))[0]
    assert all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights))


# --- training configs ----------------------------------------------------------------------------

def train_cfg(**over):
    d = {"name": "t", "seed": 0, "data": {"name": "digits", "n_train": 300, "n_test": 100},
         "network": {"depth": 2, "width": 16, "activation": "tanh", "initializer": "xavier"},
         "train": {"steps": 20, "batch": 50, "optimizer": {"name": "adam", "lr": 0.01}, "eval_every": 10,
                   "stats_every": 0}}
    for k, v in over.items():
        d[k] = {**d.get(k, {}), **v} if isinstance(v, dict) else v
    return training.from_dict(d)


def saved_weights(tmp_path, cfg=None):
    cfg = cfg or train_cfg()
    res = resolve.train(cfg, save_weights=True)
    path = tmp_path / "weights.npz"
    np.savez(path, **{f"init_{k}": v for k, v in res.initial.items()},
             **{f"final_{k}": v for k, v in res.final.items()})
    return path, res


def test_transferred_layers_equal_the_saved_ones_bit_for_bit(tmp_path):
    path, src = saved_weights(tmp_path)
    cfg = train_cfg(network={"initializer": {"name": "from_file", "path": str(path), "layers": [1, 2]}})
    ds = R.load_data(cfg)
    params, info = resolve.train_parameters(cfg, ds)
    for l in (1, 2):
        assert params.weight(l).tobytes() == src.final[f"W{l}"].tobytes()
        assert params.bias(l).tobytes() == src.final[f"b{l}"].tobytes()
    fresh = StoredParameters.draw(R.drawn_parameters(cfg, ds))
    assert np.array_equal(params.weight(3), fresh.weight(3))  # not transferred: the base draw
    assert [r["transferred"] for r in info["rows"]] == [True, True, False]
    init = resolve.train_parameters(train_cfg(network={"initializer": {"name": "from_file", "path": str(path),
                                                                       "which": "init"}}), ds)[0]
    assert all(init.weight(l).tobytes() == src.initial[f"W{l}"].tobytes() for l in (1, 2, 3))


def test_frozen_layers_do_not_change_through_training(tmp_path):
    path, src = saved_weights(tmp_path)
    cfg = train_cfg(network={"initializer": {"name": "from_file", "path": str(path), "layers": [1, 2],
                                             "freeze": [1]}})
    res = resolve.train(cfg)
    assert res.final["W1"].tobytes() == src.final["W1"].tobytes()
    assert res.final["b1"].tobytes() == src.final["b1"].tobytes()
    assert not np.array_equal(res.final["W2"], src.final["W2"])  # trained on


def test_run_weights_file_transfers_too(tmp_path):
    cfg = from_dict({"input": {"batch": 8, "dim": 6}, "network": {"depth": 2, "width": 5}})
    from initlab.runs.experiment import run

    arrays = run(cfg, save_weights=True).arrays
    np.savez(tmp_path / "w.npz", **arrays)
    cfg2 = from_dict({"input": {"batch": 8, "dim": 6}, "seed": 7,
                      "network": {"depth": 2, "width": 5, "initializer": {"name": "from_file", "path": str(tmp_path / "w.npz")}}})
    p, _ = resolve.run_parameters(cfg2)
    assert p.weight(1).tobytes() == arrays["W1"].tobytes() and p.weight(2).tobytes() == arrays["W2"].tobytes()


def test_transfer_refusals_name_the_layer_and_field(tmp_path):
    path, _ = saved_weights(tmp_path)
    wide = train_cfg(network={"width": 20, "initializer": {"name": "from_file", "path": str(path), "layers": [2]}})
    with pytest.raises(ConfigError, match=r"layer 2: .* has W2 of shape \(16, 16\), the network's W2 is \(20, 20\)") as e:
        resolve.train_parameters(wide, R.load_data(wide))
    assert e.value.field == "network.initializer.layers"
    deep = train_cfg(network={"depth": 4, "width": 16,
                              "initializer": {"name": "from_file", "path": str(path), "layers": [4]}})
    with pytest.raises(ConfigError, match=r"layer 4 is not in .* \(it has layers 1, 2, 3\)"):
        resolve.train_parameters(deep, R.load_data(deep))
    beyond = train_cfg(network={"initializer": {"name": "from_file", "path": str(path), "freeze": [9]}})
    with pytest.raises(ConfigError, match="layer 9 is beyond") as e:
        resolve.train_parameters(beyond, R.load_data(beyond))
    assert e.value.field == "network.initializer.freeze"
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    junk = train_cfg(network={"initializer": {"name": "from_file", "path": str(tmp_path / "junk.npz")}})
    with pytest.raises(ConfigError, match="not a weights.npz initlab wrote") as e:
        resolve.train_parameters(junk, R.load_data(junk))
    assert e.value.field == "network.initializer.path"


def test_cli_mismatched_weights_file_exits_2_and_writes_nothing(tmp_path, monkeypatch):
    path, _ = saved_weights(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: c\ndata: {name: digits, n_train: 300, n_test: 100}\n"
                   "network:\n  depth: 2\n  width: 20\n"
                   f"  initializer: {{name: from_file, path: {path}, layers: [1, 2]}}\n"
                   "train: {steps: 5, batch: 50}\n")
    rc, out, err = invoke(["train", str(cfg)])
    msg = assert_refused(rc, out, err, "layer 1", "(fan_in, fan_out)")
    assert msg.startswith("network.initializer.layers (line 6): ")
    assert snapshot(tmp_path) == before | {"c.yaml"}


@pytest.mark.parametrize("prune", ["0", "1", "1.5", "-0.2"])
def test_ticket_prune_outside_0_1_exits_2_and_writes_nothing(tmp_path, monkeypatch, prune):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {name: xor}\ntrain: {steps: 5}\n")
    rc, out, err = invoke(["ticket", str(cfg), "--prune", prune])
    assert_refused(rc, out, err, "--prune: must be a fraction in (0, 1)")
    assert snapshot(tmp_path) == {"c.yaml"}


def test_ticket_rewind_beyond_training_exits_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {name: xor}\ntrain: {steps: 5}\n")
    rc, out, err = invoke(["ticket", str(cfg), "--rewind", "6"])
    assert_refused(rc, out, err, "--rewind: must be a step in [0, train.steps = 5]")


# --- lottery tickets -----------------------------------------------------------------------------

def test_prune_removes_the_smallest_magnitudes():
    rng = np.random.default_rng(0)
    p = StoredParameters([rng.standard_normal((6, 5)), rng.standard_normal((5, 5)), rng.standard_normal((5, 3))],
                         [0.0] * 3)
    g = lottery.prune(p, 0.2, 0.1, "global")
    hidden = np.concatenate([np.abs(p.weights[0]).ravel(), np.abs(p.weights[1]).ravel()])
    kept = np.concatenate([g[0].ravel(), g[1].ravel()]).astype(bool)
    assert (~kept).sum() == round(0.2 * 55)
    assert hidden[~kept].max() <= hidden[kept].min()
    assert (g[2] == 0).sum() == round(0.1 * 15)
    lay = lottery.prune(p, 0.2, 0.0, "layer")
    assert (lay[0] == 0).sum() == 6 and (lay[1] == 0).sum() == 5 and (lay[2] == 0).sum() == 0
    # a second round prunes 20% of the survivors only
    p.masks = g
    g2 = lottery.prune(p, 0.2, 0.1, "global")
    assert (np.concatenate([g2[0].ravel(), g2[1].ravel()]) == 0).sum() == 11 + round(0.2 * 44)
    assert all(np.all(b <= a) for a, b in zip(g, g2))
    rnd = lottery.random_like(g2, np.random.default_rng(1))
    assert [int(m.sum()) for m in rnd] == [int(m.sum()) for m in g2]


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_masks_stay_zero_through_training(opt):
    cfg = train_cfg(train={"optimizer": {"name": opt, "lr": 0.05}, "steps": 30})
    ds = R.load_data(cfg)
    params, _ = resolve.train_parameters(cfg, ds)
    masks = lottery.prune(params, 0.6, 0.3, "global")
    p = lottery.with_masks(params, masks)
    res = R.run(cfg, ds=ds, params=p)
    for l, m in enumerate(masks, start=1):
        assert np.all(res.final[f"W{l}"][m == 0] == 0)
        assert np.all(res.final[f"mask{l}"] == m)
        assert np.any(res.final[f"W{l}"][m == 1] != params.weight(l)[m == 1])


def test_rewinding_restores_the_exact_values():
    """Step 0: the snapshot is the initialization bit for bit; step k: exactly the weights a
    run of k steps ends with; a ticket round starts from those values times the mask."""
    cfg = train_cfg()
    ds = R.load_data(cfg)
    p0, _ = resolve.train_parameters(cfg, ds)
    init = p0.copy()
    snap0 = lottery.Snapshot(p0, 0)
    snap7 = lottery.Snapshot(p0, 7)

    class Both(lottery.L.Callbacks):
        def step(self, done, loss, acc):
            snap0.step(done, loss, acc)
            snap7.step(done, loss, acc)

    R.run(cfg, ds=ds, params=p0, callbacks=Both())
    assert all(a.tobytes() == b.tobytes() for a, b in zip(snap0.value.weights, init.weights))
    short = train_cfg(train={"steps": 7})
    ref = R.run(short, ds=ds, params=init.copy())
    for l in (1, 2, 3):
        assert snap7.value.weight(l).tobytes() == ref.final[f"W{l}"].tobytes()
    masks = lottery.prune(p0, 0.5, 0.25)
    start = lottery.with_masks(snap7.value, masks)
    for l, m in enumerate(masks, start=1):
        assert start.weight(l).tobytes() == (snap7.value.weight(l) * m).tobytes()


def test_ticket_rounds_and_controls_are_recorded():
    cfg = train_cfg(train={"steps": 10})
    res = lottery.ticket(cfg, R.load_data(cfg), rounds=2, rate=0.5, output_rate=0.25, controls=True)
    kinds = [(r["round"], r["kind"]) for r in res.rows]
    assert kinds == [(0, "dense"), (1, "ticket"), (1, "reinit"), (1, "random"), (2, "ticket"), (2, "reinit"),
                     (2, "random")]
    rem = [r["remaining"] for r in res.rows if r["kind"] == "ticket"]
    assert rem[0] < 0.55 and rem[1] < 0.3


# --- pretraining ---------------------------------------------------------------------------------

def test_tied_autoencoder_gradient_matches_central_differences():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 3)) * 0.5
    b, d = rng.standard_normal(3) * 0.1, rng.standard_normal(5) * 0.1
    x = rng.standard_normal((7, 5))
    act = activations.get("tanh")
    ae = P._TiedAutoencoder(StoredParameters([w, w.T], [b, d]), act)
    mse = losses.get("mse")
    _, _, g = ae.gradients(x, x, mse)

    def loss_at(w2, b2, d2):
        h = np.tanh(x @ w2 + b2)
        r = h @ w2.T + d2
        return ((r - x) ** 2).sum() / (2 * x.shape[0])

    eps = 1e-6
    for arr, grad in ((w, g[0]), (b, g[1]), (d, g[2])):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + eps
            up = loss_at(w, b, d)
            arr[i] = old - eps
            dn = loss_at(w, b, d)
            arr[i] = old
            num[i] = (up - dn) / (2 * eps)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("tied", [True, False])
def test_pretraining_lowers_each_layers_reconstruction(tied):
    cfg = train_cfg(network={"depth": 3, "width": 16, "activation": "sigmoid"},
                    pretrain={"method": "autoencoder", "epochs": 4, "lr": 0.01, "tied": tied, "noise": 0.2})
    ds = R.load_data(cfg)
    before = StoredParameters.draw(R.drawn_parameters(cfg, ds))
    params, info = resolve.train_parameters(cfg, ds)
    hist = info["pretrain"]
    assert [r["layer"] for r in hist] == [1] * 5 + [2] * 5 + [3] * 5
    for l in (1, 2, 3):
        rows = [r for r in hist if r["layer"] == l]
        assert rows[-1]["train_recon"] < 0.8 * rows[0]["train_recon"]
        assert not np.array_equal(params.weight(l), before.weight(l))
    assert np.array_equal(params.weight(4), before.weight(4))  # the readout is not pretrained
    again, _ = resolve.train_parameters(cfg, ds)
    assert all(np.array_equal(a, b) for a, b in zip(params.weights, again.weights))


def test_pretraining_skips_frozen_layers(tmp_path):
    path, src = saved_weights(tmp_path)
    cfg = train_cfg(network={"initializer": {"name": "from_file", "path": str(path), "layers": [1], "freeze": [1]}},
                    pretrain={"method": "autoencoder", "epochs": 2})
    params, info = resolve.train_parameters(cfg, R.load_data(cfg))
    assert params.weight(1).tobytes() == src.final["W1"].tobytes()
    assert {r["layer"] for r in info["pretrain"]} == {2}


def test_pretrain_section_round_trips():
    cfg = train_cfg(pretrain={"method": "autoencoder", "epochs": 3, "noise": 0.1, "tied": False})
    assert training.from_dict(training.to_dict(cfg)) == cfg
    assert "pretrain" not in training.to_dict(train_cfg())


def test_optimizer_for_pretraining_is_the_training_one():
    assert optimizers.get("adam", lr=0.1).lr == 0.1


# --- the commands, end to end --------------------------------------------------------------------

def test_example_configs_load():
    from initlab.cli.train import load_config
    from initlab.io import configfile

    assert configfile.load("configs/lsuv_tanh.yaml").network.initializer.name == "lsuv"
    for name in ("digits_pretrained", "digits_0to4", "digits_5to9_transfer"):
        load_config(f"configs/train/{name}.yaml", [], None)


def test_run_table_shows_lsuv_iterations_and_gain(tmp_path):
    rc, out, err = invoke(["run", "configs/lsuv_tanh.yaml", "--set", "network.depth=3", "--set", "network.width=32",
                           "--set", "input.dim=32", "--out", str(tmp_path / "r"), "--no-figures"])
    assert rc == 0, err
    assert "lsuv iters" in out and "lsuv gain" in out and "lsuv(base=orthogonal" in out
    assert (tmp_path / "r" / "datainit.csv").read_text().startswith("layer,width,lsuv_iterations")


def test_train_save_weights_then_from_file_then_ticket(tmp_path):
    src = tmp_path / "src"
    rc, out, err = invoke(["train", "configs/train/digits_0to4.yaml", "--set", "train.steps=20", "--out", str(src),
                           "--save-weights", "--no-figures", "-q"])
    assert rc == 0, err
    cfg = tmp_path / "t.yaml"
    cfg.write_text("name: t\ndata: {name: digits, classes: [5, 6, 7, 8, 9]}\n"
                   "network: {depth: 2, width: 64, activation: relu,\n"
                   f"  initializer: {{name: from_file, path: {src / 'weights.npz'}, layers: [1], freeze: [1]}}}}\n"
                   "train: {steps: 10, batch: 64}\npretrain: {method: autoencoder, epochs: 1}\n")
    rc, out, err = invoke(["train", str(cfg), "--out", str(tmp_path / "t"), "--save-weights", "--no-figures", "-q"])
    assert rc == 0, err
    a, b = np.load(src / "weights.npz"), np.load(tmp_path / "t" / "weights.npz")
    assert a["final_W1"].tobytes() == b["init_W1"].tobytes() == b["final_W1"].tobytes()
    assert (tmp_path / "t" / "pretrain.csv").is_file() and (tmp_path / "t" / "datainit.csv").is_file()
    rc, out, err = invoke(["ticket", "configs/train/mnist1d_mlp.yaml", "--set", "train.steps=10", "--set",
                           "train.stats_every=0", "--rounds", "1", "--controls", "--out", str(tmp_path / "k")])
    assert rc == 0, err
    names = {p.name for p in (tmp_path / "k").iterdir()}
    assert {"tickets.csv", "tickets.png", "masks.npz", "history.csv", "summary.md", "manifest.json"} <= names
    assert (tmp_path / "k" / "tickets.csv").read_text().count("\n") == 1 + 4
