"""Writing comparisons and studies: long-form tables, documents, figures, claims and the report.

Folder layouts (all written atomically through :func:`initlab.io.results.staged_dir`):

``initlab compare`` -> ``results/compare-<act>-<inits>/``
    ``stats.csv`` long form: ``initializer`` (the initializer's label), then ``seed`` when
    ``--seeds`` > 1, then every run column (one row per initializer, seed and layer);
    ``bands.csv`` (``--seeds`` > 1): one row per initializer and layer with ``n_seeds`` and
    ``<q>_gmean``, ``<q>_lo``, ``<q>_hi`` for q in act_std, preact_std, grad_act_std (the
    geometric mean and 95% Student-t interval of the mean log, see :mod:`initlab.runs.compare`);
    ``summary.md``, ``compare.json`` (the figure data and verdicts), ``std_by_layer.png``,
    ``histograms.png`` (+ ``grad_histograms.png`` with backward), ``manifest.json``.

``initlab reproduce <study>`` -> ``results/<study>/``
    ``stats.csv`` (long form with ``case``, ``initializer``, ``seed``), ``bands.csv`` (with
    ``case``), ``claims.json``, ``summary.md``, the study's figures, ``manifest.json``; and
    ``results/REPORT.md``, rebuilt from every study's ``claims.json`` (so it is a pure function
    of those files: deterministic, and complete after ``reproduce all``).
"""

from __future__ import annotations

import math
import os
import time
import uuid
from pathlib import Path
from typing import Callable, Sequence

from initlab.runs import compare as C
from initlab.config import to_dict
from initlab.fmt import number
from initlab.io import results
from initlab.io.configfile import dump
from initlab.io.quiet import quiet_numerics
from initlab.io.results import table_markdown

REPORT = "REPORT.md"
CLAIMS = "claims.json"


# --- figure data -----------------------------------------------------------------------------------

def _band_curve(bands: list[C.Band]) -> dict:
    return {"layers": [b.layer for b in bands], "gmean": [b.gmean for b in bands],
            "lo": [b.lo for b in bands], "hi": [b.hi for b in bands]}


def _raw_curve(series: C.Series, column: str) -> dict:
    vals = [row.get(column) for row in series.runs[0].rows]
    return {"layers": list(range(len(vals))), "gmean": vals, "lo": [None] * len(vals), "hi": [None] * len(vals)}


def _hist(h) -> dict | None:
    from initlab.io.save import histogram_data

    return histogram_data(h)


def series_document(s: C.Series, curves: Sequence[str] = ("act_std", "grad_act_std"),
                    extra: dict[str, dict] | None = None) -> dict:
    """One entry's figure data: curves (bands over seeds, or the values with one seed),
    the first seed's histograms, and where activations first overflowed."""
    out_curves = {}
    for c in curves:
        if all(row.get(c) is None for r in s.runs for row in r.rows):
            continue
        out_curves[c] = _raw_curve(s, c) if len(s.runs) == 1 else _band_curve(C.bands(s, c))
        theory = [row.get(f"predicted_{c}") for row in s.runs[0].rows]  # the same for every seed
        if any(v is not None for v in theory):
            out_curves[c]["theory"] = theory
    out_curves.update(extra or {})
    nf = [r.first_nonfinite["forward"] for r in s.runs if r.first_nonfinite["forward"] is not None]
    first = s.runs[0]
    return {
        "key": s.entry.key, "label": s.entry.label, "depth": s.depth, "seeds": s.seeds,
        "nonfinite": min(nf) if nf else None, "curves": out_curves,
        "act_hist": _hist(first.act_hist), "grad_hist": _hist(first.grad_hist),
    }


def comparison_document(comp: C.Comparison, title: str) -> dict:
    """``compare.json``: everything the figures and the summary need."""
    s0 = comp.series[0]
    return {
        "schema_version": results.SCHEMA_VERSION,
        "kind": "compare",
        "title": title,
        "activation": s0.runs[0].activation.label(),
        "seeds": comp.seeds,
        "hist_seed": s0.seeds[0],
        "configs": {s.entry.label: to_dict(s.entry.config) for s in comp.series},
        "verdicts": [v.text for v in comp.verdicts],
        "series": [series_document(s) for s in comp.series],
    }


def title_of(comp: C.Comparison) -> str:
    cfg = comp.series[0].entry.config
    act = comp.series[0].runs[0].activation.label()
    width = cfg.network.width if isinstance(cfg.network.width, int) else "x".join(map(str, cfg.network.width))
    seeds = f", seeds {cfg.seed}-{cfg.seed + comp.seeds - 1}" if comp.seeds > 1 else f", seed {cfg.seed}"
    return (f"{act}: {cfg.network.depth} layers x {width}, batch {cfg.input.batch} x {cfg.input.dim}, "
            f"{cfg.dtype}{seeds}")


