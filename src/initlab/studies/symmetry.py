"""symmetry: zero and constant initialization never break the symmetry between hidden units (the
deeplearning.ai initialization notebook, "fails to break symmetry"; Goodfellow, Bengio &
Courville, Deep Learning, sec. 8.4: "the initial parameters need to break symmetry between
different units"), for every activation and optimizer tried; random initialization and dropout
(Srivastava et al. 2014) do break it. Config: ``initlab/studies/configs/symmetry_base.yaml``.
"""

from __future__ import annotations

from initlab.studies.framework import Case, Check, Claim, packaged
from initlab.studies.trained import Plan, Trained, TrainFigure, TrainStudy, fit, last_distinct, with_sets

NAME = "symmetry"
ACTIVATIONS = ("relu", "tanh", "gelu")
OPTIMIZERS = (("sgd", {"name": "sgd", "lr": 0.1}),
              ("momentum", {"name": "sgd", "lr": 0.1, "momentum": 0.9}),
              ("adam", {"name": "adam", "lr": 0.01}))
INITS = (("zeros", "zeros", 0.0), ("constant", {"name": "constant", "value": 0.5}, 0.0),
         ("constant + dropout", {"name": "constant", "value": 0.5}, 0.2),
         ("random (he_normal)", "he_normal", 0.0))
# random init and dropout are measured in one setup (where the constant init trains visibly):
# breaking the symmetry needs one counter-example, keeping it every setup tried
ONE_SETUP = (("tanh", "sgd"),)
SMOKE_STEPS = 5


def run(plan: Plan) -> Trained:
    """Every (init, activation, optimizer) at every seed: ``distinct_units`` of each hidden layer
    after training (the loop's statistics at the last step)."""
    from initlab.runs import train as T

    base = plan.configs["base"]
    steps = SMOKE_STEPS if plan.smoke else base.train.steps
    width = base.network.width if isinstance(base.network.width, int) else base.network.width[0]
    out = Trained(params={"steps": steps, "width": width})
    for seed in plan.seeds:
        ds = T.load_data(with_sets(base, seed=seed))
        for init_label, init, dropout in INITS:
            for act in ACTIVATIONS:
                for opt_label, opt in OPTIMIZERS:
                    if (dropout or init_label.startswith("random")) and (act, opt_label) not in ONE_SETUP:
                        continue
                    cfg = with_sets(base, **{"seed": seed, "network.initializer": init, "network.activation": act,
                                             "network.dropout": dropout, "train.optimizer": opt,
                                             "train.steps": steps, "train.stats_every": steps})
                    res = fit(cfg, ds, stop=False, stats=True)
                    units = last_distinct(res, cfg.network.depth)
                    for layer, u in enumerate(units, start=1):
                        out.add("units", {"init": init_label, "setup": f"{act} / {opt_label}", "activation": act,
                                          "optimizer": opt_label, "seed": seed, "layer": layer,
                                          "distinct_units": u, "width": width,
                                          "final_train_acc": res.final["train_acc"]})
    return out


def _units(init: str, reduce):
    def measure(t: Trained) -> list[float]:
        out = []
        for s in sorted({r["seed"] for r in t.tables["units"]}):
            out.append(float(reduce(t.values("units", "distinct_units", init=init, seed=s))))
        return out
    return measure


def _width(t: Trained) -> float:
    return float(t.params["width"])


EXACT = ("exact: identical units see identical inputs and receive identical gradients, so every "
         "optimizer (SGD, momentum, Adam's per-entry moments) gives them identical updates, bit for bit")
