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
