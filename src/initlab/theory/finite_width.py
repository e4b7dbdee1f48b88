"""Finite-width fluctuations of the activation length of He-initialized ReLU nets (Hanin &
Rolnick 2018)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from initlab.engine.gaussian import Array

def log_length_ratio(h0, hL) -> Array:
    """``log(|h_L|^2 / |h_0|^2)`` per row (input) of ``h0`` (batch, dim0) and ``hL``
    (batch, dimL). Hanin & Rolnick (2018) study the fluctuations of this quantity."""
    h0 = np.atleast_2d(np.asarray(h0, dtype=np.float64))
    hL = np.atleast_2d(np.asarray(hL, dtype=np.float64))
    with np.errstate(divide="ignore"):
        return np.log(np.sum(hL * hL, axis=1)) - np.log(np.sum(h0 * h0, axis=1))


def hanin_rolnick_variance(widths_hidden: Sequence[int], exact: bool = False) -> float:
    """Predicted ``Var[log(|h_L|^2 / |h_0|^2)]`` for a He-initialized ReLU net (weights
    N(0, 2 / fan_in), zero biases) whose layers 1..L have widths ``widths_hidden``
    (n_1..n_L: every layer whose ReLU output enters h_L, the last included).

    Hanin & Rolnick (2018, failure mode FM2) prove that the variance of the normalized squared
    length grows exponentially in ``sum_l 1 / n_l`` and stays bounded when that sum does. The
    leading-order value at large width, for Gaussian weights: given h_{l-1}, the ratio
    ``|h_l|^2 / |h_{l-1}|^2 = (2 / n_{l-1}) sum_{j <= n_l} relu(g_j)^2`` with g_j iid N(0, 1)
    independent of earlier layers, and Var[relu(g)^2] / E[relu(g)^2]^2 = (3/2 - 1/4) / (1/4) = 5,
    so each layer adds ``5 / n_l`` and::

        Var[log(|h_L|^2 / |h_0|^2)] ~ 5 * sum_l 1 / n_l      (exact=False; large n_l)

    ``exact=True`` gives the finite-width value for Gaussian weights: the number K of positive
    g_j is Binomial(n, 1/2) and, given K, the sum of their squares is chi-square with K degrees
    of freedom, so each layer adds ``E[psi'(K/2)] + Var[psi(K/2)]`` (psi the digamma function;
    K = 0, probability 2^-n, excluded). It is ~5/n (1 + 3/n): 6 % above the asymptotic value at
    n = 50.
    """
    ns = [int(n) for n in widths_hidden]
    if any(n < 1 for n in ns):
        raise ValueError("widths must be positive")
    if not exact:
        return float(5.0 * sum(1.0 / n for n in ns))
    from scipy.special import gammaln, polygamma, psi

    total = 0.0
    for n in ns:
        k = np.arange(1, n + 1)
        p = np.exp(gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) - n * math.log(2.0))
        p /= p.sum()  # Binomial(n, 1/2) given K >= 1
        mean_psi = np.sum(p * psi(k / 2.0))
        var_given_k = np.sum(p * polygamma(1, k / 2.0))  # E[Var[log chi2_K | K]]
        var_of_mean = np.sum(p * (psi(k / 2.0) - mean_psi) ** 2)  # Var[E[log chi2_K | K]]
        total += float(var_given_k + var_of_mean)
    return total
