"""A sweep's grid: axes of values in the ``--set`` syntax, seeds, and the points they make.

A sweep is a base config (a run config, or a training config with ``--train``), fixed
overrides (``--set``), axes and seeds. An axis is one key and its values (``--grid
network.depth=10,20,50``, read by :func:`initlab.config.scalars.parse_grid`), or a *zip* axis:
several keys whose values vary together (a sweep file's ``zip:`` groups). The points are the
Cartesian product of the axes in the order given (the last axis varies fastest), each run at
every seed (seeds vary fastest of all).

Every point's config is resolved exactly as ``initlab run``/``initlab train`` resolve theirs
(defaults < file < ``--set`` < the grid's values < the seed), and validated, before anything
runs: a value that makes an invalid config is reported with the point that has it.

A point's key is a hash of its fully resolved config (open_lth's content addressing): the
SHA-256 of the canonical JSON of the config (sorted keys, shortest round-trip floats), with the
config's ``name`` left out (a name changes no number) and the kind (``run``/``train``) in. Two
sweeps that reach the same config share its folder; changing any field, a default included,
makes a new one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from initlab.errors import ConfigError, InitlabError

RUN, TRAIN = "run", "train"
SWEEP_KEYS = ("config", "train", "seeds", "set", "grid", "zip", "name")
# More points than this is refused before anything is resolved (a typo, not a study).
MAX_POINTS = 1_000_000


@dataclass(frozen=True)
class Axis:
    """``keys`` vary together: ``values[i]`` gives one value per key (a plain axis has one key)."""

    keys: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Spec:
    """What a sweep runs: the base config file, its kind, fixed ``sets``, the axes and seeds
    (``None``: the config's own seed, one run per point)."""

    config: Path
    kind: str = RUN
    sets: tuple[tuple[str, Any], ...] = ()
    axes: tuple[Axis, ...] = ()
    seeds: int | tuple[int, ...] | None = None  # a count (from the config's seed) or the seeds
    name: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for a in self.axes for k in a.keys)

    @property
    def size(self) -> int:
        n = 1
        for a in self.axes:
            n *= len(a)
        return n * (self.seeds if isinstance(self.seeds, int) else len(self.seeds or (0,)))

    def describe(self) -> list[str]:
        """One line per axis and one for the seeds (``--dry-run``)."""
        from initlab.sweeps.tables import cell

        out = []
        for a in self.axes:
            vals = ", ".join("(" + ", ".join(cell(v) for v in row) + ")" if len(a.keys) > 1 else cell(row[0])
                             for row in a.values)
            out.append(f"{' + '.join(a.keys)} ({len(a)}): {vals}")
        if isinstance(self.seeds, int):
            out.append(f"seed ({self.seeds}): the config's seed and the next {self.seeds - 1}")
        elif self.seeds:
            out.append(f"seed ({len(self.seeds)}): {', '.join(map(str, self.seeds))}")
        return out


@dataclass(frozen=True)
class Point:
    """One run of a sweep: its place in the grid, the grid's values, the seed, the resolved
    config and its key (the hash)."""

    index: int
    values: tuple[tuple[str, Any], ...]
    seed: int
    config: Any = field(repr=False)
    key: str

    @property
    def folder(self) -> str:
        return f"{self.config_kind}-{self.key[:16]}"

    @property
    def config_kind(self) -> str:
        return TRAIN if type(self.config).__name__ == "TrainConfig" else RUN

    def label(self) -> str:
        from initlab.sweeps.tables import cell

        return ", ".join([f"{k}={cell(v)}" for k, v in self.values] + [f"seed={self.seed}"])


# --- reading the grid ----------------------------------------------------------------------

def parse_seeds(text: str | int | list | None, where: str = "--seeds") -> int | tuple[int, ...] | None:
    """``3`` -> the count 3 (seeds base .. base + 2, ``base`` the config's seed, filled in by
    :func:`points`); ``"0,3,7"`` or ``[0, 3, 7]`` -> those seeds."""
    if text is None:
        return None
    from initlab.config.scalars import parse_scalar, split_top

    if isinstance(text, str):
        pieces = [p.strip() for p in split_top(text.strip().strip("[]"))]
        try:
            vals = [parse_scalar(p) for p in pieces]
        except ValueError:
            vals = [None]
        if len(vals) == 1:
            vals = vals[0]
    else:
        vals = text
    if isinstance(vals, int) and not isinstance(vals, bool):
        if not 1 <= vals <= 100_000:
            raise ConfigError(where, f"a seed count must be from 1 to 100000, got {vals}; or a list: 0,3,7")
        return vals
    if not isinstance(vals, list) or not vals or any(not isinstance(v, int) or isinstance(v, bool) or v < 0
                                                     for v in vals):
        raise ConfigError(where, f"expected a count (--seeds 3: seeds 0, 1, 2 after the config's seed) or a "
                                 f"list of non-negative integers (--seeds 0,3,7), got '{text}'")
    if len(set(vals)) != len(vals):
        raise ConfigError(where, f"a seed is given twice in '{text}'")
    return tuple(vals)


