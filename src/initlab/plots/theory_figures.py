"""Figures for the theory module (matplotlib is imported inside the functions, Agg backend).

- :func:`phase_diagram`: the order-to-chaos phase diagram of Poole et al. (2016) and
  Schoenholz et al. (2017): the correlation depth scale xi_c over (sigma_w^2, sigma_b^2) on a
  log colour scale, the critical line chi_1 = 1, the two phases labelled, measured points on top.
- :func:`jacobian_spectra`: input-output Jacobian singular-value densities per depth, one panel
  per depth, one curve per weight distribution (Pennington et al. 2017, Fig. 3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from initlab.plots._mpl import pyplot, save

XI_RANGE = (0.5, 1e3)  # colour range of xi_c, in layers; values outside are clipped


def phase_diagram(grid: dict, sw2_values, sb2_values, act_name: str, path,
                  empirical: list[dict] | None = None) -> Path:
    """Heatmap of ``grid["xi_c"]`` (from :func:`initlab.theory.phase_grid`, rows sigma_b^2,
    columns sigma_w^2) with the line ``grid["chi1"] = 1`` drawn and labelled, "ordered"
    (chi_1 < 1) and "chaotic" (chi_1 > 1) written in their regions, cells where the length map
    diverges (q* infinite) in grey, and optional ``empirical`` points (dicts with ``sw2``,
    ``sb2`` and the measured ``q`` and ``c``) overlaid. Saves a PNG at ``path``."""
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    plt = pyplot()
    sw = np.asarray(sw2_values, dtype=float)
    sb = np.asarray(sb2_values, dtype=float)
    xi = np.asarray(grid["xi_c"], dtype=float)
    chi = np.asarray(grid["chi1"], dtype=float)
    SW, SB = np.meshgrid(sw, sb)

    shown = np.ma.masked_invalid(np.clip(xi, *XI_RANGE))
    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.75")
    mesh = ax.pcolormesh(SW, SB, shown, cmap=cmap, norm=LogNorm(*XI_RANGE), shading="nearest")
    bar = fig.colorbar(mesh, ax=ax)
    bar.set_label(r"$\xi_c$ (layers; clipped to [%g, %g])" % XI_RANGE)

    handles = []
    if np.nanmin(chi) < 1.0 < np.nanmax(chi) and sw.size > 1 and sb.size > 1:
        ax.contour(SW, SB, chi, levels=[1.0], colors="white", linewidths=1.8)
        handles.append(Line2D([], [], color="white", lw=1.8, label=r"critical line $\chi_1 = 1$"))
    box = {"boxstyle": "round", "facecolor": "white", "alpha": 0.8}
    for mask, text in ((chi < 1.0, "ordered\n" + r"$\chi_1 < 1$"),
                       (chi > 1.0, "chaotic\n" + r"$\chi_1 > 1$")):
        if mask.any():
            ax.text(float(np.median(SW[mask])), float(np.median(SB[mask])), text, ha="center",
                    va="center", fontsize=9, bbox=box)
    if np.isnan(xi).any():
        handles.append(Line2D([], [], marker="s", ls="", color="0.75", label=r"$q^*$ diverges"))

    if empirical:
        ex = [float(p["sw2"]) for p in empirical]
        ey = [float(p["sb2"]) for p in empirical]
        ax.scatter(ex, ey, marker="o", s=28, facecolor="red", edgecolor="black", zorder=3)
        span = float(sw.max() - sw.min()) or 1.0
        for p, x, y in zip(empirical, ex, ey):
            note = ", ".join(f"{k}={float(p[k]):.3g}" for k in ("q", "c") if p.get(k) is not None)
            if note:  # centred above the point; near an edge, towards the inside (never cut)
                at = (x - float(sw.min())) / span
                ha = "right" if at > 0.85 else ("left" if at < 0.15 else "center")
                ax.annotate(note, (x, y), xytext=(0, 6), textcoords="offset points",
                            fontsize=7, ha=ha, va="bottom",
                            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.7,
                                  "edgecolor": "none"})
        handles.append(Line2D([], [], marker="o", ls="", markerfacecolor="red",
                              markeredgecolor="black", label="measured (q, c)"))

    ax.set_xlabel(r"$\sigma_w^2$")
    ax.set_ylabel(r"$\sigma_b^2$")
    ax.set_title(f"{act_name}: correlation depth scale (Schoenholz et al. 2017)")
    if handles:
        leg = ax.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.85)
        leg.get_frame().set_facecolor("0.35")
        for t in leg.get_texts():
            t.set_color("white")
    fig.tight_layout()
    save(fig, path)
    return Path(path)


def jacobian_spectra(spectra: dict, path, title: str | None = None) -> Path:
    """Singular-value densities of input-output Jacobians: ``spectra`` maps a label (e.g.
    "gaussian", "orthogonal") to ``{depth: singular values}``. One panel per depth, the labels
    overlaid, log-spaced bins on a log x axis (values more than ten decades below the largest
    go in the first bin), a dotted line at 1 (dynamical isometry); each legend entry gives the
    mean squared singular value; ``title`` above them all (the activation, sigma_w^2, sigma_b^2,
    width and seeds). Saves a PNG at ``path``."""
    plt = pyplot()
    depths = sorted({int(d) for per in spectra.values() for d in per})
    if not depths:
        raise ValueError("no spectra to draw")
    values = [np.asarray(v, dtype=float) for per in spectra.values() for v in per.values()]
    pos = np.concatenate([v[(v > 0) & np.isfinite(v)] for v in values] + [np.ones(1)])
    hi = float(pos.max())
    lo = max(float(pos.min()), 1e-10 * hi)  # smaller values are drawn in the first bin
    lo, hi = min(lo, 0.5), max(hi, 2.0)
    log_bins = np.linspace(np.log10(lo), np.log10(hi), 50)

    fig, axes = plt.subplots(len(depths), 1, figsize=(6.0, 1.9 * len(depths) + 0.4),
                             sharex=True, squeeze=False)
    for ax, depth in zip(axes[:, 0], depths):
        for k, (label, per) in enumerate(spectra.items()):
            if depth not in per:
                continue
            sv = np.asarray(per[depth], dtype=float)
            sv = sv[np.isfinite(sv)]
            # density of log10(s): comparable across decades on the log axis
            dens, _ = np.histogram(np.log10(np.clip(sv, lo, hi)), bins=log_bins, density=True)
            msv = float(np.mean(sv * sv)) if sv.size else float("nan")
            ax.stairs(dens, 10.0 ** log_bins, color=f"C{k}", lw=1.5,
                      label=f"{label} (mean s² = {msv:.3g})")
        ax.axvline(1.0, color="0.4", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_ylabel("density per decade")
        ax.set_title(f"depth {depth}")
        ax.legend(fontsize=7, loc="upper left")
    axes[-1, 0].set_xlabel("singular value of the input-output Jacobian")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save(fig, path)
    return Path(path)
