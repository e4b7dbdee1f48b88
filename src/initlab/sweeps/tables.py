"""The sweep's tables: one long ``sweep.csv`` (and ``sweep.parquet`` where pyarrow is
installed) and the ``points.csv`` index, assembled from the point folders.

``sweep.csv``: ``point`` (the folder), the grid columns (dotted keys, in axis order), ``seed``,
then each point's own rows as its folder has them: a step-0 run's per-layer rows (``layer``,
``width``, the statistics and the mean-field predictions, as ``initlab run``'s ``stats.csv``), a
training run's final metrics (``step``, losses, accuracies, ``steps_to_threshold``,
``diverged``, ``diverged_at``). Failed points have no rows. Grid values are written in the
``--grid`` syntax (``normal:std=0.01``, ``[500, 400]``, floats in their shortest round-trip
form), so a column reads back as the values it was swept over.

``points.csv``: ``index``, ``point``, the grid columns, ``seed``, ``status`` (``done`` or
``failed``), ``error`` (the one-line reason), ``seconds`` (the run's own time, from its
manifest: also for a cached point).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from initlab.io import results

_INT = re.compile(r"[-+]?[0-9]+\Z")


def cell(v: Any) -> str:
    """A grid value as text, in the ``--grid`` syntax."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, dict):
        name = v.get("name", "")
        params = [f"{k}={cell(x)}" for k, x in sorted(v.items()) if k != "name"]
        return name + (":" + ",".join(params) if params else "")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(cell(x) for x in v) + "]"
    if v is None:
        return ""
    return str(v)


def sweep_rows(out: Path, points: list, status: dict[int, tuple]) -> tuple[list[str], list[dict]]:
    """The long table's columns and rows (finished points only, in grid order)."""
    from initlab.sweeps import store

    keys = list(dict.fromkeys(k for p in points[:1] for k, _ in p.values))
    cols: list[str] = ["point", *keys, "seed"]
    rows: list[dict] = []
    for p in points:
        if not status.get(p.index, ("failed",))[0] == "done":
            continue
        pcols, prows, _ = store.read_point(out, p)
        for c in pcols:
            if c not in cols:
                cols.append(c)
        head = {"point": p.folder, **{k: cell(v) for k, v in p.values}, "seed": str(p.seed)}
        rows += [{**head, **r} for r in prows]
    return cols, rows


def points_rows(points: list, status: dict[int, tuple]) -> tuple[list[str], list[dict]]:
    keys = list(dict.fromkeys(k for p in points[:1] for k, _ in p.values))
    cols = ["index", "point", *keys, "seed", "status", "error", "seconds"]
    rows = []
    for p in points:
        st, err, secs = status.get(p.index, ("not run", None, None))
        rows.append({"index": p.index, "point": p.folder, **{k: cell(v) for k, v in p.values}, "seed": p.seed,
                     "status": st, "error": err, "seconds": None if secs is None else round(secs, 3)})
    return cols, rows


def text_table(cols: list[str], rows: list[dict]) -> str:
    """CSV of text cells (as read from the point folders, so nothing is re-formatted)."""
    return results.csv_text([{c: r.get(c, "") for c in cols} for r in rows], cols)


def typed(text: str) -> Any:
    """A CSV cell back as a value: integer, float, ``None`` (empty) or the text."""
    t = text.strip()
    if not t:
        return None
    if _INT.match(t):
        return int(t)
    try:
        return float(t)
    except ValueError:
        return {"True": True, "False": False}.get(t, text)


def parquet_bytes(cols: list[str], rows: list[dict]) -> bytes | None:
    """The long table as Parquet (typed columns: all-integer, all-number, else text), or
    ``None`` when pyarrow is not installed."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    import io

    arrays = {}
    for c in cols:
        vals = [typed(r.get(c, "") or "") for r in rows]
        kinds = {type(v) for v in vals if v is not None}
        if kinds <= {int}:
            arrays[c] = pa.array(vals, type=pa.int64())
        elif kinds <= {int, float}:
            arrays[c] = pa.array([None if v is None else float(v) for v in vals], type=pa.float64())
        elif kinds <= {bool}:
            arrays[c] = pa.array(vals, type=pa.bool_())
        else:
            arrays[c] = pa.array([r.get(c, "") for r in rows], type=pa.string())
    buf = io.BytesIO()
    pq.write_table(pa.table(arrays), buf, compression="zstd", write_statistics=False,
                   store_schema=False)
    return buf.getvalue()


def read_sweep(folder: Path) -> tuple[list[str], list[dict]]:
    """``sweep.csv`` of a sweep folder, cells typed (:func:`typed`); what ``sweep plot`` reads."""
    import csv

    path = Path(folder) / "sweep.csv"
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        head = next(r)
        rows = [{c: typed(x) for c, x in zip(head, row)} for row in r]
    return head, rows


def finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
