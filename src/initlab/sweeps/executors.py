"""Where the chunks run: one interface, three engines. The engine never knows which.

An executor maps a picklable function over picklable tasks and yields the results as they
complete (:meth:`Executor.map`); the caller orders them. ``serial`` runs in this process,
``local`` on a process pool of this machine (``--workers``, default the core count), ``dask``
on a ``dask.distributed`` cluster: a ``LocalCluster`` started here, or the scheduler at
``--scheduler`` (``tcp://host:8786``, e.g. one started by dask-jobqueue on a SLURM cluster).

Dask is optional (``pip install 'initlab[dask]'``) and imported only by the ``dask`` engine.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable, Iterator

from initlab.errors import ConfigError, InitlabError

ENGINES = ("local", "serial", "dask")
# How long to wait for a --scheduler to answer before calling it unreachable.
CONNECT_TIMEOUT = 10.0


def cores() -> int:
    """The cores this process may use (the default ``--workers``)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Executor:
    """``map(fn, tasks)``: ``fn(task)`` for every task, yielded in completion order.
    ``workers``: how many run at once (the chunking reads it). A context manager (closes the
    pool or the cluster)."""

    name = "serial"
    workers = 1

    def map(self, fn: Callable, tasks: Iterable) -> Iterator:
        from initlab.sweeps.worker import limited

        with limited():  # once for the whole map: the chunks' own limits are then free
            for t in tasks:
                yield fn(t)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def describe(self) -> str:
        return "serial (this process)"


Serial = Executor


class Local(Executor):
    """A process pool (``spawn``: fresh interpreters, no inherited threads or locks), each
    worker started with one BLAS and one kernel thread (:func:`initlab.sweeps._threads.init_worker`,
    run before the worker imports numpy)."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = workers or cores()
        self._pool = None

    def _start(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from initlab.sweeps import _threads

        self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_threads.init_worker)
        return self._pool

    def map(self, fn, tasks):
        from concurrent.futures import as_completed

        pool = self._pool or self._start()
        futures = [pool.submit(fn, t) for t in tasks]
        try:
            for f in as_completed(futures):
                yield f.result()
        finally:
            for f in futures:
                f.cancel()

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def describe(self):
        return f"local process pool, {self.workers} worker{'s' if self.workers != 1 else ''}"


class Dask(Executor):
    """``dask.distributed``: ``Client(scheduler)``, or a ``LocalCluster`` of ``workers``
    single-threaded worker processes when no scheduler is given. Connects when made, so an
    unreachable scheduler is an :class:`InitlabError` before anything is written."""

    name = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None):
        try:
            import dask  # noqa: F401
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("--engine", "dask needs dask.distributed: pip install 'initlab[dask]'; "
                                          "valid engines without it: local, serial") from None
        self.scheduler = scheduler
        self._cluster = None
        if scheduler:
            try:
                self._client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as e:
                raise InitlabError(f"--scheduler: cannot reach the Dask scheduler at {scheduler} "
                                   f"({' '.join(str(e).split()) or type(e).__name__}); start one "
                                   "(dask scheduler) or check the address (tcp://host:8786)") from None
            info = self._client.scheduler_info()
            self.workers = max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))
        else:
            self.workers = workers or cores()
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=40)
            self._client = Client(self._cluster, set_as_default=False)

    def map(self, fn, tasks):
        from distributed import as_completed

        futures = self._client.map(fn, list(tasks), pure=False)
        try:
            for f in as_completed(futures, loop=self._client.loop):
                yield f.result()
        finally:
            for f in futures:
                f.cancel()

    def close(self):
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def describe(self):
        where = self.scheduler or "a LocalCluster"
        return f"dask on {where}, {self.workers} worker thread{'s' if self.workers != 1 else ''}"


def make(engine: str = "local", workers: int | None = None, scheduler: str | None = None) -> Executor:
    """The executor called ``engine`` (one of :data:`ENGINES`)."""
    from initlab.errors import lookup

    lookup({e: e for e in ENGINES}, engine, "engine", "--engine")
    if workers is not None and workers < 1:
        raise ConfigError("--workers", f"must be at least 1, got {workers}")
    if scheduler and engine != "dask":
        raise ConfigError("--scheduler", f"needs --engine dask (got --engine {engine})")
    if engine == "serial":
        return Serial()
    if engine == "local":
        return Serial() if (workers or cores()) == 1 else Local(workers)
    return Dask(workers, scheduler)


def ordered_map(executor: Executor, chunk: int | None = None) -> Callable:
    """``mapper(fn, items) -> list``: ``[fn(x) for x in items]`` computed on ``executor`` in
    chunks (a plain callable: what :mod:`initlab.studies` accepts without importing sweeps)."""

    def mapper(fn, items):
        items = list(items)
        size = chunk or chunk_size(len(items), executor.workers)
        tasks = [(fn, i, items[i:i + size]) for i in range(0, len(items), size)]
        out = [None] * len(items)
        for start, vals in executor.map(_apply, tasks):
            out[start:start + len(vals)] = vals
        return out

    return mapper


def _apply(task):
    from initlab.sweeps.worker import limited

    fn, start, items = task
    with limited():
        return start, [fn(x) for x in items]


def chunk_size(n: int, workers: int) -> int:
    """Points per task: one in this process (the progress bar moves per point), else about
    four tasks per worker (to balance uneven points), at most 64."""
    if workers <= 1:
        return 1
    return max(1, min(64, -(-n // (4 * workers))))
