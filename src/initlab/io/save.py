"""Writing a run's result folder: tables, weights, figures and manifest, all or nothing."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from initlab.config import to_dict
from initlab.runs.experiment import RunResult, columns
from initlab.io import results
from initlab.io.configfile import dump
from initlab.io.quiet import quiet_numerics


def histogram_data(hists) -> dict | None:
    """Histograms as plain data (for ``stats.json`` and the figures)."""
    if not hists:
        return None
    return {
        "edges": [float(e) for e in hists[0].edges],
        "counts": [[int(c) for c in h.counts] for h in hists],
        "below": [h.below for h in hists],
        "above": [h.above for h in hists],
        "nonfinite": [h.nonfinite for h in hists],
    }


def stats_document(result: RunResult) -> dict:
    """The ``stats.json`` content: everything needed to redraw the figures."""
    cfg = result.config
    return {
        "schema_version": results.SCHEMA_VERSION,
        "kind": "run",
        "config": to_dict(cfg),
        "activation": result.activation.label(),
        "initializer": result.initializer,
        "columns": list(columns(cfg.backward.enabled)),
        "rows": result.rows,
        "loss": result.loss,
        "first_nonfinite": result.first_nonfinite,
        "theory": result.theory,
        "histograms": {
            "act": histogram_data(result.act_hist),
            "grad": histogram_data(result.grad_hist),
            "input": histogram_data([result.input_hist]) if result.input_hist is not None else None,
        },
        "datainit": result.datainit,
    }


def summary_markdown(doc: dict) -> str:
    cfg = doc["config"]
    net = cfg["network"]
    head = (f"# {cfg['name']}\n\n{net['depth']} layers x {net['width']}, activation "
            f"{doc['activation']}, initializer {doc['initializer']}, input {cfg['input']['distribution']} "
            f"batch {cfg['input']['batch']} x {cfg['input']['dim']}, {cfg['dtype']}, seed {cfg['seed']}\n\n")
    nf = doc["first_nonfinite"]
    if nf["forward"] is not None or nf["backward"] is not None:
        head += f"**Overflow**: first non-finite layer forward {nf['forward']}, backward {nf['backward']}\n\n"
    return head + results.markdown_table(doc["rows"], doc["columns"])


def save_run(result: RunResult, out: str | Path, *, figures: bool = True, elapsed: float | None = None,
             command: str | None = None) -> Path:
    """Write ``result`` into ``out`` atomically; returns the folder."""
    t0 = time.perf_counter()
    doc = stats_document(result)
    with results.staged_dir(out) as stage:
        results.write_text(stage, "stats.csv", results.csv_text(doc["rows"], doc["columns"]))
        results.write_text(stage, "stats.json", results.json_text(doc))
        results.write_text(stage, "summary.md", summary_markdown(doc))
        results.write_text(stage, "config.yaml", dump(result.config))  # `initlab run config.yaml` redoes it
        if result.datainit is not None:  # LSUV's per-layer iterations and gains, or what was transferred
            rows = result.datainit["rows"]
            results.write_text(stage, "datainit.csv", results.csv_text(rows, tuple(rows[0]) if rows else ("layer",)))
        if result.arrays is not None:
            with open(stage / "weights.npz", "wb") as f:
                np.savez(f, **result.arrays)
        if figures:
            from initlab.plots import run_figures

            with quiet_numerics():
                run_figures.draw_all(doc, stage)
        extra = {
            "kind": "run",
            "name": result.config.name,
            "seed": result.config.seed,
            "command": command,
            "elapsed_seconds": {"run": round(elapsed, 4) if elapsed is not None else None,
                                "write": round(time.perf_counter() - t0, 4)},
            "versions": results.versions(),
        }
        results.write_manifest(stage, extra)
    return Path(out)
