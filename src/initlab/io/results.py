"""Result files: versioned, deterministic (values written by :mod:`initlab.io.text`), written
atomically.

Atomicity: a run's files are written into a hidden staging folder next to the output folder
(same file system), flushed, and swapped in with one atomic ``renameat2(RENAME_EXCHANGE)``
(Linux), so an interrupted run leaves the previous results or nothing, never a mix. Where that
call is missing, two renames are used (an exception between them puts the old folder back; a
SIGKILL between them leaves no output folder and the old one under a hidden name). Staging
folders of killed runs are removed by the next run to the same output.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Iterator

from initlab.errors import InitlabError

# 2 (this version, one change from 1): the weights come from initlab.engine.draw's counter-based
# streams (issue 18: every drawn number changed once); stats.json's histograms gained "input"
# (layer 0); compare's stats.csv always has seed; dL/dW per batch-mean loss; timings and versions
# moved to machine.json
SCHEMA_VERSION = 2
MANIFEST = "manifest.json"


from initlab.io.text import csv_text, json_text, markdown_table, table_markdown  # noqa: E402,F401 (re-exported)


def read_stats(path: str | Path) -> dict:
    """Load a ``stats.json`` and check its schema version."""
    data = json.loads(Path(path).read_text())
    v = data.get("schema_version")
    if v != SCHEMA_VERSION:
        raise InitlabError(f"{path}: schema_version {v!r}, this initlab reads {SCHEMA_VERSION}")
    return data


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- atomic output folders -------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2). False when unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


STAGE_SUFFIX = ".initlab-tmp"
# errno values that mean "this output path cannot be written", a usage error (exit 2), not a bug.
_WRITE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR,
                 errno.EISDIR, errno.ENAMETOOLONG, errno.EEXIST, errno.ENOTEMPTY, errno.EXDEV,
                 errno.EMLINK, errno.ELOOP}
_VALID_OUT = "give a new folder, or an initlab result folder to replace"


def _write_error(out: Path, exc: OSError) -> InitlabError:
    what = exc.strerror or type(exc).__name__
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    return InitlabError(f"--out: cannot write {out}: {what}{where}; {_VALID_OUT} in a folder you can "
                        "write to")


def check_output_dir(out: Path) -> None:
    """Refuse an output path we must not replace or cannot write: a file, a folder that is not
    ours, a path under a file, a parent without write permission. Creates nothing."""
    out = Path(out)
    if out.name in ("", ".", ".."):
        raise InitlabError(f"--out: '{out}' does not name a new folder; {_VALID_OUT}")
    try:
        if out.exists() or out.is_symlink():
            if not out.is_dir():
                raise InitlabError(f"--out: {out} exists and is not a folder; {_VALID_OUT}")
            entries = [p.name for p in out.iterdir()]
            if entries and MANIFEST not in entries:
                raise InitlabError(f"--out: {out} is a non-empty folder without an initlab {MANIFEST}; "
                                   f"{_VALID_OUT}")
            if entries:
                _check_replaceable(out)
        parent = out.parent if str(out.parent) else Path(".")
        probe = parent
        while not (probe.exists() or probe.is_symlink()):
            probe = probe.parent
        if not probe.is_dir():
            raise InitlabError(f"--out: {probe} is a file, not a folder; {_VALID_OUT}")
    except OSError as exc:  # e.g. a parent we may not list
        raise _write_error(out, exc) from None
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InitlabError(f"--out: no permission to write in {probe}; {_VALID_OUT} in a folder you can "
                           "write to")


def _make_parents(folder: Path) -> list[Path]:
    """``mkdir -p folder``, returning the folders created (outermost first)."""
    missing = []
    p = folder
    while not (p.exists() or p.is_symlink()):
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    created = []
    try:
        for d in reversed(missing):
            d.mkdir()
            created.append(d)
    except BaseException:
        _remove_empty(created)
        raise
    return created


def _remove_empty(created: list[Path]) -> None:
    """Remove the folders we created, innermost first, if they are still empty."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def stale_stages(out: Path) -> list[Path]:
    """Hidden staging folders of ``out`` left by runs that died (killed mid-write): the process
    id in their name is gone. A live run's stage is never listed."""
    out = Path(out)
    prefix = f".{out.name}."
    stale = []
    try:
        candidates = list(out.parent.glob(f".{glob.escape(out.name)}.*{STAGE_SUFFIX}"))
    except OSError:
        return []
    for p in candidates:
        middle = p.name[len(prefix):-len(STAGE_SUFFIX)]
        m = re.fullmatch(r"(\d+)\.[0-9a-f]{8}", middle)
        if m is None or not _alive(int(m.group(1))):
            stale.append(p)
    return stale


