"""The pieces every dataset shares: the :class:`Dataset` record, the :class:`Spec` a generator
registers, parameter checks, the random streams and the train-split standardization.

numpy and the standard library only; the generators that need scikit-learn or mnist1d import
them inside the function that uses them.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import numpy as np

from ..errors import ConfigError, suggest

CLASSIFICATION = "classification"
REGRESSION = "regression"
MAX_SAMPLES = 10_000_000  # a guard against a typo that would ask for terabytes


# --- the record a training run receives -------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Dataset:
    """One materialized dataset: both splits, already standardized and cast.

    ``x_train`` is ``(n_train, input_dim)`` and ``x_test`` ``(n_test, input_dim)`` in ``dtype``.
    Classification labels are int64 class indices in ``[0, n_classes)``; regression targets are
    ``(n, output_dim)`` floats in ``dtype`` (targets are never standardized). ``x_mean`` and
    ``x_scale`` (float64, ``(input_dim,)``) are the standardization applied,
    ``x = (x_raw - x_mean) / x_scale``; zeros and ones when ``standardized`` is false.
    ``plot_2d`` marks two-dimensional sets whose decision boundary a plot can draw: map a grid of
    raw points with :meth:`transform_inputs` and evaluate the network on it. ``params`` holds
    every resolved parameter (JSON-friendly), ``info`` the generator's by-products (the teacher
    matrix ``T`` of ``linear_teacher``, the teacher's ``weights``, ...). Arrays are read-only.
    """

    name: str
    task: str
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    n_classes: int
    input_dim: int
    params: dict
    standardized: bool
    x_mean: np.ndarray = field(repr=False)
    x_scale: np.ndarray = field(repr=False)
    plot_2d: bool = False
    source: str = ""
    info: dict = field(default_factory=dict, repr=False)

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    @property
    def output_dim(self) -> int:
        """Units a network needs on its last layer: ``n_classes`` or the target width."""
        return self.n_classes if self.task == CLASSIFICATION else int(self.y_train.shape[1])

    def transform_inputs(self, x_raw) -> np.ndarray:
        """Raw inputs ``(n, input_dim)`` mapped through this dataset's standardization."""
        x = np.asarray(x_raw, dtype=np.float64)
        return ((x - self.x_mean) / self.x_scale).astype(self.x_train.dtype)


# --- what a generator registers ---------------------------------------------------------------

class Streams(NamedTuple):
    """Three independent children of the caller's generator (``Generator.spawn``).

    ``structure`` draws what both splits share (teacher weights, the split permutation of a
    fixed pool, mnist1d's seed); ``train`` and ``test`` draw the samples of each split, so for
    generated sets the training split does not change when only ``n_test`` does.
    """

    structure: np.random.Generator
    train: np.random.Generator
    test: np.random.Generator


