"""Comparing initializers side by side: the entries of a comparison and running them. No I/O.

A comparison is a list of *entries* (a label and a resolved :class:`~initlab.config.Config`),
each run with the seeds ``seed .. seed + N - 1``. Every entry of a comparison sees the same
input for a given seed, because the input stream depends on the seed only (see
:mod:`initlab.engine.parameters`). The records are in :mod:`.series`, the seed bands in
:mod:`.bands`, the verdicts in :mod:`.verdicts`, the table in :mod:`.side_by_side` and the
finite-width fluctuations in :mod:`.fluctuations`; this module re-exports their names for its
callers.

Initializer and activation specs
--------------------------------
``name`` or ``name:key=value,key=value``, parsed by :func:`initlab.config.scalars.parse_spec`;
each value is read as a config file or ``--set`` reads it (:mod:`initlab.config.scalars`), so
``normal:std=0.01``, ``he_normal:mode=fan_out``, ``orthogonal:gain=auto``, ``leaky_relu:negative_slope=0.2``.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Sequence

from initlab import config
from initlab.config import Spec, components
from initlab.config.scalars import parse_scalar, parse_spec, spec_text  # noqa: F401 (public here too)
from initlab.config.schema import fmt_value
from initlab.engine import initializers
from initlab.errors import ConfigError
from initlab.runs import experiment
from initlab.runs.bands import BAND_COLUMNS, CONFIDENCE, Band, band_rows, bands, log_band, t_quantile  # noqa: F401
from initlab.runs.fluctuations import FLUCTUATION_COLUMNS, fluctuation_text, fluctuations  # noqa: F401
from initlab.runs.series import Comparison, Entry, Series
from initlab.runs.side_by_side import Cell, shown_layers, side_by_side  # noqa: F401
from initlab.runs.verdicts import Verdict, ratio_bands, verdict  # noqa: F401


# --- specs ------------------------------------------------------------------------------------

def slug(spec: Spec) -> str:
    """A folder-safe token for a spec: ``normal:std=0.01`` -> ``normal_std0.01``."""
    parts = [spec.name] + [f"{k}{fmt_value(v)}" for k, v in spec.params]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(parts)).strip("._") or "x"


def differences(cfg: config.Config | None, seeds: int = 1) -> list[str]:
    """What in ``cfg`` (and ``seeds``) differs from the defaults a comparison starts from, as
    folder-name tokens: ``depth30``, ``width100``, ``batch64``, ``dim10``, ``float32``,
    ``seed3``, ``seeds5``, ``backward`` (``backward-mse`` with another loss), ``bias0.1``."""
    if cfg is None:
        return [f"seeds{seeds}"] if seeds > 1 else []
    d = config.Config()
    out = []
    net, inp = cfg.network, cfg.input
    for tok, v, v0 in (("depth", net.depth, d.network.depth), ("width", net.width, d.network.width),
                       ("batch", inp.batch, d.input.batch), ("dim", inp.dim, d.input.dim),
                       ("seed", cfg.seed, d.seed)):
        if v != v0:
            out.append(tok + ("x".join(map(str, v)) if isinstance(v, tuple) else str(v)))
    if cfg.dtype != d.dtype:
        out.append(cfg.dtype)
    if net.bias != d.network.bias:
        out.append("bias" + (fmt_value(net.bias) if isinstance(net.bias, (int, float)) else "init"))
    if seeds > 1:
        out.append(f"seeds{seeds}")
    if cfg.backward.enabled:
        out.append("backward" + ("" if cfg.backward.loss == d.backward.loss else f"-{cfg.backward.loss}"))
    return out


def folder_name(activation: Spec, inits: Sequence[Spec], cfg: config.Config | None = None,
                seeds: int = 1) -> str:
    """``compare-<act>-<init>-<init>...`` and what differs from the defaults (``-depth30``,
    ``-seeds5``, ``-backward``: :func:`differences`), so that another setting never replaces
    this folder; deterministic; long names keep a stable hash."""
    name = "-".join(["compare", slug(activation)] + [slug(s) for s in inits] + differences(cfg, seeds))
    if len(name) > 120:
        import hashlib

        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = name[:110].rstrip("-_.") + "-" + digest
    return name


# --- configs ----------------------------------------------------------------------------------


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


def run(entries_: Sequence[Entry], seeds: int = 1,
        progress: Callable[[Entry, int], None] | None = None,
        report: Callable[[str, int, int], None] | None = None, task: str = "networks") -> Comparison:
    """Run every entry with seeds ``seed .. seed + seeds - 1``; overflow is a result.

    ``progress(entry, seed)`` is called before each network; ``report(task, done, total)``
    hears of each network done (``task``) and of each layer within it (``"layers"``)."""
    if seeds < 1:
        raise ConfigError("--seeds", f"must be an integer >= 1, got {seeds}")
    series = []
    total = len(entries_) * seeds
    if report is not None:
        report(task, 0, total)
    for e in entries_:
        runs = []
        for i in range(seeds):
            cfg = config.with_changes(e.config, seed=e.config.seed + i)
            if progress is not None:
                progress(e, cfg.seed)
            runs.append(experiment.run(cfg, report=report))
            if report is not None:
                report(task, len(series) * seeds + i + 1, total)
        series.append(Series(e, runs))
    comp = Comparison(series, seeds)
    comp.verdicts = [verdict(s) for s in series]
    return comp
