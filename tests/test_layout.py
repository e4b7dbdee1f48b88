"""The house's rules, read from the code's imports (docs/architecture.md draws them):

- every package sits on a floor and imports only from its own package or from lower floors
  (the engine never imports I/O, plotting, the CLI or config; plots never import the engine's
  users), with imports inside functions counted too;
- the floors below config import no third-party package that does I/O, plotting or the
  command line (rich, typer, yaml, matplotlib);
- no import circle between modules;
- every module stays under ~400 lines, registries excepted.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "initlab"

#: package (first component under initlab) -> floor. A module may import its own package and
#: anything on a lower floor; "errors" is the ground every floor stands on.
FLOORS = {
    "errors": 0, "fmt": 0,
    "engine": 1,
    "theory": 2, "training": 2, "data": 2, "plots": 2,
    "config": 3,
    "runs": 4,
    "datainit": 5,
    "studies": 6,
    "io": 7,
    "sweeps": 8, "serve": 8,
    "cli": 9,
}
NUMPY_FLOORS = ("engine", "theory", "training", "data")
FORBIDDEN_BELOW_CONFIG = ("rich", "typer", "yaml", "matplotlib")
#: registries (tables of entries, one screen per entry) may be longer
LONG_OK = {"engine/initializers.py"}
MAX_LINES = 420


def modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, "initlab." + ".".join(parts) if parts else "initlab", rel


def imports(path: Path, name: str) -> set[str]:
    """Every module imported by ``path`` (absolute names), inside functions too."""
    tree = ast.parse(path.read_text())
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # `from pkg import module`
    return out


ALL = {name: (path, rel) for path, name, rel in modules()}


#: top-level modules that belong to a package: the engine's public faces, the CLI's entry
FACES = {"activations": "engine", "initializers": "engine", "__main__": "cli"}


def package(name: str) -> str:
    parts = name.split(".")
    first = parts[1] if len(parts) > 1 else ""
    return FACES.get(first, first)


@pytest.mark.parametrize("name", sorted(n for n in ALL if package(n)))
def test_imports_point_down(name):
    path, _ = ALL[name]
    mine = package(name)
    assert mine in FLOORS, f"{name}: package {mine!r} has no floor in tests/test_layout.py"
    for mod in imports(path, name):
        if not mod.startswith("initlab.") or mod not in ALL:
            continue
        theirs = package(mod)
        if theirs == mine or theirs == "":
            continue
        assert FLOORS[theirs] < FLOORS[mine], f"{name} imports {mod}: floor {FLOORS[mine]} -> {FLOORS[theirs]}"


@pytest.mark.parametrize("name", sorted(n for n in ALL if package(n) in NUMPY_FLOORS))
def test_numpy_floors_import_no_io_plotting_or_cli(name):
    path, _ = ALL[name]
    for mod in imports(path, name):
        assert mod.split(".")[0] not in FORBIDDEN_BELOW_CONFIG, f"{name} imports {mod}"


def test_no_import_circle():
    graph = {n: {m for m in imports(p, n) if m in ALL and m != n} for n, (p, _) in ALL.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(m):] + [m]))
            if m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)


@pytest.mark.parametrize("name", sorted(ALL))
def test_modules_stay_small(name):
    path, rel = ALL[name]
    if str(rel) in LONG_OK:
        return
    assert len(path.read_text().splitlines()) <= MAX_LINES, f"{rel}: one concern per module"


def test_a_numpy_floor_violation_would_be_caught(tmp_path):
    """The checker itself: a module that imports matplotlib is flagged."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import matplotlib.pyplot as plt\n")
    assert "matplotlib.pyplot" in imports(bad, "initlab.engine.bad")
