"""When a care item is due, and when the bot reminds about it.

Pathways say things like "prescription renewed 2 working days before discharge"
or "follow-up call within 3 days". ``resolve_due`` turns such a rule plus an anchor
(discharge time, a date) into an instant. ``reminder_schedule`` schedules
the reminders for that instant; ``parse_when`` and
``parse_duration`` read what people type after ``!remind`` and ``!snooze``.

Conventions: every datetime in and out is timezone-aware. Instants returned here
are in UTC, ready to store and compare; wall-clock arithmetic (days, working days,
"at 09:00") is done in the calendar's local time through ``WorkingCalendar.local``,
which also settles DST gaps and overlaps. Everything is pure: no clock, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from homeward.care.calendar import QuietHours, WorkingCalendar

#: Product default for a rule anchored on a bare date (no time of day): due at the
#: end of that working day, 16:00 local, when people can still act on it before
#: offices and pharmacies close.
END_OF_WORKING_DAY = time(16, 0)

#: ``!remind item 2026-12-01`` and ``!remind item tomorrow`` without a time: 09:00
#: local, early enough in the working day to get things done.
DEFAULT_REMINDER_TIME = time(9, 0)

#: ``!snooze`` may postpone at most this long; longer is a new plan, not a snooze.
MAX_SNOOZE = timedelta(days=30)

Unit = Literal["hours", "days", "working_days"]
Direction = Literal["after", "before"]
ReminderKind = Literal["before", "due", "overdue"]

UNITS: tuple[str, ...] = ("hours", "days", "working_days")
DIRECTIONS: tuple[str, ...] = ("after", "before")

#: When two reminders land on the same instant the later kind wins.
_KIND_RANK: dict[str, int] = {"before": 0, "due": 1, "overdue": 2}


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


def _require_aware(dt: datetime) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware, got naive {dt!r}")


def resolve_due(
    anchor: datetime | date,
    offset: int,
    unit: str,
    direction: str,
    at: time | None,
    calendar: WorkingCalendar,
) -> datetime:
    """The due instant (UTC) of a rule ``offset unit direction anchor``.

    * ``hours``: exact elapsed hours, so 24 hours across a DST night is 25 or 23
      hours on the wall clock. ``at`` makes no sense here and is refused.
    * ``days``: calendar days in local time, so "1 day after 12:00" is 12:00 local
      the next day even across a DST switch.
    * ``working_days``: the ``offset``-th working day of the calendar's country
      after/before the anchor's local date (weekends, public holidays and de facto
      days off skipped). ``0 working_days before`` an anchor on a day off is the
      last working day before it; ``0 after`` is the next working day.

    For day units the time of day is ``at`` if given, else the anchor's local time of
    day, or ``END_OF_WORKING_DAY`` when the anchor is a bare date. A bare date used
    with ``hours`` counts from ``END_OF_WORKING_DAY`` too. "Within 3 days" is
    ``offset=3, direction="after"``.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}; got {unit!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'after' or 'before'; got {direction!r}")
    if offset < 0:
        raise ValueError(f"offset must be zero or positive (direction gives the sign); got {offset}")
    if at is not None and at.tzinfo is not None:
        raise ValueError("'at' is a local time of day; pass a naive time")
    sign = 1 if direction == "after" else -1

    if isinstance(anchor, datetime):
        _require_aware(anchor)
        local_anchor = anchor.astimezone(calendar.tz)
    else:
        local_anchor = calendar.local(anchor, END_OF_WORKING_DAY)

    if unit == "hours":
        if at is not None:
            raise ValueError("'at' applies to days and working_days, not to hours")
        return _utc(local_anchor) + sign * timedelta(hours=offset)

    time_of_day = at if at is not None else local_anchor.time().replace(fold=0)
    anchor_day = local_anchor.date()
    if unit == "days":
        day = anchor_day + sign * timedelta(days=offset)
    elif offset == 0 and direction == "before" and not calendar.is_working_day(anchor_day):
        day = calendar.add_working_days(anchor_day, -1)
    else:
        day = calendar.add_working_days(anchor_day, sign * offset)
    return _utc(calendar.local(day, time_of_day))


@dataclass(frozen=True)
class WorkingDays:
    """A span counted in working days, e.g. ``WorkingDays(1)`` for "one working day"."""

    n: int

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError(f"working days must be zero or positive; got {self.n}")


@dataclass(frozen=True)
class ReminderPolicy:
    """How a room wants to be reminded about an item.

    ``before``: how long before the due instant the early reminder comes –
    ``WorkingDays(n)`` (same local time of day, n working days earlier; the default is
    one, so a Monday 10:00 item is announced Friday 10:00), an exact ``timedelta``,
    or ``None`` for no early reminder.
    ``at_due``: remind at the due instant.
    ``overdue_every_working_days``: until the item is done, repeat every n-th working
    day at the due's local time of day (at least 1; the product rule is that
    overdue items are never silently dropped).
    ``quiet``: every scheduled time is moved out of these quiet hours.
    """

    before: timedelta | WorkingDays | None = WorkingDays(1)
    at_due: bool = True
    overdue_every_working_days: int = 1
    quiet: QuietHours = field(default_factory=QuietHours)

    def __post_init__(self) -> None:
        if isinstance(self.before, timedelta) and self.before < timedelta(0):
            raise ValueError("'before' must not be negative")
        if self.overdue_every_working_days < 1:
            raise ValueError("overdue_every_working_days must be at least 1")


@dataclass(frozen=True)
class Reminder:
    """One scheduled reminder, ``planned_at`` in UTC.

    ``sequence`` is 0 for ``before`` and ``due`` and counts overdue repeats 1, 2, 3…,
    so ``(item, kind, sequence)`` is a stable storage key for the bot.
    """

    kind: ReminderKind
    planned_at: datetime
    sequence: int = 0


def _before_instant(due: datetime, policy: ReminderPolicy, calendar: WorkingCalendar) -> datetime | None:
    """The unshifted early-reminder instant, or ``None`` if the policy has none."""
    if policy.before is None:
        return None
    if isinstance(policy.before, timedelta):
        instant = _utc(due) - policy.before
    else:
        local_due = due.astimezone(calendar.tz)
        day = calendar.add_working_days(local_due.date(), -policy.before.n)
        instant = _utc(calendar.local(day, local_due.time().replace(fold=0)))
    return instant if instant < _utc(due) else None


def _overdue_reminders(due: datetime, policy: ReminderPolicy, calendar: WorkingCalendar) -> Iterator[Reminder]:
    """Endless overdue repeats in order, already moved out of quiet hours.

    Walks day by day from the previous repeat so scheduling far ahead stays linear.
    Times never decrease, which lets callers stop at the first one past a limit.
    """
    local_due = due.astimezone(calendar.tz)
    time_of_day = local_due.time().replace(fold=0)
    day = local_due.date()
    sequence = 0
    while True:
        sequence += 1
        day = calendar.add_working_days(day, policy.overdue_every_working_days)
        scheduled = policy.quiet.next_allowed(calendar.local(day, time_of_day), calendar)
        yield Reminder(kind="overdue", planned_at=_utc(scheduled), sequence=sequence)


def reminder_schedule(
    due: datetime, policy: ReminderPolicy, calendar: WorkingCalendar, until: datetime
) -> list[Reminder]:
    """All reminders for an item due at ``due``, sorted, in UTC.

    Every time is moved out of quiet hours with ``QuietHours.next_allowed``; if two
    land on the same instant only one is kept, the later kind (before < due <
    overdue). ``until`` (inclusive) limits the overdue repeats only; the early and
    the due reminder are always listed. The function does not know "now": the bot
    skips rows already in the past when it stores them.
    """
    _require_aware(due)
    _require_aware(until)
    scheduled: list[Reminder] = []
    before = _before_instant(due, policy, calendar)
    if before is not None:
        scheduled.append(Reminder("before", _utc(policy.quiet.next_allowed(before, calendar))))
    if policy.at_due:
        scheduled.append(Reminder("due", _utc(policy.quiet.next_allowed(_utc(due), calendar))))
    for reminder in _overdue_reminders(due, policy, calendar):
        if reminder.planned_at > _utc(until):
            break
        scheduled.append(reminder)

    by_instant: dict[datetime, Reminder] = {}
    for reminder in scheduled:
        kept = by_instant.get(reminder.planned_at)
        if kept is None or _KIND_RANK[reminder.kind] >= _KIND_RANK[kept.kind]:
            by_instant[reminder.planned_at] = reminder
    return sorted(by_instant.values(), key=lambda reminder: reminder.planned_at)


# --- what people type ------------------------------------------------------------

WHEN_FORMS = (
    "'in 2h', 'in 30m', 'in 3d', 'tomorrow 09:00', '2026-12-01 10:00', "
    "'2026-12-01' (09:00), '09:00' (today, or tomorrow if already passed); "
    "Norwegian/Swedish: 'om 2h', 'i morgen 09:00', 'imorgon 09:00'"
)

_UNIT_RE = r"(\d+)\s*(min|m|h|d)"
_TIME_RE = r"(\d{1,2})[:.](\d{2})"
_RELATIVE_RE = re.compile(rf"^(?:in|om)\s+{_UNIT_RE}$")
_TOMORROW_RE = re.compile(rf"^(?:tomorrow|i\s*morgen|i\s*morgon)(?:\s+(?:kl\.?\s*)?{_TIME_RE})?$")
_DATE_RE = re.compile(rf"^(\d{{4}})-(\d{{2}})-(\d{{2}})(?:[ t]+{_TIME_RE})?$")
_CLOCK_RE = re.compile(rf"^(?:kl\.?\s*)?{_TIME_RE}$")
_DURATION_PART_RE = re.compile(_UNIT_RE)
_DURATION_RE = re.compile(rf"^(?:{_UNIT_RE}\s*)+$")

_UNIT_DELTA: dict[str, timedelta] = {
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}


def _time_of_day(hour: str, minute: str, text: str) -> time:
    h, m = int(hour), int(minute)
    if h > 23 or m > 59:
        raise ValueError(f"{text!r} has no valid time of day ({hour}:{minute}). Use one of: {WHEN_FORMS}.")
    return time(h, m)


def parse_when(text: str, now: datetime, calendar: WorkingCalendar) -> datetime:
    """Read the time in ``!remind <item> <when>``; returns a future instant in UTC.

    Minutes and hours are elapsed time; ``in 3d`` is three calendar days later at the
    same local time. A date without time means ``DEFAULT_REMINDER_TIME`` local. A
    bare time of day is today, or tomorrow if it has passed. Times in the past and
    anything else raise ``ValueError`` naming the accepted forms.
    """
    _require_aware(now)
    cleaned = " ".join(text.strip().lower().split())
    local_now = now.astimezone(calendar.tz)
    today = local_now.date()

    if match := _RELATIVE_RE.match(cleaned):
        amount, unit = int(match.group(1)), match.group(2)
        if amount <= 0:
            raise ValueError(f"{text!r} must be in the future. Use one of: {WHEN_FORMS}.")
        if unit == "d":
            when = calendar.local(today + timedelta(days=amount), local_now.time().replace(fold=0))
        else:
            when = _utc(now) + amount * _UNIT_DELTA[unit]
    elif match := _TOMORROW_RE.match(cleaned):
        hour, minute = match.groups()
        at = DEFAULT_REMINDER_TIME if hour is None else _time_of_day(hour, minute, text)
        when = calendar.local(today + timedelta(days=1), at)
    elif match := _DATE_RE.match(cleaned):
        year, month, day, hour, minute = match.groups()
        try:
            on = date(int(year), int(month), int(day))
        except ValueError:
            raise ValueError(f"{text!r} is not a real date. Use one of: {WHEN_FORMS}.") from None
        at = DEFAULT_REMINDER_TIME if hour is None else _time_of_day(hour, minute, text)
        when = calendar.local(on, at)
    elif match := _CLOCK_RE.match(cleaned):
        hour, minute = match.groups()
        at = _time_of_day(hour, minute, text)
        when = calendar.local(today, at)
        if when <= now:
            when = calendar.local(today + timedelta(days=1), at)
    else:
        raise ValueError(f"Could not understand the time {text!r}. Use one of: {WHEN_FORMS}.")

    if when <= now:
        raise ValueError(f"{text!r} is in the past. Use one of: {WHEN_FORMS}.")
    return _utc(when)


def parse_duration(text: str) -> timedelta:
    """Read the duration in ``!snooze <item> <duration>``: ``2h``, ``30m``, ``1d``, ``1h30m``.

    Must be positive and at most ``MAX_SNOOZE`` (30 days). A day here is 24 hours.
    """
    cleaned = "".join(text.strip().lower().split())
    usage = "Use a duration like '30m', '2h', '90m', '1d' or '1h30m' (at most 30 days)"
    if not _DURATION_RE.match(cleaned):
        raise ValueError(f"Could not understand the duration {text!r}. {usage}.")
    total = timedelta(0)
    for amount, unit in _DURATION_PART_RE.findall(cleaned):
        total += int(amount) * _UNIT_DELTA[unit]
    if total <= timedelta(0):
        raise ValueError(f"The duration {text!r} must be longer than zero. {usage}.")
    if total > MAX_SNOOZE:
        raise ValueError(f"The duration {text!r} is longer than 30 days. {usage}.")
    return total
