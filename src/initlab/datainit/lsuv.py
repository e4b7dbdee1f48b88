"""LSUV, layer-sequential unit-variance initialization (Mishkin & Matas 2015, "All you need is a
good init", Alg. 1), on the engine's forward pass.

After a pre-initialization (orthonormal in the paper; any initializer here, ``base``), for each
hidden layer l = 1..L in turn, on a fixed batch::

    repeat at most max_iter times:
        z_l = h_{l-1} W_l + b_l             (the engine's forward pass, one layer)
        if |Var(z_l) - 1| <= tol: stop
        W_l <- W_l / sqrt(Var(z_l))

then (``center``) ``b_l <- b_l - mean(z_l)``, and ``h_l = phi(z_l)`` feeds the next layer.

Choices where implementations disagree (docs/datainit.md says why):

- **which variance**: of the pre-activation z_l (the paper's B_L "before the nonlinearity"),
  over every entry of the batch x units array (population variance, float64);
- **tol on the variance**, ``|Var - 1| <= tol`` (the paper and LSUV-keras; LSUV-pytorch
  tests the std), default 0.1 with at most 10 rescalings (LSUV-keras's defaults; Caffe's
  original: 0.02 and 20);
- **bias**: left as drawn unless ``center``; then shifted *after* the weight has converged, by
  the scalar mean of z (LSUV-pytorch's order), which leaves Var(z) unchanged;
- **tiny layers**: none skipped by default (``min_width`` 1; LSUV-keras skips < 32 outputs);
- **the readout** (layer L + 1) keeps its base initialization: the method is about
  propagation through the hidden layers.

A layer whose z has zero (or non-finite) variance cannot be scaled to 1: that is a
:class:`~initlab.errors.ConfigError` naming ``network.initializer`` and the layer. A target
that ``max_iter`` rescalings do not reach (a bias whose own variance exceeds 1 + tol) is a
result: the row says ``converged: False``.

With h_{l-1} fixed, z_l is linear in the scale of W_l, so without a bias one rescaling lands on
Var = 1 up to rounding: the loop usually stops after 1 rescaling (the paper's convolutional
nets needed 1-5). The gain reported per layer is ``sqrt(fan_in * mean(W_l^2))``, the g of an
equivalent ``W ~ g / sqrt(fan_in)`` init: for a deep layer fed unit-variance pre-activations it
approaches the activation's variance-preserving gain ``1 / sqrt(E[phi(z)^2])``, z ~ N(0, 1).
"""

from __future__ import annotations

import math

import numpy as np

from initlab.engine import network
from initlab.engine.activations import Activation
from initlab.engine.parameters import StoredParameters
from initlab.errors import ConfigError

COLUMNS = ("layer", "width", "lsuv_iterations", "lsuv_var_before", "lsuv_var_after", "lsuv_scale", "lsuv_gain",
           "lsuv_converged", "lsuv_skipped")


class _OneLayer:
    """Layer ``l`` of ``params`` as a one-layer network (the engine's passes read it as layer 1)."""

    def __init__(self, params: StoredParameters, layer: int):
        self.params, self.layer = params, layer
        self.widths = (params.widths[layer - 1], params.widths[layer])

    def weight(self, _):
        return self.params.weight(self.layer)

    def bias(self, _):
        return self.params.bias(self.layer)


class _PreactMoments(network.Observer):
    """Mean and variance (float64, over every entry) of the pre-activation the pass forms."""

    mean = var = math.nan

    def preact(self, layer, z):
        z64 = z.astype(np.float64, copy=False)
        self.mean = float(z64.mean())
        self.var = float(z64.var())


def _layer(params: StoredParameters, l: int, act: Activation, h: np.ndarray):
    obs = _PreactMoments()
    out = network.forward(h, _OneLayer(params, l), act, 1, obs)[0]
    return obs, out


def gain_of(w: np.ndarray) -> float:
    """``sqrt(fan_in * mean(W^2))``: the g of an equivalent ``W ~ g / sqrt(fan_in)``."""
    return math.sqrt(w.shape[0] * float(np.mean(np.square(w, dtype=np.float64))))


def fit(params: StoredParameters, act: Activation, x: np.ndarray, depth: int, *, tol: float = 0.1,
        max_iter: int = 10, center: bool = False, min_width: int = 1) -> list[dict]:
    """Scale W_1..W_depth of ``params`` in place so each layer's pre-activation variance on ``x``
    is 1 within ``tol`` (see the module docstring). Returns one row per layer (:data:`COLUMNS`)."""
    rows = []
    h = x
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for l in range(1, depth + 1):
            w = params.weights[l - 1]
            width = w.shape[1]
            obs, out = _layer(params, l, act, h)
            before = obs.var
            if not math.isfinite(before) or before <= 0:
                what = "0" if before == 0 else str(before)
                raise ConfigError("network.initializer",
                                  f"lsuv: the pre-activation variance of layer {l} is {what} on the LSUV batch "
                                  f"(zero or non-finite weights or inputs); no scale of W_{l} makes it 1")
            skipped = width < min_width
            scale, it = 1.0, 0
            while not skipped and abs(obs.var - 1.0) > tol and it < max_iter:
                f = 1.0 / math.sqrt(obs.var)
                w *= w.dtype.type(f)
                scale *= f
                it += 1
                obs, out = _layer(params, l, act, h)
                if not math.isfinite(obs.var) or obs.var <= 0:
                    raise ConfigError("network.initializer",
                                      f"lsuv: the pre-activation variance of layer {l} became {obs.var} while "
                                      "scaling; no scale makes it 1")
            if center and not skipped:
                b = params.biases[l - 1]
                if not isinstance(b, np.ndarray):
                    b = params.biases[l - 1] = np.full(width, b, dtype=w.dtype)
                b -= b.dtype.type(obs.mean)
                obs, out = _layer(params, l, act, h)
            rows.append({"layer": l, "width": width, "lsuv_iterations": it, "lsuv_var_before": before,
                         "lsuv_var_after": obs.var, "lsuv_scale": scale, "lsuv_gain": gain_of(w),
                         "lsuv_converged": bool(skipped or abs(obs.var - 1.0) <= tol), "lsuv_skipped": skipped})
            h = out
    params.apply_masks()
    return rows
