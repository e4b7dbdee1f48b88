"""Losses on logits: ``(logits, targets) -> (mean loss over the batch, dL/dlogits)``.

``logits`` is ``(batch, k)``, the output of the last layer ``z = h @ W + b``. The loss value is
a Python float (summed in float64); the gradient is an array in the logits' dtype and already
carries the ``1 / batch`` of the mean, so it can be back-propagated as it is.

Each loss is one frozen :class:`Loss` record in the ``LOSSES`` registry, with its formula, its
source and, for the classification losses, an ``accuracy(logits, labels)``. :func:`get` looks
a name up and raises :class:`~initlab.errors.ConfigError` at ``train.loss`` otherwise.

All three agree with their torch counterparts to rounding (``tests/test_training_math.py``):

* ``softmax_ce``: ``mean_i [logsumexp(x_i) - x_{i, y_i}]``, torch ``F.cross_entropy(x, y)``;
* ``bce``: ``mean_i [max(x_i, 0) - x_i y_i + log1p(exp(-|x_i|))]``, torch
  ``F.binary_cross_entropy_with_logits(x, y)``;
* ``mse``: ``sum_ij (x_ij - t_ij)^2 / (2 batch)``, torch
  ``F.mse_loss(x, t, reduction="sum") / (2 batch)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import lookup


def _logits(logits) -> np.ndarray:
    x = np.asarray(logits)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"logits must be a non-empty (batch, k) array, got shape {x.shape}")
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return x


def _labels(labels, batch: int, classes: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (batch,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be an integer array of shape ({batch},), "
                         f"got {y.dtype} {y.shape}")
    if batch and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"labels must lie in [0, {classes}), got [{y.min()}, {y.max()}]")
    return y


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``x - logsumexp(x)`` along the last axis, stable: the row maximum is subtracted first,
    so ``exp`` never overflows and the largest term is exactly ``exp(0) = 1``."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax_ce(logits, labels) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy with integer labels, averaged over the batch.

    ``L = (1/B) sum_i [log sum_j exp(x_ij) - x_{i, y_i}]``, the log-sum-exp taken after
    subtracting the row maximum; ``dL/dx_ij = (softmax(x_i)_j - [j == y_i]) / B``.
    Matches ``torch.nn.functional.cross_entropy(x, y)`` (reduction ``"mean"``, no weights, no
    label smoothing).

    Args:
        logits: ``(batch, k)`` float32/float64 array.
        labels: ``(batch,)`` integer array with values in ``[0, k)``.

    Returns:
        ``(loss, grad)``: the mean loss as a float and ``dL/dlogits`` in the logits' dtype.
    """
    x = _logits(logits)
    batch, k = x.shape
    y = _labels(labels, batch, k)
    rows = np.arange(batch)
    logp = log_softmax(x)
    loss = -float(logp[rows, y].sum(dtype=np.float64)) / batch
    grad = np.exp(logp)
    grad[rows, y] -= 1.0
    grad *= x.dtype.type(1.0 / batch)
    return loss, grad


