"""Public face of :mod:`initlab.engine.activations` (``initlab.activations.get(name, **params)``)."""

from initlab.engine.activations import *  # noqa: F401,F403
from initlab.engine.activations import ACTIVATIONS, ALIASES, Activation, get  # noqa: F401
