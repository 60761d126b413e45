"""The family's side of the room: `!settings update` (how often the family gets a word about the case).

`!status` and `!help` answer a guardian, the young person or the family's lane in plain words
(`messages.family`; their handlers ask `is_family`), and the regular update goes out by the
clock (`work.updates`).
"""

from __future__ import annotations

from homeward.care.permissions import COORDINATOR
from homeward.care.updates import DEFAULT_EVERY, MAX_EVERY
from homeward.commands.context import Context, Reply
from homeward.commands.registry import CASE_ROOM, Arg, CommandError, Section, command
from homeward.store import updates as update_rows

#: What `!settings update` takes besides a number of working days.
WEEKLY = "weekly"


@command(
    "settings update",
    args=[Arg("every", metavar="n|weekly|off")],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.ROOM,
)
async def settings_update(ctx: Context) -> Reply:
    """How often the family gets a word about the case: every n working days (default 5, a week), or off."""
    room = ctx.care
    value = ctx.args["every"].strip().lower()
    days: int | None
    if value in ctx.services.catalog.words("off"):
        days = None
    elif value == WEEKLY:
        days = DEFAULT_EVERY
    elif value.isdigit() and 1 <= int(value) <= MAX_EVERY:
        days = int(value)
    else:
        raise CommandError("family.bad_update", usage=True, value=value[:20])
    await update_rows.set_every(ctx.db, room.case.id, days)
    await ctx.audit("settings.changed", update_every=days or 0)
    if days is None:
        return ctx.ok(ctx.t("family.updates_off"), update_every=None)
    return ctx.ok(ctx.t("family.updates_every", days=ctx.t("family.working_days", n=days)), update_every=days)
