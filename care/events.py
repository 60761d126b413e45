"""The open event log: one row per thing that happened in a case, with no personal data.

A projection of the audit trail (which survives a case's retention run) and, while the
case is kept, of its view: what happened, when, to which item of which phase, by which
lane, against which due time, how late, and why (the reason's shared code). No label, no
user id, no free text — the case is a keyed pseudonym (`store.delays.pseudonym`). The
columns and kinds are documented, versioned, in `docs/EVENTS.md`; `exports.events` writes
them as CSV or NDJSON and holds the JSON Schema.

Kinds (`event`):
  case_opened, phase_entered, notice_sent, notice_renewed, acknowledged (a lane's receipt
  of a notice), task_done, reminder (`detail`: before, due, overdue, custom, clock),
  reason_asked, reason_given (`detail`: given or changed), case_closed, case_reopened;
  and, read off a case still kept: waiting (a lane still late at the moment of the export)
  and clock (a statutory clock that started: `detail` its id, `due` when its limit is
  reached, `done` when it stopped, `value` its days).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from homeward.care.case import CaseView, ack_due_at, due_at, rule_due_at
from homeward.care.clocks import read_clocks
from homeward.care.delays import waits
from homeward.care.pathway import Pathway

SCHEMA = "homeward-events/1.0"
COLUMNS = (
    "schema",
    "case",
    "pathway",
    "pathway_version",
    "country",
    "event",
    "at",
    "phase",
    "item",
    "lane",
    "step",
    "due",
    "done",
    "late_by_hours",
    "reason",
    "reason_code",
    "detail",
    "value",
)
EVENT_KINDS = (
    "case_opened",
    "phase_entered",
    "notice_sent",
    "notice_renewed",
    "acknowledged",
    "task_done",
    "reminder",
    "reason_asked",
    "reason_given",
    "case_closed",
    "case_reopened",
    "waiting",
    "clock",
)


@dataclass(frozen=True)
class AuditFact:
    """What the event log reads of one audit row: the action, when, and its details (never its actor)."""

    action: str
    at: datetime
    details: dict[str, Any]

    @classmethod
    def of(cls, action: str, at: datetime, details_json: str) -> AuditFact:
        try:
            details = json.loads(details_json)
        except ValueError:
            details = {}
        return cls(action, at, details if isinstance(details, dict) else {})


@dataclass(frozen=True)
class CaseSource:
    """One case as the event log needs it: who it is (pseudonym), which pathway and version, its audit facts,
    and, while it is kept, its view (None after its retention run)."""

    pseudonym: str
    pathway_id: str
    pathway_version: str
    facts: tuple[AuditFact, ...]
    view: CaseView | None = None
    opened_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class Event:
    case: str
    pathway: str
    pathway_version: str
    country: str
    event: str
    at: datetime
    phase: str = ""
    item: str = ""
    lane: str = ""
    step: str = ""
    due: datetime | None = None
    done: datetime | None = None
    reason: str = ""
    reason_code: str = ""
    detail: str = ""
    value: float | None = None

    @property
    def late_by_hours(self) -> float | None:
        """Hours from the due time to when it was done (or to the export, still waiting); negative: early."""
        if self.due is None:
            return None
        end = self.done or (self.at if self.event == "waiting" else None)
        return None if end is None else round((end - self.due) / timedelta(hours=1), 2)

    def row(self) -> dict[str, Any]:
        """The event as the documented columns (times in UTC, ISO 8601)."""

        def iso(moment: datetime | None) -> str | None:
            return moment.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z") if moment else None

        return {
            "schema": SCHEMA,
            "case": self.case,
            "pathway": self.pathway,
            "pathway_version": self.pathway_version or None,
            "country": self.country or None,
            "event": self.event,
            "at": iso(self.at),
            "phase": self.phase or None,
            "item": self.item or None,
            "lane": self.lane or None,
            "step": self.step or None,
            "due": iso(self.due),
            "done": iso(self.done),
            "late_by_hours": self.late_by_hours,
            "reason": self.reason or None,
            "reason_code": self.reason_code or None,
            "detail": self.detail or None,
            "value": self.value,
        }


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _text(value: Any) -> str:
    """An id from the audit details: only a plain id is taken (anything else could be free text)."""
    if isinstance(value, str) and value and len(value) <= 80 and all(c.isalnum() or c in "-_." for c in value):
        return value
    return ""


def case_events(source: CaseSource, pathway: Pathway | None, now: datetime) -> list[Event]:
    """Every event of one case, in the order they happened (the rows read off its view at the end)."""
    view = source.view
    country = pathway.country if pathway else ""
    phases: dict[str, str] = {}
    kinds: dict[str, str] = {}
    senders: dict[str, str] = {}
    owners: dict[str, str] = {}
    if pathway is not None:
        for in_phase, item in pathway.items():
            phases[item.id] = in_phase.id
            kinds[item.id] = item.kind
            senders[item.id] = item.sender or ""
            owners[item.id] = item.lane or ""
    if view is not None:
        for extra in view.extra.values():
            phases.setdefault(extra.item.id, extra.phase_id)
            kinds.setdefault(extra.item.id, "task")
            owners.setdefault(extra.item.id, extra.item.lane or "")

    def event(kind: str, at: datetime, **values: Any) -> Event:
        return Event(source.pseudonym, source.pathway_id, source.pathway_version, country, kind, at, **values)

    def computed_due(item_id: str, step: str, sent_at: datetime | None) -> datetime | None:
        """For audit rows written before they carried their due time: read it off the view, if the case is kept."""
        if view is None or pathway is None:
            return None
        try:
            item = view.item(item_id)
        except KeyError:
            return None
        if step == "send":
            return rule_due_at(view, item)
        if step == "ack" and sent_at is not None:
            return ack_due_at(view, item, sent_at)
        if step == "task":
            return due_at(view, item)
        return None

    found: list[Event] = []
    sent: dict[str, datetime] = {}
    first_phase = True
    for fact in source.facts:
        d = fact.details
        item_id = _text(d.get("item"))
        phase = phases.get(item_id, "")
        if fact.action == "case.opened":
            found.append(event("case_opened", fact.at))
            if pathway is not None and first_phase:
                found.append(event("phase_entered", fact.at, phase=pathway.phases[0].id))
                first_phase = False
        elif fact.action == "phase.changed":
            found.append(event("phase_entered", fact.at, phase=_text(d.get("phase")), detail=_text(d.get("previous"))))
        elif fact.action == "notice.sent" and item_id:
            sent[item_id] = fact.at
            due = _when(d.get("due")) if "due" in d else computed_due(item_id, "send", None)
            lane = senders.get(item_id, "")
            found.append(
                event("notice_sent", fact.at, phase=phase, item=item_id, lane=lane, step="send", due=due, done=fact.at)
            )
        elif fact.action == "item.renewed" and item_id:
            sent.pop(item_id, None)
            found.append(event("notice_renewed", fact.at, phase=phase, item=item_id))
        elif fact.action == "item.acknowledged" and item_id:
            notice = kinds.get(item_id) == "notice"
            step = "ack" if notice else "task"
            due = _when(d.get("due")) if "due" in d else computed_due(item_id, step, sent.get(item_id))
            lane = _text(d.get("lane")) or owners.get(item_id, "")
            kind = "acknowledged" if notice else "task_done"
            found.append(event(kind, fact.at, phase=phase, item=item_id, lane=lane, step=step, due=due, done=fact.at))
        elif fact.action == "reminder.sent":
            target = item_id or _text(d.get("clock"))
            found.append(event("reminder", fact.at, phase=phase, item=target, detail=_text(d.get("kind"))))
            for lane in d.get("asked") or []:
                found.append(event("reason_asked", fact.at, phase=phase, item=item_id, lane=_text(lane)))
        elif fact.action == "delay.reason" and item_id:
            found.append(
                event(
                    "reason_given",
                    fact.at,
                    phase=phase,
                    item=item_id,
                    lane=_text(d.get("lane")),
                    reason=_text(d.get("reason")),
                    reason_code=_text(d.get("code")),
                    detail="changed" if d.get("previous") else "given",
                )
            )
        elif fact.action == "case.closed":
            found.append(event("case_closed", fact.at))
        elif fact.action == "case.reopened":
            found.append(event("case_reopened", fact.at))
    if view is not None and pathway is not None:
        read_at = source.closed_at or now
        if source.closed_at is None:
            for wait in waits(view, now):
                if wait.waiting:
                    found.append(
                        event(
                            "waiting",
                            now,
                            phase=wait.phase_id,
                            item=wait.item_id,
                            lane=wait.lane,
                            step=wait.step,
                            due=wait.due,
                            reason=wait.reason.reason if wait.reason else "",
                            reason_code=wait.reason.code if wait.reason else "",
                        )
                    )
        for reading in read_clocks(view, read_at, closed_at=source.closed_at):
            if reading.started_at is None or reading.state == "waiting":
                continue
            found.append(
                event(
                    "clock",
                    reading.started_at,
                    detail=reading.id,
                    due=reading.limit_at,
                    done=reading.stopped_at,
                    value=float(reading.days) if reading.days is not None else None,
                )
            )
    found.sort(key=lambda e: (e.at, EVENT_KINDS.index(e.event)))
    return found


def in_period(event: Event, zone: ZoneInfo, since: date | None, until: date | None) -> bool:
    """Whether the event happened on the local dates `since`..`until` (both included)."""
    day = event.at.astimezone(zone).date()
    return (since is None or day >= since) and (until is None or day <= until)
