"""``initlab run`` and ``initlab list``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from initlab.cli.app import app, console as make_console, existing, wrote

def _fmt(v, pct: bool = False) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else ""
    if isinstance(v, int):
        return str(v)
    if pct:
        return f"{100 * v:.1f}"
    if v != v or v in (float("inf"), float("-inf")):
        return str(v)
    if v == 0:
        return "0"
    return f"{v:.3e}" if abs(v) < 1e-3 or abs(v) >= 1e4 else f"{v:.4f}"


# (result key, header, percent?, drop order): on a narrow terminal columns leave in the drop
# order (1 first; None: always shown) and a note names them (initlab.cli.tables). The order
# keeps what a reader of this lab looks at first: the std against theory, then the gradient.
TABLE_COLUMNS = [
    ("layer", "layer", False, None), ("width", "width", False, 1), ("act_mean", "mean", False, 5),
    ("act_std", "std", False, None), ("act_saturated", "sat %", True, 7), ("act_zero", "zero %", True, 8),
    ("dead_units", "dead", False, 4),
]
GRAD_TABLE_COLUMNS = [
    ("grad_act_std", "std dL/dh", False, 10), ("grad_preact_std", "std dL/dz", False, 2),
    ("grad_weight_std", "std dL/dW", False, 3), ("grad_weight_ratio", "dW/W", False, 6),
]
THEORY_COLUMN = ("predicted_act_std", "theory std", False, 9)


FIRST_NONFINITE = {"forward": "<- first inf/NaN (act)", "backward": "<- first inf/NaN (grad)"}
# A bounded activation counts as saturated (reported, not an overflow) from this fraction on.
SATURATION_NOTE = 0.5


def print_run_table(result, console) -> None:
    """The per-layer table, fitted to the terminal (:func:`initlab.cli.tables.show`). After an
    overflow it gains the non-finite counts and a ``note`` column marking the first non-finite
    layer of each pass (rows from the first forward one on are red on a terminal)."""
    from initlab.cli.tables import Col, show

    backward = result.config.backward.enabled
    cols = TABLE_COLUMNS + (GRAD_TABLE_COLUMNS if backward else [])
    if result.rows and "predicted_act_std" in result.rows[0]:
        cols.insert(4, THEORY_COLUMN)
    extra = [("lsuv_iterations", "lsuv iters", False, 13), ("lsuv_gain", "lsuv gain", False, 14),
             ("transferred", "transferred", False, 11), ("frozen", "frozen", False, 12)]
    cols += [c for c in extra if any(c[0] in r for r in result.rows)]
    first = result.first_nonfinite
    fwd, bwd = first.get("forward"), first.get("backward")
    overflow = fwd is not None or bwd is not None
    if overflow:
        cols = cols + [("act_nonfinite", "inf/nan", False, None)]
        if backward:
            cols.append(("grad_nonfinite", "grad inf/nan", False, None))
    heads = [Col(head, drop=drop, short=head.replace(" ", "\n") if " " in head else None)
             for _, head, _, drop in cols]
    if overflow:
        heads.append(Col("note", justify="left"))
    rows, styles = [], []
    for r in result.rows:
        styles.append("red" if (fwd is not None and r["layer"] >= fwd) else None)
        cells = [_fmt(r.get(k), pct) for k, _, pct, _ in cols]
        if overflow:
            cells.append(" ".join(text for which, text in FIRST_NONFINITE.items()
                                  if first.get(which) == r["layer"]))
        rows.append(cells)
    show(console, heads, rows, title=f"{result.config.name}: {result.activation.label()}, {result.initializer}",
         styles=styles, files="stats.csv and summary.md")


def warn_overflow(result, console=None, file=None) -> list[str]:
    """One ``initlab: warning:`` line per pass that reached inf/NaN (on stderr): a result, not an
    error. Returns the lines."""
    f, b = result.first_nonfinite.get("forward"), result.first_nonfinite.get("backward")
    lines = []
    if f is not None:
        n = result.rows[f].get("act_nonfinite") or 0
        there = (f"{n} non-finite activations there" if n else
                 "in the pre-activations z there, which the activation maps to finite values")
        lines.append(f"initlab: warning: activations overflow to inf/NaN from layer {f} on ({there}; "
                     "statistics and histograms skip non-finite values); reported in stats.json "
                     "first_nonfinite, not an error")
    if b is not None:
        lines.append(f"initlab: warning: gradients overflow to inf/NaN from layer {b} downward "
                     "(statistics and histograms skip them); reported in stats.json first_nonfinite, "
                     "not an error")
    for line in lines:
        print(line, file=file or sys.stderr)
    return lines


def saturation_note(result) -> str | None:
    """For a bounded activation (tanh, sigmoid, ...): where at least half of the activations sit
    at the bounds. Saturation is finite: it is reported, never as an overflow."""
    sat = result.activation.saturation
    rows = [r for r in result.rows[1:] if r.get("act_saturated") is not None]
    hit = [r for r in rows if r["act_saturated"] >= SATURATION_NOTE]
    if sat is None or not hit:
        return None
    worst = max(rows, key=lambda r: r["act_saturated"])
    return (f"note: {result.activation.label()} saturates (h <= {sat[0]:.4g} or h >= {sat[1]:.4g}) from "
            f"layer {hit[0]['layer']} on: {100 * hit[0]['act_saturated']:.1f}% there, at most "
            f"{100 * worst['act_saturated']:.1f}% (layer {worst['layer']}); finite values, not an overflow")


def warn_line(line: str) -> None:
    """One warning line on stderr (``initlab: warning: ...``), flushed: it comes before the work."""
    print(line, file=sys.stderr, flush=True)


def placed(config: Path, e, sets):
    """``e`` at the YAML line of its field in ``config`` (or marked as from the command line)."""
    from initlab.config.parse import Ctx
    from initlab.io import configfile

    if e.line is not None or not e.field:
        return e
    _, lines = configfile.read(config)
    return Ctx(lines, tuple(k for k, _ in sets)).err(e.field, e.detail)


def parse_sets(items: list[str] | None) -> list[tuple[str, object]]:
    from initlab.config.scalars import parse_set

    return [parse_set(s) for s in items or []]


def shortcut_sets(depth=None, width=None, act=None, init=None, dtype=None) -> list[tuple[str, object]]:
    """``--depth --width --act --init --dtype`` as the ``--set`` overrides they stand for (read by
    the same parser, so ``--act leaky_relu:negative_slope=0.2`` is
    ``--set network.activation=leaky_relu:negative_slope=0.2``). They come after --set: they win."""
    from initlab.config.scalars import parse_set

    given = (("network.depth", depth), ("network.width", width), ("network.activation", act),
             ("network.initializer", init), ("dtype", dtype))
    return [parse_set(f"{k}={v}") for k, v in given if v is not None]


# The flags every command that builds a network shares (run, compare): one wording, one default.
DEPTH_HELP = "Hidden layers (shortcut for --set network.depth=N)."
WIDTH_HELP = "Units per hidden layer (shortcut for --set network.width=N)."
ACT_HELP = "Activation: a name or name:key=value,... (shortcut for --set network.activation=...)."
INIT_HELP = "Initializer: a name or name:key=value,... (shortcut for --set network.initializer=...)."
DTYPE_HELP = "float32 or float64 (shortcut for --set dtype=...)."
SET_HELP = ("Override a config field, e.g. network.depth=30 or network.activation=leaky_relu:negative_slope=0.2 "
            "(repeatable; a new name replaces the old parameters).")


@app.command(epilog="Examples: initlab run configs/relu_he.yaml --backward;  "
                    "initlab run configs/tanh_small.yaml --depth 30 --init xavier --out results/tanh30")
def run(
    config: Annotated[Path, typer.Argument(help="YAML experiment file (configs/).", show_default=False,
                                           metavar="CONFIG")],
    depth: Annotated[Optional[int], typer.Option(help=DEPTH_HELP, show_default=False)] = None,
    width: Annotated[Optional[int], typer.Option(help=WIDTH_HELP, show_default=False)] = None,
    act: Annotated[Optional[str], typer.Option("--act", help=ACT_HELP, show_default=False)] = None,
    init: Annotated[Optional[str], typer.Option("--init", help=INIT_HELP, show_default=False)] = None,
    dtype: Annotated[Optional[str], typer.Option(help=DTYPE_HELP, show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override the config's seed.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default results/<name>).")] = None,
    backward: Annotated[Optional[bool], typer.Option("--backward/--no-backward",
                                                      help="Run the backward pass too.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", metavar="KEY=VALUE", help=SET_HELP)] = None,
    save_weights: Annotated[bool, typer.Option("--save-weights",
                                               help="Also write weights.npz (input, every W and b, "
                                                    "the loss's draws).")] = False,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Draw the PNG figures.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table, no progress bar.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Run even when the memory estimate says it "
                                                        "will not fit (README: Bad input).")] = False,
) -> None:
    """Run one experiment and write its per-layer statistics and figures."""
    from initlab.runs import budget
    from initlab.datainit.resolve import run as run_experiment
    from initlab.io import configfile, results, save

    sets = parse_sets(set_) + shortcut_sets(depth, width, act, init, dtype)
    cfg = configfile.load(config, sets=sets, seed=seed, backward=backward)
    folder = out or Path("results") / cfg.name
    results.check_output_dir(folder)
    budget.preflight(budget.estimate_run(cfg, save_weights=save_weights, figures=figures), force=force,
                     warn=warn_line)
    replaced = existing(folder)
    from initlab.cli.progress import bars

    console = make_console()
    t0 = time.perf_counter()
    import numpy as np

    # Overflow is a result, reported through first_nonfinite: numpy's floating-point warnings
    # ("overflow encountered in ...") would only add stray lines to stderr.
    from initlab.errors import ConfigError

    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"), \
                bars(console, quiet) as report:
            result = run_experiment(cfg, save_weights=save_weights, report=report)
    except ConfigError as e:  # a data-dependent initializer's refusal (LSUV, from_file), at its YAML line
        raise placed(config, e, sets) from None
    elapsed = time.perf_counter() - t0
    save.save_run(result, folder, figures=figures, elapsed=elapsed,
                  command=" ".join(["initlab"] + sys.argv[1:]))
    if not quiet:
        print_run_table(result, console)
        note = saturation_note(result)
        if note:
            console.print(note, soft_wrap=True)
        theory = result.theory.get("note") or ""
        if "overflows float64" in theory:  # a legal extreme value: said once, not an error
            console.print(f"note: {theory}", soft_wrap=True, markup=False)
    warn_overflow(result)
    console.print(wrote(folder, elapsed, replaced), markup=False)


list_app = typer.Typer(help="List the registered initializers, activations, datasets or optimizers.",
                       no_args_is_help=True)
app.add_typer(list_app, name="list")


def _entry(console, name: str, fields: list[tuple[str, str]]) -> None:
    """One registry entry in full, a field per line, long values wrapping under themselves
    (``initlab list initializers he``)."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 1), pad_edge=True)
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(overflow="fold")
    grid.add_row(Text(name), Text(""))
    for k, v in fields:
        grid.add_row(Text(f"  {k}:"), Text(v))
    console.print(grid)