# --- markdown -----------------------------------------------------------------------------------------

def fmt(v, digits: int = 4) -> str:
    """A deterministic short number for tables (:func:`initlab.fmt.number`)."""
    return number(v, digits)


def cell_text(c: C.Cell, compact: bool = False) -> str:
    """A table cell: ``g [lo, hi]``, or with ``compact`` ``g ±p%`` (p = hi / g - 1, the
    half-width of the interval on the log scale)."""
    if c.value is None:
        return ""
    if c.pct:
        return f"{100 * c.value:.1f}"
    s = fmt(c.value)
    if c.lo is not None and compact:
        s += f" ±{100 * (c.hi / c.value - 1):.2g}%"
    elif c.lo is not None:
        s += f" [{fmt(c.lo, 3)}, {fmt(c.hi, 3)}]"
    return s


def comparison_markdown(comp: C.Comparison, title: str, command: str | None = None) -> str:
    headers, rows = C.side_by_side(comp)
    text = [f"# Comparison: {title}\n"]
    if command:
        text.append(f"`{command}`\n")
    text.append("Every initializer sees the same input and seeds. Verdicts (thresholds in docs/reproduce.md):\n")
    text += [f"- {v.text}" for v in comp.verdicts]
    text.append("")
    if comp.seeds > 1:
        text.append("Finite-width fluctuations (docs/theory.md, Hanin & Rolnick 2018):\n")
        text += [f"- {C.fluctuation_text(C.fluctuations(s))}" for s in comp.series]
        text.append("")
        text.append("stds: geometric mean over the seeds [95% Student-t interval of the mean log]; "
                    "fractions in %: mean over the seeds.\n")
    text.append(table_markdown(headers, [[cell_text(c) for c in r] for r in rows]))
    return "\n".join(text)


# --- compare -----------------------------------------------------------------------------------------

def save_comparison(comp: C.Comparison, out: str | Path, *, figures: bool = True, command: str | None = None,
                    elapsed: float | None = None) -> Path:
    """Write a comparison's folder atomically; returns it."""
    t0 = time.perf_counter()
    title = title_of(comp)
    doc = comparison_document(comp, title)
    bands = C.band_rows(comp) if comp.seeds > 1 else None
    with results.staged_dir(out) as stage:
        results.write_text(stage, "stats.csv", results.csv_text(comp.long_rows(), comp.columns()))
        if bands is not None:
            results.write_text(stage, "bands.csv", results.csv_text(*bands))
            results.write_text(stage, "fluctuations.csv", results.csv_text(
                [C.fluctuations(s) for s in comp.series], C.FLUCTUATION_COLUMNS))
        results.write_text(stage, "summary.md", comparison_markdown(comp, title, command))
        results.write_text(stage, "compare.json", results.json_text(doc))
        for s_ in comp.series:  # each initializer's resolved config: `initlab run` redoes one
            results.write_text(stage, f"config-{s_.entry.key}.yaml", dump(s_.runs[0].config))
        if figures:
            from initlab.plots import compare_figures as F

            with quiet_numerics():
                F.std_by_layer(doc, stage / "std_by_layer.png", ("act_std", "grad_act_std"))
                F.histogram_grid(doc, stage / "histograms.png", "act")
                if comp.backward:
                    F.histogram_grid(doc, stage / "grad_histograms.png", "grad")
        extra = {
            "kind": "compare", "name": Path(out).name, "command": command,
            "seeds": [s.seeds for s in comp.series][0],
            "elapsed_seconds": {"run": round(elapsed, 4) if elapsed is not None else None,
                                "write": round(time.perf_counter() - t0, 4)},
            "versions": results.versions(),
        }
        results.write_manifest(stage, extra)
    return Path(out)


# --- studies -----------------------------------------------------------------------------------------

