"""clipping: gradient-norm clipping turns a diverging run into a training one (R. Pascanu,
T. Mikolov, Y. Bengio, On the difficulty of training recurrent neural networks, ICML 2013,
Algorithm 1: ``g <- g * threshold / ||g||`` when ``||g|| > threshold``, the seed's
``W = W * threshold / l2_norm(W)`` applied to the gradient, as ``torch.nn.utils.clip_grad_norm_``
does). Config: ``initlab/studies/configs/clipping_base.yaml``.
"""

from __future__ import annotations

from initlab.studies.framework import Case, Check, Claim, packaged
from initlab.studies.trained import Plan, Trained, TrainFigure, TrainStudy, fit, learning_time, with_sets

NAME = "clipping"
MAX_NORM = 0.5
SAFE_LR = 0.05
SETTINGS = (("unclipped", "lr 1.0, no clipping", {}),
            ("clipped", f"lr 1.0, gradient norm clipped to {MAX_NORM:g}", {"train.clip": {"norm": MAX_NORM}}),
            ("reference", f"lr {SAFE_LR:g}, no clipping", {"train.optimizer.lr": SAFE_LR}))
SMOKE_STEPS = 20


def run(plan: Plan) -> Trained:
    from initlab.runs import train as T

    base = plan.configs["base"]
    budget = SMOKE_STEPS if plan.smoke else base.train.steps
    ds = T.load_data(base)
    out = Trained(params={"budget": budget, "max_norm": MAX_NORM, "threshold": base.train.threshold.value})
    for seed in plan.seeds:
        for key, label, sets in SETTINGS:
            cfg = with_sets(base, **{"seed": seed, "train.steps": budget, **sets})
            res = fit(cfg, ds)
            steps, reached = learning_time(res, budget)
            clipped = [h["clipped"] for h in res.history if h["clipped"] is not None]
            norms = [h["grad_norm"] for h in res.history if h["grad_norm"] is not None]
            out.add("runs", {"case": label, "key": key, "seed": seed, "steps": steps, "reached": int(reached),
                             "diverged": int(res.diverged), "diverged_at": res.diverged_at,
                             "final_train_acc": res.final["train_acc"],
                             "first_grad_norm": norms[0] if norms else None,
                             "clipped_fraction": sum(clipped) / len(clipped) if clipped else None})
            for h in res.history:
                out.add("curves", {"case": label, "seed": seed, "step": h["step"], "train_loss": h["train_loss"],
                                   "train_acc": h["train_acc"], "grad_norm": h["grad_norm"]})
    return out


def _col(key: str, column: str):
    return lambda t: [float(v) for v in t.values("runs", column, key=key)]


def _failed(t: Trained) -> list[float]:
    return [1.0 - v for v in t.values("runs", "reached", key="unclipped")]


def _clipped_vs_reference(t: Trained) -> list[float]:
    a = t.values("runs", "steps", key="clipped")
    b = t.values("runs", "steps", key="reference")
    return [x / y for x, y in zip(a, b)]


CLAIMS = (
    Claim("clipping-1", "unclipped", "without clipping, the too large step wrecks training: the loss "
          "becomes inf / NaN, or the first steps leave a net that no longer learns", 1.0,
          "direction (Pascanu et al. 2013: exploding updates)", _failed,
          "fraction of seeds whose unclipped run never reaches 50% train accuracy within 300 steps",
          Check("abs", 0.0), "a count: in development 4 of 6 seeds diverged within 6 steps, the other 2 ended "
          "at 11-20% train accuracy (dead ReLUs after the first steps); `runs.csv` says which",
          aggregate="mean"),
    Claim("clipping-2", "clipped", "with the gradient norm clipped, the same lr trains", 1.0,
          "direction (Pascanu et al. 2013, Algorithm 1)", _col("clipped", "reached"),
          "fraction of seeds reaching 50% train accuracy within 300 steps, never diverging", Check("abs", 0.0),
          "a count: development runs reached it in 80-90 steps", aggregate="mean"),
    Claim("clipping-3", "clipped", "clipping makes the too large lr about as fast as a well chosen one",
          1.0, "ours (a clipped step is at most lr x max_norm = 0.5 long)", _clipped_vs_reference,
          "steps to 50%: clipped at lr 1.0 / unclipped at lr 0.05", Check("factor", 2.5),
          "x2.5: development runs gave 80-90 vs 90-110 steps (ratio 0.7-1.0), read every 10 steps"),
)

STUDY = TrainStudy(
    name=NAME,
    title="Gradient-norm clipping: a diverging learning rate trains once the gradient is clipped",
    source="R. Pascanu, T. Mikolov, Y. Bengio, On the difficulty of training recurrent neural networks, ICML "
           "2013 (Algorithm 1, gradient-norm clipping); the seed's `W = W * threshold / l2_norm(W)`",
    setup="MNIST-1D (500 train / 100 test, one draw), a 6-layer ReLU MLP of width 64 with He init, biases 0, "
          "softmax readout, SGD, batch 32, float32; lr 1.0 without clipping, lr 1.0 with the global "
          "gradient norm clipped to 0.5, and lr 0.05 without clipping (a well-behaved reference); a run "
          "stops at 50% train accuracy (chance: 10%) or after 300 steps; seeds 0-2 (weights and batches). "
          "Config `initlab/studies/configs/clipping_base.yaml`.",
    notes="""\
- Clipping by norm rescales the whole gradient (all layers together) to length 0.5 when it is
  longer, so no update is longer than lr x 0.5 = 0.5; the direction is kept. At lr 1.0 the
  unclipped first steps (gradient norms of a few units) throw the weights far enough that the
  logits overflow within a few steps: inf / NaN, a divergence the loop records and stops at; or
  (some seeds) the first steps push most ReLUs to zero output and the net stops learning. Both
  are the failure the claim counts; `runs.csv` says which (`diverged`).
- Here the explosion comes from the step size, the common case in practice; recurrent nets (Pascanu
  et al.'s setting) get the same from products of Jacobians. The claim checked is theirs: clipping
  turns the diverging run into one that trains, at a speed comparable to a well-chosen small lr.
""",
    cases=(Case("base", "6-layer ReLU MLP on MNIST-1D", packaged(f"{NAME}_base.yaml")),),
    seeds=3,
    run=run,
    claims=CLAIMS,
    figures=(
        TrainFigure("loss_curves.png", "curves", "train loss (log scale) against steps, every seed: lr 1.0 "
                    "diverges within a few steps without clipping and trains with it",
                    (("table", "curves"), ("panel", None), ("log", True), ("budget", 300))),
        TrainFigure("accuracy_curves.png", "curves", "train accuracy against steps; dashed: the 50% threshold",
                    (("table", "curves"), ("panel", None), ("metric", "train_acc"), ("threshold", 0.5),
                     ("ylabel", "train accuracy"))),
    ),
)
