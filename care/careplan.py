"""The coordinated plan of a case (SIP / individuell plan) as an event-sourced, versioned value.

The plan is a legal document that several services sign up to, so nobody may quietly
rewrite it: every edit is a `CarePlanChange` (what, by whom, when, why) and the plan people
see, `CarePlan`, is only the fold of those changes (`care.changelog`, shared with the
minutes). Removing a goal takes it out of the snapshot, never out of the history.

Pure, like the rest of `care`: an operation looks at the current plan, decides, and
returns the one change record to store, or raises a `Refusal` with a catalog key. The
store keeps the records (`CarePlanChange.to_record` / `from_record`), `fold_careplan` rebuilds
the plan, `apply_careplan` adds one change to it.

Numbering: goals are numbered g1, g2, … in the order they are added, and a number is
never reused. After g2 is removed, g3 stays g3 and the next goal is g4, because people
quote these numbers in chat, in minutes and on paper ("see g3"); a number must mean the
same goal for the life of the case. Sub-goals (g3.s1) and actions (g3.a1) are numbered
the same way within their goal, each in its own series.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from homeward.care.changelog import (
    MAX_TEXT,
    Change,
    Versioned,
    checked_text,
    fold,
    follows,
    next_change,
    owner_id,
)
from homeward.care.pathway import Pathway
from homeward.care.refusal import Refusal

__all__ = [
    "MAX_TEXT",
    "CarePlan",
    "CarePlanAction",
    "CarePlanChange",
    "CarePlanChangeKind",
    "Goal",
    "Ref",
    "SubGoal",
    "add_action",
    "add_goal",
    "add_subgoal",
    "apply_careplan",
    "fold_careplan",
    "history",
    "parse_ref",
    "remove",
    "set_followup",
    "set_responsible",
    "text_lines",
]

CarePlanChangeKind = Literal[
    "goal_added", "subgoal_added", "action_added", "responsible_set", "followup_set", "removed"
]

#: A Matrix user id "@local:server", the other kind of owner besides a lane.
_REF = re.compile(r"^g?(\d+)(?:\.([sa])(\d+))?$")


# --- the change records -------------------------------------------------------------


@dataclass(frozen=True)
class CarePlanChange(Change):
    """One edit of the plan, as stored: never changed or deleted once recorded.

    ``ref`` names what the change creates or removes (``g3``, ``g3.s1``, ``g3.a2``);
    the other fields are the payload of its ``kind``.
    """

    kind: CarePlanChangeKind
    ref: str | None = None
    text: str | None = None
    owner: str | None = None
    start: date | None = None
    end: date | None = None
    lane: str | None = None
    day: date | None = None
    reason: str | None = None


# --- the snapshot -----------------------------------------------------------------------


@dataclass(frozen=True)
class SubGoal:
    """A step on the way to a goal (Delmål)."""

    ref: str
    text: str
    added_at: datetime
    added_by: str


@dataclass(frozen=True)
class CarePlanAction:
    """Something a service or a person does for a goal (Insatser / Tiltak), maybe for a period."""

    ref: str
    text: str
    owner: str  # a lane id of the pathway, or a Matrix user id "@x:y"
    start: date | None
    end: date | None
    added_at: datetime
    added_by: str

    @property
    def owner_is_lane(self) -> bool:
        return not self.owner.startswith("@")


@dataclass(frozen=True)
class Goal:
    """A goal of the plan (Huvudmål / Mål) with its sub-goals and actions."""

    number: int
    text: str
    added_at: datetime
    added_by: str
    subgoals: tuple[SubGoal, ...] = ()
    actions: tuple[CarePlanAction, ...] = ()

    @property
    def ref(self) -> str:
        return f"g{self.number}"


@dataclass(frozen=True)
class CarePlan(Versioned):
    """The plan as it stands after its changes; `changes` is the full history (version 0: none yet)."""

    changes: tuple[CarePlanChange, ...] = ()
    goals: tuple[Goal, ...] = ()
    responsible: str | None = None  # lane id
    followup: date | None = None

    def goal(self, number: int) -> Goal | None:
        """The goal with this number, if it is in the plan (not removed)."""
        return next((g for g in self.goals if g.number == number), None)

    def refs(self) -> list[str]:
        """Every reference a person can use now, in reading order."""
        found: list[str] = []
        for g in self.goals:
            found.append(g.ref)
            found.extend(s.ref for s in g.subgoals)
            found.extend(a.ref for a in g.actions)
        return found


@dataclass(frozen=True)
class Ref:
    """A parsed reference: goal ``g3``, sub-goal ``g3.s1`` or action ``g3.a2``."""

    goal: int
    part: Literal["s", "a"] | None = None
    number: int | None = None

    def __str__(self) -> str:
        return f"g{self.goal}" if self.part is None else f"g{self.goal}.{self.part}{self.number}"


def parse_ref(text: str) -> Ref | None:
    """Read what a person typed (``g2``, ``G2.S1``, ``g2.a3``; a bare ``2`` means ``g2``)."""
    match = _REF.match(text.strip().lower())
    if match is None:
        return None
    goal, part, number = match.groups()
    if part is None:
        return Ref(int(goal))
    return Ref(int(goal), "s" if part == "s" else "a", int(number))


# --- folding ----------------------------------------------------------------------------


def apply_careplan(plan: CarePlan, change: CarePlanChange) -> CarePlan:
    """The plan after one more change; ValueError if the change does not fit (stale or corrupt)."""
    follows("plan", plan.version, change)
    goals = plan.goals
    responsible, followup = plan.responsible, plan.followup
    ref = parse_ref(change.ref) if change.ref else None
    needs_ref = change.kind in ("goal_added", "subgoal_added", "action_added", "removed")
    if needs_ref and ref is None:
        raise ValueError(f"plan change {change.version} ({change.kind}) has no valid ref")
    text, owner = change.text or "", change.owner or ""
    if change.kind == "goal_added" and ref is not None:
        goals = (*goals, Goal(ref.goal, text, change.at, change.by))
    elif change.kind == "subgoal_added" and ref is not None:
        sub = SubGoal(str(ref), text, change.at, change.by)
        goals = _edit_goal(goals, ref.goal, lambda g: replace(g, subgoals=(*g.subgoals, sub)))
    elif change.kind == "action_added" and ref is not None:
        action = CarePlanAction(str(ref), text, owner, change.start, change.end, change.at, change.by)
        goals = _edit_goal(goals, ref.goal, lambda g: replace(g, actions=(*g.actions, action)))
    elif change.kind == "responsible_set":
        responsible = change.lane
    elif change.kind == "followup_set":
        followup = change.day
    elif change.kind == "removed" and ref is not None:
        if ref.part is None:
            if plan.goal(ref.goal) is None:
                raise ValueError(f"plan change {change.version} removes {ref}, which is not in the plan")
            goals = tuple(g for g in goals if g.number != ref.goal)
        else:
            name = str(ref)
            goals = _edit_goal(
                goals,
                ref.goal,
                lambda g: replace(
                    g,
                    subgoals=tuple(s for s in g.subgoals if s.ref != name),
                    actions=tuple(a for a in g.actions if a.ref != name),
                ),
            )
    else:
        raise ValueError(f"unknown plan change kind {change.kind!r}")
    return CarePlan((*plan.changes, change), goals, responsible, followup)


def _edit_goal(goals: tuple[Goal, ...], number: int, edit: Callable[[Goal], Goal]) -> tuple[Goal, ...]:
    if not any(g.number == number for g in goals):
        raise ValueError(f"plan change refers to g{number}, which is not in the plan")
    return tuple(edit(g) if g.number == number else g for g in goals)


def fold_careplan(changes: Iterable[CarePlanChange]) -> CarePlan:
    """The plan that the stored changes describe (in version order, whatever order they come in)."""
    return fold(changes, apply_careplan, CarePlan())


def history(plan: CarePlan, ref: str | None = None) -> list[CarePlanChange]:
    """The changes, or those about one reference and what it holds (``g2`` includes ``g2.s1``)."""
    if ref is None:
        return list(plan.changes)
    wanted = parse_ref(ref)
    if wanted is None:
        return []
    name = str(wanted)
    return [c for c in plan.changes if c.ref is not None and (c.ref == name or c.ref.startswith(name + "."))]


# --- operations -------------------------------------------------------------------------


def add_goal(plan: CarePlan, text: str, *, by: str, at: datetime, reason: str | None = None) -> CarePlanChange:
    """Record a new goal; it gets the next goal number, never one used before."""
    number = 1 + sum(1 for c in plan.changes if c.kind == "goal_added")
    return _change(plan, "goal_added", by, at, reason, ref=f"g{number}", text=_text(text))


def add_subgoal(
    plan: CarePlan, goal: int | str, text: str, *, by: str, at: datetime, reason: str | None = None
) -> CarePlanChange:
    """Record a sub-goal of goal ``goal`` (a number as users see it: 3 or "g3")."""
    number = _goal_number(plan, goal)
    cleaned = _text(text)
    ref = f"g{number}.s{_next_in_goal(plan, number, 's')}"
    return _change(plan, "subgoal_added", by, at, reason, ref=ref, text=cleaned)


def add_action(
    plan: CarePlan,
    pathway: Pathway,
    goal: int | str,
    text: str,
    owner: str,
    *,
    by: str,
    at: datetime,
    start: date | None = None,
    end: date | None = None,
    reason: str | None = None,
) -> CarePlanChange:
    """Record an action for goal ``goal``, owned by a lane (id, name or alias) or a person (``@x:y``)."""
    number = _goal_number(plan, goal)
    cleaned = _text(text)
    owner = owner_id(pathway, owner, "plan")
    if start is not None and end is not None and end < start:
        raise Refusal("plan.bad_period", start=start.isoformat(), end=end.isoformat())
    ref = f"g{number}.a{_next_in_goal(plan, number, 'a')}"
    return _change(plan, "action_added", by, at, reason, ref=ref, text=cleaned, owner=owner, start=start, end=end)


def set_responsible(
    plan: CarePlan, pathway: Pathway, lane: str, *, by: str, at: datetime, reason: str | None = None
) -> CarePlanChange:
    """Record the lane responsible for the plan as a whole (Ansvarig / Ansvarlig)."""
    found = pathway.find_lane(lane)
    if found is None:
        raise Refusal("plan.unknown_lane", lane=lane, lanes=", ".join(x.id for x in pathway.lanes))
    return _change(plan, "responsible_set", by, at, reason, lane=found.id)


def set_followup(plan: CarePlan, day: date, *, by: str, at: datetime, reason: str | None = None) -> CarePlanChange:
    """Record the date the plan is to be followed up (Uppföljningsdatum / Oppfølgingsdato)."""
    return _change(plan, "followup_set", by, at, reason, day=day)


def remove(plan: CarePlan, ref: str, reason: str, *, by: str, at: datetime) -> CarePlanChange:
    """Take a goal (with what it holds), sub-goal or action out of the plan; the reason is required.

    The thing stays in `history`; its number is never given to anything else.
    """
    wanted = parse_ref(ref)
    if wanted is None or str(wanted) not in plan.refs():
        raise Refusal("plan.unknown_ref", ref=ref, refs=", ".join(plan.refs()) or "—")
    if not reason or not reason.strip():
        raise Refusal("plan.reason_needed")
    return _change(plan, "removed", by, at, reason, ref=str(wanted))


def _change(
    plan: CarePlan, kind: CarePlanChangeKind, by: str, at: datetime, reason: str | None, **payload: Any
) -> CarePlanChange:
    cleaned = _text(reason) if reason is not None and reason.strip() else None
    return next_change(CarePlanChange, plan.version, kind, by, at, reason=cleaned, **payload)


def _text(text: str) -> str:
    """One line of plan text: the plan is rendered line by line, so whitespace is collapsed."""
    return checked_text(" ".join(text.split()), "plan")


def _goal_number(plan: CarePlan, goal: int | str) -> int:
    number: int | None
    if isinstance(goal, int):
        number = goal
    else:
        parsed = parse_ref(goal)
        number = parsed.goal if parsed is not None and parsed.part is None else None
    if number is None or plan.goal(number) is None:
        raise Refusal(
            "plan.unknown_goal",
            n=goal,
            count=len(plan.goals),
            goals=", ".join(g.ref for g in plan.goals) or "—",
        )
    return number


def _next_in_goal(plan: CarePlan, goal: int, part: Literal["s", "a"]) -> int:
    """The next sub-goal or action number of a goal, counting removed ones too."""
    prefix = f"g{goal}.{part}"
    kind = "subgoal_added" if part == "s" else "action_added"
    return 1 + sum(1 for c in plan.changes if c.kind == kind and c.ref is not None and c.ref.startswith(prefix))


# --- showing ------------------------------------------------------------------------------


def text_lines(plan: CarePlan, pathway: Pathway, person: Callable[[str], str] = str) -> list[str]:
    """The plan in the pathway's own words (SIP: Huvudmål/Delmål/Insatser…; IP: Mål/Delmål/Tiltak…).

    Plain text, one line each, two spaces of indent per level; the caller escapes and
    formats it for the room. Times are in the pathway's time zone. `person` writes a person
    (who changed the plan, an action's owner) from their user id: as is, unless the caller
    names people otherwise.
    """
    terms = pathway.plan
    header = f"{terms.name} · v{plan.version}"
    if plan.changed_at is not None:
        local = plan.changed_at.astimezone(ZoneInfo(pathway.timezone))
        header += f" · {local:%Y-%m-%d %H:%M}"
        if plan.changed_by is not None:
            header += f" · {person(plan.changed_by)}"
    lines = [
        header,
        f"{terms.responsible}: {_lane_name(pathway, plan.responsible) if plan.responsible else '—'}",
        f"{terms.followup}: {plan.followup.isoformat() if plan.followup else '—'}",
    ]
    if not plan.goals:
        lines.append(f"{terms.goal}: —")
    for goal in plan.goals:
        lines.append(f"{goal.ref} {terms.goal}: {goal.text}")
        if goal.subgoals:
            lines.append(f"  {terms.subgoal}:")
            lines.extend(f"    {s.ref} {s.text}" for s in goal.subgoals)
        if goal.actions:
            lines.append(f"  {terms.action}:")
            for a in goal.actions:
                owner = _lane_name(pathway, a.owner) if a.owner_is_lane else person(a.owner)
                line = f"    {a.ref} {a.text} — {terms.responsible}: {owner}"
                if a.start is not None or a.end is not None:
                    span = f"{a.start.isoformat() if a.start else ''}–{a.end.isoformat() if a.end else ''}"
                    line += f" — {terms.period}: {span}" if terms.period else f" — {span}"
                lines.append(line)
    return lines


def _lane_name(pathway: Pathway, lane_id: str) -> str:
    """The lane's name; its id if the pathway file no longer has it (the plan outlives edits)."""
    try:
        return pathway.lane(lane_id).name
    except KeyError:
        return lane_id
