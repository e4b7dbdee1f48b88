"""The playground in a real browser: Debian's chromium driven headless by Playwright's Python
package (its own browser downloads are never used: ``executable_path`` is the system one).

What a user does, checked: change the initializer and the histograms change; a bad value gets the
CLI's message beside its control; the downloaded config, run by ``initlab run`` / ``initlab
train``, gives the numbers the page shows; training makes the loss fall; a permalink restores the
state; no console errors. Screenshots of each view are saved under ``$INITLAB_TEST_ARTIFACTS``
(default ``test-artifacts/``, not committed) in a folder named after this module.

Skips without /usr/bin/chromium (``apt-get install chromium``), playwright or the serve extra.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("plotly")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("INITLAB_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

from initlab.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("INITLAB_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "test_serve_browser"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 180_000  # generous: the machine may be shared
#: a short training run of the deeplearning.ai demo's setup (the permalink's t.* keys)
TRAIN_QUERY = ("view=train&t.seed=1&t.data.name=circles&t.data.n_train=300&t.data.n_test=100&t.data.noise=0.05"
               "&t.data.standardize=false&t.network.depth=2&t.network.width=[10,5]&t.network.activation=relu"
               "&t.train.optimizer.name=sgd&t.train.optimizer.lr=0.1&t.train.loss=bce&t.train.steps=1500"
               "&t.train.eval_every=50&t.train.stats_every=500&runs=zeros|he")


@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen([sys.executable, "-m", "initlab", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = proc.stdout.readline()
    assert line.startswith("initlab playground at "), line + proc.stderr.read()
    yield line.split()[3]
    proc.terminate()
    proc.wait(30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, args=FLAGS, headless=True,
            viewport={"width": 1500, "height": 1100}, accept_downloads=True)
        yield ctx
        ctx.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page()
    pg.set_default_timeout(WAIT_MS)
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    errors = pg.errors
    pg.close()
    assert errors == [], f"console errors: {errors}"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def computed(page, after: str | None = None) -> str:
    """Wait for a step-0 result newer than ``after``; its request id."""
    page.wait_for_function("(a) => document.body.dataset.step0 && document.body.dataset.step0 !== a", arg=after or "")
    return page.evaluate("document.body.dataset.step0")


def table(page, key: str) -> list[float]:
    return [float(v) for v in page.eval_on_selector_all(f"#layers td[data-key={key}]",
                                                        "tds => tds.map(t => t.dataset.value)")]


def test_step0_the_initializer_moves_the_histograms_and_the_download_is_initlab_run(server, page, tmp_path):
    page.goto(server + "?s.dtype=float64")
    first = computed(page)
    page.wait_for_function("document.querySelector('#phaseplot .main-svg') !== null")
    before = page.evaluate("document.getElementById('hist').data.map(t => t.y)")
    std_before = table(page, "act_std")
    shot(page, "step0.png")
    page.select_option("#c-network-initializer", "normal")
    page.fill("#c-network-initializer-std", "0.01")
    now = computed(page, first)
    after = page.evaluate("document.getElementById('hist').data.map(t => t.y)")
    std_after = table(page, "act_std")
    assert after != before
    assert std_after[10] < 1e-6 < std_before[10]  # std 0.01 weights: the cs231n collapse
    assert "normal:std=0.01" in page.url or "normal%3Astd%3D0.01" in page.url
    with page.expect_download() as dl:
        page.click("#download")
    path = tmp_path / "playground.yaml"
    dl.value.save_as(path)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "-q", "--no-figures"]) == 0
    rows = json.loads((tmp_path / "out" / "stats.json").read_text())["rows"]
    assert [r["act_std"] for r in rows] == std_after  # the numbers the page shows, exactly
    assert [r["layer"] for r in rows] == [int(v) for v in table(page, "layer")]
    shot(page, "step0_collapse.png")
    assert computed(page, None) == now


def test_a_bad_value_shows_the_clis_message_beside_its_control(server, page):
    page.goto(server)
    first = computed(page)
    page.fill("#c-network-depth", "0")
    page.wait_for_selector(".row[data-key='network.depth'].invalid")
    msg = page.inner_text(".err[data-for='network.depth']")
    assert msg == "network.depth: must be an integer >= 1, got 0"
    page.fill("#c-network-depth", "4")
    computed(page, first)
    assert page.inner_text(".err[data-for='network.depth']") == ""
    assert len(table(page, "layer")) == 5


def test_a_permalink_restores_the_state(server, page):
    page.goto(server + "?view=step0&s.network.depth=3&s.network.activation=relu&s.network.initializer=he")
    computed(page)
    assert len(table(page, "layer")) == 4
    assert page.input_value("#c-network-activation") == "relu"
    page.wait_for_function("(document.getElementById('phaseplot').layout || {title: {text: ''}}).title.text.includes('relu')")
    assert page.evaluate("document.getElementById('phaseplot').data[2].x[0]") == pytest.approx(2.0)  # He: sigma_w^2 = 2


def test_training_the_loss_falls_and_the_config_reproduces_it(server, page, tmp_path):
    page.goto(server + "?" + TRAIN_QUERY)
    computed(page)
    page.click("#start")
    page.wait_for_selector("body[data-train-done]")
    loss = page.evaluate("document.getElementById('lossplot').data[2].y")  # he, train
    assert loss[-1] < 0.5 * loss[0], loss
    shot(page, "training.png")
    row = "#finals tr[data-run='1']"
    shown = {k: float(page.get_attribute(f"{row} td[data-key={k}]", "data-value"))
             for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
    with page.expect_download() as dl:
        page.click(f"{row} a.download-run")
    path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(path)
    assert path.name == "playground-he.yaml"
    assert main(["train", str(path), "--out", str(tmp_path / "out"), "-q", "--no-figures"]) == 0
    final = json.loads((tmp_path / "out" / "final.json").read_text())["final"]
    assert {k: final[k] for k in shown} == shown
    zeros = page.evaluate("document.getElementById('lossplot').data[0].y")
    assert max(zeros) - min(zeros) < 1e-9  # zeros never break the symmetry: the loss stays at log 2


def test_no_train_hides_the_training_view(tmp_path, browser):
    if shutil.which("true") is None:  # pragma: no cover
        pytest.skip("no shell")
    proc = subprocess.Popen([sys.executable, "-m", "initlab", "serve", "--port", "0", "--no-train"],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = proc.stdout.readline().split()[3]
        pg = browser.new_page()
        pg.goto(url)
        pg.wait_for_function("document.body.dataset.step0")
        assert pg.is_hidden("#tab-train")
        pg.close()
    finally:
        proc.terminate()
        proc.wait(30)


def test_pause_freezes_the_curves_resume_goes_on_reset_stops(server, page):
    page.goto(server + "?" + TRAIN_QUERY.replace("t.train.steps=1500", "t.train.steps=40000"))
    computed(page)
    page.click("#start")
    points = "(document.getElementById('lossplot').data || [{x: []}])[0].x.length"
    page.wait_for_function(f"{points} >= 3")
    page.click("#pause")
    assert page.inner_text("#pause") == "Resume"
    for _ in range(40):  # frames already on their way arrive (a busy machine delays them)
        frozen = page.evaluate(points)
        page.wait_for_timeout(1500)
        if page.evaluate(points) == frozen:
            break
    page.wait_for_timeout(2000)
    assert page.evaluate(points) == frozen
    page.click("#pause")
    page.wait_for_function(f"{points} > {frozen}")
    page.click("#reset")
    assert page.inner_text("#status") == "reset"
    assert page.evaluate("document.getElementById('finals').rows.length") == 0
