"""Experiment configuration: frozen dataclasses, built and validated from plain dicts.

YAML is only the serialization (see :mod:`initlab.io.configfile`, which also records line
numbers). Precedence is resolved in one place, :func:`resolve`: dataclass defaults < the
file's mapping < command-line overrides (``--seed``, ``--backward``, ``--set a.b=v``).

Every problem raises :class:`~initlab.errors.ConfigError` with the dotted field, the YAML line
when known, and the valid choices.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

from initlab.errors import ConfigError, suggest, unknown

# A single layer's arrays above this many bytes is refused as an impossible size.
MAX_ARRAY_BYTES = 8 * 2**30


@dataclass(frozen=True)
class Spec:
    """A registry name with parameters: ``tanh``, ``{name: normal, std: 0.01}``."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    def to_yaml(self) -> str | dict:
        return {"name": self.name, **self.kwargs} if self.params else self.name

    def label(self) -> str:
        if not self.params:
            return self.name
        return self.name + "(" + ", ".join(f"{k}={_fmt(v)}" for k, v in self.params) + ")"


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


@dataclass(frozen=True)
class InputConfig:
    batch: int = 1000
    dim: int = 500
    distribution: str = "normal"  # normal | uniform
    mean: float = 0.0
    std: float = 1.0
    low: float | None = None  # uniform only; default mean -+ sqrt(3) std (unit variance)
    high: float | None = None


@dataclass(frozen=True)
class NetworkConfig:
    depth: int = 10
    width: int | tuple[int, ...] = 500
    activation: Spec = Spec("tanh")
    initializer: Spec = Spec("xavier")
    bias: float | Spec = 0.0

    @property
    def widths(self) -> tuple[int, ...]:
        """Hidden widths, one per layer (``depth`` entries)."""
        if isinstance(self.width, tuple):
            return self.width
        return (self.width,) * self.depth


@dataclass(frozen=True)
class BackwardConfig:
    enabled: bool = False
    loss: str = "random"  # random | mse | softmax_ce
    classes: int = 10  # softmax_ce readout size


@dataclass(frozen=True)
class StatsConfig:
    histograms: bool = True
    bins: int = 50
    range: tuple[float, float] | None = None  # activation histogram range; None: the activation's


@dataclass(frozen=True)
class Config:
    name: str = "experiment"
    seed: int = 0
    dtype: str = "float64"
    input: InputConfig = field(default_factory=InputConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    backward: BackwardConfig = field(default_factory=BackwardConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)

    def widths(self) -> tuple[int, ...]:
        """All widths, input first: ``(dim, n_1, ..., n_L)``."""
        return (self.input.dim,) + self.network.widths


DTYPES = ("float32", "float64")
DISTRIBUTIONS = ("normal", "uniform")
LOSSES = ("random", "mse", "softmax_ce")
SECTIONS = {"input": InputConfig, "network": NetworkConfig, "backward": BackwardConfig,
            "stats": StatsConfig}
SPEC_FIELDS = ("network.activation", "network.initializer", "network.bias")
TOP_FIELDS = tuple(f.name for f in fields(Config))
# How errors name the whole document (its dotted path is empty).
TOP_LABEL = "config"


def known_fields() -> dict[str, tuple[str, ...]]:
    """Section name -> its keys; ``""`` -> the top-level keys."""
    out = {"": TOP_FIELDS}
    for name, cls in SECTIONS.items():
        out[name] = tuple(f.name for f in fields(cls))
    return out


# --- building from a plain mapping ---------------------------------------------------------

class _Ctx:
    """Carries the YAML line map so every error can name its line."""

    def __init__(self, lines: Mapping[str, int] | None, overridden: tuple[str, ...] = ()):
        self.lines = dict(lines or {})
        self.overridden = overridden

    def err(self, path: str, message: str) -> ConfigError:
        line = self._line(path)
        for o in self.overridden:  # the value came from the command line, not the file
            if path == o or path.startswith(o + "."):
                return ConfigError(printable(path), f"(from the command line) {printable(message)}")
        return ConfigError(printable(path) or TOP_LABEL, printable(message), line)

    def _line(self, path: str) -> int | None:
        line = self.lines.get(path)
        p = path
        while line is None and "." in p:  # fall back to the nearest enclosing key's line
            p = p.rsplit(".", 1)[0]
            line = self.lines.get(p)
        return line


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``), so every message stays one line."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _type_name(v: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            type(None): "empty"}.get(type(v), type(v).__name__)


