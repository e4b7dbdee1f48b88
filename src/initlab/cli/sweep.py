"""``initlab sweep``: grids of runs over any config field, cached and resumable, on this process,
a local process pool or a Dask cluster; ``initlab sweep plot`` redraws a sweep's figures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from initlab.cli.app import app, console as make_console

EXIT_POINTS_FAILED = 3

try:  # typer >= 0.2x vendors click
    from typer.core import TyperGroup
except ImportError:  # pragma: no cover
    TyperGroup = None


class _DefaultRun(TyperGroup):
    """``initlab sweep CONFIG ...`` means ``initlab sweep run CONFIG ...``; ``plot`` is the
    other subcommand."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


sweep_app = typer.Typer(cls=_DefaultRun, no_args_is_help=True, add_completion=False,
                        help="Run a grid of runs or training runs over any config field (cached, resumable, "
                             "on every core or a Dask cluster): 'initlab sweep CONFIG --grid KEY=VALUES ...' "
                             "(short for 'sweep run'; options: 'initlab sweep run --help'); redraw a sweep's "
                             "figures: 'initlab sweep plot SWEEP_DIR --x KEY --metric COLUMN'. docs/sweeps.md.")
app.add_typer(sweep_app, name="sweep")


class Bar:
    """A rich progress bar: points done / cached / failed and the time left."""

    def __init__(self, console, total: int, label: str):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
                            TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("eta"),
                            TimeRemainingColumn(), console=console, transient=True)
        self.task = self.bar.add_task(label, total=total, counts="")
        self.n = {"done": 0, "cached": 0, "failed": 0}

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)

    def __call__(self, event: str, k: int) -> None:
        self.n[event] += k
        counts = f"done {self.n['done']} cached {self.n['cached']}" + (
            f" [red]failed {self.n['failed']}[/]" if self.n["failed"] else "")
        self.bar.update(self.task, advance=k, counts=counts)


def build_spec(config: Path, grids, sets, seeds, train: bool):
    """The sweep's :class:`~initlab.sweeps.grid.Spec` from a config (or sweep file) and flags."""
    from initlab.cli.run import parse_sets
    from initlab.config.scalars import parse_grid
    from initlab.sweeps import grid as G

    if G.is_sweep_file(config):
        spec = G.from_file(config)
        if train and spec.kind != G.TRAIN:
            spec = G.Spec(spec.config, G.TRAIN, spec.sets, spec.axes, spec.seeds, spec.name)
    else:
        spec = G.Spec(config=config, kind=G.TRAIN if train else G.RUN, name=config.stem)
    extra = parse_sets(sets)
    if extra:
        spec = G.Spec(spec.config, spec.kind, spec.sets + tuple(extra), spec.axes, spec.seeds, spec.name)
    spec = G.add_axes(spec, [parse_grid(g) for g in grids or []])
    if seeds is not None:
        spec = G.with_seeds(spec, G.parse_seeds(seeds))
    if not spec.axes and spec.seeds is None:
        from initlab.errors import ConfigError

        raise ConfigError("--grid", "nothing to sweep: give --grid KEY=VALUES (e.g. network.depth=10,20,50), "
                                    "--seeds N, or a sweep file with a grid")
    return spec


@sweep_app.command("run")
def sweep_run(
    config: Annotated[Path, typer.Argument(help="A run config, a training config (with --train) or a sweep "
                                                "file (docs/sweeps.md).", show_default=False)],
    grid: Annotated[Optional[list[str]], typer.Option("--grid", "-g", metavar="KEY=VALUES",
                                                      help="An axis: values in the --set syntax, e.g. "
                                                           "network.depth=10,20,50, range(a,b[,step]), "
                                                           "logspace(a,b,n), linspace(a,b,n) (repeatable).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", metavar="KEY=VALUE",
                                                      help="A fixed override for every point (repeatable).")] = None,
    seeds: Annotated[Optional[str], typer.Option("--seeds", help="N (the config's seed and the next N-1) "
                                                                 "or a list 0,3,7.")] = None,
    train: Annotated[bool, typer.Option("--train", help="The config is a training config: every point "
                                                        "trains.")] = False,
    out: Annotated[Optional[Path], typer.Option(help="The sweep folder (default results/sweep-<name>).")] = None,
    engine: Annotated[str, typer.Option(help="local (process pool), serial (this process) or dask.")] = "local",
    workers: Annotated[Optional[int], typer.Option(help="Worker processes (default: the core count).")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="A Dask scheduler address (tcp://host:8786); "
                                                          "default a LocalCluster.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Run every point again, cached or not.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the grid, its size and an estimate; "
                                                            "run nothing.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar; only the summary.")] = False,
) -> None:
    """Run every point of a grid (the default: 'initlab sweep CONFIG ...' is this command).

    A step-0 run (or a training run with --train) per point.

    Each point's folder is a hash of its resolved config; points already there are skipped, so
    an interrupted sweep resumes. Writes sweep.csv (one long table), points.csv and points/.

    Exit 3 when a point failed (the others ran; the errors are in points.csv).
    """
    from initlab.sweeps import executors, runner

    console = make_console()
    spec = build_spec(config, grid, set_, seeds, train)
    points = runner.plan(spec)
    folder = out or Path("results") / f"sweep-{spec.name or spec.config.stem}"
    if dry_run:
        _dry_run(console, spec, points, folder, force, workers or executors.cores(), engine)
        return
    from initlab.io import results

    results.check_output_dir(folder)
    with executors.make(engine, workers, scheduler) as ex:
        cmd = "initlab sweep " + str(config)
        label = f"{spec.name} ({ex.name})"
        if quiet or not console.is_terminal:
            summary = runner.run(spec, points, folder, ex, force=force, command=cmd)
        else:
            with Bar(console, len(points), label) as bar:
                summary = runner.run(spec, points, folder, ex, force=force, progress=bar, command=cmd)
    by_index = {p.index: p for p in points}
    for i, err in sorted(summary.failed.items()):
        console.print(f"FAILED {by_index[i].label()}: {err}", style="bold red", markup=False)
    console.print(f"{spec.name}: {summary.size} points ({summary.done} run, {summary.cached} cached, "
                  f"{len(summary.failed)} failed) on {ex.describe()} -> {folder}/sweep.csv "
                  f"({summary.seconds:.1f} s)", markup=False)
    if summary.failed:
        raise typer.Exit(EXIT_POINTS_FAILED)


