"""YAML config files: parse with line numbers, report malformed input as one line.

PyYAML's composer gives every node its position; we walk the node tree once to get the plain
data *and* a map from dotted path (``network.width.0``) to line number, refusing duplicate
keys (which PyYAML would silently overwrite).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..config import Config, resolve
from ..errors import ConfigError


def parse(text: str, source: str = "<config>") -> tuple[Any, dict[str, int]]:
    """``(data, lines)`` for a YAML document."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(source, f"malformed YAML: {problem}", line) from None
    if node is None:
        return None, {}
    lines: dict[str, int] = {}
    loader = yaml.SafeLoader("")

    def walk(n: yaml.Node, path: str) -> Any:
        lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for kn, vn in n.value:
                key = loader.construct_object(kn, deep=True)
                if isinstance(key, (dict, list)):
                    raise ConfigError(path or source, "a key must be a plain name", kn.start_mark.line + 1)
                sub = f"{path}.{key}" if path else str(key)
                if key in out:
                    raise ConfigError(sub, "duplicate key", kn.start_mark.line + 1)
                lines[sub] = kn.start_mark.line + 1
                out[key] = walk(vn, sub)
            return out
        if isinstance(n, yaml.SequenceNode):
            return [walk(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(n.value)]
        try:
            return loader.construct_object(n, deep=True)
        except yaml.YAMLError as exc:
            raise ConfigError(path or source, f"bad value: {getattr(exc, 'problem', exc)}",
                              n.start_mark.line + 1) from None

    return walk(node, ""), lines


def read(path: str | Path) -> tuple[Any, dict[str, int]]:
    """Parse the YAML file at ``path``; unreadable files are a :class:`ConfigError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {p}") from None
    except IsADirectoryError:
        raise ConfigError("config", f"{p} is a directory, not a YAML file") from None
    except PermissionError:
        raise ConfigError("config", f"cannot read {p}: permission denied") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("config", f"cannot read {p}: {exc}") from None
    return parse(text, source=str(p))


def load(path: str | Path, sets: list[tuple[str, Any]] = (), **flags: Any) -> Config:
    """The :class:`Config` of a YAML file with command-line overrides applied."""
    data, lines = read(path)
    return resolve(data, lines=lines, default_name=Path(path).stem, sets=sets, **flags)


def parse_set(item: str) -> tuple[str, Any]:
    """``"network.depth=30"`` -> ``("network.depth", 30)``; the value is parsed as YAML."""
    if "=" not in item:
        raise ConfigError("--set", f"expected key=value, got '{item}'")
    key, raw = item.split("=", 1)
    key = key.strip()
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise ConfigError(key or "--set", f"cannot parse value '{raw}' (YAML syntax)") from None
    if value is None:
        raise ConfigError(key or "--set", f"empty value in '{item}'")
    return key, value


def dump(cfg: Config) -> str:
    """The YAML text of ``cfg`` (round-trips through :func:`load`)."""
    from ..config import to_dict

    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None)
