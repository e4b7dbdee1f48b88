"""Public face of :mod:`initlab.engine.initializers` (``initlab.initializers.get(name, **params)``
returns ``fn(rng, shape, dtype)``)."""

from initlab.engine.initializers import *  # noqa: F401,F403
from initlab.engine.initializers import INITIALIZERS, Initializer, describe, get  # noqa: F401
