"""schoenholz2017: Schoenholz, Gilmer, Ganguli & Sohl-Dickstein, "Deep Information Propagation",
ICLR 2017, sec. 5 and figs. 5-6: random tanh networks are trainable when their depth is below
about 6 xi_c, the mean-field correlation depth scale, and untrainable beyond it.

Their setup: fully connected tanh nets of width 300 on MNIST and CIFAR-10, weights
N(0, sigma_w^2 / N), biases N(0, sigma_b^2) with sigma_b^2 = 0.05, sigma_w^2 from 1 to 4, depth
10 to 300, SGD and RMSProp for thousands of steps; trained accuracy as a heatmap over
(sigma_w^2, depth) with the curve 6 xi_c(sigma_w^2) drawn over it.

Ours, the closest faithful analogue inside the `make figures` budget: width 64, scikit-learn's
8x8 digits (1297 training images, ten classes: a small MNIST), plain SGD (lr 0.01, batch 64) for
200 steps, float32, over sigma_w^2 in {0.25, 0.5, 1, 2, 4} x depth in {4, 8, 16, 32}, 2 seeds
(``--large``: 11 x 6 points up to depth 128, 500 steps, 3 seeds). xi_c comes from
:func:`initlab.theory.phase.depth_scales` (exact Gaussian integrals at the fixed point q*).
"""

from __future__ import annotations

import functools

from initlab.studies.framework import Check, Claim, Figure, Study, packaged
from initlab.studies.grids import Grid

SB2 = 0.05
SW2 = "network.initializer.scale"
DEPTH = "network.depth"
TRAINED = 0.5  # train accuracy counted as "trains" (chance: 0.1; five times chance)
CHANCE = 0.1
BAND = 2.0  # points within a factor BAND of 6 xi_c are not scored (see the notes)
CONFIG = packaged("schoenholz2017_base.yaml")

GRID = Grid(CONFIG, (SW2, (0.25, 0.5, 1.0, 2.0, 4.0)), (DEPTH, (4, 8, 16, 32)), seeds=2)
LARGE = Grid(CONFIG, (SW2, (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)),
             (DEPTH, (4, 8, 16, 32, 64, 128)), seeds=3,
             sets=(("train.steps", 500), ("train.eval_every", 500)))


@functools.lru_cache(maxsize=None)
def six_xi_c(sw2: float) -> float:
    """6 xi_c of a tanh net at (sigma_w^2, sigma_b^2 = 0.05) (Schoenholz et al. 2017, eq. 9)."""
    from initlab.theory import phase

    return 6.0 * phase.depth_scales("tanh", float(sw2), SB2)["xi_c"]


#: the theory's curve over the heatmap: its column in grid.csv and x -> y
CURVE = ("six_xi_c", six_xi_c)


def inside(r: dict) -> bool:
    """Well inside the trainable region: depth <= 6 xi_c / BAND."""
    return r[DEPTH] <= six_xi_c(r[SW2]) / BAND


def beyond(r: dict) -> bool:
    """Well beyond it: depth >= BAND x 6 xi_c."""
    return r[DEPTH] >= BAND * six_xi_c(r[SW2])


WHY_BAND = ("6 xi_c is an asymptotic scale (a correlation decays as exp(-L / xi_c); at L = 6 xi_c "
            "it is e^-6 of its start), so the source's own boundary is a smooth transition, and with "
            "200 steps at width 64 it sits a little inside it; points within a factor 2 of 6 xi_c are "
            "not scored, those outside are, per seed")

