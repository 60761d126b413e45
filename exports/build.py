"""From the case as the care logic holds it to the snapshot the exports render.

Pure: the caller loads the case view, the plan, the consent answers and the minutes; this
module only translates (lane ids to their names, states, the pathway's own words).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from homeward.care.careplan import CarePlan
from homeward.care.case import CaseView, due_at, item_state
from homeward.care.consent import Answer, consent_state
from homeward.care.delays import reason_label
from homeward.care.minutes import Minutes
from homeward.care.timeline import TimelineLayout
from homeward.exports.document import (
    Action,
    CarePlanDocument,
    ConsentAnswer,
    ConsentLine,
    Goal,
    ItemLine,
    MeetingLine,
    MinutesAction,
    MinutesDocument,
    Participant,
    Person,
    SubGoal,
    TopicAnswer,
)


def _owner(view: CaseView, owner: str) -> str:
    return owner if owner.startswith("@") else view.pathway.lane(owner).name


def people_of(view: CaseView, users: Iterable[str], names: Mapping[str, str] | None) -> tuple[Person, ...]:
    """Each of `users` as a document names them: the display name the room knows (`names`), the lane's name
    as their organisation (for a coordinator without a lane, the pathway's word for a coordinator)."""
    pathway = view.pathway
    found: dict[str, Person] = {}
    for user in users:
        if not user.startswith("@") or user in found:
            continue
        member = view.members.get(user)
        if member is not None and member.lane:
            organisation: str | None = pathway.lane(member.lane).name
        elif member is not None and member.coordinator:
            organisation = pathway.plan.coordinator
        else:
            organisation = None
        found[user] = Person(user, (names or {}).get(user) or None, organisation)
    return tuple(found.values())


def named_in_plan(view: CaseView, plan: CarePlan, answers: list[Answer], opened_by: str) -> list[str]:
    """Everyone a plan document names: the team, who answered a consent, who changed the plan, the actions' owners."""
    users = [*sorted(view.members), *(a.user_id for a in answers), opened_by]
    users += [c.by for c in plan.changes]
    users += [a.owner for goal in plan.goals for a in goal.actions if a.owner.startswith("@")]
    return list(dict.fromkeys(users))


def careplan_document(
    view: CaseView,
    plan: CarePlan,
    answers: list[Answer],
    minutes: dict[str, Minutes],
    now: datetime,
    opened_by: str,
    *,
    timeline: TimelineLayout | None = None,
    names: Mapping[str, str] | None = None,
    change_note: str = "",
    review: str | None = None,
    canonical: str | None = None,
) -> CarePlanDocument:
    """`names`: the display names the room knows, by user id (read at export time, never stored);
    `change_note`: what the plan's last change did, in words."""
    pathway = view.pathway
    calendar = view.calendar()
    terms = {
        key: getattr(pathway.plan, key)
        for key in ("goal", "subgoal", "action", "responsible", "followup", "coordinator")
    }
    # The plan period has its own word (the pathway's, else the exports'): never the follow-up date's.
    terms["period"] = pathway.plan.period or ""
    meetings = []
    for meeting in pathway.meetings:
        held = minutes.get(meeting.id)
        meetings.append(
            MeetingLine(
                id=meeting.id,
                title=meeting.title,
                start=held.start if held else None,
                duration_minutes=int(held.duration.total_seconds() // 60) if held else 60,
                participants=tuple(meeting.participants),
                topics=tuple(meeting.topic_lines()),
            )
        )
    return CarePlanDocument(
        case_label=view.label,
        pathway_id=pathway.id,
        pathway_title=pathway.title,
        language=pathway.language,
        timezone=pathway.timezone,
        country=pathway.country,
        plan_name=pathway.plan.name,
        terms=terms,
        version=plan.version,
        changed_at=plan.changed_at or now,
        changed_by=plan.changed_by or opened_by,
        generated_at=now,
        goals=tuple(
            Goal(
                ref=goal.ref,
                text=goal.text,
                subgoals=tuple(SubGoal(s.ref, s.text) for s in goal.subgoals),
                actions=tuple(Action(a.ref, _owner(view, a.owner), a.text, a.start, a.end) for a in goal.actions),
            )
            for goal in plan.goals
        ),
        responsible=pathway.lane(plan.responsible).name if plan.responsible else None,
        followup=plan.followup,
        participants=tuple(
            Participant(m.user_id, pathway.lane(m.lane).name if m.lane else "—", m.coordinator)
            for m in sorted(view.members.values(), key=lambda m: m.user_id)
        ),
        consents=tuple(
            ConsentLine(
                c.id,
                c.title,
                consent_state(view, c, answers),
                tuple(ConsentAnswer(a.user_id, a.answer, a.at) for a in answers if a.consent_id == c.id),
                covered_by=pathway.consent(c.covered_by.consent).title if c.covered_by else None,
                covered_rule=" ".join(c.covered_by.rule.split()) if c.covered_by else None,
            )
            for c in pathway.consents
        ),
        items=tuple(
            ItemLine(
                id=item.id,
                phase=phase.title,
                kind=item.kind,
                title=item.title,
                lane=pathway.lane((item.lane if item.kind == "task" else item.sender) or "").name,
                state=item_state(view, item, now, calendar),
                due=due_at(view, item, calendar),
                reasons=tuple(
                    (pathway.lane(lane).name, reason_label(view, given), given.code)
                    for (item_id, lane), given in sorted(view.reasons.items())
                    if item_id == item.id
                ),
            )
            for phase, item in view.items()
        ),
        meetings=tuple(meetings),
        timeline=timeline,
        people=people_of(view, named_in_plan(view, plan, answers, opened_by), names),
        change_note=change_note,
        review_markdown=review,
        pathway_canonical=canonical,
    )


def minutes_document(
    view: CaseView, minutes: Minutes, now: datetime, *, names: Mapping[str, str] | None = None
) -> MinutesDocument:
    pathway = view.pathway
    people = people_of(view, [*minutes.present, *(c.by for c in minutes.changes)], names)
    known = {person.user_id: person for person in people}

    def who(user: str) -> str:
        person = known.get(user)
        return person.text() if person else user

    return MinutesDocument(
        case_label=view.label,
        pathway_title=pathway.title,
        language=pathway.language,
        timezone=pathway.timezone,
        title=minutes.title,
        start=minutes.start,
        duration_minutes=int(minutes.duration.total_seconds() // 60),
        present=tuple(who(u) for u in minutes.present),
        notes=tuple(n.text for n in minutes.notes),
        decisions=tuple(d.text for d in minutes.decisions),
        actions=tuple(MinutesAction(_owner(view, a.owner), a.due, a.text) for a in minutes.actions),
        topic_answers=tuple(TopicAnswer(a.n, a.topic, a.text) for a in minutes.answers),
        closed=minutes.closed,
        version=minutes.version,
        changed_at=minutes.changes[-1].at,  # minutes always hold their opening
        changed_by=minutes.changes[-1].by,
        generated_at=now,
        people=people,
    )
