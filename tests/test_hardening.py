"""Extreme experiments and interrupted runs: overflow is a result (exit 0, marked, drawn),
result folders are replaced atomically even under SIGKILL, tables are byte-identical across
processes, and a bug is one line with exit code 1.

Sizes: depth 100 nets of width 100 on a batch of 50 (the overflow cases of the issue, with
normal(std 1.0) weights), small enough to run in a fraction of a second each.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from initlab import config
from cli_helpers import invoke
from initlab.io import results
from initlab.runs.experiment import columns, run

BATCH, WIDTH = 50, 100


def deep(act: str, dtype: str, depth: int = 100, backward: bool = True, **extra) -> dict:
    """W = 1.0 randn (normal std 1) on a deep net: the classic overflow experiment."""
    d = {"name": f"{act}_{dtype}_{depth}", "dtype": dtype, "input": {"batch": BATCH, "dim": WIDTH},
         "network": {"depth": depth, "width": WIDTH, "activation": act,
                     "initializer": {"name": "normal", "std": 1.0}},
         "backward": {"enabled": backward}}
    d.update(extra)
    return d


def write_yaml(path: Path, data: dict) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def complete(folder: Path) -> dict:
    """Check ``folder`` is one whole result (every file listed in the manifest, nothing else,
    every sha256 matching) and return its manifest."""
    man = json.loads((folder / "manifest.json").read_text())
    names = {p.name for p in folder.iterdir()}
    assert names == set(man["files"]) | {"manifest.json", "machine.json"}, (names, sorted(man["files"]))
    for name, digest in man["files"].items():
        assert sha(folder / name) == digest, name
    return man


def stages(parent: Path) -> list[Path]:
    return sorted(p for p in parent.iterdir() if p.name.endswith(".initlab-tmp"))


# --- overflow is a result ---------------------------------------------------------------------

@pytest.mark.parametrize("act,dtype", [("relu", "float32"), ("relu", "float64"), ("tanh", "float32"),
                                       ("tanh", "float64")])
def test_depth_100_normal_std_1(act, dtype):
    """The four cases of the issue, each asserted for what really happens.

    ReLU multiplies the scale by sqrt(width / 2) = 7.07 per layer: float32 (max 3.4e38)
    overflows near layer 45, float64 (max 1.8e308) reaches ~1e84 at layer 100 and stays finite,
    and huge finite values are not an overflow. tanh is bounded: it saturates (most |h| >= 0.99)
    and never overflows; at this width its gradients stay finite too.
    """
    r = run(config.resolve(deep(act, dtype)))
    first = r.first_nonfinite
    hist_total = {h.total for h in r.act_hist}
    assert hist_total == {BATCH * WIDTH}  # every value counted, finite or not
    if (act, dtype) == ("relu", "float32"):
        f = first["forward"]
        assert f is not None and 30 < f < 60
        assert r.rows[f]["act_nonfinite"] > 0 and r.act_hist[f - 1].nonfinite > 0
        assert r.rows[f - 1]["act_nonfinite"] == 0 and math.isfinite(r.rows[f - 1]["act_std"])
        assert r.rows[f - 1]["act_std"] > 1e30
        assert all(row["act_nonfinite"] == 0 for row in r.rows[:f])
        assert first["backward"] is not None  # inf/NaN activations poison the gradients
    elif act == "relu":
        assert first == {"forward": None, "backward": None}
        assert all(row["act_nonfinite"] == 0 and math.isfinite(row["act_std"]) for row in r.rows)
        assert r.rows[-1]["act_std"] > 1e80  # huge, finite: not an overflow
        assert all(row["grad_nonfinite"] == 0 for row in r.rows)
    else:
        assert first == {"forward": None, "backward": None}
        assert all(row["act_nonfinite"] == 0 for row in r.rows)
        assert all(row["act_saturated"] >= 0.5 for row in r.rows[1:])  # reported as saturated
        assert all(abs(row["act_mean"]) < 1 and row["act_std"] <= 1 for row in r.rows[1:])


def test_float64_overflows_deeper(tmp_path):
    """float64 needs ~360 ReLU layers at this width (7.07^360 ~ 1e306) before it overflows. The
    first non-finite values are pre-activations: -inf ones become 0 after ReLU, so layer f's
    activations can still be finite; the warning says so."""
    cfg = write_yaml(tmp_path / "deep.yaml", deep("relu", "float64", depth=400, backward=False))
    rc, out, err = invoke(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-figures", "-q"])
    assert rc == 0
    rows = json.loads((tmp_path / "o" / "stats.json").read_text())["rows"]
    f = json.loads((tmp_path / "o" / "stats.json").read_text())["first_nonfinite"]["forward"]
    assert f is not None and 330 < f < 400
    assert rows[f - 1]["act_std"] > 1e300 and rows[f - 1]["act_nonfinite"] == 0
    assert any(r["act_nonfinite"] > 0 for r in rows[f:f + 3])
    assert err.count("\n") == 1 and f"from layer {f} on" in err
    if rows[f]["act_nonfinite"] == 0:
        assert "in the pre-activations z there" in err
    else:
        assert f"{rows[f]['act_nonfinite']} non-finite activations there" in err


@pytest.fixture(scope="module")
def relu32_cli(tmp_path_factory):
    """``initlab run`` on the float32 ReLU overflow, backward and figures on."""
    tmp = tmp_path_factory.mktemp("relu32")
    cfg = write_yaml(tmp / "relu32.yaml", deep("relu", "float32"))
    rc, out, err = invoke(["run", str(cfg), "--out", str(tmp / "out")])
    return rc, out, err, tmp / "out"


def test_overflow_run_exits_0_and_warns(relu32_cli):
    rc, out, err, folder = relu32_cli
    assert rc == 0
    doc = json.loads((folder / "stats.json").read_text())
    f, b = doc["first_nonfinite"]["forward"], doc["first_nonfinite"]["backward"]
    assert f is not None and b is not None
    lines = err.splitlines()
    assert len(lines) == 2 and all(x.startswith("initlab: warning: ") for x in lines)
    assert f"activations overflow to inf/NaN from layer {f} on" in lines[0]
    assert f"gradients overflow to inf/NaN from layer {b} downward" in lines[1]
    assert "error" not in err.replace("not an error", "")


def test_overflow_is_marked_in_the_table(relu32_cli):
    rc, out, err, folder = relu32_cli
    f = json.loads((folder / "stats.json").read_text())["first_nonfinite"]["forward"]
    marked = [line for line in out.splitlines() if "<- first inf/NaN (act)" in line]
    assert len(marked) == 1
    assert marked[0].split()[0] == str(f)  # the row of layer f
    assert "inf/nan" in out  # the non-finite count column


def test_overflow_in_stats_files(relu32_cli):
    rc, out, err, folder = relu32_cli
    complete(folder)
    doc = json.loads((folder / "stats.json").read_text())
    f = doc["first_nonfinite"]["forward"]
    rows = doc["rows"]
    assert rows[f]["act_nonfinite"] > 0 and rows[f - 1]["act_nonfinite"] == 0
    assert rows[-1]["act_std"] is None  # all non-finite: JSON null, never NaN
    h = doc["histograms"]["act"]
    assert h["nonfinite"][f - 1] == rows[f]["act_nonfinite"]
    for i in range(len(h["counts"])):
        assert sum(h["counts"][i]) + h["below"][i] + h["above"][i] + h["nonfinite"][i] == BATCH * WIDTH
    csv_rows = list(csv.DictReader(open(folder / "stats.csv")))
    assert int(csv_rows[f]["act_nonfinite"]) > 0 and csv_rows[-1]["act_std"] == "nan"
    assert f"first non-finite layer forward {f}" in (folder / "summary.md").read_text()


def test_overflow_figures_draw_and_say_what_was_skipped(relu32_cli, monkeypatch):
    rc, out, err, folder = relu32_cli
    for name in ("histograms.png", "gradients.png", "stats.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Redraw from stats.json and read the text the panels carry.
    from initlab.plots import run_figures

    texts: dict[str, list[str]] = {}

    def capture(fig, path):
        import matplotlib.pyplot as plt
        from matplotlib.text import Text

        texts[Path(path).name] = [t.get_text() for t in fig.findobj(Text)]
        plt.close(fig)

    monkeypatch.setattr(run_figures, "save", capture)
    doc = json.loads((folder / "stats.json").read_text())
    run_figures.draw_all(doc, folder)
    f = doc["first_nonfinite"]["forward"]
    hist = texts["histograms.png"]
    skipped = sum(doc["histograms"]["act"]["nonfinite"])
    assert any(f"{skipped} non-finite values (inf/NaN) skipped" in t for t in hist)
    assert f"layer {f}: first inf/NaN" in hist  # the first non-finite layer always has a panel
    assert f"layer {f - 1}" in hist  # and the last finite one
    n = doc["rows"][f]["act_nonfinite"]
    assert any(f"{n} non-finite skipped" in t for t in hist)
    assert any("non-finite, skipped" in t for t in hist)  # a panel with nothing finite
    assert any(f"first inf/NaN: layer {f}" in t for t in texts["stats.png"])
    assert any("layers non-finite, not drawn" in t for t in texts["stats.png"])


def test_huge_but_finite_is_not_an_overflow(tmp_path):
    cfg = write_yaml(tmp_path / "relu64.yaml", deep("relu", "float64"))
    rc, out, err = invoke(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-figures"])
    assert rc == 0 and err == ""
    doc = json.loads((tmp_path / "o" / "stats.json").read_text())
    assert doc["first_nonfinite"] == {"forward": None, "backward": None}
    assert doc["rows"][-1]["act_std"] > 1e80
    assert "first inf/NaN" not in out and "inf/nan" not in out


def test_tanh_saturates_and_is_not_an_overflow(tmp_path):
    cfg = write_yaml(tmp_path / "tanh32.yaml", deep("tanh", "float32"))
    rc, out, err = invoke(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-figures"])
    assert rc == 0 and err == ""
    assert "note: tanh saturates" in out and "not an overflow" in out
    doc = json.loads((tmp_path / "o" / "stats.json").read_text())
    assert doc["first_nonfinite"] == {"forward": None, "backward": None}
    assert min(r["act_saturated"] for r in doc["rows"][1:]) >= 0.5


# --- atomic results: kill a run while it writes ----------------------------------------------

KILL_CFG = {"name": "k", "input": {"batch": 32, "dim": 64},
            "network": {"depth": 20, "width": 64, "activation": "tanh",
                        "initializer": {"name": "normal", "std": 1.0}},
            "backward": {"enabled": True}, "stats": {"histograms": False}}


@contextlib.contextmanager
def stopped_at(exe: list[str], point: str, cwd: Path) -> Iterator[subprocess.Popen]:
    """Start ``exe`` (an ``initlab run``) and yield it once it stands at ``point`` of its atomic
    write (:func:`initlab.io.results.pause_point`): the run says so on a socket and blocks
    there, until it is signalled or the socket closes (on leaving this block). No sleeps: the
    run is exactly at ``point`` while the block runs."""
    ours, theirs = socket.socketpair()
    env = {**os.environ, results.PAUSE_ENV: f"{point} {theirs.fileno()}"}
    with ours:
        p = subprocess.Popen(exe, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
                             env=env, pass_fds=[theirs.fileno()])
        theirs.close()  # the run holds the only other end: EOF here if it ends without pausing
        ours.settimeout(120)  # a bound for a broken run, not a synchronization
        with ours.makefile("rb") as f:
            said = f.readline()
        if said != f"{point}\n".encode():
            _, err = p.communicate(timeout=60)
            pytest.fail(f"the run did not stop at {point!r} (said {said!r}; exit {p.returncode}): {err}")
        try:
            yield p
        finally:
            if p.poll() is None:  # the block failed before signalling it: end this run
                p.kill()
                p.communicate(timeout=60)


def test_killed_runs_leave_old_results_or_new_never_a_mix(tmp_path):
    """``initlab run`` in a subprocess, killed (SIGKILL) or interrupted (SIGINT, SIGTERM) at
    known points of its write: the empty stage, after one file, after several, with every file
    staged, and after the swap. After every kill the output folder is one whole result: the
    previous one byte for byte, or, killed after the swap, the new one. Staging folders of
    SIGKILLed runs are removed by the next run; SIGINT/SIGTERM clean up after themselves."""
    cfg = write_yaml(tmp_path / "k.yaml", KILL_CFG)
    out = tmp_path / "out"
    exe = [sys.executable, "-m", "initlab", "run", str(cfg), "--out", str(out), "--no-figures", "-q"]
    r = subprocess.run(exe + ["--seed", "0"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    current = {p.name: sha(p) for p in out.iterdir()}
    assert complete(out)["seed"] == 0
    every = set(current)  # the files of a whole result, manifest included

    kills = [  # (signal, where the run stands, what its stage holds then)
        (signal.SIGKILL, "staged", set()),
        (signal.SIGKILL, "wrote stats.csv", {"stats.csv"}),
        (signal.SIGINT, "wrote stats.json", {"stats.csv", "stats.json"}),
        (signal.SIGTERM, "wrote summary.md", {"stats.csv", "stats.json", "summary.md"}),
        (signal.SIGKILL, "written", every),
        (signal.SIGKILL, "swapped", every),  # the stage now holds the previous result
    ]
    for seed, (sig, point, staged) in enumerate(kills, start=1):
        with stopped_at(exe + ["--seed", str(seed)], point, tmp_path) as p:
            # its own stage only: the stage a SIGKILLed run before it left was removed
            mine = stages(tmp_path)
            assert len(mine) == 1 and mine[0].name.startswith(f".{out.name}.{p.pid}."), mine
            assert {f.name for f in mine[0].iterdir()} == staged, point
            p.send_signal(sig)
            _, err = p.communicate(timeout=60)
        if point == "swapped":  # the new whole result; the old one waits in the dead run's stage
            assert p.returncode == -signal.SIGKILL
            assert complete(out)["seed"] == seed
            assert complete(mine[0])["seed"] == 0
            current = {q.name: sha(q) for q in out.iterdir()}
            continue
        assert {q.name: sha(q) for q in out.iterdir()} == current, point  # untouched
        assert complete(out)["seed"] == 0
        if sig == signal.SIGKILL:
            assert p.returncode == -signal.SIGKILL
            assert mine[0].exists()  # left behind, for the next run to remove
        else:  # a clean exit: one line, and its own staging folder removed
            want = {signal.SIGINT: (130, "initlab: interrupted"), signal.SIGTERM: (143, "initlab: terminated")}
            assert (p.returncode, err.strip()) == want[sig], (p.returncode, err)
            assert not mine[0].exists()
    assert stages(tmp_path) == mine  # the last SIGKILLed run's stage, with the old result
    rc, _, err = invoke(["run", str(cfg), "--out", str(out), "--no-figures", "-q", "--seed", "99"])
    assert rc == 0, err
    assert stages(tmp_path) == []  # the next run removed them
    assert complete(out)["seed"] == 99


def test_live_runs_staging_folder_is_not_removed(tmp_path):
    """Only stages of dead processes are stale: a concurrent run's stage (our pid) is kept."""
    from initlab.io import results

    out = tmp_path / "o"
    live = tmp_path / f".o.{os.getpid()}.0123abcd.initlab-tmp"
    dead = tmp_path / ".o.999999999.0123abcd.initlab-tmp"
    legacy = tmp_path / ".o.0123abcd.initlab-tmp"
    for d in (live, dead, legacy):
        d.mkdir()
    assert sorted(results.stale_stages(out)) == sorted([dead, legacy])


