"""lottery: J. Frankle, M. Carbin, "The lottery ticket hypothesis: finding sparse, trainable neural
networks", ICLR 2019, on MNIST-1D as in S. Greydanus, "Scaling down deep learning" (2020), whose
lottery-ticket experiment on an MLP is the closest published small-scale setup. Configs:
``initlab/studies/configs/lottery_*.yaml``.
"""

from __future__ import annotations

from dataclasses import replace

from initlab.studies.framework import Case, Check, Claim, Outcome, Study, measured, packaged

ROUNDS = 2
RATE = 0.6


def run(configs: dict, seeds: list[int]) -> Outcome:
    from initlab.datainit import lottery
    from initlab.runs import train as R

    values: dict[str, list] = {}
    rows = []
    ds = R.load_data(configs["mnist1d"])
    for s in seeds:
        cfg = replace(configs["mnist1d"], seed=s)
        res = lottery.ticket(cfg, ds, rounds=ROUNDS, rate=RATE, output_rate=RATE / 2, controls=True,
                             control_rounds=(ROUNDS,))
        by = {(r["round"], r["kind"]): r for r in res.rows}
        dense, tick = by[(0, "dense")], by[(ROUNDS, "ticket")]
        values.setdefault("sparsity", []).append(1 - tick["remaining"])
        values.setdefault("vs_dense", []).append(tick["test_acc"] - dense["test_acc"])
        values.setdefault("vs_reinit", []).append(tick["test_acc"] - by[(ROUNDS, "reinit")]["test_acc"])
        values.setdefault("vs_random", []).append(tick["test_acc"] - by[(ROUNDS, "random")]["test_acc"])
        rows += [{"seed": s, **r} for r in res.rows]

    def figure(path):
        from initlab.plots import datainit_figures

        datainit_figures.tickets(rows, path, "MNIST-1D MLP: lottery tickets", steps=configs["mnist1d"].train.steps)

    return Outcome(values, tables={"tickets": (rows, ("seed",) + lottery.COLUMNS)},
                   figures=[("tickets.png", "test accuracy and steps to threshold against the weights remaining", figure)])


STUDY = Study(
    name="lottery",
    title="Frankle & Carbin 2019: lottery tickets on MNIST-1D",
    source="J. Frankle, M. Carbin, The lottery ticket hypothesis, ICLR 2019, Alg. 1, Figs. 3-4 (LeNet-300-100: "
           "tickets down to a few % of the weights match the dense net; random reinitialization and random pruning "
           "do worse); S. Greydanus, Scaling down deep learning, 2020 (the MNIST-1D MLP version)",
    setup="MNIST-1D (4000 train / 1000 test), 40-100-100-10 ReLU MLP, He init, Adam lr 0.004, batch 100, 300 steps per "
          "training run (evaluated every 50). Iterative magnitude pruning: 2 rounds of 60% of the surviving hidden weights (global) and "
          "30% of the readout's, rewinding to step 0, masks kept through training (82% of all weights pruned after "
          "round 2). Controls at round 2: the same masks on a fresh He draw (reinit), random masks of the same "
          "per-layer sparsity on the original init (random). Seeds 0, 1, 2.",
    notes="""\
- The paper's LeNet-300-100 experiment prunes 20% per round for up to 20+ rounds of 50k iterations each; within
  this study's budget (a few CPU-seconds per seed) two rounds of 60% reach 82% sparsity, the low end of the
  80-95% range the issue names. Accuracies are final test accuracies after the same 300 steps.
- A measured check beyond the budget (not run by this study): 3 rounds of 50% (86% sparse, 400 steps) kept the
  ticket within ~1 point of dense on 3 of 4 seeds and 5.5 points below on one; 4 rounds (92%) lost ~4 points.
  So 'match' holds in this small setup to ~85% sparsity; both controls stay ~10 points below the ticket.
""",
    cases=(Case("mnist1d", "MNIST-1D MLP", packaged("lottery_mnist1d.yaml"), kind="train"),),
    seeds=3,
    claims=(
        Claim("lottery-1", "mnist1d", "the ticket is at 80-95% sparsity", 0.8, "the low end of the range",
              measured("sparsity"), "fraction of weights pruned after round 2", Check("at_least", 0.0),
              "deterministic: 1 - 0.4^2 of the hidden weights and 1 - 0.7^2 of the readout's", aggregate="mean"),
        Claim("lottery-2", "mnist1d", "winning tickets match or beat the dense network's test accuracy", 0.0,
              "parity", measured("vs_dense"), "test accuracy, ticket - dense", Check("at_least", 0.02),
              "'match' read as within 2 points; the per-seed sd of a 1000-example test accuracy is ~1.5 points",
              aggregate="mean"),
        Claim("lottery-3", "mnist1d", "the ticket beats the same masks with a random re-initialization", 0.05,
              "a 5-point margin", measured("vs_reinit"), "test accuracy, ticket - reinit", Check("at_least", 0.0),
              "measured ~7-12 points over seeds", aggregate="mean"),
        Claim("lottery-4", "mnist1d", "the ticket beats random masks of the same sparsity", 0.05, "a 5-point margin",
              measured("vs_random"), "test accuracy, ticket - random pruning", Check("at_least", 0.0),
              "measured ~8-11 points over seeds", aggregate="mean"),
    ),
    figures=(),
    runner=run,
)
