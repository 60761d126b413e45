"""`make check`'s type check (dev/typecheck.py): the tree of links mypy reads, and its output's paths."""

from __future__ import annotations

from pathlib import Path

from homeward.dev.typecheck import ROOT, build_tree, package_dirs, to_checkout

PYPROJECT = """
[tool.setuptools.package-dir]
"homeward" = "homeward"
"homeward.bot" = "bot"
"homeward.commands" = "commands"
"homeward.commands.handlers" = "commands/handlers"
"""


def _checkout(root: Path) -> Path:
    """A checkout laid out like this one: the root package's files, a folder per sub-package."""
    root.mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    for folder in ("homeward", "bot", "commands/handlers", "tests", "bench"):
        (root / folder).mkdir(parents=True)
    for path in ("homeward/__init__.py", "homeward/cli.py", "bot/__init__.py", "bot/app.py"):
        (root / path).write_text("", encoding="utf-8")
    (root / "homeward" / "__pycache__").mkdir()
    return root


def test_the_tree_lays_out_the_import_root_as_python_sees_it_installed(tmp_path: Path) -> None:
    root = _checkout(tmp_path / "checkout")
    tree = tmp_path / "tree"

    mapping = build_tree(tree, root)

    package = tree / "homeward"
    assert not package.is_symlink() and sorted(p.name for p in package.iterdir()) == [
        "__init__.py",
        "bot",
        "cli.py",
        "commands",
    ]  # the root package's files one by one (no __pycache__), a link per sub-package folder
    assert (package / "cli.py").resolve() == root / "homeward" / "cli.py"
    assert (package / "bot").resolve() == root / "bot"
    assert (package / "commands" / "handlers").resolve() == root / "commands" / "handlers"  # inside commands/
    assert (tree / "tests").resolve() == root / "tests" and (tree / "bench").resolve() == root / "bench"
    assert mapping == {
        "homeward/commands/": "commands/",
        "homeward/bot/": "bot/",
        "homeward/": "homeward/",
        "tests/": "tests/",
        "bench/": "bench/",
    }
    assert build_tree(tree, root) == mapping  # built again over the last one


def test_mypys_paths_are_printed_as_the_checkouts() -> None:
    mapping = {"homeward/commands/": "commands/", "homeward/bot/": "bot/", "homeward/": "homeward/", "tests/": "tests/"}

    assert to_checkout("homeward/bot/app.py:12: error: x  [arg-type]\n", mapping) == (
        "bot/app.py:12: error: x  [arg-type]\n"
    )
    assert to_checkout("homeward/commands/handlers/team.py:3: note: y\n", mapping) == (
        "commands/handlers/team.py:3: note: y\n"
    )
    assert to_checkout("homeward/cli.py: error: z\n", mapping) == "homeward/cli.py: error: z\n"
    assert to_checkout("tests/test_x.py:1: error: w\n", mapping) == "tests/test_x.py:1: error: w\n"
    assert to_checkout("Found 3 errors in 2 files (checked 213 source files)\n", mapping) == (
        "Found 3 errors in 2 files (checked 213 source files)\n"
    )


def test_every_folder_of_the_import_root_is_read_from_pyproject() -> None:
    dirs = package_dirs()
    assert dirs["homeward.bot"] == ROOT / "bot" and dirs["homeward.commands.handlers"] == ROOT / "commands/handlers"
