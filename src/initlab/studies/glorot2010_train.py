"""glorot2010-train: X. Glorot, Y. Bengio, Understanding the difficulty of training deep feedforward
neural networks, AISTATS 2010, trained: a scaled-down version of their tanh experiments (5 hidden
layers), "standard" vs "normalized" initialization: training speed (their Fig. 11 / Table 1) and
the back-propagated gradients across layers during training (their Fig. 7, followed over
training). Config: ``initlab/studies/configs/glorot2010-train_base.yaml``.
"""

from __future__ import annotations

from initlab.studies.framework import Case, Check, Claim, packaged
from initlab.studies.trained import Plan, Trained, TrainFigure, TrainStudy, fit, learning_time, with_sets

NAME = "glorot2010-train"
INITS = (("standard", "standard U[-1/sqrt(n), 1/sqrt(n)]",
          {"name": "variance_scaling", "scale": 1.0 / 3.0, "mode": "fan_in", "distribution": "uniform"}),
         ("normalized", "normalized (xavier_uniform)", "xavier_uniform"))
COLUMN = "grad_preact_std"  # dL/dz_l: their "back-propagated gradients" dC/ds
SMOKE_STEPS = 20


def run(plan: Plan) -> Trained:
    from initlab.runs import train as T

    base = plan.configs["base"]
    steps = SMOKE_STEPS if plan.smoke else base.train.steps
    stats_every = 10 if plan.smoke else base.train.stats_every
    ds = T.load_data(base)
    out = Trained(params={"steps": steps, "threshold": base.train.threshold.value, "stats_every": stats_every})
    for seed in plan.seeds:
        for key, label, init in INITS:
            cfg = with_sets(base, **{"seed": seed, "network.initializer": init, "train.steps": steps,
                                     "train.stats_every": stats_every})
            res = fit(cfg, ds, stop=False, stats=True)
            t, reached = learning_time(res, steps)
            out.add("steps", {"case": label, "init": key, "seed": seed, "steps": t, "reached": int(reached),
                              "final_train_acc": res.final["train_acc"], "final_test_acc": res.final["test_acc"]})
            for r in res.layers:
                out.add("layers", {"case": label, "init": key, "seed": seed, "step": r["step"], "layer": r["layer"],
                                   "grad_preact_std": r["grad_preact_std"], "act_std": r["act_std"],
                                   "act_saturated": r["act_saturated"]})
            for h in res.history:
                out.add("curves", {"case": label, "seed": seed, "step": h["step"], "train_loss": h["train_loss"],
                                   "train_acc": h["train_acc"]})
    return out


def _seeds(t: Trained) -> list:
    return sorted({r["seed"] for r in t.tables["steps"]})


def _speedup(t: Trained) -> list[float]:
    a = t.values("steps", "steps", init="standard")
    b = t.values("steps", "steps", init="normalized")
    return [x / y for x, y in zip(a, b)]


def _spread(init: str):
    """Per seed: the largest, over the statistics steps, of max / min over the layers of
    std(dL/dz_l) (1 = perfectly level)."""
    def measure(t: Trained) -> list[float]:
        out = []
        for s in _seeds(t):
            rows = t.rows("layers", init=init, seed=s)
            worst = 1.0
            for step in sorted({r["step"] for r in rows}):
                v = [r[COLUMN] for r in rows if r["step"] == step]
                worst = max(worst, max(v) / min(v))
            out.append(worst)
        return out
    return measure


EARLY = 50  # the early phase: statistics steps 0 and 50


def _bottom_over_top(init: str, until: int = EARLY):
    """Per seed: std(dL/dz_1) / std(dL/dz_L), geometric mean over the statistics steps up to
    ``until``."""
    import math

    def measure(t: Trained) -> list[float]:
        out = []
        for s in _seeds(t):
            rows = t.rows("layers", init=init, seed=s)
            top = max(r["layer"] for r in rows)
            logs = []
            for step in sorted({r["step"] for r in rows if r["step"] <= until}):
                by = {r["layer"]: r[COLUMN] for r in rows if r["step"] == step}
                logs.append(math.log(by[1] / by[top]))
            out.append(math.exp(sum(logs) / len(logs)))
        return out
    return measure


