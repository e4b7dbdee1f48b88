"""Training configuration (``initlab train``): frozen dataclasses, built and validated from
plain dicts with the same one-line error contract as run configs (dotted field, YAML line or
"(from the command line)", valid choices, did-you-mean).

```yaml
name: circles_he
seed: 1
dtype: float64
data: {name: circles, n_train: 300, n_test: 100, standardize: false, noise: 0.05}
network: {depth: 2, width: [10, 5], activation: relu, initializer: he, bias: 0.0,
          norm: none, dropout: 0.0}
train:
  steps: 15000              # or epochs: N (updates = N * floor(n_train / batch))
  batch: full               # or an integer <= n_train
  optimizer: {name: sgd, lr: 0.01, momentum: 0.0, nesterov: false}   # adam/adamw: betas, eps
  loss: bce                 # default: softmax_ce (classification), mse (regression)
  weight_decay: 0.0
  clip: none                # or {norm: 1.0} | {value: 0.5}
  lr_schedule: constant     # or {name: cosine, eta_min: 0} | {name: step, step_size: 1000, gamma: 0.1}
  eval_every: 100
  stats_every: 500          # 0: no per-layer statistics
  probe: 256                # rows of the fixed probe batch the statistics are measured on
  threshold: {metric: train_acc, value: 0.95}
stats: {histograms: true, bins: 50, range: null}
pretrain: {method: autoencoder, epochs: 5, lr: 0.01, noise: 0.0, tied: true}   # optional (docs/datainit.md)
```

Defaults that depend on the data set are resolved here, so the resolved config (``config.yaml``)
says what ran: ``train.loss`` (``softmax_ce`` for classification, ``mse`` for regression),
``train.threshold`` (``train_acc >= 0.95`` for classification, ``train_loss <= 0.01`` for
regression), a cosine schedule's ``total_steps`` (the number of updates; for ``epochs`` on a
pool-sized data set without ``data.n_train``, filled in once the data set is loaded).

Checks that need the data itself (a batch larger than a pool-sized training split, ``bce`` on a
data set that turns out to have more than two classes, missing IDX files) are made when the data
set is loaded (:mod:`initlab.runs.train`); :class:`Source` places those errors at their YAML
line too.
"""


from dataclasses import dataclass, field
from typing import Any, Mapping

from initlab.config.datainit import pretrain_dict
from initlab.config.overrides import _deep_copy
from initlab.config.parse import Ctx, printable, type_name
from initlab.config.schema import TOP_LABEL, Spec
from initlab.errors import ConfigError, suggest
from initlab.config.train_parse import components_of, from_dict, n_classes_of  # noqa: F401
from initlab.config.train_schema import (  # noqa: F401 (re-exported: the training config's names)
    LOSSES, METRICS, NAMED, NORMS, SECTION_KEYS, TOP_FIELDS, ClipConfig, DataConfig, OptimizerConfig,
    ThresholdConfig, TrainConfig, TrainNetworkConfig, TrainSection)


# --- serialization -----------------------------------------------------------------------------

def to_dict(cfg: TrainConfig) -> dict:
    """The plain-data form of ``cfg`` (round-trips through :func:`from_dict`)."""
    def spec(s):
        return s.to_yaml() if isinstance(s, Spec) else s

    d, n, t = cfg.data, cfg.network, cfg.train
    data = {"name": d.name, "n_train": d.n_train, "n_test": d.n_test, "standardize": d.standardize,
            **d.kwargs}
    train: dict[str, Any] = {}
    if t.epochs is not None:
        train["epochs"] = t.epochs
    else:
        train["steps"] = t.steps
    train.update({
        "batch": "full" if t.batch is None else t.batch,
        "optimizer": {"name": t.optimizer.name, "lr": t.optimizer.lr,
                      **{k: list(v) if isinstance(v, tuple) else v for k, v in t.optimizer.params}},
        "loss": t.loss,
        "clip": "none" if t.clip.kind == "none" else {t.clip.kind: t.clip.value},
        "lr_schedule": spec(t.lr_schedule),
        "eval_every": t.eval_every, "stats_every": t.stats_every, "probe": t.probe,
        "threshold": {"metric": t.threshold.metric, "value": t.threshold.value},
    })
    return {
        "name": cfg.name, "seed": cfg.seed, "dtype": cfg.dtype, "data": data,
        "network": {"depth": n.depth, "width": list(n.width) if isinstance(n.width, tuple) else n.width,
                    "activation": spec(n.activation), "initializer": spec(n.initializer),
                    "bias": spec(n.bias), "norm": n.norm, "dropout": n.dropout},
        "train": train,
        "stats": {"histograms": cfg.stats.histograms, "bins": cfg.stats.bins,
                  "range": list(cfg.stats.range) if cfg.stats.range else None},
        **({} if pretrain_dict(cfg.pretrain) is None else {"pretrain": pretrain_dict(cfg.pretrain)}),
    }


