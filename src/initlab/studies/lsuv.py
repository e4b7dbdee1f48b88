"""lsuv: D. Mishkin, J. Matas, "All you need is a good init", ICLR 2016 (arXiv:1511.06422), Alg. 1:
layer-sequential unit-variance initialization. Configs: ``initlab/studies/configs/lsuv_*.yaml``.
"""

from __future__ import annotations

from dataclasses import replace

from initlab.studies.framework import Case, Check, Claim, Outcome, Study, measured, packaged

ACTS = ("tanh", "relu", "sigmoid")
DEEP = range(10, 21)  # the layers whose gain is compared with the variance-preserving gain


def run(configs: dict, seeds: list[int]) -> Outcome:
    from initlab.config import Spec
    from initlab.datainit import resolve
    from initlab.engine import activations
    from initlab.runs import train as R

    values: dict[str, list] = {}
    layer_rows, train_rows = [], []
    refs = {act: activations.get(act).variance_gain for act in ACTS}
    for act in ACTS:
        for s in seeds:
            res = resolve.run(replace(configs[act], seed=s))
            di = res.datainit["rows"]
            values.setdefault(f"{act}_dev", []).append(max(abs(r["preact_std"] ** 2 - 1) for r in res.rows[1:]))
            values.setdefault(f"{act}_iters", []).append(max(r["lsuv_iterations"] for r in di))
            deep = [r["lsuv_gain"] for r in di if r["layer"] in DEEP]
            values.setdefault(f"{act}_gain", []).append(sum(deep) / len(deep) / refs[act])
            layer_rows += [{"case": act, "seed": s, "layer": r["layer"], "preact_var_fresh": res.rows[r["layer"]]["preact_std"] ** 2,
                            **{k: r[k] for k in ("lsuv_iterations", "lsuv_var_before", "lsuv_var_after", "lsuv_gain")}}
                           for r in di]
    base = configs["train"]
    ds = R.load_data(base)
    for s in seeds:
        final = {}
        for init in ("lsuv", "he", "xavier"):
            cfg = replace(base, seed=s) if init == "lsuv" else R.with_initializer(replace(base, seed=s), Spec(init))
            res = resolve.train(cfg, ds=ds)
            final[init] = res.loop.final["train_loss"]
            train_rows += [{"init": init, "seed": s, "step": h["step"], "train_loss": h["train_loss"],
                            "test_acc": h["test_acc"]} for h in res.loop.history]
        values.setdefault("train_ratio", []).append(final["lsuv"] / min(final["he"], final["xavier"]))

    def gains(path):
        from initlab.plots import datainit_figures

        datainit_figures.lsuv_gains(layer_rows, refs, path, "LSUV gain per layer (dashed: 1/sqrt(E[phi(z)^2]))")

    def curves(path):
        from initlab.plots import datainit_figures

        datainit_figures.curves(train_rows, "step", "train_loss", "init", path,
                                "digits, 15 ReLU layers, SGD: train loss", "train loss", logy=True)

    return Outcome(values, tables={
        "layers": (layer_rows, ("case", "seed", "layer", "lsuv_iterations", "lsuv_var_before", "lsuv_var_after",
                                "preact_var_fresh", "lsuv_gain")),
        "training": (train_rows, ("init", "seed", "step", "train_loss", "test_acc"))},
        figures=[("lsuv_gains.png", "LSUV gain per layer", gains), ("training.png", "training after LSUV, He, Xavier", curves)])


def _dev(act: str, n: int) -> Claim:
    return Claim(f"lsuv-{n}", act, f"Alg. 1: after LSUV every layer's pre-activation variance is 1 within tol (0.1), "
                 f"{act}, depth 20, on a fresh batch", 0.1, "the configured tolerance",
                 measured(f"{act}_dev"), "max over layers 1-20 of |Var(z) - 1| on the run's own (fresh) batch",
                 Check("at_most", 0.0), "the LSUV batch is fitted to ~1e-15; a fresh batch of 256 x 256 adds "
                 "sampling noise (measured max deviation ~0.03-0.06), inside the method's own tolerance",
                 aggregate="mean")


