"""Retention runs in the store: one row per closed case whose personal content is to be removed, and
the removal itself.

SQL only: when a run is due is decided in `care.retention`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from homeward.store.changes import bookkeeping, changes_case
from homeward.store.sql import Connection, Row


@dataclass(frozen=True)
class RetentionRun:
    id: int
    case_id: int
    planned_at: datetime
    fire_at: datetime
    status: str  # planned | done | cancelled


def _run(r: Row) -> RetentionRun:
    return RetentionRun(
        r["id"],
        r["case_id"],
        datetime.fromisoformat(r["planned_at"]),
        datetime.fromisoformat(r["fire_at"]),
        r["status"],
    )


@changes_case
async def schedule_retention(db: Connection, case_id: int, at: datetime | None) -> None:
    """Schedule the case's retention run at `at` (moving a scheduled one), or cancel it (None).

    A done one stays done.
    """
    if at is None:
        await db.execute(
            "UPDATE retention_runs SET status = 'cancelled' WHERE case_id = ? AND status = 'planned'", (case_id,)
        )
        return
    at = at.astimezone(UTC)
    await db.execute(
        "INSERT INTO retention_runs (case_id, planned_at, fire_at) VALUES (?, ?, ?)"
        " ON CONFLICT (case_id) DO UPDATE SET status = 'planned', planned_at = excluded.planned_at,"
        " fire_at = excluded.fire_at WHERE retention_runs.status != 'done'",
        (case_id, at.isoformat(), at.isoformat()),
    )


async def closed_cases(db: Connection) -> list[int]:
    """Closed cases not yet removed, and cases with a scheduled run: whose runs start-up reconciles."""
    async with db.execute(
        "SELECT id FROM cases WHERE state = 'closed' AND purged_at IS NULL AND room_id IS NOT NULL"
        " UNION SELECT case_id FROM retention_runs WHERE status = 'planned' ORDER BY 1"
    ) as cur:
        return [r[0] for r in await cur.fetchall()]


async def retention_by_id(db: Connection, run_id: int) -> RetentionRun | None:
    async with db.execute("SELECT * FROM retention_runs WHERE id = ?", (run_id,)) as cur:
        row = await cur.fetchone()
    return _run(row) if row else None


async def due_retention(db: Connection, now: datetime, limit: int = 20) -> list[RetentionRun]:
    async with db.execute(
        "SELECT * FROM retention_runs WHERE status = 'planned' AND fire_at <= ? ORDER BY fire_at, id LIMIT ?",
        (now.isoformat(), limit),
    ) as cur:
        return [_run(r) for r in await cur.fetchall()]


async def next_retention_at(db: Connection) -> datetime | None:
    async with db.execute("SELECT MIN(fire_at) FROM retention_runs WHERE status = 'planned'") as cur:
        (value,) = await cur.fetchone()
    return datetime.fromisoformat(value) if value else None


@bookkeeping
async def finish_retention(db: Connection, run_id: int, status: str, now: datetime) -> bool:
    cur = await db.execute(
        "UPDATE retention_runs SET status = ?, fired_at = ? WHERE id = ? AND status = 'planned'",
        (status, now.isoformat(), run_id),
    )
    return cur.rowcount == 1


@bookkeeping
async def postpone_retention(db: Connection, run_id: int, until: datetime) -> None:
    await db.execute(
        "UPDATE retention_runs SET fire_at = ? WHERE id = ? AND status = 'planned'",
        (until.astimezone(UTC).isoformat(), run_id),
    )


#: What a retention run removes: the personal content of a case, table by table (README, "Coordinator's desk").
PURGED_TABLES = (
    "plan_changes",
    "minutes_changes",
    "extra_tasks",
    "case_dates",
    "acks",
    "items",
    "members",
    "reminders",
    "snoozes",
    "checklists",
    "room_state",
    "removals",
    "consent_rounds",
    "consent_askees",
    "safeguards",
    "family_updates",
    "family_update_settings",
    "delay_reasons",  # who gave which reason; the audit trail keeps the codes (the event log reads them)
    "delay_asks",
)


@changes_case
async def purge_case(db: Connection, case_id: int, room_id: str, now: datetime) -> dict[str, int]:
    """Remove the case's personal content; keep the case row (id, pathway, label, times), the audit
    trail and the consent answers. The number of rows removed per table."""
    await db.execute("UPDATE cases SET purged_at = ?, closed_reason = NULL WHERE id = ?", (now.isoformat(), case_id))
    removed: dict[str, int] = {}
    for table in PURGED_TABLES:
        cur = await db.execute(f"DELETE FROM {table} WHERE case_id = ?", (case_id,))
        removed[table] = cur.rowcount
    cur = await db.execute("DELETE FROM undecrypted WHERE room_id = ?", (room_id,))
    removed["undecrypted"] = cur.rowcount
    return removed


async def purged_room(db: Connection, room_id: str) -> bool:
    """Whether `room_id` is the room of a case whose retention run removed it (the bot does not come back)."""
    async with db.execute("SELECT 1 FROM cases WHERE room_id = ? AND purged_at IS NOT NULL", (room_id,)) as cur:
        return await cur.fetchone() is not None
