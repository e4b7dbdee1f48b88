"""The published studies ``initlab reproduce`` re-runs, and their checkable claims. No I/O.

A :class:`Study` names its cases (a config file under ``configs/`` plus overrides), the seeds,
the figures to draw and its :class:`Claim` s. A claim is one number: the source's statement,
a reference value (the published number where there is one, else a closed-form or mean-field
prediction derived in the study's notes), the measured value (aggregated over the seeds), a
tolerance with its justification, and pass/fail.

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
from typing import Any, Callable, Sequence

import numpy as np

from initlab.config import components
from initlab.runs import predictions
from initlab.config import Config, with_changes
from initlab.errors import unknown

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
        return [_div(r.rows[num].get(column), r.rows[den].get(column)) for r in self.runs(case)]

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


def _div(a, b):
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


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    config: str  # path under the project root
    sets: tuple[tuple[str, Any], ...] = ()


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

    def case(self, key: str) -> Case:
        return next(c for c in self.cases if c.key == key)


# --- the studies -----------------------------------------------------------------------------------

def _mf_value(case: str, layer: int, key: str) -> Callable[[Measured], float]:
    return lambda m: m.mf(case)[layer][key]


def _mf_per_layer(case: str, key: str, start: int, end: int) -> Callable[[Measured], float]:
    return lambda m: mf_per_layer(m.mf(case), key, start, end)


def _mf_ratio(case: str, key: str, num: int, den: int) -> Callable[[Measured], float]:
    return lambda m: m.mf(case)[num][key] / m.mf(case)[den][key]


CS231N_SEEDS = 3
CS_SE = "per-network sd {sd} (estimated over 10 seeds), 3 seeds: SE {se}; tolerance >= 3.5 SE"
GL_SE = "per-network sd {sd} (estimated over 10 seeds), 3 seeds: SE {se}; tolerance >= 5 SE"
_CS = "configs/{}.yaml"
_CS_SETS = (("backward.enabled", True), ("dtype", "float32"))

CS231N = Study(
    name="cs231n",
    title="CS231n lecture 6 (2017): activation statistics",
    source="Stanford CS231n, Spring 2017, lecture 6 (Training Neural Networks I), slides "
           "'Weight Initialization' / 'activation statistics'",
    setup="10 hidden layers of 500 units, no bias, input D = randn(1000, 500), W = scale * randn(500, 500); "
          "statistics over the whole 1000 x 500 activation matrix. Forward and backward (top gradient "
          "dL/dh_10 ~ N(0, 1)). float32, seeds 0, 1, 2; the configs are `configs/tanh_small.yaml`, "
          "`tanh_large.yaml`, `tanh_xavier.yaml`, `relu_xavier.yaml`, `relu_he.yaml` (float64 there; "
          "float32 here halves the time; in the saturated net, W = 1.0 randn, the backward factor "
          "differs from float64 by up to 1.1% per seed: 1 - h^2 of activations within an ulp of +-1).",
    notes="""\
