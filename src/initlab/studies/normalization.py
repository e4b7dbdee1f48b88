"""normalization: batch norm (S. Ioffe, C. Szegedy, Batch Normalization, ICML 2015) and layer norm
(J. L. Ba, J. R. Kiros, G. E. Hinton, Layer Normalization, 2016) rescue an initialization that
stalls, and batch norm makes training "significantly more robust to bad initialization" (cs231n
lecture 6). Config: ``initlab/studies/configs/normalization_base.yaml``.
"""

from __future__ import annotations

from initlab.studies.framework import Case, Check, Claim, packaged
from initlab.studies.trained import Plan, Trained, TrainFigure, TrainStudy, fit, learning_time, with_sets

NAME = "normalization"
NORMS = ("none", "batch", "layer")
INITS = (("normal(std=0.01)", {"name": "normal", "std": 0.01}), ("xavier_normal", "xavier_normal"),
         ("normal(std=1)", {"name": "normal", "std": 1.0}))
RUNS = [("none", i) for i in INITS] + [("batch", i) for i in INITS] + [("layer", INITS[0])]
SMOKE_STEPS = 20


def run(plan: Plan) -> Trained:
    from initlab.runs import train as T

    base = plan.configs["base"]
    budget = SMOKE_STEPS if plan.smoke else base.train.steps
    ds = T.load_data(base)
    out = Trained(params={"budget": budget, "threshold": base.train.threshold.value})
    for seed in plan.seeds:
        for norm, (init_label, init) in RUNS:
            cfg = with_sets(base, **{"seed": seed, "network.norm": norm, "network.initializer": init,
                                     "train.steps": budget})
            res = fit(cfg, ds)
            steps, reached = learning_time(res, budget)
            case = f"{init_label}, {'no' if norm == 'none' else norm} norm"
            out.add("runs", {"case": case, "norm": norm, "init": init_label, "seed": seed, "steps": steps,
                             "reached": int(reached), "diverged": int(res.diverged),
                             "final_train_loss": res.final["train_loss"], "final_train_acc": res.final["train_acc"]})
            if norm != "layer":
                out.add("steps_by_init", {"case": "no norm" if norm == "none" else "batch norm", "seed": seed,
                                          "init": init_label,
                                          "init_index": 1 + [i[0] for i in INITS].index(init_label),
                                          "steps": steps, "reached": int(reached)})
            if init_label == INITS[0][0]:
                for h in res.history:
                    out.add("curves", {"case": f"{'no' if norm == 'none' else norm} norm", "seed": seed,
                                       "step": h["step"], "train_loss": h["train_loss"]})
    return out


def _reached(norm: str, init: str):
    return lambda t: [float(v) for v in t.values("runs", "reached", norm=norm, init=init)]


def _off_plateau(norm: str, init: str):
    """Per seed: 1 if the run ended at least 0.02 below chance (ln 10) in train loss, else 0."""
    import math

    return lambda t: [float(v <= math.log(10.0) - 0.02)
                      for v in t.values("runs", "final_train_loss", norm=norm, init=init)]


def _inits_reached(norm: str):
    """Per seed: the fraction of the inits whose run reaches the threshold."""
    def measure(t: Trained) -> list[float]:
        out = []
        for s in sorted({r["seed"] for r in t.tables["runs"]}):
            v = [r["reached"] for r in t.rows("runs", norm=norm, seed=s)]
            out.append(sum(v) / len(v))
        return out
    return measure


