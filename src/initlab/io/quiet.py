"""Quiet numerics around drawing figures (the one place the io floor says so)."""

from __future__ import annotations

import contextlib
from typing import Iterator


@contextlib.contextmanager
def quiet_numerics() -> Iterator[None]:
    """Around drawing figures: numpy's floating-point warnings and matplotlib's RuntimeWarnings
    (log scale of a 0, overflow in an axis transform) stay off stderr. A legal overflow run is
    reported once, by the command's own warning line."""
    import warnings

    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with np.errstate(all="ignore"):
            yield
