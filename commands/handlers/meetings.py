"""Meetings and their minutes: `!meeting new`, `!minutes <meeting-id> <what> …`.

A meeting of the pathway (planning meeting 1, the SIP meeting, …) or an `extra` one. Its
date becomes the pathway's named date, so the deadlines and reminders that hang on it
follow. The invitation carries the recommended participants and agenda word for word.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from homeward.care import minutes as care_minutes
from homeward.care.deadlines import parse_duration
from homeward.care.minutes import EXTRA, Minutes, MinutesChange
from homeward.care.deadlines import END_OF_WORKING_DAY
from homeward.commands.care_room import current_case, local_text, refresh_checklist
from homeward.commands.context import Context, Reply
from homeward.commands.handlers.dates import date_arg, time_arg
from homeward.commands.handlers.team import user_arg
from homeward.commands.registry import CASE_ROOM, Arg, CommandError, command
from homeward.exports.build import plan_document
from homeward.exports.ics import to_ics
from homeward.render import notice_content
from homeward.store import cases, outbox, plans
from homeward.store.cases import CaseRow
from homeward.text import escape, mention, mentions

DEFAULT_DURATION = timedelta(minutes=60)


def duration_arg(text: str, ctx: Context) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError:
        raise CommandError("meeting.bad_duration", usage=True, value=text[:40]) from None


@command(
    "meeting new",
    args=[Arg("meeting-id"), Arg("date", date_arg, metavar="YYYY-MM-DD"), Arg("time", time_arg, metavar="HH:MM"),
          Arg("duration", duration_arg, optional=True, metavar="1h|90m")],
    where=CASE_ROOM,
)
async def meeting_new(ctx: Context) -> Reply:
    """Plan one of the pathway's meetings (or `extra`): invitation with participants and agenda."""
    case, view = await current_case(ctx)
    pathway = view.pathway
    wanted = ctx.args["meeting-id"].lower()
    start = view.calendar().local(ctx.args["date"], ctx.args["time"])
    duration = ctx.args["duration"] or DEFAULT_DURATION
    key = wanted
    if wanted == EXTRA:
        key = f"{EXTRA}-{sum(1 for k in await plans.meeting_keys(ctx.db, case.id) if k.startswith(EXTRA)) + 1}"
        change = care_minutes.new_minutes(pathway, EXTRA, start, duration, by=ctx.sender, at=ctx.now, title=str(ctx.t("meeting.extra_title")))
    else:
        if await plans.load_minutes(ctx.db, case.id, key) is not None:
            raise CommandError("meeting.exists", meeting=key)
        change = care_minutes.new_minutes(pathway, wanted, start, duration, by=ctx.sender, at=ctx.now)
    await plans.add_minutes_change(ctx.db, case.id, key, change, ctx.event.event_id)
    minutes = care_minutes.fold_minutes([change])
    if wanted != EXTRA:
        await cases.put_date(ctx.db, case.id, pathway.meeting(wanted).date, start, ctx.sender, ctx.now)
    await cases.audit(
        ctx.db, room_id=ctx.room_id, actor=ctx.sender, action="meeting.planned", now=ctx.now, case_id=case.id,
        event_id=ctx.event.event_id, meeting=key, start=start.isoformat(), minutes=int(duration.total_seconds() // 60),
    )
    await outbox.enqueue(ctx.db, ctx.room_id, "m.room.message", _invitation(ctx, view, key, minutes), ctx.now)
    if wanted != EXTRA:
        await _attach_calendar(ctx, case, key)
    return ctx.ok(ctx.t("meeting.planned", title=minutes.title, when=local_text(start, pathway), key=key), meeting=key, start=start.isoformat())


def _invitation(ctx: Context, view, key: str, minutes: Minutes) -> dict:  # noqa: ANN001
    pathway = view.pathway
    people = sorted(view.members)
    lines = [
        f"📅 **{escape(minutes.title)}** — {local_text(minutes.start, pathway)} ({int(minutes.duration.total_seconds() // 60)} min)",
        "",
    ]
    if key in {m.id for m in pathway.meetings}:
        meeting = pathway.meeting(key)
        if meeting.participants:
            lines += [ctx.t("meeting.participants"), *[f"- {escape(p)}" for p in meeting.participants], ""]
    if minutes.topics:
        lines += [ctx.t("meeting.agenda"), *[f"{n}. {escape(t)}" for n, t in enumerate(minutes.topics, 1)], ""]
    lines.append(ctx.t("meeting.how", key=key, people=mentions(people)))
    content = notice_content("\n".join(lines))
    content["m.mentions"] = {"user_ids": people}
    content["homeward.meeting"] = {"id": key, "start": minutes.start.isoformat(), "minutes": int(minutes.duration.total_seconds() // 60)}
    return content


async def _attach_calendar(ctx: Context, case: CaseRow, key: str) -> None:
    """The iCalendar invitation (METHOD:REQUEST, the pathway's time zone) as a file in the room."""
    view = await cases.load_view(ctx.db, case, ctx.services.pathways[case.pathway_id])
    plan = await plans.load_plan(ctx.db, case.id)
    document = plan_document(view, plan, [], await plans.all_minutes(ctx.db, case.id), ctx.now, case.opened_by)
    await outbox.enqueue_file(ctx.db, ctx.room_id, f"{key}.ics", "text/calendar", to_ics(document), ctx.now, calendar=key)


async def _action_becomes_task(ctx: Context, case, view, key: str, minutes: Minutes) -> None:  # noqa: ANN001
    """An action of the minutes is a task of the case: its owner's lane, due at the end of its day."""
    action = minutes.actions[-1]
    if action.owner.startswith("@"):
        member = view.members.get(action.owner)
        lane = member.lane if member and member.lane else None
        if lane is None:
            raise CommandError("minutes.owner_without_lane", user=mention(action.owner))
    else:
        lane = action.owner
    due = view.calendar().local(action.due, END_OF_WORKING_DAY) if action.due else None
    item_id = f"{key}-{action.ref}".replace("_", "-")
    await cases.add_extra_task(ctx.db, case.id, item_id, view.phase_id, lane, action.text, due, f"minutes:{key}:{action.ref}", ctx.now)
    if action.owner.startswith("@"):
        await cases.assign(ctx.db, case.id, item_id, action.owner)
    await refresh_checklist(ctx, case)


# -- !minutes <meeting-id> <what> … ----------------------------------------------------------

Step = Callable[[Context, Minutes, str], Awaitable[MinutesChange]]


async def _present(ctx: Context, minutes: Minutes, rest: str) -> MinutesChange:
    users = [user_arg(word, ctx) for word in rest.split()]
    if not users:
        raise CommandError("error.missing_argument", usage=True, arg="@user:server …")
    return care_minutes.add_present(minutes, users, by=ctx.sender, at=ctx.now)


async def _note(ctx: Context, minutes: Minutes, rest: str) -> MinutesChange:
    return care_minutes.add_note(minutes, rest, by=ctx.sender, at=ctx.now)


async def _decision(ctx: Context, minutes: Minutes, rest: str) -> MinutesChange:
    return care_minutes.add_decision(minutes, rest, by=ctx.sender, at=ctx.now)


async def _action(ctx: Context, minutes: Minutes, rest: str) -> MinutesChange:
    parts = rest.split(maxsplit=2)
    if len(parts) < 3:
        raise CommandError("minutes.action_usage")
    owner, due, text = parts
    _, view = await current_case(ctx)
    return care_minutes.assign_action(minutes, view.pathway, text, owner, by=ctx.sender, at=ctx.now, due=date_arg(due, ctx))


async def _topic(ctx: Context, minutes: Minutes, rest: str) -> MinutesChange:
    number, _, text = rest.partition(" ")
    return care_minutes.answer_topic(minutes, number, text.strip(), by=ctx.sender, at=ctx.now)


async def _close(ctx: Context, minutes: Minutes, rest: str) -> MinutesChange:
    return care_minutes.close(minutes, by=ctx.sender, at=ctx.now)


async def _reopen(ctx: Context, minutes: Minutes, rest: str) -> MinutesChange:
    return care_minutes.reopen(minutes, rest, by=ctx.sender, at=ctx.now)


STEPS: dict[str, Step] = {
    "present": _present, "note": _note, "decision": _decision, "action": _action,
    "topic": _topic, "close": _close, "reopen": _reopen,
}


@command(
    "minutes",
    args=[Arg("meeting-id"), Arg("what", metavar="|".join(STEPS)), Arg("text", optional=True, rest=True)],
    where=CASE_ROOM,
)
async def minutes_cmd(ctx: Context) -> Reply:
    """Write the minutes: present, note, decision, action <lane|@user> <due> <text>, topic <n> <text>, close, reopen <reason>."""
    case, view = await current_case(ctx)
    key = ctx.args["meeting-id"].lower()
    step = STEPS.get(ctx.args["what"].lower())
    if step is None:
        raise CommandError("minutes.unknown_step", usage=True, what=ctx.args["what"][:30], steps=", ".join(STEPS))
    current = await plans.load_minutes(ctx.db, case.id, key)
    if current is None:
        raise CommandError("minutes.no_meeting", meeting=key)
    change = await step(ctx, current, ctx.args["text"] or "")
    await plans.add_minutes_change(ctx.db, case.id, key, change, ctx.event.event_id)
    if change.kind == "action":
        await _action_becomes_task(ctx, case, view, key, care_minutes.apply_minutes(current, change))
    await cases.audit(
        ctx.db, room_id=ctx.room_id, actor=ctx.sender, action="minutes.changed", now=ctx.now, case_id=case.id,
        event_id=ctx.event.event_id, meeting=key, version=change.version, kind=change.kind,
    )
    return ctx.ok(ctx.t("minutes.recorded", meeting=key, version=change.version), meeting=key, minutes_version=change.version)
