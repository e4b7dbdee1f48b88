"""The ``initlab`` command line: flags -> config, errors -> exit codes, rendering.

Exit codes: 0 success (an overflow is a reported result, not a failure), 1 internal error
(a bug: please report it), 2 usage or configuration error (one line on stderr, nothing
written). matplotlib is imported only by the commands that draw, scipy only when needed.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

try:  # typer >= 0.2x vendors click; older releases depend on it
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click import ClickException

from .. import __version__
from ..errors import InitlabError

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
        typer.echo(f"initlab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    pass


def console():
    """A rich console for stdout (rich is imported on first use)."""
    from rich.console import Console

    return Console(highlight=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one line on stderr and exit 2 for usage/config errors, 1 for bugs."""
    try:
        rv = app(args=argv, standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except InitlabError as e:
        print(f"initlab: error: {e}", file=sys.stderr)
        return 2
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        print("initlab: interrupted", file=sys.stderr)
        return 130
    except ClickException as e:
        msg = " ".join(e.format_message().split())
        print(f"initlab: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("initlab: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: say so, keep it to one line
        print(f"initlab: internal error: {type(e).__name__}: {e} (please report this with the command "
              "and config)", file=sys.stderr)
        return 1


def entry() -> None:
    sys.exit(main())


# Command modules register themselves on ``app`` when imported; they import heavy modules
# (the engine, matplotlib, scipy) inside the commands, so start-up stays quick.
from . import run as _run  # noqa: E402,F401