def study_figure_document(study, comp: C.Comparison, fig, mean_field: Callable | None = None) -> dict:
    """The figure data of one of ``study``'s figures (its cases only)."""
    by_key = {s.entry.key: s for s in comp.series}
    series = []
    for key in fig.cases:
        s = by_key[key]
        if fig.kind == "ratio":
            depth = s.depth
            extra = {"preact_ratio": _band_curve(C.ratio_bands(s, "preact_std", 1)),
                     "grad_ratio": _band_curve(C.ratio_bands(s, "grad_act_std", depth))}
            if fig.theory and mean_field is not None:
                mf = mean_field(s.entry.config)
                q1 = mf[1]["q"]
                extra["preact_ratio"]["theory"] = [None] + [math.sqrt(r["q"] / q1) for r in mf[1:]]
                top = mf[depth]["grad_std"]
                extra["grad_ratio"]["theory"] = [r["grad_std"] / top for r in mf]
            doc = series_document(s, curves=(), extra=extra)
        else:
            doc = series_document(s, curves=fig.panels or ("act_std",))
        doc["label"] = s.entry.label
        series.append(doc)
    return {"title": f"{study.name} \u2014 {study.title.split(':')[0]}", "seeds": comp.seeds, "hist_seed": comp.series[0].seeds[0],
            "series": series}


def draw_study_figure(doc: dict, fig, path: Path) -> None:
    from initlab.plots import compare_figures as F

    if fig.kind == "std":
        F.std_by_layer(doc, path, fig.panels or ("act_std",))
    elif fig.kind == "ratio":
        F.std_by_layer(doc, path, ("preact_ratio", "grad_ratio"))
    elif fig.kind in ("act_hist", "grad_hist"):
        F.histogram_grid(doc, path, fig.kind.split("_")[0])
    else:
        raise ValueError(f"unknown figure kind {fig.kind!r}")


def document(study, seeds: int, cases: list[dict], verdicts: list[dict], claims: list[dict]) -> dict:
    """``claims.json`` of any study: its description, cases, figures, verdicts and claims."""
    n_pass = sum(1 for c in claims if c["pass"])
    return {
        "schema_version": results.SCHEMA_VERSION,
        "kind": "study",
        "study": study.name,
        "title": study.title,
        "source": study.source,
        "setup": study.setup,
        "notes": study.notes,
        "seeds": seeds,
        "cases": cases,
        "figures": [{"file": f.file, "caption": f.caption} for f in study.figures],
        "verdicts": verdicts,
        "claims": claims,
        "summary": {"claims": len(claims), "pass": n_pass, "fail": len(claims) - n_pass},
    }


def study_document(study, comp: C.Comparison, claims: list[dict]) -> dict:
    """``claims.json``: the study's description, claims and verdicts (the report's source)."""
    cases = [{"key": s.entry.key, "label": s.entry.label, "config": c.config,
              "overrides": {k: v for k, v in c.sets}, "initializer": s.runs[0].initializer}
             for s, c in zip(comp.series, study.cases)]
    verdicts = [{"case": s.entry.key, "verdict": v.kind, "text": v.text} for s, v in zip(comp.series, comp.verdicts)]
    return document(study, comp.seeds, cases, verdicts, claims)


def save_study(study, comp: C.Comparison, claims: list[dict], out: str | Path, *, figures: bool = True,
               mean_field: Callable | None = None, elapsed: float | None = None,
               command: str | None = None) -> dict:
    """Write ``results/<study>/`` atomically; returns the ``claims.json`` document."""
    t0 = time.perf_counter()
    doc = study_document(study, comp, claims)
    band_rows, band_cols = C.band_rows(comp, case=True)
    with results.staged_dir(out) as stage:
        results.write_text(stage, "stats.csv", results.csv_text(comp.long_rows(case=True, seed=True),
                                                                comp.columns(case=True, seed=True)))
        results.write_text(stage, "bands.csv", results.csv_text(band_rows, band_cols))
        results.write_text(stage, CLAIMS, results.json_text(doc))
        results.write_text(stage, "summary.md", section_markdown(doc, prefix="", level=1))
        if figures:
            for fig in study.figures:
                draw_study_figure(study_figure_document(study, comp, fig, mean_field), fig, stage / fig.file)
        extra = {"kind": "study", "name": study.name, "command": command, "seeds": comp.series[0].seeds,
                 "elapsed_seconds": {"run": round(elapsed, 4) if elapsed is not None else None,
                                     "write": round(time.perf_counter() - t0, 4)},
                 "versions": results.versions()}
        results.write_manifest(stage, extra)
    return doc


# --- the report -------------------------------------------------------------------------------------

CLAIM_HEADERS = ["id", "claim (the source's statement)", "measured quantity", "reference", "reference from",
                 "measured", "seed sd", "tolerance", "result"]


def _spread_text(c: dict) -> str:
    if c.get("spread") is None:
        return ""
    return f"{100 * c['spread']:.2g}%" if c["aggregate"] == "gmean" else fmt(c["spread"], 2)


