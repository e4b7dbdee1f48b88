"""Progress bars for long work: the engine reports, the CLI renders.

The lower floors never import rich: a long computation takes a plain callback
``report(task, done, total)`` (a task's name, how many of its steps are done, how many there
are) and calls it as it goes: ``runs.experiment.run`` per layer, ``runs.compare.run`` per
initializer and seed, ``theory.probes`` per network, the training loop per step. :func:`bars`
turns those calls into rich progress bars (one line per task, with its count and time left),
on stderr-free stdout only when it is a terminal and the user did not ask for ``-q``: in a
pipe, a file or a test nothing is drawn and the callback is ``None`` (no cost at all).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Optional

Report = Callable[[str, int, int], None]


@contextmanager
def bars(console, quiet: bool = False) -> Iterator[Optional[Report]]:
    """``with bars(console, quiet) as report:`` -- ``report`` is ``None`` when nothing should be
    drawn (``-q``, or stdout not a terminal), else a callback that draws. Bars vanish when done
    (``transient``), so the table that follows starts on a clean screen."""
    if quiet or not console.is_terminal:
        yield None
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=20), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                        console=console, transient=True)
    tasks: dict[str, int] = {}

    def report(task: str, done: int, total: int) -> None:
        if task not in tasks:
            tasks[task] = progress.add_task(task, total=total)
        progress.update(tasks[task], completed=done, total=total)
        if done >= total and task in tasks:  # a finished task leaves: the next one takes its line
            progress.remove_task(tasks.pop(task))

    with progress:
        yield report
