"""`make check`'s type check: mypy over the import root `homeward`, the tests and the benchmarks.

    .venv/bin/python -m homeward.dev.typecheck [mypy options…]

The checkout's folders are mapped into `homeward.*` by pyproject's
`[tool.setuptools.package-dir]` (bot/ is homeward.bot, …), which mypy cannot follow. So a
tree of symbolic links is built under `build/typecheck/` with the layout Python sees once
the package is installed: `homeward/` holds the root package's own files, each linked one by
one, and a link per sub-package folder; `tests` and `bench` are linked beside it. mypy runs
in that folder, with `MYPYPATH` pointing at it, on the folders `homeward` (the whole
package: `-p homeward` cannot be given together with folders), `tests` and `bench`, with the
settings of pyproject's `[tool.mypy]` and its cache in `build/mypy-cache/`. Its output names
the checkout's files (`build/typecheck/homeward/bot/app.py` is printed as `bot/app.py`), so
an editor can jump to them; the exit status is mypy's.

mypy runs from the tree, not from the checkout: it searches the current folder first, and
the checkout's own `homeward/` folder holds only the root package.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"
#: Folders type-checked beside the package, linked into the tree under their own names.
EXTRA = ("tests", "bench")
#: A path at the start of a line of mypy's output (`path:line: error: …`, `path: note: …`).
_PATH_AT_START = re.compile(r"^(?P<path>[^\s:]+\.pyi?)(?=:)")


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """pyproject's `[tool.setuptools.package-dir]`: each package of the import root and its folder."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    table = pyproject["tool"]["setuptools"]["package-dir"]
    return {package: root / folder for package, folder in table.items()}


def build_tree(tree: Path = TREE, root: Path = ROOT) -> dict[str, str]:
    """(Re)build the tree of links; what each top-level path of mypy's output stands for in the checkout.

    The returned prefixes are relative to `tree` (`homeward/bot/`), longest first; each maps
    to a folder relative to `root` (`bot/`).
    """
    dirs = package_dirs(root)
    package_root = tree / "homeward"
    if package_root.is_symlink() or package_root.is_file():
        package_root.unlink()
    elif package_root.exists():
        shutil.rmtree(package_root)
    package_root.mkdir(parents=True)
    for source in sorted(dirs["homeward"].iterdir()):
        if source.is_file():
            (package_root / source.name).symlink_to(source)
    mapping = {"homeward/": _relative(dirs["homeward"], root)}
    for package, folder in sorted(dirs.items(), key=lambda pair: pair[0].count(".")):
        if package == "homeward":
            continue
        link = tree / package.replace(".", "/")
        if link.exists():
            # A sub-package inside a folder linked already (commands/handlers under commands/).
            if link.resolve() != folder.resolve():
                raise SystemExit(f"typecheck: {package} is {folder}, but the tree has {link.resolve()} there")
            continue
        if not link.parent.is_dir() or link.parent.is_symlink():
            raise SystemExit(f"typecheck: {package}: its parent package is not a folder of the tree")
        link.symlink_to(folder)
        mapping[f"{package.replace('.', '/')}/"] = _relative(folder, root)
    for name in EXTRA:
        link = tree / name
        if link.is_symlink():
            link.unlink()
        link.symlink_to(root / name)
        mapping[f"{name}/"] = f"{name}/"
    return dict(sorted(mapping.items(), key=lambda pair: -len(pair[0])))


def _relative(folder: Path, root: Path) -> str:
    return f"{folder.relative_to(root).as_posix()}/"


def to_checkout(line: str, mapping: dict[str, str]) -> str:
    """One line of mypy's output with the tree's path at its start replaced by the checkout's."""
    found = _PATH_AT_START.match(line)
    if found is None:
        return line
    path = found["path"]
    for prefix, folder in mapping.items():
        if path.startswith(prefix):
            return folder + path[len(prefix) :] + line[found.end() :]
    return line


def mypy_command(extra_args: list[str], root: Path = ROOT) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(root / "pyproject.toml"),
        "--cache-dir",
        str(root / "build" / "mypy-cache"),
        *extra_args,
        "homeward",  # the tree's folder: the whole package
        *EXTRA,
    ]


def main(argv: list[str] | None = None) -> int:
    mapping = build_tree()
    env = {**os.environ, "MYPYPATH": str(TREE)}
    with subprocess.Popen(
        mypy_command(list(sys.argv[1:] if argv is None else argv)),
        cwd=TREE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(to_checkout(line, mapping))
            sys.stdout.flush()
    return process.returncode


if __name__ == "__main__":
    sys.exit(main())
