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

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from initlab.config import (TOP_LABEL, Spec, StatsConfig, _bool, _choice, _Ctx, _check_params, _deep_copy,
                            _float, _int, _mapping, _spec, _type_name, printable)
from initlab.errors import ConfigError, suggest, unknown

DTYPES = ("float32", "float64")
NORMS = ("none", "batch", "layer")
LOSSES = ("softmax_ce", "bce", "mse")
METRICS = ("train_acc", "test_acc", "train_loss", "test_loss")
CLIPS = ("norm", "value")
DEFAULT_STEPS = 1000
DEFAULT_THRESHOLD = {"classification": ("train_acc", 0.95), "regression": ("train_loss", 0.01)}


@dataclass(frozen=True)
class DataConfig:
    """``name`` plus the data set's own parameters (``params``, sorted pairs; lists as tuples)."""

    name: str = "circles"
    n_train: int | None = None
    n_test: int | None = None
    standardize: bool = True
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.params}


@dataclass(frozen=True)
class TrainNetworkConfig:
    depth: int = 2
    width: int | tuple[int, ...] = 10
    activation: Spec = Spec("relu")
    initializer: Spec = Spec("he")
    bias: float | Spec = 0.0
    norm: str = "none"
    dropout: float = 0.0

    @property
    def widths(self) -> tuple[int, ...]:
        """Hidden widths, one per layer (``depth`` entries)."""
        return self.width if isinstance(self.width, tuple) else (self.width,) * self.depth


@dataclass(frozen=True)
class OptimizerConfig:
    """``name``, ``lr`` and the optimizer's other parameters (sorted pairs, as given)."""

    name: str = "sgd"
    lr: float = 0.01
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True)
class ClipConfig:
    kind: str = "none"  # none | norm | value
    value: float | None = None


@dataclass(frozen=True)
class ThresholdConfig:
    metric: str = "train_acc"
    value: float = 0.95


@dataclass(frozen=True)
class TrainSection:
    steps: int = DEFAULT_STEPS       # updates; from epochs when given (for a pool-sized data set
                                     # without data.n_train: recomputed once the data is loaded)
    epochs: int | None = None
    batch: int | None = None         # None: full batch
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    loss: str = "softmax_ce"
    weight_decay: float = 0.0
    clip: ClipConfig = field(default_factory=ClipConfig)
    lr_schedule: Spec = Spec("constant")
    eval_every: int = 100
    stats_every: int = 500
    probe: int = 256
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)


@dataclass(frozen=True)
class TrainConfig:
    name: str = "train"
    seed: int = 0
    dtype: str = "float64"
    data: DataConfig = field(default_factory=DataConfig)
    network: TrainNetworkConfig = field(default_factory=TrainNetworkConfig)
    train: TrainSection = field(default_factory=TrainSection)
    stats: StatsConfig = field(default_factory=StatsConfig)


TOP_FIELDS = tuple(f.name for f in fields(TrainConfig))
DATA_KEYS = ("name", "n_train", "n_test", "standardize")
NETWORK_KEYS = tuple(f.name for f in fields(TrainNetworkConfig))
TRAIN_KEYS = tuple(f.name for f in fields(TrainSection))
STATS_KEYS = tuple(f.name for f in fields(StatsConfig))
SECTION_KEYS = {"data": None, "network": NETWORK_KEYS, "train": TRAIN_KEYS, "stats": STATS_KEYS}
# Keys whose value may be a name or a mapping with a name (a bare name becomes {name: ...} when
# --set gives it a parameter).
NAMED = ("network.activation", "network.initializer", "network.bias", "train.optimizer",
         "train.lr_schedule")


# --- building from a plain mapping -------------------------------------------------------------

def _sized(ctx: _Ctx, path: str, v: Any) -> int | None:
    return None if v is None else _int(ctx, path, v)


