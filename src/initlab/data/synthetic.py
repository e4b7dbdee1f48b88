"""Two-dimensional toy classification sets: circles, moons, spirals, xor.

``circles`` and ``moons`` are scikit-learn's ``make_circles`` / ``make_moons`` with a
``random_state`` drawn from our generator (scikit-learn never touches numpy's global state
then). ``circles`` defaults follow the deeplearning.ai "Initialization" notebook
(``init_utils.load_dataset``: ``make_circles(n_samples=300, noise=.05)`` for training,
``n_samples=100`` for test, sklearn's default ``factor=0.8``); ``moons`` follows its
"Optimization methods" notebook (``make_moons(n_samples=300, noise=.2)``). ``spirals`` and ``xor``
are written here. Each split is drawn from its own stream (see :class:`.base.Streams`).
"""

from __future__ import annotations

import numpy as np

from .base import CLASSIFICATION, Draw, Spec, integer, real, seed_from


def _split(make, streams, n_train, n_test, **kw) -> Draw:
    x_tr, y_tr = make(streams.train, n_train, **kw)
    x_te, y_te = make(streams.test, n_test, **kw)
    return Draw(x_tr, y_tr, x_te, y_te, n_classes=int(kw.get("classes", 2)))


# --- circles and moons: scikit-learn ----------------------------------------------------------

def _circles(rng, n, *, noise, factor):
    from sklearn.datasets import make_circles

    x, y = make_circles(n_samples=n, noise=noise, factor=factor, random_state=seed_from(rng))
    return x, y


def _moons(rng, n, *, noise):
    from sklearn.datasets import make_moons

    return make_moons(n_samples=n, noise=noise, random_state=seed_from(rng))


def generate_circles(streams, n_train, n_test, *, noise, factor) -> Draw:
    """Two concentric circles (sklearn ``make_circles``): label 0 on the outer circle of radius
    1, label 1 on the inner one of radius ``factor``; isotropic Gaussian noise of std ``noise``."""
    return _split(_circles, streams, n_train, n_test, noise=noise, factor=factor)


def generate_moons(streams, n_train, n_test, *, noise) -> Draw:
    """Two interleaving half circles (sklearn ``make_moons``) with Gaussian noise ``noise``."""
    return _split(_moons, streams, n_train, n_test, noise=noise)


# --- spirals and xor: ours --------------------------------------------------------------------

def _spirals(rng, n, *, classes, turns, noise):
    # Balanced labels in random order; radius r ~ U(0, 1); arm c turns through
    # theta = 2 pi (turns r + c / classes) so the arms interleave at equal angles
    # (after the CS231n "spiral" toy set, with noise in x rather than in the angle).
    y = rng.permutation(np.arange(n) % classes)
    r = rng.uniform(0.0, 1.0, n)
    theta = 2.0 * np.pi * (turns * r + y / classes)
    x = r[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    x += noise * rng.standard_normal((n, 2))
    return x, y


def _xor(rng, n, *, noise):
    # Uniform on the square [-1, 1]^2; label 1 where the coordinates' signs differ
    # (x1 x2 < 0), decided on the clean point; then Gaussian input noise of std ``noise``.
    x = rng.uniform(-1.0, 1.0, (n, 2))
    y = (x[:, 0] * x[:, 1] < 0).astype(np.int64)
    x += noise * rng.standard_normal((n, 2))
    return x, y


def generate_spirals(streams, n_train, n_test, *, classes, turns, noise) -> Draw:
    """``classes`` interleaved spiral arms of ``turns`` turns with Gaussian noise ``noise``."""
    return _split(_spirals, streams, n_train, n_test, classes=classes, turns=turns, noise=noise)


def generate_xor(streams, n_train, n_test, *, noise) -> Draw:
    """XOR: uniform square, label ``x1 * x2 < 0`` on the noiseless point, then input noise."""
    return _split(_xor, streams, n_train, n_test, noise=noise)


_NOISE = "std of the Gaussian noise added to each input coordinate"

SPECS = [
    Spec("circles", CLASSIFICATION, generate_circles,
         {"noise": real(0.05, 0.0, help=_NOISE),
          "factor": real(0.8, 0.0, 1.0, hi_open=True, help="inner radius / outer radius")},
         n_train=300, n_test=100, input_dim=2, n_classes=2, plot_2d=True,
         source="sklearn make_circles; deeplearning.ai Initialization notebook",
         summary="two concentric circles"),
    Spec("moons", CLASSIFICATION, generate_moons,
         {"noise": real(0.2, 0.0, help=_NOISE)},
         n_train=300, n_test=100, input_dim=2, n_classes=2, plot_2d=True,
         source="sklearn make_moons; deeplearning.ai Optimization notebook",
         summary="two interleaving half circles"),
    Spec("spirals", CLASSIFICATION, generate_spirals,
         {"classes": integer(2, 2, 100, help="number of spiral arms (= classes)"),
          "turns": real(1.0, 0.0, 10.0, lo_open=True, help="turns of each arm from r=0 to r=1"),
          "noise": real(0.05, 0.0, help=_NOISE)},
         n_train=300, n_test=100, input_dim=2, n_classes="classes", plot_2d=True,
         source="initlab (after the CS231n spiral set)", summary="K interleaved spirals"),
    Spec("xor", CLASSIFICATION, generate_xor,
         {"noise": real(0.1, 0.0, help=_NOISE)},
         n_train=300, n_test=100, input_dim=2, n_classes=2, plot_2d=True,
         source="initlab", summary="uniform square, label sign(x1) != sign(x2)"),
]
