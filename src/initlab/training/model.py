"""A trainable fully connected network on the engine's one forward/backward pass.

Layers 1..L: ``z = h W + b``, an optional normalization of z (batch or layer norm, affine),
the activation, optional dropout; then a linear readout ``logits = h_L W_out + b_out`` (layer
L + 1 of the parameters). The weights are :class:`~initlab.engine.parameters.StoredParameters`
(masks and frozen layers included); the normalization's gamma/beta and batch norm's running
statistics live here. The passes are :func:`initlab.engine.network.forward` and
:func:`~initlab.engine.network.backward` with :class:`TrainOps` supplying the normalization
and dropout, so step-0 statistics and training run the very same code.

:meth:`Model.gradients` returns the loss, the accuracy and one gradient per trainable array in
the order of :meth:`Model.arrays` (W_1, b_1, [gamma_1, beta_1,] ..., W_out, b_out): what an
optimizer from :mod:`initlab.training.optimizers` steps. Checked against central finite
differences and torch autograd in ``tests/test_training_model.py``.
"""

from __future__ import annotations

import numpy as np

from initlab.engine import network
from initlab.engine.activations import Activation
from initlab.engine.parameters import StoredParameters
from initlab.training import layers as L

NORMS = ("none", "batch", "layer")


class TrainOps(network.LayerOps):
    """Normalization and dropout for the engine's passes, with their per-batch caches."""

    def __init__(self, model: "Model", training: bool, rng: np.random.Generator | None):
        self.model, self.training, self.rng = model, training, rng
        self.active = model.norm != "none" or (training and model.dropout > 0)
        self.norm_cache: dict[int, object] = {}
        self.drop_cache: dict[int, L.DropoutCache] = {}
        self.dgamma: dict[int, np.ndarray] = {}
        self.dbeta: dict[int, np.ndarray] = {}

    def norm(self, layer, z):
        m = self.model
        if m.norm == "none":
            return z
        g, b = m.gamma[layer - 1], m.beta[layer - 1]
        if m.norm == "batch":
            y, cache = L.batch_norm_forward(z, g, b, m.running_mean[layer - 1], m.running_var[layer - 1],
                                            training=self.training)
        else:
            y, cache = L.layer_norm_forward(z, g, b)
        self.norm_cache[layer] = cache
        return y

    def drop(self, layer, h):
        if not self.training or self.model.dropout == 0:
            return h
        cache = self.drop_cache.get(layer)
        if cache is None:
            y, self.drop_cache[layer] = L.dropout_forward(h, self.model.dropout, self.rng)
            return y
        return h * cache.mask

    def drop_backward(self, layer, g):
        cache = self.drop_cache.get(layer)
        return g if cache is None else L.dropout_backward(cache, g)

    def norm_backward(self, layer, dy):
        if self.model.norm == "none":
            return dy
        cache = self.norm_cache.pop(layer)
        back = L.batch_norm_backward if self.model.norm == "batch" else L.layer_norm_backward
        dz, self.dgamma[layer], self.dbeta[layer] = back(cache, dy)
        return dz


class _Grads(network.Observer):
    """dW_l = h_{l-1}^T dz_l and db_l = sum over the batch of dz_l, as the backward pass goes."""

    def __init__(self):
        self.dw: dict[int, np.ndarray] = {}
        self.db: dict[int, np.ndarray] = {}

    def grad_weight(self, layer, h_prev, dz, w):
        self.dw[layer] = h_prev.T @ dz
        self.db[layer] = dz.sum(axis=0)


