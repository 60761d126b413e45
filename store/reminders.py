"""Reminder rows: the store is the source of truth; the scheduler only wakes the bot up.

`apply` writes what the care logic's `reconcile` decided (called in the transaction of
every change of a case). `due_rows` lists the rows whose time has come; the caller fires
each in its own transaction, which queues the message in the outbox and marks the row
sent together — so a reminder is never lost and never doubled.
"""

from __future__ import annotations

from datetime import datetime

from homeward.care.reminders import ReminderChanges, ScheduledReminder
from homeward.store.changes import bookkeeping, changes_case
from homeward.store.rows import inserted_id, one_row
from homeward.store.sql import Connection, Row


def _row(r: Row) -> ScheduledReminder:
    return ScheduledReminder(
        r["id"],
        r["case_id"],
        r["item_id"],
        r["kind"],
        r["sequence"],
        datetime.fromisoformat(r["due"]) if r["due"] else None,
        datetime.fromisoformat(r["planned_at"]),
        datetime.fromisoformat(r["fire_at"]),
        r["status"],
        r["requested_by"],
        r["outbox_id"],
    )


async def live_rows(db: Connection, case_id: int) -> list[ScheduledReminder]:
    """The scheduled and the sent reminders of a case: what `reconcile` compares with what is wanted."""
    async with db.execute(
        "SELECT * FROM reminders WHERE case_id = ? AND status IN ('planned', 'sent')", (case_id,)
    ) as cur:
        return [_row(r) for r in await cur.fetchall()]


@changes_case
async def apply(db: Connection, case_id: int, changes: ReminderChanges) -> None:
    """Write the changes `care.reminders.reconcile` decided.

    A reminder wanted again after it was cancelled (a date moved and moved back) is scheduled
    again: its row exists, cancelled, under the same identity.
    """
    if changes.cancel:
        marks = ",".join("?" * len(changes.cancel))
        await db.execute(
            f"UPDATE reminders SET status = 'cancelled' WHERE status = 'planned' AND id IN ({marks})", changes.cancel
        )
    for row_id, at in changes.move:
        await db.execute(
            "UPDATE reminders SET planned_at = ?, fire_at = ? WHERE id = ?", (at.isoformat(), at.isoformat(), row_id)
        )
    if changes.add:
        await db.executemany(
            "INSERT INTO reminders (case_id, item_id, kind, sequence, due, planned_at, fire_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (case_id, item_id, kind, sequence, due) DO UPDATE"
            " SET status = 'planned', planned_at = excluded.planned_at, fire_at = excluded.fire_at"
            " WHERE reminders.status = 'cancelled'",
            [
                (
                    case_id,
                    w.item_id,
                    w.kind,
                    w.sequence,
                    w.due.isoformat(),
                    w.planned_at.isoformat(),
                    w.planned_at.isoformat(),
                )
                for w in changes.add
            ],
        )


@changes_case
async def add_custom(db: Connection, case_id: int, item_id: str, at: datetime, by: str) -> int:
    async with db.execute(
        "SELECT COALESCE(MAX(sequence), 0) + 1 FROM reminders WHERE case_id = ? AND kind = 'custom'", (case_id,)
    ) as cur:
        (sequence,) = await one_row(cur)
    cur = await db.execute(
        "INSERT INTO reminders (case_id, item_id, kind, sequence, due, planned_at, fire_at, requested_by)"
        " VALUES (?, ?, 'custom', ?, NULL, ?, ?, ?)",
        (case_id, item_id, sequence, at.isoformat(), at.isoformat(), by),
    )
    return inserted_id(cur)


async def next_fire_at(db: Connection) -> datetime | None:
    async with db.execute("SELECT MIN(fire_at) FROM reminders WHERE status = 'planned'") as cur:
        (value,) = await one_row(cur)
    return datetime.fromisoformat(value) if value else None


async def due_rows(db: Connection, now: datetime, limit: int = 200) -> list[ScheduledReminder]:
    async with db.execute(
        "SELECT * FROM reminders WHERE status = 'planned' AND fire_at <= ? ORDER BY fire_at, id LIMIT ?",
        (now.isoformat(), limit),
    ) as cur:
        return [_row(r) for r in await cur.fetchall()]


async def get(db: Connection, reminder_id: int) -> ScheduledReminder | None:
    async with db.execute("SELECT * FROM reminders WHERE id = ?", (reminder_id,)) as cur:
        row = await cur.fetchone()
    return _row(row) if row else None


@bookkeeping
async def mark_fired(db: Connection, reminder_id: int, now: datetime, outbox_id: int) -> bool:
    """Planned → sent, once: False when another path already fired or cancelled it."""
    cur = await db.execute(
        "UPDATE reminders SET status = 'sent', fired_at = ?, outbox_id = ? WHERE id = ? AND status = 'planned'",
        (now.isoformat(), outbox_id, reminder_id),
    )
    return cur.rowcount == 1


@bookkeeping
async def postpone(db: Connection, reminder_id: int, until: datetime) -> None:
    await db.execute(
        "UPDATE reminders SET fire_at = ? WHERE id = ? AND status = 'planned'", (until.isoformat(), reminder_id)
    )


@changes_case
async def cancel(db: Connection, reminder_id: int) -> None:
    await db.execute("UPDATE reminders SET status = 'cancelled' WHERE id = ? AND status = 'planned'", (reminder_id,))


async def scheduled_for_case(db: Connection, case_id: int) -> list[ScheduledReminder]:
    async with db.execute(
        "SELECT * FROM reminders WHERE case_id = ? AND status = 'planned' ORDER BY fire_at, id", (case_id,)
    ) as cur:
        return [_row(r) for r in await cur.fetchall()]


@changes_case
async def snooze(db: Connection, case_id: int, item_id: str, lane: str, until: datetime) -> None:
    await db.execute(
        "INSERT INTO snoozes (case_id, item_id, lane_id, until) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (case_id, item_id, lane_id) DO UPDATE SET until = excluded.until",
        (case_id, item_id, lane, until.isoformat()),
    )


async def snoozed_until(db: Connection, case_id: int, item_id: str) -> dict[str, datetime]:
    async with db.execute(
        "SELECT lane_id, until FROM snoozes WHERE case_id = ? AND item_id = ?", (case_id, item_id)
    ) as cur:
        return {r["lane_id"]: datetime.fromisoformat(r["until"]) for r in await cur.fetchall()}


@changes_case
async def set_quiet(db: Connection, case_id: int, setting: str | None) -> None:
    await db.execute("UPDATE cases SET quiet = ? WHERE id = ?", (setting, case_id))
