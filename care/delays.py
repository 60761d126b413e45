"""Why children wait: every wait of a case, the reason its lane gives, and when to ask for one.

A *wait* is one lane late with one item: a task done after its due time (or still open
past it), a notice sent after its own due rule, a receiving lane's acknowledgement after
its time to acknowledge. Each lasts from the due time to when the lane did its part, or
to the moment the case is read (now, or its closing) while it still waits.

The lane says why with one of the pathway's reasons (`care.pathway.DelayReason`, in the
pathway's words with a shared `code`), by command or by a one-word reply to the overdue
reminder that asks; it can change its answer; a coordinator can answer for a lane. The
latest answer per (item, lane) counts (`CaseView.reasons`); every answer is kept and audited.

Nobody is asked twice a day: an overdue reminder asks a lane about an item only if the
lane has given no reason for it, was never asked about it before, and was asked about
nothing else that local day (`lanes_to_ask`). A later reminder of the same item does not
ask again; the lane answers whenever it likes.

Pure, like the rest of `care`: the store loads the reasons and the asks, these functions decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from homeward.care.calendar import WorkingCalendar
from homeward.care.case import (
    CaseView,
    GivenReason,
    Membership,
    ack_due_at,
    acts_for,
    done_at,
    due_at,
    rule_due_at,
)
from homeward.care.pathway import DelayReason, Item
from homeward.care.refusal import Refusal
from homeward.text import Markdown, code, escape

Step = Literal["task", "send", "ack"]


@dataclass(frozen=True)
class Wait:
    """One lane late with one item: due at `due`, done at `done` (None: still waiting)."""

    item_id: str
    phase_id: str
    lane: str
    step: Step  # a task done, a notice sent, a notice acknowledged
    due: datetime
    done: datetime | None
    reason: GivenReason | None = None

    def days(self, at: datetime) -> float:
        """How long the lane waited (or has waited so far, read at `at`), in days."""
        return max((self.done or at) - self.due, timedelta(0)) / timedelta(days=1)

    @property
    def waiting(self) -> bool:
        return self.done is None


def waits(view: CaseView, at: datetime) -> list[Wait]:
    """Every wait of the case read at `at` (now, or the closing of a closed case), in the pathway's order."""
    calendar = view.calendar()
    return [w for phase, item in view.items() for w in _item_waits(view, phase.id, item, at, calendar)]


def waits_of(view: CaseView, item: Item, at: datetime) -> list[Wait]:
    """The waits of one item."""
    phase_id = next((phase.id for phase, i in view.items() if i.id == item.id), "")
    return _item_waits(view, phase_id, item, at, view.calendar())


def _item_waits(view: CaseView, phase_id: str, item: Item, at: datetime, calendar: WorkingCalendar) -> list[Wait]:
    found: list[Wait] = []
    for lane, step, due, done in steps(view, item, calendar):
        if due is not None and (done or at) > due:
            found.append(Wait(item.id, phase_id, lane, step, due, done, view.reasons.get((item.id, lane))))
    return found


def steps(
    view: CaseView, item: Item, calendar: WorkingCalendar | None = None
) -> list[tuple[str, Step, datetime | None, datetime | None]]:
    """(lane, step, due, done) for each lane's part of the item, late or not."""
    calendar = calendar or view.calendar()
    record = view.record(item.id)
    if item.kind == "task":
        return [(item.lane or "", "task", due_at(view, item, calendar), done_at(view, item))]
    steps: list[tuple[str, Step, datetime | None, datetime | None]] = [
        (item.sender or "", "send", rule_due_at(view, item, calendar), record.sent_at)
    ]
    if record.sent_at is not None:
        ack_due = ack_due_at(view, item, record.sent_at, calendar)
        acked = {a.lane: a.at for a in record.acks}
        steps.extend((lane, "ack", ack_due, acked.get(lane)) for lane in item.recipients)
    return steps


def late_lanes(view: CaseView, item: Item, at: datetime) -> list[str]:
    """The lanes that are (or were) late with the item: those who may say why."""
    lanes: list[str] = []
    for wait in waits_of(view, item, at):
        if wait.lane not in lanes:
            lanes.append(wait.lane)
    return lanes


