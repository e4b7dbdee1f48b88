"""Pre-flight estimates: the memory and time a run, a comparison or a training run will take,
derived from its shapes before anything is allocated, and the check that refuses what cannot
fit in this machine's memory.

Every command that does work calls :func:`preflight` with an :class:`Estimate` of its config
(:func:`estimate_run`, :func:`estimate_compare`, :func:`estimate_train`); sweeps and serve can do
the same (sum or max the estimates of their points with :func:`combine`).

Memory: the arrays a command holds at its peak, term by term (named in :attr:`Estimate.parts`):
the input, the largest weight matrix being drawn (with its draw temporary), the streaming
pass's two work buffers, the tape a backward pass keeps (one ``batch x width`` array per
layer), the backward pass's buffers and the weight gradient, saved weights, the per-layer rows
and histograms kept for the result files, and matplotlib when figures are drawn. It is compared
with what the machine has available now (``MemAvailable`` of ``/proc/meminfo``, else
``os.sysconf``; a cgroup memory limit when lower) less :data:`MEMORY_HEADROOM`; above that the
command is refused (``--force`` runs it anyway). ``tests/test_hardening2.py`` checks the estimate
against the measured peak resident memory of real runs (within :data:`ESTIMATE_FACTOR`;
measured estimate/peak 1.1-1.6 on the shapes there: forward 141/98 MiB, backward 153/137,
saved weights 127/108, training 419/261).

Time: flops of the matrix products (2 per multiply-add: forward 2 n b m, backward twice that)
at a stated rate (:data:`DEFAULT_FLOPS`), weight draws and per-entry work (activation,
statistics) at rates measured once per process by a probe of a few milliseconds
(:func:`rates`: 2^15 normal draws, 2^15 tanh evaluations; only when the stated rates already
put it near the limit), plus a fixed cost for figures. Above :data:`WARN_SECONDS` the command
warns (one line on stderr; not an error). The estimate is an order of magnitude, not a promise:
against the CPU time of one process with one BLAS thread on the shared 2-core machine it was
4.5 s for 2.3 s (forward, batch 1000 x width 1000 x depth 30, float32), 12 s for 5.0 s (the same
with backward), 152 s for 52 s (training, 3 x 512 on 200000 circles, batch 20000) and 22 s for
48 s (training 4 x 2048, batch 256): within a factor of about 3 either way.
"""

from __future__ import annotations

import functools
import math
import os
import time
from dataclasses import dataclass, field

from initlab.errors import ConfigError

# Memory left unclaimed for the operating system, the interpreter and other processes: a run
# needing more than (available - MEMORY_HEADROOM) is refused.
MEMORY_HEADROOM = 512 * 2**20
# A command estimated to take longer than this (seconds) prints a warning before it starts.
WARN_SECONDS = 60.0
# The estimate is within this factor of the measured peak (tests/test_budget.py).
ESTIMATE_FACTOR = 2.0
# matplotlib with a few figures open (measured: 60-90 MB over a bare numpy process).
FIGURE_BYTES = 120 * 2**20
FIGURE_SECONDS = 1.5
# One layer's row of statistics and its histogram lists as Python objects (dicts of floats, the
# JSON document and its text): measured ~3 KB + ~110 bytes per bin per layer.
ROW_BYTES = 4096
BIN_BYTES = 120
# The statistics sweep's scratch (bin indices, masks), per activation entry.
STATS_BYTES_PER_ENTRY = 2
# Matrix-product rates (flop/s by item size), stated: one BLAS thread of the machine in
# /work/shared/PERFORMANCE.md (peak 197 GFLOP/s float32, 98 float64 on two cores) shared with
# other work: a training run of 2048-wide layers measured 7 GFLOP/s float64 in CPU time under
# load, a 20000 x 512 batch ~25. The draw and per-entry rates are measured (:func:`rates`); these two
# stand in when a caller must not probe (:func:`default_rates`).
DEFAULT_FLOPS = {4: 20e9, 8: 10e9}
DEFAULT_DRAW_SECONDS = 20e-9
DEFAULT_ENTRY_SECONDS = 10e-9
# Per-entry work of one pass, in units of one tanh evaluation (activation, moments, histogram).
ENTRY_PASSES_FORWARD = 3
ENTRY_PASSES_BACKWARD = 3

GIB = 2**30


