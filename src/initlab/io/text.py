"""How result values are written as text: one source of rows for CSV, JSON and Markdown.

Determinism: floats are written with ``repr`` (shortest round-trip form), JSON keys sorted,
files end with a newline. Non-finite numbers are written as ``inf``/``nan`` in CSV and
Markdown and as ``null`` in JSON (the ``first_nonfinite`` entry says where they start).
``initlab.io.results`` re-exports these names (the atomic folders they are written into).
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Iterable

from initlab import fmt


# --- values --------------------------------------------------------------------------------

def csv_value(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _json_value(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    return v


def md_value(v) -> str:
    return fmt.number(v, 6, sci_digits=4) if isinstance(v, float) else ("" if v is None else str(v))


def csv_text(rows: list[dict], columns: Iterable[str]) -> str:
    columns = list(columns)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([csv_value(r.get(c)) for c in columns])
    return buf.getvalue()


def json_text(obj) -> str:
    return json.dumps(_json_value(obj), sort_keys=True, indent=2, allow_nan=False) + "\n"


def markdown_table(rows: list[dict], columns: Iterable[str]) -> str:
    """Rows of values as a right-aligned Markdown table (numbers by :func:`initlab.fmt.number`)."""
    columns = list(columns)
    return table_markdown(columns, [[md_value(r.get(c)) for c in columns] for r in rows])


def table_markdown(headers: list[str], rows: list[list[str]], left: int = 0) -> str:
    """A Markdown table of text cells; the first ``left`` columns are left-aligned, the rest
    right-aligned. The one table writer of summary.md and REPORT.md."""
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---" if i < left else "---:" for i in range(len(headers))) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"