CLAIMS = (
    Claim("symmetry-1", "zeros", "zero init keeps every hidden layer at one distinct unit through training, "
          "for every activation and optimizer", 1.0, "exact (symmetry)", _units("zeros", max),
          "most distinct units in any hidden layer, activation and optimizer after training", Check("abs", 0.0),
          EXACT, aggregate="mean"),
    Claim("symmetry-2", "constant", "constant init (0.5) too: one distinct unit per layer after training, "
          "for every activation and optimizer", 1.0, "exact (symmetry)", _units("constant", max),
          "most distinct units in any hidden layer, activation and optimizer after training", Check("abs", 0.0),
          EXACT + "; unlike zeros the units do move (their gradients are not 0), together", aggregate="mean"),
    Claim("symmetry-3", "random (he_normal)", "random init: every unit distinct", _width, "the width",
          _units("random (he_normal)", min), "fewest distinct units in any hidden layer after training",
          Check("abs", 0.0), "exact: two columns of continuous random draws coincide with probability 0",
          aggregate="mean"),
    Claim("symmetry-4", "constant + dropout", "dropout breaks the symmetry of a constant init (each unit "
          "gets its own mask)", _width, "the width (measured: dropout 0.2, tanh, SGD)",
          _units("constant + dropout", min), "fewest distinct units in any hidden layer after training",
          Check("abs", 0.0), "exact: after one masked update two units coincide only if their masks agreed "
          "on every row of the batch (probability ~0.68^200 per pair)", aggregate="mean"),
)

STUDY = TrainStudy(
    name=NAME,
    title="Symmetry: zero and constant init never break it, random init and dropout do",
    source="deeplearning.ai, Improving Deep Neural Networks, week 1, 'Initialization' notebook (zero "
           "initialization 'fails to break symmetry'); Goodfellow, Bengio & Courville, Deep Learning (2016), "
           "sec. 8.4; the notebook's remark that dropout would break it, measured",
    setup="xor (uniform square, label x1 x2 < 0; 200 train / 100 test, noise 0.05, standardized; a new draw per seed), a 2-16-16-1 net "
          "with a sigmoid output (binary cross-entropy), biases 0, full batch, 50 steps, float64; "
          "zeros and constant 0.5 under every activation (relu, tanh, gelu) and optimizer (SGD lr 0.1, "
          "SGD with momentum 0.9 lr 0.1, Adam lr 0.01); he_normal, and constant 0.5 with dropout 0.2, in "
          "one setup (tanh, SGD): breaking the symmetry needs one example; seeds 0-2. `distinct_units` counts the distinct incoming-weight columns "
          "[W_l; b_l] of a layer (exact equality). Config `initlab/studies/configs/symmetry_base.yaml`.",
    notes="""\
- Why the symmetry cannot break: if units i and j of a layer have equal incoming weights and
  biases, they compute equal activations; the layer above has equal outgoing weights from them
  (its own columns are equal entry by entry, being constant), so they receive equal
  back-propagated gradients, their weight gradients are equal, and any optimizer that acts entry
  by entry (SGD, momentum, Adam) keeps them equal. The network behaves as one unit per layer.
- The count is exact: `distinct_units` compares the columns' bytes. That it stays 1 also
  tells that the numerics keep identical columns identical (the same products, summed in the same
  order, for every column). That holds at this width (16, a multiple of the SIMD width); at odd
  widths (5, 7) numpy's column sums of the bias gradient can round one column differently (one
  ulp: the weights stay identical), the exact count then says 2, and the units stay equal to
  rounding (relative spread <= 1e-12; `tests/test_train_studies.py` checks both).
- Zeros are a fixed point beyond symmetry: with every weight 0, only the output bias can move.
  Constant 0.5 moves, but as one unit per layer.
- Dropout multiplies each unit's output by its own random mask, so two units with equal weights
  receive different gradients from the first step on.
""",
    cases=(Case("base", "2-16-16-1 on xor", packaged(f"{NAME}_base.yaml")),),
    seeds=3,
    run=run,
    claims=CLAIMS,
    figures=(
        TrainFigure("distinct_units.png", "distinct_units",
                    "distinct units per hidden layer after 50 steps, per activation / optimizer and init "
                    "(bar: the most over layers and seeds, tick: the fewest); dotted: the width 16",
                    (("width", 16), ("title", "Symmetry breaking: distinct hidden units after training"))),
    ),
)
