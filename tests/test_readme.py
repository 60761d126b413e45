"""The README says what the code does: its command tables, folders, settings, links and pictures.

- The command tables are what `python -m homeward.dev.readme` writes from the commands'
  declarations (name and arguments, where, rule, rate, case state): every command of the
  registry once, with the words of its rule, and no row for a command that does not exist.
- The table of folders names every package of the import root with the folder it lives in.
- The configuration table names every configuration key, and no other.
- Every link to a heading (`#…`) in README.md and docs/*.md goes to a heading that exists,
  and every file a link or picture names is there.
- Every picture in docs/ is one the README shows or links, and `make screenshots` makes it:
  the walk's pictures in docs/screens/ and the two drawn from demo data.

Unit tests: no homeserver.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from homeward.care import permissions
from homeward.care.permissions import Rule
from homeward.commands.registry import CASE_ROOM, registry
from homeward.config import Config
from homeward.dev import readme

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "pathways" / "README.md", ROOT / "BENCHMARKS.md"]


def command_rows() -> list[list[str]]:
    """The cells of every row of the README's command tables (between the markers)."""
    rows = []
    inside = False
    for line in TEXT.split("\n"):
        if readme.BEGIN.match(line):
            inside = True
        elif line == readme.END:
            inside = False
        elif inside and line.startswith("| `!"):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows


def test_the_command_tables_are_what_the_declarations_write() -> None:
    written, dropped = readme.rewrite(TEXT)
    assert dropped == []
    assert written == TEXT, (
        "the README's command tables differ from the declarations: run python -m homeward.dev.readme"
    )


def test_every_command_has_one_row_and_every_row_one_command() -> None:
    rows = command_rows()
    shown = [readme.typed(cells[0]) for cells in rows]
    declared = [command.usage() for command in registry.all()]
    assert sorted(shown) == sorted(declared)
    assert len(set(shown)) == len(shown)


def test_each_row_says_who_may_run_the_command_in_the_words_of_its_rule() -> None:
    by_usage = {command.usage(): command for command in registry.all()}
    for cells in command_rows():
        command = by_usage[readme.typed(cells[0])]
        who = cells[2] if command.where != CASE_ROOM else cells[1]
        assert who.replace("\\|", "|") == readme.who(command), command.name


def test_every_rule_has_its_words() -> None:
    rules = {value for value in vars(permissions).values() if isinstance(value, Rule)}
    assert rules <= set(readme.WHO), "give every rule of care/permissions.py its words in homeward.dev.readme.WHO"
    assert {command.rule for command in registry.all()} <= set(readme.WHO)


def test_the_folder_table_says_where_every_import_path_lives() -> None:
    table = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    section = TEXT[TEXT.index("## How the code is laid out") : TEXT.index("## Commands")]
    rows = dict(re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|", section, re.MULTILINE))
    listed = {package: folder.rstrip("/") for folder, package in rows.items()}
    for package, folder in table.items():
        assert listed.get(package) == folder, f"{package} lives in {folder}/"
    for package, folder in listed.items():
        assert (ROOT / folder).exists(), folder
        assert package in table or package == "homeward.cli", package


def test_the_configuration_table_names_every_key_and_no_other() -> None:
    section = TEXT[TEXT.index("| key | meaning | default |") :]
    keys = re.findall(r"^\| `([a-z_]+)` \|", section[: section.index("\n\n")], re.MULTILINE)
    assert sorted(keys) == sorted(Config.model_fields)


def slug(heading: str) -> str:
    """A heading's anchor as GitHub (and Forgejo, GitLab) makes it."""
    text = re.sub(r"[`*_]|<[^>]*>", "", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {slug(m) for m in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


def links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'<img src="([^"]+)"', text)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_goes_somewhere(document: Path) -> None:
    broken = []
    for target in links(document):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, anchor = target.partition("#")
        path = (document.parent / file).resolve() if file else document
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and anchor not in anchors(path):
            broken.append(f"{target}: no such heading in {path.relative_to(ROOT)}")
    assert broken == []


def test_the_pictures_in_docs_are_those_the_readme_shows_and_make_screenshots_makes() -> None:
    shown = {(ROOT / target).resolve() for target in links(README) if target.endswith(".png")}
    in_docs = {path.resolve() for path in (ROOT / "docs").rglob("*.png")}
    assert in_docs == shown, "a picture in docs/ that the README does not show, or one it shows that is not there"
    walk = (ROOT / "tests" / "element" / "ui" / "walk.mjs").read_text(encoding="utf-8")
    made = {
        (ROOT / "docs" / "screens" / f"{name}.png").resolve() for name in re.findall(r'shot\("\w+", "([^"]+)"', walk)
    }
    # Beside the walk, screenshots.py prints the plan and draws its first page.
    beside = (ROOT / "tests" / "element" / "ui" / "screenshots.py").read_text(encoding="utf-8")
    made |= {
        (ROOT / "docs" / "screens" / f"{name}.png").resolve() for name in re.findall(r'PLAN_PAGE = "([^"]+)"', beside)
    }
    drawn = {
        (ROOT / "docs" / name).resolve() for name in ("timeline.png", "stats.png", "waits.png")
    }  # bench/pictures.py --readme
    assert in_docs == made | drawn
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile[makefile.index("\nscreenshots:") :].split("\n\n")[0]
    assert "bench/pictures.py --readme docs" in recipe and "tests/element/ui/screenshots.py" in recipe
