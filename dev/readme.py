"""The README's command tables, written from the commands' own declarations.

    python -m homeward.dev.readme            # rewrites the tables in README.md
    python -m homeward.dev.readme --check    # exits 1 and says what differs, changes nothing

Between its markers (`<!-- commands: outside -->` … `<!-- /commands -->` and the same for
`care`) the README holds one row per command of the registry, and nothing else. What a row
says comes from where it is declared:

- the command as it is typed, with its arguments: `Command.usage()`, as `!help` shows it;
- where it runs (`where=`, `needs_encryption=`), who may run it (`rule=`, in the words of
  `WHO` below, and `rate=`), whether it runs on a closed case (`state=`): the declaration
  on the handler, which the one gate (`commands.policy`) checks;
- the group it is listed under: `!help`'s groups, with their English titles;
- "what it does": the row's own text as the README has it (found again by the command's
  usage, or by its typed name when the usage changed). A command the README does not
  describe yet gets its `!help` text (`help.*` in `templates/locale/en.toml`) to start from.

So a command added, removed, renamed, given other arguments or another rule changes the
README when this runs, and `tests/test_readme.py` fails until it has run.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward.care import permissions
from homeward.care.permissions import Rule
from homeward.commands.registry import (
    ANY_STATE,
    ANYWHERE,
    CASE_ROOM,
    CLOSED_CASE,
    DIRECT_ROOM,
    OPEN_CASE,
    PRIVATE_CHAT,
    Command,
    registry,
)
from homeward.messages.catalog import Catalog

README = Path(__file__).resolve().parent.parent / "README.md"

#: Who may run a command, in the README's words, for each rule of `care.permissions`.
#: A rule not named here fails `tests/test_readme.py`: give it its words.
WHO: dict[Rule, str] = {
    permissions.ANYONE: "anyone",
    permissions.MEMBER: "members",
    permissions.COORDINATOR: "coordinators",
    permissions.CASE_OPENER: "the people named in `case_openers`",
    permissions.COORDINATOR_OR_CARE_WITHOUT_ONE: "coordinators; while the case has none, members of a care lane",
    permissions.CARE_TEAM: "the care lanes and coordinators (not the family)",
    permissions.FAMILY_ANSWERS: "the family's guardian and child lanes: whoever the consent asks",
}

#: Where a command runs (`where=`), for the table of commands outside care rooms.
WHERE = {
    ANYWHERE: "any room",
    DIRECT_ROOM: "a room that is not a care room",
    PRIVATE_CHAT: "an encrypted chat with the bot alone",
}

#: Whether a care-room command runs on a closed case (`state=`).
ON_A_CLOSED_CASE = {OPEN_CASE: "no", ANY_STATE: "yes", CLOSED_CASE: "only"}

PERIODS = {60: "minute", 3600: "hour", 86400: "day"}

BEGIN = re.compile(r"^<!-- commands: (\w+) -->$")
END = "<!-- /commands -->"
#: The two tables: commands that run outside care rooms (and everywhere), and those of a care room.
SCOPES = ("outside", "care")


def who(command: Command) -> str:
    """Who may run it: the rule's words, and the rate limit it declares."""
    words = WHO[command.rule]
    if command.rate is not None:
        seconds = int(command.rate.period.total_seconds())
        per = PERIODS.get(seconds, f"{seconds} s")
        words += f", at most {command.rate.count} per {per} each by default (`rate_limits`)"
    return words


def where(command: Command) -> str:
    words = WHERE[command.where]
    return words + ", end-to-end encrypted" if command.needs_encryption else words


def commands_of(scope: str) -> list[Command]:
    """The commands of one table, in `!help`'s order: by the section each handler declares, then by name."""
    where_order = [ANYWHERE, DIRECT_ROOM, PRIVATE_CHAT]

    def rank(command: Command) -> tuple[int, int, str, int, str]:
        near = where_order.index(command.where) if scope == "outside" else 0
        # Within a command: itself, then the sub-command its bare arguments reach, then the others by name.
        sub = 0 if len(command.path) == 1 else 1 if command.untyped else 2
        return (near, command.help_section.order, command.path[0], sub, command.name)

    wanted = [c for c in registry.all() if (c.where == CASE_ROOM) == (scope == "care")]
    return sorted(wanted, key=rank)


