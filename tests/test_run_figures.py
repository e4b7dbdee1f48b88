"""The run's figures: one image per pass whatever the depth (heatmap + chosen-layer panels), with
the input as layer 0, a y axis and std per panel, ReLU's spike clipped and out-of-range notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from initlab import config
from initlab.io.save import stats_document
from initlab.plots import run_figures
from initlab.runs import experiment

pytest.importorskip("matplotlib")


def doc_for(act: str, depth: int, backward: bool = False) -> dict:
    cfg = config.resolve({"dtype": "float32", "input": {"batch": 64, "dim": 32},
                          "network": {"depth": depth, "width": 32, "activation": act,
                                      "initializer": "he" if act == "relu" else "xavier"},
                          "backward": {"enabled": backward, "loss": "random"},
                          "stats": {"histograms": True, "bins": 20}})
    return stats_document(experiment.run(cfg, theory=False))


def capture(monkeypatch) -> dict:
    figs: dict[str, dict] = {}

    def save(fig, path):
        import matplotlib.pyplot as plt
        from matplotlib.collections import QuadMesh
        from matplotlib.text import Text

        figs[Path(path).name] = {
            "texts": [t.get_text() for t in fig.findobj(Text)],
            "axes": len(fig.axes),
            "meshes": len(fig.findobj(QuadMesh)),
            "ylabels": [ax.get_ylabel() for ax in fig.axes],
        }
        plt.close(fig)

    monkeypatch.setattr(run_figures, "save", save)
    return figs


@pytest.mark.parametrize("n", [1, 3, 5, 6, 31, 101, 1001])
def test_chosen_layers(n):
    shown = run_figures.chosen_layers(n)
    assert shown == sorted(set(shown)) and len(shown) == min(n, run_figures.PANELS)
    assert shown[0] == 0 and shown[-1] == n - 1
    if n > 2:
        assert 1 in shown
    must = run_figures.chosen_layers(n, must=(n // 2 + 1,))
    assert n // 2 + 1 in must or n // 2 + 1 >= n


def test_a_deep_run_is_one_heatmap_and_a_few_panels(tmp_path, monkeypatch):
    figs = capture(monkeypatch)
    doc = doc_for("tanh", 40, backward=True)
    run_figures.draw_all(doc, tmp_path)
    for name, layers in (("histograms.png", 41), ("gradients.png", 40)):
        f = figs[name]
        assert f["meshes"] == 2  # the all-layers heatmap and its colour bar
        # the heatmap, its colour bar and PANELS panels, whatever the depth
        assert f["axes"] == run_figures.PANELS + 2
        assert any(f"panels: {run_figures.PANELS} of {layers} layers" in t for t in f["texts"])
    hist = figs["histograms.png"]["texts"]
    assert "input" in hist and "layer 1" in hist and "layer 40" in hist
    assert any(t.startswith("std ") for t in hist)
    assert "% of entries" in figs["histograms.png"]["ylabels"]


def test_a_shallow_run_shows_every_layer_without_heatmap(tmp_path, monkeypatch):
    figs = capture(monkeypatch)
    run_figures.draw_all(doc_for("tanh", 3), tmp_path)
    f = figs["histograms.png"]
    assert f["meshes"] == 0 and f["axes"] == 4  # input + 3 layers
    assert {"input", "layer 1", "layer 2", "layer 3"} <= set(f["texts"])


def test_relu_spike_is_clipped_and_the_input_out_of_range_is_said(tmp_path, monkeypatch):
    figs = capture(monkeypatch)
    run_figures.draw_all(doc_for("relu", 12), tmp_path)
    texts = figs["histograms.png"]["texts"]
    assert any(t.startswith("first bin") and "(clipped)" in t for t in texts)
    # the input N(0, 1) on ReLU's range [0, ...): about half of it is below
    assert any("out of range" in t for t in texts)


def test_the_input_histogram_is_saved_as_layer_0():
    doc = doc_for("tanh", 2)
    h = doc["histograms"]["input"]
    assert len(h["counts"]) == 1 and h["edges"] == doc["histograms"]["act"]["edges"]
    assert sum(h["counts"][0]) + h["below"][0] + h["above"][0] + h["nonfinite"][0] == 64 * 32