class Model:
    """An MLP: ``params`` holds W_1..W_L and the readout W_{L+1} (with their biases)."""

    def __init__(self, params: StoredParameters, act: Activation, norm: str = "none",
                 dropout: float = 0.0):
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        self.params, self.act, self.norm, self.dropout = params, act, norm, float(dropout)
        self.depth = params.layers - 1
        dt = params.weights[0].dtype
        hidden = params.widths[1:-1]
        on = norm != "none"
        self.gamma = [np.ones(n, dt) for n in hidden] if on else []
        self.beta = [np.zeros(n, dt) for n in hidden] if on else []
        self.running_mean = [np.zeros(n, dt) for n in hidden] if norm == "batch" else []
        self.running_var = [np.ones(n, dt) for n in hidden] if norm == "batch" else []

    # --- what an optimizer steps -----------------------------------------------------------

    def arrays(self) -> list[np.ndarray]:
        """The trainable arrays: per trainable layer W, b (and gamma, beta), readout last."""
        out = []
        for l in self.params.trainable():
            out += [self.params.weights[l - 1], self.params.biases[l - 1]]
            if self.norm != "none" and l <= self.depth:
                out += [self.gamma[l - 1], self.beta[l - 1]]
        return out

    def masks(self) -> list[np.ndarray | None]:
        """One entry per :meth:`arrays` entry: the weight's mask, None elsewhere."""
        out: list[np.ndarray | None] = []
        for l in self.params.trainable():
            out += [self.params.masks[l - 1], None]
            if self.norm != "none" and l <= self.depth:
                out += [None, None]
        return out

    # --- passes ----------------------------------------------------------------------------

    def _hidden(self, x, ops, observer, keep):
        return network.forward(x, self.params, self.act, self.depth, observer, keep=keep, ops=ops)

    def logits(self, x: np.ndarray, observer: network.Observer = network.Observer()) -> np.ndarray:
        """Eval mode (running statistics, no dropout): the readout's output for ``x``."""
        ops = TrainOps(self, training=False, rng=None)
        h = self._hidden(x, ops, observer, keep=False)[0]
        return self._readout(h)

    def _readout(self, h):
        w, b = self.params.weight(self.depth + 1), self.params.bias(self.depth + 1)
        z = h @ w
        if isinstance(b, np.ndarray) or b != 0.0:
            z += b
        return z

    def observe(self, x, targets, loss, observer: network.Observer) -> float:
        """Eval mode (running statistics, no dropout) forward and backward on ``x`` with
        ``observer`` seeing both passes, as ``initlab run``'s statistics see them (with a
        normalization the observer's pre-activations are the normalized ones); returns the loss.
        Nothing is updated: no parameter, no running statistic."""
        ops = TrainOps(self, training=False, rng=None)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            tape = self._hidden(x, ops, observer, keep=True)
            h_top = network.activation_from_tape(self.act, tape, self.depth, ops)
            logits = self._readout(h_top)
            del h_top
            value, dlogits = loss(logits, targets)
            g = dlogits @ self.params.weight(self.depth + 1).T
            first = getattr(observer, "first", {}).get("forward")
            network.backward(tape, self.params, self.act, g, observer, input_grad=True,
                             nonfinite_from=first, ops=ops)
        return value

    def gradients(self, x, targets, loss, rng: np.random.Generator | None = None,
                  observer: network.Observer = network.Observer()):
        """Training mode on one batch: ``(loss, accuracy or None, grads)`` with ``grads``
        aligned with :meth:`arrays`; dropout masks come from ``rng``."""
        ops = TrainOps(self, training=True, rng=rng)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            tape = self._hidden(x, ops, observer, keep=True)
            h_top = network.activation_from_tape(self.act, tape, self.depth, ops)
            logits = self._readout(h_top)
            value, dlogits = loss(logits, targets)
            acc = loss.accuracy(logits, targets) if loss.accuracy is not None else None
            top = self.depth + 1
            w_out = self.params.weight(top)
            grads = _Grads()
            grads.dw[top], grads.db[top] = h_top.T @ dlogits, dlogits.sum(axis=0)
            del h_top
            g = dlogits @ w_out.T
            network.backward(tape, self.params, self.act, g, grads, input_grad=False, ops=ops)
        out = []
        for l in self.params.trainable():
            out += [grads.dw[l], grads.db[l]]
            if self.norm != "none" and l <= self.depth:
                out += [ops.dgamma[l], ops.dbeta[l]]
        return value, acc, out