def softmax_accuracy(logits, labels) -> float:
    """Fraction of rows whose largest logit is at the label (ties: the first maximum)."""
    x = _logits(logits)
    y = _labels(labels, *x.shape)
    return float(np.mean(np.argmax(x, axis=1) == y))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^-x)`` with full relative accuracy on both tails, dtype preserved.

    ``x >= 0``: ``1 / (1 + e^-x)``; ``x < 0``: ``e^x / (1 + e^x)``. Neither branch overflows,
    and for very negative x the result keeps its relative accuracy down to the subnormals
    (``(1 + tanh(x/2)) / 2`` would round to 0 already near x = -40 in float64)."""
    x = np.asarray(x)
    e = np.exp(-np.abs(x))  # e^-x for x >= 0, e^x for x < 0: never overflows
    one = x.dtype.type(1.0) if x.dtype.kind == "f" else 1.0
    return np.where(x >= 0, one / (one + e), e / (one + e))


def _binary_targets(labels, shape: tuple[int, int], dtype) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape == shape[:1]:
        y = y.reshape(shape)
    if y.shape != shape:
        raise ValueError(f"labels must have shape {shape[:1]} or {shape}, got {y.shape}")
    return y.astype(dtype, copy=False)


def bce(logits, labels) -> tuple[float, np.ndarray]:
    """Binary cross-entropy on one sigmoid output, averaged over the batch.

    ``L = (1/B) sum_i [max(x_i, 0) - x_i y_i + log1p(exp(-|x_i|))]``, which equals
    ``-(y log s(x) + (1 - y) log(1 - s(x)))`` without overflow or ``log(0)``;
    ``dL/dx_i = (s(x_i) - y_i) / B`` with the two-branch :func:`sigmoid`. Matches
    ``torch.nn.functional.binary_cross_entropy_with_logits(x, y)`` (reduction ``"mean"``).

    Args:
        logits: ``(batch, 1)`` float array.
        labels: ``(batch,)`` or ``(batch, 1)`` with values 0/1 (probabilities in [0, 1] work
            too: the formula is the same).

    Returns:
        ``(loss, grad)``: the mean loss as a float and ``dL/dlogits`` ``(batch, 1)`` in the
        logits' dtype.
    """
    x = _logits(logits)
    if x.shape[1] != 1:
        raise ValueError(f"bce takes one output column, got logits of shape {x.shape}")
    batch = x.shape[0]
    y = _binary_targets(labels, x.shape, x.dtype)
    terms = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    loss = float(terms.sum(dtype=np.float64)) / batch
    grad = sigmoid(x) - y
    grad *= x.dtype.type(1.0 / batch)
    return loss, grad


def bce_accuracy(logits, labels) -> float:
    """Fraction of rows where ``x > 0`` (probability above 1/2) agrees with ``y == 1``."""
    x = _logits(logits)
    y = _binary_targets(labels, x.shape, np.float64)
    return float(np.mean((x > 0) == (y > 0.5)))


def mse(logits, targets) -> tuple[float, np.ndarray]:
    """Half squared error, summed over outputs and averaged over the batch.

    ``L = (1 / (2B)) sum_ij (x_ij - t_ij)^2``, ``dL/dx = (x - t) / B``: the convention of
    :func:`initlab.engine.network.loss_and_gradient`, Bishop (2006, eq. 5.11) divided by B.
    It is NOT ``torch.nn.MSELoss()`` (mean over all ``B k`` entries, no 1/2), which equals
    ``2 L / k``; the torch form of ours is ``F.mse_loss(x, t, reduction="sum") / (2 B)``.

    Args:
        logits: ``(batch, k)`` float array (the network's outputs).
        targets: ``(batch, k)`` real targets.

    Returns:
        ``(loss, grad)``: the mean loss as a float and ``dL/dlogits`` in the logits' dtype.
    """
    x = _logits(logits)
    t = np.asarray(targets)
    if t.shape != x.shape:
        raise ValueError(f"targets must have the logits' shape {x.shape}, got {t.shape}")
    diff = (x - t).astype(x.dtype, copy=False)
    batch = x.shape[0]
    d64 = diff.astype(np.float64, copy=False)
    loss = float(np.vdot(d64, d64)) / (2 * batch)
    diff *= x.dtype.type(1.0 / batch)
    return loss, diff


@dataclass(frozen=True)
class Loss:
    """One loss: ``fn(logits, targets) -> (loss, grad)`` and, for classification, accuracy."""

    name: str
    fn: Callable[..., tuple[float, np.ndarray]] = field(repr=False)
    formula: str
    source: str
    targets: str  # what ``fn`` takes as targets
    accuracy: Callable[..., float] | None = field(default=None, repr=False)

    def __call__(self, logits, targets) -> tuple[float, np.ndarray]:
        return self.fn(logits, targets)


LOSSES: dict[str, Loss] = {
    "softmax_ce": Loss(
        "softmax_ce", softmax_ce,
        formula="mean_i [logsumexp(x_i) - x_{i,y_i}]; grad (softmax(x) - onehot(y)) / B",
        source="torch.nn.functional.cross_entropy",
        targets="integer labels (batch,)", accuracy=softmax_accuracy),
    "bce": Loss(
        "bce", bce,
        formula="mean_i [max(x,0) - x y + log1p(exp(-|x|))]; grad (sigmoid(x) - y) / B",
        source="torch.nn.functional.binary_cross_entropy_with_logits",
        targets="0/1 labels (batch,)", accuracy=bce_accuracy),
    "mse": Loss(
        "mse", mse,
        formula="sum_ij (x_ij - t_ij)^2 / (2B); grad (x - t) / B",
        source="Bishop 2006 eq. 5.11 / B; = torch mse_loss(reduction='sum') / (2B)",
        targets="real targets (batch, k)"),
}


def get(name: str) -> Loss:
    """The loss ``name``; a :class:`ConfigError` at ``train.loss`` lists the valid names."""
    return lookup(LOSSES, name, "loss", "train.loss")
