"""Experiment configuration: frozen dataclasses, built and validated from plain dicts.

One concern per module, imports pointing one way (each imports only those above it; tested):

- :mod:`.schema`: the dataclasses (:class:`Config`, :class:`Spec`, ...), their defaults
  (written once, there) and the fixed choices (``DTYPES``, ...). Standard library only.
- :mod:`.components`: specs -> engine objects (activation, initializer with ``gain: auto``,
  bias). Imports the engine.
- :mod:`.parse`: a plain mapping -> :class:`Config`, every key, type and range checked, errors
  naming the dotted field and YAML line; :func:`to_dict` back.
- :mod:`.validate`: the checks that need the engine (names and parameters against the
  registries, sizes, a draw at every fan).
- :mod:`.overrides`: :func:`from_dict` (parse + validate), :func:`resolve` (precedence:
  defaults < file < ``--set`` < flags, in one place), :func:`apply_set`, :func:`with_changes`.
- :mod:`.scalars`: the one reading of a value written as text, shared by files, ``--set`` and
  command-line specs (``normal:std=0.01``). Imports PyYAML; re-exported here lazily.

YAML files are read by :mod:`initlab.io.configfile`, which also records line numbers. Every
problem raises :class:`~initlab.errors.ConfigError` with the dotted field, the YAML line when
known, and the valid choices.
"""

from __future__ import annotations

from initlab.config.overrides import apply_set, from_dict, resolve, with_changes
from initlab.config.parse import printable, to_dict
from initlab.config.schema import (DISTRIBUTIONS, DTYPES, LOSSES, MAX_ARRAY_BYTES, MAX_BINS, MAX_DEPTH, SECTIONS,
                                   SPEC_FIELDS, TOP_FIELDS, TOP_LABEL, BackwardConfig, Config,
                                   InputConfig, NetworkConfig, Spec, StatsConfig, known_fields)

# Imported on first use (PyYAML): ``config.parse_spec`` works, ``import initlab.config`` stays light.
_LAZY = {"parse_scalar": "scalars", "parse_set": "scalars", "parse_spec": "scalars", "spec_text": "scalars"}

__all__ = ["BackwardConfig", "Config", "DISTRIBUTIONS", "DTYPES", "InputConfig", "LOSSES",
           "MAX_ARRAY_BYTES", "MAX_BINS", "MAX_DEPTH", "NetworkConfig", "SECTIONS", "SPEC_FIELDS", "Spec",
           "StatsConfig", "TOP_FIELDS", "TOP_LABEL", "apply_set", "from_dict", "known_fields",
           "printable", "resolve", "to_dict", "with_changes", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"initlab.config.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'initlab.config' has no attribute {name!r}")
