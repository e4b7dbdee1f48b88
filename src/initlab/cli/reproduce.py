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
    """A training study's packaged ``initlab train`` config, resolved and validated."""
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
    """The study's entries (configs resolved and validated), in case order; for a training
    study, ``{case key: TrainConfig}``."""
    from initlab.runs import compare as C

    if getattr(study, "kind", None) == "train":
        return {case.key: load_train_config(case.config, case.sets) for case in study.cases}
    return [C.Entry(case.key, case.label, load_case(case)) for case in study.cases]


def run_train_study(study, configs, results_dir: Path, figures: bool, command: str) -> dict:
    """Train, check the claims and write ``results_dir/<study>/``; returns ``claims.json``."""
    from initlab.io.train_study_save import save_train_study
    from initlab.studies.framework import evaluate
    from initlab.studies.trained import Plan

    t0 = time.perf_counter()
    trained = study.run(Plan(configs, study.seed_list))
    claims = evaluate(study, trained)
    return save_train_study(study, trained, claims, results_dir / study.name, figures=figures,
                            elapsed=time.perf_counter() - t0, command=command)


def grid_resolver(grid):
    """``resolve(sets, seed) -> TrainConfig`` over a grid study's packaged base config."""
    from importlib import resources

    from initlab.config import training
    from initlab.io import configfile
    from initlab.studies.framework import config_resource

    with resources.as_file(config_resource(grid.config)) as path:
        data, lines = configfile.read(path)
        stem = path.stem

    def resolve(sets, seed):
        return training.resolve(data, lines=lines, default_name=stem, sets=sets, seed=seed)[0]

    return resolve


def run_grid_study(s, grid, resolve, workers, results_dir, figures, command):
    """Train a grid study's points (on a local process pool unless ``workers`` is 1), check its
    claims and write its folder; returns the ``claims.json`` document."""
    from initlab.io import grid_save
    from initlab.studies import grids
    from initlab.studies.framework import evaluate
    from initlab.sweeps import executors

    t0 = time.perf_counter()
    with executors.make("local", workers) as ex:
        measured = grids.run(grid, resolve, executors.ordered_map(ex, chunk=1))
    claims = evaluate(s, measured)
    trained = getattr(__import__(f"initlab.studies.{s.name}", fromlist=["TRAINED"]), "TRAINED", 0.5)
    return grid_save.save(s, grid, measured, claims, results_dir / s.name, trained=trained, figures=figures,
                          elapsed=time.perf_counter() - t0, command=command)


def example_entries(ex):
    from initlab.runs import compare as C

    act = C.parse_spec(ex.activation, "activation")
    specs = [C.parse_spec(s) for s in ex.inits]
    name = C.folder_name(act, specs)
    return name, C.entries({}, specs, act, list(ex.flags), name=name, backward=ex.backward or None)


def print_claims(name: str, doc: dict, console) -> None:
    from rich.text import Text

    from initlab.cli.tables import Col, show
    from initlab.io.compare_save import fmt

    s = doc["summary"]
    rows = [(c["id"], c["statement"], fmt(c["reference"]), fmt(c["measured"]), c["tolerance"],
             Text("pass", style="green") if c["pass"] else Text("FAIL", style="bold red"))
            for c in doc["claims"]]
    show(console, [Col("id", justify="left"), Col("claim", justify="left", wrap=True, min_width=24),
                   Col("reference"), Col("measured"),
                   Col("tolerance", justify="left", wrap=True, min_width=10, drop=1), Col("", justify="left")],
         rows, title=f"{name}: {s['pass']}/{s['claims']} claims pass", files=f"{name}/claims.json")