def test_output_symlink_is_followed(tmp_path):
    """--out naming a link to a result folder replaces the folder it points to; the link stays."""
    cfg = write_yaml(tmp_path / "c.yaml", deep("tanh", "float64", depth=2))
    real, link = tmp_path / "real", tmp_path / "link"
    assert invoke(["run", str(cfg), "--out", str(real), "--no-figures", "-q"])[0] == 0
    link.symlink_to(real)
    assert invoke(["run", str(cfg), "--out", str(link), "--no-figures", "-q", "--seed", "4"])[0] == 0
    assert link.is_symlink() and complete(real)["seed"] == 4
    assert stages(tmp_path) == []


def previous_results(tmp_path: Path, out: Path) -> tuple[Path, dict]:
    """A config and a completed run of it in ``out``: (config path, sha of every file)."""
    cfg = write_yaml(tmp_path / "c.yaml", deep("tanh", "float64", depth=3))
    assert invoke(["run", str(cfg), "--out", str(out), "--no-figures", "-q"])[0] == 0
    return cfg, {p.name: sha(p) for p in out.iterdir()}


def break_figures(monkeypatch, draw) -> None:
    """Make the figure step call ``draw(doc, folder)`` instead (to fail mid-write)."""
    from initlab.plots import run_figures

    monkeypatch.setattr(run_figures, "draw_all", draw)