def _gain(act: str, n: int, tol: float, why: str) -> Claim:
    return Claim(f"lsuv-{n}", act, f"the deep-layer gain approaches the variance-preserving gain 1/sqrt(E[phi(z)^2]) "
                 f"({act}; initlab list activations)", 1.0, "closed form / quadrature (activation record)",
                 measured(f"{act}_gain"), "mean LSUV gain of layers 10-20 / the activation's variance gain",
                 Check("rel", tol), why)


STUDY = Study(
    name="lsuv",
    title="Mishkin & Matas 2015: LSUV, layer-sequential unit-variance initialization",
    source="D. Mishkin, J. Matas, All you need is a good init, ICLR 2016 (arXiv:1511.06422), Alg. 1 and sec. 3",
    setup="Step 0: 20 hidden layers of 256 units (tanh, ReLU, sigmoid), input N(0, 1) of dimension 256, "
          "orthonormal pre-init, LSUV with tol 0.1 on the variance, at most 10 rescalings, its own batch of 256 "
          "rows (stream 8); the statistics are measured on the run's input batch (a fresh one). Training: digits "
          "(1297 train / 500 test), 15 ReLU layers of 64, plain SGD lr 0.01, batch 64, 200 steps, LSUV vs He vs "
          "Xavier on the same data and batches. Seeds 0, 1, 2.",
    notes="""\
- **Unit variance**: LSUV scales W_l until |Var(z_l) - 1| <= tol on its batch. With h_{l-1} fixed, z_l is linear
  in W_l's scale, so without a bias one rescaling lands on 1 up to rounding; the claim checks a *fresh* batch.
- **Gain**: at a deep layer fed unit-variance, near-Gaussian pre-activations, Var(z_{l+1}) = g^2 E[phi(z_l)^2]
  with g^2 = fan_in mean(W^2), so unit variance needs g = 1/sqrt(E[phi(z)^2]), z ~ N(0, 1): sqrt 2 for ReLU,
  ~1.593 for tanh, ~1.847 for sigmoid (the second moment, the mean 0.5 included), the `variance gain` column
  of `initlab list activations`. LSUV finds it from data without knowing phi.
- **Training**: on a deep ReLU net with SGD, LSUV trains at least as fast as He (whose variance it matches in
  expectation) and far faster than Xavier (which halves the variance per layer). The paper's own comparison
  is on CIFAR and ImageNet conv nets; this is the small fully connected analogue.
""",
    cases=tuple(Case(a, f"{a}, depth 20", packaged(f"lsuv_{a}.yaml")) for a in ACTS)
    + (Case("train", "digits, 15 ReLU layers, SGD", packaged("lsuv_train.yaml"), kind="train"),),
    seeds=3,
    claims=(
        _dev("tanh", 1), _dev("relu", 2), _dev("sigmoid", 3),
        Claim("lsuv-4", "tanh", "Alg. 1 converges in a few iterations per layer (max over the three nets)", 2.0,
              "the paper: 1-5 iterations", lambda o: [max(a, b, c) for a, b, c in zip(o.values["tanh_iters"],
                                                                                   o.values["relu_iters"],
                                                                                   o.values["sigmoid_iters"])],
              "max rescalings over every layer of the three nets", Check("at_most", 0.0),
              "z is linear in W's scale: 1 rescaling (2 would mean rounding mattered)", aggregate="mean"),
        _gain("tanh", 5, 0.01, "tanh's deep gain varies by 0.1% per layer (measured sd 0.002 at width 100); 1%"),
        _gain("relu", 6, 0.04, "a deep ReLU layer's gain fluctuates by ~sqrt(1/width) (examples correlate with "
                               "depth; sd 0.065 per layer at width 256): 33 layer-seeds give SE ~1.2%; 4% ~ 3 SE"),
        _gain("sigmoid", 7, 0.03, "sd ~0.035 per layer at width 256: SE ~0.6%; 3% ~ 5 SE"),
        Claim("lsuv-8", "train", "trained, LSUV matches or beats He/Xavier on a deep net", 1.0,
              "parity", measured("train_ratio"),
              "final train loss LSUV / the better of He and Xavier (200 SGD steps)", Check("at_most", 0.1),
              "'matches' read as within 10%; measured ratios 0.55-0.95 over seeds 0-2"),
    ),
    figures=(),
    runner=run,
)
