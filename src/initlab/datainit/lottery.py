"""Lottery tickets: iterative magnitude pruning with rewinding (Frankle & Carbin 2019, "The
lottery ticket hypothesis", Alg. 1 and sec. 5; rewinding to step k: Frankle, Dziugaite, Roy &
Carbin 2020, "Linear mode connectivity and the lottery ticket hypothesis"), with the two
controls of the paper.

Per round r = 0..R: train the network (masked from round 1 on) for ``train.steps`` updates;
prune a fraction ``prune`` of the weights still alive by smallest |w| after training, the
hidden layers pooled (``scope: global``, open_lth's default) or each on its own (``layer``,
the paper's LeNet experiments), the readout on its own at ``output_rate`` (the paper prunes
the output layer at half the rate); biases are never pruned. Then *rewind*: the survivors take
their values at step ``rewind`` of the dense run (0: the initialization itself; k > 0: after k
updates, Frankle et al. 2020), the masks are kept through training (the optimizer masks the
update and the loop zeroes pruned entries after every step), and the next round trains them.
Every round restarts the batch order and the optimizer's state, so rounds differ only in the
weights.

Controls at every round's sparsity (``controls``): ``reinit`` the same masks on a fresh random
draw of the same initializer (another seed: the paper's "random reinitialization"), ``random``
masks of the same per-layer sparsity at random positions on the rewound weights ("random
pruning"). Remaining weights are counted over every prunable weight (hidden layers and
readout).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from initlab.engine.parameters import StoredParameters, stream
from initlab.training import loop as L

TICKET = 10  # stream purpose: the random masks and the re-initialization seeds (initlab.datainit)
SCOPES = ("global", "layer")
KINDS = ("dense", "ticket", "reinit", "random")
COLUMNS = ("round", "kind", "remaining", "train_acc", "test_acc", "best_test_acc", "test_loss",
           "steps_to_threshold", "diverged")


def prune(params: StoredParameters, rate: float, output_rate: float, scope: str = "global") -> list[np.ndarray]:
    """New masks for ``params`` (L hidden layers + readout): a fraction ``rate`` of the surviving
    hidden weights with the smallest |w| (pooled or per layer) and ``output_rate`` of the
    readout's are set to 0. Ties are broken by position (stable sort), so the result is
    deterministic. ``rate`` in (0, 1); ``output_rate`` in [0, 1)."""
    n = params.layers
    masks = [np.ones_like(w) if m is None else m.copy() for w, m in zip(params.weights, params.masks)]

    def cut(groups: list[int], frac: float) -> None:
        alive = [np.flatnonzero(masks[l - 1].ravel()) for l in groups]
        mags = np.concatenate([np.abs(params.weights[l - 1].ravel()[a]) for l, a in zip(groups, alive)])
        k = int(round(frac * mags.size))
        if k <= 0:
            return
        order = np.argsort(mags, kind="stable")[:k]
        offsets = np.cumsum([0] + [a.size for a in alive])
        for i, l in enumerate(groups):
            sel = order[(order >= offsets[i]) & (order < offsets[i + 1])] - offsets[i]
            masks[l - 1].reshape(-1)[alive[i][sel]] = 0

    hidden = list(range(1, n))
    if scope == "global":
        cut(hidden, rate)
    else:
        for l in hidden:
            cut([l], rate)
    cut([n], output_rate)
    return masks


def random_like(masks: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Masks with as many survivors per layer as ``masks`` at uniformly random positions."""
    out = []
    for m in masks:
        keep = int(m.sum())
        r = np.zeros(m.size, dtype=m.dtype)
        r[rng.choice(m.size, size=keep, replace=False)] = 1
        out.append(r.reshape(m.shape))
    return out


def remaining(masks: list[np.ndarray | None], params: StoredParameters) -> float:
    """The fraction of prunable weights alive."""
    total = sum(w.size for w in params.weights)
    alive = sum(w.size if m is None else int(m.sum()) for w, m in zip(params.weights, masks))
    return alive / total


