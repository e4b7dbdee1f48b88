"""Comparing initializers side by side: specs, configs, runs, seed bands and verdicts. No I/O.

A comparison is a list of *entries* (a label and a resolved :class:`~initlab.config.Config`),
each run with the seeds ``seed .. seed + N - 1``. Every entry of a comparison sees the same
input for a given seed, because the input stream depends on the seed only (see
:mod:`initlab.engine.network`).

Initializer and activation specs
--------------------------------
``name`` or ``name:key=value,key=value``; values are YAML 1.2 core-schema scalars (integers,
floats including ``1e-3`` and ``.inf``, ``true``/``false``, anything else a string), so
``normal:std=0.01``, ``he_normal:mode=fan_out``, ``orthogonal:gain=auto``, ``leaky_relu:negative_slope=0.2``.

Seed bands
----------
With several seeds, each layer's std is summarized on the log scale (deep ReLU stds are close
to log-normal across networks): with ``y_i = ln std_i`` over the ``n`` seeds, ``m`` their mean
and ``s`` their sample sd (ddof 1), the band is the 95% Student-t confidence interval of the
mean of the log std, reported geometrically: ``exp(m)`` (the geometric mean) and
``exp(m -+ t_{0.975, n-1} s / sqrt(n))``. It is a confidence interval for the typical
(geometric-mean) std of a network of this setup, not a range that 95% of single networks fall
in. A layer where any seed has a zero or non-finite std has no band (``None``).

Verdicts
--------
From the activation std at the first hidden layer (``first``, layer 1; the input when depth
is 1) to the last (``last``, layer L), on the geometric-mean curve when there are seeds:
``total = last / first`` and ``per_layer = total ** (1 / (L - 1))``. In this order:

1. non-finite activations in any seed: **explodes (non-finite from layer k)**;
2. a std of exactly 0: **collapses (std 0 from layer k)**;
3. bounded activations with ``act_saturated > 0.5`` at the last layer (tanh: |h| >= 0.99):
   **saturates** (most units sit where the derivative is ~0, whatever the std does);
4. ``total < 1e-3`` or ``per_layer < 0.5``: **collapses** (three decades lost, or the std
   halves every layer: the signal soon falls below what the next layers resolve);
5. ``total > 1e3`` or ``per_layer > 2``: **explodes** (the mirror image);
6. ``total < 0.5``: **shrinks**; ``total > 2``: **grows** (a steady drift of more than a
   factor 2 over the depth, e.g. tanh + Xavier over 10 layers, ReLU + Xavier over 5);
7. otherwise **healthy** (the last layer's std within a factor 2 of the first).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from initlab.engine import activations, initializers
from initlab.config import components
from initlab import config
from initlab.runs import experiment
from initlab.config import Config, Spec
from initlab.errors import ConfigError, lookup
from initlab.runs.experiment import RunResult

# Verdict thresholds (see the module docstring).
SATURATED_FRACTION = 0.5
COLLAPSE_TOTAL = 1e-3
COLLAPSE_PER_LAYER = 0.5
EXPLODE_TOTAL = 1e3
EXPLODE_PER_LAYER = 2.0
DRIFT_TOTAL = 2.0
CONFIDENCE = 0.95
# Quantities that get seed bands.
BAND_COLUMNS = ("act_std", "preact_std", "grad_act_std")


# --- specs ------------------------------------------------------------------------------------

_INT = re.compile(r"[-+]?[0-9]+\Z")
_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(nan|NaN|NAN)\Z")


def parse_scalar(text: str) -> Any:
    """A YAML 1.2 core-schema scalar: bool, int, float (``1e-3``, ``.inf``), else the string
    (quotes removed). Unlike PyYAML's YAML 1.1 reading, ``1e-3`` is a float."""
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    if t in ("true", "True", "TRUE"):
        return True
    if t in ("false", "False", "FALSE"):
        return False
    if _INT.match(t):
        return int(t)
    if _HEX.match(t):
        return int(t, 16)
    if _FLOAT.match(t):
        return float(t)
    if _INF.match(t):
        return -math.inf if t.startswith("-") else math.inf
    if _NAN.match(t):
        return math.nan
    return t


