"""Config -> result: run one experiment and collect its per-layer statistics. No I/O.

:func:`run` is a pure function of its :class:`~initlab.config.Config` (all randomness comes
from ``config.seed``); a sweep, a comparison or a training loop calls it, or the lower-level
passes in :mod:`initlab.engine.network`, directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from initlab.config import components
from initlab.engine import network
from initlab.engine.parameters import DrawnParameters
from initlab.runs import predictions
from initlab.engine.activations import Activation
from initlab.config import Config
from initlab.errors import ConfigError
from initlab.engine.histograms import drawable_range
from initlab.engine.stats import Histogram, Histogrammer, moments, weight_gradient_moments

FORWARD_COLUMNS = (
    "layer", "width", "preact_mean", "preact_std", "act_mean", "act_std", "act_saturated",
    "act_zero", "dead_units", "act_nonfinite",
)
BACKWARD_COLUMNS = (
    "grad_act_std", "grad_preact_std", "grad_weight_std", "grad_weight_ratio", "grad_nonfinite",
)
# How far the gradient histograms reach, in units of the top gradient's std.
GRAD_RANGE_STDS = 4.0


def columns(backward: bool) -> tuple[str, ...]:
    """The per-layer columns: measurements, then the mean-field predictions beside them."""
    return FORWARD_COLUMNS + (BACKWARD_COLUMNS if backward else ()) + predictions.columns(backward)


@dataclass
class RunResult:
    """Everything one run measured. ``rows[l]`` is layer l (0 = input), keyed by
    :func:`columns`; missing values are ``None``. Histograms are per layer 1..L (index l-1)."""

    config: Config
    activation: Activation
    initializer: str
    rows: list[dict]
    act_hist: list[Histogram] | None = None
    grad_hist: list[Histogram] | None = None
    loss: float | None = None
    input_hist: Histogram | None = None  # layer 0 on the activations' range (the figures' panel)
    first_nonfinite: dict = field(default_factory=lambda: {"forward": None, "backward": None})
    arrays: dict[str, np.ndarray] | None = None
    theory: dict = field(default_factory=lambda: {"applies": False, "note": "not computed"})
    # log(|h_L|^2 / |h_0|^2) per input (Hanin & Rolnick 2018), float64, shape (batch,)
    log_length_ratio: np.ndarray | None = None
    # what a data-dependent initialization did (initlab.datainit: LSUV rows, transfer), or None
    datainit: dict | None = None

    @property
    def depth(self) -> int:
        return len(self.rows) - 1

    @property
    def overflowed(self) -> bool:
        return any(v is not None for v in self.first_nonfinite.values())


class StatsObserver(network.Observer):
    """Fills the per-layer rows and histograms as the passes go (the forward statistics of a
    layer in one :class:`initlab.engine.stats.ActivationSummarizer` call). ``report(task, done,
    total)``, when set, hears of each layer done: forward layers 1..L, then backward ones."""

    report = None
    # dL/dW is reported for the batch-mean loss (as mse, softmax_ce and every training loop
    # define it): the random loss sums over the batch, so its dW is scaled by 1 / batch.
    weight_grad_scale = 1.0

    def __init__(self, cfg: Config, act: Activation, save: bool):
        self._setup(cfg.widths(), act, cfg.backward.enabled, cfg.stats.range or act.hist_range,
                    cfg.stats.bins, cfg.stats.histograms, save)
        if cfg.backward.enabled and cfg.backward.loss == "random":
            self.weight_grad_scale = 1.0 / cfg.input.batch

    @classmethod
    def for_widths(cls, widths: tuple[int, ...], act: Activation, *, backward: bool,
                   hist_range: tuple[float, float], bins: int, histograms: bool = True,
                   save: bool = False) -> "StatsObserver":
        """The same observer without a :class:`Config`: ``widths`` is ``(n_0, ..., n_L)`` (what
        the training loop's probe passes use)."""
        obs = cls.__new__(cls)
        obs._setup(tuple(widths), act, backward, hist_range, bins, histograms, save)
        return obs

    def _setup(self, widths, act, backward, hist_range, bins, histograms, save):
        from initlab.engine.stats import ActivationSummarizer

        self.activation = act
        self.backward = backward
        self.rows = [dict.fromkeys(columns(backward)) for _ in widths]
        for l, w in enumerate(widths):
            self.rows[l]["layer"] = l
            self.rows[l]["width"] = w
        # a range derived from an activation's parameters may be infinite or too narrow to bin
        # (a leaky slope of 1e308: [-inf, 4]); a range the user wrote was checked in config/
        lo, hi = drawable_range(*hist_range, bins)
        self.hist = Histogrammer(lo, hi, bins) if histograms else None
        self.act_hist: list[Histogram] = []
        self.grad_hist_maker: Histogrammer | None = None
        self.grad_hist: dict[int, Histogram] = {}
        self.first = {"forward": None, "backward": None}
        self.arrays: dict[str, np.ndarray] | None = {} if save else None
        self.bins = bins
        self.want_hist = histograms
        self.summarizer = ActivationSummarizer(act.saturation, self.hist)
        self.plain = ActivationSummarizer(None, None)
        self.input_summ = ActivationSummarizer(None, self.hist) if histograms else self.plain
        self.input_hist: Histogram | None = None

    def _mark(self, which: str, layer: int, nonfinite: int) -> None:
        """Remember the first layer, in the pass's own order, with non-finite values."""
        if nonfinite and self.first[which] is None:
            self.first[which] = layer

    def input(self, x: np.ndarray) -> None:
        # moments, zeros and dead units in one pass (and the histogram the figures show as layer 0)
        st = self.input_summ(x)
        self.input_hist = st.hist if self.hist is not None else None
        m = st.moments
        self.rows[0].update(act_mean=m.mean, act_std=m.std, act_zero=st.zero, dead_units=st.dead,
                            act_nonfinite=m.nonfinite)
        if self.arrays is not None:
            self.arrays["input"] = x.copy()

    def parameters(self, layer, w, b):
        if self.arrays is not None:
            self.arrays[f"W{layer}"] = w.copy()
            self.arrays[f"b{layer}"] = np.asarray(b, dtype=w.dtype).copy() if isinstance(b, np.ndarray) \
                else np.full(w.shape[1], b, dtype=w.dtype)

    def preact(self, layer, z):
        m = moments(z)
        self.rows[layer].update(preact_mean=m.mean, preact_std=m.std)
        self._z_nonfinite = m.nonfinite

    def forward_layer(self, layer, act, z, out):
        mz, st = self.summarizer.sweep(z, act, out)
        self.rows[layer].update(preact_mean=mz.mean, preact_std=mz.std)
        self._z_nonfinite = mz.nonfinite
        self._act_stats(layer, st)
        return out

    def act(self, layer, h):
        self._act_stats(layer, self.summarizer(h))

    def _act_stats(self, layer, st):
        m = st.moments
        self.rows[layer].update(act_mean=m.mean, act_std=m.std, act_zero=st.zero, dead_units=st.dead,
                                act_nonfinite=m.nonfinite, act_saturated=st.saturated)
        self._mark("forward", layer, m.nonfinite + self._z_nonfinite)
        if self.hist is not None:
            self.act_hist.append(st.hist)
        self._report(layer)

    def _report(self, done: int) -> None:
        if self.report is not None:
            depth = len(self.rows) - 1
            self.report("layers", done, depth * (2 if self.backward else 1))

    def grad_act(self, layer, g):
        m = moments(g)
        self.rows[layer].update(grad_act_std=m.std, grad_nonfinite=m.nonfinite)
        if self.want_hist and self.grad_hist_maker is None:
            self.grad_hist_maker = grad_histogrammer(m.std, self.bins)
        if self.grad_hist_maker is not None and layer > 0:
            self.grad_hist[layer] = self.grad_hist_maker(g, m.nonfinite)
        self._mark("backward", layer, m.nonfinite)

    def backward_layer(self, layer, act, s, g, out, nonfinite):
        from initlab.engine.stats import gradient_sweep, kernel_derivative

        if self.want_hist and self.grad_hist_maker is None:  # the range comes from the top gradient
            self.grad_hist_maker = grad_histogrammer(moments(g).std, self.bins)
        mg, hg, mdz = gradient_sweep(
            g, s, out, lambda sc, gc, oc: network.local_gradient(act, sc, gc, oc, nonfinite),
            self.grad_hist_maker if layer > 0 else None,
            None if nonfinite else kernel_derivative(act, g.dtype))
        row = self.rows[layer]
        row.update(grad_act_std=mg.std, grad_nonfinite=mg.nonfinite + mdz.nonfinite,
                   grad_preact_std=mdz.std)
        if hg is not None:
            self.grad_hist[layer] = hg
        self._mark("backward", layer, mg.nonfinite + mdz.nonfinite)
        return out

    def grad_preact(self, layer, dz):
        m = moments(dz)
        self.rows[layer]["grad_preact_std"] = m.std
        self.rows[layer]["grad_nonfinite"] += m.nonfinite
        self._mark("backward", layer, m.nonfinite)

    def grad_weight(self, layer, h_prev, dz, w):
        gw = weight_gradient_moments(h_prev, dz)
        if gw.nonfinite or not math.isfinite(gw.std):
            self._mark("backward", layer, 1)
        ws = moments(w).std
        gstd = gw.std * self.weight_grad_scale
        self.rows[layer]["grad_weight_std"] = gstd
        self.rows[layer]["grad_weight_ratio"] = gstd / ws if ws > 0 else None
        self._report(2 * (len(self.rows) - 1) - layer + 1)


def grad_histogrammer(top_std: float, bins: int) -> Histogrammer:
    """The gradient histograms' shared range: +-GRAD_RANGE_STDS x the top gradient's std (+-1
    when that is 0 or non-finite), made drawable (a std of 1e308 or 1e-320 is legal)."""
    r = GRAD_RANGE_STDS * top_std if math.isfinite(top_std) and top_std > 0 else 1.0
    return Histogrammer(*drawable_range(-r, r, bins), bins)


@dataclass(frozen=True)
class Placed:
    """A sampler whose shape-dependent errors (sparse ``nonzero`` > fan_in) name the config
    field ``path`` it came from. A record, not a closure, so parameters pickle."""

    sampler: object
    path: str

    def __call__(self, rng, shape, dtype):
        try:
            return self.sampler(rng, shape, dtype)
        except ConfigError as e:
            raise e.at(f"{self.path}.{e.field}" if e.field else self.path) from None


def _placed(sampler, path: str):
    return Placed(sampler, path) if callable(sampler) else sampler


def build_parameters(cfg: Config) -> DrawnParameters:
    """The run's parameters, drawn from its seed (plus the softmax readout when used)."""
    widths = cfg.widths()
    if cfg.backward.enabled and cfg.backward.loss == "softmax_ce":
        widths = widths + (cfg.backward.classes,)
    return DrawnParameters(
        widths=widths,
        weight_init=_placed(components.weight_initializer(cfg), "network.initializer"),
        bias_init=_placed(components.bias_initializer(cfg), "network.bias"),
        seed=cfg.seed,
        dtype=np.dtype(cfg.dtype),
    )


def make_input(cfg: Config) -> np.ndarray:
    i = cfg.input
    return network.input_batch(cfg.seed, i.batch, i.dim, i.distribution, i.mean, i.std, i.low,
                               i.high, np.dtype(cfg.dtype))


def run(cfg: Config, save_weights: bool = False, params=None, theory: bool = True,
        report=None) -> RunResult:
    """Run ``cfg``: forward (streaming) or forward + backward, with every statistic.

    ``params`` overrides where the weights come from (default: drawn from ``cfg.seed``).
    ``theory`` adds the mean-field ``predicted_*`` columns (:mod:`initlab.runs.predictions`).
    With ``save_weights`` the result's ``arrays`` hold the input, every W and b and the
    loss's draws (``weights.npz``). ``report(task, done, total)``, when given, hears of every
    layer done (forward, then backward: ``total`` is the depth, or twice it with backward).
    """
    from initlab.config.datainit import is_data_init

    act = components.activation(cfg)
    init = components.weight_initializer(cfg)
    if params is None and is_data_init(cfg.network.initializer):
        raise ConfigError("network.initializer", f"'{cfg.network.initializer.name}' needs data or a file: "
                                                 "initlab run resolves it (initlab.datainit); compare and sweeps "
                                                 "take the ordinary initializers")
    params = params or build_parameters(cfg)
    x = make_input(cfg)
    bw = cfg.backward
    obs = StatsObserver(cfg, act, save_weights)
    if report is not None:
        obs.report = report
    obs.input(x)
    depth = cfg.network.depth
    loss = None
    sq_in = _row_sq_norms(x)
    if not bw.enabled:
        h_top = network.forward(x, params, act, depth, obs)[0]
        length_ratio = _log_ratio(_row_sq_norms(h_top), sq_in)
        del h_top
    else:
        tape = network.forward(x, params, act, depth, obs, keep=True)
        del x
        h_top = network.activation_from_tape(act, tape, depth)
        length_ratio = _log_ratio(_row_sq_norms(h_top), sq_in)
        draws = network.draw_loss(bw.loss, cfg.seed, cfg.input.batch, h_top.shape[1], bw.classes,
                                  np.dtype(cfg.dtype))
        readout = params.weight(depth + 1) if bw.loss == "softmax_ce" else None
        loss, g = network.loss_and_gradient(draws, h_top, readout)
        del h_top
        if obs.arrays is not None:
            obs.arrays[f"loss_{bw.loss}"] = draws.draws
            if readout is not None:
                obs.arrays["W_readout"] = readout
        network.backward(tape, params, act, g, obs, nonfinite_from=obs.first["forward"])
    note = {"applies": False, "note": "not computed"}
    if theory:
        top = obs.rows[depth].get("grad_act_std") if bw.enabled else None
        pred = predictions.predict(cfg, act, init, components.bias_initializer(cfg),
                                   predictions.top_gradient_second_moment(cfg, top))
        predictions.attach(obs.rows, pred, bw.enabled)
        note = {"applies": pred.applies, "note": pred.reason}
    grad_hist = None
    if bw.enabled and obs.grad_hist_maker is not None:
        grad_hist = [obs.grad_hist[l] for l in range(1, depth + 1)]
    return RunResult(
        config=cfg, activation=act, initializer=init.label(), rows=obs.rows,
        act_hist=obs.act_hist if obs.hist is not None else None, grad_hist=grad_hist, loss=loss,
        first_nonfinite=obs.first, arrays=obs.arrays, theory=note, log_length_ratio=length_ratio,
        input_hist=obs.input_hist,
    )


def _row_sq_norms(a: np.ndarray) -> np.ndarray:
    """|a_i|^2 per row, accumulated in float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.einsum("ij,ij->i", a, a, dtype=np.float64)


def _log_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """log(num / den) per input (Hanin & Rolnick 2018's log(|h_L|^2 / |h_0|^2))."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.log(num) - np.log(den)
