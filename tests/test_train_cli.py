"""``initlab train``, ``initlab compare --train`` and ``initlab list datasets | optimizers``: the
files and their formats, byte-identical reruns, divergence as exit 0, and the bad-input corpus
``tests/bad_inputs/train/`` (same header format as ``tests/bad_inputs/``)."""

from __future__ import annotations

import csv
import json
import shlex
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import invoke
from test_bad_inputs import assert_refused, header, snapshot

CORPUS = Path(__file__).parent / "bad_inputs" / "train"
CASES = sorted(CORPUS.glob("*.yaml"))
SMALL = """\
name: small
seed: 2
data: {name: moons, n_train: 100, n_test: 40, noise: 0.1}
network: {depth: 2, width: [6, 4], activation: tanh, initializer: xavier, dropout: 0.1}
train:
  steps: 40
  batch: 20
  optimizer: {name: adam, lr: 0.01}
  eval_every: 10
  stats_every: 20
"""
HISTORY = "step,epoch,lr,train_loss,train_acc,test_loss,test_acc,grad_norm,clipped"
LAYERS_HEAD = "step,layer,width,preact_mean,preact_std,act_mean,act_std,act_saturated,act_zero,dead_units"
LAYERS_TAIL = "update_ratio,weight_std,distinct_units"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def small(workdir):
    p = workdir / "small.yaml"
    p.write_text(SMALL)
    return p


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --- the bad-input corpus ------------------------------------------------------------------------

def test_corpus_covers_the_issue_cases():
    names = {p.stem for p in CASES}
    assert {"unknown_dataset", "unknown_optimizer", "steps_zero", "lr_zero", "lr_nan", "lr_inf",
            "batch_larger_than_data", "bce_three_classes", "missing_idx_files"} <= names
    for p in CASES:
        assert {"bad input", "expect", "valid"} <= set(header(p)), p.name


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_corpus_entry_is_refused(path, workdir):
    h = header(path)
    rc, out, err = invoke(["train", str(path), "-q"] + shlex.split(h.get("args", "")))
    msg = assert_refused(rc, out, err, h["valid"])
    assert msg.startswith(h["expect"] + ": "), (h["expect"], msg)
    if "(line " not in h["expect"]:
        assert not msg.startswith(h["expect"] + " (line")
    assert snapshot(workdir) == set(), "a refused run left something behind"


# --- a run's files ---------------------------------------------------------------------------------

def test_train_writes_every_file_in_its_format(small, workdir):
    rc, out, err = invoke(["train", str(small), "--out", "o", "--save-weights"])
    assert rc == 0, err
    o = workdir / "o"
    names = {p.name for p in o.iterdir()}
    assert {"history.csv", "layers.csv", "histograms.npz", "boundary.npz", "weights.npz", "final.json",
            "config.yaml", "summary.md", "manifest.json"} <= names
    assert (o / "history.csv").read_text().splitlines()[0] == HISTORY
    hist = rows(o / "history.csv")
    assert [int(r["step"]) for r in hist] == [0, 10, 20, 30, 40]
    assert hist[-1]["grad_norm"] == "" and hist[0]["clipped"] == "0"
    assert [float(r["epoch"]) for r in hist] == [0.0, 2.0, 4.0, 6.0, 8.0]  # 5 batches of 20 per epoch
    head = (o / "layers.csv").read_text().splitlines()[0]
    assert head.startswith(LAYERS_HEAD) and head.endswith(LAYERS_TAIL)
    lay = rows(o / "layers.csv")
    assert [(int(r["step"]), int(r["layer"])) for r in lay] == [(0, 1), (0, 2), (20, 1), (20, 2), (40, 1), (40, 2)]
    assert lay[-1]["update_ratio"] == "" and float(lay[0]["update_ratio"]) > 0
    with np.load(o / "histograms.npz") as h:
        assert set(h.files) == {"steps", "layers", "edges", "counts"}
        assert h["steps"].tolist() == [0, 20, 40] and h["layers"].tolist() == [1, 2]
        assert h["edges"].shape == (2, 51) and h["counts"].shape == (3, 2, 50)
        assert h["edges"][0, 0] == -1.0 and h["edges"][0, -1] == 1.0  # tanh's range
    with np.load(o / "boundary.npz") as b:
        assert {"xx", "yy", "prob", "pred", "x_train", "y_train", "x_test", "y_test"} <= set(b.files)
        assert b["xx"].shape == b["prob"].shape == b["pred"].shape == (200, 200)
        assert b["x_train"].shape == (100, 2) and b["y_test"].shape == (40,)
        assert ((b["prob"] >= 0) & (b["prob"] <= 1)).all()
    with np.load(o / "weights.npz") as w:
        assert {"init_W1", "init_b1", "final_W3", "final_b3"} <= set(w.files)
        assert w["init_W1"].shape == (2, 6) and not np.array_equal(w["init_W1"], w["final_W1"])
    final = json.loads((o / "final.json").read_text())
    assert final["final"]["diverged"] is False and final["widths"] == [2, 6, 4, 2]
    manifest = json.loads((o / "manifest.json").read_text())
    assert manifest["kind"] == "train" and "history.csv" in manifest["files"]
    assert "train" in json.loads((o / "machine.json").read_text())["elapsed_seconds"]
    assert "elapsed_seconds" not in manifest  # timings differ per run: machine.json, git-ignored
    assert "final (step 40)" in out and "wrote o/" in out