@dataclass
class Draw:
    """What a generator returns: raw float64 inputs and targets before standardization."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    resolved: dict = field(default_factory=dict)  # parameters the generator resolved (sizes...)
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Param:
    """One dataset parameter: default, the valid range as text, a normalizing check, help."""

    default: Any
    valid: str
    check: Callable[[Any], Any] = field(repr=False)  # value -> normalized; ValueError(msg) if bad
    help: str = ""


@dataclass(frozen=True)
class Spec:
    """A registered dataset: ``generate(streams, n_train, n_test, **params) -> Draw``.

    ``n_train``/``n_test`` reach ``generate`` as ``None`` when the caller left them unset and
    ``sized_by_pool`` is true (sets drawn from a fixed pool resolve their own defaults), else as
    ints. ``input_dim`` and ``n_classes`` are ints, or the name of the parameter that sets them
    (for the listing only).
    """

    name: str
    task: str
    generate: Callable[..., Draw] = field(repr=False)
    params: dict
    n_train: int
    n_test: int
    input_dim: int | str
    n_classes: int | str
    source: str
    summary: str
    plot_2d: bool = False
    sized_by_pool: bool = False


# --- parameter checks: each returns a normalized value or raises ValueError(message) -----------

def _is_number(v) -> bool:
    return isinstance(v, (numbers.Real, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_int(v) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def real(default: float, lo: float | None = None, hi: float | None = None, *, lo_open=False,
         hi_open=False, help: str = "") -> Param:
    """A finite real in the interval ``lo..hi`` (closed unless ``*_open``)."""
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    valid = f"a finite number in {left}{'-inf' if lo is None else f'{lo:g}'}, " \
            f"{'inf' if hi is None else f'{hi:g}'}{right}"

    def check(v):
        if not _is_number(v) or not math.isfinite(float(v)):
            raise ValueError(f"must be {valid}, got {v!r}")
        x = float(v)
        if (lo is not None and (x < lo or (lo_open and x == lo))) or \
                (hi is not None and (x > hi or (hi_open and x == hi))):
            raise ValueError(f"must be {valid}, got {v!r}")
        return x

    return Param(default, valid, check, help)


def integer(default: int | None, lo: int, hi: int, *, help: str = "") -> Param:
    """An integer in ``[lo, hi]`` (bools and non-integral floats rejected)."""
    valid = f"an integer in [{lo}, {hi}]"

    def check(v):
        if not _is_int(v) or not lo <= int(v) <= hi:
            raise ValueError(f"must be {valid}, got {v!r}")
        return int(v)

    return Param(default, valid, check, help)


def choice(default: str, options: tuple[str, ...], *, help: str = "") -> Param:
    """One of ``options``; a misspelling gets a did-you-mean."""
    valid = "one of " + ", ".join(options)

    def check(v):
        if v not in options:
            names = ", ".join(options)
            raise ValueError(f"unknown value {v!r}{suggest(str(v), options)}; valid: {names}")
        return v

    return Param(default, valid, check, help)


def class_subset(n_classes: int, *, help: str = "") -> Param:
    """``None`` (all classes) or a list of at least two distinct labels in ``[0, n_classes)``;
    the listed classes become labels ``0..k-1`` in the order given."""
    valid = f"null (all) or a list of >= 2 distinct integers in [0, {n_classes - 1}]"

    def check(v):
        if v is None:
            return None
        items = list(v) if isinstance(v, (list, tuple, np.ndarray)) else []
        ok = len(items) >= 2 and all(_is_int(c) and 0 <= int(c) < n_classes for c in items)
        if not ok or len(set(map(int, items))) != len(items):
            raise ValueError(f"must be {valid}, got {v!r}")
        return [int(c) for c in items]

    return Param(None, valid, check, help)


def directory(default: str, *, help: str = "") -> Param:
    """A filesystem path (existence is checked when the files are read)."""

    def check(v):
        if not isinstance(v, (str, os.PathLike)) or not str(v):
            raise ValueError(f"must be a directory path, got {v!r}")
        return os.fspath(v)

    return Param(default, "a directory holding the four IDX files", check, help)


def resolve_params(spec: Spec, given: dict) -> dict:
    """Every parameter of ``spec``: given ones checked, the rest defaulted. Unknown keys and
    bad values raise :class:`ConfigError` at ``data.<param>``."""
    valid = list(spec.params)
    for key in given:
        if key not in spec.params:
            names = ", ".join(valid) if valid else "none"
            raise ConfigError(f"data.{key}", f"dataset '{spec.name}' has no parameter '{key}'"
                                             f"{suggest(str(key), valid)}; valid: {names}")
    out = {}
    for key, p in spec.params.items():
        if key not in given:
            out[key] = p.default
            continue
        try:
            out[key] = p.check(given[key])
        except ValueError as exc:
            raise ConfigError(f"data.{key}", str(exc)) from None
    return out


def check_size(key: str, value) -> int | None:
    """``None`` or a positive int for ``n_train``/``n_test``."""
    if value is None:
        return None
    try:
        return integer(None, 1, MAX_SAMPLES).check(value)
    except ValueError as exc:
        raise ConfigError(f"data.{key}", str(exc)) from None


def pool_sizes(pool: int, n_train: int | None, n_test: int | None, what: str) -> tuple[int, int]:
    """Split sizes for a set drawn without replacement from ``pool`` samples (digits).

    Unset sizes default to the whole pool split like sklearn's digits at 1297/500: the test
    split gets ``round(pool * 500 / 1797)``, the training split the rest.
    """
    d_test = int(round(pool * 500 / 1797))
    if n_train is None and n_test is None:
        n_train, n_test = pool - d_test, d_test
    elif n_train is None:
        n_train = pool - n_test
    elif n_test is None:
        n_test = min(d_test, pool - n_train)
    if n_train < 1 or n_test < 1 or n_train + n_test > pool:
        raise ConfigError("data.n_train", f"n_train + n_test must be at most the {pool} samples "
                                          f"of {what}, each >= 1; got n_train={n_train}, "
                                          f"n_test={n_test}")
    return n_train, n_test


def seed_from(rng: np.random.Generator) -> int:
    """An int seed for libraries that want one (sklearn's ``random_state``, mnist1d), drawn from
    ``rng``; in ``[0, 2**32)``, the range ``numpy.random.RandomState`` accepts."""
    return int(rng.integers(0, 2**32, dtype=np.uint64))


# --- standardization --------------------------------------------------------------------------

def fit_standardization(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale of the training split (float64, population std).

    A feature whose training values are all equal gets scale 1 and its value as mean, so it
    becomes exactly 0 on the training split instead of a division by zero.
    """
    x = np.asarray(x_train, dtype=np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    constant = np.ptp(x, axis=0) == 0
    mean[constant] = x[0, constant]
    std[constant] = 1.0
    return mean, std
