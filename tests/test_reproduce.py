"""Tests for ``initlab reproduce`` and ``initlab.io.check_results``: the study list, every claim
passing at the real size, a deterministic REPORT.md, --strict, and the staleness check."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import math
import shutil

import pytest

from initlab import studies
from initlab.cli import main
from initlab.io import check_results, configfile
from initlab.studies.framework import mean_field, packaged


# The training studies (dlai-init, lsuv, schoenholz2017, ...: about 4 minutes of CPU) are checked
# at their real size by `make check-results`, which CI runs after `make test` (`reproduce all
# --strict`); here, unless INITLAB_TEST_ALL_STUDIES=1, `reproduce all` sees the step-0 studies only.
ALL_STUDIES = os.environ.get("INITLAB_TEST_ALL_STUDIES") == "1"


def _step0(study) -> bool:
    return getattr(study, "kind", None) != "train" and study.runner is None and study.grid is None


@pytest.fixture(scope="module")
def full_tree(tmp_path_factory):
    """``reproduce all --no-figures`` once, at the real sizes (about 15 s for the step-0 studies)."""
    with pytest.MonkeyPatch.context() as mp:
        if not ALL_STUDIES:
            mp.setattr(studies, "STUDIES", {n: s for n, s in studies.STUDIES.items() if _step0(s)})
        root = tmp_path_factory.mktemp("repro") / "results"
        rc = main(["reproduce", "all", "--out", str(root), "--no-figures", "--strict", "-q"])
        yield rc, root


@pytest.fixture(scope="module")
def tutorial_alone(tmp_path_factory):
    """``reproduce tutorial --no-figures`` alone in a fresh folder: a second tree, generated
    independently of ``full_tree``."""
    root = tmp_path_factory.mktemp("tutorial") / "results"
    assert main(["reproduce", "tutorial", "--results", str(root), "--no-figures", "-q"]) == 0
    return root


def test_list_names_every_study(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for name in studies.STUDIES:
        assert name in out


def test_unknown_study_is_a_usage_error(tmp_path, capsys):
    rc = main(["reproduce", "cs213n", "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "did you mean 'cs231n'" in err and "all" in err
    assert not (tmp_path / "r").exists()


def test_every_claim_passes_at_the_real_size(full_tree):
    rc, root = full_tree
    assert rc == 0  # --strict: a failed claim would exit 3
    for name, study in studies.STUDIES.items():
        doc = json.loads((root / name / "claims.json").read_text())
        failed = [c["id"] for c in doc["claims"] if not c["pass"]]
        assert not failed, failed
        assert [c["id"] for c in doc["claims"]] == [c.id for c in study.claims]
        for c in doc["claims"]:
            assert c["measured"] is not None and len(c["per_seed"]) == study.seeds
    report = (root / "REPORT.md").read_text()
    total = sum(len(s.claims) for s in studies.STUDIES.values())
    assert f"**{total} of {total} claims pass.**" in report
    for name in studies.STUDIES:
        assert f"## {name}: " in report
    for ex in studies.EXAMPLES:
        assert f"`{ex.command()}`" in report
    assert (root / "compare-relu-xavier-he" / "stats.csv").exists()
    assert (root / "tanh_small" / "stats.csv").exists()  # the `make run` experiment


def test_report_is_deterministic_and_rebuilt_from_claims(full_tree, tmp_path):
    _, root = full_tree
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(root, a)
    shutil.copytree(root, b)
    # Re-running one study (into a copy) keeps the other sections: the report is rebuilt from
    # every study's claims.json, so both trees end with byte-identical reports.
    assert main(["reproduce", "tutorial", "--results", str(a), "--no-figures", "-q"]) == 0
    assert main(["reproduce", "tutorial", "--results", str(b), "--no-figures", "-q"]) == 0
    assert (a / "REPORT.md").read_bytes() == (b / "REPORT.md").read_bytes() == (root / "REPORT.md").read_bytes()
    assert (a / "tutorial" / "claims.json").read_bytes() == (root / "tutorial" / "claims.json").read_bytes()
    assert check_results.main([str(root), str(a)]) == 0


def test_report_marks_studies_not_run(tutorial_alone):
    report = (tutorial_alone / "REPORT.md").read_text()
    assert "not run: `initlab reproduce cs231n`" in report and "## tutorial: " in report


def test_strict_exits_3_when_a_claim_fails(tmp_path, monkeypatch, capsys):
    tutorial = studies.get("tutorial")
    bad = dataclasses.replace(tutorial.claims[0], reference=123.0)
    monkeypatch.setitem(studies.STUDIES, "tutorial", dataclasses.replace(tutorial, claims=(bad,) + tutorial.claims[1:]))
    assert main(["reproduce", "tutorial", "--results", str(tmp_path / "r"), "--no-figures", "-q"]) == 0
    out = capsys.readouterr().out
    assert "FAIL tutorial-1" in out
    assert main(["reproduce", "tutorial", "--results", str(tmp_path / "r"), "--no-figures", "-q", "--strict"]) == 3
    assert "**FAIL**" in (tmp_path / "r" / "REPORT.md").read_text()


def test_study_configs_load_and_match_the_setup():
    from initlab.cli.reproduce import load_case, load_config, load_train_config

    for study in studies.STUDIES.values():
        load = load_train_config if getattr(study, "kind", None) == "train" else load_config
        for case in study.cases:
            assert (load(case.config, case.sets) if load is load_train_config else load_case(case)).network.bias == 0.0
    he = load_config(packaged("he2015_xavier_30.yaml"))
    assert he.network.depth == 30 and he.network.activation.name == "relu"
    gl = load_config(packaged("glorot2010_standard.yaml"))
    assert gl.network.initializer.kwargs["high"] == pytest.approx(1 / math.sqrt(1000))


def test_mean_field_closed_forms():
    relu_he = configfile.load("configs/relu_he.yaml")
    mf = mean_field(relu_he)
    assert mf[1]["std"] == pytest.approx(math.sqrt(1 - 1 / math.pi), rel=1e-6)
    assert mf[10]["mean"] == pytest.approx(1 / math.sqrt(math.pi), rel=1e-6)
    relu_x = configfile.load("configs/relu_xavier.yaml")
    mf = mean_field(relu_x)
    assert mf[10]["std"] / mf[1]["std"] == pytest.approx(2 ** -4.5, rel=1e-6)
    assert mf[5]["chi"] == pytest.approx(0.5, rel=1e-9)  # fan_out Var[W] E[relu'^2] = 500 / 500 / 2


# --- check_results -------------------------------------------------------------------------------------

def test_check_results_passes_independently_generated_trees(full_tree, tutorial_alone, tmp_path, capsys):
    """The tutorial study of ``reproduce all`` against the same study generated on its own
    (another run, another folder): equal within tolerance, every table compared. And the same
    pair with one value moved beyond the tolerance is told apart."""
    _, root = full_tree
    a, b = root / "tutorial", tutorial_alone / "tutorial"
    assert check_results.main([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    tables = len(list(b.glob("*.csv")))
    assert tables >= 2
    assert f"({tables} CSV tables and 1 claims.json compared), 0 missing from one tree, 0 value" in out
    new = tmp_path / "tutorial"
    shutil.copytree(b, new)
    _perturb(new / "stats.csv", 2, "act_std", 1 + 1e-4)  # beyond rtol 1e-6
    assert check_results.main([str(a), str(new)]) == 1
    assert "stats.csv:3: act_std:" in capsys.readouterr().out


def _perturb(path, row, column, factor):
    rows = list(csv.reader(open(path, newline="")))
    j = rows[0].index(column)
    rows[row][j] = repr(float(rows[row][j]) * factor)
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def test_check_results_detects_a_perturbed_value(full_tree, tmp_path, capsys):
    _, root = full_tree
    new = tmp_path / "new"
    shutil.copytree(root, new)
    _perturb(new / "tutorial" / "stats.csv", 3, "act_std", 1 + 1e-9)  # within rtol 1e-6
    assert check_results.main([str(root), str(new)]) == 0
    _perturb(new / "tutorial" / "stats.csv", 3, "act_std", 1 + 1e-4)
    capsys.readouterr()
    assert check_results.main([str(root), str(new)]) == 1
    out = capsys.readouterr().out
    assert "tutorial/stats.csv:4: act_std:" in out and "1 value differences" in out


def test_check_results_reports_missing_files_and_failed_claims(full_tree, tmp_path, capsys):
    _, root = full_tree
    new = tmp_path / "new"
    shutil.copytree(root, new)
    (new / "glorot2010" / "bands.csv").unlink()
    doc = json.loads((new / "he2015" / "claims.json").read_text())
    doc["claims"][0]["pass"] = False
    (new / "he2015" / "claims.json").write_text(json.dumps(doc))
    assert check_results.main([str(root), str(new)]) == 1
    out = capsys.readouterr().out
    assert "glorot2010/bands.csv: missing from the regenerated tree" in out
    assert "he2015/claims.json: claim he2015-1: pass committed, FAIL regenerated" in out
    assert "he2015-1 FAILS in the regenerated tree" in out


def test_check_results_usage_error(tmp_path, capsys):
    assert check_results.main([str(tmp_path / "nope"), str(tmp_path)]) == 2
