"""he2015: K. He, X. Zhang, S. Ren, J. Sun, Delving Deep into Rectifiers: Surpassing Human-Level
Performance on ImageNet Classification, ICCV 2015: eqs. 7, 10, 14 and the 22/30-layer comparison
(Fig. 3), Xavier vs He initialization of deep ReLU nets. Configs:
``initlab/studies/configs/he2015_*.yaml``.
"""

from __future__ import annotations

from initlab.studies.framework import Case, Check, Claim, Figure, Study, packaged

SEEDS = 5
HE_FWD = ("per-network sd of ln(ratio) ~0.2 (Hanin & Rolnick 2018: Var ln|y|^2 ~ 5 sum 1/n_l, and deep ReLU "
          "inputs become so correlated that the batch does not average it), 5 seeds: SE 0.1; "
          "x1.5 = 4 SE (the claim separates 1 from 4e-5)")
HE_BWD = "per-network sd of ln(ratio) ~0.07 (the random top gradient averages over the batch), 5 seeds: SE 0.03; x1.15 = 4.5 SE"


def _he_claims() -> tuple[Claim, ...]:
    out = []
    n = 1
    for init in ("xavier", "he"):
        for depth in (22, 30):
            case = f"{init}_{depth}"
            ref = 2.0 ** (-(depth - 1) / 2) if init == "xavier" else 1.0
            form = f"2^(-{depth - 1}/2) = {ref:.3g}" if init == "xavier" else "1"
            out.append(Claim(
                f"he2015-{n}", case,
                f"{'Xavier (n Var[w] = 1)' if init == 'xavier' else 'He (1/2 n Var[w] = 1)'}, {depth} layers: "
                f"std(y_{depth}) / std(y_1) = {form} (eq. 7, y the pre-activation response)",
                ref, "closed form (eq. 7)", (lambda c, d: lambda m: m.ratio(c, "preact_std", d, 1))(case, depth),
                f"preact std, layer {depth} / layer 1", Check("factor", 1.5),
                HE_FWD))
            n += 1
            out.append(Claim(
                f"he2015-{n}", case,
                f"{'Xavier' if init == 'xavier' else 'He'}, {depth} layers, backward: std(dL/dx_2) / std(dL/dx_{depth + 1}) "
                f"= {form} (eq. 14 with n-hat = fan-out)",
                ref, "closed form (eq. 14)", (lambda c, d: lambda m: m.ratio(c, "grad_act_std", 1, d))(case, depth),
                f"dL/dh std, layer 1 / layer {depth}", Check("factor", 1.15),
                HE_BWD))
            n += 1
    return tuple(out)


STUDY = Study(
    name="he2015",
    title="He et al. 2015: Xavier vs He initialization in deep ReLU nets",
    source="K. He, X. Zhang, S. Ren, J. Sun, Delving Deep into Rectifiers, ICCV 2015: eqs. 7, 10, 14 "
           "and the 22/30-layer comparison (Fig. 3)",
    setup="22 and 30 ReLU layers of 512 units, no bias, input N(0, 1) of dimension 512, batch 128, "
          "float64, forward and backward (top gradient N(0, 1)), seeds 0-4. Xavier: xavier_normal "
          "(N(0, 2 / (fan_in + fan_out)) = N(0, 1/n) here); He: he_normal (N(0, 2/n)). Configs "
          "`initlab/studies/configs/he2015_{xavier,he}_{22,30}.yaml`.",
    notes="""\
- He et al. call y_l = W_l x_l the *response* of layer l (our `preact_std`) and x_l = relu(y_{l-1}) its
  input. Eq. 7: Var[y_L] = Var[y_1] prod_{l=2..L} (1/2 n_l Var[w_l]). With Xavier's n Var[w] = 1 each
  layer halves the variance, so std(y_L) / std(y_1) = 2^(-(L-1)/2): 6.9e-4 at L = 22 and 4.3e-5 at L = 30;
  with He's 1/2 n Var[w] = 1 (eq. 10) the ratio is 1.
- Backward (eq. 14), with Delta x_l = dL/dx_l: Var[Delta x_2] = Var[Delta x_{L+1}] prod_{l=2..L} (1/2 n-hat_l Var[w_l]),
  n-hat the fan-out. Delta x_2 is our dL/dh at layer 1 and Delta x_{L+1} the top gradient at layer L,
  so the same ratios apply (all layers are 512 wide, fan-in = fan-out).
- Single networks wander around these expectations on the log scale (the per-layer gain of a
  random 512 x 512 matrix fluctuates by a few percent, and the fluctuations add up over the layers:
  Hanin & Rolnick 2018); the claims use the geometric mean over 5 seeds and tolerances of about 4
  standard errors of it (x1.5 forward, x1.15 backward). Xavier and He draw the same standard normals
  scaled differently, and ReLU is positively homogeneous, so their ratios differ by exactly
  2^(-(L-1)/2) seed by seed: the deviations from the references are the same in both rows.
- Not checked: the training curves (22 layers: both converge; 30 layers: Xavier stalls).
""",
    cases=(
        Case("xavier_22", "Xavier, 22 layers", packaged("he2015_xavier_22.yaml")),
        Case("xavier_30", "Xavier, 30 layers", packaged("he2015_xavier_30.yaml")),
        Case("he_22", "He, 22 layers", packaged("he2015_he_22.yaml")),
        Case("he_30", "He, 30 layers", packaged("he2015_he_30.yaml")),
    ),
    seeds=SEEDS,
    claims=_he_claims(),
    figures=(
        Figure("std_ratio.png", "ratio", ("xavier_22", "xavier_30", "he_22", "he_30"),
               "std(y_l) / std(y_1) forward and std(dL/dh_l) / std(dL/dh_L) backward, geometric mean and 95% "
               "interval over 5 seeds; dashed: eqs. 7 and 14", theory=True),
    ),
)


