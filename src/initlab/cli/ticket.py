"""``initlab ticket``: lottery tickets by iterative magnitude pruning (docs/datainit.md)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from initlab.cli.app import app, console as make_console
from initlab.cli.run import parse_sets


def check_options(rounds: int, prune: float, output_rate: float | None, rewind: int, scope: str, steps: int):
    """One-line refusals naming the flag (exit 2, nothing written)."""
    from initlab.datainit.lottery import SCOPES
    from initlab.errors import ConfigError, suggest

    if rounds < 1:
        raise ConfigError("--rounds", f"must be an integer >= 1, got {rounds}")
    if not 0 < prune < 1:
        raise ConfigError("--prune", f"must be a fraction in (0, 1) (of the surviving weights pruned per round), "
                                     f"got {prune:g}")
    if output_rate is not None and not 0 <= output_rate < 1:
        raise ConfigError("--output-rate", f"must be a fraction in [0, 1), got {output_rate:g}")
    if not 0 <= rewind <= steps:
        raise ConfigError("--rewind", f"must be a step in [0, train.steps = {steps}], got {rewind}")
    if scope not in SCOPES:
        raise ConfigError("--scope", f"unknown scope '{scope}'{suggest(scope, SCOPES)}; valid: {', '.join(SCOPES)}")


@app.command()
def ticket(
    config: Annotated[Path, typer.Argument(help="YAML training config (configs/train/).", show_default=False)],
    rounds: Annotated[int, typer.Option(help="Pruning rounds after the dense run.")] = 5,
    prune: Annotated[float, typer.Option(help="Fraction of the surviving hidden weights pruned per round, in (0, 1).")] = 0.2,
    output_rate: Annotated[Optional[float], typer.Option("--output-rate",
                                                         help="Readout pruning rate (default: half of --prune).")] = None,
    rewind: Annotated[int, typer.Option(help="Rewind the survivors to their values after this many updates "
                                             "(0: the initialization).")] = 0,
    scope: Annotated[str, typer.Option(help="global (hidden layers pooled) or layer (each on its own).")] = "global",
    controls: Annotated[bool, typer.Option("--controls", help="Also train the controls: same masks re-initialized, "
                                                              "random masks of the same sparsity.")] = False,
    set_: Annotated[Optional[list[str]], typer.Option("--set", metavar="KEY=VALUE",
                                                       help="Override a config field (repeatable).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override the config's seed.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default results/<name>-ticket).")] = None,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Draw the PNG figure.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table.")] = False,
) -> None:
    """Find lottery tickets: train, prune the smallest weights, rewind, repeat (Frankle & Carbin 2019).

    Writes tickets.csv, history.csv, masks.npz, tickets.png, config.yaml, summary.md.
    """
    import numpy as np

    from initlab.cli.train import load_config
    from initlab.datainit import lottery
    from initlab.errors import ConfigError
    from initlab.io import results, ticket_save
    from initlab.runs import train as R

    cfg, src = load_config(config, parse_sets(set_), seed)
    rate_out = prune / 2 if output_rate is None else output_rate
    check_options(rounds, prune, output_rate, rewind, scope, cfg.train.steps)
    folder = out or Path("results") / f"{cfg.name}-ticket"
    results.check_output_dir(folder)
    console = make_console()
    t0 = time.perf_counter()
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"), R.blas_threads():
            ds = R.load_data(cfg)
            res = lottery.ticket(cfg, ds, rounds=rounds, rate=prune, output_rate=rate_out, rewind=rewind,
                                 scope=scope, controls=controls,
                                 progress=None if quiet else (lambda t: console.print(t, markup=False)))
    except ConfigError as e:
        raise src.place(e) from None
    elapsed = time.perf_counter() - t0
    command = " ".join(["initlab"] + sys.argv[1:])
    ticket_save.save_ticket(cfg, res, folder, figures=figures, command=command, elapsed=elapsed)
    if not quiet:
        from rich.table import Table

        t = Table(title=f"{cfg.name}: lottery tickets", title_justify="left")
        for h in ("round", "kind", "remaining %", "test acc %", "best test %", "steps to threshold"):
            t.add_column(h, justify="right")
        for r in res.rows:
            t.add_row(str(r["round"]), r["kind"], f"{100 * r['remaining']:.1f}",
                      "" if r["test_acc"] is None else f"{100 * r['test_acc']:.1f}",
                      "" if r["best_test_acc"] is None else f"{100 * r['best_test_acc']:.1f}",
                      "-" if r["steps_to_threshold"] is None else str(r["steps_to_threshold"]))
        console.print(t)
    console.print(f"wrote {folder}/ ({', '.join(sorted(p.name for p in folder.iterdir()))}) in {elapsed:.1f} s",
                  markup=False, highlight=False)
