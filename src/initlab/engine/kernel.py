"""The optional C kernel :mod:`initlab.engine._fused` (``_fused.c``): whether it is built, which
variant runs, and which activations it applies itself. ``KERNEL`` is the one switch every
statistics module reads (``kernel.KERNEL``), so a test or a caller can force the numpy path in
one place; ``DRAW`` the same for the weight draws' kernel :mod:`initlab.engine._draw` (read by
:mod:`initlab.engine.draw`, whose numpy path gives the same bits).
"""

from __future__ import annotations

import numpy as np

try:  # the compiled one-pass kernel; without it, the numpy path of the statistics modules
    from initlab.engine import _fused as KERNEL
except ImportError:  # pragma: no cover - a build without a C compiler
    KERNEL = None

try:  # the weight draws (initlab.engine.draw); without it, _draw_numpy's same draws
    from initlab.engine import _draw as DRAW
except ImportError:  # pragma: no cover - a build without a C compiler
    DRAW = None

# dtypes the kernel handles
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# Activations that the kernel applies itself, by name: (code, parameter name or None).
_KERNEL_ACTS = {"linear": (1, None), "tanh": (2, None), "relu": (3, None),
                "leaky_relu": (4, "negative_slope")}


def _kernel_code(act) -> tuple[int, float] | None:
    """(code, parameter) of ``act`` in the kernel's table, or None."""
    entry = _KERNEL_ACTS.get(act.name) if KERNEL is not None else None
    if entry is None:
        return None
    code, param = entry
    return code, float(act.params[param]) if param else 0.0


def kernel_info() -> dict:
    """What does the per-layer pass: ``{"built": False, "float32_tanh": "numpy"}`` without the C
    kernel (the numpy path), else ``built`` True and, from :func:`initlab.engine._fused.build_info`,
    ``target`` (the instruction-set variant chosen at import: avx512, avx2, baseline or native),
    ``compiler``, ``flags`` and ``tanh_fma`` (how its tanh's exact fused multiply-adds are done),
    with ``float32_tanh`` "tanh_f32" (the kernel's, the same bits in every variant)."""
    if KERNEL is None:
        return {"built": False, "float32_tanh": "numpy"}
    info = KERNEL.build_info()
    return {"built": True, "target": info["target"], "compiler": info["compiler"],
            "flags": info["flags"], "tanh_fma": info["tanh_fma"], "float32_tanh": "tanh_f32"}


def kernel_activation(act, dtype) -> tuple[int, float] | None:
    """(code, parameter) of the activation ``act`` in :func:`initlab.engine._fused.summary`, or None
    when numpy applies it. The kernel's ReLU, leaky ReLU and identity give numpy's values bit
    for bit; its float32 tanh is its own (within 1.08 ulp of the exact tanh over every float32,
    numpy's 1.37 on the machine measured; the same bits on every machine and in every
    instruction-set variant of the kernel: its fused multiply-adds are exact everywhere);
    float64 tanh is numpy's."""
    found = _kernel_code(act)
    if found is not None and found[0] == 2 and np.dtype(dtype) != np.float32:
        return None
    return found


def kernel_derivative(act, dtype) -> tuple[int, float] | None:
    """(code, parameter) for the kernel to form dz = act'(h) * g itself (numpy's operations in
    numpy's order, so the same bits as :func:`initlab.engine.network.local_gradient`), or None: only
    for activations whose derivative is a function of their output."""
    if act.deriv_from != "output" or np.dtype(dtype) not in DTYPES:
        return None
    return _kernel_code(act)
