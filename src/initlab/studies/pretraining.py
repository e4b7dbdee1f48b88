"""pretraining: greedy layerwise unsupervised pretraining, Y. Bengio, P. Lamblin, D. Popovici,
H. Larochelle, "Greedy layer-wise training of deep networks", NIPS 2006 (stacked autoencoders),
and D. Erhan, Y. Bengio, A. Courville, P.-A. Manzagol, P. Vincent, S. Bengio, "Why does
unsupervised pre-training help deep learning?", JMLR 2010 (the benefit grows with depth).
Configs: ``initlab/studies/configs/pretraining_*.yaml``.
"""

from __future__ import annotations

from dataclasses import replace

from initlab.studies.framework import Case, Check, Claim, Outcome, Study, measured, packaged

DEPTHS = ("shallow", "deep")


def run(configs: dict, seeds: list[int]) -> Outcome:
    from initlab.config.datainit import PretrainConfig
    from initlab.datainit import resolve
    from initlab.runs import train as R

    values: dict[str, list] = {}
    rows, pre_rows = [], []
    ds = R.load_data(configs["deep"])
    for key in DEPTHS:
        for s in seeds:
            cfg = replace(configs[key], seed=s)
            pre = resolve.train(cfg, ds=ds)
            rand = resolve.train(replace(cfg, pretrain=PretrainConfig()), ds=ds)
            values.setdefault(f"{key}_ratio", []).append(rand.loop.final["train_loss"] / pre.loop.final["train_loss"])
            depth = len(cfg.network.widths)
            for label, res in (("pretrained", pre), ("random", rand)):
                rows += [{"depth": depth, "init": label, "run": f"depth {depth}, {label}", "seed": s,
                          "step": h["step"], "train_loss": h["train_loss"], "test_acc": h["test_acc"]}
                         for h in res.loop.history]
            pre_rows += [{"depth": depth, "seed": s, **r} for r in pre.datainit["pretrain"]]
    values["growth"] = [d / s for d, s in zip(values["deep_ratio"], values["shallow_ratio"])]

    def curves(path):
        from initlab.plots import datainit_figures

        datainit_figures.curves(rows, "step", "train_loss", "run", path,
                                "digits, sigmoid: fine-tuning after pretraining vs random init", "train loss", logy=True)

    return Outcome(values, tables={
        "finetuning": (rows, ("depth", "init", "seed", "step", "train_loss", "test_acc")),
        "pretraining": (pre_rows, ("depth", "seed", "layer", "epoch", "train_recon", "test_recon"))},
        figures=[("finetuning.png", "fine-tuning train loss, pretrained vs random, depth 2 and 6", curves)])


STUDY = Study(
    name="pretraining",
    title="Bengio et al. 2007, Erhan et al. 2010: greedy layerwise autoencoder pretraining",
    source="Y. Bengio, P. Lamblin, D. Popovici, H. Larochelle, Greedy layer-wise training of deep networks, NIPS 2006; "
           "D. Erhan et al., Why does unsupervised pre-training help deep learning?, JMLR 11 (2010), sec. 6",
    setup="digits (1297 train / 500 test, 64 inputs standardized), sigmoid layers of 64 units, depth 2 and 6, Xavier "
          "init. Pretrained: each hidden layer a tied autoencoder on the previous layer's codes, 8 epochs of Adam "
          "lr 0.01, batch 64; then the whole stack fine-tuned with the supervised loss (softmax cross-entropy), Adam "
          "lr 0.003, batch 64, 200 steps. Random: the same net and fine-tuning without pretraining (same draws of "
          "the weights, data and batches). Seeds 0, 1, 2.",
    notes="""\
- **Early in fine-tuning**: after 200 Adam steps neither net has converged (the deep random net is still above
  loss 1.3); the claims compare the training loss there, random / pretrained (> 1: pretraining helps).
- **Depth**: Erhan et al. (Fig. 1 and sec. 6) find the benefit of pretraining grows with depth; here the ratio at
  depth 6 over the ratio at depth 2. Full-MNIST error rates (Bengio et al. 2007's table) need full MNIST and far
  more compute; this checks the direction and rough size on a small set.
- The readout is not pretrained; the hidden layers are trained one at a time (the ones below frozen), then
  everything is fine-tuned.
""",
    cases=(Case("shallow", "depth 2", packaged("pretraining_shallow.yaml"), kind="train"),
           Case("deep", "depth 6", packaged("pretraining_deep.yaml"), kind="train")),
    seeds=3,
    claims=(
        Claim("pretraining-1", "deep", "pretrained initialization reaches a lower loss early in fine-tuning than random "
              "init (6 sigmoid layers)", 1.1, "no effect (1) plus a 10% margin", measured("deep_ratio"),
              "train loss after 200 fine-tuning steps, random / pretrained", Check("at_least", 0.0),
              "a 10% margin over no effect; measured 1.26-1.87 over seeds 0-2"),
        Claim("pretraining-2", "shallow", "pretraining also helps the shallow net, less", 1.03,
              "no effect (1) plus a 3% margin", measured("shallow_ratio"),
              "train loss after 200 fine-tuning steps, random / pretrained", Check("at_least", 0.0),
              "a 3% margin over no effect; measured 1.10-1.15 over seeds 0-2"),
        Claim("pretraining-3", "deep", "the benefit grows with depth (Erhan et al. 2010)", 1.05,
              "equal benefit (1) plus a 5% margin", measured("growth"),
              "(random / pretrained at depth 6) / (the same at depth 2)", Check("at_least", 0.0),
              "a 5% margin over equal benefit; measured 1.10-1.64 over seeds 0-2: the deep net's benefit varies most"),
    ),
    figures=(),
    runner=run,
)