def _data(ctx: _Ctx, d: Any):
    from initlab import data as datasets
    from initlab.data.base import resolve_params

    if d is None:
        d = {}
    if not isinstance(d, Mapping):
        raise ctx.err("data", f"must be a mapping with a name and the data set's parameters, got {_type_name(d)}")
    name = d.get("name", DataConfig.name)
    if not isinstance(name, str):
        raise ctx.err("data.name", f"must be a data set name, got {_type_name(name)} {name!r}")
    try:
        spec = datasets.get(name)
    except ConfigError as e:
        raise ctx.err("data.name", e.detail) from None
    given = {}
    for k, v in d.items():
        if k in DATA_KEYS:
            continue
        if not isinstance(k, str):
            raise ctx.err("data", f"a key must be a name, got {k!r}")
        given[k] = v
    try:
        resolved = resolve_params(spec, given)
    except ConfigError as e:
        if e.detail.startswith(f"dataset '{name}' has no parameter"):
            valid = ", ".join(list(DATA_KEYS) + list(spec.params))
            raise ctx.err(e.field, f"unknown key '{e.field.split('.', 1)[1]}' for dataset '{name}'"
                                   f"{suggest(e.field.split('.', 1)[1], list(DATA_KEYS) + list(spec.params))}; "
                                   f"valid: {valid}") from None
        raise ctx.err(e.field, e.detail) from None
    params = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in given.items()
                          if k in resolved))
    cfg = DataConfig(
        name=name,
        n_train=_sized(ctx, "data.n_train", d.get("n_train")),
        n_test=_sized(ctx, "data.n_test", d.get("n_test")),
        standardize=_bool(ctx, "data.standardize", d.get("standardize", True)),
        params=params,
    )
    return cfg, spec, resolved


def n_classes_of(spec, resolved: dict) -> int | None:
    """Classes of a classification data set as configured (``None`` for regression)."""
    if spec.task != "classification":
        return None
    c = resolved.get("classes")
    if isinstance(c, (list, tuple)):
        return len(c)
    if isinstance(c, int) and not isinstance(c, bool):
        return c
    return spec.n_classes if isinstance(spec.n_classes, int) else None


def _network(ctx: _Ctx, d: Any) -> TrainNetworkConfig:
    d = _mapping(ctx, "network", d, TrainNetworkConfig)
    depth = _int(ctx, "network.depth", d.get("depth", TrainNetworkConfig.depth))
    w = d.get("width", TrainNetworkConfig.width)
    if isinstance(w, list):
        if len(w) != depth:
            raise ctx.err("network.width", f"a list of widths needs network.depth = {depth} entries, "
                                           f"got {len(w)}")
        width: int | tuple[int, ...] = tuple(_int(ctx, f"network.width.{i}", x) for i, x in enumerate(w))
    else:
        width = _int(ctx, "network.width", w)
    b = d.get("bias", 0.0)
    bias = _spec(ctx, "network.bias", b) if isinstance(b, (str, Mapping)) else _float(ctx, "network.bias", b)
    dropout = _float(ctx, "network.dropout", d.get("dropout", 0.0))
    if not 0.0 <= dropout < 1.0:
        raise ctx.err("network.dropout", f"must be a probability in [0, 1), got {dropout:g}")
    return TrainNetworkConfig(
        depth=depth, width=width,
        activation=_spec(ctx, "network.activation", d.get("activation", "relu")),
        initializer=_spec(ctx, "network.initializer", d.get("initializer", "he")),
        bias=bias,
        norm=_choice(ctx, "network.norm", d.get("norm", "none"), NORMS, "norm"),
        dropout=dropout,
    )


