"""The coordinated plan (SIP / individuell plan): `!plan goal|subgoal|action|responsible|followup|show|remove`.

`!plan <date-name> <date>` (commands/handlers/dates.py) keeps working: these sub-commands
are distinct words. Every change is a new version; making the plan needs the consent
that covers it (`plan` in the pathway's consents).
"""

from __future__ import annotations

import re
from datetime import date

from homeward.care import careplan
from homeward.care.careplan import CarePlanChange
from homeward.care.consent import require_consent
from homeward.care.permissions import COORDINATOR, MEMBER
from homeward.commands.arguments import date_arg, person_or_lane_arg
from homeward.commands.context import Context, Reply
from homeward.commands.registry import ANY_STATE, CASE_ROOM, Arg, Section, command
from homeward.messages.careplan import change_note
from homeward.store import cases, changelogs, consents
from homeward.store.cases import CaseRow
from homeward.text import escape, mention

TRAILING_DATES = re.compile(r"(?:\s+(\d{4}-\d{2}-\d{2}))?(?:\s+(\d{4}-\d{2}-\d{2}))?\s*$")


async def _record(ctx: Context, case: CaseRow, change: CarePlanChange) -> Reply:
    await changelogs.add_careplan_change(ctx.db, case.id, change, ctx.event.event_id)
    await ctx.audit("plan.changed", version=change.version, kind=change.kind, ref=change.ref)
    what = change_note(ctx.care, change, ctx.care.view.pathway)
    return ctx.ok(ctx.t("plan.version", version=change.version, what=what), plan_version=change.version, ref=change.ref)


async def _editable(ctx: Context):
    """The case, its view and plan — once the consent that covers making the plan is given."""
    case, view = ctx.care.case, ctx.care.view
    require_consent(view, await consents.answers(ctx.db, case.id), "plan")
    return case, view, await changelogs.load_careplan(ctx.db, case.id)


@command("plan goal", args=[Arg("text", rest=True)], where=CASE_ROOM, rule=COORDINATOR, help_section=Section.DATES)
async def careplan_goal(ctx: Context) -> Reply:
    """Add a goal (Huvudmål / Mål)."""
    case, _view, current = await _editable(ctx)
    return await _record(ctx, case, careplan.add_goal(current, ctx.args["text"], by=ctx.sender, at=ctx.now))


@command(
    "plan subgoal",
    args=[Arg("goal-n"), Arg("text", rest=True)],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.DATES,
)
async def careplan_subgoal(ctx: Context) -> Reply:
    """Add a sub-goal (Delmål) to goal n."""
    case, _view, current = await _editable(ctx)
    return await _record(
        ctx, case, careplan.add_subgoal(current, ctx.args["goal-n"], ctx.args["text"], by=ctx.sender, at=ctx.now)
    )


@command(
    "plan action",
    args=[Arg("goal-n"), Arg("owner", person_or_lane_arg, metavar="lane|@user"), Arg("text", rest=True)],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.DATES,
)
async def careplan_action(ctx: Context) -> Reply:
    """Add an intervention (Insats / Tiltak) with who is responsible, optionally with from and to dates."""
    case, view, current = await _editable(ctx)
    text: str = ctx.args["text"]
    found = TRAILING_DATES.search(text)
    start = end = None
    if found and found.group(1):
        start = date_arg(found.group(1), ctx)
        end = date_arg(found.group(2), ctx) if found.group(2) else None
        text = text[: found.start()].strip()
    change = careplan.add_action(
        current,
        view.pathway,
        ctx.args["goal-n"],
        text,
        ctx.args["owner"],
        by=ctx.sender,
        at=ctx.now,
        start=start,
        end=end,
    )
    return await _record(ctx, case, change)


@command("plan responsible", args=[Arg("lane")], where=CASE_ROOM, rule=COORDINATOR, help_section=Section.DATES)
async def careplan_responsible(ctx: Context) -> Reply:
    """The lane with overall responsibility (samordningsansvar / koordinator)."""
    case, view, current = await _editable(ctx)
    return await _record(
        ctx, case, careplan.set_responsible(current, view.pathway, ctx.args["lane"], by=ctx.sender, at=ctx.now)
    )


@command(
    "plan followup",
    args=[Arg("date", date_arg, metavar="YYYY-MM-DD")],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.DATES,
)
async def careplan_followup(ctx: Context) -> Reply:
    """The follow-up date; it is also the case's `followup` date, so its deadlines and reminders follow."""
    case, view, current = await _editable(ctx)
    day: date = ctx.args["date"]
    reply = await _record(ctx, case, careplan.set_followup(current, day, by=ctx.sender, at=ctx.now))
    if any(d.id == "followup" for d in view.pathway.dates):
        await cases.put_date(ctx.db, case.id, "followup", day, ctx.sender, ctx.now)
    return reply


@command(
    "plan remove",
    args=[Arg("ref", metavar="g2|g2.s1|g2.a1"), Arg("reason", rest=True)],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.DATES,
)
async def careplan_remove(ctx: Context) -> Reply:
    """Remove a goal, sub-goal or action, with a reason; it stays in the plan's history."""
    case, _view, current = await _editable(ctx)
    return await _record(
        ctx, case, careplan.remove(current, ctx.args["ref"], ctx.args["reason"], by=ctx.sender, at=ctx.now)
    )


@command("plan show", where=CASE_ROOM, rule=MEMBER, state=ANY_STATE, help_section=Section.DATES)
async def careplan_show(ctx: Context) -> Reply:
    """The plan as it is now, in the pathway's own words, with its version."""
    case, view = ctx.care.case, ctx.care.view
    current = await changelogs.load_careplan(ctx.db, case.id)
    people = _people(ctx)
    lines = careplan.text_lines(current, view.pathway, person=lambda user: people.get(user, user))
    body = "\n".join(
        "  " * ((len(line) - len(line.lstrip(" "))) // 2) + "- " + _with_people(ctx, line.strip(), people)
        for line in lines
    )
    text = f"**{escape(view.pathway.plan.name)}** — {escape(case.label)}\n\n" + (body or ctx.t("plan.empty"))
    await ctx.audit("plan.read", version=current.version)
    return ctx.ok(text, plan_version=current.version)


#: Marks a person in a plan line while it is plain text (`care.careplan.text_lines`); never in typed text.
_PERSON = "\ue002"


def _people(ctx: Context) -> dict[str, str]:
    """Each member as a plan line holds them: a numbered mark, made a pill by `_with_people`."""
    return {user: f"{_PERSON}{n}{_PERSON}" for n, user in enumerate(sorted(ctx.care.view.members))}


def _with_people(ctx: Context, line: str, people: dict[str, str]) -> str:
    """A plan line as Markdown: its text escaped, each member a pill (Element shows their name) and their lane."""
    view = ctx.care.view
    by_mark = {mark.strip(_PERSON): user for user, mark in people.items()}
    out = []
    for index, part in enumerate(line.replace(_PERSON + _PERSON, _PERSON + " " + _PERSON).split(_PERSON)):
        user = by_mark.get(part) if index % 2 == 1 else None
        if user is None:
            out.append(escape(part))
            continue
        member = view.members[user]
        lane = f" ({escape(view.pathway.lane(member.lane).name)})" if member.lane else ""
        out.append(mention(user) + lane)
    return "".join(out)
