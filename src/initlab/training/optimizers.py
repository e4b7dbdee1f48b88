"""Optimizers: torch.optim's SGD, Adam and AdamW over lists of numpy arrays, updated in place.

``opt.step(params, grads, lr=None, masks=None)`` updates every array of ``params`` in place from
the same-length list ``grads`` (``grads`` are read, never written). The state (momentum
buffers, moment estimates, the step count) lives in the optimizer, allocated on the first step
in each parameter's dtype, so an optimizer is a plain picklable object: pickle it mid-training
and the copy continues with identical steps. Later steps must pass the same number of arrays
with the same shapes, in the same order.

Learning rate: the ``lr`` given at construction (must be > 0), unless a step passes its own
(any finite value >= 0, so a schedule may reach 0); ``opt.lr = x`` sets it for later steps.

Masks (lottery tickets, Frankle & Carbin 2019): ``masks`` is ``None`` or a list with, per
parameter, ``None`` or a 0/1 array of that parameter's shape. For a masked parameter the
optimizer multiplies (1) the gradient, after weight decay has been added, before it enters the
state, (2) the update, and (3) the parameter itself after the update, by the mask. So masked
entries are exactly 0 after every step (even if they were not before the first), their state
stays exactly 0, and the unmasked entries follow exactly the trajectory torch gives on the
gradient ``mask * g`` (what autograd yields for the reparameterization ``w * mask`` of
``torch.nn.utils.prune``), because every update here is entrywise.

Validation raises :class:`~initlab.errors.ConfigError` at ``train.optimizer.<parameter>``;
:func:`get` raises at ``train.optimizer.name`` for an unknown name.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, lookup, unknown
from . import _checks

FIELD = "train.optimizer"
STATE = {"state": True}  # marks the dataclass fields that are optimizer state, not settings


def _lr_for_step(opt, lr) -> float:
    if lr is None:
        return opt.lr
    return _checks.nonnegative(lr, f"{FIELD}.lr")


def _check_lists(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], masks, state) -> list:
    if len(params) != len(grads):
        raise ValueError(f"{len(params)} parameters but {len(grads)} gradients")
    if masks is None:
        masks = [None] * len(params)
    elif len(masks) != len(params):
        raise ValueError(f"{len(params)} parameters but {len(masks)} masks")
    if state is not None and len(state) != len(params):
        raise ValueError(f"the optimizer holds state for {len(state)} parameters, "
                         f"got {len(params)}")
    for i, (p, g, m) in enumerate(zip(params, grads, masks)):
        if not isinstance(p, np.ndarray):
            raise TypeError(f"parameter {i} must be a numpy array to be updated in place")
        if np.shape(g) != p.shape or (m is not None and np.shape(m) != p.shape):
            raise ValueError(f"parameter {i} has shape {p.shape}; gradient {np.shape(g)}"
                             + ("" if m is None else f", mask {np.shape(m)}"))
        if state is not None and state[i].shape != p.shape:
            raise ValueError(f"parameter {i} has shape {p.shape}, its state {state[i].shape}")
    return list(masks)


def _apply(p: np.ndarray, update: np.ndarray, lr: float, mask) -> None:
    """``p -= lr * update``, then the mask on the parameter (the update is masked already)."""
    p -= p.dtype.type(lr) * update
    if mask is not None:
        p *= mask


def _masked_grad(g: np.ndarray, p: np.ndarray, weight_decay: float, mask) -> np.ndarray:
    """``(g + weight_decay * p) * mask`` as a fresh array in p's dtype (torch: ``grad.add(p,
    alpha=weight_decay)``)."""
    d = np.array(g, dtype=p.dtype, copy=True)
    if weight_decay != 0:
        d += p.dtype.type(weight_decay) * p
    if mask is not None:
        d *= mask
    return d


@dataclass
class SGD:
    """Stochastic gradient descent with momentum, exactly ``torch.optim.SGD``.

    Per step, with g the gradient, mu the momentum, tau the dampening, lambda the weight decay::

        g   <- g + lambda p
        b   <- g                          at the first step (buffer initialized to g)
        b   <- mu b + (1 - tau) g         afterwards
        g   <- g + mu b  (nesterov)   or  g <- b   (momentum > 0)
        p   <- p - lr g

    Source: torch.optim.SGD documentation (algorithm box); Nesterov in the form of Sutskever
    et al. 2013 as torch writes it.

    Args:
        lr: learning rate, > 0.
        momentum: mu in [0, 1); 0 disables the buffer.
        nesterov: Nesterov momentum; requires momentum > 0 and dampening 0 (torch's rule).
        weight_decay: lambda >= 0, L2 penalty added to the gradient.
        dampening: tau in [0, 1].
    """

    lr: float
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    dampening: float = 0.0
    buffers: list | None = field(default=None, repr=False, metadata=STATE)  # per parameter
    steps: int = field(default=0, metadata=STATE)

    source = "torch.optim.SGD; Sutskever et al. 2013 (Nesterov)"

    def __post_init__(self):
        self.lr = _checks.positive(self.lr, f"{FIELD}.lr")
        self.momentum = _checks.half_open_unit(self.momentum, f"{FIELD}.momentum")
        self.nesterov = _checks.flag(self.nesterov, f"{FIELD}.nesterov")
        self.weight_decay = _checks.nonnegative(self.weight_decay, f"{FIELD}.weight_decay")
        self.dampening = _checks.closed_unit(self.dampening, f"{FIELD}.dampening")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ConfigError(f"{FIELD}.nesterov",
                              "Nesterov momentum requires momentum > 0 and dampening 0")

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
             lr: float | None = None, masks: Sequence[np.ndarray | None] | None = None) -> None:
        """One update of every array in ``params``, in place (see the class docstring)."""
        lr = _lr_for_step(self, lr)
        masks = _check_lists(params, grads, masks, self.buffers)
        mu = self.momentum
        first = self.buffers is None
        if mu != 0 and first:
            self.buffers = [None] * len(params)
        for i, (p, g, m) in enumerate(zip(params, grads, masks)):
            d = _masked_grad(g, p, self.weight_decay, m)
            if mu != 0:
                if first:
                    self.buffers[i] = d.copy()
                else:
                    buf = self.buffers[i]
                    buf *= p.dtype.type(mu)
                    buf += p.dtype.type(1.0 - self.dampening) * d
                if self.nesterov:
                    d += p.dtype.type(mu) * self.buffers[i]
                else:
                    d = self.buffers[i]
            _apply(p, d, lr, m)
        self.steps += 1


@dataclass
class Adam:
    """Adam, exactly ``torch.optim.Adam`` (amsgrad off, L2 weight decay in the gradient).

    Per step t = 1, 2, ... with lambda the weight decay::

        g   <- g + lambda p
        m   <- beta1 m + (1 - beta1) g
        v   <- beta2 v + (1 - beta2) g^2
        p   <- p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    eps is added after the square root of the bias-corrected second moment, as torch does
    (Kingma & Ba 2015, Algorithm 1, puts it there too). Source: Kingma & Ba 2015;
    torch.optim.Adam documentation and its single-tensor implementation.

    Args:
        lr: learning rate, > 0.
        betas: (beta1, beta2), each in [0, 1).
        eps: > 0, added to the denominator.
        weight_decay: lambda >= 0, L2 penalty added to the gradient (for decoupled decay use
            :class:`AdamW`).
    """

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    exp_avg: list | None = field(default=None, repr=False, metadata=STATE)     # m
    exp_avg_sq: list | None = field(default=None, repr=False, metadata=STATE)  # v
    steps: int = field(default=0, metadata=STATE)
    # two scratch arrays per parameter, reused by every step (not state: not pickled)
    _work: list | None = field(default=None, repr=False, compare=False, metadata=STATE)

    source = "Kingma & Ba 2015; torch.optim.Adam"
    decoupled = False

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_work"] = None
        return state

    def __post_init__(self):
        self.lr = _checks.positive(self.lr, f"{FIELD}.lr")
        b = self.betas
        if isinstance(b, (str, bytes)) or not hasattr(b, "__len__") or len(b) != 2:
            raise ConfigError(f"{FIELD}.betas", f"must be a pair (beta1, beta2), got {b!r}")
        self.betas = (_checks.half_open_unit(b[0], f"{FIELD}.betas"),
                      _checks.half_open_unit(b[1], f"{FIELD}.betas"))
        self.eps = _checks.positive(self.eps, f"{FIELD}.eps")
        self.weight_decay = _checks.nonnegative(self.weight_decay, f"{FIELD}.weight_decay")

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
             lr: float | None = None, masks: Sequence[np.ndarray | None] | None = None) -> None:
        """One update of every array in ``params``, in place (see the class docstring)."""
        lr = _lr_for_step(self, lr)
        masks = _check_lists(params, grads, masks, self.exp_avg)
        if self.exp_avg is None:
            self.exp_avg = [np.zeros_like(p) for p in params]
            self.exp_avg_sq = [np.zeros_like(p) for p in params]
        if self._work is None or len(self._work) != len(params):
            # Fresh temporaries cost a page fault per 4 KB on every step (six arrays of W's
            # size per step made Adam slower than the forward and backward passes together);
            # these two are reused. The operations and their order are those of the
            # expressions in the comments, so the bits are the same.
            self._work = [(np.empty_like(p), np.empty_like(p)) for p in params]
        t = self.steps + 1
        beta1, beta2 = self.betas
        step_size = lr / (1 - beta1 ** t)
        bc2_sqrt = math.sqrt(1 - beta2 ** t)
        for p, g, m_, v, mask, (d, w) in zip(params, grads, self.exp_avg, self.exp_avg_sq, masks,
                                             self._work):
            one = p.dtype.type
            wd = self.weight_decay
            if self.decoupled and wd != 0:
                p *= one(1 - lr * wd)
            np.copyto(d, g, casting="unsafe")         # d = g in p's dtype
            if not self.decoupled and wd != 0:        # d = g + lambda p
                np.multiply(one(wd), p, out=w)
                d += w
            if mask is not None:
                d *= mask
            np.multiply(one(1 - beta1), d, out=w)     # m = beta1 m + (1 - beta1) d
            m_ *= one(beta1)
            m_ += w
            np.multiply(d, d, out=d)                  # v = beta2 v + (1 - beta2) d^2
            d *= one(1 - beta2)
            v *= one(beta2)
            v += d
            np.sqrt(v, out=w)                         # denom = sqrt(v) / sqrt(1 - beta2^t) + eps
            w /= one(bc2_sqrt)
            w += one(self.eps)
            np.divide(m_, w, out=w)                   # update = m / denom
            w *= one(step_size)                       # p -= step_size * update
            p -= w
            if mask is not None:
                p *= mask
        self.steps = t


@dataclass
class AdamW(Adam):
    """AdamW, exactly ``torch.optim.AdamW``: Adam with decoupled weight decay.

    Per step: ``p <- p (1 - lr lambda)`` first, then the Adam update of :class:`Adam` with the
    raw gradient (no L2 term). Source: Loshchilov & Hutter 2019; torch.optim.AdamW (default
    ``weight_decay`` 0.01, as there).
    """

    weight_decay: float = 1e-2

    source = "Loshchilov & Hutter 2019; torch.optim.AdamW"
    decoupled = True


@dataclass(frozen=True)
class OptimizerSpec:
    """A registry entry: the class and what ``initlab list optimizers`` shows."""

    name: str
    cls: type
    formula: str

    @property
    def parameters(self) -> dict:
        """The constructor's parameters and their defaults (``lr`` has none for SGD)."""
        return {f.name: (f.default if f.default is not dataclasses.MISSING else None)
                for f in dataclasses.fields(self.cls) if not f.metadata.get("state")}

    @property
    def source(self) -> str:
        return self.cls.source


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec("sgd", SGD, "b <- mu b + (1 - tau)(g + lambda p); p <- p - lr b "
                         "(nesterov: p <- p - lr (g + mu b))"),
    "adam": OptimizerSpec("adam", Adam, "m, v moments of g + lambda p; "
                          "p <- p - lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps)"),
    "adamw": OptimizerSpec("adamw", AdamW, "p <- p (1 - lr lambda), then Adam on g"),
}


def get(name: str, **params):
    """A new optimizer ``name`` built with ``params``.

    Unknown names raise :class:`ConfigError` at ``train.optimizer.name``, unknown parameters at
    ``train.optimizer.<parameter>``, both listing the valid choices and a close match.
    """
    spec = lookup(OPTIMIZERS, name, "optimizer", f"{FIELD}.name")
    valid = spec.parameters
    for key in params:
        if key not in valid:
            raise unknown(f"parameter of optimizer '{name}'", key, valid, f"{FIELD}.{key}")
    if "lr" not in params and valid.get("lr") is None:
        raise ConfigError(f"{FIELD}.lr", f"optimizer '{name}' needs a learning rate")
    return spec.cls(**params)


def describe() -> list[dict]:
    """One record per optimizer, for ``initlab list optimizers``: ``name``, ``parameters``
    (name -> default, ``None`` for required), ``formula``, ``source``."""
    return [{"name": s.name, "parameters": s.parameters, "formula": s.formula,
             "source": s.source} for s in OPTIMIZERS.values()]