def _file_axis_values(key: str, raw: Any, where: str) -> list:
    """A sweep file's values for ``key``: a YAML list, or a string in the ``--grid`` syntax."""
    from initlab.config.scalars import check_axis, parse_grid, parse_set

    if isinstance(raw, str):
        return parse_grid(f"{key}={raw}")[1]
    if not isinstance(raw, list):
        raw = [raw]
    out = []
    for v in raw:
        if isinstance(v, str) and ":" in v:
            v = parse_set(f"{key}={v}")[1]  # the spec syntax, as on the command line
        out.append(v)
    try:
        return check_axis(key, out)
    except ConfigError as e:
        raise ConfigError(f"{where}.{key}", e.detail.replace("--grid: ", "")) from None


def read_file(path: Path) -> tuple[dict, Path]:
    """A sweep file's mapping and the base config's path (relative paths: to the sweep file)."""
    from initlab.io import configfile

    data, _ = configfile.read(path)
    if not isinstance(data, dict):
        raise ConfigError("sweep", f"{path}: a sweep file is a mapping with keys {', '.join(SWEEP_KEYS)}")
    from initlab.errors import suggest

    for k in data:
        if k not in SWEEP_KEYS:
            raise ConfigError(f"sweep.{k}", f"unknown key '{k}'{suggest(str(k), SWEEP_KEYS)}; "
                                            f"valid: {', '.join(SWEEP_KEYS)}")
    if not isinstance(data.get("config"), str):
        raise ConfigError("sweep.config", f"{path}: name the base config file (config: configs/relu_he.yaml)")
    base = Path(data["config"])
    if not base.is_absolute():
        base = path.parent / base
    return data, base


def from_file(path: Path) -> Spec:
    """The :class:`Spec` of a sweep file (the format is in docs/sweeps.md)."""
    data, base = read_file(path)
    axes = []
    grid = data.get("grid") or {}
    if not isinstance(grid, dict):
        raise ConfigError("sweep.grid", "must be a mapping of dotted keys to values")
    for k, raw in grid.items():
        vals = _file_axis_values(str(k), raw, "sweep.grid")
        axes.append(Axis((str(k),), tuple((v,) for v in vals)))
    for i, group in enumerate(data.get("zip") or []):
        where = f"sweep.zip.{i}"
        if not isinstance(group, dict) or not group:
            raise ConfigError(where, "a zip group is a mapping of keys to lists of equal length")
        cols = {str(k): _file_axis_values(str(k), raw, where) for k, raw in group.items()}
        lengths = {k: len(v) for k, v in cols.items()}
        if len(set(lengths.values())) != 1:
            raise ConfigError(where, "the keys of a zip group vary together and need as many values each; got "
                                     + ", ".join(f"{k}: {n}" for k, n in lengths.items()))
        axes.append(Axis(tuple(cols), tuple(zip(*cols.values()))))
    sets = data.get("set") or {}
    if not isinstance(sets, dict):
        raise ConfigError("sweep.set", "must be a mapping of dotted keys to values")
    train = data.get("train", False)
    if not isinstance(train, bool):
        raise ConfigError("sweep.train", f"must be true or false, got {train!r}")
    return Spec(config=base, kind=TRAIN if train else RUN, sets=tuple((str(k), v) for k, v in sets.items()),
                axes=tuple(axes), seeds=parse_seeds(data.get("seeds"), "sweep.seeds"),
                name=data.get("name") or path.stem)


def is_sweep_file(path: Path) -> bool:
    """A YAML file with a top-level ``config:`` key and a ``grid``, ``zip`` or ``seeds`` is a
    sweep file (a run or training config has none of those keys)."""
    try:
        from initlab.io import configfile

        data, _ = configfile.read(path)
    except (ConfigError, OSError):
        return False
    return isinstance(data, dict) and "config" in data and bool({"grid", "zip", "seeds"} & set(data))