# -- answering -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonDecision:
    """What `!reason` records: for which lane, which reason, whether on the lane's behalf, and what it replaces."""

    lane: str
    reason: DelayReason
    on_behalf: bool
    previous: GivenReason | None

    @property
    def unchanged(self) -> bool:
        return self.previous is not None and self.previous.reason == self.reason.id


def find_reason(view: CaseView, text: str) -> DelayReason:
    """The pathway's reason meant by `text` (its word or an alias, diacritics optional), or a Refusal listing them."""
    pathway = view.pathway
    if not pathway.delay_reasons:
        raise Refusal("delay.no_reasons")
    reason = pathway.find_reason(text.strip())
    if reason is None:
        raise Refusal("delay.unknown_reason", reason=text.strip()[:40], reasons=reason_words(view))
    return reason


def reason_words(view: CaseView) -> Markdown:
    """The reasons as people type them: "`utstyr` (Venter på utstyr), …" (ids in code, as typed)."""
    return Markdown(", ".join(f"{code(r.id)} ({escape(r.label)})" for r in view.pathway.delay_reasons))


def decide_reason(
    view: CaseView,
    item: Item,
    user_id: str,
    reason: DelayReason,
    at: datetime,
    lane_hint: str | None = None,
) -> ReasonDecision:
    """For which lane `user_id` gives `reason`: their own late lane, or, for a coordinator, the one named
    (or the only one late). A Refusal when the item is not late, or the person cannot answer for it."""
    member: Membership | None = view.members.get(user_id)
    if member is None:
        raise Refusal("care.not_a_member")
    late = late_lanes(view, item, at)
    if not late:
        raise Refusal("delay.not_late", item=item.id)
    if lane_hint is not None and lane_hint not in late:
        raise Refusal("delay.lane_not_late", item=item.id, lanes=_names(view, late))
    own = [lane for lane in late if acts_for(view, member, lane)]
    if own and (lane_hint is None or lane_hint in own):
        lane = lane_hint or own[0]
        return ReasonDecision(lane, reason, False, view.reasons.get((item.id, lane)))
    if member.coordinator:
        if lane_hint is not None:
            return ReasonDecision(lane_hint, reason, True, view.reasons.get((item.id, lane_hint)))
        if len(late) == 1:
            return ReasonDecision(late[0], reason, True, view.reasons.get((item.id, late[0])))
        raise Refusal("delay.say_which_lane", item=item.id, lanes=", ".join(late))
    raise Refusal("delay.wrong_lane", item=item.id, lanes=_names(view, late))


def _names(view: CaseView, lanes: list[str]) -> str:
    return ", ".join(view.pathway.lane(lane).name for lane in lanes)


# -- asking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """An overdue reminder asked `lane` why `item_id` is late, at `at`."""

    item_id: str
    lane: str
    at: datetime


def lanes_to_ask(view: CaseView, item: Item, lanes: list[str], asks: list[Ask], now: datetime) -> list[str]:
    """Which of `lanes` (those an overdue reminder of `item` is for) it asks why.

    A lane is asked when it still waits on the item, has given no reason for it, was never
    asked about it, and was asked about nothing that local day: nobody is asked twice a day.
    """
    if not view.pathway.delay_reasons:
        return []
    zone = ZoneInfo(view.pathway.timezone)
    today = now.astimezone(zone).date()
    waiting = {w.lane for w in waits_of(view, item, now) if w.waiting}
    asked_before = {(a.item_id, a.lane) for a in asks}
    asked_today = {a.lane for a in asks if a.at.astimezone(zone).date() == today}
    return [
        lane
        for lane in lanes
        if lane in waiting
        and (item.id, lane) not in view.reasons
        and (item.id, lane) not in asked_before
        and lane not in asked_today
    ]


def reason_label(view: CaseView, given: GivenReason) -> str:
    """The reason as the pathway words it (its id, if the pathway no longer has it)."""
    try:
        return view.pathway.reason(given.reason).label
    except KeyError:
        return given.reason
