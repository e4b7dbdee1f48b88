"""Grid studies: a training config swept over two axes and seeds, its claims read from the
trained points. No I/O and no executor of its own: the caller resolves configs (``resolve``) and
runs the points (``mapper``), so the same study runs in one process, on a process pool or on a
Dask cluster (``initlab reproduce`` passes the mapper of :mod:`initlab.sweeps`; this floor
never imports it).

``mapper(fn, items) -> list`` is any ordered map: the built-in ``map`` wrapped in ``list``
(:func:`serial_map`, the default) or :func:`initlab.sweeps.executors.ordered_map`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

# The columns of a trained point kept for the claims and the table.
METRICS = ("train_acc", "test_acc", "train_loss", "test_loss", "diverged")


@dataclass(frozen=True)
class Grid:
    """``config`` (packaged, a training config) with ``sets``, swept over ``x`` and ``y``
    (``(dotted key, values)``) at seeds ``0 .. seeds - 1``."""

    config: str
    x: tuple[str, tuple]
    y: tuple[str, tuple]
    seeds: int
    sets: tuple[tuple[str, Any], ...] = ()

    @property
    def size(self) -> int:
        return len(self.x[1]) * len(self.y[1]) * self.seeds


def serial_map(fn: Callable, items: Sequence) -> list:
    return [fn(x) for x in items]


def train_point(cfg) -> dict:
    """Train one point and keep its final metrics (a module-level function: it pickles)."""
    import numpy as np

    from initlab.runs import train as R

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        res = R.run(cfg)
    f = res.final_metrics()
    return {k: f[k] for k in METRICS}


@dataclass
class GridMeasured:
    """The trained points: ``rows`` of ``{x key: value, y key: value, "seed": s, metrics...}``."""

    grid: Grid
    rows: list[dict]

    def seeds(self) -> list[int]:
        return sorted({r["seed"] for r in self.rows})

    def fraction(self, select: Callable[[dict], bool], metric: str, threshold: float) -> list[float | None]:
        """Per seed: the fraction of the selected points with ``metric >= threshold``."""
        out = []
        for s in self.seeds():
            pts = [r for r in self.rows if r["seed"] == s and select(r)]
            out.append(None if not pts else sum(1 for r in pts if _ge(r[metric], threshold)) / len(pts))
        return out

    def mean(self, select: Callable[[dict], bool], metric: str) -> list[float | None]:
        """Per seed: the mean of ``metric`` over the selected points (a diverged point counts
        as chance: its accuracy is that of its last finite evaluation)."""
        out = []
        for s in self.seeds():
            vals = [r[metric] for r in self.rows if r["seed"] == s and select(r)]
            vals = [v for v in vals if v is not None and math.isfinite(v)]
            out.append(sum(vals) / len(vals) if vals else None)
        return out

    def count(self, select: Callable[[dict], bool]) -> int:
        return sum(1 for r in self.rows if r["seed"] == self.seeds()[0] and select(r))


def _ge(v, t) -> bool:
    return v is not None and math.isfinite(v) and v >= t


def configs(grid: Grid, resolve: Callable[[list, int], Any]) -> list[tuple[dict, Any]]:
    """``(point, config)`` for every point, in grid order (x outer, y, seed inner);
    ``resolve(sets, seed)`` builds a validated config."""
    out = []
    (xk, xs), (yk, ys) = grid.x, grid.y
    for xv in xs:
        for yv in ys:
            for s in range(grid.seeds):
                out.append(({xk: xv, yk: yv, "seed": s}, resolve(list(grid.sets) + [(xk, xv), (yk, yv)], s)))
    return out


def run(grid: Grid, resolve: Callable[[list, int], Any], mapper: Callable = serial_map) -> GridMeasured:
    """Resolve every point (all validated before any trains), train them through ``mapper``."""
    items = configs(grid, resolve)
    metrics = mapper(train_point, [cfg for _, cfg in items])
    return GridMeasured(grid, [{**p, **m} for (p, _), m in zip(items, metrics)])
