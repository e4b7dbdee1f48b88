"""``initlab compare``: several initializers side by side on the same network and input."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from initlab.cli.app import app, console as make_console, existing, wrote
from initlab.cli.run import SET_HELP
from initlab.config.schema import Config

# The defaults the help text names come from the schema (written once there).
CFG = Config()
NET, INPUT = CFG.network, CFG.input

RICH_LAYER_CAP = 30  # deeper nets show 21 evenly spaced layers in the terminal (all in summary.md)


def flag_sets(depth, width, batch, dim, dtype, loss) -> list[tuple[str, object]]:
    """The dedicated flags as config overrides (they win over --set)."""
    pairs = [("network.depth", depth), ("network.width", width), ("input.batch", batch),
             ("input.dim", dim), ("dtype", dtype), ("backward.loss", loss)]
    return [(k, v) for k, v in pairs if v is not None]


# Side-by-side column kinds (header suffix) -> the order in which they leave a narrow terminal
# (initlab.cli.tables; 1 first): the measured std and the layer always stay.
COMPARE_DROP = {" sat %": 1, " zero %": 2, " grad std": 3, " theory": 4}


def print_comparison(comp, console, title: str) -> None:
    from initlab.cli.tables import Col, show
    from initlab.runs import compare as C
    from initlab.io.compare_save import cell_text

    depth = max(s.depth for s in comp.series)
    layers = C.shown_layers(depth, RICH_LAYER_CAP)
    headers, rows = C.side_by_side(comp, layers)
    cols = []
    for h in headers:
        suffix = next((k for k in (*COMPARE_DROP, " std") if h.endswith(k)), None)
        short = h[: -len(suffix)] + "\n" + suffix.strip() if suffix else None
        cols.append(Col(h, drop=COMPARE_DROP.get(suffix), short=short,
                        group=f"{suffix.strip()} columns" if suffix in COMPARE_DROP else None))
    show(console, cols, [[cell_text(c, compact=True) for c in r] for r in rows],
         title=title + (" (stds: geometric mean ±95% interval over seeds)" if comp.seeds > 1 else ""),
         files="stats.csv and summary.md")
    if len(layers) < depth + 1:
        console.print(f"({len(layers)} of {depth + 1} layers shown; all of them in summary.md and stats.csv)")


def print_verdicts(comp, console) -> None:
    styles = {"healthy": "green", "shrinks": "yellow", "grows": "yellow", "collapses": "red",
              "explodes": "red", "saturates": "red"}
    for v in comp.verdicts:
        console.print(v.text, style=styles.get(v.kind), markup=False, highlight=False)


@app.command(epilog="Examples: initlab compare xavier he --act tanh;  initlab compare he "
                    "normal:std=0.01 --act relu --depth 30 --backward --seeds 5")
def compare(
    inits: Annotated[list[str], typer.Argument(
        help="Initializer specs: a name or name:key=value,... (e.g. xavier he normal:std=0.01).",
        show_default=False, metavar="INIT...")],
    act: Annotated[Optional[str], typer.Option(
        "--act", help="Activation: name or name:key=value (default: the config's, else tanh).")] = None,
    config: Annotated[Optional[Path], typer.Option(
        "--config", help="Base YAML config (network, input, ...); the flags below win over it.")] = None,
    depth: Annotated[Optional[int], typer.Option(help=f"Hidden layers (default {NET.depth}; shortcut for "
                                                      "--set network.depth=N).")] = None,
    width: Annotated[Optional[int], typer.Option(help=f"Units per hidden layer (default {NET.width}; "
                                                      "shortcut for --set network.width=N).")] = None,
    batch: Annotated[Optional[int], typer.Option(help=f"Input batch size (default {INPUT.batch}).")] = None,
    dim: Annotated[Optional[int], typer.Option(help=f"Input dimension (default {INPUT.dim}).")] = None,
    dtype: Annotated[Optional[str], typer.Option(help=f"float32 or float64 (default {CFG.dtype}; shortcut "
                                                      "for --set dtype=...).")] = None,
    seed: Annotated[Optional[int], typer.Option(help=f"Seed (default {CFG.seed}); --seeds N uses "
                                                     "seed..seed+N-1.")] = None,
    backward: Annotated[Optional[bool], typer.Option("--backward/--no-backward",
                                                      help="Run the backward pass too.")] = None,
    loss: Annotated[Optional[str], typer.Option(help="Backward loss: random, mse or softmax_ce.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", metavar="KEY=VALUE", help=SET_HELP)] = None,
    seeds: Annotated[int, typer.Option(help="Repeat with N seeds; report geometric means and 95% "
                                            "intervals per layer.")] = 1,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default results/compare-<act>-<inits>).")] = None,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Draw the PNG figures.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the verdicts: no table, no progress "
                                                              "bar.")] = False,
    train: Annotated[bool, typer.Option("--train", help="Train each initializer on the --config training "
                                                       "config (same data, batches, seed) instead of "
                                                       "comparing step 0.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Run even when the memory estimate says it "
                                                        "will not fit (README: Bad input).")] = False,
) -> None:
    """Compare initializers on one network: the same input, seeds and activation for all.

    Writes stats.csv (long form), summary.md, std_by_layer.png and histograms.png.

    Prints the per-layer std side by side and one verdict per initializer (docs/reproduce.md).
    """
    from initlab.runs import compare as C
    from initlab.config.scalars import parse_spec
    from initlab.errors import ConfigError
    from initlab.io import compare_save, configfile, results
    from initlab.cli.run import parse_sets

    if seeds < 1:
        raise ConfigError("--seeds", f"must be an integer >= 1, got {seeds}")
    if train:
        from initlab.cli.train import compare_train

        given = {"--batch": batch, "--dim": dim, "--loss": loss, "--backward": backward}
        for flag, v in given.items():
            if v is not None:
                raise ConfigError(flag, "does not apply to compare --train; set the training config's "
                                        "fields with --set (e.g. train.batch=64)")
        if seeds != 1:
            raise ConfigError("--seeds", "compare --train runs one seed; give --seed N")
        sets = parse_sets(set_) + [(k, v) for k, v in (("network.depth", depth), ("network.width", width),
                                                       ("dtype", dtype)) if v is not None]
        return compare_train(inits, act, config, sets, seed, out, figures, quiet, force)
    specs = [parse_spec(s, "initializer") for s in inits]
    act_spec = parse_spec(act, "activation") if act is not None else None
    data, lines = configfile.read(config) if config is not None else ({}, {})
    sets = parse_sets(set_) + flag_sets(depth, width, batch, dim, dtype, loss)
    # Resolve once without a name to learn the activation (the folder name depends on it).
    probe = C.entries(data, specs[:1], act_spec, sets, lines=lines, seed=seed, backward=backward)[0]
    name = C.folder_name(probe.config.network.activation, specs, probe.config, seeds)
    entries = C.entries(data, specs, act_spec, sets, lines=lines, name=name, seed=seed, backward=backward)
    folder = out or Path("results") / name
    results.check_output_dir(folder)
    from initlab.cli.run import warn_line
    from initlab.runs import budget

    budget.preflight(budget.estimate_compare([e.config for e in entries], seeds, figures=figures),
                     force=force, warn=warn_line)
    replaced = existing(folder)
    from initlab.cli.progress import bars

    console = make_console()
    t0 = time.perf_counter()
    with bars(console, quiet) as report:
        comp = C.run(entries, seeds, report=report)
    elapsed = time.perf_counter() - t0
    command = " ".join(["initlab"] + (sys.argv[1:] if sys.argv[1:2] == ["compare"] else ["compare", *inits]))
    compare_save.save_comparison(comp, folder, figures=figures, command=command, elapsed=elapsed)
    if not quiet:
        print_comparison(comp, console, compare_save.title_of(comp))
    print_verdicts(comp, console)
    if seeds > 1:
        for s_ in comp.series:
            console.print(C.fluctuation_text(C.fluctuations(s_)), markup=False, highlight=False)
    console.print(wrote(folder, elapsed, replaced), markup=False)