# --- overrides ---------------------------------------------------------------------------------

def apply_set(data: dict, dotted: str, value: Any) -> dict:
    """A copy of ``data`` with ``dotted`` (``train.optimizer.lr``) set to ``value``.

    The top key and a section's key must be known (did-you-mean otherwise); below that, keys
    name parameters (of the data set, optimizer, schedule, initializer...), checked when the
    config is built. A bare name under a key in :data:`NAMED` becomes ``{name: ...}`` when a
    parameter is set under it; ``train.clip: none`` becomes a mapping the same way."""
    parts = dotted.split(".")
    if not dotted or any(not p for p in parts):
        raise ConfigError("--set", f"'{dotted}' is not a dotted key like train.steps")
    top = parts[0]
    if top not in TOP_FIELDS:
        raise ConfigError(dotted, f"--set: unknown key '{top}'{suggest(top, TOP_FIELDS)}; "
                                  f"valid: {', '.join(TOP_FIELDS)}")
    out = _deep_copy(data)
    if len(parts) == 1:
        if top in SECTION_KEYS:
            raise ConfigError(dotted, f"--set: '{top}' is a section; set one of its keys")
        out[top] = value
        return out
    if top not in SECTION_KEYS:
        raise ConfigError(dotted, f"--set: '{top}' has no sub-keys")
    keys = SECTION_KEYS[top]
    if keys is not None and parts[1] not in keys:
        raise ConfigError(dotted, f"--set: unknown key '{parts[1]}'{suggest(parts[1], keys)}; "
                                  f"valid: {', '.join(keys)}")
    node = out
    for i, key in enumerate(parts[:-1]):
        nxt = node.get(key)
        here = ".".join(parts[: i + 1])
        if isinstance(nxt, str) and here in NAMED:
            nxt = {"name": nxt}
        elif here == "train.clip" and (nxt is None or nxt == "none"):
            nxt = {}
        elif nxt is None:
            nxt = {}
        if not isinstance(nxt, dict):
            raise ConfigError(dotted, f"--set: '{here}' is {type_name(nxt)} {nxt!r}, not a mapping; "
                                      f"set {here}=... instead")
        node[key] = nxt
        node = nxt
    parent = ".".join(parts[:-1])
    if parts[-1] == "name" and parent in NAMED:  # a new name: the old parameters go with the old one
        node.clear()
    node[parts[-1]] = value
    return out


def resolve(data: Mapping | None, *, lines: Mapping[str, int] | None = None, default_name: str = "train",
            sets: list[tuple[str, Any]] = (), seed: int | None = None) -> tuple[TrainConfig, "Source"]:
    """Defaults < ``data`` (the file) < ``sets`` (``--set``) < ``seed`` (``--seed``). Returns the
    config and its :class:`Source` (to place later errors at their YAML line)."""
    if data is not None and not isinstance(data, Mapping):
        raise Ctx(lines).err("", f"must be a mapping of sections with keys {', '.join(TOP_FIELDS)}, "
                                  f"got {type_name(data)}")
    d = _deep_copy(dict(data or {}))
    overrides = list(sets)
    if seed is not None:
        overrides.append(("seed", seed))
    for dotted, value in overrides:
        try:
            d = apply_set(d, dotted, value)
        except ConfigError as e:
            raise ConfigError(printable(e.field or "--set"), printable(e.detail)) from None
    src = Source(dict(lines or {}), tuple(dotted for dotted, _ in overrides))
    return from_dict(d, src.lines, default_name=default_name, overridden=src.overridden), src


@dataclass(frozen=True)
class Source:
    """Where a config's values came from: YAML lines and the keys set on the command line."""

    lines: dict = field(default_factory=dict)
    overridden: tuple[str, ...] = ()

    def place(self, e: ConfigError) -> ConfigError:
        """``e`` at its YAML line (or marked as from the command line), when it has a field and
        no line yet."""
        if e.line is not None or not e.field or e.field in ("--set", "--out", TOP_LABEL):
            return e
        if e.detail.startswith("(from the command line)"):
            return e
        return Ctx(self.lines, self.overridden).err(e.field, e.detail)
