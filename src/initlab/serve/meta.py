"""What the page needs to build its controls: the registries, their parameters and defaults, the
config defaults and the limits (``GET /api/meta``). Read from the same registries the CLI lists
(``initlab list initializers | activations | datasets | optimizers``), so a new entry appears in
the page the day it is registered."""

from __future__ import annotations

import inspect
from dataclasses import fields

from initlab.serve import limits


def _value(v):
    if v is inspect.Parameter.empty or v is None:
        return None
    return v if isinstance(v, (bool, int, float, str)) else str(v)


#: the page's dtype at start: float32 halves the step-0 time of the CLI's float64 default at the
#: cs231n shape (170 vs 340 ms of CPU, docs/playground.md); the downloaded YAML says which ran
STEP0_DTYPE = "float32"


def describe(train: bool = True) -> dict:
    from initlab import data
    from initlab.config import DISTRIBUTIONS, DTYPES, LOSSES, Config
    from initlab.config.train_schema import LOSSES as TRAIN_LOSSES
    from initlab.engine import activations, initializers
    from initlab.engine._params import accepted_params
    from initlab.serve import compute
    from initlab.serve.training import DEFAULT_RUNS, DEFAULT_TRAIN
    from initlab.training import optimizers

    inits = []
    for name in initializers.INITIALIZERS:
        d = initializers.describe(name)
        inits.append({"name": name, "formula": d["formula"], "alias_of": d["alias_of"],
                      "params": {k: _value(v) for k, v in d["params"].items()}})
    acts = []
    for name, factory in activations.ACTIVATIONS.items():
        a = activations.get(name)
        params = {k: _value(v) for k, v in accepted_params(factory).items()}
        acts.append({"name": name, "formula": a.formula, "params": params,
                     "alias_of": activations.ALIASES.get(name)})
    sets = []
    for name in limits.TRAIN_DATASETS:
        s = data.get(name)
        sets.append({"name": name, "plot_2d": bool(s.plot_2d), "n_train": s.n_train, "n_test": s.n_test,
                     "classes": s.n_classes if isinstance(s.n_classes, int) else None,
                     "params": {k: _value(p.default) for k, p in s.params.items()}, "summary": s.summary})
    opts = [{"name": d["name"], "params": {k: _value(v) for k, v in d["parameters"].items()}}
            for d in optimizers.describe()]
    defaults = Config()
    return {
        "train": train,
        "initializers": inits, "activations": acts, "datasets": sets, "optimizers": opts,
        "dtypes": list(DTYPES), "distributions": list(DISTRIBUTIONS), "losses": list(LOSSES),
        "train_losses": list(TRAIN_LOSSES),
        "step0_defaults": {
            "seed": defaults.seed, "dtype": STEP0_DTYPE,
            **{f"input.{f.name}": _value(getattr(defaults.input, f.name)) for f in fields(defaults.input)},
            "network.depth": defaults.network.depth, "network.width": defaults.network.width,
            "network.activation": defaults.network.activation.name,
            "network.initializer": defaults.network.initializer.name, "network.bias": defaults.network.bias,
            "backward.enabled": defaults.backward.enabled, "backward.loss": defaults.backward.loss,
            "stats.bins": defaults.stats.bins},
        "train_defaults": DEFAULT_TRAIN, "train_runs": list(DEFAULT_RUNS),
        "limits": {k: getattr(limits, k) for k in dir(limits) if k.startswith("MAX_")},
        "phase": {"sw2": compute.PHASE_SW2, "sb2": compute.PHASE_SB2},
    }
