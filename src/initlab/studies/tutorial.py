"""tutorial: the deeplearning.ai 'Improving Deep Neural Networks' initialization exercise and the
common blog-post experiment (W = 0.01 randn vs randn vs Xavier randn * sqrt(1 / n_prev), tanh and
sigmoid, 5 layers of 50). Configs: ``initlab/studies/configs/tutorial_*.yaml``.
"""

from __future__ import annotations

import math

from initlab.studies.framework import Case, Check, Claim, Figure, Study, mf_mean, mf_value, packaged

SEEDS = 12
TU_SE = "per-network sd {sd} (50-unit layers fluctuate), 12 seeds: standard error {se}; tolerance >= 4 SE"


STUDY = Study(
    name="tutorial",
    title="The deeplearning.ai / blog-post initialization tutorial",
    source="deeplearning.ai 'Improving Deep Neural Networks' initialization exercise and the common "
           "blog-post experiment: W = 0.01 randn vs randn vs Xavier (randn * sqrt(1 / n_prev))",
    setup="input of length 100 (N(0, 1), batch 1000), 5 hidden layers of 50 units, no bias, tanh and "
          "sigmoid, forward only, float64, seeds 0, 1, 2. Xavier here is the course's "
          "randn * sqrt(1 / n_prev), i.e. `lecun_normal`. Configs `initlab/studies/configs/tutorial_*.yaml`.",
    notes="""\
- All references are mean-field values (module `initlab.studies.framework`): q_1 = 100 Var[W],
  q_l = 50 Var[W] E[h_{l-1}^2].
- **tanh, 0.01 randn**: the linear regime: std(h_1) ~ sqrt(100) 0.01 = 0.1, then x sqrt(50) 0.01 = 0.0707
  per layer.
- **sigmoid, 0.01 randn**: sigmoid(z) ~ 1/2 + z/4; the activations sit at 0.5 and their std is
  sqrt(50) 0.01 x 0.5 / 4 = 0.0088 from layer 2 on: it does not decay further, because the mean 0.5
  keeps E[h^2] ~ 1/4 feeding the next layer (all units nearly the same constant: no signal).
- **randn (std 1)**: q_1 = 100: 79% of tanh units and 65% of sigmoid units saturated at layer 1; later
  layers, q ~ 50 E[h^2], keep most tanh units saturated.
- **Xavier**: q ~ E[h^2] <= 1: tanh is far from saturation; sigmoid's E[h^2] ~ 0.3 gives q ~ 0.3.
""",
    cases=(
        Case("tanh_small", "tanh, 0.01 randn", packaged("tutorial_tanh_small.yaml")),
        Case("tanh_randn", "tanh, randn", packaged("tutorial_tanh_randn.yaml")),
        Case("tanh_xavier", "tanh, Xavier", packaged("tutorial_tanh_xavier.yaml")),
        Case("sigmoid_small", "sigmoid, 0.01 randn", packaged("tutorial_sigmoid_small.yaml")),
        Case("sigmoid_randn", "sigmoid, randn", packaged("tutorial_sigmoid_randn.yaml")),
        Case("sigmoid_xavier", "sigmoid, Xavier", packaged("tutorial_sigmoid_xavier.yaml")),
    ),
    seeds=SEEDS,
    claims=(
        Claim("tutorial-1", "tanh_small", "tanh, 0.01 randn: layer-1 std ~ sqrt(100) x 0.01",
              mf_value("tanh_small", 1, "std"), "mean field (~0.1)",
              lambda m: m.at("tanh_small", "act_std", 1), "act std, layer 1", Check("rel", 0.02),
              TU_SE.format(sd="1.2%", se="0.35%")),
        Claim("tutorial-2", "tanh_small", "tanh, 0.01 randn: std shrinks by sqrt(50) x 0.01 per layer",
              math.sqrt(50) * 0.01, "closed form (linear regime)",
              lambda m: m.per_layer("tanh_small", "act_std", 1, 5), "act std per-layer factor, layers 1-5",
              Check("rel", 0.02), TU_SE.format(sd="1.1%", se="0.3%")),
        Claim("tutorial-3", "sigmoid_small", "sigmoid, 0.01 randn: activations sit at 0.5",
              0.5, "closed form (sigmoid(0))", lambda m: m.at("sigmoid_small", "act_mean", 5),
              "act mean, layer 5", Check("abs", 0.002), TU_SE.format(sd="1e-3", se="3e-4"), aggregate="mean"),
        Claim("tutorial-4", "sigmoid_small", "sigmoid, 0.01 randn: std tiny (sqrt(50) 0.01 / 8), constant from layer 2",
              mf_mean("sigmoid_small", "std", 2, 5), "mean field (0.0088)",
              lambda m: m.mean_over_layers("sigmoid_small", "act_std", 2, 5), "act std, mean of layers 2-5",
              Check("rel", 0.08), TU_SE.format(sd="6.5%", se="1.9%") + "; 50 per-unit offsets dominate"),
        Claim("tutorial-5", "tanh_randn", "tanh, randn: most units saturated",
              mf_mean("tanh_randn", "sat", 2, 5), "mean field",
              lambda m: m.mean_over_layers("tanh_randn", "act_saturated", 2, 5),
              "saturated fraction (|h| >= 0.99), mean of layers 2-5", Check("abs", 0.02),
              TU_SE.format(sd="0.003", se="0.001"), aggregate="mean"),
        Claim("tutorial-6", "sigmoid_randn", "sigmoid, randn: many units saturated",
              mf_mean("sigmoid_randn", "sat", 2, 5), "mean field",
              lambda m: m.mean_over_layers("sigmoid_randn", "act_saturated", 2, 5),
              "saturated fraction (h <= 0.01 or >= 0.99), mean of layers 2-5", Check("abs", 0.05),
              TU_SE.format(sd="0.034", se="0.01"), aggregate="mean"),
        Claim("tutorial-7", "tanh_xavier", "tanh, Xavier: healthy (layer-5 std)",
              mf_value("tanh_xavier", 5, "std"), "mean field (length map)",
              lambda m: m.at("tanh_xavier", "act_std", 5), "act std, layer 5", Check("rel", 0.04),
              TU_SE.format(sd="2.8%", se="0.8%")),
        Claim("tutorial-8", "tanh_xavier", "tanh, Xavier: no saturation", 0.0, "mean field (< 1e-4)",
              lambda m: m.at("tanh_xavier", "act_saturated", 5), "saturated fraction, layer 5",
              Check("at_most", 0.005), "mean field 2e-5; measured < 1e-4 in every seed", aggregate="mean"),
        Claim("tutorial-9", "sigmoid_xavier", "sigmoid, Xavier: healthy, small std (mean of layers 2-5)",
              mf_mean("sigmoid_xavier", "std", 2, 5), "mean field (length map)",
              lambda m: m.mean_over_layers("sigmoid_xavier", "act_std", 2, 5), "act std, mean of layers 2-5",
              Check("rel", 0.08), TU_SE.format(sd="6.3%", se="1.8%")),
    ),
    figures=(
        Figure("std_by_layer.png", "std", ("tanh_small", "tanh_randn", "tanh_xavier", "sigmoid_small",
                                           "sigmoid_randn", "sigmoid_xavier"),
               "std of activations per layer, geometric mean and 95% interval over 3 seeds", panels=("act_std",)),
        Figure("act_histograms.png", "act_hist", ("tanh_small", "tanh_randn", "tanh_xavier", "sigmoid_small",
                                                  "sigmoid_randn", "sigmoid_xavier"),
               "activation histograms per layer (seed 0)"),
    ),
)

