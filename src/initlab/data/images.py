"""Small image-like classification sets that need no download: digits and MNIST-1D.

``digits`` is scikit-learn's bundled copy of the UCI optical digits (``load_digits``: 1797
images of 8x8 pixels, values 0..16, read from a file inside the sklearn wheel, offline). Pixels
are divided by 16 to lie in [0, 1]; the pool is shuffled by the ``structure`` stream and split
into ``n_train`` then ``n_test`` samples (default 1297/500, all of it), so the training split is
a prefix that does not depend on ``n_test``.

``mnist1d`` is MNIST-1D (Greydanus 2020, "Scaling down deep learning"; Greydanus & Kobak 2024),
generated procedurally by the ``mnist1d`` package's ``make_dataset``: 10 one-dimensional
templates, padded, dilated, scaled, translated, with correlated and iid noise and shear, then
sampled at 40 points. We never call its ``get_dataset`` (that one downloads from the network and
pickles into the working directory). ``make_dataset`` seeds numpy's *global* generator and
Python's ``random``; we pass a seed drawn from our ``structure`` stream and restore both global
states afterwards, so callers' global state is untouched (not thread-safe while it runs). The
package scales the whole generated pool (train and test) by one scalar mean and std; our
per-feature standardization on the training split then follows. Defaults: 4000 train / 1000
test as in the paper. Train and test come from one pool, so both depend on ``n_train + n_test``.

For both, ``classes`` selects a subset of the ten digits; the listed classes are relabelled
``0..k-1`` in the order given (``classes: [3, 8]`` makes 3 -> 0 and 8 -> 1).
"""

from __future__ import annotations

import random
from contextlib import contextmanager

import numpy as np

from .base import CLASSIFICATION, Draw, Spec, class_subset, pool_sizes, seed_from

MNIST1D_LENGTH = 40


def relabel(y: np.ndarray, classes: list[int] | None, n_all: int = 10):
    """Mask of samples whose label is in ``classes`` and their labels re-indexed ``0..k-1``."""
    if classes is None:
        return np.ones(len(y), dtype=bool), y.astype(np.int64)
    table = np.full(n_all, -1, dtype=np.int64)
    table[np.asarray(classes)] = np.arange(len(classes))
    new = table[y]
    keep = new >= 0
    return keep, new


def generate_digits(streams, n_train, n_test, *, classes) -> Draw:
    """sklearn's 8x8 digits, pixels / 16, shuffled by ``streams.structure`` and split."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    keep, y = relabel(y, classes)
    x, y = x[keep] / 16.0, y[keep]
    what = "digits" + ("" if classes is None else f" of classes {classes}")
    n_train, n_test = pool_sizes(len(y), n_train, n_test, what)
    order = streams.structure.permutation(len(y))
    tr, te = order[:n_train], order[n_train:n_train + n_test]
    return Draw(x[tr], y[tr], x[te], y[te], n_classes=10 if classes is None else len(classes),
                resolved={"n_train": n_train, "n_test": n_test})


@contextmanager
def preserved_global_random_state():
    """Restore numpy's legacy global generator and Python's ``random`` on exit."""
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def generate_mnist1d(streams, n_train, n_test, *, classes) -> Draw:
    """MNIST-1D via ``mnist1d.data.make_dataset`` with a seed from ``streams.structure``."""
    from mnist1d.data import get_dataset_args, get_templates, make_dataset

    templates = get_templates()
    k = 10 if classes is None else len(classes)
    if classes is not None:  # only the selected templates, already relabelled 0..k-1
        templates = {**templates, "x": templates["x"][np.asarray(classes)], "y": np.arange(k)}
    args = get_dataset_args()
    n = n_train + n_test
    args.num_samples = -(-n // k) * k  # make_dataset draws num_samples // k per class
    args.train_split = 1.0  # we split its shuffled pool ourselves
    args.seed = seed_from(streams.structure)
    with preserved_global_random_state():
        d = make_dataset(args, template=templates)
    x = np.concatenate([d["x"], d["x_test"]])[:n].astype(np.float64)
    y = np.concatenate([d["y"], d["y_test"]])[:n].astype(np.int64)
    return Draw(x[:n_train], y[:n_train], x[n_train:], y[n_train:], n_classes=k)


_CLASSES = "subset of digits to keep, relabelled 0..k-1 in the order given"

SPECS = [
    Spec("digits", CLASSIFICATION, generate_digits, {"classes": class_subset(10, help=_CLASSES)},
         n_train=1297, n_test=500, input_dim=64, n_classes=10, sized_by_pool=True,
         source="sklearn load_digits (UCI optical digits, bundled)",
         summary="8x8 handwritten digits, pixels in [0, 1]"),
    Spec("mnist1d", CLASSIFICATION, generate_mnist1d, {"classes": class_subset(10, help=_CLASSES)},
         n_train=4000, n_test=1000, input_dim=MNIST1D_LENGTH, n_classes=10,
         source="Greydanus 2020, Scaling down deep learning (mnist1d package)",
         summary="procedural 1-D digits, length 40"),
]
