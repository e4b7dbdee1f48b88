"""Config specs -> engine objects: the activation, the weight initializer, the bias.

The one module of the config package that imports the engine at the top; the others import
it lazily (``import initlab.config`` stays free of numpy).

A data-dependent spec (``lsuv``, ``from_file``: :mod:`.datainit`) resolves here to its ``base``
initializer, which draws the weights :mod:`initlab.datainit` then fits or replaces.

``gain: auto`` in an initializer spec resolves here to the activation's recommended gain
(:attr:`initlab.engine.activations.Activation.recommended_gain`), so the initializer module stays a
pure function of its own parameters.
"""

from __future__ import annotations

from initlab.config.schema import Config, Spec
from initlab.engine import activations, initializers
from initlab.errors import ConfigError, unknown


def registry(path: str) -> tuple[str, dict]:
    """The kind and the registry a spec field (``network.activation``, ...) names."""
    if path == "network.activation":
        return "activation", activations.ACTIVATIONS
    return "initializer", initializers.INITIALIZERS


def activation(cfg: Config) -> activations.Activation:
    spec = cfg.network.activation
    return activations.get(spec.name, **spec.kwargs)


def _initializer(spec: Spec, cfg: Config) -> initializers.Initializer:
    params = spec.kwargs
    if params.get("gain") == "auto":
        params["gain"] = activation(cfg).recommended_gain
    return initializers.get(spec.name, **params)


def weight_initializer(cfg: Config) -> initializers.Initializer:
    """The initializer that draws the weights; for a data-dependent spec (:mod:`.datainit`) its
    ``base``, whose draws :mod:`initlab.datainit` then fits (LSUV) or partly replaces (from_file)."""
    from initlab.config.datainit import NAMES, data_init, is_data_init

    spec = cfg.network.initializer
    if is_data_init(spec):
        base = data_init(spec).base
        try:
            return initializers.get(base)
        except ConfigError as e:
            raise ConfigError("base", e.detail) from None
    if spec.name not in initializers.INITIALIZERS:
        raise unknown("initializer", spec.name, [*initializers.INITIALIZERS, *NAMES])
    return _initializer(spec, cfg)


def bias_initializer(cfg: Config) -> float | initializers.Initializer:
    """A constant bias, or the initializer that draws bias vectors (shape ``(fan_out,)``)."""
    b = cfg.network.bias
    return _initializer(b, cfg) if isinstance(b, Spec) else float(b)


def resolve(cfg: Config, path: str):
    """Resolve the component at the dotted config ``path`` (for validation)."""
    return {
        "network.activation": activation,
        "network.initializer": weight_initializer,
        "network.bias": bias_initializer,
    }[path](cfg)
