"""The family's own view of the case: where we are, what happens next and when, who we are waiting
for, what we need from you — in plain words, without item ids.

Riksrevisionen found that parents of seriously ill children end up coordinating the help themselves;
this view is the team's side of the work, said to the family. `!status` shows it to a guardian, the
young person or the family's lane (`!status all` the full list), and the regular update
(`work.updates`) says it in a few lines, naming the family, every few working days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from homeward.care.arrival import consents_waiting_for, open_for_lane
from homeward.care.case import CaseView, acts_for, item_state
from homeward.care.consent import Answer
from homeward.care.pathway import Pathway
from homeward.care.updates import FAMILY_ROLES
from homeward.messages.speaker import Speaker
from homeward.text import Markdown, escape, mentions

#: At most this many upcoming dates, and item titles per lane, are named.
NEXT_DATES = 3
TITLES_PER_LANE = 2


def is_family(view: CaseView, user_id: str) -> bool:
    """Whether `user_id` is on the team in a lane of the family (a guardian, the young person, the family)."""
    member = view.members.get(user_id)
    return member is not None and member.lane is not None and view.pathway.lane(member.lane).role in FAMILY_ROLES


def family_members(view: CaseView) -> list[str]:
    """Everyone on the team in a lane of the family: whom the regular update names."""
    return sorted(user for user in view.members if is_family(view, user))


def spoken_date(room: Speaker, moment: date | datetime, pathway: Pathway) -> str:
    """A date as people say it: "fredag 4 december", with "kl. 10:00" for a time."""
    local = moment.astimezone(ZoneInfo(pathway.timezone)) if isinstance(moment, datetime) else moment
    weekday = str(room.t("desk.weekdays")).split(",")[local.weekday()].strip()
    month = str(room.t("family.months")).split()[local.month - 1]
    text = str(room.t("family.date", weekday=weekday, day=local.day, month=month))
    if isinstance(local, datetime):
        text += " " + str(room.t("family.at_time", time=f"{local:%H:%M}"))
    return text


@dataclass
class FamilyView:
    """What the family is told, each part as plain Markdown phrases (no ids)."""

    phase: str
    step: int
    steps: int
    done: int
    total: int
    upcoming: list[str]  # "SIP-möte på sjukhus fredag 4 december kl. 10:00"
    waiting: list[tuple[str, list[str]]]  # (lane name, item titles, an overdue one marked)
    consents: list[str]  # titles of the consents waiting for them
    tasks: list[str]  # titles of the family's own open tasks


def family_view(room: Speaker, view: CaseView, people: list[str], answers: list[Answer]) -> FamilyView:
    """The case as `people` (one person asking, or the family told together) should read it now."""
    pathway = view.pathway
    calendar = view.calendar()
    phases = [phase.id for phase in pathway.phases]
    items = view.phase_items()
    done = sum(1 for item in items if item_state(view, item, room.now, calendar) == "done")
    now_local = room.now.astimezone(ZoneInfo(pathway.timezone))
    upcoming: list[tuple[datetime, str]] = []
    for named in pathway.dates:
        value = view.dates.get(named.id)
        if value is None:
            continue
        moment = value if isinstance(value, datetime) else calendar.local(value, time(23, 59))
        if moment >= now_local:
            upcoming.append((moment, f"{escape(named.label)} {spoken_date(room, value, pathway)}"))
    late = str(room.t("family.late"))
    waiting: list[tuple[str, list[str]]] = []
    for lane in pathway.lanes:
        if lane.role in FAMILY_ROLES:
            continue
        titles = []
        for entry in open_for_lane(view, lane.id):
            title = escape(entry.item.title)
            if item_state(view, entry.item, room.now, calendar) == "overdue":
                title += f" ({late})"
            titles.append(title)
        if titles:
            shown = titles[:TITLES_PER_LANE] + ([f"+{len(titles) - TITLES_PER_LANE}"] if len(titles) > 2 else [])
            waiting.append((escape(lane.name), shown))
    consents: list[str] = []
    tasks: list[str] = []
    for user in people:
        for consent in consents_waiting_for(view, user, answers):
            if consent.title not in consents:
                consents.append(consent.title)
        member = view.members.get(user)
        if member is None:
            continue
        for lane in pathway.lanes:
            if not acts_for(view, member, lane.id):
                continue
            for entry in open_for_lane(view, lane.id):
                if entry.item.title not in tasks:
                    tasks.append(entry.item.title)
    return FamilyView(
        phase=view.phase.title,
        step=phases.index(view.phase_id) + 1,
        steps=len(phases),
        done=done,
        total=len(items),
        upcoming=[text for _, text in sorted(upcoming)[:NEXT_DATES]],
        waiting=waiting,
        consents=consents,
        tasks=tasks,
    )


def family_status_markdown(room: Speaker, view: CaseView, user_id: str, answers: list[Answer]) -> str:
    """`!status` as a guardian, the young person or the family reads it."""
    seen = family_view(room, view, [user_id], answers)
    lines = [room.t("family.title", label=view.label), ""]
    if view.closed:
        lines += [room.t("family.closed"), ""]
    lines.append(room.t("family.where", phase=seen.phase, n=seen.step, total=seen.steps))
    lines.append(room.t("family.progress", done=seen.done, count=seen.total))
    lines += ["", _next(room, seen)]
    lines += ["", _waiting(room, seen)]
    lines += ["", _yours(room, seen, "family.yours", "family.yours_none")]
    lines += ["", room.t("family.ask", coordinators=mentions(view.coordinators()))]
    lines += ["", room.t("family.more")]
    return "\n".join(lines)


def _next(room: Speaker, seen: FamilyView) -> str:
    if not seen.upcoming:
        return room.t("family.next_none")
    return room.t("family.next", things=Markdown("; ".join(seen.upcoming)))


def _waiting(room: Speaker, seen: FamilyView) -> str:
    if not seen.waiting:
        return room.t("family.waiting_none")
    who = "; ".join(f"**{lane}** ({', '.join(titles)})" for lane, titles in seen.waiting)
    return room.t("family.waiting", who=Markdown(who))


def _yours(room: Speaker, seen: FamilyView, key: str, none_key: str) -> str:
    things = [room.t("family.consent_thing", title=title) for title in seen.consents]
    things += [escape(title) for title in seen.tasks]
    if not things:
        return room.t(none_key)
    return room.t(key, things=Markdown("; ".join(things)))


def update_markdown(
    room: Speaker, view: CaseView, people: list[str], answers: list[Answer], *, done_since: int, every: int
) -> str:
    """The regular update, naming the family, in a few lines (a message that names someone is shown to
    them whole): what changed since the last one (also that nothing did), where we are, what comes next,
    who we are waiting for, what we need from them."""
    seen = family_view(room, view, people, answers)
    news = room.t("family.news", count=done_since) if done_since else room.t("family.news_none")
    parts = [
        room.t("family.update", people=mentions(people), label=view.label, news=news),
        room.t("family.where_short", phase=seen.phase),
    ]
    if seen.upcoming:
        parts.append(room.t("family.next_short", what=Markdown(seen.upcoming[0])))
    if seen.waiting:
        parts.append(room.t("family.waiting_short", lanes=Markdown(", ".join(lane for lane, _ in seen.waiting))))
    else:
        parts.append(room.t("family.waiting_none"))
    asked = len(seen.consents) + len(seen.tasks)
    parts.append(room.t("family.yours_short", count=asked) if asked else room.t("family.yours_short_none"))
    del every  # said in the room's settings answer and in the greeting's details, not every time
    return " ".join(parts)
