"""Learning-rate schedules: ``schedule(t)`` is the learning rate for update number ``t + 1``.

``t`` counts the updates already done (0 for the first), as torch's ``last_epoch`` does when
``scheduler.step()`` is called once after every ``optimizer.step()``. Each schedule is a small
frozen (picklable) dataclass holding the base learning rate and its settings; closed forms
throughout, which agree with torch's recursive updates to rounding (~1e-16 relative per step).

``SCHEDULES`` maps names to classes; :func:`get` builds one and raises
:class:`~initlab.errors.ConfigError` at ``train.lr_schedule`` for an unknown name and at
``train.lr_schedule.<parameter>`` for a bad value.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..errors import ConfigError, lookup, unknown
from . import _checks

FIELD = "train.lr_schedule"
BASE_LR_FIELD = "train.optimizer.lr"  # the base rate is the optimizer's


def _step_index(t) -> int:
    if isinstance(t, bool) or not isinstance(t, int) and not hasattr(t, "__index__"):
        raise TypeError(f"the step must be an integer, got {t!r}")
    t = int(t)
    if t < 0:
        raise ValueError(f"the step must be >= 0, got {t}")
    return t


@dataclass(frozen=True)
class _Schedule:
    """A base rate and settings, each validated at construction (``CHECKS``: (name, check);
    errors placed at ``train.optimizer.lr`` and ``train.lr_schedule.<name>``); ``schedule(t)``
    checks the step and returns :meth:`rate` of it."""

    base_lr: float

    CHECKS = ()

    def __post_init__(self):
        object.__setattr__(self, "base_lr", _checks.positive(self.base_lr, BASE_LR_FIELD))
        for name, check in self.CHECKS:
            object.__setattr__(self, name, check(getattr(self, name), f"{FIELD}.{name}"))

    def __call__(self, t: int) -> float:
        return self.rate(_step_index(t))


@dataclass(frozen=True)
class Constant(_Schedule):
    """``lr_t = base_lr``."""


    source = "torch.optim.lr_scheduler.ConstantLR with factor 1 (no schedule)"

    def rate(self, t: int) -> float:
        return self.base_lr


@dataclass(frozen=True)
class Cosine(_Schedule):
    """Cosine annealing from ``base_lr`` to ``eta_min`` over ``total_steps`` updates.

    ``lr_t = eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2`` with
    ``T_max = total_steps``: the closed form of ``torch.optim.lr_scheduler.CosineAnnealingLR``
    (Loshchilov & Hutter 2017, SGDR, without restarts). ``lr_0 = base_lr``,
    ``lr_{T_max} = eta_min``; past ``T_max`` it follows the cosine back up, as torch does, so a
    loop should set ``total_steps`` to its number of updates.

    Args:
        base_lr: > 0, the rate at t = 0.
        total_steps: T_max, a positive integer.
        eta_min: >= 0, the rate at t = T_max.
    """

    total_steps: int
    eta_min: float = 0.0

    source = "Loshchilov & Hutter 2017; torch.optim.lr_scheduler.CosineAnnealingLR"
    CHECKS = (("total_steps", _checks.positive_int), ("eta_min", _checks.nonnegative))

    def rate(self, t: int) -> float:
        cos = math.cos(math.pi * t / self.total_steps)
        return self.eta_min + (self.base_lr - self.eta_min) * (1.0 + cos) / 2.0


@dataclass(frozen=True)
class Step(_Schedule):
    """Step decay: ``lr_t = base_lr * gamma ** (t // step_size)``, the closed form of
    ``torch.optim.lr_scheduler.StepLR``.

    Args:
        base_lr: > 0.
        step_size: a positive integer, the updates between decays.
        gamma: > 0, the factor per decay (0.1 as torch's default).
    """

    step_size: int
    gamma: float = 0.1

    source = "torch.optim.lr_scheduler.StepLR"
    CHECKS = (("step_size", _checks.positive_int), ("gamma", _checks.positive))

    def rate(self, t: int) -> float:
        return self.base_lr * self.gamma ** (t // self.step_size)


SCHEDULES: dict[str, type] = {"constant": Constant, "cosine": Cosine, "step": Step}


def get(name: str, base_lr: float, **params):
    """The schedule ``name`` starting at ``base_lr`` with ``params`` (e.g.
    ``get("cosine", 0.1, total_steps=1000)``); errors as the module docstring says."""
    cls = lookup(SCHEDULES, name, "learning-rate schedule", FIELD)
    valid = [f.name for f in dataclasses.fields(cls) if f.name != "base_lr"]
    for key in params:
        if key not in valid:
            raise unknown(f"parameter of schedule '{name}'", key, valid, f"{FIELD}.{key}")
    for f in dataclasses.fields(cls):
        if f.name not in params and f.name != "base_lr" and f.default is dataclasses.MISSING:
            raise ConfigError(f"{FIELD}.{f.name}", f"schedule '{name}' needs {f.name}")
    return cls(base_lr, **params)
