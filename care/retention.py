"""A closed case's end: when its personal content is removed from the store, and whether a run goes now.

Pure; the run itself (a last export, the removal, the bot leaving) is a unit of work
(`work.retention`), its rows in `store.retention`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from homeward.care.case import CaseView
from homeward.care.reminders import quiet_hours


def retention_due(view: CaseView, retention_days: int | None) -> datetime | None:
    """When a closed case's personal content is removed from the store: `retention_days` after
    it was closed; never for an open case, or when no retention is configured (keep)."""
    if not view.closed or retention_days is None or view.closed_at is None:
        return None
    return view.closed_at + timedelta(days=retention_days)


#: What people typed that a retention run keeps: these details of these audit rows. The audit trail is
#: append-only and chained (a row's hash covers its details), so the run removes none of it; the README's
#: table ("A case ends") names each of them, by these words (`tests/integration/test_retention_keeps.py`).
KEPT_TYPED_TEXT: dict[str, tuple[tuple[str, ...], str]] = {
    "item.acknowledged": (("note",), "acknowledgement notes"),
    "phase.changed": (("reason",), "the reasons for forcing a phase"),
    "case.closed": (("reason",), "close reasons"),
    "case.reopened": (("reason", "closed_reason"), "reopen reasons"),
    "case.handed_over": (("note",), "handover notes"),
}


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
