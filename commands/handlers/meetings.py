"""Meetings and their minutes: `!meeting new`, `!minutes <meeting-id> <what> …`.

A meeting of the pathway (planning meeting 1, the SIP meeting, …) or an `extra` one. Its
date becomes the pathway's named date, so the deadlines and reminders that hang on it
follow. The invitation carries the recommended participants and agenda word for word.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from homeward.care import minutes as care_minutes
from homeward.care.deadlines import END_OF_WORKING_DAY, parse_duration
from homeward.care.minutes import EXTRA, Minutes, MinutesChange
from homeward.care.permissions import CARE_TEAM, COORDINATOR
from homeward.commands.arguments import date_arg, person_arg, person_or_lane_arg, time_arg
from homeward.commands.context import Context, Reply
from homeward.commands.registry import CASE_ROOM, Arg, CommandError, Section, command, registry
from homeward.exports.build import careplan_document
from homeward.matrix.content import alert_content, details_content
from homeward.messages.speaker import local_text
from homeward.store import cases, changelogs
from homeward.text import escape, mention, mentions

DEFAULT_DURATION = timedelta(minutes=60)


def duration_arg(text: str, ctx: Context) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError:
        raise CommandError("meeting.bad_duration", usage=True, value=text[:40]) from None


@command(
    "meeting new",
    args=[
        Arg("meeting-id"),
        Arg("date", date_arg, metavar="YYYY-MM-DD"),
        Arg("time", time_arg, metavar="HH:MM"),
        Arg("duration", duration_arg, optional=True, metavar="1h|90m"),
    ],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.MEETINGS,
)
async def meeting_new(ctx: Context) -> Reply:
    """Schedule one of the pathway's meetings (or `extra`): invitation with participants and agenda."""
    room = ctx.care
    case, view = room.case, room.view
    pathway = view.pathway
    wanted = ctx.args["meeting-id"].lower()
    start = view.calendar().local(ctx.args["date"], ctx.args["time"])
    duration = ctx.args["duration"] or DEFAULT_DURATION
    key = wanted
    if wanted == EXTRA:
        key = f"{EXTRA}-{sum(1 for k in await changelogs.meeting_keys(ctx.db, case.id) if k.startswith(EXTRA)) + 1}"
        change = care_minutes.new_minutes(
            pathway, EXTRA, start, duration, by=ctx.sender, at=ctx.now, title=str(ctx.t("meeting.extra_title"))
        )
    else:
        if await changelogs.load_minutes(ctx.db, case.id, key) is not None:
            raise CommandError("meeting.exists", meeting=key)
        change = care_minutes.new_minutes(pathway, wanted, start, duration, by=ctx.sender, at=ctx.now)
    await changelogs.add_minutes_change(ctx.db, case.id, key, change, ctx.event.event_id)
    minutes = care_minutes.fold_minutes([change])
    if wanted != EXTRA:
        await cases.put_date(ctx.db, case.id, pathway.meeting(wanted).date, start, ctx.sender, ctx.now)
    await room.audit(
        "meeting.planned", meeting=key, start=start.isoformat(), minutes=int(duration.total_seconds() // 60)
    )
    for content in _invitation(ctx, view, key, minutes):
        await room.queue(content)
    if wanted != EXTRA:
        await _attach_calendar(ctx, key)
    return ctx.ok(
        ctx.t("meeting.planned", title=minutes.title, when=local_text(start, pathway), key=key),
        meeting=key,
        start=start.isoformat(),
    )


def _invitation(ctx: Context, view, key: str, minutes: Minutes) -> list[dict]:
    """The meeting's details (participants, agenda, how its minutes are written), naming nobody, and then
    the invitation naming the members in a few lines (a message that names someone is shown to them whole)."""
    pathway = view.pathway
    people = sorted(view.members)
    length_min = int(minutes.duration.total_seconds() // 60)
    head = f"📅 **{escape(minutes.title)}** — {local_text(minutes.start, pathway)} ({length_min} min)"
    lines = [head, ""]
    if key in {m.id for m in pathway.meetings}:
        meeting = pathway.meeting(key)
        if meeting.participants:
            lines += [ctx.t("meeting.participants"), *[f"- {escape(p)}" for p in meeting.participants], ""]
    if minutes.topics:
        lines += [ctx.t("meeting.agenda"), *[f"{n}. {escape(t)}" for n, t in enumerate(minutes.topics, 1)], ""]
    lines.append(ctx.t("meeting.how", key=key))
    details = details_content("\n".join(lines))
    details["homeward.meeting_details"] = key
    content = alert_content(head + " — " + ctx.t("meeting.invited", people=mentions(people)), people)
    content["homeward.meeting"] = {
        "id": key,
        "start": minutes.start.isoformat(),
        "minutes": int(minutes.duration.total_seconds() // 60),
    }
    return [details, content]


async def _attach_calendar(ctx: Context, key: str) -> None:
    """The iCalendar invitation (METHOD:REQUEST, the pathway's time zone) as a file in the room."""
    room = ctx.care
    await room.reload()  # with the meeting's date just set
    case, view = room.case, room.view
    plan = await changelogs.load_careplan(ctx.db, case.id)
    document = careplan_document(view, plan, [], await changelogs.all_minutes(ctx.db, case.id), ctx.now, case.opened_by)
    from homeward.exports.ics import to_ics  # icalendar is loaded with the first invitation, not at start

    await room.queue_file(f"{key}.ics", "text/calendar", to_ics(document), calendar=key)


async def _action_becomes_task(ctx: Context, key: str, minutes: Minutes) -> None:
    """An action of the minutes is a task of the case: its owner's lane, due at the end of its day."""
    case, view = ctx.care.case, ctx.care.view
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
    await cases.add_extra_task(
        ctx.db, case.id, item_id, view.phase_id, lane, action.text, due, f"minutes:{key}:{action.ref}", ctx.now
    )
    if action.owner.startswith("@"):
        await cases.assign(ctx.db, case.id, item_id, action.owner)


# -- !minutes <meeting-id> <what> … ---------------------------------------------------------

registry.group("minutes", lead=[Arg("meeting-id")])


async def _record_minutes(ctx: Context, change_of: Callable[[Minutes], MinutesChange]) -> Reply:
    """One change of a meeting's minutes: recorded as a new version; an action also becomes a task."""
    room = ctx.care
    key = ctx.args["meeting-id"].lower()
    current = await changelogs.load_minutes(ctx.db, room.case.id, key)
    if current is None:
        raise CommandError("minutes.no_meeting", meeting=key)
    change = change_of(current)
    await changelogs.add_minutes_change(ctx.db, room.case.id, key, change, ctx.event.event_id)
    if change.kind == "action":
        await _action_becomes_task(ctx, key, care_minutes.apply_minutes(current, change))
    await room.audit("minutes.changed", meeting=key, version=change.version, kind=change.kind)
    return ctx.ok(
        ctx.t("minutes.recorded", meeting=key, version=change.version), meeting=key, minutes_version=change.version
    )


@command(
    "minutes present",
    args=[Arg("users", person_arg, repeat=True, metavar="@user:server")],
    where=CASE_ROOM,
    rule=CARE_TEAM,
    help_section=Section.MEETINGS,
)
async def minutes_present(ctx: Context) -> Reply:
    """Who took part in the meeting."""
    users = ctx.args["users"]
    return await _record_minutes(ctx, lambda m: care_minutes.add_present(m, users, by=ctx.sender, at=ctx.now))


# Free text is optional here so that an empty one gets the care logic's own explanation (minutes.empty_text).
TEXT = Arg("text", optional=True, rest=True)


@command("minutes note", args=[TEXT], where=CASE_ROOM, rule=CARE_TEAM, help_section=Section.MEETINGS)
async def minutes_note(ctx: Context) -> Reply:
    """A note in the minutes."""
    return await _record_minutes(
        ctx, lambda m: care_minutes.add_note(m, ctx.args["text"] or "", by=ctx.sender, at=ctx.now)
    )


@command("minutes decision", args=[TEXT], where=CASE_ROOM, rule=CARE_TEAM, help_section=Section.MEETINGS)
async def minutes_decision(ctx: Context) -> Reply:
    """A decision of the meeting."""
    return await _record_minutes(
        ctx, lambda m: care_minutes.add_decision(m, ctx.args["text"] or "", by=ctx.sender, at=ctx.now)
    )


@command(
    "minutes action",
    args=[
        Arg("owner", person_or_lane_arg, optional=True, metavar="lane|@user"),
        Arg("due", date_arg, optional=True, metavar="YYYY-MM-DD"),
        Arg("text", optional=True, rest=True),
    ],
    where=CASE_ROOM,
    rule=CARE_TEAM,
    help_section=Section.MEETINGS,
)
async def minutes_action(ctx: Context) -> Reply:
    """An action with who does it and by when: it becomes a task of the case, with reminders."""
    pathway = ctx.care.view.pathway
    owner, due, text = ctx.args["owner"], ctx.args["due"], ctx.args["text"]
    if text is None:
        raise CommandError("minutes.action_usage")
    return await _record_minutes(
        ctx, lambda m: care_minutes.assign_action(m, pathway, text, owner, by=ctx.sender, at=ctx.now, due=due)
    )


@command(
    "minutes topic",
    args=[Arg("n", optional=True), TEXT],
    where=CASE_ROOM,
    rule=CARE_TEAM,
    help_section=Section.MEETINGS,
)
async def minutes_topic(ctx: Context) -> Reply:
    """What was said on agenda topic n."""
    number, text = ctx.args["n"] or "", ctx.args["text"] or ""
    return await _record_minutes(ctx, lambda m: care_minutes.answer_topic(m, number, text, by=ctx.sender, at=ctx.now))


@command("minutes close", where=CASE_ROOM, rule=CARE_TEAM, help_section=Section.MEETINGS)
async def minutes_close(ctx: Context) -> Reply:
    """Close the minutes: they change only after `reopen <reason>`."""
    return await _record_minutes(ctx, lambda m: care_minutes.close(m, by=ctx.sender, at=ctx.now))


@command(
    "minutes reopen",
    args=[Arg("reason", optional=True, rest=True)],
    where=CASE_ROOM,
    rule=CARE_TEAM,
    help_section=Section.MEETINGS,
)
async def minutes_reopen(ctx: Context) -> Reply:
    """Reopen closed minutes, with the reason (recorded)."""
    return await _record_minutes(
        ctx, lambda m: care_minutes.reopen(m, ctx.args["reason"] or "", by=ctx.sender, at=ctx.now)
    )
