"""Writing a lottery-ticket folder (``initlab ticket``), all or nothing.

``tickets.csv``
    one row per round and kind (``dense`` round 0, ``ticket``, and with ``--controls``
    ``reinit`` and ``random``), columns :data:`initlab.datainit.lottery.COLUMNS`: the fraction of
    prunable weights remaining, final train/test accuracy, best test accuracy over the
    evaluations, final test loss, steps to the config's threshold, divergence.
``history.csv``
    every run's evaluation rows, a ``run`` column first (``dense``, ``ticket3``, ...).
``masks.npz``
    the last round's masks, ``mask1`` ... (layer L + 1 the readout; 1 kept, 0 pruned).
``tickets.png``, ``config.yaml``, ``summary.md``, ``manifest.json``
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from initlab.datainit.lottery import COLUMNS
from initlab.io import results
from initlab.io.train_save import config_yaml
from initlab.training.loop import HISTORY_COLUMNS


def summary_markdown(cfg, result, command: str | None) -> str:
    s = result.settings
    head = (f"# {cfg.name}: lottery tickets\n\n`{command or ''}`\n\n"
            f"Iterative magnitude pruning (Frankle & Carbin 2019): {s['rounds']} rounds, {100 * s['prune']:g}% of the "
            f"surviving hidden weights per round ({s['scope']}), readout at {100 * s['output_rate']:g}%, rewinding to "
            f"step {s['rewind']}; {cfg.train.steps} updates per run; threshold {cfg.train.threshold.metric} "
            f"{cfg.train.threshold.value:g}.\n\n")
    return head + results.markdown_table(result.rows, COLUMNS)


def save_ticket(cfg, result, out: str | Path, *, figures: bool = True, command: str | None = None,
                elapsed: float | None = None) -> Path:
    t0 = time.perf_counter()
    with results.staged_dir(out) as stage:
        results.write_text(stage, "tickets.csv", results.csv_text(result.rows, COLUMNS))
        hist = [{"run": k, **row} for k, rows in result.histories.items() for row in rows]
        results.write_text(stage, "history.csv", results.csv_text(hist, ("run",) + HISTORY_COLUMNS))
        with open(stage / "masks.npz", "wb") as f:
            np.savez(f, **{f"mask{l}": m for l, m in enumerate(result.masks, start=1)})
        results.write_text(stage, "config.yaml", config_yaml(cfg))
        results.write_text(stage, "summary.md", summary_markdown(cfg, result, command))
        if figures:
            from initlab.plots import datainit_figures

            datainit_figures.tickets(result.rows, stage / "tickets.png", f"{cfg.name}: lottery tickets",
                                     steps=cfg.train.steps)
        extra = {"kind": "ticket", "name": cfg.name, "seed": cfg.seed, "command": command,
                 "settings": result.settings,
                 "elapsed_seconds": {"run": None if elapsed is None else round(elapsed, 4),
                                     "write": round(time.perf_counter() - t0, 4)},
                 "versions": results.versions()}
        results.write_text(stage, results.MANIFEST, results.json_text(results.manifest(stage, extra)))
    return Path(out)
