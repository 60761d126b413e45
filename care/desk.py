"""The coordinator's desk: every case at a glance, the morning worklist, and a case's end.

Pure. The store loads every case of a person in one read (views, consent answers, the
last activity); these functions decide what each case's line says (`summarize`), which
cases come first (`urgency`), what the morning worklist holds (`worklist`), when the next
worklist is planned (`plan_digest`) and whether a planned one still goes out
(`digest_firing`), and when a closed case's retention run is due (`retention_due`).

A coordinator works in one time zone (the bot's, for now); each case counts working days
by its pathway's country. So a worklist day is a working day for at least one of the
person's open cases, and a case is on that day's worklist only on its own working days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from homeward.care.calendar import QuietHours, WorkingCalendar
from homeward.care.case import HOLIDAY_LANGUAGES, CaseView, calendar_for, due_at, missing_lanes
from homeward.care.consent import Answer, consent_state, who_answers
from homeward.care.reminders import audience_lanes, quiet_hours

#: Audit actions that only read the case: they are not "activity" (a case read every day but
#: never moved on is still a quiet case).
READING_ACTIONS = frozenset(
    {
        "status.read",
        "plan.read",
        "consents.read",
        "audit.exported",
        "export.made",
    }
)

#: The worklist of a day goes out before the evening's quiet hours begin, or not at all:
#: one missed for a whole day (the bot was down) is dropped, the next working day's takes over.
EVENING = QuietHours().start


# -- one case at a glance -------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """An open item with a due time: what, when, and the lanes that must act."""

    item: str
    title: str
    at: datetime
    lanes: tuple[str, ...]
    command: str  # what moves it on: `!send <id>` for an unsent notice, else `!ack <id>`


@dataclass(frozen=True)
class Awaited:
    """A sent notice still waiting for one lane's receipt (kvittering)."""

    item: str
    title: str
    lane: str
    sent_at: datetime


@dataclass(frozen=True)
class CaseSummary:
    """What a person's desk shows of one case."""

    case_id: int
    room_id: str
    label: str
    pathway: str
    language: str  # the pathway's
    phase: str
    phase_title: str
    state: str  # "open" | "closed"
    due: tuple[Due, ...]  # every open item with a due time, earliest first (overdue ones included)
    now: datetime
    awaiting: tuple[Awaited, ...]
    consents_pending: tuple[str, ...]
    last_activity: datetime | None
    quiet_working_days: int  # working days without activity before today
    working_today: bool  # today is a working day of the case's pathway
    coordinators: tuple[str, ...]
    member: bool  # the person is on its team; otherwise it is shown only as "no coordinator"
    closed_at: datetime | None = None
    closed_reason: str | None = None
    checklist_event: str | None = None  # where a link into its room opens it: the pinned checklist

    @property
    def open(self) -> bool:
        return self.state == "open"

    @property
    def no_coordinator(self) -> bool:
        return self.open and not self.coordinators

    @property
    def overdue(self) -> tuple[Due, ...]:
        return tuple(d for d in self.due if self.now > d.at)

    @property
    def next_due(self) -> Due | None:
        return next((d for d in self.due if d.at >= self.now), None)

    def as_json(self) -> dict[str, Any]:
        """The case as `homeward.cases` and `homeward.digest` carry it."""
        nxt = self.next_due
        return {
            "room_id": self.room_id,
            "label": self.label,
            "pathway": self.pathway,
            "phase": self.phase,
            "state": self.state,
            "next_due": {"item": nxt.item, "at": nxt.at.isoformat(), "lane": ",".join(nxt.lanes)} if nxt else None,
            "overdue": len(self.overdue),
            "awaiting": [{"item": a.item, "lane": a.lane} for a in self.awaiting],
            "consents_pending": list(self.consents_pending),
            "last_activity": self.last_activity.isoformat() if self.last_activity else None,
            "no_coordinator": self.no_coordinator,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
        }


def coordinator_calendar(country: str, zone: str, language: str) -> WorkingCalendar:
    """A pathway country's working days, read in the coordinator's time zone."""
    return calendar_for(country, zone, HOLIDAY_LANGUAGES.get(language, "en_US"))


def summarize(
    view: CaseView,
    *,
    case_id: int,
    room_id: str,
    answers: list[Answer],
    last_activity: datetime | None,
    member: bool,
    now: datetime,
    zone: str,
    checklist_event: str | None = None,
) -> CaseSummary:
    """One case's line: its deadlines, awaited receipts, pending consents and how long it has been quiet.

    A closed case has no deadlines (nothing is wanted of it); a case the person is not on
    the team of (shown because it has no coordinator) shows no details either.
    """
    pathway = view.pathway
    calendar = view.calendar()
    today = now.astimezone(calendar.tz).date()
    due: list[Due] = []
    awaiting: list[Awaited] = []
    consents: list[str] = []
    if member and not view.closed:
        for _, item in view.items():
            missing = missing_lanes(view, item)
            if not missing:
                continue
            record = view.record(item.id)
            if item.kind == "notice" and record.sent_at is not None:
                awaiting.extend(Awaited(item.id, item.title, lane, record.sent_at) for lane in missing)
            at = due_at(view, item, calendar)
            if at is None:
                continue
            unsent = item.kind == "notice" and record.sent_at is None
            due.append(
                Due(
                    item.id,
                    item.title,
                    at,
                    tuple(audience_lanes(view, item)),
                    f"!send {item.id}" if unsent else f"!ack {item.id}",
                )
            )
        consents = [
            c.id for c in pathway.consents if who_answers(view, c) and consent_state(view, c, answers) == "pending"
        ]
    due.sort(key=lambda d: (d.at, d.item))
    days = coordinator_calendar(pathway.country, zone, pathway.language)
    return CaseSummary(
        case_id=case_id,
        room_id=room_id,
        label=view.label,
        pathway=pathway.id,
        language=pathway.language,
        phase=view.phase_id,
        phase_title=view.phase.title,
        state=view.state,
        due=tuple(due),
        now=now,
        awaiting=tuple(awaiting),
        consents_pending=tuple(consents),
        last_activity=last_activity,
        quiet_working_days=_working_days_between(calendar, last_activity, today),
        working_today=days.is_working_day(now.astimezone(days.tz).date()),
        coordinators=tuple(view.coordinators()),
        member=member,
        closed_at=view.closed_at,
        closed_reason=view.closed_reason,
        checklist_event=checklist_event,
    )


