"""Tests for ``initlab compare``: spec parsing, shared inputs, long-form tables, verdicts on
known cases, seed bands, atomic output and the CLI's exit codes."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from initlab.runs import compare as C
from initlab.runs import experiment
from initlab.cli import main
from initlab.config import Spec
from initlab.errors import ConfigError

SMALL = [("network.depth", 4), ("network.width", 64), ("input.batch", 32), ("input.dim", 48)]


def specs(*texts):
    return [C.parse_spec(t) for t in texts]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


# --- specs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, name, params", [
    ("xavier", "xavier", ()),
    ("normal:std=0.01", "normal", (("std", 0.01),)),
    ("normal:std=1e-3,mean=0", "normal", (("mean", 0), ("std", 0.001))),
    ("he_normal:mode=fan_out", "he_normal", (("mode", "fan_out"),)),
    (" orthogonal : gain = auto ", "orthogonal", (("gain", "auto"),)),
])
def test_parse_spec(text, name, params):
    assert C.parse_spec(text) == Spec(name, params)


def test_parse_scalar_is_yaml_core():
    assert C.parse_scalar("1e-3") == 0.001 and isinstance(C.parse_scalar("1e-3"), float)
    assert C.parse_scalar("3") == 3 and isinstance(C.parse_scalar("3"), int)
    assert C.parse_scalar("true") is True and C.parse_scalar("False") is False
    assert C.parse_scalar("'3'") == "3" and C.parse_scalar("fan_in") == "fan_in"
    assert C.parse_scalar("-.inf") == -math.inf


@pytest.mark.parametrize("text, fragment", [
    ("xavir", "did you mean 'xavier'"),
    ("nope", "valid: "),
    ("normal:std", "is not key=value"),
    ("normal:", "nothing after ':'"),
    (":std=1", "expected name"),
    ("normal:std=1,std=2", "given twice"),
    ("normal:std=", "empty value"),
    ("normal:name=x", "'name' is not a parameter"),
])
def test_bad_specs_name_the_problem(text, fragment):
    with pytest.raises(ConfigError) as e:
        C.parse_spec(text)
    assert fragment in str(e.value)
    assert f"initializer '{text}'" in str(e.value)


def test_unknown_names_list_valid_choices():
    with pytest.raises(ConfigError) as e:
        C.parse_spec("nope")
    assert "he_normal" in str(e.value) and "xavier" in str(e.value)
    with pytest.raises(ConfigError) as e:
        C.parse_spec("tanhh", "activation")
    assert "did you mean 'tanh'" in str(e.value) and "relu" in str(e.value)


def test_bad_parameter_names_the_spec_and_valid_params():
    with pytest.raises(ConfigError) as e:
        C.entries(None, specs("normal:sdt=1"), sets=SMALL)
    msg = str(e.value)
    assert msg.startswith("initializer 'normal:sdt=1'") and "did you mean 'std'" in msg and "mean, std" in msg


def test_duplicate_initializers_are_refused():
    with pytest.raises(ConfigError, match="same initializer"):
        C.entries(None, specs("normal:std=1", "normal"), sets=SMALL)


def test_folder_name_is_sanitized_and_deterministic():
    name = C.folder_name(Spec("tanh"), specs("normal:std=0.01", "normal:std=1.0", "xavier"))
    assert name == "compare-tanh-normal_std0.01-normal_std1-xavier"
    long = C.folder_name(Spec("relu"), [Spec("normal", (("std", 0.1 * i),)) for i in range(1, 40)])
    assert len(long) <= 120 and long == C.folder_name(Spec("relu"), [Spec("normal", (("std", 0.1 * i),))
                                                                     for i in range(1, 40)])


# --- running --------------------------------------------------------------------------------------

def test_every_initializer_sees_the_same_input():
    es = C.entries(None, specs("xavier", "he", "normal:std=0.3"), Spec("relu"), SMALL, seed=7)
    xs = [experiment.make_input(e.config) for e in es]
    assert all(np.array_equal(xs[0], x) for x in xs[1:])
    comp = C.run(es, seeds=2)
    for layer0 in zip(*[[r.rows[0] for r in s.runs] for s in comp.series]):
        assert all(row == layer0[0] for row in layer0)
    assert [s.seeds for s in comp.series] == [[7, 8]] * 3


def test_long_form_columns_and_extra_columns_flow_through(tmp_path):
    from initlab.io import compare_save

    es = C.entries(None, specs("xavier", "he"), Spec("relu"), SMALL, backward=True)
    comp = C.run(es)
    for s in comp.series:
        for r in s.runs:
            for row in r.rows:
                row["probe_extra"] = 1.0  # a column a later module adds to the rows
    compare_save.save_comparison(comp, tmp_path / "out", figures=False)
    rows = read_csv(tmp_path / "out" / "stats.csv")
    assert rows[0] == ["initializer", "seed"] + list(experiment.columns(True)) + ["probe_extra"]
    assert len(rows) == 1 + 2 * 5
    assert {r[0] for r in rows[1:]} == {"xavier", "he"}
    assert not (tmp_path / "out" / "bands.csv").exists()


def test_seeds_add_a_seed_column_and_bands(tmp_path):
    from initlab.io import compare_save

    comp = C.run(C.entries(None, specs("xavier", "he"), Spec("relu"), SMALL), seeds=3)
    compare_save.save_comparison(comp, tmp_path / "out", figures=False)
    rows = read_csv(tmp_path / "out" / "stats.csv")
    assert rows[0][:3] == ["initializer", "seed", "layer"]
    assert sorted({r[1] for r in rows[1:]}) == ["0", "1", "2"]
    bands = read_csv(tmp_path / "out" / "bands.csv")
    assert bands[0][:3] == ["initializer", "layer", "n_seeds"] and "act_std_gmean" in bands[0]


@pytest.mark.parametrize("act, init, sets, kind", [
    ("tanh", "normal:std=0.01", [("network.width", 100)], "collapses"),
    ("tanh", "normal:std=1.0", [("network.width", 100)], "saturates"),
    ("relu", "he", [("network.width", 256)], "healthy"),
    ("relu", "xavier", [("network.width", 256), ("network.depth", 30)], "collapses"),
    ("relu", "normal:std=0.3", [("network.width", 256)], "explodes"),
    # the edge of chaos: a power-law decay, healthy as cs231n and the README call it
    ("tanh", "xavier", [("network.width", 256)], "healthy"),
    ("relu", "xavier", [("network.width", 256)], "shrinks"),  # x0.71 a layer: exponential
])
def test_verdicts_on_known_cases(act, init, sets, kind):
    base = [("input.batch", 128), ("input.dim", 100), ("dtype", "float32")]
    comp = C.run(C.entries(None, specs(init), C.parse_spec(act, "activation"), base + sets))
    v = comp.verdicts[0]
    assert v.kind == kind, v.text
    assert v.text.startswith(comp.series[0].entry.label + ": " + kind)


def test_verdicts_weigh_gradients_with_backward():
    """std-1 tanh: the activations saturate, the gradient grows ~x3.5 a layer toward the input;
    the verdict says both and its kind is the worse (explodes)."""
    base = [("input.batch", 128), ("input.dim", 100), ("network.width", 100), ("backward.enabled", True)]
    comp = C.run(C.entries(None, specs("normal:std=1.0", "xavier"), C.parse_spec("tanh", "activation"), base))
    big, xav = comp.verdicts
    assert big.text.startswith("normal(std=1): saturates") and "gradients explode toward the input" in big.text
    assert big.kind == "explodes"
    assert xav.kind == "healthy" and "gradients healthy" in xav.text


def test_overflow_is_a_verdict_not_a_crash():
    sets = [("network.depth", 100), ("network.width", 100), ("input.batch", 64), ("input.dim", 100),
            ("dtype", "float32")]
    comp = C.run(C.entries(None, specs("normal:std=1.0", "he"), Spec("relu"), sets, backward=True))
    bad, good = comp.verdicts
    assert bad.kind == "explodes" and bad.nonfinite_layer is not None
    assert f"non-finite from layer {bad.nonfinite_layer}" in bad.text
    assert 20 < bad.nonfinite_layer < 60  # x sqrt(100 / 2) per layer overflows float32 near 45
    assert good.kind in ("healthy", "shrinks", "grows")


def test_seed_bands_are_well_formed():
    comp = C.run(C.entries(None, specs("xavier", "he"), Spec("relu"), SMALL, backward=True), seeds=4)
    for s in comp.series:
        for column in ("act_std", "grad_act_std"):
            for b in C.bands(s, column):
                assert b.n == 4 and b.lo is not None
                assert 0 < b.lo <= b.gmean <= b.hi
                logs = [math.log(v) for v in s.values(column, b.layer)]
                assert b.gmean == pytest.approx(math.exp(sum(logs) / 4))
    # a zero or non-finite value in any seed leaves the layer without a band
    assert C.log_band([1.0, 0.0, 2.0]).gmean is None
    assert C.log_band([1.0, math.inf]).gmean is None
    one = C.log_band([2.0])
    assert one.gmean == 2.0 and one.lo is None and one.hi is None


def test_band_interval_is_the_student_t_interval_of_the_mean_log():
    vals = [1.0, 2.0, 4.0]
    b = C.log_band(vals)
    # ln values 0, ln2, 2 ln2: mean ln2, sd ln2, t(0.975, 2) = 4.302653
    half = 4.302653 * math.log(2) / math.sqrt(3)
    assert b.gmean == pytest.approx(2.0)
    assert b.lo == pytest.approx(2.0 * math.exp(-half), rel=1e-6)
    assert b.hi == pytest.approx(2.0 * math.exp(half), rel=1e-6)


# --- the command line -------------------------------------------------------------------------------

SMALL_FLAGS = ["--depth", "3", "--width", "32", "--batch", "16", "--dim", "24"]


def test_cli_writes_the_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc = main(["compare", "xavier", "he", "--act", "relu", *SMALL_FLAGS, "--backward"])
    out = capsys.readouterr().out
    assert rc == 0
    # the folder names what differs from the defaults: another depth never replaces the default's
    name = "compare-relu-xavier-he-depth3-width32-batch16-dim24-backward"
    folder = tmp_path / "results" / name
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["compare.json", "config-he.yaml", "config-xavier.yaml", "grad_histograms.png",
                     "histograms.png", "machine.json", "manifest.json", "stats.csv", "std_by_layer.png",
                     "summary.md"]
    assert "xavier: " in out and "he: " in out and f"wrote results/{name}/" in out
    assert "replaced" not in out
    assert main(["compare", "xavier", "he", "--act", "relu", *SMALL_FLAGS, "--backward", "-q",
                 "--no-figures"]) == 0
    assert "it replaced the results that were there" in capsys.readouterr().out
    rows = read_csv(folder / "stats.csv")
    assert rows[0][:2] == ["initializer", "seed"]  # seed even with one seed: one schema
    summary = (folder / "summary.md").read_text()
    assert "| layer | xavier std | he std |" in summary


def test_cli_config_base_and_flags_win(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.yaml").write_text("network: {depth: 5, width: 16, activation: relu}\n"
                                        "input: {batch: 8, dim: 12}\n")
    rc = main(["compare", "lecun_normal", "he_normal", "--config", "base.yaml", "--depth", "2", "--seeds", "2",
               "--no-figures", "--out", "cmp", "-q"])
    assert rc == 0
    rows = read_csv(tmp_path / "cmp" / "stats.csv")
    assert rows[0][:2] == ["initializer", "seed"]
    assert len(rows) == 1 + 2 * 2 * 3  # 2 inits x 2 seeds x layers 0..2
    assert {r[rows[0].index("width")] for r in rows[1:]} == {"12", "16"}
    assert (tmp_path / "cmp" / "bands.csv").exists()


@pytest.mark.parametrize("args, fragment", [
    (["compare", "xavir"], "did you mean 'xavier'"),
    (["compare", "xavier", "--act", "relux"], "did you mean 'relu'"),
    (["compare", "normal:std=-1"], "std"),
    (["compare", "xavier", "--seeds", "0"], "--seeds"),
    (["compare", "xavier", "--dtype", "float16"], "float32"),
    (["compare", "xavier", "--config", "missing.yaml"], "file not found"),
    (["compare"], "Missing argument"),
])
def test_cli_errors_exit_2_and_write_nothing(tmp_path, monkeypatch, capsys, args, fragment):
    monkeypatch.chdir(tmp_path)
    rc = main(args + SMALL_FLAGS)
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("initlab: error:") and fragment in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_a_foreign_output_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    rc = main(["compare", "xavier", *SMALL_FLAGS, "--out", "mine"])
    assert rc == 2 and "manifest.json" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_output_is_atomic_when_drawing_fails(tmp_path, monkeypatch, capsys):
    from initlab.plots import compare_figures

    monkeypatch.chdir(tmp_path)
    assert main(["compare", "xavier", *SMALL_FLAGS, "--no-figures", "-q", "--out", "results/cmp"]) == 0
    folder = tmp_path / "results" / "cmp"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(compare_figures, "histogram_grid", boom)
    rc = main(["compare", "xavier", *SMALL_FLAGS, "--seed", "3", "-q", "--out", "results/cmp"])
    assert rc == 1 and "disk on fire" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # the old results, untouched
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["cmp"]  # no stage left
