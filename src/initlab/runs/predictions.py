"""Theory beside every measurement: mean-field predictions for a run's layers.

For a config whose weights are zero-mean with known variance (``Initializer.mean_field``:
every variance-scaling initializer, zero-mean normal/uniform/truncated normal, orthogonal at
large width) and whose bias is zero or zero-mean random, :func:`predict` iterates the
mean-field length map of Poole et al. 2016 (:func:`initlab.theory.predict_layers`) and returns
per-layer ``predicted_*`` values. Where no prediction applies it says why:

- constant, identity, sparse and torch_sparse weights: the entries are not iid zero-mean with
  a variance-scaling law (identity is deterministic, sparse weights make each unit's sum a
  sum over a few inputs, so the central-limit step of mean-field theory fails);
- a nonzero constant bias, or a bias initializer with nonzero mean: the pre-activations are
  not centred, which the length map assumes;
- data-dependent initializations (future: LSUV, transfer): the weights depend on the data.

The gradient predictions need the second moment of the top gradient dL/dh_L: exactly 1 for
the ``random`` loss, and the measured value for ``mse``/``softmax_ce`` (they depend on the
forward result), so those anchor at the top layer and predict the propagation below it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from initlab.config import Config

PREDICTED_FORWARD = ("predicted_preact_std", "predicted_act_mean", "predicted_act_std",
                     "predicted_act_saturated")
PREDICTED_BACKWARD = ("predicted_chi", "predicted_grad_act_std", "predicted_grad_preact_std")
# theory.predict_layers key -> our column
_KEYS = {"predicted_preact_std": "predicted_preact_std", "predicted_act_mean": "predicted_act_mean",
         "predicted_act_std": "predicted_act_std", "predicted_act_saturated": "predicted_act_saturated",
         "chi": "predicted_chi",
         "predicted_grad_act_std": "predicted_grad_act_std",
         "predicted_grad_preact_std": "predicted_grad_preact_std"}


def columns(backward: bool) -> tuple[str, ...]:
    return PREDICTED_FORWARD + (PREDICTED_BACKWARD if backward else ())


@dataclass(frozen=True)
class Prediction:
    applies: bool
    reason: str  # why not, or which assumptions were used
    rows: list[dict] | None = None  # per layer 0..L, keyed by the predicted_* columns


def input_second_moment(cfg: Config) -> float:
    """E[x^2] of one input entry, from the input distribution; ``inf`` when it overflows
    float64 (an input std or mean of 1e155 and more)."""
    i = cfg.input
    if i.distribution == "normal" or i.low is None:
        return i.mean * i.mean + i.std * i.std  # float products give inf, never OverflowError
    lo, hi = i.low, i.high
    return (lo * lo + lo * hi + hi * hi) / 3.0


def _param_field(path: str, component) -> str:
    """The dotted field of the parameter that scales ``component`` (``network.initializer.std``)."""
    for key in ("std", "gain", "scale", "high", "low", "value"):
        if key in getattr(component, "params", {}):
            return f"{path}.{key}"
    return path


def _overflow(cfg: Config, weight_var: list[float], bias_var: list[float], m2: float, init,
              bias) -> str | None:
    """Why no prediction: a second moment the length map starts from overflows float64."""
    def note(field: str, what: str) -> str:
        return (f"no prediction: {what} overflows float64 ({field} is too large for the length map; "
                "the run itself is measured and reported as usual)")

    if not math.isfinite(m2):
        return note("input.std" if cfg.input.std * cfg.input.std > cfg.input.mean * cfg.input.mean
                    and cfg.input.low is None else "input.mean" if cfg.input.low is None else "input.low",
                    "the input's second moment E[x^2]")
    if not all(math.isfinite(v) for v in weight_var):
        return note(_param_field("network.initializer", init), "the weights' variance")
    if not all(math.isfinite(v) for v in bias_var):
        return note(_param_field("network.bias", bias), "the bias variance")
    return None


def _applicability(cfg: Config, init, bias) -> str | None:
    if not init.mean_field:
        return (f"no prediction for {init.label()}: mean-field theory needs iid zero-mean weights "
                "with a variance-scaling law (see docs/theory.md)")
    if isinstance(bias, float):
        if bias != 0.0:
            return f"no prediction with a constant bias {bias:g}: pre-activations are not centred"
    elif not bias.mean_field:
        return f"no prediction with bias {bias.label()}: the bias must be zero-mean random"
    return None


def predict(cfg: Config, act, init, bias, top_grad_second_moment: float | None = None) -> Prediction:
    """The mean-field prediction for ``cfg`` (``act``/``init``/``bias`` resolved by
    :mod:`initlab.config.components`)."""
    why = _applicability(cfg, init, bias)
    if why:
        return Prediction(False, why)
    from initlab import theory  # scipy: imported only when a prediction is made

    widths = list(cfg.widths())
    weight_var, bias_var = [], []
    for l in range(1, len(widths)):
        mean, var = init.moments(widths[l - 1], widths[l])
        weight_var.append(var)
        if isinstance(bias, float):
            bias_var.append(0.0)
        else:
            bias_var.append(bias.moments(widths[l], widths[l])[1])
    m2 = input_second_moment(cfg)
    why = _overflow(cfg, weight_var, bias_var, m2, init, bias)
    if why:
        return Prediction(False, why)
    top = top_grad_second_moment if cfg.backward.enabled else None
    if top is not None and not math.isfinite(top):
        top = None  # the measured top gradient overflowed: forward predictions only
    rows = theory.predict_layers(act, widths, weight_var, bias_var, m2, top)
    for row in rows[1:]:
        s = row["predicted_preact_std"]
        row["predicted_act_saturated"] = None if s is None else theory.saturation_probability(act, s * s)
    return Prediction(True, "mean-field length map (Poole et al. 2016), infinite-width limit", rows)


# The predictions come from Gauss-Legendre quadrature accurate to ~1e-10 (engine/gaussian.py):
# they are written with the digits they are good for, so that another machine's libm (which
# may differ in the last bit of exp or tanh) writes the same file.
PREDICTION_DIGITS = 9
# A predicted mean smaller than this fraction of the predicted std is quadrature noise around
# an exact 0 (an odd activation's mean is 0 by symmetry: tanh gives 8.7e-19, not 0): written 0.
MEAN_NOISE = 1e-10


def rounded(v: float | None, digits: int = PREDICTION_DIGITS) -> float | None:
    """``v`` to ``digits`` significant digits (None, 0, inf and NaN unchanged)."""
    if v is None or v == 0 or v != v or v in (float("inf"), float("-inf")):
        return v
    return float(f"{v:.{digits - 1}e}")


def attach(rows: list[dict], prediction: Prediction, backward: bool) -> None:
    """Fill the ``predicted_*`` columns of ``rows`` in place (None where nothing applies),
    rounded to :data:`PREDICTION_DIGITS` significant digits; a mean below :data:`MEAN_NOISE`
    times the std is 0."""
    cols = columns(backward)
    for l, row in enumerate(rows):
        src = prediction.rows[l] if prediction.rows else {}
        for key, col in _KEYS.items():
            if col in cols:
                row[col] = rounded(src.get(key))
        mean, std = row.get("predicted_act_mean"), row.get("predicted_act_std")
        if mean is not None and std is not None and abs(mean) < MEAN_NOISE * std:
            row["predicted_act_mean"] = 0.0


def top_gradient_second_moment(cfg: Config, measured_top_std: float | None) -> float | None:
    """E[(dL/dh_L)^2]: 1 for the random loss, else the measured value (std^2; mean ~ 0)."""
    if not cfg.backward.enabled:
        return None
    if cfg.backward.loss == "random":
        return 1.0
    return None if measured_top_std is None else measured_top_std * measured_top_std  # inf, not OverflowError

