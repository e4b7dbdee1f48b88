"""The CLI reads well everywhere (issue 16): tables fitted to an 80-column terminal and never
wrapped off one, progress only on a terminal, one flag language, help that reads as help,
files that stay byte-identical when a result is made again."""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest

from cli_helpers import ANSI, as_terminal, invoke

TINY = """\
name: tiny
seed: 1
input: {batch: 64, dim: 40}
network: {depth: 4, width: 48, activation: relu, initializer: he}
"""


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return p


def terminal_console(width: int = 80):
    from rich.console import Console

    buf = io.StringIO()
    return Console(file=buf, width=width, force_terminal=True, color_system=None, highlight=False), buf


def _run_result(backward=True, act="relu", init="he"):
    from initlab.config import resolve
    from initlab.runs.experiment import run

    cfg = resolve({"name": "t", "input": {"batch": 64, "dim": 40},
                   "network": {"depth": 5, "width": 48, "activation": act, "initializer": init},
                   "backward": {"enabled": backward}})
    return run(cfg)


# --- tables ----------------------------------------------------------------------------------

def test_run_table_at_80_columns_never_splits_a_number_and_names_what_it_left_out():
    from initlab.cli.run import print_run_table

    result = _run_result()
    con, buf = terminal_console(80)
    print_run_table(result, con)
    out = re.sub(ANSI, "", buf.getvalue())
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), out
    rule = next(i for i, line in enumerate(lines) if line.startswith("\u2500"))
    body = [line.split() for line in lines[rule + 1:] if line.strip() and not line.startswith("(")]
    assert len(body) == result.depth + 1
    # every shown number is a whole token, exactly as the formatter writes it
    from initlab.cli.run import _fmt

    for row, tokens in zip(result.rows, body):
        assert tokens[0] == str(row["layer"])
        assert _fmt(row["act_std"]) in tokens and _fmt(row["grad_act_std"]) in tokens
    note = next(line for line in lines if line.startswith("(not shown at 80 columns"))
    assert "width" in note and "stats.csv" in out  # width leaves first, the files have everything


def test_table_fit_keeps_everything_when_it_fits_and_drops_in_the_stated_order():
    from initlab.cli.tables import Col, show

    cols = [Col("layer"), Col("a long header", drop=2, short="a long\nheader"), Col("b", drop=1), Col("c")]
    rows = [["1", "123456789.0", "x" * 30, "0.5"], ["2", "-1.5", "", "0.25"]]
    con, buf = terminal_console(200)
    assert show(con, cols, rows) == []
    con, buf = terminal_console(40)
    assert show(con, cols, rows) == ["b"]  # b leaves first; the short header saves the rest
    out = buf.getvalue()
    assert "123456789.0" in out and "a long" in out and "header" in out
    con, buf = terminal_console(20)
    assert show(con, cols, rows) == ["b", "a long header"]
    assert all(len(line) <= 20 for line in buf.getvalue().splitlines() if not line.startswith("("))


def test_no_wrapping_when_stdout_is_not_a_terminal(cfg):
    """A pipe gets the whole table, one line a row, however narrow COLUMNS says the terminal is."""
    rc, out, err = invoke(["run", str(cfg), "--backward", "--no-figures", "--out", "o"])
    assert rc == 0, err
    assert "\x1b" not in out  # no escape codes, no progress bar
    lines = out.splitlines()
    assert max(len(line) for line in lines) > 80  # the full table: nothing fitted, nothing wrapped
    assert sum(1 for line in lines if re.match(r"\s*\d+\s", line)) == 5  # layers 0..4, one line each
    assert lines[-1].startswith("wrote o/ (")


@pytest.mark.parametrize("what", ["initializers", "activations", "datasets", "optimizers"])
def test_list_fits_80_columns_and_names_never_wrap(what, monkeypatch):
    from initlab import data
    from initlab.engine import activations, initializers
    from initlab.training import optimizers

    out = as_terminal(monkeypatch, ["list", what], columns=80)
    assert all(len(line) <= 80 for line in out.splitlines()), out
    names = {"initializers": list(initializers.INITIALIZERS), "activations": list(activations.ACTIVATIONS),
             "datasets": [d["name"] for d in data.describe()],
             "optimizers": [d["name"] for d in optimizers.describe()]}[what]
    first = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert set(names) <= first  # each name whole, at the start of its row


