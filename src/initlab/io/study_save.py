"""Writing the folder of a study with its own runner (training, pretraining, pruning studies):
``claims.json`` in the schema of :func:`initlab.io.compare_save.study_document` (so the report
reads it like any other study), ``<table>.csv`` per outcome table, ``summary.md``, the figures
and ``manifest.json``, all or nothing."""

from __future__ import annotations

import time
from pathlib import Path

from initlab.io import results
from initlab.io.compare_save import CLAIMS, section_markdown


def study_document(study, outcome, seeds: list[int], claims: list[dict]) -> dict:
    n_pass = sum(1 for c in claims if c["pass"])
    return {
        "schema_version": results.SCHEMA_VERSION, "kind": "study", "study": study.name, "title": study.title,
        "source": study.source, "setup": study.setup, "notes": study.notes, "seeds": len(seeds),
        "cases": [{"key": c.key, "label": c.label, "config": c.config, "overrides": {k: v for k, v in c.sets},
                   "initializer": None} for c in study.cases],
        "figures": [{"file": file, "caption": caption} for file, caption, _ in outcome.figures],
        "verdicts": [], "claims": claims,
        "summary": {"claims": len(claims), "pass": n_pass, "fail": len(claims) - n_pass},
    }


def save_outcome_study(study, outcome, seeds: list[int], claims: list[dict], out: str | Path, *,
                       figures: bool = True, elapsed: float | None = None, command: str | None = None) -> dict:
    t0 = time.perf_counter()
    doc = study_document(study, outcome, seeds, claims)
    with results.staged_dir(out) as stage:
        for name, (rows, columns) in outcome.tables.items():
            results.write_text(stage, f"{name}.csv", results.csv_text(rows, columns))
        results.write_text(stage, CLAIMS, results.json_text(doc))
        results.write_text(stage, "summary.md", section_markdown(doc, prefix="", level=1))
        if figures:
            for file, _, draw in outcome.figures:
                draw(stage / file)
        extra = {"kind": "study", "name": study.name, "command": command, "seeds": len(seeds),
                 "elapsed_seconds": {"run": round(elapsed, 4) if elapsed is not None else None,
                                     "write": round(time.perf_counter() - t0, 4)},
                 "versions": results.versions()}
        results.write_text(stage, results.MANIFEST, results.json_text(results.manifest(stage, extra)))
    return doc
