"""The bad-input corpus: every refused input gives exactly one line on stderr naming the field
(dotted path, and the YAML line where there is one) and what would be valid, exit code 2, no
traceback, nothing on stdout, and nothing left behind (no results folder, no hidden staging
folder, no parent folder created for --out).

Corpus: ``tests/bad_inputs/*.yaml``. Each file carries its expectation in its header:

    # bad input: <what is wrong>
    # args: <extra command-line arguments>        (optional: --set cases)
    # expect: <field> (line <n>)                  (no "(line n)" when the value is not from the file)
    # valid: <text the message must contain: the valid choices, range or type>

Inputs that cannot be a YAML file (missing, unreadable or non-UTF-8 files, output paths,
permissions, command-line usage errors) are the scenarios further down.
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cli_helpers import invoke

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = sorted(CORPUS.glob("*.yaml"))
VALID = "input: {batch: 4, dim: 6}\nnetwork: {depth: 2, width: 5, activation: tanh}\n"


def header(path: Path) -> dict:
    out = {}
    for line in path.read_text().splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(": ")
        out[key] = value
    return out


def snapshot(folder: Path) -> set[str]:
    """Every path under ``folder``, hidden ones included."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} | \
           {str(p.relative_to(folder)) for p in folder.glob(".*")}