NAMES_ARG = typer.Argument(help="Show these entries in full (default: all, as a table).", show_default=False)


@list_app.command("initializers", epilog="Example: initlab list initializers he orthogonal")
def list_initializers(names: Annotated[Optional[list[str]], NAMES_ARG] = None) -> None:
    """Every initializer: its formula, parameters and defaults, and source (NAME...: in full)."""
    import inspect

    from initlab.cli.tables import Col, show
    from initlab.engine import initializers
    from initlab.engine._params import accepted_params

    console = make_console()
    rows = []
    for name in names or initializers.INITIALIZERS:
        d = initializers.describe(name)  # an unknown name: the valid ones and a close match
        # describe() gives None for a required parameter too: ask the signature which is which
        params = accepted_params(initializers.INITIALIZERS[name])
        shown = ", ".join(f"{k} (required)" if v is inspect.Parameter.empty else f"{k}={v}"
                          for k, v in params.items()) or "-"
        formula = d["formula"] + (f"  [alias of {d['alias_of']}]" if d.get("alias_of") else "")
        rows.append((name, formula, shown, d["source"]))
    if names:
        for name, formula, shown, source in rows:
            _entry(console, name, [("formula", formula), ("parameters (defaults)", shown), ("source", source)])
        return
    show(console, [Col("name", justify="left"), Col("formula", justify="left", wrap=True, min_width=20),
                   Col("parameters (defaults)", justify="left", wrap=True, min_width=16),
                   Col("source", justify="left", wrap=True, min_width=40, drop=1)],
         rows, title="initializers (weights are (fan_in, fan_out))", lines=True,
         files="'initlab list initializers NAME'")


