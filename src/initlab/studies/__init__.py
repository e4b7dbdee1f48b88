"""The published studies ``initlab reproduce`` re-runs: the registry.

One module per source, each holding its :class:`~initlab.studies.framework.Study` record as
``STUDY`` and its claim data, the source named in the module docstring (:mod:`.cs231n`,
:mod:`.glorot2010`, :mod:`.he2015`, :mod:`.tutorial`); the framework they are written in (the
records, what a claim sees, the mean-field helpers, the evaluation) is
:mod:`initlab.studies.framework`. The study configs are package data in
``initlab/studies/configs/`` (declared in pyproject.toml), so a study runs the same from any
folder wherever initlab is installed.

Adding a study is one new module and one line here:

1. ``studies/<name>.py`` defining ``STUDY = Study(name="<name>", ...)`` (a hyphen in the name is
   an underscore in the module's: ``dlai-init`` lives in ``dlai_init.py``), its cases built with
   ``packaged("<name>_<case>.yaml")``; a study that trains is a
   :class:`~initlab.studies.trained.TrainStudy` (:mod:`initlab.studies.trained`);
2. those configs in ``studies/configs/`` (``<name>_*.yaml``: the package-data glob takes them
   with no further change; a case that runs a top-level example's experiment names it with
   ``example="configs/...yaml"`` and its packaged copy is kept identical by a test);
3. ``"<name>",`` in :data:`MODULES` below, at its place in the report order.

``tests/test_studies.py`` checks that every module here is registered under its own name and that
every case's packaged config loads.
"""

from __future__ import annotations

from importlib import import_module

from initlab.errors import unknown
from initlab.studies.framework import Example, Run, Study, packaged

#: The study modules, in report order; each one's ``STUDY.name`` is its module name with ``-``
#: for ``_``. The training studies (:mod:`initlab.studies.trained`) follow the step-0 ones.
MODULES = (
    "cs231n",
    "glorot2010",
    "he2015",
    "tutorial",
    "dlai_init",
    "symmetry",
    "he2015_train",
    "saxe2013",
    "clipping",
    "normalization",
    "glorot2010_train",
    "schoenholz2017",
    "lsuv",
    "pretraining",
    "transfer",
    "lottery",
)

#: Modules of this package that are not studies.
HELPERS = ("framework", "trained", "grids")

#: name -> study, in report order.
STUDIES: dict[str, Study] = {m.replace("_", "-"): import_module(f"{__name__}.{m}").STUDY for m in MODULES}

#: The ``initlab compare`` runs shown in the README, which ``reproduce all`` regenerates.
EXAMPLES = (
    Example("relu", ("xavier", "he")),
    Example("tanh", ("normal:std=0.01", "normal:std=1.0", "xavier")),
)

#: ``initlab run`` experiments whose folders also live under ``results/`` (``make run`` writes
#: the first); ``reproduce all`` regenerates them too, so the whole tree is reproducible. Each
#: reads the packaged copy of its example config, so ``reproduce all`` works from any folder.
RUNS = (Run("configs/tanh_small.yaml", packaged("cs231n_tanh_small.yaml")),)


def get(name: str) -> Study:
    """The study called ``name``; an unknown name is a :class:`~initlab.errors.ConfigError`
    listing the valid names (and ``all``, which ``initlab reproduce`` also takes) and the
    closest match."""
    if name not in STUDIES:
        raise unknown("study", name, [*STUDIES, "all"])
    return STUDIES[name]
