"""The shape of the code: one import name, no import cycles between modules, framework internals
reached only through `strata.compat`, and every package folder shipped.

The imports are read from the source (every `import`, inside functions too, but not those under
`if TYPE_CHECKING:`), so a cycle is found even where it happens to work at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tomllib

from tests.conftest import ROOT

# repository folder -> the package it installs as (pyproject.toml's package-dir)
FOLDERS = {"pipelines": "strata", "layers": "strata.layers", "callbacks": "strata.callbacks", "conf": "strata.conf",
           "pipelines/hydra_plugin": "hydra_plugins.strata_optuna_sweeper"}  # Hydra finds plugins only there
OLD_TOP_LEVEL = ("pipelines", "layers", "callbacks", "conf")
PRIVATE = ("keras.src", "hydra._internal", "tensorflow.python", "tf_keras")


def _modules() -> dict[str, Path]:
    """strata's module names and their files."""
    out = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            owner = max((f for f in FOLDERS if path.is_relative_to(ROOT / f)), key=len)
            if owner != folder:  # a folder mapped to a package of its own
                continue
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if "datasets" in parts:  # the shipped data's own generator script
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def _imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(module, imported name or None, line) of every import in a file, outside TYPE_CHECKING."""
    tree = ast.parse(path.read_text())
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(node.module, alias.name, node.lineno) for alias in node.names]
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the strata modules importing it runs: the module imported and, since Python
    runs a package's `__init__` first, each package above it."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for imported, name, _ in _imports(path):
            if not imported.startswith("strata"):
                continue
            target = f"{imported}.{name}" if name and f"{imported}.{name}" in modules else imported
            parts = target.split(".")
            graph[module] |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)} & set(modules) - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_another_that_imports_it_back():
    graph = import_graph()
    assert len(graph) > 100 and graph["strata.training.trainer"] >= {"strata.run.finished", "strata.data.loading"}
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    graph = {"strata.a": {"strata.b"}, "strata.b": {"strata.c"}, "strata.c": {"strata.a"}, "strata.d": {"strata.a"}}
    assert cycles(graph) == [["strata.a", "strata.b", "strata.c"]]


def _code_files() -> list[Path]:
    return [*_modules().values(), *(ROOT / "tests").glob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]


def test_private_framework_apis_are_reached_only_through_compat():
    compat = ROOT / "pipelines" / "compat.py"
    reached = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _code_files() if path != compat
        for module, _, line in _imports(path) if module.startswith(PRIVATE)
    ]
    assert reached == []
    assert any(module.startswith(PRIVATE) for module, _, _ in _imports(compat))


def test_code_imports_strata_by_its_one_name():
    old = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _code_files()
        for module, _, line in _imports(path) if module.split(".")[0] in OLD_TOP_LEVEL
    ]
    assert old == []


def test_every_package_folder_is_shipped():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == {package: folder for folder, package in FOLDERS.items()}
    folders = {m for m, path in _modules().items() if path.name == "__init__.py"}
    assert set(setuptools["packages"]) == folders
