"""Where a :class:`~initlab.config.schema.Config` comes from: precedence, overrides, changes.

Every config is built and validated by :func:`from_dict` (:mod:`.parse` then :mod:`.validate`).
Precedence is resolved in one place, :func:`resolve`: dataclass defaults < the file's mapping <
``--set a.b=v`` < the dedicated flags (``--seed``, ``--backward``). :func:`with_changes` derives
a config from another and validates the result the same way, so no config skips the checks.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from initlab.config.parse import Ctx, build, printable, type_name
from initlab.config.schema import (SECTIONS, SPEC_FIELDS, TOP_FIELDS, Config, NetworkConfig, Spec, default,
                                   known_fields, unknown_key)
from initlab.config.validate import check
from initlab.errors import ConfigError


def from_dict(data: Any, lines: Mapping[str, int] | None = None, default_name: str = default(Config, "name"),
              overridden: tuple[str, ...] = (), check_draws: bool = False) -> Config:
    """Build and validate a :class:`Config` from a plain mapping (parsed YAML).

    ``lines`` maps dotted paths to YAML line numbers; ``overridden`` lists the paths set on
    the command line (their errors say so instead of citing a line). With ``check_draws`` the
    initializers are also drawn once at every fan the run will use (tiny ``(fan_in, 1)``
    draws), so shape-dependent refusals (sparse ``nonzero`` > fan_in) are reported here, with
    their YAML line, instead of when the run draws its weights."""
    ctx = Ctx(lines, overridden)
    cfg = build(ctx, data, default_name)
    check(ctx, cfg, check_draws)
    return cfg


def apply_set(data: dict, dotted: str, value: Any) -> dict:
    """Return a copy of the mapping ``data`` with ``dotted`` (``network.depth``) set to ``value``.

    The path must name a known field; below ``network.activation``/``initializer``/``bias`` it
    names a parameter (checked later against the registry). A bare spec string becomes a
    mapping when a parameter is set under it. The rules, applied in command-line order (the
    last ``--set`` wins): setting a component (``network.initializer=xavier``, or in the spec
    syntax ``network.activation=leaky_relu:negative_slope=0.2``, read by
    :func:`initlab.config.scalars.parse_set`) or its ``name`` replaces the component with its
    parameters, so set parameters after the name.
    """
    parts = dotted.split(".")
    if not dotted or any(not p for p in parts):
        raise ConfigError("--set", f"'{dotted}' is not a dotted key like network.depth")
    known = known_fields()
    top = parts[0]
    if top not in known[""]:
        raise ConfigError(dotted, f"--set: {unknown_key(top, known[''])}")
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
        raise ConfigError(dotted, f"--set: {unknown_key(key, known[top])}")
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
        default_ = default(NetworkConfig, key)
        if not isinstance(default_, Spec) and parts[2] != "name":
            raise ConfigError(dotted, f"--set: '{path2}' is a constant; set {path2}=<initializer> "
                                      "before its parameters")
        spec = {"name": default_.name} if isinstance(default_, Spec) else {}
    # a new name is a new component: its parameters are its own, the old ones are dropped
    spec = {"name": value} if parts[2] == "name" else dict(spec)
    spec[parts[2]] = value
    sec[key] = spec
    return out


def _deep_copy(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _deep_copy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_deep_copy(v) for v in d]
    return d


def resolve(data: Mapping | None, *, lines: Mapping[str, int] | None = None,
            default_name: str = default(Config, "name"), sets: list[tuple[str, Any]] = (),
            check_draws: bool = False, **flags: Any) -> Config:
    """Defaults < ``data`` (the file) < ``sets`` (``--set``) < ``flags`` (``seed=``, ``backward=``).

    Flags that are ``None`` are not given. Errors in overridden keys point at the command
    line, not at the file.
    """
    if data is not None and not isinstance(data, Mapping):
        raise Ctx(lines).err("", f"must be a mapping of sections with keys {', '.join(TOP_FIELDS)}, "
                                 f"got {type_name(data)}")
    d = _deep_copy(dict(data or {}))
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
    """``cfg`` with some fields changed, validated like any other config.

    ``dataclasses.replace`` that also accepts section updates as mappings
    (``with_changes(cfg, seed=1, network={"depth": 2, "width": (3, 4)})``). The result goes
    through the full validation (:func:`from_dict`, draw check included): a change that would
    make an invalid config (a width list that does not match the depth, an initializer that
    refuses the new fan-in) is a :class:`ConfigError` naming the field, not a run that
    silently does something else."""
    known = known_fields()
    kw = {}
    for k, v in sections.items():
        if k not in TOP_FIELDS:
            raise ConfigError(k, unknown_key(k, TOP_FIELDS))
        if isinstance(v, Mapping):
            if k not in SECTIONS:
                raise ConfigError(k, f"'{k}' has no sub-keys")
            for sub in v:
                if sub not in known[k]:
                    raise ConfigError(f"{k}.{sub}", unknown_key(str(sub), known[k]))
            v = replace(getattr(cfg, k), **v)
        kw[k] = v
    return from_dict(replace(cfg, **kw), check_draws=True)
