"""Transfer: layers copied from a ``weights.npz`` another initlab run wrote.

Two layouts are read (both written by initlab): ``initlab run --save-weights`` stores ``W1``,
``b1``, ..., (``W_readout`` for a softmax readout); ``initlab train --save-weights`` stores
``init_W1``, ``init_b1``, ... and ``final_W1``, ... (and ``final_mask1`` ... for a pruned
net), layer L + 1 being the readout; ``which`` picks ``final`` (the trained weights, the
default) or ``init``. A copied layer's weight, bias and mask are the file's arrays, bit for bit
when the dtypes agree (a float64 file into a float32 network is rounded once, to nearest).

Every refusal is a :class:`~initlab.errors.ConfigError` naming ``network.initializer.path``
(missing or unreadable file), ``.layers`` (a layer the file lacks) or the layer whose shape
differs, so ``initlab`` exits 2 before anything is written.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np

from initlab.engine.parameters import StoredParameters
from initlab.errors import ConfigError

FIELD = "network.initializer"
_KEY = re.compile(r"^(?:(init|final)_)?(W|b|mask)(\d+)$")


def read(path: str | Path, which: str = "final") -> dict[int, dict[str, np.ndarray]]:
    """``{layer: {"W": ..., "b": ..., "mask": ...}}`` from an initlab ``weights.npz``."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{FIELD}.path", f"no such file: {path} (write one with initlab train --save-weights "
                                           "or initlab run --save-weights)")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ConfigError(f"{FIELD}.path", f"{path} is not a weights.npz initlab wrote ({e})") from None
    prefixed = any(k.startswith(("init_", "final_")) for k in arrays)
    out: dict[int, dict[str, np.ndarray]] = {}
    for k, a in arrays.items():
        m = _KEY.match(k)
        if m is None or (prefixed and m.group(1) != which) or (not prefixed and m.group(1)):
            continue
        out.setdefault(int(m.group(3)), {})[m.group(2)] = a
    if "W_readout" in arrays and not prefixed and out:
        out.setdefault(max(out) + 1, {})["W"] = arrays["W_readout"]
    out = {l: d for l, d in out.items() if "W" in d}
    if not out:
        raise ConfigError(f"{FIELD}.path", f"{path} holds no weights (W1, final_W1, ...): not a weights.npz "
                                           "initlab wrote")
    return dict(sorted(out.items()))


def apply(params: StoredParameters, stored: dict[int, dict[str, np.ndarray]], layers: tuple[int, ...],
          freeze: tuple[int, ...], path: str) -> list[dict]:
    """Copy ``layers`` (``()``: every layer the file has, up to the network's) of ``stored`` into
    ``params`` in place, then freeze ``freeze``. Returns one row per network layer."""
    n = params.layers
    chosen = layers or tuple(l for l in stored if l <= n)
    for key, ls in (("layers", chosen), ("freeze", freeze)):
        for l in ls:
            if l > n:
                raise ConfigError(f"{FIELD}.{key}", f"layer {l} is beyond the network's {n} weight layers "
                                                    f"(1..{n}; {n} is the readout)")
    for l in chosen:
        if l not in stored:
            have = ", ".join(str(k) for k in stored)
            raise ConfigError(f"{FIELD}.layers", f"layer {l} is not in {path} (it has layers {have})")
        w_net = params.weights[l - 1]
        w = stored[l]["W"]
        if w.shape != w_net.shape:
            raise ConfigError(f"{FIELD}.layers", f"layer {l}: {path} has W{l} of shape {tuple(w.shape)}, the "
                                                 f"network's W{l} is {tuple(w_net.shape)} (fan_in, fan_out)")
        params.weights[l - 1] = np.array(w, dtype=w_net.dtype, copy=True)
        b = stored[l].get("b")
        if b is not None:
            b = np.asarray(b)
            if b.ndim == 0:
                b = np.full(w_net.shape[1], b, dtype=w_net.dtype)
            if b.shape != (w_net.shape[1],):
                raise ConfigError(f"{FIELD}.layers", f"layer {l}: {path} has b{l} of shape {tuple(b.shape)}, "
                                                     f"the network's is ({w_net.shape[1]},)")
            params.biases[l - 1] = np.array(b, dtype=w_net.dtype, copy=True)
        mask = stored[l].get("mask")
        if mask is not None:
            params.set_mask(l, mask)
    params.frozen = frozenset(freeze)
    return [{"layer": l, "width": params.widths[l], "transferred": l in chosen, "frozen": l in freeze}
            for l in range(1, n + 1)]