def _reproduce(plans, examples, runs, results_dir, study, figures, quiet, console, report, failed, *,
               grids, workers, large) -> None:
    """Run the studies, the README's compare examples and the default run; write each folder."""
    from initlab import studies
    from initlab.io import compare_save, save
    from initlab.runs import compare as C
    from initlab.runs.experiment import run as run_experiment
    from initlab.studies.framework import Measured, evaluate, mean_field

    for s, entries in plans:
        t0 = time.perf_counter()
        if s.name in grids:
            grid, resolve = grids[s.name]
            doc = run_grid_study(s, grid, resolve, workers, results_dir, figures,
                                 f"initlab reproduce {s.name}" + (" --large" if large else ""))
            claims = doc["claims"]
        elif s.runner is not None:  # a training / pruning study: its own runner, claims on its outcome
            from initlab.io import study_save

            seeds = list(range(s.seeds))
            outcome = s.runner({e.key: e.config for e in entries}, seeds)
            claims = evaluate(s, outcome)
            doc = study_save.save_outcome_study(s, outcome, seeds, claims, results_dir / s.name, figures=figures,
                                                elapsed=time.perf_counter() - t0,
                                                command=f"initlab reproduce {s.name}")
        elif getattr(s, "kind", None) == "train":
            doc = run_train_study(s, entries, results_dir, figures, f"initlab reproduce {s.name}")
            claims = doc["claims"]
        else:
            comp = C.run(entries, s.seeds, report=report, task=f"{s.name}: networks")
            measured = Measured({x.entry.key: x for x in comp.series}, {e.key: e.config for e in entries})
            claims = evaluate(s, measured)
            elapsed = time.perf_counter() - t0
            doc = compare_save.save_study(s, comp, claims, results_dir / s.name, figures=figures,
                                          mean_field=mean_field, elapsed=elapsed,
                                          command=f"initlab reproduce {s.name}")  # the same run alone or by all
        failed += [(s.name, c) for c in claims if not c["pass"]]
        if not quiet:
            print_claims(s.name, doc, console)
        summ = doc["summary"]
        console.print(f"{s.name}: {summ['pass']}/{summ['claims']} claims pass -> {results_dir / s.name}/ "
                      f"({time.perf_counter() - t0:.1f} s)", markup=False)
    for (name, entries), ex in zip(examples, studies.EXAMPLES):
        t0 = time.perf_counter()
        comp = C.run(entries, 1, report=report, task=f"{name}: networks")
        compare_save.save_comparison(comp, results_dir / name, figures=figures, command=ex.command(),
                                     elapsed=time.perf_counter() - t0)
        console.print(f"{ex.command()} -> {results_dir / name}/ ({time.perf_counter() - t0:.1f} s)", markup=False)
    for rel, cfg in runs:
        t0 = time.perf_counter()
        result = run_experiment(cfg, report=report)
        save.save_run(result, results_dir / cfg.name, figures=figures, elapsed=time.perf_counter() - t0,
                      command=f"initlab run {rel}")
        console.print(f"initlab run {rel} -> {results_dir / cfg.name}/ ({time.perf_counter() - t0:.1f} s)",
                      markup=False)


def _in_processes(names: list[str], jobs: int, results_dir: Path, figures: bool, large: bool,
                  workers: int | None, console) -> list[tuple[str, dict]]:
    """Run ``initlab reproduce <name> -q`` for every study, ``jobs`` at a time, training studies
    first (they are the long ones); print each one's summary line as it ends and return the failed
    claims read from the ``claims.json`` each wrote. A study process that fails (not a claim: an
    error) stops the whole with its message and exit code."""
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from initlab import studies
    from initlab.io import compare_save

    def trains(name):
        s = studies.STUDIES[name]
        return getattr(s, "kind", None) == "train" or s.runner is not None or s.grid is not None

    order = sorted(names, key=lambda n: not trains(n))  # stable: registry order within each kind
    flags = ["-q", "--out", str(results_dir)] + ([] if figures else ["--no-figures"]) + (["--large"] if large else [])
    flags += [] if workers is None else ["--workers", str(workers)]

    def one(name):
        return name, subprocess.run([sys.executable, "-m", "initlab", "reproduce", name, *flags],
                                    capture_output=True, text=True)

    with ThreadPoolExecutor(jobs) as pool:
        for fut in as_completed([pool.submit(one, n) for n in order]):
            name, proc = fut.result()
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                raise typer.Exit(proc.returncode)
            line = next((x for x in proc.stdout.splitlines() if x.startswith(f"{name}: ")), name)
            console.print(line, markup=False)
    failed = []
    for name in names:
        doc = compare_save.read_claims(results_dir / name / compare_save.CLAIMS)
        failed += [(name, c) for c in doc["claims"] if not c["pass"]]
    return failed


