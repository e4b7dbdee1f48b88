"""Building a :class:`~initlab.config.train_schema.TrainConfig` from a plain mapping, with the
one-line error contract of run configs (dotted field, YAML line, valid choices, did-you-mean)."""

import math
from dataclasses import dataclass
from typing import Any, Mapping

from initlab.config.parse import (Ctx, _bool, _choice, _float, _int, _stats, folder_name, check_layer_bytes, depth_of, given_keys, _spec,
                                  type_name, widths)
from initlab.config.schema import Spec
from initlab.config.validate import _check_params
from initlab.errors import ConfigError, suggest, unknown
from initlab.config.train_schema import (CLIPS, DATA_KEYS, DEFAULT_STEPS, DEFAULT_THRESHOLD, DTYPES, LOSSES,
                                         METRICS, NORMS, ClipConfig, DataConfig, OptimizerConfig,
                                         ThresholdConfig, TrainConfig, TrainNetworkConfig, TrainSection)


# --- building from a plain mapping -------------------------------------------------------------

def _sized(ctx: Ctx, path: str, v: Any) -> int | None:
    return None if v is None else _int(ctx, path, v)


def _data(ctx: Ctx, d: Any):
    from initlab import data as datasets
    from initlab.data.base import resolve_params

    if d is None:
        d = {}
    if not isinstance(d, Mapping):
        raise ctx.err("data", f"must be a mapping with a name and the data set's parameters, got {type_name(d)}")
    name = d.get("name", DataConfig.name)
    if not isinstance(name, str):
        raise ctx.err("data.name", f"must be a data set name, got {type_name(name)} {name!r}")
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


def _network(ctx: Ctx, d: Any) -> TrainNetworkConfig:
    d = given_keys(ctx, "network", d, TrainNetworkConfig)
    depth = depth_of(ctx, d.get("depth", TrainNetworkConfig.depth))
    width = widths(ctx, depth, d.get("width", TrainNetworkConfig.width))
    ws = width if isinstance(width, tuple) else (width, width)
    for a, b in zip(ws, ws[1:]):  # the hidden weight matrices (float64), before anything is built
        check_layer_bytes(ctx, "network.width", a, b, 8, "reduce network.width")
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


def _optimizer(ctx: Ctx, v: Any, weight_decay: float | None) -> OptimizerConfig:
    from initlab.training import optimizers

    path = "train.optimizer"
    if isinstance(v, str):
        v = {"name": v}
    if v is None:
        v = {}
    if not isinstance(v, Mapping):
        raise ctx.err(path, f"must be an optimizer name ({', '.join(optimizers.OPTIMIZERS)}) or a mapping "
                            f"with name, lr and parameters, got {type_name(v)} {v!r}")
    name = v.get("name", "sgd")
    if not isinstance(name, str) or name not in optimizers.OPTIMIZERS:
        e = unknown("optimizer", name, optimizers.OPTIMIZERS)
        raise ctx.err(f"{path}.name", e.detail)
    lr = v.get("lr", 0.01 if name == "sgd" else 1e-3)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)):
        raise ctx.err(f"{path}.lr", f"must be a number > 0, got {type_name(lr)} {lr!r}")
    if not math.isfinite(lr) or lr <= 0:
        raise ctx.err(f"{path}.lr", f"must be a finite number > 0, got {lr!r}")
    params = {}
    for k, p in v.items():
        if k in ("name", "lr"):
            continue
        if isinstance(p, list):
            p = tuple(p)
        if isinstance(p, Mapping) or p is None:
            raise ctx.err(f"{path}.{k}", f"must be a number, a boolean or a pair, got {type_name(p)}")
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


def _clip(ctx: Ctx, v: Any) -> ClipConfig:
    if v is None or v == "none":
        return ClipConfig()
    if not isinstance(v, Mapping) or len(v) != 1:
        raise ctx.err("train.clip", f"must be none, {{norm: max_norm}} or {{value: clip_value}}, got {v!r}")
    (kind, x), = v.items()
    if kind not in CLIPS:
        raise ctx.err(f"train.clip.{kind}", f"unknown key '{kind}'{suggest(str(kind), CLIPS)}; valid: norm, value")
    return ClipConfig(kind, _float(ctx, f"train.clip.{kind}", x, positive=True))


def _schedule(ctx: Ctx, v: Any, base_lr: float, steps: int | None) -> Spec:
    from initlab.training import schedules

    path = "train.lr_schedule"
    if v is None:
        v = "constant"
    if isinstance(v, Mapping) and "name" not in v:
        raise ctx.err(path, f"needs a 'name' key; valid names: {', '.join(schedules.SCHEDULES)}")
    if not isinstance(v, (str, Mapping)):
        raise ctx.err(path, f"must be a schedule name ({', '.join(schedules.SCHEDULES)}) or a mapping with "
                            f"name and parameters, got {type_name(v)} {v!r}")
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


def _threshold(ctx: Ctx, v: Any, task: str) -> ThresholdConfig:
    metric, value = DEFAULT_THRESHOLD[task]
    if v is None:
        return ThresholdConfig(metric, value)
    if not isinstance(v, Mapping):
        raise ctx.err("train.threshold", f"must be a mapping {{metric: ..., value: ...}} with metric one of "
                                         f"{', '.join(METRICS)}, got {type_name(v)} {v!r}")
    v = given_keys(ctx, "train.threshold", v, ThresholdConfig)
    metric = _choice(ctx, "train.threshold.metric", v.get("metric", metric), METRICS, "metric")
    if metric.endswith("_acc") and task != "classification":
        raise ctx.err("train.threshold.metric", "a regression data set has no accuracy; valid: "
                                                "train_loss, test_loss")
    value = _float(ctx, "train.threshold.value", v.get("value", value))
    return ThresholdConfig(metric, value)


def from_dict(data: Any, lines: Mapping[str, int] | None = None, default_name: str = "train",
              overridden: tuple[str, ...] = ()) -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from a plain mapping (parsed YAML)."""
    ctx = Ctx(lines, overridden)
    if data is None:
        data = {}
    top = given_keys(ctx, "", data, TrainConfig)

    name = folder_name(ctx, top.get("name", default_name))
    seed = _int(ctx, "seed", top.get("seed", 0), minimum=0)
    dtype = _choice(ctx, "dtype", top.get("dtype", "float64"), DTYPES, "dtype")

    data_cfg, spec, resolved = _data(ctx, top.get("data"))
    net = _network(ctx, top.get("network"))
    _check_network_components(ctx, net)

    t = given_keys(ctx, "train", top.get("train"), TrainSection)
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

    st = _stats(ctx, top.get("stats"))  # the same checks as a run's (the range's too)
    from initlab.config.datainit import pretrain

    pre = pretrain(top.get("pretrain"), ctx.err)
    if pre.method != "none" and net.norm != "none":
        raise ctx.err("pretrain.method", f"autoencoder pretraining trains plain layers; it needs network.norm: "
                                         f"none, got {net.norm}")
    return TrainConfig(name=name, seed=seed, dtype=dtype, data=data_cfg, network=net, train=train, stats=st,
                       pretrain=pre)


def _check_network_components(ctx: Ctx, net: TrainNetworkConfig) -> None:
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
