"""initlab as a user gets it: a wheel installed into a fresh venv and run from a folder outside
the checkout. ``initlab reproduce`` must find its study configs in the installed package (they
are package data), not in the checkout or the current folder.

About 25 s of CPU (wheel 6, install 1, reproduce 17). pip builds the wheel as ``pip install .``
does (build isolation: setuptools and wheel from the index or /opt/wheels), with ``CC=/bin/false``
so the optional C kernel is skipped: compiling it costs another ~20 s and has nothing to do with
packaging (initlab falls back to its numpy path, same results). The venv gets the wheel with
``--no-deps``; its dependencies (numpy, typer, ...) come from the test runner's environment
through a ``.pth`` line written *after* the install (so pip never sees the runner's initlab),
which puts that site-packages folder on ``sys.path`` without running its ``.pth`` files: the
runner's editable initlab stays out, as the test checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

from initlab import studies

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"{' '.join(map(str, cmd))} -> {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


def _source_copy(dst: Path) -> Path:
    """What the build reads, copied: building in the checkout would leave build/ and
    *.egg-info there, and a built kernel (.so) in src/ would ship in the wheel."""
    dst.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, dst / name)
    shutil.copytree(ROOT / "src", dst / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info"))
    return dst


def test_installed_wheel_reproduces_outside_the_checkout(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    src = _source_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    build_env = {k: v for k, v in env.items() if k != "INITLAB_REQUIRE_KERNEL"}  # no kernel, on purpose
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src],
         cwd=tmp_path, env={**build_env, "CC": "/bin/false"})
    (wheel,) = dist.glob("initlab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packaged = {c.config for s in studies.STUDIES.values() for c in s.cases} | {r.config for r in studies.RUNS} | {
        g.config for s in studies.STUDIES.values() for g in (s.grid, s.large) if g is not None}
    assert packaged <= names, f"study configs missing from the wheel: {sorted(packaged - names)}"

    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    py = target / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", "-q", wheel], env=env)
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_runner_deps.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))

    work = tmp_path / "elsewhere"  # no configs/ here, and not the checkout
    work.mkdir()
    run_env = {**env, "PYTHONNOUSERSITE": "1", "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(tmp_path / "mpl")}
    where = _run([py, "-c", "import initlab.studies as s; print(s.__file__)"], cwd=work, env=run_env).stdout
    assert Path(where.strip()).is_relative_to(target) and not Path(where.strip()).is_relative_to(ROOT)

    _run([target / "bin" / "initlab", "reproduce", "cs231n", "--results", "out", "-q"], cwd=work, env=run_env)
    out = work / "out"
    doc = json.loads((out / "cs231n" / "claims.json").read_text())
    assert doc["summary"] == {"claims": len(studies.get("cs231n").claims), "pass": doc["summary"]["claims"], "fail": 0}
    for f in ("stats.csv", "bands.csv", "summary.md", "manifest.json", "std_by_layer.png"):
        assert (out / "cs231n" / f).is_file(), f
    assert "## cs231n: " in (out / "REPORT.md").read_text()
