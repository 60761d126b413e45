"""Imports only flow downward: the layers the README's Layout section promises.

`bot` (Matrix I/O) may use everything; `commands` never imports `bot`; `store` and
`exports` never import `commands` or `bot`; `care` imports no other layer and nothing
that speaks Matrix or SQL. Read from the source with `ast`, so a violation names the
file and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"bot": "bot", "commands": "commands", "store": "store", "exports": "exports", "care": "care"}
FORBIDDEN = {
    "commands": {"homeward.bot"},
    "store": {"homeward.bot", "homeward.commands", "homeward.exports"},
    "exports": {"homeward.bot", "homeward.commands", "homeward.store"},
    "care": {"homeward.bot", "homeward.commands", "homeward.store", "homeward.exports", "nio", "aiosqlite", "sqlite3"},
}


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / LAYERS[layer]).rglob("*.py"))
        for name in _imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer])
    ]
    assert found == []


def test_nothing_imports_the_checkout_folders_by_their_old_top_level_names() -> None:
    old = {"bot", "care", "commands", "store", "exports"}
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for folder in [*LAYERS.values(), "homeward", "tests", "bench"]
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "node_modules" not in path.parts
        for name in _imports(path)
        if name.split(".")[0] in old
    ]
    assert found == []