def assert_refused(rc: int, out: str, err: str, *needles: str) -> str:
    """Exit 2, nothing on stdout, one line on stderr without a traceback, containing needles."""
    assert rc == 2, (rc, err)
    assert out == "", out
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert err.startswith("initlab: error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)
    return err[len("initlab: error: "):-1]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty current folder: whatever a refused run leaves behind shows up here."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_corpus_is_large_and_every_file_has_expectations():
    assert len(CASES) >= 40
    for path in CASES:
        h = header(path)
        assert {"bad input", "expect", "valid"} <= set(h), path.name


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_corpus_entry_is_refused_with_field_line_and_valid_choices(path, workdir):
    h = header(path)
    before = snapshot(CORPUS)
    args = ["run", str(path)] + shlex.split(h.get("args", ""))
    rc, out, err = invoke(args)
    msg = assert_refused(rc, out, err, h["valid"])
    # The message starts with the field, then its YAML line when the value came from the file.
    assert msg.startswith(h["expect"] + ": "), (h["expect"], msg)
    if "(line " not in h["expect"]:
        assert not msg.startswith(h["expect"] + " (line")
    assert snapshot(workdir) == set(), "a refused run left something behind"
    assert snapshot(CORPUS) == before


def test_default_output_folder_is_not_created_for_a_refused_run(workdir):
    cfg = workdir / "c.yaml"
    cfg.write_text("name: deep\n" + VALID)
    rc, out, err = invoke(["run", str(cfg), "--set", "network.depth=0", "--out", "a/b/c"])
    assert_refused(rc, out, err, "network.depth", ">= 1")
    assert snapshot(workdir) == {"c.yaml"}


# --- config files that cannot be read -------------------------------------------------------

def test_missing_config_file(workdir):
    rc, out, err = invoke(["run", "nope.yaml"])
    assert_refused(rc, out, err, "config: file not found: nope.yaml", "expected a readable UTF-8 YAML file")
    assert snapshot(workdir) == set()


def test_config_is_a_directory(workdir):
    (workdir / "d").mkdir()
    rc, out, err = invoke(["run", "d"])
    assert_refused(rc, out, err, "config: d is a directory", "expected a readable UTF-8 YAML file")
    assert snapshot(workdir) == {"d"}


def test_config_is_not_utf8(workdir):
    (workdir / "b.yaml").write_bytes(b"\xff\xfe\x00\x01 binary")
    rc, out, err = invoke(["run", "b.yaml"])
    assert_refused(rc, out, err, "config: cannot read b.yaml: not UTF-8 text", "UTF-8 YAML file")
    assert snapshot(workdir) == {"b.yaml"}


def test_config_has_nul_bytes(workdir):
    (workdir / "n.yaml").write_bytes(b"seed: 1\x00\n")
    rc, out, err = invoke(["run", "n.yaml"])
    assert_refused(rc, out, err, "config: cannot read n.yaml: binary data", "UTF-8 YAML file")


def test_config_unreadable_permission(workdir, monkeypatch):
    """Root reads any file, so a chmod 000 file proves nothing here: the read itself is made to
    fail with the error the kernel gives a normal user (EACCES); the real chmod case runs when
    the tests are not root."""
    p = workdir / "secret.yaml"
    p.write_text(VALID)
    if os.geteuid() != 0:
        p.chmod(0)
    else:
        real = os.open

        def denied(path, *a, **k):  # the config is opened with os.open (bounded, non-blocking)
            if Path(path).name == "secret.yaml":
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real(path, *a, **k)

        monkeypatch.setattr(os, "open", denied)
    try:
        rc, out, err = invoke(["run", "secret.yaml"])
    finally:
        p.chmod(0o644)
    assert_refused(rc, out, err, "config: cannot read secret.yaml: permission denied", "readable")
    assert snapshot(workdir) == {"secret.yaml"}


# --- output paths ----------------------------------------------------------------------------

@pytest.fixture
def valid_cfg(workdir):
    p = workdir / "ok.yaml"
    p.write_text(VALID)
    return p


def test_output_path_is_a_file(valid_cfg, workdir):
    (workdir / "f").write_text("mine")
    rc, out, err = invoke(["run", str(valid_cfg), "--out", "f", "--no-figures"])
    assert_refused(rc, out, err, "--out: f exists and is not a folder", "give a new folder")
    assert (workdir / "f").read_text() == "mine"
    assert snapshot(workdir) == {"ok.yaml", "f"}


def test_output_path_under_a_file(valid_cfg, workdir):
    """A parent that is a regular file: refused before anything is created (ENOTDIR for every
    user, root included)."""
    (workdir / "f").write_text("mine")
    rc, out, err = invoke(["run", str(valid_cfg), "--out", "f/sub/x", "--no-figures"])
    assert_refused(rc, out, err, "--out: f is a file, not a folder", "give a new folder")
    assert snapshot(workdir) == {"ok.yaml", "f"}


@pytest.mark.parametrize("out", [".", "..", ""])
def test_output_path_without_a_folder_name(valid_cfg, workdir, out):
    rc, o, err = invoke(["run", str(valid_cfg), "--out", out, "--no-figures"])
    assert_refused(rc, o, err, "--out", "does not name a new folder")
    assert snapshot(workdir) == {"ok.yaml"}


def test_output_folder_that_is_not_ours(valid_cfg, workdir):
    (workdir / "docs").mkdir()
    (workdir / "docs" / "thesis.tex").write_text("x")
    rc, out, err = invoke(["run", str(valid_cfg), "--out", "docs", "--no-figures"])
    assert_refused(rc, out, err, "--out: docs is a non-empty folder without an initlab manifest.json")
    assert snapshot(workdir) == {"ok.yaml", "docs", "docs/thesis.tex"}


def test_no_write_permission_reported_by_access_check(valid_cfg, workdir, monkeypatch):
    """The up-front check (os.access): made to deny, as it does for a normal user on a
    read-only folder (root passes os.access everywhere)."""
    (workdir / "ro").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if Path(p).name == "ro" else real(p, mode, **k))
    rc, out, err = invoke(["run", str(valid_cfg), "--out", "ro/x", "--no-figures"])
    assert_refused(rc, out, err, "--out: no permission to write in ro", "folder you can write to")
    assert snapshot(workdir) == {"ok.yaml", "ro"}


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.ENOSPC])
def test_write_failure_during_staging_leaves_nothing(valid_cfg, workdir, monkeypatch, code):
    """The kernel refuses when the files are written (after os.access said yes: root, ACLs,
    read-only mounts, a full disk): one line, exit 2, and the parent folders created for --out
    are removed again."""
    from initlab.io import results

    real = results.write_text

    def refuse(folder, name, text):
        raise OSError(code, os.strerror(code), str(folder / name))

    monkeypatch.setattr(results, "write_text", refuse)
    rc, out, err = invoke(["run", str(valid_cfg), "--out", "new/deep/x", "--no-figures"])
    assert_refused(rc, out, err, "--out: cannot write new/deep/x", os.strerror(code), "folder you can write to")
    assert snapshot(workdir) == {"ok.yaml"}
    monkeypatch.setattr(results, "write_text", real)


def test_no_write_permission_real_kernel_denial_sysfs(valid_cfg, workdir):
    """A real EPERM for root: sysfs refuses mkdir to everyone, while os.access says yes."""
    probe = Path("/sys/initlab-probe")
    if not Path("/sys").is_dir() or not os.access("/sys", os.W_OK):
        pytest.skip("no sysfs here, or it is visibly read-only")
    try:
        probe.mkdir()
    except OSError:
        pass
    else:  # pragma: no cover - a writable /sys: nothing to learn
        probe.rmdir()
        pytest.skip("/sys accepts mkdir here")
    rc, out, err = invoke(["run", str(valid_cfg), "--out", "/sys/initlab-test-out", "--no-figures"])
    assert_refused(rc, out, err, "--out: cannot write /sys/initlab-test-out", "folder you can write to")
    assert not Path("/sys/initlab-test-out").exists()
    assert snapshot(workdir) == {"ok.yaml"}