def _optimizer(ctx: _Ctx, v: Any, weight_decay: float | None) -> OptimizerConfig:
    from initlab.training import optimizers

    path = "train.optimizer"
    if isinstance(v, str):
        v = {"name": v}
    if v is None:
        v = {}
    if not isinstance(v, Mapping):
        raise ctx.err(path, f"must be an optimizer name ({', '.join(optimizers.OPTIMIZERS)}) or a mapping "
                            f"with name, lr and parameters, got {_type_name(v)} {v!r}")
    name = v.get("name", "sgd")
    if not isinstance(name, str) or name not in optimizers.OPTIMIZERS:
        e = unknown("optimizer", name, optimizers.OPTIMIZERS)
        raise ctx.err(f"{path}.name", e.detail)
    lr = v.get("lr", 0.01 if name == "sgd" else 1e-3)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)):
        raise ctx.err(f"{path}.lr", f"must be a number > 0, got {_type_name(lr)} {lr!r}")
    if not math.isfinite(lr) or lr <= 0:
        raise ctx.err(f"{path}.lr", f"must be a finite number > 0, got {lr!r}")
    params = {}
    for k, p in v.items():
        if k in ("name", "lr"):
            continue
        if isinstance(p, list):
            p = tuple(p)
        if isinstance(p, Mapping) or p is None:
            raise ctx.err(f"{path}.{k}", f"must be a number, a boolean or a pair, got {_type_name(p)}")
        params[str(k)] = p
    if weight_decay is not None:
        if "weight_decay" in params and params["weight_decay"] != weight_decay:
            raise ctx.err("train.weight_decay", f"given twice with different values ({weight_decay:g} here, "
                                                f"{params['weight_decay']!r} in train.optimizer); give it once")
        params["weight_decay"] = weight_decay
    try:
        optimizers.get(name, lr=float(lr), **params)
    except ConfigError as e:
        raise ctx.err(e.field or path, e.detail) from None
    except (TypeError, ValueError) as e:
        raise ctx.err(path, str(e)) from None
    return OptimizerConfig(name=name, lr=float(lr), params=tuple(sorted(params.items())))


def _default_decay(name: str) -> float:
    from initlab.training import optimizers

    return optimizers.OPTIMIZERS[name].parameters.get("weight_decay", 0.0)


def _clip(ctx: _Ctx, v: Any) -> ClipConfig:
    if v is None or v == "none":
        return ClipConfig()
    if not isinstance(v, Mapping) or len(v) != 1:
        raise ctx.err("train.clip", f"must be none, {{norm: max_norm}} or {{value: clip_value}}, got {v!r}")
    (kind, x), = v.items()
    if kind not in CLIPS:
        raise ctx.err(f"train.clip.{kind}", f"unknown key '{kind}'{suggest(str(kind), CLIPS)}; valid: norm, value")
    return ClipConfig(kind, _float(ctx, f"train.clip.{kind}", x, positive=True))


def _schedule(ctx: _Ctx, v: Any, base_lr: float, steps: int | None) -> Spec:
    from initlab.training import schedules

    path = "train.lr_schedule"
    if v is None:
        v = "constant"
    if isinstance(v, Mapping) and "name" not in v:
        raise ctx.err(path, f"needs a 'name' key; valid names: {', '.join(schedules.SCHEDULES)}")
    if not isinstance(v, (str, Mapping)):
        raise ctx.err(path, f"must be a schedule name ({', '.join(schedules.SCHEDULES)}) or a mapping with "
                            f"name and parameters, got {_type_name(v)} {v!r}")
    name = v if isinstance(v, str) else v["name"]
    params = {} if isinstance(v, str) else {k: p for k, p in v.items() if k != "name"}
    check = dict(params)
    if name == "cosine" and "total_steps" not in params:
        check["total_steps"] = steps or 1
        if steps is not None:  # else filled in once the data set's size is known
            params["total_steps"] = steps
    try:
        schedules.get(name, base_lr, **check)
    except ConfigError as e:
        field_ = e.field or path
        if field_ == path and isinstance(v, Mapping):
            field_ = f"{path}.name"  # the mapping's name is what is unknown
        raise ctx.err(field_, e.detail) from None
    except (TypeError, ValueError) as e:
        raise ctx.err(path, str(e)) from None
    return Spec(name, tuple(sorted(params.items())))