def test_interrupt_during_write_keeps_previous_results(tmp_path, monkeypatch):
    out = tmp_path / "o"
    cfg, before = previous_results(tmp_path, out)

    def interrupt(doc, folder):
        raise KeyboardInterrupt

    break_figures(monkeypatch, interrupt)
    rc, o, err = invoke(["run", str(cfg), "--out", str(out), "--seed", "5"])
    assert rc == 130 and err == "initlab: interrupted\n"
    assert {p.name: sha(p) for p in out.iterdir()} == before
    assert stages(tmp_path) == []


# --- errors raised during the run or the write leave nothing ----------------------------------

def test_internal_error_is_one_line_exit_1_and_leaves_nothing(tmp_path, monkeypatch):
    import initlab.runs.experiment

    def boom(*a, **k):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(initlab.runs.experiment, "run", boom)
    write_yaml(tmp_path / "c.yaml", deep("tanh", "float64", depth=3))
    monkeypatch.chdir(tmp_path)
    rc, out, err = invoke(["run", "c.yaml"])
    assert rc == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("initlab: internal error: RuntimeError: boom second line at test_hardening.py:")
    assert "please report" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_internal_error_while_writing_leaves_previous_results_and_no_new_folders(tmp_path, monkeypatch):
    old = tmp_path / "old"
    cfg, before = previous_results(tmp_path, old)

    def broken(doc, folder):
        (Path(folder) / "histograms.png").write_bytes(b"half a figure")
        raise ValueError("figure exploded")

    break_figures(monkeypatch, broken)
    for target in (old, tmp_path / "new" / "deeper" / "x"):
        rc, out, err = invoke(["run", str(cfg), "--out", str(target), "--seed", "3"])
        assert rc == 1 and err.count("\n") == 1 and "internal error: ValueError: figure exploded" in err
    assert {p.name: sha(p) for p in old.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "old"]  # no new/, no stage


