"""One place that imports matplotlib, with the non-interactive backend."""

from __future__ import annotations


def pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 110, "font.size": 9,
                         "axes.titlesize": 9, "svg.hashsalt": "initlab", "path.simplify": True})
    return plt


def save(fig, path) -> None:
    """Save with fixed metadata so the PNG bytes do not depend on the date or version."""
    fig.savefig(path, metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
