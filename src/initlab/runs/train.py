"""TrainConfig -> TrainResult: data, model, optimizer, schedule, the loop. No I/O.

Randomness (:mod:`initlab.engine.parameters`): the data set is drawn from the ``(4,)`` stream
of ``config.seed``, the weights from the per-layer weight and bias streams exactly as
``initlab run`` draws them (the readout is layer L + 1's weight stream), the batches, dropout
masks and probe batch from their own streams (:mod:`initlab.training.loop`). So two configs that
differ only in the initializer see the same data, split, batches and probe batch.

Threads: the loop's matrix products are small (a minibatch times a layer), and OpenBLAS's second
thread costs far more than it gains there when the cores are shared (measured on this 2-core
machine under load: a Fashion-MNIST step 9x slower in CPU time with 2 BLAS threads than with 1,
mnist1d 10x); :func:`run` limits BLAS to :data:`BLAS_THREADS` thread(s) while it trains
(threadpoolctl, scikit-learn's dependency), unless ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``
or ``MKL_NUM_THREADS`` is set: then the user's choice stands. The statistics kernel's own two
threads are not affected.

Network: ``n_0 = input_dim``, the hidden widths, then a linear readout to ``n_classes`` logits
(``softmax_ce``; ``mse`` on a classification set: one-hot targets), one logit (``bce``), or the
target width (regression).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from initlab import data as datasets
from initlab.config import Spec
from initlab.config.training import TrainConfig, components_of
from initlab.engine.parameters import DATA, DrawnParameters, StoredParameters, stream
from initlab.errors import ConfigError
from initlab.runs.experiment import StatsObserver, _placed
from initlab.training import loop as L
from initlab.training import losses, optimizers, schedules
from initlab.training.model import Model

BLAS_THREADS = 1  # while training (see the module docstring)
BOUNDARY_GRID = 200  # G: the decision-boundary grid is G x G points
BOUNDARY_MARGIN = 0.5  # the grid spans the data (raw coordinates) +- this


@dataclass(frozen=True)
class ProbeStats:
    """Makes the observer of a statistics step: ``initlab run``'s, forward and backward, on the
    network's hidden widths. A record, so a run's settings pickle."""

    widths: tuple[int, ...]
    activation: object
    hist_range: tuple[float, float]
    bins: int
    histograms: bool

    def __call__(self) -> StatsObserver:
        return StatsObserver.for_widths(self.widths, self.activation, backward=True,
                                        hist_range=self.hist_range, bins=self.bins,
                                        histograms=self.histograms)


@dataclass
class TrainResult:
    """Everything a training run produced; picklable.

    ``loop`` holds the history, layer rows and histograms (:class:`initlab.training.loop.LoopResult`);
    ``initial`` and ``final`` the parameter arrays (``W1``, ``b1``, ... as
    :meth:`StoredParameters.state`; ``initial`` only when asked for); ``boundary`` the
    decision-boundary arrays for 2-D data sets (see :func:`decision_boundary`)."""

    config: TrainConfig
    dataset: dict
    activation: str
    initializer: str
    widths: tuple[int, ...]
    loop: L.LoopResult
    elapsed: float
    final: dict[str, np.ndarray] = field(repr=False)
    initial: dict[str, np.ndarray] | None = field(default=None, repr=False)
    boundary: dict[str, np.ndarray] | None = field(default=None, repr=False)
    # what a data-dependent initialization did before training (initlab.datainit): its kind, label,
    # per-layer rows (LSUV, transfer) and the pretraining history; None for an ordinary init
    datainit: dict | None = None

    @property
    def seconds_per_step(self) -> float | None:
        return self.elapsed / self.loop.steps_done if self.loop.steps_done else None

    def final_metrics(self) -> dict:
        """The last evaluation, the divergence mark and the steps to the threshold."""
        last = self.loop.final
        th = self.loop.threshold
        return {"step": last["step"], "train_loss": last["train_loss"], "train_acc": last["train_acc"],
                "test_loss": last["test_loss"], "test_acc": last["test_acc"],
                "diverged": self.loop.diverged, "diverged_at": self.loop.diverged_at,
                "steps_to_threshold": self.loop.steps_to_threshold,
                "threshold": None if th is None else f"{th.metric} {'>=' if th.metric.endswith('acc') else '<='} "
                                                     f"{th.value:g}"}


# --- pieces ------------------------------------------------------------------------------------

def load_data(cfg: TrainConfig) -> datasets.Dataset:
    """The data set of ``cfg`` from the data stream; data-dependent limits checked."""
    d = cfg.data
    ds = datasets.load(d.name, stream(cfg.seed, DATA), n_train=d.n_train, n_test=d.n_test,
                       standardize=d.standardize, dtype=cfg.dtype, **d.kwargs)
    t = cfg.train
    if t.batch is not None and t.batch > ds.n_train:
        raise ConfigError("train.batch", f"must be at most the training set's {ds.n_train} rows, "
                                         f"got {t.batch}; or full")
    if t.loss == "bce" and ds.task == datasets.CLASSIFICATION and ds.n_classes > 2:
        raise ConfigError("train.loss", f"bce has one sigmoid output for two classes, data set "
                                        f"'{ds.name}' has {ds.n_classes}; valid: softmax_ce, mse")
    return ds


def output_units(cfg: TrainConfig, ds: datasets.Dataset) -> int:
    return 1 if cfg.train.loss == "bce" else ds.output_dim


def widths_of(cfg: TrainConfig, ds: datasets.Dataset) -> tuple[int, ...]:
    """``(input_dim, hidden..., outputs)``."""
    return (ds.input_dim,) + cfg.network.widths + (output_units(cfg, ds),)


def drawn_parameters(cfg: TrainConfig, ds: datasets.Dataset, seed: int | None = None) -> DrawnParameters:
    """The weights as ``initlab run`` draws them, from the streams of ``seed`` (default the
    config's); a data-dependent initializer's ``base`` (:mod:`initlab.config.datainit`)."""
    _, w_init, b_init = components_of(cfg)
    return DrawnParameters(widths=widths_of(cfg, ds), weight_init=_placed(w_init, "network.initializer"),
                           bias_init=_placed(b_init, "network.bias"),
                           seed=cfg.seed if seed is None else seed, dtype=np.dtype(cfg.dtype))


def build_model(cfg: TrainConfig, ds: datasets.Dataset, params: StoredParameters | None = None) -> Model:
    """The network with its weights drawn from the run's streams (as ``initlab run`` draws them),
    or ``params`` (prepared by :mod:`initlab.datainit`: LSUV, transfer, pretraining, masks)."""
    from initlab.config.datainit import is_data_init

    if params is None:
        if is_data_init(cfg.network.initializer) or cfg.pretrain.method != "none":
            raise ConfigError("network.initializer" if is_data_init(cfg.network.initializer) else "pretrain",
                              "a data-dependent initialization is resolved by initlab.datainit "
                              "(initlab train, initlab ticket), not by runs.train")
        params = StoredParameters.draw(drawn_parameters(cfg, ds))
    act = components_of(cfg)[0]
    return Model(params, act, norm=cfg.network.norm, dropout=cfg.network.dropout)


def onehot_accuracy(logits, onehot) -> float:
    """Fraction of rows whose largest output is at the one-hot target's class."""
    return float(np.mean(np.argmax(logits, axis=1) == np.argmax(onehot, axis=1)))


def loss_and_targets(cfg: TrainConfig, ds: datasets.Dataset):
    """``(loss, y_train, y_test)``: ``mse`` on a classification set trains on one-hot targets
    (accuracy: the largest output)."""
    loss = losses.get(cfg.train.loss)
    y_tr, y_te = ds.y_train, ds.y_test
    if cfg.train.loss == "mse" and ds.task == datasets.CLASSIFICATION:
        eye = np.eye(ds.n_classes, dtype=cfg.dtype)
        y_tr, y_te = eye[y_tr], eye[y_te]
        loss = replace(loss, accuracy=onehot_accuracy)
    return loss, y_tr, y_te


def build_optimizer(cfg: TrainConfig):
    o = cfg.train.optimizer
    return optimizers.get(o.name, lr=o.lr, **o.kwargs)


def build_schedule(cfg: TrainConfig, steps: int | None = None):
    """The learning-rate schedule; a cosine without ``total_steps`` anneals over ``steps``."""
    s = cfg.train.lr_schedule
    kw = s.kwargs
    if s.name == "cosine" and "total_steps" not in kw:
        kw["total_steps"] = steps if steps is not None else cfg.train.steps
    return schedules.get(s.name, cfg.train.optimizer.lr, **kw)


def settings_of(cfg: TrainConfig, ds: datasets.Dataset) -> L.Settings:
    t = cfg.train
    batch = None if t.batch is None or t.batch >= ds.n_train else t.batch
    steps = t.steps
    if t.epochs is not None:
        steps = t.epochs * (1 if batch is None else ds.n_train // batch)
    clip = None if t.clip.kind == "none" else (t.clip.kind, t.clip.value)
    return L.Settings(steps=steps, batch=batch, eval_every=t.eval_every, stats_every=t.stats_every,
                      clip=clip, seed=cfg.seed, probe_size=t.probe,
                      threshold=L.Threshold(t.threshold.metric, t.threshold.value))


def probe_stats(cfg: TrainConfig, model: Model) -> ProbeStats:
    act = model.act
    return ProbeStats(model.params.widths[:-1], act, cfg.stats.range or act.hist_range, cfg.stats.bins,
                      cfg.stats.histograms)


def _logits_in_chunks(model: Model, x: np.ndarray, chunk: int = 8192) -> np.ndarray:
    return np.concatenate([model.logits(x[i:i + chunk]) for i in range(0, x.shape[0], chunk)])


def decision_boundary(model: Model, ds: datasets.Dataset, loss_name: str, grid: int = BOUNDARY_GRID) -> dict:
    """Arrays for the decision-boundary figure of a 2-D data set, in RAW input coordinates.

    ``xx``, ``yy``: ``(G, G)`` grids spanning both splits' raw range +- 0.5 (``np.meshgrid``,
    ``xx[i, j]`` varies with j); ``prob``: P(class 1) for a binary problem (sigmoid of the bce
    logit, or the softmax's class-1 probability), else the largest class probability (softmax
    of the outputs; for ``mse`` the softmax of the raw outputs); ``pred``: the predicted class
    index; ``x_train``, ``y_train``, ``x_test``, ``y_test``: the data in raw coordinates."""
    raw_tr = np.asarray(ds.x_train, np.float64) * ds.x_scale + ds.x_mean
    raw_te = np.asarray(ds.x_test, np.float64) * ds.x_scale + ds.x_mean
    both = np.concatenate([raw_tr, raw_te])
    lo, hi = both.min(axis=0) - BOUNDARY_MARGIN, both.max(axis=0) + BOUNDARY_MARGIN
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], grid), np.linspace(lo[1], hi[1], grid))
    pts = np.column_stack([xx.ravel(), yy.ravel()])
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        logits = _logits_in_chunks(model, ds.transform_inputs(pts)).astype(np.float64)
        if loss_name == "bce":
            p1 = losses.sigmoid(logits[:, 0])
            prob, pred = p1, (logits[:, 0] > 0).astype(np.int64)
        else:
            p = np.exp(losses.log_softmax(logits))
            pred = np.argmax(logits, axis=1).astype(np.int64)
            prob = p[:, 1] if p.shape[1] == 2 else p.max(axis=1)
    return {"xx": xx, "yy": yy, "prob": prob.reshape(grid, grid), "pred": pred.reshape(grid, grid),
            "x_train": raw_tr, "y_train": np.asarray(ds.y_train), "x_test": raw_te,
            "y_test": np.asarray(ds.y_test)}


