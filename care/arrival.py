"""What a person meets in the room: what is open for their lane, which lanes are empty, what a notice carries.

Pure. The greeting of a newcomer (`work.joins`), `!team`, `!send` and the checklist
read these, so that they all say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from homeward.care.case import CaseView, acts_for, missing_lanes
from homeward.care.consent import Answer, answers_that_count, consent_state, who_answers
from homeward.care.pathway import Consent, Item, NamedDate

#: Why an item is open for a lane: it does it (a task), it sends it, or it must acknowledge it.
Part = Literal["do", "send", "acknowledge"]


@dataclass(frozen=True)
class OpenItem:
    item: Item
    part: Part


def open_for_lane(view: CaseView, lane_id: str) -> list[OpenItem]:
    """The items of the current phase that wait for `lane_id`, in the pathway's order.

    A task of the lane not done yet; a notice the lane sends and has not sent; a notice
    sent to the lane and not yet acknowledged by it (a notice not sent yet waits for its
    sender, not for its receivers).
    """
    found = []
    for item in view.phase_items():
        if item.kind == "task":
            if item.lane == lane_id and missing_lanes(view, item):
                found.append(OpenItem(item, "do"))
        elif item.sender == lane_id and view.record(item.id).sent_at is None:
            found.append(OpenItem(item, "send"))
        elif view.record(item.id).sent_at is not None and lane_id in missing_lanes(view, item):
            found.append(OpenItem(item, "acknowledge"))
    return found


def empty_lanes(view: CaseView) -> set[str]:
    """The lanes with nobody to act for them: nobody in them, and (for the family's lane) no guardian or
    young person, who act for the family (`care.case.acts_for`)."""
    taken = {m.lane for m in view.members.values()}
    return {lane.id for lane in view.pathway.lanes if lane.id not in taken and not acting_for(view, lane.id)}


def acting_for(view: CaseView, lane_id: str) -> list[str]:
    """The members who act for a lane they are not in: the guardians and the young person, for the family's
    lane (`care.case.acts_for`). The family's tasks sit in its lane; they are the ones who tick them."""
    return sorted(m.user_id for m in view.members.values() if m.lane != lane_id and acts_for(view, m, lane_id))


def carried_dates(view: CaseView, item: Item) -> list[tuple[NamedDate, date | datetime | None]]:
    """The dates a notice carries (pathway data, `carries`).

    Each comes with its value in the case, or None when it is not set yet.
    """
    if item.carries is None:
        return []
    return [(view.pathway.date(date_id), view.dates.get(date_id)) for date_id in item.carries.dates]


def consents_waiting_for(view: CaseView, user_id: str, answers: list[Answer]) -> list[Consent]:
    """The consents `user_id` is asked to answer that are still pending and that they have not answered."""
    return [
        consent
        for consent in view.pathway.consents
        if user_id in who_answers(view, consent)
        and consent_state(view, consent, answers) == "pending"
        and user_id not in answers_that_count(view, consent, answers)
    ]


def renewed_by(item: Item, date_id: str, *, was_set: bool) -> bool:
    """Whether setting `date_id` makes a sent notice due again (sent and acknowledged anew).

    When the date changes and the notice's due rule says so (`renew_on`); and when the notice
    carries the date and it was not set when sent: the notice said "not set yet", and its
    receivers would otherwise never learn it.
    """
    if item.due is None or date_id not in item.due.renew_on:
        return False
    return was_set or (item.carries is not None and date_id in item.carries.dates)


def unset_dates(view: CaseView, item: Item) -> list[NamedDate]:
    """The dates the notice carries that are not set yet."""
    return [named for named, value in carried_dates(view, item) if value is None]