def _threshold(ctx: _Ctx, v: Any, task: str) -> ThresholdConfig:
    metric, value = DEFAULT_THRESHOLD[task]
    if v is None:
        return ThresholdConfig(metric, value)
    if not isinstance(v, Mapping):
        raise ctx.err("train.threshold", f"must be a mapping {{metric: ..., value: ...}} with metric one of "
                                         f"{', '.join(METRICS)}, got {_type_name(v)} {v!r}")
    v = _mapping(ctx, "train.threshold", v, ThresholdConfig)
    metric = _choice(ctx, "train.threshold.metric", v.get("metric", metric), METRICS, "metric")
    if metric.endswith("_acc") and task != "classification":
        raise ctx.err("train.threshold.metric", "a regression data set has no accuracy; valid: "
                                                "train_loss, test_loss")
    value = _float(ctx, "train.threshold.value", v.get("value", value))
    return ThresholdConfig(metric, value)


def from_dict(data: Any, lines: Mapping[str, int] | None = None, default_name: str = "train",
              overridden: tuple[str, ...] = ()) -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from a plain mapping (parsed YAML)."""
    ctx = _Ctx(lines, overridden)
    if data is None:
        data = {}
    top = _mapping(ctx, "", data, TrainConfig)

    name = top.get("name", default_name)
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ctx.err("name", f"must be a non-empty folder name without '/', got {name!r}")
    seed = _int(ctx, "seed", top.get("seed", 0), minimum=0)
    dtype = _choice(ctx, "dtype", top.get("dtype", "float64"), DTYPES, "dtype")

    data_cfg, spec, resolved = _data(ctx, top.get("data"))
    net = _network(ctx, top.get("network"))
    _check_network_components(ctx, net)

    t = _mapping(ctx, "train", top.get("train"), TrainSection)
    steps_given, epochs_given = t.get("steps"), t.get("epochs")
    if steps_given is not None and epochs_given is not None:
        raise ctx.err("train.epochs", "give train.steps or train.epochs, not both")
    # a pool-sized set (digits, the IDX sets) has at most spec.n_train rows (fewer with a subset
    # of classes: checked again once the data is loaded)
    n_train = data_cfg.n_train if data_cfg.n_train is not None else spec.n_train
    exact = data_cfg.n_train is not None or not spec.sized_by_pool
    b = t.get("batch", "full")
    if b == "full" or b is None:
        batch = None
    elif isinstance(b, str):
        raise ctx.err("train.batch", f"must be full or an integer >= 1, got {b!r}")
    else:
        batch = _int(ctx, "train.batch", b)
        if n_train is not None and batch > n_train:
            raise ctx.err("train.batch", f"must be at most the training set's {n_train} rows (data.n_train), "
                                         f"got {batch}; or full")
        if exact and batch == n_train:
            batch = None
    if net.norm == "batch" and batch is not None and batch < 2:
        raise ctx.err("train.batch", "batch norm needs at least 2 rows per batch, got 1")
    if epochs_given is not None:
        epochs = _int(ctx, "train.epochs", epochs_given)
        per_epoch = 1 if (batch is None or not exact) else n_train // batch
        steps = epochs * per_epoch  # pool-sized sets: recomputed once the data is loaded
    else:
        epochs = None
        steps = _int(ctx, "train.steps", DEFAULT_STEPS if steps_given is None else steps_given)

    loss = t.get("loss")
    classes = n_classes_of(spec, resolved)
    if loss is None:
        loss = "softmax_ce" if spec.task == "classification" else "mse"
    loss = _choice(ctx, "train.loss", loss, LOSSES, "loss")
    if spec.task != "classification" and loss != "mse":
        raise ctx.err("train.loss", f"data set '{spec.name}' is a regression task; valid: mse")
    if loss == "bce" and classes is not None and classes > 2:
        raise ctx.err("train.loss", f"bce has one sigmoid output for two classes, data set '{spec.name}' "
                                    f"has {classes}; valid: softmax_ce, mse")

    wd = t.get("weight_decay")
    wd = None if wd is None else _float(ctx, "train.weight_decay", wd)
    if wd is not None and wd < 0:
        raise ctx.err("train.weight_decay", f"must be >= 0, got {wd:g}")
    opt = _optimizer(ctx, t.get("optimizer"), wd)
    eval_every = _int(ctx, "train.eval_every", t.get("eval_every", 100))
    stats_every = _int(ctx, "train.stats_every", t.get("stats_every", 500), minimum=0)
    train = TrainSection(
        steps=steps, epochs=epochs, batch=batch, optimizer=opt, loss=loss,
        weight_decay=dict(opt.params).get("weight_decay", _default_decay(opt.name)),
        clip=_clip(ctx, t.get("clip")),
        lr_schedule=_schedule(ctx, t.get("lr_schedule"), opt.lr, steps if epochs is None or exact else None),
        eval_every=eval_every, stats_every=stats_every,
        probe=_int(ctx, "train.probe", t.get("probe", 256)),
        threshold=_threshold(ctx, t.get("threshold"), spec.task),
    )

    d = _mapping(ctx, "stats", top.get("stats"), StatsConfig)
    rng = d.get("range")
    if rng is not None:
        if not isinstance(rng, list) or len(rng) != 2:
            raise ctx.err("stats.range", f"must be a list [low, high], got {rng!r}")
        lo, hi = (_float(ctx, f"stats.range.{i}", x) for i, x in enumerate(rng))
        if not lo < hi:
            raise ctx.err("stats.range", f"needs low < high, got [{lo:g}, {hi:g}]")
        rng = (lo, hi)
    st = StatsConfig(histograms=_bool(ctx, "stats.histograms", d.get("histograms", True)),
                     bins=_int(ctx, "stats.bins", d.get("bins", 50)), range=rng)
    if st.bins > 100_000:
        raise ctx.err("stats.bins", f"must be at most 100000, got {st.bins}")
    return TrainConfig(name=name, seed=seed, dtype=dtype, data=data_cfg, network=net, train=train, stats=st)


def _check_network_components(ctx: _Ctx, net: TrainNetworkConfig) -> None:
    """Resolve the activation and initializers once so bad names and parameters fail here."""
    from initlab.config import components

    holder = _Holder(net)
    for path in ("network.activation", "network.initializer", "network.bias"):
        spec = getattr(net, path.split(".")[1])
        if isinstance(spec, Spec):
            _check_params(ctx, path, spec)
        try:
            components.resolve(holder, path)
        except ConfigError as e:
            sub = f"{path}.{e.field}" if e.field and e.field != "name" else path
            raise ctx.err(sub, e.detail) from None


@dataclass(frozen=True)
class _Holder:
    """What :mod:`initlab.config.components` reads from a config: ``.network``."""

    network: TrainNetworkConfig


def components_of(cfg: TrainConfig):
    """``(activation, weight initializer, bias)`` of ``cfg`` (``gain: auto`` resolved as for
    ``initlab run``)."""
    from initlab.config import components

    h = _Holder(cfg.network)
    return components.activation(h), components.weight_initializer(h), components.bias_initializer(h)


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
            raise ConfigError(dotted, f"--set: '{here}' is {_type_name(nxt)} {nxt!r}, not a mapping; "
                                      f"set {here}=... instead")
        node[key] = nxt
        node = nxt
    node[parts[-1]] = value
    return out


def resolve(data: Mapping | None, *, lines: Mapping[str, int] | None = None, default_name: str = "train",
            sets: list[tuple[str, Any]] = (), seed: int | None = None) -> tuple[TrainConfig, "Source"]:
    """Defaults < ``data`` (the file) < ``sets`` (``--set``) < ``seed`` (``--seed``). Returns the
    config and its :class:`Source` (to place later errors at their YAML line)."""
    if data is not None and not isinstance(data, Mapping):
        raise _Ctx(lines).err("", f"must be a mapping of sections with keys {', '.join(TOP_FIELDS)}, "
                                  f"got {_type_name(data)}")
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
        return _Ctx(self.lines, self.overridden).err(e.field, e.detail)
