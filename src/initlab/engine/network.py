"""The fully connected network: parameters, forward and backward passes (numpy only).

Layer l (1..L) computes ``z_l = h_{l-1} @ W_l + b_l`` and ``h_l = act(z_l)``; ``W_l`` is
``(fan_in, fan_out)``; ``h_0`` is the input.

The passes read the weights through a parameters object (:mod:`initlab.engine.parameters`):
drawn on demand from per-layer streams (the forward pass then keeps only the current layer in
memory and the backward pass stores no weights) or stored arrays (loaded, transferred,
trained). Every use of a network, step-0 statistics, theory probes, Jacobians and training,
goes through these two passes.

The passes report each layer to an :class:`Observer` instead of computing statistics
themselves, so the same passes serve statistics, saving weights, sweeps or a training step.
An observer may take over the per-entry step of a layer (:meth:`Observer.forward_layer`: the
activation; :meth:`Observer.backward_layer`: dz = act'(s) * g) to fuse its own per-entry work
with it while the data is in cache, as the statistics do.

Memory: the streaming forward pass holds two activation-sized buffers (z and h) and one
weight matrix at a time, whatever the depth. Those work buffers (and the backward pass's two)
are kept by the thread for its next pass, up to ``POOL_BYTES`` (fresh memory costs a page fault
per 4 KB, ~0.1 ms per MB on the machine measured, as much as a width-500 layer's statistics);
:func:`release_buffers` drops them. Forward + backward holds the tape (one array
per layer), two buffers (dz and g) and O(1) weight matrices: the backward pass draws each
W_l again from its stream instead of keeping them (``benchmarks/`` measures both).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from initlab.engine.activations import Activation
from initlab.engine.parameters import INPUT, LOSS, stream

LOSSES = ("random", "mse", "softmax_ce")


# --- work buffers, kept per thread from one pass to the next ----------------------------------

POOL_BYTES = 64 << 20  # at most this much is kept per thread between passes
_POOL = threading.local()


def _take(n: int, dtype) -> np.ndarray:
    """A 1-D work buffer of at least ``n`` entries: a free one the thread kept, else new."""
    dtype = np.dtype(dtype)
    free = getattr(_POOL, "free", None)
    if free:
        for i, buf in enumerate(free):
            if buf.dtype == dtype and buf.size >= n:
                return free.pop(i)
    return np.empty(n, dtype=dtype)


def _give(*bufs: np.ndarray | None) -> None:
    """Keep ``bufs`` for the thread's next pass, within ``POOL_BYTES`` (largest first)."""
    free = getattr(_POOL, "free", None)
    if free is None:
        free = _POOL.free = []
    free.extend(b for b in bufs if b is not None)
    free.sort(key=lambda b: b.nbytes, reverse=True)
    total = 0
    for i, b in enumerate(free):
        total += b.nbytes
        if total > POOL_BYTES:
            del free[i:]
            break


def release_buffers() -> None:
    """Drop the work buffers the calling thread keeps between passes."""
    _POOL.free = []


