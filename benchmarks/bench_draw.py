"""Benchmark sections of issue 18 (weight drawing, matrix initializers, a whole run, the run's
figures), imported by bench.py. Every figure is a ratio timed side by side in one process
(or, for whole runs, paired child processes A B A B ...).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np


from initlab.engine import draw, initializers as I, kernel
from initlab.engine.parameters import WEIGHT, stream

SHAPE = (1024, 1024)


def _bench():  # bench.py imports this module: take its helpers when first needed
    import __main__

    return sys.modules.get("bench") or __main__


def interleaved(*a, **k):
    return _bench().interleaved(*a, **k)


def record(*a, **k):
    return _bench().record(*a, **k)


def section_drawing(rounds: int, quick: bool = False):
    """Each i.i.d. initializer family against numpy's own draw of the same shape and dtype:
    ``Generator.standard_normal`` for normal and truncated normal, ``Generator.random`` (numpy's
    fastest uniform; ``Generator.uniform`` has no float32) for uniform. Both threads (the
    default), then one thread and the numpy path as diagnostics."""
    print(f"\nweight drawing: numpy's time / initlab's for a {SHAPE[0]}x{SHAPE[1]} weight "
          f"(kernel {draw.info()['kernel']}, {draw.threads()} threads); >= 3x wanted")
    rng = np.random.default_rng(0)
    inits = {"normal": I.get("he_normal"), "truncated normal": I.get("flax_default"),
             "uniform": I.get("xavier_uniform")}
    base = {"normal": lambda dt: rng.standard_normal(SHAPE, dtype=dt),
            "truncated normal": lambda dt: rng.standard_normal(SHAPE, dtype=dt),
            "uniform": lambda dt: rng.random(SHAPE, dtype=dt)}
    dts = ["float32"] if quick else ["float32", "float64"]
    for dt in dts:
        for name, init in inits.items():
            fns = {"numpy": lambda: base[name](dt), "initlab": lambda: init(rng, SHAPE, dt)}
            t = interleaved(fns, rounds)
            n = SHAPE[0] * SHAPE[1]
            record(f"{name} ({init.name}) {dt}", f"draw {name}", t["numpy"] / t["initlab"],
                   f"({1e9 * t['numpy'] / n:.1f} vs {1e9 * t['initlab'] / n:.2f} ns/entry; paired "
                   f"{t.paired('numpy', 'initlab'):.2f}x)")
    if quick:
        return
    prev = draw.set_threads(1)
    try:  # one thread each: CPU time (thread_time) is honest on a shared machine
        for dt in dts:
            for name, init in inits.items():
                a, b = _cpu_pair(lambda: base[name](dt), lambda: init(rng, SHAPE, dt), rounds)
                print(f"  one thread, CPU time, {name} {dt}: {a / b:.2f}x "
                      f"({1e9 * a / SHAPE[0] / SHAPE[1]:.2f} vs {1e9 * b / SHAPE[0] / SHAPE[1]:.2f} "
                      "ns/entry)", flush=True)
    finally:
        draw.set_threads(prev)
    saved, kernel.DRAW = kernel.DRAW, None
    try:
        for name, init in inits.items():
            t = interleaved({"numpy": lambda: base[name]("float32"),
                             "initlab": lambda: init(rng, SHAPE, "float32")}, max(3, rounds // 3))
            print(f"  numpy path (no C kernel), {name} float32: {t['numpy'] / t['initlab']:.2f}x")
    finally:
        kernel.DRAW = saved


def _cpu_pair(f, g, rounds: int) -> tuple[float, float]:
    """Best-of-``rounds`` thread CPU time of ``f`` and ``g``, taking turns."""
    f(), g()
    a = b = float("inf")
    for _ in range(rounds):
        t = time.thread_time()
        f()
        a = min(a, time.thread_time() - t)
        t = time.thread_time()
        g()
        b = min(b, time.thread_time() - t)
    return a, b


def section_matrix_inits(rounds: int):
    """Structured initializers per layer, beside a QR of the same shape (float64 LAPACK)."""
    print("\nmatrix initializers: ms per float32 layer, and / a QR of the same shape")
    for shape in [(1024, 1024), (512, 2048)]:
        g = np.random.default_rng(0).standard_normal((max(shape), min(shape)))
        fns = {"qr": lambda: np.linalg.qr(g)}
        for name in ("orthogonal", "sparse", "identity", "he_normal"):
            init = I.get(name)
            fns[name] = lambda init=init: init(stream(0, WEIGHT, 1), shape, "float32")
        fns["torch_sparse"] = lambda: I.get("torch_sparse", sparsity=0.9)(stream(0, WEIGHT, 1), shape,
                                                                          "float32")
        t = interleaved(fns, rounds)
        cells = ", ".join(f"{k} {1e3 * v:.1f} ms ({v / t['qr']:.2f} QR)" for k, v in t.items()
                          if k != "qr")
        print(f"  {shape[0]}x{shape[1]}: QR {1e3 * t['qr']:.1f} ms; {cells}", flush=True)


BARE = """
import sys, numpy as np
batch, width, depth = {batch}, {width}, {depth}
rng = np.random.default_rng(0)
h = rng.standard_normal((batch, width), dtype=np.float32)
for l in range(depth):
    w = rng.standard_normal((width, width), dtype=np.float32)
    w *= np.float32(1 / np.sqrt(width))
    h = np.tanh(h @ w)
    m, s = float(h.mean()), float(h.std())
