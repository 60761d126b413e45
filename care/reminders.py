"""Which reminders a case should have now, and what each one says to whom.

Pure: the store keeps one row per scheduled reminder and asks `desired_reminders` after
every change of the case. Rows that are no longer wanted (the item was done, its due
time moved) are cancelled; new ones are added; rows already sent are never sent again.
Overdue repeats are scheduled one at a time: the next one is added when the previous
one went out. A statutory clock reaching its limit (`care.clocks`) is a reminder too, of
the kind `clock`, for the coordinators: its row carries the clock's id where an item's
would be, and its due time is the moment the limit is reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from homeward.care.calendar import QuietHours, parse_quiet
from homeward.care.case import CaseView, due_at, missing_lanes
from homeward.care.clocks import read_clock, read_clocks
from homeward.care.deadlines import ReminderPolicy, reminder_schedule
from homeward.care.pathway import Item

OVERDUE_HORIZON = timedelta(days=21)  # far enough to find the next working day after any holiday run
CLOCK = "clock"  # the reminder kind of a statutory clock reaching its limit


@dataclass(frozen=True)
class Wanted:
    """A reminder the case should have; (item, kind, sequence, due) is its identity."""

    item_id: str
    kind: str
    sequence: int
    due: datetime
    planned_at: datetime


#: What makes a reminder the same one: (item, kind, sequence, due); `due` is None for one asked for.
Identity = tuple[str, str, int, datetime | None]


@dataclass(frozen=True)
class ScheduledReminder:
    """A reminder row as the store keeps it: its status "planned" (scheduled), "sent" or "cancelled"."""

    id: int
    case_id: int
    item_id: str
    kind: str
    sequence: int
    due: datetime | None  # None for a reminder someone asked for (`!remind`)
    planned_at: datetime
    fire_at: datetime
    status: str
    requested_by: str | None = None
    outbox_id: int | None = None

    @property
    def identity(self) -> Identity:
        return (self.item_id, self.kind, self.sequence, self.due)


@dataclass
class ReminderChanges:
    """What the store must do so that a case's rows match what its care logic wants."""

    cancel: list[int] = field(default_factory=list)
    move: list[tuple[int, datetime]] = field(default_factory=list)  # same reminder, new time (quiet hours changed)
    add: list[Wanted] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.cancel or self.move or self.add)


def reconcile(
    view: CaseView,
    rows: list[ScheduledReminder],
    quiet: str | None,
    now: datetime,
    *,
    closed_at: datetime | None = None,
) -> ReminderChanges:
    """Cancel scheduled rows no longer wanted, add the new ones; sent rows stay as they are.

    A scheduled row whose time has passed while its item is still open and its due time
    unchanged was missed (the bot was down, or has not fired it yet): it stays, and goes
    out late, once. A closed case wants no reminder at all: every scheduled row is cancelled
    (reopening schedules what is still ahead again). `closed_at`: a case closed then (or
    earlier) has its clocks stopped at that moment, so they remind no more.
    """
    if view.closed:
        return ReminderChanges(cancel=[r.id for r in rows if r.status == "planned"])
    sent = {r.identity for r in rows if r.status == "sent" and r.due is not None}
    policy = policy_for(quiet)
    wanted = desired_reminders(view, policy, now, sent)
    wanted += clock_reminders(view, policy, now, sent, closed_at=closed_at)
    calendar = view.calendar()
    current_due = {item.id: due_at(view, item, calendar) for _, item in view.items()}
    open_items = {item.id for _, item in view.items() if missing_lanes(view, item)}
    wanted_keys = {(w.item_id, w.kind, w.sequence, w.due) for w in wanted}
    changes = ReminderChanges()
    scheduled = {r.identity: r for r in rows if r.status == "planned"}
    kept: set[tuple[str, str, int, datetime | None]] = set()
    for key, row in scheduled.items():
        missed = row.fire_at <= now and row.item_id in open_items and row.due == current_due.get(row.item_id)
        if row.kind == "custom":
            # Someone's own reminder lives while its item is open and they are on the team.
            keep = row.item_id in open_items and (row.requested_by is None or row.requested_by in view.members)
        else:
            keep = key in wanted_keys or missed
        if keep:
            kept.add(key)
        else:
            changes.cancel.append(row.id)
    for w in wanted:
        key = (w.item_id, w.kind, w.sequence, w.due)
        if key not in kept:
            changes.add.append(w)
        elif scheduled[key].planned_at != w.planned_at:
            changes.move.append((scheduled[key].id, w.planned_at))
    return changes