class Observer:
    """Receives each layer's arrays as the passes produce them. Arrays are only valid during
    the call (buffers are reused): copy what you keep. Every method is optional."""

    def parameters(self, layer: int, w: np.ndarray, b: np.ndarray | float) -> None: ...
    def preact(self, layer: int, z: np.ndarray) -> None: ...
    def act(self, layer: int, h: np.ndarray) -> None: ...

    def forward_layer(self, layer: int, act: Activation, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Apply the activation, ``act.fn(z, out=out)``, between :meth:`preact` and :meth:`act`
        (this default). ``out`` never overlaps ``z``. An observer may override it to fuse its
        per-entry work with the activation (:class:`initlab.runs.experiment.StatsObserver` does, in
        one sweep over cache-sized chunks); it must return ``out`` holding ``act(z)``."""
        self.preact(layer, z)
        h = act.fn(z, out=out)
        self.act(layer, h)
        return h

    def grad_act(self, layer: int, g: np.ndarray) -> None: ...
    def grad_preact(self, layer: int, dz: np.ndarray) -> None: ...

    def backward_layer(self, layer: int, act: Activation, s: np.ndarray, g: np.ndarray,
                       out: np.ndarray, nonfinite: bool) -> np.ndarray:
        """Form ``dz = act'(s) * g`` in ``out`` (:func:`local_gradient`) between
        :meth:`grad_act` and :meth:`grad_preact` (this default). An observer may override it to
        fuse its per-entry work with the product; it must return ``out`` holding dz."""
        self.grad_act(layer, g)
        dz = local_gradient(act, s, g, out, nonfinite)
        self.grad_preact(layer, dz)
        return dz

    def grad_weight(self, layer: int, h_prev: np.ndarray, dz: np.ndarray, w: np.ndarray) -> None: ...


def local_gradient(act: Activation, s: np.ndarray, g: np.ndarray, out: np.ndarray,
                   nonfinite: bool = False) -> np.ndarray:
    """``dz = act'(s) * g`` into ``out`` (``s`` as kept on the tape, see :func:`forward`); with
    ``nonfinite``, NaN where ``s`` is inf or NaN (the derivative there is meaningless). Works on
    any matching slices, so callers may go chunk by chunk."""
    dz = act.deriv(s, out=out)
    if nonfinite:
        dz[~np.isfinite(s)] = np.nan
    dz *= g
    return dz


class LayerOps:
    """What a layer does besides ``z = h W + b`` and the activation: a normalization of ``z``
    before the activation and dropout after it (training). The default does nothing; the
    training room supplies one (:mod:`initlab.training.model`), so the passes stay the same
    for step-0 statistics and for training. Per layer l the forward pass computes
    ``z = h_{l-1} W_l + b_l``, ``y = norm(l, z)``, ``h = act(y)`` (the observer's
    :meth:`Observer.forward_layer` sees ``y``), and passes ``drop(l, h)`` on; the backward pass
    undoes them in reverse order. ``active`` is False when nothing is done (the passes then skip
    every call)."""

    active = False

    def norm(self, layer: int, z: np.ndarray) -> np.ndarray:
        return z

    def drop(self, layer: int, h: np.ndarray) -> np.ndarray:
        """The layer's output as the next layer sees it (same values again when called again
        with the same layer: the mask is kept)."""
        return h

    def drop_backward(self, layer: int, g: np.ndarray) -> np.ndarray:
        return g

    def norm_backward(self, layer: int, dy: np.ndarray) -> np.ndarray:
        return dy


NO_OPS = LayerOps()


def _add_bias(z: np.ndarray, b: np.ndarray | float) -> None:
    if isinstance(b, np.ndarray) or b != 0.0:
        z += b


def forward(x: np.ndarray, params, act: Activation, depth: int, observer: Observer = Observer(),
            keep: bool = False, ops: LayerOps = NO_OPS) -> list[np.ndarray]:
    """Run layers ``1..depth`` on ``x``.

    Streaming (``keep=False``): two reused buffers, one for z and one for h (h_{l-1} is dead
    once z_l is formed, so h_l takes its place), each weight dropped after its product, so
    memory does not grow with depth; returns ``[h_L]``. With ``keep=True`` returns the tape
    the backward pass needs and no more: ``[x, s_1, ..., s_L]`` where ``s_l`` is ``h_l`` when
    the derivative is computed from the output (tanh, ReLU, ...) and ``z_l`` otherwise (GELU,
    SiLU, Mish), one array per layer either way (the other one lives in a reused buffer).
    With :class:`LayerOps` (normalization, dropout) ``s_l`` is taken after the normalization and
    before dropout, and the result is the last layer's output after dropout.
    """
    batch = x.shape[0]
    widths = params.widths
    size = batch * max(widths[1 : depth + 1]) if depth else 0
    keep_z = keep and act.deriv_from == "input"
    zbuf = _take(size, x.dtype) if depth and not keep_z else None
    # h lives in a work buffer for every layer but the last when streaming (the last writes
    # the result), and for every layer when the tape keeps z instead
    hbuf = _take(size, x.dtype) if (keep_z and depth) or (not keep and depth > 1) else None
    tape = [x]
    h = x
    try:
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            for l in range(1, depth + 1):
                w = params.weight(l)
                b = params.bias(l)
                observer.parameters(l, w, b)
                shape = (batch, w.shape[1])
                z = np.empty(shape, x.dtype) if keep_z else zbuf[: batch * shape[1]].reshape(shape)
                z = np.matmul(h, w, out=z)
                del w
                _add_bias(z, b)
                if (keep and not keep_z) or (not keep and l == depth):
                    out = np.empty(shape, x.dtype)  # kept on the tape, or the result
                else:
                    out = hbuf[: batch * shape[1]].reshape(shape)
                if ops.active:
                    z = ops.norm(l, z)
                h = observer.forward_layer(l, act, z, out)
                if keep:
                    tape.append(z if keep_z else h)
                if ops.active:
                    h = ops.drop(l, h)
    finally:
        _give(zbuf, hbuf)
    if keep:
        return tape
    return [h if depth else h.copy()]


def activation_from_tape(act: Activation, tape: list[np.ndarray], layer: int,
                         ops: LayerOps = NO_OPS) -> np.ndarray:
    """``h_layer`` as the next layer sees it, from the tape of :func:`forward` (recomputed when
    the tape holds ``z``; dropout applied again with its kept mask)."""
    if layer == 0:
        return tape[0]
    if act.deriv_from == "output":
        h = tape[layer]
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            h = act.fn(tape[layer])
    return ops.drop(layer, h) if ops.active else h


@dataclass(frozen=True)
class LossDraws:
    """The loss's random draws: the top gradient (random), targets (mse) or labels (softmax)."""

    kind: str
    draws: np.ndarray


