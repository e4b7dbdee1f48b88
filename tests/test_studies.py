"""The study registry and its packaged configs: every study module is registered under its own
name, every case's config ships in the package and loads, a packaged copy of a top-level example
config stays identical to it, and no packaged config is left unused."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import pytest

from initlab import studies
from initlab.cli.reproduce import load_case, load_train_config
from initlab.errors import ConfigError
from initlab.studies.framework import CONFIG_DIR, config_resource, packaged

ROOT = Path(__file__).resolve().parents[1]
CASES = [(s.name, c) for s in studies.STUDIES.values() for c in s.cases]
COPIES = sorted({(c.config, c.example) for _, c in CASES if c.example}
                | {(r.config, r.example) for r in studies.RUNS})


def test_every_study_module_is_registered_under_its_name():
    modules = {m.name for m in pkgutil.iter_modules(studies.__path__)} - set(studies.HELPERS)
    assert modules == set(studies.MODULES), "a study module without its line in studies.MODULES (or the reverse)"
    assert list(studies.STUDIES) == [m.replace("_", "-") for m in studies.MODULES]
    for module, (name, study) in zip(studies.MODULES, studies.STUDIES.items()):
        assert study.name == name
        assert getattr(studies, module).__doc__, f"studies/{module}.py should name its source in its docstring"


def test_study_records_are_consistent():
    for study in studies.STUDIES.values():
        keys = [c.key for c in study.cases] + (["grid"] if study.grid is not None else [])
        assert len(set(keys)) == len(keys), study.name
        ids = [c.id for c in study.claims]
        assert ids == [f"{study.name}-{i}" for i in range(1, len(ids) + 1)]
        if getattr(study, "kind", None) == "train":
            # a training study's claims name the setting they are about (an init, a depth...), its
            # figures a drawing function of initlab.plots.study_figures
            from initlab.plots import study_figures

            for fig in study.figures:
                assert callable(getattr(study_figures, fig.kind)), (study.name, fig.file)
            continue
        assert {c.case for c in study.claims} <= set(keys)
        for fig in study.figures:
            assert set(fig.cases) <= set(keys), (study.name, fig.file)


@pytest.mark.parametrize("study", [s for s in studies.STUDIES.values() if s.grid is not None], ids=lambda s: s.name)
def test_every_point_of_a_grid_study_resolves(study):
    """A grid study's base config is packaged and every point of both grids (default and
    --large) is a valid training config."""
    from initlab.cli.reproduce import grid_resolver
    from initlab.studies.grids import configs

    for grid in (study.grid, study.large):
        assert grid.config.startswith(f"{CONFIG_DIR}/{study.name}_")
        items = configs(grid, grid_resolver(grid))
        assert len(items) == grid.size
        (xk, _), (yk, _) = grid.x, grid.y
        assert len({(p[xk], p[yk], p["seed"]) for p, _ in items}) == grid.size


@pytest.mark.parametrize("study,case", CASES, ids=[f"{s}-{c.key}" for s, c in CASES])
def test_case_config_is_packaged_and_loads(study, case):
    assert case.config.startswith(f"{CONFIG_DIR}/{study}_"), "a study's configs are named <study>_*.yaml"
    assert config_resource(case.config).is_file()
    if getattr(studies.STUDIES[study], "kind", None) == "train":
        load_train_config(case.config, case.sets)
    else:
        load_case(case)


@pytest.mark.parametrize("config,example", COPIES, ids=[e for _, e in COPIES])
def test_packaged_copy_equals_its_example(config, example):
    """A study pins its setup with its own copy; where it runs an example's experiment, the two
    files must not drift apart (edit both, or stop naming the example)."""
    assert config_resource(config).read_bytes() == (ROOT / example).read_bytes(), (
        f"{config} and {example} differ")


def test_no_packaged_config_is_unused():
    used = {c.config for _, c in CASES} | {r.config for r in studies.RUNS} | {
        g.config for s in studies.STUDIES.values() for g in (s.grid, s.large) if g is not None}
    shipped = {packaged(f.name) for f in config_resource(packaged("x")).parent.iterdir() if f.name.endswith(".yaml")}
    assert shipped == used


def test_config_resource_refuses_other_paths():
    with pytest.raises(ValueError, match="not under"):
        config_resource("configs/tanh_small.yaml")


def test_get_suggests_a_close_name():
    assert studies.get("he2015") is studies.STUDIES["he2015"]
    with pytest.raises(ConfigError, match=r"did you mean 'glorot2010'.*valid: all, .*cs231n"):
        studies.get("glorot2001")


def test_every_config_path_the_docs_name_exists():
    for doc in ("README.md", "docs/reproduce.md", "Makefile"):
        for rel in re.findall(r"(?<![\w/])configs/[\w./-]+\.yaml", (ROOT / doc).read_text()):
            assert (ROOT / rel).is_file(), f"{doc} names {rel}"
