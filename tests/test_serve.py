"""``initlab serve`` without a browser: the page's computations are the CLI's (same config,
same validation messages, same numbers), requests are bounded, superseded ones cancelled.

Skips when the ``serve`` extra (and httpx, for Starlette's test client) is not installed:
``pip install -e '.[serve-test]'``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("plotly")
pytest.importorskip("httpx")

import warnings  # noqa: E402

import numpy as np  # noqa: E402

with warnings.catch_warnings():  # starlette >= 1.x would rather have httpx2 behind its test client
    warnings.simplefilter("ignore", DeprecationWarning)
    from starlette.testclient import TestClient  # noqa: E402

from initlab.cli import main  # noqa: E402
from initlab.errors import ConfigError  # noqa: E402
from initlab.io import configfile  # noqa: E402
from initlab.runs import experiment  # noqa: E402
from initlab.serve import compute, limits, meta, training  # noqa: E402
from initlab.serve.app import make_app  # noqa: E402

SMALL = {"network.depth": "3", "network.width": "40", "input.batch": "64", "input.dim": "30"}
SMALL_TRAIN = {**training.DEFAULT_TRAIN, "train.steps": "60", "train.eval_every": "20", "train.stats_every": "30"}


def receive_until(ws, types, limit=200):
    """Messages up to and including the first whose type is in ``types``."""
    out = []
    for _ in range(limit):
        m = json.loads(ws.receive_text())
        out.append(m)
        if m["type"] in types:
            return out
    raise AssertionError(f"no {types} in {limit} messages: {[m['type'] for m in out]}")


# --- the step-0 view is initlab run ---------------------------------------------------------------

def test_step0_rows_are_initlab_runs_and_the_yaml_reproduces_them():
    page = compute.step0({**SMALL, "network.initializer": "normal:std=0.1", "backward.enabled": "true"})
    loaded = configfile.parse(page["yaml"])[0]
    from initlab import config

    again = experiment.run(config.from_dict(loaded))
    for shown, row in zip(page["rows"], again.rows):
        for key, v in shown.items():
            assert v == compute.finite(row[key]), (key, row["layer"])
    assert page["point"]["sw2"] == pytest.approx(0.01 * 40)  # fan_in Var(W) of the hidden layers
    assert len(page["act_hist"]) == 3 and len(page["grad_hist"]) == 3


def test_downloaded_yaml_through_the_cli_gives_the_numbers_shown(tmp_path):
    page = compute.step0({**SMALL, "network.activation": "relu", "network.initializer": "he", "dtype": "float64"})
    (tmp_path / "playground.yaml").write_text(page["yaml"])
    assert main(["run", str(tmp_path / "playground.yaml"), "--out", str(tmp_path / "out"), "-q",
                 "--no-figures"]) == 0
    rows = json.loads((tmp_path / "out" / "stats.json").read_text())["rows"]
    assert [r["act_std"] for r in rows] == [r["act_std"] for r in page["rows"]]
    assert [r["act_zero"] for r in rows] == [r["act_zero"] for r in page["rows"]]


@pytest.mark.parametrize("key, text", [
    ("network.depth", "0"), ("network.initializer", "xavierr"), ("network.initializer", "normal:std=abc"),
    ("network.activation", "leaky_relu:slope=0.2"), ("input.distribution", "gauss"), ("dtype", "float16"),
    ("network.width", "[3, 4]"),
])
def test_a_bad_value_gets_the_clis_one_line_message(key, text, capsys):
    with pytest.raises(ConfigError) as e:
        compute.run_config({key: text})
    page = compute.page_error(e.value)
    assert main(["run", "configs/tanh_small.yaml", "--set", f"{key}={text}", "--out", "/nonexistent/x"]) == 2
    cli = capsys.readouterr().err.strip().removeprefix("initlab: error: ")
    assert "\n" not in page["message"] and "Traceback" not in page["message"]
    assert page["message"] == cli.replace("(from the command line) ", ""), (page, cli)
    assert page["field"] and key.split(".")[0] in page["field"]


def test_an_overflow_is_a_result_the_page_can_read():
    page = compute.step0({**SMALL, "network.depth": "40", "network.activation": "relu",
                          "network.initializer": "normal:std=30", "dtype": "float32"})
    text = json.dumps(page, allow_nan=False)  # inf/NaN travel as strings, never break the JSON
    assert page["first_nonfinite"]["forward"] is not None
    assert "inf" in text or "nan" in text


# --- bounds -------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings, field, name", [
    ({"network.width": str(limits.MAX_STEP0_WIDTH + 1)}, "network.width", "MAX_STEP0_WIDTH"),
    ({"network.depth": str(limits.MAX_STEP0_DEPTH + 1), "network.width": "10"}, "network.depth", "MAX_STEP0_DEPTH"),
    ({"input.batch": str(limits.MAX_STEP0_BATCH + 1)}, "input.batch", "MAX_STEP0_BATCH"),
    ({"network.width": "4000", "network.depth": "50", "input.batch": "5000"}, "network.width", "MAX_STEP0_WORK"),
    ({"network.width": "2000", "network.depth": "40", "input.batch": "5000", "backward.enabled": "true",
      "input.dim": "100"}, "network.width", "MAX_STEP0_WORK"),
    ({"stats.bins": "500"}, "stats.bins", "MAX_STEP0_BINS"),
])
def test_step0_sizes_beyond_the_limits_are_refused_before_any_work(settings, field, name):
    with pytest.raises(ConfigError) as e:
        compute.run_config(settings)
    assert e.value.field == field and name in e.value.detail


def test_the_tape_limit_names_the_backward_pass():
    with pytest.raises(ConfigError) as e:
        compute.run_config({"network.width": "4000", "network.depth": "30", "input.batch": "2000",
                            "input.dim": "10", "backward.enabled": "true"})
    assert e.value.field in ("backward.enabled", "network.width")


@pytest.mark.parametrize("settings, runs, field, name", [
    ({"train.steps": str(limits.MAX_TRAIN_STEPS + 1)}, ["he"], "train.steps", "MAX_TRAIN_STEPS"),
    ({"network.width": str(limits.MAX_TRAIN_WIDTH + 1)}, ["he"], "network.width", "MAX_TRAIN_WIDTH"),
    ({"data.n_train": str(limits.MAX_TRAIN_ROWS + 1)}, ["he"], "data.n_train", "MAX_TRAIN_ROWS"),
    ({}, ["he", "zeros", "xavier", "lecun_normal"], "runs", "MAX_TRAIN_RUNS"),
    ({"data.name": "fashion_mnist"}, ["he"], "data.name", "playground trains on"),
    ({}, ["he", "hee"], "runs.1", "did you mean 'he'"),
    ({}, ["he", "he"], "runs.1", "given twice"),
])
def test_training_requests_beyond_the_limits_or_wrong_are_refused(settings, runs, field, name):
    with pytest.raises(ConfigError) as e:
        training.train_configs(settings, runs)
    assert e.value.field == field and name in e.value.detail, e.value


def test_the_training_work_limit_counts_steps_batch_widths_and_runs():
    limits.check_train_work(1000, 300, (2, 10, 5, 1), 3)
    with pytest.raises(ConfigError, match="MAX_TRAIN_WORK"):
        limits.check_train_work(40_000, 20_000, (784, 1000, 1000, 10), 3)


# --- the training view is initlab train ----------------------------------------------------------

def test_training_side_by_side_gives_initlab_trains_numbers():
    from initlab.runs import train as R

    frames = []
    finals = training.train_job(SMALL_TRAIN, ["he", "normal:std=10"], compute.Token(), frames.append)
    cfgs = training.train_configs(SMALL_TRAIN, ["he", "normal:std=10"])
    for cfg, final in zip(cfgs, finals):
        alone = R.run(cfg).final_metrics()
        for k in ("train_loss", "train_acc", "test_loss", "test_acc", "steps_to_threshold"):
            assert final[k] == alone[k], k
    start = frames[0]
    assert start["type"] == "train_start" and start["plot_2d"] and len(start["runs"]) == 2
    last = [f for f in frames if f.get("final")]
    assert sorted(f["run"] for f in last) == [0, 1]
    assert all(np.shape(f["boundary"]["prob"]) == (training.LIVE_GRID, training.LIVE_GRID) for f in last)
    steps = sorted({r["step"] for f in frames if f["type"] == "frame" and f["run"] == 0 for r in f["history"]})
    assert steps == [0, 20, 40, 60]  # every evaluation row streamed once


def test_a_diverging_run_is_reported_and_its_frames_stay_json():
    frames = []
    finals = training.train_job({**SMALL_TRAIN, "train.optimizer.lr": "1e3", "train.loss": "mse"}, ["normal:std=10"], compute.Token(),
                                frames.append)
    assert finals[0]["diverged"] and finals[0]["diverged_at"] is not None
    for f in frames:
        json.dumps(f, allow_nan=False)


def test_frames_merge_per_run_keeping_every_row_and_the_latest_state():
    f = lambda run, steps, **kw: {"type": "frame", "id": 1, "run": run, "history": [{"step": s} for s in steps],  # noqa: E731
                                  "layers": None, "boundary": None, **kw}
    msgs = [f(0, [0], boundary="b0"), f(1, [0]), f(0, [10], layers="l1"), f(0, [20], boundary="b2"),
            {"type": "train_done", "id": 1}, f(0, [30])]
    out = training.merge_frames(msgs)
    assert [m["type"] for m in out] == ["frame", "frame", "train_done", "frame"]
    assert [r["step"] for r in out[0]["history"]] == [0, 10, 20]
    assert out[0]["boundary"] == "b2" and out[0]["layers"] == "l1" and out[1]["run"] == 1
    assert [r["step"] for r in out[3]["history"]] == [30]


def test_a_cancelled_token_stops_a_training_job():
    token = compute.Token()
    token.cancel()
    with pytest.raises(compute.Cancelled):
        training.train_job(SMALL_TRAIN, ["he"], token, lambda m: None)


def test_a_cancelled_token_stops_step0_between_layers():
    token = compute.Token()
    token.cancel()
    with pytest.raises(compute.Cancelled):
        compute.step0(SMALL, token)


def test_a_paused_job_waits_and_resumes():
    token = compute.Token()
    token.pause()
    hit = threading.Event()
    th = threading.Thread(target=lambda: (token.check(), hit.set()))
    th.start()
    assert not hit.wait(0.2)
    token.resume()
    assert hit.wait(5)
    th.join()


# --- the server ---------------------------------------------------------------------------------

@pytest.fixture
def client():
    with TestClient(make_app()) as c:
        yield c


def test_the_page_and_its_assets_come_from_the_package_not_a_cdn(client):
    html = client.get("/").text
    js = client.get("/static/app.js").text
    assert client.get("/vendor/plotly.min.js").status_code == 200
    assert client.get("/static/../app.py").status_code == 404
    for text in (html, js, client.get("/static/style.css").text):
        assert "://" not in text.replace("location.protocol", "").replace('"wss" : "ws"}://', ""), "no remote URL"


def test_meta_lists_every_registry_entry(client):
    from initlab.engine import activations, initializers

    m = client.get("/api/meta").json()
    assert [i["name"] for i in m["initializers"]] == list(initializers.INITIALIZERS)
    assert [a["name"] for a in m["activations"]] == list(activations.ACTIVATIONS)
    assert [d["name"] for d in m["datasets"]] == list(limits.TRAIN_DATASETS)
    assert m["limits"]["MAX_STEP0_WIDTH"] == limits.MAX_STEP0_WIDTH
    assert meta.describe()["step0_defaults"]["network.depth"] == 10  # the cs231n shape


def test_websocket_step0_then_phase_and_errors_by_field(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "step0", "id": 1, "settings": SMALL}))
        got = receive_until(ws, {"phase"})
        assert [m["type"] for m in got] == ["step0", "phase"]
        assert got[1]["activation"] == "tanh" and len(got[1]["log10_chi1"]) == compute.PHASE_SB2[2]
        ws.send_text(json.dumps({"type": "step0", "id": 2, "settings": {**SMALL, "network.depth": "x"}}))
        err = receive_until(ws, {"error"})[-1]
        assert err["id"] == 2 and err["field"] == "network.depth"
        assert err["message"].startswith("network.depth: must be an integer")
        ws.send_text("{not json")
        assert "unknown request" in receive_until(ws, {"error"})[-1]["message"]
        ws.send_text("x" * (limits.MAX_MESSAGE_BYTES + 1))
        assert "MAX_MESSAGE_BYTES" in receive_until(ws, {"error"})[-1]["message"]


def test_a_new_request_cancels_the_running_one(client):
    big = {"network.depth": "100", "network.width": "1000", "input.batch": "250", "input.dim": "1000"}
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "step0", "id": 1, "settings": big, "phase": False}))
        time.sleep(0.05)
        ws.send_text(json.dumps({"type": "step0", "id": 2, "settings": SMALL, "phase": False}))
        got = receive_until(ws, {"step0"})
        assert [(m["type"], m["id"]) for m in got] == [("cancelled", 1), ("step0", 2)]


def test_training_streams_and_stop_cancels(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "train", "id": 1, "settings": SMALL_TRAIN, "runs": ["he", "zeros"]}))
        got = receive_until(ws, {"train_done", "error"})
        assert got[0]["type"] == "train_start" and got[-1]["type"] == "train_done"
        assert [f["train_loss"] for f in got[-1]["finals"]][1] == pytest.approx(np.log(2))  # zeros: stuck
        slow = {**SMALL_TRAIN, "train.steps": "40000", "train.eval_every": "1000"}
        ws.send_text(json.dumps({"type": "train", "id": 2, "settings": slow, "runs": ["he"]}))
        receive_until(ws, {"train_start"})
        ws.send_text(json.dumps({"type": "stop"}))
        assert receive_until(ws, {"cancelled", "train_done"})[-1]["type"] == "cancelled"


def test_no_train_refuses_training():
    with TestClient(make_app(train=False)) as c, c.websocket_connect("/ws") as ws:
        assert c.get("/api/meta").json()["train"] is False
        ws.send_text(json.dumps({"type": "train", "id": 1, "settings": {}, "runs": ["he"]}))
        assert "--no-train" in receive_until(ws, {"error"})[-1]["message"]


# --- the command ----------------------------------------------------------------------------------

def test_initlab_serve_prints_its_url_and_serves_until_terminated():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "initlab", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("initlab playground at http://127.0.0.1:"), line
        url = line.split()[3]
        with urllib.request.urlopen(url, timeout=30) as r:
            assert b"initlab playground" in r.read()
    finally:
        proc.terminate()
        proc.wait(30)
    assert "Traceback" not in proc.stderr.read()


def test_at_most_max_jobs_run_and_shutdown_stops_them_all():
    from initlab.serve.app import Jobs

    jobs = Jobs()
    tokens = [compute.Token() for _ in range(limits.MAX_JOBS + 1)]
    assert all(jobs.acquire(t) for t in tokens[:-1]) and not jobs.acquire(tokens[-1])
    tokens[0].pause()
    jobs.shutdown()
    assert all(t.cancelled for t in tokens[:-1]) and not tokens[-1].cancelled


def test_the_server_exits_promptly_with_a_training_run_going():
    from websockets.sync.client import connect

    proc = subprocess.Popen([sys.executable, "-m", "initlab", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = proc.stdout.readline().split()[3].replace("http://", "ws://") + "ws"
        slow = {**SMALL_TRAIN, "train.steps": "50000", "train.eval_every": "1000"}
        with connect(url) as ws:
            ws.send(json.dumps({"type": "train", "id": 1, "settings": slow, "runs": ["he", "zeros", "xavier"]}))
            while json.loads(ws.recv(timeout=120))["type"] != "frame":
                pass
            ws.send(json.dumps({"type": "pause"}))
            proc.terminate()
            proc.wait(60)  # 3 x 50000 steps would take minutes, a pause 10 more
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in proc.stderr.read()


def test_a_busy_port_is_one_line_and_exit_2(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"initlab: error: --port: cannot listen on 127.0.0.1:{port}") and "\n" not in err


def test_a_bad_port_is_refused(capsys):
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


def test_the_cli_imports_no_web_library_unless_serve_runs():
    code = ("import sys; from initlab.cli import main; main(['--help']); "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'plotly', 'initlab.serve') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")})
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_without_the_extra_the_command_says_how_to_install_it(monkeypatch, capsys):
    import initlab.serve

    monkeypatch.setattr(initlab.serve, "missing_extra", lambda: "starlette")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install 'initlab[serve]'" in err and "'starlette' is not installed" in err and "\n" not in err
