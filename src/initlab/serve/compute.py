"""The step-0 view's computations: a page's settings -> a validated run config -> the engine.

No web library here: these are plain functions of the page's settings, called by the server
(:mod:`initlab.serve.app`) in a worker thread and by the benchmarks directly.

The page sends its settings as ``{dotted key: text}``, each read exactly as the CLI reads
``--set key=text`` (:func:`initlab.config.scalars.parse_set`), applied to the run config's
defaults (the cs231n shape: batch 1000, ten tanh layers of 500, Xavier) by
:func:`initlab.config.resolve` with the draw check on: the page's config is the CLI's config,
validated by the same code, and a bad value raises the same one-line :class:`ConfigError`.
The YAML of that config (:func:`initlab.io.configfile.dump`) is what "download config" saves:
``initlab run`` on it gives the numbers the page showed (same seed, same streams).
"""

from __future__ import annotations

import functools
import math
import threading
import time
from typing import Any, Mapping

import numpy as np

from initlab.errors import ConfigError
from initlab.serve import limits

#: the per-layer columns the page receives (the rest of ``initlab run``'s stay on the server)
STEP0_COLUMNS = (
    "layer", "width", "preact_std", "act_mean", "act_std", "act_saturated", "act_zero", "dead_units",
    "act_nonfinite", "predicted_preact_std", "predicted_act_std", "predicted_act_saturated",
    "grad_act_std", "grad_preact_std", "grad_weight_std", "predicted_grad_act_std",
)
#: the phase diagram's grid: sigma_w^2 on a log axis (it spans the collapse of std 0.01 weights
#: to the explosion of std 1 weights at width 500), sigma_b^2 on a linear one
PHASE_SW2 = (0.05, 20.0, 48)
PHASE_SB2 = (0.0, 1.0, 26)


class Cancelled(Exception):
    """The computation was superseded (a newer request, a stop, a closed page)."""


class Token:
    """Cooperative cancellation and pausing of one computation (checked between layers and
    between training steps: numpy's products cannot be interrupted, a layer can)."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._running = threading.Event()
        self._running.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancelled; wait here while paused (at most
        :data:`limits.MAX_TRAIN_PAUSE_SECONDS`, then the run is stopped)."""
        if not self._running.is_set():
            if not self._running.wait(limits.MAX_TRAIN_PAUSE_SECONDS):
                self._cancelled.set()
        if self._cancelled.is_set():
            raise Cancelled()


class CheckedParameters:
    """The run's parameters, checking the token before each layer's weights are read: a
    superseded step-0 computation stops at the next layer."""

    def __init__(self, params, token: Token):
        self._params, self._token = params, token

    def weight(self, layer: int):
        self._token.check()
        return self._params.weight(layer)

    def bias(self, layer: int):
        return self._params.bias(layer)

    def __getattr__(self, name: str):
        return getattr(self._params, name)


