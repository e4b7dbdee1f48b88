"""What a worker does with a chunk of points: run each one, time it, catch its failure.

:func:`run_chunk` is the only function an executor ships (by reference: it pickles as
``initlab.sweeps.worker.run_chunk``); its argument and its result are plain records, so the same
call runs in this process, in a process pool or on a Dask worker on another machine. The point
folders are written by the caller (:mod:`initlab.sweeps.store`), so workers need no shared file
system.

Threads: each worker limits BLAS (threadpoolctl) and the statistics kernel (``set_threads(1)``)
to one thread, so N workers use N cores and do not fight over them; in-process (the ``serial``
engine) the limit holds for the chunk only. The numbers do not depend on it: the kernel's sums
are kept per chunk and added in a fixed order, and one BLAS product is computed the same way
on one thread or two (tested: the tables are byte-identical on every engine).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from typing import Any

from initlab.sweeps import _threads


@dataclass(frozen=True)
class Task:
    """A chunk: ``(index, config)`` pairs of one kind (``run`` or ``train``)."""

    kind: str
    items: tuple[tuple[int, Any], ...]


@dataclass
class Outcome:
    """One point's result (``RunResult``/``TrainResult`` without its large arrays) or its
    failure as one line."""

    index: int
    ok: bool
    seconds: float
    result: Any = None
    error: str | None = None


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    from initlab.errors import InitlabError

    return text if isinstance(e, InitlabError) else f"{type(e).__name__}: {text}"


def run_point(kind: str, cfg) -> Any:
    """Run one point and return its result, lightened for the trip back: a training run
    drops its final weights and decision-boundary grid, a step-0 run its saved arrays."""
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        if kind == "train":
            from initlab.runs import train as R

            res = R.run(cfg)
            res.final = {}
            res.boundary = None
            res.initial = None
            return res
        from initlab.runs.experiment import run

        res = run(cfg)
        res.arrays = None
        return res


def run_chunk(task: Task) -> list[Outcome]:
    """Run every point of ``task`` in order; a point that raises is recorded and the next one
    runs (``KeyboardInterrupt`` and ``SystemExit`` stop the chunk)."""
    out = []
    with limited():
        for index, cfg in task.items:
            t0 = time.perf_counter()
            try:
                res = run_point(task.kind, cfg)
            except Exception as e:  # a failed point is a result of the sweep, not its end
                out.append(Outcome(index, False, time.perf_counter() - t0, error=one_line(e)))
                continue
            out.append(Outcome(index, True, time.perf_counter() - t0, result=res))
    return out


_depth = 0  # limited() blocks open in this thread: an inner one costs nothing


@contextlib.contextmanager
def limited():
    """BLAS and the statistics kernel on one thread for the duration (a no-op inside another
    such block, and in a worker that :func:`initlab.sweeps._threads.init_worker` already
    limited; entering one costs a few ms: threadpoolctl inspects the loaded libraries)."""
    global _depth
    if os.environ.get(_threads.WORKER_ENV):
        _threads.limit_now()
        yield
        return
    if _depth:
        yield
        return
    _depth += 1
    try:
        with _limits():
            yield
    finally:
        _depth -= 1


@contextlib.contextmanager
def _limits():
    from initlab.engine.kernel import KERNEL

    old = KERNEL.set_threads(1) if KERNEL is not None else None
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - scikit-learn brings it
            yield
            return
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        if old is not None:
            KERNEL.set_threads(old)
