"""The experiment config's schema: frozen dataclasses, their defaults and the fixed choices.

Every default is written once, here, as a dataclass default; the parser (:mod:`.parse`), the
``--set`` machinery (:mod:`.overrides`) and the CLI help read them from these classes. The
records are plain frozen dataclasses of numbers, strings and tuples: hashable, comparable and
picklable (they travel in result records and to worker processes). Standard library only.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from initlab.errors import suggest

# A single layer's arrays above this many bytes is refused as an impossible size.
MAX_ARRAY_BYTES = 8 * 2**30
# More histogram bins than this is refused (a typo, not a study).
MAX_BINS = 100_000
# network.depth above this is refused before the widths are built: the run keeps one tuple
# entry, one statistics row and one Python-level loop step per layer (plus a parameter array
# each), so 10^5 layers is already a long run and 10^8 would build gigabytes of bookkeeping.
# The deepest studies (signal propagation to depth 10^3-10^4) stay well inside it.
MAX_DEPTH = 100_000


def fmt_value(v: Any) -> str:
    """A parameter value as text: floats in ``%g`` (``0.01``, ``1e-05``), the rest with ``str``."""
    return f"{v:g}" if isinstance(v, float) else str(v)


@dataclass(frozen=True)
class Spec:
    """A registry name with parameters: ``tanh``, ``{name: normal, std: 0.01}``.

    ``params`` is a tuple of ``(key, value)`` pairs sorted by key (not a dict), so a spec is
    hashable and two specs with the same parameters compare equal."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    def to_yaml(self) -> str | dict:
        if not self.params:
            return self.name
        return {"name": self.name, **{k: list(v) if isinstance(v, tuple) else v for k, v in self.params}}

    def label(self) -> str:
        if not self.params:
            return self.name
        return self.name + "(" + ", ".join(f"{k}={fmt_value(v)}" for k, v in self.params) + ")"


@dataclass(frozen=True)
class InputConfig:
    batch: int = 1000
    dim: int = 500
    distribution: str = "normal"  # normal | uniform
    mean: float = 0.0
    std: float = 1.0
    low: float | None = None  # uniform only; default mean -+ sqrt(3) std (unit variance)
    high: float | None = None


@dataclass(frozen=True)
class NetworkConfig:
    depth: int = 10
    width: int | tuple[int, ...] = 500
    activation: Spec = Spec("tanh")
    initializer: Spec = Spec("xavier")
    bias: float | Spec = 0.0

    @property
    def widths(self) -> tuple[int, ...]:
        """Hidden widths, one per layer (``depth`` entries)."""
        if isinstance(self.width, tuple):
            return self.width
        return (self.width,) * self.depth


@dataclass(frozen=True)
class BackwardConfig:
    enabled: bool = False
    loss: str = "random"  # random | mse | softmax_ce
    classes: int = 10  # softmax_ce readout size


@dataclass(frozen=True)
class StatsConfig:
    histograms: bool = True
    bins: int = 50
    range: tuple[float, float] | None = None  # activation histogram range; None: the activation's


@dataclass(frozen=True)
class Head:
    """What every experiment file starts with: its name, seed and dtype."""

    name: str = "experiment"
    seed: int = 0
    dtype: str = "float64"


@dataclass(frozen=True)
class Config(Head):
    input: InputConfig = field(default_factory=InputConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    backward: BackwardConfig = field(default_factory=BackwardConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)

    def widths(self) -> tuple[int, ...]:
        """All widths, input first: ``(dim, n_1, ..., n_L)``."""
        return (self.input.dim,) + self.network.widths


DTYPES = ("float32", "float64")
DISTRIBUTIONS = ("normal", "uniform")
LOSSES = ("random", "mse", "softmax_ce")
SECTIONS = {"input": InputConfig, "network": NetworkConfig, "backward": BackwardConfig,
            "stats": StatsConfig}
SPEC_FIELDS = ("network.activation", "network.initializer", "network.bias")
TOP_FIELDS = tuple(f.name for f in fields(Config))
# How errors name the whole document (its dotted path is empty).
TOP_LABEL = "config"


def default(cls: type, name: str) -> Any:
    """The default of field ``name`` of the config dataclass ``cls`` (``default(InputConfig, "batch")``)."""
    for f in fields(cls):
        if f.name == name:
            return f.default if f.default is not MISSING else f.default_factory()
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def known_fields() -> dict[str, tuple[str, ...]]:
    """Section name -> its keys; ``""`` -> the top-level keys."""
    out = {"": TOP_FIELDS}
    for name, cls in SECTIONS.items():
        out[name] = tuple(f.name for f in fields(cls))
    return out


def unknown_key(key: str, valid: tuple[str, ...] | list[str]) -> str:
    """``unknown key 'depht' (did you mean 'depth'?); valid: depth, width, ...``."""
    return f"unknown key '{key}'{suggest(key, valid)}; valid: {', '.join(valid)}"
