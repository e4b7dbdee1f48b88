"""The training view's job: two or three initializers trained side by side, streamed as frames.

No web library here. :func:`train_configs` reads the page's settings as ``initlab train
--set`` reads them (:func:`initlab.config.training.resolve`, the same validation and messages),
one config per initializer compared, exactly as ``initlab compare INIT... --train`` builds them.
:func:`train_job` then runs what :func:`initlab.runs.train.run` runs, piece by piece from
:mod:`initlab.runs.train` (data from the config's data stream, the model drawn from the run's
weight streams, the optimizer, the schedule, the loop of :mod:`initlab.training.loop`), so the
numbers are those of ``initlab train`` on the downloaded YAML. It only adds what the loop's
callbacks let a viewer see: every few hundred milliseconds a frame with the new evaluation rows,
the latest per-layer statistics and histograms, and (2-D data) the decision boundary on a coarse
grid. The boundary reads the model in eval mode and draws no random numbers, so watching does not
change what is learned.

The runs share the data set and run in threads of their own (numpy releases the GIL in its
products); the token of the job stops or pauses all of them at their next step.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from initlab.errors import ConfigError
from initlab.serve import limits
from initlab.serve.compute import Cancelled, Token, finite, parse_sets

FRAME_SECONDS = 0.2    # at most one frame per run this often (and one at the end)
LIVE_GRID = 60         # the decision boundary's grid while training (G x G points)
#: what the page's training view starts from: the deeplearning.ai "Initialization" notebook
#: (configs/train/circles.yaml): circles, a 2-10-5-1 ReLU net, bce, full-batch SGD at lr 0.01,
#: 15000 steps; zeros, N(0, 10^2) and He compared
DEFAULT_TRAIN = {
    "seed": "1", "data.name": "circles", "data.n_train": "300", "data.n_test": "100", "data.noise": "0.05",
    "data.standardize": "false", "network.depth": "2", "network.width": "[10, 5]",
    "network.activation": "relu", "train.optimizer.name": "sgd", "train.optimizer.lr": "0.01",
    "train.loss": "bce", "train.steps": "15000", "train.batch": "full", "train.eval_every": "100",
    "train.stats_every": "500",
}
DEFAULT_RUNS = ("zeros", "normal:std=10", "he")


def train_configs(settings: Mapping[str, Any], inits: Sequence[str]) -> list:
    """One validated :class:`TrainConfig` per initializer in ``inits`` (spec text,
    ``normal:std=0.01``), the rest from ``settings``. An initializer's error is placed at
    ``runs.<i>`` (the page's i-th initializer control)."""
    from initlab.config import training
    from initlab.config.scalars import parse_set

    if not isinstance(inits, (list, tuple)) or not inits or not all(isinstance(s, str) for s in inits):
        raise ConfigError("runs", "give one to three initializers, e.g. he, normal:std=0.01")
    if len(inits) > limits.MAX_TRAIN_RUNS:
        raise ConfigError("runs", f"at most {limits.MAX_TRAIN_RUNS} initializers side by side "
                                  f"(MAX_TRAIN_RUNS), got {len(inits)}")
    sets = parse_sets(settings)
    cfgs = []
    for i, text in enumerate(inits):
        try:
            init = parse_set(f"network.initializer={text.strip()}")
            cfg, _ = training.resolve({"name": "playground"}, sets=sets + [init])
        except ConfigError as e:
            if e.field and (e.field.startswith("network.initializer") or e.field.startswith("initializer")):
                raise ConfigError(f"runs.{i}", e.detail.removeprefix("(from the command line) ")) from None
            raise
        label = cfg.network.initializer.label()
        if label in [c.network.initializer.label() for c in cfgs]:
            raise ConfigError(f"runs.{i}", f"initializer {label} is given twice; give each once")
        slug = "".join(ch if ch.isalnum() or ch in "._" else "-" for ch in label).strip("-")
        cfgs.append(training.resolve({**training.to_dict(cfg), "name": f"playground-{slug}"})[0])
        limits.check_train_config(cfgs[-1])
    return cfgs


class _KeepObserver:
    """The loop's statistics factory, remembering the last observer it made (its histograms)."""

    def __init__(self, factory):
        self.factory, self.last = factory, None

    def __call__(self):
        self.last = self.factory()
        return self.last


class _Stream:
    """The loop's callbacks for one run: checks the token each step, sends frames."""

    def __init__(self, index: int, model, ds, loss_name: str, keep: _KeepObserver, token: Token,
                 emit: Callable[[dict], None]):
        self.index, self.model, self.ds, self.loss_name = index, model, ds, loss_name
        self.keep, self.token, self.emit = keep, token, emit
        self.rows: list[dict] = []
        self.sent = 0
        self.layers: list[dict] | None = None
        self.hist: list | None = None
        self.last = 0.0
        self.done = 0

    def batch(self, step, indices):
        pass

    def step(self, done, loss, acc):
        self.done = done
        self.token.check()
        if time.perf_counter() - self.last >= FRAME_SECONDS:
            self.frame()

    def evaluated(self, row):
        self.rows.append(row)

    def stats(self, step, rows):
        self.layers = rows
        obs = self.keep.last
        if obs is not None and obs.act_hist:
            self.hist = [[round(float(c) / max(h.total, 1), 5) for c in h.counts] for h in obs.act_hist]
            self.hist_range = (float(obs.act_hist[0].edges[0]), float(obs.act_hist[0].edges[-1]))

    def frame(self, final: dict | None = None) -> None:
        from initlab.runs import train as R

        self.last = time.perf_counter()
        msg: dict = {"type": "frame", "run": self.index, "done": self.done,
                     "history": [{k: finite(v) for k, v in r.items()} for r in self.rows[self.sent:]]}
        self.sent = len(self.rows)
        if self.layers is not None:
            keys = ("layer", "act_std", "act_saturated", "act_zero", "grad_preact_std", "update_ratio",
                    "weight_std", "distinct_units")
            msg["layers"] = [{k: finite(r.get(k)) for k in keys} for r in self.layers]
            msg["hist"] = {"lo": self.hist_range[0], "hi": self.hist_range[1], "fraction": self.hist} \
                if self.hist else None
            self.layers = None
        if self.ds.plot_2d:
            b = R.decision_boundary(self.model, self.ds, self.loss_name, grid=LIVE_GRID)
            msg["boundary"] = {"x": np.round(b["xx"][0], 4).tolist(), "y": np.round(b["yy"][:, 0], 4).tolist(),
                               "prob": np.round(np.nan_to_num(b["prob"], nan=0.5), 3).tolist(),
                               "pred": b["pred"].tolist() if self.ds.n_classes > 2 else None}
        if final is not None:
            msg["final"] = final
        self.emit(msg)


def _run_one(index: int, cfg, ds, token: Token, emit) -> dict:
    """:func:`initlab.runs.train.run`'s steps for one config, with a streaming viewer."""
    from initlab.runs import train as R
    from initlab.training import loop as L

    model = R.build_model(cfg, ds)
    loss, y_tr, y_te = R.loss_and_targets(cfg, ds)
    settings = R.settings_of(cfg, ds)
    keep = _KeepObserver(R.probe_stats(cfg, model))
    cb = _Stream(index, model, ds, cfg.train.loss, keep, token, emit)
    res = L.train(model, R.build_optimizer(cfg), R.build_schedule(cfg, settings.steps), loss, ds.x_train, y_tr,
                  ds.x_test, y_te, settings, stats=keep, callbacks=cb)
    last = res.final
    final = {k: finite(last.get(k)) for k in ("step", "train_loss", "train_acc", "test_loss", "test_acc")}
    final.update(diverged=res.diverged, diverged_at=res.diverged_at, steps_to_threshold=res.steps_to_threshold)
    cb.frame(final=final)
    return final


def merge_frames(messages: list[dict]) -> list[dict]:
    """``messages`` with each stretch of consecutive frames merged per (request, run): the
    evaluation rows concatenated, the latest layers, histograms, boundary and final kept. What a
    page that fell behind needs is the latest state plus every evaluation row, not every frame."""
    out: list[dict] = []
    stretch: dict[tuple, dict] = {}
    for m in messages:
        if m.get("type") != "frame":
            out.extend(stretch.values())
            stretch = {}
            out.append(m)
            continue
        key = (m.get("id"), m["run"])
        if key not in stretch:
            stretch[key] = {**m, "history": list(m["history"])}
        else:
            merged = stretch[key]
            history = merged["history"] + m["history"]
            merged.update({k: v for k, v in m.items() if v is not None})
            merged["history"] = history
    out.extend(stretch.values())
    return out


def _points(ds) -> dict | None:
    if not ds.plot_2d:
        return None
    raw = lambda x: (np.asarray(x, np.float64) * ds.x_scale + ds.x_mean).round(4).tolist()  # noqa: E731
    return {"x_train": raw(ds.x_train), "y_train": np.asarray(ds.y_train).tolist(),
            "x_test": raw(ds.x_test), "y_test": np.asarray(ds.y_test).tolist()}


def train_job(settings: Mapping[str, Any], inits: Sequence[str], token: Token,
              emit: Callable[[dict], None]) -> list[dict]:
    """Validate, load the data once, then train every initializer side by side, emitting a
    ``train_start`` message, frames, and returning the final metrics per run. Raises
    :class:`ConfigError` (a bad or too-large setting) or :class:`Cancelled`."""
    from initlab.config.scalars import spec_text
    from initlab.io.train_save import config_yaml
    from initlab.runs import train as R

    cfgs = train_configs(settings, inits)
    ds = R.load_data(cfgs[0])  # one data set for all: the data stream ignores the initializer
    first = R.settings_of(cfgs[0], ds)
    limits.check_train_work(first.steps, first.batch or ds.n_train, R.widths_of(cfgs[0], ds), len(cfgs))
    token.check()
    specs = [spec_text(c.network.initializer) for c in cfgs]
    emit({"type": "train_start", "steps": first.steps, "plot_2d": bool(ds.plot_2d),
          "dataset": R.dataset_summary(ds), "points": _points(ds),
          "runs": [{"label": c.network.initializer.label(), "spec": s, "name": c.name, "yaml": config_yaml(c)}
                   for c, s in zip(cfgs, specs)]})
    finals: list = [None] * len(cfgs)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                finals[i] = _run_one(i, cfgs[i], ds, token, emit)
        except BaseException as e:  # noqa: BLE001 - handed to the job's thread below
            errors.append(e)
            token.cancel()

    with R.blas_threads():
        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(cfgs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    real = [e for e in errors if not isinstance(e, Cancelled)]
    if real:
        raise real[0]
    if errors or token.cancelled:
        raise Cancelled()
    return finals
