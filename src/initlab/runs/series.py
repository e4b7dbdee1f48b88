"""The records of a comparison: an entry (a label and its config), a series (an entry's runs,
one per seed) and the comparison itself (its long-form rows). No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from initlab.config import Config
from initlab.runs.experiment import RunResult


@dataclass(frozen=True)
class Entry:
    """One line of a comparison: a label (the initializer's label unless given) and a config."""

    key: str
    label: str
    config: Config


@dataclass
class Series:
    """One entry's runs, one per seed (``runs[i]`` has seed ``seeds[i]``)."""

    entry: Entry
    runs: list[RunResult]

    @property
    def seeds(self) -> list[int]:
        return [r.config.seed for r in self.runs]

    @property
    def depth(self) -> int:
        return self.runs[0].depth

    def values(self, column: str, layer: int) -> list[float | None]:
        return [r.rows[layer].get(column) for r in self.runs]


@dataclass
class Comparison:
    series: list[Series]
    seeds: int = 1
    verdicts: list = field(default_factory=list)  # one Verdict per series

    @property
    def backward(self) -> bool:
        return any(s.entry.config.backward.enabled for s in self.series)

    def run_columns(self) -> list[str]:
        """The union of the runs' row columns, in order of first appearance (extra columns
        such as ``predicted_*`` flow through)."""
        cols: dict[str, None] = {}
        for s in self.series:
            for r in s.runs:
                for row in r.rows:
                    cols.update(dict.fromkeys(row))
        return list(cols)

    def columns(self, case: bool = False, seed: bool = True) -> list[str]:
        """The long table's columns: ``seed`` always (one schema whatever --seeds is)."""
        return (["case"] if case else []) + ["initializer"] + (["seed"] if seed else []) + self.run_columns()

    def long_rows(self, case: bool = False, seed: bool = True) -> list[dict]:
        """Long-form rows: one per (entry, seed, layer), the run columns plus ``initializer``
        and ``seed`` (and ``case``)."""
        out = []
        for s in self.series:
            for r in s.runs:
                for row in r.rows:
                    d = {"initializer": s.entry.label, **row}
                    if case:
                        d["case"] = s.entry.key
                    if seed:
                        d["seed"] = r.config.seed
                    out.append(d)
        return out