def test_same_config_and_seed_give_byte_identical_files(small, workdir):
    for o in ("a", "b"):
        rc, _, err = invoke(["train", str(small), "--out", o, "-q", "--no-figures"])
        assert rc == 0, err
    for name in ("history.csv", "layers.csv", "final.json", "config.yaml", "summary.md", "histograms.npz",
                 "boundary.npz"):
        assert (workdir / "a" / name).read_bytes() == (workdir / "b" / name).read_bytes(), name
    rc, _, _ = invoke(["train", str(small), "--out", "c", "-q", "--no-figures", "--seed", "5"])
    assert (workdir / "a" / "history.csv").read_bytes() != (workdir / "c" / "history.csv").read_bytes()


def test_the_resolved_config_runs_again_to_the_same_history(small, workdir):
    invoke(["train", str(small), "--out", "a", "-q", "--no-figures"])
    rc, _, err = invoke(["train", "a/config.yaml", "--out", "b", "-q", "--no-figures"])
    assert rc == 0, err
    assert (workdir / "a" / "history.csv").read_bytes() == (workdir / "b" / "history.csv").read_bytes()


def test_divergence_is_exit_0_and_marked(small, workdir):
    rc, out, err = invoke(["train", str(small), "--out", "d", "--no-figures", "--set", "train.loss=mse",
                           "--set", "network.initializer={name: normal, std: 10}",
                           "--set", "train.optimizer={name: sgd, lr: 10}", "--set", "train.batch=full",
                           "--set", "train.steps=500"])
    assert rc == 0, err
    final = json.loads((workdir / "d" / "final.json").read_text())["final"]
    assert final["diverged"] is True and 0 < final["diverged_at"] < 500
    hist = rows(workdir / "d" / "history.csv")
    assert int(hist[-1]["step"]) == final["diverged_at"] and hist[-1]["train_loss"] in ("inf", "nan")
    assert f"DIVERGED at step {final['diverged_at']}" in out
    assert "**Diverged**" in (workdir / "d" / "summary.md").read_text()
    assert err == ""


def test_quiet_prints_no_table(small, workdir):
    rc, out, _ = invoke(["train", str(small), "--out", "q", "-q", "--no-figures"])
    assert rc == 0 and "acc %" not in out and "final (step 40)" in out


# --- compare --train -------------------------------------------------------------------------------

def test_compare_train_one_line_per_initializer(small, workdir):
    rc, out, err = invoke(["compare", "zeros", "normal:std=3", "xavier", "--config", str(small), "--train",
                           "--out", "cmp", "--no-figures"])
    assert rc == 0, err
    lines = out.splitlines()
    for label in ("zeros", "normal:std=3", "xavier"):
        assert sum(line.startswith(label + " ") for line in lines) == 1, out
    o = workdir / "cmp"
    comp = rows(o / "compare.csv")
    assert [r["initializer"] for r in comp] == ["zeros", "normal:std=3", "xavier"]
    hist = rows(o / "history.csv")
    assert list(hist[0])[:2] == ["initializer", "step"] and len(hist) == 15
    for slug in ("zeros", "normal_std3", "xavier"):
        assert (o / "runs" / slug / "history.csv").exists()
    # every initializer saw the same data: the boundary files hold the same points
    with np.load(o / "runs" / "zeros" / "boundary.npz") as a, np.load(o / "runs" / "xavier" / "boundary.npz") as b:
        assert np.array_equal(a["x_train"], b["x_train"])
    zeros = rows(o / "runs" / "zeros" / "layers.csv")
    assert {r["distinct_units"] for r in zeros} == {"1"}


def test_compare_train_draws_its_overlay(small, workdir):
    """With figures: runs.csv indexes the run folders and curves.png overlays them."""
    rc, out, err = invoke(["compare", "zeros", "he", "--config", str(small), "--train", "--out", "fig"])
    assert rc == 0, err
    o = workdir / "fig"
    assert [r["folder"] for r in rows(o / "runs.csv")] == ["runs/zeros", "runs/he"]
    assert (o / "curves.png").stat().st_size > 10_000
    assert (o / "runs" / "he" / "loss.png").exists() is False  # the overlay, not every run's figures


def test_compare_train_needs_a_config(workdir):
    rc, out, err = invoke(["compare", "he", "--train"])
    assert_refused(rc, out, err, "--config", "configs/train/circles.yaml")


# --- list ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("what,names", [("datasets", ["circles", "fashion_mnist", "mnist1d", "linear_teacher"]),
                                        ("optimizers", ["sgd", "adam", "adamw"])])
def test_list_fits_80_columns(what, names, monkeypatch):
    from cli_helpers import as_terminal

    out = as_terminal(monkeypatch, ["list", what], columns=80)
    assert all(len(line) <= 80 for line in out.splitlines()), out
    for n in names:
        assert n in out
