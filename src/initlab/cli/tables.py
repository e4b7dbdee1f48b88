"""Every table the CLI prints, fitted to the terminal by one function: :func:`show`.

The rules (README, "Reading the output"):

- On a terminal a table never wraps a number or a header. When it is wider than the terminal,
  first the long headers take their short form (``xavier std`` -> ``xavier`` over ``std``), then
  columns leave in the order each command states (:attr:`Col.drop`: 1 leaves first; ``None``
  never leaves), and one line under the table names what was left out and the file that has
  every column. Columns with no value in any row are left out silently.
- Free text (a formula, a source) may wrap at spaces (:attr:`Col.wrap`); names never wrap.
- When stdout is not a terminal (a pipe, a file) nothing is fitted and nothing wraps: the whole
  table at its natural width, for ``grep`` and ``cut``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

# The border style of every table: a rule under the header, no vertical lines (the cheapest in
# columns that still reads as a table).
PAD = (0, 1)


@dataclass(frozen=True)
class Col:
    """One column: its header, how it aligns, and how it gives way to a narrow terminal.

    ``drop``: the order in which the column leaves when the table does not fit (1 first; None:
    always shown). ``short``: a shorter header (a newline makes it two lines) tried before any
    column leaves. ``wrap``: free text that may wrap at spaces, never narrower than
    ``min_width``. Columns with the same ``drop`` leave together."""

    header: str
    justify: str = "right"
    drop: int | None = None
    short: str | None = None
    wrap: bool = False
    min_width: int = 12
    group: str | None = None  # how the note names it when it leaves (e.g. "sat % columns")


def _table(cols: Sequence[Col], rows, title, styles, short: bool, measure: bool, lines: bool = False):
    from rich import box
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=PAD,
              show_edge=False, show_lines=lines)
    for c in cols:
        head = c.short if (short and c.short) else c.header
        if c.wrap:
            # Measured at its narrowest readable width; rendered free to take what is left.
            t.add_column(head, justify=c.justify, overflow="fold",
                         width=max(c.min_width, *(len(x) for x in head.split())) if measure else None,
                         min_width=None if measure else c.min_width)
        else:
            t.add_column(head, justify=c.justify, no_wrap=True)
    for i, r in enumerate(rows):  # text is text, never rich markup ("[alias of he]" stays)
        t.add_row(*(Text(x) if isinstance(x, str) else x for x in r), style=styles[i] if styles else None)
    return t


def filled(cols, rows) -> list[int]:
    """The columns with a value in some row (an empty one says nothing)."""
    return [i for i in range(len(cols)) if any(r[i] for r in rows)] if rows else list(range(len(cols)))


def natural_width(console, table) -> int:
    from rich.measure import Measurement

    return Measurement.get(console, console.options.update(max_width=1_000_000), table).maximum


def fit(console, cols: Sequence[Col], rows: Sequence[Sequence[str]], width: int,
        title: str | None = None) -> tuple[list[int], bool]:
    """Which columns (indices) to show, and whether with short headers, so that the table is at
    most ``width`` columns wide. Empty columns are left out first; if even the columns that
    never leave are too wide, they are all kept (the terminal wraps, no number is cut)."""
    keep = filled(cols, rows)

    def width_of(idx, short):
        sub = [cols[i] for i in idx]
        return natural_width(console, _table(sub, [[r[i] for i in idx] for r in rows], None, None, short, True))

    if width_of(keep, False) <= width:
        return keep, False
    ranks = sorted({cols[i].drop for i in keep if cols[i].drop is not None})
    shown = list(keep)
    while True:
        if width_of(shown, True) <= width or not ranks:
            return shown, True
        rank = ranks.pop(0)  # columns of one rank (one quantity for every initializer) leave together
        shown = [i for i in shown if cols[i].drop != rank]


def show(console, cols: Sequence[Col], rows: Sequence[Sequence[str]], *, title: str | None = None,
         styles: Sequence[str | None] | None = None, files: str = "the result files",
         lines: bool = False) -> list[str]:
    """Print ``rows`` (cells as text) under ``cols`` on ``console``, fitted to a terminal's
    width (module docstring); ``lines`` rules off the rows (multi-line text cells). Returns the headers left out (a note under the table names them
    and ``files``, where every column is)."""
    rows = [list(r) for r in rows]
    if console.is_terminal:
        shown, short = fit(console, cols, rows, console.width, title)
    else:
        shown, short = filled(cols, rows), False
    table = _table([cols[i] for i in shown], [[r[i] for i in shown] for r in rows], title, styles, short, False,
                   lines and console.is_terminal)
    if console.is_terminal and natural_width(console, table) > console.width and not any(c.wrap for c in cols):
        console.print(table, crop=False, width=natural_width(console, table))  # wider than the terminal
    else:
        console.print(table, crop=False)
    gone = sorted((c.drop, i) for i, c in enumerate(cols)
                  if i not in shown and any(r[i] for r in rows) and c.drop is not None)
    left = list(dict.fromkeys(cols[i].group or cols[i].header for _, i in gone))  # in the order they left
    if left:
        console.print(f"(not shown at {console.width} columns: {', '.join(left)}; all in {files})",
                      markup=False, highlight=False)
    return left
