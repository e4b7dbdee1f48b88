"""Running a sweep: skip the cached points, ship the rest in chunks to an executor, write each
finished point's folder as it arrives, then the tables.

The order of events never changes a number: every point's result depends on its config alone
(its seed included), the point folders are written by this process, and the tables are
assembled from them in grid order (:mod:`initlab.sweeps.tables`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from initlab.io import results
from initlab.sweeps import grid as G
from initlab.sweeps import store, tables
from initlab.sweeps.executors import Executor, chunk_size
from initlab.sweeps.worker import Task, run_chunk


@dataclass
class Summary:
    """What a sweep did: counts, the failures (index -> one-line error), the files written."""

    size: int
    done: int = 0
    cached: int = 0
    failed: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    files: list[Path] = field(default_factory=list)


def plan(spec: G.Spec) -> list[G.Point]:
    """Every point, resolved and validated (nothing is run or written)."""
    return G.points(spec)


def run(spec: G.Spec, points: list[G.Point], out: Path, executor: Executor, *, force: bool = False,
        progress: Callable[[str, int], None] | None = None, command: str | None = None,
        chunk: int | None = None) -> Summary:
    """Run the sweep into ``out``; ``progress(event, n)`` is told ``cached``, ``done`` and
    ``failed`` counts as they happen. A ``KeyboardInterrupt`` leaves every finished point in
    place (the next run resumes) and no half-written file."""
    t0 = time.perf_counter()
    out = Path(out)
    store.prepare(out, G.spec_document(spec))
    summary = Summary(len(points))
    status: dict[int, tuple] = {}
    todo = []
    seen: dict[str, int] = {}
    for p in points:
        if p.key in seen:  # two grid values that resolve to the same config: one run
            todo_dup = seen[p.key]
            status[p.index] = ("same", todo_dup)
            continue
        seen[p.key] = p.index
        if not force and store.is_cached(out, p):
            status[p.index] = ("done", None, store.read_point(out, p)[2])
            summary.cached += 1
        else:
            todo.append(p)
    if progress and summary.cached:
        progress("cached", summary.cached)
    by_index = {p.index: p for p in points}
    if todo:
        size = chunk or chunk_size(len(todo), executor.workers)
        tasks = []
        for kind in (G.RUN, G.TRAIN):
            mine = [p for p in todo if p.config_kind == kind]
            tasks += [Task(kind, tuple((p.index, p.config) for p in mine[i:i + size]))
                      for i in range(0, len(mine), size)]
        for outcomes in executor.map(run_chunk, tasks):
            for o in outcomes:
                p = by_index[o.index]
                if o.ok:
                    store.save_point(out, p, o, command)
                    status[p.index] = ("done", None, o.seconds)
                    summary.done += 1
                    event = "done"
                else:
                    status[p.index] = ("failed", o.error, o.seconds)
                    summary.failed[p.index] = o.error
                    event = "failed"
                if progress:
                    progress(event, 1)
    for i, st in list(status.items()):  # duplicates take their twin's outcome
        if st[0] == "same":
            status[i] = status[st[1]]
    summary.seconds = time.perf_counter() - t0
    summary.files = write_tables(out, points, status, summary, command)
    return summary


def write_tables(out: Path, points: list[G.Point], status: dict, summary: Summary,
                 command: str | None) -> list[Path]:
    """``sweep.csv``, ``sweep.parquet`` (with pyarrow), ``points.csv`` and the manifest."""
    cols, rows = tables.sweep_rows(out, points, status)
    written = []
    store.write_file(out / "sweep.csv", tables.text_table(cols, rows))
    written.append(out / "sweep.csv")
    pq = tables.parquet_bytes(cols, rows)
    if pq is not None:
        store.write_file(out / "sweep.parquet", pq)
        written.append(out / "sweep.parquet")
    pcols, prows = tables.points_rows(points, status)
    store.write_file(out / "points.csv", results.csv_text(prows, pcols))
    written.append(out / "points.csv")
    extra = {"kind": "sweep", "command": command, "points": summary.size, "done": summary.done,
             "cached": summary.cached, "failed": len(summary.failed),
             "elapsed_seconds": {"sweep": round(summary.seconds, 4)}, "versions": results.versions()}
    store.write_file(out / results.MANIFEST, results.json_text(results.manifest(out, extra)))
    return written


# --- the estimate of --dry-run -------------------------------------------------------------------

# Rough costs on one core of the reference machine (docs/sweeps.md): drawing a weight entry,
# a multiply-add in a product, and the Python-level work per layer and pass.
DRAW_S = 1.5e-8
FLOP_S = 1.0 / 2.0e10
LAYER_S = 6e-5


def estimate_seconds(point: G.Point) -> float:
    """A rough single-core estimate of one point's time (``--dry-run``): drawing, products and
    per-layer overhead, from the config alone (no data is loaded). Within a factor of ~3."""
    cfg = point.config
    if point.config_kind == G.TRAIN:
        widths = (40,) + cfg.network.widths + (10,)
        weights = sum(a * b for a, b in zip(widths, widths[1:]))
        t = cfg.train
        batch = t.batch or 1000
        steps = t.steps if t.epochs is None else t.epochs * 10
        evals = steps // max(1, t.eval_every) + 1
        flops = 6 * batch * weights * steps + 2 * 2000 * weights * evals
        return weights * DRAW_S + flops * FLOP_S + LAYER_S * len(widths) * (3 * steps + 2 * evals)
    widths = cfg.widths()
    weights = sum(a * b for a, b in zip(widths, widths[1:]))
    passes = 3 if cfg.backward.enabled else 1
    return weights * DRAW_S + 2 * cfg.input.batch * weights * passes * FLOP_S + LAYER_S * len(widths) * passes
