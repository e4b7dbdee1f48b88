"""The Typer application every command registers on, and the console they print to."""

from __future__ import annotations

from typing import Annotated

import typer

from initlab import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="initlab: a laboratory for weight-initialization studies. Run deep networks at a chosen "
         "depth, width, activation and initializer and get per-layer statistics, histograms and "
         "figures.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from initlab.engine.stats import kernel_info

        k = kernel_info()
        typer.echo(f"initlab {__version__}")
        typer.echo(f"kernel: {k['target']} ({k['compiler']})" if k["built"] else
                   "kernel: not built (numpy fallback, slower; install a C compiler and reinstall)")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and the statistics kernel's build, and exit.")] = False,
) -> None:
    pass


def console():
    """A rich console for stdout (rich is imported on first use). A closed pipe (``| head``)
    surfaces as :class:`BrokenPipeError`, which :func:`initlab.cli.main` turns into exit 0
    (rich's own answer would be exit 1)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError("stdout closed")

    return _Console(highlight=False)