def _working_days_between(calendar: WorkingCalendar, since: datetime | None, today: date) -> int:
    """Working days after the day of `since` and before `today` (a case active yesterday: 0)."""
    if since is None:
        return 0
    day = since.astimezone(calendar.tz).date() + timedelta(days=1)
    count = 0
    while day < today and count < 1000:
        if calendar.is_working_day(day):
            count += 1
        day += timedelta(days=1)
    return count


def urgency(summary: CaseSummary) -> tuple[Any, ...]:
    """Sort key, most urgent first: open cases; those with something overdue or without a
    coordinator; then by the earliest open deadline (the longest overdue first); then the label."""
    earliest = summary.due[0].at if summary.due else None
    pressing = bool(summary.overdue) or summary.no_coordinator
    return (not summary.open, not pressing, earliest is None, earliest or summary.now, summary.label.lower())


CasesFilter = Literal["open", "all", "overdue"]


def select(summaries: list[CaseSummary], which: CasesFilter) -> list[CaseSummary]:
    """`!cases` (open ones), `!cases all` (closed too), `!cases overdue` (only those with something overdue)."""
    if which == "all":
        chosen = summaries
    elif which == "overdue":
        chosen = [s for s in summaries if s.open and s.overdue]
    else:
        chosen = [s for s in summaries if s.open]
    return sorted(chosen, key=urgency)


def language_of(summaries: list[CaseSummary], fallback: str) -> str:
    """The language a person is answered in on their desk: that of their latest case (their
    region's), or the bot's configured language for someone in no case."""
    mine = [s for s in summaries if s.member]
    return max(mine, key=lambda s: s.case_id).language if mine else fallback


# -- the morning worklist ----------------------------------------------------------------------


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
        for due in summary.due:
            if now > due.at:
                found.overdue.append((summary, due))
            elif due.at.astimezone(tz).date() == day:
                found.due_today.append((summary, due))
        found.awaiting.extend((summary, awaited) for awaited in summary.awaiting)
        found.consents.extend((summary, consent) for consent in summary.consents_pending)
        if summary.quiet_working_days >= quiet_days:
            found.quiet.append(summary)
    return found


# -- when the worklist goes out ----------------------------------------------------------------


@dataclass(frozen=True)
class PlannedDigest:
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


def plan_digest(
    at: time | None, calendars: list[WorkingCalendar], rows: list[PlannedDigest], now: datetime
) -> DigestChanges:
    """Bring a person's planned worklist rows in line with their setting and their open cases.

    One row per day, ever: a day whose worklist went out (or had nothing to say, or was
    dropped) is never planned again, so a changed time never sends a second one. A planned
    row of today whose time has passed is left for `digest_firing` to send late. One of an
    earlier day (the bot was down through it) is given up, and today's worklist takes its
    place: at its time, or at once, late, if that has passed too and the evening has not come.
    """
    planned = [r for r in rows if r.status == "planned"]
    if at is None or not calendars:
        return DigestChanges(cancel=[r.id for r in planned])
    local = calendars[0]
    today = now.astimezone(local.tz).date()
    missed = [r for r in planned if r.fire_at <= now]
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
    for row in planned:
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


def digest_firing(row: PlannedDigest, now: datetime, zone: str) -> DigestAction:
    """Send a worklist whose time has come on its own day before the evening; drop it otherwise."""
    local = now.astimezone(ZoneInfo(zone))
    if local.date() != row.day or local.time() >= EVENING:
        return "drop"
    return "fire"


# -- a case's end --------------------------------------------------------------------------------


def retention_due(view: CaseView, retention_days: int | None) -> datetime | None:
    """When a closed case's personal content is removed from the store: `retention_days` after
    it was closed; never for an open case, or when no retention is configured (keep)."""
    if not view.closed or retention_days is None or view.closed_at is None:
        return None
    return view.closed_at + timedelta(days=retention_days)


RetentionAction = Literal["run", "cancel", "postpone"]


@dataclass(frozen=True)
class RetentionFiring:
    action: RetentionAction
    until: datetime | None = None


def retention_firing(view: CaseView, retention_days: int | None, quiet: str | None, now: datetime) -> RetentionFiring:
    """Run now, drop it (the case was reopened, or retention turned off), or wait (its time
    moved later, or the room's quiet hours: the last export is a message in the room)."""
    due = retention_due(view, retention_days)
    if due is None:
        return RetentionFiring("cancel")
    if due > now:
        return RetentionFiring("postpone", due)
    allowed = quiet_hours(quiet).next_allowed(now, view.calendar())
    if allowed > now:
        return RetentionFiring("postpone", allowed)
    return RetentionFiring("run")


#: At most this many cases are listed in one answer or worklist (one Matrix event must hold them all).
PAGE_SIZE = 25


def page_of(summaries: list[CaseSummary], page: int) -> tuple[list[CaseSummary], int]:
    """The cases on page `page` (from 1) and the number of pages."""
    pages = max(1, -(-len(summaries) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    return summaries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], pages
