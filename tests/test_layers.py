"""The layers of the README's "How the code is laid out": imports only flow downward, and nothing imports in a circle.

Every folder of the import root `homeward` is one layer; a module may import its own layer
and the layers below it, never one above. From the top:

    homeward.cli      the command line: starts everything, so it may import every layer
    homeward.dev      development tools (a local Synapse, the demo): never imported by the runtime
    homeward.bot      Matrix I/O: session, sync, sending, routing events to the layers below
    homeward.commands the command machinery and the handlers
    homeward.work     units of work: one event (a join, a reminder coming due, …) in one transaction
    homeward.exports  documents and pictures
    homeward.messages text people read in the room
    homeward.store    the database
    homeward.matrix   Matrix shapes as data (message kinds, relations, room state, cross-signing objects)
    homeward.care     the care logic: no Matrix, no SQL
    homeward          the base every layer uses: configuration, clock, ids, how text enters Markdown, logs, rate limits

Read from the source with `ast` (imports under `if TYPE_CHECKING:` included: a type is a
dependency too), so a violation names the file and the import.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: From the top down; each layer may import itself and what comes after it.
LAYERS = [
    "homeward.cli",
    "homeward.dev",
    "homeward.bot",
    "homeward.commands",
    "homeward.work",
    "homeward.exports",
    "homeward.messages",
    "homeward.store",
    "homeward.matrix",
    "homeward.care",
    "homeward",
]
#: Libraries that speak Matrix or SQL: the care logic never imports them.
NOT_IN_CARE = ("nio", "aiosqlite", "sqlite3", "psycopg", "homeward.matrix")


def _folders() -> dict[str, Path]:
    """The import root's packages and the checkout folders they live in (pyproject's package-dir)."""
    table = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    return {package: ROOT / folder for package, folder in table.items()}


def _modules() -> dict[str, Path]:
    """Every module of the import root by its dotted name."""
    found: dict[str, Path] = {}
    folders = _folders()
    for package, folder in folders.items():
        for path in folder.glob("*.py"):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            found[name] = path
    return found


def _imports(path: Path, module: str) -> set[str]:
    """The project modules `path` imports (relative imports resolved, `from x import y` as x.y where y is a module)."""
    names: set[str] = set()
    package = module if path.stem == "__init__" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _layer(module: str) -> str:
    """The layer a module belongs to: the longest layer name it is in."""
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    raise AssertionError(f"{module} is in no layer")


MODULES = _modules()
GRAPH = {
    name: {imp for imp in _imports(path, name) if imp in MODULES and imp != name} for name, path in MODULES.items()
}


def test_every_folder_of_the_import_root_is_a_layer() -> None:
    unplaced = [package for package in _folders() if package.split(".")[1:2] and _layer(package) == "homeward"]
    assert unplaced == [] or all(p.startswith(("homeward.pathways", "homeward.templates")) for p in unplaced)


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    above = set(LAYERS[: LAYERS.index(layer)])
    found = [
        f"{MODULES[module].relative_to(ROOT)} imports {imported}"
        for module in sorted(MODULES)
        if _layer(module) == layer
        for imported in sorted(GRAPH[module])
        if _layer(imported) in above
    ]
    assert found == []


def test_the_care_logic_speaks_neither_matrix_nor_sql() -> None:
    found = [
        f"{MODULES[module].relative_to(ROOT)} imports {name}"
        for module in sorted(MODULES)
        if _layer(module) == "homeward.care"
        for name in sorted(_imports(MODULES[module], module))
        if any(name == bad or name.startswith(bad + ".") for bad in NOT_IN_CARE)
    ]
    assert found == []


def test_no_module_imports_in_a_circle() -> None:
    """Tarjan's strongly connected components over the import graph: every one is a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(GRAPH[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert circles == []


def test_the_runtime_never_imports_the_development_tools() -> None:
    found = [
        f"{MODULES[module].relative_to(ROOT)} imports {imported}"
        for module in sorted(MODULES)
        if _layer(module) not in ("homeward.cli", "homeward.dev")
        for imported in sorted(GRAPH[module])
        if _layer(imported) == "homeward.dev"
    ]
    assert found == []


def test_nothing_imports_the_checkout_folders_by_their_own_names() -> None:
    """`from bot.app import …` would work from the checkout and fail when installed: only `homeward.…`."""
    folders = {path.name for path in _folders().values()} - {"homeward"}
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for folder in [*_folders().values(), ROOT / "tests", ROOT / "bench"]
        for path in sorted(folder.rglob("*.py"))
        if "node_modules" not in path.parts
        for name in _imports(path, "x")
        if name.split(".")[0] in folders
    ]
    assert found == []
