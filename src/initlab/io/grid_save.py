"""Writing a grid study's folder (``initlab reproduce schoenholz2017``): the table of trained
points, ``claims.json`` (the report's source, as every study's), ``summary.md`` and the heatmap,
all or nothing.

``grid.csv``: one row per point and seed: the two grid columns (dotted keys), ``seed``, the final
``train_acc``, ``test_acc``, ``train_loss``, ``test_loss``, ``diverged``, and the study's
``curve`` value at the point's x (``six_xi_c`` for schoenholz2017).
"""

from __future__ import annotations

import time
from importlib import import_module
from pathlib import Path

from initlab.io import results
from initlab.io.compare_save import CLAIMS, section_markdown
from initlab.studies.grids import METRICS


def _curve(study):
    """The study module's ``curve`` (x value -> the theory's y, e.g. 6 xi_c) and its column name."""
    mod = import_module(f"initlab.studies.{study.name}")
    return getattr(mod, "CURVE", (None, None))


def table(study, grid, measured) -> tuple[list[str], list[dict]]:
    name, fn = _curve(study)
    xk, yk = grid.x[0], grid.y[0]
    cols = [xk, yk, "seed", *METRICS] + ([name] if name else [])
    rows = []
    for r in measured.rows:
        row = {c: r.get(c) for c in (xk, yk, "seed", *METRICS)}
        if name:
            row[name] = fn(r[xk])
        rows.append(row)
    return cols, rows


def verdicts(study, grid, measured, trained: float) -> list[dict]:
    """Per x value: the deepest y where every seed trains, beside the theory's curve."""
    name, fn = _curve(study)
    xk, yk = grid.x[0], grid.y[0]
    out = []
    for xv in grid.x[1]:
        ok = [yv for yv in grid.y[1]
              if all(r["train_acc"] is not None and r["train_acc"] >= trained
                     for r in measured.rows if r[xk] == xv and r[yk] == yv)]
        deepest = max(ok) if ok else None
        theory = f"; {name} = {fn(xv):.1f}" if name else ""
        text = (f"{xk} = {xv:g}: every seed trains up to {yk} {deepest}" if deepest is not None
                else f"{xk} = {xv:g}: no {yk} trains on every seed") + theory
        out.append({"case": f"{xv:g}", "verdict": "trains" if ok else "fails", "text": text})
    return out


def document(study, grid, measured, claims: list[dict], trained: float) -> dict:
    n_pass = sum(1 for c in claims if c["pass"])
    return {
        "schema_version": results.SCHEMA_VERSION, "kind": "study", "study": study.name, "title": study.title,
        "source": study.source, "setup": study.setup, "notes": study.notes, "seeds": grid.seeds,
        "grid": {"config": grid.config, "x": [grid.x[0], list(grid.x[1])], "y": [grid.y[0], list(grid.y[1])],
                 "overrides": {k: v for k, v in grid.sets}},
        "figures": [{"file": f.file, "caption": f.caption} for f in study.figures],
        "verdicts": verdicts(study, grid, measured, trained),
        "claims": claims,
        "summary": {"claims": len(claims), "pass": n_pass, "fail": len(claims) - n_pass},
    }


def draw(study, grid, measured, path: Path) -> None:
    from initlab.plots import sweep_figures

    name, fn = _curve(study)
    xk, yk = grid.x[0], grid.y[0]
    curves = []
    if name:
        import numpy as np

        xs = np.linspace(min(grid.x[1]), max(grid.x[1]), 400)
        ys = np.array([fn(float(x)) for x in xs])
        ys = np.where(np.isfinite(ys), ys, np.nan)
        # the heatmap's y axis is by index over the depths: interpolate in log depth
        lo, hi = min(grid.y[1]), max(grid.y[1])
        keep = (ys >= lo / 2) & (ys <= hi * 2)
        curves.append((xs[keep], ys[keep], name.replace("six_xi_c", "6 xi_c (mean field)")))
    rows = [{xk: r[xk], yk: r[yk], "train_acc": r["train_acc"]} for r in measured.rows]
    sweep_figures.heatmap(rows, xk, yk, "train_acc", path, f"{study.name}: train accuracy", curves=curves,
                          vmin=0.0, vmax=1.0, logy=True)


def save(study, grid, measured, claims: list[dict], out: str | Path, *, trained: float, figures: bool = True,
         elapsed: float | None = None, command: str | None = None) -> dict:
    """Write ``results/<study>/`` atomically; returns the ``claims.json`` document."""
    t0 = time.perf_counter()
    doc = document(study, grid, measured, claims, trained)
    cols, rows = table(study, grid, measured)
    with results.staged_dir(out) as stage:
        results.write_text(stage, "grid.csv", results.csv_text(rows, cols))
        results.write_text(stage, CLAIMS, results.json_text(doc))
        results.write_text(stage, "summary.md", section_markdown(doc, prefix="", level=1))
        if figures:
            for fig in study.figures:
                draw(study, grid, measured, stage / fig.file)
        extra = {"kind": "study", "name": study.name, "command": command, "seeds": list(range(grid.seeds)),
                 "elapsed_seconds": {"run": round(elapsed, 4) if elapsed is not None else None,
                                     "write": round(time.perf_counter() - t0, 4)},
                 "versions": results.versions()}
        results.write_text(stage, results.MANIFEST, results.json_text(results.manifest(stage, extra)))
    return doc

