"""The training configuration's schema (``initlab train``): frozen dataclasses and their
defaults, written once. Parsing and validation are in :mod:`.train_parse`; the whole format is
described in :mod:`.training`."""

from dataclasses import dataclass, field, fields
from typing import Any

from initlab.config.datainit import PRETRAIN_KEYS, PretrainConfig
from initlab.config.schema import Head, NetworkConfig, Spec, StatsConfig

DTYPES = ("float32", "float64")
NORMS = ("none", "batch", "layer")
LOSSES = ("softmax_ce", "bce", "mse")
METRICS = ("train_acc", "test_acc", "train_loss", "test_loss")
CLIPS = ("norm", "value")
DEFAULT_STEPS = 1000
DEFAULT_THRESHOLD = {"classification": ("train_acc", 0.95), "regression": ("train_loss", 0.01)}


@dataclass(frozen=True)
class DataConfig:
    """``name`` plus the data set's own parameters (``params``, sorted pairs; lists as tuples)."""

    name: str = "circles"
    n_train: int | None = None
    n_test: int | None = None
    standardize: bool = True
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.params}


@dataclass(frozen=True)
class TrainNetworkConfig(NetworkConfig):
    """A run's network with a training net's defaults, plus normalization and dropout."""

    depth: int = 2
    width: int | tuple[int, ...] = 10
    activation: Spec = Spec("relu")
    initializer: Spec = Spec("he")
    norm: str = "none"
    dropout: float = 0.0


@dataclass(frozen=True)
class OptimizerConfig:
    """``name``, ``lr`` and the optimizer's other parameters (sorted pairs, as given)."""

    name: str = "sgd"
    lr: float = 0.01
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True)
class ClipConfig:
    kind: str = "none"  # none | norm | value
    value: float | None = None


@dataclass(frozen=True)
class ThresholdConfig:
    metric: str = "train_acc"
    value: float = 0.95


@dataclass(frozen=True)
class TrainSection:
    steps: int = DEFAULT_STEPS       # updates; from epochs when given (for a pool-sized data set
                                     # without data.n_train: recomputed once the data is loaded)
    epochs: int | None = None
    batch: int | None = None         # None: full batch
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    loss: str = "softmax_ce"
    weight_decay: float = 0.0
    clip: ClipConfig = field(default_factory=ClipConfig)
    lr_schedule: Spec = Spec("constant")
    eval_every: int = 100
    stats_every: int = 500
    probe: int = 256
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)


@dataclass(frozen=True)
class TrainConfig(Head):
    name: str = "train"
    data: DataConfig = field(default_factory=DataConfig)
    network: TrainNetworkConfig = field(default_factory=TrainNetworkConfig)
    train: TrainSection = field(default_factory=TrainSection)
    stats: StatsConfig = field(default_factory=StatsConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)


TOP_FIELDS = tuple(f.name for f in fields(TrainConfig))
DATA_KEYS = ("name", "n_train", "n_test", "standardize")
NETWORK_KEYS = tuple(f.name for f in fields(TrainNetworkConfig))
TRAIN_KEYS = tuple(f.name for f in fields(TrainSection))
STATS_KEYS = tuple(f.name for f in fields(StatsConfig))
SECTION_KEYS = {"data": None, "network": NETWORK_KEYS, "train": TRAIN_KEYS, "stats": STATS_KEYS,
                "pretrain": PRETRAIN_KEYS}
# Keys whose value may be a name or a mapping with a name (a bare name becomes {name: ...} when
# --set gives it a parameter).
NAMED = ("network.activation", "network.initializer", "network.bias", "train.optimizer",
         "train.lr_schedule")
