"""The reproduce framework: study records, what a claim sees, the mean-field predictions and
the evaluation of claims. No I/O (the CLI reads the packaged configs and writes the results).

A :class:`Study` names its cases (a packaged config file plus overrides), the seeds, the figures
to draw and its :class:`Claim` s. A claim is one number: the source's statement, a reference
value (the published number where there is one, else a closed-form or mean-field prediction
derived in the study's notes), the measured value (aggregated over the seeds), a tolerance with
its justification, and pass/fail. The studies themselves, one module per source, are listed in
:mod:`initlab.studies`.

The mean-field predictions (:func:`mean_field`) are the standard signal-propagation recursions
for a fully connected net with zero-mean iid weights and zero bias (Poole et al. 2016;
Glorot & Bengio 2010 eqs. 5-6 and He et al. 2015 eqs. 7 and 14 are their linear and ReLU
special cases): with ``q_l`` the variance of the pre-activation ``z_l`` (over units and
examples) and ``m2_{l-1} = E[h_{l-1}^2]`` (second moment, *not* variance: a non-zero activation
mean, as sigmoid's 0.5, feeds the next layer too),

    q_l = n_{l-1} Var[W_l] m2_{l-1},   h_l = phi(sqrt(q_l) u), u ~ N(0, 1),
    Var[dL/dh_{l-1}] = n_l Var[W_l] E[phi'(sqrt(q_l) u)^2] Var[dL/dh_l],

the expectations over u evaluated by the exact quadrature of :mod:`initlab.theory` (the same
predictions :mod:`initlab.runs.predictions` puts beside every run).
The backward recursion assumes the gradient is independent of the forward pre-activations
(the usual mean-field "gradient independence" assumption).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from initlab.config import Config, components, with_changes
from initlab.runs import predictions

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable


# --- checks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """How a measured value is compared with the reference.

    ``rel``: |m / r - 1| <= tol; ``abs``: |m - r| <= tol; ``factor``: max(m / r, r / m) <= tol
    (a log-scale tolerance, for quantities spanning decades); ``at_least``/``at_most``:
    m >= r - tol / m <= r + tol.
    """

    kind: str
    tol: float

    def passes(self, m: float | None, r: float) -> bool:
        if m is None or not math.isfinite(m):
            return False
        if self.kind == "rel":
            return abs(m / r - 1.0) <= self.tol
        if self.kind == "abs":
            return abs(m - r) <= self.tol
        if self.kind == "factor":
            return m > 0 and r > 0 and max(m / r, r / m) <= self.tol
        if self.kind == "at_least":
            return m >= r - self.tol
        if self.kind == "at_most":
            return m <= r + self.tol
        raise ValueError(self.kind)

    def describe(self) -> str:
        if self.kind == "rel":
            return f"±{100 * self.tol:g}%"
        if self.kind == "abs":
            return f"±{self.tol:g}"
        if self.kind == "factor":
            return f"within x{self.tol:g}"
        if self.kind == "at_least":
            return ">= reference" + (f" - {self.tol:g}" if self.tol else "")
        return "<= reference" + (f" + {self.tol:g}" if self.tol else "")


# --- what a claim sees -----------------------------------------------------------------------------

class Measured:
    """The runs of one study: ``series[case]`` is a :class:`initlab.runs.compare.Series` (one run per
    seed). Claim functions read it through the helpers below; every helper returns one value
    per seed."""

    def __init__(self, series: dict, configs: dict[str, Config]):
        self.series = series
        self.configs = configs
        self._mf: dict[str, list[dict]] = {}

    def runs(self, case: str):
        return self.series[case].runs

    def at(self, case: str, column: str, layer: int) -> list[float | None]:
        return [r.rows[layer].get(column) for r in self.runs(case)]

    def ratio(self, case: str, column: str, num: int, den: int) -> list[float | None]:
        return [div(r.rows[num].get(column), r.rows[den].get(column)) for r in self.runs(case)]

    def per_layer(self, case: str, column: str, start: int, end: int) -> list[float | None]:
        """The geometric-mean factor per layer from ``start`` to ``end``:
        (v_end / v_start) ** (1 / (end - start)); end < start reads a backward ratio."""
        k = abs(end - start)
        return [None if x is None or x <= 0 else x ** (1.0 / k) for x in self.ratio(case, column, end, start)]

    def spread(self, case: str, column: str, start: int, end: int) -> list[float | None]:
        """max / min of ``column`` over layers start..end, per seed."""
        out = []
        for r in self.runs(case):
            v = [r.rows[l].get(column) for l in range(start, end + 1)]
            out.append(None if any(x is None or not x > 0 for x in v) else max(v) / min(v))
        return out

    def mean_over_layers(self, case: str, column: str, start: int, end: int) -> list[float | None]:
        out = []
        for r in self.runs(case):
            v = [r.rows[l].get(column) for l in range(start, end + 1)]
            out.append(None if any(x is None for x in v) else sum(v) / len(v))
        return out

    def hist_fraction(self, case: str, layer: int, lo: float, hi: float) -> list[float]:
        """Fraction of activations of ``layer`` in [lo, hi), from the fixed-edge histogram
        (lo, hi must fall on bin edges)."""
        out = []
        for r in self.runs(case):
            h = r.act_hist[layer - 1]
            edges = np.asarray(h.edges)
            i, j = int(np.argmin(abs(edges - lo))), int(np.argmin(abs(edges - hi)))
            if not (math.isclose(edges[i], lo, abs_tol=1e-12) and math.isclose(edges[j], hi, abs_tol=1e-12)):
                raise ValueError(f"[{lo}, {hi}) is not on the histogram's edges")
            out.append(float(h.counts[i:j].sum()) / h.total)
        return out

    def mf(self, case: str) -> list[dict]:
        if case not in self._mf:
            self._mf[case] = mean_field(self.configs[case])
        return self._mf[case]


def div(a, b):
    """a / b, or ``None`` when either is missing or non-finite or b is 0."""
    if a is None or b is None or b == 0 or not (math.isfinite(a) and math.isfinite(b)):
        return None
    return a / b


# --- mean field ------------------------------------------------------------------------------------

def mean_field(cfg: Config) -> list[dict]:
    """Mean-field predictions per layer 0..L, read from :func:`initlab.runs.predictions.predict`
    (the length map of :func:`initlab.theory.predict_layers`, exact Gaussian integrals) with a
    unit top gradient: ``q`` (pre-activation variance), ``mean``/``std``/``m2`` of the
    activation, ``sat`` (the saturated fraction of bounded activations), ``chi`` (the per-layer
    gradient factor fan_out Var[W] E[phi'^2]) and ``grad_std`` relative to the top gradient.
    Raises ``ValueError`` where no prediction applies (the studies only use ones that do)."""
    cfg = with_changes(cfg, backward={"enabled": True, "loss": "random"})
    pred = predictions.predict(cfg, components.activation(cfg), components.weight_initializer(cfg),
                               components.bias_initializer(cfg), 1.0)
    if not pred.applies:
        raise ValueError(pred.reason)
    i = cfg.input
    m2_in = predictions.input_second_moment(cfg)
    mean_in = i.mean if i.low is None else 0.5 * (i.low + i.high)
    rows = [{"layer": 0, "q": None, "mean": mean_in, "std": math.sqrt(m2_in - mean_in**2), "m2": m2_in,
             "chi": None, "sat": None, "grad_std": pred.rows[0]["predicted_grad_act_std"]}]
    for l, r in enumerate(pred.rows[1:], start=1):
        mean, std = r["predicted_act_mean"], r["predicted_act_std"]
        rows.append({"layer": l, "q": r["predicted_preact_std"] ** 2, "mean": mean, "std": std,
                     "m2": mean * mean + std * std, "chi": r["chi"], "sat": r["predicted_act_saturated"],
                     "grad_std": r["predicted_grad_act_std"]})
    return rows


def mf_per_layer(rows: list[dict], key: str, start: int, end: int) -> float:
    """Geometric-mean factor per layer of a mean-field quantity from ``start`` to ``end``."""
    return (rows[end][key] / rows[start][key]) ** (1.0 / abs(end - start))


def mf_value(case: str, layer: int, key: str) -> Callable[[Measured], float]:
    """A reference: the mean-field ``key`` of ``case`` at ``layer``."""
    return lambda m: m.mf(case)[layer][key]


def mf_factor(case: str, key: str, start: int, end: int) -> Callable[[Measured], float]:
    """A reference: the mean-field geometric-mean factor per layer from ``start`` to ``end``."""
    return lambda m: mf_per_layer(m.mf(case), key, start, end)


def mf_ratio(case: str, key: str, num: int, den: int) -> Callable[[Measured], float]:
    """A reference: the mean-field ``key`` at layer ``num`` over layer ``den``."""
    return lambda m: m.mf(case)[num][key] / m.mf(case)[den][key]


def mf_mean(case: str, key: str, start: int, end: int) -> Callable[[Measured], float]:
    """A reference: the mean-field ``key`` averaged over layers ``start``..``end``."""
    return lambda m: sum(m.mf(case)[l][key] for l in range(start, end + 1)) / (end - start + 1)


# --- study records ---------------------------------------------------------------------------------

Reference = float | Callable[[Measured], float]


@dataclass(frozen=True)
class Claim:
    """One checkable number. ``measure`` gives one value per seed; ``aggregate`` combines
    them (``gmean`` for positive ratios and stds, ``mean`` for fractions and means)."""

    id: str
    case: str
    statement: str  # what the source says (or what the derivation predicts)
    reference: Reference
    reference_source: str  # "published (slide)", "closed form: sqrt(500) 0.01", "mean field", ...
    measure: Callable[[Measured], list[float | None]]
    quantity: str  # what is measured, in words
    check: Check
    why_tolerance: str
    aggregate: str = "gmean"


#: Where the study configs live: this folder of the installed package (package data, see
#: pyproject.toml), whatever the current folder.
CONFIG_DIR = "initlab/studies/configs"


def packaged(file: str) -> str:
    """The :attr:`Case.config` of a study config shipped in :data:`CONFIG_DIR`."""
    return f"{CONFIG_DIR}/{file}"


def config_resource(config: str) -> "Traversable":
    """The packaged file behind a :func:`packaged` path (open it with
    ``importlib.resources.as_file``); the file need not exist yet."""
    package, _, file = config.rpartition("/")
    if package != CONFIG_DIR or not file:
        raise ValueError(f"{config!r} is not under {CONFIG_DIR}/ (build it with packaged())")
    return resources.files("initlab.studies").joinpath("configs", file)


@dataclass(frozen=True)
class Case:
    """One setup of a study: ``config`` is :func:`packaged` (``initlab/studies/configs/...``), so
    a study runs the same wherever initlab is installed; ``sets`` are ``--set`` overrides on top.
    ``example``: the top-level example config (``configs/...``) this packaged copy must equal
    byte for byte, where the study runs the same experiment as an example (tested)."""

    key: str
    label: str
    config: str
    sets: tuple[tuple[str, Any], ...] = ()
    example: str | None = None
    kind: str = "run"  # "train": a training config (initlab train), read by a study's own runner


@dataclass(frozen=True)
class Figure:
    file: str
    kind: str  # std | act_hist | grad_hist | ratio
    cases: tuple[str, ...]
    caption: str
    panels: tuple[str, ...] = ()  # std: the columns, one panel each
    theory: bool = False  # ratio: draw the closed-form lines


@dataclass(frozen=True)
class Study:
    """A published study: its source, setup and notes (the report's text), the cases run over
    seeds ``0 .. seeds - 1``, the claims checked and the figures drawn. ``name`` is its key in
    :data:`initlab.studies.STUDIES` and its results folder."""

    name: str
    title: str
    source: str
    setup: str
    notes: str  # the derivations behind the references, markdown
    cases: tuple[Case, ...]
    seeds: int
    claims: tuple[Claim, ...]
    figures: tuple[Figure, ...]
    tables: tuple[str, ...] = field(default=())
    # a grid study (:mod:`initlab.studies.grids`): the training grid its claims read, and a
    # larger one run with ``initlab reproduce --large``; ``cases`` is then empty
    grid: Any = None
    large: Any = None
    # A study that is not a step-0 comparison (training, pretraining, pruning): ``runner(configs,
    # seeds)`` gets the cases' loaded configs by key and the seed list and returns an
    # :class:`Outcome`, which the claims read instead of :class:`Measured`.
    runner: Callable[[dict, list[int]], "Outcome"] | None = None

    def case(self, key: str) -> Case:
        return next(c for c in self.cases if c.key == key)


@dataclass
class Outcome:
    """What a study with a ``runner`` measured: ``values[name]`` one number per seed (what its
    claims read through :func:`measured`), ``tables`` name -> (rows, columns) written as
    ``<name>.csv``, and ``figures`` (file, caption, draw) where ``draw(path)`` writes the PNG."""

    values: dict[str, list[float | None]]
    tables: dict[str, tuple[list[dict], tuple[str, ...]]] = field(default_factory=dict)
    figures: list[tuple[str, str, Callable]] = field(default_factory=list)


def measured(name: str) -> Callable[[Outcome], list[float | None]]:
    """A claim's ``measure`` for a runner study: the per-seed values ``name`` of its outcome."""
    return lambda o: o.values[name]


@dataclass(frozen=True)
class Example:
    """A ``initlab compare`` run that ``reproduce all`` regenerates (shown in the README)."""

    activation: str
    inits: tuple[str, ...]
    flags: tuple[tuple[str, Any], ...] = ()  # --set style overrides
    backward: bool = False

    def command(self) -> str:
        return " ".join(["initlab compare", *self.inits, "--act", self.activation]
                        + (["--backward"] if self.backward else []))


@dataclass(frozen=True)
class Run:
    """An ``initlab run`` experiment that ``reproduce all`` regenerates: ``example`` is the
    top-level config the README names (and the command shown), ``config`` its packaged copy,
    identical byte for byte (tested), which is the file read."""

    example: str
    config: str


# --- evaluation ------------------------------------------------------------------------------------

def aggregate(values: Sequence[float | None], how: str) -> tuple[float | None, float | None]:
    """(the aggregate over seeds, the seed spread): ``gmean`` with the sample sd of the log
    (a relative spread), ``mean`` with the sample sd. ``None`` when a seed has no value."""
    if not values or any(v is None or not math.isfinite(v) for v in values):
        return None, None
    n = len(values)
    if how == "gmean":
        if any(v <= 0 for v in values):
            return None, None
        logs = [math.log(v) for v in values]
        mu = sum(logs) / n
        sd = math.sqrt(sum((y - mu) ** 2 for y in logs) / (n - 1)) if n > 1 else None
        return math.exp(mu), sd
    mu = sum(values) / n
    sd = math.sqrt(sum((v - mu) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return mu, sd


def evaluate(study: Study, measured) -> list[dict]:
    """Every claim of ``study`` as a plain record (the rows of ``claims.json``); ``measured`` is
    a :class:`Measured` or, for a grid study, a :class:`initlab.studies.grids.GridMeasured`."""
    out = []
    for c in study.claims:
        ref = c.reference(measured) if callable(c.reference) else float(c.reference)
        per_seed = c.measure(measured)
        value, spread = aggregate(per_seed, c.aggregate)
        out.append({
            "id": c.id, "case": c.case, "statement": c.statement, "quantity": c.quantity,
            "reference": ref, "reference_source": c.reference_source,
            "measured": value, "per_seed": list(per_seed), "aggregate": c.aggregate,
            "spread": spread, "spread_kind": "sd of ln (relative)" if c.aggregate == "gmean" else "sd",
            "check": {"kind": c.check.kind, "tol": c.check.tol}, "tolerance": c.check.describe(),
            "why_tolerance": c.why_tolerance, "pass": c.check.passes(value, ref),
        })
    return out
