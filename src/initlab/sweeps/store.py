"""A sweep's folder: content-addressed point folders, written atomically, read back for the tables.

    SWEEP_DIR/
      manifest.json             kind "sweep", versions, timings (rewritten at the end)
      sweep.json                the grid (axes, seeds, base config, fixed overrides)
      sweep.csv [sweep.parquet] the long table: grid columns, seed, the runs' rows
      points.csv                one row per point: key, grid values, seed, status, error, seconds
      points/<kind>-<hash16>/   an ordinary ``initlab run`` / ``initlab train`` result folder
                                (no figures, weights or decision boundary), written atomically

A point whose folder exists (with its manifest: the atomic write's last file) is cached and not
run again, unless ``--force``. A failed point gets no folder (it is tried again on the next run);
its one-line error is in ``points.csv``. The tables are always assembled from the point folders
on disk, so a sweep run at once, resumed after a kill, or rerun from cache writes the same bytes.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from initlab.errors import InitlabError
from initlab.io import results, text

POINTS = "points"
SWEEP_JSON = "sweep.json"


def point_dir(out: Path, point) -> Path:
    return Path(out) / POINTS / point.folder


def is_cached(out: Path, point) -> bool:
    return (point_dir(out, point) / results.MANIFEST).is_file()


def save_point(out: Path, point, outcome, command: str | None) -> Path:
    """Write a finished point's folder atomically (through :func:`initlab.io.results.staged_dir`)."""
    folder = point_dir(out, point)
    if point.config_kind == "train":
        from initlab.io.train_save import save_train

        return save_train(outcome.result, folder, figures=False, command=command)
    from initlab.io.save import save_run

    return save_run(outcome.result, folder, figures=False, elapsed=outcome.seconds, command=command)


def _csv_rows(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        head = next(r)
        return head, [dict(zip(head, row)) for row in r]


def read_point(out: Path, point) -> tuple[list[str], list[dict], float | None]:
    """``(columns, rows, seconds)`` of a finished point, cells as written (text): a step-0
    run's per-layer rows (``stats.csv``), a training run's one row of final metrics."""
    folder = point_dir(out, point)
    manifest = json.loads((folder / results.MANIFEST).read_text())
    el = manifest.get("elapsed_seconds") or {}
    seconds = el.get("run", el.get("train"))
    if point.config_kind == "train":
        from initlab.io.train_save import FINAL_COLUMNS

        doc = json.loads((folder / "final.json").read_text())
        f = doc["final"]
        cols = ["step", *FINAL_COLUMNS]
        return cols, [{c: text.csv_value(f.get(c)) for c in cols}], seconds
    cols, rows = _csv_rows(folder / "stats.csv")
    return cols, rows, seconds


def write_file(path: Path, data: str | bytes) -> None:
    """Write one file atomically: a hidden sibling, flushed, renamed over ``path``."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    mode = "wb" if isinstance(data, bytes) else "w"
    try:
        with open(tmp, mode, **({} if isinstance(data, bytes) else {"encoding": "utf-8", "newline": ""})) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def prepare(out: Path, spec_doc: dict) -> None:
    """Make the sweep folder (refusing a folder that is not a sweep's) and write ``sweep.json``
    and a first manifest, so a killed sweep's folder is recognised when resumed."""
    out = Path(out)
    results.check_output_dir(out)
    if (out / results.MANIFEST).is_file():
        kind = json.loads((out / results.MANIFEST).read_text()).get("kind")
        if kind != "sweep":
            raise InitlabError(f"--out: {out} holds an initlab {kind} result, not a sweep; give a new "
                                       "folder or a sweep's folder")
    try:
        (out / POINTS).mkdir(parents=True, exist_ok=True)
        write_file(out / SWEEP_JSON, results.json_text(spec_doc))
        if not (out / results.MANIFEST).is_file():
            write_file(out / results.MANIFEST, results.json_text({"schema_version": results.SCHEMA_VERSION,
                                                                  "kind": "sweep", "files": {}}))
    except OSError as e:
        raise results._write_error(out, e) from None
