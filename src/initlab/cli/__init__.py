"""The ``initlab`` command line: flags -> config, errors -> exit codes, rendering.

Exit codes: 0 success (an overflow is a reported result, not a failure), 1 internal error
(a bug: please report it), 2 usage or configuration error (one line on stderr, nothing
written). matplotlib is imported only by the commands that draw, scipy only when needed.
"""

from __future__ import annotations

import sys

import typer

try:  # typer >= 0.2x vendors click; older releases depend on it
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click import ClickException

from initlab.errors import InitlabError

from initlab.cli.app import app  # noqa: E402


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so ``finally``/cleanup code runs (as for Ctrl-C)."""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _usage_message(e: ClickException) -> str:
    """A click/typer usage error as one line that names what would be valid."""
    msg = _one_line(e.format_message())
    ctx = getattr(e, "ctx", None)
    cmd = getattr(ctx, "command", None)
    path = ctx.command_path if ctx is not None else "initlab"
    if cmd is not None and hasattr(cmd, "list_commands"):  # a group: name its commands
        names = ", ".join(cmd.list_commands(ctx))
        if type(e).__name__ == "NoArgsIsHelpError" or not msg:
            return f"missing command after '{path}'; valid: {names} (see '{path} --help')"
        if "No such command" in msg:
            return f"{msg.rstrip('.')}; valid: {names}"
    return f"{msg.rstrip('.')} (see '{path} --help')"


def main(argv: list[str] | None = None) -> int:
    """Entry point: one line on stderr and exit 2 for usage/config errors, 1 for bugs.

    Exit codes: 0 success (an overflow is a reported result; also when the reader of stdout
    stops early, as ``| head`` does: the files are written first), 1 internal error, 2 usage or
    configuration error, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM). Interrupts and
    SIGTERM unwind normally, so a result folder being written is removed, never left half.
    """
    import signal
    import threading

    previous = None
    if threading.current_thread() is threading.main_thread():
        def _terminate(signum, frame):
            raise Terminated()

        try:
            previous = signal.signal(signal.SIGTERM, _terminate)
        except (ValueError, OSError):  # pragma: no cover - no signals here
            previous = None
    try:
        rv = app(args=argv, prog_name="initlab", standalone_mode=False)
        if rv == 130:  # typer turns KeyboardInterrupt into Exit(130)
            print("initlab: interrupted", file=sys.stderr)
        return rv if isinstance(rv, int) else 0
    except InitlabError as e:
        print(f"initlab: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        print("initlab: interrupted", file=sys.stderr)
        return 130
    except ClickException as e:
        print(f"initlab: error: {_usage_message(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("initlab: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("initlab: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:
        # The reader of stdout is gone (`initlab run ... | head -3`). Every command writes its
        # files before it prints, so the work is done: exit 0, quietly, and let nothing more be
        # written to the closed pipe (the interpreter's final flush included).
        _silence_stdout()
        return 0
    except Exception as e:  # a bug: say so, keep it to one line
        where = ""
        tb = e.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None:
            import os

            where = f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
        print(f"initlab: internal error: {type(e).__name__}: {_one_line(e)}{where} (a bug: please report "
              "it with the command, the config and this line)",
              file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - stdout without a file descriptor
        pass


def entry() -> None:
    sys.exit(main())


# Command modules register themselves on ``app`` when imported; they import heavy modules
# (the engine, matplotlib, scipy) inside the commands, so start-up stays quick.
from initlab.cli import run as _run  # noqa: E402,F401
from initlab.cli import compare as _compare, reproduce as _reproduce  # noqa: E402,F401
from initlab.cli import theory as _theory  # noqa: E402,F401
from initlab.cli import train as _train  # noqa: E402,F401
from initlab.cli import ticket as _ticket  # noqa: E402,F401