def _stage_name(out: Path) -> Path:
    return out.parent / f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{STAGE_SUFFIX}"


def _fsync(path: Path, directory: bool = False) -> None:
    """Flush a file or folder entry to disk (best effort: some file systems refuse folders)."""
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- a test hook: stop at a named point of the atomic write ----------------------------------

PAUSE_ENV = "INITLAB_PAUSE_AT"


def pause_point(point: str) -> None:
    """Test hook: with ``INITLAB_PAUSE_AT="<point> <fd>"`` in the environment, a run reaching
    ``point`` writes ``<point>\\n`` to the socket ``fd`` (inherited from the test) and blocks
    reading it, so that the test can signal the run at exactly that point, with no sleeps
    (tests/test_hardening.py). Points: ``staged`` (the empty stage exists), ``wrote <name>``
    (after each :func:`write_text`), ``written`` (every file staged, before the swap),
    ``swapped`` (the new results in place, the old ones not yet removed). A byte or EOF on the
    socket lets the run go on. Unset (always, outside that test): nothing happens."""
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return
    want, _, fd = spec.rpartition(" ")
    if want != point:
        return
    os.write(int(fd), point.encode() + b"\n")
    os.read(int(fd), 1)


_COMMITTED: list[Path] = []  # the result folders this process has swapped in


def committed() -> list[Path]:
    """The output folders swapped in since :func:`forget_commits` (their new results are
    complete): the CLI's exit code and message after a signal say so (README: exit codes)."""
    return list(_COMMITTED)


def forget_commits() -> None:
    _COMMITTED.clear()


def _check_replaceable(out: Path) -> None:
    """The previous result's folder must take the removal of its files (write permission on the
    folder itself), or the swap would succeed and its old files stay; refused before any swap."""
    if out.is_dir() and not os.access(out, os.W_OK | os.X_OK):
        raise InitlabError(f"--out: cannot replace {out}: the folder is read-only (its files could not be "
                           f"removed); make it writable (chmod u+w {out}) or {_VALID_OUT} in a folder "
                           "you can write to")


def _discard(old: Path) -> None:
    """Remove the previous result after the swap: the new one is complete, so a failure is a
    warning (the old files stay in the hidden ``old``), not an error."""
    try:
        shutil.rmtree(old)
    except OSError as exc:
        import sys

        print(f"initlab: warning: the new result is complete, but the previous one could not be removed "
              f"({exc.strerror or exc}); it is left in {old}", file=sys.stderr)