def fmt_bytes(n: float) -> str:
    for unit, size in (("GiB", GIB), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def fmt_seconds(s: float) -> str:
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s"


@dataclass
class Estimate:
    """What a command will need: ``parts`` (name -> bytes at the peak), the work that sets its
    time (:meth:`seconds`) and, per part, the config field whose value drives it (the largest
    part's field is named when the command is refused)."""

    what: str
    parts: dict[str, float] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)  # part -> config field driving it
    # the work: flops by item size, normal draws, per-entry evaluations, fixed seconds
    flops: dict = field(default_factory=dict)
    draws: float = 0.0
    entries: float = 0.0
    fixed: float = 0.0

    def seconds(self, r: "Rates | None" = None) -> float:
        """The time at rates ``r``: the stated ones first, the measured ones (a probe of a few
        milliseconds) when the stated estimate is above a quarter of :data:`WARN_SECONDS`."""
        if r is None:
            s = self.seconds(default_rates())
            return s if s <= WARN_SECONDS / 4 else self.seconds(rates())
        return (sum(n * r.flop[item] for item, n in self.flops.items()) + self.draws * r.draw
                + self.entries * r.entry + self.fixed)

    @property
    def bytes(self) -> float:
        return float(sum(self.parts.values()))

    def largest(self) -> str:
        return max(self.parts, key=self.parts.get) if self.parts else ""

    def breakdown(self, n: int = 3) -> str:
        top = sorted(self.parts.items(), key=lambda kv: -kv[1])[:n]
        return ", ".join(f"{k} {fmt_bytes(v)}" for k, v in top if v > 0)


def combine(what: str, estimates: list[Estimate], *, parallel: int = 1) -> Estimate:
    """Several estimates run one after another (``parallel`` at a time): the peak is the
    ``parallel`` largest peaks together, the time the sum divided by ``parallel``."""
    if not estimates:
        return Estimate(what)
    k = max(1, parallel)
    peaks = sorted(estimates, key=lambda e: -e.bytes)[:k]
    out = Estimate(what)
    for e in peaks:
        for name, v in e.parts.items():
            out.parts[name] = out.parts.get(name, 0.0) + v
        out.fields.update(e.fields)
    for e in estimates:
        for item, n in e.flops.items():
            out.flops[item] = out.flops.get(item, 0.0) + n / k
        out.draws += e.draws / k
        out.entries += e.entries / k
        out.fixed += e.fixed / k
    return out


# --- the machine -------------------------------------------------------------------------------

def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_available() -> int | None:
    """The cgroup v2 limit less its current use, when a limit is set."""
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current") as f:
            current = int(f.read().strip())
        return max(0, int(limit) - current)
    except (OSError, ValueError):
        return None


def available_memory() -> int | None:
    """Bytes this process could still allocate without swapping, or None when unknown."""
    avail = _meminfo_available()
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    cg = _cgroup_available()
    if cg is not None:
        avail = cg if avail is None else min(avail, cg)
    return avail


@dataclass(frozen=True)
class Rates:
    """Seconds per unit of work on this machine: ``flop`` (per item size 4/8), ``draw`` (one
    normal draw), ``entry`` (one elementwise tanh)."""

    flop: dict
    draw: float
    entry: float


@functools.lru_cache(maxsize=1)
def rates() -> Rates:
    """The rates of this machine: matrix products at the stated :data:`DEFAULT_FLOPS` (a probe
    of BLAS is unreliable: its threads start, spin and compete with other processes), draws and
    per-entry work measured once per process by a probe of a few milliseconds (best of three,
    in CPU time of the process: on a machine shared with other work the wall time is longer)."""
    import numpy as np

    def best(fn, reps: int = 3) -> float:
        out = math.inf
        for _ in range(reps):
            t0 = time.process_time()
            fn()
            out = min(out, time.process_time() - t0)
        return max(out, 1e-9)

    rng = np.random.default_rng(0)
    k = 2**15
    draw = best(lambda: rng.standard_normal(k)) / k
    x = np.linspace(-3.0, 3.0, k)
    entry = best(lambda: np.tanh(x)) / k
    return Rates({item: 1.0 / v for item, v in DEFAULT_FLOPS.items()}, draw, entry)


def default_rates() -> Rates:
    """The stated rates (:data:`DEFAULT_FLOPS` ...), for callers that must not probe."""
    return Rates({k: 1.0 / v for k, v in DEFAULT_FLOPS.items()}, DEFAULT_DRAW_SECONDS, DEFAULT_ENTRY_SECONDS)


