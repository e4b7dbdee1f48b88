"""I.i.d. weight draws at memory speed: normal, truncated normal and uniform arrays from a run's
streams, exact samples of the named distribution, the same bits in C and in numpy, on any
number of threads.

Why: numpy's ``Generator.standard_normal`` costs 13-18 ns per entry on one core (its
uniforms 2.7-3.5 ns), and drawing the weights dominated every deep, wide run (issue 18:
~1.8 s of a 2.1 s run at 256 x 1024 x 100). Here one entry costs ~1 ns with the C kernel
(``_draw.c``) on two threads.

How (details in ``_draw.c``):

- The :class:`numpy.random.Generator` a sampler is given (a layer's stream,
  ``parameters.stream(seed, purpose, layer)``) supplies a 128-bit key ``(s, g)``: two raw
  words of its bit generator, ``g`` made odd with enough bit transitions as SplittableRandom's
  gammas. The streams stay what they were: independent per purpose and layer, and the
  generator can be used on afterwards (sparse initializers draw their keys from it).
- Entry ``j`` of the array reads the words ``mix(s + j g + c (g << 40))`` of SplitMix64
  (Steele, Lea & Flood 2014), ``c`` counting its attempts: a counter-based generator, so an
  entry's value depends on ``(key, j)`` only and any split of the array between threads gives
  the same bits (tested with 1, 2 and 3 threads).
- Normals: the Ziggurat (Marsaglia & Tsang 2000, 256 layers, float64 throughout: 52-bit
  mantissas), its tail by Marsaglia's exact method; float32 arrays are the float64 draws
  rounded once. Truncated normals: normals redrawn per entry until inside the interval.
  Uniforms: ``u * (high - low) + low`` in float64, rounded once, u with 52 random bits, or in
  float32 arrays 24 (float32's own resolution; two per word, half the work).
- ``kernel.DRAW`` is the C kernel or None; without it :mod:`initlab.engine._draw_numpy`
  computes the very same arrays (2-5x slower than numpy's own draws, ~10-20x slower than the
  kernel), so committed results reproduce on a machine without a C compiler.

Threads: ``INITLAB_DRAW_THREADS`` (read at import) or :func:`set_threads` sets how many threads
fill one array, default ``min(2, cores available)``; a worker of a process pool should ask for
1 (the results do not change). Arrays under 64k entries are filled by the caller alone.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from initlab.engine import _draw_numpy, kernel

# what the draws are (manifests record it): a new scheme changes every drawn number
SCHEME = "splitmix64-counter ziggurat256 v2"
MASK = (1 << 64) - 1
MIN_SPLIT = 1 << 16  # smaller arrays: one thread (a thread hand-off costs ~20-50 us)
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_tables_sent: set[int] = set()


def _default_threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    env = os.environ.get("INITLAB_DRAW_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    return max(1, min(2, cores))


_threads = _default_threads()


def threads() -> int:
    """How many threads fill one array."""
    return _threads


def set_threads(n: int) -> int:
    """Fill each array with ``n`` threads (1 in a worker of a process pool); returns the previous
    setting. The drawn values never depend on it."""
    global _threads, _pool
    n = max(1, int(n))
    with _lock:
        prev, _threads = _threads, n
        if _pool is not None:
            _pool.shutdown(wait=True)
            _pool = None
    return prev


def _forget_pool() -> None:  # a forked child has no worker threads
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(1, _threads - 1),
                                       thread_name_prefix="initlab-draw")
        return _pool


def key(rng: np.random.Generator) -> tuple[int, int]:
    """The key ``(s, g)`` of one array: two raw 64-bit words of ``rng``'s bit generator, ``g``
    odd with at least 24 bit transitions (SplittableRandom's ``mixGamma`` rule: gammas with
    few transitions make weak Weyl sequences)."""
    s, g = (int(w) for w in rng.bit_generator.random_raw(2))
    g |= 1
    if bin(g ^ (g >> 1)).count("1") < 24:
        g ^= 0xAAAAAAAAAAAAAAAA
    return s, g


def _fill(flat: np.ndarray, args: tuple) -> None:
    """Fill the contiguous 1-D ``flat`` with the kernel (split between threads) or numpy."""
    k = kernel.DRAW
    if k is None:
        _draw_numpy.fill(flat, *args)
        return
    if id(k) not in _tables_sent:
        k.set_tables(_draw_numpy.K, _draw_numpy.W, _draw_numpy.F, _draw_numpy.D, _draw_numpy.R)
        _tables_sent.add(id(k))
    kind, s, g, start, *rest = args
    n, parts = flat.size, _threads
    if parts == 1 or n < MIN_SPLIT:
        k.fill(flat, kind, s, g, start, *rest)
        return
    step = -(-n // parts // 1024) * 1024  # cut at block boundaries (any cut gives the same bits)
    cuts = [(i, min(i + step, n)) for i in range(0, n, step)]
    pool = _executor()
    futures = [pool.submit(k.fill, flat[a:b], kind, s, g, start + a, *rest) for a, b in cuts[1:]]
    a, b = cuts[0]
    k.fill(flat[a:b], kind, s, g, start + a, *rest)
    for f in futures:
        f.result()


def _array(shape: tuple, dt: np.dtype, args: tuple) -> np.ndarray:
    out = np.empty(shape, dtype=dt)
    if out.size:
        _fill(out.reshape(-1), args)
    return out


def normal(rng: np.random.Generator, shape: tuple, dt, mean: float = 0.0,
           std: float = 1.0) -> np.ndarray:
    """N(mean, std^2) entries of ``shape`` in ``dt`` (float32 or float64): mean + std z in
    float64, rounded once."""
    s, g = key(rng)
    return _array(shape, np.dtype(dt), (_draw_numpy.KIND_NORMAL, s, g, 0, -math.inf, math.inf,
                                        float(std), float(mean), -math.inf, math.inf))


def truncated(rng: np.random.Generator, shape: tuple, dt, a: float, b: float, mean: float,
              std: float, lo: float, hi: float) -> np.ndarray:
    """mean + std z, z ~ N(0, 1) conditioned on [a, b] (redrawn until inside), rounded to ``dt``
    and clipped to [lo, hi] (values of ``dt``: rounding may step an ulp outside the interval).
    Rejection from the normal: use it where the interval holds a good part of the mass."""
    s, g = key(rng)
    return _array(shape, np.dtype(dt), (_draw_numpy.KIND_TRUNC, s, g, 0, float(a), float(b),
                                        float(std), float(mean), float(lo), float(hi)))


def uniform(rng: np.random.Generator, shape: tuple, dt, low: float, high: float) -> np.ndarray:
    """U[low, high) entries: u (high - low) + low in float64, rounded once to ``dt``, with
    u = k 2^-52 (float64) or k 2^-24 (float32: two from each word); a float32 entry may round up
    to ``high`` itself, as the exact value would."""
    s, g = key(rng)
    return _array(shape, np.dtype(dt), (_draw_numpy.KIND_UNIFORM, s, g, 0, 0.0, 0.0,
                                        float(high) - float(low), float(low), 0.0, 0.0))


def uniforms(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` float64 uniforms on [0, 1) from one key (for rejection samplers built on them)."""
    return uniform(rng, (n,), np.float64, 0.0, 1.0)


def info() -> dict:
    """``{"kernel": "avx512" | "avx2" | "baseline" | "numpy", "threads": n}``."""
    k = kernel.DRAW
    return {"kernel": k.build_info()["target"] if k is not None else "numpy", "threads": _threads}