def test_list_one_entry_in_full(monkeypatch):
    from initlab.engine import initializers

    rc, out, err = invoke(["list", "initializers", "he"])
    assert rc == 0, err
    assert out.splitlines()[0].strip() == "he"
    assert initializers.describe("he")["source"] in " ".join(out.split())
    assert "xavier" not in out
    rc, out, err = invoke(["list", "initializers", "hee"])
    assert rc == 2 and "did you mean 'he'" in err and out == ""
    rc, out, _ = invoke(["list", "activations", "tanh"])
    assert rc == 0 and out.splitlines()[0].strip() == "tanh" and "torch gain" in out


# --- progress --------------------------------------------------------------------------------

def test_progress_is_off_off_a_terminal_and_with_quiet():
    from rich.console import Console

    from initlab.cli.progress import bars

    with bars(Console(file=io.StringIO()), quiet=False) as report:
        assert report is None
    con, _ = terminal_console()
    with bars(con, quiet=True) as report:
        assert report is None
    with bars(con) as report:
        assert callable(report)
        report("layers", 1, 3)
        report("layers", 3, 3)


def test_the_engine_reports_every_layer_and_network():
    from initlab.config import resolve
    from initlab.runs import compare as C
    from initlab.runs.experiment import run

    heard = []
    cfg = resolve({"name": "t", "input": {"batch": 8, "dim": 6},
                   "network": {"depth": 3, "width": 5}, "backward": {"enabled": True}})
    run(cfg, report=lambda *a: heard.append(a))
    assert heard == [("layers", d, 6) for d in range(1, 7)]
    heard.clear()
    entries = C.entries({"input": {"batch": 8, "dim": 6}, "network": {"depth": 2, "width": 5}},
                        [C.parse_spec("xavier"), C.parse_spec("he")])
    C.run(entries, 2, report=lambda *a: heard.append(a))
    assert [a for a in heard if a[0] == "networks"] == [("networks", i, 4) for i in range(5)]


# --- flags -----------------------------------------------------------------------------------

def test_run_shortcuts_equal_their_set(cfg, tmp_path):
    rc, _, err = invoke(["run", str(cfg), "--depth", "3", "--width", "20", "--act", "leaky_relu:negative_slope=0.2",
                         "--init", "xavier", "--dtype", "float32", "--out", "a", "-q", "--no-figures"])
    assert rc == 0, err
    rc, _, err = invoke(["run", str(cfg), "--set", "network.depth=3", "--set", "network.width=20",
                         "--set", "network.activation=leaky_relu:negative_slope=0.2",
                         "--set", "network.initializer=xavier", "--set", "dtype=float32",
                         "--out", "b", "-q", "--no-figures"])
    assert rc == 0, err
    assert (tmp_path / "a" / "stats.csv").read_bytes() == (tmp_path / "b" / "stats.csv").read_bytes()
    assert (tmp_path / "a" / "config.yaml").read_bytes() == (tmp_path / "b" / "config.yaml").read_bytes()
    rows = list(csv.DictReader(open(tmp_path / "a" / "stats.csv")))
    assert len(rows) == 4 and rows[1]["width"] == "20"
    # the flag wins over --set, as in compare
    rc, _, err = invoke(["run", str(cfg), "--set", "network.depth=7", "--depth", "2", "--out", "c", "-q",
                         "--no-figures"])
    assert rc == 0 and len(list(csv.DictReader(open(tmp_path / "c" / "stats.csv")))) == 3


