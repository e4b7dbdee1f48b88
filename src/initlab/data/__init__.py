"""Datasets a training run uses: synthetic generators, teachers and image loaders.

One call makes a dataset::

    ds = load("circles", np.random.default_rng(0), n_train=300, noise=0.1)
    ds.x_train.shape, ds.y_train.dtype, ds.n_classes  # (300, 2), int64, 2

``DATASETS`` is the registry (name -> :class:`Spec`); :func:`get` looks a name up with a
did-you-mean; :func:`describe` and :func:`parameters` give rows for ``initlab list datasets``.

Determinism
    Every draw comes from the ``numpy.random.Generator`` passed in, never from global state
    (scikit-learn gets an int ``random_state`` drawn from it; mnist1d's global seeding is undone
    afterwards). ``load`` spawns three children from it (``Generator.spawn``): ``structure``
    (teacher weights, the shuffle of a fixed pool, mnist1d's seed), ``train`` and ``test``. The
    same seed gives byte-identical arrays; for the generated 2-D sets, the teachers and the
    IDX sets the training split does not change when only ``n_test`` does (digits: the train
    split is a prefix of one shuffle; mnist1d: one pool, so both sizes matter). Spawning
    advances the generator's spawn counter: two ``load`` calls on one generator give two
    different draws, as two draws from one stream should. numpy's global state is never read
    or written; Python's ``random`` only by the first import of scikit-learn (it imports rich,
    whose ``Style`` draws a link id at import).

Standardization (``standardize=True``, the default)
    Per feature, on the training split only: ``x = (x_raw - mean_train) / std_train`` (population
    std), applied to both splits; for images that is per pixel. A feature constant on the
    training split becomes exactly 0 there (scale 1, no division by zero); near-constant pixels
    (e.g. MNIST's border, non-zero in a handful of training images) can take large values on the
    test split: that is what per-pixel standardization means, and ``standardize=False`` (pixels
    in [0, 1]) is the alternative. ``Dataset.x_mean``/``x_scale`` record the map and
    ``Dataset.transform_inputs`` applies it (to draw a 2-D decision boundary over a raw grid).
    Regression targets are never standardized. Outputs are cast to ``dtype`` (float32 or
    float64) after standardizing in float64.
"""

from __future__ import annotations

import numpy as np

from initlab.fmt import param

from ..errors import ConfigError, lookup
from . import idx, images, synthetic, teachers
from .base import (CLASSIFICATION, REGRESSION, Dataset, Param, Spec, Streams, check_size,
                   fit_standardization, resolve_params)

__all__ = ["DATASETS", "Dataset", "Spec", "Param", "get", "load", "describe", "parameters",
           "CLASSIFICATION", "REGRESSION"]

DATASETS: dict[str, Spec] = {
    s.name: s for s in synthetic.SPECS + teachers.SPECS + images.SPECS + idx.SPECS
}
DTYPES = ("float32", "float64")


def get(name: str) -> Spec:
    """The registered :class:`Spec` ``name``; a :class:`ConfigError` at ``data.name`` lists
    the valid names and a close match."""
    return lookup(DATASETS, name, "dataset", field="data.name")


