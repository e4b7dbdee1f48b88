"""`initlab run` / `list` / `--version` end to end, in-process."""

import csv
import json
import subprocess
import sys

import pytest

from initlab.cli import main
from initlab.io import results

CONFIG = """\
name: tiny
seed: 1
input: {batch: 20, dim: 16}
network: {depth: 4, width: 16, activation: tanh, initializer: {name: normal, std: 0.3}}
"""


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "tiny.yaml"
    p.write_text(CONFIG)
    return p


def test_run_writes_every_file(cfg, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["run", str(cfg), "--backward", "--save-weights"]) == 0
    out = tmp_path / "results" / "tiny"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["config.yaml", "gradients.png", "histograms.png", "machine.json", "manifest.json",
                     "stats.csv", "stats.json", "stats.png", "summary.md", "weights.npz"]
    rows = list(csv.DictReader(open(out / "stats.csv")))
    assert [int(r["layer"]) for r in rows] == [0, 1, 2, 3, 4]
    assert {"preact_mean", "act_std", "act_saturated", "dead_units", "grad_weight_ratio"} <= set(rows[0])
    doc = json.loads((out / "stats.json").read_text())
    assert doc["schema_version"] == results.SCHEMA_VERSION and doc["config"]["network"]["depth"] == 4
    man = json.loads((out / "manifest.json").read_text())
    assert man["seed"] == 1 and set(man["files"]) == set(names) - {"manifest.json", "machine.json"}
    assert "elapsed_seconds" not in man and "versions" not in man  # machine-specific: machine.json
    machine = json.loads((out / "machine.json").read_text())
    assert set(machine) == {"elapsed_seconds", "versions"}
    ran = machine["versions"]["kernel"]  # whether the C kernel ran, and which build of it
    from initlab.engine import kernel

    if kernel.KERNEL is None:
        assert ran == {"built": False, "float32_tanh": "numpy"}
    else:
        info = kernel.KERNEL.build_info()
        assert ran["built"] and ran["target"] == info["target"] and ran["compiler"] == info["compiler"]
        assert ran["float32_tanh"] == "tanh_f32" and "-ffp-contract=off" in ran["flags"]
    text = capsys.readouterr().out
    assert "wrote results/tiny/" in text and "std dL/dW" in text


def test_same_seed_gives_byte_identical_tables_and_backward_keeps_forward(cfg, tmp_path):
    for out, extra in (("a", []), ("b", []), ("c", ["--backward"])):
        assert main(["run", str(cfg), "--out", out, "--no-figures", "-q"] + extra) == 0
    for name in ("stats.csv", "stats.json", "summary.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    a = list(csv.DictReader(open(tmp_path / "a" / "stats.csv")))
    c = list(csv.DictReader(open(tmp_path / "c" / "stats.csv")))
    assert [{k: r[k] for k in a[0]} for r in c] == a


def test_overrides(cfg, tmp_path):
    assert main(["run", str(cfg), "--set", "network.depth=2", "--set", "network.activation=relu",
                 "--seed", "5", "--out", "o", "--no-figures", "-q"]) == 0
    doc = json.loads((tmp_path / "o" / "stats.json").read_text())
    assert doc["config"]["seed"] == 5 and len(doc["rows"]) == 3 and doc["activation"] == "relu"


@pytest.mark.parametrize("args,needle", [
    (["--set", "network.depht=3"], "did you mean 'depth'"),
    (["--set", "network.activation=tahn"], "did you mean 'tanh'"),
    (["--set", "network.initializer.sdt=1"], "did you mean 'std'"),
    (["--set", "network.width=0"], "network.width"),
    (["--set", "backward.loss=hinge"], "valid: mse, random, softmax_ce"),
    (["--sed", "3"], "No such option"),
])
def test_bad_input_one_line_exit_2_nothing_written(cfg, tmp_path, capsys, args, needle):
    assert main(["run", str(cfg)] + args) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "results").exists()


