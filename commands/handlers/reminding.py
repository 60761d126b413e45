"""Reminders people ask for: `!remind`, `!snooze`, `!reminders`, `!settings quiet`."""

from __future__ import annotations

from datetime import timedelta

from homeward.care.calendar import parse_quiet
from homeward.care.case import find_item, missing_lanes
from homeward.care.deadlines import parse_duration, parse_when
from homeward.care.permissions import COORDINATOR, MEMBER
from homeward.care.reminders import CLOCK, audience_lanes
from homeward.commands.context import Context, Reply
from homeward.commands.registry import ANY_STATE, CASE_ROOM, Arg, CommandError, Section, command
from homeward.messages.speaker import local_text
from homeward.ratelimit import Rate
from homeward.store import reminders as rows
from homeward.text import code, escape

#: How many extra reminders one person may ask for per hour unless the configuration says otherwise.
REMIND_RATE = Rate(30, timedelta(hours=1))


@command(
    "remind",
    args=[Arg("item-id"), Arg("when", rest=True)],
    where=CASE_ROOM,
    rule=MEMBER,
    rate=REMIND_RATE,
    help_section=Section.ITEMS,
)
async def remind(ctx: Context) -> Reply:
    """An extra reminder about an item, for you: `in 2h`, `tomorrow 09:00`, `2026-12-01 10:00`."""
    case, view = ctx.care.case, ctx.care.view
    item = find_item(view, ctx.args["item-id"])
    if not missing_lanes(view, item):
        raise CommandError("care.already_done", item=item.id)
    try:
        at = parse_when(ctx.args["when"], ctx.now, view.calendar())
    except ValueError:
        raise CommandError("remind.bad_when", usage=True, value=ctx.args["when"][:60]) from None
    reminder = await rows.add_custom(ctx.db, case.id, item.id, at, ctx.sender)
    await ctx.audit("reminder.requested", item=item.id, at=at.isoformat())
    return ctx.ok(
        ctx.t("remind.set", title=item.title, when=local_text(at, view.pathway)),
        reminder_id=reminder,
        at=at.isoformat(),
    )


@command(
    "snooze",
    args=[Arg("item-id"), Arg("duration", metavar="2h|30m|1d")],
    where=CASE_ROOM,
    rule=MEMBER,
    help_section=Section.ITEMS,
)
async def snooze(ctx: Context) -> Reply:
    """Postpone the reminders of one item, only for your own lane."""
    case, view = ctx.care.case, ctx.care.view
    item = find_item(view, ctx.args["item-id"])
    lane = ctx.care.lane
    if lane is None or lane not in audience_lanes(view, item):
        raise CommandError("snooze.not_your_lane", item=item.id)
    try:
        span = parse_duration(ctx.args["duration"])
    except ValueError:
        raise CommandError("snooze.bad_duration", usage=True, value=ctx.args["duration"][:40]) from None
    until = ctx.now + span
    await rows.snooze(ctx.db, case.id, item.id, lane, until)
    await ctx.audit("reminder.snoozed", item=item.id, until=until.isoformat())
    return ctx.ok(
        ctx.t("snooze.set", title=item.title, lane=view.pathway.lane(lane).name, until=local_text(until, view.pathway))
    )


@command("reminders", where=CASE_ROOM, rule=MEMBER, state=ANY_STATE, help_section=Section.ITEMS)
async def reminders(ctx: Context) -> Reply:
    """What is scheduled in this room."""
    case, view = ctx.care.case, ctx.care.view
    scheduled = await rows.scheduled_for_case(ctx.db, case.id)
    lines = [
        f"- {local_text(r.fire_at, view.pathway)} · {code(r.item_id)} {escape(_title(view, r))} · "
        + ctx.t(f"reminders.kind_{r.kind}")
        for r in scheduled
    ]
    quiet = case.quiet or "20:00-08:00"
    text = (
        ctx.t("reminders.title")
        + "\n\n"
        + ("\n".join(lines) or ctx.t("reminders.none"))
        + "\n\n"
        + ctx.t("reminders.quiet", quiet=quiet)
    )
    listing = [
        {"item": r.item_id, "kind": r.kind, "sequence": r.sequence, "at": r.fire_at.isoformat()} for r in scheduled
    ]
    return ctx.ok(text, reminders=listing)


def _title(view, row) -> str:
    """What a scheduled reminder is about: an item's title, or a statutory clock's label."""
    if row.kind == CLOCK:
        clock = next((c for c in view.pathway.clocks if c.id == row.item_id), None)
        return clock.label if clock else row.item_id  # a clock the pathway file no longer has: its id
    return view.item(row.item_id).title


@command(
    "settings quiet",
    args=[Arg("hours", metavar="20:00-08:00|off")],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.ROOM,
)
async def settings_quiet(ctx: Context) -> Reply:
    """Quiet hours of this room: no reminders then; one that falls inside goes out when they end."""
    case = ctx.care.case
    value = ctx.args["hours"].strip().lower()
    if value in ctx.services.catalog.words("off"):
        value = "off"
    try:
        parse_quiet(value)
    except ValueError:
        raise CommandError("settings.bad_quiet", usage=True, value=value[:40]) from None
    await rows.set_quiet(ctx.db, case.id, value)
    await ctx.audit("settings.changed", quiet=value)
    key = "settings.quiet_off" if value == "off" else "settings.quiet_set"
    return ctx.ok(ctx.t(key, hours=value))
