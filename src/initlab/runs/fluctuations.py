"""Finite-width fluctuations of a comparison's runs: the spread of log(|h_L|^2 / |h_0|^2) over
networks beside Hanin & Rolnick's (2018) prediction for He-initialized ReLU nets. No I/O."""

from __future__ import annotations

import math

from initlab.config import components
from initlab.runs.series import Series

FLUCTUATION_COLUMNS = ("initializer", "seeds", "inputs", "mean_log_ratio", "var_log_ratio",
                       "q05_log_ratio", "q95_log_ratio", "predicted_var", "predicted_var_exact", "prediction")
# sd of log(|h_L|^2/|h_0|^2) above which one network's last-layer scale is not representative:
# e^(0.5 / 2) = 1.28, i.e. single runs' std at layer L differs by about 30% from network to network.
UNRELIABLE_SD = 0.5


def _he_relu(series: Series) -> bool:
    """He-initialized ReLU with zero bias: the setting of Hanin & Rolnick's prediction."""
    cfg = series.entry.config
    act = cfg.network.activation
    if act.name != "relu" or cfg.network.bias != 0.0:
        return False
    init = components.weight_initializer(cfg)
    if not init.mean_field:
        return False
    widths = cfg.widths()
    for fan_in, fan_out in zip(widths, widths[1:]):
        mean, var = init.moments(fan_in, fan_out)
        if mean != 0.0 or not math.isclose(var * fan_in, 2.0, rel_tol=1e-9):
            return False
    return True


def fluctuations(series: Series) -> dict:
    """The distribution of ``log(|h_L|^2 / |h_0|^2)`` over networks (seeds) and inputs.

    ``var_log_ratio`` is, for each input index, the variance (ddof 1) over the seeds, averaged
    over the inputs: the variance over the weights' randomness at a given input (the inputs of
    different seeds differ, but Gaussian weights make the ratio's law independent of the
    input's direction, so this is the fixed-input variance Hanin & Rolnick study). Beside it,
    for He-initialized ReLU nets with zero bias, their prediction ``5 sum_l 1/n_l`` and the exact
    finite-width value (:func:`initlab.theory.hanin_rolnick_variance`)."""
    import numpy as np

    r = np.stack([run.log_length_ratio for run in series.runs])  # (seeds, batch)
    finite = np.isfinite(r).all(axis=0)
    r = r[:, finite]
    out = dict.fromkeys(FLUCTUATION_COLUMNS)
    out.update(initializer=series.entry.label, seeds=r.shape[0], inputs=r.shape[1])
    if r.size:
        out.update(mean_log_ratio=float(r.mean()), q05_log_ratio=float(np.quantile(r, 0.05)),
                   q95_log_ratio=float(np.quantile(r, 0.95)))
        if r.shape[0] > 1:
            out["var_log_ratio"] = float(r.var(axis=0, ddof=1).mean())
    if _he_relu(series):
        from initlab import theory

        hidden = series.entry.config.network.widths
        out.update(predicted_var=theory.hanin_rolnick_variance(hidden),
                   predicted_var_exact=theory.hanin_rolnick_variance(hidden, exact=True),
                   prediction="Hanin & Rolnick 2018: 5 sum 1/n_l")
    else:
        out["prediction"] = "none (stated for He-initialized ReLU with zero bias)"
    return out


def fluctuation_text(f: dict) -> str:
    """One line for the terminal and summary.md."""
    if f["var_log_ratio"] is None:
        return f"{f['initializer']}: log(|h_L|^2/|h_0|^2) needs --seeds >= 2 (and finite activations)"
    sd = math.sqrt(f["var_log_ratio"])
    text = (f"{f['initializer']}: log(|h_L|^2/|h_0|^2) over {f['seeds']} networks x {f['inputs']} inputs: "
            f"mean {f['mean_log_ratio']:.3f}, variance {f['var_log_ratio']:.3f}")
    if f["predicted_var"] is not None:
        text += (f" (Hanin & Rolnick 5 sum 1/n_l = {f['predicted_var']:.3f}, "
                 f"finite-width {f['predicted_var_exact']:.3f})")
    if sd > UNRELIABLE_SD:
        text += f"; sd {sd:.2f} > {UNRELIABLE_SD}: a single network is not representative, use more seeds"
    return text