- **Published numbers** come from one random draw on the slides; ours are other draws, so they are
  compared within a tolerance set from our own seed-to-seed spread (estimated once over 10 seeds;
  `claims.json` reports this run's spread) of at least 3.5 standard errors of the 3-seed mean.
- **tanh, scale 0.01**: the pre-activations are tiny, tanh(z) ~ z, and Var[z_l] = 500 (0.01)^2 Var[h_{l-1}],
  so the std shrinks by sqrt(500) 0.01 = 0.2236 per layer; backward tanh' ~ 1 and the same factor
  shrinks dL/dh toward the input.
- **tanh, scale 1.0**: Var[z] = 500 E[h^2] ~ 480, so |z| > atanh(0.99) = 2.65 for ~90% of the entries:
  saturated, std ~ 0.98 at every layer. Backward, n Var[W] E[tanh'(z)^2] ~ 500 x 0.024 = 12: dL/dh
  *grows* ~3.5x per layer toward the input, while the local derivatives tanh'(z) are ~0 for the
  saturated 90% (the slide's "gradients are zero" is about those local gradients).
- **tanh, Xavier**: n Var[W] = 1; the std still shrinks slowly because E[tanh(z)^2] < E[z^2]; the
  mean-field length map q_l = E[tanh(sqrt(q_{l-1}) u)^2] gives the layer-10 value.
- **ReLU, Xavier**: E[relu(z)^2] = Var[z] / 2, so with n Var[W] = 1 the std halves in variance per
  layer: ratio 1/sqrt(2); layer 1 std = sqrt(1/2 - 1/(2 pi)) = 0.5838 for unit-variance z.
- **ReLU, He**: n Var[W] = 2 keeps Var[z] = 1: mean 1/sqrt(pi) = 0.5642, std sqrt(1 - 1/pi) = 0.8257
  at every layer in expectation, and dL/dh keeps its std backward (fan-out = fan-in). Single
  networks wander around that (the slide: 0.81-0.89), by a few percent per layer.
""",
    cases=(
        Case("tanh_small", "tanh, W = 0.01 randn", _CS.format("tanh_small"), _CS_SETS),
        Case("tanh_large", "tanh, W = 1.0 randn", _CS.format("tanh_large"), _CS_SETS),
        Case("tanh_xavier", "tanh, Xavier randn/sqrt(n)", _CS.format("tanh_xavier"), _CS_SETS),
        Case("relu_xavier", "ReLU, Xavier randn/sqrt(n)", _CS.format("relu_xavier"), _CS_SETS),
        Case("relu_he", "ReLU, He randn/sqrt(n/2)", _CS.format("relu_he"), _CS_SETS),
    ),
    seeds=CS231N_SEEDS,
    claims=(
        Claim("cs231n-1", "tanh_small", "tanh, W = 0.01 randn: layer-1 std 0.213081", 0.213081,
              "published (slide)", lambda m: m.at("tanh_small", "act_std", 1), "act std, layer 1",
              Check("rel", 0.01), CS_SE.format(sd="0.16%", se="0.1%") + "; the slide is one more draw"),
        Claim("cs231n-2", "tanh_small", "tanh, W = 0.01 randn: layer-5 std 0.000532", 0.000532,
              "published (slide)", lambda m: m.at("tanh_small", "act_std", 5), "act std, layer 5",
              Check("rel", 0.03), CS_SE.format(sd="0.6%", se="0.4%") + "; the slide rounds to 3 digits (0.1%)"),
        Claim("cs231n-3", "tanh_small", "tanh, W = 0.01 randn: std shrinks by sqrt(500) x 0.01 per layer",
              math.sqrt(500) * 0.01, "closed form (linear regime)",
              lambda m: m.per_layer("tanh_small", "act_std", 1, 10), "act std per-layer factor, layers 1-10",
              Check("rel", 0.01), CS_SE.format(sd="0.15%", se="0.09%") + "; tanh curvature adds < 0.1%"),
        Claim("cs231n-4", "tanh_small", "tanh, W = 0.01 randn: dL/dh shrinks by the same factor toward the input",
              math.sqrt(500) * 0.01, "closed form (tanh' ~ 1)",
              lambda m: m.per_layer("tanh_small", "grad_act_std", 10, 1), "dL/dh std per-layer factor, layers 10 -> 1",
              Check("rel", 0.01), CS_SE.format(sd="0.13%", se="0.08%")),
        Claim("cs231n-5", "tanh_large", "tanh, W = 1.0 randn: std ~ 0.98 at every layer (saturated)",
              _mf_value("tanh_large", 10, "std"), "mean field (fixed point)",
              lambda m: m.mean_over_layers("tanh_large", "act_std", 1, 10), "act std, mean of layers 1-10",
              Check("rel", 0.005), CS_SE.format(sd="0.005%", se="0.003%"), aggregate="mean"),
        Claim("cs231n-6", "tanh_large", "tanh, W = 1.0 randn: almost all units saturated (|h| >= 0.99)",
              _mf_value("tanh_large", 10, "sat"), "mean field: P(|z| >= atanh 0.99)",
              lambda m: m.at("tanh_large", "act_saturated", 10), "saturated fraction, layer 10",
              Check("abs", 0.01), CS_SE.format(sd="0.0004", se="0.0002") + "; quadrature of an indicator ~1e-4", aggregate="mean"),
        Claim("cs231n-7", "tanh_large", "tanh, W = 1.0 randn: dL/dh grows toward the input (n E[tanh'^2] > 1)",
              _mf_per_layer("tanh_large", "grad_std", 10, 1), "mean field: sqrt(500 E[tanh'(z)^2])",
              lambda m: m.per_layer("tanh_large", "grad_act_std", 10, 1), "dL/dh std per-layer factor, layers 10 -> 1",
              Check("rel", 0.03), CS_SE.format(sd="0.4%", se="0.25%") + "; gradient independence is an approximation"),
        Claim("cs231n-8", "tanh_xavier", "tanh, Xavier: healthy, slowly shrinking (layer-10 std)",
              _mf_value("tanh_xavier", 10, "std"), "mean field (length map)",
              lambda m: m.at("tanh_xavier", "act_std", 10), "act std, layer 10",
              Check("rel", 0.03), CS_SE.format(sd="0.9%", se="0.5%")),
        Claim("cs231n-9", "relu_xavier", "ReLU, Xavier: layer-1 std sqrt(1/2 - 1/(2 pi))",
              math.sqrt(0.5 - 0.5 / math.pi), "closed form",
              lambda m: m.at("relu_xavier", "act_std", 1), "act std, layer 1",
              Check("rel", 0.01), CS_SE.format(sd="0.2%", se="0.13%")),
        Claim("cs231n-10", "relu_xavier", "ReLU, Xavier: the variance halves each layer (std ratio 1/sqrt(2))",
              1 / math.sqrt(2), "closed form (He et al. 2015 eq. 7)",
              lambda m: m.per_layer("relu_xavier", "act_std", 1, 10), "act std per-layer factor, layers 1-10",
              Check("rel", 0.03), CS_SE.format(sd="1.4%", se="0.8%")),
        Claim("cs231n-11", "relu_xavier", "ReLU, Xavier: dL/dh shrinks by 1/sqrt(2) per layer toward the input",
              1 / math.sqrt(2), "closed form (He et al. 2015 eq. 14)",
              lambda m: m.per_layer("relu_xavier", "grad_act_std", 10, 1), "dL/dh std per-layer factor, layers 10 -> 1",
              Check("rel", 0.02), CS_SE.format(sd="0.5%", se="0.3%")),
        Claim("cs231n-12", "relu_he", "ReLU, He: layer-1 std 0.825232", 0.825232, "published (slide)",
              lambda m: m.at("relu_he", "act_std", 1), "act std, layer 1",
              Check("rel", 0.01), CS_SE.format(sd="0.2%", se="0.13%") + "; closed form sqrt(1 - 1/pi) = 0.8257"),
        Claim("cs231n-13", "relu_he", "ReLU, He: layer-1 mean 0.562488", 0.562488, "published (slide)",
              lambda m: m.at("relu_he", "act_mean", 1), "act mean, layer 1",
              Check("rel", 0.01), CS_SE.format(sd="0.15%", se="0.09%") + "; closed form 1/sqrt(pi) = 0.5642", aggregate="mean"),
        Claim("cs231n-14", "relu_he", "ReLU, He: stable, std 0.81-0.89 at every layer (layer 10 / layer 1 ~ 1)",
              1.0, "closed form (1/2 n Var[W] = 1); slide 0.844523 / 0.825232 = 1.023",
              lambda m: m.ratio("relu_he", "act_std", 10, 1), "act std, layer 10 / layer 1",
              Check("factor", 1.3), CS_SE.format(sd="0.13 in ln", se="0.07") + " (Hanin & Rolnick 2018 predict "
              "sqrt(5 x 9 / 500) / 2 = 0.15); x1.3 = 3.7 SE"),
        Claim("cs231n-15", "relu_he", "ReLU, He: dL/dh keeps its std backward (input / top ~ 1)",
              1.0, "closed form (1/2 fan_out Var[W] = 1)",
              lambda m: m.ratio("relu_he", "grad_act_std", 0, 10), "dL/dh std, layer 0 / layer 10",
              Check("factor", 1.1), CS_SE.format(sd="0.046 in ln", se="0.026") + "; x1.1 = 3.6 SE"),
    ),
    figures=(
        Figure("std_by_layer.png", "std", ("tanh_small", "tanh_large", "tanh_xavier", "relu_xavier", "relu_he"),
               "std of activations and of dL/dh per layer (geometric mean and 95% interval over 3 seeds)",
               panels=("act_std", "grad_act_std")),
        Figure("act_histograms.png", "act_hist", ("tanh_small", "tanh_large", "tanh_xavier", "relu_xavier", "relu_he"),
               "activation histograms per layer (seed 0), shared range per activation: the lecture-6 picture"),
        Figure("grad_histograms.png", "grad_hist", ("tanh_small", "tanh_large", "tanh_xavier", "relu_xavier", "relu_he"),
               "dL/dh histograms per layer (seed 0), range +-4 std of the top gradient"),
    ),
)


_GL = "configs/studies/glorot2010_{}.yaml"
GLOROT2010 = Study(
    name="glorot2010",
    title="Glorot & Bengio 2010: standard vs normalized initialization",
    source="X. Glorot, Y. Bengio, Understanding the difficulty of training deep feedforward neural "
           "networks, AISTATS 2010: eqs. 1, 5-7, 16 and Figs. 6-8",
    setup="5 hidden tanh layers of 1000 units, softmax readout to 10 classes (negative log-likelihood, "
          "random labels), biases 0, input N(0, 1) of dimension 1000 (so the fan-in is 1000 in every layer, "
          "the readout included), batch 500, float64, seeds 0, 1, 2. Standard: W ~ U[-1/sqrt(1000), "
          "1/sqrt(1000)] (n Var[W] = 1/3); normalized: xavier_uniform, W ~ U[+-sqrt(6 / (n_j + n_j+1))] "
          "(n Var[W] = 1). Configs `configs/studies/glorot2010_standard.yaml`, `..._normalized.yaml`.",
    notes="""\
- **Eq. 5 forward**: Var[s^l] = n Var[W] E[(z^{l-1})^2] holds for any activation when W is zero-mean and
  independent of the layer input; with standard init the factor is n Var[W] = 1000 x (2/sqrt(1000))^2 / 12
  = 1/3, so the pre-activation std is sqrt(1/3) = 0.577 times the previous activation's rms. Through the
  tanh the activation std then shrinks a little more each layer; the length map
  q_l = (1/3) E[tanh(sqrt(q_{l-1}) u)^2] gives the per-layer values.
- **Eq. 6 backward**: Var[dC/dz^{l-1}] = n Var[W] E[tanh'(s^l)^2] Var[dC/dz^l], so the back-propagated
  gradient std shrinks toward the input by sqrt(1/3 E[tanh'^2]) ~ 0.56 per layer with standard init
  and by only sqrt(E[tanh'^2]) (~0.85-0.95) with normalized init (Fig. 7).
- **Eq. 7 (and 14)**: the weight gradient dC/dW^l = z^{l-1 T} dC/ds^l combines the two, and the forward
  shrinking and the backward shrinking cancel: its std is roughly the same at every layer for both
  inits (Fig. 8).
- **Fig. 6**: with standard init the activations concentrate at 0 as depth grows: the fraction of
  |z| < 0.2 grows from layer 1 to layer 5 (mean-field value from the same length map).
- Not checked: the Jacobian singular values (0.8 vs 0.5) and the training curves.
""",
    cases=(
        Case("standard", "standard U[+-1/sqrt(n)]", _GL.format("standard")),
        Case("normalized", "normalized (xavier_uniform)", _GL.format("normalized")),
    ),
    seeds=3,
    claims=(
        Claim("glorot2010-1", "standard", "eq. 5: each layer multiplies the variance by n Var[W] = 1/3 "
              "(pre-activation std = sqrt(1/3) x previous rms)", math.sqrt(1 / 3), "closed form (eq. 5, n Var[W] = 1/3)",
              lambda m: _geo([_rms_ratio(m, "standard", l) for l in range(1, 6)]),
              "preact std / previous activation rms, geometric mean of layers 1-5",
              Check("rel", 0.01), GL_SE.format(sd="0.07%", se="0.04%")),
        Claim("glorot2010-2", "standard", "Fig. 6 / eq. 5: activations shrink layer by layer (std layer 5 / layer 1)",
              _mf_ratio("standard", "std", 5, 1), "mean field (length map)",
              lambda m: m.ratio("standard", "act_std", 5, 1), "act std, layer 5 / layer 1",
              Check("rel", 0.02), GL_SE.format(sd="0.34%", se="0.2%")),
        Claim("glorot2010-3", "standard", "Fig. 6: the peak at 0 grows with depth (fraction |z| < 0.2, layer 5 / layer 1)",
              lambda m: _mf_near_zero(m, "standard", 5, 0.2) / _mf_near_zero(m, "standard", 1, 0.2),
              "mean field (Gaussian pre-activations)",
              lambda m: _div_lists(m.hist_fraction("standard", 5, -0.2, 0.2), m.hist_fraction("standard", 1, -0.2, 0.2)),
              "fraction of |z| < 0.2, layer 5 / layer 1", Check("rel", 0.03), GL_SE.format(sd="0.3%", se="0.17%")),
        Claim("glorot2010-4", "standard", "eq. 6 / Fig. 7: back-propagated gradients shrink toward the input "
              "by sqrt(1/3 E[tanh'^2]) per layer", _mf_per_layer("standard", "grad_std", 5, 1),
              "mean field (eq. 6)", lambda m: m.per_layer("standard", "grad_act_std", 5, 1),
              "dC/dz std per-layer factor, layers 5 -> 1", Check("rel", 0.03),
              GL_SE.format(sd="0.33%", se="0.2%") + "; gradient independence is an approximation"),
        Claim("glorot2010-5", "normalized", "eq. 6 / Fig. 7: with normalized init the gradients shrink only by "
              "sqrt(E[tanh'^2]) per layer", _mf_per_layer("normalized", "grad_std", 5, 1),
              "mean field (eq. 6)", lambda m: m.per_layer("normalized", "grad_act_std", 5, 1),
              "dC/dz std per-layer factor, layers 5 -> 1", Check("rel", 0.03),
              GL_SE.format(sd="0.3%", se="0.17%") + "; gradient independence is an approximation"),
        Claim("glorot2010-6", "standard", "eq. 7 / Fig. 8: weight-gradient std roughly equal across layers "
              "(standard init)", 1.0, "eq. 7: equal in the linear regime",
              lambda m: m.spread("standard", "grad_weight_std", 1, 5),
              "max / min of the dC/dW std over layers 1-5", Check("factor", 1.5),
              "a qualitative claim ('roughly equal'); activation and gradient stds each span x10 "
              "over these layers, the measured max/min is 1.04 with sd 0.014 over seeds"),
        Claim("glorot2010-7", "normalized", "eq. 7 / Fig. 8: weight-gradient std roughly equal across layers "
              "(normalized init)", 1.0, "eq. 7 (and 14): equal across layers",
              lambda m: m.spread("normalized", "grad_weight_std", 1, 5),
              "max / min of the dC/dW std over layers 1-5", Check("factor", 1.5),
              "a qualitative claim ('roughly equal'); measured 1.13 (sd 0.018 over seeds): tanh "
              "compression makes it drift"),
    ),
    figures=(
        Figure("fig6_activations.png", "act_hist", ("standard", "normalized"),
               "activation histograms per layer (Fig. 6), seed 0"),
        Figure("fig7_gradients.png", "grad_hist", ("standard", "normalized"),
               "back-propagated gradient dC/dz histograms per layer (Fig. 7), seed 0"),
        Figure("std_by_layer.png", "std", ("standard", "normalized"),
               "std of activations, back-propagated gradients and weight gradients (Fig. 8) per layer, "
               "geometric mean and 95% interval over 3 seeds",
               panels=("act_std", "grad_act_std", "grad_weight_std")),
    ),
)


def _rms_ratio(m: Measured, case: str, l: int) -> list[float | None]:
    """preact_std_l / sqrt(E[h_{l-1}^2]) per seed."""
    out = []
    for r in m.runs(case):
        prev = r.rows[l - 1]
        rms = math.sqrt(prev["act_std"] ** 2 + prev["act_mean"] ** 2)
        out.append(_div(r.rows[l]["preact_std"], rms))
    return out


def _geo(per_layer: list[list[float | None]]) -> list[float | None]:
    """Per seed, the geometric mean over the layers of per-layer lists."""
    out = []
    for vals in zip(*per_layer):
        if any(v is None or v <= 0 for v in vals):
            out.append(None)
        else:
            out.append(math.exp(sum(math.log(v) for v in vals) / len(vals)))
    return out


def _div_lists(a: list, b: list) -> list:
    return [_div(x, y) for x, y in zip(a, b)]


def _mf_near_zero(m: Measured, case: str, layer: int, t: float) -> float:
    """P(|tanh(sqrt(q) u)| < t) = P(|u| < atanh(t) / sqrt(q))."""
    q = m.mf(case)[layer]["q"]
    return math.erf(math.atanh(t) / math.sqrt(2 * q))


_HE = "configs/studies/he2015_{}.yaml"
HE_SEEDS = 5
HE_FWD = ("per-network sd of ln(ratio) ~0.2 (Hanin & Rolnick 2018: Var ln|y|^2 ~ 5 sum 1/n_l, and deep ReLU "
          "inputs become so correlated that the batch does not average it), 5 seeds: SE 0.1; "
          "x1.5 = 4 SE (the claim separates 1 from 4e-5)")
HE_BWD = "per-network sd of ln(ratio) ~0.07 (the random top gradient averages over the batch), 5 seeds: SE 0.03; x1.15 = 4.5 SE"


def _he_claims() -> tuple[Claim, ...]:
    out = []
    n = 1
    for init in ("xavier", "he"):
        for depth in (22, 30):
            case = f"{init}_{depth}"
            ref = 2.0 ** (-(depth - 1) / 2) if init == "xavier" else 1.0
            form = f"2^(-{depth - 1}/2) = {ref:.3g}" if init == "xavier" else "1"
            out.append(Claim(
                f"he2015-{n}", case,
                f"{'Xavier (n Var[w] = 1)' if init == 'xavier' else 'He (1/2 n Var[w] = 1)'}, {depth} layers: "
                f"std(y_{depth}) / std(y_1) = {form} (eq. 7, y the pre-activation response)",
                ref, "closed form (eq. 7)", (lambda c, d: lambda m: m.ratio(c, "preact_std", d, 1))(case, depth),
                f"preact std, layer {depth} / layer 1", Check("factor", 1.5),
                HE_FWD))
            n += 1
            out.append(Claim(
                f"he2015-{n}", case,
                f"{'Xavier' if init == 'xavier' else 'He'}, {depth} layers, backward: std(dL/dx_2) / std(dL/dx_{depth + 1}) "
                f"= {form} (eq. 14 with n-hat = fan-out)",
                ref, "closed form (eq. 14)", (lambda c, d: lambda m: m.ratio(c, "grad_act_std", 1, d))(case, depth),
                f"dL/dh std, layer 1 / layer {depth}", Check("factor", 1.15),
                HE_BWD))
            n += 1
    return tuple(out)


HE2015 = Study(
    name="he2015",
    title="He et al. 2015: Xavier vs He initialization in deep ReLU nets",
    source="K. He, X. Zhang, S. Ren, J. Sun, Delving Deep into Rectifiers, ICCV 2015: eqs. 7, 10, 14 "
           "and the 22/30-layer comparison (Fig. 3)",
    setup="22 and 30 ReLU layers of 512 units, no bias, input N(0, 1) of dimension 512, batch 128, "
          "float32, forward and backward (top gradient N(0, 1)), seeds 0-4. Xavier: xavier_normal "
          "(N(0, 2 / (fan_in + fan_out)) = N(0, 1/n) here); He: he_normal (N(0, 2/n)). Configs "
          "`configs/studies/he2015_{xavier,he}_{22,30}.yaml`.",
    notes="""\
- He et al. call y_l = W_l x_l the *response* of layer l (our `preact_std`) and x_l = relu(y_{l-1}) its
  input. Eq. 7: Var[y_L] = Var[y_1] prod_{l=2..L} (1/2 n_l Var[w_l]). With Xavier's n Var[w] = 1 each
  layer halves the variance, so std(y_L) / std(y_1) = 2^(-(L-1)/2): 6.9e-4 at L = 22 and 4.3e-5 at L = 30;
  with He's 1/2 n Var[w] = 1 (eq. 10) the ratio is 1.
- Backward (eq. 14), with Delta x_l = dL/dx_l: Var[Delta x_2] = Var[Delta x_{L+1}] prod_{l=2..L} (1/2 n-hat_l Var[w_l]),
  n-hat the fan-out. Delta x_2 is our dL/dh at layer 1 and Delta x_{L+1} the top gradient at layer L,
  so the same ratios apply (all layers are 512 wide, fan-in = fan-out).
- Single networks wander around these expectations on the log scale (the per-layer gain of a
  random 512 x 512 matrix fluctuates by a few percent, and the fluctuations add up over the layers:
  Hanin & Rolnick 2018); the claims use the geometric mean over 5 seeds and tolerances of about 4
  standard errors of it (x1.5 forward, x1.15 backward). Xavier and He draw the same standard normals
  scaled differently, and ReLU is positively homogeneous, so their ratios differ by exactly
  2^(-(L-1)/2) seed by seed: the deviations from the references are the same in both rows.
- Not checked: the training curves (22 layers: both converge; 30 layers: Xavier stalls).
""",
    cases=(
        Case("xavier_22", "Xavier, 22 layers", _HE.format("xavier_22")),
        Case("xavier_30", "Xavier, 30 layers", _HE.format("xavier_30")),
        Case("he_22", "He, 22 layers", _HE.format("he_22")),
        Case("he_30", "He, 30 layers", _HE.format("he_30")),
    ),
    seeds=HE_SEEDS,
    claims=_he_claims(),
    figures=(
        Figure("std_ratio.png", "ratio", ("xavier_22", "xavier_30", "he_22", "he_30"),
               "std(y_l) / std(y_1) forward and std(dL/dh_l) / std(dL/dh_L) backward, geometric mean and 95% "
               "interval over 5 seeds; dashed: eqs. 7 and 14", theory=True),
    ),
)


_TU = "configs/studies/tutorial_{}.yaml"
TU_SEEDS = 12
TU_SE = "per-network sd {sd} (50-unit layers fluctuate), 12 seeds: standard error {se}; tolerance >= 4 SE"


def _mf_mean(case: str, key: str, start: int, end: int) -> Callable[[Measured], float]:
    return lambda m: sum(m.mf(case)[l][key] for l in range(start, end + 1)) / (end - start + 1)

TUTORIAL = Study(
    name="tutorial",
    title="The deeplearning.ai / blog-post initialization tutorial",
    source="deeplearning.ai 'Improving Deep Neural Networks' initialization exercise and the common "
           "blog-post experiment: W = 0.01 randn vs randn vs Xavier (randn * sqrt(1 / n_prev))",
    setup="input of length 100 (N(0, 1), batch 1000), 5 hidden layers of 50 units, no bias, tanh and "
          "sigmoid, forward only, float64, seeds 0, 1, 2. Xavier here is the course's "
          "randn * sqrt(1 / n_prev), i.e. `lecun_normal`. Configs `configs/studies/tutorial_*.yaml`.",
    notes="""\
- All references are mean-field values (module `initlab.studies`): q_1 = 100 Var[W],
  q_l = 50 Var[W] E[h_{l-1}^2].
- **tanh, 0.01 randn**: the linear regime: std(h_1) ~ sqrt(100) 0.01 = 0.1, then x sqrt(50) 0.01 = 0.0707
  per layer.
- **sigmoid, 0.01 randn**: sigmoid(z) ~ 1/2 + z/4; the activations sit at 0.5 and their std is
  sqrt(50) 0.01 x 0.5 / 4 = 0.0088 from layer 2 on: it does not decay further, because the mean 0.5
  keeps E[h^2] ~ 1/4 feeding the next layer (all units nearly the same constant: no signal).
- **randn (std 1)**: q_1 = 100: 79% of tanh units and 65% of sigmoid units saturated at layer 1; later
  layers, q ~ 50 E[h^2], keep most tanh units saturated.
- **Xavier**: q ~ E[h^2] <= 1: tanh is far from saturation; sigmoid's E[h^2] ~ 0.3 gives q ~ 0.3.
""",
    cases=(
        Case("tanh_small", "tanh, 0.01 randn", _TU.format("tanh_small")),
        Case("tanh_randn", "tanh, randn", _TU.format("tanh_randn")),
        Case("tanh_xavier", "tanh, Xavier", _TU.format("tanh_xavier")),
        Case("sigmoid_small", "sigmoid, 0.01 randn", _TU.format("sigmoid_small")),
        Case("sigmoid_randn", "sigmoid, randn", _TU.format("sigmoid_randn")),
        Case("sigmoid_xavier", "sigmoid, Xavier", _TU.format("sigmoid_xavier")),
    ),
    seeds=TU_SEEDS,
    claims=(
        Claim("tutorial-1", "tanh_small", "tanh, 0.01 randn: layer-1 std ~ sqrt(100) x 0.01",
              _mf_value("tanh_small", 1, "std"), "mean field (~0.1)",
              lambda m: m.at("tanh_small", "act_std", 1), "act std, layer 1", Check("rel", 0.02),
              TU_SE.format(sd="1.2%", se="0.35%")),
        Claim("tutorial-2", "tanh_small", "tanh, 0.01 randn: std shrinks by sqrt(50) x 0.01 per layer",
              math.sqrt(50) * 0.01, "closed form (linear regime)",
              lambda m: m.per_layer("tanh_small", "act_std", 1, 5), "act std per-layer factor, layers 1-5",
              Check("rel", 0.02), TU_SE.format(sd="1.1%", se="0.3%")),
        Claim("tutorial-3", "sigmoid_small", "sigmoid, 0.01 randn: activations sit at 0.5",
              0.5, "closed form (sigmoid(0))", lambda m: m.at("sigmoid_small", "act_mean", 5),
              "act mean, layer 5", Check("abs", 0.002), TU_SE.format(sd="1e-3", se="3e-4"), aggregate="mean"),
        Claim("tutorial-4", "sigmoid_small", "sigmoid, 0.01 randn: std tiny (sqrt(50) 0.01 / 8), constant from layer 2",
              _mf_mean("sigmoid_small", "std", 2, 5), "mean field (0.0088)",
              lambda m: m.mean_over_layers("sigmoid_small", "act_std", 2, 5), "act std, mean of layers 2-5",
              Check("rel", 0.08), TU_SE.format(sd="6.5%", se="1.9%") + "; 50 per-unit offsets dominate"),
        Claim("tutorial-5", "tanh_randn", "tanh, randn: most units saturated",
              _mf_mean("tanh_randn", "sat", 2, 5), "mean field",
              lambda m: m.mean_over_layers("tanh_randn", "act_saturated", 2, 5),
              "saturated fraction (|h| >= 0.99), mean of layers 2-5", Check("abs", 0.02),
              TU_SE.format(sd="0.003", se="0.001"), aggregate="mean"),
        Claim("tutorial-6", "sigmoid_randn", "sigmoid, randn: many units saturated",
              _mf_mean("sigmoid_randn", "sat", 2, 5), "mean field",
              lambda m: m.mean_over_layers("sigmoid_randn", "act_saturated", 2, 5),
              "saturated fraction (h <= 0.01 or >= 0.99), mean of layers 2-5", Check("abs", 0.05),
              TU_SE.format(sd="0.034", se="0.01"), aggregate="mean"),
        Claim("tutorial-7", "tanh_xavier", "tanh, Xavier: healthy (layer-5 std)",
              _mf_value("tanh_xavier", 5, "std"), "mean field (length map)",
              lambda m: m.at("tanh_xavier", "act_std", 5), "act std, layer 5", Check("rel", 0.04),
              TU_SE.format(sd="2.8%", se="0.8%")),
        Claim("tutorial-8", "tanh_xavier", "tanh, Xavier: no saturation", 0.0, "mean field (< 1e-4)",
              lambda m: m.at("tanh_xavier", "act_saturated", 5), "saturated fraction, layer 5",
              Check("at_most", 0.005), "mean field 2e-5; measured < 1e-4 in every seed", aggregate="mean"),
        Claim("tutorial-9", "sigmoid_xavier", "sigmoid, Xavier: healthy, small std (mean of layers 2-5)",
              _mf_mean("sigmoid_xavier", "std", 2, 5), "mean field (length map)",
              lambda m: m.mean_over_layers("sigmoid_xavier", "act_std", 2, 5), "act std, mean of layers 2-5",
              Check("rel", 0.08), TU_SE.format(sd="6.3%", se="1.8%")),
    ),
    figures=(
        Figure("std_by_layer.png", "std", ("tanh_small", "tanh_randn", "tanh_xavier", "sigmoid_small",
                                           "sigmoid_randn", "sigmoid_xavier"),
               "std of activations per layer, geometric mean and 95% interval over 3 seeds", panels=("act_std",)),
        Figure("act_histograms.png", "act_hist", ("tanh_small", "tanh_randn", "tanh_xavier", "sigmoid_small",
                                                  "sigmoid_randn", "sigmoid_xavier"),
               "activation histograms per layer (seed 0)"),
    ),
)

#: The studies, in report order.
STUDIES: dict[str, Study] = {s.name: s for s in (CS231N, GLOROT2010, HE2015, TUTORIAL)}


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


EXAMPLES = (
    Example("relu", ("xavier", "he")),
    Example("tanh", ("normal:std=0.01", "normal:std=1.0", "xavier")),
)


#: ``initlab run`` experiments whose folders also live under ``results/`` (``make run`` writes
#: the first); ``reproduce all`` regenerates them too, so the whole tree is reproducible.
RUNS = ("configs/tanh_small.yaml",)


def get(name: str) -> Study:
    if name not in STUDIES:
        raise unknown("study", name, list(STUDIES) + ["all"])
    return STUDIES[name]


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


def evaluate(study: Study, measured: Measured) -> list[dict]:
    """Every claim of ``study`` as a plain record (the rows of ``claims.json``)."""
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
