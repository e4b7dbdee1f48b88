"""The data-dependent initializer specs (``lsuv``, ``from_file``) and the ``pretrain:`` section of
training configs: their parameters, defaults and checks. Standard library only.

A config names a data-dependent initialization like any other initializer::

    network:
      initializer: {name: lsuv, base: orthogonal, tol: 0.1, max_iter: 10, batch: 256}
      # or: {name: from_file, path: results/digits_0to4/weights.npz, layers: [1, 2], freeze: [1]}
    pretrain: {method: autoencoder, epochs: 5, lr: 0.01, noise: 0.0, tied: true}

Config only *names* them: :func:`data_init` turns the spec into a frozen record
(:class:`Lsuv`, :class:`FromFile`) whose ``base`` is the ordinary engine initializer that draws
the starting weights (:mod:`.components` resolves a data-dependent spec to that base, so every
check and draw of the config works unchanged). The work that needs data or files (the LSUV
batch, reading ``weights.npz``, the autoencoders) is :mod:`initlab.datainit`'s, which turns the
drawn parameters into :class:`~initlab.engine.parameters.StoredParameters` before the passes
run. The engine never sees a file or a data set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Mapping

from initlab.config.schema import Spec
from initlab.errors import ConfigError, suggest

PRETRAIN_METHODS = ("none", "autoencoder")
WHICH = ("final", "init")


@dataclass(frozen=True)
class Lsuv:
    """LSUV (Mishkin & Matas 2015, Alg. 1): ``base`` pre-init (orthonormal in the paper), then
    per layer scale W until ``|Var(z) - 1| <= tol`` on a batch of ``batch`` rows, at most
    ``max_iter`` rescalings; ``center``: then shift the bias so the mean of z is 0;
    ``min_width``: leave layers narrower than this at their base init (LSUV-keras skips < 32)."""

    base: str = "orthogonal"
    tol: float = 0.1
    max_iter: int = 10
    batch: int = 256
    center: bool = False
    min_width: int = 1


@dataclass(frozen=True)
class FromFile:
    """Layers copied from a ``weights.npz`` initlab wrote (``initlab run --save-weights``: W1,
    b1, ...; ``initlab train --save-weights``: ``final_W1``/``init_W1`` ..., chosen by
    ``which``). ``layers``: the layers to copy (``()``: every layer the file has, in order, up
    to the network's depth + readout); ``freeze``: layers a trainer must not update; the other
    layers are drawn by ``base``."""

    path: str
    layers: tuple[int, ...] = ()
    freeze: tuple[int, ...] = ()
    base: str = "he"
    which: str = "final"


KINDS: dict[str, type] = {"lsuv": Lsuv, "from_file": FromFile}
NAMES = tuple(KINDS)


def is_data_init(spec: object) -> bool:
    """Whether ``spec`` (an initializer :class:`Spec`) names a data-dependent initialization."""
    return isinstance(spec, Spec) and spec.name in KINDS


def _int(key: str, v: Any, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise ConfigError(key, f"must be an integer >= {minimum}, got {v!r}")
    if int(v) < minimum:
        raise ConfigError(key, f"must be an integer >= {minimum}, got {int(v)}")
    return int(v)


def _layers(key: str, v: Any) -> tuple[int, ...]:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = (v,)
    if not isinstance(v, (list, tuple)):
        raise ConfigError(key, f"must be a list of layer numbers (1 = first hidden layer), got {v!r}")
    out = tuple(_int(key, x, 1) for x in v)
    if len(set(out)) != len(out):
        raise ConfigError(key, f"names a layer twice: {list(out)}")
    return tuple(sorted(out))


def data_init(spec: Spec) -> Lsuv | FromFile:
    """The record of a data-dependent spec; a bad parameter is a :class:`ConfigError` whose
    field is the parameter's name (the caller prefixes ``network.initializer``)."""
    cls = KINDS[spec.name]
    valid = [f.name for f in fields(cls)]
    given = spec.kwargs
    for k in given:
        if k not in valid:
            raise ConfigError(k, f"initializer '{spec.name}' has no parameter '{k}'{suggest(k, valid)}; "
                                 f"valid: {', '.join(valid)}")
    base = given.get("base", fields(cls)[valid.index("base")].default)
    if not isinstance(base, str):
        raise ConfigError("base", f"must be the name of an initializer (e.g. orthogonal), got {base!r}")
    if base in KINDS:
        raise ConfigError("base", f"must be an ordinary initializer, not '{base}'")
    if cls is Lsuv:
        tol = given.get("tol", Lsuv.tol)
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not math.isfinite(tol) or not 0 < tol < 1:
            raise ConfigError("tol", f"must be a number in (0, 1) (|Var(z) - 1| <= tol), got {tol!r}")
        center = given.get("center", Lsuv.center)
        if not isinstance(center, bool):
            raise ConfigError("center", f"must be true or false, got {center!r}")
        return Lsuv(base=base, tol=float(tol), max_iter=_int("max_iter", given.get("max_iter", Lsuv.max_iter), 1),
                    batch=_int("batch", given.get("batch", Lsuv.batch), 2), center=center,
                    min_width=_int("min_width", given.get("min_width", Lsuv.min_width), 1))
    if "path" not in given:
        raise ConfigError("path", "initializer 'from_file' needs parameter 'path' (a weights.npz written by "
                                  "initlab run/train --save-weights)")
    path = given["path"]
    if not isinstance(path, str) or not path:
        raise ConfigError("path", f"must be the path of a weights.npz, got {path!r}")
    which = given.get("which", FromFile.which)
    if which not in WHICH:
        raise ConfigError("which", f"unknown choice '{which}'{suggest(str(which), WHICH)}; valid: {', '.join(WHICH)}")
    layers = _layers("layers", given.get("layers", ()))
    freeze = _layers("freeze", given.get("freeze", ()))
    return FromFile(path=path, layers=layers, freeze=freeze, base=base, which=which)


def check_layers(rec: FromFile, n_layers: int) -> None:
    """Layer numbers within the network (1..n_layers, the readout last)."""
    for key in ("layers", "freeze"):
        for l in getattr(rec, key):
            if l > n_layers:
                raise ConfigError(key, f"layer {l} is beyond the network's {n_layers} weight layers "
                                       f"(1..{n_layers}, the readout is {n_layers})")


# --- the pretrain: section of a training config ------------------------------------------------

@dataclass(frozen=True)
class PretrainConfig:
    """Greedy layerwise pretraining (Bengio et al. 2007; Vincent et al. 2008 with ``noise``):
    each hidden layer an autoencoder on the previous layer's codes, ``epochs`` passes of the
    training set with the training optimizer at rate ``lr``; ``tied``: decoder W^T; ``noise``:
    the fraction of the autoencoder's input entries zeroed (masking corruption), fresh each
    epoch. ``method: none`` turns it off."""

    method: str = "none"
    epochs: int = 5
    lr: float = 0.01
    noise: float = 0.0
    tied: bool = True


PRETRAIN_KEYS = tuple(f.name for f in fields(PretrainConfig))


def pretrain(v: Any, err) -> PretrainConfig:
    """The ``pretrain:`` section (``None``: off); ``err(path, message)`` makes the placed error."""
    if v is None:
        return PretrainConfig()
    if isinstance(v, PretrainConfig):
        return v
    if not isinstance(v, Mapping):
        raise err("pretrain", f"must be a mapping with keys {', '.join(PRETRAIN_KEYS)}, got {v!r}")
    for k in v:
        if k not in PRETRAIN_KEYS:
            raise err(f"pretrain.{k}", f"unknown key '{k}'{suggest(str(k), PRETRAIN_KEYS)}; "
                                       f"valid: {', '.join(PRETRAIN_KEYS)}")
    method = v.get("method", "autoencoder")
    if method not in PRETRAIN_METHODS:
        raise err("pretrain.method", f"unknown method '{method}'{suggest(str(method), PRETRAIN_METHODS)}; "
                                     f"valid: {', '.join(PRETRAIN_METHODS)}")
    try:
        epochs = _int("pretrain.epochs", v.get("epochs", PretrainConfig.epochs), 1)
    except ConfigError as e:
        raise err(e.field, e.detail) from None
    lr = v.get("lr", PretrainConfig.lr)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise err("pretrain.lr", f"must be a finite number > 0, got {lr!r}")
    noise = v.get("noise", PretrainConfig.noise)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise < 1:
        raise err("pretrain.noise", f"must be a fraction in [0, 1) (entries zeroed), got {noise!r}")
    tied = v.get("tied", PretrainConfig.tied)
    if not isinstance(tied, bool):
        raise err("pretrain.tied", f"must be true or false, got {tied!r}")
    return PretrainConfig(method=method, epochs=epochs, lr=float(lr), noise=float(noise), tied=tied)


def pretrain_dict(p: PretrainConfig) -> dict | None:
    """The YAML form (``None`` when off)."""
    if p.method == "none":
        return None
    return {"method": p.method, "epochs": p.epochs, "lr": p.lr, "noise": p.noise, "tied": p.tied}
