"""The Typer application every command registers on, and the console they print to."""

from __future__ import annotations

from typing import Annotated

import typer

from initlab import __version__

def _conventional_help() -> None:
    """Help that reads as click's and most CLIs do: ``Usage: initlab run [OPTIONS] CONFIG``
    (this typer writes a required argument as ``{config}``), and no ``<bool>`` placeholder after
    a flag, which takes no value. Types read ``INT``, ``PATH``, ``TEXT`` rather than ``<int>``.
    Typer builds its parameter classes itself (no hook to pass ours), so the two display
    methods are replaced here, once, when they exist (older typers already print this way)."""
    try:
        from typer.core import TyperArgument, TyperOption
    except ImportError:  # pragma: no cover
        return
    if hasattr(TyperArgument, "_usage_display_name") and not getattr(TyperArgument, "_initlab", False):
        def _usage(self) -> str:
            name = self.display_name_raw.upper()
            return (name if self.required else f"[{name}]") + ("..." if self.nargs != 1 else "")

        TyperArgument._usage_display_name = _usage
        TyperArgument._initlab = True
    if hasattr(TyperOption, "display_type_rich") and not getattr(TyperOption, "_initlab", False):
        original = TyperOption.display_type_rich  # the same method on arguments

        def _type(self, ctx):
            if getattr(self, "is_flag", False):
                return None
            shown = original(self, ctx)
            if shown and self.metavar is None and shown.startswith("<"):
                inner, dots = shown[1:].split(">", 1)
                shown = {"str": "TEXT"}.get(inner, inner.upper()) + dots
            return shown

        TyperOption.display_type_rich = _type
        TyperOption._initlab = True
        if hasattr(TyperArgument, "display_type_rich"):
            TyperArgument.display_type_rich = _type


_conventional_help()

app = typer.Typer(
    add_completion=True,
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
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                          help="Print the version and the statistics kernel's build, and exit.")] = False,
) -> None:
    pass


def console():
    """A rich console for stdout (rich is imported on first use).

    On a terminal it has the terminal's width and tables are fitted to it
    (:mod:`initlab.cli.tables`). Anywhere else (a pipe, a file) nothing wraps: text lines keep
    their length (``soft_wrap``) and tables their natural width. A closed pipe (``| head``)
    surfaces as :class:`BrokenPipeError`, which :func:`initlab.cli.main` turns into exit 0
    (rich's own answer would be exit 1)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError("stdout closed")

    c = _Console(highlight=False)
    if not c.is_terminal:
        c = _Console(highlight=False, soft_wrap=True, width=UNWRAPPED_WIDTH)
    return c


# The width a console has when stdout is not a terminal: wide enough for any table's natural
# width, so that nothing is fitted or wrapped (tables never expand to the console's width).
UNWRAPPED_WIDTH = 100_000


def wrote(folder, seconds: float, replaced: bool, files: bool = True) -> str:
    """The last line of a command: where its files are (``machine.json``, which git ignores,
    left out of the list), how long it took, and whether earlier results in that folder were
    replaced (so that nobody loses a figure without being told)."""
    names = sorted(p.name for p in folder.iterdir() if p.name != "machine.json") if files else []
    return (f"wrote {folder}/" + (f" ({', '.join(names)})" if names else "") + f" in {seconds:.2f} s"
            + ("; it replaced the results that were there" if replaced else ""))


def existing(folder) -> bool:
    """Whether ``folder`` already holds results (checked before writing, for :func:`wrote`)."""
    return (folder / "manifest.json").exists()