# --- estimates -----------------------------------------------------------------------------------

def _layers(widths) -> list[tuple[int, int]]:
    return list(zip(widths, widths[1:]))


def estimate_run(cfg, *, save_weights: bool = False, figures: bool = True) -> Estimate:
    """One ``initlab run`` of ``cfg`` (a :class:`initlab.config.Config`)."""
    item = 4 if cfg.dtype == "float32" else 8
    widths = cfg.widths()
    b = cfg.input.batch
    bw = cfg.backward
    layers = _layers(widths)
    if bw.enabled and bw.loss == "softmax_ce":
        layers.append((widths[-1], bw.classes))
    big_w = max(i * o for i, o in layers)
    maxw = max(widths[1:] + ((bw.classes,) if bw.enabled and bw.loss == "softmax_ce" else ()))
    hidden = sum(widths[1:])
    depth = len(widths) - 1
    e = Estimate("this run")
    e.parts["input"] = b * widths[0] * item
    # the weight being drawn and its draw temporaries (scaling, a truncated normal's redraws)
    e.parts["weights being drawn"] = 2 * big_w * item
    e.parts["work buffers"] = (2 + STATS_BYTES_PER_ENTRY / item) * b * maxw * item
    bins = cfg.stats.bins if cfg.stats.histograms else 0
    e.parts["rows and histograms"] = depth * (ROW_BYTES + BIN_BYTES * bins) * (2 if bw.enabled else 1)
    e.fields.update({"input": "input.batch", "weights being drawn": "network.width",
                     "work buffers": "input.batch", "rows and histograms": "network.depth"})
    if bw.enabled:
        e.parts["activations kept for backward"] = b * hidden * item
        e.parts["backward buffers"] = 2 * b * maxw * item + b * maxw * 8
        # dW is formed when the batch is not smaller than the layer (else its moments come
        # from Gram matrices of size batch x batch)
        e.parts["weight gradient"] = big_w * item if b >= min(widths) else 2 * b * b * 8
        e.fields.update({"activations kept for backward": "network.depth",
                         "backward buffers": "input.batch", "weight gradient": "network.width"})
    if save_weights:
        e.parts["saved weights"] = (sum(i * o for i, o in layers) + hidden + b * widths[0]) * item * 1.2
        e.fields["saved weights"] = "network.width"
    if figures:
        e.parts["figures"] = FIGURE_BYTES
        e.fields["figures"] = "--figures"
    flops = 2.0 * b * sum(i * o for i, o in layers)
    draws = sum(i * o for i, o in layers)
    entries = b * hidden
    passes = ENTRY_PASSES_FORWARD
    if bw.enabled:
        flops *= 3  # dX and dW
        draws *= 2  # the backward pass draws each W again
        passes += ENTRY_PASSES_BACKWARD
    e.flops, e.draws, e.entries = {item: flops}, draws, entries * passes
    e.fixed = FIGURE_SECONDS if figures else 0.0
    return e


def estimate_compare(configs, seeds: int = 1, *, figures: bool = True) -> Estimate:
    """``initlab compare``: every config run ``seeds`` times, one at a time; every run's rows,
    histograms and per-input length ratios are kept for the tables."""
    runs = [estimate_run(c, figures=False) for c in configs for _ in range(seeds)]
    e = combine("this comparison", runs)
    e.parts["rows and histograms"] = sum(x.parts["rows and histograms"] for x in runs) + \
        seeds * sum(c.input.batch * 8 for c in configs)
    if figures:
        e.parts["figures"] = FIGURE_BYTES
        e.fields["figures"] = "--figures"
        e.fixed += FIGURE_SECONDS
    return e


def _data_shape(cfg) -> tuple[int, int, int, int]:
    """(n_train, n_test, input_dim, outputs) of a training config's data, from its spec and
    parameters (no data is loaded)."""
    from initlab import data as datasets

    d = cfg.data
    spec = datasets.get(d.name)
    kw = dict(d.kwargs)
    n_train = d.n_train if d.n_train is not None else spec.n_train
    n_test = d.n_test if d.n_test is not None else spec.n_test

    def resolved(v, default: int) -> int:
        if isinstance(v, int):
            return v
        p = kw.get(v, spec.params[v].default if v in spec.params else None)
        return int(p) if isinstance(p, (int, float)) and not isinstance(p, bool) else default

    dim = resolved(spec.input_dim, 2)
    classes = resolved(spec.n_classes, 2)
    out = classes if spec.task == datasets.CLASSIFICATION else dim
    return int(n_train), int(n_test), dim, max(1, out)


