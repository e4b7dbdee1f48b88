"""Finite-width measurements that sit beside the theory: fixed points of the length and
correlation maps, Jacobian spectra of real networks. Pure numpy; randomness from explicit seeds.

These are the empirical halves of ``initlab phase --empirical`` and ``initlab jacobian``; the
predictions are in :mod:`initlab.theory`.
"""

from __future__ import annotations

import math

import numpy as np

from initlab.engine import initializers, network
from initlab.engine.parameters import BIAS, INPUT, WEIGHT, DrawnParameters, stream
from initlab import theory
from initlab.engine.activations import Activation


class _LastPreact(network.Observer):
    """Keeps a copy of the last layer's pre-activations."""

    def __init__(self, depth: int):
        self.depth, self.z = depth, None

    def preact(self, layer, z):
        if layer == self.depth:
            self.z = z.copy()


def measure_fixed_points(act: Activation, sw2: float, sb2: float, width: int = 1000, depth: int = 30,
                         c0: float = 0.5, seed: int = 0) -> dict:
    """Propagate two unit-length-squared inputs with correlation ``c0`` through ``depth`` layers
    of width ``width`` with W ~ N(0, sw2 / fan_in), b ~ N(0, sb2), and measure at the last
    layer ``q`` (mean squared pre-activation over units and both inputs) and ``c`` (the
    pre-activations' correlation, Poole et al. 2016 eq. 4's empirical counterpart)."""
    rng0 = stream(seed, INPUT)
    g = rng0.standard_normal((2, width))
    # two inputs with per-entry second moment 1 and correlation c0
    x = np.empty_like(g)
    x[0] = g[0]
    x[1] = c0 * g[0] + math.sqrt(1 - c0 * c0) * g[1]
    weights = initializers.get("normal", std=math.sqrt(sw2 / width))
    biases = initializers.get("normal", std=math.sqrt(sb2)) if sb2 > 0 else 0.0
    params = DrawnParameters((width,) * (depth + 1), weights, biases, seed, np.dtype(np.float64))
    last = _LastPreact(depth)
    network.forward(x, params, act, depth, last)
    z = last.z if depth else x
    q = float(np.mean(z * z))
    n0, n1 = float(np.dot(z[0], z[0])), float(np.dot(z[1], z[1]))
    c = float(np.dot(z[0], z[1]) / math.sqrt(n0 * n1)) if n0 > 0 and n1 > 0 else float("nan")
    return {"sw2": sw2, "sb2": sb2, "q": q, "c": c, "width": width, "depth": depth, "c0": c0}


def jacobian_study(act: Activation, init_specs: dict[str, initializers.Initializer], width: int,
                   depths: list[int], sb2: float, seeds: int, seed: int = 0,
                   q_in: float = 1.0, report=None) -> tuple[list[dict], dict]:
    """Input-output Jacobian spectra of nets built with each initializer.

    For each label and seed: one net of ``max(depths)`` layers of ``width``, one input
    ``x = act(sqrt(q_in) g)``, g ~ N(0, I) (an activation vector of a layer whose
    pre-activations have second moment ``q_in``: with ``q_in = q*`` every layer sits at the
    fixed point, as in Pennington et al.), the singular values of the Jacobian of the first d layers for every d in
    ``depths`` (Pennington, Schoenholz & Ganguli 2017). Per (label, depth) returns the mean
    squared singular value (measured, averaged over seeds) and its mean-field prediction
    prod_l chi_l (:func:`initlab.theory.predicted_jacobian_gain`, the per-layer chi along the
    length-map trajectory from E[x^2] = 1), the mean, std, min and max singular value and the
    fraction within [0.5, 2]. Also returns the pooled singular values per label and depth for
    the figure. ``report(task, done, total)``, when given, hears of each network done."""
    dmax = max(depths)
    rows, spectra = [], {}
    done, total = 0, len(init_specs) * seeds
    for label, init in init_specs.items():
        pooled: dict[int, list[np.ndarray]] = {d: [] for d in depths}
        for s in range(seed, seed + seeds):
            weights = [init(stream(s, WEIGHT, l), (width, width), np.float64)
                       for l in range(1, dmax + 1)]
            biases = [stream(s, BIAS, l).standard_normal(width) * math.sqrt(sb2)
                      for l in range(1, dmax + 1)]
            x = act.fn(stream(s, INPUT).standard_normal(width) * math.sqrt(q_in))
            for d, sv in theory.jacobian_spectra_at_depths(act, weights, biases, x, depths).items():
                pooled[d].append(sv)
            done += 1
            if report is not None:
                report("Jacobian networks", done, total)
        _, var = init.moments(width, width)
        m2 = float(theory.activation_moments(act, q_in)["second"])
        for d in depths:
            sv = np.concatenate(pooled[d])
            pred_rows = theory.predict_layers(act, [width] * (d + 1), [var] * d, [sb2] * d, m2, 1.0)
            rows.append({
                "initializer": label, "depth": d, "seeds": seeds,
                "mean_sq_singular_value": float(np.mean([np.mean(v * v) for v in pooled[d]])),
                "predicted_mean_sq": float(theory.predicted_jacobian_gain(pred_rows)),
                "sv_mean": float(sv.mean()), "sv_std": float(sv.std()),
                "sv_min": float(sv.min()), "sv_max": float(sv.max()),
                "frac_in_0.5_2": float(np.mean((sv >= 0.5) & (sv <= 2.0))),
            })
            spectra.setdefault(label, {})[d] = sv
    return rows, spectra


def glorot_layer_jacobians(width: int = 1000, depth: int = 5, seed: int = 0, report=None) -> list[dict]:
    """Average singular value of each layer's Jacobian ``W_l D_l`` for Glorot & Bengio's
    tanh net (2010, sec. 4.2.2: about 0.5 with the standard init U[-1/sqrt(n), 1/sqrt(n)],
    about 0.8 with the normalized init U[+-sqrt(6 / (n_in + n_out))]). ``report(task, done,
    total)`` hears of each initializer done."""
    from initlab.engine.activations import get as get_act

    act = get_act("tanh")
    inits = {
        "standard U[-1/sqrt(n), 1/sqrt(n)]": initializers.get("uniform", low=-1 / math.sqrt(width),
                                                               high=1 / math.sqrt(width)),
        "normalized (xavier_uniform)": initializers.get("xavier_uniform"),
    }
    out = []
    for label, init in inits.items():
        weights = [init(stream(seed, WEIGHT, l), (width, width), np.float64)
                   for l in range(1, depth + 1)]
        x = stream(seed, INPUT).standard_normal(width)
        svs = theory.per_layer_jacobian_singular_values(act, weights, None, x)
        out.append({"initializer": label, "width": width, "layers": depth,
                    "mean_singular_value": float(np.mean([s.mean() for s in svs])),
                    "per_layer": [float(s.mean()) for s in svs]})
        if report is not None:
            report("Glorot per-layer Jacobians", len(out), len(inits))
    return out
