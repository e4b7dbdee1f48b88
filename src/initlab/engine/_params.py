"""Calling a registry factory with user-given parameters, checked against its signature."""

from __future__ import annotations

import inspect
from typing import Callable

from initlab.errors import ConfigError, suggest


def accepted_params(factory: Callable) -> dict[str, object]:
    """The keyword parameters of ``factory`` and their defaults (``inspect.Parameter.empty``
    for required ones)."""
    sig = inspect.signature(factory)
    return {
        p.name: p.default
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def call_with_params(factory: Callable, params: dict, what: str):
    """``factory(**params)`` after checking every key is a parameter of ``factory``.

    Unknown keys raise a :class:`ConfigError` whose field is the key, naming the valid
    parameters and the closest one. A ``ConfigError`` raised by the factory for a bad value is
    passed on with its field (the parameter name).
    """
    valid = accepted_params(factory)
    for key in params:
        if key not in valid:
            names = ", ".join(valid) if valid else "none"
            raise ConfigError(
                str(key), f"{what} has no parameter '{key}'{suggest(str(key), valid)}; valid: {names}"
            )
    missing = [k for k, d in valid.items() if d is inspect.Parameter.empty and k not in params]
    if missing:
        raise ConfigError(missing[0], f"{what} needs parameter '{missing[0]}'")
    try:
        return factory(**params)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:  # e.g. float("abc") inside a factory
        raise ConfigError(None, f"{what}: {exc}") from None
