"""Normalization and dropout layers with explicit forward and backward passes.

``*_forward`` returns ``(out, cache)``; ``*_backward(cache, dout)`` returns ``dL/din`` and,
for the affine layers, ``(dgamma, dbeta)`` (``None`` when the layer has no affine
parameters). Caches are small frozen dataclasses (picklable): the normalized input and the
inverse standard deviations, or the dropout mask. Inputs are ``(batch, features)`` for batch
norm and ``(..., features)`` for layer norm; outputs and gradients keep the input's dtype
(float32 or float64), parameters are cast to it.

Hyperparameter checks raise :class:`~initlab.errors.ConfigError` at ``batch_norm.<name>``,
``layer_norm.eps`` or ``dropout.p``; a caller with a fuller path re-places them with
``err.at("network.dropout")``. Shape problems are ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _checks

EPS = 1e-5        # torch.nn.BatchNorm1d / LayerNorm default
MOMENTUM = 0.1    # torch.nn.BatchNorm1d default


def _float(x) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)


def _affine(param, n: int, dtype, name: str):
    if param is None:
        return None
    p = np.asarray(param, dtype=dtype)
    if p.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {p.shape}")
    return p


def _normalized_backward(xhat, inv_std, gamma, dout, axis: int):
    """dL/dx of ``y = gamma xhat + beta``, ``xhat = (x - mean) inv_std`` with the mean and the
    biased variance taken over ``axis`` (n entries)::

        dxhat = dout gamma
        dx    = inv_std / n (n dxhat - sum(dxhat) - xhat sum(dxhat xhat))

    (Ioffe & Szegedy 2015, section 3, the chain rule through the batch statistics)."""
    n = xhat.shape[axis]
    dxhat = dout if gamma is None else dout * gamma
    s1 = dxhat.sum(axis=axis, keepdims=True)
    s2 = (dxhat * xhat).sum(axis=axis, keepdims=True)
    dx = dxhat * xhat.dtype.type(n)
    dx -= s1
    dx -= xhat * s2
    dx *= inv_std / xhat.dtype.type(n)
    return dx


def _param_grads(xhat, dout, gamma, axes):
    if gamma is None:
        return None, None
    return (dout * xhat).sum(axis=axes), dout.sum(axis=axes)


# --- batch norm --------------------------------------------------------------------------------

@dataclass(frozen=True)
class BatchNormCache:
    xhat: np.ndarray          # (batch, features), normalized input
    inv_std: np.ndarray       # (1, features), 1 / sqrt(var + eps)
    gamma: np.ndarray | None  # (features,) in the input's dtype, or None
    training: bool            # batch statistics (True) or running statistics (False)


def batch_norm_forward(x, gamma, beta, running_mean=None, running_var=None, training=True,
                       momentum: float = MOMENTUM, eps: float = EPS):
    """Batch normalization over the batch axis, as ``torch.nn.BatchNorm1d`` (Ioffe & Szegedy
    2015, Algorithm 1)::

        y = gamma (x - mu) / sqrt(var + eps) + beta

    Training mode: ``mu`` and ``var`` are the batch mean and the *biased* batch variance
    (divided by B), and the running statistics, when given, are updated in place with the
    *unbiased* variance (divided by B - 1)::

        running_mean <- (1 - momentum) running_mean + momentum mu
        running_var  <- (1 - momentum) running_var  + momentum var B / (B - 1)

    Eval mode (``training=False``): ``mu, var`` are ``running_mean, running_var``, untouched.

    Args:
        x: ``(batch, features)``; batch >= 2 in training mode (torch's rule).
        gamma, beta: ``(features,)`` affine parameters, or both ``None`` (affine=False).
        running_mean, running_var: ``(features,)`` arrays updated in place in training mode
            (``None``: not tracked, as ``track_running_stats=False``); required in eval mode.
        training: batch statistics (True) or running statistics (False).
        momentum: in [0, 1], torch's convention (weight of the new batch), default 0.1.
        eps: > 0, default 1e-5.

    Returns:
        ``(y, cache)``, y in x's dtype.
    """
    x = _float(x)
    if x.ndim != 2:
        raise ValueError(f"batch_norm takes (batch, features), got shape {x.shape}")
    momentum = _checks.closed_unit(momentum, "batch_norm.momentum")
    eps = _checks.positive(eps, "batch_norm.eps")
    if (gamma is None) != (beta is None):
        raise ValueError("gamma and beta must be given together (or both None)")
    batch, n = x.shape
    dt = x.dtype.type
    g = _affine(gamma, n, x.dtype, "gamma")
    b = _affine(beta, n, x.dtype, "beta")
    for name, r in (("running_mean", running_mean), ("running_var", running_var)):
        if r is not None and (not isinstance(r, np.ndarray) or r.shape != (n,)):
            raise ValueError(f"{name} must be a ({n},) numpy array, got {np.shape(r)}")
    if training:
        if batch < 2:
            raise ValueError("batch_norm in training mode needs at least 2 rows per batch")
        mu = x.mean(axis=0, keepdims=True)
        xc = x - mu
        var = (xc * xc).mean(axis=0, keepdims=True)
        if running_mean is not None:
            running_mean *= 1.0 - momentum
            running_mean += momentum * mu[0]
        if running_var is not None:
            running_var *= 1.0 - momentum
            running_var += (momentum * batch / (batch - 1)) * var[0]
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm in eval mode needs running_mean and running_var")
        xc = x - running_mean.astype(x.dtype, copy=False)
        var = running_var.astype(x.dtype, copy=False)[None, :]
    inv_std = 1.0 / np.sqrt(var + dt(eps))
    xhat = xc * inv_std
    y = xhat * g + b if g is not None else xhat.copy()
    return y, BatchNormCache(xhat, inv_std, g, bool(training))


def batch_norm_backward(cache: BatchNormCache, dout):
    """Gradients of :func:`batch_norm_forward` given ``dout = dL/dy``.

    Training mode, through the batch statistics (:func:`_normalized_backward` over the batch
    axis); eval mode, the statistics are constants: ``dx = dout gamma / sqrt(running_var +
    eps)``. Both: ``dgamma = sum_batch dout xhat``, ``dbeta = sum_batch dout``.

    Returns:
        ``(dx, dgamma, dbeta)``; the last two are ``None`` without affine parameters.
    """
    dout = np.asarray(dout, dtype=cache.xhat.dtype)
    if cache.training:
        dx = _normalized_backward(cache.xhat, cache.inv_std, cache.gamma, dout, axis=0)
    else:
        dx = dout * cache.inv_std if cache.gamma is None else dout * (cache.gamma * cache.inv_std)
    return (dx, *_param_grads(cache.xhat, dout, cache.gamma, axes=0))


# --- layer norm --------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerNormCache:
    xhat: np.ndarray          # (..., features), normalized input
    inv_std: np.ndarray       # (..., 1), 1 / sqrt(var + eps) per row
    gamma: np.ndarray | None  # (features,) or None


def layer_norm_forward(x, gamma, beta, eps: float = EPS):
    """Layer normalization over the last (feature) axis, as ``torch.nn.LayerNorm(features)``
    (Ba, Kiros & Hinton 2016)::

        y = gamma (x - mean(x)) / sqrt(var(x) + eps) + beta

    with the mean and the biased variance taken per row over the features. The same in
    training and evaluation.

    Args:
        x: ``(..., features)``.
        gamma, beta: ``(features,)``, or both ``None`` (elementwise_affine=False).
        eps: > 0, default 1e-5.

    Returns:
        ``(y, cache)``, y in x's dtype.
    """
    x = _float(x)
    if x.ndim < 1:
        raise ValueError("layer_norm needs at least a feature axis")
    eps = _checks.positive(eps, "layer_norm.eps")
    if (gamma is None) != (beta is None):
        raise ValueError("gamma and beta must be given together (or both None)")
    n = x.shape[-1]
    g = _affine(gamma, n, x.dtype, "gamma")
    b = _affine(beta, n, x.dtype, "beta")
    xc = x - x.mean(axis=-1, keepdims=True)
    var = (xc * xc).mean(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + x.dtype.type(eps))
    xhat = xc * inv_std
    y = xhat * g + b if g is not None else xhat.copy()
    return y, LayerNormCache(xhat, inv_std, g)


def layer_norm_backward(cache: LayerNormCache, dout):
    """Gradients of :func:`layer_norm_forward` given ``dout = dL/dy``: the
    :func:`_normalized_backward` formula over the feature axis; ``dgamma = sum dout xhat`` and
    ``dbeta = sum dout`` over every axis but the last.

    Returns:
        ``(dx, dgamma, dbeta)``; the last two are ``None`` without affine parameters.
    """
    dout = np.asarray(dout, dtype=cache.xhat.dtype)
    dx = _normalized_backward(cache.xhat, cache.inv_std, cache.gamma, dout, axis=-1)
    batch_axes = tuple(range(dout.ndim - 1))
    return (dx, *_param_grads(cache.xhat, dout, cache.gamma, axes=batch_axes))


# --- dropout -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DropoutCache:
    mask: np.ndarray | None  # kept entries 1 / (1 - p), dropped 0; None for the identity


def dropout_forward(x, p: float, rng: np.random.Generator | None = None, training: bool = True):
    """Inverted dropout (Srivastava et al. 2014; ``torch.nn.functional.dropout``)::

        keep ~ Bernoulli(1 - p) entrywise,   y = x keep / (1 - p)

    so ``E[y] = x`` and evaluation needs no rescaling. ``keep`` is ``rng.random(x.shape) >=
    p``, drawn from the generator passed in (torch's stream differs, so the two agree given
    the same mask, not the same seed; the uniforms are float64 whatever x's dtype, so one
    seed gives one mask for float32 and float64 alike). ``p = 0`` or ``training=False`` is
    the identity and draws nothing (``rng`` may then be ``None``); ``p = 1`` drops
    everything (y = 0), as torch.

    Returns:
        ``(y, cache)``; y is a new array in x's dtype (x itself for the identity).
    """
    x = _float(x)
    p = _checks.closed_unit(p, "dropout.p")
    if p == 0.0 or not training:
        return x, DropoutCache(None)
    if rng is None:
        raise TypeError("dropout with p > 0 in training needs a numpy Generator")
    keep = rng.random(x.shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = keep.astype(x.dtype)
    mask *= x.dtype.type(scale)
    return x * mask, DropoutCache(mask)


def dropout_with_mask(x, mask):
    """``(x * mask, cache)`` for a given scaled mask (``keep / (1 - p)``): the forward pass
    with a mask drawn elsewhere (tests, replaying a step)."""
    x = _float(x)
    mask = np.asarray(mask, dtype=x.dtype)
    if mask.shape != x.shape:
        raise ValueError(f"mask must have x's shape {x.shape}, got {mask.shape}")
    return x * mask, DropoutCache(mask)


def dropout_backward(cache: DropoutCache, dout):
    """``dx = dout * mask`` with the forward pass's mask; the identity returns ``dout``."""
    if cache.mask is None:
        return dout
    return np.asarray(dout, dtype=cache.mask.dtype) * cache.mask