def test_error_found_only_when_weights_are_drawn_leaves_nothing(tmp_path, monkeypatch):
    """Martens sparse ``nonzero`` > fan_in is caught by the config check (tiny draws at every
    fan). With that check switched off the error comes when the run draws its weights: still a
    one-line usage error naming the field, and nothing written."""
    monkeypatch.setattr(config.validate, "_probe_shapes", lambda cfg: {"network.initializer": [], "network.bias": []})
    write_yaml(tmp_path / "c.yaml", {"input": {"batch": 4, "dim": 10},
                                     "network": {"depth": 2, "width": 10,
                                                 "initializer": {"name": "sparse", "nonzero": 50}}})
    monkeypatch.chdir(tmp_path)
    rc, out, err = invoke(["run", "c.yaml"])
    assert rc == 2 and err.count("\n") == 1
    assert err.startswith("initlab: error: network.initializer.nonzero (line ")  # placed at its YAML line
    assert "must be <= fan_in (10)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


# --- determinism --------------------------------------------------------------------------------

DET_CFG = {"name": "det", "seed": 7, "dtype": "float32",
           "input": {"batch": 40, "dim": 30, "distribution": "uniform"},
           "network": {"depth": 6, "width": [30, 20, 25, 30, 30, 12], "activation": "gelu",
                       "initializer": {"name": "truncated_normal", "std": 0.3},
                       "bias": {"name": "normal", "std": 0.1}},
           "backward": {"loss": "softmax_ce", "classes": 5}}


