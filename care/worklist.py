"""The morning worklist of a coordinator: what it holds, and when it goes out.

Pure. From a person's case summaries (`care.caseload`), `worklist` says what is due today,
overdue, awaited, pending and quiet; `schedule_digest` says when the next worklist is
scheduled and `digest_firing` whether a scheduled one still goes out. A worklist day is a
working day for at least one of the person's open cases, and a case is on that day's
worklist only on its own working days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from homeward.care.calendar import QuietHours, WorkingCalendar
from homeward.care.caseload import Awaited, CaseSummary, Due, urgency

#: The worklist of a day goes out before the evening's quiet hours begin, or not at all:
#: one missed for a whole day (the bot was down) is dropped, the next working day's takes over.
EVENING = QuietHours().start


@dataclass
class Worklist:
    """What one person's worklist says on one day, each entry with the case it belongs to."""

    day: date
    #: A case with no activity for this many working days is quiet (the configuration's `quiet_days`).
    quiet_days: int
    due_today: list[tuple[CaseSummary, Due]] = field(default_factory=list)
    overdue: list[tuple[CaseSummary, Due]] = field(default_factory=list)
    awaiting: list[tuple[CaseSummary, Awaited]] = field(default_factory=list)
    consents: list[tuple[CaseSummary, str]] = field(default_factory=list)
    quiet: list[CaseSummary] = field(default_factory=list)
    no_coordinator: list[CaseSummary] = field(default_factory=list)

    @property
    def cases(self) -> list[CaseSummary]:
        """The cases with something to say, most urgent first."""
        found: dict[int, CaseSummary] = {}
        for entries in (self.due_today, self.overdue, self.awaiting, self.consents):
            for summary, _ in entries:
                found[summary.case_id] = summary
        for summary in [*self.quiet, *self.no_coordinator]:
            found[summary.case_id] = summary
        return sorted(found.values(), key=urgency)

    def __bool__(self) -> bool:
        return bool(
            self.due_today or self.overdue or self.awaiting or self.consents or self.quiet or self.no_coordinator
        )


def worklist(summaries: list[CaseSummary], now: datetime, zone: str, quiet_days: int, coordinator: str) -> Worklist:
    """Today's worklist of `coordinator`: for the open cases they coordinate, what is due today,
    what is overdue, receipts awaited, consents pending, and cases quiet for `quiet_days`
    working days; and the cases without a coordinator they were shown. Only cases whose
    pathway has a working day today."""
    tz = ZoneInfo(zone)
    day = now.astimezone(tz).date()
    found = Worklist(day, quiet_days)
    for summary in sorted(summaries, key=urgency):
        if not summary.open or not summary.working_today:
            continue
        if summary.no_coordinator:
            found.no_coordinator.append(summary)
            continue
        if coordinator not in summary.coordinators:
            continue  # a member, not its coordinator: on their `!cases`, not their worklist
        listed: set[str] = set()  # an item is listed once: a receipt due today or overdue is not also "awaited"
        for due in summary.due:
            if now > due.at:
                found.overdue.append((summary, due))
                listed.add(due.item)
            elif due.at.astimezone(tz).date() == day:
                found.due_today.append((summary, due))
                listed.add(due.item)
        found.awaiting.extend((summary, awaited) for awaited in summary.awaiting if awaited.item not in listed)
        found.consents.extend((summary, consent) for consent in summary.consents_pending)
        if summary.quiet_working_days >= quiet_days:
            found.quiet.append(summary)
    return found


# -- when the worklist goes out ----------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledDigest:
    """A worklist row as the store keeps it."""

    id: int
    user_id: str
    day: date
    planned_at: datetime
    fire_at: datetime
    status: str  # planned | sent | empty | dropped | cancelled


@dataclass
class DigestChanges:
    cancel: list[int] = field(default_factory=list)
    add: tuple[date, datetime] | None = None

    def __bool__(self) -> bool:
        return bool(self.cancel or self.add)


def parse_digest_time(text: str) -> time | None:
    """`HH:MM` before the evening's quiet hours (20:00), or `off` (None); ValueError otherwise."""
    cleaned = text.strip().lower()
    if cleaned == "off":
        return None
    try:
        hours, minutes = cleaned.split(":")
        moment = time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"not a time of day: {text!r}") from None
    if len(minutes) != 2 or moment >= EVENING:
        raise ValueError(f"not a worklist time before {EVENING:%H:%M}: {text!r}")
    return moment


def next_digest_at(
    at: time, calendars: list[WorkingCalendar], now: datetime, taken: set[date]
) -> tuple[date, datetime] | None:
    """The first day from today that is a working day of any of the calendars, not taken, whose
    `at` (local time of the calendars' zone) is still ahead; the day and that instant in UTC."""
    if not calendars:
        return None
    local = calendars[0]
    day = now.astimezone(local.tz).date()
    for _ in range(60):
        if day not in taken and any(c.is_working_day(day) for c in calendars):
            moment = local.local(day, at).astimezone(UTC)
            if moment > now:
                return day, moment
        day += timedelta(days=1)
    return None


def schedule_digest(
    at: time | None, calendars: list[WorkingCalendar], rows: list[ScheduledDigest], now: datetime
) -> DigestChanges:
    """Bring a person's scheduled worklist rows in line with their setting and their open cases.

    One row per day, ever: a day whose worklist went out (or had nothing to say, or was
    dropped) is never scheduled again, so a changed time never sends a second one. A scheduled
    row of today whose time has passed is left for `digest_firing` to send late. One of an
    earlier day (the bot was down through it) is given up, and today's worklist takes its
    place: at its time, or at once, late, if that has passed too and the evening has not come.
    """
    scheduled = [r for r in rows if r.status == "planned"]
    if at is None or not calendars:
        return DigestChanges(cancel=[r.id for r in scheduled])
    local = calendars[0]
    today = now.astimezone(local.tz).date()
    missed = [r for r in scheduled if r.fire_at <= now]
    stale = [r for r in missed if r.day < today]
    taken = {r.day for r in rows if r.status in ("sent", "empty", "dropped")} | {
        r.day for r in missed if r.day >= today
    }
    behind = bool(stale) or any(r.status == "dropped" and r.day < today for r in rows)
    wanted = None
    if behind and today not in taken and any(c.is_working_day(today) for c in calendars):
        slot = local.local(today, at).astimezone(UTC)
        if slot <= now and now.astimezone(local.tz).time() < EVENING:
            wanted = (today, slot)  # today's time passed while the bot was down: it goes out now, late
    if wanted is None:
        wanted = next_digest_at(at, calendars, now, taken)
    changes = DigestChanges()
    keep = False
    for row in scheduled:
        if row in missed and row not in stale:
            continue
        if row not in stale and wanted is not None and row.day == wanted[0] and row.planned_at == wanted[1]:
            keep = True
        else:
            changes.cancel.append(row.id)
    if wanted is not None and not keep:
        changes.add = wanted
    return changes


DigestAction = Literal["fire", "drop"]


def digest_firing(row: ScheduledDigest, now: datetime, zone: str) -> DigestAction:
    """Send a worklist whose time has come on its own day before the evening; drop it otherwise."""
    local = now.astimezone(ZoneInfo(zone))
    if local.date() != row.day or local.time() >= EVENING:
        return "drop"
    return "fire"