def cell(text: str) -> str:
    """Text as one table cell: a pipe escaped, on one line."""
    return re.sub(r"(?<!\\)\|", r"\\|", " ".join(text.split()))


def typed(cell_text: str) -> str:
    """A command cell as written in the README, back to the usage it shows."""
    inner = cell_text.strip()
    if inner.startswith("`") and inner.endswith("`"):
        inner = inner[1:-1]
    return inner.replace("\\|", "|")


@dataclass
class Row:
    usage: str
    what: str


def rows_in(block: list[str]) -> list[Row]:
    """The rows of every table in a block of README lines: the command cell and the last cell."""
    found = []
    for line in block:
        if not line.startswith("| `!"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        found.append(Row(typed(cells[0]), cells[-1]))
    return found


def descriptions(rows: list[Row], commands: list[Command]) -> tuple[dict[str, str], list[str]]:
    """Each command's "what it does" as the README has it; and the rows that name no command."""
    by_usage = {row.usage: row for row in rows}
    left = list(rows)
    found: dict[str, str] = {}
    for command in commands:
        row = by_usage.get(command.usage())
        if row is not None and row in left:
            found[command.name] = row.what
            left.remove(row)
    for command in commands:  # a usage that changed: the row of the same typed name, if only one
        if command.name in found:
            continue
        same = [row for row in left if row.usage.split(" <")[0].split(" [")[0] == "!" + command.typed_name]
        if len(same) == 1:
            found[command.name] = same[0].what
            left.remove(same[0])
    return found, [row.usage for row in left]


def table(scope: str, what: dict[str, str], catalog: Catalog) -> list[str]:
    """The lines of one scope's tables."""

    def described(command: Command) -> str:
        return cell(what.get(command.name) or str(catalog.t("en", command.help_key)))

    commands = commands_of(scope)
    lines: list[str] = []
    if scope == "outside":
        lines += ["| command | where | who | what it does |", "| --- | --- | --- | --- |"]
        for c in commands:
            lines.append(f"| {cell('`' + c.usage() + '`')} | {where(c)} | {cell(who(c))} | {described(c)} |")
        return lines
    for section in sorted({c.help_section for c in commands}, key=lambda section: section.order):
        mine = [c for c in commands if c.help_section == section]
        title = str(catalog.t("en", "help.group_" + section.name)).strip("*")
        if lines:
            lines.append("")
        lines += [
            f"**{title}**",
            "",
            "| command | who | on a closed case | what it does |",
            "| --- | --- | --- | --- |",
        ]
        for c in mine:
            lines.append(
                f"| {cell('`' + c.usage() + '`')} | {cell(who(c))} | {ON_A_CLOSED_CASE[c.state]} | {described(c)} |"
            )
    return lines


def rewrite(text: str, catalog: Catalog | None = None) -> tuple[str, list[str]]:
    """The README with its command tables written from the declarations; and what was dropped."""
    catalog = catalog or Catalog()
    lines = text.split("\n")
    blocks: dict[str, tuple[int, int]] = {}
    index = 0
    while index < len(lines):
        begin = BEGIN.match(lines[index])
        if begin:
            end = lines.index(END, index)
            blocks[begin.group(1)] = (index, end)
            index = end
        index += 1
    if sorted(blocks) != sorted(SCOPES):
        raise ValueError(f"README: expected command tables {SCOPES} between markers, found {sorted(blocks)}")
    old = [row for start, end in blocks.values() for row in rows_in(lines[start + 1 : end])]
    what, dropped = descriptions(old, registry.all())
    for scope in sorted(SCOPES, key=lambda s: blocks[s][0], reverse=True):
        start, end = blocks[scope]
        lines[start + 1 : end] = ["", *table(scope, what, catalog), ""]
    return "\n".join(lines), dropped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when the README differs")
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    new, dropped = rewrite(text)
    for usage in dropped:
        print(f"dropped the row of {usage}: no such command (its text is lost; write it again if it moved)")
    if args.check:
        if new != text:
            print(f"{args.readme}: the command tables differ from the declarations; run python -m homeward.dev.readme")
            return 1
        return 0
    if new != text:
        args.readme.write_text(new, encoding="utf-8")
        print(f"rewrote the command tables of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
