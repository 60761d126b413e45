"""Commands every room has: help and ping."""

from __future__ import annotations

from homeward.care.permissions import ANYONE
from homeward.commands.context import Context, Reply
from homeward.commands.dispatch import resolve
from homeward.commands.parser import parse
from homeward.commands.policy import allows
from homeward.commands.registry import ANY_STATE, Arg, CommandError, command, registry
from homeward.text import code

#: `!help` in groups by what the commands are for, each group by the top-level command's name;
#: a command not named here is listed last, under "other". Which commands show is the gate's (`allows`).
HELP_GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("items", ("status", "ack", "send", "assign", "remind", "snooze", "reminders", "phase")),
    ("dates", ("plan", "timeline")),
    ("consent", ("consents", "consent")),
    ("team", ("team", "invite", "role", "handover")),
    ("meetings", ("meeting", "minutes")),
    ("documents", ("export", "audit", "stats")),
    ("desk", ("cases", "digest")),
    ("room", ("settings", "case", "pathways", "help", "ping")),
]


def help_group(name: str) -> str:
    return next((group for group, names in HELP_GROUPS if name in names), "other")


@command("help", args=[Arg("command", optional=True, rest=True)], rule=ANYONE, state=ANY_STATE)
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
    order = [group for group, _ in HELP_GROUPS] + ["other"]
    blocks = []
    for group in order:
        mine = [e for e in shown if help_group(e.path[0]) == group]
        if not mine:
            continue
        lines = [
            f"- {code(e.usage(prefix, ctx.word))} — {ctx.services.catalog.t(ctx.language, e.help_key)}" for e in mine
        ]
        blocks.append(ctx.t("help.group_" + group) + "\n" + "\n".join(lines))
    text = ctx.t("help.title") + "\n\n" + "\n\n".join(blocks) + "\n\n" + ctx.t("help.footer", prefix=code(prefix))
    return ctx.ok(text, commands=[e.name for e in shown])


@command("ping", rule=ANYONE, state=ANY_STATE)
async def ping(ctx: Context) -> Reply:
    """Answer pong: the quickest way to see that the bot is alive and can decrypt."""
    return ctx.ok("pong")