def test_missing_file_and_output_is_a_file(cfg, tmp_path, capsys):
    assert main(["run", "nope.yaml"]) == 2
    assert "file not found" in capsys.readouterr().err
    (tmp_path / "f").write_text("x")
    assert main(["run", str(cfg), "--out", "f"]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_rerun_replaces_results_atomically(cfg, tmp_path):
    assert main(["run", str(cfg), "--out", "o", "--no-figures", "-q"]) == 0
    first = (tmp_path / "o" / "stats.csv").read_text()
    assert main(["run", str(cfg), "--out", "o", "--no-figures", "-q", "--seed", "9"]) == 0
    assert (tmp_path / "o" / "stats.csv").read_text() != first
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_list_and_version(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    assert main(["list", "initializers"]) == 0
    out = capsys.readouterr().out
    for name in ("xavier_uniform", "he_normal", "orthogonal", "sparse", "torch_default"):
        assert name in out
    assert main(["list", "activations"]) == 0
    out = capsys.readouterr().out
    assert "lecun_tanh" in out and "1.6667" in out  # tanh's torch gain 5/3
    assert main(["--version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("initlab ") and len(lines) == 2
    from initlab.engine import kernel

    if kernel.KERNEL is not None:  # "kernel: avx2 (gcc 12.2.0)"
        info = kernel.KERNEL.build_info()
        assert lines[1] == f"kernel: {info['target']} ({info['compiler']})"
    monkeypatch.setattr(kernel, "KERNEL", None)  # as without a C compiler
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        "kernel: not built (numpy fallback, slower; install a C compiler and reinstall)")


def list_rows(capsys, monkeypatch, what: str) -> dict[str, list[str]]:
    """``initlab list <what>`` on a console wide enough for one line a row: name -> cells."""
    monkeypatch.setenv("COLUMNS", "3000")
    assert main(["list", what]) == 0
    return table_rows(capsys.readouterr().out)


def table_rows(out: str) -> dict[str, list[str]]:
    """The body rows of a table printed unwrapped (stdout not a terminal): cells are separated
    by at least three spaces (padding, divider, padding); rows follow the rule under the header."""
    import re

    rows, body = {}, False
    for line in out.splitlines():
        if line.startswith("\u2500"):
            body = True
        elif body and line.strip():
            cells = re.split(r" {3,}", line.strip())
            rows[cells[0]] = cells
    return rows


def test_list_initializers_shows_required_parameters_as_required(capsys, monkeypatch):
    rows = list_rows(capsys, monkeypatch, "initializers")
    assert rows["torch_sparse"][2] == "sparsity (required), std=0.01"
    assert rows["sparse"][2] == "nonzero=15, std=1.0"
    assert rows["zeros"][2] == "-"


def test_list_prints_user_text_verbatim_not_as_markup(capsys, monkeypatch):
    """Formulas and sources are text: rich must not read "W[i, :]" or "[alias of ...]" as
    style tags and drop them."""
    from initlab.engine import activations, initializers

    rows = list_rows(capsys, monkeypatch, "initializers")
    assert "W[i, :]" in rows["torch_sparse"][1]
    assert set(rows) == set(initializers.INITIALIZERS)
    for name in initializers.INITIALIZERS:
        d = initializers.describe(name)
        alias = f"  [alias of {d['alias_of']}]" if d["alias_of"] else ""
        assert rows[name][1] == d["formula"] + alias, name
        assert rows[name][3] == d["source"], name
    rows = list_rows(capsys, monkeypatch, "activations")
    for name in activations.ACTIVATIONS:
        cells = next(c for k, c in rows.items() if k.split(" ")[0] == name)
        a = activations.get(name)
        assert (cells[1], cells[4], cells[6]) == (a.formula, f"[{a.hist_range[0]:.4g}, {a.hist_range[1]:.4g}]",
                                                  a.source), name


def test_cli_start_imports_no_plotting_or_scipy():
    code = ("import sys; from initlab.cli import app; "
            "print(any(m.startswith(('matplotlib', 'scipy')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_console_script_exit_codes(cfg):
    exe = [sys.executable, "-m", "initlab"]
    r = subprocess.run(exe + ["run", str(cfg), "--set", "dtype=float16"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("initlab: error: dtype") and r.stdout == ""


def test_a_tanh_run_imports_no_scipy():
    """The saturation prediction beside every tanh/sigmoid run uses the standard library only
    (scipy costs ~0.5 s of a ~0.2 s run)."""
    code = ("import sys; from initlab import config; from initlab.runs import experiment; "
            "experiment.run(config.resolve({'network': {'depth': 2, 'width': 8, 'activation': 'tanh'}, "
            "'input': {'batch': 4, 'dim': 8}})); "
            "print(any(m.startswith('scipy') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_numpy_fallback_runs_and_agrees(cfg, tmp_path, monkeypatch):
    """Without the C kernel (as without a compiler) `initlab run` still works, says so in the
    manifest, and gives the kernel's statistics (float64: both paths' sums within 1e-12)."""
    from initlab.engine import kernel

    assert main(["run", str(cfg), "--out", "k", "--backward", "--no-figures", "-q"]) == 0
    monkeypatch.setattr(kernel, "KERNEL", None)
    assert main(["run", str(cfg), "--out", "n", "--backward", "--no-figures", "-q"]) == 0
    assert json.loads((tmp_path / "n" / "machine.json").read_text())["versions"]["kernel"]["built"] is False
    rows_k = list(csv.DictReader(open(tmp_path / "k" / "stats.csv")))
    rows_n = list(csv.DictReader(open(tmp_path / "n" / "stats.csv")))
    assert len(rows_k) == len(rows_n) == 5
    for rk, rn in zip(rows_k, rows_n):
        for col in rk:
            if rk[col] == rn[col]:
                continue
            assert float(rk[col]) == pytest.approx(float(rn[col]), rel=1e-9, abs=1e-15), col


def test_a_closed_pipe_exits_0_quietly(tmp_path):
    """`initlab run ... | head -1`: the reader goes away while the table prints. The files are
    written before anything is printed, so this is a success: exit 0, nothing on stderr."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("network: {depth: 40, width: 8}\ninput: {batch: 4, dim: 8}\n")
    cmd = (f"{sys.executable} -m initlab run {cfg} --no-figures --out {tmp_path / 'o'} | head -c 1 >/dev/null; "
           "echo ${PIPESTATUS[0]}")
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert p.stdout.strip() == "0", (p.stdout, p.stderr)
    assert p.stderr == ""
    assert (tmp_path / "o" / "stats.csv").exists()
