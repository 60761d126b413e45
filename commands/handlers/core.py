"""Commands every room has: help and ping."""

from __future__ import annotations

from homeward.care.permissions import ANYONE
from homeward.commands.context import Context, Reply
from homeward.commands.dispatch import resolve
from homeward.commands.parser import parse
from homeward.commands.policy import allows
from homeward.commands.registry import ANY_STATE, Arg, CommandError, Section, command, registry
from homeward.messages.family import is_family
from homeward.text import code


@command(
    "help", args=[Arg("command", optional=True, rest=True)], rule=ANYONE, state=ANY_STATE, help_section=Section.ROOM
)
async def help_(ctx: Context) -> Reply:
    """List the commands this user can run in this room, or explain one."""
    prefix = ctx.prefix
    topic = ctx.args["command"]
    everything = bool(topic) and topic.strip().lower() in ctx.services.catalog.words("all")
    if not topic and ctx.room is not None and is_family(ctx.room.view, ctx.sender):
        # A guardian, the young person or the family: what they do here, in plain words (`!help all`: every command).
        return ctx.ok(family_help(ctx), commands=[], view="family")
    if everything:
        topic = None
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


def family_help(ctx: Context) -> str:
    """`!help` for the family: how to answer a consent, where the case stands, the consents, the plan, and
    how to be notified only of what concerns them; no item ids, no commands of the care team."""
    keys = ["help_answer", "help_status", "help_consents", "help_plan", "help_write", "help_quiet", "help_all"]
    return ctx.t("family.help_title") + "\n\n" + "\n\n".join(ctx.t("family." + key) for key in keys)