def add_axes(spec: Spec, grids: list[tuple[str, list]]) -> Spec:
    """``spec`` with the ``--grid`` axes added after its own."""
    axes = spec.axes + tuple(Axis((k,), tuple((v,) for v in vals)) for k, vals in grids)
    seen = set()
    for k in (k for a in axes for k in a.keys):
        if k in seen:
            raise ConfigError(k, "--grid: this key is on two axes; give each key once (a zip group varies "
                                 "several keys together)")
        seen.add(k)
    return Spec(spec.config, spec.kind, spec.sets, axes, spec.seeds, spec.name)


# --- the points ------------------------------------------------------------------------------

def config_key(cfg) -> str:
    """The hex SHA-256 of ``cfg`` fully resolved, without its name (see the module docstring)."""
    d = plain(cfg)
    d.pop("name", None)
    kind = TRAIN if type(cfg).__name__ == "TrainConfig" else RUN
    text = json.dumps({"kind": kind, "config": d}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def plain(cfg) -> dict:
    """The plain-data form of a run or training config (what ``config.yaml`` holds)."""
    if type(cfg).__name__ == "TrainConfig":
        from initlab.config.training import to_dict
    else:
        from initlab.config import to_dict
    return to_dict(cfg)


def _resolver(spec: Spec):
    """``resolve(sets, seed) -> config`` for the sweep's base file."""
    from initlab.io import configfile

    data, lines = configfile.read(spec.config)
    stem = spec.config.stem
    if spec.kind == TRAIN:
        from initlab.config import training

        def resolve(sets, seed):
            return training.resolve(data, lines=lines, default_name=stem, sets=sets, seed=seed)[0]
    else:
        from initlab.config import resolve as run_resolve

        def resolve(sets, seed):
            return run_resolve(data, lines=lines, default_name=stem, sets=sets, seed=seed, check_draws=True)
    return resolve


def _grid_error(e: ConfigError, keys: tuple[str, ...], label: str | None) -> ConfigError:
    detail = e.detail
    if e.field in keys:
        detail = detail.replace("--set:", "--grid:")
    if label:
        detail += f" (sweep point {label})"
    return ConfigError(e.field, detail, e.line)


def points(spec: Spec) -> list[Point]:
    """Every point of ``spec``, resolved and validated (the first invalid point is a
    :class:`ConfigError` naming its field and the point)."""
    if spec.size > MAX_POINTS:
        raise InitlabError(f"the grid has {spec.size} points, more than {MAX_POINTS} (MAX_POINTS)")
    resolve = _resolver(spec)
    try:
        base = resolve(list(spec.sets), None)
    except ConfigError as e:
        raise _grid_error(e, (), None) from None
    seeds: tuple[int, ...]
    if spec.seeds is None:
        seeds = (base.seed,)
    elif isinstance(spec.seeds, int):
        seeds = tuple(range(base.seed, base.seed + spec.seeds))
    else:
        seeds = spec.seeds
    # every key checked on the base config first: an unknown key is named once, not per point
    for a in spec.axes:
        for k, v in zip(a.keys, a.values[0]):
            try:
                resolve(list(spec.sets) + [(k, v)], None)
            except ConfigError as e:
                if e.field == k and ("unknown key" in e.detail or "has no sub-key" in e.detail
                                     or "is a section" in e.detail):
                    raise _grid_error(e, (k,), None) from None
    out, keys = [], spec.keys
    rows = itertools.product(*[a.values for a in spec.axes]) if spec.axes else [()]
    for combo in rows:
        values = tuple((k, v) for a, row in zip(spec.axes, combo) for k, v in zip(a.keys, row))
        for seed in seeds:
            i = len(out)
            try:
                cfg = resolve(list(spec.sets) + list(values), seed)
            except ConfigError as e:
                label = ", ".join([f"#{i}"] + [f"{k}={v!r}" for k, v in values] + [f"seed={seed}"])
                raise _grid_error(e, keys, label) from None
            out.append(Point(i, values, seed, cfg, config_key(cfg)))
    return out


def with_seeds(spec: Spec, seeds) -> Spec:
    return Spec(spec.config, spec.kind, spec.sets, spec.axes, seeds, spec.name)


def spec_document(spec: Spec) -> dict:
    """``sweep.json``'s description of the grid (values as the table writes them)."""
    from initlab.sweeps.tables import cell

    return {"config": str(spec.config), "kind": spec.kind, "name": spec.name,
            "set": {k: cell(v) for k, v in spec.sets},
            "axes": [{"keys": list(a.keys), "values": [[cell(v) for v in row] for row in a.values]}
                     for a in spec.axes],
            "size": spec.size}
