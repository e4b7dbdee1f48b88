"""``initlab phase`` and ``initlab jacobian``: the mean-field theory drawn and checked."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from initlab.errors import ConfigError
from initlab.cli.app import app, console as make_console, existing, wrote


def parse_range(text: str, field: str) -> list[float]:
    """``"0.5:4:60"`` -> 60 values from 0.5 to 4 inclusive; ``"1,2,3"`` -> a list."""
    try:
        if ":" in text:
            lo, hi, n = text.split(":")
            lo, hi, n = float(lo), float(hi), int(n)
            if n < 1 or hi < lo or lo < 0:
                raise ValueError
            return [lo + (hi - lo) * i / max(n - 1, 1) for i in range(n)]
        vals = [float(v) for v in text.split(",")]
        if not vals or min(vals) < 0:
            raise ValueError
        return vals
    except ValueError:
        raise ConfigError(field, f"expected MIN:MAX:N (0 <= MIN <= MAX, N >= 1) or a comma list of "
                                 f"values >= 0, got '{text}'") from None


def _activation(spec: str):
    from initlab.config.scalars import parse_spec
    from initlab.engine import activations

    sp = parse_spec(spec, "activation")
    try:
        return activations.get(sp.name, **sp.kwargs)
    except ConfigError as e:
        raise ConfigError(f"--act {e.field}" if e.field else "--act", e.detail) from None


def _write(out: Path, tables: dict[str, tuple[list[dict], list[str]]], figures, extra: dict) -> None:
    from initlab.io import results

    with results.staged_dir(out) as stage:
        for name, (rows, cols) in tables.items():
            results.write_text(stage, name, results.csv_text(rows, cols))
        for draw in figures:
            draw(stage)
        extra = {**extra, "command": " ".join(["initlab"] + sys.argv[1:]), "versions": results.versions()}
        results.write_manifest(stage, extra)


QUIET_HELP = "Only the last line (where the files are): no summary, no progress bar."
FIGURES_HELP = "Draw the PNG figures."


@app.command(epilog="Examples: initlab phase --act tanh;  initlab phase --act relu --empirical")
def phase(
    act: Annotated[str, typer.Option("--act", help="Activation: a name or name:key=value,...")] = "tanh",
    sw2: Annotated[str, typer.Option(help="sigma_w^2 grid, MIN:MAX:N or a comma list.")] = "0.5:4:60",
    sb2: Annotated[str, typer.Option(help="sigma_b^2 grid, MIN:MAX:N or a comma list.")] = "0:0.3:50",
    empirical: Annotated[bool, typer.Option("--empirical", help="Overlay q and c measured in real "
                                            "finite-width networks at a few grid points.")] = False,
    width: Annotated[int, typer.Option(help="Width of the --empirical networks.")] = 1000,
    depth: Annotated[int, typer.Option(help="Depth of the --empirical networks.")] = 30,
    seed: Annotated[int, typer.Option(help="Seed of the --empirical networks.")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default results/phase-<act>).")] = None,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help=FIGURES_HELP)] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=QUIET_HELP)] = False,
) -> None:
    """The order-to-chaos phase diagram (Poole et al. 2016; Schoenholz et al. 2017).

    Over a grid of (sigma_w^2, sigma_b^2): the length-map fixed point q*, chi_1, the
    correlation fixed point c*, and the depth scales xi_q, xi_c, xi_grad. Writes phase.csv,
    critical.csv (the chi_1 = 1 line), phase.png and, with --empirical, empirical.csv.
    """
    from initlab import theory
    from initlab.io import results

    a = _activation(act)
    sws, sbs = parse_range(sw2, "--sw2"), parse_range(sb2, "--sb2")
    if width < 1 or depth < 1:
        raise ConfigError("--width" if width < 1 else "--depth", "must be >= 1")
    from initlab.cli.progress import bars

    folder = out or Path("results") / f"phase-{a.name}"
    results.check_output_dir(folder)
    replaced = existing(folder)
    con = make_console()
    t0 = time.perf_counter()
    grid = theory.phase_grid(a, sws, sbs)
    keys = ["q_star", "chi1", "c_star", "chi_c", "xi_q", "xi_c", "xi_grad"]
    rows = [{"sw2": sws[j], "sb2": sbs[i], **{k: float(grid[k][i, j]) for k in keys}}
            for i in range(len(sbs)) for j in range(len(sws))]
    critical = []
    for b in sbs:
        try:
            critical.append({"sb2": b, "critical_sw2": theory.critical_sw2(a, b)})
        except ValueError:
            critical.append({"sb2": b, "critical_sw2": None})
    emp = []
    if empirical:
        from initlab.theory.probes import measure_fixed_points

        picks_w = [sws[len(sws) // 6], sws[len(sws) // 2], sws[(5 * len(sws)) // 6]]
        picks_b = [sbs[len(sbs) // 4], sbs[(3 * len(sbs)) // 4]]
        points = [(w_, b_) for w_ in sorted(set(picks_w)) for b_ in sorted(set(picks_b))]
        with bars(con, quiet) as report:
            for w_, b_ in points:
                m = measure_fixed_points(a, w_, b_, width=width, depth=depth, seed=seed)
                pred = theory.depth_scales(a, w_, b_)
                m.update(q_star=pred["q_star"], c_star=pred["c_star"], chi1=pred["chi1"])
                emp.append(m)
                if report is not None:
                    report("measured grid points", len(emp), len(points))
    elapsed = time.perf_counter() - t0

    def draw(stage):
        from initlab.plots import theory_figures

        theory_figures.phase_diagram(grid, sws, sbs, a.label(), stage / "phase.png", empirical=emp or None)

    tables = {"phase.csv": (rows, ["sw2", "sb2"] + keys),
              "critical.csv": (critical, ["sb2", "critical_sw2"])}
    if emp:
        tables["empirical.csv"] = (emp, ["sw2", "sb2", "width", "depth", "c0", "q", "q_star", "c", "c_star", "chi1"])
    _write(folder, tables, [draw] if figures else [], {"kind": "phase", "activation": a.label(),
                                                       "elapsed_seconds": round(elapsed, 3)})
    shown = [c for c in critical if c["critical_sw2"] is not None]
    if shown and not quiet:
        pts = [shown[0], shown[len(shown) // 2], shown[-1]]
        con.print("critical line chi_1 = 1: " + ", ".join(
            f"sigma_w^2 = {c['critical_sw2']:.4f} at sigma_b^2 = {c['sb2']:.4g}" for c in pts))
    for m in emp if not quiet else []:
        con.print(f"  measured at (sigma_w^2 {m['sw2']:.3g}, sigma_b^2 {m['sb2']:.3g}), width {width}, depth "
                  f"{depth}: q = {m['q']:.4g} (theory q* {m['q_star']:.4g}), c = {m['c']:.4f} "
                  f"(theory c* {m['c_star']:.4f})")
    con.print(wrote(folder, elapsed, replaced, files=False), markup=False)


@app.command(epilog="Examples: initlab jacobian --act tanh;  initlab jacobian --act tanh --depths 1,8 "
                    "--seeds 1 --no-glorot")
def jacobian(
    act: Annotated[str, typer.Option("--act", help="Activation: a name or name:key=value,...")] = "tanh",
    sw2: Annotated[str, typer.Option(help="Weight variance times fan-in, or 'critical': the "
                                     "sigma_w^2 with chi_1 = 1 at this sigma_b^2.")] = "critical",
    sb2: Annotated[float, typer.Option(help="Bias variance (small: q* small, the regime where "
                                           "orthogonal weights give dynamical isometry).")] = 1e-4,
    width: Annotated[int, typer.Option(help="Layer width.")] = 200,
    depths: Annotated[str, typer.Option(help="Comma list of depths.")] = "1,4,16,64",
    seeds: Annotated[int, typer.Option(help="Networks per initializer (spectra are pooled).")] = 3,
    seed: Annotated[int, typer.Option(help="First seed.")] = 0,
    glorot: Annotated[bool, typer.Option("--glorot/--no-glorot", help="Also Glorot & Bengio's "
                                         "per-layer Jacobian singular values.")] = True,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default results/jacobian-<act>).")] = None,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help=FIGURES_HELP)] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=QUIET_HELP)] = False,
) -> None:
    """Input-output Jacobian spectra: Gaussian vs orthogonal weights at several depths.

    Gaussian vs orthogonal weights at a list of depths (Pennington, Schoenholz & Ganguli 2017, dynamical isometry), against the prediction
    chi^L for the mean squared singular value. The input is drawn at the length map's fixed
    point q* (x = act(sqrt(q*) g)), so every layer has the same chi. Writes jacobian.csv,
    spectra.png and, with --glorot, glorot_layers.csv."""
    from initlab.engine import initializers
    from initlab.io import results
    from initlab.theory.probes import glorot_layer_jacobians, jacobian_study

    a = _activation(act)
    try:
        ds = sorted({int(d) for d in depths.split(",")})
        if not ds or ds[0] < 1:
            raise ValueError
    except ValueError:
        raise ConfigError("--depths", f"expected a comma list of integers >= 1, got '{depths}'") from None
    for name, v in (("--width", width), ("--seeds", seeds)):
        if v < 1:
            raise ConfigError(name, f"must be >= 1, got {v}")
    from initlab import theory

    if not (sb2 >= 0 and math.isfinite(sb2)):
        raise ConfigError("--sb2", f"must be a number >= 0, got {sb2}")
    if sw2 == "critical":
        try:
            sw2_value = theory.critical_sw2(a, sb2)
        except ValueError:
            raise ConfigError("--sw2", f"{a.label()} has no critical point at sigma_b^2 = {sb2:g}; "
                                       "give a number") from None
    else:
        try:
            sw2_value = float(sw2)
            if not (sw2_value > 0 and math.isfinite(sw2_value)):
                raise ValueError
        except ValueError:
            raise ConfigError("--sw2", f"expected a number > 0 or 'critical', got '{sw2}'") from None
    sw2 = sw2_value
    q_star = float(theory.fixed_point_q(a, sw2, sb2))
    q_in = q_star if 0 < q_star < math.inf else 1.0
    if width * width * max(ds) * 8 > 4 * 2**30:
        raise ConfigError("--width", "width^2 x depth too large for this command (over 4 GiB of weights)")
    folder = out or Path("results") / f"jacobian-{a.name}"
    results.check_output_dir(folder)
    replaced = existing(folder)
    t0 = time.perf_counter()
    inits = {"gaussian": initializers.get("normal", std=math.sqrt(sw2 / width)),
             "orthogonal": initializers.get("orthogonal", gain=math.sqrt(sw2))}
    from initlab.cli.progress import bars

    con = make_console()
    with bars(con, quiet) as report:
        rows, spectra = jacobian_study(a, inits, width, ds, sb2, seeds, seed, q_in=q_in, report=report)
        glo = glorot_layer_jacobians(seed=seed, report=report) if glorot else []
    elapsed = time.perf_counter() - t0

    def draw(stage):
        from initlab.plots import theory_figures

        theory_figures.jacobian_spectra(
            spectra, stage / "spectra.png",
            title=f"Input-output Jacobian spectra (Pennington et al. 2017)\n{a.label()}, "
                  f"$\\sigma_w^2$ = {sw2:.4g}, $\\sigma_b^2$ = {sb2:g}, width {width}, {seeds} seed(s) pooled")

    cols = ["initializer", "depth", "seeds", "mean_sq_singular_value", "predicted_mean_sq", "sv_mean",
            "sv_std", "sv_min", "sv_max", "frac_in_0.5_2"]
    tables = {"jacobian.csv": (rows, cols)}
    if glo:
        # long form: one row per (initializer, layer); the mean over layers is the groupby's
        tables["glorot_layers.csv"] = ([{"initializer": g["initializer"], "width": g["width"], "layer": l,
                                         "mean_singular_value": v}
                                        for g in glo for l, v in enumerate(g["per_layer"], start=1)],
                                       ["initializer", "width", "layer", "mean_singular_value"])
    _write(folder, tables, [draw] if figures else [], {"kind": "jacobian", "activation": a.label(), "sw2": sw2, "sb2": sb2,
                                    "q_in": q_in,
                                    "width": width, "elapsed_seconds": round(elapsed, 3)})
    from initlab.cli.tables import Col, show

    if not quiet:
        show(con, [Col("init", justify="left"), Col("depth"), Col("mean sv^2", short="mean\nsv^2"),
                   Col("theory chi^L", short="theory\nchi^L"), Col("sv mean", short="sv\nmean", drop=2),
                   Col("sv std", short="sv\nstd", drop=1), Col("in [0.5, 2]", short="in\n[0.5, 2]", drop=3)],
             [(r["initializer"], str(r["depth"]), f"{r['mean_sq_singular_value']:.4g}",
               f"{r['predicted_mean_sq']:.4g}", f"{r['sv_mean']:.4g}", f"{r['sv_std']:.4g}",
               f"{100 * r['frac_in_0.5_2']:.1f}%") for r in rows],
             title=f"Jacobian spectra: {a.label()}, sigma_w^2 {sw2:.4g}, sigma_b^2 {sb2:g}, width {width}, "
                   f"input at q = {q_in:.4g}", files="jacobian.csv")
    for g in glo if not quiet else []:
        con.print(f"Glorot & Bengio per-layer Jacobian, tanh {g['layers']} x {g['width']}, {g['initializer']}: "
                  f"mean singular value {g['mean_singular_value']:.3f}")
    con.print(wrote(folder, elapsed, replaced, files=False), markup=False)
