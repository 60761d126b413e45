"""Commands declare themselves: name, arguments, help and who may run them live on the handler.

    @command("plan set", args=[Arg("date-name"), Arg("date", date_arg, metavar="YYYY-MM-DD")],
             where=CASE_ROOM, rule=COORDINATOR, implicit=True)
    async def date_set(ctx: Context) -> Reply: ...

A name with a space ("case new") is a sub-command of its first word. `!help`, the usage
line of every refusal and every permission refusal are generated from these
declarations (the gate is `commands.policy.check`), so there is no table or if-chain to
keep in step with the code.

`state=` says in which state of its case a care-room command runs: by default only while
the case is open (it changes the case); `ANY_STATE` for commands that only read it (they
still work on a closed case), `CLOSED_CASE` for `!case reopen`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from homeward.care.permissions import ANYONE, Rule
from homeward.care.refusal import Refusal
from homeward.ratelimit import ALL_COMMANDS, Rate

ANYWHERE = "anywhere"
CASE_ROOM = "case"
DIRECT_ROOM = "direct"
#: A direct chat between the sender and the bot alone: what it answers there is nobody else's to read.
PRIVATE_CHAT = "private"

OPEN_CASE = "open"
CLOSED_CASE = "closed"
ANY_STATE = "any"

#: A handler takes the command's `commands.context.Context` and returns its `Reply`; a converter takes a
#: token and the Context. Typed loosely here: the Context names the Command, so naming it back would be a circle.
Handler = Callable[[Any], Awaitable[Any]]
Converter = Callable[[str, Any], Any]
#: How a placeholder is shown in the reader's language (`Context.word`); None: as declared.
Words = Callable[[str], str] | None


@dataclass(frozen=True)
class HelpSection:
    """Where `!help` lists a command: a heading (`help.group_<name>` in the catalogs), in `order`."""

    name: str
    order: int


class Section:
    """The sections of `!help`, in the order it lists them; each handler names its own (`help_section=`)."""

    ITEMS = HelpSection("items", 10)
    DATES = HelpSection("dates", 20)
    CONSENT = HelpSection("consent", 30)
    TEAM = HelpSection("team", 40)
    MEETINGS = HelpSection("meetings", 50)
    DOCUMENTS = HelpSection("documents", 60)
    DESK = HelpSection("desk", 70)
    ROOM = HelpSection("room", 80)
    OTHER = HelpSection("other", 1000)


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

    def usage(self, words: Words = None) -> str:
        shown = self.metavar or self.name
        if words is not None:
            shown = words(shown)
        if self.repeat or self.rest:
            shown += " …"
        return f"[{shown}]" if self.optional else f"<{shown}>"


@dataclass
class Command:
    """A command or a sub-command, with who may run it where."""

    path: tuple[str, ...]
    handler: Handler | None = None
    args: list[Arg] = field(default_factory=list)
    where: str = ANYWHERE
    rule: Rule = ANYONE
    #: Runs only when the command came end-to-end encrypted in an encrypted room (its answer
    #: carries what must never go in clear, e.g. a case's label).
    needs_encryption: bool = False
    #: How often one person may run it (the configuration's `rate_limits` can override it).
    rate: Rate | None = None
    #: The state its case must be in (care rooms): OPEN_CASE, CLOSED_CASE or ANY_STATE.
    state: str = OPEN_CASE
    #: Where `!help` lists it.
    help_section: HelpSection = Section.OTHER
    subcommands: dict[str, Command] = field(default_factory=dict)
    #: Arguments typed before the sub-command's word (`!minutes <meeting-id> note …`).
    lead: list[Arg] = field(default_factory=list)
    #: The sub-command taken when the next word names none (`!plan admission 2026-12-01` is `plan set`).
    implicit: Command | None = None
    #: The last word of the path is not typed (an implicit sub-command).
    untyped: bool = False
    parent: Command | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def typed_name(self) -> str:
        """The name as people type it: without the word of an implicit sub-command (`plan set` is `plan`)."""
        return " ".join(self.path[:-1] if self.untyped else self.path)

    @property
    def help_key(self) -> str:
        return "help." + "_".join(p.replace("-", "_") for p in self.path)

    def usage(self, prefix: str = "!", words: Words = None) -> str:
        """How the command is typed: `!minutes <meeting-id> note <text>`, `!plan <date-name> <YYYY-MM-DD> [HH:MM]`;
        `words` shows each placeholder in the reader's language (`!plan <datumnamn> <ÅÅÅÅ-MM-DD> [TT:MM]`)."""
        lead = [a.usage(words) for a in self.parent.lead] if self.parent is not None else []
        typed = list(self.path[:-1] if self.untyped else self.path)
        return " ".join([prefix + typed[0], *lead, *typed[1:], *(a.usage(words) for a in self.args)])


