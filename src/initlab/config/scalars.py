"""One reading of a value written as text, wherever it is written.

A config file, ``--set key=value`` and the parameters of a command-line spec
(``normal:std=0.01``, ``leaky_relu:negative_slope=0.2``) all read a value with the same
:class:`Loader`, so a value means the same thing in all three. The reading is PyYAML's
``SafeLoader`` (YAML 1.1) with one addition:

=================================  ===================================================
written                            read as
=================================  ===================================================
``3``, ``+3``, ``1_000``           int (``1_000`` is 1000)
``0x1F``, ``017``, ``0b101``       int 31, 15 (YAML 1.1 octal), 5; ``0o17`` is a string
``0.5``, ``1.``, ``.5``            float
``1e3``, ``1e-3``, ``1E+3``        float (the addition: YAML 1.1 wants a dot, ``1.0e3``)
``.inf``, ``-.inf``, ``.nan``      float inf, -inf, nan
``true``/``false``, ``True``,      bool (YAML 1.1: ``yes``/``no``/``on``/``off`` in
``yes``/``no``, ``on``/``off``     lower, Title or UPPER case are booleans too)
``null``, ``~``, nothing           None (``--set`` and spec parameters refuse it)
``'3'``, ``"yes"``, ``''``         the string between the quotes
``[500, 400]``                     a list (``--set network.width=[500,400]``)
anything else (``fan_out``)        the string
=================================  ===================================================

PyYAML is imported here at the top: :mod:`initlab.config` re-exports these names lazily, so
importing the config package does not import it.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from initlab.config.parse import printable, type_name
from initlab.config.schema import SPEC_FIELDS, Spec, fmt_value
from initlab.errors import ConfigError, lookup


# Bounds on what one YAML text (a config file or a ``--set`` value) may make the reader do,
# checked while the node graph is composed, before any value is constructed:
# Lists/mappings nested deeper than this are refused. A config is at most 4 levels deep
# (network.initializer.std); PyYAML composes and constructs recursively, so a few thousand
# levels would end in RecursionError.
MAX_NESTING = 50
# Nodes that aliases (``*name``) may add by expansion, summed over the document. Real configs
# use a handful; a "billion laughs" file expands exponentially and is refused at this count.
MAX_ALIAS_EXPANSION = 10_000
# A value written on the command line (``--set``, spec parameters) longer than this is refused
# (the same bound as a config file, MAX_CONFIG_BYTES in initlab.io.configfile).
MAX_VALUE_CHARS = 2**20


# What a merge key (``<<: *base``) is refused with, in a file and on the command line alike.
MERGE_HINT = ("merge keys (<<) are not supported; write the keys out in this mapping, or give the "
              "whole value as an alias (key: *anchor)")


class YAMLLimitError(yaml.MarkedYAMLError):
    """A YAML text beyond :data:`MAX_NESTING` or :data:`MAX_ALIAS_EXPANSION` (or with an alias
    to a node that contains it). ``path`` is the dotted path where it was found (the first
    three keys/indices at most)."""

    def __init__(self, problem: str, mark, path: str):
        super().__init__(problem=problem, problem_mark=mark)
        self.path = path


class Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads exponent floats without a dot (``1e-3``), as JSON and
    YAML 1.2 do (plain YAML 1.1 reads ``1e-3`` as a string), and refuses texts beyond
    :data:`MAX_NESTING` and :data:`MAX_ALIAS_EXPANSION` while composing."""

    def __init__(self, stream):
        super().__init__(stream)
        self._path: list[str] = []  # keys/indices of the nodes being composed
        self._open: list[str | None] = []  # anchors of the collections being composed
        self._size: dict[int, int] = {}  # id(node) -> node count with aliases expanded
        self._expanded = 0  # nodes added by aliases so far

    def _where(self) -> str:
        return ".".join(self._path[:3])

    def compose_node(self, parent, index):
        if parent is None:
            label = None
        elif isinstance(index, int) and not isinstance(index, bool):
            label = str(index)
        elif isinstance(index, yaml.ScalarNode):
            label = str(index.value)
        else:
            label = None  # a mapping key being composed
        if label is not None:
            self._path.append(label)
        try:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                node = self.anchors.get(event.anchor)
                if node is not None:
                    if event.anchor in self._open:
                        raise YAMLLimitError(f"alias *{event.anchor} refers to a node that contains it "
                                             "(a recursive alias); write the value out instead",
                                             event.start_mark, self._where())
                    self._expanded += self._size.get(id(node), 1)
                    if self._expanded > MAX_ALIAS_EXPANSION:
                        raise YAMLLimitError(f"aliases expand to more than {MAX_ALIAS_EXPANSION} nodes "
                                             "(MAX_ALIAS_EXPANSION); write the values out or use "
                                             "fewer aliases", event.start_mark, self._where())
                return super().compose_node(parent, index)
            nested = self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent)
            if nested and len(self._open) >= MAX_NESTING:
                raise YAMLLimitError(f"lists/mappings nested more than {MAX_NESTING} levels deep "
                                     "(MAX_NESTING)", self.peek_event().start_mark, self._where())
            return super().compose_node(parent, index)
        finally:
            if label is not None:
                self._path.pop()

    def compose_sequence_node(self, anchor):
        return self._compose_collection(super().compose_sequence_node, anchor,
                                        lambda n: n.value)

    def compose_mapping_node(self, anchor):
        return self._compose_collection(super().compose_mapping_node, anchor,
                                        lambda n: [x for kv in n.value for x in kv])

    def construct_mapping(self, node, deep=False):
        """PyYAML's mapping, refusing what a config file refuses too (:mod:`initlab.io.configfile`):
        a merge key ``<<`` (:data:`MERGE_HINT`) and a key given twice (PyYAML keeps the last)."""
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise yaml.constructor.ConstructorError(None, None, MERGE_HINT, key_node.start_mark)
            if isinstance(key_node, yaml.ScalarNode):
                key = self.construct_object(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key '{key}'; each key may appear once per mapping",
                        key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def _compose_collection(self, compose, anchor, children):
        # ``compose`` registers the new node under ``anchor`` before composing its children;
        # until it returns, the node is open (an alias to it would make a cycle).
        self._open.append(anchor)
        try:
            node = compose(anchor)
        finally:
            self._open.pop()
        self._size[id(node)] = 1 + sum(self._size.get(id(c), 1) for c in children(node))
        return node


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+
                   |[-+]?\.[0-9_]+[eE][-+]?[0-9]+)$""", re.X),
    list("-+0123456789."),
)

SET_EXAMPLES = "e.g. network.depth=30, network.width=[500,400], network.initializer.std=0.01"
SPEC_EXAMPLES = {"initializer": "normal:std=0.01", "activation": "leaky_relu:negative_slope=0.2"}


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(str(text).split())


def parse_scalar(text: str) -> Any:
    """``text`` read as a config file reads a value (the table above); ``None`` when blank.

    A YAML syntax error (``'abc``, ``[3,``) is a :class:`ValueError` carrying the parser's
    one-line reason; callers turn it into a :class:`ConfigError` naming where the text came from.
    """
    if not text.strip():
        return None
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError(f"{len(text)} characters, more than the {MAX_VALUE_CHARS} allowed "
                         "(MAX_VALUE_CHARS)")
    try:
        return yaml.load(text, Loader=Loader)
    except YAMLLimitError as exc:
        raise ValueError(one_line(exc.problem)) from None
    except yaml.YAMLError as exc:
        raise ValueError(one_line(getattr(exc, "problem", None) or "YAML syntax")) from None


def split_item(item: str, flag: str = "--set", examples: str = SET_EXAMPLES) -> tuple[str, str]:
    """``"key=text"`` -> ``("key", "text")`` (``flag``'s one-line errors otherwise)."""
    if "=" not in item:
        want = "key=value" if flag == "--set" else "key=values"
        raise ConfigError(flag, f"expected {want}, got '{printable(item)}'; {examples}")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(flag, f"no key before '=' in '{printable(item)}'; {examples}")
    return key, raw


def parse_set(item: str) -> tuple[str, Any]:
    """``"network.depth=30"`` -> ``("network.depth", 30)``; the value is read by :func:`parse_scalar`."""
    key, raw = split_item(item)
    try:
        value = parse_scalar(raw)
    except ValueError as exc:
        shown = raw if len(raw) <= 60 else raw[:40] + f"... ({len(raw)} characters)"
        raise ConfigError(printable(key), f"--set: cannot parse value '{printable(shown)}' as YAML ({exc}); "
                                          f"{SET_EXAMPLES}") from None
    if value is None:
        raise ConfigError(printable(key), f"--set: empty value in '{printable(item)}'; {SET_EXAMPLES}")
    if key in SPEC_FIELDS and isinstance(value, str) and ":" in value:
        # a component in the spec syntax of initlab compare: leaky_relu:negative_slope=0.2
        try:
            spec = parse_spec(value, "activation" if key.endswith("activation") else "initializer")
        except ConfigError as e:
            raise ConfigError(printable(key), f"(from the command line) {e.field}: {e.detail}") from None
        value = {"name": spec.name, **spec.kwargs}
    return key, value


def parse_spec(text: str, kind: str = "initializer") -> Spec:
    """``"normal:std=0.01"`` -> ``Spec("normal", (("std", 0.01),))``.

    ``kind`` is ``"initializer"`` or ``"activation"``; the name is checked against that
    registry (a :class:`ConfigError` lists the valid names and a close match). Each value is
    read by :func:`parse_scalar` and must be a number, a boolean or a string; whether the
    registry accepts it is checked later, when the config is resolved.
    """
    from initlab.config.components import registry  # the engine's registries

    where = f"{kind} '{text}'"
    name, sep, rest = str(text).strip().partition(":")
    name = name.strip()
    if not name:
        raise ConfigError(where, f"expected name or name:key=value,..., e.g. {SPEC_EXAMPLES[kind]}")
    try:
        lookup(registry(f"network.{kind}")[1], name, kind)
    except ConfigError as e:
        raise ConfigError(where, e.detail) from None
    params: dict[str, Any] = {}
    if sep:
        if not rest.strip():
            raise ConfigError(where, "nothing after ':'; expected key=value pairs separated by ','")
        for item in rest.split(","):
            key, eq, raw = item.partition("=")
            key = key.strip()
            if not eq or not key:
                raise ConfigError(where, f"'{item.strip()}' is not key=value (pairs are separated by ',')")
            if key == "name":
                raise ConfigError(where, "'name' is not a parameter; write the name before ':'")
            if key in params:
                raise ConfigError(where, f"parameter '{key}' given twice")
            try:
                value = parse_scalar(raw)
            except ValueError as exc:
                raise ConfigError(where, f"cannot parse the value of '{key}' as YAML ({exc})") from None
            if value is None:
                raise ConfigError(where, f"empty value for '{key}'")
            if not isinstance(value, (bool, int, float, str)):
                raise ConfigError(where, f"the value of '{key}' must be a number, true/false or a string, "
                                         f"got {type_name(value)} {value!r}")
            params[key] = value
    return Spec(name, tuple(sorted(params.items())))


def spec_text(spec: Spec) -> str:
    """The command-line form of a spec: ``normal:std=0.01`` (read back by :func:`parse_spec`)."""
    if not spec.params:
        return spec.name
    return spec.name + ":" + ",".join(f"{k}={fmt_value(v)}" for k, v in spec.params)


# --- grids of values (initlab sweep) -------------------------------------------------------

GRID_EXAMPLES = ("e.g. network.depth=10,20,50, network.depth=range(10,60,10), "
                 "train.optimizer.lr=logspace(-3,-1,3), network.initializer=xavier,he")
# A grid axis longer than this is refused (a typo such as range(0,10**9), not a study).
MAX_GRID_VALUES = 100_000
_GENERATOR = re.compile(r"^\s*(range|linspace|logspace)\s*\((.*)\)\s*$", re.S)


def split_top(text: str, sep: str = ",") -> list[str]:
    """``text`` cut at each ``sep`` outside brackets, braces, parentheses and quotes
    (``"1,[2,3],'a,b'"`` -> ``["1", "[2,3]", "'a,b'"]``)."""
    out, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == sep and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def _number_args(fn: str, raw: str, where: str, counts: tuple[int, ...]) -> list:
    args = [a.strip() for a in split_top(raw)] if raw.strip() else []
    if len(args) not in counts:
        want = " or ".join(str(c) for c in counts)
        raise ConfigError(where, f"{fn}() takes {want} numbers, got {len(args)}; {GRID_EXAMPLES}")
    vals = []
    for a in args:
        try:
            v = parse_scalar(a)
        except ValueError:
            v = None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(where, f"{fn}(): '{printable(a)}' is not a finite number; {GRID_EXAMPLES}")
        vals.append(v)
    return vals


def grid_generator(text: str, where: str) -> list | None:
    """The values of ``range(a, b[, step])`` (Python's: b excluded; floats allowed),
    ``linspace(a, b, n)`` or ``logspace(a, b, n)`` (numpy's: 10**a .. 10**b, both ends
    included); ``None`` when ``text`` is not one of them. Float points are computed as
    ``a + i * step`` (no accumulated rounding)."""
    m = _GENERATOR.match(text)
    if m is None:
        return None
    fn, raw = m.group(1), m.group(2)
    if fn == "range":
        args = _number_args(fn, raw, where, (2, 3))
        a, b = args[0], args[1]
        step = args[2] if len(args) == 3 else 1
        if step == 0:
            raise ConfigError(where, f"range(): step must not be 0; {GRID_EXAMPLES}")
        n = max(0, math.ceil((b - a) / step - 1e-9))
        if n > MAX_GRID_VALUES:
            raise ConfigError(where, f"range() gives {n} values, more than {MAX_GRID_VALUES} (MAX_GRID_VALUES)")
        if all(isinstance(v, int) for v in args):
            return list(range(a, b, step))
        return [float(a + i * step) for i in range(n)]
    a, b, n = _number_args(fn, raw, where, (3,))
    if isinstance(n, float) and not n.is_integer() or not 1 <= n <= MAX_GRID_VALUES:
        raise ConfigError(where, f"{fn}(): the count must be an integer from 1 to {MAX_GRID_VALUES}, got {n}")
    n = int(n)
    pts = [float(a)] if n == 1 else [a + i * (b - a) / (n - 1) for i in range(n)]
    if n > 1:
        pts[-1] = b  # the end exactly, as numpy does
    if fn == "linspace":
        return [float(p) for p in pts]
    return [float(10.0 ** p) for p in pts]


def parse_grid(item: str) -> tuple[str, list]:
    """``"network.depth=10,20,50"`` -> ``("network.depth", [10, 20, 50])``: the values of one
    grid axis, in the ``--set`` syntax.

    The text after ``=`` is ``range(a,b[,step])``, ``linspace(a,b,n)``, ``logspace(a,b,n)``, or
    values separated by commas outside brackets and quotes, each read as ``--set`` reads a
    value (:func:`parse_set`: YAML scalars, ``[500,400]`` is one list value, the spec syntax
    ``normal:std=0.01`` for components; quote a spec with several parameters:
    ``'normal:mean=0,std=0.01'``). Duplicate values are refused (a point would be run twice)."""
    key, raw = split_item(item, "--grid", GRID_EXAMPLES)
    values = grid_generator(raw, printable(key))
    if values is None:
        values = []
        for piece in split_top(raw):
            if not piece.strip():
                raise ConfigError(printable(key), f"--grid: an empty value in '{printable(item)}'; {GRID_EXAMPLES}")
            values.append(parse_set(f"{key}={piece.strip()}")[1])
    return key, check_axis(key, values)


def check_axis(key: str, values: list) -> list:
    """``values`` when non-empty and without duplicates, else a :class:`ConfigError` at ``key``."""
    if not values:
        raise ConfigError(printable(key), f"--grid: no values (an empty grid axis); {GRID_EXAMPLES}")
    seen = set()
    for v in values:
        k = repr(v)
        if k in seen:
            raise ConfigError(printable(key), f"--grid: value {printable(k)} is given twice")
        seen.add(k)
    return values
