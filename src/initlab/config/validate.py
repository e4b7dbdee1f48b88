"""The checks that need the engine: sizes, registry names and parameters, and a draw check.

:func:`check` runs on a structurally valid :class:`~initlab.config.schema.Config` (see
:mod:`.parse`) so every refusal happens before anything runs, named by its dotted field and
YAML line: a layer too large for memory, an unknown activation or initializer, a parameter of
the wrong type or missing, and (``check_draws``) an initializer that refuses the run's shapes.
The engine is imported on first use, so importing the config package stays light.
"""

from __future__ import annotations

import inspect

from initlab.config.parse import Ctx, check_layer_bytes, type_name
from initlab.config.schema import MAX_ARRAY_BYTES, SPEC_FIELDS, Config, Spec
from initlab.errors import ConfigError


def check(ctx: Ctx, cfg: Config, check_draws: bool = False) -> None:
    """Raise the first problem of ``cfg`` as a :class:`ConfigError` placed by ``ctx``."""
    _check_sizes(ctx, cfg)
    _check_components(ctx, cfg, check_draws)


def _check_sizes(ctx: Ctx, cfg: Config) -> None:
    """The largest array of the run against MAX_ARRAY_BYTES; the first check after the
    structural ones (network.depth is already within MAX_DEPTH, so ``widths()`` is small)."""
    item = 4 if cfg.dtype == "float32" else 8
    widths = cfg.widths()
    worst = max(cfg.input.batch * max(widths), max(a * b for a, b in zip(widths, widths[1:])))
    if worst * item > MAX_ARRAY_BYTES:
        gib = worst * item / 2**30
        field_ = "input.batch" if cfg.input.batch * max(widths) >= worst else "network.width"
        raise ctx.err(field_, f"one layer would need {gib:.1f} GiB (limit {MAX_ARRAY_BYTES / 2**30:.0f} GiB); "
                              "reduce input.batch, input.dim or network.width")
    bw = cfg.backward
    if bw.enabled and bw.loss == "softmax_ce":  # the readout: weights (n_L, classes), logits (batch, classes)
        check_layer_bytes(ctx, "backward.classes", max(cfg.input.batch, widths[-1]), bw.classes, item,
                          "reduce backward.classes")


def _check_params(ctx: Ctx, path: str, spec: Spec) -> None:
    """Type checks the registries leave to ``float()``: a parameter whose default is a number
    must be given a number (a YAML string like ``abc`` or a boolean is refused here, naming the
    parameter), and a required parameter must be present (the message lists them all)."""
    from initlab.config.components import registry
    from initlab.engine._params import accepted_params

    kind, factories = registry(path)
    factory = factories.get(spec.name)
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
            raise ctx.err(f"{path}.{key}", f"must be {want}, got {type_name(value)} {value!r}")


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


def _check_components(ctx: Ctx, cfg: Config, check_draws: bool = False) -> None:
    """Resolve the activation and initializers once so bad names fail before any run, and
    (``check_draws``) draw each initializer at the run's fans (tiny draws) so shape errors fail
    before any run too."""
    import numpy as np

    from initlab.config.components import resolve

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
            component = resolve(cfg, path)
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