@pytest.mark.parametrize("command", ["run", "compare", "reproduce", "phase", "jacobian", "train"])
def test_help_reads_as_help(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    rc, out, _ = invoke([command, "--help"])
    assert rc == 0
    assert "<bool>" not in out and "{" not in out.split("Usage:")[1].splitlines()[0]
    assert "Example" in out  # every command shows how it is used
    if command in ("run", "train"):
        assert f"Usage: initlab {command} [OPTIONS] CONFIG" in out
    if command in ("phase", "jacobian"):
        assert "--quiet" in out and "--no-figures" in out


def test_reproduce_says_out_and_keeps_results_as_a_hidden_alias(tmp_path):
    rc, out, _ = invoke(["reproduce", "--help"])
    assert "--out" in out and "--results" not in out and out.count("default results/") == 1
    rc, out, err = invoke(["reproduce", "--list", "--results", str(tmp_path)])
    assert rc == 0 and "deprecated; use --out" in err and "cs231n" in out


def test_version_short_flag_and_completion():
    rc, out, _ = invoke(["-V"])
    assert rc == 0 and out.startswith("initlab ")
    rc, out, _ = invoke(["--help"])
    assert "--install-completion" in out and "-V" in out


# --- files -----------------------------------------------------------------------------------

def test_rerun_leaves_every_tracked_file_byte_identical(cfg, tmp_path):
    """What git tracks (everything but machine.json) is the same when a result is made again."""
    rc, _, err = invoke(["run", str(cfg), "--backward", "--out", "o", "-q"])
    assert rc == 0, err
    first = {p.name: p.read_bytes() for p in (tmp_path / "o").iterdir()}
    rc, out, err = invoke(["run", str(cfg), "--backward", "--out", "o", "-q"])
    assert rc == 0, err and "it replaced the results that were there" in out
    second = {p.name: p.read_bytes() for p in (tmp_path / "o").iterdir()}
    assert set(first) == set(second)
    assert [n for n in first if first[n] != second[n]] in ([], ["machine.json"])
    man = json.loads(second["manifest.json"])
    assert "elapsed_seconds" not in man and "versions" not in man


def test_theory_is_written_with_its_digits_and_a_symmetric_mean_is_zero():
    from initlab.runs import predictions

    result = _run_result(backward=False, act="tanh", init="xavier")
    for row in result.rows[1:]:
        assert row["predicted_act_mean"] == 0.0  # tanh is odd: 0 by symmetry, not 8.7e-19
        v = row["predicted_act_std"]
        assert v == float(f"{v:.{predictions.PREDICTION_DIGITS - 1}e}")
    assert predictions.rounded(0.1234567891234) == 0.123456789


def test_compare_folder_names_what_differs_from_the_defaults():
    from initlab.config import resolve
    from initlab.config.scalars import parse_spec
    from initlab.runs import compare as C

    xs = [parse_spec("xavier"), parse_spec("he")]
    base = C.folder_name(parse_spec("relu", "activation"), xs, resolve({}), 1)
    assert base == "compare-relu-xavier-he"  # the README's folder keeps its name
    deep = resolve({"network": {"depth": 30}, "backward": {"enabled": True}})
    assert C.folder_name(parse_spec("relu", "activation"), xs, deep, 5) == "compare-relu-xavier-he-depth30-seeds5-backward"


def test_weight_gradient_is_for_the_batch_mean_loss(cfg, tmp_path):
    """grad_weight_std of the top layer equals std(h_{L-1}^T dz_L / batch), recomputed in numpy
    from the saved weights and the random loss's draws (the loss sums over the batch)."""
    rc, _, err = invoke(["run", str(cfg), "--backward", "--save-weights", "--out", "w", "-q", "--no-figures"])
    assert rc == 0, err
    with np.load(tmp_path / "w" / "weights.npz") as a:
        arr = {k: a[k] for k in a.files}
    h = arr["input"]
    hs = [h]
    for l in range(1, 5):
        h = np.maximum(hs[-1] @ arr[f"W{l}"] + arr[f"b{l}"], 0)
        hs.append(h)
    z4 = hs[3] @ arr["W4"] + arr["b4"]
    dz = arr["loss_random"] * (z4 > 0)
    dw = hs[3].T @ dz / h.shape[0]
    rows = list(csv.DictReader(open(tmp_path / "w" / "stats.csv")))
    assert float(rows[4]["grad_weight_std"]) == pytest.approx(dw.std(), rel=1e-9)
    assert float(rows[4]["grad_weight_ratio"]) == pytest.approx(dw.std() / arr["W4"].std(), rel=1e-9)
