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
    stops early, as ``| head`` does: the files are written first; and when a signal arrives
    after the result folder was swapped in: the new result is complete, and the message says
    so), 1 internal error, 2 usage or configuration error, 130 interrupted (Ctrl-C), 143
    terminated (SIGTERM). Interrupts and SIGTERM unwind normally, so a result folder being
    written is removed, never left half; 130/143 mean the folder holds what it held before.
    """
    from initlab.io import results

    results.forget_commits()
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
            return _signalled("interrupted", 130)
        return rv if isinstance(rv, int) else 0
    except InitlabError as e:
        print(f"initlab: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        return _signalled("interrupted", 130)
    except ClickException as e:
        print(f"initlab: error: {_usage_message(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return _signalled("interrupted", 130)
    except Terminated:
        return _signalled("terminated", 143)
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


def _signalled(what: str, code: int) -> int:
    """The exit code and line for a signal: ``code`` (130/143) when no result folder was swapped
    in (the folder holds what it held before), else 0: the new result is complete, and the line
    says so (the table or summary may be missing from the terminal)."""
    from initlab.io import results

    done = results.committed()
    if done:
        print(f"initlab: {what} after the result was complete: {done[-1]}/ holds the new result (exit 0)",
              file=sys.stderr)
        return 0
    print(f"initlab: {what}", file=sys.stderr)
    return code


def _late_signals(state: dict) -> None:
    """Handle SIGINT/SIGTERM once the command has returned (``state["rc"]``, its exit code),
    while the interpreter shuts down: one line, and the command's own exit code (a default
    handler would kill the process silently with another code). Before the code is known (the
    instant between the command's end and this), the code follows the folder: 0 when a result
    was swapped in, else 143."""
    import os
    import signal

    from initlab.io import results

    def finished(signum, frame):
        rc = state["rc"] if state["rc"] is not None else (0 if results.committed() else 143)
        try:
            os.write(2, f"initlab: signal while exiting; the command had finished (exit {rc})\n".encode())
        finally:
            os._exit(rc)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, finished)
        except (ValueError, OSError):  # pragma: no cover - not the main thread
            pass


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - stdout without a file descriptor
        pass


def entry() -> None:
    """The console script: :func:`main`, then the exit, with signals during shutdown handled
    (:func:`_late_signals`; tested at the pause point ``exiting``)."""
    import signal

    state: dict = {"rc": None}
    _late_signals(state)  # SIGTERM: main() installs its own and restores this one when it ends
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C during the work: as always
    try:
        state["rc"] = main()
    except KeyboardInterrupt:  # Ctrl-C in the instant after main() returned: its code is lost
        from initlab.io import results

        state["rc"] = 0 if results.committed() else 130
        print(f"initlab: signal while exiting; the command had finished (exit {state['rc']})", file=sys.stderr)
    _late_signals(state)
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            pass
    from initlab.io.results import pause_point

    pause_point("exiting")
    sys.exit(state["rc"])


# Command modules register themselves on ``app`` when imported; they import heavy modules
# (the engine, matplotlib, scipy) inside the commands, so start-up stays quick.
from initlab.cli import run as _run  # noqa: E402,F401
from initlab.cli import compare as _compare, reproduce as _reproduce  # noqa: E402,F401
from initlab.cli import theory as _theory  # noqa: E402,F401
from initlab.cli import train as _train  # noqa: E402,F401
from initlab.cli import sweep as _sweep  # noqa: E402,F401
from initlab.cli import serve as _serve  # noqa: E402,F401
from initlab.cli import ticket as _ticket  # noqa: E402,F401
