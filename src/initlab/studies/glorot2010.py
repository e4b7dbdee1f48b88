"""glorot2010: X. Glorot, Y. Bengio, Understanding the difficulty of training deep feedforward
neural networks, AISTATS 2010: eqs. 1, 5-7, 16 and Figs. 6-8 (standard vs normalized
initialization of 5 tanh layers). Configs: ``initlab/studies/configs/glorot2010_*.yaml``.
"""

from __future__ import annotations

import math

from initlab.studies.framework import (Case, Check, Claim, Figure, Measured, Study, div, mf_factor, mf_ratio,
                                       packaged)

SEEDS = 3
GL_SE = "per-network sd {sd} (estimated over 10 seeds), 3 seeds: SE {se}; tolerance >= 5 SE"


def _rms_ratio(m: Measured, case: str, l: int) -> list[float | None]:
    """preact_std_l / sqrt(E[h_{l-1}^2]) per seed."""
    out = []
    for r in m.runs(case):
        prev = r.rows[l - 1]
        rms = math.sqrt(prev["act_std"] ** 2 + prev["act_mean"] ** 2)
        out.append(div(r.rows[l]["preact_std"], rms))
    return out


def _geo(per_layer: list[list[float | None]]) -> list[float | None]:
    """Per seed, the geometric mean over the layers of per-layer lists."""
    out = []
    for vals in zip(*per_layer):
        if any(v is None or v <= 0 for v in vals):
            out.append(None)
        else:
            out.append(math.exp(sum(math.log(v) for v in vals) / len(vals)))
    return out


def _div_lists(a: list, b: list) -> list:
    return [div(x, y) for x, y in zip(a, b)]


def _mf_near_zero(m: Measured, case: str, layer: int, t: float) -> float:
    """P(|tanh(sqrt(q) u)| < t) = P(|u| < atanh(t) / sqrt(q))."""
    q = m.mf(case)[layer]["q"]
    return math.erf(math.atanh(t) / math.sqrt(2 * q))


