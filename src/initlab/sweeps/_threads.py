"""One thread per worker process, set before numpy loads (standard library only at the top:
this module is what a new worker process imports first)."""

from __future__ import annotations

import os

WORKER_ENV = "INITLAB_SWEEP_WORKER"
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "INITLAB_DRAW_THREADS")
_done = False


def init_worker() -> None:
    """Process-pool initializer: one BLAS thread (the environment, read when numpy loads its
    BLAS, and threadpoolctl for a BLAS already loaded), one statistics-kernel thread and one
    weight-drawing thread."""
    for v in THREAD_VARS:
        os.environ[v] = "1"
    os.environ[WORKER_ENV] = "1"
    limit_now()


def limit_now() -> None:
    """Limit the BLAS and kernel threads of this process to one, once."""
    global _done
    if _done:
        return
    os.environ[WORKER_ENV] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    except ImportError:  # pragma: no cover - scikit-learn brings it
        pass
    from initlab.engine.kernel import KERNEL

    if KERNEL is not None:
        KERNEL.set_threads(1)
    from initlab.engine import draw  # the weight draws: one thread too (the values never depend on it)

    draw.set_threads(1)
    _done = True
