"""The framework of the training studies: a study that trains networks and checks claims about
the training (steps to a threshold, final accuracy, distinct units), beside the step-0 studies
of :mod:`initlab.studies.framework`. No I/O: the CLI loads the packaged configs and
:mod:`initlab.io.train_study_save` writes the results.

A :class:`TrainStudy` names its base setups (:class:`~initlab.studies.framework.Case`, each a
packaged ``initlab train`` config), its seeds and a ``run`` function. ``run(plan)`` trains what
the study needs, on the training floor (:mod:`initlab.runs.train`'s pieces and
:func:`initlab.training.loop.train`: the one engine every ``initlab train`` uses), and returns a
:class:`Trained` record: tables (one CSV each, rows per case, seed and setting) and, optionally,
full runs whose folders are written as ``initlab train`` writes them. The claims are the
framework's :class:`~initlab.studies.framework.Claim` s; their ``measure`` reads the
:class:`Trained` record (one value per seed, or one value per seed of a difference, a count...).

``plan.smoke`` asks for a reduced size (fewer steps, depths, settings) that exercises every code
path in a second or two: the tests run every study that way (the claims need not pass there).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from initlab.studies.framework import Case, Claim

#: How a stalled run's steps enter a ratio or a plot: it did not reach the threshold within the
#: budget, so its learning time is at least the budget (a lower bound, marked as such).
STALLED = "stalled"


@dataclass(frozen=True)
class Plan:
    """What ``run`` gets: ``configs[case key]`` (resolved :class:`~initlab.config.training.TrainConfig`),
    the ``seeds`` and ``smoke`` (reduced size for the tests)."""

    configs: dict
    seeds: tuple[int, ...]
    smoke: bool = False


@dataclass
class Trained:
    """What a training study measured: ``tables[name]`` rows (dicts) with ``columns[name]``
    their column order; ``runs``: ``(slug, label, TrainResult)`` whose folders are written in
    full under ``runs/<slug>/`` (as ``initlab train`` writes them); ``params``: the protocol's
    constants (budget, threshold...) that figures and the report need."""

    tables: dict[str, list[dict]] = field(default_factory=dict)
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    runs: list[tuple[str, str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, table: str, row: dict) -> None:
        self.tables.setdefault(table, []).append(row)
        if table not in self.columns:
            self.columns[table] = tuple(row)

    def rows(self, table: str, **where) -> list[dict]:
        return [r for r in self.tables.get(table, []) if all(r.get(k) == v for k, v in where.items())]

    def values(self, table: str, column: str, **where) -> list:
        """``column`` of the rows matching ``where``, in table order (the seed order)."""
        return [r.get(column) for r in self.rows(table, **where)]


@dataclass(frozen=True)
class TrainFigure:
    """A figure of a training study: ``kind`` names a function of
    :mod:`initlab.plots.study_figures` drawing from the folder's CSV files; ``options`` its
    keyword arguments (which table, which cases, the threshold's column...)."""

    file: str
    kind: str
    caption: str
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class TrainStudy:
    """A published claim about training: source, setup and notes (the report's text), the base
    setups (``cases``, packaged ``initlab train`` configs), seeds ``seed0 .. seed0 + seeds - 1``,
    ``run(plan) -> Trained``, the claims and the figures."""

    name: str
    title: str
    source: str
    setup: str
    notes: str
    cases: tuple[Case, ...]
    seeds: int
    run: Callable[[Plan], Trained]
    claims: tuple[Claim, ...]
    figures: tuple[TrainFigure, ...]
    seed0: int = 0
    kind: str = "train"
    grid: None = None  # as framework.Study: a training study is not a grid study
    large: None = None
    runner: None = None  # as framework.Study: the training studies of this module run through run

    @property
    def seed_list(self) -> tuple[int, ...]:
        return tuple(range(self.seed0, self.seed0 + self.seeds))

    def case(self, key: str) -> Case:
        return next(c for c in self.cases if c.key == key)


# --- training on the floor below ----------------------------------------------------------------

def with_sets(cfg, **changes):
    """``cfg`` with dotted changes (``{"network.depth": 30, "seed": 2}``), validated again."""
    from initlab.config import training

    d = training.to_dict(cfg)
    for dotted, value in changes.items():
        d = training.apply_set(d, dotted, value)
    return training.from_dict(d)


def fit(cfg, ds=None, *, stop: bool = True, stats: bool = False):
    """Train ``cfg`` (a :class:`~initlab.config.training.TrainConfig`) on ``ds`` (default: its
    own data draw) with :func:`initlab.training.loop.train`, stopping at the threshold when
    ``stop`` (``train.steps`` is then the budget), with the probe statistics when ``stats``
    (``distinct_units`` and the per-layer stds every ``stats_every`` steps). Returns the
    :class:`~initlab.training.loop.LoopResult`. The data set comes from ``cfg``'s data stream
    unless ``ds`` is given (a study may train every seed on one draw); weights, batches and
    dropout masks from ``cfg.seed``'s streams, as ``initlab train`` draws them."""
    from initlab.runs import train as T
    from initlab.training import loop as L

    ds = ds if ds is not None else T.load_data(cfg)
    model = T.build_model(cfg, ds)
    loss, y_tr, y_te = T.loss_and_targets(cfg, ds)
    settings = dataclasses.replace(T.settings_of(cfg, ds), stop_at_threshold=stop)
    if not stats:
        settings = dataclasses.replace(settings, stats_every=0)
    with T.blas_threads():
        return L.train(model, T.build_optimizer(cfg), T.build_schedule(cfg, settings.steps), loss,
                       ds.x_train, y_tr, ds.x_test, y_te, settings,
                       stats=T.probe_stats(cfg, model) if stats else None)


def learning_time(res, budget: int) -> tuple[int, bool]:
    """``(steps, reached)``: the steps to the threshold, or ``(budget, False)`` when the run
    stalled (never reached it within the budget) or diverged."""
    if res.steps_to_threshold is not None and not res.diverged:
        return int(res.steps_to_threshold), True
    return int(budget), False


def last_distinct(res, depth: int) -> list[int]:
    """``distinct_units`` of hidden layers 1..depth at the last statistics step."""
    rows = res.layers[-depth:]
    return [int(r["distinct_units"]) for r in rows]


def finite(v) -> float | None:
    return float(v) if v is not None and math.isfinite(float(v)) else None


def per_seed(trained: Trained, table: str, column: str, seeds_col: str = "seed",
             reduce: Callable[[list], float] = min, **where) -> list[float | None]:
    """One value per seed: ``reduce`` over the rows of each seed matching ``where``."""
    seeds = sorted({r[seeds_col] for r in trained.rows(table, **where)})
    out = []
    for s in seeds:
        v = [r.get(column) for r in trained.rows(table, **where) if r[seeds_col] == s]
        out.append(None if not v or any(x is None for x in v) else float(reduce(v)))
    return out


def ratio_per_seed(trained: Trained, table: str, column: str, num: dict, den: dict,
                   reduce: Callable[[list], float] = min, by: str = "depth") -> list[float | None]:
    """Per seed, ``reduce`` over the values of ``by`` of ``num``'s ``column`` / ``den``'s."""
    out = []
    seeds = sorted({r["seed"] for r in trained.rows(table, **num)})
    for s in seeds:
        a = {r[by]: r[column] for r in trained.rows(table, seed=s, **num)}
        b = {r[by]: r[column] for r in trained.rows(table, seed=s, **den)}
        vals = [a[k] / b[k] for k in a if k in b and b[k]]
        out.append(float(reduce(vals)) if vals else None)
    return out


def gmean(values) -> float:
    v = [x for x in values if x is not None and x > 0]
    return float(np.exp(np.mean(np.log(v)))) if v else math.nan