@dataclass(frozen=True)
class Invocation:
    """A command with its argument values, ready for the gate: what a ✅ reaction or a "ja" reply means.

    A typed command is parsed and its tokens bound to its arguments (`commands.dispatch`); an
    invocation carries the values already, so nothing is written out as text and parsed back.
    """

    command: Command
    args: dict[str, Any]


class Registry:
    """All commands of the bot, by name."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}

    def command(
        self,
        name: str,
        *,
        rule: Rule,
        args: list[Arg] | None = None,
        where: str = ANYWHERE,
        implicit: bool = False,
        needs_encryption: bool = False,
        rate: Rate | None = None,
        state: str = OPEN_CASE,
        help_section: HelpSection = Section.OTHER,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated coroutine as the handler of `name`; `rule` says who may run it.

        `implicit`: the last word of `name` is not typed; the sub-command runs when the word
        after its parent names no other sub-command. `needs_encryption`: only from an
        encrypted message in an encrypted room. `rate`: at most so many runs per person
        and period (`homeward.ratelimit`). `state`: in which state of its case it runs
        (OPEN_CASE: it changes the case; ANY_STATE: it only reads; CLOSED_CASE). `help_section`:
        under which heading `!help` lists it.
        """
        if state not in (OPEN_CASE, CLOSED_CASE, ANY_STATE):
            raise ValueError(f"unknown case state {state!r} on {name}")

        def register(handler: Handler) -> Handler:
            path = tuple(name.split())
            node = self._node(path)
            node.handler = handler
            node.args = list(args or [])
            node.where = where
            node.rule = rule
            node.needs_encryption = needs_encryption
            node.rate = rate
            node.state = state
            node.help_section = help_section
            if implicit:
                node.untyped = True
                self._node(path[:-1]).implicit = node
            return handler

        return register

    def group(self, name: str, *, lead: list[Arg]) -> None:
        """Declare arguments typed between a command's name and its sub-command's word."""
        self._node(tuple(name.split())).lead = list(lead)

    def _node(self, path: tuple[str, ...]) -> Command:
        top = self.commands.setdefault(path[0], Command(path[:1]))
        node = top
        for depth in range(1, len(path)):
            node = node.subcommands.setdefault(path[depth], Command(path[: depth + 1], parent=node))
        return node

    def find(self, name: str) -> Command | None:
        return self.commands.get(name)

    def invocation(self, name: str, args: dict[str, Any]) -> Invocation:
        """The runnable command `name` ("consent yes") with these values; an optional one left out: as if untyped."""
        node = self.commands.get(name.split()[0])
        for word in name.split()[1:]:
            node = node.subcommands.get(word) if node is not None else None
        if node is None or node.handler is None:
            raise KeyError(f"no command {name!r}")
        declared = [*(node.parent.lead if node.parent is not None else []), *node.args]
        unknown = set(args) - {arg.name for arg in declared}
        missing = [arg.name for arg in declared if not arg.optional and arg.name not in args]
        if unknown or missing:
            raise ValueError(f"{name}: arguments {sorted(unknown)} are not declared, {missing} are missing")
        return Invocation(node, {arg.name: args.get(arg.name, [] if arg.repeat else None) for arg in declared})

    def unknown_rate_limits(self, names: dict[str, str] | list[str]) -> list[str]:
        """One problem line per name in the configuration's `rate_limits` that names no command."""
        known = {c.name for c in self.all()} | {ALL_COMMANDS}
        return [
            f"rate_limits: there is no command {name!r}; "
            'write a command\'s name as in !help, e.g. "case new" or "remind", or "*" for all commands together'
            for name in sorted(names)
            if name not in known
        ]

    def all(self) -> list[Command]:
        """Every runnable command and sub-command, in name order."""
        found: list[Command] = []

        def walk(node: Command) -> None:
            if node.handler is not None:
                found.append(node)
            for key in sorted(node.subcommands):
                walk(node.subcommands[key])

        for key in sorted(self.commands):
            walk(self.commands[key])
        return found


registry = Registry()
command = registry.command
