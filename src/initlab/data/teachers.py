"""Teacher-student regression sets: Gaussian inputs, targets from a fixed random teacher.

``linear_teacher`` is the setup of Saxe, McClelland & Ganguli 2013 ("Exact solutions to the
nonlinear dynamics of learning in deep linear neural networks"): whitened inputs and an
input-output map ``T = U diag(s) V^T`` whose singular values ``s`` are prescribed (here spread
linearly from ``sv_max`` down to ``sv_min``) between Haar-random orthonormal bases, so the
learning time of each mode can be read off. ``gaussian_teacher`` replaces ``T`` by a random deep
network (the classic teacher-student scenario, e.g. Gardner & Derrida 1989; Saad & Solla 1995).

The teacher is drawn from the ``structure`` stream and shared by both splits; inputs and label
noise come from each split's own stream. Targets are computed from the *raw* inputs, before the
input standardization of :func:`initlab.data.load` (``Dataset.info`` keeps the teacher).
Weights are laid out ``(fan_in, fan_out)`` and used as ``x @ W``, as everywhere in initlab.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .base import REGRESSION, Draw, Spec, choice, integer, real

_DIM = 100_000


def haar_orthonormal(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """``(n, k)`` with orthonormal columns, Haar-distributed (k <= n).

    QR of a Gaussian matrix with the signs of ``diag(R)`` folded into ``Q`` (Mezzadri 2007,
    "How to generate random matrices from the classical compact groups"); without the sign fix
    the distribution is not uniform.
    """
    q, r = np.linalg.qr(rng.standard_normal((n, k)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def linear_teacher_matrix(rng: np.random.Generator, input_dim: int, output_dim: int,
                          sv_min: float, sv_max: float) -> tuple[np.ndarray, np.ndarray]:
    """``T (input_dim, output_dim) = U diag(s) V^T`` and ``s``.

    ``s`` has ``min(input_dim, output_dim)`` values spread linearly from ``sv_max`` to
    ``sv_min`` (descending; a single mode gets ``sv_max``); ``U`` and ``V`` are Haar-random
    with orthonormal columns, so ``s`` are exactly the singular values of ``T``.
    """
    r = min(input_dim, output_dim)
    s = np.linspace(sv_max, sv_min, r)
    u = haar_orthonormal(rng, input_dim, r)
    v = haar_orthonormal(rng, output_dim, r)
    return (u * s) @ v.T, s


def generate_linear_teacher(streams, n_train, n_test, *, input_dim, output_dim, sv_min, sv_max,
                            noise) -> Draw:
    """``x ~ N(0, I)``, ``y = x @ T + noise * N(0, I)`` (Saxe et al. 2013)."""
    if sv_min > sv_max:
        raise ConfigError("data.sv_min", f"must be <= data.sv_max ({sv_max:g}), got {sv_min:g}")
    t, s = linear_teacher_matrix(streams.structure, input_dim, output_dim, sv_min, sv_max)

    def split(rng, n):
        x = rng.standard_normal((n, input_dim))
        return x, x @ t + noise * rng.standard_normal((n, output_dim))

    return Draw(*split(streams.train, n_train), *split(streams.test, n_test), n_classes=0,
                info={"T": t, "singular_values": s})


def teacher_weights(rng: np.random.Generator, input_dim: int, depth: int, width: int,
                    output_dim: int, activation: str) -> list[np.ndarray]:
    """``depth`` hidden layers of ``width`` units and a linear read-out, no biases.

    Hidden weights ``N(0, g^2 / fan_in)`` with ``g = sqrt(2)`` for relu (He et al. 2015) and
    ``g = 1`` for tanh (LeCun), so pre-activations keep unit scale; read-out ``N(0, 1/fan_in)``.
    """
    gain = np.sqrt(2.0) if activation == "relu" else 1.0
    dims = [input_dim] + [width] * depth + [output_dim]
    ws = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        g = gain if i < depth else 1.0
        ws.append(rng.standard_normal((a, b)) * (g / np.sqrt(a)))
    return ws


def teacher_forward(x: np.ndarray, weights: list[np.ndarray], activation: str) -> np.ndarray:
    """The teacher's output for inputs ``x (n, input_dim)``."""
    act = np.tanh if activation == "tanh" else (lambda z: np.maximum(z, 0.0))
    h = x
    for w in weights[:-1]:
        h = act(h @ w)
    return h @ weights[-1]


def generate_gaussian_teacher(streams, n_train, n_test, *, input_dim, output_dim, depth, width,
                              activation, noise) -> Draw:
    """``x ~ N(0, I)``, ``y = teacher(x) + noise * N(0, I)`` for a random deep teacher."""
    ws = teacher_weights(streams.structure, input_dim, depth, width, output_dim, activation)

    def split(rng, n):
        x = rng.standard_normal((n, input_dim))
        return x, teacher_forward(x, ws, activation) + noise * rng.standard_normal((n, output_dim))

    return Draw(*split(streams.train, n_train), *split(streams.test, n_test), n_classes=0,
                info={"weights": ws})


_NOISE = "std of Gaussian noise added to each target"

SPECS = [
    Spec("gaussian_teacher", REGRESSION, generate_gaussian_teacher,
         {"input_dim": integer(10, 1, _DIM, help="input dimension"),
          "output_dim": integer(1, 1, _DIM, help="target dimension"),
          "depth": integer(2, 1, 100, help="hidden layers of the teacher"),
          "width": integer(32, 1, _DIM, help="units per hidden layer of the teacher"),
          "activation": choice("tanh", ("tanh", "relu"), help="teacher nonlinearity"),
          "noise": real(0.0, 0.0, help=_NOISE)},
         n_train=1000, n_test=500, input_dim="input_dim", n_classes=0,
         source="teacher-student (Gardner & Derrida 1989; Saad & Solla 1995)",
         summary="N(0, I) inputs, random deep-net teacher"),
    Spec("linear_teacher", REGRESSION, generate_linear_teacher,
         {"input_dim": integer(10, 1, _DIM, help="input dimension"),
          "output_dim": integer(10, 1, _DIM, help="target dimension"),
          "sv_min": real(1.0, 0.0, help="smallest singular value of T"),
          "sv_max": real(3.0, 0.0, help="largest singular value of T (>= sv_min)"),
          "noise": real(0.0, 0.0, help=_NOISE)},
         n_train=1000, n_test=500, input_dim="input_dim", n_classes=0,
         source="Saxe, McClelland & Ganguli 2013",
         summary="y = x T, T with singular values linspace(sv_max, sv_min)"),
]
