"""Writing a training study (``initlab reproduce <study>`` for a
:class:`~initlab.studies.trained.TrainStudy`), all or nothing through
:func:`initlab.io.results.staged_dir`:

``results/<study>/``
    one CSV per table of the study's :class:`~initlab.studies.trained.Trained` record (rows per
    case, seed and setting: what the claims read), ``claims.json`` (the same document as the
    step-0 studies', so ``REPORT.md`` and ``check_results`` treat both alike), ``summary.md``
    (the study's section), its figures, ``manifest.json``; and, when the study keeps full runs,
    ``runs.csv`` (label, folder) and ``runs/<slug>/`` with the files of ``initlab train``
    (:func:`initlab.io.train_save.write_files`).
"""

from __future__ import annotations

import time
from pathlib import Path

from initlab.io import results
from initlab.io.compare_save import CLAIMS, document, section_markdown


def study_document(study, trained, claims: list[dict]) -> dict:
    """``claims.json`` of a training study (:func:`initlab.io.compare_save.document`), with the
    seeds' list, the protocol's constants and the tables written."""
    cases = [{"key": c.key, "label": c.label, "config": c.config, "overrides": {k: v for k, v in c.sets}}
             for c in study.cases]
    doc = document(study, study.seeds, cases, [], claims)
    doc.update({"seed_list": list(study.seed_list), "protocol": dict(sorted(trained.params.items())),
                "tables": sorted(trained.tables)})
    return doc


def draw(fig, folder: Path) -> None:
    """``initlab.plots.study_figures.<fig.kind>(folder, path, **options)`` (matplotlib on use)."""
    from initlab.plots import study_figures

    getattr(study_figures, fig.kind)(folder, folder / fig.file, **dict(fig.options))


def save_train_study(study, trained, claims: list[dict], out: str | Path, *, figures: bool = True,
                     elapsed: float | None = None, command: str | None = None) -> dict:
    """Write ``results/<study>/`` atomically; returns the ``claims.json`` document."""
    from initlab.io.train_save import write_files

    t0 = time.perf_counter()
    doc = study_document(study, trained, claims)
    with results.staged_dir(out) as stage:
        for name in sorted(trained.tables):
            results.write_text(stage, f"{name}.csv", results.csv_text(trained.tables[name], trained.columns[name]))
        if trained.runs:
            (stage / "runs").mkdir()
            for slug, _, res in trained.runs:
                write_files(res, stage / "runs" / slug)
            index = [{"initializer": label, "folder": f"runs/{slug}"} for slug, label, _ in trained.runs]
            results.write_text(stage, "runs.csv", results.csv_text(index, ("initializer", "folder")))
        results.write_text(stage, CLAIMS, results.json_text(doc))
        results.write_text(stage, "summary.md", section_markdown(doc, prefix="", level=1))
        if figures:
            for fig in study.figures:
                draw(fig, stage)
        extra = {"kind": "study", "name": study.name, "command": command, "seeds": list(study.seed_list),
                 "elapsed_seconds": {"run": round(elapsed, 4) if elapsed is not None else None,
                                     "write": round(time.perf_counter() - t0, 4)},
                 "versions": results.versions()}
        results.write_text(stage, results.MANIFEST, results.json_text(results.manifest(stage, extra)))
    return doc