@pytest.mark.parametrize("data", [DET_CFG, deep("relu", "float32", depth=60, backward=False)],
                         ids=["mixed", "overflow"])
def test_byte_identical_tables_across_processes_and_backward_toggle(tmp_path, data):
    """Two separate processes give byte-identical stats.csv, stats.json and summary.md; with
    --backward (a third run, in this process) every forward column (CSV and JSON rows) and the
    activation histograms are the same bytes/values as without."""
    cfg = write_yaml(tmp_path / "c.yaml", data)
    exe = [sys.executable, "-m", "initlab", "run", str(cfg), "--no-figures", "-q"]
    procs = [subprocess.Popen(exe + ["--out", name], cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for name in "ab"]
    rc, _, err = invoke(["run", str(cfg), "--no-figures", "-q", "--out", str(tmp_path / "c"), "--backward"])
    assert rc == 0, err
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    a, b, c = (tmp_path / n for n in "abc")
    for name in ("stats.csv", "stats.json", "summary.md"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    forward = columns(backward=False)  # measured forward columns (and their predictions, if any)
    rows_a = list(csv.DictReader(open(a / "stats.csv")))
    rows_c = list(csv.DictReader(open(c / "stats.csv")))
    assert list(rows_a[0]) == list(forward)
    assert [{k: r[k] for k in forward} for r in rows_c] == rows_a
    ja, jc = (json.loads((d / "stats.json").read_text()) for d in (a, c))
    assert [{k: r[k] for k in forward} for r in jc["rows"]] == [{k: r[k] for k in forward} for r in ja["rows"]]
    assert jc["histograms"]["act"] == ja["histograms"]["act"]
    assert jc["first_nonfinite"]["forward"] == ja["first_nonfinite"]["forward"]


def test_an_output_folder_that_takes_no_entry_is_a_write_error(tmp_path):
    """--out /proc/x: /proc exists but takes no new folder (ENOENT, even as root): a write
    error naming --out and the folder, exit 2, not an internal error."""

    cfg = tmp_path / "c.yaml"
    cfg.write_text("network: {depth: 2, width: 4}\ninput: {batch: 2, dim: 4}\n")
    rc, out, err = invoke(["run", str(cfg), "--out", "/proc/initlab-test-out", "--no-figures", "-q"])
    assert rc == 2 and out == "", err
    assert err.startswith("initlab: error: --out: cannot write /proc/initlab-test-out") and "(/proc)" in err
    assert "initlab-tmp" not in err and len(err.strip().splitlines()) == 1


# --- resource bounds before any work starts (issue 19) -----------------------------------------

BOUNDS_VALID = "input: {batch: 4, dim: 6}\nnetwork: {depth: 2, width: 5, activation: tanh}\n"


def refused_in_subprocess(args: list[str], cwd: Path, *needles: str) -> str:
    """Run the CLI in a subprocess (so a hang is a timeout, not a stuck test suite): exit 2,
    one stderr line containing ``needles``, nothing on stdout, no --out folder created."""
    exe = [sys.executable, "-m", "initlab", *args, "--out", str(cwd / "out"), "--no-figures", "-q"]
    r = subprocess.run(exe, capture_output=True, text=True, cwd=cwd, timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("initlab: error: "), repr(r.stderr)
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)
    assert not (cwd / "out").exists()
    return r.stderr


def test_config_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "c.yaml"
    os.mkfifo(fifo)
    before = set(os.listdir(tmp_path))
    refused_in_subprocess(["run", str(fifo)], tmp_path, f"config: cannot read {fifo}: a FIFO", "not a regular file")
    assert set(os.listdir(tmp_path)) == before


def test_config_dev_zero_is_refused(tmp_path):
    refused_in_subprocess(["run", "/dev/zero"], tmp_path, "config: cannot read /dev/zero: a character device",
                          "not a regular file")


def test_config_directory_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    refused_in_subprocess(["run", "d"], tmp_path, "config: d is a directory")


def test_config_over_max_bytes_is_refused_before_parsing(tmp_path):
    from initlab.io.configfile import MAX_CONFIG_BYTES

    big = tmp_path / "big.yaml"
    line = "#" * 99 + "\n"
    big.write_text(BOUNDS_VALID + line * (MAX_CONFIG_BYTES // len(line) + 1))
    assert big.stat().st_size > MAX_CONFIG_BYTES == 2**20
    refused_in_subprocess(["run", "big.yaml"], tmp_path, "config: cannot read big.yaml",
                          "MAX_CONFIG_BYTES")


def test_config_at_max_bytes_is_read(tmp_path):
    from initlab.io import configfile

    ok = tmp_path / "ok.yaml"
    text = BOUNDS_VALID + "#" * (configfile.MAX_CONFIG_BYTES - len(BOUNDS_VALID) - 1) + "\n"
    ok.write_text(text)
    assert ok.stat().st_size == configfile.MAX_CONFIG_BYTES
    data, _ = configfile.read(ok)
    assert data["network"]["depth"] == 2


def test_config_that_grows_past_the_limit_is_read_at_most_once_over(tmp_path, monkeypatch):
    """A file whose stat size is small but that yields more bytes (it grew) is still bounded."""
    from initlab.errors import ConfigError
    from initlab.io import configfile

    monkeypatch.setattr(configfile, "MAX_CONFIG_BYTES", 64)
    monkeypatch.setattr(configfile.os, "stat", lambda p: os.stat_result((0o100644, 0, 0, 1, 0, 0, 10, 0, 0, 0)))
    f = tmp_path / "g.yaml"
    f.write_text("# " + "x" * 100 + "\n")
    with pytest.raises(ConfigError, match="MAX_CONFIG_BYTES"):
        configfile.read(f)


def test_set_value_3000_deep_is_one_line_not_a_recursion_error(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(BOUNDS_VALID)
    deep = "[" * 3000 + "]" * 3000
    err = refused_in_subprocess(["run", "c.yaml", "--set", f"network.width={deep}"], tmp_path,
                                "network.width: --set", "MAX_NESTING")
    assert "RecursionError" not in err and len(err) < 400


def test_file_3000_deep_list_in_process(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(BOUNDS_VALID + "stats: {range: " + "[" * 3000 + "]" * 3000 + "}\n")
    rc, out, err = invoke(["run", str(cfg), "--out", str(tmp_path / "out")])
    assert rc == 2 and out == "" and err.count("\n") == 1, err
    assert "stats.range.0 (line 3)" in err and "MAX_NESTING" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("depth", ["1e9", "1e8", "100001"])
def test_huge_depth_is_refused_quickly_naming_the_limit(tmp_path, depth):
    import time

    cfg = tmp_path / "c.yaml"
    cfg.write_text(BOUNDS_VALID)
    t0 = time.perf_counter()
    rc, out, err = invoke(["run", str(cfg), "--set", f"network.depth={depth}", "--out", str(tmp_path / "out")])
    assert time.perf_counter() - t0 < 5
    assert rc == 2 and err.count("\n") == 1, err
    assert "network.depth" in err and f"at most {config.MAX_DEPTH} (MAX_DEPTH)" in err
    assert not (tmp_path / "out").exists()


def test_huge_depth_in_a_train_config_is_refused(tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("data: {name: circles}\nnetwork: {depth: 2, width: 4}\n")
    rc, out, err = invoke(["train", str(cfg), "-q", "--set", "network.depth=1e9", "--out", str(tmp_path / "out")])
    assert rc == 2 and err.count("\n") == 1, err
    assert "network.depth" in err and "MAX_DEPTH" in err
    assert not (tmp_path / "out").exists()


def test_huge_classes_is_refused_before_the_readout_is_allocated(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(BOUNDS_VALID + "backward: {enabled: true, loss: softmax_ce, classes: 1000000000000}\n")
    rc, out, err = invoke(["run", str(cfg), "--out", str(tmp_path / "out")])
    assert rc == 2 and err.count("\n") == 1, err
    assert "backward.classes (line 3)" in err and "limit 8 GiB" in err
    assert not (tmp_path / "out").exists()


def test_alias_within_limits_still_reads(tmp_path):
    from initlab.io import configfile

    data, _ = configfile.parse("a: &w [5, 5]\nb: *w\nc: {x: *w}\n")
    assert data == {"a": [5, 5], "b": [5, 5], "c": {"x": [5, 5]}}


def test_nesting_at_the_limit_reads(tmp_path):
    from initlab.config.scalars import MAX_NESTING, parse_scalar

    assert parse_scalar("[" * MAX_NESTING + "]" * MAX_NESTING) is not None
    with pytest.raises(ValueError, match="MAX_NESTING"):
        parse_scalar("[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1))