SMALL = INITS[0][0]
COUNT = "a count over the seeds"
CLAIMS = (
    Claim("normalization-1", "none", "W ~ N(0, 0.01^2) stalls without normalization (the signal shrinks by "
          "sqrt(64) 0.01 = 0.08 per layer)", 0.0, "direction (cs231n lecture 6)", _reached("none", SMALL),
          "fraction of seeds reaching train loss 2.2 within 400 steps", Check("abs", 0.0),
          COUNT + ": development runs stayed at ln 10 = 2.302 for the whole budget", aggregate="mean"),
    Claim("normalization-2", "batch", "batch norm rescues it", 1.0, "direction (Ioffe & Szegedy 2015)",
          _reached("batch", SMALL), "fraction of seeds reaching train loss 2.2 within 400 steps",
          Check("abs", 0.0), COUNT + ": development runs reached it in 30 steps (6 of 6 seeds)", aggregate="mean"),
    Claim("normalization-3", "layer", "layer norm moves it off the plateau too", 1.0, "direction (Ba et al. 2016)",
          _off_plateau("layer", SMALL), "fraction of seeds whose train loss ends at least 0.02 below chance "
          "(ln 10): at the threshold 2.2, or after 400 steps", Check("abs", 0.0), COUNT + ": layer norm is slower than batch norm here (the "
          "readout N(0, 0.01^2) is tiny and not normalized): in development it reached 2.2 in 20-140 "
          "steps in 5 of 6 seeds and ended at 2.236 in the sixth (2.14-2.26 after 400 steps at the threshold "
          "2.0), while without normalization the loss stays at 2.3026 (0.0005 below chance)", aggregate="mean"),
    Claim("normalization-4", "batch", "with batch norm the init hardly matters: N(0, 0.01^2), Xavier and "
          "N(0, 1) all train", 1.0, "cs231n lecture 6 ('robust to bad initialization')", _inits_reached("batch"),
          "fraction of the three inits reaching train loss 2.2 within 400 steps, with batch norm",
          Check("abs", 0.0), COUNT + ": development runs reached it in 10-40 steps for all three (the learning "
          "times still differ, `steps_by_init.png`: the tiny readout of N(0, 0.01^2) must grow first)",
          aggregate="mean"),
    Claim("normalization-5", "none", "without normalization the init matters: only Xavier trains", 1.0 / 3.0,
          "cs231n lecture 6 (collapse with 0.01, saturation with 1)", _inits_reached("none"),
          "fraction of the three inits reaching train loss 2.2 within 400 steps, no normalization",
          Check("abs", 0.0), COUNT + ": development: Xavier in 10-20 steps, the other two stall (2.302 and "
          "2.6-4.0 after 400 steps)", aggregate="mean"),
)

STUDY = TrainStudy(
    name=NAME,
    title="Batch and layer norm rescue a bad initialization; batch norm frees the choice of init",
    source="S. Ioffe, C. Szegedy, Batch Normalization, ICML 2015; J. L. Ba, J. R. Kiros, G. E. Hinton, Layer "
           "Normalization, 2016; cs231n lecture 6 (2017): batch norm makes nets 'significantly more robust to "
           "bad initialization'",
    setup="MNIST-1D (500 train / 100 test, one draw), an 8-layer tanh MLP of width 64, biases 0, softmax "
          "readout, SGD lr 0.1, batch 32, float32; normalization (affine, before the activation) none / batch / "
          "layer; W ~ N(0, 0.01^2) for all three, and Xavier (normal) and N(0, 1) without and with batch norm; "
          "a run stops when the train loss reaches 2.2 (chance: ln 10 = 2.303) or after 400 steps; seeds 0-2. "
          "Config `initlab/studies/configs/normalization_base.yaml`.",
    notes="""\
- N(0, 0.01^2) in 64-wide tanh layers multiplies the signal's scale by sqrt(64) 0.01 = 0.08 per layer
  (the cs231n collapse): after 8 layers the readout sees ~1e-9 of the input, the gradients are as
  small, and SGD does not move. Batch norm divides each pre-activation by its batch std (layer norm
  by the std over the layer's units), so every layer sees unit-scale inputs whatever the weights'
  scale, and the backward pass divides the gradient by the same std.
- N(0, 1) saturates tanh (the cs231n 'randn' case): without normalization it stalls as well; with
  batch norm the pre-activations are rescaled to unit variance before tanh and it trains.
- The readout (a linear layer after the last hidden one) is drawn by the same initializer and is not
  normalized, which is why N(0, 0.01^2) remains a little slower under batch norm and clearly slower
  under layer norm.
""",
    cases=(Case("base", "8-layer tanh MLP on MNIST-1D", packaged(f"{NAME}_base.yaml")),),
    seeds=3,
    run=run,
    claims=CLAIMS,
    figures=(
        TrainFigure("loss_curves.png", "curves", "W ~ N(0, 0.01^2): train loss against steps without "
                    "normalization, with batch norm and with layer norm, every seed; dashed: the threshold 2.2",
                    (("table", "curves"), ("panel", None), ("threshold", 2.2), ("budget", 400))),
        TrainFigure("steps_by_init.png", "steps_vs_setting", "steps to train loss 2.2 per init, without and with "
                    "batch norm (open triangles: stalled within 400 steps)",
                    (("table", "steps_by_init"), ("x", "init_index"), ("budget", 400),
                     ("xlabel", "init: 1 = N(0, 0.01^2), 2 = Xavier, 3 = N(0, 1)"))),
    ),
)