def parse_sets(settings: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``{key: text}`` -> ``[(key, value)]``, each read as ``--set key=text``."""
    from initlab.config.scalars import parse_set

    if not isinstance(settings, Mapping):
        raise ConfigError("config", "the settings must be a mapping of dotted keys to values")
    if len(settings) > limits.MAX_SETS:
        raise ConfigError("config", f"at most {limits.MAX_SETS} settings (MAX_SETS), got {len(settings)}")
    out = []
    for key, text in settings.items():
        if not isinstance(key, str) or not isinstance(text, (str, int, float, bool)):
            raise ConfigError(str(key), f"must be given as text, got {type(text).__name__}")
        out.append(parse_set(f"{key}={text}"))
    return out


def page_error(e: ConfigError) -> dict:
    """The one-line message of ``e`` as the page shows it beside the control named ``field``
    (the CLI's message, without the '(from the command line)' that would be wrong there)."""
    detail = e.detail.removeprefix("(from the command line) ")
    field = e.field or ""
    return {"field": field, "message": f"{field}: {detail}" if field else detail}


def run_config(settings: Mapping[str, Any], name: str = "playground"):
    """The validated :class:`initlab.config.Config` of the page's settings (limits included)."""
    from initlab import config

    cfg = config.resolve({"name": name}, sets=parse_sets(settings), check_draws=True)
    limits.check_step0(cfg)
    return cfg


def finite(v: Any) -> Any:
    """A JSON-safe value: numpy scalars as Python numbers, inf/NaN as the strings 'inf', 'nan'."""
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else ("nan" if v != v else ("inf" if v > 0 else "-inf"))
    return v


def mean_field_point(cfg) -> dict:
    """(sigma_w^2, sigma_b^2) of the hidden layers: fan_in x Var(W) at the first hidden-to-hidden
    fan (the input layer's when depth is 1) and the bias variance; ``None`` where the
    initializer has no variance-scaling law (the prediction's reason says why)."""
    from initlab.config import Spec, components

    init = components.weight_initializer(cfg)
    widths = cfg.widths()
    fan_in, fan_out = (widths[1], widths[2]) if len(widths) > 2 else (widths[0], widths[1])
    if not init.mean_field:
        return {"sw2": None, "sb2": None}
    _, var = init.moments(fan_in, fan_out)
    b = cfg.network.bias
    if isinstance(b, Spec):
        sb2 = components.bias_initializer(cfg).moments(fan_out, fan_out)[1]
    else:
        sb2 = 0.0 if b == 0 else None
    return {"sw2": float(var * fan_in), "sb2": None if sb2 is None else float(sb2)}


def _hist(h) -> dict:
    total = max(h.total, 1)
    return {"lo": float(h.edges[0]), "hi": float(h.edges[-1]), "counts": h.counts.tolist(),
            "fraction": [round(c / total, 6) for c in h.counts.tolist()], "below": int(h.below),
            "above": int(h.above), "nonfinite": int(h.nonfinite)}


def step0(settings: Mapping[str, Any], token: Token | None = None) -> dict:
    """Run the page's settings at step 0 and return what the page draws (JSON-ready).

    Raises :class:`ConfigError` for a bad or too-large setting, :class:`Cancelled` when the
    token is cancelled before the last layer."""
    from initlab.io import configfile
    from initlab.runs import experiment

    t0 = time.perf_counter()
    cfg = run_config(settings)
    token = token or Token()
    params = CheckedParameters(experiment.build_parameters(cfg), token)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        result = experiment.run(cfg, params=params)
    token.check()
    rows = [{k: finite(r.get(k)) for k in STEP0_COLUMNS} for r in result.rows]
    sat = result.activation.saturation
    return {
        "rows": rows,
        "act_hist": [_hist(h) for h in result.act_hist or []],
        "grad_hist": [_hist(h) for h in result.grad_hist or []],
        "first_nonfinite": result.first_nonfinite,
        "theory": result.theory,
        "activation": result.activation.label(),
        "activation_name": result.activation.name,
        "saturation": list(sat) if sat else None,
        "initializer": result.initializer,
        "point": mean_field_point(cfg),
        "loss": finite(result.loss),
        "yaml": configfile.dump(cfg),
        "seconds": time.perf_counter() - t0,
    }


@functools.lru_cache(maxsize=16)
def _phase(activation_spec: tuple) -> dict:
    from initlab import theory
    from initlab.engine import activations

    name, params = activation_spec
    act = activations.get(name, **dict(params))
    lo, hi, n = PHASE_SW2
    sws = np.geomspace(lo, hi, n)
    sbs = np.linspace(*PHASE_SB2[:2], PHASE_SB2[2])
    with np.errstate(all="ignore"):
        grid = theory.phase_grid(act, sws, sbs)
        chi = np.log10(np.clip(grid["chi1"], 1e-6, 1e6))
    return {"activation": act.label(), "sw2": sws.tolist(), "sb2": sbs.tolist(),
            "log10_chi1": [[finite(round(float(v), 5)) for v in row] for row in chi]}


def phase(settings: Mapping[str, Any]) -> dict:
    """The order-to-chaos phase diagram (Poole et al. 2016; Schoenholz et al. 2017) of the
    settings' activation: log10 chi_1 over :data:`PHASE_SW2` x :data:`PHASE_SB2` (chi_1 = 1 is
    the critical line), cached per activation."""
    cfg = run_config(settings)
    spec = cfg.network.activation
    return _phase((spec.name, spec.params))