def draw_loss(kind: str, seed: int, batch: int, width: int, classes: int, dtype) -> LossDraws:
    """Draw what the loss needs from the loss stream.

    ``random``: G ~ N(0, 1) of shape (batch, width), the loss is ``sum(h_L * G)``;
    ``mse``: targets Y ~ N(0, 1), loss ``sum((h_L - Y)^2) / (2 batch)``;
    ``softmax_ce``: labels uniform on ``classes``, loss the batch-mean cross-entropy of a
    linear readout ``h_L @ W_out`` (W_out drawn by the weight initializer as layer L + 1).
    """
    rng = stream(seed, LOSS)
    if kind in ("random", "mse"):
        return LossDraws(kind, rng.standard_normal((batch, width), dtype=dtype))
    if kind == "softmax_ce":
        return LossDraws(kind, rng.integers(0, classes, size=batch))
    raise ValueError(f"unknown loss {kind!r}")


def loss_and_gradient(draws: LossDraws, h: np.ndarray, readout: np.ndarray | None = None
                      ) -> tuple[float, np.ndarray]:
    """The loss value and dL/dh_L for the top activations ``h`` (see :func:`draw_loss`)."""
    batch = h.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        if draws.kind == "random":
            return float(np.vdot(h, draws.draws)), draws.draws.copy()
        if draws.kind == "mse":
            diff = h - draws.draws
            return float(np.vdot(diff, diff)) / (2 * batch), diff / h.dtype.type(batch)
        logits = (h @ readout).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        rows = np.arange(batch)
        loss = -float(logp[rows, draws.draws].mean())
        dlogits = np.exp(logp)
        dlogits[rows, draws.draws] -= 1.0
        dlogits /= batch
        return loss, (dlogits.astype(h.dtype) @ readout.T)


def backward(tape: list[np.ndarray], params, act: Activation, top_grad: np.ndarray,
             observer: Observer = Observer(), input_grad: bool = True,
             nonfinite_from: int | None = None, ops: LayerOps = NO_OPS) -> np.ndarray | None:
    """Back-propagate ``top_grad`` = dL/dh_L through the layers recorded in ``tape``.

    Per layer l = L..1: ``dz_l = g_l * act'(z_l)``, ``dW_l = h_{l-1}^T dz_l``,
    ``g_{l-1} = dz_l W_l^T`` (with :class:`LayerOps`: dropout's backward on g_l first, the
    normalization's backward on dz_l after, before dW_l). Weights come again from ``params`` (drawn anew from their
    streams), and each tape entry is released once used, so memory falls as the pass goes.
    The observer sees ``backward_layer`` (by default ``grad_act(l, g_l)`` and
    ``grad_preact(l, dz_l)``) and ``grad_weight(l, h_{l-1}, dz_l, W_l)``; finally
    ``grad_act(0, dL/dx)`` when ``input_grad``. Returns dL/dx (or None). The tape is consumed.
    """
    depth = len(tape) - 1
    g = top_grad
    batch = top_grad.shape[0]
    widths = [t.shape[1] if t is not None else 0 for t in tape]
    size = batch * max(widths[: depth + 1]) if depth else 0
    # Two buffers serve every layer: dz (the derivative times g) and the next g. The tape
    # entry is dropped once dz holds its contribution, so memory falls as the pass goes.
    dz_buf = _take(size, top_grad.dtype) if depth else None
    g_buf = _take(size, top_grad.dtype) if depth > 1 else None
    try:
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            for l in range(depth, 0, -1):
                s = tape[l]
                n_l = s.shape[1]
                if ops.active:
                    g = ops.drop_backward(l, g)
                dz = observer.backward_layer(l, act, s, g, dz_buf[: batch * n_l].reshape(batch, n_l),
                                             nonfinite_from is not None and l >= nonfinite_from)
                tape[l] = s = None  # release: dz now holds what layer l contributes
                if ops.active:
                    dz = ops.norm_backward(l, dz)
                h_prev = activation_from_tape(act, tape, l - 1, ops)
                w = params.weight(l)
                observer.grad_weight(l, h_prev, dz, w)
                del h_prev
                if l > 1:  # g_{l-1} = dz W^T, into the buffer g_l no longer needs
                    n_prev = w.shape[0]
                    g = np.matmul(dz, w.T, out=g_buf[: batch * n_prev].reshape(batch, n_prev))
                elif input_grad:
                    g = dz @ w.T  # returned: a fresh array
                del w, dz
    finally:
        _give(dz_buf, g_buf)
    if input_grad:
        observer.grad_act(0, g)
        return g
    return None


def input_batch(seed: int, batch: int, dim: int, distribution: str, mean: float, std: float,
                low: float | None, high: float | None, dtype) -> np.ndarray:
    """The input ``h_0`` from the input stream: N(mean, std^2), or uniform on [low, high]
    (default ``mean -+ sqrt(3) std``: the uniform with that mean and std)."""
    rng = stream(seed, INPUT)
    if distribution == "normal":
        x = rng.standard_normal((batch, dim), dtype=dtype)
        if std != 1.0:
            x *= std
        if mean != 0.0:
            x += mean
        return x
    if low is None:
        low, high = mean - math.sqrt(3.0) * std, mean + math.sqrt(3.0) * std
    x = rng.random((batch, dim), dtype=dtype)
    x *= high - low
    x += low
    return x