def with_masks(values: StoredParameters, masks: list[np.ndarray]) -> StoredParameters:
    """A copy of ``values`` carrying ``masks`` (pruned entries zeroed)."""
    p = values.copy()
    for l, m in enumerate(masks, start=1):
        p.set_mask(l, m)
    return p


class Snapshot(L.Callbacks):
    """Keeps a copy of ``params`` after ``step`` updates (``step`` 0: before the first)."""

    def __init__(self, params: StoredParameters, step: int):
        self.params, self.at = params, step
        self.value = params.copy() if step == 0 else None

    def step(self, done, loss, acc):
        if done == self.at:
            self.value = self.params.copy()


@dataclass
class TicketResult:
    """Every round's rows (:data:`COLUMNS`), the final ticket's masks and the per-round curves."""

    rows: list[dict]
    masks: list[np.ndarray]
    histories: dict[str, list[dict]] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


def _row(r: int, kind: str, rem: float, res) -> dict:
    f = res.final_metrics()
    accs = [h["test_acc"] for h in res.loop.history if h.get("test_acc") is not None]
    return {"round": r, "kind": kind, "remaining": rem, "train_acc": f["train_acc"], "test_acc": f["test_acc"],
            "best_test_acc": max(accs) if accs else None, "test_loss": f["test_loss"],
            "steps_to_threshold": f["steps_to_threshold"], "diverged": f["diverged"]}


def ticket(cfg, ds, *, rounds: int, rate: float, output_rate: float, rewind: int = 0, scope: str = "global",
           controls: bool = False, control_rounds: tuple[int, ...] | None = None, progress=None) -> TicketResult:
    """Iterative magnitude pruning of ``cfg``'s network on ``ds`` (see the module docstring).
    ``control_rounds``: the rounds that get the controls (default: every round, when
    ``controls``). ``progress(text)`` is told each finished training run."""
    from initlab.datainit.resolve import train_parameters
    from initlab.runs import train as R

    say = progress or (lambda text: None)
    params0, info = train_parameters(cfg, ds)
    snap = Snapshot(params0, rewind)
    rewound_to = params0.copy()
    res = R.run(cfg, ds=ds, params=params0, callbacks=snap, datainit=info)
    if snap.value is None:  # diverged before step k
        snap.value = rewound_to
    rewound = snap.value
    rows = [_row(0, "dense", 1.0, res)]
    hist = {"dense": res.loop.history}
    say(f"round 0 dense: test acc {rows[-1]['test_acc']}")
    last = params0
    masks = [np.ones_like(w) for w in params0.weights]
    for r in range(1, rounds + 1):
        masks = prune(_masked(last, masks), rate, output_rate, scope)
        rem = remaining(masks, params0)
        p = with_masks(rewound, masks)
        res = R.run(cfg, ds=ds, params=p)
        rows.append(_row(r, "ticket", rem, res))
        hist[f"ticket{r}"] = res.loop.history
        last = p
        say(f"round {r} ticket ({100 * rem:.1f}% left): test acc {rows[-1]['test_acc']}")
        if controls and (control_rounds is None or r in control_rounds):
            seed = int(stream(cfg.seed, TICKET, r).integers(2**31))
            fresh, _ = train_parameters(cfg, ds, seed=seed)
            res = R.run(cfg, ds=ds, params=with_masks(fresh, masks))
            rows.append(_row(r, "reinit", rem, res))
            rnd = random_like(masks, stream(cfg.seed, TICKET, 10_000 + r))
            res = R.run(cfg, ds=ds, params=with_masks(rewound, rnd))
            rows.append(_row(r, "random", rem, res))
            say(f"round {r} controls: reinit {rows[-2]['test_acc']}, random {rows[-1]['test_acc']}")
    return TicketResult(rows, masks, hist, {"rounds": rounds, "prune": rate, "output_rate": output_rate,
                                            "rewind": rewind, "scope": scope, "controls": controls})


def _masked(params: StoredParameters, masks: list[np.ndarray]) -> StoredParameters:
    """``params`` with ``masks`` attached (the trained weights to prune further)."""
    p = StoredParameters(params.weights, params.biases, masks)
    return p
