"""Plain mapping (parsed YAML) <-> :class:`~initlab.config.schema.Config`: the structural checks.

:func:`build` checks every key, type and range that needs nothing but the mapping itself and
names each problem by its dotted field and, when known, its YAML line (the :class:`Ctx`
carries the line map). Checks that need the engine (registry names, parameters, sizes, draws)
are :mod:`.validate`'s; :func:`initlab.config.from_dict` runs both. Defaults come from the
dataclasses in :mod:`.schema`, never from here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, fields
from typing import Any, Mapping

from initlab.config.schema import (DISTRIBUTIONS, DTYPES, LOSSES, MAX_ARRAY_BYTES, MAX_BINS, MAX_DEPTH, TOP_LABEL, BackwardConfig,
                                   Config, InputConfig, NetworkConfig, Spec, StatsConfig, default,
                                   unknown_key)
from initlab.errors import ConfigError, unknown


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``), so every message stays one line."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def type_name(v: Any) -> str:
    """How a message names the type of ``v``: ``a mapping``, ``a string``, ``empty``, ``int``."""
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            type(None): "empty"}.get(type(v), type(v).__name__)


class Ctx:
    """Carries the YAML line map so every error can name its line.

    ``overridden`` lists the dotted paths set on the command line: their errors say so
    instead of citing a line of the file."""

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


# --- field checks ----------------------------------------------------------------------------

def _int(ctx: Ctx, path: str, v: Any, minimum: int | None = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        else:
            raise ctx.err(path, f"must be an integer, got {type_name(v)} {v!r}")
    if minimum is not None and v < minimum:
        raise ctx.err(path, f"must be an integer >= {minimum}, got {v}")
    return v


def _float(ctx: Ctx, path: str, v: Any, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ctx.err(path, f"must be a number, got {type_name(v)} {v!r}")
    v = float(v)
    if not math.isfinite(v):
        raise ctx.err(path, f"must be a finite number, got {v}")
    if positive and v <= 0:
        raise ctx.err(path, f"must be > 0, got {v:g}")
    return v


def _bool(ctx: Ctx, path: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ctx.err(path, f"must be true or false, got {type_name(v)} {v!r}")
    return v


def _choice(ctx: Ctx, path: str, v: Any, choices: tuple[str, ...], kind: str) -> str:
    if not isinstance(v, str) or v not in choices:
        raise ctx.err(path, unknown(kind, v, choices).detail)
    return v


def given_keys(ctx: Ctx, path: str, v: Any, cls) -> dict:
    """The keys given in the mapping at ``path`` (None: none), each checked against ``cls``'s
    fields (did-you-mean on an unknown one)."""
    valid = [f.name for f in fields(cls)]
    if v is None:
        return {}
    if isinstance(v, cls):  # a section record (a default, or a config being changed)
        return {k: getattr(v, k) for k in valid}
    if not isinstance(v, Mapping):
        what = "a mapping of sections" if not path else "a mapping"
        raise ctx.err(path, f"must be {what} with keys {', '.join(valid)}, got {type_name(v)}")
    for k in v:
        if k not in valid:
            raise ctx.err(f"{path}.{k}" if path else str(k), unknown_key(str(k), valid))
    return dict(v)


def _section(ctx: Ctx, path: str, v: Any, cls) -> dict:
    """:func:`given_keys`, with ``cls``'s defaults for the keys not given (so ``get(key)``
    below never needs one)."""
    d = given_keys(ctx, path, v, cls)
    return {k: d[k] if k in d else default(cls, k) for k in (f.name for f in fields(cls))}


def _names(path: str) -> str:
    from initlab.config.components import registry  # the engine's registries, for the message

    kind, names = registry(path)
    names = ", ".join(sorted(names))
    return f"a number or an initializer ({names})" if path == "network.bias" else f"an {kind} ({names})"


def _takes_lists(path: str, name: str) -> bool:
    from initlab.config.datainit import KINDS

    return path == "network.initializer" and name in KINDS


def _spec(ctx: Ctx, path: str, v: Any) -> Spec:
    if isinstance(v, Spec):
        return v
    if isinstance(v, str):
        return Spec(v)
    if isinstance(v, Mapping):
        if "name" not in v:
            from initlab.config.components import registry

            raise ctx.err(path, "needs a 'name' key (e.g. {name: normal, std: 0.01}); "
                                f"valid names: {', '.join(sorted(registry(path)[1]))}")
        name = v["name"]
        if not isinstance(name, str):
            raise ctx.err(f"{path}.name", f"must be {_names(path)}, got {type_name(name)} {name!r}")
        params = []
        for k, p in v.items():
            if k == "name":
                continue
            if isinstance(p, list) and _takes_lists(path, name) and all(
                    isinstance(x, (int, float, str)) and not isinstance(x, bool) for x in p):
                p = tuple(p)  # layer lists of the data-dependent initializers (from_file)
            elif isinstance(p, (Mapping, list)) or p is None:
                raise ctx.err(f"{path}.{k}", f"must be a number or a string, got {type_name(p)}")
            params.append((str(k), p))
        return Spec(name, tuple(sorted(params)))
    raise ctx.err(path, f"must be {_names(path)} or a mapping with 'name' and parameters, "
                        f"got {type_name(v)} {v!r}")


# --- sections ----------------------------------------------------------------------------------

def _input(ctx: Ctx, v: Any) -> InputConfig:
    d = _section(ctx, "input", v, InputConfig)
    inp = InputConfig(
        batch=_int(ctx, "input.batch", d["batch"]),
        dim=_int(ctx, "input.dim", d["dim"]),
        distribution=_choice(ctx, "input.distribution", d["distribution"], DISTRIBUTIONS,
                             "input distribution"),
        mean=_float(ctx, "input.mean", d["mean"]),
        std=_float(ctx, "input.std", d["std"], positive=True),
        low=None if d["low"] is None else _float(ctx, "input.low", d["low"]),
        high=None if d["high"] is None else _float(ctx, "input.high", d["high"]),
    )
    if inp.distribution == "normal" and (inp.low is not None or inp.high is not None):
        raise ctx.err("input.low" if inp.low is not None else "input.high",
                      "low/high apply to distribution: uniform only; normal takes mean and std")
    if inp.distribution == "uniform" and ((inp.low is None) != (inp.high is None)):
        raise ctx.err("input.low" if inp.low is None else "input.high",
                      "give both low and high, or neither (unit variance around mean)")
    if inp.low is not None and inp.high is not None and not inp.low < inp.high:
        raise ctx.err("input.high", f"must be greater than input.low ({inp.low:g}), got {inp.high:g}")
    return inp


def depth_of(ctx: Ctx, v: Any) -> int:
    """``network.depth``: an integer in ``[1, MAX_DEPTH]``, checked before any per-layer tuple
    is built (a depth of 1e9 would otherwise build a tuple of 10^9 widths)."""
    depth = _int(ctx, "network.depth", v)
    if depth > MAX_DEPTH:
        raise ctx.err("network.depth", f"must be at most {MAX_DEPTH} (MAX_DEPTH), got {depth}")
    return depth


def check_layer_bytes(ctx: Ctx, path: str, rows: int, cols: int, item: int, hint: str) -> None:
    """Refuse an array of ``rows x cols`` items of ``item`` bytes above :data:`MAX_ARRAY_BYTES`,
    naming ``path`` (checked on the numbers, before anything is allocated)."""
    if rows * cols * item > MAX_ARRAY_BYTES:
        gib = rows * cols * item / 2**30
        raise ctx.err(path, f"one layer would need {gib:.1f} GiB (limit {MAX_ARRAY_BYTES / 2**30:.0f} GiB); "
                            f"{hint}")


def widths(ctx: Ctx, depth: int, w: Any) -> int | tuple[int, ...]:
    """``network.width``: one width for every layer, or a list of ``depth`` widths."""
    depth = depth_of(ctx, depth)
    if isinstance(w, (list, tuple)):
        if len(w) != depth:
            raise ctx.err("network.width", f"a list of widths needs network.depth = {depth} entries, "
                                           f"got {len(w)}")
        return tuple(_int(ctx, f"network.width.{i}", x) for i, x in enumerate(w))
    return _int(ctx, "network.width", w)


def _network(ctx: Ctx, v: Any) -> NetworkConfig:
    d = _section(ctx, "network", v, NetworkConfig)
    depth = depth_of(ctx, d["depth"])
    width = widths(ctx, depth, d["width"])
    b = d["bias"]
    is_spec = isinstance(b, (str, Mapping, Spec))
    bias = b if is_spec else _float(ctx, "network.bias", b)  # a number is checked first
    return NetworkConfig(
        depth=depth, width=width,
        activation=_spec(ctx, "network.activation", d["activation"]),
        initializer=_spec(ctx, "network.initializer", d["initializer"]),
        bias=_spec(ctx, "network.bias", bias) if is_spec else bias,
    )


def _backward(ctx: Ctx, v: Any) -> BackwardConfig:
    d = _section(ctx, "backward", v, BackwardConfig)
    return BackwardConfig(
        enabled=_bool(ctx, "backward.enabled", d["enabled"]),
        loss=_choice(ctx, "backward.loss", d["loss"], LOSSES, "loss"),
        classes=_int(ctx, "backward.classes", d["classes"], minimum=2),
    )


def _stats(ctx: Ctx, v: Any) -> StatsConfig:
    d = _section(ctx, "stats", v, StatsConfig)
    rng = d["range"]
    if rng is not None:
        if not isinstance(rng, (list, tuple)) or len(rng) != 2:
            raise ctx.err("stats.range", f"must be a list [low, high], got {rng!r}")
        lo, hi = (_float(ctx, f"stats.range.{i}", x) for i, x in enumerate(rng))
        if not lo < hi:
            raise ctx.err("stats.range", f"needs low < high, got [{lo:g}, {hi:g}]")
        rng = (lo, hi)
    st = StatsConfig(histograms=_bool(ctx, "stats.histograms", d["histograms"]),
                     bins=_int(ctx, "stats.bins", d["bins"]), range=rng)
    if st.bins > MAX_BINS:
        raise ctx.err("stats.bins", f"must be at most {MAX_BINS}, got {st.bins}")
    if rng is not None:
        from initlab.engine.histograms import MAX_HIST_ABS, range_problem

        why = range_problem(rng[0], rng[1], st.bins)
        if why:
            raise ctx.err("stats.range", f"[{rng[0]:g}, {rng[1]:g}] cannot be a histogram range: {why}; "
                                         f"valid: low < high within +-{MAX_HIST_ABS:g}, at least "
                                         f"{st.bins} x 2.2e-308 apart (or leave it out: the activation's range)")
    return st


def folder_name(ctx: Ctx, name: Any) -> str:
    """``name``: the default result folder's name and the figures' titles, so a non-empty
    string of printable characters (no NUL, newline or other control character) without '/'."""
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ctx.err("name", f"must be a non-empty folder name without '/', got {name!r}")
    if not name.isprintable():
        bad = next(c for c in name if not c.isprintable())
        raise ctx.err("name", f"must be a folder name of printable characters, got {name!r} (with "
                              f"{bad!r}); valid: letters, digits, '-', '_', '.' and spaces")
    return name


def build(ctx: Ctx, data: Any, default_name: str | None = None) -> Config:
    """The :class:`Config` of the mapping ``data`` (``None``: all defaults), structurally
    checked; ``default_name`` (else the schema's) when ``data`` has no ``name``."""
    if default_name is not None and (data is None or isinstance(data, Mapping) and "name" not in data):
        data = {**(data or {}), "name": default_name}
    top = _section(ctx, "", data, Config)
    name = folder_name(ctx, top["name"])
    return Config(
        name=name,
        seed=_int(ctx, "seed", top["seed"], minimum=0),
        dtype=_choice(ctx, "dtype", top["dtype"], DTYPES, "dtype"),
        input=_input(ctx, top["input"]),
        network=_network(ctx, top["network"]),
        backward=_backward(ctx, top["backward"]),
        stats=_stats(ctx, top["stats"]),
    )


def to_dict(cfg: Config) -> dict:
    """The plain-data form of ``cfg`` (round-trips through :func:`initlab.config.from_dict`)."""
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
