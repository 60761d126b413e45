"""The family's regular updates in the store: the planned rows and each case's setting.

SQL only: when an update is due and whether it still goes out is decided in `care.updates`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from homeward.care.updates import DEFAULT_EVERY, ScheduledUpdate, UpdateChanges
from homeward.store.changes import bookkeeping, changes_case
from homeward.store.sql import Connection, Row


def _update(r: Row) -> ScheduledUpdate:
    return ScheduledUpdate(
        r["id"],
        r["case_id"],
        datetime.fromisoformat(r["anchor"]),
        datetime.fromisoformat(r["planned_at"]),
        datetime.fromisoformat(r["fire_at"]),
        r["status"],
    )


async def every(db: Connection, case_id: int) -> int | None:
    """Every how many working days the case's family gets an update; None: off."""
    async with db.execute("SELECT every_days FROM family_update_settings WHERE case_id = ?", (case_id,)) as cur:
        row = await cur.fetchone()
    days = DEFAULT_EVERY if row is None else int(row["every_days"])
    return days or None


@changes_case
async def set_every(db: Connection, case_id: int, days: int | None) -> None:
    await db.execute(
        "INSERT INTO family_update_settings (case_id, every_days) VALUES (?, ?)"
        " ON CONFLICT (case_id) DO UPDATE SET every_days = excluded.every_days",
        (case_id, days or 0),
    )


async def planned(db: Connection, case_id: int) -> list[ScheduledUpdate]:
    async with db.execute(
        "SELECT * FROM family_updates WHERE case_id = ? AND status = 'planned' ORDER BY id", (case_id,)
    ) as cur:
        return [_update(r) for r in await cur.fetchall()]


async def last_sent(db: Connection, case_id: int) -> ScheduledUpdate | None:
    async with db.execute(
        "SELECT * FROM family_updates WHERE case_id = ? AND status = 'sent' ORDER BY planned_at DESC, id DESC LIMIT 1",
        (case_id,),
    ) as cur:
        row = await cur.fetchone()
    return _update(row) if row else None


@bookkeeping
async def apply_update(db: Connection, case_id: int, changes: UpdateChanges) -> None:
    """Write what `care.updates.schedule_update` decided."""
    if changes.cancel:
        marks = ",".join("?" * len(changes.cancel))
        await db.execute(
            f"UPDATE family_updates SET status = 'cancelled' WHERE status = 'planned' AND id IN ({marks})",
            changes.cancel,
        )
    if changes.add is not None:
        anchor, at = (moment.astimezone(UTC).isoformat() for moment in changes.add)
        await db.execute(
            "INSERT INTO family_updates (case_id, anchor, planned_at, fire_at) VALUES (?, ?, ?, ?)",
            (case_id, anchor, at, at),
        )


async def get(db: Connection, update_id: int) -> ScheduledUpdate | None:
    async with db.execute("SELECT * FROM family_updates WHERE id = ?", (update_id,)) as cur:
        row = await cur.fetchone()
    return _update(row) if row else None


async def due_updates(db: Connection, now: datetime, limit: int = 200) -> list[ScheduledUpdate]:
    async with db.execute(
        "SELECT * FROM family_updates WHERE status = 'planned' AND fire_at <= ? ORDER BY fire_at, id LIMIT ?",
        (now.astimezone(UTC).isoformat(), limit),
    ) as cur:
        return [_update(r) for r in await cur.fetchall()]


async def next_update_at(db: Connection) -> datetime | None:
    async with db.execute("SELECT MIN(fire_at) FROM family_updates WHERE status = 'planned'") as cur:
        (value,) = await cur.fetchone()
    return datetime.fromisoformat(value) if value else None


@bookkeeping
async def finish_update(
    db: Connection, update_id: int, status: str, now: datetime, outbox_id: int | None = None
) -> bool:
    """Planned → sent / dropped, once: False when another path already did it."""
    cur = await db.execute(
        "UPDATE family_updates SET status = ?, fired_at = ?, outbox_id = ? WHERE id = ? AND status = 'planned'",
        (status, now.astimezone(UTC).isoformat(), outbox_id, update_id),
    )
    return cur.rowcount == 1


@bookkeeping
async def postpone_update(db: Connection, update_id: int, until: datetime) -> None:
    await db.execute(
        "UPDATE family_updates SET fire_at = ? WHERE id = ? AND status = 'planned'",
        (until.astimezone(UTC).isoformat(), update_id),
    )


async def activity_since(db: Connection, case_id: int, since: datetime, bot_id: str, reading: frozenset[str]) -> int:
    """How many things people did in the case since `since`: audit rows not of the bot, nor of `reading`."""
    marks = ",".join("?" * len(reading))
    async with db.execute(
        f"SELECT COUNT(*) FROM audit WHERE case_id = ? AND at > ? AND actor != ? AND action NOT IN ({marks})",
        (case_id, since.astimezone(UTC).isoformat(), bot_id, *sorted(reading)),
    ) as cur:
        (count,) = await cur.fetchone()
    return int(count)


async def cases_without_update(db: Connection, family_lanes: list[str]) -> list[int]:
    """Open cases with someone in one of `family_lanes` ("pathway/lane") but no planned update, and not
    turned off: whose update start-up plans (a case from before updates, or one whose row was lost)."""
    if not family_lanes:
        return []
    marks = ",".join("?" * len(family_lanes))
    async with db.execute(
        "SELECT c.id FROM cases c WHERE c.state = 'open' AND c.room_id IS NOT NULL AND c.purged_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM family_updates u WHERE u.case_id = c.id AND u.status = 'planned')"
        " AND NOT EXISTS (SELECT 1 FROM family_update_settings f WHERE f.case_id = c.id AND f.every_days = 0)"
        " AND EXISTS (SELECT 1 FROM members m WHERE m.case_id = c.id"
        f" AND (c.pathway_id || '/' || m.lane_id) IN ({marks}))"
        " ORDER BY c.id",
        family_lanes,
    ) as cur:
        return [int(r[0]) for r in await cur.fetchall()]
