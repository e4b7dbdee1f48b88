"""Result files: one source of rows for CSV, JSON and Markdown; versioned, deterministic,
written atomically.

Determinism: floats are written with ``repr`` (shortest round-trip form), JSON keys sorted,
files end with a newline. Non-finite numbers are written as ``inf``/``nan`` in CSV and
Markdown and as ``null`` in JSON (the ``first_nonfinite`` entry says where they start).

Atomicity: a run's files are staged in a hidden sibling folder and swapped in with one atomic
``renameat2(RENAME_EXCHANGE)`` (Linux), so an interrupted run leaves the previous results or
nothing, never a mix. Where that call is missing, two renames are used (a crash between them
leaves the old folder under a hidden name, cleaned by the next run).
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import hashlib
import io
import json
import math
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import InitlabError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


# --- values --------------------------------------------------------------------------------

def _csv_value(v) -> str:
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


def _md_value(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if v == 0.0 or not math.isfinite(v):
            return f"{v:g}"
        return f"{v:.4e}" if abs(v) < 1e-3 or abs(v) >= 1e5 else f"{v:.6g}"
    return str(v)


def csv_text(rows: list[dict], columns: Iterable[str]) -> str:
    columns = list(columns)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_csv_value(r.get(c)) for c in columns])
    return buf.getvalue()


def json_text(obj) -> str:
    return json.dumps(_json_value(obj), sort_keys=True, indent=2, allow_nan=False) + "\n"


def markdown_table(rows: list[dict], columns: Iterable[str]) -> str:
    columns = list(columns)
    out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---:" for _ in columns) + "|"]
    for r in rows:
        out.append("| " + " | ".join(_md_value(r.get(c)) for c in columns) + " |")
    return "\n".join(out) + "\n"


def read_stats(path: str | Path) -> dict:
    """Load a ``stats.json`` and check its schema version."""
    data = json.loads(Path(path).read_text())
    v = data.get("schema_version")
    if v != SCHEMA_VERSION:
        raise InitlabError(f"{path}: schema_version {v!r}, this initlab reads {SCHEMA_VERSION}")
    return data


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- atomic output folders -------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2). False when unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def check_output_dir(out: Path) -> None:
    """Refuse an output path we must not replace: a file, or a folder that is not ours."""
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise InitlabError(f"--out: {out} exists and is not a folder")
        entries = [p.name for p in out.iterdir()]
        if entries and MANIFEST not in entries:
            raise InitlabError(f"--out: {out} is a non-empty folder without an initlab {MANIFEST}; "
                               "choose a new folder")
    parent = out.parent if str(out.parent) else Path(".")
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise InitlabError(f"--out: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InitlabError(f"--out: no permission to write in {probe}")


@contextlib.contextmanager
def staged_dir(out: str | Path) -> Iterator[Path]:
    """Yield a fresh staging folder; on success it replaces ``out`` atomically, on any error
    (or KeyboardInterrupt) it is removed and ``out`` is untouched."""
    out = Path(out)
    check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.*.initlab-tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    stage = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.initlab-tmp"
    stage.mkdir()
    try:
        yield stage
        if out.exists():
            if _exchange(stage, out):
                shutil.rmtree(stage)  # now holds the old results
            else:
                old = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.initlab-tmp"
                os.rename(out, old)
                os.rename(stage, out)
                shutil.rmtree(old)
        else:
            os.rename(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def write_text(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    p.write_text(text, encoding="utf-8")
    return p


def manifest(folder: Path, extra: dict) -> dict:
    """The manifest dict: ``extra`` plus a sha256 of every file already in ``folder``."""
    files = {p.name: sha256(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST}
    return {"schema_version": SCHEMA_VERSION, **extra, "files": files}


def versions() -> dict:
    import platform
    import sys

    import numpy

    from .. import __version__

    return {"initlab": __version__, "python": sys.version.split()[0], "numpy": numpy.__version__,
            "platform": platform.platform()}
