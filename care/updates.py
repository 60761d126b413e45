"""A regular word to the family: when the next one goes out. Pure.

Every few working days (a room setting, `!settings update`; default every 5 working days, a
week; `off` possible) the family of an open case gets a short update on where the case
stands, also when nothing changed: "no news" is news to a parent. Like a reminder, an update
is a planned row, and firing it marks it sent and queues its message in one transaction
(`work.updates`), so it goes out exactly once per period, also across a crash.

The period is counted in working days of the pathway's country from an anchor: the moment
the last update was planned for, or, before the first one, the moment updates began for the
case (the first family member on the team). An update goes out at UPDATE_AT, local time,
after the end of a working day and before the evening's quiet hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from homeward.care.calendar import WorkingCalendar

#: The roles of the family's lanes: a case with someone in one of them gets the updates, and they are named.
FAMILY_ROLES = ("guardian", "child", "family")
#: Every this many working days, unless the room says otherwise: a working week.
DEFAULT_EVERY = 5
#: The most a room may ask for (the update is a word, not a worklist: about every two months at most).
MAX_EVERY = 40
#: When an update goes out, local time: after the working day, before the evening's quiet hours.
UPDATE_AT = time(16, 0)


@dataclass(frozen=True)
class ScheduledUpdate:
    """An update row as the store keeps it."""

    id: int
    case_id: int
    anchor: datetime  # counted from
    planned_at: datetime
    fire_at: datetime
    status: str  # planned | sent | dropped | cancelled


@dataclass
class UpdateChanges:
    cancel: list[int] = field(default_factory=list)
    add: tuple[datetime, datetime] | None = None  # (anchor, planned_at)

    def __bool__(self) -> bool:
        return bool(self.cancel or self.add)


def update_time(anchor: datetime, every: int, calendar: WorkingCalendar) -> datetime:
    """`every` working days after the anchor's day, at UPDATE_AT local time (UTC)."""
    day = calendar.add_working_days(anchor.astimezone(calendar.tz).date(), every)
    return calendar.local(day, UPDATE_AT).astimezone(UTC)


def schedule_update(
    *,
    wanted: bool,
    every: int | None,
    planned: list[ScheduledUpdate],
    last_sent: ScheduledUpdate | None,
    calendar: WorkingCalendar,
    now: datetime,
) -> UpdateChanges:
    """Bring a case's planned update in line with the case: one planned row while updates are `wanted`
    (an open case with family on its team) and on (`every` working days; None: off), none otherwise.

    A planned row of the right time stays (one whose time passed is left to go out, late); one of
    another time (the setting changed) gives way to one counted from the same anchor.
    """
    if not wanted or every is None:
        return UpdateChanges(cancel=[r.id for r in planned])
    anchor = last_sent.planned_at if last_sent else (planned[0].anchor if planned else now)
    due = update_time(anchor, every, calendar)
    if last_sent is not None and not planned and due <= now:
        anchor, due = now, update_time(now, every, calendar)  # the bot was away for periods: one late, then on
    changes = UpdateChanges()
    keep = False
    for row in planned:
        if not keep and (row.planned_at == due or row.fire_at <= now):
            keep = True  # the right one, or one whose time came: it goes out
        else:
            changes.cancel.append(row.id)
    if not keep:
        changes.add = (anchor, due)
    return changes