def parse_spec(text: str, kind: str = "initializer") -> Spec:
    """``"normal:std=0.01"`` -> ``Spec("normal", (("std", 0.01),))``.

    ``kind`` is ``"initializer"`` or ``"activation"``; the name is checked against that
    registry (a :class:`ConfigError` lists the valid names and a close match). Parameter
    values are checked later, when the config is resolved.
    """
    registry = {"initializer": initializers.INITIALIZERS, "activation": activations.ACTIVATIONS}[kind]
    where = f"{kind} '{text}'"
    name, sep, rest = str(text).strip().partition(":")
    name = name.strip()
    if not name:
        raise ConfigError(where, f"expected name or name:key=value,..., e.g. "
                                 f"{'normal:std=0.01' if kind == 'initializer' else 'leaky_relu:negative_slope=0.2'}")
    try:
        lookup(registry, name, kind)
    except ConfigError as e:
        raise ConfigError(where, e.detail) from None
    params: dict[str, Any] = {}
    if sep:
        if not rest.strip():
            raise ConfigError(where, "nothing after ':'; expected key=value pairs separated by ','")
        for item in rest.split(","):
            key, eq, raw = item.partition("=")
            key = key.strip()
            if not eq or not key:
                raise ConfigError(where, f"'{item.strip()}' is not key=value (pairs are separated by ',')")
            if key == "name":
                raise ConfigError(where, "'name' is not a parameter; write the name before ':'")
            if key in params:
                raise ConfigError(where, f"parameter '{key}' given twice")
            if not raw.strip():
                raise ConfigError(where, f"empty value for '{key}'")
            params[key] = parse_scalar(raw)
    return Spec(name, tuple(sorted(params.items())))


def spec_text(spec: Spec) -> str:
    """The command-line form of a spec: ``normal:std=0.01``."""
    if not spec.params:
        return spec.name
    return spec.name + ":" + ",".join(f"{k}={_num(v)}" for k, v in spec.params)


def _num(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def slug(spec: Spec) -> str:
    """A folder-safe token for a spec: ``normal:std=0.01`` -> ``normal_std0.01``."""
    parts = [spec.name] + [f"{k}{_num(v)}" for k, v in spec.params]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(parts)).strip("._") or "x"


def folder_name(activation: Spec, inits: Sequence[Spec]) -> str:
    """``compare-<act>-<init>-<init>...``, deterministic; long names keep a stable hash."""
    name = "-".join(["compare", slug(activation)] + [slug(s) for s in inits])
    if len(name) > 120:
        import hashlib

        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = name[:110].rstrip("-_.") + "-" + digest
    return name


# --- configs ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One line of a comparison: a label (the initializer's label unless given) and a config."""

    key: str
    label: str
    config: Config


def entries(base: Mapping | None, inits: Sequence[Spec], activation: Spec | None = None,
            sets: Sequence[tuple[str, Any]] = (), *, lines: Mapping[str, int] | None = None,
            name: str | None = None, **flags: Any) -> list[Entry]:
    """One :class:`Entry` per initializer spec, all on the same base.

    Precedence: defaults < ``base`` (a config mapping) < ``sets`` < ``flags`` (``seed``,
    ``backward``) < the activation and the initializer. Errors in an initializer's parameters
    name the spec they came from.
    """
    if not inits:
        raise ConfigError("initializers", "give at least one initializer spec, e.g. xavier he")
    out: list[Entry] = []
    seen: list[tuple[initializers.Initializer, Spec]] = []
    sets = list(sets)
    if name is not None:
        sets.append(("name", name))
    if activation is not None:
        sets.append(("network.activation", activation.to_yaml()))
    for spec in inits:
        try:
            cfg = config.resolve(base, lines=lines, sets=sets + [("network.initializer", spec.to_yaml())],
                                 default_name=name or "compare", **flags)
        except ConfigError as e:
            for path, kind, given in (("network.initializer", "initializer", spec),
                                      ("network.activation", "activation", activation)):
                if given is not None and e.field and (e.field == path or e.field.startswith(path + ".")):
                    detail = e.detail.removeprefix("(from the command line) ")
                    param = e.field[len(path) + 1:]
                    if param and f"'{param}'" not in detail:
                        detail = f"{param}: {detail}"
                    raise ConfigError(f"{kind} '{spec_text(given)}'", detail) from None
            raise
        init = components.weight_initializer(cfg)  # cfg.network.initializer is spec (gain: auto resolved)
        for other, prev in seen:
            if other == init:
                raise ConfigError("initializers", f"'{spec_text(prev)}' and '{spec_text(spec)}' are the same "
                                                  f"initializer ({init.label()}); give each once")
        seen.append((init, spec))
        # The label shows the parameters as given (normal(std=1)), not only those off default.
        out.append(Entry(slug(spec), spec.label() if spec.params else init.label(), cfg))
    return out


