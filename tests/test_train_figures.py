"""Figures of a training run (initlab.plots.train_figures), drawn from synthetic run folders
written in the file formats of ``initlab train``: a healthy 2-D classification run, a diverged
regression run 30 layers deep without ``boundary.npz``, and a ``compare --train`` folder."""

import csv
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import yaml

from initlab.plots import train_figures as tf

HISTORY = ["step", "epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "grad_norm", "clipped"]
RUN_COLUMNS = ["layer", "width", "preact_mean", "preact_std", "act_mean", "act_std", "act_saturated",
               "act_zero", "dead_units", "act_nonfinite", "grad_act_std", "grad_preact_std",
               "grad_weight_std", "grad_weight_ratio", "grad_nonfinite", "predicted_act_std"]
LAYERS = ["step"] + RUN_COLUMNS + ["update_ratio", "weight_std", "distinct_units"]


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v) if isinstance(v, float) else str(v)


def make_run(folder: Path, *, depth=3, width=16, steps=2000, every=100, classification=True,
             diverge_at=None, boundary=True, act="relu", init=None, symmetric=False, seed=0) -> Path:
    """A run folder with every file ``initlab train`` writes, curves from closed forms.

    ``diverge_at``: the history stops at that step with inf/nan losses (and the layer rows of
    that step non-finite); ``symmetric``: zero-init-like rows (std 0, one distinct unit)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    init = init or {"name": "normal", "std": 10.0}
    cfg = {"name": folder.name, "seed": seed, "dtype": "float32",
           "data": {"name": "circles" if classification else "linear_teacher", "n_train": 300, "n_test": 100},
           "network": {"depth": depth, "width": width, "activation": act, "initializer": init,
                       "bias": 0.0, "norm": "none", "dropout": 0.0},
           "train": {"steps": steps, "batch": 64, "optimizer": {"name": "adam", "lr": 1e-3},
                     "loss": "bce" if classification else "mse"}}
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    last = steps if diverge_at is None else diverge_at
    grid = list(range(0, last, every)) + [last]
    with open(folder / "history.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HISTORY)
        for t in grid:
            decay = math.exp(-t / (0.2 * steps))
            loss = 0.69 * decay + 0.04 + 0.01 * rng.random()
            acc = 1.0 - 0.5 * decay
            row = [t, t // 10, 1e-3, loss, acc if classification else None, 1.1 * loss,
                   acc - 0.02 if classification else None, 1.0 + decay, 0]
            if t == diverge_at:
                row[3], row[5] = math.inf, math.nan
                if classification:
                    row[4], row[6] = 0.5, 0.5
            w.writerow([_cell(v) for v in row])
    stats_steps = grid[:: max(1, len(grid) // 8)] + ([grid[-1]] if grid[-1] not in grid[:: max(1, len(grid) // 8)] else [])
    with open(folder / "layers.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(LAYERS)
        for t in stats_steps:
            for l in range(0, depth + 2):  # input, hidden layers, readout
                bad = t == diverge_at
                s = 0.0 if symmetric and l else 0.8 ** l * (1 + t / steps)
                row = dict.fromkeys(LAYERS)
                row.update(step=t, layer=l, width=width if l <= depth else 1,
                           act_mean=0.3 * s, act_std=(math.inf if bad else s) if l <= depth else None,
                           act_zero=0.5, dead_units=0, act_nonfinite=width if bad else 0,
                           grad_act_std=0.0 if symmetric else 1e-3 * 1.3 ** (depth - l),
                           update_ratio=None if t == 0 or l == 0 else
                           (math.nan if bad else (None if symmetric else 1e-3 * (l + 1) / depth * math.exp(-t / steps))),
                           weight_std=None if l == 0 else (0.0 if symmetric else 0.1),
                           distinct_units=None if l == 0 else (1 if symmetric else width))
                w.writerow([_cell(row[c]) for c in LAYERS])
    bins = 30
    lo, hi = (0.0, 4.0) if act == "relu" else (-1.0, 1.0)
    hsteps = np.array(stats_steps)
    counts = np.zeros((len(hsteps), depth, bins), np.int64)
    for i, t in enumerate(hsteps):
        for l in range(depth):
            x = rng.normal(0.2 * l / depth, 0.3 + t / steps, 2000)
            if act == "relu":
                x = np.maximum(x, 0)
            if t == diverge_at:
                continue  # every value non-finite: nothing counted
            counts[i, l] = np.histogram(x, bins=bins, range=(lo, hi))[0]
    np.savez(folder / "histograms.npz", steps=hsteps, layers=np.arange(1, depth + 1),
             edges=np.tile(np.linspace(lo, hi, bins + 1), (depth, 1)), counts=counts)
    if boundary:
        g = np.linspace(-1.5, 1.5, 60)
        xx, yy = np.meshgrid(g, g)
        prob = 1 / (1 + np.exp(-4 * (xx ** 2 + yy ** 2 - 0.6)))
        pts = rng.uniform(-1.2, 1.2, (140, 2))
        lab = (np.hypot(pts[:, 0], pts[:, 1]) > 0.77).astype(np.int64)
        np.savez(folder / "boundary.npz", xx=xx, yy=yy, prob=prob, pred=(prob > 0.5).astype(np.int64),
                 x_train=pts[:100], y_train=lab[:100], x_test=pts[100:], y_test=lab[100:])
    return folder


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def assert_png(path: Path, min_bytes=15_000, min_w=400, min_h=250) -> tuple[int, int]:
    assert path.exists(), path
    assert path.stat().st_size >= min_bytes, (path, path.stat().st_size)
    w, h = png_size(path)
    assert w >= min_w and h >= min_h, (path, w, h)
    return w, h


def test_classification_run_draws_every_figure(tmp_path):
    folder = make_run(tmp_path / "circles_normal10")
    written = tf.draw_all(folder)
    names = {p.name for p in written}
    assert names == {"loss.png", "layers.png", "histograms_over_training.png", "decision_boundary.png"}
    w, _ = assert_png(folder / "loss.png")
    assert w > 1000  # two panels: loss and accuracy
    assert_png(folder / "layers.png", min_w=1200)
    assert_png(folder / "histograms_over_training.png")
    assert_png(folder / "decision_boundary.png", min_w=500, min_h=400)


def test_diverged_deep_regression_run_without_boundary(tmp_path):
    folder = make_run(tmp_path / "deep", depth=30, width=8, classification=False, diverge_at=1300,
                      boundary=False, act="tanh", init="xavier")
    hist = tf.read_table(folder / "history.csv")
    assert not tf.has_accuracy(hist)
    assert tf.divergence(hist) == 1300
    assert tf.final_metrics(hist)["train_loss"] < 1  # the last finite value, not inf
    written = tf.draw_all(folder)
    assert {p.name for p in written} == {"loss.png", "layers.png", "histograms_over_training.png"}
    assert not (folder / "decision_boundary.png").exists()
    w, _ = assert_png(folder / "loss.png")
    assert w < 800  # one panel: no accuracy for regression
    assert_png(folder / "layers.png", min_w=1200)
    _, h = assert_png(folder / "histograms_over_training.png")
    # at most eight rows of the thirty layers, not thirty
    assert h < 110 * (1.5 + 1.05 * tf.MAX_HIST_ROWS) + 50


def test_compare_overlay_with_threshold_and_boundaries(tmp_path):
    root = tmp_path / "compare"
    make_run(root / "zeros", init="zeros", symmetric=True, seed=1)
    make_run(root / "normal_std10", diverge_at=700, seed=2)
    make_run(root / "he", init="he", seed=3)
    (root / "runs.csv").write_text("initializer,folder\nzeros,zeros\nnormal(std=10),normal_std10\nhe,he\n")
    (root / "summary.json").write_text('{"threshold": 0.9}\n')
    written = tf.draw_compare(root)
    assert [p.name for p in written] == ["curves.png"]
    w, h = assert_png(root / "curves.png", min_w=1000, min_h=600)
    assert h > 600  # the row of decision boundaries under the curves


def test_titles_name_the_initializer_parameters_activation_depth_and_data():
    cfg = {"name": "c", "network": {"depth": 2, "width": [10, 5], "activation": "relu",
                                    "initializer": {"name": "normal", "std": 10.0}},
           "data": {"name": "circles", "n_train": 300, "n_test": 100}}
    text = tf.describe(cfg)
    assert text == "normal(std=10), relu, depth 2 (10x5), circles (300 train / 100 test)"
    cfg["network"].update(depth=30, width=[32] * 30, activation={"name": "leaky_relu", "negative_slope": 0.2})
    assert "leaky_relu(negative_slope=0.2), depth 30 x 32" in tf.describe(cfg)


def test_reading_empty_inf_and_nan_cells(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("step,train_loss,train_acc\n0,0.7,\n10,inf,nan\n")
    t = tf.read_table(p)
    assert np.isnan(t["train_acc"][0]) and np.isinf(t["train_loss"][1]) and np.isnan(t["train_acc"][1])
    assert tf.divergence(t) == 10


def test_symmetry_note_for_zero_init(tmp_path):
    folder = make_run(tmp_path / "z", init="zeros", symmetric=True, boundary=False)
    note = tf._symmetry_note(tf.read_table(folder / "layers.csv"))
    assert "distinct units = 1 in layers 1-3" in note


@pytest.mark.parametrize("n, expect", [(3, [1, 2, 3]), (30, None)])
def test_histogram_rows_are_evenly_spaced_and_include_both_ends(n, expect):
    from initlab.plots.run_figures import panel_layers

    rows = [i + 1 for i in panel_layers(n, tf.MAX_HIST_ROWS)]
    if expect is not None:
        assert rows == expect
    else:
        assert len(rows) == tf.MAX_HIST_ROWS and rows[0] == 1 and rows[-1] == n
