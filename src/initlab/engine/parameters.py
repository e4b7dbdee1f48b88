"""Where a network's weights and biases come from: one interface, two kinds of storage.

Every parameters object has ``widths`` (``(n_0, n_1, ..., n_L)``, plus the readout size when a
readout layer ``L + 1`` exists), ``weight(layer)`` (shape ``(fan_in, fan_out)``) and
``bias(layer)`` (an array of shape ``(fan_out,)`` or a float). The passes of
:mod:`initlab.engine.network` read nothing else, so the same forward and backward serve:

- :class:`DrawnParameters`: drawn on demand from the run's per-layer streams and never stored
  (step-0 statistics: memory independent of depth; the backward pass draws W_l again);
- :class:`StoredParameters`: arrays held in memory, whether loaded from ``weights.npz``,
  transferred from another network, or trained: updated in place by an optimizer, optionally
  masked (pruning: entries whose mask is 0 stay exactly 0) and with frozen layers that the
  trainer leaves alone. ``StoredParameters.draw(drawn)`` materializes drawn parameters with the
  very same values.

Randomness: one ``SeedSequence`` per run, split by *purpose* with fixed spawn keys, so each
stream is independent of every other setting: the input is ``(0,)``, layer l's weights
``(1, l)``, its bias ``(2, l)``, the loss's draws ``(3,)``; a readout is layer ``L + 1``'s weight
stream. Toggling backward, histograms or the initializer never shifts the input, and a layer's
weights can be drawn again at will. Purposes from 4 on are for the training room: the data
``(4,)``, the minibatch order ``(5,)``, dropout masks ``(6,)`` and the probe batch ``(7,)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

INPUT, WEIGHT, BIAS, LOSS = 0, 1, 2, 3
# The training room's streams: the data set's draws, the minibatch permutations, dropout masks
# and the fixed probe batch the per-layer statistics are measured on. Each has its own stream,
# so changing the initializer (or toggling dropout, or the statistics) never moves the others.
DATA, BATCHES, DROPOUT, PROBE = 4, 5, 6, 7

Sampler = Callable[[np.random.Generator, tuple, np.dtype], np.ndarray]


def stream(seed: int, purpose: int, index: int | None = None) -> np.random.Generator:
    """The generator for one purpose (and layer) of a run seeded with ``seed``."""
    key = (purpose,) if index is None else (purpose, index)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


@dataclass(frozen=True)
class DrawnParameters:
    """Weights and biases drawn on demand from the run's per-layer streams, never stored.

    ``weight_init`` is a sampler ``fn(rng, shape, dtype)`` (an initializer); ``bias_init`` a
    constant or a sampler of bias vectors (shape ``(fan_out,)``). Picklable when the samplers
    are (every registry initializer is).
    """

    widths: tuple[int, ...]
    weight_init: Sampler
    bias_init: float | Sampler
    seed: int
    dtype: np.dtype

    @property
    def layers(self) -> int:
        return len(self.widths) - 1

    def weight(self, layer: int) -> np.ndarray:
        shape = (self.widths[layer - 1], self.widths[layer])
        return self.weight_init(stream(self.seed, WEIGHT, layer), shape, self.dtype)

    def bias(self, layer: int) -> np.ndarray | float:
        if callable(self.bias_init):
            return self.bias_init(stream(self.seed, BIAS, layer), (self.widths[layer],), self.dtype)
        return float(self.bias_init)


class StoredParameters:
    """Weights and biases held as arrays: loaded, transferred, or trained in place.

    ``weights[l - 1]`` is W_l, ``biases[l - 1]`` is b_l (an array, or a float for a constant
    bias that nothing trains). ``masks[l - 1]`` is None or a 0/1 array of W_l's shape:
    :meth:`apply_masks` zeroes the masked entries (an optimizer calls it after each step, so
    pruned weights stay exactly 0). ``frozen`` holds the layers a trainer must not update
    (transfer with frozen layers, greedy layerwise pretraining). The arrays are the object's
    own: the constructor does not copy, :meth:`copy` does.
    """

    def __init__(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray | float],
                 masks: Sequence[np.ndarray | None] | None = None, frozen: Sequence[int] = ()):
        self.weights = list(weights)
        self.biases = list(biases) + [0.0] * (len(self.weights) - len(biases))
        self.masks = list(masks) if masks is not None else [None] * len(self.weights)
        if len(self.biases) != len(self.weights) or len(self.masks) != len(self.weights):
            raise ValueError("one bias and one mask (or None) per weight matrix")
        for l, (w, m) in enumerate(zip(self.weights, self.masks), start=1):
            if m is not None and m.shape != w.shape:
                raise ValueError(f"mask of layer {l} has shape {m.shape}, its weight {w.shape}")
        self.frozen = frozenset(int(l) for l in frozen)

    @classmethod
    def draw(cls, drawn: DrawnParameters, trainable_bias: bool = True) -> "StoredParameters":
        """The arrays ``drawn`` would give, drawn once and kept. With ``trainable_bias`` a
        constant bias becomes an array of that value (so it can be trained)."""
        weights, biases = [], []
        for l in range(1, drawn.layers + 1):
            weights.append(drawn.weight(l))
            b = drawn.bias(l)
            if trainable_bias and not isinstance(b, np.ndarray):
                b = np.full(drawn.widths[l], b, dtype=drawn.dtype)
            biases.append(b)
        return cls(weights, biases)

    @property
    def widths(self) -> tuple[int, ...]:
        return (self.weights[0].shape[0],) + tuple(w.shape[1] for w in self.weights)

    @property
    def layers(self) -> int:
        return len(self.weights)

    def weight(self, layer: int) -> np.ndarray:
        return self.weights[layer - 1]

    def bias(self, layer: int) -> np.ndarray | float:
        return self.biases[layer - 1]

    def trainable(self) -> list[int]:
        """The layers a trainer updates: every layer not in ``frozen``."""
        return [l for l in range(1, self.layers + 1) if l not in self.frozen]

    def set_mask(self, layer: int, mask: np.ndarray | None) -> None:
        """Mask W_layer (0 = pruned) and zero its masked entries now."""
        w = self.weights[layer - 1]
        if mask is not None:
            mask = np.asarray(mask, dtype=w.dtype)
            if mask.shape != w.shape:
                raise ValueError(f"mask of layer {layer} has shape {mask.shape}, its weight {w.shape}")
        self.masks[layer - 1] = mask
        self.apply_masks()

    def apply_masks(self) -> None:
        """Zero every masked entry (in place)."""
        for w, m in zip(self.weights, self.masks):
            if m is not None:
                w *= m

    def copy(self) -> "StoredParameters":
        """An independent copy (arrays copied; masks shared: they are not updated in place)."""
        return StoredParameters([w.copy() for w in self.weights],
                                [b.copy() if isinstance(b, np.ndarray) else b for b in self.biases],
                                list(self.masks), self.frozen)

    def state(self) -> dict[str, np.ndarray]:
        """``{"W1": ..., "b1": ..., "mask1": ...}``: what ``weights.npz`` holds."""
        out: dict[str, np.ndarray] = {}
        for l in range(1, self.layers + 1):
            out[f"W{l}"] = self.weights[l - 1]
            out[f"b{l}"] = np.asarray(self.biases[l - 1])
            if self.masks[l - 1] is not None:
                out[f"mask{l}"] = self.masks[l - 1]
        return out

    def __getstate__(self) -> dict:
        return {"weights": self.weights, "biases": self.biases, "masks": self.masks,
                "frozen": sorted(self.frozen)}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["weights"], state["biases"], state["masks"], state["frozen"])
