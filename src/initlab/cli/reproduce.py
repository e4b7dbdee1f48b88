"""``initlab reproduce``: re-run the published studies and check their claims."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from initlab.cli.app import app, console as make_console

EXIT_CLAIM_FAILED = 3


def load_config(config: str, sets=()):
    """A study's packaged config (:func:`initlab.studies.framework.packaged`), resolved and
    validated, read from the installed package whatever the current folder."""
    from importlib import resources

    from initlab.io import configfile
    from initlab.studies.framework import config_resource

    with resources.as_file(config_resource(config)) as path:
        return configfile.load(path, sets=list(sets))


def load_train_config(config: str, sets=()):
    """A study's packaged training config, resolved and validated."""
    from importlib import resources

    from initlab.config import training
    from initlab.io import configfile
    from initlab.studies.framework import config_resource

    with resources.as_file(config_resource(config)) as path:
        data, lines = configfile.read(path)
        return training.resolve(data, lines=lines, default_name=path.stem, sets=list(sets))[0]


def load_case(case):
    return (load_train_config if case.kind == "train" else load_config)(case.config, case.sets)


def load_study(study):
    """The study's entries (configs resolved and validated), in case order."""
    from initlab.runs import compare as C

    return [C.Entry(case.key, case.label, load_case(case)) for case in study.cases]


def example_entries(ex):
    from initlab.runs import compare as C

    act = C.parse_spec(ex.activation, "activation")
    specs = [C.parse_spec(s) for s in ex.inits]
    name = C.folder_name(act, specs)
    return name, C.entries({}, specs, act, list(ex.flags), name=name, backward=ex.backward or None)


def print_claims(name: str, doc: dict, console) -> None:
    from rich.table import Table

    from initlab.io.compare_save import fmt

    s = doc["summary"]
    t = Table(title=f"{name}: {s['pass']}/{s['claims']} claims pass", title_justify="left")
    for h, j in (("id", "left"), ("claim", "left"), ("reference", "right"), ("measured", "right"),
                 ("tolerance", "right"), ("", "left")):
        t.add_column(h, justify=j, overflow="fold")
    for c in doc["claims"]:
        t.add_row(c["id"], c["statement"], fmt(c["reference"]), fmt(c["measured"]), c["tolerance"],
                  "[green]pass[/]" if c["pass"] else "[bold red]FAIL[/]")
    console.print(t)


@app.command()
def reproduce(
    study: Annotated[Optional[str], typer.Argument(help="A study name (see --list) or 'all'.",
                                                   show_default=False)] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the studies and exit.")] = False,
    results_dir: Annotated[Path, typer.Option("--results", help="Where to write (default results/).")] = Path("results"),
    strict: Annotated[bool, typer.Option("--strict", help=f"Exit {EXIT_CLAIM_FAILED} when a claim fails "
                                                          "(for CI).")] = False,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Draw the PNG figures.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary lines and failures.")] = False,
) -> None:
    """Re-run published initialization studies and check their claims.

    Writes results/<study>/ (tables, claims.json, figures); rebuilds results/REPORT.md.

    'all' also regenerates the README's compare examples and the default initlab run experiment.

    Failed claims are printed; the exit code stays 0 unless --strict.
    """
    from initlab import studies
    from initlab.errors import ConfigError
    from initlab.io import compare_save, results, save
    from initlab.runs import compare as C
    from initlab.runs.experiment import run as run_experiment
    from initlab.studies.framework import Measured, evaluate, mean_field

    console = make_console()
    if list_:
        for s in studies.STUDIES.values():
            console.print(f"{s.name:<11} {s.title} ({len(s.claims)} claims, {len(s.cases)} cases, "
                          f"{s.seeds} seeds)", markup=False)
        return
    if study is None:
        raise ConfigError("study", f"name a study or 'all'; valid: {', '.join(list(studies.STUDIES) + ['all'])}")
    chosen = list(studies.STUDIES.values()) if study == "all" else [studies.get(study)]
    # Validate everything (configs, output folders) before running anything.
    plans = [(s, load_study(s)) for s in chosen]
    examples = [example_entries(ex) for ex in studies.EXAMPLES] if study == "all" else []
    runs = [(r.example, load_config(r.config)) for r in studies.RUNS] if study == "all" else []
    for s, _ in plans:
        results.check_output_dir(results_dir / s.name)
    for name, _ in examples:
        results.check_output_dir(results_dir / name)
    for _, cfg in runs:
        results.check_output_dir(results_dir / cfg.name)

    t_all = time.perf_counter()
    failed: list[tuple[str, dict]] = []
    for s, entries in plans:
        t0 = time.perf_counter()
        if s.runner is not None:  # a training / pruning study: its own runner, claims on its outcome
            from initlab.io import study_save

            seeds = list(range(s.seeds))
            outcome = s.runner({e.key: e.config for e in entries}, seeds)
            claims = evaluate(s, outcome)
            doc = study_save.save_outcome_study(s, outcome, seeds, claims, results_dir / s.name, figures=figures,
                                                elapsed=time.perf_counter() - t0,
                                                command=f"initlab reproduce {study}")
        else:
            comp = C.run(entries, s.seeds)
            measured = Measured({x.entry.key: x for x in comp.series}, {e.key: e.config for e in entries})
            claims = evaluate(s, measured)
            doc = compare_save.save_study(s, comp, claims, results_dir / s.name, figures=figures,
                                          mean_field=mean_field, elapsed=time.perf_counter() - t0,
                                          command=f"initlab reproduce {study}")
        failed += [(s.name, c) for c in claims if not c["pass"]]
        if not quiet:
            print_claims(s.name, doc, console)
        summ = doc["summary"]
        console.print(f"{s.name}: {summ['pass']}/{summ['claims']} claims pass -> {results_dir / s.name}/ "
                      f"({time.perf_counter() - t0:.1f} s)", markup=False)
    for (name, entries), ex in zip(examples, studies.EXAMPLES):
        t0 = time.perf_counter()
        comp = C.run(entries, 1)
        compare_save.save_comparison(comp, results_dir / name, figures=figures, command=ex.command(),
                                     elapsed=time.perf_counter() - t0)
        console.print(f"{ex.command()} -> {results_dir / name}/ ({time.perf_counter() - t0:.1f} s)", markup=False)
    for rel, cfg in runs:
        t0 = time.perf_counter()
        result = run_experiment(cfg)
        save.save_run(result, results_dir / cfg.name, figures=figures, elapsed=time.perf_counter() - t0,
                      command=f"initlab run {rel}")
        console.print(f"initlab run {rel} -> {results_dir / cfg.name}/ ({time.perf_counter() - t0:.1f} s)",
                      markup=False)
    others = [(ex.command(), example_entries(ex)[0], "std_by_layer.png") for ex in studies.EXAMPLES]
    others += [(f"initlab run {r.example}", load_config(r.config).name, "histograms.png") for r in studies.RUNS]
    report = compare_save.write_report(results_dir, list(studies.STUDIES), others)
    for name, c in failed:
        console.print(f"FAIL {c['id']} ({name}): {c['statement']}: measured {compare_save.fmt(c['measured'])}, "
                      f"reference {compare_save.fmt(c['reference'])}, tolerance {c['tolerance']}",
                      style="bold red", markup=False)
    total = sum(len(s.claims) for s, _ in plans)
    console.print(f"{total - len(failed)}/{total} claims pass; report {report} "
                  f"({time.perf_counter() - t_all:.1f} s)", markup=False)
    if failed and strict:
        raise typer.Exit(EXIT_CLAIM_FAILED)