STUDY = Study(
    name="schoenholz2017",
    title="Schoenholz et al. 2017: trainability of tanh nets ends at depth ~6 xi_c",
    source="Schoenholz, Gilmer, Ganguli & Sohl-Dickstein, Deep Information Propagation, ICLR 2017, "
           "sec. 5, figs. 5-6",
    setup="tanh MLP of width 64 on scikit-learn's 8x8 digits (1297 train / 500 test, standardized), weights "
          "N(0, sigma_w^2 / fan_in), biases N(0, 0.05); SGD lr 0.01, batch 64, 200 steps, float32; sigma_w^2 in "
          "{0.25, 0.5, 1, 2, 4} x depth in {4, 8, 16, 32}, seeds 0 and 1 (`--large`: 11 x 6 points to depth 128, "
          "500 steps, 3 seeds). The source: width 300 on MNIST/CIFAR-10, thousands of steps; ours is the "
          "closest analogue inside the CPU budget (about 40 CPU-seconds). Base config "
          "`initlab/studies/configs/schoenholz2017_base.yaml`; the same grid runs as `initlab sweep` "
          "(docs/sweeps.md).",
    notes="""\
- **Depth scale.** At the fixed point q* of the length map, the correlation map's slope at c* is
  chi_c = sigma_w^2 E[tanh'(u1) tanh'(u2)]; correlations approach c* as exp(-L / xi_c) with
  xi_c = -1 / ln chi_c (Schoenholz et al. eqs. 5-9; `initlab phase`). xi_c diverges on the critical line
  (sigma_w^2 = 1.761 at sigma_b^2 = 0.05) and is small deep in the ordered (sigma_w^2 < 1) and chaotic phases.
- **Why 6 xi_c.** Beyond a few xi_c, every input reaches the output with the same correlation c*
  (ordered: all inputs collapse together; chaotic: all decorrelate), so the output carries no usable
  information about the input and gradients vanish or explode; the source fits the trainable region with
  L < 6 xi_c on MNIST and CIFAR-10.
- **Scored points.** A point trains when its train accuracy reaches 0.5 (chance 0.1). Points with
  depth <= 6 xi_c / 2 must train, points with depth >= 2 x 6 xi_c must not; the ones in between are
  drawn but not scored (the transition is smooth; see the tolerances).
- **What differs from the source.** Width 64 (mean-field scales hold for wide nets; at 64 the per-layer
  fluctuations shift the boundary by a few layers), 200 steps instead of thousands (the trainable depth
  grows with training time in their fig. 6, toward 6 xi_c), and digits instead of MNIST. The direction
  and the scale of the effect are what is checked.
""",
    cases=(),
    seeds=GRID.seeds,
    claims=(
        Claim("schoenholz2017-1", "grid", "nets well inside 6 xi_c train (depth <= 6 xi_c / 2)", 1.0,
              "source (fig. 5-6: trainable region)", lambda m: m.fraction(inside, "train_acc", TRAINED),
              "fraction of those points with train accuracy >= 0.5", Check("at_least", 0.1),
              WHY_BAND + "; tolerance: one point in ten may miss (a slow seed at 200 steps)", aggregate="mean"),
        Claim("schoenholz2017-2", "grid", "nets well beyond 6 xi_c fail (depth >= 2 x 6 xi_c)", 0.0,
              "source (fig. 5-6: untrainable region)", lambda m: m.fraction(beyond, "train_acc", TRAINED),
              "fraction of those points with train accuracy >= 0.5", Check("at_most", 0.1),
              WHY_BAND + "; tolerance: one point in ten", aggregate="mean"),
        Claim("schoenholz2017-3", "grid", "beyond 2 x 6 xi_c the trained accuracy is chance", CHANCE,
              "chance (ten classes)", lambda m: m.mean(beyond, "train_acc"),
              "mean train accuracy of those points", Check("abs", 0.05),
              "digits' classes hold 9.6-10.2% of the training split each, so a net that learned nothing scores "
              "0.10 +- 0.01; 0.05 leaves room for one point that fits its majority class a little", aggregate="mean"),
    ),
    figures=(
        Figure("trainability.png", "heatmap", (), "train accuracy (mean over seeds) over sigma_w^2 x depth, "
               "with the mean-field 6 xi_c curve (Schoenholz et al. 2017, fig. 5)"),
    ),
    grid=GRID,
    large=LARGE,
)
