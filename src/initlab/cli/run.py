"""``initlab run`` and ``initlab list``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from initlab.cli.app import app, console as make_console

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


TABLE_COLUMNS = [
    ("layer", "layer", False), ("width", "width", False), ("act_mean", "mean", False),
    ("act_std", "std", False), ("act_saturated", "sat %", True), ("act_zero", "zero %", True),
    ("dead_units", "dead", False),
]
GRAD_TABLE_COLUMNS = [
    ("grad_act_std", "std dL/dh", False), ("grad_preact_std", "std dL/dz", False),
    ("grad_weight_std", "std dL/dW", False), ("grad_weight_ratio", "dW/W", False),
]


FIRST_NONFINITE = {"forward": "<- first inf/NaN (act)", "backward": "<- first inf/NaN (grad)"}
# A bounded activation counts as saturated (reported, not an overflow) from this fraction on.
SATURATION_NOTE = 0.5


def print_run_table(result, console) -> None:
    """The per-layer table. After an overflow it gains the non-finite counts and a ``note``
    column marking the first non-finite layer of each pass (rows from the first forward one on
    are red on a terminal). Numbers are never truncated: the table is as wide as it needs."""
    from rich.measure import Measurement
    from rich.table import Table

    backward = result.config.backward.enabled
    cols = TABLE_COLUMNS + (GRAD_TABLE_COLUMNS if backward else [])
    if result.rows and "predicted_act_std" in result.rows[0]:
        cols.insert(4, ("predicted_act_std", "theory std", False))
    extra = [("lsuv_iterations", "lsuv iters", False), ("lsuv_gain", "lsuv gain", False),
             ("transferred", "transferred", False), ("frozen", "frozen", False)]
    cols += [c for c in extra if any(c[0] in r for r in result.rows)]
    first = result.first_nonfinite
    fwd, bwd = first.get("forward"), first.get("backward")
    overflow = fwd is not None or bwd is not None
    if overflow:
        cols = cols + [("act_nonfinite", "inf/nan", False)]
        if backward:
            cols.append(("grad_nonfinite", "grad inf/nan", False))
    t = Table(title=f"{result.config.name}: {result.activation.label()}, {result.initializer}",
              title_justify="left")
    for _, head, _ in cols:
        t.add_column(head, justify="right", no_wrap=True)
    if overflow:
        t.add_column("note", justify="left", no_wrap=True)
    for r in result.rows:
        style = "red" if (fwd is not None and r["layer"] >= fwd) else None
        cells = [_fmt(r.get(k), pct) for k, _, pct in cols]
        if overflow:
            cells.append(" ".join(text for which, text in FIRST_NONFINITE.items()
                                  if first.get(which) == r["layer"]))
        t.add_row(*cells, style=style)
    width = Measurement.get(console, console.options.update(max_width=100_000), t).maximum
    saved = console.width
    console.width = max(saved, width)
    try:
        console.print(t, crop=False)
    finally:
        console.width = saved


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


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="YAML experiment file.", show_default=False)],
    seed: Annotated[Optional[int], typer.Option(help="Override the config's seed.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default results/<name>).")] = None,
    backward: Annotated[Optional[bool], typer.Option("--backward/--no-backward",
                                                      help="Run the backward pass too.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", metavar="KEY=VALUE",
                                                       help="Override a config field, e.g. "
                                                            "network.depth=30 (repeatable).")] = None,
    save_weights: Annotated[bool, typer.Option("--save-weights",
                                               help="Also write weights.npz (input, every W and b, "
                                                    "the loss's draws).")] = False,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Draw the PNG figures.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not print the table.")] = False,
) -> None:
    """Run one experiment and write its per-layer statistics and figures."""
    from initlab.datainit.resolve import run as run_experiment
    from initlab.io import configfile, results, save

    cfg = configfile.load(config, sets=parse_sets(set_), seed=seed, backward=backward)
    folder = out or Path("results") / cfg.name
    results.check_output_dir(folder)
    t0 = time.perf_counter()
    import numpy as np

    # Overflow is a result, reported through first_nonfinite: numpy's floating-point warnings
    # ("overflow encountered in ...") would only add stray lines to stderr.
    from initlab.errors import ConfigError

    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            result = run_experiment(cfg, save_weights=save_weights)
    except ConfigError as e:  # a data-dependent initializer's refusal (LSUV, from_file), at its YAML line
        raise placed(config, e, parse_sets(set_)) from None
    elapsed = time.perf_counter() - t0
    save.save_run(result, folder, figures=figures, elapsed=elapsed,
                  command=" ".join(["initlab"] + sys.argv[1:]))
    console = make_console()
    if not quiet:
        print_run_table(result, console)
        note = saturation_note(result)
        if note:
            console.print(note, soft_wrap=True)
    warn_overflow(result)
    console.print(f"wrote {folder}/ ({', '.join(sorted(p.name for p in folder.iterdir()))}) "
                  f"in {elapsed:.2f} s", soft_wrap=True)


list_app = typer.Typer(help="List the registered initializers or activations.", no_args_is_help=True)
app.add_typer(list_app, name="list")


@list_app.command("initializers")
def list_initializers() -> None:
    """Every initializer: its formula, parameters and defaults, and source."""
    import inspect

    from rich.markup import escape
    from rich.table import Table

    from initlab.engine import initializers
    from initlab.engine._params import accepted_params

    t = Table(title="initializers (weights are (fan_in, fan_out))", title_justify="left", show_lines=False)
    for head in ("name", "formula", "parameters (defaults)", "source"):
        t.add_column(head, overflow="fold")
    for name in initializers.INITIALIZERS:
        d = initializers.describe(name)
        # describe() gives None for a required parameter too: ask the signature which is which
        params = accepted_params(initializers.INITIALIZERS[name])
        shown = ", ".join(f"{k} (required)" if v is inspect.Parameter.empty else f"{k}={v}"
                          for k, v in params.items()) or "-"
        formula = d["formula"] + (f"  [alias of {d['alias_of']}]" if d.get("alias_of") else "")
        # user text, not markup: "W[i, :]" and "[alias of ...]" would be read as style tags
        t.add_row(*(escape(cell) for cell in (name, formula, shown, d["source"])))
    make_console().print(t)


@list_app.command("activations")
def list_activations() -> None:
    """Every activation: formula, gains (torch's and variance-preserving), histogram range."""
    from rich.markup import escape
    from rich.table import Table

    from initlab.engine import activations

    t = Table(title="activations (gain: auto uses torch's gain, else the variance gain)",
              title_justify="left")
    for head in ("name", "formula", "torch gain", "variance gain", "histogram range", "saturated if",
                 "source"):
        t.add_column(head, overflow="fold")
    for name in activations.ACTIVATIONS:
        a = activations.get(name)
        sat = f"h <= {a.saturation[0]:.4g} or h >= {a.saturation[1]:.4g}" if a.saturation else "-"
        cells = (name + (f" (= {activations.ALIASES[name]})" if name in activations.ALIASES else ""),
                 a.formula, "-" if a.torch_gain is None else f"{a.torch_gain:.4f}",
                 f"{a.variance_gain:.4f}", f"[{a.hist_range[0]:.4g}, {a.hist_range[1]:.4g}]", sat,
                 a.source)
        t.add_row(*(escape(cell) for cell in cells))  # user text, not rich markup
    make_console().print(t)


