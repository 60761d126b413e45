"""Commands every room has: help and ping."""

from __future__ import annotations

from homeward.care.permissions import ANYONE
from homeward.commands.context import Context, Reply
from homeward.commands.dispatch import resolve
from homeward.commands.parser import parse
from homeward.commands.policy import allows
from homeward.commands.registry import ANY_STATE, Arg, CommandError, command
from homeward.text import code


@command("help", args=[Arg("command", optional=True, rest=True)], rule=ANYONE, state=ANY_STATE)
async def help_(ctx: Context) -> Reply:
    """List the commands this user can run in this room, or explain one."""
    registry = ctx.services.registry
    prefix = ctx.line.prefix
    topic = ctx.args["command"]
    if topic:
        line = parse("!" + topic.lstrip("!/"))
        found, _ = resolve(line, ctx.services) if line else (None, 0)
        if found is None:
            raise CommandError("error.unknown_command", name=topic.split()[0].lstrip("!/"), prefix=prefix)
        entries = [c for c in registry.all() if c.path[: len(found.path)] == found.path]
    else:
        entries = registry.all()
    lines = []
    for entry in entries:
        if not allows(entry, ctx):
            continue
        lines.append(f"- {code(entry.usage(prefix))} — {ctx.services.catalog.t(ctx.language, entry.help_key)}")
    text = ctx.t("help.title") + "\n\n" + "\n".join(lines) + "\n\n" + ctx.t("help.footer", prefix=code(prefix))
    return ctx.ok(text, commands=[e.name for e in entries])


@command("ping", rule=ANYONE, state=ANY_STATE)
async def ping(ctx: Context) -> Reply:
    """Answer pong: the quickest way to see that the bot is alive and can decrypt."""
    return ctx.ok("pong")