def _dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        raise ConfigError("data.dtype", f"must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return dt


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def load(name: str, rng: np.random.Generator, *, n_train: int | None = None,
         n_test: int | None = None, standardize: bool = True, dtype=np.float64,
         **params) -> Dataset:
    """Make the dataset ``name`` from ``rng``.

    Args:
        name: a key of :data:`DATASETS` (``initlab list datasets``).
        rng: the only source of randomness; three independent children are spawned from it
            (see the module docstring). Same seed, same bytes.
        n_train, n_test: split sizes, positive ints; ``None`` takes the dataset's default (for
            digits and the IDX sets: the whole available pool, split as documented there).
        standardize: per-feature standardization fitted on the training split (module
            docstring); ``False`` keeps raw inputs.
        dtype: ``float32`` or ``float64`` for inputs and regression targets (labels are int64).
        **params: the dataset's own parameters (:func:`parameters`); unknown ones are errors.

    Returns:
        A frozen, picklable :class:`Dataset` with read-only arrays and ``params`` holding every
        resolved parameter.

    Raises:
        ConfigError: at ``data.name``, ``data.n_train``, ``data.<param>``, ``data.path``... with
            the valid range; one line, for the CLI to print.
    """
    spec = get(name)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    n_train, n_test = check_size("n_train", n_train), check_size("n_test", n_test)
    if not isinstance(standardize, (bool, np.bool_)):
        raise ConfigError("data.standardize", f"must be true or false, got {standardize!r}")
    dt = _dtype(dtype)
    resolved = resolve_params(spec, params)
    if not spec.sized_by_pool:
        n_train = spec.n_train if n_train is None else n_train
        n_test = spec.n_test if n_test is None else n_test

    draw = spec.generate(Streams(*rng.spawn(3)), n_train, n_test, **resolved)
    sizes = {"n_train": n_train, "n_test": n_test, **draw.resolved}

    x_tr = np.asarray(draw.x_train, dtype=np.float64)
    x_te = np.asarray(draw.x_test, dtype=np.float64)
    if standardize:
        mean, scale = fit_standardization(x_tr)
        x_tr, x_te = (x_tr - mean) / scale, (x_te - mean) / scale
    else:
        mean, scale = np.zeros(x_tr.shape[1]), np.ones(x_tr.shape[1])
    if spec.task == CLASSIFICATION:
        y_tr, y_te = (np.asarray(y, dtype=np.int64) for y in (draw.y_train, draw.y_test))
    else:
        y_tr, y_te = (np.asarray(y, dtype=dt).reshape(len(y), -1)
                      for y in (draw.y_train, draw.y_test))

    return Dataset(
        name=spec.name, task=spec.task,
        x_train=_frozen(x_tr.astype(dt)), y_train=_frozen(y_tr),
        x_test=_frozen(x_te.astype(dt)), y_test=_frozen(y_te),
        n_classes=int(draw.n_classes), input_dim=int(x_tr.shape[1]),
        params={**sizes, "standardize": bool(standardize), "dtype": dt.name, **resolved},
        standardized=bool(standardize), x_mean=_frozen(mean), x_scale=_frozen(scale),
        plot_2d=spec.plot_2d, source=spec.source, info=draw.info,
    )


def describe() -> list[dict]:
    """One row per dataset, for a table: name, task, input_dim, classes, n_train, n_test,
    params (``k=default`` joined), source and summary. Values are str or int."""
    rows = []
    for s in DATASETS.values():
        rows.append({
            "name": s.name, "task": s.task,
            "input_dim": s.input_dim if isinstance(s.input_dim, int) else f"{s.input_dim} param",
            "classes": s.n_classes if isinstance(s.n_classes, int) else f"{s.n_classes} param",
            "n_train": s.n_train, "n_test": s.n_test,
            "params": ", ".join(f"{k}={'null' if p.default is None else param(p.default)}" for k, p in s.params.items()) or "-",
            "source": s.source, "summary": s.summary,
        })
    return rows


def parameters(name: str) -> list[dict]:
    """One row per parameter of dataset ``name``: param, default, valid, help. The shared
    ``n_train``, ``n_test``, ``standardize`` and ``dtype`` come first."""
    s = get(name)
    common = [
        {"param": "n_train", "default": s.n_train, "valid": "an integer >= 1",
         "help": "training samples" + (" (default: the whole pool)" if s.sized_by_pool else "")},
        {"param": "n_test", "default": s.n_test, "valid": "an integer >= 1",
         "help": "test samples"},
        {"param": "standardize", "default": True, "valid": "true or false",
         "help": "per-feature standardization fitted on the training split"},
        {"param": "dtype", "default": "float64", "valid": "float32 or float64",
         "help": "floating type of inputs and regression targets"},
    ]
    return common + [{"param": k, "default": p.default, "valid": p.valid, "help": p.help}
                     for k, p in s.params.items()]