FiringAction = Literal["fire", "cancel", "postpone"]


@dataclass(frozen=True)
class Firing:
    """What to do with a reminder whose time has come."""

    action: FiringAction
    until: datetime | None = None  # for "postpone"


def firing(view: CaseView, item: Item, quiet: str | None, snoozed: dict[str, datetime], now: datetime) -> Firing:
    """Fire now, drop it (the item is done, the case closed), or wait.

    It waits for the end of quiet hours, or while every lane snoozed it.
    """
    if view.closed or not missing_lanes(view, item):
        return Firing("cancel")
    allowed = quiet_hours(quiet).next_allowed(now, view.calendar())
    if allowed > now:  # e.g. missed during the night while the bot was down: wait for the morning
        return Firing("postpone", allowed)
    lanes = audience_lanes(view, item)
    later = [snoozed[lane] for lane in lanes if lane in snoozed and snoozed[lane] > now]
    if lanes and len(later) == len(lanes):
        return Firing("postpone", min(later))
    return Firing("fire")


def quiet_hours(setting: str | None) -> QuietHours:
    """A room's quiet hours: its own setting, or the default 20:00–08:00 and weekends."""
    return parse_quiet(setting) if setting else QuietHours()


def policy_for(setting: str | None) -> ReminderPolicy:
    return ReminderPolicy(quiet=quiet_hours(setting))


def desired_reminders(view: CaseView, policy: ReminderPolicy, now: datetime, already: set[Identity]) -> list[Wanted]:
    """Every reminder the open items of the case should have from now on.

    `already` holds the identities of reminders sent before: an overdue repeat that
    went out is followed by the next one, never by itself again. Reminders whose time
    has passed before they were ever scheduled are not made up (setting a date in the
    past must not flood the room); those scheduled earlier and missed while the bot was
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
                # Only the next repeat; it is scheduled when the previous one went out.
                if reminder.sequence <= last_sent or next_overdue_planned:
                    continue
                next_overdue_planned = True
            wanted.append(Wanted(item.id, reminder.kind, reminder.sequence, due, reminder.planned_at))
    return wanted


def clock_reminders(
    view: CaseView,
    policy: ReminderPolicy,
    now: datetime,
    already: set[Identity],
    *,
    closed_at: datetime | None = None,
) -> list[Wanted]:
    """One reminder per clock run: when the limit is reached, moved out of quiet hours.

    Unlike an item's reminders, a limit already passed when the clock became known (a
    date set in the past) is still told, once: the coordinators must know the municipality
    pays. It is scheduled at its own (past) time, so it goes out at once, and a clock that
    stopped before its limit wants none.
    """
    calendar = view.calendar()
    wanted: list[Wanted] = []
    for reading in read_clocks(view, now, closed_at=closed_at):
        if reading.state not in ("running", "waiting") or reading.limit_at is None:
            continue
        limit_at = reading.limit_at.astimezone(UTC)  # stored as text: one zone, or a row would not be found again
        if (reading.id, CLOCK, 0, limit_at) in already:
            continue
        scheduled = policy.quiet.next_allowed(limit_at, calendar)
        wanted.append(Wanted(reading.id, CLOCK, 0, limit_at, scheduled.astimezone(UTC)))
    return wanted


def clock_firing(
    view: CaseView, clock_id: str, quiet: str | None, now: datetime, *, closed_at: datetime | None = None
) -> Firing:
    """A clock's reminder: drop it when the clock stopped (or was reset) before its limit; wait out quiet hours."""
    try:
        clock = view.pathway.clock(clock_id)
    except KeyError:
        return Firing("cancel")  # the pathway no longer has this clock
    reading = read_clock(view, clock, now, closed_at=closed_at)
    if reading.state == "waiting" and reading.limit_at is not None:
        return Firing("postpone", reading.limit_at)
    if reading.state != "running" or not reading.reached:
        return Firing("cancel")
    allowed = quiet_hours(quiet).next_allowed(now, view.calendar())
    if allowed > now:
        return Firing("postpone", allowed)
    return Firing("fire")


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
