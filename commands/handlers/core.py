"""Commands every room has: help and ping."""

from __future__ import annotations

from homeward.care.permissions import ANYONE
from homeward.commands.context import Context, Reply
from homeward.commands.dispatch import resolve
from homeward.commands.parser import parse
from homeward.commands.policy import allows
from homeward.commands.registry import ANY_STATE, Arg, CommandError, Section, command, registry
from homeward.text import code


@command(
    "help", args=[Arg("command", optional=True, rest=True)], rule=ANYONE, state=ANY_STATE, help_section=Section.ROOM
)
async def help_(ctx: Context) -> Reply:
    """List the commands this user can run in this room, or explain one."""
    prefix = ctx.prefix
    topic = ctx.args["command"]
    if topic:
        line = parse("!" + topic.lstrip("!/"))
        found, _ = resolve(line) if line else (None, 0)
        if found is None:
            raise CommandError("error.unknown_command", name=topic.split()[0].lstrip("!/"), prefix=prefix)
        entries = [c for c in registry.all() if c.path[: len(found.path)] == found.path]
    else:
        entries = registry.all()
    shown = [entry for entry in entries if allows(entry, ctx)]
    blocks = []
    for section in sorted({e.help_section for e in shown}, key=lambda section: section.order):
        lines = [
            f"- {code(e.usage(prefix, ctx.word))} — {ctx.services.catalog.t(ctx.language, e.help_key)}"
            for e in shown
            if e.help_section == section
        ]
        blocks.append(ctx.t("help.group_" + section.name) + "\n" + "\n".join(lines))
    text = ctx.t("help.title") + "\n\n" + "\n\n".join(blocks) + "\n\n" + ctx.t("help.footer", prefix=code(prefix))
    return ctx.ok(text, commands=[e.name for e in shown])


@command("ping", rule=ANYONE, state=ANY_STATE, help_section=Section.ROOM)
async def ping(ctx: Context) -> Reply:
    """Answer pong: the quickest way to see that the bot is alive and can decrypt."""
    return ctx.ok("pong")
