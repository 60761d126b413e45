"""Commands declare themselves: name, arguments, help and who may run them live on the handler.

    @command("plan", args=[Arg("date-name", date_name), Arg("date", iso_date, metavar="YYYY-MM-DD")],
             where=CASE_ROOM, rule="coordinator")
    async def plan(ctx: Context) -> Reply: ...

A name with a space ("case new") is a sub-command of its first word. `!help` and the
usage line of every refusal are generated from these declarations, so there is no
if-chain to keep in step with the code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from homeward.care.refusal import Refusal

if TYPE_CHECKING:
    from homeward.commands.context import Context, Reply

ANYWHERE = "anywhere"
CASE_ROOM = "case"
DIRECT_ROOM = "direct"

Handler = Callable[["Context"], Awaitable["Reply"]]
Converter = Callable[[str, "Context"], Any]


class CommandError(Refusal):
    """A refusal of the command layer (wrong argument, wrong room), optionally with usage."""

    def __init__(self, key: str, *, usage: bool = False, **values: Any) -> None:
        super().__init__(key, **values)
        self.usage = usage  # append the command's usage line to the answer


@dataclass(frozen=True)
class Arg:
    """One argument of a command, shown in usage as <name> or [name]."""

    name: str
    convert: Converter | None = None  # None: the token's text as is
    optional: bool = False
    rest: bool = False  # takes the verbatim rest of the line (free text)
    metavar: str | None = None
    repeat: bool = False  # takes all remaining tokens, as a list

    def usage(self) -> str:
        shown = self.metavar or self.name
        if self.repeat:
            shown += " …"
        elif self.rest:
            shown += " …"
        return f"[{shown}]" if self.optional else f"<{shown}>"


@dataclass
class Command:
    """A command or a sub-command."""

    path: tuple[str, ...]
    handler: Handler | None = None
    args: list[Arg] = field(default_factory=list)
    where: str = ANYWHERE
    rule: str = "anyone"
    subcommands: dict[str, "Command"] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def help_key(self) -> str:
        return "help." + "_".join(p.replace("-", "_") for p in self.path)

    def usage(self, prefix: str = "!") -> str:
        parts = [prefix + self.name, *(a.usage() for a in self.args)]
        return " ".join(parts)


class Registry:
    """All commands of the bot, by name."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self._aliases: dict[str, str] = {}

    def command(
        self,
        name: str,
        *,
        args: list[Arg] | None = None,
        where: str = ANYWHERE,
        rule: str = "anyone",
        aliases: tuple[str, ...] = (),
    ) -> Callable[[Handler], Handler]:
        """Register the decorated coroutine as the handler of `name`."""

        def register(handler: Handler) -> Handler:
            path = tuple(name.split())
            node = self._node(path)
            node.handler = handler
            node.args = list(args or [])
            node.where = where
            node.rule = rule
            node.aliases = aliases
            if len(path) == 1:
                for alias in aliases:
                    self._aliases[alias] = path[0]
            else:
                parent = self._node(path[:-1])
                for alias in aliases:
                    parent.subcommands[alias] = node
            return handler

        return register

    def _node(self, path: tuple[str, ...]) -> Command:
        top = self.commands.setdefault(path[0], Command(path[:1]))
        node = top
        for depth in range(1, len(path)):
            node = node.subcommands.setdefault(path[depth], Command(path[: depth + 1]))
        return node

    def find(self, name: str) -> Command | None:
        name = self._aliases.get(name, name)
        return self.commands.get(name)

    def all(self) -> list[Command]:
        """Every runnable command and sub-command, in name order, aliases once."""
        found: list[Command] = []

        def walk(node: Command) -> None:
            if node.handler is not None:
                found.append(node)
            seen: set[int] = set()
            for key in sorted(node.subcommands):
                child = node.subcommands[key]
                if id(child) not in seen:
                    seen.add(id(child))
                    walk(child)

        for key in sorted(self.commands):
            walk(self.commands[key])
        return found


registry = Registry()
command = registry.command
