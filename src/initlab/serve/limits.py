"""What the playground computes at most: the bounds every request is checked against.

The CLI's own pre-flight limits (:data:`initlab.config.MAX_DEPTH`, :data:`MAX_ARRAY_BYTES`,
:data:`MAX_BINS`) apply first, through the same config validation; a live view that must answer
in a fraction of a second on a shared machine needs tighter ones. Each refusal is a
:class:`~initlab.errors.ConfigError` naming the config field and the limit's name, the one-line
message the page shows beside the control.

Work is counted in multiply-adds of the weight products, the cost that dominates a run:
``batch * sum(n_{l-1} n_l)`` per forward pass (the backward pass about twice that again).
The cs231n shape (batch 1000, 10 layers of 500, input 500) is 2.5e9; :data:`MAX_STEP0_WORK`
allows ten times that (about a second on one core).
"""

from __future__ import annotations

from initlab.config import MAX_BINS, MAX_DEPTH
from initlab.errors import ConfigError

# --- the step-0 view ---------------------------------------------------------------------------
MAX_STEP0_DEPTH = min(200, MAX_DEPTH)   # layers drawn; the page shows at most 12 histograms
MAX_STEP0_WIDTH = 4096                  # any layer's width, the input's included
MAX_STEP0_BATCH = 10_000                # input rows
MAX_STEP0_BINS = min(200, MAX_BINS)     # histogram bins
MAX_STEP0_WORK = 25_000_000_000         # multiply-adds, forward (x3 with the backward pass)
MAX_STEP0_TAPE_BYTES = 2**30            # the activations kept for the backward pass

# --- the training view -------------------------------------------------------------------------
MAX_TRAIN_RUNS = 3                      # initializers side by side
MAX_TRAIN_STEPS = 50_000                # updates per run
MAX_TRAIN_DEPTH = 50
MAX_TRAIN_WIDTH = 1024
MAX_TRAIN_ROWS = 20_000                 # data.n_train and data.n_test
MAX_TRAIN_WORK = 200_000_000_000        # multiply-adds over the whole run, all runs together
MAX_TRAIN_PAUSE_SECONDS = 600           # a paused run holding its thread longer is stopped

# --- the server --------------------------------------------------------------------------------
MAX_JOBS = 8                            # computations in flight over all clients
MAX_MESSAGE_BYTES = 64 * 1024           # one request from the page
MAX_SETS = 64                           # config fields set by one request
#: the playground's data sets (the data registry's others need files or are regression)
TRAIN_DATASETS = ("circles", "moons", "spirals", "xor", "digits", "mnist1d")


def _refuse(field: str, value: int, limit: int, name: str, what: str) -> None:
    if value > limit:
        raise ConfigError(field, f"at most {limit:,} in the playground ({name}; the command line "
                                 f"takes more), got {value:,}{what}")


def forward_work(batch: int, widths: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass: ``batch * sum(n_{l-1} n_l)``."""
    return batch * sum(a * b for a, b in zip(widths, widths[1:]))


def check_step0(cfg) -> None:
    """Refuse a run config (:class:`initlab.config.Config`) beyond the step-0 limits."""
    _refuse("network.depth", cfg.network.depth, MAX_STEP0_DEPTH, "MAX_STEP0_DEPTH", "")
    widths = cfg.widths()
    if cfg.input.dim > MAX_STEP0_WIDTH:
        _refuse("input.dim", cfg.input.dim, MAX_STEP0_WIDTH, "MAX_STEP0_WIDTH", "")
    _refuse("network.width", max(widths[1:]), MAX_STEP0_WIDTH, "MAX_STEP0_WIDTH", "")
    _refuse("input.batch", cfg.input.batch, MAX_STEP0_BATCH, "MAX_STEP0_BATCH", "")
    _refuse("stats.bins", cfg.stats.bins, MAX_STEP0_BINS, "MAX_STEP0_BINS", "")
    factor = 3 if cfg.backward.enabled else 1
    work = factor * forward_work(cfg.input.batch, widths)
    if work > MAX_STEP0_WORK:
        raise ConfigError("network.width", f"{work:.3g} multiply-adds (batch x widths x depth"
                                           f"{' x 3 with the backward pass' if factor > 1 else ''}) is over "
                                           f"the playground's {MAX_STEP0_WORK:.3g} (MAX_STEP0_WORK); reduce "
                                           "input.batch, network.width or network.depth")
    if cfg.backward.enabled:
        item = 4 if cfg.dtype == "float32" else 8
        tape = cfg.input.batch * sum(widths) * item
        if tape > MAX_STEP0_TAPE_BYTES:
            raise ConfigError("backward.enabled", f"the backward pass keeps {tape / 2**20:.0f} MiB of "
                                                  f"activations, over the playground's "
                                                  f"{MAX_STEP0_TAPE_BYTES / 2**20:.0f} MiB "
                                                  "(MAX_STEP0_TAPE_BYTES); reduce input.batch or the widths")


def check_train_config(cfg) -> None:
    """Refuse a training config (:class:`initlab.config.training.TrainConfig`) beyond the training
    limits that do not need the data (see :func:`check_train_work` for those that do)."""
    if cfg.data.name not in TRAIN_DATASETS:
        raise ConfigError("data.name", f"the playground trains on {', '.join(TRAIN_DATASETS)}; "
                                       f"got '{cfg.data.name}' (use initlab train for the others)")
    _refuse("network.depth", cfg.network.depth, MAX_TRAIN_DEPTH, "MAX_TRAIN_DEPTH", "")
    _refuse("network.width", max(cfg.network.widths), MAX_TRAIN_WIDTH, "MAX_TRAIN_WIDTH", "")
    for key in ("n_train", "n_test"):
        v = getattr(cfg.data, key)
        if v is not None:
            _refuse(f"data.{key}", v, MAX_TRAIN_ROWS, "MAX_TRAIN_ROWS", "")
    if cfg.train.epochs is None:
        _refuse("train.steps", cfg.train.steps, MAX_TRAIN_STEPS, "MAX_TRAIN_STEPS", "")
    _refuse("stats.bins", cfg.stats.bins, MAX_STEP0_BINS, "MAX_STEP0_BINS", "")


def check_train_work(steps: int, batch: int, widths: tuple[int, ...], runs: int) -> None:
    """Refuse a training job whose updates (forward + backward, about 3x a forward pass) add up
    to more than :data:`MAX_TRAIN_WORK` multiply-adds over its ``runs``."""
    _refuse("train.steps", steps, MAX_TRAIN_STEPS, "MAX_TRAIN_STEPS", " (from train.epochs)")
    work = 3 * steps * forward_work(batch, widths) * runs
    if work > MAX_TRAIN_WORK:
        raise ConfigError("train.steps", f"{work:.3g} multiply-adds (3 x steps x batch x widths x runs) is "
                                         f"over the playground's {MAX_TRAIN_WORK:.3g} (MAX_TRAIN_WORK); reduce "
                                         "train.steps, train.batch, network.width or the runs compared")
