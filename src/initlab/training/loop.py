"""The training loop: one readable function, numpy only, no I/O, no config.

:func:`train` takes a :class:`~initlab.training.model.Model`, an optimizer, a learning-rate
schedule, a loss, the data arrays and a :class:`Settings` record, and reports to
:class:`Callbacks` (a progress bar, a test recording the batches) as it goes. Per update
``t = 0, 1, ..., steps - 1`` (``t`` counts the updates already done, as the schedules do):

1. every ``eval_every`` updates (and at the last step): train and test loss and accuracy over
   the full splits, in eval mode (batch norm's running statistics, no dropout), in chunks;
2. every ``stats_every`` updates (and at the last step): every per-layer statistic of
   ``initlab run`` on a fixed probe batch of training inputs (eval mode, forward and backward:
   the observer the caller's ``stats`` factory makes, :class:`initlab.runs.experiment.StatsObserver`
   in practice), plus ``weight_std``, ``distinct_units`` and, once the update is made,
   ``update_ratio``; and the per-layer activation histograms on that batch;
3. the minibatch (a fresh permutation of the training set per epoch, drawn from the batch
   stream; the last partial batch of an epoch is dropped, so every batch has ``batch`` rows),
   the gradients in training mode (dropout masks from the dropout stream), clipping, the
   optimizer's step with the weight masks, then ``params.apply_masks()``. Frozen layers are not
   in ``model.arrays()``, so nothing touches them.

Streams (:mod:`initlab.engine.parameters`): batches ``(5,)``, dropout ``(6,)``, the probe batch
``(7,)``, each from ``settings.seed``: changing the initializer never changes the data (drawn by
the caller from ``(4,)``), the batch order, the dropout masks or the probe batch.

Divergence is a result: a non-finite training loss (the step's batch loss, or the full training
loss at an evaluation point) stops the loop at that step; ``diverged_at`` is that step and the
history ends with an evaluation there.

Memory: the parameters, the optimizer state and one batch's tape; per step nothing is kept but
the history and statistics rows of the evaluation and statistics points (and, on a statistics
step only, a copy of the weights to measure the update).

Definitions
    ``update_ratio``: ``std(W_l after - W_l before) / std(W_l before)`` for the update made at
    that step (Karpathy, "makemore" part 3: about 1e-3 is healthy); empty when std(W_l) is 0 or
    at the last step (no update follows).
    ``weight_std``: ``std(W_l)`` (population, ddof 0) at that step.
    ``distinct_units``: the number of distinct incoming-weight columns of layer l, bias
    included (``[W_l; b_l]`` column by column, exact equality, -0.0 equal to 0.0): 1 when every
    unit computes the same function (zero or constant initialization: the symmetry is never
    broken), the width when no two units coincide.
    Steps to threshold: the first evaluation step whose ``metric`` reaches ``value``
    (accuracies ``>=``, losses ``<=``); ``None`` when none does.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from initlab.engine.parameters import BATCHES, DROPOUT, PROBE, stream
from initlab.training import clipping

METRICS = ("train_acc", "test_acc", "train_loss", "test_loss")
HISTORY_COLUMNS = ("step", "epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc",
                   "grad_norm", "clipped")
LAYER_EXTRA_COLUMNS = ("update_ratio", "weight_std", "distinct_units")


@dataclass(frozen=True)
class Threshold:
    """``metric`` (one of :data:`METRICS`) reaching ``value``: accuracies from below
    (``>=``), losses from above (``<=``)."""

    metric: str
    value: float

    def reached(self, row: dict) -> bool:
        v = row.get(self.metric)
        if v is None or not math.isfinite(v):
            return False
        return v >= self.value if self.metric.endswith("_acc") else v <= self.value


@dataclass(frozen=True)
class Settings:
    """What the loop needs besides the model and the data.

    Args:
        steps: number of updates, >= 1.
        batch: rows per minibatch; ``None`` (or >= the training set): full batch, in order.
        eval_every: updates between evaluations (the last step is always evaluated).
        stats_every: updates between probe statistics; 0 for none (the last step is included).
        clip: ``None``, ``("norm", max_norm)`` or ``("value", clip_value)``.
        seed: the run's seed: the batch, dropout and probe streams come from it.
        probe_size: rows of the fixed probe batch (at most the training set).
        eval_chunk: rows per chunk when evaluating a split.
        threshold: what ``steps_to_threshold`` counts to, or ``None``.
        stop_at_threshold: stop at the first evaluation that reaches ``threshold`` (the
            history ends there; ``steps`` is then a budget): for studies that only need the
            steps to the threshold, e.g. a learning time capped at a budget.
    """

    steps: int
    batch: int | None = None
    eval_every: int = 100
    stats_every: int = 500
    clip: tuple[str, float] | None = None
    seed: int = 0
    probe_size: int = 256
    eval_chunk: int = 4096
    threshold: Threshold | None = None
    stop_at_threshold: bool = False


class Callbacks:
    """What the loop reports as it goes; every method is optional (this class does nothing)."""

    def batch(self, step: int, indices: np.ndarray | None) -> None:
        """The training rows of update ``step`` (``None``: the full set, in order)."""

    def step(self, done: int, loss: float, acc: float | None) -> None:
        """After ``done`` updates, with the batch loss of the last one (``acc`` is ``None``: the
        accuracy is measured at evaluations, on the whole splits)."""

    def evaluated(self, row: dict) -> None:
        """A history row (``grad_norm``/``clipped`` are filled once the step's gradient is)."""

    def stats(self, step: int, rows: list[dict]) -> None:
        """The per-layer rows of a statistics step (``update_ratio`` filled after the update)."""


@dataclass
class LoopResult:
    """What :func:`train` measured. ``history`` rows are keyed by :data:`HISTORY_COLUMNS`;
    ``layers`` rows by ``step``, the observer's columns and :data:`LAYER_EXTRA_COLUMNS`;
    ``hist_counts[i]`` is ``(L, bins)`` at ``hist_steps[i]``, over ``hist_edges`` ``(L, bins + 1)``."""

    history: list[dict]
    layers: list[dict]
    hist_steps: list[int]
    hist_counts: list[np.ndarray]
    hist_edges: np.ndarray | None
    steps_done: int
    diverged: bool = False
    diverged_at: int | None = None
    steps_to_threshold: int | None = None
    batches_per_epoch: int = 1
    threshold: Threshold | None = None

    @property
    def final(self) -> dict:
        return self.history[-1]


def distinct_units(w: np.ndarray, b: np.ndarray | float) -> int:
    """Distinct columns of ``[W; b]`` (exact equality; -0.0 and 0.0 are one value)."""
    bias = np.broadcast_to(np.asarray(b, dtype=w.dtype), (w.shape[1],))
    cols = np.vstack([w, bias[None, :]]).T + w.dtype.type(0.0)  # + 0.0 turns -0.0 into 0.0
    # equal columns are equal bytes: a set of them counts exactly, ~40x faster than
    # np.unique(axis=0)'s sort of the whole matrix (30 ms -> 0.8 ms for 784 x 300)
    return len({c.tobytes() for c in np.ascontiguousarray(cols)})


def _std(a: np.ndarray) -> float:
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.std(a, dtype=np.float64))