@app.command(epilog="Examples: initlab reproduce --list;  initlab reproduce cs231n;  "
                    "initlab reproduce all --strict -q --out /tmp/results")
def reproduce(
    study: Annotated[Optional[str], typer.Argument(help="A study name (see --list) or 'all'.",
                                                   show_default=False, metavar="STUDY")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the studies and exit.")] = False,
    out: Annotated[Path, typer.Option("--out", help="The results folder: each study writes OUT/<study>/ "
                                                    "(default results/).", show_default=False)] = Path("results"),
    results_old: Annotated[Optional[Path], typer.Option("--results", hidden=True,
                                                        help="Deprecated: --out.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help=f"Exit {EXIT_CLAIM_FAILED} when a claim fails "
                                                          "(for CI).")] = False,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Draw the PNG figures.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary lines and failures.")] = False,
    large: Annotated[bool, typer.Option("--large", help="Grid studies (schoenholz2017): the larger grid "
                                                        "(minutes on 2 cores).")] = False,
    workers: Annotated[Optional[int], typer.Option(help="Grid studies: worker processes (default: the core "
                                                        "count; 1 trains in this process).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="With 'all': run this many studies at once, "
                                                                 "each in its own process (the numbers do not "
                                                                 "change).")] = 1,
) -> None:
    """Re-run published initialization studies and check their claims.

    Writes OUT/<study>/ (tables, claims.json, figures); rebuilds OUT/REPORT.md.

    'all' also regenerates the README's compare examples and the default initlab run experiment.

    Failed claims are printed; the exit code stays 0 unless --strict.
    """
    from initlab import studies
    from initlab.errors import ConfigError
    from initlab.io import compare_save, results

    console = make_console()
    results_dir = out
    if results_old is not None:  # the old spelling: still honoured, said once on stderr
        import sys

        print("initlab: warning: reproduce --results is deprecated; use --out (same meaning)", file=sys.stderr)
        results_dir = results_old
    if list_:
        w = max(len(n) for n in studies.STUDIES)
        for s in studies.STUDIES.values():
            n = len(s.cases)
            console.print(f"{s.name:<{w}} {s.title} ({len(s.claims)} claims, {n} case{'s' * (n != 1)}, "
                          f"{s.seeds} seeds)", markup=False)
        return
    if study is None:
        raise ConfigError("study", f"name a study or 'all'; valid: {', '.join(list(studies.STUDIES) + ['all'])}")
    chosen = list(studies.STUDIES.values()) if study == "all" else [studies.get(study)]
    # Validate everything (configs, output folders) before running anything.
    plans = [(s, load_study(s)) for s in chosen]
    grids = {s.name: ((s.large if large and s.large is not None else s.grid), None) for s in chosen
             if s.grid is not None}
    for name, (grid, _) in list(grids.items()):  # every point validated before anything trains
        resolve = grid_resolver(grid)
        from initlab.studies.grids import configs

        configs(grid, resolve)
        grids[name] = (grid, resolve)
    examples = [example_entries(ex) for ex in studies.EXAMPLES] if study == "all" else []
    runs = [(r.example, load_config(r.config)) for r in studies.RUNS] if study == "all" else []
    for s, _ in plans:
        results.check_output_dir(results_dir / s.name)
    for name, _ in examples:
        results.check_output_dir(results_dir / name)
    for _, cfg in runs:
        results.check_output_dir(results_dir / cfg.name)

    from initlab.cli.progress import bars

    t_all = time.perf_counter()
    failed: list[tuple[str, dict]] = []
    if jobs > 1 and len(plans) > 1:  # each study in its own process; this one does the rest
        failed += _in_processes([s.name for s, _ in plans], jobs, results_dir, figures, large, workers, console)
        plans_here = []
    else:
        plans_here = plans
    with bars(console, quiet) as report:
        _reproduce(plans_here, examples, runs, results_dir, study, figures, quiet, console, report, failed,
                   grids=grids, workers=workers, large=large)
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