OPTIMIZER_STATE = {"sgd": 1, "adam": 2, "adamw": 2}  # arrays per parameter (sgd: momentum buffer)


def estimate_train(cfg, *, save_weights: bool = False, figures: bool = True) -> Estimate:
    """``initlab train`` of ``cfg`` (a :class:`initlab.config.training.TrainConfig`)."""
    n_train, n_test, dim, out = _data_shape(cfg)
    item = 4 if cfg.dtype == "float32" else 8
    data_item = 8  # the loaders make float64 features; labels are int64
    hidden = cfg.network.widths
    widths = (dim,) + tuple(hidden) + (out,)
    layers = _layers(widths)
    params = sum((i + 1) * o for i, o in layers)
    maxw = max(widths[1:])
    t = cfg.train
    batch = n_train if t.batch is None else min(t.batch, n_train)
    steps = t.steps
    e = Estimate("this training run")
    e.parts["data"] = (n_train + n_test) * (dim + 1) * data_item * 2  # raw and standardized
    state = OPTIMIZER_STATE.get(t.optimizer.name, 2)
    e.parts["parameters, gradients, optimizer state"] = params * item * (2 + state + (2 if save_weights else 1))
    chunk = min(4096, max(n_train, n_test))
    e.parts["activations (batch, evaluation, probe)"] = (
        3 * batch * sum(widths[1:]) + 3 * chunk * maxw + 3 * min(t.probe, n_train) * sum(widths[1:])) * item
    stats_steps = steps // max(1, t.stats_every) + 1
    bins = cfg.stats.bins if cfg.stats.histograms else 0
    e.parts["rows and histograms"] = stats_steps * len(hidden) * (ROW_BYTES + 2 * BIN_BYTES * bins)
    e.fields.update({"data": "data.n_train", "parameters, gradients, optimizer state": "network.width",
                     "activations (batch, evaluation, probe)": "train.batch" if t.batch else "data.n_train",
                     "rows and histograms": "train.steps"})
    if figures:
        e.parts["figures"] = FIGURE_BYTES
        e.fields["figures"] = "--figures"
    wsum = sum(i * o for i, o in layers)
    evals = steps // max(1, t.eval_every) + 1
    flops = 6.0 * batch * wsum * steps + 2.0 * (n_train + n_test) * wsum * evals
    entries = (batch * sum(widths[1:]) * steps * 3 + (n_train + n_test) * sum(widths[1:]) * evals)
    e.flops, e.entries, e.draws = {item: flops}, entries, wsum
    e.fixed = FIGURE_SECONDS if figures else 0.0
    return e


# --- the check -----------------------------------------------------------------------------------

def preflight(e: Estimate, *, force: bool = False, available: int | None = None,
              warn=None) -> list[str]:
    """Refuse ``e`` when it cannot fit in memory (a :class:`ConfigError` naming the field that
    drives its largest part, what it needs and ``--force``), unless ``force``; return the
    warning lines (also passed to ``warn`` when given): one when it will take minutes, one when
    ``--force`` overrides a refusal."""
    avail = available_memory() if available is None else available
    lines = []
    if avail is not None:
        room = avail - MEMORY_HEADROOM
        if e.bytes > room:
            part = e.largest()
            text = (f"{e.what} needs about {fmt_bytes(e.bytes)} of memory ({e.breakdown()}), more than "
                    f"the {fmt_bytes(max(room, 0))} this machine has available ({fmt_bytes(avail)} less the "
                    f"{fmt_bytes(MEMORY_HEADROOM)} MEMORY_HEADROOM)")
            if not force:
                raise ConfigError(e.fields.get(part, "config"),
                                  f"{text}; make it smaller, or give --force to run it anyway")
            lines.append(f"initlab: warning: {text}; running anyway (--force)")
    seconds = e.seconds()
    if seconds > WARN_SECONDS:
        lines.append(f"initlab: warning: {e.what} will take about {fmt_seconds(seconds)} (estimated from "
                     f"its shapes and this machine's measured speed); Ctrl-C stops it and leaves any "
                     "previous result as it was")
    if warn is not None:
        for line in lines:
            warn(line)
    return lines