def _int(ctx: _Ctx, path: str, v: Any, minimum: int | None = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        else:
            raise ctx.err(path, f"must be an integer, got {_type_name(v)} {v!r}")
    if minimum is not None and v < minimum:
        raise ctx.err(path, f"must be an integer >= {minimum}, got {v}")
    return v


def _float(ctx: _Ctx, path: str, v: Any, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ctx.err(path, f"must be a number, got {_type_name(v)} {v!r}")
    v = float(v)
    if not math.isfinite(v):
        raise ctx.err(path, f"must be a finite number, got {v}")
    if positive and v <= 0:
        raise ctx.err(path, f"must be > 0, got {v:g}")
    return v


def _bool(ctx: _Ctx, path: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ctx.err(path, f"must be true or false, got {_type_name(v)} {v!r}")
    return v


def _choice(ctx: _Ctx, path: str, v: Any, choices: tuple[str, ...], kind: str) -> str:
    if not isinstance(v, str) or v not in choices:
        e = unknown(kind, v, choices)
        raise ctx.err(path, e.detail)
    return v


def _mapping(ctx: _Ctx, path: str, v: Any, cls) -> dict:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        what = "a mapping of sections" if not path else "a mapping"
        raise ctx.err(path, f"must be {what} with keys {', '.join(f.name for f in fields(cls))}, "
                            f"got {_type_name(v)}")
    valid = [f.name for f in fields(cls)]
    for k in v:
        if k not in valid:
            sub = f"{path}.{k}" if path else str(k)
            raise ctx.err(sub, f"unknown key '{k}'{suggest(str(k), valid)}; valid: {', '.join(valid)}")
    return dict(v)


def _registry(path: str) -> tuple[str, dict]:
    """The kind and registry a spec field names (imported on first use: numpy)."""
    from initlab.engine import activations, initializers

    if path == "network.activation":
        return "activation", activations.ACTIVATIONS
    return "initializer", initializers.INITIALIZERS


def _names(path: str) -> str:
    kind, registry = _registry(path)
    names = ", ".join(sorted(registry))
    return f"a number or an initializer ({names})" if path == "network.bias" else f"an {kind} ({names})"


def _spec(ctx: _Ctx, path: str, v: Any) -> Spec:
    if isinstance(v, str):
        return Spec(v)
    if isinstance(v, Mapping):
        if "name" not in v:
            raise ctx.err(path, "needs a 'name' key (e.g. {name: normal, std: 0.01}); "
                                f"valid names: {', '.join(sorted(_registry(path)[1]))}")
        name = v["name"]
        if not isinstance(name, str):
            raise ctx.err(f"{path}.name", f"must be {_names(path)}, got {_type_name(name)} {name!r}")
        params = []
        for k, p in v.items():
            if k == "name":
                continue
            if isinstance(p, (Mapping, list)) or p is None:
                raise ctx.err(f"{path}.{k}", f"must be a number or a string, got {_type_name(p)}")
            params.append((str(k), p))
        return Spec(name, tuple(sorted(params)))
    raise ctx.err(path, f"must be {_names(path)} or a mapping with 'name' and parameters, "
                        f"got {_type_name(v)} {v!r}")


def from_dict(data: Any, lines: Mapping[str, int] | None = None, default_name: str = "experiment",
              overridden: tuple[str, ...] = (), check_draws: bool = False) -> Config:
    """Build and validate a :class:`Config` from a plain mapping (parsed YAML).

    ``lines`` maps dotted paths to YAML line numbers; ``overridden`` lists the paths set on
    the command line (their errors say so instead of citing a line). With ``check_draws`` the
    initializers are also drawn once at every fan the run will use (tiny ``(fan_in, 1)``
    draws), so shape-dependent refusals (sparse ``nonzero`` > fan_in) are reported here, with
    their YAML line, instead of when the run draws its weights."""
    ctx = _Ctx(lines, overridden)
    if data is None:
        data = {}
    top = _mapping(ctx, "", data, Config)

    name = top.get("name", default_name)
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ctx.err("name", f"must be a non-empty folder name without '/', got {name!r}")
    seed = _int(ctx, "seed", top.get("seed", 0), minimum=0)
    dtype = _choice(ctx, "dtype", top.get("dtype", "float64"), DTYPES, "dtype")

    d = _mapping(ctx, "input", top.get("input"), InputConfig)
    inp = InputConfig(
        batch=_int(ctx, "input.batch", d.get("batch", 1000)),
        dim=_int(ctx, "input.dim", d.get("dim", 500)),
        distribution=_choice(ctx, "input.distribution", d.get("distribution", "normal"),
                             DISTRIBUTIONS, "input distribution"),
        mean=_float(ctx, "input.mean", d.get("mean", 0.0)),
        std=_float(ctx, "input.std", d.get("std", 1.0), positive=True),
        low=None if d.get("low") is None else _float(ctx, "input.low", d["low"]),
        high=None if d.get("high") is None else _float(ctx, "input.high", d["high"]),
    )
    if inp.distribution == "normal" and (inp.low is not None or inp.high is not None):
        raise ctx.err("input.low" if inp.low is not None else "input.high",
                      "low/high apply to distribution: uniform only; normal takes mean and std")
    if inp.distribution == "uniform" and ((inp.low is None) != (inp.high is None)):
        raise ctx.err("input.low" if inp.low is None else "input.high",
                      "give both low and high, or neither (unit variance around mean)")
    if inp.low is not None and inp.high is not None and not inp.low < inp.high:
        raise ctx.err("input.high", f"must be greater than input.low ({inp.low:g}), got {inp.high:g}")

    d = _mapping(ctx, "network", top.get("network"), NetworkConfig)
    depth = _int(ctx, "network.depth", d.get("depth", 10))
    w = d.get("width", 500)
    if isinstance(w, list):
        if len(w) != depth:
            raise ctx.err("network.width", f"a list of widths needs network.depth = {depth} entries, "
                                           f"got {len(w)}")
        width: int | tuple[int, ...] = tuple(_int(ctx, f"network.width.{i}", x) for i, x in enumerate(w))
    else:
        width = _int(ctx, "network.width", w)
    b = d.get("bias", 0.0)
    bias: float | Spec = b if isinstance(b, (str, Mapping)) else _float(ctx, "network.bias", b)
    net = NetworkConfig(
        depth=depth, width=width,
        activation=_spec(ctx, "network.activation", d.get("activation", "tanh")),
        initializer=_spec(ctx, "network.initializer", d.get("initializer", "xavier")),
        bias=_spec(ctx, "network.bias", bias) if isinstance(bias, (str, Mapping)) else bias,
    )

    d = _mapping(ctx, "backward", top.get("backward"), BackwardConfig)
    bw = BackwardConfig(
        enabled=_bool(ctx, "backward.enabled", d.get("enabled", False)),
        loss=_choice(ctx, "backward.loss", d.get("loss", "random"), LOSSES, "loss"),
        classes=_int(ctx, "backward.classes", d.get("classes", 10), minimum=2),
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
    st = StatsConfig(
        histograms=_bool(ctx, "stats.histograms", d.get("histograms", True)),
        bins=_int(ctx, "stats.bins", d.get("bins", 50)),
        range=rng,
    )
    if st.bins > 100_000:
        raise ctx.err("stats.bins", f"must be at most 100000, got {st.bins}")

    cfg = Config(name=name, seed=seed, dtype=dtype, input=inp, network=net, backward=bw, stats=st)
    _check_sizes(ctx, cfg)
    _check_components(ctx, cfg, check_draws)
    return cfg


def _check_sizes(ctx: _Ctx, cfg: Config) -> None:
    item = 4 if cfg.dtype == "float32" else 8
    widths = cfg.widths()
    worst = max(cfg.input.batch * max(widths), max(a * b for a, b in zip(widths, widths[1:])))
    if worst * item > MAX_ARRAY_BYTES:
        gib = worst * item / 2**30
        field_ = "input.batch" if cfg.input.batch * max(widths) >= worst else "network.width"
        raise ctx.err(field_, f"one layer would need {gib:.1f} GiB (limit {MAX_ARRAY_BYTES / 2**30:.0f} GiB); "
                              "reduce input.batch, input.dim or network.width")


def _check_params(ctx: _Ctx, path: str, spec: Spec) -> None:
    """Type checks the registries leave to ``float()``: a parameter whose default is a number
    must be given a number (a YAML string like ``abc`` or a boolean is refused here, naming the
    parameter), and a required parameter must be present (the message lists them all)."""
    import inspect

    from initlab.engine._params import accepted_params

    kind, registry = _registry(path)
    factory = registry.get(spec.name)
    if factory is None:
        return  # unknown names are reported by the registry lookup, with the valid ones
    accepted = accepted_params(factory)
    given = spec.kwargs
    for key, default in accepted.items():
        if key not in given:
            if default is inspect.Parameter.empty:
                listed = ", ".join(f"{k} (required)" if d is inspect.Parameter.empty else f"{k}={d}"
                                   for k, d in accepted.items())
                raise ctx.err(f"{path}.{key}", f"{kind} '{spec.name}' needs parameter '{key}'; "
                                               f"parameters: {listed}")
            continue
        value = given[key]
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            continue
        if key == "gain" and value == "auto":
            continue
        ok = not isinstance(value, bool)
        if ok and isinstance(value, str):
            try:
                float(value)
            except ValueError:
                ok = False
        if not ok:
            want = "a positive number or auto" if key == "gain" else "a number"
            raise ctx.err(f"{path}.{key}", f"must be {want}, got {_type_name(value)} {value!r}")


def _probe_shapes(cfg: Config) -> dict[str, list[tuple[tuple[int, ...], tuple[int, ...]]]]:
    """``(probe, real)`` shape pairs that exercise every fan the run will draw with: a tiny
    ``(fan_in, 1)`` for each distinct weight fan-in (the readout's too; ``real`` is the first
    layer with that fan-in) and ``(fan_out,)`` for each bias, so shape-dependent refusals
    (sparse ``nonzero`` > fan_in) are found before anything runs."""
    widths = cfg.widths()
    if cfg.backward.enabled and cfg.backward.loss == "softmax_ce":
        widths = widths + (cfg.backward.classes,)
    weight: dict[tuple[int, ...], tuple[int, ...]] = {}
    for fan_in, fan_out in zip(widths, widths[1:]):
        weight.setdefault((fan_in, 1), (fan_in, fan_out))
    bias = {(n,): (n,) for n in cfg.widths()[1:]}
    return {"network.initializer": sorted(weight.items()), "network.bias": sorted(bias.items())}


def _check_components(ctx: _Ctx, cfg: Config, check_draws: bool = False) -> None:
    """Resolve the activation and initializers once so bad names fail before any run, and
    (``check_draws``) draw each initializer at the run's fans (tiny draws) so shape errors fail
    before any run too."""
    import numpy as np

    from initlab.config import components

    def place(path: str, e: ConfigError) -> ConfigError:
        sub = f"{path}.{e.field}" if e.field and e.field != "name" else path
        detail = e.detail
        if path == "network.bias" and e.field is None and detail.startswith("unknown initializer"):
            detail = detail.replace("; valid: ", "; valid: a number, or ", 1)
        return ctx.err(sub, detail)

    for path in SPEC_FIELDS:
        spec = getattr(cfg.network, path.split(".")[1])
        if isinstance(spec, Spec):
            _check_params(ctx, path, spec)
        try:
            component = components.resolve(cfg, path)
        except ConfigError as e:
            raise place(path, e) from None
        if not check_draws or path == "network.activation" or not callable(component):
            continue
        rng = np.random.default_rng(0)
        for probe, real in _probe_shapes(cfg)[path]:
            try:
                component(rng, probe, np.dtype(cfg.dtype))
            except ConfigError as e:
                e = ConfigError(e.field, e.detail.replace(str(probe), str(real)))
                raise place(path, e) from None


def to_dict(cfg: Config) -> dict:
    """The plain-data form of ``cfg`` (round-trips through :func:`from_dict`)."""
    d = asdict(cfg)
    net = d["network"]
    for key in ("activation", "initializer"):
        net[key] = getattr(cfg.network, key).to_yaml()
    net["bias"] = cfg.network.bias.to_yaml() if isinstance(cfg.network.bias, Spec) else cfg.network.bias
    if isinstance(cfg.network.width, tuple):
        net["width"] = list(cfg.network.width)
    if cfg.stats.range is not None:
        d["stats"]["range"] = list(cfg.stats.range)
    return d


# --- overrides -------------------------------------------------------------------------------

def apply_set(data: dict, dotted: str, value: Any) -> dict:
    """Return a copy of the mapping ``data`` with ``dotted`` (``network.depth``) set to ``value``.

    The path must name a known field; below ``network.activation``/``initializer``/``bias`` it
    names a parameter (checked later against the registry). A bare spec string becomes a
    mapping when a parameter is set under it.
    """
    parts = dotted.split(".")
    if not dotted or any(not p for p in parts):
        raise ConfigError("--set", f"'{dotted}' is not a dotted key like network.depth")
    known = known_fields()
    top = parts[0]
    if top not in known[""]:
        raise ConfigError(dotted, f"--set: unknown key '{top}'{suggest(top, known[''])}; "
                                  f"valid: {', '.join(known[''])}")
    out = _deep_copy(data)
    if len(parts) == 1:
        if top in SECTIONS:
            raise ConfigError(dotted, f"--set: '{top}' is a section; set one of its keys "
                                      f"({', '.join(known[top])})")
        out[top] = value
        return out
    if top not in SECTIONS:
        raise ConfigError(dotted, f"--set: '{top}' has no sub-keys")
    sec = out.get(top)
    if sec is None:
        sec = out[top] = {}
    if not isinstance(sec, dict):
        raise ConfigError(dotted, f"--set: '{top}' in the config is not a mapping")
    key = parts[1]
    if key not in known[top]:
        raise ConfigError(dotted, f"--set: unknown key '{key}'{suggest(key, known[top])}; "
                                  f"valid: {', '.join(known[top])}")
    if len(parts) == 2:
        sec[key] = value
        return out
    path2 = f"{top}.{key}"
    if path2 not in SPEC_FIELDS or len(parts) != 3:
        raise ConfigError(dotted, f"--set: '{path2}' has no sub-key '{'.'.join(parts[2:])}'")
    spec = sec.get(key)
    if isinstance(spec, str):
        spec = {"name": spec}
    elif spec is None or not isinstance(spec, dict):
        default = getattr(NetworkConfig(), key)
        if not isinstance(default, Spec) and parts[2] != "name":
            raise ConfigError(dotted, f"--set: '{path2}' is a constant; set {path2}=<initializer> "
                                      "before its parameters")
        spec = {"name": default.name} if isinstance(default, Spec) else {}
    spec = dict(spec)
    spec[parts[2]] = value
    sec[key] = spec
    return out


def _deep_copy(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _deep_copy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_deep_copy(v) for v in d]
    return d


def resolve(data: Mapping | None, *, lines: Mapping[str, int] | None = None, default_name: str = "experiment",
            sets: list[tuple[str, Any]] = (), check_draws: bool = False, **flags: Any) -> Config:
    """Defaults < ``data`` (the file) < ``sets`` (``--set``) < ``flags`` (``seed=``, ``backward=``).

    Flags that are ``None`` are not given. Lines of overridden keys are dropped so errors point
    at the command line, not at the file.
    """
    if data is not None and not isinstance(data, Mapping):
        raise _Ctx(lines).err("", f"must be a mapping of sections with keys {', '.join(TOP_FIELDS)}, "
                                  f"got {_type_name(data)}")
    d = _deep_copy(dict(data or {}))
    lines = dict(lines or {})
    overrides = list(sets)
    if flags.get("seed") is not None:
        overrides.append(("seed", flags["seed"]))
    if flags.get("backward") is not None:
        overrides.append(("backward.enabled", flags["backward"]))
    for dotted, value in overrides:
        try:
            d = apply_set(d, dotted, value)
        except ConfigError as e:
            raise ConfigError(printable(e.field or "--set"), printable(e.detail)) from None
    return from_dict(d, lines, default_name=default_name,
                     overridden=tuple(dotted for dotted, _ in overrides), check_draws=check_draws)


def with_changes(cfg: Config, **sections: Any) -> Config:
    """``dataclasses.replace`` that also accepts ``network={...}`` style section updates."""
    kw = {}
    for k, v in sections.items():
        if isinstance(v, dict):
            kw[k] = replace(getattr(cfg, k), **v)
        else:
            kw[k] = v
    return replace(cfg, **kw)