def _warm_up(cfg: Path, scratch: Path) -> None:
    """Run the same command once here, so every module it imports is loaded before the fork
    (the unprivileged child may not be able to read the interpreter's library folders)."""
    rc, _, err = invoke(["run", str(cfg), "--out", str(scratch), "--no-figures", "-q"])
    assert rc == 0, err
    shutil.rmtree(scratch)


def test_no_write_permission_real_read_only_folder():
    """A genuinely read-only folder (chmod 555) and an unprivileged process. As root, the test
    forks and drops to the 'nobody' user first (root would bypass the permission bits); the
    child runs the CLI in-process with everything it needs already imported (the interpreter
    itself may live where 'nobody' cannot read)."""
    base = Path(tempfile.mkdtemp(prefix="initlab-perm-"))
    try:
        base.chmod(0o755)
        cfg = base / "ok.yaml"
        cfg.write_text(VALID)
        cfg.chmod(0o644)
        ro = base / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        args = ["run", str(cfg), "--out", str(ro / "x"), "--no-figures", "-q"]
        if os.geteuid() != 0:
            rc, out, err = invoke(args)
        else:
            try:
                import pwd

                nobody = pwd.getpwnam("nobody")
            except (ImportError, KeyError):
                pytest.skip("no 'nobody' user to drop privileges to")
            _warm_up(cfg, base / "warm")
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # child: drop privileges, run, report, exit without pytest's cleanup
                status = 3
                try:
                    os.close(r)
                    try:
                        os.setgroups([])
                        os.setgid(nobody.pw_gid)
                        os.setuid(nobody.pw_uid)
                    except OSError:
                        os.write(w, b'"cannot drop privileges"')
                        status = 0
                    else:
                        os.chdir(base)
                        res = invoke(args)
                        os.write(w, json.dumps(res).encode())
                        status = 0
                finally:
                    os._exit(status)
            os.close(w)
            with os.fdopen(r, "rb") as f:
                data = f.read()
            _, status = os.waitpid(pid, 0)
            assert status == 0 and data, "the unprivileged child failed"
            res = json.loads(data)
            if isinstance(res, str):
                pytest.skip(res)
            rc, out, err = res
        assert_refused(rc, out, err, f"--out: no permission to write in {ro}", "folder you can write to")
        assert list(ro.iterdir()) == []
    finally:
        (base / "ro").chmod(0o755)
        shutil.rmtree(base)


# --- command-line usage errors (typer/click) -----------------------------------------------

@pytest.mark.parametrize("args,needles", [
    (["run", "{cfg}", "--sed", "3"], ["No such option: --sed", "--seed", "see 'initlab run --help'"]),
    (["run"], ["Missing argument 'CONFIG'", "see 'initlab run --help'"]),
    (["run", "{cfg}", "--seed", "abc"], ["'--seed'", "valid integer"]),
    (["run", "{cfg}", "--seed", "1.5"], ["'--seed'", "valid integer"]),
    (["run", "{cfg}", "extra"], ["unexpected extra argument", "see 'initlab run --help'"]),
    (["runn"], ["No such command 'runn'", "valid: run, ", "list"]),
    (["list", "initialisers"], ["No such command 'initialisers'", "valid: initializers, activations"]),
    (["run", "{cfg}", "--seed", "-1"], ["seed: (from the command line) must be an integer >= 0"]),
    (["run", "{cfg}", "--out"], ["'--out' requires an argument", "see 'initlab"]),
])
def test_usage_errors_are_one_line(valid_cfg, workdir, args, needles):
    rc, out, err = invoke([a.replace("{cfg}", str(valid_cfg)) for a in args])
    assert_refused(rc, out, err, *needles)
    assert snapshot(workdir) == {"ok.yaml"}


@pytest.mark.parametrize("args,valid", [([], ["run", "list"]), (["list"], ["initializers", "activations"])])
def test_no_command_prints_help_and_one_error_line(workdir, args, valid):
    """A group without its command: the help on stdout, one error line naming the commands."""
    rc, out, err = invoke(args)
    assert rc == 2 and err.count("\n") == 1 and "Usage: initlab" in out
    assert err.startswith("initlab: error: missing command after 'initlab")
    listed = err.split("valid: ", 1)[1].split(" (see")[0].split(", ")
    assert set(valid) <= set(listed)


# --- the real entry point, in a fresh process -------------------------------------------------

@pytest.mark.parametrize("name", ["malformed_tab_indent", "sparse_nonzero_above_fan_in", "set_unparsable_value"])
def test_entry_point_subprocess(name, tmp_path):
    """The console entry point: the same one line (no Python warnings, no traceback), exit 2."""
    path = CORPUS / f"{name}.yaml"
    h = header(path)
    r = subprocess.run([sys.executable, "-m", "initlab", "run", str(path)] + shlex.split(h.get("args", "")),
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"initlab: error: {h['expect']}: ")
    assert h["valid"] in r.stderr
    assert snapshot(tmp_path) == set()
