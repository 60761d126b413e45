"""The named dates of a case: `!plan` lists them, `!plan <date-name> <date> [time]` sets one."""

from __future__ import annotations

from datetime import date, datetime

from homeward.care.arrival import renewed_by
from homeward.care.case import Ack, due_at, missing_lanes
from homeward.care.permissions import COORDINATOR, MEMBER
from homeward.commands.arguments import date_arg, time_arg
from homeward.commands.context import Context, Reply
from homeward.commands.registry import ANY_STATE, CASE_ROOM, Arg, CommandError, Section, command
from homeward.messages.speaker import local_text
from homeward.store import cases
from homeward.text import Markdown, code, escape


@command("plan", where=CASE_ROOM, rule=MEMBER, state=ANY_STATE, help_section=Section.DATES)
async def dates_list(ctx: Context) -> Reply:
    """List the named dates of the case."""
    view = ctx.care.view
    return ctx.ok(_listing(ctx, view), dates=_dates_json(view))


@command(
    "plan set",
    args=[
        Arg("date-name"),
        Arg("date", date_arg, optional=True, metavar="YYYY-MM-DD"),
        Arg("time", time_arg, optional=True, metavar="HH:MM"),
    ],
    where=CASE_ROOM,
    rule=COORDINATOR,
    implicit=True,
    help_section=Section.DATES,
)
async def date_set(ctx: Context) -> Reply:
    """Set a named date of the case; the deadlines that hang on it move."""
    room = ctx.care
    view, case = room.view, room.case
    pathway = view.pathway
    name, day, clock = ctx.args["date-name"], ctx.args["date"], ctx.args["time"]
    named = pathway.find_date(name)
    if named is None:
        valid = ", ".join(
            " / ".join(code(w) for w in [*d.aliases[:1], d.id]) + f" ({escape(d.label)})" for d in pathway.dates
        )
        raise CommandError("plan.unknown_date", name=name[:40], valid=Markdown(valid))
    if day is None:
        raise CommandError("error.missing_argument", usage=True, arg="<YYYY-MM-DD>")
    calendar = view.calendar()
    if named.working_day_only and not calendar.is_working_day(day):
        why = calendar.holiday_name(day) or ctx.t(
            {5: "plan.saturday", 6: "plan.sunday"}.get(day.weekday(), "plan.day_off")
        )
        proposal = calendar.next_working_day(day)
        raise CommandError(
            "plan.not_working_day",
            label=named.label,
            day=day.isoformat(),
            why=why,
            proposal=proposal.isoformat(),
            name=named.id,
        )
    value: date | datetime = calendar.local(day, clock) if clock else day
    before = {item.id: due_at(view, item, calendar) for _, item in view.items() if missing_lanes(view, item)}
    previous = view.dates.get(named.id)
    await cases.put_date(ctx.db, case.id, named.id, value, ctx.sender, ctx.now)
    await room.audit(
        "date.planned", date=named.id, value=value.isoformat(), previous=previous.isoformat() if previous else None
    )
    renewed = []
    for _, item in view.items():
        if view.record(item.id).sent_at and renewed_by(item, named.id, was_set=previous is not None):
            await cases.renew(ctx.db, case.id, item.id)
            await room.audit("item.renewed", item=item.id, because=named.id)
            renewed.append(f"{code(item.id)} {escape(item.title)}")
    completed = await _complete_by_date(ctx, named.id)
    await room.reload()
    view = room.view
    moved: dict[str, str] = {}
    for item_id, old in before.items():
        new = due_at(view, view.item(item_id), calendar)
        if new != old:
            moved[item_id] = (
                f"- {code(item_id)} {escape(view.item(item_id).title)}: "
                f"{local_text(old, pathway)} → **{local_text(new, pathway)}**"
            )
    text: str = ctx.t("plan.set", label=named.label, value=local_text(value, pathway))
    if moved:
        text += "\n\n" + ctx.t("plan.moved") + "\n" + "\n".join(moved.values())
    if renewed:
        text += "\n\n" + ctx.t("plan.renewed", items=Markdown(", ".join(renewed)))
    if completed:
        titles = Markdown(", ".join(f"**{escape(view.item(i).title)}**" for i in completed))
        text += "\n\n" + ctx.t("plan.completed", items=titles)
    return ctx.ok(text, dates=_dates_json(view), moved=list(moved), completed=completed)


async def _complete_by_date(ctx: Context, date_id: str) -> list[str]:
    """The open tasks that setting `date_id` completes (pathway data: `sets_date`), marked done; their ids.

    "Blir inskriven på sjukhus" is done once the admission date is set. Only a task of the current
    phase or an earlier one: a later phase's task that fixes the same date (agreeing the time of
    discharge) is done when its phase comes and the date is set then, not by the preliminary date.
    Recorded as done on behalf of the task's lane by the person who set the date, and audited.
    """
    room = ctx.care
    view = room.view
    order = [phase.id for phase in view.pathway.phases]
    now_at = order.index(view.phase_id)
    done = []
    for phase, item in view.items():
        if item.kind != "task" or item.sets_date != date_id or order.index(phase.id) > now_at:
            continue
        if not missing_lanes(view, item):
            continue
        lane = item.lane or ""
        await cases.add_ack(
            ctx.db, room.case.id, item.id, Ack(lane, ctx.sender, ctx.now, True, None), ctx.event.event_id
        )
        await room.audit("item.done_by_date", item=item.id, lane=lane, date=date_id)
        done.append(item.id)
    return done


def _listing(ctx: Context, view) -> str:
    lines = [
        f"- {code(d.id)} {escape(d.label)}: **{local_text(view.dates.get(d.id), view.pathway)}**"
        + (" " + ctx.t("plan.working_days_only") if d.working_day_only else "")
        for d in view.pathway.dates
    ]
    return ctx.t("plan.title") + "\n\n" + "\n".join(lines) + "\n\n" + ctx.t("plan.how")


def _dates_json(view) -> dict[str, str | None]:
    return {d.id: (view.dates[d.id].isoformat() if d.id in view.dates else None) for d in view.pathway.dates}