def _dry_run(console, spec, points, folder, force, workers, engine) -> None:
    from initlab.sweeps import runner, store

    cached = 0 if force else sum(1 for p in points if store.is_cached(folder, p))
    est = sum(runner.estimate_seconds(p) for p in points if force or not store.is_cached(folder, p))
    kind = "training runs" if spec.kind == "train" else "step-0 runs"
    console.print(f"{spec.name}: {spec.size} points ({kind} of {spec.config})", markup=False)
    for line in spec.describe():
        console.print(f"  {line}", markup=False)
    for k, v in spec.sets:
        console.print(f"  fixed: {k}={v}", markup=False)
    par = 1 if engine == "serial" else workers
    console.print(f"{cached} cached in {folder}, {len(points) - cached} to run; estimate ~{est:.0f} CPU-s "
                  f"(~{est / par:.0f} s on {par} worker{'s' if par != 1 else ''}; rough, single-core model "
                  "in docs/sweeps.md). Nothing run.", markup=False)


@sweep_app.command("plot")
def sweep_plot(
    folder: Annotated[Path, typer.Argument(help="A sweep folder (with sweep.csv).", show_default=False)],
    x: Annotated[str, typer.Option("--x", help="The grid column on the x axis.")],
    metric: Annotated[str, typer.Option("--metric", help="The column to plot (e.g. act_std, train_acc).")],
    y: Annotated[Optional[str], typer.Option("--y", help="A second grid column: a heatmap of the metric.")] = None,
    hue: Annotated[Optional[str], typer.Option("--hue", help="A line per value of this column (line plot; "
                                                             "default: the other grid column, if one).")] = None,
    layer: Annotated[Optional[int], typer.Option(help="Step-0 sweeps: the layer (default the last).")] = None,
    logx: Annotated[bool, typer.Option("--logx", help="Log-scale x axis.")] = False,
    out: Annotated[Optional[Path], typer.Option(help="The PNG (default SWEEP_DIR/<metric>_by_<x>[_<y>].png).")] = None,
) -> None:
    """Redraw a figure from a sweep's table, running nothing: the metric against --x (a line per
    value of --hue, a band over seeds), or a heatmap over --x and --y (mean over seeds)."""
    from initlab.errors import ConfigError, unknown
    from initlab.sweeps import tables

    if not (folder / "sweep.csv").is_file():
        raise ConfigError("SWEEP_DIR", f"{folder} has no sweep.csv; give a folder written by initlab sweep")
    cols, rows = tables.read_sweep(folder)
    grid_cols = cols[1:cols.index("seed")]
    for opt, name, valid in (("--x", x, grid_cols), ("--y", y, grid_cols), ("--hue", hue, grid_cols),
                             ("--metric", metric, [c for c in cols if c not in ("point", "seed")])):
        if name is not None and name not in valid:
            raise unknown("column", name, valid, opt)
    if "layer" in cols:
        last = max(r["layer"] for r in rows) if rows else 0
        want = last if layer is None else layer
        rows = [r for r in rows if r["layer"] == want]
        if not rows:
            raise ConfigError("--layer", f"no rows at layer {want}")
    if not rows:
        raise ConfigError("SWEEP_DIR", f"{folder}/sweep.csv has no finished points")
    from initlab.plots import sweep_figures

    name = f"{metric}_by_{x}" + (f"_{y}" if y else "") + ".png"
    path = out or folder / name
    title = f"{folder.name}: {metric}" + (f" at layer {rows[0]['layer']}" if "layer" in cols else "")
    if y:
        sweep_figures.heatmap(rows, x, y, metric, path, title)
    else:
        if hue is None:
            others = [c for c in grid_cols if c != x]
            hue = others[0] if len(others) == 1 else None
        sweep_figures.lines(rows, x, metric, path, title, hue=hue, logx=logx)
    make_console().print(f"wrote {path}", markup=False)