def _global_norm(grads) -> float:
    """The global 2-norm of the gradients for the history (no clipping): one float64 sum of
    squares, :func:`clipping.global_norm`'s careful form only when that overflows."""
    with np.errstate(over="ignore", invalid="ignore"):
        sq = sum(float(np.vdot(g, g)) for g in grads)
    return math.sqrt(sq) if math.isfinite(sq) else clipping.global_norm(grads)


def evaluate(model, loss, x: np.ndarray, y: np.ndarray, chunk: int = 4096) -> tuple[float, float | None]:
    """Mean loss and accuracy (``None`` for a loss without one) of ``model`` in eval mode over
    the whole split, ``chunk`` rows at a time."""
    n = x.shape[0]
    total, correct = 0.0, 0.0
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        for i in range(0, n, chunk):
            xb, yb = x[i:i + chunk], y[i:i + chunk]
            logits = model.logits(xb)
            value, _ = loss(logits, yb)
            total += value * xb.shape[0]
            if loss.accuracy is not None:
                correct += loss.accuracy(logits, yb) * xb.shape[0]
    return total / n, (correct / n if loss.accuracy is not None else None)


class _Batches:
    """Minibatch indices: a fresh permutation per epoch from the batch stream, ``batch`` rows
    at a time, the last partial batch of each epoch dropped. Full batch: ``None`` (no draws)."""

    def __init__(self, n: int, batch: int | None, seed: int):
        self.full = batch is None or batch >= n
        self.n, self.batch = n, (n if self.full else batch)
        self.per_epoch = 1 if self.full else n // batch
        self.rng = stream(seed, BATCHES)
        self.perm: np.ndarray | None = None
        self.pos = 0

    def next(self) -> np.ndarray | None:
        if self.full:
            return None
        if self.perm is None or self.pos + self.batch > self.n:
            self.perm = self.rng.permutation(self.n)
            self.pos = 0
        idx = self.perm[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return idx


def probe_indices(n: int, size: int, seed: int) -> np.ndarray:
    """The fixed probe batch: ``min(size, n)`` distinct training rows from the probe stream,
    in increasing order."""
    if size >= n:
        return np.arange(n)
    return np.sort(stream(seed, PROBE).choice(n, size=size, replace=False))


def train(model, optimizer, schedule: Callable[[int], float], loss, x_train: np.ndarray,
          y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, settings: Settings,
          stats: Callable[[], object] | None = None, callbacks: Callbacks = Callbacks()) -> LoopResult:
    """Train ``model`` in place and return what was measured (see the module docstring).

    Args:
        model: a :class:`~initlab.training.model.Model`; its parameters are updated in place.
        optimizer: ``step(arrays, grads, lr=, masks=)`` (:mod:`initlab.training.optimizers`).
        schedule: ``t -> lr`` for update ``t`` (:mod:`initlab.training.schedules`).
        loss: a :class:`~initlab.training.losses.Loss` (its ``accuracy`` may be ``None``).
        x_train, y_train, x_test, y_test: the splits, targets as ``loss`` takes them.
        settings: :class:`Settings`.
        stats: makes a fresh observer for a statistics step (it must have ``rows``, indexed by
            layer 0..L, and ``act_hist``, one histogram per layer 1..L, as
            :class:`initlab.runs.experiment.StatsObserver`); ``None``: no statistics.
        callbacks: :class:`Callbacks`.
    """
    s = settings
    params = model.params
    depth = model.depth
    n = x_train.shape[0]
    batches = _Batches(n, s.batch, s.seed)
    drop_rng = stream(s.seed, DROPOUT)
    probe = probe_indices(n, s.probe_size, s.seed)
    x_probe, y_probe = x_train[probe], y_train[probe]
    # the batch's accuracy is not needed per step (evaluations measure it on the whole split)
    step_loss = dataclasses.replace(loss, accuracy=None) if dataclasses.is_dataclass(loss) else loss
    result = LoopResult([], [], [], [], None, 0, batches_per_epoch=batches.per_epoch,
                        threshold=s.threshold)

    def evaluation(t: int) -> dict:
        tr_loss, tr_acc = evaluate(model, loss, x_train, y_train, s.eval_chunk)
        te_loss, te_acc = evaluate(model, loss, x_test, y_test, s.eval_chunk)
        epoch = t if batches.per_epoch == 1 else round(t / batches.per_epoch, 6)
        row = {"step": t, "epoch": epoch, "lr": float(schedule(t)), "train_loss": tr_loss,
               "train_acc": tr_acc, "test_loss": te_loss, "test_acc": te_acc,
               "grad_norm": None, "clipped": None}
        result.history.append(row)
        if s.threshold is not None and result.steps_to_threshold is None and s.threshold.reached(row):
            result.steps_to_threshold = t
        callbacks.evaluated(row)
        return row

    def statistics(t: int) -> list[dict]:
        obs = stats()
        model.observe(x_probe, y_probe, loss, obs)
        rows = []
        for l in range(1, depth + 1):
            w, b = params.weight(l), params.bias(l)
            row = {"step": t, **obs.rows[l], "update_ratio": None, "weight_std": _std(w),
                   "distinct_units": distinct_units(w, b)}
            rows.append(row)
        result.layers.extend(rows)
        if obs.act_hist:
            if result.hist_edges is None:
                result.hist_edges = np.stack([h.edges for h in obs.act_hist])
            result.hist_steps.append(t)
            result.hist_counts.append(np.stack([h.counts for h in obs.act_hist]).astype(np.int64))
        callbacks.stats(t, rows)
        return rows

    t = 0
    while True:
        last = t == s.steps
        row = evaluation(t) if (t % s.eval_every == 0 or last) else None
        # stopping at the threshold makes this step the last one: it gets statistics too
        last = last or (s.stop_at_threshold and result.steps_to_threshold is not None)
        layer_rows = statistics(t) if stats is not None and s.stats_every and \
            (t % s.stats_every == 0 or last) else None
        if row is not None and not math.isfinite(row["train_loss"]):
            result.diverged, result.diverged_at = True, t
            break
        if last:
            break
        idx = batches.next()
        callbacks.batch(t, idx)
        xb, yb = (x_train, y_train) if idx is None else (x_train[idx], y_train[idx])
        lr = schedule(t)
        value, acc, grads = model.gradients(xb, yb, step_loss, drop_rng)
        if not math.isfinite(value):
            result.diverged, result.diverged_at = True, t
            if row is None:
                evaluation(t)
            break
        clipped = False
        if s.clip is not None and s.clip[0] == "norm":
            c = clipping.clip_grad_norm(grads, s.clip[1])
            norm, clipped = c.norm, c.clipped
        else:
            norm = _global_norm(grads)
            if s.clip is not None:
                clipped = clipping.clip_grad_value(grads, s.clip[1]) > 0
        if row is not None:
            row["grad_norm"], row["clipped"] = norm, int(clipped)
        before = [params.weight(l).copy() for l in range(1, depth + 1)] if layer_rows else None
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            optimizer.step(model.arrays(), grads, lr=lr, masks=model.masks())
        params.apply_masks()
        if before is not None:
            for l, (w0, r) in enumerate(zip(before, layer_rows), start=1):
                s0 = r["weight_std"]
                if s0 > 0 and math.isfinite(s0):
                    r["update_ratio"] = _std(params.weight(l) - w0) / s0
            del before
        t += 1
        result.steps_done = t
        callbacks.step(t, value, acc)
    return result