# --- running ----------------------------------------------------------------------------------

@dataclass
class Series:
    """One entry's runs, one per seed (``runs[i]`` has seed ``seeds[i]``)."""

    entry: Entry
    runs: list[RunResult]

    @property
    def seeds(self) -> list[int]:
        return [r.config.seed for r in self.runs]

    @property
    def depth(self) -> int:
        return self.runs[0].depth

    def values(self, column: str, layer: int) -> list[float | None]:
        return [r.rows[layer].get(column) for r in self.runs]


@dataclass
class Comparison:
    series: list[Series]
    seeds: int = 1
    verdicts: list["Verdict"] = field(default_factory=list)

    @property
    def backward(self) -> bool:
        return any(s.entry.config.backward.enabled for s in self.series)

    def run_columns(self) -> list[str]:
        """The union of the runs' row columns, in order of first appearance (extra columns
        such as ``predicted_*`` flow through)."""
        cols: dict[str, None] = {}
        for s in self.series:
            for r in s.runs:
                for row in r.rows:
                    cols.update(dict.fromkeys(row))
        return list(cols)

    def columns(self, case: bool = False, seed: bool | None = None) -> list[str]:
        seed = self.seeds > 1 if seed is None else seed
        return (["case"] if case else []) + ["initializer"] + (["seed"] if seed else []) + self.run_columns()

    def long_rows(self, case: bool = False, seed: bool | None = None) -> list[dict]:
        """Long-form rows: one per (entry, seed, layer), the run columns plus ``initializer``
        (and ``case``, ``seed``)."""
        seed = self.seeds > 1 if seed is None else seed
        out = []
        for s in self.series:
            for r in s.runs:
                for row in r.rows:
                    d = {"initializer": s.entry.label, **row}
                    if case:
                        d["case"] = s.entry.key
                    if seed:
                        d["seed"] = r.config.seed
                    out.append(d)
        return out


def run(entries_: Sequence[Entry], seeds: int = 1,
        progress: Callable[[Entry, int], None] | None = None) -> Comparison:
    """Run every entry with seeds ``seed .. seed + seeds - 1``; overflow is a result."""
    if seeds < 1:
        raise ConfigError("--seeds", f"must be an integer >= 1, got {seeds}")
    series = []
    for e in entries_:
        runs = []
        for i in range(seeds):
            cfg = config.with_changes(e.config, seed=e.config.seed + i)
            if progress is not None:
                progress(e, cfg.seed)
            runs.append(experiment.run(cfg))
        series.append(Series(e, runs))
    comp = Comparison(series, seeds)
    comp.verdicts = [verdict(s) for s in series]
    return comp


# --- seed bands ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Band:
    """One layer's summary over seeds (see the module docstring). ``gmean``/``lo``/``hi`` are
    ``None`` where a seed has a zero or non-finite value (or, for lo/hi, with one seed)."""

    layer: int
    n: int  # seeds with a positive finite value
    gmean: float | None
    lo: float | None
    hi: float | None
    log_sd: float | None  # sample sd of ln(value) over the seeds


def t_quantile(p: float, df: int) -> float:
    """The Student-t quantile (scipy.special.stdtrit, imported on first use)."""
    from scipy.special import stdtrit

    return float(stdtrit(df, p))


def log_band(values: Sequence[float | None], layer: int = 0, confidence: float = CONFIDENCE) -> Band:
    ok = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    n = len(ok)
    if n == 0 or n < len(values):
        return Band(layer, n, None, None, None, None)
    logs = [math.log(v) for v in ok]
    m = sum(logs) / n
    if n == 1:
        return Band(layer, 1, math.exp(m), None, None, None)
    sd = math.sqrt(sum((y - m) ** 2 for y in logs) / (n - 1))
    half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    # Keep lo <= gmean <= hi exact in floating point (exp is monotone, but round the ends out).
    g = math.exp(m)
    return Band(layer, n, g, min(math.exp(m - half), g), max(math.exp(m + half), g), sd)