@contextlib.contextmanager
def staged_dir(out: str | Path) -> Iterator[Path]:
    """Yield a fresh staging folder; on success it replaces ``out`` atomically, on any error
    (or KeyboardInterrupt/SIGTERM) before the swap it is removed and ``out`` is untouched.

    The stage is a hidden sibling ``.<name>.<pid>.<random>.initlab-tmp`` (same file system,
    so the final rename is atomic). Parent folders created for ``out`` are removed again if
    the run fails, so a failed run leaves nothing behind. Stages of dead runs (SIGKILL) are
    removed here, by the next run. Write errors (permission, read-only, disk full) become an
    :class:`InitlabError` naming ``--out``. Everything (the manifest too) is written before the
    swap; after it only the previous result is removed: the swap is the commit (recorded in
    :func:`committed`), and nothing that happens after it can fail the command.
    """
    out = Path(out)
    check_output_dir(out)
    if out.is_symlink() and out.is_dir():  # write where the link points; the link stays
        out = out.resolve()
        check_output_dir(out)
    try:
        created = _make_parents(out.parent)
    except OSError as exc:
        raise _write_error(out, exc) from None
    stage = _stage_name(out)
    old: Path | None = None
    swapped = False
    try:
        for stale in stale_stages(out):
            shutil.rmtree(stale, ignore_errors=True)
        try:
            stage.mkdir()
        except OSError as exc:  # the output's folder takes no new entry (e.g. /proc: ENOENT)
            raise _write_error(out, OSError(exc.errno, exc.strerror, str(out.parent))) from None
        pause_point("staged")
        yield stage
        pause_point("written")
        for p in stage.iterdir():
            if p.is_file():
                _fsync(p)
        _fsync(stage, directory=True)
        if out.exists():
            _check_replaceable(out)
            if _exchange(stage, out):
                swapped = True
                old = stage  # now holds the previous result
            else:
                old = _stage_name(out)
                os.rename(out, old)
                os.rename(stage, out)
                swapped = True
        else:
            os.rename(stage, out)
            swapped = True
    except BaseException as exc:
        if swapped:  # the commit happened: only the cleanup below is left (a signal is handled by the CLI)
            _COMMITTED.append(out)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            raise
        shutil.rmtree(stage, ignore_errors=True)
        if old is not None and old.exists() and not out.exists():
            os.rename(old, out)  # interrupted between the two renames: put the old results back
        _remove_empty(created)
        if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
            raise _write_error(out, exc) from None
        raise
    _COMMITTED.append(out)
    try:
        pause_point("swapped")
        if old is not None:
            _discard(old)
        _fsync(out.parent, directory=True)
    except BaseException:  # a signal after the commit: finish the cleanup, the CLI reports it
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        raise


def write_text(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    p.write_text(text, encoding="utf-8")
    pause_point(f"wrote {name}")
    return p


def manifest(folder: Path, extra: dict) -> dict:
    """The manifest dict: ``extra`` plus a sha256 of every file already in ``folder`` (the
    machine file excepted)."""
    files = {p.name: sha256(p) for p in sorted(folder.iterdir())
             if p.is_file() and p.name not in (MANIFEST, MACHINE)}
    return {"schema_version": SCHEMA_VERSION, **extra, "files": files}


# What differs from one machine or one run to the next: kept out of the manifest (and of every
# other file) so that re-running a committed result leaves git clean.
MACHINE = "machine.json"
MACHINE_KEYS = ("elapsed_seconds", "versions")


def write_manifest(stage: Path, extra: dict) -> None:
    """Write ``manifest.json`` and ``machine.json`` into ``stage`` (last, after every other file).

    ``manifest.json`` says what the results are: kind, name, seeds, the command that makes them,
    the schema version and a sha256 of every file; it is the same on every machine and is
    tracked with the results. ``machine.json`` says how they were made here: timings
    (``elapsed_seconds``), library versions, platform and the statistics kernel's build
    (``versions``); it differs per machine and per run, so git ignores it
    (``results/**/machine.json`` in .gitignore)."""
    machine = {k: extra[k] for k in MACHINE_KEYS if k in extra}
    machine.setdefault("versions", versions())
    kept = {k: v for k, v in extra.items() if k not in MACHINE_KEYS}
    write_text(stage, MANIFEST, json_text(manifest(stage, kept)))
    write_text(stage, MACHINE, json_text(machine))


def versions() -> dict:
    """Library versions, the platform and the statistics kernel's build (``kernel``: see
    :func:`initlab.engine.stats.kernel_info`; float32 tanh results depend on whether it is built).
    Machine-specific: manifests are not compared across machines (io/check_results.py skips them)."""
    import platform
    import sys

    import numpy

    from initlab import __version__
    from initlab.engine import draw
    from initlab.engine.stats import kernel_info

    return {"initlab": __version__, "python": sys.version.split()[0], "numpy": numpy.__version__,
            "platform": platform.platform(), "kernel": kernel_info(),
            "draw": {"scheme": draw.SCHEME, "kernel": draw.info()["kernel"]}}
