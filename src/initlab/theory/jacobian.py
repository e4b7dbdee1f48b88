"""Input-output Jacobians of real networks and their singular values (Pennington, Schoenholz &
Ganguli 2017; Glorot & Bengio 2010 sec. 4.2.2 for the per-layer ones). The forward pass is the
engine's (:func:`initlab.engine.network.forward`): one forward loop for every use.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from initlab.engine import network
from initlab.engine.gaussian import Array
from initlab.engine.parameters import StoredParameters
from initlab.theory.meanfield import as_activation

def sample_network(sampler: Callable, widths: Sequence[int], rng: np.random.Generator,
                   bias_var: float = 0.0, dtype=np.float64) -> tuple[list[Array], list[Array]]:
    """Weights ``sampler(rng, (widths[l-1], widths[l]), dtype)`` (an initializer) and biases
    N(0, bias_var) for layers 1..L, in the (fan_in, fan_out) layout."""
    weights, biases = [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        weights.append(np.asarray(sampler(rng, (int(fan_in), int(fan_out)), dtype)))
        biases.append(rng.standard_normal(int(fan_out)).astype(dtype) * math.sqrt(bias_var)
                      if bias_var > 0 else np.zeros(int(fan_out), dtype=dtype))
    return weights, biases


class _Derivatives(network.Observer):
    """Keeps phi'(z_l) of every layer (row 0) as the engine's forward pass produces z_l."""

    def __init__(self):
        self.derivs: list[Array] = []

    def forward_layer(self, layer, act, z, out):
        d = act.deriv(z) if act.deriv_from == "input" else None
        h = act.fn(z, out=out)
        if d is None:
            d = act.deriv(h, out=np.empty_like(h))
        self.derivs.append(d[0])
        return h


def _forward_derivs(act, weights, biases, x):
    """phi'(z_l) of every layer for one input row ``x``, by the engine's forward pass."""
    act = as_activation(act)
    weights = [np.asarray(w, dtype=np.float64) for w in weights]
    biases = [0.0] * len(weights) if biases is None else [0.0 if b is None else b for b in biases]
    obs = _Derivatives()
    x = np.asarray(x, dtype=np.float64).reshape(1, -1)
    network.forward(x, StoredParameters(weights, biases), act, len(weights), obs)
    return obs.derivs


def input_output_jacobian(act, weights: list[Array], biases, x) -> Array:
    """``J = d h_L / d h_0`` at one input ``x`` (shape (dim0,)), in the row-vector convention:
    ``J[i, j] = d h_L[j] / d h_0[i]``, shape (dim0, dimL), so ``dh_L = dh_0 @ J`` and
    ``J = W_1 D_1 W_2 D_2 ... W_L D_L`` with ``D_l = diag(phi'(z_l))``. (Pennington et al. 2017
    write the transpose, ``D_L W_L ... D_1 W_1``; the singular values are the same.)
    ``biases`` may be None (all zero)."""
    derivs = _forward_derivs(act, weights, biases, x)
    jac = np.eye(np.asarray(weights[0]).shape[0])
    for w, d in zip(weights, derivs):
        jac = (jac @ w) * d[None, :]
    return jac


def jacobian_spectrum(act, weights: list[Array], biases, x) -> Array:
    """Singular values (descending) of :func:`input_output_jacobian`. Dynamical isometry
    (Pennington et al. 2017) is all of them near 1; their mean square is
    :func:`mean_squared_singular_value`."""
    return np.linalg.svd(input_output_jacobian(act, weights, biases, x), compute_uv=False)


def jacobian_spectra_at_depths(act, weights: list[Array], biases, x,
                               depths: Sequence[int]) -> dict[int, Array]:
    """Singular values of the Jacobian of the first ``d`` layers, for each ``d`` in ``depths``,
    from one forward pass (for spectra against depth, Pennington et al. 2017 Fig. 3)."""
    derivs = _forward_derivs(act, weights, biases, x)
    wanted = sorted({int(d) for d in depths})
    if wanted and (wanted[0] < 1 or wanted[-1] > len(weights)):
        raise ValueError(f"depths must lie in 1..{len(weights)}, got {list(depths)}")
    out = {}
    jac = np.eye(np.asarray(weights[0]).shape[0])
    for layer, (w, d) in enumerate(zip(weights, derivs), start=1):
        jac = (jac @ w) * d[None, :]
        if layer in wanted:
            out[layer] = np.linalg.svd(jac, compute_uv=False)
    return out


def per_layer_jacobian_singular_values(act, weights: list[Array], biases, x) -> list[Array]:
    """Singular values of each layer's Jacobian ``d h_l / d h_{l-1}`` at input ``x``:
    ``W_l D_l`` in our layout, ``D_l W_l^T`` in the column convention. Glorot & Bengio
    (2010, sec. 4.2.2) report their average: ~0.8 with normalized init, ~0.5 with standard."""
    derivs = _forward_derivs(act, weights, biases, x)
    return [np.linalg.svd(np.asarray(w) * d[None, :], compute_uv=False)
            for w, d in zip(weights, derivs)]


def mean_squared_singular_value(jac: Array) -> float:
    """``tr(J J^T) / dim0`` for J of shape (dim0, dimL): the mean squared singular value when
    dim0 <= dimL, and in any case the expected squared gain |u J|^2 of a random unit input
    direction u. Mean field predicts :func:`predicted_jacobian_gain` (chi^L)."""
    jac = np.asarray(jac)
    return float(np.sum(jac * jac) / jac.shape[0])
