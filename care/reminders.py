"""Which reminders a case should have now, and what each one says to whom.

Pure: the store keeps one row per planned reminder and asks `desired_reminders` after
every change of the case. Rows that are no longer wanted (the item was done, its due
time moved) are cancelled; new ones are added; rows already sent are never sent again.
Overdue repeats are planned one at a time: the next one is added when the previous
one went out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from homeward.care.calendar import QuietHours, parse_quiet
from homeward.care.case import CaseView, due_at, missing_lanes
from homeward.care.deadlines import ReminderPolicy, reminder_schedule
from homeward.care.pathway import Item

OVERDUE_HORIZON = timedelta(days=21)  # far enough to find the next working day after any holiday run


@dataclass(frozen=True)
class Wanted:
    """A reminder the case should have; (item, kind, sequence, due) is its identity."""

    item_id: str
    kind: str
    sequence: int
    due: datetime
    planned_at: datetime


def quiet_hours(setting: str | None) -> QuietHours:
    """A room's quiet hours: its own setting, or the default 20:00–08:00 and weekends."""
    return parse_quiet(setting) if setting else QuietHours()


def policy_for(setting: str | None) -> ReminderPolicy:
    return ReminderPolicy(quiet=quiet_hours(setting))


def desired_reminders(
    view: CaseView, policy: ReminderPolicy, now: datetime, already: set[tuple[str, str, int, datetime]]
) -> list[Wanted]:
    """Every reminder the open items of the case should have from now on.

    `already` holds the identities of reminders sent before: an overdue repeat that
    went out is followed by the next one, never by itself again. Reminders whose time
    has passed before they were ever planned are not made up (setting a date in the
    past must not flood the room); those planned earlier and missed while the bot was
    down are still in the store and go out late, once.
    """
    calendar = view.calendar()
    wanted: list[Wanted] = []
    for _, item in view.items():
        if not missing_lanes(view, item):
            continue
        due = due_at(view, item, calendar)
        if due is None:
            continue
        last_sent = max((seq for (i, k, seq, d) in already if i == item.id and k == "overdue" and d == due), default=0)
        schedule = reminder_schedule(due, policy, calendar, until=max(now, due) + OVERDUE_HORIZON)
        next_overdue_planned = False
        for reminder in schedule:
            if (item.id, reminder.kind, reminder.sequence, due) in already or reminder.planned_at <= now:
                continue
            if reminder.kind == "overdue":
                # Only the next repeat; it is planned when the previous one went out.
                if reminder.sequence <= last_sent or next_overdue_planned:
                    continue
                next_overdue_planned = True
            wanted.append(Wanted(item.id, reminder.kind, reminder.sequence, due, reminder.planned_at))
    return wanted


def audience_lanes(view: CaseView, item: Item) -> list[str]:
    """The lanes a reminder about `item` is for: the sender of an unsent notice, else who must act."""
    if item.kind == "notice" and view.record(item.id).sent_at is None:
        return [item.sender or ""]
    return missing_lanes(view, item)


def recipients(view: CaseView, item: Item, kind: str) -> list[str]:
    """Who is mentioned: the assigned person or the lanes' members; overdue adds the coordinators."""
    record = view.record(item.id)
    people: list[str] = []
    if record.assigned_to and record.assigned_to in view.members:
        people.append(record.assigned_to)
    else:
        for lane in audience_lanes(view, item):
            people.extend(view.members_of(lane))
    if kind == "overdue":
        people.extend(view.coordinators())
    return sorted(set(people))


def how_to(view: CaseView, item: Item) -> tuple[str, str]:
    """(catalog key, command) that says in one line what to do about the item."""
    if item.kind == "notice" and view.record(item.id).sent_at is None:
        return "reminder.how_send", f"!send {item.id}"
    return "reminder.how_ack", f"!ack {item.id}"