CLAIMS = (
    Claim("glorot2010-train-1", "normalized", "normalized init trains faster than the standard one (their "
          "Fig. 11: tanh converges faster with it)", 1.5, "direction (Fig. 11, Table 1), size ours", _speedup,
          "steps to 50% train accuracy: standard / normalized (a run that never reaches it counts as 400)",
          Check("at_least", 0.0), "x1.5: development runs gave x2 and more; read every 10 steps"),
    Claim("glorot2010-train-2", "normalized", "normalized init: the back-propagated gradients stay roughly "
          "level across layers, from the start and throughout training (Fig. 7 bottom)", 1.0,
          "published (Fig. 7), over training ours", _spread("normalized"),
          "worst over the 400 steps of max / min over the 5 layers of std(dL/dz_l)", Check("factor", 3.0),
          "x3: at init eq. 6 with n Var[W] = 1 still shrinks by sqrt(E[tanh'^2]) ~ 0.85 per layer (x2 over "
          "4 layers); development runs (6 seeds) stayed within x1.97-2.28 over the whole run"),
    Claim("glorot2010-train-3", "standard", "standard init: the back-propagated gradients shrink toward the "
          "lower layers (Fig. 7 top)", 0.25, "eq. 6: sqrt(1/3)^4 = 0.11 at init",
          _bottom_over_top("standard"), "std(dL/dz_1) / std(dL/dz_5), geometric mean over steps 0 and 50",
          Check("at_most", 0.0), "at most 1/4: eq. 6 gives sqrt(1/3)^4 E[tanh'^2]^2 ~ 0.11 at init; "
          "development runs gave 0.09 at step 0 and 0.14 at step 50 (seed 0); later in training the gap "
          "closes (0.7 at step 100, see the figure), so the claim is about the start"),
)

STUDY = TrainStudy(
    name=NAME,
    title="Glorot & Bengio 2010, trained: normalized init trains faster, its gradients stay level",
    source="X. Glorot, Y. Bengio, Understanding the difficulty of training deep feedforward neural networks, "
           "AISTATS 2010: Fig. 7 (back-propagated gradients per layer, standard vs normalized), Fig. 11 and "
           "Table 1 (tanh trains faster and better with normalized init; Table 1's MNIST test errors, "
           "tanh 1.76% standard vs 1.64% normalized, are quoted as context, not checked)",
    setup="Scaled down: MNIST-1D (500 train / 100 test, one draw) instead of their Shapeset / MNIST, 5 tanh "
          "layers of 64 (theirs: 1000), biases 0, softmax readout; standard U[-1/sqrt(n), 1/sqrt(n)] "
          "(variance_scaling scale 1/3, fan-in, uniform: n Var[W] = 1/3) vs normalized xavier_uniform; SGD "
          "lr 0.1, batch 32, float32, 400 steps; std(dL/dz_l) per layer on a probe batch of 256 training "
          "inputs every 50 steps; seeds 0-2. Config `initlab/studies/configs/glorot2010-train_base.yaml`.",
    notes="""\
- Eq. 6 of the paper: Var[dC/ds^i] = Var[dC/ds^d] prod_{i' >= i} n_{i'+1} Var[W^{i'}] (times the
  tanh' factors), so with n Var[W] = 1/3 the gradient shrinks by about sqrt(1/3) per layer toward
  the input, while the normalized init's n Var[W] ~ 1 keeps it level; the `glorot2010` study checks
  this at step 0 at their width (1000). Followed over training here: the standard init's lowest
  layer receives ~1/10 of the top layer's gradient at the start (0.09 at step 0, 0.14 at step 50,
  seed 0), and the normalized init's layers are within x2 of each other; with SGD at lr 0.1 the
  standard net's weights then grow and the gap closes within ~100 steps (0.7 at step 100), by
  which time the normalized net is well ahead (50% train accuracy in ~2.5-4x fewer steps).
- Width 64 instead of 1000: the factors n Var[W] do not depend on the width (1/3 and ~1), so the
  per-layer picture is the same; the data and size make each run a fraction of a second.
- Not checked: their test errors (Table 1) need MNIST-sized training and many epochs.
""",
    cases=(Case("base", "5-layer tanh MLP on MNIST-1D", packaged(f"{NAME}_base.yaml")),),
    seeds=3,
    run=run,
    claims=CLAIMS,
    figures=(
        TrainFigure("grad_by_layer.png", "grad_by_layer", "std of the back-propagated gradient dL/dz per layer "
                    "(geometric mean over seeds) every 50 steps, standard vs normalized: Glorot & Bengio's Fig. 7 "
                    "followed over training", (("column", COLUMN), ("ylabel", "std of dL/dz (probe batch)"))),
        TrainFigure("accuracy_curves.png", "curves", "train accuracy against steps, every seed; dashed: 50%",
                    (("table", "curves"), ("panel", None), ("metric", "train_acc"), ("threshold", 0.5),
                     ("ylabel", "train accuracy"))),
    ),
)
