"""YAML config files: parse with line numbers, report malformed input as one line.

PyYAML's composer gives every node its position; we walk the node tree once to get the plain
data *and* a map from dotted path (``network.width.0``) to line number, refusing duplicate
keys (which PyYAML would silently overwrite). Malformed YAML is reported at the dotted path
of the key being read when the parser stopped (found by replaying the parser's events).

Values are read as :mod:`initlab.config.scalars` reads them (PyYAML's ``SafeLoader``, YAML
1.1, plus ``1e-3`` as a float), the same reading as ``--set`` and command-line specs.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from initlab.config import TOP_FIELDS, TOP_LABEL, Config, printable, resolve, to_dict
from initlab.config.scalars import (MAX_ALIAS_EXPANSION, MAX_NESTING, MAX_VALUE_CHARS, MERGE_HINT,  # noqa: F401 (limits:
                                    Loader, YAMLLimitError, one_line, parse_set)  # all here; parse_set: its old home)
from initlab.errors import ConfigError

# The limits on reading a config (all refused as one line, exit 2, before anything runs):
# - MAX_CONFIG_BYTES: a config file larger than this is refused without parsing it (real
#   configs are a few hundred bytes; a 50 MB file would take PyYAML minutes). At most this
#   many bytes + 1 are ever read, so /dev/zero-like sources cannot exhaust memory.
# - only regular files are read (a FIFO would block, a device may never end).
# - MAX_NESTING, MAX_ALIAS_EXPANSION (from initlab.config.scalars, which composes every YAML
#   text, --set values too): nesting depth and alias expansion of the YAML node graph.
MAX_CONFIG_BYTES = 2**20  # 1 MiB

SYNTAX = "expected YAML mapping syntax (key: value, nested keys indented with spaces)"


def _path_at_error(text: str) -> str:
    """The dotted path of the value being read where the YAML parser fails on ``text``.

    Replays the parser's events: a mapping frame knows its last key and whether a value is
    being read, a sequence frame its item index; the path names the keys (and indices) whose
    value was still open when the error came. ``""`` when the error is at the top.
    """
    frames: list[dict] = []

    def done() -> None:  # a complete node was read in the top frame
        if not frames:
            return
        f = frames[-1]
        if f["kind"] == "map":
            f["want_key"] = not f["want_key"]
        else:
            f["index"] += 1

    try:
        for ev in yaml.parse(text, Loader=Loader):
            if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if frames and frames[-1]["kind"] == "map" and frames[-1]["want_key"]:
                    frames[-1]["key"] = None  # a complex key: no name for it
                frames.append({"kind": "map", "key": None, "want_key": True}
                              if isinstance(ev, yaml.MappingStartEvent) else {"kind": "seq", "index": 0})
            elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                frames.pop()
                done()
            elif isinstance(ev, (yaml.ScalarEvent, yaml.AliasEvent)):
                if frames and frames[-1]["kind"] == "map" and frames[-1]["want_key"]:
                    frames[-1]["key"] = getattr(ev, "value", None)
                done()
    except yaml.YAMLError:
        pass
    parts: list[str] = []
    for i, f in enumerate(frames):
        inner = i + 1 < len(frames)
        if f["kind"] == "map":
            if f["want_key"] or f["key"] is None:
                break
            parts.append(str(f["key"]))
        elif inner:
            parts.append(str(f["index"]))
    return ".".join(parts)


def _malformed(text: str, source: str, exc: yaml.YAMLError) -> ConfigError:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    pmark = getattr(exc, "problem_mark", None)
    cmark = getattr(exc, "context_mark", None)
    mark = pmark or cmark
    at_end = pmark is not None and pmark.index >= len(text.rstrip())
    if cmark is not None and (at_end or (problem and "<stream end>" in problem)):
        mark = cmark  # the text ended early: the line that opened what was never closed
    what = one_line(problem or str(exc).splitlines()[0])
    if context:
        what = f"{one_line(context)}: {what}"
    hint = "; YAML indents with spaces, not tabs" if "'\\t'" in what or "\t" in what else ""
    path = _path_at_error(text)
    field = printable(path) or TOP_LABEL
    return ConfigError(field, f"malformed YAML in {source}: {what}{hint}; {SYNTAX}",
                       mark.line + 1 if mark is not None else None)


def parse(text: str, source: str = "<config>") -> tuple[Any, dict[str, int]]:
    """``(data, lines)`` for a YAML document."""
    try:
        node = yaml.compose(text, Loader=Loader)
    except YAMLLimitError as exc:
        raise ConfigError(printable(exc.path) or TOP_LABEL, f"{source}: {exc.problem}",
                          exc.problem_mark.line + 1 if exc.problem_mark is not None else None) from None
    except yaml.YAMLError as exc:
        raise _malformed(text, source, exc) from None
    if node is None:
        return None, {}
    lines: dict[str, int] = {}
    loader = Loader("")

    def walk(n: yaml.Node, path: str) -> Any:
        lines.setdefault(path, n.start_mark.line + 1)
        kind = {yaml.MappingNode: "map", yaml.SequenceNode: "seq"}.get(type(n))
        if kind is not None and n.tag != f"tag:yaml.org,2002:{kind}":
            raise ConfigError(printable(path) or TOP_LABEL,
                              f"bad value: tag '{n.tag}' is not allowed; valid: plain YAML values "
                              "(numbers, strings, true/false, lists, mappings), no tags",
                              n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for kn, vn in n.value:
                if kn.tag == "tag:yaml.org,2002:merge":
                    raise ConfigError(printable(path) or TOP_LABEL, MERGE_HINT, kn.start_mark.line + 1)
                try:
                    key = loader.construct_object(kn, deep=True)
                except yaml.YAMLError as exc:
                    raise ConfigError(printable(path) or TOP_LABEL, f"bad key: {one_line(getattr(exc, 'problem', exc))}",
                                      kn.start_mark.line + 1) from None
                if isinstance(key, (dict, list)) or key is None:
                    valid = ", ".join(TOP_FIELDS) if not path else "a key name such as depth"
                    raise ConfigError(printable(path) or TOP_LABEL, f"a key must be a plain name, got {key!r}; "
                                                         f"valid: {valid}", kn.start_mark.line + 1)
                sub = f"{path}.{key}" if path else str(key)
                if key in out:
                    raise ConfigError(printable(sub), f"duplicate key (first given on line {lines[sub]}); "
                                           "each key may appear once per mapping", kn.start_mark.line + 1)
                lines[sub] = kn.start_mark.line + 1
                out[key] = walk(vn, sub)
            return out
        if isinstance(n, yaml.SequenceNode):
            return [walk(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(n.value)]
        try:
            return loader.construct_object(n, deep=True)
        except yaml.YAMLError as exc:
            raise ConfigError(printable(path) or TOP_LABEL,
                              f"bad value: {one_line(getattr(exc, 'problem', exc))}; valid: plain YAML "
                              "values (numbers, strings, true/false, lists, mappings), no tags",
                              n.start_mark.line + 1) from None

    return walk(node, ""), lines


def _not_regular(p: Path, mode: int) -> ConfigError:
    kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode)
            else "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")
    return ConfigError("config", f"cannot read {p}: {kind}, not a regular file; expected a YAML file "
                                 "such as configs/tanh_small.yaml")


def _too_large(p: Path, size: str) -> ConfigError:
    return ConfigError("config", f"cannot read {p}: {size}, more than the {MAX_CONFIG_BYTES} bytes "
                                 f"(1 MiB, MAX_CONFIG_BYTES) a config may have; expected a YAML file "
                                 "such as configs/tanh_small.yaml")


def _read_bounded(p: Path) -> bytes:
    """The bytes of the regular file ``p``, at most :data:`MAX_CONFIG_BYTES` of them.

    Checked with ``stat`` before opening (a FIFO is never opened, so nothing blocks), opened
    non-blocking and checked again on the open file (it may have been swapped), and read
    ``MAX_CONFIG_BYTES + 1`` bytes at most, so a file that grows is still bounded."""
    st = os.stat(p)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(str(p))
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(p, st.st_mode)
    if st.st_size > MAX_CONFIG_BYTES:
        raise _too_large(p, f"{st.st_size} bytes")
    fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(str(p))
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(p, st.st_mode)
        data = f.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise _too_large(p, "more bytes")
    return data


def read(path: str | Path) -> tuple[Any, dict[str, int]]:
    """Parse the YAML file at ``path``; unreadable files are a :class:`ConfigError`."""
    p = Path(path)
    want = "expected a readable UTF-8 YAML file such as configs/tanh_small.yaml"
    try:
        text = _read_bounded(p).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {p}; {want}") from None
    except IsADirectoryError:
        raise ConfigError("config", f"{p} is a directory; {want}") from None
    except PermissionError:
        raise ConfigError("config", f"cannot read {p}: permission denied; {want}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError("config", f"cannot read {p}: not UTF-8 text (byte {exc.start}); {want}") from None
    except OSError as exc:
        raise ConfigError("config", f"cannot read {p}: {exc.strerror or exc}; {want}") from None
    if "\x00" in text:
        raise ConfigError("config", f"cannot read {p}: binary data (NUL bytes); {want}")
    return parse(text, source=str(p))


def load(path: str | Path, sets: list[tuple[str, Any]] = (), check_draws: bool = True,
         **flags: Any) -> Config:
    """The :class:`Config` of a YAML file with command-line overrides applied.

    Everything is checked before anything runs, including (``check_draws``) the initializers'
    shape-dependent limits at every layer's fan (see :func:`initlab.config.from_dict`)."""
    data, lines = read(path)
    return resolve(data, lines=lines, default_name=Path(path).stem, sets=sets, check_draws=check_draws,
                   **flags)


def dump(cfg: Config) -> str:
    """The YAML text of ``cfg`` (round-trips through :func:`load`)."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None)