STUDY = Study(
    name="glorot2010",
    title="Glorot & Bengio 2010: standard vs normalized initialization",
    source="X. Glorot, Y. Bengio, Understanding the difficulty of training deep feedforward neural "
           "networks, AISTATS 2010: eqs. 1, 5-7, 16 and Figs. 6-8",
    setup="5 hidden tanh layers of 1000 units, softmax readout to 10 classes (negative log-likelihood, "
          "random labels), biases 0, input N(0, 1) of dimension 1000 (so the fan-in is 1000 in every layer, "
          "the readout included), batch 500, float64, seeds 0, 1, 2. Standard: W ~ U[-1/sqrt(1000), "
          "1/sqrt(1000)] (n Var[W] = 1/3); normalized: xavier_uniform, W ~ U[+-sqrt(6 / (n_j + n_j+1))] "
          "(n Var[W] = 1). Configs `initlab/studies/configs/glorot2010_standard.yaml`, `..._normalized.yaml`.",
    notes="""\
- **Eq. 5 forward**: Var[s^l] = n Var[W] E[(z^{l-1})^2] holds for any activation when W is zero-mean and
  independent of the layer input; with standard init the factor is n Var[W] = 1000 x (2/sqrt(1000))^2 / 12
  = 1/3, so the pre-activation std is sqrt(1/3) = 0.577 times the previous activation's rms. Through the
  tanh the activation std then shrinks a little more each layer; the length map
  q_l = (1/3) E[tanh(sqrt(q_{l-1}) u)^2] gives the per-layer values.
- **Eq. 6 backward**: Var[dC/dz^{l-1}] = n Var[W] E[tanh'(s^l)^2] Var[dC/dz^l], so the back-propagated
  gradient std shrinks toward the input by sqrt(1/3 E[tanh'^2]) ~ 0.56 per layer with standard init
  and by only sqrt(E[tanh'^2]) (~0.85-0.95) with normalized init (Fig. 7).
- **Eq. 7 (and 14)**: the weight gradient dC/dW^l = z^{l-1 T} dC/ds^l combines the two, and the forward
  shrinking and the backward shrinking cancel: its std is roughly the same at every layer for both
  inits (Fig. 8).
- **Fig. 6**: with standard init the activations concentrate at 0 as depth grows: the fraction of
  |z| < 0.2 grows from layer 1 to layer 5 (mean-field value from the same length map).
- Not checked: the Jacobian singular values (0.8 vs 0.5) and the training curves.
""",
    cases=(
        Case("standard", "standard U[+-1/sqrt(n)]", packaged("glorot2010_standard.yaml")),
        Case("normalized", "normalized (xavier_uniform)", packaged("glorot2010_normalized.yaml")),
    ),
    seeds=SEEDS,
    claims=(
        Claim("glorot2010-1", "standard", "eq. 5: each layer multiplies the variance by n Var[W] = 1/3 "
              "(pre-activation std = sqrt(1/3) x previous rms)", math.sqrt(1 / 3), "closed form (eq. 5, n Var[W] = 1/3)",
              lambda m: _geo([_rms_ratio(m, "standard", l) for l in range(1, 6)]),
              "preact std / previous activation rms, geometric mean of layers 1-5",
              Check("rel", 0.01), GL_SE.format(sd="0.07%", se="0.04%")),
        Claim("glorot2010-2", "standard", "Fig. 6 / eq. 5: activations shrink layer by layer (std layer 5 / layer 1)",
              mf_ratio("standard", "std", 5, 1), "mean field (length map)",
              lambda m: m.ratio("standard", "act_std", 5, 1), "act std, layer 5 / layer 1",
              Check("rel", 0.02), GL_SE.format(sd="0.34%", se="0.2%")),
        Claim("glorot2010-3", "standard", "Fig. 6: the peak at 0 grows with depth (fraction |z| < 0.2, layer 5 / layer 1)",
              lambda m: _mf_near_zero(m, "standard", 5, 0.2) / _mf_near_zero(m, "standard", 1, 0.2),
              "mean field (Gaussian pre-activations)",
              lambda m: _div_lists(m.hist_fraction("standard", 5, -0.2, 0.2), m.hist_fraction("standard", 1, -0.2, 0.2)),
              "fraction of |z| < 0.2, layer 5 / layer 1", Check("rel", 0.03), GL_SE.format(sd="0.3%", se="0.17%")),
        Claim("glorot2010-4", "standard", "eq. 6 / Fig. 7: back-propagated gradients shrink toward the input "
              "by sqrt(1/3 E[tanh'^2]) per layer", mf_factor("standard", "grad_std", 5, 1),
              "mean field (eq. 6)", lambda m: m.per_layer("standard", "grad_act_std", 5, 1),
              "dC/dz std per-layer factor, layers 5 -> 1", Check("rel", 0.03),
              GL_SE.format(sd="0.33%", se="0.2%") + "; gradient independence is an approximation"),
        Claim("glorot2010-5", "normalized", "eq. 6 / Fig. 7: with normalized init the gradients shrink only by "
              "sqrt(E[tanh'^2]) per layer", mf_factor("normalized", "grad_std", 5, 1),
              "mean field (eq. 6)", lambda m: m.per_layer("normalized", "grad_act_std", 5, 1),
              "dC/dz std per-layer factor, layers 5 -> 1", Check("rel", 0.03),
              GL_SE.format(sd="0.3%", se="0.17%") + "; gradient independence is an approximation"),
        Claim("glorot2010-6", "standard", "eq. 7 / Fig. 8: weight-gradient std roughly equal across layers "
              "(standard init)", 1.0, "eq. 7: equal in the linear regime",
              lambda m: m.spread("standard", "grad_weight_std", 1, 5),
              "max / min of the dC/dW std over layers 1-5", Check("factor", 1.5),
              "a qualitative claim ('roughly equal'); activation and gradient stds each span x10 "
              "over these layers, the measured max/min is 1.04 with sd 0.014 over seeds"),
        Claim("glorot2010-7", "normalized", "eq. 7 / Fig. 8: weight-gradient std roughly equal across layers "
              "(normalized init)", 1.0, "eq. 7 (and 14): equal across layers",
              lambda m: m.spread("normalized", "grad_weight_std", 1, 5),
              "max / min of the dC/dW std over layers 1-5", Check("factor", 1.5),
              "a qualitative claim ('roughly equal'); measured 1.13 (sd 0.018 over seeds): tanh "
              "compression makes it drift"),
    ),
    figures=(
        Figure("fig6_activations.png", "act_hist", ("standard", "normalized"),
               "activation histograms per layer (Fig. 6), seed 0"),
        Figure("fig7_gradients.png", "grad_hist", ("standard", "normalized"),
               "back-propagated gradient dC/dz histograms per layer (Fig. 7), seed 0"),
        Figure("std_by_layer.png", "std", ("standard", "normalized"),
               "std of activations, back-propagated gradients and weight gradients (Fig. 8) per layer, "
               "geometric mean and 95% interval over 3 seeds",
               panels=("act_std", "grad_act_std", "grad_weight_std")),
    ),
)