print(m, s)
"""

CONFIG = """
name: whole
seed: 0
dtype: float32
input: {{batch: {batch}, dim: {width}, distribution: normal}}
network: {{depth: {depth}, width: {width}, activation: tanh,
          initializer: {{name: normal, std: {std}}}, bias: 0.0}}
backward: {{enabled: false, loss: random}}
stats: {{histograms: true, bins: 50}}
"""


def _child(cmd: list[str]) -> tuple[float, float]:
    """(wall, user + sys CPU) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def section_whole_run(pairs: int, deep: bool):
    """``initlab run`` (process start to exit, figures included) against a bare numpy script
    drawing the same weights (standard_normal / sqrt(width), float32) and running the same chain
    (matmul, tanh, mean and std per layer): paired runs, A B A B, the median of the ratios."""
    print("\nwhole run: `initlab run` (with figures) / a bare numpy script, process start to exit")
    exe = Path(sys.executable).parent / "initlab"
    shapes = [(256, 1024, 100, True, "whole run 256x1024x100 / bare", 1.3)]
    if deep:
        shapes.append((256, 1024, 1000, True, "whole run depth 1000 / bare", 0.5))
    with tempfile.TemporaryDirectory() as tmp:
        for batch, width, depth, figures, label, target in shapes:
            cfg = Path(tmp) / f"whole{depth}.yaml"
            cfg.write_text(CONFIG.format(batch=batch, width=width, depth=depth,
                                         std=1 / np.sqrt(width)))
            bare = [sys.executable, "-c", textwrap.dedent(BARE.format(batch=batch, width=width,
                                                                      depth=depth))]
            ours = [str(exe), "run", str(cfg), "-q", "--out", str(Path(tmp) / f"out{depth}")]
            if not figures:
                ours.append("--no-figures")
            walls, cpus = [], []
            _child(ours), _child(bare)  # warm-up (font cache, file cache)
            for _ in range(pairs if depth <= 100 else max(1, pairs // 2)):
                (wa, ca), (wb, cb) = _child(ours), _child(bare)
                walls.append(wa / wb)
                cpus.append(ca / cb)
            kind = "whole run" if depth <= 100 else "whole run deep"
            record(label + ("" if figures else " (no figures)"), kind, statistics.median(walls),
                   f"(median of {len(walls)} pairs' wall ratios; CPU-time ratio "
                   f"{statistics.median(cpus):.2f}x; target <= {target:g})")


def section_run_figures(rounds: int, depths=(10, 100)):
    """The run's figures (matplotlib imported, Agg) against the run that produced them: one
    image per pass whatever the depth, so drawing must not cost more than the run."""
    from initlab import config
    from initlab.io.save import stats_document
    from initlab.plots import run_figures
    from initlab.runs import experiment

    print("\nrun figures: draw_all / experiment.run (256x1024xdepth tanh float32)")
    for depth in depths:
        cfg = config.resolve({"dtype": "float32", "input": {"batch": 256, "dim": 1024},
                              "network": {"depth": depth, "width": 1024, "activation": "tanh",
                                          "initializer": "xavier"},
                              "stats": {"histograms": True, "bins": 50}})
        doc = stats_document(experiment.run(cfg, theory=False))
        with tempfile.TemporaryDirectory() as tmp:
            t = interleaved({"run": lambda: experiment.run(cfg, theory=False),
                             "figures": lambda: run_figures.draw_all(doc, Path(tmp))}, rounds)
        # the target is for deep runs (drawing must not outgrow the run); a 10-layer run is a
        # diagnostic: its ~60 ms cannot carry the figures' fixed ~0.5 s
        record(f"figures / run, depth {depth}", "figures / run" if depth >= 100 else "diagnostic",
               t["figures"] / t["run"],
               f"({1e3 * t['figures']:.0f} ms vs {1e3 * t['run']:.0f} ms)")


def env_threads() -> str:
    return os.environ.get("INITLAB_DRAW_THREADS", "") or f"default ({draw.threads()})"