def dataset_summary(ds: datasets.Dataset) -> dict:
    return {"name": ds.name, "task": ds.task, "n_train": ds.n_train, "n_test": ds.n_test,
            "n_classes": ds.n_classes, "input_dim": ds.input_dim, "params": dict(ds.params)}


# --- the run -----------------------------------------------------------------------------------

def blas_threads():
    """A context limiting BLAS to :data:`BLAS_THREADS` thread(s), unless the environment chose."""
    import contextlib
    import os

    if any(os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return contextlib.nullcontext()
    return threadpool_limits(limits=BLAS_THREADS, user_api="blas")


def run(cfg: TrainConfig, *, save_weights: bool = False, callbacks: L.Callbacks = L.Callbacks(),
        ds: datasets.Dataset | None = None, params: StoredParameters | None = None,
        datainit: dict | None = None, label: str | None = None) -> TrainResult:
    """Train ``cfg`` and return what was measured (``ds``: an already loaded data set of ``cfg``,
    e.g. shared by a comparison; ``params``: the starting parameters, trained in place, with
    ``datainit`` the record of how they were made and ``label`` the initializer's name)."""
    ds = ds if ds is not None else load_data(cfg)
    model = build_model(cfg, ds, params)
    initial = {k: v.copy() for k, v in model.params.state().items()} if save_weights else None
    loss, y_tr, y_te = loss_and_targets(cfg, ds)
    settings = settings_of(cfg, ds)
    with blas_threads():
        t0 = time.perf_counter()
        res = L.train(model, build_optimizer(cfg), build_schedule(cfg, settings.steps), loss, ds.x_train, y_tr,
                      ds.x_test, y_te, settings, stats=probe_stats(cfg, model), callbacks=callbacks)
        elapsed = time.perf_counter() - t0
        boundary = decision_boundary(model, ds, cfg.train.loss) if ds.plot_2d else None
    act, w_init, _ = components_of(cfg)
    return TrainResult(config=cfg, dataset=dataset_summary(ds), activation=act.label(),
                       initializer=label or w_init.label(), widths=model.params.widths, loop=res, elapsed=elapsed,
                       final={k: v.copy() for k, v in model.params.state().items()}, initial=initial,
                       boundary=boundary, datainit=datainit)


def with_initializer(cfg: TrainConfig, init: Spec, activation: Spec | None = None,
                     name: str | None = None) -> TrainConfig:
    """``cfg`` with another initializer (and activation); validated again."""
    from initlab.config.training import from_dict, to_dict

    d = to_dict(cfg)
    d["network"]["initializer"] = init.to_yaml()
    if activation is not None:
        d["network"]["activation"] = activation.to_yaml()
    if name is not None:
        d["name"] = name
    return from_dict(d)


def total_steps(cfg: TrainConfig, ds: datasets.Dataset) -> int:
    return settings_of(cfg, ds).steps

