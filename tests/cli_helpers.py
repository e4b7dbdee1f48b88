"""Helpers shared by the CLI tests (tests/ is on sys.path under pytest)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

from initlab.cli import main


def invoke(args: list[str]) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    err, out = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(out):
        rc = main(args)
    return rc, out.getvalue(), err.getvalue()


ANSI = r"\x1b\[[0-9;?]*[A-Za-z]"


def as_terminal(monkeypatch, args: list[str], columns: int = 80) -> str:
    """Run the CLI as if stdout were a terminal of ``columns`` columns (rich reads
    TTY_COMPATIBLE=1 as a terminal): stdout with its escape codes removed. Asserts exit 0."""
    import re

    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", str(columns))
    rc, out, err = invoke(args)
    assert rc == 0, err
    return re.sub(ANSI, "", out)
