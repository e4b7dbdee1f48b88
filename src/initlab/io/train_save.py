"""Writing a training run's folder (``initlab train``) and a training comparison's
(``initlab compare --train``): all or nothing, through :func:`initlab.io.results.staged_dir`.

Files of a run (formats are a contract: ``initlab.plots.train_figures`` reads them):

``history.csv``
    one row per evaluation point, step 0 and the last step included (a diverged run ends at the
    divergent step), columns :data:`HISTORY_COLUMNS`: ``step`` (updates done), ``epoch``
    (``step / batches per epoch``; = step for full batch), ``lr`` (the rate of the update made
    at that step), ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc`` (eval mode, whole
    splits; accuracies empty for regression), ``grad_norm`` (global 2-norm of that step's
    gradient before clipping; empty at the last step), ``clipped`` (1 if clipping changed it,
    else 0; empty at the last step).
``layers.csv``
    per statistics step and hidden layer 1..L, columns :data:`LAYER_COLUMNS`: ``step``,
    ``layer``, then ``initlab run``'s columns on the probe batch (eval mode, forward and
    backward; with a normalization ``preact_*`` are the normalized pre-activations) and
    ``update_ratio``, ``weight_std``, ``distinct_units`` (:mod:`initlab.training.loop`).
``histograms.npz``
    ``steps`` (S,), ``layers`` (L,) = 1..L, ``edges`` (L, B+1) float64, ``counts`` (S, L, B)
    int64: activation histograms on the probe batch over the activation's histogram range
    (``stats.range`` overrides it; values outside are not counted). Absent without statistics.
``boundary.npz``
    2-D data sets only: ``xx``, ``yy``, ``prob``, ``pred`` (G, G), ``x_train``, ``y_train``,
    ``x_test``, ``y_test`` in raw input coordinates (:func:`initlab.runs.train.decision_boundary`).
``weights.npz``
    with ``--save-weights``: ``init_W1``, ``init_b1``, ..., ``final_W1``, ... (layer L + 1 is the
    readout).
``datainit.csv``, ``pretrain.csv``
    with a data-dependent initialization (docs/datainit.md): LSUV's per-layer iterations, variances
    and gains, or the transferred and frozen layers; the pretraining history (layer, epoch,
    reconstruction loss on the training and test codes).
``final.json``
    the final metrics (last evaluation, ``diverged``, ``diverged_at``, ``steps_to_threshold``),
    the data set's resolved parameters, the network's widths.
``config.yaml``, ``summary.md``, ``manifest.json``, ``machine.json``
    the resolved config; the final metrics and the per-evaluation table in Markdown; seed,
    command and sha256 of every file (manifest.json); timings and versions in machine.json,
    which git ignores (every other file is byte-identical for the same config and seed).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np
import yaml

from initlab.config.training import to_dict
from initlab.io import results, text
from initlab.io.quiet import quiet_numerics
from initlab.runs.experiment import BACKWARD_COLUMNS, FORWARD_COLUMNS
from initlab.training.loop import HISTORY_COLUMNS, LAYER_EXTRA_COLUMNS

LAYER_COLUMNS = ("step",) + FORWARD_COLUMNS + BACKWARD_COLUMNS + LAYER_EXTRA_COLUMNS
FINAL_COLUMNS = ("train_loss", "train_acc", "test_loss", "test_acc", "steps_to_threshold", "diverged",
                 "diverged_at")
COMPARE_COLUMNS = ("initializer",) + FINAL_COLUMNS


def config_yaml(cfg) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None)


def final_document(result) -> dict:
    return {"schema_version": results.SCHEMA_VERSION, "kind": "train", "name": result.config.name,
            "final": result.final_metrics(), "dataset": result.dataset, "widths": list(result.widths),
            "activation": result.activation, "initializer": result.initializer,
            "steps": result.loop.steps_done}


def _fmt(v) -> str:
    return text.md_value(v)


def summary_markdown(result) -> str:
    cfg = result.config
    f = result.final_metrics()
    ds = result.dataset
    t = cfg.train
    batch = "full batch" if t.batch is None else f"batch {t.batch}"
    head = (f"# {cfg.name}\n\n"
            f"{ds['name']} ({ds['n_train']} train / {ds['n_test']} test), network "
            f"{'-'.join(str(w) for w in result.widths)}, activation {result.activation}, "
            f"initializer {result.initializer}, norm {cfg.network.norm}, dropout {cfg.network.dropout:g}; "
            f"{t.optimizer.name} lr {t.optimizer.lr:g}, {batch}, loss {t.loss}, {cfg.dtype}, seed {cfg.seed}\n\n")
    if f["diverged"]:
        head += f"**Diverged** at step {f['diverged_at']}: the training loss became inf/NaN; the run stopped there.\n\n"
    rows = [{"metric": k, "value": f[k]} for k in ("step", "train_loss", "train_acc", "test_loss", "test_acc",
                                                    "diverged", "diverged_at", "steps_to_threshold")]
    rows.append({"metric": "threshold", "value": f["threshold"]})
    body = "## Final\n\n" + _kv_table(rows) + "\n## Evaluations\n\n" + \
        results.markdown_table(result.loop.history, HISTORY_COLUMNS)
    return head + body


def _kv_table(rows: list[dict]) -> str:
    out = ["| metric | value |", "|---|---:|"]
    out += [f"| {r['metric']} | {_fmt(r['value'])} |" for r in rows]
    return "\n".join(out) + "\n"


def _npz(path: Path, arrays: dict) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def histogram_arrays(loop) -> dict | None:
    if not loop.hist_counts:
        return None
    counts = np.stack(loop.hist_counts).astype(np.int64)
    return {"steps": np.asarray(loop.hist_steps, dtype=np.int64),
            "layers": np.arange(1, counts.shape[1] + 1, dtype=np.int64),
            "edges": np.asarray(loop.hist_edges, dtype=np.float64), "counts": counts}


def write_files(result, folder: Path) -> None:
    """Every file of one run into ``folder`` (no manifest; not atomic by itself)."""
    folder.mkdir(exist_ok=True)
    loop = result.loop
    results.write_text(folder, "history.csv", results.csv_text(loop.history, HISTORY_COLUMNS))
    results.write_text(folder, "layers.csv", results.csv_text(loop.layers, LAYER_COLUMNS))
    hist = histogram_arrays(loop)
    if hist is not None:
        _npz(folder / "histograms.npz", hist)
    if result.boundary is not None:
        _npz(folder / "boundary.npz", result.boundary)
    if result.initial is not None:
        arrays = {f"init_{k}": v for k, v in result.initial.items()}
        arrays.update({f"final_{k}": v for k, v in result.final.items()})
        _npz(folder / "weights.npz", arrays)
    di = getattr(result, "datainit", None)
    if di is not None:  # LSUV / transfer rows, the pretraining history
        if di.get("rows"):
            results.write_text(folder, "datainit.csv", results.csv_text(di["rows"], tuple(di["rows"][0])))
        if di.get("pretrain"):
            results.write_text(folder, "pretrain.csv", results.csv_text(di["pretrain"], tuple(di["pretrain"][0])))
    results.write_text(folder, "final.json", results.json_text(final_document(result)))
    results.write_text(folder, "config.yaml", config_yaml(result.config))
    results.write_text(folder, "summary.md", summary_markdown(result))


def _manifest(stage: Path, kind: str, name: str, seed: int, command: str | None, timings: dict) -> None:
    extra = {"kind": kind, "name": name, "seed": seed, "command": command,
             "elapsed_seconds": {k: (round(v, 4) if v is not None else None) for k, v in timings.items()},
             "versions": results.versions()}
    results.write_manifest(stage, extra)


def _figures(call: str, folder: Path) -> list[Path]:
    """``initlab.plots.train_figures.<call>(folder)`` (matplotlib imported here, on use)."""
    from initlab.plots import train_figures

    with quiet_numerics():
        return list(getattr(train_figures, call)(folder))


def save_train(result, out: str | Path, *, figures: bool = True, command: str | None = None) -> Path:
    """Write ``result`` into ``out`` atomically; returns the folder."""
    t0 = time.perf_counter()
    with results.staged_dir(out) as stage:
        write_files(result, stage)
        if figures:
            _figures("draw_all", stage)
        per_step = result.seconds_per_step
        _manifest(stage, "train", result.config.name, result.config.seed, command,
                  {"train": result.elapsed, "per_step": per_step, "write": time.perf_counter() - t0})
    return Path(out)


# --- compare --train -----------------------------------------------------------------------------

def compare_rows(labels: Sequence[str], runs: Sequence) -> list[dict]:
    rows = []
    for label, r in zip(labels, runs):
        f = r.final_metrics()
        rows.append({"initializer": label, **{k: f[k] for k in FINAL_COLUMNS}})
    return rows


def compare_markdown(title: str, labels: Sequence[str], runs: Sequence, command: str | None) -> str:
    head = f"# {title}\n\n"
    if command:
        head += f"`{command}`\n\n"
    first = runs[0]
    th = first.final_metrics()["threshold"]
    head += (f"Every initializer trains on the same data, split, batches, probe batch and seed "
             f"({first.config.seed}); steps to threshold: first evaluation with {th}.\n\n")
    return head + results.markdown_table(compare_rows(labels, runs), COMPARE_COLUMNS)


def save_compare(title: str, labels: Sequence[str], slugs: Sequence[str], runs: Sequence, out: str | Path, *,
                 figures: bool = True, command: str | None = None, elapsed: float | None = None) -> Path:
    """A training comparison: ``compare.csv`` (one row per initializer), ``runs.csv`` (each
    initializer's run folder, for the figures), long-form
    ``history.csv`` and ``layers.csv`` (an ``initializer`` column first), ``summary.md``,
    ``manifest.json``, and one run folder per initializer under ``runs/<slug>/`` (the files of
    :func:`write_files`)."""
    t0 = time.perf_counter()
    with results.staged_dir(out) as stage:
        results.write_text(stage, "compare.csv", results.csv_text(compare_rows(labels, runs), COMPARE_COLUMNS))
        hist = [{"initializer": lab, **row} for lab, r in zip(labels, runs) for row in r.loop.history]
        layers = [{"initializer": lab, **row} for lab, r in zip(labels, runs) for row in r.loop.layers]
        results.write_text(stage, "history.csv", results.csv_text(hist, ("initializer",) + HISTORY_COLUMNS))
        results.write_text(stage, "layers.csv", results.csv_text(layers, ("initializer",) + LAYER_COLUMNS))
        results.write_text(stage, "summary.md", compare_markdown(title, labels, runs, command))
        (stage / "runs").mkdir()
        for slug, r in zip(slugs, runs):
            write_files(r, stage / "runs" / slug)
        index = [{"initializer": lab, "folder": f"runs/{slug}"} for lab, slug in zip(labels, slugs)]
        results.write_text(stage, "runs.csv", results.csv_text(index, ("initializer", "folder")))
        if figures:
            _figures("draw_compare", stage)
        _manifest(stage, "compare-train", Path(out).name, runs[0].config.seed, command,
                  {"train": elapsed, "write": time.perf_counter() - t0})
    return Path(out)