def bands(series: Series, column: str = "act_std") -> list[Band]:
    """Per layer (0..L) the geometric mean and 95% interval of ``column`` over the seeds."""
    return [log_band(series.values(column, l), l) for l in range(series.depth + 1)]


def band_rows(comp: Comparison, case: bool = False) -> tuple[list[dict], list[str]]:
    """The aggregated table: one row per (entry, layer) with ``<q>_gmean``, ``<q>_lo``,
    ``<q>_hi`` for the band columns present in the runs."""
    present = [c for c in BAND_COLUMNS if c in comp.run_columns()
               and any(v is not None for s in comp.series for r in s.runs for v in (x.get(c) for x in r.rows))]
    cols = (["case"] if case else []) + ["initializer", "layer", "n_seeds"]
    for c in present:
        cols += [f"{c}_gmean", f"{c}_lo", f"{c}_hi"]
    rows = []
    for s in comp.series:
        per = {c: bands(s, c) for c in present}
        for l in range(s.depth + 1):
            d = {"initializer": s.entry.label, "layer": l, "n_seeds": len(s.runs)}
            if case:
                d["case"] = s.entry.key
            for c in present:
                b = per[c][l]
                d.update({f"{c}_gmean": b.gmean, f"{c}_lo": b.lo, f"{c}_hi": b.hi})
            rows.append(d)
    return rows, cols


# --- verdicts -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    label: str
    kind: str  # healthy | shrinks | grows | collapses | explodes | saturates
    text: str  # the full one-line verdict
    first_layer: int
    last_layer: int
    first_std: float | None
    last_std: float | None
    total: float | None
    per_layer: float | None
    nonfinite_layer: int | None = None
    saturated: float | None = None


def _curve(series: Series, column: str = "act_std") -> list[float | None]:
    if len(series.runs) == 1:
        return [r.get(column) for r in series.runs[0].rows]
    return [b.gmean for b in bands(series, column)]


def _mean(xs: Sequence[float | None]) -> float | None:
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return sum(xs) / len(xs) if xs else None


def verdict(series: Series) -> Verdict:
    """The one-line verdict on how the activation std travels (see the module docstring)."""
    label = series.entry.label
    depth = series.depth
    first_l = 1 if depth > 1 else 0
    curve = _curve(series)
    first, last = curve[first_l], curve[depth]
    nonfinite = [r.first_nonfinite["forward"] for r in series.runs if r.first_nonfinite["forward"] is not None]
    grad_nf = [r.first_nonfinite["backward"] for r in series.runs if r.first_nonfinite["backward"] is not None]
    sat = _mean(series.values("act_saturated", depth))
    total = per = None
    if first is not None and last is not None and first > 0 and math.isfinite(first) and math.isfinite(last):
        total = last / first
        per = total ** (1.0 / (depth - first_l)) if total > 0 else 0.0

    def change() -> str:
        if total is None:
            return ""
        return (f"act std {_fmt(first)} (layer {first_l}) -> {_fmt(last)} (layer {depth}): "
                f"x{_fmt(total)} in total, x{_fmt(per)} per layer")

    if nonfinite:
        k = min(nonfinite)
        of = f" in {len(nonfinite)}/{len(series.runs)} seeds" if len(series.runs) > 1 else ""
        kind, text = "explodes", f"explodes (non-finite from layer {k}{of})"
    else:
        k = None
        zero = next((l for l in range(first_l, depth + 1) if curve[l] == 0.0), None)
        if zero is not None:
            kind, text = "collapses", f"collapses (std 0 from layer {zero})"
        elif sat is not None and sat > SATURATED_FRACTION:
            kind, text = "saturates", f"saturates ({100 * sat:.0f}% of the last layer's units saturated)"
        elif total is None:
            kind, text = "collapses", "collapses (no finite std)"
        elif total < COLLAPSE_TOTAL or per < COLLAPSE_PER_LAYER:
            kind, text = "collapses", "collapses"
        elif total > EXPLODE_TOTAL or per > EXPLODE_PER_LAYER:
            kind, text = "explodes", "explodes"
        elif total < 1.0 / DRIFT_TOTAL:
            kind, text = "shrinks", "shrinks"
        elif total > DRIFT_TOTAL:
            kind, text = "grows", "grows"
        else:
            kind, text = "healthy", "healthy"
    detail = change()
    line = f"{label}: {text}" + (f"; {detail}" if detail and k is None else "")
    if grad_nf:
        line += f"; gradients non-finite from layer {max(grad_nf)} down"
    return Verdict(label, kind, line, first_l, depth, first, last, total, per, k, sat)


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    return f"{v:.3e}" if abs(v) < 1e-3 or abs(v) >= 1e4 else f"{v:.4g}"


