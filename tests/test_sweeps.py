"""initlab sweep: the grid syntax, cache keys, resume after a kill, failures, engines that agree
byte for byte, bad input (one line, exit 2, nothing written) and the figures."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from initlab.cli import main
from initlab.config.scalars import parse_grid
from initlab.errors import ConfigError
from initlab.io import results
from initlab.sweeps import executors, grid as G, runner, store, tables

RUN_CFG = {"name": "tiny", "dtype": "float32", "input": {"batch": 40, "dim": 16},
           "network": {"depth": 3, "width": 16, "activation": "tanh", "initializer": "xavier"},
           "backward": {"enabled": True}, "stats": {"bins": 10}}
TRAIN_CFG = {"name": "tc", "seed": 0, "dtype": "float64",
             "data": {"name": "circles", "n_train": 60, "n_test": 20},
             "network": {"depth": 2, "width": 8, "activation": "tanh", "initializer": "xavier"},
             "train": {"steps": 30, "batch": 20, "optimizer": {"name": "sgd", "lr": 0.1}, "eval_every": 10,
                       "stats_every": 15}}


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")} if root.exists() else set()


# --- the grid syntax (config/scalars.py) -----------------------------------------------------------

@pytest.mark.parametrize("text, values", [
    ("network.depth=10,20,50", [10, 20, 50]),
    ("network.depth=range(2,11,4)", [2, 6, 10]),
    ("network.depth=range(3)", None),  # range needs 2 or 3 numbers
    ("x=range(0,1,0.25)", [0.0, 0.25, 0.5, 0.75]),
    ("x=range(5,0,-2)", [5, 3, 1]),
    ("x=linspace(0.5,2,4)", [0.5, 1.0, 1.5, 2.0]),
    ("train.optimizer.lr=logspace(-3,-1,3)", [0.001, 0.01, 0.1]),
    ("network.width=[8,4],[2,2]", [[8, 4], [2, 2]]),
    ("network.initializer=xavier,normal:std=0.01", ["xavier", {"name": "normal", "std": 0.01}]),
    ("network.initializer='normal:mean=0,std=0.5',he", [{"name": "normal", "mean": 0, "std": 0.5}, "he"]),
    ("x=1e-3,true,abc", [0.001, True, "abc"]),
])
def test_grid_values(text, values):
    if values is None:
        with pytest.raises(ConfigError, match="range"):
            parse_grid(text)
        return
    key, got = parse_grid(text)
    assert key == text.split("=", 1)[0]
    assert got == values
    assert [type(v) for v in got] == [type(v) for v in values]


@pytest.mark.parametrize("text, match", [
    ("network.depth=range(3,3)", "no values"), ("network.depth=1,,2", "empty value"),
    ("network.depth=1,2,1", "given twice"), ("network.depth", "key=values"),
    ("x=logspace(0,1,2.5)", "count"), ("x=range(0,10,0)", "step"), ("x=linspace(a,1,3)", "not a finite"),
])
def test_bad_grid_values(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_grid(text)


# --- points and keys -------------------------------------------------------------------------------

def spec_for(tmp_path, cfg=RUN_CFG, grids=(), seeds=None, kind=G.RUN, sets=()):
    base = write_yaml(tmp_path / f"{cfg['name']}.yaml", cfg)
    spec = G.Spec(base, kind, tuple(sets), name=cfg["name"])
    spec = G.add_axes(spec, [parse_grid(g) for g in grids])
    return G.with_seeds(spec, seeds) if seeds is not None else spec


def test_points_order_and_seeds(tmp_path):
    spec = spec_for(tmp_path, grids=["network.depth=2,3", "network.initializer=xavier,he"], seeds=2)
    pts = G.points(spec)
    assert spec.size == len(pts) == 8
    assert [(dict(p.values)["network.depth"], dict(p.values)["network.initializer"], p.seed) for p in pts[:3]] == \
        [(2, "xavier", 0), (2, "xavier", 1), (2, "he", 0)]
    assert pts[0].config.network.depth == 2 and pts[-1].config.network.initializer.name == "he"
    assert len({p.key for p in pts}) == 8


def test_cache_key_is_the_resolved_config_without_its_name(tmp_path):
    a = G.points(spec_for(tmp_path, grids=["network.depth=2"]))[0]
    # the same config written differently (a default spelt out, another name): the same key
    same = dict(RUN_CFG, name="other", input=dict(RUN_CFG["input"], distribution="normal"))
    b = G.points(spec_for(tmp_path, cfg=same, grids=["network.depth=2"]))[0]
    assert a.key == b.key and a.folder == b.folder
    c = G.points(spec_for(tmp_path, grids=["network.depth=2"], seeds=(1,)))[0]
    d = G.points(spec_for(tmp_path, grids=["network.width=17"]))[0]
    assert len({a.key, c.key, d.key}) == 3
    # a training config with the same numbers is another kind: never the same folder
    t = G.points(spec_for(tmp_path, cfg=TRAIN_CFG, kind=G.TRAIN, seeds=1))[0]
    assert t.folder.startswith("train-") and a.folder.startswith("run-")


def test_sweep_file_with_a_zip_axis(tmp_path):
    write_yaml(tmp_path / "tiny.yaml", RUN_CFG)
    f = write_yaml(tmp_path / "s.yaml", {"config": "tiny.yaml", "seeds": [3, 5], "set": {"input.batch": 20},
                                         "grid": {"network.depth": "range(2,4)"},
                                         "zip": [{"network.activation": ["tanh", "relu"],
                                                  "network.initializer": ["xavier", "he"]}]})
    assert G.is_sweep_file(f) and not G.is_sweep_file(tmp_path / "tiny.yaml")
    spec = G.from_file(f)
    pts = G.points(spec)
    assert len(pts) == 2 * 2 * 2
    combos = {(p.config.network.activation.name, p.config.network.initializer.name) for p in pts}
    assert combos == {("tanh", "xavier"), ("relu", "he")}
    assert {p.seed for p in pts} == {3, 5} and all(p.config.input.batch == 20 for p in pts)
    bad = write_yaml(tmp_path / "b.yaml", {"config": "tiny.yaml", "zip": [{"network.depth": [2, 3],
                                                                           "network.width": [4]}]})
    with pytest.raises(ConfigError, match="vary together"):
        G.from_file(bad)


def test_records_pickle(tmp_path):
    from initlab.sweeps.worker import Task, run_chunk

    pts = G.points(spec_for(tmp_path, grids=["network.depth=2"]))
    task = Task("run", tuple((p.index, p.config) for p in pts))
    back = pickle.loads(pickle.dumps(task))
    out = run_chunk(back)
    again = pickle.loads(pickle.dumps(out))
    assert again[0].ok and again[0].result.rows == out[0].result.rows


# --- running: engines, cache, failures, resume -------------------------------------------------------

def run_sweep(spec, out, ex, **kw):
    pts = G.points(spec)
    with ex:
        return runner.run(spec, pts, out, ex, **kw), pts


ENGINES = [("serial", lambda: executors.Serial()), ("local", lambda: executors.Local(2))]


def test_engines_write_the_same_bytes(tmp_path):
    """serial, a 2-process pool and (when dask is installed) a 2-worker Dask LocalCluster write
    byte-identical tables, step-0 runs (tanh float32 through the C kernel) and training runs."""
    run_spec = spec_for(tmp_path, grids=["network.depth=2,3", "network.initializer=xavier,normal:std=0.5"], seeds=2)
    train_spec = spec_for(tmp_path, cfg=TRAIN_CFG, kind=G.TRAIN, grids=["train.optimizer.lr=0.05,0.2"], seeds=2)
    makers = list(ENGINES)
    try:
        import distributed  # noqa: F401

        makers.append(("dask", lambda: executors.Dask(2)))
    except ImportError:
        pass
    tables_by = {}
    for name, make in makers:
        got = []
        for kind, spec in (("run", run_spec), ("train", train_spec)):
            out = tmp_path / f"{name}-{kind}"
            summary, _ = run_sweep(spec, out, make())
            assert summary.done == spec.size and not summary.failed
            got.append((out / "sweep.csv").read_bytes())
        tables_by[name] = got
    first = tables_by["serial"]
    for name, got in tables_by.items():
        assert got == first, f"{name} differs from serial"
    assert first[0].count(b"\n") == 1 + 8 * 3.5  # 4 points of depth 2 (3 rows), 4 of depth 3 (4 rows)


def test_cached_points_are_skipped_and_force_reruns(tmp_path):
    spec = spec_for(tmp_path, grids=["network.depth=2,3"], seeds=2)
    out = tmp_path / "sw"
    s1, pts = run_sweep(spec, out, executors.Serial())
    first = (out / "sweep.csv").read_bytes()
    s2, _ = run_sweep(spec, out, executors.Serial())
    assert (s1.done, s1.cached, s2.done, s2.cached) == (4, 0, 0, 4)
    assert (out / "sweep.csv").read_bytes() == first
    # a larger grid reuses the points it shares
    s3, _ = run_sweep(G.add_axes(spec_for(tmp_path, seeds=2), [("network.depth", [2, 3, 4])]), out,
                      executors.Serial())
    assert (s3.done, s3.cached) == (2, 4)
    s4, _ = run_sweep(spec, out, executors.Serial(), force=True)
    assert (s4.done, s4.cached) == (4, 0)
    assert (out / "sweep.csv").read_bytes() == first
    assert all(store.is_cached(out, p) for p in pts)


def test_a_failed_point_is_recorded_and_the_others_run(tmp_path, capsys, monkeypatch):
    """A point that raises while it runs (here: a MemoryError at depth 3, made by wrapping the
    worker's run_point; the serial engine runs in this process) is recorded with its one-line
    error, the other points finish, the exit code is 3; it gets no folder, so a rerun tries it
    again."""
    from initlab.sweeps import worker

    real = worker.run_point

    def flaky(kind, cfg):
        if cfg.network.depth == 3:
            raise MemoryError("Unable to allocate 1.00 TiB for an array")
        return real(kind, cfg)

    monkeypatch.setattr(worker, "run_point", flaky)
    cfg = write_yaml(tmp_path / "tiny.yaml", RUN_CFG)
    out = tmp_path / "sw"
    args = ["sweep", str(cfg), "--grid", "network.depth=2,3,4", "--out", str(out), "--engine", "serial", "-q"]
    assert main(args) == 3
    text = " ".join(capsys.readouterr().out.split())
    assert "FAILED network.depth=3, seed=0: MemoryError: Unable to allocate 1.00 TiB for an array" in text
    assert "3 points (2 run, 0 cached, 1 failed)" in text
    cols, rows = tables.read_sweep(out)
    assert sorted({r["network.depth"] for r in rows}) == [2, 4]
    import csv

    with open(out / "points.csv") as f:
        points = list(csv.DictReader(f))
    assert [p["status"] for p in points] == ["done", "failed", "done"]
    assert points[1]["error"] == "MemoryError: Unable to allocate 1.00 TiB for an array" and points[0]["error"] == ""
    assert len(list((out / "points").iterdir())) == 2
    monkeypatch.setattr(worker, "run_point", real)
    assert main(args) == 0
    assert "3 points (1 run, 2 cached, 0 failed)" in " ".join(capsys.readouterr().out.split())


def _stop_at_written(exe, cwd, let_through: int):
    """Run ``exe`` with the atomic write's pause hook at ``written``; let ``let_through`` point
    folders complete, SIGKILL the sweep while the next one stands staged."""
    ours, theirs = socket.socketpair()
    env = {**os.environ, results.PAUSE_ENV: f"written {theirs.fileno()}"}
    with ours:
        p = subprocess.Popen(exe, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env,
                             pass_fds=[theirs.fileno()])
        theirs.close()
        ours.settimeout(120)
        with ours.makefile("rb") as f:
            for i in range(let_through + 1):
                said = f.readline()
                assert said == b"written\n", (said, p.communicate(timeout=60))
                if i < let_through:
                    ours.sendall(b"x")
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=60)
    return p.returncode


def test_a_killed_sweep_resumes_where_it_stopped(tmp_path):
    cfg = write_yaml(tmp_path / "tiny.yaml", RUN_CFG)
    out = tmp_path / "sw"
    exe = [sys.executable, "-m", "initlab", "sweep", str(cfg), "--grid", "network.depth=2,3,4", "--seeds", "2",
           "--out", str(out), "--engine", "serial", "-q"]
    assert _stop_at_written(exe, tmp_path, let_through=2) == -signal.SIGKILL
    done = [p for p in (out / "points").iterdir() if not p.name.startswith(".")]
    assert len(done) == 2 and all((p / "manifest.json").is_file() for p in done)
    assert not (out / "sweep.csv").exists()
    r = subprocess.run(exe, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "6 points (4 run, 2 cached, 0 failed)" in " ".join(r.stdout.split())
    assert not [p for p in (out / "points").iterdir() if p.name.startswith(".")]  # the stale stage is gone
    fresh = tmp_path / "fresh"
    r = subprocess.run(exe[:-5] + ["--out", str(fresh), "--engine", "serial", "-q"], capture_output=True,
                       text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (out / "sweep.csv").read_bytes() == (fresh / "sweep.csv").read_bytes()


# --- bad input: one line, exit 2, nothing written --------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--grid", "network.depht=2,3"], "network.depht: --grid: unknown key 'depht' (did you mean 'depth'?)"),
    (["--grid", "netwrk.depth=2"], "unknown key 'netwrk' (did you mean 'network'?)"),
    (["--grid", "network.depth=range(4,4)"], "network.depth: --grid: no values (an empty grid axis)"),
    ([], "nothing to sweep"),
    (["--grid", "network.depth=2,0"], "network.depth: (from the command line) must be an integer >= 1, got 0 "
                                      "(sweep point #1, network.depth=0, seed=0)"),
    (["--grid", "network.initializer=xavier,xavierr"], "unknown initializer 'xavierr' (did you mean 'xavier'?)"),
    (["--grid", "network.depth=2", "--engine", "spark"], "unknown engine 'spark'"),
    (["--grid", "network.depth=2", "--seeds", "0,0"], "given twice"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    cfg = write_yaml(tmp_path / "tiny.yaml", RUN_CFG)
    out = tmp_path / "sw"
    rc = main(["sweep", str(cfg), *args, "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_an_unreachable_scheduler_is_one_line_exit_2(tmp_path, capsys):
    pytest.importorskip("distributed")
    cfg = write_yaml(tmp_path / "tiny.yaml", RUN_CFG)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # a port nobody listens on
    out = tmp_path / "sw"
    old = executors.CONNECT_TIMEOUT
    executors.CONNECT_TIMEOUT = 2.0
    try:
        rc = main(["sweep", str(cfg), "--grid", "network.depth=2", "--engine", "dask", "--scheduler",
                   f"tcp://127.0.0.1:{port}", "--out", str(out)])
    finally:
        executors.CONNECT_TIMEOUT = old
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--scheduler: cannot reach the Dask scheduler" in err, err
    assert not out.exists()


def test_dry_run_runs_nothing(tmp_path, capsys):
    cfg = write_yaml(tmp_path / "tiny.yaml", RUN_CFG)
    out = tmp_path / "sw"
    rc = main(["sweep", str(cfg), "--grid", "network.depth=range(2,5)", "--seeds", "3", "--dry-run", "--out", str(out)])
    text = " ".join(capsys.readouterr().out.split())
    assert rc == 0 and "9 points" in text and "network.depth (3): 2, 3, 4" in text and "estimate" in text
    assert not out.exists()


# --- figures ------------------------------------------------------------------------------------------

def test_sweep_plot_redraws_from_the_table(tmp_path, capsys):
    cfg = write_yaml(tmp_path / "tiny.yaml", RUN_CFG)
    out = tmp_path / "sw"
    assert main(["sweep", str(cfg), "--grid", "network.depth=2,3", "--grid", "network.initializer.gain=0.5,1.0",
                 "--seeds", "2", "--out", str(out), "--engine", "serial", "-q"]) == 0
    assert main(["sweep", "plot", str(out), "--x", "network.depth", "--metric", "act_std"]) == 0
    assert main(["sweep", "plot", str(out), "--x", "network.depth", "--y", "network.initializer.gain",
                 "--metric", "act_std", "--layer", "1"]) == 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["act_std_by_network.depth.png", "act_std_by_network.depth_network.initializer.gain.png"]
    assert all((out / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)
    capsys.readouterr()
    assert main(["sweep", "plot", str(out), "--x", "network.depth", "--metric", "act_sdt"]) == 2
    assert "did you mean 'act_std'" in capsys.readouterr().err


def test_parquet_matches_the_csv(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    spec = spec_for(tmp_path, grids=["network.depth=2,3"])
    out = tmp_path / "sw"
    run_sweep(spec, out, executors.Serial())
    t = pq.read_table(out / "sweep.parquet").to_pylist()
    cols, rows = tables.read_sweep(out)
    assert len(t) == len(rows) and t[0]["act_std"] == rows[0]["act_std"]


# --- the study's mapper ---------------------------------------------------------------------------------

def test_a_grid_study_gives_the_same_points_on_any_mapper(tmp_path):
    from initlab.config import training
    from initlab.studies import grids

    grid = grids.Grid("unused", ("network.depth", (1, 2)), ("train.optimizer.lr", (0.05,)), seeds=2)
    data = dict(TRAIN_CFG)

    def resolve(sets, seed):
        return training.resolve(data, sets=sets, seed=seed)[0]

    serial = grids.run(grid, resolve)
    with executors.Local(2) as ex:
        pooled = grids.run(grid, resolve, executors.ordered_map(ex, chunk=1))
    assert serial.rows == pooled.rows and len(serial.rows) == 4
    assert serial.fraction(lambda r: True, "train_acc", 0.0) == [1.0, 1.0]


def test_schoenholz2017_curve_is_the_phase_diagram():
    from initlab.studies import schoenholz2017 as S
    from initlab.theory import phase

    assert S.six_xi_c(1.0) == pytest.approx(6 * phase.depth_scales("tanh", 1.0, 0.05)["xi_c"])
    # the scored regions are not empty on the default grid, and on each side of the critical line
    rows = [{S.SW2: x, S.DEPTH: y} for x in S.GRID.x[1] for y in S.GRID.y[1]]
    inside = [r for r in rows if S.inside(r)]
    beyond = [r for r in rows if S.beyond(r)]
    assert len(inside) >= 8 and len(beyond) >= 4
    crit = phase.critical_sw2("tanh", 0.05)
    assert {r[S.SW2] < crit for r in inside} == {True, False}
