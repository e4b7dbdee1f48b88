"""cs231n: the activation-statistics experiment of Stanford CS231n, Spring 2017, lecture 6
(Training Neural Networks I), slides 'Weight Initialization' / 'activation statistics'.

Its five configs are packaged copies of the top-level examples ``configs/tanh_small.yaml``,
``tanh_large.yaml``, ``tanh_xavier.yaml``, ``relu_xavier.yaml`` and ``relu_he.yaml`` (kept
identical by a test), run as they are (float64) with the backward pass on.
"""

from __future__ import annotations

import math

from initlab.studies.framework import Case, Check, Claim, Figure, Study, mf_factor, mf_value, packaged

SEEDS = 3
CS_SE = "per-network sd {sd} (estimated over 10 seeds), 3 seeds: SE {se}; tolerance >= 3.5 SE"
_SETS = (("backward.enabled", True),)


def _case(key: str, label: str) -> Case:
    """The case ``key``: the packaged ``cs231n_<key>.yaml``, a copy of ``configs/<key>.yaml``."""
    return Case(key, label, packaged(f"cs231n_{key}.yaml"), _SETS, example=f"configs/{key}.yaml")


STUDY = Study(
    name="cs231n",
    title="CS231n lecture 6 (2017): activation statistics",
    source="Stanford CS231n, Spring 2017, lecture 6 (Training Neural Networks I), slides "
           "'Weight Initialization' / 'activation statistics'",
    setup="10 hidden layers of 500 units, no bias, input D = randn(1000, 500), W = scale * randn(500, 500); "
          "statistics over the whole 1000 x 500 activation matrix. Forward and backward (top gradient "
          "dL/dh_10 ~ N(0, 1)). float64, seeds 0, 1, 2; the configs are `configs/tanh_small.yaml`, "
          "`tanh_large.yaml`, `tanh_xavier.yaml`, `relu_xavier.yaml`, `relu_he.yaml`. Not float32: "
          "the saturated net (W = 1.0 randn) is chaotic, and its float32 statistics change by up to "
          "25% with the BLAS kernel that computes the products (measured between OpenBLAS's Haswell "
          "and SandyBridge kernels on one machine), float64 ones by 7e-11.",
    notes="""\
- **Published numbers** come from one random draw on the slides; ours are other draws, so they are
  compared within a tolerance set from our own seed-to-seed spread (estimated once over 10 seeds;
  `claims.json` reports this run's spread) of at least 3.5 standard errors of the 3-seed mean.
- **tanh, scale 0.01**: the pre-activations are tiny, tanh(z) ~ z, and Var[z_l] = 500 (0.01)^2 Var[h_{l-1}],
  so the std shrinks by sqrt(500) 0.01 = 0.2236 per layer; backward tanh' ~ 1 and the same factor
  shrinks dL/dh toward the input.
- **tanh, scale 1.0**: Var[z] = 500 E[h^2] ~ 480, so |z| > atanh(0.99) = 2.65 for ~90% of the entries:
  saturated, std ~ 0.98 at every layer. Backward, n Var[W] E[tanh'(z)^2] ~ 500 x 0.024 = 12: dL/dh
  *grows* ~3.5x per layer toward the input, while the local derivatives tanh'(z) are ~0 for the
  saturated 90% (the slide's "gradients are zero" is about those local gradients).
- **tanh, Xavier**: n Var[W] = 1; the std still shrinks slowly because E[tanh(z)^2] < E[z^2]; the
  mean-field length map q_l = E[tanh(sqrt(q_{l-1}) u)^2] gives the layer-10 value.
- **ReLU, Xavier**: E[relu(z)^2] = Var[z] / 2, so with n Var[W] = 1 the std halves in variance per
  layer: ratio 1/sqrt(2); layer 1 std = sqrt(1/2 - 1/(2 pi)) = 0.5838 for unit-variance z.
- **ReLU, He**: n Var[W] = 2 keeps Var[z] = 1: mean 1/sqrt(pi) = 0.5642, std sqrt(1 - 1/pi) = 0.8257
  at every layer in expectation, and dL/dh keeps its std backward (fan-out = fan-in). Single
  networks wander around that (the slide: 0.81-0.89), by a few percent per layer.
""",
    cases=(
        _case("tanh_small", "tanh, W = 0.01 randn"),
        _case("tanh_large", "tanh, W = 1.0 randn"),
        _case("tanh_xavier", "tanh, Xavier randn/sqrt(n)"),
        _case("relu_xavier", "ReLU, Xavier randn/sqrt(n)"),
        _case("relu_he", "ReLU, He randn/sqrt(n/2)"),
    ),
    seeds=SEEDS,
    claims=(
        Claim("cs231n-1", "tanh_small", "tanh, W = 0.01 randn: layer-1 std 0.213081", 0.213081,
              "published (slide)", lambda m: m.at("tanh_small", "act_std", 1), "act std, layer 1",
              Check("rel", 0.01), CS_SE.format(sd="0.16%", se="0.1%") + "; the slide is one more draw"),
        Claim("cs231n-2", "tanh_small", "tanh, W = 0.01 randn: layer-5 std 0.000532", 0.000532,
              "published (slide)", lambda m: m.at("tanh_small", "act_std", 5), "act std, layer 5",
              Check("rel", 0.03), CS_SE.format(sd="0.6%", se="0.4%") + "; the slide rounds to 3 digits (0.1%)"),
        Claim("cs231n-3", "tanh_small", "tanh, W = 0.01 randn: std shrinks by sqrt(500) x 0.01 per layer",
              math.sqrt(500) * 0.01, "closed form (linear regime)",
              lambda m: m.per_layer("tanh_small", "act_std", 1, 10), "act std per-layer factor, layers 1-10",
              Check("rel", 0.01), CS_SE.format(sd="0.15%", se="0.09%") + "; tanh curvature adds < 0.1%"),
        Claim("cs231n-4", "tanh_small", "tanh, W = 0.01 randn: dL/dh shrinks by the same factor toward the input",
              math.sqrt(500) * 0.01, "closed form (tanh' ~ 1)",
              lambda m: m.per_layer("tanh_small", "grad_act_std", 10, 1), "dL/dh std per-layer factor, layers 10 -> 1",
              Check("rel", 0.01), CS_SE.format(sd="0.13%", se="0.08%")),
        Claim("cs231n-5", "tanh_large", "tanh, W = 1.0 randn: std ~ 0.98 at every layer (saturated)",
              mf_value("tanh_large", 10, "std"), "mean field (fixed point)",
              lambda m: m.mean_over_layers("tanh_large", "act_std", 1, 10), "act std, mean of layers 1-10",
              Check("rel", 0.005), CS_SE.format(sd="0.005%", se="0.003%"), aggregate="mean"),
        Claim("cs231n-6", "tanh_large", "tanh, W = 1.0 randn: almost all units saturated (|h| >= 0.99)",
              mf_value("tanh_large", 10, "sat"), "mean field: P(|z| >= atanh 0.99)",
              lambda m: m.at("tanh_large", "act_saturated", 10), "saturated fraction, layer 10",
              Check("abs", 0.01), CS_SE.format(sd="0.0004", se="0.0002") + "; quadrature of an indicator ~1e-4", aggregate="mean"),
        Claim("cs231n-7", "tanh_large", "tanh, W = 1.0 randn: dL/dh grows toward the input (n E[tanh'^2] > 1)",
              mf_factor("tanh_large", "grad_std", 10, 1), "mean field: sqrt(500 E[tanh'(z)^2])",
              lambda m: m.per_layer("tanh_large", "grad_act_std", 10, 1), "dL/dh std per-layer factor, layers 10 -> 1",
              Check("rel", 0.03), CS_SE.format(sd="0.4%", se="0.25%") + "; gradient independence is an approximation"),
        Claim("cs231n-8", "tanh_xavier", "tanh, Xavier: healthy, slowly shrinking (layer-10 std)",
              mf_value("tanh_xavier", 10, "std"), "mean field (length map)",
              lambda m: m.at("tanh_xavier", "act_std", 10), "act std, layer 10",
              Check("rel", 0.03), CS_SE.format(sd="0.9%", se="0.5%")),
        Claim("cs231n-9", "relu_xavier", "ReLU, Xavier: layer-1 std sqrt(1/2 - 1/(2 pi))",
              math.sqrt(0.5 - 0.5 / math.pi), "closed form",
              lambda m: m.at("relu_xavier", "act_std", 1), "act std, layer 1",
              Check("rel", 0.01), CS_SE.format(sd="0.2%", se="0.13%")),
        Claim("cs231n-10", "relu_xavier", "ReLU, Xavier: the variance halves each layer (std ratio 1/sqrt(2))",
              1 / math.sqrt(2), "closed form (He et al. 2015 eq. 7)",
              lambda m: m.per_layer("relu_xavier", "act_std", 1, 10), "act std per-layer factor, layers 1-10",
              Check("rel", 0.03), CS_SE.format(sd="1.4%", se="0.8%")),
        Claim("cs231n-11", "relu_xavier", "ReLU, Xavier: dL/dh shrinks by 1/sqrt(2) per layer toward the input",
              1 / math.sqrt(2), "closed form (He et al. 2015 eq. 14)",
              lambda m: m.per_layer("relu_xavier", "grad_act_std", 10, 1), "dL/dh std per-layer factor, layers 10 -> 1",
              Check("rel", 0.02), CS_SE.format(sd="0.5%", se="0.3%")),
        Claim("cs231n-12", "relu_he", "ReLU, He: layer-1 std 0.825232", 0.825232, "published (slide)",
              lambda m: m.at("relu_he", "act_std", 1), "act std, layer 1",
              Check("rel", 0.01), CS_SE.format(sd="0.2%", se="0.13%") + "; closed form sqrt(1 - 1/pi) = 0.8257"),
        Claim("cs231n-13", "relu_he", "ReLU, He: layer-1 mean 0.562488", 0.562488, "published (slide)",
              lambda m: m.at("relu_he", "act_mean", 1), "act mean, layer 1",
              Check("rel", 0.01), CS_SE.format(sd="0.15%", se="0.09%") + "; closed form 1/sqrt(pi) = 0.5642", aggregate="mean"),
        Claim("cs231n-14", "relu_he", "ReLU, He: stable, std 0.81-0.89 at every layer (layer 10 / layer 1 ~ 1)",
              1.0, "closed form (1/2 n Var[W] = 1); slide 0.844523 / 0.825232 = 1.023",
              lambda m: m.ratio("relu_he", "act_std", 10, 1), "act std, layer 10 / layer 1",
              Check("factor", 1.3), CS_SE.format(sd="0.13 in ln", se="0.07") + " (Hanin & Rolnick 2018 predict "
              "sqrt(5 x 9 / 500) / 2 = 0.15); x1.3 = 3.7 SE"),
        Claim("cs231n-15", "relu_he", "ReLU, He: dL/dh keeps its std backward (input / top ~ 1)",
              1.0, "closed form (1/2 fan_out Var[W] = 1)",
              lambda m: m.ratio("relu_he", "grad_act_std", 0, 10), "dL/dh std, layer 0 / layer 10",
              Check("factor", 1.1), CS_SE.format(sd="0.046 in ln", se="0.026") + "; x1.1 = 3.6 SE"),
    ),
    figures=(
        Figure("std_by_layer.png", "std", ("tanh_small", "tanh_large", "tanh_xavier", "relu_xavier", "relu_he"),
               "std of activations and of dL/dh per layer (geometric mean and 95% interval over 3 seeds)",
               panels=("act_std", "grad_act_std")),
        Figure("act_histograms.png", "act_hist", ("tanh_small", "tanh_large", "tanh_xavier", "relu_xavier", "relu_he"),
               "activation histograms per layer (seed 0), shared range per activation: the lecture-6 picture"),
        Figure("grad_histograms.png", "grad_hist", ("tanh_small", "tanh_large", "tanh_xavier", "relu_xavier", "relu_he"),
               "dL/dh histograms per layer (seed 0), range +-4 std of the top gradient"),
    ),
)

