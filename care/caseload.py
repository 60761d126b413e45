"""A coordinator's caseload: every case of a person at a glance (`!cases`, the worklist's lines).

Pure. The store loads every case of a person in one read (views, consent answers, the
last activity, `store.caseload`); these functions decide what each case's line says
(`summarize`), which cases come first (`urgency`), which `!cases` shows (`select`) and on
which page (`page_of`).

A coordinator works in one time zone (the bot's, for now); each case counts working days
by its pathway's country.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from homeward.care.calendar import WorkingCalendar
from homeward.care.case import HOLIDAY_LANGUAGES, CaseView, calendar_for, due_at, missing_lanes
from homeward.care.consent import Answer, consent_state, who_answers
from homeward.care.reminders import audience_lanes

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
        """The case as `homeward.cases` and `homeward.digest` carry it. A case the person is not on the team
        of (shown because it has no coordinator): its label, pathway and phase only, and where its room is."""
        if not self.member:
            return {
                "room_id": self.room_id,
                "label": self.label,
                "pathway": self.pathway,
                "phase": self.phase,
                "state": self.state,
                "no_coordinator": self.no_coordinator,
            }
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
    the team of (shown because it has no coordinator) shows no details either: its label,
    pathway and phase only — not even when it was last active.
    """
    if not member:
        last_activity = None
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


#: At most this many cases are listed in one answer or worklist (one Matrix event must hold them all).
PAGE_SIZE = 25


def page_of(summaries: list[CaseSummary], page: int) -> tuple[list[CaseSummary], int]:
    """The cases on page `page` (from 1) and the number of pages."""
    pages = max(1, -(-len(summaries) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    return summaries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], pages