@list_app.command("activations", epilog="Example: initlab list activations tanh")
def list_activations(names: Annotated[Optional[list[str]], NAMES_ARG] = None) -> None:
    """Every activation: formula, gains (torch's and variance-preserving), histogram range
    (NAME...: in full)."""
    from initlab.cli.tables import Col, show
    from initlab.engine import activations

    console = make_console()
    heads = ("name", "formula", "torch gain", "variance gain", "histogram range", "saturated if", "source")
    rows = []
    for name in names or activations.ACTIVATIONS:
        a = activations.get(name)
        sat = f"h <= {a.saturation[0]:.4g} or h >= {a.saturation[1]:.4g}" if a.saturation else "-"
        rows.append((name + (f" (= {activations.ALIASES[name]})" if name in activations.ALIASES else ""),
                     a.formula, "-" if a.torch_gain is None else f"{a.torch_gain:.4f}",
                     f"{a.variance_gain:.4f}", f"[{a.hist_range[0]:.4g}, {a.hist_range[1]:.4g}]", sat,
                     a.source))
    if names:
        for r in rows:
            _entry(console, r[0], list(zip(heads[1:], r[1:])))
        return
    show(console, [Col("name", justify="left"), Col("formula", justify="left", wrap=True, min_width=14),
                   Col("torch gain", short="torch\ngain"), Col("variance gain", short="var.\ngain"),
                   Col("histogram range", short="histogram\nrange", drop=2),
                   Col("saturated if", justify="left", wrap=True, min_width=12, drop=3),
                   Col("source", justify="left", wrap=True, min_width=24, drop=1)],
         rows, title="activations (gain: auto uses torch's gain, else the variance gain)", lines=True,
         files="'initlab list activations NAME'")
