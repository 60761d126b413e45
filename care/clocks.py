"""The statutory clocks of a case: how many days have passed since the patient was ready to leave.

Both countries put money on those days (the municipality pays the hospital), so the
pathway files declare each clock as data (`care.pathway.Clock`): what starts it (a
notice sent, an item done, a named date set), how days are counted, the limit after
which the consequence applies, and what stops it. This module reads a clock off a
`CaseView`; it is pure, like the rest of `care`.

How days are counted (`count_days`): in the pathway's local calendar, from the day the
clock started (day 0) to the day it is read or stopped. `calendar_days` counts every
day; `working_days` counts the working days after the start day (weekends, public
holidays and de facto days off skipped, `care.calendar`). A day is a local date, so a
daylight-saving night is one day like any other.

When the limit is reached (`limit_instant`): at the local start (00:00) of the day the
count reaches `limit`; with `limit: 0` at the moment the clock started. A Swedish
utskrivningsklarmeddelande sent on Monday at 10:00, three calendar days, reaches its
limit on Thursday at 00:00: the municipality pays from Thursday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from homeward.care.calendar import WorkingCalendar
from homeward.care.case import CaseView, done_at
from homeward.care.pathway import Clock, ClockPoint

ClockState = Literal["not_started", "waiting", "running", "stopped"]


@dataclass(frozen=True)
class ClockReading:
    """One clock of a case as it stands at a moment.

    `state`: not started (its start has not happened), waiting (it starts at a date still
    ahead), running, or stopped. `days` is the count so far (None before the start);
    `reached` whether the limit was reached while it ran.
    """

    clock: Clock
    state: ClockState
    started_at: datetime | None
    stopped_at: datetime | None
    limit_at: datetime | None
    days: int | None
    reached: bool

    @property
    def id(self) -> str:
        return self.clock.id

    @property
    def label(self) -> str:
        return self.clock.label


def point_at(view: CaseView, point: ClockPoint, calendar: WorkingCalendar) -> datetime | None:
    """When a start or stop point happened (or, for a date, is set to happen); None if not yet known."""
    if point.date is not None:
        value = view.dates.get(point.date)
        if value is None:
            return None
        if isinstance(value, datetime):
            return value
        return calendar.local(value, time(0, 0))  # a bare date counts from the start of that day
    record = view.record(point.item or "")
    if point.when == "sent":
        return record.sent_at
    try:
        item = view.item(point.item or "")
    except KeyError:
        return None
    return done_at(view, item)


def count_days(start: datetime, end: datetime, counting: str, calendar: WorkingCalendar) -> int:
    """Days counted from `start` to `end` in local dates: 0 on the start day (never negative)."""
    first = start.astimezone(calendar.tz).date()
    last = end.astimezone(calendar.tz).date()
    if last <= first:
        return 0
    if counting == "calendar_days":
        return (last - first).days
    if counting != "working_days":
        raise ValueError(f"counting must be calendar_days or working_days; got {counting!r}")
    return sum(1 for n in range(1, (last - first).days + 1) if calendar.is_working_day(first + timedelta(days=n)))


def limit_day(start: datetime, limit: int, counting: str, calendar: WorkingCalendar) -> date:
    """The local day on which the count reaches `limit`."""
    first = start.astimezone(calendar.tz).date()
    if limit == 0:
        return first
    if counting == "calendar_days":
        return first + timedelta(days=limit)
    return calendar.add_working_days(first, limit)


def limit_instant(start: datetime, limit: int, counting: str, calendar: WorkingCalendar) -> datetime:
    """When the limit is reached: the start itself for 0, else the local start of the day the count reaches it."""
    if limit == 0:
        return start
    return calendar.local(limit_day(start, limit, counting, calendar), time(0, 0))


def read_clock(
    view: CaseView,
    clock: Clock,
    now: datetime,
    *,
    closed_at: datetime | None = None,
    calendar: WorkingCalendar | None = None,
) -> ClockReading:
    """The clock at `now`. A closed case (`closed_at`) stops every clock still running at its closing."""
    calendar = calendar or view.calendar()
    started = point_at(view, clock.start, calendar)
    if started is None:
        return ClockReading(clock, "not_started", None, None, None, None, False)
    limit_at = limit_instant(started, clock.limit, clock.counting, calendar)
    # A stop recorded before the start (a step done out of order) does not stop this run of the clock.
    stops = [at for at in (point_at(view, p, calendar) for p in clock.stop) if at is not None and at >= started]
    if closed_at is not None and closed_at >= started:
        stops.append(closed_at)
    stopped = min(stops, default=None)
    if stopped is not None and stopped > now:
        stopped = None  # a stop date set ahead has not happened yet
    if started > now:
        return ClockReading(clock, "waiting", started, None, limit_at, None, False)
    end = stopped or now
    state: ClockState = "stopped" if stopped is not None else "running"
    return ClockReading(
        clock, state, started, stopped, limit_at, count_days(started, end, clock.counting, calendar), limit_at <= end
    )


@dataclass(frozen=True)
class Cost:
    """What a clock's days past its limit cost, at the rate its pathway cites (`care.pathway.Rate`).

    `days`: the days paid for (the count past the limit); `amount` None when the clock cites
    no rate. `years`: the years whose amounts were used; `estimated`: a day fell in a year
    the pathway gives no amount for, and was costed at the nearest earlier year's.
    """

    days: int
    amount: float | None = None
    currency: str | None = None
    unit: str | None = None
    years: tuple[int, ...] = ()
    estimated: bool = False


def paid_days(reading: ClockReading, at: datetime, calendar: WorkingCalendar) -> list[date]:
    """The local days past the limit, from the day the limit is reached up to the day the clock stopped (or `at`).

    As many as the count past the limit: a Swedish clock started Monday with three calendar
    days, stopped Friday, has one (Thursday); a Norwegian one (limit 0) started Monday and
    stopped Wednesday has two (Monday and Tuesday).
    """
    if reading.started_at is None or reading.state in ("not_started", "waiting"):
        return []
    clock = reading.clock
    first = limit_day(reading.started_at, clock.limit, clock.counting, calendar)
    end = (reading.stopped_at or at).astimezone(calendar.tz).date()
    days = [first + timedelta(days=n) for n in range(max((end - first).days, 0))]
    if clock.counting == "working_days":
        days = [day for day in days if calendar.is_working_day(day)]
    return days


def cost_of(reading: ClockReading, at: datetime, calendar: WorkingCalendar) -> Cost:
    """The clock's paid days and, where the pathway cites a rate, what they cost."""
    days = paid_days(reading, at, calendar)
    rate = reading.clock.rate
    if rate is None:
        return Cost(len(days))
    amount = 0.0
    used: set[int] = set()
    estimated = False
    for day in days:
        found = rate.amount_for(day.year)
        if found is None:  # before the first year the pathway gives: not costed at all
            return Cost(len(days), None, rate.currency, rate.unit)
        value, year = found
        amount += value
        used.add(year)
        estimated = estimated or year != day.year
    return Cost(len(days), round(amount, 2), rate.currency, rate.unit, tuple(sorted(used)), estimated)


def read_clocks(view: CaseView, now: datetime, *, closed_at: datetime | None = None) -> list[ClockReading]:
    """Every clock of the case's pathway, in the file's order."""
    calendar = view.calendar()
    return [read_clock(view, clock, now, closed_at=closed_at, calendar=calendar) for clock in view.pathway.clocks]


def clock_json(reading: ClockReading) -> dict[str, Any]:
    """A clock for `homeward.case` / `homeward.timeline`: what it is, when it ran, how many days, its source."""
    clock = reading.clock
    return {
        "id": clock.id,
        "label": clock.label,
        "state": reading.state,
        "started_at": reading.started_at.isoformat() if reading.started_at else None,
        "stopped_at": reading.stopped_at.isoformat() if reading.stopped_at else None,
        "days": reading.days,
        "counting": clock.counting,
        "limit": clock.limit,
        "limit_at": reading.limit_at.isoformat() if reading.limit_at else None,
        "reached": reading.reached,
        "source": clock.source,
    }