def ratio_bands(series: Series, column: str, ref_layer: int) -> list[Band]:
    """Per layer the band of ``column[l] / column[ref_layer]`` over seeds (the ratio is taken
    seed by seed, then summarized: the band of a ratio, not a ratio of bands)."""
    out = []
    for l in range(series.depth + 1):
        vals = []
        for r in series.runs:
            a, b = r.rows[l].get(column), r.rows[ref_layer].get(column)
            ok = a is not None and b is not None and b != 0 and math.isfinite(a) and math.isfinite(b)
            vals.append(a / b if ok else None)
        out.append(log_band(vals, l))
    return out


# --- the side-by-side table (terminal and summary.md) ---------------------------------------------

@dataclass(frozen=True)
class Cell:
    """A table value: a number, or a geometric mean with its interval."""

    value: float | int | None
    lo: float | None = None
    hi: float | None = None
    pct: bool = False


def side_by_side(comp: Comparison, layers: Sequence[int] | None = None) -> tuple[list[str], list[list[Cell]]]:
    """Layers as rows; the activation std of every entry as columns, then the saturated
    fraction (bounded activations), the zero fraction (where any layer has zeros) and the
    gradient std (backward), one column per entry each. With seeds, stds are geometric means
    with their 95% interval and fractions plain means. Returns (headers, rows)."""
    depth = max(s.depth for s in comp.series)
    layers = list(range(depth + 1)) if layers is None else list(layers)
    cols: list[tuple[str, Series, str, bool]] = [(f"{s.entry.label} std", s, "act_std", False)
                                                  for s in comp.series]
    if any(s.runs[0].activation.saturation is not None for s in comp.series):
        cols += [(f"{s.entry.label} sat %", s, "act_saturated", True) for s in comp.series]
    if any((r.rows[l].get("act_zero") or 0) > 0 for s in comp.series for r in s.runs
           for l in range(1, s.depth + 1)):
        cols += [(f"{s.entry.label} zero %", s, "act_zero", True) for s in comp.series]
    cols += [(f"{s.entry.label} grad std", s, "grad_act_std", False) for s in comp.series
             if s.entry.config.backward.enabled]

    def cell(s: Series, column: str, pct: bool, l: int) -> Cell:
        if l > s.depth:
            return Cell(None)
        vals = s.values(column, l)
        if pct:
            return Cell(_mean(vals), pct=True)
        if len(vals) == 1:
            return Cell(vals[0])
        b = log_band(vals, l)
        return Cell(b.gmean if b.gmean is not None else _nan_or_none(vals), b.lo, b.hi)

    headers = ["layer"] + [h for h, *_ in cols]
    rows = [[Cell(l)] + [cell(s, c, pct, l) for _, s, c, pct in cols] for l in layers]
    return headers, rows


def _nan_or_none(vals):
    for v in vals:
        if v is not None and not math.isfinite(v):
            return v
    return None


def shown_layers(depth: int, cap: int = 30, keep: int = 21) -> list[int]:
    """All layers 0..depth, or ``keep`` evenly spaced ones (0, 1 and depth included) past ``cap``."""
    if depth + 1 <= cap:
        return list(range(depth + 1))
    step = depth / (keep - 2)
    picked = {0, 1, depth} | {int(round(1 + i * step)) for i in range(keep - 2)}
    return sorted(l for l in picked if 0 <= l <= depth)


# --- finite-width fluctuations (Hanin & Rolnick 2018) ----------------------------------------------

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