def section_markdown(doc: dict, prefix: str, level: int = 2) -> str:
    """A study's section, from its ``claims.json`` document alone; figure links get ``prefix``."""
    h = "#" * level
    s = doc["summary"]
    out = [f"{h} {doc['study']}: {doc['title']}\n", f"**Source.** {doc['source']}\n",
           f"**Setup.** {doc['setup']}\n",
           f"**Claims: {s['pass']} of {s['claims']} pass**"
           + (f", **{s['fail']} FAIL**" if s["fail"] else "") + f" (measured: over {doc['seeds']} seeds, "
           "geometric mean for ratios and stds, mean for fractions; seed sd: sd over the seeds, of ln for "
           "geometric means).\n"]
    rows = []
    for c in doc["claims"]:
        rows.append([c["id"], c["statement"], c["quantity"], fmt(c["reference"]),
                     c["reference_source"], fmt(c["measured"]), _spread_text(c), c["tolerance"],
                     "pass" if c["pass"] else "**FAIL**"])
    out.append(table_markdown(CLAIM_HEADERS, rows, left=3))
    out.append(f"{h}# Derivations\n")
    out.append(doc["notes"])
    out.append(f"{h}# Tolerances\n")
    out += [f"- {c['id']} ({c['tolerance']}): {c['why_tolerance']}" for c in doc["claims"]]
    out.append("")
    if doc["verdicts"]:  # training studies have none: their claims are the verdicts
        out.append(f"{h}# Verdicts (seed-mean curves)\n")
        out += [f"- {v['text']}" for v in doc["verdicts"]]
        out.append("")
    out.append(f"{h}# Figures\n")
    for f in doc["figures"]:
        out.append(f"![{f['caption']}]({prefix}{f['file']})\n\n*{f['file']}: {f['caption']}*\n")
    return "\n".join(out)


def report_markdown(docs: list[tuple[str, dict | None]], examples: list[tuple[str, str, str, bool]]) -> str:
    """``REPORT.md`` from the studies' documents (in order; None: not run yet) and the other
    regenerated folders ``(command, folder, figure, exists)`` (compare examples, runs)."""
    total = sum(d["summary"]["claims"] for _, d in docs if d)
    passed = sum(d["summary"]["pass"] for _, d in docs if d)
    out = ["# initlab: reproduced studies\n",
           "Regenerated by `initlab reproduce all`; every number below comes from the studies' "
           "`claims.json` (no dates, no timings: the file is deterministic). Check a committed tree against "
           "a fresh one with `python -m initlab.io.check_results results/ <new>/`. What each study checks, the "
           "verdict thresholds and the interval definition: `docs/reproduce.md`.\n",
           f"**{passed} of {total} claims pass.**\n"]
    rows = []
    for name, d in docs:
        if d is None:
            rows.append([name, "not run: `initlab reproduce " + name + "`", "", "", ""])
        else:
            s = d["summary"]
            rows.append([f"[{name}]({name}/summary.md)", d["title"], str(s["claims"]), str(s["pass"]),
                         str(s["fail"]) if not s["fail"] else f"**{s['fail']}**"])
    out.append(table_markdown(["study", "title", "claims", "pass", "fail"], rows, left=2))
    if examples:
        out.append("## Comparisons and runs\n")
        for command, folder, figure, exists in examples:
            if exists:
                out.append(f"- `{command}`: [{folder}/]({folder}/summary.md)\n\n  ![{command}]({folder}/{figure})\n")
            else:
                out.append(f"- `{command}`: not generated yet (`initlab reproduce all`)\n")
    for name, d in docs:
        if d is not None:
            out.append(section_markdown(d, prefix=f"{name}/", level=2))
    return "\n".join(out).rstrip("\n") + "\n"


def read_claims(path: Path) -> dict | None:
    """A study's ``claims.json``, or None when absent; a wrong schema is an error."""
    if not path.is_file():
        return None
    return results.read_stats(path)


def write_report(results_dir: str | Path, study_names: Sequence[str],
                 examples: Sequence[tuple[str, str, str]] = ()) -> Path:
    """Rebuild ``REPORT.md`` from every study's ``claims.json`` under ``results_dir``
    (atomically: a temporary file renamed over the old one). ``examples`` are the other
    regenerated folders, ``(command, folder, figure)``."""
    root = Path(results_dir)
    docs = [(n, read_claims(root / n / CLAIMS)) for n in study_names]
    ex = [(cmd, folder, fig, (root / folder / "summary.md").is_file()) for cmd, folder, fig in examples]
    text = report_markdown(docs, ex)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{REPORT}.{uuid.uuid4().hex[:8]}.initlab-tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, root / REPORT)
    finally:
        if tmp.exists():
            tmp.unlink()
    return root / REPORT
